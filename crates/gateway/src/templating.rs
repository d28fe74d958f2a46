//! API Gateway's objects for mapping templates: `$input`, `$util`, `$context`, `$stageVariables`
//! on top of the Velocity engine (`portico-vtl`) and Jayway JSONPath (`portico-jsonpath`).

use crate::steps::authorizer::AuthorizerValue;
use portico_vtl::{Object, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

/// What a template may read about the request.
#[derive(Debug, Clone, Default)]
pub struct TemplateInputs {
    /// `$input.body` (request body for request templates, backend body for response templates).
    pub body: bytes::Bytes,
    /// Path parameters.
    pub path: Vec<(String, String)>,
    /// Query string parameters (last value wins, as `$input.params()` shows).
    pub query: Vec<(String, String)>,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// `$context`, its maps in AWS's order ([`context_value`], [`RequestContext::to_value`]).
    pub context: Value,
    /// `$stageVariables`, built when the stage is compiled ([`stage_variables`]).
    pub stage_variables: Arc<Value>,
    /// `$context.requestOverride` / `responseOverride` as an earlier template of the same request
    /// left them (replacing the empty maps of `context`).
    pub overrides: Option<crate::mapping::OverrideState>,
}

/// `$stageVariables` as templates see it: built once per stage, copied into each rendering
/// (a template may `#set` into it).
pub fn stage_variables(vars: &portico_model::Map<String>) -> Arc<Value> {
    Arc::new(Value::Map(
        vars.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    ))
}

fn pairs_json(pairs: &[(String, String)]) -> serde_json::Value {
    serde_json::Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    )
}

/// How `$input.json` / `$input.path` fail on a body that is not JSON: AWS's words, then the
/// parser's (AWS's come from Jackson, Portico's from serde_json).
pub(crate) const BODY_NOT_JSON: &str =
    "Could not parse request body into json: Could not parse payload into json: ";

/// The JSONPaths of a template compiled at deploy time: the string literals its
/// `$input.json(..)` / `$input.path(..)` calls pass (paths that do not compile are left out;
/// they fail when rendered, as before).
#[derive(Debug, Default)]
pub struct JsonPaths(HashMap<String, Arc<portico_jsonpath::JsonPath>>);

impl JsonPaths {
    /// The paths `template` passes as literals.
    pub fn of(template: &portico_vtl::Template) -> Self {
        Self(
            template
                .literal_arguments("input", &["json", "path"])
                .into_iter()
                .filter_map(|p| {
                    let compiled = portico_jsonpath::compile(&p).ok()?;
                    Some((p, Arc::new(compiled)))
                })
                .collect(),
        )
    }

