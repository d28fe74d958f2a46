//! HTTP APIs (`apigatewayv2`): each command runs one [`portico_control::http`] command in a
//! `BEGIN IMMEDIATE` transaction. A change to what stages serve re-deploys every stage with
//! `autoDeploy` in the same transaction, so a change is served when its call returns.

use crate::sqlite::{from_json, to_json};
use crate::{Store, StoreError};
use portico_control::ControlError;
use portico_control::http::{
    CreateStageInput, HttpApiState, deployed_message, failed_deployment_message, invalid_api,
    invalid_id, new_deployment,
};
use portico_model::http::{Deployment, HttpApi, HttpApiSnapshot, Stage};
use portico_model::now_epoch_seconds;
use sqlx::{Row, Sqlite, Transaction};

/// One HTTP API stage with what its deployment froze: the gateway's compile input.
#[derive(Debug, Clone)]
pub struct ServingHttpStage {
    /// The API id.
    pub api_id: String,
    /// The stage.
    pub stage: Stage,
    /// What the stage's deployment froze.
    pub snapshot: HttpApiSnapshot,
}

async fn load(tx: &mut Transaction<'_, Sqlite>, id: &str) -> Result<HttpApiState, StoreError> {
    let row = sqlx::query("SELECT body FROM http_apis WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| invalid_api(id))?;
    from_json("http api", row.get(0))
}

async fn save(tx: &mut Transaction<'_, Sqlite>, state: &HttpApiState) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO http_apis (id, name, body, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, body = excluded.body",
    )
    .bind(&state.api.api_id)
    .bind(&state.api.name)
    .bind(to_json("http api", state)?)
    .bind(now_epoch_seconds())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn changed(tx: &mut Transaction<'_, Sqlite>, api_id: &str) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO changes (api_id, kind, at) VALUES (?, 'http', ?)")
        .bind(api_id)
        .bind(now_epoch_seconds())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn stage_row(
    tx: &mut Transaction<'_, Sqlite>,
    api_id: &str,
    name: &str,
) -> Result<Option<Stage>, StoreError> {
    let row = sqlx::query("SELECT body FROM http_stages WHERE api_id = ? AND name = ?")
        .bind(api_id)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| from_json("http stage", r.get(0))).transpose()
}

async fn put_stage(
    tx: &mut Transaction<'_, Sqlite>,
    api_id: &str,
    stage: &Stage,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO http_stages (api_id, name, deployment_id, body) VALUES (?, ?, ?, ?)
         ON CONFLICT(api_id, name) DO UPDATE SET deployment_id = excluded.deployment_id,
         body = excluded.body",
    )
    .bind(api_id)
    .bind(&stage.stage_name)
    .bind(&stage.deployment_id)
    .bind(to_json("http stage", stage)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn deployment_exists(
    tx: &mut Transaction<'_, Sqlite>,
    api_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM http_deployments WHERE api_id = ? AND id = ?")
            .bind(api_id)
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(n > 0)
}

/// Freezes the API as it is now into a new deployment.
async fn deploy(
    tx: &mut Transaction<'_, Sqlite>,
    state: &HttpApiState,
    description: Option<String>,
    auto: bool,
) -> Result<Deployment, StoreError> {
    let snapshot = state.snapshot()?;
    let d = new_deployment(description, auto);
    sqlx::query(
        "INSERT INTO http_deployments (api_id, id, body, snapshot, created_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&state.api.api_id)
    .bind(&d.deployment_id)
    .bind(to_json("http deployment", &d)?)
    .bind(to_json("http deployment snapshot", &snapshot)?)
    .bind(now_epoch_seconds())
    .execute(&mut **tx)
    .await?;
    Ok(d)
}

/// Deploys to `stage` as `autoDeploy` does: on success the stage serves the new deployment;
/// on failure it keeps what it served and says why.
async fn auto_deploy(
    tx: &mut Transaction<'_, Sqlite>,
    state: &HttpApiState,
    stage: &mut Stage,
) -> Result<(), StoreError> {
    match deploy(tx, state, None, true).await {
        Ok(d) => {
            stage.last_deployment_status_message = Some(deployed_message(&d.deployment_id));
            stage.deployment_id = Some(d.deployment_id);
        }
        Err(StoreError::Control(e)) => {
            stage.last_deployment_status_message = Some(failed_deployment_message(&e));
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Re-deploys every `autoDeploy` stage of the API.
async fn auto_deploy_all(
    tx: &mut Transaction<'_, Sqlite>,
    state: &HttpApiState,
) -> Result<(), StoreError> {
    let rows = sqlx::query("SELECT body FROM http_stages WHERE api_id = ? ORDER BY name")
        .bind(&state.api.api_id)
        .fetch_all(&mut **tx)
        .await?;
    let mut any = false;
    for r in &rows {
        let mut stage: Stage = from_json("http stage", r.get(0))?;
        if stage.auto_deploy {
            auto_deploy(tx, state, &mut stage).await?;
            put_stage(tx, &state.api.api_id, &stage).await?;
            any = true;
        }
    }
    if any {
        changed(tx, &state.api.api_id).await?;
    }
    Ok(())
}

fn invalid_stage(name: &str) -> ControlError {
    invalid_id("Stage", name)
}

fn invalid_deployment(id: &str) -> ControlError {
    invalid_id("Deployment", id)
}

impl Store {
    /// `CreateApi` for an HTTP API; with quick create, the `$default` stage with `autoDeploy`
    /// and its first deployment too.
    pub async fn create_http_api(
        &self,
        mut state: HttpApiState,
        quick: bool,
    ) -> Result<HttpApi, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        // One id space with REST APIs: both answer on `{id}.execute-api.…`.
        loop {
            let taken: i64 = sqlx::query_scalar(
                "SELECT (SELECT count(*) FROM rest_apis WHERE id = ?1)
                      + (SELECT count(*) FROM http_apis WHERE id = ?1)",
            )
            .bind(&state.api.api_id)
            .fetch_one(&mut *tx)
            .await?;
            if taken == 0 {
                break;
            }
            let id = portico_model::http::new_v2_id(10);
            if let Some(e) = &mut state.api.api_endpoint {
                *e = e.replacen(&state.api.api_id, &id, 1);
            }
            state.api.api_id = id;
        }
        save(&mut tx, &state).await?;
        if quick {
            let mut stage = state.new_stage(CreateStageInput {
                stage_name: Some(Stage::DEFAULT.into()),
                auto_deploy: Some(true),
                ..Default::default()
            })?;
            stage.api_gateway_managed = Some(true);
            auto_deploy(&mut tx, &state, &mut stage).await?;
            put_stage(&mut tx, &state.api.api_id, &stage).await?;
        }
        changed(&mut tx, &state.api.api_id).await?;
        tx.commit().await?;
        Ok(state.api)
    }

    /// `GetApi` with its routes, integrations and authorizers.
    pub async fn http_api(&self, id: &str) -> Result<HttpApiState, StoreError> {
        let mut tx = self.pool().begin().await?;
        let s = load(&mut tx, id).await?;
        tx.commit().await?;
        Ok(s)
    }

    /// `GetApis`: every HTTP API, oldest first.
    pub async fn http_apis(&self) -> Result<Vec<HttpApi>, StoreError> {
        let rows = sqlx::query("SELECT body FROM http_apis ORDER BY created_at, rowid")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| from_json::<HttpApiState>("http api", r.get(0)).map(|s| s.api))
            .collect()
    }

    /// Whether an HTTP API has this id.
    pub async fn is_http_api(&self, id: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM http_apis WHERE id = ?")
            .bind(id)
            .fetch_one(self.pool())
            .await?;
        Ok(n > 0)
    }

    /// Runs a command against an HTTP API and saves the result, atomically; when what stages
    /// serve changed, every `autoDeploy` stage is re-deployed in the same transaction.
    pub async fn modify_http_api<T>(
        &self,
        id: &str,
        command: impl FnOnce(&mut HttpApiState) -> Result<T, ControlError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let mut state = load(&mut tx, id).await?;
        let before = state.clone();
        let out = command(&mut state)?;
        if state != before {
            save(&mut tx, &state).await?;
            if state.serves_differently(&before) {
                auto_deploy_all(&mut tx, &state).await?;
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// `DeleteApi`: the API, its deployments and stages.
    pub async fn delete_http_api(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        load(&mut tx, id).await?;
        for sql in [
            "DELETE FROM http_stages WHERE api_id = ?",
            "DELETE FROM http_deployments WHERE api_id = ?",
            "DELETE FROM http_apis WHERE id = ?",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        changed(&mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `CreateStage`; a stage with `autoDeploy` and no deployment is deployed at once.
    pub async fn create_http_stage(
        &self,
        api_id: &str,
        input: CreateStageInput,
    ) -> Result<Stage, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let state = load(&mut tx, api_id).await?;
        let mut stage = state.new_stage(input)?;
        if stage_row(&mut tx, api_id, &stage.stage_name)
            .await?
            .is_some()
        {
            return Err(ControlError::conflict(format!(
                "Stage {} already exists",
                stage.stage_name
            ))
            .into());
        }
        if let Some(d) = &stage.deployment_id
            && !deployment_exists(&mut tx, api_id, d).await?
        {
            return Err(invalid_deployment(d).into());
        }
        if stage.auto_deploy && stage.deployment_id.is_none() && !state.routes.is_empty() {
            auto_deploy(&mut tx, &state, &mut stage).await?;
        }
        put_stage(&mut tx, api_id, &stage).await?;
        changed(&mut tx, api_id).await?;
        tx.commit().await?;
        Ok(stage)
    }

    /// `GetStages`.
    pub async fn http_stages(&self, api_id: &str) -> Result<Vec<Stage>, StoreError> {
        let mut tx = self.pool().begin().await?;
        load(&mut tx, api_id).await?;
        let rows = sqlx::query("SELECT body FROM http_stages WHERE api_id = ? ORDER BY name")
            .bind(api_id)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| from_json("http stage", r.get(0)))
            .collect()
    }

    /// `GetStage`.
    pub async fn http_stage(&self, api_id: &str, name: &str) -> Result<Stage, StoreError> {
        let mut tx = self.pool().begin().await?;
        load(&mut tx, api_id).await?;
        let s = stage_row(&mut tx, api_id, name)
            .await?
            .ok_or_else(|| invalid_stage(name))?;
        tx.commit().await?;
        Ok(s)
    }

    /// `UpdateStage`: the fields given replace the stage's; turning `autoDeploy` on deploys.
    pub async fn update_http_stage(
        &self,
        api_id: &str,
        name: &str,
        input: CreateStageInput,
    ) -> Result<Stage, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let state = load(&mut tx, api_id).await?;
        let mut stage = stage_row(&mut tx, api_id, name)
            .await?
            .ok_or_else(|| invalid_stage(name))?;
        if stage.api_gateway_managed == Some(true) && input.stage_name.is_some() {
            return Err(ControlError::bad_request("You can't modify the $default stage").into());
        }
        let was_auto = stage.auto_deploy;
        state.apply_stage(&mut stage, input)?;
        if let Some(d) = &stage.deployment_id
            && !deployment_exists(&mut tx, api_id, d).await?
        {
            return Err(invalid_deployment(d).into());
        }
        if stage.auto_deploy && !was_auto {
            auto_deploy(&mut tx, &state, &mut stage).await?;
        }
        put_stage(&mut tx, api_id, &stage).await?;
        changed(&mut tx, api_id).await?;
        tx.commit().await?;
        Ok(stage)
    }

    /// Replaces a stage's tags.
    pub async fn set_http_stage_tags(
        &self,
        api_id: &str,
        name: &str,
        tags: portico_model::Map<String>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        load(&mut tx, api_id).await?;
        let mut stage = stage_row(&mut tx, api_id, name)
            .await?
            .ok_or_else(|| invalid_stage(name))?;
        stage.tags = tags;
        put_stage(&mut tx, api_id, &stage).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What a stage serves: its deployment's frozen API (`ExportApi --stage-name`).
    pub async fn http_stage_snapshot(
        &self,
        api_id: &str,
        name: &str,
    ) -> Result<HttpApiSnapshot, StoreError> {
        let stage = self.http_stage(api_id, name).await?;
        let id = stage.deployment_id.ok_or_else(|| {
            ControlError::bad_request(format!("Stage {name} has no deployment to export"))
        })?;
        let row = sqlx::query("SELECT snapshot FROM http_deployments WHERE api_id = ? AND id = ?")
            .bind(api_id)
            .bind(&id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| invalid_deployment(&id))?;
        from_json("http deployment snapshot", row.get(0))
    }

    /// `DeleteStage`.
    pub async fn delete_http_stage(&self, api_id: &str, name: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        load(&mut tx, api_id).await?;
        let done = sqlx::query("DELETE FROM http_stages WHERE api_id = ? AND name = ?")
            .bind(api_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(invalid_stage(name).into());
        }
        changed(&mut tx, api_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `CreateDeployment`, optionally pointing `stage_name` (which must exist) at it.
    pub async fn create_http_deployment(
        &self,
        api_id: &str,
        description: Option<String>,
        stage_name: Option<String>,
    ) -> Result<Deployment, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let state = load(&mut tx, api_id).await?;
        let mut stage = match &stage_name {
            Some(n) => Some(
                stage_row(&mut tx, api_id, n)
                    .await?
                    .ok_or_else(|| invalid_stage(n))?,
            ),
            None => None,
        };
        if let Some(s) = &stage
            && s.auto_deploy
        {
            return Err(ControlError::bad_request(format!(
                "Stage {} has autoDeploy enabled: it is deployed automatically, without CreateDeployment",
                s.stage_name
            ))
            .into());
        }
        let d = deploy(&mut tx, &state, description, false).await?;
        if let Some(s) = &mut stage {
            s.deployment_id = Some(d.deployment_id.clone());
            s.last_updated_date = portico_model::http::iso_date(now_epoch_seconds());
            put_stage(&mut tx, api_id, s).await?;
            changed(&mut tx, api_id).await?;
        }
        tx.commit().await?;
        Ok(d)
    }

    /// `GetDeployments`, newest first.
    pub async fn http_deployments(&self, api_id: &str) -> Result<Vec<Deployment>, StoreError> {
        let mut tx = self.pool().begin().await?;
        load(&mut tx, api_id).await?;
        let rows = sqlx::query(
            "SELECT body FROM http_deployments WHERE api_id = ?
             ORDER BY created_at DESC, rowid DESC",
        )
        .bind(api_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| from_json("http deployment", r.get(0)))
            .collect()
    }

    /// `GetDeployment`.
    pub async fn http_deployment(&self, api_id: &str, id: &str) -> Result<Deployment, StoreError> {
        let mut tx = self.pool().begin().await?;
        load(&mut tx, api_id).await?;
        let row = sqlx::query("SELECT body FROM http_deployments WHERE api_id = ? AND id = ?")
            .bind(api_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| invalid_deployment(id))?;
        tx.commit().await?;
        from_json("http deployment", row.get(0))
    }

    /// `UpdateDeployment`: its description.
    pub async fn update_http_deployment(
        &self,
        api_id: &str,
        id: &str,
        description: Option<String>,
    ) -> Result<Deployment, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        load(&mut tx, api_id).await?;
        let row = sqlx::query("SELECT body FROM http_deployments WHERE api_id = ? AND id = ?")
            .bind(api_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| invalid_deployment(id))?;
        let mut d: Deployment = from_json("http deployment", row.get(0))?;
        if description.is_some() {
            d.description = description;
        }
        sqlx::query("UPDATE http_deployments SET body = ? WHERE api_id = ? AND id = ?")
            .bind(to_json("http deployment", &d)?)
            .bind(api_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(d)
    }

    /// `DeleteDeployment`: refused while a stage serves it.
    pub async fn delete_http_deployment(&self, api_id: &str, id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        load(&mut tx, api_id).await?;
        let used: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM http_stages WHERE api_id = ? AND deployment_id = ?",
        )
        .bind(api_id)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if used > 0 {
            return Err(ControlError::bad_request(
                "Active stages pointing to this deployment must be moved or deleted",
            )
            .into());
        }
        let done = sqlx::query("DELETE FROM http_deployments WHERE api_id = ? AND id = ?")
            .bind(api_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(invalid_deployment(id).into());
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every HTTP API stage that serves a deployment, with what it froze.
    pub async fn for_each_serving_http_stage(
        &self,
        mut f: impl FnMut(ServingHttpStage),
    ) -> Result<usize, StoreError> {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query(
            "SELECT s.api_id, s.name, s.body, d.snapshot
             FROM http_stages s JOIN http_deployments d
               ON d.api_id = s.api_id AND d.id = s.deployment_id
             ORDER BY s.api_id, s.name",
        )
        .fetch(self.pool());
        let mut n = 0;
        while let Some(r) = rows.try_next().await? {
            let api_id: String = r.get(0);
            let what = format!("http stage {}/{}", api_id, r.get::<&str, _>(1));
            f(ServingHttpStage {
                stage: from_json(&what, r.get(2))?,
                snapshot: from_json(&what, r.get(3))?,
                api_id,
            });
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_control::http::{CreateIntegrationInput, CreateRouteInput};

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (Store::open(dir.path()).await.unwrap(), dir)
    }

    fn api(target: Option<&str>) -> HttpApiState {
        HttpApiState::create(
            serde_json::from_value(serde_json::json!({
                "name": "h", "protocolType": "HTTP", "target": target
            }))
            .unwrap(),
            "us-east-1",
        )
        .unwrap()
    }

    #[tokio::test]
    async fn quick_create_serves_and_auto_deploys_changes() {
        let (store, _d) = store().await;
        let a = store
            .create_http_api(api(Some("http://127.0.0.1:9/x")), true)
            .await
            .unwrap();
        let mut served = Vec::new();
        store
            .for_each_serving_http_stage(|s| served.push(s))
            .await
            .unwrap();
        assert_eq!(served.len(), 1);
        assert_eq!(served[0].stage.stage_name, "$default");
        assert_eq!(served[0].snapshot.routes.len(), 1);
        let first = served[0].stage.deployment_id.clone();
        // A new route is served by the auto-deployed stage.
        store
            .modify_http_api(&a.api_id, |s| {
                let i = s.integrations[0].integration_id.clone();
                s.create_route(CreateRouteInput {
                    route_key: Some("GET /b".into()),
                    target: Some(format!("integrations/{i}")),
                    ..Default::default()
                })
            })
            .await
            .unwrap();
        let stage = store.http_stage(&a.api_id, "$default").await.unwrap();
        assert_ne!(stage.deployment_id, first);
        assert_eq!(
            stage.last_deployment_status_message,
            Some(deployed_message(stage.deployment_id.as_deref().unwrap()))
        );
        assert_eq!(store.http_deployments(&a.api_id).await.unwrap().len(), 2);
        // A refused command changes nothing.
        let err = store
            .modify_http_api(&a.api_id, |s| {
                s.create_integration(CreateIntegrationInput {
                    integration_type: Some("MOCK".into()),
                    ..Default::default()
                })
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Control(_)));
        assert_eq!(store.http_deployments(&a.api_id).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn manual_deploys_and_refusals() {
        let (store, _d) = store().await;
        let a = store.create_http_api(api(None), false).await.unwrap();
        let err = store
            .create_http_deployment(&a.api_id, None, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no routes exist"), "{err}");
        let err = store
            .create_http_deployment(&a.api_id, None, Some("dev".into()))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("Invalid Stage identifier"),
            "{err}"
        );
        assert!(store.http_api("nope").await.is_err());
        store.delete_http_api(&a.api_id).await.unwrap();
        assert!(store.http_apis().await.unwrap().is_empty());
    }
}
