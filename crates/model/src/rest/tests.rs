use super::*;
use serde_json::json;

#[test]
fn integration_wire_names_and_defaults() {
    let i: Integration =
        serde_json::from_value(json!({"type": "HTTP_PROXY", "uri": "http://x/"})).unwrap();
    assert_eq!(i.kind, IntegrationType::HttpProxy);
    assert_eq!(i.timeout_in_millis, 29_000);
    let out = serde_json::to_value(&i).unwrap();
    assert_eq!(
        out,
        json!({"type": "HTTP_PROXY", "uri": "http://x/", "timeoutInMillis": 29000, "cacheKeyParameters": []})
    );
}

#[test]
fn integration_type_parse_is_case_insensitive() {
    assert_eq!(IntegrationType::parse("mock"), Some(IntegrationType::Mock));
    assert_eq!(
        IntegrationType::parse("http_proxy"),
        Some(IntegrationType::HttpProxy)
    );
    assert_eq!(IntegrationType::parse("lambda"), None);
}

#[test]
fn rest_api_defaults_match_aws() {
    let api = RestApi::new("pets", "abc123");
    let v = serde_json::to_value(&api).unwrap();
    assert_eq!(v["apiKeySource"], "HEADER");
    assert_eq!(v["endpointConfiguration"]["types"], json!(["EDGE"]));
    assert_eq!(v["disableExecuteApiEndpoint"], false);
    assert!(v.get("description").is_none());
    assert!(v.get("tags").is_none());
}

#[test]
fn resource_paths() {
    let root = Resource::root();
    let pets = Resource::child(&root, "pets");
    let pet = Resource::child(&pets, "{petId}");
    assert_eq!(pets.path, "/pets");
    assert_eq!(pet.path, "/pets/{petId}");
    assert_eq!(pet.parent_id.as_deref(), Some(pets.id.as_str()));
}

#[test]
fn stage_names() {
    assert!(Stage::is_valid_name("dev"));
    assert!(Stage::is_valid_name("v1_beta-2"));
    assert!(!Stage::is_valid_name(""));
    assert!(!Stage::is_valid_name("a b"));
    assert!(!Stage::is_valid_name(&"x".repeat(129)));
}

#[test]
fn api_summary_lists_methods() {
    let root = Resource::root();
    let mut pets = Resource::child(&root, "pets");
    pets.resource_methods
        .insert("GET".into(), Method::new("GET"));
    let snap = DeploymentSnapshot {
        api: RestApi::new("a", root.id.clone()),
        resources: vec![root, pets],
        gateway_responses: Map::new(),
        models: Vec::new(),
        request_validators: Vec::new(),
        authorizers: Vec::new(),
    };
    let s = snap.api_summary();
    assert_eq!(s["/pets"]["GET"].authorization_type, "NONE");
    assert!(!s.contains_key("/"));
}
