//! The control plane's rules for WebSocket APIs (`protocolType: WEBSOCKET`): what differs from
//! HTTP APIs at create time (a route selection expression instead of quick create and CORS,
//! free-form route keys, all five integration types with templates, REQUEST authorizers on
//! `$connect` only), and the two objects only they have: route responses and integration
//! responses, as commands on [`HttpApiState`].
//!
//! ```
//! use portico_control::http::{CreateApiInput, CreateRouteInput, HttpApiState};
//! let input: CreateApiInput = serde_json::from_str(
//!     r#"{"name": "chat", "protocolType": "WEBSOCKET",
//!         "routeSelectionExpression": "$request.body.action"}"#,
//! ).unwrap();
//! let mut state = HttpApiState::create(input, "us-east-1").unwrap();
//! let send: CreateRouteInput = serde_json::from_str(r#"{"routeKey": "sendmessage"}"#).unwrap();
//! state.create_route(send).unwrap();
//! let iam: CreateRouteInput =
//!     serde_json::from_str(r#"{"routeKey": "other", "authorizationType": "AWS_IAM"}"#).unwrap();
//! assert_eq!(state.create_route(iam).unwrap_err().kind.status(), 400);
//! ```

use crate::ControlError;
use crate::http::{CreateApiInput, HttpApiState};
use portico_model::Map;
use portico_model::http::{Authorizer, Integration, Route, new_v2_id};
use portico_model::websocket::{CONNECT, IntegrationResponse, RouteResponse, is_predefined};
use serde::Deserialize;

/// The longest WebSocket route key accepted.
const MAX_ROUTE_KEY: usize = 128;

/// The most an integration of a WebSocket API may take.
const MAX_TIMEOUT_MS: i64 = 29_000;

/// `CreateApi` of a WebSocket API: a route selection expression, no quick create, no CORS.
pub(crate) fn check_create(input: &CreateApiInput) -> Result<(), ControlError> {
    let Some(expr) = input.route_selection_expression.as_deref() else {
        return Err(ControlError::bad_request(
            "RouteSelectionExpression is required for WebSocket APIs",
        ));
    };
    check_route_selection_expression(expr)?;
    check_update(input)?;
    if input.target.is_some() || input.route_key.is_some() {
        return Err(ControlError::bad_request(
            "Quick create (Target, RouteKey) is supported only for HTTP APIs",
        ));
    }
    Ok(())
}

/// `UpdateApi` of a WebSocket API.
pub(crate) fn check_update(input: &CreateApiInput) -> Result<(), ControlError> {
    if input.cors_configuration.is_some() {
        return Err(ControlError::bad_request(
            "CORS configuration is supported only for HTTP APIs",
        ));
    }
    if let Some(expr) = input.route_selection_expression.as_deref() {
        check_route_selection_expression(expr)?;
    }
    if let Some(e) = input.api_key_selection_expression.as_deref()
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

fn check_content_handling(c: Option<&str>) -> Result<(), ControlError> {
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

/// `CreateRouteResponse` / `UpdateRouteResponse` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteResponseInput {
    /// `routeResponseKey`.
    #[serde(default)]
    pub route_response_key: Option<String>,
    /// `modelSelectionExpression`.
    #[serde(default)]
    pub model_selection_expression: Option<String>,
    /// `responseModels`.
    #[serde(default)]
    pub response_models: Option<Map<String>>,
    /// `responseParameters`.
    #[serde(default)]
    pub response_parameters: Option<Map<serde_json::Value>>,
}

/// `CreateIntegrationResponse` / `UpdateIntegrationResponse` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationResponseInput {
    /// `integrationResponseKey`.
    #[serde(default)]
    pub integration_response_key: Option<String>,
    /// `contentHandlingStrategy`.
    #[serde(default)]
    pub content_handling_strategy: Option<String>,
    /// `responseParameters`.
    #[serde(default)]
    pub response_parameters: Option<Map<String>>,
    /// `responseTemplates`.
    #[serde(default)]
    pub response_templates: Option<Map<String>>,
    /// `templateSelectionExpression`.
    #[serde(default)]
    pub template_selection_expression: Option<String>,
}

/// Route responses per route and integration responses per integration.
const MAX_RESPONSES: usize = 50;

