//! REST API (v1) objects. Field names follow botocore's `apigateway` 2015-07-09 service model.
//! Empty maps and absent values are omitted on output, as AWS does.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// String-keyed map with a stable order.
pub type Map<V> = BTreeMap<String, V>;

/// Where API keys are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ApiKeySource {
    /// The `x-api-key` header.
    #[default]
    Header,
    /// The `usageIdentifierKey` returned by a Lambda authorizer.
    Authorizer,
}

/// `endpointConfiguration` of a REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConfiguration {
    /// `EDGE`, `REGIONAL` or `PRIVATE`.
    #[serde(default)]
    pub types: Vec<String>,
    /// `ipv4` or `dualstack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    /// VPC endpoints of a private API.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpc_endpoint_ids: Vec<String>,
}

impl Default for EndpointConfiguration {
    fn default() -> Self {
        Self {
            types: vec!["EDGE".to_owned()],
            ip_address_type: Some("ipv4".to_owned()),
            vpc_endpoint_ids: Vec::new(),
        }
    }
}

/// A REST API (`RestApi`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestApi {
    /// 10-character id; the first label of `{id}.execute-api.…`.
    pub id: String,
    /// The API's name (OpenAPI `info.title` on import).
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Epoch seconds.
    pub created_date: i64,
    /// API version label (OpenAPI `info.version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Import warnings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Media types treated as binary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binary_media_types: Vec<String>,
    /// Bytes above which responses are compressed; absent = off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_compression_size: Option<i64>,
    /// Where API keys come from.
    #[serde(default)]
    pub api_key_source: ApiKeySource,
    /// Endpoint type.
    #[serde(default)]
    pub endpoint_configuration: EndpointConfiguration,
    /// Resource policy (a JSON document as a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub tags: Map<String>,
    /// When true the execute-api endpoint answers 403; only custom domains serve the API.
    #[serde(default)]
    pub disable_execute_api_endpoint: bool,
    /// Id of the `/` resource.
    pub root_resource_id: String,
}

impl RestApi {
    /// A new API with AWS's defaults and a fresh id; the caller creates the root resource.
    pub fn new(name: impl Into<String>, root_resource_id: impl Into<String>) -> Self {
        Self {
            id: crate::new_rest_api_id(),
            name: name.into(),
            description: None,
            created_date: crate::now_epoch_seconds(),
            version: None,
            warnings: Vec::new(),
            binary_media_types: Vec::new(),
            minimum_compression_size: None,
            api_key_source: ApiKeySource::Header,
            endpoint_configuration: EndpointConfiguration::default(),
            policy: None,
            tags: Map::new(),
            disable_execute_api_endpoint: false,
            root_resource_id: root_resource_id.into(),
        }
    }
}

/// A resource: one node of the API's path tree (`Resource`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// 6-character id.
    pub id: String,
    /// Absent for the root resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Last path segment: literal, `{name}` or `{name+}`; absent for the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_part: Option<String>,
    /// Full path, e.g. `/pets/{petId}`.
    pub path: String,
    /// Methods keyed by HTTP verb (or `ANY`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub resource_methods: Map<Method>,
}

impl Resource {
    /// The root resource `/`.
    pub fn root() -> Self {
        Self {
            id: crate::new_resource_id(),
            parent_id: None,
            path_part: None,
            path: "/".to_owned(),
            resource_methods: Map::new(),
        }
    }

    /// A child of `parent` with the given path part.
    pub fn child(parent: &Resource, path_part: &str) -> Self {
        let path = if parent.path == "/" {
            format!("/{path_part}")
        } else {
            format!("{}/{path_part}", parent.path)
        };
        Self {
            id: crate::new_resource_id(),
            parent_id: Some(parent.id.clone()),
            path_part: Some(path_part.to_owned()),
            path,
            resource_methods: Map::new(),
        }
    }
}

/// A method on a resource (`Method`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Method {
    /// `GET`, `POST`, …, or `ANY`.
    pub http_method: String,
    /// `NONE`, `AWS_IAM`, `CUSTOM` or `COGNITO_USER_POOLS`.
    #[serde(default = "default_authorization_type")]
    pub authorization_type: String,
    /// Authorizer for `CUSTOM` / `COGNITO_USER_POOLS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_id: Option<String>,
    /// Whether an API key is required.
    #[serde(default)]
    pub api_key_required: bool,
    /// Request validator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_validator_id: Option<String>,
    /// Operation name (OpenAPI `operationId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_name: Option<String>,
    /// `method.request.{location}.{name}` → required.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub request_parameters: Map<bool>,
    /// Content type → model name.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub request_models: Map<String>,
    /// Status code → method response.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub method_responses: Map<MethodResponse>,
    /// The integration, once put.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_integration: Option<Integration>,
    /// OAuth scopes for Cognito authorizers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_scopes: Vec<String>,
}

