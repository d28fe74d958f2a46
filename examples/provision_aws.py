#!/usr/bin/env python3
"""Creates what examples/orders-aws.yaml calls, in a local moto_server: the `orders` SQS queue,
the `orders` DynamoDB table and the `fulfil-order` Step Functions state machine (a Pass state).
Idempotent; waits up to 60 s for the endpoint.

    .venv/bin/python examples/provision_aws.py --endpoint http://127.0.0.1:5000
"""
import argparse
import json
import time

import boto3
from botocore.exceptions import ClientError, EndpointConnectionError


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", default="http://127.0.0.1:5000")
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


if __name__ == "__main__":
    main()
