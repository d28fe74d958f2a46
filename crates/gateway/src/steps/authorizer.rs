//! Lambda authorizers (`CUSTOM` authorization, `TOKEN` and `REQUEST` types) as a route holds
//! them: where the identity comes from, the function, the method ARN prefix and the result
//! cache, all fixed when the stage compiles; and what an authorizer's answer means — its
//! output parsed as API Gateway parses it (unknown fields refused) and its policy evaluated
//! against the request's method ARN (an explicit `Deny` wins, else an `Allow` must match).
//! `pipeline::authorizer` runs it.

use crate::lambda_target::LambdaProxyIntegration;
use http::HeaderName;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most results one authorizer's cache holds; past it, expired entries go, then the oldest.
const CACHE_CAP: usize = 10_000;
/// AWS's `authorizerResultTtlInSeconds` when it is not set.
pub(crate) const DEFAULT_TTL_SECS: i64 = 300;
/// The longest authorizer output read (Lambda's own response limit is 6 MB).
pub(crate) const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// Where a `REQUEST` authorizer's identity comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// `method.request.header.X`.
    Header(HeaderName),
    /// `method.request.querystring.X`.
    Query(String),
    /// `stageVariables.X`: its value, fixed for the stage (`None`: not set).
    StageVariable(Option<String>),
    /// `context.X` (a `$context` value by path).
    Context(String),
}

/// A `TOKEN` or `REQUEST` authorizer.
#[derive(Debug)]
pub enum AuthorizerKind {
    /// The token in one header, optionally checked by `identityValidationExpression` (a full
    /// match) before the function is called.
    Token {
        /// The header.
        header: HeaderName,
        /// `identityValidationExpression`.
        validation: Option<regex::Regex>,
    },
    /// The request's parameters; `sources` are its identity (every one must be present).
    Request {
        /// `identitySource`, in order.
        sources: Vec<IdentitySource>,
    },
}

/// A Lambda authorizer as a route runs it.
#[derive(Debug)]
pub struct LambdaAuthorizer {
    /// The authorizer's id.
    pub id: Box<str>,
    /// Token or request.
    pub kind: AuthorizerKind,
    /// The function (and the authorizer's timeout: API Gateway gives it the integration's 29 s
    /// at most; Portico uses 10 s).
    pub function: LambdaProxyIntegration,
    /// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/`: the method ARN is this, the
    /// method and the request path.
    pub method_arn_prefix: Box<str>,
    /// `authorizerResultTtlInSeconds` (zero: no caching).
    pub ttl: Duration,
    /// Results by identity, shared by the stage's routes that use this authorizer.
    pub cache: Arc<AuthorizerCache>,
}

impl LambdaAuthorizer {
    /// Compiles `a` for a stage; `None` with the reason when it cannot run.
    pub(crate) fn compile(
        a: &portico_model::Authorizer,
        api_id: &str,
        stage_name: &str,
        stage_variables: &portico_model::Map<String>,
        account_id: &str,
        cache: Arc<AuthorizerCache>,
    ) -> Result<Self, String> {
        let uri = a
            .authorizer_uri
            .as_deref()
            .ok_or_else(|| format!("authorizer {} has no authorizerUri", a.id))?;
        let uri = crate::uri::substitute_stage_variables(uri, stage_variables);
        let (function, qualifier, arn) = crate::uri::lambda_invocation(&uri)?;
        let region = uri
            .strip_prefix("arn:aws:apigateway:")
            .and_then(|r| r.split(':').next())
            .filter(|r| !r.is_empty())
            .unwrap_or("us-east-1");
        let identity = a.identity_source.as_deref().unwrap_or("").trim();
        let kind = match a.kind.as_str() {
            "TOKEN" => {
                let header = identity
                    .strip_prefix("method.request.header.")
                    .and_then(|h| HeaderName::from_bytes(h.as_bytes()).ok())
                    .ok_or_else(|| {
                        format!(
                            "Invalid token source expression: {identity}. The source must be a method request header"
                        )
                    })?;
                let validation = match a.identity_validation_expression.as_deref() {
                    Some(re) if !re.is_empty() => Some(
                        regex::Regex::new(&format!("^(?:{re})$"))
                            .map_err(|e| format!("identityValidationExpression: {e}"))?,
                    ),
                    _ => None,
                };
                AuthorizerKind::Token { header, validation }
            }
            "REQUEST" => {
                let mut sources = Vec::new();
                for s in identity.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    sources.push(parse_source(s, stage_variables)?);
                }
                AuthorizerKind::Request { sources }
            }
            other => {
                return Err(format!(
                    "authorizer type {other} is not a Lambda authorizer"
                ));
            }
        };
        let ttl = a
            .authorizer_result_ttl_in_seconds
            .unwrap_or(DEFAULT_TTL_SECS)
            .clamp(0, 3600);
        Ok(Self {
            id: a.id.as_str().into(),
            kind,
            function: LambdaProxyIntegration {
                function: function.into(),
                qualifier: qualifier.map(Into::into),
                arn: arn.into(),
                timeout: Duration::from_secs(10),
            },
            method_arn_prefix: format!(
                "arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage_name}/"
            )
            .into(),
            ttl: Duration::from_secs(ttl as u64),
            cache,
        })
    }

    /// `portico routes`' name for the step.
    pub fn describe(&self) -> String {
        let kind = match &self.kind {
            AuthorizerKind::Token { .. } => "token",
            AuthorizerKind::Request { .. } => "request",
        };
        format!(
            "authorizer({kind} {} → {}, ttl {}s)",
            self.id,
            self.function.function,
            self.ttl.as_secs()
        )
    }
}

