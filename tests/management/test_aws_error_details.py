"""Details of the management API that real API Gateway shows a boto3 user: which exception a bad
input gets (`ValidationException` for values outside botocore's enums, `BadRequestException` for
the service's own rules), the exact message, and the fields of a few answers."""
import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError
from conftest import error_of

OP_ENUM = "failed to satisfy constraint: Member must satisfy enum value set: [add, remove, move, test, replace, copy]"


def bad_op(input_name, position, op="wrong"):
    return f"Value '{op}' at '{input_name}.patchOperations.{position}.member.op' {OP_ENUM}"


@pytest.fixture
def api(apigw):
    api = apigw.create_rest_api(name="details")
    yield api
    apigw.delete_rest_api(restApiId=api["id"])


def mock_get(apigw, api_id, resource_id):
    apigw.put_method(restApiId=api_id, resourceId=resource_id, httpMethod="GET", authorizationType="NONE")
    apigw.put_method_response(restApiId=api_id, resourceId=resource_id, httpMethod="GET", statusCode="200")
    apigw.put_integration(restApiId=api_id, resourceId=resource_id, httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=resource_id, httpMethod="GET", statusCode="200",
                                   responseTemplates={"application/json": '{"ok": true}'})


def test_create_rest_api_with_an_empty_description_is_refused(apigw):
    with pytest.raises(ClientError) as e:
        apigw.create_rest_api(name="empty-desc", description="")
    assert error_of(e) == (400, "BadRequestException", "Description cannot be an empty string")
    # The description is checked before the compression size.
    with pytest.raises(ClientError) as e:
        apigw.create_rest_api(name="empty-desc", description="", minimumCompressionSize=-1)
    assert error_of(e) == (400, "BadRequestException", "Description cannot be an empty string")
    assert not [a for a in apigw.get_rest_apis(limit=500)["items"] if a["name"] == "empty-desc"]


def test_create_rest_api_endpoint_configuration_errors(apigw):
    cases = [
        ({"types": ["wrong"], "ipAddressType": "wrong"},
         (400, "ValidationException",
          "2 validation errors detected: Value '[wrong]' at 'createRestApiInput.endpointConfiguration.types' failed "
          "to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
          "[PRIVATE, EDGE, REGIONAL]]; Value 'wrong' at 'createRestApiInput.endpointConfiguration.ipAddressType' "
          "failed to satisfy constraint: Member must satisfy enum value set: [ipv4, dualstack]")),
        ({"types": []},
         (400, "BadRequestException", "REGIONAL Configuration and EDGE Configuration cannot be both DISABLED.")),
        ({"types": ["EDGE", "REGIONAL"]},
         (400, "BadRequestException", "Cannot create an api with multiple Endpoint Types.")),
        ({"types": ["PRIVATE"], "ipAddressType": "ipv4"},
         (400, "BadRequestException", "Only dualstack ipAddressType is supported for Private APIs.")),
    ]
    for config, expected in cases:
        with pytest.raises(ClientError) as e:
            apigw.create_rest_api(name="endpoint-config", endpointConfiguration=config)
        assert error_of(e) == expected, config
    private = apigw.create_rest_api(name="endpoint-config", endpointConfiguration={"types": ["PRIVATE"]})
    assert private["endpointConfiguration"] == {"types": ["PRIVATE"], "ipAddressType": "dualstack"}
    apigw.delete_rest_api(restApiId=private["id"])


def test_minimum_compression_size_patch_that_is_not_a_number(apigw, api):
    message = "Invalid minimum compression size, must be between 0 and 10485760"
    for value in ["test", "-1", "10485761", "1.5"]:
        with pytest.raises(ClientError) as e:
            apigw.update_rest_api(restApiId=api["id"], patchOperations=[
                {"op": "replace", "path": "/minimumCompressionSize", "value": value}])
        assert error_of(e) == (400, "BadRequestException", message), value
    with pytest.raises(ClientError) as e:
        apigw.update_rest_api(restApiId=api["id"], patchOperations=[
            {"op": "add", "path": "/minimumCompressionSize", "value": "10"}])
    assert error_of(e) == (400, "BadRequestException", "Invalid patch operation specified. Must be one of: [replace]")
    out = apigw.update_rest_api(restApiId=api["id"], patchOperations=[
        {"op": "replace", "path": "/minimumCompressionSize", "value": "0"}])
    assert out["minimumCompressionSize"] == 0
    out = apigw.update_rest_api(restApiId=api["id"], patchOperations=[
        {"op": "replace", "path": "/minimumCompressionSize", "value": ""}])
    assert "minimumCompressionSize" not in out
    with pytest.raises(ClientError) as e:
        apigw.update_rest_api(restApiId=api["id"], patchOperations=[
            {"op": "add", "path": "/binaryMediaTypes", "value": "image/gif"}])
    assert error_of(e) == (400, "BadRequestException", "Invalid patch path /binaryMediaTypes")