    /// How many paths were compiled.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Paths built from runtime values that one rendering keeps compiled (a loop over
/// `$input.json("$.items[$i]")` compiles each distinct path once); beyond this many, a new path
/// is compiled for each use.
const RENDER_PATH_CACHE: usize = 256;

#[derive(Debug)]
struct Input {
    inputs: TemplateInputs,
    /// Compiled at deploy time.
    paths: Arc<JsonPaths>,
    /// Compiled during this rendering.
    more_paths: Mutex<HashMap<String, Arc<portico_jsonpath::JsonPath>>>,
    /// The body as JSON, parsed on first use by `$input.json` / `$input.path`.
    json: OnceLock<Result<serde_json::Value, String>>,
}

#[cfg(test)]
thread_local! {
    /// Bodies parsed as JSON on this thread (tests check it is one per rendering).
    static BODY_PARSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The body as `$input.json` / `$input.path` read it.
fn parse_body(body: &[u8]) -> Result<serde_json::Value, String> {
    #[cfg(test)]
    BODY_PARSES.with(|n| n.set(n.get() + 1));
    if body.is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    serde_json::from_slice(body).or_else(|e| {
        // API Gateway's parser is lenient: text that does not open an object or an array
        // reads as a string (recorded: `$input.json('$')` of `a=b` is `"a=b"`, and a path
        // into `not json` selects nothing). Broken JSON objects and arrays are a 400.
        let text = String::from_utf8_lossy(body);
        match text.trim_start().chars().next() {
            Some('{' | '[') | None => Err(format!("{BODY_NOT_JSON}{e}")),
            Some(_) => Ok(serde_json::Value::String(text.into_owned())),
        }
    })
}

impl Input {
    fn body_json(&self) -> Result<&serde_json::Value, String> {
        self.json
            .get_or_init(|| parse_body(&self.inputs.body))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The compiled path: prepared at deploy time, compiled earlier in this rendering, or now.
    fn compiled(&self, path: &str) -> Result<Arc<portico_jsonpath::JsonPath>, String> {
        if let Some(p) = self.paths.0.get(path) {
            return Ok(p.clone());
        }
        let mut more = self
            .more_paths
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = more.get(path) {
            return Ok(p.clone());
        }
        let compiled = Arc::new(portico_jsonpath::compile(path).map_err(|e| e.to_string())?);
        if more.len() < RENDER_PATH_CACHE {
            more.insert(path.to_owned(), compiled.clone());
        }
        Ok(compiled)
    }

    fn query_path(&self, args: &[Value]) -> Result<Option<serde_json::Value>, String> {
        let path = match args.first() {
            Some(Value::String(s)) => Cow::Borrowed(s.as_str()),
            Some(other) => Cow::Owned(other.render()),
            None => Cow::Borrowed("$"),
        };
        let compiled = self.compiled(&path)?;
        let doc = self.body_json()?;
        portico_jsonpath::query_with_budget(&compiled, doc, &portico_jsonpath::Budget::default())
            .map_err(|e| e.to_string())
    }
}

impl Object for Input {
    fn get(&self, name: &str) -> Option<Value> {
        match name {
            // An empty payload reads as `{}` on AWS (as `$input.json('$')` does).
            "body" if self.inputs.body.is_empty() => Some(Value::String("{}".into())),
            "body" => Some(Value::String(
                String::from_utf8_lossy(&self.inputs.body).into_owned(),
            )),
            _ => None,
        }
    }

    fn call(&self, method: &str, args: &[Value]) -> Result<Option<Value>, String> {
        match method {
            // `$input.json(path)`: the JSON text of what the path selects.
            // A path that selects nothing gives `""` (seen on AWS's console).
            "json" => Ok(Some(Value::String(match self.query_path(args)? {
                Some(v) => v.to_string(),
                None => "\"\"".into(),
            }))),
            // `$input.path(path)`: the selected value itself.
            "path" => Ok(Some(match self.query_path(args)? {
                Some(v) => Value::from_json_smart(v),
                None => Value::Null,
            })),
            "params" => {
                let i = &self.inputs;
                match args.first() {
                    None => Ok(Some(Value::from(serde_json::json!({
                        "path": pairs_json(&i.path),
                        "querystring": pairs_json(&i.query),
                        "header": pairs_json(&i.headers),
                    })))),
                    Some(name) => {
                        let n = name.render();
                        let found = i
                            .path
                            .iter()
                            .chain(i.query.iter())
                            .find(|(k, _)| *k == n)
                            .or_else(|| i.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(&n)))
                            .map(|(_, v)| Value::String(v.clone()));
                        Ok(Some(found.unwrap_or(Value::String(String::new()))))
                    }
                }
            }
            _ => Ok(None),
        }
    }

    fn render(&self) -> String {
        "$input".into()
    }
}

#[derive(Debug)]
struct Util;

/// JavaScript string escaping as `$util.escapeJavaScript` does it.
pub fn escape_javascript(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            break;
        }
        let v = B64
            .iter()
            .position(|b| *b == c)
            .ok_or_else(|| "Invalid base64 input".to_string())? as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

impl Object for Util {
    fn get(&self, _name: &str) -> Option<Value> {
        None
    }

    fn call(&self, method: &str, args: &[Value]) -> Result<Option<Value>, String> {
        // Every `$util` function maps a null (a missing path, an undefined variable) to null,
        // which renders as nothing: AWS renders `$util.urlEncode($input.body.missing)` as ``.
        let Some(arg) = args.first().filter(|a| !a.is_null()).map(|a| a.render()) else {
            return Ok(None);
        };
        let s = |v: String| Ok(Some(Value::String(v)));
        match method {
            "escapeJavaScript" => s(escape_javascript(&arg)),
            "urlEncode" => s(url_encode(&arg)),
            "urlDecode" => s(percent_encoding::percent_decode_str(&arg.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()),
            "base64Encode" => s(base64_encode(arg.as_bytes())),
            "base64Decode" => s(String::from_utf8_lossy(&base64_decode(&arg)?).into_owned()),
            "parseJson" => serde_json::from_str::<serde_json::Value>(&arg)
                .map(|v| Some(Value::from_json_smart(v)))
                .map_err(|e| format!("Invalid JSON passed to $util.parseJson: {e}")),
            _ => Ok(None),
        }
    }

    fn render(&self) -> String {
        "$util".into()
    }
}

/// `application/x-www-form-urlencoded` encoding, as Java's `URLEncoder` (spaces become `+`).
fn url_encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'*')
        .remove(b' ');
    percent_encoding::utf8_percent_encode(s, SET)
        .to_string()
        .replace(' ', "+")
}

/// `String.hashCode()` as Java computes it (UTF-16 code units).
fn java_string_hash(s: &str) -> u32 {
    s.encode_utf16().fold(0u32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(u32::from(unit))
    })
}

