//! Where each WebSocket connection lives: connection id → the node holding its socket.
//!
//! A WebSocket API's `@connections` calls (post, get, delete) can arrive at any node of a
//! cluster, but only the node that accepted the socket can write to it. The registry answers
//! "who holds this connection"; the gateway keeps the sockets themselves (they are its own
//! tasks), and sends the call there: in process when the owner is this node, to the owner's
//! address otherwise. [`LocalConnections`] is the in-process registry (one node owns
//! everything); a Redis registry goes behind the same trait: `SET conn:{id} {node} EX 7200` on
//! register, `GET` on locate, `DEL` on unregister — a round trip only on `@connections` calls,
//! never per message.
//!
//! ```
//! use portico_state::connections::{ConnectionRegistry, LocalConnections, Owner};
//! let registry = LocalConnections::default();
//! registry.register("R1kmxc2VNjMCFIA=", Owner::local());
//! assert_eq!(registry.locate("R1kmxc2VNjMCFIA="), Some(Owner::local()));
//! registry.unregister("R1kmxc2VNjMCFIA=");
//! assert_eq!(registry.locate("R1kmxc2VNjMCFIA="), None);
//! ```

use std::sync::Arc;
use std::sync::Mutex;

/// The node that holds a connection's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The node's id (its advertised address in cluster mode; `local` in process).
    pub node: Arc<str>,
}

impl Owner {
    /// This process, when it is the only node.
    pub fn local() -> Self {
        static LOCAL: std::sync::LazyLock<Arc<str>> =
            std::sync::LazyLock::new(|| Arc::from("local"));
        Self {
            node: LOCAL.clone(),
        }
    }
}

/// The connection registry: one entry per open WebSocket connection.
pub trait ConnectionRegistry: Send + Sync + 'static {
    /// Records that `owner` holds connection `id` (on the accepted handshake).
    fn register(&self, id: &str, owner: Owner);
    /// Who holds connection `id`, if it is open.
    fn locate(&self, id: &str) -> Option<Owner>;
    /// Forgets connection `id` (it closed).
    fn unregister(&self, id: &str);
    /// How many connections are registered.
    fn len(&self) -> usize;
    /// Whether none is.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Shards of the in-process registry (connections are spread by id hash).
const SHARDS: usize = 16;

/// One shard: connection id → owner.
type Shard = Mutex<std::collections::HashMap<Box<str>, Owner>>;

/// The in-process registry: sharded maps, each behind its own small lock.
#[derive(Debug)]
pub struct LocalConnections {
    shards: Box<[Shard]>,
    hasher: foldhash::fast::RandomState,
}

impl Default for LocalConnections {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl LocalConnections {
    fn shard(&self, id: &str) -> &Shard {
        use std::hash::BuildHasher;
        &self.shards[self.hasher.hash_one(id) as usize % SHARDS]
    }
}

impl ConnectionRegistry for LocalConnections {
    fn register(&self, id: &str, owner: Owner) {
        if let Ok(mut m) = self.shard(id).lock() {
            m.insert(id.into(), owner);
        }
    }

    fn locate(&self, id: &str) -> Option<Owner> {
        self.shard(id).lock().ok()?.get(id).cloned()
    }

    fn unregister(&self, id: &str) {
        if let Ok(mut m) = self.shard(id).lock() {
            m.remove(id);
        }
    }

    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_connections_are_found_and_forgotten() {
        let r = LocalConnections::default();
        for i in 0..1000 {
            r.register(&format!("c{i}="), Owner::local());
        }
        assert_eq!(r.len(), 1000);
        assert!(r.locate("c999=").is_some());
        for i in 0..1000 {
            r.unregister(&format!("c{i}="));
        }
        assert!(r.is_empty());
        assert!(r.locate("c1=").is_none());
    }
}
