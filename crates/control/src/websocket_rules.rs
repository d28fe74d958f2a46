//! What WebSocket APIs (`protocolType: WEBSOCKET`) check differently from HTTP APIs: a route
//! selection expression instead of quick create and CORS, free-form route keys, all five
//! integration types with templates, REQUEST authorizers on `$connect` only. Pure checks over
//! the model's objects (a leaf: the API's commands in [`crate::http`] call them).

use crate::ControlError;
use portico_model::http::{Authorizer, Integration, Route};
use portico_model::websocket::{CONNECT, is_predefined};

/// The longest WebSocket route key accepted.
const MAX_ROUTE_KEY: usize = 128;

/// The most an integration of a WebSocket API may take.
const MAX_TIMEOUT_MS: i64 = 29_000;

/// `CreateApi` of a WebSocket API: a route selection expression, no quick create, no CORS.
pub(crate) fn check_create(
    route_selection_expression: Option<&str>,
    has_cors: bool,
    quick_create: bool,
    api_key_selection_expression: Option<&str>,
) -> Result<(), ControlError> {
    if route_selection_expression.is_none() {
        return Err(ControlError::bad_request(
            "RouteSelectionExpression is required for WebSocket APIs",
        ));
    }
    if quick_create {
        return Err(ControlError::bad_request(
            "Quick create (Target, RouteKey) is supported only for HTTP APIs",
        ));
    }
    check_update(
        route_selection_expression,
        has_cors,
        api_key_selection_expression,
    )
}

/// `UpdateApi` of a WebSocket API.
pub(crate) fn check_update(
    route_selection_expression: Option<&str>,
    has_cors: bool,
    api_key_selection_expression: Option<&str>,
) -> Result<(), ControlError> {
    if has_cors {
        return Err(ControlError::bad_request(
            "CORS configuration is supported only for HTTP APIs",
        ));
    }
    if let Some(expr) = route_selection_expression {
        check_route_selection_expression(expr)?;
    }
    if let Some(e) = api_key_selection_expression
        && !matches!(
            e,
            "$request.header.x-api-key" | "$context.authorizer.usageIdentifierKey"
        )
    {
        return Err(ControlError::bad_request(format!(
            "Invalid API key selection expression {e}: expected $request.header.x-api-key or $context.authorizer.usageIdentifierKey"
        )));
    }
    Ok(())
}

/// A route selection expression: `$request.body.<path>`, or text with `${request.body.<path>}`
/// parts (the selection key is the text with each part replaced).
pub fn check_route_selection_expression(expr: &str) -> Result<(), ControlError> {
    let bad = || {
        ControlError::bad_request(format!(
            "Invalid route selection expression {expr}: expected $request.body.<path>, as in $request.body.action"
        ))
    };
    if expr.is_empty() || expr.len() > 256 {
        return Err(bad());
    }
    let body_path = |p: &str| {
        p.strip_prefix("request.body.").is_some_and(|rest| {
            !rest.is_empty()
                && rest.split('.').all(|s| {
                    !s.is_empty()
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
                })
        })
    };
    if let Some(p) = expr.strip_prefix('$')
        && !p.starts_with('{')
    {
        return if body_path(p) { Ok(()) } else { Err(bad()) };
    }
    let mut rest = expr;
    let mut parts = 0;
    while let Some(i) = rest.find('$') {
        let after = rest[i + 1..].strip_prefix('{').ok_or_else(bad)?;
        let end = after.find('}').ok_or_else(bad)?;
        if !body_path(&after[..end]) {
            return Err(bad());
        }
        parts += 1;
        rest = &after[end + 1..];
    }
    if parts == 0 {
        return Err(bad());
    }
    Ok(())
}

