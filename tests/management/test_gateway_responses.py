"""Gateway responses: the 21 defaults, put/update/delete through boto3, and the override reaching
traffic after a deployment (status, headers, body template)."""
import json
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError
from conftest import error_of


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode(), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), {k.lower(): v for k, v in e.headers.items()}


def test_gateway_responses_defaults_overrides_and_traffic(apigw, portico):
    api_id = apigw.create_rest_api(name="gw-responses")["id"]
    items = apigw.get_gateway_responses(restApiId=api_id, limit=500)["items"]
    assert len(items) == 21
    by_type = {i["responseType"]: i for i in items}
    assert by_type["MISSING_AUTHENTICATION_TOKEN"] == {
        "responseType": "MISSING_AUTHENTICATION_TOKEN", "statusCode": "403", "responseParameters": {},
        "responseTemplates": {"application/json": '{"message":$context.error.messageString}'},
        "defaultResponse": True,
    }
    assert "statusCode" not in by_type["DEFAULT_4XX"]

    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    apigw.put_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200")

    put = apigw.put_gateway_response(
        restApiId=api_id, responseType="MISSING_AUTHENTICATION_TOKEN", statusCode="404",
        responseParameters={"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"},
        responseTemplates={"application/json": '{"error": $context.error.messageString, "kind": "$context.error.responseType"}'},
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 201 and put["defaultResponse"] is False
    upd = apigw.update_gateway_response(restApiId=api_id, responseType="DEFAULT_4XX", patchOperations=[
        {"op": "add", "path": "/responseParameters/gatewayresponse.header.X-Four", "value": "'4'"}])
    assert upd["responseParameters"] == {"gatewayresponse.header.X-Four": "'4'"}

    apigw.create_deployment(restApiId=api_id, stageName="dev")
    url = portico.invoke_url(api_id, "dev", "/missing")
    deadline = time.time() + 5
    while http_get(url)[0] != 404:
        assert time.time() < deadline, "override never served"
        time.sleep(0.05)
    status, body, headers = http_get(url)
    assert json.loads(body) == {"error": "Missing Authentication Token", "kind": "MISSING_AUTHENTICATION_TOKEN"}
    assert headers["access-control-allow-origin"] == "*"
    # DEFAULT_4XX reaches 4xx types without their own override (415 here).
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK", passthroughBehavior="NEVER",
                          requestTemplates={"application/json": "{}"})
    apigw.put_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200")
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    req = urllib.request.Request(portico.invoke_url(api_id, "dev", "/"), headers={"Content-Type": "text/plain"})
    deadline = time.time() + 5
    while True:
        try:
            urllib.request.urlopen(req, timeout=5)
            got = 200
        except urllib.error.HTTPError as e:
            got, hdrs = e.code, {k.lower(): v for k, v in e.headers.items()}
        if got == 415 or time.time() > deadline:
            break
        time.sleep(0.05)
    assert got == 415 and hdrs.get("x-four") == "4"

    with pytest.raises(ClientError) as e:
        apigw.delete_gateway_response(restApiId=api_id, responseType="THROTTLED")
    assert error_of(e) == (404, "NotFoundException", "Gateway response type not defined on api")
    with pytest.raises(ClientError) as e:
        apigw.put_gateway_response(restApiId=api_id, responseType="NOT_A_TYPE")
    assert error_of(e)[:2] == (400, "ValidationException")
    assert apigw.delete_gateway_response(restApiId=api_id, responseType="MISSING_AUTHENTICATION_TOKEN")["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert apigw.get_gateway_response(restApiId=api_id, responseType="MISSING_AUTHENTICATION_TOKEN")["defaultResponse"] is True
    apigw.delete_rest_api(restApiId=api_id)
