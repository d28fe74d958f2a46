//! The data plane's root object: the served snapshot, the shared upstream client, metrics, the
//! body budget and the settings every phase reads.

use crate::access_log::AccessLogSink;
use crate::body::GatewayBody;
use crate::body::discard_body;
use crate::compile::{ServingSnapshot, StageInput};
use crate::gateway_response::GatewayError;
use crate::metrics::Registry;
use crate::upstream::{PoolConfig, Upstreams};
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

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
    /// The account-level throttle, over what the store says (`None`: the store's, AWS's
    /// 10,000 rps / 5,000 burst by default).
    pub account_throttle: Option<crate::account::Limits>,
    /// CA certificates trusted for `https` backends besides the system roots
    /// (`--backend-ca-file`; see [`crate::upstream::read_ca_file`]).
    pub backend_ca: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// WebSocket connections open at once (apart from the listener's HTTP connections); more
    /// upgrades are refused with 429.
    pub max_websocket_connections: usize,
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
            account_throttle: None,
            backend_ca: Vec::new(),
            max_websocket_connections: crate::websocket::connections::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The data plane: compiled stages plus the shared upstream client, metrics and log sink.
#[derive(Debug)]
pub struct Gateway {
    pub(crate) snapshot: ArcSwap<ServingSnapshot>,
    pub(crate) metrics: Registry,
    pub(crate) upstreams: Upstreams,
    pub(crate) config: GatewayConfig,
    /// Custom domain names and their base path mappings.
    pub(crate) domains: ArcSwap<crate::domains::DomainTable>,
    /// Seconds added to the wall clock (quota periods); moved only by tests.
    pub(crate) clock_offset: std::sync::atomic::AtomicI64,
    /// What runs `AWS_PROXY` and Lambda `AWS` integrations (the local function runtime).
    pub(crate) functions: std::sync::OnceLock<Arc<dyn portico_functions::Invoke>>,
    /// The TLS listener's certificates, once a TLS listener is configured.
    pub(crate) tls: std::sync::OnceLock<Arc<crate::tls::Certificates>>,
    /// The custom domains' TLS settings last published (kept for a TLS listener set up later).
    pub(crate) tls_domains: std::sync::Mutex<Vec<crate::tls::DomainTls>>,
    /// Token buckets, quota counters and stage caches: what requests change.
    pub(crate) state: portico_state::SharedState,
    /// API keys, usage plans and the account throttle (apart from the stages).
    pub(crate) accounts: crate::account::Accounts,
    pub(crate) budget: crate::budget::BodyBudget,
    /// hyper's header-case map spelling Portico's own response headers as AWS does (set by the
    /// listener at start-up; see `header_case`).
    pub(crate) aws_case: std::sync::OnceLock<http::Extensions>,
    /// Token issuers and their key sets (`COGNITO_USER_POOLS` authorizers).
    pub(crate) jwks: crate::jwt::JwksRegistry,
    /// The IAM principals `AWS_IAM` methods accept (`--aws-config` `principals`).
    pub(crate) principals: ArcSwap<crate::iam::Principals>,
    /// The WebSocket connections open on this node.
    pub(crate) connections: crate::websocket::Connections,
}

impl Gateway {
    /// A gateway serving nothing until [`Gateway::publish`] is called, with in-process runtime
    /// state (token buckets, quota counters, stage caches).
    pub fn new(config: GatewayConfig) -> Arc<Self> {
        Self::with_state(config, portico_state::SharedState::in_process())
    }

    /// [`Gateway::new`] with the runtime state given (a test clock, later cluster state).
    pub fn with_state(config: GatewayConfig, state: portico_state::SharedState) -> Arc<Self> {
        let accounts = crate::account::Accounts::default();
        if let Some(l) = config.account_throttle {
            accounts.set_throttle(l);
        }
        Arc::new(Self {
            state,
            clock_offset: std::sync::atomic::AtomicI64::new(0),
            connections: crate::websocket::Connections::with_limit(
                config.max_websocket_connections,
            ),
            domains: ArcSwap::from_pointee(crate::domains::DomainTable::default()),
            tls: std::sync::OnceLock::new(),
            functions: std::sync::OnceLock::new(),
            tls_domains: std::sync::Mutex::new(Vec::new()),
            snapshot: ArcSwap::from_pointee(ServingSnapshot::default()),
            metrics: Registry::default(),
            upstreams: Upstreams::with_backend_roots(
                PoolConfig {
                    idle_timeout: config.upstream_idle_timeout,
                    max_connections: config.upstream_max_connections,
                    ..PoolConfig::default()
                },
                config.backend_ca.clone(),
            ),
            budget: crate::budget::BodyBudget::new(config.body_budget_bytes),
            accounts,
            config,
            aws_case: std::sync::OnceLock::new(),
            principals: ArcSwap::from_pointee(crate::iam::Principals::default()),
            jwks: crate::jwt::JwksRegistry::default(),
        })
    }

