//! API keys, usage plan keys, usage counters and `UpdateUsage` grants: each in its own table,
//! read by index and written row by row (an account may hold millions of keys), with the rules
//! of `portico_control::api_keys` applied to the rows a command touches.

use crate::changes::record_change;
use crate::sqlite::from_json;
use crate::{Store, StoreError};
use portico_control::ControlError;
use portico_control::account::{AccountState, Usage, invalid_plan};
use portico_control::api_keys::{self, CreateApiKeyInput, KeyImport, duplicate_value, invalid_key};
use portico_control::patch::PatchOperation;
use portico_model::{ApiKey, Map, UsagePlan, UsagePlanKey};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The position of the next page, when there is one.
    pub next: Option<usize>,
}

/// `GetApiKeys` filters and paging.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyQuery {
    /// Keys whose name starts with this (`nameQuery`).
    pub name_prefix: Option<String>,
    /// Keys of this customer (`customerId`).
    pub customer_id: Option<String>,
    /// How many matching keys to skip (`position`).
    pub position: usize,
    /// Page size (`limit`).
    pub limit: usize,
}

/// Requests counted for one key in one plan on one UTC day (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCount {
    /// The usage plan.
    pub plan_id: String,
    /// The API key id.
    pub key_id: String,
    /// The UTC day.
    pub day: String,
    /// Requests to add.
    pub used: i64,
}

/// An `UpdateUsage` grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemainingOverride {
    /// The usage plan.
    pub plan_id: String,
    /// The API key id.
    pub key_id: String,
    /// Requests the key has left in the plan's current quota period, from `set_at` on.
    pub remaining: i64,
    /// When it was granted (epoch seconds).
    pub set_at: i64,
    /// What the data plane made of it, once applied: the quota period's first day
    /// (`YYYY-MM-DD`) and the period's effective limit ([`Store::settle_grant`]).
    pub settled: Option<(String, i64)>,
}

/// Keys per multi-row `INSERT` of an import (5 parameters each, well under SQLite's limit).
const IMPORT_CHUNK: usize = 500;
/// Imports of more keys than this write one `apikey`/`*` change row instead of one per key.
const CHANGE_ROWS_PER_KEY_UP_TO: usize = 1_000;

/// A key's `body` column: its JSON without the `id` and `value` columns.
fn key_body(k: &ApiKey) -> Result<String, StoreError> {
    /// The key's fields but `id` and `value`, under the same names.
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Body<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        name: &'a Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        customer_id: &'a Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: &'a Option<String>,
        enabled: bool,
        created_date: i64,
        last_updated_date: i64,
        stage_keys: &'a Vec<String>,
        #[serde(skip_serializing_if = "Map::is_empty")]
        tags: &'a Map<String>,
    }
    let ApiKey {
        id: _,
        value: _,
        name,
        customer_id,
        description,
        enabled,
        created_date,
        last_updated_date,
        stage_keys,
        tags,
    } = k;
    crate::sqlite::to_json(
        "api key",
        &Body {
            name,
            customer_id,
            description,
            enabled: *enabled,
            created_date: *created_date,
            last_updated_date: *last_updated_date,
            stage_keys,
            tags,
        },
    )
}

/// A key from `SELECT id, value, body`.
fn key_of(r: &SqliteRow) -> Result<ApiKey, StoreError> {
    let id: String = r.get(0);
    let mut v: serde_json::Value = from_json(&format!("api key {id}"), r.get(2))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), serde_json::Value::String(id.clone()));
        o.insert("value".into(), serde_json::Value::String(r.get(1)));
    }
    serde_json::from_value(v).map_err(|e| StoreError::corrupt(format!("api key {id}"), e))
}

