//! Lambda (2015-03-31) objects. Field names follow botocore's `lambda` service model
//! (`FunctionConfiguration`, `AliasConfiguration`, …): PascalCase, absent values omitted.
//!
//! What the Lambda API stores of a function is a [`Function`] (its `$LATEST` configuration and
//! code) with its published [`FunctionVersion`]s, its aliases, its resource policy statements and
//! its reserved concurrency. ARNs name the account [`ACCOUNT_ID`] in [`REGION`]; a function
//! addressed by an ARN of any account or region resolves to the local function of that name.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The region Portico's Lambda ARNs name (`AWS_REGION` of the workers).
pub const REGION: &str = "us-east-1";
/// The account Portico's ARNs name (the same as the `apigateway` objects').
pub const ACCOUNT_ID: &str = "000000000000";
/// `$LATEST`.
pub const LATEST: &str = "$LATEST";
/// The default `Timeout` in seconds.
pub const DEFAULT_TIMEOUT: u32 = 3;
/// The default `MemorySize` in MB.
pub const DEFAULT_MEMORY_SIZE: u32 = 128;

/// `arn:aws:lambda:{region}:{account}:function:{name}`.
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}")
}

/// `arn:aws:lambda:{region}:{account}:function:{name}:{qualifier}`.
pub fn qualified_arn(name: &str, qualifier: &str) -> String {
    format!("{}:{qualifier}", function_arn(name))
}

/// A UUID v4 (`RevisionId`).
pub fn new_revision_id() -> String {
    let (a, b) = (fastrand::u64(..), fastrand::u64(..));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// `Environment` of a configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Environment {
    /// Name → value.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// `TracingConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TracingConfig {
    /// `PassThrough` (Portico does not trace).
    pub mode: String,
}

/// `EphemeralStorage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EphemeralStorage {
    /// MB of `/tmp` (512: Lambda's default; informational here).
    pub size: u32,
}

/// `LoggingConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfig {
    /// `Text`.
    pub log_format: String,
    /// `/aws/lambda/{name}`.
    pub log_group: String,
}

/// `SnapStart` as a configuration reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnapStartResponse {
    /// `None`.
    pub apply_on: String,
    /// `Off`.
    pub optimization_status: String,
}

/// A function's configuration at `$LATEST` or a published version (`FunctionConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConfiguration {
    /// The name.
    pub function_name: String,
    /// The ARN (qualified with the version for a published version).
    pub function_arn: String,
    /// `python3.12`, `nodejs20.x`, `provided.al2023`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// The execution role (stored; Portico does not assume it).
    pub role: String,
    /// `index.handler`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    /// Bytes of the deployment package (0 for a local directory).
    pub code_size: u64,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Seconds.
    pub timeout: u32,
    /// MB.
    pub memory_size: u32,
    /// `2024-01-01T00:00:00.000+0000`.
    pub last_modified: String,
    /// Base64 of the SHA-256 of the deployment package.
    pub code_sha256: String,
    /// `$LATEST` or the version number.
    pub version: String,
    /// The function's environment variables, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// `{"Mode": "PassThrough"}`.
    pub tracing_config: TracingConfig,
    /// Changes with every update.
    pub revision_id: String,
    /// `Active` (Portico creates and updates synchronously).
    pub state: String,
    /// `Successful`.
    pub last_update_status: String,
    /// `Zip`.
    pub package_type: String,
    /// `["x86_64"]` or `["arm64"]` (informational: workers run on this machine).
    pub architectures: Vec<String>,
    /// `{"Size": 512}`.
    pub ephemeral_storage: EphemeralStorage,
    /// `{"LogFormat": "Text", "LogGroup": "/aws/lambda/{name}"}`.
    pub logging_config: LoggingConfig,
    /// `{"ApplyOn": "None", "OptimizationStatus": "Off"}`.
    pub snap_start: SnapStartResponse,
}

