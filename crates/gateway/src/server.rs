//! The data-plane listener: connection admission, per-connection timeouts, request-head checks
//! and graceful shutdown.
//!
//! What happens before a request reaches [`Gateway::handle_from`], in order:
//!
//! 1. **Admission.** At most [`ListenerLimits::max_connections`] connections are open at once;
//!    beyond that the listener stops accepting, so new clients wait in the kernel's accept
//!    backlog until a connection closes (nothing is refused, nothing is accepted and left
//!    unserved).
//! 2. **Timeouts** (one watchdog per connection, HTTP/1 and HTTP/2 alike):
//!    * a request head must be complete within [`ListenerLimits::header_timeout`] of its first
//!      byte — and the first request within that time of the accept;
//!    * a connection with no request in flight is closed after
//!      [`ListenerLimits::idle_timeout`] (keep-alive);
//!    * a connection with a request in flight is closed when no byte has moved in either
//!      direction for [`ListenerLimits::idle_timeout`] (a stalled request body or a client that
//!      stopped reading; integration timeouts are at most 29 s, well inside the default).
//! 3. **hyper's HTTP/1 parser** (strict: no obs-fold, no whitespace before the colon, no
//!    control bytes, Transfer-Encoding only on HTTP/1.1, chunked wins over Content-Length and
//!    such a connection is closed after the response) with [`ListenerLimits::max_headers`] and a
//!    raw read buffer of four times [`ListenerLimits::max_header_bytes`].
//! 4. **Head checks** here ([`admit`]): request line, field line and total head sizes (414 /
//!    431), `Host` (missing on HTTP/1.1, repeated or invalid → 400), absolute-form targets whose
//!    authority differs from `Host` (400), `Transfer-Encoding` other than one `chunked` (400, or
//!    501 for codings Portico does not implement), client-supplied `Forwarded`,
//!    `X-Forwarded-Host` and `X-Forwarded-Port` removed, `Content-Length` re-written canonically;
//!    on HTTP/2 a `Host` that differs from `:authority`, or a repeated one, is a 400.
//! 5. **Body framing.** `Expect: 100-continue` with a `Content-Length` over the body limit is
//!    answered 413 without a `100 Continue`. Nothing reads a body here: a body of unknown length
//!    (chunked, or HTTP/2 without `content-length`) goes on as it arrives, so that the API, stage
//!    and route are known before any of it is read — an unknown API is refused without reading
//!    it, and the route decides whether it is read whole ([`crate::GatewayConfig`]: payload
//!    limit, body timeout, body budget).
//!
//! Every rejection made here closes the connection after the response (HTTP/1).
//!
//! Between requests an HTTP/1 connection holds no buffers: once a response has gone out whole,
//! the request body was read to its end and no next head has begun, hyper's connection is taken
//! apart and the socket waits on its own (see [`connection`]); the next byte builds a new one.

use crate::body::{BodyWatch, GatewayBody};
use crate::gateway_response::{GatewayError, GatewayResponseType, GatewayResponses};
use crate::tls::{Certificates, ClientCert, Site};
use crate::{ConnInfo, Gateway, TlsInfo};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Limits and timeouts of the data-plane listener. The defaults follow API Gateway where it
/// publishes a figure (10 240-byte request head, 10 MiB payload) and common proxy practice
/// elsewhere.
#[derive(Debug, Clone)]
pub struct ListenerLimits {
    /// Longest time from the first byte of a request head (or from the accept, for the first
    /// request) to its end. Default 10 s.
    pub header_timeout: Duration,
    /// Keep-alive idle time, and longest time without any byte moving while a request is in
    /// flight. Default 60 s.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the accept backlog. Default 10 000.
    pub max_connections: usize,
    /// Longest request line (`METHOD target HTTP/1.1`), 414 above. Default 8 192.
    pub max_request_line_bytes: usize,
    /// Longest single field line (`name: value`), 431 above. Default 8 192.
    pub max_header_line_bytes: usize,
    /// Longest request head: the request line and every field line, each with its CRLF
    /// (AWS: "total combined size of request line and header values", 10 240). 431 above.
    pub max_header_bytes: usize,
    /// Most header fields in a request, 431 above. Default 100.
    pub max_headers: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            max_request_line_bytes: 8 * 1024,
            max_header_line_bytes: 8 * 1024,
            max_header_bytes: 10_240,
            max_headers: 100,
        }
    }
}

/// Serves HTTP/1.1 and HTTP/2 (prior knowledge) on `listener` with the default
/// [`ListenerLimits`] until `shutdown` resolves, then stops accepting, lets requests in flight
/// finish for up to `grace`, and returns.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    serve_with(
        gateway,
        listener,
        shutdown,
        grace,
        ListenerLimits::default(),
    )
    .await
}

/// [`serve`] with explicit limits.
pub async fn serve_with(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    limits: ListenerLimits,
) -> std::io::Result<()> {
    serve_inner(gateway, listener, shutdown, grace, limits, None).await
}

/// What a TLS listener needs besides the plain one's settings.
#[derive(Clone)]
pub struct TlsListener {
    /// The certificates, by name (swapped on rotation).
    pub certificates: Arc<Certificates>,
    /// `Strict-Transport-Security` on every response, when set.
    pub hsts: Option<HeaderValue>,
}

/// [`serve_with`] for HTTPS: every connection is a TLS session (certificate by SNI, HTTP/2 by
/// ALPN); plain HTTP sent to it is answered `400` and closed.
pub async fn serve_tls(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    limits: ListenerLimits,
    tls: TlsListener,
) -> std::io::Result<()> {
    serve_inner(gateway, listener, shutdown, grace, limits, Some(tls)).await
}

