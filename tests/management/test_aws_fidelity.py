"""What recordings of real API Gateway showed Portico doing differently (issue 10), driven the way a
user meets it: an API built with boto3, deployed, called at once over HTTP.

- a deployment is served when `CreateDeployment` returns (no polling delay in the same process);
- Velocity nulls render as nothing (`$input.path` misses, JSON nulls, properties of `$input.body`,
  `$util` of null, undefined stage variables);
- `$context.responseOverride` / `requestOverride` live for the whole request (request template →
  response template → final response), with every assignment form AWS accepts;
- the AWS CDK's lenient MOCK template `{ statusCode: 200 }`;
- restricted headers in parameter mapping answer AWS's 500;
- response headers AWS adds (and the trace id it leaves off MOCK responses).
"""
import http.server
import json
import threading
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config

from conftest import Portico


def call(url, method="GET", body=None, headers=None):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def client(p):
    return boto3.client(
        "apigateway", endpoint_url=f"http://{p.admin}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def slow_feed():
    """A server whose change feed is polled only every 10 minutes: whatever it serves right after
    a management call, that call published itself."""
    p = Portico(reload_ms=600_000)
    yield p
    p.stop()


def mock_method(apigw, api_id, parent, path, request_template, response_template=None,
                http_method="GET", response_parameters=None):
    res = apigw.create_resource(restApiId=api_id, parentId=parent, pathPart=path)["id"]
    apigw.put_method(restApiId=api_id, resourceId=res, httpMethod=http_method,
                     authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=res, httpMethod=http_method, type="MOCK",
                          requestTemplates={"application/json": request_template})
    apigw.put_method_response(restApiId=api_id, resourceId=res, httpMethod=http_method,
                              statusCode="200")
    kwargs = {}
    if response_template is not None:
        kwargs["responseTemplates"] = {"application/json": response_template}
    if response_parameters:
        kwargs["responseParameters"] = response_parameters
    apigw.put_integration_response(restApiId=api_id, resourceId=res, httpMethod=http_method,
                                   statusCode="200", selectionPattern="", **kwargs)
    return res


def http_method(apigw, api_id, parent, path, uri, kind="HTTP", http_method="GET",
                request_templates=None, request_parameters=None, method_parameters=None,
                response_parameters=None):
    """An HTTP (with a default 200 integration response) or HTTP_PROXY method at `parent/path`."""
    res = apigw.create_resource(restApiId=api_id, parentId=parent, pathPart=path)["id"]
    apigw.put_method(restApiId=api_id, resourceId=res, httpMethod=http_method,
                     authorizationType="NONE", requestParameters=method_parameters or {})
    apigw.put_integration(restApiId=api_id, resourceId=res, httpMethod=http_method, type=kind,
                          integrationHttpMethod=http_method, uri=uri,
                          requestTemplates=request_templates or {},
                          requestParameters=request_parameters or {})
    if kind == "HTTP":
        apigw.put_method_response(restApiId=api_id, resourceId=res, httpMethod=http_method,
                                  statusCode="200")
        apigw.put_integration_response(restApiId=api_id, resourceId=res, httpMethod=http_method,
                                       statusCode="200", selectionPattern="",
                                       responseParameters=response_parameters or {})
    return res


def root_of(apigw, api_id):
    return apigw.get_resources(restApiId=api_id)["items"][0]["id"]


# --- 4. What you deploy is served when the call returns ---------------------------------------

def test_a_deployment_is_served_when_create_deployment_returns(slow_feed):
    apigw = client(slow_feed)
    api_id = apigw.create_rest_api(name="read-your-writes")["id"]
    res = mock_method(apigw, api_id, root_of(apigw, api_id), "v", '{"statusCode": 200}', "v0")
    url = slow_feed.invoke_url(api_id, "dev", "/v")
    for n in range(1, 6):
        apigw.update_integration_response(
            restApiId=api_id, resourceId=res, httpMethod="GET", statusCode="200",
            patchOperations=[{"op": "replace",
                              "path": "/responseTemplates/application~1json",
                              "value": f"v{n} $stageVariables.tag"}])
        apigw.create_deployment(restApiId=api_id, stageName="dev", variables={"tag": f"t{n}"})
        # No sleep, no retry: the first request after the call sees the new deployment.
        assert call(url)[:2] == (200, f"v{n} t{n}")


def test_stage_updates_and_deletes_are_served_when_the_call_returns(slow_feed):
    apigw = client(slow_feed)
    api_id = apigw.create_rest_api(name="stage-changes")["id"]
    mock_method(apigw, api_id, root_of(apigw, api_id), "s", '{"statusCode": 200}',
                "[$stageVariables.color]")
    apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"color": "red"})
    url = slow_feed.invoke_url(api_id, "prod", "/s")
    assert call(url)[:2] == (200, "[red]")
    apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/variables/color", "value": "blue"}])
    assert call(url)[:2] == (200, "[blue]")
    apigw.delete_stage(restApiId=api_id, stageName="prod")
    status, body, _ = call(url)
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})


