//! HTTP APIs (API Gateway v2): a stage compiled from its deployment — routes by route key,
//! integrations (`HTTP_PROXY`, `AWS_PROXY` with payload 1.0 / 2.0), native CORS, throttles —
//! and the request phases that serve it (`serve`), shorter than REST's: resolve stage → CORS
//! preflight → route (`$default` last) → throttle → integration → CORS headers → ids → log.
//!
//! Everything a request reads is built here at deploy time; a route pays for no feature it does
//! not use.

pub(crate) mod auth;
pub(crate) mod cors;
pub(crate) mod mapping;
pub(crate) mod payload;
pub(crate) mod serve;

use crate::access_log::AccessLogFormat;
use crate::compiled::{CompileWarning, SharedStr};
use crate::lambda_target::LambdaProxyIntegration;
use crate::metrics::{Labels, Registry, RouteMetrics};
use crate::steps::Throttle;
use crate::upstream::Upstreams;
use crate::uri::{UriTemplate, substitute_stage_variables};
use http::Method;
use portico_model::Map;
use portico_model::http::{HttpApiSnapshot, Integration, Route, RouteSettings, Stage};
use portico_router::{Router, RouterBuilder};
use std::sync::Arc;
use std::time::Duration;

/// One HTTP API stage to serve, as the store hands it over.
#[derive(Debug, Clone)]
pub struct HttpStageInput {
    /// The API id.
    pub api_id: String,
    /// The stage.
    pub stage: Stage,
    /// What the stage's deployment froze.
    pub snapshot: HttpApiSnapshot,
}

/// An HTTP API stage ready to serve.
#[derive(Debug)]
pub struct CompiledHttpStage {
    /// The API id.
    pub api_id: Arc<str>,
    /// The stage name (`$default` serves at the root).
    pub stage_name: Arc<str>,
    /// Routes by method and path.
    pub(crate) router: Router<HttpRoute>,
    /// The `$default` route: what no other route matched.
    pub(crate) default_route: Option<HttpRoute>,
    /// The API's CORS configuration.
    pub(crate) cors: Option<cors::Cors>,
    /// `disableExecuteApiEndpoint`.
    pub(crate) execute_api_disabled: bool,
    /// The stage variables (`stageVariables` of events).
    pub(crate) stage_variables: Map<String>,
    /// Access-log format.
    pub(crate) access_log: AccessLogFormat,
    /// Metrics of requests no route matched.
    pub(crate) unmatched_metrics: Arc<RouteMetrics>,
    /// The result caches of the stage's Lambda authorizers (`ResetAuthorizersCache`).
    pub(crate) authorizer_caches:
        Vec<Arc<crate::steps::authorizer::AuthorizerCache<auth::LambdaResult>>>,
}

/// A compiled route.
#[derive(Debug)]
pub(crate) struct HttpRoute {
    /// `routeKey` (`GET /pets/{id}`, `$default`).
    pub(crate) route_key: SharedStr,
    /// What runs.
    pub(crate) target: Target,
    /// Who may call (`authorizationType`): checked before the integration.
    pub(crate) auth: auth::RouteAuth,
    /// The stage's throttle for the route (route settings, else the stage default) and the
    /// account's.
    pub(crate) throttle: Throttle,
    /// Metrics for (api, stage, route key).
    pub(crate) metrics: Arc<RouteMetrics>,
}

/// What a route runs.
#[derive(Debug)]
pub(crate) enum Target {
    /// `HTTP_PROXY`.
    HttpProxy(HttpProxyTarget),
    /// `AWS_PROXY` to a Lambda function.
    Lambda(LambdaTarget),
    /// Cannot run: answers 500, the reason in the log.
    Unavailable(Box<str>),
}

/// An `HTTP_PROXY` integration of an HTTP API.
#[derive(Debug)]
pub(crate) struct HttpProxyTarget {
    /// `integrationMethod`; `None` for `ANY` (the client's method).
    pub(crate) method: Option<Method>,
    /// The integration URI (stage variables substituted, `{param}` filled per request).
    pub(crate) uri: UriTemplate,
    /// The `$default` route appends the whole request path to the integration URI.
    pub(crate) append_path: bool,
    /// Connections to the backend.
    pub(crate) pool: Arc<crate::upstream::UpstreamPool>,
    /// `timeoutInMillis`.
    pub(crate) timeout: Duration,
    /// `requestParameters` / `responseParameters`, when the integration has any.
    pub(crate) mappings: Option<Box<mapping::Mappings>>,
}

