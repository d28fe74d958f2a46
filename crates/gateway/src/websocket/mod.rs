//! WebSocket APIs (API Gateway v2, `protocolType: WEBSOCKET`): a stage compiled from its
//! deployment — the route selection expression, routes by key (`$connect`, `$disconnect`,
//! `$default` and custom ones), what each route runs — and the connections served from it.
//!
//! * [`serve`]: the upgrade (`$connect` decides before the handshake completes), message
//!   routing, two-way responses, `$disconnect`, and the `@connections` API.
//! * [`session`]: one connection's life: frames in and out with AWS's limits, idle and
//!   lifetime timeouts, the table of open connections.
//! * [`events`]: the Lambda proxy events (`CONNECT`, `MESSAGE`, `DISCONNECT`).
//!
//! Everything a message reads is built here at deploy time: templates parsed, regexes
//! compiled, backends' pools resolved.

pub(crate) mod connections;
pub(crate) mod events;
pub(crate) mod serve;
pub(crate) mod session;

use crate::compiled::{CompileWarning, SharedStr};
use crate::http_api::StageLabels;
use crate::lambda_target::LambdaProxyIntegration;
use crate::metrics::{Registry, RouteMetrics};
use crate::steps::Throttle;
use crate::templating::JsonPaths;
use crate::upstream::{UpstreamPool, Upstreams};
use crate::uri::substitute_stage_variables;
use http::Method;
use portico_model::Map;
use portico_model::http::{HttpApiSnapshot, Integration, Route, Stage};
use portico_model::websocket::{CONNECT, DEFAULT, DISCONNECT};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use connections::Connections;

/// One WebSocket API stage to serve, as the store hands it over (the shape HTTP APIs use).
pub type WsStageInput = crate::http_api::HttpStageInput;

/// A WebSocket API stage ready to serve.
#[derive(Debug)]
pub struct CompiledWsStage {
    /// The API id.
    pub api_id: Arc<str>,
    /// The stage name.
    pub stage_name: Arc<str>,
    /// `routeSelectionExpression`, parsed.
    pub(crate) selection: Selection,
    /// Custom routes by key.
    pub(crate) routes: HashMap<Box<str>, WsRoute>,
    /// `$connect`, `$disconnect`, `$default`.
    pub(crate) connect: Option<WsRoute>,
    pub(crate) disconnect: Option<WsRoute>,
    pub(crate) default_route: Option<WsRoute>,
    /// `disableExecuteApiEndpoint`.
    pub(crate) execute_api_disabled: bool,
    /// The stage variables.
    pub(crate) stage_variables: Map<String>,
    /// `$stageVariables` for templates.
    pub(crate) template_stage_variables: Arc<portico_vtl::Value>,
    /// New connections' throttle: `$connect`'s route settings (else the stage default) and
    /// the account's, whether or not a `$connect` route exists.
    pub(crate) connect_throttle: Throttle,
}

/// A compiled route.
#[derive(Debug)]
pub(crate) struct WsRoute {
    /// `routeKey`.
    pub(crate) route_key: SharedStr,
    /// What runs.
    pub(crate) target: WsTarget,
    /// Two-way: `routeResponseSelectionExpression` `$default` and a `$default` route response.
    pub(crate) two_way: bool,
    /// `$connect` only: who may connect.
    pub(crate) auth: WsAuth,
    /// The route's throttle (route settings, else the stage default) and the account's.
    pub(crate) throttle: Throttle,
    /// Metrics for (api, stage, route key).
    pub(crate) metrics: Arc<RouteMetrics>,
}

/// `$connect`'s authorization.
#[derive(Debug)]
pub(crate) enum WsAuth {
    None,
    /// `AWS_IAM`: a SigV4-signed upgrade request.
    Iam,
    /// `CUSTOM`: a Lambda REQUEST authorizer.
    Lambda(Box<crate::http_api::auth::LambdaAuth>),
    /// An authorizer that cannot run: every connection is refused (500).
    Unavailable,
}

/// What a route runs.
#[derive(Debug)]
pub(crate) enum WsTarget {
    /// `AWS_PROXY`: the event to a Lambda function, its `body` back.
    Lambda(LambdaProxyIntegration),
    /// `HTTP_PROXY`: the message as the request body, the backend's body back.
    HttpProxy(HttpTarget),
    /// `MOCK`, `HTTP`, `AWS` (Lambda): a request template, the call, an integration response.
    Templated(Box<Templated>),
    /// No integration: the message is accepted and nothing runs.
    Nothing,
    /// Cannot run: the client gets an `Internal server error` frame, the reason in the log.
    Unavailable(Box<str>),
}