async fn serve_inner(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    limits: ListenerLimits,
    tls: Option<TlsListener>,
) -> std::io::Result<()> {
    gateway.prepare_listener().await;
    let mut h1 = http1::Builder::new();
    h1
        // Header names keep the client's spelling on the way to an HTTP_PROXY backend, and the
        // backend's on the way back (`header_case`).
        .preserve_header_case(true)
        .timer(TokioTimer::new())
        // The watchdog below times heads out; hyper's own timer would also close idle
        // keep-alive connections at the header timeout.
        .header_read_timeout(None)
        .max_headers(limits.max_headers)
        .max_buf_size((limits.max_header_bytes.saturating_mul(4)).max(8192));
    let mut h2 = http2::Builder::new(TokioExecutor::new());
    h2.max_concurrent_streams(256).timer(TokioTimer::new());
    let max_connections = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max_connections));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let shared = Arc::new(Listener {
        gateway,
        limits,
        h1,
        h2,
        stopped,
        tls,
    });
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let (stream, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            if shared.tls.is_some() {
                // Boxed: a TLS session's state (rustls, the handshake) is far larger than a
                // plain connection's, and an unboxed branch would size every task for it.
                Box::pin(tls_connection(shared, stream, remote)).await;
            } else {
                connection(shared, stream, remote).await;
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(grace_secs = grace.as_secs_f64(), "draining connections");
    let _ = stop.send(true);
    // Every connection holds a slot until it ends: all slots back means all connections ended.
    let drained = slots.acquire_many(max_connections as u32);
    tokio::select! {
        _ = drained => tracing::info!("all connections drained"),
        () = tokio::time::sleep(grace) => tracing::warn!("grace period over; closing remaining connections"),
    }
    Ok(())
}

/// A plain-HTTP listener that answers every request with `308 Permanent Redirect` to the same
/// host and path on the HTTPS port (308 keeps the method and body, so an API `POST` is
/// repeated as a `POST`). A request without a valid `Host` gets `400`. Heads are bounded by
/// hyper's limits and a 10 s read timeout; at most 1,024 connections at once.
pub async fn serve_redirect(
    listener: TcpListener,
    https_port: u16,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(1024));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = &mut shutdown => break,
        };
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| async move {
                Ok::<_, Infallible>(redirect_to_https(&req, https_port))
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_buf_size(16 * 1024)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(Duration::from_secs(30), conn).await;
            drop(permit);
        });
    }
    Ok(())
}

/// The redirect [`serve_redirect`] answers `req` with.
fn redirect_to_https(req: &Request<Incoming>, https_port: u16) -> Response<String> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<http::uri::Authority>().ok());
    let Some(host) = host else {
        let mut r = Response::new(r#"{"message":"Bad Request"}"#.to_owned());
        *r.status_mut() = StatusCode::BAD_REQUEST;
        return r;
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{}{port}{target}", host.host());
    let mut r = Response::new(String::new());
    *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            r.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => *r.status_mut() = StatusCode::BAD_REQUEST,
    }
    r
}

/// What every connection of one listener shares.
pub(crate) struct Listener {
    gateway: Arc<Gateway>,
    limits: ListenerLimits,
    h1: http1::Builder,
    h2: http2::Builder<TokioExecutor>,
    /// Becomes `true` when the listener shuts down.
    stopped: tokio::sync::watch::Receiver<bool>,
    /// Set on a TLS listener.
    tls: Option<TlsListener>,
}

/// Serves one client connection until it closes, times out or the listener shuts down.
///
/// An HTTP/1 connection alternates between two states. **Active**: a hyper connection owns the
/// socket, with its read and write buffers, while a request is on its way in, in flight or on
/// its way out, and between the requests of a busy client (one that sends its next request
/// within [`HOT_GAP_MS`] of a response; once such a client has been quiet for [`HOT_CHECK`] the
/// connection goes idle too). **Idle**: as soon as a response has gone out whole and no next
/// request has started, the hyper connection is taken apart (the socket and any bytes it read ahead are
/// kept) and the connection waits for the next byte holding nothing but the socket and a few
/// words of state — the few hundred bytes nginx keeps for a keep-alive connection, not hyper's
/// buffers. An HTTP/2 connection stays with hyper for its whole life (its HPACK tables and
/// settings are connection state).
async fn connection(shared: Arc<Listener>, stream: TcpStream, remote: SocketAddr) {
    let clock = Arc::new(ConnClock::new());
    let client = Arc::new(ConnInfo::new(remote));
    let mut stopped = shared.stopped.clone();
    // The first request's head must arrive within the header timeout of the accept.
    let first_deadline = tokio::time::Instant::now() + shared.limits.header_timeout;
    let h2 = match sniff(&stream, first_deadline, &mut stopped).await {
        Some(h2) => h2,
        None => return,
    };
    let io = Watched::new(stream, clock.clone());
    serve_stream(&shared, io, h2, &clock, &client, &mut stopped).await;
}

/// Serves one TLS connection: the first byte tells a TLS `ClientHello` from plain HTTP; the
/// `ClientHello` names the site (SNI), whose config finishes the handshake; ALPN picks HTTP/2
/// or HTTP/1.1. The handshake counts against the first request's header timeout, so a flood of
/// slow or stalled handshakes is bounded like any other slow client.
async fn tls_connection(shared: Arc<Listener>, stream: TcpStream, remote: SocketAddr) {
    let Some(tls) = shared.tls.as_ref() else {
        return;
    };
    let clock = Arc::new(ConnClock::new());
    let mut stopped = shared.stopped.clone();
    let deadline = tokio::time::Instant::now() + shared.limits.header_timeout;
    match first_byte(&stream, deadline, &mut stopped).await {
        None => return,
        // A TLS record of type handshake.
        Some(0x16) => {}
        Some(_) => {
            plain_http_refused(stream).await;
            return;
        }
    }
    let handshake = async {
        let start =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream)
                .await?;
        let sni: Option<Box<str>> = start
            .client_hello()
            .server_name()
            .map(|n| n.to_ascii_lowercase().into());
        let site = tls.certificates.table().site(sni.as_deref());
        let Site::Serve(config) = site else {
            return Err(std::io::Error::other("the site refuses handshakes"));
        };
        let stream = start.into_stream(config).await?;
        Ok::<_, std::io::Error>((stream, sni))
    };
    let (stream, sni) = tokio::select! {
        r = tokio::time::timeout_at(deadline, handshake) => match r {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => {
                tracing::debug!(peer = %remote, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(peer = %remote, "TLS handshake timed out");
                return;
            }
        },
        _ = stopped.changed() => return,
    };
    let (_, session) = stream.get_ref();
    let h2 = session.alpn_protocol() == Some(b"h2");
    let client_cert = session
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(ClientCert::from_der)
        .map(Arc::new);
    let client = Arc::new(ConnInfo::tls(remote, TlsInfo { sni, client_cert }));
    let io = Watched::new(stream, clock.clone());
    serve_stream(&shared, io, h2, &clock, &client, &mut stopped).await;
}