def test_patch_op_outside_the_enum_is_a_validation_exception(apigw, api, portico):
    api_id, root = api["id"], api["rootResourceId"]
    mock_get(apigw, api_id, root)
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    key = apigw.create_api_key(name="details-key")
    plan = apigw.create_usage_plan(name="details-plan")
    wrong = [{"op": "wrong", "path": "/description", "value": "x"}]
    calls = [
        ("updateRestApiInput", lambda ops: apigw.update_rest_api(restApiId=api_id, patchOperations=ops)),
        ("updateResourceInput",
         lambda ops: apigw.update_resource(restApiId=api_id, resourceId=root, patchOperations=ops)),
        ("updateMethodInput",
         lambda ops: apigw.update_method(restApiId=api_id, resourceId=root, httpMethod="GET", patchOperations=ops)),
        ("updateIntegrationInput",
         lambda ops: apigw.update_integration(restApiId=api_id, resourceId=root, httpMethod="GET",
                                              patchOperations=ops)),
        ("updateStageInput", lambda ops: apigw.update_stage(restApiId=api_id, stageName="dev", patchOperations=ops)),
        ("updateApiKeyInput", lambda ops: apigw.update_api_key(apiKey=key["id"], patchOperations=ops)),
        ("updateUsagePlanInput", lambda ops: apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=ops)),
    ]
    for input_name, call in calls:
        with pytest.raises(ClientError) as e:
            call(wrong)
        assert error_of(e) == (400, "ValidationException",
                               f"1 validation error detected: {bad_op(input_name, 1)}"), input_name
        # How boto3 got the code: the x-amzn-ErrorType header and a {"message": ...} body.
        headers = e.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert headers["x-amzn-errortype"] == "ValidationException"
    # Input validation comes before the lookup: an unknown API still gets the ValidationException.
    with pytest.raises(ClientError) as e:
        apigw.update_rest_api(restApiId="nope000000", patchOperations=wrong)
    assert error_of(e)[1] == "ValidationException"
    # Several bad ops: all listed, 1-based, joined by "; ".
    with pytest.raises(ClientError) as e:
        apigw.update_rest_api(restApiId=api_id, patchOperations=[
            {"op": "wrong", "path": "/description", "value": "x"},
            {"op": "replace", "path": "/description", "value": "y"},
            {"op": "nope", "path": "/name", "value": "z"}])
    assert error_of(e) == (400, "ValidationException", "2 validation errors detected: "
                           f"{bad_op('updateRestApiInput', 1)}; {bad_op('updateRestApiInput', 3, 'nope')}")
    # A bad status code in the path is one more violation of the same error.
    with pytest.raises(ClientError) as e:
        apigw.update_method_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="wrong",
                                     patchOperations=[{"op": "wrong_op", "path": "/x"}])
    assert error_of(e) == (400, "ValidationException", "2 validation errors detected: "
                           f"{bad_op('updateMethodResponseInput', 1, 'wrong_op')}; Value 'wrong' at 'statusCode' "
                           "failed to satisfy constraint: Member must satisfy regular expression pattern: [1-5]\\d\\d")
    # A valid op that the path does not take keeps the BadRequestException.
    with pytest.raises(ClientError) as e:
        apigw.update_rest_api(restApiId=api_id, patchOperations=[{"op": "move", "path": "/name", "from": "/x"}])
    assert error_of(e) == (400, "BadRequestException",
                           "Invalid patch operation specified. Must be 'add'|'remove'|'replace'")
    # On the wire, as any client sees it.
    req = urllib.request.Request(f"http://{portico.admin}/restapis/{api_id}", method="PATCH",
                                 data=json.dumps({"patchOperations": wrong}).encode(),
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(req, timeout=5)
    assert raw.value.code == 400 and raw.value.headers["x-amzn-ErrorType"] == "ValidationException"
    assert json.loads(raw.value.read()) == {"message": f"1 validation error detected: {bad_op('updateRestApiInput', 1)}"}
    apigw.delete_api_key(apiKey=key["id"])
    apigw.delete_usage_plan(usagePlanId=plan["id"])


def test_http_integrations_have_connection_type_internet(apigw, api, portico):
    api_id, root = api["id"], api["rootResourceId"]
    mock_get(apigw, api_id, root)
    assert "connectionType" not in apigw.get_integration(restApiId=api_id, resourceId=root, httpMethod="GET")
    res = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="up")
    apigw.put_method(restApiId=api_id, resourceId=res["id"], httpMethod="GET", authorizationType="NONE")
    put = apigw.put_integration(restApiId=api_id, resourceId=res["id"], httpMethod="GET", type="HTTP_PROXY",
                                integrationHttpMethod="GET", uri="http://127.0.0.1:9/")
    assert put["connectionType"] == "INTERNET"
    got = apigw.get_integration(restApiId=api_id, resourceId=res["id"], httpMethod="GET")
    assert got["connectionType"] == "INTERNET"
    # Deploying and serving are unaffected; exports leave the default out, as AWS's do.
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    export = json.loads(apigw.get_export(restApiId=api_id, stageName="dev", exportType="oas30",
                                       parameters={"extensions": "apigateway"})["body"].read())
    integration = export["paths"]["/up"]["get"]["x-amazon-apigateway-integration"]
    assert integration["type"] == "http_proxy" and "connectionType" not in integration
    # Re-importing the export gives the same answer as PutIntegration.
    imported = apigw.import_rest_api(body=json.dumps(export).encode())
    try:
        up = next(r for r in apigw.get_resources(restApiId=imported["id"])["items"] if r["path"] == "/up")
        got = apigw.get_integration(restApiId=imported["id"], resourceId=up["id"], httpMethod="GET")
        assert got["connectionType"] == "INTERNET"
    finally:
        apigw.delete_rest_api(restApiId=imported["id"])
    with pytest.raises(ClientError) as e:
        apigw.put_integration(restApiId=api_id, resourceId=res["id"], httpMethod="GET", type="HTTPS_PROXY")
    assert error_of(e) == (400, "ValidationException",
                           "1 validation error detected: Value 'HTTPS_PROXY' at 'putIntegrationInput.type' failed to "
                           "satisfy constraint: Member must satisfy enum value set: [HTTP, MOCK, AWS_PROXY, HTTP_PROXY, AWS]")


