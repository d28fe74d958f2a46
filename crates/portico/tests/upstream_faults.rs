//! Upstream faults (goal G11) and leaks after faults (G12), black-box: a real `portico serve`, a
//! raw-TCP fault origin (`support/faults.rs`) and a real client. Every fault must map to API
//! Gateway's answer — 502 `{"message": "Internal server error"}` when the backend is unreachable or
//! breaks HTTP, 504 `{"message": "Endpoint request timed out"}` at the integration timeout — and a
//! backend that dies after the response head has been forwarded must leave the client with an
//! *aborted* response (the connection closes before `Content-Length` bytes or before the terminal
//! chunk), never a complete-looking truncated body.
//!
//! Each case runs `PORTICO_FAULT_REPEAT` times (default 50; `PORTICO_LONG=1` makes it 200, and the
//! leak storm 10 000 requests instead of 2 000).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/faults.rs"]
mod faults;
mod support;

use faults::{FaultUpstream, procfs};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Portico, write_spec};

/// Integration timeout of the fault routes, in ms.
const TIMEOUT_MS: u64 = 300;

fn spec() -> String {
    format!(
        r#"
openapi: 3.0.1
info: {{title: faults, version: "1"}}
paths:
  /p/{{proxy+}}:
    x-amazon-apigateway-any-method:
      parameters: [{{name: proxy, in: path, required: true, schema: {{type: string}}}}]
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: http://${{stageVariables.backend}}/{{proxy}}
        timeoutInMillis: {TIMEOUT_MS}
  /h/{{proxy+}}:
    get:
      parameters: [{{name: proxy, in: path, required: true, schema: {{type: string}}}}]
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: http://${{stageVariables.backend}}/{{proxy}}
        timeoutInMillis: {TIMEOUT_MS}
        requestParameters: {{integration.request.path.proxy: method.request.path.proxy}}
        responses:
          default:
            statusCode: "200"
            responseTemplates: {{application/json: '{{"got": "$util.escapeJavaScript($input.body)"}}'}}
  /long/{{proxy+}}:
    get:
      parameters: [{{name: proxy, in: path, required: true, schema: {{type: string}}}}]
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://${{stageVariables.backend}}/{{proxy}}
        timeoutInMillis: 10000
  /refused:
    get:
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://${{stageVariables.dead}}/x
        timeoutInMillis: {TIMEOUT_MS}
"#
    )
}

