//! The calling workflow over HTTP (CONTRACT §9–§10), on both backends: hand-out
//! and every rule of 9.3, every outcome of 9.4, leases, release, idempotent results,
//! stop/resume, explain, history, the lifecycle, stats, do-not-call lists and
//! callable hours.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Body, TestApp, error};
use callsheet::domain::now_secs;

/// A phone of the test lists: `0912345NNN`, stored as `84912345NNN`.
pub fn vn(n: u32) -> String {
    format!("0912345{n:03}")
}

pub fn stored(n: u32) -> String {
    format!("84912345{n:03}")
}

/// Makes an agent; its `agentID`.
pub async fn agent(app: &TestApp, user: &str) -> String {
    let (status, body) =
        app.post("/v1/agent", json!({"name": format!("Agent {user}"), "stringee_user_id": user})).await;
    assert_eq!(status, 200, "{body}");
    body["agentID"].as_str().expect("agentID").to_string()
}

/// The customers of a list: one per entry, with those phones (test numbers).
pub fn contacts(customers: &[&[u32]]) -> Value {
    customers
        .iter()
        .enumerate()
        .map(|(i, phones)| {
            json!({"id": format!("crm{i}"), "name": format!("Customer {i}"),
                   "phones": phones.iter().map(|n| vn(*n)).collect::<Vec<_>>()})
        })
        .collect()
}

/// A campaign with these settings and customers, worked by agents `u1` and `u2`,
/// approved and started. Its id and its customers' ids in list order.
pub async fn running(app: &TestApp, settings: Value, customers: &[&[u32]]) -> (String, Vec<i64>) {
    let agents = [agent(app, "u1").await, agent(app, "u2").await];
    started(app, "Outbound", settings, &agents, customers).await
}

/// The `id` of the agent with this `stringee_user_id`.
pub async fn agent_id(app: &TestApp, user: &str) -> String {
    let (_, body) = app.get(&format!("/v1/agent?stringee_user_id={user}")).await;
    body["data"]["agents"][0]["id"].as_str().expect("an agent").to_string()
}

/// Another campaign of the account, worked by agents `u1` and `u2` (made by
/// [`running`] already), approved and started.
pub async fn also_running(app: &TestApp, name: &str, settings: Value, customers: &[&[u32]]) -> (String, Vec<i64>) {
    let agents = [agent_id(app, "u1").await, agent_id(app, "u2").await];
    started(app, name, settings, &agents, customers).await
}

/// A campaign made with these settings, agents and customers, approved and started.
async fn started(
    app: &TestApp,
    name: &str,
    settings: Value,
    agents: &[String],
    customers: &[&[u32]],
) -> (String, Vec<i64>) {
    let mut body = settings;
    body["name"] = json!(name);
    body["agent"] = json!(agents);
    if !customers.is_empty() {
        body["listcontacts"] = contacts(customers);
    }
    let (status, made) = app.post("/v1/campaign", body).await;
    assert_eq!(status, 200, "{made}");
    let id = made["data"]["id"].as_str().unwrap().to_string();
    for step in ["approve", "start"] {
        let (status, body) = app.post(&format!("/v1/campaign/{id}/{step}"), json!({})).await;
        assert_eq!(status, 200, "{step}: {body}");
    }
    let ids = rows(app, &id).await.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    (id, ids)
}

/// Every customer of a campaign, by id.
pub async fn rows(app: &TestApp, campaign: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/v1/customcampaign?campaign={campaign}&limit=1000")).await;
    assert_eq!(status, 200, "{body}");
    let mut rows = body["resFromPccApi"]["data"]["rows"].as_array().unwrap().clone();
    rows.sort_by_key(|r| r["id"].as_i64());
    rows
}

pub async fn row(app: &TestApp, campaign: &str, id: i64) -> Value {
    rows(app, campaign).await.into_iter().find(|r| r["id"] == id).expect("customer")
}

/// The whole answer of a hand-out to `user`.
pub async fn receive(app: &TestApp, campaign: &str, user: &str) -> Value {
    let (status, body) =
        app.post("/v1/customcampaign/receivecustomer", json!({"campaign": campaign, "stringee_user_id": user})).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A hand-out that must succeed: customer id, claim, phone.
pub async fn claim(app: &TestApp, campaign: &str, user: &str) -> (i64, String, String) {
    let body = receive(app, campaign, user).await;
    let data = &body["data"];
    assert!(data.is_object(), "nobody handed out: {body}");
    (data["id"].as_i64().unwrap(), data["claim_id"].as_str().unwrap().into(), data["phone"].as_str().unwrap().into())
}

/// A hand-out that must find nobody: the reason and next_eligible_at.
pub async fn nobody(app: &TestApp, campaign: &str, user: &str) -> (String, Value) {
    let body = receive(app, campaign, user).await;
    assert!(body["data"].is_null(), "someone was handed out: {body}");
    (body["reason"].as_str().unwrap().to_string(), body["next_eligible_at"].clone())
}

pub async fn report(app: &TestApp, customer: i64, claim: &str, outcome: &str, extra: Value) -> (u16, Value) {
    let mut body = extra;
    body["claim_id"] = json!(claim);
    body["outcome"] = json!(outcome);
    app.post(&format!("/v1/customcampaign/{customer}/result"), body).await
}

/// A result that must be accepted: the customer row it answers.
pub async fn reported(app: &TestApp, customer: i64, claim: &str, outcome: &str, extra: Value) -> Value {
    let (status, body) = report(app, customer, claim, outcome, extra).await;
    assert_eq!(status, 200, "{outcome}: {body}");
    body["data"].clone()
}

pub async fn explain(app: &TestApp, customer: i64, user: Option<&str>) -> Value {
    let path = match user {
        Some(u) => format!("/v1/customcampaign/{customer}/explain?stringee_user_id={u}"),
        None => format!("/v1/customcampaign/{customer}/explain"),
    };
    let (status, body) = app.get(&path).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

/// A campaign's figures (`GET /v1/campaign/{id}/stats`).
pub async fn stats(app: &TestApp, campaign: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/campaign/{campaign}/stats")).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

pub async fn history(app: &TestApp, customer: i64) -> Vec<Value> {
    let (status, body) = app.get(&format!("/v1/customcampaign/{customer}/history")).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["rows"].as_array().unwrap().clone()
}

pub async fn sleep(seconds: f64) {
    tokio::time::sleep(std::time::Duration::from_secs_f64(seconds)).await;
}

/// Callable hours that are open at every moment.
pub async fn always_open(app: &TestApp) -> i64 {
    let (status, body) = app
        .post(
            "/v1/businesshour",
            json!({"name": "Always", "timezone": "UTC",
                   "windows": [{"days": [1,2,3,4,5,6,7], "start": "00:00", "end": "24:00"}], "holidays": []}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["id"].as_i64().unwrap()
}

/// Callable hours closed today everywhere on earth: yesterday, today and tomorrow
/// (UTC) are holidays.
/// An hours set closed from two UTC days ago to two days ahead: holidays are read in
/// the phone's own zone (CONTRACT §10), whose date may be a day off UTC's, so the
/// set is closed now, and for more than a day, whatever the wall clock says.
pub async fn closed_now(app: &TestApp) -> i64 {
    let day = |offset: i64| {
        chrono::DateTime::from_timestamp(now_secs() + offset * 86_400, 0).unwrap().format("%Y-%m-%d").to_string()
    };
    let (status, body) = app
        .post(
            "/v1/businesshour",
            json!({"name": "Closed", "timezone": "UTC",
                   "windows": [{"days": [1,2,3,4,5,6,7], "start": "00:00", "end": "24:00"}],
                   "holidays": [day(-2), day(-1), day(0), day(1), day(2)]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["id"].as_i64().unwrap()
}

backend_test!(a_hand_out_claims_the_customer_and_answers_its_row, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({}), &[&[1, 2], &[3]]).await;
    let before = callsheet::domain::now_ms();
    let body = receive(&app, &campaign, "u1").await;
    let data = &body["data"];
    assert_eq!(body["r"], 0);
    assert_eq!(body["msg"], "Success");
    assert_eq!(data["id"], ids[0], "new customers go by id");
    assert_eq!(data["status"], 5);
    assert_eq!(data["phone"], stored(1), "the first phone of the fewest calls");
    assert!(data["claim_id"].as_str().unwrap().starts_with("CL"), "{data}");
    let lease = data["lease_expires_at"].as_i64().unwrap();
    assert!((now_secs() + 295..=now_secs() + 301).contains(&lease), "default lease 300 s: {lease}");
    // Whole seconds, never less than the lease: not the hand-out's second plus 300.
    assert!(lease * 1000 >= before + 300_000, "the lease ends at {lease}, less than 300 s after {before} ms");
    for key in ["campaign_id", "crm_id", "name", "phones", "number_call_out", "do_not_call", "insert_time"] {
        assert!(data.get(key).is_some(), "the customer row of §4 has {key}: {data}");
    }
    assert_eq!(row(&app, &campaign, ids[0]).await["status"], 5, "GET shows it processing");
    let (second, _, _) = claim(&app, &campaign, "u2").await;
    assert_eq!(second, ids[1], "two hand-outs never get the same customer");
    let (reason, next) = nobody(&app, &campaign, "u1").await;
    assert_eq!(reason, "nothing_due", "everyone is held by a claim");
    assert!(next.as_i64().unwrap() >= lease - 1, "the lease's expiry is the next clock: {next}");
});

backend_test!(an_agent_not_assigned_or_unknown_is_r4_and_an_unknown_campaign_r3, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[&[1]]).await;
    agent(&app, "outsider").await;
    for (user, msg) in [
        ("outsider", "agent 'outsider' is not assigned to campaign"),
        ("ghost", "agent with stringee_user_id 'ghost' not found"),
    ] {
        let (status, body) = app
            .post("/v1/customcampaign/receivecustomer", json!({"campaign": campaign, "stringee_user_id": user}))
            .await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["r"], 4, "{body}");
        assert!(body["msg"].as_str().unwrap().starts_with(msg), "{body}");
    }
    let (status, body) =
        app.post("/v1/customcampaign/receivecustomer", json!({"campaign": "CA000000", "stringee_user_id": "u1"})).await;
    assert_eq!((status, body), (404, error(3, "campaign 'CA000000' not found")));
    let (status, body) = app.post("/v1/customcampaign/receivecustomer", json!({"campaign": campaign})).await;
    assert_eq!((status, body), (400, error(2, "missing stringee_user_id")));
    let (status, body) = app.post("/v1/customcampaign/receivecustomer", json!({"stringee_user_id": "u1"})).await;
    assert_eq!((status, body), (400, error(2, "missing campaign")));
});

backend_test!(a_hand_out_comes_in_every_encoding, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({}), &[&[1], &[2], &[3]]).await;
    let fields = crate::common::pairs(&[("campaign", &campaign), ("stringee_user_id", "u1")]);
    for (i, body) in [Body::Multipart(fields.clone()), Body::Form(fields)].into_iter().enumerate() {
        let (status, got) =
            app.send(Method::POST, "/v1/customcampaign/receivecustomer", Some(&app.tenant.token), body).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["data"]["id"], ids[i], "{got}");
    }
});

