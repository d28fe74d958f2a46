//! Command-line arguments.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    Serve(Box<ServeArgs>),
    /// Create or update an API from an OpenAPI 3.0 / Swagger 2.0 file and deploy it.
    Import(ImportArgs),
    /// Print every served route in match order.
    Routes(StoreArgs),
    /// CORS for a REST API resource, as the API Gateway console's "Enable CORS".
    #[command(subcommand)]
    Cors(CorsCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum CorsCommand {
    /// Create the resource's OPTIONS method (MOCK preflight with Access-Control-Allow-*
    /// headers), add Access-Control-Allow-Origin to its other methods' 200 responses, and
    /// optionally to the DEFAULT_4XX/5XX gateway responses.
    Enable(CorsEnableArgs),
}

#[derive(Debug, Args)]
pub struct CorsEnableArgs {
    /// The REST API: its id or its name.
    #[arg(long)]
    pub api: String,
    /// The resource's path (`/items`, `/items/{id}`).
    #[arg(long)]
    pub path: String,
    /// Access-Control-Allow-Origin: `*` or one origin (`https://app.example.com`).
    #[arg(long, default_value = "*")]
    pub allow_origin: String,
    /// Access-Control-Allow-Headers.
    #[arg(long, default_value = portico_control::cors::DEFAULT_ALLOW_HEADERS)]
    pub allow_headers: String,
    /// Access-Control-Allow-Methods (comma-separated); default: the resource's methods and
    /// OPTIONS.
    #[arg(long)]
    pub allow_methods: Option<String>,
    /// Access-Control-Expose-Headers.
    #[arg(long)]
    pub expose_headers: Option<String>,
    /// Access-Control-Max-Age, in seconds.
    #[arg(long)]
    pub max_age: Option<u32>,
    /// Access-Control-Allow-Credentials: true (needs a named origin, never `*`).
    #[arg(long)]
    pub allow_credentials: bool,
    /// Also add the headers to the DEFAULT_4XX and DEFAULT_5XX gateway responses, so browsers
    /// can read the gateway's errors.
    #[arg(long)]
    pub gateway_responses: bool,
    /// Deploy the API to this stage afterwards.
    #[arg(long, value_name = "STAGE")]
    pub deploy: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
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
    /// The account-level throttle's steady rate in requests per second, over what the store
    /// says (`UpdateAccount`; AWS's default is 10000). Benchmarks raise it.
    #[arg(long, value_name = "RPS")]
    pub account_rate_limit: Option<f64>,
    /// The account-level throttle's burst, over what the store says (AWS's default is 5000).
    #[arg(long, value_name = "N")]
    pub account_burst_limit: Option<u32>,
    /// Most bytes one stage's response cache holds, whatever its `cacheClusterSize`.
    #[arg(long, default_value_t = portico_state::cache::DEFAULT_STAGE_CAP, value_name = "BYTES")]
    pub cache_max_bytes_per_stage: u64,
    /// PEM file of CA certificates trusted for `https` backends besides the system roots
    /// (a private CA, a test CA).
    #[arg(long, value_name = "PEM", env = "PORTICO_BACKEND_CA_FILE")]
    pub backend_ca_file: Option<PathBuf>,
    /// HTTPS listen address (e.g. `127.0.0.1:8443`), served beside the plain listener: a
    /// certificate per custom domain by SNI, HTTP/2 by ALPN. Without `--tls-cert` a local CA in
    /// the data directory (`tls/ca.pem`) signs certificates for `localhost`,
    /// `*.execute-api.localhost` and each custom domain.
    #[arg(long, value_name = "ADDR", env = "PORTICO_TLS_LISTEN")]
    pub tls_listen: Option<SocketAddr>,
    /// PEM certificate (with its chain) for names no custom domain claims (with `--tls-key`).
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_key",
        env = "PORTICO_TLS_CERT"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_cert",
        env = "PORTICO_TLS_KEY"
    )]
    pub tls_key: Option<PathBuf>,
    /// `Strict-Transport-Security: max-age=SECS` on every HTTPS response.
    #[arg(long, value_name = "SECS")]
    pub hsts_max_age: Option<u64>,
    /// A listener that only redirects (308) plain HTTP to the HTTPS listener.
    #[arg(long, value_name = "ADDR", requires = "tls_listen")]
    pub http_redirect_listen: Option<SocketAddr>,
    /// A function invoked on a Lambda-compatible endpoint elsewhere instead of locally:
    /// `NAME=URL` (e.g. `hello=https://lambda.us-east-1.amazonaws.com`; repeatable). Requests
    /// are SigV4-signed (service `lambda`) with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
    /// AWS_SESSION_TOKEN from Portico's environment (never passed to local workers).
    #[arg(long = "remote-function", value_name = "NAME=URL")]
    pub remote_functions: Vec<String>,
    /// Region remote invocations are signed for when the integration's ARN names none.
    #[arg(long, default_value = "us-east-1", value_name = "REGION")]
    pub remote_function_region: String,
    /// Where `AWS` service integrations (SQS, DynamoDB, Step Functions, …) send requests:
    /// `SERVICE=URL`, service as the integration URI names it (`sqs`, `dynamodb`, `states`), or
    /// `*=URL` for every service (one local emulator; repeatable). Default: the regional AWS
    /// endpoint.
    #[arg(long = "aws-endpoint", value_name = "SERVICE=URL")]
    pub aws_endpoints: Vec<String>,
    /// YAML/JSON file of AWS service settings: `endpoints` (as `--aws-endpoint`), `roles` (an
    /// integration's `credentials` role ARN → `profile` or `accessKeyId`/`secretAccessKey`) and
    /// `default` keys. Without it, integrations sign with the environment's AWS_* keys or the
    /// AWS_PROFILE/default profile of the shared credentials file.
    #[arg(long, value_name = "FILE", env = "PORTICO_AWS_CONFIG")]
    pub aws_config: Option<PathBuf>,
    /// The token issuer a `COGNITO_USER_POOLS` authorizer's provider names:
    /// `PROVIDER=ISSUER_URL`, e.g. a user pool ARN mapped to a local OpenID Connect issuer
    /// (keys from its discovery document; repeatable; `issuers` in `--aws-config` says more).
    /// A user pool ARN not mapped is the real Cognito issuer.
    #[arg(long = "jwt-issuer", value_name = "PROVIDER=ISSUER_URL")]
    pub jwt_issuers: Vec<String>,
    /// Testing only: the management API gets `POST /_portico/clock?advance=SECONDS`, which
    /// moves the data plane's wall clock (quota periods) forward.
    #[arg(long, hide = true)]
    pub test_clock: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Data-plane connection limits and timeouts (see docs/security.md).
