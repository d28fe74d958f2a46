//! Upstream connection pools for HTTP integrations.
//!
//! One [`UpstreamPool`] per backend (scheme, authority and TLS settings: an `http` and an `https`
//! pool to the same `host:port` are distinct), resolved when a stage is compiled, so a request
//! never hashes an authority or takes a shared pool lock keyed by it. Each pool keeps idle HTTP/1.1
//! connections (hyper's low-level `SendRequest`); a connection returns to the pool when its
//! response body has been read to the end, and is dropped (closed) when the body is abandoned.
//! Idle connections older than the idle timeout, or closed by the backend, are reaped in the
//! background.
//!
//! Retries: a request that could not even be written on a reused connection (the backend closed
//! it while idle) is retried once on a fresh connection. A request that *was* written on a reused
//! connection which then died before any response (the keep-alive race: the backend closed the
//! idle connection as the request arrived) is retried once only when it is idempotent and its
//! body can be sent again (none, or buffered). Nothing else is ever sent twice.
//!
//! [`UpstreamPool::send_within`] bounds the whole exchange by the integration timeout: the
//! response head, and then the body, which fails with [`BodyError::IntegrationTimeout`] when the
//! backend is still streaming at the deadline (the client sees an aborted response, never a
//! complete-looking truncated one).
//!
//! Transport: each pool has a [`Connector`], plain TCP for `http://` backends and TLS (rustls,
//! aws-lc-rs, ALPN `http/1.1`, SNI from the URI's host) for `https://` ones, chosen when the pool
//! is made; a request on a pooled connection never looks at it. The TLS roots are the system's
//! plus the operator's `--backend-ca-file`, loaded on the first `https` pool. AWS's
//! `tlsConfig.insecureSkipVerification` accepts a chain no trusted authority issued (self-signed,
//! private CA) but still checks its dates and the host name, as API Gateway does.
//! A stage's `clientCertificateId` is presented to its `https` backends (part of the pool key).

use crate::body::GatewayBody;
use http::{HeaderValue, Request, Response, header};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Why an upstream call failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The TCP connection could not be opened.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// Opening the connection took longer than the connect timeout.
    #[error("connecting to {0} timed out")]
    ConnectTimeout(String),
    /// The TLS handshake failed (bad certificate, wrong host name, no common protocol).
    #[error("TLS handshake with {addr} failed: {source}")]
    Tls {
        /// `host:port`.
        addr: String,
        /// What rustls reported.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("upstream request failed: {0}")]
    Http(#[from] hyper::Error),
    /// The backend answered with a 1xx status as its final response (`101 Switching Protocols`
    /// to a request that asked for no upgrade).
    #[error("the backend answered {0} to a request that asked for no protocol switch")]
    Informational(http::StatusCode),
    /// The response head did not arrive within the integration timeout.
    #[error("the backend did not answer within {0:?}")]
    Timeout(Duration),
}

impl UpstreamError {
    /// Whether the failure came from the client's own request body (malformed chunking, client
    /// gone) rather than from the backend.
    pub fn is_client_body(&self) -> bool {
        matches!(self, Self::Http(e) if e.is_user())
    }

    /// Whether the client's body grew past the payload limit on its way (413).
    pub fn is_body_too_large(&self) -> bool {
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            if matches!(s.downcast_ref::<BodyError>(), Some(BodyError::TooLarge)) {
                return true;
            }
            source = s.source();
        }
        false
    }

    /// Whether the backend could not be reached at all.
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. } | Self::ConnectTimeout(_) | Self::Tls { .. }
        )
    }

    /// Whether the integration timeout passed (504 rather than 502).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }
}

/// Why a body stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The peer (client or backend) broke the body: connection closed early, bad framing.
    #[error(transparent)]
    Peer(#[from] hyper::Error),
    /// The backend was still sending the body when the integration timeout passed.
    #[error("the integration timeout passed while the backend's body was still streaming")]
    IntegrationTimeout,
    /// The client's body grew past the payload limit while it was being forwarded.
    #[error("the request body passed the payload limit")]
    TooLarge,
}

impl BodyError {
    /// Whether the integration timeout cut the body off.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::IntegrationTimeout)
    }
}

struct Idle {
    sender: SendRequest<GatewayBody>,
    since: Instant,
}

/// Largest read buffer per backend connection, which bounds a backend's response head (a larger
/// head — give or take one read — is a 502, as nginx's "upstream sent too big header", whose
/// default is 4–8 KiB). hyper's
/// default, about 400 KiB, lets a few hundred backends that send huge heads hold that much each.
const MAX_READ_BUFFER: usize = 64 * 1024;

