//! The calling workflow over the database (CONTRACT §9.3–§9.5): hand-outs with a
//! lease, results, releases, stop and resume, the sweep that wakes customers and
//! ends leases, explain, history and stats. The decisions are `calling::rules`';
//! this reads what they need and writes what they decide.

use std::collections::BTreeMap;

use super::agents::{self, require_campaign};
use super::db::{Db, Row, Val, marks};
use super::queue_head;
use crate::calling::hours::{self, Hours, phone_next_open, phone_open};
use crate::calling::model::{CallDetail, CallResult, Handout, HistoryRow, Nobody, Receive, Stats};
use crate::calling::rules::{self, CustomerState, Explanation, PhoneFacts, PhoneVerdict, dnc_kind, queue, status};
use crate::domain::campaign::{self as campaign_status, Campaign};
use crate::domain::customer::Customer;
use crate::domain::ids::IdKind;
use crate::store::{StoreError, StoreResult};

/// The columns [`state_of`] reads, over customers `c`.
const STATE_COLUMNS: &str = "c.id, c.status, c.phones, c.number_call_out, c.last_time_make_call, c.callback_time, \
     c.stringee_user_id_callback, c.dnc_kind, c.outcomes, c.phone_stats, c.due, c.wake_at, c.parked, c.claim_id, \
     c.crm_id, c.name, c.type, c.insert_time";
/// How many columns [`STATE_COLUMNS`] has: what a query selects after them starts here.
const STATE_WIDTH: usize = 18;

fn state_of(r: &Row) -> CustomerState {
    let due = r.opt_int(10);
    let wake_at = r.int(11);
    let parked = r.opt_text(12);
    let outcomes: BTreeMap<String, i64> = serde_json::from_str(&r.text(8)).unwrap_or_default();
    let stats: BTreeMap<String, (i64, bool)> = serde_json::from_str(&r.text(9)).unwrap_or_default();
    CustomerState {
        id: r.int(0),
        status: r.int(1),
        phones: r.text(2).split(',').filter(|p| !p.is_empty()).map(str::to_string).collect(),
        number_call_out: r.int(3),
        last_time_make_call: r.int(4),
        callback_time: r.int(5),
        callback_owner: r.opt_text(6),
        dnc_kind: r.int(7),
        next_call_at: if due == Some(queue::WAITING) && parked.is_none() { wake_at } else { 0 },
        outcomes,
        phone_stats: stats,
        lease_until: (due == Some(queue::CLAIMED)).then_some(wake_at),
        crm_id: r.text(14),
        name: r.text(15),
        source: r.int(16),
        insert_time: r.int(17),
    }
}

/// The customer row of CONTRACT §4 for a customer whose state was just written,
/// without reading it again.
fn customer_of(c: &CustomerState, campaign: &Campaign) -> Customer {
    Customer {
        id: c.id,
        campaign_id: campaign.id.clone(),
        campaignname: campaign.name.clone(),
        crm_id: c.crm_id.clone(),
        name: c.name.clone(),
        phones: c.phones.clone(),
        status: c.status,
        source: c.source,
        insert_time: c.insert_time,
        callback_time: c.callback_time,
        last_time_make_call: c.last_time_make_call,
        number_call_out: c.number_call_out,
        do_not_call: i64::from(c.status == status::DO_NOT_CALL),
        stringee_user_id_callback: c.callback_owner.clone(),
    }
}

/// A customer row of CONTRACT §4.
pub const CUSTOMER_COLUMNS: &str = "c.id, c.campaign_id, k.name, c.crm_id, c.name, c.status, c.type, c.insert_time, \
     c.callback_time, c.last_time_make_call, c.number_call_out, c.do_not_call, c.stringee_user_id_callback, c.phones";

pub fn customer_row(r: &Row) -> Customer {
    Customer {
        id: r.int(0),
        campaign_id: r.text(1),
        campaignname: r.text(2),
        crm_id: r.text(3),
        name: r.text(4),
        phones: r.text(13).split(',').filter(|p| !p.is_empty()).map(str::to_string).collect(),
        status: r.int(5),
        source: r.int(6),
        insert_time: r.int(7),
        callback_time: r.int(8),
        last_time_make_call: r.int(9),
        number_call_out: r.int(10),
        do_not_call: r.int(11),
        stringee_user_id_callback: r.opt_text(12),
    }
}

pub const CUSTOMER_FROM: &str =
    "FROM customers c JOIN campaigns k ON k.account_id = c.account_id AND k.id = c.campaign_id";

/// A customer readers may see: of a visible campaign, not of an import in progress.
pub const VISIBLE: &str = "k.hidden = 0 AND (k.staged_from IS NULL OR c.id < k.staged_from)";

pub async fn customer(db: &impl Db, account: &str, id: i64) -> StoreResult<Option<Customer>> {
    let sql = format!("SELECT {CUSTOMER_COLUMNS} {CUSTOMER_FROM} WHERE c.account_id = ? AND c.id = ? AND {VISIBLE}");
    Ok(db.row(&sql, &[account.into(), id.into()]).await?.as_ref().map(customer_row))
}

/// The customer and its campaign, for a write to it; r=4 when the account has no
/// such customer.
async fn customer_for_write(db: &impl Db, account: &str, id: i64) -> StoreResult<(CustomerState, Campaign)> {
    let sql = format!(
        "SELECT {STATE_COLUMNS}, {} {CUSTOMER_FROM} WHERE c.account_id = ? AND c.id = ? AND {VISIBLE}{}",
        agents::campaign_columns("k"),
        if db.postgres() { " FOR UPDATE OF c" } else { "" }
    );
    let row = db.row(&sql, &[account.into(), id.into()]).await?.ok_or_else(|| not_found(id))?;
    Ok((state_of(&row), agents::campaign(&Row(row.0[STATE_WIDTH..].to_vec()))))
}

fn not_found(id: i64) -> StoreError {
    StoreError::NotFound(format!("customer {id} not found"))
}

/// Writes a customer's calling state, and its place in the queue for its status.
async fn save_state(
    db: &impl Db,
    account: &str,
    c: &CustomerState,
    campaign: &Campaign,
    claim: Option<(&str, i64)>,
) -> StoreResult<()> {
    let (sql, args) = state_write(account, c, campaign, claim);
    db.exec(sql, &args).await?;
    Ok(())
}

/// The write of a customer's calling state, and its place in the queue for its
/// status (see [`save_state`]); a customer queued again is noted for the hand-outs.
fn state_write(
    account: &str,
    c: &CustomerState,
    campaign: &Campaign,
    claim: Option<(&str, i64)>,
) -> (&'static str, Vec<Val>) {
    let (due, wake_at) = match claim {
        Some((_, lease)) => (Some(queue::CLAIMED), lease),
        None => rules::queue_of(c, campaign),
    };
    let outcomes = serde_json::to_string(&c.outcomes).unwrap_or_else(|_| "{}".into());
    let stats = serde_json::to_string(&c.phone_stats).unwrap_or_else(|_| "{}".into());
    if due == Some(queue::QUEUED) {
        queue_head::queued(account, Some(&campaign.id), Some(c.id));
    }
    (
        "UPDATE customers SET status = ?, number_call_out = ?, last_time_make_call = ?, callback_time = ?, \
         stringee_user_id_callback = ?, dnc_kind = ?, do_not_call = ?, outcomes = ?, phone_stats = ?, due = ?, \
         wake_at = ?, parked = NULL, claim_id = ? WHERE account_id = ? AND id = ?",
        vec![
            c.status.into(),
            c.number_call_out.into(),
            c.last_time_make_call.into(),
            c.callback_time.into(),
            c.callback_owner.clone().into(),
            c.dnc_kind.into(),
            Val::Int((c.status == status::DO_NOT_CALL) as i64),
            outcomes.into(),
            stats.into(),
            due.into(),
            wake_at.into(),
            claim.map(|(id, _)| id.to_string()).into(),
            account.into(),
            c.id.into(),
        ],
    )
}

/// One event in a customer's history.
#[derive(Default)]
pub struct Event<'a> {
    pub event: &'a str,
    pub actor: &'a str,
    pub phone: Option<&'a str>,
    pub outcome: Option<&'a str>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub claim: Option<&'a str>,
    pub detail: Option<String>,
}

pub async fn record(
    db: &impl Db,
    account: &str,
    campaign: &str,
    customer: i64,
    at: i64,
    e: Event<'_>,
) -> StoreResult<()> {
    let (sql, args) = event_write(account, campaign, customer, at, e);
    db.exec(sql, &args).await?;
    Ok(())
}

/// The write of one event in a customer's history (see [`record`]).
fn event_write(account: &str, campaign: &str, customer: i64, at: i64, e: Event<'_>) -> (&'static str, Vec<Val>) {
    (
        "INSERT INTO history (account_id, customer_id, campaign_id, at, event, actor, phone, outcome, from_status, \
         to_status, claim_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            account.into(),
            customer.into(),
            campaign.into(),
            at.into(),
            e.event.into(),
            e.actor.into(),
            e.phone.into(),
            e.outcome.into(),
            e.from.into(),
            e.to.into(),
            e.claim.into(),
            e.detail.into(),
        ],
    )
}

/// The campaign's callable-hours set, if it has one.
pub async fn hours_of(db: &impl Db, account: &str, campaign: &Campaign) -> StoreResult<Option<Hours>> {
    match campaign.calling.businesshour {
        Some(id) => super::hours::get(db, account, id).await,
        None => Ok(None),
    }
}

/// How many times [`phones_open_from`] judges a customer's phones again.
const OPENING_STEPS: usize = 8;

/// The earliest moment from `at` at which one of the customer's phones is
/// callable (`None`: no clock would make one so). One clock's end may fall where
/// another still holds the phone (a do-not-call entry expiring at night, outside
/// the hours), so the phones are judged again at each time their clocks give;
/// after [`OPENING_STEPS`] such times the last is the answer, which is then never
/// later than the truth. `facts` are the phones' facts at `at`, when known.
async fn phones_open_from(
    db: &impl Db,
    account: &str,
    campaign: &Campaign,
    hours: Option<&Hours>,
    c: &CustomerState,
    at: i64,
    facts: Option<Vec<PhoneFacts>>,
) -> StoreResult<Option<i64>> {
    let mut t = at;
    let mut facts = match facts {
        Some(facts) => facts,
        None => phone_facts(db, account, campaign, hours, c, t).await?,
    };
    for _ in 0..OPENING_STEPS {
        match rules::phones_open_at(&facts, t) {
            Some(open) if open > t => {
                t = open;
                facts = phone_facts(db, account, campaign, hours, c, t).await?;
            }
            open => return Ok(open),
        }
    }
    Ok(Some(t))
}

