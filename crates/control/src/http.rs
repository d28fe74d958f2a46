//! The control plane's commands over one HTTP API (`apigatewayv2`): the API, its routes,
//! integrations and authorizers as one state ([`HttpApiState`]), each operation a method that
//! changes it or returns AWS's error. Stages and deployments are the store's (they are rows of
//! their own); what a deployment freezes is [`HttpApiState::snapshot`].
//!
//! Inputs deserialise from the wire's JSON (camelCase) as they are: an update carries only the
//! fields it changes.
//!
//! ```
//! use portico_control::http::{CreateApiInput, CreateRouteInput, HttpApiState};
//! let input: CreateApiInput =
//!     serde_json::from_str(r#"{"name": "pets", "protocolType": "HTTP"}"#).unwrap();
//! let mut state = HttpApiState::create(input, "us-east-1").unwrap();
//! let route: CreateRouteInput = serde_json::from_str(r#"{"routeKey": "GET /pets"}"#).unwrap();
//! state.create_route(route.clone()).unwrap();
//! let again = state.create_route(route).unwrap_err();
//! assert_eq!(again.kind.status(), 409);
//! ```

use crate::ControlError;
use portico_model::Map;
use portico_model::http::{
    Authorizer, Cors, Deployment, HttpApi, HttpApiSnapshot, Integration, JwtConfiguration,
    ProtocolType, Route, RouteSettings, Stage, iso_date, new_v2_id,
};
use portico_model::websocket::{IntegrationResponse, RouteResponse};
use serde::Deserialize;

/// One HTTP API with everything a deployment freezes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpApiState {
    /// The API.
    pub api: HttpApi,
    /// Its routes, in creation order.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Its integrations, in creation order.
    #[serde(default)]
    pub integrations: Vec<Integration>,
    /// Its authorizers, in creation order.
    #[serde(default)]
    pub authorizers: Vec<Authorizer>,
    /// WebSocket APIs: route responses by route id.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub route_responses: Map<Vec<RouteResponse>>,
    /// WebSocket APIs: integration responses by integration id.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub integration_responses: Map<Vec<IntegrationResponse>>,
}

/// `CreateApi`'s body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiInput {
    /// `name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `protocolType`.
    #[serde(default)]
    pub protocol_type: Option<String>,
    /// `apiKeySelectionExpression`.
    #[serde(default)]
    pub api_key_selection_expression: Option<String>,
    /// `corsConfiguration`.
    #[serde(default)]
    pub cors_configuration: Option<Cors>,
    /// `credentialsArn` (quick create).
    #[serde(default)]
    pub credentials_arn: Option<String>,
    /// `description`.
    #[serde(default)]
    pub description: Option<String>,
    /// `disableSchemaValidation`.
    #[serde(default)]
    pub disable_schema_validation: Option<bool>,
    /// `disableExecuteApiEndpoint`.
    #[serde(default)]
    pub disable_execute_api_endpoint: Option<bool>,
    /// `ipAddressType`.
    #[serde(default)]
    pub ip_address_type: Option<String>,
    /// `routeKey` (quick create).
    #[serde(default)]
    pub route_key: Option<String>,
    /// `routeSelectionExpression`.
    #[serde(default)]
    pub route_selection_expression: Option<String>,
    /// `tags`.
    #[serde(default)]
    pub tags: Option<Map<String>>,
    /// `target` (quick create): a Lambda ARN or an HTTP URL.
    #[serde(default)]
    pub target: Option<String>,
    /// `version`.
    #[serde(default)]
    pub version: Option<String>,
}

/// `UpdateApi`'s body: the fields it changes.
pub type UpdateApiInput = CreateApiInput;

/// `CreateRoute` / `UpdateRoute` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRouteInput {
    /// `apiKeyRequired`.
    #[serde(default)]
    pub api_key_required: Option<bool>,
    /// `authorizationScopes`.
    #[serde(default)]
    pub authorization_scopes: Option<Vec<String>>,
    /// `authorizationType`.
    #[serde(default)]
    pub authorization_type: Option<String>,
    /// `authorizerId`.
    #[serde(default)]
    pub authorizer_id: Option<String>,
    /// `modelSelectionExpression`.
    #[serde(default)]
    pub model_selection_expression: Option<String>,
    /// `operationName`.
    #[serde(default)]
    pub operation_name: Option<String>,
    /// `requestModels`.
    #[serde(default)]
    pub request_models: Option<Map<String>>,
    /// `requestParameters`.
    #[serde(default)]
    pub request_parameters: Option<Map<serde_json::Value>>,
    /// `routeKey`.
    #[serde(default)]
    pub route_key: Option<String>,
    /// `routeResponseSelectionExpression`.
    #[serde(default)]
    pub route_response_selection_expression: Option<String>,
    /// `target`.
    #[serde(default)]
    pub target: Option<String>,
}

/// `CreateIntegration` / `UpdateIntegration` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIntegrationInput {
    /// `connectionId`.
    #[serde(default)]
    pub connection_id: Option<String>,
    /// `connectionType`.
    #[serde(default)]
    pub connection_type: Option<String>,
    /// `contentHandlingStrategy`.
    #[serde(default)]
    pub content_handling_strategy: Option<String>,
    /// `credentialsArn`.
    #[serde(default)]
    pub credentials_arn: Option<String>,
    /// `description`.
    #[serde(default)]
    pub description: Option<String>,
    /// `integrationMethod`.
    #[serde(default)]
    pub integration_method: Option<String>,
    /// `integrationResponseSelectionExpression` (WebSocket APIs).
    #[serde(default)]
    pub integration_response_selection_expression: Option<String>,
    /// `integrationSubtype`.
    #[serde(default)]
    pub integration_subtype: Option<String>,
    /// `integrationType`.
    #[serde(default)]
    pub integration_type: Option<String>,
    /// `integrationUri`.
    #[serde(default)]
    pub integration_uri: Option<String>,
    /// `passthroughBehavior`.
    #[serde(default)]
    pub passthrough_behavior: Option<String>,
    /// `payloadFormatVersion`.
    #[serde(default)]
    pub payload_format_version: Option<String>,
    /// `requestParameters`.
    #[serde(default)]
    pub request_parameters: Option<Map<String>>,
    /// `requestTemplates`.
    #[serde(default)]
    pub request_templates: Option<Map<String>>,
    /// `responseParameters`.
    #[serde(default)]
    pub response_parameters: Option<Map<Map<String>>>,
    /// `templateSelectionExpression`.
    #[serde(default)]
    pub template_selection_expression: Option<String>,
    /// `timeoutInMillis`.
    #[serde(default)]
    pub timeout_in_millis: Option<i64>,
    /// `tlsConfig`.
    #[serde(default)]
    pub tls_config: Option<serde_json::Value>,
}

/// `CreateAuthorizer` / `UpdateAuthorizer` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAuthorizerInput {
    /// `authorizerCredentialsArn`.
    #[serde(default)]
    pub authorizer_credentials_arn: Option<String>,
    /// `authorizerPayloadFormatVersion`.
    #[serde(default)]
    pub authorizer_payload_format_version: Option<String>,
    /// `authorizerResultTtlInSeconds`.
    #[serde(default)]
    pub authorizer_result_ttl_in_seconds: Option<i64>,
    /// `authorizerType`.
    #[serde(default)]
    pub authorizer_type: Option<String>,
    /// `authorizerUri`.
    #[serde(default)]
    pub authorizer_uri: Option<String>,
    /// `enableSimpleResponses`.
    #[serde(default)]
    pub enable_simple_responses: Option<bool>,
    /// `identitySource`.
    #[serde(default)]
    pub identity_source: Option<Vec<String>>,
    /// `identityValidationExpression`.
    #[serde(default)]
    pub identity_validation_expression: Option<String>,
    /// `jwtConfiguration`.
    #[serde(default)]
    pub jwt_configuration: Option<JwtConfiguration>,
    /// `name`.
    #[serde(default)]
    pub name: Option<String>,
}

