//! Portico's configuration store.
//!
//! The embedded default is one SQLite file (`{data_dir}/portico.db`) in WAL mode with
//! `synchronous=FULL`: a write that returned `Ok` survives `kill -9` and power loss, and every
//! command runs in one `BEGIN IMMEDIATE` transaction, so a crash never leaves half an API behind.
//! Every committed command appends a row to the `changes` feed; gateways poll [`Store::change_seq`]
//! and recompile when it moves.
//!
//! ```no_run
//! # async fn demo() -> Result<(), portico_store::StoreError> {
//! let store = portico_store::Store::open(std::path::Path::new("./portico-data")).await?;
//! for s in store.serving_stages().await? {
//!     println!("{} {} -> {}", s.api_id, s.stage.stage_name, s.stage.deployment_id);
//! }
//! # Ok(()) }
//! ```

mod account;
mod error;
mod management;
mod migrate;
mod sqlite;

pub use error::StoreError;
pub use management::DeployToStage;
pub use sqlite::{ImportAndDeploy, ImportOutcome, ServingStage, Store};

#[cfg(test)]
mod tests;
