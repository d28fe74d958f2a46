//! Differential test: every template in `tests/velocity/cases` is rendered by Apache Velocity 1.7
//! (Debian's `velocity` package, run through `tests/velocity/Render.java`) and by portico-vtl
//! against the same context; the outputs must be identical, except for the documented
//! divergences listed in `KNOWN_DIVERGENCES`. Skipped, with the reason printed, when Java or the
//! Velocity jar is not installed (`scripts/setup.sh` installs them).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use portico_vtl::{Context, Dialect, Limits, Value, parse};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Cases where portico-vtl's Velocity 1.7 dialect knowingly differs from Velocity 1.7, with the
/// reason. Empty: the whitespace rules follow Velocity 1.7's lexer (c020, c028 and c040-c053 pin
/// them).
const KNOWN_DIVERGENCES: &[(&str, &str)] = &[];

/// Cases whose output under API Gateway's rules (`Dialect::ApiGateway`, what the gateway uses)
/// differs from Velocity 1.7 because AWS differs: recorded on AWS, a null reference renders as
/// nothing (1.7 prints its source) and `null == ""` is true. Every other case must render the
/// same under both dialects.
const AWS_DIVERGENCES: &[(&str, &str)] = &[
    (
        "c002",
        "a null reference renders as nothing, not as `$missing`",
    ),
    (
        "c054",
        "null references render as nothing: a null variable, its properties and methods, inside a string literal, a property of a string, a missing map key",
    ),
    (
        "c055",
        "`null == \"\"` is true (and `null != \"\"` false); a list is not \"\"",
    ),
];

const JARS: [&str; 3] = [
    "/usr/share/java/velocity.jar",
    "/usr/share/java/commons-collections3.jar",
    "/usr/share/java/commons-lang.jar",
];

fn velocity_outputs(cases: &Path) -> Result<BTreeMap<String, String>, String> {
    for jar in JARS {
        if !Path::new(jar).exists() {
            return Err(format!("{jar} is not installed"));
        }
    }
    let classes = tempfile_dir();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/velocity/Render.java");
    let javac = Command::new("javac")
        .args(["-cp", JARS[0], "-d"])
        .arg(&classes)
        .arg(&src)
        .output()
        .map_err(|e| format!("javac not available: {e}"))?;
    if !javac.status.success() {
        return Err(format!(
            "javac failed: {}",
            String::from_utf8_lossy(&javac.stderr)
        ));
    }
    let cp = format!("{}:{}", classes.display(), JARS.join(":"));
    let out = Command::new("java")
        .args(["-cp", &cp, "Render"])
        .arg(cases)
        .output()
        .map_err(|e| format!("java not available: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "java failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut map = BTreeMap::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("=====") {
        let after = &rest[start + 5..];
        let Some(name_end) = after.find("=====\n") else {
            break;
        };
        let name = after[..name_end].to_owned();
        let body = &after[name_end + 6..];
        let Some(end) = body.find("\n=====end=====\n") else {
            break;
        };
        map.insert(name, body[..end].to_owned());
        rest = &body[end + 15..];
    }
    Ok(map)
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portico-vtl-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn context() -> Context {
    let mut ctx = Context::new();
    ctx.insert("name", Value::from("World"));
    ctx.insert("num", Value::Int(42));
    ctx.insert("list", Value::from(serde_json::json!(["a", "b", "c"])));
    ctx.insert("map", Value::from(serde_json::json!({"k1": "v1", "k2": 2})));
    ctx.insert("empty", Value::from(""));
    ctx
}

#[test]
fn portico_vtl_renders_like_apache_velocity_1_7() {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/velocity/cases");
    let expected = match velocity_outputs(&cases) {
        Ok(e) => e,
        Err(reason) => {
            println!(
                "skipped: differential test against Velocity 1.7 needs Java and Debian's velocity: {reason}"
            );
            return;
        }
    };
    assert!(
        expected.len() >= 50,
        "only {} cases rendered by Velocity",
        expected.len()
    );
    let mut same = 0;
    let mut diffs = Vec::new();
    for (name, want) in &expected {
        let src = std::fs::read_to_string(cases.join(name)).unwrap();
        let render = |dialect| match parse(&src) {
            Ok(t) => t
                .render_as(&mut context(), &Limits::default(), dialect)
                .unwrap_or_else(|e| format!("<<render error: {e:?}>>")),
            Err(e) => format!("<<parse error: {e}>>"),
        };
        let got = render(Dialect::Velocity17);
        let aws = render(Dialect::ApiGateway);
        let listed = AWS_DIVERGENCES
            .iter()
            .any(|(n, _)| name.strip_suffix(".vm") == Some(n));
        if (&aws != want) != listed {
            diffs.push(format!(
                "{name} (API Gateway dialect; {}):\n  velocity: {want:?}\n  api gateway: {aws:?}\n  template: {src:?}",
                if listed { "listed in AWS_DIVERGENCES but renders like 1.7" } else { "differs from 1.7 but is not listed in AWS_DIVERGENCES" }
            ));
        }
        if &got == want {
            same += 1;
        } else if !KNOWN_DIVERGENCES.iter().any(|(n, _)| n == name) {
            diffs.push(format!(
                "{name}:\n  velocity: {want:?}\n  portico:  {got:?}\n  template: {src:?}"
            ));
        }
    }
    println!(
        "differential: {same}/{} identical to Velocity 1.7 ({} known divergences); \
         {} differ under API Gateway's rules, as AWS does",
        expected.len(),
        KNOWN_DIVERGENCES.len(),
        AWS_DIVERGENCES.len()
    );
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
