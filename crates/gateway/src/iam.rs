//! `AWS_IAM` authorization: the IAM principals Portico knows (their keys and what they may
//! invoke, from the configuration) and the step that verifies a data-plane request's SigV4
//! signature (`portico-sigv4`, the management API's verifier) and decides whether the signer may
//! invoke the method — alone, or with the API's resource policy as AWS's table combines them (same
//! account: either allows; another account: both must).

use crate::steps::authorizer::{Verdict, wildcard_match};
use std::collections::HashMap;
use std::sync::Arc;

/// One IAM identity with keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    /// The access key id.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: String,
    /// The session token its requests must carry (temporary credentials), if any.
    pub session_token: Option<String>,
    /// `arn:aws:iam::123456789012:user/alice` or `arn:aws:sts::…:assumed-role/role/session`.
    pub arn: String,
    /// The unique id (`$context.identity.caller`/`user`): `AIDA…` for a user, `AROA…:session` for
    /// an assumed role.
    pub user_id: String,
    /// Method ARN patterns (IAM wildcards) this identity's policy allows to invoke.
    pub invoke: Vec<String>,
    /// Method ARN patterns it explicitly denies.
    pub deny: Vec<String>,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("Principal")
            .field("access_key_id", &self.access_key_id)
            .field("arn", &self.arn)
            .finish()
    }
}

impl Principal {
    /// The account of its ARN.
    pub fn account_id(&self) -> &str {
        self.arn.split(':').nth(4).unwrap_or("")
    }

    /// What its own (identity-based) policy says about `method_arn`.
    pub fn verdict(&self, method_arn: &str) -> Verdict {
        if self.deny.iter().any(|p| wildcard_match(p, method_arn)) {
            Verdict::ExplicitDeny
        } else if self.invoke.iter().any(|p| wildcard_match(p, method_arn)) {
            Verdict::Allow
        } else {
            Verdict::NotAllowed
        }
    }

    /// A unique id for `arn` when none is configured: `AIDA` and 17 characters derived from the
    /// ARN for a user; `AROA…:session` for an assumed role.
    pub fn derived_user_id(arn: &str) -> String {
        use sha2::Digest;
        let h = sha2::Sha256::digest(arn.as_bytes());
        const A: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let tail: String = h
            .iter()
            .take(17)
            .map(|b| A[(b & 31) as usize] as char)
            .collect();
        match arn.split_once(":assumed-role/") {
            Some((_, rest)) => {
                let session = rest.split('/').nth(1).unwrap_or("session");
                format!("AROA{tail}:{session}")
            }
            None => format!("AIDA{tail}"),
        }
    }
}

/// Whether a request carries a SigV4 signature at all (header or presigned query).
pub(crate) fn has_signature(parts: &http::request::Parts) -> bool {
    parts.headers.contains_key(http::header::AUTHORIZATION)
        || parts
            .uri
            .query()
            .is_some_and(|q| q.contains("X-Amz-Signature="))
}

/// The principals by access key id.
#[derive(Debug, Default)]
pub struct Principals {
    by_key: HashMap<String, Arc<Principal>>,
}

impl Principals {
    /// From a list (a repeated access key id is refused).
    pub fn new(list: Vec<Principal>) -> Result<Self, String> {
        let mut by_key = HashMap::new();
        for p in list {
            if !p.arn.starts_with("arn:aws:iam::") && !p.arn.starts_with("arn:aws:sts::") {
                return Err(format!(
                    "principal {}: {} is not an IAM user or role ARN",
                    p.access_key_id, p.arn
                ));
            }
            let key = p.access_key_id.clone();
            if by_key.insert(key.clone(), Arc::new(p)).is_some() {
                return Err(format!("access key {key} is listed twice"));
            }
        }
        Ok(Self { by_key })
    }

    /// The principal of an access key.
    pub fn get(&self, access_key_id: &str) -> Option<&Arc<Principal>> {
        self.by_key.get(access_key_id)
    }

    /// Whether none is configured.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// An `AWS_IAM` method's step.
#[derive(Debug)]
pub struct IamStep {
    /// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/`.
    pub method_arn_prefix: Box<str>,
    /// The same with the account masked (`********` and its last four digits).
    pub masked_prefix: Box<str>,
    /// The API has a resource policy: it decides with the identity's verdict (next step).
    pub policy_follows: bool,
}

impl IamStep {
    /// `portico routes`' name for the step.
    pub fn describe(&self) -> String {
        if self.policy_follows {
            "aws-iam(sigv4, with the resource policy)".into()
        } else {
            "aws-iam(sigv4)".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Principal {
        Principal {
            access_key_id: "AKIAALICE".into(),
            secret_access_key: "secret".into(),
            session_token: None,
            arn: "arn:aws:iam::123456789012:user/alice".into(),
            user_id: Principal::derived_user_id("arn:aws:iam::123456789012:user/alice"),
            invoke: vec!["arn:aws:execute-api:*:*:abc/*/GET/*".into()],
            deny: vec!["arn:aws:execute-api:*:*:abc/*/GET/admin/*".into()],
        }
    }

    #[test]
    fn identity_policies_and_ids() {
        let a = alice();
        assert_eq!(a.account_id(), "123456789012");
        let arn = |p: &str| format!("arn:aws:execute-api:us-east-1:000000000000:abc/dev/{p}");
        assert_eq!(a.verdict(&arn("GET/pets")), Verdict::Allow);
        assert_eq!(a.verdict(&arn("POST/pets")), Verdict::NotAllowed);
        assert_eq!(a.verdict(&arn("GET/admin/x")), Verdict::ExplicitDeny);
        assert!(a.user_id.starts_with("AIDA") && a.user_id.len() == 21);
        assert_eq!(a.user_id, Principal::derived_user_id(&a.arn));
        assert!(
            Principal::derived_user_id("arn:aws:sts::1:assumed-role/ops/build-7")
                .ends_with(":build-7")
        );
        assert!(!format!("{a:?}").contains("secret"));
        assert!(Principals::new(vec![alice(), alice()]).is_err());
        let mut bad = alice();
        bad.arn = "alice".into();
        assert!(Principals::new(vec![bad]).is_err());
    }
}