/// Orders entries the way a `java.util.HashMap` filled with them in this order iterates them:
/// AWS's `$context` (and `identity`, `requestOverride`, ...) are HashMaps, so
/// `$context.keySet()` walks buckets in order of the spread hash; keys sharing a bucket keep their
/// order. The table starts at 16 and doubles while the entries exceed three quarters of it.
fn java_order<K: AsRef<str>, T>(entries: impl ExactSizeIterator<Item = (K, T)>) -> Vec<(K, T)> {
    let mut capacity = 16usize;
    while entries.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let mut entries: Vec<(usize, (K, T))> = entries
        .map(|(k, v)| {
            let h = java_string_hash(k.as_ref());
            ((h ^ (h >> 16)) as usize & (capacity - 1), (k, v))
        })
        .collect();
    // A stable sort: keys of one bucket stay in insertion order.
    entries.sort_by_key(|(bucket, _)| *bucket);
    entries.into_iter().map(|(_, kv)| kv).collect()
}

/// Reorders every object of `value` as [`java_order`] does.
fn java_hash_map_order(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            java_order(map.into_iter())
                .into_iter()
                .map(|(k, v)| (k, java_hash_map_order(v)))
                .collect(),
        ),
        other => other,
    }
}

/// `$context` from JSON: its maps reordered as AWS's HashMaps iterate them, the nested ones
/// printing as nothing. (The gateway builds it with [`RequestContext::to_value`]; this is for
/// `$context` given as data, as the conformance suite does.)
pub fn context_value(json: serde_json::Value) -> Value {
    Value::from_json_quiet_nested(java_hash_map_order(json))
}

/// What `$context` says about one request, borrowed from the request and its stage. Built into
/// JSON for mapping sources and gateway responses ([`RequestContext::to_json`]) or straight into
/// the template value, in AWS's order, for mapping templates ([`RequestContext::to_value`]).
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// `requestId` and `extendedRequestId`.
    pub request_id: &'a str,
    /// `apiId`.
    pub api_id: &'a str,
    /// `stage`.
    pub stage: &'a str,
    /// `httpMethod`.
    pub http_method: &'a str,
    /// `resourcePath` (null without a matched route).
    pub resource_path: Option<&'a str>,
    /// `resourceId` (null without a matched route).
    pub resource_id: Option<&'a str>,
    /// `path`.
    pub path: &'a str,
    /// `protocol`.
    pub protocol: &'a str,
    /// `requestTimeEpoch` (milliseconds); `requestTime` is derived from it.
    pub request_time_epoch: u64,
    /// `domainName` (the Host header, or empty); `domainPrefix` is its first label.
    pub domain_name: &'a str,
    /// `identity.sourceIp`.
    pub source_ip: &'a str,
    /// `identity.userAgent`.
    pub user_agent: &'a str,
    /// `accountId`.
    pub account_id: &'a str,
    /// `deploymentId`.
    pub deployment_id: &'a str,
    /// `identity.apiKey` and `identity.apiKeyId`: the key a method that requires one accepted.
    pub api_key: Option<(&'a str, &'a str)>,
    /// `isCanaryRequest`: a key of `$context` only on a stage with a canary (as on AWS).
    pub is_canary_request: Option<bool>,
    /// `identity.clientCert`: a key of `$context.identity` only on a mutual-TLS connection.
    pub client_cert: Option<&'a crate::tls::ClientCert>,
    /// `customDomain.basePathMatched`: `customDomain` is a key of `$context` only for a request
    /// that came through a custom domain.
    pub base_path_matched: Option<&'a str>,
    /// `authorizer`: a key of `$context` only when a Lambda authorizer allowed the request.
    pub authorizer: Option<&'a crate::steps::authorizer::Authorized>,
    /// The verified SigV4 signer of an `AWS_IAM` method (`identity.caller`, `user`, `userArn`,
    /// `accessKey`, `accountId`).
    pub caller: Option<&'a crate::iam::Principal>,
}