fn repeat() -> usize {
    if let Some(n) = std::env::var("PORTICO_FAULT_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if std::env::var_os("PORTICO_LONG").is_some() {
        200
    } else {
        50
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

struct Setup {
    gw: Portico,
    up: FaultUpstream,
    api: String,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn start() -> Self {
        let up = FaultUpstream::start().await;
        let dir = tempfile::tempdir().unwrap();
        let file = write_spec(dir.path(), "faults.yaml", &spec());
        let backend = format!("backend={}", up.addr);
        let dead = format!("dead=127.0.0.1:{}", closed_port());
        let gw = Portico::start(&[
            "--import",
            file.to_str().unwrap(),
            "--stage-variable",
            &backend,
            "--stage-variable",
            &dead,
            "--access-log",
            "off",
        ]);
        let api = gw.api_id("faults");
        Self {
            gw,
            up,
            api,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        self.gw.path_url(&self.api, "dev", path)
    }

    fn pid(&self) -> u32 {
        self.gw.child.id()
    }
}

/// What the client must see.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// This status and this exact body.
    Exact(u16, &'static str),
    /// 502 with API Gateway's body.
    BadGateway,
    /// 504 with API Gateway's body.
    Timeout,
    /// A 200 head, then an error reading the body (the connection closed early); or, when the
    /// body fails before its first byte, the connection closed before any head.
    Aborted,
}

const BAD_GATEWAY_BODY: &str = r#"{"message": "Internal server error"}"#;
const TIMEOUT_BODY: &str = r#"{"message": "Endpoint request timed out"}"#;

#[derive(Debug, Clone, Copy)]
struct Case {
    method: &'static str,
    path: &'static str,
    body: usize,
    expect: Expect,
}

const fn get(path: &'static str, expect: Expect) -> Case {
    Case {
        method: "GET",
        path,
        body: 0,
        expect,
    }
}

/// The fault table: request → what the client gets. `/p/…` is HTTP_PROXY (streams the backend's
/// body), `/h/…` is HTTP with a response template that reads the body (buffers it).
fn cases() -> Vec<Case> {
    use Expect::*;
    vec![
        get("/p/ok", Exact(200, "ok 0")),
        get("/refused", BadGateway),
        get("/p/hang", Timeout),
        get("/h/hang", Timeout),
        get("/p/slow_head", Timeout),
        get("/p/close", BadGateway),
        get("/p/reset", BadGateway),
        get("/p/close_mid_headers", BadGateway),
        get("/p/reset_mid_headers", BadGateway),
        get("/p/bad_status", BadGateway),
        get("/p/garbage", BadGateway),
        get("/p/bad_cl", BadGateway),
        get("/p/two_cl", BadGateway),
        get("/p/bad_chunk", Aborted),
        get("/h/bad_chunk", BadGateway),
        get("/p/chunk_overflow", Aborted),
        get("/p/die_mid_body", Aborted),
        get("/p/reset_mid_body", Aborted),
        get("/p/chunked_die", Aborted),
        get("/p/chunked_reset", Aborted),
        get("/h/die_mid_body", BadGateway),
        get("/h/chunked_die", BadGateway),
        get("/h/chunked_reset", BadGateway),
        get("/p/info_100", Exact(200, "ok 0")),
        get("/p/info_103", Exact(200, "ok 0")),
        get("/p/info_then_die", BadGateway),
        get("/p/switch_101", BadGateway),
        get("/p/many_headers", BadGateway),
        get("/p/huge_header", BadGateway),
        get("/p/status_503", Exact(503, "busy")),
        Case {
            method: "POST",
            path: "/p/info_100",
            body: 2048,
            expect: Exact(200, "ok 2048"),
        },
        Case {
            method: "POST",
            path: "/p/close",
            body: 100,
            expect: BadGateway,
        },
        Case {
            method: "POST",
            path: "/p/early_413",
            body: 256 * 1024,
            expect: Exact(413, ""),
        },
    ]
}

/// Sends one case's request and says what went wrong, if anything.
async fn check(client: &reqwest::Client, url: &str, case: Case) -> Result<(), String> {
    let mut req = client.request(case.method.parse().unwrap(), url);
    if case.body > 0 {
        req = req
            .header("expect", "100-continue")
            .body(vec![b'b'; case.body]);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        // The gateway had handed the head to the server, and the body failed before its first
        // byte: hyper closes the connection without writing the head. Also an aborted response.
        Err(e) if case.expect == Expect::Aborted && closed_without_response(&e) => return Ok(()),
        Err(e) => return Err(format!("send: {e:?}")),
    };
    let status = resp.status().as_u16();
    let body = resp.bytes().await;
    let (want_status, want_body) = match case.expect {
        Expect::Aborted => {
            return match (status, body) {
                (200, Err(_)) => Ok(()),
                (s, Ok(b)) => Err(format!(
                    "{s} with a complete-looking body of {} bytes: {:?}",
                    b.len(),
                    String::from_utf8_lossy(&b[..b.len().min(80)])
                )),
                (s, Err(e)) => Err(format!("{s} then {e}")),
            };
        }
        Expect::Exact(s, b) => (s, b),
        Expect::BadGateway => (502, BAD_GATEWAY_BODY),
        Expect::Timeout => (504, TIMEOUT_BODY),
    };
    let body = body.map_err(|e| format!("{status} then body error {e}"))?;
    if status != want_status || body != want_body.as_bytes() {
        return Err(format!(
            "{status} {:?}",
            String::from_utf8_lossy(&body[..body.len().min(120)])
        ));
    }
    Ok(())
}

/// Whether the connection closed before a response head arrived.
fn closed_without_response(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            return h.is_incomplete_message();
        }
        source = s.source();
    }
    false
}

/// Runs `n` requests of `case`, `concurrency` at a time; returns how many failed and the
/// distinct failures.
async fn run_case(
    client: &reqwest::Client,
    url: &str,
    case: Case,
    n: usize,
    concurrency: usize,
) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut failed = 0;
    let mut done = 0;
    while done < n {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..concurrency.min(n - done) {
            let (client, url) = (client.clone(), url.to_string());
            set.spawn(async move { check(&client, &url, case).await });
        }
        while let Some(r) = set.join_next().await {
            done += 1;
            if let Err(e) = r.unwrap() {
                failed += 1;
                if !failures.contains(&e) {
                    failures.push(e);
                }
            }
        }
    }
    (failed, failures)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upstream_fault_maps_to_the_aws_status_or_an_aborted_response() {
    let s = Setup::start().await;
    let client = client();
    let n = repeat();
    let mut report = Vec::new();
    let mut failed = Vec::new();
    // `PORTICO_FAULT_ONLY=early_413` runs the cases whose path contains that text.
    let only = std::env::var("PORTICO_FAULT_ONLY").ok();
    let selected: Vec<Case> = cases()
        .into_iter()
        .filter(|c| only.as_deref().is_none_or(|o| c.path.contains(o)))
        .collect();
    for case in selected.iter().copied() {
        let started = Instant::now();
        let (failed_n, failures) = run_case(&client, &s.url(case.path), case, n, 10).await;
        report.push(format!(
            "{:5} {:24} {:?}: {}/{n} as expected ({} ms)",
            case.method,
            case.path,
            case.expect,
            n - failed_n,
            started.elapsed().as_millis()
        ));
        if !failures.is_empty() {
            failed.push(format!(
                "{} {} (want {:?}): {:?}",
                case.method, case.path, case.expect, failures
            ));
        }
    }
    println!("{}", report.join("\n"));
    // Retries are bounded: no fault was requested more than twice per client request.
    for (fault, count) in s.up.stats.requests.lock().unwrap().iter() {
        let sent: usize = cases()
            .iter()
            .filter(|c| c.path.rsplit('/').next() == Some(fault.as_str()))
            .count()
            * n;
        assert!(
            *count <= 2 * sent,
            "{fault}: {count} upstream requests for {sent} client requests"
        );
    }
    assert!(
        failed.is_empty(),
        "{} of {} fault cases failed:\n{}",
        failed.len(),
        selected.len(),
        failed.join("\n")
    );
}

/// The keep-alive race: the backend closes a pooled connection as the next request arrives on it.
/// An idempotent request without a body is sent again, once, on a fresh connection; a POST is not
/// (it may have been acted on) and gets 502.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_pooled_connection_is_retried_once_for_idempotent_requests_only() {
    for fault in ["stale", "stale_rst"] {
        let s = Setup::start().await;
        let client = client();
        let url = s.url(&format!("/p/{fault}"));
        let n = repeat().min(50);
        for i in 0..n {
            let before = s.up.stats.requests_for(fault);
            let r = client.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{fault}: GET #{i}");
            assert_eq!(r.text().await.unwrap(), "fresh");
            let sent = s.up.stats.requests_for(fault) - before;
            assert!(
                (1..=2).contains(&sent),
                "{fault}: GET #{i} reached the backend {sent} times"
            );
            // DELETE is idempotent too.
            let r = client.delete(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{fault}: DELETE #{i}");
            // The connection that served the DELETE is pooled and will die under the POST.
            let before = s.up.stats.requests_for(fault);
            let r = client.post(&url).body("x").send().await.unwrap();
            assert_eq!(r.status(), 502, "{fault}: POST #{i} on a stale connection");
            assert_eq!(r.text().await.unwrap(), BAD_GATEWAY_BODY);
            assert_eq!(
                s.up.stats.requests_for(fault) - before,
                1,
                "{fault}: a POST is never sent twice"
            );
        }
        // Every GET/DELETE after the first one found a stale connection and retried.
        assert!(s.up.stats.requests_for(fault) >= 3 * n, "{fault}");
    }
}

/// A client that gives up releases the backend connection at once (not at the integration
/// timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_releases_the_backend_connection() {
    let s = Setup::start().await;
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let url = s.url("/long/hang");
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (c, u) = (quick.clone(), url.clone());
        set.spawn(async move { c.get(&u).send().await.is_err() });
    }
    while let Some(r) = set.join_next().await {
        assert!(r.unwrap(), "the client timed out");
    }
    drop(quick);
    let deadline = Instant::now() + Duration::from_secs(3);
    while s.up.stats.open() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        s.up.stats.open(),
        0,
        "backend connections still held after the clients left (integration timeout is 10 s)"
    );
}

