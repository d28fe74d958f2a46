"""HTTP/2 abuse against the data plane (h2c, prior knowledge), written with the Python `h2` library
so the frames are exactly the attacker's (threats T16–T19 in
../shared/reference/security-tests.md): rapid reset, CONTINUATION flood, SETTINGS and PING floods,
MadeYouReset (frames that make the server reset streams), an HPACK bomb. Each attack must end with the attacker's connection closed (GOAWAY or EOF) within a
bounded number of frames or stay bounded in memory, and a legitimate client keeps being served."""
import os
import socket
import threading
import time
import urllib.request

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import pytest
from hyperframe.frame import (ContinuationFrame, DataFrame, HeadersFrame, PingFrame, SettingsFrame,
                              WindowUpdateFrame)

# RSS a single attacking connection may add to the gateway.
RSS_BUDGET_KB = 8 * 1024


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.fixture(scope="module")
def target(apigw, portico):
    api_id = apigw.create_rest_api(name="h2-abuse")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200",
                                   responseTemplates={"application/json": '{"ok": true}'})
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    path = f"/restapis/{api_id}/dev/_user_request_/"
    url = f"http://{portico.data_plane}{path}"
    deadline = time.time() + 5
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        assert time.time() < deadline, "API never served"
        time.sleep(0.05)
    host, port = portico.data_plane.rsplit(":", 1)
    return (host, int(port)), path, url


def h2_connect(addr):
    sock = socket.create_connection(addr, timeout=5)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8",
        validate_outbound_headers=False, normalize_outbound_headers=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def request_headers(path, extra=()):
    return [(":method", "GET"), (":scheme", "http"), (":authority", "localhost"), (":path", path), *extra]


def drain_until_closed(sock, conn, seconds=10, statuses=None):
    """Reads until the server closes or sends GOAWAY; returns ('goaway', code) / ('eof', None) /
    ('open', None) if the connection is still open after `seconds`. Response statuses seen are
    appended to `statuses`."""
    sock.settimeout(0.5)
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return "eof", None
        if not data:
            return "eof", None
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            return "eof", None
        for ev in events:
            if isinstance(ev, h2.events.ConnectionTerminated):
                return "goaway", ev.error_code
            if isinstance(ev, h2.events.ResponseReceived) and statuses is not None:
                statuses.append(dict(ev.headers).get(":status"))
        try:
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
        except OSError:
            return "eof", None
    return "open", None


def send_quietly(sock, data):
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


class LegitClient:
    """HTTP/1.1 requests in a loop while an attack runs; records failures and the worst latency."""

    def __init__(self, url):
        self.url, self.failures, self.ok, self.worst = url, 0, 0, 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            started = time.time()
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    r.read()
                    self.ok += 1 if r.status == 200 else 0
                    self.failures += 0 if r.status == 200 else 1
            except OSError:
                self.failures += 1
            self.worst = max(self.worst, time.time() - started)
            time.sleep(0.01)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=10)


def test_rapid_reset_is_cut_off(target, portico):
    addr, path, url = target
    sock, conn = h2_connect(addr)
    before = rss_kb(portico.proc.pid)
    sent = 0
    with LegitClient(url) as legit:
        for i in range(10_000):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, request_headers(path), end_stream=True)
            conn.reset_stream(sid)
            if i % 100 == 99:
                if not send_quietly(sock, conn.data_to_send()):
                    break
            sent += 1
        outcome, code = drain_until_closed(sock, conn)
    sock.close()
    # Either the server cut the connection (GOAWAY / EOF) or it absorbed every reset cheaply.
    assert outcome in ("goaway", "eof") or rss_kb(portico.proc.pid) - before < RSS_BUDGET_KB, (outcome, sent)
    assert legit.failures == 0 and legit.ok > 0
    print(f"rapid reset: {sent} HEADERS+RST sent, outcome {outcome} {code}, worst legit latency {legit.worst:.3f}s")


def test_continuation_flood_is_bounded(target, portico):
    addr, path, url = target
    sock, conn = h2_connect(addr)
    before = rss_kb(portico.proc.pid)
    block = conn.encoder.encode(request_headers(path))
    headers = HeadersFrame(1)
    headers.data = block
    headers.flags = set()  # no END_HEADERS: the block never ends
    assert send_quietly(sock, headers.serialize())
    frames = 0
    filler = conn.encoder.encode([("x-fill", "a" * 1000)])
    with LegitClient(url) as legit:
        for frames in range(1, 20_001):
            cont = ContinuationFrame(1)
            cont.data = filler
            if not send_quietly(sock, cont.serialize()):
                break
        outcome, code = drain_until_closed(sock, conn, seconds=5)
    grew = rss_kb(portico.proc.pid) - before
    sock.close()
    assert outcome in ("goaway", "eof"), f"connection still open after {frames} CONTINUATION frames"
    assert grew < RSS_BUDGET_KB, f"RSS grew {grew} KiB"
    assert legit.failures == 0
    print(f"continuation flood: closed after <= {frames} frames ({outcome} {code}), RSS +{grew} KiB")


