"""Lambda authorizers (CUSTOM authorization, TOKEN and REQUEST), black-box: real authorizer
functions run by Portico's local runtime (created with boto3's lambda client), APIs made with
boto3's apigateway client, requests over plain HTTP. Each authorizer invocation is appended to a
file, so the tests see exactly what the function received and how often it ran."""
import json
import os
import tempfile
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config

from conftest import Portico

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

AUTHORIZER = r'''
import json, os

def policy(effect, resource, principal="user-1", context=None, key=None):
    out = {"principalId": principal,
           "policyDocument": {"Version": "2012-10-17",
                              "Statement": [{"Action": "execute-api:Invoke", "Effect": effect,
                                             "Resource": resource}]}}
    if context is not None:
        out["context"] = context
    if key is not None:
        out["usageIdentifierKey"] = key
    return out

def handler(event, context):
    with open(os.environ["LOG"], "a") as f:
        f.write(json.dumps(event) + "\n")
    arn = event["methodArn"]
    api_arn = arn.split("/")[0]
    if event["type"] == "TOKEN":
        who = event["authorizationToken"]
    else:
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        who = headers.get("x-user", "")
    if who in ("allow", "alice"):
        return policy("Allow", api_arn + "/*", principal="user-" + who,
                      context={"user": who, "n": 7, "admin": True})
    if who == "allow-key":
        return policy("Allow", api_arn + "/*", key=os.environ["KEY"])
    if who == "narrow":
        return policy("Allow", [api_arn + "/dev/GET/*"])
    if who == "deny":
        return policy("Deny", arn)
    if who == "unauthorized":
        raise Exception("Unauthorized")
    if who == "bad":
        return {"statusCode": 200, "body": "not a policy"}
    if who == "nested":
        return policy("Allow", "*", context={"a": {"b": 1}})
    raise Exception("boom")
'''

ECHO = r'''
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}
'''

KEY = "authorizer-key-value-0123456789abcdef"
MOCK_TEMPLATE = ('{"principal": "$context.authorizer.principalId", "user": "$context.authorizer.user", '
                 '"n": "$context.authorizer.n", "keyId": "$context.identity.apiKeyId"}')


