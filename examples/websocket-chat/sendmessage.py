"""The `sendmessage` route (handler `sendmessage.handler`), for messages like
{"action": "sendmessage", "data": "hello"}: posts `data` to every stored connection, the sender
included, through the @connections API, and drops the ids whose connection is gone (410).

Needs boto3 importable by the machine's python3 (Lambda's Python runtime ships it) and
credentials from boto3's usual chain: Portico gives functions none of its own, so the example's
functions set AWS_SHARED_CREDENTIALS_FILE (see README.md)."""
import json

import boto3

import connections


def handler(event, context):
    ctx = event["requestContext"]
    # Where to call @connections back: the host the client connected to, and the stage. On AWS
    # that is https://{domainName}/{stage}; Portico's domainName is the Host the client sent
    # (port included) and its data plane speaks plain HTTP unless --tls-listen is used.
    api = boto3.client("apigatewaymanagementapi",
                       endpoint_url=f"http://{ctx['domainName']}/{ctx['stage']}")
    data = json.loads(event.get("body") or "{}").get("data", "")
    if not isinstance(data, str):
        data = json.dumps(data)
    for connection_id in connections.all_ids():
        try:
            api.post_to_connection(ConnectionId=connection_id, Data=data)
        except api.exceptions.GoneException:
            # A stale connection (its $disconnect never ran, or has not yet): forget it.
            print(f"Found stale connection, deleting {connection_id}")
            connections.remove(connection_id)
    return {"statusCode": 200, "body": "Data sent."}
