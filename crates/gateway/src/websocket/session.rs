//! One WebSocket connection's life after the handshake, and the table of open connections.
//!
//! A connection is one task: it reads frames (tungstenite, with AWS's limits: 32 KB frames,
//! 128 KB messages → close 1009; binary frames → close 1003), hands each text message to its
//! route on a task of its own (at most [`IN_FLIGHT`] per connection), and writes what is sent
//! to it — route responses, error frames, `@connections` posts — from one bounded queue.
//! Timeouts (10 minutes idle, 2 hours in all) are kept by one sweeper for all connections,
//! reading the gateway's clock (which tests move), so a connection holds no timer of its own.

use super::connections::Conn;
use crate::gateway::Gateway;
use futures_util::{SinkExt, StreamExt};
use portico_state::connections::Owner;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
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
/// How long one write to a client that does not read may take before the connection closes.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The socket after the handshake, with what the client had already sent behind the head
/// (read first).
pub(crate) struct Prefixed<S> {
    inner: S,
    prefix: Option<bytes::Bytes>,
}

impl<S> Prefixed<S> {
    pub(crate) fn new(inner: S, prefix: Option<bytes::Bytes>) -> Self {
        Self { inner, prefix }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if let Some(p) = self.prefix.as_mut() {
            let n = p.len().min(buf.remaining());
            buf.put_slice(&p.split_to(n));
            if p.is_empty() {
                self.prefix = None;
            }
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A byte stream a connection runs over (the listener's socket after the handshake).
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// What the handshake decided, handed to the listener in the 101 response's extensions: the
/// listener takes the socket back from hyper and runs [`Gateway::run_connection`].
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) id: Box<str>,
    pub(crate) conn: Arc<Conn>,
    /// The connection's place under [`Connections`]' limit.
    pub(crate) slot: OwnedSemaphorePermit,
}

/// The extension type a 101 response carries (`Clone` as `http::Extensions` requires; taken
/// once).
#[derive(Clone, Debug)]
pub struct Upgrade(pub(crate) Arc<Mutex<Option<Accepted>>>);

impl Upgrade {
    pub(crate) fn new(accepted: Accepted) -> Self {
        Self(Arc::new(Mutex::new(Some(accepted))))
    }

    fn take(&self) -> Option<Accepted> {
        self.0.lock().ok()?.take()
    }
}

/// Removes a connection from the tables however its session ends (close, error, panic, a
/// runtime shutting down).
struct Registered<'a> {
    gw: &'a Gateway,
    id: &'a str,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.gw.connections.table.remove(self.id);
        self.gw.state.connections.unregister(self.id);
    }
}

