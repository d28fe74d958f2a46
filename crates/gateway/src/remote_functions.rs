//! Remote functions: a function name mapped to a Lambda-compatible `Invoke` endpoint elsewhere
//! (real AWS Lambda, another Portico), called over the upstream pools (HTTPS verified as for
//! backends) and signed with SigV4 (the AWS SDK's `aws-sigv4`, service `lambda`).
//!
//! [`FunctionRouter`] sends the names configured as remote there and every other one to the
//! local runtime; the gateway holds it as its [`portico_functions::Invoke`].

use crate::body::GatewayBody;
use crate::upstream::{TlsSettings, UpstreamPool, Upstreams};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use portico_functions::{Invoke, InvokeContext, InvokeError, Invoked, MAX_PAYLOAD_BYTES};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use crate::aws_services::SigningKeys;

#[derive(Debug)]
struct Remote {
    /// `https://lambda.us-east-1.amazonaws.com` or `http://127.0.0.1:9090`, with any path prefix.
    base: http::Uri,
    pool: Arc<UpstreamPool>,
}

/// Functions invoked elsewhere, by name.
#[derive(Debug, Default)]
pub struct RemoteFunctions {
    targets: HashMap<String, Remote>,
    keys: Option<SigningKeys>,
    region: String,
    timeout: Duration,
}

impl RemoteFunctions {
    /// `targets`: (function name, endpoint URL). `keys`: `None` sends unsigned requests.
    pub fn new(
        upstreams: &Upstreams,
        targets: &[(String, String)],
        keys: Option<SigningKeys>,
        region: &str,
    ) -> Result<Self, String> {
        let mut out = HashMap::new();
        for (name, url) in targets {
            let base: http::Uri = url
                .parse()
                .map_err(|_| format!("remote function {name}: {url} is not a URL"))?;
            let tls = match base.scheme_str() {
                Some("https") => Some(TlsSettings::default()),
                Some("http") => None,
                _ => return Err(format!("remote function {name}: {url} is not http(s)")),
            };
            let authority = base
                .authority()
                .ok_or_else(|| format!("remote function {name}: {url} has no host"))?;
            let pool = upstreams.pool(authority, tls)?;
            out.insert(name.clone(), Remote { base, pool });
        }
        Ok(Self {
            targets: out,
            keys,
            region: region.to_owned(),
            timeout: Duration::from_secs(29),
        })
    }

    /// Whether `function` is invoked remotely.
    pub fn serves(&self, function: &str) -> bool {
        self.targets.contains_key(function)
    }