/// Everything that blocks each of a customer's phones at `now`.
async fn phone_facts(
    db: &impl Db,
    account: &str,
    campaign: &Campaign,
    hours: Option<&Hours>,
    c: &CustomerState,
    now: i64,
) -> StoreResult<Vec<PhoneFacts>> {
    if c.phones.is_empty() {
        return Ok(Vec::new());
    }
    // The phones' list entries (kind 0) and live holds (kind 1), in one read.
    let mut args: Vec<Val> = vec![account.into(), campaign.id.as_str().into()];
    args.extend(c.phones.iter().map(Val::from));
    args.extend([account.into(), now.into()]);
    args.extend(c.phones.iter().map(Val::from));
    let list = marks(c.phones.len());
    let found = db
        .rows(
            &format!(
                "SELECT 0, phone, campaign_id, expires_at FROM dnc WHERE account_id = ? \
                 AND (campaign_id = '' OR campaign_id = ?) AND phone IN ({list}) \
                 UNION ALL SELECT 1, phone, '', expires_at FROM phone_holds WHERE account_id = ? AND expires_at > ? \
                 AND phone IN ({list})"
            ),
            &args,
        )
        .await?;
    let (listed, held): (Vec<Row>, Vec<Row>) = found.into_iter().partition(|r| r.int(0) == 0);
    let listed: Vec<Row> = listed.into_iter().map(|r| Row(r.0[1..].to_vec())).collect();
    let held: Vec<Row> = held.into_iter().map(|r| Row(vec![r.0[1].clone(), r.0[3].clone()])).collect();
    let mut facts = Vec::with_capacity(c.phones.len());
    for phone in &c.phones {
        let entry = |scope_campaign: bool| {
            listed
                .iter()
                .filter(|r| r.text(0) == *phone && (r.text(1).is_empty() != scope_campaign))
                .map(|r| r.opt_int(2))
                .find(|expires| expires.is_none_or(|t| t > now))
        };
        let zones = hours.map(|_| hours::phone_zones(phone));
        let (open, opens_at) = match (hours, &zones) {
            (Some(h), Some(z)) if !phone_open(h, z, now) => (false, phone_next_open(h, z, now)),
            _ => (true, None),
        };
        let (capped, cap_ends) = cap_of(db, account, campaign, phone, now).await?;
        facts.push(PhoneFacts {
            phone: phone.clone(),
            dnc_account: entry(false),
            dnc_campaign: entry(true),
            wrong: c.wrong(phone),
            open,
            opens_at,
            capped,
            cap_ends,
            held_until: held.iter().find(|r| r.text(0) == *phone).map(|r| r.int(1)),
            calls: c.calls_of(phone),
        });
    }
    Ok(facts)
}

/// Whether a phone is at a 24-hour cap now, and when it gets under it again: the
/// campaign's own cap across the account's calls, and one call a day from the
/// account's advertising campaigns for an advertising campaign.
async fn cap_of(
    db: &impl Db,
    account: &str,
    campaign: &Campaign,
    phone: &str,
    now: i64,
) -> StoreResult<(bool, Option<i64>)> {
    let mut ends: Option<i64> = None;
    let caps =
        [(campaign.calling.max_calls_per_phone_24h, false), (if campaign.calling.advertising() { 1 } else { 0 }, true)];
    for (cap, advertising_only) in caps {
        if cap <= 0 {
            continue;
        }
        let filter = if advertising_only { " AND advertising = 1" } else { "" };
        let times = db
            .rows(
                &format!(
                    "SELECT at FROM phone_calls WHERE account_id = ? AND phone = ? AND at > ?{filter} ORDER BY at"
                ),
                &[account.into(), phone.into(), (now - 86_400).into()],
            )
            .await?;
        if times.len() as i64 >= cap {
            // Under the cap again once enough of the oldest calls leave the window.
            let leave = times.len() - cap as usize;
            let t = times[leave].int(0) + 86_400;
            ends = Some(ends.map_or(t, |e| e.max(t)));
        }
    }
    Ok((ends.is_some(), ends))
}

/// Wakes the campaign's customers whose clock has rung: retries come due, parked
/// customers are looked at again, and a "do not call back" of the campaign's
/// current length ends (status 1 with calls left, else 7).
pub async fn wake(db: &impl Db, account: &str, campaign: &Campaign, now: i64) -> StoreResult<u64> {
    let scope = [Val::from(account), Val::from(campaign.id.as_str()), Val::Int(now)];
    let woken = db.exec(
        "UPDATE customers SET due = CASE WHEN status = 6 THEN 2 ELSE 1 END, \
         wake_at = CASE WHEN status = 6 THEN callback_time ELSE 0 END, parked = NULL \
         WHERE account_id = ? AND campaign_id = ? AND due = 0 AND wake_at <= ? AND (parked IS NOT NULL OR status IN (1, 3))",
        &scope,
    )
    .await?;
    let max = campaign.max_calls();
    let mut args = vec![Val::Int(max), Val::Int(max)];
    args.extend(scope);
    if woken > 0 {
        queue_head::queued(account, Some(&campaign.id), None);
    }
    let ended = db.exec(
        "UPDATE customers SET status = CASE WHEN number_call_out < ? THEN 1 ELSE 7 END, do_not_call = 0, dnc_kind = 0, \
         due = CASE WHEN number_call_out < ? THEN 1 ELSE NULL END, wake_at = 0 \
         WHERE account_id = ? AND campaign_id = ? AND due = 0 AND wake_at <= ? AND status = 8 AND parked IS NULL",
        &args,
    )
    .await?;
    if ended > 0 {
        queue_head::queued(account, Some(&campaign.id), None);
    }
    Ok(woken + ended)
}

/// Puts the customers parked for their phones (all blocked, or outside the hours)
/// back in the queue, of one campaign or of the whole account: what blocked them
/// may have changed (a list entry deleted, the hours or the caps edited).
pub async fn unpark(db: &impl Db, account: &str, campaign: Option<&str>) -> StoreResult<()> {
    let mut args = vec![Val::from(account)];
    let filter = match campaign {
        Some(c) => {
            args.push(c.into());
            " AND campaign_id = ?"
        }
        None => "",
    };
    db.exec(
        &format!(
            "UPDATE customers SET due = CASE WHEN status = 6 THEN 2 ELSE 1 END, \
             wake_at = CASE WHEN status = 6 THEN callback_time ELSE 0 END, parked = NULL \
             WHERE account_id = ?{filter} AND due = 0 AND parked IS NOT NULL"
        ),
        &args,
    )
    .await?;
    queue_head::queued(account, campaign, None);
    Ok(())
}

/// Gives a claimed customer back as it was before the hand-out.
async fn give_back(
    db: &impl Db,
    account: &str,
    claim: &ClaimRow,
    state: i64,
    event: &str,
    actor: &str,
    now: i64,
) -> StoreResult<()> {
    db.exec(
        "UPDATE claims SET state = ? WHERE account_id = ? AND id = ?",
        &[state.into(), account.into(), claim.id.as_str().into()],
    )
    .await?;
    db.exec(
        "DELETE FROM phone_holds WHERE account_id = ? AND phone = ? AND claim_id = ?",
        &[account.into(), claim.phone.as_str().into(), claim.id.as_str().into()],
    )
    .await?;
    let Ok((mut c, campaign)) = customer_for_write(db, account, claim.customer).await else {
        return Ok(());
    };
    // A result or a later hand-out has already moved the customer on.
    let current: Option<String> = db
        .row("SELECT claim_id FROM customers WHERE account_id = ? AND id = ?", &[account.into(), claim.customer.into()])
        .await?
        .and_then(|r| r.opt_text(0));
    if current.as_deref() != Some(claim.id.as_str()) {
        return Ok(());
    }
    c.status = claim.from_status;
    c.lease_until = None;
    // A retry that was due stays due: the wait it had ended before it was handed out.
    if c.status == status::FAILED || c.status == status::ERROR {
        c.next_call_at = 0;
    }
    save_state(db, account, &c, &campaign, None).await?;
    let e = Event {
        event,
        actor,
        phone: Some(&claim.phone),
        from: Some(status::PROCESSING),
        to: Some(claim.from_status),
        claim: Some(&claim.id),
        ..Event::default()
    };
    record(db, account, &claim.campaign, claim.customer, now, e).await
}

/// A claim as stored.
#[derive(Debug, Clone)]
pub struct ClaimRow {
    pub seq: i64,
    pub id: String,
    pub campaign: String,
    pub customer: i64,
    pub agent: String,
    pub user: String,
    pub phone: String,
    pub lease_expires_at: i64,
    pub state: i64,
    pub from_status: i64,
    pub answer: Option<String>,
}

const CLAIM_COLUMNS: &str = "seq, id, campaign_id, customer_id, agent_id, stringee_user_id, phone, lease_expires_at, state, from_status, answer";

fn claim_row(r: &Row) -> ClaimRow {
    ClaimRow {
        seq: r.int(0),
        id: r.text(1),
        campaign: r.text(2),
        customer: r.int(3),
        agent: r.text(4),
        user: r.text(5),
        phone: r.text(6),
        lease_expires_at: r.int(7),
        state: r.int(8),
        from_status: r.int(9),
        answer: r.opt_text(10),
    }
}

async fn claim(db: &impl Db, account: &str, id: &str) -> StoreResult<Option<ClaimRow>> {
    let sql = format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE account_id = ? AND id = ?{}", db.for_update());
    Ok(db.row(&sql, &[account.into(), id.into()]).await?.as_ref().map(claim_row))
}

/// A result's claim, and with it (one read, both locked) its customer and campaign
/// when the customer is there to be written; else the claim alone, or r=4 as
/// [`claim_on`] says.
async fn claim_with_customer(
    db: &impl Db,
    account: &str,
    customer: i64,
    claim_id: &str,
) -> StoreResult<(ClaimRow, Option<(CustomerState, Campaign)>)> {
    let claim_columns: Vec<String> = CLAIM_COLUMNS.split(", ").map(|c| format!("l.{}", c.trim())).collect();
    let sql = format!(
        "SELECT {}, {STATE_COLUMNS}, {} FROM claims l JOIN customers c ON c.account_id = l.account_id \
         AND c.id = l.customer_id JOIN campaigns k ON k.account_id = c.account_id AND k.id = c.campaign_id \
         WHERE l.account_id = ? AND l.id = ? AND l.customer_id = ? AND {VISIBLE}{}",
        claim_columns.join(", "),
        agents::campaign_columns("k"),
        if db.postgres() { " FOR UPDATE OF l, c" } else { "" }
    );
    match db.row(&sql, &[account.into(), claim_id.into(), customer.into()]).await? {
        Some(r) => {
            let width = claim_columns.len();
            let claim = claim_row(&r);
            let state = state_of(&Row(r.0[width..width + STATE_WIDTH].to_vec()));
            let campaign = agents::campaign(&Row(r.0[width + STATE_WIDTH..].to_vec()));
            Ok((claim, Some((state, campaign))))
        }
        None => Ok((claim_on(db, account, customer, claim_id).await?, None)),
    }
}

/// The claim a request names, on the customer it names; r=4 otherwise, and for a
/// customer deleted since (its id is checked before the claim's state).
async fn claim_on(db: &impl Db, account: &str, customer: i64, claim_id: &str) -> StoreResult<ClaimRow> {
    match claim(db, account, claim_id).await? {
        Some(c) if c.customer == customer => match self::customer(db, account, customer).await? {
            Some(_) => Ok(c),
            None => Err(not_found(customer)),
        },
        Some(_) if self::customer(db, account, customer).await?.is_some() => {
            Err(StoreError::NotFound(format!("claim '{claim_id}' is not a claim on customer {customer}")))
        }
        Some(_) => Err(not_found(customer)),
        None => Err(StoreError::NotFound(format!("claim '{claim_id}' not found"))),
    }
}

