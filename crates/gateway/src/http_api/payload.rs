//! The Lambda proxy payloads of HTTP APIs: the event (format 2.0, and 1.0 as HTTP APIs write
//! it) and the function's answer (2.0 with AWS's inference rules; 1.0 strict).
//!
//! 2.0 as AWS sends it: header names lowercase, repeated headers and query values joined with
//! `,`, the `Cookie` header moved into `cookies`, empty parts (`cookies`,
//! `queryStringParameters`, `pathParameters`, `stageVariables`, `body`) left out rather than
//! `null`; `rawPath` and `requestContext.http.path` include a named stage's prefix.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::body::GatewayBody;

/// What the event is built from.
pub(crate) struct EventInput<'a> {
    pub(crate) api_id: &'a str,
    pub(crate) stage: &'a str,
    pub(crate) route_key: &'a str,
    /// The path as the client sent it (with a named stage's prefix), still encoded.
    pub(crate) raw_path: &'a str,
    /// The path inside the stage (what routing matched).
    pub(crate) resource_path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) parts: &'a http::request::Parts,
    pub(crate) path_params: Option<&'a portico_router::Params>,
    pub(crate) stage_variables: &'a portico_model::Map<String>,
    pub(crate) request_id: &'a str,
    pub(crate) source_ip: &'a str,
    pub(crate) domain_name: &'a str,
    pub(crate) epoch_ms: u64,
    pub(crate) body: &'a [u8],
    /// `requestContext.authorizer` (2.0: `{"jwt": …}`), when an authorizer ran.
    pub(crate) authorizer: Option<&'a Value>,
}

/// Whether a request body goes to the function as text: text, JSON, XML and JavaScript media
/// types; anything else (form data, binary, no type) is base64.
fn is_text(content_type: Option<&HeaderValue>) -> bool {
    let Some(ct) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime.starts_with("text/")
        || matches!(
            mime.as_str(),
            "application/json" | "application/xml" | "application/javascript"
        )
        || mime.ends_with("+json")
        || mime.ends_with("+xml")
}

/// The body and whether it is base64.
fn body_field(input: &EventInput<'_>) -> (String, bool) {
    if is_text(input.parts.headers.get(header::CONTENT_TYPE))
        && let Ok(s) = std::str::from_utf8(input.body)
    {
        return (s.to_owned(), false);
    }
    (
        base64::engine::general_purpose::STANDARD.encode(input.body),
        true,
    )
}

/// Query values decoded, in order, per name.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .filter(|q| !q.is_empty())
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode_component(k), decode_component(v))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn decode_component(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

/// `requestContext.http.protocol`.
fn protocol(v: http::Version) -> &'static str {
    crate::exchange::protocol(v)
}

/// The 2.0 event.
pub(crate) fn event_v2(input: &EventInput<'_>) -> Vec<u8> {
    serde_json::to_vec(&Value::Object(event_v2_map(input))).unwrap_or_default()
}

/// A 2.0 Lambda authorizer's event: the request's 2.0 event without the body, with `type`,
/// `routeArn` and the `identitySource` values.
pub(crate) fn authorizer_event_v2(
    input: &EventInput<'_>,
    route_arn: &str,
    identity: &[String],
) -> Vec<u8> {
    let mut e = event_v2_map(input);
    e.remove("body");
    e.remove("isBase64Encoded");
    let mut out = Map::new();
    out.insert("version".into(), json!("2.0"));
    out.insert("type".into(), json!("REQUEST"));
    out.insert("routeArn".into(), json!(route_arn));
    out.insert("identitySource".into(), json!(identity));
    for (k, v) in e {
        if k != "version" {
            out.insert(k, v);
        }
    }
    serde_json::to_vec(&Value::Object(out)).unwrap_or_default()
}

/// A 1.0 Lambda authorizer's event: the 1.0 request event without the body (and without
/// `requestContext.authorizer`), with `type`, `methodArn`, and `identitySource` and
/// `authorizationToken` (both the values comma-joined, as AWS's example shows).
pub(crate) fn authorizer_event_v1(
    input: &EventInput<'_>,
    route_arn: &str,
    identity: &[String],
) -> Vec<u8> {
    let Value::Object(mut e) = event_v1_value(input) else {
        return Vec::new();
    };
    e.remove("body");
    e.remove("isBase64Encoded");
    e.insert("type".into(), json!("REQUEST"));
    e.insert("methodArn".into(), json!(route_arn));
    e.insert("identitySource".into(), json!(identity.join(",")));
    e.insert("authorizationToken".into(), json!(identity.join(",")));
    if let Some(Value::Object(ctx)) = e.get_mut("requestContext") {
        ctx.remove("authorizer");
    }
    serde_json::to_vec(&Value::Object(e)).unwrap_or_default()
}

