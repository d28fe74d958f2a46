//! Deploy-time compilation: a stage plus its deployment snapshot becomes a [`CompiledStage`] —
//! route trie, URI templates with stage variables substituted, selection regexes, metric handles
//! and the access-log format. Requests only read what is built here.

use crate::access_log::AccessLogFormat;
pub use crate::compiled::{CompileWarning, SharedStr};
use crate::gateway_response::GatewayResponses;
pub use crate::lambda_target::LambdaProxyIntegration;
use crate::mapping::{IntegrationResponses, RequestTemplates};
use crate::metrics::{Labels, Registry, RouteMetrics};
use crate::params::{Side, Source};
use crate::upstream::Upstreams;
use crate::uri::{UriTemplate, substitute_stage_variables};
use http::{HeaderValue, Method};
use portico_model::{DeploymentSnapshot, Integration, IntegrationType, Resource, Stage};
use portico_router::{Router, RouterBuilder};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// One stage to serve, as the store hands it over.
#[derive(Debug, Clone)]
pub struct StageInput {
    /// The API id.
    pub api_id: String,
    /// The stage (variables, settings, deployment id).
    pub stage: Stage,
    /// What the stage's deployment froze.
    pub snapshot: DeploymentSnapshot,
    /// What the stage's canary deployment (`canarySettings.deploymentId`) froze, when the stage
    /// has a canary; without it the stage serves no canary.
    pub canary_snapshot: Option<DeploymentSnapshot>,
}

/// A stage's canary release: the share of requests it takes and what serves them.
#[derive(Debug)]
pub struct Canary {
    /// `percentTraffic` (0.0–100.0).
    pub percent_traffic: f64,
    /// The canary deployment compiled for the stage: stage variables overridden by
    /// `stageVariableOverrides`, metrics under stage `{stage}/Canary`.
    pub stage: Arc<CompiledStage>,
}

impl Canary {
    /// Whether this request goes to the canary: true with probability `percentTraffic` / 100.
    pub fn picks(&self) -> bool {
        self.percent_traffic > 0.0 && fastrand::f64() * 100.0 < self.percent_traffic
    }
}

impl Route {
    /// What the route runs, in order, as `portico routes` prints it: the method request steps,
    /// then the integration.
    pub fn explain(&self) -> String {
        let integration = match &self.integration {
            CompiledIntegration::Mock(_) => "MOCK",
            CompiledIntegration::HttpProxy(_) => "HTTP_PROXY",
            CompiledIntegration::Http(h) if h.aws.is_some() => "AWS (service)",
            CompiledIntegration::Http(_) => "HTTP",
            CompiledIntegration::LambdaProxy(_) => "AWS_PROXY (Lambda)",
            CompiledIntegration::LambdaCustom(_) => "AWS (Lambda)",
            CompiledIntegration::Unavailable(_) => "unavailable (500)",
        };
        let steps = crate::steps::describe(&self.method_request);
        if steps.is_empty() {
            format!("integration {integration}")
        } else {
            format!("{steps} → integration {integration}")
        }
    }
}

/// A compiled method on a resource. Kept small: a gateway holds one per method of every served
/// stage (`route_size` pins its size).
#[derive(Debug)]
pub struct Route {
    /// `$context.resourceId`.
    pub resource_id: SharedStr,
    /// `$context.resourcePath`.
    pub resource_path: SharedStr,
    /// The method as declared (`GET`, `ANY`, …).
    pub declared_method: SharedStr,
    /// What runs.
    pub integration: CompiledIntegration,
    /// The method request phase's steps, in order (see `pipeline::method_request`).
    pub method_request: Box<[crate::steps::Step]>,
    /// Metrics for this (api, stage, resource, method).
    pub metrics: Arc<RouteMetrics>,
}

impl Route {
    /// The integration sends path parameters into an HTTP backend's path (an encoded `/` or `\`
    /// in the request path is then refused). Asked only of requests that hold one.
    pub fn forwards_path(&self) -> bool {
        matches!(
            self.integration,
            CompiledIntegration::HttpProxy(_) | CompiledIntegration::Http(_)
        ) && self.resource_path.as_str().contains('{')
    }
}

/// A compiled integration.
#[derive(Debug)]
pub enum CompiledIntegration {
    /// `MOCK` (shared by the stage's methods whose integrations are equal).
    Mock(Arc<MockIntegration>),
    /// `HTTP_PROXY`.
    HttpProxy(HttpProxyIntegration),
    /// `HTTP` (non-proxy): mapped parameters, request/response templates, integration responses
    /// (boxed: the largest variant, and the rarest).
    Http(Box<HttpIntegration>),
    /// `AWS_PROXY` to a Lambda function.
    LambdaProxy(LambdaProxyIntegration),
    /// `AWS` (non-proxy) to a Lambda function: templates and integration responses.
    LambdaCustom(Box<LambdaCustomIntegration>),
    /// Cannot run: answers 500 with this reason in the log.
    Unavailable(String),
}

impl CompiledStage {
    /// Forgets every cached Lambda authorizer result of the stage and its canary.
    pub fn flush_authorizer_caches(&self) {
        for c in &self.authorizer_caches {
            c.flush();
        }
        if let Some(c) = &self.canary {
            c.stage.flush_authorizer_caches();
        }
    }
}

/// A `MOCK` integration.
#[derive(Debug)]
pub struct MockIntegration {
    /// Request templates (their `statusCode` picks the integration response).
    pub request_templates: RequestTemplates,
    /// Integration responses.
    pub responses: IntegrationResponses,
}

/// An `AWS` integration to a Lambda function: the request template builds the payload, the
/// function's result (or error, selected by `errorMessage`) goes through integration responses.
#[derive(Debug)]
pub struct LambdaCustomIntegration {
    /// The function and timeout.
    pub target: LambdaProxyIntegration,
    /// Request templates and the passthrough rule.
    pub request_templates: RequestTemplates,
    /// Integration responses.
    pub responses: IntegrationResponses,
}

/// An `HTTP_PROXY` integration.
#[derive(Debug)]
pub struct HttpProxyIntegration {
    /// Fixed backend method; `None` = the client's method (`ANY`).
    pub method: Option<Method>,
    /// The backend URI.
    pub uri: UriTemplate,
    /// Connections to the backend.
    pub pool: Arc<crate::upstream::UpstreamPool>,
    /// `timeoutInMillis`.
    pub timeout: Duration,
}