/// Ends every lease that has run out, giving the customers back, then wakes the
/// customers whose clock has rung: of one campaign, or of every campaign. How many
/// customers it gave back or woke (for one campaign), or leases it ended (for all).
pub async fn sweep(db: &impl Db, scope: Option<(&str, &Campaign)>, now: i64) -> StoreResult<usize> {
    // One sweep of a campaign a second does it all: clocks are whole seconds, and
    // nothing written since the last one comes due in the second it was written.
    // Another one meanwhile has nothing to add, and two would only fight over the
    // same rows.
    if let Some((account, campaign)) = scope
        && (swept_this_second(&sweep_key(account, &campaign.id), now)
            || !db.try_lock(&sweep_key(account, &campaign.id)).await?)
    {
        return Ok(0);
    }
    let (filter, mut args) = match scope {
        Some((account, campaign)) => {
            (" AND account_id = ? AND campaign_id = ?", vec![Val::from(account), Val::from(campaign.id.as_str())])
        }
        None => ("", Vec::new()),
    };
    args.push(now.into());
    let expired = db
        .rows(
            &format!(
                "SELECT account_id, {CLAIM_COLUMNS} FROM claims WHERE state = 0{filter} AND lease_expires_at <= ? \
                 ORDER BY lease_expires_at LIMIT 500{}",
                db.skip_locked()
            ),
            &args,
        )
        .await?;
    for r in &expired {
        let account = r.text(0);
        let claim = claim_row(&Row(r.0[1..].to_vec()));
        give_back(db, &account, &claim, 3, "expired", "system", now).await?;
    }
    match scope {
        Some((account, campaign)) => return Ok(expired.len() + wake(db, account, campaign, now).await? as usize),
        None => {
            // The campaigns with a clock that has rung, a few at a time, found from
            // the earliest clocks (the waiting index, never a walk of every queue).
            let ringing = db
                .rows(
                    "SELECT account_id, campaign_id FROM customers WHERE due = 0 AND wake_at <= ? ORDER BY wake_at \
                     LIMIT 1000",
                    &[now.into()],
                )
                .await?;
            let mut campaigns: Vec<(String, String)> = ringing.iter().map(|r| (r.text(0), r.text(1))).collect();
            campaigns.sort();
            campaigns.dedup();
            for (account, campaign) in campaigns {
                if db.try_lock(&sweep_key(&account, &campaign)).await?
                    && let Ok(c) = require_campaign(db, &account, &campaign).await
                {
                    wake(db, &account, &c, now).await?;
                }
            }
            fold_counts(db).await?;
        }
    }
    Ok(expired.len())
}

/// Folds the count deltas of the campaigns that have gathered many into one row
/// per (status, due), a few campaigns a sweep.
async fn fold_counts(db: &impl Db) -> StoreResult<()> {
    let busy = db
        .rows(
            "SELECT account_id, campaign_id FROM customer_counts GROUP BY account_id, campaign_id \
             HAVING count(*) > 64 LIMIT 20",
            &[],
        )
        .await?;
    for r in busy {
        let (account, campaign) = (r.text(0), r.text(1));
        if db.postgres() {
            // One statement: deltas another transaction has not committed yet are not
            // seen, so not deleted, and are folded another time.
            db.exec(
                "WITH gone AS (DELETE FROM customer_counts WHERE account_id = ? AND campaign_id = ? \
                 RETURNING status, due, n) INSERT INTO customer_counts (account_id, campaign_id, status, due, n) \
                 SELECT ?, ?, status, due, sum(n) FROM gone GROUP BY status, due HAVING sum(n) <> 0",
                &[account.as_str().into(), campaign.as_str().into(), account.as_str().into(), campaign.as_str().into()],
            )
            .await?;
        } else {
            let last = db
                .row(
                    "SELECT max(seq) FROM customer_counts WHERE account_id = ? AND campaign_id = ?",
                    &[account.as_str().into(), campaign.as_str().into()],
                )
                .await?
                .and_then(|r| r.opt_int(0))
                .unwrap_or(0);
            let scope = [Val::from(account.as_str()), Val::from(campaign.as_str()), Val::Int(last)];
            db.exec(
                "INSERT INTO customer_counts (account_id, campaign_id, status, due, n) \
                 SELECT account_id, campaign_id, status, due, sum(n) FROM customer_counts \
                 WHERE account_id = ? AND campaign_id = ? AND seq <= ? GROUP BY status, due HAVING sum(n) <> 0",
                &scope,
            )
            .await?;
            db.exec("DELETE FROM customer_counts WHERE account_id = ? AND campaign_id = ? AND seq <= ?", &scope)
                .await?;
        }
    }
    Ok(())
}

fn sweep_key(account: &str, campaign: &str) -> String {
    format!("callsheet sweep {account} {campaign}")
}

/// Whether this process swept the campaign in the second `now` already; notes it
/// if not. A sweep that is rolled back leaves its work to the background sweep,
/// a second later.
fn swept_this_second(key: &str, now: i64) -> bool {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static SWEPT: OnceLock<Mutex<HashMap<String, i64>>> = OnceLock::new();
    let mut swept = SWEPT.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if swept.get(key) == Some(&now) {
        return true;
    }
    if swept.len() >= 4096 {
        swept.retain(|_, at| *at >= now);
    }
    swept.insert(key.to_string(), now);
    false
}

/// How long after its hand-out a result still counts toward the day it is accepted
/// on: the index bound of a quota's count (a result is nearly always reported
/// within its lease).
const RESULT_WINDOW: i64 = 2 * 86_400;

/// The calls an agent has used of its quota in the campaign today: live claims
/// handed out today and results accepted today.
async fn used_today(
    db: &impl Db,
    account: &str,
    campaign: &str,
    agent: &str,
    since: i64,
    now: i64,
) -> StoreResult<i64> {
    Ok(db
        .row(
            "SELECT count(*) FROM claims WHERE account_id = ? AND campaign_id = ? AND agent_id = ? AND created >= ? \
             AND ((state = 0 AND lease_expires_at > ? AND created >= ?) OR accepted_at >= ?)",
            &[
                account.into(),
                campaign.into(),
                agent.into(),
                (since - RESULT_WINDOW).into(),
                now.into(),
                since.into(),
                since.into(),
            ],
        )
        .await?
        .map_or(0, |r| r.int(0)))
}

/// Whether the agent is at its quota of `limit` hand-outs today, and if so the
/// moment it falls under it again: when enough of the live claims counted run out
/// of lease (a hand-out that expires counts only if its result comes later), else
/// the start of its next day.
async fn quota_full_until(
    db: &impl Db,
    account: &str,
    campaign: &str,
    agent: &str,
    region: &str,
    limit: i64,
    now: i64,
) -> StoreResult<Option<i64>> {
    let (day_start, day_end) = hours::day_bounds(region, now);
    let used = used_today(db, account, campaign, agent, day_start, now).await?;
    if used < limit {
        return Ok(None);
    }
    let leases: Vec<i64> = db
        .rows(
            "SELECT lease_expires_at FROM claims WHERE account_id = ? AND campaign_id = ? AND agent_id = ? \
             AND created >= ? AND state = 0 AND lease_expires_at > ? ORDER BY lease_expires_at",
            &[account.into(), campaign.into(), agent.into(), day_start.into(), now.into()],
        )
        .await?
        .iter()
        .map(|r| r.int(0))
        .collect();
    // This many must end before the agent is under its quota.
    let ending = (used - limit + 1) as usize;
    Ok(Some(leases.get(ending - 1).map_or(day_end, |t| (*t).min(day_end))))
}

/// What one hand-out scans: whose campaign, for which agent, up to which row, when.
struct Scan<'a> {
    account: &'a str,
    campaign: &'a Campaign,
    user: &'a str,
    below: i64,
    now: i64,
}

/// The candidates of one hand-out stage after `after`, in its order.
async fn candidates(db: &impl Db, scan: &Scan<'_>, stage: usize, after: (i64, i64)) -> StoreResult<Vec<CustomerState>> {
    let Scan { account, campaign, user, below, now } = *scan;
    let base = format!(
        "SELECT {STATE_COLUMNS} FROM customers c{} WHERE c.account_id = ? AND c.campaign_id = ? AND c.id < ?",
        db.queue_index()
    );
    let mut args: Vec<Val> = vec![account.into(), campaign.id.as_str().into(), below.into()];
    let sql = match stage {
        // This agent's own due callbacks, then everyone else's due ones, earliest first.
        0 => {
            args.extend([now.into(), user.into(), after.0.into(), after.0.into(), after.1.into()]);
            format!(
                "{base} AND c.due = 2 AND c.wake_at <= ? AND c.stringee_user_id_callback = ? \
                 AND (c.wake_at > ? OR (c.wake_at = ? AND c.id > ?)) ORDER BY c.wake_at, c.id"
            )
        }
        1 => {
            let grace = campaign.calling.callback_grace_seconds;
            args.extend([
                now.into(),
                user.into(),
                (now - grace).into(),
                after.0.into(),
                after.0.into(),
                after.1.into(),
            ]);
            format!(
                "{base} AND c.due = 2 AND c.wake_at <= ? AND (c.stringee_user_id_callback IS NULL OR \
                 (c.stringee_user_id_callback <> ? AND c.wake_at <= ?)) \
                 AND (c.wake_at > ? OR (c.wake_at = ? AND c.id > ?)) ORDER BY c.wake_at, c.id"
            )
        }
        // Due retries and new customers, by id.
        _ => {
            args.push(after.1.into());
            format!("{base} AND c.due = 1 AND c.wake_at = 0 AND c.id > ? ORDER BY c.id")
        }
    };
    // SQLite's writer holds the whole database, so what it reads is current: a few
    // at a time. PostgreSQL takes one at a time, locked as it is now, passing over
    // those another hand-out holds.
    let sql = if db.postgres() { format!("{sql} LIMIT 1 FOR UPDATE SKIP LOCKED") } else { format!("{sql} LIMIT 16") };
    Ok(db.rows(&sql, &args).await?.iter().map(state_of).collect())
}

/// What a hand-out's caller does after it (PostgreSQL's; SQLite's answers at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Answer,
    /// An answer of nobody passed over customers that other hand-outs held locked
    /// meanwhile (PostgreSQL skips them rather than wait): customers those may leave
    /// callable, which the answer did not judge. Ask again once they are done,
    /// `from_start` then scanning the queue from its start, not from the mark of the
    /// last hand-out.
    AskAgain,
    /// The claim's write, sent with the COMMIT, found its phone taken by a hand-out
    /// that committed first: the transaction ended with nobody handed out (the
    /// answer means nothing). Ask again now; the next scan sees that hold.
    AgainNow,
}

