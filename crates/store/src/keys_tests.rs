use crate::{ApiKeyQuery, Store, UsageCount};
use portico_control::account::CreateUsagePlanInput;
use portico_control::api_keys::{CreateApiKeyInput, parse_api_keys_csv};
use portico_control::patch::PatchOperation;
use portico_model::ApiStage;

fn op(op: &str, path: &str, value: &str) -> PatchOperation {
    PatchOperation {
        op: op.into(),
        path: path.into(),
        value: Some(value.into()),
        from: None,
    }
}

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    (dir, store)
}

#[tokio::test]
async fn api_keys_are_rows_and_the_feed_names_them() {
    let (_dir, store) = store().await;
    let a = store
        .create_api_key(CreateApiKeyInput {
            name: Some("alice".into()),
            customer_id: Some("c1".into()),
            ..CreateApiKeyInput::default()
        })
        .await
        .unwrap();
    let b = store
        .create_api_key(CreateApiKeyInput {
            name: Some("bob".into()),
            value: Some("bobs-key-0123456789abcdef".into()),
            ..CreateApiKeyInput::default()
        })
        .await
        .unwrap();
    let dup = store
        .create_api_key(CreateApiKeyInput {
            value: Some("bobs-key-0123456789abcdef".into()),
            ..CreateApiKeyInput::default()
        })
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("API Key already exists"));
    assert_eq!(store.api_key_by_id(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(
        store
            .api_key_by_value("bobs-key-0123456789abcdef")
            .await
            .unwrap()
            .map(|k| k.id),
        Some(b.id.clone())
    );
    let page = store
        .api_keys_page(&ApiKeyQuery {
            name_prefix: Some("al".into()),
            limit: 25,
            ..ApiKeyQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items, vec![a.clone()]);
    let page = store
        .api_keys_page(&ApiKeyQuery {
            limit: 1,
            ..ApiKeyQuery::default()
        })
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.next), (1, Some(1)));
    let page = store
        .api_keys_page(&ApiKeyQuery {
            customer_id: Some("c1".into()),
            limit: 25,
            ..ApiKeyQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);

    let seq = store.change_seq().await.unwrap();
    let answer = store
        .update_api_key(&b.id, &[op("replace", "/enabled", "true")])
        .await
        .unwrap();
    assert!(answer.enabled && answer.value.is_none());
    let feed = store.changes_since(seq).await.unwrap();
    assert!(!feed.too_many);
    assert_eq!(feed.changes.len(), 1);
    assert_eq!(
        (
            feed.changes[0].kind.as_str(),
            feed.changes[0].object_id.as_str()
        ),
        ("apikey", b.id.as_str())
    );
    assert!(feed.changes[0].is_account());

    let mut seen = Vec::new();
    assert_eq!(
        store.for_each_api_key(|k| seen.push(k.id)).await.unwrap(),
        2
    );
    assert_eq!(seen, [a.id.clone(), b.id.clone()]);
    store.delete_api_key(&a.id).await.unwrap();
    assert!(store.api_key_by_id(&a.id).await.unwrap().is_none());
    assert!(store.delete_api_key(&a.id).await.is_err());
}

#[tokio::test]
async fn plan_keys_usage_and_grants() {
    let (_dir, store) = store().await;
    let plan = store
        .modify_account(|a| {
            a.create_usage_plan(CreateUsagePlanInput {
                name: Some("gold".into()),
                ..CreateUsagePlanInput::default()
            })
        })
        .await
        .unwrap();
    let key = store
        .create_api_key(CreateApiKeyInput::default())
        .await
        .unwrap();
    store
        .create_usage_plan_key(&plan.id, &key.id, "API_KEY")
        .await
        .unwrap();
    assert_eq!(
        store.usage_plan_keys_all().await.unwrap(),
        vec![(plan.id.clone(), key.id.clone())]
    );
    assert_eq!(
        store.plans_of_key(&key.id).await.unwrap(),
        vec![plan.id.clone()]
    );

    // Counters write no change-feed rows.
    let seq = store.change_seq().await.unwrap();
    let count = |day: &str, used| UsageCount {
        plan_id: plan.id.clone(),
        key_id: key.id.clone(),
        day: day.into(),
        used,
    };
    store
        .add_usage(&[count("2026-03-01", 3), count("2026-03-02", 4)])
        .await
        .unwrap();
    store.add_usage(&[count("2026-03-01", 2)]).await.unwrap();
    assert_eq!(store.change_seq().await.unwrap(), seq);
    assert_eq!(
        store
            .usage_counts(&plan.id, Some(&key.id), "2026-03-01", "2026-03-31")
            .await
            .unwrap(),
        vec![
            (key.id.clone(), "2026-03-01".to_owned(), 5),
            (key.id.clone(), "2026-03-02".to_owned(), 4)
        ]
    );
    let usage = store
        .usage(&plan.id, None, "2026-03-01", "2026-03-03")
        .await
        .unwrap();
    assert_eq!(usage.values[&key.id], vec![[5, 0], [4, 0], [0, 0]]);

    store
        .update_usage(&plan.id, &key.id, &[op("replace", "/remaining", "42")])
        .await
        .unwrap();
    let grants = store.remaining_overrides().await.unwrap();
    assert_eq!((grants.len(), grants[0].remaining), (1, 42));
    let feed = store.changes_since(seq).await.unwrap();
    assert_eq!(
        (
            feed.changes[0].kind.as_str(),
            feed.changes[0].object_id.clone()
        ),
        ("usage", format!("{}/{}", plan.id, key.id))
    );

    // Deleting the plan takes its memberships, counters and grants along.
    store
        .modify_account(|a| a.delete_usage_plan(&plan.id))
        .await
        .unwrap();
    assert!(store.usage_plan_keys_all().await.unwrap().is_empty());
    assert!(store.remaining_overrides().await.unwrap().is_empty());
    let feed = store.changes_since(seq).await.unwrap();
    let last = feed.changes.last().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.object_id.as_str()),
        ("usageplan", plan.id.as_str())
    );
}

