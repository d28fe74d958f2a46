//! Management API errors in AWS's shape: status, `x-amzn-ErrorType`, `{"message": …}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_control::ControlError;
use portico_store::StoreError;

/// A failed management call.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// Any status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `BadRequestException`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "BadRequestException",
            message: message.into(),
        }
    }

    /// 404 for paths no operation serves.
    pub fn unknown_operation() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "UnknownOperationException",
            message: "Unknown operation".into(),
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        Self {
            status: StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::BAD_REQUEST),
            code: e.kind.code(),
            message: e.message,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Control(c) => c.into(),
            e if e.is_busy() => Self {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "TooManyRequestsException",
                message: "Too Many Requests".into(),
            },
            e => {
                tracing::error!(error = %e, "management call failed in the store");
                Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "ServiceUnavailableException",
                    message: "The service is unavailable. Please try again.".into(),
                }
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message }).to_string();
        let mut r = (self.status, body).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert("x-amzn-ErrorType", HeaderValue::from_static(self.code));
        if self.status == StatusCode::TOO_MANY_REQUESTS
            || self.status == StatusCode::SERVICE_UNAVAILABLE
        {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r
    }
}
