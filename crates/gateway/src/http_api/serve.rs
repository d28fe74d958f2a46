//! Serving an HTTP API request: stage → route (`$default` last) → CORS preflight → throttle →
//! integration → CORS headers → `apigw-requestid` → log. Errors are AWS's HTTP API bodies:
//! `{"message":"Not Found"}`, `{"message":"Internal Server Error"}`, …

use super::auth::AuthorizerFailure;
use super::payload::{self, EventInput};
use super::{CompiledHttpStage, HttpProxyTarget, HttpRoute, LambdaTarget, Target};
use crate::access_log::AccessLogRecord;
use crate::addressing::{Address, Style};
use crate::body::{GatewayBody, discard_body};
use crate::exchange::RequestIds;
use crate::exchange::{ConnInfo, protocol};
use crate::gateway::Gateway;
use crate::integrations::{X_FORWARDED_FOR, X_FORWARDED_PROTO, strip_hop_by_hop};
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `apigw-requestid`: the one id HTTP API responses carry.
const APIGW_REQUESTID: HeaderName = HeaderName::from_static("apigw-requestid");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

/// An answer the gateway makes: status and `{"message": …}`.
fn answer(status: StatusCode, message: &'static str) -> Response<GatewayBody> {
    let body = format!("{{\"message\":\"{message}\"}}");
    let mut r = Response::new(GatewayBody::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn not_found() -> Response<GatewayBody> {
    answer(StatusCode::NOT_FOUND, "Not Found")
}

fn internal_error() -> Response<GatewayBody> {
    answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

/// What the integration phase reports to the log phase.
#[derive(Default)]
struct Ran {
    integration_latency: Option<Duration>,
    integration_status: Option<u16>,
    error: Option<&'static str>,
}

/// The request facts the phases share.
pub(crate) struct HttpRequest<'a> {
    pub(crate) address: Address<'a>,
    /// The path as the client sent it (host style: with a named stage's prefix).
    pub(crate) whole_path: &'a str,
    pub(crate) host: Option<&'a str>,
    pub(crate) client: &'a ConnInfo,
    pub(crate) ids: &'a RequestIds,
    pub(crate) start: Instant,
    pub(crate) epoch_ms: u64,
}

impl Gateway {
    /// Serves a request addressed to an HTTP API.
    pub(crate) async fn serve_http(
        &self,
        stages: &HashMap<String, Arc<CompiledHttpStage>>,
        req: HttpRequest<'_>,
        mut parts: http::request::Parts,
        body: GatewayBody,
    ) -> Response<GatewayBody> {
        let a = req.address;
        // Host style: a first segment naming a stage selects it; else the `$default` stage
        // serves the whole path.
        let picked = match a.style {
            Style::Host => match stages.get(a.stage) {
                Some(s) if a.stage != portico_model::http::Stage::DEFAULT => Some((s, a.path)),
                _ => stages
                    .get(portico_model::http::Stage::DEFAULT)
                    .map(|s| (s, req.whole_path)),
            },
            // `$default` may come percent-encoded in a path-style URL.
            Style::Path | Style::CustomDomain if a.stage.eq_ignore_ascii_case("%24default") => {
                stages
                    .get(portico_model::http::Stage::DEFAULT)
                    .map(|s| (s, a.path))
            }
            Style::Path | Style::CustomDomain => stages.get(a.stage).map(|s| (s, a.path)),
        };
        let Some((stage, path)) = picked else {
            discard_body(body);
            return self.finish_http(None, None, &req, &parts, not_found(), Ran::default());
        };
        let stage = stage.as_ref();
        // `rawPath` as the client would have sent it to AWS: a named stage's prefix included
        // (path style names the stage apart from the path).
        let raw_path: std::borrow::Cow<'_, str> = match a.style {
            Style::Path if &*stage.stage_name != portico_model::http::Stage::DEFAULT => {
                format!("/{}{}", stage.stage_name, a.path).into()
            }
            Style::Path | Style::CustomDomain => a.path.into(),
            Style::Host => req.whole_path.into(),
        };
        if stage.execute_api_disabled && a.style != Style::CustomDomain {
            discard_body(body);
            let r = answer(StatusCode::FORBIDDEN, "Forbidden");
            return self.finish_http(Some(stage), None, &req, &parts, r, Ran::default());
        }
        if crate::uri::check_request_path(path).is_err() {
            discard_body(body);
            let r = answer(StatusCode::BAD_REQUEST, "Bad Request");
            return self.finish_http(Some(stage), None, &req, &parts, r, Ran::default());
        }
        let found = stage.router.find(parts.method.as_str(), path).found();
        let (route, params) = match &found {
            Some(m) => (Some(m.value), Some(&m.params)),
            None => (stage.default_route.as_ref(), None),
        };
        let preflight =
            stage.cors.is_some() && super::cors::Cors::is_preflight(&parts.method, &parts.headers);
        let Some(route) = route else {
            discard_body(body);
            let r = match (&stage.cors, preflight) {
                (Some(cors), true) => {
                    let mut r = Response::new(GatewayBody::Empty);
                    *r.status_mut() = StatusCode::NO_CONTENT;
                    cors.preflight_headers(&parts.headers, r.headers_mut());
                    r
                }
                _ => not_found(),
            };
            return self.finish_http(Some(stage), None, &req, &parts, r, Ran::default());
        };
        // A path the backend could read as another resource (encoded separators, `;`) never
        // reaches it: on routes that forward path parameters, and on `$default`, which appends
        // the whole path.
        let forwards_path = match &route.target {
            Target::HttpProxy(p) => p.append_path || params.is_some_and(|p| !p.is_empty()),
            _ => false,
        };
        if forwards_path && crate::uri::forward_hazard(path) {
            discard_body(body);
            let r = answer(StatusCode::BAD_REQUEST, "Bad Request");
            return self.finish_http(Some(stage), Some(route), &req, &parts, r, Ran::default());
        }
        if self.throttle(&route.throttle).is_err() {
            discard_body(body);
            let r = answer(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            return self.finish_http(Some(stage), Some(route), &req, &parts, r, Ran::default());
        }
        let mut body = body;
        // Who may call: the refusal, if any, is answered once below.
        let authorized: Result<Option<serde_json::Value>, Response<GatewayBody>> = match &route.auth
        {
            super::auth::RouteAuth::None => Ok(None),
            super::auth::RouteAuth::Iam => {
                let refused = |why: &str| {
                    tracing::debug!(api = %stage.api_id, route = %route.route_key, "AWS_IAM refused: {why}");
                    answer(StatusCode::FORBIDDEN, "Forbidden")
                };
                let checked = if crate::iam::has_signature(&parts) {
                    match self.collect_body(body).await {
                        Ok((bytes, hold)) => {
                            let verdict = self.verify_signer(&parts, &bytes);
                            body = GatewayBody::full(bytes);
                            drop(hold);
                            match verdict {
                                Err(r) => Err(refused(r.message().as_ref())),
                                Ok(p) => {
                                    let arn = format!(
                                        "arn:aws:execute-api:us-east-1:{}:{}/{}/{}{}",
                                        crate::account::ACCOUNT_ID,
                                        stage.api_id,
                                        stage.stage_name,
                                        parts.method.as_str(),
                                        path
                                    );
                                    if p.verdict(&arn) == crate::steps::authorizer::Verdict::Allow
                                        && p.account_id() == crate::account::ACCOUNT_ID
                                    {
                                        Ok(serde_json::json!({"iam": {
                                            "accessKey": p.access_key_id,
                                            "accountId": p.account_id(),
                                            "callerId": p.user_id,
                                            "cognitoIdentity": null,
                                            "principalOrgId": null,
                                            "userArn": p.arn,
                                            "userId": p.user_id,
                                        }}))
                                    } else {
                                        Err(refused("the signer's policy does not allow the route"))
                                    }
                                }
                            }
                        }
                        Err(e) if e.status == StatusCode::PAYLOAD_TOO_LARGE => {
                            body = GatewayBody::Empty;
                            Err(answer(
                                StatusCode::PAYLOAD_TOO_LARGE,
                                "Request Entity Too Large",
                            ))
                        }
                        Err(_) => {
                            body = GatewayBody::Empty;
                            Err(answer(StatusCode::BAD_REQUEST, "Bad Request"))
                        }
                    }
                } else {
                    Err(refused("no signature"))
                };
                checked.map(Some)
            }
            super::auth::RouteAuth::Lambda(l) => {
                let ev = EventCtx {
                    stage,
                    route,
                    path,
                    params,
                    authorizer: None,
                    raw_path: &raw_path,
                };
                Box::pin(self.http_lambda_authorize(l, &req, &ev, &parts))
                    .await
                    .map(Some)
            }
            super::auth::RouteAuth::Jwt(j) => Box::pin(j.check(&self.upstreams, &parts))
                .await
                .map(Some)
                .map_err(|denied| {
                    let (mut r, www) = match denied {
                        super::auth::Denied::Unauthorized(w) => {
                            (answer(StatusCode::UNAUTHORIZED, "Unauthorized"), w)
                        }
                        super::auth::Denied::Forbidden(w) => {
                            (answer(StatusCode::FORBIDDEN, "Forbidden"), w)
                        }
                    };
                    if let Ok(v) = HeaderValue::from_str(&www) {
                        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                    }
                    r
                }),
        };
        let authorizer = match authorized {
            Ok(a) => a,
            Err(r) => {
                discard_body(body);
                return self.finish_http(Some(stage), Some(route), &req, &parts, r, Ran::default());
            }
        };
        let origin = stage
            .cors
            .as_ref()
            .and_then(|_| parts.headers.get(header::ORIGIN).cloned());
        let request_headers = preflight.then(|| parts.headers.clone());
        let ev = EventCtx {
            stage,
            route,
            path,
            params,
            authorizer: authorizer.as_ref(),
            raw_path: &raw_path,
        };
        let (mut response, ran) = match &route.target {
            Target::HttpProxy(p) => self.http_api_proxy(p, &req, &ev, &mut parts, body).await,
            Target::Lambda(l) => self.http_api_lambda(l, &req, &ev, &parts, body).await,
            Target::Unavailable(why) => {
                discard_body(body);
                tracing::warn!(api = %stage.api_id, stage = %stage.stage_name,
                    route = %route.route_key, "Execution failed due to configuration error: {why}");
                (
                    internal_error(),
                    Ran {
                        error: Some("Internal Server Error"),
                        ..Ran::default()
                    },
                )
            }
        };
        if let Some(cors) = &stage.cors {
            match &request_headers {
                Some(h) => {
                    cors.response_headers(None, response.headers_mut());
                    cors.preflight_headers(h, response.headers_mut());
                }
                None => cors.response_headers(origin.as_ref(), response.headers_mut()),
            }
        }
        self.finish_http(Some(stage), Some(route), &req, &parts, response, ran)
    }

    /// The ids, metrics and access log of every HTTP API response.
    fn finish_http(
        &self,
        stage: Option<&CompiledHttpStage>,
        route: Option<&HttpRoute>,
        req: &HttpRequest<'_>,
        parts: &http::request::Parts,
        mut response: Response<GatewayBody>,
        ran: Ran,
    ) -> Response<GatewayBody> {
        response
            .headers_mut()
            .insert(APIGW_REQUESTID, req.ids.apigw_id.clone());
        // What the gateway answered itself (404, 400, 429, 401, …) is readable by an allowed
        // origin too.
        if let Some(cors) = stage.and_then(|s| s.cors.as_ref())
            && !response
                .headers()
                .contains_key(http::header::ACCESS_CONTROL_ALLOW_ORIGIN)
        {
            cors.response_headers(parts.headers.get(header::ORIGIN), response.headers_mut());
        }
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            *response.status_mut() = StatusCode::BAD_GATEWAY;
        }
        let latency = req.start.elapsed();
        let status = response.status().as_u16();
        let Some(stage) = stage else {
            self.metrics
                .unrouted
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return response;
        };
        match route {
            Some(r) => &r.metrics,
            None => &stage.unmatched_metrics,
        }
        .record(status, latency, ran.integration_latency);
        if self.config.access_log.enabled() {
            let route_key = route.map(|r| r.route_key.as_str()).unwrap_or("-");
            let record = AccessLogRecord {
                request_id: req.ids.apigw_id.to_str().unwrap_or("-"),
                extended_request_id: req.ids.apigw_id.to_str().unwrap_or("-"),
                source_ip: &req.client.ip,
                user_agent: parts
                    .headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-"),
                http_method: parts.method.as_str(),
                resource_path: route_key,
                resource_id: route_key,
                path: req.whole_path,
                status,
                protocol: protocol(parts.version),
                response_length: response
                    .headers()
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .or_else(|| http_body::Body::size_hint(response.body()).exact()),
                request_time_epoch_ms: req.epoch_ms,
                integration_latency_ms: ran.integration_latency.map(|d| d.as_millis() as u64),
                integration_status: ran.integration_status,
                response_latency_ms: latency.as_millis() as u64,
                api_id: &stage.api_id,
                stage: &stage.stage_name,
                domain_name: req.host.unwrap_or("-"),
                error_message: ran.error.unwrap_or(""),
                api_key_id: "-",
                client_cert: req.client.client_cert(),
                base_path_matched: req.address.base_path,
                is_canary_request: None,
                authorizer: None,
                error_response_type: "",
                route_key: route.map(|r| r.route_key.as_str()),
                integration_error: ran.error.unwrap_or(""),
            };
            self.config
                .access_log
                .write(stage.access_log.render(&record));
        }
        response
    }

    /// `HTTP_PROXY`: the request to the integration URI (the `$default` route appends the
    /// request path), the backend's answer back as it is.
    async fn http_api_proxy(
        &self,
        p: &HttpProxyTarget,
        req: &HttpRequest<'_>,
        ev: &EventCtx<'_>,
        parts: &mut http::request::Parts,
        body: GatewayBody,
    ) -> (Response<GatewayBody>, Ran) {
        let (path, params) = (ev.path, ev.params);
        let mut held = Vec::new();
        let mut body = match self.whole_if_unknown_length(parts, body).await {
            Ok((b, hold)) => {
                held.extend(hold);
                b
            }
            Err(e) => {
                let status = e.status;
                let r = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    answer(status, "Request Entity Too Large")
                } else {
                    answer(status, "Bad Request")
                };
                return (r, Ran::default());
            }
        };
        // Parameter mapping: headers, query and path as the integration's rules make them.
        let mut mapped_query: Option<String> = None;
        let mut mapped_path: Option<String> = None;
        // The client's headers as sent, for response rules that read `$request.header.X`.
        let mut client_headers: Option<http::HeaderMap> = None;
        if let Some(m) = &p.mappings {
            let json = if m.reads_body {
                match self.collect_body(body).await {
                    Ok((bytes, hold)) => {
                        held.push(hold);
                        let v = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
                        body = GatewayBody::full(bytes);
                        v
                    }
                    Err(e) if e.status == StatusCode::PAYLOAD_TOO_LARGE => {
                        return (
                            answer(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
                            Ran::default(),
                        );
                    }
                    Err(_) => {
                        return (
                            answer(StatusCode::BAD_REQUEST, "Bad Request"),
                            Ran::default(),
                        );
                    }
                }
            } else {
                None
            };
            let original = parts.headers.clone();
            let pairs = payload::query_pairs(parts.uri.query());
            let context = |name: &str| context_variable(name, req, ev, parts);
            let vars = super::mapping::Vars {
                headers: &original,
                query: &pairs,
                body: json.as_ref(),
                path,
                params,
                context: &context,
                stage_variables: &ev.stage.stage_variables,
                response_headers: None,
            };
            let mut query = pairs.clone();
            let mut headers = original.clone();
            m.apply_request(&vars, &mut headers, &mut query, &mut mapped_path);
            if query != pairs {
                mapped_query = Some(encode_query(&query));
            }
            parts.headers = headers;
            client_headers = Some(original);
        }
        let query = match &mapped_query {
            Some(q) => Some(q.as_str()),
            None => parts.uri.query(),
        };
        let rendered = if let Some(new_path) = &mapped_path {
            // A mapped path made from request data must stay a path: no query or fragment, no
            // dot segment (in any spelling), no encoded separator.
            let climbs = new_path.contains(['?', '#'])
                || crate::uri::check_request_path(new_path).is_err()
                || crate::uri::forward_hazard(new_path);
            if climbs {
                return (
                    answer(StatusCode::BAD_REQUEST, "Bad Request"),
                    Ran::default(),
                );
            }
            let mut s = if new_path.starts_with('/') {
                new_path.clone()
            } else {
                format!("/{new_path}")
            };
            if let Some(q) = query.filter(|q| !q.is_empty()) {
                s.push('?');
                s.push_str(q);
            }
            http::Uri::try_from(s).map_err(crate::uri::RenderError::Invalid)
        } else if p.append_path {
            p.uri
                .render(|n| params.and_then(|m| m.get(n)), None)
                .and_then(|base| {
                    let mut s = base.path().trim_end_matches('/').to_owned();
                    s.push_str(path);
                    if let Some(bq) = base.query() {
                        s.push('?');
                        s.push_str(bq);
                    }
                    if let Some(q) = query.filter(|q| !q.is_empty()) {
                        s.push(if base.query().is_some() { '&' } else { '?' });
                        s.push_str(q);
                    }
                    http::Uri::try_from(s).map_err(crate::uri::RenderError::Invalid)
                })
        } else {
            p.uri.render(|n| params.and_then(|m| m.get(n)), query)
        };
        let uri = match rendered {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = ?e, "HTTP API integration URI refused");
                return (
                    answer(StatusCode::BAD_REQUEST, "Bad Request"),
                    Ran::default(),
                );
            }
        };
        let mut out = Request::new(body);
        *out.method_mut() = p.method.clone().unwrap_or_else(|| parts.method.clone());
        *out.uri_mut() = uri;
        *out.extensions_mut() = std::mem::take(&mut parts.extensions);
        let headers = out.headers_mut();
        *headers = std::mem::take(&mut parts.headers);
        // What the later phases still read of the request (CORS, the access log, response
        // mapping rules) stays; the rest moves to the backend without a copy.
        for name in [header::ORIGIN, header::USER_AGENT] {
            if let Some(v) = headers.get(&name) {
                parts.headers.insert(name, v.clone());
            }
        }
        strip_hop_by_hop(headers);
        headers.remove(header::HOST);
        let xff = match headers.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            Some(prev) => HeaderValue::from_str(&format!("{prev}, {}", req.client.ip)).ok(),
            None => Some(req.client.ip_header.clone()),
        };
        if let Some(v) = xff {
            headers.insert(X_FORWARDED_FOR, v);
        }
        let proto = req.client.proto_header();
        headers.insert(
            X_FORWARDED_PORT,
            HeaderValue::from_static(if req.client.tls.is_some() {
                "443"
            } else {
                "80"
            }),
        );
        headers.insert(X_FORWARDED_PROTO, proto);

        let started = Instant::now();
        let result = p.pool.send_within(out, p.timeout).await;
        let integration_latency = Some(started.elapsed());
        drop(held);
        match result {
            Err(e) if e.is_timeout() => (
                answer(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
                Ran {
                    integration_latency,
                    error: Some("Service Unavailable"),
                    ..Ran::default()
                },
            ),
            Err(e) if e.is_body_too_large() => (
                answer(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
                Ran::default(),
            ),
            Err(e) if e.is_client_body() => (
                answer(StatusCode::BAD_REQUEST, "Bad Request"),
                Ran::default(),
            ),
            Err(e) => {
                tracing::warn!(error = %e, connect = e.is_connect(),
                    "Execution failed due to an integration error (HTTP API)");
                (
                    internal_error(),
                    Ran {
                        integration_latency,
                        error: Some("Internal Server Error"),
                        ..Ran::default()
                    },
                )
            }
            Ok(r) => {
                let status = r.status().as_u16();
                let mut response = r.map(GatewayBody::from);
                strip_hop_by_hop(response.headers_mut());
                if let Some(m) = p.mappings.as_ref().filter(|m| m.maps_response(status)) {
                    let client = client_headers.as_ref().unwrap_or(&parts.headers);
                    response = self.map_response(m, req, ev, parts, client, response).await;
                }
                (
                    response,
                    Ran {
                        integration_latency,
                        integration_status: Some(status),
                        error: None,
                    },
                )
            }
        }
    }

    /// The integration's `responseParameters` for the backend's status, applied.
    async fn map_response(
        &self,
        m: &super::mapping::Mappings,
        req: &HttpRequest<'_>,
        ev: &EventCtx<'_>,
        parts: &http::request::Parts,
        client_headers: &http::HeaderMap,
        response: Response<GatewayBody>,
    ) -> Response<GatewayBody> {
        let (mut head, body) = response.into_parts();
        let (body, json) = if m.reads_response_body {
            match self.collect_body(body).await {
                Ok((bytes, _hold)) => {
                    let v = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
                    (GatewayBody::full(bytes), v)
                }
                Err(_) => return internal_error(),
            }
        } else {
            (body, None)
        };
        let pairs = payload::query_pairs(parts.uri.query());
        let context = |name: &str| context_variable(name, req, ev, parts);
        let vars = super::mapping::Vars {
            headers: client_headers,
            query: &pairs,
            body: None,
            path: ev.path,
            params: ev.params,
            context: &context,
            stage_variables: &ev.stage.stage_variables,
            response_headers: None,
        };
        m.apply_response(&vars, json.as_ref(), &mut head.status, &mut head.headers);
        Response::from_parts(head, body)
    }

    /// `AWS_PROXY`: the event (2.0 or 1.0) to the function, its answer back by the format's
    /// rules.
    async fn http_api_lambda(
        &self,
        l: &LambdaTarget,
        req: &HttpRequest<'_>,
        ev: &EventCtx<'_>,
        parts: &http::request::Parts,
        body: GatewayBody,
    ) -> (Response<GatewayBody>, Ran) {
        let failed = |integration_latency| Ran {
            integration_latency,
            error: Some("Internal Server Error"),
            ..Ran::default()
        };
        let (bytes, _held) = match self.collect_body(body).await {
            Ok(b) => b,
            Err(e) if e.status == StatusCode::PAYLOAD_TOO_LARGE => {
                return (
                    answer(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
                    Ran::default(),
                );
            }
            Err(_) => {
                return (
                    answer(StatusCode::BAD_REQUEST, "Bad Request"),
                    Ran::default(),
                );
            }
        };
        let input = event_input(req, ev, parts, &bytes);
        let event = if l.v2 {
            payload::event_v2(&input)
        } else {
            payload::event_v1(&input)
        };
        drop(bytes);
        let started = Instant::now();
        let trace = req.ids.trace_id.to_str().unwrap_or("-");
        let result = self
            .invoke_lambda(&ev.stage.api_id, trace, &l.function, event.into())
            .await;
        let integration_latency = Some(started.elapsed());
        let invoked = match result {
            Ok(i) => i,
            Err(e) if e.status == StatusCode::GATEWAY_TIMEOUT => {
                return (
                    answer(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
                    Ran {
                        integration_latency,
                        error: Some("Service Unavailable"),
                        ..Ran::default()
                    },
                );
            }
            Err(_) => return (internal_error(), failed(integration_latency)),
        };
        if invoked.function_error.is_some() {
            tracing::warn!(api = %ev.stage.api_id, function = %l.function.function,
                "Execution failed: the function returned an error");
            return (internal_error(), failed(integration_latency));
        }
        let parsed = if l.v2 {
            payload::response_v2(&invoked.payload)
        } else {
            payload::response_v1(&invoked.payload)
        };
        match parsed {
            Ok(r) => {
                let status = r.status().as_u16();
                (
                    r,
                    Ran {
                        integration_latency,
                        integration_status: Some(status),
                        error: None,
                    },
                )
            }
            Err(payload::Malformed(why)) => {
                tracing::warn!(api = %ev.stage.api_id, function = %l.function.function,
                    "Execution failed due to configuration error: Malformed Lambda proxy response ({why})");
                (internal_error(), failed(integration_latency))
            }
        }
    }
}

/// The stage and route facts a Lambda event needs.
struct EventCtx<'a> {
    stage: &'a CompiledHttpStage,
    route: &'a HttpRoute,
    path: &'a str,
    params: Option<&'a portico_router::Params>,
    /// `requestContext.authorizer` when an authorizer allowed the request.
    authorizer: Option<&'a serde_json::Value>,
    /// `rawPath`.
    raw_path: &'a str,
}

/// What a Lambda event (integration or authorizer) is built from.
fn event_input<'a>(
    req: &'a HttpRequest<'_>,
    ev: &'a EventCtx<'_>,
    parts: &'a http::request::Parts,
    body: &'a [u8],
) -> EventInput<'a> {
    let domain = req
        .host
        .map(|h| h.split(':').next().unwrap_or(h))
        .unwrap_or("");
    EventInput {
        api_id: &ev.stage.api_id,
        stage: &ev.stage.stage_name,
        route_key: ev.route.route_key.as_str(),
        raw_path: ev.raw_path,
        resource_path: ev.path,
        query: parts.uri.query(),
        parts,
        path_params: ev.params,
        stage_variables: &ev.stage.stage_variables,
        request_id: req.ids.apigw_id.to_str().unwrap_or("-"),
        source_ip: &req.client.ip,
        domain_name: domain,
        epoch_ms: req.epoch_ms,
        body,
        authorizer: ev.authorizer,
    }
}

