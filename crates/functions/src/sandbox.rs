//! One worker: a process and the Lambda Runtime API it talks to.
//!
//! The Runtime API listener (127.0.0.1, a port of its own) serves:
//! `GET /2018-06-01/runtime/invocation/next` (waits for an invocation),
//! `POST …/invocation/{id}/response`, `POST …/invocation/{id}/error` and
//! `POST /2018-06-01/runtime/init/error`, with Lambda's status codes and `Lambda-Runtime-*`
//! headers.

use crate::{FunctionConfig, InvokeContext, MAX_PAYLOAD_BYTES, RuntimeSettings};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{Notify, mpsc, oneshot};

/// Bytes of log kept for `LogType: Tail`.
const TAIL_BYTES: usize = 4096;
/// Longest log line kept (longer ones are cut, the rest of the line dropped).
const MAX_LINE: usize = 16 * 1024;

/// What a finished invocation produced.
pub(crate) struct Done {
    pub(crate) payload: Bytes,
    pub(crate) function_error: Option<String>,
    pub(crate) log_tail: String,
}

/// Why an invocation ended without the worker surviving it.
pub(crate) enum SandboxError {
    /// Timed out, crashed or failed its init: the error document for the caller.
    Failed {
        payload: Bytes,
        log_tail: String,
        why: String,
    },
}

/// The worker could not be started.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error("Runtime {0} is not supported")]
    Runtime(String),
    #[error("cannot start the function's worker ({0}): {1}")]
    Spawn(String, std::io::Error),
    #[error("cannot open the Runtime API listener: {0}")]
    Listen(std::io::Error),
}

struct Delivery {
    request_id: String,
    payload: Bytes,
    deadline_ms: u128,
    invoked_arn: String,
    trace_id: Option<String>,
    client_context: Option<String>,
    cognito_identity: Option<String>,
}

/// What the runtime reported for the current invocation.
enum Report {
    Response(Bytes),
    Error(Bytes),
    TooLarge,
}

struct Current {
    request_id: String,
    done: oneshot::Sender<Report>,
}

/// The log of the invocation in progress (or of the init, before the first one).
struct Log {
    tail: String,
    /// Lines forwarded to Portico's log in the current second, and when it began.
    forwarded: u32,
    second: Instant,
    dropped: u64,
}

struct Shared {
    function: String,
    deliveries: tokio::sync::Mutex<mpsc::Receiver<Delivery>>,
    current: Mutex<Option<Current>>,
    /// The worker is waiting in `/next` with nothing to deliver.
    waiting: AtomicBool,
    ready: Notify,
    exited: AtomicBool,
    exit_status: Mutex<Option<String>>,
    exit_notify: Notify,
    init_error: Mutex<Option<Bytes>>,
    init_notify: Notify,
    log: Mutex<Log>,
    log_lines_per_sec: u32,
}

/// A running worker. Dropping it kills its process group.
pub(crate) struct Sandbox {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Delivery>,
    pgid: Option<u32>,
    pid_file: Option<PathBuf>,
    server: tokio::task::JoinHandle<()>,
    alive: Arc<AtomicUsize>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid {
            kill_group(pgid);
        }
        if let Some(p) = &self.pid_file {
            let _ = std::fs::remove_file(p);
        }
        self.server.abort();
        self.alive.fetch_sub(1, Ordering::Relaxed);
    }
}

fn kill_group(pgid: u32) {
    if let Ok(pid) = i32::try_from(pgid) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Kills the process groups of workers an earlier Portico left running (it was killed before
/// it could stop them). A pid file names the worker's process group, its Runtime API address and
/// function; a process is killed only if its environment still says so (pids are reused).
pub(crate) fn reap_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut lines = text.lines();
        let (Some(pid), Some(api)) = (lines.next(), lines.next()) else {
            let _ = std::fs::remove_file(&path);
            continue;
        };
        if let Ok(pid) = pid.parse::<u32>()
            && let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ"))
        {
            let marker = format!("AWS_LAMBDA_RUNTIME_API={api}");
            if environ.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()) {
                tracing::warn!(pid, "stopping a function worker left by an earlier run");
                kill_group(pid);
            }
        }
        let _ = std::fs::remove_file(&path);
    }
}