fn event_v2_map(input: &EventInput<'_>) -> Map<String, Value> {
    let parts = input.parts;
    let mut headers = Map::new();
    let mut cookies: Vec<Value> = Vec::new();
    for (name, value) in &parts.headers {
        let text = String::from_utf8_lossy(value.as_bytes());
        if name == header::COOKIE {
            cookies.extend(
                text.split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| Value::String(c.to_owned())),
            );
            continue;
        }
        match headers.get_mut(name.as_str()) {
            Some(Value::String(prev)) => {
                prev.push(',');
                prev.push_str(&text);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(text.into_owned()));
            }
        }
    }
    let mut query = Map::new();
    for (k, v) in query_pairs(input.query) {
        match query.get_mut(&k) {
            Some(Value::String(prev)) => {
                prev.push(',');
                prev.push_str(&v);
            }
            _ => {
                query.insert(k, Value::String(v));
            }
        }
    }
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let mut ctx = Map::new();
    ctx.insert("accountId".into(), json!(portico_control_account()));
    ctx.insert("apiId".into(), json!(input.api_id));
    if let Some(a) = input.authorizer {
        ctx.insert("authorizer".into(), a.clone());
    }
    ctx.insert("domainName".into(), json!(input.domain_name));
    ctx.insert(
        "domainPrefix".into(),
        json!(input.domain_name.split('.').next().unwrap_or("")),
    );
    ctx.insert(
        "http".into(),
        json!({
            "method": parts.method.as_str(),
            "path": input.raw_path,
            "protocol": protocol(parts.version),
            "sourceIp": input.source_ip,
            "userAgent": user_agent,
        }),
    );
    ctx.insert("requestId".into(), json!(input.request_id));
    ctx.insert("routeKey".into(), json!(input.route_key));
    ctx.insert("stage".into(), json!(input.stage));
    ctx.insert(
        "time".into(),
        json!(crate::access_log::clf_time(input.epoch_ms / 1000)),
    );
    ctx.insert("timeEpoch".into(), json!(input.epoch_ms));

    let mut e = Map::new();
    e.insert("version".into(), json!("2.0"));
    e.insert("routeKey".into(), json!(input.route_key));
    e.insert("rawPath".into(), json!(input.raw_path));
    e.insert("rawQueryString".into(), json!(input.query.unwrap_or("")));
    if !cookies.is_empty() {
        e.insert("cookies".into(), Value::Array(cookies));
    }
    e.insert("headers".into(), Value::Object(headers));
    if !query.is_empty() {
        e.insert("queryStringParameters".into(), Value::Object(query));
    }
    if let Some(p) = input.path_params.filter(|p| !p.is_empty()) {
        let m: Map<String, Value> = p.iter().map(|(k, v)| (k.to_owned(), json!(v))).collect();
        e.insert("pathParameters".into(), Value::Object(m));
    }
    if !input.stage_variables.is_empty() {
        e.insert("stageVariables".into(), json!(input.stage_variables));
    }
    e.insert("requestContext".into(), Value::Object(ctx));
    if !input.body.is_empty() {
        let (body, b64) = body_field(input);
        e.insert("body".into(), json!(body));
        e.insert("isBase64Encoded".into(), json!(b64));
    } else {
        e.insert("isBase64Encoded".into(), json!(false));
    }
    e
}

/// The account id events name (one account per Portico).
fn portico_control_account() -> &'static str {
    "000000000000"
}

/// The 1.0 event as HTTP APIs write it (`version: "1.0"`, lowercase header names, `null` for
/// what is empty).
pub(crate) fn event_v1(input: &EventInput<'_>) -> Vec<u8> {
    serde_json::to_vec(&event_v1_value(input)).unwrap_or_default()
}