impl Gateway {
    /// A Lambda authorizer: identity sources (all present, else 401 without calling), the
    /// cached or fresh answer, the verdict for the route ARN (403 when it does not allow);
    /// `requestContext.authorizer` when it does.
    async fn http_lambda_authorize(
        &self,
        l: &super::auth::LambdaAuth,
        req: &HttpRequest<'_>,
        ev: &EventCtx<'_>,
        parts: &http::request::Parts,
    ) -> Result<serde_json::Value, Response<GatewayBody>> {
        use super::auth::IdentitySource;
        let unauthorized = || answer(StatusCode::UNAUTHORIZED, "Unauthorized");
        let pairs = payload::query_pairs(parts.uri.query());
        let mut identity = Vec::with_capacity(l.sources.len());
        for s in &l.sources {
            let v = match s {
                IdentitySource::Header(h) => {
                    let all: Vec<String> = parts
                        .headers
                        .get_all(h)
                        .iter()
                        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                        .collect();
                    (!all.is_empty()).then(|| all.join(","))
                }
                IdentitySource::Query(q) => {
                    let all: Vec<&str> = pairs
                        .iter()
                        .filter(|(k, _)| k == q)
                        .map(|(_, v)| v.as_str())
                        .collect();
                    (!all.is_empty()).then(|| all.join(","))
                }
                IdentitySource::Context(c) => context_variable(c, req, ev, parts),
                IdentitySource::StageVariable(v) => ev.stage.stage_variables.get(v).cloned(),
            };
            match v.filter(|v| !v.is_empty()) {
                Some(v) => identity.push(v),
                None => return Err(unauthorized()),
            }
        }
        let route_arn = format!(
            "arn:aws:execute-api:us-east-1:000000000000:{}/{}/{}{}",
            ev.stage.api_id,
            ev.stage.stage_name,
            parts.method.as_str(),
            ev.path
        );
        let trace = req.ids.trace_id.to_str().unwrap_or("-");
        let result = self
            .lambda_authorizer_result(l, &ev.stage.api_id, trace, &identity, || {
                let input = event_input(req, ev, parts, &[]);
                if l.v2 {
                    payload::authorizer_event_v2(&input, &route_arn, &identity)
                } else {
                    payload::authorizer_event_v1(&input, &route_arn, &identity)
                }
            })
            .await
            .map_err(|f| match f {
                AuthorizerFailure::Unauthorized => unauthorized(),
                AuthorizerFailure::Failed => internal_error(),
            })?;
        if result.allows(&route_arn) {
            Ok(result.event_value())
        } else {
            Err(answer(StatusCode::FORBIDDEN, "Forbidden"))
        }
    }
}

