//! The test harness: the real app on 127.0.0.1:0 with a fresh database per test,
//! and typed helpers to talk to it over HTTP.
#![allow(dead_code)]

use std::net::SocketAddr;

use axum::Router;
use callsheet::api::{self, AppState};
use callsheet::config::Limits;
use callsheet::domain::{now_secs, token};
use callsheet::store::{self, DynStore};
use reqwest::Method;
use serde_json::Value;

/// One tenant with a working key and token.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub account: String,
    pub portal: String,
    pub key_sid: String,
    pub key_secret: String,
    pub token: String,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub store: DynStore,
    pub tenant: Tenant,
    pub backend: Backend,
    /// The database URL the app runs on.
    pub db_url: String,
    _db: TestDb,
}

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    static BACKEND: Backend;
}

/// The PostgreSQL server tests may use, from CALLSHEET_TEST_POSTGRES_URL.
pub fn postgres_url() -> Option<String> {
    std::env::var("CALLSHEET_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())
}

/// Runs a test body with every `TestApp` it spawns on `backend`. Without
/// CALLSHEET_TEST_POSTGRES_URL the PostgreSQL run is skipped, except in CI, where
/// a missing server is a failure.
pub async fn on_backend(backend: Backend, test: impl std::future::Future<Output = ()>) {
    if backend == Backend::Postgres && postgres_url().is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI must run the PostgreSQL suite: set CALLSHEET_TEST_POSTGRES_URL"
        );
        say("PostgreSQL run SKIPPED: CALLSHEET_TEST_POSTGRES_URL is not set");
        return;
    }
    BACKEND.scope(backend, test).await
}

/// A line on the test run's own stderr, past the harness's capture: a skip, a seed
/// or a count shows in every run, passing or not.
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A test that cannot run here for want of an outside component: said plainly, and
/// a failure under `CI=true`, where every test must run.
pub fn skip(test: &str, why: &str) {
    assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI must run the {test}: {why}");
    say(&format!("{test} SKIPPED: {why}"));
}

/// The backend the running test body is on (SQLite outside `on_backend`).
pub fn current_backend() -> Backend {
    BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite)
}

/// Defines a test that runs once on SQLite and once on PostgreSQL, as
/// `name::sqlite` and `name::postgres`.
#[allow(unused_macros)]
macro_rules! backend_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                $crate::common::on_backend($crate::common::Backend::Sqlite, $body).await
            }

            #[tokio::test]
            async fn postgres() {
                $crate::common::on_backend($crate::common::Backend::Postgres, $body).await
            }
        }
    };
}

/// A fresh database for one test: a SQLite file in a temporary directory, or a
/// schema of its own on the PostgreSQL server, dropped afterwards.
pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres { base: String, schema: String },
}

impl TestDb {
    pub async fn create(backend: Backend) -> (TestDb, String) {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("callsheet.db").display());
                (TestDb::Sqlite(dir), url)
            }
            Backend::Postgres => {
                let base = postgres_url().expect("CALLSHEET_TEST_POSTGRES_URL");
                let schema = format!("t_{}", callsheet::domain::ids::IdKind::KeySecret.generate().to_lowercase());
                let schema: String =
                    schema.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect();
                run_sql(&base, &format!("CREATE SCHEMA {schema}")).await;
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
                (TestDb::Postgres { base, schema }, url)
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { base, schema } = self {
            // A test that failed may leave a transaction of its server open: wait for
            // its locks a while, then leave the schema to the run's database drop.
            let (base, sql) =
                (base.clone(), format!("SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {schema} CASCADE"));
            // Drop runs inside the test's runtime; a thread of its own may block.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async {
                    if let Ok(client) = callsheet::store::postgres::connect(&base).await
                        && let Err(e) = client.batch_execute(&sql).await
                    {
                        eprintln!("leaving a test schema behind: {e}");
                    }
                });
            })
            .join();
        }
    }
}