async fn key_in(tx: &mut Transaction<'_, Sqlite>, id: &str) -> Result<Option<ApiKey>, StoreError> {
    sqlx::query("SELECT id, value, body FROM api_keys WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| key_of(&r))
        .transpose()
}

async fn write_key(tx: &mut Transaction<'_, Sqlite>, k: &ApiKey) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_keys (id, value, name, customer_id, body) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name,
         customer_id = excluded.customer_id, body = excluded.body",
    )
    .bind(&k.id)
    .bind(k.value.as_deref().unwrap_or_default())
    .bind(&k.name)
    .bind(&k.customer_id)
    .bind(key_body(k)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn plan_in(tx: &mut Transaction<'_, Sqlite>, plan_id: &str) -> Result<UsagePlan, StoreError> {
    let body: Option<String> =
        sqlx::query_scalar("SELECT body FROM account_objects WHERE kind = 'usageplan' AND id = ?")
            .bind(plan_id)
            .fetch_optional(&mut **tx)
            .await?;
    match body {
        Some(b) => from_json(&format!("usage plan {plan_id}"), &b),
        None => Err(invalid_plan().into()),
    }
}

async fn plans_in(tx: &mut Transaction<'_, Sqlite>) -> Result<AccountState, StoreError> {
    let mut st = AccountState::default();
    for r in
        sqlx::query("SELECT id, body FROM account_objects WHERE kind = 'usageplan' ORDER BY rowid")
            .fetch_all(&mut **tx)
            .await?
    {
        st.usage_plans.push(from_json(
            &format!("usage plan {}", r.get::<&str, _>(0)),
            r.get(1),
        )?);
    }
    Ok(st)
}

async fn plans_of_key_in(
    tx: &mut Transaction<'_, Sqlite>,
    key_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT plan_id FROM usage_plan_keys WHERE key_id = ? ORDER BY rowid")
            .bind(key_id)
            .fetch_all(&mut **tx)
            .await?,
    )
}

async fn is_member(
    tx: &mut Transaction<'_, Sqlite>,
    plan_id: &str,
    key_id: &str,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT 1 FROM usage_plan_keys WHERE plan_id = ? AND key_id = ?",
    )
    .bind(plan_id)
    .bind(key_id)
    .fetch_optional(&mut **tx)
    .await?
    .is_some())
}

/// [`Store::import_api_keys`] on one connection.
async fn import_in(
    conn: &mut sqlx::pool::PoolConnection<Sqlite>,
    import: KeyImport,
) -> Result<Vec<String>, StoreError> {
    use sqlx::Connection;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let plans = if import.keys.iter().any(|k| !k.usage_plan_ids.is_empty()) {
        plans_in(&mut tx).await?
    } else {
        AccountState::default()
    };
    let mut ids = Vec::with_capacity(import.keys.len());
    for chunk in import.keys.chunks(IMPORT_CHUNK) {
        let mut b = sqlx::QueryBuilder::<Sqlite>::new(
            "INSERT INTO api_keys (id, value, name, customer_id, body) ",
        );
        let mut bodies = Vec::with_capacity(chunk.len());
        for k in chunk {
            bodies.push(key_body(&k.key)?);
        }
        b.push_values(chunk.iter().zip(&bodies), |mut row, (k, body)| {
            row.push_bind(&k.key.id)
                .push_bind(k.key.value.as_deref().unwrap_or_default())
                .push_bind(&k.key.name)
                .push_bind(&k.key.customer_id)
                .push_bind(body);
        });
        // AWS: the same key imported again overwrites the stored one.
        b.push(
            " ON CONFLICT(value) DO UPDATE SET name = excluded.name,
             customer_id = excluded.customer_id, body = excluded.body RETURNING id, value",
        );
        let stored: std::collections::HashMap<String, String> = b
            .build()
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| (r.get::<String, _>(1), r.get::<String, _>(0)))
            .collect();
        for k in chunk {
            let value = k.key.value.as_deref().unwrap_or_default();
            let id = stored
                .get(value)
                .cloned()
                .unwrap_or_else(|| k.key.id.clone());
            if !k.usage_plan_ids.is_empty() {
                let mut key_plans = if id == k.key.id {
                    Vec::new()
                } else {
                    plans_of_key_in(&mut tx, &id).await?
                };
                for plan in &k.usage_plan_ids {
                    if key_plans.contains(plan) {
                        continue;
                    }
                    plans
                        .check_plan_key_membership(plan, &id, &key_plans)
                        .map_err(|e| {
                            ControlError::bad_request(format!(
                                "Invalid API keys file, line {}: {}",
                                k.line, e.message
                            ))
                        })?;
                    sqlx::query("INSERT INTO usage_plan_keys (plan_id, key_id) VALUES (?, ?)")
                        .bind(plan)
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                    key_plans.push(plan.clone());
                }
            }
            ids.push(id);
        }
    }
    if ids.len() <= CHANGE_ROWS_PER_KEY_UP_TO {
        for id in &ids {
            record_change(&mut tx, "", "apikey", id).await?;
        }
    } else {
        record_change(&mut tx, "", "apikey", "*").await?;
    }
    if import.keys.iter().any(|k| !k.usage_plan_ids.is_empty()) {
        record_change(&mut tx, "", "usageplankey", "*").await?;
    }
    tx.commit().await?;
    Ok(ids)
}