    /// The client certificates stages present to `https` backends (`clientCertificateId`), as
    /// `(id, certificate PEM, private key PEM)`; stages compiled afterwards use them.
    pub fn set_backend_client_certificates(
        &self,
        certs: impl IntoIterator<Item = (String, String, String)>,
    ) {
        self.upstreams.set_client_certificates(certs);
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
        let mut builder = self.snapshot_builder();
        for s in stages {
            builder.add(s);
        }
        self.publish_built(builder)
    }

    /// A snapshot to fill one stage at a time, then publish with [`Gateway::publish_built`]: what
    /// [`Gateway::publish`] does, without holding every stage's input at once.
    pub fn snapshot_builder(&self) -> crate::compile::SnapshotBuilder<'_> {
        crate::compile::SnapshotBuilder::new(&self.metrics, &self.upstreams)
            .with_state(&self.state)
            .with_jwks(&self.jwks)
    }

    /// Makes a built snapshot the served set, atomically; returns what compiling it reported.
    pub fn publish_built(
        &self,
        built: crate::compile::SnapshotBuilder<'_>,
    ) -> Vec<crate::CompileWarning> {
        let (snapshot, warnings) = built.finish();
        // The caches of stages no longer served (deleted) go with them; compiling a stage whose
        // cache was turned off dropped its cache already.
        self.state
            .caches
            .retain(|api, stage| snapshot.stage(api, stage).is_some());
        self.snapshot.store(Arc::new(snapshot));
        self.metrics.reloads.fetch_add(1, Relaxed);
        warnings
    }

    /// The upstream connection pools.
    /// Sets where `AWS` service integrations send requests and which keys sign them, for the
    /// stages compiled from now on.
    pub fn set_aws_services(&self, services: crate::aws_services::AwsServices) {
        self.upstreams.set_aws_services(services);
    }

    /// The IAM principals (keys, ARNs, what they may invoke) `AWS_IAM` methods accept.
    pub fn set_iam_principals(&self, principals: crate::iam::Principals) {
        self.principals.store(Arc::new(principals));
    }

    /// Which issuer each provider ARN of a `COGNITO_USER_POOLS` authorizer names, for the
    /// stages compiled from now on.
    pub fn set_jwt_issuers(&self, issuers: crate::jwt::Issuers) {
        self.jwks.set_issuers(issuers);
    }

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

    /// Replaces the custom domains and their base path mappings (a management change).
    pub fn set_domains(&self, table: crate::domains::DomainTable) {
        self.domains.store(Arc::new(table));
    }

    /// The custom domains' certificates, policies and truststores, for the TLS listener.
    pub fn set_tls_domains(&self, domains: Vec<crate::tls::DomainTls>) {
        if let Some(c) = self.tls.get() {
            c.set_domains(domains.clone());
        }
        *self.tls_domains.lock().unwrap_or_else(|e| e.into_inner()) = domains;
    }

    /// Sets what invokes Lambda functions for `AWS_PROXY` and Lambda `AWS` integrations (once,
    /// when the gateway is set up; tests and cluster mode inject their own).
    pub fn attach_functions(&self, invoker: Arc<dyn portico_functions::Invoke>) {
        let _ = self.functions.set(invoker);
    }

    /// Functions invoked on another Lambda-compatible endpoint: `targets` are (name, URL), called
    /// through this gateway's upstream pools (HTTPS verified as for backends).
    pub fn remote_functions(
        &self,
        targets: &[(String, String)],
        keys: Option<crate::remote_functions::SigningKeys>,
        region: &str,
    ) -> Result<crate::remote_functions::RemoteFunctions, String> {
        crate::remote_functions::RemoteFunctions::new(&self.upstreams, targets, keys, region)
    }

    /// The TLS listener's certificates, when one is configured.
    pub fn tls_certificates(&self) -> Option<&Arc<crate::tls::Certificates>> {
        self.tls.get()
    }

    /// Attaches the TLS listener's certificates (once); the domains published so far apply.
    pub fn attach_tls(&self, certificates: Arc<crate::tls::Certificates>) {
        let domains = self
            .tls_domains
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        certificates.set_domains(domains);
        let _ = self.tls.set(certificates);
    }

    /// The wall clock as quota periods read it, in Unix seconds.
    pub fn now_epoch_seconds(&self) -> i64 {
        let now = i64::try_from(crate::access_log::epoch_millis() / 1000).unwrap_or(i64::MAX);
        now.saturating_add(self.clock_offset.load(Relaxed))
    }

    /// Moves the quota clock forward (tests of period boundaries).
    pub fn advance_clock(&self, seconds: i64) {
        self.clock_offset.fetch_add(seconds, Relaxed);
    }

    /// The runtime state requests change (buckets, quota counters, stage caches).
    pub fn state(&self) -> &portico_state::SharedState {
        &self.state
    }

    /// API keys, usage plans and the account throttle as the data plane applies them.
    pub fn accounts(&self) -> &crate::account::Accounts {
        &self.accounts
    }

    /// The process-wide budget of buffered body bytes.
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
        if let Some(tls) = self.tls.get() {
            tls.render_metrics(&mut out);
        }
        // The stage caches: CloudWatch's CacheHitCount / CacheMissCount, per stage.
        let snapshot = self.snapshot.load();
        let mut caches: Vec<_> = snapshot
            .stages()
            .filter_map(|s| {
                let c = self.state.caches.get(&s.api_id, &s.stage_name)?;
                Some((
                    s.api_id.clone(),
                    s.api_name.clone(),
                    s.stage_name.clone(),
                    c.stats(),
                ))
            })
            .collect();
        caches.sort_by(|a, b| (&a.0, &a.2).cmp(&(&b.0, &b.2)));
        for (name, help, get) in [
            (
                "CacheHitCount",
                "Requests served from the stage cache.",
                (|s| s.hits) as fn(&portico_state::cache::CacheStats) -> u64,
            ),
            (
                "CacheMissCount",
                "Requests the stage cache could not serve.",
                |s| s.misses,
            ),
            (
                "portico_cache_bytes",
                "Bytes held by the stage cache.",
                |s| s.bytes,
            ),
            (
                "portico_cache_entries",
                "Responses held by the stage cache.",
                |s| s.entries,
            ),
        ] {
            if caches.is_empty() {
                break;
            }
            let metric = if name.starts_with("portico_") {
                name.to_owned()
            } else {
                format!("apigateway_{name}")
            };
            let kind = if name.starts_with("portico_") {
                "gauge"
            } else {
                "counter"
            };
            let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
            for (api, api_name, stage, stats) in &caches {
                let _ = writeln!(
                    out,
                    "{metric}{{api=\"{api}\",api_name=\"{}\",stage=\"{stage}\"}} {}",
                    api_name.replace('\\', "\\\\").replace('"', "\\\""),
                    get(stats)
                );
            }
        }
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
}

