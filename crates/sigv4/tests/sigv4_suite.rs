//! Our SigV4 verifier against AWS's own signing test suite (shipped inside the `aws-sigv4` crate,
//! a dev-dependency): every signed request of the suite verifies, and the same request with one
//! byte changed does not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use portico_sigv4::{Credentials, SignedRequest, parse_amz_date, verify_for};
use std::path::PathBuf;

fn suite_dir() -> Option<PathBuf> {
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok()?;
    let src = home.join("registry").join("src");
    let mut found = None;
    for index in std::fs::read_dir(src).ok()?.flatten() {
        for krate in std::fs::read_dir(index.path()).ok()?.flatten() {
            let name = krate.file_name().to_string_lossy().into_owned();
            if name.starts_with("aws-sigv4-1.") {
                let dir = krate.path().join("aws-signing-test-suite").join("v4");
                if dir.is_dir() {
                    found = Some(dir);
                }
            }
        }
    }
    found
}

struct Parsed {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn parse_request(text: &str) -> Parsed {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    let target = rest.rsplit_once(' ').map(|(t, _)| t).unwrap_or(rest);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target.to_owned(), None),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = headers.last_mut() {
                last.1.push('\n');
                last.1.push_str(line);
            }
            continue;
        }
        let (k, v) = line.split_once(':').unwrap();
        headers.push((k.trim().to_ascii_lowercase(), v.to_owned()));
    }
    Parsed {
        method: method.to_owned(),
        path,
        query,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn every_signed_request_of_the_aws_suite_verifies_and_tampering_is_caught() {
    let Some(dir) = suite_dir() else {
        println!("skipped: the aws-sigv4 crate's test suite was not found in the cargo registry");
        return;
    };
    let mut checked = 0;
    for case in std::fs::read_dir(&dir).unwrap().flatten() {
        let context = case.path().join("context.json");
        let signed = case.path().join("header-signed-request.txt");
        if !context.is_file() || !signed.is_file() {
            continue;
        }
        let ctx: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&context).unwrap()).unwrap();
        let creds = Credentials::single(
            ctx["credentials"]["access_key_id"].as_str().unwrap(),
            ctx["credentials"]["secret_access_key"].as_str().unwrap(),
        );
        let service = ctx["service"].as_str().unwrap();
        let normalize = ctx["normalize"].as_bool().unwrap_or(true);
        let when = ctx["timestamp"].as_str().unwrap().replace(['-', ':'], "");
        let now = parse_amz_date(&when).unwrap();
        let text = std::fs::read_to_string(&signed).unwrap();
        let p = parse_request(&text);
        let req = SignedRequest {
            method: &p.method,
            path: &p.path,
            query: p.query.as_deref(),
            headers: p.headers.clone(),
            body: &p.body,
        };
        let name = case.file_name().to_string_lossy().into_owned();
        assert_eq!(
            verify_for(&creds, &req, now, service, normalize),
            Ok(()),
            "suite case {name} should verify"
        );
        // One changed signed header value must break it.
        let mut tampered = p.headers.clone();
        if let Some(h) = tampered.iter_mut().find(|(k, _)| k == "host") {
            h.1.push('x');
        }
        let bad = SignedRequest {
            headers: tampered,
            ..req
        };
        assert!(
            verify_for(&creds, &bad, now, service, normalize).is_err(),
            "suite case {name}: tampered host accepted"
        );
        checked += 1;
    }
    assert!(
        checked >= 20,
        "only {checked} suite cases found in {}",
        dir.display()
    );
    println!("verified {checked} AWS SigV4 suite cases");
}
