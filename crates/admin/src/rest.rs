//! The `apigateway` (REST API, v1) management operations, on botocore's paths and status codes.

use crate::AdminState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use bytes::Bytes;
use portico_control::patch::{PatchBody, PatchOperation};
use portico_control::{
    ApiState, CreateAuthorizerInput, CreateModelInput, CreateRequestValidatorInput,
    PutGatewayResponseInput, PutIntegrationInput, PutIntegrationResponseInput, PutMethodInput,
    PutMethodResponseInput,
};
use portico_model::{ApiKeySource, EndpointConfiguration, Map, Resource, RestApi, Stage};
use portico_store::DeployToStage;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::HashMap;

type Result<T> = std::result::Result<T, ApiError>;

/// The v1 routes.
pub fn routes() -> axum::Router<AdminState> {
    axum::Router::new()
        .route("/restapis", get(list_rest_apis).post(create_rest_api))
        .route(
            "/restapis/{api}",
            get(get_rest_api)
                .delete(delete_rest_api)
                .patch(update_rest_api)
                .put(put_rest_api),
        )
        .route("/restapis/{api}/resources", get(list_resources))
        .route(
            "/restapis/{api}/resources/{res}",
            get(get_resource)
                .post(create_resource)
                .delete(delete_resource)
                .patch(update_resource),
        )
        .route(
            "/restapis/{api}/resources/{res}/methods/{verb}",
            put(put_method)
                .get(get_method)
                .delete(delete_method)
                .patch(update_method)
                .post(test_invoke_method),
        )
        .route(
            "/restapis/{api}/resources/{res}/methods/{verb}/responses/{code}",
            put(put_method_response)
                .get(get_method_response)
                .delete(delete_method_response)
                .patch(update_method_response),
        )
        .route(
            "/restapis/{api}/resources/{res}/methods/{verb}/integration",
            put(put_integration)
                .get(get_integration)
                .delete(delete_integration)
                .patch(update_integration),
        )
        .route(
            "/restapis/{api}/resources/{res}/methods/{verb}/integration/responses/{code}",
            put(put_integration_response)
                .get(get_integration_response)
                .delete(delete_integration_response)
                .patch(update_integration_response),
        )
        .route(
            "/restapis/{api}/deployments",
            get(list_deployments).post(create_deployment),
        )
        .route(
            "/restapis/{api}/deployments/{dep}",
            get(get_deployment)
                .delete(delete_deployment)
                .patch(update_deployment),
        )
        .route(
            "/restapis/{api}/gatewayresponses",
            get(list_gateway_responses),
        )
        .route(
            "/restapis/{api}/gatewayresponses/{kind}",
            get(get_gateway_response)
                .put(put_gateway_response)
                .patch(update_gateway_response)
                .delete(delete_gateway_response),
        )
        .route(
            "/restapis/{api}/stages",
            get(list_stages).post(create_stage),
        )
        .route(
            "/restapis/{api}/stages/{stage}",
            get(get_stage).delete(delete_stage).patch(update_stage),
        )
}

/// Models, request validators and authorizers; documentation; exports.
pub fn object_routes() -> axum::Router<AdminState> {
    axum::Router::new()
        .route(
            "/restapis/{api}/models/{name}/default_template",
            get(get_model_template),
        )
        .route(
            "/restapis/{api}/documentation/parts",
            get(list_doc_parts)
                .post(create_doc_part)
                .put(import_doc_parts),
        )
        .route(
            "/restapis/{api}/documentation/parts/{id}",
            get(get_doc_part)
                .patch(update_doc_part)
                .delete(delete_doc_part),
        )
        .route(
            "/restapis/{api}/documentation/versions",
            get(list_doc_versions).post(create_doc_version),
        )
        .route(
            "/restapis/{api}/documentation/versions/{version}",
            get(get_doc_version)
                .patch(update_doc_version)
                .delete(delete_doc_version),
        )
        .route(
            "/restapis/{api}/stages/{stage}/exports/{kind}",
            get(get_export),
        )
        .route(
            "/restapis/{api}/models",
            get(list_models).post(create_model),
        )
        .route(
            "/restapis/{api}/models/{name}",
            get(get_model).patch(update_model).delete(delete_model),
        )
        .route(
            "/restapis/{api}/requestvalidators",
            get(list_validators).post(create_validator),
        )
        .route(
            "/restapis/{api}/requestvalidators/{id}",
            get(get_validator)
                .patch(update_validator)
                .delete(delete_validator),
        )
        .route(
            "/restapis/{api}/authorizers",
            get(list_authorizers).post(create_authorizer),
        )
        .route(
            "/restapis/{api}/authorizers/{id}",
            get(get_authorizer)
                .post(test_invoke_authorizer)
                .patch(update_authorizer)
                .delete(delete_authorizer),
        )
}

/// Parses a JSON body; an empty body is `{}`.
pub(crate) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(text)
        .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))
}

