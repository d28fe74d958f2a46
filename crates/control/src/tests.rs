use super::*;
use portico_model::RestApi;

fn state() -> (ApiState, String) {
    let s = ApiState::new(RestApi::new("pets", ""));
    let root = s.api.root_resource_id.clone();
    (s, root)
}

fn integration(json: serde_json::Value) -> PutIntegrationInput {
    serde_json::from_value(json).unwrap()
}

#[test]
fn resource_rules_and_messages() {
    let (mut s, root) = state();
    let pets = s.create_resource(&root, "pets").unwrap();
    assert_eq!(pets.path, "/pets");
    let id = s.create_resource(&pets.id, "{id}").unwrap();
    assert_eq!(id.path, "/pets/{id}");
    let e = s.create_resource(&pets.id, "{petId}").unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert_eq!(
        e.message,
        "A sibling ({id}) of this resource already has a variable path part -- only one is allowed"
    );
    let e = s.create_resource(&root, "pets").unwrap_err();
    assert_eq!((e.kind, e.kind.status()), (ErrorKind::Conflict, 409));
    s.create_resource(&root, "{proxy+}").unwrap();
    let files = s.create_resource(&root, "files").unwrap();
    let greedy = s.create_resource(&files.id, "{proxy+}").unwrap();
    let e = s.create_resource(&greedy.id, "x").unwrap_err();
    assert_eq!(
        e.message,
        "Cannot create a child of a resource with a greedy path variable: {proxy+}"
    );
    for bad in ["a b", "{a", "a}", "{}", "", "x{y}"] {
        assert_eq!(
            s.create_resource(&root, bad).unwrap_err().kind,
            ErrorKind::BadRequest,
            "{bad:?}"
        );
    }
    let e = s.create_resource("nope", "x").unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::NotFound, "Invalid Resource identifier specified")
    );
}

#[test]
fn delete_resource_removes_the_subtree_but_not_the_root() {
    let (mut s, root) = state();
    let a = s.create_resource(&root, "a").unwrap();
    let b = s.create_resource(&a.id, "b").unwrap();
    s.create_resource(&root, "ab").unwrap();
    s.delete_resource(&a.id).unwrap();
    let paths: Vec<_> = s.resources.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/", "/ab"]);
    assert!(s.resource(&b.id).is_err());
    assert_eq!(
        s.delete_resource(&root).unwrap_err().kind,
        ErrorKind::BadRequest
    );
}

#[test]
fn methods_integrations_and_responses() {
    let (mut s, root) = state();
    let e = s
        .put_method(&root, "FETCH", PutMethodInput::default())
        .unwrap_err();
    assert!(e.message.starts_with("Invalid HttpMethod specified."));
    s.put_method(&root, "GET", PutMethodInput::default())
        .unwrap();
    assert_eq!(s.method(&root, "GET").unwrap().authorization_type, "NONE");
    assert_eq!(
        s.integration(&root, "GET").unwrap_err().message,
        "Invalid Integration identifier specified"
    );
    let e = s
        .put_integration(
            &root,
            "GET",
            integration(serde_json::json!({"type": "HTTP_PROXY", "httpMethod": "GET"})),
        )
        .unwrap_err();
    assert_eq!(e.message, "Invalid HTTP endpoint specified for URI");
    let e = s
        .put_integration(
            &root,
            "GET",
            integration(serde_json::json!({"type": "MOCK", "timeoutInMillis": 10})),
        )
        .unwrap_err();
    assert_eq!(e.message, "Timeout should be between 50 ms and 29000 ms");
    let i = s
        .put_integration(&root, "GET", integration(serde_json::json!({"type": "MOCK", "requestTemplates": {"application/json": "{\"statusCode\": 200}"}})))
        .unwrap();
    assert_eq!(i.passthrough_behavior.as_deref(), Some("WHEN_NO_MATCH"));
    let e = s
        .put_method_response(&root, "GET", "2000", PutMethodResponseInput::default())
        .unwrap_err();
    assert!(
        e.message
            .contains("Member must satisfy regular expression pattern: [1-5]\\d\\d")
    );
    s.put_method_response(&root, "GET", "200", PutMethodResponseInput::default())
        .unwrap();
    s.put_integration_response(&root, "GET", "200", PutIntegrationResponseInput::default())
        .unwrap();
    assert_eq!(
        s.integration_response(&root, "GET", "200")
            .unwrap()
            .status_code,
        "200"
    );
    assert_eq!(
        s.integration_response(&root, "GET", "404")
            .unwrap_err()
            .message,
        "Invalid Response status code specified"
    );
    s.delete_integration_response(&root, "GET", "200").unwrap();
    s.delete_method_response(&root, "GET", "200").unwrap();
    s.delete_integration(&root, "GET").unwrap();
    s.delete_method(&root, "GET").unwrap();
    assert_eq!(
        s.method(&root, "GET").unwrap_err().message,
        "Invalid Method identifier specified"
    );
}

#[test]
fn deployment_checks() {
    let (mut s, root) = state();
    assert_eq!(
        s.deployable_snapshot().unwrap_err().message,
        "The REST API doesn't contain any methods"
    );
    s.put_method(&root, "GET", PutMethodInput::default())
        .unwrap();
    assert_eq!(
        s.deployable_snapshot().unwrap_err().message,
        "No integration defined for method"
    );
    s.put_integration(
        &root,
        "GET",
        integration(serde_json::json!({"type": "MOCK"})),
    )
    .unwrap();
    assert_eq!(s.deployable_snapshot().unwrap().resources.len(), 1);
}

fn op(op: &str, path: &str, value: Option<&str>) -> patch::PatchOperation {
    patch::PatchOperation {
        op: op.into(),
        path: path.into(),
        value: value.map(Into::into),
        from: None,
    }
}

const OP_ENUM_CONSTRAINT: &str = "failed to satisfy constraint: Member must satisfy enum value set: [add, remove, move, test, replace, copy]";