    async fn invoke(
        &self,
        function: &str,
        qualifier: Option<&str>,
        payload: Bytes,
        ctx: InvokeContext,
    ) -> Result<Invoked, InvokeError> {
        let Some(remote) = self.targets.get(function) else {
            return Err(InvokeError::NotFound(function.to_owned()));
        };
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(InvokeError::RequestTooLarge);
        }
        // The ARN the integration names (any account and region), else the name.
        let target = ctx
            .invoked_arn
            .clone()
            .unwrap_or_else(|| function.to_owned());
        let region = target
            .strip_prefix("arn:aws:lambda:")
            .and_then(|r| r.split(':').next())
            .filter(|r| !r.is_empty())
            .unwrap_or(&self.region)
            .to_owned();
        let prefix = remote.base.path().trim_end_matches('/');
        let mut path = format!(
            "{prefix}/2015-03-31/functions/{}/invocations",
            percent_encoding::utf8_percent_encode(&target, percent_encoding::NON_ALPHANUMERIC)
        );
        if let Some(q) = qualifier.filter(|_| !target.starts_with("arn:")) {
            path.push_str("?Qualifier=");
            path.push_str(
                &percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC)
                    .to_string(),
            );
        }
        let url = format!(
            "{}://{}{path}",
            remote.base.scheme_str().unwrap_or("https"),
            remote.base.authority().map_or("", |a| a.as_str())
        );
        let mut headers: Vec<(&'static str, String)> = vec![
            ("x-amz-invocation-type", "RequestResponse".into()),
            ("content-type", "application/json".into()),
        ];
        if let Some(c) = &ctx.client_context {
            use base64::Engine as _;
            headers.push((
                "x-amz-client-context",
                base64::engine::general_purpose::STANDARD.encode(c),
            ));
        }
        let mut req = Request::builder().method(Method::POST).uri(&path);
        for (k, v) in &headers {
            req = req.header(*k, v.as_str());
        }
        if let Some(keys) = &self.keys {
            let host = remote
                .base
                .authority()
                .map_or("", |a| a.as_str())
                .to_owned();
            let mut signed_headers: Vec<(&str, &str)> = vec![("host", host.as_str())];
            signed_headers.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
            let signed = crate::aws_services::sign(
                keys,
                crate::aws_services::Scope {
                    service: "lambda",
                    region: &region,
                    s3: false,
                },
                "POST",
                &url,
                &signed_headers,
                &payload,
            )
            .map_err(|e| InvokeError::Start(format!("cannot sign the invocation: {e}")))?;
            for (k, v) in signed {
                req = req.header(k, v);
            }
        }
        let req = req
            .body(GatewayBody::full(payload))
            .map_err(|e| InvokeError::Start(e.to_string()))?;
        let resp = remote
            .pool
            .send_within(req, self.timeout)
            .await
            .map_err(|e| InvokeError::Start(format!("remote invoke failed: {e}")))?;
        let status = resp.status();
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let function_error = header("x-amz-function-error");
        let executed_version = header("x-amz-executed-version").unwrap_or_else(|| "$LATEST".into());
        let request_id = header("x-amzn-requestid").unwrap_or_default();
        let error_type = header("x-amzn-errortype").unwrap_or_default();
        let body = http_body_util::Limited::new(resp.into_body(), MAX_PAYLOAD_BYTES + 1024)
            .collect()
            .await
            .map_err(|e| InvokeError::Start(format!("remote invoke failed: {e}")))?
            .to_bytes();
        match status {
            StatusCode::OK => Ok(Invoked {
                payload: body,
                function_error,
                request_id,
                log_tail: String::new(),
                executed_version,
                cold: false,
            }),
            StatusCode::NOT_FOUND => Err(InvokeError::NotFound(function.to_owned())),
            StatusCode::TOO_MANY_REQUESTS => Err(InvokeError::TooManyRequests),
            StatusCode::PAYLOAD_TOO_LARGE => Err(InvokeError::RequestTooLarge),
            s => Err(InvokeError::Start(format!(
                "remote invoke answered {s} {error_type}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ))),
        }
    }
}

/// Remote functions by name, the local runtime for the rest.
#[derive(Debug)]
pub struct FunctionRouter {
    remote: RemoteFunctions,
    local: Option<Arc<dyn Invoke>>,
}

impl FunctionRouter {
    /// Routes `remote`'s names there, the rest to `local`.
    pub fn new(remote: RemoteFunctions, local: Option<Arc<dyn Invoke>>) -> Self {
        Self { remote, local }
    }
}

impl Invoke for FunctionRouter {
    fn invoke_qualified<'a>(
        &'a self,
        function: &'a str,
        qualifier: Option<&'a str>,
        payload: Bytes,
        ctx: InvokeContext,
    ) -> Pin<Box<dyn Future<Output = Result<Invoked, InvokeError>> + Send + 'a>> {
        if self.remote.serves(function) {
            return Box::pin(self.remote.invoke(function, qualifier, payload, ctx));
        }
        match &self.local {
            Some(l) => l.invoke_qualified(function, qualifier, payload, ctx),
            None => Box::pin(async move { Err(InvokeError::NotFound(function.to_owned())) }),
        }
    }
}