/// An `HTTP` (non-proxy) integration.
#[derive(Debug)]
pub struct HttpIntegration {
    /// Where and how to call the backend.
    pub target: HttpProxyIntegration,
    /// `integration.request.header.X` mappings.
    pub headers: Vec<(http::HeaderName, Source)>,
    /// `integration.request.querystring.X` mappings.
    pub query: Vec<(String, Source)>,
    /// Whether a mapping reads the client's body (`method.request.body…`).
    pub reads_body: bool,
    /// `contentHandling` of the integration request.
    pub content_handling: Option<crate::binary::ContentHandling>,
    /// Request templates and the passthrough rule.
    pub request_templates: RequestTemplates,
    /// Integration responses selected by the backend status.
    pub responses: IntegrationResponses,
    /// Header names as the mappings spell them (and the standard ones Portico sets), for the
    /// request to the backend (HTTP/1.1).
    pub spelled_names: Vec<String>,
    /// hyper's header-case map for `spelled_names`, built on the first request.
    pub spelling: tokio::sync::OnceCell<Option<http::Extensions>>,
    /// An `AWS` service integration: the service's protocol headers and the signature.
    pub aws: Option<Box<crate::aws_services::ServiceTarget>>,
}

/// A stage ready to serve.
#[derive(Debug)]
pub struct CompiledStage {
    /// API id.
    pub api_id: String,
    /// API name.
    pub api_name: String,
    /// Stage name.
    pub stage_name: String,
    /// Deployment served.
    pub deployment_id: String,
    /// Route table.
    pub router: Router<Route>,
    /// Gateway responses of the API.
    pub responses: GatewayResponses,
    /// Access-log format (the stage's, or Portico's JSON default).
    pub access_log: AccessLogFormat,
    /// Metrics for requests that matched no route.
    pub unmatched_metrics: Arc<RouteMetrics>,
    /// `x-amzn-apigateway-api-id` towards backends.
    pub api_id_header: HeaderValue,
    /// `User-Agent` sent to backends when the client sent none (`AmazonAPIGateway_{apiId}`).
    pub default_user_agent: HeaderValue,
    /// Whether the execute-api endpoint is disabled.
    pub execute_api_disabled: bool,
    /// The stage variables (for mapping sources and gateway responses).
    pub stage_variables: portico_model::Map<String>,
    /// `$stageVariables` for mapping templates, built once here.
    pub template_stage_variables: Arc<portico_vtl::Value>,
    /// The API's `binaryMediaTypes`.
    pub binary_types: crate::binary::BinaryTypes,
    /// `$context.isCanaryRequest`: present only on a stage with a canary (as on AWS), true on the
    /// canary's compiled stage.
    pub is_canary_request: Option<bool>,
    /// The stage's canary, if it has one.
    pub canary: Option<Canary>,
    /// The result caches of the stage's Lambda authorizers (`FlushStageAuthorizersCache`).
    pub authorizer_caches: Vec<Arc<crate::steps::authorizer::AuthorizerCache>>,
}

/// Every API and stage being served: what one `ArcSwap` load returns.
#[derive(Debug, Default)]
pub struct ServingSnapshot {
    apis: HashMap<String, ServedApi>,
}

/// One served API with its stages, by API type: each type has its own stage shape, addressing
/// rule and request phases (`pipeline` for REST).
#[derive(Debug)]
pub enum ServedApi {
    /// A REST API (v1): the first path segment names the stage.
    Rest(HashMap<String, Arc<CompiledStage>>),
    /// An HTTP API (v2): `$default` serves at the root, named stages under `/{stage}`.
    Http(HashMap<String, Arc<crate::http_api::CompiledHttpStage>>),
    /// A WebSocket API (v2): `/{stage}` upgrades, `/{stage}/@connections/{id}` manages.
    WebSocket(HashMap<String, Arc<crate::websocket::CompiledWsStage>>),
}

impl ServingSnapshot {
    /// The served API, of whatever type.
    pub fn api(&self, api_id: &str) -> Option<&ServedApi> {
        self.apis.get(api_id)
    }

    /// The compiled REST stage, if served.
    pub fn stage(&self, api_id: &str, stage: &str) -> Option<&Arc<CompiledStage>> {
        match self.apis.get(api_id)? {
            ServedApi::Rest(stages) => stages.get(stage),
            ServedApi::Http(_) | ServedApi::WebSocket(_) => None,
        }
    }

    /// Whether the API is known at all.
    pub fn has_api(&self, api_id: &str) -> bool {
        self.apis.contains_key(api_id)
    }

    /// Every served REST stage.
    pub fn stages(&self) -> impl Iterator<Item = &Arc<CompiledStage>> {
        self.apis.values().flat_map(|a| {
            match a {
                ServedApi::Rest(stages) => Some(stages.values()),
                ServedApi::Http(_) | ServedApi::WebSocket(_) => None,
            }
            .into_iter()
            .flatten()
        })
    }

    /// Every served HTTP API stage.
    pub fn http_stages(&self) -> impl Iterator<Item = &Arc<crate::http_api::CompiledHttpStage>> {
        self.apis.values().flat_map(|a| {
            match a {
                ServedApi::Http(stages) => Some(stages.values()),
                ServedApi::Rest(_) | ServedApi::WebSocket(_) => None,
            }
            .into_iter()
            .flatten()
        })
    }

    /// Every served WebSocket API stage.
    pub fn websocket_stages(
        &self,
    ) -> impl Iterator<Item = &Arc<crate::websocket::CompiledWsStage>> {
        self.apis.values().flat_map(|a| {
            match a {
                ServedApi::WebSocket(stages) => Some(stages.values()),
                ServedApi::Rest(_) | ServedApi::Http(_) => None,
            }
            .into_iter()
            .flatten()
        })
    }
}

/// Compiles every stage. A broken method never breaks its stage: it answers 500 and is reported.
pub fn compile(
    inputs: &[StageInput],
    metrics: &Registry,
    upstreams: &Upstreams,
) -> (ServingSnapshot, Vec<CompileWarning>) {
    let mut builder = SnapshotBuilder::new(metrics, upstreams);
    for input in inputs {
        builder.add(input);
    }
    builder.finish()
}

/// Builds a [`ServingSnapshot`] one stage at a time, so that a caller can read each stage's input
/// just before it is compiled and drop it right after: what a deployment froze takes several times
/// the memory of its compiled stage, and holding every stage's at once would set the gateway's
/// resident size long after the inputs are freed.
#[derive(Debug)]
pub struct SnapshotBuilder<'a> {
    snapshot: ServingSnapshot,
    warnings: Vec<CompileWarning>,
    metrics: &'a Registry,
    upstreams: &'a Upstreams,
    /// Runtime state for the traffic steps; without it (`TestInvokeMethod`) routes run no
    /// throttle, API key or cache step.
    state: Option<&'a portico_state::SharedState>,
    /// Token issuers' key sets for `COGNITO_USER_POOLS` authorizers (none: such methods refuse).
    jwks: Option<&'a crate::jwt::JwksRegistry>,
}