/// A WebSocket route key: `$connect`, `$disconnect`, `$default` or a selection value.
pub(crate) fn check_route_key(key: &str) -> Result<(), ControlError> {
    if key.is_empty() || key.len() > MAX_ROUTE_KEY {
        return Err(ControlError::bad_request(format!(
            "Invalid route key: a route key is 1-{MAX_ROUTE_KEY} characters"
        )));
    }
    if key.starts_with('$') && !is_predefined(key) {
        return Err(ControlError::bad_request(format!(
            "Invalid route key {key}: route keys starting with $ are reserved ($connect, $disconnect, $default)"
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(ControlError::bad_request(format!(
            "Invalid route key {key:?}: control characters are not allowed"
        )));
    }
    Ok(())
}

/// Authorization on WebSocket routes: only `$connect` may have any, and JWT is HTTP APIs' own.
pub(crate) fn check_route_auth(r: &Route) -> Result<(), ControlError> {
    if r.authorization_type == "JWT" {
        return Err(ControlError::bad_request(
            "JWT authorization is supported only for HTTP APIs",
        ));
    }
    if r.authorization_type != "NONE" && r.route_key != CONNECT {
        return Err(ControlError::bad_request(
            "Currently, authorization is restricted to the $connect route only",
        ));
    }
    if let Some(e) = r.route_response_selection_expression.as_deref()
        && e != "$default"
    {
        return Err(ControlError::bad_request(format!(
            "Invalid route response selection expression {e}: only $default is supported"
        )));
    }
    Ok(())
}

/// Fills an integration's defaults and checks what WebSocket APIs accept.
pub(crate) fn settle_integration(i: &mut Integration) -> Result<(), ControlError> {
    let proxy = matches!(i.integration_type.as_str(), "AWS_PROXY" | "HTTP_PROXY");
    match i.integration_type.as_str() {
        "AWS_PROXY" | "AWS" => {
            if i.integration_uri.is_none() {
                return Err(ControlError::bad_request(format!(
                    "IntegrationUri is required for integration type {}",
                    i.integration_type
                )));
            }
            i.integration_method.get_or_insert_with(|| "POST".into());
        }
        "HTTP_PROXY" | "HTTP" => {
            let Some(uri) = &i.integration_uri else {
                return Err(ControlError::bad_request(format!(
                    "IntegrationUri is required for integration type {}",
                    i.integration_type
                )));
            };
            if !(uri.starts_with("http://") || uri.starts_with("https://")) {
                return Err(ControlError::bad_request(format!(
                    "Invalid integration URI specified: {uri}. The URI must be an absolute http or https URL"
                )));
            }
            match i.integration_method.as_deref() {
                None => {
                    return Err(ControlError::bad_request(format!(
                        "IntegrationMethod is required for integration type {}",
                        i.integration_type
                    )));
                }
                Some(m)
                    if ![
                        "ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
                    ]
                    .contains(&m) =>
                {
                    return Err(ControlError::bad_request(format!(
                        "Invalid HTTP method {m} specified for integrationMethod"
                    )));
                }
                Some(_) => {}
            }
        }
        "MOCK" => {}
        other => {
            return Err(ControlError::bad_request(format!(
                "Invalid integration type {other}: expected AWS, AWS_PROXY, HTTP, HTTP_PROXY or MOCK"
            )));
        }
    }
    match i.payload_format_version.as_deref() {
        None => i.payload_format_version = Some("1.0".into()),
        Some("1.0") => {}
        Some(v) => {
            return Err(ControlError::bad_request(format!(
                "Invalid PayloadFormatVersion {v}: WebSocket APIs support only 1.0"
            )));
        }
    }
    if !proxy {
        i.passthrough_behavior
            .get_or_insert_with(|| "WHEN_NO_MATCH".into());
    }
    if let Some(p) = i.passthrough_behavior.as_deref()
        && !matches!(p, "WHEN_NO_MATCH" | "NEVER" | "WHEN_NO_TEMPLATES")
    {
        return Err(ControlError::bad_request(format!(
            "Invalid passthrough behavior {p}: expected WHEN_NO_MATCH, NEVER or WHEN_NO_TEMPLATES"
        )));
    }
    check_content_handling(i.content_handling_strategy.as_deref())?;
    if let Some(t) = i.timeout_in_millis
        && !(50..=MAX_TIMEOUT_MS).contains(&t)
    {
        return Err(ControlError::bad_request(
            "Timeout should be between 50 ms and 29000 ms",
        ));
    }
    if let Some(c) = i.connection_type.as_deref()
        && c != "INTERNET"
        && c != "VPC_LINK"
    {
        return Err(ControlError::bad_request(format!(
            "Invalid connection type {c}: expected INTERNET or VPC_LINK"
        )));
    }
    for (key, value) in i.request_parameters.iter().flatten() {
        let known_key = [
            "integration.request.header.",
            "integration.request.querystring.",
            "integration.request.path.",
        ]
        .iter()
        .any(|p| key.strip_prefix(p).is_some_and(|n| !n.is_empty()));
        if !known_key {
            return Err(ControlError::bad_request(format!(
                "Invalid mapping expression specified: {key}. Expected integration.request.header.<name>, integration.request.querystring.<name> or integration.request.path.<name>"
            )));
        }
        check_source(key, value)?;
    }
    if let Some(e) = i.template_selection_expression.as_deref() {
        check_selection_expression("template", e)?;
    }
    if let Some(e) = i.integration_response_selection_expression.as_deref() {
        check_selection_expression("integration response", e)?;
    }
    Ok(())
}

/// A request parameter's source: `route.request.header.x`, `route.request.querystring.x`,
/// `context.x`, `stageVariables.x` or a quoted static value.
fn check_source(key: &str, value: &str) -> Result<(), ControlError> {
    let ok = (value.len() >= 2 && value.starts_with('\'') && value.ends_with('\''))
        || [
            "route.request.header.",
            "route.request.querystring.",
            "route.request.body.",
            "context.",
            "stageVariables.",
        ]
        .iter()
        .any(|p| value.strip_prefix(p).is_some_and(|n| !n.is_empty()));
    if ok {
        Ok(())
    } else {
        Err(ControlError::bad_request(format!(
            "Invalid mapping expression specified: {value} for {key}. Expected route.request.header.<name>, route.request.querystring.<name>, context.<name>, stageVariables.<name> or a quoted static value"
        )))
    }
}

/// A template or integration response selection expression: static text, `\$default`, or
/// `$request.body.<path>` / `${integration.response.statuscode}` style references.
fn check_selection_expression(what: &str, e: &str) -> Result<(), ControlError> {
    if e.is_empty() || e.len() > 256 {
        return Err(ControlError::bad_request(format!(
            "Invalid {what} selection expression: 1-256 characters"
        )));
    }
    Ok(())
}

pub(crate) fn check_content_handling(c: Option<&str>) -> Result<(), ControlError> {
    match c {
        None | Some("CONVERT_TO_BINARY" | "CONVERT_TO_TEXT") => Ok(()),
        Some(other) => Err(ControlError::bad_request(format!(
            "Invalid content handling strategy {other}: expected CONVERT_TO_BINARY or CONVERT_TO_TEXT"
        ))),
    }
}

/// Checks a WebSocket authorizer: REQUEST (a Lambda function) with `route.request.*`,
/// `stageVariables.*` or `context.*` identity sources.
pub(crate) fn settle_authorizer(a: &Authorizer) -> Result<(), ControlError> {
    if a.name.is_empty() {
        return Err(ControlError::bad_request("Name is required"));
    }
    if a.authorizer_type != "REQUEST" {
        return Err(ControlError::bad_request(format!(
            "Invalid authorizer type {}: WebSocket APIs support only REQUEST authorizers",
            a.authorizer_type
        )));
    }
    if a.authorizer_uri.is_none() {
        return Err(ControlError::bad_request(
            "AuthorizerUri is required for REQUEST authorizers",
        ));
    }
    if a.jwt_configuration.is_some() || a.enable_simple_responses.is_some() {
        return Err(ControlError::bad_request(
            "JwtConfiguration and EnableSimpleResponses are supported only for HTTP APIs",
        ));
    }
    if let Some(v) = a.authorizer_payload_format_version.as_deref()
        && v != "1.0"
    {
        return Err(ControlError::bad_request(format!(
            "Invalid AuthorizerPayloadFormatVersion {v}: WebSocket APIs support only 1.0"
        )));
    }
    if let Some(t) = a.authorizer_result_ttl_in_seconds
        && !(0..=3600).contains(&t)
    {
        return Err(ControlError::bad_request(
            "AuthorizerResultTtlInSeconds must be between 0 and 3600",
        ));
    }
    for s in &a.identity_source {
        let ok = [
            "route.request.header.",
            "route.request.querystring.",
            "stageVariables.",
            "context.",
        ]
        .iter()
        .any(|p| s.strip_prefix(p).is_some_and(|n| !n.is_empty()));
        if !ok {
            return Err(ControlError::bad_request(format!(
                "Invalid identity source {s}: expected route.request.header.<name>, route.request.querystring.<name>, stageVariables.<name> or context.<name>"
            )));
        }
    }
    Ok(())
}
