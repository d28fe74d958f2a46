//! Path items and operations → [`Method`]s.

use crate::diag::{Diags, JsonPath};
use crate::fields::{Obj, kind, member, object, opt_bool, opt_str};
use crate::import::{Ctx, Flavor};
use crate::integration::{Operation, build_integration, is_status_code};
use crate::paths::PathTemplate;
use crate::refs::resolve;
use portico_model::{Map, Method, MethodResponse};
use serde_json::Value;

const INTEGRATION: &str = "x-amazon-apigateway-integration";
const ANY_METHOD: &str = "x-amazon-apigateway-any-method";
const AUTH: &str = "x-amazon-apigateway-auth";

/// The HTTP method of an operation key, if it is one API Gateway supports.
fn verb_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "get" => "GET",
        "put" => "PUT",
        "post" => "POST",
        "delete" => "DELETE",
        "options" => "OPTIONS",
        "head" => "HEAD",
        "patch" => "PATCH",
        ANY_METHOD => "ANY",
        _ => return None,
    })
}

/// Reads one path item (the value of a `paths` key) into its methods.
pub(crate) fn build_path_item(
    ctx: &mut Ctx<'_>,
    item: &Value,
    path: &JsonPath,
    template: &PathTemplate,
) -> Map<Method> {
    let mut methods = Map::new();
    let Some(item) = object(&mut ctx.diags, item, path, "a path item") else {
        return methods;
    };
    // Path-level parameters are read once (so their problems are reported once) and merged
    // into every operation; an operation's own parameter of the same name and location wins.
    let shared_params = match member(item, "parameters") {
        Some(v) => parameters(ctx, v, &path.key("parameters"), template),
        None => Vec::new(),
    };
    for (key, value) in item {
        let here = path.key(key);
        if let Some(verb) = verb_of(key) {
            if let Some(m) = build_method(ctx, verb, value, &here, &shared_params, template) {
                methods.insert(verb.to_owned(), m);
            }
            continue;
        }
        match key.as_str() {
            "parameters" | "summary" | "description" | "servers" => {}
            "$ref" => ctx
                .diags
                .warn(&here, "path item $ref is not supported and was ignored"),
            "trace" => ctx.diags.warn(
                &here,
                "HTTP method TRACE is not supported by API Gateway and was ignored",
            ),
            k if k.starts_with("x-amazon-apigateway-") => ctx
                .diags
                .warn(&here, format!("{k} is not supported yet and was ignored")),
            _ => {}
        }
    }
    methods
}

fn build_method(
    ctx: &mut Ctx<'_>,
    verb: &str,
    value: &Value,
    path: &JsonPath,
    shared_params: &[(String, bool)],
    template: &PathTemplate,
) -> Option<Method> {
    let op = object(&mut ctx.diags, value, path, "an operation")?;
    let mut method = Method::new(verb);
    method.operation_name = opt_str(&mut ctx.diags, op, "operationId", path).map(str::to_owned);

    method
        .request_parameters
        .extend(shared_params.iter().cloned());
    if let Some(own) = member(op, "parameters") {
        let own = parameters(ctx, own, &path.key("parameters"), template);
        method.request_parameters.extend(own);
    }
    if let Some(responses) = member(op, "responses") {
        method_responses(ctx, responses, &path.key("responses"), &mut method);
    }
    if let Some(security) = member(op, "security") {
        security_requirements(ctx, security, &path.key("security"), &mut method);
    }
    if let Some(auth) = member(op, AUTH) {
        auth_extension(&mut ctx.diags, auth, &path.key(AUTH), &mut method);
    }

    match member(op, INTEGRATION) {
        Some(v) => {
            let operation = Operation { verb, template };
            method.method_integration =
                build_integration(&mut ctx.diags, v, &path.key(INTEGRATION), &operation);
        }
        None => ctx.diags.warn(
            path,
            "no x-amazon-apigateway-integration; requests to this method return 500 Internal server error",
        ),
    }

    for key in op.keys() {
        if key.starts_with("x-amazon-apigateway-") && key != INTEGRATION && key != AUTH {
            ctx.diags.warn(
                &path.key(key),
                format!("{key} is not supported yet and was ignored"),
            );
        }
    }
    Some(method)
}

