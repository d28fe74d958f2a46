"""The quick start's Lambda TOKEN authorizer (python3.12, handler `index.handler`): the token
`Bearer <name>` is allowed to call the API as `<name>`, except `Bearer mallory` (an explicit
Deny); anything else raises `Unauthorized` (401)."""


def handler(event, context):
    token = event.get("authorizationToken", "")
    if not token.startswith("Bearer ") or len(token) <= len("Bearer "):
        raise Exception("Unauthorized")
    name = token[len("Bearer "):]
    api_arn = event["methodArn"].split("/")[0]
    return {
        "principalId": name,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Action": "execute-api:Invoke",
                "Effect": "Deny" if name == "mallory" else "Allow",
                "Resource": f"{api_arn}/*",
            }],
        },
        "context": {"name": name, "scope": "quickstart"},
    }
