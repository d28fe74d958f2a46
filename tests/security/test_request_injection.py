"""Threats T30 (SSRF through request data in integration URIs) and T10 (header / CRLF injection
through parameter mapping). Real `portico serve`, raw-socket clients (exact bytes, no client-side
normalisation) and raw-socket recording backends: `A` is the integration's backend, `B` an
"internal" service that must never be reached.

* T30 `{proxy+}` → `http://A/base/{proxy}`: encoded `..`, `@host`, `#`, `?`, `http://B`, `//B`,
  NUL, backslash, overlong UTF-8 and double encodings; B never connected to, every request A gets
  stays under `/base/` with no literal dot segment and Host `A`; `{id}` →
  `http://A/items/{id}/detail` never gains a path segment.
* T30 same, once normalised as a WHATWG URL parser / nginx would (`%2E%2E` read as `..`): a path
  parameter holding a `.`/`..` segment (raw or `%2e`-encoded) is refused with 400, so nothing
  forwarded resolves outside `/base/` (or `/items/{id}/detail`).
* T30 `http://${stageVariables.host}/x`: query strings, headers, Host and path data naming B do not
  move the request off A.
* T30 query mapping `integration.request.querystring.q` ← `method.request.querystring.q`: `&`,
  `=`, `#`, `+`, space and CRLF arrive as one encoded `q`.
* T10 `integration.request.header.X-User` ← `method.request.querystring.u` and `X-In` ←
  `method.request.header.x-in` with CR/LF/NUL/obs-fold/`嘊嘍` values: the backend's request head stays
  well-formed (no `X-Injected`, one Host, no smuggled request); the client gets 2xx or a JSON error.
* T10 response side: `method.response.header.X-Out` ← `integration.response.body.v` holding CRLF,
  and `$context.responseOverride.header.X-Out` set from a CRLF literal or a query value: the client
  never sees `Set-Cookie` nor a second response.
"""
import json
import re
import socket
import threading
import time
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

import pytest

TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*[\x21-\x7e\x80-\xff]*(?:[ \t]+[\x21-\x7e\x80-\xff]+)*[ \t]*$")


class Backend:
    """Records every connection and request head; answers 200 with `body`."""

    def __init__(self, body=b'{"ok": true}'):
        self.body, self.heads, self.connections = body, [], 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            conn.settimeout(5)
            buf = b""
            try:
                while b"\r\n\r\n" not in buf and (chunk := conn.recv(65536)):
                    buf += chunk
                head, _, rest = buf.partition(b"\r\n\r\n")
                self.heads.append(head)
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                while m and len(rest) < int(m.group(1)) and (chunk := conn.recv(65536)):
                    rest += chunk
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(self.body), self.body))
            except OSError:
                pass

    def targets(self):
        return [h.split(b"\r\n")[0].split(b" ")[1].decode("latin-1") for h in self.heads]


@pytest.fixture(scope="module")
def backends():
    a, b = Backend(), Backend()
    yield a, b
    a.sock.close()
    b.sock.close()


def raw(portico, api_id, path, headers=b""):
    """GET /restapis/{api}/dev/_user_request_{path} with exact bytes; (status, head, body, all bytes)."""
    host, port = portico.data_plane.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"GET /restapis/%s/dev/_user_request_%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s\r\n"
                  % (api_id.encode(), path.encode("latin-1"), portico.data_plane.encode(), headers))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if re.search(rb"(?im)^transfer-encoding:\s*chunked", head):
        out, rest = b"", body
        while (size := int(rest.split(b"\r\n", 1)[0], 16)) > 0:
            rest = rest.split(b"\r\n", 1)[1]
            out, rest = out + rest[:size], rest[size + 2:]
        body = out
    return int(head.split(b" ")[1]), head, body, data


def deploy(apigw, portico, api_id, probe, **kw):
    apigw.create_deployment(restApiId=api_id, stageName="dev", **kw)
    deadline = time.time() + 5
    while raw(portico, api_id, probe)[0] != 200:
        assert time.time() < deadline, "deployment never served"
        time.sleep(0.05)


