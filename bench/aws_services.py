#!/usr/bin/env python3
"""The cost of an `AWS` service integration (issue 15's figure): the same request template, the
same backend, three ways, alternating in every round:

* `nginx-proxy`: nginx `proxy_pass` (bench/nginx/gateway.conf, CPU0) → backend — the reference;
* `portico-http`: Portico (`--workers 1`, CPU0) `HTTP` non-proxy integration, POST with a
  request template rendering `{"TableName": …, "Key": {"id": {"S": "<path param>"}}}`;
* `portico-aws`: Portico `AWS` integration `dynamodb:action/GetItem` with the same template,
  sent to the same backend (`--aws-endpoint '*=…'`) with `X-Amz-Target`, the JSON content type
  and a SigV4 signature (keys from the environment).

The backend is nginx answering `ok` (bench/nginx/backend.conf, CPU1, beside wrk). Reported: the
gateway's CPU µs per request (schedstat) and its ratio to nginx's, and aws ÷ http — what the
service protocol and the signature add.

    python3 bench/aws_services.py --portico target/release/portico [--rounds 5] [--seconds 5]

Results go to bench/results/aws-services-<timestamp>.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import nginx, parse_wrk, schedstat, throttle_flags, wait_http  # noqa: E402

TEMPLATE = '{"TableName": "orders", "Key": {"id": {"S": "$input.params(\'id\')"}}}'


def api(admin, method, path, body=None):
    req = urllib.request.Request(f"http://{admin}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def make_api(admin, name, integration):
    a = api(admin, "POST", "/restapis", {"name": name})
    root = api(admin, "GET", f"/restapis/{a['id']}/resources")["item"][0]["id"]
    res = api(admin, "POST", f"/restapis/{a['id']}/resources/{root}", {"pathPart": "{id}"})["id"]
    base = f"/restapis/{a['id']}/resources/{res}/methods/GET"
    api(admin, "PUT", base, {"authorizationType": "NONE"})
    api(admin, "PUT", base + "/integration", {"httpMethod": "POST", "requestTemplates":
                                              {"application/json": TEMPLATE}, **integration})
    api(admin, "PUT", base + "/responses/200", {})
    api(admin, "PUT", base + "/integration/responses/200", {})
    api(admin, "POST", f"/restapis/{a['id']}/deployments", {"stageName": "bench"})
    return a["id"]


def wrk(url, seconds, conns):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--portico", default="target/release/portico")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()

    prefix = tempfile.mkdtemp(prefix="portico-aws-bench-")
    masters = []
    data = tempfile.mkdtemp(prefix="portico-aws-bench-data-")
    port, admin = 18680, "127.0.0.1:18690"
    gw = None
    results = {"rounds": []}
    try:
        masters.append(nginx("backend.conf", prefix)[0])
        ng_master, ng_worker = nginx("gateway.conf", prefix)
        masters.append(ng_master)
        gw = subprocess.Popen(
            ["taskset", "-c", "0", args.portico, "serve", "--listen", f"127.0.0.1:{port}",
             "--admin-listen", admin, "--data-dir", data, "--access-log", "off", "--workers", "1",
             "--aws-endpoint", "*=http://127.0.0.1:18181", *throttle_flags(args.portico)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "PORTICO_LOG": "warn", "AWS_ACCESS_KEY_ID": "AKIDBENCH",
                 "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
        wait_http(f"http://{admin}/health")
        http_id = make_api(admin, "bench-http", {"type": "HTTP", "uri": "http://127.0.0.1:18181/"})
        aws_id = make_api(admin, "bench-aws", {
            "type": "AWS", "uri": "arn:aws:apigateway:us-east-1:dynamodb:action/GetItem",
            "credentials": "arn:aws:iam::123456789012:role/bench"})
        scenarios = {
            "nginx-proxy": ("http://127.0.0.1:18180/x", ng_worker),
            "portico-http": (f"http://127.0.0.1:{port}/restapis/{http_id}/bench/_user_request_/o-1", gw.pid),
            "portico-aws": (f"http://127.0.0.1:{port}/restapis/{aws_id}/bench/_user_request_/o-1", gw.pid),
        }
        for url, _ in scenarios.values():
            wait_http(url)
        for r in range(args.rounds):
            order = list(scenarios)
            if r % 2:
                order.reverse()
            row = {}
            for name in order:
                url, pid = scenarios[name]
                before, wait_before = schedstat(pid)
                t0 = time.time()
                res = wrk(url, args.seconds, args.connections)
                run, wait = schedstat(pid)
                res["gw_cpu_us_per_req"] = (run - before) / 1000 / max(res["requests"], 1)
                res["wait"] = (wait - wait_before) / 1e9 / (time.time() - t0)
                row[name] = res
                print(f"round {r + 1} {name:13s} {res['rps']:8.0f} req/s  p99 {res['p99_ms']:.2f} ms  "
                      f"gw {res['gw_cpu_us_per_req']:.1f} us/req  wait {res['wait']:.3f}", flush=True)
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
    summary["ratio_http_over_nginx_cpu"] = med(
        lambda r: r["portico-http"]["gw_cpu_us_per_req"] / r["nginx-proxy"]["gw_cpu_us_per_req"])
    summary["ratio_aws_over_nginx_cpu"] = med(
        lambda r: r["portico-aws"]["gw_cpu_us_per_req"] / r["nginx-proxy"]["gw_cpu_us_per_req"])
    summary["ratio_aws_over_http_cpu"] = med(
        lambda r: r["portico-aws"]["gw_cpu_us_per_req"] / r["portico-http"]["gw_cpu_us_per_req"])
    results["summary"] = summary
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, time.strftime("aws-services-%Y%m%d-%H%M%S.json"))
    json.dump(results, open(path, "w"), indent=1)
    print(json.dumps(summary, indent=1))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
