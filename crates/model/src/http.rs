//! HTTP APIs (API Gateway v2, `apigatewayv2`): the API, its routes, integrations, authorizers,
//! stages and deployments, with the JSON names of botocore's `apigatewayv2/2018-11-29` model.
//!
//! Dates are kept as the ISO-8601 text the wire carries (`2026-12-06T03:50:00Z`).

use crate::Map;
use serde::{Deserialize, Serialize};

/// `protocolType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProtocolType {
    /// An HTTP API.
    Http,
    /// A WebSocket API.
    Websocket,
}

/// An HTTP API (`Api` shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpApi {
    /// `apiId`.
    pub api_id: String,
    /// `name`.
    pub name: String,
    /// `protocolType`.
    pub protocol_type: ProtocolType,
    /// `apiEndpoint`: `https://{apiId}.execute-api.{region}.amazonaws.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_endpoint: Option<String>,
    /// `apiKeySelectionExpression`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_selection_expression: Option<String>,
    /// `corsConfiguration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors_configuration: Option<Cors>,
    /// `createdDate`.
    pub created_date: String,
    /// `description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `disableExecuteApiEndpoint`.
    #[serde(default)]
    pub disable_execute_api_endpoint: bool,
    /// `disableSchemaValidation` (WebSocket APIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_schema_validation: Option<bool>,
    /// `ipAddressType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    /// `routeSelectionExpression`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_selection_expression: Option<String>,
    /// `tags`.
    #[serde(default)]
    pub tags: Map<String>,
    /// `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `warnings` of an import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

/// `corsConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cors {
    /// `allowCredentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    /// `allowHeaders`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_headers: Option<Vec<String>>,
    /// `allowMethods`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_methods: Option<Vec<String>>,
    /// `allowOrigins`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_origins: Option<Vec<String>>,
    /// `exposeHeaders`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose_headers: Option<Vec<String>>,
    /// `maxAge` (-1 to 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

/// A route (`Route` shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// `routeId`.
    pub route_id: String,
    /// `apiGatewayManaged`: made by quick create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_gateway_managed: Option<bool>,
    /// `routeKey`: `METHOD /path`, `ANY /path` or `$default`.
    pub route_key: String,
    /// `apiKeyRequired`.
    #[serde(default)]
    pub api_key_required: bool,
    /// `authorizationScopes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_scopes: Option<Vec<String>>,
    /// `authorizationType`: `NONE`, `AWS_IAM`, `CUSTOM`, `JWT`.
    pub authorization_type: String,
    /// `authorizerId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_id: Option<String>,
    /// `modelSelectionExpression`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_selection_expression: Option<String>,
    /// `operationName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_name: Option<String>,
    /// `requestModels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_models: Option<Map<String>>,
    /// `requestParameters`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_parameters: Option<Map<serde_json::Value>>,
    /// `routeResponseSelectionExpression`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_response_selection_expression: Option<String>,
    /// `target`: `integrations/{integrationId}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl Route {
    /// The integration id the route's `target` names.
    pub fn integration_id(&self) -> Option<&str> {
        self.target.as_deref()?.strip_prefix("integrations/")
    }
}

/// An integration (`Integration` shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    /// `integrationId`.
    pub integration_id: String,
    /// `apiGatewayManaged`: made by quick create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_gateway_managed: Option<bool>,
    /// `integrationType`: `AWS_PROXY`, `HTTP_PROXY`, `MOCK`, `HTTP`, `AWS`.
    pub integration_type: String,
    /// `connectionId` (VPC link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// `connectionType`: `INTERNET` or `VPC_LINK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_type: Option<String>,
    /// `contentHandlingStrategy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_handling_strategy: Option<String>,
    /// `credentialsArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_arn: Option<String>,
    /// `description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `integrationMethod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_method: Option<String>,
    /// `integrationSubtype` (AWS service integrations of HTTP APIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_subtype: Option<String>,
    /// `integrationResponseSelectionExpression` (WebSocket APIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_response_selection_expression: Option<String>,
    /// `integrationUri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_uri: Option<String>,
    /// `passthroughBehavior` (WebSocket APIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passthrough_behavior: Option<String>,
    /// `payloadFormatVersion`: `1.0` or `2.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_format_version: Option<String>,
    /// `requestParameters`: `overwrite:header.x` → source, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_parameters: Option<Map<String>>,
    /// `requestTemplates` (WebSocket APIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_templates: Option<Map<String>>,
    /// `responseParameters`: status code → (`overwrite:header.x` → source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_parameters: Option<Map<Map<String>>>,
    /// `templateSelectionExpression` (WebSocket APIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_selection_expression: Option<String>,
    /// `timeoutInMillis` (50–30,000 for HTTP APIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_in_millis: Option<i64>,
    /// `tlsConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<serde_json::Value>,
}