/// Runs one statement on its own connection.
pub async fn run_sql(url: &str, sql: &str) {
    let client = callsheet::store::postgres::connect(url).await.expect("connect to PostgreSQL");
    client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Runs statements on a test database of either backend, behind the app's back.
pub async fn run_sql_on(backend: Backend, url: &str, sql: &str) {
    match backend {
        Backend::Sqlite => {
            let path = url.strip_prefix("sqlite://").expect("a sqlite:// URL");
            rusqlite::Connection::open(path).expect("open").execute_batch(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        Backend::Postgres => run_sql(url, sql).await,
    }
}

/// A request body in one of the encodings clients send.
pub enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
    Form(Vec<(String, String)>),
    Multipart(Vec<(String, String)>),
    /// Multipart text fields plus one file part named `file`.
    Upload(Vec<(String, String)>, &'static str, Vec<u8>),
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(Router::new(), Limits::default()).await
    }

    /// Spawns the app with extra routes (merged before the app's layers) and limits.
    pub async fn spawn_with(extra: Router<AppState>, limits: Limits) -> TestApp {
        let backend = BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite);
        let (db, url) = TestDb::create(backend).await;
        let store = store::open_serving(&url).await.expect("open store");
        store::spawn_sweeper(&store);
        let state = AppState::new(store.clone(), limits);
        let db_url = url.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = api::app(state, extra);
        tokio::spawn(async move { api::serve(listener, app, std::future::pending()).await });
        let mut app = TestApp {
            addr,
            client: reqwest::Client::new(),
            store,
            tenant: Tenant {
                account: String::new(),
                portal: String::new(),
                key_sid: String::new(),
                key_secret: String::new(),
                token: String::new(),
            },
            backend,
            db_url,
            _db: db,
        };
        app.tenant = app.new_tenant("Tenant A").await;
        app
    }

    /// Creates another account with a key and a token, as the admin CLI does.
    pub async fn new_tenant(&self, name: &str) -> Tenant {
        let (account, portal) = self.store.create_account(name.to_string(), "VN".to_string()).await.expect("account");
        let key = self.store.create_key(account.account_id()).await.expect("key");
        let token = token::mint(&key.sid, &key.secret, now_secs(), 3600);
        Tenant { account: account.id, portal: portal.id, key_sid: key.sid, key_secret: key.secret, token }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request with an optional token in X-STRINGEE-AUTH; returns status and JSON.
    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Body) -> (u16, Value) {
        let (status, text) = self.send_raw(method, path, token, body).await;
        let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, json)
    }

    /// As `send`, returning the body exactly as it came over the wire.
    pub async fn send_raw(&self, method: Method, path: &str, token: Option<&str>, body: Body) -> (u16, String) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.header("X-STRINGEE-AUTH", t);
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(&v),
            Body::Raw(content_type, bytes) => req.header("content-type", content_type).body(bytes),
            Body::Form(pairs) => {
                let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
                req.header("content-type", "application/x-www-form-urlencoded").body(encoded)
            }
            Body::Multipart(pairs) => {
                let mut form = reqwest::multipart::Form::new();
                for (k, v) in pairs {
                    form = form.text(k, v);
                }
                req.multipart(form)
            }
            Body::Upload(pairs, filename, bytes) => {
                let mut form = reqwest::multipart::Form::new();
                for (k, v) in pairs {
                    form = form.text(k, v);
                }
                form = form.part("file", reqwest::multipart::Part::bytes(bytes).file_name(filename));
                req.multipart(form)
            }
        };
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(Method::GET, path, Some(&self.tenant.token), Body::None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(Method::POST, path, Some(&self.tenant.token), Body::Json(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(Method::PUT, path, Some(&self.tenant.token), Body::Json(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(Method::DELETE, path, Some(&self.tenant.token), Body::None).await
    }

    /// As `send`, with another tenant's token.
    pub async fn send_as(&self, tenant: &Tenant, method: Method, path: &str, body: Body) -> (u16, Value) {
        self.send(method, path, Some(&tenant.token), body).await
    }

    pub async fn create_campaign(&self, name: &str) -> String {
        let (status, body) = self.post("/v1/campaign", serde_json::json!({"name": name})).await;
        assert_eq!(status, 200, "{body}");
        body["data"]["id"].as_str().expect("campaign id").to_string()
    }

    pub async fn create_contact(&self, body: Value) -> Value {
        let (status, body) = self.post("/v1/contact", body).await;
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    }
}

/// The error envelope, exactly.
pub fn error(r: u8, msg: &str) -> Value {
    serde_json::json!({"r": r, "msg": msg, "message": msg})
}

pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// POSTs a multipart body of text fields and one file part named `file`.
pub async fn upload(
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
    name: &'static str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    app.send(Method::POST, path, Some(&app.tenant.token), Body::Upload(pairs(fields), name, bytes)).await
}

/// A real `callsheet serve` process on a free loopback port, its stdout and stderr
/// kept line by line; killed when dropped.
pub struct Served {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Served {
    /// `callsheet --database URL serve --listen 127.0.0.1:0 ARGS`, with `RUST_LOG`.
    pub fn start(database: &str, args: &[&str], rust_log: &str) -> Served {
        Served::start_at(database, "127.0.0.1:0", args, rust_log)
    }

    /// The same, listening on `listen`.
    pub fn start_at(database: &str, listen: &str, args: &[&str], rust_log: &str) -> Served {
        Served::start_with(database, listen, args, rust_log, &[])
    }

    /// The same, with more environment variables.
    pub fn start_with(database: &str, listen: &str, args: &[&str], rust_log: &str, env: &[(&str, &str)]) -> Served {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let mut child = Command::new(env!("CARGO_BIN_EXE_callsheet"))
            .args(["--database", database, "serve", "--listen", listen])
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", rust_log)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start callsheet serve");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let stderr = child.stderr.take().expect("stderr");
        let keep = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                keep.lock().unwrap().push(line);
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let keep = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                keep.lock().unwrap().push(line);
            }
        });
        let addr = loop {
            let line = rx
                .recv_timeout(std::time::Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("serve printed no address:\n{}", log.lock().unwrap().join("\n")));
            if let Some(rest) = line.split("listen=").nth(1) {
                break rest.split_whitespace().next().expect("address").to_string();
            }
            // --log-format json
            if let Some(rest) = line.split("\"listen\":\"").nth(1) {
                break rest.split('"').next().expect("address").to_string();
            }
        };
        Served { child, base: format!("http://{addr}"), log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every line the server has printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGKILL: no shutdown, no flush, nothing but what the database made durable.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the graceful stop; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let ok = self.child.wait().map(|s| s.success()).unwrap_or(false);
        // The pipes' readers finish with the process.
        std::thread::sleep(std::time::Duration::from_millis(100));
        ok
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `callsheet --database URL ARGS` and returns its JSON output.
pub fn cli_json(database: &str, args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callsheet"))
        .args(["--database", database])
        .args(args)
        .output()
        .expect("run callsheet");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// An account and a token for it, made with the CLI on `database`.
pub fn cli_tenant(database: &str, name: &str) -> String {
    let account = cli_json(database, &["account", "create", name, "--json"]);
    let key = cli_json(database, &["key", "create", "--account", account["account"].as_str().unwrap(), "--json"]);
    token::mint(key["key_sid"].as_str().unwrap(), key["key_secret"].as_str().unwrap(), now_secs(), 3600)
}

/// Skips a test that needs PostgreSQL when there is none, except in CI.
pub fn skip_without_postgres() -> bool {
    if postgres_url().is_some() {
        return false;
    }
    assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI must run the PostgreSQL suite");
    eprintln!("PostgreSQL run skipped: CALLSHEET_TEST_POSTGRES_URL is not set");
    true
}

/// A client of a [`Served`] process with one tenant's token.
pub struct ApiClient {
    pub http: reqwest::Client,
    pub token: String,
}

impl ApiClient {
    /// A client of a fresh tenant made with the CLI on `database`.
    pub fn new(database: &str, tenant: &str) -> ApiClient {
        ApiClient { http: reqwest::Client::new(), token: cli_tenant(database, tenant) }
    }

    /// Sends a request to `url`; returns the status and the JSON answer.
    pub async fn call(&self, method: Method, url: String, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, url).header("X-STRINGEE-AUTH", &self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        (resp.status().as_u16(), resp.json().await.expect("JSON"))
    }

    /// As `call` on `server`'s `path`, which must succeed; the JSON answer.
    pub async fn ok(&self, server: &Served, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.call(method, server.url(path), body).await;
        assert!((200..300).contains(&status), "{path}: {status} {body}");
        body
    }

    pub async fn post(&self, server: &Served, path: &str, body: Value) -> Value {
        self.ok(server, Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, server: &Served, path: &str) -> Value {
        self.ok(server, Method::GET, path, None).await
    }
}
