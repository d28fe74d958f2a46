//! Portico's data plane.
//!
//! A [`Gateway`] holds the compiled route tables of every served stage behind one `ArcSwap`
//! pointer: [`Gateway::publish`] compiles a new set of stages (deploy time) and swaps it in; each
//! request does one atomic load and never touches the store. Requests in flight finish on the
//! snapshot they started with.
//!
//! The request lifecycle follows API Gateway's phases — method request, integration request,
//! integration, integration response, method response, log — see `docs/lifecycle.md`. Every error
//! the gateway makes is a typed [`GatewayError`] rendered through the API's
//! [`GatewayResponses`].
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use portico_gateway::{Gateway, GatewayConfig};
//! let gateway = Gateway::new(GatewayConfig::default());
//! gateway.publish(&[]); // stages from the store
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! portico_gateway::serve(gateway, listener, std::future::pending(), std::time::Duration::from_secs(10)).await
//! # }
//! ```

pub mod access_log;
pub mod account;
pub mod addressing;
pub mod aws_services;
pub mod binary;
mod body;
pub mod budget;
pub mod compile;
mod compiled;
pub mod domains;
mod exchange;
#[doc(hidden)]
pub mod fuzz;
mod gateway;
pub mod gateway_response;
mod header_case;
pub mod headers;
pub mod http_api;
pub mod iam;
mod integrations;
pub mod jwt;
mod lambda_target;
pub mod mapping;
pub mod metrics;
pub mod params;
mod pipeline;
pub mod remote_functions;
mod server;
pub mod steps;
pub mod templating;
pub mod test_invoke;
pub mod test_invoke_authorizer;
pub mod tls;
pub mod upstream;
pub mod uri;
pub mod validation;
pub mod websocket;

pub use body::GatewayBody;
pub use compile::{
    Canary, CompileWarning, CompiledStage, ServingSnapshot, SnapshotBuilder, StageInput,
};
pub use gateway::{Gateway, GatewayConfig, MAX_PAYLOAD_BYTES};
pub use gateway_response::{GatewayError, GatewayResponseType, GatewayResponses};
pub use http::HeaderValue;
pub use http_api::{CompiledHttpStage, HttpStageInput};
pub use pipeline::{ConnInfo, TlsInfo};
pub use server::{ListenerLimits, TlsListener, serve, serve_redirect, serve_tls, serve_with};
pub use steps::{Step, describe as describe_steps};
