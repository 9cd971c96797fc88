//! The calling workflow's rules one case at a time, over HTTP on both backends
//! (CONTRACT §9–§10): each case would fail without the rule it names.

use reqwest::Method;
use serde_json::{Value, json};

use crate::calling::{
    agent, agent_id, also_running, claim, explain, history, nobody, receive, report, reported, row, rows, running,
    sleep, stats, stored, vn,
};
use crate::common::{Body, TestApp, error, run_sql_on};
use callsheet::domain::now_secs;

backend_test!(a_phone_listed_for_ever_leaves_next_eligible_at_null, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({}), &[&[1]]).await;
    let (s, body) = app.post("/v1/dnc", json!({"phones": [vn(1)]})).await;
    assert_eq!(s, 200, "{body}");
    // Found blocked at the first hand-out, parked for good at the second: no clock
    // will ever make it callable, and no time is promised.
    for _ in 0..2 {
        assert_eq!(nobody(&app, &campaign, "u1").await, ("nothing_due".into(), Value::Null));
    }
    let figures = stats(&app, &campaign).await;
    assert_eq!((figures["callable_now"].clone(), figures["next_eligible_at"].clone()), (json!(0), Value::Null));
    let why = explain(&app, ids[0], Some("u1")).await;
    assert_eq!(why["next_eligible_at"], Value::Null, "{why}");
    assert_eq!(why["phones"][0]["reasons"], json!(["dnc_account"]), "{why}");
    // Deleting the entry opens it again.
    let (s, _) =
        app.send(Method::DELETE, "/v1/dnc", Some(&app.tenant.token), Body::Json(json!({"phones": [vn(1)]}))).await;
    assert_eq!(s, 200);
    assert_eq!(claim(&app, &campaign, "u1").await.0, ids[0]);
});

backend_test!(an_unblock_racing_a_hand_out_leaves_no_customer_set_aside, async {
    // A hand-out that read a do-not-call entry just before the entry's delete set its
    // customer aside just after the delete looked for such customers, and nothing
    // looked again (PostgreSQL: 4 rounds in 20). Each round races an agent polling
    // against the delete, and against an edit of the hours that kept the customer out;
    // once the write has answered, the customer is handed out.
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let (campaign, _) = running(&app, json!({}), &[&[100]]).await;
    claim(&app, &campaign, "u1").await;
    let closed = crate::calling::closed_now(&app).await;
    for round in 0..40u32 {
        let phone = vn(200 + round);
        let entry = json!([{"id": format!("race{round}"), "name": "Race", "phones": [phone]}]);
        let (s, body) = app.post("/v1/customcampaign", json!({"campaign": campaign, "listcontacts": entry})).await;
        assert_eq!(s, 200, "{body}");
        let by_hours = round % 2 == 1;
        if by_hours {
            let (s, body) = app.put(&format!("/v1/campaign/{campaign}"), json!({"businesshour": closed})).await;
            assert_eq!(s, 200, "{body}");
        } else {
            app.post("/v1/dnc", json!({"phones": [phone]})).await;
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let poller = {
            let (app, campaign, stop) = (app.clone(), campaign.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    if !receive(&app, &campaign, "u2").await["data"].is_null() {
                        return true;
                    }
                }
                false
            })
        };
        sleep(0.02).await;
        let (s, body) = if by_hours {
            app.put(&format!("/v1/campaign/{campaign}"), json!({"businesshour": null})).await
        } else {
            app.send(Method::DELETE, "/v1/dnc", Some(&app.tenant.token), Body::Json(json!({"phones": [phone]}))).await
        };
        assert_eq!(s, 200, "{body}");
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if !poller.await.unwrap() {
            let handed = receive(&app, &campaign, "u2").await;
            assert!(!handed["data"].is_null(), "round {round}: set aside after the unblock answered: {handed}");
        }
    }
});

backend_test!(a_customer_stopped_after_its_lease_ran_out_stays_stopped, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({"claim_lease_seconds": 1}), &[&[1]]).await;
    let handed = receive(&app, &campaign, "u1").await;
    let (id, c1) = (handed["data"]["id"].as_i64().unwrap(), handed["data"]["claim_id"].as_str().unwrap().to_string());
    // Stop it the moment its lease is over, before or after a sweep meets it.
    let lease = handed["data"]["lease_expires_at"].as_i64().unwrap();
    while now_secs() < lease {
        sleep(0.05).await;
    }
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/stop"), json!({})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["status"], 4);
    sleep(1.5).await;
    assert_eq!(row(&app, &campaign, id).await["status"], 4, "no sweep undoes the stop");
    let (s, body) = report(&app, id, &c1, "success", json!({})).await;
    assert_eq!((s, body["r"].clone()), (409, json!(7)), "a stopped customer takes no late result: {body}");
    assert_eq!(row(&app, &campaign, id).await["number_call_out"], 0);
    let events: Vec<Value> = history(&app, id).await.iter().map(|e| e["event"].clone()).collect();
    assert_eq!(json!(events), json!(["added", "claimed", "expired", "stopped"]));
    let (s, body) = app.post(&format!("/v1/customcampaign/{id}/resume"), json!({})).await;
    assert_eq!((s, body["data"]["status"].clone()), (200, json!(0)), "{body}");
    assert_eq!(claim(&app, &campaign, "u1").await.0, ids[0]);
});

