//! `https://` backends, black-box: a real `portico serve`, TLS backends (tokio-rustls) with
//! certificates from a test CA (rcgen) and a real client. A backend whose certificate the gateway
//! cannot verify (unknown issuer, wrong host name, expired) answers as an unreachable one does —
//! 502 `{"message": "Internal server error"}` — and `tlsConfig.insecureSkipVerification` accepts
//! a self-signed certificate but still checks its dates and host name, as API Gateway does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::{Portico, write_spec};

struct TestCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn test_ca() -> TestCa {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "Portico test CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    TestCa {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A certificate for `localhost`: signed by `ca` (else self-signed), expired when `expired`.
fn leaf(ca: Option<&TestCa>, expired: bool) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    if expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = match ca {
        Some(ca) => params.signed_by(&key, &ca.issuer).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (cert.der().clone(), key)
}

/// A TLS backend on 127.0.0.1 answering `tls <Host> <ALPN>`; returns its port and the count of
/// completed handshakes.
async fn tls_backend(
    cert: (CertificateDer<'static>, PrivateKeyDer<'static>),
) -> (u16, Arc<AtomicUsize>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.0], cert.1)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, counted) = (acceptor.clone(), counted.clone());
            tokio::spawn(async move {
                // A handshake the gateway refuses ends here.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let alpn = tls
                    .get_ref()
                    .1
                    .alpn_protocol()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .unwrap_or_else(|| "-".to_owned());
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let host = req
                        .headers()
                        .get("host")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_owned();
                    let body = format!("tls {host} {alpn}");
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from(body),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (port, handshakes)
}

fn route(path: &str, kind: &str, uri: &str, insecure: bool) -> String {
    let tls = if insecure {
        "\n        tlsConfig: {insecureSkipVerification: true}"
    } else {
        ""
    };
    format!(
        r#"
  {path}:
    get:
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration:
        type: {kind}
        httpMethod: GET
        uri: {uri}
        responses: {{default: {{statusCode: "200"}}}}{tls}"#
    )
}

struct Setup {
    gw: Portico,
    api: String,
    good: u16,
    good_handshakes: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

/// The backends (CA-signed, expired CA-signed, self-signed, expired self-signed), and a gateway
/// started with `trust_ca`: `--backend-ca-file` naming the test CA.
async fn setup(trust_ca: bool) -> Setup {
    let ca = test_ca();
    let (good, good_handshakes) = tls_backend(leaf(Some(&ca), false)).await;
    let (expired, _) = tls_backend(leaf(Some(&ca), true)).await;
    let (own, _) = tls_backend(leaf(None, false)).await;
    let (own_expired, _) = tls_backend(leaf(None, true)).await;
    let routes = [
        route(
            "/good",
            "http_proxy",
            &format!("https://localhost:{good}/x"),
            false,
        ),
        route(
            "/good-http",
            "http",
            &format!("https://localhost:{good}/x"),
            false,
        ),
        route(
            "/wrong-name",
            "http_proxy",
            &format!("https://127.0.0.1:{good}/x"),
            false,
        ),
        route(
            "/expired",
            "http_proxy",
            &format!("https://localhost:{expired}/x"),
            false,
        ),
        route(
            "/self",
            "http_proxy",
            &format!("https://localhost:{own}/x"),
            false,
        ),
        route(
            "/self-insecure",
            "http_proxy",
            &format!("https://localhost:{own}/x"),
            true,
        ),
        route(
            "/self-insecure-http",
            "http",
            &format!("https://localhost:{own}/x"),
            true,
        ),
        route(
            "/self-insecure-wrong-name",
            "http_proxy",
            &format!("https://127.0.0.1:{own}/x"),
            true,
        ),
        route(
            "/self-insecure-expired",
            "http_proxy",
            &format!("https://localhost:{own_expired}/x"),
            true,
        ),
        route(
            "/plain-to-tls",
            "http_proxy",
            &format!("http://localhost:{good}/x"),
            false,
        ),
    ]
    .concat();
    let spec = format!("openapi: 3.0.1\ninfo: {{title: tls, version: \"1\"}}\npaths:{routes}\n");
    let dir = tempfile::tempdir().unwrap();
    let file = write_spec(dir.path(), "tls.yaml", &spec);
    let ca_file = write_spec(dir.path(), "ca.pem", &ca.pem);
    let mut args = vec![
        "--import".to_owned(),
        file.to_str().unwrap().to_owned(),
        "--access-log".to_owned(),
        "off".to_owned(),
    ];
    if trust_ca {
        args.push("--backend-ca-file".to_owned());
        args.push(ca_file.to_str().unwrap().to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let gw = Portico::start(&args);
    let api = gw.api_id("tls");
    Setup {
        gw,
        api,
        good,
        good_handshakes,
        _dir: dir,
    }
}

impl Setup {
    async fn get(&self, path: &str) -> (u16, String) {
        let r = reqwest::get(self.gw.path_url(&self.api, "dev", path))
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

const UNREACHABLE: &str = r#"{"message": "Internal server error"}"#;

#[tokio::test]
async fn https_backends_are_verified_against_the_system_roots_and_the_backend_ca_file() {
    let s = setup(true).await;
    let want = format!("tls localhost:{} http/1.1", s.good);
    assert_eq!(s.get("/good").await, (200, want.clone()), "HTTP_PROXY");
    assert_eq!(
        s.get("/good").await,
        (200, want.clone()),
        "pooled connection"
    );
    assert_eq!(s.get("/good-http").await, (200, want), "HTTP");
    assert_eq!(
        s.good_handshakes.load(Ordering::SeqCst),
        1,
        "one pooled TLS connection served the three requests"
    );
    for path in ["/wrong-name", "/expired", "/self", "/plain-to-tls"] {
        let (status, body) = s.get(path).await;
        assert_eq!(status, 502, "{path}: {body}");
        if path != "/plain-to-tls" {
            assert_eq!(body, UNREACHABLE, "{path}");
        }
    }
}

#[tokio::test]
async fn insecure_skip_verification_accepts_a_self_signed_certificate_but_checks_name_and_dates() {
    let s = setup(false).await;
    // Without the CA file the test CA is unknown.
    assert_eq!(s.get("/good").await.0, 502);
    let (status, body) = s.get("/self-insecure").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("tls localhost:"), "{body}");
    assert_eq!(s.get("/self-insecure-http").await.0, 200);
    for path in [
        "/self",
        "/self-insecure-wrong-name",
        "/self-insecure-expired",
    ] {
        assert_eq!(s.get(path).await, (502, UNREACHABLE.to_owned()), "{path}");
    }
}

/// A TLS backend (certificate for `localhost` from `ca`) that asks for a client certificate and
/// accepts only one issued by `trusted` (PEM), set once the gateway has generated it; answers
/// `mtls <subject-present>`. Returns its port and the setter.
async fn mtls_backend(ca: &TestCa) -> (u16, Arc<std::sync::Mutex<Option<String>>>) {
    let trusted: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let (cert, key) = leaf(Some(ca), false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = trusted.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Some(pem) = seen.lock().unwrap().clone() else {
                continue;
            };
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
                .unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .unwrap();
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_client_cert_verifier(verifier)
                .with_single_cert(vec![cert.clone()], key.clone_key())
                .unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let client = tls.get_ref().1.peer_certificates().map_or(0, <[_]>::len);
                let service = service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
                    let body = format!("mtls {client}");
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from(body),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (port, trusted)
}

#[tokio::test]
async fn the_stage_client_certificate_is_presented_to_https_backends() {
    let ca = test_ca();
    let (port, trusted) = mtls_backend(&ca).await;
    let spec = format!(
        "openapi: 3.0.1\ninfo: {{title: mtls, version: \"1\"}}\npaths:{}\n",
        route(
            "/m",
            "http_proxy",
            &format!("https://localhost:{port}/x"),
            false
        )
    );
    let dir = tempfile::tempdir().unwrap();
    let file = write_spec(dir.path(), "mtls.yaml", &spec);
    let ca_file = write_spec(dir.path(), "ca.pem", &ca.pem);
    let gw = Portico::start(&[
        "--import",
        file.to_str().unwrap(),
        "--backend-ca-file",
        ca_file.to_str().unwrap(),
        "--access-log",
        "off",
    ]);
    let api = gw.api_id("mtls");
    let admin = format!("http://{}", gw.admin);
    let http = reqwest::Client::new();
    let cert: serde_json::Value = http
        .post(format!("{admin}/clientcertificates"))
        .json(&serde_json::json!({"description": "to the backend"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = cert["clientCertificateId"].as_str().unwrap();
    *trusted.lock().unwrap() = Some(cert["pemEncodedCertificate"].as_str().unwrap().to_owned());
    let url = gw.path_url(&api, "dev", "/m");
    // No client certificate on the stage yet: the backend refuses the handshake.
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 502);
    let patched = http
        .patch(format!("{admin}/restapis/{api}/stages/dev"))
        .json(&serde_json::json!({"patchOperations": [
            {"op": "replace", "path": "/clientCertificateId", "value": id}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200, "{}", patched.text().await.unwrap());
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "mtls 1".to_owned())
    );
}
