#!/usr/bin/env python3
"""Traffic control on the request path (issue 12): what it costs, against nginx, in one run.

    python3 bench/traffic.py --portico target/release/portico [--rounds 5] [--seconds 5]
        [--keys 1000000] [--throttle-seconds 10]

Same conventions as bench/harness.py: the gateway under test (nginx's single worker, or a
Portico with `--workers 1`) is pinned to CPU0, wrk (`-t1 -c50`) and the backend nginx share CPU1,
CPU-µs per request comes from /proc/<pid>/task/*/schedstat, scenarios alternate inside every
round (reversed every other round), ratios are paired per round and the median over rounds is
reported, leaving out rounds where a gateway waited on its CPU more than 5 % (except
`portico-pipeline`, whose own access-log thread shares CPU0 and makes it wait; its partner's
rule still applies). CPU per request is also split by thread name. Every Portico gets
`--account-rate-limit/--account-burst-limit 1000000000` (AWS's default account throttle,
10,000 rps, would refuse the benchmark's traffic).

Three Portico processes serve bench/traffic-api.yaml (stage `bench`, plus a stage `cached` with
`cacheClusterEnabled` and a stage `throttled` with a `*/*` method throttle, made through the
management API), each with two usage plans on stage `bench`: `high` (throttle and quota far
above the load) holding key K1, and `low` (rate 200 rps, burst 50) holding key K2:

* `logged` — `--access-log FILE`: scenario `portico-pipeline` = GET /keyed with K1, the whole
  method request pipeline (account + stage throttle, API key lookup, usage-plan throttle, quota,
  access log line, metrics) in front of an HTTP_PROXY integration;
* `plain` — `--access-log off`: `portico-proxy` (GET /x, plain HTTP_PROXY), `portico-keyed`
  (/keyed with K1, no access log), `portico-cache-hit` (GET /cached on stage `cached`, a hit
  after the warm-up), `portico-mock`;
* `million` — `--access-log off`, then 1,000,000 more keys loaded with ImportApiKeys (CSV,
  in chunks under the management API's 10 MB body limit): `portico-keyed-1m` = /keyed with K1.

nginx: `nginx-proxy` (`proxy_pass`, keep-alive pool), `nginx-proxy-log` (the same with a
buffered access log to a file), `nginx-return` (`return 200 "ok"`).

Also measured: the `million` process's RSS before and after the import (and after a restart on
the same data dir), each import call's time, the time from sending the last call until its last
key is served, and the restart's time until the keyed route answers. Then throttling accuracy:
wrk drives /keyedmock with K2 (plan throttle) and /mock on stage `throttled` (stage throttle)
for `--throttle-seconds`; the admitted (200) count is compared with burst + rate × duration.

Results go to bench/results/traffic-<timestamp>.json.
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
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import nginx, run_wrk, throttle_flags, wait_http  # noqa: E402
from idle_memory import rss_bytes, settled_rss  # noqa: E402

K1 = "bench-traffic-key-high-000001"
K2 = "bench-traffic-key-low-0000002"
BACKEND = "127.0.0.1:18181"
THROTTLE_RATE, THROTTLE_BURST = 200, 50
CSV_ROWS_PER_CALL = 150_000  # ~7 MB of CSV: under the management API's 10 MB body limit

COUNT_STATUSES = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {} end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts")) do io.write(string.format("status %d %d\\n", k, v)) end
  end
end
"""


def call(admin, method, path, body=None, raw=None, timeout=600):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(f"http://{admin}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read()
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:500]!r}") from None
    return json.loads(text) if text else None


