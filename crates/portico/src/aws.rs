//! Where `AWS` service integrations send their requests and which keys sign them:
//! `--aws-endpoint SERVICE=URL` flags, an `--aws-config` file (YAML or JSON), and the default
//! credential chain (the environment's `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/
//! `AWS_SESSION_TOKEN`, else the `AWS_PROFILE` — or `default` — profile of the shared
//! credentials file).
//!
//! The config file:
//!
//! ```yaml
//! endpoints:                      # service (as the integration URI names it) → URL
//!   "*": http://127.0.0.1:5000    # every service not named
//!   sqs: http://127.0.0.1:4566
//! roles:                          # an integration's `credentials` → keys
//!   arn:aws:iam::123456789012:role/orders-api:
//!     profile: orders             # a profile of the shared credentials file
//!   arn:aws:iam::123456789012:role/audit:
//!     accessKeyId: AKIA…
//!     secretAccessKey: …
//! default:                        # keys for any other role (instead of the chain)
//!   profile: ci
//! issuers:                        # COGNITO_USER_POOLS providerARNs → token issuer
//!   arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc:
//!     issuer: https://login.example.com/realms/main   # the tokens' `iss`
//!     jwks: https://login.example.com/certs           # else the issuer's discovery document
//!     audiences: [web-client]                         # accepted app clients (else any)
//! principals:                     # who may call AWS_IAM methods, by access key id
//!   AKIAIOSFODNN7EXAMPLE:
//!     secretAccessKey: …
//!     arn: arn:aws:iam::000000000000:user/alice
//!     invoke: ["arn:aws:execute-api:*:*:*/*/GET/*"]     # method ARNs its policy allows
//!     deny: []                                          # and explicitly denies (optional)
//!     sessionToken: …                                   # temporary credentials (optional)
//!     userId: AIDA…                                     # $context.identity.user (optional)
//! ```
//!
//! A user pool ARN not listed is the real Cognito issuer; its keys come from the `cognito-idp`
//! endpoint when one is configured (a local emulator), else from AWS.

use anyhow::{Context, anyhow, bail};
use portico_gateway::aws_services::{AwsServices, SigningKeys};
use portico_gateway::iam::{Principal, Principals};
use portico_gateway::jwt::{IssuerConfig, Issuers};

