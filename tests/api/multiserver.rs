//! Several `callsheet serve` processes on one PostgreSQL database, as behind a load
//! balancer (docs/SCALING.md): concurrent writes through different servers lose
//! nothing and double nothing.
//!
//! PostgreSQL only: a SQLite database is one file of one machine, so there is no
//! second server to share it with.

use crate::common::{Backend, TestDb};
use serde_json::{Value, json};

/// A `callsheet serve` child process, stopped when dropped.
type Server = crate::common::Served;

fn start(database: &str) -> Server {
    Server::start(database, &[], "info")
}

type Client = crate::common::ApiClient;

fn contact(i: usize) -> Value {
    json!({"id": format!("CT{i:05}"), "name": format!("Khach {i}"), "phones": [format!("09{:08}", i % 1000)]})
}

/// Every customer of a campaign, as (id, crm_id, phones), through one server.
async fn customers(client: &Client, server: &Server, campaign: &str) -> (i64, Vec<(i64, String, Vec<String>)>) {
    let body = client.get(server, &format!("/v1/customcampaign?campaign={campaign}&limit=1000")).await;
    let data = &body["resFromPccApi"]["data"];
    let rows = data["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let phones = r["phones"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect();
            (r["id"].as_i64().unwrap(), r["crm_id"].as_str().unwrap().to_string(), phones)
        })
        .collect();
    (data["totalCount"].as_str().and_then(|t| t.parse().ok()).expect("totalCount"), rows)
}

/// Two servers started at once on a fresh PostgreSQL database (both migrate it at
/// once), and a client of a tenant made with the CLI there (it works on PostgreSQL
/// too); `None` where there is no PostgreSQL.
async fn two_servers(tenant: &str) -> Option<(TestDb, Server, Server, Client)> {
    if crate::common::skip_without_postgres() {
        return None;
    }
    let (db, url) = TestDb::create(Backend::Postgres).await;
    let a_url = url.clone();
    let started = std::thread::spawn(move || start(&a_url));
    let b = start(&url);
    let a = started.join().expect("server a");
    Some((db, a, b, Client::new(&url, tenant)))
}