def status_of(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return None, b""


class Portico:
    def __init__(self, binary, port, data, access_log, procs):
        self.binary, self.port, self.data, self.access_log = binary, port, data, access_log
        self.admin = f"127.0.0.1:{port + 1}"
        self.procs = procs
        self.api = None

    def start(self, import_api=True):
        args = ["taskset", "-c", "0", self.binary, "serve", "--workers", "1",
                *throttle_flags(self.binary),
                "--listen", f"127.0.0.1:{self.port}", "--admin-listen", self.admin,
                "--data-dir", self.data, "--access-log", self.access_log, "--stage", "bench",
                "--stage-variable", f"backend={BACKEND}"]
        if import_api:
            args += ["--import", os.path.join(HERE, "traffic-api.yaml")]
        t0 = time.monotonic()
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, env=dict(os.environ, PORTICO_LOG="error"))
        self.procs.append(self.p)
        for line in self.p.stdout:
            m = re.search(r"\(id ([a-z0-9]+)\)", line)
            if m:
                self.api = m.group(1)
            if "data plane listening" in line:
                break
        self.listening_s = time.monotonic() - t0
        return self

    @property
    def pid(self):
        return self.p.pid

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()

    def url(self, stage, path):
        return f"http://127.0.0.1:{self.port}/restapis/{self.api}/{stage}/_user_request_{path}"

    def setup(self):
        """Stages `cached` and `throttled`, plans `high` (K1) and `low` (K2) on stage `bench`."""
        a = self.admin
        dep = call(a, "GET", f"/restapis/{self.api}/stages/bench")["deploymentId"]
        variables = {"backend": BACKEND}
        call(a, "POST", f"/restapis/{self.api}/stages",
             {"stageName": "cached", "deploymentId": dep, "variables": variables,
              "cacheClusterEnabled": True, "cacheClusterSize": "0.5"})
        call(a, "POST", f"/restapis/{self.api}/stages",
             {"stageName": "throttled", "deploymentId": dep, "variables": variables})
        call(a, "PATCH", f"/restapis/{self.api}/stages/throttled", {"patchOperations": [
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(THROTTLE_RATE)},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(THROTTLE_BURST)},
        ]})
        stages = [{"apiId": self.api, "stage": "bench"}]
        self.high = call(a, "POST", "/usageplans", {
            "name": "high", "apiStages": stages,
            "throttle": {"rateLimit": 1e9, "burstLimit": 1_000_000_000},
            "quota": {"limit": 1_000_000_000, "period": "MONTH"}})["id"]
        low = call(a, "POST", "/usageplans", {
            "name": "low", "apiStages": stages,
            "throttle": {"rateLimit": THROTTLE_RATE, "burstLimit": THROTTLE_BURST}})["id"]
        for plan, value in ((self.high, K1), (low, K2)):
            key = call(a, "POST", "/apikeys", {"name": value, "enabled": True, "value": value})
            call(a, "POST", f"/usageplans/{plan}/keys", {"keyId": key["id"], "keyType": "API_KEY"})
        return self

    def metric(self, name):
        with urllib.request.urlopen(f"http://{self.admin}/metrics", timeout=5) as r:
            text = r.read().decode()
        return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def threads(pid):
    """On-CPU ns per thread name (`portico-access-log`, the runtime's thread, …)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[comm] = out.get(comm, 0) + int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def measure(url, seconds, conns, pid, extra, self_wait):
    """harness.run_wrk plus the gateway's CPU per thread name. `self_wait`: the gateway has a
    second busy thread of its own on CPU0 (the access-log writer), so its run-queue wait is not
    a sign of a neighbour and the > 5 % rule is not applied to it (its partner's still is)."""
    before = threads(pid)
    r = run_wrk(url, seconds, conns, pid, extra)
    after = threads(pid)
    n = max(r["requests"], 1)
    r["threads_us_per_req"] = {k: (v - before.get(k, 0)) / 1000 / n for k, v in after.items()
                               if v - before.get(k, 0) > 0}
    r["self_wait"] = self_wait
    return r


def ok(r):
    return r["self_wait"] or r["gw_wait"] <= 0.05


def wait_status(url, want, headers=None, timeout=600):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if status_of(url, headers)[0] == want:
            return time.monotonic() - t0
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer {want} within {timeout} s")


def import_million(pm, n, procs):
    """Loads n keys into `pm` with ImportApiKeys; the last key joins plan `high`."""
    out = {"keys": n, "rss_before_bytes": settled_rss(pm.pid), "calls": []}
    last_value = f"bench-million-{n - 1:010d}-key"
    url = pm.url("bench", "/keyed")
    assert status_of(url, {"x-api-key": last_value})[0] == 403
    t_all = time.monotonic()
    for start in range(0, n, CSV_ROWS_PER_CALL):
        end = min(n, start + CSV_ROWS_PER_CALL)
        last = end == n
        lines = ["Name,Key,Enabled" + (",UsagePlanIds" if last else "")]
        for i in range(start, end):
            row = f"m{i:07d},bench-million-{i:010d}-key,true"
            lines.append(row + ("," + (pm.high if i == n - 1 else "") if last else ""))
        body = ("\n".join(lines) + "\n").encode()
        t0 = time.monotonic()
        r = call(pm.admin, "POST", "/apikeys?mode=import&format=csv", raw=body)
        took = time.monotonic() - t0
        assert len(r["ids"]) == end - start and not r["warnings"], (len(r["ids"]), r["warnings"][:3])
        visible = wait_status(url, 200, {"x-api-key": last_value}) if last else None
        out["calls"].append({"keys": end - start, "bytes": len(body), "seconds": took,
                             "rss_after_bytes": rss_bytes(pm.pid)})
        print(f"import {end:8d} keys: call {took:.2f} s  rss {rss_bytes(pm.pid) / 2**20:.0f} MiB",
              flush=True)
        if last:
            out["last_call_to_served_s"] = took + visible
    out["import_total_s"] = time.monotonic() - t_all
    out["rss_after_bytes"] = settled_rss(pm.pid, 3)
    # A restart on the same data dir: every key is read and indexed at startup.
    pm.stop()
    procs.remove(pm.p)
    t0 = time.monotonic()
    pm.start(import_api=False)
    out["restart_listening_s"] = pm.listening_s
    wait_status(url, 200, {"x-api-key": last_value})
    out["restart_served_s"] = time.monotonic() - t0
    out["rss_after_restart_bytes"] = settled_rss(pm.pid, 3)
    print(f"million: rss {out['rss_before_bytes'] / 2**20:.0f} -> {out['rss_after_bytes'] / 2**20:.0f} MiB "
          f"(restart {out['rss_after_restart_bytes'] / 2**20:.0f} MiB), import {out['import_total_s']:.1f} s, "
          f"last call to served {out['last_call_to_served_s']:.2f} s, restart served {out['restart_served_s']:.2f} s",
          flush=True)
    return out


def throttle_accuracy(url, headers, seconds, conns, prefix):
    script = os.path.join(prefix, "count.lua")
    with open(script, "w") as f:
        f.write(COUNT_STATUSES)
    extra = [a for h in headers for a in ("-H", h)]
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "-s", script, *extra, url],
        capture_output=True, text=True, check=True).stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    dur = float(m.group(2)) * {"ms": 1e-3, "s": 1, "m": 60}[m.group(3)]
    statuses = {int(a): int(b) for a, b in re.findall(r"status (\d+) (\d+)", out)}
    admitted = statuses.get(200, 0)
    configured = THROTTLE_BURST + THROTTLE_RATE * dur
    return {"url_kind": url.rsplit("/", 1)[-1], "seconds": dur, "statuses": statuses,
            "offered_rps": sum(statuses.values()) / dur, "admitted": admitted,
            "configured": configured, "ratio": admitted / configured,
            "rate_limit": THROTTLE_RATE, "burst_limit": THROTTLE_BURST}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--portico", default="target/release/portico")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--keys", type=int, default=1_000_000, help="0 skips the million-key part")
    ap.add_argument("--throttle-seconds", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    for tool in ("nginx", "wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run bench/setup.sh")
    if not throttle_flags(args.portico):
        sys.exit(f"{args.portico} has no account throttle flags: this bench needs issue 12's build")

    prefix = tempfile.mkdtemp(prefix="portico-traffic-")
    for d in ("b1", "p1", "f1", "u1", "s1", "b2", "p2", "f2", "u2", "s2"):
        os.makedirs(os.path.join(prefix, d))
    procs, masters = [], []
    report = {"rounds": args.rounds, "seconds": args.seconds, "connections": args.connections,
              "nproc": os.cpu_count()}
    try:
        masters.append(nginx("backend.conf", prefix)[0])
        gw_master, gw_worker = nginx("traffic-gateway.conf", prefix)
        masters.append(gw_master)
        access_log = os.path.join(prefix, "portico-access.log")
        pl = Portico(args.portico, 18290, os.path.join(prefix, "logged"), access_log, procs).start().setup()
        pp = Portico(args.portico, 18292, os.path.join(prefix, "plain"), "off", procs).start().setup()
        key = ("-H", f"x-api-key: {K1}")
        scenarios = {
            "nginx-proxy": ("http://127.0.0.1:18180/x", lambda: gw_worker, ()),
            "nginx-proxy-log": ("http://127.0.0.1:18183/x", lambda: gw_worker, ()),
            "nginx-return": ("http://127.0.0.1:18182/x", lambda: gw_worker, ()),
            "portico-proxy": (pp.url("bench", "/x"), lambda: pp.pid, ()),
            "portico-keyed": (pp.url("bench", "/keyed"), lambda: pp.pid, key),
            "portico-pipeline": (pl.url("bench", "/keyed"), lambda: pl.pid, key),
            "portico-cache-hit": (pp.url("cached", "/cached"), lambda: pp.pid, ()),
            "portico-mock": (pp.url("bench", "/mock"), lambda: pp.pid, ()),
        }
        if args.keys:
            pm = Portico(args.portico, 18294, os.path.join(prefix, "million"), "off", procs).start().setup()
            scenarios["portico-keyed-1m"] = (pm.url("bench", "/keyed"), lambda: pm.pid, key)
        for name, (url, _, extra) in scenarios.items():
            headers = dict([extra[1].split(": ", 1)]) if extra else None
            wait_status(url, 200, headers, timeout=30)
            assert status_of(url, headers)[1] == b"ok", name
        if args.keys:
            report["million"] = import_million(pm, args.keys, procs)
        report["rss_plain_bytes"] = settled_rss(pp.pid, 0.5)
        # Warm-up (fills the cache).
        for name, (url, pid, extra) in scenarios.items():
            run_wrk(url, 2, args.connections, pid(), extra)
        hits0, misses0 = pp.metric("apigateway_CacheHitCount"), pp.metric("apigateway_CacheMissCount")
        results = {k: [] for k in scenarios}
        for rnd in range(args.rounds):
            order = list(scenarios) if rnd % 2 == 0 else list(reversed(list(scenarios)))
            for name in order:
                url, pid, extra = scenarios[name]
                r = measure(url, args.seconds, args.connections, pid(), extra, name == "portico-pipeline")
                results[name].append(r)
                print(f"round {rnd + 1} {name:18s} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
                      f"p99 {r['p99_ms']:.2f} ms  gw {r['gw_cpu_us_per_req']:.1f} us/req  "
                      f"util {r['gw_util']:.2f} wait {r['gw_wait']:.3f}", flush=True)
        report["cache"] = {"hits": pp.metric("apigateway_CacheHitCount") - hits0,
                           "misses": pp.metric("apigateway_CacheMissCount") - misses0}
        report["access_log_lines"] = sum(1 for _ in open(access_log))
        # Throttling accuracy: one fresh bucket each (nothing used K2 or stage `throttled` yet).
        report["throttle"] = {
            "usage_plan": throttle_accuracy(pp.url("bench", "/keyedmock"), [f"x-api-key: {K2}"],
                                            args.throttle_seconds, args.connections, prefix),
            "stage": throttle_accuracy(pp.url("throttled", "/mock"), [],
                                       args.throttle_seconds, args.connections, prefix),
        }
        for kind, t in report["throttle"].items():
            print(f"throttle {kind}: {t['statuses']} in {t['seconds']:.2f} s, offered {t['offered_rps']:.0f} rps, "
                  f"admitted {t['admitted']} vs configured {t['configured']:.0f}: {t['ratio']:.3f}", flush=True)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for m in masters:
            try:
                os.kill(m, signal.SIGQUIT)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
        shutil.rmtree(prefix, ignore_errors=True)

    def valid(rs):
        return [r for r in rs if ok(r)] or rs

    summary = {}
    for name, rs in results.items():
        summary[name] = {k: statistics.median(r[k] for r in valid(rs))
                         for k in ("rps", "p50_ms", "p99_ms", "gw_cpu_us_per_req", "gw_util", "gw_wait")}
        summary[name]["min_gw_cpu_us_per_req"] = min(r["gw_cpu_us_per_req"] for r in rs)
        summary[name]["non2xx"] = sum(r["non2xx"] for r in rs)
        names = {t for r in valid(rs) for t in r["threads_us_per_req"]}
        summary[name]["threads_us_per_req"] = {
            t: statistics.median(r["threads_us_per_req"].get(t, 0) for r in valid(rs)) for t in names}
    compare = [("portico-pipeline", "nginx-proxy"), ("portico-pipeline", "nginx-proxy-log"),
               ("portico-proxy", "nginx-proxy"), ("portico-keyed", "nginx-proxy"),
               ("portico-keyed", "portico-proxy"), ("portico-pipeline", "portico-keyed"),
               ("portico-cache-hit", "nginx-proxy"), ("portico-cache-hit", "nginx-return"),
               ("portico-cache-hit", "portico-mock"), ("portico-mock", "nginx-return"),
               ("portico-keyed-1m", "portico-keyed")]
    ratios = {}
    for ours, theirs in compare:
        if ours not in results:
            continue
        pairs = [(a, b) for a, b in zip(results[ours], results[theirs])
                 if ok(a) and ok(b)] or list(zip(results[ours], results[theirs]))
        ratios[f"{ours} / {theirs}"] = {
            "cpu_per_req": statistics.median(a["gw_cpu_us_per_req"] / b["gw_cpu_us_per_req"] for a, b in pairs),
            "throughput": statistics.median(a["rps"] / b["rps"] for a, b in pairs),
            "p50": statistics.median(a["p50_ms"] / b["p50_ms"] for a, b in pairs),
            "p99": statistics.median(a["p99_ms"] / b["p99_ms"] for a, b in pairs),
            "rounds": len(pairs),
        }
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report.update({"when": stamp, "summary": summary, "ratios": ratios, "runs": results})
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"traffic-{stamp}.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    print()
    print("| scenario | req/s | p50 ms | p99 ms | gateway CPU µs/req (median) | (min) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, s in summary.items():
        print(f"| {name} | {s['rps']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | "
              f"{s['gw_cpu_us_per_req']:.1f} | {s['min_gw_cpu_us_per_req']:.1f} |")
    print()
    print("| ratio (median of per-round ratios) | CPU per request | throughput | p50 | p99 | rounds |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in ratios.items():
        print(f"| {name} | {r['cpu_per_req']:.2f}× | {r['throughput']:.2f}× | {r['p50']:.2f}× | "
              f"{r['p99']:.2f}× | {r['rounds']} |")
    print()
    for name, s in summary.items():
        if name.startswith("portico"):
            split = ", ".join(f"{t} {v:.1f}" for t, v in sorted(s["threads_us_per_req"].items(), key=lambda kv: -kv[1]))
            print(f"{name}: µs/req by thread: {split}")
    print(f"\ncache: {report['cache']}; access log lines: {report['access_log_lines']}; written {path}")
    bad = {n: s["non2xx"] for n, s in summary.items() if s["non2xx"]}
    if bad:
        print(f"non-2xx responses seen: {bad}")
        sys.exit(1)


if __name__ == "__main__":
    main()
