"""One canonical path for HTTP APIs (security T11), black-box: what a backend could read as
another resource never reaches it — through the `$default` route, which appends the whole path,
or through an `overwrite:path` mapping built from request data — and the client gets 400."""
import http.client

import boto3
import pytest
from botocore.config import Config

from test_http_api_invoke import Backend


@pytest.fixture(scope="module")
def env(portico):
    backend = Backend()
    apigw2 = boto3.client("apigatewayv2", endpoint_url=f"http://{portico.admin}",
                          region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    yield portico, apigw2, backend
    backend.server.shutdown()


def get(p, api, path):
    c = http.client.HTTPConnection(p.data_plane, timeout=10)
    c.request("GET", path, headers={"Host": f"{api}.execute-api.localhost"})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


@pytest.mark.parametrize("path", ["/public/..%2fadmin", "/public/%2e%2e%2fadmin", "/a%2Fb",
                                  "/a%5Cb", "/a;b", "/public/../admin", "/a%00b"])
def test_default_route_never_forwards_another_resource(env, path):
    p, apigw2, backend = env
    api = apigw2.create_api(Name="t11", ProtocolType="HTTP", Target=f"{backend.url}/base")["ApiId"]
    before = len(backend.hits)
    status, _ = get(p, api, path)
    assert status == 400
    assert len(backend.hits) == before, "the request reached the backend"
    assert get(p, api, "/public/ok")[0] == 200
    apigw2.delete_api(ApiId=api)


def test_a_mapped_path_stays_a_path(env):
    p, apigw2, backend = env
    api = apigw2.create_api(Name="t11-mapping", ProtocolType="HTTP")["ApiId"]
    i = apigw2.create_integration(
        ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="GET",
        IntegrationUri=f"{backend.url}/x",
        RequestParameters={"overwrite:path": "/files/${request.querystring.name}"})["IntegrationId"]
    apigw2.create_route(ApiId=api, RouteKey="GET /file", Target=f"integrations/{i}")
    apigw2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    before = len(backend.hits)
    for bad in ("..%2Fadmin", "a%3Fadmin%3D1", "%2E%2E", "a%23b"):
        status, _ = get(p, api, f"/file?name={bad}")
        assert status == 400, bad
    assert len(backend.hits) == before
    assert get(p, api, "/file?name=report.txt")[0] == 200
    assert backend.hits[-1] == ("GET", "/files/report.txt?name=report.txt")
    apigw2.delete_api(ApiId=api)
