//! `AWS` (non-proxy) to a Lambda function: the request template (or the body, passed through)
//! is the payload; the function's result goes through the integration responses — the default
//! one for a result, the one whose `selectionPattern` matches `errorMessage` for a function error
//! (else the default one, as AWS does) — and their templates.

use crate::body::{GatewayBody, discard_body};
use crate::compile::LambdaCustomIntegration;
use crate::exchange::{Exchange, Outcome, template_inputs};
use crate::gateway::Gateway;
use crate::gateway_response::GatewayError;
use crate::integrations::request_template_failed;
use crate::integrations::response::{Integrated, method_response};
use crate::mapping::{Overrides, Selected};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use std::time::Instant;

impl Gateway {
    pub(crate) async fn run_lambda_custom(
        &self,
        x: &Exchange<'_>,
        l: &LambdaCustomIntegration,
        parts: &mut http::request::Parts,
        body: GatewayBody,
    ) -> Outcome {
        let stage = x.stage;
        // Integration request: the template's output (or the body) is the payload.
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let mut overrides = Overrides::default();
        let mut client_bytes: Option<Bytes> = None;
        let payload = match l.request_templates.select(content_type) {
            Selected::Template(_, t) if t.is_static() => {
                discard_body(body);
                t.render_bytes()
            }
            Selected::Template(_, t) => {
                let (bytes, _held) = match self.collect_body(body).await {
                    Ok(b) => b,
                    Err(e) => return Outcome::fail(e),
                };
                client_bytes = Some(bytes.clone());
                let inputs = template_inputs(t, x, parts, bytes).await;
                match t.render_full(inputs) {
                    Ok((out, o)) => {
                        overrides = o;
                        out
                    }
                    Err(e) => return Outcome::fail(request_template_failed(stage, e)),
                }
            }
            Selected::Passthrough => match self.collect_body(body).await {
                Ok((b, _held)) => {
                    client_bytes = Some(b.clone());
                    b
                }
                Err(e) => return Outcome::fail(e),
            },
            Selected::Unsupported => {
                discard_body(body);
                return Outcome::fail(GatewayError::unsupported_media_type());
            }
        };
        // Lambda takes JSON: an empty payload is `{}`.
        let payload = if payload.is_empty() {
            Bytes::from_static(b"{}")
        } else {
            payload
        };

        // Integration.
        let started = Instant::now();
        let result = self.invoke_function(x, &l.target, payload).await;
        let integration_latency = Some(started.elapsed());
        let invoked = match result {
            Ok(i) => i,
            Err(e) => {
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(e)
                };
            }
        };

        // Integration response: by errorMessage for a function error, else the default one.
        let ir = match &invoked.function_error {
            None => l.responses.default_response(),
            Some(_) => {
                let message = serde_json::from_slice::<serde_json::Value>(&invoked.payload)
                    .ok()
                    .and_then(|v| {
                        v.get("errorMessage")
                            .and_then(|m| m.as_str())
                            .map(str::to_owned)
                    })
                    .unwrap_or_default();
                l.responses.select(&message)
            }
        };
        let Some(ir) = ir else {
            tracing::warn!(api = %stage.api_id,
                "Execution failed due to configuration error: No match for output mapping and no default output mapping configured");
            return Outcome {
                integration_latency,
                integration_status: Some(200),
                ..Outcome::fail(GatewayError::configuration_error())
            };
        };
        let empty = HeaderMap::new();
        let integrated = Integrated {
            headers: &empty,
            body: invoked.payload,
            content_type: HeaderValue::from_static("application/json"),
        };
        match method_response(
            x,
            parts,
            ir,
            &mut overrides,
            client_bytes.as_deref(),
            integrated,
        )
        .await
        {
            Ok(response) => Outcome {
                response,
                integration_latency,
                integration_status: Some(200),
                error: None,
                pending: false,
                traced: true,
            },
            Err(e) => Outcome {
                integration_latency,
                integration_status: Some(200),
                ..Outcome::fail(e)
            },
        }
    }
}
