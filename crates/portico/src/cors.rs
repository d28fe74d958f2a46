//! `portico cors enable`: the console's "Enable CORS" on one resource of a REST API in the store
//! (`portico_control::cors`), optionally deployed to a stage. A running `portico serve` on the
//! same store picks the deployment up through its change feed.

use crate::cli::CorsEnableArgs;
use anyhow::{Context, anyhow, bail};
use portico_control::cors::CorsSettings;
use portico_store::{DeployToStage, Store};

pub async fn enable(args: CorsEnableArgs) -> anyhow::Result<()> {
    let settings = CorsSettings {
        allow_origin: args.allow_origin.clone(),
        allow_headers: args.allow_headers.clone(),
        allow_methods: args.allow_methods.as_deref().map(|m| {
            m.split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect()
        }),
        expose_headers: args.expose_headers.clone(),
        max_age: args.max_age,
        allow_credentials: args.allow_credentials,
        gateway_responses: args.gateway_responses,
    };
    settings.validate().map_err(|e| anyhow!("{}", e.message))?;
    let store = Store::open(&args.store.data_dir)
        .await
        .context("cannot open the store")?;
    let outcome = run(&store, &args, &settings).await;
    store.close().await;
    outcome
}

async fn run(store: &Store, args: &CorsEnableArgs, settings: &CorsSettings) -> anyhow::Result<()> {
    let api = match store.get_rest_api(&args.api).await {
        Ok(api) => api,
        Err(_) => store
            .find_rest_api_by_name(&args.api)
            .await?
            .ok_or_else(|| anyhow!("no REST API with the id or name {}", args.api))?,
    };
    let path = args.path.trim();
    let report = store
        .modify_api(&api.id, |st| {
            let resource = st
                .resources
                .iter()
                .find(|r| r.path == path)
                .map(|r| r.id.clone())
                .ok_or_else(|| {
                    portico_control::ControlError::not_found(format!(
                        "API {} has no resource {path}",
                        st.api.id
                    ))
                })?;
            st.enable_cors(&resource, settings)
        })
        .await
        .map_err(|e| anyhow!("cannot enable CORS on {path}: {e}"))?;
    println!(
        "portico: CORS enabled on {} {path}: OPTIONS answers Access-Control-Allow-Methods {}, origin {}",
        api.id, report.allow_methods, settings.allow_origin
    );
    for m in &report.updated_methods {
        println!("portico:   {m}: Access-Control-Allow-Origin added to its 200 response");
    }
    for (m, why) in &report.skipped_methods {
        println!("portico:   {m}: left alone ({why})");
    }
    for g in &report.gateway_responses {
        println!("portico:   gateway response {g}: CORS headers added");
    }
    match &args.deploy {
        Some(stage) => {
            if !portico_model::Stage::is_valid_name(stage) {
                bail!("stage name must be 1-128 characters of [A-Za-z0-9_-]: {stage}");
            }
            let d = store
                .create_deployment(
                    &api.id,
                    Some("portico cors enable".into()),
                    Some(DeployToStage {
                        stage_name: stage.clone(),
                        stage_description: None,
                        variables: Default::default(),
                        cache_cluster_enabled: None,
                        cache_cluster_size: None,
                        canary_settings: None,
                    }),
                )
                .await
                .map_err(|e| anyhow!("cannot deploy: {e}"))?;
            println!("portico: deployed as {} to stage {stage}", d.id);
        }
        None => println!(
            "portico: not deployed yet: `aws apigateway create-deployment --rest-api-id {} --stage-name STAGE` (or --deploy STAGE)",
            api.id
        ),
    }
    Ok(())
}
