"""Custom domain names and API mappings of HTTP APIs (apigatewayv2), black-box: a domain made with
`create_domain_name`, an API mapping with a multi-level key to a named stage, requests with that
Host served by the stage; the mapping listed, changed and deleted; refusals. The domains are the
account's one set: `apigateway`'s GetBasePathMappings sees a v2 mapping too."""
import http.client
import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import error_of
from test_http_api_invoke import Backend


@pytest.fixture(scope="module")
def env(portico):
    backend = Backend()
    apigw2 = boto3.client("apigatewayv2", endpoint_url=f"http://{portico.admin}",
                          region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    yield portico, apigw2, backend
    backend.server.shutdown()


def get(p, host, path):
    c = http.client.HTTPConnection(p.data_plane, timeout=10)
    c.request("GET", path, headers={"Host": host})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def test_a_mapping_serves_a_stage_under_its_key(env, apigw):
    p, apigw2, backend = env
    api = apigw2.create_api(Name="domained", ProtocolType="HTTP")["ApiId"]
    i = apigw2.create_integration(ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                  IntegrationUri=f"{backend.url}/b/{{id}}")["IntegrationId"]
    apigw2.create_route(ApiId=api, RouteKey="GET /pets/{id}", Target=f"integrations/{i}")
    apigw2.create_stage(ApiId=api, StageName="prod", AutoDeploy=True)
    domain = "pets.example.test"
    d = apigw2.create_domain_name(DomainName=domain, DomainNameConfigurations=[
        {"CertificateArn": "arn:aws:acm:us-east-1:000000000000:certificate/abc",
         "EndpointType": "REGIONAL"}])
    assert d["ApiMappingSelectionExpression"] == "$request.basepath"
    config = d["DomainNameConfigurations"][0]
    assert config["EndpointType"] == "REGIONAL" and config["DomainNameStatus"] == "AVAILABLE"
    assert config["ApiGatewayDomainName"].endswith(".execute-api.us-east-1.amazonaws.com")

    m = apigw2.create_api_mapping(DomainName=domain, ApiId=api, Stage="prod",
                                  ApiMappingKey="v1/pets-api")
    assert (m["ApiId"], m["Stage"], m["ApiMappingKey"]) == (api, "prod", "v1/pets-api")
    status, body = get(p, domain, "/v1/pets-api/pets/9")
    assert status == 200, body
    assert json.loads(body)["path"] == "/b/9"
    assert get(p, domain, "/v2/pets/9")[0] in (403, 404)
    assert [x["ApiMappingId"] for x in apigw2.get_api_mappings(DomainName=domain)["Items"]] \
        == [m["ApiMappingId"]]
    assert apigw2.get_api_mapping(DomainName=domain, ApiMappingId=m["ApiMappingId"])["Stage"] == "prod"
    # The account's one set of domains: apigateway (v1) lists the mapping as a base path.
    assert [b["basePath"] for b in apigw.get_base_path_mappings(domainName=domain)["items"]] \
        == ["v1/pets-api"]

    # The root mapping: every path of the domain.
    root = apigw2.update_api_mapping(DomainName=domain, ApiMappingId=m["ApiMappingId"],
                                     ApiId=api, Stage="prod", ApiMappingKey="")
    assert root["ApiMappingKey"] == ""
    status, body = get(p, domain, "/pets/4")
    assert status == 200 and json.loads(body)["path"] == "/b/4"

    apigw2.delete_api_mapping(DomainName=domain, ApiMappingId=root["ApiMappingId"])
    assert apigw2.get_api_mappings(DomainName=domain)["Items"] == []
    apigw2.delete_domain_name(DomainName=domain)
    with pytest.raises(ClientError) as e:
        apigw2.get_domain_name(DomainName=domain)
    assert error_of(e)[:2] == (404, "NotFoundException")
    apigw2.delete_api(ApiId=api)


def test_mapping_refusals(env):
    _, apigw2, _ = env
    api = apigw2.create_api(Name="refusals", ProtocolType="HTTP",
                            Target="http://127.0.0.1:9")["ApiId"]
    domain = "refused.example.test"
    apigw2.create_domain_name(DomainName=domain, DomainNameConfigurations=[
        {"EndpointType": "REGIONAL"}])
    with pytest.raises(ClientError) as e:
        apigw2.create_api_mapping(DomainName=domain, ApiId="nope000000", Stage="$default")
    assert error_of(e) == (404, "NotFoundException",
                           "Invalid API identifier specified 000000000000:nope000000")
    with pytest.raises(ClientError) as e:
        apigw2.create_api_mapping(DomainName=domain, ApiId=api, Stage="missing")
    assert error_of(e)[:2] == (404, "NotFoundException")
    with pytest.raises(ClientError) as e:
        apigw2.create_api_mapping(DomainName=domain, ApiId=api, Stage="$default",
                                  ApiMappingKey="bad key")
    assert error_of(e)[:2] == (400, "BadRequestException")
    apigw2.create_api_mapping(DomainName=domain, ApiId=api, Stage="$default", ApiMappingKey="a")
    with pytest.raises(ClientError) as e:
        apigw2.create_api_mapping(DomainName=domain, ApiId=api, Stage="$default",
                                  ApiMappingKey="a")
    assert error_of(e)[:2] == (409, "ConflictException")
    with pytest.raises(ClientError) as e:
        apigw2.create_domain_name(DomainName=domain)
    assert error_of(e)[:2] == (409, "ConflictException")
    with pytest.raises(ClientError) as e:
        apigw2.get_api_mappings(DomainName="unknown.example.test")
    assert error_of(e)[:2] == (404, "NotFoundException")
    apigw2.delete_domain_name(DomainName=domain)
    apigw2.delete_api(ApiId=api)
