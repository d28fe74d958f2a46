//! The request lifecycle: resolve → method request → integration request → integration →
//! integration response → method response → log. Short-circuits are returned values.

use crate::access_log::{AccessLogRecord, AccessLogSink, epoch_millis};
use crate::addressing;
use crate::binary::ContentHandling;
use crate::body::GatewayBody;
use crate::compile::{
    CompiledIntegration, CompiledStage, HttpIntegration, HttpProxyIntegration, MockIntegration,
    Route, ServingSnapshot, StageInput, compile,
};
use crate::gateway_response::{GatewayError, GatewayResponses};
use crate::mapping::{Overrides, Selected, mock_status_code};
use crate::metrics::{Registry, RouteMetrics};
use crate::params::Env as ParamEnv;
use crate::upstream::{PoolConfig, Upstreams};
use crate::validation::Invalid;
use arc_swap::ArcSwap;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use portico_router::{Lookup, Params};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// AWS's payload limit for REST APIs.
pub const MAX_PAYLOAD_BYTES: u64 = 10 * 1024 * 1024;

/// Data-plane settings.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Largest request body accepted (413 above), however it arrives (with a `Content-Length`,
    /// chunked, HTTP/2 frames) and whatever reads it (listener, templates, validation, proxying).
    pub max_body_bytes: u64,
    /// Longest a request body of unknown length that the gateway reads whole before proxying it
    /// may take to arrive (408 after, connection closed).
    pub body_timeout: Duration,
    /// Proxy request bodies of unknown length (chunked, HTTP/2 without `content-length`) to
    /// `HTTP_PROXY`/`HTTP` backends as they arrive, instead of reading them whole first and
    /// sending them with a `Content-Length` as API Gateway does (the default, `false`).
    pub stream_proxy_bodies: bool,
    /// Bytes of buffered bodies the process may hold at once (see [`crate::budget`]).
    pub body_budget_bytes: u64,
    /// Where access-log lines go.
    pub access_log: AccessLogSink,
    /// Idle time after which pooled upstream connections are closed (keep it under the backends'
    /// keep-alive timeout).
    pub upstream_idle_timeout: Duration,
    /// Connections open at once to one backend (see [`crate::upstream::PoolConfig`]).
    pub upstream_max_connections: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: MAX_PAYLOAD_BYTES,
            body_timeout: Duration::from_secs(30),
            stream_proxy_bodies: false,
            body_budget_bytes: crate::budget::BodyBudget::default_limit(),
            access_log: AccessLogSink::Off,
            upstream_idle_timeout: Duration::from_secs(30),
            upstream_max_connections: PoolConfig::default().max_connections,
        }
    }
}

/// The data plane: compiled stages plus the shared upstream client, metrics and log sink.
#[derive(Debug)]
pub struct Gateway {
    snapshot: ArcSwap<ServingSnapshot>,
    metrics: Registry,
    upstreams: Upstreams,
    config: GatewayConfig,
    budget: crate::budget::BodyBudget,
    /// hyper's header-case map spelling Portico's own response headers as AWS does (set by the
    /// listener at start-up; see `header_case`).
    aws_case: std::sync::OnceLock<http::Extensions>,
}

/// Facts about the client connection, computed once per connection.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// `$context.identity.sourceIp`.
    pub ip: String,
    ip_header: HeaderValue,
}

impl ClientInfo {
    /// From the peer address.
    pub fn new(remote: SocketAddr) -> Self {
        let ip = remote.ip().to_string();
        let ip_header = HeaderValue::from_str(&ip).unwrap_or(HeaderValue::from_static("-"));
        Self { ip, ip_header }
    }
}

/// Ids every response carries.
struct RequestIds {
    request_id: HeaderValue,
    apigw_id: HeaderValue,
    trace_id: HeaderValue,
}

impl RequestIds {
    fn new(epoch_ms: u64) -> Self {
        let (a, b) = (fastrand::u64(..), fastrand::u64(..));
        // xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx (UUID v4), written without fmt machinery.
        let mut rid = [b'-'; 36];
        hex(&mut rid[0..8], a >> 32);
        hex(&mut rid[9..13], a >> 16);
        hex(&mut rid[14..18], (a & 0x0fff) | 0x4000);
        hex(&mut rid[19..23], ((b >> 48) & 0x3fff) | 0x8000);
        hex(&mut rid[24..36], b);
        const B62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut apigw = [b'='; 16];
        let mut bits = a ^ b.rotate_left(17);
        for slot in apigw.iter_mut().take(15) {
            *slot = B62[(bits % 62) as usize];
            bits = (bits / 62) ^ b.rotate_left(bits as u32 & 63);
        }
        let mut trace = *b"Root=1-00000000-000000000000000000000000";
        hex(&mut trace[7..15], epoch_ms / 1000);
        hex(&mut trace[16..28], a);
        hex(&mut trace[28..40], b >> 16);
        Self {
            request_id: HeaderValue::from_bytes(&rid).unwrap_or(HeaderValue::from_static("-")),
            apigw_id: HeaderValue::from_bytes(&apigw).unwrap_or(HeaderValue::from_static("-")),
            trace_id: HeaderValue::from_bytes(&trace).unwrap_or(HeaderValue::from_static("-")),
        }
    }
}

/// Writes the low `out.len()` hex digits of `v` into `out`.
fn hex(out: &mut [u8], mut v: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(v & 0xf) as usize];
        v >>= 4;
    }
}

/// What the phases produced, for the log phase.
struct Outcome {
    response: Response<GatewayBody>,
    integration_latency: Option<Duration>,
    integration_status: Option<u16>,
    error: Option<GatewayError>,
    /// `error` still needs rendering through the stage's gateway responses (done in the log
    /// phase's caller, where the request's data is at hand for the override's variables).
    pending: bool,
    /// The response carries `X-Amzn-Trace-Id`: as on AWS, only what an integration that ran
    /// answered (HTTP, later Lambda and AWS services) — not MOCK, HTTP_PROXY or gateway errors.
    traced: bool,
}