fn plan_key_view(k: ApiKey) -> UsagePlanKey {
    UsagePlanKey {
        id: k.id,
        kind: "API_KEY".into(),
        value: k.value,
        name: k.name,
    }
}

/// `GetUsagePlanKey`'s checks: the plan, then the membership.
async fn member_key(
    tx: &mut Transaction<'_, Sqlite>,
    plan_id: &str,
    key_id: &str,
) -> Result<ApiKey, StoreError> {
    plan_in(tx, plan_id).await?;
    if !is_member(tx, plan_id, key_id).await? {
        return Err(ControlError::not_found("Invalid Usage Plan Key identifier specified").into());
    }
    key_in(tx, key_id)
        .await?
        .ok_or_else(|| invalid_key().into())
}

impl Store {
    /// `CreateApiKey`.
    pub async fn create_api_key(&self, input: CreateApiKeyInput) -> Result<ApiKey, StoreError> {
        let key = api_keys::new_api_key(input)?;
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let taken: Option<i64> = sqlx::query_scalar("SELECT 1 FROM api_keys WHERE value = ?")
            .bind(key.value.as_deref().unwrap_or_default())
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(duplicate_value().into());
        }
        write_key(&mut tx, &key).await?;
        record_change(&mut tx, "", "apikey", &key.id).await?;
        tx.commit().await?;
        Ok(key)
    }

    /// The key with this id, with its value; `None` when there is none.
    pub async fn api_key_by_id(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        sqlx::query("SELECT id, value, body FROM api_keys WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(|r| key_of(&r))
            .transpose()
    }

    /// The key with this value; `None` when there is none.
    pub async fn api_key_by_value(&self, value: &str) -> Result<Option<ApiKey>, StoreError> {
        sqlx::query("SELECT id, value, body FROM api_keys WHERE value = ?")
            .bind(value)
            .fetch_optional(self.pool())
            .await?
            .map(|r| key_of(&r))
            .transpose()
    }

    /// `GetApiKey`: the key, or AWS's `NotFoundException`.
    pub async fn api_key(&self, id: &str) -> Result<ApiKey, StoreError> {
        self.api_key_by_id(id)
            .await?
            .ok_or_else(|| invalid_key().into())
    }

    /// `GetApiKeys`: one page of the keys matching `q`, oldest first.
    pub async fn api_keys_page(&self, q: &ApiKeyQuery) -> Result<Page<ApiKey>, StoreError> {
        // A name prefix is a range on the name index: [prefix, prefix + U+10FFFF).
        let upper = q.name_prefix.as_ref().map(|p| format!("{p}\u{10FFFF}"));
        let rows = sqlx::query(
            "SELECT id, value, body FROM api_keys
             WHERE (?1 IS NULL OR (name >= ?1 AND name < ?2)) AND (?3 IS NULL OR customer_id = ?3)
             ORDER BY rowid LIMIT ?4 OFFSET ?5",
        )
        .bind(&q.name_prefix)
        .bind(&upper)
        .bind(&q.customer_id)
        .bind(q.limit as i64 + 1)
        .bind(q.position as i64)
        .fetch_all(self.pool())
        .await?;
        let mut items = rows.iter().map(key_of).collect::<Result<Vec<_>, _>>()?;
        let next = (items.len() > q.limit).then_some(q.position + q.limit);
        items.truncate(q.limit);
        Ok(Page { items, next })
    }

    /// Hands `f` every API key with its value, oldest first, one row at a time. Returns how many
    /// there were.
    pub async fn for_each_api_key(&self, mut f: impl FnMut(ApiKey)) -> Result<usize, StoreError> {
        use futures_util::TryStreamExt;
        let mut rows =
            sqlx::query("SELECT id, value, body FROM api_keys ORDER BY rowid").fetch(self.pool());
        let mut n = 0;
        while let Some(r) = rows.try_next().await? {
            f(key_of(&r)?);
            n += 1;
        }
        Ok(n)
    }

    /// `UpdateApiKey`: the answer carries no value.
    pub async fn update_api_key(
        &self,
        id: &str,
        ops: &[PatchOperation],
    ) -> Result<ApiKey, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let mut key = key_in(&mut tx, id).await?.ok_or_else(invalid_key)?;
        let answer = api_keys::update_api_key(&mut key, ops)?;
        write_key(&mut tx, &key).await?;
        record_change(&mut tx, "", "apikey", id).await?;
        tx.commit().await?;
        Ok(answer)
    }

    /// Changes a key's tags.
    pub async fn modify_api_key_tags(
        &self,
        id: &str,
        f: impl FnOnce(&mut Map<String>),
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let mut key = key_in(&mut tx, id).await?.ok_or_else(invalid_key)?;
        f(&mut key.tags);
        write_key(&mut tx, &key).await?;
        record_change(&mut tx, "", "apikey", id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `DeleteApiKey`, with its plan memberships, counters and grants.
    pub async fn delete_api_key(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let gone = sqlx::query("DELETE FROM api_keys WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() == 0 {
            return Err(invalid_key().into());
        }
        for sql in [
            "DELETE FROM usage_plan_keys WHERE key_id = ?",
            "DELETE FROM usage_counts WHERE key_id = ?",
            "DELETE FROM usage_remaining WHERE key_id = ?",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        record_change(&mut tx, "", "apikey", id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `ImportApiKeys`: stores every key of a parsed file in one transaction — multi-row
    /// `INSERT`s, a key whose value is already stored overwritten in place (keeping its id) —
    /// and adds the keys to their usage plans. All or nothing. Returns the keys' ids in file
    /// order.
    pub async fn import_api_keys(&self, import: KeyImport) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        // A large import touches every page of the key table and its indexes: with SQLite's
        // default 2 MB page cache they are evicted and re-read mid-transaction and the import
        // runs several times slower. The connection gets a cache sized to the import (about 1 KiB
        // per key, 1 GiB at most; pages are allocated only as used) and its default back after.
        let cache_kib = (import.keys.len() as i64).clamp(2_000, 1 << 20);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA cache_size = -{cache_kib}"
        )))
        .execute(&mut *conn)
        .await?;
        let out = import_in(&mut conn, import).await;
        sqlx::query("PRAGMA cache_size = -2000")
            .execute(&mut *conn)
            .await?;
        out
    }

    /// `CreateUsagePlanKey`.
    pub async fn create_usage_plan_key(
        &self,
        plan_id: &str,
        key_id: &str,
        key_type: &str,
    ) -> Result<UsagePlanKey, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let plans = plans_in(&mut tx).await?;
        plans.check_plan_key_target(plan_id, key_type)?;
        let key = key_in(&mut tx, key_id).await?.ok_or_else(invalid_key)?;
        let key_plans = plans_of_key_in(&mut tx, key_id).await?;
        plans.check_plan_key_membership(plan_id, key_id, &key_plans)?;
        sqlx::query("INSERT INTO usage_plan_keys (plan_id, key_id) VALUES (?, ?)")
            .bind(plan_id)
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        record_change(&mut tx, "", "usageplankey", &format!("{plan_id}/{key_id}")).await?;
        tx.commit().await?;
        Ok(plan_key_view(key))
    }

    /// `GetUsagePlanKeys`: one page of a plan's keys (with values), in the order they were
    /// added. An unknown plan has no keys: AWS answers an empty list, not a 404.
    pub async fn usage_plan_keys_page(
        &self,
        plan_id: &str,
        name_prefix: Option<&str>,
        position: usize,
        limit: usize,
    ) -> Result<Page<UsagePlanKey>, StoreError> {
        let upper = name_prefix.map(|p| format!("{p}\u{10FFFF}"));
        let rows = sqlx::query(
            "SELECT k.id, k.value, k.body FROM usage_plan_keys m JOIN api_keys k ON k.id = m.key_id
             WHERE m.plan_id = ?1 AND (?2 IS NULL OR (k.name >= ?2 AND k.name < ?3))
             ORDER BY m.rowid LIMIT ?4 OFFSET ?5",
        )
        .bind(plan_id)
        .bind(name_prefix)
        .bind(&upper)
        .bind(limit as i64 + 1)
        .bind(position as i64)
        .fetch_all(self.pool())
        .await?;
        let mut items = rows
            .iter()
            .map(|r| key_of(r).map(plan_key_view))
            .collect::<Result<Vec<_>, _>>()?;
        let next = (items.len() > limit).then_some(position + limit);
        items.truncate(limit);
        Ok(Page { items, next })
    }

    /// `GetUsagePlanKey`.
    pub async fn usage_plan_key(
        &self,
        plan_id: &str,
        key_id: &str,
    ) -> Result<UsagePlanKey, StoreError> {
        let mut tx = self.pool().begin().await?;
        let key = member_key(&mut tx, plan_id, key_id).await?;
        tx.commit().await?;
        Ok(plan_key_view(key))
    }

    /// `DeleteUsagePlanKey` (the key's counters and grant in that plan go with it).
    pub async fn delete_usage_plan_key(
        &self,
        plan_id: &str,
        key_id: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        member_key(&mut tx, plan_id, key_id).await?;
        for sql in [
            "DELETE FROM usage_plan_keys WHERE plan_id = ? AND key_id = ?",
            "DELETE FROM usage_counts WHERE plan_id = ? AND key_id = ?",
            "DELETE FROM usage_remaining WHERE plan_id = ? AND key_id = ?",
        ] {
            sqlx::query(sql)
                .bind(plan_id)
                .bind(key_id)
                .execute(&mut *tx)
                .await?;
        }
        record_change(&mut tx, "", "usageplankey", &format!("{plan_id}/{key_id}")).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every `(usage plan id, api key id)` membership, in the order they were made.
    pub async fn usage_plan_keys_all(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(
            sqlx::query("SELECT plan_id, key_id FROM usage_plan_keys ORDER BY rowid")
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect(),
        )
    }

    /// The ids of the plans a key is in.
    pub async fn plans_of_key(&self, key_id: &str) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        Ok(sqlx::query_scalar(
            "SELECT plan_id FROM usage_plan_keys WHERE key_id = ? ORDER BY rowid",
        )
        .bind(key_id)
        .fetch_all(&mut *conn)
        .await?)
    }

    /// `GetUsagePlans?keyId=`: the plans of an existing key.
    pub async fn usage_plans_of_key(&self, key_id: &str) -> Result<Vec<UsagePlan>, StoreError> {
        self.api_key(key_id).await?;
        let ids = self.plans_of_key(key_id).await?;
        let st = AccountState {
            usage_plans: self.usage_plans().await?,
            ..AccountState::default()
        };
        Ok(st.plans_among(&ids))
    }

    /// Adds counted requests, all in one transaction. Counters are runtime state: no
    /// change-feed rows.
    pub async fn add_usage(&self, counts: &[UsageCount]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        for c in counts {
            sqlx::query(
                "INSERT INTO usage_counts (plan_id, key_id, day, used) VALUES (?, ?, ?, ?)
                 ON CONFLICT(plan_id, key_id, day) DO UPDATE SET used = used + excluded.used",
            )
            .bind(&c.plan_id)
            .bind(&c.key_id)
            .bind(&c.day)
            .bind(c.used)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Counted requests `(key id, day, used)` of a plan (or one key of it) from `start_day` to
    /// `end_day` (inclusive, `YYYY-MM-DD`).
    pub async fn usage_counts(
        &self,
        plan_id: &str,
        key_id: Option<&str>,
        start_day: &str,
        end_day: &str,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(sqlx::query(
            "SELECT key_id, day, used FROM usage_counts
             WHERE plan_id = ?1 AND (?2 IS NULL OR key_id = ?2) AND day >= ?3 AND day <= ?4
             ORDER BY key_id, day",
        )
        .bind(plan_id)
        .bind(key_id)
        .bind(start_day)
        .bind(end_day)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
    }

    /// Every `UpdateUsage` grant.
    pub async fn remaining_overrides(&self) -> Result<Vec<RemainingOverride>, StoreError> {
        Ok(sqlx::query(
            "SELECT plan_id, key_id, remaining, set_at, period_start, effective_limit
             FROM usage_remaining ORDER BY plan_id, key_id",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| RemainingOverride {
            plan_id: r.get(0),
            key_id: r.get(1),
            remaining: r.get(2),
            set_at: r.get(3),
            settled: r
                .get::<Option<String>, _>(4)
                .zip(r.get::<Option<i64>, _>(5)),
        })
        .collect())
    }

    /// Records what the data plane made of the grant set at `set_at` for (`plan_id`,
    /// `key_id`): the quota period's first day and its effective limit. A grant made since (a
    /// newer `set_at`) is left alone. Runtime state, not configuration: no change row.
    pub async fn settle_grant(
        &self,
        plan_id: &str,
        key_id: &str,
        set_at: i64,
        period_start: &str,
        effective_limit: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE usage_remaining SET period_start = ?, effective_limit = ?
             WHERE plan_id = ? AND key_id = ? AND set_at = ?",
        )
        .bind(period_start)
        .bind(effective_limit)
        .bind(plan_id)
        .bind(key_id)
        .bind(set_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// `GetUsage`: the plan's keys (or one key) per day from `start` to `end`.
    pub async fn usage(
        &self,
        plan_id: &str,
        key_id: Option<&str>,
        start: &str,
        end: &str,
    ) -> Result<Usage, StoreError> {
        let mut tx = self.pool().begin().await?;
        let plan = plan_in(&mut tx, plan_id).await?;
        let days = api_keys::usage_days(start, end)?;
        let keys: Vec<String> = match key_id {
            Some(k) => {
                member_key(&mut tx, plan_id, k).await?;
                vec![k.to_owned()]
            }
            None => {
                sqlx::query_scalar(
                    "SELECT key_id FROM usage_plan_keys WHERE plan_id = ? ORDER BY rowid",
                )
                .bind(plan_id)
                .fetch_all(&mut *tx)
                .await?
            }
        };
        tx.commit().await?;
        let (first, last) = (days.first().cloned(), days.last().cloned());
        let counts = self
            .usage_counts(
                plan_id,
                key_id,
                first.as_deref().unwrap_or_default(),
                last.as_deref().unwrap_or_default(),
            )
            .await?;
        let granted: Vec<(String, i64)> = sqlx::query(
            "SELECT key_id, remaining FROM usage_remaining WHERE plan_id = ?1 AND (?2 IS NULL OR key_id = ?2)",
        )
        .bind(plan_id)
        .bind(key_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
        Ok(api_keys::usage_report(
            &plan, &keys, &days, &counts, &granted,
        ))
    }

    /// `UpdateUsage`: stores the grant (a change-feed row `usage`, `plan/key`, tells the data
    /// plane) and answers today's usage of the key.
    pub async fn update_usage(
        &self,
        plan_id: &str,
        key_id: &str,
        ops: &[PatchOperation],
    ) -> Result<Usage, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        member_key(&mut tx, plan_id, key_id).await?;
        let remaining = api_keys::remaining_from_patch(ops)?;
        sqlx::query(
            "INSERT OR REPLACE INTO usage_remaining (plan_id, key_id, remaining, set_at)
             VALUES (?, ?, ?, ?)",
        )
        .bind(plan_id)
        .bind(key_id)
        .bind(remaining)
        .bind(portico_model::now_epoch_seconds())
        .execute(&mut *tx)
        .await?;
        record_change(&mut tx, "", "usage", &format!("{plan_id}/{key_id}")).await?;
        tx.commit().await?;
        let today = api_keys::today();
        self.usage(plan_id, Some(key_id), &today, &today).await
    }
}
