"""AWS_IAM authorization, black-box: requests signed with botocore's own SigV4 signers
(`SigV4Auth` for the header form, `SigV4QueryAuth` for presigned URLs, service `execute-api`),
principals configured through `--aws-config` (`principals`), the API made with boto3. Covers a
valid signature, a wrong secret, an altered header or body, an unknown key, session tokens, an old
date, presigned URLs, the caller's identity in `$context.identity`, identity policies and AWS's
table combining them with a resource policy (same account: either allows; another account:
both must)."""
import datetime
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from unittest import mock

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import Portico

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "traffic"))
from traffic_kit import Backend  # noqa: E402

ALICE = ("AKIAALICE0000000001", "alice-secret", None, "arn:aws:iam::000000000000:user/alice")
BOB = ("ASIABOB000000000001", "bob-secret", "bob-session-token", "arn:aws:sts::000000000000:assumed-role/ops/bob")
CAROL = ("AKIACAROL0000000001", "carol-secret", None, "arn:aws:iam::111111111111:user/carol")
TEMPLATE = ('{"caller": "$context.identity.caller", "user": "$context.identity.user", '
            '"userArn": "$context.identity.userArn", "accessKey": "$context.identity.accessKey", '
            '"accountId": "$context.identity.accountId"}')


@pytest.fixture(scope="module")
def env():
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    config.write(
        "principals:\n"
        f"  {ALICE[0]}:\n    secretAccessKey: {ALICE[1]}\n    arn: {ALICE[3]}\n"
        "    invoke: ['arn:aws:execute-api:*:*:*/*/GET/*']\n"
        "    deny: ['arn:aws:execute-api:*:*:*/*/GET/secret']\n"
        f"  {BOB[0]}:\n    secretAccessKey: {BOB[1]}\n    sessionToken: {BOB[2]}\n    arn: {BOB[3]}\n"
        "    userId: AROAEXAMPLEROLEID:bob\n    invoke: '*'\n"
        f"  {CAROL[0]}:\n    secretAccessKey: {CAROL[1]}\n    arn: {CAROL[3]}\n    invoke: '*'\n")
    config.close()
    backend = Backend()
    p = Portico(extra=("--access-log", "off", "--aws-config", config.name,
                       "--aws-endpoint", f"sqs=http://127.0.0.1:{backend.port}"))
    import boto3
    from botocore.config import Config
    apigw = boto3.client("apigateway", endpoint_url=f"http://{p.admin}", region_name="us-east-1",
                         aws_access_key_id="test", aws_secret_access_key="test",
                         config=Config(retries={"max_attempts": 1}))
    yield p, apigw, backend
    p.stop()
    backend.close()
    os.unlink(config.name)


def make_api(apigw, name, policy=None):
    kw = {"policy": policy} if policy else {}
    api = apigw.create_rest_api(name=name, **kw)["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    for part in ("things", "secret"):
        res = apigw.create_resource(restApiId=api, parentId=root, pathPart=part)["id"]
        for verb in ("GET", "POST"):
            apigw.put_method(restApiId=api, resourceId=res, httpMethod=verb, authorizationType="AWS_IAM")
            apigw.put_integration(restApiId=api, resourceId=res, httpMethod=verb, type="MOCK",
                                  requestTemplates={"application/json": '{"statusCode": 200}'})
            apigw.put_method_response(restApiId=api, resourceId=res, httpMethod=verb, statusCode="200")
            apigw.put_integration_response(restApiId=api, resourceId=res, httpMethod=verb,
                                           statusCode="200",
                                           responseTemplates={"application/json": TEMPLATE})
    apigw.create_deployment(restApiId=api, stageName="dev")
    return api


@pytest.fixture(scope="module")
def api(env):
    return make_api(env[1], "iam-api")


def url(p, api, path="/things"):
    return f"http://{p.data_plane}/restapis/{api}/dev/_user_request_{path}"


def signed(who, method, target, body=None, headers=None, at=None, secret=None):
    """(method, url, headers, body) signed by botocore's SigV4Auth for `who`."""
    key, real_secret, token, _ = who
    req = AWSRequest(method=method, url=target, data=body, headers=headers or {})
    creds = Credentials(key, secret or real_secret, token)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at or datetime.datetime.utcnow()):
        SigV4Auth(creds, "execute-api", "us-east-1").add_auth(req)
    return method, target, dict(req.headers.items()), body


def presigned(who, target, expires=60, at=None):
    key, secret, token, _ = who
    req = AWSRequest(method="GET", url=target)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at or datetime.datetime.utcnow()):
        SigV4QueryAuth(Credentials(key, secret, token), "execute-api", "us-east-1", expires=expires).add_auth(req)
    return req.url


