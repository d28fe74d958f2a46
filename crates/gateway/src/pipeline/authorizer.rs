//! Runs a route's Lambda authorizer (`steps::authorizer`): the identity (401 when it is
//! missing or fails `identityValidationExpression`, before any call), the cached result for that
//! identity or the function's answer, and its policy against this request's method ARN (403);
//! a function that fails or answers what is not an authorizer's output is AWS's 500
//! `{"message": null}`. What it allows reaches `$context.authorizer`, the Lambda proxy event and
//! the API key step (`usageIdentifierKey`).

use crate::body::GatewayBody;
use crate::budget::Hold;
use crate::exchange::Exchange;
use crate::exchange::Outcome;
use crate::gateway::Gateway;
use crate::gateway_response::GatewayError;
use crate::iam::IamStep;
use crate::jwt::Refused;
use crate::pipeline::method_request::Flow;
use crate::steps::authorizer::{
    Authorized, AuthorizerCache, AuthorizerKind, IdentitySource, LambdaAuthorizer,
    MAX_OUTPUT_BYTES, Verdict, parse_output,
};
use crate::steps::cognito::CognitoAuthorizer;
use crate::steps::resource_policy::{Mode, ResourcePolicy};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;

impl Gateway {
    /// Authorizes the request; on success `x.authorizer` holds what the authorizer said.
    pub(crate) async fn authorize(
        &self,
        a: &LambdaAuthorizer,
        x: &mut Exchange<'_>,
        parts: &http::request::Parts,
    ) -> Result<(), GatewayError> {
        let stage = x.stage;
        let path = crate::addressing::collapse_leading_slashes(x.resource_request_path);
        let method_arn = format!(
            "{}{}/{}",
            a.method_arn_prefix,
            parts.method.as_str(),
            path.trim_start_matches('/')
        );
        // The identity: every source present and non-empty, else 401 without a call.
        let identity: Vec<String> = match &a.kind {
            AuthorizerKind::Token { header, validation } => {
                let token = parts
                    .headers
                    .get(header)
                    .and_then(|v| v.to_str().ok())
                    .filter(|v| !v.is_empty())
                    .ok_or_else(GatewayError::unauthorized)?;
                if validation.as_ref().is_some_and(|re| !re.is_match(token)) {
                    return Err(GatewayError::unauthorized());
                }
                vec![token.to_owned()]
            }
            AuthorizerKind::Request { sources } => {
                let mut values = Vec::with_capacity(sources.len());
                for s in sources {
                    let v = identity_value(s, x, parts)
                        .filter(|v| !v.is_empty())
                        .ok_or_else(GatewayError::unauthorized)?;
                    values.push(v);
                }
                values
            }
        };
        let cache_key = (!a.ttl.is_zero() && !identity.is_empty()).then(|| {
            AuthorizerCache::key(&identity.iter().map(String::as_str).collect::<Vec<_>>())
        });
        let cached = cache_key.as_ref().and_then(|k| a.cache.get(k));
        let (decision, latency) = match cached {
            Some(d) => (d, 0),
            None => {
                let event = match &a.kind {
                    AuthorizerKind::Token { .. } => serde_json::to_vec(&serde_json::json!({
                        "type": "TOKEN",
                        "methodArn": method_arn,
                        "authorizationToken": identity[0],
                    }))
                    .unwrap_or_default(),
                    AuthorizerKind::Request { .. } => {
                        crate::integrations::lambda::authorizer_event(x, parts, &method_arn).await
                    }
                };
                let started = Instant::now();
                let invoked = self
                    .invoke_function(x, &a.function, Bytes::from(event))
                    .await
                    .map_err(|e| {
                        tracing::warn!(api = %stage.api_id, authorizer = %a.id, status = %e.status,
                            "Execution failed: the authorizer could not be invoked");
                        GatewayError::authorizer_failure()
                    })?;
                let latency = started.elapsed().as_millis() as u64;
                if invoked.function_error.is_some() {
                    let message = serde_json::from_slice::<serde_json::Value>(&invoked.payload)
                        .ok()
                        .and_then(|v| v.get("errorMessage")?.as_str().map(str::to_owned));
                    if message.as_deref() == Some("Unauthorized") {
                        return Err(GatewayError::unauthorized());
                    }
                    tracing::warn!(api = %stage.api_id, authorizer = %a.id,
                        "Execution failed due to configuration error: the authorizer function failed: {}",
                        message.unwrap_or_default());
                    return Err(GatewayError::authorizer_configuration_error());
                }
                if invoked.payload.len() > MAX_OUTPUT_BYTES {
                    tracing::warn!(api = %stage.api_id, authorizer = %a.id,
                        "Execution failed due to configuration error: the authorizer's answer is over {MAX_OUTPUT_BYTES} bytes");
                    return Err(GatewayError::authorizer_configuration_error());
                }
                let decision = match parse_output(&invoked.payload) {
                    Ok(d) => Arc::new(d),
                    Err(e) => {
                        tracing::warn!(api = %stage.api_id, authorizer = %a.id,
                            "Execution failed due to configuration error: {}", e.0);
                        return Err(GatewayError::authorizer_configuration_error());
                    }
                };
                if let Some(k) = cache_key {
                    a.cache.put(k, decision.clone(), a.ttl);
                }
                (decision, latency)
            }
        };
        match decision.verdict(&method_arn) {
            Verdict::Allow => {}
            Verdict::ExplicitDeny => return Err(GatewayError::access_denied(true)),
            // The resource policy's explicit Allow makes up for an authorizer that allows
            // nothing (AWS's table: "neither" + Allow = Allow).
            Verdict::NotAllowed if x.identity.policy_allows => {}
            Verdict::NotAllowed => return Err(GatewayError::access_denied(false)),
        }
        x.identity.usage_identifier_key = decision.usage_identifier_key.as_deref().map(Into::into);
        x.authorizer = Some(Arc::new(Authorized::Lambda {
            decision,
            integration_latency_ms: latency,
        }));
        Ok(())
    }
}