/// Hands the next callable customer of the campaign to the agent `user`, with a
/// lease, in the caller's one transaction (CONTRACT §9.3), and what the caller does
/// next ([`Then`]).
pub async fn receive(
    db: &impl Db,
    account: &str,
    region: &str,
    campaign_id: &str,
    user: &str,
    now: i64,
    from_start: bool,
) -> StoreResult<(Receive, Then)> {
    // Hand-outs share their campaign's lock; a campaign delete takes it alone, so it
    // waits for the hand-outs under way and then sees their claims. Sent with the
    // first read, in one round trip: it is taken before any customer is read.
    // They share the account's lock on what blocks phones too: a write that unblocks
    // (a do-not-call entry deleted, callable hours edited) takes it alone, so that the
    // customers the hand-outs under way set aside are there when it looks at them
    // again, and later hand-outs see what it changed (`hold_blocks`).
    let (lock, blocks) = (campaign_lock(account, campaign_id), blocks_lock(account));
    let keys = [lock.as_str(), blocks.as_str()];
    let ((), agents::HandOut { campaign, below, agent, quota, callbacks_due, requeues }) =
        futures_util::try_join!(db.locks(&keys, false), agents::hand_out(db, account, campaign_id, user, now))?;
    let now_ms = crate::domain::ms_within(now);
    let status_now = campaign.status_at(now_ms);
    if status_now != campaign_status::status::RUNNING || (campaign.start_time > 0 && now_ms < campaign.start_time) {
        let next = if status_now == campaign_status::status::RUNNING {
            next_from(db, account, &campaign, &[(agent, user.to_string())], below, None, campaign.start_secs()).await?
        } else {
            None
        };
        return Ok((Receive::Nobody(Nobody { reason: "campaign_not_running", next_eligible_at: next }), Then::Answer));
    }
    if let Some(limit) = quota.per_day() {
        // One hand-out at a time per agent and campaign, or two at once would each
        // find the agent under its quota.
        db.lock(&format!("{}/{user}", campaign_lock(account, campaign_id)), true).await?;
        if let Some(until) = quota_full_until(db, account, campaign_id, &agent, region, limit, now).await? {
            // Tomorrow's quota calls only whom the list holds callable then.
            let next = next_from(db, account, &campaign, &[(agent, user.to_string())], below, None, until).await?;
            return Ok((Receive::Nobody(Nobody { reason: "quota_reached", next_eligible_at: next }), Then::Answer));
        }
    }
    // A sweep that gave back or woke anyone may have made a callback due.
    let callbacks_due = sweep(db, Some((account, &campaign)), now).await? > 0 || callbacks_due;
    let hours = hours_of(db, account, &campaign).await?;
    // What the scan met: a customer blocked only by the hours, and the soonest a
    // customer left queued (its phone held by a claim elsewhere) unblocks.
    let mut saw_hours = false;
    let mut held_until: Option<i64> = None;
    let scan = Scan { account, campaign: &campaign, user, below, now };
    let first_stage = if callbacks_due { 0 } else { 2 };
    // The customers this scan judged, to tell those it passed over locked.
    let mut judged: Vec<i64> = Vec::new();
    for stage in first_stage..3 {
        let mut after = (i64::MIN, i64::MIN);
        // PostgreSQL starts the queue where the last hand-out found its head.
        let head = (stage == 2 && db.postgres() && !from_start)
            .then(|| queue_head::start(account, &campaign.id, now, requeues));
        if let Some((id, _)) = head {
            after.1 = id.saturating_sub(1);
        }
        let mut first = true;
        loop {
            let batch = candidates(db, &scan, stage, after).await?;
            if batch.is_empty() {
                if first && after.1 > i64::MIN {
                    // Nobody from the mark on: look from the start before saying so.
                    after.1 = i64::MIN;
                    first = false;
                    continue;
                }
                break;
            }
            if first && let (Some((_, generation)), Some(c)) = (head, batch.first()) {
                queue_head::found(account, &campaign.id, generation, requeues, c.id, now);
            }
            first = false;
            for c in &batch {
                judged.push(c.id);
                after = (c.callback_time, c.id);
                if stage == 2 {
                    after.0 = 0;
                }
                let (reasons, _) = rules::customer_reasons(c, &campaign, Some(user), now);
                if reasons.contains(&"no_calls_left") {
                    // max_call_retry was lowered since: out of the queue until it is raised.
                    db.exec(
                        "UPDATE customers SET due = ? WHERE account_id = ? AND id = ?",
                        &[queue::SPENT.into(), account.into(), c.id.into()],
                    )
                    .await?;
                    continue;
                }
                if !reasons.is_empty() {
                    continue;
                }
                let mut facts = phone_facts(db, account, &campaign, hours.as_ref(), c, now).await?;
                let mut tried = false;
                while let Some(phone) = rules::choose_phone(&facts).map(|f| f.phone.clone()) {
                    tried = true;
                    if let Some(handed) = claim_customer(db, account, &campaign, &agent, user, c, &phone, now).await? {
                        return Ok((Receive::Handed(Box::new(handed)), Then::Answer));
                    }
                    if db.ended() {
                        let nobody = Nobody { reason: "nothing_due", next_eligible_at: None };
                        return Ok((Receive::Nobody(nobody), Then::AgainNow));
                    }
                    // Held meanwhile by a hand-out that raced this one: the customer's other phones.
                    facts.retain(|f| f.phone != phone);
                }
                if tried {
                    continue;
                }
                saw_hours |= facts.iter().any(PhoneFacts::only_hours);
                if !park(db, account, c, &facts, now).await? {
                    let t = facts.iter().filter_map(PhoneFacts::unblocks_at).min();
                    held_until = rules::earliest([held_until, t], &campaign);
                }
            }
        }
    }
    let passed = db.postgres() && passed_over(db, &scan, first_stage == 0, &judged).await?;
    let mut answer = nobody(db, account, &campaign, user, below, saw_hours, now).await?;
    if answer.reason != "list_empty" {
        answer.next_eligible_at = rules::earliest([answer.next_eligible_at, held_until], &campaign);
    }
    Ok((Receive::Nobody(answer), if passed { Then::AskAgain } else { Then::Answer }))
}

/// Judged customers past which a scan stops telling those it passed over.
const JUDGED_AT_MOST: usize = 1024;

/// Whether the campaign holds a customer this hand-out could have taken but did not
/// judge: one another hand-out held locked as the scan passed (PostgreSQL).
async fn passed_over(db: &impl Db, scan: &Scan<'_>, callbacks: bool, judged: &[i64]) -> StoreResult<bool> {
    if judged.len() > JUDGED_AT_MOST {
        return Ok(false);
    }
    let Scan { account, campaign, user, below, now } = *scan;
    let mut args: Vec<Val> = vec![account.into(), campaign.id.as_str().into(), below.into()];
    // The stages' own conditions: due callbacks (this agent's, anyone's, another's
    // past the grace) when the scan looked at callbacks, then the queue.
    let due_callbacks = if callbacks {
        args.extend([now.into(), user.into(), (now - campaign.calling.callback_grace_seconds).into()]);
        " OR (c.due = 2 AND c.wake_at <= ? AND (c.stringee_user_id_callback IS NULL \
         OR c.stringee_user_id_callback = ? OR c.wake_at <= ?))"
    } else {
        ""
    };
    let not_judged =
        if judged.is_empty() { String::new() } else { format!(" AND c.id NOT IN ({})", marks(judged.len())) };
    args.extend(judged.iter().map(|&id| Val::from(id)));
    let sql = format!(
        "SELECT 1 FROM customers c WHERE c.account_id = ? AND c.campaign_id = ? AND c.id < ? \
         AND ((c.due = 1 AND c.wake_at = 0){due_callbacks}){not_judged} LIMIT 1"
    );
    Ok(db.row(&sql, &args).await?.is_some())
}

/// The name of a campaign's hand-out lock (see `receive`).
fn campaign_lock(account: &str, campaign: &str) -> String {
    format!("hand-out/{account}/{campaign}")
}

/// Takes the campaign's hand-out lock alone until the transaction ends: the
/// hand-outs under way finish first, and later ones wait for this write.
pub async fn hold_campaign(db: &impl Db, account: &str, campaign: &str) -> StoreResult<()> {
    db.lock(&campaign_lock(account, campaign), true).await
}

/// The name of the account's lock on what blocks phones (see `receive`).
fn blocks_lock(account: &str) -> String {
    format!("blocks/{account}")
}

/// Takes the account's lock on what blocks phones alone until the transaction ends,
/// before a write that may unblock customers set aside (`unpark`): the hand-outs
/// under way, which may be setting customers aside for what this write removes,
/// finish first, and later ones wait for it. Without it a hand-out that read a
/// do-not-call entry just before its delete set its customer aside just after the
/// delete looked for such customers, and nothing looked again.
pub async fn hold_blocks(db: &impl Db, account: &str) -> StoreResult<()> {
    db.lock(&blocks_lock(account), true).await
}

/// Takes a customer whose every phone is blocked for now out of the queue until
/// the first of them could be callable again. A phone that only a live claim holds
/// keeps the customer queued: the claim ends soon. Whether it was parked.
async fn park(db: &impl Db, account: &str, c: &CustomerState, facts: &[PhoneFacts], now: i64) -> StoreResult<bool> {
    if facts.iter().any(|f| f.held_until.is_some() && f.reasons().len() == 1) {
        return Ok(false);
    }
    let until = facts.iter().filter_map(PhoneFacts::unblocks_at).min().unwrap_or(rules::NEVER).max(now + 1);
    let why = if facts.iter().any(PhoneFacts::only_hours) { "hours" } else { "blocked" };
    db.exec(
        "UPDATE customers SET due = 0, wake_at = ?, parked = ? WHERE account_id = ? AND id = ?",
        &[until.into(), why.into(), account.into(), c.id.into()],
    )
    .await?;
    Ok(true)
}

/// Claims a customer on `phone`; `None` when another claim took the phone first.
#[allow(clippy::too_many_arguments)]
async fn claim_customer(
    db: &impl Db,
    account: &str,
    campaign: &Campaign,
    agent: &str,
    user: &str,
    c: &CustomerState,
    phone: &str,
    now: i64,
) -> StoreResult<Option<Handout>> {
    // Times are whole seconds: the lease ends at the first whole second at least
    // claim_lease_seconds after the hand-out, so that no claim lasts less.
    let lease = (crate::domain::ms_within(now) + 999) / 1000 + campaign.calling.claim_lease_seconds;
    let claim_id = IdKind::Claim.generate();
    let mut claimed = c.clone();
    claimed.status = status::PROCESSING;
    let claim_row = vec![
        account.into(),
        claim_id.as_str().into(),
        campaign.id.as_str().into(),
        c.id.into(),
        agent.into(),
        user.into(),
        phone.into(),
        now.into(),
        lease.into(),
        c.status.into(),
    ];
    let e = Event {
        event: "claimed",
        actor: user,
        phone: Some(phone),
        from: Some(c.status),
        to: Some(status::PROCESSING),
        claim: Some(&claim_id),
        ..Event::default()
    };
    // The phone's hold first: the claim's three writes follow only if it was free
    // (one statement on PostgreSQL, sent with the COMMIT).
    let hold = (
        "INSERT INTO phone_holds (account_id, phone, claim_id, expires_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (account_id, phone) DO UPDATE SET claim_id = excluded.claim_id, expires_at = excluded.expires_at \
         WHERE phone_holds.expires_at <= ?",
        vec![account.into(), phone.into(), claim_id.as_str().into(), lease.into(), now.into()],
    );
    let held = db
        .finish_if(
            hold,
            &[
                state_write(account, &claimed, campaign, Some((&claim_id, lease))),
                (
                    "INSERT INTO claims (account_id, id, campaign_id, customer_id, agent_id, stringee_user_id, phone, \
                     created, lease_expires_at, state, from_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
                    claim_row,
                ),
                event_write(account, &campaign.id, c.id, now, e),
            ],
        )
        .await?;
    if !held {
        return Ok(None);
    }
    let customer = customer_of(&claimed, campaign);
    Ok(Some(Handout { customer, claim_id, phone: phone.to_string(), lease_expires_at: lease }))
}

