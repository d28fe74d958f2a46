//! Portico's configuration store.
//!
//! The embedded default is one SQLite file (`{data_dir}/portico.db`) in WAL mode with
//! `synchronous=FULL`: a write that returned `Ok` survives `kill -9` and power loss, and every
//! command runs in one `BEGIN IMMEDIATE` transaction, so a crash never leaves half an API behind.
//! Every committed command appends rows to the `changes` feed naming what changed; gateways poll
//! [`Store::change_seq`] and read [`Store::changes_since`] to recompile only that.
//!
//! API keys, usage plan memberships, usage counters and `UpdateUsage` grants live in their own
//! tables and are read and written row by row ([`Store::create_api_key`],
//! [`Store::import_api_keys`], [`Store::for_each_api_key`], [`Store::add_usage`], …); the few
//! other account objects go through [`Store::modify_account`]. Lambda functions (with their
//! versions, aliases, policies and concurrency) go through [`Store::modify_function`]. HTTP APIs
//! (`apigatewayv2`) go through [`Store::modify_http_api`] and their own stage and deployment
//! calls; a change to what an `autoDeploy` stage serves re-deploys it in the same transaction.
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
mod changes;
mod error;
mod functions;
mod http_apis;
mod keys;
mod management;
mod migrate;
mod sqlite;

pub use changes::{ACCOUNT_KINDS, Change, ChangeBatch};
pub use error::StoreError;
pub use http_apis::ServingHttpStage;
pub use keys::{ApiKeyQuery, Page, RemainingOverride, UsageCount};
pub use management::DeployToStage;
pub use sqlite::{ImportAndDeploy, ImportOutcome, ServingStage, Store};

#[cfg(test)]
mod functions_tests;
#[cfg(test)]
mod keys_tests;
#[cfg(test)]
mod tests;