impl<'a> SnapshotBuilder<'a> {
    /// Routes get their throttle, API key and cache steps, on `state`.
    pub fn with_state(mut self, state: &'a portico_state::SharedState) -> Self {
        self.state = Some(state);
        self
    }

    /// `COGNITO_USER_POOLS` authorizers get their issuers' key sets from `jwks`.
    pub fn with_jwks(mut self, jwks: &'a crate::jwt::JwksRegistry) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// An empty snapshot whose routes record into `metrics` and call backends through `upstreams`.
    pub fn new(metrics: &'a Registry, upstreams: &'a Upstreams) -> Self {
        Self {
            snapshot: ServingSnapshot::default(),
            warnings: Vec::new(),
            metrics,
            upstreams,
            state: None,
            jwks: None,
        }
    }

    /// Compiles one stage into the snapshot.
    pub fn add(&mut self, input: &StageInput) {
        let canary = input
            .stage
            .canary_settings
            .as_ref()
            .zip(input.canary_snapshot.as_ref());
        let main = Variant {
            canary: canary.map(|_| false),
            use_stage_cache: true,
        };
        let mut stage = compile_stage(
            &input.api_id,
            &input.stage,
            &input.snapshot,
            main,
            self.metrics,
            self.upstreams,
            self.state,
            self.jwks,
            &mut self.warnings,
        );
        if let Some((settings, snapshot)) = canary {
            let mut canary_stage = input.stage.clone();
            if let Some(id) = &settings.deployment_id {
                canary_stage.deployment_id = id.clone();
            }
            canary_stage.variables.extend(
                settings
                    .stage_variable_overrides
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            let compiled = compile_stage(
                &input.api_id,
                &canary_stage,
                snapshot,
                Variant {
                    canary: Some(true),
                    use_stage_cache: settings.use_stage_cache,
                },
                self.metrics,
                self.upstreams,
                self.state,
                self.jwks,
                &mut self.warnings,
            );
            stage.canary = Some(Canary {
                percent_traffic: settings.percent_traffic,
                stage: Arc::new(compiled),
            });
        }
        let api = self
            .snapshot
            .apis
            .entry(input.api_id.clone())
            .or_insert_with(|| ServedApi::Rest(HashMap::new()));
        match api {
            ServedApi::Rest(stages) => {
                stages.insert(input.stage.stage_name.clone(), Arc::new(stage));
            }
            ServedApi::Http(_) | ServedApi::WebSocket(_) => self.warnings.push(CompileWarning {
                location: input.api_id.clone(),
                message: "a REST API and a v2 API share this id: the REST stage is not served"
                    .into(),
            }),
        }
    }

    /// Compiles one v2 stage (an HTTP API's or a WebSocket API's) into the snapshot.
    pub fn add_http(&mut self, input: &crate::http_api::HttpStageInput) {
        let websocket = input
            .snapshot
            .api
            .as_ref()
            .is_some_and(|a| a.protocol_type == portico_model::http::ProtocolType::Websocket);
        if websocket {
            self.add_websocket(input);
            return;
        }
        let stage = crate::http_api::compile_stage(
            input,
            self.metrics,
            self.upstreams,
            self.jwks,
            &mut self.warnings,
        );
        let api = self
            .snapshot
            .apis
            .entry(input.api_id.clone())
            .or_insert_with(|| ServedApi::Http(HashMap::new()));
        match api {
            ServedApi::Http(stages) => {
                stages.insert(input.stage.stage_name.clone(), Arc::new(stage));
            }
            ServedApi::Rest(_) | ServedApi::WebSocket(_) => self.warnings.push(CompileWarning {
                location: input.api_id.clone(),
                message: "another API shares this HTTP API's id: the stage is not served".into(),
            }),
        }
    }

    /// Compiles one WebSocket API stage into the snapshot.
    fn add_websocket(&mut self, input: &crate::websocket::WsStageInput) {
        let stage = crate::websocket::compile_stage(
            input,
            self.metrics,
            self.upstreams,
            &mut self.warnings,
        );
        let api = self
            .snapshot
            .apis
            .entry(input.api_id.clone())
            .or_insert_with(|| ServedApi::WebSocket(HashMap::new()));
        match api {
            ServedApi::WebSocket(stages) => {
                stages.insert(input.stage.stage_name.clone(), Arc::new(stage));
            }
            ServedApi::Rest(_) | ServedApi::Http(_) => self.warnings.push(CompileWarning {
                location: input.api_id.clone(),
                message: "another API shares this WebSocket API's id: the stage is not served"
                    .into(),
            }),
        }
    }

    /// The snapshot and what compiling it reported.
    pub fn finish(self) -> (ServingSnapshot, Vec<CompileWarning>) {
        (self.snapshot, self.warnings)
    }
}

/// How many distinct MOCK integrations a stage compile remembers for sharing.
const MAX_SHARED_MOCKS: usize = 32;

/// Whether two integrations compile to the same MOCK integration: equal but for the cache
/// settings, which API Gateway fills per resource (`cacheNamespace` is the resource id) and a MOCK
/// does not use. Every field is named, so that a new one is decided on here.
fn same_mock(a: &Integration, b: &Integration) -> bool {
    let Integration {
        kind,
        http_method,
        uri,
        connection_type,
        connection_id,
        credentials,
        request_parameters,
        request_templates,
        passthrough_behavior,
        content_handling,
        timeout_in_millis,
        cache_namespace: _,
        cache_key_parameters: _,
        integration_responses,
        tls_config,
    } = a;
    *kind == IntegrationType::Mock
        && *kind == b.kind
        && *http_method == b.http_method
        && *uri == b.uri
        && *connection_type == b.connection_type
        && *connection_id == b.connection_id
        && *credentials == b.credentials
        && *request_parameters == b.request_parameters
        && *request_templates == b.request_templates
        && *passthrough_behavior == b.passthrough_behavior
        && *content_handling == b.content_handling
        && *timeout_in_millis == b.timeout_in_millis
        && *integration_responses == b.integration_responses
        && *tls_config == b.tls_config
}

/// Which side of a stage is compiled.
#[derive(Debug, Clone, Copy)]
struct Variant {
    /// `None`: a stage without a canary; `Some(true)`: the canary; `Some(false)`: the stage's
    /// base deployment beside one.
    canary: Option<bool>,
    /// Whether the routes use the stage cache (a canary without `useStageCache` does not, and
    /// leaves it be).
    use_stage_cache: bool,
}

#[allow(clippy::too_many_arguments)]
fn compile_stage(
    api_id: &str,
    stage: &Stage,
    snapshot: &DeploymentSnapshot,
    variant: Variant,
    metrics: &Registry,
    upstreams: &Upstreams,
    state: Option<&portico_state::SharedState>,
    jwks: Option<&crate::jwt::JwksRegistry>,
    warnings: &mut Vec<CompileWarning>,
) -> CompiledStage {
    let api = &snapshot.api;
    // The resource policy, parsed once for the stage (`None`: the API has none).
    let policy = api
        .policy
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            crate::steps::resource_policy::ResourcePolicy::compile(
                p,
                "us-east-1",
                crate::account::ACCOUNT_ID,
                api_id,
                &stage.stage_name,
                crate::steps::resource_policy::Mode::RequireAllow,
            )
        });
    let is_canary = variant.canary == Some(true);
    // The stage's cache: kept across redeploys of the stage, dropped when it is turned off.
    let cache = state.and_then(|st| {
        if !variant.use_stage_cache {
            None
        } else if stage.cache_cluster_enabled {
            let size = stage
                .cache_cluster_size
                .as_deref()
                .and_then(|s| s.parse().ok())
                .unwrap_or(portico_state::cache::CacheClusterSize::Gb0_5);
            Some(st.caches.stage(api_id, &stage.stage_name, size))
        } else {
            st.caches.remove(api_id, &stage.stage_name);
            None
        }
    });
    let stage_loc = if is_canary {
        format!("{api_id}/{}/Canary", stage.stage_name)
    } else {
        format!("{api_id}/{}", stage.stage_name)
    };
    // Label values the stage's routes share. Throttling is the stage's, canary or not; the
    // canary's metrics are its own, under `{stage}/Canary` (as CloudWatch reports a canary).
    let (api_label, name_label, stage_label): (Arc<str>, Arc<str>, Arc<str>) = (
        api_id.into(),
        api.name.as_str().into(),
        stage.stage_name.as_str().into(),
    );
    let metrics_stage_label: Arc<str> = if is_canary {
        format!("{}/Canary", stage.stage_name).into()
    } else {
        stage_label.clone()
    };
    let mut method_labels: HashMap<&str, Arc<str>> = HashMap::new();
    // MOCK integrations compiled without a warning, for the methods with an equal one: CORS
    // preflights and other canned answers repeat across a stage.
    let mut mocks: Vec<(&Integration, Arc<MockIntegration>)> = Vec::new();
    let mut authorizer_caches: HashMap<String, Arc<crate::steps::authorizer::AuthorizerCache>> =
        HashMap::new();
    let labels = |resource: Arc<str>, method: Arc<str>| Labels {
        api: api_label.clone(),
        api_name: name_label.clone(),
        stage: metrics_stage_label.clone(),
        resource,
        method,
    };
    let mut builder = RouterBuilder::new();
    let mut models = crate::validation::ModelSet::new(&snapshot.models);
    for resource in &snapshot.resources {
        let resource_label: Arc<str> = resource.path.as_str().into();
        let resource_id = SharedStr(resource.id.as_str().into());
        for (verb, method) in &resource.resource_methods {
            let method_label = method_labels
                .entry(verb)
                .or_insert_with(|| verb.as_str().into())
                .clone();
            let location = format!("{stage_loc} {verb} {}", resource.path);
            let mut warn = |message: String| {
                warnings.push(CompileWarning {
                    location: location.clone(),
                    message,
                })
            };
            let integration = match &method.method_integration {
                Some(i) => match mocks.iter().find(|(m, _)| same_mock(m, i)) {
                    Some((_, shared)) => CompiledIntegration::Mock(shared.clone()),
                    None => {
                        let mut warned = false;
                        let compiled =
                            compile_integration(i, resource, stage, upstreams, &mut |m| {
                                warned = true;
                                warn(m)
                            });
                        if let CompiledIntegration::Mock(c) = &compiled
                            && !warned
                            && mocks.len() < MAX_SHARED_MOCKS
                        {
                            mocks.push((i, c.clone()));
                        }
                        compiled
                    }
                },
                None => {
                    warn("no integration defined for method; requests answer 500".into());
                    CompiledIntegration::Unavailable("No integration defined for method".into())
                }
            };
            let validation = crate::validation::RequestValidation::compile(
                method,
                &snapshot.request_validators,
                &resource.path,
                &mut models,
                &mut warn,
            );
            // TestInvokeMethod (no runtime state) skips authorization, as on AWS.
            let authorization = match state {
                None => Vec::new(),
                Some(_) => with_resource_policy(
                    compile_authorization(
                        method,
                        &snapshot.authorizers,
                        api_id,
                        stage,
                        &mut authorizer_caches,
                        jwks,
                        &mut warn,
                    ),
                    policy.as_ref(),
                    &mut warn,
                ),
            };
            let traffic = state.map(|_| crate::steps::TrafficSteps {
                throttle: crate::steps::Throttle::compile(
                    api_label.clone(),
                    stage_label.clone(),
                    &resource.path,
                    verb,
                    &stage.method_settings,
                ),
                key: method.api_key_required.then_some(match api.api_key_source {
                    portico_model::ApiKeySource::Header => crate::steps::KeySource::Header,
                    portico_model::ApiKeySource::Authorizer => crate::steps::KeySource::Authorizer,
                }),
                cache: cache.as_ref().and_then(|c| {
                    crate::steps::CacheLookup::compile(
                        c,
                        stage,
                        resource,
                        verb,
                        method.method_integration.as_ref(),
                    )
                }),
            });
            let http_backend = matches!(
                integration,
                CompiledIntegration::HttpProxy(_) | CompiledIntegration::Http(_)
            );
            let method_request =
                crate::steps::steps_for(http_backend, authorization, validation, traffic);
            let route = Route {
                resource_id: resource_id.clone(),
                resource_path: SharedStr(resource_label.clone()),
                declared_method: SharedStr(method_label.clone()),
                integration,
                method_request,
                metrics: metrics.route(labels(resource_label.clone(), method_label)),
            };
            if let Err(e) = builder.add(&resource.path, verb, route) {
                warn(format!("route not served: {e}"));
            }
        }
    }
    let access_log = match stage
        .access_log_settings
        .as_ref()
        .and_then(|s| s.format.as_deref())
        .filter(|f| !f.trim().is_empty())
    {
        Some(f) => AccessLogFormat::parse(f),
        None => AccessLogFormat::default(),
    };
    CompiledStage {
        api_id: api_id.to_owned(),
        api_name: api.name.clone(),
        stage_name: stage.stage_name.clone(),
        deployment_id: stage.deployment_id.clone(),
        router: builder.build(),
        responses: GatewayResponses::compile(&snapshot.gateway_responses, |message| {
            warnings.push(CompileWarning {
                location: stage_loc.clone(),
                message,
            })
        }),
        access_log,
        unmatched_metrics: metrics.route(labels("".into(), "".into())),
        api_id_header: HeaderValue::from_str(api_id).unwrap_or(HeaderValue::from_static("unknown")),
        default_user_agent: HeaderValue::from_str(&format!("AmazonAPIGateway_{api_id}"))
            .unwrap_or(HeaderValue::from_static("AmazonAPIGateway")),
        execute_api_disabled: api.disable_execute_api_endpoint,
        stage_variables: stage.variables.clone(),
        template_stage_variables: crate::templating::stage_variables(&stage.variables),
        binary_types: crate::binary::BinaryTypes::new(&api.binary_media_types),
        is_canary_request: variant.canary,
        canary: None,
        authorizer_caches: authorizer_caches.into_values().collect(),
    }
}

