"""The WebSocket API (apigatewayv2, protocolType WEBSOCKET) data plane, black-box: APIs built with
boto3's apigatewayv2 client on a Portico of this module's own (started with `--test-clock`, so the
idle timeout can be reached by moving the clock), clients speaking real WebSocket (`websockets`
15, asyncio API) to `ws://{apiId}.execute-api.localhost:{port}/{stage}` (host style; the TCP
connection goes to 127.0.0.1) or `ws://127.0.0.1:{port}/restapis/{apiId}/{stage}` (path style).

Lambda functions run on Portico's local runtime: one handler that writes every event it gets to
a file of its own under a temp directory (named `{eventType}-{connectionId}-….json`, so a test
reads what `$connect`, a message or `$disconnect` sent) and answers by what it got — a CONNECT
with `?status=N` answers `{"statusCode": N}`, `?mode=raise` raises; a message with
`"mode": "raise"` raises, any other message is answered with the whole event as `body` (what a
two-way route sends back) — and a REQUEST authorizer that decides by `?token=`
(`allow` / `deny` / `unauth`).

What AWS does, as the API Gateway developer guide ("WebSocket APIs": $connect, route selection,
two-way routes, @connections, quotas) and captured events (aws-lambda-go's
apigw-websocket-request*.json) describe it:
* `$connect` decides before the 101: no route → accepted; its Lambda's `statusCode` other than
  2xx refuses the handshake with that status; a failing Lambda → 502; a CUSTOM authorizer
  refuses with 401 (no identity, `Unauthorized`) or 403 (Deny).
* A message picks its route by the route selection expression, else `$default`, else the
  client gets a `Forbidden` frame and stays connected; a failing integration gives an
  `Internal server error` frame. Only routes with a `$default` route response answer.
* `@connections` posts to, describes and closes a connection; 410 GoneException for one that is
  not (or no longer) there, 413 for data over 128 KB.
* Frames over 32 KB and messages over 128 KB close with 1009, binary frames with 1003; 10 idle
  minutes close with 1001 "Going away".
* An upgrade request carries no body (one with `Content-Length` or `Transfer-Encoding` is 400);
  every refused upgrade answers `Connection: close`. A `$connect` `statusCode` that is no HTTP
  status (1xx, 600+, negative, not a number) is the integration's fault: 502; none at all is 200.
  `$connect` counts against the stage's throttle (429) with or without a `$connect` route.
* `AWS_IAM` on `$connect` and, with principals configured (`--aws-config`), every
  `@connections` call need a SigV4 signature (service `execute-api`) whose signer's policy
  allows the ARN (`{apiId}/{stage}/$connect`, `{apiId}/{stage}/{METHOD}/@connections/{id}`);
  else 403 (`ForbiddenException` for `@connections`).
* A connection queues at most 64 `@connections` frames for a client that does not read (more:
  429 `LimitExceededException`); a delete still closes it. Messages of one connection run side
  by side, their answers in the order sent.
"""
import asyncio
import datetime
import glob
import http.client
import io
import json
import os
import re
import socket
import stat
import tempfile
import threading
import time
import urllib.parse
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import Portico
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
RSE = "$request.body.action"
UA = "ws-invoke-test/1.0"
ID = r"[A-Za-z0-9_-]{15}="
TIME = r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000"

HANDLER = r"""
import json, os, uuid

def record(event, kind):
    rc = event.get("requestContext") or {}
    name = "%s-%s-%s.json" % (kind, rc.get("connectionId"), uuid.uuid4().hex)
    tmp = os.path.join(os.environ["LOG_DIR"], "." + name)
    with open(tmp, "w") as f:
        json.dump(event, f)
    os.rename(tmp, os.path.join(os.environ["LOG_DIR"], name))

def handler(event, context):
    rc = event["requestContext"]
    record(event, rc["eventType"])
    if rc["eventType"] == "CONNECT":
        q = event.get("queryStringParameters") or {}
        if q.get("mode") == "raise":
            raise RuntimeError("connect failed")
        return {"statusCode": int(q.get("status", "200"))}
    if rc["eventType"] == "MESSAGE":
        try:
            msg = json.loads(event["body"])
        except ValueError:
            msg = None
        if isinstance(msg, dict) and msg.get("mode") == "raise":
            raise RuntimeError("boom")
        return {"statusCode": 200, "body": json.dumps(event)}
    return {"statusCode": 200}
"""

AUTHORIZER = r"""
import json, os, uuid

def handler(event, context):
    rc = event.get("requestContext") or {}
    name = "AUTH-%s-%s.json" % (rc.get("connectionId"), uuid.uuid4().hex)
    tmp = os.path.join(os.environ["LOG_DIR"], "." + name)
    with open(tmp, "w") as f:
        json.dump(event, f)
    os.rename(tmp, os.path.join(os.environ["LOG_DIR"], name))
    tok = (event.get("queryStringParameters") or {}).get("token", "")
    if tok == "unauth":
        raise Exception("Unauthorized")
    effect = "Allow" if tok == "allow" else "Deny"
    return {"principalId": "user-42", "context": {"user": "alice", "n": 7},
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}
"""


ANSWERS = r"""
import json, time

def handler(event, context):
    rc = event["requestContext"]
    if rc["eventType"] == "CONNECT":
        q = event.get("queryStringParameters") or {}
        if "answer" in q:
            return json.loads(q["answer"])
        return {"statusCode": 200}
    if rc["eventType"] == "MESSAGE":
        msg = json.loads(event["body"])
        time.sleep(msg.get("sleep", 0))
        return {"statusCode": 200, "body": event["body"] + "~" * msg.get("grow", 0)}
    return {"statusCode": 200}
"""


# ---------------------------------------------------------------------------------------------
# A real HTTP backend for HTTP_PROXY: answers with what it got as JSON.

class Backend:
    def __init__(self):
        self.hits = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                backend.hits.append((self.command, self.path, body))
                out = json.dumps({"backend": True, "method": self.command, "path": self.path,
                                  "body": body}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


# ---------------------------------------------------------------------------------------------
# The gateway, the functions, the APIs.

def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o644 | stat.S_IFREG) << 16
            z.writestr(info, data)
    return buf.getvalue()


def client(p, service, endpoint=None):
    return boto3.client(service, endpoint_url=endpoint or f"http://{p.admin}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}))


def lambda_uri(name):
    return ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}/invocations")


@pytest.fixture(scope="module")
def portico():
    """This module's own gateway, with `--test-clock` (the session one has none)."""
    p = Portico(extra=("--access-log", "off", "--test-clock"))
    yield p
    p.stop()


