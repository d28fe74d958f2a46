//! `AWS_PROXY` through the real listener to a real Python handler run by the local function
//! runtime: the event it receives, compared field by field with events AWS recorded (LocalStack's
//! AWS-validated snapshot `test_apigateway_lambda.py::test_lambda_aws_proxy_integration`), and
//! the response mapping of the recorded `test_aws_proxy_response_payload_format_validation`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use portico_functions::{FunctionConfig, Runtime, RuntimeSettings};
use portico_gateway::{Gateway, GatewayConfig, StageInput};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ECHO: &str = r#"
import json, base64
def select(event, context):
    code = event.get("statusCode")
    if code == "400":
        raise Exception("Error: Raising four hundred from within the Lambda function")
    if code == "500":
        raise Exception("Error: Raising five hundred from within the Lambda function")
    return "Pass"

def handler(event, context):
    if event.get("path", "").startswith("/respond"):
        return json.loads(event["body"])
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}
"#;

struct Setup {
    addr: SocketAddr,
    _dir: tempfile::TempDir,
    _rt: Arc<Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn uri(name: &str) -> String {
    format!(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:{name}/invocations"
    )
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("echo");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::write(code.join("index.py"), ECHO).unwrap();
    let rt = Runtime::new(RuntimeSettings::new(dir.path().join("work"))).unwrap();
    rt.put_function(FunctionConfig {
        name: "select".into(),
        arn: "arn:aws:lambda:us-east-1:123456789012:function:select".into(),
        version: "$LATEST".into(),
        runtime: "python3.12".into(),
        handler: "index.select".into(),
        code_dir: code.clone(),
        environment: BTreeMap::new(),
        timeout: Duration::from_secs(5),
        memory_mb: 128,
        reserved_concurrency: None,
    });
    rt.put_function(FunctionConfig {
        name: "echo".into(),
        arn: "arn:aws:lambda:us-east-1:123456789012:function:echo".into(),
        version: "$LATEST".into(),
        runtime: "python3.12".into(),
        handler: "index.handler".into(),
        code_dir: code,
        environment: BTreeMap::new(),
        timeout: Duration::from_secs(5),
        memory_mb: 128,
        reserved_concurrency: None,
    });
    let proxy = json!({"ANY": {"httpMethod": "ANY", "authorizationType": "NONE",
        "requestParameters": {"method.request.path.proxy": true},
        "methodIntegration": {"type": "AWS_PROXY", "httpMethod": "POST", "uri": uri("echo")}}});
    let snapshot = json!({
    "api": {"id": "a1b2c3d4e5", "name": "lambda", "createdDate": 0, "rootResourceId": "r0",
            "binaryMediaTypes": ["image/png"]},
    "resources": [
        {"id": "r0", "path": "/"},
        {"id": "r1", "path": "/{proxy+}", "parentId": "r0", "pathPart": "{proxy+}", "resourceMethods": proxy},
        {"id": "r2", "path": "/hardcoded", "parentId": "r0", "pathPart": "hardcoded",
         "resourceMethods": {"GET": {"httpMethod": "GET", "authorizationType": "NONE",
            "methodIntegration": {"type": "AWS_PROXY", "httpMethod": "POST", "uri": uri("echo")}}}},
        {"id": "r4", "path": "/select", "parentId": "r0", "pathPart": "select"},
        {"id": "r5", "path": "/select/{statusCode}", "parentId": "r4", "pathPart": "{statusCode}",
         "resourceMethods": {"GET": {"httpMethod": "GET", "authorizationType": "NONE",
            "methodResponses": {"200": {"statusCode": "200"}, "405": {"statusCode": "405"}, "502": {"statusCode": "502"}},
            "methodIntegration": {"type": "AWS", "httpMethod": "POST", "uri": uri("select"),
                "requestTemplates": {"application/json": "{\"statusCode\": \"$input.params('statusCode')\"}"},
                "integrationResponses": {
                    "200": {"statusCode": "200", "selectionPattern": ""},
                    "405": {"statusCode": "405", "selectionPattern": ".*four hundred.*"},
                    "502": {"statusCode": "502", "selectionPattern": ".*five hundred.*",
                            "responseTemplates": {"application/json": "{\"why\": \"$input.path('$.errorMessage')\"}"}}}}}}},
        {"id": "r3", "path": "/missing", "parentId": "r0", "pathPart": "missing",
         "resourceMethods": {"GET": {"httpMethod": "GET", "authorizationType": "NONE",
            "methodIntegration": {"type": "AWS_PROXY", "httpMethod": "POST", "uri": uri("nope")}}}},
    ]});
    let mut stage = portico_model::Stage::new("stage", "dep1");
    stage.variables.insert("env".into(), "test".into());
    let gw = Gateway::new(GatewayConfig::default());
    gw.attach_functions(rt.clone());
    let warnings = gw.publish(&[StageInput {
        api_id: "a1b2c3d4e5".into(),
        stage,
        snapshot: serde_json::from_value(snapshot).unwrap(),
        canary_snapshot: None,
    }]);
    assert!(warnings.is_empty(), "{warnings:?}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(portico_gateway::serve(
        gw,
        listener,
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));
    Setup {
        addr,
        _dir: dir,
        _rt: rt,
        stop: Some(stop),
    }
}

