//! The Lambda API's commands over one function's state.
//!
//! Everything stored about a function — its `$LATEST` configuration and code, its published
//! versions, aliases, resource policy and reserved concurrency — is one [`FunctionState`]; every
//! operation is a method on it (a pure function from the state and an input to a new state or a
//! [`ControlError`] with Lambda's code and message), run by the store inside one transaction.
//! The code itself is unpacked by the caller before the command runs and handed in as a
//! [`StoredCode`]; what Lambda checks before it looks at any state (names, runtimes, limits) is
//! in free functions the caller runs first ([`function_ref`], [`check_create`], …).
//!
//! ```
//! use portico_control::lambda::{CreateFunctionInput, FunctionState, StoredCode};
//! use portico_model::lambda::CodeLocation;
//! let input: CreateFunctionInput = serde_json::from_value(serde_json::json!({
//!     "FunctionName": "hello", "Runtime": "python3.12", "Handler": "index.handler",
//!     "Role": "arn:aws:iam::000000000000:role/r", "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}
//! })).unwrap();
//! portico_control::lambda::check_create(&input).unwrap();
//! let mut st = FunctionState::new("hello");
//! let code = StoredCode { location: CodeLocation::Unpacked { dir: "/tmp/x".into() }, sha256: "h".into(), size: 22 };
//! let config = st.create_function(&input, code).unwrap();
//! assert_eq!(config.timeout, 3);
//! let err = st.configuration(Some("7")).unwrap_err();
//! assert_eq!(err.message, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello:7");
//! ```

mod inputs;

pub use inputs::{
    AddPermissionInput, CreateAliasInput, CreateFunctionInput, FunctionCodeInput,
    PublishVersionInput, PutFunctionConcurrencyInput, UpdateAliasInput, UpdateFunctionCodeInput,
    UpdateFunctionConfigurationInput,
};

use crate::{ControlError, ErrorKind, violation};
use portico_model::lambda::{
    AliasConfiguration, AliasRoutingConfiguration, CodeLocation, Environment, Function,
    FunctionConfiguration, FunctionVersion, LATEST, function_arn, new_revision_id, qualified_arn,
};
use serde::Serialize;
use serde_json::{Map as JsonMap, Value};
use std::collections::BTreeMap;

/// Lambda's limit on a `ZipFile` uploaded directly (50 MB).
pub const MAX_ZIPPED_BYTES: usize = 52_428_800;
/// Lambda's limit on a `CreateFunction` / `UpdateFunctionCode` request (the zip in base64).
pub const MAX_CODE_REQUEST_BYTES: usize = 70_167_211;
/// Lambda's limit on a function's environment variables (the JSON of the map).
pub const MAX_ENVIRONMENT_BYTES: usize = 4096;
/// The bucket name of the local-directory form.
pub const HOT_RELOAD_BUCKET: &str = "hot-reload";

/// Runtimes `CreateFunction` accepts (Lambda's current list, plus `provided`, which Portico runs
/// as it runs `provided.al2023`).
pub const RUNTIMES: &[&str] = &[
    "nodejs20.x",
    "python3.14",
    "provided.al2023",
    "python3.12",
    "python3.13",
    "nodejs24.x",
    "nodejs22.x",
    "java25",
    "python3.10",
    "python3.11",
    "java21",
    "ruby3.3",
    "ruby3.4",
    "ruby3.2",
    "python3.8",
    "python3.9",
    "java17",
    "nodejs16.x",
    "dotnet10",
    "dotnet8",
    "java11",
    "dotnet6",
    "nodejs18.x",
    "provided.al2",
    "java8.al2",
];

/// Runtimes Lambda no longer accepts for new or updated functions.
const DEPRECATED_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "python2.7",
    "python3.6",
    "python3.7",
    "java8",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
];

/// Environment variables Lambda sets itself and refuses from the caller.
pub const RESERVED_ENVIRONMENT: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_REGION",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
];

/// Whether Portico can run `runtime`: `python3.x` and `nodejs*` through its bootstraps,
/// `provided*` through the code's `bootstrap`.
pub fn runs_here(runtime: &str) -> bool {
    runtime.starts_with("python3")
        || runtime.starts_with("nodejs")
        || runtime == "provided"
        || runtime.starts_with("provided.")
}

/// A deployment package the caller has already put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    /// Where it lives.
    pub location: CodeLocation,
    /// Base64 of the SHA-256 of the zip (of the path, for a local directory).
    pub sha256: String,
    /// Bytes of the zip (0 for a local directory).
    pub size: u64,
}

/// Where a `FunctionCode` says the code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeSource<'a> {
    /// `ZipFile`, still base64.
    Zip(&'a str),
    /// `{"S3Bucket": "hot-reload", "S3Key": "/abs/dir"}`.
    LocalDir(&'a str),
}

impl FunctionCodeInput {
    /// Where the code comes from, or Lambda's refusal.
    pub fn source(&self) -> Result<CodeSource<'_>, ControlError> {
        if self.image_uri.is_some() {
            return Err(invalid_parameter(
                "Please don't provide ImageUri when updating a function with packageType Zip.",
            ));
        }
        match (&self.zip_file, &self.s3_bucket, &self.s3_key) {
            (Some(zip), None, None) => Ok(CodeSource::Zip(zip)),
            (None, Some(bucket), Some(key)) if bucket == HOT_RELOAD_BUCKET => {
                if !key.starts_with('/') {
                    return Err(invalid_parameter(format!(
                        "With S3Bucket \"{HOT_RELOAD_BUCKET}\", S3Key must be the absolute path \
                         of a directory on the Portico host: {key}"
                    )));
                }
                Ok(CodeSource::LocalDir(key))
            }
            (None, Some(_), Some(_)) => Err(invalid_parameter(
                "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: \
                 The specified bucket does not exist",
            )),
            (None, None, None) => Err(invalid_parameter(
                "Please provide a source for function code.",
            )),
            _ => Err(invalid_parameter(
                "Please do not provide other FunctionCode parameters when providing a ZipFile, \
                 or provide S3Bucket and S3Key together.",
            )),
        }
    }
}

