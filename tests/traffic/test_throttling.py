"""Throttling on the data plane, black-box: usage plan throttles (per key, per method), stage
`methodSettings` throttles (`*/*` and a per-method override), the account throttle, a zero
burst, and buckets that survive a redeploy. Every count is checked against what a token bucket
can hand out: `burst` at once plus `rate × elapsed` refilled while the requests ran."""
import math
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import Portico

from traffic_kit import (THROTTLED, DataPlane, client, mock_method, new_api, patch, refusal,
                         resource)


@pytest.fixture(scope="module")
def portico():
    p = Portico()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def apigw(portico):
    return client(portico)


@pytest.fixture
def dp(portico):
    d = DataPlane(portico)
    yield d
    d.close()


def keyed_api(apigw, name, stage="prod"):
    """An API with key-required `/pets` and `/other` and key-free `/open` (MOCK), deployed."""
    api_id, root = new_api(apigw, name)
    for part, key in (("pets", True), ("other", True), ("open", False)):
        mock_method(apigw, api_id, resource(apigw, api_id, root, part), template=f'{{"{part}":true}}',
                    api_key=key)
    apigw.create_deployment(restApiId=api_id, stageName=stage)
    return api_id


def plan_key(apigw, api_id, name, stage="prod", **plan):
    plan_id = apigw.create_usage_plan(name=name, apiStages=[{"apiId": api_id, "stage": stage, **plan.pop("stage_extra", {})}],
                                      **plan)["id"]
    k = apigw.create_api_key(name=name, enabled=True)
    apigw.create_usage_plan_key(usagePlanId=plan_id, keyId=k["id"], keyType="API_KEY")
    return plan_id, k["value"]


def burst(send, n):
    """Sends `n` requests back to back: (statuses in order, seconds they took)."""
    start = time.monotonic()
    replies = [send() for _ in range(n)]
    elapsed = time.monotonic() - start
    for r in replies:
        if r.status != 200:
            assert refusal(r) == THROTTLED, r
    return [r.status for r in replies], elapsed


def assert_bucket(statuses, elapsed, burst_size, rate):
    """The first `burst_size` pass; in all, at most `burst_size` + what `rate` refilled pass;
    the rest are 429."""
    allowed = statuses.count(200)
    refill = math.floor(rate * elapsed)
    assert statuses[:burst_size] == [200] * burst_size, statuses
    assert burst_size <= allowed <= burst_size + refill, (statuses, elapsed)
    assert statuses.count(429) == len(statuses) - allowed
    if refill == 0:
        assert statuses[burst_size:] == [429] * (len(statuses) - burst_size), statuses


def test_usage_plan_throttle_per_key(apigw, dp):
    api_id = keyed_api(apigw, "plan-throttle")
    _, key = plan_key(apigw, api_id, "rate1burst3", throttle={"rateLimit": 1.0, "burstLimit": 3})
    _, other_key = plan_key(apigw, api_id, "rate1burst3b", throttle={"rateLimit": 1.0, "burstLimit": 3})
    statuses, elapsed = burst(lambda: dp.call(api_id, "prod", "/pets", headers={"x-api-key": key}), 9)
    assert_bucket(statuses, elapsed, 3, 1.0)
    # The plan bucket is per key and covers every method of the stage...
    if elapsed < 0.5:
        assert refusal(dp.call(api_id, "prod", "/other", headers={"x-api-key": key})) == THROTTLED
    # ...another key of an identical plan has its own bucket, and key-free methods none.
    assert dp.call(api_id, "prod", "/pets", headers={"x-api-key": other_key}).status == 200
    assert all(dp.call(api_id, "prod", "/open").status == 200 for _ in range(10))


def test_usage_plan_method_throttle(apigw, dp):
    api_id = keyed_api(apigw, "plan-method-throttle")
    _, key = plan_key(apigw, api_id, "per-method", throttle={"rateLimit": 1000.0, "burstLimit": 1000},
                      stage_extra={"throttle": {"/pets/GET": {"rateLimit": 1.0, "burstLimit": 2}}})
    statuses, elapsed = burst(lambda: dp.call(api_id, "prod", "/pets", headers={"x-api-key": key}), 8)
    assert_bucket(statuses, elapsed, 2, 1.0)
    # Other methods get the plan's own (generous) throttle.
    statuses, _ = burst(lambda: dp.call(api_id, "prod", "/other", headers={"x-api-key": key}), 8)
    assert statuses == [200] * 8


def test_concurrent_burst_never_exceeds_the_bucket(portico, apigw):
    api_id = keyed_api(apigw, "concurrent-throttle")
    _, key = plan_key(apigw, api_id, "rate1burst5", throttle={"rateLimit": 1.0, "burstLimit": 5})

    def one(_):
        d = DataPlane(portico)
        try:
            return d.call(api_id, "prod", "/pets", headers={"x-api-key": key})
        finally:
            d.close()

    start = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(one, range(24)))
    elapsed = time.monotonic() - start
    allowed = [r.status for r in replies].count(200)
    assert 5 <= allowed <= 5 + math.floor(1.0 * elapsed), (allowed, elapsed)
    assert all(refusal(r) == THROTTLED for r in replies if r.status != 200)


