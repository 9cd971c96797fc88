//! Campaigns (CONTRACT §5): create, list, get, update, delete.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, Code, done, ok, ok_json, page};
use super::input::{Fields, Input, PathId};
use crate::domain::campaign::{Action, CallingFields, CampaignFields, RetryRule};
use crate::domain::ids::{AgentId, CampaignId, GroupId, PortalId};
use crate::store::{Target, Team};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/campaign", get(list).post(create))
        .route("/v1/campaign/{id}", get(show).put(update).delete(remove))
        .route("/v1/campaign/{id}/approve", post(approve))
        .route("/v1/campaign/{id}/start", post(start))
        .route("/v1/campaign/{id}/pause", post(pause))
        .route("/v1/campaign/{id}/complete", post(complete))
        .route("/v1/campaign/{id}/stats", get(stats))
}

/// The reference's campaign fields, each optional here.
fn campaign_fields(f: &Fields<'_>) -> ApiResult<CampaignFields> {
    Ok(CampaignFields {
        name: f.string("name")?,
        desc1: f.string("desc1")?,
        portal: f.id("portal", PortalId::parse)?.map(PortalId::into_string),
        start_time: f.int("start_time")?,
        end_time: f.int("end_time")?,
        max_call_retry: f.int("max_call_retry")?,
        time_between_two_call: f.int("time_between_two_call")?,
        number: f.string("number")?,
        calling: calling_fields(f)?,
    })
}

/// The calling settings of CONTRACT §9.1: the reference's dialer fields kept as sent.
fn calling_fields(f: &Fields<'_>) -> ApiResult<CallingFields> {
    let kept = |key: &str| f.get(key).cloned();
    let businesshour = match f.get("businesshour") {
        // null, as GET shows "none", clears it too: a GET, edit, PUT round trip works.
        None if f.sent_null("businesshour") => Some(None),
        None => None,
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => Some(None),
        Some(_) => Some(f.int("businesshour")?),
    };
    // A list in every shape a list comes in (numbered entries with gaps or from 1, as
    // PHP sends them, included); one rule sent as an object is a list of one.
    let blank = matches!(f.get("retry_rules"), Some(serde_json::Value::String(s)) if s.trim().is_empty());
    if blank {
        return Err(ApiError::invalid("retry_rules must be a list of objects"));
    }
    let retry_rules = match f.objects("retry_rules")? {
        None => None,
        Some(items) => {
            let mut parsed = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let at = format!("retry_rules[{i}]");
                let map = item.as_object().ok_or_else(|| ApiError::invalid(format!("{at} must be an object")))?;
                let r = f.nested(map, at.clone());
                parsed.push(RetryRule {
                    outcome: r.required_string("outcome")?,
                    delay_seconds: r
                        .int("delay_seconds")?
                        .ok_or_else(|| ApiError::missing(&format!("{at}.delay_seconds")))?,
                    max_attempts: r.int("max_attempts")?.unwrap_or(0),
                });
            }
            Some(parsed)
        }
    };
    Ok(CallingFields {
        auto_dialer_type: kept("auto_dialer_type"),
        dialer_type: kept("type"),
        preview_time: kept("preview_time"),
        max_abandon_rate: kept("max_abandon_rate"),
        wait_greeting: kept("wait_greeting"),
        max_waiting_time: kept("max_waiting_time"),
        quota_type: f.int("quota_type")?,
        quota_call_out: f.int("quota_call_out")?,
        time_do_not_call: f.int("time_do_not_call")?,
        businesshour,
        retry_rules,
        max_calls_per_phone_24h: f.int("max_calls_per_phone_24h")?,
        claim_lease_seconds: f.int("claim_lease_seconds")?,
        callback_grace_seconds: f.int("callback_grace_seconds")?,
        purpose: f.string("purpose")?.map(|p| p.trim().to_string()),
    })
}

/// POST /v1/campaign (CONTRACT §5): `name` required -> data.id (`CA` + 6) and the
/// campaign. With `listcontacts`, `listfilters` or `file`, the campaign and its
/// customers are created together, all or nothing, with the add's `summary`.
async fn create(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    f.required_string("name")?;
    let fields = campaign_fields(&f)?.check().map_err(ApiError::invalid)?;
    let agents = f.ids("agent", AgentId::parse)?;
    let groups = f.ids("group", GroupId::parse)?;
    let sources = super::sources::read(&input, &caller.account.region(), state.limits.listcontacts)?;
    // A file meant for the list but not sent as one (as text, or under another
    // name) is refused as on POST /v1/customcampaign, not dropped unseen.
    let text_file = f.get("file").is_some_and(|v| match v {
        serde_json::Value::Null => false,
        serde_json::Value::String(s) => !s.trim().is_empty(),
        _ => true,
    });
    if sources.file.is_none() && (text_file || !input.uploads.is_empty()) {
        input.required_file()?;
    }
    let account = caller.account_id();
    // The agents and groups named must exist before anything is made (r=4).
    check_team(&state, &caller, &agents, &groups).await?;
    // Made with its end already past, the campaign is completed from the start, and a
    // completed campaign takes no customers (CONTRACT §9.1): said before any id is.
    if !sources.is_empty() && fields.end_time.is_some_and(|end| end > 0 && end <= crate::domain::now_ms()) {
        return Err(ApiError::new(
            Code::Conflict,
            "end_time has passed: the campaign would be completed, and a completed campaign takes no customers",
        ));
    }
    if sources.is_empty() {
        let campaign = state.store.create_campaign(account.clone(), fields).await?;
        assign_new(&state, &caller, &campaign.id, agents, groups).await?;
        return Ok(ok(super::team::one(&state, &caller, campaign).await?));
    }
    let (campaign, summary) = crate::intake::add(
        &state.store,
        state.limits.import(),
        &caller.account,
        &caller.key_sid,
        Target::New(Box::new(fields)),
        sources,
    )
    .await?;
    state.metrics.rows_imported(summary.added);
    assign_new(&state, &caller, &campaign.id, agents, groups).await?;
    let shown = super::team::one(&state, &caller, campaign).await?;
    Ok(ok_json(json!({"r": 0, "msg": "Success", "data": shown, "summary": summary})))
}

