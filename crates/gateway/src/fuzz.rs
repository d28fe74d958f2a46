//! The gateway's parts of the cargo-fuzz targets in `fuzz/`, kept here so that
//! `tests/fuzz_corpus.rs` replays every seed corpus file through exactly the same code on each
//! `cargo test`. Not a stable API.
//!
//! * [`route_one`] (target `router`, next to `portico_router::fuzz::find_one`): addressing
//!   ([`crate::addressing::resolve`]), then integration URI templates ([`crate::uri`]) rendered
//!   with the path parameters a router extracted;
//! * [`access_log_one`] (target `access_log_format`): [`AccessLogFormat::parse`] and render;
//! * [`templates_one`] (target `gateway_templates`): the first byte picks one of the deploy-time
//!   parsers: mapping expressions ([`Source::parse`] and evaluation), model schemas and request
//!   validation ([`ModelSet`], [`RequestValidation`]), MOCK status codes
//!   ([`mock_status_code`]), gateway response templates ([`GatewayResponses`]), mapping
//!   templates rendered with API Gateway's objects ([`MappingTemplate`]), and binary media
//!   types and content handling ([`crate::binary`]).
//!
//! All of them run at deploy time on what an API owner configured, or per request on what a
//! client sent: none may panic. A crash is a panic (or an abort: stack overflow, out of memory,
//! a libFuzzer timeout).

// A fuzz harness reports a broken invariant by panicking: that is what libFuzzer catches.
#![allow(clippy::panic)]

use crate::access_log::{AccessLogFormat, AccessLogRecord, clf_time};
use crate::addressing::{Style, resolve};
use crate::binary::{BinaryTypes, ContentHandling};
use crate::gateway_response::{GatewayError, GatewayResponses};
use crate::mapping::{MappingTemplate, mock_status_code};
use crate::params::{Env, ParsedBodies, Side, Source, query_values};
use crate::templating::TemplateInputs;
use crate::uri::{UriTemplate, substitute_stage_variables};
use crate::validation::{Invalid, ModelSet, RequestValidation};
use http::HeaderMap;
use http_body::Body as _;
use percent_encoding::percent_decode_str;
use portico_model::{GatewayResponse, Map, Method, Model, RequestValidator};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// router: addressing and URI templates

/// The routes whose parameters fill the URI templates of [`route_one`].
const ROUTES: &[&str] = &["/pets/{id}", "/files/{proxy+}", "/{proxy+}"];

/// `router` (gateway part). The input is `HOST PATH` (split at the first space; an empty host
/// is none), bytes that are not UTF-8 replaced.
///
/// * [`resolve`] never panics, and what it answers is a split of the request: a non-empty API
///   id (without `.` for host style: the first label of the host, whatever its characters; the
///   API lookup refuses what is not an id; without `/` for path style), a stage without `/`, a
///   path starting with `/`, and the request path is rebuilt from them;
/// * for a path the `http` crate accepts, the address's path is routed and the parameters fill
///   `http://backend:8080/base/{id}/x?fixed=1` and `http://backend:8080/base/{proxy}`: rendering
///   succeeds, a parameter stays inside its segment(s) (no `/` from `{id}`, no `?` or `#` from
///   either, no `.` or `..` segment), decodes back to its value, and the client's query follows
///   the template's;
/// * the path is also compiled as a template (`http://b{path}`); if it compiles, rendering it
///   with hostile parameter values succeeds.
pub fn route_one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (host, target) = text.split_once(' ').unwrap_or(("", &text));
    let host = (!host.is_empty()).then_some(host);

    check_address(host, target);
    check_address(None, target);

    let vars = BTreeMap::from([("backend".to_owned(), "127.0.0.1:9".to_owned())]);
    let substituted = substitute_stage_variables(target, &vars);
    if !target.contains("${stageVariables.") && substituted != target {
        panic!("substitution changed {target:?} into {substituted:?}");
    }

    // What the gateway sees: the path and query of a parsed request target.
    let Ok(pq) = target.parse::<http::uri::PathAndQuery>() else {
        return;
    };
    if let Some(address) = resolve(host, pq.path()) {
        let mut b = portico_router::RouterBuilder::new();
        for path in ROUTES {
            if let Err(e) = b.add(path, "ANY", ()) {
                panic!("route {path}: {e}");
            }
        }
        let router = b.build();
        if let Some(m) = router.find("GET", address.path).found() {
            check_render(&m.params, pq.query());
        }
    }
    check_template_from_input(pq.as_str());
}

