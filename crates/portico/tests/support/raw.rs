//! A raw-socket HTTP/1 client for malformed-input tests: it writes exactly the bytes it is given
//! (normal clients normalise away the very malformations under test) and reads back every
//! response the server sends on that connection, interim `1xx` ones included.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One response read off the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What came back on one connection.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    pub responses: Vec<RawResponse>,
    /// The server closed the connection (EOF or reset) before we stopped reading.
    pub closed: bool,
    /// Bytes after the last complete response that did not form one.
    pub leftover: Vec<u8>,
    /// How long until the last byte (or the close).
    pub elapsed: Duration,
}

impl Exchange {
    pub fn statuses(&self) -> Vec<u16> {
        self.responses.iter().map(|r| r.status).collect()
    }
}

/// How long to read.
#[derive(Debug, Clone, Copy)]
pub struct ReadPlan {
    /// Final (non-1xx) responses expected; once they are in, reading stops after `settle` without
    /// new bytes (or at the close).
    pub finals: usize,
    /// Quiet time that ends reading once `finals` responses are in.
    pub settle: Duration,
    /// Hard limit for the whole exchange.
    pub limit: Duration,
    /// Keep reading until the server closes (up to `limit`) even after `finals` responses.
    pub until_close: bool,
}

impl Default for ReadPlan {
    fn default() -> Self {
        Self {
            finals: 1,
            settle: Duration::from_millis(150),
            limit: Duration::from_secs(5),
            until_close: false,
        }
    }
}

/// Connects, writes `bytes` (from a separate task, so a server that answers early and stops
/// reading cannot deadlock us), and reads per `plan`.
pub async fn exchange(addr: SocketAddr, bytes: Vec<u8>, plan: ReadPlan) -> Exchange {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&bytes).await;
        let _ = wr.flush().await;
        // Keep the write half open: a half-close would end the request early for some servers.
        wr
    });
    let out = read_responses(&mut rd, plan).await;
    writer.abort();
    out
}

/// Reads responses from an already open connection.
pub async fn read_responses<R: AsyncReadExt + Unpin>(rd: &mut R, plan: ReadPlan) -> Exchange {
    let start = Instant::now();
    let mut buf = Vec::new();
    let mut out = Exchange::default();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // Parse whatever is complete.
        while let Some((resp, used)) = parse_response(&buf, false) {
            buf.drain(..used);
            out.responses.push(resp);
        }
        let finals = out.responses.iter().filter(|r| r.status >= 200).count();
        let left = plan.limit.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        let wait = if finals >= plan.finals && !plan.until_close {
            plan.settle.min(left)
        } else {
            left
        };
        match tokio::time::timeout(wait, rd.read(&mut chunk)).await {
            Err(_) => break,
            Ok(Ok(0)) | Ok(Err(_)) => {
                out.closed = true;
                // A response delimited by the close.
                if let Some((resp, used)) = parse_response(&buf, true) {
                    buf.drain(..used);
                    out.responses.push(resp);
                }
                break;
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    out.elapsed = start.elapsed();
    out.leftover = buf;
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One response from the front of `buf`: `None` until complete. `eof`: the connection closed, so
/// a body without framing ends here.
pub fn parse_response(buf: &[u8], eof: bool) -> Option<(RawResponse, usize)> {
    let end = find(buf, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|s| s.get(2..5))
        .and_then(|s| s.parse().ok())?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let body_start = end + 4;
    let rest = &buf[body_start..];
    let no_body = status < 200 || status == 204 || status == 304;
    if no_body {
        return Some((
            RawResponse {
                status,
                headers,
                body: Vec::new(),
            },
            body_start,
        ));
    }
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut at = 0;
        let mut body = Vec::new();
        loop {
            let eol = find(&rest[at..], b"\r\n")?;
            let size_txt = String::from_utf8_lossy(&rest[at..at + eol]).into_owned();
            let size = usize::from_str_radix(size_txt.split(';').next()?.trim(), 16).ok()?;
            at += eol + 2;
            if size == 0 {
                let end = find(&rest[at..], b"\r\n")?;
                // Skip trailers up to the empty line.
                let mut t = at;
                let mut e = end;
                while e != 0 {
                    t += e + 2;
                    e = find(&rest[t..], b"\r\n")?;
                }
                return Some((
                    RawResponse {
                        status,
                        headers,
                        body,
                    },
                    body_start + t + 2,
                ));
            }
            if rest.len() < at + size + 2 {
                return None;
            }
            body.extend_from_slice(&rest[at..at + size]);
            at += size + 2;
        }
    }
    if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if rest.len() < len {
            return None;
        }
        return Some((
            RawResponse {
                status,
                headers,
                body: rest[..len].to_vec(),
            },
            body_start + len,
        ));
    }
    if eof {
        return Some((
            RawResponse {
                status,
                headers,
                body: rest.to_vec(),
            },
            buf.len(),
        ));
    }
    None
}