def test_usage_plan_id_errors_and_keys_of_an_unknown_plan(apigw):
    key = apigw.create_api_key(name="plan-errors")
    unknown = "nope000"
    calls = [
        lambda: apigw.get_usage_plan(usagePlanId=unknown),
        lambda: apigw.update_usage_plan(usagePlanId=unknown, patchOperations=[
            {"op": "replace", "path": "/throttle/burstLimit", "value": "100"}]),
        lambda: apigw.delete_usage_plan(usagePlanId=unknown),
        lambda: apigw.create_usage_plan_key(usagePlanId=unknown, keyId=key["id"], keyType="API_KEY"),
        lambda: apigw.get_usage_plan_key(usagePlanId=unknown, keyId=key["id"]),
        lambda: apigw.delete_usage_plan_key(usagePlanId=unknown, keyId=key["id"]),
    ]
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == (404, "NotFoundException", "Invalid Usage Plan ID specified")
    keys = apigw.get_usage_plan_keys(usagePlanId=unknown)
    assert keys["ResponseMetadata"]["HTTPStatusCode"] == 200 and keys["items"] == []
    apigw.delete_api_key(apiKey=key["id"])


def test_update_api_key_and_usage_plan_answers(apigw):
    key = apigw.create_api_key(name="update-answer")
    assert "value" in key and "tags" not in key
    out = apigw.update_api_key(apiKey=key["id"], patchOperations=[
        {"op": "replace", "path": "/name", "value": "renamed"}])
    assert out["name"] == "renamed" and "value" not in out and out["tags"] == {}
    assert apigw.get_api_key(apiKey=key["id"], includeValue=True)["value"] == key["value"]
    out = apigw.update_api_key(apiKey=key["id"], patchOperations=[
        {"op": "replace", "path": "/enabled", "value": "not-a-boolean"}])
    assert out["enabled"] is False
    with pytest.raises(ClientError) as e:
        apigw.update_api_key(apiKey=key["id"], patchOperations=[{"op": "replace", "path": "/id", "value": "x"}])
    assert error_of(e) == (400, "BadRequestException", "Invalid patch path  '/id' specified for op 'replace'. "
                           "Must be one of: [/description, /enabled, /name, /customerId]")
    plan = apigw.create_usage_plan(name="update-answer")
    assert "tags" not in plan
    out = apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=[
        {"op": "replace", "path": "/quota/limit", "value": "5000"},
        {"op": "replace", "path": "/quota/period", "value": "MONTH"}])
    assert out["tags"] == {} and out["quota"] == {"limit": 5000, "offset": 0, "period": "MONTH"}
    for value in [None, "fakevalue"]:
        op = {"op": "remove", "path": "/apiStages", **({"value": value} if value else {})}
        with pytest.raises(ClientError) as e:
            apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=[op])
        assert error_of(e) == (400, "BadRequestException", "Invalid API Stage specified")
    with pytest.raises(ClientError) as e:
        apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=[
            {"op": "remove", "path": "/apiStages", "value": "abc:dev"}])
    assert error_of(e) == (404, "NotFoundException",
                           f"Invalid API Stage {{api: abc, stage: dev}} specified for usageplan {plan['id']}")
    apigw.delete_usage_plan(usagePlanId=plan["id"])
    apigw.delete_api_key(apiKey=key["id"])


