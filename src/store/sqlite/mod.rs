//! The SQLite store: one file, WAL, a small pool of connections used on blocking
//! threads, `BEGIN IMMEDIATE` for every transaction that reads before it writes.

mod campaigns;
mod contacts;
mod customers;
mod db;
mod filters;
mod staging;
mod tenants;
mod writer;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::Semaphore;

use super::migrations::{self, Applied, Migration};
use super::plan;
use super::shared::{agents, calling, dnc, hours, jobs, lists};
use super::{
    ContactSearch, DuplicateGroup, Entries, FilterSource, HoursDraft, ImportOutcome, KeepOutcome, PhonesOutcome,
    PoolUse, Store, StoreError, StoreResult, Target, Team,
};
use crate::calling::hours::Hours;
use crate::calling::model::{CallResult, DncAdded, DncCheck, DncEntry, HistoryRow, Receive, Stats};
use crate::calling::rules::Explanation;
use crate::domain::account::{Account, ApiKey, KeyInfo, Portal};
use crate::domain::agent::{Agent, AgentDraft, Assignment, Group, Membership, Quota};
use crate::domain::campaign::{Action, Campaign, CampaignFields};
use crate::domain::contact::{Contact, ContactDraft};
use crate::domain::customer::{AddOutcome, Customer, CustomerFilter};
use crate::domain::filter::Filter;
use crate::domain::ids::{
    AccountId, AgentId, CampaignId, ClaimId, ContactId, CustomerId, FilterId, GroupId, IdSource, JobId, KeySid,
    PortalId,
};
use crate::domain::job::Job;
use crate::domain::now_secs;
use crate::domain::page::{Page, Paged};
use db::now;

/// Released migrations are never edited: a change is a new migration.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, sql: include_str!("migrations/0001_init.sql") },
    Migration { version: 2, sql: include_str!("migrations/0002_search.sql") },
    Migration { version: 3, sql: include_str!("migrations/0003_contact_ids_per_account.sql") },
    Migration { version: 4, sql: include_str!("migrations/0004_staged_writes.sql") },
    Migration { version: 5, sql: include_str!("migrations/0005_calling.sql") },
    Migration { version: 6, sql: include_str!("migrations/0006_customer_counts.sql") },
    Migration { version: 7, sql: include_str!("migrations/0007_field_words.sql") },
    Migration { version: 8, sql: include_str!("migrations/0008_jobs.sql") },
    Migration { version: 9, sql: include_str!("migrations/0009_indexed_words_cut.sql") },
    Migration { version: 10, sql: include_str!("migrations/0010_key_changes.sql") },
    Migration { version: 11, sql: include_str!("migrations/0011_word_keys.sql") },
    Migration { version: 12, sql: include_str!("migrations/0012_ids_never_reused.sql") },
    Migration { version: 13, sql: include_str!("migrations/0013_external_ids.sql") },
    Migration { version: 14, sql: include_str!("migrations/0014_callback_owners.sql") },
];
/// Connections open at once; SQLite serializes writers anyway, readers run in parallel.
const POOL_SIZE: usize = 8;
/// Page cache of a connection (KiB): large lists touch many index pages, and the
/// default 2 MB thrashes on them.
const CACHE_KIB: i64 = 64 * 1024;
/// Page cache while one request writes in bulk (KiB): the indexes a million-row
/// import touches at random stay in memory instead of spilling mid-transaction.
const BULK_CACHE_KIB: i64 = 128 * 1024;
/// The WAL is copied into the database file by a background checkpoint once it is
/// longer than this, never by a commit: a small write must not pay for copying the
/// pages of an import that went before it.
const CHECKPOINT_AFTER_BYTES: u64 = 4 * 1024 * 1024;
/// How often the background checkpoint looks at the WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// The length of log past which a checkpoint makes the WAL start over (bytes).
const WAL_KEPT_BYTES: i64 = 64 * 1024 * 1024;
/// The size the WAL file is cut back to when it starts over (bytes): room for what
/// an import writes between two checkpoints, so that a log starting over writes on
/// the file's pages again instead of extending the file, whose new blocks the
/// kernel zeroes first (a fifth of an import's time when the file was cut to 64 MB).
const WAL_FILE_KEPT_BYTES: i64 = 256 * 1024 * 1024;
/// How long a writer waits for another process's write lock (an admin command's)
/// before giving up, and a server for an admin command's turn (`staging::Turn`);
/// writers of this process take turns at the writer gate instead.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct SqliteStore {
    pool: Arc<Pool>,
    writer: writer::Writer,
    marks: Arc<super::plan::MarkCache>,
    staging: Arc<staging::Staging>,
    /// Held while this store serves: one server per database file.
    _serving: Option<(std::fs::File, Option<FileLock>)>,
    /// A connection of its own for reading `key_changes` (migration 0010) before
    /// each request: a few microseconds, without a pooled connection or a thread.
    key_watch: Arc<Mutex<Option<Connection>>>,
}

struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl Pool {
    fn connect(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // The first commit after a complete checkpoint cuts the WAL file back to this.
        conn.pragma_update(None, "journal_size_limit", WAL_FILE_KEPT_BYTES)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Reads of large lists go through the OS page cache without a copy.
        conn.pragma_update(None, "mmap_size", 1_i64 << 30)?;
        conn.set_prepared_statement_cache_capacity(512);
        // Plans never depend on bound values. Otherwise SQLite marks a statement that
        // consulted one (an ORDER BY over an index with `?` equalities does) to be
        // prepared again whenever its bindings are cleared, as the statement cache
        // does on every return: each hand-out parsed and planned its queries anew.
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        // Adding from a filter computes name keys inside the database.
        conn.create_scalar_function(
            "callsheet_name_key",
            1,
            rusqlite::functions::FunctionFlags::SQLITE_UTF8 | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
            |ctx| Ok(crate::domain::customer::name_key(&ctx.get::<String>(0)?)),
        )?;
        // The filter language's case-insensitive comparisons (emails): SQLite's
        // `lower()` lowers ASCII letters only.
        conn.create_scalar_function(
            "callsheet_lower",
            1,
            rusqlite::functions::FunctionFlags::SQLITE_UTF8 | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
            |ctx| Ok(ctx.get::<Option<String>>(0)?.map(|s| s.to_lowercase())),
        )?;
        Ok(conn)
    }

    fn checkout(&self) -> rusqlite::Result<Connection> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => self.connect(),
        }
    }

    fn checkin(&self, conn: Connection) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
    }

    /// Runs `f` with a pooled connection on this thread, once a permit is free: for
    /// reads that take a few index lookups, never for one that may scan.
    async fn run_here<T, F>(self: Arc<Self>, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut Connection) -> StoreResult<T>,
    {
        let _permit = self.permits.clone().acquire_owned().await.map_err(StoreError::internal)?;
        let mut conn = self.checkout()?;
        let result = f(&mut conn);
        self.checkin(conn);
        result
    }

    /// Runs `f` with a pooled connection on a blocking thread, once a permit is free.
    async fn run<T, F>(self: Arc<Self>, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        // The permit goes with the closure: a client that disconnects drops this
        // future, but the blocking closure still holds its connection until it ends.
        let permit = self.permits.clone().acquire_owned().await.map_err(StoreError::internal)?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = pool.checkout()?;
            let result = f(&mut conn);
            pool.checkin(conn);
            result
        })
        .await
        .map_err(|e| StoreError::internal(anyhow::Error::new(e).context("a store task failed")))?
    }
}

/// A lock on a database file whatever path names it, hard links included: a lock
/// file in the temporary directory named by the file's device and inode, removed
/// when the server lets go of it.
struct FileLock {
    path: PathBuf,
    _file: std::fs::File,
}

impl FileLock {
    /// `None` when the temporary directory takes no file (a read-only system): the
    /// lock beside the database, by its path, still holds.
    fn take(database: &std::path::Path) -> anyhow::Result<Option<FileLock>> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(database).map_err(|e| anyhow::anyhow!("{}: {e}", database.display()))?;
        let path = std::env::temp_dir().join(format!("callsheet-{}-{}.serving", meta.dev(), meta.ino()));
        let file = match std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path) {
            Ok(file) => file,
            Err(e) => {
                tracing::warn!("cannot open {} to lock the database by its inode too: {e}", path.display());
                return Ok(None);
            }
        };
        if file.try_lock().is_err() {
            anyhow::bail!(
                "another callsheet server is serving {} under another name (a hard link); SQLite is served by one \
                 process (see docs/SCALING.md)",
                database.display()
            );
        }
        Ok(Some(FileLock { path, _file: file }))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Removed while still held: a server starting now finds it held, or a new one.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The database file's path with symbolic links resolved, as every process
/// resolves it (the file, or when it is not made yet its directory and its name):
/// where the files locking it sit.
fn resolved(path: &std::path::Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            std::fs::canonicalize(dir).map(|d| d.join(path.file_name().unwrap_or_default()))
        })
        .unwrap_or_else(|_| path.to_path_buf())
}

/// The file path a `sqlite://PATH` (or `sqlite:PATH`) URL names.
pub fn path_from_url(url: &str) -> anyhow::Result<PathBuf> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).ok_or_else(|| {
        anyhow::anyhow!("database URL '{}' is neither sqlite://PATH nor postgres://...", super::redact_url(url))
    })?;
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        anyhow::bail!("database URL '{url}' names no file; use sqlite://PATH");
    }
    Ok(PathBuf::from(path))
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and runs pending migrations,
    /// for an admin command: its writes take their turn beside a server's.
    pub async fn open(url: &str) -> anyhow::Result<SqliteStore> {
        SqliteStore::open_as(url, true).await
    }

    async fn open_as(url: &str, admin: bool) -> anyhow::Result<SqliteStore> {
        let path = path_from_url(url)?;
        let turn = staging::Turn::beside(&resolved(&path), admin);
        let pool = Arc::new(Pool { path, idle: Mutex::new(Vec::new()), permits: Arc::new(Semaphore::new(POOL_SIZE)) });
        let staging = Arc::new(staging::Staging::with_turn(turn));
        let writer = writer::Writer::start(pool.clone(), staging.clone());
        let store = SqliteStore {
            pool,
            writer,
            marks: Default::default(),
            staging,
            _serving: None,
            key_watch: Default::default(),
        };
        store.run(migrate).await.map_err(|e| anyhow::anyhow!("migrating {url}: {e}"))?;
        store.run(contacts::fill_field_words).await.map_err(|e| anyhow::anyhow!("migrating {url}: {e}"))?;
        store.run(contacts::rebuild_words_if_stale).await.map_err(|e| anyhow::anyhow!("migrating {url}: {e}"))?;
        tokio::spawn(checkpoints(Arc::downgrade(&store.pool), store.staging.writer.clone()));
        Ok(store)
    }

    /// Opens the database for a server: only one may serve a file at a time, and
    /// before it serves anyone it discards what a crash left unpublished.
    pub async fn open_serving(url: &str) -> anyhow::Result<SqliteStore> {
        let path = path_from_url(url)?;
        // The lock sits beside the file itself, whatever path (a symbolic link, say)
        // names it, so that two names of one file cannot both be served.
        let mut lock_path = resolved(&path).into_os_string();
        lock_path.push(".serving");
        let lock =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| {
                let lock = std::path::Path::new(&lock_path).display();
                anyhow::anyhow!("cannot open {} (its lock file {lock}): {e}", path.display())
            })?;
        if lock.try_lock().is_err() {
            anyhow::bail!(
                "another callsheet server is serving {}; SQLite is served by one process (see docs/SCALING.md)",
                path.display()
            );
        }
        let mut store = SqliteStore::open_as(url, false).await?;
        // SQLite opens a file it may not write read-only, without a word: a server
        // would answer every read and fail every write until restarted.
        if store.run(|conn| Ok(conn.is_readonly(rusqlite::MAIN_DB)?)).await? {
            anyhow::bail!(
                "{} can be read but not written (see its permissions and its directory's): a server writes it",
                path.display()
            );
        }
        // A hard link names the file by another path: the file itself is locked too.
        let by_inode = FileLock::take(&path)?;
        store._serving = Some((lock, by_inode));
        let staging = store.staging.clone();
        let recovered = store
            .run(move |conn| staging.recover(conn))
            .await
            .map_err(|e| anyhow::anyhow!("discarding unfinished writes in {url}: {e}"))?;
        if recovered > 0 {
            tracing::warn!(recovered, "discarded writes a stop left unfinished");
        }
        Ok(store)
    }

    /// Runs `f` with a pooled connection on a blocking thread.
    async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        self.pool.clone().run(f).await
    }

    /// Runs the reads of `f` in one transaction: they see one state of the database,
    /// as if the request had been served alone (a contact's row and its phones, or a
    /// list's count and its rows, read by two statements outside one, could meet a
    /// write between them).
    async fn snapshot<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.run(move |c| {
            let tx = c.transaction()?;
            let read = f(&tx)?;
            tx.commit()?;
            Ok(read)
        })
        .await
    }

    /// Runs a long write `f` (which takes its turns at the writer gate in short
    /// steps) with a larger page cache, given back afterwards.
    async fn bulk<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        self.run(move |conn| {
            conn.pragma_update(None, "cache_size", -BULK_CACHE_KIB)?;
            let result = f(conn);
            // The connection goes back to the pool: its settings must, whatever happened.
            conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
            result
        })
        .await
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction on the store's writer thread,
    /// committed only if `f` succeeds (with the writes queued beside it, each under
    /// a savepoint of its own).
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, &staging::Staging) -> StoreResult<T> + Send + 'static,
    {
        self.writer.write(f).await
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::internal(e)
    }
}

