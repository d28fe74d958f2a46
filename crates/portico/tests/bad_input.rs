//! Malformed and hostile HTTP/1 input, written as raw bytes: every case gets a 4xx (or a closed
//! connection) without reaching the upstream, and the gateway keeps serving. The one exception is
//! CL.TE: hyper lets Transfer-Encoding win and drops Content-Length (RFC 9112 §6.1), so the request
//! is forwarded re-framed — the upstream sees exactly one request and never the smuggled one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Duration;
use support::{Portico, Upstream, write_spec};

const SPEC: &str = r#"
openapi: 3.0.1
info: {title: strict, version: "1"}
paths:
  /{proxy+}:
    x-amazon-apigateway-any-method:
      parameters: [{name: proxy, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: http://${stageVariables.backend}/{proxy}
"#;

/// Sends raw bytes, returns the status of the first response (None: connection closed without one).
fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&buf);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_rejected_before_the_upstream_and_serving_continues() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_spec(dir.path(), "strict.yaml", SPEC);
    let backend = format!("backend={}", up.addr);
    let gw = Portico::start(&[
        "--import",
        file.to_str().unwrap(),
        "--stage-variable",
        &backend,
    ]);
    let api = gw.api_id("strict");
    let base = format!("/restapis/{api}/dev/_user_request_");
    let long_header = format!("X-Long: {}\r\n", "a".repeat(512 * 1024));
    let many_headers: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases: Vec<(&str, String)> = vec![
        (
            "CL.TE smuggling",
            format!(
                "POST {base}/x HTTP/1.1\r\nHost: a\r\nContent-Length: 31\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"
            ),
        ),
        (
            "duplicate differing Content-Length",
            format!(
                "POST {base}/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
            ),
        ),
        (
            "negative Content-Length",
            format!("POST {base}/x HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"),
        ),
        (
            "hex Content-Length",
            format!("POST {base}/x HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n"),
        ),
        (
            "unknown transfer coding",
            format!(
                "POST {base}/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"
            ),
        ),
        (
            "space before colon",
            format!("GET {base}/x HTTP/1.1\r\nHost : a\r\n\r\n"),
        ),
        (
            "NUL in header value",
            format!("GET {base}/x HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n"),
        ),
        (
            "obs-fold",
            format!("GET {base}/x HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\n\r\n"),
        ),
        (
            "oversized header",
            format!("GET {base}/x HTTP/1.1\r\nHost: a\r\n{long_header}\r\n"),
        ),
        (
            "101 headers",
            format!("GET {base}/x HTTP/1.1\r\nHost: a\r\n{many_headers}\r\n"),
        ),
        (
            "bad chunk size",
            format!(
                "POST {base}/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
            ),
        ),
        ("garbage request line", "GARBAGE\r\n\r\n".to_string()),
        (
            "two Host headers",
            format!("GET {base}/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        ),
    ];
    for (name, bytes) in &cases {
        let before = up.seen.requests.load(Ordering::SeqCst);
        let status = raw(gw.addr, bytes.as_bytes());
        let reframed = *name == "CL.TE smuggling";
        if let Some(s) = status {
            assert!(
                (400..500).contains(&s) || (reframed && s == 200),
                "{name}: got {s}"
            );
        }
        // Give a smuggled request time to arrive, if one got through.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let after = up.seen.requests.load(Ordering::SeqCst);
        let allowed = usize::from(reframed);
        assert_eq!(
            after - before,
            allowed,
            "{name}: the upstream saw {} requests",
            after - before
        );
        if allowed == 1 {
            let last = up.seen.last.lock().unwrap().clone().unwrap();
            assert_eq!(last.uri, "/x", "{name}");
            assert!(
                last.body.is_empty(),
                "{name}: body {:?}",
                String::from_utf8_lossy(&last.body)
            );
        }
        // The next valid request on a new connection is served.
        let ok = raw(
            gw.addr,
            format!("GET {base}/ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(ok, Some(200), "{name}: gateway stopped serving");
        if let Some(last) = up.seen.last.lock().unwrap().as_ref() {
            assert!(
                !last.uri.contains("smuggled"),
                "{name}: smuggled request reached the upstream"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_in_request_paths_never_climb_out_of_the_integration_path() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = SPEC.replace(
        "uri: http://${stageVariables.backend}/{proxy}",
        "uri: http://${stageVariables.backend}/public/{proxy}",
    );
    let file = write_spec(dir.path(), "strict.yaml", &spec);
    let backend = format!("backend={}", up.addr);
    let gw = Portico::start(&[
        "--import",
        file.to_str().unwrap(),
        "--stage-variable",
        &backend,
    ]);
    let api = gw.api_id("strict");
    let base = format!("/restapis/{api}/dev/_user_request_");
    // A `.`/`..` segment in a path parameter (raw, encoded, or made by a decoded `%2F`) is
    // refused: a backend resolving dot segments would serve a path outside `/public/`.
    for path in [
        "/../admin",
        "/a/%2e%2e/%2E%2E/admin",
        "/a/..%2Fadmin",
        "/./x",
        "/%2e",
    ] {
        let req = format!("GET {base}{path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        assert_eq!(raw(gw.addr, req.as_bytes()), Some(400), "{path}");
    }
    assert_eq!(
        up.seen.requests.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a dot segment reached the backend"
    );
    // Dots inside a segment are ordinary characters.
    let req = format!("GET {base}/a/..b/.c/x.y HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert_eq!(raw(gw.addr, req.as_bytes()), Some(200));
    let last = up.seen.last.lock().unwrap().clone().unwrap();
    assert_eq!(last.uri, "/public/a/..b/.c/x.y");
}