/// A campaign of one customer, busy at its first call of three, then
/// `max_call_retry` lowered to 1: out of calls, with a retry delay of
/// `time_between_two_call` minutes. The campaign and its customers' ids.
async fn out_of_calls_after_a_busy_call(app: &TestApp, time_between_two_call: i64) -> (String, Vec<i64>) {
    let settings = json!({"max_call_retry": 3, "time_between_two_call": time_between_two_call});
    let (campaign, ids) = running(app, settings, &[&[1]]).await;
    let (id, c1, _) = claim(app, &campaign, "u1").await;
    reported(app, id, &c1, "busy", json!({})).await;
    let (s, _) = app.put(&format!("/v1/campaign/{campaign}"), json!({"max_call_retry": 1})).await;
    assert_eq!(s, 200);
    (campaign, ids)
}

backend_test!(a_customer_out_of_calls_after_max_call_retry_is_lowered_is_waiting_not_finished, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = out_of_calls_after_a_busy_call(&app, 0).await;
    // Status 1 is not a finished customer: the list is not empty, nothing is due.
    for _ in 0..2 {
        assert_eq!(nobody(&app, &campaign, "u1").await, ("nothing_due".into(), Value::Null));
    }
    assert_eq!(explain(&app, ids[0], Some("u1")).await["reasons"], json!(["no_calls_left"]));
    let (s, _) = app.put(&format!("/v1/campaign/{campaign}"), json!({"max_call_retry": 3})).await;
    assert_eq!(s, 200);
    assert_eq!(claim(&app, &campaign, "u1").await.0, ids[0], "raised again, it is called again");
});

backend_test!(a_customer_out_of_calls_during_its_retry_delay_is_explained_by_both, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = out_of_calls_after_a_busy_call(&app, 10).await;
    let why = explain(&app, ids[0], Some("u1")).await;
    assert_eq!((&why["reasons"], &why["next_eligible_at"]), (&json!(["retry_not_due", "no_calls_left"]), &Value::Null));
    // The delay's end makes nobody callable: a hand-out and the stats promise no time.
    assert_eq!(nobody(&app, &campaign, "u1").await, ("nothing_due".into(), Value::Null));
    assert_eq!(stats(&app, &campaign).await["next_eligible_at"], Value::Null);
    let (s, _) = app.put(&format!("/v1/campaign/{campaign}"), json!({"max_call_retry": 3})).await;
    assert_eq!(s, 200);
    let why = explain(&app, ids[0], Some("u1")).await;
    assert_eq!(why["reasons"], json!(["retry_not_due"]), "{why}");
    let end = why["next_eligible_at"].as_i64().unwrap();
    assert!(end > now_secs() + 500, "the delay's end: {why}");
    assert_eq!(nobody(&app, &campaign, "u1").await, ("nothing_due".into(), json!(end)));
    assert_eq!(stats(&app, &campaign).await["next_eligible_at"], json!(end));
});

backend_test!(unknown_and_unassigned_agents_are_r4_where_an_agent_is_named, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({}), &[&[1]]).await;
    let (s, body) = app.get(&format!("/v1/customcampaign/{}/explain?stringee_user_id=ghost", ids[0])).await;
    assert_eq!((s, body), (404, error(4, "agent with stringee_user_id 'ghost' not found")));
    let outsider = agent(&app, "outsider").await;
    let why = explain(&app, ids[0], Some("outsider")).await;
    assert_eq!(why["reasons"], json!(["agent_not_assigned"]), "an agent of the account is judged: {why}");
    let (s, body) = app
        .post("/v1/customcampaign/findcustomermanager", json!({"campaign": campaign, "stringee_user_id": "outsider"}))
        .await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)), "{body}");
    let (s, body) = app
        .post("/v1/customcampaign/findcustomermanager", json!({"campaign": campaign, "stringee_user_id": "ghost"}))
        .await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)), "{body}");
    let quota = json!({"agent_id": outsider, "campaign": campaign, "quota_type": 1, "quota_call_out": 3});
    let (s, body) = app.post("/v1/campagent/setquota", quota).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)), "{body}");
    let quota = json!({"agent_id": "AG000000", "campaign": campaign, "quota_type": 1, "quota_call_out": 3});
    let (s, body) = app.post("/v1/campagent/setquota", quota).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)), "{body}");
    let quota = json!({"agent_id": outsider, "campaign": "CA000000", "quota_type": 1, "quota_call_out": 3});
    let (s, body) = app.post("/v1/campagent/setquota", quota).await;
    assert_eq!((s, body["r"].clone()), (404, json!(3)), "the campaign is checked first: {body}");
});

