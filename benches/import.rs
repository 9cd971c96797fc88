//! A million-row .xlsx through the real server over HTTP into a campaign, beside
//! its floor measured in the same run: calamine parsing the same file plus a plain
//! SQLite insert of the same rows. Also the server's peak RSS.
//!
//! `cargo bench --bench import [-- ROWS]` (default 1,000,000) prints a markdown table.

use std::io::Cursor;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use calamine::{Reader, Xlsx};

mod support;

/// A workbook like a CRM export: text ids and names, phones as numeric cells.
fn workbook(rows: usize, with_id: bool) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet_with_low_memory().unwrap();
    let headers: &[&str] = if with_id { &["id", "name", "phone"] } else { &["name", "phone", "email"] };
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for i in 0..rows {
        let r = i as u32 + 1;
        let phone = 900_000_000.0 + ((i * 7919) % 99_999_999) as f64;
        if with_id {
            ws.write_string(r, 0, format!("CT{i:08}")).unwrap();
            ws.write_string(r, 1, format!("Khách hàng {i}")).unwrap();
            ws.write_number(r, 2, phone).unwrap();
        } else {
            ws.write_string(r, 0, format!("Khách hàng {i}")).unwrap();
            ws.write_number(r, 1, phone).unwrap();
            ws.write_string(r, 2, format!("k{i}@example.com")).unwrap();
        }
    }
    wb.save_to_buffer().unwrap()
}

/// Floor 1: calamine reading every cell of the file, as text.
fn calamine_parse(bytes: &[u8]) -> (Duration, Vec<Vec<String>>) {
    let start = Instant::now();
    let mut wb = Xlsx::new(Cursor::new(bytes)).unwrap();
    let sheet = wb.sheet_names()[0].clone();
    let mut reader = wb.worksheet_cells_reader(&sheet).unwrap();
    let mut rows: Vec<Vec<String>> = Vec::new();
    while let Some(cell) = reader.next_cell().unwrap() {
        let (r, _) = cell.get_position();
        if rows.len() <= r as usize {
            rows.resize_with(r as usize + 1, Vec::new);
        }
        let text = match cell.get_value() {
            calamine::DataRef::SharedString(s) => s.to_string(),
            calamine::DataRef::String(s) => s.clone(),
            calamine::DataRef::Float(f) => (*f as i64).to_string(),
            calamine::DataRef::Int(i) => i.to_string(),
            _ => String::new(),
        };
        rows[r as usize].push(text);
    }
    (start.elapsed(), rows)
}

/// Floor 2: a plain insert of the same rows into one SQLite table, one transaction.
fn plain_insert(dir: &std::path::Path, rows: &[Vec<String>]) -> Duration {
    let conn = rusqlite::Connection::open(dir.join("floor.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch("CREATE TABLE t (a TEXT, b TEXT, c TEXT)").unwrap();
    let start = Instant::now();
    let tx = conn.unchecked_transaction().unwrap();
    {
        let mut stmt = tx.prepare("INSERT INTO t VALUES (?1, ?2, ?3)").unwrap();
        for row in rows.iter().skip(1) {
            stmt.execute((&row[0], &row[1], &row[2])).unwrap();
        }
    }
    tx.commit().unwrap();
    start.elapsed()
}

struct Server {
    child: Child,
    addr: String,
    token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli(db: &str, args: &[&str]) -> String {
    let out =
        Command::new(env!("CARGO_BIN_EXE_callsheet")).env("CALLSHEET_DATABASE_URL", db).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn start_server(dir: &std::path::Path, name: &str) -> Server {
    let db = format!("sqlite://{}", dir.join(name).display());
    let account = cli(&db, &["account", "create", "Bench"]).trim().to_string();
    let key: serde_json::Value =
        serde_json::from_str(&cli(&db, &["key", "create", "--account", &account, "--json"])).unwrap();
    let token = cli(
        &db,
        &["token", "--key-sid", key["key_sid"].as_str().unwrap(), "--key-secret", key["key_secret"].as_str().unwrap()],
    )
    .trim()
    .to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_callsheet"))
        .env("CALLSHEET_DATABASE_URL", &db)
        .env("RUST_LOG", "warn")
        .args(["serve", "--listen", &addr])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, addr, token }
}

/// Peak resident memory of a process, from /proc.
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Uploads `file` into a new campaign; returns the request's duration and the summary.
async fn import(server: &Server, file: Vec<u8>) -> (Duration, serde_json::Value) {
    let client = reqwest::Client::new();
    let campaign = support::create_campaign(&client, &server.addr, &server.token, "Import").await;
    let form = reqwest::multipart::Form::new()
        .text("campaign", campaign)
        .part("file", reqwest::multipart::Part::bytes(file).file_name("list.xlsx"));
    let start = Instant::now();
    let resp = client
        .post(format!("http://{}/v1/customcampaign", server.addr))
        .header("X-STRINGEE-AUTH", &server.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = resp.json().await.unwrap();
    (start.elapsed(), body["summary"].clone())
}

#[tokio::main]
async fn main() {
    let rows: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    println!(
        "| import of a {rows}-row, 3-column .xlsx (SQLite) | callsheet over HTTP | floor: calamine parse + plain insert | ratio | target |"
    );
    println!("|---|---|---|---|---|");
    for with_id in [true, false] {
        let file = workbook(rows, with_id);
        let (parse, parsed) = calamine_parse(&file);
        let insert = plain_insert(dir.path(), &parsed);
        let _ = std::fs::remove_file(dir.path().join("floor.db"));
        drop(parsed);
        let server = start_server(dir.path(), if with_id { "with_id.db" } else { "no_id.db" });
        let (took, summary) = import(&server, file.clone()).await;
        assert_eq!(summary["added"], rows, "{summary}");
        let rss = peak_rss_mb(server.child.id());
        let floor = parse + insert;
        let label =
            if with_id { "columns id, name, phone" } else { "columns name, phone, email (each row a new CRM contact)" };
        println!(
            "| {label}; file {:.1} MB | {:.2} s | {:.2} s ({:.2} + {:.2}) | {:.2}x | <= 1.5x |",
            file.len() as f64 / 1e6,
            took.as_secs_f64(),
            floor.as_secs_f64(),
            parse.as_secs_f64(),
            insert.as_secs_f64(),
            took.as_secs_f64() / floor.as_secs_f64()
        );
        println!("| server peak RSS, same import | {rss:.0} MB | | | <= 500 MB |");
    }
}
