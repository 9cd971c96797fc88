//! Saved filters (CONTRACT §5): a named query over one portal's CRM contacts.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use super::AppState;
use super::auth::Caller;
use super::campaign::page_of;
use super::contact::{compile_query, portal_of};
use super::error::{ApiError, ApiResult, done, ok, page};
use super::input::{Input, PathId};
use crate::domain::account::parse_name;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/filter", get(list).post(create))
        .route("/v1/filter/{id}", get(show).delete(remove))
        .route("/v1/filter/{id}/contacts", get(contacts))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("filter '{id}' not found"))
}

/// POST /v1/filter {name, query, portal} -> data.id (`FT` + 8); an invalid query is r=6.
async fn create(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let name = parse_name("name", &f.required_string("name")?).map_err(ApiError::invalid)?;
    let query = f.required_string("query")?;
    let portal = f.string("portal")?.map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
    let portal = portal_of(&state, &caller.account.id, portal.as_deref()).await?;
    compile_query(&state, &query, &caller.account, &portal)?;
    let filter = state.store.create_filter(&caller.account.id, &name, &query, Some(&portal)).await?;
    Ok(ok(filter))
}

/// GET /v1/filter?page=&limit=
async fn list(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let p = page_of(&input.fields())?;
    let found = state.store.filters(&caller.account.id, p).await?;
    Ok(page(found.rows, found.total, p))
}

/// GET /v1/filter/{id}
async fn show(State(state): State<AppState>, caller: Caller, PathId(id): PathId) -> ApiResult<Response> {
    state.store.filter(&caller.account.id, &id).await?.map(ok).ok_or_else(|| not_found(&id))
}

/// DELETE /v1/filter/{id}
async fn remove(State(state): State<AppState>, caller: Caller, PathId(id): PathId) -> ApiResult<Response> {
    if state.store.delete_filter(&caller.account.id, &id).await? { Ok(done()) } else { Err(not_found(&id)) }
}

/// GET /v1/filter/{id}/contacts?page=&limit= -> the contacts the filter matches now.
async fn contacts(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    input: Input,
) -> ApiResult<Response> {
    let p = page_of(&input.fields())?;
    let filter = state.store.filter(&caller.account.id, &id).await?.ok_or_else(|| not_found(&id))?;
    let query = compile_query(&state, &filter.query, &caller.account, &filter.portal)?;
    let found = state.store.contacts(&caller.account.id, &filter.portal, Some(query), p).await?;
    Ok(page(found.rows, found.total, p))
}
