//! Saved filters.

use tokio_postgres::{GenericClient, Row};

use super::{StoreResult, insert_with_fresh_id, resolve_portal};
use crate::domain::filter::Filter;
use crate::domain::ids::IdKind;
use crate::domain::now_secs;
use crate::domain::page::{Page, Paged};

const COLUMNS: &str = "id, name, query, portal_id, created";

fn row(r: &Row) -> Filter {
    Filter { id: r.get(0), name: r.get(1), query: r.get(2), portal: r.get(3), created: r.get(4) }
}

pub async fn create(
    db: &impl GenericClient,
    account_id: &str,
    name: &str,
    query: &str,
    portal: Option<&str>,
) -> StoreResult<Filter> {
    let portal = resolve_portal(db, account_id, portal).await?;
    let created = now_secs();
    let id = insert_with_fresh_id(
        db,
        IdKind::Filter,
        "INSERT INTO filters (id, account_id, name, query, portal_id, created) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT DO NOTHING",
        &[&account_id, &name, &query, &portal, &created],
    )
    .await?;
    Ok(Filter { id, name: name.to_string(), query: query.to_string(), portal, created })
}

pub async fn list(db: &impl GenericClient, account_id: &str, page: Page) -> StoreResult<Paged<Filter>> {
    let total: i64 = db.query_one("SELECT count(*) FROM filters WHERE account_id = $1", &[&account_id]).await?.get(0);
    let rows = db
        .query(
            &format!("SELECT {COLUMNS} FROM filters WHERE account_id = $1 ORDER BY seq LIMIT $2 OFFSET $3"),
            &[&account_id, &page.limit, &page.offset()],
        )
        .await?;
    Ok(Paged { rows: rows.iter().map(row).collect(), total })
}

pub async fn get(db: &impl GenericClient, account_id: &str, id: &str) -> StoreResult<Option<Filter>> {
    let found = db
        .query_opt(&format!("SELECT {COLUMNS} FROM filters WHERE account_id = $1 AND id = $2"), &[&account_id, &id])
        .await?;
    Ok(found.as_ref().map(row))
}

pub async fn delete(db: &impl GenericClient, account_id: &str, id: &str) -> StoreResult<bool> {
    Ok(db.execute("DELETE FROM filters WHERE account_id = $1 AND id = $2", &[&account_id, &id]).await? > 0)
}