/// Pool settings.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// Idle connections kept per backend.
    pub max_idle: usize,
    /// Idle connections older than this are closed (keep it under the backend's keep-alive).
    pub idle_timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Connections open at once to one backend, idle or busy. A request that finds none free
    /// waits for one (an idle one coming back, or one closing) within its integration timeout,
    /// then gets API Gateway's 504 `Endpoint request timed out`, as a backend that cannot take
    /// more connections looks from API Gateway.
    pub max_connections: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_idle: 1024,
            idle_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// How a pool opens its connections: chosen with the pool, never per request.
#[derive(Clone)]
enum Connector {
    /// Plain TCP (`http://`).
    Tcp,
    /// TLS over TCP (`https://`): the client settings and the name sent as SNI and verified.
    Tls {
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    },
}

/// Idle connections to one backend (scheme, authority, TLS settings).
pub struct UpstreamPool {
    addr: String,
    connector: Connector,
    host: HeaderValue,
    idle: Mutex<Vec<Idle>>,
    config: PoolConfig,
    reaper: AtomicBool,
    /// One permit per open connection ([`PoolConfig::max_connections`]).
    slots: Arc<tokio::sync::Semaphore>,
    /// Woken when a connection becomes idle or closes.
    freed: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for UpstreamPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamPool")
            .field("addr", &self.addr)
            .field("tls", &matches!(self.connector, Connector::Tls { .. }))
            .field("idle", &self.lock().len())
            .finish()
    }
}

impl UpstreamPool {
    fn lock(&self) -> MutexGuard<'_, Vec<Idle>> {
        match self.idle.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The `Host` header this pool sends.
    pub fn host(&self) -> &HeaderValue {
        &self.host
    }

    /// The `host:port` this pool connects to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Idle connections held right now.
    pub fn idle_connections(&self) -> usize {
        self.lock().len()
    }

    /// Sends a request whose URI is in origin form (`/path?query`); sets `Host`. No time limit:
    /// see [`UpstreamPool::send_within`].
    pub async fn send(
        self: &Arc<Self>,
        req: Request<GatewayBody>,
    ) -> Result<Response<GatewayBody>, UpstreamError> {
        self.exchange(req, None).await
    }

    /// [`UpstreamPool::send`] bounded by the integration timeout: [`UpstreamError::Timeout`] when
    /// the head is late, [`BodyError::IntegrationTimeout`] from the body when it is still
    /// streaming at the deadline.
    pub async fn send_within(
        self: &Arc<Self>,
        req: Request<GatewayBody>,
        timeout: Duration,
    ) -> Result<Response<GatewayBody>, UpstreamError> {
        let deadline = tokio::time::Instant::now() + timeout;
        match tokio::time::timeout_at(deadline, self.exchange(req, Some(deadline))).await {
            Ok(r) => r,
            Err(_) => Err(UpstreamError::Timeout(timeout)),
        }
    }

