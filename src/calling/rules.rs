//! Who may be called, on which phone, and what a call's outcome makes of a customer
//! (CONTRACT §9.3–§9.5): pure decisions over what the store read.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::campaign::Campaign;

/// Customer statuses (CONTRACT §4).
pub mod status {
    pub const OPENING: i64 = 0;
    pub const FAILED: i64 = 1;
    pub const SUCCESS: i64 = 2;
    pub const ERROR: i64 = 3;
    pub const STOPPED: i64 = 4;
    pub const PROCESSING: i64 = 5;
    pub const CALLBACK: i64 = 6;
    pub const UNSUCCESSFUL: i64 = 7;
    pub const DO_NOT_CALL: i64 = 8;
}

/// Where a customer stands in the hand-out queue (the `due` column).
pub mod queue {
    /// Waiting until `wake_at`.
    pub const WAITING: i64 = 0;
    /// Handed out by id now.
    pub const QUEUED: i64 = 1;
    /// A callback, due at `wake_at`.
    pub const CALLBACK: i64 = 2;
    /// Claimed; the lease ends at `wake_at`.
    pub const CLAIMED: i64 = 3;
    /// Status 1 or 3 with no calls left since `max_call_retry` was lowered: out of
    /// hand-out until it is raised, yet not a finished customer.
    pub const SPENT: i64 = 4;
}

/// How a customer came to status 8.
pub mod dnc_kind {
    pub const NONE: i64 = 0;
    /// `do_not_call_back`: for the campaign's `time_do_not_call` days.
    pub const CALL_BACK_LATER: i64 = 1;
    /// A `dnc_request`, or every phone listed when it was added: for good.
    pub const FOR_GOOD: i64 = 2;
}

/// What a customer row holds that the rules read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomerState {
    pub id: i64,
    pub status: i64,
    pub phones: Vec<String>,
    pub number_call_out: i64,
    pub last_time_make_call: i64,
    pub callback_time: i64,
    /// The `USERONLY` callback's agent (`stringee_user_id`); `None` for `ANYONE`.
    pub callback_owner: Option<String>,
    pub dnc_kind: i64,
    /// When a retry is due (status 1 or 3).
    pub next_call_at: i64,
    pub outcomes: BTreeMap<String, i64>,
    /// Per phone: calls made, and whether it was found to be a wrong number.
    pub phone_stats: BTreeMap<String, (i64, bool)>,
    /// A claim holds it until this moment, when it has one.
    pub lease_until: Option<i64>,
    /// What the customer row of CONTRACT §4 shows besides the calling state.
    pub crm_id: String,
    pub name: String,
    pub source: i64,
    pub insert_time: i64,
}

impl CustomerState {
    pub fn calls_of(&self, phone: &str) -> i64 {
        self.phone_stats.get(phone).map_or(0, |s| s.0)
    }

    pub fn wrong(&self, phone: &str) -> bool {
        self.phone_stats.get(phone).is_some_and(|s| s.1)
    }

    pub fn claimed(&self, now: i64) -> bool {
        self.lease_until.is_some_and(|t| t > now)
    }
}

/// The queue state (`due`, `wake_at`) a customer's status puts it in.
pub fn queue_of(c: &CustomerState, campaign: &Campaign) -> (Option<i64>, i64) {
    use status::*;
    match c.status {
        OPENING => (Some(queue::QUEUED), 0),
        FAILED | ERROR if c.next_call_at > 0 => (Some(queue::WAITING), c.next_call_at),
        FAILED | ERROR => (Some(queue::QUEUED), 0),
        CALLBACK => (Some(queue::CALLBACK), c.callback_time),
        DO_NOT_CALL if c.dnc_kind == dnc_kind::CALL_BACK_LATER && campaign.calling.time_do_not_call > 0 => {
            (Some(queue::WAITING), dnc_ends(c, campaign))
        }
        _ => (None, 0),
    }
}

/// Whether a customer has had every call `max_call_retry` gives it.
pub fn calls_spent(c: &CustomerState, campaign: &Campaign) -> bool {
    c.number_call_out >= campaign.max_calls()
}

/// Whether a waiting customer's clock ends with no calls left, so that it makes the
/// customer callable at no time: a "do not call back" then ends in status 7 (CONTRACT
/// §9.3 rule 3), and a retry whose calls a lowered `max_call_retry` took away leaves
/// the queue when it comes due.
pub fn ends_unsuccessful(c: &CustomerState, campaign: &Campaign) -> bool {
    matches!(c.status, status::DO_NOT_CALL | status::FAILED | status::ERROR) && calls_spent(c, campaign)
}

