"""The stage cache, black-box, against a real counting backend: hits, misses and cache key
parameters, TTL expiry, TTL 0, `Cache-Control: max-age=0` under every
`requireAuthorizationForCacheControl` / `unauthorizedCacheControlHeaderStrategy` combination,
FlushStageCache, eviction under a byte cap, what is never cached (over 1 MB, non-2xx, POST by
default), `cacheClusterStatus`, and the CacheHitCount / CacheMissCount metrics."""
import re
import time

import pytest
from conftest import Portico

from traffic_kit import (Backend, DataPlane, Http, client, new_api, patch, proxy_method, resource,
                         wait_until)

WARNING = "199 Cache-control headers were ignored because the caller was unauthorized."


@pytest.fixture(scope="module")
def backend():
    b = Backend()
    yield b
    b.close()


def cached_api(apigw, backend, name):
    """`/{proxy+}` (keyed on the proxy path) and `/items` GET/POST (keyed on `?id`), proxied to
    the backend; no stage yet. Returns (api id, deployment id)."""
    api_id, root = new_api(apigw, name)
    base = f"http://127.0.0.1:{backend.port}"
    proxy = resource(apigw, api_id, root, "{proxy+}")
    proxy_method(apigw, api_id, proxy, base + "/{proxy}", params=("path.proxy",), cache_keys=("path.proxy",))
    items = resource(apigw, api_id, root, "items")
    for verb in ("GET", "POST"):
        proxy_method(apigw, api_id, items, base + f"/items-{verb.lower()}", method=verb,
                     params=("querystring.id",), cache_keys=("querystring.id",))
    dep = apigw.create_deployment(restApiId=api_id, description="v1")["id"]
    return api_id, dep


def cached_stage(apigw, api_id, dep, stage, *ops, enabled=True):
    """A stage of `dep` with a 0.5 GB cache (when `enabled`), then `ops`. (A `*/*` entry made by
    `ops` has caching off unless they say `caching/enabled`, as AWS materialises it.)"""
    apigw.create_stage(restApiId=api_id, stageName=stage, deploymentId=dep, cacheClusterEnabled=enabled,
                       **({"cacheClusterSize": "0.5"} if enabled else {}))
    if ops:
        apigw.update_stage(restApiId=api_id, stageName=stage, patchOperations=list(ops))


@pytest.fixture(scope="module")
def env(backend):
    p = Portico()
    apigw = client(p)
    api_id, dep = cached_api(apigw, backend, "cache-api")
    dp = DataPlane(p)
    yield p, apigw, dp, api_id, dep
    dp.close()
    p.stop()


def metric(portico, name, api_id, stage):
    text = Http(portico.admin).request("GET", "/metrics").body.decode()
    m = re.search(rf'^{name}\{{api="{api_id}",[^}}]*stage="{stage}"\}} (\d+)$', text, re.M)
    return int(m.group(1)) if m else None


class Probe:
    """GETs through one stage, telling hits (backend count unchanged) from misses."""

    def __init__(self, dp, backend, api_id, stage):
        self.dp, self.backend, self.api_id, self.stage = dp, backend, api_id, stage

    def get(self, path, backend_path, method="GET", headers=None, body=None):
        before = self.backend.count(backend_path)
        r = self.dp.call(self.api_id, self.stage, path, method=method, headers=headers, body=body)
        return r, self.backend.count(backend_path) > before


def test_hits_misses_and_cache_key_parameters(env, backend):
    p, apigw, dp, api_id, dep = env
    cached_stage(apigw, api_id, dep, "keys")
    s = Probe(dp, backend, api_id, "keys")
    hits0, misses0 = metric(p, "apigateway_CacheHitCount", api_id, "keys"), metric(p, "apigateway_CacheMissCount", api_id, "keys")
    assert (hits0, misses0) == (0, 0)

    first, miss = s.get("/items?id=1", "/items-get")
    assert first.status == 200 and miss and first.json["query"] == {"id": "1"}
    again, miss = s.get("/items?id=1", "/items-get")
    assert not miss and (again.status, again.body) == (200, first.body)
    assert again.headers["content-type"] == "application/json"
    other, miss = s.get("/items?id=2", "/items-get")
    assert miss and other.json["query"] == {"id": "2"} and other.json["hit"] == first.json["hit"] + 1
    assert s.get("/items?id=2", "/items-get")[0].body == other.body
    assert s.get("/items?id=1", "/items-get")[0].body == first.body
    # No `id` at all is a key of its own.
    none, miss = s.get("/items", "/items-get")
    assert miss and none.json["query"] == {}
    assert not s.get("/items", "/items-get")[1]

    # Path parameters in the key: each proxy path its own entry.
    a, miss_a = s.get("/pets/a", "/pets/a")
    b, miss_b = s.get("/pets/b", "/pets/b")
    assert miss_a and miss_b and a.json["path"] == "/pets/a" and b.json["path"] == "/pets/b"
    assert s.get("/pets/a", "/pets/a")[0].body == a.body and s.get("/pets/b", "/pets/b")[0].body == b.body

    assert metric(p, "apigateway_CacheHitCount", api_id, "keys") == 6
    assert metric(p, "apigateway_CacheMissCount", api_id, "keys") == 5