/// The first byte the client sends, read nothing. `None`: it closed, timed out or the
/// listener stopped.
async fn first_byte(
    stream: &TcpStream,
    deadline: tokio::time::Instant,
    stopped: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<u8> {
    let mut buf = [0u8; 1];
    tokio::select! {
        r = stream.peek(&mut buf) => match r {
            Ok(1) => Some(buf[0]),
            _ => None,
        },
        () = tokio::time::sleep_until(deadline) => None,
        _ = stopped.changed() => None,
    }
}

/// Plain HTTP sent to the TLS port: a `400` that says so, then close (the request's head is
/// read first, bounded, so that the client sees the answer rather than a reset).
async fn plain_http_refused(mut stream: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const BODY: &str = r#"{"message":"This port speaks HTTPS: send the request with https://"}"#;
    let mut head = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut head)).await;
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
         x-amzn-errortype: BadRequestException\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Serves the requests of one connection over its (plain or decrypted) byte stream.
pub(crate) async fn serve_stream<S: Transport>(
    shared: &Arc<Listener>,
    mut io: Watched<S>,
    h2: bool,
    clock: &Arc<ConnClock>,
    client: &Arc<ConnInfo>,
    stopped: &mut tokio::sync::watch::Receiver<bool>,
) {
    let limits = &shared.limits;
    if h2 {
        Box::pin(serve_h2(shared, io, clock, client, stopped)).await;
        return;
    }
    // One watchdog for the connection's life, whichever state it is in: no timer is set or
    // cancelled per request.
    let watchdog = clock.watchdog(limits);
    tokio::pin!(watchdog);
    loop {
        let active = Box::pin(serve_h1(shared, io, clock, client, stopped));
        tokio::select! {
            next = active => match next {
                H1End::Idle(idle) => io = idle,
                H1End::Closed => return,
                                H1End::Upgraded(io, prefix, upgrade) => {
                    // The WebSocket runs as a task of its own, with its own timeouts and its own
                    // connection limit: this HTTP connection ends here and gives back its slot.
                    let io = crate::websocket::session::Prefixed::new(io, prefix);
                    let stopped = stopped.clone();
                    tokio::spawn(shared.gateway.clone().run_connection(Box::new(io), upgrade, stopped));
                    return;
                }
            },
            () = &mut watchdog => {
                tracing::debug!(peer = %client.ip, "connection timed out");
                return;
            }
        }
        if io.prefix.is_some() {
            // The client had already sent (part of) its next request.
            continue;
        }
        tokio::select! {
            r = io.inner.readable() => if r.is_err() { return },
            () = &mut watchdog => {
                tracing::debug!(peer = %client.ip, "idle connection timed out");
                return;
            }
            _ = stopped.changed() => return,
        }
    }
}

/// A connection's byte stream: the TCP socket itself, or the TLS session over it.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Resolves when a read would find bytes (or the end of the stream), reading nothing: an
    /// idle connection waits here holding no buffer.
    fn readable(&self) -> impl Future<Output = std::io::Result<()>> + Send;
}

impl Transport for TcpStream {
    fn readable(&self) -> impl Future<Output = std::io::Result<()>> + Send {
        TcpStream::readable(self)
    }
}

impl Transport for tokio_rustls::server::TlsStream<TcpStream> {
    fn readable(&self) -> impl Future<Output = std::io::Result<()>> + Send {
        let (tcp, session) = self.get_ref();
        // Plaintext already decrypted (or a close_notify) is ready without the socket.
        let ready = !session.wants_read();
        async move { if ready { Ok(()) } else { tcp.readable().await } }
    }
}

/// Waits for the client's first bytes and tells HTTP/2 prior knowledge (`PRI * HTTP/2.0…`; no
/// HTTP/1 method is `PRI`) from HTTP/1, reading nothing. `None`: the client closed, timed out or
/// the listener stopped.
async fn sniff(
    stream: &TcpStream,
    deadline: tokio::time::Instant,
    stopped: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<bool> {
    let mut buf = [0u8; 3];
    loop {
        let n = tokio::select! {
            r = stream.peek(&mut buf) => r.ok()?,
            () = tokio::time::sleep_until(deadline) => return None,
            _ = stopped.changed() => return None,
        };
        if n == 0 {
            return None;
        }
        if buf[..n] != b"PRI"[..n] {
            return Some(false);
        }
        if n == 3 {
            return Some(true);
        }
        // A prefix of "PRI" so far: look again shortly.
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
            () = tokio::time::sleep_until(deadline) => return None,
        }
    }
}

/// The request service of one connection. Its future is boxed: hyper hands an HTTP/1 socket back
/// (see [`serve_h1`]) only to a service whose future is `Unpin`, and the box is made once per
/// request either way (hyper keeps an in-flight future in a box of its own).
#[derive(Clone)]
struct ConnService {
    shared: Arc<Listener>,
    clock: Arc<ConnClock>,
    client: Arc<ConnInfo>,
}

