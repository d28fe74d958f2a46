//! Token buckets for API Gateway throttling: account, stage, method, usage plan (per API key)
//! and usage plan method limits.
//!
//! # Semantics
//!
//! A bucket holds up to `burst` tokens and refills at `rate` tokens per second (fractional
//! rates such as 0.5 are fine); tokens are `f64`, so a slow bucket accrues fractions between
//! requests. A request takes one whole token or is refused. A new bucket starts full.
//!
//! * `burst == 0` refuses every request, whatever the rate: a bucket that can hold no token can
//!   never hand one out. This is the token-bucket reading of AWS's documentation (the burst is
//!   "the maximum bucket size") and what AWS users rely on to switch a method off with a zero
//!   limit. Portico does not round a zero burst up to one.
//! * `rate == 0` with `burst > 0` admits `burst` requests and then refuses until the limits
//!   change (the bucket never refills).
//! * A negative or NaN rate counts as 0.
//!
//! # Limits travel with the request
//!
//! The caller passes the bucket's [`Limits`] on every call (they come from the compiled
//! snapshot). When they differ from the ones the bucket last saw, the bucket first refills at
//! the old rate up to now, then adopts the new limits and keeps its tokens, capped to the new
//! burst. So a redeploy or an UpdateStage never refills or empties a bucket; buckets are keyed
//! by stable ids ([`BucketKey`]), never by compiled objects, and so survive redeploys.
//!
//! # Several buckets per request
//!
//! [`LocalBuckets::try_acquire`] takes a token from each bucket in order and stops at the first
//! that refuses; the buckets before it get their token back. Between the take and the give-back
//! another request may see one token fewer in those buckets: "atomic-ish", never a lost or a
//! double-spent token. AWS itself describes its throttles as best-effort targets.
//!
//! # Cost
//!
//! A bucket is a `Mutex<TokenBucket>` inside a sharded table (`RwLock` per shard, read-locked
//! on hits). Measured with the ignored `bench_try_acquire` test (release, a 2-core VM shared
//! with other builds, so ±30%): the bucket arithmetic alone is ~3 ns, with its mutex ~8 ns;
//! a clock read ~30 ns; a whole [`LocalBuckets::try_acquire_one`] ~60 ns; four buckets in one
//! [`LocalBuckets::try_acquire`] (one clock read) ~145 ns; a lookup among 1M distinct keys
//! ~340 ns (cache misses). A lock-free compare-and-swap on packed state could save at most the
//! ~5 ns the mutex costs and would need the tokens squeezed into 64 bits (or GCRA, which has
//! no exact form for rate 0), so the mutex stays.
//!
//! # Memory
//!
//! [`LocalBuckets::sweep`] drops buckets that have been idle for the idle timeout (10 minutes
//! by default) and are full again, so dropping them loses nothing (a new bucket starts full).
//! A bucket idle for six idle timeouts is dropped even when not full (a rate-0 bucket, or a
//! very slow one), which may give such a key a fresh burst. The owner calls `sweep`
//! periodically (every minute is plenty).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::clock::{Clock, Nanos};
use crate::table::{KeyParts, Sharded};

#[cfg(test)]
mod tests;

/// A bucket's limits: AWS's `rateLimit` (requests per second, may be fractional) and
/// `burstLimit` (bucket capacity).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Tokens added per second.
    pub rate: f64,
    /// The most tokens the bucket holds.
    pub burst: u32,
}

impl Limits {
    /// Limits of `rate` requests per second with a bucket of `burst`.
    pub const fn new(rate: f64, burst: u32) -> Self {
        Self { rate, burst }
    }

    /// The rate with negative and NaN values read as 0.
    fn rate(self) -> f64 {
        if self.rate > 0.0 { self.rate } else { 0.0 }
    }
}