/// An HTTP backend.
#[derive(Debug)]
pub(crate) struct HttpTarget {
    /// `integrationMethod` (`ANY` sends POST).
    pub(crate) method: Method,
    /// The URI, stage variables substituted.
    pub(crate) uri: http::Uri,
    /// Connections to the backend.
    pub(crate) pool: Arc<UpstreamPool>,
    /// `timeoutInMillis`.
    pub(crate) timeout: Duration,
}

/// A non-proxy integration.
#[derive(Debug)]
pub(crate) struct Templated {
    /// What the rendered request goes to.
    pub(crate) call: Call,
    /// `requestTemplates` by selection value.
    pub(crate) templates: Vec<(Box<str>, CompiledTemplate)>,
    /// `templateSelectionExpression` (none: `$default`).
    pub(crate) template_selection: Option<Selection>,
    /// `passthroughBehavior`.
    pub(crate) passthrough: Passthrough,
    /// `integrationResponseSelectionExpression` (none: the status code).
    pub(crate) response_selection: Option<Selection>,
    /// Integration responses: `/regex/` keys in order, `$default` last.
    pub(crate) responses: Vec<CompiledResponse>,
}

/// The backend of a non-proxy integration.
#[derive(Debug)]
pub(crate) enum Call {
    /// `MOCK`: the rendered template is the answer; its `statusCode` the status.
    Mock,
    /// `HTTP`.
    Http(HttpTarget),
    /// `AWS` to a Lambda function: the rendered template is the payload.
    Lambda(LambdaProxyIntegration),
}

/// `passthroughBehavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Passthrough {
    WhenNoMatch,
    WhenNoTemplates,
    Never,
}

/// A parsed mapping template with its JSONPaths.
#[derive(Debug)]
pub(crate) struct CompiledTemplate {
    pub(crate) template: portico_vtl::Template,
    pub(crate) paths: Arc<JsonPaths>,
}

/// An integration response.
#[derive(Debug)]
pub(crate) struct CompiledResponse {
    /// The key's regex (`/2\d\d/`), `None` for `$default`.
    pub(crate) pattern: Option<regex::Regex>,
    /// `responseTemplates` by selection value.
    pub(crate) templates: Vec<(Box<str>, CompiledTemplate)>,
    /// `templateSelectionExpression`.
    pub(crate) template_selection: Option<Selection>,
}

/// A selection expression: text with `$request.body.<path>` / `${request.body.<path>}` parts
/// (and, for integration responses, `${integration.response.statuscode}`).
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(Box<str>),
    Body(Vec<Box<str>>),
    Status,
}

impl Selection {
    /// Parses an expression; `$request.body.a.b` alone, or text with `${…}` parts.
    pub(crate) fn parse(expr: &str) -> Self {
        let body = |p: &str| -> Option<Part> {
            if p == "integration.response.statuscode" {
                return Some(Part::Status);
            }
            let rest = p.strip_prefix("request.body.")?;
            Some(Part::Body(rest.split('.').map(Into::into).collect()))
        };
        if let Some(p) = expr.strip_prefix('$')
            && !p.starts_with('{')
            && let Some(part) = body(p)
        {
            return Self { parts: vec![part] };
        }
        let mut parts = Vec::new();
        let mut rest = expr;
        while let Some(i) = rest.find("${") {
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else { break };
            match body(&after[..end]) {
                Some(part) => {
                    if i > 0 {
                        parts.push(Part::Text(rest[..i].into()));
                    }
                    parts.push(part);
                }
                None => parts.push(Part::Text(rest[..i + 3 + end].into())),
            }
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            // `\$default` is the escaped text `$default`.
            parts.push(Part::Text(rest.replace("\\$", "$").into()));
        }
        Self { parts }
    }

    /// The selection value for a message (`None` when a body part is missing or the body is
    /// not JSON).
    pub(crate) fn select(&self, body: Option<&serde_json::Value>, status: u16) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Status => out.push_str(&status.to_string()),
                Part::Body(path) => {
                    let mut v = body?;
                    for seg in path {
                        v = v.get(seg.as_ref())?;
                    }
                    match v {
                        serde_json::Value::String(s) => out.push_str(s),
                        serde_json::Value::Null => return None,
                        other => out.push_str(&other.to_string()),
                    }
                }
            }
        }
        Some(out)
    }
}