/// An `AWS_PROXY` (Lambda) integration of an HTTP API.
#[derive(Debug)]
pub(crate) struct LambdaTarget {
    /// The function and timeout.
    pub(crate) function: LambdaProxyIntegration,
    /// `payloadFormatVersion` 2.0 (else 1.0).
    pub(crate) v2: bool,
}

/// The most an HTTP API integration may take (`timeoutInMillis` ≤ 30,000).
const MAX_TIMEOUT_MS: i64 = 30_000;

/// Compiles one stage. A route that cannot run answers 500 and is reported; it never breaks
/// the stage.
pub(crate) fn compile_stage(
    input: &HttpStageInput,
    metrics: &Registry,
    upstreams: &Upstreams,
    jwks: Option<&crate::jwt::JwksRegistry>,
    warnings: &mut Vec<CompileWarning>,
) -> CompiledHttpStage {
    let stage = &input.stage;
    let snap = &input.snapshot;
    let stage_labels = StageLabels::of(input);
    let api_label = stage_labels.api.clone();
    let stage_label = stage_labels.stage.clone();
    let labels = |route: &str| stage_labels.route(route);
    let mut builder = RouterBuilder::new();
    let mut default_route = None;
    let mut authorizer_caches = std::collections::HashMap::new();
    for r in &snap.routes {
        let mut warn = |message: String| {
            warnings.push(CompileWarning {
                location: format!("{}/{} {}", input.api_id, stage.stage_name, r.route_key),
                message,
            });
        };
        let (target, auth) = match compile_target(r, snap, stage, upstreams).and_then(|t| {
            auth::RouteAuth::compile(r, snap, stage, jwks, &mut authorizer_caches).map(|a| (t, a))
        }) {
            Ok(t) => t,
            Err(e) => {
                warn(format!("route answers 500: {e}"));
                (Target::Unavailable(e.into()), auth::RouteAuth::None)
            }
        };
        let limits = route_limits(stage, &r.route_key);
        let route = HttpRoute {
            route_key: SharedStr::from(r.route_key.as_str()),
            target,
            auth,
            throttle: Throttle::with_limits(
                api_label.clone(),
                stage_label.clone(),
                &r.route_key,
                limits,
            ),
            metrics: metrics.route(labels(&r.route_key)),
        };
        if r.route_key == "$default" {
            default_route = Some(route);
            continue;
        }
        let Some((method, path)) = r.route_key.split_once(' ') else {
            warn("route key is not METHOD /path: not served".into());
            continue;
        };
        if let Err(e) = builder.add(path, method, route) {
            warn(format!("route not served: {e}"));
        }
    }
    let api = snap.api.as_ref();
    let access_log = match stage
        .access_log_settings
        .as_ref()
        .and_then(|s| s.format.as_deref())
        .filter(|f| !f.trim().is_empty())
    {
        Some(f) => AccessLogFormat::parse(f),
        None => AccessLogFormat::http_api_default(),
    };
    CompiledHttpStage {
        api_id: api_label.clone(),
        stage_name: stage_label.clone(),
        router: builder.build(),
        default_route,
        cors: api
            .and_then(|a| a.cors_configuration.as_ref())
            .map(cors::Cors::compile),
        execute_api_disabled: api.is_some_and(|a| a.disable_execute_api_endpoint),
        stage_variables: stage.stage_variables.clone(),
        access_log,
        unmatched_metrics: metrics.route(labels("")),
        authorizer_caches: authorizer_caches.into_values().collect(),
    }
}

/// The metric labels of a v2 stage's routes (HTTP and WebSocket APIs): api, name, stage, and
/// the route key as the resource.
pub(crate) struct StageLabels {
    pub(crate) api: Arc<str>,
    pub(crate) name: Arc<str>,
    pub(crate) stage: Arc<str>,
}

