#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Mapping-template conformance suite: API Gateway's documented template examples (and the quirks
//! in the reference, `../shared/reference/aws-api-gateway.md` §6), rendered through the same path
//! the gateway uses at runtime (`MappingTemplate::compile` + `render_with` with the real `$input`,
//! `$util`, `$context` and `$stageVariables` objects), compared with what AWS renders.
//!
//! Cases live in `tests/conformance/*.json` (an array of cases, or one case) and
//! `tests/conformance/*.jsonl` (one case per line). Fields:
//!
//! * `name` (unique), `source` (the documentation page, or `reference §6.x`), optional `note`.
//! * `template`, `expected`: a string, or an array of lines joined with `\n`.
//! * `body`: the payload as a string (or lines); or `bodyJson`: any JSON value, sent compactly.
//! * `params`: `{"path": {..}, "querystring": {..}, "header": {..}}`, in request order.
//! * `context`: merged (deeply) over the default `$context` below; `stageVariables`: a map.
//! * `compare`: `"exact"` (default) or `"json"` (both sides parsed; for documentation output whose
//!   whitespace is only illustrative).
//! * `known`: why the case diverges from AWS today; it is run and reported, but does not fail.
//!
//! The default `$context` has the keys `handler.rs::template_inputs` fills at runtime;
//! [`default_context_has_the_keys_the_gateway_fills`] checks that against a test invocation.

use portico_gateway::mapping::MappingTemplate;
use portico_gateway::templating::TemplateInputs;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Text {
    One(String),
    Lines(Vec<String>),
}

impl Text {
    fn text(&self) -> String {
        match self {
            Text::One(s) => s.clone(),
            Text::Lines(l) => l.join("\n"),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Compare {
    #[default]
    Exact,
    Json,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    path: Map<String, Value>,
    #[serde(default)]
    querystring: Map<String, Value>,
    #[serde(default)]
    header: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Case {
    name: String,
    source: String,
    #[serde(default)]
    note: Option<String>,
    template: Text,
    #[serde(default)]
    body: Option<Text>,
    #[serde(default)]
    body_json: Option<Value>,
    #[serde(default)]
    params: Params,
    #[serde(default)]
    context: Option<Value>,
    #[serde(default)]
    stage_variables: Option<Map<String, Value>>,
    expected: Text,
    #[serde(default)]
    compare: Compare,
    #[serde(default)]
    known: Option<String>,
    #[serde(skip)]
    file: String,
}

/// `$context` as `handler.rs::template_inputs` builds it, with fixed values.
fn default_context() -> Value {
    json!({
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "extendedRequestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "apiId": "abcd1234",
        "stage": "prod",
        "httpMethod": "POST",
        "resourcePath": "/",
        "resourceId": "efg567",
        "path": "/prod/",
        "protocol": "HTTP/1.1",
        "requestTime": "09/Apr/2015:12:34:56 +0000",
        "domainPrefix": "abcd1234",
        "requestTimeEpoch": 1428582896000_i64,
        "domainName": "abcd1234.execute-api.us-east-1.amazonaws.com",
        "identity": {
            "accountId": null,
            "accessKey": null,
            "caller": null,
            "cognitoAuthenticationProvider": null,
            "cognitoAuthenticationType": null,
            "cognitoIdentityId": null,
            "cognitoIdentityPoolId": null,
            "sourceIp": "192.0.2.1",
            "principalOrgId": null,
            "user": null,
            "userAgent": "curl/7.84.0",
            "userArn": null,
        },
        "accountId": "000000000000",
        "deploymentId": "dep123",
        "requestOverride": {"header": {}, "querystring": {}, "path": {}},
        "responseOverride": {"header": {}},
    })
}

fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

fn pairs(map: &Map<String, Value>, what: &str, case: &str) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => (k.clone(), s.clone()),
            other => panic!("case {case}: {what}.{k} must be a string, not {other}"),
        })
        .collect()
}

impl Case {
    fn inputs(&self) -> TemplateInputs {
        assert!(
            self.body.is_none() || self.body_json.is_none(),
            "case {}: give body or bodyJson, not both",
            self.name
        );
        let body = match (&self.body, &self.body_json) {
            (Some(b), _) => b.text(),
            (None, Some(v)) => v.to_string(),
            (None, None) => String::new(),
        };
        let mut context = default_context();
        if let Some(c) = &self.context {
            merge(&mut context, c);
        }
        TemplateInputs {
            body: bytes::Bytes::from(body),
            path: pairs(&self.params.path, "params.path", &self.name),
            query: pairs(&self.params.querystring, "params.querystring", &self.name),
            headers: pairs(&self.params.header, "params.header", &self.name),
            context: portico_gateway::templating::context_value(context),
            stage_variables: std::sync::Arc::new(portico_vtl::Value::from(Value::Object(
                self.stage_variables.clone().unwrap_or_default(),
            ))),
            overrides: None,
        }
    }