impl Outcome {
    /// An error rendered now, with no request data (before a stage is known).
    fn error(responses: &GatewayResponses, err: GatewayError) -> Self {
        Self {
            response: responses.render(&err),
            integration_latency: None,
            integration_status: None,
            error: Some(err),
            pending: false,
            traced: false,
        }
    }

    /// An error the stage's gateway responses will render.
    fn fail(err: GatewayError) -> Self {
        Self {
            response: Response::new(GatewayBody::Empty),
            integration_latency: None,
            integration_status: None,
            error: Some(err),
            pending: true,
            traced: false,
        }
    }
}

const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
];

// Header names the gateway sets on every request or response, parsed once.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_AMZN_APIGATEWAY_API_ID: HeaderName = HeaderName::from_static("x-amzn-apigateway-api-id");
const X_AMZN_REQUESTID: HeaderName = HeaderName::from_static("x-amzn-requestid");
const X_AMZ_APIGW_ID: HeaderName = HeaderName::from_static("x-amz-apigw-id");
const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// Removes hop-by-hop headers, including those the `Connection` header names. One pass over the
/// names first: most messages carry none, and then nothing is hashed or removed.
fn strip_hop_by_hop(h: &mut HeaderMap) {
    let any = h.keys().any(|k| {
        HOP_BY_HOP.contains(k)
            || k == header::PROXY_AUTHORIZATION
            || k.as_str() == "keep-alive"
            || k.as_str() == "proxy-connection"
    });
    if !any {
        return;
    }
    if let Some(conn) = h.get(header::CONNECTION).and_then(|v| v.to_str().ok()) {
        let named: Vec<HeaderName> = conn
            .split(',')
            .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
            .collect();
        for n in named {
            h.remove(n);
        }
    }
    for n in HOP_BY_HOP {
        h.remove(n);
    }
    h.remove("keep-alive");
    h.remove("proxy-connection");
    h.remove(header::PROXY_AUTHORIZATION);
}

