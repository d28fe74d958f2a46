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

/// A request or response body: empty, fully buffered, or streamed from a peer.
#[derive(Debug, Default)]
pub enum GatewayBody {
    /// No bytes.
    #[default]
    Empty,
    /// A complete body held in memory (taken on first poll).
    Full(Option<Bytes>),
    /// Bytes streamed from the client or the upstream.
    Streaming(Incoming),
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
            Self::Pooled(p) => p.poll_frame(cx),
            Self::Forwarded(f) => f.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Full(b) => b.is_none(),
            Self::Streaming(i) => i.is_end_stream(),
            Self::Pooled(p) => p.is_end_stream(),
            Self::Forwarded(f) => f.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Full(b) => SizeHint::with_exact(b.as_ref().map(|b| b.len() as u64).unwrap_or(0)),
            Self::Streaming(i) => i.size_hint(),
            Self::Pooled(p) => p.size_hint(),
            Self::Forwarded(f) => f.size_hint(),
        }
    }
}