/// Runs the migrations this database still needs, after checking that those it ran
/// are the ones this build carries.
fn migrate(conn: &mut Connection) -> StoreResult<()> {
    // Read first without the write lock: every start (an admin command's too, while
    // a server writes) asks, and the answer is nearly always that nothing is due.
    if migrated(conn)? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)",
    )?;
    let applied = match applied(&tx)? {
        Some(applied) => applied,
        None => {
            tx.execute_batch("ALTER TABLE schema_migrations ADD COLUMN checksum TEXT")?;
            applied(&tx)?.unwrap_or_default()
        }
    };
    let plan = migrations::plan(MIGRATIONS, &applied).map_err(StoreError::Migration)?;
    for (version, checksum) in &plan.backfill {
        tx.execute("UPDATE schema_migrations SET checksum = ?2 WHERE version = ?1", (version, checksum))?;
    }
    for m in &plan.pending {
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied, checksum) VALUES (?1, ?2, ?3)",
            (m.version, crate::domain::now_secs(), migrations::checksum(m.sql)),
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Whether every migration of this build ran, with its checksum recorded: read in
/// a plain read transaction.
fn migrated(conn: &Connection) -> StoreResult<bool> {
    Ok(applied(conn)?.is_some_and(|applied| {
        migrations::plan(MIGRATIONS, &applied).is_ok_and(|plan| plan.pending.is_empty() && plan.backfill.is_empty())
    }))
}

/// The migrations the database ran, by version; `None` while `schema_migrations`
/// is missing or keeps no checksums (a database older than them).
fn applied(conn: &Connection) -> StoreResult<Option<Vec<Applied>>> {
    let has_checksums: bool = conn.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info('schema_migrations') WHERE name = 'checksum'",
        [],
        |r| r.get(0),
    )?;
    if !has_checksums {
        return Ok(None);
    }
    let applied = conn
        .prepare("SELECT version, checksum FROM schema_migrations ORDER BY version")?
        .query_map([], |r| Ok(Applied { version: r.get(0)?, checksum: r.get(1)? }))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(applied))
}

/// Whether an error is a uniqueness violation, the sign of an id collision.
fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation
        && (f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY))
}

/// Copies the WAL's committed pages into the database file whenever it has grown,
/// without blocking readers or writers (a PASSIVE checkpoint), on a pooled
/// connection, and makes a long log start over at the writers' turn; ends when the
/// store is dropped.
async fn checkpoints(pool: std::sync::Weak<Pool>, writers: Arc<tokio::sync::Mutex<()>>) {
    let mut wal = None;
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        let wal = wal.get_or_insert_with(|| {
            let mut path = pool.path.clone().into_os_string();
            path.push("-wal");
            std::path::PathBuf::from(path)
        });
        if std::fs::metadata(&*wal).map_or(0, |m| m.len()) < CHECKPOINT_AFTER_BYTES {
            continue;
        }
        let done = match pool.clone().run(copy_log).await {
            // The steps of an import follow each other at once: SQLite's own wait
            // for a gap between writes never finds one, so the restart takes its
            // turn among the writers of this process. It takes its connection
            // first, as an import's steps do: taking the turn first could wait for
            // a connection that a step waiting for the turn holds.
            Ok(log) if log > RESTART_AFTER_FRAMES => {
                let writers = writers.clone();
                pool.run(move |conn| {
                    let _turn = writers.blocking_lock();
                    restart_log(conn)
                })
                .await
            }
            other => other.map(drop),
        };
        if let Err(e) = done {
            tracing::warn!("background checkpoint failed: {e}");
        }
    }
}

/// Frames past which the WAL is made to start over (see [`checkpoint`]).
const RESTART_AFTER_FRAMES: i64 = WAL_KEPT_BYTES / 4096;
/// How long a restarting checkpoint waits for a gap between writes and for readers
/// of the old log: a writer waits at most about this long for it.
const RESTART_WAIT: Duration = Duration::from_millis(100);

