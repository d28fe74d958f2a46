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

/// The account id Portico reports (`$context.accountId`, method ARNs), as the management API
/// does.
pub(crate) const ACCOUNT_ID: &str = "000000000000";

use arc_swap::ArcSwap;
use portico_model::{ApiKey, UsagePlan};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub use portico_state::quota::QuotaSettings;
pub use portico_state::throttle::Limits;

/// Limits from AWS's `ThrottleSettings`; `None` when neither field is set. An unset field is no
/// limit of that kind; negative values (refused by the management API) count as 0.
pub fn limits_of(t: &portico_model::ThrottleSettings) -> Option<Limits> {
    match (t.rate_limit, t.burst_limit) {
        (None, None) => None,
        (rate, burst) => {
            let rate = rate.unwrap_or(f64::MAX).max(0.0);
            Some(Limits::new(rate, burst_or_default(burst, rate)))
        }
    }
}

/// A bucket's burst: as set, or — when only a rate is — one second's worth of the rate (at
/// least 1), so that a rate-only limit is enforced from the first second, not after
/// `u32::MAX` requests.
pub fn burst_or_default(burst: Option<i64>, rate: f64) -> u32 {
    match burst {
        Some(b) => u32::try_from(b.max(0)).unwrap_or(u32::MAX),
        None if rate >= f64::from(u32::MAX) => u32::MAX,
        None => (rate.ceil() as u32).max(1),
    }
}

/// AWS's account-level default: 10,000 requests per second with a burst of 5,000.
pub const DEFAULT_ACCOUNT_LIMITS: Limits = Limits {
    rate: 10_000.0,
    burst: 5_000,
};

/// One API stage a plan covers, with the plan's per-method throttles there.
#[derive(Debug)]
pub struct PlanStage {
    /// The REST API.
    pub api_id: Box<str>,
    /// The stage.
    pub stage: Box<str>,
    /// `"/pets/GET"`-keyed method throttles.
    pub methods: HashMap<Box<str>, Limits>,
}

/// A usage plan as the data plane applies it.
#[derive(Debug)]
pub struct Plan {
    /// The plan's id.
    pub id: Arc<str>,
    /// The plan's throttle (per key).
    pub throttle: Option<Limits>,
    /// The plan's quota (per key).
    pub quota: Option<QuotaSettings>,
    /// The API stages it covers.
    pub stages: Vec<PlanStage>,
}

