//! Campaigns: a named list of customers to call, with its dialling settings.

use serde::Serialize;

use super::account::parse_name;

/// The most calls one customer gets, when a campaign names none (0 counts as 1).
pub const DEFAULT_MAX_CALL_RETRY: i64 = 3;
/// Minutes between two calls to one customer, when a campaign names none.
pub const DEFAULT_TIME_BETWEEN_TWO_CALL: i64 = 30;

/// A campaign's lifecycle (CONTRACT §9.1).
pub mod status {
    pub const NEW: i64 = 0;
    pub const APPROVED: i64 = 1;
    pub const RUNNING: i64 = 2;
    pub const PAUSED: i64 = 3;
    pub const COMPLETED: i64 = 4;

    pub fn name(status: i64) -> &'static str {
        match status {
            NEW => "new",
            APPROVED => "approved",
            RUNNING => "running",
            PAUSED => "paused",
            _ => "completed",
        }
    }
}

/// A lifecycle action: `POST /v1/campaign/{id}/{approve,start,pause,complete}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Approve,
    Start,
    Pause,
    Complete,
}

impl Action {
    pub fn parse(name: &str) -> Option<Action> {
        match name {
            "approve" => Some(Action::Approve),
            "start" => Some(Action::Start),
            "pause" => Some(Action::Pause),
            "complete" => Some(Action::Complete),
            _ => None,
        }
    }

    /// The status this action moves `from` to, or why it cannot (r=7).
    pub fn apply(self, id: &str, from: i64) -> Result<i64, String> {
        let (allowed, to, needs): (&[i64], i64, &str) = match self {
            Action::Approve => (&[status::NEW], status::APPROVED, "new"),
            Action::Start => (&[status::APPROVED, status::PAUSED], status::RUNNING, "approved or paused"),
            Action::Pause => (&[status::RUNNING], status::PAUSED, "running"),
            Action::Complete => {
                (&[status::NEW, status::APPROVED, status::RUNNING, status::PAUSED], status::COMPLETED, "not completed")
            }
        };
        if allowed.contains(&from) {
            Ok(to)
        } else {
            Err(format!(
                "campaign {id} is {}; {} needs it {needs}",
                status::name(from),
                match self {
                    Action::Approve => "approve",
                    Action::Start => "start",
                    Action::Pause => "pause",
                    Action::Complete => "complete",
                }
            ))
        }
    }
}

/// A per-outcome retry rule: the delay replaces `time_between_two_call` for that
/// outcome, and `max_attempts` caps the customer's calls that ended with it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RetryRule {
    pub outcome: String,
    pub delay_seconds: i64,
    /// 0: no cap of its own.
    #[serde(default)]
    pub max_attempts: i64,
}

/// The outcomes a retry rule may name: those after which the customer is called again.
pub const RETRYABLE_OUTCOMES: &[&str] = &["busy", "no_answer", "failed", "error"];

/// The calling settings of a campaign (CONTRACT §9.1), stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Calling {
    /// Dialer pacing, stored and returned as sent, not acted on.
    pub auto_dialer_type: serde_json::Value,
    #[serde(rename = "type")]
    pub dialer_type: serde_json::Value,
    pub preview_time: serde_json::Value,
    pub max_abandon_rate: serde_json::Value,
    pub wait_greeting: serde_json::Value,
    pub max_waiting_time: serde_json::Value,
    /// 1: calls a day (the only type); 0 with `quota_call_out` 0: no quota.
    pub quota_type: i64,
    pub quota_call_out: i64,
    /// Days a "do not call back" lasts; 0: for ever.
    pub time_do_not_call: i64,
    /// The callable-hours set; `None`: any hour.
    pub businesshour: Option<i64>,
    pub retry_rules: Vec<RetryRule>,
    /// Calls to one phone in 24 hours across the account's campaigns; 0: no cap.
    pub max_calls_per_phone_24h: i64,
    pub claim_lease_seconds: i64,
    pub callback_grace_seconds: i64,
    /// `care` or `advertising`.
    pub purpose: String,
}

