//! Method request steps that meter traffic: throttling (account, stage and method limits) and
//! the API key step (key, usage plan, the plan's throttles and quota).
//!
//! AWS applies, to each request, every limit that covers it: the usage plan's per-method or
//! per-key throttle (methods that require a key), the stage's method throttle (a
//! `methodSettings` entry for the method, else `*/*`), and the account's. Each is a token bucket
//! in `portico-state`, keyed by stable ids so that buckets survive redeploys; one
//! `try_acquire` takes a token from each or from none.

use crate::account::{KeyMatch, Limits};
use portico_state::throttle::{BucketKey, Check};
use std::sync::Arc;

/// The account id buckets are kept under (one account per Portico deployment).
pub(crate) const ACCOUNT: &str = "local";

/// What a route's throttle step knows at compile time.
#[derive(Debug)]
pub struct Throttle {
    api: Arc<str>,
    stage: Arc<str>,
    /// `{resource path}/{HTTP method}`, as usage plans name methods (`/pets/GET`, `//GET`).
    method: Box<str>,
    /// The stage's method throttle: the method's own `methodSettings` entry, else `*/*`.
    method_limits: Option<Limits>,
}

impl Throttle {
    /// The throttle of `verb` on `resource_path` in a stage with `settings`.
    pub(crate) fn compile(
        api: Arc<str>,
        stage: Arc<str>,
        resource_path: &str,
        verb: &str,
        settings: &portico_model::Map<portico_model::MethodSetting>,
    ) -> Self {
        let method_limits = method_setting(settings, resource_path, verb).and_then(|s| {
            let (rate, burst) = (s.throttling_rate_limit, s.throttling_burst_limit);
            (rate >= 0.0 || burst >= 0).then(|| {
                let rate = if rate >= 0.0 { rate } else { f64::MAX };
                let burst = (burst >= 0).then_some(burst);
                Limits::new(rate, crate::account::burst_or_default(burst, rate))
            })
        });
        Self {
            api,
            stage,
            method: format!("{resource_path}/{verb}").into(),
            method_limits,
        }
    }

    /// A throttle with the stage's limits for `method` given directly (HTTP API route settings:
    /// `method` is the route key).
    pub(crate) fn with_limits(
        api: Arc<str>,
        stage: Arc<str>,
        method: &str,
        method_limits: Option<Limits>,
    ) -> Self {
        Self {
            api,
            stage,
            method: method.into(),
            method_limits,
        }
    }

    /// For `portico routes`.
    pub(crate) fn describe(&self) -> String {
        match self.method_limits {
            Some(l) => format!("throttle(account, method {}/s burst {})", l.rate, l.burst),
            None => "throttle(account)".into(),
        }
    }

    /// The buckets for this request, in order, into `out`; returns how many. `plan` adds the
    /// usage plan's bucket for the key (its per-method throttle for this method when it has
    /// one, else its per-key throttle).
    pub(crate) fn checks<'a>(
        &'a self,
        account: Option<Limits>,
        plan: Option<&'a KeyMatch>,
        out: &mut [Check<'a>; 3],
    ) -> usize {
        let mut n = 0;
        let mut push = |c: Check<'a>| {
            out[n] = c;
            n += 1;
        };
        if let Some(account) = account {
            push(Check::new(BucketKey::Account { account: ACCOUNT }, account));
        }
        if let Some(limits) = self.method_limits {
            let key = BucketKey::Method {
                api: &self.api,
                stage: &self.stage,
                method: &self.method,
            };
            push(Check::new(key, limits));
        }
        if let Some(k) = plan {
            let method = k
                .plan
                .stage(&self.api, &self.stage)
                .and_then(|s| s.methods.get(&*self.method));
            match (method, k.plan.throttle) {
                (Some(limits), _) => push(Check::new(
                    BucketKey::UsagePlanKeyMethod {
                        plan: &k.plan.id,
                        key: &k.id,
                        api: &self.api,
                        stage: &self.stage,
                        method: &self.method,
                    },
                    *limits,
                )),
                (None, Some(limits)) => push(Check::new(
                    BucketKey::UsagePlanKey {
                        plan: &k.plan.id,
                        key: &k.id,
                    },
                    limits,
                )),
                (None, None) => {}
            }
        }
        n
    }
}

/// The `methodSettings` entry for `verb` on `resource_path`: the method's own, else `*/*`.
/// Keys name the resource path without its leading `/`, with `/` written `~1` or plain.
pub(crate) fn method_setting<'a>(
    settings: &'a portico_model::Map<portico_model::MethodSetting>,
    resource_path: &str,
    verb: &str,
) -> Option<&'a portico_model::MethodSetting> {
    own_method_setting(settings, resource_path, verb).or_else(|| settings.get("*/*"))
}

/// The method's own `methodSettings` entry (not `*/*`).
pub(crate) fn own_method_setting<'a>(
    settings: &'a portico_model::Map<portico_model::MethodSetting>,
    resource_path: &str,
    verb: &str,
) -> Option<&'a portico_model::MethodSetting> {
    let path = resource_path.trim_start_matches('/');
    settings
        .iter()
        .find(|(k, _)| {
            k.as_str() != "*/*"
                && k.rsplit_once('/').is_some_and(|(p, m)| {
                    m == verb && p.replace("~1", "/").trim_start_matches('/') == path
                })
        })
        .map(|(_, v)| v)
}

/// Where a method that requires an API key finds it (the API's `apiKeySource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The `x-api-key` request header.
    Header,
    /// The `usageIdentifierKey` a Lambda authorizer returned.
    Authorizer,
}

/// The API key step: the key must exist, be enabled and be in a usage plan of this stage
/// (else 403); then every throttle that covers the request (429 Too Many Requests); then the
/// plan's quota (429 Limit Exceeded).
#[derive(Debug)]
pub struct ApiKey {
    pub(crate) throttle: Throttle,
    pub(crate) source: KeySource,
}