fn event_v1_value(input: &EventInput<'_>) -> Value {
    let parts = input.parts;
    let mut headers = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in &parts.headers {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(prev)) => {
                prev.push(',');
                prev.push_str(&text);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), json!(text));
            }
        }
        match multi.get_mut(name.as_str()) {
            Some(Value::Array(list)) => list.push(json!(text)),
            _ => {
                multi.insert(name.as_str().to_owned(), json!([text]));
            }
        }
    }
    let pairs = query_pairs(input.query);
    let (query, mquery) = if pairs.is_empty() {
        (Value::Null, Value::Null)
    } else {
        let mut q = Map::new();
        let mut mq: Map<String, Value> = Map::new();
        for (k, v) in pairs {
            match q.get_mut(&k) {
                Some(Value::String(prev)) => {
                    prev.push(',');
                    prev.push_str(&v);
                }
                _ => {
                    q.insert(k.clone(), json!(v));
                }
            }
            match mq.get_mut(&k) {
                Some(Value::Array(list)) => list.push(json!(v)),
                _ => {
                    mq.insert(k, json!([v]));
                }
            }
        }
        (Value::Object(q), Value::Object(mq))
    };
    let path_params = match input.path_params.filter(|p| !p.is_empty()) {
        Some(p) => Value::Object(p.iter().map(|(k, v)| (k.to_owned(), json!(v))).collect()),
        None => Value::Null,
    };
    let stage_vars = if input.stage_variables.is_empty() {
        Value::Null
    } else {
        json!(input.stage_variables)
    };
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let resource = input
        .route_key
        .split_once(' ')
        .map(|(_, p)| p)
        .unwrap_or(input.route_key);
    let (body, b64) = if input.body.is_empty() {
        (Value::Null, false)
    } else {
        let (b, b64) = body_field(input);
        (json!(b), b64)
    };
    // An `AWS_IAM` signer fills the identity, as in REST's 1.0 events.
    let iam = input.authorizer.and_then(|a| a.get("iam"));
    let from_iam = |k: &str| iam.and_then(|i| i.get(k)).cloned().unwrap_or(Value::Null);
    let e = json!({
        "version": "1.0",
        "resource": resource,
        "path": input.raw_path,
        "httpMethod": parts.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": mquery,
        "requestContext": {
            "accountId": portico_control_account(),
            "apiId": input.api_id,
            "authorizer": match input.authorizer {
                Some(a) => match (a.get("jwt"), a.get("lambda")) {
                    (Some(jwt), _) => jwt.clone(),
                    (None, Some(lambda)) => lambda.clone(),
                    _ if iam.is_some() => Value::Null,
                    _ => json!({"claims": null, "scopes": null}),
                },
                None => json!({"claims": null, "scopes": null}),
            },
            "domainName": input.domain_name,
            "domainPrefix": input.domain_name.split('.').next().unwrap_or(""),
            "extendedRequestId": input.request_id,
            "httpMethod": parts.method.as_str(),
            "identity": {
                "accessKey": from_iam("accessKey"), "accountId": from_iam("accountId"),
                "caller": from_iam("callerId"),
                "cognitoAuthenticationProvider": null, "cognitoAuthenticationType": null,
                "cognitoIdentityId": null, "cognitoIdentityPoolId": null, "principalOrgId": null,
                "sourceIp": input.source_ip, "user": from_iam("userId"), "userAgent": user_agent,
                "userArn": from_iam("userArn"),
            },
            "path": input.raw_path,
            "protocol": protocol(parts.version),
            "requestId": input.request_id,
            "requestTime": crate::access_log::clf_time(input.epoch_ms / 1000),
            "requestTimeEpoch": input.epoch_ms,
            "resourceId": input.route_key,
            "resourcePath": input.resource_path_or(resource),
            "routeKey": input.route_key,
            "stage": input.stage,
        },
        "pathParameters": path_params,
        "stageVariables": stage_vars,
        "body": body,
        "isBase64Encoded": b64,
    });
    e
}

impl EventInput<'_> {
    /// 1.0's `requestContext.resourcePath`: the route's path (the request path for
    /// `$default`).
    fn resource_path_or<'b>(&'b self, route_path: &'b str) -> &'b str {
        if self.route_key == "$default" {
            self.resource_path
        } else {
            route_path
        }
    }
}

/// Why a function's answer cannot be a response (500 Internal Server Error, reason logged).
#[derive(Debug)]
pub(crate) struct Malformed(pub(crate) String);

fn malformed(why: impl Into<String>) -> Malformed {
    Malformed(why.into())
}

