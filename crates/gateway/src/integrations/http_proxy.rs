//! `HTTP_PROXY`: the request passes through to the backend, the backend's response back.

use crate::body::GatewayBody;
use crate::compile::HttpProxyIntegration;
use crate::exchange::{Exchange, Outcome};
use crate::gateway::Gateway;
use crate::gateway_response::GatewayError;
use crate::integrations::{
    X_AMZN_APIGATEWAY_API_ID, X_FORWARDED_FOR, X_FORWARDED_PROTO, strip_hop_by_hop,
    uri_render_failed,
};
use http::Request;
use http::header::{self, HeaderValue};
use std::time::Instant;

impl Gateway {
    pub(crate) async fn run_http_proxy(
        &self,
        x: &Exchange<'_>,
        p: &HttpProxyIntegration,
        parts: &mut http::request::Parts,
        body: GatewayBody,
    ) -> Outcome {
        let stage = x.stage;
        // Integration request phase.
        let uri = match p.uri.render(|n| x.param(n), parts.uri.query()) {
            Ok(u) => u,
            Err(e) => return Outcome::fail(uri_render_failed(e)),
        };
        let mut req = Request::new(body);
        *req.method_mut() = p.method.clone().unwrap_or_else(|| parts.method.clone());
        *req.uri_mut() = uri;
        // The client's header-name spelling (HTTP/1.1) goes to the backend with the headers.
        *req.extensions_mut() = std::mem::take(&mut parts.extensions);
        let headers = req.headers_mut();
        *headers = std::mem::take(&mut parts.headers);
        // What a gateway-response override may still read of the request stays (decided at
        // deploy time; most APIs read none).
        for name in stage.responses.request_headers() {
            for v in headers.get_all(name) {
                parts.headers.append(name.clone(), v.clone());
            }
        }
        strip_hop_by_hop(headers);
        headers.remove(header::HOST);
        let xff = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(prev) => HeaderValue::from_str(&format!("{prev}, {}", x.client.ip)).ok(),
            None => Some(x.client.ip_header.clone()),
        };
        if let Some(v) = xff {
            headers.insert(X_FORWARDED_FOR, v);
        }
        headers.insert(X_FORWARDED_PROTO, x.client.proto_header());
        headers.insert(X_AMZN_APIGATEWAY_API_ID, stage.api_id_header.clone());
        if !headers.contains_key(header::USER_AGENT) {
            headers.insert(header::USER_AGENT, stage.default_user_agent.clone());
        }

        // Integration phase.
        let started = Instant::now();
        let result = p.pool.send_within(req, p.timeout).await;
        let integration_latency = Some(started.elapsed());
        let upstream = match result {
            Err(e) if e.is_timeout() => {
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(GatewayError::integration_timeout())
                };
            }
            Err(e) if e.is_body_too_large() => {
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(GatewayError::request_too_large())
                };
            }
            Err(e) if e.is_client_body() => {
                tracing::debug!(api = %stage.api_id, error = %e, "client request body failed");
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(GatewayError::bad_request())
                };
            }
            Err(e) => {
                tracing::warn!(api = %stage.api_id, stage = %stage.stage_name, error = %e,
                    connect = e.is_connect(), "Execution failed due to an integration error");
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(GatewayError::integration_unreachable())
                };
            }
            Ok(r) => r,
        };

        // Integration response + method response phases: pass through.
        let integration_status = Some(upstream.status().as_u16());
        let mut response = upstream.map(GatewayBody::from);
        let connection = response.headers().get(header::CONNECTION).cloned();
        strip_hop_by_hop(response.headers_mut());
        crate::headers::remap_proxy_response(
            response.headers_mut(),
            parts.method == http::Method::HEAD,
        );
        if let Some(c) = connection {
            response
                .headers_mut()
                .insert(crate::headers::X_AMZN_REMAPPED_CONNECTION, c);
        }
        Outcome {
            response,
            integration_latency,
            integration_status,
            error: None,
            pending: false,
            traced: false,
        }
    }
}
