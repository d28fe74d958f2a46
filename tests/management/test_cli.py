"""The same build-deploy-invoke-update-delete flow with `aws apigateway …` commands (the aws CLI
from PyPI) pointed at Portico with --endpoint-url."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

AWS = os.path.join(os.path.dirname(sys.executable), "aws")


def aws(portico, *args, check=True):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
    out = subprocess.run(
        [AWS, "apigateway", *args, "--endpoint-url", f"http://{portico.admin}", "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    if check:
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else None
    return out


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_cli_flow(portico):
    api = aws(portico, "create-rest-api", "--name", "cli-pets")
    api_id = api["id"]
    root = aws(portico, "get-resources", "--rest-api-id", api_id)["items"][0]["id"]
    res = aws(portico, "create-resource", "--rest-api-id", api_id, "--parent-id", root, "--path-part", "pets")
    assert res["path"] == "/pets"
    aws(portico, "put-method", "--rest-api-id", api_id, "--resource-id", res["id"],
        "--http-method", "GET", "--authorization-type", "NONE")
    aws(portico, "put-integration", "--rest-api-id", api_id, "--resource-id", res["id"],
        "--http-method", "GET", "--type", "MOCK",
        "--request-templates", json.dumps({"application/json": '{"statusCode": 200}'}))
    aws(portico, "put-method-response", "--rest-api-id", api_id, "--resource-id", res["id"],
        "--http-method", "GET", "--status-code", "200")
    aws(portico, "put-integration-response", "--rest-api-id", api_id, "--resource-id", res["id"],
        "--http-method", "GET", "--status-code", "200",
        "--response-templates", json.dumps({"application/json": '{"from": "cli"}'}))
    dep = aws(portico, "create-deployment", "--rest-api-id", api_id, "--stage-name", "cli")
    summary = aws(portico, "get-deployment", "--rest-api-id", api_id, "--deployment-id", dep["id"], "--embed", "apisummary")
    assert summary["apiSummary"]["/pets"]["GET"]["authorizationType"] == "NONE"

    url = portico.invoke_url(api_id, "cli", "/pets")
    deadline = time.time() + 5
    while http_get(url)[0] != 200:
        assert time.time() < deadline, "deployment never served"
        time.sleep(0.05)
    assert json.loads(http_get(url)[1]) == {"from": "cli"}

    stage = aws(portico, "update-stage", "--rest-api-id", api_id, "--stage-name", "cli",
                "--patch-operations", "op=replace,path=/variables/color,value=blue")
    assert stage["variables"] == {"color": "blue"}

    # Export through the CLI, re-import the export into a new API: identical behaviour.
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        out_file = os.path.join(tmp, "export.json")
        aws(portico, "get-export", "--rest-api-id", api_id, "--stage-name", "cli", "--export-type", "oas30",
            "--parameters", "extensions=apigateway", out_file)
        with open(out_file) as f:
            assert json.load(f)["paths"]["/pets"]["get"]["x-amazon-apigateway-integration"]["type"] == "mock"
        copy = aws(portico, "import-rest-api", "--body", f"fileb://{out_file}")
        aws(portico, "create-deployment", "--rest-api-id", copy["id"], "--stage-name", "cli")
        copy_url = portico.invoke_url(copy["id"], "cli", "/pets")
        deadline = time.time() + 5
        while http_get(copy_url)[0] != 200:
            assert time.time() < deadline, "re-imported copy never served"
            time.sleep(0.05)
        assert json.loads(http_get(copy_url)[1]) == {"from": "cli"}
        aws(portico, "delete-rest-api", "--rest-api-id", copy["id"])

    missing = aws(portico, "get-rest-api", "--rest-api-id", "nope000000", check=False)
    assert missing.returncode != 0
    assert "NotFoundException" in missing.stderr
    assert "Invalid API identifier specified 000000000000:nope000000" in missing.stderr

    dup = aws(portico, "create-resource", "--rest-api-id", api_id, "--parent-id", root, "--path-part", "pets", check=False)
    assert dup.returncode != 0 and "ConflictException" in dup.stderr

    aws(portico, "delete-rest-api", "--rest-api-id", api_id)
    assert all(a["id"] != api_id for a in aws(portico, "get-rest-apis")["items"])
