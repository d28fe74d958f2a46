//! HTTP API parameter mapping: an integration's `requestParameters` change the request on its way
//! to the backend (`overwrite:`/`append:`/`remove:` on `header.X` and `querystring.X`,
//! `overwrite:path`), its `responseParameters` change the backend's answer per status code
//! (`header.X`, `overwrite:statuscode`). Values are a static text, one `$source`, or text with
//! `${source}`s: `$request.header.X`, `$request.querystring.X`, `$request.body.X` (JSONPath),
//! `$request.path`, `$request.path.X`, `$context.X`, `$stageVariables.X`, and in responses
//! `$response.header.X`, `$response.body.X`. Parsed once when the stage compiles.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use portico_model::Map;
use serde_json::Value;
use std::sync::Arc;

/// Where a value comes from.
#[derive(Debug, Clone)]
enum Source {
    Header(HeaderName),
    Query(String),
    Body(Arc<portico_jsonpath::JsonPath>),
    Path,
    PathParam(String),
    Context(String),
    StageVariable(String),
    ResponseHeader(HeaderName),
    ResponseBody(Arc<portico_jsonpath::JsonPath>),
}

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Var(Source),
}

/// A mapping value: text and sources.
#[derive(Debug, Clone)]
struct Template(Vec<Piece>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Overwrite,
    Append,
    Remove,
}

#[derive(Debug, Clone)]
enum Target {
    Header(HeaderName),
    Query(String),
    Path,
    StatusCode,
}

#[derive(Debug, Clone)]
struct Rule {
    op: Op,
    target: Target,
    value: Template,
}

/// The mappings of one integration.
#[derive(Debug, Default)]
pub(crate) struct Mappings {
    request: Vec<Rule>,
    /// Status code → rules.
    response: Vec<(u16, Vec<Rule>)>,
    /// Whether a request rule reads the request body.
    pub(crate) reads_body: bool,
    /// Whether a response rule reads the response body.
    pub(crate) reads_response_body: bool,
}

fn source(expr: &str, response: bool) -> Result<Source, String> {
    let jsonpath = |p: &str| {
        portico_jsonpath::compile(&format!("$.{p}"))
            .map(Arc::new)
            .map_err(|e| format!("invalid body path {p}: {e}"))
    };
    let header = |h: &str| {
        HeaderName::from_bytes(h.as_bytes()).map_err(|_| format!("invalid header name {h}"))
    };
    if let Some(h) = expr.strip_prefix("request.header.") {
        return Ok(Source::Header(header(h)?));
    }
    if let Some(q) = expr.strip_prefix("request.querystring.") {
        return Ok(Source::Query(q.to_owned()));
    }
    if let Some(b) = expr.strip_prefix("request.body.") {
        return Ok(Source::Body(jsonpath(b)?));
    }
    if expr == "request.path" {
        return Ok(Source::Path);
    }
    if let Some(p) = expr.strip_prefix("request.path.") {
        return Ok(Source::PathParam(p.to_owned()));
    }
    if let Some(c) = expr.strip_prefix("context.") {
        return Ok(Source::Context(c.to_owned()));
    }
    if let Some(v) = expr.strip_prefix("stageVariables.") {
        return Ok(Source::StageVariable(v.to_owned()));
    }
    if response {
        if let Some(h) = expr.strip_prefix("response.header.") {
            return Ok(Source::ResponseHeader(header(h)?));
        }
        if let Some(b) = expr.strip_prefix("response.body.") {
            return Ok(Source::ResponseBody(jsonpath(b)?));
        }
    }
    Err(format!("unknown mapping source ${expr}"))
}

