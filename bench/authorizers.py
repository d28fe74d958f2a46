#!/usr/bin/env python3
"""What a Lambda authorizer costs a request (issue 16's figure): the same MOCK route served
with no authorization and behind TOKEN and REQUEST authorizers, cached and uncached, with nginx
`return 200` as the reference, alternating in every round.

* `nginx-return`: nginx `return 200 "ok"` (bench/nginx/gateway.conf, CPU0);
* `none`: Portico (`--workers 1`, CPU0) MOCK, no authorization;
* `token-cached`: the same MOCK behind a TOKEN authorizer, `authorizerResultTtlInSeconds` 300
  (one token: after the first request every one is a cache hit);
* `request-cached`: a REQUEST authorizer (identity: one header), TTL 300;
* `token-uncached`: a TOKEN authorizer with TTL 0: every request invokes the Python function in a
  warm worker of the local runtime.

wrk on CPU1 (`-c50`; `-c4` for the uncached scenario, whose function has 4 workers at most). The
gateway's CPU µs per request is Portico's own (schedstat of its threads; the function's worker
processes are not counted — their cost is in bench/lambda.py).

    python3 bench/authorizers.py --portico target/release/portico [--rounds 5] [--seconds 5]

Results go to bench/results/authorizers-<timestamp>.json.
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
from harness import nginx, parse_wrk, schedstat, throttle_flags, wait_http  # noqa: E402

AUTHORIZER = '''
def handler(event, context):
    arn = event["methodArn"].split("/")[0]
    return {"principalId": "bench", "context": {"user": "bench"},
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": arn + "/*"}]}}
'''


def api(admin, method, path, body=None):
    req = urllib.request.Request(f"http://{admin}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def zip_b64(src):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", src)
    return base64.b64encode(buf.getvalue()).decode()


def build(admin):
    """One API: /none, /token-cached, /request-cached, /token-uncached (MOCK `ok`)."""
    a = api(admin, "POST", "/restapis", {"name": "authorizer-bench"})["id"]
    root = api(admin, "GET", f"/restapis/{a}/resources")["item"][0]["id"]
    uri = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
           "arn:aws:lambda:us-east-1:000000000000:function:bench-authorizer/invocations")
    auths = {
        "token-cached": {"type": "TOKEN", "identitySource": "method.request.header.Authorization",
                         "authorizerResultTtlInSeconds": 300},
        "request-cached": {"type": "REQUEST", "identitySource": "method.request.header.Authorization",
                           "authorizerResultTtlInSeconds": 300},
        "token-uncached": {"type": "TOKEN", "identitySource": "method.request.header.Authorization",
                           "authorizerResultTtlInSeconds": 0},
    }
    for path in ["none", *auths]:
        res = api(admin, "POST", f"/restapis/{a}/resources/{root}", {"pathPart": path})["id"]
        base = f"/restapis/{a}/resources/{res}/methods/GET"
        if path == "none":
            api(admin, "PUT", base, {"authorizationType": "NONE"})
        else:
            auth = api(admin, "POST", f"/restapis/{a}/authorizers",
                       {"name": path, "authorizerUri": uri, **auths[path]})["id"]
            api(admin, "PUT", base, {"authorizationType": "CUSTOM", "authorizerId": auth})
        api(admin, "PUT", base + "/integration",
            {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}})
        api(admin, "PUT", base + "/responses/200", {})
        api(admin, "PUT", base + "/integration/responses/200",
            {"responseTemplates": {"application/json": "ok"}})
    api(admin, "POST", f"/restapis/{a}/deployments", {"stageName": "bench"})
    return a


def wrk(url, seconds, conns, header=None):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency"]
    if header:
        cmd += ["-H", header]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--portico", default="target/release/portico")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()

    prefix = tempfile.mkdtemp(prefix="portico-authz-bench-")
    data = tempfile.mkdtemp(prefix="portico-authz-bench-data-")
    port, admin = 18780, "127.0.0.1:18790"
    masters, gw = [], None
    results = {"rounds": []}
    try:
        ng_master, ng_worker = nginx("gateway.conf", prefix)
        masters.append(ng_master)
        gw = subprocess.Popen(
            ["taskset", "-c", "0", args.portico, "serve", "--listen", f"127.0.0.1:{port}",
             "--admin-listen", admin, "--data-dir", data, "--access-log", "off", "--workers", "1",
             *throttle_flags(args.portico)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PORTICO_LOG": "warn"})
        wait_http(f"http://{admin}/health")
        api(admin, "POST", "/2015-03-31/functions", {
            "FunctionName": "bench-authorizer", "Runtime": "python3.12", "Handler": "index.handler",
            "Role": "arn:aws:iam::000000000000:role/bench", "Code": {"ZipFile": zip_b64(AUTHORIZER)}})
        api(admin, "PUT", "/2017-10-31/functions/bench-authorizer/concurrency",
            {"ReservedConcurrentExecutions": 4})
        a = build(admin)
        base = f"http://127.0.0.1:{port}/restapis/{a}/bench/_user_request_"
        token = "Authorization: Bearer bench-token"
        scenarios = {
            "nginx-return": ("http://127.0.0.1:18182/x", ng_worker, None, 50),
            "none": (f"{base}/none", gw.pid, None, 50),
            "token-cached": (f"{base}/token-cached", gw.pid, token, 50),
            "request-cached": (f"{base}/request-cached", gw.pid, token, 50),
            "token-uncached": (f"{base}/token-uncached", gw.pid, token, 4),
        }
        for url, _, header, _ in scenarios.values():
            req = urllib.request.Request(url, headers=dict([header.split(": ", 1)]) if header else {})
            for _ in range(3):
                with urllib.request.urlopen(req, timeout=30) as r:
                    assert r.status == 200, url
        for r in range(args.rounds):
            order = list(scenarios)
            if r % 2:
                order.reverse()
            row = {}
            for name in order:
                url, pid, header, conns = scenarios[name]
                before, wait_before = schedstat(pid)
                t0 = time.time()
                res = wrk(url, args.seconds, conns, header)
                run, wait = schedstat(pid)
                res["gw_cpu_us_per_req"] = (run - before) / 1000 / max(res["requests"], 1)
                res["wait"] = (wait - wait_before) / 1e9 / (time.time() - t0)
                row[name] = res
                print(f"round {r + 1} {name:15s} {res['rps']:8.0f} req/s  p99 {res['p99_ms']:.2f} ms  "
                      f"gw {res['gw_cpu_us_per_req']:.1f} us/req  non2xx {res.get('non2xx', 0)}", flush=True)
            results["rounds"].append(row)
    finally:
        if gw:
            gw.terminate()
            gw.wait(timeout=20)
        for m in masters:
            subprocess.run(["kill", "-QUIT", str(m)], check=False)

    rounds = results["rounds"]
    med = lambda f: statistics.median(f(r) for r in rounds)  # noqa: E731
    summary = {name: {"cpu_us_per_req": med(lambda r, n=name: r[n]["gw_cpu_us_per_req"]),
                      "rps": med(lambda r, n=name: r[n]["rps"]),
                      "p99_ms": med(lambda r, n=name: r[n]["p99_ms"])} for name in rounds[0]}
    for name in ("none", "token-cached", "request-cached", "token-uncached"):
        summary[f"ratio_{name}_over_nginx_cpu"] = med(
            lambda r, n=name: r[n]["gw_cpu_us_per_req"] / r["nginx-return"]["gw_cpu_us_per_req"])
        summary[f"added_{name}_us"] = med(
            lambda r, n=name: r[n]["gw_cpu_us_per_req"] - r["none"]["gw_cpu_us_per_req"])
    results["summary"] = summary
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, time.strftime("authorizers-%Y%m%d-%H%M%S.json"))
    json.dump(results, open(path, "w"), indent=1)
    print(json.dumps(summary, indent=1))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