fn check_address(host: Option<&str>, path: &str) {
    let Some(a) = resolve(host, path) else {
        return;
    };
    if a.api_id.is_empty() || !a.path.starts_with('/') {
        panic!("{host:?} {path:?} resolved to {a:?}");
    }
    if a.stage.contains('/') {
        panic!("{host:?} {path:?}: stage {:?} has a '/'", a.stage);
    }
    match a.style {
        Style::Host => {
            if a.api_id.contains('.') {
                panic!("{host:?}: API id {:?} has a '.'", a.api_id);
            }
            // `/stage/rest` or `/stage` (path `/`); leading slashes before the stage and
            // before the rest count as one (as AWS routes them).
            let p = path.trim_start_matches('/');
            let (stage, rest) = match p.find('/') {
                Some(i) => (
                    &p[..i],
                    crate::addressing::collapse_leading_slashes(&p[i..]),
                ),
                None => (p, "/"),
            };
            if (stage, rest) != (a.stage, a.path) {
                panic!("{path:?} is not stage {:?} + path {:?}", a.stage, a.path);
            }
        }
        Style::Path => {
            if a.api_id.contains('/') {
                panic!("{path:?}: API id {:?} has a '/'", a.api_id);
            }
            let head = format!("/restapis/{}/{}/_user_request_", a.api_id, a.stage);
            let tail = path.strip_prefix(head.as_str());
            if tail != Some(a.path) && !(a.path == "/" && tail == Some("")) {
                panic!("{path:?} is not {head:?} + {:?}", a.path);
            }
        }
        Style::CustomDomain => panic!("addressing::resolve never answers for a custom domain"),
    }
}

fn template_params(name: &str) -> Option<(String, bool)> {
    match name {
        "id" => Some(("id".into(), false)),
        "proxy" => Some(("proxy".into(), true)),
        _ => None,
    }
}

fn check_render(params: &portico_router::Params, query: Option<&str>) {
    let dec = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let q = query.filter(|q| !q.is_empty());
    if let Some(id) = params.get("id") {
        let t = compile("http://backend:8080/base/{id}/x?fixed=1");
        let Some(uri) = render(&t, params, query) else {
            if id != "." && id != ".." {
                panic!("{{id}} = {id:?} refused as a dot segment");
            }
            return;
        };
        let segs: Vec<&str> = uri.path().split('/').collect();
        let ["", "base", seg, "x"] = segs.as_slice() else {
            panic!("{{id}} = {id:?} escaped its segment: {uri}");
        };
        if *seg == "." || *seg == ".." || dec(seg) != id {
            panic!("{{id}} = {id:?} rendered as {seg:?}: {uri}");
        }
        let want = match q {
            Some(q) => format!("fixed=1&{q}"),
            None => "fixed=1".to_owned(),
        };
        if uri.query() != Some(want.as_str()) {
            panic!("{{id}} = {id:?}, query {query:?}: {uri}");
        }
    }
    if let Some(proxy) = params.get("proxy") {
        let t = compile("http://backend:8080/base/{proxy}");
        let Some(uri) = render(&t, params, query) else {
            if !has_dot_segment(proxy) {
                panic!("{{proxy}} = {proxy:?} refused as a dot segment");
            }
            return;
        };
        let Some(rest) = uri.path().strip_prefix("/base/") else {
            panic!("{{proxy}} = {proxy:?} escaped /base/: {uri}");
        };
        if rest.split('/').any(|s| s == "." || s == "..") || dec(rest) != proxy {
            panic!("{{proxy}} = {proxy:?} rendered as {rest:?}: {uri}");
        }
        if uri.query() != q {
            panic!("{{proxy}} = {proxy:?}, query {query:?}: {uri}");
        }
    }
}

fn compile(uri: &str) -> UriTemplate {
    match UriTemplate::compile(uri, template_params) {
        Ok(t) => t,
        Err(e) => panic!("{uri}: {e}"),
    }
}

/// `None` when a parameter the template uses holds a dot segment (the request is refused).
fn render(
    t: &UriTemplate,
    params: &portico_router::Params,
    query: Option<&str>,
) -> Option<http::Uri> {
    match t.render(|n| params.get(n), query) {
        Ok(u) => Some(u),
        Err(crate::uri::RenderError::DotSegment) => None,
        Err(e) => panic!("params {params:?}, query {query:?}: {e}"),
    }
}

