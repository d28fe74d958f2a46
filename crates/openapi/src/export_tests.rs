//! Export tests: import a rich document, export it, import the export, compare.

use crate::{
    ExportFormat, ExportOptions, ExportVersion, ImportedApi, export, import, parse_document, render,
};
use portico_model::{
    ApiKeySource, Authorizer, DeploymentSnapshot, GatewayResponse, Map, Method, Model,
    RequestValidator, Resource, RestApi,
};
use serde_json::{Value, json};

const RICH: &str = r#"
openapi: 3.0.1
info: { title: Rich, description: Everything the importer reads, version: "1.0" }
x-amazon-apigateway-binary-media-types: [image/png, application/octet-stream]
x-amazon-apigateway-api-key-source: AUTHORIZER
x-amazon-apigateway-minimum-compression-size: 1024
x-amazon-apigateway-policy:
  Version: "2012-10-17"
  Statement: [{ Effect: Allow, Principal: "*", Action: "execute-api:Invoke", Resource: "*" }]
components:
  securitySchemes:
    api_key: { type: apiKey, name: x-api-key, in: header }
paths:
  /:
    get:
      operationId: root
      responses:
        "200": { description: ok, headers: { Access-Control-Allow-Origin: { schema: { type: string } } } }
        "400": { description: bad }
      x-amazon-apigateway-integration:
        type: mock
        passthroughBehavior: when_no_templates
        requestTemplates: { application/json: '{"statusCode": 200}' }
        responses:
          default:
            statusCode: "200"
            responseParameters: { method.response.header.Access-Control-Allow-Origin: "'*'" }
            responseTemplates: { application/json: "{\"ok\": true,\n \"n\": 1}" }
          "4\\d{2}":
            statusCode: "400"
            responseTemplates: { application/json: '{"error": "$input.path(''$.message'')"}' }
  /pets:
    get:
      operationId: listPets
      security: [{ api_key: [] }]
      parameters:
        - { name: limit, in: query, required: false }
        - { name: X-Trace, in: header, required: true }
      responses:
        "200": { description: ok, headers: { X-Next: { schema: { type: string } } } }
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: https://backend.example/pets
        requestParameters: { integration.request.querystring.max: method.request.querystring.limit }
        timeoutInMillis: 5000
        contentHandling: CONVERT_TO_TEXT
        responses:
          default: { statusCode: "200", responseParameters: { method.response.header.X-Next: integration.response.header.Link } }
          "5\\d{2}": { statusCode: "500", contentHandling: CONVERT_TO_TEXT }
    post:
      x-amazon-apigateway-auth: { type: AWS_IAM }
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:pets/invocations
        credentials: arn:aws:iam::123456789012:role/invoke
  /pets/{petId}:
    parameters: [{ name: petId, in: path, required: true, schema: { type: string } }]
    get:
      operationId: getPet
      responses: { "200": { description: ok }, "404": { description: missing } }
      x-amazon-apigateway-integration:
        type: http_proxy
        uri: http://backend.example/pets/{id}
        requestParameters:
          integration.request.path.id: method.request.path.petId
          integration.request.header.X-Source: "'portico'"
        cacheNamespace: pets
        cacheKeyParameters: [method.request.path.petId]
        tlsConfig: { insecureSkipVerification: true }
    delete:
      x-amazon-apigateway-integration: { type: mock, requestTemplates: { application/json: '{"statusCode": 204}' } }
  /{proxy+}:
    x-amazon-apigateway-any-method:
      parameters: [{ name: proxy, in: path, required: true }]
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: http://${stageVariables.backend}/{proxy}
        requestParameters: { integration.request.path.proxy: method.request.path.proxy }
        connectionType: INTERNET
"#;

fn import_bytes(bytes: &[u8]) -> ImportedApi {
    let doc = parse_document(bytes).unwrap_or_else(|e| panic!("parse failed: {e}"));
    import(&doc)
        .unwrap_or_else(|e| panic!("import failed: {e}\n{}", String::from_utf8_lossy(bytes)))
}