fn default_authorization_type() -> String {
    "NONE".to_owned()
}

impl Method {
    /// A method with AWS's defaults and no integration.
    pub fn new(http_method: impl Into<String>) -> Self {
        Self {
            http_method: http_method.into(),
            authorization_type: default_authorization_type(),
            authorizer_id: None,
            api_key_required: false,
            request_validator_id: None,
            operation_name: None,
            request_parameters: Map::new(),
            request_models: Map::new(),
            method_responses: Map::new(),
            method_integration: None,
            authorization_scopes: Vec::new(),
        }
    }
}

/// A method response (`MethodResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodResponse {
    /// Status code, e.g. `"200"`.
    pub status_code: String,
    /// `method.response.header.{name}` → required.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub response_parameters: Map<bool>,
    /// Content type → model name.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub response_models: Map<String>,
}

/// Integration types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntegrationType {
    /// Non-proxy HTTP with mapping templates.
    Http,
    /// Pass-through HTTP.
    HttpProxy,
    /// AWS service action (or non-proxy Lambda).
    Aws,
    /// Lambda proxy.
    AwsProxy,
    /// No backend: the gateway answers from templates.
    Mock,
}

impl IntegrationType {
    /// Parses AWS's names case-insensitively (`mock`, `HTTP_PROXY`, …), as OpenAPI import allows.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "HTTP" => Some(Self::Http),
            "HTTP_PROXY" => Some(Self::HttpProxy),
            "AWS" => Some(Self::Aws),
            "AWS_PROXY" => Some(Self::AwsProxy),
            "MOCK" => Some(Self::Mock),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::HttpProxy => "HTTP_PROXY",
            Self::Aws => "AWS",
            Self::AwsProxy => "AWS_PROXY",
            Self::Mock => "MOCK",
        }
    }
}

/// The default integration timeout, in milliseconds.
pub const DEFAULT_TIMEOUT_MILLIS: i64 = 29_000;
/// The smallest integration timeout AWS accepts.
pub const MIN_TIMEOUT_MILLIS: i64 = 50;

fn default_timeout() -> i64 {
    DEFAULT_TIMEOUT_MILLIS
}

/// An integration (`Integration`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    /// Integration type.
    #[serde(rename = "type")]
    pub kind: IntegrationType,
    /// The HTTP method used towards the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    /// Backend URI (URL or Lambda/AWS ARN); may hold `{param}` and `${stageVariables.x}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// `INTERNET` or `VPC_LINK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_type: Option<String>,
    /// VPC link id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// IAM role ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    /// `integration.request.{location}.{name}` → source expression.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub request_parameters: Map<String>,
    /// Content type → Velocity template.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub request_templates: Map<String>,
    /// `WHEN_NO_MATCH`, `WHEN_NO_TEMPLATES` or `NEVER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passthrough_behavior: Option<String>,
    /// `CONVERT_TO_BINARY` or `CONVERT_TO_TEXT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_handling: Option<String>,
    /// Timeout towards the backend, 50..=29000 ms.
    #[serde(default = "default_timeout")]
    pub timeout_in_millis: i64,
    /// Cache namespace (defaults to the resource id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_namespace: Option<String>,
    /// Parameters that form the cache key (AWS always returns the list, empty or not).
    #[serde(default)]
    pub cache_key_parameters: Vec<String>,
    /// Status code → integration response.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub integration_responses: Map<IntegrationResponse>,
    /// TLS options towards the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
}

impl Integration {
    /// An integration of the given type with AWS's defaults.
    pub fn new(kind: IntegrationType) -> Self {
        Self {
            kind,
            http_method: None,
            uri: None,
            connection_type: None,
            connection_id: None,
            credentials: None,
            request_parameters: Map::new(),
            request_templates: Map::new(),
            passthrough_behavior: None,
            content_handling: None,
            timeout_in_millis: DEFAULT_TIMEOUT_MILLIS,
            cache_namespace: None,
            cache_key_parameters: Vec::new(),
            integration_responses: Map::new(),
            tls_config: None,
        }
    }
}