def send(method, target, headers=None, body=None):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(target, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, json.loads(e.read())


def test_a_valid_signature_reaches_the_method_with_the_callers_identity(env, api):
    p, _, _ = env
    status, _, body = send(*signed(ALICE, "GET", url(p, api)))
    assert status == 200, body
    assert body["userArn"] == ALICE[3]
    assert body["accessKey"] == ALICE[0]
    assert body["accountId"] == "000000000000"
    assert body["caller"] == body["user"] and body["caller"].startswith("AIDA")
    # A signed body, a session token.
    status, _, body = send(*signed(BOB, "POST", url(p, api), body='{"n": 1}',
                                   headers={"Content-Type": "application/json"}))
    assert status == 200, body
    assert (body["user"], body["userArn"]) == ("AROAEXAMPLEROLEID:bob", BOB[3])


def test_presigned_urls(env, api):
    p, _, _ = env
    status, _, body = send("GET", presigned(ALICE, url(p, api)))
    assert status == 200, body
    assert body["userArn"] == ALICE[3]
    old = datetime.datetime.utcnow() - datetime.timedelta(minutes=3)
    status, _, body = send("GET", presigned(ALICE, url(p, api), expires=60, at=old))
    assert (status, body) == (403, {"message": "Request has expired"})
    tampered = presigned(ALICE, url(p, api)).replace("/things", "/secret")
    assert send("GET", tampered)[0] == 403


def refusal(status, headers, body):
    return status, headers.get("x-amzn-errortype"), body.get("message") or body.get("Message")


def test_every_bad_signature_is_refused_with_awss_answer(env, api):
    p, _, _ = env
    target = url(p, api)
    assert refusal(*send("GET", target)) == \
        (403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    status, etype, message = refusal(*send("GET", target, {"Authorization": "Bearer abc"}))
    assert (status, etype) == (403, "IncompleteSignatureException")
    assert message.startswith("Invalid key=value pair (missing equal-sign) in Authorization header")
    status, etype, message = refusal(*send(*signed(ALICE, "GET", target, secret="wrong")))
    assert (status, etype) == (403, "InvalidSignatureException")
    path = f"/restapis/{api}/dev/_user_request_/things"
    assert message.startswith(
        "The request signature we calculated does not match the signature you provided. Check your "
        "AWS Secret Access Key and signing method. Consult the service documentation for details.\n\n"
        f"The Canonical String for this request should have been\n'GET\n{path}\n\nhost:"), message
    assert "\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in message
    assert message.endswith("'\n")
    # A header changed after signing.
    method, t, headers, body = signed(ALICE, "GET", target, headers={"X-Custom": "a"})
    assert refusal(*send(method, t, {**headers, "X-Custom": "b"}, body))[1] == "InvalidSignatureException"
    # A body changed after signing.
    method, t, headers, body = signed(BOB, "POST", target, body='{"n": 1}')
    assert refusal(*send(method, t, headers, '{"n": 2}'))[1] == "InvalidSignatureException"
    # An unknown key, a missing or wrong session token.
    unknown = ("AKIAUNKNOWN00000001", "x", None, "")
    assert refusal(*send(*signed(unknown, "GET", target))) == \
        (403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    no_token = (BOB[0], BOB[1], None, BOB[3])
    assert refusal(*send(*signed(no_token, "GET", target)))[2] == \
        "The security token included in the request is invalid."
    # Ten minutes old, and ten minutes ahead.
    old = datetime.datetime.utcnow() - datetime.timedelta(minutes=10)
    status, etype, message = refusal(*send(*signed(ALICE, "GET", target, at=old)))
    assert (status, etype) == (403, "InvalidSignatureException")
    assert message.startswith(f"Signature expired: {old.strftime('%Y%m%dT%H%M%S')}Z is now earlier than ")
    assert message.endswith(" - 5 min.)")
    ahead = datetime.datetime.utcnow() + datetime.timedelta(minutes=10)
    assert refusal(*send(*signed(ALICE, "GET", target, at=ahead)))[2].startswith("Signature not yet current: ")
    # Signed for another service.
    req = AWSRequest(method="GET", url=target)
    SigV4Auth(Credentials(ALICE[0], ALICE[1]), "lambda", "us-east-1").add_auth(req)
    assert refusal(*send("GET", target, dict(req.headers.items())))[2] == \
        "Credential should be scoped to correct service: 'execute-api'. "
    # The next valid request succeeds.
    assert send(*signed(ALICE, "GET", target))[0] == 200


def denied(who, api, method, path, explicit=False):
    arn = f"arn:aws:execute-api:us-east-1:********0000:{api}/dev/{method}/{path}"
    tail = " with an explicit deny" if explicit else \
        " because no identity-based policy allows the execute-api:Invoke action"
    return {"Message": f"User: {who[3]} is not authorized to perform: execute-api:Invoke on resource: {arn}{tail}"}


def test_the_signers_policy_decides_without_a_resource_policy(env, api):
    p, _, _ = env
    status, headers, body = send(*signed(ALICE, "POST", url(p, api), body="{}"))
    assert (status, body) == (403, denied(ALICE, api, "POST", "things"))
    assert headers["x-amzn-errortype"] == "AccessDeniedException"
    assert send(*signed(ALICE, "GET", url(p, api, "/secret")))[::2] == \
        (403, denied(ALICE, api, "GET", "secret", explicit=True))
    # Another account's user whose own policy allows: no resource policy allows it here.
    assert send(*signed(CAROL, "GET", url(p, api)))[::2] == (403, denied(CAROL, api, "GET", "things"))


def test_with_a_resource_policy_as_awss_table(env):
    p, apigw, _ = env
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ALICE[3]}, "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*/POST/things"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
         "Action": "execute-api:Invoke", "Resource": "execute-api:/*/GET/things"},
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*/GET/secret"}]})
    api = make_api(apigw, "iam-policy-api", policy)
    # Same account: the resource policy allows what alice's own policy does not.
    assert send(*signed(ALICE, "POST", url(p, api), body="{}"))[0] == 200
    # Same account: her own policy allows what the resource policy says nothing about.
    assert send(*signed(ALICE, "GET", url(p, api)))[0] == 200
    # An explicit deny in the resource policy wins over her own allow.
    assert send(*signed(BOB, "GET", url(p, api, "/secret")))[::2] == \
        (403, denied(BOB, api, "GET", "secret", explicit=True))
    # Another account: both must allow.
    assert send(*signed(CAROL, "GET", url(p, api)))[0] == 200
    assert send(*signed(CAROL, "POST", url(p, api), body="{}"))[::2] == \
        (403, denied(CAROL, api, "POST", "things"))


def test_an_aws_integration_can_sign_with_the_callers_own_keys(env):
    """`credentials: arn:aws:iam::*:user/*`: the service request is signed with the verified
    caller's key (and session token); a method without AWS_IAM has no caller to sign as (500)."""
    p, apigw, backend = env
    api = apigw.create_rest_api(name="iam-caller-credentials")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    for part, auth in (("send", "AWS_IAM"), ("open", "NONE")):
        res = apigw.create_resource(restApiId=api, parentId=root, pathPart=part)["id"]
        apigw.put_method(restApiId=api, resourceId=res, httpMethod="GET", authorizationType=auth)
        apigw.put_integration(restApiId=api, resourceId=res, httpMethod="GET", type="AWS",
                              integrationHttpMethod="POST",
                              uri="arn:aws:apigateway:us-east-1:sqs:path/000000000000/" + part,
                              credentials="arn:aws:iam::*:user/*")
        apigw.put_method_response(restApiId=api, resourceId=res, httpMethod="GET", statusCode="200")
        apigw.put_integration_response(restApiId=api, resourceId=res, httpMethod="GET", statusCode="200")
    apigw.create_deployment(restApiId=api, stageName="dev")
    for who in (ALICE, BOB):
        status, _, body = send(*signed(who, "GET", url(p, api, "/send")))
        assert status == 200, body
        sent = body["headers"]
        assert f"Credential={who[0]}/" in sent["authorization"]
        assert "/us-east-1/sqs/aws4_request" in sent["authorization"]
        assert sent.get("x-amz-security-token") == who[2]
    assert backend.count("/000000000000/open") == 0
    assert send("GET", url(p, api, "/open"))[::2] == (500, {"message": "Internal server error"})
    assert backend.count("/000000000000/open") == 0


IDENTITY_ECHO = r'''
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event["requestContext"]["identity"])}
'''


def test_the_lambda_proxy_event_names_the_signer(env):
    import io
    import zipfile

    import boto3
    from botocore.config import Config
    p, apigw, _ = env
    lam = boto3.client("lambda", endpoint_url=f"http://{p.admin}", region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test",
                       config=Config(retries={"max_attempts": 1}))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", IDENTITY_ECHO)
    lam.create_function(FunctionName="identity-echo", Runtime="python3.12", Handler="index.handler",
                        Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": buf.getvalue()})
    api = apigw.create_rest_api(name="iam-lambda")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    res = apigw.create_resource(restApiId=api, parentId=root, pathPart="who")["id"]
    apigw.put_method(restApiId=api, resourceId=res, httpMethod="GET", authorizationType="AWS_IAM")
    apigw.put_integration(
        restApiId=api, resourceId=res, httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST",
        uri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            "arn:aws:lambda:us-east-1:000000000000:function:identity-echo/invocations")
    apigw.create_deployment(restApiId=api, stageName="dev")
    status, _, identity = send(*signed(BOB, "GET", url(p, api, "/who")))
    assert status == 200, identity
    assert identity["userArn"] == BOB[3]
    assert identity["accessKey"] == BOB[0]
    assert identity["caller"] == identity["user"] == "AROAEXAMPLEROLEID:bob"
    assert identity["accountId"] == "000000000000"
    assert identity["sourceIp"] == "127.0.0.1"