/// Routes per HTTP API (AWS's quota).
pub const MAX_ROUTES: usize = 300;
/// Integrations per HTTP API (AWS's quota).
pub const MAX_INTEGRATIONS: usize = 300;
/// Authorizers per HTTP API (AWS's quota).
pub const MAX_AUTHORIZERS: usize = 10;
/// The longest route key accepted.
const MAX_ROUTE_KEY: usize = 512;

/// Where two route paths name a variable differently at the same position after the same
/// prefix: `(this one's, the other's)`.
fn variable_conflict<'a>(a: &'a str, b: &'a str) -> Option<(&'a str, &'a str)> {
    fn kind(s: &str) -> Option<(bool, &str)> {
        let inner = s.strip_prefix('{')?.strip_suffix('}')?;
        Some(match inner.strip_suffix('+') {
            Some(n) => (true, n),
            None => (false, inner),
        })
    }
    for (x, y) in a.split('/').zip(b.split('/')) {
        match (kind(x), kind(y)) {
            (Some((gx, nx)), Some((gy, ny))) if gx == gy => {
                if nx != ny {
                    return Some((x, y));
                }
            }
            (None, None) if x == y => {}
            _ => return None,
        }
    }
    None
}

/// The methods a route key may name.
const ROUTE_METHODS: [&str; 8] = [
    "ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
];

/// `Invalid API identifier specified`, v2's wording for an unknown API.
pub fn invalid_api(id: &str) -> ControlError {
    crate::invalid_api(id)
}

/// The not-found answer for a route, integration, authorizer, stage or deployment id.
pub fn invalid_id(what: &str, id: &str) -> ControlError {
    ControlError::not_found(format!("Invalid {what} identifier specified {id}"))
}

/// Checks a route key: `$default`, or `METHOD /path` with AWS's path rules.
pub fn check_route_key(key: &str) -> Result<(), ControlError> {
    if key == "$default" {
        return Ok(());
    }
    if key.len() > MAX_ROUTE_KEY {
        return Err(ControlError::bad_request(format!(
            "Invalid route key: longer than {MAX_ROUTE_KEY} characters"
        )));
    }
    let bad = || {
        ControlError::bad_request(format!(
            "Invalid route key {key}: a route key is $default or an HTTP method and a path, as in GET /pets/{{id}}"
        ))
    };
    let bad_part = || {
        ControlError::bad_request(
            "One or more path parts appear to be invalid. Parts are validated against this regular expression: ^(\\{[\\w.:-]+\\+?\\}|[a-zA-Z0-9.:_-]+)$",
        )
    };
    let (method, path) = key.split_once(' ').ok_or_else(bad)?;
    if !ROUTE_METHODS.contains(&method) {
        return Err(ControlError::bad_request(format!(
            "Invalid route key {key}: {method} is not one of ANY, GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
        )));
    }
    if !path.starts_with('/') || path.contains(' ') {
        return Err(bad());
    }
    if path == "/" {
        return Ok(());
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    let mut names = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        if s.is_empty() {
            return Err(bad_part());
        }
        if let Some(inner) = s.strip_prefix('{') {
            let Some(name) = inner.strip_suffix('}') else {
                return Err(bad_part());
            };
            let (name, greedy) = match name.strip_suffix('+') {
                Some(n) => (n, true),
                None => (name, false),
            };
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
            {
                return Err(bad_part());
            }
            if greedy && i + 1 != segments.len() {
                return Err(ControlError::bad_request(format!(
                    "Invalid route key {key}: a greedy path variable must be the last part of the path"
                )));
            }
            if names.contains(&name) {
                return Err(ControlError::bad_request(format!(
                    "Invalid route key {key}: the path variable {name} is used more than once"
                )));
            }
            names.push(name);
        } else if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
        {
            return Err(bad_part());
        }
    }
    Ok(())
}

/// Checks a CORS configuration as `CreateApi`/`UpdateApi` do.
pub fn check_cors(c: &Cors) -> Result<(), ControlError> {
    if c.allow_credentials == Some(true)
        && c.allow_origins
            .as_ref()
            .is_some_and(|o| o.iter().any(|o| o == "*"))
    {
        return Err(ControlError::bad_request(
            "allow-credentials is not supported if 'allow-origin' is *",
        ));
    }
    if let Some(m) = c.max_age
        && !(-1..=86_400).contains(&m)
    {
        return Err(ControlError::bad_request(format!(
            "1 validation error detected: Value '{m}' at 'corsConfiguration.maxAge' failed to satisfy constraint: Member must have value between -1 and 86400"
        )));
    }
    for o in c.allow_origins.iter().flatten() {
        if o != "*" && !(o.starts_with("http://") || o.starts_with("https://")) {
            return Err(ControlError::bad_request(format!(
                "Invalid origin {o}: an origin is * or a URL of the form scheme://host[:port]"
            )));
        }
    }
    for m in c.allow_methods.iter().flatten() {
        if m != "*" && !ROUTE_METHODS[1..].contains(&m.to_ascii_uppercase().as_str()) {
            return Err(ControlError::bad_request(format!(
                "Invalid HTTP method {m} in allowMethods"
            )));
        }
    }
    Ok(())
}

/// AWS fills `allowCredentials: false` when a configuration leaves it out.
fn settle_cors(mut c: Cors) -> Cors {
    c.allow_credentials.get_or_insert(false);
    c
}

fn now() -> String {
    iso_date(portico_model::now_epoch_seconds())
}

/// A Lambda function ARN (or an `apigateway` invocation URI of one) as a quick-create target.
fn is_lambda_target(t: &str) -> bool {
    t.starts_with("arn:aws:lambda:") || t.starts_with("arn:aws:apigateway:")
}

