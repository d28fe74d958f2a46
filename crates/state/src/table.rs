//! A sharded hash table keyed by a few borrowed strings, shared by the throttle and quota state.
//!
//! Lookups hash the borrowed parts of a key and compare them against the stored encoding, so a
//! request never allocates to find its entry; only the first use of a key allocates its encoded
//! copy. Each shard is a `RwLock`: hits take the read lock, so requests on different keys (and
//! on the same key) do not serialise on the table; the value itself carries whatever lock it
//! needs (a `Mutex` per entry in both users).

use std::hash::{BuildHasher, Hasher};
use std::sync::{PoisonError, RwLock};

use hashbrown::HashTable;

/// The most string parts a key has (a usage plan + API key + API + stage + method).
pub(crate) const MAX_PARTS: usize = 5;

/// A key as its borrowed parts: a tag naming what kind of key it is, then up to
/// [`MAX_PARTS`] strings. Two keys are equal when the tag and every part are equal.
#[derive(Clone, Copy)]
pub(crate) struct KeyParts<'a> {
    tag: u8,
    len: u8,
    parts: [&'a str; MAX_PARTS],
}

impl<'a> KeyParts<'a> {
    pub(crate) fn new<const N: usize>(tag: u8, given: [&'a str; N]) -> Self {
        const { assert!(N <= MAX_PARTS) };
        let mut parts = [""; MAX_PARTS];
        parts[..N].copy_from_slice(&given);
        // N <= MAX_PARTS (checked above), so the cast cannot truncate.
        Self {
            tag,
            len: N as u8,
            parts,
        }
    }

    fn parts(&self) -> &[&'a str] {
        &self.parts[..usize::from(self.len)]
    }

    fn hash(&self, state: &foldhash::fast::RandomState) -> u64 {
        let mut h = state.build_hasher();
        h.write_u8(self.tag);
        for part in self.parts() {
            h.write_usize(part.len());
            h.write(part.as_bytes());
        }
        h.finish()
    }

    /// Encoding: the tag, then for each part its length (u32 LE) and bytes. Length-prefixed,
    /// so `("ab", "c")` and `("a", "bc")` differ.
    fn encode(&self) -> Box<[u8]> {
        let len = 1 + self.parts().iter().map(|p| 4 + p.len()).sum::<usize>();
        let mut out = Vec::with_capacity(len);
        out.push(self.tag);
        for part in self.parts() {
            out.extend_from_slice(&part_len(part).to_le_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out.into_boxed_slice()
    }

    fn matches(&self, mut encoded: &[u8]) -> bool {
        let Some((&tag, rest)) = encoded.split_first() else {
            return false;
        };
        if tag != self.tag {
            return false;
        }
        encoded = rest;
        for part in self.parts() {
            let Some((len, rest)) = encoded.split_first_chunk::<4>() else {
                return false;
            };
            if u32::from_le_bytes(*len) != part_len(part) {
                return false;
            }
            let Some((bytes, rest)) = rest.split_at_checked(part.len()) else {
                return false;
            };
            if bytes != part.as_bytes() {
                return false;
            }
            encoded = rest;
        }
        encoded.is_empty()
    }
}

/// Ids longer than 4 GiB do not exist; saturate rather than truncate so that such a part can
/// never compare equal to a short one.
fn part_len(part: &str) -> u32 {
    u32::try_from(part.len()).unwrap_or(u32::MAX)
}

struct Entry<V> {
    hash: u64,
    key: Box<[u8]>,
    value: V,
}

pub(crate) struct Sharded<V> {
    shards: Box<[RwLock<HashTable<Entry<V>>>]>,
    hasher: foldhash::fast::RandomState,
}

impl<V> Sharded<V> {
    /// A table with a power-of-two number of shards: four per CPU, between 16 and 256.
    pub(crate) fn new() -> Self {
        let cpus = std::thread::available_parallelism().map_or(4, usize::from);
        let n = (cpus * 4).next_power_of_two().clamp(16, 256);
        Self {
            shards: (0..n).map(|_| RwLock::new(HashTable::new())).collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn shard(&self, hash: u64) -> &RwLock<HashTable<Entry<V>>> {
        // hashbrown uses the low bits for the slot and the top 7 for its control bytes; take
        // the shard from the bits in between so the two stay independent.
        let i = (hash >> 32) as usize & (self.shards.len() - 1);
        &self.shards[i]
    }

    /// Runs `f` on the entry for `key`, creating it with `init` first if there is none.
    pub(crate) fn with<R>(
        &self,
        key: &KeyParts<'_>,
        init: impl FnOnce() -> V,
        f: impl FnOnce(&V) -> R,
    ) -> R {
        let hash = key.hash(&self.hasher);
        let shard = self.shard(hash);
        {
            let table = shard.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(e) = table.find(hash, |e| key.matches(&e.key)) {
                return f(&e.value);
            }
        }
        let mut table = shard.write().unwrap_or_else(PoisonError::into_inner);
        let entry = match table.find(hash, |e| key.matches(&e.key)) {
            Some(e) => e,
            None => table
                .insert_unique(
                    hash,
                    Entry {
                        hash,
                        key: key.encode(),
                        value: init(),
                    },
                    |e| e.hash,
                )
                .into_mut(),
        };
        f(&entry.value)
    }

    /// Runs `f` on the entry for `key` if there is one.
    pub(crate) fn get<R>(&self, key: &KeyParts<'_>, f: impl FnOnce(&V) -> R) -> Option<R> {
        let hash = key.hash(&self.hasher);
        let table = self
            .shard(hash)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        table
            .find(hash, |e| key.matches(&e.key))
            .map(|e| f(&e.value))
    }

    /// Keeps the entries for which `keep` is true, one shard at a time; returns how many were
    /// removed. Shrinks a shard that has become mostly empty.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&V) -> bool) -> usize {
        let mut removed = 0;
        for shard in &self.shards {
            let mut table = shard.write().unwrap_or_else(PoisonError::into_inner);
            let before = table.len();
            table.retain(|e| keep(&e.value));
            removed += before - table.len();
            if table.capacity() > 64 && table.capacity() > table.len() * 4 {
                table.shrink_to_fit(|e| e.hash);
            }
        }
        removed
    }

    /// The number of entries (a sum over the shards, not a snapshot).
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefix_keeps_keys_apart() {
        let a = KeyParts::new(1, ["ab", "c"]);
        let b = KeyParts::new(1, ["a", "bc"]);
        assert!(a.matches(&a.encode()));
        assert!(!a.matches(&b.encode()));
        assert!(!b.matches(&a.encode()));
        // Same parts, another tag.
        assert!(!KeyParts::new(2, ["ab", "c"]).matches(&a.encode()));
        // A prefix of the parts is another key.
        assert!(!KeyParts::new(1, ["ab"]).matches(&a.encode()));
    }

    #[test]
    fn with_creates_once_and_retain_removes() {
        let t: Sharded<u32> = Sharded::new();
        let k = KeyParts::new(0, ["x"]);
        assert_eq!(t.with(&k, || 7, |v| *v), 7);
        assert_eq!(t.with(&k, || 9, |v| *v), 7);
        assert_eq!(t.get(&KeyParts::new(0, ["y"]), |v| *v), None);
        assert_eq!(t.len(), 1);
        assert_eq!(t.retain(|v| *v != 7), 1);
        assert_eq!(t.len(), 0);
    }
}
