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

/// The gateway responses of one API: built-in defaults now; `PutGatewayResponse` overrides
/// (explicit type → `DEFAULT_4XX`/`DEFAULT_5XX` → built-in) plug in here.
#[derive(Debug, Clone, Default)]
pub struct GatewayResponses {
    _private: (),
}

impl GatewayResponses {
    /// Renders an error into a response; the caller adds the request-id headers.
    pub fn render(&self, err: &GatewayError) -> Response<GatewayBody> {
        let body = match &err.body {
            Cow::Borrowed(s) => bytes::Bytes::from_static(s.as_bytes()),
            Cow::Owned(s) => bytes::Bytes::from(s.clone()),
        };
        let mut resp = Response::new(GatewayBody::full(body));
        *resp.status_mut() = err.status;
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert("x-amzn-errortype", HeaderValue::from_static(err.error_type));
        resp
    }
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
