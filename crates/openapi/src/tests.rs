//! Unit tests: whole documents in, resources / diagnostics out.

#![allow(
    clippy::bool_assert_comparison,
    reason = "request/response parameter maps hold a required flag; comparing with true/false reads as the AWS value"
)]

use crate::{Diagnostic, ImportError, ImportedApi, MAX_DOCUMENT_BYTES, import, parse_document};
use portico_model::{ApiKeySource, IntegrationType, Method, Resource};

const PETSTORE: &str = r#"
openapi: 3.0.1
info:
  title: Petstore
  description: A sample pet store
  version: 1.0
paths:
  /pets:
    get:
      operationId: listPets
      parameters:
        - name: limit
          in: query
          required: false
        - name: X-Trace
          in: header
          required: true
      responses:
        200:
          description: ok
          headers:
            Access-Control-Allow-Origin:
              schema: { type: string }
        default:
          description: error
      x-amazon-apigateway-integration:
        type: mock
        passthroughBehavior: when_no_match
        requestTemplates:
          application/json: '{"statusCode": 200}'
        responses:
          default:
            statusCode: 200
            responseParameters:
              method.response.header.Access-Control-Allow-Origin: "'*'"
            responseTemplates:
              application/json: '[{"id": 1}]'
  /pets/{petId}:
    parameters:
      - name: petId
        in: path
        required: true
        schema: { type: string }
    get:
      operationId: getPet
      x-amazon-apigateway-integration:
        type: HTTP_PROXY
        uri: http://backend.example.com/pets/{petId}
        timeoutInMillis: 5000
  /{proxy+}:
    x-amazon-apigateway-any-method:
      parameters:
        - name: proxy
          in: path
          required: true
      x-amazon-apigateway-integration:
        type: http_proxy
        uri: http://${stageVariables.backend}/{proxy}
"#;

fn import_text(text: &str) -> Result<ImportedApi, ImportError> {
    import(&parse_document(text.as_bytes())?)
}

fn ok(text: &str) -> ImportedApi {
    match import_text(text) {
        Ok(api) => api,
        Err(e) => panic!("import failed: {e}"),
    }
}

fn err(text: &str) -> Vec<Diagnostic> {
    match import_text(text) {
        Ok(api) => panic!("import unexpectedly succeeded: {:?}", api.resources),
        Err(e) => e.errors,
    }
}

fn resource<'a>(api: &'a ImportedApi, path: &str) -> &'a Resource {
    api.resources
        .iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("no resource {path}"))
}

fn method<'a>(api: &'a ImportedApi, path: &str, verb: &str) -> &'a Method {
    &resource(api, path).resource_methods[verb]
}

fn paths(api: &ImportedApi) -> Vec<&str> {
    api.resources.iter().map(|r| r.path.as_str()).collect()
}

/// A minimal OpenAPI 3 document whose `paths` member is `paths` (YAML, indented by 2).
fn oas3(paths: &str) -> String {
    format!("openapi: 3.0.0\ninfo:\n  title: t\npaths:\n{paths}")
}

const MOCK: &str = "x-amazon-apigateway-integration: {type: mock}";

fn has(diags: &[Diagnostic], path: &str, needle: &str) -> bool {
    diags
        .iter()
        .any(|d| d.path == path && d.message.contains(needle))
}

// ---------------------------------------------------------------------------------------------
// Successful imports

#[test]
fn petstore_api_fields_and_resource_tree() {
    let api = ok(PETSTORE);
    assert_eq!(api.name, "Petstore");
    assert_eq!(api.description.as_deref(), Some("A sample pet store"));
    assert_eq!(api.version.as_deref(), Some("1.0"));
    assert_eq!(paths(&api), ["/", "/pets", "/pets/{petId}", "/{proxy+}"]);

    let root = &api.resources[0];
    assert_eq!(root.parent_id, None);
    assert_eq!(root.path_part, None);
    let pets = resource(&api, "/pets");
    assert_eq!(pets.parent_id.as_deref(), Some(root.id.as_str()));
    assert_eq!(pets.path_part.as_deref(), Some("pets"));
    let pet = resource(&api, "/pets/{petId}");
    assert_eq!(pet.parent_id.as_deref(), Some(pets.id.as_str()));
    assert_eq!(pet.path_part.as_deref(), Some("{petId}"));
    let proxy = resource(&api, "/{proxy+}");
    assert_eq!(proxy.parent_id.as_deref(), Some(root.id.as_str()));
    assert_eq!(proxy.path_part.as_deref(), Some("{proxy+}"));
    assert!(api.warnings.is_empty(), "{:?}", api.warnings);
}