fn compile_integration(
    i: &Integration,
    resource: &Resource,
    stage: &Stage,
    upstreams: &Upstreams,
    warn: &mut impl FnMut(String),
) -> CompiledIntegration {
    let aws_service = i.kind == IntegrationType::Aws && !is_lambda_uri(i);
    if (matches!(i.kind, IntegrationType::Http | IntegrationType::HttpProxy) || aws_service)
        && let Some(dest) = i.request_parameters.keys().find(|d| {
            d.strip_prefix("integration.request.header.")
                .is_some_and(|h| {
                    crate::headers::refused_in_request(h)
                        || (aws_service && crate::headers::refused_in_aws_request(h))
                })
        })
    {
        // AWS accepts the mapping and fails every request with a 500.
        let reason = format!("request parameter {dest} maps a header API Gateway refuses to set");
        warn(format!("{reason}; requests answer 500"));
        return CompiledIntegration::Unavailable(reason);
    }
    match i.kind {
        IntegrationType::Mock => {
            let responses = match IntegrationResponses::compile(i, &stage.variables, &mut *warn) {
                Ok(r) => r,
                Err(e) => {
                    warn(format!("{e}; requests answer 500"));
                    return CompiledIntegration::Unavailable(e);
                }
            };
            CompiledIntegration::Mock(Arc::new(MockIntegration {
                request_templates: RequestTemplates::compile(i, &mut *warn),
                responses,
            }))
        }
        IntegrationType::HttpProxy => match compile_http_proxy(i, resource, stage, upstreams) {
            Ok(p) => CompiledIntegration::HttpProxy(p),
            Err(e) => {
                warn(format!("{e}; requests answer 500"));
                CompiledIntegration::Unavailable(e)
            }
        },
        IntegrationType::Http => match compile_http_proxy(i, resource, stage, upstreams) {
            Ok(target) => compile_http_custom(i, target, None, stage, warn),
            Err(e) => {
                warn(format!("{e}; requests answer 500"));
                CompiledIntegration::Unavailable(e)
            }
        },
        IntegrationType::AwsProxy => match lambda_target(i, stage) {
            Ok(t) => CompiledIntegration::LambdaProxy(t),
            Err(e) => {
                warn(format!("{e}; requests answer 500"));
                CompiledIntegration::Unavailable(e)
            }
        },
        IntegrationType::Aws if is_lambda_uri(i) => {
            let target = match lambda_target(i, stage) {
                Ok(t) => t,
                Err(e) => {
                    warn(format!("{e}; requests answer 500"));
                    return CompiledIntegration::Unavailable(e);
                }
            };
            let responses = match IntegrationResponses::compile(i, &stage.variables, &mut *warn) {
                Ok(r) => r,
                Err(e) => {
                    warn(format!("{e}; requests answer 500"));
                    return CompiledIntegration::Unavailable(e);
                }
            };
            CompiledIntegration::LambdaCustom(Box::new(LambdaCustomIntegration {
                target,
                request_templates: RequestTemplates::compile(i, &mut *warn),
                responses,
            }))
        }
        IntegrationType::Aws => match compile_aws_service(i, resource, stage, upstreams) {
            Ok((target, aws)) => compile_http_custom(i, target, Some(Box::new(aws)), stage, warn),
            Err(e) => {
                warn(format!("{e}; requests answer 500"));
                CompiledIntegration::Unavailable(e)
            }
        },
    }
}

