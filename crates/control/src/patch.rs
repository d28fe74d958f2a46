//! `patchOperations` (the body of every v1 `Update*` call), applied to model objects with AWS's
//! path rules: JSON-pointer paths with `~1` for `/` and `~0` for `~`, string values, and only
//! `add`, `remove` and `replace`. Paths each object accepts are listed in the error AWS returns.

use crate::ControlError;
use portico_model::{
    AccessLogSettings, ApiKeySource, CanarySettings, Integration, IntegrationResponse, Method,
    MethodResponse, MethodSetting, RestApi, Stage, TlsConfig,
};
use serde::Deserialize;

/// One patch operation.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PatchOperation {
    /// `add`, `remove`, `replace` (`move`, `copy`, `test` are refused).
    pub op: String,
    /// JSON-pointer path; a missing one reads as `null`, the word AWS's messages use for it.
    #[serde(default = "missing_path")]
    pub path: String,
    /// The new value, always a string on the wire.
    #[serde(default)]
    pub value: Option<String>,
    /// For `move`/`copy`.
    #[serde(default)]
    pub from: Option<String>,
}

fn missing_path() -> String {
    "null".to_owned()
}

/// `{"patchOperations": [...]}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchBody {
    /// The operations, applied in order.
    #[serde(default)]
    pub patch_operations: Vec<PatchOperation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Remove,
    Replace,
}

fn op(o: &PatchOperation) -> Result<Op, ControlError> {
    match o.op.as_str() {
        "add" => Ok(Op::Add),
        "remove" => Ok(Op::Remove),
        "replace" => Ok(Op::Replace),
        _ => Err(invalid_op()),
    }
}

/// The `op` values botocore's model allows; anything else fails input validation.
pub const OP_ENUM: [&str; 6] = ["add", "remove", "move", "test", "replace", "copy"];

/// One violation per operation whose `op` is outside [`OP_ENUM`], named after the operation's
/// input shape (`input` is e.g. `updateRestApiInput`) and the 1-based position in the list.
pub fn op_violations(input: &str, ops: &[PatchOperation]) -> Vec<String> {
    let constraint = format!(
        "Member must satisfy enum value set: [{}]",
        OP_ENUM.join(", ")
    );
    ops.iter()
        .enumerate()
        .filter(|(_, o)| !OP_ENUM.contains(&o.op.as_str()))
        .map(|(n, o)| {
            crate::violation(
                &o.op,
                &format!("{input}.patchOperations.{}.member.op", n + 1),
                &constraint,
            )
        })
        .collect()
}

/// `ValidationException` when any `op` is outside the enum, before any state is read.
pub fn check_ops(input: &str, ops: &[PatchOperation]) -> Result<(), ControlError> {
    match ControlError::validation(&op_violations(input, ops)) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// [`check_ops`] for the operations addressed by a `statusCode` (`UpdateMethodResponse`,
/// `UpdateIntegrationResponse`): a bad code is one more violation in the same error, after the
/// ops'.
pub fn check_ops_and_status(
    input: &str,
    ops: &[PatchOperation],
    status_code: &str,
) -> Result<(), ControlError> {
    let mut violations = op_violations(input, ops);
    violations.extend(crate::status_code_violation(status_code));
    match ControlError::validation(&violations) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// AWS's error for `move`, `copy` and `test` (valid ops no path accepts).
pub fn invalid_op() -> ControlError {
    ControlError::bad_request("Invalid patch operation specified. Must be 'add'|'remove'|'replace'")
}

/// AWS's error for an `add`/`remove` on an object whose paths only take `replace` (note AWS's
/// double space).
pub fn unsupported_op(o: &PatchOperation) -> ControlError {
    ControlError::bad_request(format!(
        "Invalid patch path  '{}' specified for op '{}'. Please choose supported operations",
        o.path, o.op
    ))
}

/// AWS's error for `add`/`remove` on a path that only takes `replace`.
fn only_replace() -> ControlError {
    ControlError::bad_request("Invalid patch operation specified. Must be one of: [replace]")
}

/// AWS's short error for a path an object does not know (`Invalid patch path /x`, the path as
/// sent).
pub fn bad_path(o: &PatchOperation) -> ControlError {
    ControlError::bad_request(format!("Invalid patch path {}", o.path))
}

/// A boolean read as Java's `Boolean.parseBoolean` does: `true` in any case, anything else false.
fn lenient_bool(o: &PatchOperation) -> bool {
    o.value
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The value of an `add`/`replace` on a map entry that must not be null or empty; `what` names
/// the map in AWS's message.
fn non_empty<'a>(o: &'a PatchOperation, what: &str) -> Result<&'a str, ControlError> {
    match o.value.as_deref() {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ControlError::bad_request(format!(
            "Invalid null or empty value in {what}"
        ))),
    }
}

