//! Black-box lifecycle tests: redeploys under load, invalid imports, crashes mid-write, draining.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{Portico, Upstream, api_id_from_output, import, versioned_spec, write_spec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reimport_under_continuous_load_fails_no_request() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let first = write_spec(dir.path(), "v0.yaml", &versioned_spec(0, true));
    let backend = format!("backend={}", up.addr);
    let gw = Portico::start(&[
        "--import",
        first.to_str().unwrap(),
        "--stage-variable",
        &backend,
    ]);
    let api = gw.api_id("live");

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for i in 0..8 {
        let (stop, ok, failures, max_seen) =
            (stop.clone(), ok.clone(), failures.clone(), max_seen.clone());
        let url = if i % 2 == 0 {
            gw.path_url(&api, "dev", "/version")
        } else {
            gw.path_url(&api, "dev", "/proxy")
        };
        clients.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            let deadline = Instant::now() + Duration::from_secs(30);
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                match c.get(&url).send().await {
                    Ok(r) if r.status() == 200 => {
                        let text = r.text().await.unwrap_or_default();
                        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
                            && let Some(n) = v.get("version").and_then(|n| n.as_u64())
                        {
                            max_seen.fetch_max(n as usize, Ordering::SeqCst);
                        }
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) => failures
                        .lock()
                        .unwrap()
                        .push(format!("{url}: {}", r.status())),
                    Err(e) => failures.lock().unwrap().push(format!("{url}: {e}")),
                }
            }
        }));
    }
    for v in 1..=5u32 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let file = write_spec(dir.path(), &format!("v{v}.yaml"), &versioned_spec(v, true));
        let out = import(&gw.data, &file, &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            api_id_from_output(&String::from_utf8_lossy(&out.stdout), "live"),
            api,
            "same id on re-import"
        );
    }
    // The last deployment becomes visible to new requests.
    let c = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = c.get(gw.path_url(&api, "dev", "/v5")).send().await.unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "v5 never became visible");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = c.get(gw.path_url(&api, "dev", "/v0")).send().await.unwrap();
    assert_eq!(
        r.status(),
        403,
        "routes removed by the new deployment are gone"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    for t in clients {
        t.await.unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed requests: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        ok.load(Ordering::SeqCst) > 100,
        "the load loop ran ({} requests)",
        ok.load(Ordering::SeqCst)
    );
    assert_eq!(max_seen.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn invalid_openapi_is_rejected_with_locations_and_the_previous_deployment_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_spec(dir.path(), "good.yaml", &versioned_spec(1, false));
    let gw = Portico::start(&["--import", good.to_str().unwrap()]);
    let api = gw.api_id("live");
    let bad_yaml = "openapi: 3.0.1\ninfo: {title: live\npaths: [\n";
    let bad_type = versioned_spec(2, false).replace("type: mock", "type: lambda");
    let bad_param = versioned_spec(2, false).replace("/v2:", "/v{id}x:");
    let cases = [
        ("broken.yaml", bad_yaml.to_string(), "line "),
        (
            "type.yaml",
            bad_type,
            "x-amazon-apigateway-integration.type",
        ),
        ("param.yaml", bad_param, "/v{id}x"),
    ];
    for (name, content, location) in cases {
        let file = write_spec(dir.path(), name, &content);
        let out = import(&gw.data, &file, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} was accepted");
        assert!(
            stderr.contains(location),
            "{name}: error should name {location:?}:\n{stderr}"
        );
    }
    // Nothing changed: the store has one deployment's worth of routes and the gateway serves v1.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = reqwest::Client::new();
    let r = c
        .get(gw.path_url(&api, "dev", "/version"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), r#"{"version": 1}"#);
    let routes = std::process::Command::new(support::BIN)
        .args(["routes", "--data-dir"])
        .arg(&gw.data)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&routes.stdout);
    assert!(
        listing.contains("/v1") && !listing.contains("/v2"),
        "{listing}"
    );
}

#[tokio::test]
async fn kill_9_during_a_stream_of_imports_leaves_a_store_with_the_last_acknowledged_api() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut acknowledged = 0u32;
    for v in 1..=12u32 {
        let file = write_spec(dir.path(), &format!("v{v}.yaml"), &versioned_spec(v, false));
        let mut child = std::process::Command::new(support::BIN)
            .arg("import")
            .arg(&file)
            .arg("--data-dir")
            .arg(&data)
            .env("PORTICO_LOG", "off")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Kill every other import at a different point of its life.
        if v % 2 == 0 {
            std::thread::sleep(Duration::from_millis(u64::from(v) * 3));
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        } else if child.wait().unwrap().success() {
            acknowledged = v;
        }
    }
    assert!(acknowledged >= 11, "odd imports are acknowledged");
    // The store opens cleanly and serves the last acknowledged version (or a later one that
    // committed before its kill landed), never a half-written API.
    let gw = Portico::start_in(&data, &[]);
    let listing = std::process::Command::new(support::BIN)
        .args(["routes", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    let api = listing.split_whitespace().next().unwrap().to_string();
    let r = reqwest::Client::new()
        .get(gw.path_url(&api, "dev", "/version"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let served = v["version"].as_u64().unwrap() as u32;
    assert!(
        served >= acknowledged,
        "served v{served}, acknowledged v{acknowledged}"
    );
    // Exactly one version-specific route: the deployment is whole.
    let count = (1..=12)
        .filter(|n| listing.contains(&format!("/v{n}\n")) || listing.ends_with(&format!("/v{n}")))
        .count();
    assert_eq!(count, 1, "{listing}");
    assert!(listing.contains(&format!("/v{served}")), "{listing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_and_stops_accepting() {
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
        uri: http://${stageVariables.backend}/slow/1000
"#;
    let file = write_spec(dir.path(), "drain.yaml", spec);
    let backend = format!("backend={}", up.addr);
    let mut gw = Portico::start(&[
        "--import",
        file.to_str().unwrap(),
        "--stage-variable",
        &backend,
    ]);
    let api = gw.api_id("drain");
    let url = gw.path_url(&api, "dev", "/slow");
    let mut in_flight = Vec::new();
    for _ in 0..10 {
        let url = url.clone();
        in_flight.push(tokio::spawn(async move {
            let r = reqwest::Client::new().get(&url).send().await?;
            let status = r.status();
            let body = r.text().await?;
            Ok::<_, reqwest::Error>((status, body))
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    gw.sigterm();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // New connections are refused while draining.
    let refused = std::net::TcpStream::connect_timeout(&gw.addr, Duration::from_millis(500));
    assert!(refused.is_err(), "listener still accepting after SIGTERM");
    for t in in_flight {
        let (status, body) = t.await.unwrap().expect("in-flight request completed");
        assert_eq!(status, 200);
        assert_eq!(body, "slow done");
    }
    let exit = gw
        .wait_exit(Duration::from_secs(5))
        .expect("portico exited after draining");
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn management_listener_refuses_non_loopback_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(support::BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("PORTICO_LOG", "off")
        .env_remove("PORTICO_ADMIN_ACCESS_KEY_ID")
        .env_remove("PORTICO_ADMIN_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to bind the management listener"),
        "{stderr}"
    );
}
