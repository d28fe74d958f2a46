//! A WebSocket echo server: nginx's upstream in `bench/websocket.py` (every text or binary
//! message comes back as it was sent).
//!
//!     cargo run --release -p portico-gateway --example ws_echo -- 127.0.0.1:18185

use futures_util::{SinkExt, StreamExt};

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18185".into());
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    println!("ws_echo listening on {addr}");
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            while let Some(Ok(m)) = ws.next().await {
                if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                    return;
                }
            }
        });
    }
}
