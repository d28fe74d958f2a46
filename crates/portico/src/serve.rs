//! `portico serve` and `portico routes`.

use crate::cli::{ServeArgs, StoreArgs};
use crate::import::{import_file, print_invoke_urls};
use anyhow::Context;
use portico_gateway::access_log::AccessLogSink;
use portico_gateway::{Gateway, GatewayConfig};
use portico_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let credentials = load_credentials(&args)?;
    if credentials.is_none() && !args.admin_listen.ip().is_loopback() {
        anyhow::bail!(
            "refusing to bind the management listener to non-loopback {} without credentials: \
             pass --admin-credentials FILE (or PORTICO_ADMIN_ACCESS_KEY_ID and \
             PORTICO_ADMIN_SECRET_ACCESS_KEY) so that calls are SigV4-verified",
            args.admin_listen
        );
    }
    let store = Store::open(&args.store.data_dir)
        .await
        .context("cannot open the store")?;
    for file in &args.imports {
        let outcome = import_file(&store, file, &args.deploy).await?;
        print_invoke_urls(&outcome, args.listen);
    }

    let access_log = match args.access_log.as_str() {
        "off" | "none" => AccessLogSink::Off,
        "stdout" => AccessLogSink::spawn(Box::new(std::io::stdout()))?,
        "stderr" => AccessLogSink::spawn(Box::new(std::io::stderr()))?,
        path => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open access log {path}"))?;
            AccessLogSink::spawn(Box::new(std::io::BufWriter::new(f)))?
        }
    };
    let account_throttle =
        (args.account_rate_limit.is_some() || args.account_burst_limit.is_some()).then(|| {
            let d = portico_gateway::account::DEFAULT_ACCOUNT_LIMITS;
            portico_gateway::account::Limits::new(
                args.account_rate_limit.unwrap_or(d.rate),
                args.account_burst_limit.unwrap_or(d.burst),
            )
        });
    let backend_ca = match &args.backend_ca_file {
        Some(path) => portico_gateway::upstream::read_ca_file(path).map_err(anyhow::Error::msg)?,
        None => Vec::new(),
    };
    let state = portico_state::SharedState::in_process_with(
        Arc::new(portico_state::MonotonicClock::new()),
        args.cache_max_bytes_per_stage,
    );
    let gateway = Gateway::with_state(
        args.limits.gateway_config(GatewayConfig {
            access_log,
            account_throttle,
            backend_ca,
            ..GatewayConfig::default()
        }),
        state,
    );
    // AWS service integrations: endpoints and keys, before any stage is compiled.
    let aws = crate::aws::settings(
        &args.aws_endpoints,
        &args.jwt_issuers,
        args.aws_config.as_deref(),
    )?;
    gateway.set_aws_services(aws.services);
    gateway.set_jwt_issuers(aws.issuers);
    gateway.set_iam_principals(aws.principals);
    // Lambda functions run in worker processes managed on this (the data plane's) runtime; the
    // gateway and the Lambda API's Invoke both call them.
    let functions = portico_functions::Runtime::new(portico_functions::RuntimeSettings::new(
        portico_functions::work_dir(&args.store.data_dir),
    ))
    .context("cannot prepare the function runtime")?;
    if args.remote_functions.is_empty() {
        gateway.attach_functions(functions.clone());
    } else {
        // Names mapped to a remote Invoke endpoint go there; the rest run here.
        let targets: Vec<(String, String)> = args
            .remote_functions
            .iter()
            .map(|spec| match spec.split_once('=') {
                Some((name, url)) if !name.is_empty() && !url.is_empty() => {
                    Ok((name.to_owned(), url.to_owned()))
                }
                _ => Err(anyhow::anyhow!(
                    "--remote-function {spec}: expected NAME=URL (e.g. hello=https://lambda.us-east-1.amazonaws.com)"
                )),
            })
            .collect::<anyhow::Result<_>>()?;
        let keys = match (
            std::env::var("AWS_ACCESS_KEY_ID"),
            std::env::var("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Ok(id), Ok(secret)) if !id.is_empty() && !secret.is_empty() => {
                Some(portico_gateway::remote_functions::SigningKeys {
                    access_key_id: id,
                    secret_access_key: secret,
                    session_token: std::env::var("AWS_SESSION_TOKEN")
                        .ok()
                        .filter(|t| !t.is_empty()),
                })
            }
            _ => None,
        };
        if keys.is_none() {
            tracing::warn!(
                "remote functions are invoked unsigned: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"
            );
        }
        let remote = gateway
            .remote_functions(&targets, keys, &args.remote_function_region)
            .map_err(|e| anyhow::anyhow!("--remote-function: {e}"))?;
        gateway.attach_functions(Arc::new(
            portico_gateway::remote_functions::FunctionRouter::new(remote, Some(functions.clone())),
        ));
    }
    // The first imports ran on this runtime; from here on the control plane has its own.
    store.close().await;
    let tls = match args.tls_listen {
        None => None,
        Some(addr) => {
            let certificates = Arc::new(
                portico_gateway::tls::Certificates::new(portico_gateway::tls::TlsSettings {
                    data_dir: args.store.data_dir.clone(),
                    default_cert: args.tls_cert.clone().zip(args.tls_key.clone()),
                })
                .map_err(|e| anyhow::anyhow!("TLS: {e}"))?,
            );
            gateway.attach_tls(certificates.clone());
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            Some((listener, certificates))
        }
    };

    let (stop_tx, stop_rx) = watch::channel(false);
    // The data plane has finished its last request: the final usage counts can be saved.
    let (drained_tx, drained_rx) = watch::channel(false);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let control = spawn_control_plane(
        ControlPlane {
            data_dir: args.store.data_dir.clone(),
            admin_listen: args.admin_listen,
            credentials,
            test_clock: args.test_clock,
            reload_every: Duration::from_millis(args.reload_interval_ms.max(10)),
            gateway: gateway.clone(),
            functions: functions.clone(),
            data_plane: tokio::runtime::Handle::current(),
        },
        ready_tx,
        stop_rx.clone(),
        drained_rx,
    )?;
    let admin_addr = match ready_rx.await {
        Ok(Ok(addr)) => addr,
        Ok(Err(e)) => return Err(e),
        Err(_) => anyhow::bail!("the control plane did not start"),
    };

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!(
        "portico: data plane listening on http://{}",
        listener.local_addr()?
    );
    println!("portico: management listening on http://{admin_addr}");
    let mut extra = Vec::new();
    if let Some((tls_listener, certificates)) = tls {
        let https = tls_listener.local_addr()?;
        println!("portico: data plane listening on https://{https}");
        if let Some(ca) = certificates.local_ca_path() {
            let signs = if args.tls_cert.is_some() {
                "signs the certificates of custom domains that bring none"
            } else {
                "signs the HTTPS certificates"
            };
            println!(
                "portico: local CA {} {signs}; trust it with \
                 `curl --cacert {0} …` or system-wide: `sudo cp {0} \
                 /usr/local/share/ca-certificates/portico-local-ca.crt && sudo update-ca-certificates`",
                ca.display()
            );
        }
        if let Some(addr) = args.http_redirect_listen {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            println!(
                "portico: redirecting http://{} to https port {}",
                l.local_addr()?,
                https.port()
            );
            extra.push(tokio::spawn(portico_gateway::serve_redirect(
                l,
                https.port(),
                wait_stop(stop_rx.clone()),
            )));
        }
        extra.push(tokio::spawn(portico_gateway::serve_tls(
            gateway.clone(),
            tls_listener,
            wait_stop(stop_rx.clone()),
            Duration::from_secs(args.shutdown_grace_secs),
            args.limits.listener_limits(),
            portico_gateway::TlsListener {
                certificates,
                hsts: args.hsts_max_age.and_then(|s| {
                    portico_gateway::HeaderValue::from_str(&format!("max-age={s}")).ok()
                }),
            },
        )));
    }

    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested");
        let _ = stop_tx.send(true);
    });
    let served = portico_gateway::serve_with(
        gateway,
        listener,
        wait_stop(stop_rx),
        Duration::from_secs(args.shutdown_grace_secs),
        args.limits.listener_limits(),
    )
    .await;
    for task in extra {
        if let Ok(Err(e)) = task.await {
            tracing::warn!(error = %e, "a listener ended with an error");
        }
    }
    let _ = drained_tx.send(true);
    let joined = tokio::task::spawn_blocking(move || control.join()).await;
    if !matches!(joined, Ok(Ok(()))) {
        tracing::warn!("the control plane did not stop cleanly");
    }
    // No worker outlives Portico: dropping the pools stops their process groups.
    functions.set_functions(Vec::new());
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// What the control plane thread runs with.
struct ControlPlane {
    data_dir: std::path::PathBuf,
    admin_listen: std::net::SocketAddr,
    credentials: Option<Arc<portico_admin::Credentials>>,
    test_clock: bool,
    reload_every: Duration,
    gateway: Arc<Gateway>,
    /// The function runtime the Lambda API publishes to and invokes.
    functions: Arc<portico_functions::Runtime>,
    /// The data plane's runtime, where invocations from the Lambda API run (and their workers
    /// live).
    data_plane: tokio::runtime::Handle,
}

