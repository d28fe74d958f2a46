"""Resource policies on REST APIs, black-box: policies set with boto3 (CreateRestApi `policy`,
UpdateRestApi `/policy`), allowing and denying by source IP (every request here comes from
127.0.0.1), alone and combined with a Lambda authorizer (run by the local runtime; its
invocations counted) and a Cognito authorizer (tokens from a local issuer), as AWS's policy
evaluation table combines them."""
import json
import os
import tempfile

import pytest

from conftest import Portico
from test_cognito_authorizers import POOL, Issuer
from test_lambda_authorizers import AUTHORIZER, fn_uri, invocations

LOCAL = "127.0.0.0/8"
ELSEWHERE = "10.0.0.0/8"


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def stmt(effect, condition=None, resource="execute-api:/*"):
    s = {"Effect": effect, "Principal": "*", "Action": "execute-api:Invoke", "Resource": resource}
    if condition:
        s["Condition"] = condition
    return s


def from_(cidr):
    return {"IpAddress": {"aws:SourceIp": cidr}}


def not_from(cidr):
    return {"NotIpAddress": {"aws:SourceIp": cidr}}


@pytest.fixture(scope="module")
def env():
    import boto3
    import io
    import zipfile
    from botocore.config import Config

    log = tempfile.NamedTemporaryFile(prefix="policy-authorizer-", suffix=".log", delete=False).name
    issuer = Issuer()
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    config.write(f"issuers:\n  {POOL}:\n    issuer: {issuer.url}\n")
    config.close()
    p = Portico(extra=("--access-log", "off", "--aws-config", config.name))
    kw = dict(endpoint_url=f"http://{p.admin}", region_name="us-east-1", aws_access_key_id="test",
              aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    apigw, lam = boto3.client("apigateway", **kw), boto3.client("lambda", **kw)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", AUTHORIZER)
    lam.create_function(FunctionName="authz", Runtime="python3.12", Handler="index.handler",
                        Role="arn:aws:iam::000000000000:role/lambda-role", Code={"ZipFile": buf.getvalue()},
                        Environment={"Variables": {"LOG": log, "KEY": "unused-key-0123456789abcdef"}})
    yield p, apigw, log, issuer
    p.stop()
    issuer.close()
    os.unlink(log)
    os.unlink(config.name)


def make_api(apigw, name, pol, authorization="NONE"):
    """An API with MOCK GET and POST on /things under `authorization` (NONE, CUSTOM or
    COGNITO_USER_POOLS) and resource policy `pol`, deployed to `dev`."""
    api = apigw.create_rest_api(name=name, policy=pol)["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    res = apigw.create_resource(restApiId=api, parentId=root, pathPart="things")["id"]
    extra = {}
    if authorization == "CUSTOM":
        extra["authorizerId"] = apigw.create_authorizer(
            restApiId=api, name="lambda", type="TOKEN", authorizerUri=fn_uri("authz"),
            identitySource="method.request.header.Authorization",
            authorizerResultTtlInSeconds=0)["id"]
    elif authorization == "COGNITO_USER_POOLS":
        extra["authorizerId"] = apigw.create_authorizer(
            restApiId=api, name="pool", type="COGNITO_USER_POOLS", providerARNs=[POOL],
            identitySource="method.request.header.Authorization")["id"]
    for verb in ("GET", "POST"):
        apigw.put_method(restApiId=api, resourceId=res, httpMethod=verb, authorizationType=authorization,
                         **extra)
        apigw.put_integration(restApiId=api, resourceId=res, httpMethod=verb, type="MOCK",
                              requestTemplates={"application/json": '{"statusCode": 200}'})
        apigw.put_method_response(restApiId=api, resourceId=res, httpMethod=verb, statusCode="200")
        apigw.put_integration_response(restApiId=api, resourceId=res, httpMethod=verb, statusCode="200",
                                       responseTemplates={"application/json": '{"ok": true}'})
    apigw.create_deployment(restApiId=api, stageName="dev")
    return api


def call(p, api, method="GET", token=None):
    import urllib.error
    import urllib.request
    headers = {"Authorization": token} if token else {}
    req = urllib.request.Request(f"http://{p.data_plane}/restapis/{api}/dev/_user_request_/things",
                                 method=method, headers=headers, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


def denied(api, method="GET", explicit=False):
    arn = f"arn:aws:execute-api:us-east-1:********0000:{api}/dev/{method}/things"
    tail = " with an explicit deny" if explicit else \
        " because no resource-based policy allows the execute-api:Invoke action"
    return {"Message": f"User: anonymous is not authorized to perform: execute-api:Invoke on resource: {arn}{tail}"}


def test_a_policy_alone_allows_and_denies_by_source_ip(env):
    p, apigw, _, _ = env
    allowed = make_api(apigw, "policy-local", policy(stmt("Allow", from_(LOCAL))))
    assert call(p, allowed)[::2] == (200, {"ok": True})
    elsewhere = make_api(apigw, "policy-elsewhere", policy(stmt("Allow", from_(ELSEWHERE))))
    status, headers, body = call(p, elsewhere)
    assert (status, body) == (403, denied(elsewhere))
    assert headers["x-amzn-ErrorType"] == "AccessDeniedException"
    # Allow everyone, explicitly deny the local network: the deny wins.
    deny = make_api(apigw, "policy-deny", policy(stmt("Allow"), stmt("Deny", not_from(ELSEWHERE))))
    assert call(p, deny)[::2] == (403, denied(deny, explicit=True))
    # Only POST denied (a full ARN with wildcards).
    post_only = make_api(apigw, "policy-post", policy(
        stmt("Allow"), stmt("Deny", resource="arn:aws:execute-api:*:*:*/*/POST/*")))
    assert call(p, post_only)[0] == 200
    assert call(p, post_only, "POST")[::2] == (403, denied(post_only, "POST", explicit=True))


def test_a_policy_change_is_served_after_a_redeploy(env):
    p, apigw, _, _ = env
    api = make_api(apigw, "policy-change", policy(stmt("Allow", from_(ELSEWHERE))))
    assert call(p, api)[0] == 403
    apigw.update_rest_api(restApiId=api, patchOperations=[
        {"op": "replace", "path": "/policy", "value": policy(stmt("Allow", from_(LOCAL)))}])
    assert call(p, api)[0] == 403, "not before a deployment, as on AWS"
    apigw.create_deployment(restApiId=api, stageName="dev")
    assert call(p, api)[0] == 200


def test_with_a_lambda_authorizer(env):
    p, apigw, log, _ = env
    # An explicit deny in the policy refuses before the authorizer is called.
    deny = make_api(apigw, "policy-lambda-deny", policy(stmt("Allow"), stmt("Deny", from_(LOCAL))),
                    "CUSTOM")
    before = len(invocations(log))
    assert call(p, deny, token="allow")[::2] == (403, denied(deny, explicit=True))
    assert len(invocations(log)) == before
    # No statement about this caller: the authorizer decides.
    neither = make_api(apigw, "policy-lambda-neither", policy(stmt("Allow", from_(ELSEWHERE))), "CUSTOM")
    assert call(p, neither, token="allow")[0] == 200
    assert call(p, neither, "POST", token="narrow")[::2] == \
        (403, {"Message": "User is not authorized to access this resource"})
    assert call(p, neither, token="deny")[0] == 403
    # The policy allows: an authorizer policy that allows nothing is made up for (AWS's table),
    # an authorizer's explicit deny still refuses.
    allow = make_api(apigw, "policy-lambda-allow", policy(stmt("Allow", from_(LOCAL))), "CUSTOM")
    assert call(p, allow, "POST", token="narrow")[0] == 200
    assert call(p, allow, token="deny")[::2] == \
        (403, {"Message": "User is not authorized to access this resource with an explicit deny"})
    assert call(p, allow)[::2] == (401, {"message": "Unauthorized"})


def test_with_a_cognito_authorizer(env):
    p, apigw, _, issuer = env
    allow = make_api(apigw, "policy-cognito-allow", policy(stmt("Allow", from_(LOCAL))), "COGNITO_USER_POOLS")
    assert call(p, allow, token=issuer.token())[0] == 200
    assert call(p, allow)[::2] == (401, {"message": "Unauthorized"})
    # After the token, the policy must allow explicitly.
    elsewhere = make_api(apigw, "policy-cognito-elsewhere", policy(stmt("Allow", from_(ELSEWHERE))),
                         "COGNITO_USER_POOLS")
    assert call(p, elsewhere, token=issuer.token())[::2] == (403, denied(elsewhere))
    assert call(p, elsewhere)[0] == 401


def test_a_policy_portico_cannot_evaluate_fails_closed(env):
    p, apigw, _, _ = env
    odd = make_api(apigw, "policy-odd", policy(stmt("Allow", {"DateLessThan": {"aws:CurrentTime": "2999-01-01T00:00:00Z"}})))
    assert call(p, odd)[::2] == (500, {"message": "Internal server error"})
