//! The one body type that flows through the gateway in both directions.
//!
//! An enum instead of a boxed trait object: no allocation per request, and a streamed upstream body
//! is forwarded frame by frame without buffering.

use crate::upstream::BodyError;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A request or response body: empty, fully buffered, or streamed from a peer.
#[derive(Debug, Default)]
pub enum GatewayBody {
    /// No bytes.
    #[default]
    Empty,
    /// A complete body held in memory (taken on first poll).
    Full(Option<Bytes>),
    /// Bytes streamed from the upstream.
    Streaming(Incoming),
    /// A client's request body, as it arrives.
    Client(ClientBody),
    /// A backend response whose connection returns to its pool at the end.
    Pooled(crate::upstream::PooledBody),
    /// A client body being forwarded to a backend; what the backend leaves unread is drained.
    Forwarded(crate::upstream::ForwardedBody),
}

impl GatewayBody {
    /// A buffered body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let b = bytes.into();
        if b.is_empty() {
            Self::Empty
        } else {
            Self::Full(Some(b))
        }
    }
}

/// Told once whether a client's request body was read to its end: when its last frame has been
/// read, or when it is dropped before (`false`). The listener keeps an HTTP/1 connection for the
/// next request only after a body read whole.
pub trait BodyWatch: Send + Sync {
    /// The body ended (`true`) or was given up before its end (`false`).
    fn finished(self: Box<Self>, read_whole: bool);
}

/// A client's request body, reporting to a [`BodyWatch`] how it ended.
pub struct ClientBody {
    inner: Incoming,
    watch: Option<Box<dyn BodyWatch>>,
    /// Most bytes the body may have (the payload limit); more is [`BodyError::TooLarge`].
    limit: u64,
    seen: u64,
}

/// [`ClientBody::seen`] once the limit was passed and reported: the rest is passed on uncounted
/// (to be drained).
const OVER: u64 = u64::MAX;

impl std::fmt::Debug for ClientBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBody").finish_non_exhaustive()
    }
}

impl ClientBody {
    /// A request body of at most `limit` bytes, watched when `watch` is given.
    pub fn new(inner: Incoming, watch: Option<Box<dyn BodyWatch>>, limit: u64) -> Self {
        let mut body = Self {
            inner,
            watch,
            limit,
            seen: 0,
        };
        if body.inner.is_end_stream() {
            body.report(true);
        }
        body
    }

    fn report(&mut self, read_whole: bool) {
        if let Some(w) = self.watch.take() {
            w.finished(read_whole);
        }
    }
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(f))) = &r
            && let Some(d) = f.data_ref()
            && this.seen != OVER
        {
            this.seen += d.len() as u64;
            if this.seen > this.limit {
                this.seen = OVER;
                this.report(false);
                return Poll::Ready(Some(Err(BodyError::TooLarge)));
            }
        }
        match &r {
            Poll::Ready(None) => this.report(true),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.report(true),
            Poll::Ready(Some(Err(_))) => this.report(false),
            _ => {}
        }
        r.map_err(BodyError::Peer)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ClientBody {
    fn drop(&mut self) {
        let whole = self.inner.is_end_stream();
        self.report(whole);
    }
}

impl From<Incoming> for GatewayBody {
    fn from(i: Incoming) -> Self {
        Self::Streaming(i)
    }
}

impl Body for GatewayBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            Self::Empty => Poll::Ready(None),
            Self::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Self::Streaming(i) => Pin::new(i).poll_frame(cx).map_err(BodyError::Peer),
            Self::Client(c) => Pin::new(c).poll_frame(cx),
            Self::Pooled(p) => p.poll_frame(cx),
            Self::Forwarded(f) => f.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Full(b) => b.is_none(),
            Self::Streaming(i) => i.is_end_stream(),
            Self::Client(c) => c.is_end_stream(),
            Self::Pooled(p) => p.is_end_stream(),
            Self::Forwarded(f) => f.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Full(b) => SizeHint::with_exact(b.as_ref().map(|b| b.len() as u64).unwrap_or(0)),
            Self::Streaming(i) => i.size_hint(),
            Self::Client(c) => c.size_hint(),
            Self::Pooled(p) => p.size_hint(),
            Self::Forwarded(f) => f.size_hint(),
        }
    }
}

/// Most bytes and time spent discarding a refused request body.
const DISCARD_LIMIT_BYTES: usize = 16 * 1024 * 1024;
const DISCARD_LIMIT_TIME: Duration = Duration::from_secs(5);

/// Reads and throws away what the client still sends of a refused request (bounded in bytes
/// and time, like nginx's lingering close), so that it reads the answer instead of a reset.
pub(crate) fn discard_body(mut body: GatewayBody) {
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