#[test]
fn petstore_mock_method_and_integration() {
    let api = ok(PETSTORE);
    let get = method(&api, "/pets", "GET");
    assert_eq!(get.http_method, "GET");
    assert_eq!(get.operation_name.as_deref(), Some("listPets"));
    assert_eq!(get.authorization_type, "NONE");
    assert_eq!(
        get.request_parameters["method.request.querystring.limit"],
        false
    );
    assert_eq!(
        get.request_parameters["method.request.header.X-Trace"],
        true
    );
    assert_eq!(get.method_responses.len(), 1, "default is skipped");
    assert_eq!(
        get.method_responses["200"].response_parameters["method.response.header.Access-Control-Allow-Origin"],
        false
    );

    let i = get.method_integration.as_ref().unwrap();
    assert_eq!(i.kind, IntegrationType::Mock);
    assert_eq!(i.passthrough_behavior.as_deref(), Some("WHEN_NO_MATCH"));
    assert_eq!(
        i.request_templates["application/json"],
        r#"{"statusCode": 200}"#
    );
    assert_eq!(i.timeout_in_millis, 29_000);
    let r = &i.integration_responses["200"];
    assert_eq!(r.status_code, "200");
    assert_eq!(r.selection_pattern, None);
    assert_eq!(
        r.response_parameters["method.response.header.Access-Control-Allow-Origin"],
        "'*'"
    );
    assert_eq!(r.response_templates["application/json"], r#"[{"id": 1}]"#);
}

#[test]
fn petstore_http_proxy_defaults_method_and_merges_path_parameters() {
    let api = ok(PETSTORE);
    let get = method(&api, "/pets/{petId}", "GET");
    assert_eq!(get.request_parameters["method.request.path.petId"], true);
    let i = get.method_integration.as_ref().unwrap();
    assert_eq!(i.kind, IntegrationType::HttpProxy);
    assert_eq!(i.http_method.as_deref(), Some("GET"));
    assert_eq!(
        i.uri.as_deref(),
        Some("http://backend.example.com/pets/{petId}")
    );
    assert_eq!(i.timeout_in_millis, 5000);
}

#[test]
fn petstore_greedy_any_method_with_stage_variable_host() {
    let api = ok(PETSTORE);
    let proxy = resource(&api, "/{proxy+}");
    assert_eq!(proxy.resource_methods.keys().collect::<Vec<_>>(), ["ANY"]);
    let any = &proxy.resource_methods["ANY"];
    assert_eq!(any.http_method, "ANY");
    assert_eq!(any.request_parameters["method.request.path.proxy"], true);
    let i = any.method_integration.as_ref().unwrap();
    assert_eq!(i.http_method.as_deref(), Some("ANY"));
    assert_eq!(
        i.uri.as_deref(),
        Some("http://${stageVariables.backend}/{proxy}")
    );
}

#[test]
fn swagger2_json_import() {
    let json = r##"{
      "swagger": "2.0",
      "info": {"title": "Legacy", "version": "2"},
      "parameters": {"Limit": {"name": "limit", "in": "query", "required": true, "type": "integer"}},
      "securityDefinitions": {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}},
      "paths": {
        "/items": {
          "post": {
            "parameters": [
              {"$ref": "#/parameters/Limit"},
              {"name": "payload", "in": "body", "schema": {"type": "object"}},
              {"name": "f", "in": "formData", "type": "string"}
            ],
            "security": [{"api_key": []}],
            "responses": {"201": {"description": "created", "headers": {"Location": {"type": "string"}}}},
            "x-amazon-apigateway-integration": {
              "type": "http", "httpMethod": "post", "uri": "https://backend.example.com/items",
              "passthroughBehavior": "when_no_templates",
              "responses": {"default": {"statusCode": "201"}}
            }
          }
        }
      }
    }"##;
    let api = ok(json);
    assert_eq!(api.name, "Legacy");
    assert_eq!(paths(&api), ["/", "/items"]);
    let post = method(&api, "/items", "POST");
    assert!(post.api_key_required);
    assert_eq!(
        post.request_parameters.len(),
        1,
        "body/formData are not request parameters"
    );
    assert_eq!(
        post.request_parameters["method.request.querystring.limit"],
        true
    );
    assert_eq!(
        post.method_responses["201"].response_parameters["method.response.header.Location"],
        false
    );
    let i = post.method_integration.as_ref().unwrap();
    assert_eq!(i.kind, IntegrationType::Http);
    assert_eq!(i.http_method.as_deref(), Some("POST"));
    assert_eq!(i.passthrough_behavior.as_deref(), Some("WHEN_NO_TEMPLATES"));
    assert_eq!(i.integration_responses["201"].status_code, "201");
    // Non-proxy HTTP is executed (mapped parameters, templates, integration responses).
    assert!(!has(
        &api.warnings,
        "$.paths['/items'].post.x-amazon-apigateway-integration",
        "integration type HTTP is stored but not executed"
    ));
}

