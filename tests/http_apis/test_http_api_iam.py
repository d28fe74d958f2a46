"""AWS_IAM on HTTP API routes, black-box: requests signed with botocore's SigV4 signers (service
`execute-api`), principals from `--aws-config`, the API made with boto3 `apigatewayv2`. A route
with `AWS_IAM` answers only a valid signature from a principal whose policy allows the route ARN
(`arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`), in the API's account;
everything else is 403 `{"message":"Forbidden"}` and never reaches the backend."""
import json
import os
import tempfile
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from conftest import Portico
from test_http_api_invoke import Backend

ALICE = ("AKIAALICE0000000001", "alice-secret", "arn:aws:iam::000000000000:user/alice")
CAROL = ("AKIACAROL0000000001", "carol-secret", "arn:aws:iam::111111111111:user/carol")


@pytest.fixture(scope="module")
def env():
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    config.write(
        "principals:\n"
        f"  {ALICE[0]}:\n    secretAccessKey: {ALICE[1]}\n    arn: {ALICE[2]}\n"
        "    invoke: ['arn:aws:execute-api:*:*:*/*/GET/*', 'arn:aws:execute-api:*:*:*/*/POST/things']\n"
        "    deny: ['arn:aws:execute-api:*:*:*/*/GET/secret']\n"
        f"  {CAROL[0]}:\n    secretAccessKey: {CAROL[1]}\n    arn: {CAROL[2]}\n    invoke: '*'\n")
    config.close()
    backend = Backend()
    p = Portico(extra=("--access-log", "off", "--aws-config", config.name))
    apigw2 = boto3.client("apigatewayv2", endpoint_url=f"http://{p.admin}", region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test",
                          config=Config(retries={"max_attempts": 1}))
    api = apigw2.create_api(Name="iam", ProtocolType="HTTP")["ApiId"]
    integration = apigw2.create_integration(
        ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
        IntegrationUri=f"{backend.url}/seen/{{proxy}}")["IntegrationId"]
    for key in ("GET /{proxy+}", "POST /{proxy+}"):
        apigw2.create_route(ApiId=api, RouteKey=key, AuthorizationType="AWS_IAM",
                            Target=f"integrations/{integration}")
    apigw2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    yield p, api, backend
    p.stop()
    backend.server.shutdown()
    os.unlink(config.name)


def send(env, method, path, who=None, body=b"", presign=False, tamper=None):
    p, api, _ = env
    url = f"http://{p.data_plane}/restapis/{api}/$default/_user_request_{path}"
    req = AWSRequest(method=method, url=url, data=body,
                     headers={"Content-Type": "application/json"} if body else {})
    if who:
        creds = Credentials(who[0], who[1])
        if presign:
            SigV4QueryAuth(creds, "execute-api", "us-east-1", expires=300).add_auth(req)
        else:
            SigV4Auth(creds, "execute-api", "us-east-1").add_auth(req)
    prepared = req.prepare()
    headers = dict(prepared.headers)
    data = body
    if tamper == "body":
        data = body + b"x"
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
    r = urllib.request.Request(prepared.url, data=data or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def hits(env):
    return len(env[2].hits)


def test_signed_requests_pass_and_name_the_signer(env):
    status, body = send(env, "GET", "/things/1", ALICE)
    assert status == 200, body
    assert json.loads(body)["path"] == "/seen/things/1"
    status, body = send(env, "POST", "/things", ALICE, body=b'{"a": 1}')
    assert status == 200, body
    assert json.loads(body)["body"] == '{"a": 1}'
    status, _ = send(env, "GET", "/things/2", ALICE, presign=True)
    assert status == 200


@pytest.mark.parametrize("case", ["unsigned", "wrong-secret", "tampered-body", "explicit-deny",
                                  "not-allowed", "other-account"])
def test_refusals_are_403_and_never_reach_the_backend(env, case):
    before = hits(env)
    if case == "unsigned":
        status, body = send(env, "GET", "/things/1")
    elif case == "wrong-secret":
        status, body = send(env, "GET", "/things/1", (ALICE[0], "nope"))
    elif case == "tampered-body":
        status, body = send(env, "POST", "/things", ALICE, body=b'{"a": 1}', tamper="body")
    elif case == "explicit-deny":
        status, body = send(env, "GET", "/secret", ALICE)
    elif case == "not-allowed":
        status, body = send(env, "POST", "/other", ALICE, body=b"{}")
    else:
        status, body = send(env, "GET", "/things/1", CAROL)
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    assert hits(env) == before, "a refused request reached the backend"
