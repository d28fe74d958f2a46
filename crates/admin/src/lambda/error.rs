//! Lambda's error shape: the status, `x-amzn-ErrorType: {code}` and a JSON body with `Type` and
//! the message — `Message` for `ResourceNotFoundException` and `ServiceException`, `message`
//! for the others (as botocore's `lambda` model names the member), and `Reason` for
//! `TooManyRequestsException`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_control::{ControlError, ErrorKind};
use portico_store::StoreError;
use serde_json::{Map, Value};

/// A failed Lambda API call.
#[derive(Debug)]
pub struct LambdaError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// `TooManyRequestsException`'s `Reason`.
    reason: Option<&'static str>,
}

impl LambdaError {
    /// Any status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            reason: None,
        }
    }

    /// 429 `TooManyRequestsException`, as Lambda throttles an invocation.
    pub fn throttled() -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "TooManyRequestsException",
            message: "Rate Exceeded.".into(),
            reason: Some("ReservedFunctionConcurrentInvocationLimitExceeded"),
        }
    }

    /// 500 `ServiceException`.
    pub fn service(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            message,
        )
    }

    /// 400 `InvalidRequestContentException` (a body that is not the operation's JSON).
    pub fn bad_content(why: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {why}"),
        )
    }
}

impl From<ControlError> for LambdaError {
    fn from(e: ControlError) -> Self {
        let code = match e.kind {
            ErrorKind::NotFound => "ResourceNotFoundException",
            ErrorKind::BadRequest => "InvalidParameterValueException",
            ErrorKind::Conflict => "ResourceConflictException",
            ErrorKind::LimitExceeded => "TooManyRequestsException",
            other => other.code(),
        };
        Self::new(
            StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            e.message,
        )
    }
}

impl From<StoreError> for LambdaError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Control(c) => c.into(),
            e if e.is_busy() => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                "Rate exceeded",
            ),
            e => {
                tracing::error!(error = %e, "lambda call failed in the store");
                Self::service("The service is unavailable. Please try again.")
            }
        }
    }
}

impl IntoResponse for LambdaError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        if let Some(r) = self.reason {
            body.insert("Reason".into(), Value::String(r.into()));
        }
        if self.code != "ValidationException" {
            let kind = if self.code == "ServiceException" {
                "Service"
            } else {
                "User"
            };
            body.insert("Type".into(), Value::String(kind.into()));
        }
        let key = match self.code {
            "ResourceNotFoundException" | "ServiceException" => "Message",
            _ => "message",
        };
        body.insert(key.into(), Value::String(self.message));
        let mut r = (self.status, Value::Object(body).to_string()).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert("x-amzn-ErrorType", HeaderValue::from_static(self.code));
        r
    }
}
