//! `portico import` and the import step of `portico serve --import`.

use crate::cli::{DeployArgs, ImportArgs, parse_stage_variables};
use anyhow::Context;
use portico_control::ApiState;
use portico_store::{DeployToStage, ImportOutcome, Store};
use std::net::SocketAddr;
use std::path::Path;

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let store = Store::open(&args.store.data_dir)
        .await
        .context("cannot open the store")?;
    let outcome = import_file(&store, &args.file, &args.deploy).await;
    store.close().await;
    print_invoke_urls(&outcome?, args.listen);
    Ok(())
}

/// Reads, validates and imports one file, then deploys it; nothing is written when it is invalid.
pub async fn import_file(
    store: &Store,
    file: &Path,
    deploy: &DeployArgs,
) -> anyhow::Result<ImportOutcome> {
    let variables = parse_stage_variables(&deploy.stage_variables)?;
    if !portico_model::Stage::is_valid_name(&deploy.stage) {
        anyhow::bail!(
            "stage name must be 1-128 characters of [A-Za-z0-9_-]: {}",
            deploy.stage
        );
    }
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if size > portico_openapi::MAX_DOCUMENT_BYTES as u64 {
        anyhow::bail!(
            "{}: {size} bytes is over the {} byte import limit",
            file.display(),
            portico_openapi::MAX_DOCUMENT_BYTES
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let imported = portico_openapi::parse_document(&bytes)
        .and_then(|doc| portico_openapi::import(&doc))
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    for w in &imported.warnings {
        eprintln!("portico: warning: {}: {w}", file.display());
    }
    // The same commands as the management API: ImportRestApi for a new title, PutRestApi
    // (overwrite) for an existing one (its id and surviving resource ids are kept), then
    // CreateDeployment to the stage.
    let (api, resources, authorizers) = imported.into_rest_api();
    // Refuse what CreateDeployment would refuse before writing anything.
    ApiState::from_definition(api.clone(), resources.clone(), authorizers.clone())
        .deployable_snapshot()
        .map_err(|e| anyhow::anyhow!("{}: cannot deploy: {e}", file.display()))?;
    let (api, created) = match store.find_rest_api_by_name(&api.name).await? {
        Some(existing) => {
            let updated = store
                .modify_api(&existing.id, |st| {
                    st.overwrite_definition(api, resources, authorizers);
                    Ok(st.api.clone())
                })
                .await
                .context("cannot store the API")?;
            (updated, false)
        }
        None => (
            store
                .create_rest_api(ApiState::from_definition(api, resources, authorizers))
                .await
                .context("cannot store the API")?,
            true,
        ),
    };
    let deployment = store
        .create_deployment(
            &api.id,
            deploy.description.clone(),
            Some(DeployToStage {
                stage_name: deploy.stage.clone(),
                stage_description: None,
                variables,
                cache_cluster_enabled: None,
                cache_cluster_size: None,
                canary_settings: None,
            }),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}: cannot deploy: {e}", file.display()))?;
    let stage = store.stage(&api.id, &deploy.stage).await?;
    let outcome = ImportOutcome {
        api,
        deployment,
        stage,
        created,
    };
    Ok(outcome)
}

pub fn print_invoke_urls(o: &ImportOutcome, listen: SocketAddr) {
    let port = listen.port();
    let host = if listen.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        listen.ip().to_string()
    };
    let verb = if o.created { "created" } else { "updated" };
    println!(
        "portico: {verb} API {:?} (id {}), deployment {} on stage {}",
        o.api.name, o.api.id, o.deployment.id, o.stage.stage_name
    );
    println!(
        "portico: invoke URL http://{}.execute-api.localhost:{port}/{}/",
        o.api.id, o.stage.stage_name
    );
    println!(
        "portico: invoke URL http://{host}:{port}/restapis/{}/{}/_user_request_/",
        o.api.id, o.stage.stage_name
    );
}