impl FunctionConfiguration {
    /// A `$LATEST` configuration with Lambda's defaults.
    pub fn new(name: &str, role: &str, last_modified: String) -> Self {
        Self {
            function_name: name.to_owned(),
            function_arn: function_arn(name),
            runtime: None,
            role: role.to_owned(),
            handler: None,
            code_size: 0,
            description: String::new(),
            timeout: DEFAULT_TIMEOUT,
            memory_size: DEFAULT_MEMORY_SIZE,
            last_modified,
            code_sha256: String::new(),
            version: LATEST.to_owned(),
            environment: None,
            tracing_config: TracingConfig {
                mode: "PassThrough".into(),
            },
            revision_id: new_revision_id(),
            state: "Active".into(),
            last_update_status: "Successful".into(),
            package_type: "Zip".into(),
            architectures: vec!["x86_64".into()],
            ephemeral_storage: EphemeralStorage { size: 512 },
            logging_config: LoggingConfig {
                log_format: "Text".into(),
                log_group: format!("/aws/lambda/{name}"),
            },
            snap_start: SnapStartResponse {
                apply_on: "None".into(),
                optimization_status: "Off".into(),
            },
        }
    }
}

/// Where a function's code lives on the Portico host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum CodeLocation {
    /// A `ZipFile` unpacked into this directory (owned by Portico; removed with the function).
    Unpacked {
        /// The directory.
        dir: String,
    },
    /// A local directory served as it is, read at each worker start (the development form
    /// `Code: {"S3Bucket": "hot-reload", "S3Key": "/abs/dir"}`; never removed by Portico).
    LocalDir {
        /// The directory.
        dir: String,
    },
}

impl CodeLocation {
    /// The directory the workers run in (`LAMBDA_TASK_ROOT`).
    pub fn dir(&self) -> &str {
        match self {
            Self::Unpacked { dir } | Self::LocalDir { dir } => dir,
        }
    }
}

/// A function: its `$LATEST` configuration and code, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Function {
    /// `$LATEST`.
    pub config: FunctionConfiguration,
    /// `$LATEST`'s code.
    pub code: CodeLocation,
    /// The highest version number published so far (numbers are never reused).
    #[serde(default)]
    pub last_version: u64,
    /// Tags given at creation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A published version: a frozen copy of `$LATEST`'s configuration and code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionVersion {
    /// The configuration, `Version` set to the number.
    pub config: FunctionConfiguration,
    /// The code it froze.
    pub code: CodeLocation,
}

impl FunctionVersion {
    /// The version number.
    pub fn number(&self) -> u64 {
        self.config.version.parse().unwrap_or(0)
    }
}

/// `AliasRoutingConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasRoutingConfiguration {
    /// Version → share of the traffic (stored; Portico routes every call to `FunctionVersion`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub additional_version_weights: BTreeMap<String, f64>,
}

/// An alias (`AliasConfiguration`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasConfiguration {
    /// `arn:…:function:{name}:{alias}`.
    pub alias_arn: String,
    /// The alias.
    pub name: String,
    /// The version it points at.
    pub function_version: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Weighted routing (stored only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_config: Option<AliasRoutingConfiguration>,
    /// Changes with every update.
    pub revision_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_configuration_serializes_as_lambda_does() {
        let c = FunctionConfiguration::new(
            "hello",
            "arn:aws:iam::000000000000:role/r",
            "2024-01-01T00:00:00.000+0000".into(),
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v["FunctionArn"],
            "arn:aws:lambda:us-east-1:000000000000:function:hello"
        );
        assert_eq!(v["Timeout"], 3);
        assert_eq!(v["MemorySize"], 128);
        assert_eq!(v["Version"], "$LATEST");
        assert_eq!(v["TracingConfig"]["Mode"], "PassThrough");
        assert_eq!(v["LoggingConfig"]["LogGroup"], "/aws/lambda/hello");
        assert!(v.get("Environment").is_none() && v.get("Runtime").is_none());
        let back: FunctionConfiguration = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn revision_ids_are_uuids() {
        let id = new_revision_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert_ne!(id, new_revision_id());
    }

    #[test]
    fn code_locations_are_tagged() {
        let c = CodeLocation::LocalDir { dir: "/src".into() };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"kind":"localDir","dir":"/src"}"#
        );
        assert_eq!(c.dir(), "/src");
    }
}