fn parse_source(
    s: &str,
    stage_variables: &portico_model::Map<String>,
) -> Result<IdentitySource, String> {
    if let Some(h) = s.strip_prefix("method.request.header.") {
        return HeaderName::from_bytes(h.as_bytes())
            .map(IdentitySource::Header)
            .map_err(|_| format!("invalid identity source {s}"));
    }
    if let Some(q) = s.strip_prefix("method.request.querystring.") {
        return Ok(IdentitySource::Query(q.to_owned()));
    }
    if let Some(v) = s.strip_prefix("stageVariables.") {
        return Ok(IdentitySource::StageVariable(
            stage_variables.get(v).filter(|v| !v.is_empty()).cloned(),
        ));
    }
    if let Some(c) = s.strip_prefix("context.") {
        return Ok(IdentitySource::Context(c.to_owned()));
    }
    Err(format!(
        "invalid identity source {s} (method.request.header.X, method.request.querystring.X, stageVariables.X or context.X)"
    ))
}

/// What an authorizer function answered, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// `principalId`.
    pub principal_id: String,
    /// The policy's statements.
    pub statements: Vec<Statement>,
    /// `context`, values as text (`$context.authorizer.key`), in the function's order.
    pub context: Vec<(String, String)>,
    /// `usageIdentifierKey`.
    pub usage_identifier_key: Option<String>,
}

/// What an authorizer allowed, as the rest of the request reads it (`$context.authorizer`).
#[derive(Debug)]
pub enum Authorized {
    /// A Lambda authorizer's answer.
    Lambda {
        /// The authorizer's answer.
        decision: Arc<Decision>,
        /// How long the function took, in ms (0 for a cached answer).
        integration_latency_ms: u64,
    },
    /// A verified token's claims (`COGNITO_USER_POOLS`): `$context.authorizer.claims`.
    Claims(crate::jwt::Claims),
}

/// One entry of `$context.authorizer`.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthorizerValue {
    /// Text (a Lambda authorizer's context value, `principalId`).
    Text(String),
    /// A map of text (`claims`).
    Map(Vec<(String, String)>),
}

impl Authorized {
    /// `principalId` (a Lambda authorizer's).
    pub fn principal_id(&self) -> Option<&str> {
        match self {
            Self::Lambda { decision, .. } => Some(&decision.principal_id),
            Self::Claims(_) => None,
        }
    }

    /// How long the authorizer function took (a Lambda authorizer's).
    pub fn integration_latency_ms(&self) -> Option<u64> {
        match self {
            Self::Lambda {
                integration_latency_ms,
                ..
            } => Some(*integration_latency_ms),
            Self::Claims(_) => None,
        }
    }

