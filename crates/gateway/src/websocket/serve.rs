//! Serving a WebSocket API: the upgrade request (`$connect`'s authorizer and integration decide
//! before the handshake completes), each message (route selection → throttle → integration →
//! the answer on the socket for two-way routes), `$disconnect`, and the `@connections` API
//! (post, get, delete a connection by id).

use super::connections::{self, Conn, ConnFacts, PostRefused};
use super::events::{self, ConnectionFacts, Kind};
use super::session::{self, Accepted, Upgrade};
use super::{Call, CompiledResponse, CompiledWsStage, HttpTarget, Passthrough, Templated};
use super::{WsAuth, WsRoute, WsTarget};
use crate::addressing::Address;
use crate::body::{GatewayBody, discard_body};
use crate::compile::ServedApi;
use crate::exchange::{ConnInfo, RequestIds};
use crate::gateway::Gateway;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

const X_AMZN_ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// An answer the gateway makes over HTTP: status and `{"message": …}`.
fn answer(status: StatusCode, message: &str) -> Response<GatewayBody> {
    let body = format!("{{\"message\":\"{message}\"}}");
    let mut r = Response::new(GatewayBody::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An `@connections` error: the code in `x-amzn-ErrorType`, the message (when there is one)
/// in the body.
fn management_error(
    status: StatusCode,
    code: &'static str,
    message: Option<&str>,
) -> Response<GatewayBody> {
    let mut r = match message {
        Some(m) => answer(status, m),
        None => {
            let mut r = Response::new(GatewayBody::Empty);
            *r.status_mut() = status;
            r
        }
    };
    r.headers_mut()
        .insert(X_AMZN_ERROR_TYPE, HeaderValue::from_static(code));
    r
}

/// The error frame a client gets for a message that cannot be served (AWS's spacing).
fn error_frame(message: &str, connection_id: &str, request_id: &str) -> String {
    format!(
        "{{\"message\": \"{message}\", \"connectionId\":\"{connection_id}\", \"requestId\":\"{request_id}\"}}"
    )
}

/// The request facts of an upgrade or `@connections` call.
pub(crate) struct WsRequest<'a> {
    pub(crate) address: Address<'a>,
    pub(crate) host: Option<&'a str>,
    pub(crate) client: &'a ConnInfo,
    pub(crate) ids: &'a RequestIds,
    pub(crate) epoch_ms: u64,
}

/// `/restapis/{apiId}/{stage}[/@connections/{id}]`: the path form of a WebSocket endpoint
/// (REST's `_user_request_` has no place here).
pub(crate) fn path_style(path: &str) -> Option<(&str, &str, &str)> {
    let tail = path.strip_prefix("/restapis/")?;
    let (api, tail) = tail.split_once('/')?;
    let (stage, rest) = match tail.split_once('/') {
        Some((s, r)) => (s, &tail[s.len()..][..r.len() + 1]),
        None => (tail, "/"),
    };
    if api.is_empty() || stage.is_empty() {
        return None;
    }
    Some((api, stage, rest))
}

/// `/{stage}/@connections/{id}` on a host that names no API (`127.0.0.1:8080`, the
/// `domainName` of a path-style connection): the stage and the connection id. The connection
/// itself says which API it belongs to.
pub(crate) fn bare_connections_call(path: &str) -> Option<(&str, String)> {
    let rest = path.strip_prefix('/')?;
    let (stage, tail) = rest.split_once('/')?;
    let id = connections_call(&path[stage.len() + 1..])?;
    let _ = tail;
    (!stage.is_empty()).then_some((stage, id))
}

/// The connection id of an `@connections/{id}` path (either spelling, percent-decoded).
fn connections_call(path: &str) -> Option<String> {
    let id = path
        .strip_prefix("/@connections/")
        .or_else(|| path.strip_prefix("/%40connections/"))?;
    let id = percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .ok()?
        .into_owned();
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// Whether a header's comma-separated tokens include `token` (any case).
fn has_token(headers: &http::HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

impl Gateway {
    /// Serves a request addressed to a WebSocket API: an `@connections` call, or an upgrade.
    pub(crate) async fn serve_websocket(
        &self,
        stages: &HashMap<String, Arc<CompiledWsStage>>,
        req: WsRequest<'_>,
        parts: http::request::Parts,
        body: GatewayBody,
    ) -> Response<GatewayBody> {
        let a = req.address;
        let Some(stage) = stages.get(a.stage) else {
            discard_body(body);
            return answer(StatusCode::FORBIDDEN, "Forbidden");
        };
        if let Some(id) = connections_call(a.path) {
            return self.connections_api(stage, &id, &parts, body).await;
        }
        discard_body(body);
        if stage.execute_api_disabled && a.style != crate::addressing::Style::CustomDomain {
            return answer(StatusCode::FORBIDDEN, "Forbidden");
        }
        if a.path != "/" {
            return answer(StatusCode::FORBIDDEN, "Forbidden");
        }
        let h = &parts.headers;
        let upgrade = parts.method == Method::GET
            && has_token(h, header::UPGRADE, "websocket")
            && has_token(h, header::CONNECTION, "upgrade")
            && parts.version == http::Version::HTTP_11;
        if !upgrade {
            let mut r = answer(StatusCode::UPGRADE_REQUIRED, "Upgrade Required");
            r.headers_mut()
                .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            return r;
        }
        if h.get(header::SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()) != Some(b"13") {
            let mut r = answer(StatusCode::UPGRADE_REQUIRED, "Upgrade Required");
            r.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
            return r;
        }
        // An upgrade carries no body: bytes after the head are the WebSocket's.
        let has_body = h.contains_key(header::TRANSFER_ENCODING)
            || h.get(header::CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() != b"0");
        if has_body {
            return answer(StatusCode::BAD_REQUEST, "Bad Request");
        }
        let key = match h.get(header::SEC_WEBSOCKET_KEY) {
            Some(k) if valid_key(k.as_bytes()) => k.clone(),
            _ => return answer(StatusCode::BAD_REQUEST, "Bad Request"),
        };
        self.ws_connect(stage, &req, &parts, key).await
    }

    /// `$connect`: the authorizer, then the integration; a 101 with the connection when both
    /// allow it.
    async fn ws_connect(
        &self,
        stage: &CompiledWsStage,
        req: &WsRequest<'_>,
        parts: &http::request::Parts,
        key: HeaderValue,
    ) -> Response<GatewayBody> {
        let id = connections::new_id();
        let request_id = connections::new_id();
        // The Host as the client sent it, port included: `https://{domainName}/{stage}` is
        // then where a handler calls `@connections` back (AWS's never has a port).
        let domain = req.host.unwrap_or("").to_owned();
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into());
        let connected_at = req.epoch_ms;
        let mut authorizer = None;
        // New connections count against the stage's `$connect` throttle (its route settings,
        // else the stage default) and the account's, with or without a `$connect` route.
        if self.throttle(&stage.connect_throttle).is_err() {
            return answer(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        }
        let Some(slot) = self.connections.slot() else {
            tracing::warn!(api = %stage.api_id, "WebSocket connection refused: the connection limit is reached");
            return answer(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        };
        if let Some(route) = &stage.connect {
            match &route.auth {
                WsAuth::None => {}
                WsAuth::Unavailable => {
                    return answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
                }
                WsAuth::Iam => {
                    let arn = format!(
                        "arn:aws:execute-api:us-east-1:{}:{}/{}/$connect",
                        crate::account::ACCOUNT_ID,
                        stage.api_id,
                        stage.stage_name
                    );
                    if let Err(why) = self.iam_allows(parts, &[], &arn) {
                        tracing::debug!(api = %stage.api_id, "AWS_IAM refused $connect: {why}");
                        return answer(StatusCode::FORBIDDEN, "Forbidden");
                    }
                }
                WsAuth::Lambda(l) => {
                    let facts = ConnectionFacts {
                        api_id: &stage.api_id,
                        stage: &stage.stage_name,
                        domain_name: &domain,
                        connection_id: &id,
                        connected_at_ms: connected_at,
                        source_ip: &req.client.ip,
                        user_agent: user_agent.as_deref(),
                        authorizer: None,
                        stage_variables: &stage.stage_variables,
                    };
                    match self
                        .ws_authorize(l, stage, &facts, parts, &request_id, req.ids)
                        .await
                    {
                        Ok(v) => authorizer = Some(v),
                        Err(r) => return r,
                    }
                }
            }
        }
        let facts = ConnectionFacts {
            api_id: &stage.api_id,
            stage: &stage.stage_name,
            domain_name: &domain,
            connection_id: &id,
            connected_at_ms: connected_at,
            source_ip: &req.client.ip,
            user_agent: user_agent.as_deref(),
            authorizer: authorizer.as_ref(),
            stage_variables: &stage.stage_variables,
        };
        let mut protocol = None;
        if let Some(route) = &stage.connect {
            let forwarded = forwarded_headers(parts, req);
            let kind = Kind::Connect {
                headers: &forwarded,
                query: parts.uri.query(),
            };
            let trace = req.ids.trace_id.to_str().unwrap_or("-");
            match self
                .ws_integrate(route, stage, &facts, &kind, "", None, &request_id, trace)
                .await
            {
                Ok(done) => {
                    if !(200..300).contains(&done.status) {
                        // A status that cannot be an answer (1xx, 600+) is the integration's
                        // fault: 502, as for a failed function.
                        let Some(status) = (200..=599)
                            .contains(&done.status)
                            .then(|| StatusCode::from_u16(done.status).ok())
                            .flatten()
                        else {
                            return answer(StatusCode::BAD_GATEWAY, "Internal server error");
                        };
                        let mut r = Response::new(GatewayBody::full(done.body.unwrap_or_default()));
                        *r.status_mut() = status;
                        return r;
                    }
                    protocol = done.protocol;
                }
                Err(_) => return answer(StatusCode::BAD_GATEWAY, "Internal server error"),
            }
        }
        let conn = connections::open(
            ConnFacts {
                api_id: stage.api_id.clone(),
                stage: stage.stage_name.clone(),
                source_ip: req.client.ip.as_str().into(),
                user_agent: user_agent.map(String::into_boxed_str),
                domain_name: domain.into(),
                authorizer,
            },
            connected_at,
        );
        let mut r = Response::new(GatewayBody::Empty);
        *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = r.headers_mut();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        if let Ok(v) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        if let Some(p) = protocol.and_then(|p| HeaderValue::from_str(&p).ok()) {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, p);
        }
        r.extensions_mut().insert(Upgrade::new(Accepted {
            id: id.into(),
            conn,
            slot,
        }));
        r
    }

    /// A Lambda REQUEST authorizer on `$connect`: identity sources (all present, else 401
    /// without calling), the cached or fresh policy, the verdict for the route ARN.
    async fn ws_authorize(
        &self,
        l: &crate::http_api::auth::LambdaAuth,
        stage: &CompiledWsStage,
        facts: &ConnectionFacts<'_>,
        parts: &http::request::Parts,
        request_id: &str,
        ids: &RequestIds,
    ) -> Result<serde_json::Value, Response<GatewayBody>> {
        use crate::http_api::auth::{AuthorizerFailure, IdentitySource};
        let unauthorized = || answer(StatusCode::UNAUTHORIZED, "Unauthorized");
        let pairs = crate::http_api::payload::query_pairs(parts.uri.query());
        let mut identity = Vec::with_capacity(l.sources.len());
        for s in &l.sources {
            let v = match s {
                IdentitySource::Header(h) => parts
                    .headers
                    .get(h)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
                IdentitySource::Query(q) => pairs
                    .iter()
                    .rev()
                    .find(|(k, _)| k == q)
                    .map(|(_, v)| v.clone()),
                IdentitySource::Context(c) => match c.as_str() {
                    "connectionId" => Some(facts.connection_id.to_owned()),
                    "identity.sourceIp" => Some(facts.source_ip.to_owned()),
                    "stage" => Some(facts.stage.to_owned()),
                    _ => None,
                },
                IdentitySource::StageVariable(v) => stage.stage_variables.get(v).cloned(),
            };
            match v.filter(|v| !v.is_empty()) {
                Some(v) => identity.push(v),
                None => return Err(unauthorized()),
            }
        }
        let method_arn = format!(
            "arn:aws:execute-api:us-east-1:{}:{}/{}/$connect",
            crate::account::ACCOUNT_ID,
            stage.api_id,
            stage.stage_name
        );
        let trace = ids.trace_id.to_str().unwrap_or("-");
        let result = self
            .lambda_authorizer_result(l, &stage.api_id, trace, &identity, || {
                authorizer_event(
                    facts,
                    parts,
                    &method_arn,
                    request_id,
                    &stage.stage_variables,
                )
            })
            .await
            .map_err(|f| match f {
                AuthorizerFailure::Unauthorized => unauthorized(),
                AuthorizerFailure::Failed => {
                    answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
                }
            })?;
        if result.allows(&method_arn) {
            Ok(result.flat_value())
        } else {
            Err(answer(StatusCode::FORBIDDEN, "Forbidden"))
        }
    }

    /// One text message of connection `id`: its route by the selection expression (else
    /// `$default`), the throttle, the integration; what to send back (two-way routes' answers
    /// and error frames).
    pub(crate) async fn ws_message(&self, id: &str, conn: &Conn, text: &str) -> Option<String> {
        let started = std::time::Instant::now();
        let request_id = connections::new_id();
        // The message counts against the process's body budget while it is being handled.
        let mut held = self.budget.hold();
        if !held.grow(text.len() as u64) {
            return Some(error_frame("Internal server error", id, &request_id));
        }
        let snapshot = self.snapshot();
        let stage = match snapshot.api(&conn.api_id) {
            Some(ServedApi::WebSocket(stages)) => stages.get(conn.stage.as_ref()).cloned(),
            _ => None,
        };
        let Some(stage) = stage else {
            return Some(error_frame("Forbidden", id, &request_id));
        };
        let json: Option<serde_json::Value> = serde_json::from_str(text).ok();
        let key = stage.selection.select(json.as_ref(), 0);
        let Some(route) = stage.route_for(key.as_deref()) else {
            return Some(error_frame("Forbidden", id, &request_id));
        };
        if self.throttle(&route.throttle).is_err() {
            route.metrics.record(429, started.elapsed(), None);
            return Some(error_frame("Too Many Requests", id, &request_id));
        }
        let facts = facts_of(id, conn, &stage);
        let message_id = connections::new_id();
        let kind = Kind::Message {
            route_key: route.route_key.as_str(),
            message_id: &message_id,
            body: text,
        };
        let called = std::time::Instant::now();
        let result = self
            .ws_integrate(
                route,
                &stage,
                &facts,
                &kind,
                text,
                json.as_ref(),
                &request_id,
                "-",
            )
            .await;
        let integration = Some(called.elapsed());
        match result {
            Ok(done) => {
                route
                    .metrics
                    .record(done.status, started.elapsed(), integration);
                match done.body {
                    Some(b) if route.two_way && b.len() > session::MAX_MESSAGE_BYTES => {
                        tracing::warn!(api = %stage.api_id, route = %route.route_key.as_str(),
                            "the integration's answer is larger than a WebSocket message may be");
                        Some(error_frame("Internal server error", id, &request_id))
                    }
                    body if route.two_way => body,
                    _ => None,
                }
            }
            Err(()) => {
                route.metrics.record(500, started.elapsed(), integration);
                Some(error_frame("Internal server error", id, &request_id))
            }
        }
    }

    /// `$disconnect`, best effort, after the connection closed.
    pub(crate) async fn ws_disconnect(&self, id: &str, conn: &Conn, code: u16, reason: &str) {
        let snapshot = self.snapshot();
        let Some(ServedApi::WebSocket(stages)) = snapshot.api(&conn.api_id) else {
            return;
        };
        let Some(stage) = stages.get(conn.stage.as_ref()).cloned() else {
            return;
        };
        let Some(route) = &stage.disconnect else {
            return;
        };
        let facts = facts_of(id, conn, &stage);
        let request_id = connections::new_id();
        let kind = Kind::Disconnect {
            status_code: code,
            reason,
        };
        let _ = self
            .ws_integrate(route, &stage, &facts, &kind, "", None, &request_id, "-")
            .await;
    }

    /// Runs a route's integration for one event; the status and the body to send back.
    #[allow(clippy::too_many_arguments)]
    async fn ws_integrate(
        &self,
        route: &WsRoute,
        stage: &CompiledWsStage,
        facts: &ConnectionFacts<'_>,
        kind: &Kind<'_>,
        body: &str,
        json: Option<&serde_json::Value>,
        request_id: &str,
        trace: &str,
    ) -> Result<Integrated, ()> {
        match &route.target {
            WsTarget::Nothing => Ok(Integrated::status(200)),
            WsTarget::Unavailable(why) => {
                tracing::warn!(api = %stage.api_id, route = %route.route_key.as_str(),
                    "Execution failed due to configuration error: {why}");
                Err(())
            }
            WsTarget::Lambda(l) => {
                let event = events::event(facts, kind, request_id, self.now_epoch_ms());
                let invoked = self
                    .invoke_lambda(&stage.api_id, trace, l, event.into())
                    .await
                    .map_err(|_| ())?;
                if invoked.function_error.is_some() {
                    tracing::warn!(api = %stage.api_id, function = %l.function,
                        "Execution failed: the function returned an error");
                    return Err(());
                }
                Ok(proxy_answer(&invoked.payload))
            }
            WsTarget::HttpProxy(t) => {
                let (status, out) = self.ws_http(t, body.to_owned(), facts).await?;
                Ok(Integrated {
                    status,
                    body: Some(out),
                    protocol: None,
                })
            }
            WsTarget::Templated(t) => {
                self.ws_templated(t, route, stage, facts, kind, body, json, request_id)
                    .await
            }
        }
    }

    /// Sends `body` to an HTTP backend; its status and body.
    async fn ws_http(
        &self,
        t: &HttpTarget,
        body: String,
        facts: &ConnectionFacts<'_>,
    ) -> Result<(u16, String), ()> {
        let path = t
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .to_owned();
        let mut req = Request::new(GatewayBody::full(body));
        *req.method_mut() = t.method.clone();
        *req.uri_mut() = path.parse().map_err(|_| ())?;
        let h = req.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = HeaderValue::from_str(facts.connection_id) {
            h.insert(HeaderName::from_static("connectionid"), v);
        }
        let resp = t.pool.send_within(req, t.timeout).await.map_err(|e| {
            tracing::warn!(api = %facts.api_id, error = %e, "Execution failed: the backend did not answer");
        })?;
        let status = resp.status().as_u16();
        let bytes = tokio::time::timeout(t.timeout, resp.into_body().collect())
            .await
            .map_err(|_| ())?
            .map_err(|_| ())?
            .to_bytes();
        if bytes.len() > session::MAX_MESSAGE_BYTES {
            return Err(());
        }
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// A non-proxy integration: the request template, the call, the integration response.
    #[allow(clippy::too_many_arguments)]
    async fn ws_templated(
        &self,
        t: &Templated,
        route: &WsRoute,
        stage: &CompiledWsStage,
        facts: &ConnectionFacts<'_>,
        kind: &Kind<'_>,
        body: &str,
        json: Option<&serde_json::Value>,
        request_id: &str,
    ) -> Result<Integrated, ()> {
        let ctx = template_context(facts, kind, route, request_id, self.now_epoch_ms());
        let request = match pick(&t.templates, t.template_selection.as_ref(), json, 0) {
            Some(tpl) => render(tpl, body, &ctx, stage)?,
            None => {
                let pass = match t.passthrough {
                    Passthrough::WhenNoMatch => true,
                    Passthrough::WhenNoTemplates => t.templates.is_empty(),
                    Passthrough::Never => false,
                };
                if !pass {
                    return Err(());
                }
                body.to_owned()
            }
        };
        let (status, out) = match &t.call {
            Call::Mock => {
                let status = serde_json::from_str::<serde_json::Value>(&request)
                    .ok()
                    .and_then(|v| v.get("statusCode")?.as_u64())
                    .map(|s| s as u16)
                    .unwrap_or(200);
                (status, request)
            }
            Call::Http(h) => self.ws_http(h, request, facts).await?,
            Call::Lambda(l) => {
                let invoked = self
                    .invoke_lambda(&stage.api_id, "-", l, request.into_bytes().into())
                    .await
                    .map_err(|_| ())?;
                let out = String::from_utf8_lossy(&invoked.payload).into_owned();
                (
                    if invoked.function_error.is_some() {
                        500
                    } else {
                        200
                    },
                    out,
                )
            }
        };
        // The integration response: by the selection expression (else the status), `$default`
        // when no pattern matches.

        let value = match &t.response_selection {
            Some(e) => e.select(json, status).unwrap_or_default(),
            None => status.to_string(),
        };
        let chosen: Option<&CompiledResponse> = t.responses.iter().find(|r| match &r.pattern {
            Some(p) => p.is_match(&value),
            None => true,
        });
        let Some(r) = chosen else {
            return Ok(Integrated {
                status,
                body: None,
                protocol: None,
            });
        };
        // The integration's answer as JSON only when the selection reads it.
        let out_json: Option<serde_json::Value> = r
            .template_selection
            .as_ref()
            .and_then(|_| serde_json::from_str(&out).ok());
        let tpl = pick(
            &r.templates,
            r.template_selection.as_ref(),
            out_json.as_ref().or(json),
            status,
        );
        let body = match tpl {
            Some(tpl) => render(tpl, &out, &ctx, stage)?,
            None => out,
        };
        Ok(Integrated {
            status,
            body: Some(body),
            protocol: None,
        })
    }

    /// An `@connections` call for a connection no node holds: 410 (403 first when calls must
    /// be signed and this one is not).
    pub(crate) async fn connection_gone(
        &self,
        parts: &http::request::Parts,
        body: GatewayBody,
    ) -> Response<GatewayBody> {
        let bytes = match self.collect_body(body).await {
            Ok((b, _hold)) => b,
            Err(_) => bytes::Bytes::new(),
        };
        // No connection, so no API to check the signer's policy against: a valid signature of
        // a known principal is enough to learn that the id is gone.
        if !self.principals.load().is_empty()
            && (!crate::iam::has_signature(parts) || self.verify_signer(parts, &bytes).is_err())
        {
            return management_error(
                StatusCode::FORBIDDEN,
                "ForbiddenException",
                Some("Forbidden"),
            );
        }
        management_error(StatusCode::GONE, "GoneException", None)
    }

    /// `POST`/`GET`/`DELETE /{stage}/@connections/{id}`.
    async fn connections_api(
        &self,
        stage: &CompiledWsStage,
        id: &str,
        parts: &http::request::Parts,
        body: GatewayBody,
    ) -> Response<GatewayBody> {
        let bytes = match self.collect_body(body).await {
            Ok((b, _hold)) => b,
            Err(_) => {
                return management_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PayloadTooLargeException",
                    Some("Request Entity Too Large"),
                );
            }
        };
        // With credentials configured, calls must be signed (service `execute-api`) by a
        // principal whose policy allows `{api}/{stage}/{METHOD}/@connections/{id}`.
        if !self.principals.load().is_empty() {
            let arn = format!(
                "arn:aws:execute-api:us-east-1:{}:{}/{}/{}/@connections/{id}",
                crate::account::ACCOUNT_ID,
                stage.api_id,
                stage.stage_name,
                parts.method.as_str()
            );
            if self.iam_allows(parts, &bytes, &arn).is_err() {
                return management_error(
                    StatusCode::FORBIDDEN,
                    "ForbiddenException",
                    Some("Forbidden"),
                );
            }
        }
        let owned = self
            .state
            .connections
            .locate(id)
            .and_then(|_| self.connections.get(id))
            .filter(|c| c.api_id == stage.api_id && c.stage == stage.stage_name);
        let Some(conn) = owned else {
            return management_error(StatusCode::GONE, "GoneException", None);
        };
        match parts.method {
            Method::POST => {
                if bytes.len() > session::MAX_MESSAGE_BYTES {
                    return management_error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "PayloadTooLargeException",
                        Some("Message too long"),
                    );
                }
                let text = String::from_utf8_lossy(&bytes).into_owned();
                match conn.post(text) {
                    Ok(()) => {
                        conn.last_active_ms.store(self.now_epoch_ms(), Relaxed);
                        Response::new(GatewayBody::Empty)
                    }
                    Err(PostRefused::Closing) => {
                        management_error(StatusCode::GONE, "GoneException", None)
                    }
                    Err(PostRefused::Full) => management_error(
                        StatusCode::TOO_MANY_REQUESTS,
                        "LimitExceededException",
                        Some("Too many messages queued for this connection"),
                    ),
                }
            }
            Method::GET => {
                let info = serde_json::json!({
                    "connectedAt": iso_ms(conn.connected_at_ms),
                    "identity": {
                        "sourceIp": conn.source_ip.as_ref(),
                        "userAgent": conn.user_agent.as_deref().unwrap_or(""),
                    },
                    "lastActiveAt": iso_ms(conn.last_active_ms.load(Relaxed)),
                });
                let mut r = Response::new(GatewayBody::full(info.to_string()));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                r
            }
            Method::DELETE => {
                conn.close(1000);
                let mut r = Response::new(GatewayBody::Empty);
                *r.status_mut() = StatusCode::NO_CONTENT;
                r
            }
            _ => answer(StatusCode::FORBIDDEN, "Forbidden"),
        }
    }
}

impl Gateway {
    /// A SigV4-signed request whose signer's policy allows `arn` (in this account).
    fn iam_allows(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        arn: &str,
    ) -> Result<(), String> {
        if !crate::iam::has_signature(parts) {
            return Err("no signature".into());
        }
        let p = self
            .verify_signer(parts, body)
            .map_err(|r| r.message().to_string())?;
        if p.verdict(arn) == crate::steps::authorizer::Verdict::Allow
            && p.account_id() == crate::account::ACCOUNT_ID
        {
            Ok(())
        } else {
            Err(format!("the signer's policy does not allow {arn}"))
        }
    }
}

/// The upgrade request's headers as `$connect` sees them: the client's, plus the
/// `X-Forwarded-*` and `X-Amzn-Trace-Id` API Gateway adds.
fn forwarded_headers(parts: &http::request::Parts, req: &WsRequest<'_>) -> http::HeaderMap {
    let mut h = parts.headers.clone();
    h.insert(
        HeaderName::from_static("x-forwarded-for"),
        req.client.ip_header.clone(),
    );
    let tls = req.client.tls.is_some();
    let port = req
        .host
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, p)| p)
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty())
        .unwrap_or(if tls { "443" } else { "80" });
    if let Ok(v) = HeaderValue::from_str(port) {
        h.insert(HeaderName::from_static("x-forwarded-port"), v);
    }
    h.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(if tls { "https" } else { "http" }),
    );
    h.insert(
        HeaderName::from_static("x-amzn-trace-id"),
        req.ids.trace_id.clone(),
    );
    h
}

