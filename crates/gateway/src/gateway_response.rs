//! Gateway responses: every error the gateway itself produces is a typed value that knows its
//! default status, its `x-amzn-ErrorType` and its body, exactly as API Gateway's
//! `GatewayResponse` types do. Rendering goes through [`GatewayResponses`], the per-API table that
//! `PutGatewayResponse` overrides will fill.

use crate::body::GatewayBody;
use http::{HeaderValue, Response, StatusCode, header};
use std::borrow::Cow;

/// The 21 gateway response types of API Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GatewayResponseType {
    /// `ACCESS_DENIED` (403).
    AccessDenied,
    /// `API_CONFIGURATION_ERROR` (500).
    ApiConfigurationError,
    /// `AUTHORIZER_CONFIGURATION_ERROR` (500).
    AuthorizerConfigurationError,
    /// `AUTHORIZER_FAILURE` (500).
    AuthorizerFailure,
    /// `BAD_REQUEST_PARAMETERS` (400).
    BadRequestParameters,
    /// `BAD_REQUEST_BODY` (400).
    BadRequestBody,
    /// `DEFAULT_4XX`: fallback for 4xx errors with no own configuration.
    Default4xx,
    /// `DEFAULT_5XX`: fallback for 5xx errors with no own configuration.
    Default5xx,
    /// `EXPIRED_TOKEN` (403).
    ExpiredToken,
    /// `INTEGRATION_FAILURE` (504).
    IntegrationFailure,
    /// `INTEGRATION_TIMEOUT` (504).
    IntegrationTimeout,
    /// `INVALID_API_KEY` (403).
    InvalidApiKey,
    /// `INVALID_SIGNATURE` (403).
    InvalidSignature,
    /// `MISSING_AUTHENTICATION_TOKEN` (403): no route, or a route without this method.
    MissingAuthenticationToken,
    /// `QUOTA_EXCEEDED` (429).
    QuotaExceeded,
    /// `REQUEST_TOO_LARGE` (413).
    RequestTooLarge,
    /// `RESOURCE_NOT_FOUND` (404).
    ResourceNotFound,
    /// `THROTTLED` (429).
    Throttled,
    /// `UNAUTHORIZED` (401).
    Unauthorized,
    /// `UNSUPPORTED_MEDIA_TYPE` (415).
    UnsupportedMediaType,
    /// `WAF_FILTERED` (403).
    WafFiltered,
}

impl GatewayResponseType {
    /// Every type, in AWS's alphabetical order.
    pub const ALL: [Self; 21] = [
        Self::AccessDenied,
        Self::ApiConfigurationError,
        Self::AuthorizerConfigurationError,
        Self::AuthorizerFailure,
        Self::BadRequestBody,
        Self::BadRequestParameters,
        Self::Default4xx,
        Self::Default5xx,
        Self::ExpiredToken,
        Self::IntegrationFailure,
        Self::IntegrationTimeout,
        Self::InvalidApiKey,
        Self::InvalidSignature,
        Self::MissingAuthenticationToken,
        Self::QuotaExceeded,
        Self::RequestTooLarge,
        Self::ResourceNotFound,
        Self::Throttled,
        Self::Unauthorized,
        Self::UnsupportedMediaType,
        Self::WafFiltered,
    ];

    /// The wire name (`MISSING_AUTHENTICATION_TOKEN`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "ACCESS_DENIED",
            Self::ApiConfigurationError => "API_CONFIGURATION_ERROR",
            Self::AuthorizerConfigurationError => "AUTHORIZER_CONFIGURATION_ERROR",
            Self::AuthorizerFailure => "AUTHORIZER_FAILURE",
            Self::BadRequestParameters => "BAD_REQUEST_PARAMETERS",
            Self::BadRequestBody => "BAD_REQUEST_BODY",
            Self::Default4xx => "DEFAULT_4XX",
            Self::Default5xx => "DEFAULT_5XX",
            Self::ExpiredToken => "EXPIRED_TOKEN",
            Self::IntegrationFailure => "INTEGRATION_FAILURE",
            Self::IntegrationTimeout => "INTEGRATION_TIMEOUT",
            Self::InvalidApiKey => "INVALID_API_KEY",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::RequestTooLarge => "REQUEST_TOO_LARGE",
            Self::ResourceNotFound => "RESOURCE_NOT_FOUND",
            Self::Throttled => "THROTTLED",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::WafFiltered => "WAF_FILTERED",
        }
    }

    /// The status AWS uses when the type is not configured.
    pub fn default_status(self) -> StatusCode {
        match self {
            Self::AccessDenied
            | Self::ExpiredToken
            | Self::InvalidApiKey
            | Self::InvalidSignature
            | Self::MissingAuthenticationToken
            | Self::WafFiltered => StatusCode::FORBIDDEN,
            Self::ApiConfigurationError
            | Self::AuthorizerConfigurationError
            | Self::AuthorizerFailure
            | Self::Default5xx => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadRequestParameters | Self::BadRequestBody | Self::Default4xx => {
                StatusCode::BAD_REQUEST
            }
            Self::IntegrationFailure | Self::IntegrationTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::QuotaExceeded | Self::Throttled => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ResourceNotFound => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }
}