backend_test!(nobody_is_handed_out_until_the_campaign_runs, async {
    let app = TestApp::spawn().await;
    let a = agent(&app, "u1").await;
    let (_, made) =
        app.post("/v1/campaign", json!({"name": "Later", "agent": [a], "listcontacts": contacts(&[&[1]])})).await;
    let campaign = made["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(made["data"]["status"], 0);
    assert_eq!(nobody(&app, &campaign, "u1").await, ("campaign_not_running".into(), Value::Null));
    let (_, body) = app.post(&format!("/v1/campaign/{campaign}/approve"), json!({})).await;
    assert_eq!(body["data"]["status"], 1, "{body}");
    assert_eq!(nobody(&app, &campaign, "u1").await.0, "campaign_not_running");
    let (_, body) = app.post(&format!("/v1/campaign/{campaign}/start"), json!({})).await;
    assert_eq!(body["data"]["status"], 2);
    claim(&app, &campaign, "u1").await;
    let (_, body) = app.post(&format!("/v1/campaign/{campaign}/pause"), json!({})).await;
    assert_eq!(body["data"]["status"], 3);
    assert_eq!(nobody(&app, &campaign, "u1").await.0, "campaign_not_running");
});

backend_test!(a_campaign_that_starts_later_says_when, async {
    let app = TestApp::spawn().await;
    let start = (now_secs() + 3600) * 1000;
    let (campaign, _) = running(&app, json!({"start_time": start}), &[&[1]]).await;
    assert_eq!(nobody(&app, &campaign, "u1").await, ("campaign_not_running".into(), json!(start / 1000)));
});

backend_test!(a_campaign_that_starts_later_names_no_time_when_nothing_could_be_called_then, async {
    let app = TestApp::spawn().await;
    let start = (now_secs() + 3600) * 1000;
    // Nobody on the list: nothing becomes callable at the start.
    let (empty, _) = running(&app, json!({"start_time": start}), &[]).await;
    assert_eq!(nobody(&app, &empty, "u1").await, ("campaign_not_running".into(), Value::Null));
    let (_, stats) = app.get(&format!("/v1/campaign/{empty}/stats")).await;
    assert_eq!(stats["data"]["next_eligible_at"], Value::Null, "{stats}");
    // The only phone on the account's do-not-call list for good: nor here.
    let (blocked, ids) = also_running(&app, "Blocked", json!({"start_time": start}), &[&[7]]).await;
    let (s, body) = app.post("/v1/dnc", json!({"phones": [vn(7)]})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(nobody(&app, &blocked, "u1").await, ("campaign_not_running".into(), Value::Null));
    let (_, stats) = app.get(&format!("/v1/campaign/{blocked}/stats")).await;
    assert_eq!(stats["data"]["next_eligible_at"], Value::Null, "{stats}");
    assert_eq!(explain(&app, ids[0], Some("u1")).await["next_eligible_at"], Value::Null);
    // Listed after the load until an hour after the start: callable then.
    let until = start / 1000 + 3600;
    let (later, ids) = also_running(&app, "Later", json!({"start_time": start}), &[&[8]]).await;
    let (s, body) = app.post("/v1/dnc", json!({"phones": [vn(8)], "expires_at": until})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(nobody(&app, &later, "u1").await, ("campaign_not_running".into(), json!(until)));
    let (_, stats) = app.get(&format!("/v1/campaign/{later}/stats")).await;
    assert_eq!(stats["data"]["next_eligible_at"], until, "{stats}");
    assert_eq!(explain(&app, ids[0], Some("u1")).await["next_eligible_at"], until);
    // Every customer's call made: nobody is left at the start.
    let (done, _) = also_running(&app, "Done", json!({}), &[&[9]]).await;
    let (id, claim_id, _) = claim(&app, &done, "u1").await;
    reported(&app, id, &claim_id, "success", json!({})).await;
    let (s, body) = app.put(&format!("/v1/campaign/{done}"), json!({"start_time": start})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(nobody(&app, &done, "u1").await, ("campaign_not_running".into(), Value::Null));
    // A claim whose lease ends before the start gives its customer back by then.
    let (held, _) = also_running(&app, "Held", json!({"claim_lease_seconds": 60}), &[&[10]]).await;
    claim(&app, &held, "u1").await;
    let (s, body) = app.put(&format!("/v1/campaign/{held}"), json!({"start_time": start})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(nobody(&app, &held, "u2").await, ("campaign_not_running".into(), json!(start / 1000)));
    let (_, stats) = app.get(&format!("/v1/campaign/{held}/stats")).await;
    assert_eq!(stats["data"]["next_eligible_at"], start / 1000, "{stats}");
});

backend_test!(lifecycle_moves_refuse_naming_the_status, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Moves").await;
    let path = |step: &str| format!("/v1/campaign/{campaign}/{step}");
    for (step, status, msg) in [
        ("start", 409, format!("campaign {campaign} is new; start needs it approved or paused")),
        ("pause", 409, format!("campaign {campaign} is new; pause needs it running")),
    ] {
        let (s, body) = app.post(&path(step), json!({})).await;
        assert_eq!((s, body), (status, error(7, &msg)));
    }
    let (s, body) = app.post(&path("complete"), json!({})).await;
    assert_eq!(s, 200, "complete works from any status: {body}");
    assert_eq!(body["data"]["status"], 4);
    // The answer is the campaign as GET shows it, its agents and groups included.
    let (_, shown) = app.get(&format!("/v1/campaign/{campaign}")).await;
    assert_eq!(body["data"], shown["data"]);
    assert_eq!((&body["data"]["agent"], &body["data"]["group"]), (&json!([]), &json!([])), "{body}");
    let (s, body) = app.post(&path("approve"), json!({})).await;
    assert_eq!((s, body), (409, error(7, &format!("campaign {campaign} is completed; approve needs it new"))));
    let (s, body) = app.post(&path("complete"), json!({})).await;
    assert_eq!(
        (s, body),
        (409, error(7, &format!("campaign {campaign} is completed; complete needs it not completed")))
    );
    let (s, body) = app.post("/v1/campaign/CA000000/start", json!({})).await;
    assert_eq!((s, body), (404, error(3, "campaign 'CA000000' not found")));
    // Made with its end past, a campaign with customers is refused before it has an id.
    let past = json!({"name": "Late", "end_time": (now_secs() - 60) * 1000, "listcontacts": contacts(&[&[1]])});
    let (s, body) = app.post("/v1/campaign", past).await;
    assert_eq!(
        (s, body),
        (
            409,
            error(
                7,
                "end_time has passed: the campaign would be completed, and a completed campaign takes no customers"
            )
        )
    );
    let (_, listed) = app.get("/v1/campaign?name=Late").await;
    assert_eq!(listed["data"]["totalCount"], 0, "nothing was made: {listed}");
    // A completed campaign takes no more customers, by any path.
    let (s, body) =
        app.post("/v1/customcampaign", json!({"campaign": campaign, "listcontacts": contacts(&[&[1]])})).await;
    assert_eq!((s, body["r"].clone()), (409, json!(7)), "{body}");
    let (s, body) =
        app.post("/v1/customcampaign/add-by-phones", json!({"campaign_id": campaign, "phones": [vn(1)]})).await;
    assert_eq!((s, body["r"].clone()), (409, json!(7)), "{body}");
    // PUT never sets the status.
    let (_, body) = app.put(&format!("/v1/campaign/{campaign}"), json!({"status": 0, "name": "Renamed"})).await;
    assert_eq!(body["data"]["status"], 4, "{body}");
});

backend_test!(a_campaign_past_its_end_is_completed_and_live_claims_still_take_results, async {
    let app = TestApp::spawn().await;
    let end = (now_secs() + 3) * 1000;
    let (campaign, _) = running(&app, json!({"end_time": end}), &[&[1], &[2]]).await;
    let (id, claim_id, _) = claim(&app, &campaign, "u1").await;
    sleep(3.5).await;
    let (_, body) = app.get(&format!("/v1/campaign/{campaign}")).await;
    assert_eq!(body["data"]["status"], 4, "{body}");
    assert_eq!(nobody(&app, &campaign, "u1").await, ("campaign_not_running".into(), Value::Null));
    let after = reported(&app, id, &claim_id, "success", json!({})).await;
    assert_eq!(after["status"], 2);
    // Completed for good: a later end_time (or none) does not reopen it.
    for end_time in [json!(0), json!((now_secs() + 3600) * 1000)] {
        let (s, body) = app.put(&format!("/v1/campaign/{campaign}"), json!({"end_time": end_time})).await;
        assert_eq!((s, &body["data"]["status"]), (200, &json!(4)), "{body}");
        let (_, body) = app.get(&format!("/v1/campaign/{campaign}")).await;
        assert_eq!(body["data"]["status"], 4, "{body}");
        assert_eq!(nobody(&app, &campaign, "u1").await.0, "campaign_not_running");
        let (s, body) =
            app.post("/v1/customcampaign/add-by-phones", json!({"campaign_id": campaign, "phones": [vn(9)]})).await;
        assert_eq!((s, &body["r"]), (409, &json!(7)), "{body}");
        let (s, body) = app.post(&format!("/v1/campaign/{campaign}/start"), json!({})).await;
        assert_eq!((s, &body["r"]), (409, &json!(7)), "{body}");
    }
});

// end_time is in milliseconds, and a campaign ends at it, not at the next whole
// second: judged 100 ms after an end 300 ms into a second, it is over.
backend_test!(a_campaign_ends_at_its_end_time_to_the_millisecond, async {
    let app = TestApp::spawn().await;
    let end = (callsheet::domain::now_ms() / 1000 + 3) * 1000 + 300;
    let (campaign, _) = running(&app, json!({"end_time": end}), &[&[1], &[2]]).await;
    claim(&app, &campaign, "u1").await;
    let wait = end + 100 - callsheet::domain::now_ms();
    assert!(wait > 0, "setting up took past the end");
    tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
    let (_, body) = app.get(&format!("/v1/campaign/{campaign}")).await;
    assert_eq!(body["data"]["status"], 4, "{body}");
    assert_eq!(nobody(&app, &campaign, "u2").await, ("campaign_not_running".into(), Value::Null));
    let (s, body) = app.post(&format!("/v1/campaign/{campaign}/complete"), json!({})).await;
    assert_eq!((s, &body["r"]), (409, &json!(7)), "{body}");
});

backend_test!(each_outcome_sets_the_status_of_the_table, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) =
        running(&app, json!({"max_call_retry": 3}), &[&[1], &[2], &[3], &[4], &[5], &[6], &[7], &[8], &[9, 10], &[11]])
            .await;
    let soon = now_secs() + 3600;
    let cases: Vec<(&str, Value, i64, i64)> = vec![
        ("success", json!({}), 2, 0),
        ("callback", json!({"callback_time": soon}), 6, 0),
        ("busy", json!({}), 1, 0),
        ("no_answer", json!({}), 1, 0),
        ("failed", json!({}), 1, 0),
        ("error", json!({}), 3, 0),
        ("wrong_number", json!({}), 7, 0),
        ("do_not_call_back", json!({}), 8, 1),
        ("wrong_number", json!({}), 3, 0),
        ("dnc_request", json!({}), 8, 1),
    ];
    for (i, (outcome, extra, status, dnc)) in cases.into_iter().enumerate() {
        let (id, claim_id, phone) = claim(&app, &campaign, "u1").await;
        assert_eq!(id, ids[i]);
        let before = now_secs();
        let after = reported(&app, id, &claim_id, outcome, extra).await;
        assert_eq!(after["status"], status, "{outcome}: {after}");
        assert_eq!(after["do_not_call"], dnc, "{outcome}: {after}");
        assert_eq!(after["number_call_out"], 1, "{outcome}: every result counts one call");
        assert!(after["last_time_make_call"].as_i64().unwrap() >= before, "{after}");
        assert_eq!(row(&app, &campaign, id).await, after, "the answer is the row GET shows");
        if outcome == "callback" {
            assert_eq!(after["callback_time"], soon);
            assert_eq!(after["stringee_user_id_callback"], "u1", "USERONLY is the default");
        }
        if outcome == "dnc_request" {
            let (_, check) = app.get(&format!("/v1/dnc/check?phones={phone}")).await;
            assert_eq!(
                check["data"][&phone],
                json!({"dnc": true, "entries": [{"scope": "account", "campaign": null, "reason": "dnc_request", "expires_at": null}]})
            );
        }
    }
});

backend_test!(a_failed_call_is_retried_until_calls_run_out, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({"max_call_retry": 2, "time_between_two_call": 0}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    assert_eq!(reported(&app, id, &c1, "busy", json!({})).await["status"], 1);
    let (again, c2, _) = claim(&app, &campaign, "u2").await;
    assert_eq!(again, ids[0], "a retry with no delay is due at once");
    let after = reported(&app, id, &c2, "no_answer", json!({})).await;
    assert_eq!((after["status"].clone(), after["number_call_out"].clone()), (json!(7), json!(2)), "{after}");
    assert_eq!(nobody(&app, &campaign, "u1").await, ("list_empty".into(), Value::Null));
});

backend_test!(a_retry_waits_its_delay_and_says_when, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({"time_between_two_call": 10}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let before = now_secs();
    reported(&app, id, &c1, "busy", json!({})).await;
    let (reason, next) = nobody(&app, &campaign, "u1").await;
    assert_eq!(reason, "nothing_due");
    let next = next.as_i64().unwrap();
    assert!((before + 600..=now_secs() + 600).contains(&next), "10 minutes after the call: {next}");
    let why = explain(&app, id, Some("u1")).await;
    assert_eq!(why["callable"], false);
    assert_eq!(why["reasons"], json!(["retry_not_due"]));
    assert_eq!(why["next_eligible_at"], next);
    // Its one phone listed for good: the retry's clock no longer makes it callable.
    app.post("/v1/dnc", json!({"phones": [vn(1)]})).await;
    let why = explain(&app, id, Some("u1")).await;
    assert_eq!(why["reasons"], json!(["retry_not_due", "no_callable_phone"]));
    assert_eq!(why["next_eligible_at"], Value::Null, "{why}");
});

backend_test!(retry_rules_replace_the_delay_and_cap_an_outcome, async {
    let app = TestApp::spawn().await;
    // A delay long enough that a loaded machine still asks before it ends.
    let rules = json!([{"outcome": "busy", "delay_seconds": 3, "max_attempts": 2}]);
    let (campaign, _) = running(&app, json!({"max_call_retry": 5, "retry_rules": rules}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    assert_eq!(reported(&app, id, &c1, "busy", json!({})).await["status"], 1);
    assert_eq!(nobody(&app, &campaign, "u1").await.0, "nothing_due");
    sleep(3.5).await;
    let (_, c2, _) = claim(&app, &campaign, "u1").await;
    let after = reported(&app, id, &c2, "busy", json!({})).await;
    assert_eq!(after["status"], 7, "two busy calls are this outcome's cap: {after}");
    let (_, body) = app.get(&format!("/v1/campaign/{campaign}")).await;
    assert_eq!(body["data"]["retry_rules"], rules, "the campaign returns its rules");
    // One rule sent as an object is a list of one, as a listcontacts entry is.
    let one = json!({"outcome": "no_answer", "delay_seconds": 60, "max_attempts": 0});
    let (s, body) = app.put(&format!("/v1/campaign/{campaign}"), json!({"retry_rules": one})).await;
    assert_eq!((s, &body["data"]["retry_rules"]), (200, &json!([one])), "{body}");
    let (s, body) = app.put(&format!("/v1/campaign/{campaign}"), json!({"retry_rules": "busy"})).await;
    assert_eq!((s, body), (400, error(1, "retry_rules must be a list of objects")));
    // Numbered entries with gaps, as PHP sends an array after array_filter: in a
    // form, and as json_encode writes it.
    let path = format!("/v1/campaign/{campaign}");
    let busy = json!({"outcome": "busy", "delay_seconds": 600, "max_attempts": 0});
    let failed = json!({"outcome": "failed", "delay_seconds": 60, "max_attempts": 0});
    let error_rule = json!({"outcome": "error", "delay_seconds": 5, "max_attempts": 0});
    let form = |pairs: &[(&str, &str)]| Body::Form(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    for body in [
        form(&[
            ("retry_rules[1][outcome]", "busy"),
            ("retry_rules[1][delay_seconds]", "600"),
            ("retry_rules[3][outcome]", "failed"),
            ("retry_rules[3][delay_seconds]", "60"),
        ]),
        Body::Json(json!({"retry_rules": {"1": busy, "3": failed}})),
        form(&[("retry_rules", &json!({"1": busy, "3": failed}).to_string())]),
    ] {
        let (s, body) = app.send(Method::PUT, &path, Some(&app.tenant.token), body).await;
        assert_eq!((s, &body["data"]["retry_rules"]), (200, &json!([busy, failed])), "{body}");
    }
    // In the order of their numbers, not of their fields.
    let body = form(&[
        ("retry_rules[5][outcome]", "busy"),
        ("retry_rules[5][delay_seconds]", "600"),
        ("retry_rules[2][outcome]", "error"),
        ("retry_rules[2][delay_seconds]", "5"),
    ]);
    let (s, body) = app.send(Method::PUT, &path, Some(&app.tenant.token), body).await;
    assert_eq!((s, &body["data"]["retry_rules"]), (200, &json!([error_rule, busy])), "{body}");
});

backend_test!(a_callback_goes_to_its_agent_then_to_anyone_after_the_grace, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({"callback_grace_seconds": 5}), &[&[1], &[2]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    reported(&app, id, &c1, "callback", json!({"callback_time": now_secs() - 1})).await;
    // A callback due now is u1's own: u2 gets the next new customer, u1 its callback.
    let (other, c2, _) = claim(&app, &campaign, "u2").await;
    assert_eq!(other, ids[1]);
    reported(&app, other, &c2, "success", json!({})).await;
    let why = explain(&app, id, Some("u2")).await;
    assert_eq!(why["reasons"], json!(["callback_other_agent"]), "{why}");
    assert_eq!(explain(&app, id, None).await["callable"], true, "judged for the callback's owner");
    assert_eq!(nobody(&app, &campaign, "u2").await.0, "nothing_due");
    sleep(5.5).await;
    let (late, _, _) = claim(&app, &campaign, "u2").await;
    assert_eq!(late, id, "past its grace another agent may take it");
});

backend_test!(a_callback_whose_agent_left_the_campaign_counts_for_the_others_after_the_grace, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({"callback_grace_seconds": 500}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let due = now_secs() - 100;
    reported(&app, id, &c1, "callback", json!({"callback_time": due})).await;
    // u1 leaves the campaign: only u2 works it, and u2 gets the callback after the grace.
    let (s, body) = app.put(&format!("/v1/campaign/{campaign}"), json!({"agent": [agent_id(&app, "u2").await]})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(nobody(&app, &campaign, "u2").await, ("nothing_due".to_string(), json!(due + 500)));
    let (_, stats) = app.get(&format!("/v1/campaign/{campaign}/stats")).await;
    let stats = &stats["data"];
    assert_eq!((&stats["callable_now"], &stats["next_eligible_at"]), (&json!(0), &json!(due + 500)), "{stats}");
});

// A USERONLY callback belongs to the agent, not to its stringee_user_id: a rename
// takes it along (also one between the hand-out and the result), a delete makes it
// anyone's, and an agent that later takes the old name inherits nothing.
backend_test!(a_callback_follows_its_agent_through_a_rename_and_is_anyones_after_a_delete, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({"callback_grace_seconds": 3600}), &[&[1], &[2], &[3]]).await;
    let u1 = agent_id(&app, "u1").await;
    let (a, ca, _) = claim(&app, &campaign, "u1").await;
    reported(&app, a, &ca, "callback", json!({"callback_time": now_secs() + 600})).await;
    // Renamed between a hand-out and its result: the callback is the agent's new name's.
    let (b, cb, _) = claim(&app, &campaign, "u1").await;
    assert_eq!(b, ids[1]);
    let (s, body) = app.put(&format!("/v1/agent/{u1}"), json!({"stringee_user_id": "lan"})).await;
    assert_eq!(s, 200, "{body}");
    let after = reported(&app, b, &cb, "callback", json!({"callback_time": now_secs() - 1})).await;
    assert_eq!(after["stringee_user_id_callback"], "lan", "{after}");
    assert_eq!(row(&app, &campaign, a).await["stringee_user_id_callback"], "lan");
    // Someone new takes the old name: it gets the next new customer, not the callbacks.
    let (s, body) = app.post("/v1/agent", json!({"name": "New", "stringee_user_id": "u1"})).await;
    assert_eq!(s, 200, "{body}");
    let newcomer = body["agentID"].as_str().unwrap().to_string();
    let (s, body) = app.post("/v1/campagent", json!({"campaign": campaign, "agent": [newcomer]})).await;
    assert_eq!(s, 200, "{body}");
    let managed = |user: &'static str| {
        let app = &app;
        let body = json!({"campaign": campaign, "stringee_user_id": user});
        async move {
            let (s, body) = app.post("/v1/customcampaign/findcustomermanager", body).await;
            assert_eq!(s, 200, "{body}");
            body["resFromPccApi"]["data"]["totalCount"].clone()
        }
    };
    assert_eq!(managed("u1").await, "0");
    let (next, _, _) = claim(&app, &campaign, "u1").await;
    assert_eq!(next, ids[2]);
    assert_eq!(managed("lan").await, "2");
    let (mine, _, _) = claim(&app, &campaign, "lan").await;
    assert_eq!(mine, b, "its own due callback");
    // Deleted, its callback not yet due is anyone's: no grace to wait out once due.
    let (s, body) = app.delete(&format!("/v1/agent/{u1}")).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(row(&app, &campaign, a).await["stringee_user_id_callback"], json!(null));
    assert_eq!(explain(&app, a, Some("u2")).await["reasons"], json!(["callback_not_due"]));
});

// A callback that is called back is used: the result of that call leaves the
// customer no callback time and no owner, whatever its outcome (a new callback
// sets its own).
backend_test!(a_callback_called_back_leaves_no_callback_behind, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({"max_call_retry": 5, "time_between_two_call": 0}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let due = now_secs() - 1;
    let after = reported(&app, id, &c1, "callback", json!({"callback_time": due})).await;
    assert_eq!((&after["callback_time"], &after["stringee_user_id_callback"]), (&json!(due), &json!("u1")));
    for (outcome, status) in [("busy", 1), ("callback", 6), ("success", 2)] {
        let (again, c, _) = claim(&app, &campaign, "u1").await;
        assert_eq!(again, id);
        let extra = if outcome == "callback" { json!({"callback_time": due}) } else { json!({}) };
        let after = reported(&app, id, &c, outcome, extra).await;
        let expected = if outcome == "callback" { (json!(due), json!("u1")) } else { (json!(0), Value::Null) };
        assert_eq!(after["status"], status, "{outcome}: {after}");
        assert_eq!((after["callback_time"].clone(), after["stringee_user_id_callback"].clone()), expected, "{outcome}");
        assert_eq!(row(&app, &campaign, id).await, after, "the answer is the row GET shows");
    }
});

// A callback not yet due whose agent has left the campaign: the stats wait for its
// grace, as no assigned agent could take it at its time; while its agent works the
// campaign, its time.
backend_test!(stats_wait_out_the_grace_of_a_callback_whose_agent_left, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({"callback_grace_seconds": 500}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let at = now_secs() + 1000;
    reported(&app, id, &c1, "callback", json!({"callback_time": at})).await;
    let stats_next = || async {
        let (_, stats) = app.get(&format!("/v1/campaign/{campaign}/stats")).await;
        (stats["data"]["callable_now"].clone(), stats["data"]["next_eligible_at"].clone())
    };
    assert_eq!(stats_next().await, (json!(0), json!(at)), "its agent works the campaign");
    let (s, body) = app.put(&format!("/v1/campaign/{campaign}"), json!({"agent": [agent_id(&app, "u2").await]})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(stats_next().await, (json!(0), json!(at + 500)), "only others work it now");
    assert_eq!(nobody(&app, &campaign, "u2").await, ("nothing_due".to_string(), json!(at + 500)));
});

backend_test!(a_campaign_nobody_works_has_no_next_eligible_time, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[&[1]]).await;
    claim(&app, &campaign, "u1").await;
    let (s, body) = app.put(&format!("/v1/campaign/{campaign}"), json!({"agent": []})).await;
    assert_eq!((s, &body["data"]["agent"]), (200, &json!([])), "{body}");
    let (_, stats) = app.get(&format!("/v1/campaign/{campaign}/stats")).await;
    let stats = &stats["data"];
    let got = (&stats["claimed"], &stats["callable_now"], &stats["next_eligible_at"]);
    assert_eq!(got, (&json!(1), &json!(0), &Value::Null), "the lease's end makes nobody callable: {stats}");
});

backend_test!(an_anyone_callback_is_handed_out_before_new_customers, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({}), &[&[1], &[2], &[3]]).await;
    let (first, c1, _) = claim(&app, &campaign, "u1").await;
    let after =
        reported(&app, first, &c1, "callback", json!({"callback_time": now_secs() - 5, "callback_scope": "ANYONE"}))
            .await;
    assert_eq!(after["stringee_user_id_callback"], Value::Null);
    let (next, _, _) = claim(&app, &campaign, "u2").await;
    assert_eq!(next, ids[0], "a due callback comes before new customers");
});