/// A `parameters` array (path-item or operation level) → `method.request.*` entries with their
/// required flags.
fn parameters(
    ctx: &mut Ctx<'_>,
    value: &Value,
    path: &JsonPath,
    template: &PathTemplate,
) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let Value::Array(items) = value else {
        ctx.diags.error(
            path,
            format!("parameters must be an array, found {}", kind(value)),
        );
        return out;
    };
    for (i, item) in items.iter().enumerate() {
        let at = path.index(i);
        let param = match resolve(ctx.doc, item) {
            Ok(p) => p,
            Err(m) => {
                ctx.diags.error(&at.key("$ref"), m);
                continue;
            }
        };
        let Some(param) = object(&mut ctx.diags, param, &at, "a parameter") else {
            continue;
        };
        out.extend(parameter(ctx, param, &at, template));
    }
    out
}

fn parameter(
    ctx: &mut Ctx<'_>,
    param: &Obj,
    at: &JsonPath,
    template: &PathTemplate,
) -> Option<(String, bool)> {
    let d = &mut ctx.diags;
    let name = opt_str(d, param, "name", at);
    let location = opt_str(d, param, "in", at);
    let required = opt_bool(d, param, "required", at).unwrap_or(false);
    let Some(location) = location else {
        if member(param, "in").is_none() {
            d.error(&at.key("in"), "missing parameter location (in)");
        }
        return None;
    };
    let mapped = match location {
        "path" => "path",
        "query" => "querystring",
        "header" => "header",
        "body" | "formData" if ctx.flavor == Flavor::Swagger2 => return None,
        "cookie" if ctx.flavor == Flavor::OpenApi3 => {
            d.warn(
                at,
                "cookie parameters are not supported by API Gateway and were ignored",
            );
            return None;
        }
        other => {
            let allowed = match ctx.flavor {
                Flavor::OpenApi3 => "path, query, header, cookie",
                Flavor::Swagger2 => "path, query, header, body, formData",
            };
            d.error(
                &at.key("in"),
                format!("unknown parameter location '{other}'; allowed values: {allowed}"),
            );
            return None;
        }
    };
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        if member(param, "name").is_none_or(Value::is_string) {
            d.error(&at.key("name"), "missing parameter name");
        }
        return None;
    };
    if mapped == "path" {
        if !template.has_param(name) {
            d.warn(
                at,
                format!("path parameter '{name}' is not part of the resource path"),
            );
        }
        return Some((format!("method.request.path.{name}"), true));
    }
    Some((format!("method.request.{mapped}.{name}"), required))
}

/// `responses` → method responses for numeric status codes; `default` is skipped.
fn method_responses(ctx: &mut Ctx<'_>, value: &Value, path: &JsonPath, method: &mut Method) {
    let Some(responses) = object(&mut ctx.diags, value, path, "responses") else {
        return;
    };
    for (code, response) in responses {
        let at = path.key(code);
        if code == "default" {
            continue;
        }
        if !is_status_code(code) {
            ctx.diags.warn(
                &at,
                format!("response '{code}' is not a numeric status code and was ignored"),
            );
            continue;
        }
        let response = match resolve(ctx.doc, response) {
            Ok(r) => r,
            Err(m) => {
                ctx.diags.error(&at.key("$ref"), m);
                continue;
            }
        };
        let Some(response) = object(&mut ctx.diags, response, &at, "a response") else {
            continue;
        };
        let mut mr = MethodResponse {
            status_code: code.clone(),
            response_parameters: Map::new(),
            response_models: Map::new(),
        };
        if let Some(headers) = member(response, "headers") {
            let hp = at.key("headers");
            if let Some(headers) = object(&mut ctx.diags, headers, &hp, "headers") {
                for name in headers.keys() {
                    mr.response_parameters
                        .insert(format!("method.response.header.{name}"), false);
                }
            }
        }
        method.method_responses.insert(code.clone(), mr);
    }
}

/// What a security scheme means for a method.
enum SchemeUse {
    ApiKey,
    Iam,
    Authorizer,
    Unsupported(String),
}

