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
pub const AWS_NAMES: [&str; 9] = [
    "Content-Type",
    "Content-Length",
    "Date",
    "Connection",
    "x-amzn-RequestId",
    "x-amz-apigw-id",
    "X-Amzn-Trace-Id",
    "x-amzn-ErrorType",
    "Access-Control-Allow-Origin",
];

/// The names every integration response's method response carries (AWS's spelling). The map
/// cloned per response holds only the names that response can have: each extra one costs a copy.
pub const RESPONSE_NAMES: [&str; 5] = [
    "Content-Type",
    "Content-Length",
    "Date",
    "x-amzn-RequestId",
    "x-amz-apigw-id",
];

/// Response extensions whose header-case map spells Portico's own headers as AWS does; `None`
/// if hyper could not parse the head (names are then written in lowercase).
pub async fn aws_spelling() -> Option<http::Extensions> {
    spelling_of(&AWS_NAMES.map(String::from)).await
}

/// Extensions whose header-case map spells `names` as given (each a valid header name): for the
/// requests an `HTTP` integration sends, the names its `integration.request.header.*` mappings
/// were written with; for the responses of an integration response, its
/// `method.response.header.*` names and [`RESPONSE_NAMES`].
pub async fn spelling_of(names: &[String]) -> Option<http::Extensions> {
    let mut head = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n".to_vec();
    for n in names {
        http::HeaderName::from_bytes(n.as_bytes()).ok()?;
        if n.eq_ignore_ascii_case("content-length") {
            continue;
        }
        head.extend_from_slice(n.as_bytes());
        head.extend_from_slice(b": x\r\n");
    }
    head.extend_from_slice(b"\r\n");
    parsed(head).await
}

/// Lets hyper's client parse `head` (a whole response head) in memory and returns the
/// response's extensions, which hold the spelling it saw.
async fn parsed(head: Vec<u8>) -> Option<http::Extensions> {
    let (client_io, mut server_io) = tokio::io::duplex(head.len() + 4096);
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .preserve_header_case(true)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(client_io))
        .await
        .ok()?;
    let peer = async move {
        // Read the request head, answer with the spelled-out response.
        read_head(&mut server_io).await?;
        server_io.write_all(&head).await.ok()?;
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

/// Gives `headers` (lowercase names, in the request's order) the client's spelling, read from
/// the request's extensions: hyper's client writes the head with that spelling into memory, and
/// the names are read back from it. Costs an in-memory exchange, so it runs only for templates
/// that show header names (`$input.params()`). Names it cannot find keep their lowercase form.
pub async fn spell_request_headers(
    headers: &mut [(String, String)],
    request: &http::request::Parts,
) {
    if request.version != http::Version::HTTP_11 && request.version != http::Version::HTTP_10 {
        return;
    }
    let Some(names) = written_names(&request.headers, &request.extensions).await else {
        return;
    };
    for (name, _) in headers.iter_mut() {
        if let Some(spelled) = names.iter().find(|n| n.eq_ignore_ascii_case(name)) {
            name.clone_from(spelled);
        }
    }
}

/// The header names hyper's client writes for `headers` with `extensions` (its case map).
async fn written_names(
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
) -> Option<Vec<String>> {
    let (client_io, mut server_io) = tokio::io::duplex(64 * 1024);
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .handshake::<_, Empty<Bytes>>(TokioIo::new(client_io))
        .await
        .ok()?;
    let mut request = http::Request::get("/").body(Empty::new()).ok()?;
    *request.headers_mut() = headers.clone();
    *request.extensions_mut() = extensions.clone();
    let peer = async move {
        let head = read_head(&mut server_io).await?;
        let text = String::from_utf8_lossy(&head).into_owned();
        Some(
            text.split("\r\n")
                .skip(1)
                .filter_map(|line| line.split_once(':').map(|(n, _)| n.to_owned()))
                .collect::<Vec<_>>(),
        )
    };
    // The head is all that is needed: the exchange ends when the peer has read it (the request
    // never gets an answer).
    let send = sender.send_request(request);
    tokio::select! {
        names = peer => names,
        _ = send => None,
        _ = conn => None,
    }
}

/// Reads an HTTP/1 head (up to, not including, the blank line) from the in-memory peer; `None` at
/// end of stream or past 1 MiB (a head is at most the listener's limit, far below).
async fn read_head(io: &mut tokio::io::DuplexStream) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 8192];
    let mut seen = Vec::new();
    loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            seen.truncate(end);
            return Some(seen);
        }
        if seen.len() > 1 << 20 {
            return None;
        }
        let n = io.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        seen.extend_from_slice(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_parsed_head_yields_an_extension() {
        let ext = super::aws_spelling().await;
        assert!(ext.is_some_and(|e| !e.is_empty()));
        let ext = super::spelling_of(&["X-Mapped-Name".into(), "Content-Type".into()]).await;
        assert!(ext.is_some_and(|e| !e.is_empty()));
        assert!(super::spelling_of(&["bad name".into()]).await.is_none());
    }
}