backend_test!(a_callback_needs_its_time_and_bad_values_change_nothing, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let cases = [
        ("callback", json!({}), 400, error(2, "missing callback_time")),
        (
            "hangup",
            json!({}),
            400,
            error(
                1,
                "outcome 'hangup' is not one of success, callback, busy, no_answer, failed, error, wrong_number, do_not_call_back, dnc_request",
            ),
        ),
        (
            "callback",
            json!({"callback_time": now_secs(), "callback_scope": "TEAM"}),
            400,
            error(1, "callback_scope must be USERONLY or ANYONE, not 'TEAM'"),
        ),
        (
            "success",
            json!({"phone": vn(2)}),
            400,
            error(1, &format!("phone {} is not the claim's phone {}", stored(2), stored(1))),
        ),
        ("success", json!({"phone": "12"}), 400, error(1, "phone '12' is not a valid phone number")),
    ];
    for (outcome, extra, status, answer) in cases {
        let (s, body) = report(&app, id, &c1, outcome, extra).await;
        assert_eq!((s, body), (status, answer), "{outcome}");
    }
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/result"), json!({"claim_id": c1})).await;
    assert_eq!((s, body), (400, error(2, "missing outcome")));
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/result"), json!({"outcome": "success"})).await;
    assert_eq!((s, body), (400, error(2, "missing claim_id")));
    let (s, body) = report(&app, id, "CL00000000", "success", json!({})).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)), "{body}");
    let (s, body) = report(&app, id + 1000, &c1, "success", json!({})).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)), "a claim on another customer: {body}");
    assert_eq!(row(&app, &campaign, id).await["status"], 5, "the refused results ended nothing");
    let after = reported(&app, id, &c1, "success", json!({"phone": vn(1), "call_id": "call-1", "duration": 42})).await;
    assert_eq!(after["status"], 2);
});

backend_test!(a_result_sent_again_answers_the_first_answer_and_changes_nothing, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let (s, first) = app
        .send_raw(
            Method::POST,
            &format!("/v1/customcampaign/{id}/result"),
            Some(&app.tenant.token),
            Body::Json(json!({"claim_id": c1, "outcome": "busy"})),
        )
        .await;
    assert_eq!(s, 200);
    for again in [
        json!({"claim_id": c1, "outcome": "success"}),
        json!({"claim_id": c1, "outcome": "nonsense"}),
        json!({"claim_id": c1, "outcome": "callback"}),
    ] {
        let (s, replay) = app
            .send_raw(
                Method::POST,
                &format!("/v1/customcampaign/{id}/result"),
                Some(&app.tenant.token),
                Body::Json(again),
            )
            .await;
        assert_eq!((s, &replay), (200, &first), "byte for byte the first answer");
    }
    let now = row(&app, &campaign, id).await;
    assert_eq!((now["status"].clone(), now["number_call_out"].clone()), (json!(1), json!(1)), "{now}");
    let results = history(&app, id).await.into_iter().filter(|h| h["event"] == "result").count();
    assert_eq!(results, 1);
});

backend_test!(concurrent_results_for_one_claim_count_one_call, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let sends = (0..8).map(|i| {
        let outcome = if i % 2 == 0 { "busy" } else { "success" };
        report(&app, id, &c1, outcome, json!({}))
    });
    let answers = futures_util::future::join_all(sends).await;
    let first = &answers[0].1;
    for (s, body) in &answers {
        assert_eq!((*s, body), (200, first), "every answer is the one accepted");
    }
    assert_eq!(row(&app, &campaign, id).await["number_call_out"], 1);
});

backend_test!(a_lease_that_runs_out_gives_the_customer_back_uncounted, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({"claim_lease_seconds": 1}), &[&[1]]).await;
    let before = row(&app, &campaign, ids[0]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    // The lease ends at a whole second 1 to 2 s after the claim; within 2 s of that
    // GET shows the customer as it was, with no request to wake it.
    sleep(3.6).await;
    assert_eq!(row(&app, &campaign, id).await, before);
    let (again, c2, _) = claim(&app, &campaign, "u2").await;
    assert_eq!(again, id);
    let (s, body) = report(&app, id, &c1, "success", json!({})).await;
    assert_eq!(s, 409, "handed out since: {body}");
    assert_eq!(body["r"], 7);
    reported(&app, id, &c2, "success", json!({})).await;
    let events: Vec<Value> = history(&app, id).await.iter().map(|h| h["event"].clone()).collect();
    assert_eq!(events, json!(["added", "claimed", "expired", "claimed", "result"]).as_array().unwrap().clone());
});

backend_test!(a_result_on_an_expired_claim_is_accepted_while_nobody_else_has_it, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({"claim_lease_seconds": 1}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    sleep(2.5).await;
    let after = reported(&app, id, &c1, "no_answer", json!({})).await;
    assert_eq!((after["status"].clone(), after["number_call_out"].clone()), (json!(1), json!(1)));
});

backend_test!(a_result_on_an_expired_claim_is_refused_once_the_customer_was_stopped_since, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({"claim_lease_seconds": 1}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    sleep(2.5).await;
    let refused = error(7, &format!("claim '{c1}' expired and customer {id} has been stopped since"));
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/stop"), json!({})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(report(&app, id, &c1, "success", json!({})).await, (409, refused.clone()));
    // Resumed, it was still stopped since the call: the result is refused all the same.
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/resume"), json!({})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(report(&app, id, &c1, "success", json!({})).await, (409, refused));
    assert_eq!(row(&app, &campaign, id).await["number_call_out"], 0, "nothing counted");
});

