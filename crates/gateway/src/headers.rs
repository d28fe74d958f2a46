//! Headers API Gateway refuses, drops or remaps, as recorded on AWS (REST APIs, regional
//! endpoints) and listed in AWS's "Important notes for REST APIs".
//!
//! * Mapping a **refused** header into the integration request (`requestParameters`
//!   `integration.request.header.Content-Length`, or a request template's
//!   `$context.requestOverride.header`) fails the request at run time: 500
//!   `{"message": "Internal server error"}`, `x-amzn-ErrorType: InternalServerErrorException`.
//!   For `HTTP`/`HTTP_PROXY` integrations that is decided when the stage is compiled.
//! * Mapped headers API Gateway **drops** before calling an `HTTP` backend never reach it.
//! * Headers of an `HTTP_PROXY` backend's response that API Gateway sets itself are **remapped** to
//!   `x-amzn-Remapped-{name}` (the backend's value kept under the new name); `Via` and
//!   `Transfer-Encoding` are dropped.

use http::{HeaderMap, HeaderName, header};

/// Integration request headers whose mapping fails the request (recorded on AWS for HTTP and
/// HTTP_PROXY integrations; the two `X-Amzn-*` names API Gateway sets itself).
const REFUSED_IN_REQUEST: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "x-amzn-trace-id",
    "x-amzn-apigateway-api-id",
];

/// Mapped integration request headers dropped before an HTTP backend is called (recorded).
pub const DROPPED_FROM_REQUEST: [HeaderName; 4] = [
    header::EXPECT,
    header::PROXY_AUTHENTICATE,
    header::TE,
    header::VIA,
];

/// Whether mapping `name` into the integration request fails the request.
pub fn refused_in_request(name: &str) -> bool {
    REFUSED_IN_REQUEST
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
}

/// Integration request headers an `AWS` service integration may not map besides
/// [`refused_in_request`]'s: the signature and the connection are API Gateway's.
const REFUSED_IN_AWS_REQUEST: [&str; 5] = [
    "authorization",
    "connection",
    "expect",
    "proxy-authenticate",
    "te",
];

/// Whether mapping `name` into an `AWS` service integration's request fails the request.
pub fn refused_in_aws_request(name: &str) -> bool {
    REFUSED_IN_AWS_REQUEST
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
}

/// Whether a mapped header is dropped before the backend is called.
pub fn dropped_from_request(name: &HeaderName) -> bool {
    DROPPED_FROM_REQUEST.contains(name)
}

/// Where a backend's `Connection` goes (the hop-by-hop rules have applied first).
pub const X_AMZN_REMAPPED_CONNECTION: HeaderName =
    HeaderName::from_static("x-amzn-remapped-connection");

/// Response headers of an HTTP_PROXY backend that API Gateway sets itself (recorded), with the
/// name they are remapped to.
const REMAPPED_IN_RESPONSE: [(HeaderName, HeaderName); 4] = [
    (
        header::CONTENT_LENGTH,
        HeaderName::from_static("x-amzn-remapped-content-length"),
    ),
    (
        header::DATE,
        HeaderName::from_static("x-amzn-remapped-date"),
    ),
    (
        header::SERVER,
        HeaderName::from_static("x-amzn-remapped-server"),
    ),
    (
        HeaderName::from_static("x-amzn-requestid"),
        HeaderName::from_static("x-amzn-remapped-x-amzn-requestid"),
    ),
];

/// Remaps and drops an HTTP_PROXY backend's response headers as API Gateway does. The
/// `Content-Length` the client gets is the one Portico writes for the body it sends; for a `HEAD`
/// request (no body follows) the backend's is kept.
pub fn remap_proxy_response(h: &mut HeaderMap, head: bool) {
    for (from, to) in &REMAPPED_IN_RESPONSE {
        if head && from == header::CONTENT_LENGTH {
            continue;
        }
        if let Some(v) = h.remove(from) {
            h.insert(to.clone(), v);
        }
    }
    h.remove(header::VIA);
    h.remove(header::TRANSFER_ENCODING);
}

