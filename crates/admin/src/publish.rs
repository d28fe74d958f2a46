//! Store → data plane: what is deployed in the store is what the gateway serves.
//!
//! The store's `changes` feed numbers every change that alters what is served. A [`Publisher`]
//! remembers the last number it published and, when asked to [`sync`](Publisher::sync), compiles
//! and swaps in every serving stage if the feed moved. Two callers ask:
//!
//! * the management listener, after every successful call that may write (any method but
//!   `GET`/`HEAD`), before the response leaves — so a `CreateDeployment` that returned is
//!   already served by this process (read-your-writes);
//! * the reload loop of `portico serve`, every interval — for changes made by other processes
//!   (`portico import`, later other nodes), which become visible within one interval.
//!
//! Syncs are serialised: two concurrent calls never publish an older state over a newer one.
//!
//! Lambda functions (`function` changes) are handed to the function runtime, when one is attached
//! ([`Publisher::with_functions`]): one [`portico_functions::FunctionConfig`] per `$LATEST` and per
//! published version (keyed `name` and `name:N`, [`portico_functions::version_key`]) and the
//! aliases; the runtime keeps the workers of what did not change.

use portico_control::lambda::FunctionState;
use portico_functions::{FunctionConfig, Runtime};
use portico_gateway::account::KeyIndex;
use portico_gateway::{CompileWarning, Gateway, StageInput};
use portico_model::lambda::{CodeLocation, FunctionConfiguration};
use portico_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;

/// Publishes the store's serving stages to a gateway when the change feed moves.
#[derive(Debug)]
pub struct Publisher {
    store: Store,
    gateway: Arc<Gateway>,
    /// The change-feed position last published; `None` before the first publish.
    seen: tokio::sync::Mutex<Option<i64>>,
    /// Persisted usage counts were loaded into the data plane (once per process).
    counts_loaded: std::sync::atomic::AtomicBool,
    /// Where Lambda functions are published, when anything runs them.
    functions: Option<Arc<Runtime>>,
}

/// What one [`Publisher::sync`] did.
#[derive(Debug, Default)]
pub struct Published {
    /// Stages now served; `None` when the feed had not moved and nothing was compiled.
    pub stages: Option<usize>,
    /// Deploy-time warnings of the stages compiled.
    pub warnings: Vec<CompileWarning>,
}

impl Publisher {
    /// The gateway it publishes to.
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// A publisher that has published nothing yet: its first [`sync`](Self::sync) publishes.
    pub fn new(store: Store, gateway: Arc<Gateway>) -> Self {
        Self {
            store,
            gateway,
            seen: tokio::sync::Mutex::new(None),
            counts_loaded: std::sync::atomic::AtomicBool::new(false),
            functions: None,
        }
    }

    /// Publishes the store's Lambda functions to `runtime` as well.
    pub fn with_functions(mut self, runtime: Arc<Runtime>) -> Self {
        self.functions = Some(runtime);
        self
    }

    /// Publishes what changed since the last publish: stages when an API's deployments or
    /// stages changed, the account data (keys, plans, throttle, usage grants) when that changed
    /// — one key at a time where the feed names keys.
    ///
    /// On an error the gateway keeps serving what it served, and the next call tries again.
    pub async fn sync(&self) -> Result<Published, StoreError> {
        let mut seen = self.seen.lock().await;
        // Read the position before the data: a change landing in between is published now
        // and, being newer than the recorded position, once more by the next sync.
        let seq = self.store.change_seq().await?;
        if *seen == Some(seq) {
            return Ok(Published::default());
        }
        let (stages, account, functions) = match *seen {
            None => (true, AccountWork::everything(), true),
            Some(from) => {
                let batch = self.store.changes_since(from).await?;
                if batch.too_many {
                    (true, AccountWork::everything(), true)
                } else {
                    // Only up to the position read: what committed since is the next sync's,
                    // and is applied once, there.
                    let changes: Vec<_> =
                        batch.changes.into_iter().filter(|c| c.seq <= seq).collect();
                    let stages = changes.iter().any(|c| !c.is_account());
                    let functions = changes.iter().any(|c| c.kind == "function");
                    (stages, AccountWork::of(&changes), functions)
                }
            }
        };
        self.publish_account(account).await?;
        if functions && let Some(runtime) = &self.functions {
            let (configs, aliases) = served_functions(&self.store.function_states().await?);
            runtime.set_functions(configs);
            runtime.set_aliases(aliases);
        }
        let mut published = Published::default();
        if stages {
            // Each stage is compiled as soon as it is read: the parsed snapshots of every stage
            // would take several times the memory of what is compiled from them.
            let mut built = self.gateway.snapshot_builder();
            let n = self
                .store
                .for_each_serving_stage(|s| {
                    built.add(&StageInput {
                        api_id: s.api_id,
                        stage: s.stage,
                        snapshot: s.snapshot,
                        canary_snapshot: s.canary.map(|(_, snapshot)| snapshot),
                    })
                })
                .await?;
            let http = self
                .store
                .for_each_serving_http_stage(|s| {
                    built.add_http(&portico_gateway::HttpStageInput {
                        api_id: s.api_id,
                        stage: s.stage,
                        snapshot: s.snapshot,
                    })
                })
                .await?;
            published.warnings = self.gateway.publish_built(built);
            published.stages = Some(n + http);
        }
        *seen = Some(seq);
        Ok(published)
    }

