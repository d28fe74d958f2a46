"""API keys, usage plans and their keys, account settings, tags and cache flushes through boto3:
stored, validated and returned exactly (their data-plane use arrives with the keys/throttling work)."""
import pytest
from botocore.exceptions import ClientError
from conftest import error_of


def deployed_api(apigw, name):
    api_id = apigw.create_rest_api(name=name)["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    return api_id


def test_api_keys(apigw):
    k = apigw.create_api_key(name="alice", enabled=True, customerId="cust-1", tags={"team": "a"})
    assert k["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert len(k["id"]) == 10 and len(k["value"]) == 40 and k["value"].isalnum()
    assert k["enabled"] is True
    assert "value" not in apigw.get_api_key(apiKey=k["id"])
    assert apigw.get_api_key(apiKey=k["id"], includeValue=True)["value"] == k["value"]
    listed = apigw.get_api_keys(includeValues=True, nameQuery="ali")
    assert [x["value"] for x in listed["items"]] == [k["value"]]
    assert "value" not in apigw.get_api_keys()["items"][0]
    assert apigw.create_api_key(name="off")["enabled"] is False
    with pytest.raises(ClientError) as e:
        apigw.create_api_key(name="short", value="tooshort")
    assert error_of(e) == (400, "BadRequestException", "API Key value should be at least 20 characters")
    with pytest.raises(ClientError) as e:
        apigw.create_api_key(name="dup", value=k["value"])
    assert error_of(e)[:2] == (409, "ConflictException")
    upd = apigw.update_api_key(apiKey=k["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}])
    assert upd["enabled"] is False
    imported = apigw.import_api_keys(body=b"Name,Key,Description,Enabled\nbob,bobs-key-0123456789abcdef,from csv,true\n", format="csv")
    assert len(imported["ids"]) == 1
    bob = apigw.get_api_key(apiKey=imported["ids"][0], includeValue=True)
    assert bob["name"] == "bob" and bob["value"] == "bobs-key-0123456789abcdef" and bob["enabled"] is True
    with pytest.raises(ClientError) as e:
        apigw.get_api_key(apiKey="nope000000")
    assert error_of(e) == (404, "NotFoundException", "Invalid API Key identifier specified")
    for key in apigw.get_api_keys(limit=500)["items"]:
        apigw.delete_api_key(apiKey=key["id"])


def test_usage_plans_and_keys(apigw):
    api_id = deployed_api(apigw, "plans-api")
    with pytest.raises(ClientError) as e:
        apigw.create_usage_plan(name="bad", apiStages=[{"apiId": api_id, "stage": "nostage"}])
    status, code, message = error_of(e)
    assert (status, code) == (400, "BadRequestException")
    assert message.startswith(f"Invalid API Stage {{api: {api_id}, stage: nostage}} specified for usageplan ")
    plan = apigw.create_usage_plan(name="gold", apiStages=[{"apiId": api_id, "stage": "prod"}],
                                   throttle={"burstLimit": 10, "rateLimit": 5.0},
                                   quota={"limit": 1000, "period": "DAY"})
    assert plan["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert plan["apiStages"] == [{"apiId": api_id, "stage": "prod"}]
    assert plan["quota"] == {"limit": 1000, "offset": 0, "period": "DAY"}
    upd = apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=[
        {"op": "replace", "path": "/throttle/rateLimit", "value": "20"},
        {"op": "replace", "path": "/quota/period", "value": "WEEK"}])
    assert upd["throttle"]["rateLimit"] == 20.0 and upd["quota"]["period"] == "WEEK"
    with pytest.raises(ClientError) as e:
        apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=[{"op": "replace", "path": "/quota/period", "value": "YEAR"}])
    assert error_of(e)[:2] == (400, "BadRequestException")

    key = apigw.create_api_key(name="member", enabled=True)
    pk = apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    assert pk["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert pk["id"] == key["id"] and pk["type"] == "API_KEY" and pk["value"] == key["value"]
    assert [x["id"] for x in apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [key["id"]]
    assert [p["id"] for p in apigw.get_usage_plans(keyId=key["id"])["items"]] == [plan["id"]]
    with pytest.raises(ClientError) as e:
        apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    assert error_of(e)[:2] == (409, "ConflictException")
    apigw.delete_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"])
    assert apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"] == []
    assert apigw.delete_usage_plan(usagePlanId=plan["id"])["ResponseMetadata"]["HTTPStatusCode"] == 202
    with pytest.raises(ClientError) as e:
        apigw.get_usage_plan(usagePlanId=plan["id"])
    assert error_of(e)[:2] == (404, "NotFoundException")
    apigw.delete_api_key(apiKey=key["id"])
    apigw.delete_rest_api(restApiId=api_id)


def test_account_tags_and_cache_flush(apigw):
    acct = apigw.get_account()
    assert acct["throttleSettings"] == {"burstLimit": 5000, "rateLimit": 10000.0}
    upd = apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": "arn:aws:iam::000000000000:role/logs"}])
    assert upd["cloudwatchRoleArn"] == "arn:aws:iam::000000000000:role/logs"

    api_id = deployed_api(apigw, "tags-api")
    arn = f"arn:aws:apigateway:us-east-1::/restapis/{api_id}"
    apigw.tag_resource(resourceArn=arn, tags={"env": "test", "team": "x"})
    assert apigw.get_tags(resourceArn=arn)["tags"] == {"env": "test", "team": "x"}
    apigw.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert apigw.get_tags(resourceArn=arn)["tags"] == {"env": "test"}
    assert apigw.get_rest_api(restApiId=api_id)["tags"] == {"env": "test"}
    stage_arn = f"arn:aws:apigateway:us-east-1::/restapis/{api_id}/stages/prod"
    apigw.tag_resource(resourceArn=stage_arn, tags={"tier": "gold"})
    assert apigw.get_stage(restApiId=api_id, stageName="prod")["tags"] == {"tier": "gold"}
    apigw.untag_resource(resourceArn=stage_arn, tagKeys=["tier"])
    assert apigw.get_tags(resourceArn=stage_arn)["tags"] == {}

    assert apigw.flush_stage_cache(restApiId=api_id, stageName="prod")["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert apigw.flush_stage_authorizers_cache(restApiId=api_id, stageName="prod")["ResponseMetadata"]["HTTPStatusCode"] == 202
    with pytest.raises(ClientError) as e:
        apigw.flush_stage_cache(restApiId=api_id, stageName="nope")
    assert error_of(e) == (404, "NotFoundException", "Invalid stage identifier specified")
    apigw.delete_rest_api(restApiId=api_id)


def test_domain_names_and_base_path_mappings(apigw):
    api_id = deployed_api(apigw, "domains-api")
    d = apigw.create_domain_name(domainName="API.Example.com", regionalCertificateArn="arn:aws:acm:us-east-1:000000000000:certificate/x",
                                 endpointConfiguration={"types": ["REGIONAL"]})
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert d["domainName"] == "api.example.com" and d["domainNameStatus"] == "AVAILABLE"
    assert d["regionalDomainName"].endswith(".execute-api.us-east-1.amazonaws.com")
    edge = apigw.create_domain_name(domainName="edge.example.com", certificateArn="arn:aws:acm:us-east-1:000000000000:certificate/y")
    assert edge["distributionDomainName"].endswith(".cloudfront.net")
    with pytest.raises(ClientError) as e:
        apigw.create_domain_name(domainName="api.example.com")
    assert error_of(e) == (409, "ConflictException", "The domain name you provided already exists.")
    root = apigw.create_base_path_mapping(domainName="api.example.com", restApiId=api_id, stage="prod")
    assert root["basePath"] == "(none)" and root["stage"] == "prod"
    assert apigw.get_base_path_mapping(domainName="api.example.com", basePath="(none)")["restApiId"] == api_id
    # AWS: the root mapping takes the whole domain.
    with pytest.raises(ClientError) as e:
        apigw.create_base_path_mapping(domainName="api.example.com", basePath="v1", restApiId=api_id)
    assert error_of(e) == (409, "ConflictException", "Only one base path mapping is allowed if the base path is empty.")
    apigw.delete_base_path_mapping(domainName="api.example.com", basePath="(none)")
    v1 = apigw.create_base_path_mapping(domainName="api.example.com", basePath="v1", restApiId=api_id)
    assert v1["basePath"] == "v1" and "stage" not in v1
    with pytest.raises(ClientError) as e:
        apigw.create_base_path_mapping(domainName="api.example.com", basePath="v1", restApiId=api_id)
    assert error_of(e)[:2] == (409, "ConflictException")
    with pytest.raises(ClientError) as e:
        apigw.create_base_path_mapping(domainName="api.example.com", basePath="v2", restApiId=api_id, stage="nope")
    assert error_of(e)[:2] == (400, "BadRequestException")
    assert sorted(m["basePath"] for m in apigw.get_base_path_mappings(domainName="api.example.com")["items"]) == ["v1"]
    moved = apigw.update_base_path_mapping(domainName="api.example.com", basePath="v1", patchOperations=[
        {"op": "replace", "path": "/basePath", "value": "v2"}])
    assert moved["basePath"] == "v2"
    apigw.delete_base_path_mapping(domainName="api.example.com", basePath="v2")
    assert apigw.delete_domain_name(domainName="api.example.com")["ResponseMetadata"]["HTTPStatusCode"] == 202
    apigw.delete_domain_name(domainName="edge.example.com")
    with pytest.raises(ClientError) as e:
        apigw.get_domain_name(domainName="api.example.com")
    assert error_of(e) == (404, "NotFoundException", "Invalid domain name identifier specified")
    apigw.delete_rest_api(restApiId=api_id)


def test_get_usage_and_update_usage(apigw):
    import datetime
    api_id = deployed_api(apigw, "usage-api")
    plan = apigw.create_usage_plan(name="metered", apiStages=[{"apiId": api_id, "stage": "prod"}],
                                   quota={"limit": 500, "period": "MONTH"})
    key = apigw.create_api_key(name="metered-key", enabled=True)
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    today = datetime.date.today()
    start = (today - datetime.timedelta(days=2)).isoformat()
    usage = apigw.get_usage(usagePlanId=plan["id"], startDate=start, endDate=today.isoformat())
    assert usage["usagePlanId"] == plan["id"]
    assert usage["startDate"] == start and usage["endDate"] == today.isoformat()
    # Nothing is metered yet (API keys are not enforced by the data plane so far): 0 used, full quota left.
    assert usage["items"] == {key["id"]: [[0, 500], [0, 500], [0, 500]]}
    upd = apigw.update_usage(usagePlanId=plan["id"], keyId=key["id"],
                             patchOperations=[{"op": "replace", "path": "/remaining", "value": "42"}])
    assert upd["items"] == {key["id"]: [[0, 42]]}
    with pytest.raises(ClientError) as e:
        apigw.get_usage(usagePlanId=plan["id"], startDate=today.isoformat(), endDate=start)
    assert error_of(e)[:2] == (400, "BadRequestException")
    with pytest.raises(ClientError) as e:
        apigw.update_usage(usagePlanId=plan["id"], keyId=key["id"],
                           patchOperations=[{"op": "replace", "path": "/used", "value": "1"}])
    assert error_of(e)[:2] == (400, "BadRequestException")
    apigw.delete_usage_plan(usagePlanId=plan["id"])
    apigw.delete_api_key(apiKey=key["id"])
    apigw.delete_rest_api(restApiId=api_id)


def all_keys(apigw):
    return apigw.get_paginator("get_api_keys").paginate(includeValues=True).build_full_result()["items"]


def test_account_throttle_is_stored_and_patchable(apigw):
    assert apigw.get_account()["throttleSettings"] == {"burstLimit": 5000, "rateLimit": 10000.0}
    try:
        upd = apigw.update_account(patchOperations=[
            {"op": "replace", "path": "/throttleSettings/rateLimit", "value": "250.5"},
            {"op": "replace", "path": "/throttleSettings/burstLimit", "value": "40"}])
        assert upd["throttleSettings"] == {"burstLimit": 40, "rateLimit": 250.5}
        assert apigw.get_account()["throttleSettings"] == {"burstLimit": 40, "rateLimit": 250.5}
        for path, value in [("/throttleSettings/rateLimit", "-1"), ("/throttleSettings/burstLimit", "-5")]:
            with pytest.raises(ClientError) as e:
                apigw.update_account(patchOperations=[{"op": "replace", "path": path, "value": value}])
            assert error_of(e)[:2] == (400, "BadRequestException")
        with pytest.raises(ClientError) as e:
            apigw.update_account(patchOperations=[{"op": "replace", "path": "/apiKeyVersion", "value": "5"}])
        assert error_of(e) == (400, "BadRequestException",
                               "Invalid patch path  '/apiKeyVersion' specified for op 'replace'. Must be one of: [/cloudwatchRoleArn]")
        assert apigw.get_account()["throttleSettings"] == {"burstLimit": 40, "rateLimit": 250.5}
    finally:
        apigw.update_account(patchOperations=[
            {"op": "replace", "path": "/throttleSettings/rateLimit", "value": "10000"},
            {"op": "replace", "path": "/throttleSettings/burstLimit", "value": "5000"}])
    assert apigw.get_account()["throttleSettings"] == {"burstLimit": 5000, "rateLimit": 10000.0}


def test_bad_usage_plans_are_refused_and_change_nothing(apigw):
    api_id = deployed_api(apigw, "bad-plans-api")
    before = apigw.get_usage_plans(limit=500)["items"]
    cases = [
        dict(throttle={"burstLimit": -1, "rateLimit": 1.0}),
        dict(throttle={"burstLimit": 1, "rateLimit": -1.0}),
        dict(quota={"limit": -1, "period": "DAY"}),
        dict(quota={"limit": 10, "period": "DAY", "offset": 1}),
        dict(quota={"limit": 10, "period": "WEEK", "offset": 7}),
        dict(quota={"limit": 10, "period": "MONTH", "offset": 28}),
    ]
    for kwargs in cases:
        with pytest.raises(ClientError) as e:
            apigw.create_usage_plan(name="bad", **kwargs)
        assert error_of(e)[:2] == (400, "BadRequestException"), kwargs
    with pytest.raises(ClientError) as e:
        apigw.create_usage_plan(name="bad", apiStages=[{"apiId": "nosuchapi0", "stage": "prod"}])
    status, code, message = error_of(e)
    assert (status, code) == (400, "BadRequestException")
    assert message.startswith("Invalid API Stage {api: nosuchapi0, stage: prod} specified for usageplan ")
    plan = apigw.create_usage_plan(name="ok", quota={"limit": 10, "period": "WEEK", "offset": 6})
    for ops in ([{"op": "replace", "path": "/quota/period", "value": "YEAR"}],
                [{"op": "replace", "path": "/throttle/rateLimit", "value": "-3"}],
                [{"op": "replace", "path": "/quota/offset", "value": "9"}]):
        with pytest.raises(ClientError) as e:
            apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=ops)
        assert error_of(e)[:2] == (400, "BadRequestException"), ops
    got = apigw.get_usage_plan(usagePlanId=plan["id"])
    assert got["quota"] == {"limit": 10, "offset": 6, "period": "WEEK"} and "throttle" not in got
    apigw.delete_usage_plan(usagePlanId=plan["id"])
    assert apigw.get_usage_plans(limit=500)["items"] == before
    apigw.delete_rest_api(restApiId=api_id)


def test_a_key_cannot_be_in_two_plans_on_one_stage(apigw):
    api_id = deployed_api(apigw, "two-plans-api")
    stage = [{"apiId": api_id, "stage": "prod"}]
    gold = apigw.create_usage_plan(name="gold", apiStages=stage)
    silver = apigw.create_usage_plan(name="silver", apiStages=stage)
    other = apigw.create_usage_plan(name="other")
    key = apigw.create_api_key(name="two-plans", enabled=True)
    apigw.create_usage_plan_key(usagePlanId=gold["id"], keyId=key["id"], keyType="API_KEY")
    with pytest.raises(ClientError) as e:
        apigw.create_usage_plan_key(usagePlanId=silver["id"], keyId=key["id"], keyType="API_KEY")
    assert error_of(e) == (409, "ConflictException",
                           f"Usage Plan {silver['id']} cannot be added because API Key {key['id']} cannot reference "
                           f"multiple Usage Plans with the same API Stage: {api_id}:prod")
    assert apigw.get_usage_plan_keys(usagePlanId=silver["id"])["items"] == []
    apigw.create_usage_plan_key(usagePlanId=other["id"], keyId=key["id"], keyType="API_KEY")
    assert sorted(p["id"] for p in apigw.get_usage_plans(keyId=key["id"])["items"]) == sorted([gold["id"], other["id"]])
    with pytest.raises(ClientError) as e:
        apigw.create_usage_plan_key(usagePlanId=gold["id"], keyId="nokey00000", keyType="API_KEY")
    assert error_of(e) == (404, "NotFoundException", "Invalid API Key identifier specified")
    # Deleting the key drops its memberships.
    apigw.delete_api_key(apiKey=key["id"])
    assert apigw.get_usage_plan_keys(usagePlanId=gold["id"])["items"] == []
    for p in (gold, silver, other):
        apigw.delete_usage_plan(usagePlanId=p["id"])
    apigw.delete_rest_api(restApiId=api_id)


def test_import_api_keys_csv(apigw):
    plan = apigw.create_usage_plan(name="csv-plan")
    before = all_keys(apigw)
    body = (f"Enabled,name,KEY,UsagePlanIds,Description\n"
            f"true,csv-one,csv-one-0123456789abcdefgh,\"{plan['id']}\",first\n"
            f"false,csv-two,csv-two-0123456789abcdefgh,,second\n"
            f",csv-three,csv-three-0123456789abcdefgh,,\n").encode()
    out = apigw.import_api_keys(body=body, format="csv", failOnWarnings=True)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert len(out["ids"]) == 3 and out.get("warnings", []) == []
    one, two, three = (apigw.get_api_key(apiKey=i, includeValue=True) for i in out["ids"])
    assert (one["name"], one["value"], one["enabled"], one["description"]) == ("csv-one", "csv-one-0123456789abcdefgh", True, "first")
    assert two["enabled"] is False and three["enabled"] is True
    assert [k["id"] for k in apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [one["id"]]
    # Imported again: the key with the same value is overwritten in place.
    again = apigw.import_api_keys(body=b"name,key\ncsv-one-renamed,csv-one-0123456789abcdefgh\n", format="csv")
    assert again["ids"] == [one["id"]]
    assert apigw.get_api_key(apiKey=one["id"])["name"] == "csv-one-renamed"

    count = len(all_keys(apigw))
    bad_files = [
        b"name,key\nfine,csv-fine-0123456789abcdefgh\nbroken,\"csv-broken-0123456789abcdef\n",
        b"name,key\nfine,csv-fine-0123456789abcdefgh\nshort,tooshort\n",
        b"key\ncsv-fine-0123456789abcdefgh\n",
        f"name,key,usageplanids\nfine,csv-fine-0123456789abcdefgh,nosuch\n".encode(),
    ]
    for f in bad_files:
        with pytest.raises(ClientError) as e:
            apigw.import_api_keys(body=f, format="csv")
        assert error_of(e)[:2] == (400, "BadRequestException"), f
    with pytest.raises(ClientError) as e:
        apigw.import_api_keys(body=b"name,key\nbroken,\"csv-broken-0123456789abcdef\n", format="csv")
    assert error_of(e) == (400, "BadRequestException", "Invalid API keys file, line 2: unterminated quoted field")
    with pytest.raises(ClientError) as e:
        apigw.import_api_keys(body=b"name,key,color\nfine,csv-fine-0123456789abcdefgh,red\n", format="csv", failOnWarnings=True)
    assert error_of(e) == (400, "BadRequestException", "Warnings found during import:\n\tUnrecognized column 'color' ignored")
    assert len(all_keys(apigw)) == count
    warned = apigw.import_api_keys(body=b"name,key,color\nfine,csv-fine-0123456789abcdefgh,red\n", format="csv")
    assert warned["warnings"] == ["Unrecognized column 'color' ignored"]
    for k in all_keys(apigw):
        if k not in before:
            apigw.delete_api_key(apiKey=k["id"])
    apigw.delete_usage_plan(usagePlanId=plan["id"])


def test_get_api_keys_pages(apigw):
    made = [apigw.create_api_key(name=f"page-{i}")["id"] for i in range(5)]
    first = apigw.get_api_keys(nameQuery="page-", limit=2)
    assert [k["id"] for k in first["items"]] == made[:2] and first["position"]
    rest = apigw.get_api_keys(nameQuery="page-", limit=10, position=first["position"])
    assert [k["id"] for k in rest["items"]] == made[2:] and "position" not in rest
    assert [k["id"] for k in apigw.get_api_keys(nameQuery="page-3")["items"]] == [made[3]]
    for i in made:
        apigw.delete_api_key(apiKey=i)