/// Why nobody can be handed out to `user`, and when somebody could be.
async fn nobody(
    db: &impl Db,
    account: &str,
    campaign: &Campaign,
    user: &str,
    below: i64,
    saw_hours: bool,
    now: i64,
) -> StoreResult<Nobody> {
    let scope = [Val::from(account), Val::from(campaign.id.as_str()), Val::Int(below)];
    if !list_live(db, account, &campaign.id, below).await? {
        return Ok(Nobody { reason: "list_empty", next_eligible_at: None });
    }
    let next = next_eligible(db, account, campaign, &[user], below, now).await?;
    let parked_for_hours = db
        .row(
            &format!(
                "SELECT 1 FROM customers{} WHERE account_id = ? AND campaign_id = ? AND id < ? AND due = 0 \
                 AND parked = 'hours'",
                db.queue_index()
            ),
            &scope,
        )
        .await?
        .is_some();
    let reason = if saw_hours || parked_for_hours { "outside_hours" } else { "nothing_due" };
    Ok(Nobody { reason, next_eligible_at: next })
}

/// Whether any customer of the campaign (below an import's) could be handed out
/// again without the list changing: finished ones (2, 7, stopped, do-not-call with no
/// end) have left every queue.
async fn list_live(db: &impl Db, account: &str, campaign: &str, below: i64) -> StoreResult<bool> {
    Ok(db
        .row(
            &format!(
                "SELECT 1 FROM customers{} WHERE account_id = ? AND campaign_id = ? AND id < ? AND due IS NOT NULL \
                 LIMIT 1",
                db.queue_index()
            ),
            &[account.into(), campaign.into(), below.into()],
        )
        .await?
        .is_some())
}

/// How many of the earliest customers of each clock [`next_eligible`] judges at
/// their own time, their phones included.
const JUDGED_AHEAD: i64 = 8;

/// Of the rows of one clock (state columns, then the time its status lets the
/// customer be called), in time order: the first [`JUDGED_AHEAD`] to judge, and the
/// time of the one after them as a bound.
fn judge_ahead(rows: &[Row], ahead: &mut Vec<(i64, CustomerState)>, bound: &mut Option<i64>, campaign: &Campaign) {
    for (i, r) in rows.iter().enumerate() {
        let t = r.int(STATE_WIDTH);
        match i as i64 {
            JUDGED_AHEAD => *bound = rules::earliest([*bound, Some(t)], campaign),
            _ => ahead.push((t, state_of(r))),
        }
    }
}

/// The earliest moment a clock could make some customer of the campaign callable
/// for one of `owners` (the agent asking, or every assigned agent): their own
/// callbacks and `ANYONE`'s at their time, others' after the grace.
/// A customer whose status lets it be called at `t` is callable then only if one of
/// its phones is (a 24-hour cap, a do-not-call entry or the hours may still hold
/// it): the earliest few of each clock are judged at their own time, phones
/// included; past them, the next one's time bounds the answer, which is then never
/// later than the truth.
async fn next_eligible(
    db: &impl Db,
    account: &str,
    campaign: &Campaign,
    owners: &[&str],
    below: i64,
    now: i64,
) -> StoreResult<Option<i64>> {
    // Waiting (a retry, a parked customer, the end of a "do not call back") and
    // claimed (the lease's end) customers, each kind in its index order.
    let mut ahead: Vec<(i64, CustomerState)> = Vec::new();
    let mut bound: Option<i64> = None;
    for due in [queue::WAITING, queue::CLAIMED] {
        let rows = db
            .rows(
                &format!(
                    "SELECT {STATE_COLUMNS}, c.wake_at FROM customers c WHERE c.account_id = ? AND c.campaign_id = ? \
                     AND c.due = ? AND c.wake_at > ? AND c.id < ? ORDER BY c.wake_at LIMIT ?"
                ),
                &[
                    account.into(),
                    campaign.id.as_str().into(),
                    due.into(),
                    now.into(),
                    below.into(),
                    (JUDGED_AHEAD + 1).into(),
                ],
            )
            .await?;
        judge_ahead(&rows, &mut ahead, &mut bound, campaign);
    }
    // No agent has the empty name: with no owners, every USERONLY callback waits out its grace.
    let owners = if owners.is_empty() { &[""][..] } else { owners };
    let mut args: Vec<Val> = owners.iter().map(|&o| o.into()).collect();
    args.extend([
        campaign.calling.callback_grace_seconds.into(),
        account.into(),
        campaign.id.as_str().into(),
        below.into(),
        now.into(),
        (JUDGED_AHEAD + 1).into(),
    ]);
    let callbacks = db
        .rows(
            &format!(
                "SELECT * FROM (SELECT {STATE_COLUMNS}, CASE WHEN c.stringee_user_id_callback IS NULL \
                 OR c.stringee_user_id_callback IN ({}) THEN c.wake_at ELSE c.wake_at + ? END AS t \
                 FROM customers c{} WHERE c.account_id = ? AND c.campaign_id = ? AND c.id < ? AND c.due = 2) x \
                 WHERE x.t > ? ORDER BY x.t, x.id LIMIT ?",
                marks(owners.len()),
                db.queue_index()
            ),
            &args,
        )
        .await?;
    judge_ahead(&callbacks, &mut ahead, &mut bound, campaign);
    ahead.sort_by_key(|(t, c)| (*t, c.id));
    let hours = hours_of(db, account, campaign).await?;
    let mut next = bound;
    for (t, c) in ahead {
        if next.is_some_and(|n| n <= t) {
            continue;
        }
        // A clock that ends with no calls left (a "do not call back" then ends in 7, a
        // retry leaves the queue) makes nobody callable.
        if rules::ends_unsuccessful(&c, campaign) {
            continue;
        }
        next = rules::earliest(
            [next, phones_open_from(db, account, campaign, hours.as_ref(), &c, t, None).await?],
            campaign,
        );
    }
    Ok(next)
}

/// Records a call's result on the customer its claim holds (CONTRACT §9.4): the
/// same claim sent again answers the first accepted answer and changes nothing.
pub async fn result(
    db: &impl Db,
    account: &str,
    customer_id: i64,
    r: &CallResult,
    now: i64,
) -> StoreResult<(String, bool)> {
    let (mut claim, mut found) = claim_with_customer(db, account, customer_id, &r.claim_id).await?;
    if claim.state == 0 && claim.lease_expires_at <= now && claim.answer.is_none() {
        // Past its lease and not swept yet: given back first, as a sweep would have,
        // so that the result goes from the status the expiry gave back.
        give_back(db, account, &claim, 3, "expired", "system", now).await?;
        (claim, found) = claim_with_customer(db, account, customer_id, &r.claim_id).await?;
    }
    if let Some(answer) = claim.answer {
        // A deleted customer answers r=4 on every path but its history.
        return match found {
            Some(_) => Ok((answer, false)),
            None => Err(not_found(customer_id)),
        };
    }
    if let Some(phone) = r.phone.first()
        && !r.phone.contains(&claim.phone)
    {
        return Err(StoreError::Invalid(format!("phone {phone} is not the claim's phone {}", claim.phone)));
    }
    match claim.state {
        2 => return Err(StoreError::Conflict(format!("claim '{}' was released", claim.id))),
        3 => {
            let later = db
                .row(
                    "SELECT 1 FROM claims WHERE account_id = ? AND customer_id = ? AND seq > ?",
                    &[account.into(), customer_id.into(), claim.seq.into()],
                )
                .await?
                .is_some();
            if later {
                return Err(StoreError::Conflict(format!(
                    "claim '{}' expired and customer {customer_id} has been handed out since",
                    claim.id
                )));
            }
        }
        _ => {}
    }
    let (c, campaign) = match found {
        Some(found) => found,
        None => customer_for_write(db, account, customer_id).await?,
    };
    // Stopped since, resumed or not.
    if claim.state == 3
        && (c.status == status::STOPPED || stopped_since(db, account, customer_id, claim.lease_expires_at).await?)
    {
        return Err(StoreError::Conflict(format!(
            "claim '{}' expired and customer {customer_id} has been stopped since",
            claim.id
        )));
    }
    let from = c.status;
    // A USERONLY callback is the agent's under the name it has now (renamed since the
    // hand-out or not); anyone's if it was deleted meanwhile.
    let mut owner = (r.callback_scope, claim.user.clone());
    if r.callback_time.is_some() && r.callback_scope == rules::Scope::UserOnly {
        let current = db
            .row(
                "SELECT stringee_user_id FROM agents WHERE account_id = ? AND id = ?",
                &[account.into(), claim.agent.as_str().into()],
            )
            .await?;
        owner = match current {
            Some(row) => (rules::Scope::UserOnly, row.text(0)),
            None => (rules::Scope::Anyone, claim.user.clone()),
        };
    }
    let callback = r.callback_time.map(|t| (t, owner.0, owner.1.as_str()));
    let applied = rules::apply(c, &campaign, &claim.phone, r.outcome, callback, now);
    if applied.list_phone {
        db.exec(
            "INSERT INTO dnc (account_id, campaign_id, phone, reason, expires_at, created) VALUES (?, '', ?, 'dnc_request', NULL, ?) \
             ON CONFLICT (account_id, campaign_id, phone) DO UPDATE SET reason = excluded.reason, expires_at = NULL",
            &[account.into(), claim.phone.as_str().into(), now.into()],
        )
        .await?;
    }
    let call = CallDetail { call_id: r.call_id.clone(), duration: r.duration, note: r.note.clone() };
    let detail = serde_json::to_string(&call).map_err(StoreError::internal)?;
    let e = Event {
        event: "result",
        actor: &claim.user,
        phone: Some(&claim.phone),
        outcome: Some(r.outcome.name()),
        from: Some(from),
        to: Some(applied.state.status),
        claim: Some(&claim.id),
        detail: Some(detail),
    };
    let answer =
        serde_json::json!({"r": 0, "msg": "Success", "data": customer_of(&applied.state, &campaign)}).to_string();
    let call = vec![
        account.into(),
        claim.phone.as_str().into(),
        now.into(),
        campaign.id.as_str().into(),
        campaign.calling.advertising().into(),
    ];
    let hold = vec![account.into(), claim.phone.as_str().into(), claim.id.as_str().into()];
    let settled = vec![answer.as_str().into(), now.into(), account.into(), claim.id.as_str().into()];
    // Writes that do not depend on each other: one statement on PostgreSQL, sent
    // with the COMMIT.
    db.finish(&[
        state_write(account, &applied.state, &campaign, None),
        ("INSERT INTO phone_calls (account_id, phone, at, campaign_id, advertising) VALUES (?, ?, ?, ?, ?)", call),
        ("DELETE FROM phone_holds WHERE account_id = ? AND phone = ? AND claim_id = ?", hold),
        event_write(account, &campaign.id, customer_id, now, e),
        ("UPDATE claims SET state = 1, answer = ?, accepted_at = ? WHERE account_id = ? AND id = ?", settled),
    ])
    .await?;
    Ok((answer, true))
}