#[test]
fn patch_op_outside_the_enum_is_a_validation_exception_naming_the_input_and_position() {
    let ops = [op("wrong", "/name", Some("x"))];
    let e = patch::check_ops("updateRestApiInput", &ops).unwrap_err();
    assert_eq!(
        (e.kind.status(), e.kind.code()),
        (400, "ValidationException")
    );
    assert_eq!(
        e.message,
        format!(
            "1 validation error detected: Value 'wrong' at 'updateRestApiInput.patchOperations.1.member.op' {OP_ENUM_CONSTRAINT}"
        )
    );
    // Every bad op is listed, with its 1-based position; good ones are skipped.
    let ops = [
        op("wrong_op", "/a", None),
        op("replace", "/b", None),
        op("nope", "/c", None),
    ];
    let e = patch::check_ops("updateStageInput", &ops).unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "2 validation errors detected: Value 'wrong_op' at 'updateStageInput.patchOperations.1.member.op' {OP_ENUM_CONSTRAINT}; Value 'nope' at 'updateStageInput.patchOperations.3.member.op' {OP_ENUM_CONSTRAINT}"
        )
    );
    // Valid enum members pass validation; a path that refuses them says so later.
    let ops = [op("move", "/name", None), op("copy", "/name", None)];
    patch::check_ops("updateRestApiInput", &ops).unwrap();
    let mut api = RestApi::new("a", "r");
    let e = patch::patch_rest_api(&mut api, &ops).unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            ErrorKind::BadRequest,
            "Invalid patch operation specified. Must be 'add'|'remove'|'replace'"
        )
    );
}

#[test]
fn bad_op_and_bad_status_code_are_one_validation_error() {
    let ops = [op("wrong_op", "/x", None)];
    let e = patch::check_ops_and_status("updateMethodResponseInput", &ops, "wrong").unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "2 validation errors detected: Value 'wrong_op' at 'updateMethodResponseInput.patchOperations.1.member.op' {OP_ENUM_CONSTRAINT}; Value 'wrong' at 'statusCode' failed to satisfy constraint: Member must satisfy regular expression pattern: [1-5]\\d\\d"
        )
    );
    patch::check_ops_and_status("updateMethodResponseInput", &[], "200").unwrap();
    let (mut s, root) = state();
    s.put_method(&root, "GET", PutMethodInput::default())
        .unwrap();
    let e = s
        .put_method_response(&root, "GET", "999", PutMethodResponseInput::default())
        .unwrap_err();
    assert_eq!(e.kind.code(), "ValidationException");
    let e = s
        .put_gateway_response("NOPE", PutGatewayResponseInput::default())
        .unwrap_err();
    assert_eq!(e.kind.code(), "ValidationException");
    assert!(
        e.message
            .starts_with("1 validation error detected: Value 'NOPE' at 'responseType'")
    );
}

#[test]
fn create_rest_api_checks_in_aws_order() {
    let new = |f: &dyn Fn(&mut RestApi)| {
        let mut api = RestApi::new("a", "r");
        f(&mut api);
        validate_new_rest_api(&mut api).map(|()| api)
    };
    let e = new(&|a| a.description = Some(String::new())).unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            ErrorKind::BadRequest,
            "Description cannot be an empty string"
        )
    );
    let e = new(&|a| a.minimum_compression_size = Some(-1)).unwrap_err();
    assert_eq!(
        e.message,
        "Invalid minimum compression size, must be between 0 and 10485760"
    );
    // The description is checked before the compression size.
    let e = new(&|a| {
        a.description = Some(String::new());
        a.minimum_compression_size = Some(-1);
    })
    .unwrap_err();
    assert_eq!(e.message, "Description cannot be an empty string");
    // Model constraints come first and all of them are listed.
    let e = new(&|a| {
        a.description = Some(String::new());
        a.endpoint_configuration.types = vec!["wrong".into()];
        a.endpoint_configuration.ip_address_type = Some("wrong".into());
    })
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation);
    assert_eq!(
        e.message,
        "2 validation errors detected: Value '[wrong]' at 'createRestApiInput.endpointConfiguration.types' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [PRIVATE, EDGE, REGIONAL]]; Value 'wrong' at 'createRestApiInput.endpointConfiguration.ipAddressType' failed to satisfy constraint: Member must satisfy enum value set: [ipv4, dualstack]"
    );
    let e = new(&|a| a.endpoint_configuration.types = vec![]).unwrap_err();
    assert_eq!(
        e.message,
        "REGIONAL Configuration and EDGE Configuration cannot be both DISABLED."
    );
    let e = new(&|a| a.endpoint_configuration.types = vec!["EDGE".into(), "REGIONAL".into()])
        .unwrap_err();
    assert_eq!(
        e.message,
        "Cannot create an api with multiple Endpoint Types."
    );
    let e = new(&|a| {
        a.endpoint_configuration.types = vec!["PRIVATE".into()];
        a.endpoint_configuration.ip_address_type = Some("ipv4".into());
    })
    .unwrap_err();
    assert_eq!(
        e.message,
        "Only dualstack ipAddressType is supported for Private APIs."
    );
    let api = new(&|a| {
        a.endpoint_configuration.types = vec!["PRIVATE".into()];
        a.endpoint_configuration.ip_address_type = None;
    })
    .unwrap();
    assert_eq!(
        api.endpoint_configuration.ip_address_type.as_deref(),
        Some("dualstack")
    );
    new(&|a| a.description = Some("d".into())).unwrap();
}

#[test]
fn update_rest_api_compression_and_binary_media_type_paths() {
    let mut api = RestApi::new("a", "r");
    for bad in ["test", "-1", "10485761", "1.5"] {
        let e = patch::patch_rest_api(
            &mut api,
            &[op("replace", "/minimumCompressionSize", Some(bad))],
        )
        .unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (
                ErrorKind::BadRequest,
                "Invalid minimum compression size, must be between 0 and 10485760"
            ),
            "{bad}"
        );
    }
    patch::patch_rest_api(
        &mut api,
        &[op("replace", "/minimumCompressionSize", Some("10485760"))],
    )
    .unwrap();
    assert_eq!(api.minimum_compression_size, Some(10_485_760));
    patch::patch_rest_api(
        &mut api,
        &[op("replace", "/minimumCompressionSize", Some(""))],
    )
    .unwrap();
    assert_eq!(api.minimum_compression_size, None);
    let e = patch::patch_rest_api(&mut api, &[op("add", "/minimumCompressionSize", Some("1"))])
        .unwrap_err();
    assert_eq!(
        e.message,
        "Invalid patch operation specified. Must be one of: [replace]"
    );
    for o in ["add", "replace", "remove"] {
        let e = patch::patch_rest_api(&mut api, &[op(o, "/binaryMediaTypes", Some("image/gif"))])
            .unwrap_err();
        assert_eq!(e.message, "Invalid patch path /binaryMediaTypes");
    }
    let e = patch::patch_rest_api(
        &mut api,
        &[op(
            "replace",
            "/endpointConfiguration/types/0",
            Some("wrong"),
        )],
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "Invalid EndpointTypes specified. Valid options are REGIONAL,EDGE,PRIVATE"
    );
    let e = patch::patch_rest_api(
        &mut api,
        &[op("remove", "/endpointConfiguration/types/0", Some("EDGE"))],
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "Invalid patch operation specified. Must be 'add'|'remove'|'replace'"
    );
}

