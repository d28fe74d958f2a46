use crate::Store;
use portico_control::lambda::{
    AddPermissionInput, CreateAliasInput, CreateFunctionInput, FunctionState, PublishVersionInput,
    PutFunctionConcurrencyInput, StoredCode, UpdateFunctionCodeInput,
};
use portico_model::lambda::CodeLocation;
use serde_json::json;

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    (dir, store)
}

fn input() -> CreateFunctionInput {
    serde_json::from_value(json!({
        "FunctionName": "hello", "Runtime": "python3.12", "Handler": "index.handler",
        "Role": "arn:aws:iam::000000000000:role/r", "Code": {"ZipFile": "UEsFBg=="}
    }))
    .unwrap()
}

fn code(dir: &str, sha: &str) -> StoredCode {
    StoredCode {
        location: CodeLocation::Unpacked { dir: dir.into() },
        sha256: sha.into(),
        size: 22,
    }
}

#[tokio::test]
async fn a_function_round_trips_with_its_versions_aliases_policy_and_concurrency() {
    let (_dir, store) = store().await;
    assert_eq!(
        store.function_state("hello").await.unwrap(),
        FunctionState::new("hello")
    );
    store
        .modify_function("hello", |st| {
            st.create_function(&input(), code("/c/1", "a"))
        })
        .await
        .unwrap();
    let seq = store.change_seq().await.unwrap();
    let batch = store.changes_since(seq - 1).await.unwrap();
    assert_eq!(
        (
            batch.changes[0].kind.as_str(),
            batch.changes[0].object_id.as_str()
        ),
        ("function", "hello")
    );
    assert!(batch.changes[0].is_account(), "no stage recompiles");
    store
        .modify_function("hello", |st| {
            st.publish_version(&PublishVersionInput::default())?;
            st.update_function_code(&UpdateFunctionCodeInput::default(), code("/c/2", "b"))?;
            st.publish_version(&PublishVersionInput::default())?;
            st.create_alias(
                &serde_json::from_value::<CreateAliasInput>(
                    json!({"Name": "live", "FunctionVersion": "1"}),
                )
                .unwrap(),
            )?;
            for sid in ["b", "a"] {
                st.add_permission(
                    None,
                    &serde_json::from_value::<AddPermissionInput>(json!({
                        "StatementId": sid, "Action": "lambda:InvokeFunction",
                        "Principal": "apigateway.amazonaws.com"
                    }))
                    .unwrap(),
                )?;
            }
            st.put_concurrency(&PutFunctionConcurrencyInput {
                reserved_concurrent_executions: Some(2),
            })
        })
        .await
        .unwrap();
    let st = store.function_state("hello").await.unwrap();
    assert_eq!(st.versions.len(), 2);
    assert_eq!(st.aliases[0].function_version, "1");
    let sids: Vec<&str> = st.permissions.iter().map(|p| p.sid.as_str()).collect();
    assert_eq!(sids, ["b", "a"], "statements keep their order");
    assert_eq!(st.reserved_concurrency, Some(2));
    assert_eq!(st.unpacked_dirs(), ["/c/2", "/c/1"]);
    assert_eq!(store.function_states().await.unwrap(), vec![st.clone()]);

    // A refused command writes nothing, not even a change row.
    let seq = store.change_seq().await.unwrap();
    let e = store
        .modify_function("hello", |st| {
            st.create_function(&input(), code("/c/3", "c"))
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Function already exist: hello"));
    // A read-only command changes nothing either.
    store
        .modify_function("hello", |st| st.configuration(None))
        .await
        .unwrap();
    assert_eq!(store.change_seq().await.unwrap(), seq);

    store
        .modify_function("hello", |st| st.delete_function(None))
        .await
        .unwrap();
    assert_eq!(
        store.function_state("hello").await.unwrap(),
        FunctionState::new("hello")
    );
    assert!(store.function_states().await.unwrap().is_empty());
    assert_eq!(store.change_seq().await.unwrap(), seq + 1);
}

#[tokio::test]
async fn concurrent_creates_of_one_name_make_one_function() {
    let (_dir, store) = store().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .modify_function("hello", |st| {
                    st.create_function(&input(), code(&format!("/c/{i}"), "x"))
                })
                .await
                .is_ok()
        }));
    }
    let mut created = 0;
    for t in tasks {
        created += usize::from(t.await.unwrap());
    }
    assert_eq!(created, 1);
}
