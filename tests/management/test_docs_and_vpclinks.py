"""Documentation parts and versions, and VPC links (stored; Portico has no VPCs to connect)."""
import json

import pytest
from botocore.exceptions import ClientError
from conftest import error_of


def test_documentation_parts_and_versions(apigw):
    api_id = apigw.create_rest_api(name="docs-api")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    apigw.create_deployment(restApiId=api_id, stageName="prod")

    part = apigw.create_documentation_part(restApiId=api_id, location={"type": "API"},
                                           properties=json.dumps({"info": {"description": "the API"}}))
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 201 and part["location"] == {"type": "API"}
    m = apigw.create_documentation_part(restApiId=api_id, location={"type": "METHOD", "path": "/", "method": "GET"},
                                        properties='{"summary": "root"}')
    with pytest.raises(ClientError) as e:
        apigw.create_documentation_part(restApiId=api_id, location={"type": "API"}, properties="{}")
    assert error_of(e)[:2] == (409, "ConflictException")
    with pytest.raises(ClientError) as e:
        apigw.create_documentation_part(restApiId=api_id, location={"type": "NOPE"}, properties="{}")
    assert error_of(e)[:2] == (400, "ValidationException")
    with pytest.raises(ClientError) as e:
        apigw.create_documentation_part(restApiId=api_id, location={"type": "RESOURCE", "path": "/"}, properties="not json")
    assert error_of(e)[:2] == (400, "BadRequestException")
    assert len(apigw.get_documentation_parts(restApiId=api_id)["items"]) == 2
    assert [p["id"] for p in apigw.get_documentation_parts(restApiId=api_id, type="METHOD")["items"]] == [m["id"]]
    upd = apigw.update_documentation_part(restApiId=api_id, documentationPartId=m["id"], patchOperations=[
        {"op": "replace", "path": "/properties", "value": '{"summary": "the root"}'}])
    assert json.loads(upd["properties"]) == {"summary": "the root"}

    v = apigw.create_documentation_version(restApiId=api_id, documentationVersion="1.0", stageName="prod", description="first")
    assert v["ResponseMetadata"]["HTTPStatusCode"] == 201 and v["version"] == "1.0"
    assert apigw.get_stage(restApiId=api_id, stageName="prod")["documentationVersion"] == "1.0"
    with pytest.raises(ClientError) as e:
        apigw.create_documentation_version(restApiId=api_id, documentationVersion="1.0")
    assert error_of(e)[:2] == (409, "ConflictException")
    assert apigw.update_documentation_version(restApiId=api_id, documentationVersion="1.0", patchOperations=[
        {"op": "replace", "path": "/description", "value": "v1"}])["description"] == "v1"
    assert [x["version"] for x in apigw.get_documentation_versions(restApiId=api_id)["items"]] == ["1.0"]

    doc = {"openapi": "3.0.1", "info": {"title": "x"}, "paths": {},
           "x-amazon-apigateway-documentation": {"version": "2", "documentationParts": [
               {"location": {"type": "API"}, "properties": {"description": "imported"}},
               {"location": {"type": "RESOURCE", "path": "/"}, "properties": {"description": "root"}}]}}
    out = apigw.import_documentation_parts(restApiId=api_id, mode="overwrite", body=json.dumps(doc).encode())
    assert len(out["ids"]) == 2
    parts = apigw.get_documentation_parts(restApiId=api_id)["items"]
    assert sorted(p["location"]["type"] for p in parts) == ["API", "RESOURCE"]
    apigw.delete_documentation_part(restApiId=api_id, documentationPartId=out["ids"][0])
    apigw.delete_documentation_version(restApiId=api_id, documentationVersion="1.0")
    with pytest.raises(ClientError) as e:
        apigw.get_documentation_version(restApiId=api_id, documentationVersion="1.0")
    assert error_of(e)[:2] == (404, "NotFoundException")
    apigw.delete_rest_api(restApiId=api_id)


