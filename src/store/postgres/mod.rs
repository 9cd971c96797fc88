//! The PostgreSQL store: for deployments where several callsheet servers share one
//! database. Each request takes a pooled connection; writes that touch a campaign's
//! customers lock the campaign's row first, so concurrent servers serialize per
//! campaign and never deadlock on each other's customers.

mod campaigns;
mod contacts;
mod customers;
mod db;
mod filters;
mod keywatch;
mod tenants;
pub mod tls;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, GenericClient};

use super::migrations::{self, Applied, Migration};
use super::plan;
use super::shared::{agents, calling, dnc, hours, jobs, lists, queue_head};
use super::{
    ContactSearch, DuplicateGroup, Entries, FilterSource, HoursDraft, ImportOutcome, KeepOutcome, PhonesOutcome,
    PoolUse, Store, StoreError, StoreResult, Target, Team, redact_url,
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
    AccountId, AgentId, CampaignId, ClaimId, ContactId, CustomerId, FilterId, GroupId, IdKind, JobId, KeySid, PortalId,
};
use crate::domain::job::{JOB_STALE_SECS, Job};
use crate::domain::now_secs;
use crate::domain::page::{Page, Paged};
use crate::query::sql::{Compiled, Dialect, Param};
use db::PgDb;

/// Released migrations are never edited: a change is a new migration.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, sql: include_str!("migrations/0001_init.sql") },
    Migration { version: 2, sql: include_str!("migrations/0002_ids_unique_per_kind.sql") },
    Migration { version: 3, sql: include_str!("migrations/0003_calling.sql") },
    Migration { version: 4, sql: include_str!("migrations/0004_customer_counts.sql") },
    Migration { version: 5, sql: include_str!("migrations/0005_field_words.sql") },
    Migration { version: 6, sql: include_str!("migrations/0006_jobs.sql") },
    Migration { version: 7, sql: include_str!("migrations/0007_customer_id_default.sql") },
    Migration { version: 8, sql: include_str!("migrations/0008_indexed_words_cut.sql") },
    Migration { version: 9, sql: include_str!("migrations/0009_contact_phones_in_row.sql") },
    Migration { version: 10, sql: include_str!("migrations/0010_key_changes.sql") },
    Migration { version: 11, sql: include_str!("migrations/0011_word_keys.sql") },
    Migration { version: 12, sql: include_str!("migrations/0012_external_ids.sql") },
    Migration { version: 13, sql: include_str!("migrations/0013_requeues.sql") },
    Migration { version: 14, sql: include_str!("migrations/0014_callback_owners.sql") },
];
/// Connections one server keeps open unless CALLSHEET_PG_POOL says otherwise.
const DEFAULT_POOL_SIZE: usize = 16;
/// Settings of every session callsheet opens, after any the URL gives.
const SESSION_OPTIONS: &str = "-c jit=off -c work_mem=32MB";
/// Rows one request writes beyond which the tables' statistics are refreshed at
/// once: the planner would otherwise plan the next queries for the tables as they
/// were (empty, after a first import) until autovacuum comes by.
const ANALYZE_AFTER: i64 = 5_000;
/// The longest a contact search or a saved filter's listing may run.
const SEARCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a statement was cancelled by its `statement_timeout`.
fn canceled(cause: &anyhow::Error) -> bool {
    cause
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::code)
        .is_some_and(|c| *c == tokio_postgres::error::SqlState::QUERY_CANCELED)
}

/// Runs `work` (statements of a filter query on `db`) with each statement bounded
/// to `limit`: PostgreSQL takes minutes to plan a query of hundreds of word terms
/// joined by AND (each a lookup it makes a join of), and such a one is refused
/// (r=6, `what` naming it), not left running. The bound is lifted afterwards.
async fn bounded<T>(
    db: &impl GenericClient,
    limit: Duration,
    what: &str,
    work: impl Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    db.batch_execute(&format!("SET LOCAL statement_timeout = '{}s'", limit.as_secs())).await?;
    let done = work.await.map_err(|e| match e {
        StoreError::Internal(cause) if canceled(&cause) => StoreError::Query(crate::query::QueryError {
            pos: 0,
            msg: format!("{what} took longer than {} s to run; use fewer terms", limit.as_secs()),
        }),
        e => e,
    })?;
    db.batch_execute("SET LOCAL statement_timeout = 0").await?;
    Ok(done)
}

/// Any number; servers starting together take this advisory lock to migrate one by one.
const MIGRATION_LOCK: i64 = 0x6361_6c6c_7368_6565;

pub struct PgStore {
    pool: Arc<Pool>,
    marks: Arc<super::plan::MarkCache>,
    keys: Arc<keywatch::KeyWatch>,
}

/// How many times a transaction the database undid (a deadlock) runs in all.
const UNDONE_TRIES: u32 = 3;

/// Runs a write (`attempt` starts it) again when PostgreSQL undid it whole, meeting
/// another at the same rows (a deadlock), up to [`UNDONE_TRIES`] times in all: the
/// other is done by then. For the calling workflow's writes, which two agents or two
/// servers may send at the same customer at once.
async fn again<T, F: std::future::Future<Output = StoreResult<T>>>(mut attempt: impl FnMut() -> F) -> StoreResult<T> {
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(StoreError::Undone(cause)) if tries < UNDONE_TRIES => {
                tracing::warn!("a request was undone, meeting another at the same rows; running it again: {cause}");
                tries += 1;
            }
            done => return done,
        }
    }
}

/// How many times in a row a hand-out asks again at once after its claim lost its
/// phone to another committing first; then it waits as one that passed others over.
const LOST_PHONE_TRIES: usize = 16;

/// How long a request waits for a pooled connection, for a new connection to be
/// made, or for an idle one to be checked, before it fails: during a database outage
/// requests answer r=10 at once instead of hanging.
const POOL_WAIT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Unacknowledged data older than this closes a connection (a network partition).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// The pool of connections, made on demand up to its size.
struct Pool(deadpool_postgres::Pool);

