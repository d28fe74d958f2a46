"""API keys on the data plane, black-box: every way a key is refused (403 Forbidden,
`ForbiddenException`), a valid key reaching the integration with `$context.identity.apiKeyId` /
`apiKey`, and key / usage-plan changes taking effect as soon as the management call returns
(read-your-writes: no sleep, no redeploy)."""
import pytest
from conftest import Portico

from traffic_kit import (FORBIDDEN, DataPlane, client, mock_method, new_api, patch, refusal,
                         resource)

IDENTITY = '{"keyId":"$context.identity.apiKeyId","key":"$context.identity.apiKey"}'


@pytest.fixture(scope="module")
def env():
    p = Portico()
    apigw = client(p)
    api_id, root = new_api(apigw, "keys-api")
    mock_method(apigw, api_id, resource(apigw, api_id, root, "pets"), template=IDENTITY, api_key=True)
    mock_method(apigw, api_id, resource(apigw, api_id, root, "open"), template='{"open":true}')
    for stage in ("prod", "dev", "beta"):
        apigw.create_deployment(restApiId=api_id, stageName=stage)
    other_id, other_root = new_api(apigw, "other-api")
    mock_method(apigw, other_id, resource(apigw, other_id, other_root, "pets"), api_key=True)
    apigw.create_deployment(restApiId=other_id, stageName="prod")
    dp = DataPlane(p)
    yield apigw, dp, api_id, other_id
    dp.close()
    p.stop()


def pets(dp, api_id, key=None, stage="prod"):
    return dp.call(api_id, stage, "/pets", headers={"x-api-key": key} if key is not None else None)


def new_key(apigw, name, enabled=True):
    k = apigw.create_api_key(name=name, enabled=enabled, value=f"{name}-value-0123456789abcdefghij")
    return k["id"], k["value"]


def test_every_refused_key_is_403_forbidden(env):
    apigw, dp, api_id, other_id = env
    prod = apigw.create_usage_plan(name="prod-plan", apiStages=[{"apiId": api_id, "stage": "prod"}])["id"]
    dev = apigw.create_usage_plan(name="dev-plan", apiStages=[{"apiId": api_id, "stage": "dev"}])["id"]
    other = apigw.create_usage_plan(name="other-plan", apiStages=[{"apiId": other_id, "stage": "prod"}])["id"]
    good_id, good = new_key(apigw, "good")
    apigw.create_usage_plan_key(usagePlanId=prod, keyId=good_id, keyType="API_KEY")
    off_id, off = new_key(apigw, "off", enabled=False)
    apigw.create_usage_plan_key(usagePlanId=prod, keyId=off_id, keyType="API_KEY")
    _, planless = new_key(apigw, "planless")
    dev_id, dev_key = new_key(apigw, "devonly")
    apigw.create_usage_plan_key(usagePlanId=dev, keyId=dev_id, keyType="API_KEY")
    other_key_id, other_key = new_key(apigw, "otherapi")
    apigw.create_usage_plan_key(usagePlanId=other, keyId=other_key_id, keyType="API_KEY")

    refused = {
        "missing": pets(dp, api_id),
        "empty": pets(dp, api_id, ""),
        "unknown": pets(dp, api_id, "no-such-key-0123456789abcdef"),
        "prefix of a key": pets(dp, api_id, good[:-1]),
        "key with a different case": pets(dp, api_id, good.upper()),
        "disabled": pets(dp, api_id, off),
        "in no plan": pets(dp, api_id, planless),
        "in a plan of another stage": pets(dp, api_id, dev_key),
        "in a plan of another API": pets(dp, api_id, other_key),
        # `beta` is in no usage plan at all: even a good key is refused there.
        "stage in no plan": pets(dp, api_id, good, stage="beta"),
    }
    for case, reply in refused.items():
        assert refusal(reply) == FORBIDDEN, case
        assert reply.headers["content-type"].startswith("application/json"), case

    ok = pets(dp, api_id, good)
    assert ok.status == 200
    assert ok.json == {"keyId": good_id, "key": good}
    dev_ok = pets(dp, api_id, dev_key, stage="dev")
    assert dev_ok.status == 200 and dev_ok.json == {"keyId": dev_id, "key": dev_key}
    assert dp.call(other_id, "prod", "/pets", headers={"x-api-key": other_key}).status == 200