/// The most a WebSocket integration may take (`timeoutInMillis` ≤ 29,000).
const MAX_TIMEOUT_MS: i64 = 29_000;

/// Compiles one stage. A route that cannot run answers with an error frame and is reported;
/// it never breaks the stage.
pub(crate) fn compile_stage(
    input: &WsStageInput,
    metrics: &Registry,
    upstreams: &Upstreams,
    warnings: &mut Vec<CompileWarning>,
) -> CompiledWsStage {
    let stage = &input.stage;
    let snap = &input.snapshot;
    let stage_labels = StageLabels::of(input);
    let api_label = stage_labels.api.clone();
    let stage_label = stage_labels.stage.clone();
    let labels = |route: &str| stage_labels.route(route);
    let mut caches = HashMap::new();
    let mut compiled = CompiledWsStage {
        api_id: api_label.clone(),
        stage_name: stage_label.clone(),
        selection: Selection::parse(
            snap.api
                .as_ref()
                .and_then(|a| a.route_selection_expression.as_deref())
                .unwrap_or("$request.body.action"),
        ),
        routes: HashMap::new(),
        connect: None,
        disconnect: None,
        default_route: None,
        execute_api_disabled: snap
            .api
            .as_ref()
            .is_some_and(|a| a.disable_execute_api_endpoint),
        stage_variables: stage.stage_variables.clone(),
        template_stage_variables: crate::templating::stage_variables(&stage.stage_variables),
        connect_throttle: Throttle::with_limits(
            api_label.clone(),
            stage_label.clone(),
            CONNECT,
            crate::http_api::route_limits(stage, CONNECT),
        ),
    };
    for r in &snap.routes {
        let mut warn = |message: String| {
            warnings.push(CompileWarning {
                location: format!("{}/{} {}", input.api_id, stage.stage_name, r.route_key),
                message,
            });
        };
        let target = match compile_target(r, snap, stage, upstreams) {
            Ok(t) => t,
            Err(e) => {
                warn(format!("route answers with an error: {e}"));
                WsTarget::Unavailable(e.into())
            }
        };
        let auth = match r.authorization_type.as_str() {
            "AWS_IAM" => WsAuth::Iam,
            "CUSTOM" => match compile_authorizer(r, snap, stage, &mut caches) {
                Ok(a) => WsAuth::Lambda(Box::new(a)),
                Err(e) => {
                    warn(format!(
                        "authorizer cannot run, connections are refused: {e}"
                    ));
                    WsAuth::Unavailable
                }
            },
            _ => WsAuth::None,
        };
        let two_way = r.route_response_selection_expression.as_deref() == Some("$default")
            && snap
                .route_responses
                .get(&r.route_id)
                .is_some_and(|l| l.iter().any(|rr| rr.route_response_key == "$default"));
        let route = WsRoute {
            route_key: SharedStr::from(r.route_key.as_str()),
            target,
            two_way,
            auth,
            throttle: Throttle::with_limits(
                api_label.clone(),
                stage_label.clone(),
                &r.route_key,
                crate::http_api::route_limits(stage, &r.route_key),
            ),
            metrics: metrics.route(labels(&r.route_key)),
        };
        match r.route_key.as_str() {
            CONNECT => compiled.connect = Some(route),
            DISCONNECT => compiled.disconnect = Some(route),
            DEFAULT => compiled.default_route = Some(route),
            key => {
                compiled.routes.insert(key.into(), route);
            }
        }
    }
    compiled
}

fn compile_authorizer(
    r: &Route,
    snap: &HttpApiSnapshot,
    stage: &Stage,
    caches: &mut HashMap<
        String,
        Arc<crate::steps::authorizer::AuthorizerCache<crate::http_api::auth::LambdaResult>>,
    >,
) -> Result<crate::http_api::auth::LambdaAuth, String> {
    let id = r
        .authorizer_id
        .as_deref()
        .ok_or("the route has no authorizer")?;
    let a = snap
        .authorizers
        .iter()
        .find(|a| a.authorizer_id == id)
        .ok_or_else(|| format!("authorizer {id} does not exist"))?;
    crate::http_api::auth::LambdaAuth::compile_websocket(a, stage, caches)
}

