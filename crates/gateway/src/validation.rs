//! Request validation (method request phase): required parameters and JSON Schema draft 4 body
//! models, prepared at deploy time from the method's `RequestValidator`, `requestParameters`
//! and `requestModels`.
//!
//! Messages follow API Gateway: `Missing required request parameters: [a, b]` and
//! `Invalid request body`, with the schema violations in `$context.error.validationErrorString`
//! worded like the validator API Gateway runs (`[object has missing required properties
//! (["name"])]`). Schema `pattern`s use the linear-time `regex` engine, so a model cannot be used
//! for ReDoS.

use portico_model::{Method, Model, RequestValidator};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where a required parameter must be present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Required {
    /// `method.request.header.X` (matched case-insensitively).
    Header(http::HeaderName, String),
    /// `method.request.querystring.X`.
    Query(String),
    /// `method.request.path.X`: present when the resource path declares it.
    Path(String),
    /// `method.request.multivalueheader.X` / `multivaluequerystring.X`.
    MultiHeader(http::HeaderName, String),
    /// `method.request.multivaluequerystring.X`.
    MultiQuery(String),
}

impl Required {
    fn name(&self) -> &str {
        match self {
            Self::Header(_, n) | Self::MultiHeader(_, n) => n,
            Self::Query(n) | Self::Path(n) | Self::MultiQuery(n) => n,
        }
    }
}

/// What a method's validator checks, compiled.
#[derive(Debug, Default)]
pub struct RequestValidation {
    /// Required parameters, in AWS's report order; empty when parameters are not validated.
    pub required: Vec<Required>,
    /// Body models by content type (lowercase; `$default` included); empty when bodies are not
    /// validated.
    pub models: Vec<(String, Arc<BodyModel>)>,
}

/// A model ready to validate bodies.
pub struct BodyModel {
    name: String,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for BodyModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyModel")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// The names of the missing parameters.
    Parameters(Vec<String>),
    /// `$context.error.validationErrorString`.
    Body(String),
}

/// The compiled models of one API, shared by its methods.
#[derive(Default)]
pub struct ModelSet {
    sources: HashMap<String, Value>,
    compiled: HashMap<String, Result<Arc<BodyModel>, String>>,
}

impl ModelSet {
    /// Parses every model's schema (once per deployment).
    pub fn new(models: &[Model]) -> Self {
        let sources = models
            .iter()
            .filter_map(|m| {
                let schema = serde_json::from_str(m.schema.as_deref()?).ok()?;
                Some((m.name.clone(), schema))
            })
            .collect();
        Self {
            sources,
            compiled: HashMap::new(),
        }
    }

    /// The validator for a model, compiled on first use.
    pub fn get(&mut self, name: &str) -> Result<Arc<BodyModel>, String> {
        if let Some(r) = self.compiled.get(name) {
            return r.clone();
        }
        let r = self.build(name);
        self.compiled.insert(name.to_owned(), r.clone());
        r
    }

    fn build(&self, name: &str) -> Result<Arc<BodyModel>, String> {
        let schema = self
            .sources
            .get(name)
            .ok_or_else(|| format!("model {name} does not exist or has no valid JSON schema"))?;
        let validator = jsonschema::draft4::options()
            .with_retriever(ModelRetriever {
                sources: self.sources.clone(),
                left: AtomicUsize::new(2 * self.sources.len() + 16),
            })
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .should_validate_formats(true)
            .build(schema)
            .map_err(|e| format!("model {name}: {e}"))?;
        Ok(Arc::new(BodyModel {
            name: name.to_owned(),
            validator,
        }))
    }
}

/// Resolves `$ref`s to other models of the API (`https://apigateway.amazonaws.com/restapis/
/// {id}/models/{name}` or any URI ending in `/models/{name}`); nothing is fetched.
struct ModelRetriever {
    sources: HashMap<String, Value>,
    /// Retrievals left for this build. A relative `$ref` resolves against the URI its model was
    /// fetched from, so a chain of them names a new, longer URI at every step (`a/models/Pet`
    /// inside `Pet`): without a bound, compiling it never ends.
    left: AtomicUsize,
}

impl jsonschema::Retrieve for ModelRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        self.left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .map_err(|_| format!("too many model references (at {uri})"))?;
        let path = uri.path().as_str();
        let name = path
            .rsplit_once("/models/")
            .map(|(_, n)| n.trim_end_matches('/'))
            .ok_or_else(|| format!("reference {uri} is not a model of this API"))?;
        self.sources
            .get(name)
            .cloned()
            .ok_or_else(|| format!("reference to unknown model {name}").into())
    }
}

