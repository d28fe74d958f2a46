#!/usr/bin/env python3
"""Memory per idle keep-alive connection: Portico vs nginx, same run.

For each server, N connections are opened and each sends one `GET` (HTTP/1.1, or HTTP/2 with
prior knowledge) and reads the whole answer; then every connection stays open and idle. The
server's RSS (`VmRSS`, the worker process for nginx) is read before the connections open, after
they open but before any request, and after the answers, once it has settled. Reported: bytes
per connection, connected and after one request.

    python3 bench/idle_memory.py --portico target/release/portico [--connections 10000]

nginx is optional (skipped with a note when `nginx` is not installed; `bench/setup.sh` installs
it). `measure()` is what the idle-connection test in tests/security uses.
"""
import argparse
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def settled_rss(pid, seconds=1.5):
    """RSS once it stopped moving (allocators return freed pages on a delay)."""
    time.sleep(seconds)
    last = rss_bytes(pid)
    for _ in range(10):
        time.sleep(0.3)
        now = rss_bytes(pid)
        if abs(now - last) < 64 * 1024:
            return now
        last = now
    return last


class H1:
    def __init__(self, host, path):
        self.request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: idle-probe\r\n\r\n".encode()

    def start(self, sock):
        sock.sendall(self.request)
        return bytearray()

    def feed(self, state, data, sock):
        state.extend(data)
        end = state.find(b"\r\n\r\n")
        if end < 0:
            return False
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", bytes(state[:end]))
        status = int(state[9:12])
        assert status == 200, bytes(state[:end])
        return len(state) >= end + 4 + (int(m.group(1)) if m else 0)


class WS:
    """A WebSocket upgrade (the handshake's 101 is the answer); the connection then idles open."""

    def __init__(self, host, path):
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: idle-probe\r\n"
                        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode()

    def start(self, sock):
        sock.sendall(self.request)
        return bytearray()

    def feed(self, state, data, sock):
        state.extend(data)
        end = state.find(b"\r\n\r\n")
        if end < 0:
            return False
        assert state[9:12] == b"101", bytes(state[:end])
        return True


class H2:
    def __init__(self, host, path):
        import h2.config  # noqa: F401 (the tests' venv has it)
        self.host, self.path = host, path

    def start(self, sock):
        import h2.config
        import h2.connection
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        conn.send_headers(1, [(":method", "GET"), (":scheme", "http"), (":authority", self.host),
                              (":path", self.path), ("user-agent", "idle-probe")], end_stream=True)
        sock.sendall(conn.data_to_send())
        return conn

    def feed(self, conn, data, sock):
        import h2.events
        done = False
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                status = dict(ev.headers).get(":status")
                assert status == "200", ev.headers
            if isinstance(ev, h2.events.StreamEnded) and ev.stream_id == 1:
                done = True
            if isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        return done


def measure(pid, addr, host, path, n, proto="h1", timeout=120, hold=None):
    """Opens `n` idle connections to `addr`, each after one request; returns a dict of bytes per
    connection (`connected`, `after_request`) and the RSS figures. `hold(socks)` runs while the
    connections are still open (the caller's chance to check the server still serves)."""
    client = {"h1": H1, "h2": H2, "ws": WS}[proto](host, path)
    base = settled_rss(pid, 0.5)
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(addr, timeout=10)
            socks.append(s)
        # Let the server accept them all.
        time.sleep(1.0)
        connected = settled_rss(pid, 0.5)
        sel = selectors.DefaultSelector()
        states = {}
        for s in socks:
            states[s.fileno()] = (s, client.start(s))
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        pending = len(socks)
        deadline = time.time() + timeout
        while pending:
            if time.time() > deadline:
                raise RuntimeError(f"{pending} of {n} answers missing")
            for key, _ in sel.select(timeout=1):
                s, state = states[key.fd]
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    raise RuntimeError("server closed a connection before answering")
                s.setblocking(True)
                done = client.feed(state, data, s)
                s.setblocking(False)
                if done:
                    sel.unregister(s)
                    pending -= 1
        sel.close()
        after = settled_rss(pid, 2.5)
        # Still open: a closed connection would be readable (EOF) now.
        sel = selectors.DefaultSelector()
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        readable = {key.fd for key, _ in sel.select(timeout=0.2)}
        sel.close()
        alive = 0
        for s in socks:
            if s.fileno() not in readable:
                alive += 1
                continue
            try:
                alive += s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
            except (BlockingIOError, InterruptedError):
                alive += 1
            except OSError:
                pass
        if hold:
            hold(socks)
        return {
            "connections": n,
            "still_open": alive,
            "rss_base": base,
            "rss_connected": connected,
            "rss_after_request": after,
            "connected_per_conn": (connected - base) / n,
            "after_request_per_conn": (after - base) / n,
        }
    finally:
        for s in socks:
            s.close()


