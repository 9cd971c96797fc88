//! The command line (CONTRACT §1): account, key and token commands, one-line errors,
//! and `serve` running the API and stopping gracefully on SIGTERM.

use std::process::{Command, Output};

use serde_json::{Value, json};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli { dir: tempfile::tempdir().unwrap() }
    }

    fn database(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("cli.db").display())
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_callsheet"));
        cmd.env("CALLSHEET_DATABASE_URL", self.database()).env_remove("CALLSHEET_LISTEN");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// `callsheet ARGS --server SERVER` with the key in the environment, its output piped.
    fn client(&self, args: &[&str], server: &str, (sid, secret): (&str, &str)) -> Command {
        let mut cmd = self.command();
        cmd.args(args)
            .args(["--server", server])
            .env("CALLSHEET_KEY_SID", sid)
            .env("CALLSHEET_KEY_SECRET", secret)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd
    }

    /// An account and a key of it: the key's sid and secret.
    fn key(&self) -> (String, String) {
        let account = String::from_utf8(self.run(&["account", "create", "Acme"]).stdout).unwrap().trim().to_string();
        let key = self.json(&["key", "create", "--account", &account, "--json"]);
        (key["key_sid"].as_str().unwrap().to_string(), key["key_secret"].as_str().unwrap().to_string())
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// The reason a command failed: its one `error:` line, past the note of which
/// database it opened.
fn stderr_line(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<&str> = text.trim_end().lines().filter(|l| !l.starts_with("callsheet: database ")).collect();
    assert_eq!(lines.len(), 1, "not one line: {text}");
    lines[0].to_string()
}

#[test]
fn account_key_and_token_commands() {
    let cli = Cli::new();
    let out = cli.run(&["account", "create", "Acme"]);
    assert!(out.status.success());
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(id.starts_with("AC") && id.len() == 10, "{id}");

    let account = cli.json(&["account", "create", "Beta", "--region", "us", "--json"]);
    assert_eq!(account["region"], "US");
    assert!(account["portal"].as_str().unwrap().starts_with("pt_"));

    let key = cli.json(&["key", "create", "--account", &id, "--json"]);
    assert_eq!(key["account"], id.as_str());
    let sid = key["key_sid"].as_str().unwrap();
    assert!(sid.starts_with("SK") && sid.len() == 32, "{sid}");
    let secret = key["key_secret"].as_str().unwrap();

    let out = cli.run(&["token", "--key-sid", sid, "--key-secret", secret, "--ttl", "60"]);
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let t = callsheet::domain::token::decode(&token).unwrap();
    assert_eq!(t.issuer, sid);
    t.verify(secret, callsheet::domain::now_secs()).unwrap();

    let out = cli.run(&["key", "revoke", sid]);
    assert!(out.status.success());
    let out = cli.run(&["key", "create", "--account", &id]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("key_sid: SK") && text.contains("\nkey_secret: "), "{text}");
}

#[test]
fn bad_arguments_exit_non_zero_with_one_line() {
    let cli = Cli::new();
    // Commands on what `account create` makes refuse a database that is not there,
    // and make none.
    for args in [&["account", "list"][..], &["key", "list"], &["key", "create", "--account", "ACNOPE0000"]] {
        let out = cli.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let line = stderr_line(&out);
        assert!(line.starts_with("error: database sqlite://") && line.contains("does not exist"), "{line}");
    }
    assert!(!cli.dir.path().join("cli.db").exists());
    assert!(cli.run(&["account", "create", "Setup"]).status.success());
    let cases: &[(&[&str], &str)] = &[
        (&["key", "create", "--account", "ACNOPE0000"], "error: account 'ACNOPE0000' not found"),
        (
            &["key", "revoke", "SK000000000000000000000000000000"],
            "error: no API key 'SK000000000000000000000000000000'",
        ),
    ];
    for (args, want) in cases {
        let out = cli.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr_line(&out), *want, "{args:?}");
    }
    // A value the parser takes but callsheet refuses is a bad argument too: exit 2.
    let bad_values: &[(&[&str], &str)] = &[
        (
            &["token", "--key-sid", "nope", "--key-secret", "s"],
            "error: --key-sid 'nope' is not a key sid (SK and 30 letters or digits) (see --help)",
        ),
        (
            &["token", "--key-sid", "SK000000000000000000000000000000", "--key-secret", "s", "--ttl", "0"],
            "error: --ttl must be between 1 second and 366 days (in seconds) (see --help)",
        ),
        (
            &["token", "--key-secret", "s"],
            "error: the key sid is missing: pass --key-sid or set CALLSHEET_KEY_SID (see --help)",
        ),
        (&["serve", "--max-connections", "0"], "error: --max-connections must be at least 1 (see --help)"),
        (
            &["serve", "--header-read-timeout", "0"],
            "error: --header-read-timeout must be more than 0 and at most 3600 seconds (see --help)",
        ),
        (
            &["account", "create", "X", "--region", "XX"],
            "error: region 'XX' has no telephone numbering plan (see --help)",
        ),
        (&["account", "create", "  "], "error: account name must not be empty (see --help)"),
        (
            &["account", "create", "Line1\nACFAKE0000\tVN"],
            "error: the account name must not hold control characters (tabs, line breaks) (see --help)",
        ),
        (&["key", "create", "--account", " "], "error: account id must not be empty (see --help)"),
        (&["key", "revoke", "SKnope"], "error: 'SKnope' is not a key sid (SK and 30 letters or digits) (see --help)"),
        (
            &["export", "--campaign", "CA000000", "--status", "0,,9"],
            "error: --status '0,,9' must be a status number 0 to 8, or a comma list of them (see --help)",
        ),
    ];
    for (args, want) in bad_values {
        let out = cli.command().args(*args).env_remove("CALLSHEET_KEY_SID").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr_line(&out), *want, "{args:?}");
    }
    // No command at all, or a group without its command: one line naming them,
    // whether a database is set or not.
    let commands = "serve, account, key, token, import, export";
    let out = cli.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: callsheet needs a command: {commands} (see --help)\n")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_callsheet")).env_remove("CALLSHEET_DATABASE_URL").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: callsheet needs a command: {commands} (see --help)\n")
    );
    for (args, want) in [
        (&["key"][..], "error: callsheet key needs a command: create, revoke, list (see --help)\n"),
        (
            &["--database", "sqlite://x.db", "account"][..],
            "error: callsheet account needs a command: create, list (see --help)\n",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_callsheet"))
            .args(args)
            .env_remove("CALLSHEET_DATABASE_URL")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), want, "{args:?}");
    }
    // What the argument parser refuses is one line too.
    let parser: &[&[&str]] = &[
        &["token", "--key-sid", "SK000000000000000000000000000000", "--key-secret", "s", "--ttl", "-5"],
        &["account", "create"],
        &["serve", "--listen", "nonsense"],
        &["key", "revoke"],
        &["no-such-command"],
    ];
    for args in parser {
        let out = cli.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let line = stderr_line(&out);
        assert!(line.starts_with("error: ") && line.ends_with("(see --help)"), "{args:?}: {line}");
    }
    for (args, want) in [
        (&["frobnicate"][..], "error: unrecognized subcommand 'frobnicate' (see --help)"),
        (
            &["key", "create"][..],
            "error: the following required arguments were not provided: --account <ACCOUNT> (see --help)",
        ),
    ] {
        let out = cli.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr_line(&out), want, "{args:?}");
    }
    // A database URL of no kind callsheet opens is a bad argument, for every command.
    for args in [&["account", "create", "X"][..], &["account", "list"], &["serve"], &["key", "list"]] {
        let out = cli.command().args(args).env("CALLSHEET_DATABASE_URL", "mysql://x").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "error: database URL 'mysql://x' is neither sqlite://PATH nor postgres://... (see --help)\n",
            "{args:?}"
        );
    }
}