/// When a "do not call back" of the campaign's current length ends.
pub fn dnc_ends(c: &CustomerState, campaign: &Campaign) -> i64 {
    c.last_time_make_call.saturating_add(campaign.calling.time_do_not_call.saturating_mul(86_400))
}

/// A call's outcome (CONTRACT §9.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Callback,
    Busy,
    NoAnswer,
    Failed,
    Error,
    WrongNumber,
    DoNotCallBack,
    DncRequest,
}

impl Outcome {
    pub const ALL: &'static [(&'static str, Outcome)] = &[
        ("success", Outcome::Success),
        ("callback", Outcome::Callback),
        ("busy", Outcome::Busy),
        ("no_answer", Outcome::NoAnswer),
        ("failed", Outcome::Failed),
        ("error", Outcome::Error),
        ("wrong_number", Outcome::WrongNumber),
        ("do_not_call_back", Outcome::DoNotCallBack),
        ("dnc_request", Outcome::DncRequest),
    ];

    pub fn parse(name: &str) -> Result<Outcome, String> {
        Outcome::ALL.iter().find(|(n, _)| *n == name).map(|(_, o)| *o).ok_or_else(|| {
            let names: Vec<&str> = Outcome::ALL.iter().map(|(n, _)| *n).collect();
            format!("outcome '{name}' is not one of {}", names.join(", "))
        })
    }

    pub fn name(self) -> &'static str {
        Outcome::ALL.iter().find(|(_, o)| *o == self).map_or("", |(n, _)| *n)
    }
}

/// A callback's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    UserOnly,
    Anyone,
}

impl Scope {
    /// `callback_scope` as a result sends it: `USERONLY` (the default) or `ANYONE`.
    pub fn parse(text: Option<&str>) -> Result<Scope, String> {
        match text.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
            None | Some("") | Some("USERONLY") => Ok(Scope::UserOnly),
            Some("ANYONE") => Ok(Scope::Anyone),
            Some(_) => Err(format!("callback_scope must be USERONLY or ANYONE, not '{}'", text.unwrap_or(""))),
        }
    }
}

/// What a result does to the customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub state: CustomerState,
    /// Add the claim's phone to the account's do-not-call list.
    pub list_phone: bool,
}

/// The customer after a call with this outcome on `phone` (CONTRACT §9.4): one call
/// more on the customer and the phone, the status from the table, the retry time.
pub fn apply(
    mut c: CustomerState,
    campaign: &Campaign,
    phone: &str,
    outcome: Outcome,
    callback: Option<(i64, Scope, &str)>,
    now: i64,
) -> Applied {
    use status::*;
    c.number_call_out += 1;
    c.last_time_make_call = now;
    *c.outcomes.entry(outcome.name().to_string()).or_insert(0) += 1;
    c.phone_stats.entry(phone.to_string()).or_insert((0, false)).0 += 1;
    c.lease_until = None;
    let rule = campaign.calling.rule(outcome.name());
    let calls_left = !calls_spent(&c, campaign)
        && rule.is_none_or(|r| r.max_attempts == 0 || c.outcomes[outcome.name()] < r.max_attempts);
    let delay = rule.map_or(campaign.time_between_two_call.saturating_mul(60), |r| r.delay_seconds);
    let retry = |c: &mut CustomerState, st: i64| {
        if calls_left {
            c.status = st;
            // No delay: queued at once, not waiting for a clock to ring.
            c.next_call_at = if delay > 0 { now.saturating_add(delay) } else { 0 };
        } else {
            c.status = UNSUCCESSFUL;
        }
    };
    let mut list_phone = false;
    match outcome {
        Outcome::Success => c.status = SUCCESS,
        Outcome::Callback => {
            let (at, scope, user) = callback.unwrap_or((now, Scope::UserOnly, ""));
            c.status = CALLBACK;
            c.callback_time = at;
            c.callback_owner = (scope == Scope::UserOnly).then(|| user.to_string());
        }
        Outcome::Busy | Outcome::NoAnswer | Outcome::Failed => retry(&mut c, FAILED),
        Outcome::Error => retry(&mut c, ERROR),
        Outcome::WrongNumber => {
            c.phone_stats.entry(phone.to_string()).or_insert((0, false)).1 = true;
            let another = c.phones.iter().any(|p| !c.wrong(p));
            if another {
                retry(&mut c, ERROR);
            } else {
                c.status = UNSUCCESSFUL;
            }
        }
        Outcome::DoNotCallBack => {
            c.status = DO_NOT_CALL;
            c.dnc_kind = dnc_kind::CALL_BACK_LATER;
        }
        Outcome::DncRequest => {
            c.status = DO_NOT_CALL;
            c.dnc_kind = dnc_kind::FOR_GOOD;
            list_phone = true;
        }
    }
    if c.status != CALLBACK {
        // The callback, if it was one, is used: its time and owner go.
        c.callback_time = 0;
        c.callback_owner = None;
    }
    Applied { state: c, list_phone }
}