/// `tlsConfig` of an integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsConfig {
    /// Skip certificate verification towards the backend.
    #[serde(default)]
    pub insecure_skip_verification: bool,
}

/// An integration response (`IntegrationResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationResponse {
    /// The method response status this maps to.
    pub status_code: String,
    /// Regex over the backend status (HTTP) or error message (Lambda); absent = default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_pattern: Option<String>,
    /// `method.response.header.{name}` → source expression.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub response_parameters: Map<String>,
    /// Content type → Velocity template.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub response_templates: Map<String>,
    /// `CONVERT_TO_BINARY` or `CONVERT_TO_TEXT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_handling: Option<String>,
}

/// Per-method settings of a stage (`MethodSetting`); keys are `{resourcePath}/{httpMethod}` or `*/*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodSetting {
    /// Emit detailed CloudWatch-style metrics.
    #[serde(default)]
    pub metrics_enabled: bool,
    /// `OFF`, `ERROR` or `INFO`.
    #[serde(default = "default_logging_level")]
    pub logging_level: String,
    /// Log full request/response data.
    #[serde(default)]
    pub data_trace_enabled: bool,
    /// Burst limit; -1 = not set.
    #[serde(default = "default_burst")]
    pub throttling_burst_limit: i64,
    /// Steady-state rate; -1 = not set.
    #[serde(default = "default_rate")]
    pub throttling_rate_limit: f64,
    /// Response caching.
    #[serde(default)]
    pub caching_enabled: bool,
    /// Cache TTL in seconds.
    #[serde(default = "default_cache_ttl")]
    pub cache_ttl_in_seconds: i64,
    /// Encrypt cached data.
    #[serde(default)]
    pub cache_data_encrypted: bool,
    /// Require authorization for `Cache-Control: max-age=0`.
    #[serde(default = "default_true")]
    pub require_authorization_for_cache_control: bool,
    /// What to do with unauthorized cache-control requests.
    #[serde(default = "default_unauth_strategy")]
    pub unauthorized_cache_control_header_strategy: String,
}

fn default_logging_level() -> String {
    "OFF".to_owned()
}
fn default_burst() -> i64 {
    -1
}
fn default_rate() -> f64 {
    -1.0
}
fn default_cache_ttl() -> i64 {
    300
}
fn default_true() -> bool {
    true
}
fn default_unauth_strategy() -> String {
    "SUCCEED_WITH_RESPONSE_HEADER".to_owned()
}

impl Default for MethodSetting {
    fn default() -> Self {
        Self {
            metrics_enabled: false,
            logging_level: default_logging_level(),
            data_trace_enabled: false,
            throttling_burst_limit: default_burst(),
            throttling_rate_limit: default_rate(),
            caching_enabled: false,
            cache_ttl_in_seconds: default_cache_ttl(),
            cache_data_encrypted: false,
            require_authorization_for_cache_control: true,
            unauthorized_cache_control_header_strategy: default_unauth_strategy(),
        }
    }
}

/// `accessLogSettings` of a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogSettings {
    /// A one-line `$context` template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Where logs go (an ARN on AWS; Portico writes to its access log sink).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_arn: Option<String>,
}

/// `canarySettings` of a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanarySettings {
    /// Percentage of traffic sent to the canary deployment.
    #[serde(default)]
    pub percent_traffic: f64,
    /// The canary deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// Stage variables overridden for canary requests.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub stage_variable_overrides: Map<String>,
    /// Whether canary requests use the stage cache.
    #[serde(default)]
    pub use_stage_cache: bool,
}

/// A stage: a named pointer to a deployment plus its settings (`Stage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// The deployment this stage serves.
    pub deployment_id: String,
    /// Name: `[A-Za-z0-9_-]{1,128}`.
    pub stage_name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Client certificate for backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_id: Option<String>,
    /// Response cache enabled.
    #[serde(default)]
    pub cache_cluster_enabled: bool,
    /// Cache size in GB (`0.5` … `237`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_cluster_size: Option<String>,
    /// Cache status.
    #[serde(default = "default_cache_status")]
    pub cache_cluster_status: String,
    /// Per-method settings (AWS returns `{}` when there are none).
    #[serde(default)]
    pub method_settings: Map<MethodSetting>,
    /// Stage variables.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub variables: Map<String>,
    /// Documentation version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation_version: Option<String>,
    /// Access log settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log_settings: Option<AccessLogSettings>,
    /// Canary settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_settings: Option<CanarySettings>,
    /// X-Ray style tracing.
    #[serde(default)]
    pub tracing_enabled: bool,
    /// WAF web ACL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_acl_arn: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub tags: Map<String>,
    /// Epoch seconds.
    pub created_date: i64,
    /// Epoch seconds.
    pub last_updated_date: i64,
}

