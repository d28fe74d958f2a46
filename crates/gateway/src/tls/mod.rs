//! The TLS listener's certificates and settings: one rustls `ServerConfig` per custom domain
//! (its certificate, `securityPolicy` and mutual-TLS truststore) and a default one, chosen by
//! the name the client asks for (SNI) after its `ClientHello` has been read.
//!
//! Where a domain's certificate comes from, first found wins:
//! 1. imported through the management API (`certificateBody`, `certificatePrivateKey`,
//!    `certificateChain` on `CreateDomainName`);
//! 2. `certificateArn`/`regionalCertificateArn` `arn:aws:acm:…:certificate/{id}`: the files
//!    `{data}/certificates/{id}.pem` (certificate and chain) and `{id}.key` that Portico holds;
//! 3. the local CA ([`local_ca`]) issues one.
//!
//! The default certificate (no SNI, `*.execute-api.localhost`, IP addresses, unknown names) is
//! `--tls-cert`/`--tls-key`, or the local CA's `localhost` certificate.
//!
//! **Rotation.** The table is rebuilt whole and swapped (`ArcSwap`) when a domain changes
//! (management API) or a certificate file it was built from changes on disk
//! ([`Certificates::reload_if_changed`], polled by the server). A handshake takes the table's
//! `ServerConfig` when its `ClientHello` arrives and keeps it: handshakes in flight finish with
//! the certificate they started with, new ones get the new one.
//!
//! **`securityPolicy`.** rustls implements TLS 1.2 and 1.3 only: `TLS_1_2` allows both with
//! AWS's TLS 1.2 cipher list (ECDHE with AES-GCM; no ChaCha20 on 1.2), `TLS_1_0` allows every
//! suite rustls has. A TLS 1.0/1.1 client is refused under either policy (AWS would accept it
//! under `TLS_1_0`).
//!
//! **Mutual TLS.** `mutualTlsAuthentication.truststoreUri` names a PEM bundle Portico holds:
//! `s3://{bucket}/{key}` is `{data}/truststores/{bucket}/{key}`, `file:///path` a file. A client
//! without a certificate the truststore vouches for fails the handshake, as on AWS. A domain
//! whose truststore cannot be read refuses every handshake (it fails closed) and says why in
//! the log.

pub mod client_cert;
pub mod local_ca;

pub use client_cert::ClientCert;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// A certificate chain with its private key.
#[derive(Debug)]
pub struct CertKey {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// The leaf's `notAfter`, epoch seconds.
    pub not_after: i64,
    /// The leaf's DNS names and IP addresses (subject alternative names).
    pub names: Vec<String>,
}

impl Clone for CertKey {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            not_after: self.not_after,
            names: self.names.clone(),
        }
    }
}

impl CertKey {
    /// From PEM: the certificate (possibly followed by its chain), an optional separate chain,
    /// and the private key, which must match the certificate.
    pub fn from_pem(cert: &str, chain: Option<&str>, key: &str) -> Result<Self, String> {
        let mut certs = Vec::new();
        for pem in std::iter::once(cert).chain(chain) {
            for der in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                certs.push(der.map_err(|e| format!("certificate is not valid PEM: {e}"))?);
            }
        }
        if certs.is_empty() {
            return Err("no certificate found (expected PEM `BEGIN CERTIFICATE`)".into());
        }
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
            .map_err(|_| "no private key found (expected a PEM private key)".to_owned())?;
        let (not_after, names) = leaf_facts(&certs[0])?;
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let signing = provider
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| format!("unusable private key: {e}"))?;
        let ck = rustls::sign::CertifiedKey::new(certs.clone(), signing);
        ck.keys_match()
            .map_err(|_| "the private key does not match the certificate".to_owned())?;
        Ok(Self {
            chain: certs,
            key,
            not_after,
            names,
        })
    }

    /// From a certificate file and a key file.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Self, String> {
        let c = std::fs::read_to_string(cert).map_err(|e| format!("{}: {e}", cert.display()))?;
        let k = std::fs::read_to_string(key).map_err(|e| format!("{}: {e}", key.display()))?;
        Self::from_pem(&c, None, &k).map_err(|e| format!("{}: {e}", cert.display()))
    }
}

/// The leaf's `notAfter` and names.
fn leaf_facts(der: &CertificateDer<'_>) -> Result<(i64, Vec<String>), String> {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(der.as_ref())
        .map_err(|e| format!("certificate cannot be parsed: {e}"))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push(d.to_ascii_lowercase()),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => names.push(
                        std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).unwrap_or_default())
                            .to_string(),
                    ),
                    16 => names.push(
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).unwrap_or_default())
                            .to_string(),
                    ),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    Ok((cert.validity().not_after.timestamp(), names))
}

