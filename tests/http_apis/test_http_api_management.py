"""The apigatewayv2 management API for HTTP APIs (paths /v2/...), driven by boto3 and the aws CLI
as a user would: create an API, its routes, integrations, authorizers, stages and deployments,
read them back, change them, delete them; plus the refusals, with AWS's status, code and message
where they are known (see the research notes on what is verified)."""
import datetime
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from conftest import error_of

LAMBDA = "arn:aws:lambda:us-east-1:000000000000:function:pets"
AWS = os.path.join(os.path.dirname(sys.executable), "aws")


@pytest.fixture(scope="module")
def apigw2(portico):
    return boto3.client(
        "apigatewayv2", endpoint_url=f"http://{portico.admin}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def api(apigw2):
    """A fresh, empty HTTP API, deleted after the test."""
    a = apigw2.create_api(Name="t", ProtocolType="HTTP")
    yield a["ApiId"]
    apigw2.delete_api(ApiId=a["ApiId"])


def status(resp):
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def proxy(apigw2, api_id, uri="http://127.0.0.1:9/x"):
    return apigw2.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY",
                                     IntegrationMethod="ANY", IntegrationUri=uri)


def test_api_lifecycle(apigw2):
    """CreateApi answers 201 with a 10-character lower-case id, the execute-api endpoint and the
    default selection expressions; GetApi/GetApis show it; UpdateApi (201 on AWS) changes only
    what it names and fills CORS allowCredentials false; DeleteApi answers 204 and the API is
    then 'Invalid API identifier specified {account}:{id}'."""
    before = datetime.datetime.now(datetime.timezone.utc)
    a = apigw2.create_api(Name="lifecycle", ProtocolType="HTTP", Description="first")
    assert status(a) == 201
    api_id = a["ApiId"]
    assert re.fullmatch(r"[a-z0-9]{10}", api_id)
    assert a["ApiEndpoint"] == f"https://{api_id}.execute-api.us-east-1.amazonaws.com"
    assert a["ApiKeySelectionExpression"] == "$request.header.x-api-key"
    assert a["RouteSelectionExpression"] == "$request.method $request.path"
    assert a["DisableExecuteApiEndpoint"] is False
    assert a["ProtocolType"] == "HTTP" and a["Name"] == "lifecycle" and a["Description"] == "first"
    assert isinstance(a["CreatedDate"], datetime.datetime)
    assert abs((a["CreatedDate"] - before).total_seconds()) < 60
    assert "CorsConfiguration" not in a

    got = apigw2.get_api(ApiId=api_id)
    strip = lambda d: {k: v for k, v in d.items() if k != "ResponseMetadata"}  # noqa: E731
    assert strip(got) == strip(a)
    listed = apigw2.get_apis()["Items"]
    assert [x for x in listed if x["ApiId"] == api_id] == [strip(a)]

    up = apigw2.update_api(ApiId=api_id, Name="renamed", Description="second",
                           CorsConfiguration={"AllowOrigins": ["https://example.com"]})
    assert status(up) == 201
    assert up["Name"] == "renamed" and up["Description"] == "second"
    assert up["CorsConfiguration"] == {"AllowOrigins": ["https://example.com"], "AllowCredentials": False}
    assert up["ApiEndpoint"] == a["ApiEndpoint"] and up["CreatedDate"] == a["CreatedDate"]
    assert apigw2.get_api(ApiId=api_id)["Name"] == "renamed"

    assert status(apigw2.delete_api(ApiId=api_id)) == 204
    with pytest.raises(apigw2.exceptions.NotFoundException) as e:
        apigw2.get_api(ApiId=api_id)
    assert error_of(e) == (404, "NotFoundException", f"Invalid API identifier specified 000000000000:{api_id}")
    assert api_id not in [x["ApiId"] for x in apigw2.get_apis()["Items"]]