backend_test!(stats_say_when_a_campaign_that_starts_later_has_someone_to_call, async {
    let app = TestApp::spawn().await;
    let start = (now_secs() + 3600) * 1000;
    let (campaign, _) = running(&app, json!({"start_time": start}), &[&[1]]).await;
    let figures = stats(&app, &campaign).await;
    assert_eq!(figures["callable_now"], 0, "{figures}");
    assert_eq!(figures["next_eligible_at"], start / 1000, "{figures}");
    // Paused, no clock runs.
    app.post(&format!("/v1/campaign/{campaign}/pause"), json!({})).await;
    assert_eq!(stats(&app, &campaign).await["next_eligible_at"], Value::Null);
});

backend_test!(a_useronly_callback_is_due_for_its_agent_at_its_time_and_for_others_after_the_grace, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({"callback_grace_seconds": 600}), &[&[1]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let at = now_secs() + 300;
    reported(&app, id, &c1, "callback", json!({"callback_time": at})).await;
    assert_eq!(nobody(&app, &campaign, "u1").await, ("nothing_due".into(), json!(at)));
    assert_eq!(nobody(&app, &campaign, "u2").await, ("nothing_due".into(), json!(at + 600)));
    assert_eq!(stats(&app, &campaign).await["next_eligible_at"], at, "its owner can have it at its time");
    let why = explain(&app, id, None).await;
    assert_eq!((why["reasons"].clone(), why["next_eligible_at"].clone()), (json!(["callback_not_due"]), json!(at)));
    // For another agent, both reasons apply before the callback is due.
    let why = explain(&app, id, Some("u2")).await;
    assert_eq!(
        (why["reasons"].clone(), why["next_eligible_at"].clone()),
        (json!(["callback_not_due", "callback_other_agent"]), json!(at + 600))
    );
});

backend_test!(deleting_a_campaign_waits_for_live_claims_and_keeps_every_customers_history, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({}), &[&[1], &[2]]).await;
    let (id, c1, _) = claim(&app, &campaign, "u1").await;
    let (s, body) = app.delete(&format!("/v1/campaign/{campaign}")).await;
    assert_eq!((s, body["r"].clone()), (409, json!(7)), "{body}");
    assert_eq!(rows(&app, &campaign).await.len(), 2, "nothing was deleted");
    let (s, _) = app.post(&format!("/v1/customcampaign/{id}/release"), json!({"claim_id": c1})).await;
    assert_eq!(s, 200);
    let (s, body) = app.delete(&format!("/v1/campaign/{campaign}")).await;
    assert_eq!(s, 200, "{body}");
    let sid = json!(app.tenant.key_sid);
    let h = history(&app, ids[0]).await;
    let events: Vec<Value> = h.iter().map(|e| e["event"].clone()).collect();
    assert_eq!(json!(events), json!(["added", "claimed", "released", "deleted"]));
    assert_eq!((h[3]["actor"].clone(), h[3]["from_status"].clone()), (sid.clone(), json!(0)));
    let h = history(&app, ids[1]).await;
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(
        (h[0]["event"].clone(), h[0]["actor"].clone(), h[0]["to_status"].clone()),
        ("added".into(), sid, json!(0))
    );
    assert_eq!(h[1]["event"], "deleted");
    let (s, body) = app.get(&format!("/v1/customcampaign/{}/explain", ids[1])).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)));
    // Pages of a history.
    let (s, body) = app.get(&format!("/v1/customcampaign/{}/history?limit=3&page=2", ids[0])).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!((body["data"]["totalCount"].clone(), body["data"]["totalPages"].clone()), (json!(4), json!(2)));
    assert_eq!(body["data"]["rows"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"]["rows"][0]["event"], "deleted");
    let (s, body) = app.get(&format!("/v1/customcampaign/{}/history?limit=0", ids[0])).await;
    assert_eq!((s, body), (400, error(1, "limit must be between 1 and 1000")));
});

backend_test!(a_customer_added_as_do_not_call_shows_it_in_its_history, async {
    let app = TestApp::spawn().await;
    app.post("/v1/dnc", json!({"phones": [vn(1)]})).await;
    let (campaign, ids) = running(&app, json!({}), &[&[1], &[2]]).await;
    assert_eq!(row(&app, &campaign, ids[0]).await["status"], 8);
    assert_eq!(history(&app, ids[0]).await[0]["to_status"], 8);
    assert_eq!(history(&app, ids[1]).await[0]["to_status"], 0);
    let (s, _) = app.delete(&format!("/v1/customcampaign/{}", ids[0])).await;
    assert_eq!(s, 200);
    let h = history(&app, ids[0]).await;
    assert_eq!((h[0]["to_status"].clone(), h[1]["from_status"].clone()), (json!(8), json!(8)), "{h:?}");
});

