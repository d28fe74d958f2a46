//! `AWS_PROXY` to a Lambda function (payload format 1.0): the request becomes AWS's proxy event,
//! the function's answer (`statusCode`, `headers`, `multiValueHeaders`, `body`,
//! `isBase64Encoded`) becomes the response.
//!
//! The event is written by one serializer pass over the request (borrowed strings, maps in the
//! request's order), with AWS's rules as recorded: header names in the client's spelling (the
//! single-value map keeps the last value), `Content-Length` and hop-by-hop headers left out,
//! `X-Forwarded-For`/`-Port`/`-Proto` and `X-Amzn-Trace-Id` added; query values form-decoded, last
//! one wins in `queryStringParameters`; path parameters as the client encoded them; `null` for
//! absent maps and bodies; a body that is binary (by `binaryMediaTypes`) or not UTF-8 as base64.
//!
//! A response that is not a JSON object, is `{}`, has an unknown key, a non-numeric
//! `statusCode`, a non-list `multiValueHeaders` value or bad base64 is AWS's
//! `502 {"message": "Internal server error"}` with the reason in the log; so is a function error.
//! A function that cannot be invoked (missing, throttled) is a 500; one slower than the
//! integration timeout a 504.

use crate::body::GatewayBody;
use crate::compile::LambdaProxyIntegration;
use crate::exchange::{Exchange, Outcome, protocol};
use crate::gateway::Gateway;
use crate::gateway_response::GatewayError;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use portico_functions::{InvokeContext, InvokeError};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use std::borrow::Cow;
use std::time::Instant;

/// A map written from (key, value) pairs in order.
struct Pairs<'a, V: Serialize>(&'a [(Cow<'a, str>, V)]);

impl<V: Serialize> Serialize for Pairs<'_, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k.as_ref(), v)?;
        }
        m.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity<'a> {
    cognito_identity_pool_id: Option<&'a str>,
    account_id: Option<&'a str>,
    cognito_identity_id: Option<&'a str>,
    caller: Option<&'a str>,
    source_ip: &'a str,
    principal_org_id: Option<&'a str>,
    access_key: Option<&'a str>,
    cognito_authentication_type: Option<&'a str>,
    cognito_authentication_provider: Option<&'a str>,
    user_arn: Option<&'a str>,
    user_agent: Option<&'a str>,
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_cert: Option<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext<'a> {
    resource_id: &'a str,
    resource_path: &'a str,
    http_method: &'a str,
    extended_request_id: &'a str,
    request_time: String,
    path: Cow<'a, str>,
    account_id: &'a str,
    protocol: &'a str,
    stage: &'a str,
    domain_prefix: &'a str,
    request_time_epoch: u64,
    request_id: &'a str,
    identity: Identity<'a>,
    domain_name: &'a str,
    deployment_id: &'a str,
    api_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer: Option<Pairs<'a, serde_json::Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    /// `REQUEST` (an authorizer's event).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    /// The method ARN (an authorizer's event).
    #[serde(skip_serializing_if = "Option::is_none")]
    method_arn: Option<&'a str>,
    resource: &'a str,
    path: &'a str,
    http_method: &'a str,
    headers: Option<Pairs<'a, &'a str>>,
    multi_value_headers: Option<Pairs<'a, Vec<&'a str>>>,
    query_string_parameters: Option<Pairs<'a, Cow<'a, str>>>,
    multi_value_query_string_parameters: Option<Pairs<'a, Vec<Cow<'a, str>>>>,
    path_parameters: Option<Pairs<'a, &'a str>>,
    stage_variables: Option<&'a portico_model::Map<String>>,
    request_context: RequestContext<'a>,
    /// The body (`None`: left out, in an authorizer's event; `Some(None)`: null).
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Option<Cow<'a, str>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_base64_encoded: Option<bool>,
}

