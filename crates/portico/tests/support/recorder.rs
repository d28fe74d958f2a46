//! A recording HTTP/1.1 upstream on raw TCP: it parses what the gateway sends with a strict,
//! independent parser (no hyper), logs every request per connection, and answers `200 OK` with a
//! `Content-Length` body (`/status101…` paths get a `101 Switching Protocols`, after which every
//! byte that still arrives is logged as a desync).
//!
//! Smuggling tests assert on this log, not only on the status the client got: the number of
//! requests the upstream parsed, their paths (never one containing `smuggled`), and that the
//! gateway never sent bytes this strict parser could not frame.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request the recorder parsed completely.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Upstream connection number (in accept order, from 0).
    pub conn: usize,
    /// Position of the request on its connection (0 = first).
    pub index: usize,
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// Trailer fields of a chunked body.
    pub trailers: Vec<(String, Vec<u8>)>,
}

impl Recorded {
    /// All values of header `name` (case-insensitive), lossily as text.
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// The single value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.header_all(name).into_iter().next()
    }
}

/// Something the recorder could not frame: a desync between gateway and upstream.
#[derive(Debug, Clone)]
pub struct Desync {
    pub conn: usize,
    pub reason: String,
    /// The unparsed bytes (at most 2 KiB).
    pub bytes: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Log {
    pub requests: Vec<Recorded>,
    pub desyncs: Vec<Desync>,
    pub connections: usize,
}

/// A running recording upstream on 127.0.0.1:0.
pub struct Recorder {
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        let shared = log.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let conn = {
                    let mut l = shared.lock().unwrap();
                    l.connections += 1;
                    l.connections - 1
                };
                tokio::spawn(serve_conn(stream, conn, shared.clone()));
            }
        });
        Self { addr, log, task }
    }

    /// Every request parsed so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().requests.clone()
    }

    /// Requests whose target contains `needle`.
    pub fn matching(&self, needle: &str) -> Vec<Recorded> {
        self.log
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.target.contains(needle))
            .cloned()
            .collect()
    }

    /// Everything the recorder could not frame.
    pub fn desyncs(&self) -> Vec<Desync> {
        self.log.lock().unwrap().desyncs.clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.log.lock().unwrap().connections
    }
}

enum Parsed {
    /// Need more bytes.
    Partial,
    /// A request and how many bytes it used.
    Done(Box<Recorded>, usize),
    /// Not HTTP/1.1 as a strict parser reads it.
    Bad(String),
}

async fn serve_conn(mut stream: TcpStream, conn: usize, log: Arc<Mutex<Log>>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut index = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match parse(&buf, conn, index) {
            Parsed::Done(req, used) => {
                buf.drain(..used);
                index += 1;
                let switch = req.target.contains("status101");
                let reply = if switch {
                    b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"
                        .to_vec()
                } else {
                    let body = format!("ok {} {}", req.method, req.target);
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .into_bytes()
                };
                log.lock().unwrap().requests.push(*req);
                if stream.write_all(&reply).await.is_err() {
                    return;
                }
                if switch {
                    // A tunnel now, as far as this upstream is concerned: whatever the gateway
                    // still sends here was never meant for it.
                    let mut rest = std::mem::take(&mut buf);
                    loop {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => rest.extend_from_slice(&chunk[..n]),
                        }
                    }
                    if !rest.is_empty() {
                        desync(&log, conn, "bytes after 101 Switching Protocols", &rest);
                    }
                    return;
                }
                continue;
            }
            Parsed::Bad(reason) => {
                desync(&log, conn, &reason, &buf);
                return;
            }
            Parsed::Partial => {}
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => {
                // A request cut short is the gateway aborting (client body failed), not a desync;
                // it is simply not counted.
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn desync(log: &Mutex<Log>, conn: usize, reason: &str, bytes: &[u8]) {
    log.lock().unwrap().desyncs.push(Desync {
        conn,
        reason: reason.to_string(),
        bytes: bytes[..bytes.len().min(2048)].to_vec(),
    });
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Splits CRLF-terminated lines; any bare CR or LF is an error.
fn lines(head: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < head.len() {
        match head[i] {
            b'\r' if head.get(i + 1) == Some(&b'\n') => {
                out.push(&head[start..i]);
                i += 2;
                start = i;
            }
            b'\r' => return Err("bare CR".into()),
            b'\n' => return Err("bare LF".into()),
            _ => i += 1,
        }
    }
    Ok(out)
}

fn field(line: &[u8]) -> Result<(String, Vec<u8>), String> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or("header line without a colon")?;
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(format!(
            "invalid field name {:?}",
            String::from_utf8_lossy(name)
        ));
    }
    let value = &line[colon + 1..];
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err("control byte in a field value".into());
    }
    let trimmed: &[u8] = {
        let s = value
            .iter()
            .position(|&b| b != b' ' && b != b'\t')
            .unwrap_or(value.len());
        let e = value
            .iter()
            .rposition(|&b| b != b' ' && b != b'\t')
            .map(|p| p + 1)
            .unwrap_or(s);
        &value[s..e.max(s)]
    };
    Ok((String::from_utf8_lossy(name).into_owned(), trimmed.to_vec()))
}

