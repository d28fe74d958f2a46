//! OpenAPI import and export for Portico: turns an OpenAPI 3.0 (or Swagger 2.0) document with
//! `x-amazon-apigateway-*` extensions into REST API resources, the way Amazon API Gateway's
//! `ImportRestApi` does. No IO.
//!
//! Two steps: [`parse_document`] reads JSON or YAML bytes (at most 6 MiB) into a
//! [`serde_json::Value`]; [`import`] validates it and builds an [`ImportedApi`]: the API's name,
//! settings and resource tree (root first, parents before children, fresh resource ids). Every
//! problem is collected: errors (which make the import fail as a whole) and warnings (features
//! accepted but not supported, such as authorizers), each located by a JSONPath-style
//! [`Diagnostic::path`].
//!
//! [`export`] goes the other way, as `GetExport` does: a deployment snapshot becomes an OpenAPI
//! 3.0 or Swagger 2.0 document (optionally with the extensions), which [`render`] writes as JSON
//! or YAML; importing an export with extensions rebuilds the same resources and methods.
//!
//! HTTP APIs (apigatewayv2) have their own pair: [`import_http_api`] and [`export_http_api`].
//!
//! ```
//! let yaml = br#"
//! openapi: 3.0.1
//! info: { title: pets }
//! paths:
//!   /pets/{id}:
//!     get:
//!       parameters: [{ name: id, in: path, required: true }]
//!       x-amazon-apigateway-integration:
//!         type: http_proxy
//!         uri: http://backend.example/pets/{id}
//! "#;
//! let doc = portico_openapi::parse_document(yaml).unwrap();
//! let api = portico_openapi::import(&doc).unwrap();
//! assert_eq!(api.name, "pets");
//! let paths: Vec<&str> = api.resources.iter().map(|r| r.path.as_str()).collect();
//! assert_eq!(paths, ["/", "/pets", "/pets/{id}"]);
//! let get = &api.resources[2].resource_methods["GET"];
//! assert_eq!(get.request_parameters["method.request.path.id"], true);
//! assert_eq!(get.method_integration.as_ref().unwrap().http_method.as_deref(), Some("GET"));
//! ```

mod diag;
mod export;
mod fields;
#[doc(hidden)]
pub mod fuzz;
mod http_api;
mod import;
mod integration;
mod operation;
mod parse;
mod paths;
mod refs;

pub use diag::{Diagnostic, ImportError};
pub use export::{ExportError, ExportFormat, ExportOptions, ExportVersion, export, render};
pub use http_api::{HttpExportOptions, ImportedHttpApi, export_http_api, import_http_api};
pub use import::{ImportedApi, import};
pub use parse::{MAX_DOCUMENT_BYTES, parse_document};
pub use paths::MAX_RESOURCES;

#[cfg(test)]
mod export_tests;
#[cfg(test)]
mod tests;
