//! Data-plane addressing: which API and stage a request is for, and the resource path inside it.
//!
//! Two forms work at once:
//! * Host `{apiId}.execute-api.{anything}` with the stage as the first path segment;
//! * path style `/restapis/{apiId}/{stage}/_user_request_/{path}` (no DNS needed).

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address<'a> {
    /// The API id.
    pub api_id: &'a str,
    /// The stage name (may be empty when the path had none).
    pub stage: &'a str,
    /// The path inside the stage, starting with `/` (still percent-encoded).
    pub path: &'a str,
    /// The whole path after the API part, leading slashes collapsed: host style, the request
    /// path (an HTTP API's `$default` stage serves it); otherwise [`Address::path`].
    pub whole: &'a str,
    /// The request path as the client addressed the stage (`/{stage}/…` for host style).
    pub style: Style,
    /// The custom domain's base path that matched (`(none)` for the root mapping);
    /// `$context.customDomain.basePathMatched`.
    pub base_path: Option<&'a str>,
}

/// Which addressing form matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `{apiId}.execute-api.…` host.
    Host,
    /// `/restapis/{apiId}/{stage}/_user_request_/…`.
    Path,
    /// A custom domain name's base path mapping (`crate::domains`).
    CustomDomain,
}

const PATH_PREFIX: &str = "/restapis/";
const USER_REQUEST: &str = "_user_request_";

/// Resolves a request's host and path. `None` when neither form applies.
pub fn resolve<'a>(host: Option<&'a str>, path: &'a str) -> Option<Address<'a>> {
    if let Some(api_id) = host.and_then(api_id_from_host) {
        let (stage, rest) = split_first_segment(path);
        return Some(Address {
            api_id,
            stage,
            path: rest,
            whole: collapse_leading_slashes(path),
            style: Style::Host,
            base_path: None,
        });
    }
    let tail = path.strip_prefix(PATH_PREFIX)?;
    let (api_id, tail) = tail.split_once('/')?;
    let (stage, tail) = tail.split_once('/')?;
    let rest = tail.strip_prefix(USER_REQUEST)?;
    // Slashes right after the stage collapse for routing, as in the host form (AWS: `/stage//x`
    // is routed as `/x`): the path every later step reads is this one.
    let rest = if rest.is_empty() {
        "/"
    } else if rest.starts_with('/') {
        collapse_leading_slashes(rest)
    } else {
        return None;
    };
    if api_id.is_empty() {
        return None;
    }
    Some(Address {
        api_id,
        stage,
        path: rest,
        whole: rest,
        style: Style::Path,
        base_path: None,
    })
}

/// `{id}.execute-api.{anything}[:port]` → `id`.
fn api_id_from_host(host: &str) -> Option<&str> {
    let (id, rest) = host.split_once('.')?;
    let marker = rest.get(..12)?;
    if !marker.eq_ignore_ascii_case("execute-api.") || id.is_empty() {
        return None;
    }
    Some(id)
}

/// `/dev/pets/1` → (`dev`, `/pets/1`); `/dev` → (`dev`, `/`); `/` → (``, `/`). Leading slashes
/// before the stage and before the resource path count as one, as API Gateway routes them
/// (`//dev//pets` → (`dev`, `/pets`)); slashes inside the resource path stay.
fn split_first_segment(path: &str) -> (&str, &str) {
    let trimmed = path.trim_start_matches('/');
    match trimmed.find('/') {
        Some(i) => (&trimmed[..i], collapse_leading_slashes(&trimmed[i..])),
        None => (trimmed, "/"),
    }
}

/// `//a/b` → `/a/b`; inner double slashes stay.
pub(crate) fn collapse_leading_slashes(p: &str) -> &str {
    let trimmed = p.trim_start_matches('/');
    if trimmed.len() + 1 >= p.len() {
        p
    } else {
        &p[p.len() - trimmed.len() - 1..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_style() {
        let a = resolve(Some("abc123defg.execute-api.localhost:8080"), "/dev/pets/1").unwrap();
        assert_eq!(
            (a.api_id, a.stage, a.path),
            ("abc123defg", "dev", "/pets/1")
        );
        assert_eq!(a.style, Style::Host);
        let a = resolve(Some("x.EXECUTE-API.us-east-1.amazonaws.com"), "/prod").unwrap();
        assert_eq!((a.api_id, a.stage, a.path), ("x", "prod", "/"));
        let a = resolve(Some("x.execute-api.y"), "/").unwrap();
        assert_eq!((a.stage, a.path), ("", "/"));
        // Recorded on AWS: leading slashes before the stage and the path count as one.
        let a = resolve(Some("x.execute-api.y"), "//dev//pets//1").unwrap();
        assert_eq!((a.stage, a.path), ("dev", "/pets//1"));
    }

    #[test]
    fn path_style() {
        let a = resolve(
            Some("localhost:8080"),
            "/restapis/abc/dev/_user_request_/pets/1",
        )
        .unwrap();
        assert_eq!((a.api_id, a.stage, a.path), ("abc", "dev", "/pets/1"));
        let a = resolve(None, "/restapis/abc/dev/_user_request_").unwrap();
        assert_eq!(a.path, "/");
        let a = resolve(None, "/restapis/abc/dev/_user_request_/").unwrap();
        assert_eq!(a.path, "/");
    }

    #[test]
    fn neither() {
        assert!(resolve(Some("localhost"), "/pets").is_none());
        assert!(resolve(None, "/restapis/abc/dev/pets").is_none());
        assert!(resolve(None, "/restapis/abc/dev/_user_request_x").is_none());
        assert!(resolve(None, "/restapis//dev/_user_request_/").is_none());
        assert!(resolve(Some(".execute-api.x"), "/dev").is_none());
        assert!(resolve(Some("execute-api"), "/dev").is_none());
    }
}
