//! Portico's data model: the Amazon API Gateway REST API (v1) objects with the JSON field names and
//! defaults of the AWS wire format (`RestApi`, `Resource`, `Method`, `Integration`, `Deployment`,
//! `Stage`, …).
//!
//! HTTP APIs (v2) live in [`http`]; what WebSocket APIs add to them in [`websocket`]. The Lambda API's objects live in [`lambda`] (`FunctionConfiguration`, `AliasConfiguration`, …).
//!
//! The management API serialises these types as they are; the store persists them as JSON; the
//! gateway compiles a [`DeploymentSnapshot`] into a route table. This crate does no IO.
//!
//! ```
//! use portico_model::{Integration, IntegrationType};
//! let i = Integration::new(IntegrationType::Mock);
//! assert_eq!(i.timeout_in_millis, 29_000);
//! let json = serde_json::to_value(&i).unwrap();
//! assert_eq!(json["type"], "MOCK");
//! ```

pub mod checks;
pub mod http;
mod ids;
pub mod lambda;
mod rest;
pub mod websocket;

pub use ids::{new_deployment_id, new_resource_id, new_rest_api_id, now_epoch_seconds};
pub use rest::*;
