//! The document → [`ImportedApi`]: version check, API-level extensions, paths.

use crate::diag::{Diagnostic, Diags, ImportError, JsonPath};
use crate::fields::{Obj, kind, member, object, opt_i64, opt_str, opt_string_list, opt_text};
use crate::operation::build_path_item;
use crate::paths::{MAX_RESOURCES, ResourceTree, parse_path};
use portico_model::{ApiKeySource, Authorizer, Resource};
use serde_json::Value;

/// Largest `minimumCompressionSize` AWS accepts (10 MiB).
const MAX_COMPRESSION_SIZE: i64 = 10_485_760;

/// The result of importing: the API definition without ids of the store (the caller assigns the
/// `RestApi` id and copies these fields into it).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedApi {
    /// `info.title`.
    pub name: String,
    /// `info.description`.
    pub description: Option<String>,
    /// `info.version`.
    pub version: Option<String>,
    /// `x-amazon-apigateway-binary-media-types`.
    pub binary_media_types: Vec<String>,
    /// `x-amazon-apigateway-api-key-source`.
    pub api_key_source: Option<ApiKeySource>,
    /// `x-amazon-apigateway-minimum-compression-size`.
    pub minimum_compression_size: Option<i64>,
    /// `x-amazon-apigateway-policy`, serialized as a JSON string.
    pub policy: Option<String>,
    /// Every resource: root `/` first, then parents before children (sorted by path segments).
    /// Intermediate path segments get their own resource, without methods.
    pub resources: Vec<Resource>,
    /// The authorizers (`x-amazon-apigateway-authorizer` security schemes) the methods name.
    pub authorizers: Vec<Authorizer>,
    /// Problems that did not prevent the import.
    pub warnings: Vec<Diagnostic>,
}

impl ImportedApi {
    /// The API as a fresh [`portico_model::RestApi`] (new id, root resource id set, warnings as
    /// strings), its resources and its authorizers: what `ImportRestApi`, `PutRestApi` and
    /// `portico import` store.
    pub fn into_rest_api(self) -> (portico_model::RestApi, Vec<Resource>, Vec<Authorizer>) {
        let root = self
            .resources
            .iter()
            .find(|r| r.parent_id.is_none())
            .map(|r| r.id.clone())
            .unwrap_or_default();
        let mut api = portico_model::RestApi::new(self.name, root);
        api.description = self.description;
        api.version = self.version;
        api.binary_media_types = self.binary_media_types;
        if let Some(src) = self.api_key_source {
            api.api_key_source = src;
        }
        api.minimum_compression_size = self.minimum_compression_size;
        api.policy = self.policy;
        api.warnings = self.warnings.iter().map(|w| w.to_string()).collect();
        (api, self.resources, self.authorizers)
    }
}

/// Which specification the document follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `openapi: 3.x`.
    OpenApi3,
    /// `swagger: "2.0"`.
    Swagger2,
}

/// State shared while walking one document.
pub(crate) struct Ctx<'a> {
    pub(crate) doc: &'a Value,
    pub(crate) flavor: Flavor,
    pub(crate) diags: Diags,
    /// Security schemes that are authorizers: name → (authorizer id, Cognito or not).
    pub(crate) authorizers: std::collections::HashMap<String, (String, bool)>,
}

impl<'a> Ctx<'a> {
    /// The security scheme `name`: `components.securitySchemes` (3.x) or `securityDefinitions` (2.0).
    pub(crate) fn security_scheme(&self, name: &str) -> Option<&'a Value> {
        let doc: &'a Value = self.doc;
        let schemes = match self.flavor {
            Flavor::OpenApi3 => doc.get("components")?.get("securitySchemes")?,
            Flavor::Swagger2 => doc.get("securityDefinitions")?,
        };
        schemes.get(name)
    }
}

/// Imports an OpenAPI 3.0 (3.1 with a warning) or Swagger 2.0 document the way
/// `ImportRestApi` does. Every error is collected; if there is any, nothing is returned but the
/// errors.
pub fn import(doc: &Value) -> Result<ImportedApi, ImportError> {
    let root = JsonPath::root();
    let Value::Object(top) = doc else {
        return Err(ImportError::single(
            "$",
            format!("an OpenAPI document must be an object, found {}", kind(doc)),
        ));
    };
    let mut diags = Diags::default();
    let flavor = flavor(&mut diags, top, &root);
    let mut ctx = Ctx {
        doc,
        flavor,
        diags,
        authorizers: Default::default(),
    };
    let d = &mut ctx.diags;

    let (name, description, version) = info(d, top, &root);
    let binary_media_types =
        opt_string_list(d, top, "x-amazon-apigateway-binary-media-types", &root);
    let api_key_source = api_key_source(d, top, &root);
    let minimum_compression_size = minimum_compression_size(d, top, &root);
    let policy = policy(d, top, &root);
    for key in top.keys() {
        if key.starts_with("x-amazon-apigateway-") && !HANDLED_TOP_LEVEL.contains(&key.as_str()) {
            d.warn(
                &root.key(key),
                format!("{key} is not supported yet and was ignored"),
            );
        }
    }
    if member(top, "security").is_some() {
        d.warn(
            &root.key("security"),
            "top-level security is ignored by API Gateway; declare security on each operation",
        );
    }

    let authorizers = authorizers(&mut ctx);
    let resources = paths(&mut ctx, top, &root);

    if !ctx.diags.errors.is_empty() {
        return Err(ImportError {
            errors: ctx.diags.errors,
        });
    }
    Ok(ImportedApi {
        name,
        description,
        version,
        binary_media_types,
        api_key_source,
        minimum_compression_size,
        policy,
        resources,
        authorizers,
        warnings: ctx.diags.warnings,
    })
}