backend_test!(release_gives_the_customer_back_at_once_and_only_once, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({}), &[&[1]]).await;
    let before = row(&app, &campaign, ids[0]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/release"), json!({"claim_id": c1})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"], before);
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/release"), json!({"claim_id": c1})).await;
    assert_eq!((s, body), (409, error(7, &format!("claim '{c1}' is no longer live"))));
    let (s, body) = report(&app, id, &c1, "success", json!({})).await;
    assert_eq!((s, body), (409, error(7, &format!("claim '{c1}' was released"))));
    let (again, _, _) = claim(&app, &campaign, "u2").await;
    assert_eq!(again, id);
    let h = history(&app, id).await;
    assert_eq!(h[2]["event"], "released");
    assert_eq!(h[2]["actor"], "u1");
    assert_eq!(h[2]["claim_id"], c1);
});

backend_test!(stop_and_resume_keep_a_customer_off_the_line_and_back, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({"time_between_two_call": 0}), &[&[1], &[2]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/stop"), json!({})).await;
    assert_eq!((s, body["r"].clone()), (409, json!(7)), "a live claim holds it: {body}");
    let (s, body) = app.delete(&format!("/v1/customcampaign/{id}")).await;
    assert_eq!((s, body["r"].clone()), (409, json!(7)), "{body}");
    reported(&app, id, &c1, "busy", json!({})).await;
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/stop"), json!({})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["status"], 4);
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/stop"), json!({})).await;
    assert_eq!((s, body), (409, error(7, &format!("customer {id} is stopped already"))));
    let (next, c2, _) = claim(&app, &campaign, "u1").await;
    assert_eq!(next, ids[1], "a stopped customer is never handed out");
    reported(&app, next, &c2, "success", json!({})).await;
    assert_eq!(explain(&app, id, Some("u1")).await["reasons"], json!(["stopped"]));
    assert_eq!(nobody(&app, &campaign, "u1").await.0, "list_empty", "stopped customers count as done");
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/resume"), json!({})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["status"], 1, "the status it had");
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/resume"), json!({})).await;
    assert_eq!((s, body), (409, error(7, &format!("customer {id} is not stopped"))));
    assert_eq!(claim(&app, &campaign, "u1").await.0, id);
    let (s, body) = app.post("/v1/customcampaign/999999/stop", json!({})).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)));
});

backend_test!(the_phone_with_fewest_calls_is_chosen_and_wrong_numbers_never_again, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({"time_between_two_call": 0, "max_call_retry": 5}), &[&[1, 2, 3]]).await;
    let (id, c1, p1) = claim(&app, &campaign, "u1").await;
    assert_eq!(p1, stored(1));
    reported(&app, id, &c1, "busy", json!({})).await;
    let (_, c2, p2) = claim(&app, &campaign, "u1").await;
    assert_eq!(p2, stored(2), "the fewest calls, ties by list order");
    assert_eq!(reported(&app, id, &c2, "wrong_number", json!({})).await["status"], 3);
    let (_, c3, p3) = claim(&app, &campaign, "u1").await;
    assert_eq!(p3, stored(3));
    reported(&app, id, &c3, "busy", json!({})).await;
    let (_, c4, p4) = claim(&app, &campaign, "u1").await;
    assert_eq!(p4, stored(1), "{p4}: 2 is wrong, 1 and 3 have one call each");
    reported(&app, id, &c4, "busy", json!({})).await;
    let why = explain(&app, id, Some("u1")).await;
    let wrong = why["phones"].as_array().unwrap().iter().find(|p| p["phone"] == stored(2)).unwrap().clone();
    assert_eq!(wrong, json!({"phone": stored(2), "callable": false, "reasons": ["wrong_number"]}));
});

backend_test!(a_phone_listed_after_the_load_is_never_called, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({}), &[&[1], &[2, 3]]).await;
    let (s, body) = app.post("/v1/dnc", json!({"phones": [vn(1), vn(2)]})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"], json!({"total": 2, "added": 2, "skipped": 0, "invalid": 0, "invalid_phones": []}));
    let (id, _, phone) = claim(&app, &campaign, "u1").await;
    assert_eq!((id, phone.as_str()), (ids[1], stored(3).as_str()), "the listed phones are passed over");
    let why = explain(&app, ids[0], Some("u1")).await;
    assert_eq!(why["callable"], false);
    assert_eq!(why["reasons"], json!(["no_callable_phone"]));
    assert_eq!(why["phones"], json!([{"phone": stored(1), "callable": false, "reasons": ["dnc_account"]}]));
    assert_eq!(why["next_eligible_at"], Value::Null, "an entry with no expiry never ends");
});

backend_test!(a_campaign_list_blocks_that_campaign_only_and_expired_entries_nothing, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({}), &[&[1], &[2]]).await;
    let other = app.create_campaign("Other").await;
    let (_, body) = app.post("/v1/dnc", json!({"phones": [vn(1)], "campaign": campaign, "reason": "asked"})).await;
    assert_eq!(body["data"]["added"], 1, "{body}");
    let soon = now_secs() + 2;
    let (_, body) = app.post("/v1/dnc", json!({"phones": [vn(2)], "expires_at": soon})).await;
    assert_eq!(body["data"]["added"], 1);
    let (_, body) = app.post("/v1/dnc", json!({"phones": [vn(1), "abc"], "campaign": campaign})).await;
    assert_eq!(body["data"], json!({"total": 2, "added": 0, "skipped": 1, "invalid": 1, "invalid_phones": ["abc"]}));
    let (reason, next) = nobody(&app, &campaign, "u1").await;
    assert_eq!(reason, "nothing_due");
    assert_eq!(next, json!(soon), "the entry's expiry is the next clock");
    let (_, check) = app.get(&format!("/v1/dnc/check?phones={},{}&campaign={campaign}", vn(1), vn(2))).await;
    assert_eq!(check["data"][stored(1)]["dnc"], true);
    assert_eq!(
        check["data"][stored(1)]["entries"],
        json!([{"scope": "campaign", "campaign": campaign, "reason": "asked", "expires_at": null}])
    );
    let (_, check) = app.get(&format!("/v1/dnc/check?phones={}", vn(1))).await;
    assert_eq!(check["data"][stored(1)], json!({"dnc": false, "entries": []}), "the account's list only");
    let (_, check) = app.get(&format!("/v1/dnc/check?phones={}&campaign={other}", vn(1))).await;
    assert_eq!(check["data"][stored(1)]["dnc"], false);
    sleep(2.5).await;
    let (id, _, _) = claim(&app, &campaign, "u1").await;
    assert_eq!(id, ids[1], "an expired entry blocks nothing");
    let (_, check) = app.get(&format!("/v1/dnc/check?phones={}", vn(2))).await;
    assert_eq!(check["data"][stored(2)]["dnc"], false, "{check}");
    assert_eq!(check["data"][stored(2)]["entries"][0]["expires_at"], soon, "still listed");
    // An expired entry is replaced by a new one, counted in added.
    let (_, body) = app.post("/v1/dnc", json!({"phones": [vn(2)]})).await;
    assert_eq!(body["data"]["added"], 1, "{body}");
});

backend_test!(dnc_lists_and_deletes_by_scope, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Scoped").await;
    app.post("/v1/dnc", json!({"phones": [vn(1), vn(2)]})).await;
    app.post("/v1/dnc", json!({"phones": [vn(1)], "campaign": campaign})).await;
    let (_, all) = app.get("/v1/dnc").await;
    assert_eq!(all["data"]["totalCount"], 3, "{all}");
    let (_, one) = app.get(&format!("/v1/dnc?campaign={campaign}")).await;
    let rows = one["data"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    let created = rows[0]["created"].as_i64().unwrap();
    assert_eq!(
        rows[0],
        json!({"phone": stored(1), "scope": "campaign", "campaign": campaign, "reason": "manual", "expires_at": null, "created": created})
    );
    let (_, by_phone) = app.get(&format!("/v1/dnc?phone={}", vn(1))).await;
    assert_eq!(by_phone["data"]["totalCount"], 2);
    let (s, body) =
        app.send(Method::DELETE, "/v1/dnc", Some(&app.tenant.token), Body::Json(json!({"phones": [vn(1)]}))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["deleted"], 1, "the account's entry only");
    let (_, all) = app.get("/v1/dnc").await;
    assert_eq!(all["data"]["totalCount"], 2);
    let (s, body) = app
        .send(
            Method::DELETE,
            "/v1/dnc",
            Some(&app.tenant.token),
            Body::Json(json!({"phones": [vn(1)], "campaign": campaign})),
        )
        .await;
    assert_eq!((s, body["data"]["deleted"].clone()), (200, json!(1)));
    let (s, body) = app.post("/v1/dnc", json!({"phones": [vn(1)], "campaign": "CA000000"})).await;
    assert_eq!((s, body), (404, error(3, "campaign 'CA000000' not found")));
    let (s, body) = app.post("/v1/dnc", json!({})).await;
    assert_eq!((s, body), (400, error(2, "missing phones")));
    let (s, body) = app.get("/v1/dnc/check").await;
    assert_eq!((s, body), (400, error(2, "missing phones")));
});

backend_test!(a_campaigns_own_do_not_call_entries_go_with_it, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Going").await;
    let other = app.create_campaign("Staying").await;
    app.post("/v1/dnc", json!({"phones": [vn(1)]})).await;
    app.post("/v1/dnc", json!({"phones": [vn(1), vn(2)], "campaign": campaign})).await;
    app.post("/v1/dnc", json!({"phones": [vn(2)], "campaign": other})).await;
    let (s, _) = app.delete(&format!("/v1/campaign/{campaign}")).await;
    assert_eq!(s, 200);
    let (_, all) = app.get("/v1/dnc").await;
    let left: Vec<_> =
        all["data"]["rows"].as_array().unwrap().iter().map(|r| (r["phone"].clone(), r["campaign"].clone())).collect();
    assert_eq!(left, [(json!(stored(1)), json!(null)), (json!(stored(2)), json!(other))], "{all}");
});

backend_test!(customers_whose_every_phone_is_listed_are_added_as_do_not_call, async {
    let app = TestApp::spawn().await;
    app.post("/v1/dnc", json!({"phones": [vn(1), vn(2), vn(6)]})).await;
    let campaign = app.create_campaign("Listed").await;
    let (s, body) = app
        .post("/v1/customcampaign", json!({"campaign": campaign, "listcontacts": contacts(&[&[1], &[2, 3], &[4]])}))
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["summary"]["dnc"], 1, "{body}");
    let r = rows(&app, &campaign).await;
    assert_eq!((r[0]["status"].clone(), r[0]["do_not_call"].clone()), (json!(8), json!(1)));
    assert_eq!(r[1]["status"], 0, "one phone is still callable");
    let (_, body) =
        app.post("/v1/customcampaign/add-by-phones", json!({"campaign_id": campaign, "phones": [vn(6), vn(5)]})).await;
    assert_eq!(body["data"]["dnc"], 1, "{body}");
    // Deleting the entry does not reopen a customer marked at load.
    app.send(Method::DELETE, "/v1/dnc", Some(&app.tenant.token), Body::Json(json!({"phones": [vn(1)]}))).await;
    assert_eq!(row(&app, &campaign, r[0]["id"].as_i64().unwrap()).await["status"], 8);
});

