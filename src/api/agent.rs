//! Agents, groups and group members (CONTRACT §9.2), in the reference's shapes.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, ok_json};
use super::input::{Fields, Input, PathId};
use crate::domain::account::parse_name;
use crate::domain::agent::AgentDraft;
use crate::domain::ids::{AgentId, GroupId};
use crate::domain::page::Page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/agent", get(list_agents).post(create_agent))
        .route("/v1/agent/{id}", get(show_agent).put(update_agent).delete(delete_agent))
        .route("/v1/group", get(list_groups).post(create_group))
        .route("/v1/group/{id}", get(show_group).put(update_group).delete(delete_group))
        .route("/v1/manage-agents-in-group", get(list_members).post(add_member).delete(remove_member))
}

/// `{"r":0,"msg":m,"message":m}` plus the reference's own keys.
fn said(message: &str, extra: serde_json::Value) -> Response {
    let mut body = json!({"r": 0, "msg": message, "message": message});
    if let serde_json::Value::Object(extra) = extra {
        body.as_object_mut().expect("an object").extend(extra);
    }
    ok_json(body)
}

fn agent_draft(f: &Fields<'_>) -> ApiResult<AgentDraft> {
    AgentDraft {
        name: f.string("name")?,
        stringee_user_id: f.string("stringee_user_id")?,
        manual_status: f.string("manual_status")?,
        routing_type: f.int("routing_type")?,
        phone_number: f.string("phone_number")?,
    }
    .check()
    .map_err(ApiError::invalid)
}

fn agent_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("agent '{id}' not found"))
}

fn group_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("group '{id}' not found"))
}

/// A page in the reference's agent and group lists: `currentPage`, `limit`, and the
/// total as a string under its own name.
fn reference_page(total_key: &str, total: i64, p: Page, rows_key: &str, rows: serde_json::Value) -> serde_json::Value {
    json!({
        total_key: total.to_string(),
        "totalPages": p.total_pages(total),
        "currentPage": p.page,
        "limit": p.limit,
        rows_key: rows,
    })
}

/// POST /v1/agent (CONTRACT §9.2) -> `agentID` (`AG` + 6).
async fn create_agent(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    f.required_string("name")?;
    f.required_string("stringee_user_id")?;
    let agent = state.store.create_agent(caller.account_id(), agent_draft(&f)?).await?;
    Ok(said("Create agent success", json!({"agentID": agent.id})))
}

/// GET /v1/agent?page=&limit=&stringee_user_id= (CONTRACT §9.2).
async fn list_agents(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let p = f.page()?;
    let user = f.string("stringee_user_id")?.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
    let found = state.store.agents(caller.account_id(), user, p).await?;
    let data = reference_page("totalAgents", found.total, p, "agents", json!(found.rows));
    Ok(said("Load agent(s) success", json!({"data": data})))
}

/// GET /v1/agent/{id} (CONTRACT §9.2).
async fn show_agent(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let id = id.parse(AgentId::parse)?;
    let agent = state.store.agent(caller.account_id(), id.clone()).await?.ok_or_else(|| agent_not_found(&id))?;
    Ok(said("Load agent success", json!({"data": agent})))
}

/// PUT /v1/agent/{id} (CONTRACT §9.2): any of the create fields.
async fn update_agent(State(state): State<AppState>, caller: Caller, id: PathId, input: Input) -> ApiResult<Response> {
    let id = id.parse(AgentId::parse)?;
    let draft = agent_draft(&input.fields())?;
    state.store.update_agent(caller.account_id(), id.clone(), draft).await?.ok_or_else(|| agent_not_found(&id))?;
    Ok(said("Update agent success", json!({})))
}

/// DELETE /v1/agent/{id} (CONTRACT §9.2): with its memberships and assignments.
async fn delete_agent(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let id = id.parse(AgentId::parse)?;
    if !state.store.delete_agent(caller.account_id(), id.clone()).await? {
        return Err(agent_not_found(&id));
    }
    Ok(said("Delete agent success", json!({})))
}

fn group_name(f: &Fields<'_>) -> ApiResult<String> {
    parse_name("name", &f.required_string("name")?).map_err(ApiError::invalid)
}

/// POST /v1/group {name} (CONTRACT §9.2) -> `groupID` (`GR` + 6).
async fn create_group(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let group = state.store.create_group(caller.account_id(), group_name(&input.fields())?).await?;
    Ok(said("Create group success", json!({"groupID": group.id})))
}

/// GET /v1/group?page=&limit= (CONTRACT §9.2).
async fn list_groups(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let p = input.fields().page()?;
    let found = state.store.groups(caller.account_id(), p).await?;
    let data = reference_page("totalGroups", found.total, p, "groups", json!(found.rows));
    Ok(said("Load group(s) success", json!({"data": data})))
}

/// GET /v1/group/{id}.
async fn show_group(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let id = id.parse(GroupId::parse)?;
    let group = state.store.group(caller.account_id(), id.clone()).await?.ok_or_else(|| group_not_found(&id))?;
    Ok(said("Load group success", json!({"data": group})))
}

/// PUT /v1/group/{id} {name} (CONTRACT §9.2).
async fn update_group(State(state): State<AppState>, caller: Caller, id: PathId, input: Input) -> ApiResult<Response> {
    let id = id.parse(GroupId::parse)?;
    let name = group_name(&input.fields())?;
    state.store.rename_group(caller.account_id(), id.clone(), name).await?.ok_or_else(|| group_not_found(&id))?;
    Ok(said("Update group success", json!({})))
}

/// DELETE /v1/group/{id} (CONTRACT §9.2): with its memberships and assignments.
async fn delete_group(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let id = id.parse(GroupId::parse)?;
    if !state.store.delete_group(caller.account_id(), id.clone()).await? {
        return Err(group_not_found(&id));
    }
    Ok(said("Delete group success", json!({})))
}

fn member_ids(f: &Fields<'_>) -> ApiResult<(AgentId, GroupId)> {
    Ok((f.required_id("agent_id", AgentId::parse)?, f.required_id("group_id", GroupId::parse)?))
}

/// POST /v1/manage-agents-in-group {agent_id, group_id} (CONTRACT §9.2).
async fn add_member(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let (agent, group) = member_ids(&input.fields())?;
    let m = state.store.add_member(caller.account_id(), agent, group).await?;
    Ok(said("Add agent to Group success", json!({"agentID": m.agent_id, "groupID": m.group_id})))
}

/// GET /v1/manage-agents-in-group?group=&page=&limit= (CONTRACT §9.2).
async fn list_members(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let p = f.page()?;
    let group = f.required_id("group", GroupId::parse)?;
    let found = state.store.members(caller.account_id(), group, p).await?;
    let data = reference_page("totalCount", found.total, p, "groupAgents", json!(found.rows));
    Ok(said("Load agent(s) in group success", json!({"data": data})))
}

/// DELETE /v1/manage-agents-in-group with a body {agent_id, group_id} (CONTRACT §9.2).
async fn remove_member(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let (agent, group) = member_ids(&input.fields())?;
    state.store.remove_member(caller.account_id(), agent, group).await?;
    Ok(said("Remove agent from Group success", json!({})))
}