fn only_websocket(state: &HttpApiState, what: &str) -> Result<(), ControlError> {
    if state.is_websocket() {
        Ok(())
    } else {
        Err(ControlError::bad_request(format!(
            "{what} are supported only for WebSocket APIs"
        )))
    }
}

/// An integration response key: `$default` or a `/regex/` over the integration's status.
fn check_integration_response_key(key: &str) -> Result<(), ControlError> {
    let ok = key == "$default"
        || (key.len() >= 3 && key.starts_with('/') && key.ends_with('/') && key.len() <= 256);
    if ok {
        Ok(())
    } else {
        Err(ControlError::bad_request(format!(
            "Invalid integration response key {key}: expected $default or a regular expression between slashes, as in /2\\d\\d/"
        )))
    }
}

impl HttpApiState {
    /// `GetRouteResponses`.
    pub fn route_responses(&self, route_id: &str) -> Result<Vec<RouteResponse>, ControlError> {
        self.route(route_id)?;
        Ok(self
            .route_responses
            .get(route_id)
            .cloned()
            .unwrap_or_default())
    }

    /// `GetRouteResponse`.
    pub fn route_response(&self, route_id: &str, id: &str) -> Result<RouteResponse, ControlError> {
        self.route_responses(route_id)?
            .into_iter()
            .find(|r| r.route_response_id == id)
            .ok_or_else(|| crate::http::invalid_id("RouteResponse", id))
    }

    /// `CreateRouteResponse`.
    pub fn create_route_response(
        &mut self,
        route_id: &str,
        input: RouteResponseInput,
    ) -> Result<RouteResponse, ControlError> {
        only_websocket(self, "Route responses")?;
        self.route(route_id)?;
        let key = input
            .route_response_key
            .clone()
            .ok_or_else(|| ControlError::bad_request("RouteResponseKey is required"))?;
        let list = self.route_responses.entry(route_id.into()).or_default();
        if list.iter().any(|r| r.route_response_key == key) {
            return Err(ControlError::conflict(format!(
                "Route response with key {key} already exists for this route"
            )));
        }
        if list.len() >= MAX_RESPONSES {
            return Err(ControlError::limit_exceeded(
                "Unable to create route response: the route has reached its limit",
            ));
        }
        if key != "$default" {
            return Err(ControlError::bad_request(format!(
                "Invalid route response key {key}: only $default is supported"
            )));
        }
        let r = RouteResponse {
            route_response_id: new_v2_id(6),
            route_response_key: key,
            model_selection_expression: input.model_selection_expression,
            response_models: input.response_models,
            response_parameters: input.response_parameters,
        };
        list.push(r.clone());
        Ok(r)
    }

    /// `UpdateRouteResponse`.
    pub fn update_route_response(
        &mut self,
        route_id: &str,
        id: &str,
        input: RouteResponseInput,
    ) -> Result<RouteResponse, ControlError> {
        let mut r = self.route_response(route_id, id)?;
        if let Some(k) = input.route_response_key {
            if k != "$default" {
                return Err(ControlError::bad_request(format!(
                    "Invalid route response key {k}: only $default is supported"
                )));
            }
            r.route_response_key = k;
        }
        if input.model_selection_expression.is_some() {
            r.model_selection_expression = input.model_selection_expression;
        }
        if input.response_models.is_some() {
            r.response_models = input.response_models;
        }
        if input.response_parameters.is_some() {
            r.response_parameters = input.response_parameters;
        }
        if let Some(slot) = self
            .route_responses
            .get_mut(route_id)
            .and_then(|l| l.iter_mut().find(|x| x.route_response_id == id))
        {
            *slot = r.clone();
        }
        Ok(r)
    }

    /// `DeleteRouteResponse`.
    pub fn delete_route_response(&mut self, route_id: &str, id: &str) -> Result<(), ControlError> {
        self.route_response(route_id, id)?;
        if let Some(l) = self.route_responses.get_mut(route_id) {
            l.retain(|r| r.route_response_id != id);
            if l.is_empty() {
                self.route_responses.remove(route_id);
            }
        }
        Ok(())
    }

    /// `GetIntegrationResponses`.
    pub fn integration_responses(
        &self,
        integration_id: &str,
    ) -> Result<Vec<IntegrationResponse>, ControlError> {
        self.integration(integration_id)?;
        Ok(self
            .integration_responses
            .get(integration_id)
            .cloned()
            .unwrap_or_default())
    }

