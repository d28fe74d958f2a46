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

use portico_gateway::{CompileWarning, Gateway, StageInput};
use portico_store::{Store, StoreError};
use std::sync::Arc;

/// Publishes the store's serving stages to a gateway when the change feed moves.
#[derive(Debug)]
pub struct Publisher {
    store: Store,
    gateway: Arc<Gateway>,
    /// The change-feed position last published; `None` before the first publish.
    seen: tokio::sync::Mutex<Option<i64>>,
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
    /// A publisher that has published nothing yet: its first [`sync`](Self::sync) publishes.
    pub fn new(store: Store, gateway: Arc<Gateway>) -> Self {
        Self {
            store,
            gateway,
            seen: tokio::sync::Mutex::new(None),
        }
    }

    /// Publishes every serving stage if the change feed moved since the last publish.
    ///
    /// On an error the gateway keeps serving what it served, and the next call tries again.
    pub async fn sync(&self) -> Result<Published, StoreError> {
        let mut seen = self.seen.lock().await;
        // Read the position before the stages: a change landing in between is published now
        // and, being newer than the recorded position, once more by the next sync.
        let seq = self.store.change_seq().await?;
        if *seen == Some(seq) {
            return Ok(Published::default());
        }
        // Each stage is compiled as soon as it is read: the parsed snapshots of every stage would
        // take several times the memory of what is compiled from them.
        let mut built = self.gateway.snapshot_builder();
        let stages = self
            .store
            .for_each_serving_stage(|s| {
                built.add(&StageInput {
                    api_id: s.api_id,
                    stage: s.stage,
                    snapshot: s.snapshot,
                })
            })
            .await?;
        let warnings = self.gateway.publish_built(built);
        *seen = Some(seq);
        Ok(Published {
            stages: Some(stages),
            warnings,
        })
    }
}
