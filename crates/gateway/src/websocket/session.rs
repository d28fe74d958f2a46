//! One WebSocket connection's life after the handshake, and the table of open connections.
//!
//! A connection is one task: it reads frames (tungstenite, with AWS's limits: 32 KB frames,
//! 128 KB messages → close 1009; binary frames → close 1003), hands each text message to its
//! route on a task of its own (at most [`IN_FLIGHT`] per connection), and writes what is sent
//! to it — route responses, error frames, `@connections` posts — from one bounded queue.
//! Timeouts (10 minutes idle, 2 hours in all) are kept by one sweeper for all connections,
//! reading the gateway's clock (which tests move), so a connection holds no timer of its own.

use crate::gateway::Gateway;
use dashmap::DashMap;
use futures_util::{SinkExt, StreamExt};
use portico_state::connections::Owner;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// The largest frame a client may send (AWS: 32 KB).
pub const MAX_FRAME_BYTES: usize = 32 * 1024;
/// The largest message (AWS: 128 KB); also the most `@connections` may post.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;
/// A connection with no data frame either way for this long is closed (AWS: 10 minutes).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// No connection lives longer (AWS: 2 hours).
pub const MAX_LIFETIME: Duration = Duration::from_secs(7200);
/// Messages of one connection handled at once; more wait (the socket is not read meanwhile).
const IN_FLIGHT: usize = 32;
/// Frames queued for one connection; a full queue refuses `@connections` posts (429).
const QUEUE: usize = 64;
/// How long one write to a client that does not read may take before the connection closes.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A byte stream a connection runs over (the listener's socket after the handshake).
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// What a connection is asked to write.
#[derive(Debug)]
pub(crate) enum Out {
    /// A text frame.
    Text(String),
    /// Close with this code and reason.
    Close(u16, &'static str),
}

/// One open connection, as `@connections` and the sweeper see it.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) api_id: Arc<str>,
    pub(crate) stage: Arc<str>,
    pub(crate) connected_at_ms: u64,
    /// Wall-clock ms of the last data frame in or out (`lastActiveAt`).
    pub(crate) last_active_ms: AtomicU64,
    pub(crate) source_ip: Box<str>,
    pub(crate) user_agent: Option<Box<str>>,
    pub(crate) domain_name: Box<str>,
    /// `requestContext.authorizer` granted at `$connect`.
    pub(crate) authorizer: Option<serde_json::Value>,
    pub(crate) tx: mpsc::Sender<Out>,
    /// Set once a close was asked for (so the sweeper asks once).
    closing: AtomicBool,
}

impl Conn {
    fn touch(&self, now_ms: u64) {
        self.last_active_ms.store(now_ms, Relaxed);
    }

    /// Asks the connection to close (once).
    pub(crate) fn close(&self, code: u16, reason: &'static str) {
        if !self.closing.swap(true, Relaxed) {
            // A full queue: the session is stuck writing; its write timeout ends it.
            let _ = self.tx.try_send(Out::Close(code, reason));
        }
    }
}

/// The open connections of this node (the sockets are theirs); the shared registry
/// ([`portico_state::connections`]) says which node holds an id.
#[derive(Debug, Default)]
pub struct Connections {
    table: DashMap<Box<str>, Arc<Conn>>,
    sweeper: OnceLock<()>,
}

impl Connections {
    /// How many connections are open here.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<Conn>> {
        self.table.get(id).map(|c| c.clone())
    }
}

/// What the handshake decided, handed to the listener in the 101 response's extensions: the
/// listener takes the socket back from hyper and runs [`run`].
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) id: Box<str>,
    pub(crate) conn: Arc<Conn>,
    pub(crate) rx: mpsc::Receiver<Out>,
}

/// The extension type a 101 response carries (`Clone` as `http::Extensions` requires; taken
/// once).
#[derive(Clone, Debug)]
pub struct Upgrade(pub(crate) Arc<std::sync::Mutex<Option<Accepted>>>);

impl Upgrade {
    pub(crate) fn new(accepted: Accepted) -> Self {
        Self(Arc::new(std::sync::Mutex::new(Some(accepted))))
    }

    fn take(&self) -> Option<Accepted> {
        self.0.lock().ok()?.take()
    }
}

/// A fresh connection id as AWS writes them: 15 letters and digits and `=`.
pub(crate) fn new_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut s: String = (0..15)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect();
    s.push('=');
    s
}

/// The connection's entry and queue, made when `$connect` accepted it.
pub(crate) fn open(facts: ConnFacts, connected_at_ms: u64) -> (Arc<Conn>, mpsc::Receiver<Out>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let conn = Arc::new(Conn {
        api_id: facts.api_id,
        stage: facts.stage,
        connected_at_ms,
        last_active_ms: AtomicU64::new(connected_at_ms),
        source_ip: facts.source_ip,
        user_agent: facts.user_agent,
        domain_name: facts.domain_name,
        authorizer: facts.authorizer,
        tx,
        closing: AtomicBool::new(false),
    });
    (conn, rx)
}

/// What a connection is made of.
pub(crate) struct ConnFacts {
    pub(crate) api_id: Arc<str>,
    pub(crate) stage: Arc<str>,
    pub(crate) source_ip: Box<str>,
    pub(crate) user_agent: Option<Box<str>>,
    pub(crate) domain_name: Box<str>,
    pub(crate) authorizer: Option<serde_json::Value>,
}

/// The tungstenite limits: AWS's sizes, small buffers (a connection mostly waits).
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_MESSAGE_BYTES * 4)
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
}