impl StageLabels {
    pub(crate) fn of(input: &HttpStageInput) -> Self {
        Self {
            api: input.api_id.as_str().into(),
            name: input
                .snapshot
                .api
                .as_ref()
                .map(|a| a.name.as_str())
                .unwrap_or("")
                .into(),
            stage: input.stage.stage_name.as_str().into(),
        }
    }

    pub(crate) fn route(&self, route_key: &str) -> Labels {
        Labels {
            api: self.api.clone(),
            api_name: self.name.clone(),
            stage: self.stage.clone(),
            resource: route_key.into(),
            method: "".into(),
        }
    }
}

/// The stage's throttle for a route: its `routeSettings` entry, else `defaultRouteSettings`.
pub(crate) fn route_limits(stage: &Stage, route_key: &str) -> Option<crate::account::Limits> {
    let own = stage.route_settings.get(route_key);
    let pick = |f: fn(&RouteSettings) -> Option<f64>| {
        own.and_then(f).or_else(|| f(&stage.default_route_settings))
    };
    let rate = pick(|s| s.throttling_rate_limit);
    let burst = own
        .and_then(|s| s.throttling_burst_limit)
        .or(stage.default_route_settings.throttling_burst_limit);
    if rate.is_none() && burst.is_none() {
        return None;
    }
    let rate = rate.filter(|r| *r >= 0.0).unwrap_or(f64::MAX);
    Some(crate::account::Limits::new(
        rate,
        crate::account::burst_or_default(burst.filter(|b| *b >= 0), rate),
    ))
}

/// What a route's `target` runs.
fn compile_target(
    r: &Route,
    snap: &HttpApiSnapshot,
    stage: &Stage,
    upstreams: &Upstreams,
) -> Result<Target, String> {
    let Some(id) = r.integration_id() else {
        return Err("the route has no integration (target)".into());
    };
    let i = snap
        .integrations
        .iter()
        .find(|i| i.integration_id == id)
        .ok_or_else(|| format!("the route's integration {id} does not exist"))?;
    if i.integration_subtype.is_some() {
        return Err(format!(
            "AWS service integrations ({}) are not supported for HTTP APIs yet",
            i.integration_subtype.as_deref().unwrap_or("")
        ));
    }
    let mapped = i.request_parameters.as_ref().is_some_and(|m| !m.is_empty())
        || i.response_parameters
            .as_ref()
            .is_some_and(|m| !m.is_empty());
    if mapped && i.integration_type != "HTTP_PROXY" {
        return Err(format!(
            "parameter mapping on {} integrations is not supported",
            i.integration_type
        ));
    }
    let timeout = Duration::from_millis(
        u64::try_from(
            i.timeout_in_millis
                .unwrap_or(MAX_TIMEOUT_MS)
                .clamp(50, MAX_TIMEOUT_MS),
        )
        .unwrap_or(30_000),
    );
    match i.integration_type.as_str() {
        "HTTP_PROXY" => compile_http_proxy(r, i, stage, upstreams, timeout).map(Target::HttpProxy),
        "AWS_PROXY" => {
            let uri = substitute_stage_variables(
                i.integration_uri.as_deref().unwrap_or(""),
                &stage.stage_variables,
            );
            let (function, qualifier, arn) = lambda_function(&uri)?;
            Ok(Target::Lambda(LambdaTarget {
                function: LambdaProxyIntegration {
                    function: function.into(),
                    qualifier: qualifier.map(Into::into),
                    arn: arn.into(),
                    timeout,
                },
                v2: i.payload_format_version.as_deref() == Some("2.0"),
            }))
        }
        other => Err(format!("integration type {other} cannot serve an HTTP API")),
    }
}

/// A Lambda function named by a bare function ARN (`arn:aws:lambda:…:function:NAME[:Q]`) or an
/// `apigateway` invocation URI.
pub(crate) fn lambda_function(uri: &str) -> Result<(String, Option<String>, String), String> {
    if uri.starts_with("arn:aws:apigateway:") {
        return crate::uri::lambda_invocation(uri);
    }
    let after = uri
        .strip_prefix("arn:aws:lambda:")
        .and_then(|r| r.split_once(":function:"))
        .map(|(_, a)| a)
        .ok_or_else(|| format!("{uri} is not a Lambda function ARN"))?;
    let (name, qualifier) = match after.split_once(':') {
        Some((n, q)) => (n, Some(q.to_owned())),
        None => (after, None),
    };
    if name.is_empty() || qualifier.as_deref() == Some("") {
        return Err(format!("{uri} is not a Lambda function ARN"));
    }
    Ok((name.to_owned(), qualifier, uri.to_owned()))
}