def test_replace_only_objects_name_the_unsupported_op(apigw, api):
    api_id, root = api["id"], api["rootResourceId"]
    res = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="a")
    with pytest.raises(ClientError) as e:
        apigw.update_resource(restApiId=api_id, resourceId=res["id"], patchOperations=[
            {"op": "remove", "path": "/pathPart"}])
    assert error_of(e) == (400, "BadRequestException",
                           "Invalid patch path  '/pathPart' specified for op 'remove'. Please choose supported operations")
    with pytest.raises(ClientError) as e:
        apigw.update_resource(restApiId=api_id, resourceId=res["id"], patchOperations=[
            {"op": "replace", "path": "/invalid", "value": "x"}])
    assert error_of(e) == (400, "BadRequestException", "Invalid patch path  '/invalid' specified for op 'replace'. "
                           "Must be one of: [/parentId, /pathPart]")
    validator = apigw.create_request_validator(restApiId=api_id, name="v", validateRequestBody=True)
    with pytest.raises(ClientError) as e:
        apigw.update_request_validator(restApiId=api_id, requestValidatorId=validator["id"], patchOperations=[
            {"op": "add", "path": "/validateRequestBody", "value": "true"}])
    assert error_of(e) == (400, "BadRequestException", "Invalid patch path  '/validateRequestBody' specified for "
                           "op 'add'. Please choose supported operations")
    with pytest.raises(ClientError) as e:
        apigw.update_request_validator(restApiId=api_id, requestValidatorId=validator["id"], patchOperations=[
            {"op": "replace", "path": "/name", "value": ""}])
    assert error_of(e) == (400, "BadRequestException", "Request Validator name cannot be blank")


def raw_patch(portico, url_path, ops):
    """PATCH with a body botocore would refuse to build (an operation without a path)."""
    req = urllib.request.Request(f"http://{portico.admin}{url_path}", method="PATCH",
                                 data=json.dumps({"patchOperations": ops}).encode(),
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(req, timeout=5)
    return raw.value.code, raw.value.headers["x-amzn-ErrorType"], json.loads(raw.value.read())["message"]


def test_update_method_paths_ops_and_references(apigw, api):
    api_id, root = api["id"], api["rootResourceId"]
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="ANY", authorizationType="NONE",
                     apiKeyRequired=True)

    def update(*ops):
        return apigw.update_method(restApiId=api_id, resourceId=root, httpMethod="ANY", patchOperations=list(ops))

    cases = [
        ({"op": "add", "path": "/operationName", "value": "x"},
         "Invalid patch operation specified. Must be one of: [replace]"),
        ({"op": "add", "path": "/requestValidatorId", "value": "wrong-id"},
         "Invalid patch operation specified. Must be one of: [replace]"),
        ({"op": "add", "path": "/httpMethod", "value": "PUT"}, "Invalid patch path /httpMethod"),
        ({"op": "replace", "path": "/requestParameters", "value": "method.request.querystring.optional=false"},
         "Invalid patch path /requestParameters"),
        ({"op": "add", "path": "/requestModels/application/json", "value": "Empty"},
         "Invalid patch path /requestModels/application/json"),
        ({"op": "replace", "path": "/requestValidatorId", "value": "fake-id"},
         "Invalid Request Validator identifier specified"),
    ]
    for op, message in cases:
        with pytest.raises(ClientError) as e:
            update(op)
        assert error_of(e) == (400, "BadRequestException", message), op
    # A value that is not a boolean reads as false, as Java's Boolean.parseBoolean does.
    assert update({"op": "replace", "path": "/apiKeyRequired", "value": "whatever"})["apiKeyRequired"] is False
    # An authorizer id on a method without CUSTOM/COGNITO authorization is ignored.
    out = update({"op": "replace", "path": "/authorizerId", "value": "abc123"})
    assert "authorizerId" not in out and out["authorizationType"] == "NONE"
    # CUSTOM needs an authorizer that exists.
    with pytest.raises(ClientError) as e:
        update({"op": "replace", "path": "/authorizationType", "value": "CUSTOM"},
               {"op": "replace", "path": "/authorizerId", "value": "abc123"})
    assert error_of(e) == (400, "BadRequestException", "Invalid authorizer ID specified. Setting the authorization "
                           "type to CUSTOM or COGNITO_USER_POOLS requires a valid authorizer.")
    validator = apigw.create_request_validator(restApiId=api_id, name="v", validateRequestBody=True)
    out = update({"op": "replace", "path": "/requestValidatorId", "value": validator["id"]})
    assert out["requestValidatorId"] == validator["id"]
    with pytest.raises(ClientError) as e:
        apigw.update_method(restApiId="nope000000", resourceId=root, httpMethod="ANY", patchOperations=[])
    assert error_of(e) == (404, "NotFoundException", "Invalid Resource identifier specified")
    # The method is unchanged by the refused calls.
    got = apigw.get_method(restApiId=api_id, resourceId=root, httpMethod="ANY")
    assert "operationName" not in got and got["authorizationType"] == "NONE"


