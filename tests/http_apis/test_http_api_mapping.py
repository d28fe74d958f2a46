"""HTTP API (apigatewayv2) parameter mapping, black-box: HTTP_PROXY integrations with
RequestParameters / ResponseParameters, called as plain HTTP with `Host: {apiId}.execute-api.localhost`
and answered by a local echo backend. AWS's rules: research notes /tmp/research-v2-data.md §8
(DOC-PM): request keys `append|overwrite|remove:header.X`, `…:querystring.X`, `overwrite:path`;
response mapping keyed by the backend's status code; reserved headers cannot be mapped."""
import http.client
import json
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Portico, error_of

INTERNAL = b'{"message":"Internal Server Error"}'


class Backend:
    """Echoes method/path/headers/body as JSON. `/status/NNN` answers NNN with
    `x-reason: no-such-thing` and a body carrying `"error": "gone"`."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                headers = {}
                for k, v in self.headers.items():
                    k = k.lower()
                    headers[k] = f"{headers[k]},{v}" if k in headers else v
                status = 200
                if self.path.startswith("/status/"):
                    status = int(self.path.split("/")[2].split("?")[0])
                out = json.dumps({"method": self.command, "path": self.path, "headers": headers,
                                  "body": body.decode("utf-8", "replace"), "error": "gone"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("x-reason", "no-such-thing")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def backend():
    b = Backend()
    yield b
    b.server.shutdown()


def v2_client(admin):
    return boto3.client("apigatewayv2", endpoint_url=f"http://{admin}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def apigw2(portico):
    return v2_client(portico.admin)


@pytest.fixture
def make_api(apigw2):
    """`make_api(route_key, uri, stage_variables=None, type="HTTP_PROXY", **integration)` → api id,
    with an auto-deployed `$default` stage."""
    made = []

    def make(route_key, uri, stage_variables=None, type="HTTP_PROXY", **integration):
        api = apigw2.create_api(Name=f"map-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")["ApiId"]
        made.append(api)
        kw = dict(IntegrationMethod="ANY") if type == "HTTP_PROXY" else dict(PayloadFormatVersion="2.0")
        i = apigw2.create_integration(ApiId=api, IntegrationType=type, IntegrationUri=uri,
                                      **kw, **integration)["IntegrationId"]
        apigw2.create_route(ApiId=api, RouteKey=route_key, Target=f"integrations/{i}")
        apigw2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True,
                            StageVariables=stage_variables or {})
        return api

    yield make
    for api in made:
        apigw2.delete_api(ApiId=api)


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def call(data_plane, api, path, method="GET", headers=(), body=None):
    """One request; `headers` is a list of pairs (names may repeat)."""
    for attempt in range(2):
        conn = http.client.HTTPConnection(data_plane, timeout=30)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", f"{api}.execute-api.localhost")
            for k, v in headers:
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            r = conn.getresponse()
            return Resp(r.status, r.headers, r.read())
        except ConnectionError:
            if attempt:
                raise
            time.sleep(1)
        finally:
            conn.close()


# ---------------------------------------------------------------------------------------------
# 1. Headers.

def test_header_mapping(portico, backend, apigw2, make_api):
    """overwrite from another header, append, remove, static text, `$context.*`,
    `$stageVariables.*` and `${…}` inside text (§8)."""
    params = {
        "overwrite:header.x-to": "$request.header.x-from",
        "append:header.x-multi": "extra",
        "remove:header.x-drop": "''",
        "overwrite:header.x-static": "hello",
        "overwrite:header.x-rid": "$context.requestId",
        "overwrite:header.x-route": "$context.routeKey",
        "overwrite:header.x-stage": "$context.stage",
        "overwrite:header.x-sv": "$stageVariables.env",
        "overwrite:header.x-mix": "${context.stage}-${stageVariables.env}-${request.path.id}",
    }
    api = make_api("POST /users/{id}", f"{backend.url}/echo", stage_variables={"env": "blue"},
                   RequestParameters=params)
    hdrs = [("x-from", "FROM"), ("x-to", "old"), ("x-multi", "orig"), ("x-drop", "secret"),
            ("x-keep", "kept")]
    r = call(portico.data_plane, api, "/users/7", "POST", hdrs, b"{}")
    assert r.status == 200, r.body
    h = r.json()["headers"]
    assert h["x-to"] == "FROM" and h["x-from"] == "FROM" and h["x-keep"] == "kept"
    assert h["x-multi"] == "orig,extra"
    assert "x-drop" not in h
    assert h["x-static"] == "hello"
    assert h["x-rid"] == r.headers["apigw-requestid"]
    assert h["x-route"] == "POST /users/{id}" and h["x-stage"] == "$default"
    assert h["x-sv"] == "blue" and h["x-mix"] == "$default-blue-7"
    # A changed stage variable is what the next request maps.
    apigw2.update_stage(ApiId=api, StageName="$default", StageVariables={"env": "green"})
    for _ in range(50):
        h = call(portico.data_plane, api, "/users/7", "POST", hdrs, b"{}").json()["headers"]
        if h["x-sv"] == "green":
            break
        time.sleep(0.1)
    assert h["x-sv"] == "green" and h["x-mix"] == "$default-green-7"


# ---------------------------------------------------------------------------------------------
# 2. Query string, from the JSON body too.

def test_querystring_mapping_and_body(portico, backend, make_api):
    params = {
        "overwrite:querystring.over": "new",
        "append:querystring.keep": "2",
        "remove:querystring.gone": "''",
        "overwrite:querystring.name": "$request.body.user.name",
    }
    api = make_api("POST /users/{id}", f"{backend.url}/echo", RequestParameters=params)
    body = b'{"user": {"name": "ann"}, "n": [1, 2]}'
    r = call(portico.data_plane, api, "/users/7?keep=1&over=a&over=b&gone=x&other=o", "POST",
             [("Content-Type", "application/json")], body)
    assert r.status == 200, r.body
    got = r.json()
    url = urlsplit(got["path"])
    assert url.path == "/echo"
    assert parse_qs(url.query) == {"over": ["new"], "keep": ["1", "2"], "name": ["ann"],
                                   "other": ["o"]}
    assert got["body"] == body.decode()
    assert got["headers"]["content-type"] == "application/json"


# ---------------------------------------------------------------------------------------------
# 3. overwrite:path.

@pytest.mark.parametrize("value,want", [("$request.path", "/users/7"),
                                        ("/v2/${request.path.id}", "/v2/7")])
def test_overwrite_path(portico, backend, make_api, value, want):
    """The new path replaces the integration URI's path; the client's query string is kept."""
    api = make_api("POST /users/{id}", f"{backend.url}/base",
                   RequestParameters={"overwrite:path": value})
    r = call(portico.data_plane, api, "/users/7?a=1&b=x%20y", "POST", body=b"{}")
    assert r.status == 200, r.body
    url = urlsplit(r.json()["path"])
    assert url.path == want
    assert parse_qs(url.query) == {"a": ["1"], "b": ["x y"]}


# ---------------------------------------------------------------------------------------------
# 4. Response mapping.

def test_response_mapping(portico, backend, make_api):
    """Rules keyed by the backend's status apply to that status only (§8)."""
    resp = {"404": {"overwrite:statuscode": "410",
                    "append:header.x-why": "$response.header.x-reason",
                    "overwrite:header.x-body": "$response.body.error"}}
    api = make_api("GET /status/{code}", f"{backend.url}/status/{{code}}", ResponseParameters=resp)
    r = call(portico.data_plane, api, "/status/404")
    assert r.status == 410, r.body
    assert r.headers["x-why"] == "no-such-thing" and r.headers["x-body"] == "gone"
    assert r.headers["x-reason"] == "no-such-thing"
    assert r.json()["path"] == "/status/404"  # the body passes through
    ok = call(portico.data_plane, api, "/status/200")
    assert ok.status == 200 and ok.json()["path"] == "/status/200"
    assert ok.headers["x-why"] is None and ok.headers["x-body"] is None