/// Splits a pointer into unescaped segments.
fn segments(path: &str) -> Vec<String> {
    path.strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// AWS's error for a path the object does not accept (note AWS's double space).
pub fn invalid_path(o: &PatchOperation, allowed: &[&str]) -> ControlError {
    ControlError::bad_request(format!(
        "Invalid patch path  '{}' specified for op '{}'. Must be one of: [{}]",
        o.path,
        o.op,
        allowed.join(", ")
    ))
}

fn value(o: &PatchOperation) -> Result<&str, ControlError> {
    o.value.as_deref().ok_or_else(|| {
        ControlError::bad_request(format!(
            "Invalid null or empty value in patch operation for path {}",
            o.path
        ))
    })
}

fn parse_bool(o: &PatchOperation) -> Result<bool, ControlError> {
    match value(o)? {
        "true" => Ok(true),
        "false" => Ok(false),
        v => Err(ControlError::bad_request(format!(
            "Invalid boolean value '{v}' for {}",
            o.path
        ))),
    }
}

fn parse_i64(o: &PatchOperation) -> Result<i64, ControlError> {
    value(o)?.trim().parse().map_err(|_| {
        ControlError::bad_request(format!(
            "Invalid number value '{}' for {}",
            value(o).unwrap_or(""),
            o.path
        ))
    })
}

fn parse_f64(o: &PatchOperation) -> Result<f64, ControlError> {
    value(o)?.trim().parse().map_err(|_| {
        ControlError::bad_request(format!(
            "Invalid number value '{}' for {}",
            value(o).unwrap_or(""),
            o.path
        ))
    })
}

/// Set or clear an optional string on `replace`/`add`/`remove`.
fn opt_string(
    o: &PatchOperation,
    kind: Op,
    field: &mut Option<String>,
) -> Result<(), ControlError> {
    *field = match kind {
        Op::Remove => None,
        _ => Some(value(o)?.to_owned()),
    };
    Ok(())
}

/// `UpdateRestApi`.
pub fn patch_rest_api(api: &mut RestApi, ops: &[PatchOperation]) -> Result<(), ControlError> {
    const ALLOWED: [&str; 10] = [
        "/name",
        "/description",
        "/version",
        "/apiKeySource",
        "/binaryMediaTypes/{type}",
        "/minimumCompressionSize",
        "/policy",
        "/disableExecuteApiEndpoint",
        "/endpointConfiguration/types/0",
        "/endpointConfiguration/ipAddressType",
    ];
    for o in ops {
        let kind = op(o)?;
        let seg = segments(&o.path);
        match (seg.first().map(String::as_str), seg.len(), kind) {
            (Some("name"), 1, Op::Replace) => {
                let v = value(o)?;
                if v.trim().is_empty() {
                    return Err(ControlError::bad_request(
                        "Invalid REST API name specified: name must be non-empty",
                    ));
                }
                api.name = v.to_owned();
            }
            (Some("description"), 1, _) => opt_string(o, kind, &mut api.description)?,
            (Some("version"), 1, _) => opt_string(o, kind, &mut api.version)?,
            (Some("policy"), 1, _) => opt_string(o, kind, &mut api.policy)?,
            (Some("apiKeySource"), 1, Op::Replace) => {
                api.api_key_source = match value(o)? {
                    "HEADER" => ApiKeySource::Header,
                    "AUTHORIZER" => ApiKeySource::Authorizer,
                    v => {
                        return Err(ControlError::bad_request(format!(
                            "Invalid API Key Source specified: {v}. Valid options are HEADER,AUTHORIZER"
                        )));
                    }
                }
            }
            (Some("binaryMediaTypes"), 2, Op::Add) => {
                let t = seg[1].clone();
                if !api.binary_media_types.contains(&t) {
                    api.binary_media_types.push(t);
                }
            }
            (Some("binaryMediaTypes"), 2, Op::Remove) => {
                api.binary_media_types.retain(|t| *t != seg[1]);
            }
            (Some("binaryMediaTypes"), 2, Op::Replace) => {
                let v = value(o)?.to_owned();
                api.binary_media_types.retain(|t| *t != seg[1]);
                api.binary_media_types.push(v);
            }
            (Some("minimumCompressionSize"), 1, Op::Remove) => api.minimum_compression_size = None,
            (Some("minimumCompressionSize"), 1, Op::Add) => return Err(only_replace()),
            (Some("minimumCompressionSize"), 1, Op::Replace) => {
                // null or "" disables compression; anything else must be a number in range.
                api.minimum_compression_size = match o.value.as_deref().unwrap_or("") {
                    "" => None,
                    v => Some(
                        v.parse::<i64>()
                            .ok()
                            .filter(|n| crate::COMPRESSION_RANGE.contains(n))
                            .ok_or_else(crate::invalid_compression_size)?,
                    ),
                };
            }
            (Some("binaryMediaTypes"), 1, _) => {
                return Err(ControlError::bad_request(format!(
                    "Invalid patch path {}",
                    o.path
                )));
            }
            (Some("disableExecuteApiEndpoint"), 1, Op::Replace) => {
                api.disable_execute_api_endpoint = parse_bool(o)?
            }
            (Some("endpointConfiguration"), 3, Op::Replace) if seg[1] == "types" => {
                let v = value(o)?;
                if !matches!(v, "EDGE" | "REGIONAL" | "PRIVATE") {
                    return Err(ControlError::bad_request(
                        "Invalid EndpointTypes specified. Valid options are REGIONAL,EDGE,PRIVATE",
                    ));
                }
                api.endpoint_configuration.types = vec![v.to_owned()];
                // A private API is dualstack only; AWS switches it.
                if v == "PRIVATE" {
                    api.endpoint_configuration.ip_address_type = Some("dualstack".to_owned());
                }
            }
            (Some("endpointConfiguration"), 2, Op::Replace) if seg[1] == "ipAddressType" => {
                let v = o.value.as_deref().unwrap_or("");
                if !matches!(v, "ipv4" | "dualstack") {
                    return Err(ControlError::bad_request(
                        "ipAddressType must be either ipv4 or dualstack.",
                    ));
                }
                let ec = &mut api.endpoint_configuration;
                if v == "ipv4" && ec.types.iter().any(|t| t == "PRIVATE") {
                    return Err(ControlError::bad_request(
                        "Only dualstack ipAddressType is supported for Private APIs.",
                    ));
                }
                ec.ip_address_type = Some(v.to_owned());
            }
            (Some("endpointConfiguration"), 2, _) if seg[1] == "ipAddressType" => {
                return Err(only_replace());
            }
            // AWS answers the generic op error here, not the path list.
            (Some("endpointConfiguration"), 3, _) if seg[1] == "types" => {
                return Err(invalid_op());
            }
            _ => return Err(invalid_path(o, &ALLOWED)),
        }
    }
    Ok(())
}

/// `UpdateResource` paths (`/pathPart`, `/parentId`); the caller re-validates the tree.
pub fn resource_changes(
    ops: &[PatchOperation],
) -> Result<(Option<String>, Option<String>), ControlError> {
    const ALLOWED: [&str; 2] = ["/parentId", "/pathPart"];
    let (mut part, mut parent) = (None, None);
    for o in ops {
        match (op(o)?, o.path.as_str()) {
            (Op::Replace, "/pathPart") => part = Some(value(o)?.to_owned()),
            (Op::Replace, "/parentId") => parent = Some(value(o)?.to_owned()),
            (Op::Replace, _) => return Err(invalid_path(o, &ALLOWED)),
            _ => return Err(unsupported_op(o)),
        }
    }
    Ok((part, parent))
}

fn map_entry<V>(
    o: &PatchOperation,
    kind: Op,
    map: &mut portico_model::Map<V>,
    key: String,
    parse: impl Fn(&PatchOperation) -> Result<V, ControlError>,
) -> Result<(), ControlError> {
    match kind {
        Op::Remove => {
            map.remove(&key);
        }
        _ => {
            map.insert(key, parse(o)?);
        }
    }
    Ok(())
}

/// `UpdateMethod` on the method alone; [`crate::ApiState::update_method`] checks the
/// authorizer and request validator it names.
pub fn patch_method(m: &mut Method, ops: &[PatchOperation]) -> Result<(), ControlError> {
    for o in ops {
        let kind = op(o)?;
        let seg = segments(&o.path);
        match (seg.first().map(String::as_str), seg.len(), kind) {
            // Scalars only take `replace`; the optional ones may also be removed.
            (Some("authorizationType" | "apiKeyRequired"), 1, Op::Add | Op::Remove)
            | (Some("authorizerId" | "operationName" | "requestValidatorId"), 1, Op::Add) => {
                return Err(only_replace());
            }
            (Some("authorizationType"), 1, _) => {
                let v = value(o)?;
                if !matches!(v, "NONE" | "AWS_IAM" | "CUSTOM" | "COGNITO_USER_POOLS") {
                    return Err(ControlError::bad_request(format!(
                        "Invalid authorization type specified: {v}. Valid options are NONE,AWS_IAM,CUSTOM,COGNITO_USER_POOLS"
                    )));
                }
                m.authorization_type = v.to_owned();
            }
            (Some("authorizerId"), 1, _) => opt_string(o, kind, &mut m.authorizer_id)?,
            (Some("apiKeyRequired"), 1, _) => m.api_key_required = lenient_bool(o),
            (Some("operationName"), 1, _) => opt_string(o, kind, &mut m.operation_name)?,
            (Some("requestValidatorId"), 1, _) => {
                opt_string(o, kind, &mut m.request_validator_id)?;
                // An empty id takes the validator off the method.
                m.request_validator_id.take_if(|id| id.is_empty());
            }
            (Some("requestParameters"), 2, _) => {
                map_entry(o, kind, &mut m.request_parameters, seg[1].clone(), |o| {
                    if o.value.is_none() {
                        Ok(false)
                    } else {
                        parse_bool(o)
                    }
                })?
            }
            (Some("requestModels"), 2, _) => {
                map_entry(o, kind, &mut m.request_models, seg[1].clone(), |o| {
                    value(o).map(str::to_owned)
                })?
            }
            (Some("authorizationScopes"), _, Op::Add) => {
                m.authorization_scopes.push(value(o)?.to_owned())
            }
            (Some("authorizationScopes"), _, Op::Remove) => {
                let v = o.value.clone().unwrap_or_default();
                m.authorization_scopes.retain(|s| *s != v);
            }
            _ => return Err(bad_path(o)),
        }
    }
    if matches!(
        m.authorization_type.as_str(),
        "CUSTOM" | "COGNITO_USER_POOLS"
    ) {
        if m.authorizer_id.is_none() {
            return Err(invalid_authorizer());
        }
    } else {
        // AWS keeps no authorizer on a method that does not use one.
        m.authorizer_id = None;
    }
    Ok(())
}

/// AWS's error for CUSTOM/COGNITO_USER_POOLS authorization without an authorizer that exists.
pub fn invalid_authorizer() -> ControlError {
    ControlError::bad_request(
        "Invalid authorizer ID specified. Setting the authorization type to CUSTOM or COGNITO_USER_POOLS requires a valid authorizer.",
    )
}

/// `replace`/`remove` of a map entry the object lacks: AWS's 404 naming what is missing.
fn existing_key<V>(
    map: &portico_model::Map<V>,
    key: &str,
    kind: Op,
    missing: &str,
) -> Result<(), ControlError> {
    if kind != Op::Add && !map.contains_key(key) {
        return Err(ControlError::not_found(missing));
    }
    Ok(())
}

/// `UpdateMethodResponse`.
pub fn patch_method_response(
    r: &mut MethodResponse,
    ops: &[PatchOperation],
) -> Result<(), ControlError> {
    for o in ops {
        let kind = op(o)?;
        let seg = segments(&o.path);
        match (seg.first().map(String::as_str), seg.len()) {
            (Some("responseParameters"), 2) => {
                existing_key(
                    &r.response_parameters,
                    &seg[1],
                    kind,
                    "Invalid parameter name specified",
                )?;
                map_entry(o, kind, &mut r.response_parameters, seg[1].clone(), |o| {
                    if o.value.is_none() {
                        Ok(false)
                    } else {
                        parse_bool(o)
                    }
                })?
            }
            (Some("responseModels"), 2) => {
                existing_key(
                    &r.response_models,
                    &seg[1],
                    kind,
                    "Content-Type specified was not found",
                )?;
                map_entry(o, kind, &mut r.response_models, seg[1].clone(), |o| {
                    value(o).map(str::to_owned)
                })?
            }
            _ => return Err(bad_path(o)),
        }
    }
    Ok(())
}

/// `UpdateIntegration`.
pub fn patch_integration(i: &mut Integration, ops: &[PatchOperation]) -> Result<(), ControlError> {
    const ALLOWED: [&str; 13] = [
        "/uri",
        "/httpMethod",
        "/passthroughBehavior",
        "/timeoutInMillis",
        "/contentHandling",
        "/requestTemplates/{contentType}",
        "/requestParameters/{name}",
        "/cacheNamespace",
        "/cacheKeyParameters/{name}",
        "/connectionType",
        "/connectionId",
        "/credentials",
        "/tlsConfig/insecureSkipVerification",
    ];
    for o in ops {
        let kind = op(o)?;
        let seg = segments(&o.path);
        match (seg.first().map(String::as_str), seg.len()) {
            (Some("uri"), 1) => opt_string(o, kind, &mut i.uri)?,
            (Some("httpMethod"), 1) => {
                opt_string(o, kind, &mut i.http_method)?;
                if let Some(m) = i.http_method.as_deref() {
                    crate::valid_http_method(m)?;
                }
            }
            (Some("passthroughBehavior"), 1) => {
                opt_string(o, kind, &mut i.passthrough_behavior)?;
                if let Some(p) = i.passthrough_behavior.as_deref()
                    && !matches!(p, "WHEN_NO_MATCH" | "WHEN_NO_TEMPLATES" | "NEVER")
                {
                    return Err(ControlError::bad_request(format!(
                        "Invalid passthrough behavior specified: {p}. Valid options are WHEN_NO_MATCH,WHEN_NO_TEMPLATES,NEVER"
                    )));
                }
            }
            (Some("timeoutInMillis"), 1) => {
                let t = parse_i64(o)?;
                if !(50..=29_000).contains(&t) {
                    return Err(ControlError::bad_request(
                        "Timeout should be between 50 ms and 29000 ms",
                    ));
                }
                i.timeout_in_millis = t;
            }
            (Some("contentHandling"), 1) => opt_string(o, kind, &mut i.content_handling)?,
            (Some("requestTemplates"), 2) => {
                map_entry(o, kind, &mut i.request_templates, seg[1].clone(), |o| {
                    Ok(o.value.clone().unwrap_or_default())
                })?
            }
            (Some("requestParameters"), 2) => {
                map_entry(o, kind, &mut i.request_parameters, seg[1].clone(), |o| {
                    value(o).map(str::to_owned)
                })?
            }
            (Some("cacheNamespace"), 1) => opt_string(o, kind, &mut i.cache_namespace)?,
            (Some("cacheKeyParameters"), 2) => match kind {
                Op::Remove => i.cache_key_parameters.retain(|p| *p != seg[1]),
                _ => {
                    if !i.cache_key_parameters.contains(&seg[1]) {
                        i.cache_key_parameters.push(seg[1].clone());
                    }
                }
            },
            (Some("connectionType"), 1) => opt_string(o, kind, &mut i.connection_type)?,
            (Some("connectionId"), 1) => opt_string(o, kind, &mut i.connection_id)?,
            (Some("credentials"), 1) => opt_string(o, kind, &mut i.credentials)?,
            (Some("tlsConfig"), 2) if seg[1] == "insecureSkipVerification" => {
                i.tls_config = Some(TlsConfig {
                    insecure_skip_verification: kind != Op::Remove && parse_bool(o)?,
                });
            }
            _ => return Err(invalid_path(o, &ALLOWED)),
        }
    }
    Ok(())
}

/// `UpdateIntegrationResponse`.
pub fn patch_integration_response(
    r: &mut IntegrationResponse,
    ops: &[PatchOperation],
) -> Result<(), ControlError> {
    const ALLOWED: [&str; 4] = [
        "/selectionPattern",
        "/responseParameters/{name}",
        "/responseTemplates/{contentType}",
        "/contentHandling",
    ];
    for o in ops {
        let kind = op(o)?;
        let seg = segments(&o.path);
        match (seg.first().map(String::as_str), seg.len()) {
            (Some("selectionPattern"), 1) => opt_string(o, kind, &mut r.selection_pattern)?,
            (Some("contentHandling"), 1) => opt_string(o, kind, &mut r.content_handling)?,
            (Some("responseParameters"), 2) => {
                map_entry(o, kind, &mut r.response_parameters, seg[1].clone(), |o| {
                    value(o).map(str::to_owned)
                })?
            }
            (Some("responseTemplates"), 2) => {
                map_entry(o, kind, &mut r.response_templates, seg[1].clone(), |o| {
                    Ok(o.value.clone().unwrap_or_default())
                })?
            }
            _ => return Err(invalid_path(o, &ALLOWED)),
        }
    }
    Ok(())
}

/// `UpdateGatewayResponse`.
pub fn patch_gateway_response(
    r: &mut portico_model::GatewayResponse,
    ops: &[PatchOperation],
) -> Result<(), ControlError> {
    for o in ops {
        let kind = op(o)?;
        let seg = segments(&o.path);
        match (seg.first().map(String::as_str), seg.len(), kind) {
            (Some("statusCode"), 1, Op::Replace) => r.status_code = Some(value(o)?.to_owned()),
            (Some("responseParameters"), 2, Op::Remove) => {
                r.response_parameters.remove(&seg[1]);
            }
            (Some("responseParameters"), 2, _) => {
                let v = non_empty(o, "responseParameters")?.to_owned();
                existing_key(
                    &r.response_parameters,
                    &seg[1],
                    kind,
                    "Invalid parameter name specified",
                )?;
                r.response_parameters.insert(seg[1].clone(), v);
            }
            (Some("responseTemplates"), 2, Op::Remove) => {
                r.response_templates.remove(&seg[1]);
            }
            (Some("responseTemplates"), 2, _) => {
                let v = non_empty(o, "responseTemplates")?.to_owned();
                r.response_templates.insert(seg[1].clone(), v);
            }
            _ => return Err(bad_path(o)),
        }
    }
    Ok(())
}

/// A method setting created by a stage patch starts from AWS's materialised defaults.
fn new_method_setting() -> MethodSetting {
    MethodSetting {
        throttling_burst_limit: 5000,
        throttling_rate_limit: 10000.0,
        ..MethodSetting::default()
    }
}

/// The paths AWS lists when an `UpdateStage` path is unknown, as its message spells them
/// (including its missing separators).
const STAGE_PATHS: &str = "/deploymentId, /description, /cacheClusterEnabled, /cacheClusterSize, \
/clientCertificateId, /accessLogSettings, /accessLogSettings/destinationArn, /accessLogSettings/format, \
/{resourcePath}/{httpMethod}/metrics/enabled, /{resourcePath}/{httpMethod}/logging/dataTrace, \
/{resourcePath}/{httpMethod}/logging/loglevel, /{resourcePath}/{httpMethod}/throttling/burstLimit\
/{resourcePath}/{httpMethod}/throttling/rateLimit/{resourcePath}/{httpMethod}/caching/ttlInSeconds, \
/{resourcePath}/{httpMethod}/caching/enabled, /{resourcePath}/{httpMethod}/caching/dataEncrypted, \
/{resourcePath}/{httpMethod}/caching/requireAuthorizationForCacheControl, \
/{resourcePath}/{httpMethod}/caching/unauthorizedCacheControlHeaderStrategy, /*/*/metrics/enabled, \
/*/*/logging/dataTrace, /*/*/logging/loglevel, /*/*/throttling/burstLimit \
/*/*/throttling/rateLimit /*/*/caching/ttlInSeconds, /*/*/caching/enabled, /*/*/caching/dataEncrypted, \
/*/*/caching/requireAuthorizationForCacheControl, /*/*/caching/unauthorizedCacheControlHeaderStrategy, \
/variables/{variable_name}, /tracingEnabled";

/// AWS's error for a path `UpdateStage` does not know.
fn invalid_stage_path(o: &PatchOperation) -> ControlError {
    ControlError::bad_request(format!(
        "Invalid method setting path: {}. Must be one of: [{STAGE_PATHS}]",
        o.path
    ))
}

/// AWS's error for an `add`/`replace` under `/accessLogSettings` other than its two fields
/// (note AWS's space before the colon).
fn invalid_access_log_path() -> ControlError {
    ControlError::bad_request(
        "Invalid accessLogSettings path. Must be one of : [/accessLogSettings/destinationArn, /accessLogSettings/format]",
    )
}

/// AWS's error for a `percentTraffic` outside 0.0–100.0 (not recorded on AWS: no recording
/// sends one; the bounds are those of the `CanarySettings` documentation).
pub fn invalid_percent_traffic(v: f64) -> ControlError {
    ControlError::bad_request(format!(
        "Invalid canary percentTraffic {v}. Must be between 0.0 and 100.0"
    ))
}

/// Whether `v` is a canary traffic share AWS takes (0.0–100.0).
pub fn valid_percent_traffic(v: f64) -> bool {
    (0.0..=100.0).contains(&v)
}

/// A stage variable (or canary override) as AWS takes it: name alphanumeric or `_` (≤ 64),
/// value ≤ 512 characters of `[A-Za-z0-9-._~:/?#&=,]`.
fn check_stage_variable(name: &str, v: &str) -> Result<(), ControlError> {
    let ok_name = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok_name {
        return Err(ControlError::bad_request(format!(
            "Stage variable name must be alphanumeric or underscore: {name}"
        )));
    }
    if v.len() > 512
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:/?#&=,".contains(c))
    {
        return Err(ControlError::bad_request(format!(
            "Stage variable value for {name} contains invalid characters or is too long"
        )));
    }
    Ok(())
}

/// `copy` in `UpdateStage`: only promotes the canary — its deployment to `/deploymentId`, its
/// overrides into `/variables` (recorded on AWS).
fn copy_from_canary(s: &mut Stage, o: &PatchOperation) -> Result<(), ControlError> {
    let from = o.from.as_deref().unwrap_or("null");
    let to_deployment = match (o.path.as_str(), from) {
        ("/deploymentId", "/canarySettings/deploymentId") => true,
        ("/variables", "/canarySettings/stageVariableOverrides") => false,
        _ => {
            return Err(ControlError::bad_request(format!(
                "Invalid copy operation with path: {} and from {from}. Valid copy:path are \
                 [/deploymentId, /variables] and valid copy:from are \
                 [/canarySettings/deploymentId, /canarySettings/stageVariableOverrides]",
                o.path
            )));
        }
    };
    let Some(canary) = &s.canary_settings else {
        return Err(ControlError::bad_request(
            "Promotion not available. Canary does not exist.",
        ));
    };
    if to_deployment {
        if let Some(d) = &canary.deployment_id {
            s.deployment_id = d.clone();
        }
    } else {
        let overrides = canary.stage_variable_overrides.clone();
        s.variables.extend(overrides);
    }
    Ok(())
}

/// The stage's canary, created on the stage's own deployment at 0 % when it has none.
fn canary(s: &mut Stage) -> &mut CanarySettings {
    let base = s.deployment_id.clone();
    s.canary_settings.get_or_insert_with(|| CanarySettings {
        percent_traffic: 0.0,
        deployment_id: Some(base),
        stage_variable_overrides: Default::default(),
        use_stage_cache: false,
    })
}

/// The `/canarySettings…` paths of `UpdateStage`, as AWS takes them: every field by `replace`
/// (a first one creates the canary on the stage's own deployment at 0 %), overrides also by
/// `remove`, the whole canary only by `remove`; `add` is refused (recorded on AWS). The caller
/// checks that a new canary `deploymentId` exists.
fn patch_canary(
    s: &mut Stage,
    o: &PatchOperation,
    kind: Op,
    seg: &[String],
) -> Result<(), ControlError> {
    if seg.len() == 1 {
        return match kind {
            Op::Remove => {
                s.canary_settings = None;
                Ok(())
            }
            _ => Err(invalid_stage_path(o)),
        };
    }
    if kind == Op::Add {
        return Err(ControlError::bad_request(format!(
            "Invalid add operation with path: {}",
            o.path
        )));
    }
    match (seg[1].as_str(), seg.len(), kind) {
        ("percentTraffic", 2, Op::Replace) => {
            let v = parse_f64(o)?;
            if !valid_percent_traffic(v) {
                return Err(invalid_percent_traffic(v));
            }
            canary(s).percent_traffic = v;
        }
        ("deploymentId", 2, Op::Replace) => {
            let v = value(o)?.to_owned();
            canary(s).deployment_id = Some(v);
        }
        ("useStageCache", 2, Op::Replace) => {
            let v = parse_bool(o)?;
            canary(s).use_stage_cache = v;
        }
        ("stageVariableOverrides", 3, Op::Remove) => {
            if let Some(c) = &mut s.canary_settings {
                c.stage_variable_overrides.remove(&seg[2]);
            }
        }
        ("stageVariableOverrides", 3, _) => {
            let v = value(o)?;
            check_stage_variable(&seg[2], v)?;
            let v = v.to_owned();
            canary(s).stage_variable_overrides.insert(seg[2].clone(), v);
        }
        _ => return Err(invalid_stage_path(o)),
    }
    Ok(())
}

/// `UpdateStage` (the caller checks that a new `deploymentId` or canary `deploymentId` exists).
pub fn patch_stage(s: &mut Stage, ops: &[PatchOperation]) -> Result<(), ControlError> {
    for o in ops {
        if o.op == "copy" {
            copy_from_canary(s, o)?;
            continue;
        }
        let kind = op(o)?;
        let seg = segments(&o.path);
        let raw: Vec<&str> = o
            .path
            .strip_prefix('/')
            .unwrap_or(&o.path)
            .split('/')
            .collect();
        // A two-part `remove` (other than a stage variable) names a method setting
        // `{resourcePath}/{httpMethod}`, whatever the parts are; AWS refuses one the stage lacks
        // (note the trailing space of its message).
        if kind == Op::Remove && raw.len() == 2 && raw[0] != "variables" {
            let key = format!("{}/{}", raw[0], raw[1]);
            if s.method_settings.remove(&key).is_none() {
                return Err(ControlError::bad_request(format!(
                    "Cannot remove method setting {key} because there is no method setting for this method "
                )));
            }
            continue;
        }
        if seg.first().map(String::as_str) == Some("canarySettings") {
            patch_canary(s, o, kind, &seg)?;
            continue;
        }
        match (seg.first().map(String::as_str), seg.len(), kind) {
            (Some("deploymentId"), 1, Op::Replace) => s.deployment_id = value(o)?.to_owned(),
            (Some("description"), 1, _) => opt_string(o, kind, &mut s.description)?,
            (Some("clientCertificateId"), 1, _) => {
                opt_string(o, kind, &mut s.client_certificate_id)?
            }
            (Some("webAclArn"), 1, _) => opt_string(o, kind, &mut s.web_acl_arn)?,
            (Some("documentationVersion"), 1, _) => {
                opt_string(o, kind, &mut s.documentation_version)?
            }
            (Some("variables"), 2, _) => {
                let name = seg[1].clone();
                match kind {
                    Op::Remove => {
                        s.variables.remove(&name);
                    }
                    _ => {
                        let v = value(o)?;
                        check_stage_variable(&name, v)?;
                        s.variables.insert(name, v.to_owned());
                    }
                }
            }
            (Some("cacheClusterEnabled"), 1, Op::Replace) => {
                s.cache_cluster_enabled = parse_bool(o)?
            }
            (Some("cacheClusterSize"), 1, _) => {
                let v = value(o)?;
                if !portico_model::CACHE_CLUSTER_SIZES.contains(&v) {
                    return Err(ControlError::bad_request(format!(
                        "Invalid cache cluster size specified: {v}"
                    )));
                }
                s.cache_cluster_size = Some(v.to_owned());
            }
            (Some("tracingEnabled"), 1, Op::Replace) => s.tracing_enabled = parse_bool(o)?,
            (Some("accessLogSettings"), 2, _) => {
                let field = match seg[1].as_str() {
                    "format" => 0,
                    "destinationArn" => 1,
                    _ => return Err(invalid_access_log_path()),
                };
                let v = match o.value.as_deref() {
                    Some(v) if !v.is_empty() => v.to_owned(),
                    _ => {
                        return Err(ControlError::bad_request(
                            "Access Log value must not be empty",
                        ));
                    }
                };
                let settings = s.access_log_settings.get_or_insert(AccessLogSettings {
                    format: None,
                    destination_arn: None,
                });
                if field == 0 {
                    settings.format = Some(v);
                } else {
                    settings.destination_arn = Some(v);
                }
            }
            (Some("accessLogSettings"), 1, Op::Remove) => s.access_log_settings = None,
            (Some("accessLogSettings"), 1, _) => return Err(invalid_access_log_path()),
            _ if raw.len() > 2 && is_method_key(raw[1]) => {
                let key = format!("{}/{}", raw[0], raw[1]);
                let setting = raw[2..].join("/");
                let ms = s
                    .method_settings
                    .entry(key)
                    .or_insert_with(new_method_setting);
                match setting.as_str() {
                    "throttling/rateLimit" => ms.throttling_rate_limit = parse_f64(o)?,
                    "throttling/burstLimit" => ms.throttling_burst_limit = parse_i64(o)?,
                    "caching/enabled" => ms.caching_enabled = parse_bool(o)?,
                    "caching/ttlInSeconds" => {
                        let t = parse_i64(o)?;
                        if !(0..=3600).contains(&t) {
                            return Err(ControlError::bad_request(
                                "Cache TTL must be between 0 and 3600 seconds",
                            ));
                        }
                        ms.cache_ttl_in_seconds = t;
                    }
                    "caching/dataEncrypted" => ms.cache_data_encrypted = parse_bool(o)?,
                    "caching/requireAuthorizationForCacheControl" => {
                        ms.require_authorization_for_cache_control = parse_bool(o)?
                    }
                    "caching/unauthorizedCacheControlHeaderStrategy" => {
                        let v = value(o)?;
                        if !matches!(
                            v,
                            "FAIL_WITH_403"
                                | "SUCCEED_WITH_RESPONSE_HEADER"
                                | "SUCCEED_WITHOUT_RESPONSE_HEADER"
                        ) {
                            return Err(ControlError::bad_request(format!(
                                "Invalid unauthorized cache control header strategy: {v}"
                            )));
                        }
                        ms.unauthorized_cache_control_header_strategy = v.to_owned();
                    }
                    "metrics/enabled" => ms.metrics_enabled = parse_bool(o)?,
                    "logging/loglevel" => {
                        let v = value(o)?;
                        if !matches!(v, "OFF" | "ERROR" | "INFO") {
                            return Err(ControlError::bad_request(format!(
                                "Invalid logging level: {v}. Valid options are OFF,ERROR,INFO"
                            )));
                        }
                        ms.logging_level = v.to_owned();
                    }
                    "logging/dataTrace" => ms.data_trace_enabled = parse_bool(o)?,
                    _ => return Err(invalid_stage_path(o)),
                }
            }
            _ => return Err(invalid_stage_path(o)),
        }
    }
    s.settle_cache_status();
    Ok(())
}

fn is_method_key(m: &str) -> bool {
    m == "*" || crate::HTTP_METHODS.contains(&m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(list: &[(&str, &str, Option<&str>)]) -> Vec<PatchOperation> {
        list.iter()
            .map(|(op, path, value)| PatchOperation {
                op: (*op).into(),
                path: (*path).into(),
                value: value.map(Into::into),
                from: None,
            })
            .collect()
    }

    #[test]
    fn rest_api_paths_and_escaping() {
        let mut api = RestApi::new("a", "r");
        patch_rest_api(
            &mut api,
            &ops(&[
                ("replace", "/name", Some("b")),
                ("replace", "/description", Some("d")),
                ("add", "/binaryMediaTypes/image~1png", None),
                ("replace", "/minimumCompressionSize", Some("1024")),
            ]),
        )
        .unwrap();
        assert_eq!(api.name, "b");
        assert_eq!(api.binary_media_types, ["image/png"]);
        assert_eq!(api.minimum_compression_size, Some(1024));
        let e = patch_rest_api(&mut api, &ops(&[("replace", "/x", Some("1"))])).unwrap_err();
        assert!(
            e.message.starts_with(
                "Invalid patch path  '/x' specified for op 'replace'. Must be one of: ["
            ),
            "{}",
            e.message
        );
        let e = patch_rest_api(&mut api, &ops(&[("move", "/name", Some("1"))])).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid patch operation specified. Must be 'add'|'remove'|'replace'"
        );
    }

    #[test]
    fn stage_method_settings() {
        let mut s = Stage::new("test", "d");
        patch_stage(
            &mut s,
            &ops(&[
                ("replace", "/test/GET/throttling/burstLimit", Some("124")),
                ("replace", "/*/*/metrics/enabled", Some("true")),
                ("replace", "/variables/backend", Some("127.0.0.1:9")),
            ]),
        )
        .unwrap();
        assert_eq!(s.method_settings["test/GET"].throttling_burst_limit, 124);
        assert_eq!(s.method_settings["test/GET"].throttling_rate_limit, 10000.0);
        assert!(s.method_settings["*/*"].metrics_enabled);
        assert_eq!(s.variables["backend"], "127.0.0.1:9");
        patch_stage(&mut s, &ops(&[("remove", "/*/*", None)])).unwrap();
        assert!(!s.method_settings.contains_key("*/*"));
    }

    #[test]
    fn method_and_integration() {
        let mut m = Method::new("GET");
        patch_method(
            &mut m,
            &ops(&[
                ("replace", "/apiKeyRequired", Some("true")),
                (
                    "add",
                    "/requestParameters/method.request.header.x",
                    Some("true"),
                ),
            ]),
        )
        .unwrap();
        assert!(m.api_key_required);
        assert!(m.request_parameters["method.request.header.x"]);
        let e = patch_method(
            &mut m,
            &ops(&[("replace", "/authorizationType", Some("CUSTOM"))]),
        )
        .unwrap_err();
        assert!(e.message.starts_with("Invalid authorizer ID specified."));
        let mut i = Integration::new(portico_model::IntegrationType::Mock);
        patch_integration(
            &mut i,
            &ops(&[
                ("replace", "/timeoutInMillis", Some("500")),
                ("add", "/requestTemplates/application~1json", Some("{}")),
            ]),
        )
        .unwrap();
        assert_eq!(i.timeout_in_millis, 500);
        assert_eq!(i.request_templates["application/json"], "{}");
        assert!(
            patch_integration(&mut i, &ops(&[("replace", "/timeoutInMillis", Some("1"))])).is_err()
        );
    }
}
