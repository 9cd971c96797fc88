//! [`Db`] on a SQLite connection: the shared store code's statements, bound and read
//! with rusqlite. Nothing here waits, so the shared code's futures finish in one poll.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

use crate::store::StoreResult;
use crate::store::shared::db::{Db, Row, Val};

/// A connection (inside the caller's transaction) for the shared store code.
pub struct SqliteDb<'c>(pub &'c Connection);

impl ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Val::Int(v) => ToSqlOutput::from(*v),
            Val::Text(s) => ToSqlOutput::from(s.as_str()),
            Val::NullInt | Val::NullText => ToSqlOutput::from(rusqlite::types::Null),
        })
    }
}

impl Db for SqliteDb<'_> {
    fn postgres(&self) -> bool {
        false
    }

    async fn rows(&self, sql: &str, args: &[Val]) -> StoreResult<Vec<Row>> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let n = stmt.column_count();
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => Val::NullText,
                        ValueRef::Integer(v) => Val::Int(v),
                        ValueRef::Real(f) => Val::Int(f as i64),
                        ValueRef::Text(t) | ValueRef::Blob(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    })
                })
                .collect::<rusqlite::Result<Vec<Val>>>()
                .map(Row)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn exec(&self, sql: &str, args: &[Val]) -> StoreResult<u64> {
        Ok(self.0.prepare_cached(sql)?.execute(rusqlite::params_from_iter(args.iter()))? as u64)
    }
}

/// Runs shared store code that never waits (it only awaits [`SqliteDb`]) to its end.
pub fn now<T>(work: impl std::future::Future<Output = T>) -> T {
    use futures_util::FutureExt as _;
    work.now_or_never().expect("shared store code on SQLite finishes without waiting")
}
