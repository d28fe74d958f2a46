//! The method request phase's steps as a route holds them: what each step is and what it
//! knows, built once per route when a deployment is compiled ([`steps_for`]); the
//! `pipeline` runs them. A route gets only the steps its method uses: a method with no API
//! key, throttle, validator or cache has none of those and pays nothing for them.
//!
//! The order is API Gateway's: the payload limit, then throttling, then the API key with its
//! usage plan's throttle and quota, then request validation, then the stage cache; last, for
//! HTTP backends, a body of unknown length is read whole. `portico routes` prints each route's
//! list ([`describe`]).

pub(crate) mod authorizer;
pub(crate) mod cache;
pub(crate) mod cognito;
pub(crate) mod resource_policy;
pub(crate) mod traffic;

pub use cache::CacheLookup;
pub use traffic::{ApiKey, KeySource, Throttle};

use crate::validation::RequestValidation;

/// One step of a route's method request phase.
#[derive(Debug)]
pub enum Step {
    /// A declared body over the payload limit answers 413 before anything is read.
    PayloadLimit,
    /// A body of unknown length is read whole for an HTTP backend, which gets a
    /// `Content-Length` as from API Gateway (unless the gateway streams proxied bodies).
    BufferBody,
    /// Account and stage/method throttles, for a method that requires no API key (429).
    Throttle(Box<Throttle>),
    /// A Lambda authorizer (401, 403, 500).
    Authorize(Box<authorizer::LambdaAuthorizer>),
    /// A `COGNITO_USER_POOLS` (any OIDC issuer's) token check (401).
    Cognito(Box<cognito::CognitoAuthorizer>),
    /// The API's resource policy (403).
    ResourcePolicy(Box<resource_policy::ResourcePolicy>),
    /// `AWS_IAM`: the SigV4 signature and the signer's permission (403).
    Iam(Box<crate::iam::IamStep>),
    /// The method's authorization cannot be enforced by this version: every request is refused
    /// (500, reason in the log) rather than let through.
    Unenforced(Box<str>),
    /// The API key, its usage plan, every throttle that covers the request and the plan's
    /// quota (403, 429).
    ApiKey(Box<ApiKey>),
    /// The request validator: required parameters, then the body against the model (400).
    Validate(Box<RequestValidation>),
    /// The stage cache: a hit answers; a miss fills the cache with the integration's answer.
    CacheLookup(Box<CacheLookup>),
}

/// What compiling a route's traffic steps needs to know (none for `TestInvokeMethod`, which
/// bypasses keys, throttles and the cache as on AWS).
#[derive(Debug)]
pub(crate) struct TrafficSteps {
    /// The route's throttle.
    pub(crate) throttle: Throttle,
    /// Where the key comes from, when the method requires one.
    pub(crate) key: Option<KeySource>,
    /// The cache step, when the stage's cache serves this method.
    pub(crate) cache: Option<CacheLookup>,
}

impl Step {
    /// The step's name as `portico routes` prints it.
    pub fn describe(&self) -> String {
        match self {
            Step::PayloadLimit => "payload-limit".into(),
            Step::BufferBody => "buffer-body".into(),
            Step::Throttle(t) => t.describe(),
            Step::ApiKey(k) => format!(
                "api-key({}) → usage-plan {} → quota",
                match k.source {
                    KeySource::Header => "x-api-key",
                    KeySource::Authorizer => "authorizer",
                },
                k.throttle.describe()
            ),
            Step::Authorize(a) => a.describe(),
            Step::Cognito(c) => c.describe(),
            Step::ResourcePolicy(p) => p.describe(),
            Step::Iam(i) => i.describe(),
            Step::Unenforced(reason) => format!("refuse(500: {reason})"),
            Step::Validate(_) => "validate".into(),
            Step::CacheLookup(c) => c.describe(),
        }
    }
}

/// The method request steps of one route, in order. `http_backend`: the integration calls an
/// HTTP backend; `validation` is the method's compiled request validator, if it checks anything.
pub(crate) fn steps_for(
    http_backend: bool,
    authorization: Vec<Step>,
    validation: Option<RequestValidation>,
    traffic: Option<TrafficSteps>,
) -> Box<[Step]> {
    let mut steps = vec![Step::PayloadLimit];
    let mut cache = None;
    match traffic {
        Some(t) => {
            // Throttles come first; the authorizer before the API key (which it may name).
            match t.key {
                Some(source) => {
                    steps.extend(authorization);
                    steps.push(Step::ApiKey(Box::new(ApiKey {
                        throttle: t.throttle,
                        source,
                    })));
                }
                None => {
                    steps.push(Step::Throttle(Box::new(t.throttle)));
                    steps.extend(authorization);
                }
            }
            cache = t.cache;
        }
        None => steps.extend(authorization),
    }
    if let Some(v) = validation {
        steps.push(Step::Validate(Box::new(v)));
    }
    if let Some(c) = cache {
        steps.push(Step::CacheLookup(Box::new(c)));
    }
    if http_backend {
        steps.push(Step::BufferBody);
    }
    steps.into_boxed_slice()
}

/// A route's steps, comma-separated, for `portico routes`.
pub fn describe(steps: &[Step]) -> String {
    steps
        .iter()
        .map(Step::describe)
        .collect::<Vec<_>>()
        .join(" → ")
}
