"""COGNITO_USER_POOLS authorizers against a local OpenID Connect issuer, black-box: keys generated
here (RSA and EC), a JWKS and discovery document served by a local HTTP server that counts its
fetches, tokens signed with PyJWT, the API made with boto3's apigateway client, requests over
plain HTTP to a real backend that counts its hits. The user pool ARNs are mapped to the local
issuer through `--aws-config` (`issuers`).

The T22 matrix (security-tests.md): every bad token is a 401 and the backend is never reached."""
import base64
import hashlib
import hmac
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import Portico

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "traffic"))
from traffic_kit import Backend, DataPlane, client, new_api, resource  # noqa: E402

POOL = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_local"
SLOW_POOL = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_slow"
HUGE_POOL = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_huge"
CLIENT = "web-client"


def b64(n_or_bytes):
    raw = n_or_bytes if isinstance(n_or_bytes, bytes) else \
        n_or_bytes.to_bytes((n_or_bytes.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Issuer:
    """A local OIDC issuer: discovery document, JWKS (fetches counted), a slow and a huge one."""

    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.publish_rotated = False
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                base = f"http://127.0.0.1:{issuer.port}"
                if self.path.startswith("/slow/"):
                    time.sleep(8)
                    body = b"{}"
                elif self.path == "/huge/.well-known/openid-configuration":
                    body = json.dumps({"jwks_uri": base + "/huge/jwks"}).encode()
                elif self.path == "/huge/jwks":
                    body = json.dumps({"keys": [], "pad": "x" * 400_000}).encode()
                elif self.path == "/.well-known/openid-configuration":
                    body = json.dumps({"issuer": base, "jwks_uri": base + "/keys"}).encode()
                elif self.path == "/keys":
                    issuer.fetches += 1
                    body = json.dumps(issuer.jwks()).encode()
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def jwks(self):
        pub = self.rsa.public_key().public_numbers()
        ecp = self.ec.public_key().public_numbers()
        keys = [
            {"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig", "n": b64(pub.n), "e": b64(pub.e)},
            {"kty": "EC", "kid": "ec-1", "crv": "P-256", "use": "sig",
             "x": b64(ecp.x.to_bytes(32, "big")), "y": b64(ecp.y.to_bytes(32, "big"))},
        ]
        if self.publish_rotated:
            r = self.rotated.public_key().public_numbers()
            keys.append({"kty": "RSA", "kid": "rsa-2", "alg": "RS256", "n": b64(r.n), "e": b64(r.e)})
        return {"keys": keys}

    def public_pem(self):
        return self.rsa.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)

    def claims(self, **over):
        now = int(time.time())
        c = {"sub": "user-1", "cognito:groups": ["admins", "ops"], "email_verified": True,
             "iss": self.url, "cognito:username": "alice", "aud": CLIENT, "token_use": "id",
             "auth_time": now, "exp": now + 600, "iat": now, "email": "alice@example.com"}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def access_claims(self, scope, **over):
        return self.claims(**{"token_use": "access", "aud": None, "client_id": CLIENT, "scope": scope,
                              **over})

    def token(self, claims=None, kid="rsa-1", key=None, alg="RS256"):
        return jwt.encode(claims or self.claims(), key or self.rsa, algorithm=alg, headers={"kid": kid})

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def env():
    issuer = Issuer()
    backend = Backend()
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    config.write(
        "issuers:\n"
        f"  {POOL}:\n    issuer: {issuer.url}\n    audiences: [{CLIENT}]\n"
        f"  {SLOW_POOL}:\n    issuer: {issuer.url}/slow\n"
        f"  {HUGE_POOL}:\n    issuer: {issuer.url}/huge\n")
    config.close()
    p = Portico(extra=("--access-log", "off", "--aws-config", config.name))
    apigw = client(p)
    api, root = new_api(apigw, "cognito-api")
    auth = apigw.create_authorizer(restApiId=api, name="pool", type="COGNITO_USER_POOLS",
                                   providerARNs=[POOL],
                                   identitySource="method.request.header.Authorization")["id"]
    slow = apigw.create_authorizer(restApiId=api, name="slow", type="COGNITO_USER_POOLS",
                                   providerARNs=[SLOW_POOL],
                                   identitySource="method.request.header.Authorization")["id"]
    huge = apigw.create_authorizer(restApiId=api, name="huge", type="COGNITO_USER_POOLS",
                                   providerARNs=[HUGE_POOL],
                                   identitySource="method.request.header.Authorization")["id"]
    base = f"http://127.0.0.1:{backend.port}"

    def method(path, authorizer, scopes=(), template=None):
        res = resource(apigw, api, root, path)
        apigw.put_method(restApiId=api, resourceId=res, httpMethod="GET",
                         authorizationType="COGNITO_USER_POOLS", authorizerId=authorizer,
                         authorizationScopes=list(scopes))
        if template is None:
            apigw.put_integration(restApiId=api, resourceId=res, httpMethod="GET", type="HTTP_PROXY",
                                  integrationHttpMethod="GET", uri=f"{base}/{path}")
            return
        apigw.put_integration(restApiId=api, resourceId=res, httpMethod="GET", type="HTTP",
                              integrationHttpMethod="POST", uri=f"{base}/{path}",
                              requestTemplates={"application/json": template})
        apigw.put_method_response(restApiId=api, resourceId=res, httpMethod="GET", statusCode="200")
        apigw.put_integration_response(restApiId=api, resourceId=res, httpMethod="GET", statusCode="200")

    method("profile", auth, template=(
        '{"sub": "$context.authorizer.claims.sub", '
        '"groups": "$context.authorizer.claims[\'cognito:groups\']", '
        '"username": "$context.authorizer.claims[\'cognito:username\']", '
        '"verified": "$context.authorizer.claims.email_verified", '
        '"exp": "$context.authorizer.claims.exp"}'))
    method("orders", auth, scopes=("orders/read", "orders/admin"))
    method("plain", auth)
    method("slow", slow)
    method("huge", huge)
    dep = apigw.create_deployment(restApiId=api)["id"]
    apigw.create_stage(restApiId=api, stageName="dev", deploymentId=dep)
    dp = DataPlane(p)
    yield p, dp, api, issuer, backend
    dp.close()
    p.stop()
    backend.close()
    issuer.close()
    os.unlink(config.name)


def get(env, path, token=None, raw_header=None):
    p, dp, api, _, _ = env
    headers = {}
    if token is not None:
        headers["Authorization"] = token
    if raw_header is not None:
        headers.update(raw_header)
    return dp.call(api, "dev", "/" + path, headers=headers)


def test_an_id_token_reaches_the_backend_with_its_claims_in_the_template(env):
    _, _, _, issuer, backend = env
    before = backend.count("/profile")
    for header in (issuer.token(), "Bearer " + issuer.token(), "bearer " + issuer.token()):
        r = get(env, "profile", header)
        assert r.status == 200, r
        sent = json.loads(r.json["body"])
        assert sent["sub"] == "user-1"
        assert sent["groups"] == "admins,ops"
        assert sent["username"] == "alice"
        assert sent["verified"] == "true"
        # exp as Java's Date.toString() in UTC, as API Gateway writes it.
        assert time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(issuer.claims()["exp"]))[:10] \
            == sent["exp"][:10], sent["exp"]
        assert sent["exp"].endswith(time.strftime(" UTC %Y", time.gmtime()))
    assert backend.count("/profile") == before + 3
    # An EC key in the same set works too (its algorithm from the key: ES256).
    r = get(env, "plain", issuer.token(kid="ec-1", key=issuer.ec, alg="ES256"))
    assert r.status == 200, r
    assert r.json["headers"]["authorization"].startswith("eyJ")


