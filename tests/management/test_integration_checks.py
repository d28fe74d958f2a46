"""What PutIntegration / UpdateIntegration / PutIntegrationResponse / PutRestApi check before they
store anything, as AWS does: HTTP endpoint URIs and selection patterns are refused with 400 and the
stored API is left as it was; mapping templates are not parsed when stored (a broken one deploys
and its method answers 500, as on AWS); Java-only regex features in selection patterns work."""
import json
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError
from conftest import error_of

BAD_URIS = [
    "http://exa mple.com/x",
    "http://example.com:99999/x",
    "http://example.com:0/x",
    "http://example.com:/x",
    "http:///x",
    "http://",
    "ftp://example.com/x",
    "example.com/x",
    "http://user:secret@example.com/x",
    "http://example.com/a b",
    "http://example.com/%zz",
    "http://example.com/{unclosed",
    "http://example.com/<x>",
]
GOOD_URIS = [
    "http://example.com",
    "https://example.com:8443/pets/{id}?q=1",
    "http://${stageVariables.host}:${stageVariables.port}/x",
    "https://${stageVariables.url}",
    "http://[::1]:8080/{proxy}",
]


def call(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def api_with_get(apigw, name):
    api_id = apigw.create_rest_api(name=name)["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    return api_id, root


def test_http_endpoint_uris_are_checked_like_aws(apigw):
    api_id, root = api_with_get(apigw, "checks-uri")
    for uri in BAD_URIS:
        for kind in ("HTTP", "HTTP_PROXY"):
            with pytest.raises(ClientError) as e:
                apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type=kind,
                                      integrationHttpMethod="GET", uri=uri)
            assert error_of(e) == (400, "BadRequestException", "Invalid HTTP endpoint specified for URI"), uri
    # Nothing was stored.
    with pytest.raises(ClientError) as e:
        apigw.get_integration(restApiId=api_id, resourceId=root, httpMethod="GET")
    assert error_of(e)[0] == 404
    for uri in GOOD_URIS:
        i = apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="HTTP_PROXY",
                                  integrationHttpMethod="GET", uri=uri)
        assert i["uri"] == uri
    # UpdateIntegration checks the new URI and leaves the stored one alone when refusing.
    for uri in BAD_URIS[:4]:
        with pytest.raises(ClientError) as e:
            apigw.update_integration(restApiId=api_id, resourceId=root, httpMethod="GET",
                                     patchOperations=[{"op": "replace", "path": "/uri", "value": uri}])
        assert error_of(e) == (400, "BadRequestException", "Invalid HTTP endpoint specified for URI"), uri
    assert apigw.get_integration(restApiId=api_id, resourceId=root, httpMethod="GET")["uri"] == GOOD_URIS[-1]
    upd = apigw.update_integration(restApiId=api_id, resourceId=root, httpMethod="GET",
                                   patchOperations=[{"op": "replace", "path": "/uri", "value": GOOD_URIS[0]}])
    assert upd["uri"] == GOOD_URIS[0]
    apigw.delete_rest_api(restApiId=api_id)


def test_selection_patterns_are_checked_and_java_features_select(apigw, portico):
    api_id, root = api_with_get(apigw, "checks-selection")
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": "{\"statusCode\": $input.params('s')}"})
    for code in ("200", "400", "500"):
        apigw.put_method_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode=code)
    for bad in ["5(\\d", "[abc", "*x", "a{3,1}", "x\\"]:
        with pytest.raises(ClientError) as e:
            apigw.put_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET",
                                           statusCode="500", selectionPattern=bad)
        status, code, message = error_of(e)
        assert (status, code) == (400, "BadRequestException"), bad
        assert message.startswith(f"Invalid selection pattern specified: {bad} ("), message
    with pytest.raises(ClientError):
        apigw.get_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="500")

    def respond(code, pattern=None):
        extra = {} if pattern is None else {"selectionPattern": pattern}
        apigw.put_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode=code,
                                       responseTemplates={"application/json": f'{{"picked": {code}}}'}, **extra)

    respond("200")
    respond("400", "(?!404)4\\d\\d")   # look-ahead: any 4xx but 404
    respond("500", "5(\\d)\\1")        # back-reference: 500, 511, 522, ...
    with pytest.raises(ClientError) as e:
        apigw.update_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="500",
                                          patchOperations=[{"op": "replace", "path": "/selectionPattern",
                                                            "value": "5(\\d"}])
    assert error_of(e)[:2] == (400, "BadRequestException")
    assert apigw.get_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET",
                                          statusCode="500")["selectionPattern"] == "5(\\d)\\1"

    apigw.create_deployment(restApiId=api_id, stageName="dev")
    url = portico.invoke_url(api_id, "dev", "/")
    deadline = time.time() + 5
    while call(url + "?s=403")[0] != 400:
        assert time.time() < deadline, "deployment never served"
        time.sleep(0.05)
    expected = {"403": (400, 400), "404": (200, 200), "511": (500, 500), "512": (200, 200), "200": (200, 200)}
    for s, (status, picked) in expected.items():
        got = call(f"{url}?s={s}")
        assert (got[0], json.loads(got[1])) == (status, {"picked": picked}), s
    apigw.delete_rest_api(restApiId=api_id)