impl Default for Calling {
    fn default() -> Self {
        Calling {
            auto_dialer_type: serde_json::Value::Null,
            dialer_type: serde_json::Value::Null,
            preview_time: serde_json::Value::Null,
            max_abandon_rate: serde_json::Value::Null,
            wait_greeting: serde_json::Value::Null,
            max_waiting_time: serde_json::Value::Null,
            quota_type: 0,
            quota_call_out: 0,
            time_do_not_call: 0,
            businesshour: None,
            retry_rules: Vec::new(),
            max_calls_per_phone_24h: 0,
            claim_lease_seconds: 300,
            callback_grace_seconds: 3600,
            purpose: "care".into(),
        }
    }
}

impl Calling {
    pub fn advertising(&self) -> bool {
        self.purpose == "advertising"
    }

    /// The rule for an outcome, if the campaign has one.
    pub fn rule(&self, outcome: &str) -> Option<&RetryRule> {
        self.retry_rules.iter().find(|r| r.outcome == outcome)
    }
}

/// Calling settings as a request gives them; absent fields are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallingFields {
    pub auto_dialer_type: Option<serde_json::Value>,
    pub dialer_type: Option<serde_json::Value>,
    pub preview_time: Option<serde_json::Value>,
    pub max_abandon_rate: Option<serde_json::Value>,
    pub wait_greeting: Option<serde_json::Value>,
    pub max_waiting_time: Option<serde_json::Value>,
    pub quota_type: Option<i64>,
    pub quota_call_out: Option<i64>,
    pub time_do_not_call: Option<i64>,
    /// `Some(None)` clears the set (an empty value).
    pub businesshour: Option<Option<i64>>,
    pub retry_rules: Option<Vec<RetryRule>>,
    pub max_calls_per_phone_24h: Option<i64>,
    pub claim_lease_seconds: Option<i64>,
    pub callback_grace_seconds: Option<i64>,
    pub purpose: Option<String>,
}

/// The last epoch second a time may name (9999-12-31 23:59:59 UTC): later ones are
/// typing errors, and sums with them must not overflow.
pub const LAST_EPOCH_SECOND: i64 = 253_402_300_799;
/// The longest span, in seconds, a delay or grace may last: ten years.
pub const LONGEST_SPAN_SECONDS: i64 = 10 * 365 * 86_400;

/// Checks that a time or span is at most `max` (in its own unit), naming the field.
pub fn at_most(field: &str, value: Option<i64>, max: i64) -> Result<(), String> {
    match value {
        Some(v) if v > max => Err(format!("{field} must be at most {max}")),
        _ => Ok(()),
    }
}