fn header_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn status_of(v: &Value) -> Result<StatusCode, Malformed> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| malformed("statusCode is not a number"))?;
    // A final answer: 1xx (and anything past 599) cannot be sent as a response.
    u16::try_from(n)
        .ok()
        .filter(|s| (200..=599).contains(s))
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| malformed("statusCode out of range"))
}

/// A content type guessed from the body, as AWS does when a 2.0 answer names none (Go's
/// `http.DetectContentType` rules for the common cases).
fn sniff(body: &[u8]) -> &'static str {
    let start = body
        .iter()
        .position(|b| !matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' '))
        .unwrap_or(body.len());
    let t = &body[start..];
    let starts_ci = |p: &[u8]| t.len() >= p.len() && t[..p.len()].eq_ignore_ascii_case(p);
    for tag in [
        &b"<!DOCTYPE HTML"[..],
        b"<HTML",
        b"<HEAD",
        b"<SCRIPT",
        b"<IFRAME",
        b"<H1",
        b"<DIV",
        b"<FONT",
        b"<TABLE",
        b"<A",
        b"<STYLE",
        b"<TITLE",
        b"<B",
        b"<BODY",
        b"<BR",
        b"<P",
        b"<!--",
    ] {
        if starts_ci(tag) && t.get(tag.len()).is_some_and(|b| *b == b' ' || *b == b'>') {
            return "text/html; charset=utf-8";
        }
    }
    if t.starts_with(b"<?xml") {
        return "text/xml; charset=utf-8";
    }
    if body.starts_with(b"%PDF-") {
        return "application/pdf";
    }
    if body.starts_with(b"\x89PNG\r\n\x1a\n") {
        return "image/png";
    }
    if body.starts_with(b"GIF87a") || body.starts_with(b"GIF89a") {
        return "image/gif";
    }
    if body.starts_with(b"\xff\xd8\xff") {
        return "image/jpeg";
    }
    if body.starts_with(b"PK\x03\x04") {
        return "application/zip";
    }
    if body.starts_with(b"\x1f\x8b\x08") {
        return "application/x-gzip";
    }
    let binary = body
        .iter()
        .take(512)
        .any(|b| matches!(b, 0x00..=0x08 | 0x0b | 0x0e..=0x1a | 0x1c..=0x1f));
    if binary {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

/// The function's 2.0 answer → the client's response.
pub(crate) fn response_v2(payload: &[u8]) -> Result<Response<GatewayBody>, Malformed> {
    let v: Value = serde_json::from_slice(payload).map_err(|_| malformed("not JSON"))?;
    let o = match v {
        Value::Object(o) if o.contains_key("statusCode") => o,
        // No statusCode: the whole answer is a 200 JSON body (a string as itself).
        other => {
            let body = match other {
                Value::String(s) => s,
                v => v.to_string(),
            };
            let mut resp = Response::new(GatewayBody::full(Bytes::from(body)));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return Ok(resp);
        }
    };
    let status = status_of(&o["statusCode"])?;
    let base64 = match o.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(malformed("isBase64Encoded is not a boolean")),
    };
    let body: Bytes = match o.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) if base64 => Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .map_err(|_| malformed("body is not valid base64"))?,
        ),
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(_) => return Err(malformed("body is not a string")),
    };
    let mut resp = Response::new(GatewayBody::full(body.clone()));
    *resp.status_mut() = status;
    let out = resp.headers_mut();
    match o.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, val) in m {
                let text =
                    header_text(val).ok_or_else(|| malformed("a header value is not text"))?;
                let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(&text),
                ) else {
                    return Err(malformed("a header name or value is not valid"));
                };
                out.append(n, v);
            }
        }
        Some(_) => return Err(malformed("headers is not an object")),
    }
    match o.get("cookies") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for c in list {
                let Value::String(c) = c else {
                    return Err(malformed("a cookie is not a string"));
                };
                let v = HeaderValue::from_str(c).map_err(|_| malformed("a cookie is not valid"))?;
                out.append(header::SET_COOKIE, v);
            }
        }
        Some(_) => return Err(malformed("cookies is not a list")),
    }
    if !out.contains_key(header::CONTENT_TYPE) && !body.is_empty() {
        out.insert(header::CONTENT_TYPE, HeaderValue::from_static(sniff(&body)));
    }
    Ok(resp)
}

