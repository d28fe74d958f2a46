//! `x-amazon-apigateway-integration` → [`Integration`].

use crate::diag::{Diags, JsonPath};
use crate::fields::{
    Obj, kind, member, object, opt_bool, opt_i64, opt_str, opt_string_list, opt_string_map,
    opt_text,
};
use crate::paths::PathTemplate;
use portico_model::{
    DEFAULT_TIMEOUT_MILLIS, Integration, IntegrationResponse, IntegrationType, MIN_TIMEOUT_MILLIS,
    Map, TlsConfig,
};
use serde_json::Value;

const ALLOWED_TYPES: &str = "mock, http, http_proxy, aws, aws_proxy";
const HTTP_METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY",
];
const PARAM_LOCATIONS: [&str; 5] = [
    "path",
    "querystring",
    "header",
    "multivaluequerystring",
    "multivalueheader",
];

/// The operation an integration belongs to.
pub(crate) struct Operation<'a> {
    /// `GET`, …, or `ANY`.
    pub(crate) verb: &'a str,
    /// The resource's path template.
    pub(crate) template: &'a PathTemplate,
}

/// Reads an integration. Problems go to `d`; `None` when the integration is unusable
/// (an error has then been recorded).
pub(crate) fn build_integration(
    d: &mut Diags,
    value: &Value,
    path: &JsonPath,
    op: &Operation<'_>,
) -> Option<Integration> {
    let obj = object(d, value, path, "x-amazon-apigateway-integration")?;
    let errors_before = d.errors.len();
    let kind = integration_type(d, obj, path);
    let mut integration = Integration::new(kind.unwrap_or(IntegrationType::Mock));

    integration.request_parameters = request_parameters(d, obj, path);
    integration.request_templates = opt_string_map(d, obj, "requestTemplates", path);
    integration.http_method = http_method(d, obj, path, kind, op.verb);
    integration.uri = uri(
        d,
        obj,
        path,
        kind,
        op.template,
        &integration.request_parameters,
    );
    integration.passthrough_behavior = enum_upper(
        d,
        obj,
        "passthroughBehavior",
        path,
        &["WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER"],
    );
    integration.content_handling = content_handling(d, obj, path);
    integration.timeout_in_millis = timeout(d, obj, path);
    integration.cache_namespace = opt_str(d, obj, "cacheNamespace", path).map(str::to_owned);
    integration.cache_key_parameters = opt_string_list(d, obj, "cacheKeyParameters", path);
    integration.connection_type =
        enum_upper(d, obj, "connectionType", path, &["INTERNET", "VPC_LINK"]);
    // As PutIntegration: HTTP integrations default to INTERNET (exports leave it out).
    if integration.connection_type.is_none()
        && matches!(
            integration.kind,
            IntegrationType::Http | IntegrationType::HttpProxy
        )
    {
        integration.connection_type = Some("INTERNET".to_owned());
    }
    integration.connection_id = opt_str(d, obj, "connectionId", path).map(str::to_owned);
    if integration.connection_type.as_deref() == Some("VPC_LINK")
        && integration.connection_id.is_none()
    {
        d.error(
            &path.key("connectionId"),
            "connectionId is required when connectionType is VPC_LINK",
        );
    }
    integration.credentials = opt_str(d, obj, "credentials", path).map(str::to_owned);
    integration.tls_config = tls_config(d, obj, path);
    integration.integration_responses = responses(d, obj, path);

    if let Some(k @ (IntegrationType::Aws | IntegrationType::AwsProxy)) = kind {
        d.warn(
            path,
            format!(
                "integration type {} is stored but not executed by this Portico version; requests to it return 500",
                k.as_str()
            ),
        );
    }
    (kind.is_some() && d.errors.len() == errors_before).then_some(integration)
}

fn integration_type(d: &mut Diags, obj: &Obj, path: &JsonPath) -> Option<IntegrationType> {
    let here = path.key("type");
    match member(obj, "type") {
        None => {
            d.error(
                &here,
                format!("missing integration type; allowed values: {ALLOWED_TYPES}"),
            );
            None
        }
        Some(Value::String(s)) => {
            let parsed = IntegrationType::parse(s);
            if parsed.is_none() {
                d.error(
                    &here,
                    format!("unknown integration type '{s}'; allowed values: {ALLOWED_TYPES}"),
                );
            }
            parsed
        }
        Some(other) => {
            d.error(
                &here,
                format!(
                    "integration type must be a string, found {}; allowed values: {ALLOWED_TYPES}",
                    kind(other)
                ),
            );
            None
        }
    }
}

