"""HTTP/2 abuse against the data plane, written with the Python `h2` library so the frames are
exactly the attacker's (threats T16–T19 in ../shared/reference/security-tests.md): rapid reset,
CONTINUATION flood, SETTINGS and PING floods, MadeYouReset (frames that make the server reset
streams), an HPACK bomb. Each attack must end with the attacker's connection closed (GOAWAY or EOF)
within a bounded number of frames or stay bounded in memory, and a legitimate client keeps being
served.

Every attack runs twice: over h2c (prior knowledge, plain TCP) and over the HTTPS listener (TLS,
HTTP/2 by ALPN, trusting the local CA in the data directory), with the legitimate client on the
same listener as the attacker."""
import os
import socket
import ssl
import threading
import time
import urllib.request
import weakref

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
def api_path(apigw, portico):
    api_id = apigw.create_rest_api(name="h2-abuse")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=root, httpMethod="GET", statusCode="200",
                                   responseTemplates={"application/json": '{"ok": true}'})
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    return f"/restapis/{api_id}/dev/_user_request_/"


class Target:
    """One listener under attack: h2c on the plain data plane, or HTTP/2 over TLS (ALPN `h2`,
    server name `localhost`, trusting only the local CA) on the HTTPS listener. `url` is the API
    for a legitimate HTTP/1.1 client of the same listener; `urlopen` opens it."""

    def __init__(self, transport, portico, path):
        self.transport, self.path = transport, path
        self.tls = transport == "tls"
        address = portico.https if self.tls else portico.data_plane
        assert address, f"no {transport} listener"
        host, port = address.rsplit(":", 1)
        self.addr = (host, int(port))
        self.scheme = "https" if self.tls else "http"
        self.url = f"{self.scheme}://{address}{path}"
        ca = os.path.join(portico.data, "tls", "ca.pem")
        self.h2_ctx = self.http1_ctx = None
        if self.tls:
            self.h2_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.h2_ctx.load_verify_locations(ca)
            self.h2_ctx.set_alpn_protocols(["h2"])
            self.http1_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.http1_ctx.load_verify_locations(ca)
            self.http1_ctx.set_alpn_protocols(["http/1.1"])

    def urlopen(self, timeout=5):
        return urllib.request.urlopen(self.url, timeout=timeout, context=self.http1_ctx)

    def legit_client(self):
        return LegitClient(self.url, self.http1_ctx)

    def h2_connect(self):
        sock = socket.create_connection(self.addr, timeout=5)
        if self.tls:
            sock = self.h2_ctx.wrap_socket(sock, server_hostname="localhost")
            assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8",
            validate_outbound_headers=False, normalize_outbound_headers=False))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        return sock, conn

    def request_headers(self, extra=()):
        return request_headers(self.path, extra, scheme=self.scheme)


@pytest.fixture(scope="module", params=["h2c", "tls"])
def target(request, portico, api_path):
    t = Target(request.param, portico, api_path)
    deadline = time.time() + 5
    while True:
        try:
            with t.urlopen() as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        assert time.time() < deadline, f"API never served over {t.transport}"
        time.sleep(0.05)
    return t


def request_headers(path, extra=(), scheme="http"):
    return [(":method", "GET"), (":scheme", scheme), (":authority", "localhost"), (":path", path), *extra]


# A TLS socket that ends: the peer's close_notify, or the TCP connection closed under TLS.
TLS_EOF = (ssl.SSLEOFError, ssl.SSLZeroReturnError)
# A TLS socket that cannot send or receive right now (non-blocking).
TLS_WOULD_BLOCK = (ssl.SSLWantReadError, ssl.SSLWantWriteError)
# TLS sockets a write to failed during an attack (the server had stopped reading and closed).
# OpenSSL keeps the unfinished record and refuses any other write (`BAD_LENGTH`), and that refusal
# also ends reading — so on these the server's GOAWAY is read without answering anything.
TLS_WRITE_FAILED = weakref.WeakSet()


def drain_until_closed(sock, conn, seconds=10, statuses=None):
    """Reads until the server closes or sends GOAWAY; returns ('goaway', code) / ('eof', None) /
    ('open', None) if the connection is still open after `seconds`. Response statuses seen are
    appended to `statuses`."""
    sock.settimeout(0.5)
    deadline = time.time() + seconds
    sending = sock not in TLS_WRITE_FAILED
    while time.time() < deadline:
        try:
            data = sock.recv(65536)
        except (socket.timeout, *TLS_WOULD_BLOCK):
            continue
        except (ConnectionResetError, BrokenPipeError, *TLS_EOF):
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
            if out and sending:
                sock.sendall(out)
        except OSError:
            if not isinstance(sock, ssl.SSLSocket):
                return "eof", None
            # Keep reading what the server sent before it closed (see TLS_WRITE_FAILED).
            sending = False
    return "open", None


