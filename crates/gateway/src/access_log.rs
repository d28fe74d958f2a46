//! Access logs: one line per request, in AWS `$context` terms.
//!
//! A stage's `accessLogSettings.format` is compiled once per deployment into literal and variable
//! parts; without one, Portico writes a JSON line with the fields of AWS's JSON preset plus
//! latencies and ids. Lines go through a bounded queue to a writer thread that batches writes, so
//! a request never waits on the log file: when the writer falls behind (a slow disk, a stdout
//! pipe nobody reads) and the queue is full — [`QUEUE_LINES`] lines or [`QUEUE_BYTES`] bytes —
//! new lines are dropped and counted (`portico_access_log_dropped_lines`) rather than blocking
//! requests (back-pressure would turn a stalled log into a stalled gateway) or growing memory.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc;

/// Most lines waiting for the writer.
pub const QUEUE_LINES: usize = 8192;
/// How long the writer lets lines gather between writes under load (an idle writer waits for
/// the next line and writes it at once).
pub const FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);
/// Most bytes of lines waiting for the writer.
pub const QUEUE_BYTES: usize = 8 * 1024 * 1024;
use std::time::{SystemTime, UNIX_EPOCH};

/// What one request contributes to the log.
#[derive(Debug, Clone)]
pub struct AccessLogRecord<'a> {
    /// `$context.requestId`.
    pub request_id: &'a str,
    /// `$context.extendedRequestId`.
    pub extended_request_id: &'a str,
    /// `$context.identity.sourceIp`.
    pub source_ip: &'a str,
    /// `$context.identity.userAgent`.
    pub user_agent: &'a str,
    /// `$context.httpMethod`.
    pub http_method: &'a str,
    /// `$context.resourcePath` (`-` when no resource matched).
    pub resource_path: &'a str,
    /// `$context.resourceId`.
    pub resource_id: &'a str,
    /// `$context.path`: the request path as the client sent it.
    pub path: &'a str,
    /// `$context.status`.
    pub status: u16,
    /// `$context.protocol`.
    pub protocol: &'a str,
    /// `$context.responseLength`, when known.
    pub response_length: Option<u64>,
    /// `$context.requestTimeEpoch` (ms).
    pub request_time_epoch_ms: u64,
    /// `$context.integrationLatency` (ms), when an integration ran.
    pub integration_latency_ms: Option<u64>,
    /// `$context.integrationStatus`.
    pub integration_status: Option<u16>,
    /// `$context.responseLatency` (ms).
    pub response_latency_ms: u64,
    /// `$context.apiId`.
    pub api_id: &'a str,
    /// `$context.stage`.
    pub stage: &'a str,
    /// `$context.domainName`.
    pub domain_name: &'a str,
    /// `$context.error.message`.
    pub error_message: &'a str,
    /// `$context.error.responseType`.
    pub error_response_type: &'a str,
    /// `$context.identity.apiKeyId` (`-` without an API key). The key's value
    /// (`$context.identity.apiKey`) is a secret and is never written (`-`).
    pub api_key_id: &'a str,
    /// `$context.identity.clientCert.*` on a mutual-TLS connection (`-` otherwise).
    pub client_cert: Option<&'a crate::tls::ClientCert>,
    /// `$context.customDomain.basePathMatched` (`-` outside custom domains).
    pub base_path_matched: Option<&'a str>,
    /// `$context.isCanaryRequest` (`-` on a stage without a canary).
    pub is_canary_request: Option<bool>,
    /// What a Lambda authorizer allowed (`$context.authorizer.*`; `-` without one).
    pub authorizer: Option<&'a crate::steps::authorizer::Authorized>,
    /// `$context.routeKey` (HTTP APIs; `-` for REST APIs).
    pub route_key: Option<&'a str>,
    /// `$context.integrationErrorMessage` / `integration.error`: why the integration failed.
    pub integration_error: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    RequestId,
    ExtendedRequestId,
    SourceIp,
    UserAgent,
    Caller,
    User,
    ApiKey,
    ApiKeyId,
    HttpMethod,
    ResourcePath,
    ResourceId,
    Path,
    Status,
    Protocol,
    ResponseLength,
    RequestTime,
    RequestTimeEpoch,
    IntegrationLatency,
    IntegrationStatus,
    ResponseLatency,
    ApiId,
    Stage,
    DomainName,
    ErrorMessage,
    ErrorResponseType,
    ClientCertPem,
    ClientSubjectDn,
    ClientIssuerDn,
    ClientSerialNumber,
    ClientNotBefore,
    ClientNotAfter,
    BasePathMatched,
    IsCanaryRequest,
    AuthorizerPrincipalId,
    AuthorizerLatency,
    RouteKey,
    IntegrationError,
}

