//! The body of the cargo-fuzz target `router` in `fuzz/`, kept here so that
//! `tests/fuzz_corpus.rs` replays every seed corpus file through exactly the same code on each
//! `cargo test`. Not a stable API.
//!
//! An input is `METHOD PATH` (split at the first space; without one the method is `GET`), bytes
//! that are not UTF-8 replaced. It is used three ways:
//!
//! 1. looked up as a request in two fixed routers (with and without a root `{proxy+}`), and the
//!    answer compared with a brute-force reference matcher (the same rules as the property test
//!    in `tests.rs`: literal < parameter < greedy at the first differing segment, then an exact
//!    method before `ANY`);
//! 2. added as a *resource path* to a builder holding the fixed routes: the verdict (accepted,
//!    duplicate, conflicting variable, repeated parameter, malformed) must match a reference
//!    validator, a refused route must leave the builder unchanged, and an accepted route must be
//!    found again by the request paths it stands for;
//! 3. [`Router::explain`] of each router, which must list every route.
//!
//! A crash is a panic (or an abort: stack overflow, out of memory, a libFuzzer timeout).

// A fuzz harness reports a broken invariant by panicking: that is what libFuzzer catches.
#![allow(clippy::panic)]

use crate::{Lookup, RouteError, Router, RouterBuilder};
use percent_encoding::percent_decode_str;

/// The fixed routes (`METHOD /path`) of the first router; the second adds `ANY /{proxy+}`.
pub const ROUTES: &[&str] = &[
    "GET /",
    "GET /pets",
    "POST /pets",
    "ANY /pets",
    "GET /pets/dog",
    "GET /pets/{petId}",
    "DELETE /pets/{petId}",
    "GET /pets/{petId}/toys/{toyId}",
    "POST /a/x/{d}",
    "GET /a/{b}/c",
    "GET /files/{proxy+}",
    "PUT /files/{name}",
    "GET /caf\u{e9}",
    "GET /~user/v1.0/{id}",
    "ANY /p/{p}/{q+}",
];

/// The route added to [`ROUTES`] in the second router.
pub const ROOT_GREEDY: &str = "ANY /{proxy+}";

type Value = (String, String);
/// `(resource path, method, params)` of a match.
type Found = (String, String, Vec<(String, String)>);

fn routes(with_root_greedy: bool) -> Vec<(String, String)> {
    let extra = with_root_greedy.then_some(ROOT_GREEDY);
    ROUTES
        .iter()
        .copied()
        .chain(extra)
        .filter_map(|r| r.split_once(' '))
        .map(|(m, p)| (p.to_owned(), m.to_owned()))
        .collect()
}

fn builder(routes: &[(String, String)]) -> RouterBuilder<Value> {
    let mut b = RouterBuilder::new();
    for (path, method) in routes {
        if let Err(e) = b.add(path, method, (path.clone(), method.clone())) {
            panic!("fixed route {method} {path}: {e}");
        }
    }
    b
}

/// `router`: see the module documentation.
pub fn find_one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (method, path) = text.split_once(' ').unwrap_or(("GET", &text));

    for with_root_greedy in [false, true] {
        let accepted = routes(with_root_greedy);
        let router = builder(&accepted).build();
        check_find(&router, &accepted, method, path);
        check_explain(&router, &accepted);

        // The input as a resource path.
        let mut b = builder(&accepted);
        let got = b.add(path, method, (path.to_owned(), method.to_owned()));
        let want = ref_add(&accepted, path, method);
        if got.as_ref().err().map(kind) != want {
            panic!("add {method:?} {path:?}: got {got:?}, the reference says {want:?}");
        }
        let router = b.build();
        let mut accepted = accepted;
        if got.is_ok() {
            accepted.push((path.to_owned(), method.to_owned()));
        }
        if router.len() != accepted.len() {
            panic!(
                "{} routes after add, {} expected",
                router.len(),
                accepted.len()
            );
        }
        check_explain(&router, &accepted);
        check_find(&router, &accepted, method, path);
        if got.is_ok() {
            for request in instances(path) {
                let found = check_find(&router, &accepted, method, &request);
                if found.is_none() {
                    panic!("{method} {request:?} does not find the route {path:?} just added");
                }
            }
        }
    }
}

/// Looks `method path` up in `router` and in the reference; both must agree.
fn check_find(
    router: &Router<Value>,
    accepted: &[(String, String)],
    method: &str,
    path: &str,
) -> Option<Found> {
    let got = match router.find(method, path) {
        Lookup::Found(m) => {
            if m.resource_path != m.value.0 {
                panic!(
                    "{method} {path:?}: resource_path {:?} but value {:?}",
                    m.resource_path, m.value
                );
            }
            let params = m.params.iter();
            let params = params.map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            Some((m.value.0.clone(), m.value.1.clone(), params))
        }
        Lookup::NotFound => None,
    };
    let want = ref_find(accepted, method, path);
    if got != want {
        panic!("{method} {path:?}: router found {got:?}, the reference {want:?}");
    }
    got
}

