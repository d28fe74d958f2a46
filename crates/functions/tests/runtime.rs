//! The local function runtime, black-box: real worker processes (the shipped Python and Node.js
//! bootstraps, a shell `bootstrap` for `provided`) speaking the Runtime API.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use portico_functions::{FunctionConfig, InvokeContext, InvokeError, Runtime, RuntimeSettings};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn function(
    dir: &Path,
    name: &str,
    runtime: &str,
    handler: &str,
    files: &[(&str, &str)],
) -> FunctionConfig {
    let code = dir.join(name);
    std::fs::create_dir_all(&code).unwrap();
    for (f, body) in files {
        std::fs::write(code.join(f), body).unwrap();
        if *f == "bootstrap" {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(code.join(f), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    FunctionConfig {
        name: name.into(),
        arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
        version: "$LATEST".into(),
        runtime: runtime.into(),
        handler: handler.into(),
        code_dir: code,
        environment: BTreeMap::from([("GREETING".to_owned(), "hello".to_owned())]),
        timeout: Duration::from_secs(3),
        memory_mb: 128,
        reserved_concurrency: None,
    }
}

fn runtime(dir: &Path) -> Arc<Runtime> {
    let mut s = RuntimeSettings::new(dir.join("work"));
    s.queue_bound = 4;
    Runtime::new(s).unwrap()
}

fn json(b: &Bytes) -> serde_json::Value {
    serde_json::from_slice(b).unwrap()
}

const PY: &str = r#"
import os, time, json, sys
def handler(event, context):
    what = (event or {}).get("do")
    if what == "fail":
        raise ValueError("bad input")
    if what == "sleep":
        time.sleep(event["secs"])
    if what == "crash":
        os._exit(3)
    if what == "env":
        return {k: os.environ.get(k) for k in ["GREETING", "AWS_LAMBDA_FUNCTION_NAME", "CARGO_PKG_NAME", "_HANDLER", "AWS_REGION", "LAMBDA_TASK_ROOT"]}
    print("handling", json.dumps(event))
    return {"echo": event, "request_id": context.aws_request_id, "arn": context.invoked_function_arn,
            "remaining": context.get_remaining_time_in_millis() > 0, "pid": os.getpid()}
"#;

#[tokio::test]
async fn a_python_handler_runs_warm_with_a_clean_environment() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    rt.put_function(function(
        dir.path(),
        "py",
        "python3.12",
        "index.handler",
        &[("index.py", PY)],
    ));
    // Portico's own environment (here cargo's CARGO_PKG_NAME) does not reach the worker.
    let first = rt
        .invoke(
            "py",
            Bytes::from_static(br#"{"a":1}"#),
            InvokeContext::default(),
        )
        .await
        .unwrap();
    assert!(first.cold);
    assert_eq!(first.function_error, None);
    let v = json(&first.payload);
    assert_eq!(v["echo"], serde_json::json!({"a": 1}));
    assert_eq!(v["request_id"], first.request_id.as_str());
    assert_eq!(
        v["arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:py"
    );
    assert_eq!(v["remaining"], true);
    assert!(
        first
            .log_tail
            .contains(&format!("START RequestId: {}", first.request_id))
    );
    assert!(
        first.log_tail.contains("handling {\"a\": 1}"),
        "{}",
        first.log_tail
    );
    assert!(
        first
            .log_tail
            .contains(&format!("REPORT RequestId: {}", first.request_id))
    );
    // Warm: the same process answers the next one.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = rt
        .invoke("py", Bytes::from_static(b"{}"), InvokeContext::default())
        .await
        .unwrap();
    assert!(!second.cold);
    assert_eq!(json(&second.payload)["pid"], v["pid"]);
    let env = rt
        .invoke(
            "py",
            Bytes::from_static(br#"{"do":"env"}"#),
            InvokeContext::default(),
        )
        .await
        .unwrap();
    let env = json(&env.payload);
    assert_eq!(env["GREETING"], "hello");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "py");
    assert_eq!(env["_HANDLER"], "index.handler");
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["CARGO_PKG_NAME"], serde_json::Value::Null);
}

#[tokio::test]
async fn errors_timeouts_and_crashes_are_reported_as_lambda_does_and_the_pool_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let mut f = function(
        dir.path(),
        "py",
        "python3.12",
        "index.handler",
        &[("index.py", PY)],
    );
    f.timeout = Duration::from_secs(1);
    rt.put_function(f);
    let err = rt
        .invoke(
            "py",
            Bytes::from_static(br#"{"do":"fail"}"#),
            InvokeContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(err.function_error.as_deref(), Some("Unhandled"));
    let doc = json(&err.payload);
    assert_eq!(doc["errorType"], "ValueError");
    assert_eq!(doc["errorMessage"], "bad input");
    assert!(doc["stackTrace"].is_array());
    let timed_out = rt
        .invoke(
            "py",
            Bytes::from_static(br#"{"do":"sleep","secs":5}"#),
            InvokeContext::default(),
        )
        .await
        .unwrap();
    let doc = json(&timed_out.payload);
    assert_eq!(doc["errorType"], "Sandbox.Timedout");
    assert_eq!(
        doc["errorMessage"],
        format!(
            "RequestId: {} Error: Task timed out after 1.00 seconds",
            timed_out.request_id
        )
    );
    let crashed = rt
        .invoke(
            "py",
            Bytes::from_static(br#"{"do":"crash"}"#),
            InvokeContext::default(),
        )
        .await
        .unwrap();
    let doc = json(&crashed.payload);
    assert_eq!(doc["errorType"], "Runtime.ExitError");
    assert_eq!(
        doc["errorMessage"],
        format!(
            "RequestId: {} Error: Runtime exited with error: exit status 3",
            crashed.request_id
        )
    );
    // Each failure replaced its worker; the next call is served.
    let ok = rt
        .invoke("py", Bytes::from_static(b"{}"), InvokeContext::default())
        .await
        .unwrap();
    assert_eq!(ok.function_error, None);
}

#[tokio::test]
async fn an_import_error_is_an_init_error() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    rt.put_function(function(
        dir.path(),
        "broken",
        "python3.12",
        "missing.handler",
        &[("index.py", PY)],
    ));
    let r = rt
        .invoke(
            "broken",
            Bytes::from_static(b"{}"),
            InvokeContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let doc = json(&r.payload);
    assert_eq!(doc["errorType"], "Runtime.ImportModuleError");
    assert!(
        doc["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Unable to import module 'missing'"),
        "{doc}"
    );
}

#[tokio::test]
async fn reserved_concurrency_bounds_workers_and_the_queue_bounds_waiters() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let mut f = function(
        dir.path(),
        "py",
        "python3.12",
        "index.handler",
        &[("index.py", PY)],
    );
    f.reserved_concurrency = Some(2);
    rt.put_function(f);
    let started = Instant::now();
    let mut calls = Vec::new();
    for _ in 0..6 {
        let rt = rt.clone();
        calls.push(tokio::spawn(async move {
            rt.invoke(
                "py",
                Bytes::from_static(br#"{"do":"sleep","secs":0.4}"#),
                InvokeContext::default(),
            )
            .await
        }));
    }
    let mut most = 0;
    while !calls.iter().all(|c| c.is_finished()) {
        most = most.max(rt.workers("py"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let results: Vec<_> = futures_join(calls).await;
    let throttled = results
        .iter()
        .filter(|r| matches!(r, Err(InvokeError::TooManyRequests)))
        .count();
    let ok = results
        .iter()
        .filter(|r| matches!(r, Ok(i) if i.function_error.is_none()))
        .count();
    assert!(most <= 2, "at most 2 workers, saw {most}");
    assert_eq!(ok + throttled, 6);
    assert_eq!(throttled, 0, "4 waiters fit the queue");
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "3 rounds of 0.4 s on 2 workers"
    );
    // Reserved concurrency 0: always throttled.
    let mut z = function(
        dir.path(),
        "zero",
        "python3.12",
        "index.handler",
        &[("index.py", PY)],
    );
    z.reserved_concurrency = Some(0);
    rt.put_function(z);
    assert_eq!(
        rt.invoke("zero", Bytes::new(), InvokeContext::default())
            .await,
        Err(InvokeError::TooManyRequests)
    );
    assert!(matches!(
        rt.invoke("nope", Bytes::new(), InvokeContext::default())
            .await,
        Err(InvokeError::NotFound(_))
    ));
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_full_queue_answers_too_many_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = RuntimeSettings::new(dir.path().join("work"));
    s.queue_bound = 1;
    let rt = Runtime::new(s).unwrap();
    let mut f = function(
        dir.path(),
        "py",
        "python3.12",
        "index.handler",
        &[("index.py", PY)],
    );
    f.reserved_concurrency = Some(1);
    rt.put_function(f);
    let mut calls = Vec::new();
    for _ in 0..3 {
        let rt = rt.clone();
        calls.push(tokio::spawn(async move {
            rt.invoke(
                "py",
                Bytes::from_static(br#"{"do":"sleep","secs":0.5}"#),
                InvokeContext::default(),
            )
            .await
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let results = futures_join(calls).await;
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(InvokeError::TooManyRequests)))
            .count(),
        1,
        "{results:?}"
    );
}

#[tokio::test]
async fn a_node_handler_runs_async_and_callback_style() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    rt.put_function(function(
        dir.path(),
        "js",
        "nodejs20.x",
        "index.handler",
        &[(
            "index.js",
            r#"exports.handler = async (event, context) => {
                 if (event.fail) throw new TypeError("nope");
                 return { got: event, id: context.awsRequestId, greeting: process.env.GREETING };
               };
               exports.cb = (event, context, callback) => callback(null, { cb: true });"#,
        )],
    ));
    let r = rt
        .invoke(
            "js",
            Bytes::from_static(br#"{"x":2}"#),
            InvokeContext::default(),
        )
        .await
        .unwrap();
    let v = json(&r.payload);
    assert_eq!(v["got"], serde_json::json!({"x": 2}));
    assert_eq!(v["id"], r.request_id.as_str());
    assert_eq!(v["greeting"], "hello");
    let e = rt
        .invoke(
            "js",
            Bytes::from_static(br#"{"fail":true}"#),
            InvokeContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(e.function_error.as_deref(), Some("Unhandled"));
    let doc = json(&e.payload);
    assert_eq!(
        (doc["errorType"].as_str(), doc["errorMessage"].as_str()),
        (Some("TypeError"), Some("nope"))
    );
    let mut cb = function(dir.path(), "jscb", "nodejs20.x", "index.cb", &[]);
    cb.code_dir = dir.path().join("js");
    rt.put_function(cb);
    let r = rt
        .invoke("jscb", Bytes::from_static(b"{}"), InvokeContext::default())
        .await
        .unwrap();
    assert_eq!(json(&r.payload), serde_json::json!({"cb": true}));
}

/// A `provided` runtime: a shell bootstrap speaking the Runtime API with curl. This one answers
/// and then never asks for the next invocation (it sleeps): the pool must not wedge.
#[tokio::test]
async fn a_provided_bootstrap_that_never_asks_again_does_not_wedge_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let script = r#"#!/bin/sh
base="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
hdrs=$(mktemp)
body=$(curl -sS -D "$hdrs" "$base/next")
id=$(grep -i '^lambda-runtime-aws-request-id:' "$hdrs" | cut -d' ' -f2 | tr -d '\r')
curl -sS -X POST -d "{\"got\":$body}" "$base/$id/response" >/dev/null
exec sleep 60
"#;
    let mut f = function(
        dir.path(),
        "sh",
        "provided.al2023",
        "ignored",
        &[("bootstrap", script)],
    );
    f.timeout = Duration::from_secs(1);
    f.reserved_concurrency = Some(1);
    rt.put_function(f);
    for i in 0..3 {
        let r = rt
            .invoke(
                "sh",
                Bytes::from(format!("{{\"n\":{i}}}")),
                InvokeContext::default(),
            )
            .await
            .unwrap();
        assert_eq!(json(&r.payload), serde_json::json!({"got": {"n": i}}));
        assert!(
            r.cold,
            "each call needs a new worker: the last one never asked again"
        );
    }
}

#[tokio::test]
async fn versions_keep_the_function_name_and_share_reserved_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let mut latest = function(
        dir.path(),
        "py",
        "python3.12",
        "index.handler",
        &[("index.py", PY)],
    );
    latest.reserved_concurrency = Some(1);
    let mut v1 = latest.clone();
    v1.version = "1".into();
    rt.set_functions(vec![latest, v1]);
    let env = rt
        .invoke(
            &portico_functions::version_key("py", "1"),
            Bytes::from_static(br#"{"do":"env"}"#),
            InvokeContext::default(),
        )
        .await
        .unwrap();
    let env = json(&env.payload);
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "py");
    assert_eq!(
        env.get("AWS_LAMBDA_FUNCTION_VERSION"),
        None,
        "not asked for"
    );
    // One slot for both versions: two 0.4 s calls take 0.8 s.
    let started = Instant::now();
    let a = {
        let rt = rt.clone();
        tokio::spawn(async move {
            rt.invoke(
                "py",
                Bytes::from_static(br#"{"do":"sleep","secs":0.4}"#),
                InvokeContext::default(),
            )
            .await
        })
    };
    let b = {
        let rt = rt.clone();
        tokio::spawn(async move {
            rt.invoke(
                "py:1",
                Bytes::from_static(br#"{"do":"sleep","secs":0.4}"#),
                InvokeContext::default(),
            )
            .await
        })
    };
    assert!(a.await.unwrap().unwrap().function_error.is_none());
    assert!(b.await.unwrap().unwrap().function_error.is_none());
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_handler_that_floods_its_output_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let flood = r#"
import sys
def handler(event, context):
    line = "x" * 100
    for _ in range(100000):
        sys.stdout.write(line + "\n")
    sys.stdout.write("y" * 100000 + "\n")
    sys.stdout.flush()
    return "done"
"#;
    rt.put_function(function(
        dir.path(),
        "flood",
        "python3.12",
        "index.handler",
        &[("index.py", flood)],
    ));
    let started = Instant::now();
    let r = rt
        .invoke("flood", Bytes::new(), InvokeContext::default())
        .await
        .unwrap();
    assert_eq!(json(&r.payload), serde_json::json!("done"));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // 10 MB of output: the tail keeps 4 KB, a 100 KB line is cut.
    assert!(r.log_tail.len() <= 4096 + 200, "{}", r.log_tail.len());
    assert!(r.log_tail.contains("REPORT RequestId"));
}
