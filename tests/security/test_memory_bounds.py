"""Memory that stays bounded (issue 11): idle keep-alive connections, a flood of trickled bodies
against the body budget, and an access-log writer nobody reads. Each drives a real `portico serve`
from outside and reads its RSS from /proc."""
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import boto3
import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import pytest
from botocore.config import Config

from conftest import BIN, Portico

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "bench"))
import idle_memory  # noqa: E402

IDLE_CONNECTIONS = int(os.environ.get("PORTICO_IDLE_CONNECTIONS", "10000"))
# Bytes of RSS one idle keep-alive connection may cost, after one request (issue 11: ≤ 4 KB).
IDLE_BUDGET = 4096


def rss(pid):
    return idle_memory.rss_bytes(pid)


def client(p):
    return boto3.client("apigateway", endpoint_url=f"http://{p.admin}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}))


def mock_api(p, name, template='{"statusCode": 200}', method="GET"):
    """An API whose root answers 200 `ok` from a MOCK integration with `template`."""
    apigw = client(p)
    api = apigw.create_rest_api(name=name)["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod=method, authorizationType="NONE")
    apigw.put_method_response(restApiId=api, resourceId=root, httpMethod=method, statusCode="200")
    apigw.put_integration(restApiId=api, resourceId=root, httpMethod=method, type="MOCK",
                          requestTemplates={"application/json": template})
    apigw.put_integration_response(restApiId=api, resourceId=root, httpMethod=method,
                                   statusCode="200", responseTemplates={"application/json": "ok"})
    apigw.create_deployment(restApiId=api, stageName="dev")
    path = f"/restapis/{api}/dev/_user_request_/"
    deadline = time.time() + 5
    while True:
        try:
            req = urllib.request.Request(f"http://{p.data_plane}{path}", method=method,
                                         data=b"{}" if method != "GET" else None,
                                         headers={"content-type": "application/json"})
            with urllib.request.urlopen(req, timeout=5) as r:
                if r.status == 200:
                    return path
        except OSError:
            pass
        assert time.time() < deadline, "API never served"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server():
    # The account throttle (AWS's 10,000 rps, burst 5,000) is lifted: 10,000 connections each
    # sending a request at once measure memory, not throttling (a fast run was answered 429).
    p = Portico(extra=("--access-log", "off", "--max-connections", str(IDLE_CONNECTIONS + 200),
                       "--idle-timeout-secs", "300", "--header-timeout-secs", "300",
                       "--account-rate-limit", "1000000000", "--account-burst-limit", "1000000000"))
    yield p
    p.stop()


@pytest.mark.parametrize("proto", [
    "h1",
    pytest.param("h2", marks=pytest.mark.xfail(strict=True, reason=(
        "known gap: an idle h2 connection keeps ~39 KB, almost all of it buffers the h2 crate "
        "never gives back (16 KB write, 8 KB read, 4 KB HPACK Huffman); see docs/performance.md"))),
])
def test_idle_keep_alive_connections_cost_little(server, proto):
    path = mock_api(server, f"idle-{proto}")
    host, port = server.data_plane.rsplit(":", 1)
    served = []

    def still_serving(_socks):
        with urllib.request.urlopen(f"http://{server.data_plane}{path}", timeout=5) as r:
            served.append(r.status)

    # The h2 case is a known gap (below): 2,000 connections show it.
    n = IDLE_CONNECTIONS if proto == "h1" else min(IDLE_CONNECTIONS, 2000)
    r = idle_memory.measure(server.proc.pid, (host, int(port)), server.data_plane, path,
                            n, proto, hold=still_serving)
    print(f"{proto}: {r['after_request_per_conn']:.0f} B per idle connection "
          f"({n} connections; {r['connected_per_conn']:.0f} B before a request)")
    assert r["still_open"] == n, "idle connections were closed"
    assert served == [200], "a new client was not served while the connections idled"
    assert r["after_request_per_conn"] <= IDLE_BUDGET, r


BUDGET = 4 * 1024 * 1024


def h2_flood(addr, path, connections, streams, seconds, chunk, statuses, stop):
    """`connections` h2 connections, each opening `streams` POSTs with no content-length and
    trickling `chunk` bytes on every open stream every 100 ms, never ending them."""
    socks = []
    for _ in range(connections):
        s = socket.create_connection(addr, timeout=5)
        c = h2.connection.H2Connection(config=h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        c.initiate_connection()
        c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
        ids = []
        for _ in range(streams):
            sid = c.get_next_available_stream_id()
            c.send_headers(sid, [(":method", "POST"), (":scheme", "http"), (":authority", "localhost"),
                                 (":path", path), ("content-type", "application/json")])
            ids.append(sid)
        s.sendall(c.data_to_send())
        s.setblocking(False)
        socks.append((s, c, set(ids)))
    data = b"x" * chunk
    deadline = time.time() + seconds
    while time.time() < deadline and not stop.is_set():
        for s, c, open_ids in socks:
            try:
                while True:
                    got = s.recv(65536)
                    if not got:
                        open_ids.clear()
                        break
                    for ev in c.receive_data(got):
                        if isinstance(ev, h2.events.ResponseReceived):
                            statuses.append(dict(ev.headers).get(":status"))
                        if isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                            open_ids.discard(ev.stream_id)
            except (BlockingIOError, InterruptedError):
                pass
            except (OSError, h2.exceptions.ProtocolError):
                open_ids.clear()
            for sid in list(open_ids):
                try:
                    if c.local_flow_control_window(sid) >= chunk:
                        c.send_data(sid, data)
                except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
                    open_ids.discard(sid)
            try:
                out = c.data_to_send()
                if out:
                    s.setblocking(True)
                    s.sendall(out)
                    s.setblocking(False)
            except OSError:
                open_ids.clear()
        time.sleep(0.1)
    return socks


def test_trickled_h2_bodies_stay_within_the_body_budget(tmp_path):
    p = Portico(extra=("--access-log", "off", "--body-budget-bytes", str(BUDGET)))
    try:
        # A template that reads the body: every request buffers it.
        known = mock_api(p, "budget", template='{"statusCode": 200, "len": "$input.body.length()"}',
                         method="POST")
        legit = mock_api(p, "legit")
        host, port = p.data_plane.rsplit(":", 1)
        base = rss(p.proc.pid)
        peak = [base]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss(p.proc.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        statuses_known, statuses_unknown, held = [], [], []
        from test_h2_floods import LegitClient
        with LegitClient(f"http://{p.data_plane}{legit}") as good:
            flood_known = threading.Thread(target=lambda: held.append(h2_flood(
                (host, int(port)), known, 2, 256, 6, 8192, statuses_known, stop)))
            flood_unknown = threading.Thread(target=lambda: held.append(h2_flood(
                (host, int(port)), "/restapis/nosuchapi/dev/_user_request_/", 2, 256, 6, 8192,
                statuses_unknown, stop)))
            flood_known.start()
            flood_unknown.start()
            flood_known.join(30)
            flood_unknown.join(30)
        stop.set()
        sampler.join(5)
        metrics = urllib.request.urlopen(f"http://{p.admin}/metrics", timeout=5).read().decode()
        refused = int(re.search(r"^portico_body_budget_refused (\d+)", metrics, re.M).group(1))
        in_use = int(re.search(r"^portico_body_buffered_bytes (\d+)", metrics, re.M).group(1))
        grown = peak[0] - base
        print(f"RSS grew {grown / 2**20:.1f} MiB at most (budget {BUDGET / 2**20:.0f} MiB); "
              f"{refused} bodies refused; known route answered {sorted(set(statuses_known))}, "
              f"unknown API {sorted(set(statuses_unknown))}; legit client ok {good.ok}, "
              f"failures {good.failures}, worst {good.worst:.2f} s")
        assert statuses_unknown and set(statuses_unknown) == {"403"}, statuses_unknown
        assert "429" in statuses_known, "the budget never refused a body"
        assert refused > 0
        assert good.failures == 0 and good.ok > 0
        # The buffered bytes never pass the budget; the process grows by at most the budget,
        # HTTP/2 receive windows (1 MiB per connection) and a fixed overhead per open stream (its
        # h2 state and request future: 1,024 streams here).
        assert grown <= BUDGET + 80 * 2**20, f"grew {grown} bytes"
        for socks in held:
            for s, _, _ in socks:
                s.close()
        time.sleep(0.5)
        metrics = urllib.request.urlopen(f"http://{p.admin}/metrics", timeout=5).read().decode()
        in_use = int(re.search(r"^portico_body_buffered_bytes (\d+)", metrics, re.M).group(1))
        assert in_use == 0, "buffered bytes were not given back when the clients left"
    finally:
        p.stop()


def test_a_stalled_access_log_writer_leaves_memory_flat():
    """stdout is a pipe nobody reads: the writer blocks once the pipe is full; lines beyond the
    queue's ceiling are dropped and counted, requests keep being served, memory stays flat."""
    data = tempfile.mkdtemp(prefix="portico-stalled-")
    proc = subprocess.Popen(
        [BIN, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
         "--data-dir", data, "--reload-interval-ms", "50", "--access-log", "stdout"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PORTICO_LOG": "warn"})
    try:
        dp = admin = None
        while dp is None or admin is None:
            line = proc.stdout.readline()
            assert line, "portico did not start"
            m = re.match(r"portico: data plane listening on http://(\S+)", line)
            dp = m.group(1) if m else dp
            m = re.match(r"portico: management listening on http://(\S+)", line)
            admin = m.group(1) if m else admin
        # From here on nobody reads stdout.

        class P:
            pass
        p = P()
        p.admin, p.data_plane = admin, dp
        path = mock_api(p, "stalled-log")
        host, port = dp.rsplit(":", 1)

        def burst(n):
            c = socket.create_connection((host, int(port)), timeout=10)
            req = f"GET {path} HTTP/1.1\r\nHost: {dp}\r\nUser-Agent: {'u' * 200}\r\n\r\n".encode()
            buf = b""
            for _ in range(n):
                c.sendall(req)
                while b"\r\n\r\nok" not in buf:
                    got = c.recv(65536)
                    assert got, "connection closed"
                    buf += got
                buf = buf[buf.index(b"\r\n\r\nok") + 6:]
            c.close()

        started = time.time()
        burst(12000)  # fills the pipe, then the queue (8192 lines)
        # The allocator settles after the queue is full (a busy machine showed 2.3 MiB more
        # after the first burst than after a second one): measure from there.
        burst(4000)
        first = rss(proc.pid)
        burst(12000)
        second = rss(proc.pid)
        took = time.time() - started
        metrics = urllib.request.urlopen(f"http://{admin}/metrics", timeout=5).read().decode()
        dropped = int(re.search(r"^portico_access_log_dropped_lines (\d+)", metrics, re.M).group(1))
        print(f"28000 requests in {took:.1f} s; RSS {first / 2**20:.1f} → {second / 2**20:.1f} MiB; "
              f"{dropped} access-log lines dropped")
        assert dropped >= 16000, dropped
        assert second - first <= 2 * 2**20, f"memory grew by {second - first} bytes"
    finally:
        proc.kill()
        proc.wait(timeout=10)
