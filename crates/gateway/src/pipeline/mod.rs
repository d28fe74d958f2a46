//! The request lifecycle: resolve → method request → integration request → integration →
//! integration response → method response → log. Short-circuits are returned values.

mod authorizer;
mod cache;
mod method_request;
mod traffic;

pub(crate) use crate::body::discard_body;
pub(crate) use method_request::Flow;

pub(crate) use crate::exchange::RequestIds;
pub use crate::exchange::{ConnInfo, TlsInfo};
pub(crate) use crate::exchange::{Exchange, Identity, Outcome, protocol, request_variable};

use crate::access_log::{AccessLogRecord, epoch_millis};
use crate::addressing;
use crate::body::GatewayBody;
use crate::compile::{CompiledStage, Route, ServingSnapshot};
use crate::gateway::Gateway;
use crate::gateway_response::{GatewayError, GatewayResponses};
use crate::metrics::RouteMetrics;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use portico_router::Lookup;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

pub(crate) const X_AMZN_REQUESTID: HeaderName = HeaderName::from_static("x-amzn-requestid");
pub(crate) const X_AMZ_APIGW_ID: HeaderName = HeaderName::from_static("x-amz-apigw-id");
pub(crate) const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

impl Gateway {
    /// The phases after routing: method request steps, then the integration (request,
    /// call, response).
    async fn run_route(
        &self,
        x: &mut Exchange<'_>,
        route: &Route,
        parts: &mut http::request::Parts,
        body: GatewayBody,
    ) -> Outcome {
        // Bytes of buffered bodies this request holds, given back when it is done.
        let mut held = Vec::new();
        let body = match self.method_request(x, route, parts, body, &mut held).await {
            Flow::Continue(body) => body,
            Flow::Respond(outcome) => return outcome,
        };
        let mut outcome = crate::integrations::call(self, x, route, parts, body).await;
        if let Some(pending) = x.cache_store.take() {
            self.cache_store(pending, &mut outcome).await;
        }
        if x.cache_warning {
            outcome.response.headers_mut().insert(
                http::header::WARNING,
                HeaderValue::from_static(cache::IGNORED_WARNING),
            );
        }
        outcome
    }

