//! The filter language at scale: adding the contacts a filter matches (100k of 1M)
//! to a campaign, and a name search's first page, beside their floors measured on
//! the same database in the same run.
//!
//! `cargo bench --bench filter [-- CONTACTS]` (default 1,000,000) prints a markdown table.

use std::time::Instant;

use callsheet::domain::customer::Source;
use callsheet::store;
use support::{median, ms};
use tokio::sync::mpsc;

mod support;

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("filter.db");
    let store = store::open(&format!("sqlite://{}", path.display())).await.unwrap();
    let (account, _) = store.create_account("Bench", "VN").await.unwrap();
    let key = store.create_key(&account.id).await.unwrap();

    // One contact in ten is a "Linh"; the rest have other names.
    let seeding = Instant::now();
    let (tx, rx) = mpsc::channel(4);
    let importing = {
        let (store, account) = (store.clone(), account.id.clone());
        tokio::spawn(async move { store.import_contacts(&account, None, rx).await })
    };
    let name = |i: usize| {
        if i.is_multiple_of(10) { format!("Nguyễn Thị Linh {i}") } else { format!("Trần Văn Khách {i}") }
    };
    support::feed_entries(tx, n, |i| (None, name(i), format!("849{:08}", i)), Source::File).await;
    importing.await.unwrap().unwrap();
    let seeded = seeding.elapsed();

    let (addr, client, tok) = support::serve_in_process(store.clone(), &key).await;

    // Floors on the same database: the bare index lookup and a plain INSERT ... SELECT.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let start = Instant::now();
    let matched: i64 = conn
        .query_row(
            "SELECT count(*) FROM contact_words WHERE account_id = ?1 AND portal_id = \
             (SELECT id FROM portals WHERE account_id = ?1 AND is_default = 1) AND form = 1 AND word = 'linh'",
            [&account.id],
            |r| r.get(0),
        )
        .unwrap();
    let lookup_floor = start.elapsed();
    conn.execute_batch("CREATE TABLE floor_copy (crm_id TEXT, name TEXT)").unwrap();
    let start = Instant::now();
    conn.execute(
        "INSERT INTO floor_copy SELECT c.id, c.name FROM contacts c WHERE c.seq IN \
         (SELECT contact_rowid FROM contact_words WHERE account_id = ?1 AND portal_id = \
         (SELECT id FROM portals WHERE account_id = ?1 AND is_default = 1) AND form = 1 AND word = 'linh')",
        [&account.id],
    )
    .unwrap();
    let insert_floor = start.elapsed();
    drop(conn);

    let campaign = support::create_campaign(&client, &addr.to_string(), &tok, "From a filter").await;
    let start = Instant::now();
    let added = support::post_json(
        &client,
        &format!("http://{addr}/v1/customcampaign"),
        &tok,
        serde_json::json!({"campaign": campaign, "listfilters": [{"query": "name:linh"}]}),
    )
    .await;
    let add_time = start.elapsed();
    assert_eq!(added["summary"]["added"], matched, "{added}");

    let mut search = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let resp = client
            .get(format!("http://{addr}/v1/contact?query=name:linh&page=1&limit=20"))
            .header("X-STRINGEE-AUTH", &tok)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        resp.bytes().await.unwrap();
        search.push(start.elapsed());
    }
    println!(
        "{n} CRM contacts, {matched} named Linh (SQLite; seeded through the contact import in {:.1} s)",
        seeded.as_secs_f64()
    );
    println!();
    println!("| operation | callsheet over HTTP | floor | ratio | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| add-by-filter `name:linh` ({matched} contacts) into a campaign | {} | {} (bare INSERT ... SELECT) | {:.1}x | <= 2 s |",
        ms(add_time),
        ms(insert_floor),
        add_time.as_secs_f64() / insert_floor.as_secs_f64()
    );
    let s = median(search);
    println!(
        "| search `name:linh`, page 1 of 20 (median of 20) | {} | {} (bare index count) | {:.1}x | <= 50 ms |",
        ms(s),
        ms(lookup_floor),
        s.as_secs_f64() / lookup_floor.as_secs_f64()
    );
}
