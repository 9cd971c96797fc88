//! Many agents working one list at once (CONTRACT §9.3): 64 claimers through one
//! server on each backend, and through two `callsheet serve` processes sharing one
//! PostgreSQL database. No customer and no phone is ever in two live claims, and
//! every hand-out ends exactly once: in a result, a release or an expiry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Backend, TestApp, TestDb};

const AGENTS: usize = 64;
const CUSTOMERS: usize = 240;
/// Phones each held by several customers, so phones are fought over too.
const SHARED: usize = 40;
const HAND_OUTS: usize = 900;

/// One hand-out as a claimer saw it: the span in which the claim was certainly live.
#[derive(Debug, Clone)]
struct Held {
    customer: i64,
    phone: String,
    claim: String,
    from: f64,
    until: f64,
    ended: &'static str,
}

fn epoch() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

struct Floor {
    http: reqwest::Client,
    bases: Vec<String>,
    token: String,
}

impl Floor {
    async fn call(&self, server: usize, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.bases[server % self.bases.len()]);
        let mut req = self.http.request(method, url).header("X-STRINGEE-AUTH", &self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON"))
    }

    async fn post(&self, server: usize, path: &str, body: Value) -> Value {
        let (status, body) = self.call(server, reqwest::Method::POST, path, Some(body)).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    async fn get(&self, server: usize, path: &str) -> Value {
        let (status, body) = self.call(server, reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// A running campaign of [`CUSTOMERS`] customers worked by [`AGENTS`] agents.
    async fn campaign(&self) -> String {
        let mut agents = Vec::new();
        for i in 0..AGENTS {
            let made = self
                .post(i, "/v1/agent", json!({"name": format!("Agent {i}"), "stringee_user_id": format!("u{i}")}))
                .await;
            agents.push(made["agentID"].clone());
        }
        let contacts: Vec<Value> = (0..CUSTOMERS)
            .map(|i| {
                json!({"id": format!("crm{i}"), "name": format!("C {i}"),
                            "phones": [format!("0913{i:06}"), format!("0988{:06}", i % SHARED)]})
            })
            .collect();
        let made = self
            .post(
                0,
                "/v1/campaign",
                json!({"name": "Rush", "agent": agents, "listcontacts": contacts, "max_call_retry": 50,
                       "time_between_two_call": 0, "claim_lease_seconds": 3}),
            )
            .await;
        let id = made["data"]["id"].as_str().unwrap().to_string();
        self.post(0, &format!("/v1/campaign/{id}/approve"), json!({})).await;
        self.post(1, &format!("/v1/campaign/{id}/start"), json!({})).await;
        id
    }

    /// Every agent claims, then reports, releases or abandons, until the hand-outs
    /// are done; every hand-out as it was seen.
    async fn work(self: &Arc<Self>, campaign: &str) -> Vec<Held> {
        let seen = Arc::new(Mutex::new(Vec::<Held>::new()));
        let deadline = Instant::now() + Duration::from_secs(90);
        let workers = (0..AGENTS).map(|agent| {
            let (floor, seen, campaign) = (self.clone(), seen.clone(), campaign.to_string());
            tokio::spawn(async move {
                let mut turn = agent;
                while seen.lock().unwrap().len() < HAND_OUTS && Instant::now() < deadline {
                    turn += 1;
                    let body = floor
                        .post(
                            turn,
                            "/v1/customcampaign/receivecustomer",
                            json!({"campaign": campaign, "stringee_user_id": format!("u{agent}")}),
                        )
                        .await;
                    let from = epoch();
                    let data = &body["data"];
                    if data.is_null() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    let customer = data["id"].as_i64().unwrap();
                    let claim = data["claim_id"].as_str().unwrap().to_string();
                    let lease = data["lease_expires_at"].as_f64().unwrap();
                    let phone = data["phone"].as_str().unwrap().to_string();
                    // Talk a little, then end the call one of four ways.
                    tokio::time::sleep(Duration::from_millis((turn as u64 * 7) % 40)).await;
                    let until = epoch();
                    let (path, body, ended) = match (agent + turn) % 10 {
                        0 => (None, Value::Null, "expired"),
                        1 | 2 => (Some("release"), json!({"claim_id": claim}), "released"),
                        3..=5 => (Some("result"), json!({"claim_id": claim, "outcome": "busy"}), "result"),
                        _ => (Some("result"), json!({"claim_id": claim, "outcome": "no_answer"}), "result"),
                    };
                    let ended = match path {
                        None => ended,
                        Some(path) => {
                            let path = format!("/v1/customcampaign/{customer}/{path}");
                            match floor.call(turn, reqwest::Method::POST, &path, Some(body)).await {
                                (200, _) => ended,
                                // On a loaded machine the lease may run out first; the
                                // server then tells it was no longer live.
                                (409, answer) if answer["r"] == 7 => "expired",
                                (status, answer) => panic!("{path}: {status} {answer}"),
                            }
                        }
                    };
                    let until = if ended == "expired" { lease - 1.0 } else { until };
                    seen.lock().unwrap().push(Held { customer, phone, claim, from, until, ended });
                }
            })
        });
        for w in futures_util::future::join_all(workers).await {
            w.expect("worker");
        }
        std::mem::take(&mut *seen.lock().unwrap())
    }

    /// The invariants, checked against what the claimers saw and what the server kept.
    async fn check(&self, campaign: &str, held: &[Held]) {
        assert!(held.len() >= HAND_OUTS, "only {} hand-outs", held.len());
        // No two claims certainly live at once share a customer or a phone.
        for (key, what) in [(0, "customer"), (1, "phone")] {
            let mut by: HashMap<String, Vec<&Held>> = HashMap::new();
            for h in held {
                let k = if key == 0 { h.customer.to_string() } else { h.phone.clone() };
                by.entry(k).or_default().push(h);
            }
            for (k, mut spans) in by {
                spans.sort_by(|a, b| a.from.total_cmp(&b.from));
                for pair in spans.windows(2) {
                    assert!(
                        pair[1].from >= pair[0].until,
                        "{what} {k} was in two live claims: {:?} and {:?}",
                        pair[0],
                        pair[1]
                    );
                }
            }
        }
        let mut claims: Vec<&str> = held.iter().map(|h| h.claim.as_str()).collect();
        claims.sort_unstable();
        claims.dedup();
        assert_eq!(claims.len(), held.len(), "every hand-out has its own claim");
        // Let the abandoned leases run out and the sweep give them back.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let rows = self.get(0, &format!("/v1/customcampaign?campaign={campaign}&limit=1000")).await;
        let rows = rows["resFromPccApi"]["data"]["rows"].as_array().unwrap().clone();
        assert_eq!(rows.len(), CUSTOMERS);
        let mut events: HashMap<&str, usize> = HashMap::new();
        for row in &rows {
            let id = row["id"].as_i64().unwrap();
            assert_ne!(row["status"], 5, "a lease outlived its time: {row}");
            let history = self.get(1, &format!("/v1/customcampaign/{id}/history")).await;
            let history = history["data"]["rows"].as_array().unwrap().clone();
            let count = |e: &str| history.iter().filter(|h| h["event"] == e).count();
            let (claimed, results) = (count("claimed"), count("result"));
            // Each hand-out ends once: in a result, a release or an expiry; a result
            // that came after its lease ran out (accepted: nobody had it since) is
            // the one way two ends meet.
            let mut ends: HashMap<&str, Vec<&str>> = HashMap::new();
            for h in &history {
                let event = h["event"].as_str().unwrap();
                if let Some(claim) = h["claim_id"].as_str() {
                    ends.entry(claim).or_default().push(event);
                }
            }
            assert_eq!(ends.len(), claimed, "customer {id}: {history:?}");
            for (claim, events) in &ends {
                assert!(
                    matches!(
                        events[..],
                        ["claimed", "result" | "released" | "expired"] | ["claimed", "expired", "result"]
                    ),
                    "claim {claim} of customer {id} ended as {events:?}"
                );
            }
            assert_eq!(row["number_call_out"], results as i64, "customer {id}: one call per result");
            let mine = held.iter().filter(|h| h.customer == id).count();
            assert_eq!(claimed, mine, "customer {id}: hand-outs the server wrote down");
            for e in ["claimed", "result", "released", "expired"] {
                *events.entry(e).or_default() += count(e);
            }
        }
        let ended = |e: &str| held.iter().filter(|h| h.ended == e).count();
        assert_eq!(events["result"], ended("result"));
        assert_eq!(events["released"], ended("released"));
        // A late result was accepted after its lease ran out: expired, then result.
        assert!(events["expired"] >= ended("expired"), "{events:?}");
        eprintln!("{} hand-outs: {events:?}", held.len());
    }
}

backend_test!(sixty_four_agents_on_one_server_never_share_a_customer_or_a_phone, async {
    let app = TestApp::spawn().await;
    let floor = Arc::new(Floor {
        http: reqwest::Client::new(),
        bases: vec![format!("http://{}", app.addr)],
        token: app.tenant.token.clone(),
    });
    let campaign = floor.campaign().await;
    let held = floor.work(&campaign).await;
    floor.check(&campaign, &held).await;
});

#[tokio::test]
async fn sixty_four_agents_on_two_servers_never_share_a_customer_or_a_phone() {
    if crate::common::skip_without_postgres() {
        return;
    }
    let (_db, url) = TestDb::create(Backend::Postgres).await;
    let a_url = url.clone();
    let started = std::thread::spawn(move || crate::common::Served::start(&a_url, &[], "info"));
    let b = crate::common::Served::start(&url, &[], "info");
    let a = started.join().expect("server a");
    let client = crate::common::ApiClient::new(&url, "Rush hour");
    let floor =
        Arc::new(Floor { http: client.http.clone(), bases: vec![a.base.clone(), b.base.clone()], token: client.token });
    let campaign = floor.campaign().await;
    let held = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(floor.work(&campaign))).await;
    // A failed request's cause is in the servers' logs.
    for line in a.log().lines().chain(b.log().lines()).filter(|l| l.contains("ERROR")).take(5) {
        eprintln!("server: {line}");
    }
    let held = held.expect("the claimers ran");
    floor.check(&campaign, &held).await;
}

// Hand-outs racing the writes that must see them: a quota, a customer's delete,
// a campaign's delete. Each race is run several times; whichever side wins, the
// other must see it.
backend_test!(hand_outs_and_deletes_racing_never_leave_a_claim_behind_or_pass_a_quota, async {
    use crate::calling::{also_running, running};
    let app = Arc::new(TestApp::spawn().await);
    // Ten hand-outs at once to one agent with a quota of one: one customer.
    let (campaign, _) = running(&app, json!({"quota_type": 1, "quota_call_out": 1}), &[&[1], &[2], &[3], &[4]]).await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, campaign) = (app.clone(), campaign.clone());
            tokio::spawn(async move { crate::calling::receive(&app, &campaign, "u1").await })
        })
        .collect();
    let mut handed = 0;
    for t in tasks {
        let body = t.await.unwrap();
        if body["data"].is_object() {
            handed += 1;
        } else {
            assert_eq!(body["reason"], "quota_reached", "{body}");
        }
    }
    assert_eq!(handed, 1, "a quota of one handed out {handed}");
    for round in 0..8 {
        // A customer's delete against its hand-out: one of the two loses.
        let (campaign, ids) = also_running(&app, "Race", json!({}), &[&[10 + round]]).await;
        let (app1, app2, c) = (app.clone(), app.clone(), campaign.clone());
        let path = format!("/v1/customcampaign/{}", ids[0]);
        let delete = tokio::spawn(async move { app1.delete(&path).await });
        let hand_out = tokio::spawn(async move { crate::calling::receive(&app2, &c, "u1").await });
        let ((status, deleted), handed) = (delete.await.unwrap(), hand_out.await.unwrap());
        match (status, handed["data"].is_object()) {
            (200, false) => {}
            (409, true) => assert_eq!(deleted["r"], 7, "{deleted}"),
            other => panic!("round {round}: delete {other:?} {deleted} and hand-out {handed}"),
        }
        // A campaign's delete against hand-outs: refused while any holds a claim.
        let customers: Vec<[u32; 1]> = (0..6).map(|i| [100 + round * 10 + i]).collect();
        let lists: Vec<&[u32]> = customers.iter().map(|c| &c[..]).collect();
        let (campaign, _) = also_running(&app, "Race", json!({}), &lists).await;
        let hand_outs: Vec<_> = (0..4)
            .map(|_| {
                let (app, campaign) = (app.clone(), campaign.clone());
                tokio::spawn(async move {
                    let (_, body) = app
                        .post(
                            "/v1/customcampaign/receivecustomer",
                            json!({"campaign": campaign, "stringee_user_id": "u2"}),
                        )
                        .await;
                    body
                })
            })
            .collect();
        let (status, deleted) = app.delete(&format!("/v1/campaign/{campaign}")).await;
        let mut claimed = 0;
        for t in hand_outs {
            let body = t.await.unwrap();
            claimed += usize::from(body["data"].is_object());
        }
        if status == 200 {
            assert_eq!(claimed, 0, "round {round}: the campaign went with {claimed} live claims");
        } else {
            assert_eq!((status, &deleted["r"]), (409, &json!(7)), "{deleted}");
        }
    }
});
