"""The HTTPS listener, black-box (issue 13, parts 1, 5, 6): a real `portico serve --tls-listen`,
real TLS clients (Python's `ssl`, `curl --resolve`) and certificates made with the `openssl` CLI.

* the default certificate from the local CA in the data directory (`tls/ca.pem`), for
  `localhost`, `127.0.0.1` and `{api}.execute-api.localhost`; `X-Forwarded-Proto: https`;
* two custom domains with their own certificates, chosen by SNI: one uploaded with
  `CreateDomainName` (`certificateBody`/`certificatePrivateKey`/`certificateChain`, checked, never
  returned), one held as files for a `regionalCertificateArn`; base path routing over HTTPS;
* `securityPolicy`: `TLS_1_2` refuses a TLS 1.2 ChaCha20 suite that `TLS_1_0` accepts; TLS 1.1
  is refused;
* mutual TLS with a truststore (`s3://bucket/key` → `{data}/truststores/bucket/key`): accepted
  with a certificate it vouches for, `$context.identity.clientCert` filled; refused without one
  or with a stranger's; a domain whose truststore is missing refuses every handshake;
* HTTP/2 by ALPN; plain HTTP to the TLS port answered 400; the redirect listener (308); HSTS;
* certificate rotation under load (files replaced, and `UpdateDomainName`) with zero failed
  requests; the expiry gauge;
* a handshake flood (stalled and partial `ClientHello`s) bounded by the header timeout while a
  real client is still served."""
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request

import botocore.exceptions
import pytest
from conftest import Portico, error_of

HERE = os.path.dirname(os.path.abspath(__file__))
import sys  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "traffic"))
from traffic_kit import Backend, client, mock_method, new_api, patch, proxy_method, resource, wait_until  # noqa: E402


# --- certificates (openssl CLI) -------------------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class Pki:
    """A test CA in a temporary directory, issuing EC P-256 leaf certificates."""

    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix=f"portico-pki-{name}-")
        self.ca = os.path.join(self.dir, "ca.pem")
        self.ca_key = os.path.join(self.dir, "ca.key")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", self.ca_key, "-out", self.ca, "-days", "30", "-subj", f"/O=Portico tests/CN={name} CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                cwd=self.dir)
        self.n = 0

    def issue(self, cn, dns=(), client=False, subj=None):
        """(cert path, key path) of a new leaf signed by this CA."""
        self.n += 1
        base = os.path.join(self.dir, f"leaf{self.n}")
        ext = base + ".ext"
        with open(ext, "w") as f:
            if dns:
                f.write("subjectAltName=" + ",".join(f"DNS:{d}" for d in dns) + "\n")
            f.write(f"extendedKeyUsage={'clientAuth' if client else 'serverAuth'}\n")
            f.write("keyUsage=critical,digitalSignature\n")
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", base + ".key", "-out", base + ".csr", "-subj", subj or f"/CN={cn}", cwd=self.dir)
        openssl("x509", "-req", "-in", base + ".csr", "-CA", self.ca, "-CAkey", self.ca_key,
                "-set_serial", str(0x1000 + self.n), "-days", "10", "-out", base + ".pem", "-extfile", ext,
                cwd=self.dir)
        return base + ".pem", base + ".key"


def read(path):
    with open(path) as f:
        return f.read()


def der_of(pem_path):
    return ssl.PEM_cert_to_DER_cert(read(pem_path))


# --- a TLS client ---------------------------------------------------------------------------

