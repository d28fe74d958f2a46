"""`AWS` service integrations through the data plane, black-box, against a real local implementation
of each service: `moto_server` (moto[server] from PyPI: SQS, SNS, DynamoDB, Step Functions, Kinesis
and S3 on one port, no Docker). APIs are created with boto3's apigateway client; what the services
received is read back with boto3. The signature Portico puts on a request is checked against
botocore's signer for the same request."""
import base64
import hashlib
import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.config import Config

from conftest import ROOT, Portico

ROLE = "arn:aws:iam::123456789012:role/apigw-services"
ACCOUNT = "123456789012"
MOTO = os.path.join(ROOT, ".venv", "bin", "moto_server")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """A `moto_server` on a free loopback port, stopped by `stop()`; `env` e.g. turns IAM
    authentication on."""

    def __init__(self, env=None):
        if not os.path.exists(MOTO):
            pytest.skip(f"moto_server is not installed at {MOTO} (bash scripts/setup.sh installs it)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, **(env or {})})
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError("moto_server did not start")

    def client(self, service, key="test", secret="test"):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=key, aws_secret_access_key=secret,
                            config=Config(retries={"max_attempts": 1}))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def moto():
    m = Moto()
    yield m
    m.stop()


@pytest.fixture(scope="module")
def portico(moto):
    p = Portico(extra=("--access-log", "off", "--aws-endpoint", f"*={moto.url}"),
                env={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                     "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    yield p
    p.stop()


def apigw_of(p):
    return boto3.client("apigateway", endpoint_url=f"http://{p.admin}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def apigw(portico):
    return apigw_of(portico)


def service_api(apigw, name, path_part, method, uri, integration_method="POST", templates=None,
                params=None, responses=None, method_params=None, **integration):
    """An API with one method on `/{path_part}` integrated with the service at `uri`.
    `responses`: (status, selectionPattern or None, response templates) per integration
    response; the default is one default 200 that passes the service's answer through."""
    api = apigw.create_rest_api(name=name)["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    res = root
    for part in path_part.strip("/").split("/"):
        if part:
            res = apigw.create_resource(restApiId=api, parentId=res, pathPart=part)["id"]
    apigw.put_method(restApiId=api, resourceId=res, httpMethod=method, authorizationType="NONE",
                     requestParameters=method_params or {})
    apigw.put_integration(restApiId=api, resourceId=res, httpMethod=method, type="AWS",
                          integrationHttpMethod=integration_method, uri=uri, credentials=ROLE,
                          requestTemplates=templates or {}, requestParameters=params or {},
                          **integration)
    for status, pattern, tmpl in responses or [("200", None, None)]:
        apigw.put_method_response(restApiId=api, resourceId=res, httpMethod=method,
                                  statusCode=status)
        kw = {"selectionPattern": pattern} if pattern is not None else {}
        apigw.put_integration_response(restApiId=api, resourceId=res, httpMethod=method,
                                       statusCode=status, responseTemplates=tmpl or {}, **kw)
    apigw.create_deployment(restApiId=api, stageName="dev")
    return api


def call(p, api, path, method="GET", body=None, headers=None):
    req = urllib.request.Request(f"http://{p.data_plane}/restapis/{api}/dev/_user_request_{path}",
                                 method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def receive_all(sqs, url, expected, timeout=10):
    got = []
    deadline = time.time() + timeout
    while len(got) < expected and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                     MessageAttributeNames=["All"]).get("Messages", []):
            got.append(m)
    return got


# --- SQS -------------------------------------------------------------------------------------

def test_sqs_send_message_from_a_form_template_arrives_in_the_queue(portico, apigw, moto):
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName="orders-form")["QueueUrl"]
    api = service_api(
        apigw, "sqs-form", "sqs", "POST",
        f"arn:aws:apigateway:us-east-1:sqs:path/{ACCOUNT}/orders-form",
        params={"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
        templates={"application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
                   "&MessageAttribute.1.Name=from&MessageAttribute.1.Value.DataType=String"
                   "&MessageAttribute.1.Value.StringValue=$input.params('X-From')"},
        passthroughBehavior="NEVER",
        responses=[("200", None, {"application/json": '{"message": "queued"}'})])
    st, headers, body = call(portico, api, "/sqs", "POST", b'{"item": "book", "qty": 2}',
                             {"Content-Type": "application/json", "X-From": "web shop"})
    assert (st, json.loads(body)) == (200, {"message": "queued"}), body
    assert headers["Content-Type"] == "application/json"
    [m] = receive_all(sqs, url, 1)
    assert json.loads(m["Body"]) == {"item": "book", "qty": 2}
    assert m["MessageAttributes"]["from"]["StringValue"] == "web shop"
    assert m["MD5OfBody"] == hashlib.md5(b'{"item": "book", "qty": 2}').hexdigest()


def test_sqs_json_protocol_with_a_mapped_target_and_the_message_id_mapped_back(portico, apigw, moto):
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName="orders-json")["QueueUrl"]
    api = service_api(
        apigw, "sqs-json", "orders", "POST",
        f"arn:aws:apigateway:us-east-1:sqs:path/{ACCOUNT}/orders-json",
        params={"integration.request.header.Content-Type": "'application/x-amz-json-1.0'",
                "integration.request.header.X-Amz-Target": "'AmazonSQS.SendMessage'"},
        templates={"application/json": json.dumps(
            {"QueueUrl": url, "MessageBody": "$util.escapeJavaScript($input.body)"})},
        passthroughBehavior="NEVER",
        responses=[("200", None, {"application/json":
                                  '{"orderId": "$input.path(\'$.MessageId\')"}'})])
    st, _, body = call(portico, api, "/orders", "POST", b'{"sku": "A-1"}',
                       {"Content-Type": "application/json"})
    assert st == 200, body
    order_id = json.loads(body)["orderId"]
    [m] = receive_all(sqs, url, 1)
    assert m["MessageId"] == order_id
    assert json.loads(m["Body"]) == {"sku": "A-1"}


# --- SNS (query protocol, action URI with query-string parameters) ---------------------------

def test_sns_publish_action_with_query_parameters(portico, apigw, moto):
    sns, sqs = moto.client("sns"), moto.client("sqs")
    topic = sns.create_topic(Name="events")["TopicArn"]
    qurl = sqs.create_queue(QueueName="events-sub")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=qurl, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn,
                  Attributes={"RawMessageDelivery": "true"})
    api = service_api(
        apigw, "sns", "events", "POST", "arn:aws:apigateway:us-east-1:sns:action/Publish",
        params={"integration.request.querystring.TopicArn": f"'{topic}'",
                "integration.request.querystring.Message": "method.request.querystring.msg"},
        method_params={"method.request.querystring.msg": True},
        responses=[("200", None, None)])
    st, _, body = call(portico, api, "/events?msg=hello%20world%20%26%20more", "POST")
    assert st == 200, body
    assert b"MessageId" in body  # the service's answer passed through
    [m] = receive_all(sqs, qurl, 1)
    assert m["Body"] == "hello world & more"


# --- DynamoDB ----------------------------------------------------------------------------------

GET_ITEM_RESHAPED = """#set($item = $input.path('$.Item'))
#if($item == "" || !$item)
#set($context.responseOverride.status = 404)
{"message": "no such order"}
#else
{"id": "$item.id.S", "item": "$item.item.S", "qty": $item.qty.N}
#end"""


@pytest.fixture(scope="module")
def orders_table(moto):
    ddb = moto.client("dynamodb")
    ddb.create_table(TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    return ddb


def test_dynamodb_put_then_get_through_the_api(portico, apigw, orders_table):
    ddb = orders_table
    put = service_api(
        apigw, "ddb-put", "orders/{id}", "PUT", "arn:aws:apigateway:us-east-1:dynamodb:action/PutItem",
        templates={"application/json": json.dumps({
            "TableName": "orders",
            "Item": {"id": {"S": "$input.params('id')"}, "item": {"S": "$input.path('$.item')"},
                     "qty": {"N": "$input.path('$.qty')"}}})},
        responses=[("200", None, {"application/json": '{"stored": "$input.params(\'id\')"}'})])
    st, _, body = call(portico, put, "/orders/o-1", "PUT", b'{"item": "lamp", "qty": 3}',
                       {"Content-Type": "application/json"})
    assert (st, json.loads(body)) == (200, {"stored": "o-1"}), body
    # The item really is stored.
    item = ddb.get_item(TableName="orders", Key={"id": {"S": "o-1"}})["Item"]
    assert item == {"id": {"S": "o-1"}, "item": {"S": "lamp"}, "qty": {"N": "3"}}

    get = service_api(
        apigw, "ddb-get", "orders/{id}", "GET", "arn:aws:apigateway:us-east-1:dynamodb:action/GetItem",
        templates={"application/json": json.dumps(
            {"TableName": "orders", "Key": {"id": {"S": "$input.params('id')"}}})},
        responses=[("200", None, {"application/json": GET_ITEM_RESHAPED})])
    st, headers, body = call(portico, get, "/orders/o-1")
    assert st == 200, body
    assert json.loads(body) == {"id": "o-1", "item": "lamp", "qty": 3}
    assert headers["Content-Type"] == "application/json"
    st, _, body = call(portico, get, "/orders/missing")
    assert (st, json.loads(body)) == (404, {"message": "no such order"}), body


def test_a_service_error_selects_its_integration_response(portico, apigw, orders_table):
    api = service_api(
        apigw, "ddb-errors", "things/{id}", "GET", "arn:aws:apigateway:us-east-1:dynamodb:action/GetItem",
        templates={"application/json": json.dumps(
            {"TableName": "$input.params('table')", "Key": {"id": {"S": "$input.params('id')"}}})},
        responses=[("200", None, {"application/json": '{"found": true}'}),
                   ("400", "4\\d{2}", {"application/json":
                                       '{"error": "$util.escapeJavaScript($input.path(\'$.__type\'))"}'}),
                   ("502", "5\\d{2}", {"application/json": '{"error": "service unavailable"}'})])
    st, _, body = call(portico, api, "/things/x?table=orders")
    assert (st, json.loads(body)) == (200, {"found": True}), body
    st, _, body = call(portico, api, "/things/x?table=no-such-table")
    assert st == 400, body
    assert json.loads(body)["error"].endswith("ResourceNotFoundException"), body


def test_without_a_matching_pattern_the_default_response_carries_the_service_error(portico, apigw):
    # As recorded on AWS with S3's NoSuchKey: one default integration response, status 200.
    api = service_api(
        apigw, "ddb-default", "t", "POST", "arn:aws:apigateway:us-east-1:dynamodb:action/DescribeTable",
        templates={"application/json": '{"TableName": "absent"}'})
    st, _, body = call(portico, api, "/t", "POST")
    assert st == 200
    assert "ResourceNotFoundException" in json.loads(body)["__type"]


# --- Step Functions ------------------------------------------------------------------------------

def test_step_functions_start_execution_really_starts(portico, apigw, moto):
    sfn = moto.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="fulfil", roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    api = service_api(
        apigw, "sfn", "workflows", "POST", "arn:aws:apigateway:us-east-1:states:action/StartExecution",
        templates={"application/json": '{"input": "$util.escapeJavaScript($input.json(\'$\'))", '
                                       f'"stateMachineArn": "{machine}"}}'},
        responses=[("200", None, {"application/json":
                                  '{"execution": "$input.path(\'$.executionArn\')"}'})])
    st, _, body = call(portico, api, "/workflows", "POST", b'{"order": "o-9"}',
                       {"Content-Type": "application/json"})
    assert st == 200, body
    arn = json.loads(body)["execution"]
    assert arn.startswith(f"arn:aws:states:us-east-1:{ACCOUNT}:execution:fulfil:")
    described = sfn.describe_execution(executionArn=arn)
    assert described["stateMachineArn"] == machine
    assert json.loads(described["input"]) == {"order": "o-9"}


# --- Kinesis -------------------------------------------------------------------------------------

def test_kinesis_put_record(portico, apigw, moto):
    kin = moto.client("kinesis")
    kin.create_stream(StreamName="clicks", ShardCount=1)
    api = service_api(
        apigw, "kinesis", "clicks", "POST", "arn:aws:apigateway:us-east-1:kinesis:action/PutRecord",
        templates={"application/json": '{"StreamName": "clicks", '
                                       '"Data": "$util.base64Encode($input.body)", '
                                       '"PartitionKey": "$input.path(\'$.user\')"}'})
    st, _, body = call(portico, api, "/clicks", "POST", b'{"user": "u1", "page": "/"}',
                       {"Content-Type": "application/json"})
    assert st == 200, body
    out = json.loads(body)
    assert out["ShardId"] and out["SequenceNumber"]
    it = kin.get_shard_iterator(StreamName="clicks", ShardId=out["ShardId"],
                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    [rec] = kin.get_records(ShardIterator=it)["Records"]
    assert rec["Data"] == b'{"user": "u1", "page": "/"}'
    assert rec["PartitionKey"] == "u1"


# --- S3 (REST-XML, path URI, the client's method) -------------------------------------------------

def test_s3_objects_by_path_with_the_clients_method(portico, apigw, moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="assets")
    api = apigw.create_rest_api(name="s3", binaryMediaTypes=["image/png"])["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    res = apigw.create_resource(restApiId=api, parentId=root, pathPart="{object+}")["id"]
    apigw.put_method(restApiId=api, resourceId=res, httpMethod="ANY", authorizationType="NONE",
                     requestParameters={"method.request.path.object": True,
                                        "method.request.header.Content-Type": False})
    apigw.put_integration(
        restApiId=api, resourceId=res, httpMethod="ANY", type="AWS", integrationHttpMethod="ANY",
        uri="arn:aws:apigateway:us-east-1:s3:path/assets/{object}", credentials=ROLE,
        requestParameters={"integration.request.path.object": "method.request.path.object",
                           "integration.request.header.Content-Type": "method.request.header.Content-Type"})
    for status, pattern in [("200", None), ("404", "404")]:
        apigw.put_method_response(restApiId=api, resourceId=res, httpMethod="ANY", statusCode=status,
                                  responseParameters={"method.response.header.Content-Type": False})
        apigw.put_integration_response(
            restApiId=api, resourceId=res, httpMethod="ANY", statusCode=status,
            responseParameters={"method.response.header.Content-Type":
                                "integration.response.header.Content-Type"},
            **({"selectionPattern": pattern} if pattern else {}))
    apigw.create_deployment(restApiId=api, stageName="dev")

    st, _, body = call(portico, api, "/docs/readme.json", "PUT", b'{"hello": "s3"}',
                       {"Content-Type": "application/json"})
    assert st == 200, body
    obj = s3.get_object(Bucket="assets", Key="docs/readme.json")
    assert obj["Body"].read() == b'{"hello": "s3"}'
    assert obj["ContentType"] == "application/json"
    st, headers, body = call(portico, api, "/docs/readme.json")
    assert (st, body) == (200, b'{"hello": "s3"}')
    png = bytes(range(256))
    st, _, _ = call(portico, api, "/img/a%20b.png", "PUT", png, {"Content-Type": "image/png"})
    assert st == 200
    assert s3.get_object(Bucket="assets", Key="img/a b.png")["Body"].read() == png
    st, headers, body = call(portico, api, "/img/a%20b.png", headers={"Accept": "image/png"})
    assert (st, body) == (200, png)
    st, _, _ = call(portico, api, "/docs/readme.json", "DELETE")
    assert st == 200
    st, _, body = call(portico, api, "/docs/readme.json")
    assert st == 404 and b"NoSuchKey" in body, body


# --- failures --------------------------------------------------------------------------------------

def test_an_unreachable_endpoint_is_a_500_and_a_bad_uri_never_deploys(moto):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    p = Portico(extra=("--access-log", "off", "--aws-endpoint", f"sqs=http://127.0.0.1:{dead}"),
                env={"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"})
    try:
        apigw = apigw_of(p)
        api = service_api(apigw, "dead", "q", "POST",
                          f"arn:aws:apigateway:us-east-1:sqs:path/{ACCOUNT}/q")
        st, headers, body = call(p, api, "/q", "POST", b"x")
        assert (st, json.loads(body)) == (500, {"message": "Internal server error"})
        assert headers["x-amzn-ErrorType"] == "InternalServerErrorException"
        # The caller-credentials form needs a verified caller: refused at run time with a 500.
        api = service_api(apigw, "caller", "q", "POST",
                          f"arn:aws:apigateway:us-east-1:sqs:path/{ACCOUNT}/q")
        res = [r for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/q"][0]["id"]
        apigw.update_integration(restApiId=api, resourceId=res, httpMethod="POST", patchOperations=[
            {"op": "replace", "path": "/credentials", "value": "arn:aws:iam::*:user/*"}])
        apigw.create_deployment(restApiId=api, stageName="dev")
        st, _, body = call(p, api, "/q", "POST", b"x")
        assert st == 500, body
        # Mapping the signature header is refused, as on AWS.
        with pytest.raises(Exception):
            service_api(apigw, "bad-uri", "q", "POST", "arn:aws:apigateway:us-east-1:sqs:invoke/x")
        api = service_api(apigw, "auth-mapped", "q", "POST",
                          f"arn:aws:apigateway:us-east-1:sqs:path/{ACCOUNT}/q",
                          params={"integration.request.header.Authorization": "'AWS4-HMAC-SHA256 x'"})
        st, _, body = call(p, api, "/q", "POST", b"x")
        assert (st, json.loads(body)) == (500, {"message": "Internal server error"})
    finally:
        p.stop()


# --- credentials: a wrong key gets the service's signature error ------------------------------------

@pytest.fixture(scope="module")
def moto_auth():
    """A moto_server that checks signatures and IAM policies after its first three calls, which
    create a user with an access key allowed everything."""
    m = Moto(env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    iam = m.client("iam")
    iam.create_user(UserName="apigw")
    iam.put_user_policy(UserName="apigw", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="apigw")["AccessKey"]
    m.key = (key["AccessKeyId"], key["SecretAccessKey"])
    yield m
    m.stop()


def test_role_keys_from_the_config_file_and_a_wrong_secret(moto_auth, tmp_path):
    key_id, secret = moto_auth.key
    cfg = tmp_path / "aws.yaml"
    cfg.write_text(
        f"endpoints:\n  '*': {moto_auth.url}\n"
        f"roles:\n"
        f"  {ROLE}:\n    accessKeyId: {key_id}\n    secretAccessKey: {secret}\n"
        f"  arn:aws:iam::{ACCOUNT}:role/wrong:\n    accessKeyId: {key_id}\n    secretAccessKey: not-the-secret\n")
    sqs = moto_auth.client("sqs", key_id, secret)
    url = sqs.create_queue(QueueName="signed")["QueueUrl"]
    p = Portico(extra=("--access-log", "off", "--aws-config", str(cfg)),
                env={"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_ACCESS_KEY_ID": "",
                     "AWS_SECRET_ACCESS_KEY": ""})
    try:
        apigw = apigw_of(p)
        responses = [("200", None, {"application/json": '{"sent": true}'}),
                     ("403", "403", {"application/json": '{"denied": "$util.escapeJavaScript($input.body)"}'})]
        form = {"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"}
        tmpl = {"application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"}
        ok = service_api(apigw, "signed-ok", "send", "POST",
                         f"arn:aws:apigateway:us-east-1:sqs:path/{ACCOUNT}/signed",
                         params=form, templates=tmpl, responses=responses)
        st, _, body = call(p, ok, "/send", "POST", b'{"a": 1}', {"Content-Type": "application/json"})
        assert (st, json.loads(body)) == (200, {"sent": True}), body
        [m] = receive_all(sqs, url, 1)
        assert json.loads(m["Body"]) == {"a": 1}

        bad = service_api(apigw, "signed-bad", "send", "POST",
                          f"arn:aws:apigateway:us-east-1:sqs:path/{ACCOUNT}/signed",
                          params=form, templates=tmpl, responses=responses)
        res = [r for r in apigw.get_resources(restApiId=bad)["items"] if r["path"] == "/send"][0]["id"]
        apigw.update_integration(restApiId=bad, resourceId=res, httpMethod="POST", patchOperations=[
            {"op": "replace", "path": "/credentials", "value": f"arn:aws:iam::{ACCOUNT}:role/wrong"}])
        apigw.create_deployment(restApiId=bad, stageName="dev")
        st, _, body = call(p, bad, "/send", "POST", b'{"a": 2}', {"Content-Type": "application/json"})
        assert st == 403, body
        assert "SignatureDoesNotMatch" in json.loads(body)["denied"]
        assert receive_all(sqs, url, 1, timeout=1) == []
    finally:
        p.stop()


# --- the signature, checked against botocore's signer ------------------------------------------------

class Capture(BaseHTTPRequestHandler):
    seen = []

    def _any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Capture.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        out = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_POST = do_PUT = do_GET = _any

    def log_message(self, *a):
        pass


def botocore_signature(method, url, headers, body, service, region, key, secret, s3=False):
    """botocore's SigV4 signature for the request as it was received, over the headers Portico
    signed, at Portico's X-Amz-Date."""
    lower = {k.lower(): v for k, v in headers.items()}
    auth = lower["authorization"]
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body,
                                         headers={h: lower[h] for h in signed})
    cls = botocore.auth.S3SigV4Auth if s3 else botocore.auth.SigV4Auth
    signer = cls(botocore.credentials.Credentials(key, secret), service, region)
    req.context["timestamp"] = lower["x-amz-date"]
    if s3:
        req.context["payload_signing_enabled"] = True
    canonical = signer.canonical_request(req)
    return signer.signature(signer.string_to_sign(req, canonical), req), signed


def test_the_signature_matches_botocores():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    p = Portico(extra=("--access-log", "off", "--aws-endpoint", f"*=http://127.0.0.1:{port}"),
                env={"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                     "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                     "AWS_SESSION_TOKEN": "session-token-example"})
    try:
        apigw = apigw_of(p)
        ddb = service_api(apigw, "sig-ddb", "items/{id}", "POST",
                          "arn:aws:apigateway:eu-west-2:dynamodb:action/GetItem",
                          templates={"application/json":
                                     '{"TableName": "t", "Key": {"id": {"S": "$input.params(\'id\')"}}}'})
        st, _, _ = call(p, ddb, "/items/a%20b", "POST", b"{}", {"Content-Type": "application/json"})
        assert st == 200
        s3 = service_api(apigw, "sig-s3", "{key+}", "PUT",
                         "arn:aws:apigateway:eu-west-2:s3:path/bucket-1/{key}", integration_method="PUT",
                         params={"integration.request.path.key": "method.request.path.key"},
                         method_params={"method.request.path.key": True})
        st, _, _ = call(p, s3, "/dir/file%20name+1.txt", "PUT", b"payload",
                        {"Content-Type": "text/plain"})
        assert st == 200
        sns = service_api(apigw, "sig-sns", "pub", "POST", "arn:aws:apigateway:eu-west-2:sns:action/Publish",
                          params={"integration.request.querystring.Message": "'a b/c'"})
        st, _, _ = call(p, sns, "/pub", "POST")
        assert st == 200
    finally:
        p.stop()
        server.shutdown()
    (m1, path1, h1, b1), (m2, path2, h2, b2), (m3, path3, h3, b3) = Capture.seen[-3:]
    # DynamoDB: the JSON protocol's target and content type, JSON accepted, POST to / with Action.
    assert (m1, path1) == ("POST", "/?Action=GetItem")
    assert h1["x-amz-target"] == "DynamoDB_20120810.GetItem"
    assert h1["content-type"] == "application/x-amz-json-1.0"
    assert h1["accept"] == "application/json"
    assert h1["x-amz-security-token"] == "session-token-example"
    assert json.loads(b1) == {"TableName": "t", "Key": {"id": {"S": "a b"}}}
    assert "x-amzn-apigateway-api-id" not in h1
    assert "/eu-west-2/dynamodb/aws4_request" in h1["authorization"]
    # S3: path-style on the configured endpoint, the client's body and content type, payload hash.
    assert (m2, b2) == ("PUT", b"payload")
    assert path2 == "/bucket-1/dir/file%20name+1.txt"
    assert h2["x-amz-content-sha256"] == hashlib.sha256(b"payload").hexdigest()
    assert m3 == "POST" and path3.startswith("/?Action=Publish&Message=")
    for (m, path, h, b), service, s3 in [((m1, path1, h1, b1), "dynamodb", False),
                                         ((m2, path2, h2, b2), "s3", True),
                                         ((m3, path3, h3, b3), "sns", False)]:
        want, signed = botocore_signature(m, f"http://127.0.0.1:{port}{path}", h, b, service,
                                          "eu-west-2", "AKIDEXAMPLE",
                                          "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", s3)
        assert "host" in signed and "x-amz-date" in signed
        got = h["authorization"].split("Signature=")[1]
        assert got == want, (service, h)


def test_test_invoke_method_runs_an_aws_integration(portico, apigw, orders_table):
    orders_table.put_item(TableName="orders", Item={"id": {"S": "t-1"}, "item": {"S": "pen"},
                                                    "qty": {"N": "7"}})
    api = service_api(
        apigw, "ddb-test-invoke", "orders/{id}", "GET", "arn:aws:apigateway:us-east-1:dynamodb:action/GetItem",
        templates={"application/json": json.dumps(
            {"TableName": "orders", "Key": {"id": {"S": "$input.params('id')"}}})},
        responses=[("200", None, {"application/json": GET_ITEM_RESHAPED})])
    res = [r for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/orders/{id}"][0]["id"]
    out = apigw.test_invoke_method(restApiId=api, resourceId=res, httpMethod="GET",
                                   pathWithQueryString="/orders/t-1")
    assert out["status"] == 200, out
    assert json.loads(out["body"]) == {"id": "t-1", "item": "pen", "qty": 7}
