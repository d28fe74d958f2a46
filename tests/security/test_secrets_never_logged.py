"""Threat T31: secrets never reach logs. A Portico with SigV4 credentials, debug logging and the
access log on stdout is driven with canary secrets — the management secret key (signing every
call, including failed ones), API key values, `Authorization` / `x-api-key` / cookie headers and a
secret stage variable used in a backend request header — and every log line is searched for them."""
import os
import tempfile
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Portico

SECRET_KEY = "CANARYsecretKEY0000000000000000000000000"
API_KEY_VALUE = "CANARYapikeyVALUE000000000000000001"
BEARER = "CANARYbearerTOKEN.eyJzdWIiOiJ4In0.sig"
COOKIE = "session=CANARYcookie42"
STAGE_SECRET = "CANARYstageVARIABLE"
CANARIES = [SECRET_KEY, API_KEY_VALUE, BEARER, "CANARYcookie42", STAGE_SECRET, "CANARYqueryTOKEN"]


def call(url, headers):
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_canary_secrets_never_appear_in_any_log():
    log = tempfile.NamedTemporaryFile(prefix="portico-canary-", suffix=".log", delete=False)
    p = Portico(extra=("--access-log", "stdout"),
                env={"PORTICO_LOG": "debug", "PORTICO_ADMIN_ACCESS_KEY_ID": "AKIDCANARY",
                     "PORTICO_ADMIN_SECRET_ACCESS_KEY": SECRET_KEY},
                stderr=log)
    try:
        client = boto3.client(
            "apigateway", endpoint_url=f"http://{p.admin}", region_name="us-east-1",
            aws_access_key_id="AKIDCANARY", aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"max_attempts": 1}))
        wrong = boto3.client(
            "apigateway", endpoint_url=f"http://{p.admin}", region_name="us-east-1",
            aws_access_key_id="AKIDCANARY", aws_secret_access_key=SECRET_KEY[:-4] + "XXXX",
            config=Config(retries={"max_attempts": 1}))
        with pytest.raises(ClientError):
            wrong.get_rest_apis()

        api_id = client.create_rest_api(name="canary")["id"]
        root = client.get_resources(restApiId=api_id)["items"][0]["id"]
        client.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
        client.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK",
                               requestTemplates={"application/json": '{"statusCode": 200}'})
        client.put_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200",
                                        responseTemplates={"application/json": '{"ok": true}'})
        # A proxy route whose backend is down, with a secret stage variable sent as a header:
        # the failure is logged, the secret must not be.
        proxy = client.create_resource(restApiId=api_id, parentId=root, pathPart="proxy")["id"]
        client.put_method(restApiId=api_id, resourceId=proxy, httpMethod="GET", authorizationType="NONE")
        client.put_integration(restApiId=api_id, resourceId=proxy, httpMethod="GET", type="HTTP",
                               integrationHttpMethod="GET", uri="http://127.0.0.1:9/",
                               requestParameters={"integration.request.header.x-secret": "stageVariables.token"})
        client.put_integration_response(restApiId=api_id, resourceId=proxy, httpMethod="GET", statusCode="200")
        client.create_deployment(restApiId=api_id, stageName="dev", variables={"token": STAGE_SECRET})
        key = client.create_api_key(name="canary", enabled=True, value=API_KEY_VALUE)
        assert key["value"] == API_KEY_VALUE
        client.get_api_key(apiKey=key["id"], includeValue=True)
        client.import_api_keys(body=f"name,key,enabled\ncsv,{API_KEY_VALUE}X,true\n".encode(), format="csv")

        headers = {"Authorization": f"Bearer {BEARER}", "x-api-key": API_KEY_VALUE, "Cookie": COOKIE}
        deadline = time.time() + 5
        while call(p.invoke_url(api_id, "dev", "/"), headers) != 200:
            assert time.time() < deadline
            time.sleep(0.05)
        for path in ["/", "/proxy", "/missing?token=CANARYqueryTOKEN"]:
            call(p.invoke_url(api_id, "dev", path), headers)
        time.sleep(0.3)
    finally:
        p.stop()
        log.close()
    with open(log.name, encoding="utf-8", errors="replace") as f:
        stderr = f.read()
    os.unlink(log.name)
    stdout = "".join(p.stdout)
    assert stderr.strip(), "debug logging produced nothing: the check would be vacuous"
    assert stdout.count('"requestId"') >= 4 and '"resourcePath":"/proxy"' in stdout, stdout
    # (The query string is not part of $context.path, so a token in it stays out of the access log.)
    for canary in CANARIES:
        assert canary not in stderr, f"{canary} found in the process log"
        assert canary not in stdout, f"{canary} found in the access log / stdout"
