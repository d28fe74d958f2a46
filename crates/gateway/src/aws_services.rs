//! The outbound side of `AWS` service integrations (SQS, DynamoDB, Step Functions, SNS, Kinesis,
//! S3, …): what an integration URI `arn:aws:apigateway:{region}:{service}:action/{Action}` or
//! `…:{service}:path/{path}` names, which endpoint answers that service (the real regional AWS
//! endpoint unless configured), which keys sign for the integration's `credentials`, and the
//! SigV4 signature itself (the AWS SDK's `aws-sigv4`).
//!
//! Everything here is decided when a stage is compiled; a request only renders its path and
//! query, signs, and sends.

use http::HeaderValue;
use std::collections::HashMap;
use std::time::SystemTime;

/// Keys that sign outgoing requests.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeys {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token (temporary credentials).
    pub session_token: Option<String>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("SigningKeys")
            .field("access_key_id", &self.access_key_id)
            .finish()
    }
}

/// The `credentials` value that asks API Gateway to call the service with the caller's own
/// credentials.
pub const CALLER_CREDENTIALS: &str = "arn:aws:iam::*:user/*";

/// Endpoints and keys for AWS service integrations, from Portico's configuration.
#[derive(Debug, Default, Clone)]
pub struct AwsServices {
    /// Endpoint per service name as the integration URI spells it (`sqs`, `dynamodb`, `states`).
    endpoints: HashMap<String, http::Uri>,
    /// The endpoint of every service not named in `endpoints` (one local emulator for all).
    any_endpoint: Option<http::Uri>,
    /// Keys per `credentials` role ARN.
    roles: HashMap<String, SigningKeys>,
    /// Keys for an integration whose role has none of its own (the environment, a profile).
    default_keys: Option<SigningKeys>,
}

/// What the `credentials` of an integration sign with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// These keys.
    Keys(SigningKeys),
    /// No keys are configured: requests go unsigned (a local endpoint that checks nothing).
    Unsigned,
    /// The caller's own keys (`credentials: arn:aws:iam::*:user/*`): the verified SigV4 signer of
    /// an `AWS_IAM` method.
    Caller,
}

impl AwsServices {
    /// `endpoints`: (service, URL) pairs, service `*` for every service not named.
    pub fn new(
        endpoints: &[(String, String)],
        roles: HashMap<String, SigningKeys>,
        default_keys: Option<SigningKeys>,
    ) -> Result<Self, String> {
        let mut out = Self {
            roles,
            default_keys,
            ..Self::default()
        };
        for (service, url) in endpoints {
            let uri: http::Uri = url
                .parse()
                .map_err(|_| format!("AWS endpoint for {service}: {url} is not a URL"))?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
                return Err(format!(
                    "AWS endpoint for {service}: {url} is not an http(s) URL with a host"
                ));
            }
            if uri.query().is_some() {
                return Err(format!("AWS endpoint for {service}: {url} has a query"));
            }
            if service == "*" {
                out.any_endpoint = Some(uri);
            } else {
                out.endpoints.insert(service.clone(), uri);
            }
        }
        Ok(out)
    }

    /// What an integration with `credentials` signs with: the role's keys, else the default
    /// keys, else nothing; the caller's own keys for `arn:aws:iam::*:user/*` (which needs an
    /// `AWS_IAM` method).
    pub fn signer(&self, credentials: Option<&str>) -> Result<Signer, String> {
        let credentials = credentials.map(str::trim).filter(|c| !c.is_empty());
        if credentials == Some(CALLER_CREDENTIALS) {
            return Ok(Signer::Caller);
        }
        let keys = credentials
            .and_then(|c| self.roles.get(c))
            .or(self.default_keys.as_ref());
        Ok(keys.map_or(Signer::Unsigned, |k| Signer::Keys(k.clone())))
    }

    /// The base URL (`scheme://authority/prefix`, no trailing slash) a request to `service`
    /// in `region` goes to; `subdomain` is the `{subdomain}.{service}` form's prefix (an S3
    /// bucket: path-style on a configured endpoint).
    fn base_url(&self, service: &str, subdomain: Option<&str>, region: &str) -> (String, String) {
        let configured = self.endpoints.get(service).or(self.any_endpoint.as_ref());
        match configured {
            Some(u) => {
                let base = format!(
                    "{}://{}{}",
                    u.scheme_str().unwrap_or("https"),
                    u.authority().map_or("", |a| a.as_str()),
                    u.path().trim_end_matches('/')
                );
                // A configured endpoint is one host: a bucket subdomain goes path-style.
                let prefix = match subdomain {
                    Some(s) if service == "s3" => format!("/{s}"),
                    _ => String::new(),
                };
                (base, prefix)
            }
            None => {
                let host = match (subdomain, service) {
                    (Some(s), _) => format!("{s}.{service}.{region}.amazonaws.com"),
                    (None, "iam" | "cloudfront" | "route53" | "organizations") => {
                        format!("{service}.amazonaws.com")
                    }
                    (None, _) => format!("{service}.{region}.amazonaws.com"),
                };
                (format!("https://{host}"), String::new())
            }
        }
    }
}

