"""TestInvokeMethod: runs the method as currently defined (no deployment) and reports status,
body, headers, latency and an execution log."""
import json

import pytest
from botocore.exceptions import ClientError


def test_test_invoke_mock_method_before_any_deployment(apigw):
    api_id = apigw.create_rest_api(name="test-invoke")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    pet = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{id}")
    apigw.put_method(restApiId=api_id, resourceId=pet["id"], httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=pet["id"], httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 201}'})
    apigw.put_method_response(restApiId=api_id, resourceId=pet["id"], httpMethod="GET", statusCode="201")
    apigw.put_integration_response(restApiId=api_id, resourceId=pet["id"], httpMethod="GET", statusCode="201",
                                   selectionPattern="2\\d\\d",
                                   responseParameters={"method.response.header.X-Test": "'yes'"},
                                   responseTemplates={"application/json": '{"ok": true}'})
    out = apigw.test_invoke_method(restApiId=api_id, resourceId=pet["id"], httpMethod="GET",
                                   pathWithQueryString="/7?x=1", headers={"Accept": "application/json"})
    assert out["status"] == 201
    assert json.loads(out["body"]) == {"ok": True}
    assert out["headers"]["x-test"] == "yes"
    assert out["multiValueHeaders"]["x-test"] == ["yes"]
    assert isinstance(out["latency"], int)
    assert "Method completed with status: 201" in out["log"]
    assert "HTTP Method: GET, Resource Path: /7" in out["log"]

    # No integration response for the status: AWS's configuration error, visible in the result.
    apigw.put_integration(restApiId=api_id, resourceId=pet["id"], httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 404}'})
    out = apigw.test_invoke_method(restApiId=api_id, resourceId=pet["id"], httpMethod="GET", pathWithQueryString="/7")
    assert out["status"] == 500
    assert json.loads(out["body"]) == {"message": "Internal server error"}

    with pytest.raises(ClientError) as e:
        apigw.test_invoke_method(restApiId=api_id, resourceId=pet["id"], httpMethod="POST")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    apigw.delete_rest_api(restApiId=api_id)