backend_test!(the_campaigns_own_quota_holds_for_each_agent_without_setquota, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({"quota_type": 1, "quota_call_out": 1}), &[&[1], &[2], &[3]]).await;
    let (first, _, _) = claim(&app, &campaign, "u1").await;
    let (reason, next) = nobody(&app, &campaign, "u1").await;
    assert_eq!(reason, "quota_reached");
    assert!(next.as_i64().unwrap() > now_secs(), "{next}");
    let why = explain(&app, ids[2], Some("u1")).await;
    assert_eq!(why["reasons"], json!(["quota_reached"]), "{why}");
    let (second, _, _) = claim(&app, &campaign, "u2").await;
    assert_ne!(first, second);
    assert_eq!(nobody(&app, &campaign, "u2").await.0, "quota_reached");
    // quota_call_out 0 is no quota.
    let (s, _) = app.put(&format!("/v1/campaign/{campaign}"), json!({"quota_call_out": 0})).await;
    assert_eq!(s, 200);
    assert_eq!(claim(&app, &campaign, "u1").await.0, ids[2]);
});

backend_test!(a_do_not_call_back_ends_after_its_days_as_a_retry_or_as_unsuccessful, async {
    let app = TestApp::spawn().await;
    let settings = json!({"time_do_not_call": 1, "max_call_retry": 2, "time_between_two_call": 0});
    let (campaign, ids) = running(&app, settings, &[&[1], &[2]]).await;
    let (a, ca, _) = claim(&app, &campaign, "u1").await;
    reported(&app, a, &ca, "do_not_call_back", json!({})).await;
    let (b, cb, _) = claim(&app, &campaign, "u1").await;
    reported(&app, b, &cb, "busy", json!({})).await;
    let (b2, cb, _) = claim(&app, &campaign, "u1").await;
    assert_eq!(b2, b);
    reported(&app, b, &cb, "do_not_call_back", json!({})).await;
    assert_eq!(nobody(&app, &campaign, "u1").await.0, "nothing_due");
    // Two days pass for both calls; the campaign's setting is saved again.
    run_sql_on(
        app.backend,
        &app.db_url,
        "UPDATE customers SET last_time_make_call = last_time_make_call - 172800 WHERE status = 8",
    )
    .await;
    let (s, _) = app.put(&format!("/v1/campaign/{campaign}"), json!({"time_do_not_call": 1})).await;
    assert_eq!(s, 200);
    sleep(2.0).await;
    let a_row = row(&app, &campaign, ids[0]).await;
    assert_eq!((a_row["status"].clone(), a_row["do_not_call"].clone()), (json!(1), json!(0)), "calls left: {a_row}");
    let b_row = row(&app, &campaign, ids[1]).await;
    assert_eq!((b_row["status"].clone(), b_row["do_not_call"].clone()), (json!(7), json!(0)), "none left: {b_row}");
    assert_eq!(claim(&app, &campaign, "u1").await.0, ids[0]);
});

// With no calls left, a "do not call back" ends in status 7: its end is no clock,
// for the hand-out, explain and stats alike.
backend_test!(a_do_not_call_back_with_no_calls_left_promises_no_time, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({"time_do_not_call": 2, "max_call_retry": 1}), &[&[1]]).await;
    let (a, ca, _) = claim(&app, &campaign, "u1").await;
    reported(&app, a, &ca, "do_not_call_back", json!({})).await;
    assert_eq!(nobody(&app, &campaign, "u1").await, ("nothing_due".into(), Value::Null));
    let why = explain(&app, ids[0], Some("u1")).await;
    assert_eq!((&why["reasons"], &why["next_eligible_at"]), (&json!(["do_not_call", "no_calls_left"]), &Value::Null));
    assert_eq!(stats(&app, &campaign).await["next_eligible_at"], Value::Null);
    // With a call left, the end of its days is the clock.
    let (s, _) = app.put(&format!("/v1/campaign/{campaign}"), json!({"max_call_retry": 2})).await;
    assert_eq!(s, 200);
    let ends = row(&app, &campaign, a).await["last_time_make_call"].as_i64().unwrap() + 2 * 86_400;
    assert_eq!(nobody(&app, &campaign, "u1").await, ("nothing_due".into(), json!(ends)));
    assert_eq!(explain(&app, ids[0], Some("u1")).await["next_eligible_at"], ends);
});

