//! JSON Web Tokens for `COGNITO_USER_POOLS` authorizers, generalised to any OpenID Connect
//! issuer: which issuer a provider ARN names, that issuer's keys (JWKS) fetched and cached, and
//! a token checked against them.
//!
//! The keys of an issuer are fetched once and shared by every stage that names it
//! ([`JwksRegistry`]): one fetch at a time (single flight), a token whose `kid` is unknown makes
//! at most one refetch per [`REFETCH_INTERVAL`] (a flood of made-up `kid`s is no fetch storm), and
//! a fetch is bounded by [`FETCH_TIMEOUT`] and [`MAX_JWKS_BYTES`]. The algorithm a token is checked
//! with is the key's, never the token's own `alg` (RFC 8725): an `HS256` token "signed" with an RSA
//! key's public half, or an `alg: none` one, is refused.
//!
//! The cryptography is `jsonwebtoken`'s (aws-lc-rs backend).

use crate::body::GatewayBody;
use crate::upstream::{TlsSettings, UpstreamPool, Upstreams};
use http_body_util::BodyExt;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How long one JWKS (or discovery document) fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_millis(1500);
/// The largest JWKS (or discovery document) read.
pub const MAX_JWKS_BYTES: usize = 150_000;
/// The fewest seconds between two fetches of one issuer's keys caused by an unknown `kid`.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// How long fetched keys are used before they are fetched again (a rotated key set).
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(3600);
/// The longest token looked at; a longer one is refused unread.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// How long a token whose signature verified is remembered (never past its `exp`).
pub const VERIFIED_TTL: Duration = Duration::from_secs(300);
/// Most verified tokens remembered per issuer.
const VERIFIED_CAP: usize = 10_000;

/// One token issuer as Portico's configuration names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerConfig {
    /// The `iss` its tokens carry.
    pub issuer: String,
    /// Where its keys are; `None`: found through `{issuer}/.well-known/openid-configuration`.
    pub jwks_uri: Option<String>,
    /// The app clients (`aud` of ID tokens, `client_id` of access tokens) accepted; empty: any.
    pub audiences: Vec<String>,
}

/// Issuers by provider ARN (Cognito user pool ARNs, or any name an authorizer's `providerARNs`
/// uses), from the configuration; a user pool ARN not configured is the real Cognito issuer.
#[derive(Debug, Default, Clone)]
pub struct Issuers {
    by_provider: HashMap<String, IssuerConfig>,
    /// Where Cognito's keys are fetched from instead of AWS (a local emulator: the
    /// `cognito-idp` AWS endpoint).
    cognito_endpoint: Option<String>,
}

impl Issuers {
    /// `by_provider`: provider ARN → issuer; `cognito_endpoint`: the `cognito-idp` endpoint for
    /// user pools not configured (their keys at `{endpoint}/{poolId}/.well-known/jwks.json`).
    pub fn new(
        by_provider: HashMap<String, IssuerConfig>,
        cognito_endpoint: Option<String>,
    ) -> Result<Self, String> {
        for (arn, i) in &by_provider {
            check_url(&i.issuer).map_err(|e| format!("issuer of {arn}: {e}"))?;
            if let Some(j) = &i.jwks_uri {
                check_url(j).map_err(|e| format!("JWKS of {arn}: {e}"))?;
            }
        }
        Ok(Self {
            by_provider,
            cognito_endpoint: cognito_endpoint.map(|e| e.trim_end_matches('/').to_owned()),
        })
    }