/// A pooled connection, given back when dropped.
struct Conn(deadpool_postgres::Object);

impl Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.0
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.0
    }
}

/// A pooled connection inside a transaction: rolled back when dropped uncommitted
/// (an error, or a request given up half way), never given back to the pool open.
struct Tx {
    conn: Conn,
    open: bool,
}

impl Tx {
    fn new(conn: Conn) -> Tx {
        Tx { conn, open: true }
    }

    /// Begins the transaction with `begin` and runs `f` in it. The BEGIN goes out in
    /// the round trip of `f`'s first statement, not one of its own: `join!` polls it
    /// first, and tokio-postgres sends a statement when it is first polled.
    async fn run<T>(&self, begin: &str, f: impl AsyncFnOnce(&Client) -> StoreResult<T>) -> StoreResult<T> {
        let (begun, value) = futures_util::join!(self.conn.batch_execute(begin), f(&self.conn));
        begun?;
        value
    }

    /// Commits; with `requeued`, then bumps the `requeues` count in the same round trip.
    async fn commit(mut self, requeued: bool) -> StoreResult<()> {
        self.open = false;
        self.conn.batch_execute(db::commit_statement(requeued)).await?;
        Ok(())
    }

    /// Ended already, by the COMMIT a last statement carried ([`db::COMMITTED`]).
    fn ended(mut self) {
        self.open = false;
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.open {
            // Sent without waiting for its answer, as tokio-postgres does for a dropped
            // transaction: the connection's next user queues behind it.
            let _ = futures_util::FutureExt::now_or_never(self.conn.batch_execute("ROLLBACK"));
        }
    }
}

impl Pool {
    fn new(
        mut config: tokio_postgres::Config,
        tls: tokio_postgres_rustls::MakeRustlsConnect,
        size: usize,
    ) -> anyhow::Result<Pool> {
        config.connect_timeout(CONNECT_TIMEOUT).keepalives(true).tcp_user_timeout(TCP_USER_TIMEOUT);
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tls,
            deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()?;
        Ok(Pool(pool))
    }

