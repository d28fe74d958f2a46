//! A REST API's resource policy as a route holds it: the IAM grammar subset API Gateway uses,
//! parsed and expanded when the stage compiles (`execute-api:/…` shorthand → this API's ARNs;
//! statements not about `execute-api:Invoke` dropped), evaluated per request against the method
//! ARN, the caller (anonymous: no IAM identity) and the source IP.
//!
//! How it combines with the method's authorization is AWS's table: with no authorizer an explicit
//! `Allow` is needed; with a Lambda authorizer an explicit `Deny` refuses before the authorizer
//! runs, and afterwards an `Allow` here makes up for an authorizer policy that allows nothing
//! (an authorizer `Deny` still refuses); with a Cognito authorizer the token is checked first and
//! then an explicit `Allow` is needed. A policy Portico cannot evaluate (an unknown condition
//! operator or key) fails closed: the routes answer 500.

use crate::steps::authorizer::{Verdict, wildcard_match};
use serde_json::Value;
use std::net::IpAddr;
use std::sync::Arc;

/// One statement, reduced to what `execute-api:Invoke` by an anonymous caller needs.
#[derive(Debug, Clone, PartialEq)]
struct Statement {
    allow: bool,
    /// `Principal: "*"` or `{"AWS": "*"}`.
    anyone: bool,
    /// `Principal: {"AWS": […]}`: IAM ARNs (wildcards), `arn:aws:iam::ACCOUNT:root` or account ids.
    principals: Vec<String>,
    /// `Resource` patterns (full ARNs); `None` with `not_resources`.
    resources: Option<Vec<String>>,
    /// `NotResource` patterns.
    not_resources: Vec<String>,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
enum Condition {
    /// `IpAddress` / `NotIpAddress` on `aws:SourceIp`.
    SourceIp {
        negated: bool,
        nets: Vec<ipnet::IpNet>,
    },
    /// A string condition on a key a local request never has (`aws:SourceVpc`, `aws:SourceVpce`):
    /// the positive operators never match, the negated ones always do (IAM's rule for a missing
    /// key).
    Absent { negated: bool },
}

/// When the policy is checked relative to the method's authorizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No authorizer, or after a Cognito token check: an explicit `Allow` is needed.
    RequireAllow,
    /// Before a Lambda authorizer: only an explicit `Deny` refuses; the verdict is kept for the
    /// authorizer step.
    BeforeAuthorizer,
    /// After an `AWS_IAM` signature check: the signer's own policy and this one together (same
    /// account: either may allow; another account: both must; an explicit `Deny` in either
    /// refuses).
    AfterIam,
}

/// A compiled resource policy on one route.
#[derive(Debug)]
pub struct ResourcePolicy {
    statements: Arc<[Statement]>,
    /// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/`.
    pub method_arn_prefix: Box<str>,
    /// The same with the account masked as AWS shows it (`********` and its last four digits).
    pub masked_prefix: Box<str>,
    /// Where it runs.
    pub mode: Mode,
}

impl ResourcePolicy {
    /// Parses `policy` (the API's `policy` document) for a stage of `api_id`.
    pub fn compile(
        policy: &str,
        region: &str,
        account: &str,
        api_id: &str,
        stage: &str,
        mode: Mode,
    ) -> Result<Self, String> {
        let doc: Value =
            serde_json::from_str(policy).map_err(|e| format!("resource policy: {e}"))?;
        let api_arn = format!("arn:aws:execute-api:{region}:{account}:{api_id}");
        let statements = match doc.get("Statement") {
            Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
            Some(s @ Value::Object(_)) => vec![s],
            _ => return Err("resource policy: no Statement".into()),
        };
        let mut out = Vec::new();
        for s in statements {
            if let Some(st) = statement(s, &api_arn)? {
                out.push(st);
            }
        }
        let last4 = &account[account.len().saturating_sub(4)..];
        Ok(Self {
            statements: out.into(),
            method_arn_prefix: format!("{api_arn}/{stage}/").into(),
            masked_prefix: format!(
                "arn:aws:execute-api:{region}:********{last4}:{api_id}/{stage}/"
            )
            .into(),
            mode,
        })
    }

    /// The same policy checked at another place of the method's steps.
    pub fn with_mode(&self, mode: Mode) -> Self {
        Self {
            statements: self.statements.clone(),
            method_arn_prefix: self.method_arn_prefix.clone(),
            masked_prefix: self.masked_prefix.clone(),
            mode,
        }
    }