class Tls:
    """One HTTPS request over a fresh connection: (status, headers, body, facts) where facts has the
    served leaf certificate (DER), the ALPN protocol and the TLS version."""

    def __init__(self, address, cafile):
        self.host, port = address.rsplit(":", 1)
        self.port = int(port)
        self.cafile = cafile

    def context(self, cafile=None, alpn=("http/1.1",), cert=None, tls_max=None, ciphers=None):
        ctx = ssl.create_default_context(cafile=cafile or self.cafile)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        if cert:
            ctx.load_cert_chain(*cert)
        if tls_max:
            ctx.maximum_version = tls_max
        if ciphers:
            ctx.set_ciphers(ciphers)
        return ctx

    def connect(self, sni, **kw):
        ctx = self.context(**kw)
        sock = socket.create_connection((self.host, self.port), timeout=10)
        try:
            return ctx.wrap_socket(sock, server_hostname=sni)
        except Exception:
            sock.close()
            raise

    def get(self, sni, path, host=None, **kw):
        s = self.connect(sni, **kw)
        with s:
            facts = {"cert": s.getpeercert(binary_form=True), "alpn": s.selected_alpn_protocol(),
                     "version": s.version()}
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host or sni}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        if not data:
            raise ConnectionResetError("closed without an answer")
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return status, headers, body, facts


def https_address(p, timeout=10):
    """The HTTPS listener's address from `portico serve`'s output."""
    def find():
        for line in list(p.stdout):
            m = re.match(r"portico: data plane listening on https://(\S+)", line)
            if m:
                return m.group(1)
        return None
    return wait_until("the HTTPS listener", find, timeout=timeout)


def redirect_address(p, timeout=10):
    def find():
        for line in list(p.stdout):
            m = re.match(r"portico: redirecting http://(\S+) to https", line)
            if m:
                return m.group(1)
        return None
    return wait_until("the redirect listener", find, timeout=timeout)


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def portico():
    p = Portico(extra=("--access-log", "off", "--tls-listen", "127.0.0.1:0", "--hsts-max-age", "600",
                       "--http-redirect-listen", "127.0.0.1:0", "--header-timeout-secs", "2"))
    yield p
    p.stop()


@pytest.fixture(scope="module")
def apigw(portico):
    return client(portico)


@pytest.fixture(scope="module")
def https(portico):
    return Tls(https_address(portico), os.path.join(portico.data, "tls", "ca.pem"))


