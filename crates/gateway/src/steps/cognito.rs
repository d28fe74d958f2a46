//! `COGNITO_USER_POOLS` authorizers as a route holds them: the header the token comes in, the
//! issuers the authorizer's `providerARNs` name (their key sets shared through
//! [`crate::jwt::JwksRegistry`]) and what the method asks of the token (`authorizationScopes`),
//! all fixed when the stage compiles. `pipeline::authorizer` checks the token.

use crate::jwt::{Jwks, Requirements};
use http::HeaderName;
use std::sync::Arc;

/// A user pool (or any OIDC issuer's) authorizer on one method.
#[derive(Debug)]
pub struct CognitoAuthorizer {
    /// The authorizer's id.
    pub id: Box<str>,
    /// `identitySource`'s header (`Authorization` by default).
    pub header: HeaderName,
    /// The key sets of the issuers in `providerARNs`, by issuer.
    pub issuers: Vec<Arc<Jwks>>,
    /// The method's `authorizationScopes`; the authorizer's `identityValidationExpression`
    /// (matched against the token's `aud`).
    pub requirements: Requirements,
}

impl CognitoAuthorizer {
    /// Compiles `a` for `method`; `None` with the reason when it cannot run.
    pub(crate) fn compile(
        a: &portico_model::Authorizer,
        method: &portico_model::Method,
        registry: &crate::jwt::JwksRegistry,
    ) -> Result<Self, String> {
        let identity = a
            .identity_source
            .as_deref()
            .unwrap_or("method.request.header.Authorization")
            .trim();
        let header = identity
            .strip_prefix("method.request.header.")
            .and_then(|h| HeaderName::from_bytes(h.as_bytes()).ok())
            .ok_or_else(|| {
                format!(
                    "Invalid token source expression: {identity}. The source must be a method request header"
                )
            })?;
        let audience = match a.identity_validation_expression.as_deref() {
            Some(re) if !re.is_empty() => Some(
                regex::Regex::new(&format!("^(?:{re})$"))
                    .map_err(|e| format!("identityValidationExpression: {e}"))?,
            ),
            _ => None,
        };
        if a.provider_arns.is_empty() {
            return Err("a COGNITO_USER_POOLS authorizer needs providerARNs".into());
        }
        let issuers = a
            .provider_arns
            .iter()
            .map(|p| registry.for_provider(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            id: a.id.as_str().into(),
            header,
            issuers,
            requirements: Requirements {
                scopes: method.authorization_scopes.clone(),
                audience,
            },
        })
    }

    /// `portico routes`' name for the step.
    pub fn describe(&self) -> String {
        let issuers: Vec<&str> = self
            .issuers
            .iter()
            .map(|j| j.issuer().issuer.as_str())
            .collect();
        if self.requirements.scopes.is_empty() {
            format!("cognito({} → {})", self.id, issuers.join(", "))
        } else {
            format!(
                "cognito({} → {}, scopes {})",
                self.id,
                issuers.join(", "),
                self.requirements.scopes.join(" ")
            )
        }
    }

    /// The key set of the issuer that `token` claims (its unverified `iss`, used only to pick
    /// which issuer checks it); the first when the claim names none of them.
    pub fn issuer_of(&self, token: &str) -> &Arc<Jwks> {
        let claimed = unverified_issuer(token);
        claimed
            .and_then(|iss| self.issuers.iter().find(|j| j.issuer().issuer == iss))
            .unwrap_or(&self.issuers[0])
    }
}

/// The `iss` claim of a token, unverified.
fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine as _;
    if token.len() > crate::jwt::MAX_TOKEN_BYTES {
        return None;
    }
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("iss")?.as_str().map(str::to_owned)
}