backend_test!(dnc_import_reads_a_file_of_phones, async {
    let app = TestApp::spawn().await;
    let csv = format!("name,phone\nA,{}\nB,{}\nC,nope\nD,{}\n", vn(1), vn(2), vn(1));
    let (s, body) = app
        .send(
            Method::POST,
            "/v1/dnc/import",
            Some(&app.tenant.token),
            Body::Upload(crate::common::pairs(&[("reason", "complaint")]), "dnc.csv", csv.into_bytes()),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let data = &body["data"];
    // A repeated phone is one entry, reported as skipped; a row without a phone is invalid.
    let counts = (data["added"].clone(), data["skipped"].clone(), data["invalid"].clone());
    assert_eq!(counts, (json!(2), json!(1), json!(1)), "{data}");
    assert_eq!(data["invalid_rows"].as_array().unwrap().len(), 1, "{data}");
    // Every phone of every row is listed, whatever row repeats another's.
    let csv = format!("name,phone\nA,\"{}, {}\"\nB,\"{}, {}\"\n", vn(3), vn(4), vn(4), vn(5));
    let (s, body) = app
        .send(
            Method::POST,
            "/v1/dnc/import",
            Some(&app.tenant.token),
            Body::Upload(crate::common::pairs(&[]), "dnc.csv", csv.into_bytes()),
        )
        .await;
    assert_eq!((s, &body["data"]["added"], &body["data"]["skipped"]), (200, &json!(3), &json!(1)), "{body}");
    let (_, list) = app.get("/v1/dnc").await;
    assert_eq!(list["data"]["rows"][0]["reason"], "complaint");
    let (s, body) = app
        .send(
            Method::POST,
            "/v1/dnc/import",
            Some(&app.tenant.token),
            Body::Multipart(crate::common::pairs(&[("reason", "x")])),
        )
        .await;
    assert_eq!((s, body), (400, error(2, "missing file")));
});

backend_test!(outside_the_hours_nobody_is_called_and_the_reason_says_so, async {
    let app = TestApp::spawn().await;
    let closed = closed_now(&app).await;
    let (campaign, ids) = running(&app, json!({"businesshour": closed}), &[&[1]]).await;
    let (reason, next) = nobody(&app, &campaign, "u1").await;
    assert_eq!(reason, "outside_hours");
    assert!(next.as_i64().unwrap() > now_secs() + 86_400, "the hours open after the holidays: {next}");
    let why = explain(&app, ids[0], Some("u1")).await;
    assert_eq!(why["phones"][0]["reasons"], json!(["outside_hours"]));
    let open = always_open(&app).await;
    let (s, body) = app.put(&format!("/v1/campaign/{campaign}"), json!({"businesshour": open})).await;
    assert_eq!(s, 200, "{body}");
    claim(&app, &campaign, "u1").await;
    // A set a campaign uses cannot be deleted; one no campaign uses can.
    let (s, body) = app.delete(&format!("/v1/businesshour/{open}")).await;
    assert_eq!((s, body["r"].clone()), (409, json!(7)), "{body}");
    assert!(body["msg"].as_str().unwrap().contains(&campaign), "names the campaign: {body}");
    let (s, _) = app.delete(&format!("/v1/businesshour/{closed}")).await;
    assert_eq!(s, 200);
    // The campaign as GET shows it, sent back with businesshour null, is any hour again:
    // the set is free to delete. "" clears it as well; an absent field keeps it.
    let (_, shown) = app.get(&format!("/v1/campaign/{campaign}")).await;
    let mut edited = shown["data"].clone();
    edited["businesshour"] = json!(null);
    let (s, body) = app.put(&format!("/v1/campaign/{campaign}"), edited).await;
    assert_eq!((s, body["data"]["businesshour"].clone()), (200, json!(null)), "{body}");
    let (s, body) = app.delete(&format!("/v1/businesshour/{open}")).await;
    assert_eq!(s, 200, "{body}");
    let open = always_open(&app).await;
    app.put(&format!("/v1/campaign/{campaign}"), json!({"businesshour": open})).await;
    let (_, body) = app.put(&format!("/v1/campaign/{campaign}"), json!({"name": "renamed"})).await;
    assert_eq!(body["data"]["businesshour"], json!(open), "{body}");
    let (_, body) = app.put(&format!("/v1/campaign/{campaign}"), json!({"businesshour": ""})).await;
    assert_eq!(body["data"]["businesshour"], json!(null), "{body}");
});

backend_test!(callable_hours_are_kept_as_sent_and_presets_are_fixed, async {
    let app = TestApp::spawn().await;
    let (_, list) = app.get("/v1/businesshour").await;
    let presets = list["data"]["rows"].as_array().unwrap().clone();
    assert_eq!(presets.len(), 2, "{list}");
    assert_eq!(
        presets[0],
        json!({"id": presets[0]["id"], "name": "Vietnam advertising", "timezone": "Asia/Ho_Chi_Minh",
               "windows": [{"days": [1,2,3,4,5,6,7], "start": "08:00", "end": "17:00"}], "holidays": [], "preset": true})
    );
    assert_eq!(presets[1]["name"], "US TCPA");
    assert_eq!(presets[1]["windows"][0]["end"], "21:00");
    let preset = presets[0]["id"].as_i64().unwrap();
    let body = json!({"name": "Shop", "timezone": "Asia/Ho_Chi_Minh",
                      "windows": [{"days": [5,4,3,2,1], "start": "08:30", "end": "12:00"}, {"days": [6,6], "start": "09:00", "end": "24:00"}],
                      "holidays": ["2027-01-01"]});
    let (s, made) = app.post("/v1/businesshour", body.clone()).await;
    assert_eq!(s, 200, "{made}");
    let id = made["data"]["id"].as_i64().unwrap();
    let (_, got) = app.get(&format!("/v1/businesshour/{id}")).await;
    let mut expected = body.clone();
    expected["id"] = json!(id);
    expected["preset"] = json!(false);
    assert_eq!(got["data"], expected);
    let (s, body) = app.put(&format!("/v1/businesshour/{preset}"), body.clone()).await;
    assert_eq!((s, body["r"].clone()), (409, json!(7)), "{body}");
    let (s, body) = app.delete(&format!("/v1/businesshour/{preset}")).await;
    assert_eq!((s, body["r"].clone()), (409, json!(7)), "{body}");
    let bad = [
        (
            json!({"name": "x", "timezone": "Mars/Base", "windows": [{"days": [1], "start": "08:00", "end": "09:00"}]}),
            1,
        ),
        (json!({"name": "x", "timezone": "UTC", "windows": [{"days": [1], "start": "22:00", "end": "02:00"}]}), 1),
        (json!({"name": "x", "timezone": "UTC", "windows": [{"days": [8], "start": "08:00", "end": "09:00"}]}), 1),
        (json!({"name": "x", "timezone": "UTC", "windows": [{"days": [1], "start": "8am", "end": "09:00"}]}), 1),
        (
            json!({"name": "x", "timezone": "UTC", "windows": [{"days": [1], "start": "08:00", "end": "09:00"}], "holidays": ["tomorrow"]}),
            1,
        ),
        (json!({"name": "x", "timezone": "UTC"}), 2),
        (json!({"timezone": "UTC", "windows": [{"days": [1], "start": "08:00", "end": "09:00"}]}), 2),
    ];
    for (body, r) in bad {
        let (s, got) = app.post("/v1/businesshour", body.clone()).await;
        assert_eq!((s, got["r"].clone()), (400, json!(r)), "{body} -> {got}");
    }
    // An id that names no set is not found, whatever the number (0 and negatives too).
    for id in [999999, 0, -1] {
        let (s, got) = app.post("/v1/campaign", json!({"name": "x", "businesshour": id})).await;
        assert_eq!((s, &got["r"], &got["msg"]), (404, &json!(4), &json!(format!("callable-hours set {id} not found"))));
    }
    let made = app.create_campaign("y").await;
    let (s, got) = app.put(&format!("/v1/campaign/{made}"), json!({"businesshour": 0})).await;
    assert_eq!((s, &got["r"], &got["msg"]), (404, &json!(4), &json!("callable-hours set 0 not found")));
    let (s, got) = app.get("/v1/businesshour/999999").await;
    assert_eq!((s, got["r"].clone()), (404, json!(4)));
});

backend_test!(a_quota_stops_an_agent_for_the_day, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({"quota_type": 1, "quota_call_out": 5}), &[&[1], &[2], &[3], &[4]]).await;
    let (_, agents) = app.get("/v1/agent?stringee_user_id=u1").await;
    let a1 = agents["data"]["agents"][0]["id"].as_str().unwrap().to_string();
    let (s, body) = app
        .post(
            "/v1/campagent/setquota",
            json!({"agent_id": a1, "campaign": campaign, "quota_type": 1, "quota_call_out": 2}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let (_, c2, _) = claim(&app, &campaign, "u1").await;
    let (reason, next) = nobody(&app, &campaign, "u1").await;
    assert_eq!(reason, "quota_reached", "live claims count");
    // Under its quota again when the first live claim's lease (300 s) runs out, or at
    // the start of its next day if that comes first.
    let next = next.as_i64().unwrap();
    let (_, day_end) = callsheet::calling::hours::day_bounds("VN", now_secs());
    let lease_end = now_secs() + 300;
    if day_end > lease_end {
        assert!((lease_end - 10..=lease_end + 1).contains(&next), "the lease's end, not the next day: {next}");
    } else {
        assert!(next <= day_end, "{next}");
    }
    let why = explain(&app, id, Some("u1")).await;
    assert_eq!(why["next_eligible_at"], json!(next), "{why}");
    // A released hand-out does not count; an accepted result does.
    let _ = c2;
    let second = rows(&app, &campaign).await.into_iter().find(|r| r["status"] == 5 && r["id"] != id).unwrap();
    let (s, _) = app.post(&format!("/v1/customcampaign/{}/release", second["id"]), json!({"claim_id": c2})).await;
    assert_eq!(s, 200);
    reported(&app, id, &c1, "success", json!({})).await;
    claim(&app, &campaign, "u1").await;
    assert_eq!(nobody(&app, &campaign, "u1").await.0, "quota_reached");
    claim(&app, &campaign, "u2").await;
});

// An agent at its quota on a list nobody is left to call: the reason is the quota
// (it comes first), and no time, as tomorrow's quota calls nobody either.
backend_test!(a_quota_on_a_finished_list_gives_no_next_time, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({"quota_type": 1, "quota_call_out": 1}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let (reason, next) = nobody(&app, &campaign, "u1").await;
    assert_eq!(reason, "quota_reached");
    assert!(next.is_i64(), "the live claim's lease, or tomorrow: {next}");
    reported(&app, id, &c1, "success", json!({})).await;
    assert_eq!(nobody(&app, &campaign, "u1").await, ("quota_reached".to_string(), Value::Null));
    assert_eq!(nobody(&app, &campaign, "u2").await, ("list_empty".to_string(), Value::Null));
});

// At its quota, an agent is told when tomorrow's quota would find someone callable:
// never, when what is left cannot be called again (no calls left, stopped), though
// the list is not finished.
backend_test!(a_quota_on_a_list_with_nobody_callable_again_gives_no_next_time, async {
    let app = TestApp::spawn().await;
    let settings = json!({"quota_type": 1, "quota_call_out": 1, "max_call_retry": 2, "time_between_two_call": 0});
    let (campaign, ids) = running(&app, settings, &[&[1], &[2]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    assert_eq!(id, ids[0]);
    reported(&app, id, &c1, "busy", json!({})).await;
    let (reason, next) = nobody(&app, &campaign, "u1").await;
    assert_eq!(reason, "quota_reached");
    assert!(next.is_i64(), "tomorrow, when both are callable: {next}");
    let (s, body) = app
        .send(
            Method::PUT,
            &format!("/v1/campaign/{campaign}"),
            Some(&app.tenant.token),
            Body::Json(json!({"max_call_retry": 1})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = app.post(&format!("/v1/customcampaign/{}/stop", ids[1]), json!({})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(nobody(&app, &campaign, "u1").await, ("quota_reached".to_string(), Value::Null));
    assert_eq!(nobody(&app, &campaign, "u2").await, ("nothing_due".to_string(), Value::Null));
});

backend_test!(the_24_hour_caps_hold_across_campaigns, async {
    let app = TestApp::spawn().await;
    let (first, _) = running(&app, json!({"purpose": "advertising", "time_between_two_call": 0}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &first, "u1").await;
    reported(&app, id, &c1, "busy", json!({})).await;
    let (reason, next) = nobody(&app, &first, "u1").await;
    assert_eq!(reason, "nothing_due", "one advertising call a phone a day");
    assert!(next.as_i64().unwrap() >= now_secs() + 86_390, "{next}");
    let why = explain(&app, id, Some("u1")).await;
    assert_eq!(why["phones"][0]["reasons"], json!(["cap_24h"]));
    // A care campaign with its own cap of one call a phone a day.
    let a = agent(&app, "u3").await;
    let (_, made) = app
        .post("/v1/campaign", json!({"name": "Care", "agent": [a], "max_calls_per_phone_24h": 1, "listcontacts": contacts(&[&[1], &[2]])}))
        .await;
    let care = made["data"]["id"].as_str().unwrap().to_string();
    app.post(&format!("/v1/campaign/{care}/approve"), json!({})).await;
    app.post(&format!("/v1/campaign/{care}/start"), json!({})).await;
    let (_, _, phone) = claim(&app, &care, "u3").await;
    assert_eq!(phone, stored(2), "the phone called today by the advertising campaign is capped");
});

backend_test!(do_not_call_back_lasts_its_days_and_forever_by_default, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({"time_do_not_call": 1}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let before = now_secs();
    reported(&app, id, &c1, "do_not_call_back", json!({})).await;
    let (reason, next) = nobody(&app, &campaign, "u1").await;
    assert_eq!(reason, "nothing_due", "it ends in a day");
    let next = next.as_i64().unwrap();
    assert!((before + 86_400..=now_secs() + 86_400).contains(&next), "{next}");
    assert_eq!(explain(&app, ids[0], Some("u1")).await["reasons"], json!(["do_not_call"]));
    // With time_do_not_call 0 it is for ever: the list is done.
    let (s, _) = app.put(&format!("/v1/campaign/{campaign}"), json!({"time_do_not_call": 0})).await;
    assert_eq!(s, 200);
    assert_eq!(nobody(&app, &campaign, "u1").await, ("list_empty".into(), Value::Null));
});

backend_test!(an_empty_or_finished_list_says_list_empty, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[]).await;
    assert_eq!(nobody(&app, &campaign, "u1").await, ("list_empty".into(), Value::Null));
    let (s, _) = app.post("/v1/customcampaign", json!({"campaign": campaign, "listcontacts": contacts(&[&[1]])})).await;
    assert_eq!(s, 200);
    let (id, c, _) = claim(&app, &campaign, "u1").await;
    reported(&app, id, &c, "success", json!({})).await;
    assert_eq!(nobody(&app, &campaign, "u1").await, ("list_empty".into(), Value::Null));
});

backend_test!(history_tells_every_event_and_outlives_the_customer, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({"time_between_two_call": 0}), &[&[1]]).await;
    let id = ids[0];
    let (_, c1, _) = claim(&app, &campaign, "u1").await;
    reported(&app, id, &c1, "busy", json!({"call_id": "abc", "duration": 12, "note": "line busy"})).await;
    app.post(&format!("/v1/customcampaign/{id}/stop"), json!({})).await;
    app.post(&format!("/v1/customcampaign/{id}/resume"), json!({})).await;
    let (s, _) = app.delete(&format!("/v1/customcampaign/{id}")).await;
    assert_eq!(s, 200);
    let h = history(&app, id).await;
    let events: Vec<&str> = h.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["added", "claimed", "result", "stopped", "resumed", "deleted"]);
    let sid = &app.tenant.key_sid;
    assert_eq!(h[0]["actor"], *sid, "the API key that added it");
    assert_eq!((h[0]["from_status"].clone(), h[0]["to_status"].clone()), (Value::Null, json!(0)));
    assert_eq!(
        h[1],
        json!({"at": h[1]["at"], "event": "claimed", "actor": "u1", "phone": stored(1), "outcome": null,
               "from_status": 0, "to_status": 5, "claim_id": c1})
    );
    assert_eq!(h[2]["outcome"], "busy");
    assert_eq!((h[2]["from_status"].clone(), h[2]["to_status"].clone()), (json!(5), json!(1)));
    // What the result said of its call is kept, on the result's row only.
    assert_eq!(
        (h[2]["call_id"].clone(), h[2]["duration"].clone(), h[2]["note"].clone()),
        (json!("abc"), json!(12), json!("line busy"))
    );
    assert!(h[3].get("call_id").is_none(), "{}", h[3]);
    assert_eq!(h[3]["actor"], *sid);
    assert_eq!(h[5]["actor"], *sid);
    let ats: Vec<i64> = h.iter().map(|e| e["at"].as_i64().unwrap()).collect();
    assert!(ats.windows(2).all(|w| w[0] <= w[1]), "oldest first: {ats:?}");
    // Every other path answers r=4 for a deleted customer, a result sent again included.
    let (s, body) = app.get(&format!("/v1/customcampaign/{id}/explain")).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)));
    let again = json!({"claim_id": c1, "outcome": "busy"});
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/result"), again).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)), "{body}");
    let (s, _) = app.get("/v1/customcampaign/999999/history").await;
    assert_eq!(s, 404);
    // Another account sees nothing of it.
    let other = app.new_tenant("Other").await;
    let (s, _) = app.send_as(&other, Method::GET, &format!("/v1/customcampaign/{id}/history"), Body::None).await;
    assert_eq!(s, 404);
});

