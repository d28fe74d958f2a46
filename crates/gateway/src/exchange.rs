//! One request's facts as every phase shares them ([`Exchange`]: where it goes, who sent it,
//! what the method request steps found) and what the phases produced ([`Outcome`]), with the
//! views templates, mappings and gateway responses read: `$context`, `$input` and the request
//! variables of gateway responses. Integrations and the pipeline both depend on this module;
//! it depends on neither.

use crate::access_log::epoch_millis;
use crate::body::GatewayBody;
use crate::compile::{CompiledStage, Route};
use crate::gateway_response::{GatewayError, GatewayResponses};
use http::header::{self};
use http::{HeaderValue, Response, Version};
use portico_router::Params;
use std::net::SocketAddr;
use std::time::Duration;

/// One request's facts as every phase shares them: where it goes (stage, route, path
/// parameters), who sent it, its id, and what the method request steps found out about the
/// caller ([`Identity`]). Templates, mappings, gateway responses and access logs read it.
pub(crate) struct Exchange<'a> {
    pub(crate) stage: &'a CompiledStage,
    pub(crate) route: Option<&'a Route>,
    pub(crate) params: Option<&'a Params>,
    pub(crate) client: &'a ConnInfo,
    pub(crate) rid: &'a str,
    /// The custom domain base path the request came through.
    pub(crate) base_path: Option<&'a str>,
    /// `$context.extendedRequestId` (`x-amz-apigw-id`).
    pub(crate) extended_rid: &'a str,
    /// `X-Amzn-Trace-Id` (`Root=1-…`).
    pub(crate) trace_id: &'a str,
    /// The path inside the stage (still percent-encoded), as addressing found it.
    pub(crate) resource_request_path: &'a str,
    /// Which addressing form the request used.
    pub(crate) address_style: crate::addressing::Style,
    /// Written by the method request steps.
    pub(crate) identity: Identity,
    /// What the route's Lambda authorizer allowed (`$context.authorizer`).
    pub(crate) authorizer: Option<std::sync::Arc<crate::steps::authorizer::Authorized>>,
    /// A cache miss to fill with the integration's answer.
    pub(crate) cache_store: Option<crate::steps::cache::PendingStore>,
    /// The response says that the caller's `Cache-Control` was ignored.
    pub(crate) cache_warning: bool,
}

/// What the method request steps learnt about the caller (`$context.identity.*`).
#[derive(Debug, Default, Clone)]
pub(crate) struct Identity {
    /// The API key the request presented and that was accepted (`$context.identity.apiKey`).
    pub(crate) api_key: Option<crate::account::KeyMatch>,
    /// The API key a Lambda authorizer named (`usageIdentifierKey`), for APIs whose
    /// `apiKeySource` is `AUTHORIZER` (set by the authorizer step).
    pub(crate) usage_identifier_key: Option<Box<str>>,
    /// The API's resource policy explicitly allows this request (checked before a Lambda
    /// authorizer, whose "nothing allowed" it then overrides, as AWS combines them).
    pub(crate) policy_allows: bool,
    /// The verified SigV4 signer (`AWS_IAM`): `$context.identity.caller`, `userArn`, ….
    pub(crate) caller: Option<std::sync::Arc<crate::iam::Principal>>,
    /// What the signer's own policy says about this method (for the resource policy step).
    pub(crate) identity_verdict: Option<crate::steps::authorizer::Verdict>,
}

impl Exchange<'_> {
    /// The matched route's path parameters (none when no route matched).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params.and_then(|p| p.get(name))
    }
}