impl Gateway {
    /// Reads a body for a mapping template, validation or a mapping, up to the payload limit and
    /// against the body budget. Reading it may take at most [`BODY_READ_LIMIT`] in all, however
    /// slowly the bytes trickle in (400 after).
    /// A body of unknown length (chunked, HTTP/2 without `content-length`) read whole, so the
    /// backend gets it with a `Content-Length` as from API Gateway (and a trickled body never
    /// reaches it); other bodies, or with `stream_proxy_bodies`, as they are.
    pub(crate) async fn whole_if_unknown_length(
        &self,
        parts: &mut http::request::Parts,
        body: GatewayBody,
    ) -> Result<(GatewayBody, Option<crate::budget::Hold<'_>>), GatewayError> {
        let unknown_length = matches!(&body, GatewayBody::Client(c)
            if !http_body::Body::is_end_stream(c) && http_body::Body::size_hint(c).exact().is_none());
        if !unknown_length || self.config.stream_proxy_bodies {
            return Ok((body, None));
        }
        let (bytes, hold) = self
            .buffer(
                body,
                self.config.body_timeout,
                GatewayError::request_timeout(),
            )
            .await?;
        parts.headers.remove(http::header::TRANSFER_ENCODING);
        parts.headers.insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from(bytes.len()),
        );
        Ok((GatewayBody::full(bytes), Some(hold)))
    }

    pub(crate) async fn collect_body(
        &self,
        body: GatewayBody,
    ) -> Result<(bytes::Bytes, crate::budget::Hold<'_>), GatewayError> {
        self.buffer(body, BODY_READ_LIMIT, GatewayError::bad_request())
            .await
    }
}

/// The longest a body buffered for templates, mappings or validation may take to arrive (API
/// Gateway's longest integration timeout).
pub(crate) const BODY_READ_LIMIT: Duration = Duration::from_secs(29);

impl Gateway {
    /// Verifies the request's SigV4 signature (header or presigned query, over `body`) against
    /// the configured principals; the signer when it holds. Shared by REST methods and HTTP API
    /// routes with `AWS_IAM`.
    pub(crate) fn verify_signer(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<Arc<crate::iam::Principal>, portico_sigv4::InvokeRejection> {
        let principals = self.principals.load();
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let signed = portico_sigv4::SignedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers,
            body,
        };
        let verified = portico_sigv4::verify_invoke(
            |key| principals.get(key).map(|p| p.secret_access_key.clone()),
            &signed,
            self.now_epoch_seconds(),
        )?;
        let principal = principals
            .get(&verified.access_key_id)
            .cloned()
            .ok_or(portico_sigv4::InvokeRejection::UnknownKey)?;
        if verified.session_token != principal.session_token {
            return Err(portico_sigv4::InvokeRejection::UnknownKey);
        }
        Ok(principal)
    }
}