fn default_cache_status() -> String {
    "NOT_AVAILABLE".to_owned()
}

/// AWS's cache cluster sizes in GB, as `cacheClusterSize` spells them.
pub const CACHE_CLUSTER_SIZES: [&str; 8] =
    ["0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237"];

impl Stage {
    /// Brings `cacheClusterStatus` in line with `cacheClusterEnabled`: Portico's cache is
    /// in-process, so a cache is `AVAILABLE` as soon as it is enabled (AWS passes through
    /// `CREATE_IN_PROGRESS` for minutes; tools wait for `AVAILABLE`). An enabled cache without
    /// a size gets AWS's default, 0.5 GB.
    pub fn settle_cache_status(&mut self) {
        if self.cache_cluster_enabled {
            self.cache_cluster_status = "AVAILABLE".to_owned();
            if self.cache_cluster_size.is_none() {
                self.cache_cluster_size = Some("0.5".to_owned());
            }
        } else {
            self.cache_cluster_status = default_cache_status();
        }
    }

    /// A new stage pointing at `deployment_id`.
    pub fn new(stage_name: impl Into<String>, deployment_id: impl Into<String>) -> Self {
        let now = crate::now_epoch_seconds();
        Self {
            deployment_id: deployment_id.into(),
            stage_name: stage_name.into(),
            description: None,
            client_certificate_id: None,
            cache_cluster_enabled: false,
            cache_cluster_size: None,
            cache_cluster_status: default_cache_status(),
            method_settings: Map::new(),
            variables: Map::new(),
            documentation_version: None,
            access_log_settings: None,
            canary_settings: None,
            tracing_enabled: false,
            web_acl_arn: None,
            tags: Map::new(),
            created_date: now,
            last_updated_date: now,
        }
    }

    /// Whether `name` is a valid stage name (`[A-Za-z0-9_-]{1,128}`).
    pub fn is_valid_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }
}

/// Per-method summary in a deployment's `apiSummary`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodSnapshot {
    /// Authorization type.
    pub authorization_type: String,
    /// Whether an API key is required.
    pub api_key_required: bool,
}

/// A deployment (`Deployment`): an immutable snapshot of the API at creation time. `apiSummary`
/// is only returned by `GetDeployment` with `embed=apisummary`, as on AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// 6-character id.
    pub id: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Epoch seconds.
    pub created_date: i64,
    /// Path → method → summary.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub api_summary: Map<Map<MethodSnapshot>>,
}

/// What a deployment froze: the API, its resources and its gateway responses. Stored beside the
/// [`Deployment`] and compiled by the gateway; never changes after creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSnapshot {
    /// The API's settings at deployment time.
    pub api: RestApi,
    /// Every resource, parents before children.
    pub resources: Vec<Resource>,
    /// Gateway responses put on the API (types never put are absent).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub gateway_responses: Map<GatewayResponse>,
    /// Models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<Model>,
    /// Request validators.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_validators: Vec<RequestValidator>,
    /// Authorizers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorizers: Vec<Authorizer>,
}

impl Deployment {
    /// The deployment as `CreateDeployment`/`GetDeployments` return it (no `apiSummary`).
    pub fn without_summary(&self) -> Self {
        Self {
            api_summary: Map::new(),
            ..self.clone()
        }
    }
}

impl DeploymentSnapshot {
    /// Builds the `apiSummary` AWS returns for a deployment.
    pub fn api_summary(&self) -> Map<Map<MethodSnapshot>> {
        let mut summary = Map::new();
        for r in &self.resources {
            if r.resource_methods.is_empty() {
                continue;
            }
            let methods = r
                .resource_methods
                .iter()
                .map(|(verb, m)| {
                    (
                        verb.clone(),
                        MethodSnapshot {
                            authorization_type: m.authorization_type.clone(),
                            api_key_required: m.api_key_required,
                        },
                    )
                })
                .collect();
            summary.insert(r.path.clone(), methods);
        }
        summary
    }
}

#[cfg(test)]
mod tests;

