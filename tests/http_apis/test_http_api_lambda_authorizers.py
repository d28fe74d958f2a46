"""Lambda (REQUEST) authorizers on HTTP APIs (apigatewayv2), black-box: Python authorizer
functions on Portico's local Lambda that append every event they get to a file (so the tests read
what they received and count the calls) and decide by the `authorization` header:
`allow…` → allow, `deny` → deny, `boom` → raise, `unauth` → raise Exception("Unauthorized"),
`bad` → a malformed answer. One API per authorizer (`GET /items`, `POST /items` behind it, an
echo Lambda with payload 2.0 that also counts its calls), the `$default` stage auto-deployed,
requests sent with `Host: {apiId}.execute-api.localhost`.

What AWS does ("Working with AWS Lambda authorizers for HTTP APIs"; research notes
/tmp/research-v2-data.md §9): a missing identity source → 401 `{"message":"Unauthorized"}` without
calling the function; `isAuthorized: false` or a Deny policy → 403 `{"message":"Forbidden"}`;
the function throwing `Unauthorized` → 401; any other failure or a bad answer → 500
`{"message":"Internal Server Error"}`. The 2.0 event is the request's 2.0 event (no body) with
`type: "REQUEST"`, `routeArn` and `identitySource` (a list); the 1.0 event has `methodArn` and
`identitySource` as one comma-joined string. The integration sees the authorizer's `context`
(and `principalId` of a policy) in `requestContext.authorizer.lambda`."""
import json
import os
import tempfile
import time
import uuid

import pytest

from test_http_api_invoke import INTERNAL, ROLE, call, client, zip_of

UNAUTHORIZED = b'{"message":"Unauthorized"}'
FORBIDDEN = b'{"message":"Forbidden"}'
ACCOUNT = "000000000000"
CONTEXT = {"user": "alice", "n": 7, "ok": True, "ratio": 1.5, "tags": ["a", 1],
           "nested": {"k": "v"}}
POLICY_CONTEXT = {"user": "alice", "n": 7}

AUTHORIZER = """
import json
LOG, MODE = %r, %r
CONTEXT, POLICY_CONTEXT = %r, %r
def policy(effect, resource, principal="user-42"):
    return {"principalId": principal, "context": POLICY_CONTEXT,
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]}}
def handler(event, context):
    with open(LOG, "a") as f:
        f.write(json.dumps(event) + "\\n")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    tok = headers.get("authorization", "")
    if tok == "boom":
        raise RuntimeError("boom")
    if tok == "unauth":
        raise Exception("Unauthorized")
    if MODE == "simple":
        if tok == "bad":
            return {"isAuthorized": "yes please"}
        return {"isAuthorized": tok.startswith("allow"), "context": CONTEXT}
    if tok == "bad":
        return {"principalId": "x", "policy": "none"}
    if tok.startswith("allow"):
        return policy("Allow", "arn:aws:execute-api:*:*:*/*/GET/items")
    return policy("Deny", "*")
"""

ECHO = """
import json
def handler(event, context):
    with open(%r, "a") as f:
        f.write("x\\n")
    return {"statusCode": 200, "body": json.dumps(event)}
"""


def lines(path):
    with open(path) as f:
        return [line for line in f.read().splitlines() if line]