/// `+` as space, then percent-decoding (a query value).
fn form_decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'+' || b == b'%') {
        return Cow::Borrowed(s);
    }
    let spaced = s.replace('+', " ");
    Cow::Owned(
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// Request headers left out of the event, as API Gateway leaves them out.
fn left_out(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "content-length"
            | "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-connection"
    )
}

/// The proxy event for this request, as JSON bytes.
pub(crate) async fn event(x: &Exchange<'_>, parts: &http::request::Parts, body: &[u8]) -> Vec<u8> {
    build_event(x, parts, Some(body), None).await
}

/// A `REQUEST` authorizer's event for this request: the proxy event's request fields with `type`
/// and `methodArn` first, and no body.
pub(crate) async fn authorizer_event(
    x: &Exchange<'_>,
    parts: &http::request::Parts,
    method_arn: &str,
) -> Vec<u8> {
    build_event(x, parts, None, Some(method_arn)).await
}

/// `requestContext.authorizer`: a Lambda authorizer's context values (text), `principalId` and
/// `integrationLatency`; a token's `claims`.
fn authorizer_context(
    a: &crate::steps::authorizer::Authorized,
) -> Vec<(Cow<'_, str>, serde_json::Value)> {
    use crate::steps::authorizer::Authorized;
    match a {
        Authorized::Lambda {
            decision: d,
            integration_latency_ms,
        } => {
            let mut out: Vec<(Cow<'_, str>, serde_json::Value)> = d
                .context
                .iter()
                .filter(|(k, _)| k != "principalId" && k != "integrationLatency")
                .map(|(k, v)| {
                    (
                        Cow::Borrowed(k.as_str()),
                        serde_json::Value::from(v.as_str()),
                    )
                })
                .collect();
            out.push((
                Cow::Borrowed("principalId"),
                serde_json::Value::from(d.principal_id.as_str()),
            ));
            out.push((
                Cow::Borrowed("integrationLatency"),
                serde_json::Value::from(*integration_latency_ms),
            ));
            out
        }
        Authorized::Claims(c) => vec![(
            Cow::Borrowed("claims"),
            serde_json::Value::Object(
                c.as_text()
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect(),
            ),
        )],
    }
}

async fn build_event(
    x: &Exchange<'_>,
    parts: &http::request::Parts,
    body: Option<&[u8]>,
    method_arn: Option<&str>,
) -> Vec<u8> {
    let stage = x.stage;
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    // Headers: one entry per name in the request's order; the client's spelling on HTTP/1.
    let mut names: Vec<(String, String)> = Vec::new();
    let mut grouped: Vec<(usize, &HeaderName)> = Vec::new();
    for name in parts.headers.keys() {
        if left_out(name) {
            continue;
        }
        names.push((name.as_str().to_owned(), String::new()));
        grouped.push((names.len() - 1, name));
    }
    crate::header_case::spell_request_headers(&mut names, parts).await;
    let host_name = (!parts.headers.contains_key(header::HOST) && !host.is_empty())
        .then_some(("Host".to_owned(), host));
    let port = host
        .rsplit_once(':')
        .map(|(_, p)| p)
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty())
        .unwrap_or(if x.client.tls.is_some() { "443" } else { "80" });
    let proto = if x.client.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let forwarded_for = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prev) => format!("{prev}, {}", x.client.ip),
        None => x.client.ip.clone(),
    };
    let mut single: Vec<(Cow<'_, str>, &str)> = Vec::with_capacity(grouped.len() + 5);
    let mut multi: Vec<(Cow<'_, str>, Vec<&str>)> = Vec::with_capacity(grouped.len() + 5);
    for (i, name) in &grouped {
        if matches!(
            name.as_str(),
            "x-forwarded-for" | "x-forwarded-port" | "x-forwarded-proto" | "x-amzn-trace-id"
        ) {
            continue;
        }
        let values: Vec<&str> = parts
            .headers
            .get_all(*name)
            .iter()
            .map(|v| std::str::from_utf8(v.as_bytes()).unwrap_or(""))
            .collect();
        let spelled = Cow::Borrowed(names[*i].0.as_str());
        single.push((spelled.clone(), values.last().copied().unwrap_or("")));
        multi.push((spelled, values));
    }
    if let Some((n, h)) = &host_name {
        single.push((Cow::Borrowed(n.as_str()), h));
        multi.push((Cow::Borrowed(n.as_str()), vec![h]));
    }
    for (n, v) in [
        ("X-Amzn-Trace-Id", x.trace_id),
        ("X-Forwarded-For", forwarded_for.as_str()),
        ("X-Forwarded-Port", port),
        ("X-Forwarded-Proto", proto),
    ] {
        single.push((Cow::Borrowed(n), v));
        multi.push((Cow::Borrowed(n), vec![v]));
    }
    // Query: form-decoded; the single map keeps the last value, keys in first-seen order.
    let mut q_single: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    let mut q_multi: Vec<(Cow<'_, str>, Vec<Cow<'_, str>>)> = Vec::new();
    for pair in parts.uri.query().unwrap_or("").split('&') {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (form_decode(k), form_decode(v));
        match q_single.iter_mut().position(|(ek, _)| *ek == k) {
            Some(i) => {
                q_single[i].1 = v.clone();
                q_multi[i].1.push(v);
            }
            None => {
                q_single.push((k.clone(), v.clone()));
                q_multi.push((k, vec![v]));
            }
        }
    }
    // Path parameters as the client encoded them (AWS does not decode them in the event).
    let path_params: Vec<(Cow<'_, str>, &str)> = match x.route {
        Some(r) if x.params.is_some_and(|p| p.iter().next().is_some()) => raw_params(
            &r.resource_path,
            crate::addressing::collapse_leading_slashes(x.resource_request_path),
        ),
        _ => Vec::new(),
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let for_authorizer = body.is_none();
    let body = body.unwrap_or_default();
    let (body, is_base64) = if body.is_empty() {
        (None, false)
    } else if stage.binary_types.matches(content_type) {
        (
            Some(Cow::Owned(
                base64::engine::general_purpose::STANDARD.encode(body),
            )),
            true,
        )
    } else {
        match std::str::from_utf8(body) {
            Ok(s) => (Some(Cow::Borrowed(s)), false),
            Err(_) => (
                Some(Cow::Owned(
                    base64::engine::general_purpose::STANDARD.encode(body),
                )),
                true,
            ),
        }
    };
    let request_path = parts.uri.path();
    let inner_path = x.resource_request_path;
    // `requestContext.path`: the request path (leading slashes as one), with the stage for the
    // `/restapis/…` form as API Gateway's own endpoint would have it.
    let context_path = match x.address_style {
        crate::addressing::Style::Path => {
            // As sent: the slashes after the stage were collapsed only for routing (recorded:
            // `/stage//proxy-value` stays so here).
            let raw = request_path
                .split_once("/_user_request_")
                .map_or(inner_path, |(_, r)| r);
            let raw = if raw.is_empty() { "/" } else { raw };
            Cow::Owned(format!("/{}{}", stage.stage_name, raw))
        }
        _ => Cow::Borrowed(crate::addressing::collapse_leading_slashes(request_path)),
    };
    let epoch_ms = crate::access_log::epoch_millis();
    let route = x.route;
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let domain_name = host.split(':').next().unwrap_or(host);
    let client_cert = x.client.client_cert().map(|c| c.to_json());
    let authorizer = x.authorizer.as_deref().map(authorizer_context);
    // The verified SigV4 signer of an `AWS_IAM` method.
    let signer = x.identity.caller.as_deref();
    let event = Event {
        kind: method_arn.map(|_| "REQUEST"),
        method_arn,
        resource: route.map_or("", |r| &r.resource_path),
        path: crate::addressing::collapse_leading_slashes(inner_path),
        http_method: parts.method.as_str(),
        headers: Some(Pairs(&single)),
        multi_value_headers: Some(Pairs(&multi)),
        query_string_parameters: (!q_single.is_empty()).then_some(Pairs(&q_single)),
        multi_value_query_string_parameters: (!q_multi.is_empty()).then_some(Pairs(&q_multi)),
        path_parameters: (!path_params.is_empty()).then_some(Pairs(&path_params)),
        stage_variables: (!stage.stage_variables.is_empty()).then_some(&stage.stage_variables),
        request_context: RequestContext {
            resource_id: route.map_or("", |r| &r.resource_id),
            resource_path: route.map_or("", |r| &r.resource_path),
            http_method: parts.method.as_str(),
            extended_request_id: x.extended_rid,
            request_time: crate::access_log::clf_time(epoch_ms / 1000),
            path: context_path,
            account_id: crate::exchange::ACCOUNT_ID,
            protocol: protocol(parts.version),
            stage: &stage.stage_name,
            domain_prefix: domain_name.split('.').next().unwrap_or(""),
            request_time_epoch: epoch_ms,
            request_id: x.rid,
            identity: Identity {
                cognito_identity_pool_id: None,
                account_id: signer.map(|c| c.account_id()),
                cognito_identity_id: None,
                caller: signer.map(|c| c.user_id.as_str()),
                source_ip: &x.client.ip,
                principal_org_id: None,
                access_key: signer.map(|c| c.access_key_id.as_str()),
                cognito_authentication_type: None,
                cognito_authentication_provider: None,
                user_arn: signer.map(|c| c.arn.as_str()),
                user_agent,
                user: signer.map(|c| c.user_id.as_str()),
                api_key: x.identity.api_key.as_ref().map(|k| k.value.as_ref()),
                api_key_id: x.identity.api_key.as_ref().map(|k| k.id.as_ref()),
                client_cert,
            },
            domain_name,
            deployment_id: &stage.deployment_id,
            api_id: &stage.api_id,
            authorizer: authorizer.as_deref().map(Pairs),
        },
        body: (!for_authorizer).then_some(body),
        is_base64_encoded: (!for_authorizer).then_some(is_base64),
    };
    serde_json::to_vec(&event).unwrap_or_default()
}

/// The values of a resource path's `{name}` and `{name+}` segments in a request path, undecoded.
fn raw_params<'a>(resource: &'a str, path: &'a str) -> Vec<(Cow<'a, str>, &'a str)> {
    let mut out = Vec::new();
    let mut rest = path.strip_prefix('/').unwrap_or(path);
    for seg in resource.trim_start_matches('/').split('/') {
        let (here, after) = match rest.split_once('/') {
            Some((h, a)) => (h, Some(a)),
            None => (rest, None),
        };
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            match name.strip_suffix('+') {
                Some(greedy) => {
                    // A trailing slash is not part of the value (recorded: `/proxy-value/` →
                    // `proxy-value`).
                    out.push((
                        Cow::Borrowed(greedy),
                        rest.strip_suffix('/').unwrap_or(rest),
                    ));
                    break;
                }
                None => out.push((Cow::Borrowed(name), here)),
            }
        }
        match after {
            Some(a) => rest = a,
            None => rest = "",
        }
    }
    out
}