/// Whether the customer was stopped at or after `lease_end`, the end of an expired
/// claim's lease: a stop comes only once the lease has run out (a live claim
/// refuses it), so its history entry tells it, whether it was resumed since or not.
async fn stopped_since(db: &impl Db, account: &str, customer_id: i64, lease_end: i64) -> StoreResult<bool> {
    Ok(db
        .row(
            "SELECT 1 FROM history WHERE account_id = ? AND customer_id = ? AND event = 'stopped' AND at >= ?",
            &[account.into(), customer_id.into(), lease_end.into()],
        )
        .await?
        .is_some())
}

/// The answer a claim's accepted result was given, if any: a result sent again
/// replays it whatever it carries (CONTRACT §9.4).
pub async fn replayed(db: &impl Db, account: &str, customer_id: i64, claim_id: &str) -> StoreResult<Option<String>> {
    // Only while the customer is there: a deleted one answers as the body says.
    let answer = db
        .row(
            &format!(
                "SELECT l.answer FROM claims l JOIN customers c ON c.account_id = l.account_id AND c.id = l.customer_id \
                 JOIN campaigns k ON k.account_id = c.account_id AND k.id = c.campaign_id \
                 WHERE l.account_id = ? AND l.id = ? AND l.customer_id = ? AND {VISIBLE}"
            ),
            &[account.into(), claim_id.into(), customer_id.into()],
        )
        .await?
        .and_then(|r| r.opt_text(0));
    Ok(answer)
}

/// Gives a live claim's customer back at once (CONTRACT §9.3); r=7 when the claim
/// is no longer live.
pub async fn release(db: &impl Db, account: &str, customer_id: i64, claim_id: &str, now: i64) -> StoreResult<Customer> {
    let claim = claim_on(db, account, customer_id, claim_id).await?;
    if claim.state != 0 || claim.lease_expires_at <= now {
        return Err(StoreError::Conflict(format!("claim '{claim_id}' is no longer live")));
    }
    let user = claim.user.clone();
    give_back(db, account, &claim, 2, "released", &user, now).await?;
    customer(db, account, customer_id).await?.ok_or_else(|| not_found(customer_id))
}

/// r=7 when a live claim holds the customer.
pub async fn refuse_if_claimed(db: &impl Db, account: &str, customer_id: i64, what: &str, now: i64) -> StoreResult<()> {
    refuse_any_claimed(db, account, &[customer_id], what, now).await
}

/// Gives back the claim on a customer whose lease has run out but that no sweep
/// has met yet, as the sweep would: what is written next starts from the customer
/// as it was before the hand-out.
async fn end_expired_claim(db: &impl Db, account: &str, customer_id: i64, now: i64) -> StoreResult<()> {
    let expired = db
        .row(
            "SELECT claim_id FROM customers WHERE account_id = ? AND id = ? AND due = 3 AND wake_at <= ?",
            &[account.into(), customer_id.into(), now.into()],
        )
        .await?
        .and_then(|r| r.opt_text(0));
    if let Some(id) = expired
        && let Some(claim) = claim(db, account, &id).await?
        && claim.state == 0
    {
        give_back(db, account, &claim, 3, "expired", "system", now).await?;
    }
    Ok(())
}

/// Stops a customer: never handed out until resumed (CONTRACT §9.4).
pub async fn stop(db: &impl Db, account: &str, customer_id: i64, actor: &str, now: i64) -> StoreResult<Customer> {
    customer_for_write(db, account, customer_id).await?;
    // Also ends a claim whose lease ran out, before the customer is read again.
    refuse_if_claimed(db, account, customer_id, "release it or wait for its result before stopping", now).await?;
    let (c, campaign) = customer_for_write(db, account, customer_id).await?;
    if c.status == status::STOPPED {
        return Err(StoreError::Conflict(format!("customer {customer_id} is stopped already")));
    }
    db.exec(
        "UPDATE customers SET stopped_from = status, status = 4, due = NULL, parked = NULL WHERE account_id = ? AND id = ?",
        &[account.into(), customer_id.into()],
    )
    .await?;
    let e = Event { event: "stopped", actor, from: Some(c.status), to: Some(status::STOPPED), ..Event::default() };
    record(db, account, &campaign.id, customer_id, now, e).await?;
    customer(db, account, customer_id).await?.ok_or_else(|| not_found(customer_id))
}

/// Puts back the status a stopped customer had.
pub async fn resume(db: &impl Db, account: &str, customer_id: i64, actor: &str, now: i64) -> StoreResult<Customer> {
    let (mut c, campaign) = customer_for_write(db, account, customer_id).await?;
    if c.status != status::STOPPED {
        return Err(StoreError::Conflict(format!("customer {customer_id} is not stopped")));
    }
    let before = db
        .row(
            "SELECT stopped_from FROM customers WHERE account_id = ? AND id = ?",
            &[account.into(), customer_id.into()],
        )
        .await?
        .and_then(|r| r.opt_int(0))
        .unwrap_or(status::OPENING);
    c.status = before;
    c.next_call_at = 0;
    save_state(db, account, &c, &campaign, None).await?;
    db.exec(
        "UPDATE customers SET stopped_from = NULL WHERE account_id = ? AND id = ?",
        &[account.into(), customer_id.into()],
    )
    .await?;
    let e = Event { event: "resumed", actor, from: Some(status::STOPPED), to: Some(before), ..Event::default() };
    record(db, account, &campaign.id, customer_id, now, e).await?;
    customer(db, account, customer_id).await?.ok_or_else(|| not_found(customer_id))
}

/// The agents (`stringee_user_id`s, with their agent ids) assigned to a campaign,
/// themselves or through a group.
async fn assigned_users(db: &impl Db, account: &str, campaign: &str) -> StoreResult<Vec<(String, String)>> {
    Ok(db
        .rows(
            &format!(
                "SELECT g.id, g.stringee_user_id FROM agents g WHERE g.account_id = ? AND {} ORDER BY g.seq",
                agents::works_campaign("g.account_id", "?", "g.id")
            ),
            &[account.into(), campaign.into(), campaign.into()],
        )
        .await?
        .iter()
        .map(|r| (r.text(0), r.text(1)))
        .collect())
}

/// The owner of the customer's `USERONLY` callback, when that agent is among
/// `assigned` (from [`assigned_users`]): still works the campaign.
fn working_owner<'a>(c: &'a CustomerState, assigned: &[(String, String)]) -> Option<&'a str> {
    c.callback_owner.as_deref().filter(|o| assigned.iter().any(|(_, u)| u == o))
}

/// Why a customer is or is not callable (CONTRACT §9.5): for `user` when given,
/// else the owner of its `USERONLY` callback, else every assigned agent.
pub async fn explain(
    db: &impl Db,
    account: &str,
    region: &str,
    customer_id: i64,
    user: Option<&str>,
    now: i64,
) -> StoreResult<Explanation> {
    // A claim past its lease gives the customer back now, not at the next sweep.
    end_expired_claim(db, account, customer_id, now).await?;
    let (c, campaign) = customer_for_write(db, account, customer_id).await?;
    if let Some(u) = user {
        // An agent the account does not have is r=4; one not assigned is a reason.
        agents::agent_by_user(db, account, u).await?;
    }
    let hours = hours_of(db, account, &campaign).await?;
    let facts = phone_facts(db, account, &campaign, hours.as_ref(), &c, now).await?;
    let phones: Vec<PhoneVerdict> = facts
        .iter()
        .map(|f| PhoneVerdict { phone: f.phone.clone(), callable: f.callable(), reasons: f.reasons() })
        .collect();
    let assigned = assigned_users(db, account, &campaign.id).await?;
    // A callback's owner is judged alone while it works the campaign; without it,
    // every agent who does.
    let owner = working_owner(&c, &assigned);
    let judged: Vec<Option<(String, String)>> = match user.or(owner) {
        Some(u) => {
            vec![Some(assigned.iter().find(|(_, su)| su == u).cloned().unwrap_or((String::new(), u.to_string())))]
        }
        None if assigned.is_empty() => vec![None],
        None => assigned.iter().cloned().map(Some).collect(),
    };
    let now_ms = crate::domain::ms_within(now);
    let mut union: Vec<&'static str> = Vec::new();
    let mut any_callable = false;
    // When this customer could next be handed to the agent who could have it
    // soonest: each agent's blocks must all clear, so its time is the latest of
    // their clocks, never when one of them has none.
    let mut soonest: Option<i64> = None;
    for who in &judged {
        let mut reasons: Vec<&'static str> = Vec::new();
        let mut at = Some(now);
        let mut block = |clock: Option<i64>| at = at.zip(clock).map(|(a, b)| a.max(b));
        if campaign.status_at(now_ms) != campaign_status::status::RUNNING
            || (campaign.start_time > 0 && now_ms < campaign.start_time)
        {
            reasons.push("campaign_not_running");
            let starts = campaign.status_at(now_ms) == campaign_status::status::RUNNING;
            block(starts.then_some(campaign.start_secs()));
        }
        match who {
            Some((agent, _)) if !agent.is_empty() => {
                let quota = agents::quota_of(db, account, &campaign, agent).await?;
                if let Some(limit) = quota.per_day()
                    && let Some(until) = quota_full_until(db, account, &campaign.id, agent, region, limit, now).await?
                {
                    reasons.push("quota_reached");
                    block(Some(until));
                }
            }
            _ => {
                reasons.push("agent_not_assigned");
                block(None);
            }
        }
        let (customer_reasons, due) =
            rules::customer_reasons(&c, &campaign, who.as_ref().map(|(_, u)| u.as_str()), now);
        if !customer_reasons.is_empty() {
            block(due);
        }
        reasons.extend(customer_reasons);
        if !facts.iter().any(PhoneFacts::callable) {
            reasons.push("no_callable_phone");
        }
        any_callable |= reasons.is_empty();
        if let Some(t) = at {
            soonest = Some(soonest.map_or(t, |s| s.min(t)));
        }
        for r in reasons {
            if !union.contains(&r) {
                union.push(r);
            }
        }
    }
    // And one of its phones must be callable by then: judged at that time (a cap,
    // an entry or the hours may still hold them), else when the first unblocks.
    let next = match (any_callable, soonest) {
        (false, Some(a)) => {
            let known = (a <= now).then_some(facts);
            let open = phones_open_from(db, account, &campaign, hours.as_ref(), &c, a.max(now), known).await?;
            rules::earliest([open], &campaign).filter(|t| *t > now)
        }
        _ => None,
    };
    Ok(Explanation {
        callable: any_callable,
        reasons: if any_callable { Vec::new() } else { union },
        phones,
        next_eligible_at: next,
    })
}