    /// UpdateUsage grants. A grant is applied once, against the counts of its moment, and what
    /// it came to (the period and its effective limit) is stored; replaying a settled grant
    /// (restart, resync) sets that limit again and grants nothing twice.
    async fn replay_grants(&self, work: &AccountWork) -> Result<(), StoreError> {
        let accounts = self.gateway.accounts();
        let quotas = &self.gateway.state().quotas;
        // Grants are stamped by the store's wall clock; quota periods run on the data plane's,
        // which `--test-clock` may have moved forward: a grant made "today" is for the data
        // plane's today.
        let skew = self
            .gateway
            .now_epoch_seconds()
            .saturating_sub(portico_model::now_epoch_seconds());
        for g in self.store.remaining_overrides().await? {
            if !work.all && !work.grants.contains(&(g.plan_id.clone(), g.key_id.clone())) {
                continue;
            }
            if let Some((start, limit)) = &g.settled {
                let Ok(period_start) = start.parse() else {
                    continue;
                };
                quotas.adjust(&portico_state::quota::Adjustment {
                    plan: g.plan_id.as_str().into(),
                    key: g.key_id.as_str().into(),
                    period_start,
                    limit: u64::try_from((*limit).max(0)).unwrap_or(0),
                });
                continue;
            }
            let Some(quota) = accounts.plan(&g.plan_id).and_then(|p| p.quota) else {
                continue;
            };
            let adjustment = quotas.set_remaining(
                &g.plan_id,
                &g.key_id,
                &quota,
                u64::try_from(g.remaining.max(0)).unwrap_or(0),
                g.set_at.saturating_add(skew),
            );
            self.store
                .settle_grant(
                    &g.plan_id,
                    &g.key_id,
                    g.set_at,
                    &adjustment.period_start.to_string(),
                    i64::try_from(adjustment.limit).unwrap_or(i64::MAX),
                )
                .await?;
        }
        Ok(())
    }

