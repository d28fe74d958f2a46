"""The HTTP API (apigatewayv2) data plane, black-box: APIs made with boto3's apigatewayv2 client,
requests sent as plain HTTP to `{apiId}.execute-api.localhost` (Host style) or to
`/restapis/{apiId}/{stage}/_user_request_/...` (path style), answered by a real local HTTP
backend (HTTP_PROXY) or by local Lambda functions (AWS_PROXY, payload 2.0 and 1.0).
What AWS does is taken from its developer guide and real captures (see the research notes,
/tmp/research-v2-data.md); each test cites the section it relies on."""
import base64
import http.client
import io
import json
import re
import socket
import stat
import threading
import time
import uuid
import zipfile
from collections import namedtuple
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
NOT_FOUND = b'{"message":"Not Found"}'
INTERNAL = b'{"message":"Internal Server Error"}'


# ---------------------------------------------------------------------------------------------
# A real HTTP backend: echoes what it got as JSON. A path containing "sleep" waits 3 s first; one
# containing "cors" answers with its own `Access-Control-Allow-Origin: *`.

class Backend:
    def __init__(self):
        self.hits = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {}
                for k, v in self.headers.items():
                    k = k.lower()
                    headers[k] = f"{headers[k]},{v}" if k in headers else v
                backend.hits.append((self.command, self.path))
                if "sleep" in self.path:
                    time.sleep(3)
                out = json.dumps({"method": self.command, "path": self.path, "headers": headers,
                                  "body": body.decode("utf-8", "replace")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if "cors" in self.path:
                    self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def backend():
    b = Backend()
    yield b
    b.server.shutdown()


# ---------------------------------------------------------------------------------------------
# Clients, Lambda functions, API builders.

def client(portico, service):
    return boto3.client(service, endpoint_url=f"http://{portico.admin}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def apigw2(portico):
    return client(portico, "apigatewayv2")


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o644 | stat.S_IFREG) << 16
            z.writestr(info, data)
    return buf.getvalue()


ECHO = """
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""

# Answers by `case` (the path parameter): what a 2.0 (or 1.0) function may return.
RESPOND = """
import base64
CASES = {
    "hello": "hello",
    "message": {"message": "hi"},
    "bodyonly": {"body": "x"},
    "created": {"statusCode": 201, "body": '{"a":1}'},
    "cookies": {"statusCode": 200, "cookies": ["a=1", "b=2; Secure"], "headers": {"x-y": "z"}, "body": "ok"},
    "binary": {"statusCode": 200, "isBase64Encoded": True,
               "body": base64.b64encode(bytes(range(256))).decode()},
    "badstatus": {"statusCode": "abc"},
}
def handler(event, context):
    case = (event.get("pathParameters") or {}).get("case")
    if case == "raise":
        raise RuntimeError("boom")
    return CASES[case]
"""


@pytest.fixture(scope="module")
def functions(portico):
    """ARNs of the echo and the responder functions (Python, Portico's local Lambda)."""
    lam = client(portico, "lambda")
    arns = {}
    for key, code in (("echo", ECHO), ("respond", RESPOND)):
        name = f"v2-{key}-{uuid.uuid4().hex[:8]}"
        lam.create_function(FunctionName=name, Runtime="python3.12", Handler="index.handler",
                            Role=ROLE, Code={"ZipFile": zip_of({"index.py": code})})
        arns[key] = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    yield arns
    for arn in arns.values():
        lam.delete_function(FunctionName=arn.rsplit(":", 1)[1])


def add_route(apigw2, api, route_key, uri, version="2.0", **integration):
    """An integration for `uri` (http… → HTTP_PROXY, else AWS_PROXY with `version`) and a route
    to it."""
    if uri.startswith("http"):
        kw = dict(IntegrationType="HTTP_PROXY", IntegrationMethod="ANY", IntegrationUri=uri)
    else:
        kw = dict(IntegrationType="AWS_PROXY", IntegrationUri=uri, PayloadFormatVersion=version)
    i = apigw2.create_integration(ApiId=api, **kw, **integration)["IntegrationId"]
    apigw2.create_route(ApiId=api, RouteKey=route_key, Target=f"integrations/{i}")


@pytest.fixture
def make_api(apigw2):
    """Builds HTTP APIs — `routes` maps route keys to integration URIs (or (uri, kwargs)) — with
    an auto-deployed `$default` stage unless `default_stage=False`; deletes them afterwards."""
    made = []

    def make(routes, default_stage=True, **api_kw):
        api = apigw2.create_api(Name=f"invoke-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP", **api_kw)["ApiId"]
        made.append(api)
        for key, target in routes.items():
            uri, kw = target if isinstance(target, tuple) else (target, {})
            add_route(apigw2, api, key, uri, **kw)
        if default_stage:
            apigw2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
        return api

    yield make
    for api in made:
        apigw2.delete_api(ApiId=api)


# ---------------------------------------------------------------------------------------------
# Requests.

Resp = namedtuple("Resp", "status headers body")
Resp.json = lambda self: json.loads(self.body)


def call(portico, api, path, method="GET", headers=(), body=None, host=True):
    """One request; `host=True` sends `Host: {api}.execute-api.localhost`, else `path` is a
    path-style address sent to the data plane's own host. `headers` may repeat names."""
    conn = http.client.HTTPConnection(portico.data_plane, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", f"{api}.execute-api.localhost" if host else portico.data_plane)
        for k, v in (headers.items() if isinstance(headers, dict) else headers):
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return Resp(r.status, r.headers, r.read())
    finally:
        conn.close()


def path_style(api, stage, path):
    return f"/restapis/{api}/{stage}/_user_request_{path}"


def cors_headers(r):
    return {k.lower(): v for k, v in r.headers.items() if k.lower().startswith("access-control-")}


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------------------------------------
# 1. Routing (research §4, §5, §6).

@pytest.mark.parametrize("method,path,backend_path", [
    ("GET", "/pets/dog/1", "/r1"),      # exact route
    ("GET", "/pets/dog/2", "/r2"),      # {id} route
    ("GET", "/pets/cat/1", "/r3"),      # GET /pets/{proxy+}
    ("POST", "/test/5", "/r4"),         # ANY /{proxy+}
    ("GET", "/x", "/r6"),               # explicit method beats ANY on the same path
    ("DELETE", "/x", "/r7"),            # ... which takes the other methods
])
def test_route_priority(portico, backend, make_api, method, path, backend_path):
    """AWS's route-priority table (DOC-ROUTES): the backend path tells which route ran."""
    u = backend.url
    api = make_api({"GET /pets/dog/1": f"{u}/r1", "GET /pets/dog/{id}": f"{u}/r2",
                    "GET /pets/{proxy+}": f"{u}/r3", "ANY /{proxy+}": f"{u}/r4",
                    "$default": f"{u}/r5", "GET /x": f"{u}/r6", "ANY /x": f"{u}/r7"})
    r = call(portico, api, path, method=method)
    assert r.status == 200, r.body
    assert (r.json()["method"], r.json()["path"]) == (method, backend_path)


def test_unmatched_route_without_default_is_404(portico, backend, make_api):
    """No route and no `$default` route → 404 `{"message":"Not Found"}` (application/json), with
    `apigw-requestid` (16 chars ending '=') and no REST-style `x-amzn-RequestId` (§4, §5)."""
    api = make_api({"GET /only": f"{backend.url}/r1"})
    for method, path in (("GET", "/nothing"), ("POST", "/only"), ("GET", "/only/more")):
        r = call(portico, api, path, method=method)
        assert (r.status, r.body) == (404, NOT_FOUND), (method, path)
        assert r.headers["Content-Type"] == "application/json"
        assert re.fullmatch(r"[A-Za-z0-9_-]{15}=", r.headers["apigw-requestid"])
        assert r.headers["x-amzn-RequestId"] is None and r.headers["x-amz-apigw-id"] is None
    ok = call(portico, api, "/only")
    assert ok.status == 200 and re.fullmatch(r"[A-Za-z0-9_-]{15}=", ok.headers["apigw-requestid"])
    assert ok.headers["x-amzn-RequestId"] is None


def test_integration_uri_rendering(portico, backend, make_api):
    """`$default` appends the whole request path to its URI; other routes use their URI as is
    with `{id}` / `{proxy}` filled; the query string goes along; the backend sees
    x-forwarded-for and x-forwarded-proto (§6)."""
    u = backend.url
    api = make_api({"GET /only": f"{u}/r1", "GET /items/{id}": f"{u}/item/{{id}}",
                    "GET /files/{proxy+}": f"{u}/f/{{proxy}}", "$default": f"{u}/base"})
    cases = [("/a/b?q=1", "/base/a/b?q=1"), ("/only?z=2&z=3", "/r1?z=2&z=3"),
             ("/items/42?x=1", "/item/42?x=1"), ("/files/a/b/c.txt", "/f/a/b/c.txt")]
    for path, want in cases:
        r = call(portico, api, path, headers={"X-Client": "yes"})
        assert r.status == 200, (path, r.body)
        got = r.json()
        assert got["path"] == want, path
        assert got["headers"]["x-client"] == "yes"
        assert got["headers"]["x-forwarded-for"].split(",")[-1].strip() == "127.0.0.1"
        assert got["headers"]["x-forwarded-proto"] in ("http", "https")


# ---------------------------------------------------------------------------------------------
# 2. Stages (§4).

def test_named_stage_and_default_stage(portico, backend, apigw2, make_api):
    """A named stage serves under `/{stage}/…` (Host style), `$default` at the root; path style
    reaches both; the stage's own variables show which stage served."""
    api = make_api({"GET /hello": f"{backend.url}/${{stageVariables.s}}/hello"}, default_stage=False)
    apigw2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True, StageVariables={"s": "root"})
    apigw2.create_stage(ApiId=api, StageName="dev", StageVariables={"s": "dev"})
    apigw2.create_deployment(ApiId=api, StageName="dev")
    for path, host, want in [("/dev/hello", True, "/dev/hello"), ("/hello", True, "/root/hello"),
                             (path_style(api, "dev", "/hello"), False, "/dev/hello"),
                             (path_style(api, "$default", "/hello"), False, "/root/hello")]:
        r = call(portico, api, path, host=host)
        assert r.status == 200, (path, r.body)
        assert r.json()["path"] == want, path
    # `/dev/nope` is dev's (no such route) — not `$default`'s
    assert call(portico, api, "/dev/nope").body == NOT_FOUND


def test_unknown_stage_without_default_stage_is_404(portico, backend, apigw2, make_api):
    api = make_api({"GET /hello": f"{backend.url}/hello"}, default_stage=False)
    apigw2.create_stage(ApiId=api, StageName="dev")
    apigw2.create_deployment(ApiId=api, StageName="dev")
    assert call(portico, api, "/dev/hello").status == 200
    for path, host in [("/prod/hello", True), ("/hello", True),
                       (path_style(api, "prod", "/hello"), False)]:
        r = call(portico, api, path, host=host)
        assert (r.status, r.body) == (404, NOT_FOUND), path


def test_auto_deploy_and_manual_deploy(portico, backend, apigw2, make_api):
    """With `$default` on autoDeploy a new route answers as soon as CreateRoute returns; a stage
    without autoDeploy keeps serving its old deployment until CreateDeployment."""
    api = make_api({"GET /old": f"{backend.url}/old"})
    apigw2.create_stage(ApiId=api, StageName="manual")
    apigw2.create_deployment(ApiId=api, StageName="manual")
    assert call(portico, api, "/manual/old").status == 200
    add_route(apigw2, api, "GET /new", f"{backend.url}/new")
    r = call(portico, api, "/new")
    assert r.status == 200 and r.json()["path"] == "/new"
    assert call(portico, api, "/manual/new").body == NOT_FOUND
    apigw2.create_deployment(ApiId=api, StageName="manual")
    r = call(portico, api, "/manual/new")
    assert r.status == 200 and r.json()["path"] == "/new"


# ---------------------------------------------------------------------------------------------
# 3. Lambda payload 2.0 (§1).

def test_payload_v2_event(portico, functions, make_api):
    api = make_api({"GET /items/{id}": functions["echo"]})
    before = int(time.time() * 1000)
    r = call(portico, api, "/items/7?a=1&a=2&b=3",
             headers=[("X-Multi", "one"), ("X-Multi", "two"), ("Cookie", "c1=v1; c2=v2"),
                      ("User-Agent", "invoke-test/1.0")])
    assert r.status == 200, r.body
    e = r.json()
    assert e["version"] == "2.0" and e["routeKey"] == "GET /items/{id}"
    assert e["rawPath"] == "/items/7" and e["rawQueryString"] == "a=1&a=2&b=3"
    assert e["cookies"] == ["c1=v1", "c2=v2"]
    h = e["headers"]
    assert all(k == k.lower() for k in h)
    assert h["x-multi"] == "one,two" and "cookie" not in h
    assert h["user-agent"] == "invoke-test/1.0"
    assert e["queryStringParameters"] == {"a": "1,2", "b": "3"}
    assert e["pathParameters"] == {"id": "7"}
    assert e["isBase64Encoded"] is False
    for absent in ("stageVariables", "body"):
        assert absent not in e, absent
    c = e["requestContext"]
    assert c["accountId"] == "000000000000" and c["apiId"] == api
    assert c["domainName"] == f"{api}.execute-api.localhost" and c["domainPrefix"] == api
    assert c["http"] == {"method": "GET", "path": "/items/7", "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "invoke-test/1.0"}
    assert c["requestId"] == r.headers["apigw-requestid"]
    assert c["routeKey"] == "GET /items/{id}" and c["stage"] == "$default"
    assert re.fullmatch(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000", c["time"])
    assert isinstance(c["timeEpoch"], int) and before - 1000 <= c["timeEpoch"] <= time.time() * 1000 + 1000
    assert time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(c["timeEpoch"] // 1000)) == c["time"]
    assert "authorizer" not in c


def test_payload_v2_leaves_out_empty_parts(portico, functions, make_api):
    """A bare GET (no cookie, no query, no path parameters, stage without variables, no body):
    the keys are absent, not null; rawQueryString is "" (GO-FIX capture)."""
    api = make_api({"GET /bare": functions["echo"]})
    e = call(portico, api, "/bare").json()
    for absent in ("cookies", "queryStringParameters", "pathParameters", "stageVariables", "body"):
        assert absent not in e, absent
    assert e["rawQueryString"] == "" and e["isBase64Encoded"] is False


@pytest.mark.parametrize("host", [True, False], ids=["host-style", "path-style"])
def test_payload_v2_named_stage(portico, functions, apigw2, make_api, host):
    """On a named stage rawPath and requestContext.http.path include `/dev` (real captures, §1);
    routing (routeKey, pathParameters) uses the stage-stripped path; stageVariables are sent.
    Path-style addressing names the same stage, so it gets the same event."""
    api = make_api({"GET /items/{id}": functions["echo"]}, default_stage=False)
    apigw2.create_stage(ApiId=api, StageName="dev", StageVariables={"color": "blue"})
    apigw2.create_deployment(ApiId=api, StageName="dev")
    for path in ["/dev/items/9" if host else path_style(api, "dev", "/items/9")]:
        r = call(portico, api, path, host=host)
        assert r.status == 200, r.body
        e = r.json()
        assert e["rawPath"] == "/dev/items/9" and e["requestContext"]["http"]["path"] == "/dev/items/9"
        assert e["routeKey"] == "GET /items/{id}" and e["pathParameters"] == {"id": "9"}
        assert e["requestContext"]["stage"] == "dev" and e["stageVariables"] == {"color": "blue"}


@pytest.mark.parametrize("content_type,body,b64", [
    ("application/json", b'{"n": 1}', False),
    ("application/octet-stream", bytes(range(256)), True),
])
def test_payload_v2_body(portico, functions, make_api, content_type, body, b64):
    api = make_api({"POST /items/{id}": functions["echo"]})
    e = call(portico, api, "/items/1", method="POST", body=body,
             headers={"Content-Type": content_type}).json()
    assert e["isBase64Encoded"] is b64
    assert (base64.b64decode(e["body"]) if b64 else e["body"].encode()) == body


# ---------------------------------------------------------------------------------------------
# 4. Payload 1.0 on an HTTP API (§2, §3).

def test_payload_v1_event_and_strict_response(portico, functions, make_api):
    api = make_api({"GET /v1/{id}": (functions["echo"], {"version": "1.0"}),
                    "GET /v1bad/{case}": (functions["respond"], {"version": "1.0"})})
    r = call(portico, api, "/v1/5", headers=[("X-Multi", "one"), ("X-Multi", "two")])
    assert r.status == 200, r.body
    e = r.json()
    assert e["version"] == "1.0"
    assert (e["resource"], e["path"], e["httpMethod"]) == ("/v1/{id}", "/v1/5", "GET")
    assert e["headers"]["x-multi"] == "one,two"
    assert e["multiValueHeaders"]["x-multi"] == ["one", "two"]
    assert e["queryStringParameters"] is None and e["multiValueQueryStringParameters"] is None
    assert e["pathParameters"] == {"id": "5"} and e["stageVariables"] is None
    assert e["body"] is None and e["isBase64Encoded"] is False
    assert e["requestContext"]["routeKey"] == "GET /v1/{id}"
    assert e["requestContext"]["requestId"] == r.headers["apigw-requestid"]
    q = call(portico, api, "/v1/5?q=1&q=2").json()
    assert q["queryStringParameters"] == {"q": "1,2"} and q["multiValueQueryStringParameters"] == {"q": ["1", "2"]}
    # 1.0 makes no inference: an answer without statusCode is a 500
    r = call(portico, api, "/v1bad/message")
    assert (r.status, r.body) == (500, INTERNAL)


# ---------------------------------------------------------------------------------------------
# 5. Response inference, payload 2.0 (§3).

@pytest.fixture(scope="module")
def responder(portico, functions, apigw2):
    api = apigw2.create_api(Name="respond", ProtocolType="HTTP")["ApiId"]
    add_route(apigw2, api, "GET /r/{case}", functions["respond"])
    apigw2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    yield api
    apigw2.delete_api(ApiId=api)


def test_v2_string_answer(portico, responder):
    r = call(portico, responder, "/r/hello")
    assert (r.status, r.body, r.headers["Content-Type"]) == (200, b"hello", "application/json")


@pytest.mark.parametrize("case,want", [("message", {"message": "hi"}), ("bodyonly", {"body": "x"})])
def test_v2_object_without_status_is_the_body(portico, responder, case, want):
    r = call(portico, responder, f"/r/{case}")
    assert r.status == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json() == want


def test_v2_status_without_headers_sniffs_content_type(portico, responder):
    r = call(portico, responder, "/r/created")
    assert (r.status, r.body) == (201, b'{"a":1}')
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_v2_cookies_and_headers(portico, responder):
    r = call(portico, responder, "/r/cookies")
    assert (r.status, r.body) == (200, b"ok")
    assert r.headers.get_all("Set-Cookie") == ["a=1", "b=2; Secure"]
    assert r.headers["x-y"] == "z"


def test_v2_base64_body(portico, responder):
    r = call(portico, responder, "/r/binary")
    assert (r.status, r.body) == (200, bytes(range(256)))


@pytest.mark.parametrize("case", ["raise", "badstatus"])
def test_v2_failures_are_500(portico, responder, case):
    r = call(portico, responder, f"/r/{case}")
    assert (r.status, r.body) == (500, INTERNAL)
    assert r.headers["Content-Type"] == "application/json"


# ---------------------------------------------------------------------------------------------
# 6. CORS (§7).

CORS = {"AllowOrigins": ["https://app.example.com", "https://*.example.org"], "AllowMethods": ["GET", "PUT"],
        "AllowHeaders": ["x-custom"], "ExposeHeaders": ["x-exposed"], "MaxAge": 600, "AllowCredentials": True}


def preflight(origin, method="PUT", headers="x-custom"):
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


def test_cors_preflight(portico, backend, make_api):
    api = make_api({"GET /items": f"{backend.url}/cors"}, CorsConfiguration=CORS)
    hits = len(backend.hits)
    r = call(portico, api, "/items", method="OPTIONS", headers=preflight("https://app.example.com"))
    assert r.status == 204 and r.body == b""
    got = cors_headers(r)
    assert got["access-control-allow-origin"] == "https://app.example.com"
    assert got["access-control-allow-credentials"] == "true"
    assert [m.strip() for m in got["access-control-allow-methods"].split(",")] == ["GET", "PUT"]
    assert got["access-control-allow-headers"].lower() == "x-custom"
    assert got["access-control-max-age"] == "600"
    assert r.headers["apigw-requestid"]
    r = call(portico, api, "/items", method="OPTIONS", headers=preflight("https://evil.com"))
    assert r.status == 204 and cors_headers(r) == {}
    assert len(backend.hits) == hits, "a preflight no route takes never reaches the backend"


@pytest.mark.parametrize("origin,allowed", [
    ("https://app.example.com", True), ("https://a.example.org", True),
    ("https://example.org", False), ("https://evil.com", False), ("http://app.example.com", False),
])
def test_cors_actual_request(portico, backend, make_api, origin, allowed):
    """The backend's own `Access-Control-Allow-Origin: *` is dropped; an allowed origin gets the
    configured headers instead."""
    api = make_api({"GET /items": f"{backend.url}/cors"}, CorsConfiguration=CORS)
    r = call(portico, api, "/items", headers={"Origin": origin})
    assert r.status == 200
    got = cors_headers(r)
    if allowed:
        assert got == {"access-control-allow-origin": origin, "access-control-allow-credentials": "true",
                       "access-control-expose-headers": "x-exposed"}
    else:
        assert got == {}
    pre = call(portico, api, "/items", method="OPTIONS", headers=preflight(origin))
    assert pre.status == 204
    assert ("access-control-allow-origin" in cors_headers(pre)) is allowed


def test_without_cors_configuration(portico, backend, make_api):
    """No corsConfiguration: the backend's CORS headers pass through, and an OPTIONS request no
    route takes is routed like any other (404)."""
    api = make_api({"GET /items": f"{backend.url}/cors"})
    r = call(portico, api, "/items", headers={"Origin": "https://evil.com"})
    assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    r = call(portico, api, "/items", method="OPTIONS", headers=preflight("https://app.example.com"))
    assert (r.status, r.body) == (404, NOT_FOUND)


def test_cors_wildcard_with_credentials_is_refused(apigw2):
    with pytest.raises(ClientError) as e:
        apigw2.create_api(Name="c", ProtocolType="HTTP",
                          CorsConfiguration={"AllowOrigins": ["*"], "AllowCredentials": True})
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# ---------------------------------------------------------------------------------------------
# 7. Throttling (§9).

def statuses(portico, api, path, n=10):
    return [call(portico, api, path) for _ in range(n)]


def test_stage_default_throttle(portico, backend, apigw2, make_api):
    api = make_api({"GET /t": f"{backend.url}/t"})
    apigw2.update_stage(ApiId=api, StageName="$default",
                        DefaultRouteSettings={"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 1.0})
    got = statuses(portico, api, "/t")
    limited = [r for r in got if r.status == 429]
    assert limited, [r.status for r in got]
    assert {r.body for r in limited} == {b'{"message":"Too Many Requests"}'}
    assert {r.status for r in got} <= {200, 429}


def test_route_throttle_applies_to_its_route_only(portico, backend, apigw2, make_api):
    api = make_api({"GET /slow": f"{backend.url}/slow", "GET /free": f"{backend.url}/free"})
    apigw2.update_stage(ApiId=api, StageName="$default",
                        RouteSettings={"GET /slow": {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 1.0}})
    assert 429 in [r.status for r in statuses(portico, api, "/slow")]
    assert [r.status for r in statuses(portico, api, "/free")] == [200] * 10


# ---------------------------------------------------------------------------------------------
# 8. Errors (§5, §6, §9).

def test_backend_refusing_connections_is_500(portico, make_api):
    api = make_api({"GET /down": f"http://127.0.0.1:{closed_port()}/x"})
    r = call(portico, api, "/down")
    assert (r.status, r.body) == (500, INTERNAL)


def test_integration_timeout_is_503(portico, backend, make_api):
    api = make_api({"GET /slow": (f"{backend.url}/sleep", {"TimeoutInMillis": 500})})
    started = time.time()
    r = call(portico, api, "/slow")
    assert (r.status, r.body) == (503, b'{"message":"Service Unavailable"}')
    assert time.time() - started < 2.5


def test_disabled_execute_api_endpoint_is_403(portico, backend, apigw2, make_api):
    api = make_api({"GET /a": f"{backend.url}/a"}, default_stage=False)
    apigw2.create_stage(ApiId=api, StageName="$default")
    apigw2.create_deployment(ApiId=api, StageName="$default")
    assert call(portico, api, "/a").status == 200
    apigw2.update_api(ApiId=api, DisableExecuteApiEndpoint=True)
    apigw2.create_deployment(ApiId=api, StageName="$default")
    for path, host in [("/a", True), (path_style(api, "$default", "/a"), False)]:
        r = call(portico, api, path, host=host)
        assert (r.status, r.body) == (403, b'{"message":"Forbidden"}'), path


def test_dot_segments_are_refused(portico, backend, make_api):
    api = make_api({"GET /files/{proxy+}": f"{backend.url}/f/{{proxy}}", "$default": f"{backend.url}/base"})
    hits = len(backend.hits)
    for path in ("/files/../secret", "/files/a/../../etc/passwd", "/a/../b"):
        assert call(portico, api, path).status == 400, path
    assert len(backend.hits) == hits
