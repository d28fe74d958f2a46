"""ImportApi / ReimportApi / ExportApi for HTTP APIs (apigatewayv2), black-box through boto3 and
plain HTTP, and `portico import` of HTTP API OpenAPI files. AWS's shapes are those of the
research notes (/tmp/research-v2-mgmt.md §11): ImportApi is PUT /v2/apis {"body": doc}; ExportApi
is GET /v2/apis/{id}/exports/OAS30?outputType=JSON|YAML[&includeExtensions][&stageName] and
answers with the raw document."""
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
import yaml
from conftest import BIN, Portico, error_of
from test_http_api_invoke import Backend, call, client

LAMBDA = "arn:aws:lambda:us-east-1:000000000000:function:pets"
ISSUER = "https://issuer.example.com"
NOT_FOUND = b'{"message":"Not Found"}'


@pytest.fixture(scope="module")
def apigw2(portico):
    return client(portico, "apigatewayv2")


@pytest.fixture(scope="module")
def backend():
    b = Backend()
    yield b
    b.server.shutdown()


@pytest.fixture
def made(apigw2):
    """Ids of APIs a test made; deleted afterwards."""
    ids = []
    yield ids
    for i in ids:
        apigw2.delete_api(ApiId=i)


def import_doc(apigw2, made, doc):
    api = apigw2.import_api(Body=doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    made.append(api["ApiId"])
    return api


def export(apigw2, api, output="JSON", **kw):
    """The exported document, parsed (JSON or YAML), and its raw text."""
    body = apigw2.export_api(ApiId=api, Specification="OAS30", OutputType=output, **kw)["body"]
    text = (body.read() if hasattr(body, "read") else body).decode()
    return (json.loads(text) if output == "JSON" else yaml.safe_load(text)), text


def served(fn, want=200, timeout=5):
    """Polls `fn()` (a data-plane response) until its status is `want`; returns the last one."""
    deadline = time.time() + timeout
    while True:
        r = fn()
        if r.status == want or time.time() > deadline:
            return r
        time.sleep(0.05)


def by_key(apigw2, api):
    return {r["RouteKey"]: r for r in apigw2.get_routes(ApiId=api)["Items"]}


def integration_of(apigw2, api, route):
    return apigw2.get_integration(ApiId=api, IntegrationId=route["Target"].split("/", 1)[1])


def ext_keys(v):
    """Every `x-amazon-apigateway-*` key anywhere in a document."""
    if isinstance(v, dict):
        return [k for k in v if k.startswith("x-amazon-apigateway")] + \
            [x for val in v.values() for x in ext_keys(val)]
    if isinstance(v, list):
        return [x for val in v for x in ext_keys(val)]
    return []


FULL = f"""
openapi: 3.0.1
info: {{title: imported-pets, version: "2024-05-01", description: from a file}}
x-amazon-apigateway-cors:
  allowOrigins: ["https://app.example.com"]
  allowMethods: [GET, POST]
  allowHeaders: [authorization]
  maxAge: 300
components:
  securitySchemes:
    my-jwt:
      type: oauth2
      flows: {{}}
      x-amazon-apigateway-authorizer:
        type: jwt
        identitySource: $request.header.Authorization
        jwtConfiguration: {{issuer: "{ISSUER}", audience: [app-client]}}
  x-amazon-apigateway-integrations:
    shared:
      type: http_proxy
      httpMethod: ANY
      uri: http://127.0.0.1:9/shared
      payloadFormatVersion: "1.0"
paths:
  /pets:
    get:
      security: [{{my-jwt: [pets/read, pets/list]}}]
      x-amazon-apigateway-integration: {{$ref: "#/components/x-amazon-apigateway-integrations/shared"}}
    post:
      x-amazon-apigateway-integration: {{$ref: "#/components/x-amazon-apigateway-integrations/shared"}}
  /items/{{proxy+}}:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: http://127.0.0.1:9/items/{{proxy}}
        payloadFormatVersion: "1.0"
  $default:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: aws_proxy
        uri: {LAMBDA}
        payloadFormatVersion: "2.0"
"""


def test_import_api_builds_routes_integrations_authorizer_cors(apigw2, made):
    a = import_doc(apigw2, made, FULL)
    assert a["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert a["Name"] == "imported-pets" and a["ProtocolType"] == "HTTP"
    assert a["Version"] == "2024-05-01" and a["Description"] == "from a file"
    api = a["ApiId"]
    cors = {"AllowOrigins": ["https://app.example.com"], "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["authorization"], "MaxAge": 300, "AllowCredentials": False}
    assert a["CorsConfiguration"] == cors
    got = apigw2.get_api(ApiId=api)
    assert got["CorsConfiguration"] == cors and got["Version"] == "2024-05-01"

    (auth,) = apigw2.get_authorizers(ApiId=api)["Items"]
    assert auth["Name"] == "my-jwt" and auth["AuthorizerType"] == "JWT"
    assert auth["IdentitySource"] == ["$request.header.Authorization"]
    assert auth["JwtConfiguration"] == {"Issuer": ISSUER, "Audience": ["app-client"]}

    routes = by_key(apigw2, api)
    assert sorted(routes) == sorted(["GET /pets", "POST /pets", "ANY /items/{proxy+}", "$default"])
    get = routes["GET /pets"]
    assert get["AuthorizationType"] == "JWT" and get["AuthorizerId"] == auth["AuthorizerId"]
    assert get["AuthorizationScopes"] == ["pets/read", "pets/list"]
    for k in ("POST /pets", "ANY /items/{proxy+}", "$default"):
        assert routes[k]["AuthorizationType"] == "NONE", k
        assert "AuthorizerId" not in routes[k], k

    integs = {i["IntegrationId"]: i for i in apigw2.get_integrations(ApiId=api)["Items"]}
    assert len(integs) == 3, "the $ref'd integration is one integration"
    assert get["Target"] == routes["POST /pets"]["Target"]
    shared = integration_of(apigw2, api, get)
    assert (shared["IntegrationType"], shared["IntegrationUri"], shared["IntegrationMethod"],
            shared["PayloadFormatVersion"]) == ("HTTP_PROXY", "http://127.0.0.1:9/shared", "ANY", "1.0")
    items = integration_of(apigw2, api, routes["ANY /items/{proxy+}"])
    assert items["IntegrationUri"] == "http://127.0.0.1:9/items/{proxy}"
    lam = integration_of(apigw2, api, routes["$default"])
    assert (lam["IntegrationType"], lam["IntegrationUri"], lam["PayloadFormatVersion"]) == \
        ("AWS_PROXY", LAMBDA, "2.0")


def pets_doc(backend, path="/pets/{id}", title="served-pets"):
    return {"openapi": "3.0.1", "info": {"title": title, "version": "1"}, "paths": {path: {"get": {
        "x-amazon-apigateway-integration": {"type": "http_proxy", "httpMethod": "GET",
                                            "uri": backend.url + path, "payloadFormatVersion": "1.0"}}}}}


def test_imported_api_serves(portico, apigw2, made, backend):
    api = import_doc(apigw2, made, pets_doc(backend))["ApiId"]
    apigw2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    r = served(lambda: call(portico, api, "/pets/7?q=1"))
    assert r.status == 200, r.body
    assert r.json()["method"] == "GET" and r.json()["path"] == "/pets/7?q=1"


def build_api(apigw2, made):
    """An API made through the management API: HTTP_PROXY and AWS_PROXY routes, a JWT
    authorizer with scopes on one route, CORS."""
    api = apigw2.create_api(Name="to-export", ProtocolType="HTTP", Version="v9",
                            CorsConfiguration={"AllowOrigins": ["https://a.example"],
                                               "AllowHeaders": ["x-h"], "MaxAge": 60})["ApiId"]
    made.append(api)
    hp = apigw2.create_integration(ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="GET",
                                   IntegrationUri="http://127.0.0.1:9/pets/{id}")["IntegrationId"]
    lp = apigw2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=LAMBDA,
                                   PayloadFormatVersion="2.0")["IntegrationId"]
    auth = apigw2.create_authorizer(ApiId=api, Name="jwt-auth", AuthorizerType="JWT",
                                    IdentitySource=["$request.header.Authorization"],
                                    JwtConfiguration={"Issuer": ISSUER, "Audience": ["aud1"]})
    apigw2.create_route(ApiId=api, RouteKey="GET /pets/{id}", Target=f"integrations/{hp}",
                        AuthorizationType="JWT", AuthorizerId=auth["AuthorizerId"],
                        AuthorizationScopes=["read"])
    apigw2.create_route(ApiId=api, RouteKey="POST /pets", Target=f"integrations/{lp}")
    apigw2.create_route(ApiId=api, RouteKey="$default", Target=f"integrations/{lp}")
    return api


def shape(apigw2, api):
    """What a round trip must keep: per route key, its auth and its integration's settings."""
    out = {}
    for key, r in by_key(apigw2, api).items():
        i = integration_of(apigw2, api, r)
        out[key] = (r["AuthorizationType"], r.get("AuthorizationScopes"), i["IntegrationType"],
                    i["IntegrationUri"], i.get("IntegrationMethod"), i["PayloadFormatVersion"])
    auths = [(a["Name"], a["AuthorizerType"], a["IdentitySource"], a["JwtConfiguration"])
             for a in apigw2.get_authorizers(ApiId=api)["Items"]]
    return out, auths, apigw2.get_api(ApiId=api)["CorsConfiguration"]


def test_export_then_import_round_trip(apigw2, made):
    api = build_api(apigw2, made)
    doc, text = export(apigw2, api, "YAML")
    assert doc["openapi"] == "3.0.1"
    assert doc["x-amazon-apigateway-importexport-version"] == "1.0"
    assert doc["info"]["title"] == "to-export" and doc["info"]["version"] == "v9"
    assert set(doc["paths"]) == {"/pets/{id}", "/pets", "$default"}
    assert doc["paths"]["/pets/{id}"]["get"]["security"] == [{"jwt-auth": ["read"]}]
    for path, method in (("/pets/{id}", "get"), ("/pets", "post"),
                         ("$default", "x-amazon-apigateway-any-method")):
        assert "x-amazon-apigateway-integration" in doc["paths"][path][method], path
    post = doc["paths"]["/pets"]["post"]["x-amazon-apigateway-integration"]
    if "$ref" in post:  # an integration several routes share is written once, in components
        post = doc["components"]["x-amazon-apigateway-integrations"][post["$ref"].rsplit("/", 1)[1]]
    assert post["type"] == "aws_proxy"
    assert doc["x-amazon-apigateway-cors"]["allowOrigins"] == ["https://a.example"]
    as_json, _ = export(apigw2, api, "JSON")
    assert as_json == doc, "the JSON and the YAML export are the same document"

    copy = import_doc(apigw2, made, text)
    assert copy["Name"] == "to-export" and copy["ApiId"] != api
    assert shape(apigw2, copy["ApiId"]) == shape(apigw2, api)


def test_export_without_extensions(apigw2, made):
    api = build_api(apigw2, made)
    bare, _ = export(apigw2, api, "JSON", IncludeExtensions=False)
    assert "get" in bare["paths"]["/pets/{id}"] and "post" in bare["paths"]["/pets"]
    # Like the REST export without extensions, an ANY route (here `$default`) has no plain
    # OpenAPI form, so nothing `x-amazon-apigateway-*` may be written for it either.
    assert ext_keys(bare) == [], "includeExtensions=false still wrote extension keys"


def test_export_of_a_stage(apigw2, made):
    """stageName exports what the stage's deployment froze, not the API's latest routes."""
    api = build_api(apigw2, made)
    apigw2.create_stage(ApiId=api, StageName="dev")
    apigw2.create_deployment(ApiId=api, StageName="dev")
    i = apigw2.create_integration(ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                  IntegrationUri="http://127.0.0.1:9/later")["IntegrationId"]
    apigw2.create_route(ApiId=api, RouteKey="GET /later", Target=f"integrations/{i}")
    staged, _ = export(apigw2, api, "JSON", StageName="dev")
    assert set(staged["paths"]) == {"/pets/{id}", "/pets", "$default"}
    assert staged["servers"][0]["variables"]["basePath"]["default"] == "dev"
    latest, _ = export(apigw2, api, "JSON")
    assert "/later" in latest["paths"]


def test_reimport_replaces_routes_and_auto_deploys(portico, apigw2, made, backend):
    api = import_doc(apigw2, made, pets_doc(backend, "/old", "reimported"))["ApiId"]
    apigw2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    assert served(lambda: call(portico, api, "/old")).status == 200
    out = apigw2.reimport_api(ApiId=api, Body=json.dumps(pets_doc(backend, "/new", "reimported")))
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 201 and out["ApiId"] == api
    assert list(by_key(apigw2, api)) == ["GET /new"]
    r = served(lambda: call(portico, api, "/new"))
    assert r.status == 200 and r.json()["path"] == "/new"
    r = call(portico, api, "/old")
    assert (r.status, r.body) == (404, NOT_FOUND)


@pytest.mark.parametrize("doc,says", [
    ({"swagger": "2.0", "info": {"title": "s", "version": "1"}, "paths": {}}, "OpenAPI 3"),
    ({"openapi": "3.0.1", "info": {"version": "1"}, "paths": {"/a": {"get": {}}}}, "title"),
    ({"openapi": "3.0.1", "info": {"title": "m", "version": "1"}, "paths": {"/a": {"get": {
        "x-amazon-apigateway-integration": {"type": "mock"}}}}}, "proxy integrations"),
])
def test_import_refusals(apigw2, doc, says):
    before = {a["ApiId"] for a in apigw2.get_apis()["Items"]}
    with pytest.raises(apigw2.exceptions.BadRequestException) as e:
        apigw2.import_api(Body=json.dumps(doc))
    status, code, message = error_of(e)
    assert (status, code) == (400, "BadRequestException") and says in message, message
    assert {a["ApiId"] for a in apigw2.get_apis()["Items"]} == before, "nothing was created"


def test_export_refusals(portico, apigw2, made, backend):
    api = import_doc(apigw2, made, pets_doc(backend, "/x", "exported"))["ApiId"]
    with pytest.raises(apigw2.exceptions.BadRequestException) as e:
        apigw2.export_api(ApiId=api, Specification="OAS30", OutputType="XML")
    assert error_of(e)[:2] == (400, "BadRequestException")
    for query in ("", "?outputType=XML"):  # boto3 refuses a missing OutputType itself
        url = f"http://{portico.admin}/v2/apis/{api}/exports/OAS30{query}"
        with pytest.raises(urllib.error.HTTPError) as h:
            urllib.request.urlopen(url, timeout=5)
        assert h.value.code == 400, query
    with pytest.raises(apigw2.exceptions.NotFoundException) as e:
        apigw2.export_api(ApiId="nosuchapi1", Specification="OAS30", OutputType="JSON")
    assert error_of(e)[:2] == (404, "NotFoundException")


def portico_cli(*args):
    out = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PORTICO_LOG": "warn"})
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_cli_import_http_api_file(backend):
    data = tempfile.mkdtemp(prefix="portico-v2-import-")
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "api.yaml")
        with open(f, "w") as fh:
            yaml.safe_dump(pets_doc(backend, "/pets/{id}", "cli-http"), fh)
        first = portico_cli("import", f, "--data-dir", data, "--stage", "$default")
        m = re.search(r'created HTTP API "cli-http" \(id ([a-z0-9]+)\) on stage \$default', first)
        assert m, first
        api = m.group(1)
        again = portico_cli("import", f, "--data-dir", data, "--stage", "$default")
        assert f'updated HTTP API "cli-http" (id {api}) on stage $default' in again, again

        rest = os.path.join(tmp, "rest.yaml")
        with open(rest, "w") as fh:
            yaml.safe_dump({"openapi": "3.0.1", "info": {"title": "cli-rest", "version": "1"},
                            "paths": {"/r": {"get": {"responses": {"200": {"description": "ok"}},
                                                     "x-amazon-apigateway-integration": {
                                "type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
                                "responses": {"default": {"statusCode": "200"}}}}}}}, fh)
        out = portico_cli("import", rest, "--data-dir", data, "--stage", "dev")
        m = re.search(r'created API "cli-rest" \(id ([a-z0-9]+)\), deployment \S+ on stage dev', out)
        assert m and "HTTP API" not in out, out
        rest_id = m.group(1)

    listed = portico_cli("routes", "--data-dir", data)
    assert f"{api} (HTTP API) stage $default" in listed, listed
    assert re.search(rf"^{rest_id} \(cli-rest\) stage dev deployment", listed, re.M), listed

    p = Portico(data_dir=data)
    try:
        r = served(lambda: call(p, api, "/pets/5"))
        assert r.status == 200 and r.json()["path"] == "/pets/5", r.body
    finally:
        p.stop()