#[test]
fn connection_type_defaults_to_internet_for_http_integrations_only() {
    let (mut s, root) = state();
    s.put_method(&root, "GET", PutMethodInput::default())
        .unwrap();
    let http = s
        .put_integration(
            &root,
            "GET",
            integration(serde_json::json!({
                "type": "HTTP_PROXY", "httpMethod": "GET", "uri": "http://example.com"
            })),
        )
        .unwrap();
    assert_eq!(http.connection_type.as_deref(), Some("INTERNET"));
    let mock = s
        .put_integration(
            &root,
            "GET",
            integration(serde_json::json!({"type": "MOCK"})),
        )
        .unwrap();
    assert_eq!(mock.connection_type, None);
    let e = s
        .put_integration(
            &root,
            "GET",
            integration(serde_json::json!({"type": "HTTPS_PROXY"})),
        )
        .unwrap_err();
    assert_eq!(
        (e.kind.code(), e.message.as_str()),
        (
            "ValidationException",
            "1 validation error detected: Value 'HTTPS_PROXY' at 'putIntegrationInput.type' failed to satisfy constraint: Member must satisfy enum value set: [HTTP, MOCK, AWS_PROXY, HTTP_PROXY, AWS]"
        )
    );
}

#[test]
fn replace_only_objects_name_unsupported_ops_and_paths() {
    let (mut s, root) = state();
    let r = s.create_resource(&root, "a").unwrap();
    let e = s
        .update_resource(&r.id, &[op("remove", "/pathPart", None)])
        .unwrap_err();
    assert_eq!(
        e.message,
        "Invalid patch path  '/pathPart' specified for op 'remove'. Please choose supported operations"
    );
    let e = s
        .update_resource(&r.id, &[op("replace", "/invalid", Some("x"))])
        .unwrap_err();
    assert_eq!(
        e.message,
        "Invalid patch path  '/invalid' specified for op 'replace'. Must be one of: [/parentId, /pathPart]"
    );
}

#[test]
fn usage_plans_and_api_keys_answer_as_aws() {
    use account::AccountState;
    use api_keys::CreateApiKeyInput;
    let mut a = AccountState::default();
    let e = a.usage_plan("nope").unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::NotFound, "Invalid Usage Plan ID specified")
    );
    for e in [
        a.update_usage_plan("nope", &[]).unwrap_err(),
        a.delete_usage_plan("nope").unwrap_err(),
        a.check_plan_key_target("nope", "API_KEY").unwrap_err(),
        a.check_plan_key_membership("nope", "k", &[]).unwrap_err(),
    ] {
        assert_eq!(e.message, "Invalid Usage Plan ID specified");
    }

    let mut key = api_keys::new_api_key(CreateApiKeyInput::default()).unwrap();
    let value = key.value.clone();
    assert!(value.is_some());
    let updated = api_keys::update_api_key(&mut key, &[op("replace", "/name", Some("n"))]).unwrap();
    assert_eq!((updated.name.as_deref(), updated.value), (Some("n"), None));
    // The stored key keeps its value.
    assert_eq!(key.value, value);
    let updated = api_keys::update_api_key(
        &mut key,
        &[op("replace", "/enabled", Some("not-a-boolean"))],
    )
    .unwrap();
    assert!(!updated.enabled);
    let e = api_keys::update_api_key(&mut key, &[op("replace", "/id", Some("x"))]).unwrap_err();
    assert_eq!(
        e.message,
        "Invalid patch path  '/id' specified for op 'replace'. Must be one of: [/description, /enabled, /name, /customerId]"
    );
}

#[test]
fn removing_an_api_stage_a_plan_lacks_is_named() {
    use account::{AccountState, CreateUsagePlanInput};
    let mut a = AccountState::default();
    let plan = a
        .create_usage_plan(CreateUsagePlanInput {
            name: Some("p".into()),
            ..CreateUsagePlanInput::default()
        })
        .unwrap();
    for v in [None, Some("fakevalue")] {
        let e = a
            .update_usage_plan(&plan.id, &[op("remove", "/apiStages", v)])
            .unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::BadRequest, "Invalid API Stage specified")
        );
    }
    let e = a
        .update_usage_plan(&plan.id, &[op("remove", "/apiStages", Some("abc:dev"))])
        .unwrap_err();
    assert_eq!(
        (e.kind, e.message),
        (
            ErrorKind::NotFound,
            format!(
                "Invalid API Stage {{api: abc, stage: dev}} specified for usageplan {}",
                plan.id
            )
        )
    );
}

fn bad(e: ControlError) -> (ErrorKind, String) {
    (e.kind, e.message)
}

fn bad_request(message: &str) -> (ErrorKind, String) {
    (ErrorKind::BadRequest, message.to_owned())
}