class Env:
    """The module's functions and APIs:
    * `main`: `$connect`, `$disconnect`, `$default` (two-way), `echo` (two-way), `oneway`, `half`
      (route response selection `$default` but no route response) on the handler; `mock` (MOCK,
      two-way); `http` (HTTP_PROXY, two-way). Stages `prod` (variables) and `dev` (none).
    * `bare`: only a one-way MOCK route `only` — no `$connect`, no `$default`.
    * `auth`: `$connect` behind the REQUEST authorizer (`?token=`), `$default` two-way.
    * `throttled`: a one-way MOCK `$default`, the stage throttled to burst 1, rate 1."""

    def __init__(self, p):
        self.p = p
        self.port = int(p.data_plane.rsplit(":", 1)[1])
        self.dir = tempfile.mkdtemp(prefix="ws-invoke-")
        self.v2, self.lam = client(p, "apigatewayv2"), client(p, "lambda")
        self.backend = Backend()
        self.functions, self.apis = [], []
        self.clock_ms = 0  # how far the test clock has been moved
        self.handler = self.function("handler", HANDLER)
        self.authorizer = self.function("authz", AUTHORIZER)
        self.main = self.build_main()
        self.bare = self.build_bare()
        self.auth = self.build_auth()
        self.throttled = self.build_throttled()
        for api in (self.main, self.bare, self.auth, self.throttled):
            self.wait_served(api, "prod")
        self.wait_served(self.main, "dev")

    def function(self, label, code):
        name = f"ws-{label}-{uuid.uuid4().hex[:8]}"
        self.lam.create_function(FunctionName=name, Runtime="python3.12", Handler="index.handler",
                                 Role=ROLE, Code={"ZipFile": zip_of({"index.py": code})},
                                 Environment={"Variables": {"LOG_DIR": self.dir}})
        self.functions.append(name)
        return name

    def api(self, label):
        api = self.v2.create_api(Name=f"ws-{label}", ProtocolType="WEBSOCKET",
                                 RouteSelectionExpression=RSE)["ApiId"]
        self.apis.append(api)
        return api

    def route(self, api, key, integration, two_way=False, rrse=None, **kw):
        r = self.v2.create_route(ApiId=api, RouteKey=key, Target=f"integrations/{integration}",
                                 **({"RouteResponseSelectionExpression": "$default"}
                                    if two_way or rrse else {}), **kw)
        if two_way:
            self.v2.create_route_response(ApiId=api, RouteId=r["RouteId"], RouteResponseKey="$default")

    def lambda_integration(self, api, fn):
        return self.v2.create_integration(ApiId=api, IntegrationType="AWS_PROXY",
                                          IntegrationUri=lambda_uri(fn))["IntegrationId"]

    def mock_integration(self, api, response_template=None):
        i = self.v2.create_integration(ApiId=api, IntegrationType="MOCK",
                                       RequestTemplates={"$default": '{"statusCode":200}'},
                                       TemplateSelectionExpression="\\$default")["IntegrationId"]
        if response_template:
            self.v2.create_integration_response(ApiId=api, IntegrationId=i,
                                                IntegrationResponseKey="$default",
                                                ResponseTemplates={"$default": response_template},
                                                TemplateSelectionExpression="\\$default")
        return i

    def deploy(self, api, stages):
        d = self.v2.create_deployment(ApiId=api)["DeploymentId"]
        for name, kw in stages.items():
            self.v2.create_stage(ApiId=api, StageName=name, DeploymentId=d, **kw)

    def build_main(self):
        api = self.api("main")
        lam = self.lambda_integration(api, self.handler)
        self.route(api, "$connect", lam)
        self.route(api, "$disconnect", lam)
        self.route(api, "$default", lam, two_way=True)
        self.route(api, "echo", lam, two_way=True)
        self.route(api, "oneway", lam)
        self.route(api, "half", lam, rrse=True)
        self.route(api, "mock", self.mock_integration(api, '{"got": $input.body}'), two_way=True)
        http_i = self.v2.create_integration(ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="POST",
                                            IntegrationUri=f"{self.backend.url}/ws-backend")["IntegrationId"]
        self.route(api, "http", http_i, two_way=True)
        self.deploy(api, {"prod": {"StageVariables": {"color": "blue"}}, "dev": {}})
        return api

    def build_bare(self):
        api = self.api("bare")
        self.route(api, "only", self.mock_integration(api))
        self.deploy(api, {"prod": {}})
        return api

    def build_auth(self):
        api = self.api("auth")
        aid = self.v2.create_authorizer(ApiId=api, Name="tok", AuthorizerType="REQUEST",
                                        AuthorizerUri=lambda_uri(self.authorizer),
                                        IdentitySource=["route.request.querystring.token"],
                                        AuthorizerResultTtlInSeconds=0)["AuthorizerId"]
        lam = self.lambda_integration(api, self.handler)
        self.route(api, "$connect", lam, AuthorizationType="CUSTOM", AuthorizerId=aid)
        self.route(api, "$default", lam, two_way=True)
        self.deploy(api, {"prod": {}})
        return api

    def build_throttled(self):
        api = self.api("throttled")
        self.route(api, "$default", self.mock_integration(api))
        self.deploy(api, {"prod": {"DefaultRouteSettings": {"ThrottlingBurstLimit": 1,
                                                            "ThrottlingRateLimit": 1.0}}})
        return api

    def wait_served(self, api, stage):
        """Until the data plane serves the stage (a plain GET is 426 there, 403 before)."""
        deadline = time.time() + 15
        while time.time() < deadline:
            if http_get(self.p.data_plane, f"/restapis/{api}/{stage}")[0] == 426:
                return
            time.sleep(0.05)
        raise AssertionError(f"{api}/{stage} not served")

    def events(self, kind, conn_id, count=1, timeout=10):
        """The events of `kind` (CONNECT, MESSAGE, DISCONNECT, AUTH) the functions got for
        `conn_id`, once at least `count` are there."""
        deadline = time.time() + timeout
        while True:
            files = glob.glob(os.path.join(self.dir, f"{kind}-{conn_id}-*.json"))
            if len(files) >= count or time.time() > deadline:
                out = []
                for f in files:
                    with open(f) as fh:
                        out.append(json.load(fh))
                return out
            time.sleep(0.05)

    def mgmt(self, api, stage="prod"):
        """boto3 `apigatewaymanagementapi` on the path-style endpoint (`*.localhost` names do not
        resolve here)."""
        return client(self.p, "apigatewaymanagementapi",
                      endpoint=f"http://{self.p.data_plane}/restapis/{api}/{stage}")

    def close(self):
        self.backend.server.shutdown()
        for api in self.apis:
            self.v2.delete_api(ApiId=api)
        for name in self.functions:
            self.lam.delete_function(FunctionName=name)


@pytest.fixture(scope="module")
def env(portico):
    e = Env(portico)
    yield e
    e.close()


@pytest.fixture(scope="module")
def answers(env):
    """An API on the `answers` function: `$connect` answers the JSON of `?answer=` as it is
    (else `{"statusCode": 200}`); `$default` (two-way) waits the message's `sleep` seconds and
    sends the message's text back, followed by `grow` tildes."""
    fn = env.function("answers", ANSWERS)
    api = env.api("answers")
    lam = env.lambda_integration(api, fn)
    env.route(api, "$connect", lam)
    env.route(api, "$default", lam, two_way=True)
    env.deploy(api, {"prod": {}})
    env.wait_served(api, "prod")
    return api


# ---------------------------------------------------------------------------------------------
# Clients.