/// An authorizer (`Authorizer` shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorizer {
    /// `authorizerId`.
    pub authorizer_id: String,
    /// `name`.
    pub name: String,
    /// `authorizerType`: `JWT` or `REQUEST`.
    pub authorizer_type: String,
    /// `authorizerCredentialsArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_credentials_arn: Option<String>,
    /// `authorizerPayloadFormatVersion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_payload_format_version: Option<String>,
    /// `authorizerResultTtlInSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_result_ttl_in_seconds: Option<i64>,
    /// `authorizerUri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_uri: Option<String>,
    /// `enableSimpleResponses`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_simple_responses: Option<bool>,
    /// `identitySource`.
    #[serde(default)]
    pub identity_source: Vec<String>,
    /// `identityValidationExpression`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_validation_expression: Option<String>,
    /// `jwtConfiguration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_configuration: Option<JwtConfiguration>,
}

/// `jwtConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtConfiguration {
    /// `audience`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Vec<String>>,
    /// `issuer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

/// Route settings (`RouteSettings` shape): per stage default and per route key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSettings {
    /// `dataTraceEnabled` (WebSocket APIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_trace_enabled: Option<bool>,
    /// `detailedMetricsEnabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detailed_metrics_enabled: Option<bool>,
    /// `loggingLevel` (WebSocket APIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_level: Option<String>,
    /// `throttlingBurstLimit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling_burst_limit: Option<i64>,
    /// `throttlingRateLimit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling_rate_limit: Option<f64>,
}

/// `accessLogSettings`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogSettings {
    /// `destinationArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_arn: Option<String>,
    /// `format`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// A stage (`Stage` shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// `stageName` (`$default` serves at the root of the API's endpoint).
    pub stage_name: String,
    /// `accessLogSettings`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log_settings: Option<AccessLogSettings>,
    /// `apiGatewayManaged`: created by quick create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_gateway_managed: Option<bool>,
    /// `autoDeploy`.
    #[serde(default)]
    pub auto_deploy: bool,
    /// `clientCertificateId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_id: Option<String>,
    /// `createdDate`.
    pub created_date: String,
    /// `defaultRouteSettings`.
    #[serde(default)]
    pub default_route_settings: RouteSettings,
    /// `deploymentId`: what the stage serves (none: nothing yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// `description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `lastDeploymentStatusMessage` (auto-deployed stages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deployment_status_message: Option<String>,
    /// `lastUpdatedDate`.
    pub last_updated_date: String,
    /// `routeSettings`: route key → settings.
    #[serde(default)]
    pub route_settings: Map<RouteSettings>,
    /// `stageVariables`.
    #[serde(default)]
    pub stage_variables: Map<String>,
    /// `tags`.
    #[serde(default)]
    pub tags: Map<String>,
}

impl Stage {
    /// The stage that serves at the root of the endpoint.
    pub const DEFAULT: &'static str = "$default";
}

/// A deployment (`Deployment` shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// `deploymentId`.
    pub deployment_id: String,
    /// `autoDeployed`.
    #[serde(default)]
    pub auto_deployed: bool,
    /// `createdDate`.
    pub created_date: String,
    /// `deploymentStatus`: `DEPLOYED`.
    pub deployment_status: String,
    /// `deploymentStatusMessage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_status_message: Option<String>,
    /// `description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What a deployment freezes: everything a stage compiles from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpApiSnapshot {
    /// The API (name, CORS, endpoint switch) as deployed.
    pub api: Option<HttpApi>,
    /// The routes.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// The integrations.
    #[serde(default)]
    pub integrations: Vec<Integration>,
    /// The authorizers.
    #[serde(default)]
    pub authorizers: Vec<Authorizer>,
    /// WebSocket APIs: route responses by route id.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub route_responses: Map<Vec<crate::websocket::RouteResponse>>,
    /// WebSocket APIs: integration responses by integration id.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub integration_responses: Map<Vec<crate::websocket::IntegrationResponse>>,
}

/// Whether a header is one HTTP API parameter mapping may not touch (AWS's reserved list).
pub fn is_reserved_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("access-control-")
        || n.starts_with("apigw-")
        || n.starts_with("x-amz-")
        || n.starts_with("x-amzn-")
        || [
            "authorization",
            "connection",
            "content-encoding",
            "content-length",
            "content-location",
            "forwarded",
            "keep-alive",
            "origin",
            "proxy-authenticate",
            "proxy-authorization",
            "te",
            "trailers",
            "transfer-encoding",
            "upgrade",
            "x-forwarded-for",
            "x-forwarded-host",
            "x-forwarded-proto",
            "via",
        ]
        .contains(&n.as_str())
}

/// ISO-8601 UTC text for `epoch` seconds, as the v2 wire writes dates: `2026-12-06T03:50:00Z`.
pub fn iso_date(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// A v2 id: `len` lowercase alphanumerics (API ids have 10, the others 7).
pub fn new_v2_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso_date(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_date(1_583_348_638), "2020-03-04T19:03:58Z");
        assert_eq!(iso_date(1_796_529_600), "2026-12-06T04:00:00Z");
        assert_eq!(iso_date(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn route_target() {
        let r: Route = serde_json::from_value(serde_json::json!({
            "routeId": "abc1234", "routeKey": "GET /pets", "authorizationType": "NONE",
            "target": "integrations/xyz9876"
        }))
        .unwrap();
        assert_eq!(r.integration_id(), Some("xyz9876"));
        let out = serde_json::to_value(&r).unwrap();
        assert_eq!(out["apiKeyRequired"], false);
        assert!(out.get("authorizerId").is_none());
    }
}