/// The control plane — management listener, publisher (compiling stages and account data),
/// change-feed polling, usage-count persistence — on its own thread and runtime with its own
/// store connections, so that compiling a deployment never holds up a request on the data
/// plane's runtime (one worker with `--workers 1`). `ready` gets the management address once
/// the first publish is served, or why it failed.
fn spawn_control_plane(
    cp: ControlPlane,
    ready: tokio::sync::oneshot::Sender<anyhow::Result<std::net::SocketAddr>>,
    stop: watch::Receiver<bool>,
    drained: watch::Receiver<bool>,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the control plane's runtime")?;
    let thread = std::thread::Builder::new()
        .name("portico-control".into())
        .spawn(move || {
            runtime.block_on(async move {
                let started = async {
                    let store = Store::open(&cp.data_dir)
                        .await
                        .context("cannot open the store")?;
                    let publisher = Arc::new(
                        portico_admin::Publisher::new(store.clone(), cp.gateway.clone())
                            .with_functions(cp.functions.clone()),
                    );
                    log_published(publisher.sync().await?);
                    let admin = tokio::net::TcpListener::bind(cp.admin_listen)
                        .await
                        .with_context(|| format!("cannot listen on {}", cp.admin_listen))?;
                    anyhow::Ok((store, publisher, admin))
                }
                .await;
                let (store, publisher, admin) = match started {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let addr = match admin.local_addr() {
                    Ok(a) => a,
                    Err(e) => {
                        let _ = ready.send(Err(e.into()));
                        return;
                    }
                };
                let admin_task = tokio::spawn(portico_admin::serve(
                    admin,
                    portico_admin::AdminState {
                        gateway: cp.gateway.clone(),
                        store: store.clone(),
                        credentials: cp.credentials,
                        publisher: publisher.clone(),
                        test_clock: cp.test_clock,
                        lambda: Arc::new(
                            portico_admin::lambda::Lambda::new(
                                portico_functions::work_dir(&cp.data_dir).join("code"),
                            )
                            .with_invoker(cp.functions.clone(), Some(cp.data_plane.clone())),
                        ),
                    },
                    wait_stop(stop.clone()),
                ));
                let usage_task =
                    tokio::spawn(usage_loop(cp.gateway.clone(), store.clone(), drained));
                let reload_task = tokio::spawn(reload_loop(publisher, cp.reload_every, stop));
                let _ = ready.send(Ok(addr));
                let _ = reload_task.await;
                let _ = admin_task.await;
                let _ = usage_task.await;
                store.close().await;
            })
        })
        .context("cannot start the control plane's thread")?;
    Ok(thread)
}

/// Persists what requests counted against usage-plan quotas, once a second in one batch (not a
/// write per request), and once more on shutdown; sweeps idle buckets and counters every
/// minute.
async fn usage_loop(gateway: Arc<Gateway>, store: Store, mut drained: watch::Receiver<bool>) {
    /// Rows kept for a retry when a write fails, at most (about 100 MB).
    const MAX_UNSAVED: usize = 1_000_000;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u64 = 0;
    let mut unsaved: Vec<portico_store::UsageCount> = Vec::new();
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = drained.wait_for(|d| *d) => true,
        };
        unsaved.extend(gateway.state().quotas.take_dirty().into_iter().map(|u| {
            portico_store::UsageCount {
                plan_id: u.plan.to_string(),
                key_id: u.key.to_string(),
                day: u.day.to_string(),
                used: i64::try_from(u.used).unwrap_or(i64::MAX),
            }
        }));
        if !unsaved.is_empty() {
            match store.add_usage(&unsaved).await {
                Ok(()) => unsaved.clear(),
                Err(e) => {
                    // Kept for the next tick (the store may be busy or the disk full for a
                    // while); beyond the bound the oldest go.
                    tracing::warn!(error = %e, rows = unsaved.len(), "usage counts not persisted yet");
                    if unsaved.len() > MAX_UNSAVED {
                        let drop = unsaved.len() - MAX_UNSAVED;
                        unsaved.drain(..drop);
                        tracing::warn!(rows = drop, "usage counts dropped");
                    }
                }
            }
        }
        n += 1;
        if n.is_multiple_of(60) {
            gateway.state().throttle.sweep();
            gateway.state().quotas.sweep(gateway.now_epoch_seconds());
        }
        if stopping {
            break;
        }
    }
}