/// `$input`, `$context` and `$stageVariables` for one request, for template `t` (header names
/// get the client's spelling when `t` may show them). What `t` cannot read is left empty.
pub(crate) async fn template_inputs(
    t: &crate::mapping::MappingTemplate,
    x: &Exchange<'_>,
    parts: &http::request::Parts,
    body: bytes::Bytes,
) -> crate::templating::TemplateInputs {
    let stage = x.stage;
    let mut inputs = crate::templating::TemplateInputs {
        body,
        stage_variables: stage.template_stage_variables.clone(),
        ..Default::default()
    };
    if t.reads_context() {
        inputs.context = request_context(x, parts).to_value();
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
    inputs.path = x
        .params
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    inputs
}

/// What `$context` says about this request (built into a template's `$context` or, for mapping
/// sources and gateway responses, into JSON).
pub(crate) fn request_context<'a>(
    x: &'a Exchange<'_>,
    parts: &'a http::request::Parts,
) -> crate::templating::RequestContext<'a> {
    let (stage, route) = (x.stage, x.route);
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
    };
    crate::templating::RequestContext {
        request_id: x.rid,
        api_id: &stage.api_id,
        stage: &stage.stage_name,
        http_method: parts.method.as_str(),
        resource_path: route.map(|r| r.resource_path.as_str()),
        resource_id: route.map(|r| r.resource_id.as_str()),
        path: parts.uri.path(),
        protocol: protocol(parts.version),
        request_time_epoch: epoch_millis(),
        domain_name: header(header::HOST),
        source_ip: &x.client.ip,
        user_agent: header(header::USER_AGENT),
        account_id: ACCOUNT_ID,
        deployment_id: &stage.deployment_id,
        is_canary_request: stage.is_canary_request,
        client_cert: x.client.client_cert(),
        base_path_matched: x.base_path,
        authorizer: x.authorizer.as_deref(),
        caller: x.identity.caller.as_deref(),
        api_key: x
            .identity
            .api_key
            .as_ref()
            .map(|k| (k.value.as_ref(), k.id.as_ref())),
    }
}

/// `$context` as JSON, for mapping sources and gateway responses.
pub(crate) fn context_json(x: &Exchange<'_>, parts: &http::request::Parts) -> serde_json::Value {
    request_context(x, parts).to_json()
}

pub(crate) use crate::account::ACCOUNT_ID;

/// A request variable for a gateway response: `method.request.{header,querystring,path}.x`,
/// `stageVariables.x` or `context.a.b` (the `$context` JSON is built once, on first use).
pub(crate) fn request_variable(
    name: &str,
    x: &Exchange<'_>,
    parts: &http::request::Parts,
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
        return x.param(p).map(str::to_owned);
    }
    if let Some(v) = name.strip_prefix("stageVariables.") {
        return x.stage.stage_variables.get(v).cloned();
    }
    let path = name.strip_prefix("context.")?;
    let ctx = context.get_or_init(|| context_json(x, parts));
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

/// Facts about the client connection, computed once per connection: who is calling, over which
/// transport (`X-Forwarded-Proto`, `$context.identity.clientCert`).
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// `$context.identity.sourceIp`.
    pub ip: String,
    pub(crate) ip_header: HeaderValue,
    /// Set when the connection is TLS.
    pub tls: Option<TlsInfo>,
}

/// What the TLS handshake of a connection settled.
#[derive(Debug, Clone, Default)]
pub struct TlsInfo {
    /// The name the client asked for (SNI), lowercase.
    pub sni: Option<Box<str>>,
    /// The certificate the client presented (mutual TLS), parsed once per connection.
    pub client_cert: Option<std::sync::Arc<crate::tls::ClientCert>>,
}

impl ConnInfo {
    /// A plain-TCP connection from the peer address.
    pub fn new(remote: SocketAddr) -> Self {
        let ip = remote.ip().to_string();
        let ip_header = HeaderValue::from_str(&ip).unwrap_or(HeaderValue::from_static("-"));
        Self {
            ip,
            ip_header,
            tls: None,
        }
    }

    /// A TLS connection from the peer address.
    pub fn tls(remote: SocketAddr, tls: TlsInfo) -> Self {
        Self {
            tls: Some(tls),
            ..Self::new(remote)
        }
    }