fn protocol(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

impl Gateway {
    /// A gateway serving nothing until [`Gateway::publish`] is called.
    pub fn new(config: GatewayConfig) -> Arc<Self> {
        Arc::new(Self {
            snapshot: ArcSwap::from_pointee(ServingSnapshot::default()),
            metrics: Registry::default(),
            upstreams: Upstreams::new(PoolConfig {
                idle_timeout: config.upstream_idle_timeout,
                max_connections: config.upstream_max_connections,
                ..PoolConfig::default()
            }),
            budget: crate::budget::BodyBudget::new(config.body_budget_bytes),
            config,
            aws_case: std::sync::OnceLock::new(),
        })
    }

    /// Prepares what the listener needs once: the AWS spelling of Portico's response headers.
    pub(crate) async fn prepare_listener(&self) {
        if self.aws_case.get().is_none()
            && let Some(e) = crate::header_case::aws_spelling().await
        {
            let _ = self.aws_case.set(e);
        }
    }

    /// Compiles `stages` and makes them the served set, atomically. Returns what the compiler
    /// reported (methods that answer 500, templates not evaluated, …).
    pub fn publish(&self, stages: &[StageInput]) -> Vec<crate::CompileWarning> {
        let (snapshot, warnings) = compile(stages, &self.metrics, &self.upstreams);
        self.snapshot.store(Arc::new(snapshot));
        self.metrics.reloads.fetch_add(1, Relaxed);
        warnings
    }

    /// A snapshot to fill one stage at a time, then publish with [`Gateway::publish_built`]: what
    /// [`Gateway::publish`] does, without holding every stage's input at once.
    pub fn snapshot_builder(&self) -> crate::compile::SnapshotBuilder<'_> {
        crate::compile::SnapshotBuilder::new(&self.metrics, &self.upstreams)
    }

    /// Makes a built snapshot the served set, atomically; returns what compiling it reported.
    pub fn publish_built(
        &self,
        built: crate::compile::SnapshotBuilder<'_>,
    ) -> Vec<crate::CompileWarning> {
        let (snapshot, warnings) = built.finish();
        self.snapshot.store(Arc::new(snapshot));
        self.metrics.reloads.fetch_add(1, Relaxed);
        warnings
    }

    /// The upstream connection pools.
    pub(crate) fn upstreams(&self) -> &Upstreams {
        &self.upstreams
    }

    /// The served set right now.
    pub fn snapshot(&self) -> Arc<ServingSnapshot> {
        self.snapshot.load_full()
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Registry {
        &self.metrics
    }

    /// The data-plane settings.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// The budget for buffered bodies.
    pub fn body_budget(&self) -> &crate::budget::BodyBudget {
        &self.budget
    }

    /// The Prometheus exposition: the API metrics and the data plane's own gauges.
    pub fn render_metrics(&self) -> String {
        use std::fmt::Write;
        let mut out = self.metrics.render();
        let b = &self.budget;
        let _ = write!(
            out,
            "# HELP portico_body_budget_bytes Bytes of buffered bodies the process may hold.\n\
             # TYPE portico_body_budget_bytes gauge\nportico_body_budget_bytes {}\n\
             # HELP portico_body_buffered_bytes Bytes of buffered bodies held now.\n\
             # TYPE portico_body_buffered_bytes gauge\nportico_body_buffered_bytes {}\n\
             # HELP portico_body_budget_refused Requests refused (429) because the body budget was spent.\n\
             # TYPE portico_body_budget_refused counter\nportico_body_budget_refused {}\n\
             # HELP portico_access_log_dropped_lines Access-log lines dropped because the writer fell behind.\n\
             # TYPE portico_access_log_dropped_lines counter\nportico_access_log_dropped_lines {}\n",
            b.limit(),
            b.in_use(),
            b.refused(),
            self.config.access_log.dropped(),
        );
        out
    }

    /// Reads `body` whole: at most the payload limit (413), within `within` (else `late`),
    /// against the body budget (429). The bytes stay counted until the [`Hold`] is dropped.
    ///
    /// [`Hold`]: crate::budget::Hold
    pub(crate) async fn buffer(
        &self,
        mut body: GatewayBody,
        within: Duration,
        late: GatewayError,
    ) -> Result<(bytes::Bytes, crate::budget::Hold<'_>), GatewayError> {
        use http_body::Body;
        let mut hold = self.budget.hold();
        let max = self.config.max_body_bytes;
        match body {
            GatewayBody::Empty | GatewayBody::Full(None) => return Ok((bytes::Bytes::new(), hold)),
            GatewayBody::Full(Some(b)) => {
                return if b.len() as u64 > max {
                    Err(GatewayError::request_too_large())
                } else if hold.grow(b.len() as u64) {
                    Ok((b, hold))
                } else {
                    Err(GatewayError::throttled())
                };
            }
            _ => {}
        }
        // A declared length is taken from the budget before a byte is read.
        let declared = body.size_hint().exact();
        if let Some(n) = declared {
            if n > max {
                discard_body(body);
                return Err(GatewayError::request_too_large());
            }
            if !hold.grow(n) {
                discard_body(body);
                return Err(GatewayError::throttled());
            }
        }
        let mut buf = bytes::BytesMut::with_capacity(declared.unwrap_or(0) as usize);
        let read = async {
            let body = &mut body;
            while let Some(frame) = http_body_util::BodyExt::frame(body).await {
                let frame = frame.map_err(|e| match e {
                    crate::upstream::BodyError::TooLarge => GatewayError::request_too_large(),
                    _ => GatewayError::bad_request(),
                })?;
                let Some(d) = frame.data_ref() else { continue };
                let len = (buf.len() + d.len()) as u64;
                if len > max {
                    return Err(GatewayError::request_too_large());
                }
                if len > hold.bytes() && !hold.grow(len - hold.bytes()) {
                    return Err(GatewayError::throttled());
                }
                buf.extend_from_slice(d);
            }
            Ok(())
        };
        match tokio::time::timeout(within, read).await {
            Ok(Ok(())) => Ok((buf.freeze(), hold)),
            Ok(Err(e)) => {
                // What the client is still sending is read and thrown away (bounded), so that it
                // gets to read the answer instead of a reset.
                discard_body(body);
                Err(e)
            }
            Err(_) => Err(late),
        }
    }

    /// Handles one request end to end. Never fails: every problem becomes a gateway response.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        remote: SocketAddr,
    ) -> Response<GatewayBody> {
        self.handle_from(req, &ClientInfo::new(remote)).await
    }

    /// [`Gateway::handle`] with the per-connection client facts computed once per connection.
    pub async fn handle_from(
        &self,
        req: Request<Incoming>,
        client: &ClientInfo,
    ) -> Response<GatewayBody> {
        self.handle_watched(req, client, None).await
    }

    /// [`Gateway::handle_from`] with the request body watched (see [`crate::body::BodyWatch`]).
    pub(crate) async fn handle_watched(
        &self,
        req: Request<Incoming>,
        client: &ClientInfo,
        watch: Option<Box<dyn crate::body::BodyWatch>>,
    ) -> Response<GatewayBody> {
        let snapshot = self.snapshot.load();
        let req = req.map(|b| {
            GatewayBody::Client(crate::body::ClientBody::new(
                b,
                watch,
                self.config.max_body_bytes,
            ))
        });
        self.process(&snapshot, req, client).await
    }

    /// Runs one request through the phases against `snapshot` (the served one, or a temporary
    /// one for `TestInvokeMethod`).
    pub async fn process(
        &self,
        snapshot: &ServingSnapshot,
        req: Request<GatewayBody>,
        client: &ClientInfo,
    ) -> Response<GatewayBody> {
        let start = Instant::now();
        let epoch_ms = epoch_millis();
        let ids = RequestIds::new(epoch_ms);
        let (mut parts, body) = req.into_parts();
        // Two Host headers make the authority ambiguous (RFC 9112 §3.2): refuse.
        let mut hosts = parts.headers.get_all(header::HOST).iter();
        if hosts.next().is_some() && hosts.next().is_some() {
            let mut outcome =
                Outcome::error(&GatewayResponses::default(), GatewayError::bad_request());
            finish_headers(
                &mut outcome.response,
                &ids,
                outcome.traced,
                self.aws_case.get(),
            );
            discard_body(body);
            return outcome.response;
        }
        let host_header = parts.headers.get(header::HOST).cloned();
        let authority = parts.uri.authority().cloned();
        let host = host_header
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .or_else(|| authority.as_ref().map(|a| a.as_str()));
        let user_agent = if self.config.access_log.enabled() {
            parts.headers.get(header::USER_AGENT).cloned()
        } else {
            None
        };
        let uri = parts.uri.clone();
        let path = uri.path();

        // Resolve API and stage.
        let address = addressing::resolve(host, path);
        let stage = address.and_then(|a| snapshot.stage(a.api_id, a.stage));
        let Some((address, stage)) = address.zip(stage) else {
            // Unknown API or stage: AWS answers 403 Forbidden before any routing.
            self.metrics.unrouted.fetch_add(1, Relaxed);
            let err = GatewayError::forbidden();
            let mut outcome = Outcome::error(&GatewayResponses::default(), err);
            finish_headers(
                &mut outcome.response,
                &ids,
                outcome.traced,
                self.aws_case.get(),
            );
            return outcome.response;
        };
        let stage: &CompiledStage = stage;

        let lookup = if stage.execute_api_disabled {
            Err(GatewayError::forbidden())
        } else {
            match stage.router.find(parts.method.as_str(), address.path) {
                Lookup::Found(m) => Ok(m),
                Lookup::NotFound => Err(GatewayError::missing_authentication_token()),
            }
        };
        let (route, params, outcome) = match lookup {
            Err(e) => (None, None, Outcome::fail(e)),
            Ok(m) => {
                let rid = ids.request_id.to_str().unwrap_or("-");
                let outcome = self
                    .run_route(stage, m.value, &m.params, &mut parts, body, client, rid)
                    .await;
                (Some(m.value), Some(m.params), outcome)
            }
        };
        let mut outcome = outcome;
        if outcome.pending
            && let Some(err) = &outcome.error
        {
            let rid = ids.request_id.to_str().unwrap_or("-");
            let context = std::cell::OnceCell::new();
            let lookup = |name: &str| -> Option<String> {
                request_variable(
                    name,
                    stage,
                    route,
                    params.as_ref(),
                    &parts,
                    client,
                    rid,
                    &context,
                )
            };
            outcome.response = stage.responses.render_for(err, &lookup);
        }
        drop(params);
        if outcome.error.as_ref().is_some_and(|e| {
            matches!(
                e.status,
                StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
            )
        }) && parts.version < Version::HTTP_2
        {
            // The body was not read whole: the connection cannot carry another request.
            outcome
                .response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        finish_headers(
            &mut outcome.response,
            &ids,
            outcome.traced,
            self.aws_case.get(),
        );

        // Log phase.
        let latency = start.elapsed();
        let status = outcome.response.status().as_u16();
        let metrics: &RouteMetrics = match route {
            Some(r) => &r.metrics,
            None => &stage.unmatched_metrics,
        };
        metrics.record(status, latency, outcome.integration_latency);
        if self.config.access_log.enabled() {
            let record = AccessLogRecord {
                request_id: ids.request_id.to_str().unwrap_or("-"),
                extended_request_id: ids.apigw_id.to_str().unwrap_or("-"),
                source_ip: &client.ip,
                user_agent: user_agent
                    .as_ref()
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-"),
                http_method: parts.method.as_str(),
                resource_path: route.map(|r| r.resource_path.as_str()).unwrap_or("-"),
                resource_id: route.map(|r| r.resource_id.as_str()).unwrap_or("-"),
                path,
                status,
                protocol: protocol(parts.version),
                response_length: outcome
                    .response
                    .headers()
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .or_else(|| http_body::Body::size_hint(outcome.response.body()).exact()),
                request_time_epoch_ms: epoch_ms,
                integration_latency_ms: outcome.integration_latency.map(|d| d.as_millis() as u64),
                integration_status: outcome.integration_status,
                response_latency_ms: latency.as_millis() as u64,
                api_id: &stage.api_id,
                stage: &stage.stage_name,
                domain_name: host.unwrap_or("-"),
                error_message: outcome
                    .error
                    .as_ref()
                    .map(|e| e.message.as_ref())
                    .unwrap_or(""),
                error_response_type: outcome
                    .error
                    .as_ref()
                    .map(|e| e.kind.as_str())
                    .unwrap_or(""),
            };
            self.config
                .access_log
                .write(stage.access_log.render(&record));
        }
        outcome.response
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_route(
        &self,
        stage: &CompiledStage,
        route: &Route,
        params: &Params,
        parts: &mut http::request::Parts,
        body: GatewayBody,
        client: &ClientInfo,
        rid: &str,
    ) -> Outcome {
        // Method request phase: payload limit (authorizers, keys, throttles, validation and cache
        // join here as their issues land).
        let too_large = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > self.config.max_body_bytes);
        if too_large {
            // Answer now, and read-and-discard what the client is still sending (bounded in bytes
            // and time, like nginx's lingering close) so it gets to read the 413 instead of a reset.
            discard_body(body);
            let mut outcome = Outcome::error(&stage.responses, GatewayError::request_too_large());
            outcome
                .response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return outcome;
        }
        let mut body = body;
        // Bytes of buffered bodies this request holds, given back when it is done.
        let mut _held = None;
        let unknown_length = matches!(&body, GatewayBody::Client(c)
            if !http_body::Body::is_end_stream(c) && http_body::Body::size_hint(c).exact().is_none());
        if unknown_length
            && !self.config.stream_proxy_bodies
            && matches!(
                route.integration,
                CompiledIntegration::HttpProxy(_) | CompiledIntegration::Http(_)
            )
        {
            // A body of unknown length goes to the backend whole, with a Content-Length, as API
            // Gateway sends it (and a trickled body never reaches the backend).
            match self
                .buffer(
                    body,
                    self.config.body_timeout,
                    GatewayError::request_timeout(),
                )
                .await
            {
                Ok((bytes, hold)) => {
                    _held = Some(hold);
                    parts.headers.remove(header::TRANSFER_ENCODING);
                    parts
                        .headers
                        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
                    body = GatewayBody::full(bytes);
                }
                Err(e) => return Outcome::fail(e),
            }
        }
        if let Some(v) = &route.validation {
            if let Some(Invalid::Parameters(missing)) =
                v.check_parameters(&parts.headers, parts.uri.query())
            {
                discard_body(body);
                return Outcome::fail(GatewayError::bad_request_parameters(&missing));
            }
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            if v.wants_body(content_type) {
                let bytes = match self.collect_body(body).await {
                    Ok((b, hold)) => {
                        _held = Some(hold);
                        b
                    }
                    Err(e) => return Outcome::fail(e),
                };
                if let Some(Invalid::Body(detail)) = v.check_body(content_type, &bytes) {
                    return Outcome::fail(GatewayError::bad_request_body(detail));
                }
                body = GatewayBody::full(bytes);
            }
        }
        match &route.integration {
            CompiledIntegration::Mock(m) => {
                run_mock(self, stage, route, m, params, parts, body, client, rid).await
            }
            CompiledIntegration::HttpProxy(p) => {
                self.run_http_proxy(stage, p, params, parts, body, client)
                    .await
            }
            CompiledIntegration::Http(h) => {
                self.run_http(stage, route, h, params, parts, body, client, rid)
                    .await
            }
            CompiledIntegration::Unavailable(reason) => {
                tracing::warn!(api = %stage.api_id, stage = %stage.stage_name,
                    resource = %route.resource_path, method = %route.declared_method,
                    "Execution failed due to configuration error: {reason}");
                Outcome::fail(GatewayError::configuration_error())
            }
        }
    }

    async fn run_http_proxy(
        &self,
        stage: &CompiledStage,
        p: &HttpProxyIntegration,
        params: &Params,
        parts: &mut http::request::Parts,
        body: GatewayBody,
        client: &ClientInfo,
    ) -> Outcome {
        // Integration request phase.
        let uri = match p.uri.render(|n| params.get(n), parts.uri.query()) {
            Ok(u) => u,
            Err(e) => return Outcome::fail(uri_render_failed(e)),
        };
        let mut req = Request::new(body);
        *req.method_mut() = p.method.clone().unwrap_or_else(|| parts.method.clone());
        *req.uri_mut() = uri;
        // The client's header-name spelling (HTTP/1.1) goes to the backend with the headers.
        *req.extensions_mut() = std::mem::take(&mut parts.extensions);
        let headers = req.headers_mut();
        *headers = std::mem::take(&mut parts.headers);
        // What a gateway-response override may still read of the request stays (decided at
        // deploy time; most APIs read none).
        for name in stage.responses.request_headers() {
            for v in headers.get_all(name) {
                parts.headers.append(name.clone(), v.clone());
            }
        }
        strip_hop_by_hop(headers);
        headers.remove(header::HOST);
        let xff = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(prev) => HeaderValue::from_str(&format!("{prev}, {}", client.ip)).ok(),
            None => Some(client.ip_header.clone()),
        };
        if let Some(v) = xff {
            headers.insert(X_FORWARDED_FOR, v);
        }
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
        headers.insert(X_AMZN_APIGATEWAY_API_ID, stage.api_id_header.clone());
        if !headers.contains_key(header::USER_AGENT) {
            headers.insert(header::USER_AGENT, stage.default_user_agent.clone());
        }

        // Integration phase.
        let started = Instant::now();
        let result = p.pool.send_within(req, p.timeout).await;
        let integration_latency = Some(started.elapsed());
        let upstream = match result {
            Err(e) if e.is_timeout() => {
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(GatewayError::integration_timeout())
                };
            }
            Err(e) if e.is_body_too_large() => {
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(GatewayError::request_too_large())
                };
            }
            Err(e) if e.is_client_body() => {
                tracing::debug!(api = %stage.api_id, error = %e, "client request body failed");
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(GatewayError::bad_request())
                };
            }
            Err(e) => {
                tracing::warn!(api = %stage.api_id, stage = %stage.stage_name, error = %e,
                    connect = e.is_connect(), "Execution failed due to an integration error");
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(GatewayError::integration_unreachable())
                };
            }
            Ok(r) => r,
        };

        // Integration response + method response phases: pass through.
        let integration_status = Some(upstream.status().as_u16());
        let mut response = upstream.map(GatewayBody::from);
        let connection = response.headers().get(header::CONNECTION).cloned();
        strip_hop_by_hop(response.headers_mut());
        crate::headers::remap_proxy_response(
            response.headers_mut(),
            parts.method == http::Method::HEAD,
        );
        if let Some(c) = connection {
            response
                .headers_mut()
                .insert(crate::headers::X_AMZN_REMAPPED_CONNECTION, c);
        }
        Outcome {
            response,
            integration_latency,
            integration_status,
            error: None,
            pending: false,
            traced: false,
        }
    }
}