#[test]
fn update_method_paths_ops_and_references() {
    let (mut s, root) = state();
    s.put_method(
        &root,
        "ANY",
        PutMethodInput {
            api_key_required: Some(true),
            ..PutMethodInput::default()
        },
    )
    .unwrap();
    let only_replace = "Invalid patch operation specified. Must be one of: [replace]";
    let cases = [
        (op("add", "/operationName", Some("x")), only_replace),
        (
            op("add", "/requestValidatorId", Some("wrong-id")),
            only_replace,
        ),
        (op("remove", "/apiKeyRequired", None), only_replace),
        (
            op("add", "/httpMethod", Some("PUT")),
            "Invalid patch path /httpMethod",
        ),
        (
            op("replace", "/requestParameters", Some("a=false")),
            "Invalid patch path /requestParameters",
        ),
        (
            op("add", "/requestModels/application/json", Some("Empty")),
            "Invalid patch path /requestModels/application/json",
        ),
        (
            op("replace", "/requestValidatorId", Some("fake-id")),
            "Invalid Request Validator identifier specified",
        ),
    ];
    for (o, message) in cases {
        let e = s
            .update_method(&root, "ANY", std::slice::from_ref(&o))
            .unwrap_err();
        assert_eq!(bad(e), bad_request(message), "{o:?}");
    }
    // Not a boolean: false, as Java's Boolean.parseBoolean reads it.
    let m = s
        .update_method(
            &root,
            "ANY",
            &[op("replace", "/apiKeyRequired", Some("whatever"))],
        )
        .unwrap();
    assert!(!m.api_key_required);
    // An authorizer id without CUSTOM/COGNITO authorization is dropped.
    let m = s
        .update_method(&root, "ANY", &[op("replace", "/authorizerId", Some("abc"))])
        .unwrap();
    assert_eq!(m.authorizer_id, None);
    // CUSTOM needs an authorizer that exists.
    let e = s
        .update_method(
            &root,
            "ANY",
            &[
                op("replace", "/authorizationType", Some("CUSTOM")),
                op("replace", "/authorizerId", Some("abc")),
            ],
        )
        .unwrap_err();
    assert_eq!(bad(e), bad(patch::invalid_authorizer()));
    let a = s
        .create_authorizer(CreateAuthorizerInput {
            name: Some("a".into()),
            kind: Some("TOKEN".into()),
            authorizer_uri: Some("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:f/invocations".into()),
            identity_source: Some("method.request.header.Authorization".into()),
            ..CreateAuthorizerInput::default()
        })
        .unwrap();
    let m = s
        .update_method(
            &root,
            "ANY",
            &[
                op("replace", "/authorizationType", Some("CUSTOM")),
                op("replace", "/authorizerId", Some(&a.id)),
            ],
        )
        .unwrap();
    assert_eq!(m.authorizer_id.as_deref(), Some(a.id.as_str()));
    // Validators: an existing one is set, an empty id takes it off.
    let v = s
        .create_request_validator(CreateRequestValidatorInput {
            name: Some("v".into()),
            ..CreateRequestValidatorInput::default()
        })
        .unwrap();
    let m = s
        .update_method(
            &root,
            "ANY",
            &[op("replace", "/requestValidatorId", Some(&v.id))],
        )
        .unwrap();
    assert_eq!(m.request_validator_id.as_deref(), Some(v.id.as_str()));
    let m = s
        .update_method(
            &root,
            "ANY",
            &[op("replace", "/requestValidatorId", Some(""))],
        )
        .unwrap();
    assert_eq!(m.request_validator_id, None);
    // Refused calls changed nothing.
    assert_eq!(s.method(&root, "ANY").unwrap().operation_name, None);
}

#[test]
fn update_method_response_keys_it_lacks_are_not_found() {
    let (mut s, root) = state();
    s.put_method(&root, "GET", PutMethodInput::default())
        .unwrap();
    s.put_method_response(
        &root,
        "GET",
        "200",
        PutMethodResponseInput {
            response_parameters: Some(
                [("method.response.header.h".to_owned(), false)]
                    .into_iter()
                    .collect(),
            ),
            response_models: Some(
                [("application/json".to_owned(), "Empty".to_owned())]
                    .into_iter()
                    .collect(),
            ),
        },
    )
    .unwrap();
    let not_found = |m: &str| (ErrorKind::NotFound, m.to_owned());
    let cases = [
        (
            op("replace", "/responseParameters/wrong", Some("true")),
            not_found("Invalid parameter name specified"),
        ),
        (
            op("remove", "/responseParameters/wrong", None),
            not_found("Invalid parameter name specified"),
        ),
        (
            op("replace", "/responseModels/wrong", Some("Empty")),
            not_found("Content-Type specified was not found"),
        ),
        (
            op("remove", "/responseModels/wrong", None),
            not_found("Content-Type specified was not found"),
        ),
        (
            op("remove", "/wrong/method.response.header.h", Some("true")),
            bad_request("Invalid patch path /wrong/method.response.header.h"),
        ),
    ];
    for (o, expected) in cases {
        let e = s
            .update_method_response(&root, "GET", "200", std::slice::from_ref(&o))
            .unwrap_err();
        assert_eq!(bad(e), expected, "{o:?}");
    }
    let r = s
        .update_method_response(
            &root,
            "GET",
            "200",
            &[
                op(
                    "replace",
                    "/responseParameters/method.response.header.h",
                    Some("true"),
                ),
                op("remove", "/responseModels/application~1json", None),
                op("add", "/responseModels/text~1plain", Some("Empty")),
            ],
        )
        .unwrap();
    assert!(r.response_parameters["method.response.header.h"]);
    assert_eq!(r.response_models.keys().collect::<Vec<_>>(), ["text/plain"]);
}