    /// What the policy says about `caller` (`None`: anonymous) from `ip` invoking `method_arn`.
    pub fn verdict(
        &self,
        method_arn: &str,
        ip: Option<IpAddr>,
        caller: Option<&crate::iam::Principal>,
    ) -> Verdict {
        let mut allowed = false;
        for s in self.statements.iter() {
            let names_caller = caller.is_some_and(|c| {
                s.principals.iter().any(|p| {
                    wildcard_match(p, &c.arn)
                        || *p == c.account_id()
                        || *p == format!("arn:aws:iam::{}:root", c.account_id())
                })
            });
            if !s.anyone && !names_caller {
                continue;
            }
            let in_resources = match &s.resources {
                Some(r) => r.iter().any(|p| wildcard_match(p, method_arn)),
                None => !s
                    .not_resources
                    .iter()
                    .any(|p| wildcard_match(p, method_arn)),
            };
            if !in_resources || !s.conditions.iter().all(|c| c.holds(ip)) {
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

    /// `portico routes`' name for the step.
    pub fn describe(&self) -> String {
        match self.mode {
            Mode::RequireAllow => format!("resource-policy({} statements)", self.statements.len()),
            Mode::BeforeAuthorizer => format!(
                "resource-policy({} statements, deny before the authorizer)",
                self.statements.len()
            ),
            Mode::AfterIam => format!(
                "resource-policy({} statements, with the signer's policy)",
                self.statements.len()
            ),
        }
    }
}

impl Condition {
    fn holds(&self, ip: Option<IpAddr>) -> bool {
        match self {
            Condition::SourceIp { negated, nets } => {
                let inside = ip.is_some_and(|ip| nets.iter().any(|n| n.contains(&ip)));
                inside != *negated
            }
            Condition::Absent { negated } => *negated,
        }
    }
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("resource policy: {what} must hold strings"))
            })
            .collect(),
        _ => Err(format!(
            "resource policy: {what} must be a string or a list"
        )),
    }
}

/// `execute-api:/stage/GET/path` → the full ARN of this API.
fn expand(resource: &str, api_arn: &str) -> String {
    match resource.strip_prefix("execute-api:") {
        Some(rest) => format!("{api_arn}{rest}"),
        None => resource.to_owned(),
    }
}

fn statement(v: &Value, api_arn: &str) -> Result<Option<Statement>, String> {
    let allow = match v.get("Effect").and_then(Value::as_str) {
        Some("Allow") => true,
        Some("Deny") => false,
        _ => return Err("resource policy: Effect must be Allow or Deny".into()),
    };
    if v.get("NotAction").is_some() || v.get("NotPrincipal").is_some() {
        return Err("resource policy: NotAction and NotPrincipal are not supported".into());
    }
    let actions = strings(
        v.get("Action")
            .ok_or("resource policy: a statement has no Action")?,
        "Action",
    )?;
    if !actions
        .iter()
        .any(|a| wildcard_match(&a.to_ascii_lowercase(), "execute-api:invoke"))
    {
        // About other actions (e.g. execute-api:ManageConnections): nothing to do with invoking.
        return Ok(None);
    }
    let (anyone, principals) = match v.get("Principal") {
        Some(Value::String(s)) => (s == "*", Vec::new()),
        Some(Value::Object(o)) => {
            let aws = o
                .get("AWS")
                .map(|a| strings(a, "Principal.AWS"))
                .transpose()?
                .unwrap_or_default();
            (aws.iter().any(|p| p == "*"), aws)
        }
        _ => return Err("resource policy: a statement has no Principal".into()),
    };
    let (resources, not_resources) = match (v.get("Resource"), v.get("NotResource")) {
        (Some(r), None) => (
            Some(
                strings(r, "Resource")?
                    .iter()
                    .map(|r| expand(r, api_arn))
                    .collect(),
            ),
            Vec::new(),
        ),
        (None, Some(n)) => (
            None,
            strings(n, "NotResource")?
                .iter()
                .map(|r| expand(r, api_arn))
                .collect(),
        ),
        _ => {
            return Err(
                "resource policy: a statement needs one of Resource and NotResource".into(),
            );
        }
    };
    let mut conditions = Vec::new();
    if let Some(c) = v.get("Condition") {
        let Value::Object(ops) = c else {
            return Err("resource policy: Condition must be an object".into());
        };
        for (op, keys) in ops {
            let Value::Object(keys) = keys else {
                return Err(format!("resource policy: Condition {op} must be an object"));
            };
            for (key, values) in keys {
                conditions.push(condition(op, key, values)?);
            }
        }
    }
    Ok(Some(Statement {
        allow,
        anyone,
        principals,
        resources,
        not_resources,
        conditions,
    }))
}