/// What a bucket counts, by the stable ids of the objects that configure it (never by compiled
/// objects, so a bucket survives redeploys).
///
/// `method` is the method's identity inside its stage as API Gateway's method settings write it,
/// `{resource path}/{HTTP method}` (for example `/pets/{id}/GET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BucketKey<'a> {
    /// The account-level limit.
    Account {
        /// Account id.
        account: &'a str,
    },
    /// A stage's default method throttling.
    Stage {
        /// REST API id.
        api: &'a str,
        /// Stage name.
        stage: &'a str,
    },
    /// A method-level override in a stage's method settings.
    Method {
        /// REST API id.
        api: &'a str,
        /// Stage name.
        stage: &'a str,
        /// `{resource path}/{HTTP method}`.
        method: &'a str,
    },
    /// A usage plan's throttle, which AWS applies per API key.
    UsagePlanKey {
        /// Usage plan id.
        plan: &'a str,
        /// API key id.
        key: &'a str,
    },
    /// A usage plan's per-method throttle for one API stage, per API key.
    UsagePlanKeyMethod {
        /// Usage plan id.
        plan: &'a str,
        /// API key id.
        key: &'a str,
        /// REST API id.
        api: &'a str,
        /// Stage name.
        stage: &'a str,
        /// `{resource path}/{HTTP method}`.
        method: &'a str,
    },
}

impl<'a> BucketKey<'a> {
    fn parts(&self) -> KeyParts<'a> {
        match *self {
            Self::Account { account } => KeyParts::new(0, [account]),
            Self::Stage { api, stage } => KeyParts::new(1, [api, stage]),
            Self::Method { api, stage, method } => KeyParts::new(2, [api, stage, method]),
            Self::UsagePlanKey { plan, key } => KeyParts::new(3, [plan, key]),
            Self::UsagePlanKeyMethod {
                plan,
                key,
                api,
                stage,
                method,
            } => KeyParts::new(4, [plan, key, api, stage, method]),
        }
    }
}

/// One bucket to take a token from: its key and its current limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Check<'a> {
    /// Which bucket.
    pub key: BucketKey<'a>,
    /// Its limits as configured now.
    pub limits: Limits,
}

impl<'a> Check<'a> {
    /// A check of `key` under `limits`.
    pub const fn new(key: BucketKey<'a>, limits: Limits) -> Self {
        Self { key, limits }
    }
}

/// A request refused by a token bucket (429 `THROTTLED` / "Too Many Requests").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("throttled by bucket {index} of the request's checks")]
pub struct Throttled {
    /// The index, in the checks passed, of the bucket that refused.
    pub index: usize,
}

/// The token bucket algorithm on its own: no key, no lock, time passed in.
///
/// This is the exact arithmetic a cluster implementation mirrors (the Redis script keeps the
/// same two numbers, `tokens` and `at`, per key).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    at: Nanos,
    limits: Limits,
}

/// Tolerance for refill rounding: 1e-9 of a token never admits a request the exact arithmetic
/// would refuse by more than a nanosecond's worth of refill.
const EPSILON: f64 = 1e-9;

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(limits: Limits, now: Nanos) -> Self {
        Self {
            tokens: f64::from(limits.burst),
            at: now,
            limits,
        }
    }

    /// The tokens the bucket holds as of `now`, after refilling (does not change the bucket).
    pub fn tokens(&self, now: Nanos) -> f64 {
        let mut b = *self;
        b.refill(now);
        b.tokens
    }

    /// The limits the bucket last saw.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// When the bucket last refilled (its last use).
    pub fn last_used(&self) -> Nanos {
        self.at
    }

    fn refill(&mut self, now: Nanos) {
        if now > self.at {
            let elapsed = (now - self.at) as f64 * 1e-9;
            let burst = f64::from(self.limits.burst);
            self.tokens = (self.tokens + elapsed * self.limits.rate()).min(burst);
            self.at = now;
        }
    }

    /// Refills up to `now` under the old limits, then adopts `limits`, keeping the tokens
    /// (capped to the new burst).
    pub fn reconfigure(&mut self, limits: Limits, now: Nanos) {
        self.refill(now);
        if limits != self.limits {
            self.limits = limits;
            self.tokens = self.tokens.min(f64::from(limits.burst));
        }
    }

    /// Takes one token at `now` under `limits`; false when the bucket has none.
    pub fn try_take(&mut self, limits: Limits, now: Nanos) -> bool {
        self.reconfigure(limits, now);
        if self.tokens + EPSILON >= 1.0 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }

    /// Returns a token taken by [`try_take`](Self::try_take) (capped to the burst).
    pub fn give_back(&mut self) {
        self.tokens = (self.tokens + 1.0).min(f64::from(self.limits.burst));
    }

    /// True when the bucket is full as of `now`: it is then indistinguishable from a new one.
    pub fn is_full(&self, now: Nanos) -> bool {
        self.tokens(now) + EPSILON >= f64::from(self.limits.burst)
    }
}

