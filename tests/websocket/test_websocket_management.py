"""The apigatewayv2 management API for WebSocket APIs (protocolType WEBSOCKET, paths /v2/...),
driven by boto3 and the aws CLI as a user would: CreateApi with a route selection expression
(and the refusals of HTTP-only settings: CORS, quick create), free-form route keys with
authorization only on $connect, all five integration types with their defaults and templates,
route responses and integration responses (objects only WebSocket APIs have), REQUEST
authorizers with route.request.* identity sources, stages and deployments, and the refusal of
ReimportApi/ExportApi."""
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

LAMBDA = "arn:aws:lambda:us-east-1:000000000000:function:chat"
LAMBDA_URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{LAMBDA}/invocations"
AWS = os.path.join(os.path.dirname(sys.executable), "aws")
RSE = "$request.body.action"


@pytest.fixture(scope="module")
def apigw2(portico):
    return boto3.client(
        "apigatewayv2", endpoint_url=f"http://{portico.admin}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def ws(apigw2):
    """A fresh, empty WebSocket API, deleted after the test."""
    a = apigw2.create_api(Name="ws", ProtocolType="WEBSOCKET", RouteSelectionExpression=RSE)
    yield a["ApiId"]
    apigw2.delete_api(ApiId=a["ApiId"])


def status(resp):
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def strip(d):
    return {k: v for k, v in d.items() if k != "ResponseMetadata"}


def bad_request(apigw2, call, **kw):
    """Runs `call(**kw)`, asserts a 400 BadRequestException and returns its message."""
    with pytest.raises(apigw2.exceptions.BadRequestException) as e:
        call(**kw)
    assert error_of(e)[:2] == (400, "BadRequestException"), kw
    return error_of(e)[2]


def post(portico, path, doc):
    """POSTs `doc` as JSON to the management listener (for fields botocore will not send) and
    answers (status, parsed body)."""
    req = urllib.request.Request(f"http://{portico.admin}{path}", data=json.dumps(doc).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def mock(apigw2, api_id):
    return apigw2.create_integration(ApiId=api_id, IntegrationType="MOCK")


def test_create_websocket_api(apigw2):
    """CreateApi with protocolType WEBSOCKET answers 201 with the route selection expression as
    given, the default API key selection expression, schema validation on and the execute-api
    endpoint; GetApi/GetApis show the same; DeleteApi answers 204, then the API is 404."""
    a = apigw2.create_api(Name="chat", ProtocolType="WEBSOCKET", RouteSelectionExpression=RSE,
                          Description="chat api")
    assert status(a) == 201
    api_id = a["ApiId"]
    assert re.fullmatch(r"[a-z0-9]{10}", api_id)
    assert a["ProtocolType"] == "WEBSOCKET"
    assert a["RouteSelectionExpression"] == RSE
    assert a["ApiKeySelectionExpression"] == "$request.header.x-api-key"
    assert a["DisableSchemaValidation"] is False
    assert a["ApiEndpoint"] == f"https://{api_id}.execute-api.us-east-1.amazonaws.com"
    assert a["Name"] == "chat" and a["Description"] == "chat api"
    assert "CorsConfiguration" not in a

    assert strip(apigw2.get_api(ApiId=api_id)) == strip(a)
    assert [x for x in apigw2.get_apis()["Items"] if x["ApiId"] == api_id] == [strip(a)]

    assert status(apigw2.delete_api(ApiId=api_id)) == 204
    with pytest.raises(apigw2.exceptions.NotFoundException) as e:
        apigw2.get_api(ApiId=api_id)
    assert error_of(e)[:2] == (404, "NotFoundException")


def test_route_selection_expression(apigw2):
    """The route selection expression is required; $request.body.<path> and text with
    ${request.body.<path>} parts are accepted, anything else is 400; UpdateApi checks it too."""
    for good in ("$request.body.action", "$request.body.message.type",
                 "${request.body.a}-${request.body.b}"):
        a = apigw2.create_api(Name="rse", ProtocolType="WEBSOCKET", RouteSelectionExpression=good)
        assert a["RouteSelectionExpression"] == good
        assert apigw2.get_api(ApiId=a["ApiId"])["RouteSelectionExpression"] == good
        apigw2.delete_api(ApiId=a["ApiId"])

    before = {x["ApiId"] for x in apigw2.get_apis()["Items"]}
    bad_request(apigw2, apigw2.create_api, Name="rse", ProtocolType="WEBSOCKET")
    for bad in ("action", "$request.header.x", "$request.body.", "${request.header.x}", ""):
        bad_request(apigw2, apigw2.create_api, Name="rse", ProtocolType="WEBSOCKET",
                    RouteSelectionExpression=bad)
    assert {x["ApiId"] for x in apigw2.get_apis()["Items"]} == before

    a = apigw2.create_api(Name="rse", ProtocolType="WEBSOCKET", RouteSelectionExpression=RSE)
    try:
        bad_request(apigw2, apigw2.update_api, ApiId=a["ApiId"], RouteSelectionExpression="action")
        assert apigw2.get_api(ApiId=a["ApiId"])["RouteSelectionExpression"] == RSE
        up = apigw2.update_api(ApiId=a["ApiId"], RouteSelectionExpression="$request.body.type")
        assert up["RouteSelectionExpression"] == "$request.body.type"
        assert apigw2.get_api(ApiId=a["ApiId"])["RouteSelectionExpression"] == "$request.body.type"
    finally:
        apigw2.delete_api(ApiId=a["ApiId"])


def test_http_only_settings_refused(apigw2, ws):
    """CORS configuration and quick create (Target, RouteKey) are HTTP API features: 400 on a
    WebSocket API, at create and (CORS) at update; nothing is created."""
    before = {x["ApiId"] for x in apigw2.get_apis()["Items"]}
    for kw in ({"CorsConfiguration": {"AllowOrigins": ["https://a.example"]}},
               {"Target": LAMBDA},
               {"RouteKey": "sendmessage"}):
        bad_request(apigw2, apigw2.create_api, Name="x", ProtocolType="WEBSOCKET",
                    RouteSelectionExpression=RSE, **kw)
    assert {x["ApiId"] for x in apigw2.get_apis()["Items"]} == before
    bad_request(apigw2, apigw2.update_api, ApiId=ws,
                CorsConfiguration={"AllowOrigins": ["https://a.example"]})
    assert "CorsConfiguration" not in apigw2.get_api(ApiId=ws)


def test_route_keys(apigw2, ws):
    """Route keys are free-form selection values plus the predefined $connect, $disconnect and
    $default; any other key starting with $ is 400; a duplicate key is 409."""
    keys = ["sendmessage", "$connect", "$disconnect", "$default", "join-room"]
    for key in keys:
        r = apigw2.create_route(ApiId=ws, RouteKey=key)
        assert status(r) == 201
        assert r["RouteKey"] == key and r["AuthorizationType"] == "NONE"
        assert r["ApiKeyRequired"] is False
        assert apigw2.get_route(ApiId=ws, RouteId=r["RouteId"])["RouteKey"] == key
    assert sorted(x["RouteKey"] for x in apigw2.get_routes(ApiId=ws)["Items"]) == sorted(keys)

    for bad in ("$other", "$connected", "$"):
        bad_request(apigw2, apigw2.create_route, ApiId=ws, RouteKey=bad)
    for dup in ("sendmessage", "$connect"):
        with pytest.raises(apigw2.exceptions.ConflictException) as e:
            apigw2.create_route(ApiId=ws, RouteKey=dup)
        assert error_of(e)[:2] == (409, "ConflictException")
    assert sorted(x["RouteKey"] for x in apigw2.get_routes(ApiId=ws)["Items"]) == sorted(keys)


def test_route_authorization(apigw2, ws):
    """AWS_IAM and CUSTOM authorization are allowed on $connect only (400 'authorization is
    restricted to the $connect route only' elsewhere, at create and update); JWT is 400; the
    route response selection expression may only be $default."""
    auth = apigw2.create_authorizer(ApiId=ws, Name="lam", AuthorizerType="REQUEST",
                                    AuthorizerUri=LAMBDA_URI,
                                    IdentitySource=["route.request.header.Auth"])
    aid = auth["AuthorizerId"]

    c = apigw2.create_route(ApiId=ws, RouteKey="$connect", AuthorizationType="CUSTOM", AuthorizerId=aid)
    assert c["AuthorizationType"] == "CUSTOM" and c["AuthorizerId"] == aid
    up = apigw2.update_route(ApiId=ws, RouteId=c["RouteId"], AuthorizationType="AWS_IAM")
    assert up["AuthorizationType"] == "AWS_IAM"
    assert apigw2.get_route(ApiId=ws, RouteId=c["RouteId"])["AuthorizationType"] == "AWS_IAM"

    for key in ("sendmessage", "$default", "$disconnect"):
        msg = bad_request(apigw2, apigw2.create_route, ApiId=ws, RouteKey=key, AuthorizationType="AWS_IAM")
        assert "authorization is restricted to the $connect route only" in msg, msg
        msg = bad_request(apigw2, apigw2.create_route, ApiId=ws, RouteKey=key,
                          AuthorizationType="CUSTOM", AuthorizerId=aid)
        assert "authorization is restricted to the $connect route only" in msg, msg
    bad_request(apigw2, apigw2.create_route, ApiId=ws, RouteKey="$connect-jwt", AuthorizationType="JWT",
                AuthorizerId=aid)
    send = apigw2.create_route(ApiId=ws, RouteKey="sendmessage")
    msg = bad_request(apigw2, apigw2.update_route, ApiId=ws, RouteId=send["RouteId"], AuthorizationType="AWS_IAM")
    assert "authorization is restricted to the $connect route only" in msg, msg
    assert apigw2.get_route(ApiId=ws, RouteId=send["RouteId"])["AuthorizationType"] == "NONE"

    r = apigw2.create_route(ApiId=ws, RouteKey="echo", RouteResponseSelectionExpression="$default")
    assert r["RouteResponseSelectionExpression"] == "$default"
    assert apigw2.get_route(ApiId=ws, RouteId=r["RouteId"])["RouteResponseSelectionExpression"] == "$default"
    bad_request(apigw2, apigw2.create_route, ApiId=ws, RouteKey="other",
                RouteResponseSelectionExpression="$request.body.x")
    bad_request(apigw2, apigw2.update_route, ApiId=ws, RouteId=r["RouteId"],
                RouteResponseSelectionExpression="/2\\d\\d/")
    keys = sorted(x["RouteKey"] for x in apigw2.get_routes(ApiId=ws)["Items"])
    assert keys == ["$connect", "echo", "sendmessage"]


def test_integration_types_and_defaults(apigw2, ws):
    """All five integration types are accepted; defaults: timeout 29000 ms, payload format 1.0,
    passthrough WHEN_NO_MATCH on the non-proxy types only; GetIntegrations lists them."""
    made = {
        "AWS_PROXY": apigw2.create_integration(ApiId=ws, IntegrationType="AWS_PROXY", IntegrationUri=LAMBDA_URI),
        "AWS": apigw2.create_integration(ApiId=ws, IntegrationType="AWS", IntegrationUri=LAMBDA_URI),
        "HTTP": apigw2.create_integration(ApiId=ws, IntegrationType="HTTP", IntegrationMethod="POST",
                                          IntegrationUri="https://example.com/hook"),
        "HTTP_PROXY": apigw2.create_integration(ApiId=ws, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                                IntegrationUri="http://127.0.0.1:9/x"),
        "MOCK": mock(apigw2, ws),
    }
    for kind, i in made.items():
        assert status(i) == 201, kind
        assert i["IntegrationType"] == kind
        assert i["TimeoutInMillis"] == 29000, kind
        assert i["PayloadFormatVersion"] == "1.0", kind
        if kind in ("AWS_PROXY", "HTTP_PROXY"):
            assert "PassthroughBehavior" not in i, kind
        else:
            assert i["PassthroughBehavior"] == "WHEN_NO_MATCH", kind
        assert strip(apigw2.get_integration(ApiId=ws, IntegrationId=i["IntegrationId"])) == strip(i)
    assert made["HTTP"]["IntegrationUri"] == "https://example.com/hook"
    assert made["HTTP"]["IntegrationMethod"] == "POST"
    assert made["AWS_PROXY"]["IntegrationUri"] == LAMBDA_URI
    listed = {x["IntegrationId"] for x in apigw2.get_integrations(ApiId=ws)["Items"]}
    assert listed == {i["IntegrationId"] for i in made.values()}

    edge = apigw2.create_integration(ApiId=ws, IntegrationType="MOCK", TimeoutInMillis=50)
    assert edge["TimeoutInMillis"] == 50
    up = apigw2.update_integration(ApiId=ws, IntegrationId=edge["IntegrationId"], TimeoutInMillis=29000)
    assert up["TimeoutInMillis"] == 29000 and up["IntegrationType"] == "MOCK"


def test_integration_refusals(apigw2, ws, portico):
    """AWS_PROXY/AWS need an integrationUri; HTTP/HTTP_PROXY need an absolute http(s) URI and a
    method; the timeout is 50..29000 ms; payload format 2.0 and an unknown content handling
    strategy are 400; nothing is created by a refused request."""
    def bad(**kw):
        return bad_request(apigw2, apigw2.create_integration, ApiId=ws, **kw)

    bad(IntegrationType="AWS_PROXY")
    bad(IntegrationType="AWS")
    for kind in ("HTTP", "HTTP_PROXY"):
        bad(IntegrationType=kind, IntegrationMethod="GET")
        bad(IntegrationType=kind, IntegrationMethod="GET", IntegrationUri="/relative")
        bad(IntegrationType=kind, IntegrationMethod="GET", IntegrationUri="ftp://example.com/x")
        bad(IntegrationType=kind, IntegrationUri="https://example.com/x")
    assert "29000" in bad(IntegrationType="MOCK", TimeoutInMillis=30000)
    # botocore itself refuses a timeout under 50, so this one goes on the wire by hand.
    code, body = post(portico, f"/v2/apis/{ws}/integrations", {"integrationType": "MOCK", "timeoutInMillis": 49})
    assert code == 400, body
    bad(IntegrationType="AWS_PROXY", IntegrationUri=LAMBDA_URI, PayloadFormatVersion="2.0")
    bad(IntegrationType="MOCK", ContentHandlingStrategy="CONVERT_TO_JSON")
    bad(IntegrationType="NOPE")
    assert apigw2.get_integrations(ApiId=ws)["Items"] == []

    m = mock(apigw2, ws)
    bad_request(apigw2, apigw2.update_integration, ApiId=ws, IntegrationId=m["IntegrationId"],
                TimeoutInMillis=30000)
    assert apigw2.get_integration(ApiId=ws, IntegrationId=m["IntegrationId"])["TimeoutInMillis"] == 29000


def test_integration_templates(apigw2, ws, portico):
    """Request templates, the template selection expression, the integration response selection
    expression and the content handling strategy are stored, returned and updatable.
    (botocore's CreateIntegration has no integrationResponseSelectionExpression member, so the
    integration is created by a raw POST and read back with boto3.)"""
    code, body = post(portico, f"/v2/apis/{ws}/integrations", {
        "integrationType": "AWS", "integrationUri": LAMBDA_URI,
        "requestTemplates": {"$default": '{"action": $input.json(\'$.action\')}', "json": "{}"},
        "templateSelectionExpression": "\\$default",
        "integrationResponseSelectionExpression": "${integration.response.statuscode}",
        "contentHandlingStrategy": "CONVERT_TO_TEXT", "passthroughBehavior": "NEVER"})
    assert code == 201, body
    iid = body["integrationId"]
    i = apigw2.get_integration(ApiId=ws, IntegrationId=iid)
    assert i["RequestTemplates"] == {"$default": '{"action": $input.json(\'$.action\')}', "json": "{}"}
    assert i["TemplateSelectionExpression"] == "\\$default"
    assert i["IntegrationResponseSelectionExpression"] == "${integration.response.statuscode}"
    assert i["ContentHandlingStrategy"] == "CONVERT_TO_TEXT"
    assert i["PassthroughBehavior"] == "NEVER"
    assert body["integrationResponseSelectionExpression"] == "${integration.response.statuscode}"
    assert body["contentHandlingStrategy"] == "CONVERT_TO_TEXT"

    up = apigw2.update_integration(ApiId=ws, IntegrationId=iid, ContentHandlingStrategy="CONVERT_TO_BINARY",
                                   TemplateSelectionExpression="$request.body.kind")
    assert up["ContentHandlingStrategy"] == "CONVERT_TO_BINARY"
    assert up["TemplateSelectionExpression"] == "$request.body.kind"
    assert up["RequestTemplates"] == i["RequestTemplates"]
    assert up["IntegrationResponseSelectionExpression"] == i["IntegrationResponseSelectionExpression"]
    got = apigw2.get_integration(ApiId=ws, IntegrationId=iid)
    assert got["ContentHandlingStrategy"] == "CONVERT_TO_BINARY"
    bad_request(apigw2, apigw2.update_integration, ApiId=ws, IntegrationId=iid,
                ContentHandlingStrategy="CONVERT_TO_JSON")
    assert apigw2.get_integration(ApiId=ws, IntegrationId=iid)["ContentHandlingStrategy"] == "CONVERT_TO_BINARY"


def test_route_responses(apigw2, ws):
    """Route responses: CreateRouteResponse with key $default answers 201 with an id; other keys
    are 400 and a second $default 409; get, list, update and delete (204); an unknown route is
    404; deleting the route takes its route responses with it."""
    integ = mock(apigw2, ws)
    r = apigw2.create_route(ApiId=ws, RouteKey="echo", Target=f"integrations/{integ['IntegrationId']}",
                            RouteResponseSelectionExpression="$default")
    rid = r["RouteId"]
    assert apigw2.get_route_responses(ApiId=ws, RouteId=rid)["Items"] == []

    rr = apigw2.create_route_response(ApiId=ws, RouteId=rid, RouteResponseKey="$default")
    assert status(rr) == 201
    assert rr["RouteResponseKey"] == "$default" and rr["RouteResponseId"]
    rrid = rr["RouteResponseId"]
    got = apigw2.get_route_response(ApiId=ws, RouteId=rid, RouteResponseId=rrid)
    assert strip(got) == strip(rr)
    assert [strip(x) for x in apigw2.get_route_responses(ApiId=ws, RouteId=rid)["Items"]] == [strip(rr)]

    for bad in ("200", "/2\\d\\d/", "$connect"):
        bad_request(apigw2, apigw2.create_route_response, ApiId=ws, RouteId=rid, RouteResponseKey=bad)
    with pytest.raises(apigw2.exceptions.ConflictException) as e:
        apigw2.create_route_response(ApiId=ws, RouteId=rid, RouteResponseKey="$default")
    assert error_of(e)[:2] == (409, "ConflictException")
    assert len(apigw2.get_route_responses(ApiId=ws, RouteId=rid)["Items"]) == 1

    up = apigw2.update_route_response(ApiId=ws, RouteId=rid, RouteResponseId=rrid,
                                      ModelSelectionExpression="$default")
    assert up["ModelSelectionExpression"] == "$default" and up["RouteResponseKey"] == "$default"
    got = apigw2.get_route_response(ApiId=ws, RouteId=rid, RouteResponseId=rrid)
    assert got["ModelSelectionExpression"] == "$default"

    for call in (lambda: apigw2.create_route_response(ApiId=ws, RouteId="nope123", RouteResponseKey="$default"),
                 lambda: apigw2.get_route_responses(ApiId=ws, RouteId="nope123")):
        with pytest.raises(apigw2.exceptions.NotFoundException) as e:
            call()
        assert error_of(e)[:2] == (404, "NotFoundException")

    assert status(apigw2.delete_route_response(ApiId=ws, RouteId=rid, RouteResponseId=rrid)) == 204
    with pytest.raises(apigw2.exceptions.NotFoundException):
        apigw2.get_route_response(ApiId=ws, RouteId=rid, RouteResponseId=rrid)
    assert apigw2.get_route_responses(ApiId=ws, RouteId=rid)["Items"] == []

    again = apigw2.create_route_response(ApiId=ws, RouteId=rid, RouteResponseKey="$default")
    assert again["RouteResponseId"] != rrid
    assert status(apigw2.delete_route(ApiId=ws, RouteId=rid)) == 204
    with pytest.raises(apigw2.exceptions.NotFoundException):
        apigw2.get_route_response(ApiId=ws, RouteId=rid, RouteResponseId=again["RouteResponseId"])
    # A new route with the same key starts with no route responses.
    r2 = apigw2.create_route(ApiId=ws, RouteKey="echo")
    assert apigw2.get_route_responses(ApiId=ws, RouteId=r2["RouteId"])["Items"] == []


def test_route_responses_refused_on_http_api(apigw2):
    """Route responses and integration responses belong to WebSocket APIs: 400 on an HTTP API."""
    a = apigw2.create_api(Name="http", ProtocolType="HTTP")
    try:
        r = apigw2.create_route(ApiId=a["ApiId"], RouteKey="GET /x")
        bad_request(apigw2, apigw2.create_route_response, ApiId=a["ApiId"], RouteId=r["RouteId"],
                    RouteResponseKey="$default")
        i = apigw2.create_integration(ApiId=a["ApiId"], IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                      IntegrationUri="http://127.0.0.1:9/x")
        bad_request(apigw2, apigw2.create_integration_response, ApiId=a["ApiId"],
                    IntegrationId=i["IntegrationId"], IntegrationResponseKey="$default")
    finally:
        apigw2.delete_api(ApiId=a["ApiId"])


def test_integration_responses(apigw2, ws):
    """Integration responses: key $default or a /regex/ over the status ('200' is 400); response
    templates and template selection expression are stored; get, list, update, delete (204); a
    duplicate key is 409; deleting the integration takes its responses with it."""
    i = apigw2.create_integration(ApiId=ws, IntegrationType="AWS", IntegrationUri=LAMBDA_URI)
    iid = i["IntegrationId"]
    assert apigw2.get_integration_responses(ApiId=ws, IntegrationId=iid)["Items"] == []

    d = apigw2.create_integration_response(
        ApiId=ws, IntegrationId=iid, IntegrationResponseKey="$default",
        ResponseTemplates={"$default": '{"ok": true}'}, TemplateSelectionExpression="\\$default")
    assert status(d) == 201
    assert d["IntegrationResponseKey"] == "$default" and d["IntegrationResponseId"]
    assert d["ResponseTemplates"] == {"$default": '{"ok": true}'}
    assert d["TemplateSelectionExpression"] == "\\$default"
    ok = apigw2.create_integration_response(ApiId=ws, IntegrationId=iid, IntegrationResponseKey="/2\\d\\d/")
    assert ok["IntegrationResponseKey"] == "/2\\d\\d/"
    assert ok["IntegrationResponseId"] != d["IntegrationResponseId"]

    did, okid = d["IntegrationResponseId"], ok["IntegrationResponseId"]
    got = apigw2.get_integration_response(ApiId=ws, IntegrationId=iid, IntegrationResponseId=did)
    assert strip(got) == strip(d)
    items = apigw2.get_integration_responses(ApiId=ws, IntegrationId=iid)["Items"]
    assert sorted(x["IntegrationResponseKey"] for x in items) == ["$default", "/2\\d\\d/"]

    for bad in ("200", "2\\d\\d", ""):
        bad_request(apigw2, apigw2.create_integration_response, ApiId=ws, IntegrationId=iid,
                    IntegrationResponseKey=bad)
    with pytest.raises(apigw2.exceptions.ConflictException) as e:
        apigw2.create_integration_response(ApiId=ws, IntegrationId=iid, IntegrationResponseKey="/2\\d\\d/")
    assert error_of(e)[:2] == (409, "ConflictException")

    up = apigw2.update_integration_response(ApiId=ws, IntegrationId=iid,
                                            IntegrationResponseId=d["IntegrationResponseId"],
                                            ResponseTemplates={"$default": '{"ok": false}'})
    assert up["ResponseTemplates"] == {"$default": '{"ok": false}'}
    assert up["TemplateSelectionExpression"] == "\\$default"
    got = apigw2.get_integration_response(ApiId=ws, IntegrationId=iid, IntegrationResponseId=did)
    assert got["ResponseTemplates"] == {"$default": '{"ok": false}'}

    assert status(apigw2.delete_integration_response(ApiId=ws, IntegrationId=iid,
                                                     IntegrationResponseId=ok["IntegrationResponseId"])) == 204
    with pytest.raises(apigw2.exceptions.NotFoundException):
        apigw2.get_integration_response(ApiId=ws, IntegrationId=iid, IntegrationResponseId=okid)
    assert [x["IntegrationResponseKey"] for x in
            apigw2.get_integration_responses(ApiId=ws, IntegrationId=iid)["Items"]] == ["$default"]

    with pytest.raises(apigw2.exceptions.NotFoundException) as e:
        apigw2.create_integration_response(ApiId=ws, IntegrationId="nope123", IntegrationResponseKey="$default")
    assert error_of(e)[:2] == (404, "NotFoundException")

    assert status(apigw2.delete_integration(ApiId=ws, IntegrationId=iid)) == 204
    for call in (lambda: apigw2.get_integration_responses(ApiId=ws, IntegrationId=iid),
                 lambda: apigw2.get_integration_response(ApiId=ws, IntegrationId=iid,
                                                         IntegrationResponseId=d["IntegrationResponseId"])):
        with pytest.raises(apigw2.exceptions.NotFoundException):
            call()


def test_request_authorizers(apigw2, ws):
    """WebSocket authorizers are REQUEST only (JWT is 400), with route.request.header/querystring
    identity sources ($request.header.x is 400) and payload format 1.0 (2.0 is 400); get, list,
    update and delete work."""
    a = apigw2.create_authorizer(ApiId=ws, Name="lam", AuthorizerType="REQUEST", AuthorizerUri=LAMBDA_URI,
                                 IdentitySource=["route.request.header.Auth", "route.request.querystring.token"])
    assert status(a) == 201
    aid = a["AuthorizerId"]
    assert a["AuthorizerType"] == "REQUEST" and a["Name"] == "lam"
    assert a["IdentitySource"] == ["route.request.header.Auth", "route.request.querystring.token"]
    assert a["AuthorizerUri"] == LAMBDA_URI
    assert strip(apigw2.get_authorizer(ApiId=ws, AuthorizerId=aid)) == strip(a)
    assert [x["AuthorizerId"] for x in apigw2.get_authorizers(ApiId=ws)["Items"]] == [aid]

    def bad(**kw):
        base = dict(ApiId=ws, Name="x", AuthorizerType="REQUEST", AuthorizerUri=LAMBDA_URI,
                    IdentitySource=["route.request.header.Auth"])
        return bad_request(apigw2, apigw2.create_authorizer, **{**base, **kw})

    bad(AuthorizerType="JWT", IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": "https://issuer.example.com", "Audience": ["a"]})
    bad(IdentitySource=["$request.header.x"])
    bad(IdentitySource=["route.request.header.Auth", "$request.querystring.token"])
    bad(AuthorizerPayloadFormatVersion="2.0")
    assert [x["AuthorizerId"] for x in apigw2.get_authorizers(ApiId=ws)["Items"]] == [aid]

    up = apigw2.update_authorizer(ApiId=ws, AuthorizerId=aid, IdentitySource=["route.request.querystring.t"])
    assert up["IdentitySource"] == ["route.request.querystring.t"] and up["Name"] == "lam"
    bad_request(apigw2, apigw2.update_authorizer, ApiId=ws, AuthorizerId=aid,
                IdentitySource=["$request.header.x"])
    assert apigw2.get_authorizer(ApiId=ws, AuthorizerId=aid)["IdentitySource"] == ["route.request.querystring.t"]

    r = apigw2.create_route(ApiId=ws, RouteKey="$connect", AuthorizationType="CUSTOM", AuthorizerId=aid)
    with pytest.raises(apigw2.exceptions.ConflictException):
        apigw2.delete_authorizer(ApiId=ws, AuthorizerId=aid)
    apigw2.delete_route(ApiId=ws, RouteId=r["RouteId"])
    assert status(apigw2.delete_authorizer(ApiId=ws, AuthorizerId=aid)) == 204
    with pytest.raises(apigw2.exceptions.NotFoundException):
        apigw2.get_authorizer(ApiId=ws, AuthorizerId=aid)


def test_stages_and_deployments(apigw2, ws):
    """Deploying a WebSocket API needs a route; then CreateDeployment, CreateStage with the
    deployment id, GetStages and a redeploy to the stage work as for HTTP APIs."""
    with pytest.raises(apigw2.exceptions.BadRequestException) as e:
        apigw2.create_deployment(ApiId=ws)
    assert error_of(e)[:2] == (400, "BadRequestException")

    integ = mock(apigw2, ws)
    target = f"integrations/{integ['IntegrationId']}"
    for key in ("$connect", "$default", "sendmessage"):
        apigw2.create_route(ApiId=ws, RouteKey=key, Target=target)
    d1 = apigw2.create_deployment(ApiId=ws, Description="first")
    assert status(d1) == 201 and d1["DeploymentStatus"] == "DEPLOYED" and d1["AutoDeployed"] is False
    s = apigw2.create_stage(ApiId=ws, StageName="production", DeploymentId=d1["DeploymentId"],
                            StageVariables={"color": "blue"})
    assert status(s) == 201
    assert s["StageName"] == "production" and s["DeploymentId"] == d1["DeploymentId"]
    assert s["StageVariables"] == {"color": "blue"}
    assert [x["StageName"] for x in apigw2.get_stages(ApiId=ws)["Items"]] == ["production"]

    d2 = apigw2.create_deployment(ApiId=ws, StageName="production")
    assert apigw2.get_stage(ApiId=ws, StageName="production")["DeploymentId"] == d2["DeploymentId"]
    ids = [d["DeploymentId"] for d in apigw2.get_deployments(ApiId=ws)["Items"]]
    assert ids == [d2["DeploymentId"], d1["DeploymentId"]]
    assert status(apigw2.delete_stage(ApiId=ws, StageName="production")) == 204
    assert apigw2.get_stages(ApiId=ws)["Items"] == []


def test_reimport_and_export_refused(apigw2, ws):
    """ReimportApi and ExportApi are for HTTP APIs only: both are 400 on a WebSocket API, which
    keeps its routes."""
    apigw2.create_route(ApiId=ws, RouteKey="sendmessage")
    spec = json.dumps({"openapi": "3.0.1", "info": {"title": "x", "version": "1"},
                       "paths": {"/pets": {"get": {"responses": {"200": {"description": "ok"}}}}}})
    bad_request(apigw2, apigw2.reimport_api, ApiId=ws, Body=spec)
    bad_request(apigw2, apigw2.export_api, ApiId=ws, OutputType="JSON", Specification="OAS30")
    got = apigw2.get_api(ApiId=ws)
    assert got["ProtocolType"] == "WEBSOCKET" and got["RouteSelectionExpression"] == RSE
    assert [x["RouteKey"] for x in apigw2.get_routes(ApiId=ws)["Items"]] == ["sendmessage"]


def aws(portico, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
    return subprocess.run(
        [AWS, "apigatewayv2", *args, "--endpoint-url", f"http://{portico.admin}",
         "--region", "us-east-1", "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60)


def test_cli(portico, apigw2):
    """`aws apigatewayv2` drives a WebSocket API unchanged: create-api with --protocol-type
    WEBSOCKET, create-route, create-route-response, and a refused route selection expression
    fails with BadRequestException on stderr."""
    if not os.path.exists(AWS):
        print(f"aws CLI not found at {AWS}")
        pytest.skip(f"aws CLI not found at {AWS}")
    out = aws(portico, "create-api", "--name", "cli-ws", "--protocol-type", "WEBSOCKET",
              "--route-selection-expression", "$request.body.action")
    assert out.returncode == 0, out.stderr
    api = json.loads(out.stdout)
    api_id = api["ApiId"]
    try:
        assert api["ProtocolType"] == "WEBSOCKET" and api["RouteSelectionExpression"] == "$request.body.action"
        assert api["ApiEndpoint"] == f"https://{api_id}.execute-api.us-east-1.amazonaws.com"

        route = aws(portico, "create-route", "--api-id", api_id, "--route-key", "$connect")
        assert route.returncode == 0, route.stderr
        rid = json.loads(route.stdout)["RouteId"]
        rr = aws(portico, "create-route-response", "--api-id", api_id, "--route-id", rid,
                 "--route-response-key", "$default")
        assert rr.returncode == 0, rr.stderr
        assert json.loads(rr.stdout)["RouteResponseKey"] == "$default"
        routes = aws(portico, "get-routes", "--api-id", api_id)
        assert routes.returncode == 0, routes.stderr
        assert [r["RouteKey"] for r in json.loads(routes.stdout)["Items"]] == ["$connect"]

        bad = aws(portico, "create-api", "--name", "bad", "--protocol-type", "WEBSOCKET",
                  "--route-selection-expression", "action")
        assert bad.returncode in (254, 255)
        assert "BadRequestException" in bad.stderr
    finally:
        deleted = aws(portico, "delete-api", "--api-id", api_id)
    assert deleted.returncode == 0 and deleted.stdout.strip() == "", deleted.stderr
    with pytest.raises(apigw2.exceptions.NotFoundException):
        apigw2.get_api(ApiId=api_id)
