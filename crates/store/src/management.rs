//! Management commands: each runs one [`portico_control`] command inside a `BEGIN IMMEDIATE`
//! transaction, so concurrent writers serialise and a refused command changes nothing.

use crate::sqlite::{from_json, to_json};
use crate::{Store, StoreError};
use portico_control::{ApiState, ControlError, invalid_api};
use portico_model::{
    Authorizer, CanarySettings, Deployment, GatewayResponse, Map, Model, RequestValidator, RestApi,
    Stage, new_deployment_id, now_epoch_seconds,
};
use sqlx::{Row, Sqlite, Transaction};

/// `CreateDeployment`'s optional stage part.
#[derive(Debug, Clone, Default)]
pub struct DeployToStage {
    /// Stage to create or re-point.
    pub stage_name: String,
    /// Description for a new stage.
    pub stage_description: Option<String>,
    /// Variables merged into the stage.
    pub variables: Map<String>,
    /// `cacheClusterEnabled` for the stage, when the call sets it.
    pub cache_cluster_enabled: Option<bool>,
    /// `cacheClusterSize` for the stage, when the call sets it (checked by the caller).
    pub cache_cluster_size: Option<String>,
    /// `canarySettings`: the deployment becomes the existing stage's canary instead of its
    /// deployment (its `deploymentId` is ignored; `percentTraffic` is checked here).
    pub canary_settings: Option<CanarySettings>,
}

/// AWS's refusal of a canary deployment to a stage that does not exist yet.
fn canary_needs_stage(name: &str) -> ControlError {
    ControlError::bad_request(format!(
        "Invalid deployment content specified.Stage {name} must already be created before making a canary release deployment"
    ))
}

/// AWS's refusal of a canary `deploymentId` that names no deployment of the API.
fn no_canary_deployment() -> ControlError {
    ControlError::bad_request("Deployment id does not exist")
}

/// Whether the API has deployment `id`.
async fn deployment_exists(
    tx: &mut Transaction<'_, Sqlite>,
    api_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM deployments WHERE api_id = ? AND id = ?")
        .bind(api_id)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n > 0)
}

/// Checks a stage's canary: its share of traffic and its deployment.
async fn check_canary(
    tx: &mut Transaction<'_, Sqlite>,
    api_id: &str,
    canary: Option<&CanarySettings>,
) -> Result<(), StoreError> {
    let Some(c) = canary else { return Ok(()) };
    if !portico_control::patch::valid_percent_traffic(c.percent_traffic) {
        return Err(portico_control::patch::invalid_percent_traffic(c.percent_traffic).into());
    }
    if let Some(id) = &c.deployment_id
        && !deployment_exists(tx, api_id, id).await?
    {
        return Err(no_canary_deployment().into());
    }
    Ok(())
}

async fn load_state(
    tx: &mut Transaction<'_, Sqlite>,
    api_id: &str,
) -> Result<ApiState, StoreError> {
    let row = sqlx::query("SELECT body FROM rest_apis WHERE id = ?")
        .bind(api_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| invalid_api(api_id))?;
    let api: RestApi = from_json("rest api", row.get(0))?;
    let rows = sqlx::query("SELECT body FROM resources WHERE api_id = ? ORDER BY path")
        .bind(api_id)
        .fetch_all(&mut **tx)
        .await?;
    let resources = rows
        .iter()
        .map(|r| from_json("resource", r.get(0)))
        .collect::<Result<_, _>>()?;
    let objects = load_objects(tx, api_id).await?;
    Ok(ApiState {
        api,
        resources,
        gateway_responses: objects.gateway_responses,
        models: objects.models,
        request_validators: objects.request_validators,
        authorizers: objects.authorizers,
        documentation_parts: objects.documentation_parts,
        documentation_versions: objects.documentation_versions,
    })
}

/// An API's objects other than resources.
#[derive(Debug, Default)]
pub(crate) struct Objects {
    pub(crate) gateway_responses: Map<GatewayResponse>,
    pub(crate) models: Vec<Model>,
    pub(crate) request_validators: Vec<RequestValidator>,
    pub(crate) authorizers: Vec<Authorizer>,
    pub(crate) documentation_parts: Vec<portico_model::DocumentationPart>,
    pub(crate) documentation_versions: Vec<(
        portico_model::DocumentationVersion,
        Vec<portico_model::DocumentationPart>,
    )>,
}