impl CallingFields {
    /// Checks the values present; the error names the field.
    pub fn check(&self) -> Result<(), String> {
        for (field, value) in [
            ("quota_call_out", self.quota_call_out),
            ("time_do_not_call", self.time_do_not_call),
            ("max_calls_per_phone_24h", self.max_calls_per_phone_24h),
            ("callback_grace_seconds", self.callback_grace_seconds),
        ] {
            if value.is_some_and(|v| v < 0) {
                return Err(format!("{field} must not be negative"));
            }
        }
        at_most("callback_grace_seconds", self.callback_grace_seconds, LONGEST_SPAN_SECONDS)?;
        at_most("time_do_not_call", self.time_do_not_call, LONGEST_SPAN_SECONDS / 86_400)?;
        if let Some(t) = self.quota_type
            && !(0..=1).contains(&t)
        {
            return Err("quota_type must be 1 (calls a day) or 0 (no quota)".into());
        }
        if let Some(lease) = self.claim_lease_seconds
            && !(1..=86_400).contains(&lease)
        {
            return Err("claim_lease_seconds must be between 1 and 86400".into());
        }
        if let Some(purpose) = &self.purpose
            && purpose != "care"
            && purpose != "advertising"
        {
            return Err(format!("purpose must be care or advertising, not '{purpose}'"));
        }
        for (i, rule) in self.retry_rules.iter().flatten().enumerate() {
            if !RETRYABLE_OUTCOMES.contains(&rule.outcome.as_str()) {
                return Err(format!(
                    "retry_rules[{i}].outcome must be one of {}, not '{}'",
                    RETRYABLE_OUTCOMES.join(", "),
                    rule.outcome
                ));
            }
            for (field, value) in [("delay_seconds", rule.delay_seconds), ("max_attempts", rule.max_attempts)] {
                if value < 0 {
                    return Err(format!("retry_rules[{i}].{field} must not be negative"));
                }
            }
            at_most(&format!("retry_rules[{i}].delay_seconds"), Some(rule.delay_seconds), LONGEST_SPAN_SECONDS)?;
        }
        let mut outcomes: Vec<&str> = self.retry_rules.iter().flatten().map(|r| r.outcome.as_str()).collect();
        outcomes.sort_unstable();
        if outcomes.windows(2).any(|w| w[0] == w[1]) {
            return Err("retry_rules names an outcome twice".into());
        }
        Ok(())
    }

    pub fn apply(self, mut c: Calling) -> Calling {
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(v) = self.$field { c.$field = v; })* };
        }
        set!(
            auto_dialer_type,
            dialer_type,
            preview_time,
            max_abandon_rate,
            wait_greeting,
            max_waiting_time,
            quota_type,
            quota_call_out,
            time_do_not_call,
            businesshour,
            retry_rules,
            max_calls_per_phone_24h,
            claim_lease_seconds,
            callback_grace_seconds,
            purpose
        );
        c
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    pub desc1: String,
    pub portal: String,
    /// Epoch milliseconds; 0 when unset.
    pub start_time: i64,
    /// Epoch milliseconds; 0 when unset.
    pub end_time: i64,
    /// The most calls one customer gets; 0 counts as 1.
    pub max_call_retry: i64,
    /// Minutes before a retry.
    pub time_between_two_call: i64,
    /// The number the dialer calls out from.
    pub number: String,
    /// 0 new, 1 approved, 2 running, 3 paused, 4 completed ([`status`]).
    pub status: i64,
    #[serde(flatten)]
    pub calling: Calling,
    pub created: i64,
    pub updated: i64,
}

/// Campaign settings as a request gives them; absent fields are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignFields {
    pub name: Option<String>,
    pub desc1: Option<String>,
    pub portal: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub max_call_retry: Option<i64>,
    pub time_between_two_call: Option<i64>,
    pub number: Option<String>,
    pub calling: CallingFields,
}

impl CampaignFields {
    /// Checks the values present; the error names the field.
    pub fn check(mut self) -> Result<CampaignFields, String> {
        if let Some(name) = &self.name {
            self.name = Some(parse_name("name", name)?);
        }
        for (field, value) in [
            ("start_time", self.start_time),
            ("end_time", self.end_time),
            ("max_call_retry", self.max_call_retry),
            ("time_between_two_call", self.time_between_two_call),
        ] {
            if value.is_some_and(|v| v < 0) {
                return Err(format!("{field} must not be negative"));
            }
        }
        at_most("start_time", self.start_time, LAST_EPOCH_SECOND * 1000 + 999)?;
        at_most("end_time", self.end_time, LAST_EPOCH_SECOND * 1000 + 999)?;
        at_most("time_between_two_call", self.time_between_two_call, LONGEST_SPAN_SECONDS / 60)?;
        if let Some(desc) = &self.desc1
            && desc.chars().count() > 2000
        {
            return Err("desc1 is longer than 2000 characters".into());
        }
        if let Some(number) = &self.number
            && number.chars().count() > 50
        {
            return Err("number is longer than 50 characters".into());
        }
        self.calling.check()?;
        Ok(self)
    }