/// A gateway-made error on its way to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    /// The gateway response type that renders it.
    pub kind: GatewayResponseType,
    /// The status, when it differs from the type's default (e.g. 502 for a dead upstream).
    pub status: StatusCode,
    /// `x-amzn-ErrorType`.
    pub error_type: &'static str,
    /// The exact default body (`$context.error.messageString` inside AWS's default template).
    pub body: Cow<'static, str>,
    /// `$context.error.message`, for logs and templates.
    pub message: Cow<'static, str>,
}

impl GatewayError {
    fn new(
        kind: GatewayResponseType,
        error_type: &'static str,
        message: &'static str,
        body: &'static str,
    ) -> Self {
        Self {
            kind,
            status: kind.default_status(),
            error_type,
            body: Cow::Borrowed(body),
            message: Cow::Borrowed(message),
        }
    }

    /// No resource matched the path, or the resource has no such method.
    pub fn missing_authentication_token() -> Self {
        Self::new(
            GatewayResponseType::MissingAuthenticationToken,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
            r#"{"message":"Missing Authentication Token"}"#,
        )
    }

    /// The stage exists but the API's execute-api endpoint is disabled, or similar refusals.
    pub fn forbidden() -> Self {
        Self::new(
            GatewayResponseType::Default4xx,
            "ForbiddenException",
            "Forbidden",
            r#"{"message":"Forbidden"}"#,
        )
        .with_status(StatusCode::FORBIDDEN)
    }

    /// The integration did not answer within `timeoutInMillis`.
    pub fn integration_timeout() -> Self {
        Self::new(
            GatewayResponseType::IntegrationTimeout,
            "InternalServerErrorException",
            "Endpoint request timed out",
            r#"{"message": "Endpoint request timed out"}"#,
        )
    }

    /// The backend could not be reached or broke the connection (502).
    pub fn integration_unreachable() -> Self {
        Self::new(
            GatewayResponseType::Default5xx,
            "InternalServerErrorException",
            "Internal server error",
            r#"{"message": "Internal server error"}"#,
        )
        .with_status(StatusCode::BAD_GATEWAY)
    }

    /// The method's configuration cannot be executed (500).
    pub fn configuration_error() -> Self {
        Self::new(
            GatewayResponseType::ApiConfigurationError,
            "InternalServerErrorException",
            "Internal server error",
            r#"{"message": "Internal server error"}"#,
        )
    }

    /// The payload is larger than 10 MB (413).
    pub fn request_too_large() -> Self {
        Self::new(
            GatewayResponseType::RequestTooLarge,
            "RequestTooLargeException",
            "Request Too Long",
            r#"{"message":"Request Too Long"}"#,
        )
    }

    /// No mapping template matches and passthrough is off (415).
    pub fn unsupported_media_type() -> Self {
        Self::new(
            GatewayResponseType::UnsupportedMediaType,
            "UnsupportedMediaTypeException",
            "Unsupported Media Type",
            r#"{"message":"Unsupported Media Type"}"#,
        )
    }

    /// The client's request body broke off or was malformed while it was being forwarded.
    pub fn bad_request() -> Self {
        Self::new(
            GatewayResponseType::Default4xx,
            "BadRequestException",
            "Bad Request",
            r#"{"message":"Bad Request"}"#,
        )
    }

    /// Overrides the status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

/// One `PutGatewayResponse` override, prepared at deploy time.
#[derive(Debug, Clone, Default)]
struct Override {
    status: Option<StatusCode>,
    headers: Vec<(http::HeaderName, HeaderValue)>,
    template: Option<(HeaderValue, String)>,
}

/// The gateway responses of one API: the types put with `PutGatewayResponse` (resolution order:
/// the error's own type → `DEFAULT_4XX`/`DEFAULT_5XX` by status class → the built-in default).
#[derive(Debug, Clone, Default)]
pub struct GatewayResponses {
    overrides: std::collections::HashMap<String, Override>,
}

impl GatewayResponses {
    /// Prepares an API's overrides; `warn` receives what cannot be honoured.
    pub fn compile(
        put: &portico_model::Map<portico_model::GatewayResponse>,
        mut warn: impl FnMut(String),
    ) -> Self {
        let mut overrides = std::collections::HashMap::new();
        for (kind, r) in put {
            let status = r
                .status_code
                .as_deref()
                .and_then(|c| c.parse::<u16>().ok())
                .and_then(|c| StatusCode::from_u16(c).ok());
            let mut headers = Vec::new();
            for (dest, src) in &r.response_parameters {
                let Some(name) = dest.strip_prefix("gatewayresponse.header.") else {
                    warn(format!(
                        "gateway response {kind}: {dest} is not applied (only headers are)"
                    ));
                    continue;
                };
                let Some(lit) = src.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) else {
                    warn(format!(
                        "gateway response {kind}: {dest} = {src} is not applied (only 'literal' values are, so far)"
                    ));
                    continue;
                };
                match (
                    http::HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(lit),
                ) {
                    (Ok(n), Ok(v)) => headers.push((n, v)),
                    _ => warn(format!("gateway response {kind}: invalid header {name}")),
                }
            }
            let template = r
                .response_templates
                .get_key_value("application/json")
                .or_else(|| r.response_templates.iter().next())
                .map(|(ct, t)| {
                    (
                        HeaderValue::from_str(ct)
                            .unwrap_or(HeaderValue::from_static("application/json")),
                        t.clone(),
                    )
                });
            overrides.insert(
                kind.clone(),
                Override {
                    status,
                    headers,
                    template,
                },
            );
        }
        Self { overrides }
    }

