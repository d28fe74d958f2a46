"""Backend pools and body limits (issue 11), driven through boto3 and the data plane against a raw
socket backend that records every connection: a pool goes when no deployment targets its backend
any more, `TestInvokeMethod` leaves none behind, `--max-backend-connections` caps the connections
to one backend (504 once a request has waited its integration timeout), bodies of unknown length
reach a proxied backend whole with a `Content-Length` (or chunked with `--stream-proxy-bodies`),
and `--max-body-bytes` is one limit for all of them."""
import socket
import threading
import time

import boto3
import pytest
from botocore.config import Config

from conftest import Portico


class Backend:
    """Answers every request head with `200 ok` on a keep-alive connection (after `delay`
    seconds); records each connection's heads and whether it is still open."""

    def __init__(self, delay=0.0):
        self.delay = delay
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []  # dicts: heads (bytes), open (bool)
        self.most_open = 0  # most connections open at the same time
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            rec = {"heads": [], "open": True}
            with self.lock:
                self.conns.append(rec)
                self.most_open = max(self.most_open, sum(1 for r in self.conns if r["open"]))
            threading.Thread(target=self.serve, args=(c, rec), daemon=True).start()

    def serve(self, c, rec):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    got = c.recv(65536)
                    if not got:
                        return
                    buf += got
                head, buf = buf.split(b"\r\n\r\n", 1)
                lower = head.lower()
                # Read the body: Content-Length or chunked (to the last chunk).
                if b"content-length:" in lower:
                    n = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
                    while len(buf) < n:
                        got = c.recv(65536)
                        if not got:
                            return
                        buf += got
                    buf = buf[n:]
                elif b"transfer-encoding: chunked" in lower:
                    while b"0\r\n\r\n" not in buf:
                        got = c.recv(65536)
                        if not got:
                            return
                        buf += got
                    buf = buf.split(b"0\r\n\r\n", 1)[1]
                rec["heads"].append(head)
                time.sleep(self.delay)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except OSError:
            pass
        finally:
            with self.lock:
                rec["open"] = False
            c.close()

    def open_connections(self):
        with self.lock:
            return sum(1 for r in self.conns if r["open"])

    def heads(self):
        with self.lock:
            return [h for r in self.conns for h in r["heads"]]

    def close(self):
        self.sock.close()