/// A customer's history, oldest first; kept after the customer is deleted.
pub async fn history(db: &impl Db, account: &str, customer_id: i64) -> StoreResult<Vec<HistoryRow>> {
    let mut rows = Vec::new();
    // A customer's arrival is its row's own, until its delete writes it down.
    if let Some(r) = db
        .row(
            &format!(
                "SELECT c.insert_time, c.added_by, {ADDED_STATUS} {CUSTOMER_FROM} WHERE c.account_id = ? AND c.id = ? \
                 AND {VISIBLE}"
            ),
            &[account.into(), customer_id.into()],
        )
        .await?
    {
        rows.push(HistoryRow {
            at: r.int(0),
            event: "added".into(),
            actor: r.text(1),
            phone: None,
            outcome: None,
            from_status: None,
            to_status: Some(r.int(2)),
            claim_id: None,
            call: None,
        });
    }
    let stored = db
        .rows(
            "SELECT at, event, actor, phone, outcome, from_status, to_status, claim_id, detail FROM history \
             WHERE account_id = ? AND customer_id = ? ORDER BY seq",
            &[account.into(), customer_id.into()],
        )
        .await?;
    rows.extend(stored.iter().map(|r| HistoryRow {
        at: r.int(0),
        event: r.text(1),
        actor: r.text(2),
        phone: r.opt_text(3),
        outcome: r.opt_text(4),
        from_status: r.opt_int(5),
        to_status: r.opt_int(6),
        claim_id: r.opt_text(7),
        call: match r.text(1).as_str() {
            "result" => Some(r.opt_text(8).and_then(|d| serde_json::from_str(&d).ok()).unwrap_or_default()),
            _ => None,
        },
    }));
    if rows.is_empty() {
        return Err(not_found(customer_id));
    }
    // In the order things happened: the customer's arrival (written down again
    // when it is deleted), then everything in the order it was written. Not by
    // `at`: a hand-out reads its clock before it waits for the result before it,
    // so two servers' events within a second may carry their seconds out of order.
    rows.sort_by_key(|h| h.event != "added");
    Ok(rows)
}

/// findcustomermanager (CONTRACT §9.3): the agent's `USERONLY` callbacks by
/// `callback_time`, then its live claims by hand-out time, 10 a page.
pub async fn agent_customers(
    db: &impl Db,
    account: &str,
    campaign_id: &str,
    user: &str,
    page: i64,
    now: i64,
) -> StoreResult<(Vec<Customer>, i64)> {
    require_campaign(db, account, campaign_id).await?;
    let (agent, _) = agents::assigned_agent(db, account, campaign_id, user).await?;
    let callbacks = db
        .rows(
            &format!(
                "SELECT {CUSTOMER_COLUMNS} {CUSTOMER_FROM} WHERE c.account_id = ? AND c.campaign_id = ? AND {VISIBLE} \
                 AND c.status = 6 AND c.stringee_user_id_callback = ? ORDER BY c.callback_time, c.id"
            ),
            &[account.into(), campaign_id.into(), user.into()],
        )
        .await?;
    let claimed = db
        .rows(
            &format!(
                "SELECT {CUSTOMER_COLUMNS} {CUSTOMER_FROM} JOIN claims l ON l.account_id = c.account_id \
                 AND l.customer_id = c.id AND l.id = c.claim_id \
                 WHERE l.account_id = ? AND l.campaign_id = ? AND l.agent_id = ? AND l.state = 0 \
                 AND l.lease_expires_at > ? AND c.campaign_id = l.campaign_id AND {VISIBLE} ORDER BY l.created, l.seq"
            ),
            &[account.into(), campaign_id.into(), agent.into(), now.into()],
        )
        .await?;
    let all: Vec<Customer> = callbacks.iter().chain(claimed.iter()).map(customer_row).collect();
    let total = all.len() as i64;
    let rows = all
        .into_iter()
        .skip(usize::try_from((page.max(1) - 1).saturating_mul(10)).unwrap_or(usize::MAX))
        .take(10)
        .collect();
    Ok((rows, total))
}

/// A campaign's figures (CONTRACT §9.1).
pub async fn stats(db: &impl Db, account: &str, campaign_id: &str, now: i64) -> StoreResult<Stats> {
    let (campaign, below) = agents::require_campaign_below(db, account, campaign_id).await?;
    let scope = [Val::from(account), Val::from(campaign_id), Val::Int(below)];
    let mut by_status: BTreeMap<String, i64> = (0..=8).map(|s| (s.to_string(), 0)).collect();
    let mut queued = 0;
    for r in db
        .rows(
            "SELECT status, due, CAST(sum(n) AS BIGINT) FROM customer_counts WHERE account_id = ? AND campaign_id = ? \
             GROUP BY status, due",
            &scope[..2],
        )
        .await?
    {
        *by_status.entry(r.int(0).to_string()).or_insert(0) += r.int(2);
        if r.opt_int(1) == Some(queue::QUEUED) {
            queued += r.int(2);
        }
    }
    let claimed = db
        .row(
            "SELECT count(*) FROM claims WHERE account_id = ? AND campaign_id = ? AND state = 0 AND lease_expires_at > ?",
            &[account.into(), campaign_id.into(), now.into()],
        )
        .await?
        .map_or(0, |r| r.int(0));
    // Claims past their lease that no sweep has given back yet: the counts wait for one.
    let lapsed = db
        .row(
            "SELECT 1 FROM customers c WHERE c.account_id = ? AND c.campaign_id = ? AND c.due = ? AND c.wake_at <= ? \
             LIMIT 1",
            &[account.into(), campaign_id.into(), queue::CLAIMED.into(), now.into()],
        )
        .await?
        .is_some();
    let now_ms = crate::domain::ms_within(now);
    let status_now = campaign.status_at(now_ms);
    let starts_later = campaign.start_time > 0 && now_ms < campaign.start_time;
    let running = status_now == campaign_status::status::RUNNING && !starts_later;
    // Callable means some assigned agent could be handed it.
    let assigned = assigned_users(db, account, campaign_id).await?;
    let owners: Vec<&str> = assigned.iter().map(|(_, u)| u.as_str()).collect();
    let worked = running && !assigned.is_empty();
    let (callable_now, blocked_until) = if worked {
        callable_now(db, account, &campaign, &assigned, below, queued, now, i64::MAX, JUDGED).await?
    } else {
        (0, None)
    };
    // Nobody works the campaign: no clock makes anyone callable (an assignment would).
    let next = if callable_now > 0 || status_now != campaign_status::status::RUNNING || assigned.is_empty() {
        None
    } else if starts_later {
        next_from(db, account, &campaign, &assigned, below, Some(queued), campaign.start_secs()).await?
    } else {
        // A queued customer whose phones are blocked for now (a do-not-call entry
        // that expires, a cap, the hours) unblocks with its first phone.
        let clocks = next_eligible(db, account, &campaign, &owners, below, now).await?;
        rules::earliest([clocks, blocked_until], &campaign)
    };
    Ok(Stats { by_status, claimed, callable_now, next_eligible_at: next, lapsed })
}

/// Gives back the campaign's claims past their lease now (a sweep of the campaign),
/// for a read that found some not swept yet.
pub async fn give_back_lapsed(db: &impl Db, account: &str, campaign_id: &str, now: i64) -> StoreResult<()> {
    let campaign = require_campaign(db, account, campaign_id).await?;
    sweep(db, Some((account, &campaign)), now).await?;
    Ok(())
}

/// The most customers [`callable_now`] judges one by one for the stats.
const JUDGED: i64 = 5_000;
/// The same for a hand-out before the campaign's start or at the agent's quota.
const HANDOUT_JUDGED: i64 = 64;

/// When someone `assigned` could first be handed a customer from the moment `start`
/// on (a campaign's start, the day an agent's quota ends): `start` if someone is
/// callable then, else the first clock after it, and null when nothing can become
/// callable before the campaign's end (CONTRACT §9's conventions). `queued`: the
/// campaign's queued customers when known (the stats' counts).
async fn next_from(
    db: &impl Db,
    account: &str,
    campaign: &Campaign,
    assigned: &[(String, String)],
    below: i64,
    queued: Option<i64>,
    start: i64,
) -> StoreResult<Option<i64>> {
    // The stats judge as many as they judge now; an agent's hand-out, asked over and
    // over before the start, judges a few and takes a longer queue for callable.
    let (queued, judged) = match queued {
        Some(n) => (n, JUDGED),
        None => {
            let n = db
                .row(
                    &format!(
                        "SELECT count(*) FROM (SELECT 1 FROM customers{} WHERE account_id = ? AND campaign_id = ? \
                         AND id < ? AND due = 1 LIMIT ?) q",
                        db.queue_index()
                    ),
                    &[account.into(), campaign.id.as_str().into(), below.into(), (HANDOUT_JUDGED + 1).into()],
                )
                .await?
                .map_or(0, |r| r.int(0));
            (n, HANDOUT_JUDGED)
        }
    };
    // A claim whose lease ends by the start gives its customer back by then.
    let freed = db
        .row(
            "SELECT 1 FROM customers WHERE account_id = ? AND campaign_id = ? AND id < ? AND due = ? AND wake_at <= ? \
             LIMIT 1",
            &[account.into(), campaign.id.as_str().into(), below.into(), queue::CLAIMED.into(), start.into()],
        )
        .await?
        .is_some();
    let (callable, unblocks) = callable_now(db, account, campaign, assigned, below, queued, start, 1, judged).await?;
    if callable > 0 || freed {
        return Ok(rules::earliest([Some(start)], campaign));
    }
    let owners: Vec<&str> = assigned.iter().map(|(_, u)| u.as_str()).collect();
    let clocks = next_eligible(db, account, campaign, &owners, below, start).await?;
    Ok(rules::earliest([clocks, unblocks], campaign))
}

/// How many customers some assigned agent could be handed now: those queued (from
/// the counts), with a callback due, or waiting for a clock rung by `now`, whose
/// phones are callable at `now` (a campaign that starts later is judged at its start).
/// Each is judged exactly up to `judged` of them; past that, they count unjudged
/// (phones found blocked at hand-out leave the queue, so the count stays close).
/// With it, the soonest a judged customer not callable at `now` could be. Counting
/// stops at `enough`.
#[allow(clippy::too_many_arguments)]
async fn callable_now(
    db: &impl Db,
    account: &str,
    campaign: &Campaign,
    assigned: &[(String, String)],
    below: i64,
    queued: i64,
    now: i64,
    enough: i64,
    judged: i64,
) -> StoreResult<(i64, Option<i64>)> {
    let scope = [Val::from(account), Val::from(campaign.id.as_str()), Val::Int(below), Val::Int(now)];
    // One equality on `due` a count: each a range of the queue's index (an IN list
    // had SQLite walk the campaign's customers instead).
    let mut callbacks = 0;
    for due in [queue::WAITING, queue::CALLBACK] {
        let mut args = scope.to_vec();
        args.insert(3, Val::Int(due));
        callbacks += db
            .row(
                "SELECT count(*) FROM customers WHERE account_id = ? AND campaign_id = ? AND id < ? AND due = ? \
                 AND wake_at <= ?",
                &args,
            )
            .await?
            .map_or(0, |r| r.int(0));
    }
    if queued + callbacks > judged {
        return Ok((queued + callbacks, None));
    }
    let hours = hours_of(db, account, campaign).await?;
    // The queued, and the waiting and callbacks whose clock has rung: each a range of
    // the queue's index (as one OR, SQLite walked the campaign's customers).
    let base = format!(
        "SELECT {STATE_COLUMNS} FROM customers c{} WHERE c.account_id = ? AND c.campaign_id = ? AND c.id < ?",
        db.queue_index()
    );
    let mut args: Vec<Val> = scope[..3].to_vec();
    args.extend(scope[..3].iter().cloned().chain([Val::Int(now)]));
    args.extend(scope[..3].iter().cloned().chain([Val::Int(now)]));
    let rows = db
        .rows(
            &format!(
                "{base} AND c.due = 1 UNION ALL {base} AND c.due = 0 AND c.wake_at <= ? \
                 UNION ALL {base} AND c.due = 2 AND c.wake_at <= ?"
            ),
            &args,
        )
        .await?;
    let (mut count, mut unblocks) = (0, None);
    for r in rows {
        let c = state_of(&r);
        // A USERONLY callback is its owner's while the owner works the campaign; else
        // it is for the others, after the grace: judged as for one of them.
        let (reasons, due) =
            rules::customer_reasons(&c, campaign, Some(working_owner(&c, assigned).unwrap_or("")), now);
        // A clock that ends with no calls left makes nobody callable.
        if rules::ends_unsuccessful(&c, campaign) {
            continue;
        }
        if !reasons.is_empty() {
            unblocks = rules::earliest([unblocks, due], campaign);
            continue;
        }
        let facts = phone_facts(db, account, campaign, hours.as_ref(), &c, now).await?;
        if facts.iter().any(PhoneFacts::callable) {
            count += 1;
            if count >= enough {
                break;
            }
        } else {
            unblocks = rules::earliest([unblocks, rules::phones_open_at(&facts, now)], campaign);
        }
    }
    Ok((count, unblocks))
}

