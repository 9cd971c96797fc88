//! The few things the shared store code asks of a database: run a statement with
//! bound values, read rows of integers and text. Statements are written once, with
//! `?` placeholders, in the SQL both databases speak; each backend binds and reads
//! in its own way, and says which one it is where the SQL must differ (row locks).

use crate::store::StoreResult;

/// A bound value or a value read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Int(i64),
    Text(String),
    /// NULL where an integer goes.
    NullInt,
    /// NULL where text goes.
    NullText,
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(v)
    }
}

impl From<bool> for Val {
    fn from(v: bool) -> Val {
        Val::Int(v as i64)
    }
}

impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(v.to_string())
    }
}

impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(v)
    }
}

impl From<&String> for Val {
    fn from(v: &String) -> Val {
        Val::Text(v.clone())
    }
}

impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Val {
        v.map_or(Val::NullInt, Val::Int)
    }
}

impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Val {
        v.map_or(Val::NullText, Val::Text)
    }
}

impl From<Option<&str>> for Val {
    fn from(v: Option<&str>) -> Val {
        v.map_or(Val::NullText, |s| Val::Text(s.to_string()))
    }
}

/// One row read back, its columns in the statement's order.
#[derive(Debug, Clone, Default)]
pub struct Row(pub Vec<Val>);

impl Row {
    pub fn int(&self, i: usize) -> i64 {
        match self.0.get(i) {
            Some(Val::Int(v)) => *v,
            _ => 0,
        }
    }

    pub fn opt_int(&self, i: usize) -> Option<i64> {
        match self.0.get(i) {
            Some(Val::Int(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn text(&self, i: usize) -> String {
        self.opt_text(i).unwrap_or_default()
    }

    pub fn opt_text(&self, i: usize) -> Option<String> {
        match self.0.get(i) {
            Some(Val::Text(v)) => Some(v.clone()),
            Some(Val::Int(v)) => Some(v.to_string()),
            _ => None,
        }
    }
}

/// A database in a transaction, as the shared store code uses it.
#[allow(async_fn_in_trait)]
pub trait Db {
    /// PostgreSQL, where rows are locked to take turns across servers; SQLite
    /// writers already take turns, one at a time.
    fn postgres(&self) -> bool;

    /// The rows of a statement.
    async fn rows(&self, sql: &str, args: &[Val]) -> StoreResult<Vec<Row>>;

    /// Runs a statement; how many rows it changed.
    async fn exec(&self, sql: &str, args: &[Val]) -> StoreResult<u64>;

    /// Runs writes that do not depend on each other: none reads what another
    /// writes, and no two change one row. PostgreSQL runs them as one statement
    /// (each but the last a data-modifying `WITH`), which costs one executor start
    /// instead of one each; SQLite, one after another.
    async fn exec_all(&self, writes: &[(&str, Vec<Val>)]) -> StoreResult<()> {
        for (sql, args) in writes {
            self.exec(sql, args).await?;
        }
        Ok(())
    }

    /// Runs `writes` (as [`Db::exec_all`]) as the transaction's last statement:
    /// nothing may follow it. PostgreSQL sends the COMMIT in the same round trip (a
    /// write that fails turns it into a rollback); SQLite's caller commits after.
    async fn finish(&self, writes: &[(&str, Vec<Val>)]) -> StoreResult<()> {
        self.exec_all(writes).await
    }

    /// Runs `first` and `writes` as [`Db::exec_if`] does, as the transaction's last
    /// statement when `first` changes a row: whether it did. PostgreSQL sends the
    /// COMMIT in the same round trip, so the transaction ends either way
    /// ([`Db::ended`]); SQLite's goes on.
    async fn finish_if(&self, first: (&str, Vec<Val>), writes: &[(&str, Vec<Val>)]) -> StoreResult<bool> {
        self.exec_if(first, writes).await
    }

    /// Whether [`Db::finish`] or [`Db::finish_if`] ended the transaction: nothing
    /// more may be sent in it.
    fn ended(&self) -> bool {
        false
    }

    /// Runs `first` (an INSERT, UPDATE or DELETE), then `writes` (as [`Db::exec_all`])
    /// only if `first` changed a row: whether it did. PostgreSQL runs it all as one
    /// statement; SQLite, one after another.
    async fn exec_if(&self, first: (&str, Vec<Val>), writes: &[(&str, Vec<Val>)]) -> StoreResult<bool> {
        if self.exec(first.0, &first.1).await? == 0 {
            return Ok(false);
        }
        self.exec_all(writes).await?;
        Ok(true)
    }

    /// The first row, if any.
    async fn row(&self, sql: &str, args: &[Val]) -> StoreResult<Option<Row>> {
        Ok(self.rows(sql, args).await?.into_iter().next())
    }

    /// `FOR UPDATE SKIP LOCKED` where rows are locked, else nothing.
    fn skip_locked(&self) -> &'static str {
        if self.postgres() { " FOR UPDATE SKIP LOCKED" } else { "" }
    }

    /// How a hand-out names the queue index after `FROM customers c`: SQLite's
    /// planner would rather walk a campaign's customers in id order past everything
    /// that cannot be called; PostgreSQL's statistics pick the queue on their own.
    fn queue_index(&self) -> &'static str {
        if self.postgres() { "" } else { " INDEXED BY customers_queue" }
    }

    /// How a read of customers by a list of ids names the table: SQLite's planner
    /// would rather walk the account's queue index than look the ids up.
    fn by_id(&self) -> &'static str {
        if self.postgres() { "" } else { " NOT INDEXED" }
    }

    /// `FOR UPDATE` where rows are locked, else nothing.
    fn for_update(&self) -> &'static str {
        if self.postgres() { " FOR UPDATE" } else { "" }
    }

    /// Takes the lock named `key` until the transaction ends, waiting for it:
    /// shared with other shared holders, or alone. SQLite writers take turns already.
    async fn lock(&self, key: &str, exclusive: bool) -> StoreResult<()> {
        self.locks(&[key], exclusive).await
    }

    /// Takes the locks named by `keys`, in their order, in one statement (as
    /// [`Db::lock`] takes one).
    async fn locks(&self, keys: &[&str], exclusive: bool) -> StoreResult<()> {
        if !self.postgres() || keys.is_empty() {
            return Ok(());
        }
        let take = if exclusive { "pg_advisory_xact_lock" } else { "pg_advisory_xact_lock_shared" };
        let each = vec![format!("{take}(hashtextextended(?, 1))::text"); keys.len()].join(", ");
        let args: Vec<Val> = keys.iter().map(|k| Val::from(*k)).collect();
        self.rows(&format!("SELECT {each}"), &args).await?;
        Ok(())
    }

    /// Takes the lock named `key` until the transaction ends, unless another
    /// transaction holds it: whether it was taken. For work one transaction at a
    /// time is enough to do (a campaign's sweep), so the others skip it rather than
    /// wait or fight over its rows. SQLite writers take turns already.
    async fn try_lock(&self, key: &str) -> StoreResult<bool> {
        if !self.postgres() {
            return Ok(true);
        }
        let taken = self.row("SELECT pg_try_advisory_xact_lock(hashtextextended(?, 0))::int", &[key.into()]).await?;
        Ok(taken.is_some_and(|r| r.int(0) == 1))
    }
}

/// `?` placeholders for `n` values, comma-separated.
pub fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}