impl HttpApiState {
    /// `CreateApi` (with quick create when `target` is given: a `$default` route or `routeKey`
    /// to one integration, and a `$default` stage with `autoDeploy` — the stage is the caller's
    /// to create, see [`HttpApiState::quick_create_stage`]).
    pub fn create(input: CreateApiInput, region: &str) -> Result<Self, ControlError> {
        let name = input.name.clone().unwrap_or_default();
        if name.is_empty() || name.len() > 128 {
            return Err(ControlError::bad_request(
                "Invalid API name specified: the name must be 1-128 characters",
            ));
        }
        let protocol = match input.protocol_type.as_deref() {
            Some("HTTP") => ProtocolType::Http,
            Some("WEBSOCKET") => {
                crate::websocket_rules::check_create(
                    input.route_selection_expression.as_deref(),
                    input.cors_configuration.is_some(),
                    input.target.is_some() || input.route_key.is_some(),
                    input.api_key_selection_expression.as_deref(),
                )?;
                ProtocolType::Websocket
            }
            Some(_) => {
                return Err(ControlError::bad_request(
                    "Invalid protocol specified. Must be one of [HTTP, WEBSOCKET]",
                ));
            }
            None => {
                return Err(ControlError::bad_request(
                    "Invalid protocol specified. Must be one of [HTTP, WEBSOCKET]",
                ));
            }
        };
        if let Some(c) = &input.cors_configuration {
            check_cors(c)?;
        }
        let cors = input.cors_configuration.clone().map(settle_cors);
        if input.route_key.is_some() && input.target.is_none() {
            return Err(ControlError::bad_request(
                "RouteKey can only be specified when Target is specified",
            ));
        }
        let id = new_v2_id(10);
        let api = HttpApi {
            api_endpoint: Some(format!("https://{id}.execute-api.{region}.amazonaws.com")),
            api_id: id,
            name,
            protocol_type: protocol,
            api_key_selection_expression: Some(
                input
                    .api_key_selection_expression
                    .clone()
                    .unwrap_or_else(|| "$request.header.x-api-key".into()),
            ),
            cors_configuration: cors,
            created_date: now(),
            description: input.description.clone(),
            disable_execute_api_endpoint: input.disable_execute_api_endpoint.unwrap_or(false),
            disable_schema_validation: (protocol == ProtocolType::Websocket)
                .then(|| input.disable_schema_validation.unwrap_or(false)),
            ip_address_type: Some(
                input
                    .ip_address_type
                    .clone()
                    .unwrap_or_else(|| "ipv4".into()),
            ),
            route_selection_expression: Some(
                input
                    .route_selection_expression
                    .clone()
                    .unwrap_or_else(|| "$request.method $request.path".into()),
            ),
            tags: input.tags.clone().unwrap_or_default(),
            version: input.version.clone(),
            warnings: None,
        };
        let mut state = Self {
            api,
            routes: Vec::new(),
            integrations: Vec::new(),
            authorizers: Vec::new(),
            route_responses: Map::new(),
            integration_responses: Map::new(),
        };
        if let Some(target) = &input.target {
            let route_key = input.route_key.clone().unwrap_or_else(|| "$default".into());
            check_route_key(&route_key)?;
            let lambda = is_lambda_target(target);
            let integration = state.create_integration(CreateIntegrationInput {
                integration_type: Some(if lambda { "AWS_PROXY" } else { "HTTP_PROXY" }.into()),
                integration_uri: Some(target.clone()),
                integration_method: Some(if lambda { "POST" } else { "ANY" }.into()),
                payload_format_version: Some(if lambda { "2.0" } else { "1.0" }.into()),
                credentials_arn: input.credentials_arn.clone(),
                ..Default::default()
            })?;
            state.create_route(CreateRouteInput {
                route_key: Some(route_key),
                target: Some(format!("integrations/{}", integration.integration_id)),
                ..Default::default()
            })?;
            for r in &mut state.routes {
                r.api_gateway_managed = Some(true);
            }
            for i in &mut state.integrations {
                i.api_gateway_managed = Some(true);
            }
        }
        Ok(state)
    }

    /// `UpdateApi`: the fields given replace the API's.
    pub fn update_api(&mut self, input: UpdateApiInput) -> Result<HttpApi, ControlError> {
        if let Some(n) = &input.name {
            if n.is_empty() || n.len() > 128 {
                return Err(ControlError::bad_request(
                    "Invalid API name specified: the name must be 1-128 characters",
                ));
            }
            self.api.name = n.clone();
        }
        if self.is_websocket() {
            crate::websocket_rules::check_update(
                input.route_selection_expression.as_deref(),
                input.cors_configuration.is_some(),
                input.api_key_selection_expression.as_deref(),
            )?;
            if let Some(d) = input.disable_schema_validation {
                self.api.disable_schema_validation = Some(d);
            }
        }
        if let Some(c) = input.cors_configuration {
            check_cors(&c)?;
            self.api.cors_configuration = Some(settle_cors(c));
        }
        if input.description.is_some() {
            self.api.description = input.description;
        }
        if let Some(d) = input.disable_execute_api_endpoint {
            self.api.disable_execute_api_endpoint = d;
        }
        if input.route_selection_expression.is_some() {
            self.api.route_selection_expression = input.route_selection_expression;
        }
        if input.api_key_selection_expression.is_some() {
            self.api.api_key_selection_expression = input.api_key_selection_expression;
        }
        if input.version.is_some() {
            self.api.version = input.version;
        }
        if input.ip_address_type.is_some() {
            self.api.ip_address_type = input.ip_address_type;
        }
        Ok(self.api.clone())
    }

    /// Whether this is a WebSocket API.
    pub fn is_websocket(&self) -> bool {
        self.api.protocol_type == ProtocolType::Websocket
    }

    /// Checks a route key by the API's type.
    fn check_key(&self, key: &str) -> Result<(), ControlError> {
        if self.is_websocket() {
            crate::websocket_rules::check_route_key(key)
        } else {
            check_route_key(key)
        }
    }

    /// `DeleteCorsConfiguration`.
    pub fn delete_cors(&mut self) {
        self.api.cors_configuration = None;
    }

    /// `GetRoute`.
    pub fn route(&self, id: &str) -> Result<&Route, ControlError> {
        self.routes
            .iter()
            .find(|r| r.route_id == id)
            .ok_or_else(|| invalid_id("Route", id))
    }

    /// `GetIntegration`.
    pub fn integration(&self, id: &str) -> Result<&Integration, ControlError> {
        self.integrations
            .iter()
            .find(|i| i.integration_id == id)
            .ok_or_else(|| invalid_id("Integration", id))
    }

    /// `GetAuthorizer`.
    pub fn authorizer(&self, id: &str) -> Result<&Authorizer, ControlError> {
        self.authorizers
            .iter()
            .find(|a| a.authorizer_id == id)
            .ok_or_else(|| invalid_id("Authorizer", id))
    }

    fn check_target(&self, target: &str) -> Result<(), ControlError> {
        match target.strip_prefix("integrations/") {
            Some(id) if self.integrations.iter().any(|i| i.integration_id == id) => Ok(()),
            _ => Err(ControlError::bad_request(format!(
                "Invalid target {target}: the target must be integrations/{{integrationId}} of an integration of this API"
            ))),
        }
    }

    fn check_route_auth(&self, r: &Route) -> Result<(), ControlError> {
        if self.is_websocket() {
            crate::websocket_rules::check_route_auth(r)?;
        }
        match r.authorization_type.as_str() {
            "NONE" | "AWS_IAM" => {
                if r.authorizer_id.is_some() {
                    return Err(ControlError::bad_request(format!(
                        "Unable to set an authorizer on a route with authorization type {}",
                        r.authorization_type
                    )));
                }
            }
            "JWT" | "CUSTOM" => {
                let Some(id) = &r.authorizer_id else {
                    return Err(ControlError::bad_request(format!(
                        "AuthorizerId is required for authorization type {}",
                        r.authorization_type
                    )));
                };
                let a = self.authorizer(id).map_err(|_| {
                    ControlError::bad_request(format!("Invalid authorizer ID specified: {id}"))
                })?;
                let want = if r.authorization_type == "JWT" {
                    "JWT"
                } else {
                    "REQUEST"
                };
                if a.authorizer_type != want {
                    return Err(ControlError::bad_request(format!(
                        "Authorization type {} does not match the type of authorizer {id} ({})",
                        r.authorization_type, a.authorizer_type
                    )));
                }
            }
            other => {
                return Err(ControlError::bad_request(format!(
                    "Invalid authorization type {other}: expected NONE, AWS_IAM, CUSTOM or JWT"
                )));
            }
        }
        if r.authorization_scopes
            .as_ref()
            .is_some_and(|s| !s.is_empty())
            && r.authorization_type != "JWT"
        {
            return Err(ControlError::bad_request(
                "Authorization scopes are supported only for JWT authorizers",
            ));
        }
        Ok(())
    }