    /// Applies these fields over an existing campaign (or a blank one for a new campaign).
    pub fn apply(self, mut c: Campaign) -> Result<Campaign, String> {
        let CampaignFields {
            name,
            desc1,
            portal,
            start_time,
            end_time,
            max_call_retry,
            time_between_two_call,
            number,
            calling,
        } = self.check()?;
        // A campaign its end_time has completed stays completed, whatever end_time
        // becomes (CONTRACT §9.1: status is not set by PUT).
        c.status = c.status_at(crate::domain::now_ms());
        c.name = name.unwrap_or(c.name);
        c.desc1 = desc1.unwrap_or(c.desc1);
        c.portal = portal.unwrap_or(c.portal);
        c.start_time = start_time.unwrap_or(c.start_time);
        c.end_time = end_time.unwrap_or(c.end_time);
        c.max_call_retry = max_call_retry.unwrap_or(c.max_call_retry);
        c.time_between_two_call = time_between_two_call.unwrap_or(c.time_between_two_call);
        c.number = number.unwrap_or(c.number);
        c.calling = calling.apply(c.calling);
        if c.end_time != 0 && c.end_time < c.start_time {
            return Err("end_time is before start_time".into());
        }
        Ok(c)
    }
}

impl Campaign {
    /// A new campaign with default settings, before the request's fields are applied.
    pub fn blank(id: String, portal: String, now: i64) -> Campaign {
        Campaign {
            id,
            name: String::new(),
            desc1: String::new(),
            portal,
            start_time: 0,
            end_time: 0,
            max_call_retry: DEFAULT_MAX_CALL_RETRY,
            time_between_two_call: DEFAULT_TIME_BETWEEN_TWO_CALL,
            number: String::new(),
            status: status::NEW,
            calling: Calling::default(),
            created: now,
            updated: now,
        }
    }

    /// The status every answer shows: completed once `end_time` (epoch ms) has passed.
    pub fn status_at(&self, now_ms: i64) -> i64 {
        if self.end_time > 0 && now_ms >= self.end_time { status::COMPLETED } else { self.status }
    }

    /// The campaign as an answer shows it now: completed once `end_time` has passed,
    /// even in the answer to the create or update that set that `end_time`.
    pub fn shown(mut self) -> Campaign {
        self.status = self.status_at(crate::domain::now_ms());
        self
    }

    /// The first whole second at or after `start_time` (epoch ms): a moment given in
    /// seconds before it would still find the campaign not started.
    pub fn start_secs(&self) -> i64 {
        self.start_time.saturating_add(999).div_euclid(1000)
    }

    /// The most calls one customer gets (0 counts as 1).
    pub fn max_calls(&self) -> i64 {
        self.max_call_retry.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_apply_over_defaults() {
        let fields = CampaignFields { name: Some("  Tết  ".into()), max_call_retry: Some(5), ..Default::default() };
        let c = fields.apply(Campaign::blank("CAAAAAAA".into(), "pt_x".into(), 7)).unwrap();
        assert_eq!(c.name, "Tết");
        assert_eq!(c.max_call_retry, 5);
        assert_eq!(c.time_between_two_call, DEFAULT_TIME_BETWEEN_TWO_CALL);
    }

    #[test]
    fn bad_values_name_their_field() {
        let blank = || Campaign::blank("CA".into(), "pt".into(), 0);
        let neg = CampaignFields { max_call_retry: Some(-1), ..Default::default() };
        assert_eq!(neg.apply(blank()).unwrap_err(), "max_call_retry must not be negative");
        let empty = CampaignFields { name: Some(" ".into()), ..Default::default() };
        assert_eq!(empty.apply(blank()).unwrap_err(), "name must not be empty");
        let order = CampaignFields { start_time: Some(10), end_time: Some(5), ..Default::default() };
        assert_eq!(order.apply(blank()).unwrap_err(), "end_time is before start_time");
    }
}