/// Why a function's answer is not a proxy response.
fn malformed(why: &str) -> GatewayError {
    tracing::warn!(
        "Execution failed due to configuration error: Malformed Lambda proxy response ({why})"
    );
    GatewayError::integration_unreachable()
}

/// A header value from the function: a string, or a boolean or number written out.
fn header_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Null => Some(String::new()),
        _ => None,
    }
}

/// The function's proxy response → the client's response. `accept_binary`: the client's first
/// `Accept` value is one of the API's binary media types (a base64 body is then decoded).
pub(crate) fn response(
    payload: &[u8],
    accept_binary: bool,
) -> Result<(Response<GatewayBody>, Vec<String>), GatewayError> {
    let v: serde_json::Value =
        serde_json::from_slice(payload).map_err(|_| malformed("not JSON"))?;
    let serde_json::Value::Object(o) = v else {
        return Err(malformed("not a JSON object"));
    };
    if o.is_empty() {
        return Err(malformed("empty object"));
    }
    if let Some(k) = o.keys().find(|k| {
        !matches!(
            k.as_str(),
            "statusCode" | "headers" | "multiValueHeaders" | "body" | "isBase64Encoded"
        )
    }) {
        return Err(malformed(&format!("unknown field {k}")));
    }
    let status = match o.get("statusCode") {
        None | Some(serde_json::Value::Null) => 200,
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| malformed("statusCode is not an integer"))?,
        Some(serde_json::Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| malformed("statusCode is not a number"))?,
        Some(_) => return Err(malformed("statusCode is not a number")),
    };
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .filter(|s| (100..=599).contains(&s.as_u16()))
        .ok_or_else(|| malformed("statusCode out of range"))?;
    // (spelling, values): multiValueHeaders first, then headers joined onto the same name.
    let mut headers: Vec<(String, Vec<String>)> = Vec::new();
    match o.get("multiValueHeaders") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(m)) => {
            for (k, vals) in m {
                let serde_json::Value::Array(items) = vals else {
                    return Err(malformed("a multiValueHeaders value is not a list"));
                };
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(
                        header_text(item)
                            .ok_or_else(|| malformed("a multiValueHeaders item is not text"))?,
                    );
                }
                headers.push((k.clone(), out));
            }
        }
        Some(_) => return Err(malformed("multiValueHeaders is not an object")),
    }
    match o.get("headers") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(m)) => {
            for (k, val) in m {
                let text =
                    header_text(val).ok_or_else(|| malformed("a header value is not text"))?;
                match headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(k)) {
                    Some((_, vals)) => vals.push(text),
                    None => headers.push((k.clone(), vec![text])),
                }
            }
        }
        Some(_) => return Err(malformed("headers is not an object")),
    }
    let base64 = match o.get("isBase64Encoded") {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(_) => return Err(malformed("isBase64Encoded is not a boolean")),
    };
    let body: Bytes = match o.get("body") {
        None | Some(serde_json::Value::Null) => Bytes::new(),
        Some(serde_json::Value::String(s)) if base64 && accept_binary => Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .map_err(|_| malformed("body is not valid base64"))?,
        ),
        Some(serde_json::Value::String(s)) => Bytes::from(s.clone()),
        Some(_) => return Err(malformed("body is not a string")),
    };
    let mut resp = Response::new(GatewayBody::full(body));
    *resp.status_mut() = status;
    let mut spelled = Vec::new();
    let out = resp.headers_mut();
    for (name, values) in &headers {
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&values.join(", ")),
        ) else {
            return Err(malformed("a header name or value is not valid"));
        };
        if n.as_str() != name {
            spelled.push(name.clone());
        }
        out.insert(n, v);
    }
    if !out.contains_key(header::CONTENT_TYPE) {
        out.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Ok((resp, spelled))
}

