"""Custom domain names on the data plane, black-box: `Host` → domain → the longest base path
mapping → API and stage (issue 13, part 3). Versions side by side under one domain (`/v1` → API
A, `/v2` → API B), the root mapping `(none)`, a mapping without a stage (the stage is the next
segment), `disableExecuteApiEndpoint` closing only the default endpoint, unknown domains 403,
changes served when the management call returns, and AWS's rules on mappings."""
import botocore.exceptions
import pytest
from conftest import Portico, error_of

from traffic_kit import DataPlane, client, mock_method, new_api, patch, resource, wait_until


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


def versioned_api(apigw, name, answer, **kw):
    api_id, root = new_api(apigw, name, **kw)
    mock_method(apigw, api_id, resource(apigw, api_id, root, "pets"), template=f'{{"version":"{answer}"}}')
    mock_method(apigw, api_id, root, template=f'{{"root":"{answer}"}}')
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    return api_id


def on(dp, domain, path):
    return dp.request("GET", path, headers={"Host": domain})


def test_two_versions_side_by_side_under_one_domain(apigw, dp):
    v1 = versioned_api(apigw, "dom-v1", "v1")
    v2 = versioned_api(apigw, "dom-v2", "v2")
    apigw.create_domain_name(domainName="api.example.com", regionalCertificateArn="arn:aws:acm:us-east-1:000000000000:certificate/x")
    apigw.create_base_path_mapping(domainName="api.example.com", basePath="v1", restApiId=v1, stage="prod")
    apigw.create_base_path_mapping(domainName="api.example.com", basePath="v2", restApiId=v2, stage="prod")
    assert on(dp, "api.example.com", "/v1/pets").json == {"version": "v1"}
    assert on(dp, "API.example.com:443", "/v2/pets").json == {"version": "v2"}
    assert on(dp, "api.example.com", "/v2").json == {"root": "v2"}
    # A base path is a whole segment: /v10 is not /v1.
    r = on(dp, "api.example.com", "/v10/pets")
    assert (r.status, r.json) == (403, {"message": "Forbidden"})
    # Unknown domain: 403 as AWS.
    r = on(dp, "nope.example.com", "/v1/pets")
    assert (r.status, r.json) == (403, {"message": "Forbidden"})


def test_root_mapping_and_a_mapping_without_a_stage(apigw, dp):
    api = versioned_api(apigw, "dom-root", "root")
    apigw.create_domain_name(domainName="root.example.com", regionalCertificateArn="arn:aws:acm:us-east-1:000000000000:certificate/x")
    apigw.create_base_path_mapping(domainName="root.example.com", restApiId=api, stage="prod")
    assert on(dp, "root.example.com", "/pets").json == {"version": "root"}
    assert on(dp, "root.example.com", "/").json == {"root": "root"}
    apigw.create_domain_name(domainName="staged.example.com", regionalCertificateArn="arn:aws:acm:us-east-1:000000000000:certificate/x")
    apigw.create_base_path_mapping(domainName="staged.example.com", basePath="svc", restApiId=api)
    assert on(dp, "staged.example.com", "/svc/prod/pets").json == {"version": "root"}
    assert on(dp, "staged.example.com", "/svc/nostage/pets").status == 403


def test_changes_are_served_when_the_call_returns(apigw, dp):
    api = versioned_api(apigw, "dom-live", "live")
    apigw.create_domain_name(domainName="live.example.com", regionalCertificateArn="arn:aws:acm:us-east-1:000000000000:certificate/x")
    assert on(dp, "live.example.com", "/a/pets").status == 403
    apigw.create_base_path_mapping(domainName="live.example.com", basePath="a", restApiId=api, stage="prod")
    assert on(dp, "live.example.com", "/a/pets").json == {"version": "live"}
    apigw.delete_base_path_mapping(domainName="live.example.com", basePath="a")
    assert on(dp, "live.example.com", "/a/pets").status == 403
    apigw.create_base_path_mapping(domainName="live.example.com", basePath="b", restApiId=api, stage="prod")
    apigw.delete_domain_name(domainName="live.example.com")
    assert on(dp, "live.example.com", "/b/pets").status == 403


