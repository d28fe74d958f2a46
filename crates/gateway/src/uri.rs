//! Integration URI templates, prepared at deploy time.
//!
//! `${stageVariables.x}` is substituted when the stage is compiled (stage variables are part of the
//! deployment's snapshot); `{param}` placeholders become slots filled per request with the
//! percent-encoded path parameter values.

use http::Uri;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use std::collections::BTreeMap;

/// Query names and values sent to `HTTP` and AWS service integrations.
pub(crate) const QUERY_ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Characters encoded in a single path segment value.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'%')
    .add(b'/')
    .add(b'\\')
    .add(b'^')
    .add(b'|');
/// Greedy values keep their slashes.
const GREEDY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'%')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// A request path parameter; `greedy` keeps `/` unencoded.
    Param {
        name: String,
        greedy: bool,
    },
}

/// A compiled integration URI: a fixed scheme and authority, and a path/query template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    https: bool,
    authority: http::uri::Authority,
    parts: Vec<Part>,
    has_query: bool,
    len_hint: usize,
}

/// Substitutes `${stageVariables.name}`; unknown variables become empty strings, as in AWS.
pub fn substitute_stage_variables(s: &str, vars: &BTreeMap<String, String>) -> String {
    const OPEN: &str = "${stageVariables.";
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        let after = &rest[i + OPEN.len()..];
        match after.find('}') {
            Some(end) => {
                if let Some(v) = vars.get(&after[..end]) {
                    out.push_str(v);
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

impl UriTemplate {
    /// Compiles `uri` (after stage-variable substitution). `param_source` maps a placeholder name to
    /// the request path parameter that fills it and whether that parameter is greedy.
    pub fn compile(
        uri: &str,
        param_source: impl Fn(&str) -> Option<(String, bool)>,
    ) -> Result<Self, String> {
        let (https, rest) = if let Some(r) = uri.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = uri.strip_prefix("https://") {
            (true, r)
        } else {
            return Err(format!(
                "integration URI must be an absolute http(s) URL: {uri}"
            ));
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() {
            return Err(format!("integration URI has no host: {uri}"));
        }
        if authority.contains(['{', '}', '@']) {
            return Err(format!(
                "integration URI host must be fixed (placeholders only in path and query): {uri}"
            ));
        }
        let authority: http::uri::Authority = authority
            .parse()
            .map_err(|e| format!("invalid integration URI host in {uri}: {e}"))?;
        let path = if path.is_empty() || path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        let mut parts = Vec::new();
        let mut rest = path.as_str();
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                return Err(format!("unbalanced '{{' in integration URI {uri}"));
            };
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let name = &rest[open + 1..open + close];
            let name = name.strip_suffix('+').unwrap_or(name);
            let Some((source, greedy)) = param_source(name) else {
                return Err(format!(
                    "integration URI placeholder {{{name}}} has no matching path parameter"
                ));
            };
            parts.push(Part::Param {
                name: source,
                greedy,
            });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        let probe: String = parts
            .iter()
            .map(|p| match p {
                Part::Literal(s) => s.as_str(),
                Part::Param { .. } => "x",
            })
            .collect();
        probe
            .parse::<http::uri::PathAndQuery>()
            .map_err(|e| format!("invalid integration URI {uri}: {e}"))?;
        Ok(Self {
            https,
            authority,
            has_query: probe.contains('?'),
            len_hint: probe.len(),
            parts,
        })
    }

    /// The backend's `host[:port]`.
    pub fn authority(&self) -> &http::uri::Authority {
        &self.authority
    }

    /// Whether the URI uses `https`.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Builds the origin-form request target (`/path?query`) for one request.
    pub fn render<'a>(
        &self,
        param: impl Fn(&str) -> Option<&'a str>,
        query: Option<&str>,
    ) -> Result<Uri, RenderError> {
        let mut out = String::with_capacity(self.len_hint + 64);
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Param { name, greedy } => {
                    let v = param(name).unwrap_or("");
                    if *greedy {
                        for (i, seg) in v.split('/').enumerate() {
                            if i > 0 {
                                out.push('/');
                            }
                            push_segment(&mut out, seg, GREEDY)?;
                        }
                    } else {
                        push_segment(&mut out, v, SEGMENT)?;
                    }
                }
            }
        }
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            out.push(if self.has_query { '&' } else { '?' });
            out.push_str(q);
        }
        Uri::try_from(out).map_err(RenderError::Invalid)
    }
}

/// Why a request path is refused before routing (400): what would let a path mean one resource
/// to the gateway and another to a backend (security-tests T11).
#[derive(Debug, PartialEq, Eq)]
pub enum PathRefusal {
    /// A `.` or `..` segment — raw, percent-encoded (`%2e%2e`) or with `;…` path parameters
    /// (`..;`): a backend that resolves dot segments would serve another path.
    DotSegment,
    /// `%00`, or a raw backslash (which some servers read as `/`).
    Forbidden,
}

