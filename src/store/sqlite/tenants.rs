//! Accounts, API keys and portals.

use rusqlite::{Connection, OptionalExtension, Row, Transaction};

use super::{StoreError, StoreResult, insert_with_fresh_id};
use crate::domain::account::{Account, ApiKey, Portal};
use crate::domain::ids::IdKind;
use crate::domain::now_secs;

pub fn create_account(tx: &Transaction<'_>, name: &str, region: &str) -> StoreResult<(Account, Portal)> {
    let created = now_secs();
    let id = insert_with_fresh_id(tx, &mut IdKind::Account, |tx, id| {
        tx.execute(
            "INSERT INTO accounts (id, name, region, created) VALUES (?1, ?2, ?3, ?4)",
            (id, name, region, created),
        )
        .map(drop)
    })?;
    let portal = create_portal(tx, &id, "Default", true)?;
    let account = Account { id, name: name.to_string(), region: region.to_string(), created };
    Ok((account, portal))
}

pub fn account(conn: &Connection, id: &str) -> StoreResult<Option<Account>> {
    Ok(conn
        .prepare_cached("SELECT id, name, region, created FROM accounts WHERE id = ?1")?
        .query_row([id], |r| Ok(Account { id: r.get(0)?, name: r.get(1)?, region: r.get(2)?, created: r.get(3)? }))
        .optional()?)
}

pub fn create_key(tx: &Transaction<'_>, account_id: &str) -> StoreResult<ApiKey> {
    if account(tx, account_id)?.is_none() {
        return Err(StoreError::NotFound(format!("account '{account_id}' not found")));
    }
    let secret = IdKind::KeySecret.generate();
    let sid = insert_with_fresh_id(tx, &mut IdKind::KeySid, |tx, sid| {
        tx.execute(
            "INSERT INTO api_keys (account_id, sid, secret, created) VALUES (?1, ?2, ?3, ?4)",
            (account_id, sid, &secret, now_secs()),
        )
        .map(drop)
    })?;
    Ok(ApiKey { sid, account_id: account_id.to_string(), secret, revoked: false })
}

pub fn revoke_key(tx: &Transaction<'_>, sid: &str) -> StoreResult<bool> {
    let found = tx.query_row("SELECT 1 FROM api_keys WHERE sid = ?1", [sid], |_| Ok(())).optional()?;
    if found.is_some() {
        tx.execute("UPDATE api_keys SET revoked = COALESCE(revoked, ?2) WHERE sid = ?1", (sid, now_secs()))?;
    }
    Ok(found.is_some())
}

pub fn key(conn: &Connection, sid: &str) -> StoreResult<Option<ApiKey>> {
    Ok(conn
        .prepare_cached("SELECT sid, account_id, secret, revoked IS NOT NULL FROM api_keys WHERE sid = ?1")?
        .query_row([sid], |r| {
            Ok(ApiKey { sid: r.get(0)?, account_id: r.get(1)?, secret: r.get(2)?, revoked: r.get(3)? })
        })
        .optional()?)
}

pub fn create_portal(tx: &Transaction<'_>, account_id: &str, name: &str, is_default: bool) -> StoreResult<Portal> {
    let created = now_secs();
    let id = insert_with_fresh_id(tx, &mut IdKind::Portal, |tx, id| {
        tx.execute(
            "INSERT INTO portals (account_id, id, name, is_default, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            (account_id, id, name, is_default, created),
        )
        .map(drop)
    })?;
    Ok(Portal { id, name: name.to_string(), is_default, created })
}

const PORTAL_COLUMNS: &str = "id, name, is_default, created";

fn portal_row(r: &Row<'_>) -> rusqlite::Result<Portal> {
    Ok(Portal { id: r.get(0)?, name: r.get(1)?, is_default: r.get(2)?, created: r.get(3)? })
}

pub fn portals(conn: &Connection, account_id: &str) -> StoreResult<Vec<Portal>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PORTAL_COLUMNS} FROM portals WHERE account_id = ?1 ORDER BY is_default DESC, created, id"
    ))?;
    let rows = stmt.query_map([account_id], portal_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn portal(conn: &Connection, account_id: &str, id: Option<&str>) -> StoreResult<Option<Portal>> {
    let found = match id {
        Some(id) => conn
            .prepare_cached(&format!("SELECT {PORTAL_COLUMNS} FROM portals WHERE account_id = ?1 AND id = ?2"))?
            .query_row((account_id, id), portal_row),
        None => conn
            .prepare_cached(&format!("SELECT {PORTAL_COLUMNS} FROM portals WHERE account_id = ?1 AND is_default = 1"))?
            .query_row([account_id], portal_row),
    };
    Ok(found.optional()?)
}