/// The value of one `REQUEST` identity source for this request.
fn identity_value(
    s: &IdentitySource,
    x: &Exchange<'_>,
    parts: &http::request::Parts,
) -> Option<String> {
    match s {
        IdentitySource::Header(h) => parts
            .headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        IdentitySource::Query(name) => {
            let mut found = None;
            for pair in parts.uri.query().unwrap_or("").split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let dec = |s: &str| {
                    percent_encoding::percent_decode_str(&s.replace('+', " "))
                        .decode_utf8_lossy()
                        .into_owned()
                };
                if dec(k) == *name {
                    found = Some(dec(v));
                }
            }
            found
        }
        IdentitySource::StageVariable(v) => v.clone(),
        IdentitySource::Context(path) => {
            let ctx = crate::exchange::context_json(x, parts);
            let mut cur = &ctx;
            for seg in path.split('.') {
                cur = cur.get(seg)?;
            }
            match cur {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            }
        }
    }
}

impl Gateway {
    /// Checks the route's `COGNITO_USER_POOLS` token (raw or after `Bearer `); on success
    /// `x.authorizer` holds its claims. Every refusal is AWS's 401 before anything else runs:
    /// `Unauthorized`, or `The incoming token has expired`.
    pub(crate) async fn authorize_token(
        &self,
        c: &CognitoAuthorizer,
        x: &mut Exchange<'_>,
        parts: &http::request::Parts,
    ) -> Result<(), GatewayError> {
        let token = parts
            .headers
            .get(&c.header)
            .and_then(|v| v.to_str().ok())
            .map(crate::jwt::bearer)
            .filter(|v| !v.is_empty())
            .ok_or_else(GatewayError::unauthorized)?;
        let jwks = c.issuer_of(token);
        match crate::jwt::verify(jwks, &self.upstreams, token, &c.requirements).await {
            Ok(claims) => {
                x.authorizer = Some(Arc::new(Authorized::Claims(claims)));
                Ok(())
            }
            Err(Refused::Expired) => Err(GatewayError::token_expired()),
            Err(Refused::KeysUnavailable) => {
                tracing::warn!(api = %x.stage.api_id, authorizer = %c.id,
                    "Execution failed: the issuer's keys could not be fetched");
                Err(GatewayError::unauthorized())
            }
            Err(Refused::Invalid(why)) => {
                tracing::debug!(api = %x.stage.api_id, authorizer = %c.id, "token refused: {why}");
                Err(GatewayError::unauthorized())
            }
        }
    }
}