def test_update_method_response_keys_it_lacks(apigw, api):
    api_id, root = api["id"], api["rootResourceId"]
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_method_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200",
                              responseParameters={"method.response.header.my-header": False},
                              responseModels={"application/json": "Empty"})
    cases = [
        ({"op": "replace", "path": "/responseParameters/wrong", "value": "true"},
         (404, "NotFoundException", "Invalid parameter name specified")),
        ({"op": "remove", "path": "/responseParameters/wrong"},
         (404, "NotFoundException", "Invalid parameter name specified")),
        ({"op": "replace", "path": "/responseModels/wrong", "value": "Empty"},
         (404, "NotFoundException", "Content-Type specified was not found")),
        ({"op": "remove", "path": "/responseModels/wrong"},
         (404, "NotFoundException", "Content-Type specified was not found")),
        ({"op": "remove", "path": "/wrong/method.response.header.my-header", "value": "true"},
         (400, "BadRequestException", "Invalid patch path /wrong/method.response.header.my-header")),
    ]
    for op, expected in cases:
        with pytest.raises(ClientError) as e:
            apigw.update_method_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200",
                                         patchOperations=[op])
        assert error_of(e) == expected, op
    # Keys the response has are replaced and removed; add creates one.
    out = apigw.update_method_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200",
                                       patchOperations=[
                                           {"op": "replace", "path": "/responseParameters/method.response.header.my-header",
                                            "value": "true"},
                                           {"op": "remove", "path": "/responseModels/application~1json"},
                                           {"op": "add", "path": "/responseModels/text~1plain", "value": "Empty"}])
    assert out["responseParameters"] == {"method.response.header.my-header": True}
    assert out["responseModels"] == {"text/plain": "Empty"}


def test_update_gateway_response_paths_and_values(apigw, api, portico):
    api_id = api["id"]
    apigw.put_gateway_response(restApiId=api_id, responseType="DEFAULT_4XX", statusCode="444",
                               responseParameters={"gatewayresponse.header.x-a": "'a'"},
                               responseTemplates={"application/json": "{}"})

    def update(response_type, *ops):
        return apigw.update_gateway_response(restApiId=api_id, responseType=response_type, patchOperations=list(ops))

    cases = [
        ("DEFAULT_4XX", {"op": "add", "path": "/statusCode", "value": "444"},
         (400, "BadRequestException", "Invalid patch path /statusCode")),
        ("DEFAULT_4XX", {"op": "remove", "path": "/statusCode"},
         (400, "BadRequestException", "Invalid patch path /statusCode")),
        ("DEFAULT_4XX", {"op": "add", "path": "/wrongPath", "value": "'x'"},
         (400, "BadRequestException", "Invalid patch path /wrongPath")),
        ("DEFAULT_5XX", {"op": "replace", "path": "/responseParameters/gatewayresponse.header.x-a", "value": "'b'"},
         (404, "NotFoundException", "Invalid parameter name specified")),
        ("DEFAULT_4XX", {"op": "replace", "path": "/responseTemplates/application~1json"},
         (400, "BadRequestException", "Invalid null or empty value in responseTemplates")),
        ("DEFAULT_4XX", {"op": "replace", "path": "/responseParameters/gatewayresponse.header.x-a"},
         (400, "BadRequestException", "Invalid null or empty value in responseParameters")),
    ]
    for response_type, op, expected in cases:
        with pytest.raises(ClientError) as e:
            update(response_type, op)
        assert error_of(e) == expected, op
    assert raw_patch(portico, f"/restapis/{api_id}/gatewayresponses/DEFAULT_4XX", [{"op": "add", "value": "'x'"}]) \
        == (400, "BadRequestException", "Invalid patch path null")
    out = update("DEFAULT_4XX", {"op": "replace", "path": "/statusCode", "value": "445"},
                 {"op": "replace", "path": "/responseParameters/gatewayresponse.header.x-a", "value": "'b'"})
    assert out["statusCode"] == "445" and out["responseParameters"] == {"gatewayresponse.header.x-a": "'b'"}


