//! The data plane's shared mutable state: throttling token buckets, usage-plan quota counters
//! and per-stage response caches. Configuration lives in the store and reaches the gateway as
//! immutable snapshots; everything the gateway *changes* while serving lives here, so the data
//! plane never writes the config store on the request path.
//!
//! ```
//! use std::sync::Arc;
//! use portico_state::{SharedState, throttle::{BucketKey, Check, Limits}};
//!
//! let state = SharedState::in_process();
//! let checks = [
//!     Check::new(BucketKey::Account { account: "local" }, Limits::new(10_000.0, 5_000)),
//!     Check::new(BucketKey::Stage { api: "a1b2c3", stage: "prod" }, Limits::new(0.5, 1)),
//! ];
//! assert!(state.throttle.try_acquire(&checks).is_ok());
//! assert!(state.throttle.try_acquire(&checks).is_err()); // the stage bucket is empty
//! ```
//!
//! # The interface: synchronous, by design
//!
//! Every request-path call ([`ThrottleState::try_acquire`], [`QuotaState::try_consume`],
//! [`cache::StageCache::get`]) is a plain synchronous method that touches local memory only: a
//! sharded table (no global lock), then one small per-entry mutex held for a few arithmetic
//! operations. No call allocates once its key exists.
//!
//! The alternative was a result that is either ready or pending (`Ready::Now(T)` /
//! `Ready::Later(future)`), so that a Redis implementation could await a round trip. It was
//! not taken: a round trip per request puts the network's latency, and Redis's availability,
//! on every request, and turns a nanosecond check into a millisecond one. Cluster mode instead
//! keeps the request path local and moves the coordination into batches:
//!
//! * **Throttling: local token leases.** Each node keeps [`throttle::LocalBuckets`] as the
//!   authority for its requests, but in cluster mode a node's bucket refills from *leases*
//!   instead of the clock: a background task (every 50–100 ms, one pipelined round trip for
//!   all hot keys) runs the same algorithm ([`throttle::TokenBucket`]: `tokens`, `at`,
//!   refill, cap to burst) as a Redis Lua script against the global bucket and takes a batch
//!   of tokens sized to the node's recent demand; the node spends them locally. A node cut
//!   off from Redis falls back to `rate / nodes` locally. The cluster may overshoot the
//!   global limit by at most one outstanding lease per node, which is within AWS's own
//!   "best-effort target" wording.
//! * **Quotas: batched increments.** Nodes already count locally and drain increments with
//!   [`QuotaState::take_dirty`] once a second; in cluster mode the drain becomes a pipelined
//!   `HINCRBY` per (plan, key, day) whose replies bring back the global totals, which the node
//!   loads as the period's usage. A key can overshoot its quota by at most a second's worth of
//!   requests across the cluster, like AWS's quotas ("targets, not ceilings").
//! * **Response cache: per node.** Each node keeps its own [`cache::ResponseCaches`]; a hit
//!   never leaves the process. FlushStageCache reaches every node through the change feed.
//!
//! So a Redis implementation is a drop-in behind the same two traits, [`ThrottleState`] and
//! [`QuotaState`], that [`SharedState`] holds: the gateway keeps calling synchronous methods,
//! and the network work happens on the implementation's own background task.
//!
//! # Keys survive redeploys
//!
//! Buckets, counters and caches are keyed by stable ids (account, REST API id, stage name,
//! `{resource path}/{method}`, usage plan id, API key id), never by compiled snapshot objects.
//! A redeploy compiles a new snapshot; its requests find the same buckets, counters and caches.
//! Limits travel with each call (from the snapshot), so changed limits apply at once and keep
//! the state that exists.
//!
//! # Time
//!
//! Token buckets read a monotonic [`Clock`] (inject [`ManualClock`] in tests). Quotas are
//! calendar periods in UTC and take the wall-clock time, in Unix seconds, as an argument.

pub mod cache;
mod clock;
pub mod connections;
pub mod quota;
mod table;
pub mod throttle;