@pytest.mark.parametrize("target,route_key", [("http://127.0.0.1:9/up", None), (LAMBDA, "POST /pets")])
def test_quick_create(apigw2, target, route_key):
    """Quick create (Target, optional RouteKey) makes a managed route and integration, and a
    managed $default stage with autoDeploy already deployed by an automatic deployment."""
    kw = {"RouteKey": route_key} if route_key else {}
    a = apigw2.create_api(Name="quick", ProtocolType="HTTP", Target=target, **kw)
    api_id = a["ApiId"]
    lam = target.startswith("arn:")

    (integ,) = apigw2.get_integrations(ApiId=api_id)["Items"]
    assert integ["ApiGatewayManaged"] is True
    assert integ["IntegrationType"] == ("AWS_PROXY" if lam else "HTTP_PROXY")
    assert integ["IntegrationMethod"] == ("POST" if lam else "ANY")
    assert integ["PayloadFormatVersion"] == ("2.0" if lam else "1.0")
    assert integ["IntegrationUri"] == target
    assert integ["TimeoutInMillis"] == 30000 and integ["ConnectionType"] == "INTERNET"

    (route,) = apigw2.get_routes(ApiId=api_id)["Items"]
    assert route["RouteKey"] == (route_key or "$default")
    assert route["ApiGatewayManaged"] is True
    assert route["Target"] == f"integrations/{integ['IntegrationId']}"
    assert route["AuthorizationType"] == "NONE" and route["ApiKeyRequired"] is False

    (stage,) = apigw2.get_stages(ApiId=api_id)["Items"]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert stage["ApiGatewayManaged"] is True
    dep_id = stage["DeploymentId"]
    assert stage["LastDeploymentStatusMessage"] == f"Successfully deployed stage with deployment ID '{dep_id}'"
    assert stage["DefaultRouteSettings"] == {"DetailedMetricsEnabled": False}
    assert stage["RouteSettings"] == {} and stage["StageVariables"] == {}
    dep = apigw2.get_deployment(ApiId=api_id, DeploymentId=dep_id)
    assert dep["AutoDeployed"] is True and dep["DeploymentStatus"] == "DEPLOYED"
    assert dep["Description"] == "Automatic deployment triggered by changes to the Api configuration"
    apigw2.delete_api(ApiId=api_id)


def test_routes(apigw2, api):
    """Routes: defaults apiKeyRequired false and authorizationType NONE; listing pages with
    maxResults/nextToken; UpdateRoute answers 201 (AWS); DeleteRoute 204, then 404."""
    r = apigw2.create_route(ApiId=api, RouteKey="GET /pets")
    assert status(r) == 201
    assert r["ApiKeyRequired"] is False and r["AuthorizationType"] == "NONE"
    assert r["RouteKey"] == "GET /pets" and "Target" not in r
    rid = r["RouteId"]
    assert apigw2.get_route(ApiId=api, RouteId=rid)["RouteKey"] == "GET /pets"
    for key in ("POST /pets", "ANY /pets/{proxy+}"):
        apigw2.create_route(ApiId=api, RouteKey=key)

    first = apigw2.get_routes(ApiId=api, MaxResults="1")
    assert len(first["Items"]) == 1 and first["NextToken"]
    seen = [x["RouteKey"] for x in first["Items"]]
    token = first["NextToken"]
    while token:
        page = apigw2.get_routes(ApiId=api, MaxResults="1", NextToken=token)
        seen += [x["RouteKey"] for x in page["Items"]]
        token = page.get("NextToken")
    assert sorted(seen) == sorted(["GET /pets", "POST /pets", "ANY /pets/{proxy+}"])
    assert "NextToken" not in apigw2.get_routes(ApiId=api)

    integ = proxy(apigw2, api)
    up = apigw2.update_route(ApiId=api, RouteId=rid, Target=f"integrations/{integ['IntegrationId']}",
                             ApiKeyRequired=True)
    assert status(up) == 201
    assert up["Target"] == f"integrations/{integ['IntegrationId']}" and up["ApiKeyRequired"] is True
    assert up["RouteKey"] == "GET /pets"
    assert apigw2.get_route(ApiId=api, RouteId=rid)["ApiKeyRequired"] is True

    assert status(apigw2.delete_route(ApiId=api, RouteId=rid)) == 204
    with pytest.raises(apigw2.exceptions.NotFoundException) as e:
        apigw2.get_route(ApiId=api, RouteId=rid)
    assert error_of(e)[:2] == (404, "NotFoundException")
    assert rid in error_of(e)[2]


