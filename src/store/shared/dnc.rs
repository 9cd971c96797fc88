//! Do-not-call lists (CONTRACT §10.1): the account's and each campaign's, with
//! expiry; checked when customers are added and again at every hand-out.

use std::collections::HashSet;

use super::agents::require_campaign;
use super::db::{Db, Val, marks};
use crate::calling::model::{DncAdded, DncCheck, DncCheckEntry, DncEntry};
use crate::calling::rules::{dnc_kind, status};
use crate::domain::now_secs;
use crate::domain::page::{Page, Paged};
use crate::store::StoreResult;

/// The list a request names: the account's (`''`) or one campaign's.
async fn scope_of(db: &impl Db, account: &str, campaign: Option<&str>) -> StoreResult<String> {
    match campaign {
        Some(c) => Ok(require_campaign(db, account, c).await?.id),
        None => Ok(String::new()),
    }
}

/// Adds phones (normalized) to a list; a phone with an entry in force there is
/// skipped, an expired entry replaced. Parked customers are looked at again.
pub async fn add(
    db: &impl Db,
    account: &str,
    campaign: Option<&str>,
    phones: &[String],
    reason: &str,
    expires_at: Option<i64>,
) -> StoreResult<DncAdded> {
    let scope = scope_of(db, account, campaign).await?;
    let now = now_secs();
    let mut out = DncAdded::default();
    let mut seen = HashSet::new();
    for phone in phones {
        if !seen.insert(phone.as_str()) {
            out.skipped += 1;
            continue;
        }
        let changed = db
            .exec(
                "INSERT INTO dnc (account_id, campaign_id, phone, reason, expires_at, created) VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (account_id, campaign_id, phone) DO UPDATE SET reason = excluded.reason, \
                 expires_at = excluded.expires_at, created = excluded.created \
                 WHERE dnc.expires_at IS NOT NULL AND dnc.expires_at <= ?",
                &[account.into(), scope.as_str().into(), phone.into(), reason.into(), expires_at.into(), now.into(), now.into()],
            )
            .await?;
        if changed > 0 {
            out.added += 1;
        } else {
            out.skipped += 1;
        }
    }
    Ok(out)
}

const ENTRY_COLUMNS: &str = "phone, campaign_id, reason, expires_at, created";

fn entry(r: &super::db::Row) -> DncEntry {
    let campaign = r.text(1);
    DncEntry {
        phone: r.text(0),
        scope: if campaign.is_empty() { "account" } else { "campaign" },
        campaign: (!campaign.is_empty()).then_some(campaign),
        reason: r.text(2),
        expires_at: r.opt_int(3),
        created: r.int(4),
    }
}

/// Every entry (the account's and every campaign's), or one campaign's only.
pub async fn list(
    db: &impl Db,
    account: &str,
    phone: Option<&str>,
    campaign: Option<&str>,
    page: Page,
) -> StoreResult<Paged<DncEntry>> {
    let mut filter = String::new();
    let mut args: Vec<Val> = vec![account.into()];
    if let Some(c) = campaign {
        filter.push_str(" AND campaign_id = ?");
        args.push(scope_of(db, account, Some(c)).await?.into());
    }
    if let Some(p) = phone {
        filter.push_str(" AND phone = ?");
        args.push(p.into());
    }
    let total =
        db.row(&format!("SELECT count(*) FROM dnc WHERE account_id = ?{filter}"), &args).await?.map_or(0, |r| r.int(0));
    args.extend([page.limit.into(), page.offset().into()]);
    let rows = db
        .rows(
            &format!("SELECT {ENTRY_COLUMNS} FROM dnc WHERE account_id = ?{filter} ORDER BY created, phone, campaign_id LIMIT ? OFFSET ?"),
            &args,
        )
        .await?;
    Ok(Paged { rows: rows.iter().map(entry).collect(), total })
}

