#!/usr/bin/env python3
"""Provisions the quick start's examples through Portico's management API (the same calls
`aws apigateway` and `aws lambda` make): the `hello` Lambda function (examples/functions/hello,
served from that directory), an API key with a known value, a usage plan for stage `dev`
(10 requests/s, burst 20, 1000 a day) holding it, the stage cache serving GET /clock for 10 s, and
the `authorizer` function that GET /me's Lambda TOKEN authorizer calls (examples/functions/authorizer),
and the HTTP API `petstore-http` (apigatewayv2): a quick-created `$default` route proxying to the
example backend, `GET /hello` to the `hello` function with payload 2.0, and native CORS for
https://example.com, on its auto-deployed `$default` stage; and the WebSocket API `chat`
(examples/websocket-chat, AWS's simple-websockets-chat-app): `$connect`, `$disconnect` and
`sendmessage` routes to the functions `chat-onconnect`, `chat-ondisconnect` and
`chat-sendmessage`, on its auto-deployed stage `dev`.

    python3 examples/provision.py [--admin 127.0.0.1:9090] [--stage dev] [--backend 127.0.0.1:8081]

Standard library only; waits up to 60 s for the management listener.
"""
import argparse
import json
import os
import tempfile
import time
import urllib.error
import urllib.request

KEY = "portico-quickstart-key-0123456789"
HELLO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "functions", "hello")
AUTHORIZER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "functions", "authorizer")
CHAT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "websocket-chat")


def call(admin, method, path, body=None):
    req = urllib.request.Request(f"http://{admin}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--admin", default="127.0.0.1:9090")
    ap.add_argument("--stage", default="dev")
    ap.add_argument("--backend", default="127.0.0.1:8081")
    args = ap.parse_args()
    deadline = time.time() + 60
    while True:
        try:
            apis = call(args.admin, "GET", "/restapis")["item"]
            api = next(a["id"] for a in apis if a["name"] == "petstore")
            break
        except (urllib.error.URLError, ConnectionError, StopIteration, KeyError):
            if time.time() > deadline:
                raise SystemExit("provision: the management API did not come up with the petstore API")
            time.sleep(0.3)
    # The Lambda function behind GET /hello: Portico's development form of CreateFunction serves a
    # local directory (`S3Bucket: hot-reload`, `S3Key`: the directory) instead of a zip.
    try:
        call(args.admin, "POST", "/2015-03-31/functions", {
            "FunctionName": "hello", "Runtime": "python3.12", "Handler": "index.handler",
            "Role": "arn:aws:iam::000000000000:role/quickstart",
            "Code": {"S3Bucket": "hot-reload", "S3Key": HELLO},
        })
    except urllib.error.HTTPError as e:
        if e.code != 409:  # ResourceConflictException: created by an earlier run
            raise
    keys = call(args.admin, "GET", "/apikeys?includeValues=true").get("item", [])
    key = next((k for k in keys if k.get("value") == KEY), None)
    if key is None:
        key = call(args.admin, "POST", "/apikeys",
                   {"name": "quickstart", "value": KEY, "enabled": True})
        plan = call(args.admin, "POST", "/usageplans", {
            "name": "quickstart",
            "apiStages": [{"apiId": api, "stage": args.stage}],
            "throttle": {"rateLimit": 10, "burstLimit": 20},
            "quota": {"limit": 1000, "period": "DAY"},
        })
        call(args.admin, "POST", f"/usageplans/{plan['id']}/keys",
             {"keyId": key["id"], "keyType": "API_KEY"})
    # The Lambda TOKEN authorizer of GET /me (examples/functions/authorizer).
    try:
        call(args.admin, "POST", "/2015-03-31/functions", {
            "FunctionName": "authorizer", "Runtime": "python3.12", "Handler": "index.handler",
            "Role": "arn:aws:iam::000000000000:role/quickstart",
            "Code": {"S3Bucket": "hot-reload", "S3Key": AUTHORIZER},
        })
    except urllib.error.HTTPError as e:
        if e.code != 409:
            raise
    call(args.admin, "PATCH", f"/restapis/{api}/stages/{args.stage}", {"patchOperations": [
        {"op": "replace", "path": "/cacheClusterEnabled", "value": "true"},
        {"op": "replace", "path": "/*/*/caching/enabled", "value": "false"},
        {"op": "replace", "path": "/~1clock/GET/caching/enabled", "value": "true"},
        {"op": "replace", "path": "/~1clock/GET/caching/ttlInSeconds", "value": "10"},
    ]})
    http_api = provision_http_api(args)
    print(f"portico: HTTP API petstore-http (id {http_api}): "
          f"curl -H 'Host: {http_api}.execute-api.localhost' http://127.0.0.1:8080/pets/1", flush=True)
    chat = provision_chat_api(args)
    print(f"portico: WebSocket API chat (id {chat}): .venv/bin/python -m websockets "
          f"ws://127.0.0.1:8080/restapis/{chat}/dev, then send "
          f"{{\"action\": \"sendmessage\", \"data\": \"hi\"}}", flush=True)
    print(f"portico: API key for /orders: {KEY} (usage plan: 10 rps, burst 20, 1000/day); "
          f"GET /clock is cached for 10 s; GET /hello runs the Lambda function hello; "
          f"GET /me takes 'Authorization: Bearer <name>' (a Lambda authorizer)", flush=True)