backend_test!(a_burst_of_hand_outs_leaves_nobody_callable_behind, async {
    // 32 agents ask at once of 12 customers, six of them sharing a phone with one of
    // the others and holding one of their own too. A hand-out that finds a customer
    // locked by another one under way, or loses a phone to it, must not answer nobody
    // while a customer is left callable: none twice, no phone twice, and an agent
    // asking after the burst finds nobody.
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let mut agents = Vec::new();
    for n in 1..=32 {
        agents.push(agent(&app, &format!("u{n}")).await);
    }
    for trial in 0..12u32 {
        let shared = |i: u32| trial * 20 + i;
        let lists: Vec<Vec<u32>> =
            (1..=6).map(|i| vec![shared(i)]).chain((1..=6).map(|i| vec![shared(i), shared(i) + 10])).collect();
        let lists: Vec<&[u32]> = lists.iter().map(Vec::as_slice).collect();
        let (campaign, _) = started(&app, &format!("Burst {trial}"), json!({}), &agents, &lists).await;
        let asks: Vec<_> = (1..=32)
            .map(|n| {
                let (app, campaign) = (app.clone(), campaign.clone());
                tokio::spawn(async move { receive(&app, &campaign, &format!("u{n}")).await })
            })
            .collect();
        let (mut customers, mut phones) = (std::collections::HashSet::new(), std::collections::HashSet::new());
        for ask in asks {
            let body = ask.await.unwrap();
            if body["data"].is_object() {
                assert!(customers.insert(body["data"]["id"].as_i64().unwrap()), "a customer twice: {body}");
                assert!(phones.insert(body["data"]["phone"].as_str().unwrap().to_string()), "a phone twice: {body}");
            } else {
                assert_eq!(body["reason"], "nothing_due", "{body}");
            }
        }
        // Twelve unless a customer of two phones won the one it shares (its own then
        // unused: the race's winner decides), but never one left callable.
        let (reason, _) = nobody(&app, &campaign, "u1").await;
        assert_eq!(reason, "nothing_due", "trial {trial}: {} handed out in the burst", customers.len());
    }
});

backend_test!(a_deleted_assignment_or_hours_set_never_gives_its_id_again, async {
    // A DELETE sent again must not remove what was made since.
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[&[1]]).await;
    let a3 = agent(&app, "u3").await;
    let a4 = agent(&app, "u4").await;
    let assign = |agent: String| {
        let app = &app;
        let campaign = campaign.clone();
        async move {
            let (s, body) = app.post("/v1/campagent", json!({"campaign": campaign, "agent": [agent]})).await;
            assert_eq!(s, 200, "{body}");
            body["data"][0]["id"].as_i64().expect("an assignment id")
        }
    };
    let first = assign(a3).await;
    let (s, body) = app.delete(&format!("/v1/campagent/{first}")).await;
    assert_eq!(s, 200, "{body}");
    let second = assign(a4).await;
    assert_ne!(second, first, "an assignment's id given again");
    let (s, _) = app.delete(&format!("/v1/campagent/{first}")).await;
    assert_eq!(s, 404, "a stale DELETE");
    let hours = always_open(&app).await;
    let (s, body) = app.delete(&format!("/v1/businesshour/{hours}")).await;
    assert_eq!(s, 200, "{body}");
    assert_ne!(always_open(&app).await, hours, "an hours set's id given again");
});

backend_test!(a_deleted_customer_answers_r4_before_its_claims_state, async {
    // The id is checked before the state: a released or expired claim on a customer
    // deleted since is r=4 for release and result alike.
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[&[1], &[2]]).await;
    let (id, claim_id, _) = claim(&app, &campaign, "u1").await;
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/release"), json!({"claim_id": claim_id})).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = app.delete(&format!("/v1/customcampaign/{id}")).await;
    assert_eq!(s, 200, "{body}");
    let gone = error(4, &format!("customer {id} not found"));
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/release"), json!({"claim_id": claim_id})).await;
    assert_eq!((s, body), (404, gone.clone()));
    let (s, body) =
        app.post(&format!("/v1/customcampaign/{id}/result"), json!({"claim_id": claim_id, "outcome": "busy"})).await;
    assert_eq!((s, body), (404, gone));
});

backend_test!(keepduplicate_writes_phone_removed_and_refuses_a_claimed_customer, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({}), &[&[1, 2], &[1]]).await;
    let (held, c1, _) = claim(&app, &campaign, "u1").await;
    assert_eq!(held, ids[0]);
    let keep = json!({"campaign": campaign, "listKeepCustomer": {stored(1): ids[1]}});
    let (s, body) = app.post("/v1/customcampaign/keepduplicate", keep.clone()).await;
    assert_eq!((s, body["r"].clone()), (409, json!(7)), "{body}");
    reported(&app, held, &c1, "busy", json!({})).await;
    let (s, body) = app.post("/v1/customcampaign/keepduplicate", keep).await;
    assert_eq!(s, 200, "{body}");
    let h = history(&app, ids[0]).await;
    let removed = h.iter().find(|e| e["event"] == "phone_removed").expect("phone_removed");
    assert_eq!(removed["phone"], stored(1));
    // A customer that loses its last phone leaves: the phone taken, then the delete.
    let third = json!([{"id": "crm-third", "name": "Third", "phones": [vn(2)]}]);
    let (s, body) = app.post("/v1/customcampaign", json!({"campaign": campaign, "listcontacts": third})).await;
    assert_eq!(s, 200, "{body}");
    let third = rows(&app, &campaign).await.last().unwrap()["id"].as_i64().unwrap();
    let keep = json!({"campaign": campaign, "listKeepCustomer": {stored(2): ids[0]}});
    let (s, body) = app.post("/v1/customcampaign/keepduplicate", keep).await;
    assert_eq!((s, body["data"].clone()), (200, json!({"removed_phones": 1, "removed_customers": 1})), "{body}");
    let h = history(&app, third).await;
    let events: Vec<(&str, Value)> = h.iter().map(|e| (e["event"].as_str().unwrap(), e["phone"].clone())).collect();
    assert_eq!(events, [("added", Value::Null), ("phone_removed", json!(stored(2))), ("deleted", Value::Null)]);
});

backend_test!(explain_lists_every_reason_at_both_levels, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({"max_call_retry": 1}), &[&[1, 2], &[3]]).await;
    app.post("/v1/dnc", json!({"phones": [vn(2)], "campaign": campaign})).await;
    let why = explain(&app, ids[0], Some("u1")).await;
    assert_eq!(why["callable"], true, "{why}");
    assert_eq!(why["reasons"], json!([]));
    assert_eq!(why["next_eligible_at"], Value::Null);
    assert_eq!(
        why["phones"],
        json!([{"phone": stored(1), "callable": true, "reasons": []},
               {"phone": stored(2), "callable": false, "reasons": ["dnc_campaign"]}])
    );
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let why = explain(&app, id, Some("u2")).await;
    assert_eq!(why["reasons"], json!(["claimed", "no_callable_phone"]), "its one phone is held too: {why}");
    assert_eq!(why["phones"][0]["reasons"], json!(["phone_claimed"]), "{why}");
    reported(&app, id, &c1, "busy", json!({})).await;
    let why = explain(&app, id, Some("u1")).await;
    assert_eq!(why["reasons"], json!(["status_final"]), "one call was all it had: {why}");
    agent(&app, "u9").await;
    let why = explain(&app, ids[1], Some("u9")).await;
    assert_eq!(why["reasons"], json!(["agent_not_assigned"]), "{why}");
    app.post(&format!("/v1/campaign/{campaign}/pause"), json!({})).await;
    let why = explain(&app, ids[1], None).await;
    assert_eq!(why["reasons"], json!(["campaign_not_running"]), "{why}");
});

backend_test!(stats_count_statuses_claims_and_who_is_callable, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[&[1], &[2], &[3], &[4]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    reported(&app, id, &c1, "success", json!({})).await;
    claim(&app, &campaign, "u1").await;
    let (s, body) = app.get(&format!("/v1/campaign/{campaign}/stats")).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"by_status": {"0": 2, "1": 0, "2": 1, "3": 0, "4": 0, "5": 1, "6": 0, "7": 0, "8": 0},
               "claimed": 1, "callable_now": 2, "next_eligible_at": null})
    );
    let (s, body) = app.get("/v1/campaign/CA000000/stats").await;
    assert_eq!((s, body["r"].clone()), (404, json!(3)));
});

backend_test!(findcustomermanager_lists_callbacks_then_live_claims, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({}), &[&[1], &[2], &[3]]).await;
    let (a, ca, _) = claim(&app, &campaign, "u1").await;
    reported(&app, a, &ca, "callback", json!({"callback_time": now_secs() + 600})).await;
    let (b, _, _) = claim(&app, &campaign, "u1").await;
    claim(&app, &campaign, "u2").await;
    let (s, body) = app
        .post(
            "/v1/customcampaign/findcustomermanager",
            json!({"campaign": campaign, "stringee_user_id": "u1", "page": 1}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["msg"], "Call API success");
    let data = &body["resFromPccApi"]["data"];
    assert_eq!(data["totalCount"], "2", "{body}");
    assert_eq!(data["totalPages"], 1);
    let listed: Vec<i64> = data["rows"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(listed, [a, b]);
    assert_eq!(ids[0], a);
});

// Live claims are listed in the order they were handed out, within a second too:
// a customer released and handed out again comes after one held since before.
backend_test!(findcustomermanager_lists_claims_in_hand_out_order, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({}), &[&[1], &[2], &[3]]).await;
    let (first, c1, _) = claim(&app, &campaign, "u1").await;
    let (second, _, _) = claim(&app, &campaign, "u1").await;
    let (s, body) = app.post(&format!("/v1/customcampaign/{first}/release"), json!({"claim_id": c1})).await;
    assert_eq!(s, 200, "{body}");
    let (again, _, _) = claim(&app, &campaign, "u1").await;
    assert_eq!((first, second, again), (ids[0], ids[1], ids[0]));
    let (_, body) = app
        .post("/v1/customcampaign/findcustomermanager", json!({"campaign": campaign, "stringee_user_id": "u1"}))
        .await;
    let rows = body["resFromPccApi"]["data"]["rows"].as_array().unwrap().clone();
    let listed: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(listed, [second, again], "{body}");
});

// Requests giving one stringee_user_id at once (creates, renames): one wins, every
// other is told it is taken (r 7), none fails inside.
backend_test!(one_user_id_given_at_once_is_taken_once_and_refused_with_r7, async {
    let app = TestApp::spawn().await;
    // One answer r 0, the others r 7, and one agent holding `user` after.
    let app = &app;
    let one_won = |answers: Vec<(u16, Value)>, user: String| async move {
        let codes: Vec<(u16, Value)> = answers.iter().map(|(s, b)| (*s, b["r"].clone())).collect();
        assert_eq!(codes.iter().filter(|c| **c == (200, json!(0))).count(), 1, "{answers:?}");
        assert_eq!(codes.iter().filter(|c| **c == (409, json!(7))).count(), answers.len() - 1, "{answers:?}");
        let (_, body) = app.get(&format!("/v1/agent?stringee_user_id={user}")).await;
        assert_eq!(body["data"]["totalAgents"], "1", "{body}");
    };
    for round in 0..3 {
        let user = format!("race{round}");
        let creates = (0..6).map(|_| app.post("/v1/agent", json!({"name": "R", "stringee_user_id": user})));
        one_won(futures_util::future::join_all(creates).await, user.clone()).await;

        let mut ids = Vec::new();
        for i in 0..4 {
            let (s, body) =
                app.post("/v1/agent", json!({"name": "S", "stringee_user_id": format!("s{round}-{i}")})).await;
            assert_eq!(s, 200, "{body}");
            ids.push(body["agentID"].as_str().unwrap().to_string());
        }
        let same = format!("same{round}");
        let paths: Vec<String> = ids.iter().map(|id| format!("/v1/agent/{id}")).collect();
        let renames = paths.iter().map(|path| app.put(path, json!({"stringee_user_id": same})));
        one_won(futures_util::future::join_all(renames).await, same.clone()).await;
    }
});