def test_route_refusals(apigw2, api):
    """A duplicate key is a 409 ConflictException with AWS's text; malformed keys and a target
    naming no integration of the API are 400 BadRequestException."""
    apigw2.create_route(ApiId=api, RouteKey="GET /pets")
    with pytest.raises(apigw2.exceptions.ConflictException) as e:
        apigw2.create_route(ApiId=api, RouteKey="GET /pets")
    assert error_of(e) == (409, "ConflictException", "Route with key GET /pets already exists for this API")
    for bad in ("GET pets", "FOO /x", "GET /{proxy+}/x", "GET //x"):
        with pytest.raises(apigw2.exceptions.BadRequestException) as e:
            apigw2.create_route(ApiId=api, RouteKey=bad)
        assert error_of(e)[:2] == (400, "BadRequestException"), bad
    with pytest.raises(apigw2.exceptions.BadRequestException) as e:
        apigw2.create_route(ApiId=api, RouteKey="GET /x", Target="integrations/nope123")
    assert error_of(e)[0] == 400
    other = apigw2.create_route(ApiId=api, RouteKey="GET /other")
    with pytest.raises(apigw2.exceptions.ConflictException) as e:
        apigw2.update_route(ApiId=api, RouteId=other["RouteId"], RouteKey="GET /pets")
    assert error_of(e) == (409, "ConflictException", "Route with key GET /pets already exists for this API")
    assert sorted(r["RouteKey"] for r in apigw2.get_routes(ApiId=api)["Items"]) == ["GET /other", "GET /pets"]


def test_integrations(apigw2, api):
    """HTTP_PROXY needs a method and an absolute URI; the timeout is 50..30000 ms; an HTTP API
    takes only proxy integrations; AWS_PROXY needs payloadFormatVersion; an integration a route
    targets cannot be deleted (409); UpdateIntegration changes only the fields it names."""
    def bad(**kw):
        with pytest.raises(apigw2.exceptions.BadRequestException) as e:
            apigw2.create_integration(ApiId=api, **kw)
        assert error_of(e)[:2] == (400, "BadRequestException"), kw
        return error_of(e)[2]

    bad(IntegrationType="HTTP_PROXY", IntegrationUri="http://127.0.0.1:9/x")
    bad(IntegrationType="HTTP_PROXY", IntegrationMethod="GET", IntegrationUri="/relative")
    assert bad(IntegrationType="HTTP_PROXY", IntegrationMethod="GET", IntegrationUri="http://h/x",
               TimeoutInMillis=30001) == "Timeout should be between 50 ms and 30000 ms"
    for kind in ("MOCK", "HTTP", "AWS"):
        assert bad(IntegrationType=kind, IntegrationMethod="GET", IntegrationUri="http://h/x") == (
            "Currently, an API with a protocol type of HTTP may only be associated with proxy "
            "integrations (AWS_PROXY, HTTP_PROXY)")
    bad(IntegrationType="AWS_PROXY", IntegrationUri=LAMBDA)
    assert apigw2.get_integrations(ApiId=api)["Items"] == []

    lam = apigw2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=LAMBDA,
                                    PayloadFormatVersion="2.0")
    assert status(lam) == 201
    assert lam["IntegrationMethod"] == "POST" and lam["TimeoutInMillis"] == 30000
    assert lam["ConnectionType"] == "INTERNET"

    h = apigw2.create_integration(ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="GET",
                                  IntegrationUri="https://example.com/a", Description="d",
                                  TimeoutInMillis=5000)
    assert h["PayloadFormatVersion"] == "1.0"
    hid = h["IntegrationId"]
    up = apigw2.update_integration(ApiId=api, IntegrationId=hid, TimeoutInMillis=1000)
    assert up["TimeoutInMillis"] == 1000
    for k in ("IntegrationMethod", "IntegrationUri", "Description", "IntegrationType",
              "PayloadFormatVersion", "ConnectionType"):
        assert up[k] == h[k], k
    assert apigw2.get_integration(ApiId=api, IntegrationId=hid)["TimeoutInMillis"] == 1000

    route = apigw2.create_route(ApiId=api, RouteKey="GET /a", Target=f"integrations/{hid}")
    with pytest.raises(apigw2.exceptions.ConflictException) as e:
        apigw2.delete_integration(ApiId=api, IntegrationId=hid)
    assert error_of(e)[:2] == (409, "ConflictException")
    apigw2.delete_route(ApiId=api, RouteId=route["RouteId"])
    assert status(apigw2.delete_integration(ApiId=api, IntegrationId=hid)) == 204
    with pytest.raises(apigw2.exceptions.NotFoundException):
        apigw2.get_integration(ApiId=api, IntegrationId=hid)


