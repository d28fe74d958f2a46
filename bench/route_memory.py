#!/usr/bin/env python3
"""Memory per route, deploy visibility and request cost on a large route table.

    python3 bench/route_memory.py --portico target/release/portico [--apis 100,300]
        [--visibility-apis 600] [--rounds 5] [--seconds 3] [--skip-cpu]

For each table size N (APIs of 50 routes each) and each kind of route the script writes N OpenAPI
files, imports them into a fresh data dir with `portico serve --import`
(stopped once it listens), then starts a *fresh* `portico serve --workers 1` on that data dir and
reads VmRSS from /proc/PID/status once it listens and has settled. The same is done for an empty
data dir; bytes per route = (RSS(N) - RSS(empty)) / (N * 50), and the marginal figure between two
sizes = (RSS(N2) - RSS(N1)) / ((N2 - N1) * 50), which leaves out what grows once (SQLite's page
cache, the allocator's 2 MiB huge pages). Kinds: `mock` (the 50 methods' MOCK integrations are
equal, as CORS preflights are; Portico compiles one and shares it), `mock-distinct` (every method
answers its own text) and `http_proxy` (every method has its own backend URI).

Deploy visibility: with `--visibility-apis` APIs served, a CreateDeployment call on the management
API puts a new stage on one API; the figure is the time from sending the call until that stage
answers on the data plane (median of 5).

Request cost: the 300-API MOCK table and a one-API table serve the same MOCK route in the same
rounds (gateway on CPU0, wrk on CPU1, as bench/harness.py); CPU-µs per request comes from
/proc/PID/task/*/schedstat. The ratio big ÷ small is paired per round, median over rounds; rounds
where either gateway waited on its CPU more than 5 % are left out.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import run_wrk  # noqa: E402

ROUTES_PER_API = 50
PORT = 28390  # data plane; PORT + 1 management, PORT + 2/3 the one-API server


def openapi(i, kind):
    """One API of 50 routes: /things{k} and /things{k}/{id} for k in 0..25, GET each."""
    paths = {}
    for k in range(ROUTES_PER_API // 2):
        for path, param in ((f"/things{k}", False), (f"/things{k}/{{id}}", True)):
            op = {"responses": {"200": {"description": "ok"}}}
            if param:
                op["parameters"] = [{"name": "id", "in": "path", "required": True,
                                     "schema": {"type": "string"}}]
            if kind in ("mock", "mock-distinct"):
                # `mock`: the methods' integrations are equal (Portico shares one compiled
                # integration); `mock-distinct`: every method answers its own text.
                text = "ok" if kind == "mock" else f"ok {path}"
                op["x-amazon-apigateway-integration"] = {
                    "type": "mock",
                    "requestTemplates": {"application/json": '{"statusCode": 200}'},
                    "responses": {"default": {"statusCode": "200",
                                              "responseTemplates": {"text/plain": text}}},
                }
            else:
                op["x-amazon-apigateway-integration"] = {
                    "type": "http_proxy",
                    "httpMethod": "GET",
                    "uri": "http://127.0.0.1:18181" + path,
                }
                if param:
                    op["x-amazon-apigateway-integration"]["requestParameters"] = {
                        "integration.request.path.id": "method.request.path.id"}
            paths[path] = {"get": op}
    return {"openapi": "3.0.1", "info": {"title": f"routes-{kind}-{i}", "version": "1"},
            "paths": paths}


def start(binary, data, extra=(), port=PORT):
    p = subprocess.Popen(
        ["taskset", "-c", "0", binary, "serve", "--workers", "1",
         "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{port + 1}",
         "--data-dir", data, "--access-log", "off", "--stage", "bench", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=dict(os.environ, PORTICO_LOG="error"),
    )
    ids = []
    for line in p.stdout:
        m = re.search(r"\(id ([a-z0-9]+)\)", line)
        if m:
            ids.append(m.group(1))
        if "data plane listening" in line:
            break
    return p, ids


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def build_data(binary, root, kind, n):
    """A data dir with n APIs of the given kind deployed to stage `bench`; returns the API ids."""
    data = os.path.join(root, f"{kind}-{n}")
    files = []
    os.makedirs(os.path.join(root, "specs"), exist_ok=True)
    for i in range(n):
        path = os.path.join(root, "specs", f"{kind}-{i}.json")
        if not os.path.exists(path):
            with open(path, "w") as f:
                json.dump(openapi(i, kind), f)
        files.append(path)
    extra = [a for f in files for a in ("--import", f)]
    p, ids = start(binary, data, extra)
    stop(p)
    assert len(ids) == n, (kind, n, len(ids))
    return data, ids


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return None, b""


def measure_rss(binary, data, settle):
    p, _ = start(binary, data)
    time.sleep(settle)
    kib = rss_kib(p.pid)
    stop(p)
    return kib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--portico", default="target/release/portico")
    ap.add_argument("--apis", default="100,300")
    ap.add_argument("--kinds", default="mock,mock-distinct,http_proxy")
    ap.add_argument("--visibility-apis", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--settle", type=float, default=2.0, help="seconds between listening and reading RSS")
    ap.add_argument("--samples", type=int, default=3, help="fresh starts per RSS figure (median)")
    ap.add_argument("--skip-cpu", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    binary = os.path.abspath(args.portico)
    sizes = [int(s) for s in args.apis.split(",") if s]
    kinds = [k for k in args.kinds.split(",") if k]
    root = tempfile.mkdtemp(prefix="portico-routes-")
    report = {"when": time.strftime("%Y%m%d-%H%M%S"), "binary": binary,
              "routes_per_api": ROUTES_PER_API, "memory": [], "visibility_ms": None, "cpu": None}
    procs = []
    try:
        def rss(data):
            return statistics.median(measure_rss(binary, data, args.settle) for _ in range(args.samples))

        empty = rss(os.path.join(root, "empty"))
        report["empty_rss_kib"] = empty
        print(f"empty server: {empty / 1024:.1f} MiB", flush=True)
        datasets = {}
        for kind in kinds:
            for n in sizes:
                t0 = time.monotonic()
                data, ids = build_data(binary, root, kind, n)
                datasets[(kind, n)] = (data, ids)
                built = time.monotonic() - t0
                kib = rss(data)
                routes = n * ROUTES_PER_API
                per_route = (kib - empty) * 1024 / routes
                report["memory"].append({"kind": kind, "apis": n, "routes": routes, "rss_kib": kib,
                                         "bytes_per_route": per_route})
                print(f"{kind:13s} {n:4d} APIs {routes:6d} routes: RSS {kib / 1024:7.1f} MiB, "
                      f"{per_route:7.0f} B/route (import {built:.0f} s)", flush=True)

        if args.visibility_apis:
            data, ids = build_data(binary, root, "mock", args.visibility_apis)
            p, _ = start(binary, data)
            procs.append(p)
            times = []
            for j in range(5):
                api = ids[(j * 97) % len(ids)]
                stage = f"vis{j}"
                url = f"http://127.0.0.1:{PORT}/restapis/{api}/{stage}/_user_request_/things3"
                req = urllib.request.Request(
                    f"http://127.0.0.1:{PORT + 1}/restapis/{api}/deployments",
                    data=json.dumps({"stageName": stage}).encode(), method="POST",
                    headers={"Content-Type": "application/json"})
                t0 = time.monotonic()
                with urllib.request.urlopen(req, timeout=30) as r:
                    assert r.status == 201, r.status
                while get(url)[0] != 200:
                    if time.monotonic() - t0 > 30:
                        raise RuntimeError("deployment never became visible")
                    time.sleep(0.001)
                times.append((time.monotonic() - t0) * 1000)
            stop(p)
            procs.remove(p)
            report["visibility_ms"] = {"apis": args.visibility_apis, "median": statistics.median(times),
                                       "all": times}
            print(f"deploy visibility with {args.visibility_apis} APIs: "
                  f"median {statistics.median(times):.0f} ms ({', '.join(f'{t:.0f}' for t in times)})",
                  flush=True)

        if not args.skip_cpu:
            big_n = max(sizes)
            big_data, big_ids = datasets.get(("mock", big_n)) or build_data(binary, root, "mock", big_n)
            small_data, small_ids = build_data(binary, root, "mock", 1)
            big, _ = start(binary, big_data, port=PORT)
            procs.append(big)
            small, _ = start(binary, small_data, port=PORT + 2)
            procs.append(small)
            path = "bench/_user_request_/things12/abc"
            scenarios = {
                f"{big_n}-apis": (f"http://127.0.0.1:{PORT}/restapis/{big_ids[big_n // 2]}/{path}", big.pid),
                "1-api": (f"http://127.0.0.1:{PORT + 2}/restapis/{small_ids[0]}/{path}", small.pid),
            }
            for name, (url, _) in scenarios.items():
                status, body = get(url)
                assert (status, body) == (200, b"ok"), (name, status, body)
                run_wrk(url, 1, 50, scenarios[name][1])
            results = {k: [] for k in scenarios}
            for rnd in range(args.rounds):
                order = list(scenarios) if rnd % 2 == 0 else list(reversed(list(scenarios)))
                for name in order:
                    url, pid = scenarios[name]
                    r = run_wrk(url, args.seconds, 50, pid)
                    results[name].append(r)
                    print(f"round {rnd + 1} {name:9s} {r['rps']:8.0f} req/s  "
                          f"{r['gw_cpu_us_per_req']:.2f} us/req  wait {r['gw_wait']:.3f}", flush=True)
            a, b = results[f"{big_n}-apis"], results["1-api"]
            pairs = [(x, y) for x, y in zip(a, b) if x["gw_wait"] <= 0.05 and y["gw_wait"] <= 0.05] \
                or list(zip(a, b))
            ratio = statistics.median(x["gw_cpu_us_per_req"] / y["gw_cpu_us_per_req"] for x, y in pairs)
            report["cpu"] = {
                "big_us_per_req": statistics.median(x["gw_cpu_us_per_req"] for x, _ in pairs),
                "small_us_per_req": statistics.median(y["gw_cpu_us_per_req"] for _, y in pairs),
                "ratio": ratio, "rounds": len(pairs), "runs": results}
            print(f"CPU per request, {big_n * ROUTES_PER_API} routes / 1 API: {ratio:.3f}x "
                  f"({report['cpu']['big_us_per_req']:.2f} vs {report['cpu']['small_us_per_req']:.2f} us, "
                  f"{len(pairs)} rounds)", flush=True)
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(root, ignore_errors=True)

    print()
    print("| routes | kind | RSS | bytes per route | marginal |")
    print("|---:|---|---:|---:|---:|")
    prev = {}
    for m in report["memory"]:
        marginal = ""
        if m["kind"] in prev:
            p = prev[m["kind"]]
            m["marginal_bytes_per_route"] = (m["rss_kib"] - p["rss_kib"]) * 1024 / (m["routes"] - p["routes"])
            marginal = f"{m['marginal_bytes_per_route']:.0f}"
        prev[m["kind"]] = m
        print(f"| {m['routes']} ({m['apis']} APIs) | {m['kind']} | {m['rss_kib'] / 1024:.1f} MiB | "
              f"{m['bytes_per_route']:.0f} | {marginal} |")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"routes-{report['when']}.json"), "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
