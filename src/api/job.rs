//! Jobs (docs/API.md "Jobs"): GET /v1/job/{id}, and its rejected rows as a file.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::Value;

use super::AppState;
use super::auth::Caller;
use super::download::{self, Format, Value as Cell};
use super::error::{ApiError, ApiResult, Code, ok};
use super::input::{Input, PathId};
use crate::domain::ids::JobId;
use crate::domain::job::Job;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/job/{id}", get(show)).route("/v1/job/{id}/rejected", get(rejected))
}

async fn find(state: &AppState, caller: &Caller, id: PathId) -> ApiResult<Job> {
    let id = id.parse(JobId::parse)?;
    let mut job = state
        .store
        .job(caller.account_id(), id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("job '{id}' not found")))?;
    if job.state == "running"
        && let Some((read, estimate)) = state.jobs.progress(&job.id)
    {
        (job.rows_read, job.rows_estimate) = (read, estimate);
    }
    Ok(job)
}

/// GET /v1/job/{id}: state, progress, and the answer or error once it ended.
async fn show(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    Ok(ok(find(&state, &caller, id).await?))
}

/// The rows a finished job's answer reports as not added.
fn rejected_rows(job: &Job) -> Vec<Value> {
    let Some(result) = &job.result else { return Vec::new() };
    let summary = if result["summary"].is_object() { &result["summary"] } else { &result["data"] };
    summary["invalid_rows"].as_array().cloned().unwrap_or_default()
}

/// GET /v1/job/{id}/rejected?format=csv|xlsx: the rows not added, with their reasons.
async fn rejected(State(state): State<AppState>, caller: Caller, id: PathId, input: Input) -> ApiResult<Response> {
    let format = Format::parse(input.fields().string("format")?.as_deref())?;
    let job = find(&state, &caller, id).await?;
    if job.state == "running" {
        return Err(ApiError::new(Code::Conflict, format!("job '{}' is still running", job.id)));
    }
    let rows: Vec<Vec<Cell>> = rejected_rows(&job)
        .iter()
        .map(|r| {
            vec![
                Cell::Int(r["row"].as_i64().unwrap_or(0)),
                Cell::Text(r["id"].as_str().unwrap_or("").to_string()),
                Cell::Text(r["reason"].as_str().unwrap_or("").to_string()),
            ]
        })
        .collect();
    let mut batches = vec![Vec::new(), rows];
    let name = format!("{}-rejected", job.id);
    download::file(format, &name, &["row", "id", "reason"], move || {
        let next = batches.pop().unwrap_or_default();
        async move { Ok(next) }
    })
    .await
}
