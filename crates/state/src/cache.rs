//! Per-stage response caches (API Gateway's stage cache cluster), on `moka`.
//!
//! * One [`StageCache`] per (REST API id, stage name), handed out by [`ResponseCaches`]. The
//!   gateway asks for it when it compiles a stage and keeps the `Arc`; a redeploy of the same
//!   stage with the same cache size gets the same cache back, entries and all. A different
//!   size replaces it (empty), as AWS rebuilds the cluster; [`ResponseCaches::remove`] drops it
//!   when caching is switched off or the stage is deleted.
//! * Keys are the full cache key bytes (the caller's canonical encoding of the method, the
//!   resource path and the cache key parameters). The map compares whole keys, so two
//!   requests whose keys merely hash alike can never share an entry.
//! * Capacity is in bytes (key + headers + body + a fixed overhead per entry):
//!   `min(cacheClusterSize, the configured per-stage cap)`. The cap keeps a "0.5 GB" stage
//!   from being allowed half a gigabyte of this process; moka allocates only what is stored.
//! * Each entry carries its own TTL, the method's `cacheTtlInSeconds` (1 to 3600; 0 means the
//!   method does not cache, see [`Ttl::from_secs`]). Responses over 1 MiB are not cached.
//! * [`StageCache::flush`] is FlushStageCache; [`StageCache::stats`] gives hits and misses
//!   for the `CacheHitCount` / `CacheMissCount` metrics.
//!
//! In cluster mode each node keeps its own cache (no network hop on a hit); a flush reaches
//! the other nodes through the change feed.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use moka::Expiry;

#[cfg(test)]
mod tests;

/// AWS's `cacheClusterSize`, in GB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheClusterSize {
    /// "0.5"
    Gb0_5,
    /// "1.6"
    Gb1_6,
    /// "6.1"
    Gb6_1,
    /// "13.5"
    Gb13_5,
    /// "28.4"
    Gb28_4,
    /// "58.2"
    Gb58_2,
    /// "118"
    Gb118,
    /// "237"
    Gb237,
}

impl CacheClusterSize {
    /// Every size, smallest first.
    pub const ALL: [Self; 8] = [
        Self::Gb0_5,
        Self::Gb1_6,
        Self::Gb6_1,
        Self::Gb13_5,
        Self::Gb28_4,
        Self::Gb58_2,
        Self::Gb118,
        Self::Gb237,
    ];

    /// The string AWS uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Gb0_5 => "0.5",
            Self::Gb1_6 => "1.6",
            Self::Gb6_1 => "6.1",
            Self::Gb13_5 => "13.5",
            Self::Gb28_4 => "28.4",
            Self::Gb58_2 => "58.2",
            Self::Gb118 => "118",
            Self::Gb237 => "237",
        }
    }

    /// The size in bytes (GiB, as memory is counted).
    pub const fn bytes(self) -> u64 {
        const GIB_TENTH: u64 = (1 << 30) / 10;
        GIB_TENTH
            * match self {
                Self::Gb0_5 => 5,
                Self::Gb1_6 => 16,
                Self::Gb6_1 => 61,
                Self::Gb13_5 => 135,
                Self::Gb28_4 => 284,
                Self::Gb58_2 => 582,
                Self::Gb118 => 1180,
                Self::Gb237 => 2370,
            }
    }
}

impl fmt::Display for CacheClusterSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not one of AWS's cache cluster sizes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cache cluster size {0:?} (0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118 or 237)")]
pub struct BadClusterSize(String);

impl FromStr for CacheClusterSize {
    type Err = BadClusterSize;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|size| size.as_str() == s)
            .ok_or_else(|| BadClusterSize(s.to_owned()))
    }
}

/// A cached integration response, shared by every hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers, duplicates kept: a hit clones the map whole.
    pub headers: http::HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl CachedResponse {
    /// The response's size: headers (names and values) and body.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len())
                .sum::<usize>()
    }
}

/// The largest response cached (AWS: 1 MiB).
pub const MAX_CACHED_RESPONSE: usize = 1 << 20;

/// The most a method's `cacheTtlInSeconds` may be.
pub const MAX_TTL_SECS: u32 = 3600;

/// Bookkeeping charged per entry on top of its bytes.
const ENTRY_OVERHEAD: usize = 128;

/// A method's cache TTL: 1 to 3600 seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ttl(u32);

impl Ttl {
    /// `cacheTtlInSeconds`: 0 gives `None` (the method does not cache); above 3600 is
    /// clamped to 3600 (the control plane rejects it before it gets here).
    pub fn from_secs(secs: u32) -> Option<Self> {
        (secs > 0).then_some(Self(secs.min(MAX_TTL_SECS)))
    }

    /// The TTL as a duration.
    pub fn duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0))
    }
}

/// Why a response was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotCached {
    /// Over [`MAX_CACHED_RESPONSE`] bytes.
    #[error("response of {0} bytes is over the 1 MiB cache limit")]
    TooLarge(usize),
}

#[derive(Clone)]
struct Slot {
    response: Arc<CachedResponse>,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<Bytes, Slot> for PerEntryTtl {
    fn expire_after_create(&self, _: &Bytes, slot: &Slot, _: Instant) -> Option<Duration> {
        Some(slot.ttl)
    }

    fn expire_after_update(
        &self,
        _: &Bytes,
        slot: &Slot,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(slot.ttl)
    }
}

/// Hit and miss counts and occupancy of one stage cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Lookups that found a live entry.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Entries stored (moka's estimate; exact after pending maintenance).
    pub entries: u64,
    /// Bytes stored, as weighed.
    pub bytes: u64,
    /// The byte capacity.
    pub capacity: u64,
}