@pytest.mark.parametrize("kind", ["settings", "ping"])
def test_control_frame_floods_stay_bounded(target, portico, kind):
    addr, path, url = target
    sock, conn = h2_connect(addr)
    before = rss_kb(portico.proc.pid)
    frame = SettingsFrame(0) if kind == "settings" else PingFrame(0)
    if kind == "ping":
        frame.opaque_data = b"12345678"
    wire = frame.serialize() * 1000
    sent = 0
    with LegitClient(url) as legit:
        # Never read: the server's ACKs pile up on its side unless it bounds them.
        sock.setblocking(False)
        deadline = time.time() + 3
        while time.time() < deadline and sent < 200_000:
            try:
                sock.send(wire)
                sent += 1000
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                break
        grew = rss_kb(portico.proc.pid) - before
        sock.setblocking(True)
    sock.close()
    assert grew < RSS_BUDGET_KB, f"{kind} flood: RSS grew {grew} KiB after {sent} frames"
    assert legit.failures == 0
    print(f"{kind} flood: {sent} frames, RSS +{grew} KiB, worst legit latency {legit.worst:.3f}s")


@pytest.mark.parametrize("trigger", ["window-update-0", "data-after-end-stream"])
def test_made_you_reset_is_cut_off(target, portico, trigger):
    """T18 (MadeYouReset, CVE-2025-8671): valid-looking frames that make the *server* reset each
    stream — a WINDOW_UPDATE of 0 on an open stream, DATA on a stream the client already ended —
    in a loop. The server must stop it with GOAWAY (hyper's h2 allows 1 024 such local resets)
    or absorb it within the memory budget, and keep serving others."""
    addr, path, url = target
    sock, conn = h2_connect(addr)
    before = rss_kb(portico.proc.pid)
    block = conn.encoder.encode(request_headers(path))
    sent = 0
    with LegitClient(url) as legit:
        wire = b""
        for i in range(5_000):
            sid = 1 + 2 * i
            headers = HeadersFrame(sid)
            headers.data = block
            if trigger == "window-update-0":
                headers.flags = {"END_HEADERS"}
                bad = WindowUpdateFrame(sid)
                bad.window_increment = 0
            else:
                headers.flags = {"END_HEADERS", "END_STREAM"}
                bad = DataFrame(sid)
                bad.data = b"x"
            wire += headers.serialize() + bad.serialize()
            if i % 100 == 99:
                if not send_quietly(sock, wire):
                    break
                wire = b""
            sent += 1
        outcome, code = drain_until_closed(sock, conn, seconds=5)
    grew = rss_kb(portico.proc.pid) - before
    sock.close()
    assert outcome in ("goaway", "eof") or grew < RSS_BUDGET_KB, (outcome, sent, grew)
    assert grew < RSS_BUDGET_KB, f"RSS grew {grew} KiB"
    assert legit.failures == 0 and legit.ok > 0
    print(f"made-you-reset ({trigger}): {sent} streams sent, outcome {outcome} {code}, RSS +{grew} KiB, "
          f"worst legit latency {legit.worst:.3f}s")


def test_hpack_bomb_is_refused(target, portico):
    addr, path, url = target
    sock, conn = h2_connect(addr)
    before = rss_kb(portico.proc.pid)
    # One 4 KiB value indexed into the dynamic table, then referenced thousands of times: a few
    # bytes on the wire decode to megabytes of headers.
    big = "b" * 4000
    first = conn.encoder.encode(request_headers(path, [("x-bomb", big)]))
    refs = conn.encoder.encode([("x-bomb", big)] * 4000)
    frame = HeadersFrame(1)
    frame.data = first + refs
    frame.flags = {"END_HEADERS", "END_STREAM"}
    send_quietly(sock, frame.serialize())
    statuses = []
    outcome, code = drain_until_closed(sock, conn, seconds=3, statuses=statuses)
    grew = rss_kb(portico.proc.pid) - before
    sock.close()
    assert grew < RSS_BUDGET_KB, f"RSS grew {grew} KiB"
    # The request must not be served as if its headers were fine.
    assert "200" not in statuses, statuses
    with urllib.request.urlopen(url, timeout=5) as r:
        assert r.status == 200
    print(f"hpack bomb: {len(frame.data)} wire bytes, outcome {outcome} {code}, RSS +{grew} KiB")


def test_h2_still_serves_after_the_attacks(target):
    addr, path, _ = target
    sock, conn = h2_connect(addr)
    conn.send_headers(1, request_headers(path), end_stream=True)
    sock.sendall(conn.data_to_send())
    status, body = None, b""
    sock.settimeout(5)
    while True:
        data = sock.recv(65536)
        assert data, "connection closed"
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                status = dict(ev.headers)[":status"]
            elif isinstance(ev, h2.events.DataReceived):
                body += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                sock.close()
                assert status == "200" and body == b'{"ok": true}'
                return
        sock.sendall(conn.data_to_send())


if os.environ.get("PORTICO_SKIP_H2"):
    pytestmark = pytest.mark.skip(reason="PORTICO_SKIP_H2 set")