    fn check_unique_key(&self, key: &str, except: Option<&str>) -> Result<(), ControlError> {
        if self
            .routes
            .iter()
            .any(|r| r.route_key == key && Some(r.route_id.as_str()) != except)
        {
            return Err(ControlError::conflict(format!(
                "Route with key {key} already exists for this API"
            )));
        }
        if self.is_websocket() {
            return Ok(());
        }
        // One variable name per position: `/pets/{id}` and `/pets/{petId}` cannot both be
        // routed (the second would never match).
        let path = key.split_once(' ').map(|(_, p)| p);
        for r in self
            .routes
            .iter()
            .filter(|r| Some(r.route_id.as_str()) != except)
        {
            let (Some(a), Some((_, b))) = (path, r.route_key.split_once(' ')) else {
                continue;
            };
            if let Some((mine, theirs)) = variable_conflict(a, b) {
                return Err(ControlError::conflict(format!(
                    "Unable to create route {key}: the path variable {mine} conflicts with {theirs} of route {} at the same position",
                    r.route_key
                )));
            }
        }
        Ok(())
    }

    /// AWS's quotas per HTTP API.
    fn check_limits(&self) -> Result<(), ControlError> {
        let over = |what: &str, n: usize, max: usize| {
            (n > max).then(|| {
                ControlError::limit_exceeded(format!(
                    "Unable to create {what}: the API has reached its limit of {max}"
                ))
            })
        };
        if let Some(e) = over("route", self.routes.len(), MAX_ROUTES)
            .or_else(|| over("integration", self.integrations.len(), MAX_INTEGRATIONS))
            .or_else(|| over("authorizer", self.authorizers.len(), MAX_AUTHORIZERS))
        {
            return Err(e);
        }
        Ok(())
    }

    /// `CreateRoute`.
    pub fn create_route(&mut self, input: CreateRouteInput) -> Result<Route, ControlError> {
        let key = input
            .route_key
            .clone()
            .ok_or_else(|| ControlError::bad_request("Route key is required"))?;
        self.check_key(&key)?;
        self.check_unique_key(&key, None)?;
        if let Some(t) = &input.target {
            self.check_target(t)?;
        }
        let route = Route {
            route_id: new_v2_id(7),
            api_gateway_managed: None,
            route_key: key,
            api_key_required: input.api_key_required.unwrap_or(false),
            authorization_scopes: input.authorization_scopes,
            authorization_type: input.authorization_type.unwrap_or_else(|| "NONE".into()),
            authorizer_id: input.authorizer_id,
            model_selection_expression: input.model_selection_expression,
            operation_name: input.operation_name,
            request_models: input.request_models,
            request_parameters: input.request_parameters,
            route_response_selection_expression: input.route_response_selection_expression,
            target: input.target,
        };
        self.check_route_auth(&route)?;
        self.routes.push(route.clone());
        self.check_limits()?;
        Ok(route)
    }

    /// `UpdateRoute`: the fields given replace the route's.
    pub fn update_route(
        &mut self,
        id: &str,
        input: CreateRouteInput,
    ) -> Result<Route, ControlError> {
        let mut r = self.route(id)?.clone();
        if let Some(k) = input.route_key {
            self.check_key(&k)?;
            self.check_unique_key(&k, Some(id))?;
            r.route_key = k;
        }
        if let Some(t) = input.target {
            if !t.is_empty() {
                self.check_target(&t)?;
            }
            r.target = (!t.is_empty()).then_some(t);
        }
        if let Some(v) = input.api_key_required {
            r.api_key_required = v;
        }
        if let Some(t) = input.authorization_type {
            r.authorization_type = t;
            if matches!(r.authorization_type.as_str(), "NONE" | "AWS_IAM") {
                r.authorizer_id = None;
                r.authorization_scopes = None;
            }
        }
        if input.authorizer_id.is_some() {
            r.authorizer_id = input.authorizer_id;
        }
        if input.authorization_scopes.is_some() {
            r.authorization_scopes = input.authorization_scopes;
        }
        if input.operation_name.is_some() {
            r.operation_name = input.operation_name;
        }
        if input.request_parameters.is_some() {
            r.request_parameters = input.request_parameters;
        }
        if input.request_models.is_some() {
            r.request_models = input.request_models;
        }
        if input.model_selection_expression.is_some() {
            r.model_selection_expression = input.model_selection_expression;
        }
        if input.route_response_selection_expression.is_some() {
            r.route_response_selection_expression = input.route_response_selection_expression;
        }
        self.check_route_auth(&r)?;
        if let Some(slot) = self.routes.iter_mut().find(|x| x.route_id == id) {
            *slot = r.clone();
        }
        Ok(r)
    }

    /// `DeleteRoute`.
    pub fn delete_route(&mut self, id: &str) -> Result<(), ControlError> {
        self.route(id)?;
        self.routes.retain(|r| r.route_id != id);
        self.route_responses.remove(id);
        Ok(())
    }

    /// `CreateIntegration`.
    pub fn create_integration(
        &mut self,
        input: CreateIntegrationInput,
    ) -> Result<Integration, ControlError> {
        let kind = input
            .integration_type
            .clone()
            .ok_or_else(|| ControlError::bad_request("IntegrationType is required"))?;
        let mut i = Integration {
            integration_id: new_v2_id(7),
            api_gateway_managed: None,
            integration_type: kind,
            connection_id: None,
            connection_type: Some("INTERNET".into()),
            content_handling_strategy: None,
            credentials_arn: None,
            description: None,
            integration_method: None,
            integration_subtype: None,
            integration_uri: None,
            passthrough_behavior: None,
            payload_format_version: None,
            request_parameters: None,
            request_templates: None,
            response_parameters: None,
            template_selection_expression: None,
            integration_response_selection_expression: None,
            timeout_in_millis: Some(if self.is_websocket() { 29_000 } else { 30_000 }),
            tls_config: None,
        };
        apply_integration(&mut i, input);
        self.settle_integration(&mut i)?;
        self.integrations.push(i.clone());
        self.check_limits()?;
        Ok(i)
    }

    /// `UpdateIntegration`: the fields given replace the integration's.
    pub fn update_integration(
        &mut self,
        id: &str,
        input: CreateIntegrationInput,
    ) -> Result<Integration, ControlError> {
        let mut i = self.integration(id)?.clone();
        apply_integration(&mut i, input);
        self.settle_integration(&mut i)?;
        if let Some(slot) = self
            .integrations
            .iter_mut()
            .find(|x| x.integration_id == id)
        {
            *slot = i.clone();
        }
        Ok(i)
    }

    /// `DeleteIntegration`: refused while a route targets it.
    pub fn delete_integration(&mut self, id: &str) -> Result<(), ControlError> {
        self.integration(id)?;
        if let Some(r) = self.routes.iter().find(|r| r.integration_id() == Some(id)) {
            return Err(ControlError::conflict(format!(
                "Cannot delete integration {id}: it is the target of route {} ({}). Remove the route's target first.",
                r.route_id, r.route_key
            )));
        }
        self.integrations.retain(|i| i.integration_id != id);
        self.integration_responses.remove(id);
        Ok(())
    }