    /// The issuer `provider` (an entry of `providerARNs`) names: configured, else a Cognito user
    /// pool's (`arn:aws:cognito-idp:{region}:{account}:userpool/{poolId}`), else an issuer URL
    /// given directly.
    pub fn resolve(&self, provider: &str) -> Result<IssuerConfig, String> {
        if let Some(i) = self.by_provider.get(provider) {
            return Ok(i.clone());
        }
        if let Some(rest) = provider.strip_prefix("arn:aws:cognito-idp:") {
            let mut parts = rest.splitn(3, ':');
            let region = parts.next().unwrap_or("");
            let _account = parts.next();
            let pool = parts
                .next()
                .and_then(|p| p.strip_prefix("userpool/"))
                .filter(|p| !p.is_empty() && !region.is_empty())
                .ok_or_else(|| format!("{provider} is not a Cognito user pool ARN"))?;
            let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{pool}");
            let jwks = match &self.cognito_endpoint {
                Some(e) => format!("{e}/{pool}/.well-known/jwks.json"),
                None => format!("{issuer}/.well-known/jwks.json"),
            };
            return Ok(IssuerConfig {
                issuer,
                jwks_uri: Some(jwks),
                audiences: Vec::new(),
            });
        }
        if provider.starts_with("https://") || provider.starts_with("http://") {
            check_url(provider)?;
            let issuer = provider.trim_end_matches('/').to_owned();
            // A Cognito user pool's issuer URL (HTTP APIs' JWT authorizers name it so): its
            // keys from the `cognito-idp` endpoint when one is configured.
            let pool = issuer
                .strip_prefix("https://cognito-idp.")
                .and_then(|r| r.split_once(".amazonaws.com/"))
                .map(|(_, p)| p)
                .filter(|p| !p.is_empty() && !p.contains('/'));
            let jwks_uri = match (pool, &self.cognito_endpoint) {
                (Some(pool), Some(e)) => Some(format!("{e}/{pool}/.well-known/jwks.json")),
                _ => None,
            };
            return Ok(IssuerConfig {
                issuer,
                jwks_uri,
                audiences: Vec::new(),
            });
        }
        Err(format!(
            "provider {provider} is neither a Cognito user pool ARN, an issuer URL nor a configured issuer"
        ))
    }
}

fn check_url(u: &str) -> Result<(), String> {
    let uri: http::Uri = u.parse().map_err(|_| format!("{u} is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
        return Err(format!("{u} is not an http(s) URL with a host"));
    }
    Ok(())
}

/// One verification key: the algorithm is the key's.
struct Key {
    decoding: DecodingKey,
    alg: Algorithm,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("alg", &self.alg).finish()
    }
}

#[derive(Debug, Default)]
struct KeyState {
    keys: Arc<HashMap<String, Arc<Key>>>,
    /// When `keys` were fetched.
    fetched: Option<Instant>,
    /// When the last fetch (successful or not) started.
    attempted: Option<Instant>,
}

/// One issuer's keys, fetched on first use and kept.
#[derive(Debug)]
pub struct Jwks {
    issuer: IssuerConfig,
    upstreams_pool: Mutex<HashMap<String, Arc<UpstreamPool>>>,
    state: Mutex<KeyState>,
    /// Held while fetching: one fetch at a time.
    fetching: tokio::sync::Mutex<()>,
    /// Tokens whose signature, issuer and times verified (by SHA-256 of the token), until
    /// their `exp` or [`VERIFIED_TTL`]: a token seen again skips the signature check.
    verified: Mutex<HashMap<[u8; 32], (Instant, Claims)>>,
}

/// Why a key could not be had.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The issuer has no key with this `kid` (after a refetch, or within the refetch interval).
    Unknown,
    /// The keys could not be fetched (and none are held).
    Unavailable(String),
}

impl Jwks {
    fn new(issuer: IssuerConfig) -> Self {
        Self {
            issuer,
            upstreams_pool: Mutex::default(),
            state: Mutex::default(),
            fetching: tokio::sync::Mutex::new(()),
            verified: Mutex::default(),
        }
    }

    /// The issuer these keys are for.
    pub fn issuer(&self) -> &IssuerConfig {
        &self.issuer
    }

    fn held(&self, kid: &str) -> (Option<Arc<Key>>, bool) {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = s.fetched.is_some_and(|t| t.elapsed() < KEYS_MAX_AGE);
        (s.keys.get(kid).cloned(), fresh)
    }

