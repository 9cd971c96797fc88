//! Saved filters.

use rusqlite::{Connection, OptionalExtension, Row, Transaction};

use super::{StoreResult, insert_with_fresh_id, resolve_portal};
use crate::domain::filter::Filter;
use crate::domain::ids::IdKind;
use crate::domain::now_secs;
use crate::domain::page::{Page, Paged};

const COLUMNS: &str = "id, name, query, portal_id, created";

fn row(r: &Row<'_>) -> rusqlite::Result<Filter> {
    Ok(Filter { id: r.get(0)?, name: r.get(1)?, query: r.get(2)?, portal: r.get(3)?, created: r.get(4)? })
}

pub fn create(
    tx: &Transaction<'_>,
    account_id: &str,
    name: &str,
    query: &str,
    portal: Option<&str>,
) -> StoreResult<Filter> {
    let portal = resolve_portal(tx, account_id, portal)?;
    let created = now_secs();
    let id = insert_with_fresh_id(tx, &mut IdKind::Filter, |conn, id| {
        conn.execute(
            "INSERT INTO filters (account_id, id, name, query, portal_id, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            (account_id, id, name, query, &portal, created),
        )
        .map(drop)
    })?;
    Ok(Filter { id, name: name.to_string(), query: query.to_string(), portal, created })
}

pub fn list(conn: &Connection, account_id: &str, page: Page) -> StoreResult<Paged<Filter>> {
    let total: i64 = conn
        .prepare_cached("SELECT count(*) FROM filters WHERE account_id = ?1")?
        .query_row([account_id], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM filters WHERE account_id = ?1 ORDER BY seq LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = stmt.query_map((account_id, page.limit, page.offset()), row)?.collect::<Result<_, _>>()?;
    Ok(Paged { rows, total })
}

pub fn get(conn: &Connection, account_id: &str, id: &str) -> StoreResult<Option<Filter>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM filters WHERE account_id = ?1 AND id = ?2"))?
        .query_row((account_id, id), row)
        .optional()?)
}

pub fn delete(tx: &Transaction<'_>, account_id: &str, id: &str) -> StoreResult<bool> {
    Ok(tx.execute("DELETE FROM filters WHERE account_id = ?1 AND id = ?2", (account_id, id))? > 0)
}
