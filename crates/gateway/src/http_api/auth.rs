//! Who may call an HTTP API route (`authorizationType`): `NONE`, or a `JWT` authorizer — the
//! issuer's key set shared through [`crate::jwt::JwksRegistry`], the authorizer's audiences and
//! the route's scopes, fixed when the stage compiles. Other types are refused at compile time
//! (the route answers 500: never served without the check it asks for).
//!
//! As AWS answers: no token → 401 `{"message":"Unauthorized"}` with `www-authenticate: Bearer`;
//! an invalid, expired or wrong-audience token → 401 with `error="invalid_token"`; a valid
//! token without one of the route's scopes → 403 `{"message":"Forbidden"}`.

use crate::jwt::{Claims, Jwks, Refused};
use crate::upstream::Upstreams;
use http::HeaderName;
use portico_model::http::{HttpApiSnapshot, Route};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// A route's authorization, compiled.
#[derive(Debug)]
pub(crate) enum RouteAuth {
    /// `NONE`.
    None,
    /// A `JWT` authorizer.
    Jwt(Box<JwtAuth>),
    /// A Lambda (`REQUEST`, `CUSTOM` on the route) authorizer.
    Lambda(Box<LambdaAuth>),
    /// `AWS_IAM`: a SigV4-signed request from a configured principal whose policy allows the
    /// route ARN.
    Iam,
}

/// One identity source of a Lambda authorizer.
#[derive(Debug, Clone)]
pub(crate) enum IdentitySource {
    Header(HeaderName),
    Query(String),
    Context(String),
    StageVariable(String),
}

/// A Lambda authorizer on one route.
#[derive(Debug)]
pub(crate) struct LambdaAuth {
    pub(crate) id: Box<str>,
    /// The function and its timeout.
    pub(crate) function: crate::lambda_target::LambdaProxyIntegration,
    /// `authorizerPayloadFormatVersion` 2.0 (else 1.0).
    pub(crate) v2: bool,
    /// `enableSimpleResponses`.
    pub(crate) simple: bool,
    /// `identitySource`: every one must be present (else 401, the function not called).
    pub(crate) sources: Vec<IdentitySource>,
    /// `authorizerResultTtlInSeconds` (0: no caching).
    pub(crate) ttl: std::time::Duration,
    /// Results by identity, shared by the routes of the stage that use this authorizer.
    pub(crate) cache: Arc<crate::steps::authorizer::AuthorizerCache<LambdaResult>>,
}

/// What a Lambda authorizer answered.
#[derive(Debug)]
pub(crate) struct LambdaResult {
    /// A simple response's `isAuthorized`, or an IAM policy (evaluated per route ARN).
    pub(crate) verdict: LambdaVerdict,
    /// `context`, as the function gave it.
    pub(crate) context: Value,
    /// `principalId` of a policy response.
    pub(crate) principal_id: Option<String>,
}

/// A Lambda authorizer's answer about access.
#[derive(Debug)]
pub(crate) enum LambdaVerdict {
    Simple(bool),
    Policy(crate::steps::authorizer::Decision),
}

impl LambdaResult {
    /// Parses the function's output: `{isAuthorized, context}` (simple responses) or an IAM
    /// policy `{principalId, policyDocument, context}`.
    pub(crate) fn parse(payload: &[u8], simple: bool) -> Result<Self, String> {
        let v: Value = serde_json::from_slice(payload)
            .map_err(|e| format!("invalid JSON in response: {e}"))?;
        let context = v.get("context").cloned().unwrap_or(Value::Null);
        if !(context.is_null() || context.is_object()) {
            return Err("context is not an object".into());
        }
        if simple {
            let Some(Value::Bool(b)) = v.get("isAuthorized") else {
                return Err("a simple response needs a boolean isAuthorized".into());
            };
            return Ok(Self {
                verdict: LambdaVerdict::Simple(*b),
                context,
                principal_id: None,
            });
        }
        let Value::Object(mut o) = v else {
            return Err("the response is not a JSON object".into());
        };
        // The IAM format of HTTP APIs: context values may be any JSON; the policy is parsed
        // as REST's.
        o.remove("context");
        let d = crate::steps::authorizer::parse_output(
            &serde_json::to_vec(&Value::Object(o)).unwrap_or_default(),
        )
        .map_err(|e| e.0)?;
        Ok(Self {
            principal_id: Some(d.principal_id.clone()),
            verdict: LambdaVerdict::Policy(d),
            context,
        })
    }

    /// Whether the request to `route_arn` is allowed.
    pub(crate) fn allows(&self, route_arn: &str) -> bool {
        match &self.verdict {
            LambdaVerdict::Simple(b) => *b,
            LambdaVerdict::Policy(d) => {
                d.verdict(route_arn) == crate::steps::authorizer::Verdict::Allow
            }
        }
    }

