//! Schema migrations, embedded in the binary and applied in order, each in its own transaction.

use crate::StoreError;
use sqlx::SqlitePool;

/// `(version, description, sql)` in ascending order. Never edit a released migration; add one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "rest apis, resources, deployments, stages, change feed",
        include_str!("migrations/0001_rest_apis.sql"),
    ),
    (
        2,
        "api-level objects (gateway responses)",
        include_str!("migrations/0002_api_objects.sql"),
    ),
    (
        3,
        "account objects (api keys, usage plans)",
        include_str!("migrations/0003_account.sql"),
    ),
    (
        4,
        "api keys, usage counters and grants in their own tables; change feed object ids",
        include_str!("migrations/0004_api_keys.sql"),
    ),
    (
        5,
        "UpdateUsage grants remember what they came to (period start, effective limit)",
        include_str!("migrations/0005_grant_adjustments.sql"),
    ),
    (
        6,
        "lambda functions, versions, aliases, permissions, reserved concurrency",
        include_str!("migrations/0006_lambda_functions.sql"),
    ),
    (
        7,
        "http apis (apigatewayv2): apis with routes and integrations, deployments, stages",
        include_str!("migrations/0007_http_apis.sql"),
    ),
];

/// The newest schema version this build understands.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

/// Applies every migration newer than the file's version.
pub(crate) async fn run(pool: &SqlitePool) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS portico_schema (
            version INTEGER PRIMARY KEY,
            description TEXT NOT NULL,
            applied_at INTEGER NOT NULL)",
    )
    .execute(pool)
    .await?;
    for &(version, description, sql) in MIGRATIONS {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let current: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM portico_schema")
            .fetch_one(&mut *tx)
            .await?;
        let current = current.unwrap_or(0);
        if current > latest_version() {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported: latest_version(),
            });
        }
        if current >= version {
            tx.commit().await?;
            continue;
        }
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO portico_schema (version, description, applied_at) VALUES (?, ?, ?)",
        )
        .bind(version)
        .bind(description)
        .bind(portico_model::now_epoch_seconds())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(version, description, "applied store migration");
    }
    Ok(())
}