fn condition(op: &str, key: &str, values: &Value) -> Result<Condition, String> {
    let key_l = key.to_ascii_lowercase();
    let values = strings(values, &format!("Condition {op} {key}"))?;
    match (op, key_l.as_str()) {
        ("IpAddress" | "NotIpAddress", "aws:sourceip") => {
            let nets = values
                .iter()
                .map(|v| {
                    v.parse::<ipnet::IpNet>()
                        .or_else(|_| v.parse::<IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| format!("resource policy: {v} is not an IP address or CIDR"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Condition::SourceIp {
                negated: op == "NotIpAddress",
                nets,
            })
        }
        (
            "StringEquals" | "StringLike" | "StringEqualsIgnoreCase",
            "aws:sourcevpc" | "aws:sourcevpce",
        ) => Ok(Condition::Absent { negated: false }),
        (
            "StringNotEquals" | "StringNotLike" | "StringNotEqualsIgnoreCase",
            "aws:sourcevpc" | "aws:sourcevpce",
        ) => Ok(Condition::Absent { negated: true }),
        _ => Err(format!(
            "resource policy: condition {op} on {key} is not supported by this Portico version"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:000000000000:abc/dev/GET/pets";

    fn policy(json: &str) -> ResourcePolicy {
        ResourcePolicy::compile(
            json,
            "us-east-1",
            "000000000000",
            "abc",
            "dev",
            Mode::RequireAllow,
        )
        .unwrap()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn allow_by_source_ip_with_the_shorthand_resource() {
        let p = policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",
                "Action":"execute-api:Invoke","Resource":"execute-api:/*",
                "Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","127.0.0.1"]}}}]}"#,
        );
        assert_eq!(p.verdict(ARN, ip("127.0.0.1"), None), Verdict::Allow);
        assert_eq!(p.verdict(ARN, ip("10.1.2.3"), None), Verdict::Allow);
        assert_eq!(p.verdict(ARN, ip("192.168.0.1"), None), Verdict::NotAllowed);
        assert_eq!(
            &*p.masked_prefix,
            "arn:aws:execute-api:us-east-1:********0000:abc/dev/"
        );
    }

    #[test]
    fn explicit_deny_wins_and_principals_and_vpcs_count() {
        let p = policy(
            r#"{"Statement":[
              {"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:abc/*"},
              {"Effect":"Deny","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*/GET/pets",
               "Condition":{"NotIpAddress":{"aws:SourceIp":"127.0.0.0/8"}}},
              {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"execute-api:Invoke","Resource":"*"},
              {"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"*",
               "Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}}]}"#,
        );
        assert_eq!(p.verdict(ARN, ip("127.0.0.1"), None), Verdict::Allow);
        assert_eq!(p.verdict(ARN, ip("8.8.8.8"), None), Verdict::ExplicitDeny);
        assert_eq!(
            p.verdict(
                "arn:aws:execute-api:us-east-1:000000000000:abc/dev/POST/pets",
                ip("8.8.8.8"),
                None
            ),
            Verdict::Allow
        );
        // Only the IAM principal and the VPC endpoint statements cover another API: neither
        // applies to an anonymous local caller.
        assert_eq!(
            p.verdict(
                "arn:aws:execute-api:us-east-1:000000000000:zzz/dev/GET/x",
                ip("127.0.0.1"),
                None
            ),
            Verdict::NotAllowed
        );
        // An IAM caller of account 1 is named by `arn:aws:iam::1:root`.
        let caller = crate::iam::Principal {
            access_key_id: "AK".into(),
            secret_access_key: "s".into(),
            session_token: None,
            arn: "arn:aws:iam::1:user/bob".into(),
            user_id: "AIDA".into(),
            invoke: Vec::new(),
            deny: Vec::new(),
        };
        assert_eq!(
            p.verdict(
                "arn:aws:execute-api:us-east-1:000000000000:zzz/dev/GET/x",
                ip("127.0.0.1"),
                Some(&caller)
            ),
            Verdict::Allow
        );
    }

    #[test]
    fn what_cannot_be_evaluated_is_refused() {
        for bad in [
            "not json",
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"not-an-ip"}}}]}"#,
            r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"*","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","NotAction":"s3:*","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        ] {
            assert!(
                ResourcePolicy::compile(
                    bad,
                    "us-east-1",
                    "000000000000",
                    "abc",
                    "dev",
                    Mode::RequireAllow
                )
                .is_err(),
                "{bad}"
            );
        }
        // A statement about another action is no statement about invoking.
        let p = policy(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:ManageConnections","Resource":"*"}]}"#,
        );
        assert_eq!(p.verdict(ARN, ip("127.0.0.1"), None), Verdict::NotAllowed);
    }
}
