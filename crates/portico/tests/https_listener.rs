//! The HTTPS listener, black-box: a real `portico serve --tls-listen`, custom domains created
//! through the management API — `a.example.test` with a certificate uploaded on
//! `CreateDomainName`, `b.example.test` with a `regionalCertificateArn` whose files Portico holds
//! under `{data}/certificates/` — and a real rustls client that trusts only the test CA (rcgen)
//! those certificates come from. SNI picks each domain's own certificate, `Host` picks the API
//! through the base path mappings, ALPN negotiates HTTP/2 or HTTP/1.1, and a name no domain has
//! gets the default certificate (the local CA's), which the test CA does not vouch for.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::Portico;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// `CreateDomainName`'s `regionalCertificateArn` for `b.example.test`; its files are
/// `{data}/certificates/{B_CERT_ID}.pem` and `.key`.
const B_CERT_ID: &str = "b-example-test";

struct TestCa {
    der: CertificateDer<'static>,
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn test_ca() -> TestCa {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "Portico listener test CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    TestCa {
        der: cert.der().clone(),
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A certificate for `name` signed by `ca`: its DER, its PEM and its private key's PEM.
fn leaf(ca: &TestCa, name: &str) -> (CertificateDer<'static>, String, String) {
    let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.der().clone(), cert.pem(), key.serialize_pem())
}

/// A TLS client trusting only `roots`, offering `alpn`.
fn client(roots: &[CertificateDer<'static>], alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// A TLS session to `addr` asking for `sni`.
async fn connect(
    addr: SocketAddr,
    sni: &str,
    tls: &tokio_rustls::TlsConnector,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(sni.to_owned()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), tls.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("TLS handshake timed out"))?
}

/// The certificate chain the server presented, leaf first.
fn served_chain(tls: &TlsStream<TcpStream>) -> Vec<CertificateDer<'static>> {
    tls.get_ref()
        .1
        .peer_certificates()
        .unwrap()
        .iter()
        .map(|c| c.clone().into_owned())
        .collect()
}

/// Why the client refused the handshake for `sni`.
async fn refused(addr: SocketAddr, sni: &str, tls: &tokio_rustls::TlsConnector) -> rustls::Error {
    let Err(err) = connect(addr, sni, tls).await else {
        panic!("{sni}: the handshake verified");
    };
    match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(cause) => cause.clone(),
        None => panic!("{sni}: not a TLS error: {err:?}"),
    }
}

fn alpn(tls: &TlsStream<TcpStream>) -> Option<Vec<u8>> {
    tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)
}

/// `GET https://{host}{path}` over an established TLS session, with HTTP/1.1 or HTTP/2:
/// (version, status, body).
async fn get(
    tls: TlsStream<TcpStream>,
    h2: bool,
    host: &str,
    path: &str,
) -> (hyper::Version, u16, String) {
    let io = TokioIo::new(tls);
    let response = if h2 {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(TokioExecutor::new(), io)
                .await
                .unwrap();
        tokio::spawn(conn);
        // HTTP/2 carries the host in `:authority`, from the absolute URI.
        let req = hyper::Request::get(format!("https://{host}{path}"))
            .body(Empty::new())
            .unwrap();
        sender.send_request(req).await.unwrap()
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header("host", host)
            .body(Empty::new())
            .unwrap();
        sender.send_request(req).await.unwrap()
    };
    let (version, status) = (response.version(), response.status().as_u16());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (version, status, String::from_utf8_lossy(&body).into_owned())
}

/// The management API, over plain HTTP.
struct Admin {
    base: String,
    http: reqwest::Client,
}

