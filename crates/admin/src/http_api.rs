//! The `apigatewayv2` management operations for HTTP APIs, on botocore's paths (`/v2/…`) and
//! status codes: ISO-8601 dates, `items`/`nextToken` listings, 204 deletes. Each handler parses
//! the body and runs one [`portico_control::http`] command through the store.

use crate::AdminState;
use crate::error::ApiError;
use crate::rest::{body, created, no_content};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use bytes::Bytes;
use portico_control::http::{
    CreateApiInput, CreateAuthorizerInput, CreateIntegrationInput, CreateRouteInput,
    CreateStageInput, HttpApiState,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

type Result<T> = std::result::Result<T, ApiError>;

/// The region Portico reports in endpoints and ARNs.
const REGION: &str = "us-east-1";

/// The `/v2` routes.
pub fn routes() -> axum::Router<AdminState> {
    axum::Router::new()
        .route("/v2/apis", get(list_apis).post(create_api).put(import_api))
        .route(
            "/v2/apis/{api}",
            get(get_api)
                .patch(update_api)
                .delete(delete_api)
                .put(reimport_api),
        )
        .route("/v2/apis/{api}/exports/{spec}", get(export_api))
        .route("/v2/apis/{api}/cors", delete(delete_cors))
        .route("/v2/apis/{api}/routes", get(list_routes).post(create_route))
        .route(
            "/v2/apis/{api}/routes/{id}",
            get(get_route).patch(update_route).delete(delete_route),
        )
        .route(
            "/v2/apis/{api}/routes/{id}/requestparameters/{key}",
            delete(delete_route_parameter),
        )
        .route(
            "/v2/apis/{api}/integrations",
            get(list_integrations).post(create_integration),
        )
        .route(
            "/v2/apis/{api}/integrations/{id}",
            get(get_integration)
                .patch(update_integration)
                .delete(delete_integration),
        )
        .route(
            "/v2/apis/{api}/authorizers",
            get(list_authorizers).post(create_authorizer),
        )
        .route(
            "/v2/apis/{api}/authorizers/{id}",
            get(get_authorizer)
                .patch(update_authorizer)
                .delete(delete_authorizer),
        )
        .route("/v2/apis/{api}/stages", get(list_stages).post(create_stage))
        .route(
            "/v2/apis/{api}/stages/{stage}",
            get(get_stage).patch(update_stage).delete(delete_stage),
        )
        .route(
            "/v2/apis/{api}/stages/{stage}/routesettings/{key}",
            delete(delete_route_settings),
        )
        .route(
            "/v2/apis/{api}/stages/{stage}/accesslogsettings",
            delete(delete_access_log_settings),
        )
        .route(
            "/v2/apis/{api}/stages/{stage}/cache/authorizers",
            delete(reset_authorizers_cache),
        )
        .route(
            "/v2/apis/{api}/deployments",
            get(list_deployments).post(create_deployment),
        )
        .route(
            "/v2/apis/{api}/deployments/{id}",
            get(get_deployment)
                .patch(update_deployment)
                .delete(delete_deployment),
        )
        .route(
            "/v2/domainnames",
            get(list_domain_names).post(create_domain_name),
        )
        .route(
            "/v2/domainnames/{domain}",
            get(get_domain_name).delete(delete_domain_name),
        )
        .route(
            "/v2/domainnames/{domain}/apimappings",
            get(list_api_mappings).post(create_api_mapping),
        )
        .route(
            "/v2/domainnames/{domain}/apimappings/{id}",
            get(get_api_mapping)
                .patch(update_api_mapping)
                .delete(delete_api_mapping),
        )
        .route(
            "/v2/tags/{*arn}",
            get(get_tags).post(tag_resource).delete(untag_resource),
        )
}

/// One page of a listing: `{"items": [...], "nextToken": "…"}` (`maxResults` 1–500 text,
/// `nextToken` the position).
pub(crate) fn page<T: serde::Serialize>(
    items: Vec<T>,
    q: &HashMap<String, String>,
) -> Result<Response> {
    let start = match q.get("nextToken") {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request("Invalid nextToken"))?,
    };
    let max = match q.get("maxResults") {
        None => 500,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    "Invalid maxResults: must be a number between 1 and 500",
                ));
            }
        },
    };
    let total = items.len();
    let slice: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let mut out = json!({ "items": slice });
    if start + max < total {
        out["nextToken"] = Value::String((start + max).to_string());
    }
    Ok(Json(out).into_response())
}