    async fn exchange(
        self: &Arc<Self>,
        mut req: Request<GatewayBody>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Response<GatewayBody>, UpstreamError> {
        req.headers_mut().insert(header::HOST, self.host.clone());
        let mut req = req.map(ForwardedBody::wrap);
        let mut retried = false;
        loop {
            let (mut sender, reused) = self.acquire().await?;
            // What to send again if this reused connection turns out to be dead.
            let replay = if reused && !retried {
                replayable(&req)
            } else {
                None
            };
            match sender.try_send_request(req).await {
                Ok(resp) if resp.status().is_informational() => {
                    // hyper skips 100/103; a 1xx that reaches here is a 101 nobody asked for.
                    // The connection is not HTTP any more: drop it.
                    return Err(UpstreamError::Informational(resp.status()));
                }
                Ok(resp) => {
                    let (parts, body) = resp.into_parts();
                    let body = PooledBody {
                        inner: body,
                        sender: Some(sender),
                        pool: self.clone(),
                        deadline,
                        timer: None,
                        expired: false,
                    };
                    return Ok(Response::from_parts(parts, GatewayBody::Pooled(body)));
                }
                Err(mut e) => match (e.take_message(), replay) {
                    // Never written: the connection was closed while idle. Retry once, fresh.
                    (Some(back), _) if reused && !retried => {
                        retried = true;
                        req = back;
                    }
                    // Written, and the connection died before any response: the keep-alive race.
                    (_, Some(again)) if is_dead_connection(e.error()) => {
                        tracing::debug!(addr = %self.addr, error = %e.error(),
                            "pooled connection died under the request; sending it again");
                        retried = true;
                        req = again;
                    }
                    _ => return Err(e.into_error().into()),
                },
            }
        }
    }

    /// An idle connection, or a new one when the backend has fewer than its cap open; else waits
    /// until one of those is possible.
    async fn acquire(self: &Arc<Self>) -> Result<(SendRequest<GatewayBody>, bool), UpstreamError> {
        // The common case takes no lock beyond the idle list's.
        if let Some(s) = self.checkout().await {
            return Ok((s, true));
        }
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok((self.connect(permit).await?, false));
        }
        loop {
            // At the cap: register for a wake-up first, then look again, so that a connection
            // freed in between is not missed.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(s) = self.checkout().await {
                return Ok((s, true));
            }
            if let Ok(permit) = self.slots.clone().try_acquire_owned() {
                return Ok((self.connect(permit).await?, false));
            }
            freed.await;
        }
    }

    /// Open connections right now (idle or busy).
    pub fn open_connections(&self) -> usize {
        self.config.max_connections - self.slots.available_permits()
    }

    async fn checkout(&self) -> Option<SendRequest<GatewayBody>> {
        loop {
            let idle = self.lock().pop()?;
            if idle.sender.is_closed() || idle.since.elapsed() > self.config.idle_timeout {
                continue;
            }
            let mut sender = idle.sender;
            if sender.is_ready() || sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(
        self: &Arc<Self>,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<SendRequest<GatewayBody>, UpstreamError> {
        self.start_reaper();
        let deadline = tokio::time::Instant::now() + self.config.connect_timeout;
        let connect = tokio::net::TcpStream::connect(self.addr.as_str());
        let stream = match tokio::time::timeout_at(deadline, connect).await {
            Err(_) => return Err(UpstreamError::ConnectTimeout(self.addr.clone())),
            Ok(Err(source)) => {
                return Err(UpstreamError::Connect {
                    addr: self.addr.clone(),
                    source,
                });
            }
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        match &self.connector {
            Connector::Tcp => self.handshake(TokioIo::new(stream), permit).await,
            Connector::Tls { config, name } => {
                let tls =
                    tokio_rustls::TlsConnector::from(config.clone()).connect(name.clone(), stream);
                let stream = match tokio::time::timeout_at(deadline, tls).await {
                    Err(_) => return Err(UpstreamError::ConnectTimeout(self.addr.clone())),
                    Ok(Err(source)) => {
                        return Err(UpstreamError::Tls {
                            addr: self.addr.clone(),
                            source,
                        });
                    }
                    Ok(Ok(s)) => s,
                };
                self.handshake(TokioIo::new(stream), permit).await
            }
        }
    }

    /// HTTP/1.1 over an open connection; the connection task holds `permit` until it closes.
    async fn handshake<T>(
        &self,
        io: T,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<SendRequest<GatewayBody>, UpstreamError>
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (sender, conn) = http1::Builder::new()
            // Writes the client's spelling of header names (the request's extensions carry it)
            // and records the backend's for the response.
            .preserve_header_case(true)
            .max_headers(200)
            .max_buf_size(MAX_READ_BUFFER)
            .handshake(io)
            .await?;
        let freed = self.freed.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
            drop(permit);
            freed.notify_one();
        });
        Ok(sender)
    }

    /// Starts, once per pool, the task that closes idle connections past the idle timeout or
    /// closed by the backend (`checkout` only looks at the most recent ones). It ends with the pool.
    fn start_reaper(self: &Arc<Self>) {
        if self.reaper.swap(true, Ordering::Relaxed) {
            return;
        }
        let pool: Weak<Self> = Arc::downgrade(self);
        let every = (self.config.idle_timeout / 2).max(Duration::from_millis(100));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(pool) = pool.upgrade() else { return };
                pool.reap();
            }
        });
    }

    /// Closes (drops) idle connections that are expired or already closed.
    fn reap(&self) {
        let timeout = self.config.idle_timeout;
        self.lock()
            .retain(|i| !i.sender.is_closed() && i.since.elapsed() <= timeout);
    }

    fn put(&self, sender: SendRequest<GatewayBody>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < self.config.max_idle {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
            drop(idle);
            self.freed.notify_one();
        }
    }
}

/// Every backend's pool, shared by all stages that target it. The compiled routes own the pools;
/// this map only finds them: a pool no deployed integration references any more (its last
/// snapshot replaced, a `TestInvokeMethod` done) is dropped with its idle connections.
#[derive(Debug, Default)]
pub struct Upstreams {
    pools: Mutex<HashMap<PoolKey, Weak<UpstreamPool>>>,
    config: PoolConfig,
    tls: BackendTls,
    /// Endpoints and keys of `AWS` service integrations.
    aws: Mutex<Arc<crate::aws_services::AwsServices>>,
}

/// What tells two pools apart: `None` for plain TCP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    addr: String,
    tls: Option<TlsSettings>,
}

/// An `https` backend's TLS settings (the integration's `tlsConfig`, the stage's client
/// certificate).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsSettings {
    /// Accept a certificate no trusted authority issued (its dates and host name still count).
    pub insecure_skip_verification: bool,
    /// The client certificate presented to the backend (the stage's `clientCertificateId`; see
    /// [`Upstreams::set_client_certificates`]).
    pub client_certificate: Option<Arc<str>>,
}

