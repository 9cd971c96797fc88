//! Reads over whole lists: a campaign's customers in id order for an export, and
//! the accounts and keys an operator lists.

use super::calling::{CUSTOMER_COLUMNS, CUSTOMER_FROM, VISIBLE, customer_row};
use super::db::{Db, Val};
use crate::domain::account::{Account, KeyInfo};
use crate::domain::customer::Customer;
use crate::store::StoreResult;

/// The campaign's customers after id `after`, by id, at most `limit`; only those in
/// `statuses` when it is not empty. r=3 when the campaign does not exist.
pub async fn export_batch(
    db: &impl Db,
    account: &str,
    campaign: &str,
    statuses: &[i64],
    after: i64,
    limit: i64,
) -> StoreResult<Vec<Customer>> {
    if after == 0 {
        super::agents::require_campaign(db, account, campaign).await?;
    }
    let mut args: Vec<Val> = vec![account.into(), campaign.into(), after.into()];
    let mut status = String::new();
    if !statuses.is_empty() {
        status = format!(" AND c.status IN ({})", vec!["?"; statuses.len()].join(", "));
        args.extend(statuses.iter().map(|s| Val::Int(*s)));
    }
    args.push(limit.into());
    let sql = format!(
        "SELECT {CUSTOMER_COLUMNS} {CUSTOMER_FROM} WHERE c.account_id = ? AND c.campaign_id = ? AND {VISIBLE} \
         AND c.id > ?{status} ORDER BY c.id LIMIT ?"
    );
    Ok(db.rows(&sql, &args).await?.iter().map(customer_row).collect())
}

pub async fn accounts(db: &impl Db) -> StoreResult<Vec<Account>> {
    let rows = db.rows("SELECT id, name, region, created FROM accounts ORDER BY created, id", &[]).await?;
    Ok(rows.iter().map(|r| Account { id: r.text(0), name: r.text(1), region: r.text(2), created: r.int(3) }).collect())
}

/// The keys of one account, or of all; never their secrets.
pub async fn keys(db: &impl Db, account: Option<&str>) -> StoreResult<Vec<KeyInfo>> {
    let (filter, args): (&str, Vec<Val>) = match account {
        Some(a) => (" WHERE account_id = ?", vec![a.into()]),
        None => ("", Vec::new()),
    };
    let sql = format!("SELECT sid, account_id, created, revoked FROM api_keys{filter} ORDER BY created, sid");
    let rows = db.rows(&sql, &args).await?;
    Ok(rows
        .iter()
        .map(|r| KeyInfo { sid: r.text(0), account: r.text(1), created: r.int(2), revoked: r.opt_int(3) })
        .collect())
}