/// A gateway response override (`GatewayResponse`): how the gateway renders one type of its own
/// errors for an API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayResponse {
    /// `MISSING_AUTHENTICATION_TOKEN`, `DEFAULT_4XX`, …
    pub response_type: String,
    /// Status to send instead of the type's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
    /// `gatewayresponse.header.X` → `'literal'` (or a request/context/stage-variable source).
    #[serde(default)]
    pub response_parameters: Map<String>,
    /// Content type → body template.
    #[serde(default)]
    pub response_templates: Map<String>,
    /// True for a type that was never put (AWS's built-in default).
    #[serde(default)]
    pub default_response: bool,
}

/// The 21 gateway response types with their default status (none for `DEFAULT_4XX`/`DEFAULT_5XX`).
pub const GATEWAY_RESPONSE_TYPES: [(&str, Option<&str>); 21] = [
    ("ACCESS_DENIED", Some("403")),
    ("API_CONFIGURATION_ERROR", Some("500")),
    ("AUTHORIZER_CONFIGURATION_ERROR", Some("500")),
    ("AUTHORIZER_FAILURE", Some("500")),
    ("BAD_REQUEST_BODY", Some("400")),
    ("BAD_REQUEST_PARAMETERS", Some("400")),
    ("DEFAULT_4XX", None),
    ("DEFAULT_5XX", None),
    ("EXPIRED_TOKEN", Some("403")),
    ("INTEGRATION_FAILURE", Some("504")),
    ("INTEGRATION_TIMEOUT", Some("504")),
    ("INVALID_API_KEY", Some("403")),
    ("INVALID_SIGNATURE", Some("403")),
    ("MISSING_AUTHENTICATION_TOKEN", Some("403")),
    ("QUOTA_EXCEEDED", Some("429")),
    ("REQUEST_TOO_LARGE", Some("413")),
    ("RESOURCE_NOT_FOUND", Some("404")),
    ("THROTTLED", Some("429")),
    ("UNAUTHORIZED", Some("401")),
    ("UNSUPPORTED_MEDIA_TYPE", Some("415")),
    ("WAF_FILTERED", Some("403")),
];

/// AWS's default body template for every gateway response.
pub const DEFAULT_GATEWAY_RESPONSE_TEMPLATE: &str = "{\"message\":$context.error.messageString}";

impl GatewayResponse {
    /// The built-in default for a type, as `GetGatewayResponse(s)` shows it; `None` for an
    /// unknown type.
    pub fn default_for(response_type: &str) -> Option<Self> {
        let (name, status) = GATEWAY_RESPONSE_TYPES
            .iter()
            .find(|(t, _)| *t == response_type)?;
        Some(Self {
            response_type: (*name).to_owned(),
            status_code: status.map(str::to_owned),
            response_parameters: Map::new(),
            response_templates: Map::from([(
                "application/json".to_owned(),
                DEFAULT_GATEWAY_RESPONSE_TEMPLATE.to_owned(),
            )]),
            default_response: true,
        })
    }
}

/// A model: a named JSON Schema (draft 4) for request/response bodies (`Model`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    /// 6-character id.
    pub id: String,
    /// Alphanumeric name; methods refer to models by name.
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The schema, as a JSON string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Content type the model describes.
    pub content_type: String,
}

/// A request validator (`RequestValidator`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestValidator {
    /// 6-character id.
    pub id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Validate the body against the method's model.
    #[serde(default)]
    pub validate_request_body: bool,
    /// Validate required parameters.
    #[serde(default)]
    pub validate_request_parameters: bool,
}

/// An authorizer (`Authorizer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorizer {
    /// 6-character id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `TOKEN`, `REQUEST` or `COGNITO_USER_POOLS`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Cognito user pool ARNs.
    #[serde(
        default,
        rename = "providerARNs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub provider_arns: Vec<String>,
    /// Optional auth type label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<String>,
    /// Lambda invocation URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_uri: Option<String>,
    /// Role used to invoke the authorizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_credentials: Option<String>,
    /// Where the identity comes from (`method.request.header.Authorization`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_source: Option<String>,
    /// Regex a TOKEN must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_validation_expression: Option<String>,
    /// Cache TTL of authorizer results (0..=3600, default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_result_ttl_in_seconds: Option<i64>,
}

/// An API key (`ApiKey`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    /// 10-character id.
    pub id: String,
    /// The key (at least 20 characters); returned only when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// AWS Marketplace customer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the key can be used.
    #[serde(default)]
    pub enabled: bool,
    /// Epoch seconds.
    pub created_date: i64,
    /// Epoch seconds.
    pub last_updated_date: i64,
    /// Deprecated `restApiId/stage` associations.
    #[serde(default)]
    pub stage_keys: Vec<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub tags: Map<String>,
}