impl Upstreams {
    /// Pools with the given settings; `https` backends are verified against the system roots.
    pub fn new(config: PoolConfig) -> Self {
        Self::with_backend_roots(config, Vec::new())
    }

    /// [`Upstreams::new`] trusting `extra_roots` (PEM-decoded CA certificates, see
    /// [`read_ca_file`]) besides the system roots for `https` backends.
    pub fn with_backend_roots(
        config: PoolConfig,
        extra_roots: Vec<CertificateDer<'static>>,
    ) -> Self {
        Self {
            pools: Mutex::default(),
            config,
            aws: Mutex::default(),
            tls: BackendTls {
                extra_roots,
                ..BackendTls::default()
            },
        }
    }

    /// The pool for `authority` (`host[:port]`, port 80 by default, 443 with `tls`), created on
    /// first use (deploy time). `tls`: `Some` for an `https` backend.
    pub fn pool(
        &self,
        authority: &http::uri::Authority,
        tls: Option<TlsSettings>,
    ) -> Result<Arc<UpstreamPool>, String> {
        let default_port = if tls.is_some() { 443 } else { 80 };
        let addr = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(default_port)
        );
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| format!("invalid backend host {authority}"))?;
        let key = PoolKey { addr, tls };
        let mut pools = match self.pools.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(pool) = pools.get(&key).and_then(Weak::upgrade) {
            return Ok(pool);
        }
        let connector = match &key.tls {
            None => Connector::Tcp,
            Some(settings) => {
                let host = authority.host();
                let host = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                let name = ServerName::try_from(host.to_owned())
                    .map_err(|e| format!("invalid backend host name {host}: {e}"))?;
                Connector::Tls {
                    config: self.tls.client_config(settings)?,
                    name,
                }
            }
        };
        pools.retain(|_, p| p.strong_count() > 0);
        let pool = Arc::new(UpstreamPool {
            addr: key.addr.clone(),
            connector,
            host,
            idle: Mutex::default(),
            config: self.config,
            reaper: AtomicBool::new(false),
            slots: Arc::new(tokio::sync::Semaphore::new(
                self.config.max_connections.max(1),
            )),
            freed: Arc::new(tokio::sync::Notify::new()),
        });
        pools.insert(key, Arc::downgrade(&pool));
        Ok(pool)
    }

    /// The client certificates stages may present to `https` backends, as `(id, certificate PEM,
    /// private key PEM)`, replacing those known before (pools made earlier keep theirs). One that
    /// does not parse is left out, with a warning.
    pub fn set_client_certificates(
        &self,
        certs: impl IntoIterator<Item = (String, String, String)>,
    ) {
        let mut parsed = HashMap::new();
        for (id, cert, key) in certs {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())
                .and_then(|c| {
                    if c.is_empty() {
                        Err("no CERTIFICATE".to_owned())
                    } else {
                        Ok(c)
                    }
                });
            let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|e| e.to_string());
            match (chain, key) {
                (Ok(chain), Ok(key)) => {
                    parsed.insert(id, (chain, key));
                }
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(client_certificate = %id, error = %e,
                        "client certificate left out for https backends");
                }
            }
        }
        *lock(&self.tls.client_certs) = parsed;
        lock(&self.tls.configs).retain(|k, _| k.client_certificate.is_none());
    }

    /// Sets where `AWS` service integrations send their requests and what signs them; stages
    /// compiled afterwards use it.
    pub fn set_aws_services(&self, services: crate::aws_services::AwsServices) {
        *lock(&self.aws) = Arc::new(services);
    }

    /// Where `AWS` service integrations send their requests and what signs them.
    pub fn aws_services(&self) -> Arc<crate::aws_services::AwsServices> {
        lock(&self.aws).clone()
    }

    /// Backends with a live pool.
    pub fn pools(&self) -> usize {
        match self.pools.lock() {
            Ok(g) => g.values().filter(|p| p.strong_count() > 0).count(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }
}

/// Reads the PEM certificates of `path` (an extra CA bundle for `https` backends).
pub fn read_ca_file(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM in {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no CERTIFICATE in {}", path.display()));
    }
    let mut roots = RootCertStore::empty();
    for c in &certs {
        roots
            .add(c.clone())
            .map_err(|e| format!("unusable CA certificate in {}: {e}", path.display()))?;
    }
    Ok(certs)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A client certificate chain and its key.
type ClientCert = (
    Vec<CertificateDer<'static>>,
    rustls_pki_types::PrivateKeyDer<'static>,
);

/// The TLS client settings of `https` pools, built on first use: one per [`TlsSettings`].
#[derive(Debug, Default)]
struct BackendTls {
    extra_roots: Vec<CertificateDer<'static>>,
    /// The system roots and `extra_roots`, read on the first `https` pool.
    roots: OnceLock<Arc<RootCertStore>>,
    configs: Mutex<HashMap<TlsSettings, Arc<ClientConfig>>>,
    /// Client certificates by id.
    client_certs: Mutex<HashMap<String, ClientCert>>,
}

impl BackendTls {
    fn client_config(&self, settings: &TlsSettings) -> Result<Arc<ClientConfig>, String> {
        if let Some(c) = lock(&self.configs).get(settings) {
            return Ok(c.clone());
        }
        let config = self.build(settings)?;
        lock(&self.configs).insert(settings.clone(), config.clone());
        Ok(config)
    }

    fn roots(&self) -> Arc<RootCertStore> {
        self.roots
            .get_or_init(|| Arc::new(self.load_roots()))
            .clone()
    }

    fn load_roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::warn!(error = %e, "cannot load some system root certificates");
        }
        let (_, unusable) = roots.add_parsable_certificates(native.certs);
        if unusable > 0 {
            tracing::debug!(unusable, "system root certificates skipped");
        }
        for c in &self.extra_roots {
            if let Err(e) = roots.add(c.clone()) {
                tracing::warn!(error = %e, "backend CA certificate skipped");
            }
        }
        if roots.is_empty() {
            tracing::warn!(
                "no root certificates for https backends (system store empty, no \
                 --backend-ca-file): their handshakes fail unless insecureSkipVerification is set"
            );
        }
        roots
    }

    fn build(&self, settings: &TlsSettings) -> Result<Arc<ClientConfig>, String> {
        let client_cert = match &settings.client_certificate {
            None => None,
            Some(id) => {
                let certs = lock(&self.client_certs);
                let (chain, key) = certs
                    .get(&**id)
                    .ok_or_else(|| format!("client certificate {id} not found"))?;
                Some((chain.clone(), key.clone_key()))
            }
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = self.roots();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS client settings: {e}"))?;
        let wants_client_cert = if settings.insecure_skip_verification {
            let trusted = if roots.is_empty() {
                None
            } else {
                Some(
                    WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                        .build()
                        .map_err(|e| format!("TLS verifier: {e}"))?,
                )
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(SkipChainVerification {
                    trusted,
                    provider,
                }))
        } else {
            builder.with_root_certificates(roots)
        };
        let mut config = match client_cert {
            None => wants_client_cert.with_no_client_auth(),
            Some((chain, key)) => wants_client_cert
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate: {e}"))?,
        };
        // HTTP/1.1 only: the pools speak HTTP/1.1 to backends.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// `insecureSkipVerification`: a chain that no trusted root issued is accepted when it is sound
/// on its own — verified against its own top certificate (the self-signed certificate itself, or
/// the last one the server sent), so that the signatures, dates and host name still count.
#[derive(Debug)]
struct SkipChainVerification {
    trusted: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for SkipChainVerification {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // A chain a trusted root issued passes as usual; any other is judged on its own (a
        // root whose name matches but whose key does not fails the same way as an unknown one).
        if let Some(v) = &self.trusted
            && let Ok(ok) =
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            return Ok(ok);
        }
        let top = intermediates.last().unwrap_or(end_entity);
        let mut own = RootCertStore::empty();
        own.add(top.clone().into_owned())
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        WebPkiServerVerifier::builder_with_provider(Arc::new(own), self.provider.clone())
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// RFC 9110 §9.2.2: requests whose repetition has the same effect as one.
fn is_idempotent(m: &http::Method) -> bool {
    use http::Method;
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// A copy of `req` to send again, when it is idempotent and its body can be replayed (none, or
/// buffered in memory). A streamed client body never is.
fn replayable(req: &Request<GatewayBody>) -> Option<Request<GatewayBody>> {
    if !is_idempotent(req.method()) {
        return None;
    }
    let body = match req.body() {
        GatewayBody::Empty | GatewayBody::Full(None) => GatewayBody::Empty,
        GatewayBody::Full(Some(b)) => GatewayBody::Full(Some(b.clone())),
        GatewayBody::Streaming(i) if http_body::Body::is_end_stream(i) => GatewayBody::Empty,
        GatewayBody::Client(c) if http_body::Body::is_end_stream(c) => GatewayBody::Empty,
        _ => return None,
    };
    let mut copy = Request::new(body);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    Some(copy)
}

/// Whether an error means the connection died under the request before any response: closed
/// (EOF) or reset, as opposed to a response the backend got wrong.
fn is_dead_connection(e: &hyper::Error) -> bool {
    if e.is_incomplete_message() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            );
        }
        source = s.source();
    }
    false
}

/// Most bytes and time spent draining what a backend left unread of a client's body.
const DRAIN_LIMIT_BYTES: usize = 16 * 1024 * 1024;
const DRAIN_LIMIT_TIME: Duration = Duration::from_secs(5);

/// A client's streamed request body on its way to a backend.
///
/// A backend may answer before it has read the whole body (an early 413, an error) and close the
/// connection; hyper then drops the body mid-stream, and the client's connection would be closed
/// after the response without `Connection: close` — a keep-alive client would send its next request
/// into it. Dropped before its end, this body is drained instead (bounded, like a refused body), so
/// that the client's connection stays usable.
pub struct ForwardedBody {
    inner: Option<crate::body::ClientBody>,
}

impl std::fmt::Debug for ForwardedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardedBody").finish_non_exhaustive()
    }
}

