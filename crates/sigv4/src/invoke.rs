//! SigV4 verification of data-plane requests (`AWS_IAM` authorization, service `execute-api`), as
//! API Gateway checks them: the `Authorization` header or a presigned URL's `X-Amz-*` query
//! parameters, five minutes of clock skew, and AWS's messages for each refusal (the signature
//! mismatch one carries the canonical request and string to sign the gateway computed).

use crate::{
    Scope, SignedRequest, canonical_path, canonical_query, canonical_request, hex,
    string_to_sign_and_signature,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Allowed clock skew for `execute-api`.
const MAX_SKEW_SECS: i64 = 5 * 60;
/// The longest a presigned URL may be valid (`X-Amz-Expires`), as for every SigV4 service.
const MAX_EXPIRES_SECS: i64 = 7 * 24 * 3600;
const SERVICE: &str = "execute-api";

/// Why an `execute-api` request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeRejection {
    /// Neither an `Authorization` header nor a presigned URL (`Missing Authentication Token`).
    Missing,
    /// A malformed `Authorization` header or presigned URL (`IncompleteSignatureException`).
    Incomplete(String),
    /// The access key is not known (`The security token included in the request is invalid.`).
    UnknownKey,
    /// The date is more than five minutes away, or a presigned URL has expired.
    Expired(String),
    /// The signature is not the one the gateway computes: what it computed.
    Mismatch {
        /// The canonical request.
        canonical_request: String,
        /// The string to sign.
        string_to_sign: String,
    },
    /// Another refusal (scope) with AWS's message (`InvalidSignatureException`).
    Invalid(String),
}

impl InvokeRejection {
    /// The message AWS answers with.
    pub fn message(&self) -> String {
        match self {
            Self::Missing => "Missing Authentication Token".into(),
            Self::UnknownKey => "The security token included in the request is invalid.".into(),
            Self::Incomplete(m) | Self::Expired(m) | Self::Invalid(m) => m.clone(),
            Self::Mismatch {
                canonical_request,
                string_to_sign,
            } => format!(
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
            ),
        }
    }
}

/// Who signed a request that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The access key id.
    pub access_key_id: String,
    /// `X-Amz-Security-Token` as sent (header or query), for the caller to check against the
    /// key's session.
    pub session_token: Option<String>,
}

/// The signature's parameters, from the header or the query.
struct Params<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
    amz_date: String,
    expires: Option<i64>,
    presigned: bool,
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (k == name).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

fn base64_sha256(s: &str) -> String {
    // Standard base64 of the digest, as AWS prints it (no dependency for 44 characters).
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let d = Sha256::digest(s.as_bytes());
    let mut out = String::new();
    for chunk in d.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `yyyyMMdd'T'HHmmss'Z'` of epoch seconds.
fn amz_date_of(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn header_params<'a>(
    auth: &'a str,
    req: &SignedRequest<'a>,
) -> Result<Params<'a>, InvokeRejection> {
    let (algorithm, rest) = auth.split_once(' ').unwrap_or((auth, ""));
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            return Err(InvokeRejection::Incomplete(format!(
                "Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): '{}'.",
                base64_sha256(auth)
            )));
        };
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed_headers = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let amz_date = req.header("x-amz-date").map(str::to_owned);
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if signed_headers.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if amz_date.is_none() {
        missing.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    }
    if !missing.is_empty() {
        return Err(InvokeRejection::Incomplete(missing.join(" ")));
    }
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(InvokeRejection::Incomplete(format!(
            "Unsupported Authorization Type: {algorithm}"
        )));
    }
    Ok(Params {
        credential: credential.unwrap_or_default(),
        signed_headers: signed_headers.unwrap_or_default(),
        signature: signature.unwrap_or_default(),
        amz_date: amz_date.unwrap_or_default(),
        expires: None,
        presigned: false,
    })
}

