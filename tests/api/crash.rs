//! The moment a server dies: `kill -9` in the middle of a 100k-row import and of a
//! keepduplicate, then a restart on the same database. What the killed request was
//! doing is there whole or not at all, the database is intact, and the restarted
//! server carries on.

use std::time::Duration;

use crate::common::{Backend, TestDb};
use serde_json::{Value, json};

type Server = crate::common::Served;

fn start(url: &str) -> Server {
    Server::start(url, &[], "warn,callsheet=info")
}

type Client = crate::common::ApiClient;

async fn count(client: &Client, server: &Server, campaign: &str) -> i64 {
    let body = client.get(server, &format!("/v1/customcampaign?campaign={campaign}&limit=1")).await;
    body["resFromPccApi"]["data"]["totalCount"].as_str().unwrap().parse().unwrap()
}

async fn contacts(client: &Client, server: &Server) -> i64 {
    client.get(server, "/v1/contact?limit=1").await["data"]["totalCount"].as_i64().unwrap()
}

async fn duplicate_groups(client: &Client, server: &Server, campaign: &str) -> usize {
    let body = client.post(server, "/v1/customcampaign/duplicate", json!({"campaign": campaign})).await;
    body["data"].as_object().unwrap().len()
}

/// The database's own check of itself, and no trace left of unfinished writes.
async fn check_intact(backend: Backend, url: &str) {
    match backend {
        Backend::Sqlite => {
            let conn = rusqlite::Connection::open(url.strip_prefix("sqlite://").unwrap()).unwrap();
            let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
            assert_eq!(check, "ok");
            let staged: i64 = conn
                .query_row(
                    "SELECT (SELECT count(*) FROM staged_blocks) + (SELECT count(*) FROM campaigns \
                     WHERE hidden = 1 OR staged_from IS NOT NULL)",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(staged, 0, "unfinished writes were left behind");
            let orphans: i64 = conn
                .query_row(
                    "SELECT count(*) FROM contact_phones p WHERE NOT EXISTS \
                     (SELECT 1 FROM contacts c WHERE c.seq = p.contact_rowid)",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(orphans, 0, "phones of contacts that are gone");
        }
        Backend::Postgres => {
            let client = callsheet::store::postgres::connect(url).await.unwrap();
            let orphans: i64 = client
                .query_one(
                    "SELECT count(*) FROM contact_phones p WHERE NOT EXISTS \
                     (SELECT 1 FROM contacts c WHERE c.seq = p.contact_rowid)",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(orphans, 0, "phones of contacts that are gone");
        }
    }
}

const ROWS: usize = 100_000;

fn leads_csv() -> Vec<u8> {
    let mut csv = String::from("name,phone,city\n");
    for i in 0..ROWS {
        csv.push_str(&format!("Khách {i},09{i:08},Huế\n"));
    }
    csv.into_bytes()
}

/// Uploads `csv` to the campaign with these extra fields; the request, to await or spawn.
fn upload_leads(
    client: &Client,
    server: &Server,
    campaign: &str,
    csv: Vec<u8>,
    fields: &[(&'static str, &'static str)],
) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static {
    let mut form = reqwest::multipart::Form::new().text("campaign", campaign.to_string());
    for (k, v) in fields {
        form = form.text(*k, *v);
    }
    form = form.part("file", reqwest::multipart::Part::bytes(csv).file_name("leads.csv"));
    client
        .http
        .post(format!("{}/v1/customcampaign", server.base))
        .header("X-STRINGEE-AUTH", &client.token)
        .multipart(form)
        .send()
}

async fn killed_mid_import_leaves_all_or_nothing(backend: Backend) {
    let (_db, url) = TestDb::create(backend).await;
    let client = Client::new(&url, "Crash");
    let csv = leads_csv();
    let mut outcomes = Vec::new();
    // Kills at several moments: while the file is read, while rows are written, near the end.
    for delay_ms in [400u64, 1500, 4000] {
        let server = start(&url);
        let campaign = client.post(&server, "/v1/campaign", json!({"name": "Crash"})).await;
        let campaign = campaign["data"]["id"].as_str().unwrap().to_string();
        let contacts_before = contacts(&client, &server).await;
        let upload = tokio::spawn(upload_leads(&client, &server, &campaign, csv.clone(), &[]));
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        server.kill();
        let answered = upload.await.unwrap().is_ok_and(|r| r.status().is_success());

        let server = start(&url);
        let (count, contacts) =
            (count(&client, &server, &campaign).await, contacts(&client, &server).await - contacts_before);
        outcomes
            .push(format!("kill at {delay_ms} ms: {count} customers, {contacts} new contacts, answered {answered}"));
        assert!(
            (count, contacts) == (0, 0) || (count, contacts) == (ROWS as i64, ROWS as i64),
            "a killed import left part of itself: {count} customers, {contacts} contacts"
        );
        if answered {
            assert_eq!(count, ROWS as i64, "an answered import was lost");
        }
        server.kill();
        check_intact(backend, &url).await;
    }
    eprintln!("{backend:?}: {}", outcomes.join("; "));
    // The restarted server takes the same file whole.
    let server = start(&url);
    let campaign = client.post(&server, "/v1/campaign", json!({"name": "After"})).await;
    let campaign = campaign["data"]["id"].as_str().unwrap().to_string();
    let resp = upload_leads(&client, &server, &campaign, leads_csv(), &[]).await.unwrap();
    assert!(resp.status().is_success());
    assert_eq!(count(&client, &server, &campaign).await, ROWS as i64);
}

async fn killed_mid_keepduplicate_leaves_all_or_nothing(backend: Backend) {
    let (_db, url) = TestDb::create(backend).await;
    let client = Client::new(&url, "Crash");
    let pairs = 20_000usize;
    let server = start(&url);
    let campaign = client.post(&server, "/v1/campaign", json!({"name": "Dupes"})).await;
    let campaign = campaign["data"]["id"].as_str().unwrap().to_string();
    // Two customers for every phone.
    let entries: Vec<Value> = (0..2 * pairs)
        .map(|i| json!({"id": format!("CT{i:08}"), "name": format!("n{i}"), "phones": [format!("09{:08}", i % pairs)]}))
        .collect();
    client.post(&server, "/v1/customcampaign", json!({"campaign": campaign, "listcontacts": entries})).await;
    assert_eq!(duplicate_groups(&client, &server, &campaign).await, pairs);
    // Keep the first customer of every phone (ids are given in order).
    let first = client.get(&server, &format!("/v1/customcampaign?campaign={campaign}&limit=1")).await["resFromPccApi"]
        ["data"]["rows"][0]["id"]
        .as_i64()
        .unwrap();
    let keep: serde_json::Map<String, Value> =
        (0..pairs).map(|i| (format!("849{i:08}"), json!(first + i as i64))).collect();
    let mut outcomes = Vec::new();
    let mut server = Some(server);
    for delay_ms in [30u64, 150, 600] {
        let live = server.take().unwrap_or_else(|| start(&url));
        let request = client
            .http
            .post(format!("{}/v1/customcampaign/keepduplicate", live.base))
            .header("X-STRINGEE-AUTH", &client.token)
            .json(&json!({"campaign": campaign, "listKeepCustomer": keep}))
            .send();
        let request = tokio::spawn(request);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        live.kill();
        let answered = request.await.unwrap().is_ok_and(|r| r.status().is_success());
        let restarted = start(&url);
        let (groups, count) =
            (duplicate_groups(&client, &restarted, &campaign).await, count(&client, &restarted, &campaign).await);
        outcomes
            .push(format!("kill at {delay_ms} ms: {groups} duplicate groups, {count} customers, answered {answered}"));
        assert!(
            (groups, count) == (pairs, 2 * pairs as i64) || (groups, count) == (0, pairs as i64),
            "a killed keepduplicate left part of itself: {groups} groups, {count} customers"
        );
        if answered {
            assert_eq!(groups, 0, "an answered keepduplicate was lost");
        }
        restarted.kill();
        check_intact(backend, &url).await;
        if groups == 0 {
            break;
        }
    }
    eprintln!("{backend:?}: {}", outcomes.join("; "));
}

backend_test!(killed_mid_import, async {
    killed_mid_import_leaves_all_or_nothing(crate::common::current_backend()).await
});

backend_test!(killed_mid_keepduplicate, async {
    killed_mid_keepduplicate_leaves_all_or_nothing(crate::common::current_backend()).await
});

/// A job whose server is killed mid-import is reported failed once the server is
/// gone (at the next start on SQLite; when its heartbeat is stale on PostgreSQL,
/// where other servers may share the database), and nothing of it is written.
async fn killed_mid_job_is_failed_and_wrote_nothing(backend: Backend) {
    let (_db, url) = TestDb::create(backend).await;
    let client = Client::new(&url, "Crash");
    let server = start(&url);
    let campaign = client.post(&server, "/v1/campaign", json!({"name": "Job"})).await;
    let campaign = campaign["data"]["id"].as_str().unwrap().to_string();
    let resp = upload_leads(&client, &server, &campaign, leads_csv(), &[("async", "1")]).await.unwrap();
    let started: Value = resp.json().await.unwrap();
    let job = started["data"]["job"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let running = client.get(&server, &format!("/v1/job/{job}")).await;
    assert_eq!(running["data"]["state"], "running", "the job ended before the kill: {running}");
    server.kill();

    let server = start(&url);
    let start = std::time::Instant::now();
    let failed = loop {
        let body = client.get(&server, &format!("/v1/job/{job}")).await;
        if body["data"]["state"] != "running" {
            break body["data"].clone();
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the dead job still shows running: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!("{backend:?}: the killed job read failed {:.1} s after the restart", start.elapsed().as_secs_f64());
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["error"], json!({"r": 10, "msg": "interrupted by a server restart; nothing was imported"}));
    assert_eq!(count(&client, &server, &campaign).await, 0);
    assert_eq!(contacts(&client, &server).await, 0);
    server.kill();
    check_intact(backend, &url).await;
}

backend_test!(killed_mid_job, async {
    killed_mid_job_is_failed_and_wrote_nothing(crate::common::current_backend()).await
});