def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def http_get(addr, path, headers=(), host=None, method="GET"):
    """A plain HTTP request to `addr` (host:port), Host `host` (default `addr`); (status,
    headers, body)."""
    conn = http.client.HTTPConnection(addr, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host or addr)
        for k, v in headers:
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.headers, r.read()
    finally:
        conn.close()


def ws_host(env, api):
    """The Host header a host-style client sends (the URI's host and port)."""
    return f"{api}.execute-api.localhost:{env.port}"


def upgrade_headers(key="dGhlIHNhbXBsZSBub25jZQ==", version="13"):
    return [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", version)]


def ws_open(env, api, stage="prod", query="", host_style=True, **kw):
    """`connect(...)` (awaitable, or an async context manager) to `api`'s `stage`."""
    q = f"?{query}" if query else ""
    if host_style:
        uri = f"ws://{api}.execute-api.localhost:{env.port}/{stage}{q}"
        kw.update(host="127.0.0.1", port=env.port)
    else:
        uri = f"ws://{env.p.data_plane}/restapis/{api}/{stage}{q}"
    return connect(uri, proxy=None, compression=None, ping_interval=None, open_timeout=15,
                   close_timeout=5, user_agent_header=UA, max_size=None, **kw)


async def recv(ws, timeout=10):
    return await asyncio.wait_for(ws.recv(), timeout)


async def nothing_within(ws, seconds):
    """True when no frame arrives within `seconds`."""
    try:
        got = await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        return True
    raise AssertionError(f"unexpected frame {got!r}")


async def whoami(ws, **extra):
    """Sends an `echo` message and answers the MESSAGE event the two-way route sent back."""
    await ws.send(json.dumps({"action": "echo", **extra}))
    return json.loads(await recv(ws))


async def closed_with(ws, timeout=10):
    """The close code and reason the server sent (reading and dropping frames until then)."""
    async def wait():
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None, e.rcvd.reason if e.rcvd else None
    return await asyncio.wait_for(wait(), timeout)


async def refused(env, api, **kw):
    """The HTTP status a refused handshake answered with."""
    with pytest.raises(InvalidStatus) as e:
        async with ws_open(env, api, **kw):
            pass
    return e.value.response.status_code


def error_frame(frame, message, conn_id=None):
    """Asserts `frame` is AWS's error frame (its spacing exactly) and answers its ids."""
    m = re.fullmatch(r'\{"message": "%s", "connectionId":"(%s)", "requestId":"(%s)"\}'
                     % (re.escape(message), ID, ID), frame)
    assert m, frame
    if conn_id is not None:
        assert m.group(1) == conn_id
    return m.group(1), m.group(2)


def clf(epoch_s):
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_s))


async def handshake_status(env, api, **kw):
    """101 when the handshake is accepted, else the HTTP status it was refused with."""
    try:
        async with ws_open(env, api, **kw):
            return 101
    except InvalidStatus as e:
        return e.response.status_code