fn snapshot(api: ImportedApi) -> DeploymentSnapshot {
    let mut rest = RestApi::new(api.name, api.resources[0].id.clone());
    rest.description = api.description;
    rest.version = api.version;
    rest.binary_media_types = api.binary_media_types;
    rest.api_key_source = api.api_key_source.unwrap_or_default();
    rest.minimum_compression_size = api.minimum_compression_size;
    rest.policy = api.policy;
    DeploymentSnapshot {
        api: rest,
        resources: api.resources,
        gateway_responses: Map::new(),
        models: Vec::new(),
        request_validators: Vec::new(),
        authorizers: Vec::new(),
    }
}

fn rich() -> DeploymentSnapshot {
    snapshot(import_bytes(RICH.as_bytes()))
}

fn options(version: ExportVersion, extensions: bool) -> ExportOptions {
    ExportOptions {
        version,
        extensions,
        host: "abc123.execute-api.us-east-1.amazonaws.com".to_owned(),
    }
}

/// Resources without ids: (path, path part, methods).
fn shape(resources: &[Resource]) -> Vec<(&str, Option<&str>, &Map<Method>)> {
    let rows = resources.iter();
    rows.map(|r| (r.path.as_str(), r.path_part.as_deref(), &r.resource_methods))
        .collect()
}

fn round_trip(version: ExportVersion, format: ExportFormat) {
    let original = rich();
    let doc = export(&original, "prod", &options(version, true));
    let text = render(&doc, format).unwrap();
    let again = import_bytes(text.as_bytes());
    assert_eq!(
        shape(&again.resources),
        shape(&original.resources),
        "{text}"
    );
    // Spot checks, so that a failure above is not the only signal.
    let proxy = &again
        .resources
        .iter()
        .find(|r| r.path == "/{proxy+}")
        .unwrap();
    let any = proxy.resource_methods["ANY"]
        .method_integration
        .as_ref()
        .unwrap();
    assert_eq!(
        any.uri.as_deref(),
        Some("http://${stageVariables.backend}/{proxy}")
    );
    let root = &again.resources[0].resource_methods["GET"];
    let responses = &root
        .method_integration
        .as_ref()
        .unwrap()
        .integration_responses;
    assert_eq!(
        responses["400"].selection_pattern.as_deref(),
        Some("4\\d{2}")
    );
    assert_eq!(responses["200"].selection_pattern, None);

    let api = &original.api;
    assert_eq!(again.name, api.name);
    assert_eq!(again.description, api.description);
    assert_eq!(again.version, api.version);
    assert_eq!(again.binary_media_types, api.binary_media_types);
    assert_eq!(again.api_key_source, Some(ApiKeySource::Authorizer));
    assert_eq!(again.minimum_compression_size, Some(1024));
    let policy = |p: &Option<String>| serde_json::from_str::<Value>(p.as_deref().unwrap()).unwrap();
    assert_eq!(policy(&again.policy), policy(&api.policy));
}

#[test]
fn round_trip_oas30_json() {
    round_trip(ExportVersion::Oas30, ExportFormat::Json);
}

#[test]
fn round_trip_oas30_yaml() {
    round_trip(ExportVersion::Oas30, ExportFormat::Yaml);
}

#[test]
fn round_trip_swagger2_json() {
    round_trip(ExportVersion::Swagger2, ExportFormat::Json);
}

#[test]
fn round_trip_swagger2_yaml() {
    round_trip(ExportVersion::Swagger2, ExportFormat::Yaml);
}

#[test]
fn rendered_documents_parse_back_to_the_same_value() {
    let snap = rich();
    for version in [ExportVersion::Oas30, ExportVersion::Swagger2] {
        let doc = export(&snap, "prod", &options(version, true));
        let json_text = render(&doc, ExportFormat::Json).unwrap();
        assert_eq!(json_text, serde_json::to_string_pretty(&doc).unwrap());
        for format in [ExportFormat::Json, ExportFormat::Yaml] {
            let text = render(&doc, format).unwrap();
            assert_eq!(parse_document(text.as_bytes()).unwrap(), doc, "{text}");
        }
    }
}

