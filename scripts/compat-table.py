#!/usr/bin/env python3
"""Prints the apigateway operation coverage table of docs/compatibility.md from botocore's service
model (the wire contract) and the list of operations Portico implements.

    .venv/bin/python scripts/compat-table.py > /tmp/table.md
"""
import glob
import gzip
import json
import os
import sys

import botocore

IMPLEMENTED = {
    # operation: tests that drive it (tests/management/*.py)
    "CreateRestApi": "test_rest_api, test_cli",
    "GetRestApi": "test_rest_api, test_cli",
    "GetRestApis": "test_rest_api (paging), test_cli",
    "UpdateRestApi": "test_update_and_import",
    "DeleteRestApi": "test_rest_api, test_cli",
    "ImportRestApi": "test_update_and_import",
    "PutRestApi": "test_update_and_import (merge, overwrite)",
    "GetResources": "test_rest_api (embed=methods), test_cli",
    "GetResource": "test_rest_api",
    "CreateResource": "test_rest_api, test_cli, concurrency test",
    "UpdateResource": "test_update_and_import",
    "DeleteResource": "test_rest_api",
    "PutMethod": "test_rest_api, test_cli",
    "GetMethod": "test_rest_api",
    "UpdateMethod": "test_update_and_import",
    "DeleteMethod": "test_rest_api",
    "PutMethodResponse": "test_rest_api, test_cli",
    "GetMethodResponse": "control unit tests",
    "UpdateMethodResponse": "test_update_and_import (201 quirk)",
    "DeleteMethodResponse": "control unit tests",
    "PutIntegration": "test_rest_api, test_cli",
    "GetIntegration": "test_rest_api",
    "UpdateIntegration": "test_update_and_import",
    "DeleteIntegration": "test_rest_api",
    "PutIntegrationResponse": "test_rest_api, test_cli",
    "GetIntegrationResponse": "control unit tests",
    "UpdateIntegrationResponse": "test_update_and_import",
    "DeleteIntegrationResponse": "control unit tests",
    "CreateDeployment": "test_rest_api, test_cli",
    "GetDeployments": "test_rest_api",
    "GetDeployment": "test_rest_api (embed=apisummary)",
    "UpdateDeployment": "test_update_and_import",
    "DeleteDeployment": "test_rest_api",
    "CreateStage": "test_rest_api",
    "GetStages": "test_rest_api",
    "GetStage": "test_rest_api",
    "UpdateStage": "test_update_and_import, test_cli",
    "DeleteStage": "test_rest_api",
    "GetGatewayResponses": "test_gateway_responses (21 defaults)",
    "GetGatewayResponse": "test_gateway_responses",
    "PutGatewayResponse": "test_gateway_responses (served after deployment)",
    "UpdateGatewayResponse": "test_gateway_responses",
    "DeleteGatewayResponse": "test_gateway_responses",
    "CreateModel": "test_api_objects", "GetModel": "test_api_objects", "GetModels": "test_api_objects",
    "UpdateModel": "test_api_objects", "DeleteModel": "test_api_objects",
    "CreateRequestValidator": "test_api_objects", "GetRequestValidator": "test_api_objects",
    "GetRequestValidators": "test_api_objects", "UpdateRequestValidator": "test_api_objects",
    "DeleteRequestValidator": "test_api_objects",
    "CreateAuthorizer": "test_api_objects", "GetAuthorizer": "store (test_api_objects)",
    "GetAuthorizers": "control", "UpdateAuthorizer": "control", "DeleteAuthorizer": "test_api_objects",
    "CreateApiKey": "test_account", "GetApiKey": "test_account (includeValue)",
    "GetApiKeys": "test_account (includeValues, nameQuery)", "UpdateApiKey": "test_account",
    "DeleteApiKey": "test_account", "ImportApiKeys": "test_account (csv)",
    "CreateUsagePlan": "test_account", "GetUsagePlan": "test_account", "GetUsagePlans": "test_account (keyId)",
    "UpdateUsagePlan": "test_account", "DeleteUsagePlan": "test_account",
    "CreateUsagePlanKey": "test_account", "GetUsagePlanKey": "control", "GetUsagePlanKeys": "test_account",
    "DeleteUsagePlanKey": "test_account",
    "GetAccount": "test_account", "UpdateAccount": "test_account (cloudwatchRoleArn)",
    "TagResource": "test_account (REST APIs, stages, API keys, usage plans)", "UntagResource": "test_account",
    "GetTags": "test_account",
    "FlushStageCache": "test_account (no cache yet: checks the stage)",
    "FlushStageAuthorizersCache": "test_account (no cache yet: checks the stage)",
    "GetExport": "test_export (oas30/swagger, JSON/YAML, extensions, re-import round trip), test_cli",
    "CreateDomainName": "test_account", "GetDomainName": "test_account", "GetDomainNames": "control",
    "UpdateDomainName": "control", "DeleteDomainName": "test_account",
    "CreateBasePathMapping": "test_account", "GetBasePathMapping": "test_account",
    "GetBasePathMappings": "test_account", "UpdateBasePathMapping": "test_account",
    "DeleteBasePathMapping": "test_account",
    "TestInvokeMethod": "test_test_invoke (status, headers, body, latency, execution log)",
    "CreateDocumentationPart": "test_docs_and_vpclinks", "GetDocumentationPart": "control",
    "GetDocumentationParts": "test_docs_and_vpclinks (type filter)", "UpdateDocumentationPart": "test_docs_and_vpclinks",
    "DeleteDocumentationPart": "test_docs_and_vpclinks", "ImportDocumentationParts": "test_docs_and_vpclinks (overwrite)",
    "CreateDocumentationVersion": "test_docs_and_vpclinks (with stage)", "GetDocumentationVersion": "test_docs_and_vpclinks",
    "GetDocumentationVersions": "test_docs_and_vpclinks", "UpdateDocumentationVersion": "test_docs_and_vpclinks",
    "DeleteDocumentationVersion": "test_docs_and_vpclinks",
    "CreateVpcLink": "test_docs_and_vpclinks (202, AVAILABLE at once)", "GetVpcLink": "test_docs_and_vpclinks",
    "GetVpcLinks": "test_docs_and_vpclinks", "UpdateVpcLink": "test_docs_and_vpclinks", "DeleteVpcLink": "test_docs_and_vpclinks",
    "GetModelTemplate": "test_docs_and_vpclinks, control unit test",
    "CreateDomainNameAccessAssociation": "test_docs_and_vpclinks",
    "GetDomainNameAccessAssociations": "test_docs_and_vpclinks (resourceOwner)",
    "DeleteDomainNameAccessAssociation": "test_docs_and_vpclinks",
    "RejectDomainNameAccessAssociation": "test_docs_and_vpclinks",
    "GenerateClientCertificate": "test_docs_and_vpclinks (real X.509, checked with openssl)",
    "GetClientCertificate": "test_docs_and_vpclinks", "GetClientCertificates": "test_docs_and_vpclinks",
    "UpdateClientCertificate": "test_docs_and_vpclinks", "DeleteClientCertificate": "test_docs_and_vpclinks",
    "GetUsage": "test_account (per-day [used, remaining]; nothing is metered until API keys are enforced)",
    "UpdateUsage": "test_account (/remaining grant)",
}


def main():
    root = os.path.dirname(botocore.__file__)
    path = glob.glob(os.path.join(root, "data", "apigateway", "2015-07-09", "service-2.json*"))[0]
    raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    ops = json.loads(raw)["operations"]
    done = sum(1 for o in ops if o in IMPLEMENTED)
    print(f"{done} of {len(ops)} operations implemented (botocore {botocore.__version__}).\n")
    print("| operation | HTTP | status | tested by |")
    print("|---|---|---|---|")
    for name in sorted(ops):
        http = ops[name]["http"]
        status = "yes" if name in IMPLEMENTED else "not yet"
        print(f"| {name} | `{http['method']} {http['requestUri']}` | {status} | {IMPLEMENTED.get(name, '–')} |")
    missing = set(IMPLEMENTED) - set(ops)
    if missing:
        sys.exit(f"unknown operations listed: {missing}")


if __name__ == "__main__":
    main()