/// The authorization step with the API's resource policy where AWS evaluates it: alone, before a
/// Lambda authorizer, after a token check (`steps::resource_policy`). A policy that cannot be
/// evaluated refuses every request (500) rather than let them through.
fn with_resource_policy(
    authorization: Option<crate::steps::Step>,
    policy: Option<&Result<crate::steps::resource_policy::ResourcePolicy, String>>,
    warn: &mut impl FnMut(String),
) -> Vec<crate::steps::Step> {
    use crate::steps::Step;
    use crate::steps::resource_policy::Mode;
    let Some(policy) = policy else {
        return authorization.into_iter().collect();
    };
    let policy = match policy {
        Ok(p) => p,
        Err(e) => {
            warn(format!("{e}; requests answer 500"));
            return vec![Step::Unenforced(e.as_str().into())];
        }
    };
    let step = |mode| Step::ResourcePolicy(Box::new(policy.with_mode(mode)));
    match authorization {
        None => vec![step(Mode::RequireAllow)],
        Some(a @ Step::Authorize(_)) => vec![step(Mode::BeforeAuthorizer), a],
        Some(a @ Step::Cognito(_)) => vec![a, step(Mode::RequireAllow)],
        Some(Step::Iam(mut i)) => {
            i.policy_follows = true;
            vec![Step::Iam(i), step(Mode::AfterIam)]
        }
        // AWS_IAM and what is not enforced: refused before the policy matters.
        Some(other) => vec![other],
    }
}

