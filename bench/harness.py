#!/usr/bin/env python3
"""Portico vs nginx, same run, same slot.

The gateway under test (nginx worker or Portico with one worker thread) is pinned to CPU0; the
backend nginx and wrk share CPU1. Scenarios alternate inside every round. For each run we read
the gateway's CPU time from /proc/<pid>/task/*/schedstat (field 1: on-CPU ns; field 2: run-queue
wait ns) and divide by the requests wrk completed. Ratios are Portico / nginx, medians over rounds.

    python3 bench/harness.py --portico target/release/portico [--rounds 5] [--seconds 5]
        [--baseline path/to/an/older/portico]

With --baseline, an older Portico build runs the same two scenarios in the same rounds
(`baseline-proxy`, `baseline-mock`), so a change's cost is read against nginx and against the
build before it in one run.
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


def schedstat(pid):
    run = wait = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                a, b, _ = f.read().split()
                run += int(a)
                wait += int(b)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return run, wait


def cpu_busy():
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    vals = list(map(int, parts))
    idle = vals[3] + vals[4]
    return sum(vals) - idle


def parse_wrk(out):
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    return {
        "requests": reqs,
        "rps": rps,
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
    }


def run_wrk(url, seconds, conns, gw_pid, extra=()):
    """`extra`: more wrk arguments (`-H "x-api-key: …"`, `-s script.lua`)."""
    before_cpu, before_wait = schedstat(gw_pid)
    before_busy = cpu_busy()
    t0 = time.monotonic()
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", *extra, url],
        capture_output=True, text=True, check=True,
    ).stdout
    wall = time.monotonic() - t0
    after_cpu, after_wait = schedstat(gw_pid)
    r = parse_wrk(out)
    r["gw_cpu_us_per_req"] = (after_cpu - before_cpu) / 1000 / max(r["requests"], 1)
    r["gw_util"] = (after_cpu - before_cpu) / 1e9 / wall
    r["gw_wait"] = (after_wait - before_wait) / 1e9 / wall
    r["box_busy_cores"] = (cpu_busy() - before_busy) / os.sysconf("SC_CLK_TCK") / wall
    return r


def wait_http(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                return r.read()
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def throttle_flags(binary):
    """Flags that lift the account throttle (10,000 rps by AWS default, which would refuse the
    benchmark's traffic), for builds that have them; older builds have no throttle."""
    help_text = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True).stdout
    if "--account-rate-limit" not in help_text:
        return []
    return ["--account-rate-limit", "1000000000", "--account-burst-limit", "1000000000"]


def nginx(conf, prefix):
    text = open(os.path.join(HERE, "nginx", conf)).read().replace("PREFIX", prefix)
    path = os.path.join(prefix, conf)
    open(path, "w").write(text)
    subprocess.run(["nginx", "-p", prefix, "-c", path], check=True)
    pidfile = os.path.join(prefix, conf.replace(".conf", ".pid"))
    for _ in range(50):
        if os.path.exists(pidfile):
            break
        time.sleep(0.1)
    master = int(open(pidfile).read())
    time.sleep(0.3)
    workers = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    return master, int(workers[0])


