//! What operators and tools ask of a server, without a token: readiness, metrics,
//! and the OpenAPI description of the API.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

/// The OpenAPI 3.1 description, held to the router by a test.
pub const OPENAPI: &str = include_str!("../../docs/openapi.json");

pub fn router() -> Router<AppState> {
    Router::new().route("/readyz", get(readyz)).route("/metrics", get(metrics)).route("/openapi.json", get(openapi))
}

/// GET /readyz: the database answers a query; else HTTP 503 with r=10.
async fn readyz(State(state): State<AppState>) -> Response {
    let json = [(header::CONTENT_TYPE, "application/json")];
    match state.store.ping().await {
        Ok(()) => (json, r#"{"r":0,"msg":"Success"}"#).into_response(),
        Err(e) => {
            tracing::warn!("readiness check failed: {e:#}");
            (StatusCode::SERVICE_UNAVAILABLE, json, r#"{"r":10,"msg":"database unavailable"}"#).into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(state.store.pool_use());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