    /// `$context.authorizer`'s entries: a Lambda authorizer's context values then
    /// `principalId`; a token's `claims`.
    pub fn entries(&self) -> Vec<(String, AuthorizerValue)> {
        match self {
            Self::Lambda { decision, .. } => {
                let mut out: Vec<(String, AuthorizerValue)> = decision
                    .context
                    .iter()
                    .filter(|(k, _)| k != "principalId")
                    .map(|(k, v)| (k.clone(), AuthorizerValue::Text(v.clone())))
                    .collect();
                out.push((
                    "principalId".into(),
                    AuthorizerValue::Text(decision.principal_id.clone()),
                ));
                out
            }
            Self::Claims(c) => vec![("claims".into(), AuthorizerValue::Map(c.as_text()))],
        }
    }
}

/// One policy statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `Effect: Allow` (else `Deny`).
    pub allow: bool,
    /// `Action` patterns, lowercased (IAM actions match without regard to case).
    pub actions: Vec<String>,
    /// `Resource` patterns.
    pub resources: Vec<String>,
}

/// Why an authorizer's output was refused (API Gateway's 500
/// `AuthorizerConfigurationException`), for the execution log.
#[derive(Debug, PartialEq, Eq)]
pub struct BadOutput(pub String);

/// Parses an authorizer function's output as API Gateway does: an object of `principalId`,
/// `policyDocument`, `context` (string, number or boolean values) and `usageIdentifierKey`;
/// any other field is refused (AWS: `Unrecognized field … not marked as ignorable`).
pub fn parse_output(payload: &[u8]) -> Result<Decision, BadOutput> {
    let bad = |m: &str| BadOutput(m.to_owned());
    let v: Value = serde_json::from_slice(payload)
        .map_err(|e| BadOutput(format!("Invalid JSON in response: {e}")))?;
    let Value::Object(o) = v else {
        return Err(bad(
            "Could not parse policy: the response is not a JSON object",
        ));
    };
    for k in o.keys() {
        if !matches!(
            k.as_str(),
            "principalId" | "policyDocument" | "context" | "usageIdentifierKey"
        ) {
            return Err(BadOutput(format!(
                "Invalid JSON in response: Unrecognized field \"{k}\", not marked as ignorable"
            )));
        }
    }
    let principal_id = match o.get("principalId") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(_) => return Err(bad("Invalid JSON in response: principalId is not a string")),
    };
    let doc = match o.get("policyDocument") {
        Some(Value::Object(d)) => d,
        Some(Value::String(s)) => {
            // A policy document serialized as a string is read too.
            return parse_output(
                &serde_json::to_vec(&serde_json::json!({
                    "principalId": principal_id,
                    "policyDocument": serde_json::from_str::<Value>(s)
                        .map_err(|_| bad("Could not parse policy"))?,
                    "context": o.get("context").cloned().unwrap_or(Value::Null),
                    "usageIdentifierKey": o.get("usageIdentifierKey").cloned().unwrap_or(Value::Null),
                }))
                .unwrap_or_default(),
            );
        }
        _ => return Err(bad("Could not parse policy: no policyDocument")),
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().map(statement).collect::<Result<Vec<_>, _>>()?,
        Some(s @ Value::Object(_)) => vec![statement(s)?],
        _ => return Err(bad("Could not parse policy: no Statement")),
    };
    let mut context = Vec::new();
    match o.get("context") {
        None | Some(Value::Null) => {}
        Some(Value::Object(c)) => {
            for (k, v) in c {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => continue,
                    _ => {
                        return Err(BadOutput(format!(
                            "Invalid JSON in response: context value of {k} is not a string, number or boolean"
                        )));
                    }
                };
                context.push((k.clone(), text));
            }
        }
        Some(_) => return Err(bad("Invalid JSON in response: context is not an object")),
    }
    let usage_identifier_key = match o.get("usageIdentifierKey") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(bad(
                "Invalid JSON in response: usageIdentifierKey is not a string",
            ));
        }
    };
    Ok(Decision {
        principal_id,
        statements,
        context,
        usage_identifier_key,
    })
}

