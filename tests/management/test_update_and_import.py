"""PATCH (Update*) operations and OpenAPI import/put through boto3."""
import json
import os
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError
from conftest import error_of

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples", "petstore.yaml")


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode(), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), {k.lower(): v for k, v in e.headers.items()}


def test_update_rest_api_resource_method_integration(apigw):
    api = apigw.create_rest_api(name="patch-me")
    api_id = api["id"]
    out = apigw.update_rest_api(restApiId=api_id, patchOperations=[
        {"op": "replace", "path": "/name", "value": "patched"},
        {"op": "replace", "path": "/description", "value": "now described"},
        {"op": "add", "path": "/binaryMediaTypes/image~1png"},
        {"op": "replace", "path": "/minimumCompressionSize", "value": "1024"},
    ])
    assert out["name"] == "patched" and out["description"] == "now described"
    assert out["binaryMediaTypes"] == ["image/png"] and out["minimumCompressionSize"] == 1024
    with pytest.raises(ClientError) as e:
        apigw.update_rest_api(restApiId=api_id, patchOperations=[{"op": "replace", "path": "/nope", "value": "x"}])
    status, code, message = error_of(e)
    assert (status, code) == (400, "BadRequestException")
    assert message.startswith("Invalid patch path  '/nope' specified for op 'replace'. Must be one of: [")
    with pytest.raises(ClientError) as e:
        apigw.update_rest_api(restApiId=api_id, patchOperations=[{"op": "move", "path": "/name", "from": "/description"}])
    assert error_of(e) == (400, "BadRequestException", "Invalid patch operation specified. Must be 'add'|'remove'|'replace'")

    root = api["rootResourceId"]
    a = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="a")
    b = apigw.create_resource(restApiId=api_id, parentId=a["id"], pathPart="b")
    moved = apigw.update_resource(restApiId=api_id, resourceId=a["id"], patchOperations=[
        {"op": "replace", "path": "/pathPart", "value": "z"}])
    assert moved["path"] == "/z"
    assert apigw.get_resource(restApiId=api_id, resourceId=b["id"])["path"] == "/z/b"

    apigw.put_method(restApiId=api_id, resourceId=a["id"], httpMethod="GET", authorizationType="NONE")
    m = apigw.update_method(restApiId=api_id, resourceId=a["id"], httpMethod="GET", patchOperations=[
        {"op": "replace", "path": "/apiKeyRequired", "value": "true"},
        {"op": "add", "path": "/requestParameters/method.request.header.x-id", "value": "true"}])
    assert m["apiKeyRequired"] is True
    assert m["requestParameters"] == {"method.request.header.x-id": True}
    apigw.put_integration(restApiId=api_id, resourceId=a["id"], httpMethod="GET", type="MOCK")
    i = apigw.update_integration(restApiId=api_id, resourceId=a["id"], httpMethod="GET", patchOperations=[
        {"op": "replace", "path": "/timeoutInMillis", "value": "1000"},
        {"op": "add", "path": "/requestTemplates/application~1json", "value": '{"statusCode": 200}'}])
    assert i["timeoutInMillis"] == 1000
    assert i["requestTemplates"] == {"application/json": '{"statusCode": 200}'}
    apigw.put_method_response(restApiId=api_id, resourceId=a["id"], httpMethod="GET", statusCode="200")
    mr = apigw.update_method_response(restApiId=api_id, resourceId=a["id"], httpMethod="GET", statusCode="200",
                                      patchOperations=[{"op": "add", "path": "/responseParameters/method.response.header.X-A", "value": "false"}])
    assert mr["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert mr["responseParameters"] == {"method.response.header.X-A": False}
    apigw.put_integration_response(restApiId=api_id, resourceId=a["id"], httpMethod="GET", statusCode="200")
    ir = apigw.update_integration_response(restApiId=api_id, resourceId=a["id"], httpMethod="GET", statusCode="200",
                                           patchOperations=[{"op": "replace", "path": "/selectionPattern", "value": "2\\d{2}"}])
    assert ir["selectionPattern"] == "2\\d{2}"
    apigw.delete_rest_api(restApiId=api_id)


def test_update_stage_variables_method_settings_and_deployment(apigw, portico):
    api_id = apigw.create_rest_api(name="stage-patch")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200",
                                   responseTemplates={"application/json": '"one"'})
    d1 = apigw.create_deployment(restApiId=api_id, stageName="test")
    apigw.put_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200",
                                   responseTemplates={"application/json": '"two"'})
    d2 = apigw.create_deployment(restApiId=api_id)
    url = portico.invoke_url(api_id, "test", "/")
    deadline = time.time() + 5
    while http_get(url)[1] != '"one"':
        assert time.time() < deadline
        time.sleep(0.05)

    stage = apigw.update_stage(restApiId=api_id, stageName="test", patchOperations=[
        {"op": "replace", "path": "/deploymentId", "value": d2["id"]},
        {"op": "replace", "path": "/variables/backend", "value": "127.0.0.1:9"},
        {"op": "replace", "path": "/test/GET/throttling/burstLimit", "value": "124"},
        {"op": "replace", "path": "/*/*/metrics/enabled", "value": "true"},
    ])
    assert stage["deploymentId"] == d2["id"]
    assert stage["variables"] == {"backend": "127.0.0.1:9"}
    assert stage["methodSettings"]["test/GET"]["throttlingBurstLimit"] == 124
    assert stage["methodSettings"]["test/GET"]["throttlingRateLimit"] == 10000.0
    assert stage["methodSettings"]["*/*"]["metricsEnabled"] is True
    deadline = time.time() + 5
    while http_get(url)[1] != '"two"':
        assert time.time() < deadline, "stage re-pointing never became visible"
        time.sleep(0.05)
    # Rollback is a stage update too.
    apigw.update_stage(restApiId=api_id, stageName="test", patchOperations=[
        {"op": "replace", "path": "/deploymentId", "value": d1["id"]}])
    deadline = time.time() + 5
    while http_get(url)[1] != '"one"':
        assert time.time() < deadline, "rollback never became visible"
        time.sleep(0.05)
    with pytest.raises(ClientError) as e:
        apigw.update_stage(restApiId=api_id, stageName="test", patchOperations=[
            {"op": "replace", "path": "/deploymentId", "value": "nope00"}])
    assert error_of(e) == (404, "NotFoundException", "Invalid Deployment identifier specified")
    removed = apigw.update_stage(restApiId=api_id, stageName="test", patchOperations=[{"op": "remove", "path": "/*/*"}])
    assert "*/*" not in removed.get("methodSettings", {})
    dep = apigw.update_deployment(restApiId=api_id, deploymentId=d1["id"], patchOperations=[
        {"op": "replace", "path": "/description", "value": "the first"}])
    assert dep["description"] == "the first"
    apigw.delete_rest_api(restApiId=api_id)