// A claim past its lease is given back by the next request that meets it: explain
// and stats in the moment before a sweep see the customer as it was given back, and
// a result then goes from the status the expiry gave back, on both backends.
backend_test!(a_claim_past_its_lease_is_given_back_by_explain_stats_and_a_late_result, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({"claim_lease_seconds": 1}), &[&[1], &[2]]).await;
    let until_past = |handed: &Value| {
        let lease = handed["data"]["lease_expires_at"].as_i64().unwrap();
        async move {
            while now_secs() < lease {
                sleep(0.01).await;
            }
        }
    };
    let handed = receive(&app, &campaign, "u1").await;
    until_past(&handed).await;
    let why = explain(&app, ids[0], Some("u1")).await;
    assert_eq!((&why["callable"], &why["reasons"]), (&json!(true), &json!([])), "{why}");
    let handed = receive(&app, &campaign, "u1").await;
    let id = handed["data"]["id"].as_i64().unwrap();
    until_past(&handed).await;
    let figures = stats(&app, &campaign).await;
    assert_eq!((&figures["by_status"]["5"], &figures["claimed"]), (&json!(0), &json!(0)), "{figures}");
    assert_eq!(figures["callable_now"], 2, "{figures}");
    let handed = receive(&app, &campaign, "u1").await;
    let (id2, c2) = (handed["data"]["id"].as_i64().unwrap(), handed["data"]["claim_id"].as_str().unwrap().to_string());
    assert_eq!(id2, ids[0].min(id));
    until_past(&handed).await;
    reported(&app, id2, &c2, "busy", json!({})).await;
    let events: Vec<(Value, Value, Value)> = history(&app, id2)
        .await
        .iter()
        .map(|e| (e["event"].clone(), e["from_status"].clone(), e["to_status"].clone()))
        .collect();
    let last = &events[events.len() - 2..];
    assert_eq!(last, [(json!("expired"), json!(5), json!(0)), (json!("result"), json!(0), json!(1))], "{events:?}");
});

backend_test!(callbacks_go_own_first_then_earliest_whatever_their_calls, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({"max_call_retry": 1}), &[&[1], &[2], &[3], &[4]]).await;
    let now = now_secs();
    let mut handed = Vec::new();
    for (scope, at) in [("USERONLY", now + 3), ("ANYONE", now + 2), ("ANYONE", now + 1)] {
        let (id, c, _) = claim(&app, &campaign, "u1").await;
        let after = reported(&app, id, &c, "callback", json!({"callback_time": at, "callback_scope": scope})).await;
        assert_eq!((after["status"].clone(), after["number_call_out"].clone()), (json!(6), json!(1)));
        handed.push(id);
    }
    assert_eq!(handed, ids[..3]);
    while now_secs() <= now + 3 {
        sleep(0.1).await;
    }
    // u2 takes the earliest ANYONE callback; u1 gets its own first, then the next
    // ANYONE, then new customers, though every callback has used its one call.
    assert_eq!(claim(&app, &campaign, "u2").await.0, ids[2]);
    assert_eq!(claim(&app, &campaign, "u1").await.0, ids[0]);
    assert_eq!(claim(&app, &campaign, "u1").await.0, ids[1]);
    assert_eq!(claim(&app, &campaign, "u1").await.0, ids[3]);
});

backend_test!(a_campaigns_list_blocks_its_hand_outs_only_and_a_held_phone_blocks_every_campaign, async {
    let app = TestApp::spawn().await;
    let (first, f_ids) = running(&app, json!({}), &[&[1]]).await;
    let (second, s_ids) = also_running(&app, "Second", json!({}), &[&[1]]).await;
    app.post("/v1/dnc", json!({"phones": [vn(1)], "campaign": first})).await;
    assert_eq!(nobody(&app, &first, "u1").await, ("nothing_due".into(), Value::Null));
    let (id, c, phone) = claim(&app, &second, "u1").await;
    assert_eq!((id, phone.as_str()), (s_ids[0], stored(1).as_str()), "the other campaign still calls it");
    // While the second campaign's claim holds the phone, nobody else dials it.
    app.send(
        Method::DELETE,
        "/v1/dnc",
        Some(&app.tenant.token),
        Body::Json(json!({"phones": [vn(1)], "campaign": first})),
    )
    .await;
    let (reason, next) = nobody(&app, &first, "u2").await;
    assert_eq!(reason, "nothing_due");
    assert!(next.as_i64().unwrap() > now_secs(), "the lease's end: {next}");
    assert_eq!(explain(&app, f_ids[0], Some("u2")).await["phones"][0]["reasons"], json!(["phone_claimed"]));
    let (s, _) = app.post(&format!("/v1/customcampaign/{id}/release"), json!({"claim_id": c})).await;
    assert_eq!(s, 200);
    assert_eq!(claim(&app, &first, "u2").await.0, f_ids[0]);
});

backend_test!(care_calls_do_not_count_toward_the_advertising_cap, async {
    let app = TestApp::spawn().await;
    let (care, _) = running(&app, json!({"time_between_two_call": 0}), &[&[1]]).await;
    let (id, c, _) = claim(&app, &care, "u1").await;
    reported(&app, id, &c, "busy", json!({})).await;
    let (ads, ad_ids) =
        also_running(&app, "Ads", json!({"purpose": "advertising", "time_between_two_call": 0}), &[&[1]]).await;
    let (id, c, _) = claim(&app, &ads, "u1").await;
    assert_eq!(id, ad_ids[0], "a care call today does not use the advertising call");
    reported(&app, id, &c, "no_answer", json!({})).await;
    assert_eq!(nobody(&app, &ads, "u1").await.0, "nothing_due");
    // The care campaign has no cap of its own: it may call again.
    let (again, _, _) = claim(&app, &care, "u1").await;
    assert_eq!(again, rows(&app, &care).await[0]["id"]);
});