fn parse(buf: &[u8], conn: usize, index: usize) -> Parsed {
    if buf.is_empty() {
        return Parsed::Partial;
    }
    let Some(end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > 1 << 20 {
            return Parsed::Bad("head over 1 MiB".into());
        }
        if find(buf, b"\n\n").is_some() {
            return Parsed::Bad("bare LF head".into());
        }
        return Parsed::Partial;
    };
    let head = &buf[..end + 2];
    let lines = match lines(head) {
        Ok(l) => l,
        Err(e) => return Parsed::Bad(e),
    };
    let Some((request_line, fields)) = lines.split_first() else {
        return Parsed::Bad("empty head".into());
    };
    let parts: Vec<&[u8]> = request_line.split(|&b| b == b' ').collect();
    if parts.len() != 3
        || parts[0].is_empty()
        || !parts[0].iter().all(|&b| is_tchar(b))
        || parts[1].is_empty()
        || parts[1].iter().any(|&b| b <= 0x20 || b >= 0x7f)
        || (parts[2] != b"HTTP/1.1" && parts[2] != b"HTTP/1.0")
    {
        return Parsed::Bad(format!(
            "invalid request line {:?}",
            String::from_utf8_lossy(request_line)
        ));
    }
    let mut headers = Vec::new();
    for line in fields {
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            return Parsed::Bad("obs-fold".into());
        }
        match field(line) {
            Ok(f) => headers.push(f),
            Err(e) => return Parsed::Bad(e),
        }
    }
    let te: Vec<&Vec<u8>> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"))
        .map(|(_, v)| v)
        .collect();
    let cl: Vec<&Vec<u8>> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v)
        .collect();
    if !te.is_empty() && !cl.is_empty() {
        return Parsed::Bad("both Transfer-Encoding and Content-Length".into());
    }
    if cl.len() > 1 {
        return Parsed::Bad("several Content-Length fields".into());
    }
    let mut rec = Recorded {
        conn,
        index,
        method: String::from_utf8_lossy(parts[0]).into_owned(),
        target: String::from_utf8_lossy(parts[1]).into_owned(),
        version: String::from_utf8_lossy(parts[2]).into_owned(),
        headers: headers.clone(),
        body: Vec::new(),
        trailers: Vec::new(),
    };
    let body_start = end + 4;
    let rest = &buf[body_start..];
    if !te.is_empty() {
        if te.len() != 1 || !te[0].eq_ignore_ascii_case(b"chunked") {
            return Parsed::Bad(format!(
                "Transfer-Encoding other than one `chunked`: {te:?}"
            ));
        }
        match dechunk(rest) {
            Ok(Some((body, trailers, used))) => {
                rec.body = body;
                rec.trailers = trailers;
                return Parsed::Done(Box::new(rec), body_start + used);
            }
            Ok(None) => return Parsed::Partial,
            Err(e) => return Parsed::Bad(e),
        }
    }
    let len = match cl.first() {
        None => 0,
        Some(v) => {
            if v.is_empty() || !v.iter().all(u8::is_ascii_digit) || v.len() > 18 {
                return Parsed::Bad(format!(
                    "invalid Content-Length {:?}",
                    String::from_utf8_lossy(v)
                ));
            }
            String::from_utf8_lossy(v).parse::<usize>().unwrap()
        }
    };
    if rest.len() < len {
        return Parsed::Partial;
    }
    rec.body = rest[..len].to_vec();
    Parsed::Done(Box::new(rec), body_start + len)
}

type Dechunked = (Vec<u8>, Vec<(String, Vec<u8>)>, usize);

/// Strict chunked decoding: `Ok(None)` when more bytes are needed.
fn dechunk(buf: &[u8]) -> Result<Option<Dechunked>, String> {
    let mut at = 0;
    let mut body = Vec::new();
    loop {
        let Some(eol) = find(&buf[at..], b"\r\n") else {
            if buf[at..].contains(&b'\n') {
                return Err("bare LF in chunk size line".into());
            }
            return Ok(None);
        };
        let line = &buf[at..at + eol];
        let size_part = line.split(|&b| b == b';').next().unwrap_or(&[]);
        if size_part.is_empty()
            || size_part.len() > 15
            || !size_part.iter().all(u8::is_ascii_hexdigit)
        {
            return Err(format!(
                "invalid chunk size line {:?}",
                String::from_utf8_lossy(line)
            ));
        }
        if line.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
            return Err("control byte in chunk extension".into());
        }
        let size = usize::from_str_radix(std::str::from_utf8(size_part).unwrap(), 16).unwrap();
        at += eol + 2;
        if size == 0 {
            // Trailers, then an empty line.
            let mut trailers = Vec::new();
            loop {
                let Some(eol) = find(&buf[at..], b"\r\n") else {
                    return Ok(None);
                };
                let line = &buf[at..at + eol];
                at += eol + 2;
                if line.is_empty() {
                    return Ok(Some((body, trailers, at)));
                }
                trailers.push(field(line)?);
            }
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[at..at + size]);
        at += size;
        if &buf[at..at + 2] != b"\r\n" {
            return Err("chunk data not followed by CRLF".into());
        }
        at += 2;
    }
}