/// The function's 1.0 answer → the client's response: `statusCode` is required.
pub(crate) fn response_v1(payload: &[u8]) -> Result<Response<GatewayBody>, Malformed> {
    let v: Value = serde_json::from_slice(payload).map_err(|_| malformed("not JSON"))?;
    let Value::Object(o) = v else {
        return Err(malformed("not a JSON object"));
    };
    let status = status_of(
        o.get("statusCode")
            .ok_or_else(|| malformed("no statusCode"))?,
    )?;
    let base64 = matches!(o.get("isBase64Encoded"), Some(Value::Bool(true)));
    let body: Bytes = match o.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) if base64 => Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .map_err(|_| malformed("body is not valid base64"))?,
        ),
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(_) => return Err(malformed("body is not a string")),
    };
    let mut resp = Response::new(GatewayBody::full(body.clone()));
    *resp.status_mut() = status;
    let out = resp.headers_mut();
    if let Some(Value::Object(m)) = o.get("multiValueHeaders") {
        for (k, vals) in m {
            let Value::Array(items) = vals else {
                return Err(malformed("a multiValueHeaders value is not a list"));
            };
            let n = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| malformed("a header name is not valid"))?;
            for item in items {
                let t = header_text(item).ok_or_else(|| malformed("a header value is not text"))?;
                out.append(
                    n.clone(),
                    HeaderValue::from_str(&t)
                        .map_err(|_| malformed("a header value is not valid"))?,
                );
            }
        }
    }
    if let Some(Value::Object(m)) = o.get("headers") {
        for (k, val) in m {
            let t = header_text(val).ok_or_else(|| malformed("a header value is not text"))?;
            let n = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| malformed("a header name is not valid"))?;
            if !out.contains_key(&n) {
                out.insert(
                    n,
                    HeaderValue::from_str(&t)
                        .map_err(|_| malformed("a header value is not valid"))?,
                );
            }
        }
    }
    if !out.contains_key(header::CONTENT_TYPE) && !body.is_empty() {
        out.insert(header::CONTENT_TYPE, HeaderValue::from_static(sniff(&body)));
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: Response<GatewayBody>) -> (u16, Option<String>, String) {
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = match r.into_body() {
            GatewayBody::Full(Some(b)) => String::from_utf8(b.to_vec()).unwrap(),
            _ => String::new(),
        };
        (status, ct, body)
    }

    #[test]
    fn inference_rules() {
        let (s, ct, b) = text(response_v2(br#""Hello from Lambda!""#).unwrap());
        assert_eq!(
            (s, ct.as_deref(), b.as_str()),
            (200, Some("application/json"), "Hello from Lambda!")
        );
        let (s, _, b) = text(response_v2(br#"{"message":"hi"}"#).unwrap());
        assert_eq!((s, b.as_str()), (200, r#"{"message":"hi"}"#));
        // An object without statusCode is the body whole, even with a body field.
        let (_, _, b) = text(response_v2(br#"{"body":"x"}"#).unwrap());
        assert_eq!(b, r#"{"body":"x"}"#);
        let (_, _, b) = text(response_v2(b"[1,2]").unwrap());
        assert_eq!(b, "[1,2]");
        let (s, ct, b) = text(response_v2(br#"{"statusCode":201,"body":"{\"a\":1}"}"#).unwrap());
        assert_eq!(
            (s, ct.as_deref(), b.as_str()),
            (201, Some("text/plain; charset=utf-8"), r#"{"a":1}"#)
        );
        let (_, ct, _) =
            text(response_v2(br#"{"statusCode":200,"body":"<html><body>x"}"#).unwrap());
        assert_eq!(ct.as_deref(), Some("text/html; charset=utf-8"));
        let r = response_v2(br#"{"statusCode":200,"cookies":["a=1","b=2; Secure"],"body":""}"#)
            .unwrap();
        assert_eq!(r.headers().get_all(header::SET_COOKIE).iter().count(), 2);
        assert!(response_v2(br#"{"statusCode":"abc"}"#).is_err());
        assert!(response_v2(b"not json").is_err());
        assert!(response_v1(br#"{"body":"x"}"#).is_err());
        let (s, _, b) = text(response_v1(br#"{"statusCode":404,"body":"no"}"#).unwrap());
        assert_eq!((s, b.as_str()), (404, "no"));
    }
}