impl RequestValidation {
    /// Compiles a method's validation; `None` when nothing is validated. Problems (unknown model,
    /// bad schema) are reported through `warn` and that part is not validated.
    pub fn compile(
        method: &Method,
        validators: &[RequestValidator],
        resource_path: &str,
        models: &mut ModelSet,
        warn: &mut impl FnMut(String),
    ) -> Option<Self> {
        let id = method.request_validator_id.as_deref()?;
        let Some(v) = validators.iter().find(|v| v.id == id) else {
            warn(format!(
                "request validator {id} does not exist; requests are not validated"
            ));
            return None;
        };
        let mut out = Self::default();
        if v.validate_request_parameters {
            // AWS reports missing parameters in the order of their full names.
            let mut keys: Vec<&String> = method
                .request_parameters
                .iter()
                .filter(|(_, required)| **required)
                .map(|(k, _)| k)
                .collect();
            keys.sort();
            for key in keys {
                let Some(rest) = key.strip_prefix("method.request.") else {
                    continue;
                };
                let Some((location, name)) = rest.split_once('.') else {
                    continue;
                };
                let header = || http::HeaderName::from_bytes(name.as_bytes()).ok();
                let req = match location {
                    "header" => header().map(|h| Required::Header(h, name.to_owned())),
                    "multivalueheader" => {
                        header().map(|h| Required::MultiHeader(h, name.to_owned()))
                    }
                    "querystring" => Some(Required::Query(name.to_owned())),
                    "multivaluequerystring" => Some(Required::MultiQuery(name.to_owned())),
                    "path" => Some(Required::Path(name.to_owned())),
                    _ => None,
                };
                match req {
                    Some(Required::Path(p)) => {
                        let declared = resource_path.split('/').any(|seg| {
                            seg.strip_prefix('{')
                                .and_then(|s| s.strip_suffix('}'))
                                .map(|s| s.trim_end_matches('+'))
                                == Some(p.as_str())
                        });
                        if !declared {
                            out.required.push(Required::Path(p));
                        }
                    }
                    Some(r) => out.required.push(r),
                    None => warn(format!("required parameter {key} cannot be checked")),
                }
            }
        }
        if v.validate_request_body {
            for (content_type, model) in &method.request_models {
                match models.get(model) {
                    Ok(m) => out.models.push((content_type.to_ascii_lowercase(), m)),
                    Err(e) => warn(format!("{e}; bodies of {content_type} are not validated")),
                }
            }
        }
        (!out.required.is_empty() || !out.models.is_empty()).then_some(out)
    }

    /// Whether the body must be read to validate it.
    pub fn wants_body(&self, content_type: Option<&str>) -> bool {
        self.model_for(content_type).is_some()
    }

    fn model_for(&self, content_type: Option<&str>) -> Option<&BodyModel> {
        let ct = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim())
            .filter(|c| !c.is_empty())
            .unwrap_or("application/json")
            .to_ascii_lowercase();
        self.models
            .iter()
            .find(|(k, _)| *k == ct)
            .or_else(|| self.models.iter().find(|(k, _)| k == "$default"))
            .map(|(_, m)| m.as_ref())
    }

    /// Checks the parameters: the names missing, if any. Path parameters the route matched are
    /// always present; `Required::Path` only holds names the resource does not declare.
    pub fn check_parameters(
        &self,
        headers: &http::HeaderMap,
        query: Option<&str>,
    ) -> Option<Invalid> {
        let has_query = |n: &str| {
            query.is_some_and(|q| {
                q.split('&').any(|kv| {
                    let k = kv.split_once('=').map(|(k, _)| k).unwrap_or(kv);
                    !k.is_empty()
                        && percent_encoding::percent_decode_str(k).decode_utf8_lossy() == n
                })
            })
        };
        let missing: Vec<String> = self
            .required
            .iter()
            .filter(|r| match r {
                Required::Header(h, _) | Required::MultiHeader(h, _) => !headers.contains_key(h),
                Required::Query(q) | Required::MultiQuery(q) => !has_query(q),
                Required::Path(_) => true,
            })
            .map(|r| r.name().to_owned())
            .collect();
        (!missing.is_empty()).then_some(Invalid::Parameters(missing))
    }

    /// Validates a body against the model for its content type (an empty body is `{}`, as in
    /// API Gateway).
    pub fn check_body(&self, content_type: Option<&str>, body: &[u8]) -> Option<Invalid> {
        let model = self.model_for(content_type)?;
        let instance: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Default::default())
        } else {
            match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => {
                    return Some(Invalid::Body(format!(
                        "[Invalid JSON input: {}]",
                        json_error_text(&e)
                    )));
                }
            }
        };
        if model.validator.is_valid(&instance) {
            return None;
        }
        Some(Invalid::Body(describe(&model.validator, &instance)))
    }
}

fn json_error_text(e: &serde_json::Error) -> String {
    format!("{e}")
}