    /// The client certificate of a mutual-TLS connection.
    pub(crate) fn client_cert(&self) -> Option<&crate::tls::ClientCert> {
        self.tls.as_ref()?.client_cert.as_deref()
    }

    /// `X-Forwarded-Proto`.
    pub(crate) fn proto_header(&self) -> HeaderValue {
        HeaderValue::from_static(if self.tls.is_some() { "https" } else { "http" })
    }
}

/// What the phases produced, for the log phase.
pub(crate) struct Outcome {
    pub(crate) response: Response<GatewayBody>,
    pub(crate) integration_latency: Option<Duration>,
    pub(crate) integration_status: Option<u16>,
    pub(crate) error: Option<GatewayError>,
    /// `error` still needs rendering through the stage's gateway responses (done in the log
    /// phase's caller, where the request's data is at hand for the override's variables).
    pub(crate) pending: bool,
    /// The response carries `X-Amzn-Trace-Id`: as on AWS, only what an integration that ran
    /// answered (HTTP, later Lambda and AWS services) — not MOCK, HTTP_PROXY or gateway errors.
    pub(crate) traced: bool,
}

impl Outcome {
    /// An error rendered now, with no request data (before a stage is known).
    pub(crate) fn error(responses: &GatewayResponses, err: GatewayError) -> Self {
        Self {
            response: responses.render(&err),
            integration_latency: None,
            integration_status: None,
            error: Some(err),
            pending: false,
            traced: false,
        }
    }

    /// An error the stage's gateway responses will render.
    pub(crate) fn fail(err: GatewayError) -> Self {
        Self {
            response: Response::new(GatewayBody::Empty),
            integration_latency: None,
            integration_status: None,
            error: Some(err),
            pending: true,
            traced: false,
        }
    }
}

/// `$context.protocol`.
pub(crate) fn protocol(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// Ids every response carries.
pub(crate) struct RequestIds {
    pub(crate) request_id: HeaderValue,
    /// `x-amz-apigw-id` of REST APIs; an HTTP API's `apigw-requestid` (16 characters, `=` last).
    pub(crate) apigw_id: HeaderValue,
    pub(crate) trace_id: HeaderValue,
}

impl RequestIds {
    pub(crate) fn new(epoch_ms: u64) -> Self {
        let (a, b) = (fastrand::u64(..), fastrand::u64(..));
        // xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx (UUID v4), written without fmt machinery.
        let mut rid = [b'-'; 36];
        hex(&mut rid[0..8], a >> 32);
        hex(&mut rid[9..13], a >> 16);
        hex(&mut rid[14..18], (a & 0x0fff) | 0x4000);
        hex(&mut rid[19..23], ((b >> 48) & 0x3fff) | 0x8000);
        hex(&mut rid[24..36], b);
        const B62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut apigw = [b'='; 16];
        let mut bits = a ^ b.rotate_left(17);
        for slot in apigw.iter_mut().take(15) {
            *slot = B62[(bits % 62) as usize];
            bits = (bits / 62) ^ b.rotate_left(bits as u32 & 63);
        }
        let mut trace = *b"Root=1-00000000-000000000000000000000000";
        hex(&mut trace[7..15], epoch_ms / 1000);
        hex(&mut trace[16..28], a);
        hex(&mut trace[28..40], b >> 16);
        Self {
            request_id: HeaderValue::from_bytes(&rid).unwrap_or(HeaderValue::from_static("-")),
            apigw_id: HeaderValue::from_bytes(&apigw).unwrap_or(HeaderValue::from_static("-")),
            trace_id: HeaderValue::from_bytes(&trace).unwrap_or(HeaderValue::from_static("-")),
        }
    }
}

/// Writes the low `out.len()` hex digits of `v` into `out`.
pub(crate) fn hex(out: &mut [u8], mut v: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(v & 0xf) as usize];
        v >>= 4;
    }
}
