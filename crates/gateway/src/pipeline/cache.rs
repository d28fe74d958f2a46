//! Running the stage cache step (defined in `steps::cache`): the lookup before the
//! integration and the store after it.

use crate::body::GatewayBody;
use crate::exchange::{Exchange, Outcome};
use crate::gateway::Gateway;
use crate::gateway_response::GatewayError;
use crate::steps::cache::{CacheLookup, PendingStore, Unauthorized};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use portico_state::cache::{CachedResponse, MAX_CACHED_RESPONSE};
use std::sync::Arc;

/// Whether the request asks the cache to be bypassed and refilled (`Cache-Control: max-age=0`).
fn asks_invalidation(parts: &http::request::Parts) -> bool {
    parts
        .headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| d.trim().eq_ignore_ascii_case("max-age=0"))
}

/// The `Warning` AWS's strategy `SUCCEED_WITH_RESPONSE_HEADER` adds.
pub(crate) const IGNORED_WARNING: &str =
    "199 Cache-control headers were ignored because the caller was unauthorized.";

/// What the lookup decided.
pub(crate) enum Lookup {
    /// Served from the cache.
    Hit(Outcome),
    /// Refused (403 for an unauthorized invalidation under `FAIL_WITH_403`).
    Refused(Outcome),
    /// Call the integration; fill the cache with its answer if `store` says so.
    Miss {
        store: Option<PendingStore>,
        warn: bool,
    },
}

impl Gateway {
    /// The cache lookup step.
    pub(crate) fn cache_lookup(
        &self,
        step: &CacheLookup,
        x: &Exchange<'_>,
        parts: &mut http::request::Parts,
        body: &GatewayBody,
    ) -> Lookup {
        let key = step.key(|n| x.param(n), parts);
        // Decided on a miss only: a hit costs the key and one lookup.
        // A body that is not announced by a header (HTTP/2 DATA frames) counts as one.
        let no_body = http_body::Body::is_end_stream(body)
            || http_body::Body::size_hint(body).exact() == Some(0);
        let pending = |parts: &mut http::request::Parts, key: Bytes| {
            if !no_body || !step.storable(parts) {
                return None;
            }
            if !step.keys_header("accept-encoding") {
                // What is stored is served to every client: ask the backend for it unencoded.
                parts.headers.remove(header::ACCEPT_ENCODING);
            }
            Some(PendingStore {
                cache: step.cache.clone(),
                key,
                ttl: step.ttl,
            })
        };
        let mut warn = false;
        if asks_invalidation(parts) {
            // Portico has no IAM policies yet: no caller holds execute-api:InvalidateCache, so
            // invalidating works only where it takes no authorization.
            if !step.require_authorization {
                step.cache.invalidate(&key);
                return Lookup::Miss {
                    store: pending(parts, key),
                    warn: false,
                };
            }
            match step.unauthorized {
                Unauthorized::Fail => {
                    return Lookup::Refused(Outcome::fail(GatewayError::forbidden()));
                }
                Unauthorized::SucceedWithHeader => warn = true,
                Unauthorized::SucceedQuietly => {}
            }
        }
        match step.cache.get(&key) {
            Some(hit) => {
                let mut response = Response::new(GatewayBody::full(hit.body.clone()));
                *response.status_mut() = StatusCode::from_u16(hit.status).unwrap_or(StatusCode::OK);
                let headers = response.headers_mut();
                *headers = hit.headers.clone();
                if warn {
                    headers.insert(header::WARNING, HeaderValue::from_static(IGNORED_WARNING));
                }
                Lookup::Hit(Outcome {
                    response,
                    integration_latency: None,
                    integration_status: None,
                    error: None,
                    pending: false,
                    traced: false,
                })
            }
            None => Lookup::Miss {
                store: pending(parts, key),
                warn,
            },
        }
    }

    /// Fills the cache with a successful integration response whose body is known to fit (at
    /// most 1 MB); the response goes on to the client unchanged.
    pub(crate) async fn cache_store(&self, pending: PendingStore, outcome: &mut Outcome) {
        if outcome.error.is_some() || !outcome.response.status().is_success() {
            return;
        }
        // A response that sets a cookie or varies on everything is one caller's.
        let h = outcome.response.headers();
        if h.contains_key(header::SET_COOKIE)
            || h.get_all(header::VARY)
                .iter()
                .any(|v| v.as_bytes().contains(&b'*'))
        {
            return;
        }
        let Some(size) = http_body::Body::size_hint(outcome.response.body())
            .exact()
            .filter(|n| *n as usize <= MAX_CACHED_RESPONSE)
        else {
            return;
        };
        // The bytes come from the body budget while they are read; a spent budget means the
        // response goes on uncached, as it came.
        let mut hold = self.budget.hold();
        if !hold.grow(size) {
            return;
        }
        let body = std::mem::replace(outcome.response.body_mut(), GatewayBody::Empty);
        let read = tokio::time::timeout(
            crate::gateway::BODY_READ_LIMIT,
            http_body_util::BodyExt::collect(body),
        )
        .await;
        let bytes = match read {
            Ok(Ok(collected)) => collected.to_bytes(),
            // The backend broke off (or stalled) mid-body: what AWS answers for a broken
            // integration.
            Ok(Err(_)) | Err(_) => {
                *outcome = Outcome::fail(GatewayError::integration_unreachable());
                return;
            }
        };
        *outcome.response.body_mut() = GatewayBody::full(bytes.clone());
        let mut headers = outcome.response.headers().clone();
        headers.remove(header::CONNECTION);
        headers.remove(header::TRANSFER_ENCODING);
        let cached = CachedResponse {
            status: outcome.response.status().as_u16(),
            headers,
            body: bytes,
        };
        let _ = pending
            .cache
            .insert(pending.key, Arc::new(cached), pending.ttl);
    }
}
