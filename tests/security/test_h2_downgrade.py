"""HTTP/2 → HTTP/1 downgrade and request smuggling (threat T9 in ../shared/reference/security-tests.md,
with the G3/G6 rules: 0 desync, refusals never reach the backend). Requests go over h2c as raw
frames (HPACK-encoded without any client-side validation) to an HTTP_PROXY `{proxy+}` route whose
backend is a raw-socket HTTP/1.1 recorder, the proof of what was forwarded:

* `transfer-encoding: chunked` with a body holding a whole smuggled HTTP/1 request (`/smuggled`).
* Connection-specific fields (RFC 9113 §8.2.2): `connection`, `keep-alive`, `proxy-connection`,
  `upgrade`, `te: gzip` (`te: trailers` is allowed and must not reach the backend as `TE`).
* `content-length` ≠ DATA length (too much DATA, END_STREAM before enough DATA), the DATA sent
  with the HEADERS or 0.5 s later.
* CR / LF / NUL in header values and names, uppercase names, a colon inside a name, a
  pseudo-header after a regular one, a duplicate `:path`, missing `:path` / `:method`, `:path`
  with a space, a CRLF, or not starting with `/`, a `:method` with CRLF, an unknown `:scheme`.
* `host` ≠ `:authority` (and two `host` fields): malformed (RFC 9113 §8.3.1), refused with 400;
  with host-style addressing neither field alone can pick the API.
* `content-length: 0` followed by DATA: refused, the empty request is not forwarded first.
* Controls: an H2 GET and a POST with a body (with and without `content-length`) are forwarded.

Malformed requests must be refused (RST_STREAM, GOAWAY, or a 4xx with a JSON `{"message": …}`)
with no complete request at the backend; everything the backend does get is one well-formed
HTTP/1.1 request per connection, framed by the gateway (Content-Length = body length, no
Transfer-Encoding), with no header line holding CR/LF/NUL and nothing after it on the wire."""
import json
import os
import re
import socket
import threading
import time
import urllib.request

import hpack
import pytest
from hyperframe.frame import (DataFrame, Frame, GoAwayFrame, HeadersFrame, RstStreamFrame,
                              SettingsFrame)

TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*[\x21-\x7e\x80-\xff]*(?:[ \t]+[\x21-\x7e\x80-\xff]+)*[ \t]*$")
SMUGGLE = b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


class Backend:
    """Raw-socket HTTP/1.1 recorder. Per connection: the request head, the body as framed by
    Content-Length, whether that body arrived whole, and every byte sent after it. Answers 200
    with `Connection: close`, so a connection carries one request unless something is smuggled."""

    def __init__(self):
        self.conns, self.sock = [], socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            rec = {"head": b"", "body": b"", "complete": False, "extra": b"", "done": threading.Event()}
            self.conns.append(rec)
            threading.Thread(target=self._handle, args=(conn, rec), daemon=True).start()

    @staticmethod
    def _handle(conn, rec):
        buf = b""
        try:
            with conn:
                conn.settimeout(3)
                while b"\r\n\r\n" not in buf and (chunk := conn.recv(65536)):
                    buf += chunk
                if b"\r\n\r\n" not in buf:  # nothing, or a partial head: no request
                    rec["head"] = buf
                    return
                rec["head"], _, buf = buf.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:[ \t]*(\d+)", rec["head"])
                want = int(m.group(1)) if m else 0
                while len(buf) < want and (chunk := conn.recv(65536)):
                    buf += chunk
                rec["body"], rec["extra"], rec["complete"] = buf[:want], buf[want:], len(buf) >= want
                if rec["complete"]:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                                 b"Content-Length: 11\r\n\r\n{\"ok\":true}")
                conn.settimeout(0.3)
                while chunk := conn.recv(65536):
                    rec["extra"] += chunk
        except OSError:
            pass
        finally:
            rec["done"].set()

    def since(self, n, settle=0.3):
        """Connections opened after the first `n` that received any byte, once their handlers
        have finished."""
        time.sleep(settle)
        for rec in self.conns[n:]:
            rec["done"].wait(5)
        return [rec for rec in self.conns[n:] if rec["head"] or rec["extra"]]