def test_scoped_methods_take_an_access_token_with_one_of_their_scopes(env):
    _, _, _, issuer, _ = env
    assert get(env, "orders", issuer.token(issuer.access_claims("openid orders/read"))).status == 200
    assert get(env, "orders", issuer.token(issuer.access_claims("orders/admin"))).status == 200


def bad_tokens(issuer):
    """(case, Authorization value, path, expected message)."""
    now = int(time.time())
    unauthorized = "Unauthorized"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT","kid":"rsa-1"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(json.dumps(issuer.claims()).encode()).rstrip(b"=").decode()
    # HS256 "signed" with the RSA public key as the shared secret (PyJWT refuses to make it).
    hs_head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT","kid":"rsa-1"}').rstrip(b"=").decode()
    mac = hmac.new(issuer.public_pem(), f"{hs_head}.{payload}".encode(), hashlib.sha256).digest()
    hs = f"{hs_head}.{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    return [
        ("no header", None, "plain", unauthorized),
        ("empty", "", "plain", unauthorized),
        ("garbage", "not-a-token", "plain", unauthorized),
        ("bearer only", "Bearer ", "plain", unauthorized),
        ("alg none", f"{header}.{payload}.", "plain", unauthorized),
        ("alg none signed", f"{header}.{payload}.c2ln", "plain", unauthorized),
        ("HS256 with the RSA public key", hs, "plain", unauthorized),
        ("unknown kid", issuer.token(kid="nope"), "plain", unauthorized),
        ("kid path traversal", issuer.token(kid="../../etc/passwd"), "plain", unauthorized),
        ("kid sql", issuer.token(kid="' OR 1=1 --"), "plain", unauthorized),
        ("kid url", issuer.token(kid="http://169.254.169.254/latest"), "plain", unauthorized),
        ("another key, same kid", issuer.token(key=other), "plain", unauthorized),
        ("expired", issuer.token(issuer.claims(exp=now - 5)), "plain", "The incoming token has expired"),
        ("not yet valid", issuer.token(issuer.claims(nbf=now + 300)), "plain", unauthorized),
        ("wrong audience", issuer.token(issuer.claims(aud="other-client")), "plain", unauthorized),
        ("wrong issuer", issuer.token(issuer.claims(iss="https://evil.example")), "plain", unauthorized),
        ("no exp", issuer.token(issuer.claims(exp=None)), "plain", unauthorized),
        ("access token where an ID token is wanted",
         issuer.token(issuer.access_claims("orders/read")), "plain", unauthorized),
        ("ID token where scopes are wanted", issuer.token(), "orders", unauthorized),
        ("missing scope", issuer.token(issuer.access_claims("orders/write")), "orders", unauthorized),
        ("access token for another client",
         issuer.token(issuer.access_claims("orders/read", client_id="other")), "orders", unauthorized),
        ("tampered payload", issuer.token().split(".")[0] + "." +
         base64.urlsafe_b64encode(json.dumps(issuer.claims(sub="admin")).encode()).rstrip(b"=").decode() +
         "." + issuer.token().split(".")[2], "plain", unauthorized),
        ("8 KB of junk", "eyJ" + "A" * 8000, "plain", unauthorized),
    ]