#[tokio::test]
async fn modify_account_writes_only_what_changed() {
    let (_dir, store) = store().await;
    let plan = store
        .modify_account(|a| {
            a.create_usage_plan(CreateUsagePlanInput {
                name: Some("p".into()),
                ..CreateUsagePlanInput::default()
            })
        })
        .await
        .unwrap();
    let seq = store.change_seq().await.unwrap();
    store
        .modify_account(|a| a.update_account(&[op("replace", "/throttleSettings/rateLimit", "7")]))
        .await
        .unwrap();
    let feed = store.changes_since(seq).await.unwrap();
    assert_eq!(feed.changes.len(), 1, "{feed:?}");
    assert_eq!(feed.changes[0].kind, "account");
    assert_eq!(
        store.account_throttle().await.unwrap().rate_limit,
        Some(7.0)
    );
    assert_eq!(store.usage_plans().await.unwrap(), vec![plan]);
    // A refused command writes nothing.
    let seq = store.change_seq().await.unwrap();
    assert!(
        store
            .modify_account(|a| a.update_account(&[op(
                "replace",
                "/throttleSettings/burstLimit",
                "-1"
            )]))
            .await
            .is_err()
    );
    assert_eq!(store.change_seq().await.unwrap(), seq);
}

#[tokio::test]
async fn imports_overwrite_by_value_and_refuse_conflicting_plans_whole() {
    let (_dir, store) = store().await;
    let api_stage = ApiStage {
        api_id: "api".into(),
        stage: "prod".into(),
        throttle: Default::default(),
    };
    let plans = store
        .modify_account(|a| {
            a.known_stages = vec![("api".into(), "prod".into())];
            let p1 = a.create_usage_plan(CreateUsagePlanInput {
                name: Some("p1".into()),
                api_stages: Some(vec![api_stage.clone()]),
                ..CreateUsagePlanInput::default()
            })?;
            let p2 = a.create_usage_plan(CreateUsagePlanInput {
                name: Some("p2".into()),
                api_stages: Some(vec![api_stage.clone()]),
                ..CreateUsagePlanInput::default()
            })?;
            Ok((p1.id, p2.id))
        })
        .await
        .unwrap();
    let file = format!(
        "name,key,usageplanids\nk1,apikey1234abcdefghij0123456789,{}\nk2,apikey1234abcdefghij0123456788,\n",
        plans.0
    );
    let ids = store
        .import_api_keys(parse_api_keys_csv(&file, false).unwrap())
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(
        store.plans_of_key(&ids[0]).await.unwrap(),
        vec![plans.0.clone()]
    );
    // Again, renamed: same ids.
    let again = store
        .import_api_keys(
            parse_api_keys_csv("name,key\nrenamed,apikey1234abcdefghij0123456789\n", false)
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(again, [ids[0].clone()]);
    assert_eq!(
        store.api_key(&ids[0]).await.unwrap().name.as_deref(),
        Some("renamed")
    );
    // A line putting k1 into a second plan on the same stage refuses the whole file.
    let seq = store.change_seq().await.unwrap();
    let file = format!(
        "name,key,usageplanids\nnew,apikey1234abcdefghij0123456787,\nk1,apikey1234abcdefghij0123456789,{}\n",
        plans.1
    );
    let e = store
        .import_api_keys(parse_api_keys_csv(&file, false).unwrap())
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot reference multiple Usage Plans with the same API Stage: api:prod"),
        "{e}"
    );
    assert_eq!(store.change_seq().await.unwrap(), seq);
    assert!(
        store
            .api_key_by_value("apikey1234abcdefghij0123456787")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn changes_since_is_bounded() {
    let (_dir, store) = store().await;
    let mut tx = store.pool().begin().await.unwrap();
    for _ in 0..Store::CHANGES_LIMIT + 5 {
        crate::changes::record_change(&mut tx, "", "apikey", "x")
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let feed = store.changes_since(0).await.unwrap();
    assert!(feed.too_many);
    assert_eq!(feed.changes.len(), Store::CHANGES_LIMIT);
    let feed = store.changes_since(10).await.unwrap();
    assert!(!feed.too_many);
    assert_eq!(feed.changes.len(), Store::CHANGES_LIMIT - 5);
}

/// `cargo test --release -p portico-store -- --ignored --nocapture import_a_million_keys`
#[tokio::test]
#[ignore = "a benchmark: imports 1,000,000 keys"]
async fn import_a_million_keys() {
    let (_dir, store) = store().await;
    let n = 1_000_000;
    let mut csv = String::with_capacity(n * 60);
    csv.push_str("Name,Key,Description,Enabled\n");
    for i in 0..n {
        csv.push_str(&format!("key-{i},imported-key-value-{i:012},bench,true\n"));
    }
    let started = std::time::Instant::now();
    let import = parse_api_keys_csv(&csv, true).unwrap();
    let parsed = started.elapsed();
    let ids = store.import_api_keys(import).await.unwrap();
    let total = started.elapsed();
    assert_eq!(ids.len(), n);
    println!(
        "imported {n} API keys in {:.2} s (parse {:.2} s, store {:.2} s)",
        total.as_secs_f64(),
        parsed.as_secs_f64(),
        (total - parsed).as_secs_f64()
    );
    let started = std::time::Instant::now();
    let mut count = 0;
    store.for_each_api_key(|_| count += 1).await.unwrap();
    println!(
        "streamed {count} API keys in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    let k = store
        .create_api_key(CreateApiKeyInput::default())
        .await
        .unwrap();
    store
        .update_api_key(&k.id, &[op("replace", "/name", "x")])
        .await
        .unwrap();
    println!(
        "create + update one key beside them: {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
}
