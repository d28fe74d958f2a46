//! `MOCK`: the request template's `statusCode` selects the integration response; nothing is
//! called.

use crate::body::GatewayBody;
use crate::body::discard_body;
use crate::compile::MockIntegration;
use crate::exchange::{Exchange, Outcome, template_inputs};
use crate::gateway::Gateway;
use crate::gateway_response::GatewayError;
use crate::integrations::request_template_failed;
use crate::integrations::response::{Integrated, method_response};
use crate::mapping::{Overrides, Selected, mock_status_code};
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
    let empty = HeaderMap::new();
    let integrated = Integrated {
        headers: &empty,
        body: bytes::Bytes::new(),
        content_type: HeaderValue::from_static("application/json"),
    };
    let response = match method_response(x, parts, ir, &mut overrides, None, integrated).await {
        Ok(r) => r,
        Err(e) => return Outcome::fail(e),
    };
    Outcome {
        response,
        integration_latency: None,
        integration_status: Some(code),
        error: None,
        pending: false,
        traced: false,
    }
}
