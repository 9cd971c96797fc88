//! Callable-hours sets (CONTRACT §10.2): the presets and the account's own.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, done, ok, page_of};
use super::input::{Fields, Input, PathId};
use crate::calling::hours::{Hours, HoursView, WindowView};
use crate::store::HoursDraft;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/businesshour", get(list).post(create))
        .route("/v1/businesshour/{id}", get(show).put(update).delete(remove))
}

/// A set as a request sends it, checked (r=1 naming the field, r=2 when missing).
fn draft(f: &Fields<'_>) -> ApiResult<HoursDraft> {
    let name = f.required_string("name")?;
    let timezone = f.required_string("timezone")?;
    let windows = f.objects("windows")?.filter(|w| !w.is_empty()).ok_or_else(|| ApiError::missing("windows"))?;
    let windows: Vec<WindowView> = windows
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let at = format!("windows[{i}]");
            let map = w.as_object().ok_or_else(|| ApiError::invalid(format!("{at} must be an object")))?;
            let w = f.nested(map, at.clone());
            let days = w.list("days")?.ok_or_else(|| ApiError::missing(&format!("{at}.days")))?;
            let days = days
                .iter()
                .map(|d| {
                    d.as_u64()
                        .or_else(|| d.as_str().and_then(crate::domain::parse_integer))
                        .filter(|d| (1..=7).contains(d))
                        .map(|d| d as u8)
                        .ok_or_else(|| {
                            ApiError::invalid(format!("{at}.days must list days from 1 (Monday) to 7 (Sunday)"))
                        })
                })
                .collect::<ApiResult<Vec<u8>>>()?;
            Ok(WindowView { days, start: w.required_string("start")?, end: w.required_string("end")? })
        })
        .collect::<ApiResult<_>>()?;
    let holidays = f.strings("holidays")?.unwrap_or_default();
    let (timezone, windows, holidays) =
        Hours::parse(name.clone(), &timezone, &windows, &holidays).map_err(ApiError::invalid)?;
    Ok(HoursDraft { name, timezone, windows, holidays })
}

fn hours_id(id: PathId) -> ApiResult<i64> {
    id.parse(|s| crate::domain::parse_integer(s).ok_or_else(|| format!("callable-hours id '{s}' must be an integer")))
}

/// POST /v1/businesshour {name, timezone, windows, holidays} -> data.id.
async fn create(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let made = state.store.create_hours(caller.account_id(), draft(&input.fields())?).await?;
    Ok(ok(json!({"id": made.id})))
}

/// GET /v1/businesshour?page=&limit=: the sets, presets first, as sent plus `id`
/// and `preset`.
async fn list(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let p = input.fields().page()?;
    let rows: Vec<HoursView> = state.store.hours_sets(caller.account_id()).await?.iter().map(Hours::view).collect();
    Ok(page_of(rows, p))
}

async fn show(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let id = hours_id(id)?;
    let found = state.store.hours(caller.account_id(), id).await?;
    found.map(|h| ok(h.view())).ok_or_else(|| ApiError::not_found(format!("callable-hours set {id} not found")))
}

/// PUT /v1/businesshour/{id}: the whole set replaced; a preset is r=7.
async fn update(State(state): State<AppState>, caller: Caller, id: PathId, input: Input) -> ApiResult<Response> {
    let id = hours_id(id)?;
    let draft = draft(&input.fields())?;
    Ok(ok(state.store.update_hours(caller.account_id(), id, draft).await?.view()))
}

/// DELETE /v1/businesshour/{id}: r=7 for a preset or a set a campaign uses.
async fn remove(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let id = hours_id(id)?;
    state.store.delete_hours(caller.account_id(), id).await?;
    Ok(done())
}