backend_test!(max_call_retry_zero_is_one_call_and_errors_are_retried_until_calls_run_out, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({"max_call_retry": 0, "time_between_two_call": 0}), &[&[1]]).await;
    let (id, c, _) = claim(&app, &campaign, "u1").await;
    assert_eq!(reported(&app, id, &c, "busy", json!({})).await["status"], 7);
    let (second, _) =
        also_running(&app, "Errors", json!({"max_call_retry": 2, "time_between_two_call": 0}), &[&[2]]).await;
    let (id, c, _) = claim(&app, &second, "u1").await;
    assert_eq!(reported(&app, id, &c, "error", json!({})).await["status"], 3);
    let (again, c, _) = claim(&app, &second, "u1").await;
    assert_eq!(again, id, "an error is retried like a failed call");
    let last = reported(&app, id, &c, "error", json!({})).await;
    assert_eq!((last["status"].clone(), last["number_call_out"].clone()), (json!(7), json!(2)));
    assert_eq!(nobody(&app, &second, "u1").await, ("list_empty".into(), Value::Null));
});

backend_test!(every_lifecycle_move_the_contract_allows_works, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[&[1]]).await;
    let step = |name: &str| format!("/v1/campaign/{campaign}/{name}");
    for (name, to) in [("pause", 3), ("start", 2), ("pause", 3), ("complete", 4)] {
        let (s, body) = app.post(&step(name), json!({})).await;
        assert_eq!((s, body["data"]["status"].clone()), (200, json!(to)), "{name}: {body}");
    }
    for from in ["approve", "start"] {
        let made = app.create_campaign(&format!("From {from}")).await;
        let mut steps = vec!["approve"];
        if from == "start" {
            steps.push("start");
        }
        for s in steps {
            app.post(&format!("/v1/campaign/{made}/{s}"), json!({})).await;
        }
        let (s, body) = app.post(&format!("/v1/campaign/{made}/complete"), json!({})).await;
        assert_eq!((s, body["data"]["status"].clone()), (200, json!(4)), "complete after {from}: {body}");
    }
    let fresh = app.create_campaign("Fresh").await;
    let (s, body) = app.post(&format!("/v1/campaign/{fresh}/resume"), json!({})).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)), "no such move: {body}");
});

backend_test!(agents_and_groups_are_updated_and_deleted_in_the_reference_shapes, async {
    let app = TestApp::spawn().await;
    let lan = agent(&app, "lan").await;
    let (s, body) = app.put(&format!("/v1/agent/{lan}"), json!({"name": "Lan Anh", "routing_type": 2})).await;
    assert_eq!((s, body), (200, json!({"r": 0, "msg": "Update agent success", "message": "Update agent success"})));
    let (_, body) = app.get(&format!("/v1/agent/{lan}")).await;
    assert_eq!((body["data"]["name"].clone(), body["data"]["routing_type"].clone()), (json!("Lan Anh"), json!(2)));
    let (_, body) = app.post("/v1/group", json!({"name": "Team"})).await;
    let team = body["groupID"].as_str().unwrap().to_string();
    let (s, body) = app.put(&format!("/v1/group/{team}"), json!({"name": "Team B"})).await;
    assert_eq!((s, body), (200, json!({"r": 0, "msg": "Update group success", "message": "Update group success"})));
    app.post("/v1/manage-agents-in-group", json!({"agent_id": lan, "group_id": team})).await;
    let (_, body) = app.get("/v1/group?page=1&limit=5").await;
    let data = &body["data"];
    assert_eq!(data["totalGroups"], "1", "{body}");
    assert_eq!((data["currentPage"].clone(), data["limit"].clone()), (json!(1), json!(5)));
    assert_eq!(data["groups"][0], json!({"id": team, "name": "Team B", "number_of_agent": 1}));
    let (_, body) = app.get(&format!("/v1/manage-agents-in-group?group={team}")).await;
    assert_eq!(body["data"]["totalCount"], "1", "{body}");
    assert_eq!(body["data"]["groupAgents"], json!([{"agent_id": lan, "group_id": team}]));
    let (s, body) = app.delete(&format!("/v1/group/{team}")).await;
    assert_eq!((s, body), (200, json!({"r": 0, "msg": "Delete group success", "message": "Delete group success"})));
    let (s, body) = app.delete(&format!("/v1/agent/{lan}")).await;
    assert_eq!((s, body), (200, json!({"r": 0, "msg": "Delete agent success", "message": "Delete agent success"})));
    let (s, body) = app.get(&format!("/v1/agent/{lan}")).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)));
    let (s, body) = app.delete(&format!("/v1/agent/{lan}")).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)));
});