/// What an integration gave back.
pub(crate) struct Integrated {
    pub(crate) status: u16,
    /// What a two-way route sends back (`None`: nothing).
    pub(crate) body: Option<String>,
    /// `$connect`: the `Sec-WebSocket-Protocol` the function chose.
    pub(crate) protocol: Option<String>,
}

impl Integrated {
    fn status(status: u16) -> Self {
        Self {
            status,
            body: None,
            protocol: None,
        }
    }
}

/// A Lambda proxy answer: `statusCode` (default 200), `body` (a string, or other JSON as text),
/// `headers.Sec-WebSocket-Protocol`.
fn proxy_answer(payload: &[u8]) -> Integrated {
    let v: Option<serde_json::Value> = serde_json::from_slice(payload).ok();
    let Some(serde_json::Value::Object(m)) = v else {
        return Integrated::status(200);
    };
    // A `statusCode` that is no status (negative, fractional, too large) is kept out of range
    // (0), so that `$connect` refuses with 502 rather than wrapping it onto a 2xx.
    let status = match m.get("statusCode") {
        None | Some(serde_json::Value::Null) => 200,
        Some(s) => s
            .as_u64()
            .or_else(|| s.as_str()?.parse().ok())
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(0),
    };
    let body = match m.get("body") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let protocol = m.get("headers").and_then(|h| {
        h.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-protocol"))
            .and_then(|(_, v)| v.as_str().map(str::to_owned))
    });
    Integrated {
        status,
        body,
        protocol,
    }
}

