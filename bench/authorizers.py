#!/usr/bin/env python3
"""What each kind of authorization costs a request (issue 16's figure): the same MOCK route
served with no authorization, behind TOKEN and REQUEST Lambda authorizers (cached and uncached),
a Cognito user pool authorizer (RS256 token, keys from a local JWKS server), AWS_IAM (a
SigV4-signed request) and a resource policy (source-IP condition), with nginx `return 200` as the
reference, alternating in every round.

* `nginx-return`: nginx `return 200 "ok"` (bench/nginx/gateway.conf, CPU0);
* `none`: Portico (`--workers 1`, CPU0) MOCK, no authorization;
* `token-cached`: the same MOCK behind a TOKEN authorizer, `authorizerResultTtlInSeconds` 300
  (one token: after the first request every one is a cache hit);
* `request-cached`: a REQUEST authorizer (identity: one header), TTL 300;
* `token-uncached`: a TOKEN authorizer with TTL 0: every request invokes the Python function in a
  warm worker of the local runtime;
* `cognito`: COGNITO_USER_POOLS, an RS256 ID token checked on every request (signature, claims;
  the key set fetched once);
* `iam`: AWS_IAM, every request's SigV4 signature verified (re-signed each round);
* `policy`: NONE with a resource policy allowing 127.0.0.0/8.

Needs PyJWT and cryptography (run it with .venv/bin/python after scripts/setup.sh).

wrk on CPU1 (`-c50`; `-c4` for the uncached scenario, whose function has 4 workers at most). The
gateway's CPU µs per request is Portico's own (schedstat of its threads; the function's worker
processes are not counted — their cost is in bench/lambda.py).

    .venv/bin/python bench/authorizers.py --portico target/release/portico [--rounds 5] [--seconds 5]

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


POOL = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_bench"
KEY_ID, SECRET = "AKIABENCH00000000001", "bench-secret"


def jwks_server(public_key):
    """A local issuer: discovery document and JWKS (the RSA key as kid `bench`)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    def b64(n):
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    nums = public_key.public_numbers()
    holder = {}

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            base = f"http://127.0.0.1:{holder['port']}"
            doc = {"jwks_uri": base + "/keys"} if self.path.endswith("openid-configuration") else \
                {"keys": [{"kty": "RSA", "kid": "bench", "alg": "RS256", "n": b64(nums.n), "e": b64(nums.e)}]}
            body = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    holder["port"] = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{holder['port']}"


def mock_route(admin, a, root, path, method_body):
    res = api(admin, "POST", f"/restapis/{a}/resources/{root}", {"pathPart": path})["id"]
    base = f"/restapis/{a}/resources/{res}/methods/GET"
    api(admin, "PUT", base, method_body)
    api(admin, "PUT", base + "/integration",
        {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}})
    api(admin, "PUT", base + "/responses/200", {})
    api(admin, "PUT", base + "/integration/responses/200",
        {"responseTemplates": {"application/json": "ok"}})


def build_more(admin):
    """/cognito and /iam on one API; /policy on another whose resource policy allows loopback."""
    a = api(admin, "POST", "/restapis", {"name": "authorizer-bench-2"})["id"]
    root = api(admin, "GET", f"/restapis/{a}/resources")["item"][0]["id"]
    pool = api(admin, "POST", f"/restapis/{a}/authorizers",
               {"name": "pool", "type": "COGNITO_USER_POOLS", "providerARNs": [POOL],
                "identitySource": "method.request.header.Authorization"})["id"]
    mock_route(admin, a, root, "cognito", {"authorizationType": "COGNITO_USER_POOLS", "authorizerId": pool})
    mock_route(admin, a, root, "iam", {"authorizationType": "AWS_IAM"})
    api(admin, "POST", f"/restapis/{a}/deployments", {"stageName": "bench"})
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}]})
    b = api(admin, "POST", "/restapis", {"name": "authorizer-bench-policy", "policy": policy})["id"]
    root = api(admin, "GET", f"/restapis/{b}/resources")["item"][0]["id"]
    mock_route(admin, b, root, "policy", {"authorizationType": "NONE"})
    api(admin, "POST", f"/restapis/{b}/deployments", {"stageName": "bench"})
    return a, b