impl Sandbox {
    /// Starts a worker for `config`: its Runtime API listener, then its process.
    pub(crate) async fn start(
        config: &FunctionConfig,
        settings: &RuntimeSettings,
        bootstrap_dir: &Path,
        id: u64,
        alive: Arc<AtomicUsize>,
    ) -> Result<Self, StartError> {
        let (program, args) = command_for(config, bootstrap_dir)?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(StartError::Listen)?;
        let api = listener
            .local_addr()
            .map_err(StartError::Listen)?
            .to_string();
        let (tx, rx) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            function: config.name.clone(),
            deliveries: tokio::sync::Mutex::new(rx),
            current: Mutex::new(None),
            waiting: AtomicBool::new(false),
            ready: Notify::new(),
            exited: AtomicBool::new(false),
            exit_status: Mutex::new(None),
            exit_notify: Notify::new(),
            init_error: Mutex::new(None),
            init_notify: Notify::new(),
            log: Mutex::new(Log {
                tail: String::new(),
                forwarded: 0,
                second: Instant::now(),
                dropped: 0,
            }),
            log_lines_per_sec: settings.log_lines_per_sec,
        });
        let server = tokio::spawn(runtime_api(listener, shared.clone()));
        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(&args)
            .current_dir(&config.code_dir)
            .env_clear()
            .envs(environment(config, settings, bootstrap_dir, &api, id))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                server.abort();
                return Err(StartError::Spawn(program, e));
            }
        };
        alive.fetch_add(1, Ordering::Relaxed);
        let pgid = child.id();
        let pid_file = pgid.and_then(|pid| {
            let dir = settings.work_dir.join("workers");
            std::fs::create_dir_all(&dir).ok()?;
            let p = dir.join(pid.to_string());
            std::fs::write(&p, format!("{pid}\n{api}\n{}\n", config.name)).ok()?;
            Some(p)
        });
        if let Some(out) = child.stdout.take() {
            tokio::spawn(read_log(out, shared.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(read_log(err, shared.clone()));
        }
        let watcher = shared.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            let why = match status {
                Ok(s) => match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
                    (Some(c), _) => format!("exit status {c}"),
                    (None, Some(sig)) => signal_name(sig),
                    _ => "exited".to_owned(),
                },
                Err(e) => e.to_string(),
            };
            *watcher
                .exit_status
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(why);
            watcher.exited.store(true, Ordering::Release);
            watcher.exit_notify.notify_waiters();
            watcher.ready.notify_waiters();
        });
        Ok(Self {
            shared,
            tx,
            pgid,
            pid_file,
            server,
            alive,
        })
    }

    pub(crate) fn is_alive(&self) -> bool {
        !self.shared.exited.load(Ordering::Acquire)
    }

    /// Waits until the worker asks for its next invocation; `false` if it exits or `within`
    /// passes first.
    pub(crate) async fn ready_within(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.ready.notified();
            if self.shared.waiting.load(Ordering::Acquire) {
                return true;
            }
            if self.shared.exited.load(Ordering::Acquire)
                || self
                    .shared
                    .init_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_some()
            {
                return false;
            }
            tokio::select! {
                () = notified => {}
                () = self.shared.init_notify.notified() => {}
                () = tokio::time::sleep_until(deadline) => return false,
            }
        }
    }

    /// Runs one invocation on this worker.
    pub(crate) async fn invoke(
        &self,
        config: &FunctionConfig,
        settings: &RuntimeSettings,
        request_id: &str,
        payload: Bytes,
        ctx: &InvokeContext,
        cold: bool,
    ) -> Result<Done, SandboxError> {
        let started = Instant::now();
        if cold && !self.ready_within(settings.init_timeout).await {
            let init_error = self
                .shared
                .init_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let (payload, why) = match init_error {
                Some(doc) => (doc, "init error".to_owned()),
                None if !self.is_alive() => {
                    let status = self.exit_status();
                    (
                        error_doc(
                            "Runtime.ExitError",
                            &format!(
                                "RequestId: {request_id} Error: Runtime exited with error: {status}"
                            ),
                        ),
                        status,
                    )
                }
                None => (
                    error_doc(
                        "Sandbox.Timedout",
                        &format!(
                            "RequestId: {request_id} Error: Runtime failed to start within {} seconds",
                            settings.init_timeout.as_secs()
                        ),
                    ),
                    "init timed out".to_owned(),
                ),
            };
            return Err(SandboxError::Failed {
                payload,
                log_tail: self.finish_log(config, request_id, started, true),
                why,
            });
        }
        let (done_tx, done_rx) = oneshot::channel();
        *self
            .shared
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Current {
            request_id: request_id.to_owned(),
            done: done_tx,
        });
        self.log_line(&format!(
            "START RequestId: {request_id} Version: {}",
            config.version
        ));
        let deadline_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            + config.timeout.as_millis();
        let delivery = Delivery {
            request_id: request_id.to_owned(),
            payload,
            deadline_ms,
            invoked_arn: ctx
                .invoked_arn
                .clone()
                .unwrap_or_else(|| config.arn.clone()),
            trace_id: ctx.trace_id.clone(),
            client_context: ctx.client_context.clone(),
            cognito_identity: ctx.cognito_identity.clone(),
        };
        if self.tx.send(delivery).await.is_err() {
            return Err(self.crashed(config, request_id, started));
        }
        let exited = self.shared.exit_notify.notified();
        tokio::pin!(exited);
        let report = tokio::select! {
            r = done_rx => r.ok(),
            () = tokio::time::sleep(config.timeout) => {
                if let Some(pgid) = self.pgid {
                    kill_group(pgid);
                }
                let secs = config.timeout.as_secs_f64();
                return Err(SandboxError::Failed {
                    payload: error_doc(
                        "Sandbox.Timedout",
                        &format!("RequestId: {request_id} Error: Task timed out after {secs:.2} seconds"),
                    ),
                    log_tail: self.finish_log(config, request_id, started, true),
                    why: "timed out".into(),
                });
            }
            () = &mut exited => None,
        };
        match report {
            Some(Report::Response(payload)) => Ok(Done {
                payload,
                function_error: None,
                log_tail: self.finish_log(config, request_id, started, false),
            }),
            Some(Report::Error(doc)) => Ok(Done {
                payload: doc,
                function_error: Some("Unhandled".into()),
                log_tail: self.finish_log(config, request_id, started, false),
            }),
            Some(Report::TooLarge) => Ok(Done {
                payload: error_doc(
                    "Function.ResponseSizeTooLarge",
                    &format!(
                        "Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."
                    ),
                ),
                function_error: Some("Unhandled".into()),
                log_tail: self.finish_log(config, request_id, started, false),
            }),
            None => Err(self.crashed(config, request_id, started)),
        }
    }

    fn exit_status(&self) -> String {
        self.shared
            .exit_status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "exited".into())
    }

    fn crashed(&self, config: &FunctionConfig, request_id: &str, started: Instant) -> SandboxError {
        let status = self.exit_status();
        SandboxError::Failed {
            payload: error_doc(
                "Runtime.ExitError",
                &format!("RequestId: {request_id} Error: Runtime exited with error: {status}"),
            ),
            log_tail: self.finish_log(config, request_id, started, true),
            why: status,
        }
    }

    fn log_line(&self, line: &str) {
        push_line(&self.shared, line);
    }

    /// Writes END and REPORT and takes the invocation's log tail.
    fn finish_log(
        &self,
        config: &FunctionConfig,
        request_id: &str,
        started: Instant,
        failed: bool,
    ) -> String {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        self.log_line(&format!("END RequestId: {request_id}"));
        let status = if failed { "\tStatus: error" } else { "" };
        self.log_line(&format!(
            "REPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB{status}",
            ms.ceil() as u64,
            config.memory_mb,
            config.memory_mb.min(64),
        ));
        let mut log = self.shared.log.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut log.tail)
    }
}