fn compile_http_proxy(
    r: &Route,
    i: &Integration,
    stage: &Stage,
    upstreams: &Upstreams,
    timeout: Duration,
) -> Result<HttpProxyTarget, String> {
    let raw = i
        .integration_uri
        .as_deref()
        .ok_or_else(|| "HTTP_PROXY integration has no integrationUri".to_string())?;
    if i.connection_type.as_deref() == Some("VPC_LINK") {
        return Err("VPC_LINK integrations are not supported".into());
    }
    let uri = substitute_stage_variables(raw, &stage.stage_variables);
    let params: Vec<(&str, bool)> = r
        .route_key
        .split(['/', ' '])
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|p| match p.strip_suffix('+') {
            Some(g) => (g, true),
            None => (p, false),
        })
        .collect();
    let template = UriTemplate::compile(&uri, |name| {
        params
            .iter()
            .find(|(p, _)| *p == name)
            .map(|(p, greedy)| ((*p).to_owned(), *greedy))
    })?;
    let method = match i.integration_method.as_deref() {
        None | Some("ANY") => None,
        Some(m) => Some(
            Method::from_bytes(m.as_bytes())
                .map_err(|_| format!("invalid integrationMethod {m}"))?,
        ),
    };
    let tls = template.is_https().then(|| crate::upstream::TlsSettings {
        insecure_skip_verification: i
            .tls_config
            .as_ref()
            .and_then(|t| t.get("insecureSkipVerification"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        client_certificate: stage.client_certificate_id.as_deref().map(Arc::from),
    });
    let pool = upstreams.pool(template.authority(), tls)?;
    let mappings = mapping::Mappings::compile(
        i.request_parameters.as_ref(),
        i.response_parameters.as_ref(),
    )?;
    Ok(HttpProxyTarget {
        method,
        uri: template,
        append_path: r.route_key == "$default",
        pool,
        timeout,
        mappings: (!mappings.is_empty()).then(|| Box::new(mappings)),
    })
}

impl HttpRoute {
    /// What the route runs, as `portico routes` prints it.
    pub(crate) fn explain(&self) -> String {
        let integration = match &self.target {
            Target::HttpProxy(_) => "HTTP_PROXY".to_string(),
            Target::Lambda(l) if l.v2 => "AWS_PROXY (Lambda, payload 2.0)".into(),
            Target::Lambda(_) => "AWS_PROXY (Lambda, payload 1.0)".into(),
            Target::Unavailable(why) => format!("unavailable (500): {why}"),
        };
        match self.auth.describe() {
            Some(a) => format!(
                "{} → {a} → integration {integration}",
                self.throttle.describe()
            ),
            None => format!("{} → integration {integration}", self.throttle.describe()),
        }
    }
}

impl CompiledHttpStage {
    /// Forgets every cached Lambda authorizer result of the stage (`ResetAuthorizersCache`).
    pub fn flush_authorizer_caches(&self) {
        for c in &self.authorizer_caches {
            c.flush();
        }
    }

    /// Every route with what it runs, for `portico routes`.
    pub fn explain(&self) -> String {
        let mut out = self.router.explain_with(|r| r.explain());
        if let Some(d) = &self.default_route {
            out.push_str(&format!("$default → {}\n", d.explain()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_targets() {
        let (n, q, _) =
            lambda_function("arn:aws:lambda:us-east-1:000000000000:function:hello").unwrap();
        assert_eq!((n.as_str(), q), ("hello", None));
        let (n, q, _) =
            lambda_function("arn:aws:lambda:us-east-1:000000000000:function:hello:live").unwrap();
        assert_eq!((n.as_str(), q.as_deref()), ("hello", Some("live")));
        let (n, _, _) = lambda_function(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:f/invocations",
        )
        .unwrap();
        assert_eq!(n, "f");
        assert!(lambda_function("http://x").is_err());
    }
}