/// `$context`'s keys in the order handler code has always filled them: it decides the order of
/// keys sharing a bucket of AWS's HashMap (`domainPrefix` before `requestTimeEpoch`, as AWS has
/// them).
const CONTEXT_KEYS: [&str; 18] = [
    "requestId",
    "extendedRequestId",
    "apiId",
    "stage",
    "httpMethod",
    "resourcePath",
    "resourceId",
    "path",
    "protocol",
    "requestTime",
    "domainPrefix",
    "requestTimeEpoch",
    "domainName",
    "identity",
    "accountId",
    "deploymentId",
    "requestOverride",
    "responseOverride",
];

/// `$context`'s keys on a stage with a canary: [`CONTEXT_KEYS`] and `isCanaryRequest` (where AWS
/// fills it among the others is not recorded; it goes last, which only matters for a key
/// sharing its bucket).
static CONTEXT_KEYS_WITH_CANARY: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| with_keys(&CONTEXT_KEYS, &["isCanaryRequest"]));

/// `$context`'s keys for a request through a custom domain: `customDomain` joins them (last, as
/// `isCanaryRequest`; where AWS fills it is not recorded).
static CONTEXT_KEYS_WITH_DOMAIN: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| with_keys(&CONTEXT_KEYS, &["customDomain"]));
static CONTEXT_KEYS_WITH_CANARY_AND_DOMAIN: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| with_keys(&CONTEXT_KEYS_WITH_CANARY, &["customDomain"]));

/// `$context.identity`'s keys, as recorded on AWS for a method with no API key, no authorizer and
/// no canary: `accessKey` and no `apiKey`/`apiKeyId`. `sourceIp` goes in before
/// `principalOrgId`: they share a bucket of AWS's HashMap, where it comes first.
const IDENTITY_KEYS: [&str; 12] = [
    "accountId",
    "accessKey",
    "caller",
    "cognitoAuthenticationProvider",
    "cognitoAuthenticationType",
    "cognitoIdentityId",
    "cognitoIdentityPoolId",
    "sourceIp",
    "principalOrgId",
    "user",
    "userAgent",
    "userArn",
];

/// `$context.identity`'s keys for a method that requires an API key: `apiKey` and `apiKeyId`
/// join the map (AWS adds them after the others).
static IDENTITY_KEYS_WITH_KEY: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| with_keys(&IDENTITY_KEYS, &["apiKey", "apiKeyId"]));

/// `$context.identity`'s keys on a mutual-TLS connection: `clientCert` joins the map (where AWS
/// fills it among the others is not recorded; it goes last).
static IDENTITY_KEYS_WITH_CERT: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| with_keys(&IDENTITY_KEYS, &["clientCert"]));
static IDENTITY_KEYS_WITH_KEY_AND_CERT: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| with_keys(&IDENTITY_KEYS_WITH_KEY, &["clientCert"]));

/// `keys` followed by `more`: a map's keys when an optional part of the request adds some.
fn with_keys(keys: &[&'static str], more: &[&'static str]) -> Vec<&'static str> {
    keys.iter().chain(more).copied().collect()
}

/// `$context.requestOverride`'s maps.
const REQUEST_OVERRIDE_KEYS: [&str; 3] = ["header", "querystring", "path"];

/// A key list in [`java_order`], computed once.
fn java_ordered(keys: &[&'static str]) -> Vec<&'static str> {
    java_order(keys.iter().map(|k| (*k, ())))
        .into_iter()
        .map(|(k, ())| k)
        .collect()
}

static CONTEXT_ORDER: LazyLock<Vec<&'static str>> = LazyLock::new(|| java_ordered(&CONTEXT_KEYS));
static CONTEXT_WITH_CANARY_ORDER: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| java_ordered(&CONTEXT_KEYS_WITH_CANARY));
static CONTEXT_WITH_DOMAIN_ORDER: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| java_ordered(&CONTEXT_KEYS_WITH_DOMAIN));
static CONTEXT_WITH_CANARY_AND_DOMAIN_ORDER: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| java_ordered(&CONTEXT_KEYS_WITH_CANARY_AND_DOMAIN));
static IDENTITY_ORDER: LazyLock<Vec<&'static str>> = LazyLock::new(|| java_ordered(&IDENTITY_KEYS));
static IDENTITY_WITH_KEY_ORDER: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| java_ordered(&IDENTITY_KEYS_WITH_KEY));
static IDENTITY_WITH_CERT_ORDER: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| java_ordered(&IDENTITY_KEYS_WITH_CERT));
static IDENTITY_WITH_KEY_AND_CERT_ORDER: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| java_ordered(&IDENTITY_KEYS_WITH_KEY_AND_CERT));
static REQUEST_OVERRIDE_ORDER: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| java_ordered(&REQUEST_OVERRIDE_KEYS));

