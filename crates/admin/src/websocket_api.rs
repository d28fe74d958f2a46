//! The `apigatewayv2` operations only WebSocket APIs have: route responses and integration
//! responses, on botocore's paths and status codes. The API, routes, integrations,
//! authorizers, stages and deployments are [`crate::http_api`]'s, shared with HTTP APIs.

use crate::AdminState;
use crate::error::ApiError;
use crate::http_api::page;
use crate::rest::{body, created, no_content};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use portico_control::websocket::{IntegrationResponseInput, RouteResponseInput};
use std::collections::HashMap;

type Result<T> = std::result::Result<T, ApiError>;

/// The routes of route responses and integration responses.
pub fn routes() -> axum::Router<AdminState> {
    axum::Router::new()
        .route(
            "/v2/apis/{api}/routes/{route}/routeresponses",
            get(list_route_responses).post(create_route_response),
        )
        .route(
            "/v2/apis/{api}/routes/{route}/routeresponses/{id}",
            get(get_route_response)
                .patch(update_route_response)
                .delete(delete_route_response),
        )
        .route(
            "/v2/apis/{api}/integrations/{integration}/integrationresponses",
            get(list_integration_responses).post(create_integration_response),
        )
        .route(
            "/v2/apis/{api}/integrations/{integration}/integrationresponses/{id}",
            get(get_integration_response)
                .patch(update_integration_response)
                .delete(delete_integration_response),
        )
}

async fn list_route_responses(
    State(s): State<AdminState>,
    Path((api, route)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    page(
        s.store.http_api(&api).await?.get_route_responses(&route)?,
        &q,
    )
}

async fn create_route_response(
    State(s): State<AdminState>,
    Path((api, route)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response> {
    let input: RouteResponseInput = body(&bytes)?;
    let r = s
        .store
        .modify_http_api(&api, |st| st.create_route_response(&route, input))
        .await?;
    Ok(created(r))
}

async fn get_route_response(
    State(s): State<AdminState>,
    Path((api, route, id)): Path<(String, String, String)>,
) -> Result<Response> {
    let st = s.store.http_api(&api).await?;
    Ok(Json(st.route_response(&route, &id)?).into_response())
}

async fn update_route_response(
    State(s): State<AdminState>,
    Path((api, route, id)): Path<(String, String, String)>,
    bytes: Bytes,
) -> Result<Response> {
    let input: RouteResponseInput = body(&bytes)?;
    let r = s
        .store
        .modify_http_api(&api, |st| st.update_route_response(&route, &id, input))
        .await?;
    Ok(Json(r).into_response())
}

async fn delete_route_response(
    State(s): State<AdminState>,
    Path((api, route, id)): Path<(String, String, String)>,
) -> Result<Response> {
    s.store
        .modify_http_api(&api, |st| st.delete_route_response(&route, &id))
        .await?;
    Ok(no_content())
}

async fn list_integration_responses(
    State(s): State<AdminState>,
    Path((api, integration)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    page(
        s.store
            .http_api(&api)
            .await?
            .get_integration_responses(&integration)?,
        &q,
    )
}

async fn create_integration_response(
    State(s): State<AdminState>,
    Path((api, integration)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response> {
    let input: IntegrationResponseInput = body(&bytes)?;
    let r = s
        .store
        .modify_http_api(&api, |st| {
            st.create_integration_response(&integration, input)
        })
        .await?;
    Ok(created(r))
}

async fn get_integration_response(
    State(s): State<AdminState>,
    Path((api, integration, id)): Path<(String, String, String)>,
) -> Result<Response> {
    let st = s.store.http_api(&api).await?;
    Ok(Json(st.integration_response(&integration, &id)?).into_response())
}

async fn update_integration_response(
    State(s): State<AdminState>,
    Path((api, integration, id)): Path<(String, String, String)>,
    bytes: Bytes,
) -> Result<Response> {
    let input: IntegrationResponseInput = body(&bytes)?;
    let r = s
        .store
        .modify_http_api(&api, |st| {
            st.update_integration_response(&integration, &id, input)
        })
        .await?;
    Ok(Json(r).into_response())
}

async fn delete_integration_response(
    State(s): State<AdminState>,
    Path((api, integration, id)): Path<(String, String, String)>,
) -> Result<Response> {
    s.store
        .modify_http_api(&api, |st| st.delete_integration_response(&integration, &id))
        .await?;
    Ok(no_content())
}
