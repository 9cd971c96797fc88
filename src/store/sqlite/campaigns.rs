//! Campaigns.

use rusqlite::{Connection, OptionalExtension, Row, ToSql, Transaction};

use super::{StoreError, StoreResult, insert_with_fresh_id, resolve_portal};
use crate::domain::campaign::{Campaign, CampaignFields};
use crate::domain::ids::IdKind;
use crate::domain::now_secs;
use crate::domain::page::{Page, Paged};
use crate::domain::text;
use crate::store::plan::SearchNames;
use crate::store::shared::calling;

const COLUMNS: &str = "id, name, desc1, portal_id, start_time, end_time, max_call_retry, \
                       time_between_two_call, number, created, updated, status, calling";

fn row(r: &Row<'_>) -> rusqlite::Result<Campaign> {
    Ok(Campaign {
        id: r.get(0)?,
        name: r.get(1)?,
        desc1: r.get(2)?,
        portal: r.get(3)?,
        start_time: r.get(4)?,
        end_time: r.get(5)?,
        max_call_retry: r.get(6)?,
        time_between_two_call: r.get(7)?,
        number: r.get(8)?,
        created: r.get(9)?,
        updated: r.get(10)?,
        status: crate::store::plan::shown_status(r.get(11)?, r.get(5)?),
        calling: crate::store::plan::calling_of(&r.get::<_, String>(12)?),
    })
}

/// The values of the columns a campaign's settings are stored in, in the order
/// portal_id, name, name_lower, name_folded, desc1, start_time, end_time,
/// max_call_retry, time_between_two_call, number, businesshour, calling.
fn settings<'a>(c: &'a Campaign, names: &'a SearchNames) -> [&'a dyn ToSql; 12] {
    [
        &c.portal,
        &c.name,
        &names.lower,
        &names.folded,
        &c.desc1,
        &c.start_time,
        &c.end_time,
        &c.max_call_retry,
        &c.time_between_two_call,
        &c.number,
        &c.calling.businesshour,
        &names.calling,
    ]
}

pub fn create(tx: &Transaction<'_>, account_id: &str, fields: CampaignFields) -> StoreResult<Campaign> {
    create_as(tx, account_id, fields, false)
}

/// Creates a campaign, `hidden` from readers until an import that makes it publishes it.
/// r=4 unless the account has the callable-hours set `id`.
fn check_hours(conn: &Connection, account_id: &str, id: Option<i64>) -> StoreResult<()> {
    let found = match id {
        Some(id) => conn
            .prepare_cached("SELECT 1 FROM business_hours WHERE account_id = ?1 AND id = ?2")?
            .query_row((account_id, id), |_| Ok(()))
            .optional()?
            .is_some(),
        None => true,
    };
    crate::store::plan::require_hours(found, id)
}

pub fn create_as(tx: &Connection, account_id: &str, fields: CampaignFields, hidden: bool) -> StoreResult<Campaign> {
    let portal = resolve_portal(tx, account_id, fields.portal.as_deref())?;
    let blank = Campaign::blank(String::new(), portal, now_secs());
    let mut campaign = fields.apply(blank).map_err(StoreError::Invalid)?;
    check_hours(tx, account_id, campaign.calling.businesshour)?;
    let names = SearchNames::of(&campaign);
    campaign.id = insert_with_fresh_id(tx, &mut IdKind::Campaign, |tx, id| {
        let c = &campaign;
        let values: &[&dyn ToSql] = &[&account_id, &id];
        tx.execute(
            "INSERT INTO campaigns (account_id, id, portal_id, name, name_lower, name_folded, desc1, start_time, \
             end_time, max_call_retry, time_between_two_call, number, businesshour, calling, created, updated, hidden) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            &[values, &settings(c, &names)[..], &[&c.created, &c.updated, &hidden]].concat()[..],
        )
        .map(drop)
    })?;
    Ok(campaign)
}

pub fn get(conn: &Connection, account_id: &str, id: &str) -> StoreResult<Option<Campaign>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM campaigns WHERE account_id = ?1 AND id = ?2 AND hidden = 0"))?
        .query_row((account_id, id), row)
        .optional()?)
}

/// Campaigns in creation order, optionally those whose name contains `name` (accent-smart).
pub fn list(conn: &Connection, account_id: &str, name: Option<&str>, page: Page) -> StoreResult<Paged<Campaign>> {
    let (filter, needle) = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) if text::has_diacritics(n) => ("AND instr(name_lower, ?2) > 0", text::lower(n)),
        Some(n) => ("AND instr(name_folded, ?2) > 0", text::fold(n)),
        None => ("AND ?2 = ''", String::new()),
    };
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM campaigns WHERE account_id = ?1 AND hidden = 0 {filter}"))?
        .query_row((account_id, &needle), |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM campaigns WHERE account_id = ?1 AND hidden = 0 {filter} ORDER BY rowid LIMIT ?3 OFFSET ?4"
    ))?;
    let rows = stmt.query_map((account_id, &needle, page.limit, page.offset()), row)?.collect::<Result<_, _>>()?;
    Ok(Paged { rows, total })
}

pub fn update(
    tx: &Transaction<'_>,
    account_id: &str,
    id: &str,
    fields: CampaignFields,
) -> StoreResult<Option<Campaign>> {
    let Some(current) = get(tx, account_id, id)? else {
        return Ok(None);
    };
    if let Some(p) = fields.portal.as_deref() {
        resolve_portal(tx, account_id, Some(p))?;
    }
    let mut c = fields.apply(current).map_err(StoreError::Invalid)?;
    check_hours(tx, account_id, c.calling.businesshour)?;
    c.updated = now_secs();
    let names = SearchNames::of(&c);
    let values: &[&dyn ToSql] = &[&account_id, &id];
    tx.execute(
        "UPDATE campaigns SET portal_id = ?3, name = ?4, name_lower = ?5, name_folded = ?6, desc1 = ?7, \
         start_time = ?8, end_time = ?9, max_call_retry = ?10, time_between_two_call = ?11, number = ?12, \
         businesshour = ?13, calling = ?14, updated = ?15, status = ?16 WHERE account_id = ?1 AND id = ?2",
        &[values, &settings(&c, &names)[..], &[&c.updated, &c.status]].concat()[..],
    )?;
    Ok(Some(c))
}

/// Hides the campaign from every reader: the first step of deleting it, whose
/// customers then go a chunk at a time. With an actor, their history records the
/// delete in the same transaction (r=7 while a claim on one is live). False when
/// the account has no such campaign.
pub fn hide(tx: &Transaction<'_>, account_id: &str, actor: Option<&str>, id: &str) -> StoreResult<bool> {
    if let Some(actor) = actor
        && get(tx, account_id, id)?.is_some()
    {
        let db = super::db::SqliteDb(tx);
        super::db::now(calling::record_campaign_delete(&db, account_id, id, actor, now_secs()))?;
    }
    let n = tx.execute(
        "UPDATE campaigns SET hidden = 1 WHERE account_id = ?1 AND id = ?2 AND hidden = 0",
        (account_id, id),
    )?;
    Ok(n > 0)
}

/// How many customers the campaign has, from its counter; `None` when it is not the account's.
pub fn customer_count(conn: &Connection, account_id: &str, id: &str) -> StoreResult<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT customer_count FROM campaigns WHERE account_id = ?1 AND id = ?2 AND hidden = 0")?
        .query_row((account_id, id), |r| r.get(0))
        .optional()?)
}
