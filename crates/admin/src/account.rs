//! Account-level operations: API keys, usage plans and their keys, account settings, tags,
//! stage cache flushes.

use crate::AdminState;
use crate::error::ApiError;
use crate::rest::{accepted, body, created, no_content, page, page_answer, page_params, patch_ops};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use bytes::Bytes;
use portico_control::account::{
    CreateAccessAssociationInput, CreateBasePathMappingInput, CreateDomainNameInput,
    CreateUsagePlanInput, CreateVpcLinkInput,
};
use portico_control::api_keys::{CreateApiKeyInput, parse_api_keys_csv};
use portico_model::{ApiKey, Map, ThrottleSettings};
use portico_store::ApiKeyQuery;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

type Result<T> = std::result::Result<T, ApiError>;
type Q = Query<HashMap<String, String>>;

/// The account-level routes.
pub fn routes() -> axum::Router<AdminState> {
    axum::Router::new()
        .route("/apikeys", get(list_api_keys).post(create_api_key))
        .route(
            "/apikeys/{id}",
            get(get_api_key)
                .patch(update_api_key)
                .delete(delete_api_key),
        )
        .route("/usageplans", get(list_usage_plans).post(create_usage_plan))
        .route(
            "/usageplans/{id}",
            get(get_usage_plan)
                .patch(update_usage_plan)
                .delete(delete_usage_plan),
        )
        .route(
            "/usageplans/{id}/keys",
            get(list_usage_plan_keys).post(create_usage_plan_key),
        )
        .route(
            "/usageplans/{id}/keys/{key}",
            get(get_usage_plan_key).delete(delete_usage_plan_key),
        )
        .route("/usageplans/{id}/usage", get(get_usage))
        .route(
            "/usageplans/{id}/keys/{key}/usage",
            axum::routing::patch(update_usage),
        )
        .route(
            "/domainnames",
            get(list_domain_names).post(create_domain_name),
        )
        .route(
            "/domainnames/{name}",
            get(get_domain_name)
                .patch(update_domain_name)
                .delete(delete_domain_name),
        )
        .route(
            "/domainnames/{name}/basepathmappings",
            get(list_mappings).post(create_mapping),
        )
        .route(
            "/domainnames/{name}/basepathmappings/{base}",
            get(get_mapping)
                .patch(update_mapping)
                .delete(delete_mapping),
        )
        .route(
            "/domainnameaccessassociations",
            get(list_access_associations).post(create_access_association),
        )
        .route(
            "/domainnameaccessassociations/{arn}",
            delete(delete_access_association),
        )
        .route(
            "/rejectdomainnameaccessassociations",
            axum::routing::post(reject_access_association),
        )
        .route(
            "/clientcertificates",
            get(list_client_certs).post(generate_client_cert),
        )
        .route(
            "/clientcertificates/{id}",
            get(get_client_cert)
                .patch(update_client_cert)
                .delete(delete_client_cert),
        )
        .route("/vpclinks", get(list_vpc_links).post(create_vpc_link))
        .route(
            "/vpclinks/{id}",
            get(get_vpc_link)
                .patch(update_vpc_link)
                .delete(delete_vpc_link),
        )
        .route("/account", get(get_account).patch(update_account))
        .route(
            "/tags/{arn}",
            get(get_tags).put(tag_resource).delete(untag_resource),
        )
        .route(
            "/restapis/{api}/stages/{stage}/cache/data",
            delete(flush_stage_cache),
        )
        .route(
            "/restapis/{api}/stages/{stage}/cache/authorizers",
            delete(flush_stage_authorizers_cache),
        )
}

fn hide_value(mut k: ApiKey, show: bool) -> ApiKey {
    if !show {
        k.value = None;
    }
    k
}

fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.get(name).is_some_and(|v| v == "true")
}

async fn create_api_key(State(s): State<AdminState>, Query(q): Q, raw: Bytes) -> Result<Response> {
    if q.get("mode").is_some_and(|m| m == "import") {
        if q.get("format").is_some_and(|f| f != "csv") {
            return Err(ApiError::bad_request(
                "Invalid format specified: only csv is supported",
            ));
        }
        let text = String::from_utf8_lossy(&raw);
        let import = parse_api_keys_csv(&text, flag(&q, "failonwarnings"))?;
        let warnings = import.warnings.clone();
        let ids = s.store.import_api_keys(import).await?;
        return Ok(created(json!({ "ids": ids, "warnings": warnings })));
    }
    let input: CreateApiKeyInput = body(&raw)?;
    Ok(created(s.store.create_api_key(input).await?))
}