    async fn get(&self) -> StoreResult<Conn> {
        match self.0.get().await {
            Ok(object) => Ok(Conn(object)),
            Err(deadpool_postgres::PoolError::Backend(e)) => Err(e.into()),
            Err(e) => Err(StoreError::internal(anyhow::Error::new(e).context("no database connection"))),
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        // Two requests that waited on each other's rows: PostgreSQL undid one of
        // them whole. That one may be sent again.
        if matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
        {
            return StoreError::Undone(format!("{e:#}"));
        }
        StoreError::internal(e)
    }
}

/// A `postgres://` URL read for tokio-postgres, its TLS settings (libpq's, which
/// tokio-postgres knows only some of) and their connector.
pub fn connect_config(
    url: &str,
) -> anyhow::Result<(tokio_postgres::Config, tls::Settings, tokio_postgres_rustls::MakeRustlsConnect)> {
    let invalid = |e: String| anyhow::anyhow!("database URL '{}': {e}", redact_url(url));
    let (plain, settings) = tls::split(url).map_err(invalid)?;
    let mut config: tokio_postgres::Config = plain
        .parse()
        .map_err(|e| anyhow::anyhow!("database URL '{}' is not a valid PostgreSQL URL: {e}", redact_url(url)))?;
    config.ssl_mode(tls::wire_mode(&settings));
    let connector = tls::connector(&settings).map_err(invalid)?;
    Ok((config, settings, connector))
}

/// Connects once, outside any pool, with the URL's TLS settings: for the admin
/// commands' and the tests' own statements.
pub async fn connect(url: &str) -> anyhow::Result<Client> {
    let (config, settings, tls) = connect_config(url)?;
    let (client, connection) = config.connect(tls).await.map_err(|e| {
        let chain = format!("{:#}", anyhow::Error::from(e));
        let why = tls::explain(&chain, &settings).unwrap_or(chain);
        anyhow::anyhow!("connecting to {}: {why}", redact_url(url))
    })?;
    tokio::spawn(connection);
    Ok(client)
}

/// Whether a URL names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl PgStore {
    /// Connects to the database a `postgres://` URL names and runs pending migrations.
    pub async fn open(url: &str) -> anyhow::Result<PgStore> {
        let (mut config, settings, tls) = connect_config(url)?;
        // callsheet's statements are short and planned afresh: compiling them to
        // machine code (JIT) costs more than it saves; sorts of a large filter's
        // matches should stay in memory.
        let options = format!("{} {SESSION_OPTIONS}", config.get_options().unwrap_or_default());
        config.options(options.trim());
        let size = match std::env::var("CALLSHEET_PG_POOL") {
            Ok(v) => v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                anyhow::anyhow!("CALLSHEET_PG_POOL must be a positive number of connections, not '{v}'")
            })?,
            Err(_) => DEFAULT_POOL_SIZE,
        };
        let keys = Arc::new(keywatch::KeyWatch::new(config.clone(), tls.clone()));
        let pool = Arc::new(Pool::new(config, tls, size)?);
        let store = PgStore { pool, marks: Default::default(), keys };
        // A first connection says plainly what its TLS settings met.
        if let Err(e) = store.pool.get().await {
            let chain = format!("{:#}", anyhow::Error::from(e));
            return Err(match tls::explain(&chain, &settings) {
                Some(why) => anyhow::anyhow!("connecting to {}: {why}", redact_url(url)),
                None => anyhow::anyhow!("connecting to {}: {chain}", redact_url(url)),
            });
        }
        store.migrate().await.map_err(|e| anyhow::anyhow!("migrating {}: {e}", redact_url(url)))?;
        contacts::fill_field_words(&*store.pool.get().await.map_err(|e| anyhow::anyhow!("{e}"))?)
            .await
            .map_err(|e| anyhow::anyhow!("migrating {}: {e}", redact_url(url)))?;
        store
            .write(async |tx| contacts::rebuild_words_if_stale(tx).await)
            .await
            .map_err(|e| anyhow::anyhow!("migrating {}: {e}", redact_url(url)))?;
        tokio::spawn(keep_statistics(Arc::downgrade(&store.pool), statistics_every()?));
        Ok(store)
    }

    /// Runs `f` in a transaction on a pooled connection, committed only if `f` succeeds.
    /// A write that queued customers again bumps the `requeues` count once it has
    /// committed, in the round trip of its COMMIT (migration 0013).
    async fn write<T>(&self, f: impl AsyncFnOnce(&Client) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self.pool.get().await?;
        let statements = conn.0.statement_cache.clone();
        let work = async {
            let tx = Tx::new(conn);
            let value = tx.run("BEGIN", f).await;
            if db::COMMITTED.with(std::cell::Cell::get) {
                tx.ended();
                return value;
            }
            let value = value?;
            tx.commit(queue_head::REQUEUED.with(std::cell::Cell::get)).await?;
            Ok(value)
        };
        let work = db::COMMITTED.scope(std::cell::Cell::new(false), work);
        db::STATEMENTS.scope(statements, queue_head::REQUEUED.scope(std::cell::Cell::new(false), work)).await
    }

    /// Runs the reads of `f` in one read-only snapshot, so counts and rows agree.
    async fn snapshot<T>(&self, f: impl AsyncFnOnce(&Client) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self.pool.get().await?;
        let statements = conn.0.statement_cache.clone();
        db::STATEMENTS
            .scope(statements, async { Tx::new(conn).run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", f).await })
            .await
    }

    /// Runs the migrations this database still needs, after checking that those it
    /// ran are the ones this build carries.
    async fn migrate(&self) -> StoreResult<()> {
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        // `IF NOT EXISTS` on every start is expected: its notices are not news.
        tx.batch_execute(
            "SET LOCAL client_min_messages = warning; \
             CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied BIGINT NOT NULL); \
             ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum TEXT",
        )
        .await?;
        let applied: Vec<Applied> = tx
            .query("SELECT version, checksum FROM schema_migrations ORDER BY version", &[])
            .await?
            .iter()
            .map(|r| Applied { version: r.get(0), checksum: r.get(1) })
            .collect();
        let plan = migrations::plan(MIGRATIONS, &applied).map_err(StoreError::Migration)?;
        for (version, checksum) in &plan.backfill {
            tx.execute("UPDATE schema_migrations SET checksum = $2 WHERE version = $1", &[version, checksum]).await?;
        }
        for m in &plan.pending {
            tx.batch_execute(m.sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied, checksum) VALUES ($1, $2, $3)",
                &[&m.version, &crate::domain::now_secs(), &migrations::checksum(m.sql)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Rewrites `?` placeholders as `$1`, `$2`, ... (the fragments callsheet writes hold
/// no `?` inside literals).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

/// A bound value of a statement put together at run time.
type Arg = Box<dyn ToSql + Sync + Send>;

fn arg(v: impl ToSql + Sync + Send + 'static) -> Arg {
    Box::new(v)
}

/// The bound values of a compiled query.
fn query_args(query: &Compiled) -> Vec<Arg> {
    query
        .params
        .iter()
        .map(|p| match p {
            Param::Text(t) => arg(t.clone()),
            Param::Int(i) => arg(*i),
        })
        .collect()
}

fn refs(args: &[Arg]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)).collect()
}

/// Inserts a row under a fresh random id, bound as `$1` before `rest`; the statement
/// must end in `ON CONFLICT DO NOTHING`, so a collision draws again without
/// aborting the transaction.
async fn insert_with_fresh_id(
    db: &impl GenericClient,
    kind: IdKind,
    sql: &str,
    rest: &[&(dyn ToSql + Sync)],
) -> StoreResult<String> {
    let statement = db.prepare(sql).await?;
    for _ in 0..8 {
        let id = kind.generate();
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(rest.len() + 1);
        params.push(&id);
        params.extend_from_slice(rest);
        if db.execute(&statement, &params).await? == 1 {
            return Ok(id);
        }
    }
    Err(StoreError::broken(format!("could not draw a free {kind:?} id")))
}

/// Writes `rows` rows into `target` (a table and its columns) with one binary COPY,
/// `row(i)` giving the values of row `i` in the columns' order and `types`.
async fn copy_rows<'a>(
    db: &impl GenericClient,
    target: &str,
    types: &[Type],
    rows: usize,
    row: impl Fn(usize) -> Vec<&'a (dyn ToSql + Sync)>,
) -> StoreResult<()> {
    if rows == 0 {
        return Ok(());
    }
    let sink = db.client().copy_in(&format!("COPY {target} FROM STDIN (FORMAT binary)")).await?;
    let writer = BinaryCopyInWriter::new(sink, types);
    futures_util::pin_mut!(writer);
    for i in 0..rows {
        writer.as_mut().write(&row(i)).await?;
    }
    writer.finish().await?;
    Ok(())
}

/// `n` fresh values of a sequence, ascending.
async fn draw(db: &impl GenericClient, sequence: &str, n: usize) -> StoreResult<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let rows = db
        .query(&format!("SELECT nextval({sequence}) FROM generate_series(1, $1::bigint) ORDER BY 1"), &[&(n as i64)])
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The portal a request names, or the account's default; r=4 when it is not the account's.
async fn resolve_portal(db: &impl GenericClient, account_id: &str, portal: Option<&str>) -> StoreResult<String> {
    match portal {
        Some(p) => {
            let found =
                db.query_opt("SELECT 1 FROM portals WHERE account_id = $1 AND id = $2", &[&account_id, &p]).await?;
            match found {
                Some(_) => Ok(p.to_string()),
                None => Err(StoreError::NotFound(format!("portal '{p}' not found"))),
            }
        }
        None => Ok(db
            .query_one("SELECT id FROM portals WHERE account_id = $1 AND is_default", &[&account_id])
            .await?
            .get(0)),
    }
}

/// Ids as the text the shared store code binds.
fn strings<T: std::ops::Deref<Target = str>>(ids: Vec<T>) -> Vec<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

/// A query compiled for PostgreSQL over one portal.
fn compile(account_id: &str, portal: &str, query: &crate::query::Query) -> StoreResult<Compiled> {
    let scope = crate::query::sql::Scope { account_id, portal_id: portal };
    crate::query::sql::compile(&query.node, Dialect::Postgres, scope, &query.region).map_err(StoreError::Query)
}

/// The query and portal a filter source comes to, its saved filter read.
async fn resolve_filter(
    db: &impl GenericClient,
    account_id: &str,
    source: FilterSource,
) -> StoreResult<(crate::query::Query, String)> {
    let (query, portal) = match source {
        FilterSource::Query { query, portal } => (query, portal),
        FilterSource::Saved { id, portal, region } => {
            super::plan::saved_query(filters::get(db, account_id, &id).await?, &id, portal, &region)?
        }
    };
    Ok((query, resolve_portal(db, account_id, portal.as_deref()).await?))
}

#[async_trait]
impl Store for PgStore {
    async fn create_account(&self, name: String, region: String) -> StoreResult<(Account, Portal)> {
        self.write(async |tx| {
            let made = tenants::create_account(tx, &name, &region).await?;
            hours::create_presets(&PgDb(tx), &made.0.id).await?;
            Ok(made)
        })
        .await
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        tenants::account(&*self.pool.get().await?, &id).await
    }

    async fn create_key(&self, account: AccountId) -> StoreResult<ApiKey> {
        tenants::create_key(&*self.pool.get().await?, &account).await
    }

    async fn revoke_key(&self, sid: KeySid) -> StoreResult<bool> {
        tenants::revoke_key(&*self.pool.get().await?, &sid).await
    }

    async fn key(&self, sid: KeySid) -> StoreResult<Option<ApiKey>> {
        tenants::key(&*self.pool.get().await?, &sid).await
    }

    async fn keys_version(&self) -> StoreResult<u64> {
        Ok(self.keys.version())
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        self.snapshot(async |tx| lists::accounts(&PgDb(tx)).await).await
    }

    async fn keys(&self, account: Option<AccountId>) -> StoreResult<Vec<KeyInfo>> {
        self.snapshot(async |tx| lists::keys(&PgDb(tx), account.as_deref()).await).await
    }

    async fn ping(&self) -> StoreResult<()> {
        let conn = self.pool.get().await?;
        conn.simple_query("SELECT 1").await.map_err(StoreError::internal)?;
        Ok(())
    }

    fn pool_use(&self) -> PoolUse {
        let status = self.pool.0.status();
        PoolUse { in_use: status.size.saturating_sub(status.available), idle: status.available }
    }

    async fn create_job(&self, account: AccountId, job: Job) -> StoreResult<()> {
        self.write(async |tx| jobs::create(&PgDb(tx), &account, &job).await).await
    }

    async fn beat_job(&self, id: JobId, rows_read: i64, rows_estimate: i64) -> StoreResult<()> {
        let at = crate::domain::now_secs();
        self.write(async |tx| jobs::beat(&PgDb(tx), &id, rows_read, rows_estimate, at).await).await
    }

    async fn finish_job(&self, job: Job) -> StoreResult<()> {
        self.write(async |tx| jobs::finish(&PgDb(tx), &job).await).await
    }

    async fn job(&self, account: AccountId, id: JobId) -> StoreResult<Option<Job>> {
        let at = crate::domain::now_secs();
        let found = self.snapshot(async |tx| jobs::get(&PgDb(tx), &account, &id).await).await?;
        // Several servers share the database: a job whose server stopped beating is dead.
        match found {
            Some(job) if jobs::is_stale(&job, at) => {
                self.write(async |tx| jobs::fail_stale(&PgDb(tx), at - JOB_STALE_SECS, at).await).await?;
                self.snapshot(async |tx| jobs::get(&PgDb(tx), &account, &id).await).await
            }
            other => Ok(other),
        }
    }

    async fn fail_interrupted_jobs(&self) -> StoreResult<u64> {
        let at = crate::domain::now_secs();
        self.write(async |tx| {
            jobs::prune(&PgDb(tx), at - crate::domain::job::JOB_KEPT_SECS).await?;
            jobs::fail_stale(&PgDb(tx), at - JOB_STALE_SECS, at).await
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
        self.snapshot(async |tx| lists::export_batch(&PgDb(tx), &account, &campaign, &statuses, after, limit).await)
            .await
    }

    async fn create_portal(&self, account: AccountId, name: String) -> StoreResult<Portal> {
        tenants::create_portal(&*self.pool.get().await?, &account, &name, false).await
    }

    async fn portals(&self, account: AccountId) -> StoreResult<Vec<Portal>> {
        tenants::portals(&*self.pool.get().await?, &account).await
    }

    async fn portal(&self, account: AccountId, id: Option<PortalId>) -> StoreResult<Option<Portal>> {
        tenants::portal(&*self.pool.get().await?, &account, id.as_deref()).await
    }

    async fn create_campaign(&self, account: AccountId, fields: CampaignFields) -> StoreResult<Campaign> {
        // One transaction: the callable-hours set checked stays locked until the
        // campaign that uses it is there (campaigns::check_hours).
        self.write(async |tx| campaigns::create(tx, &account, fields).await).await
    }

    async fn campaign(&self, account: AccountId, id: CampaignId) -> StoreResult<Option<Campaign>> {
        campaigns::get(&*self.pool.get().await?, &account, &id, false).await
    }

    async fn campaigns(&self, account: AccountId, name: Option<String>, page: Page) -> StoreResult<Paged<Campaign>> {
        self.snapshot(async |tx| campaigns::list(tx, &account, name.as_deref(), page).await).await
    }

    async fn update_campaign(
        &self,
        account: AccountId,
        id: CampaignId,
        fields: CampaignFields,
        team: Team,
    ) -> StoreResult<Option<Campaign>> {
        self.write(async |tx| {
            // Hand-outs under way finish first, so that those they set aside are
            // there when `requeue` looks at them again with the new settings.
            calling::hold_campaign(&PgDb(tx), &account, &id).await?;
            let updated = campaigns::update(tx, &account, &id, fields).await?;
            if let Some(c) = &updated {
                let (agents, groups) = (team.agents.map(strings), team.groups.map(strings));
                agents::replace_team(&PgDb(tx), &account, &id, agents, groups).await?;
                calling::requeue(&PgDb(tx), &account, c).await?;
            }
            Ok(updated)
        })
        .await
    }

    async fn delete_campaign(&self, account: AccountId, actor: Option<String>, id: CampaignId) -> StoreResult<bool> {
        self.write(async |tx| campaigns::delete(tx, &account, actor.as_deref(), &id).await).await
    }

    async fn create_contact(&self, account: AccountId, draft: ContactDraft) -> StoreResult<Contact> {
        self.write(async |tx| contacts::create(tx, &account, draft).await).await
    }

    async fn contact(&self, account: AccountId, id: ContactId) -> StoreResult<Option<Contact>> {
        contacts::get(&*self.pool.get().await?, &account, &id).await
    }

    async fn contacts(&self, account: AccountId, search: ContactSearch, page: Page) -> StoreResult<Paged<Contact>> {
        self.snapshot(async |tx| {
            let (portal, query) = match search {
                ContactSearch::Portal(portal) => (resolve_portal(tx, &account, portal.as_deref()).await?, None),
                ContactSearch::Query { portal, query } => {
                    let (q, p) = resolve_filter(tx, &account, FilterSource::Query { query, portal }).await?;
                    (p, Some(q))
                }
                ContactSearch::Filter { id, region } => {
                    let (q, p) = resolve_filter(tx, &account, FilterSource::Saved { id, portal: None, region }).await?;
                    (p, Some(q))
                }
            };
            let compiled = query.map(|q| compile(&account, &portal, &q)).transpose()?;
            if compiled.is_none() {
                return contacts::list(tx, &account, &portal, None, page).await;
            }
            bounded(tx, SEARCH_TIMEOUT, "the query", contacts::list(tx, &account, &portal, compiled.as_ref(), page))
                .await
        })
        .await
    }

    async fn update_contact(
        &self,
        account: AccountId,
        id: ContactId,
        draft: ContactDraft,
    ) -> StoreResult<Option<Contact>> {
        self.write(async |tx| contacts::update(tx, &account, &id, draft).await).await
    }

    async fn delete_contact(&self, account: AccountId, id: ContactId) -> StoreResult<bool> {
        self.write(async |tx| contacts::delete(tx, &account, &id).await).await
    }

    async fn import_contacts(
        &self,
        account: AccountId,
        portal: Option<PortalId>,
        entries: Entries,
    ) -> StoreResult<ImportOutcome> {
        let outcome = self.write(async |tx| contacts::import(tx, &account, portal.as_deref(), entries).await).await?;
        self.refresh_statistics(outcome.added + outcome.updated, CONTACT_TABLES);
        Ok(outcome)
    }

    async fn create_filter(
        &self,
        account: AccountId,
        name: String,
        query: crate::query::Query,
        portal: Option<PortalId>,
    ) -> StoreResult<Filter> {
        filters::create(&*self.pool.get().await?, &account, &name, &query.text, portal.as_deref()).await
    }

    async fn filters(&self, account: AccountId, page: Page) -> StoreResult<Paged<Filter>> {
        self.snapshot(async |tx| filters::list(tx, &account, page).await).await
    }

    async fn filter(&self, account: AccountId, id: FilterId) -> StoreResult<Option<Filter>> {
        filters::get(&*self.pool.get().await?, &account, &id).await
    }

    async fn delete_filter(&self, account: AccountId, id: FilterId) -> StoreResult<bool> {
        filters::delete(&*self.pool.get().await?, &account, &id).await
    }

    async fn add_customers(
        &self,
        account: AccountId,
        actor: String,
        target: Target,
        entries: Entries,
    ) -> StoreResult<(Campaign, AddOutcome)> {
        let (campaign, outcome, made_contacts) =
            self.write(async |tx| customers::add(tx, &account, &actor, target, entries).await).await?;
        self.refresh_statistics(made_contacts as i64, CONTACT_TABLES);
        // Customers are read through plain index lookups that need no fresh
        // statistics; the refresh only keeps the planner's picture current.
        self.refresh_statistics(outcome.added, "customers");
        Ok((campaign, outcome))
    }

    async fn add_phones(
        &self,
        account: AccountId,
        actor: String,
        campaign: CampaignId,
        phones: Vec<String>,
    ) -> StoreResult<PhonesOutcome> {
        self.write(async |tx| customers::add_phones(tx, &actor, &account, &campaign, phones).await).await
    }

    async fn duplicates(&self, account: AccountId, campaign: CampaignId) -> StoreResult<Vec<DuplicateGroup>> {
        self.snapshot(async |tx| customers::duplicates(tx, &account, &campaign).await).await
    }

    async fn keep_duplicates(
        &self,
        account: AccountId,
        actor: String,
        campaign: CampaignId,
        keep: Vec<(String, CustomerId)>,
    ) -> StoreResult<KeepOutcome> {
        self.write(async |tx| customers::keep_duplicates(tx, &account, &actor, &campaign, keep).await).await
    }

    async fn customers(&self, account: AccountId, filter: CustomerFilter, page: Page) -> StoreResult<Paged<Customer>> {
        if let Some(campaign) = plan::first_page_of(&filter, page) {
            let conn = self.pool.get().await?;
            return customers::first_page(&conn.0, &account, campaign, page).await;
        }
        self.snapshot(async |tx| customers::list(tx, &account, filter, page, &self.marks).await).await
    }

    async fn delete_customer(&self, account: AccountId, actor: String, id: CustomerId) -> StoreResult<bool> {
        self.write(async |tx| customers::delete(tx, &account, &actor, id.0).await).await
    }

    async fn create_agent(&self, account: AccountId, draft: AgentDraft) -> StoreResult<Agent> {
        self.write(async |tx| agents::create_agent(&PgDb(tx), &account, draft).await).await
    }

    async fn agents(&self, account: AccountId, user: Option<String>, page: Page) -> StoreResult<Paged<Agent>> {
        self.snapshot(async |tx| agents::agents(&PgDb(tx), &account, user.as_deref(), page).await).await
    }

    async fn agent(&self, account: AccountId, id: AgentId) -> StoreResult<Option<Agent>> {
        self.snapshot(async |tx| agents::agent(&PgDb(tx), &account, &id).await).await
    }

    async fn update_agent(&self, account: AccountId, id: AgentId, draft: AgentDraft) -> StoreResult<Option<Agent>> {
        self.write(async |tx| agents::update_agent(&PgDb(tx), &account, &id, draft).await).await
    }

    async fn delete_agent(&self, account: AccountId, id: AgentId) -> StoreResult<bool> {
        self.write(async |tx| agents::delete_agent(&PgDb(tx), &account, &id).await).await
    }

    async fn create_group(&self, account: AccountId, name: String) -> StoreResult<Group> {
        self.write(async |tx| agents::create_group(&PgDb(tx), &account, &name).await).await
    }

    async fn groups(&self, account: AccountId, page: Page) -> StoreResult<Paged<Group>> {
        self.snapshot(async |tx| agents::groups(&PgDb(tx), &account, page).await).await
    }

    async fn group(&self, account: AccountId, id: GroupId) -> StoreResult<Option<Group>> {
        self.snapshot(async |tx| agents::group(&PgDb(tx), &account, &id).await).await
    }

    async fn rename_group(&self, account: AccountId, id: GroupId, name: String) -> StoreResult<Option<Group>> {
        self.write(async |tx| agents::rename_group(&PgDb(tx), &account, &id, &name).await).await
    }

    async fn delete_group(&self, account: AccountId, id: GroupId) -> StoreResult<bool> {
        self.write(async |tx| agents::delete_group(&PgDb(tx), &account, &id).await).await
    }

    async fn add_member(&self, account: AccountId, agent: AgentId, group: GroupId) -> StoreResult<Membership> {
        self.write(async |tx| agents::add_member(&PgDb(tx), &account, &agent, &group).await).await
    }

    async fn members(&self, account: AccountId, group: GroupId, page: Page) -> StoreResult<Paged<Membership>> {
        self.snapshot(async |tx| agents::members(&PgDb(tx), &account, &group, page).await).await
    }

    async fn remove_member(&self, account: AccountId, agent: AgentId, group: GroupId) -> StoreResult<()> {
        self.write(async |tx| agents::remove_member(&PgDb(tx), &account, &agent, &group).await).await
    }

    async fn assign(
        &self,
        account: AccountId,
        campaign: CampaignId,
        agents: Vec<AgentId>,
        groups: Vec<GroupId>,
    ) -> StoreResult<Vec<Assignment>> {
        self.write(async |tx| agents::assign(&PgDb(tx), &account, &campaign, &strings(agents), &strings(groups)).await)
            .await
    }

    async fn assignments(
        &self,
        account: AccountId,
        campaign: Option<CampaignId>,
        agent: Option<AgentId>,
        page: Page,
    ) -> StoreResult<Paged<Assignment>> {
        self.snapshot(async |tx| {
            agents::assignments(&PgDb(tx), &account, campaign.as_deref(), agent.as_deref(), page).await
        })
        .await
    }

    async fn unassign(&self, account: AccountId, id: i64) -> StoreResult<bool> {
        self.write(async |tx| agents::unassign(&PgDb(tx), &account, id).await).await
    }

    async fn set_perform(&self, account: AccountId, campaign: CampaignId, user: String) -> StoreResult<()> {
        self.write(async |tx| agents::set_perform(&PgDb(tx), &account, &campaign, &user).await).await
    }

    async fn remove_perform(&self, account: AccountId, user: String) -> StoreResult<()> {
        self.write(async |tx| agents::remove_perform(&PgDb(tx), &account, &user).await).await
    }

    async fn set_quota(
        &self,
        account: AccountId,
        campaign: CampaignId,
        agent: AgentId,
        quota: Quota,
    ) -> StoreResult<()> {
        self.write(async |tx| agents::set_quota(&PgDb(tx), &account, &campaign, &agent, quota).await).await
    }

    async fn running_campaigns(
        &self,
        account: AccountId,
        user: String,
        name: Option<String>,
    ) -> StoreResult<Vec<Campaign>> {
        self.snapshot(async |tx| agents::running_campaigns(&PgDb(tx), &account, &user, name.as_deref()).await).await
    }

    async fn campaign_action(&self, account: AccountId, id: CampaignId, action: Action) -> StoreResult<Campaign> {
        self.write(async |tx| calling::act(&PgDb(tx), &account, &id, action, now_secs()).await).await
    }

    async fn campaign_stats(&self, account: AccountId, id: CampaignId) -> StoreResult<Stats> {
        let stats = self.snapshot(async |tx| calling::stats(&PgDb(tx), &account, &id, now_secs()).await).await?;
        if !stats.lapsed {
            return Ok(stats);
        }
        again(|| self.write(async |tx| calling::give_back_lapsed(&PgDb(tx), &account, &id, now_secs()).await)).await?;
        self.snapshot(async |tx| calling::stats(&PgDb(tx), &account, &id, now_secs()).await).await
    }

    async fn receive(
        &self,
        account: AccountId,
        region: String,
        campaign: CampaignId,
        user: String,
    ) -> StoreResult<Receive> {
        // A hand-out that found nobody while others held customers locked asks again
        // once they are done (a few milliseconds), from the queue's start: they may
        // leave one callable.
        // One whose claim lost its phone to a hand-out that committed first asks
        // again at once (each time one more such hand-out has committed).
        let mut waits = [2, 5, 10].into_iter();
        let mut from_start = false;
        let mut lost = 0;
        loop {
            let (answer, then) = again(|| {
                self.write(async |tx| {
                    calling::receive(&PgDb(tx), &account, &region, &campaign, &user, now_secs(), from_start).await
                })
            })
            .await?;
            if then == calling::Then::AgainNow && lost < LOST_PHONE_TRIES {
                lost += 1;
                continue;
            }
            let passed = then != calling::Then::Answer;
            match (waits.next(), answer) {
                (Some(ms), _) if passed => tokio::time::sleep(Duration::from_millis(ms)).await,
                // Still passing over customers others write: one of them may be
                // callable once they are done, so there is a time to ask again.
                (None, Receive::Nobody(mut nobody)) if passed => {
                    let soon = now_secs() + 1;
                    nobody.next_eligible_at = Some(nobody.next_eligible_at.map_or(soon, |t| t.min(soon)));
                    return Ok(Receive::Nobody(nobody));
                }
                (_, answer) => return Ok(answer),
            }
            from_start = true;
        }
    }

    async fn result(
        &self,
        account: AccountId,
        customer: CustomerId,
        result: CallResult,
    ) -> StoreResult<(String, bool)> {
        again(|| self.write(async |tx| calling::result(&PgDb(tx), &account, customer.0, &result, now_secs()).await))
            .await
    }

    async fn replayed_result(
        &self,
        account: AccountId,
        customer: CustomerId,
        claim: ClaimId,
    ) -> StoreResult<Option<String>> {
        self.snapshot(async |tx| calling::replayed(&PgDb(tx), &account, customer.0, &claim).await).await
    }

    async fn release(&self, account: AccountId, customer: CustomerId, claim: ClaimId) -> StoreResult<Customer> {
        again(|| self.write(async |tx| calling::release(&PgDb(tx), &account, customer.0, &claim, now_secs()).await))
            .await
    }

    async fn stop_customer(&self, account: AccountId, actor: String, customer: CustomerId) -> StoreResult<Customer> {
        again(|| self.write(async |tx| calling::stop(&PgDb(tx), &account, customer.0, &actor, now_secs()).await)).await
    }

    async fn resume_customer(&self, account: AccountId, actor: String, customer: CustomerId) -> StoreResult<Customer> {
        again(|| self.write(async |tx| calling::resume(&PgDb(tx), &account, customer.0, &actor, now_secs()).await))
            .await
    }

    async fn explain(
        &self,
        account: AccountId,
        region: String,
        customer: CustomerId,
        user: Option<String>,
    ) -> StoreResult<Explanation> {
        self.write(async |tx| {
            calling::explain(&PgDb(tx), &account, &region, customer.0, user.as_deref(), now_secs()).await
        })
        .await
    }

    async fn history(&self, account: AccountId, customer: CustomerId) -> StoreResult<Vec<HistoryRow>> {
        self.snapshot(async |tx| calling::history(&PgDb(tx), &account, customer.0).await).await
    }

    async fn agent_customers(
        &self,
        account: AccountId,
        campaign: CampaignId,
        user: String,
        page: i64,
    ) -> StoreResult<(Vec<Customer>, i64)> {
        self.snapshot(async |tx| {
            calling::agent_customers(&PgDb(tx), &account, &campaign, &user, page, now_secs()).await
        })
        .await
    }

    async fn sweep(&self) -> StoreResult<usize> {
        self.write(async |tx| calling::sweep(&PgDb(tx), None, now_secs()).await).await
    }

    async fn add_dnc(
        &self,
        account: AccountId,
        campaign: Option<CampaignId>,
        phones: Vec<String>,
        reason: String,
        expires_at: Option<i64>,
    ) -> StoreResult<DncAdded> {
        self.write(async |tx| dnc::add(&PgDb(tx), &account, campaign.as_deref(), &phones, &reason, expires_at).await)
            .await
    }

    async fn dnc(
        &self,
        account: AccountId,
        phone: Option<String>,
        campaign: Option<CampaignId>,
        page: Page,
    ) -> StoreResult<Paged<DncEntry>> {
        self.snapshot(async |tx| dnc::list(&PgDb(tx), &account, phone.as_deref(), campaign.as_deref(), page).await)
            .await
    }

    async fn delete_dnc(
        &self,
        account: AccountId,
        campaign: Option<CampaignId>,
        phones: Vec<String>,
    ) -> StoreResult<i64> {
        self.write(async |tx| dnc::delete(&PgDb(tx), &account, campaign.as_deref(), &phones).await).await
    }

    async fn check_dnc(
        &self,
        account: AccountId,
        campaign: Option<CampaignId>,
        phones: Vec<String>,
    ) -> StoreResult<Vec<(String, DncCheck)>> {
        self.snapshot(async |tx| dnc::check(&PgDb(tx), &account, campaign.as_deref(), &phones).await).await
    }

    async fn create_hours(&self, account: AccountId, draft: HoursDraft) -> StoreResult<Hours> {
        self.write(async |tx| {
            hours::create(&PgDb(tx), &account, &draft.name, &draft.timezone, &draft.windows, &draft.holidays).await
        })
        .await
    }

    async fn hours_sets(&self, account: AccountId) -> StoreResult<Vec<Hours>> {
        self.snapshot(async |tx| hours::list(&PgDb(tx), &account).await).await
    }

    async fn hours(&self, account: AccountId, id: i64) -> StoreResult<Option<Hours>> {
        self.snapshot(async |tx| hours::get(&PgDb(tx), &account, id).await).await
    }

    async fn update_hours(&self, account: AccountId, id: i64, draft: HoursDraft) -> StoreResult<Hours> {
        self.write(async |tx| {
            hours::update(&PgDb(tx), &account, id, &draft.name, &draft.timezone, &draft.windows, &draft.holidays).await
        })
        .await
    }

    async fn delete_hours(&self, account: AccountId, id: i64) -> StoreResult<()> {
        self.write(async |tx| hours::delete(&PgDb(tx), &account, id).await).await
    }
}

/// The tables a new CRM contact is written to.
const CONTACT_TABLES: &str = "contacts, contact_phones, name_words";

/// How often a server looks for its tables whose statistics lag their writes
/// (`CALLSHEET_PG_STATISTICS_SECONDS`, default 30).
fn statistics_every() -> anyhow::Result<Duration> {
    match std::env::var("CALLSHEET_PG_STATISTICS_SECONDS") {
        Ok(v) => v.parse().ok().filter(|n| *n > 0).map(Duration::from_secs).ok_or_else(|| {
            anyhow::anyhow!("CALLSHEET_PG_STATISTICS_SECONDS must be a positive number of seconds, not '{v}'")
        }),
        Err(_) => Ok(Duration::from_secs(30)),
    }
}

/// Keeps the planner's statistics of callsheet's tables up to date, as autovacuum
/// would: a database where it is off (or lags) would otherwise plan every query on
/// a table written since its last ANALYZE as if the table were as it was then, and
/// a search that takes milliseconds would take minutes (a phone prefix over 40,000
/// contacts written one by one read every phone once per contact). Ends with the
/// store.
async fn keep_statistics(pool: std::sync::Weak<Pool>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(pool) = pool.upgrade() else { return };
        if let Err(e) = analyze_stale(&pool).await {
            tracing::warn!("refreshing the statistics of tables that changed: {e}");
        }
    }
}

/// ANALYZE of each of the schema's tables changed by more than autovacuum's own
/// threshold (50 rows and a tenth of the table) since its statistics were made, and
/// not analyzed in the last 10 seconds; one server at a time.
async fn analyze_stale(pool: &Pool) -> StoreResult<()> {
    let mut conn = pool.get().await?;
    let tx = conn.transaction().await?;
    let taken: bool = tx
        .query_one(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('callsheet/statistics/' || current_schema(), 0))",
            &[],
        )
        .await?
        .get(0);
    if !taken {
        return Ok(());
    }
    let stale = tx
        .query(
            "SELECT format('%I', s.relname) FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
             WHERE s.schemaname = current_schema() \
             AND s.n_mod_since_analyze > 50 + 0.1 * greatest(s.n_live_tup, c.reltuples) \
             AND coalesce(greatest(s.last_analyze, s.last_autoanalyze), '-infinity') < now() - interval '10 seconds'",
            &[],
        )
        .await?;
    for row in stale {
        let table: String = row.get(0);
        tx.batch_execute(&format!("ANALYZE (SKIP_LOCKED) {table}")).await?;
    }
    tx.commit().await?;
    Ok(())
}

impl PgStore {
    /// Refreshes the statistics of `tables` when a request wrote many rows to them,
    /// and their visibility maps, so index-only scans need not visit the new rows.
    /// It runs after the answer, on a connection of its own: the write has committed
    /// by then, and a failure here must never turn saved data into an error that a
    /// client would retry.
    fn refresh_statistics(&self, written: i64, tables: &'static str) {
        if written < ANALYZE_AFTER {
            return;
        }
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let done = match pool.get().await {
                Ok(conn) => conn.batch_execute(&format!("VACUUM (ANALYZE) {tables}")).await.map_err(StoreError::from),
                Err(e) => Err(e),
            };
            if let Err(e) = done {
                tracing::warn!("refreshing the statistics of {tables}: {e}");
            }
        });
    }
}

/// A schema of its own on the test database (CALLSHEET_TEST_POSTGRES_URL), for a
/// store test: a connection to drop it with, its name, and a URL whose connections
/// work in it. `None`, said plainly, when the variable is not set (under CI, a failure).
#[cfg(test)]
async fn test_schema() -> Option<(Client, String, String)> {
    let Some(base) = std::env::var("CALLSHEET_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI must set CALLSHEET_TEST_POSTGRES_URL");
        eprintln!("PostgreSQL run SKIPPED: CALLSHEET_TEST_POSTGRES_URL is not set");
        return None;
    };
    let schema = format!("t_{}", IdKind::KeySecret.generate().to_lowercase());
    let schema: String = schema.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect();
    let admin = connect(&base).await.unwrap();
    admin.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    Some((admin, schema, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered() {
        assert_eq!(numbered("a = ? AND b < ?::text"), "a = $1 AND b < $2::text");
    }

    /// A last write sent with its COMMIT (`Db::finish`) commits the whole
    /// transaction when it succeeds, and when it fails undoes everything before it
    /// too and leaves the connection ready for the next call, on PostgreSQL
    /// (CALLSHEET_TEST_POSTGRES_URL; said plainly when skipped).
    #[tokio::test]
    async fn a_last_write_sent_with_the_commit_commits_all_or_nothing() {
        use crate::store::shared::db::Db;
        let Some((admin, schema, url)) = test_schema().await else {
            return;
        };
        let store = PgStore::open(&url).await.unwrap();
        admin.batch_execute(&format!("CREATE TABLE {schema}.probe (n BIGINT PRIMARY KEY)")).await.unwrap();
        let insert = "INSERT INTO probe (n) VALUES (?)";

        for round in 0..3 {
            // The pool's connections are reused across the rounds.
            let n = round * 10;
            let done = store
                .write(async |tx| {
                    let db = db::PgDb(tx);
                    db.exec(insert, &[(n + 1).into()]).await?;
                    db.finish(&[(insert, vec![(n + 2).into()]), (insert, vec![(n + 3).into()])]).await
                })
                .await;
            assert!(done.is_ok(), "{done:?}");
            // The second write meets the first's row: nothing of it stays.
            let failed = store
                .write(async |tx| {
                    let db = db::PgDb(tx);
                    db.exec(insert, &[(n + 4).into()]).await?;
                    db.finish(&[(insert, vec![(n + 1).into()])]).await
                })
                .await;
            assert!(failed.is_err());
        }
        let sql = format!("SELECT coalesce(array_agg(n ORDER BY n), '{{}}') FROM {schema}.probe");
        let rows: Vec<i64> = admin.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(rows, vec![1, 2, 3, 11, 12, 13, 21, 22, 23]);
        drop(store);
        admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
    }
}
