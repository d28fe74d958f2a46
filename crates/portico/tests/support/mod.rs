//! The shared black-box toolkit: a real `portico` process on 127.0.0.1:0 ports with a temp data
//! dir, real upstream servers (hyper) and a real HTTP client (reqwest).

#![allow(dead_code)]

pub mod raw;
pub mod recorder;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_portico");

/// A running `portico serve`.
pub struct Portico {
    pub child: Child,
    pub data: PathBuf,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub stdout_lines: Arc<std::sync::Mutex<Vec<String>>>,
    _tmp: Option<tempfile::TempDir>,
}

impl Portico {
    /// Starts `portico serve` with a fresh data dir and the given extra arguments.
    pub fn start(extra: &[&str]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().to_path_buf();
        let mut p = Self::start_in(&data, extra);
        p._tmp = Some(tmp);
        p
    }

    /// Starts `portico serve` on an existing data dir.
    pub fn start_in(data: &Path, extra: &[&str]) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(data)
        .args(["--reload-interval-ms", "50", "--workers", "2"])
        .args(extra)
        .env("PORTICO_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawn portico");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line.clone());
                sink.lock().unwrap().push(line);
            }
        });
        let (mut addr, mut admin) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while addr.is_none() || admin.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("portico did not report its listeners in time")
            });
            if let Some(a) = line.strip_prefix("portico: data plane listening on http://") {
                addr = Some(a.parse().unwrap());
            }
            if let Some(a) = line.strip_prefix("portico: management listening on http://") {
                admin = Some(a.parse().unwrap());
            }
        }
        Self {
            child,
            data: data.to_path_buf(),
            addr: addr.unwrap(),
            admin: admin.unwrap(),
            stdout_lines: lines,
            _tmp: None,
        }
    }

    /// The id of the API named `name`, from the import lines printed at start-up.
    pub fn api_id(&self, name: &str) -> String {
        api_id_from_output(&self.stdout_lines.lock().unwrap().join("\n"), name)
    }

    /// Path-style URL for `path` on `stage`.
    pub fn path_url(&self, api: &str, stage: &str, path: &str) -> String {
        format!(
            "http://{}/restapis/{api}/{stage}/_user_request_{path}",
            self.addr
        )
    }

    /// Host-style URL; use with [`Portico::host_client`].
    pub fn host_url(&self, api: &str, stage: &str, path: &str) -> String {
        format!(
            "http://{api}.execute-api.localhost:{}/{stage}{path}",
            self.addr.port()
        )
    }

    /// A client that resolves `{api}.execute-api.localhost` to the gateway.
    pub fn host_client(&self, api: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .resolve(&format!("{api}.execute-api.localhost"), self.addr)
            .build()
            .unwrap()
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM failed");
    }

    /// Waits for exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Portico {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn api_id_from_output(out: &str, name: &str) -> String {
    let marker = format!("API \"{name}\" (id ");
    let at = out
        .find(&marker)
        .unwrap_or_else(|| panic!("no import line for {name} in:\n{out}"));
    out[at + marker.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// Runs `portico import FILE --data-dir DIR ARGS…`.
pub fn import(data: &Path, file: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("import")
        .arg(file)
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .env("PORTICO_LOG", "warn")
        .output()
        .unwrap()
}

/// Writes `content` to a file in a temp dir that lives as long as the returned guard.
pub fn write_spec(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// What the test upstream saw.
#[derive(Default)]
pub struct Seen {
    pub requests: AtomicUsize,
    pub last: std::sync::Mutex<Option<SeenRequest>>,
}

#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A small binary payload (PNG magic, a NUL, a 0xFF) and its base64 text.
pub const PNG_BYTES: &[u8] = &[0x89, b'P', b'N', b'G', 0, 1, 2, 0xff];
pub const PNG_BASE64: &str = "iVBORwABAv8=";

/// A real HTTP upstream on 127.0.0.1:0 (`/raw/png` and `/raw/b64` answer [`PNG_BYTES`] as
/// `image/png` and [`PNG_BASE64`] as `text/plain`):
/// `/slow/{ms}` sleeps then answers; `/status/{code}` answers that status; everything else echoes
/// method, path, query, selected headers and body as JSON, with `Connection: x-hop` style headers.
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let s = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let s = s.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(req, s).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self { addr, seen, task }
    }
}

async fn answer(req: Request<Incoming>, seen: Arc<Seen>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    seen.requests.fetch_add(1, Ordering::SeqCst);
    let record = SeenRequest {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: body.to_vec(),
    };
    *seen.last.lock().unwrap() = Some(record.clone());
    let path = parts.uri.path();
    if let Some(ms) = path.strip_prefix("/slow/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(1000))).await;
        return Response::new(Full::new(Bytes::from_static(b"slow done")));
    }
    if path == "/raw/png" {
        return Response::builder()
            .header("content-type", "image/png")
            .body(Full::new(Bytes::from_static(PNG_BYTES)))
            .unwrap();
    }
    if path == "/raw/b64" {
        return Response::builder()
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from_static(PNG_BASE64.as_bytes())))
            .unwrap();
    }
    if let Some(code) = path.strip_prefix("/status/") {
        let mut r = Response::new(Full::new(Bytes::from(format!("status {code}"))));
        *r.status_mut() = hyper::StatusCode::from_u16(code.parse().unwrap_or(500)).unwrap();
        return r;
    }
    let json = serde_json::json!({
        "method": record.method,
        "path": path,
        "query": parts.uri.query(),
        "body": String::from_utf8_lossy(&record.body),
    });
    Response::builder()
        .header("content-type", "application/json")
        .header("x-upstream", "yes")
        .header("connection", "x-drop-me")
        .header("x-drop-me", "hop")
        .body(Full::new(Bytes::from(json.to_string())))
        .unwrap()
}

/// A spec whose `/version` answers `{"version": N}`, with a route `/vN` only this version has and,
/// with `backend_route`, an HTTP_PROXY route `/proxy` to `${stageVariables.backend}/echo`.
pub fn versioned_spec(version: u32, backend_route: bool) -> String {
    let proxy = if backend_route {
        r#"
  /proxy:
    get:
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://${stageVariables.backend}/echo"#
    } else {
        ""
    };
    format!(
        r#"
openapi: 3.0.1
info: {{title: live, version: "{version}"}}
paths:
  /version:
    get:
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{application/json: '{{"statusCode": 200}}'}}
        responses:
          default:
            statusCode: "200"
            responseTemplates: {{application/json: '{{"version": {version}}}'}}
  /v{version}:
    get:
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{application/json: '{{"statusCode": 200}}'}}
        responses: {{default: {{statusCode: "200"}}}}{proxy}
"#
    )
}
