"""WebSocket APIs over TLS (`wss://`): the HTTPS listener's HTTP/1.1 path upgrades like the plain
one, the session runs over the decrypted stream, and a two-way route answers."""
import asyncio
import json
import os
import ssl
import time

import boto3
import pytest
from websockets.asyncio.client import connect


@pytest.fixture(scope="module")
def echo_api(portico):
    c = boto3.client("apigatewayv2", endpoint_url=f"http://{portico.admin}", region_name="us-east-1",
                     aws_access_key_id="test", aws_secret_access_key="test")
    api = c.create_api(Name="wss-echo", ProtocolType="WEBSOCKET",
                       RouteSelectionExpression="$request.body.action")["ApiId"]
    i = c.create_integration(ApiId=api, IntegrationType="MOCK")["IntegrationId"]
    c.create_integration_response(ApiId=api, IntegrationId=i, IntegrationResponseKey="$default")
    r = c.create_route(ApiId=api, RouteKey="$default", Target=f"integrations/{i}",
                       RouteResponseSelectionExpression="$default")["RouteId"]
    c.create_route_response(ApiId=api, RouteId=r, RouteResponseKey="$default")
    c.create_stage(ApiId=api, StageName="tls", AutoDeploy=True)
    time.sleep(0.5)
    yield api
    c.delete_api(ApiId=api)


def test_wss_upgrade_and_echo(portico, echo_api):
    assert portico.https, "the session's Portico has a TLS listener"
    host, port = portico.https.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=os.path.join(portico.data, "tls", "ca.pem"))
    # HTTP/1.1 only: the upgrade is an HTTP/1.1 mechanism (AWS's endpoints too).
    ctx.set_alpn_protocols(["http/1.1"])

    async def scenario():
        deadline = time.time() + 10
        while True:
            try:
                ws = await connect(f"wss://localhost:{port}/restapis/{echo_api}/tls", ssl=ctx,
                                   host=host, port=int(port), open_timeout=5)
                break
            except Exception:
                assert time.time() < deadline, "the WebSocket API was never served over TLS"
                await asyncio.sleep(0.2)
        async with ws:
            await ws.send(json.dumps({"action": "anything", "n": 1}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"action": "anything", "n": 1}
            pong = await ws.ping()
            await asyncio.wait_for(pong, 5)

    asyncio.run(scenario())