/// A query string from decoded pairs, encoded as a form would be.
fn encode_query(pairs: &[(String, String)]) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const QUERY: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, QUERY),
                utf8_percent_encode(v, QUERY)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `$context.X` for parameter mapping.
fn context_variable(
    name: &str,
    req: &HttpRequest<'_>,
    ev: &EventCtx<'_>,
    parts: &http::request::Parts,
) -> Option<String> {
    let domain = req
        .host
        .map(|h| h.split(':').next().unwrap_or(h))
        .unwrap_or("");
    Some(match name {
        "accountId" => "000000000000".into(),
        "apiId" => ev.stage.api_id.to_string(),
        "domainName" => domain.to_owned(),
        "domainPrefix" => domain.split('.').next().unwrap_or("").to_owned(),
        "httpMethod" => parts.method.as_str().to_owned(),
        "path" => ev.raw_path.to_owned(),
        "protocol" => protocol(parts.version).to_owned(),
        "requestId" | "extendedRequestId" => req.ids.apigw_id.to_str().ok()?.to_owned(),
        "requestTime" => crate::access_log::clf_time(req.epoch_ms / 1000),
        "requestTimeEpoch" => req.epoch_ms.to_string(),
        "routeKey" => ev.route.route_key.to_string(),
        "stage" => ev.stage.stage_name.to_string(),
        "identity.sourceIp" => req.client.ip.clone(),
        "identity.userAgent" => parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())?
            .to_owned(),
        other => {
            let claim = other.strip_prefix("authorizer.claims.")?;
            let claims = ev.authorizer?.get("jwt")?.get("claims")?;
            claims.get(claim)?.as_str()?.to_owned()
        }
    })
}