    /// Renders the template the way the gateway does.
    fn render(&self) -> Result<String, String> {
        let (template, error) = MappingTemplate::compile(&self.template.text());
        if let Some(e) = error {
            return Err(format!("does not parse: {e}"));
        }
        let out = template.render_with(self.inputs())?;
        String::from_utf8(out.to_vec()).map_err(|e| format!("output is not UTF-8: {e}"))
    }

    /// `None` when `got` matches, else why not.
    fn mismatch(&self, got: &Result<String, String>) -> Option<String> {
        let expected = self.expected.text();
        let got = match got {
            Ok(g) => g,
            Err(e) => return Some(format!("render error: {e}")),
        };
        match self.compare {
            Compare::Exact => (got != &expected).then(|| "output differs".to_owned()),
            Compare::Json => {
                let want: Value = serde_json::from_str(&expected)
                    .unwrap_or_else(|e| panic!("case {}: expected is not JSON: {e}", self.name));
                match serde_json::from_str::<Value>(got) {
                    Ok(v) if v == want => None,
                    Ok(_) => Some("output differs (compared as JSON)".to_owned()),
                    Err(e) => Some(format!("output is not JSON: {e}")),
                }
            }
        }
    }
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

fn load_cases() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/conformance exists")
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("json" | "jsonl")
            )
        })
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable case file");
        let label = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parsed: Vec<Case> = if label.ends_with(".jsonl") {
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| {
                    serde_json::from_str(l)
                        .unwrap_or_else(|e| panic!("{label} line {}: {e}", i + 1))
                })
                .collect()
        } else {
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{label}: {e}"));
            let items = match v {
                Value::Array(items) => items,
                one => vec![one],
            };
            items
                .into_iter()
                .map(|c| serde_json::from_value(c).unwrap_or_else(|e| panic!("{label}: {e}")))
                .collect()
        };
        for mut c in parsed {
            c.file = label.clone();
            cases.push(c);
        }
    }
    cases
}