impl ForwardedBody {
    /// Wraps a streamed client body that still has bytes to come; other bodies are unchanged.
    fn wrap(body: GatewayBody) -> GatewayBody {
        match body {
            GatewayBody::Client(c) if !http_body::Body::is_end_stream(&c) => {
                GatewayBody::Forwarded(Self { inner: Some(c) })
            }
            other => other,
        }
    }

    pub(crate) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, BodyError>>> {
        match self.inner.as_mut() {
            Some(c) => http_body::Body::poll_frame(Pin::new(c), cx),
            None => Poll::Ready(None),
        }
    }

    pub(crate) fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    pub(crate) fn size_hint(&self) -> http_body::SizeHint {
        self.inner
            .as_ref()
            .map(http_body::Body::size_hint)
            .unwrap_or_else(|| http_body::SizeHint::with_exact(0))
    }
}

impl Drop for ForwardedBody {
    fn drop(&mut self) {
        let Some(mut body) = self.inner.take() else {
            return;
        };
        if http_body::Body::is_end_stream(&body) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let drain = async {
                let mut seen = 0usize;
                while let Some(Ok(frame)) = http_body_util::BodyExt::frame(&mut body).await {
                    seen += frame.data_ref().map(|d| d.len()).unwrap_or(0);
                    if seen > DRAIN_LIMIT_BYTES {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_LIMIT_TIME, drain).await;
        });
    }
}

