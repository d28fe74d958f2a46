"""The Lambda API on the management listener through boto3 (and one `aws lambda invoke`): every
operation Portico serves, with the answers and errors Lambda gives, against real Python handlers
zipped here and run by Portico's function runtime."""
import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Portico, error_of

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
AWS = os.path.join(os.path.dirname(sys.executable), "aws")

ECHO = """
import os
def handler(event, context):
    print("handling", event)
    return {"event": event, "version": context.function_version,
            "memory": context.memory_limit_in_mb, "greeting": os.environ.get("GREETING"),
            "text": TEXT}
TEXT = "v1"
"""

FAILS = """
def handler(event, context):
    raise ValueError("boom: " + str(event.get("why")))
"""

WRITES = """
def handler(event, context):
    with open(event["path"], "w") as f:
        f.write("ran")
    return "ok"
"""


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def lambda_client(p, key_id="test", secret="test"):
    return boto3.client(
        "lambda", endpoint_url=f"http://{p.admin}", region_name="us-east-1",
        aws_access_key_id=key_id, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, read_timeout=60),
    )


@pytest.fixture(scope="module")
def lam(portico):
    return lambda_client(portico)


def fresh(prefix="fn"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(lam, name, code=ECHO, **kw):
    args = dict(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="index.handler",
                Code={"ZipFile": zip_of({"index.py": code})})
    args.update(kw)
    return lam.create_function(**args)


def invoke(lam, name, payload=None, **kw):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), **kw)
    body = r["Payload"].read()
    return r, (json.loads(body) if body else None)


def raw_error(excinfo):
    """The parsed error response botocore kept (its top-level members are the body's)."""
    return excinfo.value.response


def test_create_get_list_update_and_delete(lam, portico):
    name = fresh()
    zipped = zip_of({"index.py": ECHO})
    created = lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                                  Handler="index.handler", Code={"ZipFile": zipped},
                                  Description="echo", Tags={"team": "api"})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionName"] == name
    assert created["FunctionArn"] == ARN + name
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(zipped).digest()).decode()
    assert created["CodeSize"] == len(zipped)
    assert (created["Timeout"], created["MemorySize"]) == (3, 128)
    assert (created["Version"], created["State"], created["LastUpdateStatus"]) == (
        "$LATEST", "Active", "Successful")
    assert (created["PackageType"], created["Architectures"]) == ("Zip", ["x86_64"])
    assert created["TracingConfig"] == {"Mode": "PassThrough"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", created["LastModified"])
    assert re.fullmatch(r"[0-9a-f-]{36}", created["RevisionId"])
    assert "Environment" not in created

    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["RevisionId"] == created["RevisionId"]
    assert got["Code"]["RepositoryType"] == "S3"
    assert got["Code"]["Location"].startswith("file://")
    assert got["Tags"] == {"team": "api"}
    assert "Concurrency" not in got
    assert lam.get_function(FunctionName=ARN + name)["Configuration"]["FunctionName"] == name
    assert lam.get_function_configuration(FunctionName=name)["Description"] == "echo"
    # The waiters boto3 users call after a create or an update pass at once.
    lam.get_waiter("function_active_v2").wait(FunctionName=name)

    second = fresh()
    create(lam, second)
    names = [f["FunctionName"] for f in lam.list_functions(MaxItems=10000)["Functions"]]
    assert name in names and second in names
    paged, marker = [], None
    while True:
        page = lam.list_functions(MaxItems=1, **({"Marker": marker} if marker else {}))
        assert len(page["Functions"]) <= 1
        paged += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert paged == names
    assert [f["FunctionName"] for p in lam.get_paginator("list_functions").paginate()
            for f in p["Functions"]] == names

    updated = lam.update_function_configuration(
        FunctionName=name, Timeout=10, MemorySize=256, Description="changed",
        Environment={"Variables": {"GREETING": "hi"}}, Handler="index.handler",
        Runtime="python3.11")
    assert (updated["Timeout"], updated["MemorySize"], updated["Runtime"]) == (10, 256, "python3.11")
    assert updated["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert updated["RevisionId"] != created["RevisionId"]
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    r, out = invoke(lam, name, {"a": 1})
    assert (out["greeting"], out["memory"]) == ("hi", "256")

    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName=name, Timeout=5,
                                          RevisionId=created["RevisionId"])
    assert error_of(e)[:2] == (412, "PreconditionFailedException")

    lam.delete_function(FunctionName=second)
    r = lam.delete_function(FunctionName=name)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=name)
    assert error_of(e) == (404, "ResourceNotFoundException", f"Function not found: {ARN}{name}")


