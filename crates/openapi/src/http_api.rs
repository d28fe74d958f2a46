//! HTTP APIs (apigatewayv2) from and to OpenAPI 3.0, as `ImportApi`/`ReimportApi` and
//! `ExportApi` do: paths and methods (and `x-amazon-apigateway-any-method`, and the `$default`
//! path) become route keys; `x-amazon-apigateway-integration` (inline, or a `$ref` into
//! `components.x-amazon-apigateway-integrations`) the routes' integrations;
//! `securitySchemes` with `x-amazon-apigateway-authorizer` (`jwt`, `request`) and each
//! operation's `security` the authorizers and scopes; `x-amazon-apigateway-cors` the API's CORS.
//! The export writes the same back with `x-amazon-apigateway-importexport-version: 1.0`.

use crate::diag::{Diagnostic, ImportError};
use portico_model::Map;
use portico_model::http::{
    Authorizer, Cors, HttpApi, Integration, JwtConfiguration, Route, new_v2_id,
};
use serde_json::{Value, json};
use std::collections::HashMap;

/// What an HTTP API OpenAPI document defines.
#[derive(Debug, Clone, Default)]
pub struct ImportedHttpApi {
    /// `info.title`.
    pub name: String,
    /// `info.version`.
    pub version: Option<String>,
    /// `info.description`.
    pub description: Option<String>,
    /// `x-amazon-apigateway-cors`.
    pub cors: Option<Cors>,
    /// `x-amazon-apigateway-disable-default-endpoint`.
    pub disable_execute_api_endpoint: bool,
    /// Routes (fresh ids; `target` names the integrations below).
    pub routes: Vec<Route>,
    /// Integrations (fresh ids).
    pub integrations: Vec<Integration>,
    /// Authorizers (fresh ids), by security scheme.
    pub authorizers: Vec<Authorizer>,
    /// What was accepted but is not served (e.g. `AWS_IAM` security).
    pub warnings: Vec<Diagnostic>,
}

const METHODS: [(&str, &str); 8] = [
    ("get", "GET"),
    ("post", "POST"),
    ("put", "PUT"),
    ("patch", "PATCH"),
    ("delete", "DELETE"),
    ("head", "HEAD"),
    ("options", "OPTIONS"),
    ("x-amazon-apigateway-any-method", "ANY"),
];

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string_map(v: Option<&Value>) -> Option<Map<String>> {
    let o = v?.as_object()?;
    Some(
        o.iter()
            .filter_map(|(k, v)| text(Some(v)).map(|t| (k.clone(), t)))
            .collect(),
    )
}

fn string_list(v: Option<&Value>) -> Option<Vec<String>> {
    Some(
        v?.as_array()?
            .iter()
            .filter_map(|x| text(Some(x)))
            .collect(),
    )
}

fn cors(v: &Value) -> Cors {
    Cors {
        allow_credentials: v.get("allowCredentials").and_then(Value::as_bool),
        allow_headers: string_list(v.get("allowHeaders")),
        allow_methods: string_list(v.get("allowMethods")),
        allow_origins: string_list(v.get("allowOrigins")),
        expose_headers: string_list(v.get("exposeHeaders")),
        max_age: v.get("maxAge").and_then(Value::as_i64),
    }
}

/// An `x-amazon-apigateway-integration` object → an integration.
fn integration(v: &Value, at: &str, errors: &mut Vec<Diagnostic>) -> Option<Integration> {
    let Some(kind) = v.get("type").and_then(Value::as_str) else {
        errors.push(Diagnostic::new(
            format!("{at}.type"),
            "an integration needs a type (aws_proxy or http_proxy)",
        ));
        return None;
    };
    let response_parameters = v
        .get("responseParameters")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(code, rules)| string_map(Some(rules)).map(|r| (code.clone(), r)))
                .collect()
        });
    Some(Integration {
        integration_id: new_v2_id(7),
        api_gateway_managed: None,
        integration_type: kind.to_ascii_uppercase(),
        connection_id: text(v.get("connectionId")),
        connection_type: text(v.get("connectionType")).or_else(|| Some("INTERNET".into())),
        content_handling_strategy: text(v.get("contentHandling")),
        credentials_arn: text(v.get("credentials")),
        description: text(v.get("description")),
        integration_method: text(v.get("httpMethod")),
        integration_subtype: text(v.get("integrationSubtype")),
        integration_response_selection_expression: None,
        integration_uri: text(v.get("uri")),
        passthrough_behavior: None,
        payload_format_version: text(v.get("payloadFormatVersion")),
        request_parameters: string_map(v.get("requestParameters")),
        request_templates: None,
        response_parameters,
        template_selection_expression: None,
        timeout_in_millis: v
            .get("timeoutInMillis")
            .and_then(|t| t.as_i64().or_else(|| t.as_str()?.parse().ok()))
            .or(Some(30_000)),
        tls_config: v.get("tlsConfig").cloned(),
    })
}