fn amazon_keys(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                if k.starts_with("x-amazon-apigateway") {
                    out.push(format!("{at}.{k}"));
                }
                amazon_keys(child, &format!("{at}.{k}"), out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| amazon_keys(c, at, out)),
        _ => {}
    }
}

#[test]
fn without_extensions_no_amazon_keys_anywhere() {
    let snap = with_everything();
    for version in [ExportVersion::Oas30, ExportVersion::Swagger2] {
        let doc = export(&snap, "prod", &options(version, false));
        let mut found = Vec::new();
        amazon_keys(&doc, "$", &mut found);
        assert!(found.is_empty(), "{found:?}");
        // Still a valid, importable document: the API key scheme stays, the ANY method goes.
        let api = import(&doc).unwrap();
        let pets = api.resources.iter().find(|r| r.path == "/pets").unwrap();
        assert!(pets.resource_methods["GET"].api_key_required);
        assert!(pets.resource_methods["GET"].method_integration.is_none());
        assert!(!doc["paths"].as_object().unwrap().contains_key("/{proxy+}"));
    }
}

#[test]
fn oas30_shape() {
    let doc = export(&rich(), "prod", &options(ExportVersion::Oas30, true));
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys[..5],
        ["openapi", "info", "servers", "paths", "components"]
    );
    assert_eq!(doc["openapi"], "3.0.1");
    assert_eq!(
        doc["info"],
        json!({"title": "Rich", "description": "Everything the importer reads", "version": "1.0"})
    );
    assert_eq!(
        doc["servers"],
        json!([{
            "url": "https://abc123.execute-api.us-east-1.amazonaws.com/{basePath}",
            "variables": { "basePath": { "default": "prod" } }
        }])
    );
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert_eq!(paths, ["/", "/pets", "/pets/{petId}", "/{proxy+}"]);
    let get = &doc["paths"]["/pets"]["get"];
    assert_eq!(get["operationId"], "listPets");
    assert_eq!(
        get["parameters"],
        json!([
            { "name": "limit", "in": "query", "required": false, "schema": { "type": "string" } },
            { "name": "X-Trace", "in": "header", "required": true, "schema": { "type": "string" } },
        ])
    );
    assert_eq!(
        get["responses"],
        json!({ "200": { "description": "200 response", "headers": { "X-Next": { "schema": { "type": "string" } } } } })
    );
    assert_eq!(get["security"], json!([{ "api_key": [] }]));
    let integration = &get["x-amazon-apigateway-integration"];
    assert_eq!(integration["type"], "http");
    assert_eq!(integration["timeoutInMillis"], 5000);
    assert_eq!(integration["responses"]["5\\d{2}"]["statusCode"], "500");
    let root = &doc["paths"]["/"]["get"]["x-amazon-apigateway-integration"];
    assert_eq!(root["passthroughBehavior"], "when_no_templates");
    assert_eq!(root.get("timeoutInMillis"), None);
    let post = &doc["paths"]["/pets"]["post"];
    assert_eq!(post["responses"], json!({}));
    assert_eq!(
        post["x-amazon-apigateway-auth"],
        json!({ "type": "aws_iam" })
    );
    assert_eq!(post["x-amazon-apigateway-integration"]["type"], "aws_proxy");
    let any = &doc["paths"]["/{proxy+}"]["x-amazon-apigateway-any-method"];
    assert_eq!(any["parameters"][0]["required"], true);
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"],
        json!({ "type": "apiKey", "name": "x-api-key", "in": "header" })
    );
    assert_eq!(doc["x-amazon-apigateway-policy"]["Version"], "2012-10-17");
    assert_eq!(doc["x-amazon-apigateway-api-key-source"], "AUTHORIZER");
    assert_eq!(doc["x-amazon-apigateway-minimum-compression-size"], 1024);
}

