//! `HTTP` (non-proxy): mapped parameters and templates on the way in, integration responses on
//! the way out.

use crate::binary::ContentHandling;
use crate::body::GatewayBody;
use crate::body::discard_body;
use crate::compile::HttpIntegration;
use crate::exchange::{Exchange, Outcome, context_json, template_inputs};
use crate::gateway::Gateway;
use crate::gateway_response::GatewayError;
use crate::integrations::{
    X_AMZN_APIGATEWAY_API_ID, aws_service, method_response_headers, request_template_failed,
    uri_render_failed,
};
use crate::mapping::{Overrides, Selected};
use crate::params::Env as ParamEnv;
use crate::uri::QUERY_ENCODE;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode};
use std::time::Instant;

impl Gateway {
    /// `HTTP` (non-proxy): only mapped parameters reach the backend; the body is the request
    /// template's output or, per `passthroughBehavior`, the client's body; the backend status picks
    /// the integration response.
    pub(crate) async fn run_http(
        &self,
        x: &Exchange<'_>,
        h: &HttpIntegration,
        parts: &mut http::request::Parts,
        body: GatewayBody,
    ) -> Outcome {
        let stage = x.stage;
        // Integration request: template (or passthrough), then parameter mappings and overrides.
        let content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
        let selected = h
            .request_templates
            .select(content_type.as_ref().and_then(|v| v.to_str().ok()));
        let request_binary = stage
            .binary_types
            .matches(content_type.as_ref().and_then(|v| v.to_str().ok()));
        let convert = h.content_handling.filter(|c| {
            matches!(
                (c, request_binary),
                (ContentHandling::ConvertToText, true) | (ContentHandling::ConvertToBinary, false)
            )
        });
        // An AWS service request is signed over its payload: read whole.
        let needs_body = h.reads_body
            || convert.is_some()
            || h.aws.is_some()
            || matches!(&selected, Selected::Template(_, t) if !t.is_static());
        let mut _held = None;
        let (body, client_bytes) = if needs_body {
            match self.collect_body(body).await.map(|(b, hold)| {
                _held = Some(hold);
                b
            }) {
                Ok(b) => match convert.map(|c| c.convert(b.clone(), request_binary)) {
                    None => (GatewayBody::Empty, Some(b)),
                    Some(Ok(converted)) => (GatewayBody::Empty, Some(converted)),
                    Some(Err(reason)) => {
                        tracing::warn!(api = %stage.api_id, "Execution failed: {reason}");
                        return Outcome::fail(GatewayError::configuration_error());
                    }
                },
                Err(e) => return Outcome::fail(e),
            }
        } else {
            (body, None)
        };
        let mut overrides = Overrides::default();
        // The payload when it is in memory (what an AWS service request is signed over).
        let mut payload = Bytes::new();
        let (upstream_body, upstream_ct) = match selected {
            Selected::Template(ct, t) if t.is_static() => {
                discard_body(body);
                payload = t.render_bytes();
                (GatewayBody::full(payload.clone()), ct.cloned())
            }
            Selected::Template(ct, t) => {
                let bytes = client_bytes.clone().unwrap_or_default();
                let inputs = template_inputs(t, x, parts, bytes).await;
                match t.render_full(inputs) {
                    Ok((out, o)) => {
                        overrides = o;
                        payload = out.clone();
                        (GatewayBody::full(out), ct.cloned())
                    }
                    Err(e) => return Outcome::fail(request_template_failed(stage, e)),
                }
            }
            Selected::Passthrough => match &client_bytes {
                Some(b) => {
                    payload = b.clone();
                    (GatewayBody::full(b.clone()), content_type.clone())
                }
                None => (body, content_type.clone()),
            },
            Selected::Unsupported => {
                discard_body(body);
                return Outcome::fail(GatewayError::unsupported_media_type());
            }
        };
        let path_of = |n: &str| x.param(n).map(str::to_owned);
        let context_of = || context_json(x, parts);
        let env = ParamEnv {
            headers: &parts.headers,
            query: parts.uri.query(),
            path: &path_of,
            body: client_bytes.as_deref(),
            context: &context_of,
            integration_headers: None,
            integration_body: None,
            parsed: Default::default(),
        };
        let mut query: Vec<(String, String)> = h
            .query
            .iter()
            .filter_map(|(name, src)| env.eval(src).map(|v| (name.clone(), v)))
            .collect();
        let overridden: Vec<&String> = overrides.request_query.iter().map(|(k, _)| k).collect();
        query.retain(|(n, _)| !overridden.contains(&n));
        query.extend(overrides.request_query.iter().cloned());
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    percent_encoding::utf8_percent_encode(k, QUERY_ENCODE),
                    percent_encoding::utf8_percent_encode(v, QUERY_ENCODE)
                )
            })
            .collect();
        let query = (!query.is_empty()).then(|| query.join("&"));
        let path_param = |n: &str| {
            overrides
                .request_path
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
                .or_else(|| x.param(n))
        };
        let uri = match h.target.uri.render(path_param, query.as_deref()) {
            Ok(u) => u,
            Err(e) => return Outcome::fail(uri_render_failed(e)),
        };
        let mut req = Request::new(upstream_body);
        *req.method_mut() = h
            .target
            .method
            .clone()
            .unwrap_or_else(|| parts.method.clone());
        *req.uri_mut() = uri;
        let mut headers = HeaderMap::new();
        for (name, src) in &h.headers {
            if let Some(v) = env.eval(src).and_then(|v| HeaderValue::from_str(&v).ok()) {
                headers.insert(name.clone(), v);
            }
        }
        if let Some((name, _)) = overrides.request_headers.iter().find(|(n, _)| {
            crate::headers::refused_in_request(n)
                || (h.aws.is_some() && crate::headers::refused_in_aws_request(n))
        }) {
            tracing::warn!(api = %stage.api_id,
                "Execution failed due to configuration error: $context.requestOverride.header.{name} may not be set");
            return Outcome::fail(GatewayError::configuration_error());
        }
        if !overrides.request_headers.is_empty() {
            crate::mapping::set_headers(&mut headers, &overrides.request_headers);
            for name in crate::headers::DROPPED_FROM_REQUEST {
                headers.remove(name);
            }
        }
        if let Some(ct) = h.aws.as_ref().and_then(|a| a.json_content_type.clone()) {
            headers.entry(header::CONTENT_TYPE).or_insert(ct);
        }
        if let Some(ct) = upstream_ct {
            headers.entry(header::CONTENT_TYPE).or_insert(ct);
        }
        if h.aws.is_none() {
            headers.insert(X_AMZN_APIGATEWAY_API_ID, stage.api_id_header.clone());
        }
        headers
            .entry(header::USER_AGENT)
            .or_insert(stage.default_user_agent.clone());
        if let Some(aws) = &h.aws
            && let Err(reason) = aws_service::prepare(
                aws,
                &h.target,
                &mut req,
                &mut headers,
                payload,
                x.identity.caller.as_deref(),
            )
        {
            tracing::warn!(api = %stage.api_id, "Execution failed due to configuration error: {reason}");
            return Outcome::fail(GatewayError::configuration_error());
        }
        *req.headers_mut() = headers;
        // Mapped header names go out spelled as the mappings wrote them (HTTP/1.1).
        if let Some(spelling) = h
            .spelling
            .get_or_init(|| crate::header_case::spelling_of(&h.spelled_names))
            .await
        {
            *req.extensions_mut() = spelling.clone();
        }

        // Integration.
        let started = Instant::now();
        let result = h.target.pool.send_within(req, h.target.timeout).await;
        let integration_latency = Some(started.elapsed());
        let upstream = match result {
            Err(e) if e.is_timeout() => {
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(GatewayError::integration_timeout())
                };
            }
            Err(e) if e.is_client_body() => {
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(GatewayError::bad_request())
                };
            }
            Err(e) => {
                tracing::warn!(api = %stage.api_id, error = %e, "Execution failed due to an integration error");
                // An AWS service that cannot be reached is AWS's 500.
                let err = match h.aws {
                    Some(_) => GatewayError::integration_unreachable()
                        .with_status(StatusCode::INTERNAL_SERVER_ERROR),
                    None => GatewayError::integration_unreachable(),
                };
                return Outcome {
                    integration_latency,
                    ..Outcome::fail(err)
                };
            }
            Ok(r) => r,
        };

        // Integration response → method response.
        let status = upstream.status().as_u16();
        let Some(ir) = h.responses.select_status(status) else {
            tracing::warn!(api = %stage.api_id, status,
                "Execution failed due to configuration error: No match for output mapping and no default output mapping configured");
            return Outcome {
                integration_latency,
                integration_status: Some(status),
                ..Outcome::fail(GatewayError::configuration_error())
            };
        };
        let (up_parts, up_body) = upstream.into_parts();
        let template = ir.template_for(
            parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok()),
        );
        let response_binary = stage.binary_types.matches(
            up_parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
        let convert = ir.content_handling.filter(|c| {
            matches!(
                (c, response_binary),
                (ContentHandling::ConvertToText, true) | (ContentHandling::ConvertToBinary, false)
            )
        });
        let needs_up_body = ir.reads_body
            || convert.is_some()
            || matches!(template, Some((_, t)) if !t.is_static());
        let mut _held_response = None;
        let (up_body, up_bytes) = if needs_up_body {
            match self.collect_body(up_body).await.map(|(b, hold)| {
                _held_response = Some(hold);
                b
            }) {
                Ok(b) => match convert.map(|c| c.convert(b.clone(), response_binary)) {
                    None => (GatewayBody::Empty, Some(b)),
                    Some(Ok(converted)) => (GatewayBody::Empty, Some(converted)),
                    Some(Err(reason)) => {
                        tracing::warn!(api = %stage.api_id, "Execution failed: {reason}");
                        return Outcome {
                            integration_latency,
                            integration_status: Some(status),
                            ..Outcome::fail(GatewayError::configuration_error())
                        };
                    }
                },
                Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => {
                    return Outcome {
                        integration_latency,
                        integration_status: Some(status),
                        ..Outcome::fail(e)
                    };
                }
                Err(_) => {
                    let err = if started.elapsed() >= h.target.timeout {
                        GatewayError::integration_timeout()
                    } else {
                        GatewayError::integration_unreachable()
                    };
                    return Outcome {
                        integration_latency,
                        integration_status: Some(status),
                        ..Outcome::fail(err)
                    };
                }
            }
        } else {
            (up_body, None)
        };
        // What the request template put in the override maps, the response template reads.
        let (ct, body) = match template {
            Some((ct, t)) if t.is_static() => (ct.clone(), GatewayBody::full(t.render_bytes())),
            Some((ct, t)) => {
                let bytes = up_bytes.clone().unwrap_or_default();
                let mut inputs = template_inputs(t, x, parts, bytes).await;
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
                up_parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .cloned()
                    .unwrap_or(HeaderValue::from_static("application/json")),
                match &up_bytes {
                    Some(b) => GatewayBody::full(b.clone()),
                    None => up_body,
                },
            ),
        };
        let mut response = Response::new(body);
        *response.status_mut() = ir.status;
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
        let env = ParamEnv {
            headers: &parts.headers,
            query: parts.uri.query(),
            path: &path_of,
            body: client_bytes.as_deref(),
            context: &context_of,
            integration_headers: Some(&up_parts.headers),
            integration_body: up_bytes.as_deref(),
            parsed: Default::default(),
        };
        method_response_headers(&mut response, ir, &env);
        overrides.apply_to_response(&mut response);
        ir.spell(&mut response).await;
        Outcome {
            response,
            integration_latency,
            integration_status: Some(status),
            error: None,
            pending: false,
            traced: true,
        }
    }
}
