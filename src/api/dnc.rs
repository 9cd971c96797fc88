//! Do-not-call lists (CONTRACT §10.1): the account's and each campaign's.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, ok, page};
use super::input::{Fields, Input, phone_readings};
use crate::domain::ids::CampaignId;
use crate::domain::page::Page;
use crate::domain::phone;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/dnc", post(add).get(list).delete(remove))
        .route("/v1/dnc/import", post(import))
        .route("/v1/dnc/check", get(check))
}

/// The reason an entry carries when the request gives none.
const DEFAULT_REASON: &str = "manual";

fn reason(f: &Fields<'_>) -> ApiResult<String> {
    Ok(f.string("reason")?.map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).unwrap_or(DEFAULT_REASON.into()))
}

fn phones(f: &Fields<'_>, limit: usize) -> ApiResult<Vec<String>> {
    let raw = f.strings("phones")?.filter(|p| !p.is_empty()).ok_or_else(|| ApiError::missing("phones"))?;
    // Each entry split as a cell is (`0901…; 0902…` is two numbers).
    let raw: Vec<String> = crate::intake::numbers(&raw).into_iter().map(String::from).collect();
    if raw.len() > limit {
        return Err(ApiError::too_large(format!("phones has {} entries; the limit is {limit}", raw.len())));
    }
    Ok(raw)
}

/// Each phone named as a parameter, as the entry it names: its reading in the region,
/// or, written as callsheet shows a stored phone and listed only so, that stored form
/// (`phone::readings`; the entries of such phones read in one lookup); r 1 for one
/// that is no phone either way.
async fn named(
    state: &AppState,
    caller: &Caller,
    campaign: &Option<CampaignId>,
    raw: &[String],
) -> ApiResult<Vec<String>> {
    let region = caller.account.region();
    let read = raw.iter().map(|p| phone_readings(p, &region)).collect::<ApiResult<Vec<_>>>()?;
    let twofold: Vec<String> = read.iter().filter(|r| r.len() > 1).flatten().cloned().collect();
    let listed: std::collections::HashSet<String> = match twofold.is_empty() {
        true => Default::default(),
        false => state
            .store
            .check_dnc(caller.account_id(), campaign.clone(), twofold)
            .await?
            .into_iter()
            .filter(|(_, found)| !found.entries.is_empty())
            .map(|(phone, _)| phone)
            .collect(),
    };
    Ok(read.into_iter().map(|readings| phone::held_reading(readings, |p| listed.contains(p))).collect())
}

/// POST /v1/dnc {phones, campaign?, reason?, expires_at?} -> data: {total, added,
/// skipped, invalid, invalid_phones}.
async fn add(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let raw = phones(&f, state.limits.listcontacts)?;
    let campaign = f.id("campaign", CampaignId::parse)?;
    let expires_at = f.int("expires_at")?;
    if expires_at.is_some_and(|t| t <= 0) {
        return Err(ApiError::invalid("expires_at must be an epoch second after 1970"));
    }
    crate::domain::campaign::at_most("expires_at", expires_at, crate::domain::campaign::LAST_EPOCH_SECOND)
        .map_err(ApiError::invalid)?;
    let added = crate::intake::add_dnc(&state.store, &caller.account, campaign, &raw, reason(&f)?, expires_at).await?;
    Ok(ok(added))
}

/// POST /v1/dnc/import (multipart `file`, `campaign?`, `reason?`): the add's data
/// plus `invalid_rows`.
async fn import(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let campaign = f.id("campaign", CampaignId::parse)?;
    let reason = reason(&f)?;
    let file = input.required_file()?;
    let mut options = super::sources::file_options(&f)?;
    let progress = super::background::wanted(&state, f.get("async"), file.len())?;
    options.progress = progress.clone();
    let (store, limits, account) = (state.store.clone(), state.limits.import(), caller.account.clone());
    let on = campaign.as_ref().map(|c| c.to_string());
    if progress.is_some()
        && let Some(c) = &campaign
        && state.store.campaign(caller.account_id(), c.clone()).await?.is_none()
    {
        return Err(ApiError::campaign_not_found(c));
    }
    if progress.is_some() {
        super::sources::check_sheet(&file, &options, limits).await?;
    }
    let work = async move {
        let imported = crate::intake::import_dnc(&store, limits, &account, campaign, reason, file, options).await?;
        Ok(serde_json::json!({"r": 0, "msg": "Success", "data": imported}))
    };
    super::background::answer(&state, &caller, on, progress, work).await
}

/// GET /v1/dnc?phone=&campaign=&page=&limit=: every entry, or one campaign's.
async fn list(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let p = f.page()?;
    let campaign = f.id("campaign", CampaignId::parse)?;
    let readings = f.phone("phone", &caller.account.region())?;
    // Every scope is listed here: of two readings, the one with entries in the scope asked.
    let mut listed = std::collections::HashSet::new();
    if readings.len() > 1 {
        for reading in &readings {
            let one = Page { page: 1, limit: 1 };
            if state.store.dnc(caller.account_id(), Some(reading.clone()), campaign.clone(), one).await?.total > 0 {
                listed.insert(reading.clone());
            }
        }
    }
    let phone = (!readings.is_empty()).then(|| phone::held_reading(readings, |p| listed.contains(p)));
    let found = state.store.dnc(caller.account_id(), phone, campaign, p).await?;
    Ok(page(found.rows, found.total, p))
}

/// DELETE /v1/dnc {phones, campaign?}: the account's entries, or that campaign's.
async fn remove(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let raw = phones(&f, state.limits.listcontacts)?;
    let campaign = f.id("campaign", CampaignId::parse)?;
    let phones = named(&state, &caller, &campaign, &raw).await?;
    let deleted = state.store.delete_dnc(caller.account_id(), campaign, phones).await?;
    Ok(ok(json!({"deleted": deleted})))
}

/// GET /v1/dnc/check?phones=a,b&campaign= -> data: {phone: {dnc, entries}}.
async fn check(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    // `phones=a,b`, or a list; each entry split as a cell is.
    let raw: Vec<String> = match f.get("phones") {
        Some(Value::String(s)) => phone::numbers_in(s).map(String::from).collect(),
        _ => f
            .strings("phones")?
            .unwrap_or_default()
            .iter()
            .flat_map(|p| phone::numbers_in(p))
            .map(String::from)
            .collect(),
    };
    if raw.is_empty() {
        return Err(ApiError::missing("phones"));
    }
    if raw.len() > state.limits.listcontacts {
        return Err(ApiError::too_large(format!(
            "phones has {} entries; the limit is {}",
            raw.len(),
            state.limits.listcontacts
        )));
    }
    let campaign = f.id("campaign", CampaignId::parse)?;
    let phones = named(&state, &caller, &campaign, &raw).await?;
    let found = state.store.check_dnc(caller.account_id(), campaign, phones).await?;
    let mut data = Map::new();
    for (phone, verdict) in found {
        data.insert(phone, serde_json::to_value(verdict).map_err(ApiError::internal)?);
    }
    Ok(ok(Value::Object(data)))
}