    /// `CreateAuthorizer`.
    pub fn create_authorizer(
        &mut self,
        input: CreateAuthorizerInput,
    ) -> Result<Authorizer, ControlError> {
        let mut a = Authorizer {
            authorizer_id: new_v2_id(7),
            name: String::new(),
            authorizer_type: String::new(),
            authorizer_credentials_arn: None,
            authorizer_payload_format_version: None,
            authorizer_result_ttl_in_seconds: None,
            authorizer_uri: None,
            enable_simple_responses: None,
            identity_source: Vec::new(),
            identity_validation_expression: None,
            jwt_configuration: None,
        };
        apply_authorizer(&mut a, input);
        self.settle_authorizer(&a)?;
        if self.authorizers.iter().any(|x| x.name == a.name) {
            return Err(ControlError::conflict(format!(
                "Unable to create Authorizer '{}': Authorizer name already exists in this API",
                a.name
            )));
        }
        self.authorizers.push(a.clone());
        self.check_limits()?;
        Ok(a)
    }

    /// `UpdateAuthorizer`.
    pub fn update_authorizer(
        &mut self,
        id: &str,
        input: CreateAuthorizerInput,
    ) -> Result<Authorizer, ControlError> {
        let mut a = self.authorizer(id)?.clone();
        let before = a.authorizer_type.clone();
        apply_authorizer(&mut a, input);
        self.settle_authorizer(&a)?;
        if self
            .authorizers
            .iter()
            .any(|x| x.name == a.name && x.authorizer_id != id)
        {
            return Err(ControlError::conflict(format!(
                "Unable to update Authorizer '{}': Authorizer name already exists in this API",
                a.name
            )));
        }
        if a.authorizer_type != before
            && self
                .routes
                .iter()
                .any(|r| r.authorizer_id.as_deref() == Some(id))
        {
            return Err(ControlError::bad_request(format!(
                "Unable to change the type of authorizer {id}: routes use it as a {before} authorizer"
            )));
        }
        if let Some(slot) = self.authorizers.iter_mut().find(|x| x.authorizer_id == id) {
            *slot = a.clone();
        }
        Ok(a)
    }

    /// `DeleteAuthorizer`: refused while a route uses it.
    pub fn delete_authorizer(&mut self, id: &str) -> Result<(), ControlError> {
        self.authorizer(id)?;
        if self
            .routes
            .iter()
            .any(|r| r.authorizer_id.as_deref() == Some(id))
        {
            return Err(ControlError::conflict(format!(
                "Cannot delete authorizer {id}: routes still use it"
            )));
        }
        self.authorizers.retain(|a| a.authorizer_id != id);
        Ok(())
    }

    /// `ImportApi` / `ReimportApi`: the API's routes, integrations and authorizers become the
    /// document's (each checked as its create call checks it); CORS, version and description
    /// too. Ids are the importer's.
    #[allow(clippy::too_many_arguments)]
    pub fn apply_import(
        &mut self,
        routes: Vec<Route>,
        integrations: Vec<Integration>,
        authorizers: Vec<Authorizer>,
        cors: Option<Cors>,
        disable_execute_api_endpoint: bool,
        version: Option<String>,
        description: Option<String>,
    ) -> Result<(), ControlError> {
        if let Some(c) = &cors {
            check_cors(c)?;
        }
        let mut next = Self {
            api: self.api.clone(),
            routes: Vec::new(),
            integrations: Vec::new(),
            authorizers: Vec::new(),
            route_responses: Map::new(),
            integration_responses: Map::new(),
        };
        for mut i in integrations {
            settle_integration(&mut i)?;
            next.integrations.push(i);
        }
        for a in authorizers {
            settle_authorizer(&a)?;
            next.authorizers.push(a);
        }
        for r in routes {
            check_route_key(&r.route_key)?;
            next.check_unique_key(&r.route_key, None)?;
            if let Some(t) = &r.target {
                next.check_target(t)?;
            }
            if r.authorization_type != "AWS_IAM" {
                next.check_route_auth(&r)?;
            }
            next.routes.push(r);
        }
        next.check_limits()?;
        next.api.cors_configuration = cors.map(settle_cors);
        next.api.disable_execute_api_endpoint = disable_execute_api_endpoint;
        if version.is_some() {
            next.api.version = version;
        }
        if description.is_some() {
            next.api.description = description;
        }
        *self = next;
        Ok(())
    }

    /// What a deployment freezes; refused when there is nothing to serve.
    pub fn snapshot(&self) -> Result<HttpApiSnapshot, ControlError> {
        if self.routes.is_empty() {
            return Err(ControlError::bad_request(
                "Unable to deploy API because no routes exist in this API",
            ));
        }
        Ok(HttpApiSnapshot {
            api: Some(self.api.clone()),
            routes: self.routes.clone(),
            integrations: self.integrations.clone(),
            authorizers: self.authorizers.clone(),
            route_responses: self.route_responses.clone(),
            integration_responses: self.integration_responses.clone(),
        })
    }

    /// Whether what a stage serves differs between two states (an auto-deploy is due).
    pub fn serves_differently(&self, other: &Self) -> bool {
        self.routes != other.routes
            || self.integrations != other.integrations
            || self.authorizers != other.authorizers
            || self.route_responses != other.route_responses
            || self.integration_responses != other.integration_responses
            || self.api.route_selection_expression != other.api.route_selection_expression
            || self.api.cors_configuration != other.api.cors_configuration
            || self.api.disable_execute_api_endpoint != other.api.disable_execute_api_endpoint
    }
}

/// The fields of `input` that are set replace those of `i`.
fn apply_integration(i: &mut Integration, input: CreateIntegrationInput) {
    macro_rules! set {
        ($($f:ident),*) => { $( if input.$f.is_some() { i.$f = input.$f; } )* };
    }
    if let Some(t) = input.integration_type {
        i.integration_type = t;
    }
    set!(
        connection_id,
        connection_type,
        content_handling_strategy,
        credentials_arn,
        description,
        integration_method,
        integration_response_selection_expression,
        integration_subtype,
        integration_uri,
        passthrough_behavior,
        payload_format_version,
        request_parameters,
        request_templates,
        response_parameters,
        template_selection_expression,
        timeout_in_millis,
        tls_config
    );
}

impl HttpApiState {
    /// Fills an integration's defaults and checks it by the API's type.
    fn settle_integration(&self, i: &mut Integration) -> Result<(), ControlError> {
        if self.is_websocket() {
            crate::websocket_rules::settle_integration(i)
        } else {
            settle_integration(i)
        }
    }

    /// Checks an authorizer by the API's type.
    fn settle_authorizer(&self, a: &Authorizer) -> Result<(), ControlError> {
        if self.is_websocket() {
            crate::websocket_rules::settle_authorizer(a)
        } else {
            settle_authorizer(a)
        }
    }
}