    /// `GetIntegrationResponse`.
    pub fn integration_response(
        &self,
        integration_id: &str,
        id: &str,
    ) -> Result<IntegrationResponse, ControlError> {
        self.integration_responses(integration_id)?
            .into_iter()
            .find(|r| r.integration_response_id == id)
            .ok_or_else(|| crate::http::invalid_id("IntegrationResponse", id))
    }

    /// `CreateIntegrationResponse`.
    pub fn create_integration_response(
        &mut self,
        integration_id: &str,
        input: IntegrationResponseInput,
    ) -> Result<IntegrationResponse, ControlError> {
        only_websocket(self, "Integration responses")?;
        self.integration(integration_id)?;
        let key = input
            .integration_response_key
            .clone()
            .ok_or_else(|| ControlError::bad_request("IntegrationResponseKey is required"))?;
        check_integration_response_key(&key)?;
        check_content_handling(input.content_handling_strategy.as_deref())?;
        let list = self
            .integration_responses
            .entry(integration_id.into())
            .or_default();
        if list.iter().any(|r| r.integration_response_key == key) {
            return Err(ControlError::conflict(format!(
                "Integration response with key {key} already exists for this integration"
            )));
        }
        if list.len() >= MAX_RESPONSES {
            return Err(ControlError::limit_exceeded(
                "Unable to create integration response: the integration has reached its limit",
            ));
        }
        let r = IntegrationResponse {
            integration_response_id: new_v2_id(6),
            integration_response_key: key,
            content_handling_strategy: input.content_handling_strategy,
            response_parameters: input.response_parameters,
            response_templates: input.response_templates,
            template_selection_expression: input.template_selection_expression,
        };
        list.push(r.clone());
        Ok(r)
    }

    /// `UpdateIntegrationResponse`.
    pub fn update_integration_response(
        &mut self,
        integration_id: &str,
        id: &str,
        input: IntegrationResponseInput,
    ) -> Result<IntegrationResponse, ControlError> {
        let mut r = self.integration_response(integration_id, id)?;
        if let Some(k) = input.integration_response_key {
            check_integration_response_key(&k)?;
            if self.integration_responses[integration_id]
                .iter()
                .any(|x| x.integration_response_key == k && x.integration_response_id != id)
            {
                return Err(ControlError::conflict(format!(
                    "Integration response with key {k} already exists for this integration"
                )));
            }
            r.integration_response_key = k;
        }
        check_content_handling(input.content_handling_strategy.as_deref())?;
        macro_rules! set {
            ($($f:ident),*) => { $( if input.$f.is_some() { r.$f = input.$f; } )* };
        }
        set!(
            content_handling_strategy,
            response_parameters,
            response_templates,
            template_selection_expression
        );
        if let Some(slot) = self
            .integration_responses
            .get_mut(integration_id)
            .and_then(|l| l.iter_mut().find(|x| x.integration_response_id == id))
        {
            *slot = r.clone();
        }
        Ok(r)
    }