/// Checks the request path every step reads (routing, authorizers, policies, keys, cache,
/// forwarding): no dot segment in any spelling (raw, encoded once or twice, with `;…`), no NUL,
/// no raw backslash.
pub fn check_request_path(path: &str) -> Result<(), PathRefusal> {
    if path.contains('\\') {
        return Err(PathRefusal::Forbidden);
    }
    let b = path.as_bytes();
    let mut i = 0;
    while i + 2 < b.len() {
        if b[i] == b'%' && b[i + 1] == b'0' && b[i + 2] == b'0' {
            return Err(PathRefusal::Forbidden);
        }
        i += 1;
    }
    for seg in path.split('/') {
        let seg = seg.split(';').next().unwrap_or(seg);
        if seg.is_empty() {
            continue;
        }
        if seg == "." || seg == ".." {
            return Err(PathRefusal::DotSegment);
        }
        if !seg.contains('%') {
            continue;
        }
        let once = percent_encoding::percent_decode_str(seg).collect::<Vec<u8>>();
        let twice = percent_encoding::percent_decode(&once).collect::<Vec<u8>>();
        let twice = twice.split(|b| *b == b';').next().unwrap_or(&[]);
        if [once.as_slice(), twice]
            .iter()
            .any(|d| *d == b"." || *d == b"..")
        {
            return Err(PathRefusal::DotSegment);
        }
    }
    Ok(())
}

/// Whether `path`, forwarded to an HTTP backend, could name another resource there than the one
/// the gateway routed and authorized: an encoded `/` or `\` (`%2F`, `%5C`, or encoded twice,
/// `%252F`), which a path parameter would turn into a real separator, or a `;` (servers such as
/// Tomcat read `/admin;x` as `/admin`).
pub fn forward_hazard(path: &str) -> bool {
    let b = path.as_bytes();
    let separator = |w: &[u8]| {
        (w[0] == b'2' && (w[1] | 0x20) == b'f') || (w[0] == b'5' && (w[1] | 0x20) == b'c')
    };
    b.contains(&b';')
        || b.windows(3).any(|w| w[0] == b'%' && separator(&w[1..]))
        || b.windows(5)
            .any(|w| w[0] == b'%' && w[1] == b'2' && w[2] == b'5' && separator(&w[3..]))
}

/// Why a [`UriTemplate`] did not render for a request.
#[derive(Debug)]
pub enum RenderError {
    /// A path parameter holds a `.` or `..` segment (also once decoded, as from `%2e%2e`). A
    /// backend that resolves dot segments (RFC 3986 §5.2.4, after decoding `%2E`, as most
    /// servers and frameworks do) would serve a path outside the integration's, so the request
    /// is refused with 400 instead of being forwarded.
    DotSegment,
    /// The rendered target is not a valid URI (a configuration error).
    Invalid(http::uri::InvalidUri),
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::DotSegment => f.write_str("a path parameter holds a dot segment"),
            Self::Invalid(e) => write!(f, "invalid endpoint address: {e}"),
        }
    }
}

/// Appends one encoded path segment; a segment that is exactly `.` or `..` (the value is already
/// decoded, so `%2e%2e` arrives as `..`) is [`RenderError::DotSegment`]: request data never
/// climbs out of the integration's path on the backend.
fn push_segment(out: &mut String, seg: &str, set: &'static AsciiSet) -> Result<(), RenderError> {
    if seg == "." || seg == ".." {
        return Err(RenderError::DotSegment);
    }
    out.extend(utf8_percent_encode(seg, set));
    Ok(())
}