def test_disabled_default_endpoint_still_serves_its_custom_domain(apigw, dp):
    api = versioned_api(apigw, "dom-private", "private", disableExecuteApiEndpoint=True)
    apigw.create_deployment(restApiId=api, stageName="prod")
    r = dp.call(api, "prod", "/pets")
    assert (r.status, r.json) == (403, {"message": "Forbidden"})
    apigw.create_domain_name(domainName="private.example.com", regionalCertificateArn="arn:aws:acm:us-east-1:000000000000:certificate/x")
    apigw.create_base_path_mapping(domainName="private.example.com", basePath="p", restApiId=api, stage="prod")
    assert on(dp, "private.example.com", "/p/pets").json == {"version": "private"}


def test_awss_rules_on_mappings(apigw):
    api = versioned_api(apigw, "dom-rules", "rules")
    apigw.create_domain_name(domainName="rules.example.com", regionalCertificateArn="arn:aws:acm:us-east-1:000000000000:certificate/x")
    apigw.create_base_path_mapping(domainName="rules.example.com", basePath="one", restApiId=api, stage="prod")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_base_path_mapping(domainName="rules.example.com", restApiId=api, stage="prod")
    assert error_of(e) == (409, "ConflictException", "Only one base path mapping is allowed if the base path is empty.")
    apigw.create_domain_name(domainName="rules2.example.com", regionalCertificateArn="arn:aws:acm:us-east-1:000000000000:certificate/x")
    apigw.create_base_path_mapping(domainName="rules2.example.com", restApiId=api, stage="prod")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_base_path_mapping(domainName="rules2.example.com", basePath="two", restApiId=api, stage="prod")
    assert error_of(e)[:2] == (409, "ConflictException")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_base_path_mapping(domainName="rules.example.com", basePath="a/b", restApiId=api, stage="prod")
    assert error_of(e)[:2] == (400, "BadRequestException")
    mappings = apigw.get_base_path_mappings(domainName="rules.example.com")["items"]
    assert [m["basePath"] for m in mappings] == ["one"]


def test_the_base_path_matched_is_in_context_and_access_logs(tmp_path):
    log = tmp_path / "access.log"
    p = Portico(extra=("--access-log", str(log)))
    try:
        apigw = client(p)
        dp = DataPlane(p)
        api_id, root = new_api(apigw, "dom-ctx")
        mock_method(apigw, api_id, resource(apigw, api_id, root, "where"),
                    template='{"base":"$context.customDomain.basePathMatched","domain":"$context.domainName"}')
        apigw.create_deployment(restApiId=api_id, stageName="prod")
        apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
            patch("/accessLogSettings/destinationArn", "arn:aws:logs:us-east-1:123456789012:log-group:x"),
            patch("/accessLogSettings/format", "base=$context.customDomain.basePathMatched canary=$context.isCanaryRequest path=$context.path"),
        ])
        for domain, base in (("ctx.example.com", "v1"), ("root.example.com", "(none)")):
            apigw.create_domain_name(domainName=domain, regionalCertificateArn="arn:aws:acm:us-east-1:000000000000:certificate/x")
            apigw.create_base_path_mapping(domainName=domain, basePath=base, restApiId=api_id, stage="prod")
        assert on(dp, "ctx.example.com", "/v1/where").json == {"base": "v1", "domain": "ctx.example.com"}
        assert on(dp, "root.example.com", "/where").json == {"base": "(none)", "domain": "root.example.com"}
        # The default endpoint has no custom domain: the key is absent, printing nothing.
        assert dp.call(api_id, "prod", "/where").json["base"] == ""

        def lines():
            return [line for line in log.read_text().splitlines() if line.startswith("base=")] if log.exists() else []
        got = wait_until("three access-log lines", lambda: len(lines()) >= 3 and lines())
        assert got[:3] == ["base=v1 canary=- path=/v1/where", "base=(none) canary=- path=/where",
                           f"base=- canary=- path=/restapis/{api_id}/prod/_user_request_/where"]
        dp.close()
    finally:
        p.stop()
