"""Shared toolkit of the traffic-control tests: a boto3 client for a `Portico`, a plain HTTP
client for the data plane, a real recording backend, and builders for MOCK and HTTP_PROXY
methods."""
import gzip
import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import boto3
from botocore.config import Config


def client(portico):
    return boto3.client(
        "apigateway",
        endpoint_url=f"http://{portico.admin}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


class Reply:
    """A data-plane answer: status, headers (lower-cased names, last value wins), body bytes."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def error_type(self):
        return self.headers.get("x-amzn-errortype")

    def __repr__(self):
        return f"Reply({self.status}, {self.headers}, {self.body[:200]!r})"


class Http:
    """One keep-alive connection to a listener (`host:port`); reconnects when the server closes."""

    def __init__(self, address):
        self.address = address
        self.conn = None

    def request(self, method, target, headers=None, body=None):
        for attempt in range(2):
            if self.conn is None:
                host, port = self.address.rsplit(":", 1)
                self.conn = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                self.conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                hdrs = {"Host": self.address, **(headers or {})}
                if body is not None:
                    hdrs["Content-Length"] = str(len(body))
                for k, v in hdrs.items():
                    self.conn.putheader(k, v)
                self.conn.endheaders(body)
                r = self.conn.getresponse()
                data = r.read()
                if r.will_close:
                    self.conn.close()
                    self.conn = None
                return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()


class DataPlane(Http):
    """Requests to `/restapis/{api}/{stage}/_user_request_{path}` of a Portico."""

    def __init__(self, portico):
        super().__init__(portico.data_plane)

    def call(self, api_id, stage, path, method="GET", headers=None, body=None):
        return self.request(method, f"/restapis/{api_id}/{stage}/_user_request_{path}", headers, body)


class Backend:
    """A real HTTP/1.1 backend on 127.0.0.1:0 that reflects the request (method, path, query,
    headers, body) as JSON with a per-path hit count; some paths shape the answer:

    * `/gzip...`: gzip-encoded when the request accepts gzip;
    * `/setcookie...`: a `Set-Cookie` header; `/varystar...`: `Vary: *`;
    * `/status/NNN`: that status;
    * `/blob/N...`: an N-byte body (`x` padding after the reflection)."""

    def __init__(self):
        self.hits = {}
        self.lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                with backend.lock:
                    backend.hits[url.path] = n = backend.hits.get(url.path, 0) + 1
                reflected = {
                    "hit": n, "method": self.command, "path": url.path,
                    "query": dict(parse_qsl(url.query, keep_blank_values=True)),
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("latin-1"),
                }
                out = json.dumps(reflected).encode()
                status, extra = 200, {}
                if url.path.startswith("/blob/"):
                    size = int(url.path.split("/")[2])
                    out = out + b" " * max(0, size - len(out))
                if url.path.startswith("/status/"):
                    status = int(url.path.split("/")[2])
                if url.path.startswith("/setcookie"):
                    extra["Set-Cookie"] = "session=attacker; Path=/"
                if url.path.startswith("/varystar"):
                    extra["Vary"] = "*"
                if url.path.startswith("/gzip") and "gzip" in self.headers.get("Accept-Encoding", ""):
                    out = gzip.compress(out)
                    extra["Content-Encoding"] = "gzip"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, path):
        with self.lock:
            return self.hits.get(path, 0)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def new_api(apigw, name, **kw):
    api_id = apigw.create_rest_api(name=name, **kw)["id"]
    return api_id, apigw.get_resources(restApiId=api_id)["items"][0]["id"]


def resource(apigw, api_id, parent, path_part):
    return apigw.create_resource(restApiId=api_id, parentId=parent, pathPart=path_part)["id"]


def mock_method(apigw, api_id, res, method="GET", template='{"ok":true}', api_key=False):
    """A MOCK method answering 200 with `template` (VTL, application/json)."""
    apigw.put_method(restApiId=api_id, resourceId=res, httpMethod=method, authorizationType="NONE",
                     apiKeyRequired=api_key)
    apigw.put_integration(restApiId=api_id, resourceId=res, httpMethod=method, type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_method_response(restApiId=api_id, resourceId=res, httpMethod=method, statusCode="200")
    apigw.put_integration_response(restApiId=api_id, resourceId=res, httpMethod=method, statusCode="200",
                                   responseTemplates={"application/json": template})


def proxy_method(apigw, api_id, res, uri, method="GET", params=(), cache_keys=(), api_key=False):
    """An HTTP_PROXY method to `uri`; `params` are method request parameters
    (`path.proxy`, `querystring.id`, ...) mapped to the same integration parameter."""
    apigw.put_method(restApiId=api_id, resourceId=res, httpMethod=method, authorizationType="NONE",
                     apiKeyRequired=api_key,
                     requestParameters={f"method.request.{p}": p.startswith("path.") for p in params})
    apigw.put_integration(
        restApiId=api_id, resourceId=res, httpMethod=method, type="HTTP_PROXY",
        integrationHttpMethod=method, uri=uri,
        requestParameters={f"integration.request.{p}": f"method.request.{p}" for p in params},
        cacheKeyParameters=[f"method.request.{p}" for p in cache_keys])


def patch(op_path, value, op="replace"):
    return {"op": op, "path": op_path, "value": str(value)}


def wait_until(what, predicate, timeout=5.0, every=0.05):
    """Polls `predicate` until it returns a truthy value (returned) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


FORBIDDEN = (403, {"message": "Forbidden"}, "ForbiddenException")
THROTTLED = (429, {"message": "Too Many Requests"}, "TooManyRequestsException")
QUOTA = (429, {"message": "Limit Exceeded"}, "LimitExceededException")


def refusal(reply):
    """(status, JSON body, x-amzn-ErrorType) of a gateway refusal."""
    return reply.status, reply.json, reply.error_type
