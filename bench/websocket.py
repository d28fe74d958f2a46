#!/usr/bin/env python3
"""WebSocket messages: Portico's WebSocket API vs nginx proxying WebSockets, same run.

Portico serves a WebSocket API whose `$default` route echoes (a MOCK integration with a
`$default` integration response and route response: each message is routed by the selection
expression, run through the integration and sent back). nginx, the peer, proxies each frame to a
WebSocket echo backend (`ws_echo`, on the other core). Both gateways run on CPU0 with one worker;
the load generator (`ws_load`, closed loop: send, wait for the echo, send again) runs on CPU1.

Reported per scenario (median of the rounds, scenarios alternating order each round): messages
per second, p50/p99 round trip, and the gateway's CPU time per message (scheduler run time of
its threads, read from /proc — nginx's worker, Portico's process; the echo backend is not
counted). The ratio portico/nginx of CPU per message is the figure to watch.

    cargo build --release -p portico --target-dir /work/target-rel
    cargo build --release -p portico-gateway --examples --target-dir /work/target-rel
    python3 bench/websocket.py --portico /work/target-rel/release/portico \\
        --tools /work/target-rel/release/examples

Also: `--idle N` opens N idle WebSocket connections to each and reports RSS per connection.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import nginx, schedstat  # noqa: E402
import idle_memory  # noqa: E402


def admin_call(port, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read()
        return json.loads(text) if text else None


def echo_api(admin_port):
    """The echo WebSocket API through the management API (apigatewayv2 wire)."""
    api = admin_call(admin_port, "POST", "/v2/apis", {
        "name": "ws-bench", "protocolType": "WEBSOCKET",
        "routeSelectionExpression": "$request.body.action"})["apiId"]
    i = admin_call(admin_port, "POST", f"/v2/apis/{api}/integrations",
                   {"integrationType": "MOCK"})["integrationId"]
    admin_call(admin_port, "POST", f"/v2/apis/{api}/integrations/{i}/integrationresponses",
               {"integrationResponseKey": "$default"})
    r = admin_call(admin_port, "POST", f"/v2/apis/{api}/routes", {
        "routeKey": "$default", "target": f"integrations/{i}",
        "routeResponseSelectionExpression": "$default"})["routeId"]
    admin_call(admin_port, "POST", f"/v2/apis/{api}/routes/{r}/routeresponses",
               {"routeResponseKey": "$default"})
    admin_call(admin_port, "POST", f"/v2/apis/{api}/stages", {"stageName": "bench", "autoDeploy": True})
    time.sleep(1)
    return api


def load(tools, url, conns, seconds, size):
    out = subprocess.run(["taskset", "-c", "1", os.path.join(tools, "ws_load"), url, str(conns),
                          str(seconds), str(size)], capture_output=True, text=True,
                         timeout=seconds + 60)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
    return json.loads(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--portico", default="target/release/portico")
    ap.add_argument("--tools", default="target/release/examples",
                    help="where the ws_load and ws_echo examples are")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--size", type=int, default=64, help="message bytes")
    ap.add_argument("--idle", type=int, default=0, help="also measure N idle connections")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    prefix = tempfile.mkdtemp(prefix="portico-ws-bench-")
    for d in ("b4", "p4", "f4", "u4", "s4"):
        os.makedirs(os.path.join(prefix, d))
    procs, masters = [], []
    try:
        echo = subprocess.Popen(["taskset", "-c", "1", os.path.join(args.tools, "ws_echo"),
                                 "127.0.0.1:18185"], stdout=subprocess.DEVNULL)
        procs.append(echo)
        gw_master, gw_worker = nginx("ws-gateway.conf", prefix)
        masters.append(gw_master)
        n = max(args.connections, args.idle) + 200
        p = subprocess.Popen(
            ["taskset", "-c", "0", args.portico, "serve", "--workers", "1",
             "--account-rate-limit", "1000000000", "--account-burst-limit", "1000000000",
             "--max-connections", str(n), "--idle-timeout-secs", "600", "--header-timeout-secs", "600",
             "--listen", "127.0.0.1:18190", "--admin-listen", "127.0.0.1:18191",
             "--data-dir", os.path.join(prefix, "data"), "--access-log", "off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=dict(os.environ, PORTICO_LOG="error"))
        procs.append(p)
        for _ in range(100):
            try:
                urllib.request.urlopen("http://127.0.0.1:18191/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        api = echo_api(18191)
        scenarios = {
            "nginx-ws-proxy": ("ws://127.0.0.1:18186/", gw_worker),
            "portico-ws-echo": (f"ws://127.0.0.1:18190/restapis/{api}/bench", p.pid),
        }
        for name, (url, _) in scenarios.items():
            r = load(args.tools, url, 2, 1, args.size)
            assert r.get("messages", 0) > 0, (name, r)
        results = {k: [] for k in scenarios}
        for rnd in range(args.rounds):
            order = list(scenarios) if rnd % 2 == 0 else list(reversed(list(scenarios)))
            for name in order:
                url, pid = scenarios[name]
                before = schedstat(pid)[0]
                r = load(args.tools, url, args.connections, args.seconds, args.size)
                r["cpu_us_per_msg"] = (schedstat(pid)[0] - before) / 1000 / max(r["messages"], 1)
                results[name].append(r)
                print(f"round {rnd + 1} {name:16s} {r['per_second']:10.0f} msg/s  "
                      f"p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  "
                      f"{r['cpu_us_per_msg']:.2f} µs CPU/msg  errors {r['errors']}", flush=True)

        def med(name, key):
            return statistics.median(x[key] for x in results[name])

        summary = {name: {k: med(name, k) for k in ("per_second", "p50_ms", "p99_ms", "cpu_us_per_msg")}
                   for name in scenarios}
        ratio = summary["portico-ws-echo"]["cpu_us_per_msg"] / summary["nginx-ws-proxy"]["cpu_us_per_msg"]
        print("\n| scenario | msg/s | p50 ms | p99 ms | gateway CPU µs/msg |")
        print("|---|---|---|---|---|")
        for name, s in summary.items():
            print(f"| {name} | {s['per_second']:.0f} | {s['p50_ms']:.3f} | {s['p99_ms']:.3f} | "
                  f"{s['cpu_us_per_msg']:.2f} |")
        print(f"\nPortico / nginx CPU per message: {ratio:.2f}×")
        idle = {}
        if args.idle:
            for name, (addr, path, pid) in {
                "nginx": (("127.0.0.1", 18186), "/", gw_worker),
                "portico": (("127.0.0.1", 18190), f"/restapis/{api}/bench", p.pid),
            }.items():
                r = idle_memory.measure(pid, addr, f"{addr[0]}:{addr[1]}", path, args.idle, "ws")
                idle[name] = r
                print(f"{name:8s} idle WebSocket: {r['after_request_per_conn']:.0f} B/conn "
                      f"({r['still_open']}/{args.idle} open)", flush=True)
                time.sleep(2)
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, time.strftime("websocket-%Y%m%d-%H%M%S.json"))
        with open(path, "w") as f:
            json.dump({"rounds": results, "summary": summary, "cpu_ratio": ratio, "idle": idle,
                       "connections": args.connections, "size": args.size}, f, indent=1)
        print(f"results: {path}")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        for m in masters:
            try:
                os.kill(m, signal.SIGQUIT)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    main()
