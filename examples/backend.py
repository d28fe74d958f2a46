#!/usr/bin/env python3
"""The example backend for Portico's quick start: a tiny pet store on the standard library.

    python3 examples/backend.py [--port 8081]
"""
import argparse
import itertools
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLOCK_HITS = itertools.count(1)
PETS = [{"id": 1, "type": "dog", "price": 249.99}, {"id": 2, "type": "cat", "price": 124.99}]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode("utf-8", "replace") if n else ""

    def handle_one(self):
        path, _, query = self.path.partition("?")
        body = self._body()
        if path == "/pets" and self.command == "GET":
            return self._send(200, PETS)
        if path == "/pets" and self.command == "POST":
            return self._send(201, {"created": json.loads(body or "{}")})
        if path.startswith("/pets/"):
            pet = next((p for p in PETS if str(p["id"]) == path[6:]), None)
            return self._send(200, pet) if pet else self._send(404, {"message": "no such pet"})
        if path == "/clock":
            return self._send(200, {"servedAt": round(time.time(), 3), "hit": next(CLOCK_HITS)})
        if path.startswith("/files/"):
            return self._send(200, {"method": self.command, "path": path, "query": query, "body": body})
        return self._send(404, {"message": "not found"})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_one

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