impl Gateway {
    /// `HTTP` (non-proxy): only mapped parameters reach the backend; the body is the request
    /// template's output or, per `passthroughBehavior`, the client's body; the backend status picks
    /// the integration response.
    #[allow(clippy::too_many_arguments)]
    async fn run_http(
        &self,
        stage: &CompiledStage,
        route: &Route,
        h: &HttpIntegration,
        params: &Params,
        parts: &mut http::request::Parts,
        body: GatewayBody,
        client: &ClientInfo,
        rid: &str,
    ) -> Outcome {
        // Integration request: template (or passthrough), then parameter mappings and overrides.
        let content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
        let selected = h
            .request_templates
            .select(content_type.as_ref().and_then(|v| v.to_str().ok()));
        let request_binary = stage
            .binary_types
            .matches(content_type.as_ref().and_then(|v| v.to_str().ok()));
        let convert = h.content_handling.filter(|c| {
            matches!(
                (c, request_binary),
                (ContentHandling::ConvertToText, true) | (ContentHandling::ConvertToBinary, false)
            )
        });
        let needs_body = h.reads_body
            || convert.is_some()
            || matches!(&selected, Selected::Template(_, t) if !t.is_static());
        let mut _held = None;
        let (body, client_bytes) = if needs_body {
            match self.collect_body(body).await.map(|(b, hold)| {
                _held = Some(hold);
                b
            }) {
                Ok(b) => match convert.map(|c| c.convert(b.clone(), request_binary)) {
                    None => (GatewayBody::Empty, Some(b)),
                    Some(Ok(converted)) => (GatewayBody::Empty, Some(converted)),
                    Some(Err(reason)) => {
                        tracing::warn!(api = %stage.api_id, "Execution failed: {reason}");
                        return Outcome::fail(GatewayError::configuration_error());
                    }
                },
                Err(e) => return Outcome::fail(e),
            }
        } else {
            (body, None)
        };
        let mut overrides = Overrides::default();
        let (upstream_body, upstream_ct) = match selected {
            Selected::Template(ct, t) if t.is_static() => {
                discard_body(body);
                (GatewayBody::full(t.render_bytes()), ct.cloned())
            }
            Selected::Template(ct, t) => {
                let bytes = client_bytes.clone().unwrap_or_default();
                let inputs =
                    template_inputs(t, stage, route, params, parts, client, rid, bytes).await;
                match t.render_full(inputs) {
                    Ok((out, o)) => {
                        overrides = o;
                        (GatewayBody::full(out), ct.cloned())
                    }
                    Err(e) => return Outcome::fail(request_template_failed(stage, e)),
                }
            }
            Selected::Passthrough => match &client_bytes {
                Some(b) => (GatewayBody::full(b.clone()), content_type.clone()),
                None => (body, content_type.clone()),
            },
            Selected::Unsupported => {
                discard_body(body);
                return Outcome::fail(GatewayError::unsupported_media_type());
            }
        };
        let path_of = |n: &str| params.get(n).map(str::to_owned);
        let context_of = || context_json(stage, Some(route), parts, client, rid);
        let env = ParamEnv {
            headers: &parts.headers,
            query: parts.uri.query(),
            path: &path_of,
            body: client_bytes.as_deref(),
            context: &context_of,
            integration_headers: None,
            integration_body: None,
            parsed: Default::default(),
        };
        let mut query: Vec<(String, String)> = h
            .query
            .iter()
            .filter_map(|(name, src)| env.eval(src).map(|v| (name.clone(), v)))
            .collect();
        let overridden: Vec<&String> = overrides.request_query.iter().map(|(k, _)| k).collect();
        query.retain(|(n, _)| !overridden.contains(&n));
        query.extend(overrides.request_query.iter().cloned());
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    percent_encoding::utf8_percent_encode(k, QUERY_ENCODE),
                    percent_encoding::utf8_percent_encode(v, QUERY_ENCODE)
                )
            })
            .collect();
        let query = (!query.is_empty()).then(|| query.join("&"));
        let path_param = |n: &str| {
            overrides
                .request_path
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
                .or_else(|| params.get(n))
        };
        let uri = match h.target.uri.render(path_param, query.as_deref()) {
            Ok(u) => u,
            Err(e) => return Outcome::fail(uri_render_failed(e)),
        };
        let mut req = Request::new(upstream_body);
        *req.method_mut() = h
            .target
            .method
            .clone()
            .unwrap_or_else(|| parts.method.clone());
        *req.uri_mut() = uri;
        let mut headers = HeaderMap::new();
        for (name, src) in &h.headers {
            if let Some(v) = env.eval(src).and_then(|v| HeaderValue::from_str(&v).ok()) {
                headers.insert(name.clone(), v);
            }
        }
        if let Some((name, _)) = overrides
            .request_headers
            .iter()
            .find(|(n, _)| crate::headers::refused_in_request(n))
        {
            tracing::warn!(api = %stage.api_id,
                "Execution failed due to configuration error: $context.requestOverride.header.{name} may not be set");
            return Outcome::fail(GatewayError::configuration_error());
        }
        if !overrides.request_headers.is_empty() {
            crate::mapping::set_headers(&mut headers, &overrides.request_headers);
            for name in crate::headers::DROPPED_FROM_REQUEST {
                headers.remove(name);
            }
        }
        if let Some(ct) = upstream_ct {
            headers.entry(header::CONTENT_TYPE).or_insert(ct);
        }
        headers.insert(X_AMZN_APIGATEWAY_API_ID, stage.api_id_header.clone());
        headers
            .entry(header::USER_AGENT)
            .or_insert(stage.default_user_agent.clone());
        *req.headers_mut() = headers;
        // Mapped header names go out spelled as the mappings wrote them (HTTP/1.1).
        if let Some(spelling) = h
            .spelling
            .get_or_init(|| crate::header_case::spelling_of(&h.spelled_names))
            .await
        {
            *req.extensions_mut() = spelling.clone();
        }

        // Integration.
        let started = Instant::now();
        let result = h.target.pool.send_within(req, h.target.timeout).await;
        let integration_latency = Some(started.elapsed());
        let upstream = match result {
            Err(e) if e.is_timeout() => {
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(GatewayError::integration_timeout())
                };
            }
            Err(e) if e.is_client_body() => {
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(GatewayError::bad_request())
                };
            }
            Err(e) => {
                tracing::warn!(api = %stage.api_id, error = %e, "Execution failed due to an integration error");
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(GatewayError::integration_unreachable())
                };
            }
            Ok(r) => r,
        };

        // Integration response → method response.
        let status = upstream.status().as_u16();
        let Some(ir) = h.responses.select_status(status) else {
            tracing::warn!(api = %stage.api_id, status,
                "Execution failed due to configuration error: No match for output mapping and no default output mapping configured");
            return Outcome {
                integration_latency,
                integration_status: Some(status),
                ..Outcome::fail(GatewayError::configuration_error())
            };
        };
        let (up_parts, up_body) = upstream.into_parts();
        let template = ir.template_for(
            parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok()),
        );
        let response_binary = stage.binary_types.matches(
            up_parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
        let convert = ir.content_handling.filter(|c| {
            matches!(
                (c, response_binary),
                (ContentHandling::ConvertToText, true) | (ContentHandling::ConvertToBinary, false)
            )
        });
        let needs_up_body = ir.reads_body
            || convert.is_some()
            || matches!(template, Some((_, t)) if !t.is_static());
        let mut _held_response = None;
        let (up_body, up_bytes) = if needs_up_body {
            match self.collect_body(up_body).await.map(|(b, hold)| {
                _held_response = Some(hold);
                b
            }) {
                Ok(b) => match convert.map(|c| c.convert(b.clone(), response_binary)) {
                    None => (GatewayBody::Empty, Some(b)),
                    Some(Ok(converted)) => (GatewayBody::Empty, Some(converted)),
                    Some(Err(reason)) => {
                        tracing::warn!(api = %stage.api_id, "Execution failed: {reason}");
                        return Outcome {
                            integration_latency,
                            integration_status: Some(status),
                            ..Outcome::fail(GatewayError::configuration_error())
                        };
                    }
                },
                Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => {
                    return Outcome {
                        integration_latency,
                        integration_status: Some(status),
                        ..Outcome::fail(e)
                    };
                }
                Err(_) => {
                    let err = if started.elapsed() >= h.target.timeout {
                        GatewayError::integration_timeout()
                    } else {
                        GatewayError::integration_unreachable()
                    };
                    return Outcome {
                        integration_latency,
                        integration_status: Some(status),
                        ..Outcome::fail(err)
                    };
                }
            }
        } else {
            (up_body, None)
        };
        // What the request template put in the override maps, the response template reads.
        let (ct, body) = match template {
            Some((ct, t)) if t.is_static() => (ct.clone(), GatewayBody::full(t.render_bytes())),
            Some((ct, t)) => {
                let bytes = up_bytes.clone().unwrap_or_default();
                let mut inputs =
                    template_inputs(t, stage, route, params, parts, client, rid, bytes).await;
                inputs.overrides = overrides.state.take();
                match t.render_full(inputs) {
                    Ok((out, o)) => {
                        overrides = o;
                        (ct.clone(), GatewayBody::full(out))
                    }
                    Err(reason) => {
                        tracing::warn!(api = %stage.api_id, "{reason}");
                        return Outcome::fail(GatewayError::configuration_error());
                    }
                }
            }
            None => (
                up_parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .cloned()
                    .unwrap_or(HeaderValue::from_static("application/json")),
                match &up_bytes {
                    Some(b) => GatewayBody::full(b.clone()),
                    None => up_body,
                },
            ),
        };
        let mut response = Response::new(body);
        *response.status_mut() = ir.status;
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
        let env = ParamEnv {
            headers: &parts.headers,
            query: parts.uri.query(),
            path: &path_of,
            body: client_bytes.as_deref(),
            context: &context_of,
            integration_headers: Some(&up_parts.headers),
            integration_body: up_bytes.as_deref(),
            parsed: Default::default(),
        };
        method_response_headers(&mut response, ir, &env);
        overrides.apply_to_response(&mut response);
        ir.spell(&mut response).await;
        Outcome {
            response,
            integration_latency,
            integration_status: Some(status),
            error: None,
            pending: false,
            traced: true,
        }
    }
}