def client(p):
    return boto3.client("apigateway", endpoint_url=f"http://{p.admin}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}))


def proxy_api(p, port, name, timeout_ms=29000):
    """An API whose `/{proxy+}` goes to 127.0.0.1:`port` (HTTP_PROXY, ANY); returns (api, resource)."""
    apigw = client(p)
    api = apigw.create_rest_api(name=name)["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    res = apigw.create_resource(restApiId=api, parentId=root, pathPart="{proxy+}")["id"]
    apigw.put_method(restApiId=api, resourceId=res, httpMethod="ANY", authorizationType="NONE",
                     requestParameters={"method.request.path.proxy": True})
    apigw.put_integration(restApiId=api, resourceId=res, httpMethod="ANY", type="HTTP_PROXY",
                          integrationHttpMethod="ANY", uri=f"http://127.0.0.1:{port}/{{proxy}}",
                          requestParameters={"integration.request.path.proxy": "method.request.path.proxy"},
                          timeoutInMillis=timeout_ms)
    apigw.create_deployment(restApiId=api, stageName="dev")
    return api, res


def raw(addr, request, timeout=10):
    """Sends raw bytes on a new connection; returns the status of the first answer and the text."""
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    try:
        s.sendall(request)
        buf = b""
        while b"\r\n\r\n" not in buf:
            got = s.recv(65536)
            if not got:
                break
            buf += got
        head = buf.split(b"\r\n\r\n", 1)[0]
        deadline = time.time() + 2
        while time.time() < deadline:
            try:
                s.settimeout(0.3)
                got = s.recv(65536)
            except socket.timeout:
                break
            if not got:
                break
            buf += got
        return int(head.split()[1]), buf.decode(errors="replace")
    finally:
        s.close()


def get(p, api, path):
    return raw(p.data_plane, f"GET /restapis/{api}/dev/_user_request_{path} HTTP/1.1\r\n"
                             f"Host: x\r\nConnection: close\r\n\r\n".encode())


def wait_for(cond, seconds=5, what="condition"):
    deadline = time.time() + seconds
    while not cond():
        assert time.time() < deadline, what
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server():
    p = Portico()
    yield p
    p.stop()


def test_a_backend_pool_goes_with_the_last_deployment_that_targets_it(server):
    a, b = Backend(), Backend()
    try:
        api, res = proxy_api(server, a.port, "pool-a")
        assert get(server, api, "/x")[0] == 200
        wait_for(lambda: a.open_connections() == 1, what="A's pooled connection")
        # Point the method at B and deploy: nothing targets A any more.
        apigw = client(server)
        apigw.update_integration(restApiId=api, resourceId=res, httpMethod="ANY", patchOperations=[
            {"op": "replace", "path": "/uri", "value": f"http://127.0.0.1:{b.port}/{{proxy}}"}])
        apigw.create_deployment(restApiId=api, stageName="dev")
        assert get(server, api, "/x")[0] == 200
        assert len(b.heads()) == 1
        wait_for(lambda: a.open_connections() == 0, what="A's idle connection closed with its pool")
        assert b.open_connections() == 1, "B's pool keeps its connection"
    finally:
        a.close()
        b.close()


def test_test_invoke_leaves_no_pool_behind(server):
    a, c = Backend(), Backend()
    try:
        api, res = proxy_api(server, a.port, "pool-invoke")
        apigw = client(server)
        # Change the integration without deploying, and test-invoke it: C is reached once.
        apigw.update_integration(restApiId=api, resourceId=res, httpMethod="ANY", patchOperations=[
            {"op": "replace", "path": "/uri", "value": f"http://127.0.0.1:{c.port}/{{proxy}}"}])
        r = apigw.test_invoke_method(restApiId=api, resourceId=res, httpMethod="ANY",
                                     pathWithQueryString="/y")
        assert r["status"] == 200 and r["body"] == "ok"
        assert len(c.heads()) == 1
        wait_for(lambda: c.open_connections() == 0, what="the test invocation's pool dropped")
    finally:
        a.close()
        c.close()


def test_the_backend_connection_cap_makes_a_request_wait_then_504():
    slow = Backend(delay=1.5)
    p = Portico(extra=("--access-log", "off", "--max-backend-connections", "1"))
    try:
        # Two APIs, one backend (one pool): the first request holds the only connection for
        # 1.5 s; the second, with a 500 ms integration timeout, waits for it and gets a 504.
        patient, _ = proxy_api(p, slow.port, "cap-patient")
        hasty, _ = proxy_api(p, slow.port, "cap-hasty", timeout_ms=500)
        first = []
        t = threading.Thread(target=lambda: first.append(get(p, patient, "/x")))
        t.start()
        wait_for(lambda: len(slow.heads()) == 1, what="the first request at the backend")
        started = time.time()
        status, text = get(p, hasty, "/x")
        waited = time.time() - started
        assert status == 504 and '"Endpoint request timed out"' in text, (status, text)
        assert 0.4 <= waited < 1.4, f"answered after {waited:.2f} s"
        t.join(10)
        assert first and first[0][0] == 200
        assert len(slow.conns) == 1, "a second connection was opened past the cap"
        assert slow.most_open == 1
    finally:
        p.stop()
        slow.close()


CHUNKED = (b"POST /restapis/{api}/dev/_user_request_/u HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")


@pytest.mark.parametrize("stream", [False, True])
def test_a_body_of_unknown_length_reaches_a_proxied_backend(stream):
    b = Backend()
    extra = ("--access-log", "off") + (("--stream-proxy-bodies",) if stream else ())
    p = Portico(extra=extra)
    try:
        api, _ = proxy_api(p, b.port, "bodies")
        status, _ = raw(p.data_plane, CHUNKED.replace(b"{api}", api.encode()))
        assert status == 200
        head = b.heads()[-1].lower()
        if stream:
            assert b"transfer-encoding: chunked" in head and b"content-length" not in head, head
        else:
            assert b"content-length: 11" in head and b"transfer-encoding" not in head, head
    finally:
        p.stop()
        b.close()


@pytest.mark.parametrize("stream", [False, True])
def test_max_body_bytes_is_one_limit_for_every_body(stream):
    b = Backend()
    extra = ("--access-log", "off", "--max-body-bytes", "1000") + (
        ("--stream-proxy-bodies",) if stream else ())
    p = Portico(extra=extra)
    try:
        api, _ = proxy_api(p, b.port, "limit")
        base = f"POST /restapis/{api}/dev/_user_request_/u HTTP/1.1\r\nHost: x\r\n".encode()
        # A declared length over the limit, and a chunked body growing past it.
        status, text = raw(p.data_plane, base + b"Content-Length: 1001\r\n\r\n" + b"a" * 1001)
        assert status == 413 and '{"message":"Request Too Long"}' in text
        chunk = b"%x\r\n%s\r\n" % (600, b"b" * 600)
        status, text = raw(p.data_plane, base + b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 2
                           + b"0\r\n\r\n")
        assert status == 413 and '{"message":"Request Too Long"}' in text
        assert "connection: close" in text.lower()
        # Within the limit, both go through.
        status, _ = raw(p.data_plane, base + b"Connection: close\r\nContent-Length: 1000\r\n\r\n"
                        + b"a" * 1000)
        assert status == 200
        status, _ = raw(p.data_plane, base + b"Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + chunk + b"0\r\n\r\n")
        assert status == 200
    finally:
        p.stop()
        b.close()