impl Gateway {
    /// A Lambda authorizer's answer for `identity`: its cache's, else the function's when
    /// called with `event()` (then cached for the authorizer's TTL). HTTP APIs and WebSocket
    /// APIs share it; each answers the failures in its own words.
    pub(crate) async fn lambda_authorizer_result(
        &self,
        l: &super::auth::LambdaAuth,
        api_id: &str,
        trace: &str,
        identity: &[String],
        event: impl FnOnce() -> Vec<u8>,
    ) -> Result<Arc<super::auth::LambdaResult>, AuthorizerFailure> {
        let key = (!l.ttl.is_zero() && !identity.is_empty()).then(|| {
            crate::steps::authorizer::AuthorizerCache::key(
                &identity.iter().map(String::as_str).collect::<Vec<_>>(),
            )
        });
        if let Some(r) = key.as_ref().and_then(|k| l.cache.get(k)) {
            return Ok(r);
        }
        let invoked = self
            .invoke_lambda(api_id, trace, &l.function, event().into())
            .await
            .map_err(|_| AuthorizerFailure::Failed)?;
        if invoked.function_error.is_some() {
            let message = serde_json::from_slice::<serde_json::Value>(&invoked.payload)
                .ok()
                .and_then(|v| v.get("errorMessage")?.as_str().map(str::to_owned));
            if message.as_deref() == Some("Unauthorized") {
                return Err(AuthorizerFailure::Unauthorized);
            }
            tracing::warn!(authorizer = %l.id, "the authorizer function failed");
            return Err(AuthorizerFailure::Failed);
        }
        let r = super::auth::LambdaResult::parse(&invoked.payload, l.simple).map_err(|why| {
            tracing::warn!(authorizer = %l.id,
                "Execution failed due to configuration error: invalid authorizer response ({why})");
            AuthorizerFailure::Failed
        })?;
        let r = Arc::new(r);
        if let Some(k) = key {
            l.cache.put(k, r.clone(), l.ttl);
        }
        Ok(r)
    }
}
