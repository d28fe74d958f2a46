//! The change feed: every committed configuration write appends rows saying what changed.
//!
//! Kinds: the API-level writes keep their kinds (`deploy`, `api`, …, with the API id); account
//! writes name the object: `apikey`, `usageplan`, `usageplankey` (object id `plan/key`), `usage`
//! (an `UpdateUsage` grant, object id `plan/key`), `account`, `domainname`, `domaincert`, `basepathmapping`
//! (`domain/base`), `vpclink`, `clientcert`, `accessassociation`, `function` (a Lambda function,
//! by name, with its versions, aliases, policy and concurrency). An object id `*` means every
//! object of that kind may have changed (a large `ImportApiKeys`). Usage counters are runtime
//! state, not configuration, and write no rows.

use crate::{Store, StoreError};
use sqlx::{Row, Sqlite, Transaction};

/// One change-feed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its position; increases with every change.
    pub seq: i64,
    /// The API it was about; empty for account-level objects.
    pub api_id: String,
    /// What kind of object changed.
    pub kind: String,
    /// Which one; empty for whole-API changes, `*` for all objects of the kind.
    pub object_id: String,
}

/// Kinds that are account-level (reload the account snapshot or the functions, not stages).
pub const ACCOUNT_KINDS: &[&str] = &[
    "apikey",
    "usageplan",
    "usageplankey",
    "usage",
    "account",
    "domainname",
    "domaincert",
    "basepathmapping",
    "vpclink",
    "clientcert",
    "accessassociation",
    "function",
];

impl Change {
    /// Whether this change is about account-level data rather than an API's stages.
    pub fn is_account(&self) -> bool {
        ACCOUNT_KINDS.contains(&self.kind.as_str())
    }
}

/// What [`Store::changes_since`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeBatch {
    /// The changes after the asked position, oldest first (at most [`Store::CHANGES_LIMIT`]).
    pub changes: Vec<Change>,
    /// More changes followed than were returned: the caller should reload everything (and
    /// continue from [`Store::change_seq`]).
    pub too_many: bool,
}

/// Appends a change-feed row.
pub(crate) async fn record_change(
    tx: &mut Transaction<'_, Sqlite>,
    api_id: &str,
    kind: &str,
    object_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO changes (api_id, kind, object_id, at) VALUES (?, ?, ?, ?)")
        .bind(api_id)
        .bind(kind)
        .bind(object_id)
        .bind(portico_model::now_epoch_seconds())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Most rows [`changes_since`](Self::changes_since) returns.
    pub const CHANGES_LIMIT: usize = 10_000;

    /// The changes after position `seq` (0: from the start), oldest first; when there are more
    /// than [`CHANGES_LIMIT`](Self::CHANGES_LIMIT), the first that many and `too_many`.
    pub async fn changes_since(&self, seq: i64) -> Result<ChangeBatch, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, api_id, kind, object_id FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(seq)
        .bind(Self::CHANGES_LIMIT as i64 + 1)
        .fetch_all(self.pool())
        .await?;
        let mut changes: Vec<Change> = rows
            .iter()
            .map(|r| Change {
                seq: r.get(0),
                api_id: r.get(1),
                kind: r.get(2),
                object_id: r.get(3),
            })
            .collect();
        let too_many = changes.len() > Self::CHANGES_LIMIT;
        changes.truncate(Self::CHANGES_LIMIT);
        Ok(ChangeBatch { changes, too_many })
    }
}