/// Assigns `agent[]` and `group[]` of a create to the campaign just made; should
/// that fail (an agent deleted meanwhile), the campaign is removed again so the
/// request leaves nothing behind.
async fn assign_new(
    state: &AppState,
    caller: &Caller,
    campaign: &str,
    agents: Vec<AgentId>,
    groups: Vec<GroupId>,
) -> ApiResult<()> {
    if agents.is_empty() && groups.is_empty() {
        return Ok(());
    }
    let id = CampaignId::trusted(campaign);
    if let Err(e) = state.store.assign(caller.account_id(), id.clone(), agents, groups).await {
        let _ = state.store.delete_campaign(caller.account_id(), None, id).await;
        return Err(e.into());
    }
    Ok(())
}

/// POST /v1/campaign/{id}/{approve,start,pause,complete} (CONTRACT §9.1): the
/// campaign after the move, as GET shows it (its agents and groups too); another
/// move is r=7 naming its status.
async fn lifecycle(state: AppState, caller: Caller, id: PathId, action: Action) -> ApiResult<Response> {
    let id = id.parse(CampaignId::parse)?;
    let campaign = state.store.campaign_action(caller.account_id(), id, action).await?;
    Ok(ok(super::team::one(&state, &caller, campaign).await?))
}

async fn approve(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    lifecycle(state, caller, id, Action::Approve).await
}

async fn start(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    lifecycle(state, caller, id, Action::Start).await
}

async fn pause(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    lifecycle(state, caller, id, Action::Pause).await
}

async fn complete(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    lifecycle(state, caller, id, Action::Complete).await
}

/// GET /v1/campaign/{id}/stats (CONTRACT §9.1).
async fn stats(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let id = id.parse(CampaignId::parse)?;
    Ok(ok(state.store.campaign_stats(caller.account_id(), id).await?))
}

/// GET /v1/campaign?page=&limit=&name= (CONTRACT §5) -> data.rows, totalCount, totalPages.
async fn list(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let p = f.page()?;
    let found = state.store.campaigns(caller.account_id(), f.string("name")?, p).await?;
    Ok(page(super::team::many(&state, &caller, found.rows).await?, found.total, p))
}

/// GET /v1/campaign/{id} (CONTRACT §5).
async fn show(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let id = id.parse(CampaignId::parse)?;
    let campaign = state.store.campaign(caller.account_id(), id.clone()).await?;
    let campaign = campaign.ok_or_else(|| ApiError::campaign_not_found(&id))?;
    Ok(ok(super::team::one(&state, &caller, campaign).await?))
}

/// PUT /v1/campaign/{id} (CONTRACT §5): the fields sent replace the stored ones.
/// `agent[]` or `group[]`, when sent, become the agents or groups assigned to the
/// campaign themselves: those not listed are unassigned, the new ones assigned, in
/// the same transaction as the fields.
async fn update(State(state): State<AppState>, caller: Caller, id: PathId, input: Input) -> ApiResult<Response> {
    let id = id.parse(CampaignId::parse)?;
    let f = input.fields();
    let fields = campaign_fields(&f)?.check().map_err(ApiError::invalid)?;
    let agents = f.strings("agent")?.map(|_| f.ids("agent", AgentId::parse)).transpose()?;
    let groups = f.strings("group")?.map(|_| f.ids("group", GroupId::parse)).transpose()?;
    // The fields and the assignments change in one transaction, or nothing does.
    let team = Team { agents, groups };
    let campaign = state.store.update_campaign(caller.account_id(), id.clone(), fields, team).await?;
    let campaign = campaign.ok_or_else(|| ApiError::campaign_not_found(&id))?;
    Ok(ok(super::team::one(&state, &caller, campaign).await?))
}

/// r=4 for an agent or group of `agent[]` / `group[]` that the account does not have.
async fn check_team(state: &AppState, caller: &Caller, agents: &[AgentId], groups: &[GroupId]) -> ApiResult<()> {
    let account = caller.account_id();
    for agent in agents {
        if state.store.agent(account.clone(), agent.clone()).await?.is_none() {
            return Err(ApiError::not_found(format!("agent '{agent}' not found")));
        }
    }
    for group in groups {
        if state.store.group(account.clone(), group.clone()).await?.is_none() {
            return Err(ApiError::not_found(format!("group '{group}' not found")));
        }
    }
    Ok(())
}

/// DELETE /v1/campaign/{id} (CONTRACT §5): the campaign and all its customers.
async fn remove(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let id = id.parse(CampaignId::parse)?;
    if state.store.delete_campaign(caller.account_id(), Some(caller.key_sid.clone()), id.clone()).await? {
        Ok(done())
    } else {
        Err(ApiError::campaign_not_found(&id))
    }
}