impl Plan {
    /// Compiles a plan.
    pub fn compile(p: &UsagePlan) -> Self {
        Self {
            id: p.id.as_str().into(),
            throttle: p.throttle.as_ref().and_then(limits_of),
            quota: p.quota.as_ref().and_then(|q| {
                use portico_state::quota::Period;
                let period = match q.period.as_str() {
                    "DAY" => Period::Day,
                    "WEEK" => Period::Week,
                    "MONTH" => Period::Month,
                    _ => return None,
                };
                let offset = u32::try_from(q.offset.max(0)).unwrap_or(u32::MAX);
                QuotaSettings::new(q.limit.max(0) as u64, period, offset).ok()
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
                        .filter_map(|(k, t)| Some((k.as_str().into(), limits_of(t)?)))
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
#[derive(Clone)]
pub struct KeyMatch {
    /// The key's id.
    pub id: Arc<str>,
    /// The key's value.
    pub value: Arc<str>,
    /// The usage plan covering this API stage.
    pub plan: Arc<Plan>,
}

// The key's value is a secret: `Debug` shows the id only.
impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("enabled", &self.enabled)
            .field("plans", &self.plans)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for KeyMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMatch")
            .field("id", &self.id)
            .field("plan", &self.plan.id)
            .finish_non_exhaustive()
    }
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

/// The keys: value hash → key(s), and id → value hash (to find a key that changes or goes).
#[derive(Debug, Default)]
pub struct KeyIndex {
    hasher: std::hash::RandomState,
    by_value: dashmap::DashMap<u64, Slot>,
    by_id: dashmap::DashMap<Arc<str>, u64>,
}

impl KeyIndex {
    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Adds or replaces one key (`plans`: the ids of the plans it belongs to). A key without a
    /// value (never the case for stored keys) is removed.
    pub fn put(&self, key: &ApiKey, plans: Vec<Arc<str>>) {
        let Some(value) = key.value.as_deref() else {
            self.remove(&key.id);
            return;
        };
        let hash = self.hasher.hash_one(value.as_bytes());
        let id: Arc<str> = key.id.as_str().into();
        let entry = Arc::new(Key {
            id: id.clone(),
            value: value.into(),
            enabled: key.enabled,
            plans: plans.into_boxed_slice(),
        });
        // The new entry goes in before the old one goes: a request presenting the key never
        // finds neither.
        self.by_value
            .entry(hash)
            .and_modify(|slot| {
                let mut keys = match std::mem::replace(slot, Slot::Many(Vec::new())) {
                    Slot::One(k) => vec![k],
                    Slot::Many(v) => v,
                };
                keys.retain(|k| k.id != id);
                keys.push(entry.clone());
                *slot = match keys.len() {
                    1 => Slot::One(entry.clone()),
                    _ => Slot::Many(keys),
                };
            })
            .or_insert_with(|| Slot::One(entry.clone()));
        if let Some(old) = self.by_id.insert(id.clone(), hash)
            && old != hash
        {
            self.remove_from(old, &id);
        }
    }

    /// Removes key `id` from the slot of hash `hash`.
    fn remove_from(&self, hash: u64, id: &str) {
        self.by_value.remove_if_mut(&hash, |_, slot| match slot {
            Slot::One(k) => &*k.id == id,
            Slot::Many(v) => {
                v.retain(|k| &*k.id != id);
                v.is_empty()
            }
        });
    }

    /// Removes one key by id (no-op when unknown).
    pub fn remove(&self, id: &str) {
        if let Some((_, hash)) = self.by_id.remove(id) {
            self.remove_from(hash, id);
        }
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
}

/// The account's keys, plans and throttle, as the data plane reads them.
#[derive(Debug)]
pub struct Accounts {
    keys: ArcSwap<KeyIndex>,
    plans: ArcSwap<HashMap<Arc<str>, Arc<Plan>>>,
    throttle: ArcSwap<Limits>,
}

impl Default for Accounts {
    fn default() -> Self {
        Self {
            keys: ArcSwap::from_pointee(KeyIndex::default()),
            plans: ArcSwap::from_pointee(HashMap::new()),
            throttle: ArcSwap::from_pointee(DEFAULT_ACCOUNT_LIMITS),
        }
    }
}

impl Accounts {
    /// Number of keys held.
    pub fn key_count(&self) -> usize {
        self.keys.load().len()
    }

    /// Adds or replaces one key (`plans`: the ids of the plans it belongs to).
    pub fn put_key(&self, key: &ApiKey, plans: Vec<Arc<str>>) {
        self.keys.load().put(key, plans);
    }

    /// Removes one key by id (no-op when unknown).
    pub fn remove_key(&self, id: &str) {
        self.keys.load().remove(id);
    }

    /// Replaces every key at once: requests see the old keys until the new index is complete.
    pub fn replace_keys(&self, keys: KeyIndex) {
        self.keys.store(Arc::new(keys));
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

    /// The compiled plan `id`.
    pub fn plan(&self, id: &str) -> Option<Arc<Plan>> {
        self.plans.load().get(id).cloned()
    }

    /// Sets the account-level throttle.
    pub fn set_throttle(&self, limit: Limits) {
        self.throttle.store(Arc::new(limit));
    }

    /// The account-level throttle.
    pub fn throttle(&self) -> Limits {
        **self.throttle.load()
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
        let key = self
            .keys
            .load()
            .find(presented)
            .ok_or(KeyRefusal::Unknown)?;
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