impl Gateway {
    /// Evaluates the API's resource policy for this request (an anonymous caller from the
    /// client's address); see `steps::resource_policy` for how it combines with the authorizer.
    pub(crate) fn resource_policy(
        &self,
        p: &ResourcePolicy,
        x: &mut Exchange<'_>,
        parts: &http::request::Parts,
    ) -> Result<(), GatewayError> {
        let path = crate::addressing::collapse_leading_slashes(x.resource_request_path);
        let tail = format!("{}/{}", parts.method.as_str(), path.trim_start_matches('/'));
        let method_arn = format!("{}{tail}", p.method_arn_prefix);
        let ip = x.client.ip.parse().ok();
        let caller = x.identity.caller.clone();
        let verdict = p.verdict(&method_arn, ip, caller.as_deref());
        let masked = || format!("{}{tail}", p.masked_prefix);
        if let (Mode::AfterIam, Some(c)) = (p.mode, caller) {
            let own = x.identity.identity_verdict.unwrap_or(Verdict::NotAllowed);
            let same_account = c.account_id() == crate::account::ACCOUNT_ID;
            let allowed = match (own, verdict) {
                (Verdict::ExplicitDeny, _) | (_, Verdict::ExplicitDeny) => false,
                (Verdict::Allow, Verdict::Allow) => true,
                (Verdict::Allow, _) | (_, Verdict::Allow) => same_account,
                _ => false,
            };
            if allowed {
                return Ok(());
            }
            let explicit = own == Verdict::ExplicitDeny || verdict == Verdict::ExplicitDeny;
            return Err(GatewayError::identity_denied(&c.arn, &masked(), explicit));
        }
        match (verdict, p.mode) {
            (Verdict::ExplicitDeny, _) => {
                Err(GatewayError::resource_policy_denied(&masked(), true))
            }
            (Verdict::Allow, _) => {
                x.identity.policy_allows = true;
                Ok(())
            }
            (Verdict::NotAllowed, Mode::BeforeAuthorizer) => Ok(()),
            (Verdict::NotAllowed, Mode::RequireAllow | Mode::AfterIam) => {
                Err(GatewayError::resource_policy_denied(&masked(), false))
            }
        }
    }
}

impl Gateway {
    /// `AWS_IAM`: verifies the request's SigV4 signature (header or presigned URL; the body read
    /// whole for its hash) against the configured principals, then — unless the resource policy
    /// decides next — the signer's own policy for this method.
    pub(crate) async fn authorize_iam<'g>(
        &'g self,
        step: &IamStep,
        x: &mut Exchange<'_>,
        parts: &http::request::Parts,
        body: GatewayBody,
        held: &mut Vec<Hold<'g>>,
    ) -> Flow {
        let fail = |e: GatewayError| Flow::Respond(Outcome::fail(e));
        if !crate::iam::has_signature(parts) {
            crate::body::discard_body(body);
            return fail(GatewayError::missing_authentication_token());
        }
        let bytes = match self.collect_body(body).await {
            Ok((b, hold)) => {
                held.push(hold);
                b
            }
            Err(e) => return fail(e),
        };
        let principal = match self.verify_signer(parts, &bytes) {
            Ok(p) => p,
            Err(r) => {
                tracing::debug!(api = %x.stage.api_id, "SigV4 refused: {}", r.message());
                return fail(GatewayError::signature_refused(&r));
            }
        };
        let path = crate::addressing::collapse_leading_slashes(x.resource_request_path);
        let tail = format!("{}/{}", parts.method.as_str(), path.trim_start_matches('/'));
        let verdict = principal.verdict(&format!("{}{tail}", step.method_arn_prefix));
        // Without a resource policy only the signer's own policy can allow, and only within the
        // API's account (another account's caller needs the API's policy too).
        let same_account = principal.account_id() == crate::account::ACCOUNT_ID;
        if !step.policy_follows && (verdict != Verdict::Allow || !same_account) {
            return fail(GatewayError::identity_denied(
                &principal.arn,
                &format!("{}{tail}", step.masked_prefix),
                verdict == Verdict::ExplicitDeny,
            ));
        }
        x.identity.caller = Some(principal);
        x.identity.identity_verdict = Some(verdict);
        Flow::Continue(GatewayBody::full(bytes))
    }
}
