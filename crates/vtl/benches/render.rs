//! `cargo bench -p portico-vtl --bench render`: how fast a typical API Gateway mapping template
//! renders (a `#set`, a `#foreach` over 20 items building JSON with `$foreach.hasNext`, an `#if`,
//! references and method calls), and how fast it parses. Plain `std::time`, no harness: prints
//! renders per second and microseconds per render (and per parse). Build with `--release`
//! (`cargo bench` does).

use portico_vtl::{Context, Limits, Template, Value, parse};
use std::hint::black_box;
use std::time::{Duration, Instant};

const TEMPLATE: &str = r##"#set($items = $input.items)
{
  "requestId": "$context.requestId",
  "stage": "$context.stage",
  "count": $items.size(),
  "items": [
#foreach($item in $items)
    {"id": "$item.id", "name": "$item.name.toUpperCase()", "price": $item.price, "index": $foreach.index}#if($foreach.hasNext),#end
#end
  ],
#if($items.size() > 10)
  "page": "large",
#else
  "page": "small",
#end
  "user": "$!input.user"
}
"##;

fn context() -> Context {
    let items: Vec<serde_json::Value> = (0..20)
        .map(|i| serde_json::json!({"id": format!("item-{i}"), "name": format!("widget {i}"), "price": 10 + i}))
        .collect();
    let mut ctx = Context::new();
    ctx.insert(
        "input",
        Value::from(serde_json::json!({"items": items, "user": "alice"})),
    );
    ctx.insert(
        "context",
        Value::from(serde_json::json!({"requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "stage": "prod"})),
    );
    ctx
}

/// Runs `f` in batches for about `time` (after a short warm-up); returns (runs, elapsed).
fn measure(time: Duration, mut f: impl FnMut()) -> (u64, Duration) {
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(300) {
        f();
    }
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed() < time {
        for _ in 0..100 {
            f();
        }
        runs += 100;
    }
    (runs, start.elapsed())
}

fn report(what: &str, runs: u64, elapsed: Duration) {
    let per = elapsed.as_secs_f64() / runs as f64;
    println!(
        "{what:<8} {runs:>9} runs in {:.2} s: {:>10.0} /s, {:>7.2} µs each",
        elapsed.as_secs_f64(),
        1.0 / per,
        per * 1e6
    );
}

fn main() {
    let time = std::env::var("VTL_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(3), Duration::from_secs_f64);
    let template: Template = match parse(TEMPLATE) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("parse error: {e}");
            std::process::exit(1);
        }
    };
    let limits = Limits::default();
    let mut ctx = context();
    let out = match template.render(&mut ctx, &limits) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("render error: {e}");
            std::process::exit(1);
        }
    };
    if serde_json::from_str::<serde_json::Value>(&out).is_err() {
        eprintln!("the template did not render JSON:\n{out}");
        std::process::exit(1);
    }
    println!(
        "template: {} bytes, output: {} bytes, 20 items",
        TEMPLATE.len(),
        out.len()
    );
    let (runs, elapsed) = measure(time, || {
        let _ = black_box(template.render(black_box(&mut ctx), &limits));
    });
    report("render", runs, elapsed);
    let (runs, elapsed) = measure(time, || {
        let _ = black_box(parse(black_box(TEMPLATE)));
    });
    report("parse", runs, elapsed);
}
