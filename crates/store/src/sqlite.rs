//! The SQLite backend.

use crate::{StoreError, migrate};
use portico_model::{
    Deployment, DeploymentSnapshot, Map, Resource, RestApi, Stage, new_deployment_id,
    now_epoch_seconds,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// File name of the embedded database inside the data directory.
pub const DB_FILE: &str = "portico.db";

/// A handle on the store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

/// Create-or-update an API from a definition and deploy it to a stage, in one transaction.
#[derive(Debug, Clone)]
pub struct ImportAndDeploy {
    /// The API's settings. When an API with the same `name` exists, its `id`, `createdDate` and
    /// resource ids (matched by path) are kept so invoke URLs stay stable.
    pub api: RestApi,
    /// Every resource, root first; parent ids refer to ids within this list.
    pub resources: Vec<Resource>,
    /// The stage to (re)point at the new deployment; created when missing.
    pub stage_name: String,
    /// Stage variables to set (merged over the stage's existing variables).
    pub stage_variables: Map<String>,
    /// Description of the new deployment.
    pub deployment_description: Option<String>,
}

/// What [`Store::import_and_deploy`] did.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// The stored API.
    pub api: RestApi,
    /// The new deployment.
    pub deployment: Deployment,
    /// The stage, now pointing at the deployment.
    pub stage: Stage,
    /// Whether the API was created (false: updated in place).
    pub created: bool,
}

/// One stage with the deployment it serves: the gateway's compile input.
#[derive(Debug, Clone)]
pub struct ServingStage {
    /// The API id.
    pub api_id: String,
    /// The stage.
    pub stage: Stage,
    /// The deployment the stage points at.
    pub deployment: Deployment,
    /// What the deployment froze.
    pub snapshot: DeploymentSnapshot,
    /// The stage's canary deployment and what it froze (`canarySettings.deploymentId`), when the
    /// stage has a canary.
    pub canary: Option<(Deployment, DeploymentSnapshot)>,
}

pub(crate) fn to_json<T: serde::Serialize>(what: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::corrupt(what, e))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    s: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::corrupt(what, e))
}

