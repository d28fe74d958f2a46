"""GetExport: export a deployed stage as OAS 3.0 and Swagger 2.0 (JSON and YAML, with and without
extensions), re-import the export into a new API and get identical behaviour."""
import json
import os
import time
import urllib.error
import urllib.request

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples", "petstore.yaml")


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_ok(url):
    deadline = time.time() + 5
    while True:
        status, body = http_get(url)
        if status == 200 or time.time() > deadline:
            return status, body
        time.sleep(0.05)


def methods_of(apigw, api_id):
    out = {}
    for r in apigw.get_resources(restApiId=api_id, embed=["methods"], limit=500)["items"]:
        for verb, m in r.get("resourceMethods", {}).items():
            integ = m.get("methodIntegration", {})
            out[(r["path"], verb)] = (integ.get("type"), integ.get("uri"), integ.get("httpMethod"),
                                       integ.get("requestParameters"), integ.get("requestTemplates"),
                                       {k: v.get("responseTemplates") for k, v in integ.get("integrationResponses", {}).items()})
    return out


def test_export_and_reimport_round_trip(apigw, portico):
    with open(EXAMPLE, "rb") as f:
        api_id = apigw.import_rest_api(body=f.read())["id"]
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    original = methods_of(apigw, api_id)

    for export_type, accepts in (("oas30", "application/json"), ("swagger", "application/yaml")):
        exported = apigw.get_export(restApiId=api_id, stageName="dev", exportType=export_type,
                                    parameters={"extensions": "apigateway"}, accepts=accepts)
        assert exported["contentType"] == accepts
        body = exported["body"].read()
        if accepts == "application/json":
            doc = json.loads(body)
            assert doc["openapi"].startswith("3.0")
            assert "x-amazon-apigateway-integration" in doc["paths"]["/ping"]["get"]
        else:
            assert body.startswith(b"swagger:") or b"swagger: " in body[:200]
        copy_id = apigw.import_rest_api(body=body)["id"]
        assert methods_of(apigw, copy_id) == original, export_type
        apigw.create_deployment(restApiId=copy_id, stageName="dev")
        status, text = wait_ok(portico.invoke_url(copy_id, "dev", "/ping"))
        assert (status, json.loads(text)) == (200, {"message": "pong"})
        apigw.delete_rest_api(restApiId=copy_id)

    plain = json.loads(apigw.get_export(restApiId=api_id, stageName="dev", exportType="oas30")["body"].read())
    assert "x-amazon-apigateway" not in json.dumps(plain)
    apigw.delete_rest_api(restApiId=api_id)
