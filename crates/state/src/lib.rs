//! The data plane's shared mutable state (work in progress).

mod clock;
mod table;
pub mod throttle;

pub use clock::{Clock, ManualClock, MonotonicClock, Nanos};

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