/// Literal and mapped `method.response.header.*` values of an integration response.
fn method_response_headers(
    response: &mut Response<GatewayBody>,
    ir: &crate::mapping::CompiledIntegrationResponse,
    env: &ParamEnv<'_>,
) {
    let out = response.headers_mut();
    for (n, v) in &ir.headers {
        out.insert(n.clone(), v.clone());
    }
    for (to, src) in &ir.mapped_headers {
        if let Some(v) = env.eval(src).and_then(|v| HeaderValue::from_str(&v).ok()) {
            out.insert(to.clone(), v);
        }
    }
}

/// Query names and values sent to `HTTP` integrations.
const QUERY_ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[allow(clippy::too_many_arguments)]
async fn run_mock(
    gw: &Gateway,
    stage: &CompiledStage,
    route: &Route,
    m: &MockIntegration,
    params: &Params,
    parts: &http::request::Parts,
    body: GatewayBody,
    client: &ClientInfo,
    rid: &str,
) -> Outcome {
    // Integration request: the request template's statusCode selects the integration response.
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let mut overrides = Overrides::default();
    let status = match m.request_templates.select(content_type) {
        Selected::Template(_, t) if t.is_static() => {
            discard_body(body);
            t.mock_status()
        }
        Selected::Template(_, t) => {
            let (bytes, _held) = match gw.collect_body(body).await {
                Ok(b) => b,
                Err(e) => return Outcome::fail(e),
            };
            let inputs = template_inputs(t, stage, route, params, parts, client, rid, bytes).await;
            match t.render_full(inputs) {
                Ok((out, o)) => {
                    overrides = o;
                    mock_status_code(&String::from_utf8_lossy(&out))
                }
                Err(e) => return Outcome::fail(request_template_failed(stage, e)),
            }
        }
        Selected::Passthrough => {
            discard_body(body);
            Some(200)
        }
        Selected::Unsupported => {
            discard_body(body);
            return Outcome::fail(GatewayError::unsupported_media_type());
        }
    };
    let Some(code) = status else {
        tracing::warn!(api = %stage.api_id, "Execution failed due to configuration error: mock request template has no valid statusCode");
        return Outcome::fail(GatewayError::configuration_error());
    };
    let Some(ir) = m.responses.select_status(code) else {
        tracing::warn!(api = %stage.api_id, status = code,
            "Execution failed due to configuration error: No match for output mapping and no default output mapping configured");
        return Outcome::fail(GatewayError::configuration_error());
    };
    // Integration response → method response; the response template reads (and may change)
    // what the request template put in the override maps.
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let (content_type, body) = match ir.template_for(accept) {
        Some((ct, t)) if t.is_static() => (ct.clone(), GatewayBody::full(t.render_bytes())),
        Some((ct, t)) => {
            let mut inputs = template_inputs(
                t,
                stage,
                route,
                params,
                parts,
                client,
                rid,
                bytes::Bytes::new(),
            )
            .await;
            inputs.overrides = overrides.state.take();
            match t.render_full(inputs) {
                Ok((out, o)) => {
                    overrides = o;
                    (ct.clone(), GatewayBody::full(out))
                }
                Err(reason) => {
                    tracing::warn!(api = %stage.api_id, "{reason}");
                    return Outcome::fail(GatewayError::configuration_error());
                }
            }
        }
        None => (
            HeaderValue::from_static("application/json"),
            GatewayBody::Empty,
        ),
    };
    let mut response = Response::new(body);
    *response.status_mut() = ir.status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    let path_of = |n: &str| params.get(n).map(str::to_owned);
    let context_of = || context_json(stage, Some(route), parts, client, rid);
    let empty = HeaderMap::new();
    let env = ParamEnv {
        headers: &parts.headers,
        query: parts.uri.query(),
        path: &path_of,
        body: None,
        context: &context_of,
        integration_headers: Some(&empty),
        integration_body: Some(b""),
        parsed: Default::default(),
    };
    method_response_headers(&mut response, ir, &env);
    overrides.apply_to_response(&mut response);
    ir.spell(&mut response).await;
    Outcome {
        response,
        integration_latency: None,
        integration_status: Some(code),
        error: None,
        pending: false,
        traced: false,
    }
}