#[test]
fn swagger2_shape() {
    let doc = export(&rich(), "prod", &options(ExportVersion::Swagger2, true));
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys[..7],
        [
            "swagger",
            "info",
            "host",
            "basePath",
            "schemes",
            "paths",
            "securityDefinitions"
        ]
    );
    assert_eq!(doc["swagger"], "2.0");
    assert_eq!(doc["host"], "abc123.execute-api.us-east-1.amazonaws.com");
    assert_eq!(doc["basePath"], "/prod");
    assert_eq!(doc["schemes"], json!(["https"]));
    assert_eq!(doc.get("servers"), None);
    assert_eq!(doc.get("components"), None);
    let pet = &doc["paths"]["/pets/{petId}"]["get"];
    assert_eq!(
        pet["parameters"],
        json!([{ "name": "petId", "in": "path", "required": true, "type": "string" }])
    );
    let root = &doc["paths"]["/"]["get"]["responses"]["200"];
    assert_eq!(
        root["headers"],
        json!({ "Access-Control-Allow-Origin": { "type": "string" } })
    );
    assert_eq!(doc["securityDefinitions"]["api_key"]["name"], "x-api-key");
}

const USER: &str = r#"{"$schema": "http://json-schema.org/draft-04/schema#", "title": "User",
  "type": "object", "properties": {"pet": {"$ref": "https://apigateway.amazonaws.com/restapis/abc/models/Pet"}}}"#;