/// `{"errorMessage": …, "errorType": …}` as Lambda writes its own errors.
pub(crate) fn error_doc(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string())
}

fn signal_name(sig: i32) -> String {
    match sig {
        9 => "signal: killed".into(),
        15 => "signal: terminated".into(),
        11 => "signal: segmentation fault".into(),
        6 => "signal: aborted".into(),
        n => format!("signal: {n}"),
    }
}

/// The program and arguments that run `config`'s runtime.
fn command_for(
    config: &FunctionConfig,
    bootstrap_dir: &Path,
) -> Result<(String, Vec<String>), StartError> {
    let r = config.runtime.as_str();
    if r.starts_with("python3") {
        return Ok((
            "python3".into(),
            vec![
                "-u".into(),
                bootstrap_dir
                    .join("python_bootstrap.py")
                    .to_string_lossy()
                    .into_owned(),
            ],
        ));
    }
    if r.starts_with("nodejs") {
        return Ok((
            "node".into(),
            vec![
                bootstrap_dir
                    .join("node_bootstrap.js")
                    .to_string_lossy()
                    .into_owned(),
            ],
        ));
    }
    if r == "provided" || r.starts_with("provided.") {
        return Ok((
            config
                .code_dir
                .join("bootstrap")
                .to_string_lossy()
                .into_owned(),
            Vec::new(),
        ));
    }
    Err(StartError::Runtime(config.runtime.clone()))
}