impl Gateway {
    /// Invokes the integration's function within its timeout; an invocation that did not run is
    /// the gateway error AWS answers with (500, or 504 past the timeout).
    pub(crate) async fn invoke_function(
        &self,
        x: &Exchange<'_>,
        l: &LambdaProxyIntegration,
        payload: Bytes,
    ) -> Result<portico_functions::Invoked, GatewayError> {
        self.invoke_lambda(&x.stage.api_id, x.trace_id, l, payload)
            .await
    }

    /// [`Gateway::invoke_function`] for any API type: `api_id` for the log, `trace_id` for the
    /// function's context.
    pub(crate) async fn invoke_lambda(
        &self,
        api_id: &str,
        trace_id: &str,
        l: &LambdaProxyIntegration,
        payload: Bytes,
    ) -> Result<portico_functions::Invoked, GatewayError> {
        let Some(functions) = self.functions.get() else {
            tracing::warn!(api = %api_id, "Execution failed due to configuration error: no function runtime");
            return Err(GatewayError::configuration_error());
        };
        let ctx = InvokeContext {
            request_id: None,
            trace_id: Some(format!("{trace_id};Sampled=0")),
            client_context: None,
            cognito_identity: None,
            invoked_arn: Some(l.arn.to_string()),
        };
        let call = functions.invoke_qualified(&l.function, l.qualifier.as_deref(), payload, ctx);
        match tokio::time::timeout(l.timeout, call).await {
            Err(_) => Err(GatewayError::integration_timeout()),
            Ok(Err(InvokeError::TooManyRequests)) => {
                tracing::warn!(api = %api_id, function = %l.function,
                    "Execution failed due to an integration error: Lambda throttled the invocation (TooManyRequestsException)");
                Err(GatewayError::integration_failure())
            }
            Ok(Err(e)) => {
                tracing::warn!(api = %api_id, function = %l.function,
                    "Execution failed due to configuration error: {e}");
                Err(GatewayError::configuration_error())
            }
            Ok(Ok(i)) => Ok(i),
        }
    }