    /// `requestContext.authorizer` of the integration's event: `{"lambda": context}` (with
    /// `principalId` for a policy response).
    pub(crate) fn event_value(&self) -> Value {
        let mut ctx = match &self.context {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        if let Some(p) = &self.principal_id {
            ctx.insert("principalId".into(), json!(p));
        }
        json!({ "lambda": ctx })
    }

    /// `requestContext.authorizer` as WebSocket (and REST) events carry it: `principalId`, then
    /// the context's keys, flat.
    pub(crate) fn flat_value(&self) -> Value {
        let mut out = Map::new();
        if let Some(p) = &self.principal_id {
            out.insert("principalId".into(), json!(p));
        }
        if let Value::Object(m) = &self.context {
            for (k, v) in m {
                out.insert(k.clone(), v.clone());
            }
        }
        Value::Object(out)
    }
}

/// Where a JWT authorizer reads the token.
#[derive(Debug)]
enum Source {
    Header(HeaderName),
    Query(String),
}

/// A `JWT` authorizer on one route.
#[derive(Debug)]
pub(crate) struct JwtAuth {
    id: Box<str>,
    source: Source,
    jwks: Arc<Jwks>,
    /// `jwtConfiguration.audience`: the token's `aud` (or an access token's `client_id`) must
    /// be one of them.
    audiences: Vec<String>,
    /// The route's `authorizationScopes`: the token's `scope`/`scp` must hold one.
    scopes: Vec<String>,
}

/// Why a request is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Denied {
    /// 401 with this `www-authenticate` value.
    Unauthorized(String),
    /// 403 with this `www-authenticate` value.
    Forbidden(String),
}