def test_templates_are_not_parsed_when_stored_and_a_broken_one_answers_500(apigw, portico):
    api_id, root = api_with_get(apigw, "checks-templates")
    broken = '#if($input.params("x") {"statusCode": 200}'
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": broken})
    apigw.put_method_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200")
    apigw.put_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200",
                                   responseTemplates={"application/json": "#foreach($x in [1..3] oops"})
    assert apigw.get_integration(restApiId=api_id, resourceId=root,
                                 httpMethod="GET")["requestTemplates"]["application/json"] == broken
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    url = portico.invoke_url(api_id, "dev", "/")
    deadline = time.time() + 5
    while call(url)[0] == 403:
        assert time.time() < deadline, "deployment never served"
        time.sleep(0.05)
    assert call(url) == (500, '{"message": "Internal server error"}')
    apigw.delete_rest_api(restApiId=api_id)


def test_import_refuses_bad_uris_and_selection_patterns(apigw):
    def spec(uri, pattern):
        return json.dumps({
            "openapi": "3.0.1", "info": {"title": "checks-import", "version": "1"},
            "paths": {"/x": {"get": {
                "responses": {"200": {"description": "ok"}},
                "x-amazon-apigateway-integration": {
                    "type": "http", "httpMethod": "GET", "uri": uri,
                    "responses": {"default": {"statusCode": "200"}, pattern: {"statusCode": "500"}}}}}}})

    ok = apigw.import_rest_api(body=spec("http://${stageVariables.b}/x", "5\\d{2}"))
    for uri, pattern, needle in [("http://exa mple.com/x", "5\\d{2}", "Invalid HTTP endpoint specified for URI"),
                                 ("http://example.com/x", "5(\\d", "Invalid selection pattern specified")]:
        with pytest.raises(ClientError) as e:
            apigw.import_rest_api(body=spec(uri, pattern))
        assert error_of(e)[:2] == (400, "BadRequestException")
        assert needle in error_of(e)[2]
        with pytest.raises(ClientError) as e:
            apigw.put_rest_api(restApiId=ok["id"], mode="overwrite", body=spec(uri, pattern))
        assert needle in error_of(e)[2]
    resources = apigw.get_resources(restApiId=ok["id"], embed=["methods"])["items"]
    x = next(r for r in resources if r["path"] == "/x")
    assert x["resourceMethods"]["GET"]["methodIntegration"]["uri"] == "http://${stageVariables.b}/x"
    apigw.delete_rest_api(restApiId=ok["id"])


def test_tls_config_round_trips_and_an_https_backend_deploys_without_warning(apigw, portico):
    api_id, root = api_with_get(apigw, "checks-tls")
    i = apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="HTTP_PROXY",
                              integrationHttpMethod="GET", uri="https://127.0.0.1:1/x",
                              tlsConfig={"insecureSkipVerification": True})
    assert i["tlsConfig"] == {"insecureSkipVerification": True}
    got = apigw.get_integration(restApiId=api_id, resourceId=root, httpMethod="GET")
    assert got["tlsConfig"] == {"insecureSkipVerification": True}
    upd = apigw.update_integration(restApiId=api_id, resourceId=root, httpMethod="GET",
                                   patchOperations=[{"op": "replace", "path": "/tlsConfig/insecureSkipVerification",
                                                     "value": "false"}])
    assert upd["tlsConfig"] == {"insecureSkipVerification": False}
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    # Nothing listens on port 1: the https backend is unreachable (502), not unsupported (500).
    url = portico.invoke_url(api_id, "dev", "/")
    deadline = time.time() + 5
    while (got := call(url))[0] == 403:
        assert time.time() < deadline, "deployment never served"
        time.sleep(0.05)
    assert got == (502, '{"message": "Internal server error"}')
    apigw.delete_rest_api(restApiId=api_id)