#[derive(Debug, Args, Clone)]
pub struct LimitArgs {
    /// Seconds a client may take to send a request head, counted from its first byte (from the
    /// accept for a connection's first request); the connection is then closed.
    #[arg(long, default_value = "10", value_name = "SECS", value_parser = parse_secs)]
    pub header_timeout_secs: Duration,
    /// Seconds an idle keep-alive connection stays open; also the longest a request in flight may
    /// go without a byte moving in either direction.
    #[arg(long, default_value = "60", value_name = "SECS", value_parser = parse_secs)]
    pub idle_timeout_secs: Duration,
    /// Seconds a client may take to send a request body of unknown length (chunked, or HTTP/2
    /// without content-length) that the gateway reads whole for its route before proxying it;
    /// 408 after.
    #[arg(long, default_value = "30", value_name = "SECS", value_parser = parse_secs)]
    pub body_timeout_secs: Duration,
    /// Connections served at once; further clients wait in the accept backlog until one closes.
    #[arg(long, default_value_t = 10_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// WebSocket connections open at once (they do not count against --max-connections once
    /// upgraded); further upgrades are refused with 429.
    #[arg(long, default_value_t = 100_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_websocket_connections: u64,
    /// Longest request line (`METHOD target HTTP/1.1`) in bytes; longer ones get 414.
    #[arg(long, default_value_t = 8192, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(16..))]
    pub max_request_line_bytes: u64,
    /// Longest single header field line (`name: value`) in bytes; longer ones get 431.
    #[arg(long, default_value_t = 8192, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(16..))]
    pub max_header_line_bytes: u64,
    /// Longest request head (request line and all field lines, each with its CRLF) in bytes;
    /// larger heads get 431. API Gateway's limit is 10240.
    #[arg(long, default_value_t = 10_240, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(64..))]
    pub max_header_bytes: u64,
    /// Most header fields in one request; more get 431.
    #[arg(long, default_value_t = 100, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_headers: u64,
    /// Largest request body in bytes, however it arrives and whatever reads it; 413 above.
    /// API Gateway's limit is 10 MB.
    #[arg(long, default_value_t = portico_gateway::MAX_PAYLOAD_BYTES, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_body_bytes: u64,
    /// Bytes of buffered request and response bodies the whole process may hold at once; a body
    /// that does not fit is answered 429 at once. Default: a quarter of the memory limit (cgroup
    /// or machine), between 64 MiB and 1 GiB.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub body_budget_bytes: Option<u64>,
    /// Proxy request bodies of unknown length to backends as they arrive (chunked), instead of
    /// reading them whole and sending a Content-Length as API Gateway does.
    #[arg(long)]
    pub stream_proxy_bodies: bool,
    /// Connections open at once to one backend; at the cap a request waits for a free one within
    /// its integration timeout (504 after).
    #[arg(long, default_value_t = 1024, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_backend_connections: u64,
}

impl LimitArgs {
    /// The body settings of the data plane, over `base`.
    pub fn gateway_config(
        &self,
        base: portico_gateway::GatewayConfig,
    ) -> portico_gateway::GatewayConfig {
        portico_gateway::GatewayConfig {
            max_body_bytes: self.max_body_bytes,
            body_timeout: self.body_timeout_secs,
            stream_proxy_bodies: self.stream_proxy_bodies,
            body_budget_bytes: self.body_budget_bytes.unwrap_or(base.body_budget_bytes),
            upstream_max_connections: usize::try_from(self.max_backend_connections)
                .unwrap_or(usize::MAX),
            max_websocket_connections: usize::try_from(self.max_websocket_connections)
                .unwrap_or(usize::MAX),
            ..base
        }
    }

    /// The listener limits these flags describe.
    pub fn listener_limits(&self) -> portico_gateway::ListenerLimits {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        portico_gateway::ListenerLimits {
            header_timeout: self.header_timeout_secs,
            idle_timeout: self.idle_timeout_secs,
            max_connections: size(self.max_connections),
            max_request_line_bytes: size(self.max_request_line_bytes),
            max_header_line_bytes: size(self.max_header_line_bytes),
            max_header_bytes: size(self.max_header_bytes),
            max_headers: size(self.max_headers),
        }
    }
}

/// A positive number of seconds, fractions allowed (`0.5`).
fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("not a number of seconds: {s}"))?;
    if secs.is_nan() || secs <= 0.0 {
        return Err(format!("must be more than 0 seconds: {s}"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s}: {e}"))
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
