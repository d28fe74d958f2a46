//! `TestInvokeAuthorizer`: run an API's Lambda authorizer as currently defined against the
//! headers, query string and stage variables given, outside any request, and report what a
//! client would have got, the authorizer's principal and policy, and an execution log in the
//! shape AWS writes it. The method ARN is AWS's test one (`…/ESTestInvoke-stage/GET/{path}`); the
//! `REQUEST` event carries AWS's test-invoke constants (recorded in execution logs).

use crate::Gateway;
use crate::steps::authorizer::{
    AuthorizerCache, AuthorizerKind, IdentitySource, LambdaAuthorizer, Verdict, parse_output,
};
use crate::test_invoke::stamp;
use bytes::Bytes;
use portico_functions::InvokeContext;
use portico_model::{Authorizer, Map};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to send.
#[derive(Debug, Clone, Default)]
pub struct TestInvokeAuthorizerRequest {
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// Path and query (`/pets?x=1`; default `/`).
    pub path_with_query: Option<String>,
    /// Stage variables.
    pub stage_variables: Map<String>,
}

/// What came back (`TestInvokeAuthorizer`'s response).
#[derive(Debug, Clone, Default)]
pub struct TestInvokeAuthorizerResult {
    /// The status a client would have got; 0 when the authorizer allowed the request.
    pub client_status: u16,
    /// Execution log.
    pub log: String,
    /// Milliseconds.
    pub latency_ms: u64,
    /// `principalId`.
    pub principal_id: Option<String>,
    /// The policy document, as JSON text.
    pub policy: Option<String>,
    /// A user pool token's claims, as `$context.authorizer.claims` shows them.
    pub claims: Option<Vec<(String, String)>>,
}

/// The stage AWS's test invocations put in the method ARN.
const TEST_STAGE: &str = "ESTestInvoke-stage";

/// A secret shown as AWS's logs show it: stars, then the last 6 characters.
fn masked(s: &str) -> String {
    let n = s.chars().count();
    let keep: String = s.chars().skip(n.saturating_sub(6)).collect();
    format!("{}{keep}", "*".repeat(n.saturating_sub(6).min(8)))
}