/// A valid `Sec-WebSocket-Key`: base64 of 16 bytes.
fn valid_key(k: &[u8]) -> bool {
    use base64::Engine;
    k.len() == 24
        && base64::engine::general_purpose::STANDARD
            .decode(k)
            .is_ok_and(|b| b.len() == 16)
}

/// ISO-8601 with milliseconds, as `GetConnection` writes times.
fn iso_ms(ms: u64) -> String {
    let secs = portico_model::http::iso_date((ms / 1000) as i64);
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), ms % 1000)
}

fn facts_of<'a>(id: &'a str, conn: &'a Conn, stage: &'a CompiledWsStage) -> ConnectionFacts<'a> {
    ConnectionFacts {
        api_id: &conn.api_id,
        stage: &conn.stage,
        domain_name: &conn.domain_name,
        connection_id: id,
        connected_at_ms: conn.connected_at_ms,
        source_ip: &conn.source_ip,
        user_agent: conn.user_agent.as_deref(),
        authorizer: conn.authorizer.as_ref(),
        stage_variables: &stage.stage_variables,
    }
}

/// A REQUEST authorizer's event on `$connect` (payload 1.0 shape, WebSocket context).
fn authorizer_event(
    facts: &ConnectionFacts<'_>,
    parts: &http::request::Parts,
    method_arn: &str,
    request_id: &str,
    stage_variables: &portico_model::Map<String>,
) -> Vec<u8> {
    let connect = events::event(
        facts,
        &Kind::Connect {
            headers: &parts.headers,
            query: parts.uri.query(),
        },
        request_id,
        facts.connected_at_ms,
    );
    let Ok(serde_json::Value::Object(mut e)) = serde_json::from_slice(&connect) else {
        return connect;
    };
    e.remove("isBase64Encoded");
    let mut out = serde_json::Map::new();
    out.insert("type".into(), serde_json::json!("REQUEST"));
    out.insert("methodArn".into(), serde_json::json!(method_arn));
    out.extend(e);
    if !out.contains_key("stageVariables") {
        out.insert("stageVariables".into(), serde_json::json!(stage_variables));
    }
    serde_json::to_vec(&serde_json::Value::Object(out)).unwrap_or_default()
}

