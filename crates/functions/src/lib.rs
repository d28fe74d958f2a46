//! Lambda functions without Docker.
//!
//! A [`Runtime`] runs each function's **unmodified** handler in warm worker processes that speak
//! the real [Lambda Runtime API]: every worker is a sandbox with its own Runtime API listener on
//! loopback (`AWS_LAMBDA_RUNTIME_API`), as on Lambda, so any runtime client works — a `bootstrap`
//! executable (`provided`, `provided.al2`, `provided.al2023`: a Rust handler built with
//! `lambda_runtime`, `awslambdaric` behind a shell script, …), or the small Python and Node.js
//! bootstraps shipped here for `python3.x` and `nodejs*` (`index.handler` with nothing but the
//! machine's `python3`/`node`).
//!
//! **Pools.** A function runs at most its reserved concurrency of workers at once (else
//! [`RuntimeSettings::max_workers`]); more invocations wait in a bounded queue, then get
//! [`InvokeError::TooManyRequests`] (Lambda's 429). A worker that finished an invocation goes back
//! to the pool when it asks for the next one; one that does not within its timeout is killed. A
//! worker idle for [`RuntimeSettings::idle_timeout`] is reaped.
//!
//! **Failures**, as Lambda reports them to the caller (an [`Invoked`] with a function error):
//! an invocation past the function's timeout kills the worker (`Sandbox.Timedout`); a worker that
//! exits mid-invocation (`Runtime.ExitError`) or fails its init (`/runtime/init/error`) is
//! replaced by the next invocation.
//!
//! **Isolation.** Workers start with a clean environment (the standard Lambda variables, `PATH`,
//! and the function's own variables: none of Portico's), in their own process group, killed with
//! it when the pool drops them. Their stdout and stderr are read line by line (bounded), tagged
//! with the request id, forwarded to Portico's log (rate-limited) and kept as the last 4 KB for
//! `LogType: Tail`.
//!
//! [Lambda Runtime API]: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html

pub mod code;
mod sandbox;

use bytes::Bytes;
use sandbox::{Sandbox, SandboxError};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Largest synchronous invocation payload, request or response (Lambda: 6 MB).
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// What a function runs as. A change of any field replaces the function's workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    /// `FunctionName`.
    pub name: String,
    /// `FunctionArn` (unqualified).
    pub arn: String,
    /// `$LATEST` or a published version number.
    pub version: String,
    /// `python3.12`, `nodejs20.x`, `provided.al2023`, …
    pub runtime: String,
    /// `index.handler` (ignored by `provided` runtimes, which read `_HANDLER` themselves).
    pub handler: String,
    /// The unpacked code (`LAMBDA_TASK_ROOT`).
    pub code_dir: PathBuf,
    /// The function's own environment variables.
    pub environment: BTreeMap<String, String>,
    /// `Timeout`.
    pub timeout: Duration,
    /// `MemorySize` (MB), reported to the handler.
    pub memory_mb: u32,
    /// `ReservedConcurrentExecutions`: at most this many workers (0: every call is throttled).
    pub reserved_concurrency: Option<u32>,
}

/// Settings every function shares.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// Where the shipped bootstraps are written (`{work_dir}/bootstrap`).
    pub work_dir: PathBuf,
    /// `AWS_REGION` of the workers.
    pub region: String,
    /// Workers per function without reserved concurrency.
    pub max_workers: usize,
    /// Invocations waiting for a worker, per function, before 429.
    pub queue_bound: usize,
    /// Idle workers are stopped after this long.
    pub idle_timeout: Duration,
    /// Longest a new worker may take to ask for its first invocation (Lambda's init phase: 10 s).
    pub init_timeout: Duration,
    /// Log lines per second per worker forwarded to Portico's own log (the rest are counted).
    pub log_lines_per_sec: u32,
    /// `PATH` given to workers.
    pub path: String,
}

impl RuntimeSettings {
    /// Defaults with `work_dir`.
    pub fn new(work_dir: impl Into<PathBuf>) -> Self {
        Self {
            work_dir: work_dir.into(),
            region: "us-east-1".into(),
            max_workers: 10,
            queue_bound: 100,
            idle_timeout: Duration::from_secs(300),
            init_timeout: Duration::from_secs(10),
            log_lines_per_sec: 200,
            path: std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
        }
    }
}

