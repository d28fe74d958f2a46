//! `portico import` and the import step of `portico serve --import`.

use crate::cli::{DeployArgs, ImportArgs, parse_stage_variables};
use anyhow::Context;
use portico_model::RestApi;
use portico_store::{ImportAndDeploy, ImportOutcome, Store};
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
    let root_id = imported
        .resources
        .iter()
        .find(|r| r.path == "/")
        .map(|r| r.id.clone())
        .unwrap_or_default();
    let mut api = RestApi::new(imported.name, root_id);
    api.description = imported.description;
    api.version = imported.version;
    api.binary_media_types = imported.binary_media_types;
    if let Some(s) = imported.api_key_source {
        api.api_key_source = s;
    }
    api.minimum_compression_size = imported.minimum_compression_size;
    api.policy = imported.policy;
    api.warnings = imported.warnings.iter().map(|w| w.to_string()).collect();
    let outcome = store
        .import_and_deploy(ImportAndDeploy {
            api,
            resources: imported.resources,
            stage_name: deploy.stage.clone(),
            stage_variables: variables,
            deployment_description: deploy.description.clone(),
        })
        .await
        .context("cannot store the API")?;
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