def test_unknown_functions_are_404_in_lambdas_shape(lam):
    calls = [
        lambda: lam.get_function(FunctionName="nope"),
        lambda: lam.get_function_configuration(FunctionName="nope"),
        lambda: lam.delete_function(FunctionName="nope"),
        lambda: lam.invoke(FunctionName="nope", Payload=b"{}"),
        lambda: lam.update_function_configuration(FunctionName="nope", Timeout=5),
        lambda: lam.update_function_code(FunctionName="nope",
                                         ZipFile=zip_of({"index.py": ECHO})),
        lambda: lam.publish_version(FunctionName="nope"),
        lambda: lam.list_versions_by_function(FunctionName="nope"),
        lambda: lam.list_aliases(FunctionName="nope"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == (404, "ResourceNotFoundException", f"Function not found: {ARN}nope")
        assert raw_error(e)["Type"] == "User"
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="nope", ReservedConcurrentExecutions=1)
    assert error_of(e)[2] == f"Function not found: {ARN}nope:$LATEST"
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName="nope")
    assert error_of(e) == (404, "ResourceNotFoundException",
                           "The resource you requested does not exist.")
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="invalid:function:name")
    assert error_of(e)[:2] == (400, "ValidationException")


def test_create_refuses_bad_code_and_parameters_as_lambda_does(lam):
    name = fresh()
    cases = [
        (dict(Code={"ZipFile": b"this is not a zip"}), 400, "InvalidParameterValueException",
         "Could not unzip uploaded file. Please check your file, then try to upload again."),
        (dict(Runtime="non-existent-runtime"), 400, "InvalidParameterValueException", None),
        (dict(Runtime="python3.7"), 400, "InvalidParameterValueException",
         "The runtime parameter of python3.7 is no longer supported for creating or updating "
         "AWS Lambda functions. We recommend you use a supported runtime while creating or "
         "updating functions."),
        (dict(Timeout=901), 400, "ValidationException",
         "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
         "Member must have value less than or equal to 900"),
        (dict(MemorySize=10241), 400, "ValidationException",
         "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy "
         "constraint: Member must have value less than or equal to 10240"),
        (dict(Handler="bad handler"), 400, "ValidationException",
         "1 validation error detected: Value 'bad handler' at 'handler' failed to satisfy "
         "constraint: Member must satisfy regular expression pattern: [^\\s]+"),
        (dict(Role="r1"), 400, "ValidationException", None),
        (dict(Environment={"Variables": {"AWS_REGION": "eu-west-1"}}), 400,
         "InvalidParameterValueException",
         "Lambda was unable to configure your environment variables because the environment "
         "variables you have provided contains reserved keys that are currently not supported "
         "for modification. Reserved keys used in this request: AWS_REGION"),
        (dict(Code={"S3Bucket": "my-bucket", "S3Key": "fn.zip"}), 400,
         "InvalidParameterValueException",
         "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The "
         "specified bucket does not exist"),
        (dict(Code={"S3Bucket": "hot-reload", "S3Key": "/no/such/dir"}), 400,
         "InvalidParameterValueException",
         "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The "
         "specified key does not exist."),
    ]
    for kw, status, code, message in cases:
        with pytest.raises(ClientError) as e:
            create(lam, name, **kw)
        got = error_of(e)
        assert got[:2] == (status, code), (kw, got)
        if message:
            assert got[2] == message
    with pytest.raises(ClientError) as e:
        create(lam, name, Runtime="java21")
    assert error_of(e)[2].startswith("Portico cannot run java21")
    # Nothing was created by the refused calls.
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=name)
    create(lam, name)
    with pytest.raises(ClientError) as e:
        create(lam, name)
    assert error_of(e) == (409, "ResourceConflictException", f"Function already exist: {name}")
    lam.delete_function(FunctionName=name)


