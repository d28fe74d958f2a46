"""Threat T25: JSON bombs. One API on a Portico of its own, with POST methods that each parse the
body differently: `/validated` (request validator + an accept-anything model), `/json`, `/path` and
`/parse` (MOCK request templates using `$input.json('$')`, `$input.path('$')` and
`$util.parseJson($input.body)`), and `/proxy` (HTTP_PROXY to a local backend, body unparsed).
Each gets the same hostile bodies:
- deep nesting: `[`×100 000, `{"a":`×100 000 and ×10 000 (serde_json's recursion limit is 128:
  127 levels pass, 129 are refused);
- wide bodies near the 10 MiB limit: 500 000 keys, 2 000 000 array elements, duplicate keys;
- a 9 MiB string, 1.5 M `\\u0000` escapes, `1e999999`, a 1 MiB digit string, invalid UTF-8;
- a body over 10 MiB (413 on every route, nothing reaches the backend).
Expected: the validator answers 400 `{"message": "Invalid request body"}` for what it cannot parse,
`$input.json`/`$input.path` on a body that is not JSON answer AWS's 400 `{"message": "Could not
parse request body into json: Could not parse payload into json: …"}`, a template that fails
otherwise (`$util.parseJson`, the JSONPath node budget) answers 500 `{"message": "Internal server
error"}`, the proxy passes
the bytes through unchanged; every answer is JSON and comes within a generous bound, the process
survives each body and serves the next request, and its RSS does not balloon (G15)."""
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config

from conftest import Portico

MIB = 1 << 20
LIMIT_S = 10  # generous: a debug build parses a 7 MB, 500 000-key object in ~1.5 s
ANY = {"$schema": "http://json-schema.org/draft-04/schema#", "title": "Any"}
ROUTES = ("validated", "json", "path", "parse")
TEMPLATES = {"json": "#set($x = $input.json('$'))", "path": "#set($x = $input.path('$'))",
             "parse": "#set($x = $util.parseJson($input.body))"}
# A request template reading a body that is not JSON: AWS's 400 and the start of its message.
NJ = "not-json"
NOT_JSON_PREFIX = "Could not parse request body into json: Could not parse payload into json: "
BODIES = {200: {"ok": True}, 400: {"message": "Invalid request body"},
          500: {"message": "Internal server error"}, 413: {"message": "Request Too Long"}}


def deep(opener, leaf, closer, n):
    return opener * n + leaf + closer * n


# id: (body factory, expected status on /validated, /json, /path, /parse)
CASES = {
    "array-100k-deep": (lambda: deep(b"[", b"", b"]", 100_000), (400, NJ, NJ, 500)),
    "object-100k-deep": (lambda: deep(b'{"a":', b"1", b"}", 100_000), (400, NJ, NJ, 500)),
    "object-10k-deep": (lambda: deep(b'{"a":', b"1", b"}", 10_000), (400, NJ, NJ, 500)),
    "array-127-deep": (lambda: deep(b"[", b"", b"]", 127), (200, 200, 200, 200)),
    "array-129-deep": (lambda: deep(b"[", b"", b"]", 129), (400, NJ, NJ, 500)),
    "500k-keys": (lambda: json.dumps({f"k{i}": 1 for i in range(500_000)}).encode(), (200,) * 4),
    # 2 M nodes exceed the JSONPath result budget (1 M nodes, T27): $input.json/path('$') refuse
    # with a 500; parseJson has no such budget.
    "2m-elements": (lambda: b"[" + b",".join([b"0"] * 2_000_000) + b"]", (200, 500, 500, 200)),
    "1m-duplicate-keys": (lambda: b"{" + b",".join([b'"a":1'] * 1_000_000) + b"}", (200,) * 4),
    "9mib-string": (lambda: json.dumps({"s": "x" * (9 * MIB)}).encode(), (200,) * 4),
    "nul-escapes": (lambda: b'{"s":"' + b"\\u0000" * 1_500_000 + b'"}', (200,) * 4),
    "1e999999": (lambda: b'{"n":1e999999}', (400, NJ, NJ, 500)),
    "1mib-digits": (lambda: b'{"n":' + b"9" * MIB + b"}", (400, NJ, NJ, 500)),
    # $input.body is the body decoded lossily (U+FFFD), so parseJson accepts it; the raw-body
    # parsers refuse it.
    "invalid-utf8": (lambda: b'{"s":"\xff\xfe\xc0\x80"}', (400, NJ, NJ, 200)),
}


