//! The `lambda` (2015-03-31) operations on botocore's paths and status codes: functions, code,
//! configuration, concurrency, invocations, permissions, versions and aliases.
//!
//! Each handler is a thin adapter: it resolves the function's name or ARN
//! (`portico_control::lambda::function_ref`), runs the operation's command in the store
//! (`Store::modify_function`) and answers with Lambda's JSON and status. Code is put on disk
//! first ([`code`]); `Invoke` goes to the injected [`Invoke`] (the same function runtime the
//! gateway calls), on the data plane's runtime when one is given, so workers live there.

mod code;
mod error;

pub use error::LambdaError;

use crate::AdminState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine;
use bytes::Bytes;
use portico_control::lambda::{
    AddPermissionInput, CreateAliasInput, CreateFunctionInput, FunctionRef, PublishVersionInput,
    PutFunctionConcurrencyInput, UpdateAliasInput, UpdateFunctionCodeInput,
    UpdateFunctionConfigurationInput, check_create, check_update_code, function_not_found,
    function_ref, invalid_parameter, max_items, page, unqualified_only,
};
use portico_functions::{Invoke, InvokeContext, InvokeError, MAX_PAYLOAD_BYTES};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

type Result<T> = std::result::Result<T, LambdaError>;
type Q = Query<HashMap<String, String>>;

/// Lambda's limit on a request carrying a deployment package (its base64 in JSON).
pub const MAX_REQUEST_BYTES: usize = portico_control::lambda::MAX_CODE_REQUEST_BYTES;

/// What the Lambda operations need besides the store: where code is unpacked, and what runs
/// the functions.
#[derive(Debug)]
pub struct Lambda {
    code: code::CodeStore,
    invoker: Option<Arc<dyn Invoke>>,
    data_plane: Option<tokio::runtime::Handle>,
}

impl Lambda {
    /// Code unpacked under `code_root` (`{data-dir}/functions/code`); no invoker yet.
    pub fn new(code_root: PathBuf) -> Self {
        Self {
            code: code::CodeStore::new(code_root),
            invoker: None,
            data_plane: None,
        }
    }

    /// Invocations go to `invoker`, run on `runtime` (the data plane's) when given.
    pub fn with_invoker(
        mut self,
        invoker: Arc<dyn Invoke>,
        runtime: Option<tokio::runtime::Handle>,
    ) -> Self {
        self.invoker = Some(invoker);
        self.data_plane = runtime;
        self
    }
}

/// The Lambda routes (paths as botocore's `lambda` model gives each operation's `requestUri`).
pub fn routes() -> axum::Router<AdminState> {
    axum::Router::new()
        .route(
            "/2015-03-31/functions",
            get(list_functions).post(create_function),
        )
        .route(
            "/2015-03-31/functions/{name}",
            get(get_function).delete(delete_function),
        )
        .route(
            "/2015-03-31/functions/{name}/configuration",
            get(get_configuration).put(update_configuration),
        )
        .route("/2015-03-31/functions/{name}/code", put(update_code))
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .route(
            "/2015-03-31/functions/{name}/policy",
            get(get_policy).post(add_permission),
        )
        .route(
            "/2015-03-31/functions/{name}/policy/{sid}",
            axum::routing::delete(remove_permission),
        )
        .route(
            "/2015-03-31/functions/{name}/versions",
            get(list_versions).post(publish_version),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases",
            get(list_aliases).post(create_alias),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases/{alias}",
            get(get_alias).put(update_alias).delete(delete_alias),
        )
        .route(
            "/2017-10-31/functions/{name}/concurrency",
            put(put_concurrency).delete(delete_concurrency),
        )
        .route(
            "/2019-09-30/functions/{name}/concurrency",
            get(get_concurrency),
        )
}

/// Parses a JSON body; an empty body is `{}`.
fn body<T: DeserializeOwned>(raw: &Bytes) -> Result<T> {
    let text: &[u8] = if raw.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        raw
    };
    serde_json::from_slice(text).map_err(LambdaError::bad_content)
}

