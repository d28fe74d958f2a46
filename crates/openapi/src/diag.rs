//! Diagnostics (errors and warnings), JSONPath-style locations and the collector used while importing.

use std::fmt;

/// One problem, located by a JSONPath-style location into the document, e.g.
/// `$.paths['/pets/{id}'].get.x-amazon-apigateway-integration.type`, or `line 3 column 7` for syntax errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is: a JSONPath-style location, or `line L column C` for syntax errors.
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The document could not be imported. Holds every problem found, not only the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_errors(.errors))]
pub struct ImportError {
    /// Every error found, in document order.
    pub errors: Vec<Diagnostic>,
}

impl ImportError {
    /// An import error with a single diagnostic.
    pub fn single(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            errors: vec![Diagnostic::new(path, message)],
        }
    }
}

fn render_errors(errors: &[Diagnostic]) -> String {
    let n = errors.len();
    let noun = if n == 1 { "error" } else { "errors" };
    let mut out = format!("invalid OpenAPI definition ({n} {noun}):");
    for d in errors {
        out.push('\n');
        out.push_str(&d.to_string());
    }
    out
}

/// A JSONPath-style location being built while walking the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonPath(String);

impl JsonPath {
    /// `$`, the document root.
    pub(crate) fn root() -> Self {
        Self("$".to_owned())
    }

    /// The member `key` of this location: `.key` for plain names, `['key']` otherwise.
    pub(crate) fn key(&self, key: &str) -> Self {
        let plain = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'));
        if plain {
            Self(format!("{}.{key}", self.0))
        } else {
            let escaped = key.replace('\\', "\\\\").replace('\'', "\\'");
            Self(format!("{}['{escaped}']", self.0))
        }
    }

    /// The array element `index` of this location.
    pub(crate) fn index(&self, index: usize) -> Self {
        Self(format!("{}[{index}]", self.0))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Collects errors and warnings in document order.
#[derive(Debug, Default)]
pub(crate) struct Diags {
    pub(crate) errors: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
}

impl Diags {
    pub(crate) fn error(&mut self, path: &JsonPath, message: impl Into<String>) {
        self.errors.push(Diagnostic::new(path.as_str(), message));
    }

    pub(crate) fn warn(&mut self, path: &JsonPath, message: impl Into<String>) {
        self.warnings.push(Diagnostic::new(path.as_str(), message));
    }
}