impl Admin {
    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if !body.is_null() {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, body).await
    }

    async fn put(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::PUT, path, body).await
    }

    /// A `GET` on `resource` answered by a MOCK integration with `answer`.
    async fn mock_get(&self, api: &str, resource: &str, answer: &str) {
        let method = format!("/restapis/{api}/resources/{resource}/methods/GET");
        self.put(&method, json!({"authorizationType": "NONE"}))
            .await;
        self.put(
            &format!("{method}/integration"),
            json!({"type": "MOCK",
                   "requestTemplates": {"application/json": "{\"statusCode\": 200}"}}),
        )
        .await;
        self.put(
            &format!("{method}/integration/responses/200"),
            json!({"responseTemplates": {"application/json": answer}}),
        )
        .await;
    }

    /// A REST API whose `/` answers `{"api": "{name}"}` and `/pets` `{"api": "{name}",
    /// "at": "pets"}`, deployed to `prod`; its id.
    async fn rest_api(&self, name: &str) -> String {
        let api = self.post("/restapis", json!({"name": name})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let resources = self
            .call(
                reqwest::Method::GET,
                &format!("/restapis/{api}/resources"),
                Value::Null,
            )
            .await;
        // The wire name of the list is `item` (boto3 calls it `items`).
        let root = resources["item"][0]["id"].as_str().unwrap().to_owned();
        let pets = self
            .post(
                &format!("/restapis/{api}/resources/{root}"),
                json!({"pathPart": "pets"}),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.mock_get(&api, &root, &format!(r#"{{"api": "{name}"}}"#))
            .await;
        self.mock_get(
            &api,
            &pets,
            &format!(r#"{{"api": "{name}", "at": "pets"}}"#),
        )
        .await;
        self.post(
            &format!("/restapis/{api}/deployments"),
            json!({"stageName": "prod"}),
        )
        .await;
        api
    }
}

struct Setup {
    gw: Portico,
    https: SocketAddr,
    ca: TestCa,
    /// The leaf uploaded for `a.example.test`, and the one placed for `b.example.test`.
    a_leaf: CertificateDer<'static>,
    b_leaf: CertificateDer<'static>,
}

/// The `https://` address `portico serve` prints after its other listeners.
fn https_addr(gw: &Portico) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = gw.stdout_lines.lock().unwrap().iter().find_map(|l| {
            l.strip_prefix("portico: data plane listening on https://")
                .map(|a| a.parse().unwrap())
        });
        if let Some(a) = found {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "no https listener line in {:?}",
            gw.stdout_lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A gateway with the HTTPS listener; APIs `one` and `two`; `a.example.test` (uploaded
/// certificate, chain = the test CA) with `/v1` → `one`, `b.example.test` (ARN whose files the
/// gateway holds) with `(none)` → `two`.
async fn setup() -> Setup {
    let gw = Portico::start(&["--access-log", "off", "--tls-listen", "127.0.0.1:0"]);
    let https = https_addr(&gw);
    let ca = test_ca();
    let (a_leaf, a_pem, a_key) = leaf(&ca, "a.example.test");
    let (b_leaf, b_pem, b_key) = leaf(&ca, "b.example.test");
    let certs = gw.data.join("certificates");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(certs.join(format!("{B_CERT_ID}.pem")), &b_pem).unwrap();
    std::fs::write(certs.join(format!("{B_CERT_ID}.key")), &b_key).unwrap();

    let admin = Admin {
        base: format!("http://{}", gw.admin),
        http: reqwest::Client::new(),
    };
    let one = admin.rest_api("one").await;
    let two = admin.rest_api("two").await;
    let regional = json!({"types": ["REGIONAL"]});
    admin
        .post(
            "/domainnames",
            json!({"domainName": "a.example.test", "endpointConfiguration": regional,
                   "certificateBody": a_pem, "certificatePrivateKey": a_key,
                   "certificateChain": ca.pem}),
        )
        .await;
    admin
        .post(
            "/domainnames",
            json!({"domainName": "b.example.test", "endpointConfiguration": regional,
                   "regionalCertificateArn":
                       format!("arn:aws:acm:us-east-1:123456789012:certificate/{B_CERT_ID}")}),
        )
        .await;
    admin
        .post(
            "/domainnames/a.example.test/basepathmappings",
            json!({"basePath": "v1", "restApiId": one, "stage": "prod"}),
        )
        .await;
    admin
        .post(
            "/domainnames/b.example.test/basepathmappings",
            json!({"restApiId": two, "stage": "prod"}),
        )
        .await;
    Setup {
        gw,
        https,
        ca,
        a_leaf,
        b_leaf,
    }
}

#[tokio::test]
async fn each_custom_domain_is_served_its_own_certificate_and_routes_to_its_api() {
    let s = setup().await;
    let trust_test_ca = client(std::slice::from_ref(&s.ca.der), &[b"http/1.1"]);

    let a = connect(s.https, "a.example.test", &trust_test_ca)
        .await
        .unwrap();
    assert_eq!(
        served_chain(&a),
        [s.a_leaf.clone(), s.ca.der.clone()],
        "a.example.test: the uploaded certificate, then its certificateChain"
    );
    assert_eq!(alpn(&a).as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(
        get(a, false, "a.example.test", "/v1/pets").await,
        (
            hyper::Version::HTTP_11,
            200,
            r#"{"api": "one", "at": "pets"}"#.to_owned()
        )
    );

    let b = connect(s.https, "b.example.test", &trust_test_ca)
        .await
        .unwrap();
    assert_eq!(
        served_chain(&b),
        std::slice::from_ref(&s.b_leaf),
        "b.example.test: the certificate held for its ARN"
    );
    assert_eq!(
        get(b, false, "b.example.test", "/pets").await,
        (
            hyper::Version::HTTP_11,
            200,
            r#"{"api": "two", "at": "pets"}"#.to_owned()
        )
    );
    let b = connect(s.https, "b.example.test", &trust_test_ca)
        .await
        .unwrap();
    assert_eq!(
        get(b, false, "b.example.test", "/").await.2,
        r#"{"api": "two"}"#
    );

    // The SNI name is case-insensitive.
    let upper = connect(s.https, "A.Example.TEST", &trust_test_ca)
        .await
        .unwrap();
    assert_eq!(served_chain(&upper)[0], s.a_leaf);

    // `a.example.test` maps only `/v1`: its root is no API's.
    let a = connect(s.https, "a.example.test", &trust_test_ca)
        .await
        .unwrap();
    let (_, status, body) = get(a, false, "a.example.test", "/pets").await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()),
        (403, json!({"message": "Forbidden"}))
    );
}

#[tokio::test]
async fn alpn_negotiates_http2_on_custom_domains() {
    let s = setup().await;
    let h2_first = client(std::slice::from_ref(&s.ca.der), &[b"h2", b"http/1.1"]);
    for (sni, path, want, leaf) in [
        (
            "a.example.test",
            "/v1",
            r#"{"api": "one"}"#,
            s.a_leaf.clone(),
        ),
        (
            "b.example.test",
            "/pets",
            r#"{"api": "two", "at": "pets"}"#,
            s.b_leaf.clone(),
        ),
    ] {
        let tls = connect(s.https, sni, &h2_first).await.unwrap();
        assert_eq!(served_chain(&tls)[0], leaf, "{sni}");
        assert_eq!(alpn(&tls).as_deref(), Some(&b"h2"[..]), "{sni}");
        assert_eq!(
            get(tls, true, sni, path).await,
            (hyper::Version::HTTP_2, 200, want.to_owned()),
            "{sni}"
        );
    }
    // Several streams on one HTTP/2 connection, each routed by its `:authority`.
    let tls = connect(s.https, "a.example.test", &h2_first).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(
        TokioExecutor::new(),
        TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let mut streams = Vec::new();
    for _ in 0..4 {
        let mut sender = sender.clone();
        streams.push(tokio::spawn(async move {
            let req = hyper::Request::get("https://a.example.test/v1/pets")
                .body(Empty::new())
                .unwrap();
            let r = sender.send_request(req).await.unwrap();
            assert_eq!(r.version(), hyper::Version::HTTP_2);
            r.into_body().collect().await.unwrap().to_bytes()
        }));
    }
    for s in streams {
        assert_eq!(s.await.unwrap(), r#"{"api": "one", "at": "pets"}"#);
    }
}

#[tokio::test]
async fn an_unknown_name_gets_the_default_certificate_which_the_test_ca_does_not_vouch_for() {
    let s = setup().await;
    let trust_test_ca = client(std::slice::from_ref(&s.ca.der), &[b"http/1.1"]);
    assert_eq!(
        refused(s.https, "unknown.example.test", &trust_test_ca).await,
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
    );

    // It is the local CA's default certificate: a client trusting that CA gets it for
    // `localhost`, and it is neither domain's.
    let local_ca = std::fs::read(s.gw.data.join("tls/ca.pem")).unwrap();
    let local_ca = CertificateDer::from_pem_slice(&local_ca).unwrap();
    let trust_local = client(&[local_ca], &[b"http/1.1"]);
    let default = connect(s.https, "localhost", &trust_local).await.unwrap();
    let default_leaf = served_chain(&default).remove(0);
    assert_ne!(default_leaf, s.a_leaf);
    assert_ne!(default_leaf, s.b_leaf);
    // The unknown name is served that certificate: the local CA vouches for it, but not for
    // that name.
    let cause = refused(s.https, "unknown.example.test", &trust_local).await;
    assert!(
        matches!(
            cause,
            rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. }
            )
        ),
        "{cause:?}"
    );
    // Trusting only the local CA, the domains' certificates do not verify either.
    assert_eq!(
        refused(s.https, "a.example.test", &trust_local).await,
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
    );
}
