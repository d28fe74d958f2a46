"""Access logs of HTTP API stages, black-box: without `accessLogSettings` a stage writes the
console's default HTTP API line (`routeKey` where REST writes `resourcePath`), with a format its
`$context` variables (`routeKey`, `integrationErrorMessage`, `requestId` = `apigw-requestid`)."""
import http.client
import json
import os
import tempfile
import time

import boto3
import pytest
from botocore.config import Config

from conftest import Portico
from test_http_api_invoke import Backend, closed_port


@pytest.fixture(scope="module")
def env():
    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
    log.close()
    backend = Backend()
    p = Portico(extra=("--access-log", log.name))
    apigw2 = boto3.client("apigatewayv2", endpoint_url=f"http://{p.admin}", region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test",
                          config=Config(retries={"max_attempts": 1}))
    yield p, apigw2, backend, log.name
    p.stop()
    backend.server.shutdown()
    os.unlink(log.name)


def get(p, api, path):
    c = http.client.HTTPConnection(p.data_plane, timeout=10)
    c.request("GET", path, headers={"Host": f"{api}.execute-api.localhost"})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, r.getheader("apigw-requestid")


def lines_with(log, needle, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(log) as f:
            found = [line for line in f if needle in line]
        if found:
            return found
        time.sleep(0.05)
    return []


def test_default_line_names_the_route_key(env):
    p, apigw2, backend, log = env
    api = apigw2.create_api(Name="logged", ProtocolType="HTTP", Target=backend.url,
                            RouteKey="GET /pets/{id}")["ApiId"]
    status, rid = get(p, api, "/pets/7")
    assert status == 200
    line = json.loads(lines_with(log, rid)[0])
    assert line == {
        "requestId": rid, "ip": "127.0.0.1", "requestTime": line["requestTime"],
        "httpMethod": "GET", "routeKey": "GET /pets/{id}", "status": "200",
        "protocol": "HTTP/1.1", "responseLength": line["responseLength"],
    }
    status, rid = get(p, api, "/nothing")
    assert status == 404
    assert json.loads(lines_with(log, rid)[0])["routeKey"] == "-"
    apigw2.delete_api(ApiId=api)


def test_a_stage_format_reads_http_api_variables(env):
    p, apigw2, _, log = env
    api = apigw2.create_api(Name="formatted", ProtocolType="HTTP",
                            Target=f"http://127.0.0.1:{closed_port()}")["ApiId"]
    apigw2.update_stage(ApiId=api, StageName="$default", AccessLogSettings={
        "DestinationArn": "arn:aws:logs:us-east-1:000000000000:log-group:x",
        "Format": "$context.requestId $context.routeKey $context.status [$context.integrationErrorMessage] $context.stage",
    })
    status, rid = get(p, api, "/x")
    assert status == 500
    line = lines_with(log, rid)[0].strip()
    assert line == f"{rid} $default 500 [Internal Server Error] $default"
    apigw2.delete_api(ApiId=api)