impl Gateway {
    /// Takes over the socket of an accepted upgrade (`response` is the 101 the listener just
    /// wrote) and serves the connection until it closes. `None` when the response was not a
    /// WebSocket upgrade.
    pub(crate) fn upgrade_of(response_extensions: &http::Extensions) -> Option<Upgrade> {
        response_extensions.get::<Upgrade>().cloned()
    }

    /// Serves one accepted connection over `io` until it closes, then runs `$disconnect`.
    pub(crate) async fn run_connection(
        self: Arc<Self>,
        io: Box<dyn Io>,
        upgrade: Upgrade,
        mut stopped: tokio::sync::watch::Receiver<bool>,
    ) {
        let Some(Accepted { id, conn, mut rx }) = upgrade.take() else {
            return;
        };
        self.start_sweeper();
        self.connections.table.insert(id.clone(), conn.clone());
        self.state.connections.register(&id, Owner::local());
        let mut ws =
            tokio_tungstenite::WebSocketStream::from_raw_socket(io, Role::Server, Some(config()))
                .await;
        let in_flight = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let mut previous: Option<tokio::sync::oneshot::Receiver<()>> = None;
        let (code, reason): (u16, String) = loop {
            tokio::select! {
                out = rx.recv() => match out {
                    Some(Out::Text(text)) => {
                        conn.touch(self.now_epoch_ms());
                        let sent = tokio::time::timeout(WRITE_TIMEOUT, ws.send(Message::text(text))).await;
                        if !matches!(sent, Ok(Ok(()))) {
                            break (1006, String::new());
                        }
                    }
                    Some(Out::Close(code, reason)) => {
                        let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                        let _ = tokio::time::timeout(WRITE_TIMEOUT, ws.close(Some(frame))).await;
                        break (code, reason.into());
                    }
                    None => break (1006, String::new()),
                },
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(text))) => {
                        conn.touch(self.now_epoch_ms());
                        let Ok(permit) = in_flight.clone().acquire_owned().await else {
                            break (1011, String::new());
                        };
                        let gw = self.clone();
                        let conn = conn.clone();
                        let id = id.clone();
                        // Messages run side by side; their answers go out in arrival order.
                        let (done, next) = tokio::sync::oneshot::channel::<()>();
                        let before = previous.replace(next);
                        tokio::spawn(async move {
                            let reply = gw.ws_message(&id, &conn, text.as_str()).await;
                            if let Some(before) = before {
                                let _ = before.await;
                            }
                            if let Some(reply) = reply {
                                conn.touch(gw.now_epoch_ms());
                                let _ = conn.tx.send(Out::Text(reply)).await;
                            }
                            let _ = done.send(());
                            drop(permit);
                        });
                    }
                    Some(Ok(Message::Binary(_))) => {
                        // AWS: binary frames are not supported; the client is disconnected.
                        let frame = CloseFrame { code: CloseCode::Unsupported, reason: "".into() };
                        let _ = tokio::time::timeout(WRITE_TIMEOUT, ws.close(Some(frame))).await;
                        break (1003, String::new());
                    }
                    Some(Ok(Message::Close(frame))) => {
                        // tungstenite answers the close; read on until the stream ends.
                        let (code, reason) = frame
                            .map(|f| (u16::from(f.code), f.reason.to_string()))
                            .unwrap_or((1005, String::new()));
                        let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
                            while let Some(Ok(_)) = ws.next().await {}
                        })
                        .await;
                        break (code, reason);
                    }
                    Some(Ok(_)) => {} // ping / pong: answered by tungstenite, not activity
                    Some(Err(e)) => {
                        let code = match &e {
                            WsError::Capacity(_) => 1009,
                            WsError::Utf8(_) => 1007,
                            WsError::Protocol(_) => 1002,
                            _ => 1006,
                        };
                        if code != 1006 {
                            let frame = CloseFrame { code: CloseCode::from(code), reason: "".into() };
                            let _ = tokio::time::timeout(WRITE_TIMEOUT, ws.close(Some(frame))).await;
                        }
                        tracing::debug!(connection = %id, error = %e, "WebSocket connection ended");
                        break (code, String::new());
                    }
                    None => break (1006, String::new()),
                },
                _ = stopped.changed() => {
                    let frame = CloseFrame { code: CloseCode::Away, reason: "Going away".into() };
                    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(Some(frame))).await;
                    break (1001, "Going away".into());
                }
            }
        };
        drop(ws);
        self.connections.table.remove(&id);
        self.state.connections.unregister(&id);
        self.ws_disconnect(&id, &conn, code, &reason).await;
    }

    /// Wall-clock milliseconds, moved by the test clock as quota periods are.
    pub(crate) fn now_epoch_ms(&self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        (now + self.clock_offset.load(Relaxed) * 1000).max(0) as u64
    }

    /// Starts the one task that closes idle and too-old connections (once per gateway).
    fn start_sweeper(self: &Arc<Self>) {
        if self.connections.sweeper.set(()).is_err() {
            return;
        }
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(gw) = weak.upgrade() else { return };
                let now = gw.now_epoch_ms();
                let idle = IDLE_TIMEOUT.as_millis() as u64;
                let life = MAX_LIFETIME.as_millis() as u64;
                for c in gw.connections.table.iter() {
                    let c = c.value();
                    if now.saturating_sub(c.last_active_ms.load(Relaxed)) >= idle
                        || now.saturating_sub(c.connected_at_ms) >= life
                    {
                        c.close(1001, "Going away");
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_aws_ones() {
        let id = new_id();
        assert_eq!(id.len(), 16);
        assert!(id.ends_with('='));
        assert!(id[..15].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(new_id(), id);
    }
}