def test_ttl_expiry_and_ttl_zero(env, backend):
    _, apigw, dp, api_id, dep = env
    on = patch("/*/*/caching/enabled", "true")
    cached_stage(apigw, api_id, dep, "ttl1", on, patch("/*/*/caching/ttlInSeconds", "1"))
    cached_stage(apigw, api_id, dep, "ttl0", on, patch("/*/*/caching/ttlInSeconds", "0"))
    assert apigw.get_stage(restApiId=api_id, stageName="ttl1")["methodSettings"]["*/*"]["cacheTtlInSeconds"] == 1

    zero = Probe(dp, backend, api_id, "ttl0")
    assert all(zero.get("/ttl0", "/ttl0")[1] for _ in range(3))

    s = Probe(dp, backend, api_id, "ttl1")
    stored_at = time.monotonic()
    first, miss = s.get("/ttl1", "/ttl1")
    assert miss
    r, miss = s.get("/ttl1", "/ttl1")
    if time.monotonic() - stored_at < 0.9:
        assert not miss and r.body == first.body
    fresh = wait_until("the 1 s entry to expire", lambda: (x := s.get("/ttl1", "/ttl1"))[1] and x[0], timeout=3)
    assert time.monotonic() - stored_at >= 0.9
    assert fresh.json["hit"] > first.json["hit"]


@pytest.mark.parametrize("settings, outcome", [
    # Anyone may invalidate: a fresh answer, which replaces the entry.
    ({"requireAuthorizationForCacheControl": "false"}, "refresh"),
    ({"requireAuthorizationForCacheControl": "true", "unauthorizedCacheControlHeaderStrategy": "FAIL_WITH_403"},
     "403"),
    ({"requireAuthorizationForCacheControl": "true",
      "unauthorizedCacheControlHeaderStrategy": "SUCCEED_WITH_RESPONSE_HEADER"}, "warn"),
    ({"requireAuthorizationForCacheControl": "true",
      "unauthorizedCacheControlHeaderStrategy": "SUCCEED_WITHOUT_RESPONSE_HEADER"}, "quiet"),
    # AWS's defaults: authorization required, served with a warning.
    ({}, "warn"),
    ({"unauthorizedCacheControlHeaderStrategy": "FAIL_WITH_403"}, "403"),
])
def test_cache_control_max_age_0(env, backend, settings, outcome):
    _, apigw, dp, api_id, dep = env
    stage = f"cc{len(settings)}{outcome.replace('403', 'deny')}"
    cached_stage(apigw, api_id, dep, stage,
                 *[patch(f"/*/*/caching/{k}", v) for k, v in {"enabled": "true", **settings}.items()])
    s = Probe(dp, backend, api_id, stage)
    path, bpath = f"/cc/{stage}", f"/cc/{stage}"
    first, miss = s.get(path, bpath)
    assert miss
    r, miss = s.get(path, bpath, headers={"Cache-Control": "max-age=0"})
    if outcome == "refresh":
        assert r.status == 200 and miss and r.json["hit"] == first.json["hit"] + 1
        assert "warning" not in r.headers
        after, miss = s.get(path, bpath)
        assert not miss and after.body == r.body
    elif outcome == "403":
        assert not miss
        assert (r.status, r.json, r.error_type) == (403, {"message": "Forbidden"}, "ForbiddenException")
        assert s.get(path, bpath)[0].body == first.body
    else:
        assert not miss and (r.status, r.body) == (200, first.body)
        assert r.headers.get("warning") == (WARNING if outcome == "warn" else None)
        # Also when the entry is not there yet: the answer is fresh and still warned about.
        r2, miss = s.get(path + "/new", bpath + "/new", headers={"Cache-Control": "no-cache, max-age=0"})
        assert miss and r2.status == 200 and r2.headers.get("warning") == (WARNING if outcome == "warn" else None)
    # Other Cache-Control values never bypass the cache.
    assert not s.get(path, bpath, headers={"Cache-Control": "max-age=10"})[1]
    assert not s.get(path, bpath, headers={"Cache-Control": "no-store"})[1]


