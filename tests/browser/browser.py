"""Real-browser toolkit for the CORS tests: headless Chromium (Debian's /usr/bin/chromium, driven
by playwright-core through `cors_probe.mjs`) makes fetch() calls from a page on one origin to
Portico on another, and the tests read back what the page could see.

* `browser_unavailable()` says why Chromium, node or playwright-core is missing, or None
  (`scripts/setup.sh` installs them); `require_browser()` skips the calling test, printing why.
* `PageServer` serves a tiny HTML page from 127.0.0.1 on its own port: origin A. Portico's data
  plane listens on another port of 127.0.0.1, so it is another origin (the port differs). Both are
  loopback, so Chromium's Private Network Access checks (public → private) do not apply.
* `probe(page, calls)` runs the driver and returns one `Result` per call.
"""
import json
import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "cors_probe.mjs")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PAGE = b"<!doctype html><html><head><title>portico cors probe</title></head><body>probe</body></html>"


def browser_unavailable():
    """Why the real-browser tests cannot run here, or None when they can."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium as root)"
    node = shutil.which("node")
    if node is None:
        return "node is missing (the browser driver needs node >= 20)"
    major = subprocess.run([node, "-p", "process.versions.node.split('.')[0]"],
                           capture_output=True, text=True).stdout.strip()
    if not major.isdigit() or int(major) < 20:
        return f"node {major or '?'} is older than 20 (playwright-core needs 20)"
    if not os.path.isfile(os.path.join(HERE, "node_modules", "playwright-core", "package.json")):
        return "playwright-core is not installed in tests/browser (run scripts/setup.sh)"
    return None


def require_browser():
    """Skips the calling test, printing why, unless the browser can run."""
    reason = browser_unavailable()
    if reason:
        print(f"SKIP browser test: {reason}")
        pytest.skip(reason)


class PageServer:
    """A tiny HTML page on http://127.0.0.1:<port>/ (a context manager). `origin` is its origin,
    `url` the page to load; `requests` lists the paths asked for. With `set_cookie`, the page
    comes with that `Set-Cookie` header (cookies ignore the port: it goes to Portico too)."""

    def __init__(self, host="127.0.0.1", set_cookie=None):
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                if self.path == "/favicon.ico":
                    self.send_response(204)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                if set_cookie:
                    self.send_header("Set-Cookie", set_cookie)
                self.send_header("Content-Length", str(len(PAGE)))
                self.end_headers()
                self.wfile.write(PAGE)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.origin = f"http://{host}:{self.httpd.server_address[1]}"
        self.url = self.origin + "/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class Result:
    """What the page saw of one fetch(): `ok`, `status`, `body`, `headers` (those readable from
    the page, lower-cased) and `type` when it resolved; `error` ({"name", "message"}) when it
    rejected; `console`, the browser's CORS messages logged meanwhile."""

    def __init__(self, raw):
        self.raw = raw
        self.error = raw.get("error")
        self.ok = raw.get("ok", False)
        self.status = raw.get("status")
        self.body = raw.get("body")
        self.headers = raw.get("headers", {})
        self.type = raw.get("type")
        self.console = raw.get("console", [])

    @property
    def blocked_by_cors(self):
        """The fetch rejected and Chromium said CORS was why."""
        return (self.error is not None and self.error.get("message") == "Failed to fetch"
                and any("CORS policy" in m for m in self.console))

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Result({json.dumps(self.raw)[:2000]})"


def call(url, method="GET", headers=None, body=None, credentials="omit"):
    """One fetch() of a plan."""
    c = {"url": url, "method": method, "headers": headers or {}, "credentials": credentials}
    if body is not None:
        c["body"] = body
    return c


def probe(page_url, calls, timeout_s=30):
    """Loads `page_url` in headless Chromium, makes `calls` (see `call`) from it in order with
    fetch(), and returns one `Result` per call. Raises with the driver's output when it fails."""
    plan = {"page": page_url, "calls": calls, "timeout_ms": int(timeout_s * 1000)}
    try:
        run = subprocess.run(["node", DRIVER, "-"], input=json.dumps(plan), capture_output=True,
                             text=True, cwd=HERE, timeout=timeout_s + 15)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"cors_probe.mjs did not end: {e.stdout!r} {e.stderr!r}") from e
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    results = [Result(line) for line in lines if "call" in line]
    if run.returncode != 0 or len(results) != len(calls) or not lines[-1].get("done"):
        raise AssertionError(f"cors_probe.mjs failed (exit {run.returncode}):\n{run.stdout}\n{run.stderr}")
    return results
