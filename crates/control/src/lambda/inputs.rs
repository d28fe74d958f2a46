//! Request bodies of the Lambda operations (PascalCase, as botocore's `lambda` model names them).

use portico_model::lambda::{AliasRoutingConfiguration, Environment};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `FunctionCode` of `CreateFunction` (and the code fields of `UpdateFunctionCode`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionCodeInput {
    /// The deployment package, base64 on the wire.
    pub zip_file: Option<String>,
    /// `hot-reload` for the local-directory form; any other bucket does not exist here.
    pub s3_bucket: Option<String>,
    /// With `hot-reload`: the absolute path of the directory to serve.
    pub s3_key: Option<String>,
    /// Ignored.
    pub s3_object_version: Option<String>,
    /// Container images are not run by Portico.
    pub image_uri: Option<String>,
}

/// `CreateFunction` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunctionInput {
    /// Name (or ARN).
    pub function_name: Option<String>,
    /// `python3.12`, …
    pub runtime: Option<String>,
    /// Execution role ARN.
    pub role: Option<String>,
    /// `index.handler`.
    pub handler: Option<String>,
    /// The code.
    pub code: Option<FunctionCodeInput>,
    /// Free text.
    pub description: Option<String>,
    /// Seconds.
    pub timeout: Option<i64>,
    /// MB.
    pub memory_size: Option<i64>,
    /// Publish version 1 as well.
    pub publish: Option<bool>,
    /// `Zip` (`Image` is refused).
    pub package_type: Option<String>,
    /// Environment variables.
    pub environment: Option<Environment>,
    /// Tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// `["x86_64"]` or `["arm64"]`.
    pub architectures: Option<Vec<String>>,
}

/// `UpdateFunctionCode` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateFunctionCodeInput {
    /// The new deployment package, base64.
    pub zip_file: Option<String>,
    /// `hot-reload` for a local directory.
    pub s3_bucket: Option<String>,
    /// The directory with `hot-reload`.
    pub s3_key: Option<String>,
    /// Ignored.
    pub s3_object_version: Option<String>,
    /// Refused.
    pub image_uri: Option<String>,
    /// Publish a version as well.
    pub publish: Option<bool>,
    /// Check only, change nothing.
    pub dry_run: Option<bool>,
    /// Only if `$LATEST` still has this revision.
    pub revision_id: Option<String>,
    /// `["x86_64"]` or `["arm64"]`.
    pub architectures: Option<Vec<String>>,
}

impl UpdateFunctionCodeInput {
    /// The code fields as a [`FunctionCodeInput`].
    pub fn code(&self) -> FunctionCodeInput {
        FunctionCodeInput {
            zip_file: self.zip_file.clone(),
            s3_bucket: self.s3_bucket.clone(),
            s3_key: self.s3_key.clone(),
            s3_object_version: self.s3_object_version.clone(),
            image_uri: self.image_uri.clone(),
        }
    }
}

/// `UpdateFunctionConfiguration` body: what is given replaces what is stored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateFunctionConfigurationInput {
    /// Execution role ARN.
    pub role: Option<String>,
    /// Handler.
    pub handler: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Seconds.
    pub timeout: Option<i64>,
    /// MB.
    pub memory_size: Option<i64>,
    /// The whole environment (replaces the old one).
    pub environment: Option<Environment>,
    /// Runtime.
    pub runtime: Option<String>,
    /// Only if `$LATEST` still has this revision.
    pub revision_id: Option<String>,
}

/// `PutFunctionConcurrency` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutFunctionConcurrencyInput {
    /// At most this many instances at once (0 throttles every invocation).
    pub reserved_concurrent_executions: Option<i64>,
}

/// `AddPermission` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionInput {
    /// The statement's id.
    pub statement_id: Option<String>,
    /// `lambda:InvokeFunction`, …
    pub action: Option<String>,
    /// `apigateway.amazonaws.com`, an account id, an IAM ARN or `*`.
    pub principal: Option<String>,
    /// `AWS:SourceArn` condition.
    pub source_arn: Option<String>,
    /// `AWS:SourceAccount` condition.
    pub source_account: Option<String>,
    /// `lambda:EventSourceToken` condition.
    pub event_source_token: Option<String>,
    /// `aws:PrincipalOrgID` condition.
    #[serde(rename = "PrincipalOrgID")]
    pub principal_org_id: Option<String>,
    /// `lambda:FunctionUrlAuthType` condition.
    pub function_url_auth_type: Option<String>,
    /// Only if the target still has this revision.
    pub revision_id: Option<String>,
}

/// `PublishVersion` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishVersionInput {
    /// Only if `$LATEST`'s code has this hash.
    pub code_sha256: Option<String>,
    /// The version's description (else `$LATEST`'s).
    pub description: Option<String>,
    /// Only if `$LATEST` still has this revision.
    pub revision_id: Option<String>,
}

/// `CreateAlias` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAliasInput {
    /// The alias.
    pub name: Option<String>,
    /// The version it points at.
    pub function_version: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Weighted routing (stored only).
    pub routing_config: Option<AliasRoutingConfiguration>,
}

/// `UpdateAlias` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAliasInput {
    /// The version it points at.
    pub function_version: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Weighted routing (stored only).
    pub routing_config: Option<AliasRoutingConfiguration>,
    /// Only if the alias still has this revision.
    pub revision_id: Option<String>,
}
