#!/usr/bin/env python3
"""Creates what examples/orders-aws.yaml calls, in a local moto_server: the `orders` SQS queue,
the `orders` DynamoDB table and the `fulfil-order` Step Functions state machine (a Pass state);
and a Cognito user pool (`quickstart-users`, user `alice`) whose tokens the orders API's `GET /me`
takes: with `--admin`, that route and its COGNITO_USER_POOLS authorizer are added to the
`orders-aws` API through Portico's management API and deployed (the pool's id is only known
now). Idempotent; waits up to 60 s for each endpoint.

    .venv/bin/python examples/provision_aws.py --endpoint http://127.0.0.1:5000 [--admin 127.0.0.1:9090]
"""
import argparse
import json
import time
import urllib.error
import urllib.request

import boto3
from botocore.exceptions import ClientError, EndpointConnectionError


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", default="http://127.0.0.1:5000")
    ap.add_argument("--admin", help="Portico's management listener: add GET /me to orders-aws")
    args = ap.parse_args()

    def client(service):
        return boto3.client(service, endpoint_url=args.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    sqs, ddb, sfn = client("sqs"), client("dynamodb"), client("stepfunctions")
    deadline = time.time() + 60
    while True:
        try:
            sqs.create_queue(QueueName="orders")
            break
        except EndpointConnectionError:
            if time.time() > deadline:
                raise SystemExit(f"provision_aws: nothing answers at {args.endpoint}")
            time.sleep(0.3)
    try:
        ddb.create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceInUseException":
            raise
    machines = sfn.list_state_machines()["stateMachines"]
    if not any(m["name"] == "fulfil-order" for m in machines):
        sfn.create_state_machine(
            name="fulfil-order", roleArn="arn:aws:iam::123456789012:role/fulfil",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}))
    print(f"provision_aws: queue, table and state machine ready at {args.endpoint}", flush=True)
    pool_arn, client_id = user_pool(client("cognito-idp"))
    print(f"provision_aws: user pool {pool_arn} (app client {client_id}, user alice / "
          f"{PASSWORD})", flush=True)
    if args.admin:
        add_me_route(args.admin, pool_arn)


PASSWORD = "Quickstart-Passw0rd!"


def user_pool(idp):
    """The `quickstart-users` pool with app client `quickstart-web` and user `alice`."""
    pools = idp.list_user_pools(MaxResults=60)["UserPools"]
    pool = next((p for p in pools if p["Name"] == "quickstart-users"), None)
    pool_id = pool["Id"] if pool else idp.create_user_pool(PoolName="quickstart-users")["UserPool"]["Id"]
    clients = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    web = next((c for c in clients if c["ClientName"] == "quickstart-web"), None)
    client_id = web["ClientId"] if web else idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="quickstart-web",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    try:
        idp.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": "alice@example.com"}])
    except idp.exceptions.UsernameExistsException:
        pass
    idp.admin_set_user_password(UserPoolId=pool_id, Username="alice", Password=PASSWORD, Permanent=True)
    arn = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Arn"]
    return arn, client_id


def portico(admin, method, path, body=None):
    req = urllib.request.Request(f"http://{admin}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def add_me_route(admin, pool_arn):
    """GET /me on orders-aws behind a COGNITO_USER_POOLS authorizer for `pool_arn`, deployed."""
    deadline = time.time() + 60
    while True:
        try:
            apis = portico(admin, "GET", "/restapis").get("item", [])
            api = next((a["id"] for a in apis if a["name"] == "orders-aws"), None)
            if api:
                break
        except (urllib.error.URLError, ConnectionError):
            pass
        if time.time() > deadline:
            raise SystemExit(f"provision_aws: no orders-aws API at {admin}")
        time.sleep(0.3)
    # moto starts empty each time: a pool id from an earlier run gets a new authorizer, and the
    # earlier one goes once no method uses it.
    authorizers = portico(admin, "GET", f"/restapis/{api}/authorizers").get("item", [])
    stale = [a["id"] for a in authorizers
             if a["name"] == "quickstart-users" and a.get("providerARNs") != [pool_arn]]
    auth = next((a["id"] for a in authorizers
                 if a["name"] == "quickstart-users" and a.get("providerARNs") == [pool_arn]), None)
    if auth is None:
        auth = portico(admin, "POST", f"/restapis/{api}/authorizers", {
            "name": "quickstart-users", "type": "COGNITO_USER_POOLS", "providerARNs": [pool_arn],
            "identitySource": "method.request.header.Authorization"})["id"]
    resources = portico(admin, "GET", f"/restapis/{api}/resources").get("item", [])
    me = next((r["id"] for r in resources if r["path"] == "/me"), None)
    if me is None:
        root = next(r["id"] for r in resources if r["path"] == "/")
        me = portico(admin, "POST", f"/restapis/{api}/resources/{root}", {"pathPart": "me"})["id"]
    base = f"/restapis/{api}/resources/{me}/methods/GET"
    portico(admin, "PUT", base, {"authorizationType": "COGNITO_USER_POOLS", "authorizerId": auth})
    portico(admin, "PUT", base + "/integration", {
        "type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}})
    portico(admin, "PUT", base + "/responses/200", {})
    portico(admin, "PUT", base + "/integration/responses/200", {"responseTemplates": {
        "application/json": '{"username": "$context.authorizer.claims[\'cognito:username\']", '
                            '"tokenUse": "$context.authorizer.claims.token_use"}'}})
    for old in stale:
        portico(admin, "DELETE", f"/restapis/{api}/authorizers/{old}")
    portico(admin, "POST", f"/restapis/{api}/deployments", {"stageName": "dev"})
    print(f"provision_aws: GET /me of orders-aws ({api}) takes the pool's ID tokens", flush=True)


if __name__ == "__main__":
    main()