    async fn publish_account(&self, work: AccountWork) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        let first = !self.counts_loaded.load(SeqCst);
        let accounts = self.gateway.accounts();
        if work.plans || work.all {
            accounts.set_plans(&self.store.usage_plans().await?);
        }
        if (work.throttle || work.all) && self.gateway.config().account_throttle.is_none() {
            let t = self.store.account_throttle().await?;
            if let Some(l) = portico_gateway::account::limits_of(&t) {
                accounts.set_throttle(l);
            }
        }
        if work.all || work.client_certs {
            let st = self.store.account_state().await?;
            self.gateway.set_backend_client_certificates(
                st.client_certificates
                    .into_iter()
                    .map(|(c, key)| (c.client_certificate_id, c.pem_encoded_certificate, key)),
            );
        }
        if work.all || work.all_keys {
            // A new index, swapped in whole: requests see the old keys until it is complete.
            let mut plans_of: HashMap<String, Vec<Arc<str>>> = HashMap::new();
            for (plan, key) in self.store.usage_plan_keys_all().await? {
                plans_of.entry(key).or_default().push(plan.into());
            }
            let index = KeyIndex::default();
            self.store
                .for_each_api_key(|k| {
                    let plans = plans_of.remove(&k.id).unwrap_or_default();
                    index.put(&k, plans);
                })
                .await?;
            accounts.replace_keys(index);
        } else {
            for id in &work.keys {
                match self.store.api_key_by_id(id).await? {
                    Some(k) => {
                        let plans = self.store.plans_of_key(id).await?;
                        accounts.put_key(&k, plans.into_iter().map(Into::into).collect());
                    }
                    None => accounts.remove_key(id),
                }
            }
        }
        if work.domains || work.all {
            let st = self.store.account_state().await?;
            self.gateway
                .set_domains(portico_gateway::domains::DomainTable::new(
                    st.domain_names.iter().map(|d| d.domain_name.as_str()),
                    st.base_path_mappings.iter().map(|(d, m)| (d.as_str(), m)),
                ));
            self.gateway.set_tls_domains(tls_domains(&st));
        }
        if first {
            // Counts persisted by earlier runs: quotas survive a restart. Loaded once, before
            // any grant is replayed (a grant's limit counts what was used before it); a later
            // full resync must not add them to what is counted in memory again.
            let today =
                portico_state::quota::Day::from_unix_seconds(self.gateway.now_epoch_seconds());
            let start =
                portico_state::quota::Day::from_days_since_epoch(today.days_since_epoch() - 35);
            let mut rows = Vec::new();
            for plan in self.store.usage_plans().await? {
                for (key, day, used) in self
                    .store
                    .usage_counts(&plan.id, None, &start.to_string(), &today.to_string())
                    .await?
                {
                    let Ok(day) = day.parse() else { continue };
                    rows.push(portico_state::quota::DayUsage {
                        plan: plan.id.as_str().into(),
                        key: key.into(),
                        day,
                        used: u64::try_from(used.max(0)).unwrap_or(0),
                    });
                }
            }
            self.gateway.state().quotas.load(rows);
            self.counts_loaded.store(true, SeqCst);
        }
        if work.all || !work.grants.is_empty() {
            self.replay_grants(&work).await?;
        }
        Ok(())
    }
}

/// What the function runtime serves for the stored functions: a [`FunctionConfig`] per
/// `$LATEST` (key `name`) and per published version (key `name:N`), and the aliases
/// ((function, alias) → version).
pub fn served_functions(
    states: &[FunctionState],
) -> (Vec<FunctionConfig>, HashMap<(String, String), String>) {
    let mut configs = Vec::new();
    let mut aliases = HashMap::new();
    for st in states {
        let Some(f) = &st.function else { continue };
        let runs = |c: &FunctionConfiguration, code: &CodeLocation| FunctionConfig {
            name: st.name.clone(),
            arn: portico_model::lambda::function_arn(&st.name),
            version: c.version.clone(),
            runtime: c.runtime.clone().unwrap_or_default(),
            handler: c.handler.clone().unwrap_or_default(),
            code_dir: code.dir().into(),
            environment: c
                .environment
                .as_ref()
                .map(|e| e.variables.clone())
                .unwrap_or_default(),
            timeout: std::time::Duration::from_secs(u64::from(c.timeout)),
            memory_mb: c.memory_size,
            reserved_concurrency: st.reserved_concurrency,
        };
        configs.push(runs(&f.config, &f.code));
        for v in &st.versions {
            configs.push(runs(&v.config, &v.code));
        }
        for a in &st.aliases {
            aliases.insert(
                (st.name.clone(), a.name.clone()),
                a.function_version.clone(),
            );
        }
    }
    (configs, aliases)
}

/// What account data a batch of changes asks to republish.
#[derive(Debug, Default)]
struct AccountWork {
    /// Everything (first publish, or too many changes to follow one by one).
    all: bool,
    /// Every key (an `ImportApiKeys`).
    all_keys: bool,
    /// Keys by id (created, updated, deleted, added to or removed from a plan).
    keys: Vec<String>,
    plans: bool,
    throttle: bool,
    /// Custom domain names or base path mappings changed.
    domains: bool,
    /// Client certificates (presented to https backends).
    client_certs: bool,
    /// UpdateUsage grants: (plan, key).
    grants: Vec<(String, String)>,
}

impl AccountWork {
    fn everything() -> Self {
        Self {
            all: true,
            all_keys: true,
            plans: true,
            throttle: true,
            domains: true,
            client_certs: true,
            ..Self::default()
        }
    }

