"""Usage-plan quotas on the data plane, black-box: the request over the quota gets 429 Limit
Exceeded, a new period (moved forward with `--test-clock`'s `POST /_portico/clock`) starts
afresh, GetUsage reports the counts per day, UpdateUsage grants more, and the counts survive a
graceful restart on the same data directory."""
import datetime
import signal

import pytest
from conftest import Portico

from traffic_kit import (QUOTA, DataPlane, Http, client, mock_method, new_api, patch, refusal,
                         resource, wait_until)

CLOCK = ("--access-log", "off", "--test-clock")


def keyed_api(apigw, name):
    api_id, root = new_api(apigw, name)
    mock_method(apigw, api_id, resource(apigw, api_id, root, "pets"), api_key=True)
    mock_method(apigw, api_id, resource(apigw, api_id, root, "open"))
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    return api_id


def metered_key(apigw, api_id, name, limit, period="DAY"):
    plan = apigw.create_usage_plan(name=name, apiStages=[{"apiId": api_id, "stage": "prod"}],
                                   quota={"limit": limit, "period": period})["id"]
    k = apigw.create_api_key(name=name, enabled=True)
    apigw.create_usage_plan_key(usagePlanId=plan, keyId=k["id"], keyType="API_KEY")
    return plan, k["id"], k["value"]


def advance(portico, seconds):
    r = Http(portico.admin).request("POST", f"/_portico/clock?advance={seconds}")
    assert r.status == 200, r
    return r.json["now"]


def day_of(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).date()


def usage_of(apigw, plan, key_id, start, end):
    items = apigw.get_usage(usagePlanId=plan, keyId=key_id, startDate=start.isoformat(),
                            endDate=end.isoformat())["items"]
    return items.get(key_id)


@pytest.fixture(scope="module")
def portico():
    p = Portico(extra=CLOCK)
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


def test_day_quota_and_the_next_day(portico, apigw, dp):
    api_id = keyed_api(apigw, "quota-day")
    plan, key_id, key = metered_key(apigw, api_id, "three-a-day", 3)
    pets = lambda: dp.call(api_id, "prod", "/pets", headers={"x-api-key": key})  # noqa: E731
    assert [pets().status for _ in range(3)] == [200, 200, 200]
    for _ in range(3):
        assert refusal(pets()) == QUOTA
    # The quota meters only methods that require the key.
    assert dp.call(api_id, "prod", "/open", headers={"x-api-key": key}).status == 200

    today = day_of(advance(portico, 0))
    tomorrow = day_of(advance(portico, 86400))
    assert tomorrow == today + datetime.timedelta(days=1)
    assert [pets().status for _ in range(3)] == [200, 200, 200]
    assert refusal(pets()) == QUOTA

    # GetUsage: used and remaining per day; counts reach the store once a second.
    start = today - datetime.timedelta(days=1)
    want = [[0, 3], [3, 0], [3, 0]]
    got = wait_until("usage persisted", lambda: (u := usage_of(apigw, plan, key_id, start, tomorrow)) == want and u,
                     timeout=5)
    assert got == want


def test_update_usage_restores_remaining(portico, apigw, dp):
    api_id = keyed_api(apigw, "quota-grant")
    plan, key_id, key = metered_key(apigw, api_id, "two-a-day", 2)
    pets = lambda: dp.call(api_id, "prod", "/pets", headers={"x-api-key": key})  # noqa: E731

    def use_up_and_grant(grant):
        assert [pets().status for _ in range(2)] == [200, 200]
        assert refusal(pets()) == QUOTA
        upd = apigw.update_usage(usagePlanId=plan, keyId=key_id, patchOperations=[patch("/remaining", grant)])
        assert upd["items"][key_id][-1][1] == grant
        assert [pets().status for _ in range(grant)] == [200] * grant
        assert refusal(pets()) == QUOTA

    use_up_and_grant(2)
    # Regression: a grant made after the test clock moved on was filed under the wall clock's
    # day, so the data plane's (later) day never saw it.
    advance(portico, 86400)
    use_up_and_grant(3)


def test_week_and_month_quotas(portico, apigw, dp):
    api_id = keyed_api(apigw, "quota-periods")
    _, _, week = metered_key(apigw, api_id, "weekly", 1, "WEEK")
    _, _, month = metered_key(apigw, api_id, "monthly", 1, "MONTH")
    for key in (week, month):
        assert dp.call(api_id, "prod", "/pets", headers={"x-api-key": key}).status == 200
        assert refusal(dp.call(api_id, "prod", "/pets", headers={"x-api-key": key})) == QUOTA
    advance(portico, 8 * 86400)  # past any week boundary
    assert dp.call(api_id, "prod", "/pets", headers={"x-api-key": week}).status == 200
    advance(portico, 32 * 86400)  # past any month boundary
    assert dp.call(api_id, "prod", "/pets", headers={"x-api-key": month}).status == 200


def test_quota_counts_survive_a_restart():
    p = Portico()
    try:
        apigw = client(p)
        api_id = keyed_api(apigw, "quota-restart")
        plan, key_id, key = metered_key(apigw, api_id, "five-a-day", 5)
        dp = DataPlane(p)
        assert [dp.call(api_id, "prod", "/pets", headers={"x-api-key": key}).status for _ in range(3)] == [200] * 3
        dp.close()
        today = datetime.datetime.now(datetime.timezone.utc).date()
        # Stop gracefully (SIGTERM) right away: the shutdown flushes what was not yet persisted.
        p.proc.send_signal(signal.SIGTERM)
        assert p.proc.wait(timeout=15) == 0
        data = p.data
    finally:
        p.stop()
    p = Portico(data_dir=data)
    try:
        apigw = client(p)
        assert usage_of(apigw, plan, key_id, today, today) == [[3, 2]]
        dp = DataPlane(p)
        statuses = [dp.call(api_id, "prod", "/pets", headers={"x-api-key": key}).status for _ in range(3)]
        # (A restart across midnight UTC would start a new day.)
        if datetime.datetime.now(datetime.timezone.utc).date() == today:
            assert statuses == [200, 200, 429]
        dp.close()
    finally:
        p.stop()


def test_a_grant_is_not_granted_again_by_a_restart():
    """An UpdateUsage grant is applied once: after a restart the key has what it had left, not
    the grant again (regression: the grant was replayed against the counts of the restart)."""
    p = Portico()
    try:
        apigw = client(p)
        api_id = keyed_api(apigw, "grant-restart")
        plan, key_id, key = metered_key(apigw, api_id, "three-a-day", 3)
        dp = DataPlane(p)
        pets = lambda: dp.call(api_id, "prod", "/pets", headers={"x-api-key": key})  # noqa: E731
        assert [pets().status for _ in range(3)] == [200] * 3
        assert refusal(pets()) == QUOTA
        apigw.update_usage(usagePlanId=plan, keyId=key_id, patchOperations=[patch("/remaining", "2")])
        assert [pets().status for _ in range(2)] == [200, 200]
        assert refusal(pets()) == QUOTA
        dp.close()
        today = datetime.datetime.now(datetime.timezone.utc).date()
        p.proc.send_signal(signal.SIGTERM)
        assert p.proc.wait(timeout=15) == 0
        data = p.data
    finally:
        p.stop()
    p = Portico(data_dir=data)
    try:
        dp = DataPlane(p)
        reply = dp.call(api_id, "prod", "/pets", headers={"x-api-key": key})
        if datetime.datetime.now(datetime.timezone.utc).date() == today:
            assert refusal(reply) == QUOTA
        dp.close()
    finally:
        p.stop()
