//! The command line (CONTRACT §1): account, key and token commands, one-line errors,
//! and `serve` running the API and stopping gracefully on SIGTERM.

use std::process::{Command, Output};

use serde_json::Value;

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

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn stderr_line(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(text.trim_end().lines().count(), 1, "not one line: {text}");
    text.trim_end().to_string()
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
    let cases: &[(&[&str], &str)] = &[
        (&["account", "create", "X", "--region", "XX"], "error: region 'XX' has no telephone numbering plan"),
        (&["account", "create", "  "], "error: account name must not be empty"),
        (&["key", "create", "--account", "ACNOPE0000"], "error: account 'ACNOPE0000' not found"),
        (&["key", "revoke", "SKnope"], "error: no API key 'SKnope'"),
        (
            &["token", "--key-sid", "nope", "--key-secret", "s"],
            "error: --key-sid 'nope' is not a key sid (SK and 30 letters or digits)",
        ),
        (
            &["token", "--key-sid", "SK000000000000000000000000000000", "--key-secret", "s", "--ttl", "0"],
            "error: --ttl must be between 1 second and 366 days",
        ),
        (&["frobnicate"], "error: unrecognized subcommand 'frobnicate'"),
        (&["key", "create"], "error: the following required arguments were not provided:"),
    ];
    for (args, want) in cases {
        let out = cli.run(args);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(stderr_line(&out), *want, "{args:?}");
    }
    let out =
        cli.command().args(["account", "create", "X"]).env("CALLSHEET_DATABASE_URL", "mysql://x").output().unwrap();
    assert!(!out.status.success());
    assert_eq!(stderr_line(&out), "error: database URL 'mysql://x' is neither sqlite://PATH nor postgres://...");
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