    /// Handles one request end to end. Never fails: every problem becomes a gateway response.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        remote: SocketAddr,
    ) -> Response<GatewayBody> {
        self.handle_from(req, &ConnInfo::new(remote)).await
    }

    /// [`Gateway::handle`] with the per-connection client facts computed once per connection.
    pub async fn handle_from(
        &self,
        req: Request<Incoming>,
        client: &ConnInfo,
    ) -> Response<GatewayBody> {
        self.handle_watched(req, client, None).await
    }

    /// [`Gateway::handle_from`] with the request body watched (see [`crate::body::BodyWatch`]).
    pub(crate) async fn handle_watched(
        &self,
        req: Request<Incoming>,
        client: &ConnInfo,
        watch: Option<Box<dyn crate::body::BodyWatch>>,
    ) -> Response<GatewayBody> {
        let snapshot = self.snapshot.load();
        let req = req.map(|b| {
            GatewayBody::Client(crate::body::ClientBody::new(
                b,
                watch,
                self.config.max_body_bytes,
            ))
        });
        self.process(&snapshot, req, client).await
    }

    /// Runs one request through the phases against `snapshot` (the served one, or a temporary
    /// one for `TestInvokeMethod`).
    pub async fn process(
        &self,
        snapshot: &ServingSnapshot,
        req: Request<GatewayBody>,
        client: &ConnInfo,
    ) -> Response<GatewayBody> {
        let start = Instant::now();
        let epoch_ms = epoch_millis();
        let ids = RequestIds::new(epoch_ms);
        let (mut parts, body) = req.into_parts();
        // Two Host headers make the authority ambiguous (RFC 9112 §3.2): refuse.
        let mut hosts = parts.headers.get_all(header::HOST).iter();
        if hosts.next().is_some() && hosts.next().is_some() {
            let mut outcome =
                Outcome::error(&GatewayResponses::default(), GatewayError::bad_request());
            finish_headers(
                &mut outcome.response,
                &ids,
                outcome.traced,
                self.aws_case.get(),
            );
            discard_body(body);
            return outcome.response;
        }
        let host_header = parts.headers.get(header::HOST).cloned();
        let authority = parts.uri.authority().cloned();
        let host = host_header
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .or_else(|| authority.as_ref().map(|a| a.as_str()));
        let user_agent = if self.config.access_log.enabled() {
            parts.headers.get(header::USER_AGENT).cloned()
        } else {
            None
        };
        let uri = parts.uri.clone();
        let path = uri.path();

        // Resolve API and stage: the default endpoint's two forms, else a custom domain.
        let mut address = addressing::resolve(host, path);
        let domains;
        if address.is_none()
            && let Some(h) = host
        {
            domains = self.domains.load();
            address = domains.resolve(h, path);
        }
        // `/restapis/{apiId}/{stage}[/@connections/{id}]`: a WebSocket API's path form.
        if address.is_none()
            && let Some((api_id, stage, rest)) = crate::websocket::serve::path_style(path)
            && let Some(crate::compile::ServedApi::WebSocket(_)) = snapshot.api(api_id)
        {
            address = Some(addressing::Address {
                api_id,
                stage,
                path: rest,
                whole: rest,
                style: addressing::Style::Path,
                base_path: None,
            });
        }
        // `/{stage}/@connections/{id}` on a host that names no API: the connection's own API.
        let bare_conn;
        if address.is_none()
            && let Some((stage, id)) = crate::websocket::serve::bare_connections_call(path)
        {
            bare_conn = self.connections.get(&id);
            if bare_conn.is_none() {
                // No such connection here: gone, as on the API's own host.
                let mut resp = self.connection_gone(&parts, body).await;
                finish_headers(&mut resp, &ids, false, self.aws_case.get());
                return resp;
            }
            if let Some(c) = &bare_conn {
                address = Some(addressing::Address {
                    api_id: &c.api_id,
                    stage,
                    path: &path[stage.len() + 1..],
                    whole: &path[stage.len() + 1..],
                    style: addressing::Style::Path,
                    base_path: None,
                });
            }
        }
        if let Some(a) = address
            && let Some(crate::compile::ServedApi::WebSocket(stages)) = snapshot.api(a.api_id)
        {
            let req = crate::websocket::serve::WsRequest {
                address: a,
                host,
                client,
                ids: &ids,
                epoch_ms,
            };
            let asked_upgrade = parts.headers.contains_key(header::UPGRADE);
            let mut resp = self.serve_websocket(stages, req, parts, body).await;
            if resp.status() != http::StatusCode::SWITCHING_PROTOCOLS {
                finish_headers(&mut resp, &ids, false, self.aws_case.get());
                // A refused upgrade closes the connection: a front proxy that tunnels without
                // looking for the 101 gets nothing more through it.
                if asked_upgrade {
                    resp.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
            }
            return resp;
        }
        if let Some(a) = address
            && let Some(crate::compile::ServedApi::Http(stages)) = snapshot.api(a.api_id)
        {
            let req = crate::http_api::serve::HttpRequest {
                address: a,
                whole_path: a.whole,
                host,
                client,
                ids: &ids,
                start,
                epoch_ms,
            };
            return self.serve_http(stages, req, parts, body).await;
        }
        let stage = address.and_then(|a| snapshot.stage(a.api_id, a.stage));
        let Some((address, stage)) = address.zip(stage) else {
            // Unknown API or stage: AWS answers 403 Forbidden before any routing.
            self.metrics.unrouted.fetch_add(1, Relaxed);
            let err = GatewayError::forbidden();
            let mut outcome = Outcome::error(&GatewayResponses::default(), err);
            finish_headers(
                &mut outcome.response,
                &ids,
                outcome.traced,
                self.aws_case.get(),
            );
            return outcome.response;
        };
        // A stage with a canary sends it `percentTraffic` % of its requests, picked at random;
        // the canary's compiled stage serves them from routing on.
        let stage: &CompiledStage = match &stage.canary {
            Some(canary) if canary.picks() => &canary.stage,
            _ => stage,
        };

        // `disableExecuteApiEndpoint` closes the default endpoint, not the API's custom domains.
        let lookup = if stage.execute_api_disabled
            && address.style != addressing::Style::CustomDomain
        {
            Err(GatewayError::forbidden())
        } else {
            match crate::uri::check_request_path(address.path) {
                Err(why) => {
                    tracing::debug!(path = address.path, ?why, "request path refused");
                    Err(GatewayError::bad_request())
                }
                Ok(()) => match stage.router.find(parts.method.as_str(), address.path) {
                    // A route that forwards to an HTTP backend never passes on a path the
                    // backend could read as another resource (encoded separators, `;`).
                    Lookup::Found(m)
                        if crate::uri::forward_hazard(address.path) && m.value.forwards_path() =>
                    {
                        Err(GatewayError::bad_request())
                    }
                    Lookup::Found(m) => Ok(m),
                    Lookup::NotFound => Err(GatewayError::missing_authentication_token()),
                },
            }
        };
        let rid = ids.request_id.to_str().unwrap_or("-");
        let (found, refused) = match lookup {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(e)),
        };
        let route = found.as_ref().map(|m| m.value);
        let mut x = Exchange {
            stage,
            route,
            params: found.as_ref().map(|m| &m.params),
            client,
            rid,
            base_path: address.base_path,
            extended_rid: ids.apigw_id.to_str().unwrap_or("-"),
            trace_id: ids.trace_id.to_str().unwrap_or("-"),
            resource_request_path: address.path,
            address_style: address.style,
            identity: Identity::default(),
            authorizer: None,
            cache_store: None,
            cache_warning: false,
        };
        let mut outcome = match (refused, route) {
            (None, Some(route)) => self.run_route(&mut x, route, &mut parts, body).await,
            (refused, _) => Outcome::fail(refused.unwrap_or_else(GatewayError::forbidden)),
        };
        if outcome.pending
            && let Some(err) = &outcome.error
        {
            let context = std::cell::OnceCell::new();
            let lookup =
                |name: &str| -> Option<String> { request_variable(name, &x, &parts, &context) };
            outcome.response = stage.responses.render_for(err, &lookup);
        }
        let api_key_id = x.identity.api_key.as_ref().map(|k| k.id.clone());
        let authorizer = x.authorizer.take();
        drop(x);
        drop(found);
        if outcome.error.as_ref().is_some_and(|e| {
            matches!(
                e.status,
                StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
            )
        }) && parts.version < Version::HTTP_2
        {
            // The body was not read whole: the connection cannot carry another request.
            outcome
                .response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        finish_headers(
            &mut outcome.response,
            &ids,
            outcome.traced,
            self.aws_case.get(),
        );

        // Log phase.
        let latency = start.elapsed();
        let status = outcome.response.status().as_u16();
        let metrics: &RouteMetrics = match route {
            Some(r) => &r.metrics,
            None => &stage.unmatched_metrics,
        };
        metrics.record(status, latency, outcome.integration_latency);
        if self.config.access_log.enabled() {
            let record = AccessLogRecord {
                request_id: ids.request_id.to_str().unwrap_or("-"),
                extended_request_id: ids.apigw_id.to_str().unwrap_or("-"),
                source_ip: &client.ip,
                user_agent: user_agent
                    .as_ref()
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-"),
                http_method: parts.method.as_str(),
                resource_path: route.map(|r| r.resource_path.as_str()).unwrap_or("-"),
                resource_id: route.map(|r| r.resource_id.as_str()).unwrap_or("-"),
                path,
                status,
                protocol: protocol(parts.version),
                response_length: outcome
                    .response
                    .headers()
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .or_else(|| http_body::Body::size_hint(outcome.response.body()).exact()),
                request_time_epoch_ms: epoch_ms,
                integration_latency_ms: outcome.integration_latency.map(|d| d.as_millis() as u64),
                integration_status: outcome.integration_status,
                response_latency_ms: latency.as_millis() as u64,
                api_id: &stage.api_id,
                stage: &stage.stage_name,
                domain_name: host.unwrap_or("-"),
                error_message: outcome
                    .error
                    .as_ref()
                    .map(|e| e.message.as_ref())
                    .unwrap_or(""),
                api_key_id: api_key_id.as_deref().unwrap_or("-"),
                client_cert: client.client_cert(),
                base_path_matched: address.base_path,
                is_canary_request: stage.is_canary_request,
                route_key: None,
                integration_error: "",
                authorizer: authorizer.as_deref(),
                error_response_type: outcome
                    .error
                    .as_ref()
                    .map(|e| e.kind.as_str())
                    .unwrap_or(""),
            };
            self.config
                .access_log
                .write(stage.access_log.render(&record));
        }
        outcome.response
    }
}

/// Method response phase, last step: the ids every response carries.
fn finish_headers(
    resp: &mut Response<GatewayBody>,
    ids: &RequestIds,
    traced: bool,
    aws_case: Option<&http::Extensions>,
) {
    // A response Portico built carries no extensions: spell its names as AWS does. One from a
    // backend carries the backend's spelling.
    if let Some(case) = aws_case
        && resp.extensions().is_empty()
    {
        *resp.extensions_mut() = case.clone();
    }
    let h = resp.headers_mut();
    h.insert(X_AMZN_REQUESTID, ids.request_id.clone());
    h.insert(X_AMZ_APIGW_ID, ids.apigw_id.clone());
    if traced {
        h.insert(X_AMZN_TRACE_ID, ids.trace_id.clone());
    }
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        *resp.status_mut() = StatusCode::BAD_GATEWAY;
    }
}
