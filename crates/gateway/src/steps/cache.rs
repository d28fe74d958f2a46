//! The stage cache: a method request step that answers from the cache ([`CacheLookup`]), and
//! the store of a fresh, successful integration response after the integration ran.
//!
//! The cache key is the method, the cache namespace (the resource, by default) and the values
//! of the integration's `cacheKeyParameters` (query strings, headers, path parameters) — and
//! nothing else: no other header, no `Host`, no `X-Forwarded-*`, so that nothing outside the
//! key can change what another caller is served from the cache. Each part is length-prefixed,
//! so that no two different requests make one key.

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{self, HeaderName};
use portico_state::cache::{StageCache, Ttl};
use std::sync::Arc;

/// One request value in the cache key.
#[derive(Debug)]
enum KeyPart {
    Query(Box<str>),
    Header(HeaderName),
    Path(Box<str>),
}

/// What a `Cache-Control: max-age=0` from a caller without the right to invalidate does
/// (`unauthorizedCacheControlHeaderStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unauthorized {
    /// 403.
    Fail,
    /// Serve as usual, with a `Warning` header saying the header was ignored.
    SucceedWithHeader,
    /// Serve as usual.
    SucceedQuietly,
}

/// A route's cache lookup step.
#[derive(Debug)]
pub struct CacheLookup {
    pub(crate) cache: Arc<StageCache>,
    pub(crate) ttl: Ttl,
    /// The key's fixed part: the cache namespace.
    prefix: Box<[u8]>,
    parts: Box<[KeyPart]>,
    /// Whether invalidating takes authorization (`requireAuthorizationForCacheControl`).
    pub(crate) require_authorization: bool,
    pub(crate) unauthorized: Unauthorized,
}

impl CacheLookup {
    /// The cache step of `verb` on `resource`, when the stage's cache is on and the method's
    /// settings cache it: GET methods by default (`*/*`), any method its own settings enable.
    pub(crate) fn compile(
        cache: &Arc<StageCache>,
        stage: &portico_model::Stage,
        resource: &portico_model::Resource,
        verb: &str,
        integration: Option<&portico_model::Integration>,
    ) -> Option<Self> {
        let settings = &stage.method_settings;
        let own = crate::steps::traffic::own_method_setting(settings, &resource.path, verb);
        let (enabled, ttl, require, strategy) = match own.or_else(|| settings.get("*/*")) {
            Some(s) => (
                s.caching_enabled && (verb == "GET" || own.is_some()),
                s.cache_ttl_in_seconds,
                s.require_authorization_for_cache_control,
                s.unauthorized_cache_control_header_strategy.as_str(),
            ),
            // A stage whose cache is on caches GET methods for 300 s unless told otherwise.
            None => (verb == "GET", 300, true, "SUCCEED_WITH_RESPONSE_HEADER"),
        };
        if !enabled {
            return None;
        }
        let ttl = Ttl::from_secs(u32::try_from(ttl.max(0)).unwrap_or(u32::MAX))?;
        let integration = integration?;
        let namespace = integration
            .cache_namespace
            .as_deref()
            .unwrap_or(&resource.id);
        // The namespace is the resource unless the integration names one that resources share
        // (AWS's `cacheNamespace`); the request's method goes in per request (an `ANY` method
        // answers several).
        let mut prefix = BytesMut::new();
        put(&mut prefix, namespace.as_bytes());
        let parts = integration
            .cache_key_parameters
            .iter()
            .filter_map(|p| {
                let p = p.strip_prefix("method.request.")?;
                if let Some(q) = p.strip_prefix("querystring.") {
                    Some(KeyPart::Query(q.into()))
                } else if let Some(h) = p.strip_prefix("header.") {
                    HeaderName::from_bytes(h.as_bytes())
                        .ok()
                        .map(KeyPart::Header)
                } else {
                    p.strip_prefix("path.").map(|n| KeyPart::Path(n.into()))
                }
            })
            .collect();
        Some(Self {
            cache: cache.clone(),
            ttl,
            prefix: prefix.to_vec().into_boxed_slice(),
            parts,
            require_authorization: require,
            unauthorized: match strategy {
                "FAIL_WITH_403" => Unauthorized::Fail,
                "SUCCEED_WITHOUT_RESPONSE_HEADER" => Unauthorized::SucceedQuietly,
                _ => Unauthorized::SucceedWithHeader,
            },
        })
    }