const VARS: &[(&str, Var)] = &[
    ("error.responseType", Var::ErrorResponseType),
    ("routeKey", Var::RouteKey),
    ("integrationErrorMessage", Var::IntegrationError),
    ("integration.error", Var::IntegrationError),
    ("error.message", Var::ErrorMessage),
    ("extendedRequestId", Var::ExtendedRequestId),
    ("identity.clientCert.clientCertPem", Var::ClientCertPem),
    ("identity.clientCert.subjectDN", Var::ClientSubjectDn),
    ("identity.clientCert.issuerDN", Var::ClientIssuerDn),
    ("identity.clientCert.serialNumber", Var::ClientSerialNumber),
    (
        "identity.clientCert.validity.notBefore",
        Var::ClientNotBefore,
    ),
    ("identity.clientCert.validity.notAfter", Var::ClientNotAfter),
    ("identity.sourceIp", Var::SourceIp),
    ("customDomain.basePathMatched", Var::BasePathMatched),
    ("isCanaryRequest", Var::IsCanaryRequest),
    ("authorizer.principalId", Var::AuthorizerPrincipalId),
    ("authorizer.integrationLatency", Var::AuthorizerLatency),
    ("authorizer.latency", Var::AuthorizerLatency),
    ("identity.userAgent", Var::UserAgent),
    ("identity.apiKeyId", Var::ApiKeyId),
    ("identity.apiKey", Var::ApiKey),
    ("identity.caller", Var::Caller),
    ("identity.user", Var::User),
    ("integrationLatency", Var::IntegrationLatency),
    ("integration.latency", Var::IntegrationLatency),
    ("integrationStatus", Var::IntegrationStatus),
    ("integration.status", Var::IntegrationStatus),
    ("requestTimeEpoch", Var::RequestTimeEpoch),
    ("requestTime", Var::RequestTime),
    ("requestId", Var::RequestId),
    ("resourcePath", Var::ResourcePath),
    ("resourceId", Var::ResourceId),
    ("responseLatency", Var::ResponseLatency),
    ("responseLength", Var::ResponseLength),
    ("httpMethod", Var::HttpMethod),
    ("protocol", Var::Protocol),
    ("status", Var::Status),
    ("apiId", Var::ApiId),
    ("stage", Var::Stage),
    ("domainName", Var::DomainName),
    ("path", Var::Path),
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(Var),
}

/// A compiled access-log format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogFormat {
    parts: Vec<Part>,
    /// JSON-escape values (the default format).
    json: bool,
}

const DEFAULT_JSON: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath","status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength","integrationLatency":"$context.integrationLatency","responseLatency":"$context.responseLatency","apiId":"$context.apiId","stage":"$context.stage"}"#;

/// An HTTP API stage's default line: the console's default format for HTTP APIs.
const HTTP_API_DEFAULT_JSON: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","routeKey":"$context.routeKey","status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength"}"#;

impl AccessLogFormat {
    /// The default line of HTTP API stages (`routeKey` where REST has `resourcePath`).
    pub fn http_api_default() -> Self {
        let mut f = Self::parse(HTTP_API_DEFAULT_JSON);
        f.json = true;
        f
    }
}

impl Default for AccessLogFormat {
    fn default() -> Self {
        let mut f = Self::parse(DEFAULT_JSON);
        f.json = true;
        f
    }
}

impl AccessLogFormat {
    /// Compiles a `$context.*` format; unknown variables stay literal, as typed.
    pub fn parse(format: &str) -> Self {
        const MARK: &str = "$context.";
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = format;
        while let Some(i) = rest.find(MARK) {
            lit.push_str(&rest[..i]);
            let after = &rest[i + MARK.len()..];
            match VARS.iter().find(|(name, _)| {
                after.starts_with(name)
                    && !after[name.len()..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            }) {
                Some((name, var)) => {
                    if !lit.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Var(*var));
                    rest = &after[name.len()..];
                }
                None => {
                    lit.push_str(MARK);
                    rest = after;
                }
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Literal(lit));
        }
        Self { parts, json: false }
    }