    /// The key `kid`, fetching the key set when it is not held (at most once per
    /// [`REFETCH_INTERVAL`] for a `kid` the issuer does not have).
    async fn key(&self, upstreams: &Upstreams, kid: &str) -> Result<Arc<Key>, KeyError> {
        if let (Some(k), true) = self.held(kid) {
            return Ok(k);
        }
        let _one = self.fetching.lock().await;
        // Another request may have fetched while this one waited.
        let (held, fresh) = self.held(kid);
        if let (Some(k), true) = (&held, fresh) {
            return Ok(k.clone());
        }
        let recently = {
            let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.attempted.is_some_and(|t| t.elapsed() < REFETCH_INTERVAL)
        };
        if recently {
            // A stale key is still better than none while the refetch waits.
            return held.ok_or(KeyError::Unknown);
        }
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .attempted = Some(Instant::now());
        match self.fetch(upstreams).await {
            Ok(keys) => {
                let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                s.keys = Arc::new(keys);
                s.fetched = Some(Instant::now());
                s.keys.get(kid).cloned().ok_or(KeyError::Unknown)
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer.issuer, "cannot fetch the issuer's keys: {e}");
                held.ok_or(KeyError::Unavailable(e))
            }
        }
    }

    async fn fetch(&self, upstreams: &Upstreams) -> Result<HashMap<String, Arc<Key>>, String> {
        let jwks_uri = match &self.issuer.jwks_uri {
            Some(u) => u.clone(),
            None => {
                let doc = self
                    .get(
                        upstreams,
                        &format!("{}/.well-known/openid-configuration", self.issuer.issuer),
                    )
                    .await?;
                let v: Value = serde_json::from_slice(&doc)
                    .map_err(|e| format!("discovery document is not JSON: {e}"))?;
                let u = v
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or("discovery document has no jwks_uri")?;
                check_url(u)?;
                u.to_owned()
            }
        };
        let body = self.get(upstreams, &jwks_uri).await?;
        parse_key_set(&body)
    }

    /// GET `url`, bounded in time and size.
    async fn get(&self, upstreams: &Upstreams, url: &str) -> Result<bytes::Bytes, String> {
        let uri: http::Uri = url.parse().map_err(|_| format!("{url} is not a URL"))?;
        let authority = uri.authority().ok_or("no host")?.clone();
        let pool = {
            let mut pools = self
                .upstreams_pool
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match pools.get(authority.as_str()) {
                Some(p) => p.clone(),
                None => {
                    let tls = (uri.scheme_str() == Some("https")).then(TlsSettings::default);
                    let p = upstreams.pool(&authority, tls)?;
                    pools.insert(authority.as_str().to_owned(), p.clone());
                    p
                }
            }
        };
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let req = http::Request::get(path)
            .header(http::header::ACCEPT, "application/json")
            .body(GatewayBody::full(bytes::Bytes::new()))
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + FETCH_TIMEOUT;
        let resp = pool
            .send_within(req, FETCH_TIMEOUT)
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url} answered {}", resp.status()));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let body = http_body_util::Limited::new(resp.into_body(), MAX_JWKS_BYTES);
        match tokio::time::timeout(left, body.collect()).await {
            Ok(Ok(b)) => Ok(b.to_bytes()),
            Ok(Err(e)) => Err(format!("GET {url}: {e} (at most {MAX_JWKS_BYTES} bytes)")),
            Err(_) => Err(format!("GET {url}: took over {FETCH_TIMEOUT:?}")),
        }
    }
}

/// The usable keys of a JWKS document: public signing keys with a `kid` whose algorithm is
/// known (the key's `alg`, else the only one its type and curve allow).
fn parse_key_set(body: &[u8]) -> Result<HashMap<String, Arc<Key>>, String> {
    let set: JwkSet = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut out = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if let Some(key) = key_of(jwk) {
            out.insert(kid, Arc::new(key));
        }
    }
    Ok(out)
}

fn key_of(jwk: &Jwk) -> Option<Key> {
    let alg = match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(a), _) => match a {
            KeyAlgorithm::RS256 => Algorithm::RS256,
            KeyAlgorithm::RS384 => Algorithm::RS384,
            KeyAlgorithm::RS512 => Algorithm::RS512,
            KeyAlgorithm::PS256 => Algorithm::PS256,
            KeyAlgorithm::PS384 => Algorithm::PS384,
            KeyAlgorithm::PS512 => Algorithm::PS512,
            KeyAlgorithm::ES256 => Algorithm::ES256,
            KeyAlgorithm::ES384 => Algorithm::ES384,
            KeyAlgorithm::EdDSA => Algorithm::EdDSA,
            // Shared secrets are never published in a JWKS an issuer trusts.
            _ => return None,
        },
        (None, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
        (None, AlgorithmParameters::EllipticCurve(ec)) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        (None, AlgorithmParameters::OctetKeyPair(_)) => Algorithm::EdDSA,
        (None, _) => return None,
    };
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return None;
    }
    let decoding = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key { decoding, alg })
}