    /// For `portico routes`.
    pub(crate) fn describe(&self) -> String {
        format!("cache(ttl {}s)", self.ttl.duration().as_secs())
    }

    /// The request's cache key; `param` reads the matched path parameters.
    pub(crate) fn key<'p>(
        &self,
        param: impl Fn(&str) -> Option<&'p str>,
        parts: &http::request::Parts,
    ) -> Bytes {
        let mut key = BytesMut::with_capacity(self.prefix.len() + 24 + 16 * self.parts.len());
        key.extend_from_slice(&self.prefix);
        put(&mut key, parts.method.as_str().as_bytes());
        for part in self.parts.iter() {
            match part {
                KeyPart::Query(name) => {
                    key.put_u8(b'q');
                    for v in query_values(parts.uri.query(), name) {
                        put(&mut key, v.as_bytes());
                    }
                }
                KeyPart::Header(name) => {
                    key.put_u8(b'h');
                    for v in parts.headers.get_all(name) {
                        put(&mut key, v.as_bytes());
                    }
                }
                KeyPart::Path(name) => {
                    key.put_u8(b'p');
                    put(&mut key, param(name).unwrap_or("").as_bytes());
                }
            }
            key.put_u8(0xff);
        }
        key.freeze()
    }
}

/// Request headers that steer what a backend answers without being part of a URL (the
/// classic unkeyed inputs of cache poisoning): a response to a request carrying one is served
/// but not stored, unless the header is a cache key parameter.
const STEERING_HEADERS: [&str; 12] = [
    "authorization",
    "cookie",
    "forwarded",
    "x-forwarded-host",
    "x-forwarded-server",
    "x-forwarded-proto",
    "x-forwarded-scheme",
    "x-forwarded-port",
    "x-host",
    "x-original-url",
    "x-rewrite-url",
    "x-http-method-override",
];

impl CacheLookup {
    pub(crate) fn keys_header(&self, name: &str) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, KeyPart::Header(h) if h.as_str() == name))
    }

    fn keys_query(&self, name: &str) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, KeyPart::Query(q) if &**q == name))
    }

    /// Whether the answer to this request may be stored for others: nothing reaches the
    /// integration that is not in the key — no unkeyed query parameter, no body, no steering
    /// header (`X-Forwarded-Host`, `Authorization`, …) that is not a key parameter.
    pub(crate) fn storable(&self, parts: &http::request::Parts) -> bool {
        let has_body = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
            || parts.headers.contains_key(header::TRANSFER_ENCODING);
        if has_body {
            return false;
        }
        let unkeyed_query = parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty())
            .any(|kv| {
                let k = kv.split_once('=').map_or(kv, |(k, _)| k);
                let k = percent_encoding::percent_decode_str(&k.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned();
                !self.keys_query(&k)
            });
        if unkeyed_query {
            return false;
        }
        !STEERING_HEADERS
            .iter()
            .any(|h| parts.headers.contains_key(*h) && !self.keys_header(h))
    }
}

/// Appends `bytes` with its length in front.
fn put(key: &mut BytesMut, bytes: &[u8]) {
    key.put_u32(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    key.extend_from_slice(bytes);
}

/// Every value of query parameter `name`, decoded, in request order.
fn query_values<'q>(query: Option<&'q str>, name: &'q str) -> impl Iterator<Item = String> + 'q {
    query.unwrap_or("").split('&').filter_map(move |kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        (!kv.is_empty() && dec(k) == name).then(|| dec(v))
    })
}

/// A miss to fill once the integration answered.
#[derive(Debug)]
pub(crate) struct PendingStore {
    pub(crate) cache: Arc<StageCache>,
    pub(crate) key: Bytes,
    pub(crate) ttl: Ttl,
}