/// After a backend answers before reading the whole request body (here `413` and a close), the
/// client's connection stays usable: the gateway drains the rest of the body (or, at least,
/// announces `Connection: close`). Closing without saying so makes a keep-alive client send its
/// next request into a dead connection, which it cannot retry when that request is a POST
/// (RFC 9112 §9.6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_early_backend_response_the_client_connection_stays_usable() {
    use std::io::{Read, Write};
    let s = Setup::start().await;
    let addr = s.gw.addr;
    let post = format!(
        "POST /restapis/{}/dev/_user_request_/p/early_413 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        s.api,
        256 * 1024
    );
    let next = format!(
        "GET /restapis/{}/dev/_user_request_/p/ok HTTP/1.1\r\nHost: x\r\n\r\n",
        s.api
    );
    let broken = tokio::task::spawn_blocking(move || {
        let mut broken = Vec::new();
        for i in 0..30 {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            c.write_all(post.as_bytes()).unwrap();
            let mut w = c.try_clone().unwrap();
            let writer = std::thread::spawn(move || {
                let chunk = vec![b'b'; 16 * 1024];
                for _ in 0..16 {
                    if w.write_all(&chunk).is_err() {
                        return false;
                    }
                }
                true
            });
            let head = read_head(&mut c);
            assert!(head.starts_with("http/1.1 413"), "#{i}: {head:?}");
            let body_sent = writer.join().unwrap();
            if head.contains("connection: close") {
                continue;
            }
            // Kept alive: the next request on it must be served.
            let served = body_sent
                && c.write_all(next.as_bytes()).is_ok()
                && read_head(&mut c).starts_with("http/1.1 200");
            if !served {
                broken.push(i);
            }
        }
        broken
    })
    .await
    .unwrap();
    assert!(
        broken.is_empty(),
        "{} of 30 connections were unusable after the 413 although it did not say Connection: close: {broken:?}",
        broken.len()
    );

    /// Reads one response head (lowercased) and its body when it has a Content-Length.
    fn read_head(c: &mut std::net::TcpStream) -> String {
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            match c.read(&mut byte) {
                Ok(1) => got.push(byte[0]),
                _ => break,
            }
        }
        let head = String::from_utf8_lossy(&got).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        let _ = c.read_exact(&mut body);
        head
    }
}