def route(apigw, api_id, parent, part, params=(), **integration):
    res = apigw.create_resource(restApiId=api_id, parentId=parent, pathPart=part)["id"] if part else parent
    apigw.put_method(restApiId=api_id, resourceId=res, httpMethod="GET", authorizationType="NONE",
                     requestParameters={f"method.request.{p}": False for p in params})
    apigw.put_integration(restApiId=api_id, resourceId=res, httpMethod="GET", integrationHttpMethod="GET",
                          **integration)
    if integration["type"] in ("HTTP", "MOCK"):
        apigw.put_method_response(restApiId=api_id, resourceId=res, httpMethod="GET", statusCode="200",
                                  responseParameters={"method.response.header.X-Out": False})
    return res


def new_api(apigw, name):
    api_id = apigw.create_rest_api(name=name)["id"]
    return api_id, apigw.get_resources(restApiId=api_id)["items"][0]["id"]


def is_json_error(status, body):
    return status >= 400 and isinstance(json.loads(body).get("message"), str)


def proxy_attacks(b):
    return ["/..%2f..%2finternal", "/%2e%2e/%2e%2e/x", "/%2E%2E%2F%2E%2E%2Finternal", "/a/../../internal",
            "/./x", f"/@127.0.0.1:{b}/x", f"/%40127.0.0.1:{b}", "/x%23frag", "/x%3fq=1",
            f"/http:%2f%2f127.0.0.1:{b}/", f"//127.0.0.1:{b}/x", "/x%00y", "/%5c..%5cx", "/%c0%ae%c0%ae/x",
            "/%e0%80%ae%e0%80%ae/x", "/%252e%252e/x", "/%u002e%u002e/x", f"/x%0d%0aHost:%20127.0.0.1:{b}"]


ID_ATTACKS = ["/items/a%2Fb", "/items/a%2f..%2f..%2fx", "/items/%2e%2e", "/items/..%5c..", "/items/x%3f"]


@pytest.fixture(scope="module")
def proxy_api(apigw, portico, backends):
    a, b = backends
    api_id, root = new_api(apigw, "ssrf-proxy")
    route(apigw, api_id, root, "{proxy+}", ["path.proxy"], type="HTTP_PROXY",
          uri=f"http://127.0.0.1:{a.port}/base/{{proxy}}",
          requestParameters={"integration.request.path.proxy": "method.request.path.proxy"})
    items = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="items")["id"]
    route(apigw, api_id, items, "{id}", ["path.id"], type="HTTP_PROXY",
          uri=f"http://127.0.0.1:{a.port}/items/{{id}}/detail",
          requestParameters={"integration.request.path.id": "method.request.path.id"})
    deploy(apigw, portico, api_id, "/warm")
    a.heads.clear()
    got = {p: raw(portico, api_id, p)[0] for p in proxy_attacks(b.port) + ID_ATTACKS}
    yield got, list(zip(a.targets(), a.heads))
    apigw.delete_rest_api(restApiId=api_id)


def test_proxy_and_path_params_never_leave_the_base_path(proxy_api, backends):
    got, seen = proxy_api
    a, b = backends
    assert b.connections == 0, "the internal backend was reached"
    assert seen, f"nothing reached the backend: the check would be vacuous {got}"
    for target, head in seen:
        path = urlsplit(target).path
        assert re.search(rb"(?im)^host: 127\.0\.0\.1:%d\r?$" % a.port, head), head
        assert path.startswith(("/base/", "/items/")), target
        assert not {".", ".."} & set(path.split("/")), target
        if path.startswith("/items/"):
            assert re.fullmatch(r"/items/[^/]+/detail", path) and not urlsplit(target).query, target


def whatwg_path(path):
    """The path a WHATWG URL parser (or nginx, Go's ServeMux) makes of `path`: a segment that is
    `.`/`..` once `%2e` is read as `.` is a dot segment."""
    out = []
    for seg in path.split("/")[1:]:
        dots = seg.lower().replace("%2e", ".")
        if dots == "..":
            out = out[:-1]
        elif dots != ".":
            out.append(seg)
    return "/" + "/".join(out)


DOT_SEGMENT_ATTACKS = ["/..%2f..%2finternal", "/%2e%2e/%2e%2e/x", "/%2E%2E%2F%2E%2E%2Finternal",
                       "/a/../../internal", "/./x", "/items/%2e%2e"]


