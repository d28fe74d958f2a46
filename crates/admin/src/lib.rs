//! Portico's management listener.
//!
//! Today it serves `/health` and the Prometheus `/metrics`; the AWS-compatible management APIs
//! (`apigateway`, `apigatewayv2`, …) mount on the same router. It binds to loopback only: Portico
//! refuses a non-loopback management address until SigV4 credentials can be configured.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use portico_gateway::Gateway;
use std::future::Future;
use std::sync::Arc;

/// The management router.
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(gateway)
}

async fn health(State(gw): State<Arc<Gateway>>) -> impl IntoResponse {
    let stages = gw.snapshot().stages().count();
    (
        [(header::CONTENT_TYPE, "application/json")],
        format!("{{\"status\":\"ok\",\"stages\":{stages}}}"),
    )
}

async fn metrics(State(gw): State<Arc<Gateway>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        gw.metrics().render(),
    )
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"message":"Not Found"}"#,
    )
}

/// Serves the management router until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(gateway))
        .with_graceful_shutdown(shutdown)
        .await
}