/// Loads every API-level object of an API.
pub(crate) async fn load_objects(
    tx: &mut Transaction<'_, Sqlite>,
    api_id: &str,
) -> Result<Objects, StoreError> {
    let rows = sqlx::query(
        "SELECT kind, key, body FROM api_objects WHERE api_id = ? ORDER BY kind, rowid",
    )
    .bind(api_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Objects::default();
    for r in &rows {
        let kind: String = r.get(0);
        let body: &str = r.get(2);
        match kind.as_str() {
            "gatewayresponse" => {
                out.gateway_responses
                    .insert(r.get(1), from_json("gateway response", body)?);
            }
            "model" => out.models.push(from_json("model", body)?),
            "validator" => out
                .request_validators
                .push(from_json("request validator", body)?),
            "authorizer" => out.authorizers.push(from_json("authorizer", body)?),
            "docpart" => out
                .documentation_parts
                .push(from_json("documentation part", body)?),
            "docversion" => out
                .documentation_versions
                .push(from_json("documentation version", body)?),
            other => tracing::warn!(kind = other, "unknown api object kind in the store"),
        }
    }
    Ok(out)
}

async fn save_state(tx: &mut Transaction<'_, Sqlite>, state: &ApiState) -> Result<(), StoreError> {
    let now = now_epoch_seconds();
    sqlx::query(
        "INSERT INTO rest_apis (id, name, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, body = excluded.body,
         updated_at = excluded.updated_at",
    )
    .bind(&state.api.id)
    .bind(&state.api.name)
    .bind(to_json("rest api", &state.api)?)
    .bind(state.api.created_date)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM resources WHERE api_id = ?")
        .bind(&state.api.id)
        .execute(&mut **tx)
        .await?;
    for r in &state.resources {
        sqlx::query("INSERT INTO resources (api_id, id, path, body) VALUES (?, ?, ?, ?)")
            .bind(&state.api.id)
            .bind(&r.id)
            .bind(&r.path)
            .bind(to_json("resource", r)?)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("DELETE FROM api_objects WHERE api_id = ?")
        .bind(&state.api.id)
        .execute(&mut **tx)
        .await?;
    let mut rows: Vec<(&str, String, String)> = Vec::new();
    for (key, r) in &state.gateway_responses {
        rows.push((
            "gatewayresponse",
            key.clone(),
            to_json("gateway response", r)?,
        ));
    }
    for m in &state.models {
        rows.push(("model", m.name.clone(), to_json("model", m)?));
    }
    for v in &state.request_validators {
        rows.push(("validator", v.id.clone(), to_json("request validator", v)?));
    }
    for a in &state.authorizers {
        rows.push(("authorizer", a.id.clone(), to_json("authorizer", a)?));
    }
    for p in &state.documentation_parts {
        rows.push(("docpart", p.id.clone(), to_json("documentation part", p)?));
    }
    for v in &state.documentation_versions {
        rows.push((
            "docversion",
            v.0.version.clone(),
            to_json("documentation version", v)?,
        ));
    }
    for (kind, key, body) in rows {
        sqlx::query("INSERT INTO api_objects (api_id, kind, key, body) VALUES (?, ?, ?, ?)")
            .bind(&state.api.id)
            .bind(kind)
            .bind(key)
            .bind(body)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn record_change(
    tx: &mut Transaction<'_, Sqlite>,
    api_id: &str,
    kind: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO changes (api_id, kind, at) VALUES (?, ?, ?)")
        .bind(api_id)
        .bind(kind)
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
    let row = sqlx::query("SELECT body FROM stages WHERE api_id = ? AND name = ?")
        .bind(api_id)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| from_json("stage", r.get(0))).transpose()
}

async fn put_stage(
    tx: &mut Transaction<'_, Sqlite>,
    api_id: &str,
    stage: &Stage,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO stages (api_id, name, deployment_id, body) VALUES (?, ?, ?, ?)
         ON CONFLICT(api_id, name) DO UPDATE SET deployment_id = excluded.deployment_id,
         body = excluded.body",
    )
    .bind(api_id)
    .bind(&stage.stage_name)
    .bind(&stage.deployment_id)
    .bind(to_json("stage", stage)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn invalid_stage_name(name: &str) -> ControlError {
    ControlError::bad_request(format!(
        "Stage name only allows a-zA-Z0-9_ and must be 1-128 characters: {name}"
    ))
}

impl Store {
    /// `CreateRestApi`.
    pub async fn create_rest_api(&self, state: ApiState) -> Result<RestApi, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        save_state(&mut tx, &state).await?;
        tx.commit().await?;
        Ok(state.api)
    }

    /// `GetRestApi`.
    pub async fn get_rest_api(&self, api_id: &str) -> Result<RestApi, StoreError> {
        let row = sqlx::query("SELECT body FROM rest_apis WHERE id = ?")
            .bind(api_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| invalid_api(api_id))?;
        from_json("rest api", row.get(0))
    }

    /// An API with its resources.
    pub async fn api_state(&self, api_id: &str) -> Result<ApiState, StoreError> {
        let mut tx = self.pool().begin().await?;
        let state = load_state(&mut tx, api_id).await?;
        tx.commit().await?;
        Ok(state)
    }

    /// Runs a command against an API's state and saves the result, atomically.
    pub async fn modify_api<T>(
        &self,
        api_id: &str,
        command: impl FnOnce(&mut ApiState) -> Result<T, ControlError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let mut state = load_state(&mut tx, api_id).await?;
        let out = command(&mut state)?;
        save_state(&mut tx, &state).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// `DeleteRestApi`: the API, its deployments and stages.
    pub async fn delete_rest_api(&self, api_id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        for table in ["stages", "deployments", "resources", "api_objects"] {
            let sql = match table {
                "stages" => "DELETE FROM stages WHERE api_id = ?",
                "deployments" => "DELETE FROM deployments WHERE api_id = ?",
                "api_objects" => "DELETE FROM api_objects WHERE api_id = ?",
                _ => "DELETE FROM resources WHERE api_id = ?",
            };
            sqlx::query(sql).bind(api_id).execute(&mut *tx).await?;
        }
        let done = sqlx::query("DELETE FROM rest_apis WHERE id = ?")
            .bind(api_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(invalid_api(api_id).into());
        }
        record_change(&mut tx, api_id, "delete-api").await?;
        tx.commit().await?;
        Ok(())
    }

    /// `CreateDeployment`, optionally creating or re-pointing a stage.
    pub async fn create_deployment(
        &self,
        api_id: &str,
        description: Option<String>,
        stage: Option<DeployToStage>,
    ) -> Result<Deployment, StoreError> {
        if let Some(s) = &stage
            && !Stage::is_valid_name(&s.stage_name)
        {
            return Err(invalid_stage_name(&s.stage_name).into());
        }
        if let Some(c) = stage.as_ref().and_then(|s| s.canary_settings.as_ref())
            && !portico_control::patch::valid_percent_traffic(c.percent_traffic)
        {
            return Err(portico_control::patch::invalid_percent_traffic(c.percent_traffic).into());
        }
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let state = load_state(&mut tx, api_id).await?;
        if let Some(s) = &stage
            && s.canary_settings.is_some()
            && stage_row(&mut tx, api_id, &s.stage_name).await?.is_none()
        {
            return Err(canary_needs_stage(&s.stage_name).into());
        }
        let snapshot = state.deployable_snapshot()?;
        let now = now_epoch_seconds();
        let deployment = Deployment {
            id: new_deployment_id(),
            description,
            created_date: now,
            api_summary: snapshot.api_summary(),
        };
        sqlx::query(
            "INSERT INTO deployments (api_id, id, body, snapshot, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(api_id)
        .bind(&deployment.id)
        .bind(to_json("deployment", &deployment)?)
        .bind(to_json("deployment snapshot", &snapshot)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(s) = stage {
            let mut st = match stage_row(&mut tx, api_id, &s.stage_name).await? {
                Some(mut old) => {
                    match s.canary_settings {
                        // A canary release: the stage keeps serving its deployment.
                        Some(mut canary) => {
                            canary.deployment_id = Some(deployment.id.clone());
                            old.canary_settings = Some(canary);
                        }
                        None => old.deployment_id = deployment.id.clone(),
                    }
                    old.last_updated_date = now;
                    old
                }
                None => {
                    let mut st = Stage::new(s.stage_name.clone(), deployment.id.clone());
                    st.description = s.stage_description;
                    st
                }
            };
            st.variables.extend(s.variables);
            if let Some(enabled) = s.cache_cluster_enabled {
                st.cache_cluster_enabled = enabled;
            }
            if let Some(size) = s.cache_cluster_size {
                st.cache_cluster_size = Some(size);
            }
            st.settle_cache_status();
            put_stage(&mut tx, api_id, &st).await?;
            record_change(&mut tx, api_id, "deploy").await?;
        }
        tx.commit().await?;
        Ok(deployment)
    }

    /// `GetDeployments`, newest first.
    pub async fn deployments(&self, api_id: &str) -> Result<Vec<Deployment>, StoreError> {
        self.get_rest_api(api_id).await?;
        let rows = sqlx::query(
            "SELECT body FROM deployments WHERE api_id = ? ORDER BY created_at DESC, rowid DESC",
        )
        .bind(api_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| from_json("deployment", r.get(0)))
            .collect()
    }

    /// `GetDeployment`.
    pub async fn deployment(&self, api_id: &str, id: &str) -> Result<Deployment, StoreError> {
        self.get_rest_api(api_id).await?;
        let row = sqlx::query("SELECT body FROM deployments WHERE api_id = ? AND id = ?")
            .bind(api_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| ControlError::not_found("Invalid Deployment identifier specified"))?;
        from_json("deployment", row.get(0))
    }

    /// `DeleteDeployment`: refused while a stage points at it.
    pub async fn delete_deployment(&self, api_id: &str, id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        load_state(&mut tx, api_id).await?;
        let used: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM stages WHERE api_id = ? AND (deployment_id = ?
               OR json_extract(body, '$.canarySettings.deploymentId') = ?)",
        )
        .bind(api_id)
        .bind(id)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if used > 0 {
            return Err(ControlError::bad_request(
                "Active stages pointing to this deployment must be moved or deleted",
            )
            .into());
        }
        let done = sqlx::query("DELETE FROM deployments WHERE api_id = ? AND id = ?")
            .bind(api_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(ControlError::not_found("Invalid Deployment identifier specified").into());
        }
        tx.commit().await?;
        Ok(())
    }

    /// `CreateStage`.
    pub async fn create_stage(&self, api_id: &str, stage: Stage) -> Result<Stage, StoreError> {
        if !Stage::is_valid_name(&stage.stage_name) {
            return Err(invalid_stage_name(&stage.stage_name).into());
        }
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        load_state(&mut tx, api_id).await?;
        let exists: i64 =
            sqlx::query_scalar("SELECT count(*) FROM deployments WHERE api_id = ? AND id = ?")
                .bind(api_id)
                .bind(&stage.deployment_id)
                .fetch_one(&mut *tx)
                .await?;
        if exists == 0 {
            return Err(ControlError::not_found("Invalid Deployment identifier specified").into());
        }
        check_canary(&mut tx, api_id, stage.canary_settings.as_ref()).await?;
        if stage_row(&mut tx, api_id, &stage.stage_name)
            .await?
            .is_some()
        {
            return Err(ControlError::conflict("Stage already exists").into());
        }
        put_stage(&mut tx, api_id, &stage).await?;
        record_change(&mut tx, api_id, "stage").await?;
        tx.commit().await?;
        Ok(stage)
    }

    /// `GetStages`.
    pub async fn stages(&self, api_id: &str) -> Result<Vec<Stage>, StoreError> {
        self.get_rest_api(api_id).await?;
        let rows = sqlx::query("SELECT body FROM stages WHERE api_id = ? ORDER BY name")
            .bind(api_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| from_json("stage", r.get(0))).collect()
    }

    /// `GetStage`.
    pub async fn stage(&self, api_id: &str, name: &str) -> Result<Stage, StoreError> {
        self.get_rest_api(api_id).await?;
        let mut tx = self.pool().begin().await?;
        let s = stage_row(&mut tx, api_id, name)
            .await?
            .ok_or_else(|| ControlError::not_found("Invalid stage identifier specified"))?;
        tx.commit().await?;
        Ok(s)
    }

    /// `UpdateStage`: applies patch operations; a new `deploymentId` must exist.
    pub async fn update_stage(
        &self,
        api_id: &str,
        name: &str,
        ops: &[portico_control::patch::PatchOperation],
    ) -> Result<Stage, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        load_state(&mut tx, api_id).await?;
        let mut stage = stage_row(&mut tx, api_id, name)
            .await?
            .ok_or_else(|| ControlError::not_found("Invalid stage identifier specified"))?;
        let before = stage.deployment_id.clone();
        let canary_before = stage
            .canary_settings
            .as_ref()
            .and_then(|c| c.deployment_id.clone());
        portico_control::patch::patch_stage(&mut stage, ops)?;
        if let Some(c) = &stage.canary_settings
            && c.deployment_id != canary_before
            && let Some(id) = &c.deployment_id
            && !deployment_exists(&mut tx, api_id, id).await?
        {
            return Err(no_canary_deployment().into());
        }
        if stage.deployment_id != before {
            let exists: i64 =
                sqlx::query_scalar("SELECT count(*) FROM deployments WHERE api_id = ? AND id = ?")
                    .bind(api_id)
                    .bind(&stage.deployment_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if exists == 0 {
                return Err(
                    ControlError::not_found("Invalid Deployment identifier specified").into(),
                );
            }
        }
        stage.last_updated_date = now_epoch_seconds();
        put_stage(&mut tx, api_id, &stage).await?;
        record_change(&mut tx, api_id, "stage").await?;
        tx.commit().await?;
        Ok(stage)
    }

    /// `UpdateDeployment`: only `/description` can change.
    pub async fn update_deployment(
        &self,
        api_id: &str,
        id: &str,
        ops: &[portico_control::patch::PatchOperation],
    ) -> Result<Deployment, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        load_state(&mut tx, api_id).await?;
        let row = sqlx::query("SELECT body FROM deployments WHERE api_id = ? AND id = ?")
            .bind(api_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| ControlError::not_found("Invalid Deployment identifier specified"))?;
        let mut d: Deployment = from_json("deployment", row.get(0))?;
        for o in ops {
            match (o.op.as_str(), o.path.as_str()) {
                ("replace", "/description") => d.description = o.value.clone(),
                ("add" | "remove" | "replace", _) => {
                    return Err(portico_control::patch::invalid_path(o, &["/description"]).into());
                }
                _ => {
                    return Err(portico_control::patch::invalid_op().into());
                }
            }
        }
        sqlx::query("UPDATE deployments SET body = ? WHERE api_id = ? AND id = ?")
            .bind(to_json("deployment", &d)?)
            .bind(api_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(d)
    }

    /// Changes a stage's tags.
    pub async fn modify_stage_tags(
        &self,
        api_id: &str,
        name: &str,
        f: impl FnOnce(&mut Map<String>),
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        load_state(&mut tx, api_id).await?;
        let mut stage = stage_row(&mut tx, api_id, name)
            .await?
            .ok_or_else(|| ControlError::not_found("Invalid stage identifier specified"))?;
        f(&mut stage.tags);
        put_stage(&mut tx, api_id, &stage).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The snapshot a stage serves (for `GetExport`).
    pub async fn stage_snapshot(
        &self,
        api_id: &str,
        name: &str,
    ) -> Result<portico_model::DeploymentSnapshot, StoreError> {
        let stage = self.stage(api_id, name).await?;
        let row = sqlx::query("SELECT snapshot FROM deployments WHERE api_id = ? AND id = ?")
            .bind(api_id)
            .bind(&stage.deployment_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| ControlError::not_found("Invalid Deployment identifier specified"))?;
        from_json("deployment snapshot", row.get(0))
    }

    /// `DeleteStage`.
    pub async fn delete_stage(&self, api_id: &str, name: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        load_state(&mut tx, api_id).await?;
        let done = sqlx::query("DELETE FROM stages WHERE api_id = ? AND name = ?")
            .bind(api_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(ControlError::not_found("Invalid stage identifier specified").into());
        }
        record_change(&mut tx, api_id, "delete-stage").await?;
        tx.commit().await?;
        Ok(())
    }
}