/// One stage's response cache.
pub struct StageCache {
    entries: moka::sync::Cache<Bytes, Slot>,
    size: CacheClusterSize,
    capacity: u64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl fmt::Debug for StageCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StageCache")
            .field("size", &self.size)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl StageCache {
    /// An empty cache of `size`, holding at most `cap` bytes.
    pub fn new(size: CacheClusterSize, cap: u64) -> Self {
        let capacity = size.bytes().min(cap);
        let entries = moka::sync::Cache::builder()
            .max_capacity(capacity)
            .weigher(|key: &Bytes, slot: &Slot| {
                let weight = key.len() + slot.response.size() + ENTRY_OVERHEAD;
                u32::try_from(weight).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        Self {
            entries,
            size,
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The cluster size this cache was made for.
    pub fn size(&self) -> CacheClusterSize {
        self.size
    }

    /// The cached response for `key`, if any and not expired; counts a hit or a miss.
    pub fn get(&self, key: &[u8]) -> Option<Arc<CachedResponse>> {
        let found = self.entries.get(key).map(|slot| slot.response);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores `response` under `key` for `ttl`, replacing any entry there.
    pub fn insert(
        &self,
        key: Bytes,
        response: Arc<CachedResponse>,
        ttl: Ttl,
    ) -> Result<(), NotCached> {
        let size = response.size();
        if size > MAX_CACHED_RESPONSE {
            return Err(NotCached::TooLarge(size));
        }
        self.entries.insert(
            key,
            Slot {
                response,
                ttl: ttl.duration(),
            },
        );
        Ok(())
    }

    /// Drops one entry (a client's `Cache-Control: max-age=0`, when authorized).
    pub fn invalidate(&self, key: &[u8]) {
        self.entries.invalidate(key);
    }

    /// FlushStageCache: drops every entry.
    pub fn flush(&self) {
        self.entries.invalidate_all();
    }

    /// Hits, misses and occupancy.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.entries.entry_count(),
            bytes: self.entries.weighted_size(),
            capacity: self.capacity,
        }
    }

    /// Runs moka's pending maintenance (evictions, counts) now; for tests and metrics.
    pub fn run_pending_tasks(&self) {
        self.entries.run_pending_tasks();
    }
}

/// The default most bytes one stage cache may hold, whatever its cluster size: 64 MiB.
pub const DEFAULT_STAGE_CAP: u64 = 64 << 20;

/// One API's stage caches, by stage name.
type ApiCaches = HashMap<Box<str>, Arc<StageCache>>;

/// Every stage's cache, by REST API id, then stage name.
#[derive(Debug)]
pub struct ResponseCaches {
    apis: RwLock<HashMap<Box<str>, ApiCaches>>,
    cap: u64,
}

impl Default for ResponseCaches {
    fn default() -> Self {
        Self::new(DEFAULT_STAGE_CAP)
    }
}

impl ResponseCaches {
    /// No caches; each one made later holds at most `cap_per_stage` bytes.
    pub fn new(cap_per_stage: u64) -> Self {
        Self {
            apis: RwLock::new(HashMap::new()),
            cap: cap_per_stage,
        }
    }

    /// The cache of `api`'s stage `stage` with cluster size `size`: the existing one when its
    /// size is the same, otherwise a new, empty one that replaces it.
    pub fn stage(&self, api: &str, stage: &str, size: CacheClusterSize) -> Arc<StageCache> {
        if let Some(c) = self.get(api, stage).filter(|c| c.size == size) {
            return c;
        }
        let mut apis = self.apis.write().unwrap_or_else(PoisonError::into_inner);
        let stages = apis.entry(api.into()).or_default();
        let fresh = || Arc::new(StageCache::new(size, self.cap));
        match stages.get_mut(stage) {
            Some(c) if c.size == size => c.clone(),
            Some(c) => {
                *c = fresh();
                c.clone()
            }
            None => stages.entry(stage.into()).or_insert_with(fresh).clone(),
        }
    }

    /// The cache of `api`'s stage `stage`, if it has one (FlushStageCache looks it up here).
    pub fn get(&self, api: &str, stage: &str) -> Option<Arc<StageCache>> {
        let apis = self.apis.read().unwrap_or_else(PoisonError::into_inner);
        apis.get(api)?.get(stage).cloned()
    }

    /// Drops `api`'s stage `stage`'s cache (caching disabled, or the stage deleted).
    pub fn remove(&self, api: &str, stage: &str) -> Option<Arc<StageCache>> {
        let mut apis = self.apis.write().unwrap_or_else(PoisonError::into_inner);
        let stages = apis.get_mut(api)?;
        let removed = stages.remove(stage);
        if stages.is_empty() {
            apis.remove(api);
        }
        removed
    }

    /// Drops every cache of `api` (the API was deleted).
    pub fn remove_api(&self, api: &str) {
        self.apis
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(api);
    }

    /// Keeps only the caches of stages `keep(api, stage)` says are still served; a deleted
    /// stage's cache goes (a stage re-created under its name starts empty).
    pub fn retain(&self, mut keep: impl FnMut(&str, &str) -> bool) {
        let mut apis = self.apis.write().unwrap_or_else(PoisonError::into_inner);
        apis.retain(|api, stages| {
            stages.retain(|stage, _| keep(api, stage));
            !stages.is_empty()
        });
    }

    /// How many stage caches exist.
    pub fn len(&self) -> usize {
        let apis = self.apis.read().unwrap_or_else(PoisonError::into_inner);
        apis.values().map(ApiCaches::len).sum()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
