//! Account data the data plane reads — API keys, usage plans and the account's throttle —
//! compiled apart from the stages, so that a key or plan change takes effect without a redeploy
//! and recompiles nothing else.
//!
//! * **Keys** live in one concurrent index (`value → key`), updated one key at a time as the
//!   change feed names them: a `CreateApiKey` among a million keys touches one entry. A lookup
//!   hashes the presented value with a per-process random key (so bucket timing says nothing
//!   about stored keys) and compares the value in constant time.
//! * **Plans** (few) are an immutable snapshot swapped whole when any plan changes.
//!
//! Nothing here is written by requests: counters and token buckets live in `portico-state`.

use arc_swap::ArcSwap;
use portico_model::{ApiKey, UsagePlan};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// A token bucket's limits: `rate` requests per second (may be fractional), `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Tokens added per second.
    pub rate: f64,
    /// The bucket's capacity.
    pub burst: u64,
}

impl Limit {
    /// From AWS's `ThrottleSettings`: an unset field is no limit of that kind.
    pub fn from_settings(t: &portico_model::ThrottleSettings) -> Option<Self> {
        match (t.rate_limit, t.burst_limit) {
            (None, None) => None,
            (rate, burst) => Some(Self {
                rate: rate.unwrap_or(f64::MAX).max(0.0),
                burst: burst.map_or(u64::MAX, |b| b.max(0) as u64),
            }),
        }
    }
}

/// AWS's account-level default: 10,000 requests per second with a burst of 5,000.
pub const DEFAULT_ACCOUNT_LIMIT: Limit = Limit {
    rate: 10_000.0,
    burst: 5_000,
};

/// A usage plan's quota: `limit` requests per `period`, the first period shortened by `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Requests per period.
    pub limit: u64,
    /// `DAY`, `WEEK` or `MONTH`.
    pub period: QuotaPeriod,
    /// AWS's `offset`.
    pub offset: u64,
}

/// A quota's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaPeriod {
    /// A UTC day.
    Day,
    /// A week starting on a UTC Monday... as AWS counts it (see `portico-state`).
    Week,
    /// A UTC calendar month.
    Month,
}

/// One API stage a plan covers, with the plan's per-method throttles there.
#[derive(Debug)]
pub struct PlanStage {
    /// The REST API.
    pub api_id: Box<str>,
    /// The stage.
    pub stage: Box<str>,
    /// `"/pets/GET"`-keyed method throttles.
    pub methods: HashMap<Box<str>, Limit>,
}

/// A usage plan as the data plane applies it.
#[derive(Debug)]
pub struct Plan {
    /// The plan's id.
    pub id: Arc<str>,
    /// The plan's throttle (per key).
    pub throttle: Option<Limit>,
    /// The plan's quota (per key).
    pub quota: Option<Quota>,
    /// The API stages it covers.
    pub stages: Vec<PlanStage>,
}

impl Plan {
    /// Compiles a plan.
    pub fn compile(p: &UsagePlan) -> Self {
        Self {
            id: p.id.as_str().into(),
            throttle: p.throttle.as_ref().and_then(Limit::from_settings),
            quota: p.quota.as_ref().and_then(|q| {
                let period = match q.period.as_str() {
                    "DAY" => QuotaPeriod::Day,
                    "WEEK" => QuotaPeriod::Week,
                    "MONTH" => QuotaPeriod::Month,
                    _ => return None,
                };
                Some(Quota {
                    limit: q.limit.max(0) as u64,
                    period,
                    offset: q.offset.max(0) as u64,
                })
            }),
            stages: p
                .api_stages
                .iter()
                .map(|s| PlanStage {
                    api_id: s.api_id.as_str().into(),
                    stage: s.stage.as_str().into(),
                    methods: s
                        .throttle
                        .iter()
                        .filter_map(|(k, t)| Some((k.as_str().into(), Limit::from_settings(t)?)))
                        .collect(),
                })
                .collect(),
        }
    }

    /// The plan's entry for `api_id`/`stage`, if it covers that stage.
    pub fn stage(&self, api_id: &str, stage: &str) -> Option<&PlanStage> {
        self.stages
            .iter()
            .find(|s| &*s.api_id == api_id && &*s.stage == stage)
    }
}

/// An API key as the data plane knows it.
#[derive(Debug)]
pub struct Key {
    /// The key's id (`$context.identity.apiKeyId`).
    pub id: Arc<str>,
    /// The key's value (`$context.identity.apiKey`).
    pub value: Arc<str>,
    /// Disabled keys are refused.
    pub enabled: bool,
    /// Ids of the usage plans the key belongs to.
    pub plans: Box<[Arc<str>]>,
}