/// The worker's whole environment: Lambda's variables, `PATH`, and the function's own.
fn environment(
    config: &FunctionConfig,
    settings: &RuntimeSettings,
    bootstrap_dir: &Path,
    api: &str,
    id: u64,
) -> Vec<(String, String)> {
    let task_root = config.code_dir.to_string_lossy().into_owned();
    let day = {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let days = secs / 86_400;
        let (y, m, d) = civil(days as i64);
        format!("{y:04}/{m:02}/{d:02}")
    };
    let mut env = vec![
        ("PATH".to_owned(), settings.path.clone()),
        ("LANG".into(), "en_US.UTF-8".into()),
        ("TZ".into(), ":UTC".into()),
        ("LAMBDA_TASK_ROOT".into(), task_root.clone()),
        (
            "LAMBDA_RUNTIME_DIR".into(),
            bootstrap_dir.to_string_lossy().into_owned(),
        ),
        ("_HANDLER".into(), config.handler.clone()),
        ("AWS_REGION".into(), settings.region.clone()),
        ("AWS_DEFAULT_REGION".into(), settings.region.clone()),
        (
            "AWS_EXECUTION_ENV".into(),
            format!("AWS_Lambda_{}", config.runtime),
        ),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), config.name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), config.version.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            config.memory_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{}", config.name),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME".into(),
            format!("{day}/[{}]{:032x}", config.version, id),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
    ];
    if config.runtime.starts_with("python") {
        env.push(("PYTHONPATH".into(), task_root.clone()));
        env.push(("PYTHONUNBUFFERED".into(), "1".into()));
    }
    if config.runtime.starts_with("nodejs") {
        env.push(("NODE_PATH".into(), format!("{task_root}/node_modules")));
    }
    // The function's own variables; Lambda's reserved names stay Lambda's (the Lambda API
    // refuses them too).
    for (k, v) in &config.environment {
        if !RESERVED.contains(&k.as_str()) {
            env.retain(|(name, _)| name != k);
            env.push((k.clone(), v.clone()));
        }
    }
    env.push(("AWS_LAMBDA_RUNTIME_API".into(), api.to_owned()));
    env
}

/// Variables a function's configuration cannot set (Lambda's reserved names).
const RESERVED: [&str; 17] = [
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// Days since 1970-01-01 → (year, month, day).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Appends a line to the current log tail and forwards it to Portico's log (rate-limited).
fn push_line(shared: &Shared, line: &str) {
    let request_id = shared
        .current
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|c| c.request_id.clone());
    let mut log = shared.log.lock().unwrap_or_else(|e| e.into_inner());
    log.tail.push_str(line);
    log.tail.push('\n');
    if log.tail.len() > TAIL_BYTES {
        let mut cut = log.tail.len() - TAIL_BYTES;
        while !log.tail.is_char_boundary(cut) {
            cut += 1;
        }
        log.tail.drain(..cut);
    }
    if log.second.elapsed() >= Duration::from_secs(1) {
        if log.dropped > 0 {
            tracing::warn!(function = %shared.function, dropped = log.dropped,
                "function log lines not forwarded (over the rate limit)");
        }
        log.second = Instant::now();
        log.forwarded = 0;
        log.dropped = 0;
    }
    if log.forwarded < shared.log_lines_per_sec {
        log.forwarded += 1;
        drop(log);
        tracing::info!(target: "portico::function", function = %shared.function,
            request_id = request_id.as_deref().unwrap_or("-"), "{line}");
    } else {
        log.dropped += 1;
    }
}

/// Reads a worker's stdout or stderr line by line (lines cut at [`MAX_LINE`]).
async fn read_log(mut from: impl AsyncRead + Unpin, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 8192];
    let mut line: Vec<u8> = Vec::new();
    let mut skipping = false;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if b == b'\n' {
                if !skipping || !line.is_empty() {
                    push_line(
                        &shared,
                        String::from_utf8_lossy(&line).trim_end_matches('\r'),
                    );
                }
                line.clear();
                skipping = false;
            } else if line.len() < MAX_LINE {
                line.push(b);
            } else if !skipping {
                push_line(&shared, &format!("{}…", String::from_utf8_lossy(&line)));
                line.clear();
                skipping = true;
            }
        }
    }
    if !line.is_empty() {
        push_line(&shared, &String::from_utf8_lossy(&line));
    }
}