    fn find(&self, err: &GatewayError) -> Option<&Override> {
        self.overrides.get(err.kind.as_str()).or_else(|| {
            let class = if err.status.is_client_error() {
                "DEFAULT_4XX"
            } else if err.status.is_server_error() {
                "DEFAULT_5XX"
            } else {
                return None;
            };
            self.overrides.get(class)
        })
    }

    /// Renders an error into a response; the caller adds the request-id headers.
    pub fn render(&self, err: &GatewayError) -> Response<GatewayBody> {
        let ov = self.find(err);
        let (content_type, body) = match ov.and_then(|o| o.template.as_ref()) {
            Some((ct, t)) => (ct.clone(), bytes::Bytes::from(substitute(t, err))),
            None => (
                HeaderValue::from_static("application/json"),
                match &err.body {
                    Cow::Borrowed(s) => bytes::Bytes::from_static(s.as_bytes()),
                    Cow::Owned(s) => bytes::Bytes::from(s.clone()),
                },
            ),
        };
        let mut resp = Response::new(GatewayBody::full(body));
        *resp.status_mut() = ov.and_then(|o| o.status).unwrap_or(err.status);
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, content_type);
        h.insert("x-amzn-errortype", HeaderValue::from_static(err.error_type));
        if let Some(o) = ov {
            for (n, v) in &o.headers {
                h.insert(n.clone(), v.clone());
            }
        }
        resp
    }
}

/// The `$context.error.*` references a gateway response template may use (simple substitution,
/// as AWS does for gateway responses).
fn substitute(template: &str, err: &GatewayError) -> String {
    let quoted = serde_json::to_string(err.message.as_ref()).unwrap_or_else(|_| "\"\"".into());
    template
        .replace("$context.error.messageString", &quoted)
        .replace("$context.error.message", &err.message)
        .replace("$context.error.responseType", err.kind.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_statuses() {
        assert_eq!(GatewayResponseType::ALL.len(), 21);
        let names: std::collections::HashSet<_> = GatewayResponseType::ALL
            .iter()
            .map(|t| t.as_str())
            .collect();
        assert_eq!(names.len(), 21);
        assert_eq!(
            GatewayResponseType::MissingAuthenticationToken.default_status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            GatewayResponseType::IntegrationTimeout.default_status(),
            StatusCode::GATEWAY_TIMEOUT
        );
    }

    #[test]
    fn overrides_resolve_by_type_then_class() {
        use portico_model::{GatewayResponse, Map};
        let mut put = Map::new();
        put.insert(
            "MISSING_AUTHENTICATION_TOKEN".to_string(),
            GatewayResponse {
                response_type: "MISSING_AUTHENTICATION_TOKEN".into(),
                status_code: Some("404".into()),
                response_parameters: Map::from([(
                    "gatewayresponse.header.Access-Control-Allow-Origin".to_string(),
                    "'*'".to_string(),
                )]),
                response_templates: Map::from([(
                    "application/json".to_string(),
                    "{\"error\":$context.error.messageString,\"type\":\"$context.error.responseType\"}".to_string(),
                )]),
                default_response: false,
            },
        );
        put.insert(
            "DEFAULT_5XX".to_string(),
            GatewayResponse {
                response_type: "DEFAULT_5XX".into(),
                status_code: None,
                response_parameters: Map::from([(
                    "gatewayresponse.header.X-Five".to_string(),
                    "'yes'".to_string(),
                )]),
                response_templates: Map::new(),
                default_response: false,
            },
        );
        let g = GatewayResponses::compile(&put, |w| panic!("{w}"));
        let r = g.render(&GatewayError::missing_authentication_token());
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        let r = g.render(&GatewayError::integration_timeout());
        assert_eq!(r.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(r.headers()["x-five"], "yes");
        let r = g.render(&GatewayError::unsupported_media_type());
        assert!(!r.headers().contains_key("x-five"));
        assert_eq!(
            substitute(
                "{\"m\":$context.error.messageString}",
                &GatewayError::forbidden()
            ),
            "{\"m\":\"Forbidden\"}"
        );
    }

    #[test]
    fn renders_aws_body_and_headers() {
        let r = GatewayResponses::default().render(&GatewayError::missing_authentication_token());
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            r.headers()["x-amzn-errortype"],
            "MissingAuthenticationTokenException"
        );
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(
            GatewayError::integration_unreachable().status,
            StatusCode::BAD_GATEWAY
        );
    }
}