def provision_http_api(args):
    """The HTTP API example, created once (a re-run with a kept data directory finds it)."""
    apis = call(args.admin, "GET", "/v2/apis")["items"]
    existing = next((a for a in apis if a["name"] == "petstore-http"), None)
    if existing is not None:
        return existing["apiId"]
    api = call(args.admin, "POST", "/v2/apis", {
        "name": "petstore-http", "protocolType": "HTTP",
        # Quick create: a `$default` route to the backend and an auto-deployed `$default` stage.
        "target": f"http://{args.backend}",
        "corsConfiguration": {"allowOrigins": ["https://example.com"],
                              "allowMethods": ["GET", "POST"], "allowHeaders": ["content-type"],
                              "maxAge": 300},
    })["apiId"]
    hello = call(args.admin, "POST", f"/v2/apis/{api}/integrations", {
        "integrationType": "AWS_PROXY", "payloadFormatVersion": "2.0",
        "integrationUri": "arn:aws:lambda:us-east-1:000000000000:function:hello",
    })["integrationId"]
    call(args.admin, "POST", f"/v2/apis/{api}/routes",
         {"routeKey": "GET /hello", "target": f"integrations/{hello}"})
    return api


def provision_chat_api(args):
    """The WebSocket chat example (examples/websocket-chat): its three functions, served from that
    directory, and the API, each created once (a re-run with a kept data directory finds them)."""
    for name in ("onconnect", "ondisconnect", "sendmessage"):
        try:
            call(args.admin, "POST", "/2015-03-31/functions", {
                "FunctionName": f"chat-{name}", "Runtime": "python3.12",
                "Handler": f"{name}.handler", "Role": "arn:aws:iam::000000000000:role/quickstart",
                "Code": {"S3Bucket": "hot-reload", "S3Key": CHAT},
                # The connection store's directory (the handlers' default, made explicit), and
                # the credentials sendmessage signs its @connections calls with.
                "Environment": {"Variables": {
                    "CHAT_CONNECTIONS_DIR": os.path.join(tempfile.gettempdir(),
                                                         "portico-chat-connections"),
                    "AWS_SHARED_CREDENTIALS_FILE": os.path.join(CHAT, "credentials"),
                }},
            })
        except urllib.error.HTTPError as e:
            if e.code != 409:
                raise
    apis = call(args.admin, "GET", "/v2/apis")["items"]
    existing = next((a for a in apis if a["name"] == "chat"
                     and a.get("protocolType") == "WEBSOCKET"), None)
    if existing is not None:
        return existing["apiId"]
    api = call(args.admin, "POST", "/v2/apis", {
        "name": "chat", "protocolType": "WEBSOCKET",
        "routeSelectionExpression": "$request.body.action",
    })["apiId"]
    for route_key, name in (("$connect", "onconnect"), ("$disconnect", "ondisconnect"),
                            ("sendmessage", "sendmessage")):
        function = f"arn:aws:lambda:us-east-1:000000000000:function:chat-{name}"
        integration = call(args.admin, "POST", f"/v2/apis/{api}/integrations", {
            "integrationType": "AWS_PROXY",
            "integrationUri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                              f"{function}/invocations",
        })["integrationId"]
        call(args.admin, "POST", f"/v2/apis/{api}/routes",
             {"routeKey": route_key, "target": f"integrations/{integration}"})
    call(args.admin, "POST", f"/v2/apis/{api}/stages", {"stageName": "dev", "autoDeploy": True})
    return api


if __name__ == "__main__":
    main()