    /// Renders one line (without the newline).
    pub fn render(&self, r: &AccessLogRecord<'_>) -> String {
        let mut out = String::with_capacity(320);
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Var(v) => self.value(&mut out, *v, r),
            }
        }
        out
    }

    fn value(&self, out: &mut String, v: Var, r: &AccessLogRecord<'_>) {
        use std::fmt::Write as _;
        let s: &str = match v {
            Var::RequestId => r.request_id,
            Var::ExtendedRequestId => r.extended_request_id,
            Var::SourceIp => r.source_ip,
            Var::UserAgent => r.user_agent,
            Var::Caller | Var::User | Var::ApiKey => "-",
            Var::ApiKeyId => r.api_key_id,
            Var::HttpMethod => r.http_method,
            Var::ResourcePath => r.resource_path,
            Var::ResourceId => r.resource_id,
            Var::Path => r.path,
            Var::Protocol => r.protocol,
            Var::ApiId => r.api_id,
            Var::Stage => r.stage,
            Var::DomainName => r.domain_name,
            Var::ErrorMessage => r.error_message,
            Var::ErrorResponseType => r.error_response_type,
            Var::RouteKey => r.route_key.unwrap_or("-"),
            Var::IntegrationError => r.integration_error,
            Var::ClientCertPem => {
                // One line per request: the PEM's line breaks written as `\n`.
                let pem = r.client_cert.map_or("-", |c| c.pem.as_str());
                out.push_str(&pem.trim_end().replace('\n', "\\n"));
                return;
            }
            Var::ClientSubjectDn => r.client_cert.map_or("-", |c| c.subject_dn.as_str()),
            Var::ClientIssuerDn => r.client_cert.map_or("-", |c| c.issuer_dn.as_str()),
            Var::ClientSerialNumber => r.client_cert.map_or("-", |c| c.serial_number.as_str()),
            Var::ClientNotBefore => r.client_cert.map_or("-", |c| c.not_before.as_str()),
            Var::ClientNotAfter => r.client_cert.map_or("-", |c| c.not_after.as_str()),
            Var::BasePathMatched => r.base_path_matched.unwrap_or("-"),
            Var::AuthorizerPrincipalId => {
                r.authorizer.and_then(|a| a.principal_id()).unwrap_or("-")
            }
            Var::AuthorizerLatency => {
                match r.authorizer.and_then(|a| a.integration_latency_ms()) {
                    Some(ms) => {
                        let _ = write!(out, "{ms}");
                    }
                    None => out.push('-'),
                }
                return;
            }
            Var::IsCanaryRequest => match r.is_canary_request {
                Some(true) => "true",
                Some(false) => "false",
                None => "-",
            },
            Var::RequestTime => {
                out.push_str(&clf_time(r.request_time_epoch_ms / 1000));
                return;
            }
            Var::Status => {
                let _ = write!(out, "{}", r.status);
                return;
            }
            Var::RequestTimeEpoch => {
                let _ = write!(out, "{}", r.request_time_epoch_ms);
                return;
            }
            Var::ResponseLatency => {
                let _ = write!(out, "{}", r.response_latency_ms);
                return;
            }
            Var::ResponseLength => {
                match r.response_length {
                    Some(n) => {
                        let _ = write!(out, "{n}");
                    }
                    None => out.push('-'),
                }
                return;
            }
            Var::IntegrationLatency => {
                match r.integration_latency_ms {
                    Some(n) => {
                        let _ = write!(out, "{n}");
                    }
                    None => out.push('-'),
                }
                return;
            }
            Var::IntegrationStatus => {
                match r.integration_status {
                    Some(n) => {
                        let _ = write!(out, "{n}");
                    }
                    None => out.push('-'),
                }
                return;
            }
        };
        let s = if s.is_empty() { "-" } else { s };
        if self.json {
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 => {
                        let _ = write!(out, "\\u{:04x}", c as u32);
                    }
                    c => out.push(c),
                }
            }
        } else {
            out.push_str(s);
        }
    }
}

/// `dd/MMM/yyyy:HH:mm:ss +0000`, cached per second and thread.
pub fn clf_time(epoch_secs: u64) -> String {
    use std::cell::RefCell;
    thread_local! {
        static CACHE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != epoch_secs {
            let fmt = time::macros::format_description!(
                "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
            );
            let s = time::OffsetDateTime::from_unix_timestamp(epoch_secs as i64)
                .ok()
                .and_then(|t| t.format(&fmt).ok())
                .unwrap_or_default();
            *c = (epoch_secs, s);
        }
        c.1.clone()
    })
}

/// Milliseconds since the epoch.
pub fn epoch_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Where access-log lines go.
#[derive(Debug, Clone, Default)]
pub enum AccessLogSink {
    /// Nowhere.
    #[default]
    Off,
    /// To the writer thread.
    Writer(Arc<Queue>),
}

/// The bounded queue in front of the writer thread.
#[derive(Debug)]
pub struct Queue {
    tx: mpsc::SyncSender<String>,
    bytes: Arc<AtomicUsize>,
    dropped: AtomicU64,
}

