//! A deployment snapshot → OpenAPI 3.0 or Swagger 2.0 document, the way `GetExport` does.
//!
//! Everything the importer reads is written back in the form it reads it, so that
//! `import(export(x))` rebuilds the same resources and methods.

use portico_model::{
    ApiKeySource, Authorizer, DEFAULT_TIMEOUT_MILLIS, DeploymentSnapshot, Integration, Map, Method,
};
use serde_json::{Value, json};

/// A JSON object.
type Obj = serde_json::Map<String, Value>;

const ANY_METHOD: &str = "x-amazon-apigateway-any-method";

/// Which specification to export (`oas30` or `swagger` in the export path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportVersion {
    /// OpenAPI 3.0.1.
    Oas30,
    /// Swagger 2.0.
    Swagger2,
}

/// How to render the exported document (`Accept: application/json` or `application/yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Pretty-printed JSON.
    Json,
    /// YAML.
    Yaml,
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The specification.
    pub version: ExportVersion,
    /// `extensions=apigateway` (or `integrations`): include x-amazon-apigateway-* extensions.
    pub extensions: bool,
    /// Host for servers/host, e.g. "abc123.execute-api.us-east-1.amazonaws.com".
    pub host: String,
}

/// A document that could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// JSON serialization failed.
    #[error("cannot render the export as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// YAML serialization failed.
    #[error("cannot render the export as YAML: {0}")]
    Yaml(#[from] serde_saphyr::SerializeError),
}

/// Renders an exported document as pretty-printed JSON or as YAML.
pub fn render(doc: &Value, format: ExportFormat) -> Result<String, ExportError> {
    Ok(match format {
        ExportFormat::Json => serde_json::to_string_pretty(doc)?,
        ExportFormat::Yaml => serde_saphyr::to_string(doc)?,
    })
}

/// Exports the API of `snapshot`, deployed to `stage`, as an OpenAPI 3.0 or Swagger 2.0 document.
/// Paths are sorted; objects keep a fixed member order, so the output is deterministic.
pub fn export(snapshot: &DeploymentSnapshot, stage: &str, options: &ExportOptions) -> Value {
    let ex = Exporter {
        snap: snapshot,
        ext: options.extensions,
        swagger: options.version == ExportVersion::Swagger2,
    };
    let mut doc = Obj::new();
    if ex.swagger {
        doc.insert("swagger".into(), json!("2.0"));
        doc.insert("info".into(), ex.info());
        doc.insert("host".into(), json!(options.host));
        doc.insert("basePath".into(), json!(format!("/{stage}")));
        doc.insert("schemes".into(), json!(["https"]));
    } else {
        doc.insert("openapi".into(), json!("3.0.1"));
        doc.insert("info".into(), ex.info());
        let url = format!("https://{}/{{basePath}}", options.host);
        let servers = json!([{ "url": url, "variables": { "basePath": { "default": stage } } }]);
        doc.insert("servers".into(), servers);
    }
    let schemas = ex.schemas();
    doc.insert("paths".into(), ex.paths(&schemas));
    let security = ex.security_schemes();
    if ex.swagger {
        insert_nonempty(&mut doc, "securityDefinitions", security);
        insert_nonempty(&mut doc, "definitions", schemas);
    } else {
        let mut components = Obj::new();
        insert_nonempty(&mut components, "schemas", schemas);
        insert_nonempty(&mut components, "securitySchemes", security);
        insert_nonempty(&mut doc, "components", components);
    }
    if ex.ext {
        ex.api_extensions(&mut doc);
    }
    Value::Object(doc)
}

struct Exporter<'a> {
    snap: &'a DeploymentSnapshot,
    ext: bool,
    swagger: bool,
}