use std::sync::Arc;

pub use clock::{Clock, ManualClock, MonotonicClock, Nanos};

use quota::{Adjustment, DayUsage, QuotaExceeded, QuotaSettings};
use throttle::{Check, Throttled};

/// Throttling state: token buckets by [`throttle::BucketKey`].
///
/// [`throttle::LocalBuckets`] is the in-process implementation; see the crate docs for the
/// cluster design.
pub trait ThrottleState: Send + Sync + 'static {
    /// Takes one token from each bucket of `checks`, in order (account, stage or method,
    /// usage plan, usage plan method). When one refuses, the ones before it are not charged
    /// and the error says which refused.
    fn try_acquire(&self, checks: &[Check<'_>]) -> Result<(), Throttled>;

    /// Drops buckets idle long enough that dropping them loses nothing; returns how many.
    /// The owner calls it periodically (every minute).
    fn sweep(&self) -> usize;
}

/// Usage-plan quota state: request counts per (usage plan id, API key id).
///
/// [`quota::LocalCounters`] is the in-process implementation; see the crate docs for the
/// cluster design. `now` is wall-clock Unix seconds.
pub trait QuotaState: Send + Sync + 'static {
    /// Counts one request; returns what remains of the period after it, or
    /// [`QuotaExceeded`] (and does not count it).
    fn try_consume(
        &self,
        plan: &str,
        key: &str,
        quota: &QuotaSettings,
        now: i64,
    ) -> Result<u64, QuotaExceeded>;

    /// What remains of the current period (GetUsage).
    fn remaining(&self, plan: &str, key: &str, quota: &QuotaSettings, now: i64) -> u64;

    /// UpdateUsage: sets what remains of the current period; returns the record to persist.
    fn set_remaining(
        &self,
        plan: &str,
        key: &str,
        quota: &QuotaSettings,
        remaining: u64,
        now: i64,
    ) -> Adjustment;

    /// Applies a persisted UpdateUsage (start-up replay, or one made on another node).
    fn adjust(&self, adjustment: &Adjustment);

    /// Seeds per-day totals from the store (start-up).
    fn load(&self, rows: Vec<DayUsage>);

    /// Drains the per-day increments counted since the last drain, for the owner to persist
    /// in one batch (once a second or so).
    fn take_dirty(&self) -> Vec<DayUsage>;

    /// Drops counters with nothing to persist and no recent use; returns how many.
    fn sweep(&self, now: i64) -> usize;
}

/// The runtime state a gateway is built with: cheap to clone, shared by every connection.
#[derive(Clone)]
pub struct SharedState {
    /// Token buckets.
    pub throttle: Arc<dyn ThrottleState>,
    /// Quota counters.
    pub quotas: Arc<dyn QuotaState>,
    /// Per-stage response caches (always per node).
    pub caches: Arc<cache::ResponseCaches>,
    /// Which node holds each WebSocket connection.
    pub connections: Arc<dyn connections::ConnectionRegistry>,
}

impl std::fmt::Debug for SharedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedState")
            .field("caches", &self.caches)
            .finish_non_exhaustive()
    }
}

impl SharedState {
    /// In-process state on the monotonic clock, with the default per-stage cache cap.
    pub fn in_process() -> Self {
        Self::in_process_with(Arc::new(MonotonicClock::new()), cache::DEFAULT_STAGE_CAP)
    }

    /// In-process state on `clock`, each stage cache holding at most `cache_cap_per_stage`
    /// bytes.
    pub fn in_process_with(clock: Arc<dyn Clock>, cache_cap_per_stage: u64) -> Self {
        Self {
            throttle: Arc::new(throttle::LocalBuckets::new(clock)),
            quotas: Arc::new(quota::LocalCounters::new()),
            caches: Arc::new(cache::ResponseCaches::new(cache_cap_per_stage)),
            connections: Arc::new(connections::LocalConnections::default()),
        }
    }
}
