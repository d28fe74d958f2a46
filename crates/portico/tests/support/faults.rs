//! A fault-injecting HTTP/1.1 origin written on raw TCP, after Pingora's mock origin: each path
//! (`/<fault>/...`, the first segment names the fault) misbehaves in one precise way that a
//! well-behaved server library would never allow. It counts accepted connections, connections
//! still open, and requests per fault, so tests can check both what the client got and that the
//! gateway let go of every connection.
//!
//! Faults (the response to a request for `/<fault>`):
//!
//! | fault | what the origin does |
//! |---|---|
//! | `ok` | `200`, `Content-Length`, body `ok <request body length>`, keeps the connection |
//! | `hang` | reads the request, never answers; holds the connection until the peer closes it |
//! | `close` | reads the request, closes (FIN) without a byte |
//! | `reset` | reads the request, resets the connection (RST) without a byte |
//! | `close_mid_headers` | half a status line and header, then FIN |
//! | `reset_mid_headers` | half a status line and header, then RST |
//! | `bad_status` | `HTTP/1.1 2x0 OK` |
//! | `garbage` | a line that is not HTTP at all |
//! | `bad_cl` | `Content-Length: abc` |
//! | `two_cl` | two differing `Content-Length` headers |
//! | `bad_chunk` | chunked, chunk size `zz` |
//! | `chunk_overflow` | chunked, a chunk size of 17 hex digits |
//! | `die_mid_body` | `Content-Length: 1000`, 10 bytes, FIN |
//! | `reset_mid_body` | `Content-Length: 1000`, 10 bytes, RST |
//! | `chunked_die` | chunked, one 10-byte chunk, FIN before the terminal chunk |
//! | `chunked_reset` | chunked, one 10-byte chunk, RST before the terminal chunk |
//! | `slow_head` | the status line, then the rest of the head 2 s later |
//! | `slow_body` | `Content-Length: 40`, one byte every 50 ms |
//! | `stale` | answers the first request on a connection; on any later one reads it and closes (FIN): the keep-alive race, made deterministic |
//! | `stale_rst` | as `stale` but resets (RST) |
//! | `info_100` | `100 Continue`, then `200` |
//! | `info_103` | `103 Early Hints`, `100 Continue`, then `200` |
//! | `info_then_die` | `100 Continue`, then FIN |
//! | `switch_101` | an unrequested `101 Switching Protocols` |
//! | `many_headers` | `200` with 300 header fields |
//! | `huge_header` | `200` with one 1 MiB header value |
//! | `early_413` | answers `413` + `Connection: close` after the head, before reading the body |
//! | `status_503` | a well-formed `503` (passed through, not a gateway error) |

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Counters the fault origin keeps.
#[derive(Default, Debug)]
pub struct FaultStats {
    /// Connections accepted so far.
    pub accepted: AtomicUsize,
    /// Connections accepted and not yet closed (by either side).
    pub open: AtomicUsize,
    /// Request heads read, per fault name.
    pub requests: Mutex<HashMap<String, usize>>,
}

impl FaultStats {
    /// Requests seen for `fault`.
    pub fn requests_for(&self, fault: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .get(fault)
            .copied()
            .unwrap_or(0)
    }