/// The method's authorization step: a Lambda authorizer for `CUSTOM` (TOKEN/REQUEST), a token
/// check for `COGNITO_USER_POOLS`; a step
/// that refuses every request (500) for an authorization this version does not enforce, so a
/// protected method never runs unprotected.
fn compile_authorization(
    method: &portico_model::Method,
    authorizers: &[portico_model::Authorizer],
    api_id: &str,
    stage: &Stage,
    caches: &mut HashMap<String, Arc<crate::steps::authorizer::AuthorizerCache>>,
    jwks: Option<&crate::jwt::JwksRegistry>,
    warn: &mut impl FnMut(String),
) -> Option<crate::steps::Step> {
    use crate::steps::Step;
    let unenforced = |reason: String, warn: &mut dyn FnMut(String)| {
        warn(format!("{reason}; requests answer 500"));
        Some(Step::Unenforced(reason.into()))
    };
    match method.authorization_type.as_str() {
        "NONE" | "" => None,
        "CUSTOM" | "COGNITO_USER_POOLS" => {
            let Some(a) = method
                .authorizer_id
                .as_deref()
                .and_then(|id| authorizers.iter().find(|a| a.id == id))
            else {
                return unenforced("the method's authorizer does not exist".into(), warn);
            };
            if a.kind == "COGNITO_USER_POOLS" {
                let Some(jwks) = jwks else {
                    return unenforced(format!("authorizer {}: no token issuers", a.id), warn);
                };
                return match crate::steps::cognito::CognitoAuthorizer::compile(a, method, jwks) {
                    Ok(c) => Some(Step::Cognito(Box::new(c))),
                    Err(e) => unenforced(format!("authorizer {}: {e}", a.id), warn),
                };
            }
            let cache = caches.entry(a.id.clone()).or_default().clone();
            match crate::steps::authorizer::LambdaAuthorizer::compile(
                a,
                api_id,
                &stage.stage_name,
                &stage.variables,
                crate::account::ACCOUNT_ID,
                cache,
            ) {
                Ok(l) => Some(Step::Authorize(Box::new(l))),
                Err(e) => unenforced(format!("authorizer {}: {e}", a.id), warn),
            }
        }
        "AWS_IAM" => {
            let prefix = format!(
                "arn:aws:execute-api:us-east-1:{}:{api_id}/{}/",
                crate::account::ACCOUNT_ID,
                stage.stage_name
            );
            let acct = crate::account::ACCOUNT_ID;
            Some(Step::Iam(Box::new(crate::iam::IamStep {
                masked_prefix: format!(
                    "arn:aws:execute-api:us-east-1:********{}:{api_id}/{}/",
                    &acct[acct.len().saturating_sub(4)..],
                    stage.stage_name
                )
                .into(),
                method_arn_prefix: prefix.into(),
                policy_follows: false,
            })))
        }
        other => unenforced(
            format!("authorization type {other} is not enforced by this Portico version"),
            warn,
        ),
    }
}

/// An `HTTP` (non-proxy) integration to `target`, or an `AWS` service integration (`aws`):
/// mapped parameters, request templates and integration responses.
fn compile_http_custom(
    i: &Integration,
    target: HttpProxyIntegration,
    aws: Option<Box<crate::aws_services::ServiceTarget>>,
    stage: &Stage,
    warn: &mut impl FnMut(String),
) -> CompiledIntegration {
    let responses = match IntegrationResponses::compile(i, &stage.variables, &mut *warn) {
        Ok(r) => r,
        Err(e) => {
            warn(format!("{e}; requests answer 500"));
            return CompiledIntegration::Unavailable(e);
        }
    };
    let mut headers = Vec::new();
    let mut query = Vec::new();
    let mut spelled_names: Vec<String> = ["Content-Type", "User-Agent", "Accept", "Host"]
        .map(String::from)
        .to_vec();
    for (dest, src) in &i.request_parameters {
        if dest.starts_with("integration.request.path.") {
            // Path parameters are bound into the URI template at deploy time.
            continue;
        }
        let source = match Source::parse(src, &stage.variables, Side::Request) {
            Ok(s) => s,
            Err(e) => {
                warn(format!("request parameter {dest}: {e}; not mapped"));
                continue;
            }
        };
        if let Some(h) = dest.strip_prefix("integration.request.header.") {
            match http::HeaderName::from_bytes(h.as_bytes()) {
                // Dropped by API Gateway before the backend is called.
                Ok(n) if crate::headers::dropped_from_request(&n) => {}
                Ok(n) => {
                    spelled_names.retain(|s| !s.eq_ignore_ascii_case(h));
                    spelled_names.push(h.to_owned());
                    headers.push((n, source));
                }
                Err(_) => warn(format!("request parameter {dest}: invalid header name")),
            }
        } else if let Some(q) = dest.strip_prefix("integration.request.querystring.") {
            query.push((q.to_owned(), source));
        } else {
            warn(format!("request parameter {dest}: unsupported destination"));
        }
    }
    let reads_body = headers
        .iter()
        .map(|(_, s)| s)
        .chain(query.iter().map(|(_, s)| s))
        .any(Source::reads_request_body);
    CompiledIntegration::Http(Box::new(HttpIntegration {
        target,
        headers,
        query,
        reads_body,
        content_handling: crate::binary::ContentHandling::parse(i.content_handling.as_deref()),
        request_templates: RequestTemplates::compile(i, &mut *warn),
        responses,
        spelled_names,
        spelling: tokio::sync::OnceCell::new(),
        aws,
    }))
}

/// Whether an integration's URI invokes a Lambda function.
fn is_lambda_uri(i: &Integration) -> bool {
    i.uri
        .as_deref()
        .is_some_and(|u| u.contains(":lambda:path/2015-03-31/functions/"))
}

/// The function an `AWS_PROXY` or Lambda `AWS` integration invokes.
fn lambda_target(i: &Integration, stage: &Stage) -> Result<LambdaProxyIntegration, String> {
    let raw = i.uri.as_deref().unwrap_or("");
    let uri = substitute_stage_variables(raw, &stage.variables);
    let (function, qualifier, arn) = crate::uri::lambda_invocation(&uri)?;
    Ok(LambdaProxyIntegration {
        function: function.into(),
        qualifier: qualifier.map(Into::into),
        arn: arn.into(),
        timeout: Duration::from_millis(
            u64::try_from(i.timeout_in_millis.clamp(50, 29_000)).unwrap_or(29_000),
        ),
    })
}

fn compile_http_proxy(
    i: &Integration,
    resource: &Resource,
    stage: &Stage,
    upstreams: &Upstreams,
) -> Result<HttpProxyIntegration, String> {
    let raw = i
        .uri
        .as_deref()
        .ok_or_else(|| "HTTP_PROXY integration has no uri".to_string())?;
    let uri = substitute_stage_variables(raw, &stage.variables);
    compile_target(i, &uri, resource, stage, upstreams)
}

