//! Request bodies of the management operations (JSON names as on the AWS wire).

use crate::ControlError;
use portico_model::{
    DEFAULT_TIMEOUT_MILLIS, Integration, IntegrationType, MIN_TIMEOUT_MILLIS, Map, TlsConfig,
};
use serde::Deserialize;

/// `PutMethod` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutMethodInput {
    /// `NONE`, `AWS_IAM`, `CUSTOM`, `COGNITO_USER_POOLS`.
    pub authorization_type: Option<String>,
    /// Authorizer for CUSTOM / COGNITO_USER_POOLS.
    pub authorizer_id: Option<String>,
    /// Whether an API key is required.
    pub api_key_required: Option<bool>,
    /// Operation name.
    pub operation_name: Option<String>,
    /// `method.request.*` → required.
    pub request_parameters: Option<Map<bool>>,
    /// Content type → model.
    pub request_models: Option<Map<String>>,
    /// Validator id.
    pub request_validator_id: Option<String>,
    /// OAuth scopes.
    pub authorization_scopes: Option<Vec<String>>,
}

/// `PutMethodResponse` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutMethodResponseInput {
    /// `method.response.header.*` → required.
    pub response_parameters: Option<Map<bool>>,
    /// Content type → model.
    pub response_models: Option<Map<String>>,
}

/// `PutIntegrationResponse` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutIntegrationResponseInput {
    /// Regex over backend status / error message.
    pub selection_pattern: Option<String>,
    /// `method.response.header.*` → source.
    pub response_parameters: Option<Map<String>>,
    /// Content type → template.
    pub response_templates: Option<Map<String>>,
    /// `CONVERT_TO_BINARY` / `CONVERT_TO_TEXT`.
    pub content_handling: Option<String>,
}

/// `PutIntegration` body. `httpMethod` here is the integration's method (botocore's
/// `integrationHttpMethod`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutIntegrationInput {
    /// Integration type.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Method towards the backend.
    pub http_method: Option<String>,
    /// Backend URI.
    pub uri: Option<String>,
    /// `INTERNET` / `VPC_LINK`.
    pub connection_type: Option<String>,
    /// VPC link.
    pub connection_id: Option<String>,
    /// Role ARN.
    pub credentials: Option<String>,
    /// `integration.request.*` → source.
    pub request_parameters: Option<Map<String>>,
    /// Content type → template.
    pub request_templates: Option<Map<String>>,
    /// Passthrough rule.
    pub passthrough_behavior: Option<String>,
    /// Cache namespace.
    pub cache_namespace: Option<String>,
    /// Cache key parameters.
    pub cache_key_parameters: Option<Vec<String>>,
    /// Binary conversions.
    pub content_handling: Option<String>,
    /// Timeout (50..=29000).
    pub timeout_in_millis: Option<i64>,
    /// TLS options.
    pub tls_config: Option<TlsConfig>,
}

impl PutIntegrationInput {
    /// Validates and builds the integration, with AWS's messages.
    pub fn into_integration(self) -> Result<Integration, ControlError> {
        let kind_name = self.kind.ok_or_else(|| {
            ControlError::bad_request("Enumeration value for IntegrationType must be non-empty")
        })?;
        let kind = IntegrationType::parse(&kind_name)
            .filter(|_| kind_name == kind_name.to_ascii_uppercase())
            .ok_or_else(|| {
                let v = crate::violation(
                    &kind_name,
                    "putIntegrationInput.type",
                    "Member must satisfy enum value set: [HTTP, MOCK, AWS_PROXY, HTTP_PROXY, AWS]",
                );
                ControlError::validation(&[v])
                    .unwrap_or_else(|| ControlError::bad_request("Invalid integration type"))
            })?;
        let mut i = Integration::new(kind);
        match kind {
            IntegrationType::Http | IntegrationType::HttpProxy => {
                let method = self.http_method.as_deref().unwrap_or("");
                if method.is_empty() {
                    return Err(ControlError::bad_request(
                        "Enumeration value for HttpMethod must be non-empty",
                    ));
                }
                crate::valid_http_method(method)?;
                crate::valid_http_endpoint(self.uri.as_deref().unwrap_or(""))?;
            }
            IntegrationType::Aws | IntegrationType::AwsProxy => {
                let method = self.http_method.as_deref().unwrap_or("");
                if method.is_empty() {
                    return Err(ControlError::bad_request(
                        "Enumeration value for HttpMethod must be non-empty",
                    ));
                }
                let uri = self.uri.as_deref().unwrap_or("");
                if !uri.starts_with("arn:") || !(uri.contains(":path/") || uri.contains(":action/"))
                {
                    return Err(ControlError::bad_request(
                        "AWS ARN for integration must contain path or action",
                    ));
                }
                if kind == IntegrationType::AwsProxy
                    && !uri.contains(":lambda:")
                    && !uri.contains(":firehose:")
                {
                    return Err(ControlError::bad_request(
                        "Integrations of type 'AWS_PROXY' currently only supports Lambda function and Firehose stream invocations.",
                    ));
                }
            }
            IntegrationType::Mock => {}
        }
        let timeout = self.timeout_in_millis.unwrap_or(DEFAULT_TIMEOUT_MILLIS);
        if !(MIN_TIMEOUT_MILLIS..=DEFAULT_TIMEOUT_MILLIS).contains(&timeout) {
            return Err(ControlError::bad_request(
                "Timeout should be between 50 ms and 29000 ms",
            ));
        }
        if let Some(p) = self.passthrough_behavior.as_deref()
            && !matches!(p, "WHEN_NO_MATCH" | "WHEN_NO_TEMPLATES" | "NEVER")
        {
            return Err(ControlError::bad_request(format!(
                "Invalid passthrough behavior specified: {p}. Valid options are WHEN_NO_MATCH,WHEN_NO_TEMPLATES,NEVER"
            )));
        }
        if let Some(ch) = self.content_handling.as_deref()
            && !matches!(ch, "CONVERT_TO_BINARY" | "CONVERT_TO_TEXT")
        {
            return Err(ControlError::bad_request(format!(
                "Invalid content handling specified: {ch}"
            )));
        }
        i.http_method = self.http_method;
        i.uri = self.uri;
        i.connection_type = self.connection_type;
        crate::default_connection_type(&mut i);
        i.connection_id = self.connection_id;
        i.credentials = self.credentials;
        i.request_parameters = self.request_parameters.unwrap_or_default();
        i.request_templates = self.request_templates.unwrap_or_default();
        i.passthrough_behavior = Some(
            self.passthrough_behavior
                .unwrap_or_else(|| "WHEN_NO_MATCH".to_owned()),
        );
        i.cache_namespace = self.cache_namespace;
        i.cache_key_parameters = self.cache_key_parameters.unwrap_or_default();
        i.content_handling = self.content_handling;
        i.timeout_in_millis = timeout;
        i.tls_config = self.tls_config;
        Ok(i)
    }
}

/// `PutGatewayResponse` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutGatewayResponseInput {
    /// Status to send instead of the type's default.
    pub status_code: Option<String>,
    /// `gatewayresponse.header.X` → source.
    pub response_parameters: Option<Map<String>>,
    /// Content type → template.
    pub response_templates: Option<Map<String>>,
}
