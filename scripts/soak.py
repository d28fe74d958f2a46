#!/usr/bin/env python3
"""Soak: a real `portico serve` under mixed traffic (MOCK, HTTP_PROXY, HTTP with templates,
validation failures, a dead backend, a slow backend past its timeout, unknown paths) with a
redeploy every few seconds, while RSS and open file descriptors are sampled once a second.

Passes when, after a warm-up, memory and descriptors stay flat and no request got an unexpected
status. `--minutes 5` is the CI mini-soak (scripts/test.sh); run `--minutes 60` on demand.
Writes the samples as CSV (`--csv`)."""
import argparse
import http.client
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from conftest import Portico  # noqa: E402


class Backend(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/slow"):
            time.sleep(0.3)
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    do_POST = do_GET

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def build(apigw, backend):
    api = apigw.create_rest_api(name="soak")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    model = json.dumps({"type": "object", "required": ["n"]})
    apigw.create_model(restApiId=api, name="N", contentType="application/json", schema=model)
    validator = apigw.create_request_validator(restApiId=api, name="v", validateRequestBody=True)["id"]

    def res(part):
        return apigw.create_resource(restApiId=api, parentId=root, pathPart=part)["id"]

    mock = res("mock")
    apigw.put_method(restApiId=api, resourceId=mock, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=mock, httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api, resourceId=mock, httpMethod="GET", statusCode="200",
                                   responseTemplates={"application/json":
                                                      '{"rid": "$context.requestId", "v": "$stageVariables.v"}'})
    for part, uri, timeout in [("proxy", f"http://{backend}/p", 29000), ("dead", "http://127.0.0.1:9/", 29000),
                               ("slow", f"http://{backend}/slow", 100)]:
        rid = res(part)
        apigw.put_method(restApiId=api, resourceId=rid, httpMethod="GET", authorizationType="NONE")
        apigw.put_integration(restApiId=api, resourceId=rid, httpMethod="GET", type="HTTP_PROXY",
                              integrationHttpMethod="GET", uri=uri, timeoutInMillis=timeout)
    tpl = res("tpl")
    apigw.put_method(restApiId=api, resourceId=tpl, httpMethod="POST", authorizationType="NONE",
                     requestValidatorId=validator, requestModels={"application/json": "N"})
    apigw.put_integration(restApiId=api, resourceId=tpl, httpMethod="POST", type="HTTP",
                          integrationHttpMethod="POST", uri=f"http://{backend}/t",
                          requestTemplates={"application/json":
                                            '#set($n = $input.path(\'$.n\'))[#foreach($i in [1..$n])$i#if($foreach.hasNext),#end#end]'})
    apigw.put_integration_response(restApiId=api, resourceId=tpl, httpMethod="POST", statusCode="200",
                                   responseTemplates={"application/json": '{"echo": $input.json(\'$\')}'})
    return api


# (method, path, body, expected statuses)
TRAFFIC = [
    ("GET", "/mock", None, {200}),
    ("GET", "/proxy", None, {200}),
    ("POST", "/tpl", '{"n": 20}', {200}),
    ("POST", "/tpl", '{"x": 1}', {400}),
    ("GET", "/nowhere", None, {403}),
    ("GET", "/dead", None, {502}),
    ("GET", "/slow", None, {504}),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=None, help="seconds (default: 20%% of the run, ≤ 60)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--redeploy-every", type=float, default=3.0)
    ap.add_argument("--csv", default=None)
    args = ap.parse_args()
    duration = args.minutes * 60
    warmup = args.warmup if args.warmup is not None else min(60.0, duration * 0.2)

    backend_server = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=backend_server.serve_forever, daemon=True).start()
    backend = f"127.0.0.1:{backend_server.server_address[1]}"
    gw = Portico()
    apigw = boto3.client("apigateway", endpoint_url=f"http://{gw.admin}", region_name="us-east-1",
                         aws_access_key_id="soak", aws_secret_access_key="soak",
                         config=Config(retries={"max_attempts": 1}))
    api = build(apigw, backend)
    apigw.create_deployment(restApiId=api, stageName="soak", variables={"v": "0"})
    host, port = gw.data_plane.rsplit(":", 1)
    base = f"/restapis/{api}/soak/_user_request_"
    time.sleep(0.5)

    stop = threading.Event()
    lock = threading.Lock()
    counts = {"requests": 0, "unexpected": 0, "redeploys": 0}
    unexpected = []

    def client(n):
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        i = n
        while not stop.is_set():
            method, path, body, want = TRAFFIC[i % len(TRAFFIC)]
            i += 1
            try:
                conn.request(method, base + path, body=body,
                             headers={"Content-Type": "application/json"} if body else {})
                r = conn.getresponse()
                r.read()
                status = r.status
            except (OSError, http.client.HTTPException) as e:
                status = f"error {type(e).__name__}"
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
            with lock:
                counts["requests"] += 1
                if status not in want:
                    counts["unexpected"] += 1
                    if len(unexpected) < 20:
                        unexpected.append((method, path, status))

    def redeployer():
        v = 0
        while not stop.wait(args.redeploy_every):
            v += 1
            try:
                apigw.create_deployment(restApiId=api, stageName="soak", variables={"v": str(v)})
                with lock:
                    counts["redeploys"] += 1
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    unexpected.append(("redeploy", str(e)))
                    counts["unexpected"] += 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    threads.append(threading.Thread(target=redeployer, daemon=True))
    for t in threads:
        t.start()

    samples = []
    started = time.time()
    try:
        while time.time() - started < duration:
            time.sleep(1)
            rss, fds = sample(gw.proc.pid)
            samples.append((round(time.time() - started, 1), rss, fds, counts["requests"]))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
        gw.stop()
        backend_server.shutdown()

    if args.csv:
        with open(args.csv, "w") as f:
            f.write("seconds,rss_kib,fds,requests\n")
            for s in samples:
                f.write(",".join(map(str, s)) + "\n")

    steady = [s for s in samples if s[0] >= warmup]
    window = max(1, len(steady) // 3)
    first, last = steady[:window], steady[-window:]
    rss_first, rss_last = max(s[1] for s in first), max(s[1] for s in last)
    fds_first, fds_last = max(s[2] for s in first), max(s[2] for s in last)
    rate = counts["requests"] / max(1.0, samples[-1][0])
    print(f"soak: {args.minutes:g} min, {counts['requests']} requests ({rate:.0f}/s), "
          f"{counts['redeploys']} redeploys, {counts['unexpected']} unexpected")
    print(f"soak: RSS {rss_first} → {rss_last} KiB ({(rss_last - rss_first) / max(1, rss_first) * 100:+.1f}%), "
          f"FDs {fds_first} → {fds_last}")
    ok = True
    if counts["unexpected"]:
        print(f"soak: FAIL unexpected statuses: {unexpected}")
        ok = False
    # Flat memory: the last third may not exceed the first third (after warm-up) by more than
    # 10 % plus 2 MiB of allocator noise; descriptors within ±10.
    if rss_last > rss_first * 1.10 + 2048:
        print("soak: FAIL RSS grew")
        ok = False
    if abs(fds_last - fds_first) > 10:
        print("soak: FAIL file descriptors drifted")
        ok = False
    if counts["redeploys"] < duration / args.redeploy_every / 2:
        print("soak: FAIL too few redeploys happened")
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