/// The security schemes with `x-amazon-apigateway-authorizer`, as the API's authorizers (fresh
/// ids; a re-import keeps the ids of same-named ones). A TOKEN authorizer's identity source
/// defaults to the scheme's header (`in: header`, `name`), as on AWS.
fn authorizers(ctx: &mut Ctx<'_>) -> Vec<Authorizer> {
    let (schemes, at) = match ctx.flavor {
        Flavor::OpenApi3 => (
            ctx.doc
                .get("components")
                .and_then(|c| c.get("securitySchemes")),
            JsonPath::root().key("components").key("securitySchemes"),
        ),
        Flavor::Swagger2 => (
            ctx.doc.get("securityDefinitions"),
            JsonPath::root().key("securityDefinitions"),
        ),
    };
    let Some(Value::Object(schemes)) = schemes else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, scheme) in schemes {
        let Some(Value::Object(scheme)) = Some(scheme) else {
            continue;
        };
        let Some(raw) = member(scheme, "x-amazon-apigateway-authorizer") else {
            continue;
        };
        let here = at.key(name).key("x-amazon-apigateway-authorizer");
        let d = &mut ctx.diags;
        let Some(a) = object(d, raw, &here, "x-amazon-apigateway-authorizer") else {
            continue;
        };
        let kind = match opt_str(d, a, "type", &here)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("token") | None => "TOKEN",
            Some("request") => "REQUEST",
            Some("cognito_user_pools") => "COGNITO_USER_POOLS",
            Some(other) => {
                d.error(
                    &here.key("type"),
                    format!("unknown authorizer type {other} (token, request, cognito_user_pools)"),
                );
                continue;
            }
        };
        let uri = opt_text(d, a, "authorizerUri", &here);
        if kind != "COGNITO_USER_POOLS" && uri.is_none() {
            d.error(
                &here,
                "authorizerUri is required for token and request authorizers",
            );
            continue;
        }
        let provider_arns = opt_string_list(d, a, "providerARNs", &here);
        if kind == "COGNITO_USER_POOLS" && provider_arns.is_empty() {
            d.error(
                &here,
                "providerARNs is required for cognito_user_pools authorizers",
            );
            continue;
        }
        let header_source = (scheme.get("in").and_then(Value::as_str) == Some("header"))
            .then(|| scheme.get("name").and_then(Value::as_str))
            .flatten()
            .map(|h| format!("method.request.header.{h}"));
        let identity_source =
            opt_text(d, a, "identitySource", &here).or(header_source.filter(|_| kind != "REQUEST"));
        let ttl = opt_i64(d, a, "authorizerResultTtlInSeconds", &here);
        if ttl.is_some_and(|t| !(0..=3600).contains(&t)) {
            d.error(
                &here.key("authorizerResultTtlInSeconds"),
                "authorizerResultTtlInSeconds must be between 0 and 3600",
            );
            continue;
        }
        let auth_type = scheme
            .get("x-amazon-apigateway-authtype")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                Some(if kind == "COGNITO_USER_POOLS" {
                    "cognito_user_pools".to_owned()
                } else {
                    "custom".to_owned()
                })
            });
        let id = portico_model::new_resource_id();
        ctx.authorizers
            .insert(name.clone(), (id.clone(), kind == "COGNITO_USER_POOLS"));
        out.push(Authorizer {
            id,
            name: name.clone(),
            kind: kind.to_owned(),
            provider_arns,
            auth_type,
            authorizer_uri: uri,
            authorizer_credentials: opt_text(d, a, "authorizerCredentials", &here),
            identity_source,
            identity_validation_expression: opt_text(d, a, "identityValidationExpression", &here),
            authorizer_result_ttl_in_seconds: ttl,
        });
    }
    out
}

const HANDLED_TOP_LEVEL: [&str; 4] = [
    "x-amazon-apigateway-binary-media-types",
    "x-amazon-apigateway-api-key-source",
    "x-amazon-apigateway-minimum-compression-size",
    "x-amazon-apigateway-policy",
];