/// Verifies an `execute-api` request at `now` (epoch seconds); `secret_of` gives an access key's
/// secret. The path is the one the client sent (stage included), normalised as for every service
/// but S3.
pub fn verify_invoke(
    secret_of: impl Fn(&str) -> Option<String>,
    req: &SignedRequest<'_>,
    now: i64,
) -> Result<Verified, InvokeRejection> {
    let presigned_query: Vec<String>;
    let p = match req.header("authorization") {
        Some(auth) => header_params(auth, req)?,
        None => {
            if query_param(req.query, "X-Amz-Signature").is_none() {
                return Err(InvokeRejection::Missing);
            }
            presigned_query = [
                "X-Amz-Algorithm",
                "X-Amz-Credential",
                "X-Amz-SignedHeaders",
                "X-Amz-Signature",
                "X-Amz-Date",
            ]
            .iter()
            .map(|n| query_param(req.query, n).unwrap_or_default())
            .collect();
            if presigned_query[0] != "AWS4-HMAC-SHA256"
                || presigned_query.iter().any(String::is_empty)
            {
                return Err(InvokeRejection::Incomplete(
                    "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'.".into(),
                ));
            }
            let expires = match query_param(req.query, "X-Amz-Expires") {
                None => None,
                Some(e) => Some(
                    e.parse::<i64>()
                        .ok()
                        .filter(|e| (0..=MAX_EXPIRES_SECS).contains(e))
                        .ok_or_else(|| {
                            InvokeRejection::Incomplete(format!("Invalid X-Amz-Expires: {e}"))
                        })?,
                ),
            };
            Params {
                credential: &presigned_query[1],
                signed_headers: &presigned_query[2],
                signature: &presigned_query[3],
                amz_date: presigned_query[4].clone(),
                expires,
                presigned: true,
            }
        }
    };
    let parts: Vec<&str> = p.credential.split('/').collect();
    let [key_id, date, region, service, terminator] = parts.as_slice() else {
        return Err(InvokeRejection::Incomplete(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            parts.get(2).copied().unwrap_or("")
        )));
    };
    let secret = secret_of(key_id).ok_or(InvokeRejection::UnknownKey)?;
    if *terminator != "aws4_request" {
        return Err(InvokeRejection::Invalid(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '".to_owned()
                + terminator
                + "'. ",
        ));
    }
    if *service != SERVICE {
        return Err(InvokeRejection::Invalid(format!(
            "Credential should be scoped to correct service: '{SERVICE}'. "
        )));
    }
    let when = crate::parse_amz_date(&p.amz_date).ok_or_else(|| {
        InvokeRejection::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
            p.amz_date
        ))
    })?;
    if !p.amz_date.starts_with(date) {
        return Err(InvokeRejection::Invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{}', from '{}'.",
            &p.amz_date[..8.min(p.amz_date.len())],
            p.amz_date
        )));
    }
    match p.expires {
        Some(e) if now > when + e => {
            return Err(InvokeRejection::Expired("Request has expired".into()));
        }
        _ => {}
    }
    if !p.presigned || p.expires.is_none() {
        if now - when > MAX_SKEW_SECS {
            return Err(InvokeRejection::Expired(format!(
                "Signature expired: {} is now earlier than {} ({} - 5 min.)",
                p.amz_date,
                amz_date_of(now - MAX_SKEW_SECS),
                amz_date_of(now)
            )));
        }
        if when - now > MAX_SKEW_SECS {
            return Err(InvokeRejection::Expired(format!(
                "Signature not yet current: {} is still later than {} ({} + 5 min.)",
                p.amz_date,
                amz_date_of(now + MAX_SKEW_SECS),
                amz_date_of(now)
            )));
        }
    }
    let names: Vec<&str> = p.signed_headers.split(';').collect();
    if !names.contains(&"host") {
        return Err(InvokeRejection::Invalid(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    let query = if p.presigned {
        // Everything but the signature itself.
        let rest: Vec<&str> = req
            .query
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.starts_with("X-Amz-Signature="))
            .collect();
        canonical_query(Some(&rest.join("&")))
    } else {
        canonical_query(req.query)
    };
    let payload_hash = match req.header("x-amz-content-sha256") {
        Some("UNSIGNED-PAYLOAD") => "UNSIGNED-PAYLOAD".to_owned(),
        _ => hex(&Sha256::digest(req.body)),
    };
    let canonical = canonical_request(
        req,
        &names,
        p.signed_headers,
        &canonical_path(req.path, true),
        &query,
        &payload_hash,
    )
    .map_err(InvokeRejection::Invalid)?;
    let (string_to_sign, expected) = string_to_sign_and_signature(
        &secret,
        &Scope {
            date,
            region,
            service,
        },
        &p.amz_date,
        &canonical,
    );
    if !bool::from(expected.as_bytes().ct_eq(p.signature.as_bytes())) {
        return Err(InvokeRejection::Mismatch {
            canonical_request: canonical,
            string_to_sign,
        });
    }
    let session_token = req
        .header("x-amz-security-token")
        .map(str::to_owned)
        .or_else(|| query_param(req.query, "X-Amz-Security-Token"));
    Ok(Verified {
        access_key_id: (*key_id).to_owned(),
        session_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_hashes_print_as_aws_does() {
        assert_eq!(amz_date_of(1_486_922_378), "20170212T175938Z");
        assert_eq!(
            crate::parse_amz_date(&amz_date_of(1_700_000_000)),
            Some(1_700_000_000)
        );
        // echo -n 'Bearer x' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            base64_sha256("abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    #[test]
    fn missing_and_malformed() {
        let req = |headers: Vec<(&str, &str)>, query: Option<&'static str>| SignedRequest {
            method: "GET",
            path: "/dev/things",
            query,
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            body: b"",
        };
        let none = |_: &str| None;
        assert_eq!(
            verify_invoke(none, &req(vec![("host", "h")], None), 0),
            Err(InvokeRejection::Missing)
        );
        assert!(matches!(
            verify_invoke(none, &req(vec![("authorization", "Bearer abc")], None), 0),
            Err(InvokeRejection::Incomplete(m)) if m.starts_with("Invalid key=value pair (missing equal-sign)")
        ));
        assert!(matches!(
            verify_invoke(none, &req(vec![("authorization", "AWS4-HMAC-SHA256 Credential=a/b")], None), 0),
            Err(InvokeRejection::Incomplete(m)) if m.contains("requires 'Signature' parameter")
        ));
        assert!(matches!(
            verify_invoke(none, &req(vec![], Some("X-Amz-Signature=abc")), 0),
            Err(InvokeRejection::Incomplete(_))
        ));
    }
}