fn http_method(
    d: &mut Diags,
    obj: &Obj,
    path: &JsonPath,
    kind: Option<IntegrationType>,
    verb: &str,
) -> Option<String> {
    let here = path.key("httpMethod");
    match opt_str(d, obj, "httpMethod", path) {
        Some(m) => {
            let upper = m.to_ascii_uppercase();
            if HTTP_METHODS.contains(&upper.as_str()) {
                Some(upper)
            } else {
                d.error(
                    &here,
                    format!(
                        "unknown HTTP method '{m}'; allowed values: {}",
                        HTTP_METHODS.join(", ")
                    ),
                );
                None
            }
        }
        None => match kind {
            Some(IntegrationType::Http | IntegrationType::HttpProxy) => Some(verb.to_owned()),
            Some(k @ (IntegrationType::Aws | IntegrationType::AwsProxy)) => {
                if member(obj, "httpMethod").is_none() {
                    d.error(
                        &here,
                        format!(
                            "httpMethod is required for {} integrations (POST for Lambda)",
                            k.as_str()
                        ),
                    );
                }
                None
            }
            Some(IntegrationType::Mock) | None => None,
        },
    }
}

fn uri(
    d: &mut Diags,
    obj: &Obj,
    path: &JsonPath,
    kind: Option<IntegrationType>,
    template: &PathTemplate,
    request_parameters: &Map<String>,
) -> Option<String> {
    let here = path.key("uri");
    let value = opt_str(d, obj, "uri", path);
    let Some(kind) = kind else {
        return value.map(str::to_owned);
    };
    let Some(uri) = value.filter(|u| !u.trim().is_empty()) else {
        if kind != IntegrationType::Mock && member(obj, "uri").is_none_or(Value::is_string) {
            d.error(
                &here,
                format!("uri is required for {} integrations", kind.as_str()),
            );
        }
        return None;
    };
    match kind {
        IntegrationType::Http | IntegrationType::HttpProxy => {
            if !portico_model::checks::is_http_endpoint(uri) {
                d.error(
                    &here,
                    format!(
                        "Invalid HTTP endpoint specified for URI: {uri} (an absolute http:// or https:// URL with a host, a port in 1-65535 and URI characters is needed for {} integrations)",
                        kind.as_str()
                    ),
                );
            }
        }
        IntegrationType::Aws | IntegrationType::AwsProxy => {
            if !uri.starts_with("arn:") {
                d.error(
                    &here,
                    format!(
                        "uri must be an ARN (arn:aws:apigateway:{{region}}:{{service}}:…) for {} integrations: {uri}",
                        kind.as_str()
                    ),
                );
            }
        }
        IntegrationType::Mock => {}
    }
    check_placeholders(d, &here, uri, template, request_parameters);
    Some(uri.to_owned())
}

/// `{name}` placeholders (not `${stageVariables.x}`) must name a path parameter of the resource or
/// a mapped `integration.request.path.name`.
fn check_placeholders(
    d: &mut Diags,
    here: &JsonPath,
    uri: &str,
    template: &PathTemplate,
    request_parameters: &Map<String>,
) {
    let mut rest = uri;
    while let Some(open) = rest.find('{') {
        let is_variable = rest[..open].ends_with('$');
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            d.error(here, format!("unterminated '{{' in uri: {uri}"));
            return;
        };
        let name = &after[..close];
        rest = &after[close + 1..];
        if is_variable {
            continue;
        }
        let mapped = request_parameters.contains_key(&format!("integration.request.path.{name}"));
        let bare = name.strip_suffix('+').unwrap_or(name);
        if !mapped && !template.has_param(bare) {
            d.error(
                here,
                format!(
                    "uri placeholder {{{name}}} is neither a path parameter of the resource nor mapped by requestParameters (integration.request.path.{name})"
                ),
            );
        }
    }
}

fn request_parameters(d: &mut Diags, obj: &Obj, path: &JsonPath) -> Map<String> {
    let map = opt_string_map(d, obj, "requestParameters", path);
    let here = path.key("requestParameters");
    for (dest, source) in &map {
        let location = dest
            .strip_prefix("integration.request.")
            .and_then(|r| r.split_once('.'))
            .filter(|(loc, name)| PARAM_LOCATIONS.contains(loc) && !name.is_empty());
        if location.is_none() {
            d.error(
                &here.key(dest),
                format!(
                    "invalid mapping destination '{dest}'; expected integration.request.{{{}}}.{{name}}",
                    PARAM_LOCATIONS.join("|")
                ),
            );
        }
        if !is_mapping_source(source) {
            d.error(
                &here.key(dest),
                format!(
                    "invalid mapping source '{source}'; expected method.request.…, 'static value', stageVariables.… or context.…"
                ),
            );
        }
    }
    map
}