/// The rich snapshot plus models, validators, authorizers and gateway responses.
fn with_everything() -> DeploymentSnapshot {
    let mut snap = rich();
    snap.api.version = None;
    snap.api.created_date = 1_700_000_000;
    let model = |name: &str, schema: &str| Model {
        id: format!("m{name}"),
        name: name.to_owned(),
        description: None,
        schema: Some(schema.to_owned()),
        content_type: "application/json".to_owned(),
    };
    snap.models = vec![
        model("User", USER),
        model("Pet", r#"{"type": "object"}"#),
        model("Broken", "{not json"),
    ];
    snap.request_validators = vec![RequestValidator {
        id: "v1".to_owned(),
        name: Some("body-only".to_owned()),
        validate_request_body: true,
        validate_request_parameters: false,
    }];
    let authorizer = |id: &str, name: &str, kind: &str| Authorizer {
        id: id.to_owned(),
        name: name.to_owned(),
        kind: kind.to_owned(),
        provider_arns: Vec::new(),
        auth_type: None,
        authorizer_uri: None,
        authorizer_credentials: None,
        identity_source: Some("method.request.header.Authorization".to_owned()),
        identity_validation_expression: None,
        authorizer_result_ttl_in_seconds: Some(300),
    };
    let mut token = authorizer("a1", "tokenAuth", "TOKEN");
    token.authorizer_uri = Some("arn:aws:apigateway:us-east-1:lambda:path/fn".to_owned());
    let mut pool = authorizer("a2", "pool", "COGNITO_USER_POOLS");
    pool.provider_arns = vec!["arn:aws:cognito-idp:us-east-1:1:userpool/p".to_owned()];
    snap.authorizers = vec![token, pool];
    let mut missing = GatewayResponse::default_for("MISSING_AUTHENTICATION_TOKEN").unwrap();
    missing.default_response = false;
    missing.status_code = Some("404".to_owned());
    snap.gateway_responses
        .insert(missing.response_type.clone(), missing);
    let pets = snap
        .resources
        .iter_mut()
        .find(|r| r.path == "/pets")
        .unwrap();
    let post = pets.resource_methods.get_mut("POST").unwrap();
    post.request_models
        .insert("application/json".to_owned(), "User".to_owned());
    post.request_models
        .insert("text/plain".to_owned(), "Broken".to_owned());
    post.request_validator_id = Some("v1".to_owned());
    let get = pets.resource_methods.get_mut("GET").unwrap();
    get.authorization_type = "COGNITO_USER_POOLS".to_owned();
    get.authorizer_id = Some("a2".to_owned());
    get.authorization_scopes = vec!["pets/read".to_owned()];
    let ok = get.method_responses.get_mut("200").unwrap();
    ok.response_models
        .insert("application/json".to_owned(), "Pet".to_owned());
    snap
}

#[test]
fn api_level_extensions_models_and_authorizers() {
    let snap = with_everything();
    let doc = export(&snap, "prod", &options(ExportVersion::Oas30, true));
    assert_eq!(doc["info"]["version"], "2023-11-14T22:13:20Z");
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["Pet", "User"]
    );
    assert_eq!(schemas["User"].get("$schema"), None);
    assert_eq!(
        schemas["User"]["properties"]["pet"]["$ref"],
        "#/components/schemas/Pet"
    );
    let post = &doc["paths"]["/pets"]["post"];
    assert_eq!(
        post["requestBody"],
        json!({ "content": { "application/json": { "schema": { "$ref": "#/components/schemas/User" } } }, "required": true })
    );
    assert_eq!(post["x-amazon-apigateway-request-validator"], "body-only");
    let get = &doc["paths"]["/pets"]["get"];
    assert_eq!(
        get["security"],
        json!([{ "api_key": [], "pool": ["pets/read"] }])
    );
    assert_eq!(
        get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Pet"
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["tokenAuth"],
        json!({
            "type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authtype": "custom",
            "x-amazon-apigateway-authorizer": {
                "type": "token",
                "authorizerUri": "arn:aws:apigateway:us-east-1:lambda:path/fn",
                "identitySource": "method.request.header.Authorization",
                "authorizerResultTtlInSeconds": 300,
            },
        })
    );
    assert_eq!(
        schemes["pool"]["x-amazon-apigateway-authtype"],
        "cognito_user_pools"
    );
    assert_eq!(
        schemes["pool"]["x-amazon-apigateway-authorizer"]["providerARNs"],
        json!(["arn:aws:cognito-idp:us-east-1:1:userpool/p"])
    );
    assert_eq!(
        doc["x-amazon-apigateway-gateway-responses"],
        json!({ "MISSING_AUTHENTICATION_TOKEN": {
            "statusCode": "404",
            "responseTemplates": { "application/json": "{\"message\":$context.error.messageString}" },
        } })
    );
    assert_eq!(
        doc["x-amazon-apigateway-request-validators"],
        json!({ "body-only": { "validateRequestBody": true, "validateRequestParameters": false } })
    );

    let swagger = export(&snap, "prod", &options(ExportVersion::Swagger2, true));
    assert_eq!(
        swagger["definitions"]["User"]["properties"]["pet"]["$ref"],
        "#/definitions/Pet"
    );
    let post = &swagger["paths"]["/pets"]["post"];
    assert_eq!(post["consumes"], json!(["application/json"]));
    assert_eq!(
        post["parameters"],
        json!([{ "in": "body", "name": "User", "required": true, "schema": { "$ref": "#/definitions/User" } }])
    );
    let get = &swagger["paths"]["/pets"]["get"];
    assert_eq!(get["produces"], json!(["application/json"]));
    assert_eq!(
        get["responses"]["200"]["schema"]["$ref"],
        "#/definitions/Pet"
    );

    // Both still import (authorizers and the API-level extensions only warn).
    for doc in [doc, swagger] {
        let api = import(&doc).unwrap();
        assert_eq!(api.resources.len(), snap.resources.len());
    }
}

#[test]
fn export_is_deterministic() {
    let snap = with_everything();
    let opts = options(ExportVersion::Oas30, true);
    let a = render(&export(&snap, "prod", &opts), ExportFormat::Yaml).unwrap();
    let mut reversed = snap.clone();
    reversed.resources.reverse();
    reversed.models.reverse();
    let b = render(&export(&reversed, "prod", &opts), ExportFormat::Yaml).unwrap();
    assert_eq!(a, b);
}
