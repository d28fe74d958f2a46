"""Every gateway response type the data plane produces today, triggered by real requests, first
with AWS's defaults and then overridden per type (status, a header from a request variable and
a template with `$context.error.*`). Types whose producers are not built yet (authorizers, API
keys, throttling, WAF) are listed in docs/compatibility.md."""
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Slow(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(1)
        try:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"late")
        except OSError:
            pass

    def log_message(self, *args):
        pass


def call(url, method="GET", body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), {k.lower(): v for k, v in e.headers.items()}


def build(apigw, slow_port):
    api_id = apigw.create_rest_api(name="gateway-response-types")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    validator = apigw.create_request_validator(restApiId=api_id, name="all", validateRequestBody=True,
                                               validateRequestParameters=True)["id"]
    apigw.create_model(restApiId=api_id, name="Thing", contentType="application/json",
                       schema=json.dumps({"type": "object", "required": ["a"]}))

    def resource(path, method="GET", **kw):
        rid = apigw.create_resource(restApiId=api_id, parentId=root, pathPart=path)["id"]
        apigw.put_method(restApiId=api_id, resourceId=rid, httpMethod=method, authorizationType="NONE", **kw)
        return rid

    rid = resource("params", requestValidatorId=validator,
                   requestParameters={"method.request.querystring.q": True})
    apigw.put_integration(restApiId=api_id, resourceId=rid, httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200")

    rid = resource("body", "POST", requestValidatorId=validator, requestModels={"application/json": "Thing"})
    apigw.put_integration(restApiId=api_id, resourceId=rid, httpMethod="POST", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=rid, httpMethod="POST", statusCode="200")

    rid = resource("media", "POST")
    apigw.put_integration(restApiId=api_id, resourceId=rid, httpMethod="POST", type="MOCK",
                          passthroughBehavior="NEVER", requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=rid, httpMethod="POST", statusCode="200")

    rid = resource("config")  # MOCK selecting a status with no integration response
    apigw.put_integration(restApiId=api_id, resourceId=rid, httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 201}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200",
                                   selectionPattern="200")

    rid = resource("slow")
    apigw.put_integration(restApiId=api_id, resourceId=rid, httpMethod="GET", type="HTTP_PROXY",
                          integrationHttpMethod="GET", uri=f"http://127.0.0.1:{slow_port}/", timeoutInMillis=100)
    return api_id


TRIGGERS = {
    # type: (path, method, body, headers, default status, default body)
    "MISSING_AUTHENTICATION_TOKEN": ("/nowhere", "GET", None, {}, 403, '{"message":"Missing Authentication Token"}'),
    "BAD_REQUEST_PARAMETERS": ("/params", "GET", None, {}, 400,
                               '{"message":"Missing required request parameters: [q]"}'),
    "BAD_REQUEST_BODY": ("/body", "POST", b"{}", {"Content-Type": "application/json"}, 400,
                         '{"message":"Invalid request body"}'),
    "UNSUPPORTED_MEDIA_TYPE": ("/media", "POST", b"x", {"Content-Type": "text/plain"}, 415,
                               '{"message":"Unsupported Media Type"}'),
    "API_CONFIGURATION_ERROR": ("/config", "GET", None, {}, 500, '{"message": "Internal server error"}'),
    "INTEGRATION_TIMEOUT": ("/slow", "GET", None, {}, 504, '{"message": "Endpoint request timed out"}'),
}


def test_each_produced_type_with_defaults_and_overrides(apigw, portico):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api_id = build(apigw, server.server_address[1])
        apigw.create_deployment(restApiId=api_id, stageName="dev")
        url = lambda path: portico.invoke_url(api_id, "dev", path)  # noqa: E731
        deadline = time.time() + 5
        while call(url("/params"))[0] != 400:
            assert time.time() < deadline
            time.sleep(0.05)
        for kind, (path, method, body, headers, status, default) in TRIGGERS.items():
            got = call(url(path), method, body, headers)
            assert (got[0], got[1]) == (status, default), kind

        for i, kind in enumerate(TRIGGERS):
            apigw.put_gateway_response(
                restApiId=api_id, responseType=kind, statusCode=str(460 + i),
                responseParameters={"gatewayresponse.header.x-kind": f"'{kind}'",
                                    "gatewayresponse.header.x-trace": "method.request.header.x-trace"},
                responseTemplates={"application/json":
                                   '{"type":"$context.error.responseType","msg":$context.error.messageString,'
                                   '"stage":"$context.stage"}'})
        apigw.create_deployment(restApiId=api_id, stageName="dev")
        deadline = time.time() + 5
        while call(url("/params"))[0] != 461:
            assert time.time() < deadline
            time.sleep(0.05)
        for i, (kind, (path, method, body, headers, _, default)) in enumerate(TRIGGERS.items()):
            status, text, hdrs = call(url(path), method, body, dict(headers, **{"x-trace": "t-1"}))
            assert status == 460 + i, kind
            assert hdrs["x-kind"] == kind and hdrs["x-trace"] == "t-1", kind
            assert json.loads(text) == {"type": kind, "msg": json.loads(default).get("message"), "stage": "dev"}, kind
    finally:
        server.shutdown()
