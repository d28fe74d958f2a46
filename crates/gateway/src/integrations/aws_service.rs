//! `AWS` service integrations (SQS, DynamoDB, Step Functions, SNS, Kinesis, S3, …) run as
//! `HTTP` (non-proxy) integrations to the service's endpoint — mapped parameters, request
//! templates and integration responses selected by the service's status — with what API Gateway
//! adds on the way out: `Accept: application/json`, the JSON protocol's `X-Amz-Target` for an
//! `action/…` URI, no body on `GET`/`HEAD`/`OPTIONS`, and the SigV4 signature.

use crate::aws_services::{Scope, ServiceTarget, Signer, sign};
use crate::body::GatewayBody;
use crate::compile::HttpProxyIntegration;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request};

const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");

/// Finishes the request to the service: protocol headers, then the signature over the final
/// method, URL, headers and `payload`.
pub(crate) fn prepare(
    aws: &ServiceTarget,
    target: &HttpProxyIntegration,
    req: &mut Request<GatewayBody>,
    headers: &mut HeaderMap,
    payload: Bytes,
    caller: Option<&crate::iam::Principal>,
) -> Result<(), String> {
    headers
        .entry(header::ACCEPT)
        .or_insert(HeaderValue::from_static("application/json"));
    if let Some(t) = &aws.target {
        headers.entry(X_AMZ_TARGET).or_insert(t.clone());
    }
    let payload = if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        *req.body_mut() = GatewayBody::Empty;
        headers.remove(header::CONTENT_TYPE);
        Bytes::new()
    } else {
        payload
    };
    let caller_keys;
    let keys = match &aws.signer {
        Signer::Keys(k) => k,
        Signer::Unsigned => return Ok(()),
        Signer::Caller => {
            let c = caller.ok_or_else(|| {
                format!(
                    "credentials {} sign with the caller's keys: the method's authorization must be AWS_IAM",
                    crate::aws_services::CALLER_CREDENTIALS
                )
            })?;
            caller_keys = crate::aws_services::SigningKeys {
                access_key_id: c.access_key_id.clone(),
                secret_access_key: c.secret_access_key.clone(),
                session_token: c.session_token.clone(),
            };
            &caller_keys
        }
    };
    let host = target
        .pool
        .host()
        .to_str()
        .map_err(|_| "the endpoint's host is not text".to_owned())?;
    let url = format!(
        "{}://{host}{}",
        if target.uri.is_https() {
            "https"
        } else {
            "http"
        },
        req.uri()
    );
    let mut signed: Vec<(&str, &str)> = Vec::with_capacity(headers.len() + 1);
    signed.push(("host", host));
    for (name, value) in headers.iter() {
        // A value that is not text cannot be signed; the service will say so.
        if let Ok(v) = value.to_str() {
            signed.push((name.as_str(), v));
        }
    }
    let out = sign(
        keys,
        Scope {
            service: &aws.signing_name,
            region: &aws.region,
            s3: aws.s3,
        },
        req.method().as_str(),
        &url,
        &signed,
        &payload,
    )
    .map_err(|e| format!("cannot sign the request to the service: {e}"))?;
    for (name, value) in out {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("the signer produced a bad header name {name}"))?;
        let value = HeaderValue::from_str(&value)
            .map_err(|_| "the signer produced a bad header value".to_owned())?;
        headers.insert(name, value);
    }
    Ok(())
}