# ---------------------------------------------------------------------------------------------
# 5. Management refusals.

@pytest.mark.parametrize("kw", [
    {"RequestParameters": {"overwrite:header.Authorization": "x"}},
    {"RequestParameters": {"append:header.x-amz-date": "x"}},
    {"RequestParameters": {"set:header.a": "x"}},
    {"RequestParameters": {"append:path": "/x"}},
    {"RequestParameters": {"remove:path": "''"}},
    {"RequestParameters": {"overwrite:header.x-a": "$request.nope"}},
    {"ResponseParameters": {"99": {"overwrite:statuscode": "410"}}},
], ids=["authorization", "x-amz-date", "set-op", "append-path", "remove-path",
                                "bad-source", "status-99"])
def test_bad_mappings_refused(backend, apigw2, kw):
    """Reserved headers, unknown operations, path ops other than overwrite, status codes outside
    200-599 (§8) and an unknown `$source` value (AWS validates values too — [INF]) → 400."""
    api = apigw2.create_api(Name=f"map-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")["ApiId"]
    try:
        with pytest.raises(ClientError) as e:
            apigw2.create_integration(ApiId=api, IntegrationType="HTTP_PROXY",
                                      IntegrationMethod="ANY", IntegrationUri=f"{backend.url}/x", **kw)
        status, code, _ = error_of(e)
        assert (status, code) == (400, "BadRequestException")
        # The same, well-formed, is accepted.
        apigw2.create_integration(ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                  IntegrationUri=f"{backend.url}/x",
                                  RequestParameters={"overwrite:header.x-ok": "x"},
                                  ResponseParameters={"404": {"overwrite:statuscode": "410"}})
    finally:
        apigw2.delete_api(ApiId=api)


# ---------------------------------------------------------------------------------------------
# 6. Mapping on an AWS_PROXY (Lambda) integration.

def test_mapping_on_lambda_integration_answers_500():
    """Portico does not map parameters for AWS_PROXY: the integration is accepted, the route answers
    500 `{"message":"Internal Server Error"}` and the reason is logged. (A dedicated instance keeps
    its log; the function need not exist — the route never reaches it.)"""
    log = tempfile.NamedTemporaryFile(prefix="mapping-", suffix=".log", delete=False)
    p = Portico(stderr=log)
    try:
        c = v2_client(p.admin)
        api = c.create_api(Name="map-lambda", ProtocolType="HTTP")["ApiId"]
        i = c.create_integration(ApiId=api, IntegrationType="AWS_PROXY", PayloadFormatVersion="2.0",
                                 IntegrationUri="arn:aws:lambda:us-east-1:000000000000:function:none",
                                 RequestParameters={"overwrite:header.x-a": "b"})["IntegrationId"]
        c.create_route(ApiId=api, RouteKey="GET /fn", Target=f"integrations/{i}")
        c.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
        r = call(p.data_plane, api, "/fn")
        assert (r.status, r.body) == (500, INTERNAL)
        time.sleep(0.3)
        text = open(log.name).read()
        assert "parameter mapping on AWS_PROXY integrations is not supported" in text, text[-2000:]
    finally:
        p.stop()
