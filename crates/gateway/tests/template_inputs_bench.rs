//! What a mapping template that reads the request body many times costs (issue 11, part 6):
//! `$input.json('$.a')` 50 times on a 1 MB JSON body, beside one parse of that body.
//!
//! A timing, not a pass/fail test: it is ignored by the ordinary run. Run it optimised:
//!
//! ```text
//! cargo test --release -p portico-gateway --test template_inputs_bench -- --ignored --nocapture
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use portico_gateway::mapping::MappingTemplate;
use portico_gateway::templating::TemplateInputs;
use std::time::{Duration, Instant};

/// A JSON object of about `size` bytes: `a` first, then many small records.
fn body_of(size: usize) -> bytes::Bytes {
    let mut s = String::from(r#"{"a":{"id":1,"name":"first"},"items":["#);
    let mut i = 0;
    while s.len() < size {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"id":{i},"name":"item {i}","tags":["x","y"],"price":{i}.5,"ok":true}}"#
        ));
        i += 1;
    }
    s.push_str("]}");
    bytes::Bytes::from(s)
}

/// The median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

#[test]
#[ignore = "a timing: run with --release -- --ignored --nocapture"]
fn input_json_50_times_on_a_1_mb_body() {
    let body = body_of(1024 * 1024);
    let (template, error) = MappingTemplate::compile(&"$input.json('$.a')\n".repeat(50));
    assert_eq!(error, None);
    let render = || {
        template
            .render_with(TemplateInputs {
                body: body.clone(),
                ..Default::default()
            })
            .unwrap()
    };
    assert!(render().starts_with(br#"{"id":1,"name":"first"}"#));
    let parse = median(21, || {
        std::hint::black_box(serde_json::from_slice::<serde_json::Value>(&body).unwrap());
    });
    let rendered = median(21, || {
        std::hint::black_box(render());
    });
    println!(
        "body {} bytes: one serde_json parse {:.2} ms; template of 50 $input.json('$.a') {:.2} ms ({:.1} parses)",
        body.len(),
        parse.as_secs_f64() * 1e3,
        rendered.as_secs_f64() * 1e3,
        rendered.as_secs_f64() / parse.as_secs_f64()
    );
}