async fn list_api_keys(State(s): State<AdminState>, Query(mut q): Q) -> Result<Response> {
    // AWS answers GetApiKeys with a limit below 1 as if none was given.
    if q.get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .is_some_and(|l| l < 1)
    {
        q.remove("limit");
    }
    let (position, limit) = page_params(&q)?;
    let show = flag(&q, "includeValues");
    let found = s
        .store
        .api_keys_page(&ApiKeyQuery {
            name_prefix: q.get("name").cloned(),
            customer_id: q.get("customerId").cloned(),
            position,
            limit,
        })
        .await?;
    let keys: Vec<ApiKey> = found
        .items
        .into_iter()
        .map(|k| hide_value(k, show))
        .collect();
    let mut v = page_answer(&keys, found.next);
    // AWS adds an (empty) warnings list to GetApiKeys.
    v["warnings"] = json!([]);
    Ok(Json(v).into_response())
}

async fn get_api_key(
    State(s): State<AdminState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response> {
    let k = s.store.api_key(&id).await?;
    Ok(Json(hide_value(k, flag(&q, "includeValue"))).into_response())
}

async fn update_api_key(
    State(s): State<AdminState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateApiKeyInput")?;
    let key = s.store.update_api_key(&id, &ops).await?;
    Ok(Json(with_tags(&key)).into_response())
}

/// `UpdateApiKey` and `UpdateUsagePlan` answer with `tags`, `{}` when there are none (their
/// Create and Get answers leave an empty map out).
fn with_tags(v: &impl serde::Serialize) -> serde_json::Value {
    let mut v = serde_json::to_value(v).unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.entry("tags").or_insert_with(|| json!({}));
    }
    v
}

async fn delete_api_key(State(s): State<AdminState>, Path(id): Path<String>) -> Result<Response> {
    s.store.delete_api_key(&id).await?;
    Ok(accepted())
}

async fn create_usage_plan(State(s): State<AdminState>, raw: Bytes) -> Result<Response> {
    let input: CreateUsagePlanInput = body(&raw)?;
    Ok(created(
        s.store
            .modify_account(|a| a.create_usage_plan(input))
            .await?,
    ))
}

async fn list_usage_plans(State(s): State<AdminState>, Query(q): Q) -> Result<Response> {
    let plans = match q.get("keyId") {
        Some(k) => s.store.usage_plans_of_key(k).await?,
        None => s.store.usage_plans().await?,
    };
    page(plans, &q)
}

async fn get_usage_plan(State(s): State<AdminState>, Path(id): Path<String>) -> Result<Response> {
    let st = s.store.account_state().await?;
    Ok(Json(st.usage_plan(&id)?).into_response())
}

async fn update_usage_plan(
    State(s): State<AdminState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateUsagePlanInput")?;
    let plan = s
        .store
        .modify_account(|a| a.update_usage_plan(&id, &ops))
        .await?;
    Ok(Json(with_tags(&plan)).into_response())
}