/// The parts of `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations`:
/// (function name, qualifier, the function ARN as written).
pub(crate) fn lambda_invocation(uri: &str) -> Result<(String, Option<String>, String), String> {
    let rest = uri
        .strip_prefix("arn:aws:apigateway:")
        .and_then(|r| r.split_once(":lambda:path/2015-03-31/functions/"))
        .map(|(_, r)| r)
        .and_then(|r| r.strip_suffix("/invocations"))
        .ok_or_else(|| {
            format!(
                "AWS_PROXY integration URI {uri} is not a Lambda invocation URI \
                 (arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations)"
            )
        })?;
    let (_, after) = rest
        .split_once(":function:")
        .ok_or_else(|| format!("{rest} is not a Lambda function ARN"))?;
    let (name, qualifier) = match after.split_once(':') {
        Some((n, q)) => (n, Some(q.to_owned())),
        None => (after, None),
    };
    if name.is_empty() || qualifier.as_deref() == Some("") {
        return Err(format!("{rest} is not a Lambda function ARN"));
    }
    Ok((name.to_owned(), qualifier, rest.to_owned()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_paths_that_could_mean_another_resource_are_refused() {
        use super::{PathRefusal, check_request_path, forward_hazard};
        for bad in [
            "/admin/../x",
            "/a/./b",
            "/admin/.",
            "/..",
            "/public/%2e%2e/admin",
            "/public/%2E%2e/admin",
            "/public/.%2e/admin",
            "/..;/admin",
            "/public/..;x=1/admin",
            "/%2e;/admin",
            "/public/%252e%252e/admin",
            "/%252E%252e;x/admin",
            "/%25%32%65%25%32%65/admin",
        ] {
            assert_eq!(
                check_request_path(bad),
                Err(PathRefusal::DotSegment),
                "{bad}"
            );
        }
        for bad in ["/admin%00", "/a\\admin", "/a/%00/b"] {
            assert_eq!(
                check_request_path(bad),
                Err(PathRefusal::Forbidden),
                "{bad}"
            );
        }
        for good in [
            "/",
            "/admin;x",
            "/a..b/c",
            "/.well-known/x",
            "/...",
            "/a//b",
            "/%2e%2e%2fadmin",
            "/x%2e",
        ] {
            assert_eq!(check_request_path(good), Ok(()), "{good}");
        }
        assert!(forward_hazard("/a%2fb"));
        assert!(forward_hazard("/a%2Fb"));
        assert!(forward_hazard("/a%5cb"));
        assert!(forward_hazard("/a%252fb"));
        assert!(forward_hazard("/admin;x"));
        assert!(!forward_hazard("/a%2520b"));
        assert!(!forward_hazard("/a/b%2"));
        assert!(!forward_hazard("/a/b%25"));
    }

    use super::*;

    fn src(name: &str) -> Option<(String, bool)> {
        match name {
            "id" => Some(("id".into(), false)),
            "proxy" => Some(("proxy".into(), true)),
            _ => None,
        }
    }

    #[test]
    fn stage_variables() {
        let vars = BTreeMap::from([("host".to_string(), "127.0.0.1:9".to_string())]);
        assert_eq!(
            substitute_stage_variables(
                "http://${stageVariables.host}/a${stageVariables.none}",
                &vars
            ),
            "http://127.0.0.1:9/a"
        );
        assert_eq!(
            substitute_stage_variables("x${stageVariables.y", &vars),
            "x${stageVariables.y"
        );
    }

    #[test]
    fn render_params_and_query() {
        let t = UriTemplate::compile("http://b:1/pets/{id}/f/{proxy}", src).unwrap();
        let u = t
            .render(
                |n| match n {
                    "id" => Some("a/b c"),
                    "proxy" => Some("x/y z"),
                    _ => None,
                },
                Some("q=1"),
            )
            .unwrap();
        assert_eq!(u.to_string(), "/pets/a%2Fb%20c/f/x/y%20z?q=1");
        assert_eq!(t.authority().as_str(), "b:1");
        let t = UriTemplate::compile("http://b/x?fixed=1", src).unwrap();
        assert_eq!(
            t.render(|_| None, Some("a=2")).unwrap().to_string(),
            "/x?fixed=1&a=2"
        );
        let t = UriTemplate::compile("http://b", src).unwrap();
        assert_eq!(t.render(|_| None, None).unwrap().to_string(), "/");
        let t = UriTemplate::compile("https://b?x=1", src).unwrap();
        assert!(t.is_https());
        assert_eq!(t.render(|_| None, None).unwrap().to_string(), "/?x=1");
    }

    #[test]
    fn dot_segments_from_request_data_are_refused() {
        let t = UriTemplate::compile("http://b/files/{proxy}/{id}", src).unwrap();
        let render = |proxy: &'static str, id: &'static str| {
            t.render(
                move |n| match n {
                    "proxy" => Some(proxy),
                    "id" => Some(id),
                    _ => None,
                },
                None,
            )
        };
        for (proxy, id) in [
            ("../../admin", "x"),
            ("a/./b", "x"),
            ("a/..", "x"),
            ("a", ".."),
            ("a", "."),
        ] {
            assert!(
                matches!(render(proxy, id), Err(RenderError::DotSegment)),
                "{proxy} {id}"
            );
        }
        // Dots inside a segment are ordinary characters.
        let u = render("a/..b/.c/...", "x.y").unwrap();
        assert_eq!(u.to_string(), "/files/a/..b/.c/.../x.y");
    }

    #[test]
    fn rejects_bad_uris() {
        assert!(UriTemplate::compile("ftp://b/x", src).is_err());
        assert!(UriTemplate::compile("/relative", src).is_err());
        assert!(UriTemplate::compile("http://b/{nope}", src).is_err());
        assert!(UriTemplate::compile("http://b/{id", src).is_err());
        assert!(UriTemplate::compile("http:///x", src).is_err());
        assert!(UriTemplate::compile("http://{id}/x", src).is_err());
        assert!(UriTemplate::compile("http://user@b/x", src).is_err());
    }

    #[test]
    fn invocation_uris_name_the_function_and_qualifier() {
        let (n, q, arn) = lambda_invocation(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:hello/invocations",
        )
        .unwrap();
        assert_eq!(
            (n.as_str(), q, arn.as_str()),
            (
                "hello",
                None,
                "arn:aws:lambda:us-east-1:123456789012:function:hello"
            )
        );
        let (n, q, _) = lambda_invocation(
            "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:1:function:hello:live/invocations",
        )
        .unwrap();
        assert_eq!((n.as_str(), q.as_deref()), ("hello", Some("live")));
        assert!(
            lambda_invocation("arn:aws:apigateway:us-east-1:firehose:action/PutRecord").is_err()
        );
        assert!(
            lambda_invocation(
                "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/nope/invocations"
            )
            .is_err()
        );
    }
}
