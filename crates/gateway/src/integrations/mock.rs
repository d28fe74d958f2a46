//! `MOCK`: the request template's `statusCode` selects the integration response; nothing is
//! called.

use crate::body::GatewayBody;
use crate::body::discard_body;
use crate::compile::MockIntegration;
use crate::exchange::{Exchange, Outcome, context_json, template_inputs};
use crate::gateway::Gateway;
use crate::gateway_response::GatewayError;
use crate::integrations::{method_response_headers, request_template_failed};
use crate::mapping::{Overrides, Selected, mock_status_code};
use crate::params::Env as ParamEnv;
use http::Response;
use http::header::{self, HeaderMap, HeaderValue};

pub(crate) async fn run_mock(
    gw: &Gateway,
    x: &Exchange<'_>,
    m: &MockIntegration,
    parts: &http::request::Parts,
    body: GatewayBody,
) -> Outcome {
    let stage = x.stage;
    // Integration request: the request template's statusCode selects the integration response.
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let mut overrides = Overrides::default();
    let status = match m.request_templates.select(content_type) {
        Selected::Template(_, t) if t.is_static() => {
            discard_body(body);
            t.mock_status()
        }
        Selected::Template(_, t) => {
            let (bytes, _held) = match gw.collect_body(body).await {
                Ok(b) => b,
                Err(e) => return Outcome::fail(e),
            };
            let inputs = template_inputs(t, x, parts, bytes).await;
            match t.render_full(inputs) {
                Ok((out, o)) => {
                    overrides = o;
                    mock_status_code(&String::from_utf8_lossy(&out))
                }
                Err(e) => return Outcome::fail(request_template_failed(stage, e)),
            }
        }
        Selected::Passthrough => {
            discard_body(body);
            Some(200)
        }
        Selected::Unsupported => {
            discard_body(body);
            return Outcome::fail(GatewayError::unsupported_media_type());
        }
    };
    let Some(code) = status else {
        tracing::warn!(api = %stage.api_id, "Execution failed due to configuration error: mock request template has no valid statusCode");
        return Outcome::fail(GatewayError::configuration_error());
    };
    let Some(ir) = m.responses.select_status(code) else {
        tracing::warn!(api = %stage.api_id, status = code,
            "Execution failed due to configuration error: No match for output mapping and no default output mapping configured");
        return Outcome::fail(GatewayError::configuration_error());
    };
    // Integration response → method response; the response template reads (and may change)
    // what the request template put in the override maps.
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let (content_type, body) = match ir.template_for(accept) {
        Some((ct, t)) if t.is_static() => (ct.clone(), GatewayBody::full(t.render_bytes())),
        Some((ct, t)) => {
            let mut inputs = template_inputs(t, x, parts, bytes::Bytes::new()).await;
            inputs.overrides = overrides.state.take();
            match t.render_full(inputs) {
                Ok((out, o)) => {
                    overrides = o;
                    (ct.clone(), GatewayBody::full(out))
                }
                Err(reason) => {
                    tracing::warn!(api = %stage.api_id, "{reason}");
                    return Outcome::fail(GatewayError::configuration_error());
                }
            }
        }
        None => (
            HeaderValue::from_static("application/json"),
            GatewayBody::Empty,
        ),
    };
    let mut response = Response::new(body);
    *response.status_mut() = ir.status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    let path_of = |n: &str| x.param(n).map(str::to_owned);
    let context_of = || context_json(x, parts);
    let empty = HeaderMap::new();
    let env = ParamEnv {
        headers: &parts.headers,
        query: parts.uri.query(),
        path: &path_of,
        body: None,
        context: &context_of,
        integration_headers: Some(&empty),
        integration_body: Some(b""),
        parsed: Default::default(),
    };
    method_response_headers(&mut response, ir, &env);
    overrides.apply_to_response(&mut response);
    ir.spell(&mut response).await;
    Outcome {
        response,
        integration_latency: None,
        integration_status: Some(code),
        error: None,
        pending: false,
        traced: false,
    }
}