def send_quietly(sock, data):
    try:
        sock.sendall(data)
        return True
    except OSError:
        if isinstance(sock, ssl.SSLSocket):
            TLS_WRITE_FAILED.add(sock)
        return False


class LegitClient:
    """HTTP/1.1 requests to `url` in a loop while an attack runs (an `https://` one with the
    `ssl.SSLContext` `context`); records failures and the worst latency. Also used by
    test_memory_bounds.py."""

    def __init__(self, url, context=None):
        self.url, self.context, self.failures, self.ok, self.worst = url, context, 0, 0, 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            started = time.time()
            try:
                with urllib.request.urlopen(self.url, timeout=5, context=self.context) as r:
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
    sock, conn = target.h2_connect()
    before = rss_kb(portico.proc.pid)
    sent = 0
    with target.legit_client() as legit:
        for i in range(10_000):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, target.request_headers(), end_stream=True)
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
    print(f"rapid reset ({target.transport}): {sent} HEADERS+RST sent, outcome {outcome} {code}, worst legit latency {legit.worst:.3f}s")


def test_continuation_flood_is_bounded(target, portico):
    sock, conn = target.h2_connect()
    before = rss_kb(portico.proc.pid)
    block = conn.encoder.encode(target.request_headers())
    headers = HeadersFrame(1)
    headers.data = block
    headers.flags = set()  # no END_HEADERS: the block never ends
    assert send_quietly(sock, headers.serialize())
    frames = 0
    filler = conn.encoder.encode([("x-fill", "a" * 1000)])
    with target.legit_client() as legit:
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
    print(f"continuation flood ({target.transport}): closed after <= {frames} frames ({outcome} {code}), RSS +{grew} KiB")


@pytest.mark.parametrize("kind", ["settings", "ping"])
def test_control_frame_floods_stay_bounded(target, portico, kind):
    sock, conn = target.h2_connect()
    before = rss_kb(portico.proc.pid)
    frame = SettingsFrame(0) if kind == "settings" else PingFrame(0)
    if kind == "ping":
        frame.opaque_data = b"12345678"
    wire = frame.serialize() * 1000
    sent = 0
    with target.legit_client() as legit:
        # Never read: the server's ACKs pile up on its side unless it bounds them.
        sock.setblocking(False)
        deadline = time.time() + 3
        while time.time() < deadline and sent < 200_000:
            try:
                sock.send(wire)
                sent += 1000
            except (BlockingIOError, *TLS_WOULD_BLOCK):
                # Over TLS the same bytes are offered again, as OpenSSL requires after a
                # would-block write.
                time.sleep(0.01)
            except OSError:
                break
        grew = rss_kb(portico.proc.pid) - before
        sock.setblocking(True)
    sock.close()
    assert grew < RSS_BUDGET_KB, f"{kind} flood: RSS grew {grew} KiB after {sent} frames"
    assert legit.failures == 0
    print(f"{kind} flood ({target.transport}): {sent} frames, RSS +{grew} KiB, worst legit latency {legit.worst:.3f}s")


@pytest.mark.parametrize("trigger", ["window-update-0", "data-after-end-stream"])
def test_made_you_reset_is_cut_off(target, portico, trigger):
    """T18 (MadeYouReset, CVE-2025-8671): valid-looking frames that make the *server* reset each
    stream — a WINDOW_UPDATE of 0 on an open stream, DATA on a stream the client already ended —
    in a loop. The server must stop it with GOAWAY (hyper's h2 allows 1 024 such local resets)
    or absorb it within the memory budget, and keep serving others."""
    sock, conn = target.h2_connect()
    before = rss_kb(portico.proc.pid)
    block = conn.encoder.encode(target.request_headers())
    sent = 0
    with target.legit_client() as legit:
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
    print(f"made-you-reset ({trigger}, {target.transport}): {sent} streams sent, outcome {outcome} {code}, RSS +{grew} KiB, "
          f"worst legit latency {legit.worst:.3f}s")


def test_hpack_bomb_is_refused(target, portico):
    sock, conn = target.h2_connect()
    before = rss_kb(portico.proc.pid)
    # One 4 KiB value indexed into the dynamic table, then referenced thousands of times: a few
    # bytes on the wire decode to megabytes of headers.
    big = "b" * 4000
    first = conn.encoder.encode(target.request_headers([("x-bomb", big)]))
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
    with target.urlopen() as r:
        assert r.status == 200
    print(f"hpack bomb ({target.transport}): {len(frame.data)} wire bytes, outcome {outcome} {code}, RSS +{grew} KiB")


def test_h2_still_serves_after_the_attacks(target):
    sock, conn = target.h2_connect()
    conn.send_headers(1, target.request_headers(), end_stream=True)
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