/// A response body that gives its connection back to the pool once read to the end.
pub struct PooledBody {
    inner: Incoming,
    sender: Option<SendRequest<GatewayBody>>,
    pool: Arc<UpstreamPool>,
    /// The integration deadline, when the body must be complete by then.
    deadline: Option<tokio::time::Instant>,
    /// Armed on the first wait for the backend (most bodies arrive with their head and never
    /// need one).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The deadline passed: the body ended with an error.
    expired: bool,
}

impl std::fmt::Debug for PooledBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledBody")
            .field("pool", &self.pool.addr)
            .finish()
    }
}

impl PooledBody {
    fn release_if_done(&mut self) {
        if http_body::Body::is_end_stream(&self.inner)
            && let Some(s) = self.sender.take()
        {
            self.pool.put(s);
        }
    }

    pub(crate) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, BodyError>>> {
        if self.expired {
            return Poll::Ready(None);
        }
        let r = http_body::Body::poll_frame(Pin::new(&mut self.inner), cx);
        match r {
            Poll::Ready(None) => {
                if let Some(s) = self.sender.take() {
                    self.pool.put(s);
                }
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                self.release_if_done();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.sender = None;
                Poll::Ready(Some(Err(BodyError::Peer(e))))
            }
            Poll::Pending => {
                let Some(deadline) = self.deadline else {
                    return Poll::Pending;
                };
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // Mid-message: the connection cannot be reused; it closes with this body.
                self.expired = true;
                self.timer = None;
                self.sender = None;
                Poll::Ready(Some(Err(BodyError::IntegrationTimeout)))
            }
        }
    }

    pub(crate) fn is_end_stream(&self) -> bool {
        self.expired || http_body::Body::is_end_stream(&self.inner)
    }

