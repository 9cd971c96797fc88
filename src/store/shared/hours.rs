//! Callable-hours sets (CONTRACT §10.2): the presets every account has, and the
//! account's own.

use chrono::NaiveDate;

use super::db::{Db, Row, Val};
use crate::calling::hours::{Hours, Window, WindowView};
use crate::domain::now_secs;
use crate::store::{StoreError, StoreResult};

/// The sets made with every account: name, zone, and its daily window.
pub const PRESETS: &[(&str, &str, &str, &str)] =
    &[("Vietnam advertising", "Asia/Ho_Chi_Minh", "08:00", "17:00"), ("US TCPA", "America/New_York", "08:00", "21:00")];

fn windows_json(windows: &[Window]) -> String {
    let views: Vec<WindowView> = windows
        .iter()
        .map(|w| WindowView {
            days: w.days.clone(),
            start: format!("{:02}:{:02}", w.start / 60, w.start % 60),
            end: format!("{:02}:{:02}", w.end / 60, w.end % 60),
        })
        .collect();
    serde_json::to_string(&views).unwrap_or_else(|_| "[]".into())
}

fn holidays_json(holidays: &[NaiveDate]) -> String {
    let days: Vec<String> = holidays.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect();
    serde_json::to_string(&days).unwrap_or_else(|_| "[]".into())
}

fn hours_of(r: &Row) -> Hours {
    let views: Vec<WindowView> = serde_json::from_str(&r.text(3)).unwrap_or_default();
    let days: Vec<String> = serde_json::from_str(&r.text(4)).unwrap_or_default();
    let name = r.text(1);
    let (timezone, windows, holidays) =
        Hours::parse(name.clone(), &r.text(2), &views, &days).unwrap_or((r.text(2), Vec::new(), Vec::new()));
    Hours { id: r.int(0), name, timezone, windows, holidays, preset: r.int(5) != 0 }
}

const COLUMNS: &str = "id, name, timezone, windows, holidays, preset";

/// Makes the presets of a new account.
pub async fn create_presets(db: &impl Db, account: &str) -> StoreResult<()> {
    for (name, zone, start, end) in PRESETS {
        let windows = format!(r#"[{{"days":[1,2,3,4,5,6,7],"start":"{start}","end":"{end}"}}]"#);
        let now = now_secs();
        db.exec(
            "INSERT INTO business_hours (account_id, name, timezone, windows, holidays, preset, created, updated) \
             VALUES (?, ?, ?, ?, '[]', 1, ?, ?)",
            &[account.into(), (*name).into(), (*zone).into(), windows.into(), now.into(), now.into()],
        )
        .await?;
    }
    Ok(())
}

pub async fn create(
    db: &impl Db,
    account: &str,
    name: &str,
    timezone: &str,
    windows: &[Window],
    holidays: &[NaiveDate],
) -> StoreResult<Hours> {
    let now = now_secs();
    let id = db
        .row(
            "INSERT INTO business_hours (account_id, name, timezone, windows, holidays, preset, created, updated) \
             VALUES (?, ?, ?, ?, ?, 0, ?, ?) RETURNING id",
            &[
                account.into(),
                name.into(),
                timezone.into(),
                windows_json(windows).into(),
                holidays_json(holidays).into(),
                now.into(),
                now.into(),
            ],
        )
        .await?
        .map(|r| r.int(0))
        .ok_or_else(|| StoreError::broken("a new callable-hours set has no id"))?;
    get(db, account, id).await?.ok_or_else(|| StoreError::broken("a new callable-hours set went missing"))
}

pub async fn list(db: &impl Db, account: &str) -> StoreResult<Vec<Hours>> {
    let rows = db
        .rows(&format!("SELECT {COLUMNS} FROM business_hours WHERE account_id = ? ORDER BY id"), &[account.into()])
        .await?;
    Ok(rows.iter().map(hours_of).collect())
}

pub async fn get(db: &impl Db, account: &str, id: i64) -> StoreResult<Option<Hours>> {
    let sql = format!("SELECT {COLUMNS} FROM business_hours WHERE account_id = ? AND id = ?");
    Ok(db.row(&sql, &[account.into(), id.into()]).await?.as_ref().map(hours_of))
}

fn not_found(id: i64) -> StoreError {
    StoreError::NotFound(format!("callable-hours set {id} not found"))
}

async fn editable(db: &impl Db, account: &str, id: i64, what: &str) -> StoreResult<Hours> {
    let hours = get(db, account, id).await?.ok_or_else(|| not_found(id))?;
    if hours.preset {
        return Err(StoreError::Conflict(format!(
            "callable-hours set {id} ({}) is a preset: it cannot be {what}",
            hours.name
        )));
    }
    Ok(hours)
}

pub async fn update(
    db: &impl Db,
    account: &str,
    id: i64,
    name: &str,
    timezone: &str,
    windows: &[Window],
    holidays: &[NaiveDate],
) -> StoreResult<Hours> {
    super::calling::hold_blocks(db, account).await?;
    editable(db, account, id, "changed").await?;
    db.exec(
        "UPDATE business_hours SET name = ?, timezone = ?, windows = ?, holidays = ?, updated = ? \
         WHERE account_id = ? AND id = ?",
        &[
            name.into(),
            timezone.into(),
            windows_json(windows).into(),
            holidays_json(holidays).into(),
            now_secs().into(),
            account.into(),
            id.into(),
        ],
    )
    .await?;
    // Customers parked outside the old hours are judged again by the new ones.
    super::calling::unpark(db, account, None).await?;
    get(db, account, id).await?.ok_or_else(|| not_found(id))
}

/// Deletes a set; r=7 for a preset, or for one a campaign uses (naming it).
pub async fn delete(db: &impl Db, account: &str, id: i64) -> StoreResult<()> {
    editable(db, account, id, "deleted").await?;
    // A campaign that takes this set up locks its row (PostgreSQL's check_hours) until
    // it commits: waiting for that here, the next statement sees the campaign.
    let locked = format!("SELECT id FROM business_hours WHERE account_id = ? AND id = ?{}", db.for_update());
    db.row(&locked, &[account.into(), id.into()]).await?.ok_or_else(|| not_found(id))?;
    let user = db
        .row(
            "SELECT id FROM campaigns WHERE account_id = ? AND businesshour = ? AND hidden = 0 ORDER BY seq LIMIT 1",
            &[account.into(), id.into()],
        )
        .await?;
    if let Some(campaign) = user {
        return Err(StoreError::Conflict(format!(
            "callable-hours set {id} is used by campaign {}: change the campaign's businesshour first",
            campaign.text(0)
        )));
    }
    db.exec("DELETE FROM business_hours WHERE account_id = ? AND id = ?", &[account.into(), Val::Int(id)]).await?;
    Ok(())
}
