//! An HTTP API's CORS configuration, as API Gateway applies it: a preflight no route takes is
//! answered by the gateway (204); every other response to an allowed origin gets
//! `access-control-allow-origin` (and credentials / expose headers); the backend's own
//! `access-control-*` headers are dropped while CORS is configured. `*` never goes out with
//! credentials (the configuration refuses it).

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

const ALLOW_ORIGIN: HeaderName = HeaderName::from_static("access-control-allow-origin");
const ALLOW_CREDENTIALS: HeaderName = HeaderName::from_static("access-control-allow-credentials");
const ALLOW_METHODS: HeaderName = HeaderName::from_static("access-control-allow-methods");
const ALLOW_HEADERS: HeaderName = HeaderName::from_static("access-control-allow-headers");
const EXPOSE_HEADERS: HeaderName = HeaderName::from_static("access-control-expose-headers");
const MAX_AGE: HeaderName = HeaderName::from_static("access-control-max-age");
const REQUEST_METHOD: HeaderName = HeaderName::from_static("access-control-request-method");

/// One `allowOrigins` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OriginRule {
    /// `*`: every origin.
    Any,
    /// `https://*` or `https://*.example.com[:port]`: the scheme, and the host suffix after
    /// `*` (empty: any host).
    Wildcard { scheme: String, suffix: String },
    /// An exact origin (compared ASCII case-insensitively).
    Exact(String),
}

/// A compiled `corsConfiguration`.
#[derive(Debug, Clone)]
pub(crate) struct Cors {
    origins: Vec<OriginRule>,
    credentials: bool,
    methods: Option<HeaderValue>,
    headers: Option<HeaderValue>,
    expose: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
}

fn joined(list: Option<&Vec<String>>) -> Option<HeaderValue> {
    let list = list.filter(|l| !l.is_empty())?;
    HeaderValue::from_str(&list.join(",")).ok()
}

impl Cors {
    /// Compiles the API's configuration.
    pub(crate) fn compile(c: &portico_model::http::Cors) -> Self {
        let origins = c
            .allow_origins
            .iter()
            .flatten()
            .map(|o| {
                if o == "*" {
                    return OriginRule::Any;
                }
                match o.split_once("://") {
                    Some((scheme, rest)) if rest.starts_with('*') => OriginRule::Wildcard {
                        scheme: scheme.to_ascii_lowercase(),
                        suffix: rest[1..].to_ascii_lowercase(),
                    },
                    _ => OriginRule::Exact(o.trim_end_matches('/').to_ascii_lowercase()),
                }
            })
            .collect();
        Self {
            origins,
            credentials: c.allow_credentials == Some(true),
            methods: joined(c.allow_methods.as_ref()),
            headers: joined(c.allow_headers.as_ref()),
            expose: joined(c.expose_headers.as_ref()),
            max_age: c
                .max_age
                .filter(|m| *m >= 0)
                .and_then(|m| HeaderValue::from_str(&m.to_string()).ok()),
        }
    }