fn statement(v: &Value) -> Result<Statement, BadOutput> {
    let bad = |m: &str| BadOutput(format!("Could not parse policy: {m}"));
    let get = |k: &str| v.get(k).or_else(|| v.get(k.to_ascii_lowercase().as_str()));
    let allow = match get("Effect").and_then(Value::as_str) {
        Some(e) if e.eq_ignore_ascii_case("allow") => true,
        Some(e) if e.eq_ignore_ascii_case("deny") => false,
        _ => return Err(bad("Effect must be Allow or Deny")),
    };
    let list = |k: &str| -> Result<Vec<String>, BadOutput> {
        match get(k) {
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad(&format!("{k} must hold strings")))
                })
                .collect(),
            _ => Err(bad(&format!("no {k}"))),
        }
    };
    Ok(Statement {
        allow,
        actions: list("Action")?
            .into_iter()
            .map(|a| a.to_ascii_lowercase())
            .collect(),
        resources: list("Resource")?,
    })
}

/// What a policy says about one method ARN.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Verdict {
    /// An `Allow` matches and no `Deny` does.
    Allow,
    /// A `Deny` matches (403 "… with an explicit deny").
    ExplicitDeny,
    /// Nothing allows it (403).
    NotAllowed,
}

impl Decision {
    /// Evaluates the policy for `method_arn` (`execute-api:Invoke`).
    pub fn verdict(&self, method_arn: &str) -> Verdict {
        let mut allowed = false;
        for s in &self.statements {
            let action = s
                .actions
                .iter()
                .any(|a| wildcard_match(&a.to_ascii_lowercase(), "execute-api:invoke"));
            if !action || !s.resources.iter().any(|r| wildcard_match(r, method_arn)) {
                continue;
            }
            if !s.allow {
                return Verdict::ExplicitDeny;
            }
            allowed = true;
        }
        if allowed {
            Verdict::Allow
        } else {
            Verdict::NotAllowed
        }
    }
}

/// IAM wildcard matching: `*` any run of characters (`/` included), `?` one character.
/// Iterative with one backtrack point: linear in practice, no recursion.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// An authorizer's results by identity (a SHA-256 of the identity values: tokens are not
/// kept), each until its TTL. `T`: a REST authorizer's [`Decision`], or an HTTP API
/// authorizer's result.
#[derive(Debug)]
pub struct AuthorizerCache<T = Decision> {
    entries: Mutex<HashMap<[u8; 32], Cached<T>>>,
}

impl<T> Default for AuthorizerCache<T> {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
        }
    }
}

/// A cached result and when it expires.
type Cached<T> = (Instant, Arc<T>);

impl AuthorizerCache<Decision> {
    /// The key of an identity.
    pub fn key(parts: &[&str]) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p.as_bytes());
        }
        h.finalize().into()
    }
}