/// The answer AWS gives instead of the unknown-API 404 for a few operations (also for reads).
fn unknown_api_as<T>(
    r: std::result::Result<T, portico_store::StoreError>,
    api: &str,
    answer: impl FnOnce() -> portico_control::ControlError,
) -> Result<T> {
    match r {
        Err(portico_store::StoreError::Control(c)) if c == portico_control::invalid_api(api) => {
            Err(answer().into())
        }
        other => other.map_err(Into::into),
    }
}

pub(crate) fn created(v: impl serde::Serialize) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

pub(crate) fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The `position` and `limit` (default 25, 1 to 500) of a paged listing.
pub(crate) fn page_params(q: &HashMap<String, String>) -> Result<(usize, usize)> {
    let start: usize = match q.get("position") {
        Some(p) => p
            .parse()
            .map_err(|_| ApiError::bad_request("Invalid position parameter"))?,
        None => 0,
    };
    let limit: usize = match q.get("limit") {
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    "Invalid limit parameter: must be between 1 and 500",
                ));
            }
        },
        None => 25,
    };
    Ok((start, limit))
}

/// One page's answer: `{"item": [...], "position": "…"}` (no position on the last page).
pub(crate) fn page_answer<T: serde::Serialize>(items: &[T], next: Option<usize>) -> Value {
    let mut out = json!({ "item": items });
    if let Some(n) = next {
        out["position"] = Value::String(n.to_string());
    }
    out
}

/// `position`/`limit` paging over an ordered list: `{"item": [...], "position": "…"}`.
pub(crate) fn page<T: serde::Serialize>(
    items: Vec<T>,
    q: &HashMap<String, String>,
) -> Result<Response> {
    let (start, limit) = page_params(q)?;
    let total = items.len();
    let slice: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + limit < total).then_some(start + limit);
    Ok(Json(page_answer(&slice, next)).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRestApiInput {
    name: Option<String>,
    description: Option<String>,
    version: Option<String>,
    binary_media_types: Option<Vec<String>>,
    minimum_compression_size: Option<i64>,
    api_key_source: Option<ApiKeySource>,
    endpoint_configuration: Option<EndpointConfiguration>,
    policy: Option<String>,
    tags: Option<Map<String>>,
    disable_execute_api_endpoint: Option<bool>,
}

/// Parses an OpenAPI body the way `ImportRestApi`/`PutRestApi` do; `failonwarnings=true` turns
/// warnings into a 400.
fn definition(
    raw: &Bytes,
    q: &HashMap<String, String>,
) -> Result<(RestApi, Vec<Resource>, Vec<portico_model::Authorizer>)> {
    let imported = portico_openapi::parse_document(raw)
        .and_then(|doc| portico_openapi::import(&doc))
        .map_err(|e| {
            let lines: Vec<String> = e.errors.iter().map(|d| format!("\t{d}")).collect();
            ApiError::bad_request(format!("Errors found during import:\n{}", lines.join("\n")))
        })?;
    let warnings: Vec<String> = imported.warnings.iter().map(|w| w.to_string()).collect();
    if !warnings.is_empty() && q.get("failonwarnings").is_some_and(|v| v == "true") {
        return Err(ApiError::bad_request(format!(
            "Warnings found during import:\n\t{}",
            warnings.join("\n\t")
        )));
    }
    Ok(imported.into_rest_api())
}

/// `ImportRestApi` (`POST /restapis?mode=import`).
async fn import_rest_api(
    s: &AdminState,
    raw: &Bytes,
    q: &HashMap<String, String>,
) -> Result<Response> {
    let (api, resources, authorizers) = definition(raw, q)?;
    let state = ApiState::from_definition(api, resources, authorizers);
    Ok(created(s.store.create_rest_api(state).await?))
}

/// `PutRestApi` (`PUT /restapis/{id}?mode=overwrite|merge`, default merge).
async fn put_rest_api(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    raw: Bytes,
) -> Result<Response> {
    let mode = q.get("mode").map(String::as_str).unwrap_or("merge");
    if !matches!(mode, "merge" | "overwrite") {
        return Err(ApiError::bad_request(format!(
            "Invalid mode specified: {mode}. Valid options are merge,overwrite"
        )));
    }
    let (definition_api, resources, authorizers) = definition(&raw, &q)?;
    let out = s
        .store
        .modify_api(&api, |st| {
            if mode == "overwrite" {
                st.overwrite_definition(definition_api, resources, authorizers);
            } else {
                st.merge_definition(resources, authorizers)?;
                st.api.warnings = definition_api.warnings;
            }
            Ok(st.api.clone())
        })
        .await?;
    Ok(Json(out).into_response())
}

async fn create_rest_api(
    State(s): State<AdminState>,
    Query(q): Query<HashMap<String, String>>,
    raw: Bytes,
) -> Result<Response> {
    if q.get("mode").is_some_and(|m| m == "import") {
        return import_rest_api(&s, &raw, &q).await;
    }
    let input: CreateRestApiInput = body(&raw)?;
    let name = input.name.filter(|n| !n.trim().is_empty()).ok_or_else(|| {
        ApiError::bad_request("Invalid REST API name specified: name must be non-empty")
    })?;
    let mut api = RestApi::new(name, "");
    api.description = input.description;
    api.version = input.version;
    api.binary_media_types = input.binary_media_types.unwrap_or_default();
    api.minimum_compression_size = input.minimum_compression_size;
    if let Some(src) = input.api_key_source {
        api.api_key_source = src;
    }
    if let Some(ec) = input.endpoint_configuration {
        api.endpoint_configuration = ec;
    }
    api.policy = input.policy;
    api.tags = input.tags.unwrap_or_default();
    api.disable_execute_api_endpoint = input.disable_execute_api_endpoint.unwrap_or(false);
    portico_control::validate_new_rest_api(&mut api)?;
    let api = s.store.create_rest_api(ApiState::new(api)).await?;
    Ok(created(api))
}

async fn list_rest_apis(
    State(s): State<AdminState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    page(s.store.list_rest_apis().await?, &q)
}

async fn get_rest_api(State(s): State<AdminState>, Path(api): Path<String>) -> Result<Response> {
    Ok(Json(s.store.get_rest_api(&api).await?).into_response())
}

async fn delete_rest_api(State(s): State<AdminState>, Path(api): Path<String>) -> Result<Response> {
    s.store.delete_rest_api(&api).await?;
    Ok(accepted())
}

/// A resource as GetResource(s) returns it: full methods with `embed=methods`, otherwise the
/// method names only.
fn resource_view(r: &Resource, embed: bool) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    if !embed && let Some(methods) = v.get_mut("resourceMethods").and_then(Value::as_object_mut) {
        for m in methods.values_mut() {
            *m = json!({});
        }
    }
    v
}