def test_dot_segments_are_refused_and_nothing_forwarded_resolves_outside_the_base(proxy_api):
    got, seen = proxy_api
    for attack in DOT_SEGMENT_ATTACKS:
        assert got[attack] == 400, (attack, got[attack])
    escaped = [t for t, _ in seen if not re.match(r"/base/|/items/[^/]+/detail$", whatwg_path(urlsplit(t).path))]
    assert escaped == []


def test_stage_variable_host_cannot_be_steered_by_the_client(apigw, portico, backends):
    a, b = backends
    api_id, root = new_api(apigw, "ssrf-stagevars")
    route(apigw, api_id, root, None, type="HTTP_PROXY", uri="http://${stageVariables.host}/x")
    route(apigw, api_id, root, "{proxy+}", ["path.proxy"], type="HTTP_PROXY",
          uri="http://${stageVariables.host}/x/{proxy}",
          requestParameters={"integration.request.path.proxy": "method.request.path.proxy"})
    deploy(apigw, portico, api_id, "/", variables={"host": f"127.0.0.1:{a.port}"})
    a.heads.clear()
    evil = f"127.0.0.1:{b.port}"
    attempts = [(f"/?stageVariables.host={evil}", b""), (f"/?host={evil}&stageVariables=host", b""),
                ("/", b"stageVariables-host: %s\r\n" % evil.encode()),
                ("/", b"stageVariables.host: %s\r\n" % evil.encode()),
                ("/", b"X-Forwarded-Host: %s\r\nForwarded: host=%s\r\n" % (evil.encode(), evil.encode())),
                ("/%24%7BstageVariables.host%7D", b""), (f"/x?{evil}", b"")]
    statuses = [raw(portico, api_id, p, h)[0] for p, h in attempts]
    assert statuses == [200] * len(attempts)
    assert b.connections == 0, "the internal backend was reached"
    assert len(a.heads) == len(attempts)
    for target, head in zip(a.targets(), a.heads):
        path = unquote_to_bytes(urlsplit(target).path).decode("latin-1")
        assert path.startswith("/x") and evil not in path, target
        assert re.search(rb"(?im)^host: 127\.0\.0\.1:%d\r?$" % a.port, head), head
    apigw.delete_rest_api(restApiId=api_id)


QUERY_VALUES = ["a%26admin%3D1", "a%23frag", "a%20b%2Bc", "a+b", "x%0d%0aX-Injected:%201", "%3D%3D%26%26"]


def test_query_mapping_sends_one_encoded_parameter(apigw, portico, backends):
    a, _ = backends
    api_id, root = new_api(apigw, "ssrf-query")
    route(apigw, api_id, root, None, ["querystring.q"], type="HTTP", uri=f"http://127.0.0.1:{a.port}/q",
          requestParameters={"integration.request.querystring.q": "method.request.querystring.q"})
    apigw.put_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200")
    deploy(apigw, portico, api_id, "/?q=warm")
    a.heads.clear()
    for v in QUERY_VALUES:
        assert raw(portico, api_id, f"/?q={v}&admin=2")[0] == 200, v
    expected = [unquote_to_bytes(v.replace("+", " ")).decode() for v in QUERY_VALUES]
    got = [parse_qs(urlsplit(t).query, keep_blank_values=True) for t in a.targets()]
    assert got == [{"q": [e]} for e in expected]
    assert all(urlsplit(t).path == "/q" for t in a.targets())
    apigw.delete_rest_api(restApiId=api_id)


U_VALUES = ["a%0d%0aX-Injected:%201", "a%0aHost:%20evil", "a%0dX-Injected:%201", "a%0d%0a%20X-Injected:%201",
            "a%00b", "%e5%98%8a%e5%98%8dX-Injected:%201", "a%0d%0a%0d%0aGET%20/smuggle%20HTTP/1.1%0d%0aX-Injected:%201"]
X_IN_VALUES = [b"a\r\n X-Injected: 1", b"a\rX-Injected: 1", b"a\nX-Injected: 1", b"a\x00b",
               b"\xe5\x98\x8a\xe5\x98\x8dX-Injected: 1", b"a\r\nHost: evil"]