def test_vpc_links(apigw):
    nlb = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/nlb/abc"
    link = apigw.create_vpc_link(name="to-nlb", targetArns=[nlb])
    assert link["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert link["status"] == "AVAILABLE" and link["targetArns"] == [nlb]
    assert apigw.get_vpc_link(vpcLinkId=link["id"])["name"] == "to-nlb"
    assert [l["id"] for l in apigw.get_vpc_links()["items"]] == [link["id"]]
    assert apigw.update_vpc_link(vpcLinkId=link["id"], patchOperations=[
        {"op": "replace", "path": "/name", "value": "renamed"}])["name"] == "renamed"
    with pytest.raises(ClientError) as e:
        apigw.create_vpc_link(name="bad", targetArns=[])
    assert error_of(e)[:2] == (400, "BadRequestException")
    assert apigw.delete_vpc_link(vpcLinkId=link["id"])["ResponseMetadata"]["HTTPStatusCode"] == 202
    with pytest.raises(ClientError) as e:
        apigw.get_vpc_link(vpcLinkId=link["id"])
    assert error_of(e) == (404, "NotFoundException", "Invalid Vpc Link identifier specified")


def test_model_template_and_domain_name_access_associations(apigw):
    api_id = apigw.create_rest_api(name="template-api")["id"]
    apigw.create_model(restApiId=api_id, name="Pet", contentType="application/json",
                       schema=json.dumps({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}))
    t = apigw.get_model_template(restApiId=api_id, modelName="Pet")["value"]
    assert t.startswith("#set($inputRoot = $input.path('$'))")
    assert '"name" : "$inputRoot.name"' in t and '"age" : $inputRoot.age' in t
    apigw.delete_rest_api(restApiId=api_id)

    domain_arn = "arn:aws:apigateway:us-east-1:000000000000:/domainnames/private.example.com+abc123"
    a = apigw.create_domain_name_access_association(domainNameArn=domain_arn, accessAssociationSourceType="VPCE",
                                                    accessAssociationSource="vpce-0123456789abcdef0")
    assert a["ResponseMetadata"]["HTTPStatusCode"] == 201
    arn = a["domainNameAccessAssociationArn"]
    listed = apigw.get_domain_name_access_associations()["items"]
    assert [x["domainNameAccessAssociationArn"] for x in listed] == [arn]
    assert apigw.get_domain_name_access_associations(resourceOwner="OTHER_ACCOUNTS")["items"] == []
    with pytest.raises(ClientError) as e:
        apigw.create_domain_name_access_association(domainNameArn=domain_arn, accessAssociationSourceType="VPCE",
                                                    accessAssociationSource="not-a-vpce")
    assert error_of(e)[:2] == (400, "BadRequestException")
    apigw.reject_domain_name_access_association(domainNameAccessAssociationArn=arn, domainNameArn=domain_arn)
    assert apigw.get_domain_name_access_associations()["items"] == []
    assert apigw.delete_domain_name_access_association(domainNameAccessAssociationArn=arn)["ResponseMetadata"]["HTTPStatusCode"] == 202


def test_client_certificates(apigw):
    import subprocess
    import tempfile
    c = apigw.generate_client_certificate(description="to backends")
    assert c["ResponseMetadata"]["HTTPStatusCode"] == 201
    pem = c["pemEncodedCertificate"]
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in pem
    assert (c["expirationDate"] - c["createdDate"]).days == 365
    # A real X.509 certificate: openssl parses it (when openssl is installed).
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as f:
        f.write(pem)
        f.flush()
        try:
            out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", f.name], capture_output=True, text=True)
            assert out.returncode == 0 and "portico-client-certificate" in out.stdout, out.stderr
        except FileNotFoundError:
            pass
    cid = c["clientCertificateId"]
    assert apigw.get_client_certificate(clientCertificateId=cid)["pemEncodedCertificate"] == pem
    assert [x["clientCertificateId"] for x in apigw.get_client_certificates()["items"]] == [cid]
    assert apigw.update_client_certificate(clientCertificateId=cid, patchOperations=[
        {"op": "replace", "path": "/description", "value": "renamed"}])["description"] == "renamed"
    assert apigw.delete_client_certificate(clientCertificateId=cid)["ResponseMetadata"]["HTTPStatusCode"] == 202
    with pytest.raises(ClientError) as e:
        apigw.get_client_certificate(clientCertificateId=cid)
    assert error_of(e) == (404, "NotFoundException", "Invalid Client Certificate identifier specified")
