//! Zero downtime (goals G7–G9), black-box against a real `portico serve`: redeploys through the
//! management API under constant HTTP/1.1 and HTTP/2 load fail no request and barely move the
//! latency; invalid deploys are refused and change nothing that serves; SIGTERM drains hundreds of
//! in-flight requests and exits within the grace period.
//!
//! `lifecycle.rs` has the small versions (five `portico import` re-imports under load, ten
//! requests drained); these are the goal-sized ones. `PORTICO_LONG=1` makes the redeploy run 200
//! deploys instead of 50.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Portico, Upstream, versioned_spec, write_spec};

/// The management API of one gateway.
struct Admin {
    base: String,
    api: String,
    backend: String,
    http: reqwest::Client,
}

impl Admin {
    /// `PutRestApi` (overwrite); the status and body.
    async fn put(&self, spec: &str) -> (u16, String) {
        let r = self
            .http
            .put(format!(
                "{}/restapis/{}?mode=overwrite",
                self.base, self.api
            ))
            .body(spec.to_string())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// `CreateDeployment` to `dev`; the status and body.
    async fn deploy(&self) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}/restapis/{}/deployments", self.base, self.api))
            .json(&serde_json::json!({
                "stageName": "dev",
                "variables": {"backend": self.backend},
            }))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

struct Live {
    gw: Portico,
    admin: Admin,
    _up: Upstream,
    _dir: tempfile::TempDir,
}

async fn start(extra: &[&str]) -> Live {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let first = write_spec(dir.path(), "v1.yaml", &versioned_spec(1, true));
    let backend = format!("backend={}", up.addr);
    let mut args = vec![
        "--import",
        first.to_str().unwrap(),
        "--stage-variable",
        &backend,
        "--access-log",
        "off",
    ];
    args.extend_from_slice(extra);
    let gw = Portico::start(&args);
    let admin = Admin {
        base: format!("http://{}", gw.admin),
        api: gw.api_id("live"),
        backend: up.addr.to_string(),
        http: reqwest::Client::new(),
    };
    Live {
        gw,
        admin,
        _up: up,
        _dir: dir,
    }
}

/// Load phases: latencies are filed under the phase current when the request started.
const STEADY: u8 = 0;
const DURING: u8 = 1;
const STOPPED: u8 = 2;

/// Constant-rate load: H1 workers (one keep-alive connection each) and H2 workers (streams on
/// one shared prior-knowledge connection), each sending one request per `every` to `/version`
/// or `/proxy`, never catching up on missed ticks.
struct Load {
    phase: Arc<AtomicU8>,
    latencies: Arc<Mutex<Vec<(u8, Duration)>>>,
    failures: Arc<Mutex<Vec<String>>>,
    ok: Arc<AtomicUsize>,
    /// A worker saw `/version` go backwards.
    regressed: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    async fn start(gw: &Portico, api: &str, h1: usize, h2: usize, every: Duration) -> Self {
        let phase = Arc::new(AtomicU8::new(STEADY));
        let latencies = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let ok = Arc::new(AtomicUsize::new(0));
        let regressed = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        let h2_sender = if h2 > 0 {
            let stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
            let (sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                    .await
                    .unwrap();
            tasks.push(tokio::spawn(async move {
                let _ = conn.await;
            }));
            Some(sender)
        } else {
            None
        };
        for w in 0..h1 + h2 {
            let path = if w % 2 == 0 { "/version" } else { "/proxy" };
            let url = gw.path_url(api, "dev", path);
            let (phase, latencies, failures, ok, regressed) = (
                phase.clone(),
                latencies.clone(),
                failures.clone(),
                ok.clone(),
                regressed.clone(),
            );
            let h2_sender = if w >= h1 { h2_sender.clone() } else { None };
            tasks.push(tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .unwrap();
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                let mut last_version = 0;
                loop {
                    tick.tick().await;
                    let p = phase.load(Ordering::SeqCst);
                    if p == STOPPED {
                        return;
                    }
                    let started = Instant::now();
                    let result = match &h2_sender {
                        None => h1_get(&client, &url).await,
                        Some(s) => h2_get(s.clone(), &url).await,
                    };
                    let took = started.elapsed();
                    match result {
                        Ok((200, body)) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                            latencies.lock().unwrap().push((p, took));
                            if let Some(v) = serde_json::from_str::<serde_json::Value>(&body)
                                .ok()
                                .and_then(|v| v.get("version").and_then(|v| v.as_u64()))
                            {
                                if v < last_version {
                                    regressed.store(true, Ordering::SeqCst);
                                }
                                last_version = v;
                            }
                        }
                        Ok((status, body)) => failures
                            .lock()
                            .unwrap()
                            .push(format!("{path}: {status} {body}")),
                        Err(e) => failures.lock().unwrap().push(format!("{path}: {e}")),
                    }
                }
            }));
        }
        Self {
            phase,
            latencies,
            failures,
            ok,
            regressed,
            tasks,
        }
    }

    fn set_phase(&self, p: u8) {
        self.phase.store(p, Ordering::SeqCst);
    }

    async fn stop(mut self) -> Self {
        self.set_phase(STOPPED);
        // The H2 connection task is the first one and ends only when its sender clones are gone.
        let conn = if self.tasks.len() > 1 {
            Some(self.tasks.remove(0))
        } else {
            None
        };
        for t in self.tasks.drain(..) {
            t.await.unwrap();
        }
        if let Some(c) = conn {
            c.abort();
        }
        self
    }

    /// The `q`-quantile of the latencies of phase `p`.
    fn quantile(&self, p: u8, q: f64) -> Duration {
        let mut v: Vec<Duration> = self
            .latencies
            .lock()
            .unwrap()
            .iter()
            .filter(|(ph, _)| *ph == p)
            .map(|(_, d)| *d)
            .collect();
        assert!(!v.is_empty(), "no requests in phase {p}");
        v.sort();
        v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1]
    }

    fn count(&self, p: u8) -> usize {
        self.latencies
            .lock()
            .unwrap()
            .iter()
            .filter(|(ph, _)| *ph == p)
            .count()
    }

    fn assert_no_failures(&self) {
        let f = self.failures.lock().unwrap();
        assert!(
            f.is_empty(),
            "{} failed requests (of {} ok), e.g. {:?}",
            f.len(),
            self.ok.load(Ordering::SeqCst),
            &f[..f.len().min(5)]
        );
        assert!(
            !self.regressed.load(Ordering::SeqCst),
            "a client saw an older deployment after a newer one"
        );
    }
}