fn flavor(d: &mut Diags, top: &Obj, root: &JsonPath) -> Flavor {
    match (member(top, "openapi"), member(top, "swagger")) {
        (Some(_), Some(_)) => {
            d.error(root, "the document declares both openapi and swagger");
            Flavor::OpenApi3
        }
        (Some(v), None) => {
            let here = root.key("openapi");
            match v.as_str() {
                Some(s) if s == "3.0" || s.starts_with("3.0.") => {}
                Some(s) if s == "3.1" || s.starts_with("3.1.") => d.warn(
                    &here,
                    format!(
                        "OpenAPI {s} is imported as 3.0; API Gateway supports OpenAPI 2.0 and 3.0"
                    ),
                ),
                _ => d.error(
                    &here,
                    format!(
                        "unsupported OpenAPI version {v}; supported are openapi 3.0.x (3.1.x with a warning) and swagger \"2.0\""
                    ),
                ),
            }
            Flavor::OpenApi3
        }
        (None, Some(v)) => {
            // Unquoted `swagger: 2.0` in YAML is a number.
            let ok = v.as_str() == Some("2.0") || v.as_f64() == Some(2.0);
            if !ok {
                d.error(
                    &root.key("swagger"),
                    format!("unsupported Swagger version {v}; only \"2.0\" is supported"),
                );
            }
            Flavor::Swagger2
        }
        (None, None) => {
            d.error(
                root,
                "not an OpenAPI document: missing the openapi (3.0.x) or swagger (\"2.0\") version field",
            );
            Flavor::OpenApi3
        }
    }
}

fn info(d: &mut Diags, top: &Obj, root: &JsonPath) -> (String, Option<String>, Option<String>) {
    let here = root.key("info");
    let info = member(top, "info").and_then(|v| object(d, v, &here, "info"));
    let Some(info) = info else {
        d.error(
            &here.key("title"),
            "missing API title (info.title is required)",
        );
        return (String::new(), None, None);
    };
    let title = opt_text(d, info, "title", &here);
    let name = match title.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => {
            if member(info, "title").is_none_or(|v| v.is_string()) {
                d.error(
                    &here.key("title"),
                    "missing API title (info.title is required)",
                );
            }
            String::new()
        }
    };
    let description = opt_str(d, info, "description", &here).map(str::to_owned);
    let version = opt_text(d, info, "version", &here);
    (name, description, version)
}

fn api_key_source(d: &mut Diags, top: &Obj, root: &JsonPath) -> Option<ApiKeySource> {
    let key = "x-amazon-apigateway-api-key-source";
    let v = opt_str(d, top, key, root)?;
    match v.to_ascii_uppercase().as_str() {
        "HEADER" => Some(ApiKeySource::Header),
        "AUTHORIZER" => Some(ApiKeySource::Authorizer),
        _ => {
            d.error(
                &root.key(key),
                format!("unknown API key source '{v}'; allowed values: HEADER, AUTHORIZER"),
            );
            None
        }
    }
}

fn minimum_compression_size(d: &mut Diags, top: &Obj, root: &JsonPath) -> Option<i64> {
    let key = "x-amazon-apigateway-minimum-compression-size";
    let n = opt_i64(d, top, key, root)?;
    if (0..=MAX_COMPRESSION_SIZE).contains(&n) {
        Some(n)
    } else {
        d.error(
            &root.key(key),
            format!(
                "minimum compression size must be between 0 and {MAX_COMPRESSION_SIZE}, found {n}"
            ),
        );
        None
    }
}

fn policy(d: &mut Diags, top: &Obj, root: &JsonPath) -> Option<String> {
    let key = "x-amazon-apigateway-policy";
    match member(top, key)? {
        Value::String(s) => Some(s.clone()),
        v @ Value::Object(_) => Some(v.to_string()),
        other => {
            d.error(
                &root.key(key),
                format!("policy must be a JSON object, found {}", kind(other)),
            );
            None
        }
    }
}

fn paths(ctx: &mut Ctx<'_>, top: &Obj, root: &JsonPath) -> Vec<Resource> {
    let here = root.key("paths");
    let mut tree = ResourceTree::new();
    let paths = match member(top, "paths") {
        None => None,
        Some(v) => object(&mut ctx.diags, v, &here, "paths"),
    };
    for (key, item) in paths.into_iter().flatten() {
        let at = here.key(key);
        let template = match parse_path(key) {
            Ok(t) => t,
            Err(problems) => {
                for p in problems {
                    ctx.diags.error(&at, p);
                }
                continue;
            }
        };
        let node = match tree.insert(&template) {
            Ok(n) => n,
            Err(m) => {
                ctx.diags.error(&at, m);
                continue;
            }
        };
        let methods = build_path_item(ctx, item, &at, &template);
        tree.set_methods(node, methods);
    }
    if tree.len() > MAX_RESOURCES {
        ctx.diags.error(
            &here,
            format!("too many resources: {} (limit {MAX_RESOURCES})", tree.len()),
        );
    }
    tree.into_resources()
}