impl AccessLogSink {
    /// Starts a writer thread that appends lines to `out`, flushing when the queue is empty,
    /// then waiting [`FLUSH_INTERVAL`] for more to gather.
    pub fn spawn(mut out: Box<dyn Write + Send>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<String>(QUEUE_LINES);
        let bytes = Arc::new(AtomicUsize::new(0));
        let queued = bytes.clone();
        std::thread::Builder::new()
            .name("portico-access-log".into())
            .spawn(move || {
                let write = |out: &mut Box<dyn Write + Send>, line: String| {
                    let _ = out.write_all(line.as_bytes());
                    let _ = out.write_all(b"\n");
                    queued.fetch_sub(line.len(), Relaxed);
                };
                while let Ok(line) = rx.recv() {
                    write(&mut out, line);
                    while let Ok(line) = rx.try_recv() {
                        write(&mut out, line);
                    }
                    let _ = out.flush();
                    // Let lines gather before the next wake-up, as nginx's `flush=` does: a
                    // writer woken per line costs every request a context switch (12 µs per
                    // request on a busy core; docs/performance.md). The queue holds 8 192 lines,
                    // more than a core serves in this time.
                    std::thread::sleep(FLUSH_INTERVAL);
                }
            })?;
        Ok(Self::Writer(Arc::new(Queue {
            tx,
            bytes,
            dropped: AtomicU64::new(0),
        })))
    }

    /// Lines dropped because the writer had fallen behind.
    pub fn dropped(&self) -> u64 {
        match self {
            Self::Off => 0,
            Self::Writer(q) => q.dropped.load(Relaxed),
        }
    }

    /// Whether lines are wanted at all.
    pub fn enabled(&self) -> bool {
        matches!(self, Self::Writer(_))
    }

    /// Queues one line.
    pub fn write(&self, line: String) {
        let Self::Writer(q) = self else { return };
        let len = line.len();
        if q.bytes.fetch_add(len, Relaxed) + len > QUEUE_BYTES {
            q.bytes.fetch_sub(len, Relaxed);
            q.dropped.fetch_add(1, Relaxed);
            return;
        }
        if q.tx.try_send(line).is_err() {
            q.bytes.fetch_sub(len, Relaxed);
            q.dropped.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AccessLogRecord<'static> {
        AccessLogRecord {
            request_id: "rid",
            extended_request_id: "ext",
            source_ip: "127.0.0.1",
            user_agent: "ua \"x\"",
            http_method: "GET",
            resource_path: "/pets/{id}",
            resource_id: "abc123",
            path: "/dev/pets/1",
            status: 200,
            protocol: "HTTP/1.1",
            response_length: Some(2),
            request_time_epoch_ms: 1_700_000_000_123,
            integration_latency_ms: None,
            integration_status: None,
            response_latency_ms: 3,
            api_id: "api",
            stage: "dev",
            domain_name: "api.execute-api.localhost",
            error_message: "",
            error_response_type: "",
            api_key_id: "-",
            client_cert: None,
            base_path_matched: None,
            authorizer: None,
            is_canary_request: None,
            route_key: None,
            integration_error: "",
        }
    }

    #[test]
    fn default_is_json_with_aws_names() {
        let line = AccessLogFormat::default().render(&record());
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["requestId"], "rid");
        assert_eq!(v["ip"], "127.0.0.1");
        assert_eq!(v["status"], "200");
        assert_eq!(v["resourcePath"], "/pets/{id}");
        assert_eq!(v["integrationLatency"], "-");
        assert_eq!(v["requestTime"], "14/Nov/2023:22:13:20 +0000");
        assert_eq!(v["stage"], "dev");
    }

    #[test]
    fn custom_clf_format() {
        let f = AccessLogFormat::parse(
            "$context.identity.sourceIp $context.identity.caller [$context.requestTime] \"$context.httpMethod $context.resourcePath $context.protocol\" $context.status $context.responseLength $context.requestId $context.unknownThing",
        );
        assert_eq!(
            f.render(&record()),
            "127.0.0.1 - [14/Nov/2023:22:13:20 +0000] \"GET /pets/{id} HTTP/1.1\" 200 2 rid $context.unknownThing"
        );
    }
    /// A writer that never returns (a pipe nobody reads).
    struct Stalled(std::sync::Mutex<mpsc::Receiver<()>>);

    impl Write for Stalled {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.lock().map(|r| r.recv());
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_writer_drops_lines_instead_of_queueing_them() {
        let (_never, rx) = mpsc::channel();
        let sink = AccessLogSink::spawn(Box::new(Stalled(std::sync::Mutex::new(rx)))).unwrap();
        let n = QUEUE_LINES * 3;
        for _ in 0..n {
            sink.write("x".repeat(100));
        }
        let AccessLogSink::Writer(q) = &sink else {
            panic!("off")
        };
        // One line is with the stalled writer; the queue holds at most QUEUE_LINES.
        assert!(
            sink.dropped() >= (n - QUEUE_LINES - 1) as u64,
            "{}",
            sink.dropped()
        );
        assert!(q.bytes.load(Relaxed) <= (QUEUE_LINES + 1) * 100);
        // Large lines hit the byte ceiling first.
        let before = sink.dropped();
        sink.write("y".repeat(QUEUE_BYTES + 1));
        assert_eq!(sink.dropped(), before + 1);
    }
}