/// An `AWS` service integration's destination: the service URI resolved to an endpoint URL
/// (placeholders filled per request, as for `HTTP`) and how requests to it are signed.
fn compile_aws_service(
    i: &Integration,
    resource: &Resource,
    stage: &Stage,
    upstreams: &Upstreams,
) -> Result<(HttpProxyIntegration, crate::aws_services::ServiceTarget), String> {
    let raw = i.uri.as_deref().unwrap_or("");
    let uri = substitute_stage_variables(raw, &stage.variables);
    let service = crate::aws_services::ServiceUri::parse(&uri)?;
    let credentials = i
        .credentials
        .as_deref()
        .map(|c| substitute_stage_variables(c, &stage.variables));
    let (url, target) =
        crate::aws_services::resolve(&upstreams.aws_services(), &service, credentials.as_deref())?;
    let compiled = compile_target(i, &url, resource, stage, upstreams)?;
    Ok((compiled, target))
}

/// The backend of an `HTTP`/`HTTP_PROXY` integration (or an AWS service's endpoint) at `uri`.
fn compile_target(
    i: &Integration,
    uri: &str,
    resource: &Resource,
    stage: &Stage,
    upstreams: &Upstreams,
) -> Result<HttpProxyIntegration, String> {
    let resource_params: Vec<(&str, bool)> = resource
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|p| match p.strip_suffix('+') {
            Some(g) => (g, true),
            None => (p, false),
        })
        .collect();
    let param_source = |name: &str| -> Option<(String, bool)> {
        let key = format!("integration.request.path.{name}");
        let mapped = i
            .request_parameters
            .get(&key)
            .and_then(|src| src.strip_prefix("method.request.path."));
        let wanted = mapped.unwrap_or(name);
        let wanted = wanted.strip_suffix('+').unwrap_or(wanted);
        resource_params
            .iter()
            .find(|(p, _)| *p == wanted)
            .map(|(p, greedy)| ((*p).to_owned(), *greedy))
    };
    let template = UriTemplate::compile(uri, param_source)?;
    let method = match i.http_method.as_deref() {
        None | Some("ANY") => None,
        Some(m) => Some(
            Method::from_bytes(m.as_bytes())
                .map_err(|_| format!("invalid integration httpMethod {m}"))?,
        ),
    };
    let timeout = i
        .timeout_in_millis
        .clamp(portico_model::MIN_TIMEOUT_MILLIS, 29_000);
    if timeout != i.timeout_in_millis {
        return Err(format!(
            "timeoutInMillis {} is outside 50..29000",
            i.timeout_in_millis
        ));
    }
    let tls = template.is_https().then(|| crate::upstream::TlsSettings {
        insecure_skip_verification: i
            .tls_config
            .as_ref()
            .is_some_and(|t| t.insecure_skip_verification),
        client_certificate: stage.client_certificate_id.as_deref().map(Arc::from),
    });
    let pool = upstreams.pool(template.authority(), tls)?;
    Ok(HttpProxyIntegration {
        method,
        pool,
        uri: template,
        timeout: Duration::from_millis(timeout as u64),
    })
}

#[cfg(test)]
mod tests {
    use crate::mapping::mock_status_code;

    #[test]
    fn mock_status_codes() {
        assert_eq!(mock_status_code("{\"statusCode\": 404}"), Some(404));
        assert_eq!(mock_status_code("{\"statusCode\": \"201\"}"), Some(201));
        assert_eq!(mock_status_code(""), Some(200));
        assert_eq!(mock_status_code("{}"), Some(200));
        assert_eq!(
            mock_status_code("{\"statusCode\": 200, trailing}"),
            Some(200)
        );
        assert_eq!(mock_status_code("not json"), None);
        assert_eq!(mock_status_code("{\"statusCode\": [1]}"), None);
    }

    /// The AWS CDK's CORS preflight template and other not-quite-JSON that AWS accepts.
    #[test]
    fn mock_status_codes_from_lenient_templates() {
        assert_eq!(mock_status_code("{ statusCode: 200 }"), Some(200));
        assert_eq!(mock_status_code("{statusCode:204}"), Some(204));
        assert_eq!(mock_status_code("{ 'statusCode': 404 }"), Some(404));
        assert_eq!(mock_status_code("{ statusCode: '201' }"), Some(201));
        assert_eq!(
            mock_status_code("{\n  statusCode: 500,\n  x: y\n}"),
            Some(500)
        );
        // A longer name that merely contains the word is not the key.
        assert_eq!(mock_status_code("{ myStatusCode: 404 }"), None);
        assert_eq!(
            mock_status_code("{ xstatusCode: 1, statusCode: 302 }"),
            Some(302)
        );
    }
}

#[cfg(test)]
mod size_tests {
    /// A gateway holds one `Route` per served method (15,000 in the route-memory benchmark): keep
    /// rare parts (validation, HTTP non-proxy, shared MOCK answers) behind a pointer.
    #[test]
    fn route_size() {
        assert_eq!(std::mem::size_of::<super::Route>(), 192);
        assert_eq!(std::mem::size_of::<super::CompiledIntegration>(), 120);
        assert_eq!(std::mem::size_of::<crate::metrics::RouteMetrics>(), 56);
    }

    fn mock(namespace: &str, text: &str) -> serde_json::Value {
        serde_json::json!({"GET": {"httpMethod": "GET", "authorizationType": "NONE",
            "methodIntegration": {"type": "MOCK",
                "requestTemplates": {"application/json": "{\"statusCode\": 200}"},
                "cacheNamespace": namespace,
                "integrationResponses": {"200": {"statusCode": "200",
                    "responseTemplates": {"text/plain": text}}}}}})
    }

    /// Equal MOCK integrations (but for the per-resource `cacheNamespace`) are compiled once.
    #[test]
    fn equal_mock_integrations_are_shared() {
        use super::{CompiledIntegration, StageInput, compile};
        let snapshot = serde_json::json!({
        "api": {"id": "a1", "name": "n", "createdDate": 0, "rootResourceId": "r0"},
        "resources": [
            {"id": "r0", "path": "/"},
            {"id": "r1", "path": "/a", "resourceMethods": mock("r1", "ok")},
            {"id": "r2", "path": "/b", "resourceMethods": mock("r2", "ok")},
            {"id": "r3", "path": "/c", "resourceMethods": mock("r3", "other")},
        ]});
        let input = StageInput {
            api_id: "a1".into(),
            stage: portico_model::Stage::new("dev", "d1"),
            snapshot: serde_json::from_value(snapshot).unwrap_or_else(|e| panic!("{e}")),
            canary_snapshot: None,
        };
        let registry = crate::metrics::Registry::default();
        let (served, warnings) = compile(&[input], &registry, &Default::default());
        assert!(warnings.is_empty(), "{warnings:?}");
        let Some(stage) = served.stage("a1", "dev") else {
            panic!("stage not served")
        };
        let mock_of = |path: &str| match stage.router.find("GET", path).found() {
            Some(m) => match &m.value.integration {
                CompiledIntegration::Mock(m) => m.clone(),
                other => panic!("{other:?}"),
            },
            None => panic!("{path} not found"),
        };
        assert!(std::sync::Arc::ptr_eq(&mock_of("/a"), &mock_of("/b")));
        assert!(!std::sync::Arc::ptr_eq(&mock_of("/a"), &mock_of("/c")));
    }