/// What the fields of a customer a campaign update changes mean for its queue: a
/// raised `max_call_retry` re-queues customers that had run out; a changed
/// `time_do_not_call` moves do-not-call-back ends.
pub async fn requeue(db: &impl Db, account: &str, campaign: &Campaign) -> StoreResult<()> {
    unpark(db, account, Some(&campaign.id)).await?;
    let max = campaign.max_calls();
    db.exec(
        "UPDATE customers SET due = 1, wake_at = 0 WHERE account_id = ? AND campaign_id = ? AND (due IS NULL OR due = 4) \
         AND status IN (1, 3) AND number_call_out < ?",
        &[account.into(), campaign.id.as_str().into(), max.into()],
    )
    .await?;
    let days = campaign.calling.time_do_not_call;
    if days > 0 {
        db.exec(
            "UPDATE customers SET due = 0, wake_at = last_time_make_call + ?, parked = NULL WHERE account_id = ? \
             AND campaign_id = ? AND status = 8 AND dnc_kind = ?",
            &[(days * 86_400).into(), account.into(), campaign.id.as_str().into(), dnc_kind::CALL_BACK_LATER.into()],
        )
        .await?;
    } else {
        db.exec(
            "UPDATE customers SET due = NULL, wake_at = 0 WHERE account_id = ? AND campaign_id = ? AND status = 8 \
             AND dnc_kind = ?",
            &[account.into(), campaign.id.as_str().into(), dnc_kind::CALL_BACK_LATER.into()],
        )
        .await?;
    }
    queue_head::queued(account, Some(&campaign.id), None);
    Ok(())
}

/// Moves a campaign through its lifecycle (CONTRACT §9.1); r=7 naming its status.
pub async fn act(
    db: &impl Db,
    account: &str,
    campaign_id: &str,
    action: campaign_status::Action,
    now: i64,
) -> StoreResult<Campaign> {
    let row = db
        .row(
            &format!(
                "SELECT {} FROM campaigns WHERE account_id = ? AND id = ? AND hidden = 0{}",
                agents::CAMPAIGN_COLUMNS,
                db.for_update()
            ),
            &[account.into(), campaign_id.into()],
        )
        .await?
        .ok_or_else(|| StoreError::CampaignNotFound(campaign_id.to_string()))?;
    let campaign = agents::campaign(&row);
    let to = action.apply(campaign_id, campaign.status).map_err(StoreError::Conflict)?;
    db.exec(
        "UPDATE campaigns SET status = ?, updated = ? WHERE account_id = ? AND id = ?",
        &[to.into(), now.into(), account.into(), campaign_id.into()],
    )
    .await?;
    require_campaign(db, account, campaign_id).await
}

/// Rows one multi-row statement handles.
const ROWS_PER_STATEMENT: usize = 400;

/// r=7 when a live claim holds any of these customers (CONTRACT §9.4): nothing of
/// the request is written.
///
/// On PostgreSQL the customers' rows are locked first, whatever they hold: a
/// hand-out under way holds its customer's row until it commits, so this waits for
/// it and then reads its claim; a hand-out that comes after passes the row over.
pub async fn refuse_any_claimed(db: &impl Db, account: &str, ids: &[i64], what: &str, now: i64) -> StoreResult<()> {
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut args: Vec<Val> = vec![account.into()];
        args.extend(chunk.iter().map(|id| Val::Int(*id)));
        let rows = db
            .rows(
                &format!(
                    "SELECT id, claim_id, due, wake_at FROM customers{} WHERE account_id = ? AND id IN ({}) \
                     ORDER BY id{}",
                    db.by_id(),
                    marks(chunk.len()),
                    db.for_update()
                ),
                &args,
            )
            .await?;
        if let Some(r) = rows.iter().find(|r| r.opt_int(2) == Some(3) && r.int(3) > now) {
            return Err(StoreError::Conflict(format!(
                "customer {} is held by claim '{}'; {what}",
                r.int(0),
                r.text(1)
            )));
        }
        // A claim whose lease ran out, which no sweep has met yet, ends first, as
        // the sweep would end it: its customer's history shows the claim expire.
        for r in rows.iter().filter(|r| r.opt_int(2) == Some(3)) {
            end_expired_claim(db, account, r.int(0), now).await?;
        }
    }
    Ok(())
}

/// The status a customer arrived with: 8 when every phone was listed at its add
/// (for good, with no call made), else 0.
const ADDED_STATUS: &str = "CASE WHEN c.dnc_kind = 2 AND c.number_call_out = 0 THEN 8 ELSE 0 END";

/// Writes down the arrival and the delete of the customers `which` picks from
/// `table` (customers `c`, visible ones), in id order: their rows are about to go.
async fn record_gone(
    db: &impl Db,
    account: &str,
    table: &str,
    which: &str,
    args: &[Val],
    actor: &str,
    now: i64,
) -> StoreResult<()> {
    let scope = format!("FROM {table} WHERE c.account_id = ? AND {which} ORDER BY c.id");
    let mut added: Vec<Val> = vec![account.into()];
    added.extend(args.iter().cloned());
    db.exec(
        &format!(
            "INSERT INTO history (account_id, customer_id, campaign_id, at, event, actor, to_status) \
             SELECT c.account_id, c.id, c.campaign_id, c.insert_time, 'added', c.added_by, {ADDED_STATUS} {scope}"
        ),
        &added,
    )
    .await?;
    let mut deleted: Vec<Val> = vec![now.into(), actor.into(), account.into()];
    deleted.extend(args.iter().cloned());
    db.exec(
        &format!(
            "INSERT INTO history (account_id, customer_id, campaign_id, at, event, actor, from_status) \
             SELECT c.account_id, c.id, c.campaign_id, ?, 'deleted', ?, c.status {scope}"
        ),
        &deleted,
    )
    .await?;
    Ok(())
}

/// Writes down the arrival and the delete of customers about to go, set by set.
pub async fn record_deletes(db: &impl Db, account: &str, ids: &[i64], actor: &str, now: i64) -> StoreResult<()> {
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let ids: Vec<Val> = chunk.iter().map(|id| Val::Int(*id)).collect();
        let table = format!("customers c{}", db.by_id());
        record_gone(db, account, &table, &format!("c.id IN ({})", marks(chunk.len())), &ids, actor, now).await?;
    }
    Ok(())
}

/// Before a campaign is deleted: r=7 while a live claim holds one of its customers
/// (as for a customer's own delete, CONTRACT §9.4); else every customer's arrival
/// and delete are written down, so each one's history outlives it, and the
/// campaign's own do-not-call entries are removed.
pub async fn record_campaign_delete(
    db: &impl Db,
    account: &str,
    campaign: &str,
    actor: &str,
    now: i64,
) -> StoreResult<()> {
    // Waits for the campaign's hand-outs under way; later ones find it gone.
    hold_campaign(db, account, campaign).await?;
    let live = db
        .row(
            "SELECT count(*) FROM claims WHERE account_id = ? AND campaign_id = ? AND state = 0 AND lease_expires_at > ?",
            &[account.into(), campaign.into(), now.into()],
        )
        .await?
        .map_or(0, |r| r.int(0));
    if live > 0 {
        return Err(StoreError::Conflict(format!(
            "campaign {campaign} has {live} live claim(s); pause it and release them or wait for their results before \
             deleting it"
        )));
    }
    // The campaign's own do-not-call entries go with it: they block nothing once it
    // is gone, and nothing could list or remove them (the account's stay).
    db.exec("DELETE FROM dnc WHERE account_id = ? AND campaign_id = ?", &[account.into(), campaign.into()]).await?;
    // An import in progress into the campaign has customers from its mark on, which
    // nobody has seen: they leave no history.
    let (_, below) = agents::require_campaign_below(db, account, campaign).await?;
    let which = "c.campaign_id = ? AND c.id < ?";
    record_gone(db, account, "customers c", which, &[campaign.into(), below.into()], actor, now).await
}

/// Writes down what a keepduplicate does: the phones it takes from customers that
/// keep others ((customer, its phones before, the phones it keeps)), and of the
/// customers it removes, each phone taken and then the delete.
#[allow(clippy::too_many_arguments)]
pub async fn record_keep(
    db: &impl Db,
    account: &str,
    campaign: &str,
    gone: &[i64],
    changed: &[(i64, String, String)],
    before: &std::collections::HashMap<i64, String>,
    actor: &str,
    now: i64,
) -> StoreResult<()> {
    let emptied = gone.iter().map(|id| (*id, before.get(id).cloned().unwrap_or_default(), String::new()));
    let taken: Vec<(i64, String, String)> = emptied.chain(changed.iter().cloned()).collect();
    record_phone_removals(db, account, campaign, &taken, actor, now).await?;
    record_deletes(db, account, gone, actor, now).await
}

/// Writes down the phones keepduplicate takes: (customer, its phones before, the
/// phones it keeps).
async fn record_phone_removals(
    db: &impl Db,
    account: &str,
    campaign: &str,
    changes: &[(i64, String, String)],
    actor: &str,
    now: i64,
) -> StoreResult<()> {
    let mut rows: Vec<(i64, String)> = Vec::new();
    for (id, before, kept) in changes {
        let kept: Vec<&str> = kept.split(',').collect();
        rows.extend(before.split(',').filter(|p| !p.is_empty() && !kept.contains(p)).map(|p| (*id, p.to_string())));
    }
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut args: Vec<Val> = Vec::with_capacity(chunk.len() * 6);
        for (id, phone) in chunk {
            args.extend([account.into(), Val::Int(*id), campaign.into(), now.into(), actor.into(), phone.into()]);
        }
        let values = vec!["(?, ?, ?, ?, 'phone_removed', ?, ?)"; chunk.len()].join(", ");
        db.exec(
            &format!(
                "INSERT INTO history (account_id, customer_id, campaign_id, at, event, actor, phone) VALUES {values}"
            ),
            &args,
        )
        .await?;
    }
    Ok(())
}
