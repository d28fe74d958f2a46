//! The open WebSocket connections of this node: each connection's entry (what `@connections`
//! reads and writes, how a close is asked for) and the table of them with its limit. A leaf:
//! the gateway holds the table, the session module runs the sockets.

use dashmap::DashMap;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Frames queued for one connection; a full queue refuses `@connections` posts (429).
const QUEUE: usize = 64;

/// Why a post to a connection was refused.
#[derive(Debug)]
pub(crate) enum PostRefused {
    /// [`QUEUE`] frames already wait for a client that does not read.
    Full,
    /// The connection is closing.
    Closing,
}

/// One open connection, as `@connections` and the sweeper see it.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) api_id: Arc<str>,
    pub(crate) stage: Arc<str>,
    pub(crate) connected_at_ms: u64,
    /// Wall-clock ms of the last data frame in or out (`lastActiveAt`).
    pub(crate) last_active_ms: AtomicU64,
    pub(crate) source_ip: Box<str>,
    pub(crate) user_agent: Option<Box<str>>,
    pub(crate) domain_name: Box<str>,
    /// `requestContext.authorizer` granted at `$connect`.
    pub(crate) authorizer: Option<serde_json::Value>,
    /// Frames posted through `@connections`, waiting for the session (allocated on first use).
    pub(crate) posts: Mutex<VecDeque<String>>,
    /// Wakes the session: a post or a close.
    pub(crate) wake: Notify,
    /// The close asked for (its code; 0: none). Kept apart from the posts, so a full queue
    /// never stops a close.
    pub(crate) close_code: AtomicU32,
}

impl Conn {
    pub(crate) fn touch(&self, now_ms: u64) {
        self.last_active_ms.store(now_ms, Relaxed);
    }

    /// Queues a text frame for the client.
    pub(crate) fn post(&self, text: String) -> Result<(), PostRefused> {
        if self.close_code.load(Relaxed) != 0 {
            return Err(PostRefused::Closing);
        }
        let mut q = self.posts.lock().map_err(|_| PostRefused::Closing)?;
        if q.len() >= QUEUE {
            return Err(PostRefused::Full);
        }
        q.push_back(text);
        drop(q);
        self.wake.notify_one();
        Ok(())
    }

    /// Asks the connection to close with `code` (the first code asked for wins).
    pub(crate) fn close(&self, code: u16) {
        let _ = self
            .close_code
            .compare_exchange(0, u32::from(code), Relaxed, Relaxed);
        self.wake.notify_one();
    }
}

/// The open connections of this node (the sockets are theirs); the shared registry
/// ([`portico_state::connections`]) says which node holds an id.
#[derive(Debug)]
pub struct Connections {
    pub(crate) table: DashMap<Box<str>, Arc<Conn>>,
    pub(crate) sweeper: OnceLock<()>,
    /// Most connections open at once (apart from the listener's HTTP connection slots).
    slots: Arc<Semaphore>,
}

impl Default for Connections {
    fn default() -> Self {
        Self::with_limit(DEFAULT_MAX_CONNECTIONS)
    }
}

/// WebSocket connections open at once by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 100_000;

impl Connections {
    /// A table for at most `limit` open connections.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            table: DashMap::new(),
            sweeper: OnceLock::new(),
            slots: Arc::new(Semaphore::new(limit.clamp(1, Semaphore::MAX_PERMITS))),
        }
    }

    /// A slot for one more connection (`None`: the limit is reached).
    pub(crate) fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// How many connections are open here.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<Conn>> {
        self.table.get(id).map(|c| c.clone())
    }
}

/// A fresh connection id as AWS writes them: 15 letters and digits and `=`. From the
/// operating system's generator: without signing keys, a connection's id is what guards it.
pub(crate) fn new_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut raw = [0u8; 15];
    if getrandom::fill(&mut raw).is_err() {
        raw.iter_mut().for_each(|b| *b = fastrand::u8(..));
    }
    let mut s: String = raw
        .iter()
        // 120 bits from the OS, folded onto 62 letters (about 89 bits survive).
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    s.push('=');
    s
}

/// The connection's entry, made when `$connect` accepted it.
pub(crate) fn open(facts: ConnFacts, connected_at_ms: u64) -> Arc<Conn> {
    Arc::new(Conn {
        api_id: facts.api_id,
        stage: facts.stage,
        connected_at_ms,
        last_active_ms: AtomicU64::new(connected_at_ms),
        source_ip: facts.source_ip,
        user_agent: facts.user_agent,
        domain_name: facts.domain_name,
        authorizer: facts.authorizer,
        posts: Mutex::new(VecDeque::new()),
        wake: Notify::new(),
        close_code: AtomicU32::new(0),
    })
}

/// What a connection is made of.
pub(crate) struct ConnFacts {
    pub(crate) api_id: Arc<str>,
    pub(crate) stage: Arc<str>,
    pub(crate) source_ip: Box<str>,
    pub(crate) user_agent: Option<Box<str>>,
    pub(crate) domain_name: Box<str>,
    pub(crate) authorizer: Option<serde_json::Value>,
}