def test_zip_slip_entries_are_refused_and_the_code_stays(lam, portico):
    name = fresh()
    create(lam, name)
    for evil in ["../evil.py", "/etc/evil.py", "a/../../evil.py"]:
        with pytest.raises(ClientError) as e:
            lam.update_function_code(FunctionName=name,
                                     ZipFile=zip_of({"index.py": "x = 1", evil: "owned = True"}))
        status, code, message = error_of(e)
        assert (status, code) == (400, "InvalidParameterValueException")
        assert "is not allowed" in message, message
    assert not os.path.exists(os.path.join(portico.data, "functions", "evil.py"))
    r, out = invoke(lam, name, {"k": "v"})
    assert out["event"] == {"k": "v"}
    lam.delete_function(FunctionName=name)


def test_over_size_packages_get_lambdas_limits(lam):
    name = fresh()
    # One byte over the 50 MB a ZipFile may be (the request stays under 70167211 bytes).
    with pytest.raises(ClientError) as e:
        create(lam, name, Code={"ZipFile": os.urandom(52428801)})
    assert error_of(e) == (413, "RequestEntityTooLargeException",
                           "Zipped size must be smaller than 52428800 bytes")
    # A zip bomb: 263 MB of zeros in a few hundred KB.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("zeros", "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(251):
                f.write(chunk)
    with pytest.raises(ClientError) as e:
        create(lam, name, Code={"ZipFile": buf.getvalue()})
    assert error_of(e) == (400, "InvalidParameterValueException",
                           "Unzipped size must be smaller than 262144000 bytes")
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=name)


def test_invoke_answers_and_log_tail(lam):
    name = fresh()
    create(lam, name, Environment={"Variables": {"GREETING": "hello"}})
    r, out = invoke(lam, name, {"n": 1}, LogType="Tail")
    assert r["StatusCode"] == 200
    assert r["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in r
    assert out == {"event": {"n": 1}, "version": "$LATEST", "memory": "128",
                   "greeting": "hello", "text": "v1"}
    log = base64.b64decode(r["LogResult"]).decode()
    assert "START RequestId:" in log and "END RequestId:" in log and "REPORT RequestId:" in log
    assert "handling {'n': 1}" in log
    request_id = r["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id}" in log
    r, _ = invoke(lam, name, {"n": 2})
    assert "LogResult" not in r
    # No payload at all is an empty event.
    assert json.load(lam.invoke(FunctionName=name)["Payload"])["event"] == {}
    # Lambda's payloads must be JSON.
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=b"not json")
    assert error_of(e)[:2] == (400, "InvalidRequestContentException")
    # Over 6 MB: Lambda's 413.
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=json.dumps("x" * (6 * 1024 * 1024)).encode())
    assert error_of(e) == (413, "RequestTooLargeException",
                           "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
    lam.delete_function(FunctionName=name)


def test_a_function_error_comes_back_as_lambda_reports_it(lam):
    name = fresh()
    create(lam, name, code=FAILS)
    r, out = invoke(lam, name, {"why": "bad input"})
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "ValueError"
    assert out["errorMessage"] == "boom: bad input"
    assert isinstance(out["stackTrace"], list)
    lam.delete_function(FunctionName=name)


def test_event_invocations_run_in_the_background_and_dry_runs_run_nothing(lam):
    name = fresh()
    create(lam, name, code=WRITES)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ran.txt")
        r = lam.invoke(FunctionName=name, InvocationType="DryRun",
                       Payload=json.dumps({"path": path}).encode())
        assert r["StatusCode"] == 204
        assert r["Payload"].read() == b""
        r = lam.invoke(FunctionName=name, InvocationType="Event",
                       Payload=json.dumps({"path": path}).encode())
        assert r["StatusCode"] == 202
        assert r["Payload"].read() == b""
        deadline = time.time() + 20
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.1)
        assert open(path).read() == "ran"
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="nope", InvocationType="Event", Payload=b"{}")
    assert error_of(e)[:2] == (404, "ResourceNotFoundException")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, InvocationType="DryRun", Qualifier="7", Payload=b"{}")
    assert error_of(e) == (404, "ResourceNotFoundException", f"Function not found: {ARN}{name}:7")
    lam.delete_function(FunctionName=name)