/// AWS answers `UpdateApi`, `UpdateRoute` and `UpdateDeployment` with 201 (recorded).
fn updated_201(v: impl serde::Serialize) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

async fn list_apis(
    State(s): State<AdminState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    page(s.store.http_apis().await?, &q)
}

async fn create_api(State(s): State<AdminState>, bytes: Bytes) -> Result<Response> {
    let input: CreateApiInput = body(&bytes)?;
    let quick = input.target.is_some();
    let state = HttpApiState::create(input, REGION)?;
    Ok(created(s.store.create_http_api(state, quick).await?))
}

/// `ImportApi` / `ReimportApi`'s body.
#[derive(Debug, Default, Deserialize)]
struct ImportBody {
    #[serde(default)]
    body: Option<String>,
}

/// The document of an import call, read (`failOnWarnings` refuses one with warnings).
fn imported(
    bytes: &Bytes,
    q: &HashMap<String, String>,
) -> Result<portico_openapi::ImportedHttpApi> {
    let input: ImportBody = body(bytes)?;
    let text = input
        .body
        .ok_or_else(|| ApiError::bad_request("Body is required"))?;
    let doc = portico_openapi::parse_document(text.as_bytes())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let api =
        portico_openapi::import_http_api(&doc).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if q.get("failOnWarnings").is_some_and(|v| v == "true") && !api.warnings.is_empty() {
        let w: Vec<String> = api.warnings.iter().map(|d| d.to_string()).collect();
        return Err(ApiError::bad_request(format!(
            "Warnings found during import:\n\t{}",
            w.join("\n\t")
        )));
    }
    Ok(api)
}

fn warnings_of(api: &portico_openapi::ImportedHttpApi) -> Option<Vec<String>> {
    (!api.warnings.is_empty()).then(|| api.warnings.iter().map(|d| d.to_string()).collect())
}

async fn import_api(
    State(s): State<AdminState>,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Result<Response> {
    let doc = imported(&bytes, &q)?;
    let warnings = warnings_of(&doc);
    let mut state = HttpApiState::create(
        CreateApiInput {
            name: Some(doc.name.clone()),
            protocol_type: Some("HTTP".into()),
            ..Default::default()
        },
        REGION,
    )?;
    state.apply_import(
        doc.routes,
        doc.integrations,
        doc.authorizers,
        doc.cors,
        doc.disable_execute_api_endpoint,
        doc.version,
        doc.description,
    )?;
    let mut api = s.store.create_http_api(state, false).await?;
    api.warnings = warnings;
    Ok(created(api))
}

async fn reimport_api(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Result<Response> {
    let doc = imported(&bytes, &q)?;
    let warnings = warnings_of(&doc);
    let mut out = s
        .store
        .modify_http_api(&api, |st| {
            if st.is_websocket() {
                return Err(portico_control::ControlError::bad_request(
                    "ReimportApi is supported only for HTTP APIs",
                ));
            }
            st.apply_import(
                doc.routes,
                doc.integrations,
                doc.authorizers,
                doc.cors,
                doc.disable_execute_api_endpoint,
                doc.version,
                doc.description,
            )?;
            Ok(st.api.clone())
        })
        .await?;
    out.warnings = warnings;
    Ok(created(out))
}

async fn export_api(
    State(s): State<AdminState>,
    Path((api, spec)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    if spec != "OAS30" {
        return Err(ApiError::bad_request(format!(
            "Invalid specification {spec}: only OAS30 is supported"
        )));
    }
    let format = match q.get("outputType").map(String::as_str) {
        Some("JSON") => portico_openapi::ExportFormat::Json,
        Some("YAML") => portico_openapi::ExportFormat::Yaml,
        _ => {
            return Err(ApiError::bad_request(
                "outputType is required and must be JSON or YAML",
            ));
        }
    };
    let extensions = q.get("includeExtensions").is_none_or(|v| v != "false");
    let state = s.store.http_api(&api).await?;
    if state.is_websocket() {
        return Err(ApiError::bad_request(
            "Export is supported only for HTTP APIs",
        ));
    }
    let stage = q.get("stageName").cloned();
    let (routes, integrations, authorizers, api_model) = match &stage {
        Some(name) => {
            let snap = s.store.http_stage_snapshot(&api, name).await?;
            let mut a = snap.api.unwrap_or_else(|| state.api.clone());
            a.api_id = state.api.api_id.clone();
            (snap.routes, snap.integrations, snap.authorizers, a)
        }
        None => (
            state.routes,
            state.integrations,
            state.authorizers,
            state.api,
        ),
    };
    let doc = portico_openapi::export_http_api(
        &api_model,
        &routes,
        &integrations,
        &authorizers,
        portico_openapi::HttpExportOptions {
            extensions,
            stage: stage.as_deref(),
            region: REGION,
        },
    );
    let text = portico_openapi::render(&doc, format)
        .map_err(|e| ApiError::bad_request(format!("export failed: {e}")))?;
    let content_type = match format {
        portico_openapi::ExportFormat::Json => "application/json",
        portico_openapi::ExportFormat::Yaml => "application/yaml",
    };
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], text).into_response())
}