/// Lambda's 400 `InvalidParameterValueException`.
pub fn invalid_parameter(message: impl Into<String>) -> ControlError {
    ControlError::new(ErrorKind::InvalidParameterValue, message)
}

/// Lambda's 404 `ResourceNotFoundException`.
pub fn not_found(message: impl Into<String>) -> ControlError {
    ControlError::new(ErrorKind::ResourceNotFound, message)
}

/// Lambda's 409 `ResourceConflictException`.
pub fn conflict(message: impl Into<String>) -> ControlError {
    ControlError::new(ErrorKind::ResourceConflict, message)
}

/// `Function not found: {arn}`.
pub fn function_not_found(name: &str, qualifier: Option<&str>) -> ControlError {
    not_found(format!(
        "Function not found: {}",
        match qualifier {
            Some(q) => qualified_arn(name, q),
            None => function_arn(name),
        }
    ))
}

fn stale_revision(api: &str) -> ControlError {
    ControlError::new(
        ErrorKind::PreconditionFailed,
        format!(
            "The Revision Id provided does not match the latest Revision Id. Call the {api} API \
             to retrieve the latest Revision Id"
        ),
    )
}

fn validation(value: &str, at: &str, constraint: &str) -> ControlError {
    ControlError::validation(&[violation(value, at, constraint)])
        .unwrap_or_else(|| ControlError::new(ErrorKind::Validation, constraint))
}

/// The `FunctionName` pattern of botocore's model.
const FUNCTION_NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?";
const QUALIFIER_PATTERN: &str = "(|[a-zA-Z0-9$_-]+)";
const ALIAS_PATTERN: &str = "(?!^[0-9]+$)([a-zA-Z0-9-_]+)";

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_qualifier(s: &str) -> bool {
    s == LATEST || is_name(s)
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_region(s: &str) -> bool {
    // [a-z]{2}(-gov)?-[a-z]+-\d
    let parts: Vec<&str> = s.split('-').collect();
    let lower = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let digit = |p: &str| p.len() == 1 && p.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [a, b, c] => a.len() == 2 && lower(a) && lower(b) && digit(c),
        [a, "gov", b, c] => a.len() == 2 && lower(a) && lower(b) && digit(c),
        _ => false,
    }
}

fn is_version(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A function addressed by name or ARN, with the qualifier it names (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    /// The function's name.
    pub name: String,
    /// `$LATEST`, a version number or an alias.
    pub qualifier: Option<String>,
    /// Whether a qualifier was part of the name or ARN (rather than the `Qualifier` parameter).
    pub qualified_name: bool,
}

/// Resolves a `FunctionName` — a name, `name:qualifier`, a partial ARN
/// (`123456789012:function:name`) or a full ARN of any account and region — and the `Qualifier`
/// parameter, as Lambda does.
pub fn function_ref(
    name_or_arn: &str,
    qualifier: Option<&str>,
) -> Result<FunctionRef, ControlError> {
    let bad = || {
        validation(
            name_or_arn,
            "functionName",
            &format!("Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"),
        )
    };
    let parts: Vec<&str> = name_or_arn.split(':').collect();
    let (name, arn_qualifier) = match parts.as_slice() {
        [
            "arn",
            partition,
            "lambda",
            region,
            account,
            "function",
            rest @ ..,
        ] if partition.starts_with("aws") && is_region(region) && is_account(account) => match rest
        {
            [name] => (*name, None),
            [name, q] => (*name, Some(*q)),
            _ => return Err(bad()),
        },
        [region, account, "function", rest @ ..] if is_region(region) && is_account(account) => {
            match rest {
                [name] => (*name, None),
                [name, q] => (*name, Some(*q)),
                _ => return Err(bad()),
            }
        }
        [account, "function", rest @ ..] if is_account(account) => match rest {
            [name] => (*name, None),
            [name, q] => (*name, Some(*q)),
            _ => return Err(bad()),
        },
        ["function", name] => (*name, None),
        ["function", name, q] => (*name, Some(*q)),
        [name] => (*name, None),
        [name, q] => (*name, Some(*q)),
        _ => return Err(bad()),
    };
    if !is_name(name) || arn_qualifier.is_some_and(|q| !is_qualifier(q)) {
        return Err(bad());
    }
    if name_or_arn.len() > 140 {
        return Err(validation(
            name_or_arn,
            "functionName",
            "Member must have length less than or equal to 140",
        ));
    }
    if let Some(q) = qualifier
        && !(q.is_empty()
            || q.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'$' | b'_' | b'-')))
    {
        return Err(validation(
            q,
            "qualifier",
            &format!("Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"),
        ));
    }
    let qualifier = qualifier.filter(|q| !q.is_empty());
    let resolved = match (arn_qualifier, qualifier) {
        (Some(a), Some(q)) if a != q => {
            return Err(invalid_parameter(
                "The derived qualifier from the function name does not match the specified qualifier.",
            ));
        }
        (Some(a), _) => Some(a.to_owned()),
        (None, q) => q.map(str::to_owned),
    };
    Ok(FunctionRef {
        name: name.to_owned(),
        qualifier: resolved,
        qualified_name: arn_qualifier.is_some(),
    })
}

/// `LastModified` now: `2024-01-01T00:00:00.000+0000`.
pub fn lambda_date_now() -> String {
    lambda_date(time::OffsetDateTime::now_utc())
}