def test_update_stage_path_errors(apigw, api):
    api_id, root = api["id"], api["rootResourceId"]
    mock_get(apigw, api_id, root)
    apigw.create_deployment(restApiId=api_id, stageName="dev")

    def update(*ops):
        return apigw.update_stage(restApiId=api_id, stageName="dev", patchOperations=list(ops))

    access_log_path = ("Invalid accessLogSettings path. Must be one of : "
                       "[/accessLogSettings/destinationArn, /accessLogSettings/format]")

    def no_setting(name):
        return f"Cannot remove method setting {name} because there is no method setting for this method "

    cases = [
        ({"op": "add", "path": "/accessLogSettings/randomValue", "value": "x"}, access_log_path),
        ({"op": "replace", "path": "/accessLogSettings/*", "value": "x"}, access_log_path),
        ({"op": "add", "path": "/accessLogSettings", "value": "x"}, access_log_path),
        ({"op": "remove", "path": "/accessLogSettings/randomValue"}, no_setting("accessLogSettings/randomValue")),
        ({"op": "remove", "path": "/*/*"}, no_setting("*/*")),
        ({"op": "replace", "path": "/accessLogSettings/format", "value": ""}, "Access Log value must not be empty"),
        ({"op": "replace", "path": "/accessLogSettings/destinationArn", "value": ""},
         "Access Log value must not be empty"),
    ]
    for op, message in cases:
        with pytest.raises(ClientError) as e:
            update(op)
        assert error_of(e) == (400, "BadRequestException", message), op
    for path in ["/documentation_version", "/tags/tag1", "/canarySettings"]:
        with pytest.raises(ClientError) as e:
            update({"op": "replace", "path": path, "value": "1"})
        status, code, message = error_of(e)
        assert (status, code) == (400, "BadRequestException")
        assert message.startswith(f"Invalid method setting path: {path}. Must be one of: [/deploymentId, "
                                  "/description, /cacheClusterEnabled, "), message
        assert message.endswith(", /variables/{variable_name}, /tracingEnabled]"), message
    # The destination cannot be removed on its own; the whole settings can.
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:g"
    out = update({"op": "add", "path": "/accessLogSettings/destinationArn", "value": arn})
    assert out["accessLogSettings"] == {"destinationArn": arn}
    with pytest.raises(ClientError) as e:
        update({"op": "remove", "path": "/accessLogSettings/destinationArn"})
    assert error_of(e) == (400, "BadRequestException", no_setting("accessLogSettings/destinationArn"))
    assert "accessLogSettings" not in update({"op": "remove", "path": "/accessLogSettings"})
    # A method setting that exists is removed.
    update({"op": "replace", "path": "/*/*/metrics/enabled", "value": "true"})
    assert update({"op": "remove", "path": "/*/*"})["methodSettings"] == {}


def test_update_rest_api_ip_address_type(apigw, api):
    api_id = api["id"]

    def update(*ops):
        return apigw.update_rest_api(restApiId=api_id, patchOperations=list(ops))

    out = update({"op": "replace", "path": "/endpointConfiguration/types/0", "value": "REGIONAL"},
                 {"op": "replace", "path": "/endpointConfiguration/ipAddressType", "value": "dualstack"})
    assert out["endpointConfiguration"] == {"types": ["REGIONAL"], "ipAddressType": "dualstack"}
    out = update({"op": "replace", "path": "/endpointConfiguration/ipAddressType", "value": "ipv4"})
    assert out["endpointConfiguration"] == {"types": ["REGIONAL"], "ipAddressType": "ipv4"}
    # A private API is dualstack only.
    out = update({"op": "replace", "path": "/endpointConfiguration/types/0", "value": "PRIVATE"})
    assert out["endpointConfiguration"] == {"types": ["PRIVATE"], "ipAddressType": "dualstack"}
    cases = [
        ({"op": "replace", "path": "/endpointConfiguration/ipAddressType", "value": "ipv4"},
         "Only dualstack ipAddressType is supported for Private APIs."),
        ({"op": "replace", "path": "/endpointConfiguration/ipAddressType", "value": "wrong"},
         "ipAddressType must be either ipv4 or dualstack."),
        ({"op": "remove", "path": "/endpointConfiguration/ipAddressType", "value": "dualstack"},
         "Invalid patch operation specified. Must be one of: [replace]"),
        ({"op": "add", "path": "/endpointConfiguration/ipAddressType", "value": "dualstack"},
         "Invalid patch operation specified. Must be one of: [replace]"),
    ]
    for op, message in cases:
        with pytest.raises(ClientError) as e:
            update(op)
        assert error_of(e) == (400, "BadRequestException", message), op
    assert apigw.get_rest_api(restApiId=api_id)["endpointConfiguration"]["ipAddressType"] == "dualstack"


