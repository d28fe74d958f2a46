//! The process-wide budget for bodies the gateway holds whole.
//!
//! Request bodies that a route reads whole (mapping templates, validation, parameter mappings
//! from the body, a proxied body of unknown length) and backend responses that a template or
//! mapping reads are held in memory. Each such body takes its bytes from one [`BodyBudget`]
//! before it is read — all of them at once when the length is declared, chunk by chunk
//! otherwise — and gives them back when the request is done with them ([`Hold`] is dropped). A
//! body that does not fit is refused at once with `429 Too Many Requests`, API Gateway's answer
//! when it is over capacity, instead of growing the heap: under a flood of large or trickled
//! bodies the process stays within the budget plus a fixed overhead, and requests that buffer
//! nothing are unaffected.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Bytes of buffered bodies the whole process may hold at once.
#[derive(Debug)]
pub struct BodyBudget {
    limit: u64,
    used: AtomicU64,
    refused: AtomicU64,
}

impl BodyBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            used: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// The budget's size in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes held now.
    pub fn in_use(&self) -> u64 {
        self.used.load(Relaxed)
    }

    /// Bodies refused so far because the budget was spent.
    pub fn refused(&self) -> u64 {
        self.refused.load(Relaxed)
    }

    /// An empty hold, to grow as a body arrives.
    pub fn hold(&self) -> Hold<'_> {
        Hold {
            budget: self,
            bytes: 0,
        }
    }

    /// A default from the memory the process may use: a quarter of the cgroup limit or of the
    /// machine's memory, at least 64 MiB and at most 1 GiB.
    pub fn default_limit() -> u64 {
        const MIB: u64 = 1024 * 1024;
        let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kb| kb * 1024)
        });
        let memory = match (cgroup, total) {
            (Some(c), Some(t)) => c.min(t),
            (c, t) => c.or(t).unwrap_or(4096 * MIB),
        };
        (memory / 4).clamp(64 * MIB, 1024 * MIB)
    }
}

/// Bytes taken from a [`BodyBudget`], given back when dropped.
#[derive(Debug)]
pub struct Hold<'a> {
    budget: &'a BodyBudget,
    bytes: u64,
}

impl Hold<'_> {
    /// Takes `n` more bytes; `false` (and nothing taken) when the budget cannot give them.
    pub fn grow(&mut self, n: u64) -> bool {
        let b = self.budget;
        let mut used = b.used.load(Relaxed);
        loop {
            let Some(next) = used.checked_add(n).filter(|&u| u <= b.limit) else {
                b.refused.fetch_add(1, Relaxed);
                return false;
            };
            match b.used.compare_exchange_weak(used, next, Relaxed, Relaxed) {
                Ok(_) => {
                    self.bytes += n;
                    return true;
                }
                Err(now) => used = now,
            }
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.budget.used.fetch_sub(self.bytes, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_take_and_give_back() {
        let b = BodyBudget::new(100);
        let mut one = b.hold();
        assert!(one.grow(60));
        let mut two = b.hold();
        assert!(!two.grow(41), "over the budget");
        assert_eq!(b.refused(), 1);
        assert!(two.grow(40));
        assert_eq!(b.in_use(), 100);
        drop(one);
        assert_eq!(b.in_use(), 40);
        assert!(two.grow(60));
        drop(two);
        assert_eq!(b.in_use(), 0);
        assert!(!b.hold().grow(u64::MAX), "no overflow");
    }

    #[test]
    fn the_default_is_bounded() {
        let d = BodyBudget::default_limit();
        assert!((64 << 20..=1 << 30).contains(&d), "{d}");
    }
}
