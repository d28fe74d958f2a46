"""Canary releases, black-box: a canary deployment on an existing stage takes `percentTraffic` %
of its requests (binomial tolerance) with its stage-variable overrides and
`$context.isCanaryRequest`, without moving the stage's `deploymentId`; promoting moves every
request to it, removing the canary moves every request back; a bad `percentTraffic` or a
canary with no stage is refused with AWS's error and changes nothing. Messages and shapes are
those LocalStack's AWS-validated `test_apigateway_canary.snapshot.json` records."""
import json
import re

import pytest
from botocore.exceptions import ClientError
from conftest import Portico, error_of

from traffic_kit import DataPlane, Http, client, mock_method, new_api, patch, resource, wait_until

TEMPLATE = '{"v": "%s", "x": "$stageVariables.x", "canary": "$context.isCanaryRequest"}'
STAGE = "live"


@pytest.fixture(scope="module")
def env():
    p = Portico()
    apigw = client(p)
    api_id, root = new_api(apigw, "canary-api")
    res = resource(apigw, api_id, root, "r")
    mock_method(apigw, api_id, res, template=TEMPLATE % "v1")
    d1 = apigw.create_deployment(restApiId=api_id, stageName=STAGE, variables={"x": "base"})["id"]
    # The API now answers v2; the canary deployment freezes that.
    apigw.put_integration_response(restApiId=api_id, resourceId=res, httpMethod="GET", statusCode="200",
                                   responseTemplates={"application/json": TEMPLATE % "v2"})
    dp = DataPlane(p)
    yield p, apigw, dp, api_id, d1
    dp.close()
    p.stop()


def call(dp, api_id):
    r = dp.call(api_id, STAGE, "/r")
    assert r.status == 200, r
    return r.json


def sample(dp, api_id, n):
    return [call(dp, api_id) for _ in range(n)]


def canary_count(portico, api_id):
    text = Http(portico.admin).request("GET", "/metrics").body.decode()
    return sum(int(m) for m in re.findall(
        rf'^apigateway_Count\{{api="{api_id}",[^}}]*stage="{STAGE}/Canary"[^}}]*\}} (\d+)$', text, re.M))


def deployments(apigw, api_id):
    return {d["id"] for d in apigw.get_deployments(restApiId=api_id)["items"]}


def test_canary_deployment_validation_matches_aws(env):
    _, apigw, _, api_id, _ = env
    before = deployments(apigw, api_id)
    canary = {"percentTraffic": 50, "stageVariableOverrides": {"x": "canary"}}
    prefix = "Invalid deployment content specified."
    cases = [
        ({}, prefix + "Non null and non empty stageName must be provided for canary deployment. "
                      "Provided value is null"),
        ({"stageName": ""}, prefix + "Non null and non empty stageName must be provided for canary "
                                     "deployment. Provided value is "),
        ({"stageName": "nope"}, prefix + "Stage nope must already be created before making a canary "
                                         "release deployment"),
    ]
    for kw, message in cases:
        with pytest.raises(ClientError) as e:
            apigw.create_deployment(restApiId=api_id, canarySettings=canary, **kw)
        assert error_of(e) == (400, "BadRequestException", message)
    with pytest.raises(ClientError) as e:
        apigw.create_stage(restApiId=api_id, stageName="dev3", deploymentId=next(iter(before)),
                           canarySettings={"deploymentId": "deploy"})
    assert error_of(e) == (400, "BadRequestException", "Deployment id does not exist")
    assert deployments(apigw, api_id) == before
    assert "dev3" not in {s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]}


def test_canary_takes_its_share_with_overrides_and_is_canary_request(env):
    p, apigw, dp, api_id, d1 = env
    wait_until("stage published", lambda: dp.call(api_id, STAGE, "/r").status == 200)
    # Without a canary, `$context` has no isCanaryRequest (a null renders empty).
    assert call(dp, api_id) == {"v": "v1", "x": "base", "canary": ""}
    d2 = apigw.create_deployment(
        restApiId=api_id, stageName=STAGE,
        canarySettings={"percentTraffic": 10, "stageVariableOverrides": {"x": "over"}})["id"]
    stage = apigw.get_stage(restApiId=api_id, stageName=STAGE)
    assert stage["deploymentId"] == d1
    assert stage["variables"] == {"x": "base"}
    assert stage["canarySettings"] == {"deploymentId": d2, "percentTraffic": 10.0,
                                       "stageVariableOverrides": {"x": "over"}, "useStageCache": False}
    # Published once `$context.isCanaryRequest` exists on the base deployment too.
    wait_until("canary published", lambda: call(dp, api_id)["canary"] != "")
    counted = canary_count(p, api_id)
    got = sample(dp, api_id, 1000)
    base = [r for r in got if r["v"] == "v1"]
    canary = [r for r in got if r["v"] == "v2"]
    assert len(base) + len(canary) == 1000
    # Binomial(1000, 0.1): mean 100, sigma 9.5; 4.5 sigma.
    assert 57 <= len(canary) <= 143, len(canary)
    assert all(r == {"v": "v1", "x": "base", "canary": "false"} for r in base)
    assert all(r == {"v": "v2", "x": "over", "canary": "true"} for r in canary)
    # The canary's requests are counted under stage `{stage}/Canary`.
    assert canary_count(p, api_id) - counted == len(canary)
    # The canary's deployment cannot be deleted while the canary uses it.
    with pytest.raises(ClientError) as e:
        apigw.delete_deployment(restApiId=api_id, deploymentId=d2)
    assert error_of(e)[:2] == (400, "BadRequestException")


