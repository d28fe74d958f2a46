"""Models, request validators and authorizers: stored, validated and returned as AWS does (their
data-plane behaviour arrives with the validation and authorizer work)."""
import json

import pytest
from botocore.exceptions import ClientError
from conftest import error_of


SCHEMA = json.dumps({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
                     "properties": {"name": {"type": "string"}}, "required": ["name"]})


def test_models(apigw):
    api_id = apigw.create_rest_api(name="objects-models")["id"]
    m = apigw.create_model(restApiId=api_id, name="Pet", contentType="application/json", schema=SCHEMA)
    assert m["ResponseMetadata"]["HTTPStatusCode"] == 201 and m["name"] == "Pet" and len(m["id"]) == 6
    assert apigw.get_model(restApiId=api_id, modelName="Pet")["schema"] == SCHEMA
    assert [x["name"] for x in apigw.get_models(restApiId=api_id)["items"]] == ["Pet"]
    with pytest.raises(ClientError) as e:
        apigw.create_model(restApiId=api_id, name="Pet", contentType="application/json", schema=SCHEMA)
    assert error_of(e) == (409, "ConflictException", "Model name already exists for this REST API")
    with pytest.raises(ClientError) as e:
        apigw.create_model(restApiId=api_id, name="bad-name", contentType="application/json")
    assert error_of(e) == (400, "BadRequestException", "Invalid model name specified: bad-name")
    with pytest.raises(ClientError) as e:
        apigw.create_model(restApiId=api_id, name="Empty", contentType="application/json", schema="{}")
    assert error_of(e) == (400, "BadRequestException", "Model schema must have at least 1 property or array items defined")
    with pytest.raises(ClientError) as e:
        apigw.get_model(restApiId=api_id, modelName="Nope")
    assert error_of(e) == (404, "NotFoundException", "Invalid model name specified: Nope")
    upd = apigw.update_model(restApiId=api_id, modelName="Pet", patchOperations=[
        {"op": "replace", "path": "/description", "value": "a pet"}])
    assert upd["description"] == "a pet"
    assert apigw.delete_model(restApiId=api_id, modelName="Pet")["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert apigw.get_models(restApiId=api_id)["items"] == []
    apigw.delete_rest_api(restApiId=api_id)


def test_request_validators_and_authorizers(apigw):
    api_id = apigw.create_rest_api(name="objects-validators")["id"]
    v = apigw.create_request_validator(restApiId=api_id, name="body-only", validateRequestBody=True)
    assert v["validateRequestBody"] is True and v["validateRequestParameters"] is False
    assert apigw.get_request_validators(restApiId=api_id)["items"][0]["id"] == v["id"]
    v2 = apigw.update_request_validator(restApiId=api_id, requestValidatorId=v["id"], patchOperations=[
        {"op": "replace", "path": "/validateRequestParameters", "value": "true"}])
    assert v2["validateRequestParameters"] is True
    with pytest.raises(ClientError) as e:
        apigw.get_request_validator(restApiId=api_id, requestValidatorId="zzzzzz")
    assert error_of(e) == (404, "NotFoundException", "Invalid Request Validator identifier specified")

    uri = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:auth/invocations"
    a = apigw.create_authorizer(restApiId=api_id, name="tok", type="TOKEN", authorizerUri=uri)
    assert a["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert a["identitySource"] == "method.request.header.Authorization"
    assert a["authorizerResultTtlInSeconds"] == 300
    with pytest.raises(ClientError) as e:
        apigw.create_authorizer(restApiId=api_id, name="bad", type="TOKEN")
    assert error_of(e)[:2] == (400, "BadRequestException")
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    with pytest.raises(ClientError) as e:
        apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="CUSTOM", authorizerId="nope00")
    assert error_of(e)[2].startswith("Invalid authorizer ID specified.")
    m = apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="CUSTOM",
                         authorizerId=a["id"], requestValidatorId=v["id"])
    assert m["authorizerId"] == a["id"]
    with pytest.raises(ClientError) as e:
        apigw.delete_authorizer(restApiId=api_id, authorizerId=a["id"])
    assert error_of(e)[:2] == (409, "ConflictException")
    apigw.delete_method(restApiId=api_id, resourceId=root, httpMethod="GET")
    assert apigw.delete_authorizer(restApiId=api_id, authorizerId=a["id"])["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert apigw.delete_request_validator(restApiId=api_id, requestValidatorId=v["id"])["ResponseMetadata"]["HTTPStatusCode"] == 202
    apigw.delete_rest_api(restApiId=api_id)
