//! [`Db`] on a PostgreSQL client or transaction: the shared store code's statements,
//! their `?` placeholders numbered, bound and read with tokio-postgres.

use std::cell::Cell;

use bytes::BytesMut;
use tokio_postgres::GenericClient;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::numbered;
use crate::store::shared::db::{Db, Row, Val};
use crate::store::shared::queue_head;
use crate::store::{StoreError, StoreResult};

/// A client (usually a transaction) for the shared store code.
pub struct PgDb<'a, C: GenericClient>(pub &'a C);

impl ToSql for Val {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Int(v) if *ty == Type::INT4 => (*v as i32).to_sql(ty, out),
            Val::Int(v) if *ty == Type::BOOL => (*v != 0).to_sql(ty, out),
            Val::Int(v) => v.to_sql(ty, out),
            Val::Text(s) => s.as_str().to_sql(ty, out),
            Val::NullInt | Val::NullText => Ok(IsNull::Yes),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn read(row: &tokio_postgres::Row, i: usize) -> Val {
    let ty = row.columns()[i].type_();
    let int = |v: Option<i64>| v.map_or(Val::NullInt, Val::Int);
    if *ty == Type::INT8 {
        int(row.get::<_, Option<i64>>(i))
    } else if *ty == Type::INT4 {
        int(row.get::<_, Option<i32>>(i).map(i64::from))
    } else if *ty == Type::INT2 {
        int(row.get::<_, Option<i16>>(i).map(i64::from))
    } else if *ty == Type::BOOL {
        int(row.get::<_, Option<bool>>(i).map(i64::from))
    } else {
        row.get::<_, Option<String>>(i).map_or(Val::NullText, Val::Text)
    }
}

/// [`Db::exec_if`] as one statement: `first` with `RETURNING 1` as `h`, each write a
/// data-modifying `WITH` that runs only where `h` returned a row (an UPDATE or DELETE
/// gains `AND EXISTS (SELECT 1 FROM h)` after its WHERE; an `INSERT … VALUES (…)`
/// becomes `INSERT … SELECT … WHERE EXISTS …`, each value cast to the type its
/// argument has, which a SELECT list does not infer from the target column), and
/// the count of `h` last.
fn exec_if_sql(first: (&str, Vec<Val>), writes: &[(&str, Vec<Val>)]) -> (String, Vec<Val>) {
    const HELD: &str = "EXISTS (SELECT 1 FROM h)";
    let (first_sql, mut args) = first;
    let mut sql = format!("WITH h AS ({first_sql} RETURNING 1)");
    for (i, (write, write_args)) in writes.iter().enumerate() {
        let conditional = match write.split_once(" VALUES (") {
            Some((head, values)) if write.starts_with("INSERT ") => {
                let values = values.strip_suffix(')').unwrap_or(values);
                let mut typed = String::with_capacity(values.len() * 2);
                let mut next = write_args.iter();
                for c in values.chars() {
                    typed.push(c);
                    if c == '?' {
                        typed.push_str(match next.next() {
                            Some(Val::Int(_) | Val::NullInt) => "::bigint",
                            _ => "::text",
                        });
                    }
                }
                format!("{head} SELECT {typed} WHERE {HELD}")
            }
            _ => format!("{write} AND {HELD}"),
        };
        sql.push_str(&format!(", w{i} AS ({conditional})"));
        args.extend(write_args.iter().cloned());
    }
    sql.push_str(" SELECT count(*) FROM h");
    (sql, args)
}

/// Writes that do not depend on each other as one statement: each but the last a
/// data-modifying `WITH`, which costs one executor start instead of one each.
fn all_sql(writes: &[(&str, Vec<Val>)]) -> Option<(String, Vec<Val>)> {
    let ((last, _), before) = writes.split_last()?;
    let mut sql = String::new();
    for (i, (write, _)) in before.iter().enumerate() {
        sql.push_str(if i == 0 { "WITH " } else { ", " });
        sql.push_str(&format!("w{i} AS ({write})"));
    }
    if !before.is_empty() {
        sql.push(' ');
    }
    sql.push_str(last);
    Some((sql, writes.iter().flat_map(|(_, args)| args.iter().cloned()).collect()))
}

/// A transaction's COMMIT; with `requeued`, then the bump of the `requeues` count in
/// the same round trip (migration 0013).
pub fn commit_statement(requeued: bool) -> &'static str {
    if requeued { "COMMIT; SELECT nextval('requeues')" } else { "COMMIT" }
}