fn is_mapping_source(source: &str) -> bool {
    (source.len() >= 2 && source.starts_with('\'') && source.ends_with('\''))
        || ["method.request.", "stageVariables.", "context."]
            .iter()
            .any(|p| source.starts_with(p) && source.len() > p.len())
}

fn enum_upper(
    d: &mut Diags,
    obj: &Obj,
    key: &str,
    path: &JsonPath,
    allowed: &[&str],
) -> Option<String> {
    let v = opt_str(d, obj, key, path)?;
    let upper = v.to_ascii_uppercase();
    if allowed.contains(&upper.as_str()) {
        Some(upper)
    } else {
        let allowed: Vec<String> = allowed.iter().map(|a| a.to_ascii_lowercase()).collect();
        d.error(
            &path.key(key),
            format!(
                "unknown {key} '{v}'; allowed values: {}",
                allowed.join(", ")
            ),
        );
        None
    }
}

fn content_handling(d: &mut Diags, obj: &Obj, path: &JsonPath) -> Option<String> {
    enum_upper(
        d,
        obj,
        "contentHandling",
        path,
        &["CONVERT_TO_BINARY", "CONVERT_TO_TEXT"],
    )
}

fn timeout(d: &mut Diags, obj: &Obj, path: &JsonPath) -> i64 {
    match opt_i64(d, obj, "timeoutInMillis", path) {
        Some(t) if (MIN_TIMEOUT_MILLIS..=DEFAULT_TIMEOUT_MILLIS).contains(&t) => t,
        Some(t) => {
            d.error(
                &path.key("timeoutInMillis"),
                format!(
                    "timeoutInMillis must be between {MIN_TIMEOUT_MILLIS} and {DEFAULT_TIMEOUT_MILLIS}, found {t}"
                ),
            );
            DEFAULT_TIMEOUT_MILLIS
        }
        None => DEFAULT_TIMEOUT_MILLIS,
    }
}

fn tls_config(d: &mut Diags, obj: &Obj, path: &JsonPath) -> Option<TlsConfig> {
    let v = member(obj, "tlsConfig")?;
    let here = path.key("tlsConfig");
    let tls = object(d, v, &here, "tlsConfig")?;
    Some(TlsConfig {
        insecure_skip_verification: opt_bool(d, tls, "insecureSkipVerification", &here)
            .unwrap_or(false),
    })
}

/// `responses`: selection pattern (or `default`) → response, stored by status code.
fn responses(d: &mut Diags, obj: &Obj, path: &JsonPath) -> Map<IntegrationResponse> {
    let mut out: Map<IntegrationResponse> = Map::new();
    let Some(v) = member(obj, "responses") else {
        return out;
    };
    let here = path.key("responses");
    let Some(map) = object(d, v, &here, "responses") else {
        return out;
    };
    for (pattern, response) in map {
        let at = here.key(pattern);
        let Some(r) = object(d, response, &at, "an integration response") else {
            continue;
        };
        let Some(status) = opt_text(d, r, "statusCode", &at) else {
            if member(r, "statusCode").is_none() {
                d.error(&at.key("statusCode"), "missing statusCode");
            }
            continue;
        };
        if !is_status_code(&status) {
            d.error(
                &at.key("statusCode"),
                format!("statusCode must be an HTTP status code (100-599), found '{status}'"),
            );
            continue;
        }
        if pattern != "default"
            && let Some(why) = portico_model::checks::selection_pattern_error(pattern)
        {
            d.error(
                &at,
                format!("Invalid selection pattern specified: {pattern} ({why})"),
            );
            continue;
        }
        let response = IntegrationResponse {
            status_code: status.clone(),
            selection_pattern: (pattern != "default").then(|| pattern.clone()),
            response_parameters: opt_string_map(d, r, "responseParameters", &at),
            response_templates: opt_string_map(d, r, "responseTemplates", &at),
            content_handling: content_handling(d, r, &at),
        };
        if let Some(previous) = out.insert(status.clone(), response) {
            let previous = previous.selection_pattern.as_deref().unwrap_or("default");
            d.warn(
                &at,
                format!(
                    "responses '{previous}' and '{pattern}' both map to statusCode {status}; API Gateway keeps one integration response per status code, so '{pattern}' replaces '{previous}'"
                ),
            );
        }
    }
    out
}

/// Whether `s` is a three-digit HTTP status code (100–599).
pub(crate) fn is_status_code(s: &str) -> bool {
    s.len() == 3
        && s.bytes().all(|b| b.is_ascii_digit())
        && (b'1'..=b'5').contains(&s.as_bytes()[0])
}
