//! What the benchmarks share: their settings, a fresh database per bench on either
//! backend, the real server as a separate process, the floors measured with plain SQL,
//! and the report every bench prints (and hands to `bench/run.sh`).
//!
//! Settings come from the environment, so `bench/run.sh` can drive every bench alike:
//! - `CALLSHEET_BENCH_ROWS`: the size (default 1,000,000; a number argument wins);
//! - `CALLSHEET_BENCH_BACKEND`: `sqlite` (default) or `postgres`;
//! - `CALLSHEET_BENCH_PG`: a PostgreSQL URL whose server gets one fresh database per
//!   bench (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! - `CALLSHEET_BENCH_RUN`: names those databases `callsheet_bench_<run>_<bench>`;
//! - `CALLSHEET_BENCH_WRK_SECONDS`: how long each load-generator run lasts (default 10);
//! - `CALLSHEET_BENCH_TABLE`: a file each bench appends its table rows to.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The middle sample.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

pub fn ms(d: Duration) -> String {
    if d >= Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1000.0)
    }
}

/// The bench's size: a number argument, else `CALLSHEET_BENCH_ROWS`, else `default`.
pub fn rows(default: usize) -> usize {
    std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .or_else(|| std::env::var("CALLSHEET_BENCH_ROWS").ok().and_then(|v| v.replace('_', "").parse().ok()))
        .unwrap_or(default)
}

/// The database the service runs on in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_env() -> Backend {
        match std::env::var("CALLSHEET_BENCH_BACKEND").as_deref() {
            Ok("postgres") | Ok("postgresql") => Backend::Postgres,
            Ok("sqlite") | Ok("") | Err(_) => Backend::Sqlite,
            Ok(other) => panic!("CALLSHEET_BENCH_BACKEND must be sqlite or postgres, not {other:?}"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }

    /// How this backend's floor writes rows in bulk.
    pub fn plain_insert(self) -> &'static str {
        match self {
            Backend::Sqlite => "plain INSERT",
            Backend::Postgres => "COPY",
        }
    }
}

/// The rows one source row makes in one table (see [`Database::write_bare`]).
pub type RowsOf<'a> = &'a dyn Fn(usize) -> Vec<Vec<String>>;

/// A database of its own for one bench: a file in a temporary directory, or a fresh
/// PostgreSQL database dropped again when this is dropped.
pub struct Database {
    pub backend: Backend,
    url: String,
    /// Keeps the SQLite file (and any floor files) until the bench ends.
    dir: tempfile::TempDir,
    /// The PostgreSQL server's maintenance URL and this database's name.
    postgres: Option<(String, String)>,
}

