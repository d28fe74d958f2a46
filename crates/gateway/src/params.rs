//! Parameter mapping sources (`requestParameters` of integrations, `responseParameters` of
//! integration responses), parsed at deploy time and evaluated per request.
//!
//! Sources API Gateway accepts: `'literal'`, `stageVariables.x` (resolved at deploy),
//! `context.x.y`, `method.request.{header,multivalueheader,querystring,multivaluequerystring,
//! path}.x`, `method.request.body[.JSONPath]` and, in responses,
//! `integration.response.{header,multivalueheader}.x` and `integration.response.body[.JSONPath]`.

use http::{HeaderMap, HeaderName};
use portico_model::Map;
use std::sync::Arc;
use std::sync::OnceLock as OnceCell;

/// Where a mapped value comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A literal, or a stage variable resolved at deploy time.
    Literal(String),
    /// `method.request.header.X` (the last value).
    Header(HeaderName),
    /// `method.request.multivalueheader.X` (all values, comma-joined).
    MultiHeader(HeaderName),
    /// `method.request.querystring.X` (the last value).
    Query(String),
    /// `method.request.multivaluequerystring.X` (all values, comma-joined).
    MultiQuery(String),
    /// `method.request.path.X`.
    Path(String),
    /// `method.request.body` (whole) or `method.request.body.JSONPath`.
    Body(Option<Arc<portico_jsonpath::JsonPath>>),
    /// `context.a.b`.
    Context(Vec<String>),
    /// `integration.response.header.X`.
    IntegrationHeader(HeaderName),
    /// `integration.response.multivalueheader.X`.
    IntegrationMultiHeader(HeaderName),
    /// `integration.response.body` (whole) or `integration.response.body.JSONPath`.
    IntegrationBody(Option<Arc<portico_jsonpath::JsonPath>>),
}

/// Which side of the integration a mapping belongs to (decides which sources are legal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `integration.request.*` destinations.
    Request,
    /// `method.response.header.*` destinations.
    Response,
}

impl Source {
    /// Parses a mapping expression; the error says why it cannot be used.
    pub fn parse(src: &str, stage_variables: &Map<String>, side: Side) -> Result<Self, String> {
        let src = src.trim();
        if let Some(l) = src.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            return Ok(Self::Literal(l.to_owned()));
        }
        if let Some(v) = src.strip_prefix("stageVariables.") {
            return Ok(Self::Literal(
                stage_variables.get(v).cloned().unwrap_or_default(),
            ));
        }
        if let Some(path) = src.strip_prefix("context.") {
            return Ok(Self::Context(path.split('.').map(str::to_owned).collect()));
        }
        let header = |n: &str| {
            HeaderName::from_bytes(n.as_bytes()).map_err(|_| format!("invalid header name {n}"))
        };
        let body_path = |rest: &str| -> Result<Option<Arc<portico_jsonpath::JsonPath>>, String> {
            if rest.is_empty() {
                return Ok(None);
            }
            let expr = rest
                .strip_prefix('.')
                .ok_or_else(|| format!("invalid body expression {src}"))?;
            let jp = portico_jsonpath::compile(&format!("$.{expr}"))
                .map_err(|e| format!("invalid JSONPath in {src}: {e}"))?;
            Ok(Some(Arc::new(jp)))
        };
        if let Some(rest) = src.strip_prefix("method.request.") {
            if let Some(rest) = rest.strip_prefix("body") {
                return body_path(rest).map(Self::Body);
            }
            let (location, name) = rest
                .split_once('.')
                .ok_or_else(|| format!("invalid mapping expression {src}"))?;
            return match location {
                "header" => header(name).map(Self::Header),
                "multivalueheader" => header(name).map(Self::MultiHeader),
                "querystring" => Ok(Self::Query(name.to_owned())),
                "multivaluequerystring" => Ok(Self::MultiQuery(name.to_owned())),
                "path" => Ok(Self::Path(name.to_owned())),
                _ => Err(format!("invalid mapping expression {src}")),
            };
        }
        if let Some(rest) = src.strip_prefix("integration.response.") {
            if side == Side::Request {
                return Err(format!("{src} can only be used in integration responses"));
            }
            if let Some(rest) = rest.strip_prefix("body") {
                return body_path(rest).map(Self::IntegrationBody);
            }
            return match rest.split_once('.') {
                Some(("header", n)) => header(n).map(Self::IntegrationHeader),
                Some(("multivalueheader", n)) => header(n).map(Self::IntegrationMultiHeader),
                _ => Err(format!("invalid mapping expression {src}")),
            };
        }
        Err(format!("invalid mapping expression {src}"))
    }

    /// Whether evaluating needs the client's body.
    pub fn reads_request_body(&self) -> bool {
        matches!(self, Self::Body(_))
    }

    /// Whether evaluating needs the backend's body.
    pub fn reads_integration_body(&self) -> bool {
        matches!(self, Self::IntegrationBody(_))
    }
}

/// What sources read, for one request.
pub struct Env<'a> {
    /// Client headers.
    pub headers: &'a HeaderMap,
    /// Client query string (raw).
    pub query: Option<&'a str>,
    /// Path parameters.
    pub path: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// The client body, when read.
    pub body: Option<&'a [u8]>,
    /// `$context`, built on first use.
    pub context: &'a (dyn Fn() -> serde_json::Value + Sync),
    /// Backend headers (responses only).
    pub integration_headers: Option<&'a HeaderMap>,
    /// Backend body, when read (responses only).
    pub integration_body: Option<&'a [u8]>,
    /// Parsed JSON bodies, once.
    pub parsed: ParsedBodies,
}

