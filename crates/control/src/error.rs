//! Errors as the AWS management API reports them.

/// The AWS exception a failed command maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400 `BadRequestException`.
    BadRequest,
    /// 404 `NotFoundException`.
    NotFound,
    /// 409 `ConflictException`.
    Conflict,
    /// 429 `LimitExceededException`.
    LimitExceeded,
    /// 400 `ValidationException`: the input breaks a constraint of the service model (an enum, a
    /// pattern), checked before the operation looks at any state.
    Validation,
    /// Lambda's 404 `ResourceNotFoundException`.
    ResourceNotFound,
    /// Lambda's 400 `InvalidParameterValueException`.
    InvalidParameterValue,
    /// Lambda's 409 `ResourceConflictException`.
    ResourceConflict,
    /// Lambda's 412 `PreconditionFailedException` (a stale `RevisionId`).
    PreconditionFailed,
    /// Lambda's 413 `RequestEntityTooLargeException` (a deployment package over the limit).
    RequestEntityTooLarge,
}

impl ErrorKind {
    /// HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::LimitExceeded => 429,
            Self::Validation => 400,
            Self::ResourceNotFound => 404,
            Self::InvalidParameterValue => 400,
            Self::ResourceConflict => 409,
            Self::PreconditionFailed => 412,
            Self::RequestEntityTooLarge => 413,
        }
    }

    /// The `x-amzn-ErrorType` code.
    pub fn code(self) -> &'static str {
        match self {
            Self::BadRequest => "BadRequestException",
            Self::NotFound => "NotFoundException",
            Self::Conflict => "ConflictException",
            Self::LimitExceeded => "LimitExceededException",
            Self::Validation => "ValidationException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::InvalidParameterValue => "InvalidParameterValueException",
            Self::ResourceConflict => "ResourceConflictException",
            Self::PreconditionFailed => "PreconditionFailedException",
            Self::RequestEntityTooLarge => "RequestEntityTooLargeException",
        }
    }
}

/// A command refused, with AWS's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ControlError {
    /// Which exception.
    pub kind: ErrorKind,
    /// The message AWS sends.
    pub message: String,
}

impl ControlError {
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::BadRequest,
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::NotFound,
            message: message.into(),
        }
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Conflict,
            message: message.into(),
        }
    }

    /// 429 (a limit such as 300 resources per API).
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::LimitExceeded,
            message: message.into(),
        }
    }
}

impl ControlError {
    /// Any kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// 400 `ValidationException` listing every broken constraint as AWS does:
    /// `N validation error(s) detected: Value '…' at '…' failed to satisfy constraint: …; …`.
    /// `None` when `violations` is empty.
    pub fn validation(violations: &[String]) -> Option<Self> {
        let n = violations.len();
        let noun = match n {
            0 => return None,
            1 => "error",
            _ => "errors",
        };
        Some(Self {
            kind: ErrorKind::Validation,
            message: format!("{n} validation {noun} detected: {}", violations.join("; ")),
        })
    }
}

/// One violation: `Value '{value}' at '{at}' failed to satisfy constraint: {constraint}`.
pub fn violation(value: &str, at: &str, constraint: &str) -> String {
    format!("Value '{value}' at '{at}' failed to satisfy constraint: {constraint}")
}

/// `CreateRequestValidator`'s answer for an unknown API (a 400, not the usual 404).
pub fn invalid_rest_api_for_validator() -> ControlError {
    ControlError::bad_request("Invalid REST API identifier specified")
}

/// `CreateAuthorizer`'s answer for an unknown API: AWS reports a 409 concurrent modification.
pub fn concurrent_modification() -> ControlError {
    ControlError::conflict(
        "Unable to complete operation due to concurrent modification. Please try again later.",
    )
}

/// The account id Portico reports in ARNs and messages.
pub const ACCOUNT_ID: &str = "000000000000";

/// `Invalid API identifier specified {account}:{id}`.
pub fn invalid_api(id: &str) -> ControlError {
    ControlError::not_found(format!(
        "Invalid API identifier specified {ACCOUNT_ID}:{id}"
    ))
}

/// `Invalid Resource identifier specified`.
pub fn invalid_resource() -> ControlError {
    ControlError::not_found("Invalid Resource identifier specified")
}

/// `Invalid Method identifier specified`.
pub fn invalid_method() -> ControlError {
    ControlError::not_found("Invalid Method identifier specified")
}

/// `Invalid Integration identifier specified`.
pub fn invalid_integration() -> ControlError {
    ControlError::not_found("Invalid Integration identifier specified")
}

/// `Invalid Response status code specified`.
pub fn invalid_response() -> ControlError {
    ControlError::not_found("Invalid Response status code specified")
}