/// Method response headers (`method.response.header.X` mappings and
/// `$context.responseOverride.header.X` of non-proxy integrations) that API Gateway sets itself:
/// recorded on AWS, they reach the client as `x-amzn-Remapped-X`.
const REMAPPED_METHOD_RESPONSE: [&str; 14] = [
    "authorization",
    "connection",
    "content-length",
    "content-md5",
    "date",
    "expect",
    "host",
    "max-forwards",
    "proxy-authenticate",
    "server",
    "trailer",
    "upgrade",
    "user-agent",
    "www-authenticate",
];

/// The name a method response header is sent under: itself, `x-amzn-remapped-{name}` for the
/// headers API Gateway sets itself, or `None` for `Transfer-Encoding` (dropped), as recorded.
pub fn method_response_name(name: HeaderName) -> Option<HeaderName> {
    if name == header::TRANSFER_ENCODING {
        return None;
    }
    if REMAPPED_METHOD_RESPONSE.contains(&name.as_str()) {
        return HeaderName::from_bytes(format!("x-amzn-remapped-{}", name.as_str()).as_bytes())
            .ok();
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn refused_and_dropped_names_are_case_insensitive() {
        assert!(refused_in_request("Content-Length"));
        assert!(refused_in_request("TRANSFER-ENCODING"));
        assert!(refused_in_request("X-Amzn-Trace-Id"));
        assert!(!refused_in_request("Content-Type"));
        assert!(!refused_in_request("Authorization"));
        assert!(dropped_from_request(&header::EXPECT));
        assert!(dropped_from_request(&header::VIA));
        assert!(!dropped_from_request(&header::HOST));
    }

    #[test]
    fn method_response_headers_are_remapped_as_on_aws() {
        let name = |n: &str| method_response_name(HeaderName::from_bytes(n.as_bytes()).unwrap());
        assert_eq!(name("Server").unwrap(), "x-amzn-remapped-server");
        assert_eq!(
            name("WWW-Authenticate").unwrap(),
            "x-amzn-remapped-www-authenticate"
        );
        assert_eq!(
            name("Content-Length").unwrap(),
            "x-amzn-remapped-content-length"
        );
        assert_eq!(name("Transfer-Encoding"), None);
        assert_eq!(name("Content-Type").unwrap(), "content-type");
        assert_eq!(
            name("Access-Control-Allow-Origin").unwrap(),
            "access-control-allow-origin"
        );
        assert_eq!(name("TE").unwrap(), "te");
    }

    #[test]
    fn proxy_response_headers_are_remapped_as_on_aws() {
        let mut h = HeaderMap::new();
        h.insert(header::SERVER, HeaderValue::from_static("gunicorn/19.9.0"));
        h.insert(
            header::DATE,
            HeaderValue::from_static("Thu, 01 Jan 2026 00:00:00 GMT"),
        );
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("12"));
        h.insert(header::VIA, HeaderValue::from_static("1.1 proxy"));
        h.insert("x-amzn-requestid", HeaderValue::from_static("backend-id"));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        remap_proxy_response(&mut h, false);
        assert_eq!(h["x-amzn-remapped-server"], "gunicorn/19.9.0");
        assert_eq!(h["x-amzn-remapped-date"], "Thu, 01 Jan 2026 00:00:00 GMT");
        assert_eq!(h["x-amzn-remapped-content-length"], "12");
        assert_eq!(h["x-amzn-remapped-x-amzn-requestid"], "backend-id");
        assert_eq!(h[header::CONTENT_TYPE], "text/plain");
        for gone in [
            "server",
            "date",
            "content-length",
            "via",
            "x-amzn-requestid",
        ] {
            assert!(!h.contains_key(gone), "{gone} still there");
        }
    }
}