def served(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def target(apigw, portico):
    backend = Backend()
    api_id = apigw.create_rest_api(name="h2-downgrade")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    res = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")["id"]
    apigw.put_method(restApiId=api_id, resourceId=res, httpMethod="ANY", authorizationType="NONE",
                     requestParameters={"method.request.path.proxy": True})
    apigw.put_integration(restApiId=api_id, resourceId=res, httpMethod="ANY", integrationHttpMethod="ANY",
                          type="HTTP_PROXY", uri=f"http://127.0.0.1:{backend.port}/base/{{proxy}}",
                          requestParameters={"integration.request.path.proxy": "method.request.path.proxy"})
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    deadline = time.time() + 5
    while not served(portico.invoke_url(api_id, "dev", "/warm")):
        assert time.time() < deadline, "API never served"
        time.sleep(0.05)
    host, port = portico.data_plane.rsplit(":", 1)
    yield (host, int(port)), f"/restapis/{api_id}/dev/_user_request_", backend
    backend.sock.close()
    apigw.delete_rest_api(restApiId=api_id)


def h2_exchange(addr, headers, data=(), seconds=3, pause=0.0):
    """One request on stream 1 of a fresh h2c connection: a HEADERS frame holding exactly
    `headers`, then one DATA frame per item of `data` (END_STREAM on the last, or on HEADERS when
    there is none) `pause` seconds later. Returns ("status", code, body), ("reset", code),
    ("goaway", code), ("eof",) or ("timeout",)."""
    enc, dec = hpack.Encoder(), hpack.Decoder()
    frame = HeadersFrame(1, enc.encode(headers), flags=["END_HEADERS"] + ([] if data else ["END_STREAM"]))
    head = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + SettingsFrame(0).serialize() + frame.serialize()
    wire = b"".join(DataFrame(1, chunk, flags=["END_STREAM"] if i == len(data) - 1 else []).serialize()
                    for i, chunk in enumerate(data))
    status, body, buf = None, b"", b""
    with socket.create_connection(addr, timeout=seconds) as sock:
        sock.sendall(head)
        time.sleep(pause)
        sock.sendall(wire)
        deadline = time.time() + seconds
        while time.time() < deadline:
            while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                frame, length = Frame.parse_frame_header(memoryview(buf[:9]))
                frame.parse_body(memoryview(buf[9:9 + length]))
                buf = buf[9 + length:]
                if isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
                    sock.sendall(SettingsFrame(0, flags=["ACK"]).serialize())
                elif isinstance(frame, GoAwayFrame):
                    return "goaway", frame.error_code
                elif isinstance(frame, RstStreamFrame) and frame.stream_id == 1:
                    return "reset", frame.error_code
                elif isinstance(frame, HeadersFrame) and frame.stream_id == 1:
                    status = dict(dec.decode(frame.data)).get(":status")
                elif isinstance(frame, DataFrame) and frame.stream_id == 1:
                    body += frame.data
                if frame.stream_id == 1 and "END_STREAM" in frame.flags:
                    return "status", int(status), body
            try:
                chunk = sock.recv(65536)
            except OSError as e:
                return ("timeout",) if isinstance(e, socket.timeout) else ("eof",)
            if not chunk:
                return ("eof",)
            buf += chunk
    return ("timeout",)


def req(path, method="GET", extra=(), authority="localhost"):
    return [(":method", method), (":scheme", "http"), (":authority", authority), (":path", path), *extra]


def refused(outcome):
    if outcome[0] == "status":
        return 400 <= outcome[1] < 500 and isinstance(json.loads(outcome[2]).get("message"), str)
    return outcome[0] in ("reset", "goaway", "eof")


def check_forwarded(rec, port):
    """One well-formed HTTP/1.1 request, framed by the gateway, alone on its connection."""
    assert rec["complete"] and rec["extra"] == b"", rec
    line, *fields = rec["head"].split(b"\r\n")
    assert re.fullmatch(rb"[A-Z]+ /base/[\x21-\x7e]* HTTP/1\.1", line) and b"/smuggled" not in line, rec
    assert all(TOKEN.match(f) for f in fields), rec
    names = [f.split(b":", 1)[0].lower() for f in fields]
    assert names.count(b"host") == 1 and f"host: 127.0.0.1:{port}".encode() in rec["head"].lower(), rec
    assert not {b"transfer-encoding", b"te", b"connection", b"keep-alive", b"proxy-connection",
                b"upgrade"} & set(names), rec
    lengths = re.findall(rb"(?im)^content-length:[ \t]*(\d+)", rec["head"])
    assert [int(n) for n in lengths] == ([len(rec["body"])] if rec["body"] or lengths else []), rec


def send(target, build, data=(), pause=0.0):
    addr, prefix, backend = target
    before = len(backend.conns)
    outcome = h2_exchange(addr, build(prefix + "/echo"), data, pause=pause)
    return outcome, backend.since(before)


def test_controls_are_forwarded(target):
    _, _, backend = target
    body = b'{"a": 1, "pad": "' + b"x" * 3000 + b'"}'
    for build, data, sent in [(lambda p: req(p + "?q=1"), (), b""),
                              # `te: trailers` is the one TE allowed; it must not be forwarded.
                              (lambda p: req(p, extra=[("te", "trailers")]), (), b""),
                              (lambda p: req(p, "POST", [("content-length", str(len(body)))]), (body,), body),
                              (lambda p: req(p, "POST"), (body[:1000], body[1000:]), body)]:
        outcome, recs = send(target, build, data)
        assert outcome[0] == "status" and outcome[1] == 200, outcome
        assert len(recs) == 1, recs
        check_forwarded(recs[0], backend.port)
        assert recs[0]["body"] == sent


def test_transfer_encoding_chunked_never_smuggles(target):
    _, _, backend = target
    for extra in [[("transfer-encoding", "chunked")],
                  [("transfer-encoding", "chunked"), ("content-length", str(len(SMUGGLE)))]]:
        outcome, recs = send(target, lambda p: req(p, "POST", extra), (SMUGGLE,))
        # Refused (RFC 9113 §8.2.2), or forwarded as exactly one request carrying the whole body.
        assert refused(outcome) or outcome[:2] == ("status", 200), outcome
        assert len(recs) == (0 if refused(outcome) else 1), (extra, outcome, recs)
        for rec in recs:
            check_forwarded(rec, backend.port)
            assert rec["body"] == SMUGGLE
        print(f"TE {extra}: {outcome[:2]}, backend requests {len(recs)}")


CONNECTION_SPECIFIC = [("connection", "keep-alive"), ("keep-alive", "timeout=5"),
                       ("proxy-connection", "keep-alive"), ("upgrade", "h2c"), ("te", "gzip"),
                       ("te", "trailers, gzip"), ("connection", "x-secret")]


@pytest.mark.parametrize("field", CONNECTION_SPECIFIC, ids=lambda f: f"{f[0]}={f[1]}")
def test_connection_specific_fields_are_refused(target, field):
    outcome, recs = send(target, lambda p: req(p, extra=[field]))
    assert refused(outcome) and recs == [], (outcome, recs)


MISMATCHES = [(5, (b"x" * 20,)), (50, (b"hello",)), (5, (b"abc", b"defgh")), (5, ())]


# DATA sent with the HEADERS, or 0.5 s later (the gateway has then already streamed the head).
@pytest.mark.parametrize("declared,data,pause", [
    *[pytest.param(n, d, p, id=f"{n}-vs-{sum(map(len, d))}-{w}") for n, d in MISMATCHES
      for p, w in [(0.0, "together"), (0.5, "data-later")]],
    # Only the deterministic form: with the DATA in the same write it races (usually reset first).
    # `content-length: 0` with DATA (later, or in the same write): the empty request is not
    # forwarded before the stream ends.
    pytest.param(0, (b"x",), 0.5, id="0-vs-1-data-later"),
    pytest.param(0, (b"x",), 0.0, id="0-vs-1-together")])
def test_content_length_mismatch_is_refused(target, declared, data, pause):
    outcome, recs = send(target, lambda p: req(p, "POST", [("content-length", str(declared))]), data, pause)
    print(f"content-length {declared} vs {sum(map(len, data))} ({pause}s): {outcome[:2]}, "
          f"aborted heads at backend {len(recs)}")
    # Nothing complete reaches the backend: at most a head streamed before the mismatch was known,
    # whose connection is then aborted; never a body of the wrong length, never more bytes.
    assert [r for r in recs if r["complete"] or r["body"] or r["extra"]] == [], recs
    assert refused(outcome), outcome


MALFORMED = {
    **{f"value-{k}": (lambda v: lambda p: req(p, extra=[("x-a", v)]))(v) for k, v in
       [("crlf", "a\r\nX-Injected: 1"), ("cr", "a\rX-Injected: 1"), ("lf", "a\nX-Injected: 1"), ("nul", "a\x00b")]},
    **{f"name-{k}": (lambda n: lambda p: req(p, extra=[(n, "1")]))(n) for k, n in
       [("crlf", "x-a\r\nx-injected"), ("nul", "x-a\x00b"), ("uppercase", "X-Upper"), ("colon", "x:a"),
        ("space", "x a")]},
    "pseudo-after-regular": lambda p: req(p)[:3] + [("x-a", "1"), (":path", p)],
    "duplicate-path": lambda p: req(p) + [(":path", "/restapis/other")],
    "unknown-pseudo": lambda p: req(p, extra=[(":foo", "bar")]),
    "missing-path": lambda p: req(p)[:3],
    "missing-method": lambda p: req(p)[1:],
    "path-space": lambda p: req(p + "/a b"),
    "path-request-line": lambda p: req(p + " HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /smuggled"),
    "path-crlf": lambda p: req(p + "\r\nX-Injected: 1"),
    "path-relative": lambda p: req(p.lstrip("/")),
    "path-empty": lambda p: req(""),
    "method-crlf": lambda p: req(p, "GET /smuggled HTTP/1.1\r\nX: "),
    "method-space": lambda p: req(p, "GET /x"),
    "scheme-crlf": lambda p: [(":method", "GET"), (":scheme", "http\r\nX: 1")] + req(p)[2:],
    "authority-crlf": lambda p: req(p, authority="localhost\r\nX-Injected: 1"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_requests_are_refused(target, case):
    outcome, recs = send(target, MALFORMED[case])
    print(f"{case}: {outcome[:2]}, backend requests {len(recs)}")
    for rec in recs:  # even when something was wrongly forwarded, it must not desync the backend
        check_forwarded(rec, target[2].port)
    assert refused(outcome) and recs == [], (outcome, recs)


@pytest.mark.parametrize("hosts", [["evil.example"], ["127.0.0.1:1"], ["localhost\r\nX-Injected: 1"],
                                   ["localhost", "evil.example"]], ids=["evil", "ip", "crlf", "two-hosts"])
def test_host_differing_from_authority_never_reaches_the_backend_as_host(target, hosts):
    outcome, recs = send(target, lambda p: req(p, extra=[("host", h) for h in hosts]))
    print(f"host {hosts!r} vs :authority localhost: {outcome[:2]}, backend requests {len(recs)}")
    # RFC 9113 §8.3.1: a Host naming another authority makes the request malformed.
    assert refused(outcome) and recs == [], (outcome, recs)


@pytest.mark.parametrize("ours", [":authority", "host"])
def test_authority_not_host_selects_the_api(target, ours):
    """Host-style addressing (`{api}.execute-api.…`) with `:authority` and `host` naming different
    APIs: `:authority` wins (or the request is refused); `host` never routes it."""
    addr, prefix, backend = target
    mine, other = f"{prefix.split('/')[2]}.execute-api.local", "nosuchapi.execute-api.local"
    authority, host = (mine, other) if ours == ":authority" else (other, mine)
    before = len(backend.conns)
    outcome = h2_exchange(addr, req("/dev/echo", authority=authority, extra=[("host", host)]))
    recs = backend.since(before)
    print(f"{ours} names the API: {outcome[:2]}, backend requests {len(recs)}")
    # They differ, so the request is malformed either way: refused, nothing routed by `host`.
    assert refused(outcome) and recs == [], (outcome, recs)


if os.environ.get("PORTICO_SKIP_H2"):
    pytestmark = pytest.mark.skip(reason="PORTICO_SKIP_H2 set")