/// `$source` whole, or text with `${source}`s.
fn template(value: &str, response: bool) -> Result<Template, String> {
    if let Some(expr) = value.strip_prefix('$')
        && !expr.starts_with('{')
        && !expr.contains(['$', ' '])
    {
        return Ok(Template(vec![Piece::Var(source(expr, response)?)]));
    }
    let mut pieces = Vec::new();
    let mut rest = value;
    while let Some(i) = rest.find("${") {
        if i > 0 {
            pieces.push(Piece::Text(rest[..i].to_owned()));
        }
        let after = &rest[i + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed ${{ in mapping value {value}"))?;
        pieces.push(Piece::Var(source(&after[..end], response)?));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Ok(Template(pieces))
}

fn rule(key: &str, value: &str, response: bool) -> Result<Rule, String> {
    let (op, target) = key
        .split_once(':')
        .ok_or_else(|| format!("invalid mapping key {key}"))?;
    let op = match op {
        "overwrite" => Op::Overwrite,
        "append" => Op::Append,
        "remove" => Op::Remove,
        _ => return Err(format!("invalid mapping operation in {key}")),
    };
    let target = if let Some(h) = target.strip_prefix("header.") {
        if portico_model::http::is_reserved_header(h) {
            return Err(format!("header {h} is reserved and cannot be mapped"));
        }
        Target::Header(
            HeaderName::from_bytes(h.as_bytes()).map_err(|_| format!("invalid header {h}"))?,
        )
    } else if let (false, Some(q)) = (response, target.strip_prefix("querystring.")) {
        Target::Query(q.to_owned())
    } else if !response && target == "path" && op == Op::Overwrite {
        Target::Path
    } else if response && target == "statuscode" && op == Op::Overwrite {
        Target::StatusCode
    } else {
        return Err(format!("invalid mapping key {key}"));
    };
    Ok(Rule {
        op,
        target,
        value: template(value, response)?,
    })
}

impl Mappings {
    /// Compiles an integration's `requestParameters` and `responseParameters`.
    pub(crate) fn compile(
        request: Option<&Map<String>>,
        response: Option<&Map<Map<String>>>,
    ) -> Result<Self, String> {
        let mut out = Self::default();
        for (k, v) in request.into_iter().flatten() {
            let r = rule(k, v, false)?;
            out.reads_body |= r.value.reads(|s| matches!(s, Source::Body(_)));
            out.request.push(r);
        }
        for (status, rules) in response.into_iter().flatten() {
            let code: u16 = status
                .parse()
                .map_err(|_| format!("invalid status code {status} in responseParameters"))?;
            let mut list = Vec::new();
            for (k, v) in rules {
                let r = rule(k, v, true)?;
                out.reads_response_body |= r.value.reads(|s| matches!(s, Source::ResponseBody(_)));
                list.push(r);
            }
            out.response.push((code, list));
        }
        Ok(out)
    }

    /// Whether there is nothing to do.
    pub(crate) fn is_empty(&self) -> bool {
        self.request.is_empty() && self.response.is_empty()
    }

    /// Whether responses with `status` are mapped.
    pub(crate) fn maps_response(&self, status: u16) -> bool {
        self.response.iter().any(|(c, _)| *c == status)
    }

    /// Applies the request rules to the request going to the backend: its headers, its query
    /// (rebuilt) and its path (`overwrite:path`, else `path`).
    pub(crate) fn apply_request(
        &self,
        vars: &Vars<'_>,
        headers: &mut HeaderMap,
        query: &mut Vec<(String, String)>,
        path: &mut Option<String>,
    ) {
        for r in &self.request {
            let value = r.value.render(vars, None);
            match (&r.target, r.op) {
                (Target::Header(h), Op::Remove) => {
                    headers.remove(h);
                }
                (Target::Header(h), op) => {
                    let Ok(v) = HeaderValue::from_str(&value) else {
                        continue;
                    };
                    if op == Op::Overwrite {
                        headers.insert(h.clone(), v);
                    } else {
                        headers.append(h.clone(), v);
                    }
                }
                (Target::Query(q), Op::Remove) => query.retain(|(k, _)| k != q),
                (Target::Query(q), Op::Overwrite) => {
                    query.retain(|(k, _)| k != q);
                    query.push((q.clone(), value));
                }
                (Target::Query(q), Op::Append) => query.push((q.clone(), value)),
                (Target::Path, _) => *path = Some(value),
                (Target::StatusCode, _) => {}
            }
        }
    }

    /// Applies the rules for the backend's `status` to its answer.
    pub(crate) fn apply_response(
        &self,
        vars: &Vars<'_>,
        response_body: Option<&Value>,
        status: &mut http::StatusCode,
        headers: &mut HeaderMap,
    ) {
        let Some((_, rules)) = self.response.iter().find(|(c, _)| *c == status.as_u16()) else {
            return;
        };
        let backend_headers = headers.clone();
        let rvars = Vars {
            response_headers: Some(&backend_headers),
            ..*vars
        };
        for r in rules {
            let value = r.value.render(&rvars, response_body);
            match (&r.target, r.op) {
                (Target::Header(h), Op::Remove) => {
                    headers.remove(h);
                }
                (Target::Header(h), op) => {
                    let Ok(v) = HeaderValue::from_str(&value) else {
                        continue;
                    };
                    if op == Op::Overwrite {
                        headers.insert(h.clone(), v);
                    } else {
                        headers.append(h.clone(), v);
                    }
                }
                (Target::StatusCode, _) => {
                    if let Some(s) = value
                        .trim()
                        .parse::<u16>()
                        .ok()
                        .filter(|s| (200..=599).contains(s))
                        .and_then(|s| http::StatusCode::from_u16(s).ok())
                    {
                        *status = s;
                    }
                }
                _ => {}
            }
        }
    }
}

impl Template {
    fn reads(&self, f: impl Fn(&Source) -> bool) -> bool {
        self.0.iter().any(|p| matches!(p, Piece::Var(s) if f(s)))
    }

    fn render(&self, vars: &Vars<'_>, response_body: Option<&Value>) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(s) => out.push_str(&vars.get(s, response_body)),
            }
        }
        out
    }
}

/// What mapping sources read.
#[derive(Clone, Copy)]
pub(crate) struct Vars<'a> {
    pub(crate) headers: &'a HeaderMap,
    pub(crate) query: &'a [(String, String)],
    pub(crate) body: Option<&'a Value>,
    /// The path inside the stage.
    pub(crate) path: &'a str,
    pub(crate) params: Option<&'a portico_router::Params>,
    pub(crate) context: &'a dyn Fn(&str) -> Option<String>,
    pub(crate) stage_variables: &'a Map<String>,
    pub(crate) response_headers: Option<&'a HeaderMap>,
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Vars<'_> {
    fn get(&self, s: &Source, response_body: Option<&Value>) -> String {
        let joined = |h: &HeaderMap, n: &HeaderName| {
            h.get_all(n)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>()
                .join(",")
        };
        match s {
            Source::Header(h) => joined(self.headers, h),
            Source::Query(q) => self
                .query
                .iter()
                .filter(|(k, _)| k == q)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(","),
            Source::Body(p) => self
                .body
                .and_then(|b| p.query(b))
                .map(|v| json_text(&v))
                .unwrap_or_default(),
            Source::Path => self.path.to_owned(),
            Source::PathParam(n) => self.params.and_then(|p| p.get(n)).unwrap_or("").to_owned(),
            Source::Context(c) => (self.context)(c).unwrap_or_default(),
            Source::StageVariable(v) => self.stage_variables.get(v).cloned().unwrap_or_default(),
            Source::ResponseHeader(h) => self
                .response_headers
                .map(|r| joined(r, h))
                .unwrap_or_default(),
            Source::ResponseBody(p) => response_body
                .and_then(|b| p.query(b))
                .map(|v| json_text(&v))
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_and_refuses() {
        let mut req = Map::new();
        req.insert("overwrite:header.x-a".into(), "$request.header.x-b".into());
        req.insert(
            "append:querystring.q".into(),
            "${request.path.id}-${stageVariables.v}".into(),
        );
        req.insert("overwrite:path".into(), "/new$request.path".into());
        let m = Mappings::compile(Some(&req), None).unwrap();
        assert_eq!(m.request.len(), 3);
        for (k, v) in [
            ("overwrite:header.authorization", "x"),
            ("overwrite:header.x-amz-date", "x"),
            ("set:header.a", "x"),
            ("overwrite:header.a", "$request.nope"),
            ("append:path", "x"),
        ] {
            let mut bad = Map::new();
            bad.insert(k.into(), v.into());
            assert!(Mappings::compile(Some(&bad), None).is_err(), "{k}");
        }
    }

    #[test]
    fn renders_requests_and_responses() {
        let mut req = Map::new();
        req.insert("overwrite:header.x-a".into(), "$request.header.x-b".into());
        req.insert("remove:header.x-drop".into(), "''".into());
        req.insert(
            "append:querystring.q".into(),
            "${request.body.user.name}!".into(),
        );
        req.insert(
            "overwrite:querystring.stage".into(),
            "$context.stage".into(),
        );
        let m = Mappings::compile(Some(&req), None).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-b", HeaderValue::from_static("B"));
        headers.insert("x-drop", HeaderValue::from_static("1"));
        let body = serde_json::json!({"user": {"name": "ann"}});
        let ctx = |k: &str| (k == "stage").then(|| "dev".to_string());
        let vars = Vars {
            headers: &headers.clone(),
            query: &[],
            body: Some(&body),
            path: "/x",
            params: None,
            context: &ctx,
            stage_variables: &Map::new(),
            response_headers: None,
        };
        let mut query = vec![("q".to_string(), "1".to_string())];
        let mut path = None;
        m.apply_request(&vars, &mut headers, &mut query, &mut path);
        assert_eq!(headers.get("x-a").unwrap(), "B");
        assert!(headers.get("x-drop").is_none());
        assert_eq!(
            query,
            vec![
                ("q".to_string(), "1".to_string()),
                ("q".to_string(), "ann!".to_string()),
                ("stage".to_string(), "dev".to_string())
            ]
        );
        let mut resp = Map::new();
        let mut r404 = Map::new();
        r404.insert("overwrite:statuscode".into(), "403".into());
        r404.insert(
            "append:header.x-err".into(),
            "$response.header.x-why".into(),
        );
        resp.insert("404".into(), r404);
        let m = Mappings::compile(None, Some(&resp)).unwrap();
        let mut status = http::StatusCode::NOT_FOUND;
        let mut h = HeaderMap::new();
        h.insert("x-why", HeaderValue::from_static("gone"));
        m.apply_response(&vars, None, &mut status, &mut h);
        assert_eq!(status, 403);
        assert_eq!(h.get("x-err").unwrap(), "gone");
    }
}
