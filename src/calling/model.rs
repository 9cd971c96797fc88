//! What the calling endpoints take and answer (CONTRACT §9–§10).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::rules::{Outcome, Scope};
use crate::domain::customer::Customer;

/// A customer handed to an agent: the customer row of CONTRACT §4 and the claim.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Handout {
    #[serde(flatten)]
    pub customer: Customer,
    pub claim_id: String,
    pub phone: String,
    pub lease_expires_at: i64,
}

/// Why nobody could be handed out, and when somebody could be.
#[derive(Debug, Clone, PartialEq)]
pub struct Nobody {
    pub reason: &'static str,
    pub next_eligible_at: Option<i64>,
}

/// `receivecustomer`'s answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Receive {
    Handed(Box<Handout>),
    Nobody(Nobody),
}

/// A call's result as an agent reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallResult {
    pub claim_id: String,
    pub outcome: Outcome,
    /// The phone the result names, as it may be read (`phone::readings`); empty when
    /// the result names none. One of them must be the claim's phone.
    pub phone: Vec<String>,
    pub call_id: Option<String>,
    pub duration: Option<i64>,
    pub callback_time: Option<i64>,
    pub callback_scope: Scope,
    pub note: Option<String>,
}

/// One event of a customer's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    pub at: i64,
    pub event: String,
    pub actor: String,
    pub phone: Option<String>,
    pub outcome: Option<String>,
    pub from_status: Option<i64>,
    pub to_status: Option<i64>,
    pub claim_id: Option<String>,
    /// A result's `call_id`, `duration` and `note` (CONTRACT §9.4): on `result` rows
    /// only, each key there even when the result did not carry it.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallDetail>,
}

/// What a result carried about its call, kept in the history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallDetail {
    pub call_id: Option<String>,
    pub duration: Option<i64>,
    pub note: Option<String>,
}

/// A campaign's figures (`GET /v1/campaign/{id}/stats`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub by_status: BTreeMap<String, i64>,
    pub claimed: i64,
    pub callable_now: i64,
    pub next_eligible_at: Option<i64>,
    /// Some claim of the campaign has outlived its lease without a sweep giving
    /// its customer back: the counts are read again after one.
    #[serde(skip)]
    pub lapsed: bool,
}

/// A do-not-call entry as `GET /v1/dnc` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DncEntry {
    pub phone: String,
    pub scope: &'static str,
    pub campaign: Option<String>,
    pub reason: String,
    pub expires_at: Option<i64>,
    pub created: i64,
}

/// What adding phones to a do-not-call list did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DncAdded {
    pub total: i64,
    pub added: i64,
    pub skipped: i64,
    pub invalid: i64,
    pub invalid_phones: Vec<String>,
}

/// One entry in a check's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DncCheckEntry {
    pub scope: &'static str,
    pub campaign: Option<String>,
    pub reason: String,
    pub expires_at: Option<i64>,
}

/// A phone in a check's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DncCheck {
    pub dnc: bool,
    pub entries: Vec<DncCheckEntry>,
}
