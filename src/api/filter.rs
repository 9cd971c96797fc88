//! Saved filters (CONTRACT §5): a named query over one portal's CRM contacts.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, done, ok, page};
use super::input::{Input, PathId};
use crate::domain::account::parse_name;
use crate::domain::ids::{FilterId, PortalId};
use crate::store::ContactSearch;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/filter", get(list).post(create))
        .route("/v1/filter/{id}", get(show).delete(remove))
        .route("/v1/filter/{id}/contacts", get(contacts))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("filter '{id}' not found"))
}

/// POST /v1/filter {name, query, portal} (CONTRACT §5) -> data.id (`FT` + 8); a query
/// that does not parse is r=6.
async fn create(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let name = parse_name("name", &f.required_string("name")?).map_err(ApiError::invalid)?;
    f.required_string("query")?;
    let query = f.query("query", &caller.account.region())?.ok_or_else(|| ApiError::missing("query"))?;
    let portal = f.id("portal", PortalId::parse)?;
    let filter = state.store.create_filter(caller.account_id(), name, query, portal).await?;
    Ok(ok(filter))
}

/// GET /v1/filter?page=&limit= (CONTRACT §5).
async fn list(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let p = input.fields().page()?;
    let found = state.store.filters(caller.account_id(), p).await?;
    Ok(page(found.rows, found.total, p))
}

/// GET /v1/filter/{id} (CONTRACT §5).
async fn show(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let id = id.parse(FilterId::parse)?;
    state.store.filter(caller.account_id(), id.clone()).await?.map(ok).ok_or_else(|| not_found(&id))
}

/// DELETE /v1/filter/{id} (CONTRACT §5).
async fn remove(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let id = id.parse(FilterId::parse)?;
    if state.store.delete_filter(caller.account_id(), id.clone()).await? { Ok(done()) } else { Err(not_found(&id)) }
}

/// GET /v1/filter/{id}/contacts?page=&limit= (CONTRACT §5): the contacts the filter matches now.
async fn contacts(State(state): State<AppState>, caller: Caller, id: PathId, input: Input) -> ApiResult<Response> {
    let p = input.fields().page()?;
    let id = id.parse(FilterId::parse)?;
    let search = ContactSearch::Filter { id, region: caller.account.region() };
    let found = state.store.contacts(caller.account_id(), search, p).await?;
    Ok(page(found.rows, found.total, p))
}