    pub(crate) async fn run_lambda_proxy(
        &self,
        x: &Exchange<'_>,
        l: &LambdaProxyIntegration,
        parts: &mut http::request::Parts,
        body: GatewayBody,
    ) -> Outcome {
        let stage = x.stage;
        if self.functions.get().is_none() {
            tracing::warn!(api = %stage.api_id, "Execution failed due to configuration error: no function runtime");
            return Outcome::fail(GatewayError::configuration_error());
        }
        let (bytes, _held) = match self.collect_body(body).await {
            Ok(b) => b,
            Err(e) => return Outcome::fail(e),
        };
        let payload = event(x, parts, &bytes).await;
        drop(bytes);
        let started = Instant::now();
        let result = self.invoke_function(x, l, payload.into()).await;
        let integration_latency = Some(started.elapsed());
        let fail = |e: GatewayError| Outcome {
            integration_latency,
            ..Outcome::fail(e)
        };
        let invoked = match result {
            Ok(i) => i,
            Err(e) => return fail(e),
        };
        if invoked.function_error.is_some() {
            tracing::warn!(api = %stage.api_id, function = %l.function,
                request_id = %invoked.request_id,
                "Lambda execution failed with status 200 due to customer function error: {}",
                String::from_utf8_lossy(&invoked.payload));
            return Outcome {
                integration_status: Some(200),
                ..fail(GatewayError::integration_unreachable())
            };
        }
        let accept_binary = !stage.binary_types.is_empty()
            && stage.binary_types.matches(
                parts
                    .headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|a| a.split(',').next()),
            );
        match response(&invoked.payload, accept_binary) {
            Ok((mut resp, spelled)) => {
                crate::headers::remap_proxy_response(
                    resp.headers_mut(),
                    parts.method == http::Method::HEAD,
                );
                if !spelled.is_empty() && parts.version < http::Version::HTTP_2 {
                    let mut names: Vec<String> = crate::header_case::AWS_NAMES
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect();
                    names.retain(|n| !spelled.iter().any(|s| s.eq_ignore_ascii_case(n)));
                    names.extend(spelled);
                    if let Some(ext) = crate::header_case::spelling_of(&names).await {
                        *resp.extensions_mut() = ext;
                    }
                }
                Outcome {
                    response: resp,
                    integration_latency,
                    integration_status: Some(200),
                    error: None,
                    pending: false,
                    traced: true,
                }
            }
            Err(e) => Outcome {
                integration_status: Some(200),
                ..fail(e)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Answer = (u16, String, Vec<(String, String)>);

    fn status_of(payload: &str) -> Result<Answer, u16> {
        match response(payload.as_bytes(), false) {
            Ok((r, _)) => {
                let status = r.status().as_u16();
                let headers = r
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                let body = match r.into_body() {
                    GatewayBody::Full(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
                    _ => String::new(),
                };
                Ok((status, body, headers))
            }
            Err(e) => Err(e.status.as_u16()),
        }
    }

    fn status_code(payload: &str) -> u16 {
        response(payload.as_bytes(), false)
            .map(|(r, _)| r.status().as_u16())
            .unwrap_or(0)
    }

    /// The cases AWS recorded (LocalStack's AWS-validated snapshot
    /// `test_aws_proxy_response_payload_format_validation`).
    #[test]
    fn proxy_responses_are_checked_as_aws_checks_them() {
        let ok = status_of(r#"{"statusCode": 200}"#).unwrap();
        assert_eq!((ok.0, ok.1.as_str()), (200, ""));
        assert!(ok.2.contains(&("content-type".into(), "application/json".into())));
        let h = status_of(
            r#"{"statusCode": 200, "headers": {"test-header": "value", "header-bool": true}}"#,
        )
        .unwrap();
        assert!(h.2.contains(&("header-bool".into(), "true".into())));
        assert!(status_of(r#"{"statusCode": 200, "headers": null}"#).is_ok());
        assert_eq!(
            status_of(r#"{"statusCode": 200, "wrongValue": "value"}"#),
            Err(502)
        );
        assert_eq!(status_of("{}"), Err(502));
        assert_eq!(status_of(r#""justAString""#), Err(502));
        assert_eq!(status_of(r#"{"statusCode": "test"}"#), Err(502));
        assert_eq!(status_code(r#"{"statusCode": "201"}"#), 201);
        assert_eq!(status_code(r#"{"headers": {"test-header": "value"}}"#), 200);
        let b =
            status_of(r#"{"statusCode": 200, "body": "dGVzdC1kYXRh", "isBase64Encoded": true}"#)
                .unwrap();
        assert_eq!(
            b.1, "dGVzdC1kYXRh",
            "not decoded unless the client accepts a binary type"
        );
        let m = status_of(
            r#"{"statusCode": 200, "multiValueHeaders": {"test-multi": ["value1", "value2"]}}"#,
        )
        .unwrap();
        assert!(m.2.contains(&("test-multi".into(), "value1, value2".into())));
        let m = status_of(r#"{"statusCode": 200, "multiValueHeaders": {"tesT-Multi": ["value-multi"]}, "headers": {"test-multi": "value-solo"}}"#).unwrap();
        assert!(m.2.contains(&("test-multi".into(), "value-multi, value-solo".into())));
        assert_eq!(
            status_of(
                r#"{"statusCode": 200, "multiValueHeaders": {"test-multi-invalid": "value1"}}"#
            ),
            Err(502)
        );
        // The casing of the multiValueHeaders name wins.
        let (_, spelled) = response(
            br#"{"multiValueHeaders": {"tesT-Multi": ["a"]}, "headers": {"test-multi": "b"}}"#,
            false,
        )
        .unwrap();
        assert_eq!(spelled, vec!["tesT-Multi".to_owned()]);
        // Decoded when the client accepts a binary type; bad base64 then is a 502.
        let (r, _) = response(br#"{"body": "aGk=", "isBase64Encoded": true}"#, true).unwrap();
        assert!(matches!(r.into_body(), GatewayBody::Full(Some(b)) if &b[..] == b"hi"));
        assert!(response(br#"{"body": "!!", "isBase64Encoded": true}"#, true).is_err());
    }

    #[test]
    fn path_parameters_stay_encoded() {
        let p = raw_params("/users/{id}/files/{path+}", "/users/a%20b/files/x/y%2Bz");
        assert_eq!(
            p,
            vec![
                (Cow::Borrowed("id"), "a%20b"),
                (Cow::Borrowed("path"), "x/y%2Bz")
            ]
        );
        assert_eq!(
            raw_params("/{proxy+}", "/a//b/"),
            vec![(Cow::Borrowed("proxy"), "a//b")]
        );
    }
}
