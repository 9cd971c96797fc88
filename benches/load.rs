//! Writers that must not fail or stall each other, through the real server:
//! - one-contact adds to another campaign while a million-row CSV is imported,
//!   beside the same adds with nothing else running;
//! - a mixed load of 32 clients (adds, add-by-phones, deletes, keepduplicate and
//!   reads over a handful of campaigns) with its invariants checked at the end: no
//!   5xx, no contact twice in a campaign, every count adding up.
//!
//! `cargo bench --bench load [-- ROWS]` (default 1,000,000) prints a markdown table.
//! The settings are in `support`.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Backend, Database, Figure, Row, Server, Target};

mod support;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

/// One-contact adds to `campaign`, one after another, until `stop`; their latencies.
async fn small_adds(server: Arc<Server>, campaign: String, stop: Arc<AtomicBool>, tag: &'static str) -> Vec<Duration> {
    let mut samples = Vec::new();
    let mut i = 0u64;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let entry = json!([{"id": format!("CT{tag}{i:07}"), "name": "Walk-in", "phones": [format!("0912{:06}", i % 1_000_000)]}]);
        let (took, answer) =
            server.post_json("/v1/customcampaign", json!({"campaign": campaign, "listcontacts": entry})).await;
        assert_eq!(answer["summary"]["added"], 1, "a small add failed: {answer}");
        samples.push(took);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    samples
}

async fn small_writes_during_an_import(rows: usize, backend: Backend, report: &mut Vec<Row>) {
    let db = Database::fresh("load_import");
    let (store, _, key) = support::account(db.url()).await;
    drop(store);
    let max_rows = rows.max(1_000_000).to_string();
    let mut csv = String::with_capacity(rows * 40);
    csv.push_str("id,name,phone\n");
    for i in 0..rows {
        csv.push_str(&format!("CT{i:08},Khách hàng {i},09{:08}\n", (i * 7919) % 99_999_999));
    }
    let upload_limit = (2 * csv.len()).max(100 << 20).to_string();
    let server = Arc::new(Server::start(
        db.url(),
        &key,
        &["--max-file-rows", &max_rows, "--max-upload-bytes", &upload_limit, "--async-upload-bytes", "0"],
    ));
    let big = server.create_campaign("Big import").await;
    let small = server.create_campaign("Walk-ins").await;

    // The floor: the same adds with nothing else running, for as long as the import takes below.
    let stop = Arc::new(AtomicBool::new(false));
    let floor = tokio::spawn(small_adds(server.clone(), small.clone(), stop.clone(), "F"));
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::SeqCst);
    let mut alone = floor.await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let during = tokio::spawn(small_adds(server.clone(), small.clone(), stop.clone(), "D"));
    let (import, answer) = server.upload(&big, csv.into_bytes(), "leads.csv").await;
    stop.store(true, Ordering::SeqCst);
    let mut samples = during.await.unwrap();
    assert_eq!(answer["summary"]["added"], rows, "{answer}");
    let (p50, p99, max) =
        (percentile(&mut samples, 0.5), percentile(&mut samples, 0.99), *samples.iter().max().unwrap());
    let floor_p99 = percentile(&mut alone, 0.99);
    report.push(
        Row::new(
            format!(
                "one-contact add to another campaign during a {rows}-row CSV import ({}): p99 of {} adds; p50 {}, max {}",
                support::ms(import),
                samples.len(),
                support::ms(p50),
                support::ms(max)
            ),
            Figure::Time(p99),
            Target::Within(Duration::from_secs(1)),
        )
        .floor(Figure::Time(floor_p99), format!("p99 of the same adds alone, {} of them", alone.len())),
    );
    let _ = backend;
}

/// What the mixed load did, for its row.
#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    server_errors: AtomicU64,
}