/// What an `AWS` integration URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUri {
    /// Region (the signing region).
    pub region: String,
    /// The `{subdomain}` of a `{subdomain}.{service}` form.
    pub subdomain: Option<String>,
    /// The service's endpoint prefix (`sqs`, `dynamodb`, `states`, `s3`).
    pub service: String,
    /// `action/{Action}` or `path/{path}`.
    pub call: ServiceCall,
}

/// The two shapes of an `AWS` integration URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceCall {
    /// `action/{Action}` (anything after `&` or `?` in it: more query parameters).
    Action {
        /// The action name.
        name: String,
        /// `&Name=Value…` after the action, as written.
        extra_query: String,
    },
    /// `path/{path}`: the service's own path, which may hold `{param}` placeholders.
    Path(String),
}

impl ServiceUri {
    /// Parses `arn:aws:apigateway:{region}:{[subdomain.]service}:{action|path}/{rest}`.
    pub fn parse(uri: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "AWS integration URI {uri} is not arn:aws:apigateway:REGION:SERVICE:action/ACTION \
                 or arn:aws:apigateway:REGION:SERVICE:path/PATH"
            )
        };
        let rest = uri
            .strip_prefix("arn:")
            .and_then(|r| r.split_once(':'))
            .and_then(|(_partition, r)| r.strip_prefix("apigateway:"))
            .ok_or_else(bad)?;
        let (region, rest) = rest.split_once(':').ok_or_else(bad)?;
        let (host, rest) = rest.split_once(':').ok_or_else(bad)?;
        let (kind, tail) = rest.split_once('/').ok_or_else(bad)?;
        if region.is_empty() || host.is_empty() {
            return Err(bad());
        }
        let (subdomain, service) = match host.rsplit_once('.') {
            Some((sub, svc)) if !sub.is_empty() && !svc.is_empty() => {
                (Some(sub.to_owned()), svc.to_owned())
            }
            Some(_) => return Err(bad()),
            None => (None, host.to_owned()),
        };
        let call = match kind {
            "action" => {
                let split = tail.find(['&', '?']).unwrap_or(tail.len());
                let (name, extra) = tail.split_at(split);
                if name.is_empty() {
                    return Err(bad());
                }
                ServiceCall::Action {
                    name: name.to_owned(),
                    extra_query: extra.trim_start_matches(['&', '?']).to_owned(),
                }
            }
            "path" => ServiceCall::Path(tail.to_owned()),
            _ => return Err(bad()),
        };
        Ok(Self {
            region: region.to_owned(),
            subdomain,
            service,
            call,
        })
    }

    /// The name SigV4 signs for (mostly the endpoint prefix).
    pub fn signing_name(&self) -> &str {
        match self.service.as_str() {
            "email" => "ses",
            "sync-states" => "states",
            "runtime.lex" => "lex",
            s => s,
        }
    }
}

/// Services whose actions API Gateway sends with `X-Amz-Target` (and their JSON protocol's
/// content type) when the integration URI is an `action/…` form: `(service, target prefix,
/// content type)`. Others (SQS, SNS: the query protocol) take `Action=` in the query string;
/// for the rest a mapping sets `X-Amz-Target` itself, as on AWS.
const JSON_TARGETS: [(&str, &str, &str); 3] = [
    (
        "dynamodb",
        "DynamoDB_20120810",
        "application/x-amz-json-1.0",
    ),
    ("kinesis", "Kinesis_20131202", "application/x-amz-json-1.1"),
    ("states", "AWSStepFunctions", "application/x-amz-json-1.0"),
];