#[test]
fn update_gateway_response_paths_and_values() {
    let (mut s, _) = state();
    s.put_gateway_response(
        "DEFAULT_4XX",
        serde_json::from_value(serde_json::json!({
            "statusCode": "444",
            "responseParameters": {"gatewayresponse.header.x-a": "'a'"},
            "responseTemplates": {"application/json": "{}"}
        }))
        .unwrap(),
    )
    .unwrap();
    let cases = [
        (
            "DEFAULT_4XX",
            op("add", "/statusCode", Some("444")),
            bad_request("Invalid patch path /statusCode"),
        ),
        (
            "DEFAULT_4XX",
            op("remove", "/statusCode", None),
            bad_request("Invalid patch path /statusCode"),
        ),
        (
            "DEFAULT_4XX",
            op("add", "/wrongPath", Some("x")),
            bad_request("Invalid patch path /wrongPath"),
        ),
        (
            "DEFAULT_5XX",
            op(
                "replace",
                "/responseParameters/gatewayresponse.header.x-a",
                Some("'b'"),
            ),
            (
                ErrorKind::NotFound,
                "Invalid parameter name specified".to_owned(),
            ),
        ),
        (
            "DEFAULT_4XX",
            op("replace", "/responseTemplates/application~1json", None),
            bad_request("Invalid null or empty value in responseTemplates"),
        ),
        (
            "DEFAULT_4XX",
            op(
                "replace",
                "/responseParameters/gatewayresponse.header.x-a",
                None,
            ),
            bad_request("Invalid null or empty value in responseParameters"),
        ),
    ];
    for (t, o, expected) in cases {
        let e = s
            .update_gateway_response(t, std::slice::from_ref(&o))
            .unwrap_err();
        assert_eq!(bad(e), expected, "{o:?}");
    }
    // An operation without a path reads as AWS's `null`.
    let body: patch::PatchBody =
        serde_json::from_str(r#"{"patchOperations": [{"op": "add", "value": "x"}]}"#).unwrap();
    let e = s
        .update_gateway_response("DEFAULT_4XX", &body.patch_operations)
        .unwrap_err();
    assert_eq!(bad(e), bad_request("Invalid patch path null"));
    let r = s
        .update_gateway_response("DEFAULT_4XX", &[op("replace", "/statusCode", Some("445"))])
        .unwrap();
    assert_eq!(r.status_code.as_deref(), Some("445"));
}

#[test]
fn update_stage_path_errors() {
    let mut st = portico_model::Stage::new("dev", "d");
    let access_log = "Invalid accessLogSettings path. Must be one of : [/accessLogSettings/destinationArn, /accessLogSettings/format]";
    let no_setting = |k: &str| {
        format!(
            "Cannot remove method setting {k} because there is no method setting for this method "
        )
    };
    let cases = [
        (
            op("add", "/accessLogSettings/randomValue", Some("x")),
            access_log.to_owned(),
        ),
        (
            op("replace", "/accessLogSettings/*", Some("x")),
            access_log.to_owned(),
        ),
        (
            op("replace", "/accessLogSettings", Some("x")),
            access_log.to_owned(),
        ),
        (
            op("remove", "/accessLogSettings/randomValue", None),
            no_setting("accessLogSettings/randomValue"),
        ),
        (op("remove", "/*/*", None), no_setting("*/*")),
        (
            op("replace", "/accessLogSettings/format", Some("")),
            "Access Log value must not be empty".to_owned(),
        ),
        (
            op("replace", "/accessLogSettings/destinationArn", None),
            "Access Log value must not be empty".to_owned(),
        ),
    ];
    for (o, message) in cases {
        let e = patch::patch_stage(&mut st, std::slice::from_ref(&o)).unwrap_err();
        assert_eq!(bad(e), bad_request(&message), "{o:?}");
    }
    for path in [
        "/documentation_version",
        "/tags/tag1",
        "/canarySettings",
        "/*/*",
    ] {
        let e = patch::patch_stage(&mut st, &[op("replace", path, Some("1"))]).unwrap_err();
        assert!(
            e.message.starts_with(&format!(
                "Invalid method setting path: {path}. Must be one of: [/deploymentId, /description, "
            )) && e.message.contains("/throttling/burstLimit/{resourcePath}/")
                && e.message.ends_with(", /variables/{variable_name}, /tracingEnabled]"),
            "{}",
            e.message
        );
    }
    patch::patch_stage(
        &mut st,
        &[op(
            "add",
            "/accessLogSettings/destinationArn",
            Some("arn:x"),
        )],
    )
    .unwrap();
    assert_eq!(
        st.access_log_settings
            .as_ref()
            .unwrap()
            .destination_arn
            .as_deref(),
        Some("arn:x")
    );
    let e = patch::patch_stage(
        &mut st,
        &[op("remove", "/accessLogSettings/destinationArn", None)],
    )
    .unwrap_err();
    assert_eq!(
        bad(e),
        bad_request(&no_setting("accessLogSettings/destinationArn"))
    );
    patch::patch_stage(&mut st, &[op("remove", "/accessLogSettings", None)]).unwrap();
    assert!(st.access_log_settings.is_none());
    patch::patch_stage(
        &mut st,
        &[op("replace", "/*/*/metrics/enabled", Some("true"))],
    )
    .unwrap();
    patch::patch_stage(&mut st, &[op("remove", "/*/*", None)]).unwrap();
    assert!(st.method_settings.is_empty());
}

/// The `/canarySettings` paths and the promoting `copy`, with the answers recorded on AWS
/// (LocalStack `test_apigateway_canary.snapshot.json`).
#[test]
fn update_stage_canary_paths() {
    let mut st = portico_model::Stage::new("dev", "d1");
    let copy = |path: &str, from: &str| patch::PatchOperation {
        op: "copy".into(),
        path: path.into(),
        value: None,
        from: Some(from.into()),
    };
    // Promotion without a canary.
    let e = patch::patch_stage(
        &mut st,
        &[copy("/deploymentId", "/canarySettings/deploymentId")],
    )
    .unwrap_err();
    assert_eq!(
        bad(e),
        bad_request("Promotion not available. Canary does not exist.")
    );
    let e = patch::patch_stage(
        &mut st,
        &[copy("/canarySettings/stageVariableOverrides", "/variables")],
    )
    .unwrap_err();
    assert!(e.message.starts_with("Invalid copy operation with path: /canarySettings/stageVariableOverrides and from /variables. Valid copy:path are [/deploymentId, /variables]"), "{}", e.message);
    // A first field creates the canary on the stage's own deployment, at 0 %.
    patch::patch_stage(
        &mut st,
        &[op("replace", "/canarySettings/useStageCache", Some("true"))],
    )
    .unwrap();
    let c = st.canary_settings.clone().unwrap();
    assert_eq!(c.deployment_id.as_deref(), Some("d1"));
    assert_eq!(c.percent_traffic, 0.0);
    assert!(c.use_stage_cache);
    let e = patch::patch_stage(
        &mut st,
        &[op("add", "/canarySettings/deploymentId", Some("d2"))],
    )
    .unwrap_err();
    assert_eq!(
        bad(e),
        bad_request("Invalid add operation with path: /canarySettings/deploymentId")
    );
    patch::patch_stage(
        &mut st,
        &[
            op("replace", "/canarySettings/deploymentId", Some("d2")),
            op("replace", "/canarySettings/percentTraffic", Some("12.5")),
            op(
                "replace",
                "/canarySettings/stageVariableOverrides/v",
                Some("canary"),
            ),
            op(
                "replace",
                "/canarySettings/stageVariableOverrides/w",
                Some("x"),
            ),
            op("remove", "/canarySettings/stageVariableOverrides/w", None),
        ],
    )
    .unwrap();
    let c = st.canary_settings.clone().unwrap();
    assert_eq!(c.deployment_id.as_deref(), Some("d2"));
    assert_eq!(c.percent_traffic, 12.5);
    assert_eq!(c.stage_variable_overrides.len(), 1);
    for v in ["100.5", "-1", "NaN"] {
        let before = st.clone();
        let e = patch::patch_stage(
            &mut st,
            &[op("replace", "/canarySettings/percentTraffic", Some(v))],
        )
        .unwrap_err();
        assert!(
            e.message.contains("Must be between 0.0 and 100.0"),
            "{v}: {}",
            e.message
        );
        assert_eq!(st, before);
    }
    // Recorded: a two-part remove names a method setting; `/canarySettings` takes only remove.
    let e = patch::patch_stage(
        &mut st,
        &[op("remove", "/canarySettings/stageVariableOverrides", None)],
    )
    .unwrap_err();
    assert_eq!(
        bad(e),
        bad_request(
            "Cannot remove method setting canarySettings/stageVariableOverrides because there is no method setting for this method "
        )
    );
    let e = patch::patch_stage(
        &mut st,
        &[op("replace", "/canarySettings/badPath", Some("x"))],
    )
    .unwrap_err();
    assert!(
        e.message
            .starts_with("Invalid method setting path: /canarySettings/badPath. Must be one of: [")
    );
    // Promote: the canary's deployment and overrides become the stage's.
    patch::patch_stage(
        &mut st,
        &[
            op("replace", "/canarySettings/percentTraffic", Some("0.0")),
            copy("/deploymentId", "/canarySettings/deploymentId"),
            copy("/variables", "/canarySettings/stageVariableOverrides"),
        ],
    )
    .unwrap();
    assert_eq!(st.deployment_id, "d2");
    assert_eq!(st.variables.get("v").map(String::as_str), Some("canary"));
    patch::patch_stage(&mut st, &[op("remove", "/canarySettings", None)]).unwrap();
    assert!(st.canary_settings.is_none());
}

#[test]
fn update_rest_api_ip_address_type() {
    let (mut s, _) = state();
    let ec = |s: &ApiState| {
        (
            s.api.endpoint_configuration.types.clone(),
            s.api.endpoint_configuration.ip_address_type.clone(),
        )
    };
    s.update_rest_api(&[op(
        "replace",
        "/endpointConfiguration/ipAddressType",
        Some("dualstack"),
    )])
    .unwrap();
    assert_eq!(ec(&s).1.as_deref(), Some("dualstack"));
    s.update_rest_api(&[op(
        "replace",
        "/endpointConfiguration/ipAddressType",
        Some("ipv4"),
    )])
    .unwrap();
    s.update_rest_api(&[op(
        "replace",
        "/endpointConfiguration/types/0",
        Some("PRIVATE"),
    )])
    .unwrap();
    assert_eq!(
        ec(&s),
        (vec!["PRIVATE".to_owned()], Some("dualstack".to_owned()))
    );
    let cases = [
        (
            op(
                "replace",
                "/endpointConfiguration/ipAddressType",
                Some("ipv4"),
            ),
            "Only dualstack ipAddressType is supported for Private APIs.",
        ),
        (
            op(
                "replace",
                "/endpointConfiguration/ipAddressType",
                Some("wrong"),
            ),
            "ipAddressType must be either ipv4 or dualstack.",
        ),
        (
            op(
                "remove",
                "/endpointConfiguration/ipAddressType",
                Some("dualstack"),
            ),
            "Invalid patch operation specified. Must be one of: [replace]",
        ),
        (
            op(
                "add",
                "/endpointConfiguration/ipAddressType",
                Some("dualstack"),
            ),
            "Invalid patch operation specified. Must be one of: [replace]",
        ),
    ];
    for (o, message) in cases {
        let e = s.update_rest_api(std::slice::from_ref(&o)).unwrap_err();
        assert_eq!(bad(e), bad_request(message), "{o:?}");
    }
    assert_eq!(ec(&s).1.as_deref(), Some("dualstack"));
}

#[test]
fn api_key_limits() {
    use api_keys::CreateApiKeyInput;
    let input = |name: Option<String>, value: Option<String>, description: Option<String>| {
        CreateApiKeyInput {
            name,
            value,
            description,
            ..CreateApiKeyInput::default()
        }
    };
    let cases = [
        (
            input(Some("a".repeat(1025)), None, None),
            "Invalid API Key name, can be at most 1024 characters.",
        ),
        (
            input(None, Some("a".repeat(129)), None),
            "API Key value exceeds maximum size of 128 characters",
        ),
        (
            input(None, Some("short".into()), None),
            "API Key value should be at least 20 characters",
        ),
        (
            input(None, None, Some("a".repeat(125_001))),
            "Invalid API Key description specified.",
        ),
    ];
    for (i, message) in cases {
        let e = api_keys::new_api_key(i).unwrap_err();
        assert_eq!(bad(e), bad_request(message));
    }
    let mut key = api_keys::new_api_key(input(
        Some("a".repeat(1024)),
        Some("v".repeat(128)),
        Some("d".repeat(125_000)),
    ))
    .unwrap();
    assert_eq!(key.value.as_deref(), Some("v".repeat(128).as_str()));
    let empty =
        api_keys::new_api_key(input(Some(String::new()), Some(String::new()), None)).unwrap();
    assert_eq!(empty.name, None);
    assert!(empty.value.as_deref().is_some_and(|v| v.len() >= 20));
    let long = "a".repeat(125_001);
    let e = api_keys::update_api_key(&mut key, &[op("replace", "/description", Some(&long))])
        .unwrap_err();
    assert_eq!(
        bad(e),
        bad_request("Invalid API Key description specified.")
    );
    assert_eq!(key.description.as_deref().map(str::len), Some(125_000));
}

#[test]
fn create_on_an_unknown_api_answers() {
    // UpdateMethod on an unknown API answers as for an unknown resource.
    assert_eq!(
        bad(invalid_resource()),
        (
            ErrorKind::NotFound,
            "Invalid Resource identifier specified".to_owned()
        )
    );
    assert_eq!(
        bad(invalid_rest_api_for_validator()),
        bad_request("Invalid REST API identifier specified")
    );
    assert_eq!(
        bad(concurrent_modification()),
        (
            ErrorKind::Conflict,
            "Unable to complete operation due to concurrent modification. Please try again later."
                .to_owned()
        )
    );
}

#[test]
fn model_creation_and_update_messages() {
    let (mut s, _) = state();
    let input = |name: &str, schema: Option<&str>| CreateModelInput {
        name: Some(name.into()),
        content_type: Some("application/json".into()),
        schema: schema.map(Into::into),
        ..CreateModelInput::default()
    };
    let schema = r#"{"title": "MySchema", "type": "object"}"#;
    s.create_model(input("MySchema", Some(schema))).unwrap();
    let no_property = "Model schema must have at least 1 property or array items defined";
    let cases = [
        (
            input("MySchema", Some(schema)),
            (
                ErrorKind::Conflict,
                "Model name already exists for this REST API".to_owned(),
            ),
        ),
        (
            input("", Some(schema)),
            bad_request("Model name must be non-empty"),
        ),
        (input("Empty1", Some("")), bad_request(no_property)),
        (input("Empty2", None), bad_request(no_property)),
        (input("Empty3", Some("{}")), bad_request(no_property)),
    ];
    for (i, expected) in cases {
        assert_eq!(bad(s.create_model(i).unwrap_err()), expected);
    }
    let e = s.model("Nope").unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::NotFound, "Invalid model name specified: Nope")
    );
    assert_eq!(bad(invalid_model("Nope")), bad(e));
    let e = s
        .update_model("MySchema", &[op("replace", "/schema", Some(""))])
        .unwrap_err();
    assert_eq!(bad(e), bad_request(no_property));
    let m = s
        .update_model("MySchema", &[op("replace", "/description", Some(""))])
        .unwrap();
    assert_eq!(m.description, None);
}

