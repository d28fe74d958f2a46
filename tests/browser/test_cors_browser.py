"""CORS as a real browser sees it: headless Chromium loads a page from one origin (127.0.0.1 on the
page server's port) and fetch()es a REST API of Portico on another (127.0.0.1 on the data plane's
port). Without CORS the browser blocks the calls; after CORS is set up the way the AWS console's
"Enable CORS" does it (an OPTIONS MOCK method plus Access-Control-Allow-Origin on the methods'
responses), a simple GET and a preflighted PUT go through; gateway-made errors are readable from
the page only once the DEFAULT_4XX gateway response carries Access-Control-Allow-Origin.

`enable_cors_manually` is the console's way; a test of `portico cors enable` can pass its own
`enable_cors` to `check_cors_in_browser` instead."""
import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from browser import PageServer, browser_unavailable, call, probe
from conftest import BIN

STAGE = "dev"
ITEMS = '{"items": ["a", "b"]}'
CONSOLE_ALLOW_HEADERS = "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token"

# Skipped (reason shown by `pytest -rs`, as scripts/test.sh runs it) before Portico even starts.
UNAVAILABLE = browser_unavailable()
pytestmark = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"browser test: {UNAVAILABLE}")


def http(method, url, headers=None, body=None):
    """(status, lower-cased headers, body text) of one request outside the browser."""
    req = urllib.request.Request(url, method=method, headers=headers or {},
                                 data=body.encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()


def explain(result, seen=None):
    """An assertion message: what the page saw, and what the gateway answered outside it."""
    lines = [f"the page saw: {result!r}"]
    for name, (status, headers, body) in (seen or {}).items():
        lines.append(f"outside the browser, {name}: {status} {headers} {body[:300]!r}")
    return "\n".join(lines)


def wait_until(check, what, timeout=5, required=True):
    """Polls `check()` (returning a truthy value when done) until it holds; the deployment is
    picked up by the change feed a moment after `create_deployment`. Not `required`: gives up
    quietly, so that the browser's own verdict is the failure reported."""
    deadline = time.time() + timeout
    while True:
        got = check()
        if got or (time.time() > deadline and not required):
            return got
        if time.time() > deadline:
            raise AssertionError(f"{what}: never happened")
        time.sleep(0.05)


def mock_method(apigw, api_id, resource_id, http_method, body):
    """A MOCK method answering 200 with `body` as JSON; no CORS headers of its own."""
    apigw.put_method(restApiId=api_id, resourceId=resource_id, httpMethod=http_method,
                     authorizationType="NONE")
    apigw.put_method_response(restApiId=api_id, resourceId=resource_id, httpMethod=http_method,
                              statusCode="200", responseModels={"application/json": "Empty"})
    apigw.put_integration(restApiId=api_id, resourceId=resource_id, httpMethod=http_method,
                          type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=resource_id,
                                   httpMethod=http_method, statusCode="200",
                                   responseTemplates={"application/json": body})


def items_api(apigw, name):
    """A REST API with MOCK GET and PUT on /items; returns (api id, /items resource id)."""
    api_id = apigw.create_rest_api(name=name)["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    items = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="items")["id"]
    mock_method(apigw, api_id, items, "GET", ITEMS)
    mock_method(apigw, api_id, items, "PUT", '{"stored": true}')
    return api_id, items


def deploy(apigw, api_id):
    return apigw.create_deployment(restApiId=api_id, stageName=STAGE)["id"]


def enable_cors_manually(apigw, api_id, resource_id, methods, allow_origin="'*'",
                         allow_headers=CONSOLE_ALLOW_HEADERS):
    """CORS on one resource the way the AWS console's "Enable CORS" sets it up, by hand: an
    OPTIONS method (authorization NONE, MOCK integration with `{"statusCode": 200}`) whose 200
    method response declares Access-Control-Allow-Headers/-Methods/-Origin and whose integration
    response maps them to quoted literals; and Access-Control-Allow-Origin added to the 200
    method response and integration response of each of `methods`. `allow_origin` is the quoted
    literal (`"'*'"` or `"'http://host:port'"`). The caller redeploys."""
    allowed = ",".join(sorted({*methods, "OPTIONS"}))
    header = "method.response.header.Access-Control-Allow-{}".format
    apigw.put_method(restApiId=api_id, resourceId=resource_id, httpMethod="OPTIONS",
                     authorizationType="NONE")
    apigw.put_method_response(
        restApiId=api_id, resourceId=resource_id, httpMethod="OPTIONS", statusCode="200",
        responseModels={"application/json": "Empty"},
        responseParameters={header("Headers"): False, header("Methods"): False,
                            header("Origin"): False})
    apigw.put_integration(restApiId=api_id, resourceId=resource_id, httpMethod="OPTIONS",
                          type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(
        restApiId=api_id, resourceId=resource_id, httpMethod="OPTIONS", statusCode="200",
        responseTemplates={"application/json": ""},
        responseParameters={header("Headers"): f"'{allow_headers}'",
                            header("Methods"): f"'{allowed}'",
                            header("Origin"): allow_origin})
    for method in methods:
        apigw.update_method_response(
            restApiId=api_id, resourceId=resource_id, httpMethod=method, statusCode="200",
            patchOperations=[{"op": "add", "path": "/responseParameters/" + header("Origin"),
                              "value": "false"}])
        apigw.update_integration_response(
            restApiId=api_id, resourceId=resource_id, httpMethod=method, statusCode="200",
            patchOperations=[{"op": "add", "path": "/responseParameters/" + header("Origin"),
                              "value": allow_origin}])


def check_cors_in_browser(portico, apigw, enable_cors, name):
    """Before `enable_cors(apigw, api_id, resource_id, methods, allow_headers=...)` the browser
    blocks a GET and a preflighted PUT of /items; after it (and a redeployment) both go through."""
    api_id, items = items_api(apigw, name)
    deploy(apigw, api_id)
    url = portico.invoke_url(api_id, STAGE, "/items")
    wait_until(lambda: http("GET", url)[0] == 200, "GET /items deployed")

    with PageServer() as page:
        get = call(url)
        put = call(url, "PUT", {"Content-Type": "application/json", "X-Custom": "1"},
                   json.dumps({"name": "c"}))
        preflight = ("OPTIONS", url, {"Origin": page.origin,
                                      "Access-Control-Request-Method": "PUT",
                                      "Access-Control-Request-Headers": "content-type,x-custom"})

        # (a) No CORS: the gateway answers (200 outside the browser) but the page may not read it.
        status, headers, body = http("GET", url, {"Origin": page.origin})
        assert (status, json.loads(body)) == (200, json.loads(ITEMS))
        assert "access-control-allow-origin" not in headers
        got_get, got_put = probe(page.url, [get, put])
        assert got_get.blocked_by_cors, explain(got_get)
        assert any("No 'Access-Control-Allow-Origin' header" in m for m in got_get.console), explain(got_get)
        assert got_put.blocked_by_cors, explain(got_put)
        assert any("preflight" in m for m in got_put.console), explain(got_put)

        # (b) CORS set up and redeployed: the simple GET and the preflighted PUT both go through.
        enable_cors(apigw, api_id, items, ["GET", "PUT"],
                    allow_headers=CONSOLE_ALLOW_HEADERS + ",X-Custom")
        deploy(apigw, api_id)
        wait_until(lambda: http(*preflight)[0] == 200, "OPTIONS /items deployed", required=False)
        # What the gateway answers outside the browser, shown when the browser disagrees.
        seen = {"preflight": http(*preflight), "get": http("GET", url, {"Origin": page.origin})}

        got_get, got_put, with_cookies = probe(page.url, [get, put, {**get, "credentials": "include"}])
        assert (got_get.ok, got_get.status, got_get.type) == (True, 200, "cors"), explain(got_get, seen)
        assert got_get.json == json.loads(ITEMS)
        assert got_get.console == []
        assert (got_put.ok, got_put.status) == (True, 200), explain(got_put, seen)
        assert got_put.json == {"stored": True}
        status, headers, body = seen["preflight"]
        served = {k: v for k, v in headers.items() if k.startswith("access-control-")}
        assert served == {"access-control-allow-origin": "*",
                          "access-control-allow-methods": "GET,OPTIONS,PUT",
                          "access-control-allow-headers": CONSOLE_ALLOW_HEADERS + ",X-Custom"}, \
            f"preflight answered {seen['preflight']}"
        # The browser is strict: `*` never allows a credentialed call.
        assert with_cookies.blocked_by_cors, explain(with_cookies)
        assert any("wildcard" in m for m in with_cookies.console), explain(with_cookies)


def test_console_style_cors_lets_the_browser_call_the_api(portico, apigw):
    check_cors_in_browser(portico, apigw, enable_cors_manually, "browser-cors-manual")


def test_gateway_errors_are_readable_only_with_cors_on_default_4xx(portico, apigw):
    api_id, items = items_api(apigw, "browser-cors-4xx")
    enable_cors_manually(apigw, api_id, items, ["GET", "PUT"])
    deploy(apigw, api_id)
    good = portico.invoke_url(api_id, STAGE, "/items")
    missing = portico.invoke_url(api_id, STAGE, "/nothing-here")
    wait_until(lambda: http("GET", good)[0] == 200, "GET /items deployed")
    status, headers, body = http("GET", missing)
    assert status == 403 and json.loads(body) == {"message": "Missing Authentication Token"}
    assert "access-control-allow-origin" not in headers

    with PageServer() as page:
        got_good, got_missing = probe(page.url, [call(good), call(missing)])
        assert got_good.ok, explain(got_good)
        # The page cannot even learn the status of a gateway-made error without CORS headers.
        assert got_missing.blocked_by_cors, explain(got_missing)

        apigw.put_gateway_response(
            restApiId=api_id, responseType="DEFAULT_4XX",
            responseParameters={"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"})
        deploy(apigw, api_id)
        wait_until(lambda: "access-control-allow-origin" in http("GET", missing)[1],
                   "DEFAULT_4XX with Access-Control-Allow-Origin deployed")

        (got_missing,) = probe(page.url, [call(missing)])
        assert (got_missing.ok, got_missing.status, got_missing.type) == (False, 403, "cors"), explain(got_missing)
        assert got_missing.json == {"message": "Missing Authentication Token"}
        assert got_missing.console == []


def enable_cors_with_the_command(portico):
    """`portico cors enable` on the running Portico's store, with the DEFAULT_4XX/5XX gateway
    responses too (the caller redeploys, as after the console)."""

    def enable(apigw, api_id, resource_id, methods, allow_headers=CONSOLE_ALLOW_HEADERS):
        path = next(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]
                    if r["id"] == resource_id)
        out = subprocess.run(
            [BIN, "cors", "enable", "--data-dir", portico.data, "--api", api_id, "--path", path,
             "--allow-headers", allow_headers, "--gateway-responses"],
            capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        for m in methods:
            assert f"{m}: Access-Control-Allow-Origin added" in out.stdout, out.stdout
    return enable


def test_portico_cors_enable_lets_the_browser_call_the_api_and_read_its_errors(portico, apigw):
    check_cors_in_browser(portico, apigw, enable_cors_with_the_command(portico), "browser-cors-command")
    api_id = next(a["id"] for a in apigw.get_rest_apis()["items"] if a["name"] == "browser-cors-command")
    # What the command made is what the console makes, read back through the management API.
    items = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/items")
    options = apigw.get_method(restApiId=api_id, resourceId=items["id"], httpMethod="OPTIONS")
    assert options["authorizationType"] == "NONE" and options["apiKeyRequired"] is False
    assert options["methodIntegration"]["type"] == "MOCK"
    assert options["methodIntegration"]["requestTemplates"] == {"application/json": '{"statusCode": 200}'}
    assert options["methodResponses"]["200"]["responseModels"] == {"application/json": "Empty"}
    gr = apigw.get_gateway_response(restApiId=api_id, responseType="DEFAULT_4XX")
    assert gr["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'"
    # A gateway-made error is readable from the page.
    missing = portico.invoke_url(api_id, STAGE, "/nothing-here")
    with PageServer() as page:
        (got,) = probe(page.url, [call(missing)])
    assert (got.ok, got.status, got.type) == (False, 403, "cors"), explain(got)
    assert got.json == {"message": "Missing Authentication Token"}


def test_portico_cors_enable_refuses_a_wildcard_with_credentials(portico, apigw):
    api_id, _ = items_api(apigw, "browser-cors-refused")
    out = subprocess.run(
        [BIN, "cors", "enable", "--data-dir", portico.data, "--api", api_id, "--path", "/items",
         "--allow-credentials"], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "Access-Control-Allow-Credentials cannot be used with Access-Control-Allow-Origin *" in out.stderr
    out = subprocess.run(
        [BIN, "cors", "enable", "--data-dir", portico.data, "--api", api_id, "--path", "/nope"],
        capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "has no resource /nope" in out.stderr, out.stderr
    # Nothing was written: /items still has no OPTIONS method.
    items = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/items")
    assert "OPTIONS" not in items.get("resourceMethods", {})
