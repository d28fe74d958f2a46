//! The data plane's shared mutable state (work in progress).

pub mod cache;
mod clock;
pub mod quota;
mod table;
pub mod throttle;

pub use clock::{Clock, ManualClock, MonotonicClock, Nanos};

use quota::{Adjustment, DayUsage, QuotaExceeded, QuotaSettings};
use throttle::{Check, Throttled};

/// Throttling state: token buckets by [`throttle::BucketKey`].
///
/// [`throttle::LocalBuckets`] is the in-process implementation.
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
/// [`quota::LocalCounters`] is the in-process implementation. `now` is wall-clock Unix seconds.
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
