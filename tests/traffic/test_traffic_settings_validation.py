"""Bad traffic settings on the management API: negative throttle limits and quotas in usage
plans, non-numbers, a cache TTL outside 0..3600 s, an unknown cache strategy or
`cacheClusterSize`: each is refused with an AWS-shaped 400 and changes nothing (the stored object
keeps its old values). A stage method setting's throttle of -1 is not an error: AWS takes it as
"no stage throttle" (terraform-provider-aws sends -1 as its default, hashicorp/terraform-provider-aws#14266,
acceptance-tested against AWS)."""
import pytest
from botocore.exceptions import ClientError
from conftest import Portico, error_of

from traffic_kit import DataPlane, client, mock_method, new_api, patch


@pytest.fixture(scope="module")
def env():
    p = Portico()
    apigw = client(p)
    api_id, root = new_api(apigw, "bad-settings")
    mock_method(apigw, api_id, root, template='{"ok":true}')
    dep = apigw.create_deployment(restApiId=api_id, stageName="prod")["id"]
    apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        patch("/*/*/throttling/rateLimit", "700"), patch("/*/*/throttling/burstLimit", "900"),
        patch("/*/*/caching/ttlInSeconds", "60")])
    yield p, apigw, api_id, dep
    p.stop()


def refused(call):
    with pytest.raises(ClientError) as e:
        call()
    status, code, message = error_of(e)
    assert (status, code) == (400, "BadRequestException"), message
    return message


def stage_view(apigw, api_id, stage="prod"):
    s = apigw.get_stage(restApiId=api_id, stageName=stage)
    return {k: s.get(k) for k in ("methodSettings", "cacheClusterEnabled", "cacheClusterSize",
                                  "cacheClusterStatus", "lastUpdatedDate")}


@pytest.mark.parametrize("ops", [
    [patch("/*/*/throttling/rateLimit", "not-a-number")],
    [patch("/*/*/throttling/burstLimit", "1.5")],
    [patch("/*/*/caching/ttlInSeconds", "3601")],
    [patch("/*/*/caching/ttlInSeconds", "-1")],
    [patch("/*/*/caching/unauthorizedCacheControlHeaderStrategy", "FAIL_QUIETLY")],
    [patch("/cacheClusterSize", "0.7")],
    [patch("/cacheClusterSize", "")],
    # One bad operation spoils the whole patch: the good ones before it are not applied either.
    [patch("/*/*/throttling/burstLimit", "3"), patch("/*/*/caching/ttlInSeconds", "3601")],
    [patch("/*/*/throttling/rateLimit", "1"), patch("/*/*/throttling/rateLimit", "x")],
    [patch("/cacheClusterEnabled", "true"), patch("/cacheClusterSize", "1.0")],
], ids=lambda ops: " + ".join(f"{o['path']}={o['value']}" for o in ops))
def test_bad_update_stage_changes_nothing(env, ops):
    p, apigw, api_id, _ = env
    before = stage_view(apigw, api_id)
    refused(lambda: apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=ops))
    assert stage_view(apigw, api_id) == before
    assert before["methodSettings"]["*/*"]["throttlingRateLimit"] == 700.0
    assert before["methodSettings"]["*/*"]["throttlingBurstLimit"] == 900
    assert before["methodSettings"]["*/*"]["cacheTtlInSeconds"] == 60
    # Still serving.
    dp = DataPlane(p)
    assert dp.call(api_id, "prod", "/").status == 200
    dp.close()


def test_minus_one_lifts_a_stage_throttle(env):
    p, apigw, api_id, dep = env
    apigw.create_stage(restApiId=api_id, stageName="lifted", deploymentId=dep)
    apigw.update_stage(restApiId=api_id, stageName="lifted", patchOperations=[
        patch("/*/*/throttling/rateLimit", "0.01"), patch("/*/*/throttling/burstLimit", "1")])
    dp = DataPlane(p)
    assert [dp.call(api_id, "lifted", "/").status for _ in range(2)] == [200, 429]
    st = apigw.update_stage(restApiId=api_id, stageName="lifted", patchOperations=[
        patch("/*/*/throttling/rateLimit", "-1"), patch("/*/*/throttling/burstLimit", "-1")])
    assert st["methodSettings"]["*/*"]["throttlingRateLimit"] == -1.0
    assert st["methodSettings"]["*/*"]["throttlingBurstLimit"] == -1
    assert [dp.call(api_id, "lifted", "/").status for _ in range(5)] == [200] * 5
    dp.close()


@pytest.mark.parametrize("size", ["0.7", "1", "500", "big"])
def test_create_stage_with_a_bad_cache_size_creates_nothing(env, size):
    _, apigw, api_id, dep = env
    refused(lambda: apigw.create_stage(restApiId=api_id, stageName="badsize", deploymentId=dep,
                                       cacheClusterEnabled=True, cacheClusterSize=size))
    with pytest.raises(ClientError) as e:
        apigw.get_stage(restApiId=api_id, stageName="badsize")
    assert error_of(e)[:2] == (404, "NotFoundException")


def test_good_cache_sizes_are_accepted(env):
    _, apigw, api_id, dep = env
    for i, size in enumerate(["0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237"]):
        st = apigw.create_stage(restApiId=api_id, stageName=f"size{i}", deploymentId=dep,
                                cacheClusterEnabled=True, cacheClusterSize=size)
        assert (st["cacheClusterSize"], st["cacheClusterStatus"]) == (size, "AVAILABLE")


@pytest.mark.parametrize("throttle, quota", [
    ({"rateLimit": -1.0, "burstLimit": 5}, None),
    ({"rateLimit": 5.0, "burstLimit": -1}, None),
    (None, {"limit": -1, "period": "DAY"}),
])
def test_create_usage_plan_with_negative_limits_creates_nothing(env, throttle, quota):
    _, apigw, api_id, _ = env
    before = {p["id"] for p in apigw.get_usage_plans()["items"]}
    kw = {k: v for k, v in (("throttle", throttle), ("quota", quota)) if v}
    refused(lambda: apigw.create_usage_plan(name="negative", apiStages=[{"apiId": api_id, "stage": "prod"}], **kw))
    assert {p["id"] for p in apigw.get_usage_plans()["items"]} == before


@pytest.mark.parametrize("ops", [
    [patch("/throttle/rateLimit", "-5")],
    [patch("/throttle/burstLimit", "-5")],
    [patch("/quota/limit", "-1")],
    [patch("/throttle/rateLimit", "3"), patch("/throttle/burstLimit", "-1")],
], ids=lambda ops: " + ".join(f"{o['path']}={o['value']}" for o in ops))
def test_update_usage_plan_with_negative_limits_changes_nothing(env, ops):
    _, apigw, api_id, _ = env
    plan = apigw.create_usage_plan(name="steady", apiStages=[{"apiId": api_id, "stage": "prod"}],
                                   throttle={"rateLimit": 10.0, "burstLimit": 20},
                                   quota={"limit": 100, "period": "DAY"})
    ops = [{**o, "path": o["path"].replace("{api}", api_id)} for o in ops]
    refused(lambda: apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=ops))
    after = apigw.get_usage_plan(usagePlanId=plan["id"])
    assert after["throttle"] == {"rateLimit": 10.0, "burstLimit": 20}
    assert after["quota"] == {"limit": 100, "offset": 0, "period": "DAY"}
    assert after["apiStages"] == [{"apiId": api_id, "stage": "prod"}]
    apigw.delete_usage_plan(usagePlanId=plan["id"])