# --- 1. Velocity nulls --------------------------------------------------------------------------

NULLS = ('#set($result = $input.path("$.nonExisting")){"body": $result, "nested": $result.nested, '
         '"isNull": #if( $result == $null )"true"#else"false"#end, '
         '"isEmptyString": #if( $result == "" )"true"#else"false"#end}')


def test_null_references_render_as_nothing_through_the_data_plane(portico, apigw):
    api_id = apigw.create_rest_api(name="nulls")["id"]
    root = root_of(apigw, api_id)
    mock_method(apigw, api_id, root, "path", '{"statusCode": 200}', NULLS)
    mock_method(apigw, api_id, root, "list", '{"statusCode": 200}',
                NULLS.replace("$.nonExisting", "$.listValue"))
    mock_method(apigw, api_id, root, "misc", '{"statusCode": 200}',
                "[$stageVariables.noSuchVar][$neverSet][$neverSet.x][$!neverSet]"
                "#set($s = \"a$neverSet\")[$s][$util.urlEncode($neverSet)][$context.noSuch]")
    apigw.create_deployment(restApiId=api_id, stageName="dev", variables={"known": "k"})
    # MOCK response templates read the (empty) integration body: the path is missing.
    status, body, _ = call(portico.invoke_url(api_id, "dev", "/path"))
    assert (status, body) == (200, '{"body": , "nested": , "isNull": "true", "isEmptyString": "true"}')
    assert call(portico.invoke_url(api_id, "dev", "/misc"))[:2] == (200, "[][][][][a][][]")


def _java_hash_map_order(keys, capacity=16):
    """How a java.util.HashMap filled with `keys` iterates them (bucket of the spread hash)."""
    while len(keys) * 4 > capacity * 3:
        capacity *= 2

    def bucket(k):
        h = 0
        for unit in k.encode("utf-16-le").decode("utf-16-le"):
            h = (31 * h + ord(unit)) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (capacity - 1)
    return sorted(keys, key=bucket)


def test_context_key_set_iterates_like_awss_hash_map(portico, apigw):
    # AWS's $context is a Java HashMap: keySet() walks it in bucket order (LocalStack's AWS
    # recording test_sqs_amz_json_protocol shows resourceId, resourcePath, httpMethod, ... apiId).
    api_id = apigw.create_rest_api(name="context-order")["id"]
    mock_method(apigw, api_id, root_of(apigw, api_id), "keys", '{"statusCode": 200}',
                "#foreach($k in $context.keySet())$k#if($foreach.hasNext),#end#end"
                "|#foreach($k in $context.identity.keySet())$k#if($foreach.hasNext),#end#end")
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    status, body, _ = call(portico.invoke_url(api_id, "dev", "/keys"))
    assert status == 200
    top, identity = (part.split(",") for part in body.split("|"))
    assert top == _java_hash_map_order(top) and identity == _java_hash_map_order(identity)
    shared = [k for k in top if k in {"resourceId", "resourcePath", "httpMethod", "requestTime",
                                      "stage", "domainPrefix", "requestTimeEpoch", "apiId"}]
    assert shared == ["resourceId", "resourcePath", "httpMethod", "requestTime", "stage",
                      "domainPrefix", "requestTimeEpoch", "apiId"]


def test_request_template_nulls_reach_an_http_backend_as_nothing(portico, apigw, backend):
    api_id = apigw.create_rest_api(name="nulls-http")["id"]
    http_method(apigw, api_id, root_of(apigw, api_id), "echo", f"{backend.url}/echo",
                http_method="POST",
                request_templates={"application/json":
                                   "v=$input.path('$.value')|m=$input.path('$.missing')"
                                   "|b=$util.urlEncode($input.body.testAccess)"
                                   "|s=$stageVariables.nope"})
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    status, _, _ = call(portico.invoke_url(api_id, "dev", "/echo"), "POST",
                        json.dumps({"value": None, "other": 1}),
                        {"Content-Type": "application/json"})
    assert status == 200
    assert backend.last["body"] == "v=|m=|b=|s="