def test_import_and_put_rest_api_with_openapi(apigw, portico):
    with open(EXAMPLE, "rb") as f:
        body = f.read()
    api = apigw.import_rest_api(body=body)
    assert api["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert api["name"] == "petstore" and api["version"] == "1.0"
    api_id = api["id"]
    paths = sorted(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"])
    assert paths == ["/", "/admin", "/clock", "/files", "/files/{proxy+}", "/hello", "/me", "/orders", "/pets",
                     "/pets/{petId}", "/ping"]
    ping = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/ping")
    integ = apigw.get_integration(restApiId=api_id, resourceId=ping["id"], httpMethod="GET")
    assert integ["type"] == "MOCK"

    apigw.create_deployment(restApiId=api_id, stageName="dev")
    url = portico.invoke_url(api_id, "dev", "/ping")
    deadline = time.time() + 5
    while http_get(url)[0] != 200:
        assert time.time() < deadline
        time.sleep(0.05)
    assert json.loads(http_get(url)[1]) == {"message": "pong"}

    # overwrite: the definition replaces the tree; surviving paths keep their ids.
    smaller = b"""
openapi: 3.0.1
info: {title: petstore-v2, version: "2.0"}
paths:
  /ping:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {application/json: '{"statusCode": 200}'}
        responses: {default: {statusCode: "200", responseTemplates: {application/json: '{"v": 2}'}}}
"""
    out = apigw.put_rest_api(restApiId=api_id, mode="overwrite", body=smaller)
    assert out["id"] == api_id and out["name"] == "petstore-v2"
    resources = apigw.get_resources(restApiId=api_id)["items"]
    assert sorted(r["path"] for r in resources) == ["/", "/ping"]
    assert next(r for r in resources if r["path"] == "/ping")["id"] == ping["id"]

    # merge: adds to the tree.
    extra = b"""
openapi: 3.0.1
info: {title: ignored-on-merge, version: "3"}
paths:
  /extra:
    post:
      x-amazon-apigateway-integration: {type: mock}
"""
    apigw.put_rest_api(restApiId=api_id, mode="merge", body=extra)
    assert sorted(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]) == ["/", "/extra", "/ping"]

    # Invalid definitions are refused whole.
    with pytest.raises(ClientError) as e:
        apigw.import_rest_api(body=b"openapi: 3.0.1\ninfo: {title: x}\npaths: {'/a{b}': {get: {}}}\n")
    status, code, message = error_of(e)
    assert (status, code) == (400, "BadRequestException")
    assert message.startswith("Errors found during import:") and "/a{b}" in message
    with pytest.raises(ClientError) as e:
        apigw.import_rest_api(body=extra.replace(b"type: mock", b"type: aws_proxy, uri: 'arn:aws:apigateway:us-east-1:lambda:path/x', httpMethod: POST"),
                              failOnWarnings=True)
    assert error_of(e)[:2] == (400, "BadRequestException")
    apigw.delete_rest_api(restApiId=api_id)


def test_large_definitions_import_and_oversized_bodies_are_refused(apigw, portico):
    import urllib.request
    padding = "#" + "x" * (3 * 1024 * 1024) + "\n"
    body = ("openapi: 3.0.1\ninfo: {title: big-import}\npaths:\n  /a:\n    get:\n"
            "      x-amazon-apigateway-integration: {type: mock}\n" + padding).encode()
    api = apigw.import_rest_api(body=body)
    assert api["name"] == "big-import"
    apigw.delete_rest_api(restApiId=api["id"])
    req = urllib.request.Request(f"http://{portico.admin}/restapis?mode=import", data=b"x" * (11 * 1024 * 1024), method="POST")
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("accepted an 11 MB body")
    except urllib.error.HTTPError as e:
        assert e.code == 413
        assert e.headers["x-amzn-ErrorType"] == "RequestTooLargeException"