    /// Connections open right now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

/// The fault origin on 127.0.0.1:0.
pub struct FaultUpstream {
    pub addr: SocketAddr,
    pub stats: Arc<FaultStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultUpstream {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(FaultStats::default());
        let s = stats.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { return };
                        s.accepted.fetch_add(1, Ordering::SeqCst);
                        s.open.fetch_add(1, Ordering::SeqCst);
                        let s = s.clone();
                        conns.spawn(async move {
                            let _guard = OpenGuard(s.clone());
                            serve(stream, &s).await;
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Self { addr, stats, task }
    }
}

/// Decrements `open` when a connection task ends (or is aborted with the origin).
struct OpenGuard(Arc<FaultStats>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A parsed request head plus how much body follows.
struct Head {
    path: String,
    content_length: usize,
    chunked: bool,
}

/// Reads one request head; `None` when the peer closed or sent something unreadable.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Head> {
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            buf.drain(..end + 4);
            let mut lines = head.split("\r\n");
            let path = lines.next()?.split(' ').nth(1)?.to_string();
            let mut content_length = 0;
            let mut chunked = false;
            for l in lines {
                let (k, v) = l.split_once(':')?;
                if k.eq_ignore_ascii_case("content-length") {
                    content_length = v.trim().parse().ok()?;
                }
                if k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked") {
                    chunked = true;
                }
            }
            return Some(Head {
                path,
                content_length,
                chunked,
            });
        }
        if buf.len() > 256 * 1024 {
            return None;
        }
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Reads the request body; returns its length (`None`: the peer went away).
async fn read_body(stream: &mut TcpStream, buf: &mut Vec<u8>, head: &Head) -> Option<usize> {
    if head.chunked {
        let mut total = 0;
        loop {
            let line_end = loop {
                if let Some(i) = find(buf, b"\r\n") {
                    break i;
                }
                fill(stream, buf).await?;
            };
            let size_text = String::from_utf8_lossy(&buf[..line_end]).to_string();
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            buf.drain(..line_end + 2);
            if size == 0 {
                // Trailers (none expected) and the final CRLF.
                while find(buf, b"\r\n").is_none() {
                    fill(stream, buf).await?;
                }
                let i = find(buf, b"\r\n")?;
                buf.drain(..i + 2);
                return Some(total);
            }
            while buf.len() < size + 2 {
                fill(stream, buf).await?;
            }
            buf.drain(..size + 2);
            total += size;
        }
    }
    while buf.len() < head.content_length {
        fill(stream, buf).await?;
    }
    buf.drain(..head.content_length);
    Some(head.content_length)
}

async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Some(())
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Closes with RST: SO_LINGER 0, then drop.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Waits until the peer closes its side (reads to EOF, discarding).
async fn wait_peer_close(stream: &mut TcpStream) {
    let mut chunk = [0u8; 8192];
    while let Ok(n) = stream.read(&mut chunk).await {
        if n == 0 {
            return;
        }
    }
}

async fn serve(mut stream: TcpStream, stats: &FaultStats) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    let mut served_on_this_connection = 0usize;
    loop {
        let Some(head) = read_head(&mut stream, &mut buf).await else {
            return;
        };
        let fault = head
            .path
            .trim_start_matches('/')
            .split(['/', '?'])
            .next()
            .unwrap_or("")
            .to_string();
        *stats
            .requests
            .lock()
            .unwrap()
            .entry(fault.clone())
            .or_default() += 1;
        if fault == "early_413" {
            let _ = stream
                .write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
            let _ = stream.shutdown().await;
            // Drain what the client still sends so the close is a clean FIN, not a RST.
            let _ =
                tokio::time::timeout(Duration::from_secs(5), wait_peer_close(&mut stream)).await;
            return;
        }
        let Some(body_len) = read_body(&mut stream, &mut buf, &head).await else {
            return;
        };
        served_on_this_connection += 1;
        let w = &mut stream;
        let written = match fault.as_str() {
            "ok" => {
                let body = format!("ok {body_len}");
                w.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await
            }
            "status_503" => {
                w.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy")
                    .await
            }
            "hang" => {
                wait_peer_close(w).await;
                return;
            }
            "close" => return,
            "reset" => return reset(stream),
            "close_mid_headers" => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Ty").await;
                return;
            }
            "reset_mid_headers" => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Ty").await;
                let _ = w.flush().await;
                tokio::time::sleep(Duration::from_millis(5)).await;
                return reset(stream);
            }
            "bad_status" => {
                let _ = w.write_all(b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n").await;
                return;
            }
            "garbage" => {
                let _ = w.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
                return;
            }
            "bad_cl" => {
                let _ = w
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello")
                    .await;
                return;
            }
            "two_cl" => {
                let _ = w
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                    )
                    .await;
                return;
            }
            "bad_chunk" => {
                let _ = w
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
                    )
                    .await;
                return;
            }
            "chunk_overflow" => {
                let _ = w
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nhello\r\n0\r\n\r\n",
                    )
                    .await;
                return;
            }
            "die_mid_body" | "reset_mid_body" => {
                let _ = w
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n0123456789")
                    .await;
                let _ = w.flush().await;
                tokio::time::sleep(Duration::from_millis(5)).await;
                if fault == "reset_mid_body" {
                    reset(stream);
                }
                return;
            }
            "chunked_die" | "chunked_reset" => {
                let _ = w
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n")
                    .await;
                let _ = w.flush().await;
                tokio::time::sleep(Duration::from_millis(5)).await;
                if fault == "chunked_reset" {
                    reset(stream);
                }
                return;
            }
            "slow_head" => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\n").await;
                tokio::time::sleep(Duration::from_secs(2)).await;
                let _ = w.write_all(b"Content-Length: 2\r\n\r\nok").await;
                return;
            }
            "slow_body" => {
                if w
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 40\r\n\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                for _ in 0..40 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    if w.write_all(b"x").await.is_err() {
                        return;
                    }
                }
                Ok(())
            }
            "stale" | "stale_rst" => {
                if served_on_this_connection > 1 {
                    if fault == "stale_rst" {
                        reset(stream);
                    }
                    return;
                }
                w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
                    .await
            }
            "info_100" => {
                w.write_all(
                    format!(
                        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\nok {body_len}",
                        3 + body_len.to_string().len()
                    )
                    .as_bytes(),
                )
                .await
            }
            "info_103" => {
                w.write_all(
                    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok 0",
                )
                .await
            }
            "info_then_die" => {
                let _ = w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
                return;
            }
            "switch_101" => {
                let _ = w
                    .write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
                    .await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                return;
            }
            "many_headers" => {
                let mut r = String::from("HTTP/1.1 200 OK\r\n");
                for i in 0..300 {
                    r.push_str(&format!("X-H{i}: v\r\n"));
                }
                r.push_str("Content-Length: 2\r\n\r\nok");
                let _ = w.write_all(r.as_bytes()).await;
                return;
            }
            "huge_header" => {
                let mut r = String::from("HTTP/1.1 200 OK\r\nX-Huge: ");
                r.push_str(&"a".repeat(1024 * 1024));
                r.push_str("\r\nContent-Length: 2\r\n\r\nok");
                let _ = w.write_all(r.as_bytes()).await;
                return;
            }
            _ => {
                w.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    .await
            }
        };
        if written.is_err() {
            return;
        }
    }
}

/// Facts about a process from `/proc` (Linux).
pub mod procfs {
    /// Open file descriptors of `pid`.
    pub fn fd_count(pid: u32) -> usize {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Resident set size of `pid`, in KiB.
    pub fn rss_kib(pid: u32) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// TCP sockets of `pid`'s network namespace in state ESTABLISHED whose remote port is `port`
    /// (the gateway's connections to one upstream), from `/proc/<pid>/net/tcp`.
    #[allow(dead_code)]
    pub fn established_to_port(pid: u32, port: u16) -> usize {
        let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
        let port_hex = format!("{port:04X}");
        table
            .lines()
            .skip(1)
            .filter(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.len() > 3
                    && cols[2].rsplit(':').next() == Some(port_hex.as_str())
                    && cols[3] == "01"
            })
            .count()
    }
}