/// `LastModified`: `2024-01-01T00:00:00.000+0000`.
pub fn lambda_date(t: time::OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

fn check_runtime(runtime: &str) -> Result<(), ControlError> {
    if DEPRECATED_RUNTIMES.contains(&runtime) {
        return Err(invalid_parameter(format!(
            "The runtime parameter of {runtime} is no longer supported for creating or updating \
             AWS Lambda functions. We recommend you use a supported runtime while creating or \
             updating functions."
        )));
    }
    if !RUNTIMES.contains(&runtime) && runtime != "provided" {
        return Err(invalid_parameter(format!(
            "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum \
             value set: [{}] or be a valid ARN",
            RUNTIMES.join(", ")
        )));
    }
    if !runs_here(runtime) {
        return Err(invalid_parameter(format!(
            "Portico cannot run {runtime} functions: it runs python3.x and nodejs* handlers \
             through its bootstraps and provided* functions through the code's bootstrap."
        )));
    }
    Ok(())
}

fn check_handler(handler: &str) -> Result<(), ControlError> {
    if handler.len() > 128 {
        return Err(validation(
            handler,
            "handler",
            "Member must have length less than or equal to 128",
        ));
    }
    if handler.is_empty() || handler.chars().any(char::is_whitespace) {
        return Err(validation(
            handler,
            "handler",
            r"Member must satisfy regular expression pattern: [^\s]+",
        ));
    }
    Ok(())
}

fn check_role(role: &str) -> Result<(), ControlError> {
    // arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+
    let ok = (|| {
        let rest = role.strip_prefix("arn:")?;
        let (partition, rest) = rest.split_once(':')?;
        if !(partition.is_empty()
            || (partition.starts_with("aws")
                && partition[3..]
                    .bytes()
                    .all(|b| b.is_ascii_alphabetic() || b == b'-')))
        {
            return None;
        }
        let rest = rest.strip_prefix("iam::")?;
        let (account, rest) = rest.split_once(':')?;
        if !is_account(account) {
            return None;
        }
        let path = rest.strip_prefix("role")?;
        let path = path.strip_prefix('/').unwrap_or(path);
        (!path.is_empty()
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@-_/".contains(&b)))
        .then_some(())
    })()
    .is_some();
    if ok {
        Ok(())
    } else {
        Err(validation(
            role,
            "role",
            r"Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+",
        ))
    }
}

fn check_timeout(t: i64) -> Result<u32, ControlError> {
    if t < 1 {
        return Err(validation(
            &t.to_string(),
            "timeout",
            "Member must have value greater than or equal to 1",
        ));
    }
    if t > 900 {
        return Err(validation(
            &t.to_string(),
            "timeout",
            "Member must have value less than or equal to 900",
        ));
    }
    Ok(t as u32)
}

fn check_memory(m: i64) -> Result<u32, ControlError> {
    if m < 128 {
        return Err(validation(
            &m.to_string(),
            "memorySize",
            "Member must have value greater than or equal to 128",
        ));
    }
    if m > 10240 {
        return Err(validation(
            &m.to_string(),
            "memorySize",
            "Member must have value less than or equal to 10240",
        ));
    }
    Ok(m as u32)
}

fn check_description(d: &str) -> Result<(), ControlError> {
    if d.chars().count() > 256 {
        return Err(validation(
            d,
            "description",
            "Member must have length less than or equal to 256",
        ));
    }
    Ok(())
}

fn check_environment(env: &Environment) -> Result<(), ControlError> {
    let valid_name = |k: &str| {
        // Lambda's pattern is [a-zA-Z]([a-zA-Z0-9_])+; one letter is let through.
        let mut b = k.bytes();
        b.next().is_some_and(|c| c.is_ascii_alphabetic())
            && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
    };
    if env.variables.keys().any(|k| !valid_name(k)) {
        return Err(ControlError::new(
            ErrorKind::Validation,
            "1 validation error detected: Value at 'environment.variables' failed to satisfy \
             constraint: Map keys must satisfy constraint: [Member must satisfy regular \
             expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
        ));
    }
    let reserved: Vec<&str> = env
        .variables
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_ENVIRONMENT.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided contains reserved keys that are currently not \
             supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    let measured = serde_json::to_string(&env.variables).unwrap_or_default();
    if measured.len() > MAX_ENVIRONMENT_BYTES {
        return Err(invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(())
}

fn check_architectures(a: &[String]) -> Result<(), ControlError> {
    let listed = format!("[{}]", a.join(", "));
    if a.len() != 1 {
        return Err(validation(
            &listed,
            "architectures",
            if a.is_empty() {
                "Member must have length greater than or equal to 1"
            } else {
                "Member must have length less than or equal to 1"
            },
        ));
    }
    if !matches!(a[0].as_str(), "x86_64" | "arm64") {
        return Err(validation(
            &listed,
            "architectures",
            "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]",
        ));
    }
    Ok(())
}

/// What `CreateFunction` checks before it looks at any state or code.
pub fn check_create(input: &CreateFunctionInput) -> Result<FunctionRef, ControlError> {
    let given = input.function_name.as_deref().unwrap_or_default();
    let r = function_ref(given, None)?;
    if r.name.len() > 64 {
        return Err(invalid_parameter(format!(
            "1 validation error detected: Value '{}' at 'functionName' failed to satisfy \
             constraint: Member must have length less than or equal to 64",
            r.name
        )));
    }
    if r.qualifier.is_some() {
        return Err(validation(
            given,
            "functionName",
            &format!("Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"),
        ));
    }
    if let Some(a) = &input.architectures {
        check_architectures(a)?;
    }
    if let Some(env) = &input.environment {
        check_environment(env)?;
    }
    check_role(input.role.as_deref().unwrap_or_default())?;
    if input.package_type.as_deref().is_some_and(|p| p != "Zip") {
        return Err(invalid_parameter(
            "Portico runs Zip functions only (PackageType Image needs a container runtime).",
        ));
    }
    let (Some(runtime), Some(handler)) = (&input.runtime, &input.handler) else {
        return Err(invalid_parameter(
            "Runtime and Handler are mandatory parameters for functions created with deployment \
             packages.",
        ));
    };
    check_runtime(runtime)?;
    check_handler(handler)?;
    if let Some(t) = input.timeout {
        check_timeout(t)?;
    }
    if let Some(m) = input.memory_size {
        check_memory(m)?;
    }
    if let Some(d) = &input.description {
        check_description(d)?;
    }
    Ok(r)
}

/// What `UpdateFunctionConfiguration` checks before it looks at any state.
pub fn check_update_configuration(
    input: &UpdateFunctionConfigurationInput,
) -> Result<(), ControlError> {
    if let Some(env) = &input.environment {
        check_environment(env)?;
    }
    if let Some(r) = &input.role {
        check_role(r)?;
    }
    if let Some(r) = &input.runtime {
        check_runtime(r)?;
    }
    if let Some(h) = &input.handler {
        check_handler(h)?;
    }
    if let Some(t) = input.timeout {
        check_timeout(t)?;
    }
    if let Some(m) = input.memory_size {
        check_memory(m)?;
    }
    if let Some(d) = &input.description {
        check_description(d)?;
    }
    Ok(())
}

/// What `UpdateFunctionCode` checks before it looks at any state or code.
pub fn check_update_code(input: &UpdateFunctionCodeInput) -> Result<(), ControlError> {
    if let Some(a) = &input.architectures {
        check_architectures(a)?;
    }
    Ok(())
}

/// A qualifier an operation on the function itself refuses (`PutFunctionConcurrency`, …).
pub fn unqualified_only(r: &FunctionRef) -> Result<(), ControlError> {
    if r.qualifier.is_some() {
        return Err(invalid_parameter(
            "This operation is permitted on Lambda functions only. Aliases and versions do not \
             support this operation. Please specify either a function name or an unqualified \
             function ARN.",
        ));
    }
    Ok(())
}

/// `GetFunction`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetFunctionOutput {
    /// The configuration at the qualifier.
    pub configuration: FunctionConfiguration,
    /// Where the code is.
    pub code: CodeInfo,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Reserved concurrency, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
}

/// `FunctionCodeLocation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodeInfo {
    /// `S3`, as Lambda reports it.
    pub repository_type: String,
    /// `file://` URL of the directory the code runs from on the Portico host.
    pub location: String,
}

/// `Concurrency` / `GetFunctionConcurrencyResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Concurrency {
    /// Reserved concurrency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_concurrent_executions: Option<u32>,
}

/// `GetPolicy`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyOutput {
    /// The policy document, as a JSON string.
    pub policy: String,
    /// The revision of the function, version or alias the policy is on.
    pub revision_id: String,
}

