//! Campaigns.

use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row};

use super::db::PgDb;
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

fn row(r: &Row) -> Campaign {
    Campaign {
        id: r.get(0),
        name: r.get(1),
        desc1: r.get(2),
        portal: r.get(3),
        start_time: r.get(4),
        end_time: r.get(5),
        max_call_retry: r.get(6),
        time_between_two_call: r.get(7),
        number: r.get(8),
        created: r.get(9),
        updated: r.get(10),
        status: crate::store::plan::shown_status(r.get(11), r.get(5)),
        calling: crate::store::plan::calling_of(r.get::<_, &str>(12)),
    }
}

/// The values of the columns a campaign's settings are stored in, in the order
/// portal_id, name, name_lower, name_folded, desc1, start_time, end_time,
/// max_call_retry, time_between_two_call, number, businesshour, calling.
fn settings<'a>(c: &'a Campaign, names: &'a SearchNames) -> [&'a (dyn ToSql + Sync); 12] {
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

/// r=4 unless the account has the callable-hours set `id`.
async fn check_hours(db: &impl GenericClient, account_id: &str, id: Option<i64>) -> StoreResult<()> {
    let found = match id {
        Some(id) => db
            // Locked until the campaign commits, so that a delete of the set waits and
            // then sees the campaign using it (hours::delete).
            .query_opt(
                "SELECT 1 FROM business_hours WHERE account_id = $1 AND id = $2 FOR KEY SHARE",
                &[&account_id, &id],
            )
            .await?
            .is_some(),
        None => true,
    };
    crate::store::plan::require_hours(found, id)
}

pub async fn create(db: &impl GenericClient, account_id: &str, fields: CampaignFields) -> StoreResult<Campaign> {
    let portal = resolve_portal(db, account_id, fields.portal.as_deref()).await?;
    let blank = Campaign::blank(String::new(), portal, now_secs());
    let mut c = fields.apply(blank).map_err(StoreError::Invalid)?;
    check_hours(db, account_id, c.calling.businesshour).await?;
    let names = SearchNames::of(&c);
    c.id = insert_with_fresh_id(
        db,
        IdKind::Campaign,
        "INSERT INTO campaigns (id, account_id, portal_id, name, name_lower, name_folded, desc1, start_time, \
         end_time, max_call_retry, time_between_two_call, number, businesshour, calling, created, updated) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT DO NOTHING",
        &[&[&account_id as &(dyn ToSql + Sync)], &settings(&c, &names)[..], &[&c.created, &c.updated]].concat(),
    )
    .await?;
    Ok(c)
}

/// The campaign; with `lock`, its row stays locked until the transaction ends, which
/// is how writes to one campaign's customers take turns across servers.
pub async fn get(db: &impl GenericClient, account_id: &str, id: &str, lock: bool) -> StoreResult<Option<Campaign>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let found = db
        .query_opt(
            &format!("SELECT {COLUMNS} FROM campaigns WHERE account_id = $1 AND id = $2{lock}"),
            &[&account_id, &id],
        )
        .await?;
    Ok(found.as_ref().map(row))
}

/// Locks the campaign's row for the transaction and returns its customer count;
/// `None` when the account has no such campaign.
pub async fn lock(db: &impl GenericClient, account_id: &str, id: &str) -> StoreResult<Option<i64>> {
    let found = db
        .query_opt(
            "SELECT customer_count FROM campaigns WHERE account_id = $1 AND id = $2 FOR UPDATE",
            &[&account_id, &id],
        )
        .await?;
    Ok(found.map(|r| r.get(0)))
}

/// Campaigns in creation order, optionally those whose name contains `name` (accent-smart).
pub async fn list(
    db: &impl GenericClient,
    account_id: &str,
    name: Option<&str>,
    page: Page,
) -> StoreResult<Paged<Campaign>> {
    let (filter, needle) = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) if text::has_diacritics(n) => ("AND strpos(name_lower, $2) > 0", text::lower(n)),
        Some(n) => ("AND strpos(name_folded, $2) > 0", text::fold(n)),
        None => ("AND $2 = ''", String::new()),
    };
    let total: i64 = db
        .query_one(&format!("SELECT count(*) FROM campaigns WHERE account_id = $1 {filter}"), &[&account_id, &needle])
        .await?
        .get(0);
    let rows = db
        .query(
            &format!("SELECT {COLUMNS} FROM campaigns WHERE account_id = $1 {filter} ORDER BY seq LIMIT $3 OFFSET $4"),
            &[&account_id, &needle, &page.limit, &page.offset()],
        )
        .await?;
    Ok(Paged { rows: rows.iter().map(row).collect(), total })
}

pub async fn update(
    db: &impl GenericClient,
    account_id: &str,
    id: &str,
    fields: CampaignFields,
) -> StoreResult<Option<Campaign>> {
    let Some(current) = get(db, account_id, id, true).await? else {
        return Ok(None);
    };
    if let Some(p) = fields.portal.as_deref() {
        resolve_portal(db, account_id, Some(p)).await?;
    }
    let mut c = fields.apply(current).map_err(StoreError::Invalid)?;
    check_hours(db, account_id, c.calling.businesshour).await?;
    c.updated = now_secs();
    let names = SearchNames::of(&c);
    db.execute(
        "UPDATE campaigns SET portal_id = $3, name = $4, name_lower = $5, name_folded = $6, desc1 = $7, \
         start_time = $8, end_time = $9, max_call_retry = $10, time_between_two_call = $11, number = $12, \
         businesshour = $13, calling = $14, updated = $15, status = $16 WHERE account_id = $1 AND id = $2",
        &[&[&account_id as &(dyn ToSql + Sync), &id], &settings(&c, &names)[..], &[&c.updated, &c.status]].concat(),
    )
    .await?;
    Ok(Some(c))
}

pub async fn delete<C: GenericClient + Sync>(
    db: &C,
    account_id: &str,
    actor: Option<&str>,
    id: &str,
) -> StoreResult<bool> {
    // The hand-out lock before the campaign's row, as keepduplicate and a campaign
    // update take them: taken the other way round, a delete and a keepduplicate at
    // once each held what the other waited for, until PostgreSQL broke the deadlock.
    calling::hold_campaign(&PgDb(db), account_id, id).await?;
    if lock(db, account_id, id).await?.is_none() {
        return Ok(false);
    }
    if let Some(actor) = actor {
        calling::record_campaign_delete(&PgDb(db), account_id, id, actor, now_secs()).await?;
    }
    db.execute("DELETE FROM customers WHERE account_id = $1 AND campaign_id = $2", &[&account_id, &id]).await?;
    db.execute("DELETE FROM customer_counts WHERE account_id = $1 AND campaign_id = $2", &[&account_id, &id]).await?;
    db.execute("DELETE FROM campaigns WHERE account_id = $1 AND id = $2", &[&account_id, &id]).await?;
    Ok(true)
}