/// Removes phones from a list; how many entries went. Customers parked for a
/// blocked phone are looked at again at their next hand-out.
pub async fn delete(db: &impl Db, account: &str, campaign: Option<&str>, phones: &[String]) -> StoreResult<i64> {
    super::calling::hold_blocks(db, account).await?;
    let scope = scope_of(db, account, campaign).await?;
    let mut gone = 0;
    for phone in phones {
        gone += db
            .exec(
                "DELETE FROM dnc WHERE account_id = ? AND campaign_id = ? AND phone = ?",
                &[account.into(), scope.as_str().into(), phone.into()],
            )
            .await? as i64;
    }
    if gone > 0 {
        super::calling::unpark(db, account, None).await?;
    }
    Ok(gone)
}

/// Each phone's entries: the account's, plus the campaign's when one is named.
pub async fn check(
    db: &impl Db,
    account: &str,
    campaign: Option<&str>,
    phones: &[String],
) -> StoreResult<Vec<(String, DncCheck)>> {
    let scope = match campaign {
        Some(c) => Some(scope_of(db, account, Some(c)).await?),
        None => None,
    };
    let now = now_secs();
    let mut out = Vec::with_capacity(phones.len());
    for phone in phones {
        let mut args: Vec<Val> = vec![account.into(), phone.into()];
        let filter = match &scope {
            Some(s) => {
                args.push(s.as_str().into());
                " AND (campaign_id = '' OR campaign_id = ?)"
            }
            None => " AND campaign_id = ''",
        };
        let rows = db
            .rows(
                &format!(
                    "SELECT {ENTRY_COLUMNS} FROM dnc WHERE account_id = ? AND phone = ?{filter} ORDER BY campaign_id"
                ),
                &args,
            )
            .await?;
        let entries: Vec<DncCheckEntry> = rows
            .iter()
            .map(entry)
            .map(|e| DncCheckEntry { scope: e.scope, campaign: e.campaign, reason: e.reason, expires_at: e.expires_at })
            .collect();
        let dnc = entries.iter().any(|e| e.expires_at.is_none_or(|t| t > now));
        out.push((phone.clone(), DncCheck { dnc, entries }));
    }
    Ok(out)
}

/// Marks the customers an add just wrote (ids `from..=to` of the campaign) whose
/// every phone is on the account's or the campaign's list: status 8 and
/// `do_not_call` 1 for good. Returns how many.
pub async fn mark_listed(db: &impl Db, account: &str, campaign: &str, from: i64, to: i64) -> StoreResult<i64> {
    let now = now_secs();
    let any = db
        .row(
            "SELECT 1 FROM dnc WHERE account_id = ? AND (campaign_id = '' OR campaign_id = ?) \
             AND (expires_at IS NULL OR expires_at > ?) LIMIT 1",
            &[account.into(), campaign.into(), now.into()],
        )
        .await?;
    if any.is_none() || from > to {
        return Ok(0);
    }
    let mut marked = 0;
    let mut after = from - 1;
    loop {
        let rows = db
            .rows(
                "SELECT id, phones FROM customers WHERE account_id = ? AND campaign_id = ? AND id > ? AND id <= ? ORDER BY id LIMIT 512",
                &[account.into(), campaign.into(), after.into(), to.into()],
            )
            .await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.int(0);
        let phones: Vec<String> =
            rows.iter().flat_map(|r| r.text(1).split(',').map(str::to_string).collect::<Vec<_>>()).collect();
        let mut args: Vec<Val> = vec![account.into(), campaign.into(), now.into()];
        args.extend(phones.iter().map(Val::from));
        let listed: HashSet<String> = db
            .rows(
                &format!(
                    "SELECT phone FROM dnc WHERE account_id = ? AND (campaign_id = '' OR campaign_id = ?) \
                     AND (expires_at IS NULL OR expires_at > ?) AND phone IN ({})",
                    marks(phones.len())
                ),
                &args,
            )
            .await?
            .iter()
            .map(|r| r.text(0))
            .collect();
        for r in &rows {
            let phones = r.text(1);
            if !phones.is_empty() && phones.split(',').all(|p| listed.contains(p)) {
                db.exec(
                    "UPDATE customers SET status = ?, do_not_call = 1, dnc_kind = ?, due = NULL WHERE account_id = ? AND id = ?",
                    &[status::DO_NOT_CALL.into(), dnc_kind::FOR_GOOD.into(), account.into(), r.int(0).into()],
                )
                .await?;
                marked += 1;
            }
        }
    }
    Ok(marked)
}