/// Copies the WAL into the database file without blocking anyone (PASSIVE). A log
/// starts over from its beginning only when a write finds every frame of it copied
/// and no reader still in it, which steady traffic never allows: 64 agents working
/// a campaign grew it by 150 MB a second, to 4 GB in 30 s, and each commit then
/// extended the file (the kernel zeroing new blocks took a fifth of the writer's time). So once the log holds
/// more than [`WAL_KEPT_BYTES`], a RESTART checkpoint waits for a gap between
/// writes (for [`RESTART_WAIT`] at most: it tries again next time otherwise),
/// copies the little the PASSIVE one left, and the next write starts the log over.
/// Returns the frames the log held. The server's background checkpoint runs the
/// same two steps, the restart at the writers' turn of this process ([`checkpoints`]).
#[cfg(test)]
fn checkpoint(conn: &mut Connection) -> StoreResult<i64> {
    let log = copy_log(conn)?;
    if log > RESTART_AFTER_FRAMES {
        restart_log(conn)?;
    }
    Ok(log)
}

/// The PASSIVE checkpoint of [`checkpoint`]; the frames the log held.
fn copy_log(conn: &mut Connection) -> StoreResult<i64> {
    Ok(conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))?)
}

/// The RESTART checkpoint of [`checkpoint`].
fn restart_log(conn: &mut Connection) -> StoreResult<()> {
    conn.busy_timeout(RESTART_WAIT)?;
    let restarted = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
    conn.busy_timeout(BUSY_TIMEOUT)?;
    restarted?;
    Ok(())
}

/// `head`, one parenthesized group of placeholders per row (`row(i)` gives row
/// `i`'s, without the parentheses), then `tail`: a multi-row INSERT. Each shape is
/// built once and kept, since bulk writes ask for the same few shapes over and over;
/// callers bound the row count, so the kept shapes stay few.
fn multi_row_sql(head: &'static str, tail: &'static str, rows: usize, row: fn(usize) -> String) -> Arc<str> {
    type Shapes = std::collections::HashMap<(&'static str, usize), Arc<str>>;
    static BUILT: std::sync::LazyLock<Mutex<Shapes>> = std::sync::LazyLock::new(Default::default);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    built
        .entry((head, rows))
        .or_insert_with(|| {
            let groups: Vec<String> = (0..rows).map(|i| format!("({})", row(i))).collect();
            format!("{head}{}{tail}", groups.join(",")).into()
        })
        .clone()
}

/// Inserts a row under a fresh random id, drawing again on the rare collision.
/// A failed statement in SQLite undoes only itself, so the transaction goes on.
fn insert_with_fresh_id(
    conn: &Connection,
    ids: &mut impl IdSource,
    mut insert: impl FnMut(&Connection, &str) -> rusqlite::Result<()>,
) -> StoreResult<String> {
    for _ in 0..8 {
        let id = ids.next_id();
        match insert(conn, &id) {
            Ok(()) => return Ok(id),
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::broken(format!("could not draw a free {:?} id", ids.kind())))
}

fn portal_exists(tx: &Connection, account_id: &str, portal: &str) -> StoreResult<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM portals WHERE account_id = ?1 AND id = ?2")?
        .query_row((account_id, portal), |_| Ok(()))
        .optional()?
        .is_some())
}

/// The portal a request names, or the account's default; r=4 when it is not the account's.
fn resolve_portal(conn: &Connection, account_id: &str, portal: Option<&str>) -> StoreResult<String> {
    match portal {
        Some(p) if portal_exists(conn, account_id, p)? => Ok(p.to_string()),
        Some(p) => Err(StoreError::NotFound(format!("portal '{p}' not found"))),
        None => Ok(conn
            .prepare_cached("SELECT id FROM portals WHERE account_id = ?1 AND is_default = 1")?
            .query_row([account_id], |r| r.get(0))?),
    }
}

/// Ids as the text the shared store code binds.
fn strings<T: std::ops::Deref<Target = str>>(ids: Vec<T>) -> Vec<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

impl SqliteStore {
    /// Runs shared store code in a write transaction, once it is this writer's turn.
    async fn shared_write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&db::SqliteDb<'_>) -> StoreResult<T> + Send + 'static,
    {
        self.write(move |tx, _| f(&db::SqliteDb(tx))).await
    }

    /// Runs shared store code that only reads, in one snapshot.
    async fn shared_read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&db::SqliteDb<'_>) -> StoreResult<T> + Send + 'static,
    {
        self.snapshot(move |conn| f(&db::SqliteDb(conn))).await
    }
}

/// The first customer id an add to the campaign can have written: past the
/// campaign's staged mark (SQLite) or, when it has none, past its last customer.
fn customers_from(conn: &Connection, account_id: &str, campaign: &str) -> StoreResult<i64> {
    let staged: Option<i64> = conn
        .query_row("SELECT staged_from FROM campaigns WHERE account_id = ?1 AND id = ?2", (account_id, campaign), |r| {
            r.get(0)
        })
        .optional()?
        .flatten();
    Ok(staged.unwrap_or(i64::MAX))
}

/// A query compiled for SQLite over one portal.
fn compile(account_id: &str, portal: &str, query: &crate::query::Query) -> StoreResult<crate::query::sql::Compiled> {
    let scope = crate::query::sql::Scope { account_id, portal_id: portal };
    crate::query::sql::compile(&query.node, crate::query::sql::Dialect::Sqlite, scope, &query.region)
        .map_err(StoreError::Query)
}