backend_test!(assignments_are_made_listed_by_agent_and_removed, async {
    let app = TestApp::spawn().await;
    let (campaign, _) = running(&app, json!({}), &[&[1]]).await;
    let lan = agent(&app, "lan").await;
    let u1 = agent_id(&app, "u1").await;
    let (s, body) = app.post("/v1/campagent", json!({"campaign": campaign, "agent": [lan, u1]})).await;
    assert_eq!(s, 200, "{body}");
    let made = body["data"].as_array().unwrap();
    assert_eq!(made.len(), 1, "u1 was assigned already: {body}");
    let assignment = made[0]["id"].clone();
    let (_, body) = app.get(&format!("/v1/campagent?agent={lan}")).await;
    let listed = &body["data"]["rows"][0];
    assert_eq!(
        (listed["id"].clone(), listed["agent_id"].clone(), listed["campaign_id"].clone(), listed["type"].clone()),
        (assignment.clone(), json!(lan), json!(campaign), json!(1))
    );
    assert_eq!(listed["campaignname"], "Outbound");
    claim(&app, &campaign, "lan").await;
    let (s, _) = app.delete(&format!("/v1/campagent/{assignment}")).await;
    assert_eq!(s, 200);
    let (s, body) =
        app.post("/v1/customcampaign/receivecustomer", json!({"campaign": campaign, "stringee_user_id": "lan"})).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)), "{body}");
    let (s, body) = app.delete(&format!("/v1/campagent/{assignment}")).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)));
    let (_, body) = app.get(&format!("/v1/campagent?agent={lan}")).await;
    assert_eq!(body["data"]["totalCount"], 0);
});

backend_test!(findcampaignrunning_lists_the_performed_campaign_first, async {
    let app = TestApp::spawn().await;
    let (first, _) = running(&app, json!({}), &[&[1]]).await;
    let (second, _) = also_running(&app, "Second", json!({}), &[&[2]]).await;
    let listed = |body: &Value| -> Vec<Value> {
        body["data"]["rows"].as_array().unwrap().iter().map(|r| r["id"].clone()).collect()
    };
    let (_, body) = app.post("/v1/campaign/findcampaignrunning", json!({"stringee_user_id": "u1"})).await;
    assert_eq!(listed(&body), [json!(first), json!(second)], "{body}");
    let (s, body) = app.post("/v1/campagent/setperform", json!({"campaign": second, "stringee_user_id": "u1"})).await;
    assert_eq!((s, body), (200, json!({"r": 0, "msg": "Success"})));
    let (_, body) = app.post("/v1/campaign/findcampaignrunning", json!({"stringee_user_id": "u1"})).await;
    assert_eq!(listed(&body), [json!(second), json!(first)], "{body}");
    let (_, body) = app.post("/v1/campaign/findcampaignrunning", json!({"stringee_user_id": "u1", "limit": 1})).await;
    assert_eq!(
        (listed(&body).len(), body["data"]["totalCount"].clone(), body["data"]["totalPages"].clone()),
        (1, json!(2), json!(2))
    );
    let (_, body) =
        app.post("/v1/campaign/findcampaignrunning", json!({"stringee_user_id": "u1", "name": "second"})).await;
    assert_eq!(listed(&body), [json!(second)], "{body}");
    app.post("/v1/campagent/removeperform", json!({"stringee_user_id": "u1"})).await;
    app.post(&format!("/v1/campaign/{first}/pause"), json!({})).await;
    let (_, body) = app.post("/v1/campaign/findcampaignrunning", json!({"stringee_user_id": "u1"})).await;
    assert_eq!(listed(&body), [json!(second)], "only running campaigns: {body}");
    let (s, body) = app.post("/v1/campagent/setperform", json!({"campaign": first, "stringee_user_id": "ghost"})).await;
    assert_eq!((s, body["r"].clone()), (404, json!(4)));
});

backend_test!(findcustomermanager_pages_ten_at_a_time, async {
    let app = TestApp::spawn().await;
    let customers: Vec<Vec<u32>> = (1..=12).map(|n| vec![n]).collect();
    let lists: Vec<&[u32]> = customers.iter().map(|c| c.as_slice()).collect();
    let (campaign, _) = running(&app, json!({}), &lists).await;
    let mut held = Vec::new();
    for _ in 0..12 {
        held.push(claim(&app, &campaign, "u1").await.0);
    }
    let page = |n: i64| json!({"campaign": campaign, "stringee_user_id": "u1", "page": n});
    let (_, body) = app.post("/v1/customcampaign/findcustomermanager", page(1)).await;
    let data = &body["resFromPccApi"]["data"];
    assert_eq!((data["totalCount"].clone(), data["totalPages"].clone()), (json!("12"), json!(2)), "{body}");
    assert_eq!(data["rows"].as_array().unwrap().len(), 10);
    let (_, body) = app.post("/v1/customcampaign/findcustomermanager", page(2)).await;
    let ids: Vec<i64> =
        body["resFromPccApi"]["data"]["rows"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, held[10..], "by hand-out time");
});