#[test]
fn commands_say_which_database_they_use_and_list_accounts_and_keys() {
    let cli = Cli::new();
    let out = cli.run(&["account", "create", "Acme"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), format!("callsheet: database {}\n", cli.database()));
    let account = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let key = cli.json(&["key", "create", "--account", &account, "--json"]);
    let sid = key["key_sid"].as_str().unwrap();
    cli.run(&["key", "create", "--account", &account]);
    let other = cli.json(&["account", "create", "Beta", "--json"]);

    let accounts = cli.json(&["account", "list", "--json"]);
    // Oldest first; two made in the same second come in either order.
    let mut names: Vec<&str> = accounts.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["Acme", "Beta"]);
    let acme = accounts.as_array().unwrap().iter().find(|a| a["name"] == "Acme").unwrap();
    assert_eq!((&acme["id"], &acme["region"]), (&json!(account), &json!("VN")));
    let text = String::from_utf8(cli.run(&["account", "list"]).stdout).unwrap();
    assert!(text.lines().count() == 2 && text.contains(&format!("{account}\tVN\t")), "{text}");

    let keys = cli.json(&["key", "list", "--account", &account, "--json"]);
    assert_eq!(keys.as_array().unwrap().len(), 2);
    let listed_key = |keys: &Value| keys.as_array().unwrap().iter().find(|k| k["sid"] == sid).cloned().unwrap();
    let k = listed_key(&keys);
    assert_eq!((&k["account"], &k["revoked"]), (&json!(account), &Value::Null));
    assert!(k.get("secret").is_none() && k.get("key_secret").is_none());
    let listed = cli.run(&["key", "list"]);
    let text = String::from_utf8(listed.stdout).unwrap();
    assert!(!text.contains(key["key_secret"].as_str().unwrap()), "a secret was listed");
    assert_eq!(cli.json(&["key", "list", "--account", other["account"].as_str().unwrap(), "--json"]), json!([]));
    cli.run(&["key", "revoke", sid]);
    let keys = cli.json(&["key", "list", "--account", &account, "--json"]);
    assert!(listed_key(&keys)["revoked"].as_i64().is_some(), "{keys}");
    let out = cli.run(&["key", "list", "--account", "ACNOPE0000"]);
    assert_eq!(stderr_line(&out), "error: account 'ACNOPE0000' not found");
}