#[tokio::test]
async fn two_servers_share_one_database() {
    let Some((_db, a, b, client)) = two_servers("Shared").await else {
        return;
    };

    // 16 requests, half through each server, add overlapping slices of 400 contacts.
    let campaign = client.post(&a, "/v1/campaign", json!({"name": "Shared list"})).await;
    let campaign = campaign["data"]["id"].as_str().expect("campaign id").to_string();
    let requests = (0..16).map(|k| {
        let server = if k % 2 == 0 { &a } else { &b };
        let slice: Vec<Value> = (k * 20..k * 20 + 100).map(|i| contact(i % 400)).collect();
        let sent = slice.len() as i64;
        let (client, campaign) = (&client, &campaign);
        async move {
            let body =
                client.post(server, "/v1/customcampaign", json!({"campaign": campaign, "listcontacts": slice})).await;
            assert_eq!(body["r"], 0, "{body}");
            (sent, body)
        }
    });
    let answers = futures_util::future::join_all(requests).await;
    let (mut sent, mut added, mut skipped) = (0, 0, 0);
    for (n, body) in &answers {
        sent += n;
        added += body["summary"]["added"].as_i64().unwrap_or_else(|| panic!("added in {body}"));
        skipped += body["summary"]["skipped"].as_i64().unwrap_or_else(|| panic!("skipped in {body}"));
    }
    // Every contact was added exactly once; every other sending was reported as already there.
    assert_eq!(added, 400, "{answers:?}");
    assert_eq!(added + skipped, sent);
    let (total, rows) = customers(&client, &b, &campaign).await;
    assert_eq!((total, rows.len()), (400, 400));
    let mut crm: Vec<&str> = rows.iter().map(|(_, c, _)| c.as_str()).collect();
    crm.sort_unstable();
    crm.dedup();
    assert_eq!(crm.len(), 400);
    let mut ids: Vec<i64> = rows.iter().map(|(id, _, _)| *id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 400, "customer ids are never given twice");

    // Pairs of customers share a phone. Server a keeps the first of every pair while
    // server b deletes the second of half of them: whichever runs first, only the
    // keepers remain, counted right.
    let dup = client.post(&a, "/v1/campaign", json!({"name": "Pairs"})).await;
    let dup = dup["data"]["id"].as_str().unwrap().to_string();
    let pairs: Vec<Value> = (0..200)
        .map(|i| json!({"id": format!("CP{i:04}"), "name": format!("p{i}"), "phones": [format!("09{:08}", i % 100)]}))
        .collect();
    let body = client.post(&b, "/v1/customcampaign", json!({"campaign": dup, "listcontacts": pairs})).await;
    assert_eq!(body["summary"]["added"], 200, "{body}");
    let (_, rows) = customers(&client, &a, &dup).await;
    let keepers: Vec<&(i64, String, Vec<String>)> = rows.iter().filter(|(_, c, _)| c.as_str() < "CP0100").collect();
    let losers: Vec<i64> = rows.iter().filter(|(_, c, _)| c.as_str() >= "CP0100").map(|(id, _, _)| *id).collect();
    let keep: serde_json::Map<String, Value> =
        keepers.iter().map(|(id, _, phones)| (phones[0].clone(), json!(id))).collect();
    let keeping =
        client.post(&a, "/v1/customcampaign/keepduplicate", json!({"campaign": dup, "listKeepCustomer": keep}));
    let deleting = futures_util::future::join_all(losers.iter().step_by(2).map(|id| {
        let url = format!("{}/v1/customcampaign/{id}", b.base);
        client.call(reqwest::Method::DELETE, url, None)
    }));
    let (kept, deleted) = tokio::join!(keeping, deleting);
    assert_eq!(kept["r"], 0, "{kept}");
    for (status, body) in &deleted {
        // A loser keepduplicate already removed is simply not found any more.
        assert!((*status, &body["r"]) == (200, &json!(0)) || (*status, &body["r"]) == (404, &json!(4)), "{body}");
    }
    let (total, rows) = customers(&client, &b, &dup).await;
    assert_eq!((total, rows.len()), (100, 100));
    assert!(rows.iter().all(|(_, c, _)| c.as_str() < "CP0100"));
    let body = client.post(&a, "/v1/customcampaign/duplicate", json!({"campaign": dup})).await;
    assert_eq!(body, json!({"r": 0, "msg": "Success", "data": {}}));
}

/// A campaign taking a callable-hours set up through one server while another
/// deletes the set: one of the two loses (r 7 for the delete, naming the campaign, or
/// r 4 for the campaign), never neither, which would leave the campaign's hours
/// pointing at nothing and ignored (CONTRACT §10.2).
#[tokio::test]
async fn a_callable_hours_set_taken_up_while_it_is_deleted_is_never_left_dangling() {
    let Some((_db, a, b, client)) = two_servers("Hours").await else {
        return;
    };
    let existing = client.post(&a, "/v1/campaign", json!({"name": "Existing"})).await;
    let existing = existing["data"]["id"].as_str().unwrap().to_string();
    for round in 0..30 {
        let set = client
            .post(
                &a,
                "/v1/businesshour",
                json!({"name": format!("Set {round}"), "timezone": "UTC",
                       "windows": [{"days": [1,2,3,4,5,6,7], "start": "08:00", "end": "17:00"}]}),
            )
            .await;
        let set = set["data"]["id"].as_i64().unwrap();
        // A new campaign, or an existing one changed, in turn.
        let taking = if round % 2 == 0 {
            client.call(
                reqwest::Method::POST,
                a.url("/v1/campaign"),
                Some(json!({"name": format!("New {round}"), "businesshour": set})),
            )
        } else {
            client.call(
                reqwest::Method::PUT,
                a.url(&format!("/v1/campaign/{existing}")),
                Some(json!({"businesshour": set})),
            )
        };
        let deleting = client.call(reqwest::Method::DELETE, b.url(&format!("/v1/businesshour/{set}")), None);
        let ((took, took_body), (deleted, deleted_body)) = tokio::join!(taking, deleting);
        assert!(
            (took == 200) != (deleted == 200),
            "round {round}: the campaign {took} {took_body}, the delete {deleted} {deleted_body}"
        );
        if took == 200 {
            assert_eq!(deleted_body["r"], 7, "{deleted_body}");
            let campaign = took_body["data"]["id"].as_str().unwrap();
            assert!(deleted_body["msg"].as_str().unwrap().contains(campaign), "names the campaign: {deleted_body}");
            client
                .ok(&a, reqwest::Method::PUT, &format!("/v1/campaign/{campaign}"), Some(json!({"businesshour": null})))
                .await;
        } else {
            assert_eq!(took_body["r"], 4, "{took_body}");
        }
    }
}

