"""The WebSocket chat example (examples/websocket-chat, AWS's simple-websockets-chat-app),
black-box: its three Python handlers, zipped and created through the Lambda API, behind a
WebSocket API made with boto3's apigatewayv2 client, run by Portico's local Lambda runtime, and
real `websockets` clients. The handlers call `@connections` back with boto3, signed with the
quick start's example principal, which this server is configured with (as the quick start is),
and share a connection store directory that the test reads to learn the connection ids."""
import asyncio
import io
import json
import os
import shutil
import stat
import sys
import tempfile
import time
import uuid
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import ROOT, Portico
from websockets.asyncio.client import connect

CHAT = os.path.join(ROOT, "examples", "websocket-chat")
ROLE = "arn:aws:iam::000000000000:role/lambda-role"
# The example principal of examples/portico-aws.yaml (examples/websocket-chat/credentials).
KEY, SECRET = "AKIAPORTICOEXAMPLE01", "portico-example-secret-do-not-use"
TIMEOUT = 10


@pytest.fixture(scope="module")
def server():
    """A Portico with the quick start's principals (so `@connections` calls must be signed).
    Handlers run under the `python3` found on PATH: this interpreter's directory comes first, so
    they find boto3 as on Lambda's Python runtime."""
    p = Portico(extra=("--access-log", "off",
                       "--aws-config", os.path.join(ROOT, "examples", "portico-aws.yaml")),
                env={"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]})
    yield p
    p.stop()


def client(service, endpoint, key="test", secret="test"):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}))


def example_zip():
    """The example's handler files, zipped as a Lambda deployment package."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(os.listdir(CHAT)):
            if name.endswith(".py"):
                info = zipfile.ZipInfo(name)
                info.external_attr = (0o644 | stat.S_IFREG) << 16
                with open(os.path.join(CHAT, name), "rb") as f:
                    z.writestr(info, f.read())
    return buf.getvalue()


@pytest.fixture(scope="module")
def chat(server):
    """The chat API (as examples/provision.py makes it, from a zip instead of the directory) on
    the auto-deployed stage `dev`; yields (api id, connection store directory)."""
    store = tempfile.mkdtemp(prefix="portico-chat-test-")
    lam = client("lambda", f"http://{server.admin}")
    v2 = client("apigatewayv2", f"http://{server.admin}")
    code = example_zip()
    suffix = uuid.uuid4().hex[:6]
    api = v2.create_api(Name="chat", ProtocolType="WEBSOCKET",
                        RouteSelectionExpression="$request.body.action")["ApiId"]
    for route_key, name in (("$connect", "onconnect"), ("$disconnect", "ondisconnect"),
                            ("sendmessage", "sendmessage")):
        fn = f"chat-{name}-{suffix}"
        lam.create_function(
            FunctionName=fn, Runtime="python3.12", Handler=f"{name}.handler", Role=ROLE,
            Code={"ZipFile": code},
            Environment={"Variables": {
                "CHAT_CONNECTIONS_DIR": store,
                "AWS_SHARED_CREDENTIALS_FILE": os.path.join(CHAT, "credentials"),
            }})
        uri = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
               f"arn:aws:lambda:us-east-1:000000000000:function:{fn}/invocations")
        integration = v2.create_integration(ApiId=api, IntegrationType="AWS_PROXY",
                                            IntegrationUri=uri)["IntegrationId"]
        v2.create_route(ApiId=api, RouteKey=route_key, Target=f"integrations/{integration}")
    v2.create_stage(ApiId=api, StageName="dev", AutoDeploy=True)
    yield api, store
    v2.delete_api(ApiId=api)
    shutil.rmtree(store, ignore_errors=True)


def stored(store):
    return set(os.listdir(store))


async def until(predicate, what):
    """Polls `predicate` for up to TIMEOUT seconds."""
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), TIMEOUT)


def test_chat(server, chat):
    """Two clients chat; one leaves; stale ids are dropped; @connections answers for the rest."""
    api, store = chat
    url = f"ws://{server.data_plane}/restapis/{api}/dev"
    # Where the handlers call back (`http://{domainName}/{stage}`, domainName being the Host the
    # client sent), and the path-style form of the same endpoint.
    managers = [client("apigatewaymanagementapi", e, KEY, SECRET)
                for e in (f"http://{server.data_plane}/dev",
                          f"http://{server.data_plane}/restapis/{api}/dev")]

    async def scenario():
        # $connect runs (and stores the id) before the handshake completes.
        async with connect(url, open_timeout=TIMEOUT) as a:
            (a_id,) = stored(store)
            async with connect(url, open_timeout=TIMEOUT) as b:
                (b_id,) = stored(store) - {a_id}
                await a.send(json.dumps({"action": "sendmessage", "data": "hello"}))
                assert await recv(a) == "hello"
                assert await recv(b) == "hello"
            # B is gone, and so is the connection of a stale id (one whose $disconnect never
            # ran, e.g. from before a restart): both answer 410 GoneException at either endpoint.
            stale = "Stale0123456789="
            open(os.path.join(store, stale), "w").close()
            for m in managers:
                for gone in (b_id, stale):
                    with pytest.raises(ClientError) as e:
                        m.post_to_connection(ConnectionId=gone, Data=b"anyone?")
                    err = e.value.response
                    assert (err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]) \
                        == (410, "GoneException"), (m.meta.endpoint_url, gone, err)
                conn = m.get_connection(ConnectionId=a_id)
                assert conn["Identity"]["SourceIp"] == "127.0.0.1"
                assert conn["ConnectedAt"] <= conn["LastActiveAt"]
                m.post_to_connection(ConnectionId=a_id, Data=b"direct")
                assert await recv(a) == "direct"
            # A still chats; sendmessage drops the ids that answer GoneException (B's, unless its
            # $disconnect already did, and the stale one).
            await a.send(json.dumps({"action": "sendmessage", "data": "again"}))
            assert await recv(a) == "again"
            await until(lambda: stored(store) == {a_id}, "B's and the stale id to be dropped")
        # A's $disconnect empties the store.
        await until(lambda: not stored(store), "A's $disconnect")

    asyncio.run(asyncio.wait_for(scenario(), 35))
