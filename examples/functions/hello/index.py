"""The quick start's Lambda handler (python3.12, handler `index.handler`): an unmodified Lambda
proxy handler, run by Portico's local runtime with no Docker. It answers REST API events
(payload 1.0) and HTTP API events (payload 2.0, `rawPath`) alike."""
import json
import os


def handler(event, context):
    name = (event.get("queryStringParameters") or {}).get("name", "world")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({
            "message": f"hello, {name}",
            "function": context.function_name,
            "requestId": context.aws_request_id,
            "path": event.get("path") or event.get("rawPath"),
            "payloadVersion": event.get("version", "1.0"),
            "stage": event["requestContext"]["stage"],
            "runtime": os.environ.get("AWS_EXECUTION_ENV"),
        }),
    }