async fn mixed_load(backend: Backend, report: &mut Vec<Row>) {
    const CLIENTS: usize = 32;
    const CAMPAIGNS: usize = 4;
    let seconds: u64 = std::env::var("CALLSHEET_BENCH_WRK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10) * 2;
    let db = Database::fresh("load_mixed");
    let (store, _, key) = support::account(db.url()).await;
    drop(store);
    let server = Arc::new(Server::start(db.url(), &key, &[]));
    let mut campaigns = Vec::new();
    for c in 0..CAMPAIGNS {
        campaigns.push(server.create_campaign(&format!("Mixed {c}")).await);
    }
    let campaigns = Arc::new(campaigns);
    let tally = Arc::new(Tally::default());

    // One client's pass through the mix first: the latency it costs alone.
    let mut alone = Vec::new();
    for i in 0..50 {
        alone.extend(one_round(&server, &campaigns, 10_000 + i, &tally).await);
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (server, campaigns, tally) = (server.clone(), campaigns.clone(), tally.clone());
        clients.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut round = client;
            while Instant::now() < deadline {
                samples.extend(one_round(&server, &campaigns, round, &tally).await);
                round += CLIENTS;
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for c in clients {
        samples.extend(c.await.unwrap());
    }
    // The invariants: no contact twice in a campaign, each count the rows it counts.
    for campaign in campaigns.iter() {
        let mut seen = HashSet::new();
        let mut page = 1;
        let mut listed = 0;
        let total = loop {
            let resp = server
                .client
                .get(server.url(&format!("/v1/customcampaign?campaign={campaign}&page={page}&limit=1000")))
                .header("X-STRINGEE-AUTH", &server.token)
                .send()
                .await
                .unwrap();
            let body: Value = resp.json().await.unwrap();
            let data = &body["resFromPccApi"]["data"];
            for row in data["rows"].as_array().unwrap() {
                assert!(seen.insert(row["crm_id"].as_str().unwrap().to_string()), "a contact twice in {campaign}");
                listed += 1;
            }
            if data["rows"].as_array().unwrap().len() < 1000 {
                break data["totalCount"].as_str().unwrap().parse::<usize>().unwrap();
            }
            page += 1;
        };
        assert_eq!(listed, total, "{campaign}: the count says {total}, the list has {listed}");
    }
    let errors = tally.server_errors.load(Ordering::SeqCst);
    assert_eq!(errors, 0, "the mixed load saw {errors} 5xx answers");
    let requests = tally.requests.load(Ordering::SeqCst);
    let (p50, p99) = (percentile(&mut samples, 0.5), percentile(&mut samples, 0.99));
    report.push(
        Row::new(
            format!(
                "mixed load, {CLIENTS} clients for {seconds} s on {CAMPAIGNS} campaigns: p99 of {requests} requests; \
                 p50 {}, 0 5xx, no contact twice, counts add up",
                support::ms(p50)
            ),
            Figure::Time(p99),
            Target::Within(Duration::from_secs(1)),
        )
        .floor(Figure::Time(percentile(&mut alone, 0.99)), "p99 of the same mix from one client alone"),
    );
    let _ = backend;
}

/// One client's round: add a few contacts (inline), add a phone, read a page, find
/// and resolve duplicates, delete a customer. Returns each request's latency.
async fn one_round(server: &Server, campaigns: &[String], round: usize, tally: &Tally) -> Vec<Duration> {
    let campaign = &campaigns[round % campaigns.len()];
    let mut samples = Vec::new();
    let mut call = async |method: reqwest::Method, path: String, body: Option<Value>| -> Value {
        let start = Instant::now();
        let mut req = server.client.request(method, server.url(&path)).header("X-STRINGEE-AUTH", &server.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        samples.push(start.elapsed());
        tally.requests.fetch_add(1, Ordering::SeqCst);
        if status.is_server_error() {
            tally.server_errors.fetch_add(1, Ordering::SeqCst);
        }
        body
    };
    // Overlapping contacts across rounds: some adds are skipped as already there.
    let entries: Vec<Value> = (0..5)
        .map(|k| {
            let n = (round * 3 + k) % 5_000;
            json!({"id": format!("CT{n:08}"), "name": format!("Khách {n}"), "phones": [format!("09{:08}", n % 2_500)]})
        })
        .collect();
    call(
        reqwest::Method::POST,
        "/v1/customcampaign".into(),
        Some(json!({"campaign": campaign, "listcontacts": entries})),
    )
    .await;
    call(
        reqwest::Method::POST,
        "/v1/customcampaign/add-by-phones".into(),
        Some(json!({"campaign_id": campaign, "phones": [format!("08{:08}", round % 3_000)]})),
    )
    .await;
    let page =
        call(reqwest::Method::GET, format!("/v1/customcampaign?campaign={campaign}&limit=20&page=1"), None).await;
    let groups =
        call(reqwest::Method::POST, "/v1/customcampaign/duplicate".into(), Some(json!({"campaign": campaign}))).await;
    if let Some((phone, holders)) = groups["data"].as_object().and_then(|g| g.iter().next()) {
        let keeper = holders[0]["id"].clone();
        call(
            reqwest::Method::POST,
            "/v1/customcampaign/keepduplicate".into(),
            Some(json!({"campaign": campaign, "listKeepCustomer": {phone.clone(): keeper}})),
        )
        .await;
    }
    if round.is_multiple_of(4)
        && let Some(id) =
            page["resFromPccApi"]["data"]["rows"].as_array().and_then(|r| r.last()).map(|r| r["id"].clone())
    {
        call(reqwest::Method::DELETE, format!("/v1/customcampaign/{id}"), None).await;
    }
    samples
}

#[tokio::main]
async fn main() {
    let rows = support::rows(1_000_000).max(1_000);
    let backend = Backend::from_env();
    let mut report = Vec::new();
    small_writes_during_an_import(rows, backend, &mut report).await;
    mixed_load(backend, &mut report).await;
    support::report(&format!("load: writers beside each other ({})", backend.name()), &report);
}