/// Everything `--aws-endpoint`, `--jwt-issuer` and `--aws-config` configure.
pub struct AwsSettings {
    pub services: AwsServices,
    pub issuers: Issuers,
    pub principals: Principals,
}
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Largest config or credentials file read.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The AWS service settings and token issuers from the flags (`--aws-endpoint`,
/// `--jwt-issuer`), the config file and the environment.
pub fn settings(
    endpoint_flags: &[String],
    issuer_flags: &[String],
    config: Option<&Path>,
) -> anyhow::Result<AwsSettings> {
    let mut principals = Vec::new();
    let mut endpoints = Vec::new();
    let mut roles = HashMap::new();
    let mut default_keys = None;
    let mut issuers = HashMap::new();
    if let Some(path) = config {
        let text = read_limited(path)?;
        let doc: Value = serde_saphyr::from_str(&text)
            .map_err(|e| anyhow!("{}: {}", path.display(), e.without_snippet()))?;
        let Value::Object(doc) = doc else {
            bail!("{}: expected a mapping at the top", path.display());
        };
        for (key, value) in &doc {
            match key.as_str() {
                "endpoints" => {
                    for (service, url) in object(value, path, "endpoints")? {
                        let url = url.as_str().ok_or_else(|| {
                            anyhow!("{}: endpoints.{service} is not a URL", path.display())
                        })?;
                        endpoints.push((service.clone(), url.to_owned()));
                    }
                }
                "roles" => {
                    for (role, spec) in object(value, path, "roles")? {
                        let keys = keys_from(spec)
                            .with_context(|| format!("{}: roles.{role}", path.display()))?;
                        roles.insert(role.clone(), keys);
                    }
                }
                "default" => {
                    default_keys = Some(
                        keys_from(value).with_context(|| format!("{}: default", path.display()))?,
                    );
                }
                "issuers" => {
                    for (provider, spec) in object(value, path, "issuers")? {
                        let i = issuer_from(spec)
                            .with_context(|| format!("{}: issuers.{provider}", path.display()))?;
                        issuers.insert(provider.clone(), i);
                    }
                }
                "principals" => {
                    for (key, spec) in object(value, path, "principals")? {
                        principals
                            .push(principal_from(key, spec).with_context(|| {
                                format!("{}: principals.{key}", path.display())
                            })?);
                    }
                }
                other => bail!(
                    "{}: unknown key {other} (endpoints, roles, default, issuers, principals)",
                    path.display()
                ),
            }
        }
    }
    // Flags after the file: a flag overrides the file's endpoint for the same service.
    for spec in endpoint_flags {
        match spec.split_once('=') {
            Some((service, url)) if !service.is_empty() && !url.is_empty() => {
                endpoints.retain(|(s, _)| s != service);
                endpoints.push((service.to_owned(), url.to_owned()));
            }
            _ => bail!(
                "--aws-endpoint {spec}: expected SERVICE=URL (e.g. sqs=http://127.0.0.1:4566, or *=URL for every service)"
            ),
        }
    }
    for spec in issuer_flags {
        match spec.split_once('=') {
            Some((provider, url)) if !provider.is_empty() && !url.is_empty() => {
                issuers.insert(
                    provider.to_owned(),
                    IssuerConfig {
                        issuer: url.trim_end_matches('/').to_owned(),
                        jwks_uri: None,
                        audiences: Vec::new(),
                    },
                );
            }
            _ => bail!(
                "--jwt-issuer {spec}: expected PROVIDER=ISSUER_URL (e.g. arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc=https://login.example.com)"
            ),
        }
    }
    let cognito_endpoint = endpoints
        .iter()
        .find(|(s, _)| s == "cognito-idp")
        .or_else(|| endpoints.iter().find(|(s, _)| s == "*"))
        .map(|(_, u)| u.clone());
    let issuers = Issuers::new(issuers, cognito_endpoint).map_err(|e| anyhow!("issuers: {e}"))?;
    if default_keys.is_none() {
        default_keys = default_chain()?;
    }
    let services = AwsServices::new(&endpoints, roles, default_keys)
        .map_err(|e| anyhow!("--aws-endpoint: {e}"))?;
    let principals = Principals::new(principals).map_err(|e| anyhow!("principals: {e}"))?;
    Ok(AwsSettings {
        services,
        issuers,
        principals,
    })
}

fn principal_from(access_key_id: &str, spec: &Value) -> anyhow::Result<Principal> {
    let Value::Object(o) = spec else {
        bail!("expected a mapping with secretAccessKey, arn and invoke");
    };
    for k in o.keys() {
        if !matches!(
            k.as_str(),
            "secretAccessKey" | "sessionToken" | "arn" | "userId" | "invoke" | "deny"
        ) {
            bail!("unknown key {k} (secretAccessKey, sessionToken, arn, userId, invoke, deny)");
        }
    }
    let text = |k: &str| -> anyhow::Result<Option<String>> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => bail!("{k} is not text"),
        }
    };
    let list = |k: &str| -> anyhow::Result<Option<Vec<String>>> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(Value::Array(a)) => Ok(Some(
                a.iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| anyhow!("{k} holds text"))
                    })
                    .collect::<Result<_, _>>()?,
            )),
            Some(_) => bail!("{k} is not a list"),
        }
    };
    let arn = text("arn")?.ok_or_else(|| anyhow!("arn is missing (the IAM user or role ARN)"))?;
    let invoke = list("invoke")?.ok_or_else(|| {
        anyhow!("invoke is missing: the method ARNs this principal may invoke (e.g. [\"*\"])")
    })?;
    Ok(Principal {
        access_key_id: access_key_id.to_owned(),
        secret_access_key: text("secretAccessKey")?
            .ok_or_else(|| anyhow!("secretAccessKey is missing"))?,
        session_token: text("sessionToken")?,
        user_id: text("userId")?.unwrap_or_else(|| Principal::derived_user_id(&arn)),
        arn,
        invoke,
        deny: list("deny")?.unwrap_or_default(),
    })
}