async fn get_api(State(s): State<AdminState>, Path(api): Path<String>) -> Result<Response> {
    Ok(Json(s.store.http_api(&api).await?.api).into_response())
}

async fn update_api(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    bytes: Bytes,
) -> Result<Response> {
    let input: CreateApiInput = body(&bytes)?;
    if input.target.is_some() || input.route_key.is_some() {
        return Err(ApiError::bad_request(
            "Target and RouteKey can be set only when the API is created (quick create)",
        ));
    }
    let out = s
        .store
        .modify_http_api(&api, |st| st.update_api(input))
        .await?;
    Ok(updated_201(out))
}

async fn delete_api(State(s): State<AdminState>, Path(api): Path<String>) -> Result<Response> {
    s.store.delete_http_api(&api).await?;
    Ok(no_content())
}

async fn delete_cors(State(s): State<AdminState>, Path(api): Path<String>) -> Result<Response> {
    s.store
        .modify_http_api(&api, |st| {
            st.delete_cors();
            Ok(())
        })
        .await?;
    Ok(no_content())
}

async fn list_routes(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    page(s.store.http_api(&api).await?.routes, &q)
}

async fn create_route(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    bytes: Bytes,
) -> Result<Response> {
    let input: CreateRouteInput = body(&bytes)?;
    let r = s
        .store
        .modify_http_api(&api, |st| st.create_route(input))
        .await?;
    Ok(created(r))
}

async fn get_route(
    State(s): State<AdminState>,
    Path((api, id)): Path<(String, String)>,
) -> Result<Response> {
    let st = s.store.http_api(&api).await?;
    Ok(Json(st.route(&id)?).into_response())
}

