"""Request validation through the data plane: validators and models built with boto3, then real
requests — missing parameters, bodies against JSON Schema draft 4 models (with a `$ref` to another
model), `$context.error.validationErrorString` in a BAD_REQUEST_BODY gateway response, and a
ReDoS-shaped schema pattern that must not stall the gateway."""
import json
import time
import urllib.error
import urllib.request

PET = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Pet",
    "type": "object",
    "required": ["name", "price"],
    "properties": {
        "name": {"type": "string", "minLength": 2},
        "price": {"type": "number", "minimum": 1},
        "tag": {"$ref": "https://apigateway.amazonaws.com/restapis/API/models/Tag"},
        "code": {"type": "string", "pattern": "^(a+)+$"},
    },
}
TAG = {"type": "string", "enum": ["cat", "dog"]}


def call(url, method="GET", body=None, headers=None):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), {k.lower(): v for k, v in e.headers.items()}


def deployed(apigw, api_id, probe):
    """Deploys `dev` and waits until `probe()` sees the new deployment."""
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    deadline = time.time() + 5
    while not probe():
        assert time.time() < deadline, "deployment never served"
        time.sleep(0.05)


def build(apigw, validate_body=True, validate_params=True):
    api_id = apigw.create_rest_api(name="validation")["id"]
    pet = dict(PET)
    pet["properties"] = dict(PET["properties"])
    pet["properties"]["tag"] = {"$ref": f"https://apigateway.amazonaws.com/restapis/{api_id}/models/Tag"}
    apigw.create_model(restApiId=api_id, name="Tag", contentType="application/json", schema=json.dumps(TAG))
    apigw.create_model(restApiId=api_id, name="Pet", contentType="application/json", schema=json.dumps(pet))
    validator = apigw.create_request_validator(
        restApiId=api_id, name="v", validateRequestBody=validate_body,
        validateRequestParameters=validate_params)["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    pets = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="pets")["id"]
    apigw.put_method(
        restApiId=api_id, resourceId=pets, httpMethod="POST", authorizationType="NONE",
        requestValidatorId=validator,
        requestParameters={"method.request.header.x-owner": True, "method.request.querystring.store": True,
                           "method.request.querystring.optional": False},
        requestModels={"application/json": "Pet"},
    )
    apigw.put_integration(restApiId=api_id, resourceId=pets, httpMethod="POST", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=pets, httpMethod="POST", statusCode="200",
                                   responseTemplates={"application/json": '{"ok": true}'})
    apigw.put_method_response(restApiId=api_id, resourceId=pets, httpMethod="POST", statusCode="200")
    return api_id, pets, validator


def test_parameters_and_body_are_validated(apigw, portico):
    api_id, pets, validator = build(apigw)
    url = portico.invoke_url(api_id, "dev", "/pets")
    good = json.dumps({"name": "Rex", "price": 10, "tag": "dog"})
    hdrs = {"x-owner": "me", "Content-Type": "application/json"}
    deployed(apigw, api_id, lambda: call(url, "POST", good)[0] == 400)

    # Missing parameters: all of them, in AWS's order (by full name: header before querystring).
    status, body, headers = call(url, "POST", good, {"Content-Type": "application/json"})
    assert status == 400
    assert json.loads(body) == {"message": "Missing required request parameters: [x-owner, store]"}
    assert headers["x-amzn-errortype"] == "BadRequestException"
    assert call(url + "?optional=1", "POST", good, hdrs)[1] == \
        '{"message":"Missing required request parameters: [store]"}'
    # Header names match case-insensitively.
    assert call(url + "?store=1", "POST", good, {"X-OWNER": "me"})[0] == 200

    # Bodies.
    assert call(url + "?store=1", "POST", good, hdrs)[:2] == (200, '{"ok": true}')
    for bad in ['{"name": "Rex"}', '{"name": "R", "price": 3}', '{"name": "Rex", "price": 0}',
                '{"name": "Rex", "price": "3"}', '{"name": "Rex", "price": 3, "tag": "cow"}',
                '[1, 2]', '{"name": ', '']:
        status, body, headers = call(url + "?store=1", "POST", bad, hdrs)
        assert (status, json.loads(body)) == (400, {"message": "Invalid request body"}), bad
    # A content type the method has no model for (and no $default) is not validated.
    assert call(url + "?store=1", "POST", "anything", {"x-owner": "me", "Content-Type": "text/plain"})[0] == 200

    # A catastrophic-backtracking pattern answers at once (linear-time regex engine).
    started = time.time()
    evil = json.dumps({"name": "Rex", "price": 3, "code": "a" * 50000 + "!"})
    assert call(url + "?store=1", "POST", evil, hdrs)[0] == 400
    assert time.time() - started < 5


def test_validation_error_string_and_request_variables_in_gateway_response(apigw, portico):
    api_id, pets, _ = build(apigw)
    apigw.put_gateway_response(
        restApiId=api_id, responseType="BAD_REQUEST_BODY", statusCode="422",
        responseParameters={"gatewayresponse.header.x-owner-was": "method.request.header.x-owner",
                            "gatewayresponse.header.x-stage": "context.stage"},
        responseTemplates={"application/json":
                           '{"error": "$context.error.validationErrorString", "type": "$context.error.responseType", '
                           '"store": "$method.request.querystring.store", "env": "$stageVariables.env"}'},
    )
    url = portico.invoke_url(api_id, "dev", "/pets") + "?store=north"
    hdrs = {"x-owner": "me", "Content-Type": "application/json"}
    apigw.create_deployment(restApiId=api_id, stageName="dev", variables={"env": "test"})
    deadline = time.time() + 5
    while call(url, "POST", "{}", hdrs)[0] != 422:
        assert time.time() < deadline
        time.sleep(0.05)
    status, body, headers = call(url, "POST", '{"name": "R", "price": 2}', hdrs)
    assert status == 422
    assert headers["x-owner-was"] == "me" and headers["x-stage"] == "dev"
    # Simple substitution, as API Gateway does: the quotes inside the string are not escaped.
    assert body == ('{"error": "[string "R" is too short (length: 1, required minimum: 2)]", '
                    '"type": "BAD_REQUEST_BODY", "store": "north", "env": "test"}')
    status, body, _ = call(url, "POST", "{}", hdrs)
    assert body.startswith('{"error": "[object has missing required properties (["name","price"])]"')


def test_validator_scope_and_removal(apigw, portico):
    # Parameters only: bodies pass unvalidated.
    api_id, pets, validator = build(apigw, validate_body=False)
    url = portico.invoke_url(api_id, "dev", "/pets")
    deployed(apigw, api_id, lambda: call(url, "POST", "{}")[0] == 400)
    assert call(url + "?store=1", "POST", "{}", {"x-owner": "a", "Content-Type": "application/json"})[0] == 200

    # Body only: parameters are not required.
    apigw.update_request_validator(restApiId=api_id, requestValidatorId=validator, patchOperations=[
        {"op": "replace", "path": "/validateRequestBody", "value": "true"},
        {"op": "replace", "path": "/validateRequestParameters", "value": "false"}])
    json_ct = {"Content-Type": "application/json"}
    deployed(apigw, api_id, lambda: call(url, "POST", '{"name":"ab","price":1}', json_ct)[0] == 200)
    assert call(url, "POST", "{}", json_ct)[0] == 400

    # Validator removed from the method: nothing is checked.
    apigw.update_method(restApiId=api_id, resourceId=pets, httpMethod="POST", patchOperations=[
        {"op": "replace", "path": "/requestValidatorId", "value": ""}])
    deployed(apigw, api_id, lambda: call(url, "POST", "{}", json_ct)[0] == 200)
