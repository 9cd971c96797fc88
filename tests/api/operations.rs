//! Running callsheet as operators do: connection hygiene against slow clients, a
//! database outage, secrets kept out of logs, and migrations that were edited.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common::{Backend, TestDb, postgres_url};
use callsheet::api::{self, AppState, ServeOptions};
use callsheet::config::Limits;

/// The app on a port of its own, with the connection settings given.
async fn serve_with(url: &str, options: ServeOptions) -> SocketAddr {
    let store = callsheet::store::open(url).await.expect("open store");
    let app = api::app(AppState::new(store, Limits::default()), axum::Router::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(api::serve_with(listener, app, std::future::pending(), options));
    addr
}

/// Reads from a connection until it closes or `within` passes; true when it closed.
fn closes_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_midway_through_its_headers_is_disconnected() {
    let (_db, url) = TestDb::create(Backend::Sqlite).await;
    let options = ServeOptions { header_read_timeout: Duration::from_millis(500), ..ServeOptions::default() };
    let addr = serve_with(&url, options).await;
    tokio::task::spawn_blocking(move || {
        let mut slow = TcpStream::connect(addr).unwrap();
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: callsheet\r\nX-Half: ").unwrap();
        // A hang guard: with no timeout the connection stays open for ever.
        assert!(closes_within(&mut slow, Duration::from_secs(30)), "a half-sent request head kept its connection");
        // An idle keep-alive connection is closed the same way.
        let mut idle = TcpStream::connect(addr).unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: callsheet\r\n\r\n").unwrap();
        let mut answer = [0u8; 512];
        let n = idle.read(&mut answer).unwrap();
        assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
        assert!(closes_within(&mut idle, Duration::from_secs(30)), "an idle keep-alive connection stayed open");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_or_never_comes_is_answered_and_its_connection_closed() {
    let (_db, url) = TestDb::create(Backend::Sqlite).await;
    let options = ServeOptions { header_read_timeout: Duration::from_secs(1), ..ServeOptions::default() };
    let store = callsheet::store::open(&url).await.expect("open store");
    let (account, _) =
        store.create_account(callsheet::domain::account::parse_name("t", "Acme").unwrap(), "VN".into()).await.unwrap();
    let key = store.create_key(account.account_id()).await.unwrap();
    let token = callsheet::domain::token::mint(&key.sid, &key.secret, callsheet::domain::now_secs(), 600);
    let addr = serve_with(&url, options).await;
    tokio::task::spawn_blocking(move || {
        // A byte every half second, far below a kilobyte a second; and nothing at all;
        // in JSON as in a multipart body, whose parser reads the stream itself.
        let kinds = ["application/json", "multipart/form-data; boundary=XyZ"];
        for (kind, trickle) in kinds.into_iter().flat_map(|kind| [(kind, true), (kind, false)]) {
            let head = format!(
                "POST /v1/campaign HTTP/1.1\r\nHost: callsheet\r\nX-STRINGEE-AUTH: {token}\r\nContent-Type: {kind}\r\nContent-Length: 100000\r\n\r\n"
            );
            let mut slow = TcpStream::connect(addr).unwrap();
            slow.write_all(head.as_bytes()).unwrap();
            slow.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
            let started = std::time::Instant::now();
            let mut answer = Vec::new();
            let mut buf = [0u8; 4096];
            while started.elapsed() < Duration::from_secs(30) {
                if trickle {
                    let _ = slow.write_all(b" ");
                }
                match slow.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                    Err(_) => break,
                }
                if answer.ends_with(b"}") {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&answer);
            assert!(text.starts_with("HTTP/1.1 400"), "trickle {trickle}: {text}");
            let expected = "could not read the request body: the body arrives too slowly (after 1 s, at least 1024 bytes a second)";
            assert!(text.contains("\"r\":1") && text.contains(expected), "{kind} {trickle}: {text}");
            assert!(started.elapsed() < Duration::from_secs(10), "answered after {:?}", started.elapsed());
        }
        // A body sent at once is unaffected.
        let mut fine = TcpStream::connect(addr).unwrap();
        fine.write_all(b"GET /healthz HTTP/1.1\r\nHost: callsheet\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        fine.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    let (_db, url) = TestDb::create(Backend::Sqlite).await;
    let options = ServeOptions { header_read_timeout: Duration::from_secs(60), max_connections: 2 };
    let addr = serve_with(&url, options).await;
    tokio::task::spawn_blocking(move || {
        let first = TcpStream::connect(addr).unwrap();
        let _second = TcpStream::connect(addr).unwrap();
        // Both slots are taken by silent clients: a third is not served...
        let mut third = TcpStream::connect(addr).unwrap();
        third.write_all(b"GET /healthz HTTP/1.1\r\nHost: callsheet\r\nConnection: close\r\n\r\n").unwrap();
        third.set_read_timeout(Some(Duration::from_millis(700))).unwrap();
        let mut answer = Vec::new();
        let early = third.read_to_end(&mut answer);
        assert!(early.is_err() && answer.is_empty(), "served past the cap: {}", String::from_utf8_lossy(&answer));
        // ...until one of them leaves.
        drop(first);
        third.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        third.read_to_end(&mut answer).unwrap();
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    })
    .await
    .unwrap();
}

/// A TCP relay to PostgreSQL that a test can take down: while down it cuts every
/// relayed connection and accepts new ones without ever answering, as an
/// unreachable host does.
struct Relay {
    addr: SocketAddr,
    down: Arc<AtomicBool>,
    generation: Arc<std::sync::atomic::AtomicU64>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (d, g) = (down.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                let (down, generation) = (d.clone(), g.clone());
                tokio::spawn(async move {
                    if down.load(Ordering::SeqCst) {
                        // Hold it open, silent, until the relay is back up.
                        while down.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        return;
                    }
                    let born = generation.load(Ordering::SeqCst);
                    let Ok(mut server) = tokio::net::TcpStream::connect(target).await else { return };
                    let relay = tokio::io::copy_bidirectional(&mut client, &mut server);
                    tokio::pin!(relay);
                    loop {
                        tokio::select! {
                            _ = &mut relay => return,
                            () = tokio::time::sleep(Duration::from_millis(50)) => {
                                if generation.load(Ordering::SeqCst) != born {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Relay { addr, down, generation }
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_postgres_outage_requests_fail_instead_of_hanging() {
    if crate::common::skip_without_postgres() {
        return;
    }
    let base = postgres_url().unwrap();
    let (_db, url) = crate::common::TestDb::create(Backend::Postgres).await;
    let config: tokio_postgres::Config = base.parse().unwrap();
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        other => panic!("the test server must be reached over TCP, not {other:?}"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let target: SocketAddr = tokio::net::lookup_host((host.as_str(), port)).await.unwrap().next().unwrap();
    let relay = Relay::start(target).await;
    let relayed = url.replacen(&format!("{host}:{port}"), &relay.addr.to_string(), 1);
    assert_ne!(relayed, url, "the test URL must name host:port");
    let store = callsheet::store::open(&relayed).await.expect("open store through the relay");
    let (account, _) = store.create_account("Outage".into(), "VN".into()).await.unwrap();
    let key = store.create_key(account.account_id()).await.unwrap();
    let token = callsheet::domain::token::mint(&key.sid, &key.secret, callsheet::domain::now_secs(), 3600);
    let app = api::app(AppState::new(store, Limits::default()), axum::Router::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(api::serve(listener, app, std::future::pending()));
    let client = reqwest::Client::new();
    let campaigns = || client.get(format!("http://{addr}/v1/campaign")).header("X-STRINGEE-AUTH", &token).send();

    assert_eq!(campaigns().await.unwrap().status(), 200);
    relay.set_down(true);
    // The relayed connections are cut within a few of the relay's 50 ms checks.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Every request answers, as r=10, however many arrive at once.
    let outage: Vec<_> = (0..24).map(|_| tokio::spawn(campaigns())).collect();
    for request in outage {
        let answered = tokio::time::timeout(Duration::from_secs(60), request).await;
        let response = answered.expect("a request hung during the outage").unwrap().unwrap();
        assert_eq!(response.status(), 500);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, crate::common::error(10, "internal error"));
    }
    // Readiness says so, without a token; liveness does not depend on the database.
    let ready = client.get(format!("http://{addr}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.text().await.unwrap(), r#"{"r":10,"msg":"database unavailable"}"#);
    assert_eq!(client.get(format!("http://{addr}/healthz")).send().await.unwrap().status(), 200);
    relay.set_down(false);
    // Once the database is back, so is the service.
    let mut back = false;
    for _ in 0..100 {
        if campaigns().await.unwrap().status() == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "the service did not recover after the outage");
    assert_eq!(client.get(format!("http://{addr}/readyz")).send().await.unwrap().status(), 200);
}

/// Runs the CLI with `args`; returns whether it succeeded, and everything it printed.
fn run_cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_callsheet")).args(args).env("NO_COLOR", "1").output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn database_passwords_never_reach_a_message() {
    // Neither a URL that does not parse nor one whose server is unreachable is echoed whole.
    for url in [
        "postgres://callsheet:S3cretOne@127.0.0.1:notaport/db",
        "postgres://callsheet:S3cretTwo@127.0.0.1:1/db?password=S3cretThree&connect_timeout=2",
        "mysql://callsheet:S3cretFour@127.0.0.1/db",
    ] {
        let (ok, text) = run_cli(&["--database", url, "account", "create", "Acme"]);
        assert!(!ok, "{url}: {text}");
        assert!(!text.contains("S3cret"), "a password was printed: {text}");
        let reasons = text.trim_end().lines().filter(|l| !l.starts_with("callsheet: database ")).count();
        assert_eq!(reasons, 1, "not one line: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_postgres_url_keeps_its_password_out_of_the_log() {
    if crate::common::skip_without_postgres() {
        return;
    }
    let (_db, url) = crate::common::TestDb::create(Backend::Postgres).await;
    // The machine's server trusts local connections, so any password is accepted.
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').map_or(("postgres", rest), |(u, h)| (u.split(':').next().unwrap(), h));
    let with_password = format!("{scheme}://{user}:S3cretUser@{host}&password=S3cretParam");
    let (ok, text) = run_cli(&["--database", &with_password, "account", "create", "Acme", "--json"]);
    assert!(ok, "{text}");
    assert!(!text.contains("S3cret"), "{text}");
    let account: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let (ok, key) = run_cli(&[
        "--database",
        &with_password,
        "key",
        "create",
        "--account",
        account["account"].as_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{key}");

    let mut served = crate::common::Served::start(&with_password, &[], "debug");
    let addr = served.base.trim_start_matches("http://").to_string();
    let client = reqwest::Client::new();
    let key: serde_json::Value = serde_json::from_str(key.lines().next().unwrap()).unwrap();
    let token = callsheet::domain::token::mint(
        key["key_sid"].as_str().unwrap(),
        key["key_secret"].as_str().unwrap(),
        callsheet::domain::now_secs(),
        60,
    );
    for path in ["/v1/campaign", "/v1/campaign/CA000000", "/v1/nothing"] {
        client.get(format!("http://{addr}{path}")).header("X-STRINGEE-AUTH", &token).send().await.unwrap();
    }
    client
        .get(format!("http://{addr}/v1/campaign"))
        .header("X-STRINGEE-AUTH", "forged.token.here")
        .send()
        .await
        .unwrap();
    assert!(served.terminate(), "the server did not stop cleanly");
    let log = served.log();
    assert!(log.contains("callsheet serving"), "{log}");
    assert!(!log.contains("S3cret"), "a password reached the log:\n{log}");
    assert!(!log.contains(key["key_secret"].as_str().unwrap()), "a key secret reached the log:\n{log}");
}

// A database whose autovacuum is off (as this machine's) or lags still has its
// statistics kept: a server analyzes the tables that changed much since theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_keeps_the_statistics_of_tables_that_changed() {
    if crate::common::skip_without_postgres() {
        return;
    }
    let (db, url) = crate::common::TestDb::create(Backend::Postgres).await;
    let crate::common::TestDb::Postgres { base, schema } = &db else { unreachable!() };
    let (ok, text) = run_cli(&["--database", &url, "account", "create", "Acme", "--json"]);
    assert!(ok, "{text}");
    let account: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let (ok, key) =
        run_cli(&["--database", &url, "key", "create", "--account", account["account"].as_str().unwrap(), "--json"]);
    assert!(ok, "{key}");
    let key: serde_json::Value = serde_json::from_str(key.lines().next().unwrap()).unwrap();
    let served = crate::common::Served::start_with(
        &url,
        "127.0.0.1:0",
        &[],
        "info",
        &[("CALLSHEET_PG_STATISTICS_SECONDS", "1")],
    );
    let token = callsheet::domain::token::mint(
        key["key_sid"].as_str().unwrap(),
        key["key_secret"].as_str().unwrap(),
        callsheet::domain::now_secs(),
        600,
    );
    let client = reqwest::Client::new();
    for i in 0..120 {
        let answer = client
            .post(served.url("/v1/contact"))
            .header("X-STRINGEE-AUTH", &token)
            .json(&serde_json::json!({"name": format!("Lead {i}"), "phones": [format!("09012{i:05}")]}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let client_db = callsheet::store::postgres::connect(base).await.unwrap();
    let analyzed = async {
        for _ in 0..60 {
            let row = client_db
                .query_one(
                    "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'contacts'",
                    &[schema],
                )
                .await
                .unwrap();
            if row.get::<_, bool>(0) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        false
    };
    assert!(analyzed.await, "contacts was not analyzed:\n{}", served.log());
    drop(served);
}

backend_test!(a_migration_edited_after_release_stops_the_server, async {
    let backend = crate::common::current_backend();
    let (_db, url) = TestDb::create(backend).await;
    callsheet::store::open(&url).await.expect("a fresh database migrates");
    let tamper = "UPDATE schema_migrations SET checksum = 'e0e0e0e0e0e0e0e0e0e0e0e0' WHERE version = 1";
    crate::common::run_sql_on(backend, &url, tamper).await;
    let (ok, text) = run_cli(&["--database", &url, "serve", "--listen", "127.0.0.1:0"]);
    assert!(!ok, "the server started on a database whose migration changed: {text}");
    assert!(
        text.contains("migration 0001 was changed after this database applied it (recorded checksum e0e0e0e0e0e0"),
        "{text}"
    );
    assert!(text.contains("released migrations are never edited"), "{text}");
    // A database from before checksums were kept gets them recorded, and starts.
    let forget = "UPDATE schema_migrations SET checksum = NULL";
    crate::common::run_sql_on(backend, &url, forget).await;
    callsheet::store::open(&url).await.expect("an older database starts");
    let (ok, text) = run_cli(&["--database", &url, "account", "create", "After"]);
    assert!(ok, "{text}");
});

backend_test!(readyz_asks_the_database_and_metrics_count_what_was_served, async {
    let app = crate::common::TestApp::spawn().await;
    let (status, body) = app.send_raw(reqwest::Method::GET, "/readyz", None, crate::common::Body::None).await;
    assert_eq!((status, body.as_str()), (200, r#"{"r":0,"msg":"Success"}"#));
    let campaign = app.create_campaign("Metrics").await;
    app.post(
        "/v1/customcampaign/add-by-phones",
        serde_json::json!({"campaign_id": campaign, "phones": ["0901234567", "0901234568"]}),
    )
    .await;
    app.get("/v1/campaign/CANOPE").await;
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let text = resp.text().await.unwrap();
    for line in [
        r#"callsheet_http_requests_total{route="/readyz",method="GET",status="200"} 1"#,
        r#"callsheet_http_requests_total{route="/v1/campaign",method="POST",status="200"} 1"#,
        r#"callsheet_http_requests_total{route="/v1/campaign/{id}",method="GET",status="404"} 1"#,
        r#"callsheet_http_request_duration_seconds_count{route="/v1/customcampaign/add-by-phones"} 1"#,
        r#"callsheet_http_request_duration_seconds_bucket{route="/readyz",le="+Inf"} 1"#,
        "callsheet_rows_imported_total 2",
        "# TYPE callsheet_db_pool_connections gauge",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing from:\n{text}");
    }
    assert!(text.contains(r#"callsheet_db_pool_connections{state="idle"} "#), "{text}");
    // Made-up methods share one label.
    for method in ["FOO1", "FOO2"] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        app.client.request(m, app.url("/nothing")).send().await.unwrap();
    }
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l == r#"callsheet_http_requests_total{route="(unmatched)",method="OTHER",status="404"} 2"#),
        "{text}"
    );
    assert!(!text.contains("FOO1"), "{text}");
});

#[test]
fn one_server_serves_a_sqlite_file_by_any_of_its_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.db");
    let served = crate::common::Served::start(&format!("sqlite://{}", file.display()), &[], "info");
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let dotted = dir.path().join(".").join("one.db");
    for name in [&file, &link, &dotted] {
        let out = Command::new(env!("CARGO_BIN_EXE_callsheet"))
            .args(["--database", &format!("sqlite://{}", name.display()), "serve", "--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "a second server started on {}", name.display());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("another callsheet server is serving"), "{}: {stderr}", name.display());
    }
    assert!(!dir.path().join("link.db.serving").exists());
    // A hard link, in another directory, names the same file.
    let other = tempfile::tempdir_in(dir.path()).unwrap();
    let hard = other.path().join("hard.db");
    std::fs::hard_link(&file, &hard).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_callsheet"))
        .args(["--database", &format!("sqlite://{}", hard.display()), "serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a second server started on a hard link");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another callsheet server is serving") && stderr.contains("hard link"), "{stderr}");
    drop(served);
    // Once the first has stopped, the file is served by either name.
    let served = crate::common::Served::start(&format!("sqlite://{}", hard.display()), &[], "info");
    drop(served);
}

// A reason quotes what the client sent (a token's `alg`, a field): a line break or
// NUL in it is written as an escape, so no request can add a line of its own to the
// text log.
#[test]
fn a_client_cannot_start_a_line_of_the_text_log() {
    use base64::Engine;
    let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("log.db").display());
    let mut served = crate::common::Served::start(&database, &[], "info");
    let addr = served.base.trim_start_matches("http://").to_string();
    let forged = "2026-12-07T07:30:00.000000Z  INFO callsheet: FORGED";
    let header = serde_json::json!({"typ": "JWT", "alg": format!("HS\n{forged}")}).to_string();
    let claims = serde_json::json!({"iss": "SK\u{0}\r\nX", "exp": 4102444800u64, "rest_api": true}).to_string();
    for token in
        [format!("{}.{}.AAAA", b64(&header), b64("{}")), format!("{}.{}.AAAA", b64(r#"{"alg":"HS256"}"#), b64(&claims))]
    {
        let mut s = TcpStream::connect(&addr).unwrap();
        write!(s, "GET /v1/campaign HTTP/1.1\r\nHost: {addr}\r\nX-STRINGEE-AUTH: {token}\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    }
    assert!(served.terminate());
    let log = served.log();
    assert!(log.lines().all(|l| !l.starts_with("2026-12-07T07:30:00")), "{log}");
    assert!(log.contains("HS\\n2026-12-07T07:30:00"), "the alg, escaped: {log}");
    assert!(!log.contains('\0') && !log.contains('\r'), "{log}");
}

#[test]
fn json_logs_carry_the_request_id_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("log.db").display());
    let mut served = crate::common::Served::start(&database, &["--log-format", "json"], "info");
    let addr = served.base.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(s, "GET /v1/campaign HTTP/1.1\r\nHost: {addr}\r\nx-request-id: trace-42\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.to_ascii_lowercase().contains("x-request-id: trace-42"), "{answer}");
    assert!(served.terminate());
    let log = served.log();
    let line = log.lines().find(|l| l.contains("trace-42")).unwrap_or_else(|| panic!("{log}"));
    let entry: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(entry["span"]["request_id"], "trace-42", "{line}");
    assert_eq!(entry["span"]["route"], "/v1/campaign", "{line}");
    assert_eq!(
        (&entry["fields"]["status"], &entry["fields"]["r"]),
        (&serde_json::json!(401), &serde_json::json!(5)),
        "{line}"
    );
    assert!(entry["fields"]["reason"].as_str().unwrap().starts_with("authentication failed"), "{line}");
    assert!(entry["fields"]["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "a number: {line}");
    for l in log.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
    }
}

// Contacts of a database from before migration 0011 (the word index as
// `contact_words`, two rows per word and form) are found as before once a server
// migrates it (it builds the new index from the contacts), their words leave the
// index when they change or go, and an index built under other Unicode tables is
// built again at start.
backend_test!(the_word_index_is_built_from_the_contacts_after_the_upgrade_and_a_unicode_change, async {
    use crate::common::{ApiClient, Served};
    let backend = crate::common::current_backend();
    let (_db, url) = TestDb::create(backend).await;
    let client = ApiClient::new(&url, "Before 0011");
    let served = Served::start(&url, &[], "info");
    let mut ids = Vec::new();
    for name in ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn An", "Đài Bắc"] {
        let c = client.post(&served, "/v1/contact", serde_json::json!({ "name": name })).await;
        ids.push(c["data"]["id"].as_str().expect("a contact id").to_string());
    }
    drop(served);
    // The index as 0001 made it, filled from the entries 0011 wrote (a key is the
    // 19-character portal id, a space, the form and the word), and 0011 undone.
    // The old index kept both forms of every word, all-ASCII ones included.
    let (text, int, ascii) = match backend {
        Backend::Sqlite => ("TEXT", "INTEGER", "length(CAST(word AS BLOB)) = length(word)"),
        Backend::Postgres => ("TEXT COLLATE \"C\"", "BIGINT", "octet_length(word) = char_length(word)"),
    };
    let undo = format!(
        "CREATE TABLE contact_words (account_id {text} NOT NULL, portal_id {text} NOT NULL, \
             contact_rowid {int} NOT NULL, form {int} NOT NULL, pos {int} NOT NULL, word {text} NOT NULL, \
             PRIMARY KEY (account_id, contact_rowid, form, pos)); \
         CREATE INDEX contact_words_word ON contact_words(account_id, portal_id, form, word, contact_rowid); \
         INSERT INTO contact_words SELECT c.account_id, c.portal_id, w.contact_rowid, \
             CAST(substr(w.key, 21, 1) AS {int}), w.pos, substr(w.key, 22) \
             FROM name_words w JOIN contacts c ON c.seq = w.contact_rowid; \
         INSERT INTO contact_words SELECT account_id, portal_id, contact_rowid, 0, pos, word \
             FROM contact_words f WHERE form = 1 AND {ascii} AND NOT EXISTS (SELECT 1 FROM contact_words l \
             WHERE l.contact_rowid = f.contact_rowid AND l.pos = f.pos AND l.form = 0); \
         DROP TABLE name_words; DROP TABLE word_index_version; \
         DELETE FROM schema_migrations WHERE version = 11;"
    );
    crate::common::run_sql_on(backend, &url, &undo).await;
    let served = Served::start(&url, &[], "info");
    let total = |query: &'static str| {
        let (client, served) = (&client, &served);
        async move {
            let q = form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>();
            let found = client.get(served, &format!("/v1/contact?query={q}")).await;
            found["data"]["totalCount"].as_i64().unwrap_or_else(|| panic!("{query}: {found}"))
        }
    };
    assert_eq!(total("name:van").await, 2);
    assert_eq!(total("name:văn").await, 2);
    assert_eq!(total("name:\"van an\"").await, 2);
    assert_eq!(total("name:\"văn a*\"").await, 0, "in a phrase, * is no wildcard (Lucene)");
    assert_eq!(total("name:văn\\ a*").await, 0, "a prefix of two words begins no word (Lucene)");
    assert_eq!(total("name:văn\\ an").await, 2, "a term of two words is either (Lucene)");
    assert_eq!(total("name:bi*").await, 1);
    assert_eq!(total("name:dai").await, 1);
    assert_eq!(total("name:Đài").await, 1);
    assert_eq!(total("name:[b TO c]").await, 2, "bac and binh");
    // A name that changes leaves its old words; a contact that goes leaves all.
    let renamed = Some(serde_json::json!({"name": "Phạm Thu"}));
    client.ok(&served, reqwest::Method::PUT, &format!("/v1/contact/{}", ids[0]), renamed).await;
    client.ok(&served, reqwest::Method::DELETE, &format!("/v1/contact/{}", ids[2]), None).await;
    assert_eq!(total("name:van").await, 0);
    assert_eq!(total("name:thu").await, 1);
    assert_eq!(total("name:an").await, 0);
    drop(served);
    let count = async |sql: &str| -> i64 {
        match backend {
            Backend::Sqlite => rusqlite::Connection::open(url.strip_prefix("sqlite://").unwrap())
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
            Backend::Postgres => {
                callsheet::store::postgres::connect(&url).await.unwrap().query_one(sql, &[]).await.unwrap().get(0)
            }
        }
    };
    // Phạm Thu, Trần Thị Bình, Đài Bắc: seven words, each folded, and the six with
    // diacritics in lower case too.
    assert_eq!(count("SELECT count(*) FROM name_words").await, 13);
    // Texts whose letters an earlier version did not fold (ł, ø, ß): a contact with
    // a custom field, in a campaign, and a campaign's name.
    let served = Served::start(&url, &[], "info");
    let campaign = client.post(&served, "/v1/campaign", serde_json::json!({"name": "Øresund Łódź"})).await;
    let campaign = campaign["data"]["id"].as_str().expect("a campaign id").to_string();
    let contact = client
        .post(
            &served,
            "/v1/contact",
            serde_json::json!({"name": "Łukasz Søren", "phones": ["0901234567"], "fields": {"street": "Hauptstraße 5"}}),
        )
        .await;
    let contact = contact["data"]["id"].as_str().expect("a contact id").to_string();
    let add = serde_json::json!({"campaign": campaign, "listcontacts": [{"id": contact}]});
    client.post(&served, "/v1/customcampaign", add).await;
    drop(served);
    // An index built under other Unicode tables or folding rules is built again at
    // start, with every folded form stored beside a text: an entry no name gives any
    // more goes, and forms folded otherwise (here written as an earlier version
    // would have left them) are made again.
    let stray = match backend {
        Backend::Sqlite => "INSERT INTO name_words VALUES ('stray', 1, 0); \
             UPDATE contacts SET field_words = '{\"street\":{\"k\":\" hauptstraße 5 | hauptstraße 5 \",\"w\":[\"hauptstraße\",\"5\"]}}' \
             WHERE name LIKE 'Ł%'"
            .to_string(),
        Backend::Postgres => "INSERT INTO name_words SELECT account_id, 'stray', 1, 0 FROM contacts LIMIT 1; \
             UPDATE contacts SET field_words = '{\"street\":{\"k\":\" hauptstraße 5 | hauptstraße 5 \",\"w\":[\"hauptstraße\",\"5\"]}}', \
             name_key = ' łukasz søren łukasz søren' WHERE name LIKE 'Ł%'"
            .to_string(),
    };
    let stale = format!(
        "{stray}; UPDATE customers SET name_key = ' łukasz søren łukasz søren' WHERE name LIKE 'Ł%'; \
         UPDATE campaigns SET name_folded = 'øresund łodz' WHERE name LIKE 'Ø%'; \
         UPDATE word_index_version SET version = 'keys 2'"
    );
    crate::common::run_sql_on(backend, &url, &stale).await;
    let served = Served::start(&url, &[], "info");
    let found = client.get(&served, "/v1/contact?query=name:thu").await;
    assert_eq!(found["data"]["totalCount"], 1, "{found}");
    let total = |path: String| {
        let (client, served) = (&client, &served);
        async move {
            let found = client.get(served, &path).await;
            found["data"]["totalCount"].as_i64().unwrap_or_else(|| panic!("{path}: {found}"))
        }
    };
    for query in
        ["name:lukasz", "name:soren", "name:Łukasz", "street:hauptstrasse", "street:hauptstra*", "street:Hauptstraße"]
    {
        let q = form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>();
        assert_eq!(total(format!("/v1/contact?query={q}")).await, 1, "{query}");
    }
    for query in ["name:Lukasz\\ Soren", "street:\"hauptstrasse 5\""] {
        let q = form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>();
        assert_eq!(total(format!("/v1/contact?query={q}")).await, 1, "{query}");
    }
    assert_eq!(total("/v1/contact?query=name:%C5%82ukasz%20AND%20NOT%20name:lukasz".into()).await, 0);
    let listed = client.get(&served, &format!("/v1/customcampaign?campaign={campaign}&name=lukasz")).await;
    assert_eq!(listed["resFromPccApi"]["data"]["totalCount"], "1", "{listed}");
    let listed = client.get(&served, &format!("/v1/customcampaign?campaign={campaign}&name=soren")).await;
    assert_eq!(listed["resFromPccApi"]["data"]["totalCount"], "1", "{listed}");
    assert_eq!(total("/v1/campaign?name=oresund%20lodz".into()).await, 1);
    drop(served);
    // Phạm Thu, Trần Thị Bình, Đài Bắc and Łukasz Søren: two words more, in both forms.
    assert_eq!(count("SELECT count(*) FROM name_words").await, 17);
    let current = callsheet::domain::customer::word_index_version();
    let same = format!("SELECT count(*) FROM word_index_version WHERE version = '{current}'");
    assert_eq!(count(&same).await, 1);
});

// Migration 14: a callback that was called back before results cleared it (a
// customer in status 1, 2, 3, 7 or 8 with a callback time or owner) is cleared as a
// result now clears it; a pending callback (6), a claimed one (5) and a stopped one
// (4) keep theirs. findcustomermanager and an agent's rename find owners by index.
backend_test!(migration_14_clears_the_callbacks_results_used_and_keeps_pending_ones, async {
    use crate::common::{ApiClient, Served};
    let backend = crate::common::current_backend();
    let (_db, url) = TestDb::create(backend).await;
    let client = ApiClient::new(&url, "Before 0014");
    let served = Served::start(&url, &[], "info");
    let made = client
        .post(
            &served,
            "/v1/campaign",
            serde_json::json!({"name": "Callbacks", "listcontacts": (1..=6).map(|i| serde_json::json!(
                {"id": format!("K{i}"), "phones": [format!("090123456{i}")]})).collect::<Vec<_>>()}),
        )
        .await;
    let campaign = made["data"]["id"].as_str().expect("a campaign id").to_string();
    drop(served);
    // Statuses 2, 1, 8 with a used callback left behind; 6, 5 and 4 with a live one.
    let statuses = [2, 1, 8, 6, 5, 4];
    let mut undo =
        String::from("DROP INDEX customers_callback_owner; DELETE FROM schema_migrations WHERE version = 14;");
    for (i, status) in statuses.iter().enumerate() {
        undo.push_str(&format!(
            " UPDATE customers SET status = {status}, callback_time = 1700000000, stringee_user_id_callback = 'u1' \
             WHERE campaign_id = '{campaign}' AND crm_id = 'K{}';",
            i + 1
        ));
    }
    crate::common::run_sql_on(backend, &url, &undo).await;
    let served = Served::start(&url, &[], "info");
    let listed = client.get(&served, &format!("/v1/customcampaign?campaign={campaign}&limit=10")).await;
    let rows = listed["resFromPccApi"]["data"]["rows"].as_array().expect("rows").clone();
    let kept: Vec<(i64, i64, serde_json::Value)> = rows
        .iter()
        .map(|r| {
            (
                r["status"].as_i64().unwrap(),
                r["callback_time"].as_i64().unwrap(),
                r["stringee_user_id_callback"].clone(),
            )
        })
        .collect();
    assert_eq!(
        kept,
        vec![
            (2, 0, serde_json::Value::Null),
            (1, 0, serde_json::Value::Null),
            (8, 0, serde_json::Value::Null),
            (6, 1700000000, serde_json::json!("u1")),
            (5, 1700000000, serde_json::json!("u1")),
            (4, 1700000000, serde_json::json!("u1")),
        ],
        "{listed}"
    );
});