def test_reserved_concurrency_zero_throttles_every_invocation(lam):
    name = fresh()
    create(lam, name)
    r = lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    assert r["ReservedConcurrentExecutions"] == 0
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 0
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 0}
    with pytest.raises(ClientError) as e:
        invoke(lam, name)
    assert error_of(e) == (429, "TooManyRequestsException", "Rate Exceeded.")
    assert raw_error(e)["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert raw_error(e)["Type"] == "User"
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName=name + ":1", ReservedConcurrentExecutions=1)
    assert error_of(e)[:2] == (400, "InvalidParameterValueException")
    r = lam.delete_function_concurrency(FunctionName=name)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    r, out = invoke(lam, name, {"ok": True})
    assert out["event"] == {"ok": True}
    lam.delete_function(FunctionName=name)


def test_versions_aliases_and_qualified_invocations(lam):
    name = fresh()
    create(lam, name)
    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (v1["Version"], v1["FunctionArn"], v1["Description"]) == ("1", f"{ARN}{name}:1", "first")
    # Nothing changed since: the same version.
    assert lam.publish_version(FunctionName=name)["Version"] == "1"

    # UpdateFunctionCode takes effect on the next invocation of $LATEST; version 1 keeps its code.
    assert invoke(lam, name)[1]["text"] == "v1"
    lam.update_function_code(FunctionName=name,
                             ZipFile=zip_of({"index.py": ECHO.replace('"v1"', '"v2"')}))
    assert invoke(lam, name)[1]["text"] == "v2"
    r, out = invoke(lam, name, Qualifier="1")
    assert (out["text"], out["version"], r["ExecutedVersion"]) == ("v1", "1", "1")
    r, out = invoke(lam, f"{ARN}{name}:1")
    assert (out["text"], r["ExecutedVersion"]) == ("v1", "1")
    v2 = lam.publish_version(FunctionName=name, CodeSha256=lam.get_function_configuration(
        FunctionName=name)["CodeSha256"])
    assert v2["Version"] == "2"
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName=name, CodeSha256="wrong")
    assert error_of(e)[:2] == (400, "InvalidParameterValueException")
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]["Version"] == "1"

    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                             Description="production")
    assert alias["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert alias["AliasArn"] == f"{ARN}{name}:live"
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert error_of(e) == (409, "ResourceConflictException", f"Alias already exists: {ARN}{name}:live")
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName=name, Name="2024", FunctionVersion="1")
    assert error_of(e)[:2] == (400, "ValidationException")
    r, out = invoke(lam, f"{name}:live")
    assert (out["text"], r["ExecutedVersion"]) == ("v1", "1")
    r, out = invoke(lam, name, Qualifier="live")
    assert out["text"] == "v1"
    got = lam.get_function(FunctionName=name, Qualifier="live")["Configuration"]
    assert (got["FunctionArn"], got["Version"]) == (f"{ARN}{name}:live", "1")
    updated = lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    assert updated["RevisionId"] != alias["RevisionId"]
    r, out = invoke(lam, f"{ARN}{name}:live")
    assert (out["text"], r["ExecutedVersion"]) == ("v2", "2")
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"
    lam.create_alias(FunctionName=name, Name="old", FunctionVersion="1")
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["live", "old"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name, FunctionVersion="1")["Aliases"]] == ["old"]
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName=name, Qualifier="1")
    assert error_of(e)[:2] == (409, "ResourceConflictException")
    assert lam.delete_alias(FunctionName=name, Name="old")["ResponseMetadata"]["HTTPStatusCode"] == 204
    lam.delete_function(FunctionName=name, Qualifier="1")
    with pytest.raises(ClientError) as e:
        invoke(lam, name, Qualifier="1")
    assert error_of(e) == (404, "ResourceNotFoundException", f"Function not found: {ARN}{name}:1")
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName=name, Qualifier="$LATEST")
    assert error_of(e)[2] == "$LATEST version cannot be deleted without deleting the function."
    lam.delete_alias(FunctionName=name, Name="live")
    with pytest.raises(ClientError) as e:
        invoke(lam, f"{name}:live")
    assert error_of(e) == (404, "ResourceNotFoundException", f"Function not found: {ARN}{name}:live")
    with pytest.raises(ClientError) as e:
        lam.get_alias(FunctionName=name, Name="live")
    assert error_of(e) == (404, "ResourceNotFoundException",
                           f"Cannot find alias arn: {ARN}{name}:live")
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=f"{name}:1", Qualifier="2")
    assert error_of(e) == (400, "InvalidParameterValueException",
                           "The derived qualifier from the function name does not match the "
                           "specified qualifier.")
    lam.delete_function(FunctionName=name)