/// Fills the defaults an integration type implies and checks what HTTP APIs accept.
fn settle_integration(i: &mut Integration) -> Result<(), ControlError> {
    match i.integration_type.as_str() {
        "AWS_PROXY" => {
            if i.integration_subtype.is_none() && i.integration_uri.is_none() {
                return Err(ControlError::bad_request(
                    "IntegrationUri is required for integration type AWS_PROXY",
                ));
            }
            match i.payload_format_version.as_deref() {
                None if i.integration_subtype.is_some() => {
                    i.payload_format_version = Some("1.0".into());
                }
                None => {
                    return Err(ControlError::bad_request(
                        "PayloadFormatVersion is required for AWS_PROXY integrations of HTTP APIs",
                    ));
                }
                Some("1.0" | "2.0") => {}
                Some(v) => {
                    return Err(ControlError::bad_request(format!(
                        "Invalid PayloadFormatVersion {v}: expected 1.0 or 2.0"
                    )));
                }
            }
            if i.integration_method.is_none() {
                i.integration_method = Some("POST".into());
            }
        }
        "HTTP_PROXY" => {
            let Some(uri) = &i.integration_uri else {
                return Err(ControlError::bad_request(
                    "IntegrationUri is required for integration type HTTP_PROXY",
                ));
            };
            if i.connection_type.as_deref() != Some("VPC_LINK")
                && !(uri.starts_with("http://") || uri.starts_with("https://"))
            {
                return Err(ControlError::bad_request(format!(
                    "Invalid integration URI specified: {uri}. The URI must be an absolute http or https URL"
                )));
            }
            match i.payload_format_version.as_deref() {
                None => i.payload_format_version = Some("1.0".into()),
                Some("1.0") => {}
                Some(v) => {
                    return Err(ControlError::bad_request(format!(
                        "Invalid PayloadFormatVersion {v} for HTTP_PROXY integrations: only 1.0 is supported"
                    )));
                }
            }
            match i.integration_method.as_deref() {
                None => {
                    return Err(ControlError::bad_request(
                        "IntegrationMethod is required for integration type HTTP_PROXY",
                    ));
                }
                Some(m) if !ROUTE_METHODS.contains(&m) => {
                    return Err(ControlError::bad_request(format!(
                        "Invalid HTTP method {m} specified for integrationMethod"
                    )));
                }
                Some(_) => {}
            }
        }
        "HTTP" | "AWS" | "MOCK" => {
            return Err(ControlError::bad_request(
                "Currently, an API with a protocol type of HTTP may only be associated with proxy integrations (AWS_PROXY, HTTP_PROXY)",
            ));
        }
        other => {
            return Err(ControlError::bad_request(format!(
                "Invalid integration type {other}"
            )));
        }
    }
    if let Some(t) = i.timeout_in_millis
        && !(50..=30_000).contains(&t)
    {
        return Err(ControlError::bad_request(
            "Timeout should be between 50 ms and 30000 ms",
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
        check_mapping_key(key, true)?;
        check_mapping_value(key, value, true)?;
    }
    for (status, m) in i.response_parameters.iter().flatten() {
        if !(status.len() == 3
            && status.bytes().all(|b| b.is_ascii_digit())
            && ("200"..="599").contains(&status.as_str()))
        {
            return Err(ControlError::bad_request(format!(
                "Invalid status code {status} in responseParameters: expected 200-599"
            )));
        }
        for (key, value) in m {
            check_mapping_key(key, false)?;
            check_mapping_value(key, value, false)?;
        }
    }
    Ok(())
}

/// The sources a mapping value may name (`$request.header.x`, `${context.requestId}`, …).
const REQUEST_SOURCES: [&str; 7] = [
    "request.header.",
    "request.querystring.",
    "request.body.",
    "request.path.",
    "context.",
    "stageVariables.",
    "request.path",
];
const RESPONSE_SOURCES: [&str; 2] = ["response.header.", "response.body."];

/// Checks a mapping value: static text, one `$source`, or text with `${source}`s.
fn check_mapping_value(key: &str, value: &str, request: bool) -> Result<(), ControlError> {
    let known = |expr: &str| {
        REQUEST_SOURCES
            .iter()
            .chain(if request {
                [].iter()
            } else {
                RESPONSE_SOURCES.iter()
            })
            .any(|p| {
                if p.ends_with('.') {
                    expr.strip_prefix(p).is_some_and(|rest| !rest.is_empty())
                } else {
                    expr == *p
                }
            })
    };
    let bad = |expr: &str| {
        ControlError::bad_request(format!(
            "Invalid mapping expression specified: {value} for {key}. ${expr} is not a known source"
        ))
    };
    if let Some(expr) = value.strip_prefix('$')
        && !expr.starts_with('{')
        && !expr.contains(['$', ' '])
    {
        return if known(expr) { Ok(()) } else { Err(bad(expr)) };
    }
    let mut rest = value;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Err(ControlError::bad_request(format!(
                "Invalid mapping expression specified: {value} for {key}. An opening ${{ has no closing }}"
            )));
        };
        if !known(&after[..end]) {
            return Err(bad(&after[..end]));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

/// `overwrite:header.x`, `append:querystring.y`, `remove:path` …; `statuscode` on responses.
fn check_mapping_key(key: &str, request: bool) -> Result<(), ControlError> {
    let bad = || {
        ControlError::bad_request(format!(
            "Invalid mapping expression specified: {key}. The key must be of the form overwrite:, append: or remove: followed by header.<name>{}",
            if request {
                ", querystring.<name> or path"
            } else {
                " or statuscode"
            }
        ))
    };
    let (op, target) = key.split_once(':').ok_or_else(bad)?;
    if !matches!(op, "overwrite" | "append" | "remove") {
        return Err(bad());
    }
    if let Some(h) = target.strip_prefix("header.")
        && portico_model::http::is_reserved_header(h)
    {
        return Err(ControlError::bad_request(format!(
            "Invalid mapping expression specified: {key}. Header {h} is reserved and cannot be mapped"
        )));
    }
    let ok = if let Some(h) = target.strip_prefix("header.") {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b))
    } else if request {
        (target == "path" && op == "overwrite")
            || target
                .strip_prefix("querystring.")
                .is_some_and(|q| !q.is_empty())
    } else {
        target == "statuscode" && op == "overwrite"
    };
    if !ok {
        return Err(bad());
    }
    Ok(())
}

fn apply_authorizer(a: &mut Authorizer, input: CreateAuthorizerInput) {
    if let Some(n) = input.name {
        a.name = n;
    }
    if let Some(t) = input.authorizer_type {
        a.authorizer_type = t;
    }
    if let Some(s) = input.identity_source {
        a.identity_source = s;
    }
    macro_rules! set {
        ($($f:ident),*) => { $( if input.$f.is_some() { a.$f = input.$f; } )* };
    }
    set!(
        authorizer_credentials_arn,
        authorizer_payload_format_version,
        authorizer_result_ttl_in_seconds,
        authorizer_uri,
        enable_simple_responses,
        identity_validation_expression,
        jwt_configuration
    );
}

fn settle_authorizer(a: &Authorizer) -> Result<(), ControlError> {
    if a.name.is_empty() {
        return Err(ControlError::bad_request("Name is required"));
    }
    match a.authorizer_type.as_str() {
        "JWT" => {
            let issuer = a
                .jwt_configuration
                .as_ref()
                .and_then(|j| j.issuer.as_deref());
            if issuer.is_none() {
                return Err(ControlError::bad_request(
                    "JwtConfiguration.Issuer is required for JWT authorizers",
                ));
            }
            if a.identity_source.len() != 1 {
                return Err(ControlError::bad_request(
                    "A JWT authorizer takes exactly one identity source, for example $request.header.Authorization",
                ));
            }
            // AWS: Audience is required for JWT authorizers (without it any token of the
            // issuer, whatever app it was issued to, would pass).
            if a.jwt_configuration
                .as_ref()
                .and_then(|j| j.audience.as_ref())
                .is_none_or(|l| l.iter().all(String::is_empty))
            {
                return Err(ControlError::bad_request(
                    "JwtConfiguration.Audience is required for JWT authorizers",
                ));
            }
        }
        "REQUEST" => {
            if a.authorizer_uri.is_none() {
                return Err(ControlError::bad_request(
                    "AuthorizerUri is required for REQUEST authorizers",
                ));
            }
            match a.authorizer_payload_format_version.as_deref() {
                Some("1.0" | "2.0") => {}
                None => {
                    return Err(ControlError::bad_request(
                        "AuthorizerPayloadFormatVersion is required for REQUEST authorizers of HTTP APIs",
                    ));
                }
                Some(v) => {
                    return Err(ControlError::bad_request(format!(
                        "Invalid AuthorizerPayloadFormatVersion {v}: expected 1.0 or 2.0"
                    )));
                }
            }
            if a.enable_simple_responses == Some(true)
                && a.authorizer_payload_format_version.as_deref() != Some("2.0")
            {
                return Err(ControlError::bad_request(
                    "Simple responses are supported only with authorizer payload format version 2.0",
                ));
            }
        }
        other => {
            return Err(ControlError::bad_request(format!(
                "Invalid authorizer type {other}: expected JWT or REQUEST"
            )));
        }
    }
    if let Some(t) = a.authorizer_result_ttl_in_seconds
        && !(0..=3600).contains(&t)
    {
        return Err(ControlError::bad_request(
            "AuthorizerResultTtlInSeconds must be between 0 and 3600",
        ));
    }
    for s in &a.identity_source {
        if !(s.starts_with("$request.header.")
            || s.starts_with("$request.querystring.")
            || s.starts_with("$context.")
            || s.starts_with("$stageVariables."))
        {
            return Err(ControlError::bad_request(format!(
                "Invalid identity source {s}: expected $request.header.<name>, $request.querystring.<name>, $context.<name> or $stageVariables.<name>"
            )));
        }
    }
    Ok(())
}

/// `CreateStage` / `UpdateStage` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateStageInput {
    /// `accessLogSettings`.
    #[serde(default)]
    pub access_log_settings: Option<portico_model::http::AccessLogSettings>,
    /// `autoDeploy`.
    #[serde(default)]
    pub auto_deploy: Option<bool>,
    /// `clientCertificateId`.
    #[serde(default)]
    pub client_certificate_id: Option<String>,
    /// `defaultRouteSettings`.
    #[serde(default)]
    pub default_route_settings: Option<RouteSettings>,
    /// `deploymentId`.
    #[serde(default)]
    pub deployment_id: Option<String>,
    /// `description`.
    #[serde(default)]
    pub description: Option<String>,
    /// `routeSettings`.
    #[serde(default)]
    pub route_settings: Option<Map<RouteSettings>>,
    /// `stageName`.
    #[serde(default)]
    pub stage_name: Option<String>,
    /// `stageVariables`.
    #[serde(default)]
    pub stage_variables: Option<Map<String>>,
    /// `tags`.
    #[serde(default)]
    pub tags: Option<Map<String>>,
}