    pub(crate) fn size_hint(&self) -> http_body::SizeHint {
        http_body::Body::size_hint(&self.inner)
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // A body dropped before its end leaves the connection mid-message: close it.
        self.release_if_done();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::atomic::AtomicUsize;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A backend that answers the i-th request head on each connection with `answers[i]` (raw
    /// bytes; [`DIE`]: close without a byte), and after the last answer holds the connection
    /// until the peer closes it. Counts request heads.
    async fn backend(answers: Vec<&'static [u8]>) -> (String, Arc<AtomicUsize>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let heads = Arc::new(AtomicUsize::new(0));
        let h = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let (answers, h) = (answers.clone(), h.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    for answer in answers {
                        loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                buf.drain(..i + 4);
                                break;
                            }
                            let mut chunk = [0u8; 4096];
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        h.fetch_add(1, Ordering::SeqCst);
                        if answer.is_empty() {
                            return;
                        }
                        if s.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                    // Then wait for the peer to close.
                    let mut chunk = [0u8; 64];
                    while let Ok(n) = s.read(&mut chunk).await {
                        if n == 0 {
                            return;
                        }
                    }
                });
            }
        });
        (addr, heads)
    }

    fn pool(addr: &str, idle_timeout: Duration) -> Arc<UpstreamPool> {
        let upstreams = Upstreams::new(PoolConfig {
            idle_timeout,
            ..PoolConfig::default()
        });
        upstreams.pool(&addr.parse().unwrap(), None).unwrap()
    }

    fn request(method: http::Method, body: GatewayBody) -> Request<GatewayBody> {
        let mut r = Request::new(body);
        *r.method_mut() = method;
        *r.uri_mut() = http::Uri::from_static("/x");
        r
    }

    async fn text(resp: Response<GatewayBody>) -> Result<String, BodyError> {
        let b = resp.into_body().collect().await?.to_bytes();
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    /// Empty: the backend reads the head and closes without answering.
    const DIE: &[u8] = b"";

    #[tokio::test]
    async fn a_pool_nothing_references_is_dropped_with_its_connections() {
        let (addr, _) = backend(vec![OK, OK]).await;
        let upstreams = Upstreams::new(PoolConfig::default());
        let p = upstreams.pool(&addr.parse().unwrap(), None).unwrap();
        let again = upstreams.pool(&addr.parse().unwrap(), None).unwrap();
        assert!(
            Arc::ptr_eq(&p, &again),
            "one pool per backend while referenced"
        );
        drop(again);
        let resp = p
            .send(request(http::Method::GET, GatewayBody::Empty))
            .await
            .unwrap();
        assert_eq!(text(resp).await.unwrap(), "ok");
        assert_eq!(p.idle_connections(), 1);
        assert_eq!(upstreams.pools(), 1);
        let weak = Arc::downgrade(&p);
        drop(p);
        assert!(weak.upgrade().is_none(), "no one else keeps the pool");
        assert_eq!(upstreams.pools(), 0);
        // A later deployment gets a fresh pool.
        let p = upstreams.pool(&addr.parse().unwrap(), None).unwrap();
        assert_eq!(p.idle_connections(), 0);
    }

    #[tokio::test]
    async fn pools_are_keyed_by_scheme_authority_and_tls_settings() {
        let upstreams = Upstreams::new(PoolConfig::default());
        let authority: http::uri::Authority = "localhost:8443".parse().unwrap();
        let plain = upstreams.pool(&authority, None).unwrap();
        let tls = upstreams
            .pool(&authority, Some(TlsSettings::default()))
            .unwrap();
        let insecure = TlsSettings {
            insecure_skip_verification: true,
            ..TlsSettings::default()
        };
        let skip = upstreams.pool(&authority, Some(insecure)).unwrap();
        assert!(!Arc::ptr_eq(&plain, &tls));
        assert!(!Arc::ptr_eq(&tls, &skip));
        let again = upstreams
            .pool(&authority, Some(TlsSettings::default()))
            .unwrap();
        assert!(Arc::ptr_eq(&tls, &again));
        assert_eq!(upstreams.pools(), 3);
        assert!(matches!(plain.connector, Connector::Tcp));
        assert!(matches!(tls.connector, Connector::Tls { .. }));
        // https without a port is 443.
        let default = upstreams
            .pool(&"localhost".parse().unwrap(), Some(TlsSettings::default()))
            .unwrap();
        assert_eq!(default.addr(), "localhost:443");
    }

    #[test]
    fn a_backend_ca_file_must_hold_a_certificate() {
        let dir = std::env::temp_dir().join(format!("portico-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert!(read_ca_file(&empty).unwrap_err().contains("no CERTIFICATE"));
        assert!(read_ca_file(&dir.join("missing.pem")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn at_the_connection_cap_a_request_waits_for_a_free_connection_then_times_out() {
        let (addr, heads) = backend(vec![OK, OK]).await;
        let upstreams = Upstreams::new(PoolConfig {
            max_connections: 1,
            ..PoolConfig::default()
        });
        let p = upstreams.pool(&addr.parse().unwrap(), None).unwrap();
        // One request in flight keeps the only connection busy (its body is not read yet).
        let first = p
            .send_within(
                request(http::Method::GET, GatewayBody::Empty),
                Duration::from_secs(2),
            )
            .await
            .unwrap();
        assert_eq!(p.open_connections(), 1);
        let waiting = p.send_within(
            request(http::Method::GET, GatewayBody::Empty),
            Duration::from_millis(300),
        );
        assert!(matches!(waiting.await, Err(UpstreamError::Timeout(_))));
        assert_eq!(
            heads.load(Ordering::SeqCst),
            1,
            "no second connection was opened"
        );
        // Once the first response is read, its connection serves the next request.
        assert_eq!(text(first).await.unwrap(), "ok");
        let next = p
            .send_within(
                request(http::Method::GET, GatewayBody::Empty),
                Duration::from_secs(2),
            )
            .await
            .unwrap();
        assert_eq!(text(next).await.unwrap(), "ok");
        assert_eq!(heads.load(Ordering::SeqCst), 2);
        assert_eq!(p.open_connections(), 1);
    }

    #[tokio::test]
    async fn a_stale_pooled_connection_is_retried_for_idempotent_requests() {
        let timeout = Duration::from_secs(5);
        // Every connection answers its first request and dies under its second.
        let (addr, heads) = backend(vec![OK, DIE]).await;
        let p = pool(&addr, Duration::from_secs(30));
        let r = p
            .send_within(request(http::Method::GET, GatewayBody::Empty), timeout)
            .await;
        assert_eq!(text(r.unwrap()).await.unwrap(), "ok");
        assert_eq!(p.idle_connections(), 1);
        let r = p
            .send_within(request(http::Method::PUT, GatewayBody::full("b")), timeout)
            .await;
        assert_eq!(text(r.unwrap()).await.unwrap(), "ok", "PUT sent again");
        assert_eq!(heads.load(Ordering::SeqCst), 3);
        let r = p
            .send_within(request(http::Method::POST, GatewayBody::full("b")), timeout)
            .await;
        assert!(r.is_err(), "a POST is never sent twice");
        assert_eq!(heads.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_101_nobody_asked_for_is_an_error_and_the_connection_is_not_pooled() {
        let (addr, _) = backend(vec![
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
        ])
        .await;
        let p = pool(&addr, Duration::from_secs(30));
        let r = p.send(request(http::Method::GET, GatewayBody::Empty)).await;
        assert!(matches!(r, Err(UpstreamError::Informational(s)) if s == 101));
        assert_eq!(p.idle_connections(), 0);
    }

    #[tokio::test]
    async fn the_integration_timeout_bounds_the_head_and_then_the_body() {
        // The backend never answers.
        let (hold, _) = backend(vec![]).await;
        let hp = pool(&hold, Duration::from_secs(30));
        let r = hp
            .send_within(
                request(http::Method::GET, GatewayBody::Empty),
                Duration::from_millis(100),
            )
            .await;
        assert!(r.is_err_and(|e| e.is_timeout()));

        // Head at once, body never completes.
        let (slow, _) = backend(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"]).await;
        let sp = pool(&slow, Duration::from_secs(30));
        let started = Instant::now();
        let r = sp
            .send_within(
                request(http::Method::GET, GatewayBody::Empty),
                Duration::from_millis(150),
            )
            .await
            .unwrap();
        let e = text(r).await.unwrap_err();
        assert!(e.is_timeout(), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(
            sp.idle_connections(),
            0,
            "a cut-off connection is not reused"
        );
    }

    #[tokio::test]
    async fn a_response_head_larger_than_the_read_buffer_is_refused() {
        let head = |size: usize| -> &'static [u8] {
            let h = format!(
                "HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 2\r\n\r\nok",
                "a".repeat(size)
            );
            Box::leak(h.into_bytes().into_boxed_slice())
        };
        let (fits, _) = backend(vec![head(MAX_READ_BUFFER / 2)]).await;
        let r = pool(&fits, Duration::from_secs(30))
            .send(request(http::Method::GET, GatewayBody::Empty))
            .await;
        assert_eq!(text(r.unwrap()).await.unwrap(), "ok");
        // hyper checks the limit between reads, so a head may overshoot it by one read.
        let (too_big, _) = backend(vec![head(2 * MAX_READ_BUFFER)]).await;
        let r = pool(&too_big, Duration::from_secs(30))
            .send(request(http::Method::GET, GatewayBody::Empty))
            .await;
        assert!(matches!(r, Err(UpstreamError::Http(_))));
    }

    #[tokio::test]
    async fn idle_connections_past_the_idle_timeout_are_closed() {
        let (addr, _) = backend(vec![OK, OK, OK]).await;
        let p = pool(&addr, Duration::from_millis(200));
        for _ in 0..3 {
            // Three at once: three connections, all pooled afterwards.
            let (a, b, c) = tokio::join!(
                p.send(request(http::Method::GET, GatewayBody::Empty)),
                p.send(request(http::Method::GET, GatewayBody::Empty)),
                p.send(request(http::Method::GET, GatewayBody::Empty)),
            );
            for r in [a, b, c] {
                assert_eq!(text(r.unwrap()).await.unwrap(), "ok");
            }
        }
        assert!(p.idle_connections() >= 1);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(p.idle_connections(), 0, "the reaper closed them");
    }
}