def test_stage_method_settings_throttle_and_per_method_override(apigw, dp):
    api_id = keyed_api(apigw, "stage-throttle")
    _, key = plan_key(apigw, api_id, "no-throttle-plan")
    apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        patch("/*/*/throttling/rateLimit", "1"), patch("/*/*/throttling/burstLimit", "2"),
        patch("/~1pets/GET/throttling/rateLimit", "1"), patch("/~1pets/GET/throttling/burstLimit", "4")])
    settings = apigw.get_stage(restApiId=api_id, stageName="prod")["methodSettings"]
    assert settings["*/*"]["throttlingBurstLimit"] == 2 and settings["*/*"]["throttlingRateLimit"] == 1.0
    # (Whether AWS keys the entry `pets/GET` or `~1pets/GET` is not pinned here.)
    own = {k.replace("~1", "/").lstrip("/"): v for k, v in settings.items() if k != "*/*"}
    assert own["pets/GET"]["throttlingBurstLimit"] == 4

    # `*/*` covers each method with its own bucket, key-free or not.
    statuses, elapsed = burst(lambda: dp.call(api_id, "prod", "/open"), 6)
    assert_bucket(statuses, elapsed, 2, 1.0)
    statuses, elapsed = burst(lambda: dp.call(api_id, "prod", "/other", headers={"x-api-key": key}), 6)
    assert_bucket(statuses, elapsed, 2, 1.0)
    # The per-method entry takes precedence over `*/*`.
    statuses, elapsed = burst(lambda: dp.call(api_id, "prod", "/pets", headers={"x-api-key": key}), 8)
    assert_bucket(statuses, elapsed, 4, 1.0)


def test_zero_burst_refuses_everything(apigw, dp):
    api_id = keyed_api(apigw, "zero-burst")
    apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        patch("/*/*/throttling/rateLimit", "100"), patch("/*/*/throttling/burstLimit", "0")])
    for _ in range(5):
        assert refusal(dp.call(api_id, "prod", "/open")) == THROTTLED
    # A usage plan with burst 0 refuses its keys too (stage throttle lifted first).
    apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "remove", "path": "/*/*"}])
    assert dp.call(api_id, "prod", "/open").status == 200
    _, key = plan_key(apigw, api_id, "zero-plan", throttle={"rateLimit": 100.0, "burstLimit": 0})
    for _ in range(5):
        assert refusal(dp.call(api_id, "prod", "/pets", headers={"x-api-key": key})) == THROTTLED


def test_buckets_survive_a_redeploy(apigw, dp):
    api_id = keyed_api(apigw, "redeploy-throttle")
    # Rates so slow that no token comes back during the test.
    apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        patch("/*/*/throttling/rateLimit", "0.01"), patch("/*/*/throttling/burstLimit", "2")])
    _, key = plan_key(apigw, api_id, "slow-plan", throttle={"rateLimit": 0.01, "burstLimit": 1})
    assert [dp.call(api_id, "prod", "/open").status for _ in range(3)] == [200, 200, 429]
    assert [dp.call(api_id, "prod", "/pets", headers={"x-api-key": key}).status for _ in range(2)] == [200, 429]
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    assert refusal(dp.call(api_id, "prod", "/open")) == THROTTLED
    assert refusal(dp.call(api_id, "prod", "/pets", headers={"x-api-key": key})) == THROTTLED
    # Raising the burst does not refill a bucket: the same (empty) bucket, with room for more.
    apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        patch("/*/*/throttling/burstLimit", "5")])
    assert refusal(dp.call(api_id, "prod", "/open")) == THROTTLED


def test_account_throttle():
    p = Portico(extra=("--access-log", "off", "--account-rate-limit", "1", "--account-burst-limit", "3"))
    try:
        apigw = client(p)
        api_id = keyed_api(apigw, "account-throttle")
        other_id = keyed_api(apigw, "account-throttle-2")
        dp = DataPlane(p)
        statuses, elapsed = burst(lambda: dp.call(api_id, "prod", "/open"), 7)
        assert_bucket(statuses, elapsed, 3, 1.0)
        # One bucket for the whole account: another API is throttled too.
        if elapsed < 0.5:
            assert refusal(dp.call(other_id, "prod", "/open")) == THROTTLED
        # A throttled caller gets a token back at the account's rate (1/s): poll, bounded.
        start = time.monotonic()
        while dp.call(other_id, "prod", "/open").status != 200:
            assert time.monotonic() - start < 3, "no token came back within 3 s at 1 request/s"
            time.sleep(0.1)
        dp.close()
    finally:
        p.stop()


def test_get_account_reports_the_throttle_flags():
    p = Portico(extra=("--access-log", "off", "--account-rate-limit", "1", "--account-burst-limit", "3"))
    try:
        assert client(p).get_account()["throttleSettings"] == {"burstLimit": 3, "rateLimit": 1.0}
    finally:
        p.stop()