/// A message's answer on its way to the session, with the message's in-flight slot (given back
/// when the answer is written: at most [`IN_FLIGHT`] answers ever wait).
type Reply = (Option<String>, OwnedSemaphorePermit);

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
        let Some(Accepted { id, conn, slot }) = upgrade.take() else {
            return;
        };
        self.start_sweeper();
        self.connections.table.insert(id.clone(), conn.clone());
        self.state.connections.register(&id, Owner::local());
        let registered = Registered { gw: &self, id: &id };
        let mut ws =
            tokio_tungstenite::WebSocketStream::from_raw_socket(io, Role::Server, Some(config()))
                .await;
        // Made with the first message: an idle connection holds neither.
        let mut in_flight: Option<Arc<Semaphore>> = None;
        let mut reply_tx: Option<mpsc::Sender<Reply>> = None;
        let mut replies: Option<mpsc::Receiver<Reply>> = None;
        let mut previous: Option<tokio::sync::oneshot::Receiver<()>> = None;
        // A message read while all in-flight slots were taken: the socket is not read again
        // until it has one.
        let mut pending: Option<tokio_tungstenite::tungstenite::Utf8Bytes> = None;
        let close = |code: u16, reason: &str| CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        };
        let (code, reason): (u16, String) = loop {
            let asked = conn.close_code.load(Relaxed);
            if asked != 0 {
                let code = u16::try_from(asked).unwrap_or(1000);
                let reason = if code == 1001 { "Going away" } else { "" };
                let _ =
                    tokio::time::timeout(WRITE_TIMEOUT, ws.close(Some(close(code, reason)))).await;
                break (code, reason.into());
            }
            tokio::select! {
                biased;
                () = async { drop(stopped.wait_for(|s| *s).await) } => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(Some(close(1001, "Going away")))).await;
                    break (1001, "Going away".into());
                }
                () = conn.wake.notified() => {
                    let posts: Vec<String> = match conn.posts.lock() {
                        Ok(mut q) => q.drain(..).collect(),
                        Err(_) => Vec::new(),
                    };
                    let mut failed = false;
                    for text in posts {
                        conn.touch(self.now_epoch_ms());
                        let sent = tokio::time::timeout(WRITE_TIMEOUT, ws.send(Message::text(text))).await;
                        if !matches!(sent, Ok(Ok(()))) {
                            failed = true;
                            break;
                        }
                    }
                    if failed {
                        break (1006, String::new());
                    }
                }
                                Some((reply, permit)) = async {
                    match replies.as_mut() {
                        Some(r) => r.recv().await,
                        None => None,
                    }
                }, if replies.is_some() => {
                    if let Some(text) = reply {
                        conn.touch(self.now_epoch_ms());
                        let sent = tokio::time::timeout(WRITE_TIMEOUT, ws.send(Message::text(text))).await;
                        if !matches!(sent, Ok(Ok(()))) {
                            break (1006, String::new());
                        }
                    }
                    drop(permit);
                }
                                permit = async {
                    match in_flight.clone() {
                        Some(slots) => slots.acquire_owned().await.ok(),
                        None => None,
                    }
                }, if pending.is_some() => {
                    let (Some(permit), Some(text), Some(reply_tx)) =
                        (permit, pending.take(), reply_tx.clone())
                    else {
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
                        drop(text);
                        if let Some(before) = before {
                            let _ = before.await;
                        }
                        // Never waits: the channel holds as many answers as there are slots.
                        let _ = reply_tx.send((reply, permit)).await;
                        let _ = done.send(());
                    });
                }
                msg = ws.next(), if pending.is_none() => match msg {
                                        Some(Ok(Message::Text(text))) => {
                        conn.touch(self.now_epoch_ms());
                        if in_flight.is_none() {
                            let (tx, rx) = mpsc::channel::<Reply>(IN_FLIGHT);
                            in_flight = Some(Arc::new(Semaphore::new(IN_FLIGHT)));
                            reply_tx = Some(tx);
                            replies = Some(rx);
                        }
                        pending = Some(text);
                        if previous.as_mut().is_some_and(|p| p.try_recv().is_ok()) {
                            previous = None;
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        // AWS: binary frames are not supported; the client is disconnected.
                        let _ = tokio::time::timeout(WRITE_TIMEOUT, ws.close(Some(close(1003, "")))).await;
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
                            let _ = tokio::time::timeout(WRITE_TIMEOUT, ws.close(Some(close(code, "")))).await;
                        }
                        tracing::debug!(connection = %id, error = %e, "WebSocket connection ended");
                        break (code, String::new());
                    }
                    None => break (1006, String::new()),
                },
            }
        };
        drop(ws);
        conn.close(code.max(1000));
        drop(registered);
        drop(slot);
        // Boxed: an integration's state is allocated only when `$disconnect` runs, not held by
        // every idle connection's task.
        Box::pin(self.ws_disconnect(&id, &conn, code, &reason)).await;
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
                        c.close(1001);
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::websocket::connections::new_id;

    #[test]
    fn ids_look_like_aws_ones() {
        let id = new_id();
        assert_eq!(id.len(), 16);
        assert!(id.ends_with('='));
        assert!(id[..15].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(new_id(), id);
    }
}