def test_delete_function_stops_serving_and_removes_its_code(lam, portico):
    name = fresh()
    create(lam, name)
    lam.publish_version(FunctionName=name)
    assert invoke(lam, name)[1]["text"] == "v1"
    code_dir = os.path.join(portico.data, "functions", "code", name)
    assert len(os.listdir(code_dir)) == 1, "$LATEST and version 1 share the unpacked code"
    lam.update_function_code(FunctionName=name, ZipFile=zip_of({"index.py": ECHO}))
    assert len(os.listdir(code_dir)) == 2, "version 1 keeps its own code"
    lam.delete_function(FunctionName=name)
    with pytest.raises(ClientError) as e:
        invoke(lam, name)
    assert error_of(e)[:2] == (404, "ResourceNotFoundException")
    with pytest.raises(ClientError):
        invoke(lam, name, Qualifier="1")
    assert not os.path.exists(code_dir)


def test_permissions_are_stored_and_returned_as_lambdas_policy(lam):
    name = fresh()
    create(lam, name)
    source = "arn:aws:execute-api:us-east-1:000000000000:abc123/*/GET/pets"
    r = lam.add_permission(FunctionName=name, StatementId="apigw", Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com", SourceArn=source)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(r["Statement"]) == {
        "Sid": "apigw", "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": ARN + name,
        "Condition": {"ArnLike": {"AWS:SourceArn": source}}}
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName=name, StatementId="apigw", Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com")
    assert error_of(e) == (409, "ResourceConflictException",
                           "The statement id (apigw) provided already exists. Please provide a "
                           "new statement id, or remove the existing statement.")
    lam.add_permission(FunctionName=name, StatementId="acct", Action="lambda:GetFunction",
                       Principal="123456789012")
    policy = lam.get_policy(FunctionName=name)
    doc = json.loads(policy["Policy"])
    assert (doc["Version"], doc["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in doc["Statement"]] == ["apigw", "acct"]
    assert doc["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert policy["RevisionId"] == lam.get_function_configuration(FunctionName=name)["RevisionId"]
    with pytest.raises(ClientError) as e:
        lam.remove_permission(FunctionName=name, StatementId="nope")
    assert error_of(e) == (404, "ResourceNotFoundException",
                           "Statement nope is not found in resource policy.")
    assert lam.remove_permission(FunctionName=name, StatementId="apigw")[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    lam.remove_permission(FunctionName=name, StatementId="acct")
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName=name)
    assert error_of(e)[:2] == (404, "ResourceNotFoundException")
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName=name, StatementId="x", Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com", Qualifier="$LATEST")
    assert error_of(e)[2] == "We currently do not support adding policies for $LATEST."
    lam.delete_function(FunctionName=name)


def test_a_local_directory_is_served_as_it_is(lam):
    name = fresh()
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "index.py"), "w") as f:
            f.write(ECHO)
        created = lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                                      Handler="index.handler",
                                      Code={"S3Bucket": "hot-reload", "S3Key": d})
        assert created["CodeSize"] == 0
        assert lam.get_function(FunctionName=name)["Code"]["Location"] == f"file://{d}"
        assert invoke(lam, name)[1]["text"] == "v1"
        with open(os.path.join(d, "index.py"), "w") as f:
            f.write(ECHO.replace('"v1"', '"edited"'))
        # The next worker reads the directory again (a configuration change starts new ones).
        lam.update_function_configuration(FunctionName=name,
                                          Environment={"Variables": {"GREETING": "again"}})
        out = invoke(lam, name)[1]
        assert (out["text"], out["greeting"]) == ("edited", "again")
        lam.delete_function(FunctionName=name)
        assert os.path.exists(os.path.join(d, "index.py")), "Portico never removes a local dir"