/// A value of `$context`: text, a number, null, or one of its maps.
enum Field<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Int(u64),
    Null,
    Identity,
    CustomDomain(&'a str),
    RequestOverride,
    ResponseOverride,
    Authorizer,
}

impl<'a> RequestContext<'a> {
    fn field(&self, key: &str) -> Field<'a> {
        let s = |v: &'a str| Field::Str(Cow::Borrowed(v));
        match key {
            "requestId" | "extendedRequestId" => s(self.request_id),
            "apiId" => s(self.api_id),
            "stage" => s(self.stage),
            "httpMethod" => s(self.http_method),
            "resourcePath" => self.resource_path.map_or(Field::Null, s),
            "resourceId" => self.resource_id.map_or(Field::Null, s),
            "path" => s(self.path),
            "protocol" => s(self.protocol),
            "requestTime" => Field::Str(Cow::Owned(crate::access_log::clf_time(
                self.request_time_epoch / 1000,
            ))),
            "domainPrefix" => s(self.domain_name.split('.').next().unwrap_or("")),
            "requestTimeEpoch" => Field::Int(self.request_time_epoch),
            "domainName" => s(self.domain_name),
            "identity" => Field::Identity,
            "accountId" => s(self.account_id),
            "deploymentId" => s(self.deployment_id),
            "requestOverride" => Field::RequestOverride,
            "responseOverride" => Field::ResponseOverride,
            "isCanaryRequest" => self.is_canary_request.map_or(Field::Null, Field::Bool),
            "customDomain" => self
                .base_path_matched
                .map_or(Field::Null, Field::CustomDomain),
            "authorizer" if self.authorizer.is_some() => Field::Authorizer,
            _ => Field::Null,
        }
    }

    fn context_keys(&self) -> Cow<'static, [&'static str]> {
        let base = self.base_context_keys();
        match self.authorizer {
            // Routes with an authorizer pay for their own key list.
            Some(_) => Cow::Owned(with_keys(base, &["authorizer"])),
            None => Cow::Borrowed(base),
        }
    }

    fn context_order_of(&self) -> Cow<'static, [&'static str]> {
        match self.authorizer {
            Some(_) => Cow::Owned(java_ordered(&self.context_keys())),
            None => Cow::Borrowed(self.context_order()),
        }
    }

    /// `authorizer`'s entries (`Authorized::entries`).
    fn authorizer_entries(&self) -> Vec<(String, crate::steps::authorizer::AuthorizerValue)> {
        self.authorizer.map(|a| a.entries()).unwrap_or_default()
    }

    fn base_context_keys(&self) -> &'static [&'static str] {
        match (self.is_canary_request, self.base_path_matched) {
            (Some(_), None) => &CONTEXT_KEYS_WITH_CANARY,
            (None, None) => &CONTEXT_KEYS,
            (Some(_), Some(_)) => &CONTEXT_KEYS_WITH_CANARY_AND_DOMAIN,
            (None, Some(_)) => &CONTEXT_KEYS_WITH_DOMAIN,
        }
    }

    fn context_order(&self) -> &'static [&'static str] {
        match (self.is_canary_request, self.base_path_matched) {
            (Some(_), None) => &CONTEXT_WITH_CANARY_ORDER,
            (None, None) => &CONTEXT_ORDER,
            (Some(_), Some(_)) => &CONTEXT_WITH_CANARY_AND_DOMAIN_ORDER,
            (None, Some(_)) => &CONTEXT_WITH_DOMAIN_ORDER,
        }
    }

    fn identity_keys(&self) -> &'static [&'static str] {
        match (self.api_key, self.client_cert) {
            (Some(_), None) => &IDENTITY_KEYS_WITH_KEY,
            (None, None) => &IDENTITY_KEYS,
            (Some(_), Some(_)) => &IDENTITY_KEYS_WITH_KEY_AND_CERT,
            (None, Some(_)) => &IDENTITY_KEYS_WITH_CERT,
        }
    }

    fn identity_order(&self) -> &'static [&'static str] {
        match (self.api_key, self.client_cert) {
            (Some(_), None) => &IDENTITY_WITH_KEY_ORDER,
            (None, None) => &IDENTITY_ORDER,
            (Some(_), Some(_)) => &IDENTITY_WITH_KEY_AND_CERT_ORDER,
            (None, Some(_)) => &IDENTITY_WITH_CERT_ORDER,
        }
    }

    fn identity_field(&self, key: &str) -> Option<&'a str> {
        match key {
            "sourceIp" => Some(self.source_ip),
            "userAgent" => Some(self.user_agent),
            "apiKey" => self.api_key.map(|k| k.0),
            "apiKeyId" => self.api_key.map(|k| k.1),
            "caller" | "user" => self.caller.map(|c| c.user_id.as_str()),
            "userArn" => self.caller.map(|c| c.arn.as_str()),
            "accessKey" => self.caller.map(|c| c.access_key_id.as_str()),
            "accountId" => self.caller.map(|c| c.account_id()),
            _ => None,
        }
    }

    /// `$context` as JSON (insertion order, for lookups by name).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        let empty = || J::Object(Default::default());
        let field = |key: &str| match self.field(key) {
            Field::Str(v) => J::String(v.into_owned()),
            Field::Int(n) => J::from(n),
            Field::Bool(b) => J::Bool(b),
            Field::Null => J::Null,
            Field::Identity => J::Object(
                self.identity_keys()
                    .iter()
                    .map(|k| {
                        let v = match (*k, self.client_cert) {
                            ("clientCert", Some(c)) => c.to_json(),
                            _ => self.identity_field(k).map_or(J::Null, J::from),
                        };
                        ((*k).to_owned(), v)
                    })
                    .collect(),
            ),
            Field::RequestOverride => J::Object(
                REQUEST_OVERRIDE_KEYS
                    .iter()
                    .map(|k| ((*k).to_owned(), empty()))
                    .collect(),
            ),
            Field::ResponseOverride => {
                J::Object([("header".to_owned(), empty())].into_iter().collect())
            }
            Field::CustomDomain(base) => J::Object(
                [("basePathMatched".to_owned(), J::from(base))]
                    .into_iter()
                    .collect(),
            ),
            Field::Authorizer => J::Object(
                self.authorizer_entries()
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            AuthorizerValue::Text(t) => J::String(t),
                            AuthorizerValue::Map(m) => {
                                J::Object(m.into_iter().map(|(k, v)| (k, J::String(v))).collect())
                            }
                        };
                        (k, v)
                    })
                    .collect(),
            ),
        };
        J::Object(
            self.context_keys()
                .iter()
                .map(|k| ((*k).to_owned(), field(k)))
                .collect(),
        )
    }

    /// `$context` for a mapping template: its maps in AWS's order (computed once), the nested
    /// ones printing as nothing — what [`context_value`] makes of [`RequestContext::to_json`],
    /// without the JSON.
    pub fn to_value(&self) -> Value {
        let empty = || Value::QuietMap(Default::default());
        let field = |key: &str| match self.field(key) {
            Field::Str(v) => Value::String(v.into_owned()),
            Field::Int(n) => i64::try_from(n).map_or(Value::Null, Value::Int),
            Field::Bool(b) => Value::Bool(b),
            Field::Null => Value::Null,
            Field::Identity => Value::QuietMap(
                self.identity_order()
                    .iter()
                    .map(|k| {
                        let v = match (*k, self.client_cert) {
                            ("clientCert", Some(c)) => context_value(c.to_json()),
                            _ => self.identity_field(k).map_or(Value::Null, Value::from),
                        };
                        ((*k).to_owned(), v)
                    })
                    .collect(),
            ),
            Field::RequestOverride => Value::QuietMap(
                REQUEST_OVERRIDE_ORDER
                    .iter()
                    .map(|k| ((*k).to_owned(), empty()))
                    .collect(),
            ),
            Field::ResponseOverride => {
                Value::QuietMap([("header".to_owned(), empty())].into_iter().collect())
            }
            Field::CustomDomain(base) => Value::QuietMap(
                [("basePathMatched".to_owned(), Value::from(base))]
                    .into_iter()
                    .collect(),
            ),
            Field::Authorizer => Value::QuietMap(
                java_order(self.authorizer_entries().into_iter())
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            AuthorizerValue::Text(t) => Value::from(t),
                            AuthorizerValue::Map(m) => Value::Map(
                                java_order(m.into_iter())
                                    .into_iter()
                                    .map(|(k, v)| (k, Value::from(v)))
                                    .collect(),
                            ),
                        };
                        (k, v)
                    })
                    .collect(),
            ),
        };
        Value::Map(
            self.context_order_of()
                .iter()
                .map(|k| ((*k).to_owned(), field(k)))
                .collect(),
        )
    }
}