/// The in-process throttle state: a sharded table of [`TokenBucket`]s, each behind its own
/// (uncontended in the common case) mutex.
pub struct LocalBuckets {
    table: Sharded<Mutex<TokenBucket>>,
    clock: Arc<dyn Clock>,
    idle: Nanos,
}

impl std::fmt::Debug for LocalBuckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBuckets")
            .field("buckets", &self.table.len())
            .field("idle_ns", &self.idle)
            .finish_non_exhaustive()
    }
}

/// How long a full bucket stays after its last use, by default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

impl LocalBuckets {
    /// Buckets on `clock`, swept after [`DEFAULT_IDLE_TIMEOUT`].
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_idle_timeout(clock, DEFAULT_IDLE_TIMEOUT)
    }

    /// Buckets on `clock` that [`sweep`](Self::sweep) drops after `idle` without use.
    pub fn with_idle_timeout(clock: Arc<dyn Clock>, idle: Duration) -> Self {
        Self {
            table: Sharded::new(),
            clock,
            idle: u64::try_from(idle.as_nanos()).unwrap_or(u64::MAX),
        }
    }

    fn take(&self, check: &Check<'_>, now: Nanos) -> bool {
        self.table.with(
            &check.key.parts(),
            || Mutex::new(TokenBucket::new(check.limits, now)),
            |b| {
                b.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .try_take(check.limits, now)
            },
        )
    }

    fn give_back(&self, key: &BucketKey<'_>) {
        self.table.get(&key.parts(), |b| {
            b.lock().unwrap_or_else(PoisonError::into_inner).give_back();
        });
    }

    /// Takes a token from every bucket in `checks`, in order. On the first refusal the buckets
    /// before it get their token back and the error names the refusing check.
    pub fn try_acquire(&self, checks: &[Check<'_>]) -> Result<(), Throttled> {
        let now = self.clock.now();
        for (index, check) in checks.iter().enumerate() {
            if !self.take(check, now) {
                for earlier in &checks[..index] {
                    self.give_back(&earlier.key);
                }
                return Err(Throttled { index });
            }
        }
        Ok(())
    }

    /// Takes a token from one bucket.
    pub fn try_acquire_one(&self, key: BucketKey<'_>, limits: Limits) -> bool {
        self.take(&Check { key, limits }, self.clock.now())
    }

    /// The tokens `key`'s bucket holds now, or `None` when it has no bucket (it would start
    /// full).
    pub fn tokens(&self, key: BucketKey<'_>) -> Option<f64> {
        let now = self.clock.now();
        self.table.get(&key.parts(), |b| {
            b.lock().unwrap_or_else(PoisonError::into_inner).tokens(now)
        })
    }

    /// Drops idle buckets (see the module docs); returns how many.
    pub fn sweep(&self) -> usize {
        let now = self.clock.now();
        let idle = self.idle;
        let hard = idle.saturating_mul(6);
        self.table.retain(|b| {
            let b = b.lock().unwrap_or_else(PoisonError::into_inner);
            let unused = now.saturating_sub(b.last_used());
            !(unused >= hard || unused >= idle && b.is_full(now))
        })
    }

    /// How many buckets exist.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when there are no buckets.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl crate::ThrottleState for LocalBuckets {
    fn try_acquire(&self, checks: &[Check<'_>]) -> Result<(), Throttled> {
        LocalBuckets::try_acquire(self, checks)
    }

    fn sweep(&self) -> usize {
        LocalBuckets::sweep(self)
    }
}