type ApiBody = Full<Bytes>;

fn reply(status: StatusCode, body: serde_json::Value) -> Response<ApiBody> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

/// The worker's Runtime API listener.
async fn runtime_api(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(route(req, &shared).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

const PREFIX: &str = "/2018-06-01/runtime/";

async fn route(req: Request<Incoming>, shared: &Shared) -> Response<ApiBody> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return reply(
            StatusCode::NOT_FOUND,
            serde_json::json!({"errorMessage": "not found", "errorType": "NotFound"}),
        );
    };
    match (req.method(), rest) {
        (&Method::GET, "invocation/next") => next(shared).await,
        (&Method::POST, "init/error") => {
            let body = read_body(req).await.unwrap_or_default();
            *shared.init_error.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(normalize_error(&body, "Runtime.InitError"));
            shared.init_notify.notify_waiters();
            reply(StatusCode::ACCEPTED, serde_json::json!({"status": "OK"}))
        }
        (&Method::POST, r) if r.starts_with("invocation/") => {
            let tail = &r["invocation/".len()..];
            let (id, kind) = match tail.rsplit_once('/') {
                Some((id, k @ ("response" | "error"))) => (id.to_owned(), k),
                _ => {
                    return reply(
                        StatusCode::NOT_FOUND,
                        serde_json::json!({"errorMessage": "not found", "errorType": "NotFound"}),
                    );
                }
            };
            let error_type = req
                .headers()
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = read_body(req).await;
            let current = {
                let mut cur = shared.current.lock().unwrap_or_else(|e| e.into_inner());
                match cur.as_ref() {
                    Some(c) if c.request_id == id => cur.take(),
                    _ => None,
                }
            };
            let Some(current) = current else {
                return reply(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}),
                );
            };
            match (kind, body) {
                (_, None) => {
                    let _ = current.done.send(Report::TooLarge);
                    reply(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        serde_json::json!({"errorMessage": format!("Exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."), "errorType": "RequestEntityTooLarge"}),
                    )
                }
                ("response", Some(b)) => {
                    let _ = current.done.send(Report::Response(b));
                    reply(StatusCode::ACCEPTED, serde_json::json!({"status": "OK"}))
                }
                (_, Some(b)) => {
                    let doc = normalize_error(&b, error_type.as_deref().unwrap_or("Unhandled"));
                    let _ = current.done.send(Report::Error(doc));
                    reply(StatusCode::ACCEPTED, serde_json::json!({"status": "OK"}))
                }
            }
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            serde_json::json!({"errorMessage": "not found", "errorType": "NotFound"}),
        ),
    }
}

/// An error document as the runtime posted it when it is one (an object with `errorMessage`);
/// otherwise Lambda's wrapper around what was posted.
fn normalize_error(body: &[u8], error_type: &str) -> Bytes {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(o))
            if o.contains_key("errorMessage") || o.contains_key("errorType") =>
        {
            Bytes::copy_from_slice(body)
        }
        _ => error_doc(error_type, &String::from_utf8_lossy(body)),
    }
}

/// The body, or `None` when it is over the payload limit.
async fn read_body(req: Request<Incoming>) -> Option<Bytes> {
    Limited::new(req.into_body(), MAX_PAYLOAD_BYTES)
        .collect()
        .await
        .ok()
        .map(|c| c.to_bytes())
}

async fn next(shared: &Shared) -> Response<ApiBody> {
    let mut rx = shared.deliveries.lock().await;
    shared.waiting.store(true, Ordering::Release);
    shared.ready.notify_waiters();
    let delivery = rx.recv().await;
    shared.waiting.store(false, Ordering::Release);
    drop(rx);
    let Some(d) = delivery else {
        return reply(
            StatusCode::GONE,
            serde_json::json!({"errorMessage": "worker stopped", "errorType": "Gone"}),
        );
    };
    let mut r = Response::new(Full::new(d.payload));
    let h = r.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &d.request_id);
    set("lambda-runtime-deadline-ms", &d.deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", &d.invoked_arn);
    if let Some(t) = &d.trace_id {
        set("lambda-runtime-trace-id", t);
    }
    if let Some(c) = &d.client_context {
        set("lambda-runtime-client-context", c);
    }
    if let Some(c) = &d.cognito_identity {
        set("lambda-runtime-cognito-identity", c);
    }
    r
}