def raw_http(addr, request, timeout=10):
    """Sends `request` (bytes) on a fresh TCP connection to `addr`; (status, headers (lower-case
    name → list of values), body, closed). `closed`: the server ended the connection after its
    answer (not checked after a 101)."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(request)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError(f"connection ended before a response head: {buf!r}")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        if status == 101:
            return status, headers, rest, None
        length = int(headers.get("content-length", ["0"])[0])
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        body, extra = rest[:length], rest[length:]
        s.settimeout(5)
        try:
            closed = not extra and s.recv(65536) == b""
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            closed = False
        return status, headers, body, closed


def raw_upgrade(addr, path, host=None, extra=(), body=b"", version="13"):
    """An upgrade request (GET, Upgrade, Connection, a valid key, `version`) with `extra` header
    lines and `body` bytes after the head, as raw bytes; what `raw_http` answers."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host or addr}", "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
             f"Sec-WebSocket-Version: {version}", *(f"{k}: {v}" for k, v in extra)]
    return raw_http(addr, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def connection_close(headers):
    """Whether a `raw_http` header map carries `Connection: close`."""
    return any(t.strip().lower() == "close"
               for v in headers.get("connection", []) for t in v.split(","))


def small_socket(env, rcvbuf=4096):
    """A TCP socket connected to the data plane with a small receive buffer (so a client that
    does not read pushes back on the server soon), for `ws_open(..., host_style=False, sock=…)`."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", env.port))
    return s


# ---------------------------------------------------------------------------------------------
# 1. Addressing and the handshake.

def test_host_and_path_style_addressing(env):
    """Both addresses reach the same stage; domainName is the Host the client sent. (AWS's
    endpoints have no port, so its domainName never has one; Portico keeps the port the client
    connected to, so that `https://{domainName}/{stage}` is where a handler calls back.)"""
    async def go():
        async with ws_open(env, env.main) as ws:
            e = await whoami(ws)
            rc = e["requestContext"]
            assert (rc["apiId"], rc["stage"]) == (env.main, "prod")
            assert rc["domainName"] == ws_host(env, env.main)
        async with ws_open(env, env.main, host_style=False) as ws:
            rc = (await whoami(ws))["requestContext"]
            assert (rc["apiId"], rc["stage"]) == (env.main, "prod")
            assert rc["domainName"] == env.p.data_plane
    run(go())


def test_handshake_refusals(env):
    """Plain GET without Upgrade → 426; a malformed Sec-WebSocket-Key → 400; version 12 → 426;
    anything after the stage path → 403 (host and path style)."""
    host = f"{env.main}.execute-api.localhost"
    assert http_get(env.p.data_plane, "/prod", host=host)[0] == 426
    assert http_get(env.p.data_plane, f"/restapis/{env.main}/prod")[0] == 426
    assert http_get(env.p.data_plane, "/prod", upgrade_headers(key="short"), host=host)[0] == 400
    assert http_get(env.p.data_plane, "/prod", upgrade_headers(version="12"), host=host)[0] == 426
    assert http_get(env.p.data_plane, "/prod/x", upgrade_headers(), host=host)[0] == 403
    assert http_get(env.p.data_plane, f"/restapis/{env.main}/prod/x", upgrade_headers())[0] == 403

    async def go():
        assert await refused(env, env.main, stage="prod/x") == 403
        assert await refused(env, env.main, stage="prod/x", host_style=False) == 403
    run(go())


def test_no_connect_route_accepts(env):
    """An API without `$connect` accepts every handshake."""
    async def go():
        for host_style in (True, False):
            async with ws_open(env, env.bare, host_style=host_style) as ws:
                await ws.send(json.dumps({"action": "only"}))
                assert await nothing_within(ws, 0.5)
    run(go())


def test_connect_lambda_decides(env):
    """`$connect`'s statusCode 200 accepts; any other refuses the handshake with that status; a
    function that raises → 502."""
    async def go():
        async with ws_open(env, env.main, query="status=200") as ws:
            assert (await whoami(ws))["requestContext"]["routeKey"] == "echo"
        for status in (401, 403, 500):
            assert await refused(env, env.main, query=f"status={status}") == status
        assert await refused(env, env.main, query="mode=raise") == 502
    run(go())


def test_upgrade_with_a_body_is_400_and_closes(env):
    """An upgrade request that carries a body (`Content-Length: 5` and 5 bytes, or a chunked
    one) → 400 with `Connection: close`, and the connection ends: the bytes after the head are
    never taken for WebSocket frames."""
    path = f"/restapis/{env.main}/prod"
    got = {}
    for name, extra, body in (("content-length", [("Content-Length", "5")], b"hello"),
                              ("chunked", [("Transfer-Encoding", "chunked")],
                               b"5\r\nhello\r\n0\r\n\r\n")):
        status, headers, _, closed = raw_upgrade(env.p.data_plane, path, extra=extra, body=body)
        got[name] = (status, connection_close(headers), closed)
    assert got == {"content-length": (400, True, True), "chunked": (400, True, True)}


def test_refused_upgrades_close_the_connection(env):
    """Every refused upgrade carries `Connection: close` and ends the connection: a wrong
    Sec-WebSocket-Version (426), a malformed key (400), a path past the stage (403), `$connect`
    refusing (its status) — both address styles."""
    dp = env.p.data_plane
    host = f"{env.main}.execute-api.localhost"
    cases = {
        "version": (426, raw_upgrade(dp, "/prod", host=host, version="12")),
        "version-path-style": (426, raw_upgrade(dp, f"/restapis/{env.main}/prod", version="8")),
        "key": (400, raw_http(dp, (f"GET /prod HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                                   "Connection: Upgrade\r\nSec-WebSocket-Key: short\r\n"
                                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())),
        "path": (403, raw_upgrade(dp, "/prod/x", host=host)),
        "connect-403": (403, raw_upgrade(dp, "/prod?status=403", host=host)),
    }
    got = {k: (r[0], connection_close(r[1]), r[3]) for k, (_, r) in cases.items()}
    assert got == {k: (want, True, True) for k, (want, _) in cases.items()}


def test_connect_status_that_is_no_status_is_502(env, answers):
    """`$connect`'s function answering a `statusCode` that is no HTTP status — 101, 700, -1,
    "abc", 65736 (which would wrap onto 200 as a 16-bit number) — refuses the handshake with 502."""
    async def go():
        out = {}
        for code in (101, 700, -1, "abc", 65736):
            answer = urllib.parse.quote(json.dumps({"statusCode": code}))
            out[repr(code)] = await handshake_status(env, answers, query=f"answer={answer}")
        return out
    got = run(go())
    assert got == {k: 502 for k in got}


def test_connect_without_status_accepts(env, answers):
    """`$connect`'s function answering no `statusCode` (`{}`, `{"statusCode": null}`, or a null
    payload): the handshake is accepted (200), and the connection serves messages."""
    async def go():
        out = {}
        for payload in ({}, {"statusCode": None}, None):
            query = "answer=" + urllib.parse.quote(json.dumps(payload))
            try:
                async with ws_open(env, answers, query=query) as ws:
                    await ws.send(json.dumps({"n": 1}))
                    out[json.dumps(payload)] = json.loads(await recv(ws))
            except InvalidStatus as e:
                out[json.dumps(payload)] = e.response.status_code
        return out
    got = run(go())
    assert got == {k: {"n": 1} for k in got}


# ---------------------------------------------------------------------------------------------
# 2. The Lambda events.

def test_connect_event(env):
    """The CONNECT event: title-case headers without Connection/Upgrade, multiValueHeaders, the
    query string both ways, stageVariables, and the request context of the connection."""
    before = int(time.time() * 1000) + env.clock_ms

    async def go():
        async with ws_open(env, env.main, query="a=1&a=2&b=3",
                           additional_headers=[("X-Multi", "one"), ("X-Multi", "two")]) as ws:
            return await whoami(ws)
    msg = run(go())
    after = int(time.time() * 1000) + env.clock_ms
    conn_id = msg["requestContext"]["connectionId"]
    [e] = env.events("CONNECT", conn_id)

    h = e["headers"]
    assert re.fullmatch(r"[A-Za-z0-9+/]{22}==", h["Sec-WebSocket-Key"])
    assert h["Sec-WebSocket-Version"] == "13"
    assert h["Host"] == ws_host(env, env.main)
    assert h["User-Agent"] == UA
    for hop in ("Connection", "Upgrade", "connection", "upgrade"):
        assert hop not in h, hop
    assert e["multiValueHeaders"]["X-Multi"] == ["one", "two"]
    assert e["multiValueHeaders"]["Sec-WebSocket-Key"] == [h["Sec-WebSocket-Key"]]
    assert e["queryStringParameters"] == {"a": "2", "b": "3"}
    assert e["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["3"]}
    assert e["stageVariables"] == {"color": "blue"}
    assert e["isBase64Encoded"] is False
    assert "body" not in e

    rc = e["requestContext"]
    assert rc["routeKey"] == "$connect" and rc["eventType"] == "CONNECT"
    assert rc["messageDirection"] == "IN" and rc["stage"] == "prod" and rc["apiId"] == env.main
    assert rc["domainName"] == h["Host"]
    assert rc["connectionId"] == conn_id and re.fullmatch(ID, conn_id)
    assert re.fullmatch(ID, rc["requestId"]) and rc["extendedRequestId"] == rc["requestId"]
    assert isinstance(rc["connectedAt"], int) and before - 1000 <= rc["connectedAt"] <= after + 1000
    assert isinstance(rc["requestTimeEpoch"], int) and before - 1000 <= rc["requestTimeEpoch"] <= after + 1000
    assert re.fullmatch(TIME, rc["requestTime"]) and rc["requestTime"] == clf(rc["requestTimeEpoch"] // 1000)
    assert rc["identity"]["sourceIp"] == "127.0.0.1" and rc["identity"]["userAgent"] == UA
    assert "messageId" not in rc and "authorizer" not in rc and "disconnectStatusCode" not in rc


def test_connect_event_leaves_out_empty_parts(env):
    """No query string → no query keys; a stage without variables → no stageVariables key."""
    async def go():
        async with ws_open(env, env.main, stage="dev") as ws:
            return await whoami(ws)
    msg = run(go())
    assert msg["requestContext"]["stage"] == "dev" and "stageVariables" not in msg
    [e] = env.events("CONNECT", msg["requestContext"]["connectionId"])
    for absent in ("queryStringParameters", "multiValueQueryStringParameters", "stageVariables"):
        assert absent not in e, absent


def test_message_event(env):
    """The MESSAGE event: no headers or query, the frame's text as body, the matched route key, a
    messageId, and the connection's id and connectedAt."""
    text = json.dumps({"action": "echo", "n": [1, 2]}, separators=(",", ":")) + " "

    async def go():
        async with ws_open(env, env.main, query="q=1") as ws:
            await ws.send(text)
            first = json.loads(await recv(ws))
            second = await whoami(ws)
            return first, second
    e, again = run(go())
    for absent in ("headers", "multiValueHeaders", "queryStringParameters",
                   "multiValueQueryStringParameters"):
        assert absent not in e, absent
    assert e["body"] == text and e["isBase64Encoded"] is False
    assert e["stageVariables"] == {"color": "blue"}
    rc = e["requestContext"]
    assert rc["routeKey"] == "echo" and rc["eventType"] == "MESSAGE" and rc["messageDirection"] == "IN"
    assert re.fullmatch(ID, rc["messageId"]) and re.fullmatch(ID, rc["requestId"])
    assert rc["extendedRequestId"] == rc["requestId"]
    assert re.fullmatch(TIME, rc["requestTime"])
    assert rc["identity"] == {"sourceIp": "127.0.0.1", "userAgent": UA}
    [connect_event] = env.events("CONNECT", rc["connectionId"])
    assert connect_event["requestContext"]["connectedAt"] == rc["connectedAt"]
    rc2 = again["requestContext"]
    assert rc2["connectionId"] == rc["connectionId"] and rc2["connectedAt"] == rc["connectedAt"]
    assert rc2["messageId"] != rc["messageId"] and rc2["requestId"] != rc["requestId"]