    /// The `access-control-allow-origin` value for `origin`, when it is allowed.
    fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        let o = origin.to_str().ok()?.to_ascii_lowercase();
        let mut any = false;
        for rule in &self.origins {
            match rule {
                OriginRule::Any => any = true,
                OriginRule::Exact(e) if *e == o => return Some(origin.clone()),
                OriginRule::Wildcard { scheme, suffix } => {
                    let Some((s, host)) = o.split_once("://") else {
                        continue;
                    };
                    // `*.example.com` needs at least one label before the suffix.
                    let matches = s == scheme
                        && !host.is_empty()
                        && !host.contains('/')
                        && (suffix.is_empty()
                            || (host.len() > suffix.len() && host.ends_with(suffix.as_str())));
                    if matches {
                        return Some(origin.clone());
                    }
                }
                OriginRule::Exact(_) => {}
            }
        }
        any.then(|| HeaderValue::from_static("*"))
    }

    /// Whether the request is a CORS preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`).
    pub(crate) fn is_preflight(method: &http::Method, headers: &HeaderMap) -> bool {
        method == http::Method::OPTIONS
            && headers.contains_key(header::ORIGIN)
            && headers.contains_key(REQUEST_METHOD)
    }

    /// The gateway's answer to a preflight: 204 with the configured headers when the origin is
    /// allowed, without them otherwise.
    pub(crate) fn preflight_headers(&self, request: &HeaderMap, out: &mut HeaderMap) {
        let Some(origin) = request.get(header::ORIGIN) else {
            return;
        };
        let Some(allow) = self.allow_origin(origin) else {
            return;
        };
        out.insert(ALLOW_ORIGIN, allow);
        if self.credentials {
            out.insert(ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        if let Some(m) = &self.methods {
            out.insert(ALLOW_METHODS, m.clone());
        }
        if let Some(h) = &self.headers {
            out.insert(ALLOW_HEADERS, h.clone());
        }
        if let Some(e) = &self.expose {
            out.insert(EXPOSE_HEADERS, e.clone());
        }
        if let Some(m) = &self.max_age {
            out.insert(MAX_AGE, m.clone());
        }
    }

    /// On any other response: the backend's CORS headers go, the configured ones come for an
    /// allowed origin.
    pub(crate) fn response_headers(&self, origin: Option<&HeaderValue>, out: &mut HeaderMap) {
        for name in [
            ALLOW_ORIGIN,
            ALLOW_CREDENTIALS,
            ALLOW_METHODS,
            ALLOW_HEADERS,
            EXPOSE_HEADERS,
            MAX_AGE,
        ] {
            out.remove(name);
        }
        let Some(allow) = origin.and_then(|o| self.allow_origin(o)) else {
            return;
        };
        out.insert(ALLOW_ORIGIN, allow);
        if self.credentials {
            out.insert(ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        if let Some(e) = &self.expose {
            out.insert(EXPOSE_HEADERS, e.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(origins: &[&str], credentials: bool) -> Cors {
        Cors::compile(&portico_model::http::Cors {
            allow_origins: Some(origins.iter().map(|s| s.to_string()).collect()),
            allow_credentials: Some(credentials),
            allow_methods: Some(vec!["GET".into(), "PUT".into()]),
            allow_headers: Some(vec!["x-custom".into()]),
            max_age: Some(300),
            ..Default::default()
        })
    }

    fn allowed(c: &Cors, origin: &'static str) -> Option<String> {
        c.allow_origin(&HeaderValue::from_static(origin))
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn origins() {
        let c = cors(&["https://app.example.com", "https://*.example.org"], true);
        assert_eq!(
            allowed(&c, "https://app.example.com").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            allowed(&c, "https://APP.example.com").as_deref(),
            Some("https://APP.example.com")
        );
        assert_eq!(allowed(&c, "http://app.example.com"), None);
        assert_eq!(allowed(&c, "https://evil.com"), None);
        assert!(allowed(&c, "https://a.example.org").is_some());
        assert!(allowed(&c, "https://a.b.example.org").is_some());
        assert_eq!(allowed(&c, "https://example.org"), None);
        assert_eq!(allowed(&c, "https://evilexample.org"), None);
        let any = cors(&["*"], false);
        assert_eq!(allowed(&any, "https://x.y").as_deref(), Some("*"));
        let scheme = cors(&["https://*"], false);
        assert!(allowed(&scheme, "https://x.y").is_some());
        assert_eq!(allowed(&scheme, "http://x.y"), None);
    }

    #[test]
    fn backend_headers_are_replaced() {
        let c = cors(&["https://a.com"], false);
        let mut out = HeaderMap::new();
        out.insert(ALLOW_ORIGIN, HeaderValue::from_static("*"));
        out.insert(ALLOW_METHODS, HeaderValue::from_static("DELETE"));
        c.response_headers(Some(&HeaderValue::from_static("https://b.com")), &mut out);
        assert!(out.is_empty());
        c.response_headers(Some(&HeaderValue::from_static("https://a.com")), &mut out);
        assert_eq!(out.get(ALLOW_ORIGIN).unwrap(), "https://a.com");
        let mut pre = HeaderMap::new();
        let mut req = HeaderMap::new();
        req.insert(header::ORIGIN, HeaderValue::from_static("https://a.com"));
        c.preflight_headers(&req, &mut pre);
        assert_eq!(pre.get(ALLOW_METHODS).unwrap(), "GET,PUT");
        assert_eq!(pre.get(MAX_AGE).unwrap(), "300");
    }
}