/// Bodies parsed as JSON at most once per request.
#[derive(Default)]
pub struct ParsedBodies {
    request: OnceCell<Option<serde_json::Value>>,
    integration: OnceCell<Option<serde_json::Value>>,
    context: OnceCell<serde_json::Value>,
}

impl Env<'_> {
    /// The value of `source`, `None` when absent.
    pub fn eval(&self, source: &Source) -> Option<String> {
        match source {
            Source::Literal(l) => Some(l.clone()),
            Source::Header(h) => self
                .headers
                .get_all(h)
                .iter()
                .next_back()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            Source::MultiHeader(h) => joined(self.headers, h),
            Source::Query(q) => query_values(self.query, q).pop(),
            Source::MultiQuery(q) => {
                let all = query_values(self.query, q);
                (!all.is_empty()).then(|| all.join(","))
            }
            Source::Path(p) => (self.path)(p),
            Source::Body(path) => body_value(self.body, path.as_deref(), &self.parsed.request),
            Source::Context(path) => {
                let ctx = self.parsed.context.get_or_init(|| (self.context)());
                let mut node = ctx;
                for seg in path {
                    node = node.get(seg)?;
                }
                match node {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                }
            }
            Source::IntegrationHeader(h) => self
                .integration_headers?
                .get_all(h)
                .iter()
                .next_back()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            Source::IntegrationMultiHeader(h) => joined(self.integration_headers?, h),
            Source::IntegrationBody(path) => body_value(
                self.integration_body,
                path.as_deref(),
                &self.parsed.integration,
            ),
        }
    }
}

fn joined(headers: &HeaderMap, h: &HeaderName) -> Option<String> {
    let all: Vec<String> = headers
        .get_all(h)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!all.is_empty()).then(|| all.join(","))
}

/// Every value of a query parameter, decoded, in order.
pub fn query_values(query: Option<&str>, name: &str) -> Vec<String> {
    let dec = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .filter(|(k, _)| dec(k) == name)
        .map(|(_, v)| dec(v))
        .collect()
}

fn body_value(
    body: Option<&[u8]>,
    path: Option<&portico_jsonpath::JsonPath>,
    parsed: &OnceCell<Option<serde_json::Value>>,
) -> Option<String> {
    let body = body?;
    let Some(path) = path else {
        return Some(String::from_utf8_lossy(body).into_owned());
    };
    let doc = parsed
        .get_or_init(|| serde_json::from_slice(body).ok())
        .as_ref()?;
    let v = portico_jsonpath::query_with_budget(path, doc, &portico_jsonpath::Budget::default())
        .ok()
        .flatten()?;
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_evaluate() {
        let vars = Map::from([("env".to_string(), "prod".to_string())]);
        let p = |s: &str| Source::parse(s, &vars, Side::Response).unwrap();
        let mut headers = HeaderMap::new();
        headers.append("x-a", "1".parse().unwrap());
        headers.append("x-a", "2".parse().unwrap());
        let mut up = HeaderMap::new();
        up.insert("x-up", "u".parse().unwrap());
        let path = |n: &str| (n == "id").then(|| "7".to_string());
        let ctx = || serde_json::json!({"stage": "dev", "identity": {"sourceIp": "1.2.3.4"}});
        let env = Env {
            headers: &headers,
            query: Some("q=a&q=b%20c&r=1"),
            path: &path,
            body: Some(br#"{"pet": {"name": "rex", "age": 3}, "tags": ["x"]}"#),
            context: &ctx,
            integration_headers: Some(&up),
            integration_body: Some(br#"{"id": "i-1"}"#),
            parsed: ParsedBodies::default(),
        };
        let e = |s: &str| env.eval(&p(s));
        assert_eq!(e("'lit'").as_deref(), Some("lit"));
        assert_eq!(e("stageVariables.env").as_deref(), Some("prod"));
        assert_eq!(e("method.request.header.X-A").as_deref(), Some("2"));
        assert_eq!(
            e("method.request.multivalueheader.x-a").as_deref(),
            Some("1,2")
        );
        assert_eq!(e("method.request.querystring.q").as_deref(), Some("b c"));
        assert_eq!(
            e("method.request.multivaluequerystring.q").as_deref(),
            Some("a,b c")
        );
        assert_eq!(e("method.request.path.id").as_deref(), Some("7"));
        assert_eq!(e("method.request.body.pet.name").as_deref(), Some("rex"));
        assert_eq!(e("method.request.body.pet.age").as_deref(), Some("3"));
        assert_eq!(e("method.request.body.tags").as_deref(), Some("[\"x\"]"));
        assert_eq!(e("method.request.body.nope"), None);
        assert_eq!(e("context.identity.sourceIp").as_deref(), Some("1.2.3.4"));
        assert_eq!(e("integration.response.header.X-Up").as_deref(), Some("u"));
        assert_eq!(e("integration.response.body.id").as_deref(), Some("i-1"));
        assert_eq!(
            e("integration.response.body").as_deref(),
            Some(r#"{"id": "i-1"}"#)
        );
        assert!(Source::parse("integration.response.body", &vars, Side::Request).is_err());
        assert!(Source::parse("method.request.cookie.x", &vars, Side::Request).is_err());
        assert!(Source::parse("nonsense", &vars, Side::Request).is_err());
    }
}
