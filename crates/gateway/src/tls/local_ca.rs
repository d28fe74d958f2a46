//! A local certificate authority for development (mkcert-style): created once in the data
//! directory (`tls/ca.pem`, `tls/ca-key.pem`, the key readable by its owner only), it signs the
//! default certificate (`localhost`, `*.execute-api.localhost`, `127.0.0.1`, `::1`) and one for
//! each custom domain that brings none. Trust `tls/ca.pem` once and every local name verifies.

use super::CertKey;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// Days a local leaf certificate is valid (browsers refuse more than 398).
const LEAF_DAYS: i64 = 397;
/// A stored leaf is re-issued when it has fewer days than this left.
const RENEW_DAYS: i64 = 30;

/// The local CA.
pub struct LocalCa {
    dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa").field("dir", &self.dir).finish()
    }
}

impl LocalCa {
    /// Loads the CA from `dir`, creating it (and `dir`) on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, String> {
        let cert_path = dir.join("ca.pem");
        let key_path = dir.join("ca-key.pem");
        if cert_path.exists() && key_path.exists() {
            let cert = read(&cert_path)?;
            let key = KeyPair::from_pem(&read(&key_path)?)
                .map_err(|e| format!("{}: {e}", key_path.display()))?;
            let issuer = Issuer::from_ca_cert_pem(&cert, key)
                .map_err(|e| format!("{}: {e}", cert_path.display()))?;
            return Ok(Self {
                dir: dir.to_owned(),
                issuer,
            });
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "Portico development CA");
        dn.push(
            DnType::CommonName,
            format!("Portico local CA {}", short_id()),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        write_private(&key_path, &key.serialize_pem())?;
        std::fs::write(&cert_path, cert.pem())
            .map_err(|e| format!("{}: {e}", cert_path.display()))?;
        let issuer = Issuer::new(params, key);
        Ok(Self {
            dir: dir.to_owned(),
            issuer,
        })
    }

    /// Where the CA certificate is (to trust it).
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The stored certificate `{file}.pem`/`{file}-key.pem` for `names`, issued (and stored) anew
    /// when missing, unreadable, for other names or close to expiry.
    pub fn stored_leaf(&self, file: &str, names: &[String]) -> Result<CertKey, String> {
        let cert_path = self.dir.join(format!("{file}.pem"));
        let key_path = self.dir.join(format!("{file}-key.pem"));
        if let (Ok(cert), Ok(key)) = (
            std::fs::read_to_string(&cert_path),
            std::fs::read_to_string(&key_path),
        ) && let Ok(ck) = CertKey::from_pem(&cert, None, &key)
            && ck.not_after > OffsetDateTime::now_utc().unix_timestamp() + RENEW_DAYS * 86_400
            && names.iter().all(|n| ck.names.contains(n))
        {
            return Ok(ck);
        }
        let (cert, key) = self.issue_pem(names)?;
        write_private(&key_path, &key)?;
        std::fs::write(&cert_path, &cert).map_err(|e| format!("{}: {e}", cert_path.display()))?;
        CertKey::from_pem(&cert, None, &key)
    }

    /// A fresh leaf certificate for `names` (DNS names or IP addresses), held in memory only.
    pub fn leaf(&self, names: &[String]) -> Result<CertKey, String> {
        let (cert, key) = self.issue_pem(names)?;
        CertKey::from_pem(&cert, None, &key)
    }

    fn issue_pem(&self, names: &[String]) -> Result<(String, String), String> {
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "Portico development certificate");
        if let Some(first) = names.first() {
            dn.push(DnType::CommonName, first.as_str());
        }
        params.distinguished_name = dn;
        for n in names {
            let san = match n.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(n.clone().try_into().map_err(|e| format!("{n}: {e}"))?),
            };
            params.subject_alt_names.push(san);
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(LEAF_DAYS);
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| e.to_string())?;
        let mut chain = cert.pem();
        chain.push_str(&std::fs::read_to_string(self.cert_path()).unwrap_or_default());
        Ok((chain, key.serialize_pem()))
    }
}

fn short_id() -> String {
    format!("{:08x}", fastrand::u32(..))
}

fn read(p: &Path) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, pem: &str) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(pem.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_made_once_and_signs_leaves_it_reuses() {
        let dir = std::env::temp_dir().join(format!("portico-ca-{}", short_id()));
        let ca = LocalCa::load_or_create(&dir).unwrap();
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let a = ca.stored_leaf("localhost", &names).unwrap();
        assert!(a.names.contains(&"localhost".to_owned()));
        assert!(a.names.contains(&"127.0.0.1".to_owned()));
        let ca_pem = std::fs::read_to_string(ca.cert_path()).unwrap();
        // Loaded again: the same CA, the same stored leaf.
        let again = LocalCa::load_or_create(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(again.cert_path()).unwrap(), ca_pem);
        let b = again.stored_leaf("localhost", &names).unwrap();
        assert_eq!(a.chain[0], b.chain[0]);
        // A leaf for another name is new, and chains to the same CA.
        let c = again.leaf(&["api.example.test".to_owned()]).unwrap();
        assert_ne!(c.chain[0], a.chain[0]);
        let mut roots = rustls::RootCertStore::empty();
        for der in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(der.unwrap()).unwrap();
        }
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
        .build()
        .unwrap();
        use rustls::client::danger::ServerCertVerifier;
        use rustls_pki_types::pem::PemObject;
        let name = rustls_pki_types::ServerName::try_from("api.example.test").unwrap();
        verifier
            .verify_server_cert(
                &c.chain[0],
                &c.chain[1..],
                &name,
                &[],
                rustls_pki_types::UnixTime::now(),
            )
            .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("ca-key.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the CA key is private");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