async fn delete_usage_plan(
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response> {
    s.store.modify_account(|a| a.delete_usage_plan(&id)).await?;
    Ok(accepted())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateUsagePlanKeyInput {
    key_id: Option<String>,
    key_type: Option<String>,
}

async fn create_usage_plan_key(
    State(s): State<AdminState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let input: CreateUsagePlanKeyInput = body(&raw)?;
    let key = input.key_id.unwrap_or_default();
    let kind = input.key_type.unwrap_or_else(|| "API_KEY".into());
    Ok(created(
        s.store.create_usage_plan_key(&id, &key, &kind).await?,
    ))
}

async fn list_usage_plan_keys(
    State(s): State<AdminState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response> {
    let (position, limit) = page_params(&q)?;
    let found = s
        .store
        .usage_plan_keys_page(&id, q.get("name").map(String::as_str), position, limit)
        .await?;
    Ok(Json(page_answer(&found.items, found.next)).into_response())
}

async fn get_usage_plan_key(
    State(s): State<AdminState>,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response> {
    Ok(Json(s.store.usage_plan_key(&id, &key).await?).into_response())
}

async fn delete_usage_plan_key(
    State(s): State<AdminState>,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response> {
    s.store.delete_usage_plan_key(&id, &key).await?;
    Ok(accepted())
}

fn account_view(role: Option<String>, throttle: ThrottleSettings) -> serde_json::Value {
    let mut v = json!({
        "throttleSettings": throttle,
        "features": [],
        "apiKeyVersion": "4",
    });
    if let Some(r) = role {
        v["cloudwatchRoleArn"] = json!(r);
    }
    v
}

async fn get_account(State(s): State<AdminState>) -> Result<Response> {
    let st = s.store.account_state().await?;
    let mut throttle = st.account_throttle();
    if let Some(l) = s.gateway.config().account_throttle {
        // `--account-rate-limit` / `--account-burst-limit` set the throttle in force.
        throttle.rate_limit = Some(l.rate);
        throttle.burst_limit = Some(i64::from(l.burst));
    }
    Ok(Json(account_view(st.cloudwatch_role_arn, throttle)).into_response())
}

async fn update_account(State(s): State<AdminState>, raw: Bytes) -> Result<Response> {
    let ops = patch_ops(&raw, "updateAccountInput")?;
    let (role, throttle) = s
        .store
        .modify_account(|a| {
            a.update_account(&ops)?;
            Ok((a.cloudwatch_role_arn.clone(), a.account_throttle()))
        })
        .await?;
    Ok(Json(account_view(role, throttle)).into_response())
}

/// What a tag ARN names.
enum Tagged {
    RestApi(String),
    Stage(String, String),
    ApiKey(String),
    UsagePlan(String),
}

fn parse_arn(arn: &str) -> Result<Tagged> {
    let path = arn
        .strip_prefix("arn:aws:apigateway:")
        .and_then(|r| r.split_once("::"))
        .map(|(_, p)| p)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid resource ARN specified: {arn}")))?;
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match seg.as_slice() {
        ["restapis", id] => Ok(Tagged::RestApi((*id).to_owned())),
        ["restapis", id, "stages", stage] => {
            Ok(Tagged::Stage((*id).to_owned(), (*stage).to_owned()))
        }
        ["apikeys", id] => Ok(Tagged::ApiKey((*id).to_owned())),
        ["usageplans", id] => Ok(Tagged::UsagePlan((*id).to_owned())),
        _ => Err(ApiError::bad_request(format!(
            "Invalid resource ARN specified: {arn} (tags are supported on REST APIs, stages, API keys and usage plans)"
        ))),
    }
}

async fn tags_of(s: &AdminState, t: &Tagged) -> Result<Map<String>> {
    Ok(match t {
        Tagged::RestApi(id) => s.store.get_rest_api(id).await?.tags,
        Tagged::Stage(id, stage) => s.store.stage(id, stage).await?.tags,
        Tagged::ApiKey(id) => s.store.api_key(id).await?.tags,
        Tagged::UsagePlan(id) => s.store.account_state().await?.usage_plan(id)?.tags.clone(),
    })
}

async fn set_tags(s: &AdminState, t: &Tagged, f: impl Fn(&mut Map<String>)) -> Result<()> {
    match t {
        Tagged::Stage(id, stage) => s.store.modify_stage_tags(id, stage, f).await?,
        Tagged::RestApi(id) => {
            s.store
                .modify_api(id, |st| {
                    f(&mut st.api.tags);
                    Ok(())
                })
                .await?
        }
        Tagged::ApiKey(id) => s.store.modify_api_key_tags(id, f).await?,
        Tagged::UsagePlan(id) => {
            s.store
                .modify_account(|a| {
                    a.usage_plan(id)?;
                    if let Some(p) = a.usage_plans.iter_mut().find(|p| &p.id == id) {
                        f(&mut p.tags);
                    }
                    Ok(())
                })
                .await?
        }
    }
    Ok(())
}

async fn get_tags(State(s): State<AdminState>, Path(arn): Path<String>) -> Result<Response> {
    let t = parse_arn(&arn)?;
    Ok(Json(json!({ "tags": tags_of(&s, &t).await? })).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct TagInput {
    tags: Option<Map<String>>,
}

async fn tag_resource(
    State(s): State<AdminState>,
    Path(arn): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let t = parse_arn(&arn)?;
    let input: TagInput = body(&raw)?;
    let add = input.tags.unwrap_or_default();
    set_tags(&s, &t, |tags| tags.extend(add.clone())).await?;
    Ok(no_content())
}

async fn untag_resource(
    State(s): State<AdminState>,
    Path(arn): Path<String>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response> {
    let t = parse_arn(&arn)?;
    let keys = tag_keys(raw.as_deref());
    set_tags(&s, &t, |tags| {
        for k in &keys {
            tags.remove(k);
        }
    })
    .await?;
    Ok(no_content())
}

/// `FlushStageCache` / `FlushStageAuthorizersCache`: the stage must exist; nothing is cached yet,
/// so there is nothing else to drop.
async fn flush_stage_cache(
    State(s): State<AdminState>,
    Path((api, stage)): Path<(String, String)>,
) -> Result<Response> {
    s.store.stage(&api, &stage).await?;
    if let Some(cache) = s.gateway.state().caches.get(&api, &stage) {
        cache.flush();
    }
    Ok(accepted())
}

/// `FlushStageAuthorizersCache`: the stage's Lambda authorizers forget their cached results
/// (the canary's too); the stage's response cache is left alone.
async fn flush_stage_authorizers_cache(
    State(s): State<AdminState>,
    Path((api, stage)): Path<(String, String)>,
) -> Result<Response> {
    s.store.stage(&api, &stage).await?;
    if let Some(compiled) = s.gateway.snapshot().stage(&api, &stage) {
        compiled.flush_authorizer_caches();
    }
    Ok(accepted())
}

async fn create_domain_name(State(s): State<AdminState>, raw: Bytes) -> Result<Response> {
    let input: CreateDomainNameInput = body(&raw)?;
    if let (Some(cert), Some(key)) = (&input.certificate_body, &input.certificate_private_key) {
        // The certificate must be usable by the TLS listener: parsed, and the key its own.
        portico_gateway::tls::CertKey::from_pem(cert, input.certificate_chain.as_deref(), key)
            .map_err(|e| {
                portico_control::ControlError::bad_request(format!("Invalid certificate: {e}"))
            })?;
    }
    Ok(created(
        s.store
            .modify_account(|a| a.create_domain_name(input))
            .await?,
    ))
}

async fn list_domain_names(State(s): State<AdminState>, Query(q): Q) -> Result<Response> {
    page(s.store.account_state().await?.domain_names, &q)
}

async fn get_domain_name(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Response> {
    let st = s.store.account_state().await?;
    Ok(Json(st.domain_name(&name)?).into_response())
}

async fn update_domain_name(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateDomainNameInput")?;
    Ok(Json(
        s.store
            .modify_account(|a| a.update_domain_name(&name, &ops))
            .await?,
    )
    .into_response())
}

async fn delete_domain_name(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Response> {
    s.store
        .modify_account(|a| a.delete_domain_name(&name))
        .await?;
    Ok(accepted())
}

async fn create_mapping(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let input: CreateBasePathMappingInput = body(&raw)?;
    Ok(created(
        s.store
            .modify_account(|a| a.create_base_path_mapping(&name, input))
            .await?,
    ))
}

async fn list_mappings(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response> {
    let st = s.store.account_state().await?;
    page(st.base_path_mappings(&name)?, &q)
}

async fn get_mapping(
    State(s): State<AdminState>,
    Path((name, base)): Path<(String, String)>,
) -> Result<Response> {
    let st = s.store.account_state().await?;
    Ok(Json(st.base_path_mapping(&name, &base)?).into_response())
}

async fn update_mapping(
    State(s): State<AdminState>,
    Path((name, base)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateBasePathMappingInput")?;
    Ok(Json(
        s.store
            .modify_account(|a| a.update_base_path_mapping(&name, &base, &ops))
            .await?,
    )
    .into_response())
}

async fn delete_mapping(
    State(s): State<AdminState>,
    Path((name, base)): Path<(String, String)>,
) -> Result<Response> {
    s.store
        .modify_account(|a| a.delete_base_path_mapping(&name, &base))
        .await?;
    Ok(accepted())
}

async fn create_vpc_link(State(s): State<AdminState>, raw: Bytes) -> Result<Response> {
    let input: CreateVpcLinkInput = body(&raw)?;
    let link = s.store.modify_account(|a| a.create_vpc_link(input)).await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(link)).into_response())
}

async fn list_vpc_links(State(s): State<AdminState>, Query(q): Q) -> Result<Response> {
    page(s.store.account_state().await?.vpc_links, &q)
}

async fn get_vpc_link(State(s): State<AdminState>, Path(id): Path<String>) -> Result<Response> {
    let st = s.store.account_state().await?;
    Ok(Json(st.vpc_link(&id)?).into_response())
}

async fn update_vpc_link(
    State(s): State<AdminState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateVpcLinkInput")?;
    Ok(Json(
        s.store
            .modify_account(|a| a.update_vpc_link(&id, &ops))
            .await?,
    )
    .into_response())
}

async fn delete_vpc_link(State(s): State<AdminState>, Path(id): Path<String>) -> Result<Response> {
    s.store.modify_account(|a| a.delete_vpc_link(&id)).await?;
    Ok(accepted())
}

async fn create_access_association(State(s): State<AdminState>, raw: Bytes) -> Result<Response> {
    let input: CreateAccessAssociationInput = body(&raw)?;
    Ok(created(
        s.store
            .modify_account(|a| a.create_access_association(input))
            .await?,
    ))
}

async fn list_access_associations(State(s): State<AdminState>, Query(q): Q) -> Result<Response> {
    let st = s.store.account_state().await?;
    let owner_other = q
        .get("resourceOwner")
        .is_some_and(|o| o == "OTHER_ACCOUNTS");
    // Everything here belongs to this account; OTHER_ACCOUNTS lists nothing.
    let items: Vec<_> = if owner_other {
        Vec::new()
    } else {
        st.access_associations
            .into_iter()
            .filter(|(_, rejected)| !rejected)
            .map(|(a, _)| a)
            .collect()
    };
    page(items, &q)
}

async fn delete_access_association(
    State(s): State<AdminState>,
    Path(arn): Path<String>,
) -> Result<Response> {
    s.store
        .modify_account(|a| a.delete_access_association(&arn))
        .await?;
    Ok(accepted())
}

async fn reject_access_association(State(s): State<AdminState>, Query(q): Q) -> Result<Response> {
    let arn = q
        .get("domainNameAccessAssociationArn")
        .cloned()
        .unwrap_or_default();
    let domain = q.get("domainNameArn").cloned().unwrap_or_default();
    s.store
        .modify_account(|a| a.reject_access_association(&arn, &domain))
        .await?;
    Ok(accepted())
}

#[derive(Debug, Default, Deserialize)]
struct GenerateClientCertInput {
    description: Option<String>,
    tags: Option<Map<String>>,
}

async fn generate_client_cert(State(s): State<AdminState>, raw: Bytes) -> Result<Response> {
    let input: GenerateClientCertInput = body(&raw)?;
    Ok(created(
        s.store
            .modify_account(|a| a.generate_client_certificate(input.description, input.tags))
            .await?,
    ))
}

async fn list_client_certs(State(s): State<AdminState>, Query(q): Q) -> Result<Response> {
    let certs: Vec<_> = s
        .store
        .account_state()
        .await?
        .client_certificates
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    page(certs, &q)
}

async fn get_client_cert(State(s): State<AdminState>, Path(id): Path<String>) -> Result<Response> {
    let st = s.store.account_state().await?;
    Ok(Json(st.client_certificate(&id)?).into_response())
}

async fn update_client_cert(
    State(s): State<AdminState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateClientCertificateInput")?;
    Ok(Json(
        s.store
            .modify_account(|a| a.update_client_certificate(&id, &ops))
            .await?,
    )
    .into_response())
}

async fn delete_client_cert(
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response> {
    s.store
        .modify_account(|a| a.delete_client_certificate(&id))
        .await?;
    Ok(accepted())
}

async fn get_usage(
    State(s): State<AdminState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response> {
    let start = q.get("startDate").cloned().unwrap_or_default();
    let end = q.get("endDate").cloned().unwrap_or_default();
    let usage = s
        .store
        .usage(&id, q.get("keyId").map(String::as_str), &start, &end)
        .await?;
    Ok(Json(usage).into_response())
}

async fn update_usage(
    State(s): State<AdminState>,
    Path((id, key)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let ops = patch_ops(&raw, "updateUsageInput")?;
    Ok(Json(s.store.update_usage(&id, &key, &ops).await?).into_response())
}

/// The `tagKeys` of an `UntagResource` query, decoded.
pub(crate) fn tag_keys(raw: Option<&str>) -> Vec<String> {
    raw.unwrap_or_default()
        .split('&')
        .filter_map(|p| p.strip_prefix("tagKeys="))
        .map(|k| {
            percent_encoding::percent_decode_str(k)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}