/// `$default`, or 1–128 of `a-zA-Z0-9_-`.
pub fn check_stage_name(name: &str) -> Result<(), ControlError> {
    let ok = name == Stage::DEFAULT
        || (!name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    if ok {
        Ok(())
    } else {
        Err(ControlError::bad_request(format!(
            "Stage name only allows a-zA-Z0-9_- or $default and must be 1-128 characters: {name}"
        )))
    }
}

/// Stage variable names and values as AWS allows them.
fn check_stage_variables(vars: &Map<String>) -> Result<(), ControlError> {
    for (k, v) in vars {
        if k.is_empty()
            || k.len() > 64
            || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(ControlError::bad_request(format!(
                "Stage variable name {k} is invalid: names take 1-64 of a-zA-Z0-9_"
            )));
        }
        if v.len() > 2048 {
            return Err(ControlError::bad_request(format!(
                "Stage variable value of {k} is longer than 2048 characters"
            )));
        }
    }
    Ok(())
}

fn check_route_settings(s: &RouteSettings) -> Result<(), ControlError> {
    if s.throttling_burst_limit.is_some_and(|b| b < 0)
        || s.throttling_rate_limit
            .is_some_and(|r| r < 0.0 || !r.is_finite())
    {
        return Err(ControlError::bad_request(
            "Throttling limits must be non-negative numbers",
        ));
    }
    Ok(())
}

impl HttpApiState {
    /// A new stage from `CreateStage`'s input (its deployment, if named, is checked by the store).
    pub fn new_stage(&self, input: CreateStageInput) -> Result<Stage, ControlError> {
        let name = input
            .stage_name
            .clone()
            .ok_or_else(|| ControlError::bad_request("Stage name is required"))?;
        check_stage_name(&name)?;
        let now = now();
        let mut stage = Stage {
            stage_name: name,
            access_log_settings: None,
            api_gateway_managed: None,
            auto_deploy: false,
            client_certificate_id: None,
            created_date: now.clone(),
            default_route_settings: RouteSettings {
                detailed_metrics_enabled: Some(false),
                ..Default::default()
            },
            deployment_id: None,
            description: None,
            last_deployment_status_message: None,
            last_updated_date: now,
            route_settings: Map::new(),
            stage_variables: Map::new(),
            tags: Map::new(),
        };
        self.apply_stage(&mut stage, input)?;
        Ok(stage)
    }

    /// `UpdateStage`: the fields given replace the stage's.
    pub fn apply_stage(
        &self,
        stage: &mut Stage,
        input: CreateStageInput,
    ) -> Result<(), ControlError> {
        if let Some(v) = input.stage_variables {
            check_stage_variables(&v)?;
            stage.stage_variables = v;
        }
        if let Some(d) = input.default_route_settings {
            check_route_settings(&d)?;
            stage.default_route_settings = d;
        }
        if let Some(rs) = input.route_settings {
            for (key, s) in &rs {
                // Only keys the call adds must name a route: one kept from before (its route
                // since deleted or renamed) does not block the stage.
                let added = !stage.route_settings.contains_key(key);
                if added && !self.routes.iter().any(|r| &r.route_key == key) {
                    return Err(ControlError::not_found(format!(
                        "Unable to find Route by key {key} within the provided RouteSettings"
                    )));
                }
                check_route_settings(s)?;
            }
            stage.route_settings = rs;
        }
        if let Some(a) = input.auto_deploy {
            stage.auto_deploy = a;
        }
        if input.description.is_some() {
            stage.description = input.description;
        }
        if input.access_log_settings.is_some() {
            stage.access_log_settings = input.access_log_settings;
        }
        if input.client_certificate_id.is_some() {
            stage.client_certificate_id = input.client_certificate_id;
        }
        if let Some(t) = input.tags {
            stage.tags.extend(t);
        }
        if input.deployment_id.is_some() {
            stage.deployment_id = input.deployment_id;
        }
        stage.last_updated_date = now();
        Ok(())
    }
}

/// A new deployment record.
pub fn new_deployment(description: Option<String>, auto: bool) -> Deployment {
    Deployment {
        deployment_id: new_v2_id(6),
        auto_deployed: auto,
        created_date: now(),
        deployment_status: "DEPLOYED".into(),
        deployment_status_message: None,
        description: if auto {
            Some("Automatic deployment triggered by changes to the Api configuration".into())
        } else {
            description
        },
    }
}

/// What an auto-deployed stage says about its last deployment.
pub fn deployed_message(id: &str) -> String {
    format!("Successfully deployed stage with deployment ID '{id}'")
}