def nginx_idle(prefix, n):
    conf = os.path.join(prefix, "idle.conf")
    text = open(os.path.join(HERE, "nginx", "idle.conf")).read()
    text = text.replace("PREFIX", prefix).replace("CONNECTIONS", str(n + 100))
    open(conf, "w").write(text)
    subprocess.run(["nginx", "-p", prefix, "-c", conf], check=True)
    pidfile = os.path.join(prefix, "idle.pid")
    for _ in range(50):
        if os.path.exists(pidfile):
            break
        time.sleep(0.1)
    master = int(open(pidfile).read())
    time.sleep(0.3)
    worker = int(subprocess.run(["pgrep", "-P", str(master)], capture_output=True,
                                text=True).stdout.split()[0])
    return master, worker


def start_portico(binary, port, data, n):
    p = subprocess.Popen(
        [binary, "serve", "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{port + 1}",
         "--data-dir", data, "--access-log", "off", "--stage", "bench",
         "--import", os.path.join(HERE, "bench-api.yaml"),
         "--stage-variable", "backend=127.0.0.1:9",
         "--max-connections", str(n + 100), "--idle-timeout-secs", "600", "--header-timeout-secs", "600"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=dict(os.environ, PORTICO_LOG="error"),
    )
    api = None
    for line in p.stdout:
        m = re.search(r"\(id ([a-z0-9]+)\)", line)
        if m:
            api = m.group(1)
        if "data plane listening" in line:
            break
    return p, f"/restapis/{api}/bench/_user_request_/mock"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--portico", default="target/release/portico")
    ap.add_argument("--baseline", help="an older portico binary measured in the same run")
    ap.add_argument("--connections", type=int, default=10_000)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    prefix = tempfile.mkdtemp(prefix="portico-idle-")
    rows = {}
    procs, masters = [], []
    try:
        targets = []
        p, path = start_portico(args.portico, 18290, os.path.join(prefix, "data"), args.connections)
        procs.append(p)
        targets.append(("portico", p.pid, {"h1": 18290, "h2": 18290}, path))
        if args.baseline:
            b, bpath = start_portico(args.baseline, 18292, os.path.join(prefix, "bdata"),
                                     args.connections)
            procs.append(b)
            targets.append(("baseline", b.pid, {"h1": 18292, "h2": 18292}, bpath))
        if shutil.which("nginx"):
            for d in ("b", "p", "f", "u", "s"):
                os.makedirs(os.path.join(prefix, d), exist_ok=True)
            master, worker = nginx_idle(prefix, args.connections)
            masters.append(master)
            targets.append(("nginx", worker, {"h1": 18283, "h2": 18284}, "/x"))
        else:
            print("nginx not installed (bash bench/setup.sh): measuring Portico alone")
        for name, pid, ports, path in targets:
            urllib.request.urlopen(f"http://127.0.0.1:{ports['h1']}{path}", timeout=5).read()
            for proto in ("h1", "h2"):
                port = ports[proto]
                r = measure(pid, ("127.0.0.1", port), f"127.0.0.1:{port}", path,
                            args.connections, proto)
                rows[f"{name} {proto}"] = r
                print(f"{name:9s} {proto}: connected {r['connected_per_conn']:8.0f} B/conn   "
                      f"after one request {r['after_request_per_conn']:8.0f} B/conn   "
                      f"({r['still_open']}/{r['connections']} still open)", flush=True)
                time.sleep(2)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        for m in masters:
            try:
                os.kill(m, signal.SIGTERM)
            except ProcessLookupError:
                pass
        time.sleep(0.3)
        shutil.rmtree(prefix, ignore_errors=True)
    os.makedirs(args.out, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(args.out, f"idle-{stamp}.json"), "w") as f:
        json.dump({"when": stamp, "connections": args.connections, "rows": rows}, f, indent=2)
    print()
    print("| server | protocol | bytes per connection, connected | after one request |")
    print("|---|---|---:|---:|")
    for key, r in rows.items():
        name, proto = key.split()
        print(f"| {name} | {'HTTP/1.1' if proto == 'h1' else 'h2 (prior knowledge)'} | "
              f"{r['connected_per_conn']:.0f} | {r['after_request_per_conn']:.0f} |")


if __name__ == "__main__":
    sys.exit(main())