/// A customer one server gives back (a release, a retry due at once) below where
/// the other server's queue starts is the next that server hands out: the order by
/// id holds across servers, at once, not within a second.
#[tokio::test]
async fn a_customer_given_back_through_one_server_is_next_through_the_other() {
    let Some((_db, a, b, client)) = two_servers("Order").await else {
        return;
    };
    let agent = client.post(&a, "/v1/agent", json!({"name": "Lan", "stringee_user_id": "lan"})).await;
    let agent = agent["agentID"].as_str().unwrap().to_string();
    let contacts: Vec<Value> = (0..16)
        .map(|i| json!({"id": format!("CT{i:05}"), "name": format!("Khach {i}"), "phones": [format!("091234{i:04}")]}))
        .collect();
    let made = client
        .post(
            &a,
            "/v1/campaign",
            json!({"name": "Order", "agent": [agent], "time_between_two_call": 0, "listcontacts": contacts}),
        )
        .await;
    let campaign = made["data"]["id"].as_str().unwrap().to_string();
    for action in ["approve", "start"] {
        client.post(&a, &format!("/v1/campaign/{campaign}/{action}"), json!({})).await;
    }
    let receive = async |server: &Server| {
        let body = client
            .post(
                server,
                "/v1/customcampaign/receivecustomer",
                json!({"campaign": campaign, "stringee_user_id": "lan"}),
            )
            .await;
        let data = &body["data"];
        (data["id"].as_i64().expect("a customer"), data["claim_id"].as_str().unwrap().to_string())
    };
    for round in 0..5 {
        // Server a hands out three in id order, so its queue starts past them.
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(receive(&a).await);
        }
        assert!(held.windows(2).all(|w| w[0].0 < w[1].0), "round {round}: {held:?}");
        // Server b gives the first back, and a busy call on the second is due at once.
        let (first, first_claim) = held[0].clone();
        client.post(&b, &format!("/v1/customcampaign/{first}/release"), json!({"claim_id": first_claim})).await;
        let (second, second_claim) = held[1].clone();
        client
            .post(
                &b,
                &format!("/v1/customcampaign/{second}/result"),
                json!({"claim_id": second_claim, "outcome": "busy"}),
            )
            .await;
        assert_eq!(receive(&a).await.0, first, "round {round}: the released customer first");
        assert_eq!(receive(&a).await.0, second, "round {round}: then the retry due at once");
        // Everyone handed out ends, so the next round starts on the rest of the list.
        for id in [first, second, held[2].0] {
            let rows = client.get(&a, &format!("/v1/customcampaign/{id}/history")).await;
            let claim = rows["data"]["rows"]
                .as_array()
                .unwrap()
                .iter()
                .rev()
                .find(|r| r["event"] == "claimed")
                .unwrap()["claim_id"]
                .as_str()
                .unwrap()
                .to_string();
            client
                .call(
                    reqwest::Method::POST,
                    b.url(&format!("/v1/customcampaign/{id}/result")),
                    Some(json!({"claim_id": claim, "outcome": "success"})),
                )
                .await;
        }
    }
}
