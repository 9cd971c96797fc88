//! Campaigns (CONTRACT §5): create, list, get, update, delete.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use super::AppState;
use super::auth::Caller;
use super::customcampaign::{add_sources, read_sources};
use super::error::{ApiError, ApiResult, done, ok, page};
use super::input::{Fields, Input, PathId};
use crate::domain::campaign::CampaignFields;
use crate::domain::page::Page;
use crate::store::Target;
use axum::Json;
use axum::response::IntoResponse;
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/campaign", get(list).post(create))
        .route("/v1/campaign/{id}", get(show).put(update).delete(remove))
}

/// The reference's campaign fields, each optional here.
fn campaign_fields(f: &Fields<'_>) -> ApiResult<CampaignFields> {
    Ok(CampaignFields {
        name: f.string("name")?,
        desc1: f.string("desc1")?,
        portal: f.string("portal")?.filter(|p| !p.trim().is_empty()),
        start_time: f.int("start_time")?,
        end_time: f.int("end_time")?,
        max_call_retry: f.int("max_call_retry")?,
        time_between_two_call: f.int("time_between_two_call")?,
        number: f.string("number")?,
    })
}

pub fn page_of(f: &Fields<'_>) -> ApiResult<Page> {
    Page::parse(f.int("page")?, f.int("limit")?).map_err(ApiError::invalid)
}

/// POST /v1/campaign: `name` required -> data.id (`CA` + 6) and the campaign. With
/// `listcontacts`, the campaign and its customers are created in one transaction.
async fn create(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    f.required_string("name")?;
    let fields = campaign_fields(&f)?.check().map_err(ApiError::invalid)?;
    let sources = read_sources(&input, &caller.account.region(), state.limits.listcontacts)?;
    if sources.is_empty() {
        let campaign = state.store.create_campaign(&caller.account.id, fields).await?;
        return Ok(ok(campaign));
    }
    let (campaign, _, summary) = add_sources(&state, &caller.account, Target::New(fields), sources).await?;
    Ok(Json(json!({"r": 0, "msg": "Success", "data": campaign, "summary": summary})).into_response())
}

/// GET /v1/campaign?page=&limit=&name= -> data.rows, data.totalCount, data.totalPages.
async fn list(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let p = page_of(&f)?;
    let name = f.string("name")?;
    let found = state.store.campaigns(&caller.account.id, name.as_deref(), p).await?;
    Ok(page(found.rows, found.total, p))
}

/// GET /v1/campaign/{id}.
async fn show(State(state): State<AppState>, caller: Caller, PathId(id): PathId) -> ApiResult<Response> {
    let campaign = state.store.campaign(&caller.account.id, &id).await?;
    campaign.map(ok).ok_or_else(|| ApiError::campaign_not_found(&id))
}

/// PUT /v1/campaign/{id}: the fields sent replace the stored ones.
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    input: Input,
) -> ApiResult<Response> {
    let fields = campaign_fields(&input.fields())?.check().map_err(ApiError::invalid)?;
    let campaign = state.store.update_campaign(&caller.account.id, &id, fields).await?;
    campaign.map(ok).ok_or_else(|| ApiError::campaign_not_found(&id))
}

/// DELETE /v1/campaign/{id}: the campaign and all its customers.
async fn remove(State(state): State<AppState>, caller: Caller, PathId(id): PathId) -> ApiResult<Response> {
    if state.store.delete_campaign(&caller.account.id, &id).await? {
        Ok(done())
    } else {
        Err(ApiError::campaign_not_found(&id))
    }
}
