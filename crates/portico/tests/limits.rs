//! Connection limits and timeouts of the data-plane listener (threat T15 of `docs/security.md`):
//! header timeout, idle keep-alive timeout, stalled request bodies, clients that stop reading, the
//! max-connections cap, and
//! slowloris / slow-body clients that must not starve a legitimate one. Every test sets short
//! limits with `portico serve` flags so the file runs in a few seconds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::raw::{ReadPlan, exchange, read_responses};
use support::{Portico, Upstream, write_spec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SPEC: &str = r#"
openapi: 3.0.1
info: {title: limits, version: "1"}
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

struct Setup {
    gw: Portico,
    up: Upstream,
    _dir: tempfile::TempDir,
    base: String,
}

async fn setup(flags: &[&str]) -> Setup {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_spec(dir.path(), "limits.yaml", SPEC);
    let backend = format!("backend={}", up.addr);
    let mut args = vec![
        "--import",
        file.to_str().unwrap(),
        "--stage-variable",
        &backend,
        "--access-log",
        "off",
    ];
    args.extend_from_slice(flags);
    let gw = Portico::start(&args);
    let base = format!("/restapis/{}/dev/_user_request_", gw.api_id("limits"));
    Setup {
        gw,
        up,
        _dir: dir,
        base,
    }
}

fn get(base: &str, path: &str) -> Vec<u8> {
    format!("GET {base}{path} HTTP/1.1\r\nHost: a\r\n\r\n").into_bytes()
}

/// Waits for the server to close `s`; returns how long that took (None: still open at `limit`).
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.checked_sub(start.elapsed())?;
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// One request on a fresh connection; its status and how long it took.
async fn timed_get(addr: SocketAddr, base: &str, path: &str) -> (Option<u16>, Duration) {
    let start = Instant::now();
    let mut req = get(base, path);
    req.truncate(req.len() - 2);
    req.extend_from_slice(b"Connection: close\r\n\r\n");
    let ex = exchange(
        addr,
        req,
        ReadPlan {
            limit: Duration::from_secs(10),
            ..ReadPlan::default()
        },
    )
    .await;
    (ex.responses.first().map(|r| r.status), start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_must_arrive_within_the_header_timeout() {
    let s = setup(&["--header-timeout-secs", "1", "--idle-timeout-secs", "30"]).await;
    let addr = s.gw.addr;

    let opened = Instant::now();
    // A connection that never sends a byte (not even enough to tell HTTP/1 from HTTP/2).
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // A head that stops half-way.
    let mut partial = TcpStream::connect(addr).await.unwrap();
    partial
        .write_all(format!("GET {}/x HTTP/1.1\r\nHost: a\r\n", s.base).as_bytes())
        .await
        .unwrap();
    // A head trickled one byte every 100 ms: activity does not extend the header timeout.
    let mut trickle = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET {}/x HTTP/1.1\r\nHost: a\r\nX-Pad: {}\r\n\r\n",
        s.base,
        "p".repeat(60)
    );
    let trickler = tokio::spawn({
        let head = head.clone();
        async move {
            for b in head.bytes() {
                if trickle.write_all(&[b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            trickle
        }
    });

    for (name, s) in [("silent", &mut silent), ("partial", &mut partial)] {
        closed_within(s, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{name}: still open after 5 s"));
        let took = opened.elapsed();
        assert!(
            took >= Duration::from_millis(700) && took < Duration::from_secs(3),
            "{name}: closed after {took:?}"
        );
    }
    let mut trickle = trickler.await.unwrap();
    // The whole head would have taken about 10 s; the connection closed after about 1 s.
    assert!(
        closed_within(&mut trickle, Duration::from_secs(1))
            .await
            .is_some(),
        "trickled head: still open"
    );

    // A prompt client is still served.
    let (status, took) = timed_get(addr, &s.base, "/ok").await;
    assert_eq!(status, Some(200));
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_close_after_the_idle_timeout_not_the_header_timeout() {
    let s = setup(&["--header-timeout-secs", "1", "--idle-timeout-secs", "3"]).await;
    let mut c = TcpStream::connect(s.gw.addr).await.unwrap();
    let plan = ReadPlan {
        settle: Duration::from_millis(50),
        ..ReadPlan::default()
    };
    c.write_all(&get(&s.base, "/one")).await.unwrap();
    assert_eq!(read_responses(&mut c, plan).await.statuses(), [200]);
    // Idle for longer than the header timeout: the connection is still good.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    c.write_all(&get(&s.base, "/two")).await.unwrap();
    assert_eq!(read_responses(&mut c, plan).await.statuses(), [200]);
    // Then idle until the idle timeout closes it.
    let took = closed_within(&mut c, Duration::from_secs(6))
        .await
        .expect("idle connection still open after 6 s");
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_body_is_cut_off_at_the_idle_timeout() {
    let s = setup(&["--header-timeout-secs", "1", "--idle-timeout-secs", "2"]).await;
    let mut c = TcpStream::connect(s.gw.addr).await.unwrap();
    c.write_all(
        format!(
            "POST {}/stall HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n0123456789",
            s.base
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let took = closed_within(&mut c, Duration::from_secs(6))
        .await
        .expect("stalled request still open after 6 s");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(4),
        "closed after {took:?}"
    );
    // A body that keeps moving, however slowly, is not cut off.
    let mut c = TcpStream::connect(s.gw.addr).await.unwrap();
    c.write_all(
        format!(
            "POST {}/slow HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n",
            s.base
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    for b in b"abcdef" {
        tokio::time::sleep(Duration::from_millis(700)).await;
        c.write_all(&[*b]).await.unwrap();
    }
    let got = read_responses(&mut c, ReadPlan::default()).await;
    assert_eq!(got.statuses(), [200], "slow but moving body");
}

/// A chunked body that keeps moving, but too slowly to finish within `--body-timeout-secs`, is
/// answered 408 and its connection closed; nothing of it reaches the backend. One that finishes
/// in time goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_chunked_body_is_cut_off_at_the_body_timeout() {
    let s = setup(&[
        "--header-timeout-secs",
        "1",
        "--idle-timeout-secs",
        "5",
        "--body-timeout-secs",
        "2",
    ])
    .await;
    let mut c = TcpStream::connect(s.gw.addr).await.unwrap();
    c.write_all(
        format!(
            "POST {}/trickle HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            s.base
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let start = Instant::now();
    // One byte every 400 ms: never idle, never done.
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < Duration::from_secs(8) {
        if c.write_all(b"1\r\nx\r\n").await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(400), c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 408 "),
        "after {took:?}: {text:?}"
    );
    assert!(
        text.ends_with(r#"{"message":"Request Timeout"}"#),
        "{text:?}"
    );
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(4),
        "answered after {took:?}"
    );
    assert!(
        closed_within(&mut c, Duration::from_secs(2))
            .await
            .is_some(),
        "connection left open after the 408"
    );
    assert_eq!(
        s.up.seen.requests.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a timed-out body reached the backend"
    );
    // A chunked body sent in time goes through.
    let mut c = TcpStream::connect(s.gw.addr).await.unwrap();
    c.write_all(
        format!(
            "POST {}/prompt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            s.base
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let got = read_responses(&mut c, ReadPlan::default()).await;
    assert_eq!(got.statuses(), [200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_at_the_idle_timeout() {
    let s = setup(&["--header-timeout-secs", "1", "--idle-timeout-secs", "2"]).await;
    // A small receive window, so that the gateway's writes stall long before the response ends.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut c = socket.connect(s.gw.addr).await.unwrap();
    // The upstream echoes the body back inside its JSON answer: about 8 MB of response.
    let body = vec![b'r'; 8 * 1024 * 1024];
    c.write_all(
        format!(
            "POST {}/echo HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
            s.base,
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    c.write_all(&body).await.unwrap();
    // Read only the first bytes, then stop reading.
    let mut first = [0u8; 1024];
    c.read_exact(&mut first).await.unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200"), "{:?}", &first[..20]);
    let stopped = Instant::now();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    // What is left in the socket ends early: the gateway gave up on this reader.
    let mut rest = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => rest += n,
        }
    };
    println!(
        "slow reader: {} of about {} bytes before the close",
        1024 + rest,
        body.len()
    );
    assert!(
        closed,
        "slow reader still connected after {:?}",
        stopped.elapsed()
    );
    assert!(
        1024 + rest < body.len(),
        "the whole response arrived ({} bytes): the reader was never cut off",
        1024 + rest
    );
    // Others are served.
    let (status, _) = timed_get(s.gw.addr, &s.base, "/ok").await;
    assert_eq!(status, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_in_the_backlog_until_one_closes() {
    let s = setup(&["--max-connections", "2", "--idle-timeout-secs", "30"]).await;
    let plan = ReadPlan {
        settle: Duration::from_millis(50),
        ..ReadPlan::default()
    };
    // Two keep-alive connections take both slots.
    let mut a = TcpStream::connect(s.gw.addr).await.unwrap();
    a.write_all(&get(&s.base, "/a")).await.unwrap();
    assert_eq!(read_responses(&mut a, plan).await.statuses(), [200]);
    let mut b = TcpStream::connect(s.gw.addr).await.unwrap();
    b.write_all(&get(&s.base, "/b")).await.unwrap();
    assert_eq!(read_responses(&mut b, plan).await.statuses(), [200]);

    // A third connects (the kernel completes the handshake) but is not served yet.
    let mut c = TcpStream::connect(s.gw.addr).await.unwrap();
    c.write_all(&get(&s.base, "/c")).await.unwrap();
    let early = read_responses(
        &mut c,
        ReadPlan {
            limit: Duration::from_millis(700),
            ..plan
        },
    )
    .await;
    assert!(
        early.responses.is_empty() && !early.closed,
        "served or refused over the cap: {:?}",
        early.statuses()
    );

    // One slot frees up: the waiting connection is served promptly, nothing was lost.
    drop(a);
    let start = Instant::now();
    let late = read_responses(&mut c, plan).await;
    assert_eq!(late.statuses(), [200]);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    b.write_all(&get(&s.base, "/b2")).await.unwrap();
    assert_eq!(read_responses(&mut b, plan).await.statuses(), [200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_and_slow_bodies_do_not_starve_a_legitimate_client() {
    let s = setup(&["--header-timeout-secs", "2", "--idle-timeout-secs", "3"]).await;
    let addr = s.gw.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut attackers = tokio::task::JoinSet::new();
    // 150 slowloris connections: a head trickled one byte every 100 ms, re-opened when closed.
    for i in 0..150 {
        let stop = stop.clone();
        let head = format!(
            "GET {}/loris{i} HTTP/1.1\r\nHost: a\r\nX-Pad: {}\r\n\r\n",
            s.base,
            "p".repeat(500)
        );
        attackers.spawn(async move {
            let mut closed_by_server = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(mut c) = TcpStream::connect(addr).await else {
                    continue;
                };
                for b in head.bytes() {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return closed_by_server;
                    }
                    if c.write_all(&[b]).await.is_err() {
                        closed_by_server += 1;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            closed_by_server
        });
    }
    // 50 slow-body connections: a 10 000-byte POST body, 1 byte every 100 ms.
    for i in 0..50 {
        let stop = stop.clone();
        let head = format!(
            "POST {}/slowbody{i} HTTP/1.1\r\nHost: a\r\nContent-Length: 10000\r\n\r\n",
            s.base
        );
        attackers.spawn(async move {
            let Ok(mut c) = TcpStream::connect(addr).await else {
                return 0;
            };
            let _ = c.write_all(head.as_bytes()).await;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if c.write_all(b"x").await.is_err() {
                    return 1;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            0
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The legitimate client, on fresh connections, for about 4 s (past two header timeouts).
    let mut worst = Duration::ZERO;
    let start = Instant::now();
    let mut served = 0;
    while start.elapsed() < Duration::from_secs(4) {
        let (status, took) = timed_get(addr, &s.base, "/legit").await;
        assert_eq!(status, Some(200), "legitimate request failed");
        worst = worst.max(took);
        served += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut cut = 0;
    while let Some(n) = attackers.join_next().await {
        cut += n.unwrap();
    }
    println!(
        "slowloris: {served} legitimate requests, worst {worst:?}; {cut} attacker connections cut off"
    );
    assert!(worst < Duration::from_secs(1), "worst latency {worst:?}");
    // Each trickled head (about 52 s long) was cut off at the header timeout.
    assert!(cut >= 100, "only {cut} attacker connections were closed");
}

/// A request body without a declared length, `n` frames of 1 MiB.
struct Unsized(usize);

impl hyper::body::Body for Unsized {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        if self.0 == 0 {
            return std::task::Poll::Ready(None);
        }
        self.0 -= 1;
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(bytes::Bytes::from(
            vec![b'h'; 1024 * 1024],
        )))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_bodies_without_content_length_are_bounded_like_chunked_ones() {
    let s = setup(&[]).await;
    let send = |frames: usize| {
        let addr = s.gw.addr;
        let uri = format!("http://{addr}{}/h2", s.base);
        async move {
            let io = hyper_util::rt::TokioIo::new(TcpStream::connect(addr).await.unwrap());
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                    .await
                    .unwrap();
            tokio::spawn(conn);
            let req = hyper::Request::post(uri).body(Unsized(frames)).unwrap();
            match sender.send_request(req).await {
                Ok(resp) => Some(resp.status().as_u16()),
                Err(_) => None,
            }
        }
    };
    // 2 MiB with no content-length: read by the listener and forwarded with one.
    assert_eq!(send(2).await, Some(200));
    let seen = s.up.seen.last.lock().unwrap().clone().unwrap();
    assert_eq!(seen.header("content-length"), Some("2097152"));
    assert_eq!(seen.body.len(), 2 * 1024 * 1024);
    // 11 MiB: 413, and the upstream never sees it.
    let before = s.up.seen.requests.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(send(11).await, Some(413));
    let after = s.up.seen.requests.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        after, before,
        "an over-limit HTTP/2 body reached the upstream"
    );
}