class Env:
    def __init__(self, portico):
        self.portico = portico
        self.dir = tempfile.mkdtemp(prefix="lambda-auth-")
        self.lam, self.v2 = client(portico, "lambda"), client(portico, "apigatewayv2")
        self.functions, self.apis, self.logs = [], [], {}
        self.echo_log = os.path.join(self.dir, "echo")
        open(self.echo_log, "w").close()
        self.echo = self.function("echo", ECHO % self.echo_log)

    def function(self, label, code):
        name = f"lauth-{label}-{uuid.uuid4().hex[:8]}"
        self.lam.create_function(FunctionName=name, Runtime="python3.12", Handler="index.handler",
                                 Role=ROLE, Code={"ZipFile": zip_of({"index.py": code})})
        self.functions.append(name)
        return name

    def authorizer_function(self, mode):
        log = os.path.join(self.dir, f"{mode}-{uuid.uuid4().hex[:6]}")
        open(log, "w").close()
        name = self.function(mode, AUTHORIZER % (log, mode, CONTEXT, POLICY_CONTEXT))
        self.logs[name] = log
        return name

    def api(self, mode, version="2.0", simple=None, ttl=0,
            sources=("$request.header.Authorization",), missing=False):
        """An API with `GET /items` and `POST /items` behind a new authorizer (`missing`: one
        whose function does not exist)."""
        fn = self.authorizer_function(mode)
        log = self.logs[fn]
        if missing:
            fn += "-missing"
        api = self.v2.create_api(Name=f"lauth-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")["ApiId"]
        self.apis.append(api)
        uri = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
               f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{fn}/invocations")
        kw = {} if simple is None else {"EnableSimpleResponses": simple}
        auth = self.v2.create_authorizer(
            ApiId=api, AuthorizerType="REQUEST", Name=f"auth-{mode}", AuthorizerUri=uri,
            AuthorizerPayloadFormatVersion=version, IdentitySource=list(sources),
            AuthorizerResultTtlInSeconds=ttl, **kw)["AuthorizerId"]
        integration = self.v2.create_integration(
            ApiId=api, IntegrationType="AWS_PROXY", PayloadFormatVersion="2.0",
            IntegrationUri=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{self.echo}")["IntegrationId"]
        for key in ("GET /items", "POST /items"):
            self.v2.create_route(ApiId=api, RouteKey=key, Target=f"integrations/{integration}",
                                 AuthorizationType="CUSTOM", AuthorizerId=auth)
        self.v2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
        return type("Api", (), {"id": api, "log": log, "function": fn})()

    def events(self, api):
        return [json.loads(line) for line in lines(api.log)]

    def echo_calls(self):
        return len(lines(self.echo_log))

    def close(self):
        for api in self.apis:
            self.v2.delete_api(ApiId=api)
        for name in self.functions:
            self.lam.delete_function(FunctionName=name)


@pytest.fixture(scope="module")
def env(portico):
    e = Env(portico)
    yield e
    e.close()


@pytest.fixture(scope="module")
def simple(env):
    return env.api("simple", simple=True)


@pytest.fixture(scope="module")
def policy2(env):
    return env.api("policy", simple=False)


@pytest.fixture(scope="module")
def policy1(env):
    return env.api("policy", version="1.0")


def send(env, api, token=None, method="GET", path="/items", headers=()):
    h = list(headers) + ([] if token is None else [("Authorization", token)])
    return call(env.portico, api.id, path, method=method, headers=h)


def expect(r, status, body=None, case=""):
    assert r.status == status, (case, r.status, r.body)
    if body is not None:
        assert r.body == body, (case, r.body)


# ---------------------------------------------------------------------------------------------
# 1. Simple responses.

def test_simple_allow_passes_the_context_with_its_json_types(env, simple):
    before = env.echo_calls()
    r = send(env, simple, "allow")
    expect(r, 200)
    assert env.echo_calls() == before + 1
    assert r.json()["requestContext"]["authorizer"] == {"lambda": CONTEXT}


def test_simple_deny_is_403_and_the_integration_is_not_called(env, simple):
    before, calls = env.echo_calls(), len(env.events(simple))
    expect(send(env, simple, "deny"), 403, FORBIDDEN)
    assert len(env.events(simple)) == calls + 1
    assert env.echo_calls() == before


def test_missing_identity_source_is_401_without_calling_the_authorizer(env, simple):
    before, calls = env.echo_calls(), len(env.events(simple))
    expect(send(env, simple), 401, UNAUTHORIZED, "no header")
    expect(send(env, simple, ""), 401, UNAUTHORIZED, "empty header")
    assert len(env.events(simple)) == calls
    assert env.echo_calls() == before


@pytest.mark.parametrize("token,status,body", [
    ("boom", 500, INTERNAL), ("unauth", 401, UNAUTHORIZED), ("bad", 500, INTERNAL)])
def test_authorizer_failures(env, simple, policy2, token, status, body):
    before = env.echo_calls()
    for api in (simple, policy2):
        calls = len(env.events(api))
        expect(send(env, api, token), status, body, (api.function, token))
        assert len(env.events(api)) == calls + 1, (api.function, token)
    assert env.echo_calls() == before


def test_an_authorizer_function_that_does_not_exist_is_500(env):
    api = env.api("simple", simple=True, missing=True)
    before = env.echo_calls()
    expect(send(env, api, "allow"), 500, INTERNAL)
    assert env.echo_calls() == before


# ---------------------------------------------------------------------------------------------
# 2. What the 2.0 authorizer gets.

def test_the_2_0_event(env, simple):
    r = send(env, simple, "allow", path="/items?b=2&a=1",
             headers=[("X-Custom", "Val"), ("Cookie", "c1=v1; c2=v2")])
    expect(r, 200)
    e = env.events(simple)[-1]
    assert e["version"] == "2.0"
    assert e["type"] == "REQUEST"
    assert e["routeArn"] == f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{simple.id}/$default/GET/items"
    assert e["identitySource"] == ["allow"]
    assert e["routeKey"] == "GET /items"
    assert e["rawPath"] == "/items"
    assert e["rawQueryString"] == "b=2&a=1"
    assert e["queryStringParameters"] == {"a": "1", "b": "2"}
    assert e["cookies"] == ["c1=v1", "c2=v2"]
    assert e["headers"]["x-custom"] == "Val"
    assert e["headers"]["authorization"] == "allow"
    assert all(k == k.lower() for k in e["headers"]), e["headers"]
    ctx = e["requestContext"]
    assert ctx["http"]["method"] == "GET"
    assert ctx["http"]["path"] == "/items"
    assert ctx["apiId"] == simple.id
    assert ctx["stage"] == "$default"
    assert ctx["routeKey"] == "GET /items"
    assert "authorizer" not in ctx
    assert "body" not in e and "isBase64Encoded" not in e
    # The integration's event: the same request, with the authorizer's answer.
    echoed = r.json()
    assert echoed["rawQueryString"] == "b=2&a=1"
    assert echoed["requestContext"]["authorizer"] == {"lambda": CONTEXT}


def test_a_post_with_a_body_does_not_hand_the_body_to_the_authorizer(env, simple):
    r = call(env.portico, simple.id, "/items", method="POST", body=b'{"x":1}',
             headers=[("Authorization", "allow"), ("Content-Type", "application/json")])
    expect(r, 200)
    e = env.events(simple)[-1]
    assert "body" not in e
    assert e["routeArn"].endswith("/$default/POST/items")
    assert e["requestContext"]["http"]["method"] == "POST"
    assert r.json()["body"] == '{"x":1}'


# ---------------------------------------------------------------------------------------------
# 3. IAM policy responses (2.0 without simple responses, and 1.0).

@pytest.mark.parametrize("which", ["policy2", "policy1"])
def test_policy_is_evaluated_against_the_route_arn(env, which, request):
    api = request.getfixturevalue(which)
    r = send(env, api, "allow")
    expect(r, 200, case=which)
    assert r.json()["requestContext"]["authorizer"] == \
        {"lambda": {**POLICY_CONTEXT, "principalId": "user-42"}}, which
    before = env.echo_calls()
    # The policy allows only */*/GET/items: POST /items (same authorizer) is refused.
    expect(send(env, api, "allow", method="POST"), 403, FORBIDDEN, which)
    expect(send(env, api, "deny"), 403, FORBIDDEN, which)
    assert env.echo_calls() == before


def test_the_1_0_event(env, policy1):
    expect(send(env, policy1, "allow", path="/items?a=1", headers=[("X-Custom", "Val")]), 200)
    e = env.events(policy1)[-1]
    assert e["type"] == "REQUEST"
    assert e["methodArn"] == f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{policy1.id}/$default/GET/items"
    assert e["identitySource"] == "allow"
    assert e.get("version") == "1.0"
    assert "routeArn" not in e
    assert e["httpMethod"] == "GET"
    assert e["queryStringParameters"] == {"a": "1"}
    assert {k.lower(): v for k, v in e["headers"].items()}["x-custom"] == "Val"
    assert "body" not in e or e["body"] is None
    # AWS's 1.0 example carries the identity twice: `identitySource` and `authorizationToken`.
    assert e.get("authorizationToken") == "allow", sorted(e)


def test_a_named_stage_is_in_the_route_arn(env, simple):
    env.v2.create_stage(ApiId=simple.id, StageName="dev", AutoDeploy=True)
    r = send(env, simple, "allow", path="/dev/items")
    expect(r, 200)
    e = env.events(simple)[-1]
    assert e["routeArn"] == f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{simple.id}/dev/GET/items"
    assert e["rawPath"] == "/dev/items" and e["requestContext"]["stage"] == "dev"
    assert r.json()["requestContext"]["stage"] == "dev"


# ---------------------------------------------------------------------------------------------
# 4. Caching.

def test_results_are_cached_per_identity_for_the_ttl_until_reset(env):
    api = env.api("simple", simple=True, ttl=300)
    n = lambda: len(env.events(api))  # noqa: E731
    expect(send(env, api, "allow"), 200)
    assert n() == 1
    r = send(env, api, "allow")
    expect(r, 200)
    assert n() == 1, "the same identity within the TTL must not call the authorizer"
    assert r.json()["requestContext"]["authorizer"] == {"lambda": CONTEXT}
    # The cache is per authorizer, not per route.
    expect(send(env, api, "allow", method="POST"), 200)
    assert n() == 1
    expect(send(env, api, "allow-2"), 200)
    assert n() == 2
    expect(send(env, api, "deny"), 403, FORBIDDEN)
    expect(send(env, api, "deny"), 403, FORBIDDEN)
    assert n() == 3
    env.v2.reset_authorizers_cache(ApiId=api.id, StageName="$default")
    expect(send(env, api, "allow"), 200)
    assert n() == 4
    expect(send(env, api, "allow"), 200)
    assert n() == 4


def test_a_cached_policy_is_evaluated_again_for_each_route(env):
    api = env.api("policy", simple=False, ttl=300)
    expect(send(env, api, "allow"), 200)
    expect(send(env, api, "allow", method="POST"), 403, FORBIDDEN)
    r = send(env, api, "allow")
    expect(r, 200)
    assert r.json()["requestContext"]["authorizer"]["lambda"]["principalId"] == "user-42"
    assert len(env.events(api)) == 1


def test_a_cached_result_expires_after_the_ttl(env):
    api = env.api("simple", simple=True, ttl=1)
    expect(send(env, api, "allow"), 200)
    expect(send(env, api, "allow"), 200)
    assert len(env.events(api)) == 1
    time.sleep(1.3)
    expect(send(env, api, "allow"), 200)
    assert len(env.events(api)) == 2


def test_context_route_key_as_identity_source_caches_per_route(env):
    api = env.api("simple", simple=True, ttl=300,
                  sources=("$request.header.Authorization", "$context.routeKey"))
    for method in ("GET", "POST", "GET", "POST"):
        expect(send(env, api, "allow", method=method), 200, case=method)
    events = env.events(api)
    assert [e["identitySource"] for e in events] == [["allow", "GET /items"], ["allow", "POST /items"]]


def test_without_identity_sources_every_request_reaches_the_authorizer(env):
    api = env.api("simple", simple=True, sources=())
    expect(send(env, api), 403, FORBIDDEN)
    expect(send(env, api, "allow"), 200)
    assert len(env.events(api)) == 2


def test_ttl_0_calls_the_authorizer_every_time(env, simple):
    calls = len(env.events(simple))
    for _ in range(3):
        expect(send(env, simple, "allow"), 200)
    assert len(env.events(simple)) == calls + 3


# ---------------------------------------------------------------------------------------------
# 5. Several identity sources.

def test_every_identity_source_is_required(env):
    api = env.api("simple", simple=True,
                  sources=("$request.header.Authorization", "$request.querystring.token"))
    expect(send(env, api, "allow", path="/items?token=q1"), 200)
    events = env.events(api)
    assert len(events) == 1
    assert events[0]["identitySource"] == ["allow", "q1"]
    before = env.echo_calls()
    expect(send(env, api, "allow"), 401, UNAUTHORIZED, "no query string")
    expect(send(env, api, path="/items?token=q1"), 401, UNAUTHORIZED, "no header")
    expect(send(env, api, "allow", path="/items?token="), 401, UNAUTHORIZED, "empty token")
    assert len(env.events(api)) == 1
    assert env.echo_calls() == before