impl Gateway {
    /// Reads a body for a mapping template, validation or a mapping, up to the payload limit and
    /// against the body budget. Reading it may take at most [`BODY_READ_LIMIT`] in all, however
    /// slowly the bytes trickle in (400 after).
    async fn collect_body(
        &self,
        body: GatewayBody,
    ) -> Result<(bytes::Bytes, crate::budget::Hold<'_>), GatewayError> {
        self.buffer(body, BODY_READ_LIMIT, GatewayError::bad_request())
            .await
    }
}

/// The answer to an integration URI that did not render: 400 for a dot segment from request
/// data, else a configuration error (500, reason in the log).
fn uri_render_failed(e: crate::uri::RenderError) -> GatewayError {
    match e {
        crate::uri::RenderError::DotSegment => GatewayError::bad_request(),
        crate::uri::RenderError::Invalid(_) => {
            tracing::warn!(error = %e, "Execution failed due to configuration error: invalid endpoint address");
            GatewayError::configuration_error()
        }
    }
}

/// The answer to a request template that failed: AWS's 400 when the template read a request body
/// that is not JSON, else a configuration error (500, reason in the log).
fn request_template_failed(
    stage: &CompiledStage,
    e: crate::mapping::TemplateError,
) -> GatewayError {
    match e {
        crate::mapping::TemplateError::BodyNotJson(message) => {
            GatewayError::request_body_not_json(message)
        }
        crate::mapping::TemplateError::Failed(reason) => {
            tracing::warn!(api = %stage.api_id, "{reason}");
            GatewayError::configuration_error()
        }
    }
}