/// A key a request presented that the gateway accepted, with the plan that admitted it.
#[derive(Debug, Clone)]
pub struct KeyMatch {
    /// The key's id.
    pub id: Arc<str>,
    /// The key's value.
    pub value: Arc<str>,
    /// The usage plan covering this API stage.
    pub plan: Arc<Plan>,
}

/// Why a presented key was refused (every case answers 403 Forbidden, as on AWS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// No key was presented.
    Missing,
    /// No key has this value.
    Unknown,
    /// The key is disabled.
    Disabled,
    /// The key is in no usage plan of this API stage.
    NoPlan,
}

/// Keys with one hash (never seen in practice: 64-bit keyed hashes).
#[derive(Debug)]
enum Slot {
    One(Arc<Key>),
    Many(Vec<Arc<Key>>),
}

/// The account's keys, plans and throttle, as the data plane reads them.
#[derive(Debug)]
pub struct Accounts {
    hasher: std::hash::RandomState,
    /// value hash → key(s).
    by_value: dashmap::DashMap<u64, Slot>,
    /// key id → value hash, to find a key that changes or goes.
    by_id: dashmap::DashMap<Arc<str>, u64>,
    plans: ArcSwap<HashMap<Arc<str>, Arc<Plan>>>,
    throttle: ArcSwap<Limit>,
}

impl Default for Accounts {
    fn default() -> Self {
        Self {
            hasher: std::hash::RandomState::new(),
            by_value: Default::default(),
            by_id: Default::default(),
            plans: ArcSwap::from_pointee(HashMap::new()),
            throttle: ArcSwap::from_pointee(DEFAULT_ACCOUNT_LIMIT),
        }
    }
}

impl Accounts {
    /// Number of keys held.
    pub fn key_count(&self) -> usize {
        self.by_id.len()
    }

    /// Adds or replaces one key (`plans`: the ids of the plans it belongs to).
    pub fn put_key(&self, key: &ApiKey, plans: Vec<Arc<str>>) {
        let Some(value) = key.value.as_deref() else {
            return;
        };
        self.remove_key(&key.id);
        let hash = self.hasher.hash_one(value.as_bytes());
        let id: Arc<str> = key.id.as_str().into();
        let entry = Arc::new(Key {
            id: id.clone(),
            value: value.into(),
            enabled: key.enabled,
            plans: plans.into_boxed_slice(),
        });
        self.by_value
            .entry(hash)
            .and_modify(|slot| {
                let new = match std::mem::replace(slot, Slot::Many(Vec::new())) {
                    Slot::One(k) => vec![k, entry.clone()],
                    Slot::Many(mut v) => {
                        v.push(entry.clone());
                        v
                    }
                };
                *slot = Slot::Many(new);
            })
            .or_insert_with(|| Slot::One(entry.clone()));
        self.by_id.insert(id, hash);
    }

    /// Removes one key by id (no-op when unknown).
    pub fn remove_key(&self, id: &str) {
        let Some((_, hash)) = self.by_id.remove(id) else {
            return;
        };
        self.by_value.remove_if_mut(&hash, |_, slot| match slot {
            Slot::One(k) => &*k.id == id,
            Slot::Many(v) => {
                v.retain(|k| &*k.id != id);
                v.is_empty()
            }
        });
    }

    /// The plan ids of key `id`, if held.
    pub fn key_plans(&self, id: &str) -> Option<Vec<Arc<str>>> {
        let hash = *self.by_id.get(id)?;
        let slot = self.by_value.get(&hash)?;
        let plans = match &*slot {
            Slot::One(k) if &*k.id == id => k.plans.to_vec(),
            Slot::Many(v) => v.iter().find(|k| &*k.id == id)?.plans.to_vec(),
            Slot::One(_) => return None,
        };
        Some(plans)
    }

    /// Drops every key (before a full reload).
    pub fn clear_keys(&self) {
        self.by_value.clear();
        self.by_id.clear();
    }

    /// Replaces the plans.
    pub fn set_plans(&self, plans: &[UsagePlan]) {
        let map = plans
            .iter()
            .map(|p| {
                let plan = Plan::compile(p);
                (plan.id.clone(), Arc::new(plan))
            })
            .collect();
        self.plans.store(Arc::new(map));
    }

    /// Sets the account-level throttle.
    pub fn set_throttle(&self, limit: Limit) {
        self.throttle.store(Arc::new(limit));
    }

    /// The account-level throttle.
    pub fn throttle(&self) -> Limit {
        **self.throttle.load()
    }

