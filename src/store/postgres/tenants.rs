//! Accounts, API keys and portals.

use tokio_postgres::{GenericClient, Row};

use super::{StoreError, StoreResult, insert_with_fresh_id};
use crate::domain::account::{Account, ApiKey, Portal};
use crate::domain::ids::IdKind;
use crate::domain::now_secs;

pub async fn create_account(db: &impl GenericClient, name: &str, region: &str) -> StoreResult<(Account, Portal)> {
    let created = now_secs();
    let id = insert_with_fresh_id(
        db,
        IdKind::Account,
        "INSERT INTO accounts (id, name, region, created) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[&name, &region, &created],
    )
    .await?;
    let portal = create_portal(db, &id, "Default", true).await?;
    let account = Account { id, name: name.to_string(), region: region.to_string(), created };
    Ok((account, portal))
}

pub async fn account(db: &impl GenericClient, id: &str) -> StoreResult<Option<Account>> {
    let row = db.query_opt("SELECT id, name, region, created FROM accounts WHERE id = $1", &[&id]).await?;
    Ok(row.map(|r| Account { id: r.get(0), name: r.get(1), region: r.get(2), created: r.get(3) }))
}

pub async fn create_key(db: &impl GenericClient, account_id: &str) -> StoreResult<ApiKey> {
    if account(db, account_id).await?.is_none() {
        return Err(StoreError::NotFound(format!("account '{account_id}' not found")));
    }
    let secret = IdKind::KeySecret.generate();
    let sid = insert_with_fresh_id(
        db,
        IdKind::KeySid,
        "INSERT INTO api_keys (sid, account_id, secret, created) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[&account_id, &secret, &now_secs()],
    )
    .await?;
    Ok(ApiKey { sid, account_id: account_id.to_string(), secret, revoked: false })
}

pub async fn revoke_key(db: &impl GenericClient, sid: &str) -> StoreResult<bool> {
    let n =
        db.execute("UPDATE api_keys SET revoked = COALESCE(revoked, $2) WHERE sid = $1", &[&sid, &now_secs()]).await?;
    Ok(n > 0)
}

pub async fn key(db: &impl GenericClient, sid: &str) -> StoreResult<Option<ApiKey>> {
    let row = db
        .query_opt("SELECT sid, account_id, secret, revoked IS NOT NULL FROM api_keys WHERE sid = $1", &[&sid])
        .await?;
    Ok(row.map(|r| ApiKey { sid: r.get(0), account_id: r.get(1), secret: r.get(2), revoked: r.get(3) }))
}

pub async fn create_portal(
    db: &impl GenericClient,
    account_id: &str,
    name: &str,
    is_default: bool,
) -> StoreResult<Portal> {
    let created = now_secs();
    let id = insert_with_fresh_id(
        db,
        IdKind::Portal,
        "INSERT INTO portals (id, account_id, name, is_default, created) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
        &[&account_id, &name, &is_default, &created],
    )
    .await?;
    Ok(Portal { id, name: name.to_string(), is_default, created })
}

const PORTAL_COLUMNS: &str = "id, name, is_default, created";

fn portal_row(r: &Row) -> Portal {
    Portal { id: r.get(0), name: r.get(1), is_default: r.get(2), created: r.get(3) }
}

pub async fn portals(db: &impl GenericClient, account_id: &str) -> StoreResult<Vec<Portal>> {
    let rows = db
        .query(
            &format!(
                "SELECT {PORTAL_COLUMNS} FROM portals WHERE account_id = $1 ORDER BY is_default DESC, created, id"
            ),
            &[&account_id],
        )
        .await?;
    Ok(rows.iter().map(portal_row).collect())
}

pub async fn portal(db: &impl GenericClient, account_id: &str, id: Option<&str>) -> StoreResult<Option<Portal>> {
    let row = match id {
        Some(id) => {
            db.query_opt(
                &format!("SELECT {PORTAL_COLUMNS} FROM portals WHERE account_id = $1 AND id = $2"),
                &[&account_id, &id],
            )
            .await?
        }
        None => {
            db.query_opt(
                &format!("SELECT {PORTAL_COLUMNS} FROM portals WHERE account_id = $1 AND is_default"),
                &[&account_id],
            )
            .await?
        }
    };
    Ok(row.as_ref().map(portal_row))
}