/// What blocks one phone now, as the store found it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PhoneFacts {
    pub phone: String,
    /// An account entry in force, and when it ends (`None`: for ever).
    pub dnc_account: Option<Option<i64>>,
    pub dnc_campaign: Option<Option<i64>>,
    pub wrong: bool,
    /// Inside the callable hours now; and when they next open when not.
    pub open: bool,
    pub opens_at: Option<i64>,
    /// At a 24-hour cap now; and when the oldest call in the window leaves it.
    pub capped: bool,
    pub cap_ends: Option<i64>,
    /// A live claim in the account holds the phone, until this moment.
    pub held_until: Option<i64>,
    pub calls: i64,
}

impl PhoneFacts {
    pub fn reasons(&self) -> Vec<&'static str> {
        let mut r = Vec::new();
        if self.dnc_account.is_some() {
            r.push("dnc_account");
        }
        if self.dnc_campaign.is_some() {
            r.push("dnc_campaign");
        }
        if self.wrong {
            r.push("wrong_number");
        }
        if !self.open {
            r.push("outside_hours");
        }
        if self.capped {
            r.push("cap_24h");
        }
        if self.held_until.is_some() {
            r.push("phone_claimed");
        }
        r
    }

    pub fn callable(&self) -> bool {
        self.reasons().is_empty()
    }

    /// When this phone could next be callable, if some clock would do it.
    pub fn unblocks_at(&self) -> Option<i64> {
        if self.wrong {
            return None;
        }
        let mut at: Option<i64> = None;
        let mut later = |t: Option<i64>| -> bool {
            match t {
                Some(t) => {
                    at = Some(at.map_or(t, |a| a.max(t)));
                    true
                }
                None => false,
            }
        };
        for entry in [self.dnc_account, self.dnc_campaign].into_iter().flatten() {
            if !later(entry) {
                return None;
            }
        }
        if !self.open && !later(self.opens_at) {
            return None;
        }
        if self.capped && !later(self.cap_ends) {
            return None;
        }
        if let Some(t) = self.held_until {
            later(Some(t));
        }
        at
    }

    /// Blocked by nothing but the hours.
    pub fn only_hours(&self) -> bool {
        !self.open
            && self.dnc_account.is_none()
            && self.dnc_campaign.is_none()
            && !self.wrong
            && !self.capped
            && self.held_until.is_none()
    }
}

/// The soonest from `at` on that one of a customer's phones, judged at `at`, is
/// callable: `at` itself when one is, else when the first unblocks; `None` when no
/// clock would unblock any.
pub fn phones_open_at(phones: &[PhoneFacts], at: i64) -> Option<i64> {
    match phones.iter().any(PhoneFacts::callable) {
        true => Some(at),
        false => phones.iter().filter_map(PhoneFacts::unblocks_at).min().map(|u| u.max(at)),
    }
}

/// The phone to call among callable ones: the fewest calls, ties in list order.
pub fn choose_phone(phones: &[PhoneFacts]) -> Option<&PhoneFacts> {
    phones.iter().filter(|p| p.callable()).min_by_key(|p| p.calls)
}