/// A security scheme with `x-amazon-apigateway-authorizer` → an authorizer.
fn authorizer(
    name: &str,
    scheme: &Value,
    at: &str,
    errors: &mut Vec<Diagnostic>,
) -> Option<Authorizer> {
    let a = scheme.get("x-amazon-apigateway-authorizer")?;
    let kind = a.get("type").and_then(Value::as_str).unwrap_or("");
    let identity: Vec<String> = match a.get("identitySource") {
        Some(Value::String(s)) => s
            .split(',')
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect(),
        Some(Value::Array(l)) => l
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let mut out = Authorizer {
        authorizer_id: new_v2_id(7),
        name: name.to_owned(),
        authorizer_type: String::new(),
        authorizer_credentials_arn: text(a.get("authorizerCredentials")),
        authorizer_payload_format_version: text(a.get("authorizerPayloadFormatVersion")),
        authorizer_result_ttl_in_seconds: a
            .get("authorizerResultTtlInSeconds")
            .and_then(Value::as_i64),
        authorizer_uri: text(a.get("authorizerUri")),
        enable_simple_responses: a.get("enableSimpleResponses").and_then(Value::as_bool),
        identity_source: identity,
        identity_validation_expression: text(a.get("identityValidationExpression")),
        jwt_configuration: None,
    };
    match kind.to_ascii_lowercase().as_str() {
        "jwt" => {
            out.authorizer_type = "JWT".into();
            let j = a.get("jwtConfiguration");
            out.jwt_configuration = Some(JwtConfiguration {
                audience: string_list(j.and_then(|j| j.get("audience"))),
                issuer: text(j.and_then(|j| j.get("issuer"))),
            });
        }
        "request" => out.authorizer_type = "REQUEST".into(),
        other => {
            errors.push(Diagnostic::new(
                format!("{at}.x-amazon-apigateway-authorizer.type"),
                format!("authorizer type {other} is not one of jwt, request"),
            ));
            return None;
        }
    }
    Some(out)
}

/// Reads an HTTP API from an OpenAPI 3.0 document.
pub fn import_http_api(doc: &Value) -> Result<ImportedHttpApi, ImportError> {
    let mut errors = Vec::new();
    let mut out = ImportedHttpApi::default();
    if !doc
        .get("openapi")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("3."))
    {
        return Err(ImportError::single(
            "$.openapi",
            "HTTP APIs are imported from OpenAPI 3.0 documents (openapi: 3.0.x)",
        ));
    }
    out.name = doc
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if out.name.is_empty() {
        errors.push(Diagnostic::new(
            "$.info.title",
            "the API needs a title (its name)",
        ));
    }
    out.version = text(doc.pointer("/info/version"));
    out.description = text(doc.pointer("/info/description"));
    out.cors = doc.get("x-amazon-apigateway-cors").map(cors);
    out.disable_execute_api_endpoint = doc
        .get("x-amazon-apigateway-disable-default-endpoint")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // Security schemes → authorizers, by scheme name.
    let mut schemes: HashMap<String, String> = HashMap::new();
    // Schemes that mean SigV4 (`x-amazon-apigateway-authtype: awsSigv4`): AWS_IAM routes.
    let mut iam_schemes: Vec<String> = Vec::new();
    if let Some(s) = doc
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
    {
        for (name, scheme) in s {
            if scheme
                .get("x-amazon-apigateway-authtype")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("awsSigv4"))
            {
                iam_schemes.push(name.clone());
                continue;
            }
            let at = format!("$.components.securitySchemes.{name}");
            if let Some(a) = authorizer(name, scheme, &at, &mut errors) {
                schemes.insert(name.clone(), a.authorizer_id.clone());
                out.authorizers.push(a);
            }
        }
    }
    // Reusable integrations, by reference.
    let mut shared: HashMap<String, String> = HashMap::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        errors.push(Diagnostic::new("$.paths", "the document has no paths"));
        return Err(ImportError { errors });
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (key, method) in METHODS {
            let Some(op) = item.get(key) else {
                continue;
            };
            let at = format!("$.paths['{path}'].{key}");
            let route_key = if path == "$default" {
                if method != "ANY" {
                    errors.push(Diagnostic::new(
                        &at,
                        "the $default path takes x-amazon-apigateway-any-method only",
                    ));
                    continue;
                }
                "$default".to_owned()
            } else {
                format!("{method} {path}")
            };
            let target = match op.get("x-amazon-apigateway-integration") {
                None => None,
                Some(i) => match i.get("$ref").and_then(Value::as_str) {
                    Some(r) => match shared.get(r) {
                        Some(id) => Some(id.clone()),
                        None => match crate::refs::resolve(doc, i) {
                            Ok(v) => integration(v, &at, &mut errors).map(|i| {
                                let id = i.integration_id.clone();
                                shared.insert(r.to_owned(), id.clone());
                                out.integrations.push(i);
                                id
                            }),
                            Err(e) => {
                                errors.push(Diagnostic::new(
                                    format!("{at}.x-amazon-apigateway-integration"),
                                    e,
                                ));
                                None
                            }
                        },
                    },
                    None => integration(
                        i,
                        &format!("{at}.x-amazon-apigateway-integration"),
                        &mut errors,
                    )
                    .map(|i| {
                        let id = i.integration_id.clone();
                        out.integrations.push(i);
                        id
                    }),
                },
            };
            let mut route = Route {
                route_id: new_v2_id(7),
                api_gateway_managed: None,
                route_key,
                api_key_required: false,
                authorization_scopes: None,
                authorization_type: "NONE".into(),
                authorizer_id: None,
                model_selection_expression: None,
                operation_name: text(op.get("operationId")),
                request_models: None,
                request_parameters: None,
                route_response_selection_expression: None,
                target: target.map(|id| format!("integrations/{id}")),
            };
            // An operation without `security` takes the document's.
            if let Some(sec) = op
                .get("security")
                .or_else(|| doc.get("security"))
                .and_then(Value::as_array)
                && let Some((name, scopes)) = sec
                    .iter()
                    .filter_map(Value::as_object)
                    .flat_map(|o| o.iter())
                    .next()
            {
                match (schemes.get(name), out.authorizers.iter().find(|a| &a.name == name)) {
                    (Some(id), Some(a)) => {
                        route.authorization_type =
                            if a.authorizer_type == "JWT" { "JWT" } else { "CUSTOM" }.into();
                        route.authorizer_id = Some(id.clone());
                        let scopes = string_list(Some(scopes)).unwrap_or_default();
                        if !scopes.is_empty() && a.authorizer_type == "JWT" {
                            route.authorization_scopes = Some(scopes);
                        }
                    }
                    _ if iam_schemes.contains(name) => {
                        route.authorization_type = "AWS_IAM".into();
                    }
                    _ => errors.push(Diagnostic::new(
                        format!("{at}.security"),
                        format!("security scheme {name} is not defined with x-amazon-apigateway-authorizer"),
                    )),
                }
            }
            out.routes.push(route);
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ImportError { errors })
    }
}

