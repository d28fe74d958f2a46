"""AWS_PROXY and Lambda AWS integrations through the data plane, black-box, with real runtime
clients: Python (Portico's bootstrap), Python through the official `awslambdaric`, Node.js, and
Rust handlers built with `lambda_runtime` (whose `aws_lambda_events` types must parse Portico's
events) and `lambda_http` (which parses API Gateway events itself). Functions are created with
boto3's lambda client; APIs with boto3's apigateway client; requests are plain HTTP."""
import io
import json
import os
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile

import boto3
import pytest
from botocore.config import Config

from conftest import ROOT, Portico

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
RUST = os.path.join(ROOT, "tests", "lambda", "rust-handlers")


def zip_of(files, modes=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o644) | stat.S_IFREG) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def portico():
    p = Portico()
    yield p
    p.stop()


def clients(p):
    kw = dict(endpoint_url=f"http://{p.admin}", region_name="us-east-1", aws_access_key_id="test",
              aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    return boto3.client("apigateway", **kw), boto3.client("lambda", **kw)


@pytest.fixture(scope="module")
def apigw(portico):
    return clients(portico)[0]


@pytest.fixture(scope="module")
def lam(portico):
    return clients(portico)[1]


def create_function(lam, name, runtime, handler, files, modes=None, **kw):
    lam.create_function(FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE,
                        Code={"ZipFile": zip_of(files, modes)}, **kw)
    return f"arn:aws:lambda:us-east-1:000000000000:function:{name}"


def proxy_api(apigw, name, function_arn, path_part="{proxy+}", kind="AWS_PROXY", **integration):
    api = apigw.create_rest_api(name=name)["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    res = apigw.create_resource(restApiId=api, parentId=root, pathPart=path_part)["id"]
    apigw.put_method(restApiId=api, resourceId=res, httpMethod="ANY", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api, resourceId=res, httpMethod="ANY", type=kind, integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations",
        **integration)
    return api, res


def deploy(apigw, api, **kw):
    apigw.create_deployment(restApiId=api, stageName="dev", **kw)


def call(p, api, path, method="GET", body=None, headers=None):
    req = urllib.request.Request(f"http://{p.data_plane}/restapis/{api}/dev/_user_request_{path}",
                                 method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


PY_ECHO = """
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"x-runtime": "python"},
            "body": json.dumps({"event": event, "function": context.function_name})}
"""


def test_a_python_handler_gets_the_event_and_answers(portico, apigw, lam):
    arn = create_function(lam, "py-echo", "python3.12", "index.handler", {"index.py": PY_ECHO},
                          Environment={"Variables": {"A": "1"}})
    api, _ = proxy_api(apigw, "lambda-py", arn)
    deploy(apigw, api, variables={"env": "dev"})
    st, headers, body = call(portico, api, "/items/42?q=one&q=two", headers={"X-Custom-Header": "Value"})
    assert st == 200, body
    assert headers["x-runtime"] == "python"
    got = json.loads(body)
    assert got["function"] == "py-echo"
    e = got["event"]
    assert (e["resource"], e["path"], e["httpMethod"]) == ("/{proxy+}", "/items/42", "GET")
    assert e["pathParameters"] == {"proxy": "items/42"}
    assert e["queryStringParameters"] == {"q": "two"}
    assert e["multiValueQueryStringParameters"] == {"q": ["one", "two"]}
    assert e["headers"]["X-Custom-Header"] == "Value"
    assert e["stageVariables"] == {"env": "dev"}
    assert e["requestContext"]["stage"] == "dev" and e["requestContext"]["apiId"] == api
    assert e["body"] is None and e["isBase64Encoded"] is False
    st, _, body = call(portico, api, "/items", method="POST", body=b'{"n": 1}',
                       headers={"Content-Type": "application/json"})
    assert json.loads(body)["event"]["body"] == '{"n": 1}'


NODE = """
exports.handler = async (event, context) => ({
  statusCode: 202,
  multiValueHeaders: { "X-Multi": ["a", "b"] },
  body: JSON.stringify({ path: event.path, fn: context.functionName }),
});
"""


def test_a_node_handler(portico, apigw, lam):
    arn = create_function(lam, "node-hello", "nodejs20.x", "index.handler", {"index.js": NODE})
    api, _ = proxy_api(apigw, "lambda-node", arn)
    deploy(apigw, api)
    st, headers, body = call(portico, api, "/x/y")
    assert st == 202, body
    assert headers["X-Multi"] == "a, b"
    assert json.loads(body) == {"path": "/x/y", "fn": "node-hello"}


def test_awslambdaric_runs_a_python_handler(portico, apigw, lam):
    pytest.importorskip("awslambdaric", reason="awslambdaric is in tests/requirements.txt")
    bootstrap = f"#!/bin/sh\nexec {sys.executable} -m awslambdaric \"$_HANDLER\"\n"
    handler = ("import json\n"
               "def handler(event, context):\n"
               "    return {'statusCode': 200, 'body': json.dumps({'ric': True, 'path': event['path'],"
               " 'requestId': context.aws_request_id})}\n")
    arn = create_function(lam, "ric", "provided.al2023", "app.handler",
                          {"bootstrap": bootstrap, "app.py": handler}, modes={"bootstrap": 0o755})
    api, _ = proxy_api(apigw, "lambda-ric", arn)
    deploy(apigw, api)
    st, _, body = call(portico, api, "/ric")
    assert st == 200, body
    got = json.loads(body)
    assert got["ric"] is True and got["path"] == "/ric" and len(got["requestId"]) == 36


@pytest.fixture(scope="module")
def rust_handlers():
    target = os.path.join(ROOT, "target", "rust-handlers")
    out = subprocess.run(["cargo", "build", "--locked", "--bins", "--manifest-path", os.path.join(RUST, "Cargo.toml")],
                         env={**os.environ, "CARGO_TARGET_DIR": target}, capture_output=True, text=True,
                         timeout=1200)
    assert out.returncode == 0, out.stderr[-4000:]
    return os.path.join(target, "debug")


def rust_function(lam, name, binary):
    with open(binary, "rb") as f:
        code = f.read()
    return create_function(lam, name, "provided.al2023", "bootstrap", {"bootstrap": code},
                           modes={"bootstrap": 0o755})


def test_a_lambda_runtime_handler_parses_portico_events(portico, apigw, lam, rust_handlers):
    arn = rust_function(lam, "rust-echo", os.path.join(rust_handlers, "runtime-echo"))
    api, _ = proxy_api(apigw, "lambda-rust", arn)
    deploy(apigw, api)
    st, _, body = call(portico, api, "/deep/path?q=1", method="POST", body=b"hello",
                       headers={"Content-Type": "text/plain"})
    assert st == 200, body
    got = json.loads(body)
    assert got["parsed"] is True, "aws_lambda_events::ApiGatewayProxyRequest read Portico's event"
    assert (got["path"], got["method"], got["resource"], got["query"]) == ("/deep/path", "POST", "/{proxy+}", "1")
    assert got["stage"] == "dev" and got["sourceIp"] == "127.0.0.1" and got["body"] == "hello"


def test_a_lambda_http_handler(portico, apigw, lam, rust_handlers):
    arn = rust_function(lam, "rust-http", os.path.join(rust_handlers, "http-hello"))
    api, _ = proxy_api(apigw, "lambda-rust-http", arn)
    deploy(apigw, api)
    st, headers, body = call(portico, api, "/greet?name=rust")
    assert st == 201, body
    assert headers["x-handler"] == "lambda_http"
    got = json.loads(body)
    assert got["hello"] == "rust" and got["method"] == "GET"
    assert got["path"].endswith("/greet")


FAULTS = """
import json, os, time
def handler(event, context):
    what = (event.get("queryStringParameters") or {}).get("do")
    if what == "sleep":
        time.sleep(3)
    if what == "crash":
        os._exit(1)
    if what == "raise":
        raise RuntimeError("nope")
    if what == "malformed":
        return {"statusCode": 200, "unexpected": True}
    if what == "slow":
        time.sleep(0.5)
    return {"statusCode": 200, "body": json.dumps({"pid": os.getpid()})}
"""


def test_failures_answer_as_aws_and_the_function_recovers(portico, apigw, lam):
    arn = create_function(lam, "faults", "python3.12", "index.handler", {"index.py": FAULTS}, Timeout=1)
    api, _ = proxy_api(apigw, "lambda-faults", arn)
    deploy(apigw, api)
    internal = b'{"message": "Internal server error"}'
    for what in ("sleep", "crash", "raise", "malformed"):
        st, headers, body = call(portico, api, f"/f?do={what}")
        assert (st, body) == (502, internal), (what, st, body)
        assert headers["x-amzn-ErrorType"] == "InternalServerErrorException"
        st, _, body = call(portico, api, "/f")
        assert st == 200, (what, body)


def test_reserved_concurrency_bounds_workers(portico, apigw, lam):
    arn = create_function(lam, "bounded", "python3.12", "index.handler", {"index.py": FAULTS})
    lam.put_function_concurrency(FunctionName="bounded", ReservedConcurrentExecutions=2)
    api, _ = proxy_api(apigw, "lambda-bounded", arn)
    deploy(apigw, api)
    results = []

    def one():
        results.append(call(portico, api, "/b?do=slow"))
    started = time.time()
    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[0] for r in results] == [200] * 6
    pids = {json.loads(r[2])["pid"] for r in results}
    assert len(pids) <= 2, pids
    assert time.time() - started >= 1.4, "6 calls of 0.5 s on 2 workers take 3 rounds"
    # Reserved concurrency 0: Lambda throttles every call; API Gateway answers 500.
    lam.put_function_concurrency(FunctionName="bounded", ReservedConcurrentExecutions=0)
    time.sleep(0.3)
    st, _, body = call(portico, api, "/b")
    assert (st, body) == (500, b'{"message": "Internal server error"}')


SELECT = """
def handler(event, context):
    code = event.get("statusCode")
    if code == "400":
        raise Exception("Error: Raising four hundred from within the Lambda function")
    return {"echo": event}
"""


def test_a_lambda_aws_integration_maps_results_and_errors(portico, apigw, lam):
    arn = create_function(lam, "select", "python3.12", "index.handler", {"index.py": SELECT})
    api, res = proxy_api(apigw, "lambda-aws", arn, path_part="{statusCode}", kind="AWS",
                         requestTemplates={"application/json": '{"statusCode": "$input.params(\'statusCode\')"}'})
    for code, pattern in (("200", ""), ("405", ".*four hundred.*")):
        apigw.put_method_response(restApiId=api, resourceId=res, httpMethod="ANY", statusCode=code)
        apigw.put_integration_response(restApiId=api, resourceId=res, httpMethod="ANY", statusCode=code,
                                       selectionPattern=pattern,
                                       responseTemplates={"application/json": "$input.json('$')"} if code == "200" else {})
    deploy(apigw, api)
    st, _, body = call(portico, api, "/200")
    assert (st, json.loads(body)) == (200, {"echo": {"statusCode": "200"}})
    st, _, body = call(portico, api, "/400")
    assert st == 405
    assert json.loads(body)["errorMessage"] == "Error: Raising four hundred from within the Lambda function"


def test_the_example_api_serves_its_lambda_route(portico, apigw, lam):
    """examples/functions/hello through the local-directory form, as the quick start creates it."""
    lam.create_function(FunctionName="hello", Runtime="python3.12", Handler="index.handler", Role=ROLE,
                        Code={"S3Bucket": "hot-reload", "S3Key": os.path.join(ROOT, "examples", "functions", "hello")})
    api, _ = proxy_api(apigw, "lambda-hello", "arn:aws:lambda:us-east-1:000000000000:function:hello")
    deploy(apigw, api)
    st, _, body = call(portico, api, "/hello?name=test")
    assert st == 200, body
    assert json.loads(body)["message"] == "hello, test"


STUBBORN = """#!/bin/sh
# A provided runtime that answers once and then ignores the Runtime API: it would outlive a
# gateway killed with SIGKILL if nothing reaped it.
base="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
hdrs=$(mktemp)
curl -sS -D "$hdrs" "$base/next" >/dev/null
id=$(grep -i '^lambda-runtime-aws-request-id:' "$hdrs" | cut -d' ' -f2 | tr -d '\\r')
curl -sS -X POST -d '{"statusCode": 200, "body": "'$$'"}' "$base/$id/response" >/dev/null
trap '' TERM HUP
exec sleep 600
"""


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def test_workers_do_not_outlive_a_killed_gateway():
    """kill -9 of Portico: workers that follow the Runtime API exit when it goes away; one that
    ignores it is reaped by the next start on the same data directory."""
    p = Portico()
    apigw, lam = clients(p)
    try:
        arn = create_function(lam, "py-pid", "python3.12", "index.handler", {"index.py": FAULTS})
        api, _ = proxy_api(apigw, "lambda-pid", arn)
        deploy(apigw, api)
        py_pid = json.loads(call(p, api, "/x")[2])["pid"]
        sh = create_function(lam, "stubborn", "provided.al2023", "x", {"bootstrap": STUBBORN},
                             modes={"bootstrap": 0o755})
        api2, _ = proxy_api(apigw, "lambda-stubborn", sh)
        deploy(apigw, api2)
        st, _, body = call(p, api2, "/x")
        assert st == 200, body
        sh_pid = int(body)
        assert alive(py_pid) and alive(sh_pid)
    finally:
        p.proc.kill()
        p.proc.wait()
    deadline = time.time() + 5
    while alive(py_pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(py_pid), "the Python worker exits when its Runtime API is gone"
    assert alive(sh_pid), "the stubborn worker survived the SIGKILL (nothing can stop it then)"
    again = Portico(data_dir=p.data)
    try:
        deadline = time.time() + 5
        while alive(sh_pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not alive(sh_pid), "the next start reaps workers left behind"
    finally:
        again.stop()


def test_a_remote_function_is_invoked_on_another_endpoint_signed_with_sigv4(tmp_path):
    """Portico A maps `remote-echo` to Portico B's Lambda Invoke endpoint, which verifies SigV4
    (service `lambda`) against its credentials: A's calls arrive signed, and B's function answers
    A's data plane. With a wrong secret B refuses, and A answers 500."""
    creds = tmp_path / "creds"
    creds.write_text("AKIDREMOTE:remote-secret-123\n")
    b = Portico(extra=("--access-log", "off", "--admin-credentials", str(creds)))
    kw = dict(endpoint_url=f"http://{b.admin}", region_name="us-east-1", aws_access_key_id="AKIDREMOTE",
              aws_secret_access_key="remote-secret-123", config=Config(retries={"max_attempts": 1}))
    boto3.client("lambda", **kw).create_function(
        FunctionName="remote-echo", Runtime="python3.12", Handler="index.handler", Role=ROLE,
        Code={"ZipFile": zip_of({"index.py": PY_ECHO})})
    good = Portico(extra=("--access-log", "off", "--remote-function", f"remote-echo=http://{b.admin}"),
                   env={"AWS_ACCESS_KEY_ID": "AKIDREMOTE", "AWS_SECRET_ACCESS_KEY": "remote-secret-123"})
    bad = Portico(extra=("--access-log", "off", "--remote-function", f"remote-echo=http://{b.admin}"),
                  env={"AWS_ACCESS_KEY_ID": "AKIDREMOTE", "AWS_SECRET_ACCESS_KEY": "wrong"})
    try:
        for p, want in ((good, 200), (bad, 500)):
            apigw, _ = clients(p)
            api, _ = proxy_api(apigw, "remote", "arn:aws:lambda:us-east-1:000000000000:function:remote-echo")
            deploy(apigw, api)
            st, _, body = call(p, api, "/far/away")
            assert st == want, body
            if want == 200:
                got = json.loads(body)
                assert got["function"] == "remote-echo"
                assert got["event"]["path"] == "/far/away"
    finally:
        for p in (good, bad, b):
            p.stop()