def test_the_t22_matrix_is_401_every_time_and_never_reaches_the_backend(env):
    _, _, _, issuer, backend = env
    before = {p: backend.count(p) for p in ("/plain", "/orders")}
    failures = []
    for case, token, path, message in bad_tokens(issuer):
        r = get(env, path, token)
        if r.status != 401 or r.json != {"message": message} or r.error_type != "UnauthorizedException":
            failures.append(f"{case}: {r}")
    assert not failures, "\n".join(failures)
    assert {p: backend.count(p) for p in before} == before
    # The next valid request succeeds.
    assert get(env, "plain", issuer.token()).status == 200


def test_a_megabyte_token_is_refused_before_any_authorizer_or_backend(env):
    _, _, _, issuer, backend = env
    before = backend.count("/plain")
    r = get(env, "plain", "eyJ" + "A" * (1024 * 1024))
    # Larger than the request head limit (10,240 bytes, as AWS): refused by the listener.
    assert r.status in (401, 431), r
    assert backend.count("/plain") == before
    assert get(env, "plain", issuer.token()).status == 200


def test_unknown_kids_cause_no_fetch_storm_and_a_rotated_key_is_picked_up(env):
    _, _, _, issuer, _ = env
    assert get(env, "plain", issuer.token()).status == 200
    fetches = issuer.fetches
    for _ in range(200):
        assert get(env, "plain", issuer.token(kid=str(uuid.uuid4()))).status == 401
    # At most one refetch for 200 made-up kids.
    assert issuer.fetches - fetches <= 1
    # The issuer rotates: a token signed with the new key is accepted once the refetch interval
    # (10 s) since the last fetch has passed.
    issuer.publish_rotated = True
    rotated = issuer.token(kid="rsa-2", key=issuer.rotated)
    deadline = time.time() + 15
    status = None
    while time.time() < deadline:
        status = get(env, "plain", rotated).status
        if status == 200:
            break
        time.sleep(0.5)
    assert status == 200
    assert get(env, "plain", issuer.token()).status == 200


def test_a_slow_or_huge_key_set_is_a_bounded_401(env):
    _, _, _, issuer, backend = env
    started = time.time()
    r = get(env, "slow", issuer.token(issuer.claims(iss=issuer.url + "/slow")))
    assert r.status == 401, r
    # The fetch is cut at 1.5 s: the answer does not wait for the issuer's 8 s.
    assert time.time() - started < 6
    r = get(env, "huge", issuer.token(issuer.claims(iss=issuer.url + "/huge")))
    assert r.status == 401, r
    assert backend.count("/slow") == backend.count("/huge") == 0


def test_test_invoke_authorizer_checks_a_token_and_shows_its_claims(env):
    p, _, api, issuer, _ = env
    apigw = client(p)
    pool = next(a["id"] for a in apigw.get_authorizers(restApiId=api)["items"] if a["name"] == "pool")
    out = apigw.test_invoke_authorizer(restApiId=api, authorizerId=pool,
                                       headers={"Authorization": "Bearer " + issuer.token()})
    assert out["clientStatus"] == 0, out
    assert out["claims"]["sub"] == "user-1"
    assert out["claims"]["cognito:groups"] == "admins,ops"
    bad = apigw.test_invoke_authorizer(restApiId=api, authorizerId=pool,
                                       headers={"Authorization": issuer.token(kid="nope")})
    assert bad["clientStatus"] == 401 and "claims" not in bad
    assert apigw.test_invoke_authorizer(restApiId=api, authorizerId=pool)["clientStatus"] == 401