# --- 2. Overrides across the whole request ------------------------------------------------------

def test_response_override_set_in_the_request_template_applies_to_the_final_response(portico, apigw):
    api_id = apigw.create_rest_api(name="overrides")["id"]
    root = root_of(apigw, api_id)
    request = ('#set($context.responseOverride.status = 444)'
               '#set($context.responseOverride.header.foo = "bar")'
               '#set($context.responseOverride.custom = "is also passed around")'
               '{"statusCode": 200}')
    mock_method(apigw, api_id, root, "with", request,
                '{"statusOverride": "$context.responseOverride.status", '
                '"custom": "$context.responseOverride.custom"}')
    mock_method(apigw, api_id, root, "without", request)
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    status, body, headers = call(portico.invoke_url(api_id, "dev", "/with"))
    assert status == 444
    assert headers["foo"] == "bar"
    assert json.loads(body) == {"statusOverride": "444", "custom": "is also passed around"}
    status, body, headers = call(portico.invoke_url(api_id, "dev", "/without"))
    assert (status, body, headers["foo"]) == (444, "", "bar")


def test_every_assignment_form_on_the_override_maps(portico, apigw):
    api_id = apigw.create_rest_api(name="override-forms")["id"]
    request = ('#set($paramName = "foo")'
               '#set($context.requestOverride.querystring[$paramName] = "bar")\n'
               '$context.requestOverride.querystring.put("putfoo", "putBar")\n'
               '#set($context["requestOverride"].querystring["nestedfoo"] = "nestedFoo")\n'
               '#set($context.requestOverride.path.body = \'{"branch": "b"}\')'
               '{"statusCode": 200}')
    response = ('#set($q = $context.requestOverride.querystring)'
                '#set($b = $util.parseJson($context.requestOverride.path.body))'
                '$q.foo|$q.putfoo|$q.nestedfoo|#if($b.branch == "a")A#elseif($b.branch == "b")B#end')
    mock_method(apigw, api_id, root_of(apigw, api_id), "forms", request, response)
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    assert call(portico.invoke_url(api_id, "dev", "/forms"))[:2] == (200, "bar|putBar|nestedFoo|B")


def test_overrides_reach_an_http_backend_and_the_client(portico, apigw, backend):
    api_id = apigw.create_rest_api(name="override-http")["id"]
    http_method(apigw, api_id, root_of(apigw, api_id), "o", f"{backend.url}/echo",
                request_templates={"application/json":
                                   '#set($context.requestOverride.header.X-From-Template = "t1")'
                                   '#set($context.requestOverride.querystring.q = "v1")'
                                   '#set($context.responseOverride.status = 202)'
                                   '#set($context.responseOverride.header.X-Late = "late")'})
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    status, _, headers = call(portico.invoke_url(api_id, "dev", "/o"))
    assert (status, headers["X-Late"]) == (202, "late")
    assert backend.last["headers"]["x-from-template"] == "t1"
    assert backend.last["path"] == "/echo?q=v1"


# --- 2b. Lenient MOCK request templates ---------------------------------------------------------

def test_cdk_preflight_mock_template_with_an_unquoted_key(portico, apigw):
    api_id = apigw.create_rest_api(name="cdk-cors")["id"]
    mock_method(apigw, api_id, root_of(apigw, api_id), "pre", "{ statusCode: 200 }",
                http_method="OPTIONS",
                response_parameters={
                    "method.response.header.Access-Control-Allow-Origin": "'*'"})
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    status, body, headers = call(portico.invoke_url(api_id, "dev", "/pre"), "OPTIONS")
    assert (status, body) == (200, "")
    assert headers["Access-Control-Allow-Origin"] == "*"


# --- A backend that records what it received ----------------------------------------------------

