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
    /// `$context.error.validationErrorString`.
    pub validation_error: Option<String>,
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
            validation_error: None,
        }
    }

    /// An error whose message is only known at request time; the body is AWS's default
    /// template, `{"message":$context.error.messageString}`.
    fn dynamic(kind: GatewayResponseType, error_type: &'static str, message: String) -> Self {
        let quoted = serde_json::to_string(&message).unwrap_or_else(|_| "\"\"".into());
        Self {
            kind,
            status: kind.default_status(),
            error_type,
            body: Cow::Owned(format!("{{\"message\":{quoted}}}")),
            message: Cow::Owned(message),
            validation_error: None,
        }
    }

    /// Required request parameters are missing (400).
    pub fn bad_request_parameters(missing: &[String]) -> Self {
        Self::dynamic(
            GatewayResponseType::BadRequestParameters,
            "BadRequestException",
            format!(
                "Missing required request parameters: [{}]",
                missing.join(", ")
            ),
        )
    }

    /// The body does not match the method's model (400); `detail` is
    /// `$context.error.validationErrorString`.
    pub fn bad_request_body(detail: String) -> Self {
        let mut e = Self::new(
            GatewayResponseType::BadRequestBody,
            "BadRequestException",
            "Invalid request body",
            r#"{"message":"Invalid request body"}"#,
        );
        e.validation_error = Some(detail);
        e
    }

    /// A request template read a body that is not JSON (400). AWS's body has a space after the
    /// colon, as its own error bodies do.
    pub fn request_body_not_json(message: String) -> Self {
        let quoted = serde_json::to_string(&message).unwrap_or_else(|_| "\"\"".into());
        Self {
            kind: GatewayResponseType::Default4xx,
            status: StatusCode::BAD_REQUEST,
            error_type: "BadRequestException",
            body: Cow::Owned(format!("{{\"message\": {quoted}}}")),
            message: Cow::Owned(message),
            validation_error: None,
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

    /// A Lambda authorizer's identity is missing or fails `identityValidationExpression`, or
    /// the function answered the error `Unauthorized` (401).
    pub fn unauthorized() -> Self {
        Self::new(
            GatewayResponseType::Unauthorized,
            "UnauthorizedException",
            "Unauthorized",
            r#"{"message":"Unauthorized"}"#,
        )
    }

    /// The API's resource policy refuses an anonymous caller (403; `Message` capitalised, the
    /// account masked in the ARN, as AWS answers).
    pub fn resource_policy_denied(masked_arn: &str, explicit: bool) -> Self {
        let message = if explicit {
            format!(
                "User: anonymous is not authorized to perform: execute-api:Invoke on resource: {masked_arn} with an explicit deny"
            )
        } else {
            format!(
                "User: anonymous is not authorized to perform: execute-api:Invoke on resource: {masked_arn} because no resource-based policy allows the execute-api:Invoke action"
            )
        };
        let body = serde_json::json!({ "Message": message }).to_string();
        let mut e = Self::new(
            GatewayResponseType::AccessDenied,
            "AccessDeniedException",
            "",
            "",
        );
        e.body = Cow::Owned(body);
        e.message = Cow::Owned(message);
        e
    }

    /// An `AWS_IAM` request whose signature is refused (403 with AWS's message and error type).
    pub fn signature_refused(r: &portico_sigv4::InvokeRejection) -> Self {
        use portico_sigv4::InvokeRejection as R;
        if *r == R::Missing {
            return Self::missing_authentication_token();
        }
        let (kind, error_type) = match r {
            R::Incomplete(_) => (
                GatewayResponseType::InvalidSignature,
                "IncompleteSignatureException",
            ),
            R::UnknownKey => (
                GatewayResponseType::InvalidSignature,
                "UnrecognizedClientException",
            ),
            _ => (
                GatewayResponseType::InvalidSignature,
                "InvalidSignatureException",
            ),
        };
        let message = r.message();
        let mut e = Self::new(kind, error_type, "", "");
        e.body = Cow::Owned(serde_json::json!({ "message": message }).to_string());
        e.message = Cow::Owned(message);
        e
    }

    /// A verified IAM caller whose policies do not allow the method (403; `Message` capitalised,
    /// the resource's account masked, as AWS answers).
    pub fn identity_denied(caller_arn: &str, masked_arn: &str, explicit: bool) -> Self {
        let message = if explicit {
            format!(
                "User: {caller_arn} is not authorized to perform: execute-api:Invoke on resource: {masked_arn} with an explicit deny"
            )
        } else {
            format!(
                "User: {caller_arn} is not authorized to perform: execute-api:Invoke on resource: {masked_arn} because no identity-based policy allows the execute-api:Invoke action"
            )
        };
        let mut e = Self::new(
            GatewayResponseType::AccessDenied,
            "AccessDeniedException",
            "",
            "",
        );
        e.body = Cow::Owned(serde_json::json!({ "Message": message }).to_string());
        e.message = Cow::Owned(message);
        e
    }

    /// A user pool token past its `exp` (401, the `UNAUTHORIZED` response type).
    pub fn token_expired() -> Self {
        Self::new(
            GatewayResponseType::Unauthorized,
            "UnauthorizedException",
            "The incoming token has expired",
            r#"{"message":"The incoming token has expired"}"#,
        )
    }

    /// The authorizer's policy denies the method (403; `Message` capitalised, as AWS answers).
    pub fn access_denied(explicit: bool) -> Self {
        if explicit {
            Self::new(
                GatewayResponseType::AccessDenied,
                "AccessDeniedException",
                "User is not authorized to access this resource with an explicit deny",
                r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#,
            )
        } else {
            Self::new(
                GatewayResponseType::AccessDenied,
                "AccessDeniedException",
                "User is not authorized to access this resource",
                r#"{"Message":"User is not authorized to access this resource"}"#,
            )
        }
    }

    /// The authorizer function failed or answered what is not an authorizer's output (500,
    /// `{"message": null}` as AWS answers).
    pub fn authorizer_configuration_error() -> Self {
        Self::new(
            GatewayResponseType::AuthorizerConfigurationError,
            "AuthorizerConfigurationException",
            "null",
            r#"{"message": null}"#,
        )
    }

    /// The authorizer function could not be called or did not answer in time (500).
    pub fn authorizer_failure() -> Self {
        Self::new(
            GatewayResponseType::AuthorizerFailure,
            "AuthorizerFailureException",
            "null",
            r#"{"message": null}"#,
        )
    }

    /// A method that requires an API key got none, an unknown or disabled one, or one in no
    /// usage plan of the stage (403, as API Gateway answers every one of these).
    pub fn invalid_api_key() -> Self {
        Self::new(
            GatewayResponseType::InvalidApiKey,
            "ForbiddenException",
            "Forbidden",
            r#"{"message":"Forbidden"}"#,
        )
    }

    /// The API key's usage plan quota for the period is spent (429).
    pub fn quota_exceeded() -> Self {
        Self::new(
            GatewayResponseType::QuotaExceeded,
            "LimitExceededException",
            "Limit Exceeded",
            r#"{"message":"Limit Exceeded"}"#,
        )
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

    /// The integration failed before it answered (Lambda throttled the invocation): what
    /// clients report seeing is a 500 `Internal server error`, under the `INTEGRATION_FAILURE`
    /// gateway response (whose own default status is 504).
    pub fn integration_failure() -> Self {
        Self::new(
            GatewayResponseType::IntegrationFailure,
            "InternalServerErrorException",
            "Internal server error",
            r#"{"message": "Internal server error"}"#,
        )
        .with_status(StatusCode::INTERNAL_SERVER_ERROR)
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

    /// A throttle refused the request: the account's, the stage's or method's, or the usage
    /// plan's; also the process holding as many buffered bodies as its budget allows (429).
    pub fn throttled() -> Self {
        Self::new(
            GatewayResponseType::Throttled,
            "TooManyRequestsException",
            "Too Many Requests",
            r#"{"message":"Too Many Requests"}"#,
        )
    }

    /// A request body did not arrive whole in time (408; the connection is closed).
    pub fn request_timeout() -> Self {
        Self::new(
            GatewayResponseType::Default4xx,
            "RequestTimeoutException",
            "Request Timeout",
            r#"{"message":"Request Timeout"}"#,
        )
        .with_status(StatusCode::REQUEST_TIMEOUT)
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

/// A piece of a gateway response template or header value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// `$context.error.*`, answered from the error itself.
    Error(ErrorField),
    /// `context.x`, `stageVariables.x` or `method.request.{header,querystring,path}.x`, answered
    /// by the request.
    Request(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorField {
    Message,
    MessageString,
    ResponseType,
    ValidationErrorString,
}

/// Where an override's header value comes from.
#[derive(Debug, Clone)]
enum HeaderSource {
    Literal(HeaderValue),
    Request(String),
}

/// One `PutGatewayResponse` override, prepared at deploy time.
#[derive(Debug, Clone, Default)]
struct Override {
    status: Option<StatusCode>,
    headers: Vec<(http::HeaderName, HeaderSource)>,
    template: Option<(HeaderValue, Vec<Piece>)>,
}

/// Splits a gateway response template into text and variables (simple substitution: API Gateway
/// does not run Velocity on these). Known names: `$context.*`, `$stageVariables.*`,
/// `$method.request.*`, also in the `${...}` form.
fn pieces(template: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        text.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (braced, body) = match after.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, after),
        };
        let len = body
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.' || *c == '-'))
            .map(|(i, _)| i)
            .unwrap_or(body.len());
        let mut name = &body[..len];
        // A trailing dot ends the sentence, not the name.
        while let Some(n) = name.strip_suffix('.') {
            name = n;
        }
        let closed = !braced || body[name.len()..].starts_with('}');
        let known = ["context.", "stageVariables.", "method.request."]
            .iter()
            .any(|p| name.starts_with(p) && name.len() > p.len());
        if !known || !closed {
            text.push('$');
            rest = after;
            continue;
        }
        if !text.is_empty() {
            out.push(Piece::Text(std::mem::take(&mut text)));
        }
        out.push(match name {
            "context.error.message" => Piece::Error(ErrorField::Message),
            "context.error.messageString" => Piece::Error(ErrorField::MessageString),
            "context.error.responseType" => Piece::Error(ErrorField::ResponseType),
            "context.error.validationErrorString" => {
                Piece::Error(ErrorField::ValidationErrorString)
            }
            other => Piece::Request(other.to_owned()),
        });
        rest = &body[name.len() + usize::from(braced)..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    out
}

/// Answers a request variable for a gateway response (`context.requestId`,
/// `stageVariables.x`, `method.request.header.x`, …); `None` renders as empty.
pub type RequestLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The gateway responses of one API: the types put with `PutGatewayResponse` (resolution order:
/// the error's own type → `DEFAULT_4XX`/`DEFAULT_5XX` by status class → the built-in default).
#[derive(Debug, Clone, Default)]
pub struct GatewayResponses {
    overrides: std::collections::HashMap<String, Override>,
    /// Whether some override reads request data (decided at deploy time).
    reads_request: bool,
    /// The request headers the overrides read (`method.request.header.X`, and `Host` and
    /// `User-Agent` for `$context`), kept when the rest of the request goes to a backend.
    request_headers: Vec<http::header::HeaderName>,
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
                let source = match src.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
                    Some(lit) => match HeaderValue::from_str(lit) {
                        Ok(v) => HeaderSource::Literal(v),
                        Err(_) => {
                            warn(format!("gateway response {kind}: invalid value for {name}"));
                            continue;
                        }
                    },
                    None if ["context.", "stageVariables.", "method.request."]
                        .iter()
                        .any(|p| src.starts_with(p)) =>
                    {
                        HeaderSource::Request(src.clone())
                    }
                    None => {
                        warn(format!(
                            "gateway response {kind}: {dest} = {src} is not applied (unknown source)"
                        ));
                        continue;
                    }
                };
                match http::HeaderName::from_bytes(name.as_bytes()) {
                    Ok(n) => headers.push((n, source)),
                    Err(_) => warn(format!("gateway response {kind}: invalid header {name}")),
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
                        pieces(t),
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
        let reads_request = overrides.values().any(|o| {
            o.headers
                .iter()
                .any(|(_, s)| matches!(s, HeaderSource::Request(_)))
                || o.template
                    .as_ref()
                    .is_some_and(|(_, p)| p.iter().any(|p| matches!(p, Piece::Request(_))))
        });
        let mut request_headers: Vec<http::header::HeaderName> = Vec::new();
        let mut note = |name: &str| {
            let wanted: Vec<http::header::HeaderName> =
                if let Some(h) = name.strip_prefix("method.request.header.") {
                    http::header::HeaderName::from_bytes(h.as_bytes())
                        .ok()
                        .into_iter()
                        .collect()
                } else if name.starts_with("context.") {
                    vec![http::header::HOST, http::header::USER_AGENT]
                } else {
                    Vec::new()
                };
            for h in wanted {
                if !request_headers.contains(&h) {
                    request_headers.push(h);
                }
            }
        };
        for o in overrides.values() {
            for (_, src) in &o.headers {
                if let HeaderSource::Request(n) = src {
                    note(n);
                }
            }
            if let Some((_, pieces)) = &o.template {
                for p in pieces {
                    if let Piece::Request(n) = p {
                        note(n);
                    }
                }
            }
        }
        Self {
            overrides,
            reads_request,
            request_headers,
        }
    }

    /// The request headers the overrides read (see [`GatewayResponses::reads_request`]).
    pub fn request_headers(&self) -> &[http::header::HeaderName] {
        &self.request_headers
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

    /// Whether some override reads request data (headers, query, path, `$context`), so the
    /// request's headers must outlive the integration phase.
    pub fn reads_request(&self) -> bool {
        self.reads_request
    }

    /// Renders an error with no request data at hand.
    pub fn render(&self, err: &GatewayError) -> Response<GatewayBody> {
        self.render_for(err, &|_| None)
    }

    /// Renders an error into a response; `lookup` answers the request variables the override
    /// uses. The caller adds the request-id headers.
    pub fn render_for(
        &self,
        err: &GatewayError,
        lookup: RequestLookup<'_>,
    ) -> Response<GatewayBody> {
        let ov = self.find(err);
        let (content_type, body) = match ov.and_then(|o| o.template.as_ref()) {
            Some((ct, t)) => (ct.clone(), bytes::Bytes::from(substitute(t, err, lookup))),
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
            for (n, src) in &o.headers {
                let v = match src {
                    HeaderSource::Literal(v) => Some(v.clone()),
                    HeaderSource::Request(name) => {
                        lookup(name).and_then(|v| HeaderValue::from_str(&v).ok())
                    }
                };
                if let Some(v) = v {
                    h.insert(n.clone(), v);
                }
            }
        }
        resp
    }
}

/// Fills a template's variables (simple substitution, as AWS does for gateway responses).
fn substitute(template: &[Piece], err: &GatewayError, lookup: RequestLookup<'_>) -> String {
    let mut out = String::new();
    for p in template {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Error(ErrorField::Message) => out.push_str(&err.message),
            // An authorizer failure has no message: `null`, unquoted.
            Piece::Error(ErrorField::MessageString)
                if err.message == "null"
                    && matches!(
                        err.kind,
                        GatewayResponseType::AuthorizerConfigurationError
                            | GatewayResponseType::AuthorizerFailure
                    ) =>
            {
                out.push_str("null")
            }
            Piece::Error(ErrorField::MessageString) => out.push_str(
                &serde_json::to_string(err.message.as_ref()).unwrap_or_else(|_| "\"\"".into()),
            ),
            Piece::Error(ErrorField::ResponseType) => out.push_str(err.kind.as_str()),
            Piece::Error(ErrorField::ValidationErrorString) => {
                out.push_str(err.validation_error.as_deref().unwrap_or(""))
            }
            Piece::Request(name) => out.push_str(&lookup(name).unwrap_or_default()),
        }
    }
    out
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
                &pieces("{\"m\":$context.error.messageString}"),
                &GatewayError::forbidden(),
                &|_| None
            ),
            "{\"m\":\"Forbidden\"}"
        );
        let lookup = |n: &str| match n {
            "context.requestId" => Some("r-1".to_string()),
            "stageVariables.env" => Some("prod".to_string()),
            _ => None,
        };
        assert_eq!(
            substitute(
                &pieces("$context.requestId/${stageVariables.env}/$context.nope/$5/$x.y. End."),
                &GatewayError::bad_request_body("[bad]".into()),
                &lookup
            ),
            "r-1/prod//$5/$x.y. End."
        );
        assert_eq!(
            substitute(
                &pieces(
                    "{\"e\":\"$context.error.validationErrorString\",\"t\":\"$context.error.responseType\"}"
                ),
                &GatewayError::bad_request_body("[bad]".into()),
                &lookup
            ),
            "{\"e\":\"[bad]\",\"t\":\"BAD_REQUEST_BODY\"}"
        );
        assert_eq!(
            GatewayError::bad_request_parameters(&["a".into(), "b".into()]).body,
            "{\"message\":\"Missing required request parameters: [a, b]\"}"
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
