//! Integrations behind one seam: each type is one module with its call; what they share
//! (hop-by-hop headers, method response headers, the answers to failed renders) is here.

mod aws_service;
mod http_custom;
mod http_proxy;
pub(crate) mod lambda;
mod lambda_custom;
mod mock;
mod response;

use crate::Gateway;
use crate::body::GatewayBody;
use crate::compile::CompiledStage;
use crate::compile::{CompiledIntegration, Route};
use crate::exchange::{Exchange, Outcome};
use crate::gateway_response::GatewayError;
use crate::params::Env as ParamEnv;
use http::Response;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
];

// Header names the gateway sets on every request or response, parsed once.
pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) const X_AMZN_APIGATEWAY_API_ID: HeaderName =
    HeaderName::from_static("x-amzn-apigateway-api-id");

/// Removes hop-by-hop headers, including those the `Connection` header names. One pass over the
/// names first: most messages carry none, and then nothing is hashed or removed.
pub(crate) fn strip_hop_by_hop(h: &mut HeaderMap) {
    let any = h.keys().any(|k| {
        HOP_BY_HOP.contains(k)
            || k == header::PROXY_AUTHORIZATION
            || k.as_str() == "keep-alive"
            || k.as_str() == "proxy-connection"
    });
    if !any {
        return;
    }
    if let Some(conn) = h.get(header::CONNECTION).and_then(|v| v.to_str().ok()) {
        let named: Vec<HeaderName> = conn
            .split(',')
            .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
            .collect();
        for n in named {
            h.remove(n);
        }
    }
    for n in HOP_BY_HOP {
        h.remove(n);
    }
    h.remove("keep-alive");
    h.remove("proxy-connection");
    h.remove(header::PROXY_AUTHORIZATION);
}

/// Literal and mapped `method.response.header.*` values of an integration response.
pub(crate) fn method_response_headers(
    response: &mut Response<GatewayBody>,
    ir: &crate::mapping::CompiledIntegrationResponse,
    env: &ParamEnv<'_>,
) {
    let out = response.headers_mut();
    for (n, v) in &ir.headers {
        out.insert(n.clone(), v.clone());
    }
    for (to, src) in &ir.mapped_headers {
        if let Some(v) = env.eval(src).and_then(|v| HeaderValue::from_str(&v).ok()) {
            out.insert(to.clone(), v);
        }
    }
}

/// The answer to an integration URI that did not render: 400 for a dot segment from request
/// data, else a configuration error (500, reason in the log).
pub(crate) fn uri_render_failed(e: crate::uri::RenderError) -> GatewayError {
    match e {
        crate::uri::RenderError::DotSegment => GatewayError::bad_request(),
        crate::uri::RenderError::Invalid(_) => {
            tracing::warn!(error = %e, "Execution failed due to configuration error: invalid endpoint address");
            GatewayError::configuration_error()
        }
    }
}

/// The answer to a request template that failed: AWS's 400 when the template read a request body
/// that is not JSON, else a configuration error (500, reason in the log).
pub(crate) fn request_template_failed(
    stage: &CompiledStage,
    e: crate::mapping::TemplateError,
) -> GatewayError {
    match e {
        crate::mapping::TemplateError::BodyNotJson(message) => {
            GatewayError::request_body_not_json(message)
        }
        crate::mapping::TemplateError::Failed(reason) => {
            tracing::warn!(api = %stage.api_id, "{reason}");
            GatewayError::configuration_error()
        }
    }
}

/// The integration phase: calls the route's integration with what the method request phase
/// let through, and returns its answer as the method response phase will finish it.
pub(crate) async fn call(
    gw: &Gateway,
    x: &Exchange<'_>,
    route: &Route,
    parts: &mut http::request::Parts,
    body: GatewayBody,
) -> Outcome {
    match &route.integration {
        CompiledIntegration::Mock(m) => mock::run_mock(gw, x, m, parts, body).await,
        CompiledIntegration::HttpProxy(p) => gw.run_http_proxy(x, p, parts, body).await,
        CompiledIntegration::Http(h) => gw.run_http(x, h, parts, body).await,
        CompiledIntegration::LambdaProxy(l) => gw.run_lambda_proxy(x, l, parts, body).await,
        CompiledIntegration::LambdaCustom(l) => gw.run_lambda_custom(x, l, parts, body).await,
        CompiledIntegration::Unavailable(reason) => {
            tracing::warn!(api = %x.stage.api_id, stage = %x.stage.stage_name,
                resource = %route.resource_path, method = %route.declared_method,
                "Execution failed due to configuration error: {reason}");
            Outcome::fail(GatewayError::configuration_error())
        }
    }
}