/// The customer-level reasons a customer cannot be handed out to `agent` now, and
/// when the status would let it (CONTRACT §9.3 rules 3 and 4, §9.5's names).
pub fn customer_reasons(
    c: &CustomerState,
    campaign: &Campaign,
    agent: Option<&str>,
    now: i64,
) -> (Vec<&'static str>, Option<i64>) {
    use status::*;
    let mut reasons = Vec::new();
    let mut due: Option<i64> = None;
    match c.status {
        SUCCESS | UNSUCCESSFUL => reasons.push("status_final"),
        STOPPED => reasons.push("stopped"),
        // A "do not call back" ends in status 1 if calls are left then, else in 7:
        // with none left its end is no clock.
        DO_NOT_CALL => match (c.dnc_kind, campaign.calling.time_do_not_call) {
            (dnc_kind::CALL_BACK_LATER, days) if days > 0 && dnc_ends(c, campaign) <= now => {
                if calls_spent(c, campaign) {
                    reasons.push("no_calls_left");
                }
            }
            (dnc_kind::CALL_BACK_LATER, days) if days > 0 => {
                reasons.push("do_not_call");
                if calls_spent(c, campaign) {
                    reasons.push("no_calls_left");
                } else {
                    due = Some(dnc_ends(c, campaign));
                }
            }
            _ => reasons.push("do_not_call"),
        },
        FAILED | ERROR => {
            // Both when both hold (max_call_retry lowered during the delay): explain
            // lists every reason; only calls left make the delay's end a clock.
            let spent = calls_spent(c, campaign);
            if c.next_call_at > now {
                reasons.push("retry_not_due");
                if !spent {
                    due = Some(c.next_call_at);
                }
            }
            if spent {
                reasons.push("no_calls_left");
            }
        }
        CALLBACK => {
            let grace_end = c.callback_time.saturating_add(campaign.calling.callback_grace_seconds);
            let mine = c.callback_owner.is_none() || c.callback_owner.as_deref() == agent;
            if c.callback_time > now {
                reasons.push("callback_not_due");
                if !mine {
                    reasons.push("callback_other_agent");
                }
                due = Some(if mine { c.callback_time } else { grace_end });
            } else if !mine && grace_end > now {
                reasons.push("callback_other_agent");
                due = Some(grace_end);
            }
        }
        _ => {}
    }
    if c.status == PROCESSING || c.claimed(now) {
        reasons.push("claimed");
        due = c.lease_until.map(|t| due.map_or(t, |d| d.max(t)));
    }
    (reasons, due)
}

/// One phone's verdict, as explain shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhoneVerdict {
    pub phone: String,
    pub callable: bool,
    pub reasons: Vec<&'static str>,
}

/// Explain's answer (CONTRACT §9.5).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub callable: bool,
    pub reasons: Vec<&'static str>,
    pub phones: Vec<PhoneVerdict>,
    pub next_eligible_at: Option<i64>,
}

/// A clock that never rings: a customer parked for good (every phone listed for
/// ever, or wrong) waits until it.
pub const NEVER: i64 = i64::MAX;