/// One raw HTTP/1.1 request (header names exactly as given); (status, head, body).
async fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head[9..12].parse().unwrap();
    (status, head, out[split + 4..].to_vec())
}

async fn event_for(addr: SocketAddr, target: &str, extra: &str, body: &[u8]) -> Value {
    let head = format!(
        "{} {target} HTTP/1.1\r\nHost: a1b2c3d4e5.execute-api.localhost\r\nUser-Agent: python-requests/testing\r\nAccept: */*\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        if body.is_empty() { "GET" } else { "POST" },
        body.len()
    );
    let (status, head, body) = raw(addr, &head, body).await;
    assert_eq!(status, 200, "{head}\n{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

#[tokio::test]
async fn the_event_has_the_fields_aws_sends() {
    let s = setup().await;
    let e = event_for(s.addr, "/stage/proxy-value", "tEsT-HEADeR: aValUE\r\n", b"").await;
    assert_eq!(
        keys(&e),
        [
            "body",
            "headers",
            "httpMethod",
            "isBase64Encoded",
            "multiValueHeaders",
            "multiValueQueryStringParameters",
            "path",
            "pathParameters",
            "queryStringParameters",
            "requestContext",
            "resource",
            "stageVariables"
        ]
    );
    assert_eq!(
        keys(&e["requestContext"]),
        [
            "accountId",
            "apiId",
            "deploymentId",
            "domainName",
            "domainPrefix",
            "extendedRequestId",
            "httpMethod",
            "identity",
            "path",
            "protocol",
            "requestId",
            "requestTime",
            "requestTimeEpoch",
            "resourceId",
            "resourcePath",
            "stage"
        ]
    );
    assert_eq!(
        keys(&e["requestContext"]["identity"]),
        [
            "accessKey",
            "accountId",
            "caller",
            "cognitoAuthenticationProvider",
            "cognitoAuthenticationType",
            "cognitoIdentityId",
            "cognitoIdentityPoolId",
            "principalOrgId",
            "sourceIp",
            "user",
            "userAgent",
            "userArn"
        ]
    );
    assert_eq!(e["resource"], "/{proxy+}");
    assert_eq!(e["path"], "/proxy-value");
    assert_eq!(e["httpMethod"], "GET");
    assert_eq!(e["pathParameters"], json!({"proxy": "proxy-value"}));
    assert_eq!(e["queryStringParameters"], Value::Null);
    assert_eq!(e["multiValueQueryStringParameters"], Value::Null);
    assert_eq!(e["body"], Value::Null);
    assert_eq!(e["isBase64Encoded"], false);
    assert_eq!(e["stageVariables"], json!({"env": "test"}));
    // The client's spelling, last value wins; Content-Length and Connection left out; the
    // forwarding headers added.
    let h = &e["headers"];
    assert_eq!(h["tEsT-HEADeR"], "aValUE");
    assert_eq!(e["multiValueHeaders"]["tEsT-HEADeR"], json!(["aValUE"]));
    assert_eq!(h["User-Agent"], "python-requests/testing");
    assert_eq!(h["Host"], "a1b2c3d4e5.execute-api.localhost");
    assert!(
        h.get("Content-Length").is_none() && h.get("Connection").is_none(),
        "{h}"
    );
    assert_eq!(h["X-Forwarded-For"], "127.0.0.1");
    assert_eq!(h["X-Forwarded-Proto"], "http");
    assert_eq!(h["X-Forwarded-Port"], "80");
    assert!(
        h["X-Amzn-Trace-Id"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-")
    );
    let c = &e["requestContext"];
    assert_eq!(c["path"], "/stage/proxy-value");
    assert_eq!(c["resourcePath"], "/{proxy+}");
    assert_eq!(c["resourceId"], "r1");
    assert_eq!(c["httpMethod"], "GET");
    assert_eq!(c["protocol"], "HTTP/1.1");
    assert_eq!(c["stage"], "stage");
    assert_eq!(c["apiId"], "a1b2c3d4e5");
    assert_eq!(c["deploymentId"], "dep1");
    assert_eq!(c["domainName"], "a1b2c3d4e5.execute-api.localhost");
    assert_eq!(c["domainPrefix"], "a1b2c3d4e5");
    assert_eq!(c["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(c["identity"]["userAgent"], "python-requests/testing");
    assert_eq!(c["identity"]["caller"], Value::Null);
    assert!(c["requestTimeEpoch"].is_u64());
    assert!(c["requestTime"].as_str().unwrap().ends_with(" +0000"));
}

#[tokio::test]
async fn paths_and_query_strings_follow_the_recorded_cases() {
    let s = setup().await;
    let e = event_for(s.addr, "/stage/proxy-value/", "", b"").await;
    assert_eq!(
        (e["path"].as_str(), e["pathParameters"]["proxy"].as_str()),
        (Some("/proxy-value/"), Some("proxy-value"))
    );
    assert_eq!(e["requestContext"]["path"], "/stage/proxy-value/");
    let e = event_for(s.addr, "/stage/proxy-value//double-slash", "", b"").await;
    assert_eq!(e["path"], "/proxy-value//double-slash");
    assert_eq!(e["pathParameters"]["proxy"], "proxy-value//double-slash");
    let e = event_for(s.addr, "//stage/proxy-value", "", b"").await;
    assert_eq!(e["path"], "/proxy-value");
    assert_eq!(e["requestContext"]["path"], "/stage/proxy-value");
    let e = event_for(s.addr, "/stage//proxy-value", "", b"").await;
    assert_eq!(e["path"], "/proxy-value");
    assert_eq!(e["requestContext"]["path"], "/stage//proxy-value");
    let e = event_for(
        s.addr,
        "/stage/proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com",
        "",
        b"",
    )
    .await;
    assert_eq!(
        e["path"],
        "/proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com"
    );
    assert_eq!(
        e["pathParameters"]["proxy"],
        "proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com"
    );
    let e = event_for(
        s.addr,
        "/stage/proxy-value/api?dateTimeOffset=2023-06-12T18:05:10.123456+00:00&email=test%2Balias@gmail.com&plus=test+alias@gmail.com&url=https://www.google.com/&whitespace=foo%20bar&zhash=abort/",
        "",
        b"",
    )
    .await;
    assert_eq!(
        e["queryStringParameters"],
        json!({"dateTimeOffset": "2023-06-12T18:05:10.123456 00:00", "email": "test+alias@gmail.com",
               "plus": "test alias@gmail.com", "url": "https://www.google.com/", "whitespace": "foo bar",
               "zhash": "abort/"})
    );
    let e = event_for(
        s.addr,
        "/stage/proxy-value?category=electronics&price=10&category=books&price=20&price=30",
        "",
        b"",
    )
    .await;
    assert_eq!(
        e["queryStringParameters"],
        json!({"category": "books", "price": "30"})
    );
    assert_eq!(
        e["multiValueQueryStringParameters"],
        json!({"category": ["electronics", "books"], "price": ["10", "20", "30"]})
    );
    let e = event_for(s.addr, "/stage//hardcoded", "", b"").await;
    assert_eq!(
        (e["resource"].as_str(), e["path"].as_str()),
        (Some("/hardcoded"), Some("/hardcoded"))
    );
    assert_eq!(e["pathParameters"], Value::Null);
}

#[tokio::test]
async fn bodies_text_and_binary() {
    let s = setup().await;
    let e = event_for(
        s.addr,
        "/stage/proxy-value",
        "Content-Type: application/json;charset=utf-8\r\n",
        br#"{"message": "hello world"}"#,
    )
    .await;
    assert_eq!(e["body"], r#"{"message": "hello world"}"#);
    assert_eq!(e["isBase64Encoded"], false);
    assert_eq!(e["httpMethod"], "POST");
    let e = event_for(
        s.addr,
        "/stage/img",
        "Content-Type: image/png\r\n",
        b"\x89PNG\r\n",
    )
    .await;
    assert_eq!(
        (e["body"].as_str(), e["isBase64Encoded"].as_bool()),
        (Some("iVBORw0K"), Some(true))
    );
    let e = event_for(
        s.addr,
        "/stage/bytes",
        "Content-Type: application/octet-stream\r\n",
        b"\xff\xfe",
    )
    .await;
    assert_eq!(
        (e["body"].as_str(), e["isBase64Encoded"].as_bool()),
        (Some("//4="), Some(true))
    );
}

/// The handler answers `/respond` with the request body it was sent, parsed.
async fn respond(addr: SocketAddr, answer: Value) -> (u16, String, Vec<u8>) {
    let inner = serde_json::to_vec(&answer).unwrap();
    let head = format!(
        "POST /stage/respond HTTP/1.1\r\nHost: a1b2c3d4e5.execute-api.localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        inner.len()
    );
    raw(addr, &head, &inner).await
}

#[tokio::test]
async fn responses_map_as_aws_maps_them() {
    let s = setup().await;
    let (st, head, body) = respond(
        s.addr,
        json!({"statusCode": 200, "headers": {"test-header": "value", "header-bool": true}}),
    )
    .await;
    assert_eq!(st, 200);
    assert!(
        head.contains("test-header: value") && head.contains("header-bool: true"),
        "{head}"
    );
    assert!(head.contains("Content-Type: application/json"), "{head}");
    assert!(head.contains("X-Amzn-Trace-Id: Root=1-"), "{head}");
    assert!(body.is_empty());
    let (st, head, _) = respond(s.addr, json!({"statusCode": 200, "multiValueHeaders": {"tesT-Multi": ["value-multi"]}, "headers": {"test-multi": "value-solo"}})).await;
    assert_eq!(st, 200);
    assert!(
        head.contains("tesT-Multi: value-multi, value-solo"),
        "{head}"
    );
    assert_eq!(respond(s.addr, json!({"statusCode": "201"})).await.0, 201);
    for bad in [
        json!({"statusCode": 200, "wrongValue": "value"}),
        json!({}),
        json!("justAString"),
        json!({"statusCode": "test"}),
        json!({"statusCode": 200, "multiValueHeaders": {"a": "b"}}),
    ] {
        let (st, head, body) = respond(s.addr, bad.clone()).await;
        assert_eq!(st, 502, "{bad}");
        assert_eq!(body, br#"{"message": "Internal server error"}"#, "{bad}");
        assert!(
            head.contains("x-amzn-ErrorType: InternalServerErrorException"),
            "{head}"
        );
    }
    // A function that does not exist: 500.
    let (st, _, body) = raw(s.addr, "GET /stage/missing HTTP/1.1\r\nHost: a1b2c3d4e5.execute-api.localhost\r\nConnection: close\r\n\r\n", b"").await;
    assert_eq!(
        (st, body.as_slice()),
        (500, &br#"{"message": "Internal server error"}"#[..])
    );
}

#[tokio::test]
async fn lambda_non_proxy_selects_integration_responses_by_error_message() {
    let s = setup().await;
    let get = |path: &str| {
        format!(
            "GET /stage/select/{path} HTTP/1.1\r\nHost: a1b2c3d4e5.execute-api.localhost\r\nConnection: close\r\n\r\n"
        )
    };
    // Recorded on AWS (test_lambda_selection_patterns): the result passes through with the
    // default response; an error selects by its message and passes the error document through.
    let (st, _, body) = raw(s.addr, &get("200"), b"").await;
    assert_eq!((st, body.as_slice()), (200, &b"\"Pass\""[..]));
    let (st, _, body) = raw(s.addr, &get("400"), b"").await;
    assert_eq!(st, 405);
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        doc["errorMessage"],
        "Error: Raising four hundred from within the Lambda function"
    );
    assert_eq!(doc["errorType"], "Exception");
    assert!(doc["requestId"].is_string() && doc["stackTrace"].is_array());
    let (st, _, body) = raw(s.addr, &get("500"), b"").await;
    assert_eq!(st, 502);
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        doc,
        json!({"why": "Error: Raising five hundred from within the Lambda function"})
    );
}