def test_bad_percent_traffic_is_refused_and_changes_nothing(env):
    _, apigw, _, api_id, _ = env
    before = apigw.get_stage(restApiId=api_id, stageName=STAGE)
    deps = deployments(apigw, api_id)
    for v in ("100.5", "-1"):
        with pytest.raises(ClientError) as e:
            apigw.update_stage(restApiId=api_id, stageName=STAGE,
                               patchOperations=[patch("/canarySettings/percentTraffic", v)])
        status, code, message = error_of(e)
        assert (status, code) == (400, "BadRequestException") and "between 0.0 and 100.0" in message
    with pytest.raises(ClientError) as e:
        apigw.create_deployment(restApiId=api_id, stageName=STAGE, canarySettings={"percentTraffic": 150})
    assert error_of(e)[:2] == (400, "BadRequestException")
    # Recorded on AWS: `add` is refused, a canary deployment must exist.
    with pytest.raises(ClientError) as e:
        apigw.update_stage(restApiId=api_id, stageName=STAGE,
                           patchOperations=[patch("/canarySettings/deploymentId", "x", op="add")])
    assert error_of(e) == (400, "BadRequestException",
                           "Invalid add operation with path: /canarySettings/deploymentId")
    with pytest.raises(ClientError) as e:
        apigw.update_stage(restApiId=api_id, stageName=STAGE,
                           patchOperations=[patch("/canarySettings/deploymentId", "deploy")])
    assert error_of(e) == (400, "BadRequestException", "Deployment id does not exist")
    after = apigw.get_stage(restApiId=api_id, stageName=STAGE)
    assert {k: v for k, v in after.items() if k != "ResponseMetadata"} == \
        {k: v for k, v in before.items() if k != "ResponseMetadata"}
    assert deployments(apigw, api_id) == deps


def test_promote_then_remove_canary(env):
    _, apigw, dp, api_id, d1 = env
    d2 = apigw.get_stage(restApiId=api_id, stageName=STAGE)["canarySettings"]["deploymentId"]
    # Promote: the stage serves the canary's deployment, the canary at 0 % is then removed.
    promoted = apigw.update_stage(restApiId=api_id, stageName=STAGE, patchOperations=[
        patch("/canarySettings/percentTraffic", "0.0"),
        {"op": "copy", "from": "/canarySettings/deploymentId", "path": "/deploymentId"},
        {"op": "copy", "from": "/canarySettings/stageVariableOverrides", "path": "/variables"},
    ])
    assert promoted["deploymentId"] == d2
    assert promoted["variables"] == {"x": "over"}
    assert promoted["canarySettings"]["percentTraffic"] == 0.0
    wait_until("promoted", lambda: call(dp, api_id) == {"v": "v2", "x": "over", "canary": "false"})
    assert all(r == {"v": "v2", "x": "over", "canary": "false"} for r in sample(dp, api_id, 200))
    apigw.update_stage(restApiId=api_id, stageName=STAGE, patchOperations=[
        {"op": "remove", "path": "/canarySettings"}])
    # A canary on the old deployment at 50 %, then removed: every request back on the stage's.
    staged = apigw.update_stage(restApiId=api_id, stageName=STAGE, patchOperations=[
        patch("/canarySettings/deploymentId", d1), patch("/canarySettings/percentTraffic", "50"),
        patch("/canarySettings/stageVariableOverrides/x", "old")])
    assert staged["canarySettings"] == {"deploymentId": d1, "percentTraffic": 50.0,
                                        "stageVariableOverrides": {"x": "old"}, "useStageCache": False}
    wait_until("canary back", lambda: any(r["v"] == "v1" for r in sample(dp, api_id, 20)))
    got = sample(dp, api_id, 200)
    assert {json.dumps(r, sort_keys=True) for r in got} == {
        json.dumps({"v": "v1", "x": "old", "canary": "true"}, sort_keys=True),
        json.dumps({"v": "v2", "x": "over", "canary": "false"}, sort_keys=True)}
    removed = apigw.update_stage(restApiId=api_id, stageName=STAGE, patchOperations=[
        {"op": "remove", "path": "/canarySettings"}])
    assert "canarySettings" not in removed and removed["deploymentId"] == d2
    wait_until("canary removed", lambda: call(dp, api_id)["canary"] == "")
    assert all(r == {"v": "v2", "x": "over", "canary": ""} for r in sample(dp, api_id, 300))
    # Without the canary, its old deployment can go.
    apigw.delete_deployment(restApiId=api_id, deploymentId=d1)
