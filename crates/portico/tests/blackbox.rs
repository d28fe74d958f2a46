//! Black-box tests: a real `portico` process, real upstreams, a real HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};
use support::{Portico, Upstream, write_spec};

/// An API with mock, proxy and greedy routes, stage variables for the backend, a slow route with a
/// short timeout and a route to a dead port.
fn spec(title: &str, mock_body: &str) -> String {
    format!(
        r#"
openapi: 3.0.1
info: {{title: {title}, version: "1"}}
paths:
  /ping:
    get:
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{application/json: '{{"statusCode": 200}}'}}
        responses:
          default:
            statusCode: "200"
            responseParameters: {{method.response.header.X-Mock: "'yes'"}}
            responseTemplates: {{application/json: '{mock_body}'}}
  /teapot:
    post:
      responses: {{"418": {{description: tea}}}}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{application/json: '{{"statusCode": 418}}'}}
        responses:
          "4\\d\\d":
            statusCode: "418"
            responseTemplates: {{application/json: '{{"tea": true}}'}}
          default:
            statusCode: "200"
  /pets/{{petId}}:
    get:
      parameters: [{{name: petId, in: path, required: true, schema: {{type: string}}}}]
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://${{stageVariables.backend}}/backend/pets/{{petId}}
        requestParameters: {{integration.request.path.petId: method.request.path.petId}}
  /pets/special:
    get:
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{application/json: '{{"statusCode": 200}}'}}
        responses: {{default: {{statusCode: "200", responseTemplates: {{application/json: '"special"'}}}}}}
  /files/{{proxy+}}:
    x-amazon-apigateway-any-method:
      parameters: [{{name: proxy, in: path, required: true, schema: {{type: string}}}}]
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: http://${{stageVariables.backend}}/files/{{proxy}}
  /slow:
    get:
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://${{stageVariables.backend}}/slow/3000
        timeoutInMillis: 300
  /dead:
    get:
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://${{stageVariables.dead}}/x
  /status/{{code}}:
    get:
      parameters: [{{name: code, in: path, required: true, schema: {{type: string}}}}]
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://${{stageVariables.backend}}/status/{{code}}
"#
    )
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