#[test]
fn token_takes_the_secret_from_env_or_stdin_and_checks_the_key() {
    use std::io::Write;
    let cli = Cli::new();
    let (sid, secret) = cli.key();
    let (sid, secret) = (sid.as_str(), secret.as_str());
    let verify = |out: Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
        callsheet::domain::token::decode(&token).unwrap().verify(secret, callsheet::domain::now_secs()).unwrap();
    };
    verify(
        cli.command()
            .args(["token"])
            .env("CALLSHEET_KEY_SID", sid)
            .env("CALLSHEET_KEY_SECRET", secret)
            .output()
            .unwrap(),
    );
    let mut child = cli
        .command()
        .args(["token", "--key-sid", sid, "--key-secret", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{secret}\n").as_bytes()).unwrap();
    verify(child.wait_with_output().unwrap());

    let wrong = cli.run(&["token", "--key-sid", sid, "--key-secret", "wrong"]);
    assert_eq!(stderr_line(&wrong), format!("error: the secret does not match API key '{sid}'"));
    let unknown = "SK000000000000000000000000000000";
    let out = cli.run(&["token", "--key-sid", unknown, "--key-secret", "s"]);
    assert_eq!(stderr_line(&out), format!("error: no API key '{unknown}' in {}", cli.database()));
    let out = cli.run(&["token", "--key-sid", sid]);
    assert!(stderr_line(&out).starts_with("error: the key secret is missing"), "{out:?}");
    cli.run(&["key", "revoke", sid]);
    let out = cli.run(&["token", "--key-sid", sid, "--key-secret", secret]);
    assert_eq!(stderr_line(&out), format!("error: API key '{sid}' is revoked"));
    // With no database to look in, the token is made unchecked, and it says so.
    let out = cli
        .command()
        .args(["token", "--key-sid", unknown, "--key-secret", "s"])
        .env("CALLSHEET_DATABASE_URL", format!("sqlite://{}", cli.dir.path().join("none.db").display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist; the key was not checked"));
    assert!(!cli.dir.path().join("none.db").exists(), "checking a key made a database");
    // A URL of no database at all is a mistake: no token.
    for url in ["mysql://x", "garbage"] {
        let out = cli
            .command()
            .args(["token", "--key-sid", unknown, "--key-secret", "s"])
            .env("CALLSHEET_DATABASE_URL", url)
            .output()
            .unwrap();
        assert!(!out.status.success() && out.stdout.is_empty(), "{url}: {out:?}");
        assert!(stderr_line(&out).contains("is neither sqlite://PATH nor postgres://"), "{url}: {out:?}");
    }
}

#[test]
fn import_and_export_through_a_running_server() {
    let cli = Cli::new();
    let (sid, secret) = cli.key();
    let (sid, secret) = (sid.as_str(), secret.as_str());
    let served = crate::common::Served::start(&cli.database(), &[], "warn,callsheet=info");
    let token = callsheet::domain::token::mint(sid, secret, callsheet::domain::now_secs(), 600);
    let created = http_post_json(&served, &token, "/v1/campaign", r#"{"name":"Tết"}"#);
    let campaign = created["data"]["id"].as_str().unwrap().to_string();
    let leads = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/leads.csv");
    let client = |args: &[&str]| cli.client(args, &served.base, (sid, secret)).output().unwrap();
    let out = client(&["import", leads, "--campaign", &campaign, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &result["summary"];
    assert_eq!(
        (&s["total"], &s["added"], &s["repeated"], &s["invalid"]),
        (&json!(13), &json!(11), &json!(1), &json!(1)),
        "{result}"
    );
    let out = client(&["import", leads, "--campaign", &campaign]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("total 13, added 0, skipped 11, repeated 1, invalid 1"), "{text}");
    assert!(text.contains("no valid phone: N/A"), "{text}");

    let out = client(&["export", "--campaign", &campaign]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 12, "{csv}");
    assert!(csv.starts_with("\u{feff}customer_id,crm_id,name,phones,"), "{csv}");
    let file = cli.dir.path().join("out.xlsx");
    let out = client(&["export", "--campaign", &campaign, "--format", "xlsx", "-o", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(&file).unwrap().starts_with(b"PK\x03\x04"));
    // Without --format, a file named *.xlsx is a workbook, any other a CSV file.
    let named = cli.dir.path().join("named.XLSX");
    let out = client(&["export", "--campaign", &campaign, "-o", named.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(&named).unwrap().starts_with(b"PK\x03\x04"));
    let named = cli.dir.path().join("named.txt");
    client(&["export", "--campaign", &campaign, "-o", named.to_str().unwrap()]);
    assert!(std::fs::read(&named).unwrap().starts_with("\u{feff}customer_id,".as_bytes()));
    // Standard output read only in part (`| head -1`) is no error.
    let mut head = cli.client(&["export", "--campaign", &campaign], &served.base, (sid, secret)).spawn().unwrap();
    drop(head.stdout.take());
    let out = head.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Errors are the server's, in one line.
    let out = client(&["export", "--campaign", "CANOPE"]);
    assert_eq!(stderr_line(&out), "error: the server refused (r=3): campaign 'CANOPE' not found");
    let down = cli
        .command()
        .args(["export", "--campaign", &campaign, "--server", "http://127.0.0.1:9"])
        .env("CALLSHEET_KEY_SID", sid)
        .env("CALLSHEET_KEY_SECRET", secret)
        .output()
        .unwrap();
    let line = stderr_line(&down);
    assert!(
        line.starts_with("error: cannot reach the server at http://127.0.0.1:9 (is `callsheet serve` running there?"),
        "{line}"
    );
    let out = client(&["import", "/nonexistent.csv", "--campaign", &campaign]);
    assert!(stderr_line(&out).starts_with("error: cannot read /nonexistent.csv"), "{out:?}");
    let bad = cli.dir.path().join("bad.csv");
    std::fs::write(&bad, "Tên,Email\nA,a@example.com\n").unwrap();
    let out = client(&["import", bad.to_str().unwrap(), "--campaign", &campaign]);
    assert_eq!(
        stderr_line(&out),
        "error: the import failed (r=8): no phone column found; the header row has: Tên, Email; nothing was imported"
    );
}

fn http_post_json(served: &crate::common::Served, token: &str, path: &str, body: &str) -> Value {
    use std::io::{Read, Write};
    let addr = served.base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nX-STRINGEE-AUTH: {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    serde_json::from_str(out.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

#[test]
fn an_import_outlives_a_server_restart() {
    let cli = Cli::new();
    let (sid, secret) = cli.key();
    let (sid, secret) = (sid.as_str(), secret.as_str());
    // One address for both servers: the client is told it once.
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let mut served = crate::common::Served::start_at(&cli.database(), &listen, &[], "warn,callsheet=info");
    let token = callsheet::domain::token::mint(sid, secret, callsheet::domain::now_secs(), 600);
    let created = http_post_json(&served, &token, "/v1/campaign", r#"{"name":"Big"}"#);
    let campaign = created["data"]["id"].as_str().unwrap().to_string();
    let rows = 60_000;
    let file = cli.dir.path().join("big.csv");
    let mut csv = String::from("name,phone\n");
    for i in 0..rows {
        csv.push_str(&format!("Lead {i},0909{i:06}\n"));
    }
    std::fs::write(&file, csv).unwrap();
    let importing = cli
        .client(
            &["import", file.to_str().unwrap(), "--campaign", &campaign, "--json", "--quiet"],
            &served.base,
            (sid, secret),
        )
        .spawn()
        .unwrap();
    // Stopped while the job runs (a stop finishes it first), then started again
    // after a while: the client waits for the server and reports the import.
    let started = std::time::Instant::now();
    while !served.log().contains("/v1/job/") && started.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(served.terminate(), "{}", served.log());
    std::thread::sleep(std::time::Duration::from_secs(2));
    let _again = crate::common::Served::start_at(&cli.database(), &listen, &[], "warn,callsheet=info");
    let out = importing.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["summary"]["added"], rows, "{result}");
}

#[test]
fn serve_answers_and_stops_on_sigterm() {
    let cli = Cli::new();
    let mut served = crate::common::Served::start(&cli.database(), &[], "info");
    // The SQLite file is created on first start.
    assert!(cli.dir.path().join("cli.db").exists());
    let addr = served.base.trim_start_matches("http://").to_string();
    let body = http_get(&addr, "/v1/campaign");
    assert!(body.starts_with("HTTP/1.1 401"), "{body}");
    assert!(body.contains(r#""r":5"#), "{body}");
    assert!(body.to_ascii_lowercase().contains("x-request-id: "), "{body}");
    assert!(served.terminate(), "serve did not stop cleanly");
    // One log line per request: method, matched route, request id, status, latency,
    // and for a refused request its result code and reason.
    let log = served.log();
    let logged = log.lines().find(|l| l.contains("route=\"/v1/campaign\"")).unwrap_or_else(|| panic!("{log}"));
    for part in ["method=GET", "request_id=", "status=401", "latency_ms=", "r=5", "reason=authentication failed"] {
        assert!(logged.contains(part), "{part} missing from: {logged}");
    }
    assert!(log.contains("callsheet stopped"), "{log}");
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Admin commands work beside a server that writes (CONTRACT §1). One that only reads
/// (`token`) never needs SQLite's write lock; one that writes (`account create`) takes
/// its turn between an import's steps: SQLite's lock is not fair between processes,
/// and such a command waited out its 30 s timeout and failed.
#[test]
fn admin_commands_work_while_a_server_writes() {
    let cli = Cli::new();
    let (sid, secret) = cli.key();
    let path = cli.dir.path().join("cli.db");
    // Another connection holds the write lock: reading commands go on.
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let out = cli.run(&["token", "--key-sid", &sid, "--key-secret", &secret]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli.run(&["key", "list"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    // A server imports a file in steps, one after the other; a command that writes
    // gets in between them, long before the import ends.
    let served = crate::common::Served::start(&cli.database(), &[], "warn,callsheet=info");
    let token = callsheet::domain::token::mint(&sid, &secret, callsheet::domain::now_secs(), 600);
    let created = http_post_json(&served, &token, "/v1/campaign", r#"{"name":"Big"}"#);
    let campaign = created["data"]["id"].as_str().unwrap().to_string();
    let mut csv = String::from("name,phone\n");
    for i in 0..150_000 {
        csv.push_str(&format!("Lead {i},09{i:08}\n"));
    }
    let file = cli.dir.path().join("big.csv");
    std::fs::write(&file, csv).unwrap();
    let (file, base) = (file.to_str().unwrap().to_string(), served.base.clone());
    let import = {
        let mut cmd = cli.client(&["import", &file, "--campaign", &campaign, "--json"], &base, (&sid, &secret));
        std::thread::spawn(move || cmd.output().unwrap())
    };
    // Once the import is under way (a delay, never an assertion on time): the command
    // gets in while it writes, before its rows are published.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let out = cli.run(&["account", "create", "During"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, listed) = http_get_json(&served, &token, &format!("/v1/customcampaign?campaign={campaign}&limit=1"));
    assert_eq!(listed["resFromPccApi"]["data"]["totalCount"], "0", "the command waited for the whole import");
    let out = import.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["summary"]["added"], 150_000, "{result}");
}

fn http_get_json(served: &crate::common::Served, token: &str, path: &str) -> (u16, Value) {
    use std::io::{Read, Write};
    let addr = served.base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nX-STRINGEE-AUTH: {token}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, serde_json::from_str(out.split("\r\n\r\n").nth(1).unwrap_or("null")).unwrap_or(Value::Null))
}