impl Store {
    /// Opens (creating when needed) the SQLite store in `data_dir` and applies migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join(DB_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        migrate::run(&pool).await?;
        Ok(Self { pool })
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The highest change sequence number; moves on every committed write.
    pub async fn change_seq(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM changes")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    /// Every REST API, oldest first.
    pub async fn list_rest_apis(&self) -> Result<Vec<RestApi>, StoreError> {
        let rows = sqlx::query("SELECT id, body FROM rest_apis ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| from_json(&format!("rest api {}", r.get::<String, _>(0)), r.get(1)))
            .collect()
    }

    /// The oldest API with this name, if any.
    pub async fn find_rest_api_by_name(&self, name: &str) -> Result<Option<RestApi>, StoreError> {
        let row = sqlx::query(
            "SELECT id, body FROM rest_apis WHERE name = ? ORDER BY created_at, id LIMIT 1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| from_json(&format!("rest api {}", r.get::<String, _>(0)), r.get(1)))
            .transpose()
    }

    /// The resources of an API, sorted by path.
    pub async fn resources(&self, api_id: &str) -> Result<Vec<Resource>, StoreError> {
        let rows = sqlx::query("SELECT id, body FROM resources WHERE api_id = ? ORDER BY path")
            .bind(api_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| from_json(&format!("resource {}", r.get::<String, _>(0)), r.get(1)))
            .collect()
    }

    /// Every stage with its deployment snapshot.
    pub async fn serving_stages(&self) -> Result<Vec<ServingStage>, StoreError> {
        let mut out = Vec::new();
        self.for_each_serving_stage(|s| out.push(s)).await?;
        Ok(out)
    }

    /// Hands `f` every stage with its deployment snapshot, in the order of
    /// [`serving_stages`](Self::serving_stages), each as soon as its row is read: only one row and
    /// one stage's parsed snapshots (its deployment's and its canary's) are held at a time.
    /// Returns how many stages there were; on an error `f` may have seen some of
    /// them.
    pub async fn for_each_serving_stage(
        &self,
        mut f: impl FnMut(ServingStage),
    ) -> Result<usize, StoreError> {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query(
            "SELECT s.api_id, s.name, s.body, d.body, d.snapshot, c.body, c.snapshot
             FROM stages s JOIN deployments d ON d.api_id = s.api_id AND d.id = s.deployment_id
             LEFT JOIN deployments c ON c.api_id = s.api_id
               AND c.id = json_extract(s.body, '$.canarySettings.deploymentId')
             ORDER BY s.api_id, s.name",
        )
        .fetch(&self.pool);
        let mut n = 0;
        while let Some(r) = rows.try_next().await? {
            let api_id: String = r.get(0);
            let what = format!("stage {}/{}", api_id, r.get::<&str, _>(1));
            f(ServingStage {
                stage: from_json(&what, r.get(2))?,
                deployment: from_json(&what, r.get(3))?,
                snapshot: from_json(&what, r.get(4))?,
                canary: match (r.get::<Option<&str>, _>(5), r.get::<Option<&str>, _>(6)) {
                    (Some(d), Some(snap)) => Some((from_json(&what, d)?, from_json(&what, snap)?)),
                    _ => None,
                },
                api_id,
            });
            n += 1;
        }
        Ok(n)
    }

    /// Creates or updates an API, deploys it and points the stage at the deployment; all or nothing.
    pub async fn import_and_deploy(
        &self,
        cmd: ImportAndDeploy,
    ) -> Result<ImportOutcome, StoreError> {
        let ImportAndDeploy {
            mut api,
            mut resources,
            stage_name,
            stage_variables,
            deployment_description,
        } = cmd;
        if !Stage::is_valid_name(&stage_name) {
            return Err(StoreError::Conflict(format!(
                "Stage name only allows a-zA-Z0-9_- and must be 1-128 characters: {stage_name}"
            )));
        }
        let now = now_epoch_seconds();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;

        let existing = sqlx::query(
            "SELECT id, body FROM rest_apis WHERE name = ? ORDER BY created_at, id LIMIT 1",
        )
        .bind(&api.name)
        .fetch_optional(&mut *tx)
        .await?;
        let created = existing.is_none();
        if let Some(row) = existing {
            let old: RestApi = from_json("rest api", row.get(1))?;
            api.id = old.id;
            api.created_date = old.created_date;
            api.tags = old.tags;
            let old_ids: HashMap<String, String> =
                sqlx::query("SELECT path, id FROM resources WHERE api_id = ?")
                    .bind(&api.id)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect();
            keep_resource_ids(&mut resources, &old_ids);
        }
        match resources.iter().find(|r| r.path == "/") {
            Some(root) => api.root_resource_id = root.id.clone(),
            None => {
                return Err(StoreError::Conflict(
                    "an API definition needs a root resource".into(),
                ));
            }
        }

        sqlx::query(
            "INSERT INTO rest_apis (id, name, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, body = excluded.body,
             updated_at = excluded.updated_at",
        )
        .bind(&api.id)
        .bind(&api.name)
        .bind(to_json("rest api", &api)?)
        .bind(api.created_date)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM resources WHERE api_id = ?")
            .bind(&api.id)
            .execute(&mut *tx)
            .await?;
        for r in &resources {
            sqlx::query("INSERT INTO resources (api_id, id, path, body) VALUES (?, ?, ?, ?)")
                .bind(&api.id)
                .bind(&r.id)
                .bind(&r.path)
                .bind(to_json("resource", r)?)
                .execute(&mut *tx)
                .await?;
        }

        let objects = crate::management::load_objects(&mut tx, &api.id).await?;
        let snapshot = DeploymentSnapshot {
            api: api.clone(),
            resources,
            gateway_responses: objects.gateway_responses,
            models: objects.models,
            request_validators: objects.request_validators,
            authorizers: objects.authorizers,
        };
        let deployment = Deployment {
            id: new_deployment_id(),
            description: deployment_description,
            created_date: now,
            api_summary: snapshot.api_summary(),
        };
        sqlx::query(
            "INSERT INTO deployments (api_id, id, body, snapshot, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&api.id)
        .bind(&deployment.id)
        .bind(to_json("deployment", &deployment)?)
        .bind(to_json("deployment snapshot", &snapshot)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;

        let old_stage = sqlx::query("SELECT body FROM stages WHERE api_id = ? AND name = ?")
            .bind(&api.id)
            .bind(&stage_name)
            .fetch_optional(&mut *tx)
            .await?;
        let mut stage = match old_stage {
            Some(row) => {
                let mut s: Stage = from_json("stage", row.get(0))?;
                s.deployment_id = deployment.id.clone();
                s.last_updated_date = now;
                s
            }
            None => Stage::new(stage_name.clone(), deployment.id.clone()),
        };
        stage.variables.extend(stage_variables);
        sqlx::query(
            "INSERT INTO stages (api_id, name, deployment_id, body) VALUES (?, ?, ?, ?)
             ON CONFLICT(api_id, name) DO UPDATE SET deployment_id = excluded.deployment_id,
             body = excluded.body",
        )
        .bind(&api.id)
        .bind(&stage.stage_name)
        .bind(&stage.deployment_id)
        .bind(to_json("stage", &stage)?)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO changes (api_id, kind, at) VALUES (?, 'deploy', ?)")
            .bind(&api.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ImportOutcome {
            api,
            deployment,
            stage,
            created,
        })
    }
}

/// Gives resources the ids their paths had before, and rewrites parent ids to match.
fn keep_resource_ids(resources: &mut [Resource], old_ids: &HashMap<String, String>) {
    let mut renamed: HashMap<String, String> = HashMap::new();
    for r in resources.iter_mut() {
        if let Some(old) = old_ids.get(&r.path) {
            renamed.insert(std::mem::replace(&mut r.id, old.clone()), old.clone());
        }
    }
    for r in resources.iter_mut() {
        if let Some(parent) = r.parent_id.as_mut()
            && let Some(new) = renamed.get(parent)
        {
            *parent = new.clone();
        }
    }
}
