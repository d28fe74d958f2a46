#!/usr/bin/env python3
"""Portico's HTTPS listener vs nginx, same run, same slot (issue 13).

    python3 bench/tls.py --portico target/release/portico [--rounds 5] [--seconds 5]

Same conventions as bench/harness.py: the gateway under test (nginx's single worker, or a
Portico with `--workers 1`) is pinned to CPU0, wrk (`-t1 -c50`) and the backend nginx share CPU1,
CPU-µs per request comes from /proc/<pid>/task/*/schedstat, scenarios alternate inside every
round (reversed every other round), ratios are Portico ÷ nginx paired per round, median over
rounds, leaving out rounds where a gateway waited on its CPU more than 5 %.

One ECDSA P-256 certificate (made here with the openssl CLI; SAN localhost and 127.0.0.1) serves
both: nginx (bench/nginx/tls-gateway.conf, TLS 1.2 and 1.3, http2 on) and Portico
(`--tls-listen --tls-cert --tls-key`, bench/bench-api.yaml as in harness.py). Scenarios:

* `*-tls-handshake`: a **full** TLS handshake per request: wrk over https with
  `Connection: close`, and a client that never offers a session. wrk (OpenSSL) keeps the last
  session of each connection slot and resumes it on reconnect; a small LD_PRELOAD shim (built
  here with cc) drops it in `SSL_clear`, which wrk calls between connections, and counts the
  handshakes wrk completed, full and resumed. Before measuring, the script checks both against
  both servers (for nginx also on its `$ssl_session_reused` log) and stops if a session gets
  through. CPU-µs per request is then CPU per full handshake (with its connection and one
  request), requests/s is handshakes/s; wrk's half of each handshake also runs on CPU1, so the
  rate is usually the client's limit.
* `*-tls-resumed`: the same with wrk's own behaviour: a new connection per request, TLS 1.3
  session resumed (nginx: stateless tickets; Portico: rustls's stateful cache of 256 sessions).
  The shim only counts here; every run records the handshakes it counted.
* `nginx-tls-return` / `portico-tls-mock`, `nginx-tls-proxy` / `portico-tls-proxy`: HTTPS
  keep-alive, `return 200 "ok"` vs MOCK and `proxy_pass` vs HTTP_PROXY (backend plain HTTP).
* `nginx-plain-return` / `portico-plain-mock`: plain HTTP keep-alive on the same processes, to
  read what TLS adds per request.

wrk speaks HTTP/1.1 and sends no ALPN, so every scenario is HTTP/1.1 over TLS; the checks record
what each server negotiates (protocol, cipher, ALPN h2 when offered, resumption) and how many of
300 clients reconnecting for a second each server resumes (more than rustls's default session
cache holds). Results go to bench/results/tls-<timestamp>.json.
"""
import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import nginx, run_wrk, throttle_flags  # noqa: E402

BACKEND = "127.0.0.1:18181"
NGINX_PROXY, NGINX_RETURN, NGINX_CHECK, NGINX_PLAIN = 18280, 18282, 18284, 18286
PORTICO_HTTP, PORTICO_ADMIN, PORTICO_HTTPS = 18290, 18291, 18293

# Preloaded into wrk for the new-connection scenarios. SSL_connect: counts the handshakes that
# completed, full and resumed, and appends them to $BENCH_TLS_COUNTS when wrk exits. SSL_clear
# (which wrk calls between the connections of one slot, keeping the session for the next
# SSL_connect): with BENCH_TLS_NO_RESUME=1 it drops that session, so every connection is a full
# handshake.
SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
typedef struct ssl_st SSL;
static long full, resumed;

int SSL_clear(SSL *s) {
    static int (*real)(SSL *);
    static int (*set_session)(SSL *, void *);
    static int drop = -1;
    if (!real) {
        real = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
        set_session = (int (*)(SSL *, void *))dlsym(RTLD_DEFAULT, "SSL_set_session");
        const char *e = getenv("BENCH_TLS_NO_RESUME");
        drop = e && e[0] == '1';
    }
    int r = real(s);
    if (drop && set_session) set_session(s, 0);
    return r;
}