def test_stages_and_deployments(apigw2, api):
    """Deploying an API without routes is refused; a stage created without a deployment has no
    deploymentId until CreateDeployment names it; deployments list newest first; a deployment a
    stage uses cannot be deleted; DeleteStage answers 204, then the stage is 404."""
    with pytest.raises(apigw2.exceptions.BadRequestException) as e:
        apigw2.create_deployment(ApiId=api)
    assert error_of(e) == (400, "BadRequestException", "Unable to deploy API because no routes exist in this API")

    integ = proxy(apigw2, api)
    apigw2.create_route(ApiId=api, RouteKey="GET /pets", Target=f"integrations/{integ['IntegrationId']}")
    dev = apigw2.create_stage(ApiId=api, StageName="dev")
    assert status(dev) == 201
    assert "DeploymentId" not in dev and dev["StageName"] == "dev"
    assert dev.get("AutoDeploy", False) is False and "LastDeploymentStatusMessage" not in dev
    assert dev["StageVariables"] == {} and dev["RouteSettings"] == {}

    d1 = apigw2.create_deployment(ApiId=api, Description="one")
    assert status(d1) == 201 and d1["AutoDeployed"] is False and d1["DeploymentStatus"] == "DEPLOYED"
    assert "DeploymentId" not in apigw2.get_stage(ApiId=api, StageName="dev")
    d2 = apigw2.create_deployment(ApiId=api, StageName="dev")
    assert apigw2.get_stage(ApiId=api, StageName="dev")["DeploymentId"] == d2["DeploymentId"]
    ids = [d["DeploymentId"] for d in apigw2.get_deployments(ApiId=api)["Items"]]
    assert ids == [d2["DeploymentId"], d1["DeploymentId"]]

    with pytest.raises(apigw2.exceptions.BadRequestException) as e:
        apigw2.delete_deployment(ApiId=api, DeploymentId=d2["DeploymentId"])
    assert error_of(e) == (400, "BadRequestException", "Active stages pointing to this deployment must be moved or deleted")
    assert status(apigw2.delete_deployment(ApiId=api, DeploymentId=d1["DeploymentId"])) == 204
    with pytest.raises(apigw2.exceptions.NotFoundException):
        apigw2.get_deployment(ApiId=api, DeploymentId=d1["DeploymentId"])

    with pytest.raises(apigw2.exceptions.NotFoundException):
        apigw2.create_deployment(ApiId=api, StageName="nostage")
    with pytest.raises(apigw2.exceptions.NotFoundException):
        apigw2.create_stage(ApiId=api, StageName="other", DeploymentId=d1["DeploymentId"])
    with pytest.raises(apigw2.exceptions.ConflictException) as e:
        apigw2.create_stage(ApiId=api, StageName="dev")
    assert error_of(e)[:2] == (409, "ConflictException")
    with pytest.raises(apigw2.exceptions.BadRequestException) as e:
        apigw2.create_stage(ApiId=api, StageName="a b")
    assert error_of(e)[0] == 400

    up = apigw2.update_stage(ApiId=api, StageName="dev", StageVariables={"color": "blue"},
                             RouteSettings={"GET /pets": {"ThrottlingBurstLimit": 5, "ThrottlingRateLimit": 2.0}})
    assert up["StageVariables"] == {"color": "blue"}
    assert up["RouteSettings"]["GET /pets"]["ThrottlingBurstLimit"] == 5
    assert up["DeploymentId"] == d2["DeploymentId"]
    with pytest.raises(apigw2.exceptions.NotFoundException) as e:
        apigw2.update_stage(ApiId=api, StageName="dev", RouteSettings={"GET /nope": {"ThrottlingBurstLimit": 1}})
    assert error_of(e) == (404, "NotFoundException",
                           "Unable to find Route by key GET /nope within the provided RouteSettings")
    assert "GET /nope" not in apigw2.get_stage(ApiId=api, StageName="dev")["RouteSettings"]

    assert status(apigw2.delete_stage(ApiId=api, StageName="dev")) == 204
    with pytest.raises(apigw2.exceptions.NotFoundException) as e:
        apigw2.get_stage(ApiId=api, StageName="dev")
    assert error_of(e)[0] == 404
    assert apigw2.get_stages(ApiId=api)["Items"] == []