/// Management credentials from `--admin-credentials FILE` or the environment.
fn load_credentials(args: &ServeArgs) -> anyhow::Result<Option<Arc<portico_admin::Credentials>>> {
    if let Some(path) = &args.admin_credentials {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let creds = portico_admin::Credentials::parse(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return Ok(Some(Arc::new(creds)));
    }
    match (
        std::env::var("PORTICO_ADMIN_ACCESS_KEY_ID"),
        std::env::var("PORTICO_ADMIN_SECRET_ACCESS_KEY"),
    ) {
        (Ok(id), Ok(secret)) if !id.is_empty() && !secret.is_empty() => Ok(Some(Arc::new(
            portico_admin::Credentials::single(id, secret),
        ))),
        _ => Ok(None),
    }
}

async fn wait_stop(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn log_published(p: portico_admin::Published) {
    for w in &p.warnings {
        tracing::warn!(location = %w.location, "{}", w.message);
    }
    if let Some(n) = p.stages {
        tracing::info!(stages = n, "deployments published");
    }
}

/// Follows the store's change feed for changes other processes make (a separate `portico import`,
/// later other nodes); this process's own management calls publish before they answer. A failed
/// poll keeps the current deployments serving.
async fn reload_loop(
    publisher: Arc<portico_admin::Publisher>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // Certificate files replaced on disk (renewed, rotated) are served from now on.
        if let Some(tls) = publisher.gateway().tls_certificates() {
            tls.reload_if_changed();
        }
        match publisher.sync().await {
            Ok(p) => log_published(p),
            Err(e) => {
                tracing::warn!(error = %e, "reload failed; previous deployments keep serving")
            }
        }
    }
}

pub async fn routes(args: StoreArgs) -> anyhow::Result<()> {
    let store = Store::open(&args.data_dir).await?;
    let gateway = Gateway::new(GatewayConfig::default());
    log_published(
        portico_admin::Publisher::new(store.clone(), gateway.clone())
            .sync()
            .await?,
    );
    let snapshot = gateway.snapshot();
    let mut stages: Vec<_> = snapshot.stages().collect();
    stages.sort_by(|a, b| (&a.api_id, &a.stage_name).cmp(&(&b.api_id, &b.stage_name)));
    for s in stages {
        println!(
            "{} ({}) stage {} deployment {}",
            s.api_id, s.api_name, s.stage_name, s.deployment_id
        );
        println!("{}", s.router.explain_with(|r| r.explain()));
    }
    let mut http: Vec<_> = snapshot.http_stages().collect();
    http.sort_by(|a, b| (&a.api_id, &a.stage_name).cmp(&(&b.api_id, &b.stage_name)));
    for s in http {
        println!("{} (HTTP API) stage {}", s.api_id, s.stage_name);
        println!("{}", s.explain());
    }
    let mut ws: Vec<_> = snapshot.websocket_stages().collect();
    ws.sort_by(|a, b| (&a.api_id, &a.stage_name).cmp(&(&b.api_id, &b.stage_name)));
    for s in ws {
        println!("{} (WebSocket API) stage {}", s.api_id, s.stage_name);
        println!("{}", s.explain());
    }
    store.close().await;
    Ok(())
}