async fn update_route(
    State(s): State<AdminState>,
    Path((api, id)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response> {
    let input: CreateRouteInput = body(&bytes)?;
    let r = s
        .store
        .modify_http_api(&api, |st| {
            if input.route_key.is_some() && st.route(&id)?.api_gateway_managed == Some(true) {
                return Err(portico_control::ControlError::bad_request(
                    "$default route key can't be modified",
                ));
            }
            st.update_route(&id, input)
        })
        .await?;
    Ok(updated_201(r))
}

async fn delete_route(
    State(s): State<AdminState>,
    Path((api, id)): Path<(String, String)>,
) -> Result<Response> {
    s.store
        .modify_http_api(&api, |st| st.delete_route(&id))
        .await?;
    Ok(no_content())
}

async fn delete_route_parameter(
    State(s): State<AdminState>,
    Path((api, id, key)): Path<(String, String, String)>,
) -> Result<Response> {
    s.store
        .modify_http_api(&api, |st| {
            let mut r = st.route(&id)?.clone();
            let removed = r
                .request_parameters
                .as_mut()
                .and_then(|p| p.remove(&key))
                .is_some();
            if !removed {
                return Err(portico_control::ControlError::not_found(format!(
                    "Invalid request parameter key specified: {key}"
                )));
            }
            st.update_route(
                &id,
                CreateRouteInput {
                    request_parameters: r.request_parameters,
                    ..Default::default()
                },
            )
        })
        .await?;
    Ok(no_content())
}

async fn list_integrations(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    page(s.store.http_api(&api).await?.integrations, &q)
}

async fn create_integration(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    bytes: Bytes,
) -> Result<Response> {
    let input: CreateIntegrationInput = body(&bytes)?;
    let i = s
        .store
        .modify_http_api(&api, |st| st.create_integration(input))
        .await?;
    Ok(created(i))
}

async fn get_integration(
    State(s): State<AdminState>,
    Path((api, id)): Path<(String, String)>,
) -> Result<Response> {
    let st = s.store.http_api(&api).await?;
    Ok(Json(st.integration(&id)?).into_response())
}

async fn update_integration(
    State(s): State<AdminState>,
    Path((api, id)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response> {
    let input: CreateIntegrationInput = body(&bytes)?;
    let i = s
        .store
        .modify_http_api(&api, |st| st.update_integration(&id, input))
        .await?;
    Ok(Json(i).into_response())
}

async fn delete_integration(
    State(s): State<AdminState>,
    Path((api, id)): Path<(String, String)>,
) -> Result<Response> {
    s.store
        .modify_http_api(&api, |st| st.delete_integration(&id))
        .await?;
    Ok(no_content())
}

async fn list_authorizers(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    page(s.store.http_api(&api).await?.authorizers, &q)
}

async fn create_authorizer(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    bytes: Bytes,
) -> Result<Response> {
    let input: CreateAuthorizerInput = body(&bytes)?;
    let a = s
        .store
        .modify_http_api(&api, |st| st.create_authorizer(input))
        .await?;
    Ok(created(a))
}

async fn get_authorizer(
    State(s): State<AdminState>,
    Path((api, id)): Path<(String, String)>,
) -> Result<Response> {
    let st = s.store.http_api(&api).await?;
    Ok(Json(st.authorizer(&id)?).into_response())
}

async fn update_authorizer(
    State(s): State<AdminState>,
    Path((api, id)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response> {
    let input: CreateAuthorizerInput = body(&bytes)?;
    let a = s
        .store
        .modify_http_api(&api, |st| st.update_authorizer(&id, input))
        .await?;
    Ok(Json(a).into_response())
}

async fn delete_authorizer(
    State(s): State<AdminState>,
    Path((api, id)): Path<(String, String)>,
) -> Result<Response> {
    s.store
        .modify_http_api(&api, |st| st.delete_authorizer(&id))
        .await?;
    Ok(no_content())
}

async fn list_stages(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    page(s.store.http_stages(&api).await?, &q)
}

async fn create_stage(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    bytes: Bytes,
) -> Result<Response> {
    let input: CreateStageInput = body(&bytes)?;
    Ok(created(s.store.create_http_stage(&api, input).await?))
}

async fn get_stage(
    State(s): State<AdminState>,
    Path((api, stage)): Path<(String, String)>,
) -> Result<Response> {
    Ok(Json(s.store.http_stage(&api, &stage).await?).into_response())
}

async fn update_stage(
    State(s): State<AdminState>,
    Path((api, stage)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response> {
    let input: CreateStageInput = body(&bytes)?;
    if input.stage_name.as_deref().is_some_and(|n| n != stage) {
        return Err(ApiError::bad_request("A stage cannot be renamed"));
    }
    Ok(Json(s.store.update_http_stage(&api, &stage, input).await?).into_response())
}

async fn delete_stage(
    State(s): State<AdminState>,
    Path((api, stage)): Path<(String, String)>,
) -> Result<Response> {
    s.store.delete_http_stage(&api, &stage).await?;
    Ok(no_content())
}

async fn delete_route_settings(
    State(s): State<AdminState>,
    Path((api, stage, key)): Path<(String, String, String)>,
) -> Result<Response> {
    let current = s.store.http_stage(&api, &stage).await?;
    let mut settings = current.route_settings.clone();
    if settings.remove(&key).is_none() {
        return Err(portico_control::ControlError::not_found(format!(
            "Unable to find route settings for route key {key}"
        ))
        .into());
    }
    s.store
        .update_http_stage(
            &api,
            &stage,
            CreateStageInput {
                route_settings: Some(settings),
                ..Default::default()
            },
        )
        .await?;
    Ok(no_content())
}

async fn delete_access_log_settings(
    State(s): State<AdminState>,
    Path((api, stage)): Path<(String, String)>,
) -> Result<Response> {
    s.store
        .update_http_stage(
            &api,
            &stage,
            CreateStageInput {
                access_log_settings: Some(Default::default()),
                ..Default::default()
            },
        )
        .await?;
    Ok(no_content())
}

async fn reset_authorizers_cache(
    State(s): State<AdminState>,
    Path((api, stage)): Path<(String, String)>,
) -> Result<Response> {
    s.store.http_stage(&api, &stage).await?;
    match s.gateway.snapshot().api(&api) {
        Some(portico_gateway::compile::ServedApi::Http(stages)) => {
            if let Some(st) = stages.get(&stage) {
                st.flush_authorizer_caches();
            }
        }
        Some(portico_gateway::compile::ServedApi::WebSocket(stages)) => {
            if let Some(st) = stages.get(&stage) {
                st.flush_authorizer_caches();
            }
        }
        _ => {}
    }
    Ok(no_content())
}

/// `CreateDeployment`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateDeploymentInput {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    stage_name: Option<String>,
}

async fn list_deployments(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    page(s.store.http_deployments(&api).await?, &q)
}

async fn create_deployment(
    State(s): State<AdminState>,
    Path(api): Path<String>,
    bytes: Bytes,
) -> Result<Response> {
    let input: CreateDeploymentInput = body(&bytes)?;
    let d = s
        .store
        .create_http_deployment(&api, input.description, input.stage_name)
        .await?;
    Ok(created(d))
}

async fn get_deployment(
    State(s): State<AdminState>,
    Path((api, id)): Path<(String, String)>,
) -> Result<Response> {
    Ok(Json(s.store.http_deployment(&api, &id).await?).into_response())
}

async fn update_deployment(
    State(s): State<AdminState>,
    Path((api, id)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response> {
    let input: CreateDeploymentInput = body(&bytes)?;
    let d = s
        .store
        .update_http_deployment(&api, &id, input.description)
        .await?;
    Ok(updated_201(d))
}

async fn delete_deployment(
    State(s): State<AdminState>,
    Path((api, id)): Path<(String, String)>,
) -> Result<Response> {
    s.store.delete_http_deployment(&api, &id).await?;
    Ok(no_content())
}

/// What a v2 tag ARN names: `arn:aws:apigateway:{region}::/apis/{id}[/stages/{name}]`.
enum Tagged {
    Api(String),
    Stage(String, String),
}

fn tagged(arn: &str) -> Result<Tagged> {
    let arn = arn.trim_start_matches('/');
    let path = arn
        .strip_prefix("arn:aws:apigateway:")
        .and_then(|r| r.split_once("::"))
        .map(|(_, p)| p)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid resource ARN: {arn}")))?;
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["apis", id] => Ok(Tagged::Api((*id).into())),
        ["apis", id, "stages", name] => Ok(Tagged::Stage((*id).into(), (*name).into())),
        _ => Err(ApiError::bad_request(format!(
            "Invalid resource ARN: {arn}"
        ))),
    }
}

async fn get_tags(State(s): State<AdminState>, Path(arn): Path<String>) -> Result<Response> {
    let tags = match tagged(&arn)? {
        Tagged::Api(id) => s.store.http_api(&id).await?.api.tags,
        Tagged::Stage(id, name) => s.store.http_stage(&id, &name).await?.tags,
    };
    Ok(Json(json!({ "tags": tags })).into_response())
}

/// `TagResource`'s body.
#[derive(Debug, Default, Deserialize)]
struct TagsInput {
    #[serde(default)]
    tags: portico_model::Map<String>,
}

async fn tag_resource(
    State(s): State<AdminState>,
    Path(arn): Path<String>,
    bytes: Bytes,
) -> Result<Response> {
    let input: TagsInput = body(&bytes)?;
    change_tags(&s, &arn, |t| t.extend(input.tags)).await?;
    Ok(StatusCode::CREATED.into_response())
}

async fn untag_resource(
    State(s): State<AdminState>,
    Path(arn): Path<String>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Result<Response> {
    let keys = crate::account::tag_keys(q.as_deref());
    change_tags(&s, &arn, |t| t.retain(|k, _| !keys.contains(k))).await?;
    Ok(no_content())
}

async fn change_tags(
    s: &AdminState,
    arn: &str,
    f: impl FnOnce(&mut portico_model::Map<String>),
) -> Result<()> {
    match tagged(arn)? {
        Tagged::Api(id) => {
            s.store
                .modify_http_api(&id, |st| {
                    f(&mut st.api.tags);
                    Ok(())
                })
                .await?;
        }
        Tagged::Stage(id, name) => {
            let mut tags = s.store.http_stage(&id, &name).await?.tags;
            f(&mut tags);
            // Tags replace, they do not merge, here: the stage's set becomes `tags`.
            s.store.set_http_stage_tags(&id, &name, tags).await?;
        }
    }
    Ok(())
}

// Custom domain names and API mappings (apigatewayv2 view of the account's domains: one set of
// domains and mappings shared with `apigateway`'s DomainNames and BasePathMappings).

/// `CreateDomainName` (v2) body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateDomainNameV2 {
    #[serde(default)]
    domain_name: Option<String>,
    #[serde(default)]
    domain_name_configurations: Option<Vec<Value>>,
    #[serde(default)]
    mutual_tls_authentication: Option<portico_control::account::MutualTlsInput>,
    #[serde(default)]
    tags: Option<portico_model::Map<String>>,
}

/// A domain as apigatewayv2 shows it.
fn domain_v2(d: &portico_model::DomainName) -> Value {
    let regional = d
        .regional_domain_name
        .clone()
        .or_else(|| d.distribution_domain_name.clone());
    let mut config = json!({
        "apiGatewayDomainName": regional,
        "domainNameStatus": d.domain_name_status,
        "endpointType": "REGIONAL",
        "hostedZoneId": d.regional_hosted_zone_id.clone().or_else(|| d.distribution_hosted_zone_id.clone()),
        "securityPolicy": d.security_policy.clone().unwrap_or_else(|| "TLS_1_2".into()),
    });
    if let Some(arn) = d
        .regional_certificate_arn
        .clone()
        .or_else(|| d.certificate_arn.clone())
    {
        config["certificateArn"] = json!(arn);
    }
    let mut out = json!({
        "apiMappingSelectionExpression": "$request.basepath",
        "domainName": d.domain_name,
        "domainNameConfigurations": [config],
        "tags": d.tags,
    });
    if let Some(m) = &d.mutual_tls_authentication {
        out["mutualTlsAuthentication"] = json!(m);
    }
    out
}

async fn create_domain_name(State(s): State<AdminState>, bytes: Bytes) -> Result<Response> {
    let input: CreateDomainNameV2 = body(&bytes)?;
    let config = input
        .domain_name_configurations
        .as_ref()
        .and_then(|c| c.first())
        .cloned()
        .unwrap_or(Value::Null);
    let text = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_owned);
    let v1 = portico_control::account::CreateDomainNameInput {
        domain_name: input.domain_name,
        regional_certificate_arn: text("certificateArn"),
        regional_certificate_name: text("certificateName"),
        endpoint_configuration: Some(portico_model::EndpointConfiguration {
            types: vec!["REGIONAL".into()],
            ..Default::default()
        }),
        security_policy: text("securityPolicy"),
        mutual_tls_authentication: input.mutual_tls_authentication,
        tags: input.tags,
        ..Default::default()
    };
    let d = s.store.modify_account(|a| a.create_domain_name(v1)).await?;
    Ok(created(domain_v2(&d)))
}

async fn list_domain_names(
    State(s): State<AdminState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let st = s.store.account_state().await?;
    page(st.domain_names.iter().map(domain_v2).collect(), &q)
}

async fn get_domain_name(
    State(s): State<AdminState>,
    Path(domain): Path<String>,
) -> Result<Response> {
    let st = s.store.account_state().await?;
    Ok(Json(domain_v2(st.domain_name(&domain)?)).into_response())
}

async fn delete_domain_name(
    State(s): State<AdminState>,
    Path(domain): Path<String>,
) -> Result<Response> {
    s.store
        .modify_account(|a| a.delete_domain_name(&domain))
        .await?;
    Ok(no_content())
}

/// An API mapping as apigatewayv2 shows it.
fn mapping_v2(domain: &str, m: &portico_model::BasePathMapping) -> Value {
    let key = if m.base_path == "(none)" {
        ""
    } else {
        m.base_path.as_str()
    };
    json!({
        "apiId": m.rest_api_id,
        "apiMappingId": portico_control::account::AccountState::api_mapping_id(domain, &m.base_path),
        "apiMappingKey": key,
        "stage": m.stage,
    })
}

/// `CreateApiMapping` / `UpdateApiMapping` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiMappingInput {
    #[serde(default)]
    api_id: Option<String>,
    #[serde(default)]
    api_mapping_key: Option<String>,
    #[serde(default)]
    stage: Option<String>,
}

async fn create_api_mapping(
    State(s): State<AdminState>,
    Path(domain): Path<String>,
    bytes: Bytes,
) -> Result<Response> {
    let input: ApiMappingInput = body(&bytes)?;
    let api = input
        .api_id
        .ok_or_else(|| ApiError::bad_request("ApiId is required"))?;
    let stage = input
        .stage
        .ok_or_else(|| ApiError::bad_request("Stage is required"))?;
    let (name, m) = s
        .store
        .modify_account(|a| {
            let name = a.domain_name(&domain)?.domain_name.clone();
            let m =
                a.create_api_mapping(&domain, &api, input.api_mapping_key.as_deref(), &stage)?;
            Ok((name, m))
        })
        .await?;
    // AWS answers CreateApiMapping with 200 (recorded), not the model's 201.
    Ok(Json(mapping_v2(&name, &m)).into_response())
}

async fn list_api_mappings(
    State(s): State<AdminState>,
    Path(domain): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let st = s.store.account_state().await?;
    let name = st.domain_name(&domain)?.domain_name.clone();
    let items: Vec<Value> = st
        .base_path_mappings(&domain)?
        .iter()
        .map(|m| mapping_v2(&name, m))
        .collect();
    page(items, &q)
}

async fn get_api_mapping(
    State(s): State<AdminState>,
    Path((domain, id)): Path<(String, String)>,
) -> Result<Response> {
    let st = s.store.account_state().await?;
    let name = st.domain_name(&domain)?.domain_name.clone();
    Ok(Json(mapping_v2(&name, &st.api_mapping(&domain, &id)?)).into_response())
}

async fn update_api_mapping(
    State(s): State<AdminState>,
    Path((domain, id)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response> {
    let input: ApiMappingInput = body(&bytes)?;
    let (name, m) = s
        .store
        .modify_account(|a| {
            let name = a.domain_name(&domain)?.domain_name.clone();
            let old = a.api_mapping(&domain, &id)?;
            a.delete_api_mapping(&domain, &id)?;
            let key = match &input.api_mapping_key {
                Some(k) => Some(k.clone()),
                None if old.base_path == "(none)" => None,
                None => Some(old.base_path.clone()),
            };
            let m = a.create_api_mapping(
                &domain,
                input.api_id.as_deref().unwrap_or(&old.rest_api_id),
                key.as_deref(),
                input
                    .stage
                    .as_deref()
                    .or(old.stage.as_deref())
                    .unwrap_or_default(),
            )?;
            Ok((name, m))
        })
        .await?;
    Ok(Json(mapping_v2(&name, &m)).into_response())
}

async fn delete_api_mapping(
    State(s): State<AdminState>,
    Path((domain, id)): Path<(String, String)>,
) -> Result<Response> {
    s.store
        .modify_account(|a| a.delete_api_mapping(&domain, &id))
        .await?;
    Ok(no_content())
}
