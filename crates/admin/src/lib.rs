//! Portico's management listener.
//!
//! The AWS-compatible management API (`apigateway`, REST v1: REST APIs, resources, methods,
//! integrations and their responses, deployments, stages — so far) on botocore's paths, JSON
//! names and status codes, so the aws CLI and boto3 work with `--endpoint-url`; plus `/health` and
//! the Prometheus `/metrics`. It binds to loopback only: Portico refuses a non-loopback management
//! address until SigV4 credentials can be configured, and accepts any signature meanwhile.

mod error;
mod rest;

pub use error::ApiError;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use portico_gateway::Gateway;
use portico_store::Store;
use std::future::Future;
use std::sync::Arc;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AdminState {
    /// The data plane (health, metrics).
    pub gateway: Arc<Gateway>,
    /// The configuration store.
    pub store: Store,
}

/// The management router.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .merge(rest::routes())
        .fallback(not_found)
        .with_state(state)
}

async fn health(State(s): State<AdminState>) -> impl IntoResponse {
    let stages = s.gateway.snapshot().stages().count();
    (
        [(header::CONTENT_TYPE, "application/json")],
        format!("{{\"status\":\"ok\",\"stages\":{stages}}}"),
    )
}

async fn metrics(State(s): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.gateway.metrics().render(),
    )
}

async fn not_found() -> ApiError {
    ApiError::unknown_operation()
}

/// Serves the management router until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AdminState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