def test_a_method_without_api_key_required_ignores_keys(env):
    apigw, dp, api_id, _ = env
    for headers in (None, {"x-api-key": "garbage"}, {"x-api-key": ""}):
        for stage in ("prod", "beta"):
            r = dp.call(api_id, stage, "/open", headers=headers)
            assert (r.status, r.json) == (200, {"open": True}), (stage, headers)


def test_key_and_plan_changes_apply_when_the_call_returns(env):
    apigw, dp, api_id, _ = env
    plan = apigw.create_usage_plan(name="live-plan")["id"]
    key_id, key = new_key(apigw, "live")
    assert refusal(pets(dp, api_id, key)) == FORBIDDEN  # in no plan yet
    apigw.create_usage_plan_key(usagePlanId=plan, keyId=key_id, keyType="API_KEY")
    assert refusal(pets(dp, api_id, key)) == FORBIDDEN  # the plan covers no stage yet
    apigw.update_usage_plan(usagePlanId=plan, patchOperations=[patch("/apiStages", f"{api_id}:beta", "add")])
    assert pets(dp, api_id, key, stage="beta").status == 200
    assert refusal(pets(dp, api_id, key)) == FORBIDDEN  # prod still uncovered

    apigw.update_api_key(apiKey=key_id, patchOperations=[patch("/enabled", "false")])
    assert refusal(pets(dp, api_id, key, stage="beta")) == FORBIDDEN
    apigw.update_api_key(apiKey=key_id, patchOperations=[patch("/enabled", "true")])
    assert pets(dp, api_id, key, stage="beta").status == 200

    apigw.delete_usage_plan_key(usagePlanId=plan, keyId=key_id)
    assert refusal(pets(dp, api_id, key, stage="beta")) == FORBIDDEN
    apigw.create_usage_plan_key(usagePlanId=plan, keyId=key_id, keyType="API_KEY")
    assert pets(dp, api_id, key, stage="beta").json == {"keyId": key_id, "key": key}

    apigw.update_usage_plan(usagePlanId=plan, patchOperations=[patch("/apiStages", f"{api_id}:beta", "remove")])
    assert refusal(pets(dp, api_id, key, stage="beta")) == FORBIDDEN
    apigw.update_usage_plan(usagePlanId=plan, patchOperations=[patch("/apiStages", f"{api_id}:beta", "add")])
    assert pets(dp, api_id, key, stage="beta").status == 200

    apigw.delete_api_key(apiKey=key_id)
    assert refusal(pets(dp, api_id, key, stage="beta")) == FORBIDDEN



def test_key_required_is_enforced_after_a_redeploy_that_adds_it(env):
    apigw, dp, api_id, _ = env
    # `/open` needs no key; make it require one, redeploy, and it refuses key-less callers.
    res = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/open")
    apigw.update_method(restApiId=api_id, resourceId=res, httpMethod="GET",
                        patchOperations=[patch("/apiKeyRequired", "true")])
    assert dp.call(api_id, "beta", "/open").status == 200  # not deployed yet
    apigw.create_deployment(restApiId=api_id, stageName="beta")
    assert refusal(dp.call(api_id, "beta", "/open")) == FORBIDDEN
    apigw.update_method(restApiId=api_id, resourceId=res, httpMethod="GET",
                        patchOperations=[patch("/apiKeyRequired", "false")])
    apigw.create_deployment(restApiId=api_id, stageName="beta")
    assert dp.call(api_id, "beta", "/open").status == 200
