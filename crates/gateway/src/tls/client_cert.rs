//! The certificate a mutual-TLS client presented, as `$context.identity.clientCert` shows it.
//!
//! AWS's shapes: `subjectDN`/`issuerDN` are the name's attributes in certificate order, short
//! names, joined by `,` (`C=US,O=Example,CN=client`); `serialNumber` is the serial's bytes in
//! lowercase hex joined by `:`; `validity` dates are OpenSSL's `Aug  5 09:36:04 2021 GMT`;
//! `clientCertPem` is the PEM of the leaf certificate.

use rustls_pki_types::CertificateDer;
use x509_parser::prelude::*;

/// A parsed client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// `clientCertPem`.
    pub pem: String,
    /// `subjectDN`.
    pub subject_dn: String,
    /// `issuerDN`.
    pub issuer_dn: String,
    /// `serialNumber`.
    pub serial_number: String,
    /// `validity.notBefore`.
    pub not_before: String,
    /// `validity.notAfter`.
    pub not_after: String,
}

impl ClientCert {
    /// Parses the leaf certificate of a verified chain. `None` if it cannot be parsed (the
    /// handshake's verifier parsed it already, so this does not happen in practice).
    pub fn from_der(der: &CertificateDer<'_>) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
        Some(Self {
            pem: pem_of(der.as_ref()),
            subject_dn: dn(cert.subject()),
            issuer_dn: dn(cert.issuer()),
            serial_number: serial(cert.raw_serial()),
            not_before: openssl_time(cert.validity().not_before),
            not_after: openssl_time(cert.validity().not_after),
        })
    }

    /// The `$context.identity.clientCert` object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "clientCertPem": self.pem,
            "subjectDN": self.subject_dn,
            "issuerDN": self.issuer_dn,
            "serialNumber": self.serial_number,
            "validity": {
                "notBefore": self.not_before,
                "notAfter": self.not_after,
            }
        })
    }
}

/// `C=US,O=Example,CN=client`: attributes in certificate order.
fn dn(name: &X509Name<'_>) -> String {
    let registry = oid_registry();
    let mut out = String::new();
    for rdn in name.iter() {
        for attr in rdn.iter() {
            if !out.is_empty() {
                out.push(',');
            }
            match oid2abbrev(attr.attr_type(), registry) {
                Ok(short) => out.push_str(short),
                Err(_) => out.push_str(&attr.attr_type().to_id_string()),
            }
            out.push('=');
            match attr.as_str() {
                Ok(v) => out.push_str(v),
                Err(_) => {
                    // A value that is not a string type: its bytes in hex, as `#…` (RFC 4514).
                    out.push('#');
                    for b in attr.attr_value().data {
                        out.push_str(&format!("{b:02x}"));
                    }
                }
            }
        }
    }
    out
}

/// The serial's bytes, `a1:b2:…`, without the sign byte DER adds to a high first byte.
fn serial(raw: &[u8]) -> String {
    let raw = match raw {
        [0, rest @ ..] if !rest.is_empty() => rest,
        r => r,
    };
    let mut out = String::with_capacity(raw.len() * 3);
    for (i, b) in raw.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// OpenSSL's date form: `Aug  5 09:36:04 2021 GMT` (the day padded with a space).
fn openssl_time(t: ASN1Time) -> String {
    let d = t.to_datetime();
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {:>2} {:02}:{:02}:{:02} {} GMT",
        MONTHS[usize::from(u8::from(d.month())) - 1],
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        d.year()
    )
}

/// PEM of a DER certificate, 64 columns.
pub(crate) fn pem_of(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_reads_as_aws_shows_it() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["client.example".into()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CountryName, "US");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Example Corp");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "client one");
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0xa1, 0x02, 0xff]));
        params.not_before = ::time::macros::datetime!(2019-05-28 12:30:02 UTC);
        params.not_after = ::time::macros::datetime!(2031-08-05 09:36:04 UTC);
        let cert = params.self_signed(&key).unwrap();
        let c = ClientCert::from_der(cert.der()).unwrap();
        assert_eq!(c.subject_dn, "C=US,O=Example Corp,CN=client one");
        assert_eq!(c.issuer_dn, c.subject_dn);
        assert_eq!(c.serial_number, "a1:02:ff");
        assert_eq!(c.not_before, "May 28 12:30:02 2019 GMT");
        assert_eq!(c.not_after, "Aug  5 09:36:04 2031 GMT");
        assert_eq!(c.pem.trim(), cert.pem().trim());
        let j = c.to_json();
        assert_eq!(j["validity"]["notAfter"], "Aug  5 09:36:04 2031 GMT");
        assert_eq!(j["serialNumber"], "a1:02:ff");
    }

    #[test]
    fn a_high_serial_loses_its_sign_byte() {
        assert_eq!(serial(&[0x00, 0x80, 0x01]), "80:01");
        assert_eq!(serial(&[0x00]), "00");
        assert_eq!(serial(&[0x01]), "01");
    }
}