/// Key sets by issuer, shared by every stage (compiled routes hold them; this map finds them).
#[derive(Debug, Default)]
pub struct JwksRegistry {
    sets: Mutex<HashMap<IssuerKey, Weak<Jwks>>>,
    issuers: Mutex<Arc<Issuers>>,
}

type IssuerKey = (String, Option<String>, Vec<String>);

impl JwksRegistry {
    /// Replaces the issuer configuration (stages compiled afterwards use it).
    pub fn set_issuers(&self, issuers: Issuers) {
        *self.issuers.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(issuers);
    }

    /// The key set of the issuer `provider` names, shared with every other user of it.
    pub fn for_provider(&self, provider: &str) -> Result<Arc<Jwks>, String> {
        let issuer = self
            .issuers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .resolve(provider)?;
        let key = (
            issuer.issuer.clone(),
            issuer.jwks_uri.clone(),
            issuer.audiences.clone(),
        );
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = sets.get(&key).and_then(Weak::upgrade) {
            return Ok(s);
        }
        sets.retain(|_, w| w.strong_count() > 0);
        let s = Arc::new(Jwks::new(issuer));
        sets.insert(key, Arc::downgrade(&s));
        Ok(s)
    }
}

/// Why a token was refused (every one is a 401).
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not a well-formed JWT, an unusable header, a bad signature, a wrong issuer or audience,
    /// the wrong kind of token or a missing scope.
    Invalid(&'static str),
    /// Past its `exp`.
    Expired,
    /// The issuer's keys could not be fetched.
    KeysUnavailable,
}

/// What a verified token says: its claims, in the token's order (shared: a remembered token's
/// claims are not copied per request).
#[derive(Debug, Clone, PartialEq)]
pub struct Claims(pub Arc<serde_json::Map<String, Value>>);

impl Claims {
    /// The claims as `$context.authorizer.claims` and a Lambda proxy event show them, every
    /// value as text the way API Gateway writes it: `exp`, `iat` and `nbf` as Java dates
    /// (`Tue Apr 04 18:39:39 UTC 2023`), a list comma-joined (`cognito:groups`), other values
    /// as their JSON text.
    pub fn as_text(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .map(|(k, v)| {
                let t = match (k.as_str(), v) {
                    ("exp" | "iat" | "nbf", Value::Number(n)) => n
                        .as_i64()
                        .and_then(java_date)
                        .unwrap_or_else(|| n.to_string()),
                    (_, Value::String(s)) => s.clone(),
                    (_, Value::Array(a)) => a
                        .iter()
                        .map(|x| match x {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    (_, other) => other.to_string(),
                };
                (k.clone(), t)
            })
            .collect()
    }
}

/// `seconds` since the epoch as Java's `Date.toString()` in UTC.
fn java_date(seconds: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(seconds).ok()?;
    let f = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]"
    );
    t.format(&f).ok()
}

/// The token of an `Authorization`-style value: raw, or after a `Bearer ` scheme (any case).
pub(crate) fn bearer(v: &str) -> &str {
    let v = v.trim();
    match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => v[7..].trim_start(),
        _ => v,
    }
}

/// What a method asks of a token besides a valid signature.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    /// `authorizationScopes`: one of them must be in the access token's `scope`; empty: an ID
    /// token is expected.
    pub scopes: Vec<String>,
    /// The authorizer's `identityValidationExpression`: the token's `aud` must match it in
    /// full (so an access token, which has none, is refused).
    pub audience: Option<regex::Regex>,
}

/// Checks `token` against `jwks`' issuer: signature by the key its `kid` names with that key's
/// algorithm, `exp` and `nbf` (no leeway), `iss`, the app client when the issuer lists them, and
/// `token_use`/`scope` against `req`.
pub async fn verify(
    jwks: &Jwks,
    upstreams: &Upstreams,
    token: &str,
    req: &Requirements,
) -> Result<Claims, Refused> {
    let claims = verify_token(jwks, upstreams, token).await?;
    check_requirements(&claims, jwks.issuer(), req)?;
    Ok(claims)
}