impl Exporter<'_> {
    fn info(&self) -> Value {
        let api = &self.snap.api;
        let mut info = Obj::new();
        info.insert("title".into(), json!(api.name));
        if let Some(d) = &api.description {
            info.insert("description".into(), json!(d));
        }
        let version = match &api.version {
            Some(v) => v.clone(),
            None => timestamp(api.created_date),
        };
        info.insert("version".into(), json!(version));
        Value::Object(info)
    }

    /// Where model schemas live in this document.
    fn ref_prefix(&self) -> &'static str {
        if self.swagger {
            "#/definitions/"
        } else {
            "#/components/schemas/"
        }
    }

    fn model_ref(&self, name: &str) -> Value {
        json!({ "$ref": format!("{}{name}", self.ref_prefix()) })
    }

    /// Models whose schema parses as JSON, by name; `$schema` dropped and model URLs in `$ref`
    /// (`https://apigateway.amazonaws.com/restapis/{id}/models/{name}`) made local.
    fn schemas(&self) -> Obj {
        let mut models: Vec<_> = self.snap.models.iter().collect();
        models.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = Obj::new();
        for model in models {
            let Some(Ok(mut schema)) = model.schema.as_deref().map(serde_json::from_str::<Value>)
            else {
                continue;
            };
            if let Value::Object(o) = &mut schema {
                o.shift_remove("$schema");
            }
            self.rewrite_refs(&mut schema);
            out.insert(model.name.clone(), schema);
        }
        out
    }

    fn rewrite_refs(&self, v: &mut Value) {
        match v {
            Value::Object(o) => {
                for (k, child) in o.iter_mut() {
                    if let (true, Value::String(s)) = (k == "$ref", &mut *child) {
                        let local = s
                            .rsplit_once("/models/")
                            .map(|(_, name)| format!("{}{name}", self.ref_prefix()));
                        if let Some(local) = local {
                            *s = local;
                        }
                    } else {
                        self.rewrite_refs(child);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|c| self.rewrite_refs(c)),
            _ => {}
        }
    }

    fn paths(&self, schemas: &Obj) -> Value {
        let mut resources: Vec<_> = self
            .snap
            .resources
            .iter()
            .filter(|r| !r.resource_methods.is_empty())
            .collect();
        resources.sort_by(|a, b| a.path.cmp(&b.path));
        let mut paths = Obj::new();
        for resource in resources {
            let mut item = Obj::new();
            for (verb, method) in &resource.resource_methods {
                let key = if verb == "ANY" {
                    if !self.ext {
                        continue;
                    }
                    ANY_METHOD.to_owned()
                } else {
                    verb.to_ascii_lowercase()
                };
                item.insert(key, self.operation(method, schemas));
            }
            if !item.is_empty() {
                paths.insert(resource.path.clone(), Value::Object(item));
            }
        }
        Value::Object(paths)
    }

    fn operation(&self, m: &Method, schemas: &Obj) -> Value {
        let mut op = Obj::new();
        if let Some(name) = &m.operation_name {
            op.insert("operationId".into(), json!(name));
        }
        let request_models = known_models(&m.request_models, schemas);
        if self.swagger {
            let consumes: Vec<&str> = request_models.iter().map(|(ct, _)| *ct).collect();
            let produces: std::collections::BTreeSet<&str> = (m.method_responses.values())
                .flat_map(|r| known_models(&r.response_models, schemas))
                .map(|(ct, _)| ct)
                .collect();
            if !consumes.is_empty() {
                op.insert("consumes".into(), json!(consumes));
            }
            if !produces.is_empty() {
                op.insert("produces".into(), json!(produces));
            }
        }
        let mut params = self.parameters(m);
        if let (true, Some((_, model))) = (self.swagger, request_models.first()) {
            let schema = self.model_ref(model);
            params.push(json!({ "in": "body", "name": model, "required": true, "schema": schema }));
        }
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if !self.swagger && !request_models.is_empty() {
            let content = self.content(&request_models);
            let body = json!({ "content": content, "required": true });
            op.insert("requestBody".into(), body);
        }
        op.insert("responses".into(), self.responses(m, schemas));

        let mut security = Obj::new();
        if m.api_key_required {
            security.insert("api_key".into(), json!([]));
        }
        let uses_authorizer = matches!(
            m.authorization_type.as_str(),
            "CUSTOM" | "COGNITO_USER_POOLS"
        );
        if self.ext
            && uses_authorizer
            && let Some(a) = self.authorizer(m.authorizer_id.as_deref())
        {
            security.insert(a.name.clone(), json!(m.authorization_scopes));
        }
        if !security.is_empty() {
            op.insert("security".into(), json!([security]));
        }
        if self.ext {
            let validator = m.request_validator_id.as_deref().and_then(|id| {
                let v = self.snap.request_validators.iter().find(|v| v.id == id)?;
                Some(v.name.clone().unwrap_or_else(|| v.id.clone()))
            });
            if let Some(name) = validator {
                op.insert("x-amazon-apigateway-request-validator".into(), json!(name));
            }
            if m.authorization_type == "AWS_IAM" {
                op.insert(
                    "x-amazon-apigateway-auth".into(),
                    json!({ "type": "aws_iam" }),
                );
            }
            if let Some(i) = &m.method_integration {
                op.insert("x-amazon-apigateway-integration".into(), integration(i));
            }
        }
        Value::Object(op)
    }

    /// `responses`: one per method response, with its headers and models.
    fn responses(&self, m: &Method, schemas: &Obj) -> Value {
        let mut responses = Obj::new();
        for (status, r) in &m.method_responses {
            let mut out = Obj::new();
            out.insert("description".into(), json!(format!("{status} response")));
            let headers: Obj = (r.response_parameters.keys())
                .filter_map(|k| k.strip_prefix("method.response.header."))
                .map(|name| (name.to_owned(), self.string_schema()))
                .collect();
            insert_nonempty(&mut out, "headers", headers);
            let models = known_models(&r.response_models, schemas);
            if !self.swagger {
                insert_nonempty(&mut out, "content", self.content(&models));
            } else if let Some((_, model)) = models.first() {
                out.insert("schema".into(), self.model_ref(model));
            }
            responses.insert(status.clone(), Value::Object(out));
        }
        Value::Object(responses)
    }

    /// OpenAPI 3 `content`: media type → `{schema: $ref}`.
    fn content(&self, models: &[(&str, &str)]) -> Obj {
        let entries = models.iter();
        entries
            .map(|(ct, model)| ((*ct).to_owned(), json!({ "schema": self.model_ref(model) })))
            .collect()
    }

    /// `{type: string}` (2.0) or `{schema: {type: string}}` (3.0).
    fn string_schema(&self) -> Value {
        if self.swagger {
            json!({ "type": "string" })
        } else {
            json!({ "schema": { "type": "string" } })
        }
    }

    /// `method.request.{path|querystring|header}.{name}` → parameter objects, path ones first.
    fn parameters(&self, m: &Method) -> Vec<Value> {
        let mut out = Vec::new();
        for (location, openapi) in [
            ("path", "path"),
            ("querystring", "query"),
            ("header", "header"),
        ] {
            for (key, required) in &m.request_parameters {
                let name = key
                    .strip_prefix("method.request.")
                    .and_then(|rest| rest.split_once('.'))
                    .filter(|(loc, name)| *loc == location && !name.is_empty())
                    .map(|(_, name)| name);
                let Some(name) = name else { continue };
                let mut p = Obj::new();
                p.insert("name".into(), json!(name));
                p.insert("in".into(), json!(openapi));
                p.insert("required".into(), json!(*required || location == "path"));
                if let Value::Object(schema) = self.string_schema() {
                    p.extend(schema);
                }
                out.push(Value::Object(p));
            }
        }
        out
    }

    fn authorizer(&self, id: Option<&str>) -> Option<&Authorizer> {
        let id = id?;
        self.snap.authorizers.iter().find(|a| a.id == id)
    }

    /// `api_key` when a method requires an API key; with extensions, one scheme per authorizer.
    fn security_schemes(&self) -> Obj {
        let mut out = Obj::new();
        let mut methods = (self.snap.resources.iter()).flat_map(|r| r.resource_methods.values());
        if methods.any(|m| m.api_key_required) {
            let scheme = json!({ "type": "apiKey", "name": "x-api-key", "in": "header" });
            out.insert("api_key".into(), scheme);
        }
        if self.ext {
            for a in &self.snap.authorizers {
                out.insert(a.name.clone(), authorizer_scheme(a));
            }
        }
        out
    }

    /// API-level `x-amazon-apigateway-*` members.
    fn api_extensions(&self, doc: &mut Obj) {
        let api = &self.snap.api;
        let responses: Obj = self
            .snap
            .gateway_responses
            .iter()
            .filter(|(_, r)| !r.default_response)
            .map(|(kind, r)| {
                let mut o = Obj::new();
                if let Some(s) = &r.status_code {
                    o.insert("statusCode".into(), json!(s));
                }
                insert_nonempty(
                    &mut o,
                    "responseParameters",
                    string_map(&r.response_parameters),
                );
                insert_nonempty(
                    &mut o,
                    "responseTemplates",
                    string_map(&r.response_templates),
                );
                (kind.clone(), Value::Object(o))
            })
            .collect();
        insert_nonempty(doc, "x-amazon-apigateway-gateway-responses", responses);
        let validators: Obj = self
            .snap
            .request_validators
            .iter()
            .map(|v| {
                let body = json!({
                    "validateRequestBody": v.validate_request_body,
                    "validateRequestParameters": v.validate_request_parameters,
                });
                (v.name.clone().unwrap_or_else(|| v.id.clone()), body)
            })
            .collect();
        insert_nonempty(doc, "x-amazon-apigateway-request-validators", validators);
        if !api.binary_media_types.is_empty() {
            let types = json!(api.binary_media_types);
            doc.insert("x-amazon-apigateway-binary-media-types".into(), types);
        }
        if api.api_key_source == ApiKeySource::Authorizer {
            let source = json!("AUTHORIZER");
            doc.insert("x-amazon-apigateway-api-key-source".into(), source);
        }
        if let Some(size) = api.minimum_compression_size {
            doc.insert(
                "x-amazon-apigateway-minimum-compression-size".into(),
                json!(size),
            );
        }
        if let Some(policy) = &api.policy {
            let parsed = serde_json::from_str(policy).unwrap_or_else(|_| json!(policy));
            doc.insert("x-amazon-apigateway-policy".into(), parsed);
        }
    }
}

fn authorizer_scheme(a: &Authorizer) -> Value {
    let kind = a.kind.to_ascii_lowercase();
    let header = a.identity_source.as_deref().and_then(|s| {
        s.split(',')
            .find_map(|p| p.trim().strip_prefix("method.request.header."))
    });
    let default_name = if kind == "request" {
        "Unused"
    } else {
        "Authorization"
    };
    let default_auth_type = if kind == "cognito_user_pools" {
        "cognito_user_pools"
    } else {
        "custom"
    };
    let mut authorizer = Obj::new();
    authorizer.insert("type".into(), json!(kind));
    let fields = [
        ("authorizerUri", &a.authorizer_uri),
        ("authorizerCredentials", &a.authorizer_credentials),
        ("identitySource", &a.identity_source),
        (
            "identityValidationExpression",
            &a.identity_validation_expression,
        ),
    ];
    for (key, value) in fields {
        if let Some(v) = value {
            authorizer.insert(key.into(), json!(v));
        }
    }
    if let Some(ttl) = a.authorizer_result_ttl_in_seconds {
        authorizer.insert("authorizerResultTtlInSeconds".into(), json!(ttl));
    }
    if !a.provider_arns.is_empty() {
        authorizer.insert("providerARNs".into(), json!(a.provider_arns));
    }
    json!({
        "type": "apiKey",
        "name": header.unwrap_or(default_name),
        "in": "header",
        "x-amazon-apigateway-authtype": a.auth_type.as_deref().unwrap_or(default_auth_type),
        "x-amazon-apigateway-authorizer": authorizer,
    })
}

/// `x-amazon-apigateway-integration`, in the form the importer reads.
fn integration(i: &Integration) -> Value {
    let mut o = Obj::new();
    o.insert("type".into(), json!(i.kind.as_str().to_ascii_lowercase()));
    insert_opt(&mut o, "httpMethod", &i.http_method);
    insert_opt(&mut o, "uri", &i.uri);
    let responses: Obj = i
        .integration_responses
        .values()
        .map(|r| {
            let pattern = r.selection_pattern.as_deref().filter(|p| !p.is_empty());
            let mut out = Obj::new();
            out.insert("statusCode".into(), json!(r.status_code));
            insert_nonempty(
                &mut out,
                "responseParameters",
                string_map(&r.response_parameters),
            );
            insert_nonempty(
                &mut out,
                "responseTemplates",
                string_map(&r.response_templates),
            );
            insert_opt(&mut out, "contentHandling", &r.content_handling);
            (pattern.unwrap_or("default").to_owned(), Value::Object(out))
        })
        .collect();
    insert_nonempty(&mut o, "responses", responses);
    insert_nonempty(
        &mut o,
        "requestParameters",
        string_map(&i.request_parameters),
    );
    insert_nonempty(&mut o, "requestTemplates", string_map(&i.request_templates));
    let passthrough = i
        .passthrough_behavior
        .as_ref()
        .map(|p| p.to_ascii_lowercase());
    insert_opt(&mut o, "passthroughBehavior", &passthrough);
    insert_opt(&mut o, "contentHandling", &i.content_handling);
    if i.timeout_in_millis != DEFAULT_TIMEOUT_MILLIS {
        o.insert("timeoutInMillis".into(), json!(i.timeout_in_millis));
    }
    insert_opt(&mut o, "cacheNamespace", &i.cache_namespace);
    if !i.cache_key_parameters.is_empty() {
        o.insert("cacheKeyParameters".into(), json!(i.cache_key_parameters));
    }
    // AWS's exports leave out the default INTERNET; only VPC_LINK is written.
    let connection_type = i.connection_type.clone().filter(|c| c != "INTERNET");
    insert_opt(&mut o, "connectionType", &connection_type);
    insert_opt(&mut o, "connectionId", &i.connection_id);
    insert_opt(&mut o, "credentials", &i.credentials);
    if let Some(tls) = &i.tls_config {
        let tls = json!({ "insecureSkipVerification": tls.insecure_skip_verification });
        o.insert("tlsConfig".into(), tls);
    }
    Value::Object(o)
}

/// Content type → model name, for the models this document defines.
fn known_models<'a>(models: &'a Map<String>, schemas: &Obj) -> Vec<(&'a str, &'a str)> {
    let known = models
        .iter()
        .filter(|(_, name)| schemas.contains_key(*name));
    known.map(|(ct, n)| (ct.as_str(), n.as_str())).collect()
}

fn insert_opt(o: &mut Obj, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        o.insert(key.into(), json!(v));
    }
}

fn string_map(m: &Map<String>) -> Obj {
    m.iter().map(|(k, v)| (k.clone(), json!(v))).collect()
}

fn insert_nonempty(o: &mut Obj, key: &str, value: Obj) {
    if !value.is_empty() {
        o.insert(key.into(), Value::Object(value));
    }
}

/// Epoch seconds as `2026-11-22T20:15:18Z`: AWS's `info.version` when the API has none.
fn timestamp(epoch_seconds: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(epoch_seconds)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}
