"""The apigateway (v1) management API driven by boto3, as a user would: build a REST API step by
step, deploy it, call it through the data plane, tear it down; plus the error cases with AWS's
exact status, code and message."""
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


def wait_for(url, status, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        got = http_get(url)
        if got[0] == status or time.time() > deadline:
            return got
        time.sleep(0.05)


def test_build_deploy_invoke_and_delete(apigw, portico):
    api = apigw.create_rest_api(name="mgmt-pets", description="built with boto3")
    assert api["ResponseMetadata"]["HTTPStatusCode"] == 201
    api_id = api["id"]
    assert len(api_id) == 10 and api_id.isalnum() and api_id.lower() == api_id
    assert api["apiKeySource"] == "HEADER"
    assert api["endpointConfiguration"]["types"] == ["EDGE"]
    assert isinstance(api["createdDate"].timestamp(), float)

    resources = apigw.get_resources(restApiId=api_id)["items"]
    assert [r["path"] for r in resources] == ["/"]
    root_id = api["rootResourceId"]
    assert resources[0]["id"] == root_id

    pets = apigw.create_resource(restApiId=api_id, parentId=root_id, pathPart="pets")
    assert pets["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert pets["path"] == "/pets" and pets["parentId"] == root_id
    pet = apigw.create_resource(restApiId=api_id, parentId=pets["id"], pathPart="{petId}")
    assert pet["path"] == "/pets/{petId}"

    m = apigw.put_method(restApiId=api_id, resourceId=pets["id"], httpMethod="GET", authorizationType="NONE")
    assert m["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert m["httpMethod"] == "GET" and m["apiKeyRequired"] is False
    apigw.put_method_response(
        restApiId=api_id, resourceId=pets["id"], httpMethod="GET", statusCode="200",
        responseParameters={"method.response.header.X-Kind": False},
    )
    i = apigw.put_integration(
        restApiId=api_id, resourceId=pets["id"], httpMethod="GET", type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    assert i["type"] == "MOCK" and i["timeoutInMillis"] == 29000
    assert i["cacheNamespace"] == pets["id"] and i["cacheKeyParameters"] == []
    assert i["passthroughBehavior"] == "WHEN_NO_MATCH"
    ir = apigw.put_integration_response(
        restApiId=api_id, resourceId=pets["id"], httpMethod="GET", statusCode="200",
        selectionPattern="", responseParameters={"method.response.header.X-Kind": "'mock'"},
        responseTemplates={"application/json": '{"pets": []}'},
    )
    assert ir["statusCode"] == "200"

    got = apigw.get_method(restApiId=api_id, resourceId=pets["id"], httpMethod="GET")
    assert got["methodIntegration"]["integrationResponses"]["200"]["responseTemplates"] == {"application/json": '{"pets": []}'}
    assert got["methodResponses"]["200"]["responseParameters"] == {"method.response.header.X-Kind": False}
    embedded = apigw.get_resources(restApiId=api_id, embed=["methods"])["items"]
    by_path = {r["path"]: r for r in embedded}
    assert by_path["/pets"]["resourceMethods"]["GET"]["methodIntegration"]["type"] == "MOCK"
    plain = {r["path"]: r for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert plain["/pets"]["resourceMethods"] == {"GET": {}}

    # Nothing is served before a deployment.
    url = portico.invoke_url(api_id, "test", "/pets")
    assert http_get(url)[0] == 403

    dep = apigw.create_deployment(restApiId=api_id, stageName="test", description="first")
    assert dep["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert "apiSummary" not in dep
    summary = apigw.get_deployment(restApiId=api_id, deploymentId=dep["id"], embed=["apisummary"])["apiSummary"]
    assert summary["/pets"]["GET"] == {"authorizationType": "NONE", "apiKeyRequired": False}
    assert "apiSummary" not in apigw.get_deployment(restApiId=api_id, deploymentId=dep["id"])
    stage = apigw.get_stage(restApiId=api_id, stageName="test")
    assert stage["deploymentId"] == dep["id"]
    assert stage["methodSettings"] == {} and stage["cacheClusterStatus"] == "NOT_AVAILABLE"
    assert stage["tracingEnabled"] is False and stage["cacheClusterEnabled"] is False

    status, body, headers = wait_for(url, 200)
    assert status == 200, body
    assert json.loads(body) == {"pets": []}
    assert headers.get("x-kind") == "mock"

    # Changes are invisible until the next deployment.
    apigw.put_integration_response(
        restApiId=api_id, resourceId=pets["id"], httpMethod="GET", statusCode="200",
        responseTemplates={"application/json": '{"pets": ["rex"]}'},
    )
    time.sleep(0.2)
    assert json.loads(http_get(url)[1]) == {"pets": []}
    dep2 = apigw.create_deployment(restApiId=api_id, stageName="test")
    deadline = time.time() + 5
    while json.loads(http_get(url)[1]) != {"pets": ["rex"]}:
        assert time.time() < deadline, "redeploy never became visible"
        time.sleep(0.05)

    # A second stage on the first deployment serves the old body.
    s2 = apigw.create_stage(restApiId=api_id, stageName="old", deploymentId=dep["id"], variables={"v": "1"})
    assert s2["ResponseMetadata"]["HTTPStatusCode"] == 201 and s2["variables"] == {"v": "1"}
    assert json.loads(wait_for(portico.invoke_url(api_id, "old", "/pets"), 200)[1]) == {"pets": []}
    stages = {s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]}
    assert stages == {"test", "old"}
    deployments = apigw.get_deployments(restApiId=api_id)["items"]
    assert [d["id"] for d in deployments] == [dep2["id"], dep["id"]]

    # Deleting a deployment a stage uses is refused; after deleting the stage it works.
    with pytest.raises(ClientError) as e:
        apigw.delete_deployment(restApiId=api_id, deploymentId=dep["id"])
    assert error_of(e) == (400, "BadRequestException", "Active stages pointing to this deployment must be moved or deleted")
    assert apigw.delete_stage(restApiId=api_id, stageName="old")["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert wait_for(portico.invoke_url(api_id, "old", "/pets"), 403)[0] == 403
    apigw.delete_deployment(restApiId=api_id, deploymentId=dep["id"])

    # Tear down: methods, resources, the API; the data plane stops serving it.
    assert apigw.delete_integration(restApiId=api_id, resourceId=pets["id"], httpMethod="GET")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert apigw.delete_method(restApiId=api_id, resourceId=pets["id"], httpMethod="GET")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert apigw.delete_resource(restApiId=api_id, resourceId=pets["id"])["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert [r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]] == ["/"]
    assert apigw.delete_rest_api(restApiId=api_id)["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert wait_for(url, 403)[0] == 403
    with pytest.raises(ClientError) as e:
        apigw.get_rest_api(restApiId=api_id)
    assert error_of(e) == (404, "NotFoundException", f"Invalid API identifier specified 000000000000:{api_id}")


def test_error_cases_have_aws_status_code_and_message(apigw):
    api_id = apigw.create_rest_api(name="mgmt-errors")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    apigw.create_resource(restApiId=api_id, parentId=root, pathPart="pets")
    files = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="files")
    greedy = apigw.create_resource(restApiId=api_id, parentId=files["id"], pathPart="{proxy+}")

    cases = [
        (lambda: apigw.get_rest_api(restApiId="nope123456"),
         (404, "NotFoundException", "Invalid API identifier specified 000000000000:nope123456")),
        (lambda: apigw.get_resource(restApiId=api_id, resourceId="zzzzzz"),
         (404, "NotFoundException", "Invalid Resource identifier specified")),
        (lambda: apigw.create_resource(restApiId=api_id, parentId=root, pathPart="pets"),
         (409, "ConflictException", "Another resource with the same parent already has this name: pets")),
        (lambda: apigw.create_resource(restApiId=api_id, parentId=greedy["id"], pathPart="x"),
         (400, "BadRequestException", "Cannot create a child of a resource with a greedy path variable: {proxy+}")),
        (lambda: apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="FETCH", authorizationType="NONE"),
         (400, "BadRequestException", "Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY")),
        (lambda: apigw.get_method(restApiId=api_id, resourceId=root, httpMethod="GET"),
         (404, "NotFoundException", "Invalid Method identifier specified")),
        (lambda: apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="CUSTOM"),
         (400, "BadRequestException", "Invalid authorizer ID specified. Setting the authorization type to CUSTOM or COGNITO_USER_POOLS requires a valid authorizer.")),
        (lambda: apigw.create_deployment(restApiId=api_id, stageName="dev"),
         (400, "BadRequestException", "The REST API doesn't contain any methods")),
        (lambda: apigw.get_stage(restApiId=api_id, stageName="nope"),
         (404, "NotFoundException", "Invalid stage identifier specified")),
        (lambda: apigw.create_rest_api(name="x", minimumCompressionSize=10485761),
         (400, "BadRequestException", "Invalid minimum compression size, must be between 0 and 10485760")),
    ]
    for call, expected in cases:
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == expected

    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    with pytest.raises(ClientError) as e:
        apigw.create_deployment(restApiId=api_id, stageName="dev")
    assert error_of(e) == (400, "BadRequestException", "No integration defined for method")
    with pytest.raises(ClientError) as e:
        apigw.get_integration(restApiId=api_id, resourceId=root, httpMethod="GET")
    assert error_of(e) == (404, "NotFoundException", "Invalid Integration identifier specified")
    with pytest.raises(ClientError) as e:
        apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="HTTP_PROXY",
                              integrationHttpMethod="GET", uri="not-a-url")
    assert error_of(e) == (400, "BadRequestException", "Invalid HTTP endpoint specified for URI")
    with pytest.raises(ClientError) as e:
        apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK", timeoutInMillis=10)
    assert error_of(e) == (400, "BadRequestException", "Timeout should be between 50 ms and 29000 ms")
    with pytest.raises(ClientError) as e:
        apigw.put_method_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="999")
    assert error_of(e) == (400, "ValidationException", "1 validation error detected: Value '999' at 'statusCode' "
                           "failed to satisfy constraint: Member must satisfy regular expression pattern: [1-5]\\d\\d")
    # A refused command changes nothing.
    paths = sorted(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"])
    assert paths == ["/", "/files", "/files/{proxy+}", "/pets"]
    apigw.delete_rest_api(restApiId=api_id)


def test_list_rest_apis_pages_with_position_and_limit(apigw):
    ids = {apigw.create_rest_api(name=f"page-{n}")["id"] for n in range(5)}
    seen, position = [], None
    while True:
        kwargs = {"limit": 2}
        if position:
            kwargs["position"] = position
        page = apigw.get_rest_apis(**kwargs)
        assert len(page["items"]) <= 2
        seen += [a["id"] for a in page["items"]]
        position = page.get("position")
        if not position:
            break
    assert ids <= set(seen)
    assert len(seen) == len(set(seen))
    paginated = [a["id"] for p in apigw.get_paginator("get_rest_apis").paginate(PaginationConfig={"PageSize": 3}) for a in p["items"]]
    assert paginated == seen
    for i in ids:
        apigw.delete_rest_api(restApiId=i)


def test_concurrent_resource_creation_keeps_a_consistent_tree(apigw):
    from concurrent.futures import ThreadPoolExecutor
    api_id = apigw.create_rest_api(name="mgmt-concurrent")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]

    def create(n):
        try:
            return apigw.create_resource(restApiId=api_id, parentId=root, pathPart=f"r{n % 20}")["path"]
        except ClientError as e:
            return error_of_code(e)

    def error_of_code(e):
        return e.response["Error"]["Code"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(create, range(60)))
    created = [r for r in results if r.startswith("/")]
    conflicts = [r for r in results if r == "ConflictException"]
    assert len(created) == 20, results
    assert len(conflicts) == 40, results
    paths = sorted(r["path"] for r in apigw.get_resources(restApiId=api_id, limit=500)["items"])
    assert paths == sorted(["/"] + [f"/r{n}" for n in range(20)])
    apigw.delete_rest_api(restApiId=api_id)