@pytest.fixture(scope="module")
def env():
    log = tempfile.NamedTemporaryFile(prefix="authorizer-", suffix=".log", delete=False).name
    p = Portico()
    kw = dict(endpoint_url=f"http://{p.admin}", region_name="us-east-1", aws_access_key_id="test",
              aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    apigw, lam = boto3.client("apigateway", **kw), boto3.client("lambda", **kw)
    import io
    import zipfile

    def zipped(src):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("index.py", src)
        return buf.getvalue()

    lam.create_function(FunctionName="authz", Runtime="python3.12", Handler="index.handler", Role=ROLE,
                        Code={"ZipFile": zipped(AUTHORIZER)},
                        Environment={"Variables": {"LOG": log, "KEY": KEY}})
    lam.create_function(FunctionName="echo-authorizer", Runtime="python3.12", Handler="index.handler",
                        Role=ROLE, Code={"ZipFile": zipped(ECHO)})
    yield p, apigw, log
    p.stop()
    os.unlink(log)


def fn_uri(name):
    return (f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            f"arn:aws:lambda:us-east-1:000000000000:function:{name}/invocations")


def invocations(log):
    with open(log) as f:
        return [json.loads(line) for line in f if line.strip()]


def call(p, api, path, method="GET", headers=None):
    req = urllib.request.Request(f"http://{p.data_plane}/restapis/{api}/dev/_user_request_{path}",
                                 method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def api_with_authorizer(apigw, name, authorizer, methods, api_key_source=None):
    """An API whose `methods` ((path part, verb, integration kind)) use a new authorizer."""
    kw = {"apiKeySource": api_key_source} if api_key_source else {}
    api = apigw.create_rest_api(name=name, **kw)["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    auth = apigw.create_authorizer(restApiId=api, name=name + "-auth", authorizerUri=fn_uri("authz"),
                                   **authorizer)["id"]
    parents = {"": root}
    for path, verb, kind, extra in methods:
        parent = root
        built = ""
        for part in path.strip("/").split("/"):
            built += "/" + part
            if built not in parents:
                parents[built] = apigw.create_resource(restApiId=api, parentId=parent, pathPart=part)["id"]
            parent = parents[built]
        apigw.put_method(restApiId=api, resourceId=parent, httpMethod=verb, authorizationType="CUSTOM",
                         authorizerId=auth, **extra)
        if kind == "mock":
            apigw.put_integration(restApiId=api, resourceId=parent, httpMethod=verb, type="MOCK",
                                  requestTemplates={"application/json": '{"statusCode": 200}'})
            apigw.put_method_response(restApiId=api, resourceId=parent, httpMethod=verb, statusCode="200")
            apigw.put_integration_response(restApiId=api, resourceId=parent, httpMethod=verb,
                                           statusCode="200",
                                           responseTemplates={"application/json": MOCK_TEMPLATE})
        else:
            apigw.put_integration(restApiId=api, resourceId=parent, httpMethod=verb, type="AWS_PROXY",
                                  integrationHttpMethod="POST", uri=fn_uri("echo-authorizer"))
    apigw.create_deployment(restApiId=api, stageName="dev")
    return api, auth


def test_token_authorizer_allows_denies_and_refuses(env):
    p, apigw, log = env
    api, _ = api_with_authorizer(
        apigw, "token", {"type": "TOKEN", "identitySource": "method.request.header.Authorization",
                         "identityValidationExpression": "[a-z-]+", "authorizerResultTtlInSeconds": 0},
        [("/pets/{id}", "GET", "mock", {}), ("/pets/{id}", "POST", "mock", {})])
    before = len(invocations(log))

    # No token, or one the validation expression refuses: 401 and the function never runs.
    for headers in ({}, {"Authorization": ""}, {"Authorization": "Bad Token!"}):
        st, h, body = call(p, api, "/pets/1", headers=headers)
        assert (st, json.loads(body)) == (401, {"message": "Unauthorized"}), headers
        assert h["x-amzn-ErrorType"] == "UnauthorizedException"
    assert len(invocations(log)) == before

    st, _, body = call(p, api, "/pets/42", headers={"Authorization": "alice"})
    assert st == 200, body
    assert json.loads(body) == {"principal": "user-alice", "user": "alice", "n": "7", "keyId": ""}
    event = invocations(log)[-1]
    assert event == {"type": "TOKEN", "authorizationToken": "alice",
                     "methodArn": f"arn:aws:execute-api:us-east-1:000000000000:{api}/dev/GET/pets/42"}
    assert list(event) == ["type", "methodArn", "authorizationToken"]

    st, h, body = call(p, api, "/pets/1", headers={"Authorization": "deny"})
    assert (st, json.loads(body)) == (
        403, {"Message": "User is not authorized to access this resource with an explicit deny"})
    assert h["x-amzn-ErrorType"] == "AccessDeniedException"
    # Allowed for GET only: a POST is not allowed (no explicit deny).
    assert call(p, api, "/pets/1", headers={"Authorization": "narrow"})[0] == 200
    st, _, body = call(p, api, "/pets/1", "POST", headers={"Authorization": "narrow"})
    assert (st, json.loads(body)) == (403, {"Message": "User is not authorized to access this resource"})
    # The function says Unauthorized: 401. It fails, or answers what is not a policy: 500.
    st, _, body = call(p, api, "/pets/1", headers={"Authorization": "unauthorized"})
    assert (st, json.loads(body)) == (401, {"message": "Unauthorized"})
    for token in ("boom", "bad", "nested"):
        st, h, body = call(p, api, "/pets/1", headers={"Authorization": token})
        assert (st, json.loads(body)) == (500, {"message": None}), token
        assert h["x-amzn-ErrorType"] == "AuthorizerConfigurationException"


def test_results_are_cached_per_token_reevaluated_per_method_and_flushed(env):
    p, apigw, log = env
    api, _ = api_with_authorizer(
        apigw, "cached", {"type": "TOKEN", "identitySource": "method.request.header.Authorization"},
        [("/items", "GET", "mock", {}), ("/items", "DELETE", "mock", {})])
    count = lambda: sum(1 for e in invocations(log) if f":{api}/" in e["methodArn"])  # noqa: E731
    for _ in range(3):
        assert call(p, api, "/items", headers={"Authorization": "narrow"})[0] == 200
    assert count() == 1
    # The cached policy is evaluated against each method ARN: DELETE is not in it.
    assert call(p, api, "/items", "DELETE", headers={"Authorization": "narrow"})[0] == 403
    assert count() == 1
    assert call(p, api, "/items", headers={"Authorization": "alice"})[0] == 200
    assert count() == 2
    apigw.flush_stage_authorizers_cache(restApiId=api, stageName="dev")
    assert call(p, api, "/items", headers={"Authorization": "narrow"})[0] == 200
    assert count() == 3


def test_request_authorizer_event_identity_and_context_in_the_proxy_event(env):
    p, apigw, log = env
    api, _ = api_with_authorizer(
        apigw, "request", {"type": "REQUEST", "authorizerResultTtlInSeconds": 0,
                           "identitySource": "method.request.header.X-User, method.request.querystring.tenant"},
        [("/orders/{id}", "GET", "lambda", {})])
    before = len(invocations(log))
    st, _, body = call(p, api, "/orders/7", headers={"X-User": "alice"})
    assert (st, json.loads(body)) == (401, {"message": "Unauthorized"})
    assert len(invocations(log)) == before

    st, _, body = call(p, api, "/orders/7?tenant=acme&x=1", headers={"X-User": "alice"})
    assert st == 200, body
    got = json.loads(body)
    assert {k: got[k] for k in ("user", "n", "admin", "principalId")} == {
        "user": "alice", "n": "7", "admin": "true", "principalId": "user-alice"}
    assert isinstance(got["integrationLatency"], int)
    event = invocations(log)[-1]
    assert list(event)[:2] == ["type", "methodArn"]
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == f"arn:aws:execute-api:us-east-1:000000000000:{api}/dev/GET/orders/7"
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/orders/{id}", "/orders/7", "GET")
    assert event["headers"]["X-User"] == "alice"
    assert event["queryStringParameters"] == {"tenant": "acme", "x": "1"}
    assert event["pathParameters"] == {"id": "7"}
    assert event["requestContext"]["stage"] == "dev" and event["requestContext"]["apiId"] == api
    assert "body" not in event and "authorizer" not in event["requestContext"]


def test_the_api_key_can_come_from_the_authorizer(env):
    p, apigw, log = env
    api, _ = api_with_authorizer(
        apigw, "key-from-authorizer",
        {"type": "TOKEN", "identitySource": "method.request.header.Authorization",
         "authorizerResultTtlInSeconds": 0},
        [("/keyed", "GET", "mock", {"apiKeyRequired": True})], api_key_source="AUTHORIZER")
    key = apigw.create_api_key(name="from-authorizer", enabled=True, value=KEY)
    plan = apigw.create_usage_plan(name="authorizer-plan", apiStages=[{"apiId": api, "stage": "dev"}])
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    st, _, body = call(p, api, "/keyed", headers={"Authorization": "allow-key"})
    assert st == 200, body
    assert json.loads(body)["keyId"] == key["id"]
    # Allowed, but the authorizer named no key: the API key step refuses.
    st, _, body = call(p, api, "/keyed", headers={"Authorization": "allow"})
    assert (st, json.loads(body)) == (403, {"message": "Forbidden"})


def test_an_authorizer_portico_cannot_run_fails_closed(env):
    # A user pool authorizer whose provider names no issuer Portico can resolve: the method
    # answers 500 rather than run unprotected.
    p, apigw, _ = env
    api = apigw.create_rest_api(name="closed")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    res = apigw.create_resource(restApiId=api, parentId=root, pathPart="pool")["id"]
    auth = apigw.create_authorizer(restApiId=api, name="nowhere", type="COGNITO_USER_POOLS",
                                   providerARNs=["arn:aws:cognito-idp:us-east-1:000000000000:userpool/"],
                                   identitySource="method.request.header.Authorization")["id"]
    apigw.put_method(restApiId=api, resourceId=res, httpMethod="GET",
                     authorizationType="COGNITO_USER_POOLS", authorizerId=auth)
    apigw.put_integration(restApiId=api, resourceId=res, httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_method_response(restApiId=api, resourceId=res, httpMethod="GET", statusCode="200")
    apigw.put_integration_response(restApiId=api, resourceId=res, httpMethod="GET", statusCode="200")
    apigw.create_deployment(restApiId=api, stageName="dev")
    st, _, body = call(p, api, "/pool", headers={"Authorization": "eyJ.x.y"})
    assert (st, json.loads(body)) == (500, {"message": "Internal server error"})


def test_test_invoke_method_skips_the_authorizer_as_on_aws(env):
    p, apigw, log = env
    api, _ = api_with_authorizer(
        apigw, "test-invoke", {"type": "TOKEN", "identitySource": "method.request.header.Authorization"},
        [("/t", "GET", "mock", {})])
    res = [r for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/t"][0]["id"]
    before = len(invocations(log))
    out = apigw.test_invoke_method(restApiId=api, resourceId=res, httpMethod="GET", pathWithQueryString="/t")
    assert out["status"] == 200, out
    assert len(invocations(log)) == before
    # Deployed, the same method needs the token.
    assert call(p, api, "/t")[0] == 401


OPENAPI = """
openapi: 3.0.1
info: {title: imported-authorizers, version: "1"}
components:
  securitySchemes:
    bearer:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: URI
        authorizerResultTtlInSeconds: 0
    byUser:
      type: apiKey
      name: Unused
      in: header
      x-amazon-apigateway-authorizer:
        type: request
        authorizerUri: URI
        identitySource: method.request.header.X-User
        authorizerResultTtlInSeconds: 0
paths:
  /token:
    get:
      security: [{bearer: []}]
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {application/json: '{"statusCode": 200}'}
        responses:
          default:
            statusCode: "200"
            responseTemplates: {application/json: '{"principal": "$context.authorizer.principalId"}'}
  /request:
    get:
      security: [{byUser: []}]
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {application/json: '{"statusCode": 200}'}
        responses:
          default:
            statusCode: "200"
            responseTemplates: {application/json: '{"user": "$context.authorizer.user"}'}
"""


def test_openapi_import_creates_authorizers_and_reimport_keeps_their_ids(env):
    p, apigw, _ = env
    body = OPENAPI.replace("URI", fn_uri("authz")).encode()
    api = apigw.import_rest_api(body=body)["id"]
    auths = {a["name"]: a for a in apigw.get_authorizers(restApiId=api)["items"]}
    assert set(auths) == {"bearer", "byUser"}
    assert auths["bearer"]["type"] == "TOKEN"
    assert auths["bearer"]["identitySource"] == "method.request.header.Authorization"
    assert auths["byUser"]["type"] == "REQUEST"
    resources = {r["path"]: r["id"] for r in apigw.get_resources(restApiId=api)["items"]}
    m = apigw.get_method(restApiId=api, resourceId=resources["/token"], httpMethod="GET")
    assert (m["authorizationType"], m["authorizerId"]) == ("CUSTOM", auths["bearer"]["id"])
    apigw.create_deployment(restApiId=api, stageName="dev")
    assert call(p, api, "/token")[0] == 401
    st, _, out = call(p, api, "/token", headers={"Authorization": "alice"})
    assert (st, json.loads(out)) == (200, {"principal": "user-alice"})
    st, _, out = call(p, api, "/request", headers={"X-User": "alice"})
    assert (st, json.loads(out)) == (200, {"user": "alice"})
    # Re-import (overwrite): the authorizers keep their ids, the methods still point at them.
    apigw.put_rest_api(restApiId=api, mode="overwrite", body=body)
    again = {a["name"]: a["id"] for a in apigw.get_authorizers(restApiId=api)["items"]}
    assert again == {n: a["id"] for n, a in auths.items()}
    m = apigw.get_method(restApiId=api, resourceId=resources["/token"], httpMethod="GET")
    assert m["authorizerId"] == auths["bearer"]["id"]


def test_test_invoke_authorizer(env):
    p, apigw, _ = env
    api, auth = api_with_authorizer(
        apigw, "test-invoke-authorizer",
        {"type": "TOKEN", "identitySource": "method.request.header.Authorization"},
        [("/x", "GET", "mock", {})])
    out = apigw.test_invoke_authorizer(restApiId=api, authorizerId=auth,
                                       headers={"Authorization": "alice"}, pathWithQueryString="/x")
    assert out["clientStatus"] == 0, out
    assert out["principalId"] == "user-alice"
    policy = json.loads(out["policy"])
    assert policy["Statement"][0]["Effect"] == "Allow"
    assert f"{api}/ESTestInvoke-stage/GET/x" in out["log"]
    assert "Successfully completed authorizer execution" in out["log"]
    assert apigw.test_invoke_authorizer(restApiId=api, authorizerId=auth,
                                        headers={"Authorization": "deny"})["clientStatus"] == 403
    assert apigw.test_invoke_authorizer(restApiId=api, authorizerId=auth, headers={})["clientStatus"] == 401
    assert apigw.test_invoke_authorizer(restApiId=api, authorizerId=auth,
                                        headers={"Authorization": "boom"})["clientStatus"] == 500
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.test_invoke_authorizer(restApiId=api, authorizerId="nope00")