/// One statement of a resource policy, on the function (`qualifier` empty), a version or an
/// alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// `""`, a version number or an alias.
    pub qualifier: String,
    /// The statement's `Sid`.
    pub sid: String,
    /// The statement as Lambda returns it (`Sid`, `Effect`, `Principal`, `Action`, `Resource`,
    /// `Condition`, in that order).
    pub statement: Value,
}

/// Everything stored about one function.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionState {
    /// The function's name (whether it exists or not).
    pub name: String,
    /// The function, `None` when there is none of that name.
    pub function: Option<Function>,
    /// Published versions, oldest first.
    pub versions: Vec<FunctionVersion>,
    /// Aliases, by name.
    pub aliases: Vec<AliasConfiguration>,
    /// Resource policy statements, oldest first.
    pub permissions: Vec<Permission>,
    /// `ReservedConcurrentExecutions`.
    pub reserved_concurrency: Option<u32>,
}

/// What a qualifier names.
enum Target<'a> {
    Latest(&'a Function),
    Version(&'a FunctionVersion),
    Alias(
        &'a AliasConfiguration,
        &'a FunctionConfiguration,
        &'a CodeLocation,
    ),
}

impl FunctionState {
    /// The state of a function that does not exist (yet).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            function: None,
            versions: Vec::new(),
            aliases: Vec::new(),
            permissions: Vec::new(),
            reserved_concurrency: None,
        }
    }

    fn function(&self) -> Result<&Function, ControlError> {
        self.function
            .as_ref()
            .ok_or_else(|| function_not_found(&self.name, None))
    }

    fn function_mut(&mut self) -> Result<&mut Function, ControlError> {
        let name = self.name.clone();
        self.function
            .as_mut()
            .ok_or_else(|| function_not_found(&name, None))
    }

    fn version(&self, v: &str) -> Option<&FunctionVersion> {
        self.versions.iter().find(|x| x.config.version == v)
    }

    fn target(&self, qualifier: Option<&str>) -> Result<Target<'_>, ControlError> {
        let f = self.function()?;
        let q = match qualifier {
            None => return Ok(Target::Latest(f)),
            Some(q) if q == LATEST => return Ok(Target::Latest(f)),
            Some(q) => q,
        };
        if let Some(v) = self.version(q) {
            return Ok(Target::Version(v));
        }
        if let Some(a) = self.aliases.iter().find(|a| a.name == q) {
            let (config, code) = if a.function_version == LATEST {
                (&f.config, &f.code)
            } else {
                match self.version(&a.function_version) {
                    Some(v) => (&v.config, &v.code),
                    None => return Err(function_not_found(&self.name, Some(q))),
                }
            };
            return Ok(Target::Alias(a, config, code));
        }
        Err(function_not_found(&self.name, Some(q)))
    }

    /// `CreateFunction` (with `Publish`, version 1 as well).
    pub fn create_function(
        &mut self,
        input: &CreateFunctionInput,
        code: StoredCode,
    ) -> Result<FunctionConfiguration, ControlError> {
        if self.function.is_some() {
            return Err(conflict(format!("Function already exist: {}", self.name)));
        }
        let mut c = FunctionConfiguration::new(
            &self.name,
            input.role.as_deref().unwrap_or_default(),
            lambda_date_now(),
        );
        c.runtime = input.runtime.clone();
        c.handler = input.handler.clone();
        c.description = input.description.clone().unwrap_or_default();
        if let Some(t) = input.timeout {
            c.timeout = check_timeout(t)?;
        }
        if let Some(m) = input.memory_size {
            c.memory_size = check_memory(m)?;
        }
        c.environment = input.environment.clone();
        if let Some(a) = &input.architectures {
            c.architectures = a.clone();
        }
        c.code_sha256 = code.sha256;
        c.code_size = code.size;
        self.function = Some(Function {
            config: c.clone(),
            code: code.location,
            last_version: 0,
            tags: input.tags.clone().unwrap_or_default(),
        });
        self.versions.clear();
        self.aliases.clear();
        self.permissions.clear();
        self.reserved_concurrency = None;
        if input.publish == Some(true) {
            self.publish_version(&PublishVersionInput::default())?;
        }
        Ok(c)
    }

    /// `GetFunctionConfiguration`: the configuration at `qualifier` (an alias answers with its
    /// version's configuration under the alias's ARN).
    pub fn configuration(
        &self,
        qualifier: Option<&str>,
    ) -> Result<FunctionConfiguration, ControlError> {
        Ok(match self.target(qualifier)? {
            Target::Latest(f) => f.config.clone(),
            Target::Version(v) => v.config.clone(),
            Target::Alias(a, c, _) => {
                let mut c = c.clone();
                c.function_arn = a.alias_arn.clone();
                c
            }
        })
    }

    /// `GetFunction`.
    pub fn get_function(&self, qualifier: Option<&str>) -> Result<GetFunctionOutput, ControlError> {
        let configuration = self.configuration(qualifier)?;
        let code = match self.target(qualifier)? {
            Target::Latest(f) => &f.code,
            Target::Version(v) => &v.code,
            Target::Alias(_, _, code) => code,
        };
        let f = self.function()?;
        Ok(GetFunctionOutput {
            configuration,
            code: CodeInfo {
                repository_type: "S3".into(),
                location: format!("file://{}", code.dir()),
            },
            tags: (!f.tags.is_empty()).then(|| f.tags.clone()),
            concurrency: self.reserved_concurrency.map(|n| Concurrency {
                reserved_concurrent_executions: Some(n),
            }),
        })
    }

    /// Whether `qualifier` names something invocable (`Invoke` with `DryRun`).
    pub fn check_invoke(&self, qualifier: Option<&str>) -> Result<(), ControlError> {
        self.target(qualifier).map(|_| ())
    }

    fn check_revision(&self, revision: Option<&str>) -> Result<(), ControlError> {
        match revision {
            Some(r) if r != self.function()?.config.revision_id => {
                Err(stale_revision("GetFunction/GetAlias"))
            }
            _ => Ok(()),
        }
    }

    /// `UpdateFunctionCode` (with `Publish`, a new version too; with `DryRun`, nothing
    /// changes).
    pub fn update_function_code(
        &mut self,
        input: &UpdateFunctionCodeInput,
        code: StoredCode,
    ) -> Result<FunctionConfiguration, ControlError> {
        self.check_revision(input.revision_id.as_deref())?;
        let f = self.function()?;
        let mut next = f.clone();
        next.config.code_sha256 = code.sha256;
        next.config.code_size = code.size;
        if let Some(a) = &input.architectures {
            next.config.architectures = a.clone();
        }
        next.code = code.location;
        next.config.last_modified = lambda_date_now();
        next.config.revision_id = new_revision_id();
        let out = next.config.clone();
        if input.dry_run == Some(true) {
            return Ok(out);
        }
        self.function = Some(next);
        if input.publish == Some(true) {
            self.publish_version(&PublishVersionInput::default())?;
        }
        Ok(out)
    }

    /// `UpdateFunctionConfiguration`: what the input gives replaces what is stored.
    pub fn update_function_configuration(
        &mut self,
        input: &UpdateFunctionConfigurationInput,
    ) -> Result<FunctionConfiguration, ControlError> {
        check_update_configuration(input)?;
        self.check_revision(input.revision_id.as_deref())?;
        let f = self.function_mut()?;
        let c = &mut f.config;
        if let Some(r) = &input.role {
            c.role = r.clone();
        }
        if let Some(h) = &input.handler {
            c.handler = Some(h.clone());
        }
        if let Some(d) = &input.description {
            c.description = d.clone();
        }
        if let Some(t) = input.timeout {
            c.timeout = check_timeout(t)?;
        }
        if let Some(m) = input.memory_size {
            c.memory_size = check_memory(m)?;
        }
        if let Some(e) = &input.environment {
            c.environment = Some(e.clone());
        }
        if let Some(r) = &input.runtime {
            c.runtime = Some(r.clone());
        }
        c.last_modified = lambda_date_now();
        c.revision_id = new_revision_id();
        Ok(c.clone())
    }

    /// `PutFunctionConcurrency`.
    pub fn put_concurrency(
        &mut self,
        input: &PutFunctionConcurrencyInput,
    ) -> Result<Concurrency, ControlError> {
        if self.function.is_none() {
            return Err(function_not_found(&self.name, Some(LATEST)));
        }
        let n = match input.reserved_concurrent_executions {
            Some(n) if n < 0 => {
                return Err(validation(
                    &n.to_string(),
                    "reservedConcurrentExecutions",
                    "Member must have value greater than or equal to 0",
                ));
            }
            Some(n) => u32::try_from(n).map_err(|_| {
                invalid_parameter(
                    "Specified ReservedConcurrentExecutions for function decreases account's \
                     UnreservedConcurrentExecution below its minimum value of [100].",
                )
            })?,
            None => {
                return Err(validation(
                    "null",
                    "reservedConcurrentExecutions",
                    "Member must not be null",
                ));
            }
        };
        self.reserved_concurrency = Some(n);
        Ok(Concurrency {
            reserved_concurrent_executions: Some(n),
        })
    }

    /// `GetFunctionConcurrency`.
    pub fn concurrency(&self) -> Result<Concurrency, ControlError> {
        if self.function.is_none() {
            return Err(function_not_found(&self.name, Some(LATEST)));
        }
        Ok(Concurrency {
            reserved_concurrent_executions: self.reserved_concurrency,
        })
    }

    /// `DeleteFunctionConcurrency`.
    pub fn delete_concurrency(&mut self) -> Result<(), ControlError> {
        if self.function.is_none() {
            return Err(function_not_found(&self.name, Some(LATEST)));
        }
        self.reserved_concurrency = None;
        Ok(())
    }

    /// `DeleteFunction`: the whole function, or with a version number that version only.
    pub fn delete_function(&mut self, qualifier: Option<&str>) -> Result<(), ControlError> {
        self.function()?;
        match qualifier {
            None => {
                *self = Self::new(std::mem::take(&mut self.name));
                Ok(())
            }
            Some(q) if q == LATEST => Err(invalid_parameter(
                "$LATEST version cannot be deleted without deleting the function.",
            )),
            Some(q) => {
                if self.version(q).is_none() {
                    return Err(function_not_found(&self.name, Some(q)));
                }
                let users: Vec<&str> = self
                    .aliases
                    .iter()
                    .filter(|a| {
                        a.function_version == q
                            || a.routing_config
                                .as_ref()
                                .is_some_and(|r| r.additional_version_weights.contains_key(q))
                    })
                    .map(|a| a.name.as_str())
                    .collect();
                if !users.is_empty() {
                    return Err(conflict(format!(
                        "Unable to delete version because the following aliases reference it: [{}]",
                        users.join(", ")
                    )));
                }
                self.versions.retain(|v| v.config.version != q);
                self.permissions.retain(|p| p.qualifier != q);
                Ok(())
            }
        }
    }

    /// `PublishVersion`: a frozen copy of `$LATEST` (the newest version again when `$LATEST`
    /// has not changed since it was published).
    pub fn publish_version(
        &mut self,
        input: &PublishVersionInput,
    ) -> Result<FunctionConfiguration, ControlError> {
        self.check_revision(input.revision_id.as_deref())?;
        let f = self.function()?;
        if let Some(sha) = &input.code_sha256
            && *sha != f.config.code_sha256
        {
            return Err(invalid_parameter(format!(
                "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please \
                 try again with the CodeSHA256 in $LATEST.",
                f.config.code_sha256
            )));
        }
        if let Some(newest) = self.versions.last()
            && same_function(&newest.config, &newest.code, &f.config, &f.code)
        {
            return Ok(newest.config.clone());
        }
        let number = f.last_version + 1;
        let mut config = f.config.clone();
        config.version = number.to_string();
        config.function_arn = qualified_arn(&self.name, &config.version);
        config.revision_id = new_revision_id();
        if let Some(d) = &input.description {
            check_description(d)?;
            config.description = d.clone();
        }
        let code = f.code.clone();
        self.versions.push(FunctionVersion {
            config: config.clone(),
            code,
        });
        if let Some(f) = self.function.as_mut() {
            f.last_version = number;
        }
        Ok(config)
    }

    /// `ListVersionsByFunction`: `$LATEST`, then the versions oldest first.
    pub fn list_versions(&self) -> Result<Vec<FunctionConfiguration>, ControlError> {
        let f = self.function()?;
        let mut out = vec![f.config.clone()];
        out.extend(self.versions.iter().map(|v| v.config.clone()));
        Ok(out)
    }

    fn check_alias_target(
        &self,
        version: &str,
        routing: Option<&AliasRoutingConfiguration>,
    ) -> Result<(), ControlError> {
        if version != LATEST && !is_version(version) {
            return Err(validation(
                version,
                "functionVersion",
                r"Member must satisfy regular expression pattern: (\$LATEST|[0-9]+)",
            ));
        }
        if version != LATEST && self.version(version).is_none() {
            return Err(function_not_found(&self.name, Some(version)));
        }
        if let Some(r) = routing {
            let w = &r.additional_version_weights;
            if w.len() > 1 {
                return Err(invalid_parameter(
                    "Number of items in AdditionalVersionWeights cannot be greater than 1",
                ));
            }
            for (v, weight) in w {
                if !(0.0..=1.0).contains(weight) {
                    return Err(validation(
                        &format!("{{{v}={weight:?}}}"),
                        "routingConfig.additionalVersionWeights",
                        "Map value must satisfy constraint: [Member must have value less than or \
                         equal to 1.0, Member must have value greater than or equal to 0.0, \
                         Member must not be null]",
                    ));
                }
                if version == LATEST {
                    return Err(invalid_parameter(
                        "$LATEST is not supported for an alias pointing to more than 1 version",
                    ));
                }
                if v == version {
                    return Err(invalid_parameter(format!(
                        "Invalid function version {v}. Function version {v} is already included \
                         in routing configuration."
                    )));
                }
                if self.version(v).is_none() {
                    return Err(function_not_found(&self.name, Some(v)));
                }
            }
        }
        Ok(())
    }

    /// `CreateAlias`.
    pub fn create_alias(
        &mut self,
        input: &CreateAliasInput,
    ) -> Result<AliasConfiguration, ControlError> {
        let name = input.name.as_deref().unwrap_or_default();
        check_alias_name(name)?;
        self.function()?;
        let version = input.function_version.as_deref().unwrap_or_default();
        self.check_alias_target(version, input.routing_config.as_ref())?;
        if self.aliases.iter().any(|a| a.name == name) {
            return Err(conflict(format!(
                "Alias already exists: {}",
                qualified_arn(&self.name, name)
            )));
        }
        if let Some(d) = &input.description {
            check_description(d)?;
        }
        let alias = AliasConfiguration {
            alias_arn: qualified_arn(&self.name, name),
            name: name.to_owned(),
            function_version: version.to_owned(),
            description: input.description.clone().unwrap_or_default(),
            routing_config: input
                .routing_config
                .clone()
                .filter(|r| !r.additional_version_weights.is_empty()),
            revision_id: new_revision_id(),
        };
        self.aliases.push(alias.clone());
        self.aliases.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(alias)
    }

    /// `GetAlias`.
    pub fn alias(&self, name: &str) -> Result<AliasConfiguration, ControlError> {
        check_alias_name(name)?;
        self.function()?;
        self.aliases
            .iter()
            .find(|a| a.name == name)
            .cloned()
            .ok_or_else(|| {
                not_found(format!(
                    "Cannot find alias arn: {}",
                    qualified_arn(&self.name, name)
                ))
            })
    }

    /// `ListAliases`, optionally only those pointing at `function_version`.
    pub fn list_aliases(
        &self,
        function_version: Option<&str>,
    ) -> Result<Vec<AliasConfiguration>, ControlError> {
        self.function()?;
        Ok(self
            .aliases
            .iter()
            .filter(|a| function_version.is_none_or(|v| a.function_version == v))
            .cloned()
            .collect())
    }

    /// `UpdateAlias`.
    pub fn update_alias(
        &mut self,
        name: &str,
        input: &UpdateAliasInput,
    ) -> Result<AliasConfiguration, ControlError> {
        check_alias_name(name)?;
        self.function()?;
        let Some(current) = self.aliases.iter().find(|a| a.name == name).cloned() else {
            return Err(not_found(format!(
                "Alias not found: {}",
                qualified_arn(&self.name, name)
            )));
        };
        if input
            .revision_id
            .as_deref()
            .is_some_and(|r| r != current.revision_id)
        {
            return Err(stale_revision("GetFunction/GetAlias"));
        }
        let version = input
            .function_version
            .clone()
            .unwrap_or_else(|| current.function_version.clone());
        let routing = match &input.routing_config {
            Some(r) => Some(r.clone()),
            None => current.routing_config.clone(),
        };
        self.check_alias_target(&version, routing.as_ref())?;
        if let Some(d) = &input.description {
            check_description(d)?;
        }
        let mut next = current;
        next.function_version = version;
        if let Some(d) = &input.description {
            next.description = d.clone();
        }
        next.routing_config = routing.filter(|r| !r.additional_version_weights.is_empty());
        next.revision_id = new_revision_id();
        if let Some(slot) = self.aliases.iter_mut().find(|a| a.name == name) {
            *slot = next.clone();
        }
        Ok(next)
    }

    /// `DeleteAlias` (an alias that does not exist is not an error, as on Lambda).
    pub fn delete_alias(&mut self, name: &str) -> Result<(), ControlError> {
        check_alias_name(name)?;
        self.function()?;
        self.aliases.retain(|a| a.name != name);
        self.permissions.retain(|p| p.qualifier != name);
        Ok(())
    }

    /// The ARN and revision of what a policy `qualifier` names; `$LATEST` is refused.
    fn policy_target(&self, qualifier: Option<&str>) -> Result<(String, String), ControlError> {
        self.function()?;
        match qualifier {
            None => Ok((
                function_arn(&self.name),
                self.function()?.config.revision_id.clone(),
            )),
            Some(q) if q == LATEST => Err(invalid_parameter(
                "We currently do not support adding policies for $LATEST.",
            )),
            Some(q) => {
                if let Some(v) = self.version(q) {
                    return Ok((v.config.function_arn.clone(), v.config.revision_id.clone()));
                }
                if let Some(a) = self.aliases.iter().find(|a| a.name == q) {
                    return Ok((a.alias_arn.clone(), a.revision_id.clone()));
                }
                if is_version(q) {
                    Err(function_not_found(&self.name, Some(q)))
                } else {
                    Err(not_found(format!(
                        "Cannot find alias arn: {}",
                        qualified_arn(&self.name, q)
                    )))
                }
            }
        }
    }

    fn bump_revision(&mut self, qualifier: Option<&str>) {
        let next = new_revision_id();
        match qualifier {
            None => {
                if let Some(f) = self.function.as_mut() {
                    f.config.revision_id = next;
                }
            }
            Some(q) => {
                if let Some(v) = self.versions.iter_mut().find(|v| v.config.version == q) {
                    v.config.revision_id = next;
                } else if let Some(a) = self.aliases.iter_mut().find(|a| a.name == q) {
                    a.revision_id = next;
                }
            }
        }
    }

    /// `AddPermission`: the statement added, as the JSON string Lambda returns.
    pub fn add_permission(
        &mut self,
        qualifier: Option<&str>,
        input: &AddPermissionInput,
    ) -> Result<String, ControlError> {
        let sid = input.statement_id.as_deref().unwrap_or_default();
        if !is_name(sid) {
            return Err(validation(
                sid,
                "statementId",
                "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
            ));
        }
        let action = input.action.as_deref().unwrap_or_default();
        let action_ok = action == "*"
            || action == "lambda:*"
            || action
                .strip_prefix("lambda:")
                .is_some_and(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphabetic()));
        if !action_ok {
            return Err(validation(
                action,
                "action",
                "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])",
            ));
        }
        let (resource, revision) = self.policy_target(qualifier)?;
        if input.revision_id.as_deref().is_some_and(|r| r != revision) {
            return Err(stale_revision("GetPolicy"));
        }
        let q = qualifier.unwrap_or_default();
        if self
            .permissions
            .iter()
            .any(|p| p.qualifier == q && p.sid == sid)
        {
            return Err(conflict(format!(
                "The statement id ({sid}) provided already exists. Please provide a new \
                 statement id, or remove the existing statement."
            )));
        }
        let principal = input.principal.as_deref().unwrap_or_default();
        let principal = if principal.ends_with(".amazonaws.com") {
            serde_json::json!({ "Service": principal })
        } else if is_account(principal) {
            serde_json::json!({ "AWS": format!("arn:aws:iam::{principal}:root") })
        } else if principal.starts_with("arn:aws") && principal.contains(":iam:") {
            serde_json::json!({ "AWS": principal })
        } else if principal == "*" {
            Value::String("*".into())
        } else {
            return Err(invalid_parameter(
                "The provided principal was invalid. Please check the principal and try again.",
            ));
        };
        let mut conditions: JsonMap<String, Value> = JsonMap::new();
        let mut add = |op: &str, key: &str, value: &Option<String>| {
            if let Some(v) = value {
                let entry = conditions
                    .entry(op.to_owned())
                    .or_insert_with(|| Value::Object(JsonMap::new()));
                if let Some(o) = entry.as_object_mut() {
                    o.insert(key.to_owned(), Value::String(v.clone()));
                }
            }
        };
        add(
            "StringEquals",
            "lambda:FunctionUrlAuthType",
            &input.function_url_auth_type,
        );
        add(
            "StringEquals",
            "aws:PrincipalOrgID",
            &input.principal_org_id,
        );
        add("StringEquals", "AWS:SourceAccount", &input.source_account);
        add(
            "StringEquals",
            "lambda:EventSourceToken",
            &input.event_source_token,
        );
        add("ArnLike", "AWS:SourceArn", &input.source_arn);
        let mut statement = JsonMap::new();
        statement.insert("Sid".into(), Value::String(sid.to_owned()));
        statement.insert("Effect".into(), Value::String("Allow".into()));
        statement.insert("Principal".into(), principal);
        statement.insert("Action".into(), Value::String(action.to_owned()));
        statement.insert("Resource".into(), Value::String(resource));
        if !conditions.is_empty() {
            statement.insert("Condition".into(), Value::Object(conditions));
        }
        let statement = Value::Object(statement);
        let text = statement.to_string();
        self.permissions.push(Permission {
            qualifier: q.to_owned(),
            sid: sid.to_owned(),
            statement,
        });
        self.bump_revision(qualifier);
        Ok(text)
    }

    /// `RemovePermission`.
    pub fn remove_permission(
        &mut self,
        qualifier: Option<&str>,
        sid: &str,
        revision_id: Option<&str>,
    ) -> Result<(), ControlError> {
        if self.function.is_none() {
            return Err(not_found(format!(
                "No policy found for: {}",
                function_arn(&self.name)
            )));
        }
        let (_, revision) = self.policy_target(qualifier)?;
        if revision_id.is_some_and(|r| r != revision) {
            return Err(stale_revision("GetPolicy"));
        }
        let q = qualifier.unwrap_or_default();
        if !self.permissions.iter().any(|p| p.qualifier == q) {
            return Err(not_found(
                "No policy is associated with the given resource.",
            ));
        }
        let before = self.permissions.len();
        self.permissions
            .retain(|p| !(p.qualifier == q && p.sid == sid));
        if self.permissions.len() == before {
            return Err(not_found(format!(
                "Statement {sid} is not found in resource policy."
            )));
        }
        self.bump_revision(qualifier);
        Ok(())
    }

    /// `GetPolicy`.
    pub fn policy(&self, qualifier: Option<&str>) -> Result<PolicyOutput, ControlError> {
        let missing = || not_found("The resource you requested does not exist.");
        if self.function.is_none() {
            return Err(missing());
        }
        let (_, revision) = self.policy_target(qualifier).map_err(|_| missing())?;
        let q = qualifier.unwrap_or_default();
        let statements: Vec<Value> = self
            .permissions
            .iter()
            .filter(|p| p.qualifier == q)
            .map(|p| p.statement.clone())
            .collect();
        if statements.is_empty() {
            return Err(missing());
        }
        let mut policy = JsonMap::new();
        policy.insert("Version".into(), Value::String("2012-10-17".into()));
        policy.insert("Id".into(), Value::String("default".into()));
        policy.insert("Statement".into(), Value::Array(statements));
        Ok(PolicyOutput {
            policy: Value::Object(policy).to_string(),
            revision_id: revision,
        })
    }

    /// The directories of unpacked code the function's `$LATEST` and versions still use.
    pub fn unpacked_dirs(&self) -> Vec<String> {
        let mut out = Vec::new();
        let codes = self
            .function
            .iter()
            .map(|f| &f.code)
            .chain(self.versions.iter().map(|v| &v.code));
        for c in codes {
            if let CodeLocation::Unpacked { dir } = c
                && !out.contains(dir)
            {
                out.push(dir.clone());
            }
        }
        out
    }
}