@pytest.fixture(scope="module")
def pki():
    p = Pki("site")
    yield p
    shutil.rmtree(p.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def backend():
    b = Backend()
    yield b
    b.close()


def versioned_api(apigw, name, template):
    api_id, root = new_api(apigw, name)
    mock_method(apigw, api_id, resource(apigw, api_id, root, "who"), template=template)
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    return api_id


def hold_certificate(portico, cert_id, cert, key):
    """Puts a certificate where Portico looks for `arn:aws:acm:…:certificate/{cert_id}`, atomically."""
    d = os.path.join(portico.data, "certificates")
    os.makedirs(d, exist_ok=True)
    for src, name in ((cert, f"{cert_id}.pem"), (key, f"{cert_id}.key")):
        tmp = os.path.join(d, f".{name}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, os.path.join(d, name))
    return f"arn:aws:acm:us-east-1:123456789012:certificate/{cert_id}"


def metrics(portico):
    with urllib.request.urlopen(f"http://{portico.admin}/metrics", timeout=5) as r:
        return r.read().decode()


# --- tests ----------------------------------------------------------------------------------

def test_default_certificate_comes_from_the_local_ca(portico, apigw, https, backend):
    api_id, root = new_api(apigw, "tls-default")
    proxy_method(apigw, api_id, resource(apigw, api_id, root, "echo"), f"http://127.0.0.1:{backend.port}/echo")
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    ca = os.path.join(portico.data, "tls", "ca.pem")
    assert "BEGIN CERTIFICATE" in read(ca)
    assert oct(os.stat(os.path.join(portico.data, "tls", "ca-key.pem")).st_mode & 0o077) == "0o0", \
        "the CA key is readable by its owner only"
    # Path style on 127.0.0.1 and localhost, host style on {api}.execute-api.localhost: all verify.
    path = f"/restapis/{api_id}/dev/_user_request_/echo"
    for sni, target, host in (("localhost", path, None), (f"{api_id}.execute-api.localhost", "/dev/echo", None)):
        status, headers, body, facts = https.get(sni, target, host=host)
        assert status == 200, body
        seen = json.loads(body)
        assert seen["headers"]["x-forwarded-proto"] == "https"
        assert facts["alpn"] == "http/1.1"
        assert headers["strict-transport-security"] == "max-age=600"
    # curl with the CA and an IP address (the certificate names 127.0.0.1 too).
    out = subprocess.run(["curl", "-sS", "--cacert", ca, f"https://{https.host}:{https.port}{path}"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["headers"]["x-forwarded-proto"] == "https"
    # The plain listener says http, and sends no HSTS.
    with urllib.request.urlopen(f"http://{portico.data_plane}{path}", timeout=5) as r:
        assert json.loads(r.read())["headers"]["x-forwarded-proto"] == "http"
        assert r.headers.get("strict-transport-security") is None


def test_two_custom_domains_serve_their_own_certificates(portico, apigw, https, pki):
    v1 = versioned_api(apigw, "tls-v1", '{"api":"one"}')
    v2 = versioned_api(apigw, "tls-v2", '{"api":"two"}')
    a_cert, a_key = pki.issue("a.tls.test", dns=["a.tls.test"])
    b_cert, b_key = pki.issue("b.tls.test", dns=["b.tls.test"])
    apigw.create_domain_name(domainName="a.tls.test", certificateBody=read(a_cert),
                             certificatePrivateKey=read(a_key), certificateChain=read(pki.ca),
                             endpointConfiguration={"types": ["REGIONAL"]})
    arn = hold_certificate(portico, "b-tls-test", b_cert, b_key)
    apigw.create_domain_name(domainName="b.tls.test", regionalCertificateArn=arn,
                             endpointConfiguration={"types": ["REGIONAL"]})
    apigw.create_base_path_mapping(domainName="a.tls.test", basePath="v1", restApiId=v1, stage="prod")
    apigw.create_base_path_mapping(domainName="b.tls.test", basePath="(none)", restApiId=v2, stage="prod")
    # The uploaded certificate and key are never returned.
    got = apigw.get_domain_name(domainName="a.tls.test")
    assert not {"certificateBody", "certificatePrivateKey", "certificateChain"} & set(got)
    assert "PRIVATE KEY" not in json.dumps(apigw.get_domain_names()["items"])
    # SNI picks each domain's certificate; a client trusting only the test CA verifies both.
    status, _, body, facts = https.get("a.tls.test", "/v1/who", cafile=pki.ca)
    assert (status, json.loads(body)) == (200, {"api": "one"})
    assert facts["cert"] == der_of(a_cert)
    status, _, body, facts = https.get("b.tls.test", "/who", cafile=pki.ca)
    assert (status, json.loads(body)) == (200, {"api": "two"})
    assert facts["cert"] == der_of(b_cert)
    # The same with curl --resolve, two domains, one port.
    for name, path, want in (("a.tls.test", "/v1/who", "one"), ("b.tls.test", "/who", "two")):
        out = subprocess.run(["curl", "-sS", "--cacert", pki.ca, "--resolve", f"{name}:{https.port}:127.0.0.1",
                              f"https://{name}:{https.port}{path}"], capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == {"api": want}
    # An unknown name gets the default certificate, which the test CA does not vouch for.
    with pytest.raises(ssl.SSLCertVerificationError):
        https.get("c.tls.test", "/who", cafile=pki.ca)
    # Each certificate's expiry is a metric.
    m = metrics(portico)
    assert re.search(r'portico_tls_certificate_expiry_timestamp_seconds\{domain="a.tls.test",source="imported"\} \d+', m), m
    assert re.search(r'portico_tls_certificate_expiry_timestamp_seconds\{domain="b.tls.test",source="arn"\} \d+', m), m
    assert 'domain="default",source="local-ca"' in m


def test_a_domain_without_a_certificate_gets_one_from_the_local_ca(portico, apigw, https):
    api = versioned_api(apigw, "tls-local", '{"api":"local"}')
    apigw.create_domain_name(domainName="local.tls.test", endpointConfiguration={"types": ["REGIONAL"]})
    apigw.create_base_path_mapping(domainName="local.tls.test", basePath="(none)", restApiId=api, stage="prod")
    status, _, body, facts = https.get("local.tls.test", "/who")
    assert (status, json.loads(body)) == (200, {"api": "local"})
    # Its own certificate, not the default one.
    _, _, _, default = https.get("localhost", "/")
    assert facts["cert"] != default["cert"]


@pytest.mark.parametrize("case", ["garbage body", "key of another certificate", "body without key"])
def test_an_unusable_uploaded_certificate_is_refused(apigw, pki, case):
    cert, key = pki.issue("bad.tls.test", dns=["bad.tls.test"])
    other_cert, other_key = pki.issue("other.tls.test", dns=["other.tls.test"])
    kw = {
        "garbage body": dict(certificateBody="-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n",
                             certificatePrivateKey=read(key)),
        "key of another certificate": dict(certificateBody=read(cert), certificatePrivateKey=read(other_key)),
        "body without key": dict(certificateBody=read(cert)),
    }[case]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_domain_name(domainName="bad.tls.test", **kw)
    status, code, _ = error_of(e)
    assert (status, code) == (400, "BadRequestException")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.get_domain_name(domainName="bad.tls.test")
    assert error_of(e)[0] == 404, "nothing was stored"


def test_security_policy_picks_the_cipher_suites(portico, apigw, https, pki):
    api = versioned_api(apigw, "tls-policy", '{"ok":true}')
    for name, policy in (("strict.tls.test", "TLS_1_2"), ("lax.tls.test", "TLS_1_0")):
        cert, key = pki.issue(name, dns=[name])
        apigw.create_domain_name(domainName=name, certificateBody=read(cert), certificatePrivateKey=read(key),
                                 securityPolicy=policy, endpointConfiguration={"types": ["REGIONAL"]})
        apigw.create_base_path_mapping(domainName=name, basePath="(none)", restApiId=api, stage="prod")
    chacha = dict(cafile=pki.ca, tls_max=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-CHACHA20-POLY1305")
    status, _, _, facts = https.get("lax.tls.test", "/who", **chacha)
    assert (status, facts["version"]) == (200, "TLSv1.2")
    with pytest.raises(ssl.SSLError):
        https.get("strict.tls.test", "/who", **chacha)
    # TLS 1.2 with AES-GCM and TLS 1.3 are fine under TLS_1_2.
    gcm = dict(cafile=pki.ca, tls_max=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
    assert https.get("strict.tls.test", "/who", **gcm)[3]["version"] == "TLSv1.2"
    assert https.get("strict.tls.test", "/who", cafile=pki.ca)[3]["version"] == "TLSv1.3"
    # TLS 1.1: refused (rustls implements 1.2 and 1.3 only).
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with socket.create_connection((https.host, https.port), timeout=5) as s:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            old.wrap_socket(s, server_hostname="lax.tls.test")
    # The policy can be changed; the next handshake follows it.
    apigw.update_domain_name(domainName="lax.tls.test", patchOperations=[patch("/securityPolicy", "TLS_1_2")])
    def refused():
        try:
            https.get("lax.tls.test", "/who", **chacha)
            return False
        except ssl.SSLError:
            return True
    wait_until("the new policy", refused)


def test_mutual_tls_checks_client_certificates(portico, apigw, https, pki):
    clients = Pki("clients")
    strangers = Pki("strangers")
    store = os.path.join(portico.data, "truststores", "trust-bucket", "clients.pem")
    os.makedirs(os.path.dirname(store), exist_ok=True)
    shutil.copyfile(clients.ca, store)
    api, root = new_api(apigw, "tls-mtls")
    mock_method(apigw, api, resource(apigw, api, root, "who"),
                template='{"subject":"$context.identity.clientCert.subjectDN",'
                         '"issuer":"$context.identity.clientCert.issuerDN",'
                         '"serial":"$context.identity.clientCert.serialNumber",'
                         '"notAfter":"$context.identity.clientCert.validity.notAfter",'
                         '"pem":"$util.escapeJavaScript($context.identity.clientCert.clientCertPem)"}')
    apigw.create_deployment(restApiId=api, stageName="prod")
    cert, key = pki.issue("mtls.tls.test", dns=["mtls.tls.test"])
    apigw.create_domain_name(domainName="mtls.tls.test", certificateBody=read(cert), certificatePrivateKey=read(key),
                             securityPolicy="TLS_1_2", endpointConfiguration={"types": ["REGIONAL"]},
                             mutualTlsAuthentication={"truststoreUri": "s3://trust-bucket/clients.pem"})
    apigw.create_base_path_mapping(domainName="mtls.tls.test", basePath="(none)", restApiId=api, stage="prod")
    got = apigw.get_domain_name(domainName="mtls.tls.test")
    assert got["mutualTlsAuthentication"]["truststoreUri"] == "s3://trust-bucket/clients.pem"
    good = clients.issue("client one", client=True, subj="/C=US/O=Example Corp/CN=client one")
    status, _, body, _ = https.get("mtls.tls.test", "/who", cafile=pki.ca, cert=good)
    assert status == 200, body
    seen = json.loads(body)
    assert seen["subject"] == "C=US,O=Example Corp,CN=client one"
    assert seen["issuer"] == "O=Portico tests,CN=clients CA"
    assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2})*", seen["serial"]), seen
    assert int(seen["serial"].replace(":", ""), 16) == 0x1001
    assert re.fullmatch(r"[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4} GMT", seen["notAfter"]), seen
    assert seen["pem"].strip() == read(good[0]).strip()

    def refused(**kw):
        # TLS 1.3 reports a refused client certificate after the handshake, on the first read.
        try:
            https.get("mtls.tls.test", "/who", cafile=pki.ca, **kw)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return True
        return False
    assert refused(), "no client certificate"
    assert refused(cert=strangers.issue("stranger", client=True)), "a certificate the truststore does not vouch for"
    # Other domains on the same listener do not ask for certificates.
    assert https.get("localhost", "/")[0] in (403, 404)


def test_a_domain_whose_truststore_is_missing_refuses_handshakes(portico, apigw, https, pki):
    cert, key = pki.issue("closed.tls.test", dns=["closed.tls.test"])
    apigw.create_domain_name(domainName="closed.tls.test", certificateBody=read(cert), certificatePrivateKey=read(key),
                             endpointConfiguration={"types": ["REGIONAL"]},
                             mutualTlsAuthentication={"truststoreUri": "s3://no-bucket/none.pem"})
    with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
        https.get("closed.tls.test", "/", cafile=pki.ca)
    # A bad truststore URI is refused by the API.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_domain_name(domainName="bad-uri.tls.test", mutualTlsAuthentication={"truststoreUri": "http://x/y"})
    assert error_of(e)[:2] == (400, "BadRequestException")


def test_http2_by_alpn(portico, apigw, https):
    api = versioned_api(apigw, "tls-h2", '{"h2":true}')
    ca = os.path.join(portico.data, "tls", "ca.pem")
    out = subprocess.run(["curl", "-sS", "--http2", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                          "--resolve", f"{api}.execute-api.localhost:{https.port}:127.0.0.1",
                          f"https://{api}.execute-api.localhost:{https.port}/prod/who"],
                         capture_output=True, text=True, timeout=20)
    assert out.stdout == "2 200", out
    # A client offering only http/1.1 gets HTTP/1.1; h2c still works on the plain listener.
    assert https.get("localhost", f"/restapis/{api}/prod/_user_request_/who")[3]["alpn"] == "http/1.1"
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                          f"http://{portico.data_plane}/restapis/{api}/prod/_user_request_/who"],
                         capture_output=True, text=True, timeout=20)
    assert out.stdout == "2 200", out


def test_plain_http_to_the_tls_port_is_refused_clearly(https):
    with socket.create_connection((https.host, https.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), data
    assert b"https://" in body and json.loads(body)["message"]


def test_the_redirect_listener_sends_clients_to_https(portico, https):
    addr = redirect_address(portico)
    host, port = addr.rsplit(":", 1)
    import http.client
    c = http.client.HTTPConnection(host, int(port), timeout=5)
    c.request("POST", "/prod/orders?x=1", body=b"{}", headers={"Host": "api.example.test:80"})
    r = c.getresponse()
    assert r.status == 308
    assert r.getheader("Location") == f"https://api.example.test:{https.port}/prod/orders?x=1"
    c.close()


def test_certificates_rotate_under_load_without_failed_requests(portico, apigw, https, pki):
    api = versioned_api(apigw, "tls-rotate", '{"ok":true}')
    first, first_key = pki.issue("rot.tls.test", dns=["rot.tls.test"])
    second, second_key = pki.issue("rot.tls.test", dns=["rot.tls.test"])
    third, third_key = pki.issue("rot.tls.test", dns=["rot.tls.test"])
    arn = hold_certificate(portico, "rot-1", first, first_key)
    apigw.create_domain_name(domainName="rot.tls.test", regionalCertificateArn=arn,
                             endpointConfiguration={"types": ["REGIONAL"]})
    apigw.create_base_path_mapping(domainName="rot.tls.test", basePath="(none)", restApiId=api, stage="prod")
    wait_until("the domain", lambda: https.get("rot.tls.test", "/who", cafile=pki.ca)[0] == 200)
    seen, failures, stop = set(), [], threading.Event()

    def load():
        while not stop.is_set():
            try:
                status, _, _, facts = https.get("rot.tls.test", "/who", cafile=pki.ca)
                if status != 200:
                    failures.append(status)
                seen.add(facts["cert"])
            except Exception as e:  # noqa: BLE001 - every failure counts
                failures.append(repr(e))
    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        # 1. The held files are replaced (a renewal): picked up without a restart.
        hold_certificate(portico, "rot-1", second, second_key)
        wait_until("the renewed certificate", lambda: der_of(second) in seen, timeout=10)
        # 2. The domain is pointed at another held certificate through the management API.
        arn3 = hold_certificate(portico, "rot-3", third, third_key)
        apigw.update_domain_name(domainName="rot.tls.test", patchOperations=[patch("/regionalCertificateArn", arn3)])
        wait_until("the new certificate", lambda: der_of(third) in seen, timeout=10)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=20)
    assert failures == []
    assert der_of(first) in seen
    assert https.get("rot.tls.test", "/who", cafile=pki.ca)[3]["cert"] == der_of(third)


def test_a_handshake_flood_is_bounded(portico, apigw, https):
    api = versioned_api(apigw, "tls-flood", '{"ok":true}')
    path = f"/restapis/{api}/prod/_user_request_/who"
    # Half of them send nothing, half a partial ClientHello (a TLS record header announcing more).
    flood = []
    for i in range(300):
        s = socket.create_connection((https.host, https.port), timeout=10)
        if i % 2:
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        flood.append(s)
    try:
        started = time.time()
        status, _, _, _ = https.get("localhost", path)
        assert status == 200
        assert time.time() - started < 2, "a real client waits on nobody"
        # The header timeout (2 s here) closes every stalled handshake.
        deadline = time.time() + 10
        for s in flood:
            s.settimeout(max(0.1, deadline - time.time()))
            try:
                assert s.recv(1) == b""
            except ConnectionResetError:
                pass
    finally:
        for s in flood:
            s.close()
    assert https.get("localhost", path)[0] == 200


def test_returning_clients_resume_their_sessions(https):
    """Stateless session tickets: 200 clients that come back all resume (rustls's default — a
    256-entry cache — stopped resuming beyond ~128 returning clients)."""
    ctx = https.context(alpn=("http/1.1",))
    sessions = []
    for _ in range(200):
        with socket.create_connection((https.host, https.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                while s.recv(65536):
                    pass
                sessions.append(s.session)
    reused = 0
    for session in sessions:
        with socket.create_connection((https.host, https.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
                reused += s.session_reused
    assert reused == len(sessions), f"{reused} of {len(sessions)} resumed"