def test_disconnect_event(env):
    """`$disconnect` runs after the client closes: the fixed headers, the close code and reason."""
    async def go():
        ws = await ws_open(env, env.main)
        e = await whoami(ws)
        await ws.close(code=1000, reason="bye")
        return e["requestContext"]["connectionId"]
    conn_id = run(go())
    [e] = env.events("DISCONNECT", conn_id)
    domain = ws_host(env, env.main)
    assert e["headers"] == {"Host": domain, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    assert e["multiValueHeaders"] == {"Host": [domain], "x-api-key": [""], "X-Forwarded-For": [""],
                                      "x-restapi": [""]}
    assert "body" not in e and "queryStringParameters" not in e
    assert e["isBase64Encoded"] is False
    rc = e["requestContext"]
    assert rc["routeKey"] == "$disconnect" and rc["eventType"] == "DISCONNECT"
    assert rc["disconnectStatusCode"] == 1000 and isinstance(rc["disconnectReason"], str)
    assert rc["connectionId"] == conn_id and rc["apiId"] == env.main and rc["stage"] == "prod"
    assert "messageId" not in rc


# ---------------------------------------------------------------------------------------------
# 3. Routing and answers.

def test_route_selection_falls_back_to_default(env):
    """An unknown key, JSON without the key, and text that is not JSON go to `$default`."""
    async def go():
        async with ws_open(env, env.main) as ws:
            out = []
            for text in (json.dumps({"action": "nosuchroute"}), json.dumps({"other": 1}),
                         "not json at all", json.dumps({"action": "echo"})):
                await ws.send(text)
                e = json.loads(await recv(ws))
                assert e["body"] == text
                out.append(e["requestContext"]["routeKey"])
            return out
    assert run(go()) == ["$default", "$default", "$default", "echo"]


def test_no_route_is_a_forbidden_frame(env):
    """No matching route and no `$default`: a `Forbidden` frame (AWS's spacing), the connection
    stays open and the next message is answered the same way."""
    async def go():
        async with ws_open(env, env.bare) as ws:
            frames = []
            for text in (json.dumps({"action": "nope"}), "not json"):
                await ws.send(text)
                frames.append(await recv(ws))
            await ws.send(json.dumps({"action": "only"}))
            assert await nothing_within(ws, 0.5)
            return frames
    (c1, r1), (c2, r2) = [error_frame(f, "Forbidden") for f in run(go())]
    assert c1 == c2 and r1 != r2


def test_failing_integration_is_an_error_frame(env):
    """A function that raises: an `Internal server error` frame naming the connection; the
    connection stays open."""
    async def go():
        async with ws_open(env, env.main) as ws:
            conn_id = (await whoami(ws))["requestContext"]["connectionId"]
            await ws.send(json.dumps({"action": "echo", "mode": "raise"}))
            error_frame(await recv(ws), "Internal server error", conn_id)
            assert (await whoami(ws))["requestContext"]["connectionId"] == conn_id
    run(go())


def test_one_way_routes_send_nothing(env):
    """A route without a `$default` route response (with or without the route response selection
    expression) runs its integration but sends nothing back."""
    async def go():
        async with ws_open(env, env.main) as ws:
            conn_id = (await whoami(ws))["requestContext"]["connectionId"]
            for key in ("oneway", "half"):
                await ws.send(json.dumps({"action": key}))
            assert await nothing_within(ws, 1.0)
            return conn_id
    conn_id = run(go())
    keys = sorted(e["requestContext"]["routeKey"] for e in env.events("MESSAGE", conn_id, count=3))
    assert keys == ["echo", "half", "oneway"]


def test_mock_two_way(env):
    """MOCK: the request template `{"statusCode":200}`, the `$default` integration response's
    template `{"got": $input.body}` over it is what the client gets."""
    async def go():
        async with ws_open(env, env.main) as ws:
            await ws.send(json.dumps({"action": "mock", "x": 1}))
            return await recv(ws)
    assert json.loads(run(go())) == {"got": {"statusCode": 200}}


def test_http_proxy_two_way(env):
    """HTTP_PROXY: the message is the backend request's body; its response body comes back."""
    text = json.dumps({"action": "http", "payload": "hello"})

    async def go():
        async with ws_open(env, env.main) as ws:
            await ws.send(text)
            return json.loads(await recv(ws))
    got = run(go())
    assert got == {"backend": True, "method": "POST", "path": "/ws-backend", "body": text}


def test_fragmented_message_under_the_limit(env):
    """A 60 KB message sent as 20 KB fragments (each frame under 32 KB) is one message."""
    pad = "x" * 60_000

    async def go():
        async with ws_open(env, env.main) as ws:
            text = json.dumps({"action": "echo", "pad": pad})
            await ws.send([text[i:i + 20_000] for i in range(0, len(text), 20_000)])
            e = json.loads(await recv(ws))
            return text, e
    text, e = run(go())
    assert e["body"] == text and e["requestContext"]["routeKey"] == "echo"


# ---------------------------------------------------------------------------------------------
# 4. The $connect authorizer.

def test_authorizer_refusals(env):
    """No identity source → 401; Deny → 403; the function throwing `Unauthorized` → 401."""
    async def go():
        assert await refused(env, env.auth) == 401
        assert await refused(env, env.auth, query="other=1") == 401
        assert await refused(env, env.auth, query="token=deny") == 403
        assert await refused(env, env.auth, query="token=unauth") == 401
    run(go())


def allowed_message(env):
    """Connects with `?token=allow`, sends "hello" to the two-way `$default`; its MESSAGE event."""
    async def go():
        async with ws_open(env, env.auth, query="token=allow") as ws:
            await ws.send("hello")
            return json.loads(await recv(ws))
    return run(go())


def test_authorizer_allows_with_a_request_event(env):
    """Allow: connected. The authorizer got a REQUEST event: methodArn of the stage's
    `$connect`, the upgrade request's headers and query, the connection's request context."""
    e = allowed_message(env)
    rc = e["requestContext"]
    assert rc["routeKey"] == "$default" and e["body"] == "hello"
    conn_id = rc["connectionId"]
    [a] = env.events("AUTH", conn_id)
    assert a["type"] == "REQUEST"
    assert a["methodArn"] == f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{env.auth}/prod/$connect"
    assert a["queryStringParameters"] == {"token": "allow"}
    assert a["headers"]["User-Agent"] == UA and "Sec-WebSocket-Key" in a["headers"]
    arc = a["requestContext"]
    assert arc["routeKey"] == "$connect" and arc["eventType"] == "CONNECT"
    assert arc["connectionId"] == conn_id and arc["apiId"] == env.auth and arc["stage"] == "prod"
    assert arc["identity"]["sourceIp"] == "127.0.0.1"


def test_authorizer_context_in_later_events(env):
    """The authorizer's `context`, with its `principalId`, is `requestContext.authorizer` of the
    `$connect` event and of every message event — flat, as in REST-style (1.0) events:
    `{"principalId": "user-42", "user": "alice", "n": …}` (the developer guide's WebSocket
    `$context.authorizer.<key>`; captures show no `lambda` wrapper, which is the HTTP API 2.0
    shape)."""
    e = allowed_message(env)
    rc = e["requestContext"]
    auth = rc["authorizer"]
    if "principalId" not in auth and isinstance(auth.get("lambda"), dict):
        pytest.xfail("server bug: the WebSocket authorizer context is nested under "
                     "requestContext.authorizer.lambda (HTTP API 2.0 shape), AWS's WebSocket "
                     f"events carry it flat; got {auth!r}")
    assert auth["principalId"] == "user-42" and auth["user"] == "alice"
    assert str(auth["n"]) == "7"
    [connect_event] = env.events("CONNECT", rc["connectionId"])
    c_auth = connect_event["requestContext"]["authorizer"]
    assert c_auth["principalId"] == "user-42" and c_auth["user"] == "alice"


# ---------------------------------------------------------------------------------------------
# 5. @connections.

def test_post_and_get_connection(env):
    """post_to_connection → 200 and a text frame; get_connection → connectedAt, lastActiveAt,
    identity; the host-style address with `%40connections` and `%3D` works too."""
    mgmt = env.mgmt(env.main)

    async def go():
        async with ws_open(env, env.main) as ws:
            e = await whoami(ws)
            conn_id = e["requestContext"]["connectionId"]
            r = mgmt.post_to_connection(ConnectionId=conn_id, Data=b"pushed data")
            assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
            assert await recv(ws) == "pushed data"

            info = mgmt.get_connection(ConnectionId=conn_id)
            assert info["ResponseMetadata"]["HTTPStatusCode"] == 200
            connected = info["ConnectedAt"]
            assert isinstance(connected, datetime.datetime)
            assert round(connected.timestamp() * 1000) == e["requestContext"]["connectedAt"]
            assert info["LastActiveAt"] >= connected
            assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": UA}

            host = f"{env.main}.execute-api.localhost"
            quoted = conn_id.replace("=", "%3D")
            conn = http.client.HTTPConnection(env.p.data_plane, timeout=10)
            try:
                for path in (f"/prod/@connections/{conn_id}", f"/prod/%40connections/{quoted}"):
                    conn.request("POST", path, body=path.encode(), headers={"Host": host})
                    resp = conn.getresponse()
                    resp.read()
                    assert resp.status == 200, path
                    assert await recv(ws) == path
                conn.request("GET", f"/restapis/{env.main}/prod/%40connections/{quoted}",
                             headers={"Host": env.p.data_plane})
                resp = conn.getresponse()
                assert resp.status == 200
                assert json.loads(resp.read())["identity"]["sourceIp"] == "127.0.0.1"
            finally:
                conn.close()
    run(go())


def test_delete_connection(env):
    """delete_connection → 204 and the client sees a close; afterwards the id is 410 Gone for
    post, get and delete."""
    mgmt = env.mgmt(env.main)

    async def go():
        async with ws_open(env, env.main) as ws:
            conn_id = (await whoami(ws))["requestContext"]["connectionId"]
            r = mgmt.delete_connection(ConnectionId=conn_id)
            assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
            code, _ = await closed_with(ws, 5)
            assert code is not None
            return conn_id
    conn_id = run(go())
    time.sleep(0.2)
    for call in (lambda: mgmt.post_to_connection(ConnectionId=conn_id, Data=b"x"),
                 lambda: mgmt.get_connection(ConnectionId=conn_id),
                 lambda: mgmt.delete_connection(ConnectionId=conn_id)):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "GoneException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def test_gone_for_unknown_and_foreign_connections(env):
    """An id nobody holds, and a live connection asked for through another stage or another API,
    are 410 GoneException; the connection is not touched."""
    async def go():
        async with ws_open(env, env.main) as ws:
            conn_id = (await whoami(ws))["requestContext"]["connectionId"]
            for mgmt, cid in ((env.mgmt(env.main), "AAAAAAAAAAAAAAA="),
                              (env.mgmt(env.main, "dev"), conn_id),
                              (env.mgmt(env.bare), conn_id)):
                with pytest.raises(ClientError) as e:
                    mgmt.post_to_connection(ConnectionId=cid, Data=b"x")
                assert e.value.response["Error"]["Code"] == "GoneException"
                assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
            assert await nothing_within(ws, 0.3)
            assert (await whoami(ws))["requestContext"]["connectionId"] == conn_id
    run(go())


def test_post_over_128_kb_is_413(env):
    """Data over 128 KB → 413 PayloadTooLargeException; exactly 128 KB is delivered."""
    mgmt = env.mgmt(env.main)

    async def go():
        async with ws_open(env, env.main) as ws:
            conn_id = (await whoami(ws))["requestContext"]["connectionId"]
            with pytest.raises(ClientError) as e:
                mgmt.post_to_connection(ConnectionId=conn_id, Data=b"y" * (128 * 1024 + 1))
            assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
            assert e.value.response["Error"]["Code"] == "PayloadTooLargeException"
            mgmt.post_to_connection(ConnectionId=conn_id, Data=b"z" * (128 * 1024))
            assert await recv(ws) == "z" * (128 * 1024)
    run(go())


def test_flood_to_a_client_that_does_not_read(env):
    """Posts of 64 KB to a client that does not read (its receive buffer small): once the
    socket's buffers are full and 64 frames wait, posts are 429 LimitExceededException (the
    kernel's send buffer takes a few MB first, so posts go on until the first 429, and ten
    more); a delete is still 204 and the client sees the close (the close does not wait behind
    the full queue). What the client got before the close is accepted posts, in order."""
    def flood(conn_id):
        conn = http.client.HTTPConnection(env.p.data_plane, timeout=15)
        target = f"/restapis/{env.main}/prod/@connections/{conn_id}"
        out, more = [], None
        try:
            for i in range(600):
                data = (f"{i:04d}:" + "f" * 65536).encode()
                conn.request("POST", target, body=data)
                r = conn.getresponse()
                r.read()
                out.append((data.decode(), r.status, r.headers.get("x-amzn-ErrorType")))
                if r.status != 200 and more is None:
                    more = 10
                if more is not None:
                    more -= 1
                    if more < 0:
                        break
            conn.request("DELETE", target)
            r = conn.getresponse()
            r.read()
            return out, r.status
        finally:
            conn.close()

    async def go():
        async with ws_open(env, env.main, host_style=False, sock=small_socket(env),
                           max_queue=1) as ws:
            conn_id = (await whoami(ws))["requestContext"]["connectionId"]
            posts, deleted = await asyncio.to_thread(flood, conn_id)
            t0 = time.monotonic()
            frames, code = [], None
            try:
                while True:
                    frames.append(await asyncio.wait_for(ws.recv(), 10))
            except ConnectionClosed as e:
                code = e.rcvd.code if e.rcvd else None
            return posts, deleted, frames, code, time.monotonic() - t0
    posts, deleted, frames, code, took = run(go())
    statuses = [st for _, st, _ in posts]
    assert set(statuses) <= {200, 429}, statuses
    refused = [(st, et) for _, st, et in posts if st == 429]
    assert refused and set(refused) == {(429, "LimitExceededException")}, statuses
    assert deleted == 204
    assert code is not None and took < 10
    accepted = [d for d, st, _ in posts if st == 200]
    assert frames == accepted[:len(frames)]


# ---------------------------------------------------------------------------------------------
# 6. Limits.

def test_message_over_128_kb_closes_1009(env):
    """A message of 128 KB + 1 (in frames under 32 KB) closes with 1009; so does one 33 KB frame."""
    async def go():
        async with ws_open(env, env.main) as ws:
            text = "a" * (128 * 1024 + 1)
            await ws.send([text[i:i + 30_000] for i in range(0, len(text), 30_000)])
            assert (await closed_with(ws))[0] == 1009
        async with ws_open(env, env.main) as ws:
            await ws.send("b" * (33 * 1024))
            assert (await closed_with(ws))[0] == 1009
    run(go())


def test_binary_frame_closes_1003(env):
    async def go():
        async with ws_open(env, env.main) as ws:
            await whoami(ws)
            await ws.send(b"\x00\x01binary")
            assert (await closed_with(ws))[0] == 1003
    run(go())


def test_ping_is_answered(env):
    async def go():
        async with ws_open(env, env.main) as ws:
            for _ in range(2):
                pong = await ws.ping(b"are-you-there")
                await asyncio.wait_for(pong, 5)
            await whoami(ws)
    run(go())


def test_stage_throttling_per_message(env):
    """DefaultRouteSettings burst 1: a quick run of messages gets `Too Many Requests` frames for
    those over the limit; the connection stays open."""
    async def go():
        async with ws_open(env, env.throttled) as ws:
            for i in range(5):
                await ws.send(json.dumps({"n": i}))
            frames = []
            try:
                while True:
                    frames.append(await asyncio.wait_for(ws.recv(), 1.0))
            except asyncio.TimeoutError:
                pass
            return frames
    frames = run(go())
    assert 3 <= len(frames) <= 4, frames
    ids = {error_frame(f, "Too Many Requests")[0] for f in frames}
    assert len(ids) == 1


def test_many_messages_in_flight_answer_in_order(env, answers):
    """50 messages sent at once to a two-way route whose function takes 0.3 s: all 50 answers
    arrive, in the order sent; they ran side by side (well under the 15 s one after another
    would take); the connection still answers a ping."""
    sent = [json.dumps({"seq": i, "sleep": 0.3}) for i in range(50)]

    async def go():
        async with ws_open(env, answers) as ws:
            t0 = time.monotonic()
            for text in sent:
                await ws.send(text)
            got = [await recv(ws, 20) for _ in sent]
            took = time.monotonic() - t0
            pong = await ws.ping(b"still-there")
            await asyncio.wait_for(pong, 5)
            return got, took
    got, took = run(go())
    assert [json.loads(g)["seq"] for g in got] == list(range(50))
    assert got == sent
    assert took < 10, took


def test_client_that_does_not_read_for_a_while(env, answers):
    """A client that sends 80 messages of 16 KB, each answered with about 116 KB (9 MB in all,
    more than the sockets buffer, so the server's writes and then its in-flight slots fill),
    without reading for two seconds (its receive buffer small): nothing deadlocks — once it
    reads, every answer arrives, in order, its sends complete, and it answers a ping."""
    pad, grow = "p" * 16_000, 100_000
    sent = [json.dumps({"seq": i, "pad": pad, "grow": grow}) for i in range(80)]

    async def go():
        async with ws_open(env, answers, host_style=False, sock=small_socket(env),
                           max_queue=1) as ws:
            async def send_all():
                for text in sent:
                    await ws.send(text)
            sender = asyncio.create_task(send_all())
            await asyncio.sleep(2)
            got = [await recv(ws, 20) for _ in sent]
            await asyncio.wait_for(sender, 10)
            pong = await ws.ping(b"still-there")
            await asyncio.wait_for(pong, 5)
            return got
    got = run(go())
    assert [json.loads(g.rstrip("~"))["seq"] for g in got] == list(range(80))
    assert got == [text + "~" * grow for text in sent]


def test_connect_throttled_without_a_connect_route(env):
    """An API without `$connect`, its stage's DefaultRouteSettings burst 1, rate 1: new
    connections count against that throttle, so of six quick handshakes the first is accepted
    and some are refused with 429."""
    api = env.api("connect-throttled")
    env.route(api, "$default", env.mock_integration(api))
    env.deploy(api, {"prod": {"DefaultRouteSettings": {"ThrottlingBurstLimit": 1,
                                                       "ThrottlingRateLimit": 1.0}}})
    env.wait_served(api, "prod")
    statuses = [raw_upgrade(env.p.data_plane, f"/restapis/{api}/prod")[0] for _ in range(6)]
    assert statuses[0] == 101, statuses
    assert 429 in statuses and set(statuses) <= {101, 429}, statuses


def test_idle_connection_closed_1001(env, portico):
    """Ten idle minutes (the test clock moved by 601 s) close the connection with 1001 "Going
    away" within about two seconds; `$disconnect` sees 1001. (Last: it moves the clock.)"""
    async def go():
        async with ws_open(env, env.main) as ws:
            conn_id = (await whoami(ws))["requestContext"]["connectionId"]
            await asyncio.sleep(0.2)
            status, _, body = await asyncio.to_thread(
                http_get, portico.admin, "/_portico/clock?advance=601", [("Content-Length", "0")], None, "POST")
            assert status == 200, body
            env.clock_ms += 601_000
            t0 = time.monotonic()
            code, reason = await closed_with(ws, 5)
            assert time.monotonic() - t0 < 3.5
            assert (code, reason) == (1001, "Going away")
            return conn_id
    conn_id = run(go())
    [e] = env.events("DISCONNECT", conn_id)
    assert e["requestContext"]["disconnectStatusCode"] == 1001


# ---------------------------------------------------------------------------------------------
# 7. AWS_IAM: a gateway of its own, with principals (`--aws-config`).

CONNECTOR = ("AKIAWSCONNECTOR00001", "connector-secret", f"arn:aws:iam::{ACCOUNT}:user/connector")
ADMIN = ("AKIAWSADMIN000000001", "admin-secret", f"arn:aws:iam::{ACCOUNT}:user/admin")
DENIED = ("AKIAWSDENIED00000001", "denied-secret", f"arn:aws:iam::{ACCOUNT}:user/denied")
MANAGER = ("AKIAWSMANAGER0000001", "manager-secret", f"arn:aws:iam::{ACCOUNT}:user/manager")


class IamEnv(Env):
    """One API, `iam`: `$connect` (MOCK) with `AuthorizationType: AWS_IAM`, `$default` (MOCK,
    two-way: `{"id": connectionId}`), stage `prod`. It is
    made on a first gateway, which then stops; a second one on the same data directory starts
    with an `--aws-config` whose principals name the API's id:
    * CONNECTOR may invoke `{api}/prod/$connect` (and nothing else);
    * ADMIN may invoke only `*/*/GET/admin`;
    * DENIED may invoke `*` but is denied `{api}/prod/$connect`;
    * MANAGER may invoke only `*/*/*/@connections/*`."""

    def __init__(self):
        first = Portico()
        self.p, self.v2, self.apis = first, client(first, "apigatewayv2"), []
        self.api_id = self.api("iam")
        self.route(self.api_id, "$connect", self.mock_integration(self.api_id),
                   AuthorizationType="AWS_IAM")
        self.route(self.api_id, "$default",
                   self.mock_integration(self.api_id, '{"id": "$context.connectionId"}'),
                   two_way=True)
        self.deploy(self.api_id, {"prod": {}})
        first.stop()
        self.config = os.path.join(tempfile.mkdtemp(prefix="ws-iam-"), "aws.yaml")
        connect_arn = f"arn:aws:execute-api:*:*:{self.api_id}/prod/$connect"
        with open(self.config, "w") as f:
            f.write(
                "principals:\n"
                f"  {CONNECTOR[0]}:\n    secretAccessKey: {CONNECTOR[1]}\n    arn: {CONNECTOR[2]}\n"
                f"    invoke: ['{connect_arn}']\n"
                f"  {ADMIN[0]}:\n    secretAccessKey: {ADMIN[1]}\n    arn: {ADMIN[2]}\n"
                "    invoke: ['arn:aws:execute-api:*:*:*/*/GET/admin']\n"
                f"  {DENIED[0]}:\n    secretAccessKey: {DENIED[1]}\n    arn: {DENIED[2]}\n"
                f"    invoke: ['*']\n    deny: ['{connect_arn}']\n"
                f"  {MANAGER[0]}:\n    secretAccessKey: {MANAGER[1]}\n    arn: {MANAGER[2]}\n"
                "    invoke: ['arn:aws:execute-api:*:*:*/*/*/@connections/*']\n")
        self.p = Portico(extra=("--access-log", "off", "--aws-config", self.config),
                         data_dir=first.data)
        self.port = int(self.p.data_plane.rsplit(":", 1)[1])
        self.wait_served(self.api_id, "prod")

    def path(self):
        return f"/restapis/{self.api_id}/prod"

    def signed(self, who, method="GET", path=None, body=b""):
        """The headers SigV4 (service `execute-api`, us-east-1) adds for `who`'s request."""
        req = AWSRequest(method=method, url=f"http://{self.p.data_plane}{path or self.path()}",
                         data=body)
        SigV4Auth(Credentials(who[0], who[1]), "execute-api", "us-east-1").add_auth(req)
        return [(k, v) for k, v in req.headers.items()]

    def mgmt(self, who=None):
        """`apigatewaymanagementapi` signed by `who` (unsigned without)."""
        key, secret = (who[0], who[1]) if who else ("unused", "unused")
        cfg = Config(retries={"max_attempts": 1},
                     **({} if who else {"signature_version": UNSIGNED}))
        return boto3.client("apigatewaymanagementapi",
                            endpoint_url=f"http://{self.p.data_plane}{self.path()}",
                            region_name="us-east-1", aws_access_key_id=key,
                            aws_secret_access_key=secret, config=cfg)


@pytest.fixture(scope="module")
def iam():
    e = IamEnv()
    yield e
    e.p.stop()


def iam_open(iam, who):
    """A WebSocket client to the `iam` API (path style), its upgrade signed by `who`."""
    return connect(f"ws://{iam.p.data_plane}{iam.path()}", proxy=None, compression=None,
                   ping_interval=None, open_timeout=15, close_timeout=5, user_agent_header=UA,
                   additional_headers=iam.signed(who))


def test_iam_connect(iam):
    """`$connect` with AWS_IAM: unsigned → 403; signed by a principal allowed
    `{api}/prod/$connect` → 101; signed by one allowed only `*/*/GET/admin` → 403; by one
    allowed everything but denied this `$connect` → 403; a wrong secret → 403. Each refusal
    answers `Connection: close`."""
    dp = iam.p.data_plane
    got = {
        "unsigned": raw_upgrade(dp, iam.path()),
        "connector": raw_upgrade(dp, iam.path(), extra=iam.signed(CONNECTOR)),
        "admin-only": raw_upgrade(dp, iam.path(), extra=iam.signed(ADMIN)),
        "explicit-deny": raw_upgrade(dp, iam.path(), extra=iam.signed(DENIED)),
        "wrong-secret": raw_upgrade(dp, iam.path(), extra=iam.signed((CONNECTOR[0], "nope"))),
    }
    statuses = {k: r[0] for k, r in got.items()}
    assert statuses == {"unsigned": 403, "connector": 101, "admin-only": 403,
                        "explicit-deny": 403, "wrong-secret": 403}
    for k, r in got.items():
        if r[0] != 101:
            assert connection_close(r[1]) and r[3], k

    async def go():
        async with iam_open(iam, CONNECTOR) as ws:
            await asyncio.wait_for(await ws.ping(), 5)
    run(go())


def test_iam_connections_api(iam):
    """With principals configured, `@connections` calls must be signed: unsigned → 403
    ForbiddenException; signed by a principal allowed `*/*/*/@connections/*` → 200 and the
    frame arrives; signed by one without (allowed only `$connect`) → 403; a signed call for an
    id nobody holds → 410 GoneException."""
    async def go():
        async with iam_open(iam, CONNECTOR) as ws:
            await ws.send("who am i")
            conn_id = json.loads(await recv(ws))["id"]
            assert re.fullmatch(ID, conn_id), conn_id
            return await calls(ws, conn_id)

    async def calls(ws, conn_id):
        out = {}
        for name, who in (("unsigned", None), ("connector", CONNECTOR), ("manager", MANAGER)):
            try:
                r = await asyncio.to_thread(iam.mgmt(who).post_to_connection,
                                            ConnectionId=conn_id, Data=f"from {name}".encode())
                out[name] = (r["ResponseMetadata"]["HTTPStatusCode"], None)
            except ClientError as e:
                out[name] = (e.response["ResponseMetadata"]["HTTPStatusCode"],
                             e.response["Error"]["Code"])
        out["frame"] = await recv(ws, 5)
        assert await nothing_within(ws, 0.3)
        try:
            await asyncio.to_thread(iam.mgmt(MANAGER).post_to_connection,
                                    ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")
            out["unknown"] = (200, None)
        except ClientError as e:
            out["unknown"] = (e.response["ResponseMetadata"]["HTTPStatusCode"],
                              e.response["Error"]["Code"])
        return out
    assert run(go()) == {"unsigned": (403, "ForbiddenException"),
                         "connector": (403, "ForbiddenException"),
                         "manager": (200, None), "frame": "from manager",
                         "unknown": (410, "GoneException")}