backend_test!(agents_groups_and_assignments_answer_in_the_reference_shapes, async {
    let app = TestApp::spawn().await;
    let (s, body) = app.post("/v1/agent", json!({"name": "Lan", "stringee_user_id": "lan"})).await;
    assert_eq!(s, 200, "{body}");
    let agent_id = body["agentID"].as_str().unwrap().to_string();
    assert_eq!(
        body,
        json!({"r": 0, "msg": "Create agent success", "message": "Create agent success", "agentID": agent_id})
    );
    assert!(agent_id.starts_with("AG") && agent_id.len() == 8, "{agent_id}");
    let (s, body) = app.post("/v1/agent", json!({"name": "Lan again", "stringee_user_id": "lan"})).await;
    assert_eq!((s, body["r"].clone()), (409, json!(7)), "{body}");
    // A bad id of a list names its place in the list.
    let (s, body) =
        app.post("/v1/campagent", json!({"campaign": "CA000000", "agent": [agent_id, "A".repeat(300)]})).await;
    assert_eq!((s, body), (400, error(1, "agent[1]: agent id is longer than 256 characters")));
    // Named bracket fields are no list: the field is named, not an entry 0 never sent.
    let form = vec![("campaign".to_string(), "CA000000".to_string()), ("agent[x]".to_string(), agent_id.to_string())];
    let (s, body) = app.send(Method::POST, "/v1/campagent", Some(&app.tenant.token), Body::Form(form)).await;
    assert_eq!((s, body), (400, error(1, "agent must be a list of strings, not an object")));
    let (_, body) = app.get("/v1/agent?stringee_user_id=lan").await;
    let list = &body["data"];
    assert_eq!(list["totalAgents"], "1", "{body}");
    let row = &list["agents"][0];
    assert_eq!(
        row,
        &json!({"id": agent_id, "name": "Lan", "stringee_user_id": "lan", "manual_status": "AVAILABLE", "routing_type": 1,
                "phone_number": row["phone_number"], "system_status": row["system_status"], "groups": [], "created": row["created"]})
    );
    let (s, body) = app.post("/v1/group", json!({"name": "Team A"})).await;
    assert_eq!(s, 200, "{body}");
    let group = body["groupID"].as_str().unwrap().to_string();
    let (s, body) = app.post("/v1/manage-agents-in-group", json!({"agent_id": agent_id, "group_id": group})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!((body["agentID"].clone(), body["groupID"].clone()), (json!(agent_id), json!(group)));
    let (_, body) = app.get(&format!("/v1/agent/{agent_id}")).await;
    assert_eq!(body["data"]["groups"], json!([{"group_id": group}]));
    let (_, body) = app.get("/v1/group").await;
    assert_eq!(body["data"]["groups"][0]["number_of_agent"], 1, "{body}");
    // A campaign worked through the group: membership is read at hand-out time.
    let (_, made) = app
        .post("/v1/campaign", json!({"name": "By group", "group": [group], "listcontacts": contacts(&[&[1]])}))
        .await;
    let campaign = made["data"]["id"].as_str().unwrap().to_string();
    let (_, body) = app.get(&format!("/v1/campagent?campaign={campaign}")).await;
    let rows = body["data"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{body}");
    assert_eq!((rows[0]["group_id"].clone(), rows[0]["type"].clone()), (json!(group), json!(2)));
    app.post(&format!("/v1/campaign/{campaign}/approve"), json!({})).await;
    app.post(&format!("/v1/campaign/{campaign}/start"), json!({})).await;
    let (_, body) = app.post("/v1/campaign/findcampaignrunning", json!({"stringee_user_id": "lan"})).await;
    assert_eq!(body["data"]["rows"][0]["id"], campaign, "{body}");
    claim(&app, &campaign, "lan").await;
    let (s, _) = app
        .send(
            Method::DELETE,
            "/v1/manage-agents-in-group",
            Some(&app.tenant.token),
            Body::Json(json!({"agent_id": agent_id, "group_id": group})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, body) =
        app.post("/v1/customcampaign/receivecustomer", json!({"campaign": campaign, "stringee_user_id": "lan"})).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)), "out of the group, no longer assigned: {body}");
    // An unknown agent on a create makes nothing.
    let (_, before) = app.get("/v1/campaign").await;
    let (s, body) = app.post("/v1/campaign", json!({"name": "Ghosts", "agent": ["AG000000"]})).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)), "{body}");
    let (_, after) = app.get("/v1/campaign").await;
    assert_eq!(before["data"]["totalCount"], after["data"]["totalCount"]);
});

/// A campaign of one customer with one phone, worked by `u1` within `hours`.
async fn one_phone(app: &TestApp, phone: &str, hours: Value) -> (String, i64) {
    let (status, made) = app.post("/v1/businesshour", hours).await;
    assert_eq!(status, 200, "{made}");
    let set = made["data"]["id"].as_i64().unwrap();
    let a = agent(app, "u1").await;
    let contacts = json!([{"id": "crm0", "name": "Far away", "phones": [phone]}]);
    let (status, made) = app
        .post("/v1/campaign", json!({"name": "Zones", "agent": [a], "businesshour": set, "listcontacts": contacts}))
        .await;
    assert_eq!(status, 200, "{made}");
    let id = made["data"]["id"].as_str().unwrap().to_string();
    app.post(&format!("/v1/campaign/{id}/approve"), json!({})).await;
    app.post(&format!("/v1/campaign/{id}/start"), json!({})).await;
    let customer = rows(app, &id).await[0]["id"].as_i64().unwrap();
    (id, customer)
}

/// Now in `zone`: its ISO weekday (1 Monday) and minutes after local midnight, and
/// the epoch second of the next local midnight.
fn local_now(zone: &str) -> (u32, u32, i64) {
    use chrono::{Datelike, TimeZone, Timelike};
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let now = tz.timestamp_opt(now_secs(), 0).unwrap();
    let tomorrow = now.date_naive().succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap();
    let midnight = tz.from_local_datetime(&tomorrow).earliest().unwrap().timestamp();
    (now.weekday().number_from_monday(), now.hour() * 60 + now.minute(), midnight)
}

fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The hours are read in the phone's own zone, daylight saving applied, whatever
/// the set's `timezone` (UTC here) and whatever the wall clock says: a window
/// around local now is open, a window only on tomorrow's weekday opens at the
/// phone's next local midnight.
async fn hours_follow_the_phone(phone: &str, zone: &str) {
    let app = TestApp::spawn().await;
    let (day, minute, midnight) = local_now(zone);
    let around = json!({"name": "Around now", "timezone": "UTC", "windows": [{"days": [day],
        "start": hhmm(minute.saturating_sub(60)), "end": hhmm((minute + 60).min(1440))}]});
    let (campaign, _) = one_phone(&app, phone, around).await;
    let (_, _, handed) = claim(&app, &campaign, "u1").await;
    assert_eq!(format!("+{handed}"), phone);

    let app = TestApp::spawn().await;
    let tomorrow = day % 7 + 1;
    let later = json!({"name": "Tomorrow", "timezone": "UTC",
        "windows": [{"days": [tomorrow], "start": "00:00", "end": "24:00"}]});
    let (campaign, customer) = one_phone(&app, phone, later).await;
    let (reason, next) = nobody(&app, &campaign, "u1").await;
    // Past local midnight the window is open: the clock moved on while the test ran.
    if now_secs() < midnight {
        assert_eq!((reason.as_str(), next), ("outside_hours", json!(midnight)), "{phone} in {zone}");
        let why = explain(&app, customer, Some("u1")).await;
        assert_eq!(why["phones"][0]["reasons"], json!(["outside_hours"]));
        assert_eq!(why["next_eligible_at"], midnight);
    }
}

backend_test!(a_new_york_number_is_called_in_new_york_hours, async {
    hours_follow_the_phone("+12127365000", "America/New_York").await;
});

backend_test!(an_arizona_number_keeps_arizona_time_without_daylight_saving, async {
    hours_follow_the_phone("+16023640000", "America/Phoenix").await;
});

backend_test!(a_vietnamese_mobile_is_called_in_vietnam_hours, async {
    hours_follow_the_phone("+84912345001", "Asia/Ho_Chi_Minh").await;
});

// A do-not-call entry that ends while the hours are closed: the customer is next
// callable when the hours open after the entry's end, not at its end, on every
// path that tells (explain and the hand-out alike).
backend_test!(an_entry_ending_outside_the_hours_makes_the_phone_callable_when_they_open, async {
    let (phone, zone) = ("+84912345001", "Asia/Ho_Chi_Minh");
    let app = TestApp::spawn().await;
    let (day, _, midnight) = local_now(zone);
    // Open all day tomorrow and the day after the next; closed the day between.
    let (tomorrow, third) = (day % 7 + 1, (day + 2) % 7 + 1);
    let hours = json!({"name": "Some days", "timezone": zone,
        "windows": [{"days": [tomorrow, third], "start": "00:00", "end": "24:00"}]});
    let (campaign, customer) = one_phone(&app, phone, hours).await;
    // Vietnam keeps no daylight saving: its days are 86,400 s.
    let (between, opens) = (midnight + 86_400, midnight + 2 * 86_400);
    let (s, body) = app.post("/v1/dnc", json!({"phones": [phone], "expires_at": between + 3_600})).await;
    assert_eq!(s, 200, "{body}");
    if now_secs() < midnight {
        let why = explain(&app, customer, Some("u1")).await;
        assert_eq!(why["phones"][0]["reasons"], json!(["dnc_account", "outside_hours"]), "{why}");
        assert_eq!(why["next_eligible_at"], opens, "{why}");
        let (reason, next) = nobody(&app, &campaign, "u1").await;
        assert_eq!((reason.as_str(), next), ("nothing_due", json!(opens)));
    }
});

backend_test!(a_start_time_within_a_second_is_next_eligible_at_the_second_after_it, async {
    let app = TestApp::spawn().await;
    let start_ms = (now_secs() + 30) * 1000 + 900;
    let (campaign, ids) = running(&app, json!({"start_time": start_ms}), &[&[1]]).await;
    let (reason, next) = nobody(&app, &campaign, "u1").await;
    // 30.9 s from now: the answer in seconds is the first second the campaign has started.
    assert_eq!((reason.as_str(), next), ("campaign_not_running", json!(start_ms / 1000 + 1)));
    assert_eq!(explain(&app, ids[0], Some("u1")).await["next_eligible_at"], start_ms / 1000 + 1);
    let (_, stats) = app.get(&format!("/v1/campaign/{campaign}/stats")).await;
    assert_eq!(stats["data"]["next_eligible_at"], start_ms / 1000 + 1, "{stats}");
});

/// A window of two hours around now in `zone`, on today's weekday there.
fn around_now(zone: &str, timezone: &str) -> Value {
    let (day, minute, _) = local_now(zone);
    json!({"name": "Around now", "timezone": timezone, "windows": [{"days": [day],
        "start": hhmm(minute.saturating_sub(60)), "end": hhmm((minute + 60).min(1440))}]})
}

backend_test!(a_number_with_no_zone_of_its_own_uses_the_sets_timezone, async {
    // An old Vietnamese landline prefix is kept (CONTRACT §6) but maps to no zone
    // (Etc/Unknown): the set's timezone decides.
    let app = TestApp::spawn().await;
    let (campaign, _) = one_phone(&app, "0654521598", around_now("Asia/Tokyo", "Asia/Tokyo")).await;
    claim(&app, &campaign, "u1").await;
    let app = TestApp::spawn().await;
    let (campaign, _) = one_phone(&app, "0654521598", around_now("Asia/Tokyo", "America/New_York")).await;
    assert_eq!(nobody(&app, &campaign, "u1").await.0, "outside_hours");
});

backend_test!(a_number_of_many_zones_is_called_only_when_open_in_all, async {
    // A US toll-free number maps to every NANP zone, Guam to Honolulu: a window
    // around New York's now is closed in most of them.
    let app = TestApp::spawn().await;
    let (campaign, customer) = one_phone(&app, "+18005551234", around_now("America/New_York", "UTC")).await;
    assert_eq!(nobody(&app, &campaign, "u1").await.0, "outside_hours");
    assert_eq!(explain(&app, customer, Some("u1")).await["phones"][0]["reasons"], json!(["outside_hours"]));
    let app = TestApp::spawn().await;
    let always = json!({"name": "Always", "timezone": "UTC",
        "windows": [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "24:00"}]});
    let (campaign, _) = one_phone(&app, "+18005551234", always).await;
    claim(&app, &campaign, "u1").await;
});