class Backend(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        Backend.received.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@pytest.fixture(scope="module")
def gw():
    backend = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    p = Portico()
    c = boto3.client("apigateway", endpoint_url=f"http://{p.admin}", region_name="us-east-1",
                     aws_access_key_id="test", aws_secret_access_key="test",
                     config=Config(retries={"max_attempts": 1}))
    api = c.create_rest_api(name="json-bombs")["id"]
    root = c.get_resources(restApiId=api)["items"][0]["id"]
    c.create_model(restApiId=api, name="Any", contentType="application/json", schema=json.dumps(ANY))
    validator = c.create_request_validator(restApiId=api, name="body", validateRequestBody=True)["id"]
    for route in ROUTES + ("proxy",):
        rid = c.create_resource(restApiId=api, parentId=root, pathPart=route)["id"]
        extra = ({"requestValidatorId": validator, "requestModels": {"application/json": "Any"}}
                 if route == "validated" else {})
        c.put_method(restApiId=api, resourceId=rid, httpMethod="POST", authorizationType="NONE", **extra)
        if route == "proxy":
            c.put_integration(restApiId=api, resourceId=rid, httpMethod="POST", type="HTTP_PROXY",
                              integrationHttpMethod="POST", uri=f"http://127.0.0.1:{backend.server_port}/sink")
            continue
        c.put_integration(restApiId=api, resourceId=rid, httpMethod="POST", type="MOCK", requestTemplates={
            "application/json": TEMPLATES.get(route, "") + '{"statusCode": 200}'})
        c.put_method_response(restApiId=api, resourceId=rid, httpMethod="POST", statusCode="200")
        c.put_integration_response(restApiId=api, resourceId=rid, httpMethod="POST", statusCode="200",
                                   responseTemplates={"application/json": '{"ok": true}'})
    c.create_deployment(restApiId=api, stageName="dev")
    p.url = lambda route: p.invoke_url(api, "dev", f"/{route}")
    deadline = time.time() + 5
    while post(p.url("validated"), b'{"a": 1}')[0] != 200:
        assert time.time() < deadline, "deployment never served"
        time.sleep(0.05)
    p.rss_before = rss_kib(p.proc.pid)
    yield p
    p.stop()
    backend.shutdown()


def post(url, body):
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    started = time.time()
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    return status, raw, time.time() - started


def assert_alive(gw):
    assert gw.proc.poll() is None, "portico exited"
    status, raw, _ = post(gw.url("json"), b'{"a": [1, 2]}')
    assert (status, json.loads(raw)) == (200, {"ok": True})


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_body_gets_a_bounded_json_answer_everywhere(gw, case):
    make, expected = CASES[case]
    body = make()
    for route, want in zip(ROUTES, expected):
        status, raw, took = post(gw.url(route), body)
        if want == NJ:
            assert status == 400 and json.loads(raw)["message"].startswith(NOT_JSON_PREFIX), (route, raw[:200])
        else:
            assert (status, json.loads(raw)) == (want, BODIES[want]), (route, raw[:200])
        assert took < LIMIT_S, f"{route} took {took:.1f} s"
        assert_alive(gw)
    Backend.received.clear()
    status, raw, took = post(gw.url("proxy"), body)
    assert (status, raw) == (200, b"{}")
    assert took < LIMIT_S
    assert len(Backend.received) == 1 and Backend.received[0] == body, "proxy altered the body"
    assert_alive(gw)


def test_body_over_10_mib_is_413_and_never_reaches_the_backend(gw):
    Backend.received.clear()
    at_limit = b'"' + b"x" * (10 * MIB - 2) + b'"'
    assert post(gw.url("proxy"), at_limit)[:2] == (200, b"{}")
    assert Backend.received == [at_limit]
    Backend.received.clear()
    over = at_limit + b" "
    for route in ROUTES + ("proxy",):
        status, raw, took = post(gw.url(route), over)
        assert (status, json.loads(raw)) == (413, BODIES[413]), route
        assert took < LIMIT_S
    assert Backend.received == []
    assert_alive(gw)


def test_process_survives_with_bounded_memory(gw):
    """Runs last in this module: after every bomb above, the process is up, its resident memory
    grew by less than 200 MiB and a normal request still answers 200."""
    assert_alive(gw)
    grown_mib = (rss_kib(gw.proc.pid) - gw.rss_before) / 1024
    assert grown_mib < 200, f"RSS grew by {grown_mib:.0f} MiB"