/// The Velocity context for one rendering; `paths` are the template's JSONPaths compiled at
/// deploy time. Nothing here copies: `$context` and the carried override maps move in.
pub fn context(mut inputs: TemplateInputs, paths: &Arc<JsonPaths>) -> portico_vtl::Context {
    let mut ctx = portico_vtl::Context::new();
    let mut context = std::mem::take(&mut inputs.context);
    if let Some(carried) = inputs.overrides.take()
        && let Value::Map(m) = &mut context
    {
        m.insert("requestOverride".into(), carried.request);
        m.insert("responseOverride".into(), carried.response);
    }
    ctx.insert("context", context);
    ctx.insert("stageVariables", Value::clone(&inputs.stage_variables));
    ctx.insert("util", Value::Object(Arc::new(Util)));
    ctx.insert(
        "input",
        Value::Object(Arc::new(Input {
            inputs,
            paths: paths.clone(),
            more_paths: Mutex::default(),
            json: OnceLock::new(),
        })),
    );
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_maps_iterate_in_java_hash_map_order() {
        // The order AWS's $context.keySet() gave for these keys (LocalStack's recording,
        // test_apigateway_sqs.snapshot.json, test_sqs_amz_json_protocol).
        let aws = [
            "resourceId",
            "resourcePath",
            "httpMethod",
            "extendedRequestId",
            "requestTime",
            "path",
            "accountId",
            "protocol",
            "requestOverride",
            "stage",
            "domainPrefix",
            "requestTimeEpoch",
            "requestId",
            "identity",
            "domainName",
            "deploymentId",
            "responseOverride",
            "apiId",
        ];
        // Inserted in the order handler.rs fills $context.
        let filled = [
            "requestId",
            "extendedRequestId",
            "apiId",
            "stage",
            "httpMethod",
            "resourcePath",
            "resourceId",
            "path",
            "protocol",
            "requestTime",
            "domainPrefix",
            "requestTimeEpoch",
            "domainName",
            "identity",
            "accountId",
            "deploymentId",
            "requestOverride",
            "responseOverride",
        ];
        let obj: serde_json::Map<String, serde_json::Value> = filled
            .iter()
            .map(|k| ((*k).to_owned(), serde_json::Value::Null))
            .collect();
        let ordered = java_hash_map_order(serde_json::Value::Object(obj));
        let keys: Vec<&str> = ordered
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, aws);
        assert_eq!(java_string_hash("apiId"), 93_021_397);
    }

    fn render(src: &str, body: &str) -> String {
        let t = portico_vtl::parse(src).unwrap();
        let inputs = TemplateInputs {
            body: bytes::Bytes::from(body.to_owned()),
            path: vec![("id".into(), "7".into())],
            query: vec![("q".into(), "x y".into())],
            headers: vec![("X-Client".into(), "c".into())],
            context: context_value(serde_json::json!({"requestId": "rid", "stage": "dev"})),
            stage_variables: stage_variables(&[("env".to_owned(), "test".to_owned())].into()),
            overrides: None,
        };
        let paths = Arc::new(JsonPaths::of(&t));
        t.render(
            &mut context(inputs, &paths),
            &portico_vtl::Limits::default(),
        )
        .unwrap()
    }

    #[test]
    fn input_util_context_and_stage_variables() {
        let body = r#"{"name": "rex", "tags": ["a", "b"], "n": 3}"#;
        assert_eq!(render("$input.json('$.name')", body), "\"rex\"");
        assert_eq!(render("$input.path('$.name')", body), "rex");
        assert_eq!(render("$input.path('$.tags').size()", body), "2");
        assert_eq!(render("$input.json('$')", "{}"), "{}");
        assert_eq!(
            render(
                "$input.params('id') $input.params('q') $input.params('X-Client')",
                ""
            ),
            "7 x y c"
        );
        assert_eq!(render("$input.params().path.id", ""), "7");
        assert_eq!(
            render("$context.requestId/$context.stage/$stageVariables.env", ""),
            "rid/dev/test"
        );
        assert_eq!(
            render("$util.escapeJavaScript('say \"hi\"')", ""),
            "say \\\"hi\\\""
        );
        assert_eq!(escape_javascript("it's/\n"), "it\\'s\\/\\n");
        assert_eq!(render("$util.urlEncode('a b&c')", ""), "a+b%26c");
        assert_eq!(render("$util.urlDecode('a+b%26c')", ""), "a b&c");
        assert_eq!(render("$util.base64Encode('hello')", ""), "aGVsbG8=");
        assert_eq!(render("$util.base64Decode('aGVsbG8=')", ""), "hello");
        assert_eq!(
            render("#set($o = $util.parseJson('{\"k\": 1}'))$o.k", ""),
            "1"
        );
        assert_eq!(render("$input.body", "raw"), "raw");
    }

    #[test]
    fn the_body_is_parsed_once_per_rendering() {
        let body = r#"{"a": {"b": [1, 2]}, "n": 3}"#;
        let src = concat!(
            "#foreach($i in [1..20])$input.json('$.a')$input.path('$.a.b').size()",
            "$input.json(\"$.a.b[$i]\")$input.path('$.missing')#end$input.body"
        );
        let parses = || BODY_PARSES.with(std::cell::Cell::get);
        let before = parses();
        let out = render(src, body);
        assert_eq!(parses() - before, 1, "one parse for 80 reads of the body");
        assert!(out.starts_with(r#"{"b":[1,2]}22{"b":[1,2]}2"""#), "{out}");
        assert!(out.ends_with(body));
        // A template that never reads the body as JSON does not parse it.
        let before = parses();
        assert_eq!(render("$input.body", "{broken"), "{broken");
        assert_eq!(parses(), before);
    }

    #[test]
    fn literal_paths_compile_with_the_template() {
        let t = portico_vtl::parse(
            "$input.json('$.a') $input.path(\"$['b']\") $input.json('$.a') $input.json('$[') $input.json($p)",
        )
        .unwrap();
        let paths = JsonPaths::of(&t);
        // `$[` does not compile: it fails when rendered, as it always did.
        assert_eq!(paths.len(), 2);
        assert!(paths.0.contains_key("$.a") && paths.0.contains_key("$['b']"));
    }

    /// Every map of `v`, keys in order, as text (order matters, unlike `==` on maps).
    fn shape(v: &Value) -> String {
        match v {
            Value::Map(m) | Value::QuietMap(m) => {
                let kind = if matches!(v, Value::Map(_)) {
                    "map"
                } else {
                    "quiet"
                };
                let inner: Vec<String> =
                    m.iter().map(|(k, v)| format!("{k}={}", shape(v))).collect();
                format!("{kind}{{{}}}", inner.join(","))
            }
            Value::Int(i) => format!("int:{i}"),
            Value::Null => "null".into(),
            other => format!("{:?}", other.render()),
        }
    }

    #[test]
    fn context_built_directly_equals_context_from_json() {
        let mut c = RequestContext {
            request_id: "rid",
            api_id: "api",
            stage: "dev",
            http_method: "POST",
            resource_path: Some("/pets/{id}"),
            resource_id: Some("r1"),
            path: "/dev/pets/7",
            protocol: "HTTP/1.1",
            request_time_epoch: 1_700_000_000_123,
            domain_name: "api.execute-api.localhost",
            source_ip: "1.2.3.4",
            user_agent: "curl/8",
            account_id: "000000000000",
            deployment_id: "d1",
            api_key: None,
            is_canary_request: None,
            client_cert: None,
            base_path_matched: None,
            authorizer: None,
            caller: None,
        };
        assert_eq!(shape(&c.to_value()), shape(&context_value(c.to_json())));
        c.resource_path = None;
        c.resource_id = None;
        c.domain_name = "";
        assert_eq!(shape(&c.to_value()), shape(&context_value(c.to_json())));
        assert!(shape(&c.to_value()).starts_with("map{resourceId=null,resourcePath=null,"));
        c.api_key = Some(("k".repeat(20).leak(), "kid"));
        assert_eq!(shape(&c.to_value()), shape(&context_value(c.to_json())));
        let json = c.to_json();
        assert_eq!(json["identity"]["apiKeyId"], "kid");
        assert!(json.get("isCanaryRequest").is_none());
        c.is_canary_request = Some(true);
        assert_eq!(shape(&c.to_value()), shape(&context_value(c.to_json())));
        assert_eq!(c.to_json()["isCanaryRequest"], true);
        c.is_canary_request = Some(false);
        assert_eq!(c.to_json()["isCanaryRequest"], false);
    }
}