backend_test!(values_past_any_real_time_or_page_are_refused_or_empty_never_a_failure, async {
    let app = TestApp::spawn().await;
    // Spans and times too large to add to a clock are refused, naming the field.
    let (s, body) = app.post("/v1/campaign", json!({"name": "Far", "callback_grace_seconds": i64::MAX})).await;
    assert_eq!((s, body), (400, error(1, "callback_grace_seconds must be at most 315360000")));
    let (s, body) = app.post("/v1/campaign", json!({"name": "Far", "time_between_two_call": 9_000_000})).await;
    assert_eq!((s, body), (400, error(1, "time_between_two_call must be at most 5256000")));
    let (s, body) = app.post("/v1/campaign", json!({"name": "Far", "end_time": i64::MAX})).await;
    assert_eq!((s, body), (400, error(1, "end_time must be at most 253402300799999")));
    let (s, body) = app.post("/v1/dnc", json!({"phones": ["0901234567"], "expires_at": i64::MAX})).await;
    assert_eq!((s, body), (400, error(1, "expires_at must be at most 253402300799")));
    let (campaign, ids) = running(&app, json!({}), &[&[1], &[2]]).await;
    let (a, claim_a, _) = claim(&app, &campaign, "u1").await;
    for (t, message) in [
        (json!(9_223_372_036_854_772_208_i64), "callback_time must be at most 253402300799"),
        (json!(-1), "callback_time must be an epoch second, not negative"),
    ] {
        let (s, body) = report(&app, a, &claim_a, "callback", json!({"callback_time": t})).await;
        assert_eq!((s, body), (400, error(1, message)));
    }
    // A message quoting a huge value quotes its start.
    let (s, body) = report(&app, a, &claim_a, &"A".repeat(100_000), json!({})).await;
    assert_eq!((s, &body["r"]), (400, &json!(1)), "{body}");
    let msg = body["msg"].as_str().unwrap();
    assert!(msg.chars().count() <= 1001 && msg.ends_with('…'), "{} characters", msg.len());
    // A page past every list is empty.
    let (s, body) = app
        .post(
            "/v1/customcampaign/findcustomermanager",
            json!({"campaign": campaign, "stringee_user_id": "u1", "page": i64::MAX}),
        )
        .await;
    assert_eq!((s, &body["resFromPccApi"]["data"]["rows"]), (200, &json!([])), "{body}");
    // ... a page number too large for an integer too, as every other list reads it.
    let (s, body) = app
        .post(
            "/v1/customcampaign/findcustomermanager",
            json!({"campaign": campaign, "stringee_user_id": "u1", "page": "99999999999999999999"}),
        )
        .await;
    assert_eq!((s, &body["resFromPccApi"]["data"]["rows"]), (200, &json!([])), "{body}");
    for page in [i64::MAX, 9_223_372_036_854_776, 1 << 62] {
        let (s, body) = app.get(&format!("/v1/customcampaign?campaign={campaign}&page={page}&limit=1000")).await;
        assert_eq!((s, &body["resFromPccApi"]["data"]["rows"]), (200, &json!([])), "{body}");
        assert_eq!(body["resFromPccApi"]["data"]["totalCount"], "2");
    }
    // Callable hours take times and dates in exactly their form.
    for (window, holiday, message) in [
        ("+8:00", "2027-01-01", "windows[0].start must be a time HH:MM from 00:00 to 24:00, not '+8:00'"),
        ("08:00", "+10000-01-01", "holidays[0] must be a date YYYY-MM-DD, not '+10000-01-01'"),
        ("08:00", "-2027-01-01", "holidays[0] must be a date YYYY-MM-DD, not '-2027-01-01'"),
        ("08:00", "2027-1-1", "holidays[0] must be a date YYYY-MM-DD, not '2027-1-1'"),
    ] {
        let set = json!({"name": "b", "timezone": "Asia/Ho_Chi_Minh", "holidays": [holiday],
                         "windows": [{"days": [1], "start": window, "end": "17:00"}]});
        let (s, body) = app.post("/v1/businesshour", set).await;
        assert_eq!((s, body), (400, error(1, message)));
    }
    assert_eq!(ids.len(), 2);
});

backend_test!(a_callback_whose_agent_is_gone_is_explained_as_the_hand_out_sees_it, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[&[1]]).await;
    let (a, claim_a, _) = claim(&app, &campaign, "u1").await;
    // Its owner's callback, long past the grace: anyone may take it.
    reported(&app, a, &claim_a, "callback", json!({"callback_time": now_secs() - 7200})).await;
    let owner = agent_id(&app, "u1").await;
    let (s, body) = app.delete(&format!("/v1/agent/{owner}")).await;
    assert_eq!(s, 200, "{body}");
    let why = explain(&app, a, None).await;
    assert_eq!(why["callable"], true, "{why}");
    assert_eq!(receive(&app, &campaign, "u2").await["data"]["id"], a);
});

backend_test!(a_customer_deleted_after_its_lease_ran_out_shows_the_claim_expire_first, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({"claim_lease_seconds": 1}), &[&[1], &[2]]).await;
    let (a, claim_a, _) = claim(&app, &campaign, "u1").await;
    // Its lease ends at a whole second 1 to 2 s after the claim.
    sleep(2.2).await;
    // Whether or not a sweep met the lapsed claim first, it ends once, before the delete.
    let (s, body) = app.delete(&format!("/v1/customcampaign/{a}")).await;
    assert_eq!(s, 200, "{body}");
    let events: Vec<(String, Value)> = history(&app, a)
        .await
        .iter()
        .map(|e| (e["event"].as_str().unwrap().to_string(), e["claim_id"].clone()))
        .collect();
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names, ["added", "claimed", "expired", "deleted"], "{events:?}");
    assert_eq!(events[2].1, json!(claim_a));
});

backend_test!(history_is_in_the_order_written_whatever_second_each_server_read, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[&[1]]).await;
    let (a, first, _) = claim(&app, &campaign, "u1").await;
    let (s, body) = app.post(&format!("/v1/customcampaign/{a}/release"), json!({"claim_id": first})).await;
    assert_eq!(s, 200, "{body}");
    let (_, second, _) = claim(&app, &campaign, "u2").await;
    // A second server whose hand-out read its clock before it waited for the
    // release writes an earlier second than the release.
    let skew = format!("UPDATE history SET at = at - 10 WHERE claim_id = '{second}'");
    crate::common::run_sql_on(app.backend, &app.db_url, &skew).await;
    let events: Vec<(String, Value)> = history(&app, a)
        .await
        .iter()
        .map(|e| (e["event"].as_str().unwrap().to_string(), e["claim_id"].clone()))
        .collect();
    let expected = vec![
        ("added".into(), Value::Null),
        ("claimed".into(), json!(first)),
        ("released".into(), json!(first)),
        ("claimed".into(), json!(second)),
    ];
    assert_eq!(events, expected);
});

backend_test!(answers_name_what_is_unknown_and_show_a_past_end_at_once, async {
    let app = TestApp::spawn().await;
    // The answer to the create or update that sets a past end_time shows status 4.
    let past = (now_secs() - 60) * 1000;
    let (s, body) = app.post("/v1/campaign", json!({"name": "Over", "end_time": past})).await;
    assert_eq!((s, body["data"]["status"].clone()), (200, json!(4)), "{body}");
    let (made, _) = running(&app, json!({}), &[&[1], &[2]]).await;
    // A result or release on a customer that does not exist names the customer.
    let (id, claim_id, _) = claim(&app, &made, "u1").await;
    for action in ["result", "release"] {
        let (s, body) = app
            .post(&format!("/v1/customcampaign/99999999/{action}"), json!({"claim_id": claim_id, "outcome": "success"}))
            .await;
        assert_eq!((s, body), (404, error(4, "customer 99999999 not found")), "{action}");
    }
    let (s, body) = app
        .post(&format!("/v1/customcampaign/{}/result", id + 1), json!({"claim_id": claim_id, "outcome": "success"}))
        .await;
    assert_eq!((s, body), (404, error(4, &format!("claim '{claim_id}' is not a claim on customer {}", id + 1))));

    let (s, body) = app.put(&format!("/v1/campaign/{made}"), json!({"end_time": past})).await;
    assert_eq!((s, body["data"]["status"].clone()), (200, json!(4)), "{body}");
    let (_, body) = app.get(&format!("/v1/campaign/{made}")).await;
    assert_eq!(body["data"]["status"], 4, "{body}");

    // The assignment list filtered by an unknown campaign or agent says so.
    let (s, body) = app.get("/v1/campagent?campaign=CA000000").await;
    assert_eq!((s, body), (404, error(3, "campaign 'CA000000' not found")));
    let (s, body) = app.get("/v1/campagent?agent=AG000000").await;
    assert_eq!((s, body), (404, error(4, "agent 'AG000000' not found")));
    let other = app.new_tenant("Tenant B").await;
    let (s, body) = app.send_as(&other, Method::GET, &format!("/v1/campagent?campaign={made}"), Body::None).await;
    assert_eq!((s, body), (404, error(3, &format!("campaign '{made}' not found"))));

    // Taking an unknown agent out of an unknown group names the unknown one.
    let agent_id = agent(&app, "kim").await;
    let (_, group) = app.post("/v1/group", json!({"name": "Team"})).await;
    let group = group["groupID"].as_str().unwrap().to_string();
    let remove = async |agent_id: &str, group: &str| {
        let body = Body::Json(json!({"agent_id": agent_id, "group_id": group}));
        app.send(Method::DELETE, "/v1/manage-agents-in-group", Some(&app.tenant.token), body).await
    };
    assert_eq!(remove("AG000000", &group).await, (404, error(4, "agent 'AG000000' not found")));
    assert_eq!(remove(&agent_id, "GR000000").await, (404, error(4, "group 'GR000000' not found")));
    let not_in = format!("agent '{agent_id}' is not in group '{group}'");
    assert_eq!(remove(&agent_id, &group).await, (404, error(4, &not_in)));

    // An empty window says so.
    let window = json!({"name": "Nil", "timezone": "Asia/Ho_Chi_Minh",
                        "windows": [{"days": [1], "start": "09:00", "end": "09:00"}]});
    let (s, body) = app.post("/v1/businesshour", window).await;
    assert_eq!((s, body["r"].clone()), (400, json!(1)), "{body}");
    assert!(body["msg"].as_str().unwrap().contains("is empty"), "{body}");
});

backend_test!(put_sets_the_agents_and_groups_a_campaign_has_and_get_shows_them, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[&[1]]).await;
    let (u1, u2) = (agent_id(&app, "u1").await, agent_id(&app, "u2").await);
    let (_, made) = app.post("/v1/group", json!({"name": "Team"})).await;
    let group = made["groupID"].as_str().unwrap().to_string();
    let team = |body: &Value| (body["data"]["agent"].clone(), body["data"]["group"].clone());
    let (s, body) = app.get(&format!("/v1/campaign/{campaign}")).await;
    assert_eq!((s, team(&body)), (200, (json!([u1, u2]), json!([]))), "{body}");
    // The lists sent become the campaign's; a kind not sent stays as it was.
    let (s, body) = app.put(&format!("/v1/campaign/{campaign}"), json!({"agent": [u2], "group": [group]})).await;
    assert_eq!((s, team(&body)), (200, (json!([u2]), json!([group]))), "{body}");
    let (_, listed) = app.get(&format!("/v1/campagent?campaign={campaign}")).await;
    assert_eq!(listed["data"]["totalCount"], 2, "{listed}");
    let (s, body) = app.put(&format!("/v1/campaign/{campaign}"), json!({"max_call_retry": 2})).await;
    assert_eq!((s, team(&body)), (200, (json!([u2]), json!([group]))), "{body}");
    let asked = json!({"campaign": campaign, "stringee_user_id": "u1"});
    let (s, body) = app.post("/v1/customcampaign/receivecustomer", asked).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)), "u1 is no longer assigned: {body}");
    // An unknown agent changes nothing (r=4); an unknown campaign is r=3 first.
    let (s, body) =
        app.put(&format!("/v1/campaign/{campaign}"), json!({"agent": ["AGZZZZZZ"], "max_call_retry": 5})).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)), "{body}");
    let (_, body) = app.get(&format!("/v1/campaign/{campaign}")).await;
    assert_eq!((body["data"]["max_call_retry"].clone(), team(&body)), (json!(2), (json!([u2]), json!([group]))));
    let (s, body) = app.put("/v1/campaign/CAZZZZZZ", json!({"agent": ["AGZZZZZZ"]})).await;
    assert_eq!((s, body["r"].clone()), (404, json!(3)), "{body}");
});

backend_test!(a_retry_due_while_its_phone_is_capped_is_next_eligible_when_the_cap_ends, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) =
        running(&app, json!({"max_calls_per_phone_24h": 1, "time_between_two_call": 30}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    reported(&app, id, &c1, "busy", json!({})).await;
    let called = history(&app, ids[0]).await.iter().find(|e| e["event"] == "result").unwrap()["at"].as_i64().unwrap();
    // The retry is due in 30 minutes, but the phone is at its cap for 24 hours.
    assert_eq!(nobody(&app, &campaign, "u1").await, ("nothing_due".into(), json!(called + 86_400)));
    assert_eq!(stats(&app, &campaign).await["next_eligible_at"], called + 86_400);
    assert_eq!(explain(&app, id, Some("u1")).await["next_eligible_at"], called + 86_400);
});

backend_test!(a_do_not_call_entry_that_expires_is_next_eligible_in_stats_too, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[&[1]]).await;
    let expires = now_secs() + 100;
    let (s, body) = app.post("/v1/dnc", json!({"phones": [vn(1)], "expires_at": expires})).await;
    assert_eq!(s, 200, "{body}");
    let figures = stats(&app, &campaign).await;
    assert_eq!((figures["callable_now"].clone(), figures["next_eligible_at"].clone()), (json!(0), json!(expires)));
    assert_eq!(nobody(&app, &campaign, "u1").await, ("nothing_due".into(), json!(expires)));
});

backend_test!(a_retry_due_while_the_hours_are_closed_is_next_eligible_when_they_open, async {
    // Of these zones, one has a local time with room for the windows below today.
    let (phone, zone) = [
        ("+84912345001", "Asia/Ho_Chi_Minh"),
        ("+16023640000", "America/Phoenix"),
        ("+12127365000", "America/New_York"),
    ]
    .into_iter()
    .find(|(_, zone)| (60..1440 - 120).contains(&local_now(zone).1))
    .expect("one zone with room");
    let (day, minute, _) = local_now(zone);
    // Open now until 5 minutes from now, closed for 40 minutes, then open again.
    let windows = json!({"name": "Gap", "timezone": "UTC", "windows": [
        {"days": [day], "start": hhmm(minute - 60), "end": hhmm(minute + 5)},
        {"days": [day], "start": hhmm(minute + 45), "end": hhmm(minute + 105)}]});
    let app = TestApp::spawn().await;
    let (campaign, customer) = one_phone(&app, phone, windows).await;
    let (s, body) = app.put(&format!("/v1/campaign/{campaign}"), json!({"time_between_two_call": 10})).await;
    assert_eq!(s, 200, "{body}");
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    assert_eq!(id, customer);
    reported(&app, id, &c1, "busy", json!({})).await;
    // The retry falls in the gap: the hours opening is when it can be called.
    let now = now_secs();
    let opens = now - now % 60 + (45 - (minute as i64 - local_now(zone).1 as i64)) * 60;
    let (reason, next) = nobody(&app, &campaign, "u1").await;
    if local_now(zone).1 == minute {
        assert_eq!((reason.as_str(), next.clone()), ("nothing_due", json!(opens)), "{zone}");
        assert_eq!(stats(&app, &campaign).await["next_eligible_at"], opens);
        assert_eq!(explain(&app, id, Some("u1")).await["next_eligible_at"], opens);
    }
});