/// The query and portal a filter source comes to, its saved filter read.
fn resolve_filter(
    conn: &Connection,
    account_id: &str,
    source: FilterSource,
) -> StoreResult<(crate::query::Query, String)> {
    let (query, portal) = match source {
        FilterSource::Query { query, portal } => (query, portal),
        FilterSource::Saved { id, portal, region } => {
            super::plan::saved_query(filters::get(conn, account_id, &id)?, &id, portal, &region)?
        }
    };
    Ok((query, resolve_portal(conn, account_id, portal.as_deref())?))
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_account(&self, name: String, region: String) -> StoreResult<(Account, Portal)> {
        self.write(move |tx, _| {
            let made = tenants::create_account(tx, &name, &region)?;
            now(hours::create_presets(&db::SqliteDb(tx), &made.0.id))?;
            Ok(made)
        })
        .await
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        self.run(move |c| tenants::account(c, &id)).await
    }

    async fn create_key(&self, account: AccountId) -> StoreResult<ApiKey> {
        self.write(move |tx, _| tenants::create_key(tx, &account)).await
    }

    async fn revoke_key(&self, sid: KeySid) -> StoreResult<bool> {
        self.write(move |tx, _| tenants::revoke_key(tx, &sid)).await
    }

    async fn key(&self, sid: KeySid) -> StoreResult<Option<ApiKey>> {
        self.run(move |c| tenants::key(c, &sid)).await
    }

    async fn keys_version(&self) -> StoreResult<u64> {
        let mut watch = self.key_watch.lock().unwrap_or_else(|p| p.into_inner());
        if watch.is_none() {
            *watch = Some(self.pool.connect()?);
        }
        let conn = watch.as_ref().expect("opened above");
        let n: i64 = conn.prepare_cached("SELECT n FROM key_changes WHERE id = 1")?.query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        self.shared_read(move |db| now(lists::accounts(db))).await
    }

    async fn keys(&self, account: Option<AccountId>) -> StoreResult<Vec<KeyInfo>> {
        self.shared_read(move |db| now(lists::keys(db, account.as_deref()))).await
    }

    async fn ping(&self) -> StoreResult<()> {
        // A table, not a constant: the file itself must be there and readable.
        self.pool.clone().run_here(|c| Ok(c.query_row("SELECT count(*) FROM schema_migrations", [], |_| Ok(()))?)).await
    }

    fn pool_use(&self) -> PoolUse {
        let idle = self.pool.idle.lock().map(|v| v.len()).unwrap_or(0);
        let in_use = POOL_SIZE - self.pool.permits.available_permits();
        PoolUse { in_use, idle }
    }

    async fn create_job(&self, account: AccountId, job: Job) -> StoreResult<()> {
        self.shared_write(move |db| now(jobs::create(db, &account, &job))).await
    }

    async fn beat_job(&self, id: JobId, rows_read: i64, rows_estimate: i64) -> StoreResult<()> {
        let at = crate::domain::now_secs();
        self.shared_write(move |db| now(jobs::beat(db, &id, rows_read, rows_estimate, at))).await
    }

    async fn finish_job(&self, job: Job) -> StoreResult<()> {
        self.shared_write(move |db| now(jobs::finish(db, &job))).await
    }

    async fn job(&self, account: AccountId, id: JobId) -> StoreResult<Option<Job>> {
        // One server uses a SQLite file: a job it is not running was cut short.
        self.shared_read(move |db| now(jobs::get(db, &account, &id))).await
    }

    async fn fail_interrupted_jobs(&self) -> StoreResult<u64> {
        let at = crate::domain::now_secs();
        self.shared_write(move |db| {
            now(jobs::prune(db, at - crate::domain::job::JOB_KEPT_SECS))?;
            now(jobs::fail_stale(db, i64::MAX, at))
        })
        .await
    }

    async fn export_batch(
        &self,
        account: AccountId,
        campaign: CampaignId,
        statuses: Vec<i64>,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<Customer>> {
        self.shared_read(move |db| now(lists::export_batch(db, &account, &campaign, &statuses, after, limit))).await
    }

    async fn create_portal(&self, account: AccountId, name: String) -> StoreResult<Portal> {
        self.write(move |tx, _| tenants::create_portal(tx, &account, &name, false)).await
    }

    async fn portals(&self, account: AccountId) -> StoreResult<Vec<Portal>> {
        self.run(move |c| tenants::portals(c, &account)).await
    }

    async fn portal(&self, account: AccountId, id: Option<PortalId>) -> StoreResult<Option<Portal>> {
        self.run(move |c| tenants::portal(c, &account, id.as_deref())).await
    }

    async fn create_campaign(&self, account: AccountId, fields: CampaignFields) -> StoreResult<Campaign> {
        self.write(move |tx, _| campaigns::create(tx, &account, fields)).await
    }

    async fn campaign(&self, account: AccountId, id: CampaignId) -> StoreResult<Option<Campaign>> {
        self.run(move |c| campaigns::get(c, &account, &id)).await
    }

    async fn campaigns(&self, account: AccountId, name: Option<String>, page: Page) -> StoreResult<Paged<Campaign>> {
        self.snapshot(move |c| campaigns::list(c, &account, name.as_deref(), page)).await
    }

    async fn update_campaign(
        &self,
        account: AccountId,
        id: CampaignId,
        fields: CampaignFields,
        team: Team,
    ) -> StoreResult<Option<Campaign>> {
        self.write(move |tx, _| {
            let updated = campaigns::update(tx, &account, &id, fields)?;
            if let Some(c) = &updated {
                let db = db::SqliteDb(tx);
                now(agents::replace_team(&db, &account, &id, team.agents.map(strings), team.groups.map(strings)))?;
                now(calling::requeue(&db, &account, c))?;
            }
            Ok(updated)
        })
        .await
    }

    async fn delete_campaign(&self, account: AccountId, actor: Option<String>, id: CampaignId) -> StoreResult<bool> {
        // Hidden at once; its customers then go a chunk at a time, between other writes.
        let _turn = self.staging.lock_campaign(&account, &id).await;
        let (hide_account, hide_id) = (account.clone(), id.clone());
        if !self.write(move |tx, _| campaigns::hide(tx, &hide_account, actor.as_deref(), &hide_id)).await? {
            return Ok(false);
        }
        let staging = self.staging.clone();
        self.run(move |c| staging.discard_campaign(c, &account, &id)).await?;
        Ok(true)
    }

    async fn create_contact(&self, account: AccountId, draft: ContactDraft) -> StoreResult<Contact> {
        self.write(move |tx, _| contacts::create(tx, &account, draft)).await
    }

    async fn contact(&self, account: AccountId, id: ContactId) -> StoreResult<Option<Contact>> {
        let hidden = self.staging.hidden();
        self.snapshot(move |c| contacts::get(c, &account, &id, &hidden)).await
    }

    async fn contacts(&self, account: AccountId, search: ContactSearch, page: Page) -> StoreResult<Paged<Contact>> {
        let hidden = self.staging.hidden();
        self.snapshot(move |c| {
            let (portal, query) = match search {
                ContactSearch::Portal(portal) => (resolve_portal(c, &account, portal.as_deref())?, None),
                ContactSearch::Query { portal, query } => {
                    resolve_filter(c, &account, FilterSource::Query { query, portal }).map(|(q, p)| (p, Some(q)))?
                }
                ContactSearch::Filter { id, region } => {
                    let source = FilterSource::Saved { id, portal: None, region };
                    resolve_filter(c, &account, source).map(|(q, p)| (p, Some(q)))?
                }
            };
            let compiled = query.map(|q| compile(&account, &portal, &q)).transpose()?;
            contacts::list(c, &account, &portal, compiled.as_ref(), page, &hidden)
        })
        .await
    }

    async fn update_contact(
        &self,
        account: AccountId,
        id: ContactId,
        draft: ContactDraft,
    ) -> StoreResult<Option<Contact>> {
        self.write(move |tx, staging| contacts::update(tx, &account, &id, draft, &staging.hidden())).await
    }

    async fn delete_contact(&self, account: AccountId, id: ContactId) -> StoreResult<bool> {
        self.write(move |tx, staging| contacts::delete(tx, &account, &id, &staging.hidden())).await
    }

    async fn import_contacts(
        &self,
        account: AccountId,
        portal: Option<PortalId>,
        entries: Entries,
    ) -> StoreResult<ImportOutcome> {
        let staging = self.staging.clone();
        self.bulk(move |c| contacts::import(&staging, c, &account, portal.as_deref(), entries)).await
    }

    async fn create_filter(
        &self,
        account: AccountId,
        name: String,
        query: crate::query::Query,
        portal: Option<PortalId>,
    ) -> StoreResult<Filter> {
        self.write(move |tx, _| filters::create(tx, &account, &name, &query.text, portal.as_deref())).await
    }

    async fn filters(&self, account: AccountId, page: Page) -> StoreResult<Paged<Filter>> {
        self.snapshot(move |c| filters::list(c, &account, page)).await
    }

    async fn filter(&self, account: AccountId, id: FilterId) -> StoreResult<Option<Filter>> {
        self.run(move |c| filters::get(c, &account, &id)).await
    }

    async fn delete_filter(&self, account: AccountId, id: FilterId) -> StoreResult<bool> {
        self.write(move |tx, _| filters::delete(tx, &account, &id)).await
    }

    async fn add_customers(
        &self,
        account: AccountId,
        actor: String,
        target: Target,
        entries: Entries,
    ) -> StoreResult<(Campaign, AddOutcome)> {
        // Adders of one campaign take turns; a campaign made here is nobody else's yet.
        let turn = match &target {
            Target::Existing(id) => Some(self.staging.lock_campaign(&account, id).await),
            Target::New(_) => None,
        };
        let staging = self.staging.clone();
        self.bulk(move |c| {
            let _turn = turn;
            customers::add(&staging, c, &account, &actor, target, entries)
        })
        .await
    }

    async fn add_phones(
        &self,
        account: AccountId,
        actor: String,
        campaign: CampaignId,
        phones: Vec<String>,
    ) -> StoreResult<PhonesOutcome> {
        let turn = self.staging.lock_campaign(&account, &campaign).await;
        let making_contacts = self.staging.lock_contacts(&account).await;
        self.write(move |tx, staging| {
            let _turn = (turn, making_contacts);
            customers::add_phones(tx, &account, &campaign, phones, &staging.hidden(), &actor)
        })
        .await
    }

    async fn duplicates(&self, account: AccountId, campaign: CampaignId) -> StoreResult<Vec<DuplicateGroup>> {
        self.run(move |c| customers::duplicates(c, &account, &campaign)).await
    }

    async fn keep_duplicates(
        &self,
        account: AccountId,
        actor: String,
        campaign: CampaignId,
        keep: Vec<(String, CustomerId)>,
    ) -> StoreResult<KeepOutcome> {
        self.write(move |tx, _| customers::keep_duplicates(tx, &account, &actor, &campaign, keep)).await
    }

    async fn customers(&self, account: AccountId, filter: CustomerFilter, page: Page) -> StoreResult<Paged<Customer>> {
        let marks = self.marks.clone();
        // The first pages of a campaign are a few index lookups: read at once rather
        // than on a blocking thread, whose hand-off costs more than the read.
        if let Some(campaign) = plan::first_page_of(&filter, page) {
            let campaign = campaign.clone();
            return self
                .pool
                .clone()
                .run_here(move |c| match customers::first_page(c, &account, &campaign, page)? {
                    Some(found) => Ok(found),
                    None => customers::list(c, &account, filter, page, &marks),
                })
                .await;
        }
        self.run(move |c| customers::list(c, &account, filter, page, &marks)).await
    }

    async fn delete_customer(&self, account: AccountId, actor: String, id: CustomerId) -> StoreResult<bool> {
        self.write(move |tx, _| customers::delete(tx, &account, &actor, id.0)).await
    }

    async fn create_agent(&self, account: AccountId, draft: AgentDraft) -> StoreResult<Agent> {
        self.shared_write(move |db| now(agents::create_agent(db, &account, draft))).await
    }

    async fn agents(&self, account: AccountId, user: Option<String>, page: Page) -> StoreResult<Paged<Agent>> {
        self.shared_read(move |db| now(agents::agents(db, &account, user.as_deref(), page))).await
    }

    async fn agent(&self, account: AccountId, id: AgentId) -> StoreResult<Option<Agent>> {
        self.shared_read(move |db| now(agents::agent(db, &account, &id))).await
    }

    async fn update_agent(&self, account: AccountId, id: AgentId, draft: AgentDraft) -> StoreResult<Option<Agent>> {
        self.shared_write(move |db| now(agents::update_agent(db, &account, &id, draft))).await
    }

    async fn delete_agent(&self, account: AccountId, id: AgentId) -> StoreResult<bool> {
        self.shared_write(move |db| now(agents::delete_agent(db, &account, &id))).await
    }

    async fn create_group(&self, account: AccountId, name: String) -> StoreResult<Group> {
        self.shared_write(move |db| now(agents::create_group(db, &account, &name))).await
    }

    async fn groups(&self, account: AccountId, page: Page) -> StoreResult<Paged<Group>> {
        self.shared_read(move |db| now(agents::groups(db, &account, page))).await
    }

    async fn group(&self, account: AccountId, id: GroupId) -> StoreResult<Option<Group>> {
        self.shared_read(move |db| now(agents::group(db, &account, &id))).await
    }

    async fn rename_group(&self, account: AccountId, id: GroupId, name: String) -> StoreResult<Option<Group>> {
        self.shared_write(move |db| now(agents::rename_group(db, &account, &id, &name))).await
    }

    async fn delete_group(&self, account: AccountId, id: GroupId) -> StoreResult<bool> {
        self.shared_write(move |db| now(agents::delete_group(db, &account, &id))).await
    }

    async fn add_member(&self, account: AccountId, agent: AgentId, group: GroupId) -> StoreResult<Membership> {
        self.shared_write(move |db| now(agents::add_member(db, &account, &agent, &group))).await
    }

    async fn members(&self, account: AccountId, group: GroupId, page: Page) -> StoreResult<Paged<Membership>> {
        self.shared_read(move |db| now(agents::members(db, &account, &group, page))).await
    }

    async fn remove_member(&self, account: AccountId, agent: AgentId, group: GroupId) -> StoreResult<()> {
        self.shared_write(move |db| now(agents::remove_member(db, &account, &agent, &group))).await
    }

    async fn assign(
        &self,
        account: AccountId,
        campaign: CampaignId,
        agents: Vec<AgentId>,
        groups: Vec<GroupId>,
    ) -> StoreResult<Vec<Assignment>> {
        self.shared_write(move |db| now(agents::assign(db, &account, &campaign, &strings(agents), &strings(groups))))
            .await
    }

    async fn assignments(
        &self,
        account: AccountId,
        campaign: Option<CampaignId>,
        agent: Option<AgentId>,
        page: Page,
    ) -> StoreResult<Paged<Assignment>> {
        self.shared_read(move |db| now(agents::assignments(db, &account, campaign.as_deref(), agent.as_deref(), page)))
            .await
    }

    async fn unassign(&self, account: AccountId, id: i64) -> StoreResult<bool> {
        self.shared_write(move |db| now(agents::unassign(db, &account, id))).await
    }

    async fn set_perform(&self, account: AccountId, campaign: CampaignId, user: String) -> StoreResult<()> {
        self.shared_write(move |db| now(agents::set_perform(db, &account, &campaign, &user))).await
    }

    async fn remove_perform(&self, account: AccountId, user: String) -> StoreResult<()> {
        self.shared_write(move |db| now(agents::remove_perform(db, &account, &user))).await
    }

    async fn set_quota(
        &self,
        account: AccountId,
        campaign: CampaignId,
        agent: AgentId,
        quota: Quota,
    ) -> StoreResult<()> {
        self.shared_write(move |db| now(agents::set_quota(db, &account, &campaign, &agent, quota))).await
    }

    async fn running_campaigns(
        &self,
        account: AccountId,
        user: String,
        name: Option<String>,
    ) -> StoreResult<Vec<Campaign>> {
        self.shared_read(move |db| now(agents::running_campaigns(db, &account, &user, name.as_deref()))).await
    }

    async fn campaign_action(&self, account: AccountId, id: CampaignId, action: Action) -> StoreResult<Campaign> {
        self.shared_write(move |db| now(calling::act(db, &account, &id, action, now_secs()))).await
    }

    async fn campaign_stats(&self, account: AccountId, id: CampaignId) -> StoreResult<Stats> {
        let (a, c) = (account.clone(), id.clone());
        let stats = self.shared_read(move |db| now(calling::stats(db, &a, &c, now_secs()))).await?;
        if !stats.lapsed {
            return Ok(stats);
        }
        let (a, c) = (account.clone(), id.clone());
        self.shared_write(move |db| now(calling::give_back_lapsed(db, &a, &c, now_secs()))).await?;
        self.shared_read(move |db| now(calling::stats(db, &account, &id, now_secs()))).await
    }

    async fn receive(
        &self,
        account: AccountId,
        region: String,
        campaign: CampaignId,
        user: String,
    ) -> StoreResult<Receive> {
        let handed = self
            .shared_write(move |db| now(calling::receive(db, &account, &region, &campaign, &user, now_secs(), false)))
            .await?;
        Ok(handed.0)
    }

    async fn result(
        &self,
        account: AccountId,
        customer: CustomerId,
        result: CallResult,
    ) -> StoreResult<(String, bool)> {
        self.shared_write(move |db| now(calling::result(db, &account, customer.0, &result, now_secs()))).await
    }

    async fn replayed_result(
        &self,
        account: AccountId,
        customer: CustomerId,
        claim: ClaimId,
    ) -> StoreResult<Option<String>> {
        self.shared_read(move |db| now(calling::replayed(db, &account, customer.0, &claim))).await
    }

    async fn release(&self, account: AccountId, customer: CustomerId, claim: ClaimId) -> StoreResult<Customer> {
        self.shared_write(move |db| now(calling::release(db, &account, customer.0, &claim, now_secs()))).await
    }

    async fn stop_customer(&self, account: AccountId, actor: String, customer: CustomerId) -> StoreResult<Customer> {
        self.shared_write(move |db| now(calling::stop(db, &account, customer.0, &actor, now_secs()))).await
    }

    async fn resume_customer(&self, account: AccountId, actor: String, customer: CustomerId) -> StoreResult<Customer> {
        self.shared_write(move |db| now(calling::resume(db, &account, customer.0, &actor, now_secs()))).await
    }

    async fn explain(
        &self,
        account: AccountId,
        region: String,
        customer: CustomerId,
        user: Option<String>,
    ) -> StoreResult<Explanation> {
        self.shared_write(move |db| {
            now(calling::explain(db, &account, &region, customer.0, user.as_deref(), now_secs()))
        })
        .await
    }

    async fn history(&self, account: AccountId, customer: CustomerId) -> StoreResult<Vec<HistoryRow>> {
        self.shared_read(move |db| now(calling::history(db, &account, customer.0))).await
    }

    async fn agent_customers(
        &self,
        account: AccountId,
        campaign: CampaignId,
        user: String,
        page: i64,
    ) -> StoreResult<(Vec<Customer>, i64)> {
        self.shared_read(move |db| now(calling::agent_customers(db, &account, &campaign, &user, page, now_secs())))
            .await
    }

    async fn sweep(&self) -> StoreResult<usize> {
        self.shared_write(move |db| now(calling::sweep(db, None, now_secs()))).await
    }

    async fn add_dnc(
        &self,
        account: AccountId,
        campaign: Option<CampaignId>,
        phones: Vec<String>,
        reason: String,
        expires_at: Option<i64>,
    ) -> StoreResult<DncAdded> {
        self.shared_write(move |db| now(dnc::add(db, &account, campaign.as_deref(), &phones, &reason, expires_at)))
            .await
    }

    async fn dnc(
        &self,
        account: AccountId,
        phone: Option<String>,
        campaign: Option<CampaignId>,
        page: Page,
    ) -> StoreResult<Paged<DncEntry>> {
        self.shared_read(move |db| now(dnc::list(db, &account, phone.as_deref(), campaign.as_deref(), page))).await
    }

    async fn delete_dnc(
        &self,
        account: AccountId,
        campaign: Option<CampaignId>,
        phones: Vec<String>,
    ) -> StoreResult<i64> {
        self.shared_write(move |db| now(dnc::delete(db, &account, campaign.as_deref(), &phones))).await
    }

    async fn check_dnc(
        &self,
        account: AccountId,
        campaign: Option<CampaignId>,
        phones: Vec<String>,
    ) -> StoreResult<Vec<(String, DncCheck)>> {
        self.shared_read(move |db| now(dnc::check(db, &account, campaign.as_deref(), &phones))).await
    }

    async fn create_hours(&self, account: AccountId, draft: HoursDraft) -> StoreResult<Hours> {
        self.shared_write(move |db| {
            now(hours::create(db, &account, &draft.name, &draft.timezone, &draft.windows, &draft.holidays))
        })
        .await
    }

    async fn hours_sets(&self, account: AccountId) -> StoreResult<Vec<Hours>> {
        self.shared_read(move |db| now(hours::list(db, &account))).await
    }

    async fn hours(&self, account: AccountId, id: i64) -> StoreResult<Option<Hours>> {
        self.shared_read(move |db| now(hours::get(db, &account, id))).await
    }

    async fn update_hours(&self, account: AccountId, id: i64, draft: HoursDraft) -> StoreResult<Hours> {
        self.shared_write(move |db| {
            now(hours::update(db, &account, id, &draft.name, &draft.timezone, &draft.windows, &draft.holidays))
        })
        .await
    }

    async fn delete_hours(&self, account: AccountId, id: i64) -> StoreResult<()> {
        self.shared_write(move |db| now(hours::delete(db, &account, id))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under writes that never pause, the log must still start over once it is
    /// long: checkpoints that only copy it (PASSIVE) let it grow without end.
    #[test]
    fn the_log_starts_over_under_steady_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let open = || {
            let conn = Connection::open(&path).unwrap();
            conn.busy_timeout(BUSY_TIMEOUT).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            conn.pragma_update(None, "synchronous", "OFF").unwrap();
            conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
            conn
        };
        let writer = open();
        writer.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writing = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                // Each transaction writes a few pages, as a claim or a result does,
                // with a short gap before the next, as requests come over a network.
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    writer.execute("INSERT INTO t (x) VALUES (zeroblob(12000))", []).unwrap();
                    std::thread::yield_now();
                }
            })
        };
        // Readers overlap each other all the time, as a busy server's requests do.
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (stop, reader) = (stop.clone(), open());
                std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        reader.execute_batch("BEGIN; SELECT count(*) FROM t;").unwrap();
                        std::thread::sleep(Duration::from_millis(2));
                        reader.execute_batch("COMMIT").unwrap();
                    }
                })
            })
            .collect();
        let mut checkpointer = open();
        let (mut grew, mut restarted) = (false, false);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline && !restarted {
            std::thread::sleep(Duration::from_millis(50));
            let log = checkpoint(&mut checkpointer).unwrap();
            grew |= log > RESTART_AFTER_FRAMES;
            restarted = grew && log < RESTART_AFTER_FRAMES / 2;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writing.join().unwrap();
        readers.into_iter().for_each(|r| r.join().unwrap());
        assert!(grew, "the writes never filled the log past {RESTART_AFTER_FRAMES} frames");
        assert!(restarted, "the log never started over while writes went on");
    }

    /// A request whose client went away drops its future, but the closure it started
    /// on a blocking thread still holds a connection: the pool must count it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_request_keeps_its_connection_counted() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Arc::new(Pool {
            path: dir.path().join("pool.db"),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(POOL_SIZE)),
        });
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let request = pool.clone().run(move |_conn| {
            started_tx.send(()).ok();
            release_rx.recv().ok();
            Ok(())
        });
        let request = tokio::spawn(request);
        tokio::task::spawn_blocking(move || started_rx.recv()).await.unwrap().unwrap();
        // The client disconnects: the request's future is dropped mid-way.
        request.abort();
        let _ = request.await;
        assert_eq!(pool.permits.available_permits(), POOL_SIZE - 1, "the busy connection was given back early");
        release_tx.send(()).unwrap();
        for _ in 0..500 {
            if pool.permits.available_permits() == POOL_SIZE {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the connection never came back to the pool");
    }
}