async fn h1_get(client: &reqwest::Client, url: &str) -> Result<(u16, String), String> {
    let r = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    Ok((status, r.text().await.map_err(|e| e.to_string())?))
}

async fn h2_get(
    mut sender: hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    url: &str,
) -> Result<(u16, String), String> {
    let req = hyper::Request::get(url).body(Empty::new()).unwrap();
    sender.ready().await.map_err(|e| e.to_string())?;
    let r = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let body = r
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Polls `path` with fresh requests until it answers 200; how long that took.
async fn visible_after(gw: &Portico, api: &str, path: &str, limit: Duration) -> Duration {
    let c = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let r = c.get(gw.path_url(api, "dev", path)).send().await.unwrap();
        if r.status() == 200 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{path} not visible {limit:?} after its deployment"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// G7: 50 redeploys under constant load → 0 failed requests; p99 while redeploying ≤ 2× the
/// steady p99 (+ 25 ms for a 2-core machine shared with the deploys themselves); every deployment
/// visible to new requests within 1 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_redeploys_under_load_fail_no_request_and_keep_p99() {
    let live = start(&[]).await;
    let deploys = if std::env::var_os("PORTICO_LONG").is_some() {
        200
    } else {
        50
    };
    // 6 H1 + 2 H2 workers at 50 requests/s each: 400 requests/s.
    let load = Load::start(&live.gw, &live.admin.api, 6, 2, Duration::from_millis(20)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.set_phase(DURING);
    let started = Instant::now();
    let mut slowest_visible = Duration::ZERO;
    for v in 2..2 + deploys {
        let (status, body) = live.admin.put(&versioned_spec(v, true)).await;
        assert_eq!(status, 200, "PutRestApi v{v}: {body}");
        let (status, body) = live.admin.deploy().await;
        assert_eq!(status, 201, "CreateDeployment v{v}: {body}");
        let seen = visible_after(
            &live.gw,
            &live.admin.api,
            &format!("/v{v}"),
            Duration::from_secs(1),
        )
        .await;
        slowest_visible = slowest_visible.max(seen);
    }
    let redeploying = started.elapsed();
    let load = load.stop().await;

    let (steady, during) = (load.quantile(STEADY, 0.99), load.quantile(DURING, 0.99));
    println!(
        "redeploys: {deploys} in {redeploying:?}; requests ok {} (steady {}, during {}); \
         p50 steady {:?} / during {:?}; p99 steady {steady:?} / during {during:?}; \
         slowest deployment visible after {slowest_visible:?}",
        load.ok.load(Ordering::SeqCst),
        load.count(STEADY),
        load.count(DURING),
        load.quantile(STEADY, 0.5),
        load.quantile(DURING, 0.5),
    );
    load.assert_no_failures();
    assert!(
        during <= steady * 2 + Duration::from_millis(25),
        "p99 during redeploys {during:?} vs steady {steady:?}"
    );
    // The last deployment is what serves, and the first one's route is gone.
    let c = reqwest::Client::new();
    let last = deploys + 1;
    let r = c
        .get(live.gw.path_url(&live.admin.api, "dev", "/version"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), format!(r#"{{"version": {last}}}"#));
    let r = c
        .get(live.gw.path_url(&live.admin.api, "dev", "/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

/// The invalid deploys of G8: a name, the spec (a replacement for `versioned_spec(2, true)`), and whether
/// it is refused (`false`: a mapping template that does not parse, which AWS stores and deploys,
/// answering 500 at request time).
fn invalid_deploys() -> Vec<(&'static str, String, bool)> {
    let good = versioned_spec(2, true);
    let on_proxy = |extra: &str| {
        good.replace(
            "uri: http://${stageVariables.backend}/echo",
            &format!("uri: http://${{stageVariables.backend}}/echo\n        {extra}"),
        )
    };
    vec![
        (
            "YAML that does not parse",
            "openapi: 3.0.1\ninfo: {title: live\npaths: [\n".to_string(),
            true,
        ),
        (
            "paths is not a map",
            "openapi: 3.0.1\ninfo: {title: live, version: '2'}\npaths: 5\n".to_string(),
            true,
        ),
        (
            "unsupported integration type",
            good.replace("type: mock", "type: lambda"),
            true,
        ),
        (
            "path template that is not one",
            good.replace("/v2:", "/v{id}x:"),
            true,
        ),
        (
            "a method without an integration",
            good.replace(
                "  /proxy:\n",
                "  /bare:\n    get:\n      responses: {\"200\": {description: ok}}\n  /proxy:\n",
            ),
            true,
        ),
        (
            "no methods at all",
            "openapi: 3.0.1\ninfo: {title: live, version: '2'}\npaths: {}\n".to_string(),
            true,
        ),
        ("timeoutInMillis under 50", on_proxy("timeoutInMillis: 10"), true),
        (
            "an invalid parameter mapping expression",
            on_proxy("requestParameters: {integration.request.header.X: 'nonsense.value'}"),
            true,
        ),
        (
            "an invalid passthroughBehavior",
            on_proxy("passthroughBehavior: sometimes"),
            true,
        ),
        (
            "an integration response status that is not one",
            good.replace(
                "responses: {default: {statusCode: \"200\"}}",
                "responses: {default: {statusCode: \"2x0\"}}",
            ),
            true,
        ),
        (
            "an invalid httpMethod",
            good.replace("httpMethod: GET", "httpMethod: 'G T'"),
            true,
        ),
        (
            "an integration URI that is not a URL",
            good.replace(
                "uri: http://${stageVariables.backend}/echo",
                "uri: 'http://exa mple.com:99999/echo'",
            ),
            true,
        ),
        (
            "a request template that does not parse",
            good.replacen(
                r#"requestTemplates: {application/json: '{"statusCode": 200}'}"#,
                r#"requestTemplates: {application/json: '#if($input.params("x") {"statusCode": 200}'}"#,
                1,
            ),
            false,
        ),
        (
            "a response template that does not parse",
            good.replace(
                r#"responseTemplates: {application/json: '{"version": 2}'}"#,
                r#"responseTemplates: {application/json: '#foreach($x in [1..3] {"version": 2}'}"#,
            ),
            false,
        ),
        (
            "a selectionPattern that is not a regex",
            good.replace(
                "        responses: {default: {statusCode: \"200\"}}",
                "        responses: {default: {statusCode: \"200\"}, \"5(\\\\d\": {statusCode: \"500\"}}",
            ),
            true,
        ),
    ]
}

/// What a management call did with one invalid deploy.
fn refused(put: (u16, String), deploy: Option<(u16, String)>) -> Result<String, String> {
    match (put, deploy) {
        ((400..=499, body), _) => Ok(format!("PutRestApi {}", first_line(&body))),
        (_, Some((400..=499, body))) => Ok(format!("CreateDeployment {}", first_line(&body))),
        ((p, _), Some((d, body))) => Err(format!(
            "accepted: PutRestApi {p}, CreateDeployment {d} {}",
            first_line(&body)
        )),
        ((p, body), None) => Err(format!("PutRestApi {p} {}", first_line(&body))),
    }
}

fn first_line(s: &str) -> String {
    s.chars().take(140).collect::<String>().replace('\n', " ")
}

/// G8 (13 kinds): OpenAPI that does not parse or import (an integration URI that is not a URL and
/// a selectionPattern that is not a regular expression among them), and APIs CreateDeployment
/// cannot deploy. Each is refused with a 4xx, under load, with 0 failed requests,
/// and the previous deployment keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_deploys_are_refused_and_the_previous_deployment_keeps_serving() {
    let live = start(&[]).await;
    let load = Load::start(&live.gw, &live.admin.api, 4, 2, Duration::from_millis(20)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    load.set_phase(DURING);
    let mut outcomes = Vec::new();
    for (name, spec, _) in invalid_deploys().into_iter().filter(|d| d.2) {
        let put = live.admin.put(&spec).await;
        let deploy = if put.0 < 400 {
            Some(live.admin.deploy().await)
        } else {
            None
        };
        outcomes.push((name, refused(put, deploy)));
    }
    // Wait past a few reload intervals: nothing new may be served.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let load = load.stop().await;
    for (name, o) in &outcomes {
        println!("invalid deploy: {name}: {o:?}");
    }
    let accepted: Vec<_> = outcomes.iter().filter(|(_, o)| o.is_err()).collect();
    assert!(accepted.is_empty(), "accepted: {accepted:?}");
    load.assert_no_failures();
    let c = reqwest::Client::new();
    let r = c
        .get(live.gw.path_url(&live.admin.api, "dev", "/version"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), r#"{"version": 1}"#);
    let r = c
        .get(live.gw.path_url(&live.admin.api, "dev", "/v2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "nothing of an invalid deploy serves");
    // A valid deploy still goes through afterwards.
    assert_eq!(live.admin.put(&versioned_spec(3, true)).await.0, 200);
    assert_eq!(live.admin.deploy().await.0, 201);
    visible_after(&live.gw, &live.admin.api, "/v3", Duration::from_secs(1)).await;
}

/// G8, where AWS accepts: mapping templates are not parsed when they are stored. AWS takes a
/// template that does not parse, deploys it, and the method answers 500 at request time; so does
/// Portico (the deploy is logged with the template's parse error), while the rest of the API is
/// served from the new deployment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_that_do_not_parse_deploy_and_their_method_answers_500_as_on_aws() {
    let live = start(&[]).await;
    let c = reqwest::Client::new();
    let cases: Vec<_> = invalid_deploys().into_iter().filter(|d| !d.2).collect();
    assert_eq!(cases.len(), 2);
    for (name, spec, _) in cases {
        assert_eq!(live.admin.put(&spec).await.0, 200, "{name}");
        assert_eq!(live.admin.deploy().await.0, 201, "{name}");
        visible_after(&live.gw, &live.admin.api, "/v2", Duration::from_secs(1)).await;
        let r = c
            .get(live.gw.path_url(&live.admin.api, "dev", "/version"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500, "{name}");
        assert_eq!(
            r.text().await.unwrap(),
            r#"{"message": "Internal server error"}"#,
            "{name}"
        );
        assert_eq!(live.admin.put(&versioned_spec(1, true)).await.0, 200);
        assert_eq!(live.admin.deploy().await.0, 201);
        visible_after(&live.gw, &live.admin.api, "/v1", Duration::from_secs(1)).await;
    }
}

/// G9: 200 requests in flight to a backend that takes 2 s; SIGTERM → all 200 finish with 200,
/// no new connection is accepted, and the process exits as soon as they are done (well within
/// grace + 1 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_200_requests_in_flight_drops_none() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = r#"
openapi: 3.0.1
info: {title: drain, version: "1"}
paths:
  /slow:
    get:
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://${stageVariables.backend}/slow/2000
"#;
    let file = write_spec(dir.path(), "drain.yaml", spec);
    let backend = format!("backend={}", up.addr);
    let grace = 10;
    let grace_arg = grace.to_string();
    let mut gw = Portico::start(&[
        "--import",
        file.to_str().unwrap(),
        "--stage-variable",
        &backend,
        "--access-log",
        "off",
        "--shutdown-grace-secs",
        &grace_arg,
    ]);
    let api = gw.api_id("drain");
    let url = gw.path_url(&api, "dev", "/slow");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut in_flight = Vec::new();
    for _ in 0..200 {
        let (c, url) = (client.clone(), url.clone());
        in_flight.push(tokio::spawn(async move {
            let r = c.get(&url).send().await.map_err(|e| e.to_string())?;
            let status = r.status().as_u16();
            let body = r.text().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((status, body))
        }));
    }
    // All 200 have reached the backend.
    let deadline = Instant::now() + Duration::from_secs(10);
    while up.seen.requests.load(Ordering::SeqCst) < 200 {
        assert!(
            Instant::now() < deadline,
            "only {} requests reached the backend",
            up.seen.requests.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let term = Instant::now();
    gw.sigterm();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = std::net::TcpStream::connect_timeout(&gw.addr, Duration::from_millis(500));
    assert!(refused.is_err(), "listener still accepting after SIGTERM");
    let mut ok = 0;
    let mut failed = Vec::new();
    for t in in_flight {
        match t.await.unwrap() {
            Ok((200, body)) if body == "slow done" => ok += 1,
            other => failed.push(format!("{other:?}")),
        }
    }
    let exit = gw
        .wait_exit(Duration::from_secs(grace + 1))
        .expect("portico exited within grace + 1 s");
    let exited_after = term.elapsed();
    println!("sigterm drain: {ok}/200 completed with 200; exited {exited_after:?} after SIGTERM");
    assert!(
        failed.is_empty(),
        "{} dropped: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(exit.success(), "{exit:?}");
    assert!(
        exited_after <= Duration::from_secs(grace + 1),
        "{exited_after:?}"
    );
}

/// G9, the other side: requests that cannot finish within the grace period are cut off at its
/// end; the process exits within grace + 1 s regardless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_within_grace_when_requests_outlast_it() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = r#"
openapi: 3.0.1
info: {title: drain, version: "1"}
paths:
  /slower:
    get:
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://${stageVariables.backend}/slow/10000
        timeoutInMillis: 20000
"#;
    let file = write_spec(dir.path(), "drain.yaml", spec);
    let backend = format!("backend={}", up.addr);
    let mut gw = Portico::start(&[
        "--import",
        file.to_str().unwrap(),
        "--stage-variable",
        &backend,
        "--access-log",
        "off",
        "--shutdown-grace-secs",
        "1",
    ]);
    let api = gw.api_id("drain");
    let url = gw.path_url(&api, "dev", "/slower");
    let mut in_flight = Vec::new();
    for _ in 0..20 {
        let url = url.clone();
        in_flight.push(tokio::spawn(async move {
            let r = reqwest::Client::new().get(&url).send().await;
            match r {
                Ok(r) => r.status().as_u16() == 200 && r.text().await.is_ok(),
                Err(_) => false,
            }
        }));
    }
    while up.seen.requests.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let term = Instant::now();
    gw.sigterm();
    let exit = gw
        .wait_exit(Duration::from_secs(2))
        .expect("portico exited within grace + 1 s");
    println!(
        "sigterm with requests outlasting a 1 s grace: exited after {:?}",
        term.elapsed()
    );
    assert!(exit.success(), "{exit:?}");
    for t in in_flight {
        assert!(
            !t.await.unwrap(),
            "a 10 s request cannot complete within a 1 s grace"
        );
    }
}
