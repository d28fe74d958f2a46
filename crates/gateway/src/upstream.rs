//! Upstream connection pools for HTTP integrations.
//!
//! One [`UpstreamPool`] per backend authority, resolved when a stage is compiled, so a request
//! never hashes an authority or takes a shared pool lock keyed by it. Each pool keeps idle HTTP/1.1
//! connections (hyper's low-level `SendRequest`); a connection returns to the pool when its
//! response body has been read to the end, and is dropped (closed) when the body is abandoned.
//! A request that could not even be written on a reused connection (the backend closed it while
//! idle) is retried once on a fresh connection; nothing that was written is ever retried.

use crate::body::GatewayBody;
use http::{HeaderValue, Request, Response, header};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
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
    /// The HTTP exchange failed.
    #[error("upstream request failed: {0}")]
    Http(#[from] hyper::Error),
}

impl UpstreamError {
    /// Whether the failure came from the client's own request body (malformed chunking, client
    /// gone) rather than from the backend.
    pub fn is_client_body(&self) -> bool {
        matches!(self, Self::Http(e) if e.is_user())
    }

    /// Whether the backend could not be reached at all.
    pub fn is_connect(&self) -> bool {
        matches!(self, Self::Connect { .. } | Self::ConnectTimeout(_))
    }
}

struct Idle {
    sender: SendRequest<GatewayBody>,
    since: Instant,
}

/// Pool settings.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// Idle connections kept per backend.
    pub max_idle: usize,
    /// Idle connections older than this are closed (keep it under the backend's keep-alive).
    pub idle_timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_idle: 1024,
            idle_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Idle connections to one backend authority.
pub struct UpstreamPool {
    addr: String,
    host: HeaderValue,
    idle: Mutex<Vec<Idle>>,
    config: PoolConfig,
}

impl std::fmt::Debug for UpstreamPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamPool")
            .field("addr", &self.addr)
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

    /// The `host:port` this pool connects to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends a request whose URI is in origin form (`/path?query`); sets `Host`.
    pub async fn send(
        self: &Arc<Self>,
        mut req: Request<GatewayBody>,
    ) -> Result<Response<GatewayBody>, UpstreamError> {
        req.headers_mut().insert(header::HOST, self.host.clone());
        let mut retried = false;
        loop {
            let (mut sender, reused) = match self.checkout().await {
                Some(s) => (s, true),
                None => (self.connect().await?, false),
            };
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    let (parts, body) = resp.into_parts();
                    let body = PooledBody {
                        inner: body,
                        sender: Some(sender),
                        pool: self.clone(),
                    };
                    return Ok(Response::from_parts(parts, GatewayBody::Pooled(body)));
                }
                Err(mut e) => match e.take_message() {
                    // Never written: the connection was closed while idle. Retry once, fresh.
                    Some(back) if reused && !retried => {
                        retried = true;
                        req = back;
                    }
                    _ => return Err(e.into_error().into()),
                },
            }
        }
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

    async fn connect(&self) -> Result<SendRequest<GatewayBody>, UpstreamError> {
        let connect = tokio::net::TcpStream::connect(self.addr.as_str());
        let stream = match tokio::time::timeout(self.config.connect_timeout, connect).await {
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
        let (sender, conn) = http1::Builder::new()
            .max_headers(200)
            .handshake(TokioIo::new(stream))
            .await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
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
        }
    }
}

/// Every backend's pool, shared by all stages that target it.
#[derive(Debug, Default)]
pub struct Upstreams {
    pools: Mutex<HashMap<String, Arc<UpstreamPool>>>,
    config: PoolConfig,
}

impl Upstreams {
    /// Pools with the given settings.
    pub fn new(config: PoolConfig) -> Self {
        Self {
            pools: Mutex::default(),
            config,
        }
    }

    /// The pool for `authority` (`host[:port]`, port 80 by default), created on first use (deploy
    /// time).
    pub fn pool(&self, authority: &http::uri::Authority) -> Result<Arc<UpstreamPool>, String> {
        let addr = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(80)
        );
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| format!("invalid backend host {authority}"))?;
        let mut pools = match self.pools.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        Ok(pools
            .entry(addr.clone())
            .or_insert_with(|| {
                Arc::new(UpstreamPool {
                    addr,
                    host,
                    idle: Mutex::default(),
                    config: self.config,
                })
            })
            .clone())
    }
}

/// A response body that gives its connection back to the pool once read to the end.
pub struct PooledBody {
    inner: Incoming,
    sender: Option<SendRequest<GatewayBody>>,
    pool: Arc<UpstreamPool>,
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
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, hyper::Error>>> {
        let r = http_body::Body::poll_frame(Pin::new(&mut self.inner), cx);
        match &r {
            Poll::Ready(None) => {
                if let Some(s) = self.sender.take() {
                    self.pool.put(s);
                }
            }
            Poll::Ready(Some(Ok(_))) => self.release_if_done(),
            _ => {}
        }
        r
    }

    pub(crate) fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(&self.inner)
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
