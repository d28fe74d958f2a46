#!/usr/bin/env python3
"""The cost of the Lambda hop, cold starts and worker memory (issue 14's figures).

1. **Warm invocations**: the same handler logic (answer `{"statusCode": 200, "body": "ok"}`) served
   two ways, alternating in every round, measured with wrk (`-c1`: one request at a time, as one
   warm worker takes them) on CPU1 while the server side
   owns CPU0:
   * `lambda`: Portico (`--workers 1`) → AWS_PROXY → the Python function in a warm worker (Portico's
     bootstrap), reserved concurrency 1 (one worker, so both sides run one Python process);
   * `direct`: the same handler called by a plain Python HTTP/1.1 server (http.server, keep-alive),
     also on CPU0.
   Reported: requests/s and p99 of each, ratio lambda/direct.
2. **Cold start per runtime** (python3.12, nodejs20.x, provided.al2023 with a Rust `lambda_runtime`
   handler when `--rust-bootstrap` names one): the first request after the function's workers
   were replaced (a configuration change), median of `--cold-samples`.
3. **Memory per warm worker**: RSS of each runtime's worker process after a few invocations.

    python3 bench/lambda.py --portico target/release/portico [--rounds 5] [--seconds 5]
        [--rust-bootstrap target/rust-handlers/release/runtime-echo]

Results go to bench/results/lambda-<timestamp>.json.
"""
import argparse
import base64
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import parse_wrk, schedstat, throttle_flags, wait_http  # noqa: E402

HANDLER = '''
def handler(event, context):
    return {"statusCode": 200, "body": "ok"}
'''