/// The violations as API Gateway words them: a bracketed, comma-separated list; missing
/// properties of one object are reported together.
fn describe(validator: &jsonschema::Validator, instance: &Value) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    let mut messages: Vec<String> = Vec::new();
    let mut missing: Vec<(String, Vec<String>)> = Vec::new();
    for e in validator.iter_errors(instance).take(50) {
        let found = e.instance();
        let msg = match e.kind() {
            K::Required { property } => {
                let at = e.instance_path().to_string();
                let name = property.as_str().unwrap_or_default().to_owned();
                match missing.iter_mut().find(|(p, _)| *p == at) {
                    Some((_, names)) => names.push(name),
                    None => missing.push((at, vec![name])),
                }
                continue;
            }
            K::Type { kind } => format!(
                "instance type ({}) does not match any allowed primitive type (allowed: {})",
                json_type(found),
                allowed_types(kind)
            ),
            K::Minimum { limit } => format!(
                "numeric instance is lower than the required minimum (minimum: {limit}, found: {found})"
            ),
            K::Maximum { limit } => format!(
                "numeric instance is greater than the required maximum (maximum: {limit}, found: {found})"
            ),
            K::ExclusiveMinimum { limit } => format!(
                "numeric instance is not strictly greater than the required minimum {limit}"
            ),
            K::ExclusiveMaximum { limit } => {
                format!("numeric instance is not strictly lower than the required maximum {limit}")
            }
            K::MinLength { limit } => format!(
                "string {found} is too short (length: {}, required minimum: {limit})",
                str_len(found)
            ),
            K::MaxLength { limit } => format!(
                "string {found} is too long (length: {}, maximum allowed: {limit})",
                str_len(found)
            ),
            K::Pattern { pattern } => format!(
                "ECMA 262 regex {} does not match input string {found}",
                Value::String(pattern.clone())
            ),
            K::Enum { options } => {
                format!("instance value ({found}) not found in enum (possible values: {options})")
            }
            K::AdditionalProperties { unexpected } => {
                let mut names = unexpected.clone();
                names.sort();
                format!(
                    "object instance has properties which are not allowed by the schema: {}",
                    serde_json::to_string(&names).unwrap_or_default()
                )
            }
            K::MinItems { limit } => format!(
                "array is too short: must have at least {limit} elements but instance has {} elements",
                found.as_array().map(Vec::len).unwrap_or(0)
            ),
            K::MaxItems { limit } => format!(
                "array is too long: must have at most {limit} elements but instance has {} elements",
                found.as_array().map(Vec::len).unwrap_or(0)
            ),
            K::UniqueItems => "array must not contain duplicate elements".to_owned(),
            K::Format { format } if format == "email" => {
                format!("string {found} is not a valid email address")
            }
            K::Format { format } => {
                format!("string {found} is invalid against requested {format} format")
            }
            K::MinProperties { limit } => format!(
                "object has too few properties (found {} but schema requires at least {limit})",
                found.as_object().map(|o| o.len()).unwrap_or(0)
            ),
            K::MaxProperties { limit } => format!(
                "object has too many properties (found {} but schema requires at most {limit})",
                found.as_object().map(|o| o.len()).unwrap_or(0)
            ),
            K::MultipleOf { multiple_of } => {
                format!("remainder of division is not zero ({found} / {multiple_of})")
            }
            _ => e.to_string(),
        };
        messages.push(msg);
    }
    let mut all: Vec<String> = missing
        .into_iter()
        .map(|(_, mut names)| {
            names.sort();
            format!(
                "object has missing required properties ({})",
                serde_json::to_string(&names).unwrap_or_default()
            )
        })
        .collect();
    all.extend(messages);
    format!("[{}]", all.join(", "))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn allowed_types(kind: &jsonschema::error::TypeKind) -> String {
    use jsonschema::error::TypeKind;
    let names: Vec<String> = match kind {
        TypeKind::Single(t) => vec![t.to_string()],
        TypeKind::Multiple(ts) => ts.iter().map(|t| t.to_string()).collect(),
    };
    serde_json::to_string(&names).unwrap_or_default()
}

