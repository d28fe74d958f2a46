//! Account-level commands (API keys, usage plans), each one transaction.

use crate::sqlite::{from_json, to_json};
use crate::{Store, StoreError};
use portico_control::ControlError;
use portico_control::account::AccountState;
use sqlx::{Row, Sqlite, Transaction};

async fn load(tx: &mut Transaction<'_, Sqlite>) -> Result<AccountState, StoreError> {
    let mut st = AccountState::default();
    let rows = sqlx::query("SELECT kind, body FROM account_objects ORDER BY rowid")
        .fetch_all(&mut **tx)
        .await?;
    for r in &rows {
        let kind: String = r.get(0);
        let body: &str = r.get(1);
        match kind.as_str() {
            "apikey" => st.api_keys.push(from_json("api key", body)?),
            "usageplan" => st.usage_plans.push(from_json("usage plan", body)?),
            "domainname" => st.domain_names.push(from_json("domain name", body)?),
            "vpclink" => st.vpc_links.push(from_json("vpc link", body)?),
            "usage" => st.usage.push(from_json("usage", body)?),
            "remaining" => st.remaining_overrides.push(from_json("remaining", body)?),
            "clientcert" => st
                .client_certificates
                .push(from_json("client certificate", body)?),
            "accessassociation" => st
                .access_associations
                .push(from_json("access association", body)?),
            "basepathmapping" => {
                let v: (String, portico_model::BasePathMapping) =
                    from_json("base path mapping", body)?;
                st.base_path_mappings.push(v);
            }
            "account" => {
                let v: serde_json::Value = from_json("account", body)?;
                st.cloudwatch_role_arn = v
                    .get("cloudwatchRoleArn")
                    .and_then(|x| x.as_str())
                    .map(str::to_owned);
            }
            _ => {}
        }
    }
    st.plan_keys = sqlx::query("SELECT plan_id, key_id FROM usage_plan_keys ORDER BY rowid")
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    st.known_apis = sqlx::query("SELECT id FROM rest_apis")
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    st.known_stages = sqlx::query("SELECT api_id, name FROM stages")
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(st)
}

async fn save(tx: &mut Transaction<'_, Sqlite>, st: &AccountState) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM account_objects")
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM usage_plan_keys")
        .execute(&mut **tx)
        .await?;
    for k in &st.api_keys {
        sqlx::query("INSERT INTO account_objects (kind, id, body) VALUES ('apikey', ?, ?)")
            .bind(&k.id)
            .bind(to_json("api key", k)?)
            .execute(&mut **tx)
            .await?;
    }
    for p in &st.usage_plans {
        sqlx::query("INSERT INTO account_objects (kind, id, body) VALUES ('usageplan', ?, ?)")
            .bind(&p.id)
            .bind(to_json("usage plan", p)?)
            .execute(&mut **tx)
            .await?;
    }
    for (i, a) in st.access_associations.iter().enumerate() {
        sqlx::query(
            "INSERT INTO account_objects (kind, id, body) VALUES ('accessassociation', ?, ?)",
        )
        .bind(format!("{i}"))
        .bind(to_json("access association", a)?)
        .execute(&mut **tx)
        .await?;
    }
    for (i, u) in st.usage.iter().enumerate() {
        sqlx::query("INSERT INTO account_objects (kind, id, body) VALUES ('usage', ?, ?)")
            .bind(format!("{i}"))
            .bind(to_json("usage", u)?)
            .execute(&mut **tx)
            .await?;
    }
    for (i, r) in st.remaining_overrides.iter().enumerate() {
        sqlx::query("INSERT INTO account_objects (kind, id, body) VALUES ('remaining', ?, ?)")
            .bind(format!("{i}"))
            .bind(to_json("remaining", r)?)
            .execute(&mut **tx)
            .await?;
    }
    for c in &st.client_certificates {
        sqlx::query("INSERT INTO account_objects (kind, id, body) VALUES ('clientcert', ?, ?)")
            .bind(&c.0.client_certificate_id)
            .bind(to_json("client certificate", c)?)
            .execute(&mut **tx)
            .await?;
    }
    for l in &st.vpc_links {
        sqlx::query("INSERT INTO account_objects (kind, id, body) VALUES ('vpclink', ?, ?)")
            .bind(&l.id)
            .bind(to_json("vpc link", l)?)
            .execute(&mut **tx)
            .await?;
    }
    for d in &st.domain_names {
        sqlx::query("INSERT INTO account_objects (kind, id, body) VALUES ('domainname', ?, ?)")
            .bind(&d.domain_name)
            .bind(to_json("domain name", d)?)
            .execute(&mut **tx)
            .await?;
    }
    for (i, m) in st.base_path_mappings.iter().enumerate() {
        sqlx::query(
            "INSERT INTO account_objects (kind, id, body) VALUES ('basepathmapping', ?, ?)",
        )
        .bind(format!("{}#{i}", m.0))
        .bind(to_json("base path mapping", m)?)
        .execute(&mut **tx)
        .await?;
    }
    let account = serde_json::json!({ "cloudwatchRoleArn": st.cloudwatch_role_arn });
    sqlx::query("INSERT INTO account_objects (kind, id, body) VALUES ('account', 'account', ?)")
        .bind(account.to_string())
        .execute(&mut **tx)
        .await?;
    for (p, k) in &st.plan_keys {
        sqlx::query("INSERT INTO usage_plan_keys (plan_id, key_id) VALUES (?, ?)")
            .bind(p)
            .bind(k)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Store {
    /// The account's objects (read-only).
    pub async fn account_state(&self) -> Result<AccountState, StoreError> {
        let mut tx = self.pool().begin().await?;
        let st = load(&mut tx).await?;
        tx.commit().await?;
        Ok(st)
    }

    /// Runs an account-level command atomically.
    pub async fn modify_account<T>(
        &self,
        command: impl FnOnce(&mut AccountState) -> Result<T, ControlError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let mut st = load(&mut tx).await?;
        let out = command(&mut st)?;
        save(&mut tx, &st).await?;
        sqlx::query("INSERT INTO changes (api_id, kind, at) VALUES ('', 'account', ?)")
            .bind(portico_model::now_epoch_seconds())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(out)
    }
}