def test_auto_deploy_stage(apigw2, api):
    """A stage created with autoDeploy on an API with routes is deployed at once; a later change
    to the routes re-deploys it with a new automatic deployment."""
    integ = proxy(apigw2, api)
    target = f"integrations/{integ['IntegrationId']}"
    apigw2.create_route(ApiId=api, RouteKey="GET /a", Target=target)
    s = apigw2.create_stage(ApiId=api, StageName="live", AutoDeploy=True)
    assert s["AutoDeploy"] is True
    first = s["DeploymentId"]
    assert s["LastDeploymentStatusMessage"] == f"Successfully deployed stage with deployment ID '{first}'"
    assert apigw2.get_deployment(ApiId=api, DeploymentId=first)["AutoDeployed"] is True

    apigw2.create_route(ApiId=api, RouteKey="GET /b", Target=target)
    now = apigw2.get_stage(ApiId=api, StageName="live")
    assert now["DeploymentId"] != first
    assert now["LastDeploymentStatusMessage"] == f"Successfully deployed stage with deployment ID '{now['DeploymentId']}'"
    deps = apigw2.get_deployments(ApiId=api)["Items"]
    assert deps[0]["DeploymentId"] == now["DeploymentId"] and deps[0]["AutoDeployed"] is True
    assert deps[0]["Description"] == "Automatic deployment triggered by changes to the Api configuration"
    assert {d["DeploymentId"] for d in deps} >= {first, now["DeploymentId"]}


def test_jwt_authorizers(apigw2, api):
    """JWT authorizers: create/get/update/delete; an issuer is required; a route may use one
    with authorizationType JWT; an authorizer a route uses cannot be deleted (409)."""
    a = apigw2.create_authorizer(
        ApiId=api, Name="jwt", AuthorizerType="JWT", IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": "https://issuer.example.com", "Audience": ["aud1"]})
    assert status(a) == 201
    aid = a["AuthorizerId"]
    assert a["AuthorizerType"] == "JWT" and a["Name"] == "jwt"
    assert a["IdentitySource"] == ["$request.header.Authorization"]
    assert a["JwtConfiguration"] == {"Issuer": "https://issuer.example.com", "Audience": ["aud1"]}
    got = apigw2.get_authorizer(ApiId=api, AuthorizerId=aid)
    assert got["JwtConfiguration"] == a["JwtConfiguration"] and got["Name"] == "jwt"

    up = apigw2.update_authorizer(ApiId=api, AuthorizerId=aid,
                                  JwtConfiguration={"Issuer": "https://issuer.example.com", "Audience": ["aud2"]})
    assert up["JwtConfiguration"]["Audience"] == ["aud2"] and up["Name"] == "jwt"
    assert apigw2.get_authorizer(ApiId=api, AuthorizerId=aid)["JwtConfiguration"]["Audience"] == ["aud2"]

    with pytest.raises(apigw2.exceptions.BadRequestException) as e:
        apigw2.create_authorizer(ApiId=api, Name="noissuer", AuthorizerType="JWT",
                                 IdentitySource=["$request.header.Authorization"],
                                 JwtConfiguration={"Audience": ["aud1"]})
    assert error_of(e)[0] == 400

    r = apigw2.create_route(ApiId=api, RouteKey="GET /me", AuthorizationType="JWT", AuthorizerId=aid,
                            AuthorizationScopes=["read"])
    assert r["AuthorizationType"] == "JWT" and r["AuthorizerId"] == aid
    assert r["AuthorizationScopes"] == ["read"]
    with pytest.raises(apigw2.exceptions.ConflictException) as e:
        apigw2.delete_authorizer(ApiId=api, AuthorizerId=aid)
    assert error_of(e)[:2] == (409, "ConflictException")
    apigw2.update_route(ApiId=api, RouteId=r["RouteId"], AuthorizationType="NONE")
    assert "AuthorizerId" not in apigw2.get_route(ApiId=api, RouteId=r["RouteId"])
    assert status(apigw2.delete_authorizer(ApiId=api, AuthorizerId=aid)) == 204
    with pytest.raises(apigw2.exceptions.NotFoundException):
        apigw2.get_authorizer(ApiId=api, AuthorizerId=aid)


def test_tags(apigw2):
    """TagResource (201), GetTags and UntagResource (204) on arn:aws:apigateway:{region}::/apis/{id};
    tags given at creation are there from the start."""
    a = apigw2.create_api(Name="tagged", ProtocolType="HTTP", Tags={"team": "a"})
    arn = f"arn:aws:apigateway:us-east-1::/apis/{a['ApiId']}"
    assert apigw2.get_tags(ResourceArn=arn)["Tags"] == {"team": "a"}
    assert status(apigw2.tag_resource(ResourceArn=arn, Tags={"env": "dev", "team": "b"})) == 201
    assert apigw2.get_tags(ResourceArn=arn)["Tags"] == {"team": "b", "env": "dev"}
    assert apigw2.get_api(ApiId=a["ApiId"])["Tags"] == {"team": "b", "env": "dev"}
    assert status(apigw2.untag_resource(ResourceArn=arn, TagKeys=["team"])) == 204
    assert apigw2.get_tags(ResourceArn=arn)["Tags"] == {"env": "dev"}
    apigw2.delete_api(ApiId=a["ApiId"])


def test_cors(apigw2):
    """allowCredentials with origin * is refused with AWS's text; DeleteCorsConfiguration (204)
    removes the configuration."""
    with pytest.raises(apigw2.exceptions.BadRequestException) as e:
        apigw2.create_api(Name="c", ProtocolType="HTTP",
                          CorsConfiguration={"AllowOrigins": ["*"], "AllowCredentials": True})
    assert error_of(e) == (400, "BadRequestException", "allow-credentials is not supported if 'allow-origin' is *")
    a = apigw2.create_api(Name="c", ProtocolType="HTTP",
                          CorsConfiguration={"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET"],
                                             "MaxAge": 300})
    assert a["CorsConfiguration"] == {"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET"],
                                      "MaxAge": 300, "AllowCredentials": False}
    assert status(apigw2.delete_cors_configuration(ApiId=a["ApiId"])) == 204
    assert "CorsConfiguration" not in apigw2.get_api(ApiId=a["ApiId"])
    apigw2.delete_api(ApiId=a["ApiId"])


