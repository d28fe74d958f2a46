"""JWT authorizers on HTTP APIs (apigatewayv2), black-box: a local OpenID Connect issuer
(discovery document + JWKS, fetches counted) on 127.0.0.1, RSA keys generated here, tokens signed
with PyJWT, the API made with boto3's apigatewayv2 client, requests sent with
`Host: {apiId}.execute-api.localhost` to the `$default` stage, routed to a local Lambda echo
function (payload 2.0) that also counts its calls in a file.

What AWS does (research notes /tmp/research-v2-data.md): §1 the event's
`requestContext.authorizer` = `{"jwt": {"claims": {...all text...}, "scopes": [...] | null}}`;
§9 no token → 401 `{"message":"Unauthorized"}` with `www-authenticate: Bearer`; a bad token →
401 with `error="invalid_token"`; a valid token without the route's scope → 403
`{"message":"Forbidden"}`."""
import base64
import hashlib
import hmac
import json
import os
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import error_of
from test_http_api_invoke import ROLE, call, client, zip_of

AUDIENCE = "app-client"
UNAUTHORIZED = b'{"message":"Unauthorized"}'
FORBIDDEN = b'{"message":"Forbidden"}'


def b64(raw):
    if isinstance(raw, int):
        raw = raw.to_bytes((raw.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Issuer:
    """A local OIDC issuer: `/.well-known/openid-configuration` → `/keys` (fetches counted).
    `keys` maps kid → private key; all of them are published."""

    def __init__(self):
        self.keys = {"rsa-1": new_key()}
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/keys"}
                elif self.path == "/keys":
                    issuer.fetches += 1
                    body = issuer.jwks()
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                out = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def jwks(self):
        keys = []
        for kid, k in list(self.keys.items()):
            n = k.public_key().public_numbers()
            keys.append({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
                         "n": b64(n.n), "e": b64(n.e)})
        return {"keys": keys}

    def public_pem(self):
        return self.keys["rsa-1"].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def claims(self, **over):
        now = int(time.time())
        c = {"iss": self.url, "sub": "user-1", "aud": AUDIENCE, "iat": now, "exp": now + 3600,
             "groups": ["admins", "ops"], "level": 7, "email": "alice@example.com"}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def access_claims(self, scope, **over):
        return self.claims(**{"aud": None, "client_id": AUDIENCE, "scope": scope, **over})

    def token(self, claims=None, kid="rsa-1", key=None):
        return jwt.encode(claims or self.claims(), key or self.keys[kid], algorithm="RS256",
                          headers={"kid": kid})

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# Echoes its event and appends a line to a counter file (the path is filled in below).
ECHO = """
import json
def handler(event, context):
    with open(%r, "a") as f:
        f.write("x\\n")
    return {"statusCode": 200, "body": json.dumps(event)}
"""


@pytest.fixture(scope="module")
def env(portico):
    issuer, rotating = Issuer(), Issuer()
    counter = os.path.join(tempfile.mkdtemp(prefix="jwt-echo-"), "calls")
    open(counter, "w").close()
    lam, v2 = client(portico, "lambda"), client(portico, "apigatewayv2")
    name = f"jwt-echo-{uuid.uuid4().hex[:8]}"
    lam.create_function(FunctionName=name, Runtime="python3.12", Handler="index.handler", Role=ROLE,
                        Code={"ZipFile": zip_of({"index.py": ECHO % counter})})
    api = v2.create_api(Name=f"jwt-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")["ApiId"]
    integration = v2.create_integration(
        ApiId=api, IntegrationType="AWS_PROXY", PayloadFormatVersion="2.0",
        IntegrationUri=f"arn:aws:lambda:us-east-1:000000000000:function:{name}")["IntegrationId"]

    def authorizer(label, url, source="$request.header.Authorization"):
        return v2.create_authorizer(ApiId=api, AuthorizerType="JWT", Name=label,
                                    IdentitySource=[source],
                                    JwtConfiguration={"Issuer": url, "Audience": [AUDIENCE]})["AuthorizerId"]

    main = authorizer("main", issuer.url)
    rot = authorizer("rotating", rotating.url)
    query = authorizer("query", issuer.url, "$request.querystring.token")
    for key, auth, scopes in (("GET /private", main, None), ("GET /scoped", main, ["orders/read"]),
                              ("GET /open", None, None), ("GET /rotating", rot, None),
                              ("GET /query", query, None)):
        kw = {"AuthorizationType": "NONE"} if auth is None else \
            {"AuthorizationType": "JWT", "AuthorizerId": auth}
        if scopes:
            kw["AuthorizationScopes"] = scopes
        v2.create_route(ApiId=api, RouteKey=key, Target=f"integrations/{integration}", **kw)
    v2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    env = type("Env", (), {})()
    env.portico, env.v2, env.api, env.issuer, env.rotating = portico, v2, api, issuer, rotating
    env.integration, env.main = integration, main
    env.calls = lambda: len(open(counter).read().splitlines())
    yield env
    v2.delete_api(ApiId=api)
    lam.delete_function(FunctionName=name)
    issuer.close()
    rotating.close()


def get(env, path, token=None):
    headers = {} if token is None else {"Authorization": token}
    return call(env.portico, env.api, path, headers=headers)


def assert_invalid(r, case=""):
    assert (r.status, r.body) == (401, UNAUTHORIZED), (case, r.status, r.body)
    assert r.headers["Content-Type"] == "application/json", case
    assert 'error="invalid_token"' in (r.headers["www-authenticate"] or ""), (case, r.headers)


# ---------------------------------------------------------------------------------------------

def test_no_token_is_401_bearer_and_the_function_is_not_invoked(env):
    before = env.calls()
    r = get(env, "/private")
    assert (r.status, r.body) == (401, UNAUTHORIZED)
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.headers["Content-Type"] == "application/json"
    assert env.calls() == before
    opened = get(env, "/open")
    assert opened.status == 200, opened.body
    # AuthorizationType NONE: no authorizer block at all (§1).
    assert "authorizer" not in opened.json()["requestContext"]
    assert env.calls() == before + 1


def test_a_valid_token_with_or_without_bearer_reaches_the_function_with_its_claims(env):
    issuer = env.issuer
    claims = issuer.claims()
    token = issuer.token(claims)
    want = {"jwt": {"claims": {
        "iss": issuer.url, "sub": "user-1", "aud": AUDIENCE, "iat": str(claims["iat"]),
        "exp": str(claims["exp"]), "groups": "[admins ops]", "level": "7",
        "email": "alice@example.com"}, "scopes": None}}
    before = env.calls()
    for header in (token, "Bearer " + token):
        r = get(env, "/private", header)
        assert r.status == 200, r.body
        event = r.json()
        assert event["requestContext"]["authorizer"] == want
        assert event["routeKey"] == "GET /private"
    assert env.calls() == before + 2


def test_scoped_route_takes_an_access_token_with_the_scope_and_403s_without(env):
    issuer = env.issuer
    r = get(env, "/scoped", "Bearer " + issuer.token(issuer.access_claims("orders/read profile")))
    assert r.status == 200, r.body
    auth = r.json()["requestContext"]["authorizer"]["jwt"]
    assert auth["scopes"] == ["orders/read", "profile"]
    assert auth["claims"]["client_id"] == AUDIENCE and "aud" not in auth["claims"]
    assert auth["claims"]["scope"] == "orders/read profile"
    before = env.calls()
    r = get(env, "/scoped", "Bearer " + issuer.token(issuer.access_claims("profile")))
    assert (r.status, r.body) == (403, FORBIDDEN)
    assert 'error="insufficient_scope"' in (r.headers["www-authenticate"] or "")
    assert env.calls() == before
    # The access token (client_id = the audience) is good on an unscoped route too.
    assert get(env, "/private", issuer.token(issuer.access_claims("profile"))).status == 200


def bad_tokens(issuer):
    now = int(time.time())
    payload = b64(json.dumps(issuer.claims()).encode())
    none_head = b64(b'{"alg":"none","typ":"JWT","kid":"rsa-1"}')
    # HS256 "signed" with the RSA public key as the shared secret (PyJWT refuses to make it).
    hs_head = b64(b'{"alg":"HS256","typ":"JWT","kid":"rsa-1"}')
    mac = hmac.new(issuer.public_pem(), f"{hs_head}.{payload}".encode(), hashlib.sha256).digest()
    good = issuer.token().split(".")
    return [
        ("wrong audience", issuer.token(issuer.claims(aud="other-client"))),
        ("wrong client_id", issuer.token(issuer.access_claims("orders/read", client_id="other"))),
        ("wrong issuer", issuer.token(issuer.claims(iss="https://evil.example"))),
        ("expired", issuer.token(issuer.claims(exp=now - 5))),
        ("nbf in the future", issuer.token(issuer.claims(nbf=now + 300))),
        ("alg none", f"{none_head}.{payload}."),
        ("HS256 with the RSA public key", f"{hs_head}.{payload}.{b64(mac)}"),
        ("unknown kid", issuer.token(kid="nope", key=issuer.keys["rsa-1"])),
        ("tampered payload",
         f"{good[0]}.{b64(json.dumps(issuer.claims(sub='admin')).encode())}.{good[2]}"),
        ("garbage", "not-a-token"),
        ("another key, same kid", issuer.token(key=new_key())),
    ]


def test_the_refusal_matrix_is_401_invalid_token_and_never_reaches_the_function(env):
    before = env.calls()
    failures = []
    for case, token in bad_tokens(env.issuer):
        for header in (token, "Bearer " + token):
            r = get(env, "/private", header)
            try:
                assert_invalid(r, case)
            except AssertionError as e:
                failures.append(f"{case}: {e}")
        if case == "wrong audience":
            wa = r.headers["www-authenticate"] or ""
            if "the token does not have a valid audience" not in wa:
                failures.append(f"{case}: www-authenticate {wa!r}")
    # A bad token on a scoped route is a 401 too, not a 403.
    assert_invalid(get(env, "/scoped", env.issuer.token(kid="nope", key=new_key())), "scoped")
    assert not failures, "\n".join(failures)
    assert env.calls() == before
    # The next valid request succeeds.
    assert get(env, "/private", env.issuer.token()).status == 200


def test_a_rotated_key_is_picked_up_after_at_most_one_refetch(env):
    issuer = env.rotating
    assert get(env, "/rotating", issuer.token()).status == 200
    fetches = issuer.fetches
    assert fetches >= 1
    # The issuer rotates to a new key (the old one withdrawn).
    old, new = issuer.keys["rsa-1"], new_key()
    issuer.keys = {"rsa-2": new}
    rotated = issuer.token(kid="rsa-2", key=new)
    # Portico refetches at most once per 10 s: wait that out if the first fetch was recent.
    deadline = time.time() + 15
    r = None
    while time.time() < deadline:
        r = get(env, "/rotating", rotated)
        if r.status == 200:
            break
        assert_invalid(r, "rotated, before the refetch")
        time.sleep(0.5)
    assert r.status == 200, r.body
    assert r.json()["requestContext"]["authorizer"]["jwt"]["claims"]["iss"] == issuer.url
    assert issuer.fetches - fetches == 1
    # A token of the withdrawn key is refused once the new key set is in.
    assert_invalid(get(env, "/rotating", issuer.token(issuer.claims(sub="late"), kid="rsa-1", key=old)))


def test_a_querystring_identity_source(env):
    issuer = env.issuer
    token = issuer.token(issuer.claims(sub="from-query"))
    r = get(env, f"/query?token={token}&x=1")
    assert r.status == 200, r.body
    event = r.json()
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "from-query"
    assert event["queryStringParameters"]["x"] == "1"
    # The header is not where this authorizer looks.
    r = get(env, "/query", "Bearer " + token)
    assert (r.status, r.body) == (401, UNAUTHORIZED)
    assert r.headers["www-authenticate"] == "Bearer"
    assert_invalid(get(env, "/query?token=not-a-token"))
    assert_invalid(get(env, f"/query?token={issuer.token(issuer.claims(aud='other'))}"))


def test_route_authorization_is_validated_by_the_management_api(env):
    v2, api, target = env.v2, env.api, f"integrations/{env.integration}"
    with pytest.raises(ClientError) as e:
        v2.create_route(ApiId=api, RouteKey="GET /no-authorizer", Target=target,
                        AuthorizationType="JWT")
    assert error_of(e)[:2] == (400, "BadRequestException"), error_of(e)
    with pytest.raises(ClientError) as e:
        v2.create_route(ApiId=api, RouteKey="GET /scopes-on-none", Target=target,
                        AuthorizationType="NONE", AuthorizationScopes=["orders/read"])
    assert error_of(e)[:2] == (400, "BadRequestException"), error_of(e)
    keys = {r["RouteKey"] for r in v2.get_routes(ApiId=api)["Items"]}
    assert not keys & {"GET /no-authorizer", "GET /scopes-on-none"}
    # What was made is what GetRoute shows.
    scoped = next(r for r in v2.get_routes(ApiId=api)["Items"] if r["RouteKey"] == "GET /scoped")
    assert (scoped["AuthorizationType"], scoped["AuthorizerId"], scoped["AuthorizationScopes"]) == \
        ("JWT", env.main, ["orders/read"])