fn show(s: &str) -> String {
    s.lines()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn mapping_template_conformance() {
    let cases = load_cases();
    let mut names = BTreeSet::new();
    for c in &cases {
        assert!(
            names.insert(c.name.clone()),
            "duplicate case name {}",
            c.name
        );
        assert!(!c.source.trim().is_empty(), "case {} has no source", c.name);
    }
    let mut passed = 0;
    let mut failures = String::new();
    let mut known = String::new();
    let mut known_count = 0;
    let mut stale = String::new();
    for c in &cases {
        let got = c.render();
        match (c.mismatch(&got), &c.known) {
            (None, None) => passed += 1,
            (None, Some(reason)) => {
                passed += 1;
                let _ = writeln!(
                    stale,
                    "  {} ({}): now matches AWS; drop its \"known\" ({reason})",
                    c.name, c.file
                );
            }
            (Some(why), Some(reason)) => {
                known_count += 1;
                let _ = writeln!(
                    known,
                    "  {} ({}): {why}; known: {reason}\n    expected {:?}, got {:?}",
                    c.name,
                    c.file,
                    c.expected.text(),
                    got.as_deref().unwrap_or_else(|e| e),
                );
            }
            (Some(why), None) => {
                let got = match &got {
                    Ok(g) => g.clone(),
                    Err(e) => format!("<error: {e}>"),
                };
                let _ = writeln!(
                    failures,
                    "\n--- {} ({}) — {why}\n  source: {}\n  note: {}\n  template:\n{}\n  expected:\n{}\n  got:\n{}\n  expected (escaped): {:?}\n  got (escaped):      {:?}",
                    c.name,
                    c.file,
                    c.source,
                    c.note.as_deref().unwrap_or("-"),
                    show(&c.template.text()),
                    show(&c.expected.text()),
                    show(&got),
                    c.expected.text(),
                    got,
                );
            }
        }
    }
    let summary = format!(
        "conformance: {passed} passed / {} total ({known_count} known divergences)",
        cases.len()
    );
    println!("{summary}");
    if !known.is_empty() {
        println!("known divergences:\n{known}");
    }
    if !stale.is_empty() {
        println!("known divergences that now pass:\n{stale}");
    }
    assert!(
        failures.is_empty(),
        "{summary}\nmismatches:{failures}\nknown divergences:\n{known}"
    );
}

/// The runner's default `$context` must have exactly the keys the gateway fills at runtime, so
/// that cases see what a deployed template sees.
#[tokio::test]
async fn default_context_has_the_keys_the_gateway_fills() {
    use portico_gateway::test_invoke::TestInvokeRequest;
    use portico_gateway::{Gateway, GatewayConfig};
    use portico_model::{
        DeploymentSnapshot, Integration, IntegrationResponse, IntegrationType, Method, Resource,
        RestApi,
    };

    let keys = "#foreach($k in $context.keySet())$k#if($foreach.hasNext),#end#end\
                |#foreach($k in $context.identity.keySet())$k#if($foreach.hasNext),#end#end";
    let mut integration = Integration::new(IntegrationType::Mock);
    integration
        .request_templates
        .insert("application/json".into(), "{\"statusCode\": 200}".into());
    integration.integration_responses.insert(
        "200".into(),
        IntegrationResponse {
            status_code: "200".into(),
            selection_pattern: None,
            response_parameters: Default::default(),
            response_templates: [("application/json".to_owned(), keys.to_owned())].into(),
            content_handling: None,
        },
    );
    let mut method = Method::new("POST");
    method.method_integration = Some(integration);
    let root = Resource::root();
    let mut things = Resource::child(&root, "things");
    things.resource_methods.insert("POST".into(), method);
    let snapshot = DeploymentSnapshot {
        api: RestApi::new("conformance", root.id.clone()),
        resources: vec![root, things],
        gateway_responses: Default::default(),
        models: Vec::new(),
        request_validators: Vec::new(),
        authorizers: Vec::new(),
    };
    let gateway = Gateway::new(GatewayConfig::default());
    let out = gateway
        .test_invoke(
            "abcd1234",
            snapshot,
            TestInvokeRequest {
                method: "POST".into(),
                path_with_query: "/things".into(),
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: Some("{}".into()),
                stage_variables: Default::default(),
            },
        )
        .await;
    assert_eq!(out.status, 200, "test invocation failed: {out:?}");
    let (top, identity) = out.body.split_once('|').expect("two key lists");
    let set = |s: &str| -> BTreeSet<String> {
        s.split(',')
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let ctx = default_context();
    let ours = |v: &Value| -> BTreeSet<String> {
        v.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(set(top), ours(&ctx), "$context keys differ from handler.rs");
    assert_eq!(
        set(identity),
        ours(&ctx["identity"]),
        "$context.identity keys differ from handler.rs"
    );
}
