//! A closed-loop WebSocket load generator for `bench/websocket.py`: `CONNECTIONS` clients each
//! send a text message, wait for its echo, and send the next, for `SECONDS`; prints one JSON
//! line (`messages`, `seconds`, `per_second`, `p50_ms`, `p99_ms`, `errors`).
//!
//!     cargo run --release -p portico-gateway --example ws_load -- \
//!         ws://127.0.0.1:18190/restapis/API/bench 50 5 64

use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).cloned().unwrap_or_else(|| {
        eprintln!("usage: ws_load URL [CONNECTIONS] [SECONDS] [BYTES]");
        std::process::exit(2)
    });
    let conns: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50);
    let seconds: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(5);
    let bytes: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(64);
    let payload = format!(
        "{{\"action\":\"echo\",\"data\":\"{}\"}}",
        "x".repeat(bytes.saturating_sub(27))
    );
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let url = url.clone();
        let payload = payload.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let req = match url.as_str().into_client_request() {
                Ok(r) => r,
                Err(_) => return (latencies, 1usize),
            };
            let authority = req
                .uri()
                .authority()
                .map(|a| a.to_string())
                .unwrap_or_default();
            let Ok(tcp) = tokio::net::TcpStream::connect(&authority).await else {
                return (latencies, 1);
            };
            let _ = tcp.set_nodelay(true);
            let Ok((mut ws, _)) = tokio_tungstenite::client_async(req, tcp).await else {
                return (latencies, 1);
            };
            let mut errors = 0;
            while Instant::now() < end {
                let t = Instant::now();
                if ws.send(Message::text(payload.clone())).await.is_err() {
                    errors += 1;
                    break;
                }
                match ws.next().await {
                    Some(Ok(Message::Text(_))) => latencies.push(t.elapsed()),
                    _ => {
                        errors += 1;
                        break;
                    }
                }
            }
            let _ = ws.close(None).await;
            (latencies, errors)
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            all.extend(l);
            errors += e;
        }
    }
    let elapsed = started
        .elapsed()
        .as_secs_f64()
        .min(seconds as f64)
        .max(0.001);
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    println!(
        "{{\"messages\": {}, \"seconds\": {:.3}, \"per_second\": {:.1}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"errors\": {}}}",
        all.len(),
        elapsed,
        all.len() as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        errors
    );
}