/// What [`ConnService`] answers with.
type Answer = Pin<Box<dyn Future<Output = Result<Response<Tracked>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, req: Request<Incoming>) -> Answer {
        let clock = self.clock.clone();
        let guard = InFlight::start(clock.clone());
        // A request body keeps the request in flight until it has been read whole.
        let watch = (!req.body().is_end_stream()).then(|| {
            Box::new(BodyRead {
                guard: InFlight::start(clock.clone()),
                read_whole: false,
            }) as Box<dyn BodyWatch>
        });
        let shared = self.shared.clone();
        let client = self.client.clone();

        Box::pin(async move {
            let mut resp = admit(&shared.gateway, &client, &shared.limits, req, watch).await;
            if resp.status() == http::StatusCode::SWITCHING_PROTOCOLS
                && let Some(u) = Gateway::upgrade_of(resp.extensions())
                && let Ok(mut slot) = clock.upgrade.lock()
            {
                *slot = Some(u);
            }
            if let Some(hsts) = shared.tls.as_ref().and_then(|t| t.hsts.as_ref()) {
                resp.headers_mut()
                    .insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
            }
            if resp
                .headers()
                .get(header::CONNECTION)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
            {
                clock.must_close.store(true, Relaxed);
            }
            Ok::<_, Infallible>(resp.map(|body| Tracked {
                body,
                _guard: guard,
            }))
        })
    }
}

/// How the active state of an HTTP/1 connection ended.
enum H1End<S> {
    /// Quiet: the socket, to wait idle.
    Idle(Watched<S>),
    /// Closed here.
    Closed,
    /// A WebSocket upgrade was accepted: the socket, and what the client sent after the
    /// handshake, are the WebSocket's now (no longer watched as HTTP: the parser-error
    /// rewriting and the HTTP timeouts end here).
    Upgraded(S, Option<Bytes>, crate::websocket::session::Upgrade),
}

/// The active state of an HTTP/1 connection: hyper serves requests until the connection is
/// quiet, ends, or becomes a WebSocket.
async fn serve_h1<S: Transport>(
    shared: &Arc<Listener>,
    io: Watched<S>,
    clock: &Arc<ConnClock>,
    client: &Arc<ConnInfo>,
    stopped: &mut tokio::sync::watch::Receiver<bool>,
) -> H1End<S> {
    let mut conn = shared.h1.serve_connection(
        TokioIo::new(io),
        ConnService {
            shared: shared.clone(),
            clock: clock.clone(),
            client: client.clone(),
        },
    );
    // Set when the listener stops: finish the request in flight, then close.
    let mut closing = false;
    loop {
        let step = std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = conn.poll_without_shutdown(cx) {
                return Poll::Ready(Step::Done(r));
            }
            if !closing && clock.quiet() && clock.may_shrink() {
                return Poll::Ready(Step::Quiet);
            }
            Poll::Pending
        });
        let step = tokio::select! {
            s = step => s,
            _ = stopped.changed(), if !closing => {
                closing = true;
                Pin::new(&mut conn).graceful_shutdown();
                continue;
            }
        };
        match step {
            Step::Quiet => {
                // hyper is waiting for the next head: asked to stop now, it closes its state at
                // once and hands the socket back. If it is still inside a message instead (a
                // request body nobody read, say), it stops after it, and the connection closes.
                Pin::new(&mut conn).graceful_shutdown();
                let now = std::future::poll_fn(|cx| Poll::Ready(conn.poll_without_shutdown(cx)));
                match now.await {
                    Poll::Ready(Ok(())) => {
                        let parts = conn.into_parts();
                        let mut io = parts.io.into_inner();
                        io.prefix = (!parts.read_buf.is_empty()).then_some(parts.read_buf);
                        return H1End::Idle(io);
                    }
                    Poll::Ready(Err(e)) => {
                        tracing::debug!(error = %e, "connection ended with an error");
                        return H1End::Closed;
                    }
                    Poll::Pending => closing = true,
                }
            }
            Step::Done(r) => {
                // After a 101, hyper is done with the connection and hands the socket back.
                let accepted = clock.upgrade.lock().ok().and_then(|mut u| u.take());
                if let (Ok(()), Some(u)) = (&r, accepted) {
                    let parts = conn.into_parts();
                    let io = parts.io.into_inner();
                    let prefix = (!parts.read_buf.is_empty()).then_some(parts.read_buf);
                    return H1End::Upgraded(io.inner, prefix, u);
                }
                // hyper ended the connection itself (Connection: close, HTTP/1.0, an error, the
                // client went away): close the socket after what was written.
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                let mut io = conn.into_parts().io.into_inner();
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    tokio::io::AsyncWriteExt::shutdown(&mut io),
                )
                .await;
                return H1End::Closed;
            }
        }
    }
}

/// What the active state's loop saw.
enum Step {
    Done(hyper::Result<()>),
    Quiet,
}