    /// `DeleteIntegrationResponse`.
    pub fn delete_integration_response(
        &mut self,
        integration_id: &str,
        id: &str,
    ) -> Result<(), ControlError> {
        self.integration_response(integration_id, id)?;
        if let Some(l) = self.integration_responses.get_mut(integration_id) {
            l.retain(|r| r.integration_response_id != id);
            if l.is_empty() {
                self.integration_responses.remove(integration_id);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{CreateAuthorizerInput, CreateIntegrationInput, CreateRouteInput};

    fn chat() -> HttpApiState {
        let input: CreateApiInput = serde_json::from_value(serde_json::json!({
            "name": "chat", "protocolType": "WEBSOCKET",
            "routeSelectionExpression": "$request.body.action"
        }))
        .unwrap();
        HttpApiState::create(input, "us-east-1").unwrap()
    }

    #[test]
    fn selection_expressions() {
        for ok in [
            "$request.body.action",
            "${request.body.action}",
            "${request.body.a.b}-${request.body.c}",
        ] {
            assert!(check_route_selection_expression(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "action",
            "$request.header.x",
            "${request.body.x",
            "$request.body.",
        ] {
            assert!(check_route_selection_expression(bad).is_err(), "{bad}");
        }
        let no_expr: CreateApiInput =
            serde_json::from_value(serde_json::json!({"name": "x", "protocolType": "WEBSOCKET"}))
                .unwrap();
        assert!(HttpApiState::create(no_expr, "us-east-1").is_err());
    }

    #[test]
    fn routes_integrations_and_authorizers() {
        let mut s = chat();
        assert_eq!(s.api.disable_schema_validation, Some(false));
        let route = |k: &str| CreateRouteInput {
            route_key: Some(k.into()),
            ..Default::default()
        };
        for k in [
            "$connect",
            "$disconnect",
            "$default",
            "send message",
            "GET /x",
        ] {
            s.create_route(route(k)).unwrap();
        }
        assert!(s.create_route(route("$other")).is_err());
        assert_eq!(
            s.create_route(route("$connect")).unwrap_err().kind.status(),
            409
        );
        let mock = s
            .create_integration(CreateIntegrationInput {
                integration_type: Some("MOCK".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(mock.timeout_in_millis, Some(29_000));
        assert_eq!(mock.passthrough_behavior.as_deref(), Some("WHEN_NO_MATCH"));
        let slow = CreateIntegrationInput {
            integration_type: Some("MOCK".into()),
            timeout_in_millis: Some(30_000),
            ..Default::default()
        };
        assert!(s.create_integration(slow).is_err());
        let jwt = CreateAuthorizerInput {
            name: Some("j".into()),
            authorizer_type: Some("JWT".into()),
            ..Default::default()
        };
        assert!(s.create_authorizer(jwt).is_err());
        let lambda = CreateAuthorizerInput {
            name: Some("l".into()),
            authorizer_type: Some("REQUEST".into()),
            authorizer_uri: Some("arn:aws:lambda:us-east-1:000000000000:function:auth".into()),
            identity_source: Some(vec!["route.request.querystring.token".into()]),
            ..Default::default()
        };
        let a = s.create_authorizer(lambda).unwrap();
        let connect = s.routes[0].route_id.clone();
        let default = s.routes[2].route_id.clone();
        let custom = |id: &str| CreateRouteInput {
            authorization_type: Some("CUSTOM".into()),
            authorizer_id: Some(id.into()),
            ..Default::default()
        };
        s.update_route(&connect, custom(&a.authorizer_id)).unwrap();
        let err = s
            .update_route(&default, custom(&a.authorizer_id))
            .unwrap_err();
        assert!(
            err.message.contains("$connect route only"),
            "{}",
            err.message
        );
    }

    #[test]
    fn route_and_integration_responses() {
        let mut s = chat();
        let r = s
            .create_route(CreateRouteInput {
                route_key: Some("$default".into()),
                route_response_selection_expression: Some("$default".into()),
                ..Default::default()
            })
            .unwrap();
        let rr = s
            .create_route_response(
                &r.route_id,
                RouteResponseInput {
                    route_response_key: Some("$default".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(s.route_responses(&r.route_id).unwrap(), vec![rr.clone()]);
        let again = RouteResponseInput {
            route_response_key: Some("$default".into()),
            ..Default::default()
        };
        assert_eq!(
            s.create_route_response(&r.route_id, again)
                .unwrap_err()
                .kind
                .status(),
            409
        );
        let i = s
            .create_integration(CreateIntegrationInput {
                integration_type: Some("MOCK".into()),
                ..Default::default()
            })
            .unwrap();
        let ir = s
            .create_integration_response(
                &i.integration_id,
                IntegrationResponseInput {
                    integration_response_key: Some("/2\\d\\d/".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        let bad = IntegrationResponseInput {
            integration_response_key: Some("200".into()),
            ..Default::default()
        };
        assert!(
            s.create_integration_response(&i.integration_id, bad)
                .is_err()
        );
        let snap = s.snapshot().unwrap();
        assert_eq!(snap.route_responses[&r.route_id].len(), 1);
        assert_eq!(
            snap.integration_responses[&i.integration_id],
            vec![ir.clone()]
        );
        s.delete_route(&r.route_id).unwrap();
        assert!(s.route_responses.is_empty());
        s.delete_integration_response(&i.integration_id, &ir.integration_response_id)
            .unwrap();
        assert!(s.integration_responses.is_empty());
    }
}