/// The earliest of several clocks, ignoring those that never ring; `None` when it
/// falls at or past the campaign's end.
pub fn earliest(times: impl IntoIterator<Item = Option<i64>>, campaign: &Campaign) -> Option<i64> {
    let t = times.into_iter().flatten().filter(|t| *t < NEVER).min()?;
    (campaign.end_time == 0 || t.saturating_mul(1000) < campaign.end_time).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::campaign::{Calling, RetryRule};

    fn campaign() -> Campaign {
        let mut c = Campaign::blank("CA1".into(), "pt".into(), 0);
        c.max_call_retry = 3;
        c.time_between_two_call = 30;
        c
    }

    fn customer(phones: &[&str]) -> CustomerState {
        CustomerState { id: 1, phones: phones.iter().map(|p| p.to_string()).collect(), ..Default::default() }
    }

    #[test]
    fn retries_until_max_call_retry_is_spent() {
        let camp = campaign();
        let mut c = customer(&["84901"]);
        for call in 1..=3 {
            let applied = apply(c.clone(), &camp, "84901", Outcome::Busy, None, 1000 * call);
            c = applied.state;
            if call < 3 {
                assert_eq!((c.status, c.next_call_at), (status::FAILED, 1000 * call + 1800));
            }
        }
        assert_eq!(c.status, status::UNSUCCESSFUL);
        assert_eq!(c.number_call_out, 3);
        assert_eq!(c.calls_of("84901"), 3);
    }

    #[test]
    fn a_rule_replaces_the_delay_and_caps_its_outcome() {
        let mut camp = campaign();
        camp.max_call_retry = 10;
        camp.calling = Calling {
            retry_rules: vec![RetryRule { outcome: "busy".into(), delay_seconds: 600, max_attempts: 2 }],
            ..Calling::default()
        };
        let c = apply(customer(&["84901"]), &camp, "84901", Outcome::Busy, None, 0).state;
        assert_eq!((c.status, c.next_call_at), (status::FAILED, 600));
        let c = apply(c, &camp, "84901", Outcome::NoAnswer, None, 700).state;
        assert_eq!((c.status, c.next_call_at), (status::FAILED, 700 + 1800));
        // The second busy is the rule's last: no third, whatever max_call_retry says.
        let c = apply(c, &camp, "84901", Outcome::Busy, None, 3000).state;
        assert_eq!(c.status, status::UNSUCCESSFUL);
    }

    #[test]
    fn zero_calls_count_as_one() {
        let mut camp = campaign();
        camp.max_call_retry = 0;
        let c = apply(customer(&["84901"]), &camp, "84901", Outcome::Failed, None, 0).state;
        assert_eq!(c.status, status::UNSUCCESSFUL);
    }

    #[test]
    fn wrong_numbers_move_to_the_next_phone() {
        let camp = campaign();
        let c = apply(customer(&["84901", "84902"]), &camp, "84901", Outcome::WrongNumber, None, 0).state;
        assert_eq!(c.status, status::ERROR);
        assert!(c.wrong("84901") && !c.wrong("84902"));
        let c = apply(c, &camp, "84902", Outcome::WrongNumber, None, 10).state;
        assert_eq!(c.status, status::UNSUCCESSFUL);
    }

    #[test]
    fn callbacks_and_do_not_call() {
        let camp = campaign();
        let cb = apply(customer(&["84901"]), &camp, "84901", Outcome::Callback, Some((500, Scope::UserOnly, "u1")), 0);
        assert_eq!((cb.state.status, cb.state.callback_time), (status::CALLBACK, 500));
        assert_eq!(cb.state.callback_owner.as_deref(), Some("u1"));
        let anyone =
            apply(customer(&["84901"]), &camp, "84901", Outcome::Callback, Some((500, Scope::Anyone, "u1")), 0);
        assert_eq!(anyone.state.callback_owner, None);
        let later = apply(customer(&["84901"]), &camp, "84901", Outcome::DoNotCallBack, None, 0);
        assert_eq!((later.state.status, later.state.dnc_kind, later.list_phone), (8, dnc_kind::CALL_BACK_LATER, false));
        let never = apply(customer(&["84901"]), &camp, "84901", Outcome::DncRequest, None, 0);
        assert_eq!((never.state.status, never.state.dnc_kind, never.list_phone), (8, dnc_kind::FOR_GOOD, true));
    }

    #[test]
    fn callbacks_belong_to_their_agent_until_the_grace_ends() {
        let camp = campaign();
        let mut c = customer(&["84901"]);
        c.status = status::CALLBACK;
        c.callback_time = 1000;
        c.callback_owner = Some("u1".into());
        assert_eq!(customer_reasons(&c, &camp, Some("u1"), 999), (vec!["callback_not_due"], Some(1000)));
        // Every reason that applies: not due yet, and another agent's.
        assert_eq!(
            customer_reasons(&c, &camp, Some("u2"), 999),
            (vec!["callback_not_due", "callback_other_agent"], Some(4600))
        );
        assert_eq!(customer_reasons(&c, &camp, Some("u1"), 1000).0, Vec::<&str>::new());
        assert_eq!(customer_reasons(&c, &camp, Some("u2"), 1000), (vec!["callback_other_agent"], Some(4600)));
        assert!(customer_reasons(&c, &camp, Some("u2"), 4600).0.is_empty());
    }

    #[test]
    fn phones_open_when_one_is_callable_or_the_first_unblocks() {
        let open = PhoneFacts { phone: "a".into(), open: true, ..Default::default() };
        let capped = |ends| PhoneFacts {
            phone: "b".into(),
            open: true,
            capped: true,
            cap_ends: Some(ends),
            ..Default::default()
        };
        assert_eq!(phones_open_at(&[capped(500), open], 100), Some(100));
        assert_eq!(phones_open_at(&[capped(500), capped(300)], 100), Some(300));
        let wrong = PhoneFacts { phone: "c".into(), open: true, wrong: true, ..Default::default() };
        assert_eq!(phones_open_at(&[wrong], 100), None);
    }

    #[test]
    fn phones_are_chosen_by_fewest_calls_then_list_order() {
        let open = |phone: &str, calls| PhoneFacts { phone: phone.into(), open: true, calls, ..Default::default() };
        let phones = [open("a", 2), open("b", 1), open("c", 1)];
        assert_eq!(choose_phone(&phones).unwrap().phone, "b");
        let blocked = PhoneFacts { dnc_account: Some(None), ..open("b", 0) };
        assert_eq!(choose_phone(&[open("a", 5), blocked]).unwrap().phone, "a");
    }

    #[test]
    fn a_phone_unblocks_when_its_last_clock_rings() {
        let p =
            PhoneFacts { open: false, opens_at: Some(100), capped: true, cap_ends: Some(300), ..Default::default() };
        assert_eq!(p.unblocks_at(), Some(300));
        let forever = PhoneFacts { open: true, dnc_account: Some(None), ..Default::default() };
        assert_eq!(forever.unblocks_at(), None);
        let expiring = PhoneFacts { open: true, dnc_campaign: Some(Some(50)), ..Default::default() };
        assert_eq!(expiring.unblocks_at(), Some(50));
    }
}
