//! A large campaign through the real HTTP stack: /duplicate, GET page 1 and a deep
//! page, each beside its floor (the bare SQL on the same database) in the same run.
//!
//! `cargo bench --bench campaign [-- ROWS]` (default 1,000,000) prints a markdown table.

use std::time::{Duration, Instant};

use callsheet::domain::customer::Source;
use callsheet::store::{self, Target};
use support::{median, ms};
use tokio::sync::mpsc;

mod support;

/// Customer `i`'s phone: every tenth customer shares its phone with the next one.
fn phone_of(i: usize) -> String {
    let n = if i % 10 == 1 { i - 1 } else { i };
    format!("849{:08}", n)
}

#[tokio::main]
async fn main() {
    let rows: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let url = format!("sqlite://{}", path.display());
    let store = store::open(&url).await.unwrap();
    let (account, _) = store.create_account("Bench", "VN").await.unwrap();
    let key = store.create_key(&account.id).await.unwrap();
    let campaign = store
        .create_campaign(
            &account.id,
            callsheet::domain::campaign::CampaignFields { name: Some("Big".into()), ..Default::default() },
        )
        .await
        .unwrap();

    let seeding = Instant::now();
    let (tx, rx) = mpsc::channel(4);
    let adding = {
        let store = store.clone();
        let (account, campaign) = (account.id.clone(), campaign.id.clone());
        tokio::spawn(async move { store.add_customers(&account, Target::Existing(campaign), rx).await })
    };
    support::feed_entries(
        tx,
        rows,
        |i| (Some(format!("CT{i:08}")), format!("Khách {i}"), phone_of(i)),
        Source::Contacts,
    )
    .await;
    let (_, outcome) = adding.await.unwrap().unwrap();
    assert_eq!(outcome.added as usize, rows);
    let seeded = seeding.elapsed();

    let (addr, client, tok) = support::serve_in_process(store.clone(), &key).await;
    let get = |path: String| {
        let (client, tok) = (client.clone(), tok.clone());
        async move {
            let start = Instant::now();
            let resp = client.get(format!("http://{addr}{path}")).header("X-STRINGEE-AUTH", tok).send().await.unwrap();
            assert!(resp.status().is_success());
            let body = resp.bytes().await.unwrap();
            (start.elapsed(), body.len())
        }
    };

    // The floors: the same questions asked of SQLite directly.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let time_sql = |sql: &str, args: &[&dyn rusqlite::ToSql]| {
        let mut stmt = conn.prepare(sql).unwrap();
        let mut samples = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let n = stmt.query_map(args, |_| Ok(())).unwrap().count();
            samples.push(start.elapsed());
            std::hint::black_box(n);
        }
        median(samples)
    };
    let c = campaign.id.as_str();
    let a = account.id.as_str();
    let group_floor = time_sql(
        "SELECT phones, count(*) FROM customers WHERE account_id = ?1 AND campaign_id = ?2 \
         GROUP BY phones HAVING count(*) > 1",
        &[&a, &c],
    );
    let deep_offset = (rows / 20).saturating_sub(1) * 20;
    let page_sql =
        "SELECT id, name FROM customers WHERE account_id = ?1 AND campaign_id = ?2 ORDER BY id LIMIT 20 OFFSET ?3";
    let page1_floor = time_sql(page_sql, &[&a, &c, &0]);
    let deep_floor = time_sql(page_sql, &[&a, &c, &(deep_offset as i64)]);

    let store_dup = {
        let start = Instant::now();
        let groups = store.duplicates(a, c).await.unwrap();
        assert_eq!(groups.len(), rows / 10);
        start.elapsed()
    };
    let mut dup = Vec::new();
    let mut dup_bytes = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let resp = client
            .post(format!("http://{addr}/v1/customcampaign/duplicate"))
            .header("X-STRINGEE-AUTH", &tok)
            .json(&serde_json::json!({"campaign": c}))
            .send()
            .await
            .unwrap();
        dup_bytes = resp.bytes().await.unwrap().len();
        dup.push(start.elapsed());
    }
    let mut page1 = Vec::new();
    let mut deep = Vec::new();
    let deep_page = deep_offset / 20 + 1;
    // The first deep page after a change builds the campaign's page marks.
    let deep_cold = get(format!("/v1/customcampaign?campaign={c}&page={deep_page}&limit=20")).await.0;
    for _ in 0..20 {
        page1.push(get(format!("/v1/customcampaign?campaign={c}&page=1&limit=20")).await.0);
        deep.push(get(format!("/v1/customcampaign?campaign={c}&page={deep_page}&limit=20")).await.0);
    }
    println!(
        "campaign of {rows} customers (SQLite, seeded in {:.1} s; {} duplicate groups, {dup_bytes} bytes)",
        seeded.as_secs_f64(),
        rows / 10
    );
    println!();
    println!("| operation | callsheet over HTTP (median) | floor: bare SQL | ratio | target |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, got: Duration, floor: Duration, target: &str| {
        println!(
            "| {name} | {} | {} | {:.1}x | {target} |",
            ms(got),
            ms(floor),
            got.as_secs_f64() / floor.as_secs_f64()
        );
    };
    row("/duplicate", median(dup), group_floor, "< 1 s");
    row("/duplicate, store call alone", store_dup, group_floor, "");
    row("GET page 1, limit 20", median(page1), page1_floor, "< 5 ms");
    row(&format!("GET page {deep_page}, limit 20"), median(deep), deep_floor, "< 50 ms");
    row(&format!("GET page {deep_page}, first after a change"), deep_cold, deep_floor, "");
}
