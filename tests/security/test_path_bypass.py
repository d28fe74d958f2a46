"""T11, path normalisation bypasses of route authorization (security-tests.md), black-box: `/admin`
and `/admin/{proxy+}` behind AWS_IAM, a public `/public/{proxy+}` and a public catch-all
`/{proxy+}`, all HTTP_PROXY to a real backend that records every path it receives. Each bypass
spelling is sent raw over a socket, in both addressing forms; none may make the backend see a path
that a normalising server (decoding twice, reading `\\` as `/`, dropping `;` parameters, resolving
dot segments, merging slashes) would serve as `/admin`. The one path every step reads is the
gateway's: the test also checks the protected route is what `//admin` reaches."""
import os
import posixpath
import socket
import sys
from urllib.parse import unquote

import pytest

from conftest import Portico

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "traffic"))
from traffic_kit import Backend, client, new_api, resource  # noqa: E402

BYPASSES = [
    "/admin/../x", "/public/../admin", "/public/..%2fadmin", "/public/..%2Fadmin", "/public/%2e%2e/admin",
    "/public/%2e%2e%2fadmin", "/public/%252e%252e/admin", "/public/%252e%252e%252fadmin", "//admin",
    "///admin/x", "/admin;x", "/..;/admin", "/public/..;/admin", "/admin%00", "/admin%2f", "/admin%2Fx",
    "/%61dmin", "/admin/.", "/admin/./x", "/public/.%2e/admin", "/public/%5c..%5cadmin", "/x/..%5cadmin",
    "/public/%25%32%65%25%32%65/admin",
]


def normalised(path):
    """What a lenient backend might make of `path`."""
    p = unquote(unquote(path)).replace("\\", "/")
    p = "/".join(seg.split(";")[0] for seg in p.split("/"))
    p = posixpath.normpath("/" + p.lstrip("/"))
    return p


def raw_get(address, target, host=None):
    """The status of a GET of `target` sent exactly as written (no client normalisation)."""
    addr, port = address.rsplit(":", 1)
    with socket.create_connection((addr, int(port)), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: {host or address}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


@pytest.fixture(scope="module")
def env():
    backend = Backend()
    p = Portico()
    apigw = client(p)
    api, root = new_api(apigw, "t11-api")
    base = f"http://127.0.0.1:{backend.port}"

    def proxy(res, uri, auth, param=True):
        apigw.put_method(restApiId=api, resourceId=res, httpMethod="GET", authorizationType=auth,
                         requestParameters={"method.request.path.proxy": True} if param else {})
        apigw.put_integration(
            restApiId=api, resourceId=res, httpMethod="GET", type="HTTP_PROXY", integrationHttpMethod="GET",
            uri=uri, requestParameters={"integration.request.path.proxy": "method.request.path.proxy"} if param else {})

    admin = resource(apigw, api, root, "admin")
    proxy(admin, base + "/admin", "AWS_IAM", param=False)
    proxy(resource(apigw, api, admin, "{proxy+}"), base + "/admin/{proxy}", "AWS_IAM")
    proxy(resource(apigw, api, resource(apigw, api, root, "public"), "{proxy+}"), base + "/public/{proxy}", "NONE")
    proxy(resource(apigw, api, root, "{proxy+}"), base + "/{proxy}", "NONE")
    apigw.create_deployment(restApiId=api, stageName="dev")
    yield p, api, backend
    p.stop()
    backend.close()


@pytest.mark.parametrize("style", ["path", "host"])
def test_no_spelling_reaches_the_protected_backend_path(env, style):
    p, api, backend = env
    reached = []
    for path in BYPASSES:
        before = dict(backend.hits)
        if style == "path":
            status = raw_get(p.data_plane, f"/restapis/{api}/dev/_user_request_{path}")
        else:
            status = _host_style(p, api, path)
        new = [k for k, v in backend.hits.items() if v != before.get(k, 0)]
        bad = [k for k in new if normalised(k).startswith("/admin")]
        if bad or status == 200 and normalised(path).startswith("/admin") and not new:
            reached.append(f"{path}: {status}, backend saw {new}")
        assert status in (200, 400, 403, 404), (path, status)
    assert not reached, "\n".join(reached)


def _host_style(p, api, path):
    return raw_get(p.data_plane, f"/dev{path}", host=f"{api}.execute-api.localhost")


def test_dot_segments_and_nul_are_refused_and_doubled_slashes_route_to_the_protected_resource(env):
    p, api, backend = env
    prefix = f"/restapis/{api}/dev/_user_request_"
    for path in ("/admin/../x", "/public/%2e%2e/admin", "/..;/admin", "/admin%00", "/admin/."):
        assert raw_get(p.data_plane, prefix + path) == 400, path
    # An encoded slash is refused where it would reach a backend's path...
    assert raw_get(p.data_plane, prefix + "/public/a%2Fb") == 400
    # ...and `//admin` is the protected /admin (AWS routes `/stage//x` as `/x`).
    assert raw_get(p.data_plane, prefix + "//admin") == 403
    before = backend.count("/public/a/b")
    assert raw_get(p.data_plane, prefix + "/public/a/b") == 200
    assert backend.count("/public/a/b") == before + 1
    # Case is kept, as on AWS: /ADMIN is the catch-all's, forwarded as sent.
    assert raw_get(p.data_plane, prefix + "/ADMIN") == 200
    assert backend.count("/ADMIN") >= 1
