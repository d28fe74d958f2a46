//! The integration response → method response phase shared by the non-proxy integrations
//! (`MOCK`, Lambda `AWS`): the selected integration response's template (or the integration's
//! payload passed through), its status, its mapped `method.response.header.*` values, and the
//! overrides the templates set.

use crate::body::GatewayBody;
use crate::exchange::{Exchange, context_json, template_inputs};
use crate::gateway_response::GatewayError;
use crate::integrations::method_response_headers;
use crate::mapping::{CompiledIntegrationResponse, Overrides};
use crate::params::Env as ParamEnv;
use bytes::Bytes;
use http::Response;
use http::header::{self, HeaderMap, HeaderValue};

/// What the integration answered, as the response phase reads it.
pub(crate) struct Integrated<'a> {
    /// `integration.response.header.*`.
    pub(crate) headers: &'a HeaderMap,
    /// The payload (`$input`, `integration.response.body`, and the body when no template
    /// applies).
    pub(crate) body: Bytes,
    /// `Content-Type` of a passed-through payload.
    pub(crate) content_type: HeaderValue,
}

/// Builds the method response of `ir` for what the integration answered.
pub(crate) async fn method_response(
    x: &Exchange<'_>,
    parts: &http::request::Parts,
    ir: &CompiledIntegrationResponse,
    overrides: &mut Overrides,
    client_body: Option<&[u8]>,
    integrated: Integrated<'_>,
) -> Result<Response<GatewayBody>, GatewayError> {
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let (content_type, body) = match ir.template_for(accept) {
        Some((ct, t)) if t.is_static() => (ct.clone(), GatewayBody::full(t.render_bytes())),
        Some((ct, t)) => {
            let mut inputs = template_inputs(t, x, parts, integrated.body.clone()).await;
            inputs.overrides = overrides.state.take();
            match t.render_full(inputs) {
                Ok((out, o)) => {
                    *overrides = o;
                    (ct.clone(), GatewayBody::full(out))
                }
                Err(reason) => {
                    tracing::warn!(api = %x.stage.api_id, "{reason}");
                    return Err(GatewayError::configuration_error());
                }
            }
        }
        None if integrated.body.is_empty() => (integrated.content_type.clone(), GatewayBody::Empty),
        None => (
            integrated.content_type.clone(),
            GatewayBody::full(integrated.body.clone()),
        ),
    };
    let mut response = Response::new(body);
    *response.status_mut() = ir.status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    let path_of = |n: &str| x.param(n).map(str::to_owned);
    let context_of = || context_json(x, parts);
    let env = ParamEnv {
        headers: &parts.headers,
        query: parts.uri.query(),
        path: &path_of,
        body: client_body,
        context: &context_of,
        integration_headers: Some(integrated.headers),
        integration_body: Some(&integrated.body),
        parsed: Default::default(),
    };
    method_response_headers(&mut response, ir, &env);
    overrides.apply_to_response(&mut response);
    ir.spell(&mut response).await;
    Ok(response)
}