/// An HTTP/2 connection, served by hyper for its whole life.
async fn serve_h2<S: Transport>(
    shared: &Arc<Listener>,
    io: Watched<S>,
    clock: &Arc<ConnClock>,
    client: &Arc<ConnInfo>,
    stopped: &mut tokio::sync::watch::Receiver<bool>,
) {
    let conn = shared.h2.serve_connection(
        TokioIo::new(io),
        ConnService {
            shared: shared.clone(),
            clock: clock.clone(),
            client: client.clone(),
        },
    );
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = clock.watchdog(&shared.limits) => {
                tracing::debug!("connection timed out");
                return;
            }
            _ = stopped.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Per-connection timing, shared by the socket wrapper, the service and the watchdog. Times are
/// milliseconds since `epoch` (the accept).
pub(crate) struct ConnClock {
    epoch: Instant,
    /// Last time a byte was read or written.
    last_io: AtomicU64,
    /// When the head being read began, plus one; 0 while none is.
    head_started: AtomicU64,
    /// When the last request in flight finished.
    idle_since: AtomicU64,
    in_flight: AtomicUsize,
    /// The connection speaks HTTP/2: reads between requests are frames, not a head.
    h2: AtomicBool,
    /// Bytes seen so far, until the protocol is known.
    sniffed: AtomicU64,
    /// hyper has written since it last flushed: a response may still sit in its buffer.
    dirty: AtomicBool,
    /// The connection carries no further request (a body left unread, `Connection: close`).
    must_close: AtomicBool,
    /// The last request began within [`HOT_GAP_MS`] of the response before it.
    hot: AtomicBool,
    /// The watchdog found the connection quiet for [`HOT_CHECK`] or longer.
    idle_long: AtomicBool,
    /// A WebSocket upgrade the gateway accepted: the socket is its once the 101 is out.
    upgrade: std::sync::Mutex<Option<crate::websocket::session::Upgrade>>,
}

/// Longest pause between a response and the next request for which a connection counts as busy
/// (its hyper connection is then kept between requests instead of rebuilt for each).
const HOT_GAP_MS: u64 = 2;

/// How often the watchdog looks at a busy connection, so that once it goes quiet it gives
/// hyper's buffers back within about this long.
const HOT_CHECK: Duration = Duration::from_secs(1);

impl ConnClock {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last_io: AtomicU64::new(0),
            // The first request's head is timed from the accept.
            head_started: AtomicU64::new(1),
            idle_since: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            h2: AtomicBool::new(false),
            sniffed: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
            must_close: AtomicBool::new(false),
            hot: AtomicBool::new(false),
            idle_long: AtomicBool::new(false),
            upgrade: std::sync::Mutex::new(None),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn on_read(&self, bytes: &[u8]) {
        let now = self.now();
        self.last_io.store(now, Relaxed);
        if self.sniffed.load(Relaxed) < 3 {
            // HTTP/2 prior knowledge starts with "PRI * HTTP/2.0"; no HTTP/1 method is "PRI".
            let seen = self.sniffed.load(Relaxed) as usize;
            let need = &b"PRI"[seen.min(3)..];
            let take = need.len().min(bytes.len());
            if bytes[..take] == need[..take] {
                if seen + take >= 3 {
                    self.h2.store(true, Relaxed);
                }
                self.sniffed.store((seen + take) as u64, Relaxed);
            } else {
                self.sniffed.store(u64::MAX, Relaxed);
            }
        }
        if self.in_flight.load(Relaxed) == 0
            && !self.h2.load(Relaxed)
            && self.head_started.load(Relaxed) == 0
        {
            self.head_started.store(now + 1, Relaxed);
            // A request that follows the previous response at once: the client keeps this
            // connection busy, and hyper's connection is kept between its requests.
            let gap = now.saturating_sub(self.idle_since.load(Relaxed));
            self.hot.store(gap <= HOT_GAP_MS, Relaxed);
            self.idle_long.store(false, Relaxed);
        }
    }

    fn on_write(&self) {
        self.last_io.store(self.now(), Relaxed);
    }

    /// An HTTP/1 connection between requests: no request in flight, no head begun, everything
    /// written out.
    fn quiet(&self) -> bool {
        self.in_flight.load(Relaxed) == 0
            && self.head_started.load(Relaxed) == 0
            && !self.dirty.load(Relaxed)
            && !self.must_close.load(Relaxed)
            && !self.h2.load(Relaxed)
    }

    /// A quiet connection whose hyper connection should go now: it was not busy, or has not been
    /// for [`HOT_CHECK`].
    fn may_shrink(&self) -> bool {
        !self.hot.load(Relaxed) || self.idle_long.load(Relaxed)
    }

    /// When the connection must close, from its state now.
    fn deadline(&self, limits: &ListenerLimits) -> u64 {
        let ms = |d: Duration| d.as_millis() as u64;
        if self.in_flight.load(Relaxed) > 0 {
            return self.last_io.load(Relaxed) + ms(limits.idle_timeout);
        }
        match self.head_started.load(Relaxed) {
            0 => self.idle_since.load(Relaxed) + ms(limits.idle_timeout),
            started => started - 1 + ms(limits.header_timeout),
        }
    }

    /// Resolves when the connection has outlived its current timeout.
    ///
    /// Nothing wakes it: it sleeps until the current deadline but never longer than the shorter
    /// of the two timeouts, and every deadline the connection can move to (a head starting, a
    /// request ending, bytes moving) lies at least that far after the moment it is set, so the
    /// watchdog is awake again by then. Requests therefore cost no timer or task wake-up.
    ///
    /// A busy HTTP/1 connection (see [`HOT_GAP_MS`]) is looked at every [`HOT_CHECK`] as well:
    /// once it has been quiet that long, it is marked for its hyper connection to be taken apart.
    async fn watchdog(&self, limits: &ListenerLimits) {
        let step = limits.header_timeout.min(limits.idle_timeout);
        loop {
            let now = self.now();
            let deadline = self.deadline(limits);
            if deadline <= now {
                return;
            }
            let mut nap = Duration::from_millis(deadline - now).min(step);
            let hot = self.hot.load(Relaxed) && !self.idle_long.load(Relaxed);
            if hot {
                nap = nap.min(HOT_CHECK);
            }
            tokio::time::sleep(nap).await;
            if hot
                && self.quiet()
                && self.now().saturating_sub(self.idle_since.load(Relaxed))
                    >= HOT_CHECK.as_millis() as u64
            {
                self.idle_long.store(true, Relaxed);
                // The connection's other half runs in this task: let it see the mark now.
                tokio::task::yield_now().await;
            }
        }
    }
}

/// A request in flight, from the moment its head is parsed until its response body is done
/// (the guard travels inside the response body).
struct InFlight(Arc<ConnClock>);

impl InFlight {
    fn start(clock: Arc<ConnClock>) -> Self {
        clock.in_flight.fetch_add(1, Relaxed);
        clock.head_started.store(0, Relaxed);
        Self(clock)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Relaxed) == 1 {
            self.0.idle_since.store(self.0.now(), Relaxed);
        }
    }
}