fn check_explain(router: &Router<Value>, accepted: &[(String, String)]) {
    let table = router.explain();
    if table.lines().count() != accepted.len() {
        panic!(
            "explain lists {} routes, not {}",
            table.lines().count(),
            accepted.len()
        );
    }
    for (path, method) in accepted {
        let listed = table.lines().any(|line| {
            let mut cols = line.split_whitespace().skip(1);
            cols.next() == Some(method.as_str()) && cols.next() == Some(path.as_str())
        });
        if !listed {
            panic!("explain does not list {method} {path}:\n{table}");
        }
    }
}

/// Request paths that an accepted resource path stands for: every `{p}` replaced by a value,
/// `{p+}` by one or two segments; with and without a trailing slash.
fn instances(resource: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (one, rest) in [("v", "w"), ("%76", "x/y%2Fz")] {
        let segs = resource.split('/').map(|s| match s.strip_prefix('{') {
            Some(p) if p.ends_with("+}") => rest,
            Some(_) => one,
            None => s,
        });
        let p = segs.collect::<Vec<_>>().join("/");
        out.push(format!("{p}/"));
        out.push(p);
    }
    out
}

fn kind(e: &RouteError) -> &'static str {
    match e {
        RouteError::Duplicate { .. } => "duplicate",
        RouteError::ConflictingVariable { .. } => "conflict",
        RouteError::DuplicateParam { .. } => "dup-param",
        RouteError::InvalidMethod { .. } => "method",
        RouteError::MissingLeadingSlash { .. }
        | RouteError::EmptySegment { .. }
        | RouteError::MalformedSegment { .. }
        | RouteError::GreedyNotLast { .. } => "syntax",
    }
}

// ---------------------------------------------------------------------------------------------
// Reference: brute force, written from the rules in the crate documentation.

/// What `add` should answer given the routes accepted so far: `None` = accept.
pub(crate) fn ref_add(
    accepted: &[(String, String)],
    path: &str,
    method: &str,
) -> Option<&'static str> {
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Some("method");
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Some("syntax");
    };
    let segs: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    };
    let literal_ok = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || "-._~:@!$&'()*+,;=".contains(c))
    };
    // Segment by segment, so that the first problem is the one reported.
    let mut names: Vec<&str> = Vec::new();
    let mut after_greedy = false;
    for s in &segs {
        if s.is_empty() || after_greedy {
            return Some("syntax");
        }
        match s.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
            Some(v) => {
                let (name, greedy) = match v.strip_suffix('+') {
                    Some(n) => (n, true),
                    None => (v, false),
                };
                if !name_ok(name) {
                    return Some("syntax");
                }
                if names.contains(&name) {
                    return Some("dup-param");
                }
                names.push(name);
                after_greedy = greedy;
            }
            None if literal_ok(s) => {}
            None => return Some("syntax"),
        }
    }
    for (p, m) in accepted {
        if p == path && m == method {
            return Some("duplicate");
        }
        let other: Vec<&str> = p.split('/').skip(1).filter(|s| !s.is_empty()).collect();
        // The first position where the two resource paths differ textually.
        if let Some((a, b)) = segs.iter().zip(&other).find(|(a, b)| a != b)
            && a.starts_with('{')
            && b.starts_with('{')
            && a.ends_with("+}") == b.ends_with("+}")
        {
            return Some("conflict");
        }
    }
    None
}

/// The best match among `routes`: ranked by the kinds of its parts (literal < parameter <
/// greedy, compared position by position), then by method (exact before `ANY`).
pub(crate) fn ref_find(routes: &[(String, String)], method: &str, path: &str) -> Option<Found> {
    let p = path.strip_prefix('/')?;
    let p = p.strip_suffix('/').unwrap_or(p);
    let req: Vec<&str> = if p.is_empty() {
        Vec::new()
    } else {
        p.split('/').collect()
    };
    let dec = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let mut best: Option<((Vec<u8>, u8), Found)> = None;
    for (rpath, rmethod) in routes {
        let method_rank = match rmethod.as_str() {
            m if m == method => 0,
            "ANY" => 1,
            _ => continue,
        };
        let pat: Vec<&str> = rpath.split('/').skip(1).filter(|s| !s.is_empty()).collect();
        let mut kinds = Vec::new();
        let mut params = Vec::new();
        let mut ok = true;
        let mut consumed_all = false;
        for (i, part) in pat.iter().enumerate() {
            if let Some(name) = part.strip_prefix('{').and_then(|n| n.strip_suffix("+}")) {
                let rest = req.get(i..).map(|r| r.join("/")).unwrap_or_default();
                ok = !rest.is_empty();
                kinds.push(2);
                params.push((name.to_owned(), dec(&rest)));
                consumed_all = true;
                break;
            }
            let Some(seg) = req.get(i) else {
                ok = false;
                break;
            };
            if let Some(name) = part.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                ok = !seg.is_empty();
                kinds.push(1);
                params.push((name.to_owned(), dec(seg)));
            } else {
                // Literals compare with the decoded segment byte for byte.
                ok = *seg == *part
                    || (seg.contains('%') && percent_decode_str(seg).eq(part.bytes()));
                kinds.push(0);
            }
            if !ok {
                break;
            }
        }
        if !ok || (!consumed_all && pat.len() != req.len()) {
            continue;
        }
        let key = (kinds, method_rank);
        if best.as_ref().is_none_or(|(k, _)| key < *k) {
            best = Some((key, (rpath.clone(), rmethod.clone(), params)));
        }
    }
    best.map(|(_, m)| m)
}
