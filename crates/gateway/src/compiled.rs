//! What every API type's compiler shares: text shared between routes and metric labels, and the
//! warnings a compile reports. A leaf: the REST compiler (`compile`) and the HTTP API compiler
//! (`http_api`) both build on it.

use std::sync::Arc;

/// A string that the routes and metric labels naming the same thing share.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedStr(pub(crate) Arc<str>);

impl SharedStr {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SharedStr {
    fn from(s: &str) -> Self {
        Self(s.into())
    }
}

impl std::ops::Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SharedStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A non-fatal problem found while compiling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileWarning {
    /// `{apiId}/{stage} {METHOD} {path}` or `{apiId}/{stage}`.
    pub location: String,
    /// What is wrong and what the gateway does about it.
    pub message: String,
}
