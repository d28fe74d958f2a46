//! `TestInvokeMethod`: run one request through the phases against an API's *current* (not yet
//! deployed) definition, and report status, headers, body, latency and an execution log.

use crate::body::GatewayBody;
use crate::compile::{StageInput, compile};
use crate::metrics::Registry;
use crate::{ConnInfo, Gateway};
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::BodyExt;
use portico_model::{DeploymentSnapshot, Map, Stage};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// What to send.
#[derive(Debug, Clone, Default)]
pub struct TestInvokeRequest {
    /// HTTP method (the method under test; `ANY` is sent as `GET`).
    pub method: String,
    /// Path (with query) inside the stage, e.g. `/pets/1?limit=2`.
    pub path_with_query: String,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Option<String>,
    /// Stage variables for this invocation.
    pub stage_variables: Map<String>,
}

/// What came back.
#[derive(Debug, Clone, Default)]
pub struct TestInvokeResult {
    /// Status code.
    pub status: u16,
    /// Response body (lossy UTF-8).
    pub body: String,
    /// Response headers, in order (repeated names repeat).
    pub headers: Vec<(String, String)>,
    /// Milliseconds.
    pub latency_ms: u64,
    /// Execution log.
    pub log: String,
}

/// Stage name used for test invocations.
pub const TEST_INVOKE_STAGE: &str = "test-invoke-stage";
/// Largest response body a test invocation reads.
const MAX_TEST_BODY: usize = 10 * 1024 * 1024;

/// The time as AWS's execution logs write it.
pub(crate) fn stamp() -> String {
    let fmt = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]"
    );
    time::OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_default()
}

impl Gateway {
    /// Runs `req` against `snapshot` (compiled into a throwaway stage) and reports the outcome.
    pub async fn test_invoke(
        &self,
        api_id: &str,
        snapshot: DeploymentSnapshot,
        req: TestInvokeRequest,
    ) -> TestInvokeResult {
        let mut log = String::new();
        let mut stage = Stage::new(TEST_INVOKE_STAGE, "test-invoke-deployment");
        stage.variables = req.stage_variables.clone();
        let input = StageInput {
            api_id: api_id.to_owned(),
            stage,
            snapshot,
            canary_snapshot: None,
        };
        let (compiled, warnings) = compile(&[input], &Registry::default(), self.upstreams());
        let request_id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let _ = writeln!(log, "Execution log for request {request_id}");
        let _ = writeln!(
            log,
            "{} : Starting execution for request: {request_id}",
            stamp()
        );
        let path = if req.path_with_query.starts_with('/') {
            req.path_with_query.clone()
        } else {
            format!("/{}", req.path_with_query)
        };
        let method = if req.method == "ANY" {
            "GET"
        } else {
            req.method.as_str()
        };
        let _ = writeln!(
            log,
            "{} : HTTP Method: {method}, Resource Path: {}",
            stamp(),
            path.split('?').next().unwrap_or("/")
        );
        let _ = writeln!(
            log,
            "{} : Method request query string: {{{}}}",
            stamp(),
            path.split_once('?').map(|(_, q)| q).unwrap_or("")
        );
        let headers_text: Vec<String> = req
            .headers
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            log,
            "{} : Method request headers: {{{}}}",
            stamp(),
            headers_text.join(", ")
        );
        let _ = writeln!(
            log,
            "{} : Method request body before transformations: {}",
            stamp(),
            req.body.as_deref().unwrap_or("")
        );
        for w in &warnings {
            let _ = writeln!(
                log,
                "{} : Configuration warning ({}): {}",
                stamp(),
                w.location,
                w.message
            );
        }

        let uri = format!("/restapis/{api_id}/{TEST_INVOKE_STAGE}/_user_request_{path}");
        let mut builder = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET))
            .uri(uri.as_str());
        for (k, v) in &req.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                builder = builder.header(n, v);
            }
        }
        let body = GatewayBody::full(req.body.clone().unwrap_or_default());
        let request = match builder.body(body) {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(log, "{} : Execution failed: invalid request: {e}", stamp());
                return TestInvokeResult {
                    status: 400,
                    log,
                    ..TestInvokeResult::default()
                };
            }
        };
        let client = ConnInfo::new(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        let started = Instant::now();
        let response = self.process(&compiled, request, &client).await;
        let (parts, body) = response.into_parts();
        let bytes = match tokio::time::timeout(Duration::from_secs(30), body.collect()).await {
            Ok(Ok(c)) => {
                let b = c.to_bytes();
                if b.len() > MAX_TEST_BODY {
                    b.slice(..MAX_TEST_BODY)
                } else {
                    b
                }
            }
            _ => bytes::Bytes::new(),
        };
        let latency_ms = started.elapsed().as_millis() as u64;
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body_text = String::from_utf8_lossy(&bytes).into_owned();
        let hdrs: Vec<String> = headers.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            log,
            "{} : Method response body after transformations: {body_text}",
            stamp()
        );
        let _ = writeln!(
            log,
            "{} : Method response headers: {{{}}}",
            stamp(),
            hdrs.join(", ")
        );
        let _ = writeln!(log, "{} : Successfully completed execution", stamp());
        let _ = writeln!(
            log,
            "{} : Method completed with status: {}",
            stamp(),
            parts.status.as_u16()
        );
        TestInvokeResult {
            status: parts.status.as_u16(),
            body: body_text,
            headers,
            latency_ms,
            log,
        }
    }
}