impl<T> AuthorizerCache<T> {
    /// A live result.
    pub fn get(&self, key: &[u8; 32]) -> Option<Arc<T>> {
        let mut m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match m.get(key) {
            Some((until, d)) if *until > Instant::now() => Some(d.clone()),
            Some(_) => {
                m.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `d` for `ttl`.
    pub fn put(&self, key: [u8; 32], d: Arc<T>, ttl: Duration) {
        let now = Instant::now();
        let mut m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= CACHE_CAP {
            m.retain(|_, (until, _)| *until > now);
            if m.len() >= CACHE_CAP {
                // Still full of live results (many distinct identities): the half that expires
                // first goes at once, so a stream of new identities costs O(log n) per miss
                // amortised, not a scan of the whole cache each time.
                let mut untils: Vec<Instant> = m.values().map(|(u, _)| *u).collect();
                let mid = untils.len() / 2;
                let (_, median, _) = untils.select_nth_unstable(mid);
                let median = *median;
                m.retain(|_, (until, _)| *until > median);
            }
        }
        m.insert(key, (now + ttl, d));
    }

    /// Forgets every result (`FlushStageAuthorizersCache`).
    pub fn flush(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// How many results are held.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:000000000000:abc/dev/GET/pets/1";

    fn decision(json: &str) -> Decision {
        parse_output(json.as_bytes()).unwrap()
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ARN));
        assert!(wildcard_match(
            "arn:aws:execute-api:us-east-1:000000000000:abc/dev/*",
            ARN
        ));
        assert!(wildcard_match(
            "arn:aws:execute-api:*:*:abc/*/GET/pets/*",
            ARN
        ));
        assert!(wildcard_match(
            "arn:aws:execute-api:us-east-1:000000000000:abc/dev/GET/pets/?",
            ARN
        ));
        assert!(!wildcard_match(
            "arn:aws:execute-api:us-east-1:000000000000:abc/dev/POST/*",
            ARN
        ));
        assert!(!wildcard_match(
            "arn:aws:execute-api:us-east-1:000000000000:abc/dev/GET/pets",
            ARN
        ));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
        assert!(wildcard_match("", ""));
        assert!(!wildcard_match("", "x"));
    }

    #[test]
    fn policies_allow_deny_and_do_not_match() {
        let allow = decision(
            r#"{"principalId":"u1","policyDocument":{"Version":"2012-10-17","Statement":[
                {"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:*:*:abc/dev/GET/*"}]},
                "context":{"s":"x","n":1,"b":true,"z":null},"usageIdentifierKey":"key-1"}"#,
        );
        assert_eq!(allow.verdict(ARN), Verdict::Allow);
        assert_eq!(
            allow.verdict("arn:aws:execute-api:us-east-1:000000000000:abc/dev/POST/pets"),
            Verdict::NotAllowed
        );
        assert_eq!(
            allow.context,
            vec![
                ("s".into(), "x".into()),
                ("n".into(), "1".into()),
                ("b".into(), "true".into())
            ]
        );
        assert_eq!(allow.usage_identifier_key.as_deref(), Some("key-1"));
        let deny = decision(
            r#"{"principalId":"u1","policyDocument":{"Statement":[
                {"Action":"*","Effect":"Allow","Resource":"*"},
                {"Action":["execute-api:*"],"Effect":"Deny","Resource":["arn:aws:execute-api:*:*:abc/dev/GET/pets/*"]}]}}"#,
        );
        assert_eq!(deny.verdict(ARN), Verdict::ExplicitDeny);
        let other_action = decision(
            r#"{"principalId":"u","policyDocument":{"Statement":{"Action":"s3:GetObject","Effect":"Allow","Resource":"*"}}}"#,
        );
        assert_eq!(other_action.verdict(ARN), Verdict::NotAllowed);
    }

    #[test]
    fn malformed_outputs_are_refused() {
        for bad in [
            "not json",
            "[]",
            r#"{"principalId":"u"}"#,
            r#"{"principalId":"u","policyDocument":{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}}"#,
            r#"{"principalId":"u","policyDocument":{"Statement":[{"Effect":"Allow","Resource":"*"}]}}"#,
            r#"{"principalId":"u","policyDocument":{"Statement":[]},"context":{"a":[1]}}"#,
            r#"{"principalId":"u","policyDocument":{"Statement":[]},"context":{"a":{"b":1}}}"#,
            r#"{"errorType":"Error","errorMessage":"boom"}"#,
            r#"{"statusCode":200,"body":"x"}"#,
        ] {
            assert!(parse_output(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_cache_keeps_results_for_their_ttl_and_flushes() {
        let c = AuthorizerCache::default();
        let k = AuthorizerCache::key(&["token"]);
        assert_ne!(k, AuthorizerCache::key(&["tok", "en"]));
        let d = Arc::new(decision(
            r#"{"principalId":"u","policyDocument":{"Statement":[]}}"#,
        ));
        c.put(k, d.clone(), Duration::from_secs(60));
        assert_eq!(c.get(&k).as_deref(), Some(&*d));
        c.put(k, d.clone(), Duration::ZERO);
        assert!(c.get(&k).is_none());
        c.put(k, d.clone(), Duration::from_secs(60));
        c.flush();
        assert!(c.is_empty());
        // Full of live results: the half that expires first makes room, the newest stays.
        for i in 0..=CACHE_CAP {
            let ttl = Duration::from_secs(60 + i as u64);
            c.put(AuthorizerCache::key(&[&i.to_string()]), d.clone(), ttl);
        }
        assert!(c.len() <= CACHE_CAP / 2 + 2, "{}", c.len());
        let newest = AuthorizerCache::key(&[&CACHE_CAP.to_string()]);
        assert!(c.get(&newest).is_some());
    }
}