fn wants_methods(q: &HashMap<String, String>) -> bool {
    q.get("embed")
        .is_some_and(|e| e.split(',').any(|x| x == "methods"))
}

async fn list_resources(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let state = s.store.api_state(&api).await?;
    let embed = wants_methods(&q);
    let items: Vec<Value> = state
        .resources
        .iter()
        .map(|r| resource_view(r, embed))
        .collect();
    page(items, &q)
}

async fn get_resource(
    State(s): State<AdminState>,
    Path((api, res)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let state = s.store.api_state(&api).await?;
    let r = state.resource(&res)?;
    Ok(Json(resource_view(r, wants_methods(&q))).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateResourceInput {
    path_part: Option<String>,
}

async fn create_resource(
    State(s): State<AdminState>,
    Path((api, parent)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let input: CreateResourceInput = body(&raw)?;
    let part = input.path_part.unwrap_or_default();
    let r = s
        .store
        .modify_api(&api, |st| st.create_resource(&parent, &part))
        .await?;
    Ok(created(r))
}

async fn delete_resource(
    State(s): State<AdminState>,
    Path((api, res)): Path<(String, String)>,
) -> Result<Response> {
    s.store
        .modify_api(&api, |st| st.delete_resource(&res))
        .await?;
    Ok(accepted())
}

async fn put_method(
    State(s): State<AdminState>,
    Path((api, res, verb)): Path<(String, String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let input: PutMethodInput = body(&raw)?;
    let m = s
        .store
        .modify_api(&api, |st| st.put_method(&res, &verb, input))
        .await?;
    Ok(created(m))
}

async fn get_method(
    State(s): State<AdminState>,
    Path((api, res, verb)): Path<(String, String, String)>,
) -> Result<Response> {
    let state = s.store.api_state(&api).await?;
    Ok(Json(state.method(&res, &verb)?).into_response())
}

async fn delete_method(
    State(s): State<AdminState>,
    Path((api, res, verb)): Path<(String, String, String)>,
) -> Result<Response> {
    s.store
        .modify_api(&api, |st| st.delete_method(&res, &verb))
        .await?;
    Ok(no_content())
}

async fn put_method_response(
    State(s): State<AdminState>,
    Path((api, res, verb, code)): Path<(String, String, String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let input: PutMethodResponseInput = body(&raw)?;
    let r = s
        .store
        .modify_api(&api, |st| st.put_method_response(&res, &verb, &code, input))
        .await?;
    Ok(created(r))
}

async fn get_method_response(
    State(s): State<AdminState>,
    Path((api, res, verb, code)): Path<(String, String, String, String)>,
) -> Result<Response> {
    let state = s.store.api_state(&api).await?;
    Ok(Json(state.method_response(&res, &verb, &code)?).into_response())
}

async fn delete_method_response(
    State(s): State<AdminState>,
    Path((api, res, verb, code)): Path<(String, String, String, String)>,
) -> Result<Response> {
    s.store
        .modify_api(&api, |st| st.delete_method_response(&res, &verb, &code))
        .await?;
    Ok(no_content())
}

async fn put_integration(
    State(s): State<AdminState>,
    Path((api, res, verb)): Path<(String, String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let input: PutIntegrationInput = body(&raw)?;
    let i = s
        .store
        .modify_api(&api, |st| st.put_integration(&res, &verb, input))
        .await?;
    Ok(created(i))
}

async fn get_integration(
    State(s): State<AdminState>,
    Path((api, res, verb)): Path<(String, String, String)>,
) -> Result<Response> {
    let state = s.store.api_state(&api).await?;
    Ok(Json(state.integration(&res, &verb)?).into_response())
}

async fn delete_integration(
    State(s): State<AdminState>,
    Path((api, res, verb)): Path<(String, String, String)>,
) -> Result<Response> {
    s.store
        .modify_api(&api, |st| st.delete_integration(&res, &verb))
        .await?;
    Ok(no_content())
}

async fn put_integration_response(
    State(s): State<AdminState>,
    Path((api, res, verb, code)): Path<(String, String, String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let input: PutIntegrationResponseInput = body(&raw)?;
    let r = s
        .store
        .modify_api(&api, |st| {
            st.put_integration_response(&res, &verb, &code, input)
        })
        .await?;
    Ok(created(r))
}

async fn get_integration_response(
    State(s): State<AdminState>,
    Path((api, res, verb, code)): Path<(String, String, String, String)>,
) -> Result<Response> {
    let state = s.store.api_state(&api).await?;
    Ok(Json(state.integration_response(&res, &verb, &code)?).into_response())
}

async fn delete_integration_response(
    State(s): State<AdminState>,
    Path((api, res, verb, code)): Path<(String, String, String, String)>,
) -> Result<Response> {
    s.store
        .modify_api(&api, |st| {
            st.delete_integration_response(&res, &verb, &code)
        })
        .await?;
    Ok(no_content())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateDeploymentInput {
    stage_name: Option<String>,
    stage_description: Option<String>,
    description: Option<String>,
    variables: Option<Map<String>>,
    cache_cluster_enabled: Option<bool>,
    cache_cluster_size: Option<String>,
    canary_settings: Option<portico_model::CanarySettings>,
}

/// AWS's refusal of a canary deployment without a stage (`None`: no `stageName` at all; note
/// AWS's missing space after the first sentence).
fn canary_needs_stage_name(name: Option<&str>) -> portico_control::ControlError {
    portico_control::ControlError::bad_request(format!(
        "Invalid deployment content specified.Non null and non empty stageName must be provided for canary deployment. Provided value is {}",
        name.unwrap_or("null")
    ))
}

/// AWS's refusal of a `cacheClusterSize` that is not one of its sizes.
fn check_cache_size(size: &Option<String>) -> Result<()> {
    match size {
        Some(v) if !portico_model::CACHE_CLUSTER_SIZES.contains(&v.as_str()) => {
            Err(portico_control::ControlError::bad_request(format!(
                "Invalid cache cluster size specified: {v}"
            ))
            .into())
        }
        _ => Ok(()),
    }
}

async fn create_deployment(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let input: CreateDeploymentInput = body(&raw)?;
    check_cache_size(&input.cache_cluster_size)?;
    if input.canary_settings.is_some() && input.stage_name.as_deref().is_none_or(str::is_empty) {
        return Err(canary_needs_stage_name(input.stage_name.as_deref()).into());
    }
    let stage = input
        .stage_name
        .filter(|n| !n.is_empty())
        .map(|stage_name| DeployToStage {
            stage_name,
            stage_description: input.stage_description,
            variables: input.variables.unwrap_or_default(),
            cache_cluster_enabled: input.cache_cluster_enabled,
            cache_cluster_size: input.cache_cluster_size,
            canary_settings: input.canary_settings,
        });
    let d = s
        .store
        .create_deployment(&api, input.description, stage)
        .await?;
    Ok(created(d.without_summary()))
}

async fn list_deployments(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let items: Vec<_> = s
        .store
        .deployments(&api)
        .await?
        .iter()
        .map(|d| d.without_summary())
        .collect();
    page(items, &q)
}

/// `GetDeployment`; `apiSummary` only with `embed=apisummary`.
async fn get_deployment(
    State(s): State<AdminState>,
    Path((api, dep)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let d = s.store.deployment(&api, &dep).await?;
    let embed = q
        .get("embed")
        .is_some_and(|e| e.split(',').any(|x| x == "apisummary"));
    Ok(Json(if embed { d } else { d.without_summary() }).into_response())
}

async fn delete_deployment(
    State(s): State<AdminState>,
    Path((api, dep)): Path<(String, String)>,
) -> Result<Response> {
    s.store.delete_deployment(&api, &dep).await?;
    Ok(accepted())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateStageInput {
    stage_name: Option<String>,
    deployment_id: Option<String>,
    description: Option<String>,
    variables: Option<Map<String>>,
    tracing_enabled: Option<bool>,
    tags: Option<Map<String>>,
    cache_cluster_enabled: Option<bool>,
    cache_cluster_size: Option<String>,
    canary_settings: Option<portico_model::CanarySettings>,
}

async fn create_stage(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let input: CreateStageInput = body(&raw)?;
    let name = input.stage_name.unwrap_or_default();
    let deployment = input.deployment_id.unwrap_or_default();
    let mut stage = Stage::new(name, deployment);
    stage.description = input.description;
    stage.variables = input.variables.unwrap_or_default();
    stage.tracing_enabled = input.tracing_enabled.unwrap_or(false);
    stage.tags = input.tags.unwrap_or_default();
    check_cache_size(&input.cache_cluster_size)?;
    if let Some(size) = input.cache_cluster_size {
        stage.cache_cluster_size = Some(size);
    }
    stage.cache_cluster_enabled = input.cache_cluster_enabled.unwrap_or(false);
    stage.settle_cache_status();
    // A canary without a deployment starts on the stage's own (checked by the store).
    stage.canary_settings = input.canary_settings.map(|mut c| {
        c.deployment_id
            .get_or_insert_with(|| stage.deployment_id.clone());
        c
    });
    Ok(created(s.store.create_stage(&api, stage).await?))
}

async fn list_stages(State(s): State<AdminState>, Path(api): Path<String>) -> Result<Response> {
    Ok(Json(json!({ "item": s.store.stages(&api).await? })).into_response())
}

async fn get_stage(
    State(s): State<AdminState>,
    Path((api, stage)): Path<(String, String)>,
) -> Result<Response> {
    Ok(Json(s.store.stage(&api, &stage).await?).into_response())
}

async fn delete_stage(
    State(s): State<AdminState>,
    Path((api, stage)): Path<(String, String)>,
) -> Result<Response> {
    s.store.delete_stage(&api, &stage).await?;
    Ok(accepted())
}

/// The `patchOperations` of an `Update*` call; `input` names the operation's input shape
/// (`updateRestApiInput`) in the `ValidationException` for an `op` outside the enum.
pub(crate) fn patch_ops(raw: &Bytes, input: &str) -> Result<Vec<PatchOperation>> {
    let ops = body::<PatchBody>(raw)?.patch_operations;
    portico_control::patch::check_ops(input, &ops)?;
    Ok(ops)
}

/// [`patch_ops`] for an object addressed by a status code, which is validated with the ops.
fn status_patch_ops(raw: &Bytes, input: &str, code: &str) -> Result<Vec<PatchOperation>> {
    let ops = body::<PatchBody>(raw)?.patch_operations;
    portico_control::patch::check_ops_and_status(input, &ops, code)?;
    Ok(ops)
}

async fn update_rest_api(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateRestApiInput")?;
    let out = s
        .store
        .modify_api(&api, |st| st.update_rest_api(&ops))
        .await?;
    Ok(Json(out).into_response())
}

async fn update_resource(
    State(s): State<AdminState>,
    Path((api, res)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateResourceInput")?;
    let out = s
        .store
        .modify_api(&api, |st| st.update_resource(&res, &ops))
        .await?;
    Ok(Json(out).into_response())
}

async fn update_method(
    State(s): State<AdminState>,
    Path((api, res, verb)): Path<(String, String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateMethodInput")?;
    let out = s
        .store
        .modify_api(&api, |st| st.update_method(&res, &verb, &ops))
        .await;
    // AWS answers an unknown API here as an unknown resource.
    let out = unknown_api_as(out, &api, portico_control::invalid_resource)?;
    Ok(Json(out).into_response())
}

/// `UpdateMethodResponse` answers 201, an AWS quirk botocore encodes.
async fn update_method_response(
    State(s): State<AdminState>,
    Path((api, res, verb, code)): Path<(String, String, String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let ops = status_patch_ops(&raw, "updateMethodResponseInput", &code)?;
    let out = s
        .store
        .modify_api(&api, |st| {
            st.update_method_response(&res, &verb, &code, &ops)
        })
        .await?;
    Ok(created(out))
}

async fn update_integration(
    State(s): State<AdminState>,
    Path((api, res, verb)): Path<(String, String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateIntegrationInput")?;
    let out = s
        .store
        .modify_api(&api, |st| st.update_integration(&res, &verb, &ops))
        .await?;
    Ok(Json(out).into_response())
}

async fn update_integration_response(
    State(s): State<AdminState>,
    Path((api, res, verb, code)): Path<(String, String, String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let ops = status_patch_ops(&raw, "updateIntegrationResponseInput", &code)?;
    let out = s
        .store
        .modify_api(&api, |st| {
            st.update_integration_response(&res, &verb, &code, &ops)
        })
        .await?;
    Ok(Json(out).into_response())
}

async fn update_deployment(
    State(s): State<AdminState>,
    Path((api, dep)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateDeploymentInput")?;
    Ok(Json(s.store.update_deployment(&api, &dep, &ops).await?).into_response())
}

async fn update_stage(
    State(s): State<AdminState>,
    Path((api, stage)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateStageInput")?;
    Ok(Json(s.store.update_stage(&api, &stage, &ops).await?).into_response())
}

async fn list_gateway_responses(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let state = s.store.api_state(&api).await?;
    page(state.all_gateway_responses(), &q)
}

async fn get_gateway_response(
    State(s): State<AdminState>,
    Path((api, kind)): Path<(String, String)>,
) -> Result<Response> {
    let state = s.store.api_state(&api).await?;
    Ok(Json(state.gateway_response(&kind)?).into_response())
}

async fn put_gateway_response(
    State(s): State<AdminState>,
    Path((api, kind)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let input: PutGatewayResponseInput = body(&raw)?;
    let r = s
        .store
        .modify_api(&api, |st| st.put_gateway_response(&kind, input))
        .await?;
    Ok(created(r))
}

async fn update_gateway_response(
    State(s): State<AdminState>,
    Path((api, kind)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateGatewayResponseInput")?;
    let r = s
        .store
        .modify_api(&api, |st| st.update_gateway_response(&kind, &ops))
        .await?;
    Ok(Json(r).into_response())
}

async fn delete_gateway_response(
    State(s): State<AdminState>,
    Path((api, kind)): Path<(String, String)>,
) -> Result<Response> {
    s.store
        .modify_api(&api, |st| st.delete_gateway_response(&kind))
        .await?;
    Ok(accepted())
}

type ApiPath = Path<(String, String)>;

async fn list_models(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    page(s.store.api_state(&api).await?.models, &q)
}

async fn create_model(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let input: CreateModelInput = body(&raw)?;
    Ok(created(
        s.store
            .modify_api(&api, |st| st.create_model(input))
            .await?,
    ))
}

async fn get_model(State(s): State<AdminState>, Path((api, name)): ApiPath) -> Result<Response> {
    let st = unknown_api_as(s.store.api_state(&api).await, &api, || {
        portico_control::invalid_model(&name)
    })?;
    Ok(Json(st.model(&name)?).into_response())
}

async fn update_model(
    State(s): State<AdminState>,
    Path((api, name)): ApiPath,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateModelInput")?;
    let out = s
        .store
        .modify_api(&api, |st| st.update_model(&name, &ops))
        .await;
    let out = unknown_api_as(out, &api, || portico_control::invalid_model(&name))?;
    Ok(Json(out).into_response())
}

async fn delete_model(State(s): State<AdminState>, Path((api, name)): ApiPath) -> Result<Response> {
    let out = s.store.modify_api(&api, |st| st.delete_model(&name)).await;
    unknown_api_as(out, &api, || portico_control::invalid_model(&name))?;
    Ok(accepted())
}

async fn list_validators(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    page(s.store.api_state(&api).await?.request_validators, &q)
}

async fn create_validator(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let input: CreateRequestValidatorInput = body(&raw)?;
    let out = s
        .store
        .modify_api(&api, |st| st.create_request_validator(input))
        .await;
    Ok(created(unknown_api_as(
        out,
        &api,
        portico_control::invalid_rest_api_for_validator,
    )?))
}

async fn get_validator(State(s): State<AdminState>, Path((api, id)): ApiPath) -> Result<Response> {
    let st = s.store.api_state(&api).await?;
    Ok(Json(st.request_validator(&id)?).into_response())
}

async fn update_validator(
    State(s): State<AdminState>,
    Path((api, id)): ApiPath,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateRequestValidatorInput")?;
    Ok(Json(
        s.store
            .modify_api(&api, |st| st.update_request_validator(&id, &ops))
            .await?,
    )
    .into_response())
}

async fn delete_validator(
    State(s): State<AdminState>,
    Path((api, id)): ApiPath,
) -> Result<Response> {
    s.store
        .modify_api(&api, |st| st.delete_request_validator(&id))
        .await?;
    Ok(accepted())
}

async fn list_authorizers(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    page(s.store.api_state(&api).await?.authorizers, &q)
}

async fn create_authorizer(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let input: CreateAuthorizerInput = body(&raw)?;
    let out = s
        .store
        .modify_api(&api, |st| st.create_authorizer(input))
        .await;
    Ok(created(unknown_api_as(
        out,
        &api,
        portico_control::concurrent_modification,
    )?))
}

async fn get_authorizer(State(s): State<AdminState>, Path((api, id)): ApiPath) -> Result<Response> {
    let st = s.store.api_state(&api).await?;
    Ok(Json(st.authorizer(&id)?).into_response())
}

async fn update_authorizer(
    State(s): State<AdminState>,
    Path((api, id)): ApiPath,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateAuthorizerInput")?;
    Ok(Json(
        s.store
            .modify_api(&api, |st| st.update_authorizer(&id, &ops))
            .await?,
    )
    .into_response())
}

async fn delete_authorizer(
    State(s): State<AdminState>,
    Path((api, id)): ApiPath,
) -> Result<Response> {
    s.store
        .modify_api(&api, |st| st.delete_authorizer(&id))
        .await?;
    Ok(accepted())
}

/// `GetExport`: the stage's deployment as OpenAPI 3.0 (`oas30`) or Swagger 2.0 (`swagger`), JSON
/// or YAML by `Accept`, with `x-amazon-apigateway-*` extensions when `extensions` names
/// `apigateway` or `integrations`.
async fn get_export(
    State(s): State<AdminState>,
    Path((api, stage, kind)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Result<Response> {
    let version = match kind.as_str() {
        "oas30" => portico_openapi::ExportVersion::Oas30,
        "swagger" => portico_openapi::ExportVersion::Swagger2,
        other => {
            return Err(ApiError::bad_request(format!(
                "Invalid export type specified: {other}. Valid options are oas30,swagger"
            )));
        }
    };
    let snapshot = s.store.stage_snapshot(&api, &stage).await?;
    let extensions = q.get("extensions").is_some_and(|e| {
        e.split(',')
            .any(|x| matches!(x.trim(), "apigateway" | "integrations" | "authorizers"))
    });
    let options = portico_openapi::ExportOptions {
        version,
        extensions,
        host: format!("{api}.execute-api.us-east-1.amazonaws.com"),
    };
    let doc = portico_openapi::export(&snapshot, &stage, &options);
    let yaml = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("yaml"));
    let (format, content_type, ext) = if yaml {
        (
            portico_openapi::ExportFormat::Yaml,
            "application/yaml",
            "yaml",
        )
    } else {
        (
            portico_openapi::ExportFormat::Json,
            "application/json",
            "json",
        )
    };
    let text = portico_openapi::render(&doc, format)
        .map_err(|e| ApiError::bad_request(format!("cannot render the export: {e}")))?;
    let name = if kind == "oas30" { "oas30" } else { "swagger" };
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type.to_owned()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}_{stage}.{ext}\""),
            ),
        ],
        text,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestInvokeMethodInput {
    path_with_query_string: Option<String>,
    body: Option<String>,
    headers: Option<Map<String>>,
    multi_value_headers: Option<Map<Vec<String>>>,
    stage_variables: Option<Map<String>>,
}

/// `TestInvokeAuthorizer`'s input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TestInvokeAuthorizerInput {
    headers: Option<Map<String>>,
    multi_value_headers: Option<Map<Vec<String>>>,
    path_with_query_string: Option<String>,
    stage_variables: Option<Map<String>>,
}

/// `TestInvokeAuthorizer`: the authorizer as currently defined, run once by the data plane's
/// function runtime (Lambda authorizers; a Cognito authorizer is refused).
async fn test_invoke_authorizer(
    State(s): State<AdminState>,
    Path((api, id)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let input: TestInvokeAuthorizerInput = body(&raw)?;
    let state = s.store.api_state(&api).await?;
    let authorizer = state
        .authorizers
        .iter()
        .find(|a| a.id == id)
        .cloned()
        .ok_or_else(|| {
            ApiError::from(portico_control::ControlError::not_found(
                "Invalid authorizer identifier specified",
            ))
        })?;
    let mut headers: Vec<(String, String)> =
        input.headers.unwrap_or_default().into_iter().collect();
    for (k, vs) in input.multi_value_headers.unwrap_or_default() {
        for v in vs {
            headers.push((k.clone(), v));
        }
    }
    let out = s
        .gateway
        .test_invoke_authorizer(
            &api,
            &authorizer,
            portico_gateway::test_invoke_authorizer::TestInvokeAuthorizerRequest {
                headers,
                path_with_query: input.path_with_query_string,
                stage_variables: input.stage_variables.unwrap_or_default(),
            },
        )
        .await;
    let mut v = json!({
        "clientStatus": out.client_status,
        "log": out.log,
        "latency": out.latency_ms,
    });
    if let Some(p) = out.principal_id {
        v["principalId"] = Value::String(p);
    }
    if let Some(p) = out.policy {
        v["policy"] = Value::String(p);
    }
    if let Some(c) = out.claims {
        v["claims"] = Value::Object(c.into_iter().map(|(k, v)| (k, Value::String(v))).collect());
    }
    Ok(Json(v).into_response())
}

/// `TestInvokeMethod`: the method as currently defined (no deployment needed), with an execution
/// log of the phases.
async fn test_invoke_method(
    State(s): State<AdminState>,
    Path((api, res, verb)): Path<(String, String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let input: TestInvokeMethodInput = body(&raw)?;
    let state = s.store.api_state(&api).await?;
    let resource = state.resource(&res)?.clone();
    state.method(&res, &verb)?;
    let snapshot = portico_model::DeploymentSnapshot {
        api: state.api.clone(),
        resources: state.resources.clone(),
        gateway_responses: state.gateway_responses.clone(),
        models: state.models.clone(),
        request_validators: state.request_validators.clone(),
        authorizers: state.authorizers.clone(),
    };
    let mut headers: Vec<(String, String)> =
        input.headers.unwrap_or_default().into_iter().collect();
    for (k, vs) in input.multi_value_headers.unwrap_or_default() {
        for v in vs {
            headers.push((k.clone(), v));
        }
    }
    let req = portico_gateway::test_invoke::TestInvokeRequest {
        method: verb.clone(),
        path_with_query: input.path_with_query_string.unwrap_or(resource.path),
        headers,
        body: input.body,
        stage_variables: input.stage_variables.unwrap_or_default(),
    };
    let out = s.gateway.test_invoke(&api, snapshot, req).await;
    let mut single = serde_json::Map::new();
    let mut multi: serde_json::Map<String, Value> = serde_json::Map::new();
    for (k, v) in &out.headers {
        single.insert(k.clone(), Value::String(v.clone()));
        match multi.get_mut(k).and_then(Value::as_array_mut) {
            Some(list) => list.push(Value::String(v.clone())),
            None => {
                multi.insert(k.clone(), json!([v]));
            }
        }
    }
    Ok(Json(json!({
        "status": out.status,
        "body": out.body,
        "headers": single,
        "multiValueHeaders": multi,
        "log": out.log,
        "latency": out.latency_ms,
    }))
    .into_response())
}

async fn list_doc_parts(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let parts: Vec<_> = s
        .store
        .api_state(&api)
        .await?
        .documentation_parts
        .into_iter()
        .filter(|p| q.get("type").is_none_or(|t| p.location.kind == *t))
        .filter(|p| {
            q.get("path")
                .is_none_or(|x| p.location.path.as_deref() == Some(x.as_str()))
        })
        .filter(|p| {
            q.get("nameQuery").is_none_or(|n| {
                p.location
                    .name
                    .as_deref()
                    .is_some_and(|pn| pn.contains(n.as_str()))
            })
        })
        .collect();
    page(parts, &q)
}

async fn create_doc_part(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let input: portico_control::docs::CreateDocumentationPartInput = body(&raw)?;
    portico_control::docs::check_location_type(&input)?;
    Ok(created(
        s.store
            .modify_api(&api, |st| st.create_documentation_part(input))
            .await?,
    ))
}

async fn import_doc_parts(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    raw: Bytes,
) -> Result<Response> {
    let doc = portico_openapi::parse_document(&raw)
        .map_err(|e| ApiError::bad_request(format!("Invalid documentation import: {e}")))?;
    let overwrite = q.get("mode").is_some_and(|m| m == "overwrite");
    let ids = s
        .store
        .modify_api(&api, |st| st.import_documentation_parts(&doc, overwrite))
        .await?;
    Ok(Json(json!({ "ids": ids, "warnings": [] })).into_response())
}

async fn get_doc_part(State(s): State<AdminState>, Path((api, id)): ApiPath) -> Result<Response> {
    let st = s.store.api_state(&api).await?;
    Ok(Json(st.documentation_part(&id)?).into_response())
}

async fn update_doc_part(
    State(s): State<AdminState>,
    Path((api, id)): ApiPath,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateDocumentationPartInput")?;
    Ok(Json(
        s.store
            .modify_api(&api, |st| st.update_documentation_part(&id, &ops))
            .await?,
    )
    .into_response())
}

async fn delete_doc_part(
    State(s): State<AdminState>,
    Path((api, id)): ApiPath,
) -> Result<Response> {
    s.store
        .modify_api(&api, |st| st.delete_documentation_part(&id))
        .await?;
    Ok(accepted())
}

async fn list_doc_versions(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let versions: Vec<_> = s
        .store
        .api_state(&api)
        .await?
        .documentation_versions
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    page(versions, &q)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateDocVersionInput {
    documentation_version: Option<String>,
    stage_name: Option<String>,
    description: Option<String>,
}

async fn create_doc_version(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let input: CreateDocVersionInput = body(&raw)?;
    let version = input.documentation_version.unwrap_or_default();
    if let Some(stage) = input.stage_name.as_deref() {
        s.store.stage(&api, stage).await?;
    }
    let v = s
        .store
        .modify_api(&api, |st| {
            st.create_documentation_version(&version, input.description)
        })
        .await?;
    if let Some(stage) = input.stage_name.as_deref() {
        let op = PatchOperation {
            op: "replace".into(),
            path: "/documentationVersion".into(),
            value: Some(version.clone()),
            from: None,
        };
        s.store.update_stage(&api, stage, &[op]).await?;
    }
    Ok(created(v))
}

async fn get_doc_version(State(s): State<AdminState>, Path((api, v)): ApiPath) -> Result<Response> {
    let st = s.store.api_state(&api).await?;
    Ok(Json(st.documentation_version(&v)?).into_response())
}

async fn update_doc_version(
    State(s): State<AdminState>,
    Path((api, v)): ApiPath,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateDocumentationVersionInput")?;
    Ok(Json(
        s.store
            .modify_api(&api, |st| st.update_documentation_version(&v, &ops))
            .await?,
    )
    .into_response())
}

async fn delete_doc_version(
    State(s): State<AdminState>,
    Path((api, v)): ApiPath,
) -> Result<Response> {
    s.store
        .modify_api(&api, |st| st.delete_documentation_version(&v))
        .await?;
    Ok(accepted())
}

async fn get_model_template(
    State(s): State<AdminState>,
    Path((api, name)): ApiPath,
) -> Result<Response> {
    let st = s.store.api_state(&api).await?;
    Ok(Json(json!({ "value": st.model_template(&name)? })).into_response())
}