fn timeout_of(i: &Integration) -> Duration {
    Duration::from_millis(
        u64::try_from(
            i.timeout_in_millis
                .unwrap_or(MAX_TIMEOUT_MS)
                .clamp(50, MAX_TIMEOUT_MS),
        )
        .unwrap_or(29_000),
    )
}

/// What a route's `target` runs.
fn compile_target(
    r: &Route,
    snap: &HttpApiSnapshot,
    stage: &Stage,
    upstreams: &Upstreams,
) -> Result<WsTarget, String> {
    let Some(id) = r.integration_id() else {
        return Ok(WsTarget::Nothing);
    };
    let i = snap
        .integrations
        .iter()
        .find(|i| i.integration_id == id)
        .ok_or_else(|| format!("the route's integration {id} does not exist"))?;
    if i.connection_type.as_deref() == Some("VPC_LINK") {
        return Err("VPC_LINK integrations are not supported".into());
    }
    if i.request_parameters.as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(
            "requestParameters on WebSocket integrations are not applied yet: the route is not served rather than served without them"
                .into(),
        );
    }
    let timeout = timeout_of(i);
    let lambda = |i: &Integration| -> Result<LambdaProxyIntegration, String> {
        let uri = substitute_stage_variables(
            i.integration_uri.as_deref().unwrap_or(""),
            &stage.stage_variables,
        );
        let (function, qualifier, arn) = crate::http_api::lambda_function(&uri)?;
        Ok(LambdaProxyIntegration {
            function: function.into(),
            qualifier: qualifier.map(Into::into),
            arn: arn.into(),
            timeout,
        })
    };
    let call = match i.integration_type.as_str() {
        "AWS_PROXY" => return lambda(i).map(WsTarget::Lambda),
        "HTTP_PROXY" => return http_target(i, stage, upstreams, timeout).map(WsTarget::HttpProxy),
        "MOCK" => Call::Mock,
        "HTTP" => Call::Http(http_target(i, stage, upstreams, timeout)?),
        "AWS" => {
            let uri = i.integration_uri.as_deref().unwrap_or("");
            if !(uri.contains(":lambda:path/") || uri.starts_with("arn:aws:lambda:")) {
                return Err(format!(
                    "AWS service integrations other than Lambda are not supported for WebSocket APIs ({uri})"
                ));
            }
            Call::Lambda(lambda(i)?)
        }
        other => {
            return Err(format!(
                "integration type {other} cannot serve a WebSocket API"
            ));
        }
    };
    let templates = compile_templates(i.request_templates.as_ref())?;
    let mut responses = Vec::new();
    let mut default = None;
    for ir in snap.integration_responses.get(id).into_iter().flatten() {
        let compiled = CompiledResponse {
            pattern: None,
            templates: compile_templates(ir.response_templates.as_ref())?,
            template_selection: ir
                .template_selection_expression
                .as_deref()
                .map(Selection::parse),
        };
        if ir.integration_response_key == "$default" {
            default = Some(compiled);
            continue;
        }
        let inner = ir
            .integration_response_key
            .strip_prefix('/')
            .and_then(|k| k.strip_suffix('/'))
            .ok_or_else(|| {
                format!(
                    "invalid integration response key {}",
                    ir.integration_response_key
                )
            })?;
        let pattern = regex::Regex::new(&format!("^(?:{inner})$"))
            .map_err(|e| format!("integration response key {inner}: {e}"))?;
        responses.push(CompiledResponse {
            pattern: Some(pattern),
            ..compiled
        });
    }
    responses.extend(default);
    Ok(WsTarget::Templated(Box::new(Templated {
        call,
        templates,
        template_selection: i
            .template_selection_expression
            .as_deref()
            .map(Selection::parse),
        passthrough: match i.passthrough_behavior.as_deref() {
            Some("NEVER") => Passthrough::Never,
            Some("WHEN_NO_TEMPLATES") => Passthrough::WhenNoTemplates,
            _ => Passthrough::WhenNoMatch,
        },
        response_selection: i
            .integration_response_selection_expression
            .as_deref()
            .map(Selection::parse),
        responses,
    })))
}

fn compile_templates(
    templates: Option<&Map<String>>,
) -> Result<Vec<(Box<str>, CompiledTemplate)>, String> {
    let mut out = Vec::new();
    for (key, source) in templates.into_iter().flatten() {
        let template = portico_vtl::parse(source)
            .map_err(|e| format!("mapping template {key} does not parse: {e}"))?;
        let paths = Arc::new(JsonPaths::of(&template));
        out.push((key.as_str().into(), CompiledTemplate { template, paths }));
    }
    Ok(out)
}