/// A backend whose body trickles past the integration timeout: HTTP_PROXY aborts the response at
/// the timeout (the head was already forwarded), HTTP answers 504.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_past_the_integration_timeout_is_cut_off() {
    let s = Setup::start().await;
    let client = client();
    for (path, expect) in [
        ("/p/slow_body", Expect::Aborted),
        ("/h/slow_body", Expect::Timeout),
    ] {
        let case = get(path, expect);
        let started = Instant::now();
        let (_, failures) = run_case(&client, &s.url(path), case, 10, 10).await;
        assert!(failures.is_empty(), "{path}: {failures:?}");
        assert!(
            started.elapsed() < Duration::from_millis(TIMEOUT_MS + 1000),
            "{path}: took {:?}",
            started.elapsed()
        );
    }
}

/// One storm: `total` requests over `concurrency` workers, round-robin over every fault that ends
/// quickly, with one request in 40 a timeout case. Returns the failures and how long it took.
async fn storm(
    s: &Setup,
    client: &reqwest::Client,
    total: usize,
    concurrency: usize,
) -> (Vec<String>, Duration) {
    let (quick, slow): (Vec<Case>, Vec<Case>) = cases()
        .into_iter()
        .partition(|c| !matches!(c.expect, Expect::Timeout));
    let started = Instant::now();
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let per_worker = total / concurrency;
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let (client, failures) = (client.clone(), failures.clone());
        let quick: Vec<(String, Case)> = quick.iter().map(|c| (s.url(c.path), *c)).collect();
        let slow: Vec<(String, Case)> = slow.iter().map(|c| (s.url(c.path), *c)).collect();
        workers.spawn(async move {
            for i in 0..per_worker {
                let (url, case) = if i % 40 == 39 {
                    &slow[(i / 40 + w) % slow.len()]
                } else {
                    &quick[(i + w) % quick.len()]
                };
                if let Err(e) = check(&client, url, *case).await {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{} {}: {e}", case.method, case.path));
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let failures = std::mem::take(&mut *failures.lock().unwrap());
    (failures, started.elapsed())
}

/// G12: after storms of mixed faults, the gateway's open files, its connections to the backend
/// and its memory return to where they were.
///
/// Memory is compared between three equal storms: the first ones set the allocator's high-water
/// mark (a 1 MiB response head fills the 64 KiB read buffer of every backend connection at once,
/// and the allocator keeps some of those pages; from storm to storm RSS moves by a few MiB), the
/// last one must not add to it. A leak of a few KiB per request shows up as growth proportional to the
/// request count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_descriptor_connection_or_memory_leak_after_a_fault_storm() {
    let s = Setup::start().await;
    let pid = s.pid();
    let client = client();
    let concurrency = 16;
    let total = if std::env::var_os("PORTICO_LONG").is_some() {
        10_000
    } else {
        2_000
    };
    // Warm up with the same concurrency, so the pools on both sides hold their steady size.
    for _ in 0..3 {
        let (_, f) = run_case(&client, &s.url("/p/ok"), cases()[0], 200, concurrency).await;
        assert!(f.is_empty(), "{f:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fd_before = procfs::fd_count(pid);
    let rss_cold = procfs::rss_kib(pid);
    let open_before = s.up.stats.open();

    let mut failures = Vec::new();
    let mut rss = Vec::new();
    let mut took = Duration::ZERO;
    for _ in 0..3 {
        let (f, t) = storm(&s, &client, total / 2, concurrency).await;
        failures.extend(f);
        took += t;
        // Let the allocator return what it frees lazily before sampling.
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss.push(procfs::rss_kib(pid));
    }
    let fd_peak = procfs::fd_count(pid);

    // Settle: within 5 s, descriptors and backend connections are back to the baseline.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut fd_after, mut open_after);
    loop {
        fd_after = procfs::fd_count(pid);
        open_after = s.up.stats.open();
        if (fd_after <= fd_before + 5 && open_after <= open_before + 5) || Instant::now() > deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rss_after = procfs::rss_kib(pid);
    println!(
        "fault storm: 3 × {} requests in {took:?} ({concurrency} concurrent); \
         fds {fd_before} → {fd_peak} after the storms → {fd_after} settled; \
         backend connections open {open_before} → {open_after} ({} accepted in all); \
         RSS {rss_cold} KiB before → {rss:?} KiB after each storm → {rss_after} KiB settled",
        total / 2,
        s.up.stats
            .accepted
            .load(std::sync::atomic::Ordering::SeqCst),
    );
    assert!(
        failures.is_empty(),
        "{} failed requests, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    assert!(
        fd_after <= fd_before + 5,
        "descriptors {fd_before} → {fd_after}"
    );
    assert!(
        open_after <= open_before + 5,
        "backend connections {open_before} → {open_after}"
    );
    // 10 % as in G12, with an 8 MiB floor for the allocator's movement between storms.
    let reference = rss[0].max(rss[1]);
    let margin = (reference / 10).max(8 * 1024);
    assert!(
        rss_after <= reference + margin,
        "RSS grew from storm to storm: {rss:?} KiB, then {rss_after} KiB"
    );
    // And the high-water mark itself stays bounded (16 connections × a 64 KiB read buffer on
    // each side, plus the allocator's slack).
    assert!(
        rss_after <= rss_cold + 32 * 1024,
        "RSS {rss_cold} KiB → {rss_after} KiB"
    );
}