#[test]
fn intermediate_resources_are_created_without_methods() {
    let api = ok(&oas3(&format!(
        "  /a/b/c:\n    get:\n      {MOCK}\n  /a/x:\n    get:\n      {MOCK}\n"
    )));
    assert_eq!(paths(&api), ["/", "/a", "/a/b", "/a/b/c", "/a/x"]);
    assert!(resource(&api, "/a").resource_methods.is_empty());
    assert!(resource(&api, "/a/b").resource_methods.is_empty());
    assert!(
        resource(&api, "/a/b/c")
            .resource_methods
            .contains_key("GET")
    );
    let a = resource(&api, "/a");
    let ab = resource(&api, "/a/b");
    assert_eq!(ab.parent_id.as_deref(), Some(a.id.as_str()));
    assert_eq!(
        resource(&api, "/a/b/c").parent_id.as_deref(),
        Some(ab.id.as_str())
    );
    // Fresh ids, all distinct.
    let mut ids: Vec<&str> = api.resources.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), api.resources.len());
}

#[test]
fn resources_are_sorted_parents_first_regardless_of_document_order() {
    let api = ok(&oas3(&format!(
        "  /z/{{id}}:\n    get:\n      {MOCK}\n  /b:\n    get:\n      {MOCK}\n  /:\n    get:\n      {MOCK}\n  /b/a:\n    get:\n      {MOCK}\n"
    )));
    assert_eq!(paths(&api), ["/", "/b", "/b/a", "/z", "/z/{id}"]);
    assert!(
        api.resources[0].resource_methods.contains_key("GET"),
        "root keeps its method"
    );
}

#[test]
fn parameters_resolved_from_components_refs() {
    let text = r#"
openapi: 3.0.3
info: {title: refs}
components:
  parameters:
    Id: {name: id, in: path, required: true}
    Alias: {$ref: '#/components/parameters/Q'}
    Q: {name: q, in: query, required: true}
  responses:
    NotFound:
      description: nope
      headers: {X-Reason: {schema: {type: string}}}
paths:
  /things/{id}:
    parameters: [{$ref: '#/components/parameters/Id'}]
    delete:
      parameters: [{$ref: '#/components/parameters/Alias'}]
      responses:
        '404': {$ref: '#/components/responses/NotFound'}
      x-amazon-apigateway-integration: {type: mock}
"#;
    let api = ok(text);
    let m = method(&api, "/things/{id}", "DELETE");
    assert_eq!(m.request_parameters["method.request.path.id"], true);
    assert_eq!(m.request_parameters["method.request.querystring.q"], true);
    assert_eq!(
        m.method_responses["404"].response_parameters["method.response.header.X-Reason"],
        false
    );
}

