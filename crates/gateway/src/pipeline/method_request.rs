//! The method request phase: payload limit, body buffering, request validation.

use crate::body::GatewayBody;
use crate::compile::{CompiledIntegration, CompiledStage, Route};
use crate::gateway::Gateway;
use crate::gateway_response::GatewayError;
use crate::pipeline::{ClientInfo, Outcome, discard_body};
use crate::validation::Invalid;
use http::header::{self, HeaderValue};
use portico_router::Params;

impl Gateway {
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run_route(
        &self,
        stage: &CompiledStage,
        route: &Route,
        params: &Params,
        parts: &mut http::request::Parts,
        body: GatewayBody,
        client: &ClientInfo,
        rid: &str,
    ) -> Outcome {
        // Method request phase: payload limit (authorizers, keys, throttles, validation and cache
        // join here as their issues land).
        let too_large = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > self.config.max_body_bytes);
        if too_large {
            // Answer now, and read-and-discard what the client is still sending (bounded in bytes
            // and time, like nginx's lingering close) so it gets to read the 413 instead of a reset.
            discard_body(body);
            let mut outcome = Outcome::error(&stage.responses, GatewayError::request_too_large());
            outcome
                .response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return outcome;
        }
        let mut body = body;
        // Bytes of buffered bodies this request holds, given back when it is done.
        let mut _held = None;
        let unknown_length = matches!(&body, GatewayBody::Client(c)
            if !http_body::Body::is_end_stream(c) && http_body::Body::size_hint(c).exact().is_none());
        if unknown_length
            && !self.config.stream_proxy_bodies
            && matches!(
                route.integration,
                CompiledIntegration::HttpProxy(_) | CompiledIntegration::Http(_)
            )
        {
            // A body of unknown length goes to the backend whole, with a Content-Length, as API
            // Gateway sends it (and a trickled body never reaches the backend).
            match self
                .buffer(
                    body,
                    self.config.body_timeout,
                    GatewayError::request_timeout(),
                )
                .await
            {
                Ok((bytes, hold)) => {
                    _held = Some(hold);
                    parts.headers.remove(header::TRANSFER_ENCODING);
                    parts
                        .headers
                        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
                    body = GatewayBody::full(bytes);
                }
                Err(e) => return Outcome::fail(e),
            }
        }
        if let Some(v) = &route.validation {
            if let Some(Invalid::Parameters(missing)) =
                v.check_parameters(&parts.headers, parts.uri.query())
            {
                discard_body(body);
                return Outcome::fail(GatewayError::bad_request_parameters(&missing));
            }
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            if v.wants_body(content_type) {
                let bytes = match self.collect_body(body).await {
                    Ok((b, hold)) => {
                        _held = Some(hold);
                        b
                    }
                    Err(e) => return Outcome::fail(e),
                };
                if let Some(Invalid::Body(detail)) = v.check_body(content_type, &bytes) {
                    return Outcome::fail(GatewayError::bad_request_body(detail));
                }
                body = GatewayBody::full(bytes);
            }
        }
        match &route.integration {
            CompiledIntegration::Mock(m) => {
                crate::integrations::mock::run_mock(
                    self, stage, route, m, params, parts, body, client, rid,
                )
                .await
            }
            CompiledIntegration::HttpProxy(p) => {
                self.run_http_proxy(stage, p, params, parts, body, client)
                    .await
            }
            CompiledIntegration::Http(h) => {
                self.run_http(stage, route, h, params, parts, body, client, rid)
                    .await
            }
            CompiledIntegration::Unavailable(reason) => {
                tracing::warn!(api = %stage.api_id, stage = %stage.stage_name,
                    resource = %route.resource_path, method = %route.declared_method,
                    "Execution failed due to configuration error: {reason}");
                Outcome::fail(GatewayError::configuration_error())
            }
        }
    }
}