def test_header_mapping_never_injects_a_header(apigw, portico, backends):
    a, _ = backends
    api_id, root = new_api(apigw, "crlf-request")
    route(apigw, api_id, root, None, ["querystring.u", "header.x-in"], type="HTTP",
          uri=f"http://127.0.0.1:{a.port}/h",
          requestParameters={"integration.request.header.X-User": "method.request.querystring.u",
                             "integration.request.header.X-In": "method.request.header.x-in"})
    apigw.put_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200")
    deploy(apigw, portico, api_id, "/?u=warm")
    a.heads.clear()
    outcomes = {}
    for path, hdr in [(f"/?u={v}", b"") for v in U_VALUES] + [("/", b"x-in: " + v + b"\r\n") for v in X_IN_VALUES]:
        before = len(a.heads)
        status, _, body, _ = raw(portico, api_id, path, hdr)
        assert status == 200 or is_json_error(status, body), (path, hdr, status, body)
        sent = a.heads[before:]
        assert len(sent) == (1 if status == 200 else 0), (path, hdr, sent)
        outcomes[(path, hdr)] = (status, [re.findall(rb"(?im)^x-(?:user|in):.*$", h) for h in sent])
    assert all(h.startswith(b"GET /h HTTP/1.1\r\n") for h in a.heads), a.heads
    for head in a.heads:
        lines = head.split(b"\r\n")[1:]
        assert all(TOKEN.match(line) for line in lines), head
        names = [line.split(b":", 1)[0].lower() for line in lines]
        assert names.count(b"host") == 1 and b"x-injected" not in names, head
        assert b"evil" not in head and b"smuggle" not in head, head
    assert any(s == 200 for s, _ in outcomes.values()), outcomes
    apigw.delete_rest_api(restApiId=api_id)


def test_response_header_mapping_never_splits_the_response(apigw, portico):
    c = Backend(body=b'{"v": "a\\r\\nSet-Cookie: pwn=1"}')
    api_id, root = new_api(apigw, "crlf-response")
    r = route(apigw, api_id, root, "r", type="HTTP", uri=f"http://127.0.0.1:{c.port}/")
    apigw.put_integration_response(restApiId=api_id, resourceId=r, httpMethod="GET", statusCode="200",
                                   responseParameters={"method.response.header.X-Out": "integration.response.body.v"})
    templates = {"m1": '#set($context.responseOverride.header.X-Out = "a\r\nSet-Cookie: x=1")\n{}',
                 "m2": "#set($context.responseOverride.header.X-Out = $input.params('u'))\n{}",
                 "m3": "#set($context.responseOverride.header.Set-Cookie = $input.params('u'))\n{}"}
    for name, template in templates.items():
        m = route(apigw, api_id, root, name, ["querystring.u"], type="MOCK",
                  requestTemplates={"application/json": '{"statusCode": 200}'})
        apigw.put_integration_response(restApiId=api_id, resourceId=m, httpMethod="GET", statusCode="200",
                                       responseTemplates={"application/json": template})
    deploy(apigw, portico, api_id, "/m2?u=warm")
    outcomes = {}
    for path in ["/r", "/m1", "/m2?u=a%0d%0aSet-Cookie:%20x=1", "/m2?u=a%0aSet-Cookie:%20x=1",
                 "/m2?u=a%0d%0a%0d%0aHTTP/1.1%20200%20OK%0d%0aSet-Cookie:%20x=1", "/m3?u=x=1%0d%0aX-Injected:%201"]:
        status, head, body, data = raw(portico, api_id, path)
        outcomes[path] = (status, re.findall(rb"(?im)^x-out:.*$", head), body)
        assert status == 200 or is_json_error(status, body), (path, status, body)
        assert data.count(b"HTTP/1.1 ") == 1, (path, data)
        names = [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n")[1:]]
        assert b"x-injected" not in names and names.count(b"set-cookie") <= (1 if path.startswith("/m3") else 0), data
        assert all(TOKEN.match(line) for line in head.split(b"\r\n")[1:]), data
    assert len(c.heads) == 1
    c.sock.close()
    apigw.delete_rest_api(restApiId=api_id)