/// The longest a body buffered for templates, mappings or validation may take to arrive (API
/// Gateway's longest integration timeout).
const BODY_READ_LIMIT: Duration = Duration::from_secs(29);

/// `$input`, `$context` and `$stageVariables` for one request, for template `t` (header names
/// get the client's spelling when `t` may show them). What `t` cannot read is left empty.
#[allow(clippy::too_many_arguments)]
async fn template_inputs(
    t: &crate::mapping::MappingTemplate,
    stage: &CompiledStage,
    route: &Route,
    params: &Params,
    parts: &http::request::Parts,
    client: &ClientInfo,
    rid: &str,
    body: bytes::Bytes,
) -> crate::templating::TemplateInputs {
    let mut inputs = crate::templating::TemplateInputs {
        body,
        stage_variables: stage.template_stage_variables.clone(),
        ..Default::default()
    };
    if t.reads_context() {
        inputs.context = request_context(stage, Some(route), parts, client, rid).to_value();
    }
    if !t.reads_params() {
        return inputs;
    }
    inputs.query = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect();
    inputs.headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if t.shows_header_names() {
        crate::header_case::spell_request_headers(&mut inputs.headers, parts).await;
    }
    inputs.path = params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    inputs
}

/// What `$context` says about this request (built into a template's `$context` or, for mapping
/// sources and gateway responses, into JSON).
fn request_context<'a>(
    stage: &'a CompiledStage,
    route: Option<&'a Route>,
    parts: &'a http::request::Parts,
    client: &'a ClientInfo,
    rid: &'a str,
) -> crate::templating::RequestContext<'a> {
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
    };
    crate::templating::RequestContext {
        request_id: rid,
        api_id: &stage.api_id,
        stage: &stage.stage_name,
        http_method: parts.method.as_str(),
        resource_path: route.map(|r| r.resource_path.as_str()),
        resource_id: route.map(|r| r.resource_id.as_str()),
        path: parts.uri.path(),
        protocol: protocol(parts.version),
        request_time_epoch: epoch_millis(),
        domain_name: header(header::HOST),
        source_ip: &client.ip,
        user_agent: header(header::USER_AGENT),
        account_id: ACCOUNT_ID,
        deployment_id: &stage.deployment_id,
    }
}