/// What holds for a token whoever asks: signature by the key its `kid` names with that key's
/// algorithm, `exp` and `nbf` (no leeway), `iss` — remembered per issuer until `exp` (at most
/// [`VERIFIED_TTL`]), so a repeated token skips the signature check. The caller checks what
/// its route asks (audiences, scopes).
pub async fn verify_token(
    jwks: &Jwks,
    upstreams: &Upstreams,
    token: &str,
) -> Result<Claims, Refused> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Refused::Invalid("token too long"));
    }
    let digest: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(token.as_bytes()).into()
    };
    let remembered = {
        let mut m = jwks.verified.lock().unwrap_or_else(|e| e.into_inner());
        match m.get(&digest) {
            Some((until, c)) if *until > Instant::now() => Some(c.clone()),
            Some(_) => {
                m.remove(&digest);
                None
            }
            None => None,
        }
    };
    let claims = match remembered {
        Some(c) => c,
        None => {
            let header =
                jsonwebtoken::decode_header(token).map_err(|_| Refused::Invalid("header"))?;
            let kid = header.kid.as_deref().ok_or(Refused::Invalid("no kid"))?;
            let key = match jwks.key(upstreams, kid).await {
                Ok(k) => k,
                Err(KeyError::Unknown) => return Err(Refused::Invalid("unknown kid")),
                Err(KeyError::Unavailable(_)) => return Err(Refused::KeysUnavailable),
            };
            let c = verify_signature(token, &key, jwks.issuer())?;
            remember(jwks, digest, &c);
            c
        }
    };
    Ok(claims)
}

/// Keeps verified `claims` until their `exp` (at most [`VERIFIED_TTL`]).
fn remember(jwks: &Jwks, digest: [u8; 32], claims: &Claims) {
    let now = Instant::now();
    let left = claims
        .0
        .get("exp")
        .and_then(Value::as_i64)
        .map(|exp| exp - time::OffsetDateTime::now_utc().unix_timestamp())
        .unwrap_or(0);
    if left <= 0 {
        return;
    }
    let until = now + VERIFIED_TTL.min(Duration::from_secs(left as u64));
    let mut m = jwks.verified.lock().unwrap_or_else(|e| e.into_inner());
    if m.len() >= VERIFIED_CAP {
        m.retain(|_, (u, _)| *u > now);
        if m.len() >= VERIFIED_CAP {
            m.clear();
        }
    }
    m.insert(digest, (until, claims.clone()));
}

/// The checks that hold for the token whoever asks: signature by `key` with that key's
/// algorithm, `exp` and `nbf` (no leeway), `iss`.
fn verify_signature(token: &str, key: &Key, issuer: &IssuerConfig) -> Result<Claims, Refused> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Refused::Invalid("header"))?;
    if header.alg != key.alg {
        return Err(Refused::Invalid("algorithm is not the key's"));
    }
    let mut v = Validation::new(key.alg);
    v.leeway = 0;
    v.validate_nbf = true;
    v.validate_aud = false;
    v.set_issuer(&[issuer.issuer.as_str()]);
    v.set_required_spec_claims(&["exp", "iss"]);
    let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key.decoding, &v)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => Refused::Expired,
            _ => Refused::Invalid("signature or claims"),
        })?;
    Ok(Claims(Arc::new(data.claims)))
}

/// What the method and the issuer's configuration ask of a verified token: `token_use` and
/// scopes, `identityValidationExpression` against `aud`, the accepted app clients.
fn check_requirements(
    claims: &Claims,
    issuer: &IssuerConfig,
    req: &Requirements,
) -> Result<(), Refused> {
    let claims = &claims.0;
    let token_use = claims.get("token_use").and_then(Value::as_str);
    if req.scopes.is_empty() {
        // Without scopes the method wants an identity (ID) token.
        if token_use.is_some_and(|u| u != "id") {
            return Err(Refused::Invalid("not an ID token"));
        }
    } else {
        if token_use.is_some_and(|u| u != "access") {
            return Err(Refused::Invalid("not an access token"));
        }
        let granted = claims.get("scope").and_then(Value::as_str).unwrap_or("");
        if !granted
            .split(' ')
            .any(|s| !s.is_empty() && req.scopes.iter().any(|r| r == s))
        {
            return Err(Refused::Invalid("no required scope"));
        }
    }
    if let Some(re) = &req.audience
        && !claims
            .get("aud")
            .and_then(Value::as_str)
            .is_some_and(|a| re.is_match(a))
    {
        return Err(Refused::Invalid(
            "aud does not match identityValidationExpression",
        ));
    }
    if !issuer.audiences.is_empty() {
        let mut clients: Vec<&str> = Vec::new();
        match claims.get("aud") {
            Some(Value::String(a)) => clients.push(a),
            Some(Value::Array(a)) => clients.extend(a.iter().filter_map(Value::as_str)),
            _ => {}
        }
        if let Some(c) = claims.get("client_id").and_then(Value::as_str) {
            clients.push(c);
        }
        if !clients
            .iter()
            .any(|c| issuer.audiences.iter().any(|a| a == c))
        {
            return Err(Refused::Invalid("audience"));
        }
    }
    Ok(())
}