/// A compiled `AWS` service integration's destination.
#[derive(Debug, Clone)]
pub struct ServiceTarget {
    /// The integration URI's region: signing region.
    pub region: String,
    /// SigV4 service name.
    pub signing_name: String,
    /// What signs.
    pub signer: Signer,
    /// `X-Amz-Target` for an action of a JSON-protocol service.
    pub target: Option<HeaderValue>,
    /// The JSON protocol's content type that goes with `target`.
    pub json_content_type: Option<HeaderValue>,
    /// S3: single-encoded canonical path, `x-amz-content-sha256` sent.
    pub s3: bool,
}

/// A service URI resolved against the configuration: the absolute URL (with `{param}`
/// placeholders left for the URI template) and the signing details.
pub fn resolve(
    services: &AwsServices,
    uri: &ServiceUri,
    credentials: Option<&str>,
) -> Result<(String, ServiceTarget), String> {
    let mut endpoint_service = uri.service.as_str();
    let mut target = None;
    let mut json_content_type = None;
    let url = match &uri.call {
        ServiceCall::Action { name, extra_query } => {
            if uri.service == "states" && name == "StartSyncExecution" {
                // Synchronous Express executions have their own endpoint on AWS.
                endpoint_service = "sync-states";
            }
            if let Some((_, prefix, ct)) = JSON_TARGETS.iter().find(|(s, ..)| *s == uri.service) {
                target = Some(
                    HeaderValue::from_str(&format!("{prefix}.{name}"))
                        .map_err(|_| format!("invalid action name {name}"))?,
                );
                json_content_type = Some(HeaderValue::from_static(ct));
            }
            let (base, prefix) =
                services.base_url(endpoint_service, uri.subdomain.as_deref(), &uri.region);
            let action = percent_encoding::utf8_percent_encode(name, crate::uri::QUERY_ENCODE);
            let mut url = format!("{base}{prefix}/?Action={action}");
            if !extra_query.is_empty() {
                url.push('&');
                url.push_str(extra_query);
            }
            url
        }
        ServiceCall::Path(path) => {
            let (base, prefix) =
                services.base_url(endpoint_service, uri.subdomain.as_deref(), &uri.region);
            format!("{base}{prefix}/{}", path.trim_start_matches('/'))
        }
    };
    // A configured endpoint for `sync-states` falls back to the one for `states`.
    let url = if endpoint_service == "sync-states"
        && !services.endpoints.contains_key("sync-states")
        && services.endpoints.contains_key("states")
    {
        let (base, _) = services.base_url("states", None, &uri.region);
        let (_, rest) = url.split_at(url.find("/?").unwrap_or(url.len()));
        format!("{base}{rest}")
    } else {
        url
    };
    Ok((
        url,
        ServiceTarget {
            region: uri.region.clone(),
            signing_name: uri.signing_name().to_owned(),
            signer: services.signer(credentials)?,
            target,
            json_content_type,
            s3: uri.service == "s3",
        },
    ))
}

/// Who a signature is for.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// SigV4 service name.
    pub service: &'a str,
    /// Region.
    pub region: &'a str,
    /// S3's signing rules (single-encoded path, `x-amz-content-sha256`).
    pub s3: bool,
}

/// SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`, and for S3
/// `x-amz-content-sha256`) for a request to `url` (absolute) whose other signed headers are
/// `headers` (with `host`).
pub fn sign(
    keys: &SigningKeys,
    scope: Scope<'_>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Vec<(String, String)>, String> {
    let Scope {
        service,
        region,
        s3,
    } = scope;
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode, sign,
    };
    let identity = aws_credential_types::Credentials::new(
        keys.access_key_id.clone(),
        keys.secret_access_key.clone(),
        keys.session_token.clone(),
        None,
        "portico",
    )
    .into();
    let mut settings = SigningSettings::default();
    if s3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let (out, _params) = instructions.into_parts();
    Ok(out
        .into_iter()
        .map(|h| (h.name().to_owned(), h.value().to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> AwsServices {
        AwsServices::new(
            &[
                ("*".into(), "http://127.0.0.1:5000".into()),
                ("sqs".into(), "http://127.0.0.1:4566/".into()),
            ],
            HashMap::from([(
                "arn:aws:iam::123456789012:role/orders".to_string(),
                SigningKeys {
                    access_key_id: "AKIDROLE".into(),
                    secret_access_key: "s".into(),
                    session_token: None,
                },
            )]),
            None,
        )
        .unwrap()
    }

    #[test]
    fn parses_action_and_path_uris() {
        let u = ServiceUri::parse("arn:aws:apigateway:eu-west-1:sqs:action/SendMessage").unwrap();
        assert_eq!(u.region, "eu-west-1");
        assert_eq!(u.service, "sqs");
        assert_eq!(
            u.call,
            ServiceCall::Action {
                name: "SendMessage".into(),
                extra_query: String::new()
            }
        );
        let u = ServiceUri::parse("arn:aws:apigateway:us-west-2:s3:path/{bucket}/{key}").unwrap();
        assert_eq!(u.call, ServiceCall::Path("{bucket}/{key}".into()));
        let u = ServiceUri::parse("arn:aws:apigateway:us-west-2:my-bucket.s3:path/{key}").unwrap();
        assert_eq!(u.subdomain.as_deref(), Some("my-bucket"));
        assert_eq!(u.service, "s3");
        let u = ServiceUri::parse(
            "arn:aws:apigateway:us-west-2:s3:action/GetObject&Bucket={bucket}&Key={key}",
        )
        .unwrap();
        assert_eq!(
            u.call,
            ServiceCall::Action {
                name: "GetObject".into(),
                extra_query: "Bucket={bucket}&Key={key}".into()
            }
        );
        for bad in [
            "arn:aws:apigateway:us-east-1:sqs:invoke/x",
            "arn:aws:apigateway::sqs:action/X",
            "arn:aws:apigateway:us-east-1:sqs:action/",
            "arn:aws:lambda:us-east-1:sqs:action/X",
            "http://example.com",
            "arn:aws:apigateway:us-east-1:.s3:path/x",
        ] {
            assert!(ServiceUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resolves_endpoints_targets_and_keys() {
        let s = local();
        let u = ServiceUri::parse("arn:aws:apigateway:us-east-1:dynamodb:action/GetItem").unwrap();
        let (url, t) = resolve(&s, &u, Some("arn:aws:iam::123456789012:role/orders")).unwrap();
        assert_eq!(url, "http://127.0.0.1:5000/?Action=GetItem");
        assert_eq!(t.target.unwrap(), "DynamoDB_20120810.GetItem");
        assert_eq!(t.json_content_type.unwrap(), "application/x-amz-json-1.0");
        assert!(matches!(t.signer, Signer::Keys(k) if k.access_key_id == "AKIDROLE"));
        let u = ServiceUri::parse("arn:aws:apigateway:us-east-1:sqs:path/123/q").unwrap();
        let (url, t) = resolve(&s, &u, Some("arn:aws:iam::1:role/unknown")).unwrap();
        assert_eq!(url, "http://127.0.0.1:4566/123/q");
        assert!(t.target.is_none());
        assert_eq!(t.signer, Signer::Unsigned);
        let u = ServiceUri::parse("arn:aws:apigateway:us-east-1:b1.s3:path/{key}").unwrap();
        let (url, t) = resolve(&s, &u, None).unwrap();
        assert_eq!(url, "http://127.0.0.1:5000/b1/{key}");
        assert!(t.s3);
        // Without configuration: the regional AWS endpoints.
        let aws = AwsServices::default();
        let u = ServiceUri::parse("arn:aws:apigateway:eu-west-1:kinesis:action/PutRecord").unwrap();
        let (url, t) = resolve(&aws, &u, None).unwrap();
        assert_eq!(
            url,
            "https://kinesis.eu-west-1.amazonaws.com/?Action=PutRecord"
        );
        assert_eq!(t.target.unwrap(), "Kinesis_20131202.PutRecord");
        let u = ServiceUri::parse("arn:aws:apigateway:eu-west-1:states:action/StartSyncExecution")
            .unwrap();
        let (url, _) = resolve(&aws, &u, None).unwrap();
        assert_eq!(
            url,
            "https://sync-states.eu-west-1.amazonaws.com/?Action=StartSyncExecution"
        );
        let u = ServiceUri::parse("arn:aws:apigateway:eu-west-1:b1.s3:path/k").unwrap();
        let (url, _) = resolve(&aws, &u, None).unwrap();
        assert_eq!(url, "https://b1.s3.eu-west-1.amazonaws.com/k");
        assert_eq!(s.signer(Some(CALLER_CREDENTIALS)), Ok(Signer::Caller));
    }

    #[test]
    fn bad_endpoints_are_refused() {
        for url in ["ftp://x", "not a url", "http://h/?q=1", "/path"] {
            assert!(
                AwsServices::new(&[("sqs".into(), url.into())], HashMap::new(), None).is_err(),
                "{url}"
            );
        }
    }
}