def iam_header(url):
    """The SigV4 headers of a GET of `url` (valid for five minutes), as wrk -H arguments."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(KEY_ID, SECRET), "execute-api", "us-east-1").add_auth(req)
    return [f"{k}: {v}" for k, v in req.headers.items()]


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
    for h in ([header] if isinstance(header, str) else header or []):
        cmd += ["-H", h]
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
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer_srv, issuer = jwks_server(key.public_key())
    config = os.path.join(prefix, "aws.yaml")
    with open(config, "w") as f:
        f.write(f"issuers:\n  {POOL}:\n    issuer: {issuer}\n"
                f"principals:\n  {KEY_ID}:\n    secretAccessKey: {SECRET}\n"
                "    arn: arn:aws:iam::000000000000:user/bench\n    invoke: '*'\n")
    now = int(time.time())
    id_token = jwt.encode({"sub": "bench", "iss": issuer, "aud": "bench", "token_use": "id",
                           "exp": now + 24 * 3600, "iat": now}, key, algorithm="RS256",
                          headers={"kid": "bench"})
    try:
        ng_master, ng_worker = nginx("gateway.conf", prefix)
        masters.append(ng_master)
        gw = subprocess.Popen(
            ["taskset", "-c", "0", args.portico, "serve", "--listen", f"127.0.0.1:{port}",
             "--admin-listen", admin, "--data-dir", data, "--access-log", "off", "--workers", "1",
             "--aws-config", config, *throttle_flags(args.portico)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PORTICO_LOG": "warn"})
        wait_http(f"http://{admin}/health")
        api(admin, "POST", "/2015-03-31/functions", {
            "FunctionName": "bench-authorizer", "Runtime": "python3.12", "Handler": "index.handler",
            "Role": "arn:aws:iam::000000000000:role/bench", "Code": {"ZipFile": zip_b64(AUTHORIZER)}})
        api(admin, "PUT", "/2017-10-31/functions/bench-authorizer/concurrency",
            {"ReservedConcurrentExecutions": 4})
        a = build(admin)
        a2, b = build_more(admin)
        base = f"http://127.0.0.1:{port}/restapis/{a}/bench/_user_request_"
        base2 = f"http://127.0.0.1:{port}/restapis/{a2}/bench/_user_request_"
        token = "Authorization: Bearer bench-token"
        iam_url = f"{base2}/iam"
        scenarios = {
            "nginx-return": ("http://127.0.0.1:18182/x", ng_worker, None, 50),
            "none": (f"{base}/none", gw.pid, None, 50),
            "token-cached": (f"{base}/token-cached", gw.pid, token, 50),
            "request-cached": (f"{base}/request-cached", gw.pid, token, 50),
            "token-uncached": (f"{base}/token-uncached", gw.pid, token, 4),
            "cognito": (f"{base2}/cognito", gw.pid, f"Authorization: {id_token}", 50),
            "iam": (iam_url, gw.pid, "iam", 50),
            "policy": (f"http://127.0.0.1:{port}/restapis/{b}/bench/_user_request_/policy", gw.pid, None, 50),
        }
        for url, _, header, _ in scenarios.values():
            headers = header if header != "iam" else iam_header(url)
            headers = [headers] if isinstance(headers, str) else headers or []
            req = urllib.request.Request(url, headers=dict(h.split(": ", 1) for h in headers))
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
                if header == "iam":
                    header = iam_header(url)
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
        issuer_srv.shutdown()
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
    for name in ("none", "token-cached", "request-cached", "token-uncached", "cognito", "iam", "policy"):
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