#[cfg(test)]
fn check(
    token: &str,
    key: &Key,
    issuer: &IssuerConfig,
    req: &Requirements,
) -> Result<Claims, Refused> {
    let c = verify_signature(token, key, issuer)?;
    check_requirements(&c, issuer, req)?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test";

    struct Signer {
        encoding: EncodingKey,
        jwks: Vec<u8>,
        public_pem: String,
    }

    fn signer() -> Signer {
        let kp = rcgen::KeyPair::generate().unwrap();
        let raw = kp.public_key_raw();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwks = json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
             "x": b64(&raw[1..33]), "y": b64(&raw[33..65])},
            {"kty": "oct", "kid": "shared", "k": b64(b"secret")},
            {"kty": "EC", "crv": "P-256", "x": b64(&raw[1..33]), "y": b64(&raw[33..65])}
        ]});
        Signer {
            encoding: EncodingKey::from_ec_der(&kp.serialize_der()),
            jwks: serde_json::to_vec(&jwks).unwrap(),
            public_pem: kp.public_key_pem(),
        }
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn token(s: &Signer, claims: Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some("k1".into());
        jsonwebtoken::encode(&h, &claims, &s.encoding).unwrap()
    }

    fn id_claims() -> Value {
        json!({"sub": "u-1", "cognito:groups": ["admins", "ops"], "iss": ISS, "aud": "web",
               "token_use": "id", "auth_time": 1680629979, "exp": now() + 600, "iat": now(),
               "email_verified": true})
    }

    fn issuer(audiences: &[&str]) -> IssuerConfig {
        IssuerConfig {
            issuer: ISS.into(),
            jwks_uri: None,
            audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    fn key(s: &Signer) -> Arc<Key> {
        let keys = parse_key_set(&s.jwks).unwrap();
        assert_eq!(keys.len(), 1, "only the EC key with a kid is usable");
        keys["k1"].clone()
    }

    fn scopes(s: &[&str]) -> Requirements {
        Requirements {
            scopes: s.iter().map(|x| (*x).to_owned()).collect(),
            audience: None,
        }
    }

    #[test]
    fn a_valid_id_token_gives_its_claims_as_api_gateway_writes_them() {
        let s = signer();
        let c = check(
            &token(&s, id_claims()),
            &key(&s),
            &issuer(&[]),
            &scopes(&[]),
        )
        .unwrap();
        let text: HashMap<_, _> = c.as_text().into_iter().collect();
        assert_eq!(text["sub"], "u-1");
        assert_eq!(text["cognito:groups"], "admins,ops");
        assert_eq!(text["auth_time"], "1680629979");
        assert_eq!(text["email_verified"], "true");
        assert_eq!(
            java_date(1680633579).unwrap(),
            "Tue Apr 04 18:39:39 UTC 2023"
        );
        assert_eq!(
            java_date(1617021642).unwrap(),
            "Mon Mar 29 12:40:42 UTC 2021"
        );
        let exp = c.0["exp"].as_i64().unwrap();
        assert_eq!(text["exp"], java_date(exp).unwrap());
        let shape =
            regex::Regex::new(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4}$");
        assert!(shape.unwrap().is_match(&text["iat"]), "{}", text["iat"]);
    }

    #[test]
    fn time_issuer_audience_and_token_kind_are_checked() {
        let s = signer();
        let k = key(&s);
        let with = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
            let mut c = id_claims();
            f(c.as_object_mut().unwrap());
            token(&s, c)
        };
        let none = scopes(&[]);
        let expired = with(&|c| {
            c.insert("exp".into(), json!(now() - 1));
        });
        assert_eq!(
            check(&expired, &k, &issuer(&[]), &none),
            Err(Refused::Expired)
        );
        let early = with(&|c| {
            c.insert("nbf".into(), json!(now() + 300));
        });
        assert!(matches!(
            check(&early, &k, &issuer(&[]), &none),
            Err(Refused::Invalid(_))
        ));
        let other_iss = with(&|c| {
            c.insert("iss".into(), json!("https://evil.example"));
        });
        assert!(check(&other_iss, &k, &issuer(&[]), &none).is_err());
        let no_exp = with(&|c| {
            c.remove("exp");
        });
        assert!(check(&no_exp, &k, &issuer(&[]), &none).is_err());
        let good = token(&s, id_claims());
        assert!(check(&good, &k, &issuer(&["web"]), &none).is_ok());
        assert!(check(&good, &k, &issuer(&["mobile"]), &none).is_err());
        // An ID token where scopes are required, an access token where an ID token is.
        assert!(check(&good, &k, &issuer(&[]), &scopes(&["orders/read"])).is_err());
        let access = with(&|c| {
            c.insert("token_use".into(), json!("access"));
            c.remove("aud");
            c.insert("client_id".into(), json!("web"));
            c.insert("scope".into(), json!("openid orders/read"));
        });
        assert!(check(&access, &k, &issuer(&[]), &none).is_err());
        assert!(check(&access, &k, &issuer(&["web"]), &scopes(&["orders/read"])).is_ok());
        assert!(check(&access, &k, &issuer(&[]), &scopes(&["orders/write"])).is_err());
        // identityValidationExpression matches `aud`: an access token has none.
        let aud = |re: &str| Requirements {
            scopes: Vec::new(),
            audience: Some(regex::Regex::new(&format!("^(?:{re})$")).unwrap()),
        };
        assert!(check(&good, &k, &issuer(&[]), &aud("we.")).is_ok());
        assert!(check(&good, &k, &issuer(&[]), &aud("mobile")).is_err());
    }

    #[test]
    fn the_algorithm_is_the_keys_never_the_tokens() {
        let s = signer();
        let k = key(&s);
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let payload = b64(&serde_json::to_vec(&id_claims()).unwrap());
        // alg none, with and without a signature.
        let none = format!("{}.{payload}.", b64(br#"{"alg":"none","kid":"k1"}"#));
        assert!(check(&none, &k, &issuer(&[]), &scopes(&[])).is_err());
        // HS256 "signed" with the public key as the shared secret.
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("k1".into());
        let confused = jsonwebtoken::encode(
            &h,
            &id_claims(),
            &EncodingKey::from_secret(s.public_pem.as_bytes()).unwrap(),
        )
        .unwrap();
        assert_eq!(
            check(&confused, &k, &issuer(&[]), &scopes(&[])),
            Err(Refused::Invalid("algorithm is not the key's"))
        );
        // A valid token with one byte of its signature changed.
        let mut t = token(&s, id_claims()).into_bytes();
        let last = t.len() - 2;
        t[last] = if t[last] == b'A' { b'B' } else { b'A' };
        let t = String::from_utf8(t).unwrap();
        assert!(check(&t, &k, &issuer(&[]), &scopes(&[])).is_err());
        for junk in ["", "a.b.c", "not a token", "..", "e30.e30.e30"] {
            assert!(
                check(junk, &k, &issuer(&[]), &scopes(&[])).is_err(),
                "{junk}"
            );
        }
    }

    #[test]
    fn providers_resolve_to_issuers() {
        let i = Issuers::new(HashMap::new(), None).unwrap();
        let c = i
            .resolve("arn:aws:cognito-idp:us-east-1:123:userpool/us-east-1_abc")
            .unwrap();
        assert_eq!(
            c.issuer,
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc"
        );
        assert_eq!(
            c.jwks_uri.as_deref(),
            Some("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc/.well-known/jwks.json")
        );
        assert_eq!(
            i.resolve("https://login.example/").unwrap().issuer,
            "https://login.example"
        );
        assert!(
            i.resolve("arn:aws:cognito-idp:us-east-1:123:userpool/")
                .is_err()
        );
        assert!(i.resolve("ftp://x").is_err());
        assert!(parse_key_set(b"[]").is_err());
        assert!(parse_key_set(br#"{"keys":[]}"#).unwrap().is_empty());
    }
}