fn target(name: &str, q: &HashMap<String, String>) -> Result<FunctionRef> {
    Ok(function_ref(name, q.get("Qualifier").map(String::as_str))?)
}

fn status(code: StatusCode, v: impl serde::Serialize) -> Response {
    (code, Json(v)).into_response()
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

async fn create_function(State(s): State<AdminState>, raw: Bytes) -> Result<Response> {
    let input: CreateFunctionInput = body(&raw)?;
    let r = check_create(&input)?;
    let code_input = input.code.clone().unwrap_or_default();
    let source = code_input.source()?;
    let config = s
        .lambda
        .code
        .with_code(&s.store, &r.name, source, |st, code| {
            st.create_function(&input, code)
        })
        .await?;
    Ok(status(StatusCode::CREATED, config))
}

async fn list_functions(State(s): State<AdminState>, Query(q): Q) -> Result<Response> {
    let all = match q.get("FunctionVersion").map(String::as_str) {
        None => false,
        Some("ALL") => true,
        Some(other) => {
            return Err(
                portico_control::ControlError::validation(&[portico_control::violation(
                    other,
                    "functionVersion",
                    "Member must satisfy enum value set: [ALL]",
                )])
                .map(LambdaError::from)
                .unwrap_or_else(|| LambdaError::service("bad FunctionVersion")),
            );
        }
    };
    let mut configs = Vec::new();
    for st in s.store.function_states().await? {
        if let Some(f) = st.function {
            configs.push(f.config);
            if all {
                configs.extend(st.versions.into_iter().map(|v| v.config));
            }
        }
    }
    let max = max_items(q.get("MaxItems").map(String::as_str), 50)?;
    let (items, next) = page(configs, q.get("Marker").map(String::as_str), max)?;
    let mut out = json!({ "Functions": items });
    if let Some(n) = next {
        out["NextMarker"] = Value::String(n);
    }
    Ok(Json(out).into_response())
}

async fn get_function(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response> {
    let r = target(&name, &q)?;
    let st = s.store.function_state(&r.name).await?;
    Ok(Json(st.get_function(r.qualifier.as_deref())?).into_response())
}

async fn get_configuration(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response> {
    let r = target(&name, &q)?;
    let st = s.store.function_state(&r.name).await?;
    Ok(Json(st.configuration(r.qualifier.as_deref())?).into_response())
}

async fn delete_function(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response> {
    let r = target(&name, &q)?;
    s.lambda
        .code
        .dropping_code(&s.store, &r.name, |st| {
            st.delete_function(r.qualifier.as_deref())
        })
        .await?;
    Ok(no_content())
}

async fn update_code(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let r = function_ref(&name, None)?;
    let input: UpdateFunctionCodeInput = body(&raw)?;
    check_update_code(&input)?;
    let code_input = input.code();
    let source = code_input.source()?;
    // Lambda answers an unknown function before it looks at the code.
    if s.store.function_state(&r.name).await?.function.is_none() {
        return Err(function_not_found(&r.name, None).into());
    }
    let config = s
        .lambda
        .code
        .with_code(&s.store, &r.name, source, |st, code| {
            st.update_function_code(&input, code)
        })
        .await?;
    Ok(Json(config).into_response())
}

async fn update_configuration(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let r = function_ref(&name, None)?;
    let input: UpdateFunctionConfigurationInput = body(&raw)?;
    let config = s
        .store
        .modify_function(&r.name, |st| st.update_function_configuration(&input))
        .await?;
    Ok(Json(config).into_response())
}

async fn put_concurrency(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let r = function_ref(&name, None)?;
    unqualified_only(&r)?;
    let input: PutFunctionConcurrencyInput = body(&raw)?;
    let out = s
        .store
        .modify_function(&r.name, |st| st.put_concurrency(&input))
        .await?;
    Ok(Json(out).into_response())
}

async fn get_concurrency(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Response> {
    let r = function_ref(&name, None)?;
    unqualified_only(&r)?;
    let st = s.store.function_state(&r.name).await?;
    Ok(Json(st.concurrency()?).into_response())
}

async fn delete_concurrency(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Response> {
    let r = function_ref(&name, None)?;
    unqualified_only(&r)?;
    s.store
        .modify_function(&r.name, |st| st.delete_concurrency())
        .await?;
    Ok(no_content())
}

async fn add_permission(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    Query(q): Q,
    raw: Bytes,
) -> Result<Response> {
    let r = target(&name, &q)?;
    let input: AddPermissionInput = body(&raw)?;
    let statement = s
        .store
        .modify_function(&r.name, |st| {
            st.add_permission(r.qualifier.as_deref(), &input)
        })
        .await?;
    Ok(status(
        StatusCode::CREATED,
        json!({ "Statement": statement }),
    ))
}

async fn remove_permission(
    State(s): State<AdminState>,
    Path((name, sid)): Path<(String, String)>,
    Query(q): Q,
) -> Result<Response> {
    let r = target(&name, &q)?;
    s.store
        .modify_function(&r.name, |st| {
            st.remove_permission(
                r.qualifier.as_deref(),
                &sid,
                q.get("RevisionId").map(String::as_str),
            )
        })
        .await?;
    Ok(no_content())
}

async fn get_policy(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response> {
    let r = target(&name, &q)?;
    let st = s.store.function_state(&r.name).await?;
    Ok(Json(st.policy(r.qualifier.as_deref())?).into_response())
}

async fn publish_version(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let r = function_ref(&name, None)?;
    let input: PublishVersionInput = body(&raw)?;
    let config = s
        .store
        .modify_function(&r.name, |st| st.publish_version(&input))
        .await?;
    Ok(status(StatusCode::CREATED, config))
}

async fn list_versions(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response> {
    let r = function_ref(&name, None)?;
    let st = s.store.function_state(&r.name).await?;
    let versions = st.list_versions()?;
    let max = max_items(q.get("MaxItems").map(String::as_str), 50)?;
    let (items, next) = page(versions, q.get("Marker").map(String::as_str), max)?;
    let mut out = json!({ "Versions": items });
    if let Some(n) = next {
        out["NextMarker"] = Value::String(n);
    }
    Ok(Json(out).into_response())
}

async fn create_alias(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let r = function_ref(&name, None)?;
    let input: CreateAliasInput = body(&raw)?;
    let alias = s
        .store
        .modify_function(&r.name, |st| st.create_alias(&input))
        .await?;
    Ok(status(StatusCode::CREATED, alias))
}

async fn list_aliases(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response> {
    let r = function_ref(&name, None)?;
    let st = s.store.function_state(&r.name).await?;
    let aliases = st.list_aliases(q.get("FunctionVersion").map(String::as_str))?;
    let max = max_items(q.get("MaxItems").map(String::as_str), 50)?;
    let (items, next) = page(aliases, q.get("Marker").map(String::as_str), max)?;
    let mut out = json!({ "Aliases": items });
    if let Some(n) = next {
        out["NextMarker"] = Value::String(n);
    }
    Ok(Json(out).into_response())
}

async fn get_alias(
    State(s): State<AdminState>,
    Path((name, alias)): Path<(String, String)>,
) -> Result<Response> {
    let r = function_ref(&name, None)?;
    let st = s.store.function_state(&r.name).await?;
    Ok(Json(st.alias(&alias)?).into_response())
}

async fn update_alias(
    State(s): State<AdminState>,
    Path((name, alias)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let r = function_ref(&name, None)?;
    let input: UpdateAliasInput = body(&raw)?;
    let out = s
        .store
        .modify_function(&r.name, |st| st.update_alias(&alias, &input))
        .await?;
    Ok(Json(out).into_response())
}

async fn delete_alias(
    State(s): State<AdminState>,
    Path((name, alias)): Path<(String, String)>,
) -> Result<Response> {
    let r = function_ref(&name, None)?;
    s.store
        .modify_function(&r.name, |st| st.delete_alias(&alias))
        .await?;
    Ok(no_content())
}

/// `X-Amz-Invocation-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn enum_violation(value: &str, at: &str, set: &str) -> LambdaError {
    portico_control::ControlError::validation(&[portico_control::violation(
        value,
        at,
        &format!("Member must satisfy enum value set: [{set}]"),
    )])
    .map(LambdaError::from)
    .unwrap_or_else(|| LambdaError::service("bad enum value"))
}

async fn invoke(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    Query(q): Q,
    headers: HeaderMap,
    payload: Bytes,
) -> Result<Response> {
    let r = target(&name, &q)?;
    let kind = match header(&headers, "x-amz-invocation-type") {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(enum_violation(
                other,
                "invocationType",
                "Event, RequestResponse, DryRun",
            ));
        }
    };
    let tail = match header(&headers, "x-amz-log-type") {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => return Err(enum_violation(other, "logType", "None, Tail")),
    };
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(LambdaError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            InvokeError::RequestTooLarge.to_string(),
        ));
    }
    if !payload.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(&payload).is_err() {
        return Err(LambdaError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "Could not parse request body into json: Could not parse payload into json: \
             Unexpected character: was expecting a JSON value",
        ));
    }
    let client_context = match header(&headers, "x-amz-client-context") {
        None => None,
        Some(b64) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    invalid_parameter("Client context must be a valid Base64-encoded JSON object.")
                })?,
        ),
    };
    if kind != InvocationType::RequestResponse {
        // DryRun and Event answer for what exists now; Event runs in the background.
        let st = s.store.function_state(&r.name).await?;
        st.check_invoke(r.qualifier.as_deref())?;
        if kind == InvocationType::DryRun {
            return Ok(no_content());
        }
    }
    let Some(invoker) = s.lambda.invoker.clone() else {
        return Err(LambdaError::service("No function runtime is attached."));
    };
    let ctx = InvokeContext {
        client_context,
        invoked_arn: Some(match &r.qualifier {
            Some(q) => portico_model::lambda::qualified_arn(&r.name, q),
            None => portico_model::lambda::function_arn(&r.name),
        }),
        ..InvokeContext::default()
    };
    // No payload is an empty event, as on Lambda.
    let payload = if payload.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        payload
    };
    let (function, qualifier) = (r.name.clone(), r.qualifier.clone());
    let run = async move {
        invoker
            .invoke_qualified(&function, qualifier.as_deref(), payload, ctx)
            .await
    };
    if kind == InvocationType::Event {
        let name = r.name.clone();
        let background = async move {
            match run.await {
                Ok(done) if done.function_error.is_some() => tracing::info!(
                    function = %name, request_id = %done.request_id,
                    "asynchronous invocation ended with a function error"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(function = %name, "asynchronous invocation failed: {e}"),
            }
        };
        match &s.lambda.data_plane {
            Some(h) => drop(h.spawn(background)),
            None => drop(tokio::spawn(background)),
        }
        let mut resp = StatusCode::ACCEPTED.into_response();
        resp.headers_mut().insert(
            "x-amzn-RequestId",
            HeaderValue::from_str(&portico_functions::new_request_id())
                .unwrap_or(HeaderValue::from_static("")),
        );
        return Ok(resp);
    }
    let outcome = match &s.lambda.data_plane {
        Some(h) => h
            .spawn(run)
            .await
            .map_err(|e| LambdaError::service(format!("invocation failed: {e}")))?,
        None => run.await,
    };
    let done = outcome.map_err(|e| match e {
        InvokeError::NotFound(_) => function_not_found(&r.name, r.qualifier.as_deref()).into(),
        InvokeError::TooManyRequests => LambdaError::throttled(),
        InvokeError::RequestTooLarge => LambdaError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            e.to_string(),
        ),
        InvokeError::Start(why) => LambdaError::service(why),
    })?;
    let mut resp = (StatusCode::OK, done.payload).into_response();
    let h = resp.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set("x-amzn-RequestId", &done.request_id);
    set("X-Amz-Executed-Version", &done.executed_version);
    if let Some(fe) = &done.function_error {
        set("X-Amz-Function-Error", fe);
    }
    if tail {
        set(
            "X-Amz-Log-Result",
            &base64::engine::general_purpose::STANDARD.encode(done.log_tail.as_bytes()),
        );
    }
    Ok(resp)
}