#[test]
fn top_level_extensions() {
    let text = r#"
openapi: 3.0.0
info: {title: ext}
x-amazon-apigateway-binary-media-types: [image/png, '*/*']
x-amazon-apigateway-api-key-source: authorizer
x-amazon-apigateway-minimum-compression-size: 1024
x-amazon-apigateway-policy:
  Version: '2012-10-17'
  Statement: [{Effect: Allow, Principal: '*', Action: 'execute-api:Invoke', Resource: '*'}]
paths: {}
"#;
    let api = ok(text);
    assert_eq!(api.binary_media_types, ["image/png", "*/*"]);
    assert_eq!(api.api_key_source, Some(ApiKeySource::Authorizer));
    assert_eq!(api.minimum_compression_size, Some(1024));
    let policy: serde_json::Value = serde_json::from_str(api.policy.as_deref().unwrap()).unwrap();
    assert_eq!(policy["Statement"][0]["Effect"], "Allow");
    assert_eq!(paths(&api), ["/"]);
}

#[test]
fn uri_placeholder_mapped_by_request_parameters_is_accepted() {
    let api = ok(&oas3(
        "  /users/{id}:
    get:
      x-amazon-apigateway-integration:
        type: http
        uri: https://backend.example.com/u/{uid}?v=${stageVariables.v}
        requestParameters:
          integration.request.path.uid: method.request.path.id
          integration.request.header.X-Static: \"'yes'\"
        cacheKeyParameters: [method.request.path.id]
        contentHandling: convert_to_text
        tlsConfig: {insecureSkipVerification: true}
",
    ));
    let i = method(&api, "/users/{id}", "GET")
        .method_integration
        .clone()
        .unwrap();
    assert_eq!(
        i.request_parameters["integration.request.path.uid"],
        "method.request.path.id"
    );
    assert_eq!(i.cache_key_parameters, ["method.request.path.id"]);
    assert_eq!(i.content_handling.as_deref(), Some("CONVERT_TO_TEXT"));
    assert!(i.tls_config.unwrap().insecure_skip_verification);
}

#[test]
fn swagger_numeric_version_and_openapi_31_warning() {
    let api = ok("swagger: 2.0\ninfo: {title: s}\npaths: {}\n");
    assert!(api.warnings.is_empty());
    let api = ok("openapi: 3.1.0\ninfo: {title: s}\npaths: {}\n");
    assert!(has(&api.warnings, "$.openapi", "3.1.0"));
}

// ---------------------------------------------------------------------------------------------
// Warnings

#[test]
fn aws_proxy_is_imported_with_a_warning() {
    let api = ok(&oas3(
        "  /fn:
    post:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${stageVariables.fn}/invocations
        credentials: arn:aws:iam::123456789012:role/apigw
",
    ));
    let i = method(&api, "/fn", "POST")
        .method_integration
        .clone()
        .unwrap();
    assert_eq!(i.kind, IntegrationType::AwsProxy);
    assert_eq!(i.http_method.as_deref(), Some("POST"));
    assert_eq!(
        i.credentials.as_deref(),
        Some("arn:aws:iam::123456789012:role/apigw")
    );
    assert_eq!(
        api.warnings,
        [Diagnostic::new(
            "$.paths['/fn'].post.x-amazon-apigateway-integration",
            "integration type AWS_PROXY is stored but not executed by this Portico version; requests to it return 500"
        )]
    );
}

#[test]
fn missing_integration_is_a_warning() {
    let api = ok(&oas3("  /x:\n    put:\n      operationId: putX\n"));
    let put = method(&api, "/x", "PUT");
    assert!(put.method_integration.is_none());
    assert!(has(
        &api.warnings,
        "$.paths['/x'].put",
        "no x-amazon-apigateway-integration; requests to this method return 500 Internal server error"
    ));
}

