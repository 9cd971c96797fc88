//! Campaigns as the API shows them (CONTRACT §9.1): their fields, with `agent` and
//! `group`, the ids of the agents and groups assigned to each themselves (the
//! `/v1/campagent` rows of type 1 and 2, in the order assigned). Shared by the
//! campaign endpoints and findcampaignrunning.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use crate::domain::agent::Assignment;
use crate::domain::campaign::Campaign;
use crate::domain::ids::CampaignId;
use crate::domain::page::Page;

/// The assignments of one campaign, or of every campaign of the account.
pub async fn assignments(
    state: &AppState,
    caller: &Caller,
    campaign: Option<&CampaignId>,
) -> ApiResult<Vec<Assignment>> {
    let mut rows = Vec::new();
    for number in 1.. {
        let p = Page { page: number, limit: 1000 };
        let found = state.store.assignments(caller.account_id(), campaign.cloned(), None, p).await?;
        let more = found.rows.len() == 1000;
        rows.extend(found.rows);
        if !more {
            break;
        }
    }
    Ok(rows)
}

fn with(campaign: Campaign, assigned: &[&Assignment]) -> ApiResult<Value> {
    let mut shown = serde_json::to_value(campaign.shown()).map_err(ApiError::internal)?;
    shown["agent"] = json!(assigned.iter().filter_map(|a| a.agent_id.as_deref()).collect::<Vec<_>>());
    shown["group"] = json!(assigned.iter().filter_map(|a| a.group_id.as_deref()).collect::<Vec<_>>());
    Ok(shown)
}

/// One campaign as shown.
pub async fn one(state: &AppState, caller: &Caller, campaign: Campaign) -> ApiResult<Value> {
    let assigned = assignments(state, caller, Some(&CampaignId::trusted(&campaign.id))).await?;
    with(campaign, &assigned.iter().collect::<Vec<_>>())
}

/// Campaigns as shown, from one read of the account's assignments.
pub async fn many(state: &AppState, caller: &Caller, campaigns: Vec<Campaign>) -> ApiResult<Vec<Value>> {
    if campaigns.is_empty() {
        return Ok(Vec::new());
    }
    let all = assignments(state, caller, None).await?;
    let mut by_campaign: HashMap<&str, Vec<&Assignment>> = HashMap::new();
    for a in &all {
        by_campaign.entry(a.campaign_id.as_str()).or_default().push(a);
    }
    campaigns
        .into_iter()
        .map(|c| {
            let assigned = by_campaign.get(c.id.as_str()).cloned().unwrap_or_default();
            with(c, &assigned)
        })
        .collect()
}