#[test]
fn root_resource_names_the_field_it_cannot_update() {
    let (mut s, root) = state();
    let e = s
        .update_resource(&root, &[op("replace", "/pathPart", Some("dogs"))])
        .unwrap_err();
    assert_eq!(
        bad(e),
        bad_request("Root resource cannot update its pathPart.")
    );
    let e = s
        .update_resource(&root, &[op("replace", "/parentId", Some(&root))])
        .unwrap_err();
    assert_eq!(
        bad(e),
        bad_request("Root resource cannot update its parentId.")
    );
}

#[test]
fn documentation_part_location_type_is_a_validation_exception() {
    let (mut s, _) = state();
    let input: docs::CreateDocumentationPartInput = serde_json::from_value(serde_json::json!({
        "location": {"type": "INVALID"},
        "properties": "{\"description\": \"d\"}"
    }))
    .unwrap();
    let e = s.create_documentation_part(input.clone()).unwrap_err();
    assert_eq!(
        bad(e),
        (
            ErrorKind::Validation,
            "1 validation error detected: Value 'INVALID' at 'createDocumentationPartInput.location.type' failed to satisfy constraint: Member must satisfy enum value set: [RESPONSE_BODY, RESPONSE, METHOD, MODEL, AUTHORIZER, RESPONSE_HEADER, RESOURCE, PATH_PARAMETER, REQUEST_BODY, QUERY_PARAMETER, API, REQUEST_HEADER]".to_owned()
        )
    );
    assert!(docs::check_location_type(&input).is_err());
    assert!(s.documentation_parts.is_empty());
}