int SSL_connect(SSL *s) {
    static int (*real)(SSL *);
    static int (*reused)(const SSL *);
    if (!real) {
        real = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
        reused = (int (*)(const SSL *))dlsym(RTLD_DEFAULT, "SSL_session_reused");
    }
    int r = real(s);
    if (r == 1 && reused) {
        if (reused(s)) resumed++; else full++;
    }
    return r;
}

__attribute__((destructor)) static void report(void) {
    const char *path = getenv("BENCH_TLS_COUNTS");
    if (!path || full + resumed == 0) return;
    FILE *f = fopen(path, "a");
    if (f) { fprintf(f, "%ld %ld\n", full, resumed); fclose(f); }
}
"""

CLOSE = ["-H", "Connection: close"]


def nginx_https(port):
    return f"https://127.0.0.1:{port}/x"


def make_cert(prefix):
    cert, key = os.path.join(prefix, "tls-cert.pem"), os.path.join(prefix, "tls-key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-addext", "keyUsage=critical,digitalSignature",
         "-addext", "extendedKeyUsage=serverAuth"],
        check=True, capture_output=True,
    )
    return cert, key


def make_shim(prefix):
    src, so = os.path.join(prefix, "wrk_tls_shim.c"), os.path.join(prefix, "wrk_tls_shim.so")
    with open(src, "w") as f:
        f.write(SHIM_C)
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", so, src, "-ldl"], check=True)
    return so


class Shim:
    """wrk with the shim preloaded (harness.run_wrk starts wrk with this process's environment)."""

    def __init__(self, so, counts):
        self.so, self.counts = so, counts

    @contextlib.contextmanager
    def preload(self, no_resume):
        """Yields a function that returns the handshakes wrk completed: (full, resumed)."""
        env = {"LD_PRELOAD": self.so, "BENCH_TLS_NO_RESUME": "1" if no_resume else "0",
               "BENCH_TLS_COUNTS": self.counts}
        old = {k: os.environ.get(k) for k in env}
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.counts)
        os.environ.update(env)

        def handshakes():
            full = resumed = 0
            with contextlib.suppress(FileNotFoundError):
                for line in open(self.counts):
                    f, r = line.split()
                    full, resumed = full + int(f), resumed + int(r)
            return full, resumed

        try:
            yield handshakes
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def tls_context(alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def https_get(port, path, ctx, session=None, timeout=5):
    """One request on a new TLS connection: (status, body, session info)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        with ctx.wrap_socket(s, server_hostname="localhost", session=session) as t:
            t.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = t.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1]) if head else 0
            info = {"version": t.version(), "cipher": t.cipher()[0], "reused": t.session_reused,
                    "alpn": t.selected_alpn_protocol()}
            return status, body, t.session, info


def wait_https(port, path, timeout=30):
    ctx = tls_context()
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            status, body, _, _ = https_get(port, path, ctx, timeout=1)
            if status == 200:
                return body
        except (OSError, ssl.SSLError, ValueError, IndexError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"https://127.0.0.1:{port}{path} did not come up")


def check_tls(port, path):
    """What a server negotiates with an OpenSSL client, and whether it resumes a session."""
    ctx = tls_context()
    status, body, sess, first = https_get(port, path, ctx)
    _, _, _, second = https_get(port, path, ctx, session=sess)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with tls_context(["h2", "http/1.1"]).wrap_socket(s, server_hostname="localhost") as t:
            alpn = t.selected_alpn_protocol()
    ctx12 = tls_context()
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    _, body12, _, tls12 = https_get(port, path, ctx12)
    return {"status": status, "body": body.decode(errors="replace"), "version": first["version"],
            "cipher": first["cipher"], "alpn_without_offer": first["alpn"],
            "alpn_offering_h2": alpn, "resumes": second["reused"],
            "tls12": {"version": tls12["version"], "cipher": tls12["cipher"],
                      "ok": body12 == b"ok"}}


def wrk_resumption(url, log, shim, no_resume, conns=10, seconds=1):
    """wrk `Connection: close` for a second through the shim: the handshakes it counted, and
    for nginx's check server the ones its `$ssl_session_reused` log saw."""

    def logged():
        if not log or not os.path.exists(log):
            return 0, 0
        lines = open(log).read().splitlines()
        return sum(ln.startswith(". ") for ln in lines), sum(ln.startswith("r ") for ln in lines)

    before = logged()
    with shim.preload(no_resume) as handshakes:
        subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", *CLOSE, url],
                       capture_output=True, text=True, check=True)
        client = handshakes()
    time.sleep(0.5)  # nginx writes its log lines as requests end; let the last ones land
    after = logged()
    out = {"client_full": client[0], "client_resumed": client[1]}
    if log:
        out.update(server_full=after[0] - before[0], server_resumed=after[1] - before[1])
    return out


