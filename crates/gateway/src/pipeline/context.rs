//! The request's facts as templates, mappings and gateway responses read them: `$context`,
//! `$input` and the request variables of gateway responses.

use crate::access_log::epoch_millis;
use crate::compile::{CompiledStage, Route};
use crate::pipeline::{ClientInfo, protocol};
use http::header::{self};
use portico_router::Params;

/// `$input`, `$context` and `$stageVariables` for one request, for template `t` (header names
/// get the client's spelling when `t` may show them). What `t` cannot read is left empty.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn template_inputs(
    t: &crate::mapping::MappingTemplate,
    stage: &CompiledStage,
    route: &Route,
    params: &Params,
    parts: &http::request::Parts,
    client: &ClientInfo,
    rid: &str,
    body: bytes::Bytes,
) -> crate::templating::TemplateInputs {
    let mut inputs = crate::templating::TemplateInputs {
        body,
        stage_variables: stage.template_stage_variables.clone(),
        ..Default::default()
    };
    if t.reads_context() {
        inputs.context = request_context(stage, Some(route), parts, client, rid).to_value();
    }
    if !t.reads_params() {
        return inputs;
    }
    inputs.query = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect();
    inputs.headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if t.shows_header_names() {
        crate::header_case::spell_request_headers(&mut inputs.headers, parts).await;
    }
    inputs.path = params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    inputs
}

/// What `$context` says about this request (built into a template's `$context` or, for mapping
/// sources and gateway responses, into JSON).
pub(crate) fn request_context<'a>(
    stage: &'a CompiledStage,
    route: Option<&'a Route>,
    parts: &'a http::request::Parts,
    client: &'a ClientInfo,
    rid: &'a str,
) -> crate::templating::RequestContext<'a> {
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
    };
    crate::templating::RequestContext {
        request_id: rid,
        api_id: &stage.api_id,
        stage: &stage.stage_name,
        http_method: parts.method.as_str(),
        resource_path: route.map(|r| r.resource_path.as_str()),
        resource_id: route.map(|r| r.resource_id.as_str()),
        path: parts.uri.path(),
        protocol: protocol(parts.version),
        request_time_epoch: epoch_millis(),
        domain_name: header(header::HOST),
        source_ip: &client.ip,
        user_agent: header(header::USER_AGENT),
        account_id: ACCOUNT_ID,
        deployment_id: &stage.deployment_id,
    }
}

/// `$context` as JSON, for mapping sources and gateway responses.
pub(crate) fn context_json(
    stage: &CompiledStage,
    route: Option<&Route>,
    parts: &http::request::Parts,
    client: &ClientInfo,
    rid: &str,
) -> serde_json::Value {
    request_context(stage, route, parts, client, rid).to_json()
}

/// The account id Portico reports (`$context.accountId`), as the management API does.
pub(crate) const ACCOUNT_ID: &str = "000000000000";

/// A request variable for a gateway response: `method.request.{header,querystring,path}.x`,
/// `stageVariables.x` or `context.a.b` (the `$context` JSON is built once, on first use).
#[allow(clippy::too_many_arguments)]
pub(crate) fn request_variable(
    name: &str,
    stage: &CompiledStage,
    route: Option<&Route>,
    params: Option<&Params>,
    parts: &http::request::Parts,
    client: &ClientInfo,
    rid: &str,
    context: &std::cell::OnceCell<serde_json::Value>,
) -> Option<String> {
    if let Some(h) = name.strip_prefix("method.request.header.") {
        return parts
            .headers
            .get(h)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    if let Some(q) = name.strip_prefix("method.request.querystring.") {
        return query_value(parts.uri.query(), q);
    }
    if let Some(p) = name.strip_prefix("method.request.path.") {
        return params.and_then(|ps| ps.get(p)).map(str::to_owned);
    }
    if let Some(v) = name.strip_prefix("stageVariables.") {
        return stage.stage_variables.get(v).cloned();
    }
    let path = name.strip_prefix("context.")?;
    let ctx = context.get_or_init(|| context_json(stage, route, parts, client, rid));
    let mut node = ctx;
    for seg in path.split('.') {
        node = node.get(seg)?;
    }
    match node {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The last value of a query parameter, decoded.
pub(crate) fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .rev()
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .find(|(k, _)| percent_encoding::percent_decode_str(k).decode_utf8_lossy() == name)
        .map(|(_, v)| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
}