backend_test!(paused_then_restarted_a_campaign_hands_out_where_it_left, async {
    let app = TestApp::spawn().await;
    let (campaign, ids) = running(&app, json!({}), &[&[1], &[2]]).await;
    assert_eq!(claim(&app, &campaign, "u1").await.0, ids[0]);
    app.post(&format!("/v1/campaign/{campaign}/pause"), json!({})).await;
    let body = receive(&app, &campaign, "u1").await;
    assert_eq!(body["reason"], "campaign_not_running");
    app.post(&format!("/v1/campaign/{campaign}/start"), json!({})).await;
    assert_eq!(claim(&app, &campaign, "u1").await.0, ids[1]);
});

/// The statuses of a campaign's customers as GET lists them, counted.
async fn counted(app: &TestApp, campaign: &str) -> Value {
    let mut by_status: serde_json::Map<String, Value> = (0..=8).map(|s| (s.to_string(), json!(0))).collect();
    for r in rows(app, campaign).await {
        let key = r["status"].to_string();
        by_status[&key] = json!(by_status[&key].as_i64().unwrap() + 1);
    }
    Value::Object(by_status)
}

backend_test!(stats_counts_follow_every_path_that_adds_changes_or_removes_customers, async {
    let app = TestApp::spawn().await;
    app.post("/v1/dnc", json!({"phones": [vn(9)]})).await;
    let customers: Vec<Vec<u32>> = (1..=40).map(|n| vec![n]).collect();
    let mut lists: Vec<&[u32]> = customers.iter().map(|c| c.as_slice()).collect();
    lists.push(&[9]);
    let settings = json!({"max_call_retry": 2, "time_between_two_call": 0, "time_do_not_call": 1});
    let (campaign, ids) = running(&app, settings, &lists).await;
    let check = |when: &'static str| {
        let (app, campaign) = (&app, campaign.clone());
        async move {
            let figures = stats(app, &campaign).await;
            assert_eq!(figures["by_status"], counted(app, &campaign).await, "{when}: {figures}");
        }
    };
    check("after the add").await;
    // Every outcome, a stop and a resume, a release.
    let outcomes =
        ["success", "busy", "no_answer", "failed", "error", "wrong_number", "do_not_call_back", "dnc_request"];
    for outcome in outcomes.iter().cycle().take(30) {
        let (id, c, _) = claim(&app, &campaign, "u1").await;
        reported(&app, id, &c, outcome, json!({})).await;
    }
    let (id, c, _) = claim(&app, &campaign, "u2").await;
    reported(&app, id, &c, "callback", json!({"callback_time": now_secs() + 3600})).await;
    let (held, c, _) = claim(&app, &campaign, "u2").await;
    check("with a live claim").await;
    app.post(&format!("/v1/customcampaign/{held}/release"), json!({"claim_id": c})).await;
    app.post(&format!("/v1/customcampaign/{}/stop", ids[39]), json!({})).await;
    check("after a stop").await;
    app.post(&format!("/v1/customcampaign/{}/resume", ids[39]), json!({})).await;
    // Adds by phones and by file, with a duplicate to resolve; deletes.
    let (s, body) =
        app.post("/v1/customcampaign/add-by-phones", json!({"campaign_id": campaign, "phones": [vn(50), vn(9)]})).await;
    assert_eq!(s, 200, "{body}");
    let csv = format!("name,phone\nAn,{}\nBinh,{}\nChi,{}\n", vn(60), vn(61), vn(1));
    let (s, body) = app
        .send(
            Method::POST,
            "/v1/customcampaign",
            Some(&app.tenant.token),
            Body::Upload(crate::common::pairs(&[("campaign", &campaign)]), "leads.csv", csv.into_bytes()),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    check("after adds by phones and by file").await;
    let last = rows(&app, &campaign).await.last().unwrap()["id"].as_i64().unwrap();
    let (s, body) = app
        .post("/v1/customcampaign/keepduplicate", json!({"campaign": campaign, "listKeepCustomer": {stored(1): last}}))
        .await;
    assert_eq!(s, 200, "{body}");
    app.delete(&format!("/v1/customcampaign/{}", ids[20])).await;
    // Lowering max_call_retry, and do-not-call-backs ending.
    app.put(&format!("/v1/campaign/{campaign}"), json!({"max_call_retry": 1})).await;
    receive(&app, &campaign, "u1").await;
    run_sql_on(
        app.backend,
        &app.db_url,
        "UPDATE customers SET last_time_make_call = last_time_make_call - 172800 WHERE status = 8",
    )
    .await;
    app.put(&format!("/v1/campaign/{campaign}"), json!({"time_do_not_call": 1})).await;
    // The sweep wakes them and folds the counts' deltas.
    sleep(2.5).await;
    check("after the sweep").await;
    let (s, _) = app.get(&format!("/v1/campaign/{campaign}/stats")).await;
    assert_eq!(s, 200);
});