impl LambdaAuth {
    /// A Lambda authorizer of an HTTP API (identity sources `$request.header.X`, …); its result
    /// cache comes from `caches` (one per authorizer in the stage).
    pub(crate) fn from_authorizer(
        a: &portico_model::http::Authorizer,
        stage: &portico_model::http::Stage,
        caches: &mut std::collections::HashMap<
            String,
            Arc<crate::steps::authorizer::AuthorizerCache<LambdaResult>>,
        >,
    ) -> Result<Self, String> {
        let uri = crate::uri::substitute_stage_variables(
            a.authorizer_uri.as_deref().unwrap_or(""),
            &stage.stage_variables,
        );
        let (function, qualifier, arn) = super::lambda_function(&uri)?;
        let sources = a
            .identity_source
            .iter()
            .map(|s| {
                if let Some(h) = s.strip_prefix("$request.header.") {
                    HeaderName::from_bytes(h.as_bytes())
                        .map(IdentitySource::Header)
                        .map_err(|_| format!("invalid identity source {s}"))
                } else if let Some(q) = s.strip_prefix("$request.querystring.") {
                    Ok(IdentitySource::Query(q.to_owned()))
                } else if let Some(c) = s.strip_prefix("$context.") {
                    Ok(IdentitySource::Context(c.to_owned()))
                } else if let Some(v) = s.strip_prefix("$stageVariables.") {
                    Ok(IdentitySource::StageVariable(v.to_owned()))
                } else {
                    Err(format!("invalid identity source {s}"))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ttl = a
            .authorizer_result_ttl_in_seconds
            .unwrap_or(0)
            .clamp(0, 3600);
        Ok(LambdaAuth {
            id: a.authorizer_id.as_str().into(),
            function: crate::lambda_target::LambdaProxyIntegration {
                function: function.into(),
                qualifier: qualifier.map(Into::into),
                arn: arn.into(),
                timeout: std::time::Duration::from_secs(10),
            },
            v2: a.authorizer_payload_format_version.as_deref() == Some("2.0"),
            simple: a.enable_simple_responses == Some(true),
            sources,
            ttl: std::time::Duration::from_secs(ttl as u64),
            cache: caches.entry(a.authorizer_id.clone()).or_default().clone(),
        })
    }

    /// A Lambda REQUEST authorizer of a WebSocket API: its identity sources are written
    /// `route.request.header.X`, `route.request.querystring.X`, `stageVariables.X`,
    /// `context.X`.
    pub(crate) fn compile_websocket(
        a: &portico_model::http::Authorizer,
        stage: &portico_model::http::Stage,
        caches: &mut std::collections::HashMap<
            String,
            Arc<crate::steps::authorizer::AuthorizerCache<LambdaResult>>,
        >,
    ) -> Result<Self, String> {
        let mut a = a.clone();
        for s in &mut a.identity_source {
            let http_form = [
                ("route.request.header.", "$request.header."),
                ("route.request.querystring.", "$request.querystring."),
                ("stageVariables.", "$stageVariables."),
                ("context.", "$context."),
            ]
            .iter()
            .find_map(|(ws, http)| s.strip_prefix(ws).map(|rest| format!("{http}{rest}")));
            *s = http_form.ok_or_else(|| format!("invalid identity source {s}"))?;
        }
        a.authorizer_payload_format_version = Some("1.0".into());
        a.enable_simple_responses = None;
        Self::from_authorizer(&a, stage, caches)
    }
}

impl RouteAuth {
    /// Compiles the route's authorization against the deployment's authorizers; Lambda
    /// authorizers' result caches come from `caches` (one per authorizer in the stage).
    pub(crate) fn compile(
        r: &Route,
        snap: &HttpApiSnapshot,
        stage: &portico_model::http::Stage,
        registry: Option<&crate::jwt::JwksRegistry>,
        caches: &mut std::collections::HashMap<
            String,
            Arc<crate::steps::authorizer::AuthorizerCache<LambdaResult>>,
        >,
    ) -> Result<Self, String> {
        match r.authorization_type.as_str() {
            "NONE" => Ok(Self::None),
            "CUSTOM" => {
                let id = r.authorizer_id.as_deref().unwrap_or("");
                let a = snap
                    .authorizers
                    .iter()
                    .find(|a| a.authorizer_id == id)
                    .ok_or_else(|| format!("the route's authorizer {id} does not exist"))?;
                Ok(Self::Lambda(Box::new(LambdaAuth::from_authorizer(
                    a, stage, caches,
                )?)))
            }
            "JWT" => {
                let id = r.authorizer_id.as_deref().unwrap_or("");
                let a = snap
                    .authorizers
                    .iter()
                    .find(|a| a.authorizer_id == id)
                    .ok_or_else(|| format!("the route's authorizer {id} does not exist"))?;
                let jwt = a.jwt_configuration.as_ref();
                let issuer = jwt
                    .and_then(|j| j.issuer.as_deref())
                    .ok_or_else(|| format!("JWT authorizer {id} has no issuer"))?;
                let registry =
                    registry.ok_or_else(|| "no key sets for JWT authorizers here".to_string())?;
                let source = a
                    .identity_source
                    .first()
                    .map(String::as_str)
                    .unwrap_or("$request.header.Authorization");
                let source = if let Some(h) = source.strip_prefix("$request.header.") {
                    Source::Header(
                        HeaderName::from_bytes(h.as_bytes())
                            .map_err(|_| format!("invalid identity source {source}"))?,
                    )
                } else if let Some(q) = source.strip_prefix("$request.querystring.") {
                    Source::Query(q.to_owned())
                } else {
                    return Err(format!(
                        "identity source {source} is not $request.header.X or $request.querystring.X"
                    ));
                };
                let audiences = jwt.and_then(|j| j.audience.clone()).unwrap_or_default();
                if audiences.is_empty() {
                    // Never fail open: a JWT authorizer without audiences is refused when made;
                    // one that still has none (older data) does not serve.
                    return Err(format!("JWT authorizer {id} has no audience"));
                }
                Ok(Self::Jwt(Box::new(JwtAuth {
                    id: id.into(),
                    source,
                    jwks: registry.for_provider(issuer)?,
                    audiences,
                    scopes: r.authorization_scopes.clone().unwrap_or_default(),
                })))
            }
            "AWS_IAM" => Ok(Self::Iam),
            other => Err(format!(
                "authorization type {other} is not supported for HTTP APIs"
            )),
        }
    }

    /// For `portico routes`.
    pub(crate) fn describe(&self) -> Option<String> {
        match self {
            Self::None => None,
            Self::Jwt(j) => Some(format!("jwt({} → {})", j.id, j.jwks.issuer().issuer)),
            Self::Iam => Some("aws-iam".into()),
            Self::Lambda(l) => Some(format!(
                "lambda-authorizer({} → {}, payload {}{})",
                l.id,
                l.function.function,
                if l.v2 { "2.0" } else { "1.0" },
                if l.ttl.is_zero() {
                    String::new()
                } else {
                    format!(", cached {} s", l.ttl.as_secs())
                }
            )),
        }
    }
}

impl JwtAuth {
    /// Checks the request's token; the `requestContext.authorizer` of the event when it passes.
    pub(crate) async fn check(
        &self,
        upstreams: &Upstreams,
        parts: &http::request::Parts,
    ) -> Result<Value, Denied> {
        let raw = match &self.source {
            Source::Header(h) => parts
                .headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            Source::Query(q) => parts.uri.query().and_then(|query| {
                query.split('&').find_map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (k == q).then(|| {
                        percent_encoding::percent_decode_str(v)
                            .decode_utf8_lossy()
                            .into_owned()
                    })
                })
            }),
        };
        let token = raw.as_deref().map(crate::jwt::bearer).unwrap_or("");
        if token.is_empty() {
            return Err(Denied::Unauthorized("Bearer".into()));
        }
        let invalid = |why: &str| {
            Denied::Unauthorized(format!(
                "Bearer scope=\"\" error=\"invalid_token\" error_description=\"{why}\""
            ))
        };
        let claims = match crate::jwt::verify_token(&self.jwks, upstreams, token).await {
            Ok(c) => c,
            Err(Refused::Expired) => return Err(invalid("the token has expired")),
            Err(Refused::KeysUnavailable) => {
                tracing::warn!(authorizer = %self.id, issuer = %self.jwks.issuer().issuer,
                    "the issuer's keys could not be fetched");
                return Err(invalid("the token could not be verified"));
            }
            Err(Refused::Invalid(why)) => {
                tracing::debug!(authorizer = %self.id, "token refused: {why}");
                return Err(invalid("the token is not valid"));
            }
        };
        if !audience_matches(&claims, &self.audiences) {
            return Err(invalid("the token does not have a valid audience"));
        }
        let granted = granted_scopes(&claims);
        if !self.scopes.is_empty()
            && !granted
                .as_ref()
                .is_some_and(|g| g.iter().any(|s| self.scopes.contains(s)))
        {
            return Err(Denied::Forbidden(format!(
                "Bearer scope=\"{}\" error=\"insufficient_scope\" error_description=\"expected scopes: {}\"",
                self.scopes.join(" "),
                self.scopes.join(" ")
            )));
        }
        Ok(json!({
            "jwt": {
                "claims": claims_as_text(&claims),
                "scopes": granted,
            }
        }))
    }
}

/// `aud` (text or list), else an access token's `client_id`, is one of `audiences`.
fn audience_matches(claims: &Claims, audiences: &[String]) -> bool {
    let c = &claims.0;
    let mut found: Vec<&str> = Vec::new();
    match c.get("aud") {
        Some(Value::String(a)) => found.push(a),
        Some(Value::Array(a)) => found.extend(a.iter().filter_map(Value::as_str)),
        _ => {
            if let Some(id) = c.get("client_id").and_then(Value::as_str) {
                found.push(id);
            }
        }
    }
    found.iter().any(|f| audiences.iter().any(|a| a == f))
}

/// The token's scopes (`scope`, space-separated, or `scp`); `None` when it has none.
fn granted_scopes(claims: &Claims) -> Option<Vec<String>> {
    match claims.0.get("scope").or_else(|| claims.0.get("scp"))? {
        Value::String(s) => Some(
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(Into::into)
                .collect(),
        ),
        Value::Array(a) => Some(a.iter().filter_map(Value::as_str).map(Into::into).collect()),
        _ => None,
    }
}

/// The claims as HTTP APIs hand them on: every value as text (numbers as digits, a list as
/// `[a b]`).
fn claims_as_text(claims: &Claims) -> Map<String, Value> {
    claims
        .0
        .iter()
        .map(|(k, v)| {
            let t = match v {
                Value::String(s) => s.clone(),
                Value::Array(a) => format!(
                    "[{}]",
                    a.iter()
                        .map(|x| match x {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                other => other.to_string(),
            };
            (k.clone(), Value::String(t))
        })
        .collect()
}

/// Why a Lambda authorizer gave no answer to evaluate.
#[derive(Debug)]
pub(crate) enum AuthorizerFailure {
    /// The function raised `Unauthorized` (401).
    Unauthorized,
    /// The function failed, timed out or answered something that is no authorizer response.
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: Value) -> Claims {
        let Value::Object(m) = v else { panic!() };
        Claims(Arc::new(m))
    }

    #[test]
    fn audiences_and_scopes() {
        let id = claims(json!({"aud": "app", "exp": 1785675600, "groups": ["a", "b"]}));
        assert!(audience_matches(&id, &["app".into()]));
        assert!(!audience_matches(&id, &["other".into()]));
        let access = claims(json!({"client_id": "app", "scope": "read write"}));
        assert!(audience_matches(&access, &["app".into()]));
        assert_eq!(
            granted_scopes(&access),
            Some(vec!["read".to_string(), "write".to_string()])
        );
        assert_eq!(granted_scopes(&id), None);
        let text = claims_as_text(&id);
        assert_eq!(text["exp"], "1785675600");
        assert_eq!(text["groups"], "[a b]");
    }
}