struct Fixture {
    gw: Portico,
    up: Upstream,
    api: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_spec(dir.path(), "api.yaml", &spec("pets", r#"{"v": 1}"#));
    let backend = format!("backend={}", up.addr);
    let dead = format!("dead=127.0.0.1:{}", dead_port());
    let gw = Portico::start(&[
        "--import",
        file.to_str().unwrap(),
        "--stage",
        "test",
        "--stage-variable",
        &backend,
        "--stage-variable",
        &dead,
    ]);
    let api = gw.api_id("pets");
    Fixture {
        gw,
        up,
        api,
        _dir: dir,
    }
}

fn assert_aws_ids(r: &reqwest::Response) {
    let id = r.headers()["x-amzn-requestid"].to_str().unwrap();
    assert_eq!(id.len(), 36, "request id is a UUID: {id}");
    assert!(r.headers().contains_key("x-amz-apigw-id"));
    // X-Amzn-Trace-Id is only on what an HTTP (non-proxy) integration answered, as on AWS
    // (test_aws_fidelity checks where it is and is not).
    if let Some(trace) = r.headers().get("x-amzn-trace-id") {
        assert!(trace.to_str().unwrap().starts_with("Root=1-"));
    }
}

#[tokio::test]
async fn mock_routes_answer_through_both_addressing_styles() {
    let f = fixture().await;
    let plain = reqwest::Client::new();
    let by_host = f.gw.host_client(&f.api);
    for (client, url) in [
        (&plain, f.gw.path_url(&f.api, "test", "/ping")),
        (&by_host, f.gw.host_url(&f.api, "test", "/ping")),
    ] {
        let r = client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(r.headers()["x-mock"], "yes");
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_aws_ids(&r);
        assert_eq!(r.text().await.unwrap(), r#"{"v": 1}"#);
    }
    // The request template's statusCode selects the integration response by selectionPattern.
    let r = plain
        .post(f.gw.path_url(&f.api, "test", "/teapot"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 418);
    assert_eq!(r.text().await.unwrap(), r#"{"tea": true}"#);
    // A literal resource beats the {petId} sibling.
    let r = plain
        .get(f.gw.path_url(&f.api, "test", "/pets/special"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "\"special\"");
    assert_eq!(
        f.up.seen.requests.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_get_missing_authentication_token_unknown_stages_forbidden()
{
    let f = fixture().await;
    let c = reqwest::Client::new();
    let cases = [
        ("GET", f.gw.path_url(&f.api, "test", "/nope")),
        ("DELETE", f.gw.path_url(&f.api, "test", "/ping")),
        ("GET", f.gw.path_url(&f.api, "test", "/files")),
        ("GET", f.gw.path_url(&f.api, "test", "/pets")),
    ];
    for (method, url) in cases {
        let r = c
            .request(method.parse().unwrap(), &url)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{method} {url}");
        assert_eq!(
            r.headers()["x-amzn-errortype"],
            "MissingAuthenticationTokenException"
        );
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_aws_ids(&r);
        assert_eq!(
            r.text().await.unwrap(),
            r#"{"message":"Missing Authentication Token"}"#
        );
    }
    // An unknown stage or API is refused before routing, as AWS does.
    let host = f.gw.host_client(&f.api);
    let cases = [
        (&c, f.gw.path_url(&f.api, "nostage", "/ping")),
        (&c, f.gw.path_url("noapi", "test", "/ping")),
        (&c, format!("http://{}/", f.gw.addr)),
        (&host, f.gw.host_url(&f.api, "nostage", "/ping")),
        (
            &host,
            format!(
                "http://{}.execute-api.localhost:{}/",
                f.api,
                f.gw.addr.port()
            ),
        ),
    ];
    for (client, url) in cases {
        let r = client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 403, "{url}");
        assert_eq!(r.headers()["x-amzn-errortype"], "ForbiddenException");
        assert_aws_ids(&r);
        assert_eq!(r.text().await.unwrap(), r#"{"message":"Forbidden"}"#);
    }
}

#[tokio::test]
async fn http_proxy_forwards_params_query_headers_and_body() {
    let f = fixture().await;
    let c = f.gw.host_client(&f.api);
    let r = c
        .get(f.gw.host_url(&f.api, "test", "/pets/a%20b?x=1&x=2"))
        .header("x-custom", "kept")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "dropped")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-upstream"], "yes");
    assert!(
        !r.headers().contains_key("x-drop-me"),
        "hop-by-hop response header removed"
    );
    assert_aws_ids(&r);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["path"], "/backend/pets/a%20b");
    assert_eq!(body["query"], "x=1&x=2");
    let seen = f.up.seen.last.lock().unwrap().clone().unwrap();
    assert_eq!(seen.header("x-custom"), Some("kept"));
    assert_eq!(
        seen.header("x-hop"),
        None,
        "headers named in Connection are not forwarded"
    );
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(seen.header("host"), Some(f.up.addr.to_string().as_str()));
    assert_eq!(
        seen.header("x-amzn-apigateway-api-id"),
        Some(f.api.as_str())
    );

    // Greedy {proxy+} with ANY: method, nested path and body pass through.
    let c = reqwest::Client::new();
    let r = c
        .put(f.gw.path_url(&f.api, "test", "/files/a/b/c.txt?q=z"))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["method"], "PUT");
    assert_eq!(body["path"], "/files/a/b/c.txt");
    assert_eq!(body["query"], "q=z");
    assert_eq!(body["body"], "payload");

    // Backend errors pass through untouched in proxy mode.
    let r = c
        .get(f.gw.path_url(&f.api, "test", "/status/503"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(!r.headers().contains_key("x-amzn-errortype"));
    assert_eq!(r.text().await.unwrap(), "status 503");
}

#[tokio::test]
async fn large_bodies_stream_both_ways() {
    let f = fixture().await;
    let payload = "x".repeat(3 * 1024 * 1024);
    let r = reqwest::Client::new()
        .post(f.gw.path_url(&f.api, "test", "/files/big"))
        .body(payload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["body"].as_str().unwrap().len(), payload.len());
    // Over the 10 MB REST payload limit: 413 before the upstream sees anything.
    let before = f.up.seen.requests.load(std::sync::atomic::Ordering::SeqCst);
    let r = reqwest::Client::new()
        .post(f.gw.path_url(&f.api, "test", "/files/too-big"))
        .body(vec![b'y'; 10 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        f.up.seen.requests.load(std::sync::atomic::Ordering::SeqCst),
        before
    );
}

#[tokio::test]
async fn slow_upstream_times_out_with_504_and_dead_upstream_gives_502() {
    let f = fixture().await;
    let c = reqwest::Client::new();
    let started = Instant::now();
    let r = c
        .get(f.gw.path_url(&f.api, "test", "/slow"))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 504);
    assert!(
        took < Duration::from_millis(2500),
        "timed out after {took:?}"
    );
    assert_aws_ids(&r);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"message": "Endpoint request timed out"}"#
    );

    let r = c
        .get(f.gw.path_url(&f.api, "test", "/dead"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"message": "Internal server error"}"#
    );

    // The gateway keeps serving afterwards.
    let r = c
        .get(f.gw.path_url(&f.api, "test", "/ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn metrics_and_health_on_the_management_listener() {
    let f = fixture().await;
    let c = reqwest::Client::new();
    for _ in 0..3 {
        c.get(f.gw.path_url(&f.api, "test", "/ping"))
            .send()
            .await
            .unwrap();
    }
    c.get(f.gw.path_url(&f.api, "test", "/nope"))
        .send()
        .await
        .unwrap();
    c.get(f.gw.path_url(&f.api, "test", "/dead"))
        .send()
        .await
        .unwrap();
    let health = c
        .get(format!("http://{}/health", f.gw.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let h: serde_json::Value = health.json().await.unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["stages"], 1);
    let text = c
        .get(format!("http://{}/metrics", f.gw.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let labels = |res: &str, m: &str| {
        format!(
            r#"{{api="{}",api_name="pets",stage="test",resource="{res}",method="{m}"}}"#,
            f.api
        )
    };
    assert!(
        text.contains(&format!("apigateway_Count{} 3", labels("/ping", "GET"))),
        "{text}"
    );
    assert!(
        text.contains(&format!("apigateway_4XXError{} 1", labels("", ""))),
        "{text}"
    );
    assert!(
        text.contains(&format!("apigateway_5XXError{} 1", labels("/dead", "GET"))),
        "{text}"
    );
    assert!(text.contains("apigateway_Latency_bucket{"));
    assert!(text.contains(&format!(
        "apigateway_IntegrationLatency_count{} 1",
        labels("/dead", "GET")
    )));
}

#[tokio::test]
async fn access_log_has_one_json_line_per_request_with_context_names() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_spec(dir.path(), "api.yaml", &spec("logs", "{}"));
    let log = dir.path().join("access.log");
    let backend = format!("backend={}", up.addr);
    let gw = Portico::start(&[
        "--import",
        file.to_str().unwrap(),
        "--stage-variable",
        &backend,
        "--access-log",
        log.to_str().unwrap(),
    ]);
    let api = gw.api_id("logs");
    let c = reqwest::Client::new();
    let r = c
        .get(gw.path_url(&api, "dev", "/pets/7"))
        .send()
        .await
        .unwrap();
    let rid = r.headers()["x-amzn-requestid"]
        .to_str()
        .unwrap()
        .to_string();
    c.get(gw.path_url(&api, "dev", "/missing"))
        .send()
        .await
        .unwrap();
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        if lines.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(lines.len(), 2, "{lines:?}");
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["requestId"], rid.as_str());
    assert_eq!(first["ip"], "127.0.0.1");
    assert_eq!(first["httpMethod"], "GET");
    assert_eq!(first["resourcePath"], "/pets/{petId}");
    assert_eq!(first["status"], "200");
    assert_eq!(first["protocol"], "HTTP/1.1");
    assert_eq!(first["apiId"], api.as_str());
    assert_eq!(first["stage"], "dev");
    assert!(
        first["integrationLatency"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert!(
        first["responseLatency"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert!(first["requestTime"].as_str().unwrap().ends_with(" +0000"));
    let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(second["status"], "403");
    assert_eq!(second["resourcePath"], "-");
}

const HTTP_SPEC: &str = r#"
openapi: 3.0.1
info: {title: nonproxy, version: "1"}
paths:
  /items/{id}:
    post:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: http
        httpMethod: PUT
        uri: http://${stageVariables.backend}/backend/items/{itemId}
        passthroughBehavior: when_no_templates
        requestParameters:
          integration.request.path.itemId: method.request.path.id
          integration.request.header.X-From-Client: method.request.header.X-Client
          integration.request.querystring.q: method.request.querystring.search
          integration.request.header.X-Fixed: "'fixed'"
        requestTemplates:
          application/json: '{"templated": true}'
        responses:
          default:
            statusCode: "200"
            responseParameters:
              method.response.header.X-Copied: integration.response.header.x-upstream
  /status/{code}:
    get:
      parameters: [{name: code, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: http://${stageVariables.backend}/status/{code}
        requestParameters:
          integration.request.path.code: method.request.path.code
        responses:
          "5\\d\\d":
            statusCode: "502"
            responseTemplates:
              application/json: '{"error": "backend failed"}'
          "404":
            statusCode: "404"
"#;

#[tokio::test]
async fn http_non_proxy_maps_parameters_templates_and_integration_responses() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_spec(dir.path(), "http.yaml", HTTP_SPEC);
    let backend = format!("backend={}", up.addr);
    let gw = Portico::start(&[
        "--import",
        file.to_str().unwrap(),
        "--stage-variable",
        &backend,
    ]);
    let api = gw.api_id("nonproxy");
    let c = reqwest::Client::new();

    let r = c
        .post(gw.path_url(&api, "dev", "/items/7?search=red%20shoes&other=x"))
        .header("content-type", "application/json")
        .header("x-client", "from-client")
        .header("x-secret", "never forwarded")
        .body(r#"{"original": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-copied"],
        "yes",
        "integration.response.header mapped"
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["method"], "PUT");
    assert_eq!(body["path"], "/backend/items/7");
    assert_eq!(
        body["query"], "q=red%20shoes",
        "only mapped query parameters"
    );
    assert_eq!(body["body"], r#"{"templated": true}"#);
    let seen = up.seen.last.lock().unwrap().clone().unwrap();
    assert_eq!(seen.header("x-from-client"), Some("from-client"));
    assert_eq!(seen.header("x-fixed"), Some("fixed"));
    assert_eq!(
        seen.header("x-secret"),
        None,
        "unmapped headers are not forwarded"
    );
    assert_eq!(seen.header("content-type"), Some("application/json"));

    // WHEN_NO_TEMPLATES with templates defined: another content type is refused.
    let r = c
        .post(gw.path_url(&api, "dev", "/items/7"))
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"message":"Unsupported Media Type"}"#
    );

    // The backend status selects the integration response.
    let r = c
        .get(gw.path_url(&api, "dev", "/status/503"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(r.text().await.unwrap(), r#"{"error": "backend failed"}"#);
    let r = c
        .get(gw.path_url(&api, "dev", "/status/404"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.text().await.unwrap(),
        "status 404",
        "no template: the backend body passes through"
    );
    // No integration response matches 201 and there is no default: AWS's configuration error.
    let r = c
        .get(gw.path_url(&api, "dev", "/status/201"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"message": "Internal server error"}"#
    );
}

const VTL_SPEC: &str = r##"
openapi: 3.0.1
info: {title: templated, version: "1"}
paths:
  /mock/{code}:
    post:
      parameters: [{name: code, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": $input.params(''code'')}'
        responses:
          "4\\d\\d":
            statusCode: "404"
            responseTemplates:
              application/json: '{"missing": "$input.params(''code'')"}'
          default:
            statusCode: "200"
            responseTemplates:
              application/json: |
                #set($names = ["a", "b"])
                {"stage": "$context.stage", "env": "$stageVariables.env", "rid": "$context.requestId",
                 "items": [#foreach($n in $names)"$n"#if($foreach.hasNext),#end#end]}
  /items/{id}:
    post:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://${stageVariables.backend}/items
        requestTemplates:
          application/json: '{"id": "$input.params(''id'')", "name": $input.json(''$.name''), "upper": "$input.path(''$.name'').toUpperCase()"}'
        responses:
          default:
            statusCode: "200"
            responseTemplates:
              application/json: '{"echoed": $input.json(''$.body'')}'
  /broken:
    get:
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '#if($x'
        responses: {default: {statusCode: "200"}}
"##;

#[tokio::test]
async fn velocity_templates_render_with_input_context_and_stage_variables() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_spec(dir.path(), "vtl.yaml", VTL_SPEC);
    let backend = format!("backend={}", up.addr);
    let gw = Portico::start(&[
        "--import",
        file.to_str().unwrap(),
        "--stage-variable",
        &backend,
        "--stage-variable",
        "env=test",
    ]);
    let api = gw.api_id("templated");
    let c = reqwest::Client::new();

    let r = c
        .post(gw.path_url(&api, "dev", "/mock/200"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rid = r.headers()["x-amzn-requestid"]
        .to_str()
        .unwrap()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["stage"], "dev");
    assert_eq!(v["env"], "test");
    assert_eq!(v["rid"], rid.as_str());
    assert_eq!(v["items"], serde_json::json!(["a", "b"]));

    let r = c
        .post(gw.path_url(&api, "dev", "/mock/404"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "the rendered statusCode selects the integration response"
    );
    assert_eq!(r.text().await.unwrap(), r#"{"missing": "404"}"#);

    let r = c
        .post(gw.path_url(&api, "dev", "/items/9"))
        .header("content-type", "application/json")
        .body(r#"{"name": "rex"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(v["echoed"].as_str().unwrap()).unwrap(),
        serde_json::json!({"id": "9", "name": "rex", "upper": "REX"}),
        "request template rendered, backend echo re-rendered by the response template"
    );

    let r = c
        .get(gw.path_url(&api, "dev", "/broken"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        500,
        "a template that does not parse answers 500"
    );
}

const MAPPING_SPEC: &str = r##"
openapi: 3.0.1
info: {title: mappings, version: "1"}
paths:
  /orders/{id}:
    post:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://${stageVariables.backend}/orders/{id}
        passthroughBehavior: when_no_match
        requestParameters:
          integration.request.path.id: method.request.path.id
          integration.request.header.x-customer: method.request.body.customer.name
          integration.request.header.x-count: method.request.body.items.length()
          integration.request.header.x-stage: context.stage
          integration.request.header.x-tags: method.request.multivalueheader.x-tag
          integration.request.querystring.all: method.request.multivaluequerystring.f
          integration.request.querystring.env: stageVariables.env
        responses:
          default:
            statusCode: "200"
            responseParameters:
              method.response.header.x-backend-method: integration.response.body.method
              method.response.header.x-request-id: context.requestId
              method.response.header.x-backend-header: integration.response.header.x-upstream
              method.response.header.x-client-asked: method.request.header.x-ask
  /override:
    post:
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://${stageVariables.backend}/override
        requestTemplates:
          application/json: |
            #set($context.requestOverride.header.x-overridden = "by-template")
            #set($context.requestOverride.querystring.q = $input.path('$.q'))
            {"sent": true}
        responses:
          default:
            statusCode: "200"
            responseTemplates:
              application/json: |
                #set($context.responseOverride.status = 418)
                #set($context.responseOverride.header.x-teapot = "short and stout")
                {"backend_query": $input.json('$.query')}
"##;

#[tokio::test]
async fn parameter_mappings_read_body_context_multivalue_and_overrides_apply() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_spec(dir.path(), "mappings.yaml", MAPPING_SPEC);
    let backend = format!("backend={}", up.addr);
    let gw = Portico::start(&[
        "--import",
        file.to_str().unwrap(),
        "--stage-variable",
        &backend,
        "--stage-variable",
        "env=qa",
    ]);
    let api = gw.api_id("mappings");
    let c = reqwest::Client::new();
    let r = c
        .post(gw.path_url(&api, "dev", "/orders/o-1?f=a&f=b"))
        .header("content-type", "application/json")
        .header("x-tag", "t1")
        .header("x-tag", "t2")
        .header("x-ask", "please")
        .body(r#"{"customer": {"name": "Ada"}, "items": [1, 2, 3]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rid = r.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    assert_eq!(r.headers()["x-backend-method"], "POST");
    assert_eq!(r.headers()["x-request-id"].to_str().unwrap(), rid);
    assert_eq!(r.headers()["x-backend-header"], "yes");
    assert_eq!(r.headers()["x-client-asked"], "please");
    let echoed: serde_json::Value = r.json().await.unwrap();
    assert_eq!(echoed["path"], "/orders/o-1");
    assert_eq!(
        echoed["body"], r#"{"customer": {"name": "Ada"}, "items": [1, 2, 3]}"#,
        "passthrough body still reaches the backend after being read for mappings"
    );
    let q = echoed["query"].as_str().unwrap();
    assert!(q.contains("all=a%2Cb") && q.contains("env=qa"), "{q}");
    let seen = up.seen.last.lock().unwrap().clone().unwrap();
    assert_eq!(seen.header("x-customer"), Some("Ada"));
    assert_eq!(seen.header("x-count"), Some("3"));
    assert_eq!(seen.header("x-stage"), Some("dev"));
    assert_eq!(seen.header("x-tags"), Some("t1,t2"));

    // $context.requestOverride / responseOverride.
    let r = c
        .post(gw.path_url(&api, "dev", "/override"))
        .header("content-type", "application/json")
        .body(r#"{"q": "from body"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 418);
    assert_eq!(r.headers()["x-teapot"], "short and stout");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["backend_query"], "q=from%20body");
    let seen = up.seen.last.lock().unwrap().clone().unwrap();
    assert_eq!(seen.header("x-overridden"), Some("by-template"));
}

const BINARY_SPEC: &str = r##"
openapi: 3.0.1
info: {title: binary, version: "1"}
x-amazon-apigateway-binary-media-types: [image/png]
paths:
  /to-text:
    post:
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://${stageVariables.backend}/upload
        contentHandling: CONVERT_TO_TEXT
        responses: {default: {statusCode: "200"}}
  /to-binary:
    post:
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://${stageVariables.backend}/upload
        contentHandling: CONVERT_TO_BINARY
        responses: {default: {statusCode: "200"}}
  /download-text:
    get:
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: http://${stageVariables.backend}/raw/png
        responses: {default: {statusCode: "200", contentHandling: CONVERT_TO_TEXT}}
  /download-binary:
    get:
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: http://${stageVariables.backend}/raw/b64
        responses:
          default:
            statusCode: "200"
            contentHandling: CONVERT_TO_BINARY
            responseParameters: {method.response.header.Content-Type: "'image/png'"}
  /download-raw:
    get:
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: http://${stageVariables.backend}/raw/png
        responses: {default: {statusCode: "200"}}
"##;

#[tokio::test]
async fn content_handling_converts_binary_payloads_both_ways() {
    use support::{PNG_BASE64, PNG_BYTES};
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_spec(dir.path(), "binary.yaml", BINARY_SPEC);
    let backend = format!("backend={}", up.addr);
    let gw = Portico::start(&[
        "--import",
        file.to_str().unwrap(),
        "--stage-variable",
        &backend,
    ]);
    let api = gw.api_id("binary");
    let c = reqwest::Client::new();
    let seen_body = || up.seen.last.lock().unwrap().clone().unwrap().body;

    // Binary request (binary media type) + CONVERT_TO_TEXT: the backend gets base64.
    let r = c
        .post(gw.path_url(&api, "dev", "/to-text"))
        .header("content-type", "image/png")
        .body(PNG_BYTES)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(seen_body(), PNG_BASE64.as_bytes());
    // A text request is left as it is by CONVERT_TO_TEXT.
    c.post(gw.path_url(&api, "dev", "/to-text"))
        .header("content-type", "text/plain")
        .body("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(seen_body(), b"plain");

    // Text request + CONVERT_TO_BINARY: the backend gets the decoded bytes.
    let r = c
        .post(gw.path_url(&api, "dev", "/to-binary"))
        .header("content-type", "text/plain")
        .body(PNG_BASE64)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(seen_body(), PNG_BYTES);
    // Text that is not base64 cannot be converted: the integration fails (500).
    let r = c
        .post(gw.path_url(&api, "dev", "/to-binary"))
        .header("content-type", "text/plain")
        .body("not base64 at all!")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);

    // Responses: binary backend payload → base64 text; base64 text → bytes; unset → untouched.
    let r = c
        .get(gw.path_url(&api, "dev", "/download-text"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), PNG_BASE64.as_bytes());
    let r = c
        .get(gw.path_url(&api, "dev", "/download-binary"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap(), PNG_BYTES);
    let r = c
        .get(gw.path_url(&api, "dev", "/download-raw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap(), PNG_BYTES);
}
