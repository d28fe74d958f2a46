//! Header-name spelling on HTTP/1.1.
//!
//! hyper keeps the spelling of the names it *parsed* (server: the client's request; client: the
//! backend's response) in a private request/response extension when `preserve_header_case` is on,
//! and writes names found there with that spelling. So the client's spelling reaches an
//! HTTP_PROXY backend and the backend's spelling comes back, by passing the extensions along.
//!
//! For the responses Portico builds itself (MOCK, HTTP, gateway errors) there is nothing parsed
//! to carry; the extension cannot be built directly either. [`aws_spelling`] gets one by letting
//! hyper parse, once at start-up and in memory, a response head that spells the headers Portico
//! writes as AWS does (`x-amzn-RequestId`, `x-amz-apigw-id`, `X-Amzn-Trace-Id`,
//! `x-amzn-ErrorType`, `Content-Type`, …); each such response gets a clone. HTTP/2 names stay
//! lowercase, as that protocol requires.

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The header names Portico writes on the responses it builds, spelled as AWS sends them.
const AWS_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
Content-Type: x\r\n\
Content-Length: 0\r\n\
Date: x\r\n\
Connection: x\r\n\
x-amzn-RequestId: x\r\n\
x-amz-apigw-id: x\r\n\
X-Amzn-Trace-Id: x\r\n\
x-amzn-ErrorType: x\r\n\
Access-Control-Allow-Origin: x\r\n\
\r\n";

/// Response extensions whose header-case map spells Portico's own headers as AWS does; `None`
/// if hyper could not parse the head (names are then written in lowercase).
pub async fn aws_spelling() -> Option<http::Extensions> {
    let (client_io, mut server_io) = tokio::io::duplex(4096);
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .preserve_header_case(true)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(client_io))
        .await
        .ok()?;
    let peer = async move {
        // Read the request head, answer with the spelled-out response.
        let mut buf = [0u8; 1024];
        let mut seen = Vec::new();
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = server_io.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        server_io.write_all(AWS_HEAD).await.ok()?;
        Some(server_io)
    };
    let request = http::Request::get("/").body(Empty::new()).ok()?;
    let exchange = async {
        let (response, _) = tokio::join!(sender.send_request(request), peer);
        response.ok()
    };
    let response = tokio::select! {
        r = exchange => r?,
        _ = conn => return None,
    };
    Some(response.into_parts().0.extensions)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_parsed_head_yields_an_extension() {
        let ext = super::aws_spelling().await;
        assert!(ext.is_some_and(|e| !e.is_empty()));
    }
}