DIRECT = '''
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
sys.path.insert(0, sys.argv[2])
from index import handler

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *a):
        pass
    def do_GET(self):
        out = handler({"path": self.path}, None)
        body = out["body"].encode()
        self.send_response(out["statusCode"])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''

NODE = '''
exports.handler = async () => ({ statusCode: 200, body: "ok" });
'''


def api(admin, method, path, body=None):
    req = urllib.request.Request(f"http://{admin}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def zip_b64(files, modes=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o644) | 0o100000) << 16
            z.writestr(info, data)
    return base64.b64encode(buf.getvalue()).decode()


def create_function(admin, name, runtime, files, modes=None, reserved=None):
    api(admin, "POST", "/2015-03-31/functions", {
        "FunctionName": name, "Runtime": runtime, "Handler": "index.handler",
        "Role": "arn:aws:iam::000000000000:role/bench", "Code": {"ZipFile": zip_b64(files, modes)}})
    if reserved:
        api(admin, "PUT", f"/2017-10-31/functions/{name}/concurrency", {"ReservedConcurrentExecutions": reserved})


def proxy_api(admin, name, function):
    a = api(admin, "POST", "/restapis", {"name": name})
    root = api(admin, "GET", f"/restapis/{a['id']}/resources")["item"][0]["id"]
    res = api(admin, "POST", f"/restapis/{a['id']}/resources/{root}", {"pathPart": "{proxy+}"})
    api(admin, "PUT", f"/restapis/{a['id']}/resources/{res['id']}/methods/ANY", {"authorizationType": "NONE"})
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function}"
    api(admin, "PUT", f"/restapis/{a['id']}/resources/{res['id']}/methods/ANY/integration", {
        "type": "AWS_PROXY", "httpMethod": "POST",
        "uri": f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"})
    api(admin, "POST", f"/restapis/{a['id']}/deployments", {"stageName": "bench"})
    return a["id"]


def wrk(url, seconds, conns):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = open(f"/proc/{p}/task/{p}/children").read().split()
        except OSError:
            kids = []
        for k in kids:
            out.append(int(k))
            todo.append(int(k))
    return out


def rss_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--portico", default="target/release/portico")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--cold-samples", type=int, default=5)
    ap.add_argument("--rust-bootstrap", help="a release build of tests/lambda/rust-handlers' runtime-echo")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="portico-lambda-bench-")
    port, admin_port, direct_port = 18580, 18590, 18581
    admin = f"127.0.0.1:{admin_port}"
    gw = subprocess.Popen(
        ["taskset", "-c", "0", args.portico, "serve", "--listen", f"127.0.0.1:{port}", "--admin-listen", admin,
         "--data-dir", data, "--access-log", "off", "--workers", "1", *throttle_flags(args.portico)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PORTICO_LOG": "warn"})
    code = tempfile.mkdtemp(prefix="portico-lambda-direct-")
    open(os.path.join(code, "index.py"), "w").write(HANDLER)
    direct = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", DIRECT, str(direct_port), code])
    results = {"rounds": [], "cold_ms": {}, "worker_rss_kb": {}}
    try:
        wait_http(f"http://{admin}/health")
        wait_http(f"http://127.0.0.1:{direct_port}/")
        create_function(admin, "warm", "python3.12", {"index.py": HANDLER}, reserved=1)
        api_id = proxy_api(admin, "lambda-bench", "warm")
        lambda_url = f"http://127.0.0.1:{port}/restapis/{api_id}/bench/_user_request_/x"
        direct_url = f"http://127.0.0.1:{direct_port}/x"
        wait_http(lambda_url)
        for r in range(args.rounds):
            order = [("lambda", lambda_url), ("direct", direct_url)]
            if r % 2:
                order.reverse()
            row = {}
            for name, url in order:
                before, _ = schedstat(gw.pid)
                res = wrk(url, args.seconds, args.connections)
                res["portico_cpu_us_per_req"] = (schedstat(gw.pid)[0] - before) / 1000 / max(res["requests"], 1)
                row[name] = res
            results["rounds"].append(row)
            print(f"round {r + 1}: lambda {row['lambda']['rps']:.0f} rps p99 {row['lambda']['p99_ms']:.2f} ms; "
                  f"direct {row['direct']['rps']:.0f} rps p99 {row['direct']['p99_ms']:.2f} ms", flush=True)

        # Cold starts: each sample replaces the function's workers (a configuration change).
        runtimes = [("python3.12", {"index.py": HANDLER}, None), ("nodejs20.x", {"index.js": NODE}, None)]
        if args.rust_bootstrap:
            runtimes.append(("provided.al2023", {"bootstrap": open(args.rust_bootstrap, "rb").read()},
                             {"bootstrap": 0o755}))
        for runtime, files, modes in runtimes:
            name = "cold-" + runtime.replace(".", "-")
            create_function(admin, name, runtime, files, modes)
            cid = proxy_api(admin, name, name)
            url = f"http://127.0.0.1:{port}/restapis/{cid}/bench/_user_request_/x"
            samples = []
            for i in range(args.cold_samples):
                api(admin, "PUT", f"/2015-03-31/functions/{name}/configuration",
                    {"Environment": {"Variables": {"SAMPLE": str(i)}}})
                time.sleep(0.5)
                t0 = time.perf_counter()
                with urllib.request.urlopen(url, timeout=30) as resp:
                    resp.read()
                samples.append((time.perf_counter() - t0) * 1000)
            for _ in range(5):
                with urllib.request.urlopen(url, timeout=30) as resp:
                    resp.read()
            t0 = time.perf_counter()
            for _ in range(20):
                with urllib.request.urlopen(url, timeout=30) as resp:
                    resp.read()
            warm_ms = (time.perf_counter() - t0) * 1000 / 20
            results["cold_ms"][runtime] = {"median": statistics.median(samples), "samples": samples,
                                           "warm_request_ms": warm_ms}
            print(f"cold start {runtime}: median {statistics.median(samples):.0f} ms "
                  f"(warm request {warm_ms:.2f} ms)", flush=True)
        # Memory per warm worker, by runtime (the newest worker of each function).
        for pid in descendants(gw.pid):
            cmd = cmdline(pid)
            kind = ("python" if "python_bootstrap.py" in cmd else "node" if "node_bootstrap.js" in cmd
                    else "provided" if cmd.endswith("bootstrap ") or "/bootstrap" in cmd else None)
            if kind:
                results["worker_rss_kb"].setdefault(kind, []).append(rss_kb(pid))
        print(f"worker RSS (KiB): {results['worker_rss_kb']}", flush=True)
    finally:
        gw.terminate()
        direct.terminate()
        gw.wait(timeout=20)
        direct.wait(timeout=20)

    med = lambda k, f: statistics.median(r[k][f] for r in results["rounds"])  # noqa: E731
    summary = {
        "lambda_rps": med("lambda", "rps"), "direct_rps": med("direct", "rps"),
        "lambda_p99_ms": med("lambda", "p99_ms"), "direct_p99_ms": med("direct", "p99_ms"),
        "portico_cpu_us_per_invocation": med("lambda", "portico_cpu_us_per_req"),
    }
    summary["throughput_ratio_lambda_over_direct"] = summary["lambda_rps"] / summary["direct_rps"]
    summary["p99_ratio_lambda_over_direct"] = summary["lambda_p99_ms"] / max(summary["direct_p99_ms"], 1e-9)
    results["summary"] = summary
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, time.strftime("lambda-%Y%m%d-%H%M%S.json"))
    json.dump(results, open(path, "w"), indent=1)
    print(json.dumps(summary, indent=1))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