def start_portico(binary, data, cert, key, procs):
    p = subprocess.Popen(
        ["taskset", "-c", "0", binary, "serve", "--workers", "1", *throttle_flags(binary),
         "--listen", f"127.0.0.1:{PORTICO_HTTP}", "--admin-listen", f"127.0.0.1:{PORTICO_ADMIN}",
         "--tls-listen", f"127.0.0.1:{PORTICO_HTTPS}", "--tls-cert", cert, "--tls-key", key,
         "--data-dir", data, "--access-log", "off", "--stage", "bench",
         "--import", os.path.join(HERE, "bench-api.yaml"),
         "--stage-variable", f"backend={BACKEND}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=dict(os.environ, PORTICO_LOG="error"),
    )
    procs.append(p)
    api = None
    for line in p.stdout:
        m = re.search(r"\(id ([a-z0-9]+)\)", line)
        if m:
            api = m.group(1)
        if "data plane listening on https://" in line:
            break
    else:
        raise RuntimeError("portico exited before its HTTPS listener was up")
    if api is None:
        raise RuntimeError("portico did not print the imported API's id")
    return p, f"/restapis/{api}/bench/_user_request_"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--portico", default="target/release/portico")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    for tool in ("nginx", "wrk", "taskset", "openssl", "cc"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run bench/setup.sh (cc: apt-get install gcc)")

    prefix = tempfile.mkdtemp(prefix="portico-tls-bench-")
    for d in ("b1", "p1", "f1", "u1", "s1", "b3", "p3", "f3", "u3", "s3"):
        os.makedirs(os.path.join(prefix, d))
    procs, masters = [], []
    checks = {}
    try:
        cert, key = make_cert(prefix)
        shim = Shim(make_shim(prefix), os.path.join(prefix, "wrk-handshakes.txt"))
        masters.append(nginx("backend.conf", prefix)[0])
        gw_master, gw_worker = nginx("tls-gateway.conf", prefix)
        masters.append(gw_master)
        p, base = start_portico(args.portico, os.path.join(prefix, "portico-data"), cert, key, procs)

        portico_https = f"https://127.0.0.1:{PORTICO_HTTPS}{base}"
        # name: (url, gateway pid, extra wrk args, shim: None = none, True = no resumption,
        # False = counting handshakes only)
        scenarios = {
            "nginx-tls-handshake": (nginx_https(NGINX_RETURN), gw_worker, CLOSE, True),
            "portico-tls-handshake": (f"{portico_https}/mock", p.pid, CLOSE, True),
            "nginx-tls-resumed": (nginx_https(NGINX_RETURN), gw_worker, CLOSE, False),
            "portico-tls-resumed": (f"{portico_https}/mock", p.pid, CLOSE, False),
            "nginx-tls-return": (nginx_https(NGINX_RETURN), gw_worker, [], None),
            "portico-tls-mock": (f"{portico_https}/mock", p.pid, [], None),
            "nginx-tls-proxy": (nginx_https(NGINX_PROXY), gw_worker, [], None),
            "portico-tls-proxy": (f"{portico_https}/x", p.pid, [], None),
            "nginx-plain-return": (f"http://127.0.0.1:{NGINX_PLAIN}/x", gw_worker, [], None),
            "portico-plain-mock": (f"http://127.0.0.1:{PORTICO_HTTP}{base}/mock", p.pid, [], None),
        }
        pairs_to_compare = [
            ("portico-tls-handshake", "nginx-tls-handshake"),
            ("portico-tls-resumed", "nginx-tls-resumed"),
            ("portico-tls-mock", "nginx-tls-return"),
            ("portico-tls-proxy", "nginx-tls-proxy"),
            ("portico-plain-mock", "nginx-plain-return"),
        ]

        # Every server answers `ok`; what each negotiates; whether wrk resumes, with and without
        # dropping its sessions (counted by the shim in wrk, and on nginx's $ssl_session_reused
        # log for the check server).
        for port, path in ((NGINX_RETURN, "/x"), (NGINX_PROXY, "/x"), (PORTICO_HTTPS, f"{base}/mock"),
                           (PORTICO_HTTPS, f"{base}/x")):
            body = wait_https(port, path)
            assert body == b"ok", (port, path, body)
        checks["nginx"] = check_tls(NGINX_RETURN, "/x")
        checks["portico"] = check_tls(PORTICO_HTTPS, f"{base}/mock")
        log = os.path.join(prefix, "tls-reuse.log")
        checks["wrk_connection_close"] = {
            "nginx_default": wrk_resumption(nginx_https(NGINX_CHECK), log, shim, False),
            "nginx_no_resume": wrk_resumption(nginx_https(NGINX_CHECK), log, shim, True),
            "portico_default": wrk_resumption(f"{portico_https}/mock", None, shim, False),
            "portico_no_resume": wrk_resumption(f"{portico_https}/mock", None, shim, True),
            # More clients reconnecting than Portico's session cache holds (rustls's default:
            # 256 sessions, two TLS 1.3 tickets stored per connection); nginx's tickets are
            # stateless.
            "nginx_default_300_clients": wrk_resumption(nginx_https(NGINX_CHECK), log, shim, False, 300),
            "portico_default_300_clients": wrk_resumption(f"{portico_https}/mock", None, shim, False, 300),
        }
        print("checks:", json.dumps(checks, indent=1), flush=True)
        wcc = checks["wrk_connection_close"]
        if (wcc["nginx_no_resume"]["server_resumed"] or not wcc["nginx_no_resume"]["server_full"]
                or wcc["portico_no_resume"]["client_resumed"]):
            sys.exit("the shim did not prevent session resumption; see checks above")

        def measure(name, seconds):
            url, pid, extra, no_resume = scenarios[name]
            if no_resume is None:
                return run_wrk(url, seconds, args.connections, pid, extra)
            with shim.preload(no_resume) as handshakes:
                r = run_wrk(url, seconds, args.connections, pid, extra)
                r["client_full_handshakes"], r["client_resumed_handshakes"] = handshakes()
            return r

        for name in scenarios:  # warm-up
            measure(name, 1)
        results = {k: [] for k in scenarios}
        for rnd in range(args.rounds):
            order = list(scenarios) if rnd % 2 == 0 else list(reversed(list(scenarios)))
            for name in order:
                r = measure(name, args.seconds)
                results[name].append(r)
                print(f"round {rnd + 1} {name:22s} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
                      f"p99 {r['p99_ms']:.2f} ms  gw {r['gw_cpu_us_per_req']:.1f} us/req  "
                      f"util {r['gw_util']:.2f} wait {r['gw_wait']:.3f} box {r['box_busy_cores']:.2f}"
                      f"{'  errors ' + r['socket_errors'] if r['socket_errors'] else ''}"
                      + (f"  handshakes full {r['client_full_handshakes']} resumed "
                         f"{r['client_resumed_handshakes']}" if "client_full_handshakes" in r else ""),
                      flush=True)
        checks["portico_alive_after"] = p.poll() is None
        checks["portico_after"] = check_tls(PORTICO_HTTPS, f"{base}/mock")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for m in masters:
            try:
                os.kill(m, signal.SIGQUIT)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
        shutil.rmtree(prefix, ignore_errors=True)

    def valid(rs):
        return [r for r in rs if r["gw_wait"] <= 0.05] or rs

    summary = {}
    for name, rs in results.items():
        summary[name] = {k: statistics.median(r[k] for r in valid(rs))
                         for k in ("rps", "p50_ms", "p99_ms", "gw_cpu_us_per_req", "gw_util", "gw_wait",
                                   "box_busy_cores")}
        summary[name]["min_gw_cpu_us_per_req"] = min(r["gw_cpu_us_per_req"] for r in rs)
        summary[name]["non2xx"] = sum(r["non2xx"] for r in rs)
        summary[name]["socket_errors"] = [r["socket_errors"] for r in rs if r["socket_errors"]]
        if "client_full_handshakes" in rs[0]:
            summary[name]["client_full_handshakes"] = sum(r["client_full_handshakes"] for r in rs)
            summary[name]["client_resumed_handshakes"] = sum(r["client_resumed_handshakes"] for r in rs)
    ratios = {}
    for ours, theirs in pairs_to_compare:
        pairs = [(a, b) for a, b in zip(results[ours], results[theirs])
                 if a["gw_wait"] <= 0.05 and b["gw_wait"] <= 0.05] or list(zip(results[ours], results[theirs]))
        ratios[ours] = {
            "vs": theirs,
            "cpu_per_req": statistics.median(a["gw_cpu_us_per_req"] / b["gw_cpu_us_per_req"] for a, b in pairs),
            "throughput": statistics.median(a["rps"] / b["rps"] for a, b in pairs),
            "p50": statistics.median(a["p50_ms"] / b["p50_ms"] for a, b in pairs),
            "p99": statistics.median(a["p99_ms"] / b["p99_ms"] for a, b in pairs),
            "rounds": len(pairs),
        }
    # What TLS adds to a keep-alive request, each side (medians of the same run).
    tls_adds = {
        "nginx": summary["nginx-tls-return"]["gw_cpu_us_per_req"] - summary["nginx-plain-return"]["gw_cpu_us_per_req"],
        "portico": summary["portico-tls-mock"]["gw_cpu_us_per_req"] - summary["portico-plain-mock"]["gw_cpu_us_per_req"],
    }
    os.makedirs(args.out, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = {"when": stamp, "rounds": args.rounds, "seconds": args.seconds,
              "connections": args.connections, "nproc": os.cpu_count(), "checks": checks,
              "summary": summary, "ratios": ratios, "tls_adds_us_per_keepalive_req": tls_adds,
              "runs": results}
    path = os.path.join(args.out, f"tls-{stamp}.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    print()
    print("| scenario | req/s | p50 ms | p99 ms | gateway CPU µs/req (median) | (min) | gateway util |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, s in summary.items():
        print(f"| {name} | {s['rps']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | "
              f"{s['gw_cpu_us_per_req']:.1f} | {s['min_gw_cpu_us_per_req']:.1f} | {s['gw_util']:.2f} |")
    print()
    print("| Portico / nginx (median of per-round ratios) | CPU per request | throughput | p50 | p99 | rounds |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in ratios.items():
        print(f"| {name} vs {r['vs']} | {r['cpu_per_req']:.2f}× | {r['throughput']:.2f}× | {r['p50']:.2f}× | "
              f"{r['p99']:.2f}× | {r['rounds']} |")
    print()
    print(f"TLS adds per keep-alive request: nginx {tls_adds['nginx']:.1f} µs, "
          f"Portico {tls_adds['portico']:.1f} µs")
    for name, s in summary.items():
        if "client_full_handshakes" in s:
            print(f"{name}: wrk completed {s['client_full_handshakes']} full and "
                  f"{s['client_resumed_handshakes']} resumed handshakes")
    print(f"results: {path}")
    bad = {n: s["non2xx"] for n, s in summary.items() if s["non2xx"]}
    errs = {n: s["socket_errors"] for n, s in summary.items() if s["socket_errors"]}
    if errs:
        print(f"socket errors seen: {errs}")
    if bad:
        print(f"non-2xx responses seen: {bad}")
        sys.exit(1)


if __name__ == "__main__":
    main()
