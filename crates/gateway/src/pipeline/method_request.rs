//! The method request phase: runs the ordered list of [`Step`]s assembled per route when a
//! deployment is compiled (`steps::steps_for`). A route runs only the steps its method uses: a
//! method with no API key, throttle, validator or cache runs none of those and pays nothing for
//! them. Each step answers [`Flow::Continue`] or [`Flow::Respond`]: a short-circuit (413, 403,
//! 429, a cache hit) is a returned value, not an error.
//!
//! The order is API Gateway's: the payload limit, then throttling, then the API key with its
//! usage plan's throttle and quota, then request validation, then the stage cache; last, for
//! HTTP backends, a body of unknown length is read whole. `portico routes` prints each route's
//! list (`steps::describe`).

use crate::body::GatewayBody;
use crate::body::discard_body;
use crate::budget::Hold;
use crate::compile::Route;
use crate::exchange::{Exchange, Outcome};
use crate::gateway::Gateway;
use crate::gateway_response::GatewayError;
use crate::pipeline::cache::Lookup;
use crate::steps::Step;
use crate::validation::{Invalid, RequestValidation};
use http::header::{self, HeaderValue};

/// What a step decided. Not boxed: a cache hit answers through `Respond` on the hot path.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Flow {
    /// Go on with the (possibly buffered) body.
    Continue(GatewayBody),
    /// Answer now.
    Respond(Outcome),
}

/// Answers now; what the client still sends is read and thrown away (bounded).
fn refuse(body: GatewayBody, outcome: Outcome) -> Flow {
    discard_body(body);
    Flow::Respond(outcome)
}

impl Gateway {
    /// Runs `route`'s method request steps in order; the first that answers ends the phase.
    /// Bodies read whole hold bytes of the body budget in `held` until the request is done.
    pub(crate) async fn method_request<'g>(
        &'g self,
        x: &mut Exchange<'_>,
        route: &Route,
        parts: &mut http::request::Parts,
        mut body: GatewayBody,
        held: &mut Vec<Hold<'g>>,
    ) -> Flow {
        for step in route.method_request.iter() {
            let flow = match step {
                Step::PayloadLimit => self.payload_limit(x, parts, body),
                Step::BufferBody => self.buffer_unknown_length(parts, body, held).await,
                Step::Throttle(t) => match self.throttle(t) {
                    Ok(()) => Flow::Continue(body),
                    Err(e) => refuse(body, Outcome::fail(e)),
                },
                // Boxed: the authorizer's future (event, invocation) would otherwise grow every
                // route's request future, authorizer or not.
                Step::Authorize(a) => match Box::pin(self.authorize(a, x, parts)).await {
                    Ok(()) => Flow::Continue(body),
                    Err(e) => refuse(body, Outcome::fail(e)),
                },
                Step::Cognito(c) => match Box::pin(self.authorize_token(c, x, parts)).await {
                    Ok(()) => Flow::Continue(body),
                    Err(e) => refuse(body, Outcome::fail(e)),
                },
                Step::Iam(i) => Box::pin(self.authorize_iam(i, x, parts, body, held)).await,
                Step::ResourcePolicy(p) => match self.resource_policy(p, x, parts) {
                    Ok(()) => Flow::Continue(body),
                    Err(e) => refuse(body, Outcome::fail(e)),
                },
                Step::Unenforced(reason) => {
                    tracing::warn!(api = %x.stage.api_id, "Execution failed due to configuration error: {reason}");
                    refuse(body, Outcome::fail(GatewayError::configuration_error()))
                }
                Step::ApiKey(k) => match self.api_key(k, x, parts) {
                    Ok(()) => Flow::Continue(body),
                    Err(e) => refuse(body, Outcome::fail(e)),
                },
                Step::Validate(v) => self.validate(v, parts, body, held).await,
                Step::CacheLookup(c) => match self.cache_lookup(c, x, parts, &body) {
                    Lookup::Hit(outcome) | Lookup::Refused(outcome) => refuse(body, outcome),
                    Lookup::Miss { store, warn } => {
                        x.cache_store = store;
                        x.cache_warning = warn;
                        Flow::Continue(body)
                    }
                },
            };
            body = match flow {
                Flow::Continue(b) => b,
                respond => return respond,
            };
        }
        Flow::Continue(body)
    }

    fn payload_limit(
        &self,
        x: &Exchange<'_>,
        parts: &http::request::Parts,
        body: GatewayBody,
    ) -> Flow {
        let too_large = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > self.config.max_body_bytes);
        if !too_large {
            return Flow::Continue(body);
        }
        // Answer now, and read-and-discard what the client is still sending (bounded in bytes
        // and time, like nginx's lingering close) so it gets to read the 413 instead of a reset.
        discard_body(body);
        let mut outcome = Outcome::error(&x.stage.responses, GatewayError::request_too_large());
        outcome
            .response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        Flow::Respond(outcome)
    }

    pub(crate) async fn buffer_unknown_length<'g>(
        &'g self,
        parts: &mut http::request::Parts,
        body: GatewayBody,
        held: &mut Vec<Hold<'g>>,
    ) -> Flow {
        match self.whole_if_unknown_length(parts, body).await {
            Ok((body, hold)) => {
                held.extend(hold);
                Flow::Continue(body)
            }
            Err(e) => Flow::Respond(Outcome::fail(e)),
        }
    }

    async fn validate<'g>(
        &'g self,
        v: &RequestValidation,
        parts: &http::request::Parts,
        body: GatewayBody,
        held: &mut Vec<Hold<'g>>,
    ) -> Flow {
        if let Some(Invalid::Parameters(missing)) =
            v.check_parameters(&parts.headers, parts.uri.query())
        {
            discard_body(body);
            return Flow::Respond(Outcome::fail(GatewayError::bad_request_parameters(
                &missing,
            )));
        }
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !v.wants_body(content_type) {
            return Flow::Continue(body);
        }
        let bytes = match self.collect_body(body).await {
            Ok((b, hold)) => {
                held.push(hold);
                b
            }
            Err(e) => return Flow::Respond(Outcome::fail(e)),
        };
        if let Some(Invalid::Body(detail)) = v.check_body(content_type, &bytes) {
            return Flow::Respond(Outcome::fail(GatewayError::bad_request_body(detail)));
        }
        Flow::Continue(GatewayBody::full(bytes))
    }
}
