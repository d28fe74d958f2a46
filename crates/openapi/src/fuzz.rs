//! The body of the cargo-fuzz target `openapi_import` in `fuzz/`, kept here so that
//! `tests/fuzz_corpus.rs` replays every seed corpus file through exactly the same code on each
//! `cargo test`. Not a stable API.
//!
//! Any bytes are read as a document ([`parse_document`]) and imported ([`import`]); errors are
//! fine, panics are not. An API that imports must be well formed (root first, parents before
//! children, unique paths, at most [`MAX_RESOURCES`]) and must survive the way back: exported as
//! OpenAPI 3.0 and Swagger 2.0, with and without extensions, rendered as JSON and YAML, every
//! rendering parses back to the exported value and imports again; with extensions, the
//! re-import has the same resources with methods, and the same methods, as `GetExport` promises.
//!
//! A crash is a panic (or an abort: stack overflow, out of memory, a libFuzzer timeout).

// A fuzz harness reports a broken invariant by panicking: that is what libFuzzer catches.
#![allow(clippy::panic)]

use crate::{
    ExportFormat, ExportOptions, ExportVersion, ImportedApi, MAX_RESOURCES, export, import,
    parse_document, render,
};
use portico_model::{DeploymentSnapshot, Map, Method, Resource, RestApi};

/// `openapi_import`: see the module documentation.
pub fn import_one(data: &[u8]) {
    let Ok(doc) = parse_document(data) else {
        return;
    };
    let Ok(api) = import(&doc) else {
        return;
    };
    check_tree(&api.resources);
    let snap = snapshot(api);
    for version in [ExportVersion::Oas30, ExportVersion::Swagger2] {
        for extensions in [true, false] {
            let options = ExportOptions {
                version,
                extensions,
                host: "abc123.execute-api.us-east-1.amazonaws.com".to_owned(),
            };
            let exported = export(&snap, "prod", &options);
            let what = format!("{version:?} extensions={extensions}");
            for format in [ExportFormat::Json, ExportFormat::Yaml] {
                let text = match render(&exported, format) {
                    Ok(t) => t,
                    Err(e) => panic!("{what} {format:?}: cannot render: {e}"),
                };
                match parse_document(text.as_bytes()) {
                    Ok(v) if v == exported => {}
                    Ok(v) => panic!("{what} {format:?}: parses back differently:\n{text}\n{v:#}"),
                    Err(e) => panic!("{what} {format:?}: does not parse back: {e}\n{text}"),
                }
            }
            let again = match import(&exported) {
                Ok(a) => a,
                Err(e) => panic!("{what}: the export does not import: {e}\n{exported:#}"),
            };
            check_tree(&again.resources);
            if extensions && shape(&again.resources) != shape(&snap.resources) {
                panic!(
                    "{what}: the re-import differs:\n{:#?}\nnot\n{:#?}\n{exported:#}",
                    shape(&again.resources),
                    shape(&snap.resources)
                );
            }
        }
    }
}

/// Root first, parents before children, one resource per path, each path its parent's plus
/// its path part.
fn check_tree(resources: &[Resource]) {
    if resources.len() > MAX_RESOURCES {
        panic!("{} resources", resources.len());
    }
    let Some(root) = resources.first() else {
        panic!("no resources");
    };
    if root.path != "/" || root.parent_id.is_some() || root.path_part.is_some() {
        panic!("root resource {root:?}");
    }
    for (i, r) in resources.iter().enumerate().skip(1) {
        let parent = resources[..i]
            .iter()
            .find(|p| Some(&p.id) == r.parent_id.as_ref());
        let Some(parent) = parent else {
            panic!("{} comes before its parent", r.path);
        };
        let part = r.path_part.as_deref().unwrap_or_default();
        let want = match parent.path.as_str() {
            "/" => format!("/{part}"),
            p => format!("{p}/{part}"),
        };
        if part.is_empty() || part.contains('/') || r.path != want {
            panic!("{} under {} with part {part:?}", r.path, parent.path);
        }
        if resources[..i]
            .iter()
            .any(|o| o.path == r.path || o.id == r.id)
        {
            panic!("{} is there twice", r.path);
        }
    }
}

/// The snapshot a deployment of the imported API would hold.
fn snapshot(api: ImportedApi) -> DeploymentSnapshot {
    let (api, resources, authorizers): (RestApi, Vec<Resource>, _) = api.into_rest_api();
    DeploymentSnapshot {
        api,
        resources,
        gateway_responses: Map::new(),
        models: Vec::new(),
        request_validators: Vec::new(),
        authorizers,
    }
}

/// Resources with methods, without ids: (path, path part, methods). A resource without methods
/// has no operation to export (AWS's exports leave it out too); if it has children, it comes back
/// as their parent.
fn shape(resources: &[Resource]) -> Vec<(&str, Option<&str>, &Map<Method>)> {
    let rows = resources.iter().filter(|r| !r.resource_methods.is_empty());
    rows.map(|r| (r.path.as_str(), r.path_part.as_deref(), &r.resource_methods))
        .collect()
}