class _Recorder(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        self.server.last = {
            "method": self.command, "path": self.path, "body": body,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "raw_names": list(self.headers.keys()),
        }
        out = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend-Spelling", "Kept")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


class Backend:
    def __init__(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        self.server.last = None
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def last(self):
        return self.server.last


@pytest.fixture(scope="module")
def backend():
    b = Backend()
    yield b
    b.server.shutdown()


# --- 3b. Restricted headers; 5/5b. header spelling and the ids AWS adds --------------------------

import socket  # noqa: E402


def raw_call(host_port, method, path, headers=()):
    """One HTTP/1.1 exchange on a raw socket: (status, head text as sent, body)."""
    host, port = host_port.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host_port}", "Connection: close", *headers]
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    text = head.decode()
    return int(text.split(" ", 2)[1]), text, body.decode(errors="replace")


def header_names(head):
    return [line.split(":", 1)[0] for line in head.split("\r\n")[1:]]


def proxy_path(api_id, stage, path):
    return f"/restapis/{api_id}/{stage}/_user_request_{path}"


def test_mapping_a_refused_header_answers_awss_500(portico, apigw, backend):
    api_id = apigw.create_rest_api(name="refused-headers")["id"]
    root = root_of(apigw, api_id)
    cases = {"cl": ("HTTP", "Content-Length", "'0'"),
             "te": ("HTTP", "Transfer-Encoding", "'chunked'"),
             "proxycl": ("HTTP_PROXY", "Content-Length", "'0'"),
             "ok": ("HTTP", "X-Fine", "'yes'")}
    for path, (kind, name, value) in cases.items():
        http_method(apigw, api_id, root, path, f"{backend.url}/{path}", kind=kind,
                    request_parameters={f"integration.request.header.{name}": value})
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    for path in ("cl", "te", "proxycl"):
        status, body, headers = call(portico.invoke_url(api_id, "dev", f"/{path}"))
        assert (status, body) == (500, '{"message": "Internal server error"}'), path
        assert headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    assert call(portico.invoke_url(api_id, "dev", "/ok"))[0] == 200
    assert backend.last["headers"]["x-fine"] == "yes"


def test_header_names_keep_their_spelling_and_aws_ids_are_spelled_as_on_aws(portico, apigw, backend):
    api_id = apigw.create_rest_api(name="spelling")["id"]
    root = root_of(apigw, api_id)
    http_method(apigw, api_id, root, "proxy", f"{backend.url}/spelled", kind="HTTP_PROXY")
    http_method(apigw, api_id, root, "http", f"{backend.url}/http")
    mock_method(apigw, api_id, root, "mock", '{"statusCode": 200}', '{"m": 1}')
    apigw.create_deployment(restApiId=api_id, stageName="dev")

    # HTTP_PROXY: the client's spelling reaches the backend, the backend's comes back.
    status, head, _ = raw_call(portico.data_plane, "GET", proxy_path(api_id, "dev", "/proxy"),
                               ["X-Custom-Header: v", "x-lower-case: w", "ACCEPT: */*"])
    assert status == 200
    assert {"X-Custom-Header", "x-lower-case", "ACCEPT"} <= set(backend.last["raw_names"])
    names = header_names(head)
    assert "X-Backend-Spelling" in names and "Content-Type" in names
    # What API Gateway sets itself is remapped (recorded on AWS): the backend's Server and Date.
    lower = {n.lower() for n in names}
    assert {"x-amzn-remapped-server", "x-amzn-remapped-date"} <= lower
    assert "server" not in lower
    # No trace id on HTTP_PROXY responses, as recorded on AWS.
    assert "x-amzn-trace-id" not in lower and "x-amzn-requestid" in lower

    # MOCK: AWS's spelling of the ids, and no X-Amzn-Trace-Id.
    status, head, body = raw_call(portico.data_plane, "GET", proxy_path(api_id, "dev", "/mock"))
    names = header_names(head)
    assert (status, body) == (200, '{"m": 1}')
    assert {"x-amzn-RequestId", "x-amz-apigw-id", "Content-Type"} <= set(names)
    assert "x-amzn-trace-id" not in {n.lower() for n in names}

    # HTTP (non-proxy): the integration answered, so X-Amzn-Trace-Id is there.
    status, head, _ = raw_call(portico.data_plane, "GET", proxy_path(api_id, "dev", "/http"))
    assert status == 200
    assert {"x-amzn-RequestId", "x-amz-apigw-id", "X-Amzn-Trace-Id"} <= set(header_names(head))

    # A gateway-made error: x-amzn-ErrorType as AWS spells it, no trace id.
    status, head, _ = raw_call(portico.data_plane, "GET", proxy_path(api_id, "dev", "/nothing"))
    names = header_names(head)
    assert status == 403
    assert {"x-amzn-ErrorType", "x-amzn-RequestId"} <= set(names)
    assert "x-amzn-trace-id" not in {n.lower() for n in names}


def test_mapped_header_names_are_spelled_as_written_and_aws_remaps_its_own(portico, apigw, backend):
    api_id = apigw.create_rest_api(name="mapped-spelling")["id"]
    root = root_of(apigw, api_id)
    mock_method(apigw, api_id, root, "m", '{"statusCode": 200}', "ok",
                response_parameters={
                    "method.response.header.X-Portico-Example": "'mock'",
                    "method.response.header.Server": "'mine'",
                    "method.response.header.WWW-Authenticate": "'Basic'",
                    "method.response.header.Transfer-Encoding": "'gzip'"})
    http_method(apigw, api_id, root, "h", f"{backend.url}/mapped",
                method_parameters={"method.request.header.x-in": False},
                request_parameters={
                    "integration.request.header.X-Mapped-Name": "method.request.header.x-in",
                    "integration.request.header.Expect": "'100-continue'",
                    "integration.request.header.Via": "'1.1 mine'"},
                response_parameters={
                    "method.response.header.X-From-Backend":
                        "integration.response.header.X-Backend-Spelling"})
    apigw.create_deployment(restApiId=api_id, stageName="dev")

    status, head, body = raw_call(portico.data_plane, "GET", proxy_path(api_id, "dev", "/m"))
    assert (status, body) == (200, "ok")
    lines = head.split("\r\n")[1:]
    assert "X-Portico-Example: mock" in lines
    # Recorded on AWS: headers API Gateway sets itself are remapped, Transfer-Encoding dropped.
    assert "x-amzn-Remapped-Server: mine" in lines
    assert "x-amzn-Remapped-WWW-Authenticate: Basic" in lines
    assert not any(line.lower().startswith(("server:", "transfer-encoding:")) for line in lines)

    status, head, _ = raw_call(portico.data_plane, "GET", proxy_path(api_id, "dev", "/h"),
                               ["x-in: v"])
    assert status == 200
    assert "X-Mapped-Name" in backend.last["raw_names"]
    assert backend.last["headers"]["x-mapped-name"] == "v"
    assert "expect" not in backend.last["headers"] and "via" not in backend.last["headers"]
    assert "X-From-Backend: Kept" in head.split("\r\n")[1:]


def test_templates_show_header_names_as_the_client_spelled_them(portico, apigw):
    api_id = apigw.create_rest_api(name="params-spelling")["id"]
    mock_method(apigw, api_id, root_of(apigw, api_id), "p", '{"statusCode": 200}',
                "#foreach($k in $input.params().header.keySet())#if($k.startsWith('X') || "
                "$k.startsWith('x'))$k,#end#end|$input.params('x-custom-header')"
                "|$input.params().header.get('X-Custom-Header')")
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    status, _, body = raw_call(portico.data_plane, "GET", proxy_path(api_id, "dev", "/p"),
                               ["X-Custom-Header: v", "x-lower: w", "X-MiXeD-case: m"])
    assert status == 200
    names, lookup, get = body.split("|")
    assert names.split(",")[:-1] == ["X-Custom-Header", "x-lower", "X-MiXeD-case"]
    # Lookups by name stay case-insensitive.
    assert (lookup, get) == ("v", "v")


def test_context_maps_print_as_nothing_but_read_and_assign_like_maps(portico, apigw):
    api_id = apigw.create_rest_api(name="context-maps")["id"]
    mock_method(apigw, api_id, root_of(apigw, api_id), "c", '{"statusCode": 200}',
                '[$context.identity][$context.requestOverride.header]'
                '#set($context.requestOverride.header.x = "1")'
                '[$context.requestOverride.header.x][$context.identity.sourceIp]'
                '[$context.identity.keySet().contains("accessKey")]'
                '[$context.keySet().contains("isCanaryRequest")]')
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    # Recorded on AWS: maps inside $context print as nothing; without an API key, an authorizer
    # or a canary, identity has accessKey and $context has no isCanaryRequest/authorizer.
    assert call(portico.invoke_url(api_id, "dev", "/c"))[:2] == (200, "[][][1][127.0.0.1][true][false]")


def test_a_body_that_is_not_json_text_reads_as_a_string_and_broken_json_is_a_400(portico, apigw, backend):
    api_id = apigw.create_rest_api(name="lenient-body")["id"]
    http_method(apigw, api_id, root_of(apigw, api_id), "b", f"{backend.url}/b",
                http_method="POST",
                request_templates={"application/json": "$input.json('$')|[$input.path('$.x')]"})
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    url = portico.invoke_url(api_id, "dev", "/b")
    ct = {"Content-Type": "application/json"}
    assert call(url, "POST", "a=b", ct)[0] == 200
    assert backend.last["body"] == '"a=b"|[]'
    status, body, _ = call(url, "POST", "{broken", ct)
    assert status == 400
    assert json.loads(body)["message"].startswith(
        "Could not parse request body into json: Could not parse payload into json: ")