impl Database {
    pub fn fresh(label: &str) -> Database {
        let backend = Backend::from_env();
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join(format!("{label}.db")).display());
                Database { backend, url, dir, postgres: None }
            }
            Backend::Postgres => {
                let admin = std::env::var("CALLSHEET_BENCH_PG")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let run = std::env::var("CALLSHEET_BENCH_RUN").unwrap_or_else(|_| std::process::id().to_string());
                let name = format!("callsheet_bench_{run}_{label}");
                psql(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE);\nCREATE DATABASE {name};\n"));
                let url = with_database(&admin, &name);
                Database { backend, url, dir, postgres: Some((admin, name)) }
            }
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A scratch directory that lives as long as the database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A connection to the SQLite file with the settings the store gives its own.
    fn sqlite(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.url.strip_prefix("sqlite://").unwrap()).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        conn.pragma_update(None, "cache_size", -65536).unwrap();
        conn.pragma_update(None, "temp_store", "MEMORY").unwrap();
        conn.pragma_update(None, "mmap_size", 1_i64 << 30).unwrap();
        conn
    }

    /// Median time of `sql` (a query with its values written in) over `repeats` runs,
    /// reading every row it returns: the floor of a question the service answers.
    pub fn time_query(&self, sql: &str, repeats: usize) -> Duration {
        match self.backend {
            Backend::Sqlite => {
                let conn = self.sqlite();
                let mut stmt = conn.prepare(sql).unwrap();
                let samples = (0..repeats)
                    .map(|_| {
                        let start = Instant::now();
                        std::hint::black_box(stmt.query_map([], |_| Ok(())).unwrap().count());
                        start.elapsed()
                    })
                    .collect();
                median(samples)
            }
            Backend::Postgres => {
                // Counting the rows server-side spares psql formatting them.
                let one = format!("SELECT count(*) FROM ({sql}) AS q;\n");
                median(psql_timed(&self.url, &one.repeat(repeats)))
            }
        }
    }

    /// Waits until the data seeded so far sits in the database file: on SQLite, a bulk
    /// write's checkpoint runs after it returns, and must not overlap what is measured.
    pub fn settle(&self) {
        if self.backend == Backend::Sqlite {
            let conn = self.sqlite();
            conn.busy_timeout(Duration::from_secs(600)).unwrap();
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
        } else {
            // A bulk write ends with a VACUUM (ANALYZE) that the store runs after it
            // answers, on a connection of its own: wait until no statement of another
            // session is running in this database (twice in a row, 250 ms apart).
            let busy = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                        AND pid <> pg_backend_pid() AND state = 'active'";
            let mut quiet = 0;
            for _ in 0..2400 {
                std::thread::sleep(Duration::from_millis(250));
                let out = Command::new("psql").args(["-X", "-At", "-d", &self.url, "-c", busy]).output();
                let idle = out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
                quiet = if idle { quiet + 1 } else { 0 };
                if quiet == 2 {
                    break;
                }
            }
        }
    }

    /// Time of a plain bulk write of `rows` into a bare table `table` with no index:
    /// one transaction of prepared INSERTs on SQLite, COPY on PostgreSQL.
    pub fn plain_insert(&self, table: &str, rows: &[[String; 3]]) -> Duration {
        let create = format!("CREATE TABLE {table} (a TEXT, b TEXT, c TEXT)");
        match self.backend {
            Backend::Sqlite => {
                let conn = self.sqlite();
                conn.execute_batch(&create).unwrap();
                let start = Instant::now();
                let tx = conn.unchecked_transaction().unwrap();
                {
                    let mut stmt = tx.prepare(&format!("INSERT INTO {table} VALUES (?1, ?2, ?3)")).unwrap();
                    for [a, b, c] in rows {
                        stmt.execute((a, b, c)).unwrap();
                    }
                }
                tx.commit().unwrap();
                let took = start.elapsed();
                conn.execute_batch(&format!("DROP TABLE {table}")).unwrap();
                took
            }
            Backend::Postgres => {
                psql(&self.url, &format!("{create};\n"));
                let took = self.copy_into(table, rows.iter().map(|r| r.to_vec()));
                psql(&self.url, &format!("DROP TABLE {table};\n"));
                took
            }
        }
    }

    /// Time of one COPY of `rows` into `target` (a table, optionally with its columns);
    /// PostgreSQL only. The file is written before the clock starts: COPY alone is timed.
    pub fn copy_into(&self, target: &str, rows: impl Iterator<Item = Vec<String>>) -> Duration {
        let file = self.dir().join("copy.tsv");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| copy_text(c)).collect();
            writeln!(out, "{}", cells.join("\t")).unwrap();
        }
        out.into_inner().unwrap().sync_all().unwrap();
        let times = psql_timed(&self.url, &format!("\\copy {target} FROM '{}'\n", file.display()));
        let _ = std::fs::remove_file(&file);
        times.iter().sum()
    }

    /// Time of writing rows into callsheet's own tables, bare: for each `(target,
    /// rows_of)` (a table and its columns), the rows `rows_of(i)` for `i` in `0..n`.
    /// SQLite: single-row INSERTs, table after table, in one transaction; PostgreSQL:
    /// one COPY per table. The tables' indexes and triggers are the schema's own.
    pub fn write_bare(&self, n: usize, tables: &[(&str, RowsOf<'_>)]) -> Duration {
        match self.backend {
            Backend::Sqlite => {
                let conn = self.sqlite();
                let start = Instant::now();
                let tx = conn.unchecked_transaction().unwrap();
                for (target, rows_of) in tables {
                    let columns = target.matches(',').count() + 1;
                    let marks = vec!["?"; columns].join(", ");
                    let mut stmt = tx.prepare(&format!("INSERT INTO {target} VALUES ({marks})")).unwrap();
                    for i in 0..n {
                        for row in rows_of(i) {
                            stmt.execute(rusqlite::params_from_iter(row.iter())).unwrap();
                        }
                    }
                }
                tx.commit().unwrap();
                start.elapsed()
            }
            Backend::Postgres => {
                tables.iter().map(|(target, rows_of)| self.copy_into(target, (0..n).flat_map(rows_of))).sum()
            }
        }
    }

    /// Time of deleting the customers `ids` of a campaign with one bare DELETE in one
    /// transaction.
    pub fn delete_customers(&self, account: &str, campaign: &str, ids: &[i64]) -> Duration {
        let scope = format!("account_id = '{account}' AND campaign_id = '{campaign}'");
        match self.backend {
            Backend::Sqlite => {
                let conn = self.sqlite();
                let list = serde_json::to_string(ids).unwrap();
                let sql = format!("DELETE FROM customers WHERE {scope} AND id IN (SELECT value FROM json_each(?1))");
                let start = Instant::now();
                let tx = conn.unchecked_transaction().unwrap();
                let n = tx.execute(&sql, [list]).unwrap();
                tx.commit().unwrap();
                let took = start.elapsed();
                assert_eq!(n, ids.len());
                took
            }
            Backend::Postgres => {
                let mut list = String::new();
                for (i, id) in ids.iter().enumerate() {
                    let _ = write!(list, "{}{id}", if i == 0 { "" } else { "," });
                }
                let script = format!(
                    "BEGIN;\nDELETE FROM customers WHERE {scope} AND id = ANY('{{{list}}}'::bigint[]);\nCOMMIT;\n"
                );
                psql_timed(&self.url, &script).iter().sum()
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // No panic here: a bench that failed is already unwinding.
        if std::env::var_os("CALLSHEET_BENCH_KEEP").is_some() {
            match &self.postgres {
                Some((_, name)) => eprintln!("kept the database {name} (CALLSHEET_BENCH_KEEP)"),
                None => {
                    self.dir.disable_cleanup(true);
                    eprintln!("kept the database {} (CALLSHEET_BENCH_KEEP)", self.url);
                }
            }
            return;
        }
        if let Some((admin, name)) = &self.postgres
            && let Err(e) = try_psql(admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE);\n"))
        {
            eprintln!("could not drop {name}: {e}");
        }
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    let (head, tail) = url.split_at(scheme_end);
    let (authority, rest) = tail.split_at(tail.find('/').unwrap_or(tail.len()));
    let query = rest.find('?').map(|i| &rest[i..]).unwrap_or("");
    format!("{head}{authority}/{name}{query}")
}

/// A cell as COPY's text format wants it.
fn copy_text(cell: &str) -> String {
    cell.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r")
}

/// Runs a psql script on `url`, stopping at the first error; returns what it printed.
pub fn psql(url: &str, script: &str) -> String {
    try_psql(url, script).unwrap_or_else(|e| panic!("{e}"))
}

fn try_psql(url: &str, script: &str) -> Result<String, String> {
    let mut child = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null", "-d", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("psql is needed for the PostgreSQL floors: {e}"))?;
    // Written from its own thread: psql answers while it reads, and a long script's
    // answers would fill the pipe while this end was still writing.
    let mut stdin = child.stdin.take().unwrap();
    let script = script.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    writer.join().map_err(|_| "writing to psql panicked".to_string())?.map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("psql failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a psql script with `\timing` on and returns each statement's time, as the
/// server round trip psql measured (its start-up and connection are not counted).
pub fn psql_timed(url: &str, script: &str) -> Vec<Duration> {
    psql(url, &format!("\\timing on\n{script}"))
        .lines()
        .filter_map(|l| l.strip_prefix("Time: "))
        .filter_map(|t| t.split_whitespace().next()?.parse::<f64>().ok())
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .collect()
}

/// A fresh account and API key on the database at `url`, made through the store.
pub async fn account(
    url: &str,
) -> (callsheet::store::DynStore, callsheet::domain::account::Account, callsheet::domain::account::ApiKey) {
    let store = callsheet::store::open(url).await.unwrap();
    let (account, _) = store.create_account("Bench".into(), "VN".into()).await.unwrap();
    let key = store.create_key(account.account_id()).await.unwrap();
    (store, account, key)
}

/// The real service, `callsheet serve`, in its own process on a free loopback port.
pub struct Server {
    child: Child,
    pub addr: String,
    pub token: String,
    pub client: reqwest::Client,
}

impl Server {
    /// Starts the server on the database at `url` with `extra` arguments, and waits
    /// until it answers; the token is minted for `key`.
    pub fn start(url: &str, key: &callsheet::domain::account::ApiKey, extra: &[&str]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_callsheet"))
            .env("RUST_LOG", "warn")
            .args(["serve", "--database", url, "--listen", &addr])
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(&addr).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("callsheet serve --database {url} exited with {status}");
            }
            assert!(started.elapsed() < Duration::from_secs(60), "callsheet serve did not start in 60 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        let token = callsheet::domain::token::mint(&key.sid, &key.secret, callsheet::domain::now_secs(), 3600);
        Server { child, addr, token, client: reqwest::Client::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Peak resident memory of the server process so far, from /proc.
    pub fn peak_rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    }

    /// GETs `path` with the token; returns the time to the last byte and the body size.
    pub async fn get(&self, path: &str) -> (Duration, usize) {
        let start = Instant::now();
        let resp = self.client.get(self.url(path)).header("X-STRINGEE-AUTH", &self.token).send().await.unwrap();
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        let body = resp.bytes().await.unwrap();
        (start.elapsed(), body.len())
    }

    /// POSTs JSON with the token; returns the time to the last byte and the JSON answer.
    pub async fn post_json(&self, path: &str, body: Value) -> (Duration, Value) {
        let start = Instant::now();
        let resp = self.client.post(self.url(path)).header("X-STRINGEE-AUTH", &self.token).json(&body).send().await;
        let bytes = resp.unwrap().bytes().await.unwrap();
        // The clock stops when the last byte arrives: reading the JSON is the client's work.
        let took = start.elapsed();
        (took, serde_json::from_slice(&bytes).unwrap())
    }

    /// Uploads `file` (named `filename`) into `campaign` with POST /v1/customcampaign;
    /// returns the time to the answer and the answer.
    pub async fn upload(&self, campaign: &str, file: Vec<u8>, filename: &str) -> (Duration, Value) {
        let form = reqwest::multipart::Form::new()
            .text("campaign", campaign.to_string())
            .part("file", reqwest::multipart::Part::bytes(file).file_name(filename.to_string()));
        let start = Instant::now();
        let resp = self
            .client
            .post(self.url("/v1/customcampaign"))
            .header("X-STRINGEE-AUTH", &self.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let body: Value = resp.json().await.unwrap();
        (start.elapsed(), body)
    }

    /// Creates a campaign over HTTP and returns its id.
    pub async fn create_campaign(&self, name: &str) -> String {
        let (_, created) = self.post_json("/v1/campaign", serde_json::json!({"name": name})).await;
        created["data"]["id"].as_str().unwrap_or_else(|| panic!("campaign not created: {created}")).to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Requests per second `wrk` (a separate process: 2 threads, 16 connections) sustains
/// against `url` for `CALLSHEET_BENCH_WRK_SECONDS`, each request carrying `headers`.
/// Panics when a response is not 2xx or a socket fails, as the rate would be wrong.
pub fn wrk(url: &str, headers: &[String]) -> f64 {
    let seconds = std::env::var("CALLSHEET_BENCH_WRK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10u32);
    let mut cmd = Command::new("wrk");
    cmd.args(["--threads", "2", "--connections", "16", "--duration", &format!("{seconds}s")]);
    for h in headers {
        cmd.args(["--header", h]);
    }
    let out = cmd.arg(url).output().expect("wrk is needed for the throughput row: apt-get install -y wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    for bad in ["Non-2xx or 3xx responses:", "Socket errors:"] {
        assert!(!text.contains(bad), "wrk against {url} saw failures:\n{text}");
    }
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"))
}

/// Sends entries `0..n`, made by `entry`, down a store feed in batches, then `Done`.
pub async fn feed_entries(
    tx: callsheet::store::EntrySender,
    n: usize,
    entry: impl Fn(usize) -> (Option<String>, String, String),
    source: callsheet::domain::customer::Source,
) {
    use callsheet::store::Feed;
    for start in (0..n).step_by(10_000) {
        let batch = (start..(start + 10_000).min(n))
            .map(|i| {
                let (crm_id, name, phone) = entry(i);
                callsheet::domain::customer::NewCustomer {
                    row: i as i64,
                    crm_id,
                    name: Some(name),
                    phones: vec![phone],
                    dropped_phones: Vec::new(),
                    fields: Default::default(),
                    email: String::new(),
                    source,
                    name_key: None,
                }
            })
            .collect();
        assert!(tx.send(Feed::Rows(batch)).await, "the store stopped reading");
    }
    assert!(tx.send(Feed::Done).await, "the store stopped reading");
}

/// A performance target, and how a figure is held to it.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// No target is set for this figure; it is shown for context.
    None,
    /// The operation takes at most this long.
    Within(Duration),
    /// The operation costs at most this many times its floor.
    RatioAtMost(f64),
    /// At least this many operations per second.
    RateAtLeast(f64),
    /// At most this many megabytes.
    MegabytesAtMost(f64),
}

/// A figure: a duration, a rate, or a size.
#[derive(Debug, Clone, Copy)]
pub enum Figure {
    Time(Duration),
    /// Operations per second, and what one operation is called.
    Rate(f64, &'static str),
    Megabytes(f64),
}

impl Figure {
    fn text(self) -> String {
        match self {
            Figure::Time(d) => ms(d),
            Figure::Rate(r, unit) if r >= 1e6 => format!("{:.2}M {unit}/s", r / 1e6),
            Figure::Rate(r, unit) if r >= 1e4 => format!("{:.1}k {unit}/s", r / 1e3),
            Figure::Rate(r, unit) => format!("{r:.0} {unit}/s"),
            Figure::Megabytes(mb) => format!("{mb:.0} MB"),
        }
    }

    /// Seconds one operation costs, so that ratios read the same for times and rates.
    fn cost(self) -> f64 {
        match self {
            Figure::Time(d) => d.as_secs_f64(),
            Figure::Rate(r, _) => 1.0 / r,
            Figure::Megabytes(mb) => mb,
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub measurement: String,
    pub figure: Figure,
    /// The floor or baseline: the figure and what it is.
    pub floor: Option<(Figure, String)>,
    pub target: Target,
}

impl Row {
    pub fn new(measurement: impl Into<String>, figure: Figure, target: Target) -> Row {
        Row { measurement: measurement.into(), figure, floor: None, target }
    }

    pub fn floor(mut self, figure: Figure, what: impl Into<String>) -> Row {
        self.floor = Some((figure, what.into()));
        self
    }

    /// The figure's cost over the floor's: 2.0x is twice as slow as the floor.
    fn ratio(&self) -> Option<f64> {
        self.floor.as_ref().map(|(floor, _)| self.figure.cost() / floor.cost())
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::None => "—".into(),
            Target::Within(d) => format!("≤ {}", ms(d)),
            Target::RatioAtMost(r) => format!("≤ {r}x floor"),
            Target::RateAtLeast(r) => format!("≥ {}", Figure::Rate(r, self.rate_unit()).text()),
            Target::MegabytesAtMost(mb) => format!("≤ {mb:.0} MB"),
        }
    }

    fn rate_unit(&self) -> &'static str {
        match self.figure {
            Figure::Rate(_, unit) => unit,
            _ => "ops",
        }
    }

    /// "yes", or "no" and by how much the target is missed.
    fn met(&self) -> String {
        let pct = |over: f64| format!("{:.0}%", over * 100.0);
        match (self.target, self.figure, self.ratio()) {
            (Target::None, _, _) => "—".into(),
            (Target::Within(limit), Figure::Time(d), _) if d <= limit => "yes".into(),
            (Target::Within(limit), Figure::Time(d), _) => {
                format!("no: {} over ({} too slow)", ms(d - limit), pct(d.as_secs_f64() / limit.as_secs_f64() - 1.0))
            }
            (Target::RatioAtMost(limit), _, Some(r)) if r <= limit => "yes".into(),
            (Target::RatioAtMost(limit), _, Some(r)) => {
                format!("no: {r:.2}x against {limit}x ({} over)", pct(r / limit - 1.0))
            }
            (Target::RateAtLeast(limit), Figure::Rate(r, _), _) if r >= limit => "yes".into(),
            (Target::RateAtLeast(limit), Figure::Rate(r, _), _) => {
                format!("no: {} short ({} of the target)", pct(1.0 - r / limit), pct(r / limit))
            }
            (Target::MegabytesAtMost(limit), Figure::Megabytes(mb), _) if mb <= limit => "yes".into(),
            (Target::MegabytesAtMost(limit), Figure::Megabytes(mb), _) => {
                format!("no: {:.0} MB over ({})", mb - limit, pct(mb / limit - 1.0))
            }
            _ => "?".into(),
        }
    }

    fn markdown(&self) -> String {
        let (floor, ratio) = match (&self.floor, self.ratio()) {
            (Some((figure, what)), Some(r)) if r < 0.1 => (format!("{} ({what})", figure.text()), format!("{r:.3}x")),
            (Some((figure, what)), Some(r)) => (format!("{} ({what})", figure.text()), format!("{r:.2}x")),
            _ => ("—".into(), "—".into()),
        };
        format!(
            "| {} | {} | {floor} | {ratio} | {} | {} |",
            self.measurement,
            self.figure.text(),
            self.target_text(),
            self.met()
        )
    }
}

pub const HEADER: &str =
    "| measurement | callsheet | floor / baseline | ratio | target | met? |\n|---|---|---|---|---|---|";

/// Prints `rows` as a markdown table under `title`, and appends them to the file
/// `CALLSHEET_BENCH_TABLE` names, where `bench/run.sh` gathers every bench's rows.
pub fn report(title: &str, rows: &[Row]) {
    let lines: Vec<String> = rows.iter().map(Row::markdown).collect();
    println!("{title}\n\n{HEADER}\n{}\n", lines.join("\n"));
    if let Ok(path) = std::env::var("CALLSHEET_BENCH_TABLE") {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(PathBuf::from(path)).unwrap();
        for line in lines {
            writeln!(file, "{line}").unwrap();
        }
    }
}