def test_api_key_limits(apigw):
    with pytest.raises(ClientError) as e:
        apigw.create_api_key(name="a" * 1025)
    assert error_of(e) == (400, "BadRequestException", "Invalid API Key name, can be at most 1024 characters.")
    with pytest.raises(ClientError) as e:
        apigw.create_api_key(value="a" * 129)
    assert error_of(e) == (400, "BadRequestException", "API Key value exceeds maximum size of 128 characters")
    with pytest.raises(ClientError) as e:
        apigw.create_api_key(value="short")
    assert error_of(e) == (400, "BadRequestException", "API Key value should be at least 20 characters")
    with pytest.raises(ClientError) as e:
        apigw.create_api_key(name="long-desc", description="a" * 125001)
    assert error_of(e) == (400, "BadRequestException", "Invalid API Key description specified.")
    # The limits themselves are accepted; an empty value gets a generated one, an empty name none.
    key = apigw.create_api_key(name="a" * 1024, value="v" * 128, description="d" * 125000)
    assert len(key["name"]) == 1024 and key["value"] == "v" * 128
    empty = apigw.create_api_key(name="", value="")
    assert "name" not in empty and len(empty["value"]) >= 20
    with pytest.raises(ClientError) as e:
        apigw.update_api_key(apiKey=key["id"], patchOperations=[
            {"op": "replace", "path": "/description", "value": "a" * 125001}])
    assert error_of(e) == (400, "BadRequestException", "Invalid API Key description specified.")
    assert len(apigw.get_api_key(apiKey=key["id"])["description"]) == 125000
    # GetApiKeys with a limit below 1 answers as without one.
    listed = apigw.get_api_keys(limit=-1)
    assert listed["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert {key["id"], empty["id"]} <= {k["id"] for k in listed["items"]}
    apigw.delete_api_key(apiKey=key["id"])
    apigw.delete_api_key(apiKey=empty["id"])


def test_create_validator_and_authorizer_on_an_unknown_api(apigw):
    with pytest.raises(ClientError) as e:
        apigw.create_request_validator(restApiId="nope000000", name="v", validateRequestBody=True)
    assert error_of(e) == (400, "BadRequestException", "Invalid REST API identifier specified")
    with pytest.raises(ClientError) as e:
        apigw.create_authorizer(restApiId="nope000000", name="a", type="TOKEN",
                                authorizerUri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                                              "arn:aws:lambda:us-east-1:000000000000:function:f/invocations",
                                identitySource="method.request.header.Authorization")
    assert error_of(e) == (409, "ConflictException",
                           "Unable to complete operation due to concurrent modification. Please try again later.")
    # Listing still names the unknown API.
    with pytest.raises(ClientError) as e:
        apigw.get_authorizers(restApiId="nope000000")
    assert error_of(e)[:2] == (404, "NotFoundException")


def test_model_errors(apigw, api):
    api_id = api["id"]
    schema = json.dumps({"title": "MySchema", "type": "object"})
    with pytest.raises(ClientError) as e:
        apigw.create_model(restApiId="nope000000", name="MySchema", contentType="application/json", schema=schema)
    assert error_of(e) == (404, "NotFoundException", "Invalid API identifier specified 000000000000:nope000000")
    # On an unknown API, the model is what is not found.
    for call in [lambda: apigw.get_model(restApiId="nope000000", modelName="MySchema"),
                 lambda: apigw.delete_model(restApiId="nope000000", modelName="MySchema"),
                 lambda: apigw.update_model(restApiId="nope000000", modelName="MySchema", patchOperations=[
                     {"op": "replace", "path": "/description", "value": ""}])]:
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == (404, "NotFoundException", "Invalid model name specified: MySchema")
    for call in [lambda: apigw.get_model(restApiId=api_id, modelName="Nope"),
                 lambda: apigw.delete_model(restApiId=api_id, modelName="Nope")]:
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == (404, "NotFoundException", "Invalid model name specified: Nope")
    apigw.create_model(restApiId=api_id, name="MySchema", contentType="application/json", schema=schema)
    no_property = "Model schema must have at least 1 property or array items defined"
    cases = [
        (dict(name="MySchema", contentType="application/json", schema=schema),
         (409, "ConflictException", "Model name already exists for this REST API")),
        (dict(name="", contentType="application/json", schema=schema),
         (400, "BadRequestException", "Model name must be non-empty")),
        (dict(name="Empty1", contentType="application/json", schema=""), (400, "BadRequestException", no_property)),
        (dict(name="Empty2", contentType="application/json"), (400, "BadRequestException", no_property)),
        (dict(name="Empty3", contentType="application/xml"), (400, "BadRequestException", no_property)),
    ]
    for kwargs, expected in cases:
        with pytest.raises(ClientError) as e:
            apigw.create_model(restApiId=api_id, **kwargs)
        assert error_of(e) == expected, kwargs
    update_cases = [
        ({"op": "add", "path": "/wrong-path", "value": "x"},
         "Invalid patch path  '/wrong-path' specified for op 'add'. Please choose supported operations"),
        ({"op": "replace", "path": "/name", "value": "invalid"},
         "Invalid patch path  '/name' specified for op 'replace'. Must be one of: [/description, /schema]"),
        ({"op": "replace", "path": "/schema", "value": ""}, no_property),
    ]
    for op, message in update_cases:
        with pytest.raises(ClientError) as e:
            apigw.update_model(restApiId=api_id, modelName="MySchema", patchOperations=[op])
        assert error_of(e) == (400, "BadRequestException", message), op
    out = apigw.update_model(restApiId=api_id, modelName="MySchema", patchOperations=[
        {"op": "replace", "path": "/schema", "value": json.dumps({"title": "Updated", "type": "object"})},
        {"op": "replace", "path": "/description", "value": ""}])
    assert json.loads(out["schema"])["title"] == "Updated" and "description" not in out


def test_root_resource_and_create_resource_errors(apigw, api):
    api_id, root = api["id"], api["rootResourceId"]
    for op, message in [({"op": "replace", "path": "/pathPart", "value": "dogs"},
                         "Root resource cannot update its pathPart."),
                        ({"op": "replace", "path": "/parentId", "value": root},
                         "Root resource cannot update its parentId.")]:
        with pytest.raises(ClientError) as e:
            apigw.update_resource(restApiId=api_id, resourceId=root, patchOperations=[op])
        assert error_of(e) == (400, "BadRequestException", message)
    with pytest.raises(ClientError) as e:
        apigw.create_resource(restApiId=api_id, parentId="nope0000", pathPart="a")
    assert error_of(e) == (404, "NotFoundException", "Invalid Resource identifier specified")
    proxy = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")
    cases = [
        (root, "{child}", "A sibling ({proxy+}) of this resource already has a variable path part -- only one is allowed"),
        (proxy["id"], "static", "Cannot create a child of a resource with a greedy path variable: {proxy+}"),
        (proxy["id"], "{child}", "Cannot create a child of a resource with a greedy path variable: {proxy+}"),
    ]
    for parent, part, message in cases:
        with pytest.raises(ClientError) as e:
            apigw.create_resource(restApiId=api_id, parentId=parent, pathPart=part)
        assert error_of(e) == (400, "BadRequestException", message), part
    parent = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="parent")
    child = apigw.create_resource(restApiId=api_id, parentId=parent["id"], pathPart="child")
    assert apigw.delete_resource(restApiId=api_id, resourceId=parent["id"])["ResponseMetadata"]["HTTPStatusCode"] == 202
    with pytest.raises(ClientError) as e:
        apigw.delete_resource(restApiId=api_id, resourceId=child["id"])
    assert error_of(e) == (404, "NotFoundException", "Invalid Resource identifier specified")


def test_documentation_part_creation_errors(apigw, api):
    with pytest.raises(ClientError) as e:
        apigw.create_documentation_part(restApiId="nope000000", location={"type": "API"},
                                        properties='{"description": "d"}')
    assert error_of(e) == (404, "NotFoundException", "Invalid API identifier specified 000000000000:nope000000")
    with pytest.raises(ClientError) as e:
        apigw.create_documentation_part(restApiId=api["id"], location={"type": "INVALID"},
                                        properties='{"description": "d"}')
    assert error_of(e) == (400, "ValidationException",
                           "1 validation error detected: Value 'INVALID' at 'createDocumentationPartInput.location.type' "
                           "failed to satisfy constraint: Member must satisfy enum value set: [RESPONSE_BODY, RESPONSE, "
                           "METHOD, MODEL, AUTHORIZER, RESPONSE_HEADER, RESOURCE, PATH_PARAMETER, REQUEST_BODY, "
                           "QUERY_PARAMETER, API, REQUEST_HEADER]")
    part = apigw.create_documentation_part(restApiId=api["id"], location={"type": "API"},
                                           properties='{"description": "d"}')
    assert part["location"] == {"type": "API"}