def test_unknown_api_and_wire_format(apigw2, portico):
    """Any operation under an unknown API id is 404 'Invalid API identifier specified
    {account}:{id}'; on the wire, dates are ISO-8601 strings and the error code travels in
    x-amzn-ErrorType with a JSON {"message": ...} body."""
    for call in (lambda: apigw2.create_integration(ApiId="nope", IntegrationType="AWS_PROXY",
                                                   IntegrationUri=LAMBDA, PayloadFormatVersion="2.0"),
                 lambda: apigw2.get_routes(ApiId="nope"),
                 lambda: apigw2.create_stage(ApiId="nope", StageName="s"),
                 lambda: apigw2.delete_api(ApiId="nope")):
        with pytest.raises(apigw2.exceptions.NotFoundException) as e:
            call()
        assert error_of(e) == (404, "NotFoundException", "Invalid API identifier specified 000000000000:nope")

    a = apigw2.create_api(Name="wire", ProtocolType="HTTP")
    try:
        with urllib.request.urlopen(f"http://{portico.admin}/v2/apis/{a['ApiId']}", timeout=5) as r:
            body = json.loads(r.read())
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", body["createdDate"])
        assert body["apiId"] == a["ApiId"] and body["protocolType"] == "HTTP"
    finally:
        apigw2.delete_api(ApiId=a["ApiId"])
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://{portico.admin}/v2/apis/{a['ApiId']}", timeout=5)
    assert e.value.code == 404 and e.value.headers["x-amzn-ErrorType"] == "NotFoundException"
    assert json.loads(e.value.read())["message"] == f"Invalid API identifier specified 000000000000:{a['ApiId']}"


def aws(portico, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
    return subprocess.run(
        [AWS, "apigatewayv2", *args, "--endpoint-url", f"http://{portico.admin}",
         "--region", "us-east-1", "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60)


def test_cli(portico, apigw2):
    """`aws apigatewayv2` works unchanged: quick create, get-routes, and an unknown API id fails
    with the NotFoundException text on stderr."""
    out = aws(portico, "create-api", "--name", "cli", "--protocol-type", "HTTP",
              "--target", "http://127.0.0.1:9")
    assert out.returncode == 0, out.stderr
    api = json.loads(out.stdout)
    assert re.fullmatch(r"[a-z0-9]{10}", api["ApiId"]) and api["Name"] == "cli"
    assert api["ApiEndpoint"] == f"https://{api['ApiId']}.execute-api.us-east-1.amazonaws.com"
    routes = aws(portico, "get-routes", "--api-id", api["ApiId"])
    assert routes.returncode == 0, routes.stderr
    assert [r["RouteKey"] for r in json.loads(routes.stdout)["Items"]] == ["$default"]

    bad = aws(portico, "get-api", "--api-id", "nope")
    assert bad.returncode in (254, 255)
    assert "NotFoundException" in bad.stderr
    assert "Invalid API identifier specified 000000000000:nope" in bad.stderr
    deleted = aws(portico, "delete-api", "--api-id", api["ApiId"])
    assert deleted.returncode == 0 and deleted.stdout.strip() == "", deleted.stderr
    with pytest.raises(apigw2.exceptions.NotFoundException):
        apigw2.get_api(ApiId=api["ApiId"])
