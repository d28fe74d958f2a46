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