/// `$context` as JSON, for mapping sources and gateway responses.
fn context_json(
    stage: &CompiledStage,
    route: Option<&Route>,
    parts: &http::request::Parts,
    client: &ClientInfo,
    rid: &str,
) -> serde_json::Value {
    request_context(stage, route, parts, client, rid).to_json()
}

/// The account id Portico reports (`$context.accountId`), as the management API does.
const ACCOUNT_ID: &str = "000000000000";

/// A request variable for a gateway response: `method.request.{header,querystring,path}.x`,
/// `stageVariables.x` or `context.a.b` (the `$context` JSON is built once, on first use).
#[allow(clippy::too_many_arguments)]
fn request_variable(
    name: &str,
    stage: &CompiledStage,
    route: Option<&Route>,
    params: Option<&Params>,
    parts: &http::request::Parts,
    client: &ClientInfo,
    rid: &str,
    context: &std::cell::OnceCell<serde_json::Value>,
) -> Option<String> {
    if let Some(h) = name.strip_prefix("method.request.header.") {
        return parts
            .headers
            .get(h)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    if let Some(q) = name.strip_prefix("method.request.querystring.") {
        return query_value(parts.uri.query(), q);
    }
    if let Some(p) = name.strip_prefix("method.request.path.") {
        return params.and_then(|ps| ps.get(p)).map(str::to_owned);
    }
    if let Some(v) = name.strip_prefix("stageVariables.") {
        return stage.stage_variables.get(v).cloned();
    }
    let path = name.strip_prefix("context.")?;
    let ctx = context.get_or_init(|| context_json(stage, route, parts, client, rid));
    let mut node = ctx;
    for seg in path.split('.') {
        node = node.get(seg)?;
    }
    match node {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The last value of a query parameter, decoded.
fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .rev()
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .find(|(k, _)| percent_encoding::percent_decode_str(k).decode_utf8_lossy() == name)
        .map(|(_, v)| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
}

/// Most bytes and time spent discarding a refused request body.
const DISCARD_LIMIT_BYTES: usize = 16 * 1024 * 1024;
const DISCARD_LIMIT_TIME: Duration = Duration::from_secs(5);

fn discard_body(mut body: GatewayBody) {
    if http_body::Body::is_end_stream(&body) {
        return;
    }
    tokio::spawn(async move {
        let mut seen = 0usize;
        let drain = async {
            while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
                match frame {
                    Ok(f) => {
                        seen += f.data_ref().map(|d| d.len()).unwrap_or(0);
                        if seen > DISCARD_LIMIT_BYTES {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        };
        let _ = tokio::time::timeout(DISCARD_LIMIT_TIME, drain).await;
    });
}

/// Method response phase, last step: the ids every response carries.
fn finish_headers(
    resp: &mut Response<GatewayBody>,
    ids: &RequestIds,
    traced: bool,
    aws_case: Option<&http::Extensions>,
) {
    // A response Portico built carries no extensions: spell its names as AWS does. One from a
    // backend carries the backend's spelling.
    if let Some(case) = aws_case
        && resp.extensions().is_empty()
    {
        *resp.extensions_mut() = case.clone();
    }
    let h = resp.headers_mut();
    h.insert(X_AMZN_REQUESTID, ids.request_id.clone());
    h.insert(X_AMZ_APIGW_ID, ids.apigw_id.clone());
    if traced {
        h.insert(X_AMZN_TRACE_ID, ids.trace_id.clone());
    }
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        *resp.status_mut() = StatusCode::BAD_GATEWAY;
    }
}