#[test]
fn unsupported_extensions_and_methods_warn() {
    let text = format!(
        "openapi: 3.0.0
info: {{title: t}}
x-amazon-apigateway-gateway-responses: {{}}
x-amazon-apigateway-request-validators: {{}}
x-custom-thing: 1
components:
  securitySchemes:
    lambda:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
paths:
  /x:
    trace:
      {MOCK}
    x-amazon-apigateway-cors: {{}}
    get:
      security: [{{lambda: []}}]
      x-amazon-apigateway-request-validator: all
      {MOCK}
"
    );
    let api = ok(&text);
    let w = &api.warnings;
    assert!(has(
        w,
        "$.x-amazon-apigateway-gateway-responses",
        "is not supported yet and was ignored"
    ));
    assert!(has(
        w,
        "$.x-amazon-apigateway-request-validators",
        "is not supported yet"
    ));
    assert!(has(w, "$.paths['/x'].trace", "TRACE"));
    assert!(has(
        w,
        "$.paths['/x'].x-amazon-apigateway-cors",
        "is not supported yet"
    ));
    assert!(has(
        w,
        "$.paths['/x'].get.x-amazon-apigateway-request-validator",
        "is not supported yet"
    ));
    assert!(has(
        w,
        "$.paths['/x'].get.security[0].lambda",
        "no x-amazon-apigateway-authorizer"
    ));
    assert_eq!(w.len(), 6, "{w:?}");
    let get = method(&api, "/x", "GET");
    assert_eq!(get.authorization_type, "NONE");
    assert_eq!(
        resource(&api, "/x").resource_methods.len(),
        1,
        "TRACE is not imported"
    );
}

#[test]
fn auth_extension_and_sigv4_scheme_set_aws_iam() {
    let text = format!(
        "openapi: 3.0.0
info: {{title: t}}
components:
  securitySchemes:
    sigv4: {{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4}}
paths:
  /a:
    get:
      x-amazon-apigateway-auth: {{type: aws_iam}}
      {MOCK}
  /b:
    get:
      security: [{{sigv4: []}}]
      {MOCK}
"
    );
    let api = ok(&text);
    assert_eq!(method(&api, "/a", "GET").authorization_type, "AWS_IAM");
    assert_eq!(method(&api, "/b", "GET").authorization_type, "AWS_IAM");
}