/// Bound values as tokio-postgres takes them.
fn params(args: &[Val]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

/// Rows read back as the shared store code reads them.
fn rows_of(rows: &[tokio_postgres::Row]) -> Vec<Row> {
    rows.iter().map(|r| Row((0..r.len()).map(|i| read(r, i)).collect())).collect()
}

/// The most statements one connection keeps prepared.
const MAX_STATEMENTS: usize = 512;

tokio::task_local! {
    /// The statement cache of the connection the running store call holds: its
    /// statements are parsed and planned once per connection, not once per call.
    pub static STATEMENTS: std::sync::Arc<deadpool_postgres::StatementCache>;

    /// Within `PgStore::write`: whether a statement has ended its transaction with
    /// the COMMIT sent beside it ([`Db::finish`]), so that `write` sends none.
    pub static COMMITTED: Cell<bool>;
}

impl<C: GenericClient + Sync> PgDb<'_, C> {
    /// Runs `sql` as the transaction's last statement with the COMMIT sent beside it,
    /// in one round trip: its rows. `None`, having sent nothing, outside
    /// `PgStore::write` (which then sends no COMMIT of its own). The statement is
    /// prepared first, so that its execution goes out before the COMMIT; if it
    /// fails, the COMMIT is a rollback.
    async fn committing(&self, sql: &str, args: &[Val]) -> StoreResult<Option<Vec<Row>>> {
        let (Ok(cache), Ok(committed)) = (STATEMENTS.try_with(|c| c.clone()), COMMITTED.try_with(Cell::get)) else {
            return Ok(None);
        };
        if committed {
            return Err(StoreError::internal(anyhow::anyhow!("a statement after its transaction's COMMIT: {sql}")));
        }
        let statement = prepare_in(&cache, self.0.client(), &numbered(sql)).await?;
        let params = params(args);
        let mut query = std::pin::pin!(self.0.query(&statement, &params));
        // Its first poll sends it, or fails having sent nothing (a value it could not
        // encode): then no COMMIT goes out, and the transaction is rolled back.
        if let std::task::Poll::Ready(early) = futures_util::poll!(query.as_mut()) {
            return Ok(Some(rows_of(&early?)));
        }
        let requeued = queue_head::REQUEUED.try_with(Cell::get).unwrap_or(false);
        COMMITTED.with(|c| c.set(true));
        let (rows, committed) = futures_util::join!(query, self.0.batch_execute(commit_statement(requeued)));
        let rows = rows?;
        committed?;
        Ok(Some(rows_of(&rows)))
    }

    /// The statement prepared for `sql` on this connection, when its cache is known.
    async fn statement(&self, sql: &str) -> StoreResult<Option<tokio_postgres::Statement>> {
        let Ok(cache) = STATEMENTS.try_with(|c| c.clone()) else {
            return Ok(None);
        };
        Ok(Some(prepare_in(&cache, self.0.client(), &numbered(sql)).await?))
    }
}

/// `sql` prepared on `client` once, through its connection's statement cache.
pub async fn prepare_in(
    cache: &deadpool_postgres::StatementCache,
    client: &tokio_postgres::Client,
    sql: &str,
) -> StoreResult<tokio_postgres::Statement> {
    // Lists of many lengths make many shapes: the cache stays small.
    if cache.size() >= MAX_STATEMENTS {
        cache.clear();
    }
    Ok(cache.prepare(client, sql).await?)
}

impl<C: GenericClient + Sync> Db for PgDb<'_, C> {
    fn postgres(&self) -> bool {
        true
    }

    async fn rows(&self, sql: &str, args: &[Val]) -> StoreResult<Vec<Row>> {
        let params = params(args);
        let rows = match self.statement(sql).await? {
            Some(statement) => self.0.query(&statement, &params).await?,
            None => self.0.query(&numbered(sql), &params).await?,
        };
        Ok(rows_of(&rows))
    }

    async fn exec_all(&self, writes: &[(&str, Vec<Val>)]) -> StoreResult<()> {
        if let Some((sql, args)) = all_sql(writes) {
            self.exec(&sql, &args).await?;
        }
        Ok(())
    }

    async fn finish(&self, writes: &[(&str, Vec<Val>)]) -> StoreResult<()> {
        let Some((sql, args)) = all_sql(writes) else {
            return Ok(());
        };
        if self.committing(&sql, &args).await?.is_none() {
            self.exec(&sql, &args).await?;
        }
        Ok(())
    }

    async fn finish_if(&self, first: (&str, Vec<Val>), writes: &[(&str, Vec<Val>)]) -> StoreResult<bool> {
        let (sql, args) = exec_if_sql(first, writes);
        let row = match self.committing(&sql, &args).await? {
            Some(rows) => rows.into_iter().next(),
            None => self.row(&sql, &args).await?,
        };
        Ok(row.is_some_and(|r| r.int(0) > 0))
    }

    fn ended(&self) -> bool {
        COMMITTED.try_with(Cell::get).unwrap_or(false)
    }

    async fn exec_if(&self, first: (&str, Vec<Val>), writes: &[(&str, Vec<Val>)]) -> StoreResult<bool> {
        let (sql, args) = exec_if_sql(first, writes);
        let row = self.row(&sql, &args).await?;
        Ok(row.is_some_and(|r| r.int(0) > 0))
    }

    async fn exec(&self, sql: &str, args: &[Val]) -> StoreResult<u64> {
        let params = params(args);
        Ok(match self.statement(sql).await? {
            Some(statement) => self.0.execute(&statement, &params).await?,
            None => self.0.execute(&numbered(sql), &params).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_after_a_first_run_only_where_it_changed_a_row() {
        let (sql, args) = exec_if_sql(
            ("INSERT INTO holds (a, b) VALUES (?, ?) ON CONFLICT (a) DO NOTHING", vec![Val::from("x"), Val::Int(1)]),
            &[
                ("UPDATE t SET s = ? WHERE id = ?", vec![Val::Int(5), Val::Int(7)]),
                ("INSERT INTO e (a, n, z, k) VALUES (?, ?, 0, ?)", vec![Val::from("y"), Val::NullInt, Val::NullText]),
            ],
        );
        assert_eq!(
            sql,
            "WITH h AS (INSERT INTO holds (a, b) VALUES (?, ?) ON CONFLICT (a) DO NOTHING RETURNING 1), \
             w0 AS (UPDATE t SET s = ? WHERE id = ? AND EXISTS (SELECT 1 FROM h)), \
             w1 AS (INSERT INTO e (a, n, z, k) SELECT ?::text, ?::bigint, 0, ?::text WHERE EXISTS (SELECT 1 FROM h)) \
             SELECT count(*) FROM h"
        );
        assert_eq!(args.len(), 7);
    }
}