/// One invocation's inputs besides the payload.
#[derive(Debug, Clone, Default)]
pub struct InvokeContext {
    /// `Lambda-Runtime-Aws-Request-Id`; a new UUID when `None`.
    pub request_id: Option<String>,
    /// `Lambda-Runtime-Trace-Id` (`Root=1-…`).
    pub trace_id: Option<String>,
    /// `Lambda-Runtime-Client-Context` (JSON).
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity` (JSON).
    pub cognito_identity: Option<String>,
    /// The ARN the caller invoked (qualified or not); the function's ARN when `None`.
    pub invoked_arn: Option<String>,
}

/// A completed invocation (`200` from Lambda's `Invoke`, with or without a function error).
#[derive(Debug, Clone, PartialEq)]
pub struct Invoked {
    /// The response payload, or the error document for a function error.
    pub payload: Bytes,
    /// `X-Amz-Function-Error` (`Unhandled`) when the function failed.
    pub function_error: Option<String>,
    /// The request id the function saw.
    pub request_id: String,
    /// The invocation's log (START … REPORT), last 4 KB, for `LogType: Tail`.
    pub log_tail: String,
    /// `X-Amz-Executed-Version`.
    pub executed_version: String,
    /// Whether a new worker was started for it (a cold start).
    pub cold: bool,
}

/// An invocation that did not run (Lambda answers these with a 4xx/5xx status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// `ResourceNotFoundException` (404).
    #[error("Function not found: {0}")]
    NotFound(String),
    /// `TooManyRequestsException` (429): reserved concurrency 0, or the queue is full.
    #[error("Rate Exceeded.")]
    TooManyRequests,
    /// `RequestTooLargeException` (413).
    #[error("Request must be smaller than 6291456 bytes for the InvokeFunction operation")]
    RequestTooLarge,
    /// The worker could not be started (`ServiceException`, 500): the runtime is not installed,
    /// the bootstrap is missing or not executable.
    #[error("{0}")]
    Start(String),
}

/// What invokes functions for the gateway and the Lambda API: the local [`Runtime`], or (in
/// tests, cluster mode, remote functions) anything else that answers as Lambda does.
pub trait Invoke: Send + Sync + std::fmt::Debug + 'static {
    /// Invokes `function` (a name) at `qualifier` (`None` or `$LATEST`, a version number, an
    /// alias) synchronously.
    fn invoke_qualified<'a>(
        &'a self,
        function: &'a str,
        qualifier: Option<&'a str>,
        payload: Bytes,
        ctx: InvokeContext,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Invoked, InvokeError>> + Send + 'a>,
    >;
}

/// The key a published version runs under in the [`Runtime`]: `name:version`.
pub fn version_key(name: &str, version: &str) -> String {
    if version == "$LATEST" {
        name.to_owned()
    } else {
        format!("{name}:{version}")
    }
}

/// The local functions: name (or `name:version`) → pool.
pub struct Runtime {
    settings: RuntimeSettings,
    bootstrap_dir: PathBuf,
    functions: RwLock<HashMap<String, Arc<Pool>>>,
    /// (function, alias) → version.
    aliases: RwLock<HashMap<(String, String), String>>,
    next_worker: AtomicU64,
}

impl Invoke for Runtime {
    fn invoke_qualified<'a>(
        &'a self,
        function: &'a str,
        qualifier: Option<&'a str>,
        payload: Bytes,
        ctx: InvokeContext,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Invoked, InvokeError>> + Send + 'a>,
    > {
        Box::pin(async move {
            let key = match qualifier {
                None | Some("$LATEST") => function.to_owned(),
                Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => version_key(function, q),
                Some(alias) => {
                    let version = self
                        .aliases
                        .read()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&(function.to_owned(), alias.to_owned()))
                        .cloned()
                        .ok_or_else(|| InvokeError::NotFound(format!("{function}:{alias}")))?;
                    version_key(function, &version)
                }
            };
            self.invoke(&key, payload, ctx).await
        })
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("settings", &self.settings)
            .finish()
    }
}

/// One function's workers.
struct Pool {
    config: FunctionConfig,
    /// One permit per worker that may be busy at once.
    permits: Arc<Semaphore>,
    /// Invocations waiting for a permit.
    waiting: AtomicUsize,
    /// Workers waiting on `/next`, most recently used last.
    idle: Mutex<Vec<(Sandbox, Instant)>>,
    /// Workers alive (busy or idle), for tests and metrics.
    alive: Arc<AtomicUsize>,
}

impl Runtime {
    /// A runtime with no functions; writes the shipped bootstraps under `settings.work_dir` and
    /// stops workers left behind by an earlier process that died without stopping them.
    pub fn new(settings: RuntimeSettings) -> std::io::Result<Arc<Self>> {
        let bootstrap_dir = settings.work_dir.join("bootstrap");
        std::fs::create_dir_all(&bootstrap_dir)?;
        std::fs::write(
            bootstrap_dir.join("python_bootstrap.py"),
            include_str!("bootstrap/python_bootstrap.py"),
        )?;
        std::fs::write(
            bootstrap_dir.join("node_bootstrap.js"),
            include_str!("bootstrap/node_bootstrap.js"),
        )?;
        sandbox::reap_leftovers(&settings.work_dir.join("workers"));
        let rt = Arc::new(Self {
            settings,
            bootstrap_dir,
            functions: RwLock::new(HashMap::new()),
            aliases: RwLock::new(HashMap::new()),
            next_worker: AtomicU64::new(1),
        });
        let weak = Arc::downgrade(&rt);
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    match weak.upgrade() {
                        Some(rt) => rt.reap_idle(),
                        None => return,
                    }
                }
            });
        }
        Ok(rt)
    }

    /// The settings.
    pub fn settings(&self) -> &RuntimeSettings {
        &self.settings
    }

    /// Sets the functions served (each `$LATEST` and published version is a config, served
    /// under [`version_key`]): new ones are added, changed ones get fresh workers (the old ones
    /// finish what they run), missing ones are removed. A function's versions share its reserved
    /// concurrency, as on Lambda.
    pub fn set_functions(&self, configs: Vec<FunctionConfig>) {
        let mut map = self.functions.write().unwrap_or_else(|e| e.into_inner());
        let mut next: HashMap<String, Arc<Pool>> = HashMap::with_capacity(configs.len());
        for c in configs {
            let key = version_key(&c.name, &c.version);
            let pool = match map.remove(&key) {
                Some(p) if p.config == c => p,
                _ => {
                    let permits = map
                        .values()
                        .chain(next.values())
                        .find(|p| {
                            p.config.name == c.name
                                && p.config.reserved_concurrency == c.reserved_concurrency
                        })
                        .map(|p| p.permits.clone())
                        .unwrap_or_else(|| {
                            Arc::new(Semaphore::new(workers_for(&c, self.settings.max_workers)))
                        });
                    Arc::new(Pool::new(c, permits))
                }
            };
            next.insert(key, pool);
        }
        *map = next;
    }

    /// Sets the aliases: (function, alias) → version.
    pub fn set_aliases(&self, aliases: HashMap<(String, String), String>) {
        *self.aliases.write().unwrap_or_else(|e| e.into_inner()) = aliases;
    }

    /// Adds or replaces one function.
    pub fn put_function(&self, config: FunctionConfig) {
        let mut map = self.functions.write().unwrap_or_else(|e| e.into_inner());
        let key = version_key(&config.name, &config.version);
        if map.get(&key).is_some_and(|p| p.config == config) {
            return;
        }
        let permits = map
            .values()
            .find(|p| {
                p.config.name == config.name
                    && p.config.reserved_concurrency == config.reserved_concurrency
            })
            .map(|p| p.permits.clone())
            .unwrap_or_else(|| {
                Arc::new(Semaphore::new(workers_for(
                    &config,
                    self.settings.max_workers,
                )))
            });
        map.insert(key, Arc::new(Pool::new(config, permits)));
    }

    /// Removes one function and its versions (their workers stop).
    pub fn remove_function(&self, name: &str) {
        self.functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, p| p.config.name != name);
    }

    /// Whether `name` is served.
    pub fn has_function(&self, name: &str) -> bool {
        self.functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(name)
    }

    /// Workers alive for `name` (a [`version_key`]; busy or idle).
    pub fn workers(&self, name: &str) -> usize {
        self.pool(name)
            .map_or(0, |p| p.alive.load(Ordering::Relaxed))
    }

    fn pool(&self, name: &str) -> Option<Arc<Pool>> {
        self.functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Invokes `name` (a [`version_key`]: `name` for `$LATEST`, `name:N`) synchronously
    /// (`RequestResponse`).
    pub async fn invoke(
        &self,
        name: &str,
        payload: Bytes,
        ctx: InvokeContext,
    ) -> Result<Invoked, InvokeError> {
        let pool = self
            .pool(name)
            .ok_or_else(|| InvokeError::NotFound(name.to_owned()))?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(InvokeError::RequestTooLarge);
        }
        if pool.config.reserved_concurrency == Some(0) {
            return Err(InvokeError::TooManyRequests);
        }
        // Queue for a worker slot, bounded.
        if pool.waiting.fetch_add(1, Ordering::AcqRel) >= self.settings.queue_bound {
            pool.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(InvokeError::TooManyRequests);
        }
        let permit = pool.permits.clone().acquire_owned().await;
        pool.waiting.fetch_sub(1, Ordering::AcqRel);
        let Ok(permit) = permit else {
            return Err(InvokeError::NotFound(name.to_owned()));
        };
        let request_id = ctx.request_id.clone().unwrap_or_else(new_request_id);
        let (sandbox, cold) = match pool.take_idle() {
            Some(s) => (s, false),
            None => {
                let id = self.next_worker.fetch_add(1, Ordering::Relaxed);
                let s = Sandbox::start(
                    &pool.config,
                    &self.settings,
                    &self.bootstrap_dir,
                    id,
                    pool.alive.clone(),
                )
                .await
                .map_err(|e| InvokeError::Start(e.to_string()))?;
                (s, true)
            }
        };
        let outcome = sandbox
            .invoke(
                &pool.config,
                &self.settings,
                &request_id,
                payload,
                &ctx,
                cold,
            )
            .await;
        let executed_version = pool.config.version.clone();
        let invoked = match outcome {
            Ok(done) => {
                // Back to the pool once it asks for its next invocation; killed if it does not.
                let pool2 = pool.clone();
                let wait = pool.config.timeout.max(Duration::from_secs(1));
                tokio::spawn(async move {
                    if sandbox.ready_within(wait).await {
                        pool2.put_idle(sandbox);
                    }
                    drop(permit);
                });
                Invoked {
                    payload: done.payload,
                    function_error: done.function_error,
                    request_id,
                    log_tail: done.log_tail,
                    executed_version,
                    cold,
                }
            }
            Err(SandboxError::Failed {
                payload,
                log_tail,
                why,
            }) => {
                // The worker is gone (timed out and killed, crashed, failed its init).
                tracing::warn!(function = %pool.config.name, request_id = %request_id, "worker replaced: {why}");
                drop(sandbox);
                drop(permit);
                Invoked {
                    payload,
                    function_error: Some("Unhandled".into()),
                    request_id,
                    log_tail,
                    executed_version,
                    cold,
                }
            }
        };
        Ok(invoked)
    }

    /// Stops workers idle for longer than the idle timeout.
    pub fn reap_idle(&self) {
        let pools: Vec<_> = self
            .functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for p in pools {
            let mut idle = p.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.retain(|(s, since)| since.elapsed() < self.settings.idle_timeout && s.is_alive());
        }
    }
}

/// Workers a function may run at once.
fn workers_for(config: &FunctionConfig, max_workers: usize) -> usize {
    match config.reserved_concurrency {
        Some(n) => (n as usize).max(1),
        None => max_workers.max(1),
    }
}

impl Pool {
    fn new(config: FunctionConfig, permits: Arc<Semaphore>) -> Self {
        Self {
            config,
            permits,
            waiting: AtomicUsize::new(0),
            idle: Mutex::new(Vec::new()),
            alive: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn take_idle(&self) -> Option<Sandbox> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((s, _)) = idle.pop() {
            if s.is_alive() {
                return Some(s);
            }
        }
        None
    }

    fn put_idle(&self, s: Sandbox) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((s, Instant::now()));
    }
}

/// A UUID v4 as Lambda's request ids are.
pub fn new_request_id() -> String {
    let (a, b) = (fastrand::u64(..), fastrand::u64(..));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// The runtime's work directory for `data_dir` (`{data}/functions`).
pub fn work_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("functions")
}