/// `securityPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// `TLS_1_0`: every suite rustls has (TLS 1.2 and 1.3).
    Tls10,
    /// `TLS_1_2` (the default): TLS 1.3, and TLS 1.2 with ECDHE and AES-GCM.
    Tls12,
}

impl Policy {
    /// From the API's value; anything else is the default.
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("TLS_1_0") => Self::Tls10,
            _ => Self::Tls12,
        }
    }

    fn provider(self) -> Arc<CryptoProvider> {
        let mut p = rustls::crypto::aws_lc_rs::default_provider();
        if self == Self::Tls12 {
            use rustls::{CipherSuite as C, SupportedCipherSuite as S};
            p.cipher_suites.retain(|s| match s {
                S::Tls13(_) => true,
                S::Tls12(t) => !matches!(
                    t.common.suite,
                    C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
                        | C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
                ),
            });
        }
        Arc::new(p)
    }
}

/// Where a custom domain's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainCert {
    /// Imported through the management API.
    Imported {
        /// `certificateBody`.
        body: String,
        /// `certificateChain`.
        chain: Option<String>,
        /// `certificatePrivateKey`.
        key: String,
    },
    /// `certificateArn`/`regionalCertificateArn`.
    Arn(String),
    /// None: the local CA issues one.
    Local,
}

/// A custom domain as the TLS listener sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainTls {
    /// Lowercase; may start with `*.`.
    pub name: String,
    /// `securityPolicy`.
    pub policy: Option<String>,
    /// Its certificate.
    pub cert: DomainCert,
    /// `mutualTlsAuthentication.truststoreUri`.
    pub truststore_uri: Option<String>,
}

/// Settings of the TLS listener's certificates.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// The data directory: `tls/` (local CA), `certificates/` (ARN-named), `truststores/`.
    pub data_dir: PathBuf,
    /// `--tls-cert` and `--tls-key`: the default certificate instead of the local CA's.
    pub default_cert: Option<(PathBuf, PathBuf)>,
}

/// A certificate being served, for the expiry metric.
#[derive(Debug, Clone, PartialEq)]
pub struct CertStatus {
    /// The domain, or `default`.
    pub domain: String,
    /// `imported`, `arn`, `file`, `local-ca`.
    pub source: &'static str,
    /// `notAfter`, epoch seconds.
    pub not_after: i64,
}

/// What the listener serves a name with: a config, or a refusal (a domain whose mutual-TLS
/// truststore cannot be read).
#[derive(Clone)]
pub enum Site {
    /// Handshake with this config.
    Serve(Arc<ServerConfig>),
    /// Refuse the handshake.
    Refuse,
}

/// Name → config, built whole and swapped.
pub struct TlsTable {
    default: Arc<ServerConfig>,
    exact: HashMap<Box<str>, Site>,
    /// `*.example.com` under `example.com`.
    wildcard: HashMap<Box<str>, Site>,
    /// Certificates served.
    pub certs: Vec<CertStatus>,
}

impl TlsTable {
    /// The config for the name a client asked for (`None`: it sent no SNI).
    pub fn site(&self, sni: Option<&str>) -> Site {
        let Some(name) = sni else {
            return Site::Serve(self.default.clone());
        };
        let lower;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        if let Some(s) = self.exact.get(name) {
            return s.clone();
        }
        if let Some((_, parent)) = name.split_once('.')
            && let Some(s) = self.wildcard.get(parent)
        {
            return s.clone();
        }
        Site::Serve(self.default.clone())
    }
}

/// The TLS listener's certificates: builds the [`TlsTable`] and rebuilds it when a domain or a
/// certificate file changes.
pub struct Certificates {
    settings: TlsSettings,
    resumption: Resumption,
    ca: Option<local_ca::LocalCa>,
    /// Local-CA certificates issued for domains, by name (kept across rebuilds).
    issued: Mutex<HashMap<String, CertKey>>,
    domains: Mutex<Vec<DomainTls>>,
    /// Files the table was built from, with their modification times.
    files: Mutex<Vec<(PathBuf, Option<SystemTime>)>>,
    table: ArcSwap<TlsTable>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates")
            .field("settings", &self.settings)
            .finish()
    }
}