fn check_alias_name(name: &str) -> Result<(), ControlError> {
    if !is_name(name) || is_version(name) {
        return Err(validation(
            name,
            "name",
            &format!("Member must satisfy regular expression pattern: {ALIAS_PATTERN}"),
        ));
    }
    Ok(())
}

/// Whether a published version froze exactly what `$LATEST` is now (then `PublishVersion`
/// publishes nothing new).
fn same_function(
    version: &FunctionConfiguration,
    version_code: &CodeLocation,
    latest: &FunctionConfiguration,
    latest_code: &CodeLocation,
) -> bool {
    let strip = |c: &FunctionConfiguration| {
        let mut c = c.clone();
        c.version = String::new();
        c.function_arn = String::new();
        c.revision_id = String::new();
        c.description = String::new();
        c.last_modified = String::new();
        c
    };
    version_code == latest_code && strip(version) == strip(latest)
}

/// `MaxItems` of a listing (1 to 10000), or Lambda's refusal.
pub fn max_items(given: Option<&str>, default: usize) -> Result<usize, ControlError> {
    match given {
        None => Ok(default),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n < 1 => Err(validation(
                s,
                "maxItems",
                "Member must have value greater than or equal to 1",
            )),
            Ok(n) if n > 10_000 => Err(validation(
                s,
                "maxItems",
                "Member must have value less than or equal to 10000",
            )),
            Ok(n) => Ok(n as usize),
            Err(_) => Err(validation(s, "maxItems", "Member must be a number")),
        },
    }
}

/// One page of a listing after `marker` (the position, as [`page`] hands it out), and the
/// marker of the next page.
pub fn page<T>(
    items: Vec<T>,
    marker: Option<&str>,
    max_items: usize,
) -> Result<(Vec<T>, Option<String>), ControlError> {
    let start = match marker {
        None | Some("") => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| invalid_parameter(format!("Invalid marker: {m}")))?,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max_items).collect();
    let next = (start.saturating_add(max_items) < total).then(|| (start + max_items).to_string());
    Ok((page, next))
}

#[cfg(test)]
mod tests;