fn issuer_from(spec: &Value) -> anyhow::Result<IssuerConfig> {
    let Value::Object(o) = spec else {
        bail!("expected a mapping with issuer (and jwks, audiences)");
    };
    let text = |k: &str| -> anyhow::Result<Option<String>> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim_end_matches('/').to_owned())),
            Some(_) => bail!("{k} is not text"),
        }
    };
    for k in o.keys() {
        if !matches!(k.as_str(), "issuer" | "jwks" | "audiences") {
            bail!("unknown key {k} (issuer, jwks, audiences)");
        }
    }
    let audiences = match o.get("audiences") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("audiences holds text"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => bail!("audiences is not a list"),
    };
    Ok(IssuerConfig {
        issuer: text("issuer")?.ok_or_else(|| anyhow!("issuer is missing"))?,
        jwks_uri: text("jwks")?,
        audiences,
    })
}

fn object<'a>(
    value: &'a Value,
    path: &Path,
    what: &str,
) -> anyhow::Result<&'a serde_json::Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| anyhow!("{}: {what} is not a mapping", path.display()))
}

/// Keys from `{profile}` or `{accessKeyId, secretAccessKey, sessionToken?}`.
fn keys_from(spec: &Value) -> anyhow::Result<SigningKeys> {
    let field = |k: &str| spec.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(profile) = field("profile") {
        return profile_keys(&profile)?.ok_or_else(|| {
            anyhow!(
                "profile {profile} is not in {}",
                credentials_file().display()
            )
        });
    }
    match (field("accessKeyId"), field("secretAccessKey")) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => Ok(SigningKeys {
            access_key_id: id,
            secret_access_key: secret,
            session_token: field("sessionToken").filter(|t| !t.is_empty()),
        }),
        _ => bail!("expected profile, or accessKeyId and secretAccessKey"),
    }
}

/// The environment's keys, else the `AWS_PROFILE` (or `default`) profile, else none.
fn default_chain() -> anyhow::Result<Option<SigningKeys>> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Ok(Some(SigningKeys {
            access_key_id: id,
            secret_access_key: secret,
            session_token: env("AWS_SESSION_TOKEN"),
        }));
    }
    let named = env("AWS_PROFILE");
    match profile_keys(named.as_deref().unwrap_or("default"))? {
        Some(k) => Ok(Some(k)),
        None if named.is_some() => bail!(
            "AWS_PROFILE {} is not in {}",
            named.unwrap_or_default(),
            credentials_file().display()
        ),
        None => Ok(None),
    }
}

fn credentials_file() -> PathBuf {
    if let Some(p) = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".aws").join("credentials")
}

/// The keys of `profile` in the shared credentials file (`None`: no file, or no such profile).
fn profile_keys(profile: &str) -> anyhow::Result<Option<SigningKeys>> {
    let path = credentials_file();
    if !path.exists() {
        return Ok(None);
    }
    let text = read_limited(&path)?;
    Ok(parse_profile(&text, profile))
}

/// The INI subset of the shared credentials file: `[name]` sections of `key = value` lines,
/// `#`/`;` comments.
fn parse_profile(text: &str, profile: &str) -> Option<SigningKeys> {
    let mut in_section = false;
    let mut id = None;
    let mut secret = None;
    let mut token = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = name.trim() == profile;
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_owned();
            match k.trim() {
                "aws_access_key_id" => id = Some(v),
                "aws_secret_access_key" => secret = Some(v),
                "aws_session_token" => token = Some(v),
                _ => {}
            }
        }
    }
    Some(SigningKeys {
        access_key_id: id.filter(|v| !v.is_empty())?,
        secret_access_key: secret.filter(|v| !v.is_empty())?,
        session_token: token.filter(|v| !v.is_empty()),
    })
}

