"""T28 cache poisoning, black-box: a first request carries an unkeyed input (steering headers,
`Accept-Encoding` to a backend that compresses, a GET body, an unkeyed query parameter, another
Host spelling, cookies, credentials) or the backend answers with `Set-Cookie` / `Vary: *`; a
second, plain request to the same cache key never gets the attacker's input back."""
import gzip
import json

import pytest
from conftest import Portico

from traffic_kit import Backend, DataPlane, Http, client, new_api, proxy_method, resource

EVIL = "evil.example"


@pytest.fixture(scope="module")
def env():
    backend = Backend()
    p = Portico()
    apigw = client(p)
    api_id, root = new_api(apigw, "poison-api")
    base = f"http://127.0.0.1:{backend.port}"
    proxy_method(apigw, api_id, resource(apigw, api_id, root, "{proxy+}"), base + "/{proxy}",
                 params=("path.proxy",), cache_keys=("path.proxy",))
    tenant = resource(apigw, api_id, root, "tenant")
    proxy_method(apigw, api_id, tenant, base + "/tenant", params=("header.X-Tenant",),
                 cache_keys=("header.X-Tenant",))
    dep = apigw.create_deployment(restApiId=api_id)["id"]
    apigw.create_stage(restApiId=api_id, stageName="prod", deploymentId=dep, cacheClusterEnabled=True,
                       cacheClusterSize="0.5")
    dp = DataPlane(p)
    yield p, dp, backend, api_id
    dp.close()
    p.stop()
    backend.close()


def text_of(reply):
    return reply.body.decode("latin-1") + "\n" + "\n".join(f"{k}: {v}" for k, v in reply.headers.items())


ATTACKS = {
    "x-forwarded-host": dict(headers={"X-Forwarded-Host": EVIL}, needle=EVIL),
    "x-original-url": dict(headers={"X-Original-URL": "/admin-evil"}, needle="/admin-evil"),
    "x-rewrite-url": dict(headers={"X-Rewrite-URL": "/admin-evil"}, needle="/admin-evil"),
    "x-http-method-override": dict(headers={"X-HTTP-Method-Override": "DELETE"}, needle="DELETE"),
    "forwarded": dict(headers={"Forwarded": f"host={EVIL};proto=http"}, needle=EVIL),
    "odd-accept-encoding": dict(headers={"Accept-Encoding": "evil-encoding"}, needle="evil-encoding"),
    "get-with-body": dict(body=b"<script>evil-body</script>", headers={"Content-Type": "text/plain"},
                          needle="evil-body"),
    "unkeyed-query": dict(query="?x=%3Cscript%3Eevil-query%3C/script%3E", needle="evil-query"),
    "host": dict(headers={"Host": EVIL}, needle=EVIL),
    "x-host": dict(headers={"X-Host": EVIL}, needle=EVIL),
    "cookie": dict(headers={"Cookie": "session=evil-cookie"}, needle="evil-cookie"),
    "authorization": dict(headers={"Authorization": "Bearer evil-token"}, needle="evil-token"),
}


@pytest.mark.parametrize("case", ATTACKS)
def test_unkeyed_input_never_reaches_a_plain_request(env, case):
    _, dp, backend, api_id = env
    attack = ATTACKS[case]
    path = f"/poison/{case}"
    first = dp.call(api_id, "prod", path + attack.get("query", ""), headers=attack.get("headers"),
                    body=attack.get("body"))
    assert first.status == 200
    reached = attack["needle"] in first.body.decode("latin-1")
    hits = backend.count(path)
    plain = dp.call(api_id, "prod", path)
    assert plain.status == 200 and attack["needle"] not in text_of(plain)
    if reached:
        # The backend saw the attacker's input, so that answer was not stored: the plain
        # request went to the backend.
        assert backend.count(path) == hits + 1
    else:
        # The gateway kept the input from the backend (X-Forwarded-Host, Forwarded and
        # Accept-Encoding are not passed on), so the first answer was fit to store.
        assert case in ("x-forwarded-host", "forwarded", "odd-accept-encoding", "host"), first.body
    # The plain answer is stored and served.
    hits = backend.count(path)
    again = dp.call(api_id, "prod", path)
    assert backend.count(path) == hits and again.body == plain.body


def test_accept_encoding_gzip_is_not_stored_for_others(env):
    _, dp, backend, api_id = env
    # A storable request is sent to the backend without its Accept-Encoding: what is stored
    # is unencoded, fit for every client.
    first = dp.call(api_id, "prod", "/gzip/a", headers={"Accept-Encoding": "gzip"})
    assert first.status == 200 and "content-encoding" not in first.headers
    assert "accept-encoding" not in first.json["headers"]
    plain = dp.call(api_id, "prod", "/gzip/a")
    assert backend.count("/gzip/a") == 1 and plain.body == first.body
    assert "content-encoding" not in plain.headers and plain.json["path"] == "/gzip/a"

    # One that cannot be stored anyway (unkeyed query) keeps it, and gets gzip back...
    zipped = dp.call(api_id, "prod", "/gzip/b?x=1", headers={"Accept-Encoding": "gzip"})
    assert zipped.status == 200 and zipped.headers.get("content-encoding") == "gzip"
    assert json.loads(gzip.decompress(zipped.body))["headers"]["accept-encoding"] == "gzip"
    # ...which the plain request after it never sees.
    plain = dp.call(api_id, "prod", "/gzip/b")
    assert backend.count("/gzip/b") == 2 and "content-encoding" not in plain.headers
    assert plain.json["path"] == "/gzip/b"


def test_another_host_spelling_shares_nothing_it_should_not(env):
    p, dp, backend, api_id = env
    path = "/poison/host"
    vhost = Http(p.data_plane)
    first = vhost.request("GET", f"/prod{path}", headers={"Host": f"{api_id}.execute-api.{EVIL}"})
    vhost.close()
    assert first.status == 200 and json.loads(first.body)["path"] == path
    plain = dp.call(api_id, "prod", path)
    assert plain.status == 200 and EVIL not in text_of(plain)
    # Both spellings name one API, one stage, one resource: one cache entry.
    assert backend.count(path) == 1 and plain.body == first.body


@pytest.mark.parametrize("backend_path", ["/setcookie/a", "/varystar/a"])
def test_responses_that_belong_to_one_caller_are_not_stored(env, backend_path):
    _, dp, backend, api_id = env
    first = dp.call(api_id, "prod", backend_path)
    assert first.status == 200
    assert first.headers.get("set-cookie") or first.headers.get("vary") == "*"
    second = dp.call(api_id, "prod", backend_path)
    assert backend.count(backend_path) == 2
    assert json.loads(second.body)["hit"] == 2


def test_a_keyed_header_is_stored_per_value(env):
    _, dp, backend, api_id = env
    a = dp.call(api_id, "prod", "/tenant", headers={"X-Tenant": "a"})
    b = dp.call(api_id, "prod", "/tenant", headers={"X-Tenant": "b"})
    assert backend.count("/tenant") == 2
    assert a.json["headers"]["x-tenant"] == "a" and b.json["headers"]["x-tenant"] == "b"
    assert dp.call(api_id, "prod", "/tenant", headers={"X-Tenant": "b"}).body == b.body
    assert dp.call(api_id, "prod", "/tenant", headers={"X-Tenant": "a"}).body == a.body
    none = dp.call(api_id, "prod", "/tenant")
    assert backend.count("/tenant") == 3 and "x-tenant" not in none.json["headers"]