    fn of(changes: &[portico_store::Change]) -> Self {
        let mut w = Self::default();
        for c in changes {
            match c.kind.as_str() {
                "apikey" if c.object_id == "*" => w.all_keys = true,
                "apikey" => w.keys.push(c.object_id.clone()),
                "usageplankey" => match c.object_id.split_once('/') {
                    Some((_, key)) => w.keys.push(key.to_owned()),
                    None => w.all_keys = true,
                },
                "usageplan" => {
                    w.plans = true;
                    // A deleted plan takes its keys with it.
                    w.all_keys |= c.object_id == "*";
                }
                "account" => w.throttle = true,
                "domainname" | "domaincert" | "basepathmapping" => w.domains = true,
                "clientcert" => w.client_certs = true,
                "usage" => {
                    if let Some((p, k)) = c.object_id.split_once('/') {
                        w.grants.push((p.to_owned(), k.to_owned()));
                    }
                }
                _ => {}
            }
        }
        w.keys.sort();
        w.keys.dedup();
        if w.keys.len() > 1000 {
            w.all_keys = true;
        }
        w
    }
}

/// The custom domains as the TLS listener needs them: an uploaded certificate first, then the
/// regional or edge certificate ARN, else the local CA.
fn tls_domains(
    st: &portico_control::account::AccountState,
) -> Vec<portico_gateway::tls::DomainTls> {
    use portico_gateway::tls::{DomainCert, DomainTls};
    st.domain_names
        .iter()
        .map(|d| {
            let uploaded = st
                .domain_certificates
                .iter()
                .find(|(name, _)| *name == d.domain_name);
            let cert = match (uploaded, &d.regional_certificate_arn, &d.certificate_arn) {
                (Some((_, c)), _, _) => DomainCert::Imported {
                    body: c.body.clone(),
                    chain: c.chain.clone(),
                    key: c.private_key.clone(),
                },
                (None, Some(arn), _) | (None, None, Some(arn)) => DomainCert::Arn(arn.clone()),
                (None, None, None) => DomainCert::Local,
            };
            DomainTls {
                name: d.domain_name.clone(),
                policy: d.security_policy.clone(),
                cert,
                truststore_uri: d
                    .mutual_tls_authentication
                    .as_ref()
                    .and_then(|m| m.truststore_uri.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_control::lambda::{
        CreateAliasInput, CreateFunctionInput, PublishVersionInput, StoredCode,
        UpdateFunctionCodeInput,
    };

    #[test]
    fn every_version_runs_under_its_own_key_with_its_own_code() {
        let input: CreateFunctionInput = serde_json::from_value(serde_json::json!({
            "FunctionName": "f", "Runtime": "python3.12", "Handler": "index.handler",
            "Role": "arn:aws:iam::000000000000:role/r", "Timeout": 7,
            "Environment": {"Variables": {"A": "1"}}
        }))
        .unwrap();
        let code = |dir: &str| StoredCode {
            location: CodeLocation::Unpacked { dir: dir.into() },
            sha256: dir.into(),
            size: 1,
        };
        let mut st = FunctionState::new("f");
        st.create_function(&input, code("/c/1")).unwrap();
        st.publish_version(&PublishVersionInput::default()).unwrap();
        st.update_function_code(&UpdateFunctionCodeInput::default(), code("/c/2"))
            .unwrap();
        st.create_alias(
            &serde_json::from_value::<CreateAliasInput>(
                serde_json::json!({"Name": "live", "FunctionVersion": "1"}),
            )
            .unwrap(),
        )
        .unwrap();
        st.reserved_concurrency = Some(3);
        let (configs, aliases) = served_functions(&[st, FunctionState::new("gone")]);
        // Every version keeps the function's name (AWS_LAMBDA_FUNCTION_NAME); the runtime keys
        // its pools `f` and `f:1` (portico_functions::version_key).
        let seen: Vec<_> = configs
            .iter()
            .map(|c| {
                (
                    portico_functions::version_key(&c.name, &c.version),
                    c.name.as_str(),
                    c.code_dir.to_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("f".to_owned(), "f", Some("/c/2")),
                ("f:1".to_owned(), "f", Some("/c/1"))
            ]
        );
        let c = &configs[0];
        assert_eq!(c.arn, "arn:aws:lambda:us-east-1:000000000000:function:f");
        assert_eq!(c.timeout, std::time::Duration::from_secs(7));
        assert_eq!(c.environment.get("A").map(String::as_str), Some("1"));
        assert_eq!(c.reserved_concurrency, Some(3));
        assert_eq!(
            aliases.get(&("f".to_owned(), "live".to_owned())),
            Some(&"1".to_owned())
        );
    }
}
