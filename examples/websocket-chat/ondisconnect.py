"""$disconnect (handler `ondisconnect.handler`): forgets the closed connection. Best effort, as on
AWS: sendmessage also drops ids whose connection is gone."""
import connections


def handler(event, context):
    connections.remove(event["requestContext"]["connectionId"])
    return {"statusCode": 200, "body": "Disconnected."}
