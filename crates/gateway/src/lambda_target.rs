//! The function an `AWS_PROXY` integration, a Lambda `AWS` integration or a Lambda authorizer
//! invokes: a leaf the compiler, the integrations and the authorizer step share.

use std::time::Duration;

/// An `AWS_PROXY` integration to a Lambda function.
#[derive(Debug)]
pub struct LambdaProxyIntegration {
    /// The function's name.
    pub function: Box<str>,
    /// Its version or alias, from the ARN.
    pub qualifier: Option<Box<str>>,
    /// The function ARN as the URI names it (`Lambda-Runtime-Invoked-Function-Arn`).
    pub arn: Box<str>,
    /// `timeoutInMillis`.
    pub timeout: Duration,
}
