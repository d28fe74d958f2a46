//! Account-level objects that are few (usage plans, domain names and their mappings, VPC links,
//! client certificates, access associations, account settings): one row each in
//! `account_objects`, changed through [`Store::modify_account`].
//!
//! `modify_account` loads these objects (never API keys, plan memberships or usage counters,
//! which live in their own tables, see `keys.rs`), runs the command, and writes back only the
//! rows whose serialized form changed — a diff rather than a rewrite, so the change feed can name
//! each object that changed and a command that changes one plan writes one row.

use crate::changes::record_change;
use crate::sqlite::{from_json, to_json};
use crate::{Store, StoreError};
use portico_control::ControlError;
use portico_control::account::AccountState;
use portico_model::{ThrottleSettings, UsagePlan};
use sqlx::{Row, Sqlite, Transaction};
use std::collections::BTreeMap;

/// `(kind, id) → body` of every stored account object.
type Rows = BTreeMap<(&'static str, String), String>;

async fn load(tx: &mut Transaction<'_, Sqlite>) -> Result<AccountState, StoreError> {
    let mut st = AccountState::default();
    let rows = sqlx::query("SELECT kind, body FROM account_objects ORDER BY rowid")
        .fetch_all(&mut **tx)
        .await?;
    for r in &rows {
        let kind: String = r.get(0);
        let body: &str = r.get(1);
        match kind.as_str() {
            "usageplan" => st.usage_plans.push(from_json("usage plan", body)?),
            "domainname" => st.domain_names.push(from_json("domain name", body)?),
            "domaincert" => st
                .domain_certificates
                .push(from_json("domain certificate", body)?),
            "vpclink" => st.vpc_links.push(from_json("vpc link", body)?),
            "clientcert" => st
                .client_certificates
                .push(from_json("client certificate", body)?),
            "accessassociation" => st
                .access_associations
                .push(from_json("access association", body)?),
            "basepathmapping" => st
                .base_path_mappings
                .push(from_json("base path mapping", body)?),
            "account" => {
                let v: AccountRow = from_json("account", body)?;
                st.cloudwatch_role_arn = v.cloudwatch_role_arn;
                st.throttle = v.throttle_settings;
            }
            _ => {}
        }
    }
    st.known_apis = sqlx::query("SELECT id FROM rest_apis UNION ALL SELECT id FROM http_apis")
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    st.known_stages = sqlx::query(
        "SELECT api_id, name FROM stages UNION ALL SELECT api_id, name FROM http_stages",
    )
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    Ok(st)
}

/// The `account` row.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountRow {
    #[serde(default)]
    cloudwatch_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    throttle_settings: Option<ThrottleSettings>,
}

/// The rows `st` is stored as.
fn rows(st: &AccountState) -> Result<Rows, StoreError> {
    let mut out = Rows::new();
    for p in &st.usage_plans {
        out.insert(("usageplan", p.id.clone()), to_json("usage plan", p)?);
    }
    for a in &st.access_associations {
        out.insert(
            (
                "accessassociation",
                a.0.domain_name_access_association_arn.clone(),
            ),
            to_json("access association", a)?,
        );
    }
    for c in &st.client_certificates {
        out.insert(
            ("clientcert", c.0.client_certificate_id.clone()),
            to_json("client certificate", c)?,
        );
    }
    for l in &st.vpc_links {
        out.insert(("vpclink", l.id.clone()), to_json("vpc link", l)?);
    }
    for d in &st.domain_names {
        out.insert(
            ("domainname", d.domain_name.clone()),
            to_json("domain name", d)?,
        );
    }
    for c in &st.domain_certificates {
        out.insert(
            ("domaincert", c.0.clone()),
            to_json("domain certificate", c)?,
        );
    }
    for m in &st.base_path_mappings {
        out.insert(
            ("basepathmapping", format!("{}/{}", m.0, m.1.base_path)),
            to_json("base path mapping", m)?,
        );
    }
    let account = AccountRow {
        cloudwatch_role_arn: st.cloudwatch_role_arn.clone(),
        throttle_settings: st.throttle.clone(),
    };
    out.insert(("account", "account".into()), to_json("account", &account)?);
    Ok(out)
}

/// Writes the rows that differ between `before` and `after`, with one change-feed row each.
/// Deleting a usage plan drops its key memberships, counters and grants too.
async fn save_diff(
    tx: &mut Transaction<'_, Sqlite>,
    before: &Rows,
    after: &Rows,
) -> Result<(), StoreError> {
    for ((kind, id), body) in after {
        if before.get(&(*kind, id.clone())) == Some(body) {
            continue;
        }
        sqlx::query("INSERT OR REPLACE INTO account_objects (kind, id, body) VALUES (?, ?, ?)")
            .bind(*kind)
            .bind(id)
            .bind(body)
            .execute(&mut **tx)
            .await?;
        record_change(tx, "", kind, id).await?;
    }
    for (kind, id) in before.keys() {
        if after.contains_key(&(*kind, id.clone())) {
            continue;
        }
        sqlx::query("DELETE FROM account_objects WHERE kind = ? AND id = ?")
            .bind(*kind)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        if *kind == "usageplan" {
            for sql in [
                "DELETE FROM usage_plan_keys WHERE plan_id = ?",
                "DELETE FROM usage_counts WHERE plan_id = ?",
                "DELETE FROM usage_remaining WHERE plan_id = ?",
            ] {
                sqlx::query(sql).bind(id).execute(&mut **tx).await?;
            }
        }
        record_change(tx, "", kind, id).await?;
    }
    Ok(())
}

impl Store {
    /// The account's few objects (read-only): usage plans, domain names, VPC links, client
    /// certificates, access associations, account settings. No API keys.
    pub async fn account_state(&self) -> Result<AccountState, StoreError> {
        let mut tx = self.pool().begin().await?;
        let st = load(&mut tx).await?;
        tx.commit().await?;
        Ok(st)
    }

    /// Runs an account-level command atomically, writing only the objects it changed (each with
    /// a change-feed row naming it).
    pub async fn modify_account<T>(
        &self,
        command: impl FnOnce(&mut AccountState) -> Result<T, ControlError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let mut st = load(&mut tx).await?;
        let before = rows(&st)?;
        let out = command(&mut st)?;
        save_diff(&mut tx, &before, &rows(&st)?).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Every usage plan, oldest first.
    pub async fn usage_plans(&self) -> Result<Vec<UsagePlan>, StoreError> {
        sqlx::query("SELECT id, body FROM account_objects WHERE kind = 'usageplan' ORDER BY rowid")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| from_json(&format!("usage plan {}", r.get::<&str, _>(0)), r.get(1)))
            .collect()
    }

    /// The account-wide throttle in force (AWS's default of 10000 requests per second, burst
    /// 5000, until `UpdateAccount` sets another).
    pub async fn account_throttle(&self) -> Result<ThrottleSettings, StoreError> {
        let row: Option<String> = sqlx::query_scalar(
            "SELECT body FROM account_objects WHERE kind = 'account' AND id = 'account'",
        )
        .fetch_optional(self.pool())
        .await?;
        let row: AccountRow = match row {
            Some(b) => from_json("account", &b)?,
            None => AccountRow::default(),
        };
        Ok(row
            .throttle_settings
            .unwrap_or(portico_control::account::DEFAULT_ACCOUNT_THROTTLE))
    }
}