/// Holds a request in flight until its body has been read whole; a body given up before its end
/// means the connection cannot carry another request (so does a watch dropped unused: the
/// listener answered without reading the body).
struct BodyRead {
    guard: InFlight,
    read_whole: bool,
}

impl BodyWatch for BodyRead {
    fn finished(mut self: Box<Self>, read_whole: bool) {
        self.read_whole = read_whole;
    }
}

impl Drop for BodyRead {
    fn drop(&mut self) {
        if !self.read_whole {
            self.guard.0.must_close.store(true, Relaxed);
        }
    }
}

/// The response body, carrying the in-flight guard.
struct Tracked {
    body: GatewayBody,
    _guard: InFlight,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = <GatewayBody as Body>::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The client socket, noting every byte that moves. It also gives hyper's own answers to heads
/// it cannot parse (a bare `400`/`414`/`431` with no body, written before any request exists)
/// the AWS error body every other gateway error has.
pub(crate) struct Watched<S = TcpStream> {
    inner: S,
    clock: Arc<ConnClock>,
    /// A rewritten parser-error response still to be written, and how much of it went out.
    pending: Option<(Vec<u8>, usize)>,
    /// Bytes read from the socket before the connection last went idle, not yet parsed (a
    /// pipelined request): read again before the socket.
    prefix: Option<Bytes>,
}

impl<S: Transport> Watched<S> {
    pub(crate) fn new(inner: S, clock: Arc<ConnClock>) -> Self {
        Self {
            inner,
            clock,
            pending: None,
            prefix: None,
        }
    }