/// What [`export_http_api`] writes.
#[derive(Debug, Clone, Copy)]
pub struct HttpExportOptions<'a> {
    /// Include the `x-amazon-apigateway-*` extensions (`includeExtensions`, default true).
    pub extensions: bool,
    /// The stage whose deployment is exported (its name becomes the server's base path).
    pub stage: Option<&'a str>,
    /// The region in the server URL.
    pub region: &'a str,
}

/// Writes an HTTP API as OpenAPI 3.0.1, as `ExportApi` does.
pub fn export_http_api(
    api: &HttpApi,
    routes: &[Route],
    integrations: &[Integration],
    authorizers: &[Authorizer],
    options: HttpExportOptions<'_>,
) -> Value {
    let ext = options.extensions;
    let mut doc = serde_json::Map::new();
    doc.insert("openapi".into(), json!("3.0.1"));
    let mut info = serde_json::Map::new();
    info.insert("title".into(), json!(api.name));
    if let Some(d) = &api.description {
        info.insert("description".into(), json!(d));
    }
    info.insert(
        "version".into(),
        json!(
            api.version
                .clone()
                .unwrap_or_else(|| api.created_date.clone())
        ),
    );
    doc.insert("info".into(), Value::Object(info));
    let base = match options.stage {
        Some(s) if s != "$default" => s,
        _ => "",
    };
    doc.insert(
        "servers".into(),
        json!([{
            "url": format!("https://{}.execute-api.{}.amazonaws.com/{{basePath}}", api.api_id, options.region),
            "variables": {"basePath": {"default": base}}
        }]),
    );
    let mut paths: std::collections::BTreeMap<String, serde_json::Map<String, Value>> =
        std::collections::BTreeMap::new();
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for r in routes {
        if let Some(id) = r.integration_id() {
            *uses.entry(id).or_default() += 1;
        }
    }
    let mut shared = serde_json::Map::new();
    let mut sorted: Vec<&Route> = routes.iter().collect();
    sorted.sort_by(|a, b| a.route_key.cmp(&b.route_key));
    for r in sorted {
        let (method, path) = match r.route_key.split_once(' ') {
            Some((m, p)) => (m, p),
            None => ("ANY", r.route_key.as_str()),
        };
        let key = METHODS
            .iter()
            .find(|(_, m)| *m == method)
            .map(|(k, _)| *k)
            .unwrap_or("x-amazon-apigateway-any-method");
        // `ANY` (and `$default`) exist only as an extension: left out without extensions.
        if !ext && key.starts_with("x-amazon-apigateway-") {
            continue;
        }
        let mut op = serde_json::Map::new();
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|p| {
                json!({"name": p.trim_end_matches('+'), "in": "path", "required": true,
                       "schema": {"type": "string"}})
            })
            .collect();
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        op.insert(
            "responses".into(),
            json!({"default": {"description": format!("Default response for {}", r.route_key)}}),
        );
        if r.authorization_type == "AWS_IAM" {
            op.insert("security".into(), json!([{ "sigv4": [] }]));
        } else if let Some(a) = r
            .authorizer_id
            .as_ref()
            .and_then(|id| authorizers.iter().find(|a| &a.authorizer_id == id))
        {
            op.insert(
                "security".into(),
                json!([{ a.name.clone(): r.authorization_scopes.clone().unwrap_or_default() }]),
            );
        }
        if ext
            && let Some(i) = r
                .integration_id()
                .and_then(|id| integrations.iter().find(|i| i.integration_id == id))
        {
            let mut x = serde_json::Map::new();
            if let Some(v) = &i.payload_format_version {
                x.insert("payloadFormatVersion".into(), json!(v));
            }
            x.insert(
                "type".into(),
                json!(i.integration_type.to_ascii_lowercase()),
            );
            if let Some(v) = &i.integration_method {
                x.insert("httpMethod".into(), json!(v));
            }
            if let Some(v) = &i.integration_uri {
                x.insert("uri".into(), json!(v));
            }
            if let Some(v) = &i.connection_type {
                x.insert("connectionType".into(), json!(v));
            }
            if let Some(v) = &i.connection_id {
                x.insert("connectionId".into(), json!(v));
            }
            if let Some(v) = &i.credentials_arn {
                x.insert("credentials".into(), json!(v));
            }
            if let Some(v) = &i.integration_subtype {
                x.insert("integrationSubtype".into(), json!(v));
            }
            if let Some(v) = i.timeout_in_millis {
                x.insert("timeoutInMillis".into(), json!(v));
            }
            if let Some(v) = &i.request_parameters {
                x.insert("requestParameters".into(), json!(v));
            }
            if let Some(v) = &i.response_parameters {
                x.insert("responseParameters".into(), json!(v));
            }
            if let Some(v) = &i.tls_config {
                x.insert("tlsConfig".into(), v.clone());
            }
            if uses.get(i.integration_id.as_str()).copied().unwrap_or(0) > 1 {
                // Shared by several routes: one entry in components, referenced.
                let name = format!("integration-{}", i.integration_id);
                op.insert(
                    "x-amazon-apigateway-integration".into(),
                    json!({ "$ref": format!("#/components/x-amazon-apigateway-integrations/{name}") }),
                );
                shared.insert(name, Value::Object(x));
            } else {
                op.insert("x-amazon-apigateway-integration".into(), Value::Object(x));
            }
        }
        paths
            .entry(path.to_owned())
            .or_default()
            .insert(key.to_owned(), Value::Object(op));
    }
    doc.insert(
        "paths".into(),
        Value::Object(
            paths
                .into_iter()
                .map(|(k, v)| (k, Value::Object(v)))
                .collect(),
        ),
    );
    let mut components = serde_json::Map::new();
    if !shared.is_empty() {
        components.insert(
            "x-amazon-apigateway-integrations".into(),
            Value::Object(shared),
        );
    }
    let iam = routes.iter().any(|r| r.authorization_type == "AWS_IAM");
    if !authorizers.is_empty() || iam {
        let mut schemes = serde_json::Map::new();
        if iam {
            let mut scheme = serde_json::Map::new();
            scheme.insert("type".into(), json!("apiKey"));
            scheme.insert("name".into(), json!("Authorization"));
            scheme.insert("in".into(), json!("header"));
            if ext {
                scheme.insert("x-amazon-apigateway-authtype".into(), json!("awsSigv4"));
            }
            schemes.insert("sigv4".into(), Value::Object(scheme));
        }
        for a in authorizers {
            let mut x = serde_json::Map::new();
            if ext {
                let mut ax = serde_json::Map::new();
                ax.insert("type".into(), json!(a.authorizer_type.to_ascii_lowercase()));
                ax.insert("identitySource".into(), json!(a.identity_source.join(",")));
                if let Some(j) = &a.jwt_configuration {
                    ax.insert("jwtConfiguration".into(), json!(j));
                }
                if let Some(v) = &a.authorizer_uri {
                    ax.insert("authorizerUri".into(), json!(v));
                }
                if let Some(v) = &a.authorizer_payload_format_version {
                    ax.insert("authorizerPayloadFormatVersion".into(), json!(v));
                }
                if let Some(v) = a.authorizer_result_ttl_in_seconds {
                    ax.insert("authorizerResultTtlInSeconds".into(), json!(v));
                }
                if let Some(v) = a.enable_simple_responses {
                    ax.insert("enableSimpleResponses".into(), json!(v));
                }
                x.insert("x-amazon-apigateway-authorizer".into(), Value::Object(ax));
            }
            let header = a
                .identity_source
                .first()
                .and_then(|s| s.strip_prefix("$request.header."))
                .unwrap_or("Authorization");
            let mut scheme = serde_json::Map::new();
            scheme.insert(
                "type".into(),
                json!(if a.authorizer_type == "JWT" {
                    "oauth2"
                } else {
                    "apiKey"
                }),
            );
            if a.authorizer_type == "JWT" {
                scheme.insert("flows".into(), json!({}));
            } else {
                scheme.insert("name".into(), json!(header));
                scheme.insert("in".into(), json!("header"));
            }
            scheme.extend(x);
            schemes.insert(a.name.clone(), Value::Object(scheme));
        }
        components.insert("securitySchemes".into(), Value::Object(schemes));
    }
    if !components.is_empty() {
        doc.insert("components".into(), Value::Object(components));
    }
    if ext {
        if let Some(c) = &api.cors_configuration {
            doc.insert("x-amazon-apigateway-cors".into(), json!(c));
        }
        if api.disable_execute_api_endpoint {
            doc.insert(
                "x-amazon-apigateway-disable-default-endpoint".into(),
                json!(true),
            );
        }
        doc.insert(
            "x-amazon-apigateway-importexport-version".into(),
            json!("1.0"),
        );
    }
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API an export is written for.
    fn model(name: impl Into<String>, cors: Option<Cors>, version: Option<String>) -> HttpApi {
        HttpApi {
            api_id: "abc".into(),
            name: name.into(),
            protocol_type: portico_model::http::ProtocolType::Http,
            api_endpoint: None,
            api_key_selection_expression: None,
            cors_configuration: cors,
            created_date: "2026-12-06T00:00:00Z".into(),
            description: None,
            disable_execute_api_endpoint: false,
            disable_schema_validation: None,
            ip_address_type: None,
            route_selection_expression: None,
            tags: Map::new(),
            version,
            warnings: None,
        }
    }

    #[test]
    fn round_trip() {
        let doc = crate::parse_document(
            br##"
openapi: 3.0.1
info: { title: pets, version: "1.2" }
x-amazon-apigateway-cors: { allowOrigins: ["https://a.com"], maxAge: 60 }
components:
  securitySchemes:
    jwt-auth:
      type: oauth2
      x-amazon-apigateway-authorizer:
        type: jwt
        identitySource: $request.header.Authorization
        jwtConfiguration: { issuer: "https://issuer.example", audience: [app] }
  x-amazon-apigateway-integrations:
    backend: { type: http_proxy, httpMethod: ANY, uri: "http://b.example/{proxy}", payloadFormatVersion: "1.0" }
paths:
  /pets/{proxy+}:
    get:
      security: [ { jwt-auth: [read] } ]
      x-amazon-apigateway-integration: { $ref: "#/components/x-amazon-apigateway-integrations/backend" }
    post:
      x-amazon-apigateway-integration: { $ref: "#/components/x-amazon-apigateway-integrations/backend" }
  $default:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: aws_proxy
        uri: arn:aws:lambda:us-east-1:000000000000:function:f
        payloadFormatVersion: "2.0"
"##,
        )
        .unwrap();
        let api = import_http_api(&doc).unwrap();
        assert_eq!(api.name, "pets");
        assert_eq!(api.routes.len(), 3);
        assert_eq!(
            api.integrations.len(),
            2,
            "a shared integration is one integration"
        );
        let get = api
            .routes
            .iter()
            .find(|r| r.route_key == "GET /pets/{proxy+}")
            .unwrap();
        assert_eq!(get.authorization_type, "JWT");
        assert_eq!(
            get.authorization_scopes.as_deref(),
            Some(&["read".to_string()][..])
        );
        assert!(api.routes.iter().any(|r| r.route_key == "$default"));
        let model = model(api.name.clone(), api.cors.clone(), api.version.clone());
        let out = export_http_api(
            &model,
            &api.routes,
            &api.integrations,
            &api.authorizers,
            HttpExportOptions {
                extensions: true,
                stage: None,
                region: "us-east-1",
            },
        );
        let again = import_http_api(&out).unwrap();
        assert_eq!(
            again.integrations.len(),
            2,
            "the shared integration stays shared"
        );
        let bare = export_http_api(
            &model,
            &api.routes,
            &api.integrations,
            &api.authorizers,
            HttpExportOptions {
                extensions: false,
                stage: None,
                region: "us-east-1",
            },
        );
        assert!(!bare.to_string().contains("x-amazon-apigateway"), "{bare}");
        let mut a: Vec<&str> = api.routes.iter().map(|r| r.route_key.as_str()).collect();
        let mut b: Vec<&str> = again.routes.iter().map(|r| r.route_key.as_str()).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert_eq!(again.cors, api.cors);
        assert_eq!(out["x-amazon-apigateway-importexport-version"], "1.0");
        assert!(import_http_api(&json!({"swagger": "2.0"})).is_err());
    }

    #[test]
    fn iam_routes_survive_export_and_document_security_applies() {
        let doc = json!({
            "openapi": "3.0.1",
            "info": {"title": "iam"},
            "security": [{"sig": []}],
            "components": {"securitySchemes": {"sig": {
                "type": "apiKey", "name": "Authorization", "in": "header",
                "x-amazon-apigateway-authtype": "awsSigv4"
            }}},
            "paths": {
                "/a": {"get": {"x-amazon-apigateway-integration": {
                    "type": "http_proxy", "httpMethod": "GET", "uri": "http://b.example/a",
                    "payloadFormatVersion": "1.0"}}},
                "/b": {"get": {"security": [], "x-amazon-apigateway-integration": {
                    "type": "http_proxy", "httpMethod": "GET", "uri": "http://b.example/b",
                    "payloadFormatVersion": "1.0"}}}
            }
        });
        let api = import_http_api(&doc).unwrap();
        let kind = |api: &ImportedHttpApi, key: &str| {
            api.routes
                .iter()
                .find(|r| r.route_key == key)
                .unwrap()
                .authorization_type
                .clone()
        };
        assert_eq!(
            kind(&api, "GET /a"),
            "AWS_IAM",
            "the document's security applies"
        );
        assert_eq!(
            kind(&api, "GET /b"),
            "NONE",
            "an operation's empty security wins"
        );
        let model = model("iam", None, None);
        let out = export_http_api(
            &model,
            &api.routes,
            &api.integrations,
            &api.authorizers,
            HttpExportOptions {
                extensions: true,
                stage: None,
                region: "us-east-1",
            },
        );
        let again = import_http_api(&out).unwrap();
        assert_eq!(
            kind(&again, "GET /a"),
            "AWS_IAM",
            "AWS_IAM survives a round trip"
        );
        assert_eq!(kind(&again, "GET /b"), "NONE");
    }
}
