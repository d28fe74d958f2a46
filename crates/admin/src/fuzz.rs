//! The body of the cargo-fuzz target `sigv4` in `fuzz/`, kept here so that
//! `tests/fuzz_corpus.rs` replays every seed corpus file through exactly the same code on each
//! `cargo test`. Not a stable API.
//!
//! An input is an HTTP request as text: a request line (`METHOD TARGET [VERSION]`), header lines
//! (`name: value`), an empty line and the body. It is checked two ways:
//!
//! 1. as is, with strings the `http` crate would never produce, [`verify`] answers and never
//!    panics (the clock is set to the request's `X-Amz-Date` when it has one, so that the
//!    signature itself gets checked); [`Credentials::parse`] reads the header block;
//! 2. when the request is one a client could send (a valid method, request target, header names
//!    and visible-ASCII header values), it is signed by a reference signer written after the AWS
//!    SDK's (`aws-sigv4`: normalised path and query encoded with RFC 3986's unreserved set,
//!    header values trimmed of spaces with runs of spaces squeezed, every header signed), and
//!    the verifier must accept it, and refuse it once the body changes.
//!
//! A crash is a panic (or an abort: stack overflow, out of memory, a libFuzzer timeout).

// A fuzz harness reports a broken invariant by panicking: that is what libFuzzer catches.
#![allow(clippy::panic)]

use crate::sigv4::{Credentials, Rejection, SignedRequest, parse_amz_date, verify};
use axum::http::{HeaderName, HeaderValue, Method, uri::PathAndQuery};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The access key the target signs with.
pub const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
/// Its secret (AWS's documented example).
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// The time the reference signer signs at.
pub const DATE: &str = "20150830T123600Z";

/// A request as the fuzzer wrote it.
struct Parsed<'a> {
    method: &'a str,
    target: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: &'a [u8],
}

fn parse<'a>(head: &'a str, body: &'a [u8]) -> Option<Parsed<'a>> {
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next()?;
    let (method, rest) = request_line.split_once(' ')?;
    let target = match rest.rsplit_once(' ') {
        Some((t, version)) if version.starts_with("HTTP/") => t,
        _ => rest,
    };
    let headers = lines.filter_map(|l| l.split_once(':')).collect();
    Some(Parsed {
        method,
        target,
        headers,
        body,
    })
}

/// `sigv4`: see the module documentation.
pub fn verify_one(data: &[u8]) {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &b""[..]),
    };
    let head = String::from_utf8_lossy(head);
    let _ = Credentials::parse(&head);
    let Some(p) = parse(&head, body) else {
        return;
    };
    let creds = Credentials::single(ACCESS_KEY_ID, SECRET);
    let fallback = parse_amz_date(DATE).unwrap_or_default();

    // 1. As written.
    let (path, query) = match p.target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (p.target, None),
    };
    let headers: Vec<(String, String)> = p
        .headers
        .iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let now = headers
        .iter()
        .find(|(k, _)| k == "x-amz-date")
        .and_then(|(_, v)| parse_amz_date(v))
        .unwrap_or(fallback);
    let raw = SignedRequest {
        method: p.method,
        path,
        query,
        headers,
        body: p.body,
    };
    let _ = verify(&creds, &raw, now);
    let _ = verify(&creds, &raw, fallback);

    // 2. Signed by the reference signer.
    let Ok(method) = Method::from_bytes(p.method.as_bytes()) else {
        return;
    };
    let Ok(target) = p.target.parse::<PathAndQuery>() else {
        return;
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for (k, v) in &p.headers {
        // What hyper hands over: a valid name, lowercased; the value without surrounding
        // spaces and tabs.
        let v = v.trim_matches([' ', '\t']);
        let (Ok(k), Ok(_)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) else {
            return;
        };
        // The AWS SDK signs visible ASCII only.
        if !v.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)) {
            return;
        }
        if !matches!(
            k.as_str(),
            "authorization" | "x-amz-date" | "x-amz-content-sha256"
        ) {
            headers.push((k.as_str().to_owned(), v.to_owned()));
        }
    }
    if !headers.iter().any(|(k, _)| k == "host") {
        headers.push(("host".to_owned(), "example.amazonaws.com".to_owned()));
    }
    headers.push(("x-amz-date".to_owned(), DATE.to_owned()));
    let authorization = sign(method.as_str(), &target, &headers, p.body);
    headers.push(("authorization".to_owned(), authorization));
    let mut req = SignedRequest {
        method: method.as_str(),
        path: target.path(),
        query: target.query(),
        headers,
        body: p.body,
    };
    if let Err(e) = verify(&creds, &req, fallback) {
        panic!(
            "a request signed like the AWS SDK does is refused: {e:?}\n{} {} {:?}",
            req.method, target, req.headers
        );
    }
    let mut changed = p.body.to_vec();
    changed.push(b'!');
    req.body = &changed;
    if !matches!(verify(&creds, &req, fallback), Err(Rejection::Invalid(_))) {
        panic!("a changed body is accepted");
    }
}

/// RFC 3986 unreserved characters stay, everything else is `%XX` (the SDK's `BASE_SET`).
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The SDK's path normalisation: empty and `.` segments dropped, `..` pops, a trailing slash
/// kept; then every segment encoded (again).
fn canonical_uri(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            s => kept.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(&kept.iter().map(|s| encode(s)).collect::<Vec<_>>().join("/"));
    let trailing = ["/", "/.", "/./", "/..", "/../"]
        .iter()
        .any(|s| path.ends_with(s));
    if trailing && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// `application/x-www-form-urlencoded` pairs, decoded, re-encoded and sorted.
fn canonical_query(query: Option<&str>) -> String {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut pairs: Vec<(String, String)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&decode(k)), encode(&decode(v)))
        })
        .collect();
    pairs.sort();
    let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join("&")
}

/// The SDK's `trim_all`: spaces (only spaces) trimmed, runs of spaces squeezed to one.
fn trim_spaces(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.trim_matches(' ').chars() {
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    out
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(e) => panic!("HMAC key: {e}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Authorization` header for a request signing every header it has.
fn sign(method: &str, target: &PathAndQuery, headers: &[(String, String)], body: &[u8]) -> String {
    let mut names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut canonical_headers = String::new();
    for name in &names {
        let values = headers.iter().filter(|(k, _)| k == name);
        let values: Vec<String> = values.map(|(_, v)| trim_spaces(v)).collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let signed_headers = names.join(";");
    let canonical_request = format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        canonical_uri(target.path()),
        canonical_query(target.query()),
        hex(&Sha256::digest(body))
    );
    let day = &DATE[..8];
    let scope = format!("{day}/us-east-1/apigateway/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{DATE}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let key = hmac(format!("AWS4{SECRET}").as_bytes(), day.as_bytes());
    let key = hmac(&key, b"us-east-1");
    let key = hmac(&key, b"apigateway");
    let key = hmac(&key, b"aws4_request");
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/{scope}, SignedHeaders={signed_headers}, \
         Signature={signature}"
    )
}
