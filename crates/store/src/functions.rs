//! The Lambda API's functions: a function's `$LATEST`, versions, aliases, policy statements and
//! reserved concurrency in their own tables, loaded together as one
//! [`FunctionState`] and written back as a diff ([`Store::modify_function`]), with one
//! `function` change-feed row naming the function when anything changed.

use crate::changes::record_change;
use crate::sqlite::{from_json, to_json};
use crate::{Store, StoreError};
use portico_control::ControlError;
use portico_control::lambda::{FunctionState, Permission};
use sqlx::{Row, Sqlite, Transaction};
use std::collections::BTreeMap;

/// One stored row of a function.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Function,
    Version(i64),
    Alias(String),
    /// (qualifier, statement id).
    Permission(String, String),
    Concurrency,
}

/// The rows in the state's order (new policy statements are written in the order they were
/// added, which their rowids keep).
type Rows = Vec<(Key, String)>;

async fn load(tx: &mut Transaction<'_, Sqlite>, name: &str) -> Result<FunctionState, StoreError> {
    let mut st = FunctionState::new(name);
    let what = |kind: &str| format!("function {name} {kind}");
    if let Some(body) =
        sqlx::query_scalar::<_, String>("SELECT body FROM lambda_functions WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?
    {
        st.function = Some(from_json(&what("$LATEST"), &body)?);
    }
    for r in sqlx::query("SELECT body FROM lambda_versions WHERE name = ? ORDER BY version")
        .bind(name)
        .fetch_all(&mut **tx)
        .await?
    {
        st.versions.push(from_json(&what("version"), r.get(0))?);
    }
    for r in sqlx::query("SELECT body FROM lambda_aliases WHERE name = ? ORDER BY alias")
        .bind(name)
        .fetch_all(&mut **tx)
        .await?
    {
        st.aliases.push(from_json(&what("alias"), r.get(0))?);
    }
    for r in sqlx::query(
        "SELECT qualifier, sid, body FROM lambda_permissions WHERE name = ? ORDER BY rowid",
    )
    .bind(name)
    .fetch_all(&mut **tx)
    .await?
    {
        st.permissions.push(Permission {
            qualifier: r.get(0),
            sid: r.get(1),
            statement: from_json(&what("permission"), r.get(2))?,
        });
    }
    st.reserved_concurrency =
        sqlx::query_scalar::<_, i64>("SELECT reserved FROM lambda_concurrency WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    Ok(st)
}

fn rows(st: &FunctionState) -> Result<Rows, StoreError> {
    let mut out = Rows::new();
    if let Some(f) = &st.function {
        out.push((Key::Function, to_json("function", f)?));
    }
    for v in &st.versions {
        out.push((
            Key::Version(i64::try_from(v.number()).unwrap_or(i64::MAX)),
            to_json("function version", v)?,
        ));
    }
    for a in &st.aliases {
        out.push((Key::Alias(a.name.clone()), to_json("alias", a)?));
    }
    for p in &st.permissions {
        out.push((
            Key::Permission(p.qualifier.clone(), p.sid.clone()),
            to_json("permission", &p.statement)?,
        ));
    }
    if let Some(n) = st.reserved_concurrency {
        out.push((Key::Concurrency, n.to_string()));
    }
    Ok(out)
}

async fn write(
    tx: &mut Transaction<'_, Sqlite>,
    name: &str,
    key: &Key,
    body: &str,
) -> Result<(), StoreError> {
    let q = match key {
        Key::Function => {
            sqlx::query("INSERT OR REPLACE INTO lambda_functions (name, body) VALUES (?, ?)")
                .bind(name)
                .bind(body)
        }
        Key::Version(v) => sqlx::query(
            "INSERT OR REPLACE INTO lambda_versions (name, version, body) VALUES (?, ?, ?)",
        )
        .bind(name)
        .bind(*v)
        .bind(body),
        Key::Alias(a) => sqlx::query(
            "INSERT OR REPLACE INTO lambda_aliases (name, alias, body) VALUES (?, ?, ?)",
        )
        .bind(name)
        .bind(a)
        .bind(body),
        Key::Permission(q, sid) => sqlx::query(
            "INSERT OR REPLACE INTO lambda_permissions (name, qualifier, sid, body) VALUES (?, ?, ?, ?)",
        )
        .bind(name)
        .bind(q)
        .bind(sid)
        .bind(body),
        Key::Concurrency => sqlx::query(
            "INSERT OR REPLACE INTO lambda_concurrency (name, reserved) VALUES (?, ?)",
        )
        .bind(name)
        .bind(body.parse::<i64>().unwrap_or(0)),
    };
    q.execute(&mut **tx).await?;
    Ok(())
}

async fn remove(tx: &mut Transaction<'_, Sqlite>, name: &str, key: &Key) -> Result<(), StoreError> {
    let q = match key {
        Key::Function => sqlx::query("DELETE FROM lambda_functions WHERE name = ?").bind(name),
        Key::Version(v) => {
            sqlx::query("DELETE FROM lambda_versions WHERE name = ? AND version = ?")
                .bind(name)
                .bind(*v)
        }
        Key::Alias(a) => sqlx::query("DELETE FROM lambda_aliases WHERE name = ? AND alias = ?")
            .bind(name)
            .bind(a),
        Key::Permission(q, sid) => sqlx::query(
            "DELETE FROM lambda_permissions WHERE name = ? AND qualifier = ? AND sid = ?",
        )
        .bind(name)
        .bind(q)
        .bind(sid),
        Key::Concurrency => sqlx::query("DELETE FROM lambda_concurrency WHERE name = ?").bind(name),
    };
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Writes the rows that differ; `true` when any did.
async fn save_diff(
    tx: &mut Transaction<'_, Sqlite>,
    name: &str,
    before: &Rows,
    after: &Rows,
) -> Result<bool, StoreError> {
    let old: BTreeMap<&Key, &String> = before.iter().map(|(k, b)| (k, b)).collect();
    let new: BTreeMap<&Key, &String> = after.iter().map(|(k, b)| (k, b)).collect();
    let mut changed = false;
    for (key, body) in after {
        if old.get(key) != Some(&body) {
            write(tx, name, key, body).await?;
            changed = true;
        }
    }
    for (key, _) in before {
        if !new.contains_key(key) {
            remove(tx, name, key).await?;
            changed = true;
        }
    }
    Ok(changed)
}

impl Store {
    /// Everything stored about function `name` (`function` is `None` when there is none).
    pub async fn function_state(&self, name: &str) -> Result<FunctionState, StoreError> {
        let mut tx = self.pool().begin().await?;
        let st = load(&mut tx, name).await?;
        tx.commit().await?;
        Ok(st)
    }

    /// Runs a Lambda command on function `name` atomically, writing only the rows it changed
    /// and, when it changed any, a `function` change-feed row naming the function.
    pub async fn modify_function<T>(
        &self,
        name: &str,
        command: impl FnOnce(&mut FunctionState) -> Result<T, ControlError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let mut st = load(&mut tx, name).await?;
        let before = rows(&st)?;
        let out = command(&mut st)?;
        if save_diff(&mut tx, name, &before, &rows(&st)?).await? {
            record_change(&mut tx, "", "function", name).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Every function with its versions, aliases, policy and concurrency, by name.
    pub async fn function_states(&self) -> Result<Vec<FunctionState>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM lambda_functions ORDER BY name")
                .fetch_all(&mut *tx)
                .await?;
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            out.push(load(&mut tx, &n).await?);
        }
        tx.commit().await?;
        Ok(out)
    }
}