/// `ServerConfig` for one certificate, policy and optional truststore.
fn server_config(
    cert: &CertKey,
    policy: Policy,
    truststore: Option<Arc<rustls::RootCertStore>>,
    resumption: &Resumption,
) -> Result<ServerConfig, String> {
    let provider = policy.provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?;
    let builder = match truststore {
        Some(roots) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| format!("truststore: {e}"))?,
        ),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(cert.chain.clone(), cert.key.clone_key())
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if let Some(t) = &resumption.ticketer {
        config.ticketer = t.clone();
    }
    config.session_storage = resumption.sessions.clone();
    Ok(config)
}

/// Session resumption shared by every site: stateless tickets (keys rotated by rustls every
/// 6 hours) so any number of returning clients resume, and a bounded session-id cache for
/// TLS 1.2 clients that do not take tickets. rustls's default — a 256-entry cache per config —
/// stopped resuming beyond ~128 reconnecting clients (bench/tls.py).
struct Resumption {
    ticketer: Option<Arc<dyn rustls::server::ProducesTickets>>,
    sessions: Arc<dyn rustls::server::StoresServerSessions>,
}

impl Resumption {
    fn new() -> Self {
        Self {
            ticketer: rustls::crypto::aws_lc_rs::Ticketer::new().ok(),
            sessions: rustls::server::ServerSessionMemoryCache::new(16_384),
        }
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// The `{id}` of `arn:aws:acm:{region}:{account}:certificate/{id}`.
fn acm_id(arn: &str) -> Option<&str> {
    let id = arn.strip_prefix("arn:")?.rsplit_once(":certificate/")?.1;
    (!id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some(id)
}

impl Certificates {
    /// Loads the default certificate (creating the local CA when needed) and builds the table.
    pub fn new(settings: TlsSettings) -> Result<Self, String> {
        let ca = if settings.default_cert.is_none() {
            Some(local_ca::LocalCa::load_or_create(
                &settings.data_dir.join("tls"),
            )?)
        } else {
            // Custom domains without certificates still need the local CA; made lazily below.
            local_ca::LocalCa::load_or_create(&settings.data_dir.join("tls")).ok()
        };
        let resumption = Resumption::new();
        let placeholder = Self::default_config(&settings, ca.as_ref(), &resumption)?;
        let me = Self {
            settings,
            resumption,
            ca,
            issued: Mutex::new(HashMap::new()),
            domains: Mutex::new(Vec::new()),
            files: Mutex::new(Vec::new()),
            table: ArcSwap::from_pointee(TlsTable {
                default: Arc::new(placeholder.0),
                exact: HashMap::new(),
                wildcard: HashMap::new(),
                certs: vec![placeholder.1],
            }),
        };
        me.rebuild()?;
        Ok(me)
    }

    /// The local CA's certificate file, if there is a local CA.
    pub fn local_ca_path(&self) -> Option<PathBuf> {
        self.ca.as_ref().map(|c| c.cert_path())
    }

    fn default_config(
        settings: &TlsSettings,
        ca: Option<&local_ca::LocalCa>,
        resumption: &Resumption,
    ) -> Result<(ServerConfig, CertStatus), String> {
        let (ck, source) = match (&settings.default_cert, ca) {
            (Some((c, k)), _) => (CertKey::from_files(c, k)?, "file"),
            (None, Some(ca)) => (
                ca.stored_leaf(
                    "localhost",
                    &[
                        "localhost".into(),
                        "*.execute-api.localhost".into(),
                        "127.0.0.1".into(),
                        "::1".into(),
                    ],
                )?,
                "local-ca",
            ),
            (None, None) => return Err("no default certificate".into()),
        };
        let status = CertStatus {
            domain: "default".into(),
            source,
            not_after: ck.not_after,
        };
        Ok((server_config(&ck, Policy::Tls12, None, resumption)?, status))
    }

    /// The table handshakes read.
    pub fn table(&self) -> arc_swap::Guard<Arc<TlsTable>> {
        self.table.load()
    }

    /// Sets the custom domains and rebuilds the table if they changed.
    pub fn set_domains(&self, domains: Vec<DomainTls>) {
        {
            let mut d = self.domains.lock().unwrap_or_else(|e| e.into_inner());
            if *d == domains {
                return;
            }
            *d = domains;
        }
        if let Err(e) = self.rebuild() {
            tracing::error!(error = %e, "TLS certificates not rebuilt; the previous ones stay");
        }
    }

    /// Rebuilds the table when a certificate or truststore file it was built from changed on
    /// disk (or appeared). `true` if it did.
    pub fn reload_if_changed(&self) -> bool {
        let changed = self
            .files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|(p, t)| mtime(p) != *t);
        if !changed {
            return false;
        }
        match self.rebuild() {
            Ok(()) => {
                tracing::info!("TLS certificates reloaded from disk");
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "TLS certificates not reloaded; the previous ones stay");
                false
            }
        }
    }

    fn rebuild(&self) -> Result<(), String> {
        let mut files = Vec::new();
        if let Some((c, k)) = &self.settings.default_cert {
            files.push((c.clone(), mtime(c)));
            files.push((k.clone(), mtime(k)));
        }
        let (default, default_status) =
            Self::default_config(&self.settings, self.ca.as_ref(), &self.resumption)?;
        let default = Arc::new(default);
        let mut certs = vec![default_status];
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        let domains = self
            .domains
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        for d in &domains {
            let site = match self.site_for(d, &mut files, &mut issued) {
                Ok((config, status)) => {
                    certs.push(status);
                    Site::Serve(Arc::new(config))
                }
                Err(e) => {
                    tracing::error!(domain = %d.name, error = %e, "custom domain refuses TLS handshakes");
                    Site::Refuse
                }
            };
            match d.name.strip_prefix("*.") {
                Some(parent) => wildcard.insert(parent.into(), site),
                None => exact.insert(d.name.as_str().into(), site),
            };
        }
        issued.retain(|name, _| domains.iter().any(|d| d.name == *name));
        drop(issued);
        *self.files.lock().unwrap_or_else(|e| e.into_inner()) = files;
        self.table.store(Arc::new(TlsTable {
            default,
            exact,
            wildcard,
            certs,
        }));
        Ok(())
    }

    fn site_for(
        &self,
        d: &DomainTls,
        files: &mut Vec<(PathBuf, Option<SystemTime>)>,
        issued: &mut HashMap<String, CertKey>,
    ) -> Result<(ServerConfig, CertStatus), String> {
        let truststore = match &d.truststore_uri {
            None => None,
            Some(uri) => {
                let path = self.truststore_path(uri)?;
                files.push((path.clone(), mtime(&path)));
                let mut roots = rustls::RootCertStore::empty();
                let pem = std::fs::read(&path)
                    .map_err(|e| format!("truststore {uri} ({}): {e}", path.display()))?;
                for der in CertificateDer::pem_slice_iter(&pem) {
                    let der = der.map_err(|e| format!("truststore {uri}: {e}"))?;
                    roots
                        .add(der)
                        .map_err(|e| format!("truststore {uri}: {e}"))?;
                }
                if roots.is_empty() {
                    return Err(format!("truststore {uri} holds no certificate"));
                }
                Some(Arc::new(roots))
            }
        };
        let (ck, source) = match &d.cert {
            DomainCert::Imported { body, chain, key } => {
                (CertKey::from_pem(body, chain.as_deref(), key)?, "imported")
            }
            DomainCert::Arn(arn) => match acm_id(arn) {
                Some(id) => {
                    let dir = self.settings.data_dir.join("certificates");
                    let (c, k) = (dir.join(format!("{id}.pem")), dir.join(format!("{id}.key")));
                    files.push((c.clone(), mtime(&c)));
                    files.push((k.clone(), mtime(&k)));
                    if c.exists() {
                        (CertKey::from_files(&c, &k)?, "arn")
                    } else {
                        tracing::warn!(domain = %d.name, certificate = %arn,
                            "certificate not held (no {}); serving a local-CA certificate",
                            c.display());
                        (self.local_leaf(&d.name, issued)?, "local-ca")
                    }
                }
                None => (self.local_leaf(&d.name, issued)?, "local-ca"),
            },
            DomainCert::Local => (self.local_leaf(&d.name, issued)?, "local-ca"),
        };
        let status = CertStatus {
            domain: d.name.clone(),
            source,
            not_after: ck.not_after,
        };
        Ok((
            server_config(
                &ck,
                Policy::parse(d.policy.as_deref()),
                truststore,
                &self.resumption,
            )?,
            status,
        ))
    }

    fn local_leaf(
        &self,
        name: &str,
        issued: &mut HashMap<String, CertKey>,
    ) -> Result<CertKey, String> {
        if let Some(c) = issued.get(name) {
            return Ok(c.clone());
        }
        let ca = self
            .ca
            .as_ref()
            .ok_or_else(|| "no certificate and no local CA".to_owned())?;
        let c = ca.leaf(&[name.to_owned()])?;
        issued.insert(name.to_owned(), c.clone());
        Ok(c)
    }

    fn truststore_path(&self, uri: &str) -> Result<PathBuf, String> {
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, key) = rest
                .split_once('/')
                .ok_or_else(|| format!("truststore URI {uri} names no object"))?;
            let safe = |s: &str| {
                !s.is_empty() && s.split('/').all(|p| !p.is_empty() && p != "." && p != "..")
            };
            if !safe(bucket) || !safe(key) {
                return Err(format!("truststore URI {uri} is not a plain object path"));
            }
            return Ok(self
                .settings
                .data_dir
                .join("truststores")
                .join(bucket)
                .join(key));
        }
        if let Some(path) = uri.strip_prefix("file://") {
            return Ok(PathBuf::from(path));
        }
        Err(format!(
            "truststore URI {uri}: expected s3://bucket/key or file:///path"
        ))
    }

    /// `portico_tls_certificate_expiry_timestamp_seconds`, one line per certificate served.
    pub fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write;
        let table = self.table.load();
        out.push_str("# HELP portico_tls_certificate_expiry_timestamp_seconds notAfter of each certificate the TLS listener serves (epoch seconds).\n");
        out.push_str("# TYPE portico_tls_certificate_expiry_timestamp_seconds gauge\n");
        for c in &table.certs {
            let _ = writeln!(
                out,
                "portico_tls_certificate_expiry_timestamp_seconds{{domain=\"{}\",source=\"{}\"}} {}",
                c.domain.replace(['"', '\\', '\n'], "_"),
                c.source,
                c.not_after
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acm_arns_name_held_files() {
        assert_eq!(
            acm_id("arn:aws:acm:us-east-1:123456789012:certificate/abcd-12"),
            Some("abcd-12")
        );
        assert_eq!(acm_id("arn:aws:acm:us-east-1:1:certificate/../x"), None);
        assert_eq!(acm_id("nope"), None);
    }

    #[test]
    fn a_key_for_another_certificate_is_refused() {
        let a = rcgen::generate_simple_self_signed(vec!["a.test".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["b.test".into()]).unwrap();
        let ok = CertKey::from_pem(&a.cert.pem(), None, &a.signing_key.serialize_pem()).unwrap();
        assert_eq!(ok.names, vec!["a.test".to_owned()]);
        let err =
            CertKey::from_pem(&a.cert.pem(), None, &b.signing_key.serialize_pem()).unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        assert!(CertKey::from_pem("junk", None, "junk").is_err());
    }

    #[test]
    fn names_pick_exact_then_wildcard_then_default() {
        let dir = std::env::temp_dir().join(format!("portico-tls-{:08x}", fastrand::u32(..)));
        let c = Certificates::new(TlsSettings {
            data_dir: dir.clone(),
            default_cert: None,
        })
        .unwrap();
        c.set_domains(vec![
            DomainTls {
                name: "api.example.test".into(),
                policy: None,
                cert: DomainCert::Local,
                truststore_uri: None,
            },
            DomainTls {
                name: "*.wild.test".into(),
                policy: Some("TLS_1_0".into()),
                cert: DomainCert::Local,
                truststore_uri: None,
            },
            DomainTls {
                name: "mtls.example.test".into(),
                policy: None,
                cert: DomainCert::Local,
                truststore_uri: Some("s3://missing/bundle.pem".into()),
            },
        ]);
        let t = c.table();
        let ptr = |s: Site| match s {
            Site::Serve(c) => Some(Arc::as_ptr(&c)),
            Site::Refuse => None,
        };
        let default = ptr(t.site(None));
        assert!(default.is_some());
        assert_eq!(ptr(t.site(Some("unknown.test"))), default);
        let api = ptr(t.site(Some("API.example.test")));
        assert!(api.is_some() && api != default);
        let wild = ptr(t.site(Some("x.wild.test")));
        assert!(wild.is_some() && wild != default && wild != api);
        assert_eq!(ptr(t.site(Some("y.x.wild.test"))), default);
        assert_eq!(ptr(t.site(Some("mtls.example.test"))), None, "fails closed");
        // Three certificates served: the default and the two readable domains.
        assert_eq!(t.certs.len(), 3);
        let mut m = String::new();
        c.render_metrics(&mut m);
        assert!(
            m.contains("domain=\"api.example.test\",source=\"local-ca\""),
            "{m}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