impl Gateway {
    /// Runs authorizer `a` of API `api_id` once.
    pub async fn test_invoke_authorizer(
        &self,
        api_id: &str,
        a: &Authorizer,
        req: TestInvokeAuthorizerRequest,
    ) -> TestInvokeAuthorizerResult {
        let started = Instant::now();
        let rid = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let mut out = TestInvokeAuthorizerResult::default();
        let _ = writeln!(out.log, "Execution log for request {rid}");
        let _ = writeln!(
            out.log,
            "{} : Starting authorizer: {} for request: {rid}",
            stamp(),
            a.id
        );
        if a.kind == "COGNITO_USER_POOLS" {
            self.test_invoke_token(a, &req, &rid, started, &mut out)
                .await;
            return out;
        }
        let compiled = match LambdaAuthorizer::compile(
            a,
            api_id,
            TEST_STAGE,
            &req.stage_variables,
            crate::exchange::ACCOUNT_ID,
            Arc::new(AuthorizerCache::default()),
        ) {
            Ok(c) => c,
            Err(e) => {
                let _ = writeln!(
                    out.log,
                    "{} : Execution failed due to configuration error: {e}",
                    stamp()
                );
                out.client_status = 500;
                return out;
            }
        };
        let path_with_query = req
            .path_with_query
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        let (path, query) = path_with_query
            .split_once('?')
            .unwrap_or((path_with_query.as_str(), ""));
        let method_arn = format!(
            "{}GET/{}",
            compiled.method_arn_prefix,
            path.trim_start_matches('/')
        );
        let header = |name: &str| {
            req.headers
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        let query_pairs: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        let unauthorized = |out: &mut TestInvokeAuthorizerResult, started: Instant| {
            let _ = writeln!(out.log, "{} : Unauthorized request: {rid}", stamp());
            let _ = writeln!(out.log, "{} : Unauthorized", stamp());
            out.client_status = 401;
            out.latency_ms = started.elapsed().as_millis() as u64;
        };
        // The identity, and the event.
        let event = match &compiled.kind {
            AuthorizerKind::Token {
                header: h,
                validation,
            } => {
                let Some(token) = header(h.as_str()).filter(|t| !t.is_empty()) else {
                    unauthorized(&mut out, started);
                    return out;
                };
                let _ = writeln!(
                    out.log,
                    "{} : Incoming identity: {}",
                    stamp(),
                    masked(&token)
                );
                if validation.as_ref().is_some_and(|re| !re.is_match(&token)) {
                    unauthorized(&mut out, started);
                    return out;
                }
                json!({"type": "TOKEN", "methodArn": method_arn, "authorizationToken": token})
            }
            AuthorizerKind::Request { sources } => {
                let mut shown = Vec::new();
                for s in sources {
                    let (label, value) = match s {
                        IdentitySource::Header(h) => {
                            (format!("method.request.header.{h}"), header(h.as_str()))
                        }
                        IdentitySource::Query(q) => (
                            format!("method.request.querystring.{q}"),
                            query_pairs
                                .iter()
                                .rev()
                                .find(|(k, _)| k == q)
                                .map(|(_, v)| v.clone()),
                        ),
                        IdentitySource::StageVariable(v) => ("stageVariables".into(), v.clone()),
                        IdentitySource::Context(c) => (
                            format!("context.{c}"),
                            match c.as_str() {
                                "stage" => Some("test-invoke-stage".into()),
                                "requestId" => Some(rid.clone()),
                                _ => None,
                            },
                        ),
                    };
                    match value.filter(|v| !v.is_empty()) {
                        Some(v) => shown.push(format!("{label}={}", masked(&v))),
                        None => {
                            unauthorized(&mut out, started);
                            return out;
                        }
                    }
                }
                let _ = writeln!(
                    out.log,
                    "{} : Incoming identity: {{{}}}",
                    stamp(),
                    shown.join(", ")
                );
                let single: serde_json::Map<String, Value> = req
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect();
                let mut multi: serde_json::Map<String, Value> = serde_json::Map::new();
                for (k, v) in &req.headers {
                    match multi.get_mut(k).and_then(Value::as_array_mut) {
                        Some(l) => l.push(Value::from(v.as_str())),
                        None => {
                            multi.insert(k.clone(), json!([v]));
                        }
                    }
                }
                let q_single: serde_json::Map<String, Value> = query_pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect();
                let mut q_multi: serde_json::Map<String, Value> = serde_json::Map::new();
                for (k, v) in &query_pairs {
                    match q_multi.get_mut(k).and_then(Value::as_array_mut) {
                        Some(l) => l.push(Value::from(v.as_str())),
                        None => {
                            q_multi.insert(k.clone(), json!([v]));
                        }
                    }
                }
                let now = crate::access_log::epoch_millis();
                json!({
                    "type": "REQUEST",
                    "methodArn": method_arn,
                    "resource": path,
                    "path": path,
                    "httpMethod": "GET",
                    "headers": single,
                    "multiValueHeaders": multi,
                    "queryStringParameters": q_single,
                    "multiValueQueryStringParameters": q_multi,
                    "pathParameters": {},
                    "stageVariables": req.stage_variables,
                    "requestContext": {
                        "resourceId": "test-invoke-resource-id",
                        "resourcePath": path,
                        "httpMethod": "GET",
                        "extendedRequestId": rid,
                        "requestTime": crate::access_log::clf_time(now / 1000),
                        "path": path,
                        "accountId": crate::exchange::ACCOUNT_ID,
                        "protocol": "HTTP/1.1",
                        "stage": "test-invoke-stage",
                        "domainPrefix": "testPrefix",
                        "requestTimeEpoch": now,
                        "requestId": rid,
                        "identity": {
                            "cognitoIdentityPoolId": null, "cognitoIdentityId": null,
                            "apiKey": "test-invoke-api-key", "principalOrgId": null,
                            "cognitoAuthenticationType": null, "userArn": null,
                            "apiKeyId": "test-invoke-api-key-id", "userAgent": null,
                            "accountId": null, "caller": null, "sourceIp": "test-invoke-source-ip",
                            "accessKey": null, "cognitoAuthenticationProvider": null, "user": null
                        },
                        "domainName": "testPrefix.testDomainName",
                        "apiId": api_id
                    }
                })
            }
        };
        let payload = serde_json::to_vec(&event).unwrap_or_default();
        let _ = writeln!(
            out.log,
            "{} : Endpoint request URI: https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/{}/invocations",
            stamp(),
            compiled.function.arn
        );
        let _ = writeln!(
            out.log,
            "{} : Endpoint request body after transformations: {}",
            stamp(),
            String::from_utf8_lossy(&payload)
        );
        let Some(functions) = self.functions.get() else {
            let _ = writeln!(
                out.log,
                "{} : Execution failed due to configuration error: no function runtime",
                stamp()
            );
            out.client_status = 500;
            return out;
        };
        let ctx = InvokeContext {
            request_id: None,
            trace_id: None,
            client_context: None,
            cognito_identity: None,
            invoked_arn: Some(compiled.function.arn.to_string()),
        };
        let call = functions.invoke_qualified(
            &compiled.function.function,
            compiled.function.qualifier.as_deref(),
            Bytes::from(payload),
            ctx,
        );
        let invoked = match tokio::time::timeout(Duration::from_secs(10), call).await {
            Ok(Ok(i)) => i,
            Ok(Err(e)) => {
                let _ = writeln!(out.log, "{} : Execution failed: {e}", stamp());
                let _ = writeln!(out.log, "{} : AuthorizerFailureException", stamp());
                out.client_status = 500;
                out.latency_ms = started.elapsed().as_millis() as u64;
                return out;
            }
            Err(_) => {
                let _ = writeln!(
                    out.log,
                    "{} : Execution failed: the authorizer timed out",
                    stamp()
                );
                out.client_status = 500;
                out.latency_ms = started.elapsed().as_millis() as u64;
                return out;
            }
        };
        let _ = writeln!(
            out.log,
            "{} : Authorizer result body before parsing: {}",
            stamp(),
            String::from_utf8_lossy(&invoked.payload)
        );
        out.latency_ms = started.elapsed().as_millis() as u64;
        if invoked.function_error.is_some() {
            let message = serde_json::from_slice::<Value>(&invoked.payload)
                .ok()
                .and_then(|v| v.get("errorMessage")?.as_str().map(str::to_owned));
            if message.as_deref() == Some("Unauthorized") {
                let _ = writeln!(out.log, "{} : Unauthorized request: {rid}", stamp());
                let _ = writeln!(out.log, "{} : Unauthorized", stamp());
                out.client_status = 401;
                return out;
            }
        }
        let decision = match parse_output(&invoked.payload) {
            Ok(d) if invoked.function_error.is_none() => d,
            Ok(_) => {
                out.client_status = 500;
                return out;
            }
            Err(e) => {
                let _ = writeln!(
                    out.log,
                    "{} : Execution failed due to configuration error: {}",
                    stamp(),
                    e.0
                );
                let _ = writeln!(out.log, "{} : AuthorizerConfigurationException", stamp());
                out.client_status = 500;
                return out;
            }
        };
        let _ = writeln!(
            out.log,
            "{} : Using valid authorizer policy for principal: {}",
            stamp(),
            masked(&decision.principal_id)
        );
        let _ = writeln!(
            out.log,
            "{} : Successfully completed authorizer execution",
            stamp()
        );
        out.principal_id = Some(decision.principal_id.clone());
        out.policy = serde_json::from_slice::<Value>(&invoked.payload)
            .ok()
            .and_then(|v| v.get("policyDocument").cloned())
            .map(|p| match p {
                Value::String(s) => s,
                other => other.to_string(),
            });
        out.client_status = match decision.verdict(&method_arn) {
            Verdict::Allow => 0,
            Verdict::ExplicitDeny | Verdict::NotAllowed => 403,
        };
        out
    }

    /// A `COGNITO_USER_POOLS` authorizer: the token from its header checked as a method without
    /// scopes would check it; the claims when it is accepted (client status 0), else 401.
    async fn test_invoke_token(
        &self,
        a: &Authorizer,
        req: &TestInvokeAuthorizerRequest,
        rid: &str,
        started: Instant,
        out: &mut TestInvokeAuthorizerResult,
    ) {
        let method = portico_model::Method::new("GET");
        let compiled =
            match crate::steps::cognito::CognitoAuthorizer::compile(a, &method, &self.jwks) {
                Ok(c) => c,
                Err(e) => {
                    let _ = writeln!(
                        out.log,
                        "{} : Execution failed due to configuration error: {e}",
                        stamp()
                    );
                    out.client_status = 500;
                    return;
                }
            };
        let token = req
            .headers
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(compiled.header.as_str()))
            .map(|(_, v)| crate::jwt::bearer(v))
            .unwrap_or("");
        let verified = if token.is_empty() {
            Err(crate::jwt::Refused::Invalid("no token"))
        } else {
            crate::jwt::verify(
                compiled.issuer_of(token),
                &self.upstreams,
                token,
                &compiled.requirements,
            )
            .await
        };
        match verified {
            Ok(claims) => {
                let _ = writeln!(out.log, "{} : Authorized request: {rid}", stamp());
                out.claims = Some(claims.as_text());
                out.client_status = 0;
            }
            Err(why) => {
                let _ = writeln!(
                    out.log,
                    "{} : Unauthorized request: {rid} ({why:?})",
                    stamp()
                );
                out.client_status = 401;
            }
        }
        out.latency_ms = started.elapsed().as_millis() as u64;
    }
}