fn str_len(v: &Value) -> usize {
    v.as_str().map(|s| s.chars().count()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_model::Model;

    fn model(name: &str, schema: &str) -> Model {
        Model {
            id: name.to_lowercase(),
            name: name.into(),
            description: None,
            schema: Some(schema.into()),
            content_type: "application/json".into(),
        }
    }

    fn validation(required: &[(&str, bool)], models: &[Model]) -> RequestValidation {
        let mut method = Method::new("POST");
        for (k, v) in required {
            method.request_parameters.insert((*k).into(), *v);
        }
        method
            .request_models
            .insert("application/json".into(), "Pet".into());
        method.request_validator_id = Some("v1".into());
        let validators = [RequestValidator {
            id: "v1".into(),
            name: Some("all".into()),
            validate_request_body: true,
            validate_request_parameters: true,
        }];
        let mut set = ModelSet::new(models);
        RequestValidation::compile(&method, &validators, "/pets/{id}", &mut set, &mut |w| {
            panic!("{w}")
        })
        .unwrap()
    }

    #[test]
    fn missing_parameters_in_aws_order() {
        let v = validation(
            &[
                ("method.request.querystring.qs1", true),
                ("method.request.header.x-header-param", true),
                ("method.request.path.id", true),
                ("method.request.querystring.optional", false),
            ],
            &[model("Pet", r#"{"type":"object"}"#)],
        );
        let h = http::HeaderMap::new();
        assert_eq!(
            v.check_parameters(&h, None),
            Some(Invalid::Parameters(vec![
                "x-header-param".into(),
                "qs1".into()
            ]))
        );
        let mut h = http::HeaderMap::new();
        h.insert("X-Header-Param", "1".parse().unwrap());
        assert_eq!(v.check_parameters(&h, Some("a=1&qs1")), None);
        assert_eq!(
            v.check_parameters(&h, Some("qs10=1")),
            Some(Invalid::Parameters(vec!["qs1".into()]))
        );
    }

    #[test]
    fn body_messages_read_like_aws() {
        let pet = r#"{"$schema":"http://json-schema.org/draft-04/schema#","type":"object",
            "required":["name","price"],
            "properties":{"name":{"type":"string","minLength":2},"price":{"type":"number","minimum":1},
            "tag":{"$ref":"https://apigateway.amazonaws.com/restapis/abc/models/Tag"}}}"#;
        let tag = r#"{"type":"string","pattern":"^[a-z]+$"}"#;
        let v = validation(&[], &[model("Pet", pet), model("Tag", tag)]);
        assert_eq!(
            v.check_body(None, b""),
            Some(Invalid::Body(
                r#"[object has missing required properties (["name","price"])]"#.into()
            ))
        );
        assert_eq!(
            v.check_body(
                Some("application/json"),
                br#"{"name":"ab","price":2,"tag":"x"}"#
            ),
            None
        );
        assert_eq!(
            v.check_body(None, br#"{"name":"a","price":"2"}"#),
            Some(Invalid::Body(
                r#"[string "a" is too short (length: 1, required minimum: 2), instance type (string) does not match any allowed primitive type (allowed: ["number"])]"#.into()
            ))
        );
        assert_eq!(
            v.check_body(None, br#"{"name":"ab","price":2,"tag":"X1"}"#),
            Some(Invalid::Body(
                r#"[ECMA 262 regex "^[a-z]+$" does not match input string "X1"]"#.into()
            ))
        );
        assert!(matches!(
            v.check_body(None, b"{not json"),
            Some(Invalid::Body(_))
        ));
        // No model for this content type and no $default: not validated.
        assert_eq!(v.check_body(Some("text/plain"), b"anything"), None);
    }

    /// Fuzzing (`fuzz/corpus/gateway_templates/regression-timeout-relative-model-ref`): a model
    /// whose `$ref` is relative and ends in its own name was fetched again under a longer URI at
    /// every step (the reference resolves against the URI the model was fetched from), so
    /// compiling it never ended and memory grew.
    #[test]
    fn relative_self_references_do_not_loop() {
        let started = std::time::Instant::now();
        let mut set = ModelSet::new(&[
            model("Pet", r#"{"$ref": "a/models/Pet"}"#),
            model(
                "Tag",
                r#"{"type": "object", "properties": {"p": {"$ref": "x/models/Pet"}}}"#,
            ),
        ]);
        // jsonschema reports the first reference it could not resolve.
        assert!(set.get("Pet").unwrap_err().contains("a/models/Pet"));
        assert!(set.get("Tag").unwrap_err().contains("a/models/Pet"));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        // References between models still resolve.
        let mut set = ModelSet::new(&[
            model(
                "Pet",
                r#"{"properties": {"t": {"$ref": "https://x/models/Tag"}}}"#,
            ),
            model("Tag", r#"{"type": "string"}"#),
        ]);
        assert!(set.get("Pet").is_ok());
    }

    #[test]
    fn redos_patterns_run_in_linear_time() {
        let v = validation(
            &[],
            &[model(
                "Pet",
                r#"{"type":"object","properties":{"s":{"type":"string","pattern":"^(a+)+$"}}}"#,
            )],
        );
        let evil = format!(r#"{{"s":"{}!"}}"#, "a".repeat(100_000));
        let started = std::time::Instant::now();
        assert!(v.check_body(None, evil.as_bytes()).is_some());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