    /// Writes what is left of a rewritten response.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while let Some((bytes, at)) = &mut self.pending {
            if *at >= bytes.len() {
                self.pending = None;
                break;
            }
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[*at..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    *at += n;
                    self.clock.on_write();
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `buf` as hyper's parser-error response if it is one (no request is in flight, so
    /// nothing else can be writing a head), queueing the AWS-shaped replacement.
    fn take_parser_error(&mut self, buf: &[u8]) -> bool {
        if self.clock.in_flight.load(Relaxed) != 0 || self.clock.h2.load(Relaxed) {
            return false;
        }
        match parser_error_replacement(buf) {
            Some(replacement) => {
                self.pending = Some((replacement, 0));
                true
            }
            None => false,
        }
    }
}

/// hyper's automatic answer to an unparsable head is exactly `HTTP/1.1 {400|414|431} …` with
/// `connection: close`, `content-length: 0` and `date`; anything else (every response Portico
/// makes carries `x-amzn-requestid`, a body or both) is left alone.
fn parser_error_replacement(buf: &[u8]) -> Option<Vec<u8>> {
    if buf.len() > 256 || !buf.starts_with(b"HTTP/1.1 ") || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let text = std::str::from_utf8(buf).ok()?;
    let mut lines = text[..text.len() - 4].split("\r\n");
    let status_line = lines.next()?;
    let why = match status_line.get(9..12)? {
        "400" => Refusal::BadRequest,
        "414" => Refusal::UriTooLong,
        "431" => Refusal::HeadTooLarge,
        _ => return None,
    };
    let mut date = None;
    let mut empty = false;
    for line in lines {
        let (name, value) = line.split_once(": ")?;
        match (name, value) {
            ("connection", "close") => {}
            ("content-length", "0") => empty = true,
            ("date", v) => date = Some(v),
            _ => return None,
        }
    }
    if !empty {
        return None;
    }
    let err = why.error();
    let mut out = format!(
        "{status_line}\r\ncontent-type: application/json\r\nx-amzn-errortype: {}\r\n\
         connection: close\r\ncontent-length: {}\r\n",
        err.error_type,
        err.body.len()
    );
    if let Some(d) = date {
        out.push_str("date: ");
        out.push_str(d);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&err.body);
    Some(out.into_bytes())
}

impl<S: Transport> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if let Some(prefix) = &mut this.prefix {
            let n = prefix.len().min(buf.remaining());
            let head = prefix.split_to(n);
            buf.put_slice(&head);
            this.clock.on_read(&head);
            if prefix.is_empty() {
                this.prefix = None;
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r
            && buf.filled().len() > before
        {
            this.clock.on_read(&buf.filled()[before..]);
        }
        r
    }
}

impl<S: Transport> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.clock.dirty.store(true, Relaxed);
        std::task::ready!(this.poll_pending(cx))?;
        if this.take_parser_error(buf) {
            // Reported as written; the replacement goes out now or on the next flush.
            let _ = this.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r
            && n > 0
        {
            this.clock.on_write();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.clock.dirty.store(true, Relaxed);
        std::task::ready!(this.poll_pending(cx))?;
        let mut non_empty = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (non_empty.next(), non_empty.next())
            && this.take_parser_error(only)
        {
            let _ = this.poll_pending(cx)?;
            return Poll::Ready(Ok(only.len()));
        }
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r
            && n > 0
        {
            this.clock.on_write();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_pending(cx))?;
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        if let Poll::Ready(Ok(())) = r {
            this.clock.dirty.store(false, Relaxed);
        }
        r
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// Why the listener refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    UriTooLong,
    HeadTooLarge,
    BadRequest,
    NotImplemented,
    BodyTimeout,
}

impl Refusal {
    fn error(self) -> GatewayError {
        let (kind, status, error_type, message, body) = match self {
            Self::UriTooLong => (
                GatewayResponseType::Default4xx,
                StatusCode::URI_TOO_LONG,
                "UriTooLongException",
                "Request-URI Too Long",
                r#"{"message":"Request-URI Too Long"}"#,
            ),
            Self::HeadTooLarge => (
                GatewayResponseType::Default4xx,
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "RequestHeaderFieldsTooLargeException",
                "Request Header Fields Too Large",
                r#"{"message":"Request Header Fields Too Large"}"#,
            ),
            Self::BadRequest => return GatewayError::bad_request(),
            Self::NotImplemented => (
                GatewayResponseType::Default5xx,
                StatusCode::NOT_IMPLEMENTED,
                "NotImplementedException",
                "Transfer-Encoding Not Implemented",
                r#"{"message":"Transfer-Encoding Not Implemented"}"#,
            ),
            Self::BodyTimeout => return GatewayError::request_timeout(),
        };
        GatewayError {
            kind,
            status,
            error_type,
            body: Cow::Borrowed(body),
            message: Cow::Borrowed(message),
            validation_error: None,
        }
    }
}

/// The listener's answer to a refused request: AWS-shaped body, connection closed (HTTP/1).
fn refuse(why: Refusal, version: Version) -> Response<GatewayBody> {
    let mut resp = GatewayResponses::default().render(&why.error());
    if version < Version::HTTP_2 {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// Checks a request's head and framing, then hands it to the gateway.
async fn admit(
    gw: &Gateway,
    client: &ConnInfo,
    limits: &ListenerLimits,
    mut req: Request<Incoming>,
    watch: Option<Box<dyn BodyWatch>>,
) -> Response<GatewayBody> {
    let version = req.version();
    let forwarded = match check_head(&req, limits) {
        Ok(f) => f,
        Err(why) => {
            // The body is read as a body (never as the next request) and thrown away, then the
            // connection closes.
            linger(req.into_body());
            return refuse(why, version);
        }
    };
    let headers = req.headers_mut();
    if forwarded {
        for name in FORWARDED {
            headers.remove(name);
        }
    }
    let content_length = match headers.get(header::CONTENT_LENGTH) {
        None => None,
        Some(v) => match v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()) {
            // hyper has checked it; forward it in canonical form (no leading zeros).
            Some(n) if v.len() > 1 && v.as_bytes()[0] == b'0' => {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
                Some(n)
            }
            Some(n) => Some(n),
            None => return refuse(Refusal::BadRequest, version),
        },
    };
    // HTTP/2 `content-length: 0` on a stream that is not ended: whatever DATA follows is a
    // framing error (h2 resets the stream), so read to the end first instead of forwarding a
    // complete empty request at once.
    let h2_open_empty =
        version == Version::HTTP_2 && content_length == Some(0) && !req.body().is_end_stream();
    if let Some(n) = content_length.filter(|_| !h2_open_empty) {
        let expects = req
            .headers()
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if expects && n > gw.config().max_body_bytes {
            // Answer without touching the body: hyper then never sends `100 Continue`, and the
            // gateway renders its 413 (with the API's overrides) from the head alone.
            let (parts, _unread) = req.into_parts();
            let req = Request::from_parts(parts, GatewayBody::Empty);
            return gw.process(&gw.snapshot(), req, client).await;
        }
        return gw.handle_watched(req, client, watch).await;
    }
    if !h2_open_empty {
        // Unknown length (chunked, or HTTP/2 without content-length): the API, stage and route
        // are resolved first, and the route decides whether the body is read whole (an unknown
        // API is refused without reading a byte of it).
        return gw.handle_watched(req, client, watch).await;
    }
    // HTTP/2 `content-length: 0` on a stream still open: read to its end (nothing, or a framing
    // error), bounded.
    let (parts, mut body) = req.into_parts();
    let deadline = tokio::time::Instant::now() + gw.config().body_timeout;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) => return refuse(Refusal::BodyTimeout, version),
        };
        match frame {
            Ok(f) if f.data_ref().is_some_and(|d| !d.is_empty()) => {
                return refuse(Refusal::BadRequest, version);
            }
            Ok(_) => {}
            Err(_) => return refuse(Refusal::BadRequest, version),
        }
    }
    if let Some(w) = watch {
        w.finished(true);
    }
    let req = Request::from_parts(parts, GatewayBody::Empty);
    gw.process(&gw.snapshot(), req, client).await
}

/// Reads and discards what the client is still sending after a refusal, bounded in bytes and
/// time (like nginx's lingering close), so that it gets to read the answer instead of a reset.
fn linger(mut body: Incoming) {
    if body.is_end_stream() {
        return;
    }
    const BYTES: usize = 16 * 1024 * 1024;
    const TIME: Duration = Duration::from_secs(5);
    tokio::spawn(async move {
        let mut seen = 0usize;
        let drain = async {
            while let Some(Ok(frame)) = body.frame().await {
                seen += frame.data_ref().map(|d| d.len()).unwrap_or(0);
                if seen > BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(TIME, drain).await;
    });
}

/// Forwarding headers a client may not set: Portico does not, and a backend could trust them.
const FORWARDED: [&str; 3] = ["forwarded", "x-forwarded-host", "x-forwarded-port"];

/// Head checks that need no route: sizes, `Host`, absolute-form, `Transfer-Encoding`. `Ok(true)`
/// when the client sent one of the [`FORWARDED`] headers.
fn check_head(req: &Request<Incoming>, limits: &ListenerLimits) -> Result<bool, Refusal> {
    let version = req.version();
    let h1 = version < Version::HTTP_2;
    let uri = req.uri();
    // The request line as it was sent (HTTP/1), or its HTTP/2 equivalent (method and :path).
    let target = match (h1, uri.authority()) {
        (true, Some(a)) => {
            uri.scheme_str().map(|s| s.len() + 3).unwrap_or(0)
                + a.as_str().len()
                + uri.path_and_query().map(|p| p.as_str().len()).unwrap_or(0)
        }
        _ => uri.path_and_query().map(|p| p.as_str().len()).unwrap_or(1),
    };
    let request_line = req.method().as_str().len() + 1 + target + 1 + "HTTP/1.1".len();
    if request_line > limits.max_request_line_bytes {
        return Err(Refusal::UriTooLong);
    }
    let mut head = request_line + 2;
    let mut forwarded = false;
    for (name, value) in req.headers() {
        let name = name.as_str();
        let line = name.len() + 2 + value.len();
        if line > limits.max_header_line_bytes {
            return Err(Refusal::HeadTooLarge);
        }
        head += line + 2;
        forwarded |= FORWARDED.contains(&name);
    }
    if head > limits.max_header_bytes {
        return Err(Refusal::HeadTooLarge);
    }
    if !h1 {
        // RFC 9113 §8.3.1: a Host that names another authority than `:authority` makes the
        // request malformed (one would pick the API, the other could reach a backend).
        let mut hosts = req.headers().get_all(header::HOST).iter();
        match (hosts.next(), hosts.next(), uri.authority()) {
            (Some(_), Some(_), _) => return Err(Refusal::BadRequest),
            (Some(h), None, Some(a))
                if !h.as_bytes().eq_ignore_ascii_case(a.as_str().as_bytes()) =>
            {
                return Err(Refusal::BadRequest);
            }
            _ => {}
        }
        return Ok(forwarded);
    }

    // Host (RFC 9112 §3.2): required on HTTP/1.1, never repeated, a valid authority.
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(Refusal::BadRequest);
    }
    match host {
        None if version == Version::HTTP_11 => return Err(Refusal::BadRequest),
        None => {}
        Some(h) if h.is_empty() => {}
        Some(h) => {
            let valid = h
                .to_str()
                .ok()
                .filter(|s| !s.contains('@'))
                .and_then(|s| s.parse::<http::uri::Authority>().ok())
                // `host:` must be followed by a port number.
                .is_some_and(|a| a.as_str().len() == a.host().len() || a.port_u16().is_some());
            if !valid {
                return Err(Refusal::BadRequest);
            }
        }
    }
    // An absolute-form target names the authority itself: Host must agree (RFC 9112 §3.2.2).
    if let Some(a) = uri.authority() {
        let same = host.is_some_and(|h| h.as_bytes().eq_ignore_ascii_case(a.as_str().as_bytes()));
        if !same {
            return Err(Refusal::BadRequest);
        }
    }

    // Transfer-Encoding: exactly one field, exactly `chunked`. hyper accepts any list that ends
    // in chunked and several fields; an upstream might decode those differently.
    let mut te = req.headers().get_all(header::TRANSFER_ENCODING).iter();
    if let Some(v) = te.next() {
        if te.next().is_some() {
            return Err(Refusal::BadRequest);
        }
        let s = v.to_str().map_err(|_| Refusal::BadRequest)?;
        let codings: Vec<&str> = s.split(',').map(str::trim).collect();
        let chunked = |c: &str| c.eq_ignore_ascii_case("chunked");
        let chunked_count = codings.iter().filter(|c| chunked(c)).count();
        match codings.as_slice() {
            [one] if chunked(one) => {}
            list if list.iter().any(|c| c.is_empty()) || chunked_count > 1 => {
                return Err(Refusal::BadRequest);
            }
            // Another coding before chunked: well-formed, but not implemented.
            list if list.last().is_some_and(|c| chunked(c)) => {
                return Err(Refusal::NotImplemented);
            }
            _ => return Err(Refusal::BadRequest),
        }
    }
    Ok(forwarded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_parser_errors_get_the_aws_body() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n\
                     content-length: 0\r\ndate: Sun, 22 Nov 2026 23:38:54 GMT\r\n\r\n";
        let out = String::from_utf8(parser_error_replacement(bare).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(out.contains("\r\ncontent-type: application/json\r\n"));
        assert!(out.contains("\r\nx-amzn-errortype: RequestHeaderFieldsTooLargeException\r\n"));
        assert!(out.contains("\r\ndate: Sun, 22 Nov 2026 23:38:54 GMT\r\n"));
        let body = r#"{"message":"Request Header Fields Too Large"}"#;
        assert!(out.contains(&format!("\r\ncontent-length: {}\r\n", body.len())));
        assert!(out.ends_with(&format!("\r\n\r\n{body}")));
        let bare = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        let out = String::from_utf8(parser_error_replacement(bare).unwrap()).unwrap();
        assert!(
            out.ends_with("\r\n\r\n{\"message\":\"Bad Request\"}"),
            "{out}"
        );
    }

    #[test]
    fn only_a_connection_whose_requests_follow_each_other_keeps_hyper_between_them() {
        let clock = Arc::new(ConnClock::new());
        // The first request: its head was timed from the accept.
        let first = InFlight::start(clock.clone());
        drop(first);
        assert!(
            clock.quiet() && clock.may_shrink(),
            "an idle connection gives hyper back"
        );
        // The next head begins at once: a busy client.
        clock.on_read(b"GET / HTTP/1.1\r\n");
        assert!(clock.hot.load(Relaxed));
        drop(InFlight::start(clock.clone()));
        assert!(clock.quiet());
        assert!(!clock.may_shrink(), "kept between a busy client's requests");
        // Marked by the watchdog after HOT_CHECK of quiet: given back.
        clock.idle_long.store(true, Relaxed);
        assert!(clock.may_shrink());
        // A request that comes long after the last response is not busy.
        clock.on_read(b"GET / HTTP/1.1\r\n");
        drop(InFlight::start(clock.clone()));
        std::thread::sleep(Duration::from_millis(3 * HOT_GAP_MS + 5));
        clock.on_read(b"GET / HTTP/1.1\r\n");
        assert!(!clock.hot.load(Relaxed));
        assert!(!clock.idle_long.load(Relaxed));
    }

    #[test]
    fn other_responses_are_left_alone() {
        for other in [
            // A passed-through backend 400 carries the request ids.
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-amzn-requestid: x\r\n\r\n"[..],
            // A body follows.
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}",
            // Not one of hyper's parser statuses.
            b"HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            // Not the whole head.
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
        ] {
            assert!(parser_error_replacement(other).is_none(), "{other:?}");
        }
    }
}
