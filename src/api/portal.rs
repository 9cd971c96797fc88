//! Portals (CONTRACT §5): an account's CRM spaces.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, ok, page_of};
use super::input::Input;
use crate::domain::account::parse_name;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/portal", get(list).post(create))
}

/// POST /v1/portal {name} (CONTRACT §5) -> data.id (`pt_` + 16).
async fn create(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let name = input.fields().required_string("name")?;
    let name = parse_name("name", &name).map_err(ApiError::invalid)?;
    let portal = state.store.create_portal(caller.account_id(), name).await?;
    Ok(ok(portal))
}

/// GET /v1/portal (CONTRACT §5) -> data.rows, default portal first.
/// Every portal on one page unless `page` or `limit` is sent; those are checked and
/// applied as on every other list (CONTRACT §4: `limit` 1–1000).
async fn list(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let paged = f.get("page").is_some() || f.get("limit").is_some();
    let p = f.page()?;
    let portals = state.store.portals(caller.account_id()).await?;
    if paged {
        return Ok(page_of(portals, p));
    }
    let total = portals.len();
    Ok(ok(json!({"rows": portals, "totalCount": total, "totalPages": 1})))
}