/// The template a selection expression picks (evaluated over `json` and the status), else the
/// `$default` one.
fn pick<'a>(
    templates: &'a [(Box<str>, super::CompiledTemplate)],
    selection: Option<&super::Selection>,
    json: Option<&serde_json::Value>,
    status: u16,
) -> Option<&'a super::CompiledTemplate> {
    let key = match selection {
        Some(s) => s.select(json, status),
        None => None,
    };
    key.as_deref()
        .and_then(|k| templates.iter().find(|(t, _)| t.as_ref() == k))
        .or_else(|| templates.iter().find(|(t, _)| t.as_ref() == "$default"))
        .map(|(_, tpl)| tpl)
}

/// `$context` of a WebSocket mapping template.
fn template_context(
    facts: &ConnectionFacts<'_>,
    kind: &Kind<'_>,
    route: &WsRoute,
    request_id: &str,
    epoch_ms: u64,
) -> serde_json::Value {
    let (event_type, message_id) = match kind {
        Kind::Connect { .. } => ("CONNECT", None),
        Kind::Message { message_id, .. } => ("MESSAGE", Some(*message_id)),
        Kind::Disconnect { .. } => ("DISCONNECT", None),
    };
    serde_json::json!({
        "apiId": facts.api_id,
        "authorizer": facts.authorizer.cloned().unwrap_or(serde_json::json!({})),
        "connectedAt": facts.connected_at_ms,
        "connectionId": facts.connection_id,
        "domainName": facts.domain_name,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "identity": {"sourceIp": facts.source_ip, "userAgent": facts.user_agent},
        "messageDirection": "IN",
        "messageId": message_id,
        "requestId": request_id,
        "requestTime": crate::access_log::clf_time(epoch_ms / 1000),
        "requestTimeEpoch": epoch_ms,
        "routeKey": route.route_key.as_str(),
        "stage": facts.stage,
    })
}

