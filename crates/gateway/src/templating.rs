//! API Gateway's objects for mapping templates: `$input`, `$util`, `$context`, `$stageVariables`
//! on top of the Velocity engine (`portico-vtl`) and Jayway JSONPath (`portico-jsonpath`).

use portico_vtl::{Object, Value};
use std::sync::Arc;

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
    /// `$context` as JSON.
    pub context: serde_json::Value,
    /// `$stageVariables`.
    pub stage_variables: serde_json::Value,
    /// `$context.requestOverride` / `responseOverride` as an earlier template of the same request
    /// left them (replacing the empty maps of `context`).
    pub overrides: Option<crate::mapping::OverrideState>,
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

#[derive(Debug)]
struct Input {
    inputs: Arc<TemplateInputs>,
}

impl Input {
    fn body_json(&self) -> Result<serde_json::Value, String> {
        if self.inputs.body.is_empty() {
            return Ok(serde_json::Value::Object(Default::default()));
        }
        serde_json::from_slice(&self.inputs.body).or_else(|e| {
            // API Gateway's parser is lenient: text that does not open an object or an array
            // reads as a string (recorded: `$input.json('$')` of `a=b` is `"a=b"`, and a path
            // into `not json` selects nothing). Broken JSON objects and arrays are a 400.
            let text = String::from_utf8_lossy(&self.inputs.body);
            match text.trim_start().chars().next() {
                Some('{' | '[') | None => Err(format!("{BODY_NOT_JSON}{e}")),
                Some(_) => Ok(serde_json::Value::String(text.into_owned())),
            }
        })
    }

    fn query_path(&self, args: &[Value]) -> Result<Option<serde_json::Value>, String> {
        let path = args
            .first()
            .map(|a| a.render())
            .unwrap_or_else(|| "$".into());
        let compiled = portico_jsonpath::compile(&path).map_err(|e| e.to_string())?;
        let doc = self.body_json()?;
        portico_jsonpath::query_with_budget(&compiled, &doc, &portico_jsonpath::Budget::default())
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

/// Reorders every object of `value` the way a `java.util.HashMap` filled with its keys iterates
/// them: AWS's `$context` (and `identity`, `requestOverride`, ...) are HashMaps, so
/// `$context.keySet()` walks buckets in order of the spread hash; keys sharing a bucket keep their
/// order. The table starts at 16 and doubles while the entries exceed three quarters of it.
fn java_hash_map_order(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut capacity = 16usize;
            while map.len() * 4 > capacity * 3 {
                capacity *= 2;
            }
            let mut entries: Vec<(usize, (String, serde_json::Value))> = map
                .into_iter()
                .map(|(k, v)| {
                    let h = java_string_hash(&k);
                    let bucket = ((h ^ (h >> 16)) as usize) & (capacity - 1);
                    (bucket, (k, java_hash_map_order(v)))
                })
                .collect();
            // A stable sort: keys of one bucket stay in insertion order.
            entries.sort_by_key(|(bucket, _)| *bucket);
            serde_json::Value::Object(entries.into_iter().map(|(_, kv)| kv).collect())
        }
        other => other,
    }
}

/// The Velocity context for one rendering.
pub fn context(inputs: TemplateInputs) -> portico_vtl::Context {
    let inputs = Arc::new(inputs);
    let mut ctx = portico_vtl::Context::new();
    // `$context`'s nested maps print as nothing on AWS (recorded): QuietMaps.
    let mut context = Value::from_json_quiet_nested(java_hash_map_order(inputs.context.clone()));
    if let (Some(carried), Value::Map(m)) = (&inputs.overrides, &mut context) {
        m.insert("requestOverride".into(), carried.request.clone());
        m.insert("responseOverride".into(), carried.response.clone());
    }
    ctx.insert("context", context);
    ctx.insert(
        "stageVariables",
        Value::from(inputs.stage_variables.clone()),
    );
    ctx.insert("util", Value::Object(Arc::new(Util)));
    ctx.insert("input", Value::Object(Arc::new(Input { inputs })));
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
            context: serde_json::json!({"requestId": "rid", "stage": "dev"}),
            stage_variables: serde_json::json!({"env": "test"}),
            overrides: None,
        };
        t.render(&mut context(inputs), &portico_vtl::Limits::default())
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
}
