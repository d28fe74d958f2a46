use crate::{ImportAndDeploy, Store};
use portico_model::{Integration, IntegrationType, Map, Method, Resource, RestApi};

fn definition(name: &str, extra: &str) -> ImportAndDeploy {
    let root = Resource::root();
    let mut pets = Resource::child(&root, "pets");
    let mut get = Method::new("GET");
    get.method_integration = Some(Integration::new(IntegrationType::Mock));
    pets.resource_methods.insert("GET".into(), get);
    let other = Resource::child(&root, extra);
    ImportAndDeploy {
        api: RestApi::new(name, root.id.clone()),
        resources: vec![root, pets, other],
        stage_name: "dev".into(),
        stage_variables: Map::from([("backend".to_string(), "127.0.0.1:1".to_string())]),
        deployment_description: None,
    }
}

#[tokio::test]
async fn import_creates_then_updates_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    assert_eq!(store.change_seq().await.unwrap(), 0);

    let first = store
        .import_and_deploy(definition("pets", "a"))
        .await
        .unwrap();
    assert!(first.created);
    let first_res = store.resources(&first.api.id).await.unwrap();
    let pets_id = first_res
        .iter()
        .find(|r| r.path == "/pets")
        .unwrap()
        .id
        .clone();

    let second = store
        .import_and_deploy(definition("pets", "b"))
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.api.id, first.api.id);
    assert_eq!(second.api.root_resource_id, first.api.root_resource_id);
    assert_ne!(second.deployment.id, first.deployment.id);
    let res = store.resources(&second.api.id).await.unwrap();
    let paths: Vec<_> = res.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/", "/b", "/pets"]);
    let pets = res.iter().find(|r| r.path == "/pets").unwrap();
    assert_eq!(pets.id, pets_id, "resource ids survive re-import");
    assert_eq!(
        pets.parent_id.as_deref(),
        Some(second.api.root_resource_id.as_str())
    );

    let serving = store.serving_stages().await.unwrap();
    assert_eq!(serving.len(), 1);
    assert_eq!(serving[0].stage.deployment_id, second.deployment.id);
    assert_eq!(serving[0].stage.variables["backend"], "127.0.0.1:1");
    assert_eq!(store.change_seq().await.unwrap(), 2);
    assert_eq!(store.list_rest_apis().await.unwrap().len(), 1);
}

#[tokio::test]
async fn store_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let store = Store::open(dir.path()).await.unwrap();
        let out = store.import_and_deploy(definition("x", "y")).await.unwrap();
        store.close().await;
        out.api.id
    };
    let store = Store::open(dir.path()).await.unwrap();
    let api = store.find_rest_api_by_name("x").await.unwrap().unwrap();
    assert_eq!(api.id, id);
    assert!(store.find_rest_api_by_name("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn invalid_stage_name_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let mut cmd = definition("x", "y");
    cmd.stage_name = "bad stage".into();
    let err = store.import_and_deploy(cmd).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(store.list_rest_apis().await.unwrap().is_empty());
    assert_eq!(store.change_seq().await.unwrap(), 0);
}

#[tokio::test]
async fn missing_root_is_rejected_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let mut cmd = definition("x", "y");
    cmd.resources.retain(|r| r.path != "/");
    assert!(store.import_and_deploy(cmd).await.is_err());
    assert!(store.list_rest_apis().await.unwrap().is_empty());
}
