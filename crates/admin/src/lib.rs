//! Portico's management listener.
//!
//! The AWS-compatible management API (`apigateway`, REST v1: REST APIs, resources, methods,
//! integrations and their responses, deployments, stages; `apigatewayv2` for HTTP APIs: apis,
//! routes, integrations, authorizers, stages, deployments, tags; and the `lambda` subset of
//! [`lambda`]) on botocore's paths, JSON names and status codes, so the aws CLI and boto3 work
//! with `--endpoint-url`; plus `/health` and the Prometheus `/metrics`. With credentials, each
//! service's routes accept signatures for that service's own signing name (`apigateway`,
//! `lambda`). It binds to loopback only: Portico refuses a non-loopback management
//! address until SigV4 credentials can be configured, and accepts any signature meanwhile.

mod account;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod http_api;
pub mod lambda;
mod publish;
mod rest;
mod websocket_api;
pub use portico_sigv4 as sigv4;

pub use error::ApiError;
pub use publish::{Published, Publisher};
pub use sigv4::Credentials;

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
    /// When set, management calls must be SigV4-signed with one of these keys.
    pub credentials: Option<Arc<Credentials>>,
    /// Publishes what a call changed before its response leaves (read-your-writes).
    pub publisher: Arc<Publisher>,
    /// Serve `POST /_portico/clock?advance=SECONDS` (tests of quota periods only).
    pub test_clock: bool,
    /// The Lambda API's code store and function invoker.
    pub lambda: Arc<lambda::Lambda>,
}

/// The management router.
pub fn router(state: AdminState) -> Router {
    let mut router = Router::new();
    if state.test_clock {
        router = router.route("/_portico/clock", axum::routing::post(advance_clock));
    }
    router
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .merge(
            rest::routes()
                .merge(rest::object_routes())
                .merge(account::routes())
                .merge(http_api::routes())
                .merge(websocket_api::routes())
                .route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    publish_changes,
                ))
                .route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    authenticate,
                )),
        )
        .merge(
            lambda::routes()
                .route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    publish_changes,
                ))
                .route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    authenticate_lambda,
                ))
                .route_layer(axum::extract::DefaultBodyLimit::max(LAMBDA.max_body)),
        )
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Moves the data plane's quota clock forward: `?advance=SECONDS` (only with `--test-clock`).
async fn advance_clock(
    State(s): State<AdminState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> impl IntoResponse {
    match q.get("advance").and_then(|v| v.parse::<i64>().ok()) {
        Some(secs) if secs >= 0 => {
            s.gateway.advance_clock(secs);
            (
                axum::http::StatusCode::OK,
                format!("{{\"now\":{}}}", s.gateway.now_epoch_seconds()),
            )
        }
        _ => (
            axum::http::StatusCode::BAD_REQUEST,
            "{\"message\":\"advance must be a whole number of seconds\"}".to_owned(),
        ),
    }
}

async fn health(State(s): State<AdminState>) -> impl IntoResponse {
    let snapshot = s.gateway.snapshot();
    let stages = snapshot.stages().count()
        + snapshot.http_stages().count()
        + snapshot.websocket_stages().count();
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
        s.gateway.render_metrics(),
    )
}

/// Largest management request body (an OpenAPI import may be 6 MB).
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// A service on the management listener: the name its requests are signed for and the largest
/// request it takes.
struct Service {
    signing_name: &'static str,
    max_body: usize,
    too_large: fn() -> axum::response::Response,
}

const APIGATEWAY: Service = Service {
    signing_name: "apigateway",
    max_body: MAX_BODY_BYTES,
    too_large: || {
        ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            "Request body is too large",
        )
        .into_response()
    },
};

const LAMBDA: Service = Service {
    signing_name: "lambda",
    max_body: lambda::MAX_REQUEST_BYTES,
    too_large: || {
        lambda::LambdaError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            format!(
                "Request must be smaller than {} bytes for the CreateFunction operation",
                lambda::MAX_REQUEST_BYTES
            ),
        )
        .into_response()
    },
};

/// SigV4 verification (service `apigateway`) when credentials are configured.
async fn authenticate(
    State(s): State<AdminState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    authenticate_as(&APIGATEWAY, s, req, next).await
}

/// SigV4 verification (service `lambda`) when credentials are configured.
async fn authenticate_lambda(
    State(s): State<AdminState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    authenticate_as(&LAMBDA, s, req, next).await
}

/// Refuses a body over the service's limit (before reading it) and, when credentials are
/// configured, a request not SigV4-signed for the service; a pass-through otherwise.
async fn authenticate_as(
    service: &Service,
    s: AdminState,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let max_body = service.max_body;
    if declared.is_some_and(|n| n > max_body) {
        // Read and discard what the client is still sending (bounded), so it can read the 413.
        let mut body = req.into_body();
        tokio::spawn(async move {
            use http_body_util::BodyExt;
            let drain = async {
                let mut seen = 0usize;
                while let Some(Ok(frame)) = body.frame().await {
                    seen += frame.data_ref().map(|d| d.len()).unwrap_or(0);
                    if seen > 4 * max_body {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), drain).await;
        });
        return (service.too_large)();
    }
    let Some(creds) = s.credentials.clone() else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, max_body).await {
        Ok(b) => b,
        Err(_) => return (service.too_large)(),
    };
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let signed = sigv4::SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers,
        body: &bytes,
    };
    let now = portico_model::now_epoch_seconds();
    if let Err(rejection) = sigv4::verify_for(&creds, &signed, now, service.signing_name, true) {
        let forbidden = axum::http::StatusCode::FORBIDDEN;
        return match rejection {
            sigv4::Rejection::Missing => ApiError::new(
                forbidden,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ),
            sigv4::Rejection::UnknownKey => ApiError::new(
                forbidden,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            sigv4::Rejection::Invalid(m) => {
                ApiError::new(forbidden, "InvalidSignatureException", m)
            }
        }
        .into_response();
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

/// After a call that may have changed what is served (any method but GET/HEAD) succeeded, the
/// data plane of this process serves the new state before the response is sent.
async fn publish_changes(
    State(s): State<AdminState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let writes = !matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    let response = next.run(req).await;
    if writes && response.status().is_success() {
        match s.publisher.sync().await {
            Ok(p) => {
                for w in p.warnings {
                    tracing::warn!(location = %w.location, "{}", w.message);
                }
            }
            // The change is stored; the reload loop publishes it on its next tick.
            Err(e) => tracing::warn!(error = %e, "publishing after a management call failed"),
        }
    }
    response
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
