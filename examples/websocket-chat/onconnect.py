"""$connect (handler `onconnect.handler`): stores the new connection's id. Returning 200 accepts
the connection; anything else would refuse the WebSocket handshake."""
import connections


def handler(event, context):
    connections.add(event["requestContext"]["connectionId"])
    return {"statusCode": 200, "body": "Connected."}
