//! Working a campaign's list (CONTRACT §9.3–§9.5): hand-out, results, release,
//! stop and resume, and why a customer is or is not callable and what happened to it.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, customer_page, ok, ok_json, page_of, stored_json};
use super::input::{Fields, Input, PathId};
use crate::calling::model::{CallResult, Receive};
use crate::calling::rules::{Outcome, Scope};
use crate::domain::ids::{CampaignId, ClaimId};
use crate::domain::page::{MAX_LIMIT, Page};
use crate::domain::phone::Region;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/customcampaign/receivecustomer", post(receive))
        .route("/v1/customcampaign/findcustomermanager", post(agent_customers))
        .route("/v1/customcampaign/{id}/result", post(result))
        .route("/v1/customcampaign/{id}/release", post(release))
        .route("/v1/customcampaign/{id}/stop", post(stop))
        .route("/v1/customcampaign/{id}/resume", post(resume))
        .route("/v1/customcampaign/{id}/explain", get(explain))
        .route("/v1/customcampaign/{id}/history", get(history))
}

/// findcustomermanager's page size, as the reference's.
const AGENT_PAGE: i64 = 10;

fn user(f: &Fields<'_>) -> ApiResult<String> {
    f.required_string("stringee_user_id")
}

/// POST /v1/customcampaign/receivecustomer {campaign, stringee_user_id} (CONTRACT §9.3):
/// the next callable customer with a claim on it, or why there is none.
async fn receive(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let campaign = f.required_id("campaign", CampaignId::parse)?;
    let user = user(&f)?;
    let region = caller.account.region.clone();
    match state.store.receive(caller.account_id(), region, campaign, user).await? {
        Receive::Handed(handout) => Ok(ok(handout)),
        Receive::Nobody(nobody) => Ok(ok_json(json!({
            "r": 0,
            "msg": "Success",
            "data": null,
            "reason": nobody.reason,
            "next_eligible_at": nobody.next_eligible_at,
        }))),
    }
}

/// POST /v1/customcampaign/findcustomermanager {campaign, stringee_user_id, page}
/// (CONTRACT §9.3): the agent's own callbacks, then its live claims, ten a page.
async fn agent_customers(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let campaign = f.required_id("campaign", CampaignId::parse)?;
    let user = user(&f)?;
    let page = f.page_number()?.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::invalid("page must be 1 or more"));
    }
    let (rows, total) = state.store.agent_customers(caller.account_id(), campaign, user, page).await?;
    Ok(customer_page(rows, total, (total + AGENT_PAGE - 1) / AGENT_PAGE))
}

/// The result a request reports, checked (r=1 for a bad value, r=2 for a missing one).
fn call_result(f: &Fields<'_>, claim: &ClaimId, region: &Region) -> ApiResult<CallResult> {
    let outcome = Outcome::parse(&f.required_string("outcome")?).map_err(ApiError::invalid)?;
    let callback_time = f.int("callback_time")?;
    if outcome == Outcome::Callback && callback_time.is_none() {
        return Err(ApiError::missing("callback_time"));
    }
    if callback_time.is_some_and(|t| t < 0) {
        return Err(ApiError::invalid("callback_time must be an epoch second, not negative"));
    }
    crate::domain::campaign::at_most("callback_time", callback_time, crate::domain::campaign::LAST_EPOCH_SECOND)
        .map_err(ApiError::invalid)?;
    let callback_scope = Scope::parse(f.string("callback_scope")?.as_deref()).map_err(ApiError::invalid)?;
    let phone = f.phone("phone", region)?;
    let duration = f.int("duration")?;
    if duration.is_some_and(|d| d < 0) {
        return Err(ApiError::invalid("duration must not be negative"));
    }
    Ok(CallResult {
        claim_id: claim.to_string(),
        outcome,
        phone,
        call_id: f.string("call_id")?,
        duration,
        callback_time: (outcome == Outcome::Callback).then_some(callback_time).flatten(),
        callback_scope,
        note: f.string("note")?,
    })
}

/// POST /v1/customcampaign/{id}/result {claim_id, outcome, …} (CONTRACT §9.4): the
/// customer after the call. The same claim sent again answers its first accepted
/// answer, whatever it carries.
async fn result(State(state): State<AppState>, caller: Caller, id: PathId, input: Input) -> ApiResult<Response> {
    let customer = id.customer()?;
    let f = input.fields();
    let claim = f.required_id("claim_id", ClaimId::parse)?;
    let reported = match call_result(&f, &claim, &caller.account.region()) {
        Ok(reported) => reported,
        Err(refused) => {
            return match state.store.replayed_result(caller.account_id(), customer, claim).await? {
                Some(answer) => Ok(stored_json(answer)),
                None => Err(refused),
            };
        }
    };
    let (answer, _) = state.store.result(caller.account_id(), customer, reported).await?;
    Ok(stored_json(answer))
}

/// POST /v1/customcampaign/{id}/release {claim_id} (CONTRACT §9.3): the customer
/// back as it was, no call counted.
async fn release(State(state): State<AppState>, caller: Caller, id: PathId, input: Input) -> ApiResult<Response> {
    let customer = id.customer()?;
    let claim = input.fields().required_id("claim_id", ClaimId::parse)?;
    Ok(ok(state.store.release(caller.account_id(), customer, claim).await?))
}

/// POST /v1/customcampaign/{id}/stop (CONTRACT §9.4): never handed out until resumed.
async fn stop(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let customer = id.customer()?;
    Ok(ok(state.store.stop_customer(caller.account_id(), caller.key_sid.clone(), customer).await?))
}

/// POST /v1/customcampaign/{id}/resume (CONTRACT §9.4): the status it had before /stop.
async fn resume(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let customer = id.customer()?;
    Ok(ok(state.store.resume_customer(caller.account_id(), caller.key_sid.clone(), customer).await?))
}

/// GET /v1/customcampaign/{id}/explain[?stringee_user_id=] (CONTRACT §9.5).
async fn explain(State(state): State<AppState>, caller: Caller, id: PathId, input: Input) -> ApiResult<Response> {
    let customer = id.customer()?;
    let user = input.fields().string("stringee_user_id")?.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
    let region = caller.account.region.clone();
    Ok(ok(state.store.explain(caller.account_id(), region, customer, user).await?))
}

/// GET /v1/customcampaign/{id}/history?page=&limit= (CONTRACT §9.5): the events,
/// oldest first, kept after the customer is deleted; 1000 a page unless `limit`
/// says otherwise, so that one request shows a customer's whole story.
async fn history(State(state): State<AppState>, caller: Caller, id: PathId, input: Input) -> ApiResult<Response> {
    let customer = id.customer()?;
    let f = input.fields();
    let p =
        Page::parse(f.page_number()?, Some(f.int_or_huge("limit")?.unwrap_or(MAX_LIMIT))).map_err(ApiError::invalid)?;
    let rows = state.store.history(caller.account_id(), customer).await?;
    Ok(page_of(rows, p))
}