#[test]
fn api_key_files_read_as_aws_documents_them() {
    let csv = "Enabled,Name,key,UsageplanIds,Extra\r\n\
               true,first,apikey1234abcdefghij0123456789,\"c7y23b,glvrsr\",x\n\
               \n\
               FALSE,'Bob''s key',apikey1234abcdefghij0123456780,'p1',\n\
               ,again,apikey1234abcdefghij0123456789,,\n";
    let import = api_keys::parse_api_keys_csv(csv, false).unwrap();
    assert_eq!(import.keys.len(), 2);
    // The same value twice: the later line wins, in the first one's place.
    let first = &import.keys[0];
    assert_eq!(first.line, 5);
    assert_eq!(first.key.name.as_deref(), Some("again"));
    assert!(first.key.enabled, "Enabled defaults to true");
    assert!(first.usage_plan_ids.is_empty());
    let bob = &import.keys[1];
    assert_eq!(bob.key.name.as_deref(), Some("Bob's key"));
    assert!(!bob.key.enabled);
    assert_eq!(bob.usage_plan_ids, ["p1"]);
    assert_eq!(
        import.warnings,
        ["Unrecognized column 'extra' ignored".to_owned()]
    );
    let plans = api_keys::parse_api_keys_csv(
        "key,name,usageplanids\napikey1234abcdefghij0123456789,n,\"c7y23b,glvrsr\"\n",
        false,
    )
    .unwrap();
    assert_eq!(plans.keys[0].usage_plan_ids, ["c7y23b", "glvrsr"]);

    let e = api_keys::parse_api_keys_csv(csv, true).unwrap_err();
    assert_eq!(
        bad(e),
        bad_request("Warnings found during import:\n\tUnrecognized column 'extra' ignored")
    );
    for (file, message) in [
        ("", "Invalid API keys file: the file is empty"),
        (
            "key\napikey1234abcdefghij0123456789\n",
            "Invalid API keys file: the header must name a 'Name' and a 'Key' column",
        ),
        (
            "name,key\nn,\"apikey1234abcdefghij0123456789\n",
            "Invalid API keys file, line 2: unterminated quoted field",
        ),
        (
            "name,key\nn,short\n",
            "Invalid API keys file, line 2: API Key value should be at least 20 characters",
        ),
        (
            "name,key\nn,\n",
            "Invalid API keys file, line 2: the key is empty",
        ),
        (
            "name,key,enabled\nn,apikey1234abcdefghij0123456789,maybe\n",
            "Invalid API keys file, line 2: invalid Enabled value 'maybe'",
        ),
    ] {
        let e = api_keys::parse_api_keys_csv(file, false).unwrap_err();
        assert_eq!(bad(e), bad_request(message), "{file:?}");
    }
}

#[test]
fn a_key_cannot_meet_two_plans_on_one_stage() {
    use account::{AccountState, CreateUsagePlanInput};
    use portico_model::ApiStage;
    let mut a = AccountState {
        known_stages: vec![("api".into(), "prod".into()), ("api".into(), "dev".into())],
        ..AccountState::default()
    };
    let stage = |s: &str| ApiStage {
        api_id: "api".into(),
        stage: s.into(),
        throttle: Default::default(),
    };
    let mut plan = |stages: Vec<ApiStage>| {
        a.create_usage_plan(CreateUsagePlanInput {
            name: Some("p".into()),
            api_stages: Some(stages),
            ..CreateUsagePlanInput::default()
        })
        .unwrap()
        .id
    };
    let gold = plan(vec![stage("prod")]);
    let silver = plan(vec![stage("dev"), stage("prod")]);
    let bronze = plan(vec![stage("dev")]);
    let e = a
        .check_plan_key_membership(&silver, "k1", std::slice::from_ref(&gold))
        .unwrap_err();
    assert_eq!(
        (e.kind, e.message),
        (
            ErrorKind::Conflict,
            format!(
                "Usage Plan {silver} cannot be added because API Key k1 cannot reference multiple Usage Plans with the same API Stage: api:prod"
            )
        )
    );
    a.check_plan_key_membership(&bronze, "k1", std::slice::from_ref(&gold))
        .unwrap();
    let e = a
        .check_plan_key_membership(&gold, "k1", std::slice::from_ref(&gold))
        .unwrap_err();
    assert_eq!(
        e.message,
        format!("Usage Plan {gold} already contains API Key k1")
    );
    let e = a.check_plan_key_target(&gold, "OTHER").unwrap_err();
    assert_eq!(
        e.message,
        "Invalid key type specified: OTHER. Valid options are API_KEY"
    );
}