fn classify_scheme(scheme: &Obj) -> SchemeUse {
    let auth_type = scheme
        .get("x-amazon-apigateway-authtype")
        .and_then(Value::as_str);
    if auth_type.is_some_and(|t| t.eq_ignore_ascii_case("awsSigv4")) {
        return SchemeUse::Iam;
    }
    if auth_type.is_some() || scheme.contains_key("x-amazon-apigateway-authorizer") {
        return SchemeUse::Authorizer;
    }
    let field = |k: &str| scheme.get(k).and_then(Value::as_str).unwrap_or("");
    if field("type") == "apiKey"
        && field("in") == "header"
        && field("name").eq_ignore_ascii_case("x-api-key")
    {
        return SchemeUse::ApiKey;
    }
    SchemeUse::Unsupported(match scheme.get("type").and_then(Value::as_str) {
        Some(t) => format!("type {t}"),
        None => "no type".to_owned(),
    })
}

/// Operation-level `security`: API keys, SigV4 and authorizers (`x-amazon-apigateway-authorizer`
/// schemes) are honoured.
fn security_requirements(ctx: &mut Ctx<'_>, value: &Value, path: &JsonPath, method: &mut Method) {
    let Value::Array(requirements) = value else {
        ctx.diags.error(
            path,
            format!("security must be an array, found {}", kind(value)),
        );
        return;
    };
    for (i, requirement) in requirements.iter().enumerate() {
        let at = path.index(i);
        let Some(requirement) = object(&mut ctx.diags, requirement, &at, "a security requirement")
        else {
            continue;
        };
        for name in requirement.keys() {
            let here = at.key(name);
            let Some(scheme) = ctx.security_scheme(name) else {
                ctx.diags
                    .error(&here, format!("unknown security scheme '{name}'"));
                continue;
            };
            let scheme = match resolve(ctx.doc, scheme) {
                Ok(Value::Object(s)) => s,
                Ok(other) => {
                    ctx.diags.error(
                        &here,
                        format!(
                            "security scheme '{name}' must be an object, found {}",
                            kind(other)
                        ),
                    );
                    continue;
                }
                Err(m) => {
                    ctx.diags.error(&here, m);
                    continue;
                }
            };
            match classify_scheme(scheme) {
                SchemeUse::ApiKey => method.api_key_required = true,
                SchemeUse::Iam => method.authorization_type = "AWS_IAM".to_owned(),
                SchemeUse::Authorizer => match ctx.authorizers.get(name.as_str()) {
                    Some((id, cognito)) => {
                        method.authorization_type = if *cognito {
                            "COGNITO_USER_POOLS".to_owned()
                        } else {
                            "CUSTOM".to_owned()
                        };
                        method.authorizer_id = Some(id.clone());
                        if *cognito
                            && let Some(Value::Array(scopes)) = requirement.get(name.as_str())
                        {
                            method.authorization_scopes = scopes
                                .iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect();
                        }
                    }
                    None => ctx.diags.warn(
                        &here,
                        format!(
                            "security scheme '{name}' has an authtype but no x-amazon-apigateway-authorizer; the method is imported with authorizationType NONE"
                        ),
                    ),
                },
                SchemeUse::Unsupported(what) => ctx.diags.warn(
                    &here,
                    format!(
                        "security scheme '{name}' ({what}) is not supported by API Gateway and was ignored"
                    ),
                ),
            }
        }
    }
}

/// `x-amazon-apigateway-auth: {type: AWS_IAM|NONE}`.
fn auth_extension(d: &mut Diags, value: &Value, path: &JsonPath, method: &mut Method) {
    let Some(auth) = object(d, value, path, AUTH) else {
        return;
    };
    let Some(t) = opt_str(d, auth, "type", path) else {
        if member(auth, "type").is_none() {
            d.error(
                &path.key("type"),
                "missing auth type; allowed values: AWS_IAM, NONE",
            );
        }
        return;
    };
    let upper = t.to_ascii_uppercase();
    if upper == "AWS_IAM" || upper == "NONE" {
        method.authorization_type = upper;
    } else {
        d.error(
            &path.key("type"),
            format!("unknown auth type '{t}'; allowed values: AWS_IAM, NONE"),
        );
    }
}