fn read_limited(path: &Path) -> anyhow::Result<String> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.len() > MAX_FILE_BYTES {
        bail!("{} is larger than {MAX_FILE_BYTES} bytes", path.display());
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_from_the_credentials_file() {
        let text = "# comment\n[default]\naws_access_key_id = AKID1\naws_secret_access_key=s1\n\n\
                    [ci]\naws_access_key_id=AKID2\n; c\naws_secret_access_key = s2\naws_session_token = t2\n\
                    [broken]\naws_access_key_id = AKID3\n";
        let d = parse_profile(text, "default").unwrap();
        assert_eq!((d.access_key_id.as_str(), d.session_token), ("AKID1", None));
        let ci = parse_profile(text, "ci").unwrap();
        assert_eq!(ci.secret_access_key, "s2");
        assert_eq!(ci.session_token.as_deref(), Some("t2"));
        assert!(parse_profile(text, "broken").is_none());
        assert!(parse_profile(text, "missing").is_none());
    }

    #[test]
    fn config_file_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("aws.yaml");
        std::fs::write(
            &file,
            "endpoints:\n  \"*\": http://127.0.0.1:5000\n  sqs: http://127.0.0.1:1\nroles:\n  arn:aws:iam::1:role/r:\n    accessKeyId: AK\n    secretAccessKey: SK\ndefault:\n  accessKeyId: DEF\n  secretAccessKey: DS\nissuers:\n  pool-a:\n    issuer: http://127.0.0.1:9/\n    audiences: [web]\n",
        )
        .unwrap();
        let AwsSettings {
            services: s,
            issuers,
            ..
        } = settings(
            &["sqs=http://127.0.0.1:4566".into()],
            &["pool-b=https://login.example".into()],
            Some(&file),
        )
        .unwrap();
        let a = issuers.resolve("pool-a").unwrap();
        assert_eq!(
            (a.issuer.as_str(), a.audiences.as_slice()),
            ("http://127.0.0.1:9", &["web".to_owned()][..])
        );
        assert_eq!(
            issuers.resolve("pool-b").unwrap().issuer,
            "https://login.example"
        );
        // A user pool not configured: Cognito's issuer, its keys from the `*` endpoint.
        let c = issuers
            .resolve("arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_X")
            .unwrap();
        assert_eq!(
            c.issuer,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X"
        );
        assert_eq!(
            c.jwks_uri.as_deref(),
            Some("http://127.0.0.1:5000/eu-west-1_X/.well-known/jwks.json")
        );
        assert!(issuers.resolve("not-an-issuer").is_err());
        let u = portico_gateway::aws_services::ServiceUri::parse(
            "arn:aws:apigateway:us-east-1:sqs:path/1/q",
        )
        .unwrap();
        let (url, t) =
            portico_gateway::aws_services::resolve(&s, &u, Some("arn:aws:iam::1:role/r")).unwrap();
        assert_eq!(url, "http://127.0.0.1:4566/1/q");
        assert!(matches!(
            t.signer,
            portico_gateway::aws_services::Signer::Keys(k) if k.access_key_id == "AK"
        ));
        let (_, t) = portico_gateway::aws_services::resolve(&s, &u, Some("arn:other")).unwrap();
        assert!(matches!(
            t.signer,
            portico_gateway::aws_services::Signer::Keys(k) if k.access_key_id == "DEF"
        ));
        std::fs::write(&file, "endpoint:\n  sqs: x\n").unwrap();
        assert!(settings(&[], &[], Some(&file)).is_err());
        std::fs::write(&file, "roles:\n  r:\n    accessKeyId: only\n").unwrap();
        assert!(settings(&[], &[], Some(&file)).is_err());
        std::fs::write(&file, "issuers:\n  p:\n    jwks: http://x\n").unwrap();
        assert!(settings(&[], &[], Some(&file)).is_err());
        std::fs::write(
            &file,
            "principals:\n  AK:\n    secretAccessKey: s\n    arn: arn:aws:iam::1:user/a\n",
        )
        .unwrap();
        // No `invoke`: refused rather than allowing everything or nothing silently.
        assert!(settings(&[], &[], Some(&file)).is_err());
        std::fs::write(
            &file,
            "principals:\n  AK:\n    secretAccessKey: s\n    arn: arn:aws:iam::1:user/a\n    invoke: '*'\n",
        )
        .unwrap();
        let p = settings(&[], &[], Some(&file)).unwrap().principals;
        assert!(p.get("AK").unwrap().user_id.starts_with("AIDA"));
        std::fs::write(
            &file,
            "principals:\n  AK:\n    secretAccessKey: s\n    arn: alice\n    invoke: '*'\n",
        )
        .unwrap();
        assert!(settings(&[], &[], Some(&file)).is_err());
        assert!(settings(&["sqs".into()], &[], None).is_err());
        assert!(settings(&["sqs=ftp://x".into()], &[], None).is_err());
        assert!(settings(&[], &["p".into()], None).is_err());
        assert!(settings(&[], &["p=ftp://x".into()], None).is_err());
    }
}