    /// The key with this value, compared in constant time.
    fn find(&self, presented: &str) -> Option<Arc<Key>> {
        let hash = self.hasher.hash_one(presented.as_bytes());
        let slot = self.by_value.get(&hash)?;
        let same = |k: &Key| bool::from(k.value.as_bytes().ct_eq(presented.as_bytes()));
        match &*slot {
            Slot::One(k) => same(k).then(|| k.clone()),
            Slot::Many(v) => v.iter().find(|k| same(k)).cloned(),
        }
    }

    /// Checks a presented key for `api_id`/`stage`: it must exist, be enabled and belong to a
    /// usage plan that covers the stage.
    pub fn admit(
        &self,
        presented: Option<&str>,
        api_id: &str,
        stage: &str,
    ) -> Result<KeyMatch, KeyRefusal> {
        let presented = presented.ok_or(KeyRefusal::Missing)?;
        let key = self.find(presented).ok_or(KeyRefusal::Unknown)?;
        if !key.enabled {
            return Err(KeyRefusal::Disabled);
        }
        let plans = self.plans.load();
        let plan = key
            .plans
            .iter()
            .filter_map(|id| plans.get(id))
            .find(|p| p.stage(api_id, stage).is_some())
            .ok_or(KeyRefusal::NoPlan)?;
        Ok(KeyMatch {
            id: key.id.clone(),
            value: key.value.clone(),
            plan: plan.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, value: &str, enabled: bool) -> ApiKey {
        ApiKey {
            id: id.into(),
            value: Some(value.into()),
            enabled,
            ..serde_json::from_value(
                serde_json::json!({"id": id, "createdDate": 0, "lastUpdatedDate": 0}),
            )
            .unwrap()
        }
    }

    fn plan(id: &str, api: &str, stage: &str) -> UsagePlan {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": id,
            "apiStages": [{"apiId": api, "stage": stage}],
        }))
        .unwrap()
    }

    #[test]
    fn admits_only_enabled_keys_in_a_plan_of_the_stage() {
        let a = Accounts::default();
        a.set_plans(&[plan("p1", "api", "prod")]);
        a.put_key(
            &key("k1", "value-one-aaaaaaaaaaaa", true),
            vec!["p1".into()],
        );
        a.put_key(
            &key("k2", "value-two-aaaaaaaaaaaa", false),
            vec!["p1".into()],
        );
        a.put_key(&key("k3", "value-three-aaaaaaaaaa", true), vec![]);
        let m = a
            .admit(Some("value-one-aaaaaaaaaaaa"), "api", "prod")
            .unwrap();
        assert_eq!(&*m.id, "k1");
        assert_eq!(&*m.plan.id, "p1");
        assert_eq!(
            a.admit(None, "api", "prod").unwrap_err(),
            KeyRefusal::Missing
        );
        assert_eq!(
            a.admit(Some("nope-nope-nope-nope-nope"), "api", "prod")
                .unwrap_err(),
            KeyRefusal::Unknown
        );
        assert_eq!(
            a.admit(Some("value-two-aaaaaaaaaaaa"), "api", "prod")
                .unwrap_err(),
            KeyRefusal::Disabled
        );
        assert_eq!(
            a.admit(Some("value-three-aaaaaaaaaa"), "api", "prod")
                .unwrap_err(),
            KeyRefusal::NoPlan
        );
        assert_eq!(
            a.admit(Some("value-one-aaaaaaaaaaaa"), "api", "dev")
                .unwrap_err(),
            KeyRefusal::NoPlan
        );
    }

    #[test]
    fn a_replaced_key_forgets_its_old_value() {
        let a = Accounts::default();
        a.set_plans(&[plan("p1", "api", "prod")]);
        a.put_key(
            &key("k1", "old-value-aaaaaaaaaaaa", true),
            vec!["p1".into()],
        );
        a.put_key(
            &key("k1", "new-value-aaaaaaaaaaaa", true),
            vec!["p1".into()],
        );
        assert_eq!(a.key_count(), 1);
        assert!(
            a.admit(Some("new-value-aaaaaaaaaaaa"), "api", "prod")
                .is_ok()
        );
        assert_eq!(
            a.admit(Some("old-value-aaaaaaaaaaaa"), "api", "prod")
                .unwrap_err(),
            KeyRefusal::Unknown
        );
        a.remove_key("k1");
        assert_eq!(a.key_count(), 0);
        assert_eq!(
            a.admit(Some("new-value-aaaaaaaaaaaa"), "api", "prod")
                .unwrap_err(),
            KeyRefusal::Unknown
        );
    }
}
