"""CORS of HTTP APIs as a real browser sees it: headless Chromium loads a page from one origin
(127.0.0.1 on the page server's port) and fetch()es an HTTP API of Portico on another (the data
plane's port), whose routes `GET /items` and `PUT /items` proxy (HTTP_PROXY) to a small backend on
a third port that records every request it gets.

An HTTP API's CORS is its `CorsConfiguration` (CreateApi / UpdateApi), applied by the gateway: a
preflight that no route takes is answered by the gateway itself (204, the configured headers),
responses to an allowed origin get `Access-Control-Allow-Origin` (and `-Allow-Credentials`,
`-Expose-Headers`), and the backend's own `Access-Control-*` headers are dropped. The page
addresses the API path style (`/restapis/{id}/$default/_user_request_/items`, or a named stage),
and once through its own host name `{id}.execute-api.localhost` (Chromium resolves `*.localhost`
to loopback by itself)."""
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config
from browser import PageServer, browser_unavailable, call, probe

# Skipped (reason shown by `pytest -rs`) before Portico even starts.
UNAVAILABLE = browser_unavailable()
pytestmark = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"browser test: {UNAVAILABLE}")

ITEMS = {"items": ["a", "b"]}


@pytest.fixture(scope="module")
def apigw2(portico):
    return boto3.client(
        "apigatewayv2", endpoint_url=f"http://{portico.admin}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


class Backend:
    """The integration's backend on http://127.0.0.1:<port> (a context manager): answers every
    method 200 with JSON (`ITEMS` for GET, what it got otherwise) plus `headers` (a dict the
    test may change), and records (method, path, lower-cased headers, body) in `seen`."""

    def __init__(self, headers=None):
        self.headers = dict(headers or {})
        self.seen = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                backend.seen.append((self.command, self.path,
                                     {k.lower(): v for k, v in self.headers.items()}, body))
                out = ITEMS if self.command == "GET" else {"method": self.command, "got": body}
                data = json.dumps(out).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in backend.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_OPTIONS = answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def methods(self):
        return [m for m, *_ in self.seen]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def http(method, url, headers=None, body=None):
    """(status, lower-cased headers, body text) of one request outside the browser."""
    req = urllib.request.Request(url, method=method, headers=headers or {},
                                 data=body.encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()


def cors_headers(headers):
    return {k: v for k, v in headers.items() if k.startswith("access-control-")}


def explain(result, backend=None, seen=None):
    """An assertion message: what the page saw, what the backend got, and what the gateway
    answered outside the browser."""
    lines = [f"the page saw: {result!r}"]
    if backend is not None:
        lines.append(f"the backend got: {[(m, p) for m, p, *_ in backend.seen]}")
    for name, (status, headers, body) in (seen or {}).items():
        lines.append(f"outside the browser, {name}: {status} {headers} {body[:300]!r}")
    return "\n".join(lines)


def wait_until(check, what, timeout=5):
    """Polls `check()` until it is truthy: the (automatic) deployment is picked up by the change
    feed a moment after the management call."""
    deadline = time.time() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.time() > deadline:
            raise AssertionError(f"{what}: never happened")
        time.sleep(0.05)


def items_api(apigw2, name, backend, cors=None, stage="$default"):
    """An HTTP API with routes `GET /items` and `PUT /items` proxying to `backend`/items, and an
    autoDeploy stage `stage`; `cors` is its CorsConfiguration. Returns the API id once the
    stage serves."""
    extra = {"CorsConfiguration": cors} if cors is not None else {}
    api_id = apigw2.create_api(Name=name, ProtocolType="HTTP", **extra)["ApiId"]
    integration = apigw2.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
        IntegrationUri=backend.url + "/items", PayloadFormatVersion="1.0")["IntegrationId"]
    for key in ("GET /items", "PUT /items"):
        apigw2.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")
    apigw2.create_stage(ApiId=api_id, StageName=stage, AutoDeploy=True)
    return api_id


def invoke_url(portico, api_id, stage, path):
    """Path style: `$` stays as it is in a URL path (neither Chromium nor urllib encode it)."""
    return f"http://{portico.data_plane}/restapis/{api_id}/{stage}/_user_request_{path}"


def served(url, backend):
    """Waits until GET `url` reaches the backend through the gateway; forgets that request."""
    wait_until(lambda: http("GET", url)[0] == 200, f"GET {url} deployed")
    backend.seen.clear()


def put_call(url):
    """A PUT with a custom header: preflighted (the text body's content type is safelisted)."""
    return call(url, "PUT", {"X-Custom": "1"}, '{"name": "c"}')


def test_without_cors_configuration_the_browser_blocks_the_calls(portico, apigw2):
    with Backend() as backend, PageServer() as page:
        api_id = items_api(apigw2, "browser-http-no-cors", backend)
        url = invoke_url(portico, api_id, "$default", "/items")
        served(url, backend)

        # Outside the browser the API answers, without any CORS header.
        status, headers, body = http("GET", url, {"Origin": page.origin})
        assert (status, json.loads(body)) == (200, ITEMS)
        assert cors_headers(headers) == {}
        status, headers, _ = http("OPTIONS", url, {"Origin": page.origin,
                                                   "Access-Control-Request-Method": "PUT"})
        assert status == 404 and cors_headers(headers) == {}
        backend.seen.clear()

        got_get, got_put = probe(page.url, [call(url), put_call(url)])
        assert got_get.blocked_by_cors, explain(got_get, backend)
        assert any("No 'Access-Control-Allow-Origin' header" in m for m in got_get.console), \
            explain(got_get, backend)
        assert got_put.blocked_by_cors, explain(got_put, backend)
        assert any("preflight" in m for m in got_put.console), explain(got_put, backend)
        # The simple GET did reach the backend (the browser only hid its answer); the PUT never
        # left the browser, whose preflight the gateway answered 404 without going to the backend.
        assert backend.methods() == ["GET"], explain(got_put, backend)
        assert backend.seen[0][2]["origin"] == page.origin


def test_cors_configuration_lets_a_get_and_a_preflighted_put_through(portico, apigw2):
    with Backend(headers={"X-Trace": "t-1"}) as backend, PageServer() as page:
        cors = {"AllowOrigins": [page.origin], "AllowMethods": ["GET", "PUT"],
                "AllowHeaders": ["x-custom"]}
        api_id = items_api(apigw2, "browser-http-cors", backend, cors)
        url = invoke_url(portico, api_id, "$default", "/items")
        host_url = f"http://{api_id}.execute-api.localhost:{portico.data_plane.rsplit(':', 1)[1]}/items"
        served(url, backend)
        preflight = ("OPTIONS", url, {"Origin": page.origin, "Access-Control-Request-Method": "PUT",
                                      "Access-Control-Request-Headers": "x-custom"})
        # What the gateway answers outside the browser, shown when the browser disagrees.
        seen = {"preflight": http(*preflight), "get": http("GET", url, {"Origin": page.origin})}
        backend.seen.clear()

        got_get, got_put, got_host, with_cookies = probe(page.url, [
            call(url), put_call(url), call(host_url), call(url, credentials="include")])

        assert (got_get.ok, got_get.status, got_get.type) == (True, 200, "cors"), \
            explain(got_get, backend, seen)
        assert got_get.json == ITEMS
        assert got_get.console == []
        # No ExposeHeaders: the backend's custom header is there but the page may not read it.
        assert "x-trace" not in got_get.headers, explain(got_get)
        assert seen["get"][1]["x-trace"] == "t-1"

        assert (got_put.ok, got_put.status) == (True, 200), explain(got_put, backend, seen)
        assert got_put.json == {"method": "PUT", "got": '{"name": "c"}'}
        assert got_put.console == []
        # The preflight was the gateway's own answer: the backend got the GET and the PUT only.
        assert backend.methods()[:2] == ["GET", "PUT"], explain(got_put, backend)
        assert "OPTIONS" not in backend.methods(), explain(got_put, backend)
        assert backend.seen[1][2]["x-custom"] == "1"
        status, headers, body = seen["preflight"]
        assert (status, body) == (204, ""), seen["preflight"]
        assert cors_headers(headers) == {"access-control-allow-origin": page.origin,
                                         "access-control-allow-methods": "GET,PUT",
                                         "access-control-allow-headers": "x-custom"}, seen["preflight"]

        # The API's own host name ({id}.execute-api.localhost) works from the page too.
        assert (got_host.ok, got_host.status, got_host.json) == (True, 200, ITEMS), explain(got_host, backend)

        # Without AllowCredentials a credentialed call is refused by the browser.
        assert with_cookies.blocked_by_cors, explain(with_cookies, backend, seen)
        assert any("Access-Control-Allow-Credentials" in m for m in with_cookies.console), \
            explain(with_cookies)

        # An origin the configuration does not list gets no CORS header and a bare preflight.
        other = {"Origin": "http://elsewhere.example"}
        status, headers, _ = http("GET", url, other)
        assert status == 200 and cors_headers(headers) == {}
        status, headers, _ = http("OPTIONS", url, {**other, "Access-Control-Request-Method": "PUT"})
        assert status == 204 and cors_headers(headers) == {}


def test_the_backends_own_cors_headers_are_dropped(portico, apigw2):
    """The backend answers `Access-Control-Allow-Origin: *`. With no CorsConfiguration that header
    passes through and the browser lets the page read the answer; once the API's CORS allows only
    another origin, the gateway drops it and the browser blocks."""
    with Backend(headers={"Access-Control-Allow-Origin": "*",
                          "Access-Control-Allow-Methods": "GET,PUT,OPTIONS"}) as backend, \
            PageServer() as page:
        api_id = items_api(apigw2, "browser-http-backend-cors", backend)
        url = invoke_url(portico, api_id, "$default", "/items")
        served(url, backend)

        (got,) = probe(page.url, [call(url)])
        assert (got.ok, got.status, got.json) == (True, 200, ITEMS), explain(got, backend)

        apigw2.update_api(ApiId=api_id, CorsConfiguration={
            "AllowOrigins": ["https://only.example.com"], "AllowMethods": ["GET", "PUT"]})
        wait_until(lambda: "access-control-allow-origin" not in
                   http("GET", url, {"Origin": page.origin})[1],
                   "CorsConfiguration deployed (the backend's header dropped)")
        seen = {"get from the page's origin": http("GET", url, {"Origin": page.origin}),
                "get from the allowed origin": http("GET", url, {"Origin": "https://only.example.com"})}
        assert cors_headers(seen["get from the page's origin"][1]) == {}
        assert cors_headers(seen["get from the allowed origin"][1]) == {
            "access-control-allow-origin": "https://only.example.com"}
        backend.seen.clear()

        (got,) = probe(page.url, [call(url)])
        assert got.blocked_by_cors, explain(got, backend, seen)
        assert any("No 'Access-Control-Allow-Origin' header" in m for m in got.console), explain(got)
        assert backend.methods() == ["GET"], explain(got, backend)


def test_credentials_and_exposed_headers(portico, apigw2):
    """AllowCredentials with the page's exact origin: a `credentials: 'include'` call goes through
    (with the page's cookie: cookies ignore the port, so 127.0.0.1's cookie goes to the gateway
    and on to the backend), and ExposeHeaders lets the page read the backend's custom header.
    Addressed through a named stage."""
    with Backend(headers={"X-Trace": "t-2", "X-Hidden": "h"}) as backend, \
            PageServer(set_cookie="sid=abc123; Path=/") as page:
        cors = {"AllowOrigins": [page.origin], "AllowMethods": ["GET", "PUT"],
                "AllowHeaders": ["x-custom"], "AllowCredentials": True,
                "ExposeHeaders": ["x-trace"], "MaxAge": 60}
        api_id = items_api(apigw2, "browser-http-credentials", backend, cors, stage="dev")
        url = invoke_url(portico, api_id, "dev", "/items")
        served(url, backend)
        preflight = ("OPTIONS", url, {"Origin": page.origin, "Access-Control-Request-Method": "PUT",
                                      "Access-Control-Request-Headers": "x-custom"})
        seen = {"preflight": http(*preflight), "get": http("GET", url, {"Origin": page.origin})}
        assert cors_headers(seen["get"][1]) == {"access-control-allow-origin": page.origin,
                                               "access-control-allow-credentials": "true",
                                               "access-control-expose-headers": "x-trace"}, seen["get"]
        assert seen["preflight"][0] == 204
        assert cors_headers(seen["preflight"][1]) == {
            "access-control-allow-origin": page.origin, "access-control-allow-credentials": "true",
            "access-control-allow-methods": "GET,PUT", "access-control-allow-headers": "x-custom",
            "access-control-expose-headers": "x-trace", "access-control-max-age": "60"}, seen["preflight"]
        backend.seen.clear()

        got_get, got_put = probe(page.url, [call(url, credentials="include"),
                                            {**put_call(url), "credentials": "include"}])
        assert (got_get.ok, got_get.status, got_get.type) == (True, 200, "cors"), \
            explain(got_get, backend, seen)
        assert got_get.json == ITEMS
        assert got_get.console == []
        assert got_get.headers.get("x-trace") == "t-2", explain(got_get)
        assert "x-hidden" not in got_get.headers, explain(got_get)
        assert (got_put.ok, got_put.status) == (True, 200), explain(got_put, backend, seen)
        assert got_put.headers.get("x-trace") == "t-2", explain(got_put)
        assert backend.methods() == ["GET", "PUT"], explain(got_put, backend)
        # The credentials really travelled: the page's cookie reached the backend both times.
        assert [h.get("cookie") for _, _, h, _ in backend.seen] == ["sid=abc123"] * 2, backend.seen