/// A throttle (`ThrottleSettings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleSettings {
    /// Burst.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst_limit: Option<i64>,
    /// Steady rate (requests per second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<f64>,
}

/// A quota (`QuotaSettings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaSettings {
    /// Requests per period.
    #[serde(default)]
    pub limit: i64,
    /// Days (or weeks) the period starts after its natural start.
    #[serde(default)]
    pub offset: i64,
    /// `DAY`, `WEEK` or `MONTH`.
    pub period: String,
}

/// One API stage of a usage plan (`ApiStage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiStage {
    /// API id.
    pub api_id: String,
    /// Stage name.
    pub stage: String,
    /// `"/path/METHOD"` → throttle.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub throttle: Map<ThrottleSettings>,
}

/// A usage plan (`UsagePlan`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsagePlan {
    /// 6-character id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Stages the plan covers.
    #[serde(default)]
    pub api_stages: Vec<ApiStage>,
    /// Plan-wide throttle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<ThrottleSettings>,
    /// Quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaSettings>,
    /// Marketplace product code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_code: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub tags: Map<String>,
}

/// A key's membership in a usage plan (`UsagePlanKey`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsagePlanKey {
    /// The API key id.
    pub id: String,
    /// Always `API_KEY`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The key's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The key's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A custom domain name (`DomainName`). Certificates are referenced by ARN or name, or uploaded
/// (`certificateBody`…), in which case they are kept apart and never returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainName {
    /// The domain, e.g. `api.example.com`.
    pub domain_name: String,
    /// Edge certificate name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_name: Option<String>,
    /// Edge certificate ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    /// Epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_upload_date: Option<i64>,
    /// Regional target host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regional_domain_name: Option<String>,
    /// Regional hosted zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regional_hosted_zone_id: Option<String>,
    /// Regional certificate name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regional_certificate_name: Option<String>,
    /// Regional certificate ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regional_certificate_arn: Option<String>,
    /// Edge (CloudFront-style) target host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_domain_name: Option<String>,
    /// Edge hosted zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_hosted_zone_id: Option<String>,
    /// Endpoint type.
    #[serde(default)]
    pub endpoint_configuration: EndpointConfiguration,
    /// `AVAILABLE`, …
    pub domain_name_status: String,
    /// `TLS_1_0` or `TLS_1_2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_policy: Option<String>,
    /// Mutual TLS: the truststore clients' certificates are checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutual_tls_authentication: Option<MutualTlsAuthentication>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub tags: Map<String>,
}

/// `MutualTlsAuthentication` of a domain name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MutualTlsAuthentication {
    /// `s3://bucket/key` of the PEM truststore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truststore_uri: Option<String>,
    /// The object's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truststore_version: Option<String>,
    /// Problems found in the truststore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truststore_warnings: Vec<String>,
}

/// A base path mapping of a custom domain (`BasePathMapping`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BasePathMapping {
    /// The base path; `(none)` for the root mapping.
    pub base_path: String,
    /// The API.
    pub rest_api_id: String,
    /// The stage (absent: the stage is the first path segment after the base path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
}

/// Where a documentation part applies (`DocumentationPartLocation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentationPartLocation {
    /// `API`, `RESOURCE`, `METHOD`, `PATH_PARAMETER`, … .
    #[serde(rename = "type")]
    pub kind: String,
    /// Resource path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Response status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
    /// Parameter, header or model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A documentation part (`DocumentationPart`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentationPart {
    /// 6-character id.
    pub id: String,
    /// Where it applies.
    pub location: DocumentationPartLocation,
    /// A JSON object as a string.
    pub properties: String,
}

/// A documentation snapshot (`DocumentationVersion`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentationVersion {
    /// Version label.
    pub version: String,
    /// Epoch seconds.
    pub created_date: i64,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A VPC link (`VpcLink`); Portico stores it (private integrations have no VPC here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcLink {
    /// 6-character id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Target load balancer ARNs.
    #[serde(default)]
    pub target_arns: Vec<String>,
    /// `AVAILABLE`, …
    pub status: String,
    /// Status detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub tags: Map<String>,
}

/// A client certificate API Gateway presents to backends (`ClientCertificate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientCertificate {
    /// 6-character id.
    pub client_certificate_id: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The certificate (PEM).
    pub pem_encoded_certificate: String,
    /// Epoch seconds.
    pub created_date: i64,
    /// Epoch seconds.
    pub expiration_date: i64,
    /// Tags.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub tags: Map<String>,
}