def test_functions_live_in_the_store_and_survive_a_restart():
    first = Portico()
    name = fresh("durable")
    try:
        lam = lambda_client(first)
        create(lam, name, Environment={"Variables": {"GREETING": "kept"}})
        lam.publish_version(FunctionName=name)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    finally:
        first.stop()
    second = Portico(data_dir=first.data)
    try:
        lam = lambda_client(second)
        assert lam.get_function(FunctionName=name)["Concurrency"] == {
            "ReservedConcurrentExecutions": 2}
        r, out = invoke(lam, f"{name}:live", {"after": "restart"})
        assert (out["greeting"], out["event"], r["ExecutedVersion"]) == (
            "kept", {"after": "restart"}, "1")
    finally:
        second.stop()


def test_aws_cli_invoke(portico, lam):
    name = fresh("cli")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
    with tempfile.TemporaryDirectory() as d:
        package = os.path.join(d, "fn.zip")
        with open(package, "wb") as f:
            f.write(zip_of({"index.py": ECHO}))
        out = subprocess.run(
            [AWS, "lambda", "create-function", "--function-name", name, "--runtime", "python3.12",
             "--handler", "index.handler", "--role", ROLE, "--zip-file", f"fileb://{package}",
             "--endpoint-url", f"http://{portico.admin}", "--output", "json"],
            capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["FunctionArn"] == ARN + name
        result = os.path.join(d, "out.json")
        out = subprocess.run(
            [AWS, "lambda", "invoke", "--function-name", name,
             "--payload", '{"from": "cli"}',
             "--endpoint-url", f"http://{portico.admin}", "--output", "json", result],
            capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        meta = json.loads(out.stdout)
        assert (meta["StatusCode"], meta["ExecutedVersion"]) == (200, "$LATEST")
        assert json.load(open(result))["event"] == {"from": "cli"}
    lam.delete_function(FunctionName=name)


KEY_ID, SECRET = "AKIDLAMBDATEST", "lambda/s3cr3t+Key"


@pytest.fixture(scope="module")
def signed_portico():
    with tempfile.NamedTemporaryFile("w", suffix=".creds", delete=False) as f:
        f.write(f"{KEY_ID}:{SECRET}\n")
    p = Portico(extra=("--access-log", "off", "--admin-credentials", f.name))
    yield p
    p.stop()
    os.unlink(f.name)


def test_sigv4_accepts_lambdas_signing_name_on_lambda_routes(signed_portico):
    lam = lambda_client(signed_portico, KEY_ID, SECRET)
    name = fresh("signed")
    create(lam, name)
    assert invoke(lam, name, {"signed": True})[1]["event"] == {"signed": True}
    assert name in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    # A name given as an ARN travels percent-encoded in the signed path.
    assert lam.get_function(FunctionName=ARN + name)["Configuration"]["FunctionName"] == name
    with pytest.raises(ClientError) as e:
        lambda_client(signed_portico, KEY_ID, "wrong").list_functions()
    assert error_of(e)[:2] == (403, "InvalidSignatureException")
    # The apigateway routes still want their own service's signatures.
    apigw = boto3.client("apigateway", endpoint_url=f"http://{signed_portico.admin}",
                         region_name="us-east-1", aws_access_key_id=KEY_ID,
                         aws_secret_access_key=SECRET, config=Config(retries={"max_attempts": 1}))
    assert "items" in apigw.get_rest_apis()
    # A request signed for apigateway is refused on a Lambda route, and the other way round.
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    import urllib.error
    import urllib.request
    for path, service, expected in [("/2015-03-31/functions", "apigateway", "'lambda'"),
                                    ("/restapis", "lambda", "'apigateway'")]:
        req = AWSRequest(method="GET", url=f"http://{signed_portico.admin}{path}")
        botocore.auth.SigV4Auth(Credentials(KEY_ID, SECRET), service, "us-east-1").add_auth(req)
        prepared = urllib.request.Request(req.url, headers=dict(req.headers.items()))
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(prepared, timeout=5)
        assert e.value.code == 403
        assert expected in e.value.read().decode()
    lam.delete_function(FunctionName=name)