/// Template limits for WebSocket messages: output no larger than a message, 100 ms of work.
static RENDER_LIMITS: std::sync::LazyLock<portico_vtl::Limits> =
    std::sync::LazyLock::new(|| portico_vtl::Limits {
        max_output_bytes: session::MAX_MESSAGE_BYTES,
        max_duration: Some(std::time::Duration::from_millis(100)),
        ..portico_vtl::Limits::default()
    });

/// Renders a mapping template over `body` (`$input.body`).
fn render(
    tpl: &super::CompiledTemplate,
    body: &str,
    context: &serde_json::Value,
    stage: &CompiledWsStage,
) -> Result<String, ()> {
    let inputs = crate::templating::TemplateInputs {
        body: bytes::Bytes::copy_from_slice(body.as_bytes()),
        context: crate::templating::context_value(context.clone()),
        stage_variables: stage.template_stage_variables.clone(),
        ..Default::default()
    };
    let mut ctx = crate::templating::context(inputs, &tpl.paths);
    tpl.template
        .render(&mut ctx, &RENDER_LIMITS)
        .map_err(|e| {
            tracing::warn!(api = %stage.api_id, error = %e, "Execution failed: the mapping template failed");
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_ids() {
        assert_eq!(path_style("/restapis/abc/prod"), Some(("abc", "prod", "/")));
        assert_eq!(
            path_style("/restapis/abc/prod/@connections/x%3D"),
            Some(("abc", "prod", "/@connections/x%3D"))
        );
        assert_eq!(
            connections_call("/%40connections/R0oXAdfD0kwCH6w%3D").as_deref(),
            Some("R0oXAdfD0kwCH6w=")
        );
        assert_eq!(connections_call("/@connections/a/b"), None);
        assert_eq!(connections_call("/other"), None);
        assert!(valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!valid_key(b"short"));
        assert_eq!(iso_ms(1_705_751_697_419), "2024-01-20T11:54:57.419Z");
        assert_eq!(
            error_frame("Forbidden", "c=", "r="),
            "{\"message\": \"Forbidden\", \"connectionId\":\"c=\", \"requestId\":\"r=\"}"
        );
    }

    #[test]
    fn proxy_answers() {
        let a = proxy_answer(br#"{"statusCode": 200, "body": "hi"}"#);
        assert_eq!((a.status, a.body.as_deref()), (200, Some("hi")));
        let a = proxy_answer(br#"{"statusCode": "403"}"#);
        assert_eq!((a.status, a.body), (403, None));
        let a =
            proxy_answer(br#"{"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "chat"}}"#);
        assert_eq!(a.protocol.as_deref(), Some("chat"));
        assert_eq!(proxy_answer(b"null").status, 200);
    }
}