fn http_target(
    i: &Integration,
    stage: &Stage,
    upstreams: &Upstreams,
    timeout: Duration,
) -> Result<HttpTarget, String> {
    let raw = i
        .integration_uri
        .as_deref()
        .ok_or("the integration has no integrationUri")?;
    let uri: http::Uri = substitute_stage_variables(raw, &stage.stage_variables)
        .parse()
        .map_err(|e| format!("invalid integrationUri {raw}: {e}"))?;
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| format!("integrationUri {raw} has no host"))?;
    let tls = (uri.scheme_str() == Some("https")).then(|| crate::upstream::TlsSettings {
        insecure_skip_verification: i
            .tls_config
            .as_ref()
            .and_then(|t| t.get("insecureSkipVerification"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        client_certificate: None,
    });
    let pool = upstreams.pool(&authority, tls)?;
    let method = match i.integration_method.as_deref() {
        None | Some("ANY") => Method::POST,
        Some(m) => Method::from_bytes(m.as_bytes())
            .map_err(|_| format!("invalid integrationMethod {m}"))?,
    };
    Ok(HttpTarget {
        method,
        uri,
        pool,
        timeout,
    })
}

impl WsRoute {
    fn explain(&self) -> String {
        let integration = match &self.target {
            WsTarget::Lambda(_) => "AWS_PROXY (Lambda)".to_string(),
            WsTarget::HttpProxy(_) => "HTTP_PROXY".into(),
            WsTarget::Templated(t) => match t.call {
                Call::Mock => "MOCK".into(),
                Call::Http(_) => "HTTP".into(),
                Call::Lambda(_) => "AWS (Lambda)".into(),
            },
            WsTarget::Nothing => "none".into(),
            WsTarget::Unavailable(why) => format!("unavailable: {why}"),
        };
        let auth = match &self.auth {
            WsAuth::None => "",
            WsAuth::Iam => "AWS_IAM → ",
            WsAuth::Lambda(_) => "Lambda authorizer → ",
            WsAuth::Unavailable => "authorizer unavailable (500) → ",
        };
        format!(
            "{} → {auth}integration {integration}{}",
            self.throttle.describe(),
            if self.two_way { " (two-way)" } else { "" }
        )
    }
}

impl CompiledWsStage {
    /// Every route with what it runs, for `portico routes`.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        let mut keys: Vec<_> = self.routes.keys().collect();
        keys.sort();
        for (key, r) in [
            (CONNECT, &self.connect),
            (DISCONNECT, &self.disconnect),
            (DEFAULT, &self.default_route),
        ] {
            if let Some(r) = r {
                out.push_str(&format!("{key} → {}\n", r.explain()));
            }
        }
        for k in keys {
            out.push_str(&format!("{k} → {}\n", self.routes[k].explain()));
        }
        out
    }

    /// The route a message selects: its key's route, else `$default`.
    pub(crate) fn route_for(&self, key: Option<&str>) -> Option<&WsRoute> {
        key.and_then(|k| self.routes.get(k))
            .or(self.default_route.as_ref())
    }

    /// Forgets every cached Lambda authorizer result of the stage.
    pub fn flush_authorizer_caches(&self) {
        if let Some(WsRoute {
            auth: WsAuth::Lambda(l),
            ..
        }) = &self.connect
        {
            l.cache.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selection_expressions_pick_keys() {
        let body = json!({"action": "send", "n": 3, "a": {"b": "deep"}, "z": null});
        let s = Selection::parse("$request.body.action");
        assert_eq!(s.select(Some(&body), 0).as_deref(), Some("send"));
        assert_eq!(
            Selection::parse("${request.body.a.b}-${request.body.n}")
                .select(Some(&body), 0)
                .as_deref(),
            Some("deep-3")
        );
        assert_eq!(
            Selection::parse("$request.body.missing").select(Some(&body), 0),
            None
        );
        assert_eq!(
            Selection::parse("$request.body.z").select(Some(&body), 0),
            None
        );
        assert_eq!(
            Selection::parse("$request.body.action").select(None, 0),
            None
        );
        assert_eq!(
            Selection::parse("\\$default").select(None, 0).as_deref(),
            Some("$default")
        );
        assert_eq!(
            Selection::parse("${integration.response.statuscode}")
                .select(None, 404)
                .as_deref(),
            Some("404")
        );
    }
}