def create_http_api(admin_port, target):
    """An HTTP API (apigatewayv2 quick create) proxying to `target`; None when the build has no
    HTTP APIs (an older --baseline)."""
    import urllib.request
    req = urllib.request.Request(
        f"http://127.0.0.1:{admin_port}/v2/apis", method="POST",
        data=json.dumps({"name": "bench-http", "protocolType": "HTTP", "target": target}).encode(),
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())["apiId"]
    except Exception:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--portico", default="target/release/portico")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--baseline", help="an older portico binary measured in the same rounds")
    args = ap.parse_args()
    for tool in ("nginx", "wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run bench/setup.sh")

    prefix = tempfile.mkdtemp(prefix="portico-bench-")
    for d in ("b1", "p1", "f1", "u1", "s1", "b2", "p2", "f2", "u2", "s2"):
        os.makedirs(os.path.join(prefix, d))
    procs = []
    masters = []
    try:
        masters.append(nginx("backend.conf", prefix)[0])
        gw_master, gw_worker = nginx("gateway.conf", prefix)
        masters.append(gw_master)
        def start_portico(binary, port, data):
            p = subprocess.Popen(
                ["taskset", "-c", "0", binary, "serve", "--workers", "1", *throttle_flags(binary),
                 "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{port + 1}",
                 "--data-dir", data, "--access-log", "off", "--stage", "bench",
                 "--import", os.path.join(HERE, "bench-api.yaml"),
                 "--stage-variable", "backend=127.0.0.1:18181"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                env=dict(os.environ, PORTICO_LOG="error"),
            )
            procs.append(p)
            api = None
            for line in p.stdout:
                m = re.search(r"\(id ([a-z0-9]+)\)", line)
                if m:
                    api = m.group(1)
                if "data plane listening" in line:
                    break
            return p, f"http://127.0.0.1:{port}/restapis/{api}/bench/_user_request_"

        p, base = start_portico(args.portico, 18190, os.path.join(prefix, "portico-data"))
        http_api = create_http_api(18191, "http://127.0.0.1:18181")
        scenarios = {
            "backend-direct": ("http://127.0.0.1:18181/x", None),
            "nginx-proxy": ("http://127.0.0.1:18180/x", gw_worker),
            "portico-proxy": (f"{base}/x", p.pid),
            "nginx-return": ("http://127.0.0.1:18182/x", gw_worker),
            "portico-mock": (f"{base}/mock", p.pid),
        }
        if http_api:
            # The same backend behind an HTTP API's quick-created `$default` route.
            scenarios["portico-http-api-proxy"] = (
                f"http://127.0.0.1:18190/restapis/{http_api}/$default/_user_request_/x", p.pid)
        if args.baseline:
            bp, bbase = start_portico(args.baseline, 18192, os.path.join(prefix, "baseline-data"))
            scenarios["baseline-proxy"] = (f"{bbase}/x", bp.pid)
            scenarios["baseline-mock"] = (f"{bbase}/mock", bp.pid)
        for name, (url, _) in scenarios.items():
            body = wait_http(url)
            assert body == b"ok", (name, body)
        # Warm-up.
        for name, (url, pid) in scenarios.items():
            run_wrk(url, 2, args.connections, pid or masters[0])
        results = {k: [] for k in scenarios}
        for rnd in range(args.rounds):
            order = list(scenarios) if rnd % 2 == 0 else list(reversed(list(scenarios)))
            for name in order:
                url, pid = scenarios[name]
                r = run_wrk(url, args.seconds, args.connections, pid or masters[0])
                results[name].append(r)
                print(f"round {rnd + 1} {name:15s} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
                      f"p99 {r['p99_ms']:.2f} ms  gw {r['gw_cpu_us_per_req']:.1f} us/req  "
                      f"util {r['gw_util']:.2f} wait {r['gw_wait']:.3f}", flush=True)
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
        time.sleep(0.5)
        shutil.rmtree(prefix, ignore_errors=True)

    def med(name, key, valid_only=True):
        rs = [r for r in results[name] if not valid_only or r["gw_wait"] <= 0.05] or results[name]
        return statistics.median(r[key] for r in rs)

    summary = {}
    for name in results:
        summary[name] = {k: med(name, k) for k in ("rps", "p50_ms", "p99_ms", "gw_cpu_us_per_req", "gw_util", "gw_wait")}
        summary[name]["min_gw_cpu_us_per_req"] = min(r["gw_cpu_us_per_req"] for r in results[name])
        summary[name]["non2xx"] = sum(r["non2xx"] for r in results[name])
    # Ratios are paired within each round (the two sides ran seconds apart), then the median over
    # rounds is reported; rounds where either gateway waited on its CPU (> 5 %) are left out.
    ratios = {}
    pairs_to_compare = [("portico-proxy", "nginx-proxy"), ("portico-mock", "nginx-return")]
    if "portico-http-api-proxy" in results:
        pairs_to_compare.append(("portico-http-api-proxy", "nginx-proxy"))
        # HTTP API against the same backend behind a REST API's HTTP_PROXY route.
        pairs_to_compare.append(("portico-http-api-proxy", "portico-proxy"))
    if args.baseline:
        pairs_to_compare += [("baseline-proxy", "nginx-proxy"), ("baseline-mock", "nginx-return")]
    for ours, theirs in pairs_to_compare:
        pairs = [(a, b) for a, b in zip(results[ours], results[theirs])
                 if a["gw_wait"] <= 0.05 and b["gw_wait"] <= 0.05] or list(zip(results[ours], results[theirs]))
        key = ours if theirs.startswith("nginx") else f"{ours} ÷ {theirs}"
        ratios[key] = {
            "cpu_per_req": statistics.median(a["gw_cpu_us_per_req"] / b["gw_cpu_us_per_req"] for a, b in pairs),
            "throughput": statistics.median(a["rps"] / b["rps"] for a, b in pairs),
            "p50": statistics.median(a["p50_ms"] / b["p50_ms"] for a, b in pairs),
            "p99": statistics.median(a["p99_ms"] / b["p99_ms"] for a, b in pairs),
            "rounds": len(pairs),
        }
    os.makedirs(args.out, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = {"when": stamp, "rounds": args.rounds, "seconds": args.seconds,
              "connections": args.connections, "nproc": os.cpu_count(),
              "summary": summary, "ratios": ratios, "runs": results}
    with open(os.path.join(args.out, f"bench-{stamp}.json"), "w") as f:
        json.dump(report, f, indent=2)
    print()
    print("| scenario | req/s | p50 ms | p99 ms | gateway CPU µs/req (median) | (min) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, s in summary.items():
        print(f"| {name} | {s['rps']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | "
              f"{s['gw_cpu_us_per_req'] if name != 'backend-direct' else float('nan'):.1f} | "
              f"{s['min_gw_cpu_us_per_req'] if name != 'backend-direct' else float('nan'):.1f} |")
    print()
    print("| Portico / nginx (median of per-round ratios; `a ÷ b`: Portico against itself) | CPU per request | throughput | p50 | p99 | rounds |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in ratios.items():
        print(f"| {name} | {r['cpu_per_req']:.2f}× | {r['throughput']:.2f}× | {r['p50']:.2f}× | "
              f"{r['p99']:.2f}× | {r['rounds']} |")
    bad = {n: s["non2xx"] for n, s in summary.items() if s["non2xx"]}
    if bad:
        print(f"non-2xx responses seen: {bad}")
        sys.exit(1)


if __name__ == "__main__":
    main()