fn has_dot_segment(value: &str) -> bool {
    value.split('/').any(|s| s == "." || s == "..")
}

fn check_template_from_input(path_and_query: &str) {
    let uri = format!("http://b{path_and_query}");
    let Ok(t) = UriTemplate::compile(&uri, template_params) else {
        return;
    };
    let values = ["../a/./b", "a b?c#d%2F", "", "é/\u{0}\\", "..", "x"];
    for (i, id) in values.iter().enumerate() {
        let proxy = values[(i + 1) % values.len()];
        let param = |n: &str| match n {
            "id" => Some(*id),
            "proxy" => Some(proxy),
            _ => None,
        };
        for query in [None, Some("a=1&b"), Some("")] {
            match t.render(param, query) {
                Ok(_) => {}
                Err(crate::uri::RenderError::DotSegment)
                    if has_dot_segment(id) || has_dot_segment(proxy) => {}
                Err(e) => {
                    panic!("{uri} compiled but does not render with {id:?}, {proxy:?}: {e}")
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// access_log_format

/// `access_log_format`. The input (bytes that are not UTF-8 replaced) is a format: compiled,
/// rendered with a fixed record, and compared with a reference renderer (every
/// `$context.<name>` followed by a character that cannot continue a name is the record's value,
/// anything else is text). It is also every string field of a record rendered with the default
/// JSON format, which must stay valid JSON that gives the strings back. The first 8 bytes, when
/// there are 8, are the record's request time.
pub fn access_log_one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let epoch_ms = data
        .first_chunk::<8>()
        .map(|b| u64::from_le_bytes(*b))
        .unwrap_or(1_700_000_000_123);

    let record = fixed_record(epoch_ms);
    let line = AccessLogFormat::parse(&text).render(&record);
    let want = reference_render(&text, &record);
    if line != want {
        panic!("format {text:?} rendered {line:?}, the reference {want:?}");
    }

    // The default JSON line with the input in every string field.
    let s: &str = &text;
    let record = AccessLogRecord {
        request_id: s,
        extended_request_id: s,
        source_ip: s,
        user_agent: s,
        http_method: s,
        resource_path: s,
        resource_id: s,
        path: s,
        status: 502,
        protocol: s,
        response_length: None,
        request_time_epoch_ms: epoch_ms,
        integration_latency_ms: Some(epoch_ms),
        integration_status: None,
        response_latency_ms: epoch_ms,
        api_id: s,
        stage: s,
        domain_name: s,
        error_message: s,
        error_response_type: s,
        api_key_id: "-",
        client_cert: None,
        base_path_matched: None,
        authorizer: None,
        is_canary_request: None,
        route_key: None,
        integration_error: "",
    };
    let line = AccessLogFormat::default().render(&record);
    let v: serde_json::Value = match serde_json::from_str(&line) {
        Ok(v) => v,
        Err(e) => panic!("default format is not JSON ({e}): {line}"),
    };
    let shown = if s.is_empty() { "-" } else { s };
    for key in [
        "requestId",
        "ip",
        "httpMethod",
        "resourcePath",
        "protocol",
        "apiId",
        "stage",
    ] {
        if v[key] != shown {
            panic!("{key} is {}, not {shown:?}", v[key]);
        }
    }
    let latency = epoch_ms.to_string();
    if v["requestTime"] != clf_time(epoch_ms / 1000) || v["responseLatency"] != latency.as_str() {
        panic!("times of {epoch_ms} rendered as {line}");
    }
}

fn fixed_record(epoch_ms: u64) -> AccessLogRecord<'static> {
    AccessLogRecord {
        request_id: "rid",
        extended_request_id: "ext",
        source_ip: "127.0.0.1",
        user_agent: "ua \"x\"",
        http_method: "GET",
        resource_path: "/pets/{id}",
        resource_id: "abc123",
        path: "/dev/pets/1",
        status: 200,
        protocol: "HTTP/1.1",
        response_length: Some(2),
        request_time_epoch_ms: epoch_ms,
        integration_latency_ms: None,
        integration_status: Some(204),
        response_latency_ms: 3,
        api_id: "api",
        stage: "dev",
        domain_name: "",
        error_message: "",
        error_response_type: "",
        api_key_id: "-",
        client_cert: None,
        base_path_matched: None,
        authorizer: None,
        is_canary_request: None,
        route_key: None,
        integration_error: "",
    }
}

/// The value of `$context.<name>` in a record (non-JSON format), `None` for an unknown name.
fn reference_value(name: &str, r: &AccessLogRecord<'_>) -> Option<String> {
    let opt = |v: Option<u64>| v.map_or("-".to_owned(), |n| n.to_string());
    let s = |v: &str| if v.is_empty() { "-" } else { v }.to_owned();
    Some(match name {
        "requestId" => s(r.request_id),
        "extendedRequestId" => s(r.extended_request_id),
        "identity.sourceIp" => s(r.source_ip),
        "identity.userAgent" => s(r.user_agent),
        "identity.caller" | "identity.user" => "-".to_owned(),
        "httpMethod" => s(r.http_method),
        "resourcePath" => s(r.resource_path),
        "resourceId" => s(r.resource_id),
        "path" => s(r.path),
        "status" => r.status.to_string(),
        "protocol" => s(r.protocol),
        "responseLength" => opt(r.response_length),
        "requestTime" => clf_time(r.request_time_epoch_ms / 1000),
        "requestTimeEpoch" => r.request_time_epoch_ms.to_string(),
        "integrationLatency" | "integration.latency" => opt(r.integration_latency_ms),
        "integrationStatus" | "integration.status" => opt(r.integration_status.map(u64::from)),
        "responseLatency" => r.response_latency_ms.to_string(),
        "apiId" => s(r.api_id),
        "stage" => s(r.stage),
        "domainName" => s(r.domain_name),
        "error.message" => s(r.error_message),
        "error.responseType" => s(r.error_response_type),
        "routeKey" => s(r.route_key.unwrap_or("")),
        "integrationErrorMessage" | "integration.error" => s(r.integration_error),
        _ => return None,
    })
}

fn reference_render(format: &str, r: &AccessLogRecord<'_>) -> String {
    const MARK: &str = "$context.";
    let continues = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut rest = format;
    while let Some(i) = rest.find(MARK) {
        out.push_str(&rest[..i]);
        let after = &rest[i + MARK.len()..];
        // Candidate names end where a character that cannot continue a name follows; the
        // dotted names also end at each '.'.
        let found = after
            .char_indices()
            .filter(|(_, c)| !continues(*c))
            .map(|(j, _)| j)
            .chain([after.len()])
            .find_map(|j| reference_value(&after[..j], r).map(|v| (j, v)));
        match found {
            Some((j, v)) => {
                out.push_str(&v);
                rest = &after[j..];
            }
            None => {
                out.push_str(MARK);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// gateway_templates

/// `gateway_templates`: the first byte (modulo 6) picks the parser, the rest is its input
/// (bytes that are not UTF-8 replaced where a string is needed).
pub fn templates_one(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 6 {
        0 => mapping_expression(rest),
        1 => model_validation(rest),
        2 => mock_status(rest),
        3 => gateway_response(rest),
        4 => mapping_template(rest),
        _ => binary(rest),
    }
}

fn split_nul(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, b""),
    }
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, http::HeaderValue::from_static(v));
    }
    h
}

/// Mode 0: `expression\nquery\nbody`. The expression is parsed for both sides and evaluated;
/// the request side refuses `integration.response.*`.
fn mapping_expression(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let expr = lines.next().unwrap_or("");
    let query = lines.next();
    let body = lines.next().unwrap_or("").as_bytes();
    let vars = Map::from([("env".to_owned(), "prod".to_owned())]);
    let client = headers(&[
        ("x-a", "1"),
        ("x-a", "2"),
        ("content-type", "application/json"),
    ]);
    let backend = headers(&[("x-up", "u"), ("link", "<a>; rel=next")]);
    let path = |n: &str| (n == "id").then(|| "7".to_owned());
    let context = || serde_json::json!({"stage": "dev", "identity": {"sourceIp": "1.2.3.4"}});
    let env = Env {
        headers: &client,
        query,
        path: &path,
        body: Some(body),
        context: &context,
        integration_headers: Some(&backend),
        integration_body: Some(body),
        parsed: ParsedBodies::default(),
    };
    for side in [Side::Request, Side::Response] {
        let Ok(source) = Source::parse(expr, &vars, side) else {
            continue;
        };
        let reads_backend = matches!(
            source,
            Source::IntegrationHeader(_)
                | Source::IntegrationMultiHeader(_)
                | Source::IntegrationBody(_)
        );
        if side == Side::Request && reads_backend {
            panic!("{expr:?} reads the integration response in a request mapping");
        }
        if let Source::Literal(l) = &source
            && let Some(inner) = expr
                .trim()
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
            && l != inner
        {
            panic!("literal {expr:?} parsed as {l:?}");
        }
        let _ = env.eval(&source);
    }
    if let Some(name) = expr.strip_prefix("q:") {
        let _ = query_values(query, name);
    }
}

/// The schema of the `Tag` model, which fuzzed schemas may `$ref`.
const TAG_SCHEMA: &str = r#"{"type":"string","pattern":"^[a-z]+$","maxLength":8}"#;

/// Mode 1: `schema\0instance`. The schema is model `Fuzz` (with a second model `Tag` to refer
/// to), required for JSON bodies; `Tag` is the `$default` model. Compiling and validating never
/// panic, and a refusal reads `[...]`.
fn model_validation(data: &[u8]) {
    let (schema, instance) = split_nul(data);
    let model = |name: &str, schema: String| Model {
        id: name.to_lowercase(),
        name: name.to_owned(),
        description: None,
        schema: Some(schema),
        content_type: "application/json".to_owned(),
    };
    let models = [
        model("Fuzz", String::from_utf8_lossy(schema).into_owned()),
        model("Tag", TAG_SCHEMA.to_owned()),
    ];
    let mut set = ModelSet::new(&models);
    let _ = set.get("Fuzz");
    let mut method = Method::new("POST");
    method
        .request_models
        .insert("application/json".to_owned(), "Fuzz".to_owned());
    method
        .request_models
        .insert("$default".to_owned(), "Tag".to_owned());
    method
        .request_parameters
        .insert("method.request.querystring.q".to_owned(), true);
    method
        .request_parameters
        .insert("method.request.header.x-h".to_owned(), true);
    method.request_validator_id = Some("v".to_owned());
    let validators = [RequestValidator {
        id: "v".to_owned(),
        name: None,
        validate_request_body: true,
        validate_request_parameters: true,
    }];
    let Some(v) =
        RequestValidation::compile(&method, &validators, "/pets/{id}", &mut set, &mut |_| {})
    else {
        panic!("a validator with required parameters compiled to nothing");
    };
    let query = std::str::from_utf8(instance).ok();
    if v.check_parameters(&HeaderMap::new(), query).is_none() {
        panic!("the required header x-h was not missed (query {query:?})");
    }
    for content_type in [
        None,
        Some("application/json; charset=utf-8"),
        Some("text/plain"),
    ] {
        match v.check_body(content_type, instance) {
            Some(Invalid::Body(m)) if !(m.starts_with('[') && m.ends_with(']')) => {
                panic!("validation message {m:?}")
            }
            Some(Invalid::Parameters(p)) => panic!("body check reported parameters {p:?}"),
            _ => {}
        }
    }
}

/// Mode 2: a rendered MOCK template. An empty one selects 200.
fn mock_status(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let got = mock_status_code(&text);
    if text.trim().is_empty() && got != Some(200) {
        panic!("empty template selected {got:?}");
    }
    let (t, error) = MappingTemplate::compile(&text);
    if t.is_static() && (error.is_some() || t.mock_status() != got) {
        panic!(
            "static template {text:?}: {error:?}, {:?} != {got:?}",
            t.mock_status()
        );
    }
}

/// Mode 3: `status\nheader source\ntemplate`, put as `DEFAULT_4XX` and `INTEGRATION_TIMEOUT`,
/// rendered for three errors with request values that contain line breaks.
fn gateway_response(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let status = lines.next().unwrap_or("");
    let header_source = lines.next().unwrap_or("");
    let template = lines.next().unwrap_or("");
    let put = |kind: &str| GatewayResponse {
        response_type: kind.to_owned(),
        status_code: Some(status.to_owned()),
        response_parameters: Map::from([
            (
                "gatewayresponse.header.X-Fuzz".to_owned(),
                header_source.to_owned(),
            ),
            (
                "gatewayresponse.header.X-Lit".to_owned(),
                "'lit'".to_owned(),
            ),
            (format!("gatewayresponse.header.{status}"), "'v'".to_owned()),
        ]),
        response_templates: Map::from([(header_source.to_owned(), template.to_owned())]),
        default_response: false,
    };
    let put = Map::from([
        ("DEFAULT_4XX".to_owned(), put("DEFAULT_4XX")),
        ("INTEGRATION_TIMEOUT".to_owned(), put("INTEGRATION_TIMEOUT")),
    ]);
    let responses = GatewayResponses::compile(&put, |_| {});
    let _ = responses.reads_request();
    let lookup = |name: &str| Some(format!("{name}\r\n\"é"));
    let want_status = status
        .parse::<u16>()
        .ok()
        .and_then(|s| http::StatusCode::from_u16(s).ok());
    for err in [
        GatewayError::missing_authentication_token(),
        GatewayError::integration_timeout(),
        GatewayError::bad_request_body("[\"$context.error.message\"]".to_owned()),
    ] {
        let mut resp = responses.render_for(&err, &lookup);
        if resp.status() != want_status.unwrap_or(err.status) {
            panic!("status {status:?} rendered as {}", resp.status());
        }
        let body = read_body(resp.body_mut());
        if !template.contains('$') && body != template.as_bytes() {
            panic!("static template {template:?} rendered as {body:?}");
        }
    }
}

fn read_body(body: &mut crate::GatewayBody) -> Vec<u8> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut out = Vec::new();
    let mut body = std::pin::Pin::new(body);
    while let std::task::Poll::Ready(Some(frame)) = body.as_mut().poll_frame(&mut cx) {
        match frame.map(http_body::Frame::into_data) {
            Ok(Ok(d)) => out.extend_from_slice(&d),
            Ok(Err(_)) => {}
            Err(e) => panic!("buffered body failed: {e}"),
        }
    }
    out
}

/// Mode 4: `template\0body`: a mapping template rendered with `$input`, `$util`, `$context` and
/// `$stageVariables`; a static one renders as itself.
fn mapping_template(data: &[u8]) {
    let (template, body) = split_nul(data);
    let Ok(template) = std::str::from_utf8(template) else {
        return;
    };
    let (t, _) = MappingTemplate::compile(template);
    let inputs = TemplateInputs {
        body: bytes::Bytes::copy_from_slice(body),
        path: vec![("id".into(), "7".into())],
        query: vec![("q".into(), "x y".into())],
        headers: vec![("X-Client".into(), "c".into())],
        context: crate::templating::context_value(
            serde_json::json!({"requestId": "rid", "stage": "dev", "identity": {"sourceIp": "1.2.3.4"}}),
        ),
        stage_variables: crate::templating::stage_variables(
            &[("env".to_owned(), "test".to_owned())].into(),
        ),
        overrides: None,
    };
    match t.render_full(inputs) {
        Ok((out, overrides)) => {
            if t.is_static() && out != template.as_bytes() {
                panic!("static template {template:?} rendered as {out:?}");
            }
            if overrides.status.is_some_and(|s| !(100..600).contains(&s)) {
                panic!("status override {:?}", overrides.status);
            }
        }
        Err(_) => {
            if t.is_static() {
                panic!("static template {template:?} failed to render");
            }
        }
    }
}

/// Mode 5: `binary media types (comma-separated)\ncontent type\npayload`: matching never
/// panics; converting to text and back gives the payload back.
fn binary(data: &[u8]) {
    let (head, payload) = data
        .iter()
        .position(|b| *b == b'\n')
        .map_or((data, &b""[..]), |i| (&data[..i], &data[i + 1..]));
    let (types, content_type) = split_nul(head);
    let types: Vec<String> = String::from_utf8_lossy(types)
        .split(',')
        .map(str::to_owned)
        .collect();
    let content_type = String::from_utf8_lossy(content_type);
    let _ = BinaryTypes::new(&types).matches(Some(&content_type));
    let _ = ContentHandling::parse(Some(&content_type));
    let payload = bytes::Bytes::copy_from_slice(payload);
    let text = match ContentHandling::ConvertToText.convert(payload.clone(), true) {
        Ok(t) => t,
        Err(e) => panic!("encoding failed: {e}"),
    };
    match ContentHandling::ConvertToBinary.convert(text, false) {
        Ok(back) if back == payload => {}
        other => panic!("{payload:?} came back as {other:?}"),
    }
    let _ = ContentHandling::ConvertToBinary.convert(payload, false);
}