/// What an auto-deployed stage says when its deployment failed.
pub fn failed_deployment_message(e: &ControlError) -> String {
    format!("Deployment attempt failed: {}", e.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> HttpApiState {
        HttpApiState::create(
            serde_json::from_value(serde_json::json!({"name": "a", "protocolType": "HTTP"}))
                .unwrap(),
            "us-east-1",
        )
        .unwrap()
    }

    #[test]
    fn route_keys() {
        for ok in [
            "$default",
            "GET /",
            "ANY /pets/{id}",
            "POST /a/{proxy+}",
            "OPTIONS /x",
        ] {
            check_route_key(ok).unwrap();
        }
        for bad in [
            "GET",
            "GET pets",
            "FOO /x",
            "get /x",
            "GET /{proxy+}/x",
            "GET //x",
            "GET /{a}/{a}",
            "GET /x{",
            "$connect",
        ] {
            assert!(check_route_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quick_create_lambda_and_http() {
        let s = HttpApiState::create(
            serde_json::from_value(serde_json::json!({
                "name": "q", "protocolType": "HTTP",
                "target": "arn:aws:lambda:us-east-1:000000000000:function:f"
            }))
            .unwrap(),
            "us-east-1",
        )
        .unwrap();
        assert_eq!(s.routes[0].route_key, "$default");
        assert_eq!(s.integrations[0].integration_type, "AWS_PROXY");
        assert_eq!(
            s.integrations[0].payload_format_version.as_deref(),
            Some("2.0")
        );
        let s = HttpApiState::create(
            serde_json::from_value(serde_json::json!({
                "name": "q", "protocolType": "HTTP", "target": "http://example.com",
                "routeKey": "GET /x"
            }))
            .unwrap(),
            "us-east-1",
        )
        .unwrap();
        assert_eq!(s.routes[0].route_key, "GET /x");
        assert_eq!(s.integrations[0].integration_type, "HTTP_PROXY");
        assert_eq!(s.integrations[0].integration_method.as_deref(), Some("ANY"));
    }

    #[test]
    fn integrations_and_targets() {
        let mut s = api();
        let err = s
            .create_integration(CreateIntegrationInput {
                integration_type: Some("HTTP_PROXY".into()),
                integration_uri: Some("http://x".into()),
                integration_method: Some("GET".into()),
                timeout_in_millis: Some(30_001),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.kind.status(), 400);
        let i = s
            .create_integration(CreateIntegrationInput {
                integration_type: Some("HTTP_PROXY".into()),
                integration_uri: Some("http://x".into()),
                integration_method: Some("GET".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(i.timeout_in_millis, Some(30_000));
        assert_eq!(i.payload_format_version.as_deref(), Some("1.0"));
        assert!(
            s.create_route(CreateRouteInput {
                route_key: Some("GET /a".into()),
                target: Some("integrations/nope".into()),
                ..Default::default()
            })
            .is_err()
        );
        let r = s
            .create_route(CreateRouteInput {
                route_key: Some("GET /a".into()),
                target: Some(format!("integrations/{}", i.integration_id)),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            s.delete_integration(&i.integration_id)
                .unwrap_err()
                .kind
                .status(),
            409
        );
        s.delete_route(&r.route_id).unwrap();
        s.delete_integration(&i.integration_id).unwrap();
        assert!(s.snapshot().is_err());
    }

    #[test]
    fn variable_names_conflict_at_one_position() {
        assert_eq!(
            variable_conflict("/pets/{id}", "/pets/{petId}"),
            Some(("{id}", "{petId}"))
        );
        assert_eq!(variable_conflict("/pets/{id}", "/pets/{id}/toys"), None);
        assert_eq!(variable_conflict("/pets/{id}", "/dogs/{petId}"), None);
        assert_eq!(variable_conflict("/a/{proxy+}", "/a/{id}"), None);
        let mut s = api();
        s.create_route(CreateRouteInput {
            route_key: Some("GET /pets/{id}".into()),
            ..Default::default()
        })
        .unwrap();
        let err = s
            .create_route(CreateRouteInput {
                route_key: Some("DELETE /pets/{petId}".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.kind.status(), 409, "{}", err.message);
        s.create_route(CreateRouteInput {
            route_key: Some("DELETE /pets/{id}".into()),
            ..Default::default()
        })
        .unwrap();
    }

    #[test]
    fn jwt_authorizers_need_an_audience_and_keep_their_type_while_used() {
        let mut s = api();
        let no_audience = s.create_authorizer(CreateAuthorizerInput {
            name: Some("j".into()),
            authorizer_type: Some("JWT".into()),
            identity_source: Some(vec!["$request.header.Authorization".into()]),
            jwt_configuration: Some(JwtConfiguration {
                issuer: Some("https://issuer.example".into()),
                audience: None,
            }),
            ..Default::default()
        });
        assert!(no_audience.unwrap_err().message.contains("Audience"));
        let a = s
            .create_authorizer(CreateAuthorizerInput {
                name: Some("j".into()),
                authorizer_type: Some("JWT".into()),
                identity_source: Some(vec!["$request.header.Authorization".into()]),
                jwt_configuration: Some(JwtConfiguration {
                    issuer: Some("https://issuer.example".into()),
                    audience: Some(vec!["app".into()]),
                }),
                ..Default::default()
            })
            .unwrap();
        s.create_route(CreateRouteInput {
            route_key: Some("GET /x".into()),
            authorization_type: Some("JWT".into()),
            authorizer_id: Some(a.authorizer_id.clone()),
            ..Default::default()
        })
        .unwrap();
        let err = s
            .update_authorizer(
                &a.authorizer_id,
                CreateAuthorizerInput {
                    authorizer_type: Some("REQUEST".into()),
                    authorizer_uri: Some("arn:aws:lambda:us-east-1:000000000000:function:f".into()),
                    authorizer_payload_format_version: Some("2.0".into()),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(err.kind.status(), 400);
        assert_eq!(s.authorizers[0].authorizer_type, "JWT");
    }

    #[test]
    fn cors_rules() {
        let c = Cors {
            allow_credentials: Some(true),
            allow_origins: Some(vec!["*".into()]),
            ..Default::default()
        };
        assert!(check_cors(&c).is_err());
        let c = Cors {
            allow_credentials: Some(true),
            allow_origins: Some(vec!["https://*.example.com".into()]),
            max_age: Some(600),
            ..Default::default()
        };
        check_cors(&c).unwrap();
    }

    #[test]
    fn mapping_keys() {
        for ok in [
            "overwrite:header.x-a",
            "append:querystring.q",
            "remove:header.b",
            "overwrite:path",
        ] {
            check_mapping_key(ok, true).unwrap();
        }
        check_mapping_key("overwrite:statuscode", false).unwrap();
        assert!(check_mapping_key("overwrite:header.Authorization", true).is_err());
        assert!(check_mapping_key("append:header.x-amz-date", true).is_err());
        assert!(check_mapping_key("append:path", true).is_err());
        check_mapping_value("k", "$request.header.a", true).unwrap();
        check_mapping_value("k", "/v2/${request.path.id}-${context.stage}", true).unwrap();
        check_mapping_value("k", "static", true).unwrap();
        check_mapping_value("k", "$response.body.error", false).unwrap();
        assert!(check_mapping_value("k", "$request.nope", true).is_err());
        assert!(check_mapping_value("k", "$response.header.a", true).is_err());
        assert!(check_mapping_value("k", "${request.header.a", true).is_err());
        for bad in [
            "header.x",
            "set:header.x",
            "overwrite:body",
            "overwrite:header.",
        ] {
            assert!(check_mapping_key(bad, true).is_err(), "{bad}");
        }
    }
}
