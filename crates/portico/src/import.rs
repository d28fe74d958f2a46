//! `portico import` and the import step of `portico serve --import`.

use crate::cli::{DeployArgs, ImportArgs, parse_stage_variables};
use anyhow::Context;
use portico_control::ApiState;
use portico_store::{DeployToStage, ImportOutcome, Store};
use std::net::SocketAddr;
use std::path::Path;

/// What one import made: a REST API, or an HTTP API (apigatewayv2).
pub enum Imported {
    Rest(Box<ImportOutcome>),
    Http {
        api_id: String,
        name: String,
        stage: String,
        created: bool,
    },
}

/// Whether a document describes an HTTP API: it carries `x-amazon-apigateway-importexport-version`
/// (what `ExportApi` writes), a `$default` path, or an integration with `payloadFormatVersion`.
fn is_http_api(doc: &serde_json::Value) -> bool {
    if doc
        .get("x-amazon-apigateway-importexport-version")
        .is_some()
    {
        return true;
    }
    let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) else {
        return false;
    };
    paths.contains_key("$default")
        || paths.values().filter_map(|p| p.as_object()).any(|item| {
            item.values().any(|op| {
                op.get("x-amazon-apigateway-integration")
                    .and_then(|i| i.get("payloadFormatVersion"))
                    .is_some()
            })
        })
}

/// Imports an HTTP API document: ImportApi for a new title, ReimportApi for an existing one,
/// then the stage (`--stage`; `$default` gets `autoDeploy`) serves it.
async fn import_http_file(
    store: &Store,
    file: &Path,
    doc: &serde_json::Value,
    deploy: &DeployArgs,
) -> anyhow::Result<Imported> {
    use portico_control::http::{CreateApiInput, CreateStageInput, HttpApiState};
    let imported = portico_openapi::import_http_api(doc)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    for w in &imported.warnings {
        eprintln!("portico: warning: {}: {w}", file.display());
    }
    portico_control::http::check_stage_name(&deploy.stage)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let variables = parse_stage_variables(&deploy.stage_variables)?;
    let name = imported.name.clone();
    let apply = |st: &mut HttpApiState| {
        st.apply_import(
            imported.routes.clone(),
            imported.integrations.clone(),
            imported.authorizers.clone(),
            imported.cors.clone(),
            imported.disable_execute_api_endpoint,
            imported.version.clone(),
            imported.description.clone(),
        )
    };
    let existing = store
        .http_apis()
        .await?
        .into_iter()
        .find(|a| a.name == name);
    let (api_id, created) = match existing {
        Some(a) => {
            store
                .modify_http_api(&a.api_id, |st| apply(st))
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            (a.api_id, false)
        }
        None => {
            let mut st = HttpApiState::create(
                CreateApiInput {
                    name: Some(name.clone()),
                    protocol_type: Some("HTTP".into()),
                    ..Default::default()
                },
                "us-east-1",
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            apply(&mut st).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            (store.create_http_api(st, false).await?.api_id, true)
        }
    };
    let auto = deploy.stage == portico_model::http::Stage::DEFAULT;
    let input = CreateStageInput {
        stage_name: Some(deploy.stage.clone()),
        auto_deploy: Some(auto),
        stage_variables: (!variables.is_empty()).then_some(variables),
        ..Default::default()
    };
    match store.http_stage(&api_id, &deploy.stage).await {
        Ok(_) => {
            store
                .update_http_stage(&api_id, &deploy.stage, input)
                .await?;
        }
        Err(_) => {
            store.create_http_stage(&api_id, input).await?;
        }
    }
    if !auto {
        store
            .create_http_deployment(
                &api_id,
                deploy.description.clone(),
                Some(deploy.stage.clone()),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}: cannot deploy: {e}", file.display()))?;
    }
    Ok(Imported::Http {
        api_id,
        name,
        stage: deploy.stage.clone(),
        created,
    })
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let store = Store::open(&args.store.data_dir)
        .await
        .context("cannot open the store")?;
    let outcome = import_file(&store, &args.file, &args.deploy).await;
    store.close().await;
    print_invoke_urls(&outcome?, args.listen);
    Ok(())
}

/// Reads, validates and imports one file (a REST API's, or an HTTP API's), then deploys it;
/// nothing is written when it is invalid.
pub async fn import_file(
    store: &Store,
    file: &Path,
    deploy: &DeployArgs,
) -> anyhow::Result<Imported> {
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
    let doc = portico_openapi::parse_document(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if is_http_api(&doc) {
        return import_http_file(store, file, &doc, deploy).await;
    }
    let variables = parse_stage_variables(&deploy.stage_variables)?;
    if !portico_model::Stage::is_valid_name(&deploy.stage) {
        anyhow::bail!(
            "stage name must be 1-128 characters of [A-Za-z0-9_-]: {}",
            deploy.stage
        );
    }
    let imported =
        portico_openapi::import(&doc).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
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
    Ok(Imported::Rest(Box::new(outcome)))
}

pub fn print_invoke_urls(imported: &Imported, listen: SocketAddr) {
    let port = listen.port();
    let host = if listen.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        listen.ip().to_string()
    };
    let o = match imported {
        Imported::Rest(o) => o,
        Imported::Http {
            api_id,
            name,
            stage,
            created,
        } => {
            let verb = if *created { "created" } else { "updated" };
            let prefix = if stage == portico_model::http::Stage::DEFAULT {
                String::new()
            } else {
                format!("{stage}/")
            };
            println!("portico: {verb} HTTP API {name:?} (id {api_id}) on stage {stage}");
            println!("portico: invoke URL http://{api_id}.execute-api.localhost:{port}/{prefix}");
            println!(
                "portico: invoke URL http://{host}:{port}/restapis/{api_id}/{stage}/_user_request_/"
            );
            return;
        }
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