#[test]
fn usage_plan_limits_are_checked_and_nothing_changes() {
    use account::{AccountState, CreateUsagePlanInput};
    use portico_model::{QuotaSettings, ThrottleSettings};
    let mut a = AccountState::default();
    let quota = |limit, offset, period: &str| QuotaSettings {
        limit,
        offset,
        period: period.into(),
    };
    let throttle = |burst, rate| ThrottleSettings {
        burst_limit: Some(burst),
        rate_limit: Some(rate),
    };
    let cases = [
        (
            None,
            Some(throttle(-1, 1.0)),
            "Throttle limits must be non-negative",
        ),
        (
            None,
            Some(throttle(1, -1.0)),
            "Throttle limits must be non-negative",
        ),
        (
            Some(quota(-1, 0, "DAY")),
            None,
            "Quota limit and offset must be non-negative",
        ),
        (
            Some(quota(1, 0, "YEAR")),
            None,
            "Invalid quota period specified: YEAR. Valid options are DAY,WEEK,MONTH",
        ),
        (
            Some(quota(1, 1, "DAY")),
            None,
            "Invalid quota offset specified: 1. It must be between 0 and 0 for period DAY",
        ),
        (
            Some(quota(1, 7, "WEEK")),
            None,
            "Invalid quota offset specified: 7. It must be between 0 and 6 for period WEEK",
        ),
        (
            Some(quota(1, -1, "MONTH")),
            None,
            "Invalid quota offset specified: -1. It must be between 0 and 27 for period MONTH",
        ),
    ];
    for (quota, throttle, message) in cases {
        let e = a
            .create_usage_plan(CreateUsagePlanInput {
                name: Some("p".into()),
                quota,
                throttle,
                ..CreateUsagePlanInput::default()
            })
            .unwrap_err();
        assert_eq!(bad(e), bad_request(message));
    }
    assert!(a.usage_plans.is_empty());
    a.create_usage_plan(CreateUsagePlanInput {
        name: Some("p".into()),
        quota: Some(quota(10, 27, "MONTH")),
        ..CreateUsagePlanInput::default()
    })
    .unwrap();
}

#[test]
fn the_account_throttle_is_a_patchable_extension() {
    use account::{AccountState, DEFAULT_ACCOUNT_THROTTLE};
    let mut a = AccountState::default();
    assert_eq!(a.account_throttle(), DEFAULT_ACCOUNT_THROTTLE);
    a.update_account(&[
        op("replace", "/throttleSettings/rateLimit", Some("250.5")),
        op("replace", "/throttleSettings/burstLimit", Some("40")),
    ])
    .unwrap();
    assert_eq!(a.account_throttle().rate_limit, Some(250.5));
    assert_eq!(a.account_throttle().burst_limit, Some(40));
    for (path, v, message) in [
        (
            "/throttleSettings/rateLimit",
            "-1",
            "Invalid rate limit specified: -1",
        ),
        (
            "/throttleSettings/burstLimit",
            "-5",
            "Invalid burst limit specified: -5",
        ),
        (
            "/throttleSettings/burstLimit",
            "lots",
            "Invalid burst limit specified: lots",
        ),
    ] {
        let before = a.clone();
        let e = a
            .update_account(&[
                op(
                    "replace",
                    "/cloudwatchRoleArn",
                    Some("arn:aws:iam::1:role/x"),
                ),
                op("replace", path, Some(v)),
            ])
            .unwrap_err();
        assert_eq!(bad(e), bad_request(message));
        assert_eq!(a, before, "a refused patch changes nothing");
    }
    let e = a
        .update_account(&[op("replace", "/features", Some("x"))])
        .unwrap_err();
    assert_eq!(
        e.message,
        "Invalid patch path  '/features' specified for op 'replace'. Must be one of: [/cloudwatchRoleArn]"
    );
}

#[test]
fn usage_reports_count_per_day_against_the_quota() {
    use portico_model::{QuotaSettings, UsagePlan};
    let plan = UsagePlan {
        id: "p1".into(),
        name: "p".into(),
        description: None,
        api_stages: Vec::new(),
        throttle: None,
        quota: Some(QuotaSettings {
            limit: 100,
            offset: 0,
            period: "MONTH".into(),
        }),
        product_code: None,
        tags: Default::default(),
    };
    let days = api_keys::usage_days("2026-01-30", "2026-02-01").unwrap();
    assert_eq!(days, ["2026-01-30", "2026-01-31", "2026-02-01"]);
    let counts = vec![
        ("k1".to_owned(), "2026-01-30".to_owned(), 10),
        ("k1".to_owned(), "2026-02-01".to_owned(), 5),
        ("k2".to_owned(), "2026-01-31".to_owned(), 7),
    ];
    let u = api_keys::usage_report(
        &plan,
        &["k1".to_owned(), "k2".to_owned()],
        &days,
        &counts,
        &[("k2".to_owned(), 42)],
    );
    assert_eq!(u.values["k1"], vec![[10, 90], [0, 90], [5, 85]]);
    assert_eq!(u.values["k2"], vec![[0, 42], [7, 42], [0, 42]]);
    assert_eq!(
        (u.start_date.as_str(), u.end_date.as_str()),
        ("2026-01-30", "2026-02-01")
    );
    assert!(api_keys::usage_days("2026-02-01", "2026-01-01").is_err());
    assert!(api_keys::usage_days("2026-01-01", "2026-06-01").is_err());
    assert_eq!(
        api_keys::remaining_from_patch(&[op("replace", "/remaining", Some("5"))]).unwrap(),
        5
    );
    assert!(api_keys::remaining_from_patch(&[op("replace", "/remaining", Some("-5"))]).is_err());
    assert!(api_keys::remaining_from_patch(&[op("replace", "/used", Some("5"))]).is_err());
}