    /// A stage with a canary compiles the canary deployment beside its own: stage variables
    /// overridden, its own deployment id and metrics stage, `isCanaryRequest` on both sides.
    #[test]
    fn a_canary_is_compiled_beside_its_stage() {
        use super::{Canary, StageInput, compile};
        let snapshot = |body: &str| {
            serde_json::from_value(serde_json::json!({
            "api": {"id": "a1", "name": "n", "createdDate": 0, "rootResourceId": "r0"},
            "resources": [
                {"id": "r0", "path": "/"},
                {"id": "r1", "path": "/a", "resourceMethods": mock("r1", body)},
            ]}))
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let mut stage = portico_model::Stage::new("dev", "d1");
        stage.variables.insert("x".into(), "base".into());
        stage.variables.insert("y".into(), "kept".into());
        let mut settings = portico_model::CanarySettings {
            percent_traffic: 0.0,
            deployment_id: Some("d2".into()),
            stage_variable_overrides: Default::default(),
            use_stage_cache: false,
        };
        settings
            .stage_variable_overrides
            .insert("x".into(), "canary".into());
        stage.canary_settings = Some(settings);
        let mut input = StageInput {
            api_id: "a1".into(),
            stage,
            snapshot: snapshot("v1"),
            canary_snapshot: Some(snapshot("v2")),
        };
        let registry = crate::metrics::Registry::default();
        let (served, warnings) = compile(&[input.clone()], &registry, &Default::default());
        assert!(warnings.is_empty(), "{warnings:?}");
        let Some(stage) = served.stage("a1", "dev") else {
            panic!("stage not served")
        };
        let Some(canary) = &stage.canary else {
            panic!("no canary")
        };
        assert_eq!(stage.is_canary_request, Some(false));
        assert_eq!(canary.stage.is_canary_request, Some(true));
        assert_eq!(canary.stage.deployment_id, "d2");
        assert_eq!(canary.stage.stage_name, "dev");
        assert_eq!(canary.stage.stage_variables["x"], "canary");
        assert_eq!(canary.stage.stage_variables["y"], "kept");
        assert_eq!(stage.stage_variables["x"], "base");
        assert!(canary.stage.canary.is_none());
        assert!((0..1000).all(|_| !canary.picks()));
        let Some(route) = canary.stage.router.find("GET", "/a").found() else {
            panic!("canary route missing")
        };
        route
            .value
            .metrics
            .record(200, std::time::Duration::from_millis(1), None);
        assert!(
            registry.render().contains("stage=\"dev/Canary\""),
            "{}",
            registry.render()
        );
        let all = Canary {
            percent_traffic: 100.0,
            stage: canary.stage.clone(),
        };
        assert!((0..1000).all(|_| all.picks()));
        // Without the canary deployment's snapshot the stage serves no canary, and `$context`
        // has no `isCanaryRequest`.
        input.canary_snapshot = None;
        let (served, _) = compile(&[input], &registry, &Default::default());
        let stage = served
            .stage("a1", "dev")
            .unwrap_or_else(|| panic!("no stage"));
        assert!(stage.canary.is_none());
        assert_eq!(stage.is_canary_request, None);
    }

    /// A route runs only the steps its method uses: the account throttle always, the key step
    /// only with `apiKeyRequired`, the cache step only where the stage's cache serves the
    /// method (GET by default), nothing for `TestInvokeMethod`'s compile.
    #[test]
    fn routes_get_only_the_steps_their_methods_use() {
        use super::{SnapshotBuilder, StageInput};
        let mut keyed = mock("r2", "ok");
        keyed["GET"]["apiKeyRequired"] = serde_json::json!(true);
        let mut both = mock("r3", "ok");
        both["POST"] = both["GET"].clone();
        let snapshot = serde_json::json!({
        "api": {"id": "a1", "name": "n", "createdDate": 0, "rootResourceId": "r0"},
        "resources": [
            {"id": "r0", "path": "/"},
            {"id": "r1", "path": "/plain", "resourceMethods": mock("r1", "ok")},
            {"id": "r2", "path": "/keyed", "resourceMethods": keyed},
            {"id": "r3", "path": "/cached", "resourceMethods": both},
        ]});
        let input = |cache: bool| {
            let mut stage = portico_model::Stage::new("dev", "d1");
            stage.cache_cluster_enabled = cache;
            StageInput {
                api_id: "a1".into(),
                stage,
                snapshot: serde_json::from_value(snapshot.clone())
                    .unwrap_or_else(|e| panic!("{e}")),
                canary_snapshot: None,
            }
        };
        let registry = crate::metrics::Registry::default();
        let upstreams = Default::default();
        let state = portico_state::SharedState::in_process();
        let steps = |cache: bool, traffic: bool, method: &str, path: &str| {
            let mut b = SnapshotBuilder::new(&registry, &upstreams);
            if traffic {
                b = b.with_state(&state);
            }
            b.add(&input(cache));
            let (served, _) = b.finish();
            let stage = served
                .stage("a1", "dev")
                .unwrap_or_else(|| panic!("no stage"))
                .clone();
            let found = stage
                .router
                .find(method, path)
                .found()
                .map(|m| m.value.explain());
            found.unwrap_or_else(|| panic!("{method} {path}"))
        };
        assert_eq!(
            steps(false, true, "GET", "/plain"),
            "payload-limit → throttle(account) → integration MOCK"
        );
        assert_eq!(
            steps(false, true, "GET", "/keyed"),
            "payload-limit → api-key(x-api-key) → usage-plan throttle(account) → quota → integration MOCK"
        );
        assert_eq!(
            steps(true, true, "GET", "/cached"),
            "payload-limit → throttle(account) → cache(ttl 300s) → integration MOCK"
        );
        assert_eq!(
            steps(true, true, "POST", "/cached"),
            "payload-limit → throttle(account) → integration MOCK"
        );
        assert_eq!(
            steps(true, false, "GET", "/keyed"),
            "payload-limit → integration MOCK"
        );
    }
}
