//! Who works which campaign (CONTRACT §9.2): assignments of agents and groups, the
//! campaign an agent performs, quotas, and the running campaigns an agent may work.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde_json::json;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, ok_json, page, page_of};
use super::input::{Fields, Input, PathId};
use crate::domain::agent::Quota;
use crate::domain::ids::{AgentId, CampaignId, GroupId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/campagent", get(list).post(assign))
        .route("/v1/campagent/{id}", delete(unassign))
        .route("/v1/campagent/setperform", post(set_perform))
        .route("/v1/campagent/removeperform", post(remove_perform))
        .route("/v1/campagent/setquota", post(set_quota))
        .route("/v1/campaign/findcampaignrunning", post(running))
}

fn user(f: &Fields<'_>) -> ApiResult<String> {
    f.required_string("stringee_user_id")
}

/// POST /v1/campagent {campaign, agent:[ids], group:[ids]} (CONTRACT §9.2): assigns
/// agents and the agents of groups; those assigned already are skipped.
async fn assign(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let campaign = f.required_id("campaign", CampaignId::parse)?;
    let agents = f.ids("agent", AgentId::parse)?;
    let groups = f.ids("group", GroupId::parse)?;
    if agents.is_empty() && groups.is_empty() {
        return Err(ApiError::missing("agent or group"));
    }
    let made = state.store.assign(caller.account_id(), campaign, agents, groups).await?;
    Ok(ok_json(json!({"r": 0, "msg": "Success", "data": made})))
}

/// GET /v1/campagent?campaign=&agent=&page=&limit= (CONTRACT §9.2).
async fn list(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let p = f.page()?;
    let campaign = f.id("campaign", CampaignId::parse)?;
    let agent = f.id("agent", AgentId::parse)?;
    let found = state.store.assignments(caller.account_id(), campaign, agent, p).await?;
    Ok(page(found.rows, found.total, p))
}

/// DELETE /v1/campagent/{id} (CONTRACT §9.2).
async fn unassign(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let id: i64 =
        id.parse(|s| crate::domain::parse_integer(s).ok_or_else(|| format!("assignment id '{s}' must be an integer")))?;
    if !state.store.unassign(caller.account_id(), id).await? {
        return Err(ApiError::not_found(format!("assignment {id} not found")));
    }
    Ok(ok_json(json!({"r": 0, "msg": "Success"})))
}

/// POST /v1/campagent/setperform {campaign, stringee_user_id} (CONTRACT §9.2).
async fn set_perform(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let campaign = f.required_id("campaign", CampaignId::parse)?;
    state.store.set_perform(caller.account_id(), campaign, user(&f)?).await?;
    Ok(ok_json(json!({"r": 0, "msg": "Success"})))
}

/// POST /v1/campagent/removeperform {stringee_user_id} (CONTRACT §9.2).
async fn remove_perform(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    state.store.remove_perform(caller.account_id(), user(&input.fields())?).await?;
    Ok(ok_json(json!({"r": 0, "msg": "Success"})))
}

/// POST /v1/campagent/setquota {agent_id, campaign, quota_type, quota_call_out} (CONTRACT §9.2).
async fn set_quota(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let agent = f.required_id("agent_id", AgentId::parse)?;
    let campaign = f.required_id("campaign", CampaignId::parse)?;
    let quota_type = f.int("quota_type")?.ok_or_else(|| ApiError::missing("quota_type"))?;
    let quota_call_out = f.int("quota_call_out")?.ok_or_else(|| ApiError::missing("quota_call_out"))?;
    if !(0..=1).contains(&quota_type) {
        return Err(ApiError::invalid("quota_type must be 1 (calls a day) or 0 (no quota)"));
    }
    if quota_call_out < 0 {
        return Err(ApiError::invalid("quota_call_out must not be negative"));
    }
    let quota = Quota { quota_type, quota_call_out };
    state.store.set_quota(caller.account_id(), campaign, agent, quota).await?;
    Ok(ok_json(json!({"r": 0, "msg": "Success", "data": {"quota_type": quota_type, "quota_call_out": quota_call_out}})))
}

/// POST /v1/campaign/findcampaignrunning {stringee_user_id, name?} (CONTRACT §9.2):
/// the running campaigns the agent works, the one it performs first.
async fn running(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let p = f.page()?;
    let name = f.string("name")?.filter(|n| !n.trim().is_empty());
    let found = state.store.running_campaigns(caller.account_id(), user(&f)?, name).await?;
    Ok(page_of(super::team::many(&state, &caller, found).await?, p))
}
