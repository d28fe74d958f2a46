//! Command-line arguments.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "portico",
    version,
    about = "A self-hosted API gateway that speaks Amazon API Gateway's language"
)]
pub struct Cli {
    /// Log format for diagnostics on stderr: `text` or `json`.
    #[arg(
        long,
        global = true,
        default_value = "text",
        env = "PORTICO_LOG_FORMAT"
    )]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the data plane and the management listener.
    Serve(ServeArgs),
    /// Create or update an API from an OpenAPI 3.0 / Swagger 2.0 file and deploy it.
    Import(ImportArgs),
    /// Print every served route in match order.
    Routes(StoreArgs),
}

#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Directory of the embedded store.
    #[arg(long, default_value = "./portico-data", env = "PORTICO_DATA_DIR")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct DeployArgs {
    /// Stage to deploy imported APIs to.
    #[arg(long, default_value = "dev")]
    pub stage: String,
    /// Stage variable `NAME=VALUE` set on that stage (repeatable).
    #[arg(long = "stage-variable", value_name = "NAME=VALUE")]
    pub stage_variables: Vec<String>,
    /// Description of the deployment.
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// OpenAPI file (YAML or JSON).
    pub file: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub deploy: DeployArgs,
    /// Data-plane address used to print invoke URLs.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data-plane listen address.
    #[arg(long, default_value = "0.0.0.0:8080", env = "PORTICO_LISTEN")]
    pub listen: SocketAddr,
    /// Management listener (health, metrics, management APIs). Without credentials it only binds
    /// to loopback.
    #[arg(long, default_value = "127.0.0.1:9090", env = "PORTICO_ADMIN_LISTEN")]
    pub admin_listen: SocketAddr,
    /// File of `ACCESS_KEY_ID:SECRET` lines: management calls must then be SigV4-signed with one.
    #[arg(long, env = "PORTICO_ADMIN_CREDENTIALS")]
    pub admin_credentials: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// OpenAPI files to import and deploy before serving (repeatable).
    #[arg(long = "import", value_name = "FILE")]
    pub imports: Vec<PathBuf>,
    #[command(flatten)]
    pub deploy: DeployArgs,
    /// Access log destination: `stdout`, `stderr`, `off` or a file path (appended).
    #[arg(long, default_value = "stdout", env = "PORTICO_ACCESS_LOG")]
    pub access_log: String,
    /// Runtime worker threads (default: one per CPU). 1 uses a single-threaded runtime.
    #[arg(long, env = "PORTICO_WORKERS")]
    pub workers: Option<usize>,
    /// How often to look for new deployments in the store, in milliseconds.
    #[arg(long, default_value_t = 250)]
    pub reload_interval_ms: u64,
    /// How long SIGTERM waits for requests in flight, in seconds.
    #[arg(long, default_value_t = 10)]
    pub shutdown_grace_secs: u64,
}

pub fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTICO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Parses `NAME=VALUE` stage variables, checking AWS's rules.
pub fn parse_stage_variables(
    raw: &[String],
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for item in raw {
        let Some((k, v)) = item.split_once('=') else {
            anyhow::bail!("stage variable must be NAME=VALUE: {item}");
        };
        if k.is_empty()
            || k.len() > 64
            || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            anyhow::bail!("stage variable name must be 1-64 characters of [A-Za-z0-9_]: {k}");
        }
        let value_ok = v.len() <= 512
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~:/?#&=,".contains(c));
        if !value_ok {
            anyhow::bail!(
                "stage variable {k}: value must be at most 512 characters of [A-Za-z0-9-._~:/?#&=,]"
            );
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}
