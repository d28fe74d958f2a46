"""SigV4 on the management API: with credentials configured, boto3 signed with the right key is
accepted; a wrong secret, an unknown key, an unsigned call, an altered request or an expired date
are refused with AWS's 403 shapes."""
import datetime
import json
import os
import urllib.error
import urllib.request
from unittest import mock

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import Portico
from conftest import error_of

KEY_ID, SECRET = "AKIDPORTICOTEST", "s3cr3t/Portico+Key"


@pytest.fixture(scope="module")
def signed_portico():
    os.environ["PORTICO_ADMIN_ACCESS_KEY_ID"] = KEY_ID
    os.environ["PORTICO_ADMIN_SECRET_ACCESS_KEY"] = SECRET
    try:
        p = Portico()
    finally:
        del os.environ["PORTICO_ADMIN_ACCESS_KEY_ID"]
        del os.environ["PORTICO_ADMIN_SECRET_ACCESS_KEY"]
    yield p
    p.stop()


def client(p, key_id=KEY_ID, secret=SECRET):
    return boto3.client(
        "apigateway", endpoint_url=f"http://{p.admin}", region_name="us-east-1",
        aws_access_key_id=key_id, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def send(req):
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("x-amzn-ErrorType"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("x-amzn-ErrorType"), e.read().decode()


def signed_request(p, method, path, body=b"", when=None):
    req = AWSRequest(method=method, url=f"http://{p.admin}{path}", data=body,
                     headers={"Content-Type": "application/json"})
    signer = botocore.auth.SigV4Auth(Credentials(KEY_ID, SECRET), "apigateway", "us-east-1")
    if when is None:
        signer.add_auth(req)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            signer.add_auth(req)
    return req


def test_right_signature_is_accepted(signed_portico):
    c = client(signed_portico)
    api = c.create_rest_api(name="signed")
    assert c.get_rest_api(restApiId=api["id"])["name"] == "signed"
    c.delete_rest_api(restApiId=api["id"])


def test_wrong_secret_and_unknown_key_are_refused(signed_portico):
    with pytest.raises(ClientError) as e:
        client(signed_portico, secret="wrong").get_rest_apis()
    status, code, message = error_of(e)
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("The request signature we calculated does not match the signature you provided.")
    with pytest.raises(ClientError) as e:
        client(signed_portico, key_id="AKIDUNKNOWN").get_rest_apis()
    assert error_of(e) == (403, "UnrecognizedClientException", "The security token included in the request is invalid.")


def test_unsigned_altered_and_expired_requests_are_refused(signed_portico):
    p = signed_portico
    status, code, body = send(urllib.request.Request(f"http://{p.admin}/restapis"))
    assert (status, code) == (403, "MissingAuthenticationTokenException")
    assert json.loads(body) == {"message": "Missing Authentication Token"}

    good = signed_request(p, "POST", "/restapis", b'{"name": "a"}')
    # Replaying the signature with another body, or with an altered header, fails.
    for mutate in ("body", "header"):
        data = b'{"name": "b"}' if mutate == "body" else good.body
        headers = dict(good.headers)
        if mutate == "header":
            headers["Content-Type"] = "text/plain"
        status, code, _ = send(urllib.request.Request(good.url, data=data, headers=headers, method="POST"))
        assert (status, code) == (403, "InvalidSignatureException"), mutate

    old = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=20)
    stale = signed_request(p, "GET", "/restapis", when=old)
    status, code, body = send(urllib.request.Request(stale.url, headers=dict(stale.headers)))
    assert (status, code) == (403, "InvalidSignatureException")
    assert "Signature expired" in json.loads(body)["message"]

    ok = signed_request(p, "GET", "/restapis")
    status, code, _ = send(urllib.request.Request(ok.url, headers=dict(ok.headers)))
    assert status == 200


def test_health_and_metrics_stay_open(signed_portico):
    status, _, body = send(urllib.request.Request(f"http://{signed_portico.admin}/health"))
    assert status == 200 and json.loads(body)["status"] == "ok"