def test_flush_stage_cache(env, backend):
    _, apigw, dp, api_id, dep = env
    cached_stage(apigw, api_id, dep, "flush")
    s = Probe(dp, backend, api_id, "flush")
    assert s.get("/flush/a", "/flush/a")[1] and s.get("/items?id=f", "/items-get")[1]
    assert not s.get("/flush/a", "/flush/a")[1] and not s.get("/items?id=f", "/items-get")[1]
    assert apigw.flush_stage_cache(restApiId=api_id, stageName="flush")["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert s.get("/flush/a", "/flush/a")[1] and s.get("/items?id=f", "/items-get")[1]
    assert not s.get("/flush/a", "/flush/a")[1]


def test_what_is_never_cached(env, backend):
    _, apigw, dp, api_id, dep = env
    cached_stage(apigw, api_id, dep, "never")
    s = Probe(dp, backend, api_id, "never")
    # Just under 1 MB is cached; over 1 MB (1,048,576 bytes) is not.
    small, _ = s.get("/blob/1000000/under", "/blob/1000000/under")
    assert len(small.body) == 1000000
    assert not s.get("/blob/1000000/under", "/blob/1000000/under")[1]
    for _ in range(2):
        big, miss = s.get("/blob/1100000/over", "/blob/1100000/over")
        assert miss and big.status == 200 and len(big.body) == 1100000
    for status in (500, 404, 201):
        for _ in range(2):
            r, miss = s.get(f"/status/{status}/x", f"/status/{status}/x")
            assert r.status == status
            assert miss or status == 201  # non-2xx never cached
    # POST is not cached unless its own method setting says so.
    for _ in range(2):
        r, miss = s.get("/items?id=p", "/items-post", method="POST")
        assert r.status == 200 and r.json["method"] == "POST" and miss


def test_post_cached_when_its_own_setting_enables_it(env, backend):
    _, apigw, dp, api_id, dep = env
    cached_stage(apigw, api_id, dep, "post", patch("/~1items/POST/caching/enabled", "true"))
    s = Probe(dp, backend, api_id, "post")
    assert s.get("/items?id=p", "/items-post", method="POST")[1]
    assert not s.get("/items?id=p", "/items-post", method="POST")[1]
    # A POST with a body shaped its answer: served, never stored, never answered from the cache.
    r, miss = s.get("/items?id=q", "/items-post", method="POST", body=b'{"a":1}',
                    headers={"Content-Type": "application/json"})
    assert miss and r.json["body"] == '{"a":1}'
    r2, miss = s.get("/items?id=q", "/items-post", method="POST")
    assert miss and r2.json["body"] == ""


def test_cache_cluster_status(env, backend):
    _, apigw, dp, api_id, dep = env
    cached_stage(apigw, api_id, dep, "status")
    cached_stage(apigw, api_id, dep, "plain", enabled=False)
    st = apigw.get_stage(restApiId=api_id, stageName="status")
    assert (st["cacheClusterEnabled"], st["cacheClusterSize"], st["cacheClusterStatus"]) == (True, "0.5", "AVAILABLE")
    plain = apigw.get_stage(restApiId=api_id, stageName="plain")
    assert (plain["cacheClusterEnabled"], plain["cacheClusterStatus"]) == (False, "NOT_AVAILABLE")
    s, p = Probe(dp, backend, api_id, "status"), Probe(dp, backend, api_id, "plain")
    assert all(p.get("/st/plain", "/st/plain")[1] for _ in range(2))
    assert s.get("/st/a", "/st/a")[1] and not s.get("/st/a", "/st/a")[1]

    off = apigw.update_stage(restApiId=api_id, stageName="status",
                             patchOperations=[patch("/cacheClusterEnabled", "false")])
    assert (off["cacheClusterEnabled"], off["cacheClusterStatus"]) == (False, "NOT_AVAILABLE")
    assert all(s.get("/st/a", "/st/a")[1] for _ in range(2))
    on = apigw.update_stage(restApiId=api_id, stageName="plain",
                            patchOperations=[patch("/cacheClusterEnabled", "true")])
    assert (on["cacheClusterEnabled"], on["cacheClusterStatus"]) == (True, "AVAILABLE")
    assert p.get("/st/plain", "/st/plain")[1] and not p.get("/st/plain", "/st/plain")[1]


def test_eviction_under_the_byte_cap(backend):
    p = Portico(extra=("--access-log", "off", "--cache-max-bytes-per-stage", "200000"))
    try:
        apigw = client(p)
        api_id, dep = cached_api(apigw, backend, "evict-api")
        cached_stage(apigw, api_id, dep, "prod")
        dp = DataPlane(p)
        s = Probe(dp, backend, api_id, "prod")
        paths = [f"/blob/10000/e{i}" for i in range(30)]  # ~300 KB into a 200 KB cache
        assert all(s.get(x, x)[1] for x in paths)
        again = [s.get(x, x)[1] for x in paths]
        # Not everything fits: the oldest entries went first and are misses again; the newest
        # are still served.
        assert 10 <= again.count(True) < 30, again
        assert again[0] and not again[-1], again
        held = metric(p, "portico_cache_bytes", api_id, "prod")
        assert held is None or held <= 200000
        dp.close()
    finally:
        p.stop()


def test_create_deployment_enables_the_stage_cache(env, backend):
    _, apigw, dp, api_id, _ = env
    apigw.create_deployment(restApiId=api_id, stageName="deployed", cacheClusterEnabled=True, cacheClusterSize="1.6")
    st = apigw.get_stage(restApiId=api_id, stageName="deployed")
    assert (st["cacheClusterEnabled"], st.get("cacheClusterSize"), st["cacheClusterStatus"]) == (True, "1.6", "AVAILABLE")
    s = Probe(dp, backend, api_id, "deployed")
    assert s.get("/dep/a", "/dep/a")[1] and not s.get("/dep/a", "/dep/a")[1]