#[test]
fn integration_responses_with_the_same_status_keep_the_later_one() {
    let api = ok(&oas3(
        "  /x:
    get:
      x-amazon-apigateway-integration:
        type: mock
        responses:
          '4\\d{2}': {statusCode: 400}
          default: {statusCode: 200}
          'Bad.*': {statusCode: '400', responseTemplates: {application/json: late}}
",
    ));
    let i = method(&api, "/x", "GET")
        .method_integration
        .clone()
        .unwrap();
    assert_eq!(i.integration_responses.len(), 2);
    let r = &i.integration_responses["400"];
    assert_eq!(r.selection_pattern.as_deref(), Some("Bad.*"));
    assert_eq!(r.response_templates["application/json"], "late");
    assert_eq!(i.integration_responses["200"].selection_pattern, None);
    assert!(has(
        &api.warnings,
        "$.paths['/x'].get.x-amazon-apigateway-integration.responses['Bad.*']",
        "both map to statusCode 400"
    ));
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn broken_yaml_reports_line_and_column() {
    let e = parse_document(b"openapi: 3.0.0\ninfo:\n  title: [unclosed\npaths: {}\n").unwrap_err();
    assert_eq!(e.errors.len(), 1);
    let d = &e.errors[0];
    assert!(d.path.starts_with("line "), "{d}");
    assert!(d.path.contains(" column "), "{d}");
    assert!(d.message.starts_with("invalid YAML"), "{d}");
    assert!(e.to_string().contains("line "), "{e}");
}

#[test]
fn broken_json_reports_exact_json_error() {
    let e = parse_document(b"{\n  \"openapi\": \"3.0.0\",\n  \"info\": {\"title\" \"x\"}\n}")
        .unwrap_err();
    assert_eq!(e.errors[0].path, "line 3 column 20");
    assert!(
        e.errors[0]
            .message
            .starts_with("invalid JSON: expected `:`"),
        "{e}"
    );
}

/// Fuzzing (`fuzz/corpus/openapi_import/regression-timeout-alias-bomb`): nine levels of nine
/// aliases ("billion laughs", 342 bytes) replayed a million events, a second of work in a
/// release build, before the YAML budget refused them. Alias work is now bounded by the size of
/// the document; ordinary anchors still work.
#[test]
fn alias_bombs_are_refused_quickly() {
    let mut bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (i, c) in ('b'..='j').enumerate() {
        let p = char::from(b'a' + i as u8);
        bomb.push_str(&format!(
            "{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        ));
    }
    let started = std::time::Instant::now();
    let e = parse_document(bomb.as_bytes()).unwrap_err();
    assert!(e.errors[0].message.contains("budget"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));

    let api = ok(&oas3(&format!(
        "  /a:\n    get: &op\n      {MOCK}\n  /b:\n    get: *op\n    post: *op\n"
    )));
    assert_eq!(method(&api, "/b", "POST").http_method, "POST");
}

#[test]
fn oversized_and_empty_documents_are_rejected() {
    let big = vec![b' '; MAX_DOCUMENT_BYTES + 1];
    let e = parse_document(&big).unwrap_err();
    assert!(e.errors[0].message.contains("6 MiB"), "{e}");
    let e = parse_document(b"  \n").unwrap_err();
    assert_eq!(e.errors[0].message, "document is empty");
}

#[test]
fn unknown_integration_type() {
    let errors = err(&oas3(
        "  /x:\n    get:\n      x-amazon-apigateway-integration: {type: lambda, uri: 'http://a'}\n",
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].path,
        "$.paths['/x'].get.x-amazon-apigateway-integration.type"
    );
    assert!(errors[0].message.contains("'lambda'"));
    assert!(
        errors[0]
            .message
            .contains("mock, http, http_proxy, aws, aws_proxy")
    );

    let errors = err(&oas3(
        "  /x:\n    get:\n      x-amazon-apigateway-integration: {uri: 'http://a'}\n",
    ));
    assert!(has(
        &errors,
        "$.paths['/x'].get.x-amazon-apigateway-integration.type",
        "missing integration type"
    ));
}

#[test]
fn path_parameter_must_be_whole_segment() {
    let errors = err(&oas3(&format!(
        "  /a{{b}}:\n    get:\n      {MOCK}\n  /pets/{{id}}.json:\n    get:\n      {MOCK}\n"
    )));
    assert_eq!(
        errors,
        [
            Diagnostic::new(
                "$.paths['/a{b}']",
                "path parameter must be a whole path segment: a{b}"
            ),
            Diagnostic::new(
                "$.paths['/pets/{id}.json']",
                "path parameter must be a whole path segment: {id}.json"
            ),
        ]
    );
}

#[test]
fn greedy_parameter_must_be_last() {
    let errors = err(&oas3(&format!(
        "  /{{proxy+}}/x:\n    get:\n      {MOCK}\n"
    )));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "$.paths['/{proxy+}/x']");
    assert!(
        errors[0].message.contains("must be the last path segment"),
        "{:?}",
        errors[0]
    );
}

#[test]
fn invalid_path_characters_and_shapes() {
    let errors = err(&oas3(&format!(
        "  /a b:\n    get:\n      {MOCK}\n  /q?x:\n    get:\n      {MOCK}\n  /p%20:\n    get:\n      {MOCK}\n  nopath:\n    get:\n      {MOCK}\n  /t/:\n    get:\n      {MOCK}\n"
    )));
    assert!(has(&errors, "$.paths['/a b']", "invalid character ' '"));
    assert!(has(&errors, "$.paths['/q?x']", "invalid character '?'"));
    assert!(has(&errors, "$.paths['/p%20']", "invalid character '%'"));
    assert!(has(&errors, "$.paths.nopath", "must start with '/'"));
    assert!(has(&errors, "$.paths['/t/']", "empty path segment"));
    assert_eq!(errors.len(), 5);
    // The literal characters API Gateway accepts.
    ok(&oas3(&format!(
        "  /v1.0/a_b-c,d:e~f@g:\n    get:\n      {MOCK}\n"
    )));
}

#[test]
fn conflicting_path_parameters() {
    let errors = err(&oas3(&format!(
        "  /pets/{{id}}:\n    get:\n      {MOCK}\n  /pets/{{petId}}/x:\n    get:\n      {MOCK}\n"
    )));
    assert_eq!(
        errors,
        [Diagnostic::new(
            "$.paths['/pets/{petId}/x']",
            "conflicting path parameters {id} and {petId} under /pets"
        )]
    );
}

#[test]
fn timeout_out_of_range() {
    let doc = |t: i64| {
        oas3(&format!(
            "  /x:\n    get:\n      x-amazon-apigateway-integration: {{type: mock, timeoutInMillis: {t}}}\n"
        ))
    };
    for bad in [49, 29_001, -1] {
        let errors = err(&doc(bad));
        assert_eq!(
            errors[0].path,
            "$.paths['/x'].get.x-amazon-apigateway-integration.timeoutInMillis"
        );
        assert!(
            errors[0].message.contains("between 50 and 29000"),
            "{:?}",
            errors[0]
        );
    }
    for good in [50, 29_000] {
        let api = ok(&doc(good));
        let i = method(&api, "/x", "GET")
            .method_integration
            .clone()
            .unwrap();
        assert_eq!(i.timeout_in_millis, good);
    }
}

#[test]
fn missing_or_empty_title() {
    let errors = err("openapi: 3.0.0\ninfo: {version: '1'}\npaths: {}\n");
    assert_eq!(
        errors,
        [Diagnostic::new(
            "$.info.title",
            "missing API title (info.title is required)"
        )]
    );
    let errors = err("openapi: 3.0.0\ninfo: {title: '  '}\npaths: {}\n");
    assert!(has(&errors, "$.info.title", "missing API title"));
    let errors = err("openapi: 3.0.0\npaths: {}\n");
    assert!(has(&errors, "$.info.title", "missing API title"));
}

#[test]
fn missing_or_unsupported_version() {
    let errors = err("info: {title: t}\npaths: {}\n");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "$");
    let errors = err("openapi: 2.5.0\ninfo: {title: t}\npaths: {}\n");
    assert!(has(&errors, "$.openapi", "unsupported OpenAPI version"));
    let errors = err("[1, 2]");
    assert_eq!(errors[0].path, "$");
}

#[test]
fn http_integration_uri_rules() {
    let errors = err(&oas3(
        "  /a/{id}:
    get:
      x-amazon-apigateway-integration: {type: http_proxy}
    post:
      x-amazon-apigateway-integration: {type: http_proxy, uri: 'ftp://host/x'}
    put:
      x-amazon-apigateway-integration: {type: http_proxy, uri: 'http://host/{nope}'}
    patch:
      x-amazon-apigateway-integration: {type: aws_proxy, uri: 'arn:aws:apigateway:x'}
",
    ));
    let base = "$.paths['/a/{id}']";
    assert!(has(
        &errors,
        &format!("{base}.get.x-amazon-apigateway-integration.uri"),
        "uri is required"
    ));
    assert!(has(
        &errors,
        &format!("{base}.post.x-amazon-apigateway-integration.uri"),
        "absolute http:// or https:// URL"
    ));
    assert!(has(
        &errors,
        &format!("{base}.put.x-amazon-apigateway-integration.uri"),
        "{nope}"
    ));
    assert!(has(
        &errors,
        &format!("{base}.patch.x-amazon-apigateway-integration.httpMethod"),
        "required"
    ));
    assert_eq!(errors.len(), 4, "{errors:?}");
}

#[test]
fn bad_refs_are_errors() {
    let text = r#"
openapi: 3.0.0
info: {title: t}
components:
  parameters:
    A: {$ref: '#/components/parameters/B'}
    B: {$ref: '#/components/parameters/A'}
paths:
  /x:
    get:
      parameters:
        - $ref: '#/components/parameters/Missing'
        - $ref: '#/components/parameters/A'
        - $ref: 'other.yaml#/X'
      x-amazon-apigateway-integration: {type: mock}
"#;
    let errors = err(text);
    let at = |i: usize| format!("$.paths['/x'].get.parameters[{i}].$ref");
    assert!(has(
        &errors,
        &at(0),
        "unresolvable $ref '#/components/parameters/Missing'"
    ));
    assert!(has(&errors, &at(1), "circular $ref"));
    assert!(has(&errors, &at(2), "external $ref"));
    assert_eq!(errors.len(), 3);
}

#[test]
fn enum_fields_are_validated() {
    let errors = err(&oas3(
        "  /x:
    get:
      x-amazon-apigateway-auth: {type: cognito}
      x-amazon-apigateway-integration:
        type: mock
        passthroughBehavior: sometimes
        contentHandling: convert_to_json
        connectionType: VPC_LINK
",
    ));
    let base = "$.paths['/x'].get";
    assert!(has(
        &errors,
        &format!("{base}.x-amazon-apigateway-auth.type"),
        "unknown auth type"
    ));
    let i = format!("{base}.x-amazon-apigateway-integration");
    assert!(has(
        &errors,
        &format!("{i}.passthroughBehavior"),
        "when_no_match, when_no_templates, never"
    ));
    assert!(has(
        &errors,
        &format!("{i}.contentHandling"),
        "unknown contentHandling"
    ));
    assert!(has(
        &errors,
        &format!("{i}.connectionId"),
        "required when connectionType is VPC_LINK"
    ));
    assert_eq!(errors.len(), 4, "{errors:?}");
}

#[test]
fn multiple_errors_are_reported_together() {
    let text = format!(
        "openapi: 3.0.0
info: {{description: no title}}
x-amazon-apigateway-api-key-source: somewhere
paths:
  /a{{b}}:
    get:
      {MOCK}
  /{{p+}}/more:
    get:
      {MOCK}
  /ok:
    get:
      x-amazon-apigateway-integration: {{type: bogus, timeoutInMillis: 10}}
"
    );
    let e = import_text(&text).unwrap_err();
    assert_eq!(e.errors.len(), 6, "{e}");
    let rendered = e.to_string();
    let mut lines = rendered.lines();
    assert_eq!(lines.next(), Some("invalid OpenAPI definition (6 errors):"));
    assert_eq!(lines.count(), 6);
    for d in &e.errors {
        assert!(rendered.contains(&d.to_string()));
    }
    assert!(rendered.contains("$.info.title: missing API title"));
    assert!(rendered.contains(
        "$.paths['/ok'].get.x-amazon-apigateway-integration.type: unknown integration type 'bogus'"
    ));
}

#[test]
fn too_many_resources() {
    let mut paths = String::new();
    for i in 0..300 {
        paths.push_str(&format!("  /r{i}:\n    get:\n      {MOCK}\n"));
    }
    // 300 paths + the root = 301 resources.
    let errors = err(&oas3(&paths));
    assert_eq!(
        errors,
        [Diagnostic::new(
            "$.paths",
            "too many resources: 301 (limit 300)"
        )]
    );
}

#[test]
fn single_error_display() {
    let e = ImportError::single("$.info.title", "missing");
    assert_eq!(
        e.to_string(),
        "invalid OpenAPI definition (1 error):\n$.info.title: missing"
    );
}

#[test]
fn path_level_parameters_are_read_once_and_overridable() {
    let text = format!(
        "openapi: 3.0.0
info: {{title: t}}
paths:
  /x:
    parameters:
      - {{name: q, in: query, required: false}}
      - {{name: ghost, in: path}}
    get:
      parameters: [{{name: q, in: query, required: true}}]
      {MOCK}
    post:
      {MOCK}
"
    );
    let api = ok(&text);
    assert_eq!(
        method(&api, "/x", "GET").request_parameters["method.request.querystring.q"],
        true
    );
    assert_eq!(
        method(&api, "/x", "POST").request_parameters["method.request.querystring.q"],
        false
    );
    // The undeclared path parameter is reported once, not once per operation.
    let ghost: Vec<_> = api
        .warnings
        .iter()
        .filter(|w| w.message.contains("ghost"))
        .collect();
    assert_eq!(ghost.len(), 1, "{:?}", api.warnings);
    assert_eq!(ghost[0].path, "$.paths['/x'].parameters[1]");
}
