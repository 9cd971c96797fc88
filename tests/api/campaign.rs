//! Campaigns (CONTRACT §5): create in every encoding, list with paging, get, update,
//! delete, and isolation between accounts.

use crate::common::{Body, TestApp, error, pairs};
use reqwest::Method;
use serde_json::{Value, json};

fn expected(id: &Value, portal: &str, created: &Value, fields: Value) -> Value {
    let mut data = json!({
        "id": id, "name": "", "desc1": "", "portal": portal, "start_time": 0, "end_time": 0,
        "max_call_retry": 3, "time_between_two_call": 30, "number": "", "status": 0,
        "auto_dialer_type": null, "type": null, "preview_time": null, "max_abandon_rate": null,
        "wait_greeting": null, "max_waiting_time": null, "quota_type": 0, "quota_call_out": 0,
        "time_do_not_call": 0, "businesshour": null, "retry_rules": [], "max_calls_per_phone_24h": 0,
        "claim_lease_seconds": 300, "callback_grace_seconds": 3600, "purpose": "care",
        "created": created, "updated": created, "agent": [], "group": [],
    });
    for (k, v) in fields.as_object().unwrap() {
        data[k] = v.clone();
    }
    json!({"r": 0, "msg": "Success", "data": data})
}

backend_test!(create_with_json_returns_the_campaign, async {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .post(
            "/v1/campaign",
            json!({"name": "Tết 2027", "desc1": "promo", "start_time": 1_700_000_000_000_i64,
                   "end_time": 1_800_000_000_000_i64, "max_call_retry": 2, "time_between_two_call": 60,
                   "number": "842873001234", "unknown": "ignored"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = &body["data"]["id"];
    let id_text = id.as_str().unwrap();
    assert!(id_text.starts_with("CA") && id_text.len() == 8 && id_text == id_text.to_uppercase());
    let want = expected(
        id,
        &app.tenant.portal,
        &body["data"]["created"],
        json!({"name": "Tết 2027", "desc1": "promo", "start_time": 1_700_000_000_000_i64,
               "end_time": 1_800_000_000_000_i64, "max_call_retry": 2, "time_between_two_call": 60,
               "number": "842873001234"}),
    );
    assert_eq!(body, want);
    let (status, got) = app.get(&format!("/v1/campaign/{id_text}")).await;
    assert_eq!(status, 200);
    assert_eq!(got, want);
});

backend_test!(create_with_multipart_and_string_numbers, async {
    let app = TestApp::spawn().await;
    let form = pairs(&[("name", "A1"), ("max_call_retry", "5"), ("time_between_two_call", "120")]);
    let (status, body) = app.send(Method::POST, "/v1/campaign", Some(&app.tenant.token), Body::Multipart(form)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        expected(
            &body["data"]["id"],
            &app.tenant.portal,
            &body["data"]["created"],
            json!({"name": "A1", "max_call_retry": 5, "time_between_two_call": 120})
        )
    );
});

backend_test!(create_with_urlencoded, async {
    let app = TestApp::spawn().await;
    let form = pairs(&[("name", "A2"), ("desc1", "x y"), ("start_time", "1000")]);
    let (status, body) = app.send(Method::POST, "/v1/campaign", Some(&app.tenant.token), Body::Form(form)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["name"], "A2");
    assert_eq!(body["data"]["desc1"], "x y");
    assert_eq!(body["data"]["start_time"], 1000);
});

backend_test!(create_in_another_portal, async {
    let app = TestApp::spawn().await;
    let (_, portal) = app.post("/v1/portal", json!({"name": "Sales"})).await;
    let portal = portal["data"]["id"].as_str().unwrap();
    let (status, body) = app.post("/v1/campaign", json!({"name": "P", "portal": portal})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["portal"], portal);
    let (status, body) = app.post("/v1/campaign", json!({"name": "P", "portal": "pt_nope"})).await;
    assert_eq!((status, body), (404, error(4, "portal 'pt_nope' not found")));
});

backend_test!(create_refuses_bad_input, async {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({}), 400, error(2, "missing name")),
        (json!({"name": "  "}), 400, error(2, "missing name")),
        (json!({"name": "x", "max_call_retry": "three"}), 400, error(1, "max_call_retry must be an integer")),
        (json!({"name": "x", "max_call_retry": -1}), 400, error(1, "max_call_retry must not be negative")),
        (json!({"name": "x", "start_time": 10, "end_time": 5}), 400, error(1, "end_time is before start_time")),
        (json!({"name": {"a": 1}}), 400, error(1, "name must be a string")),
        (
            json!({"name": "x", "retry_rules": [{"outcome": "busy", "delay_seconds": -1}]}),
            400,
            error(1, "retry_rules[0].delay_seconds must not be negative"),
        ),
        (
            json!({"name": "x", "retry_rules": [{"outcome": "busy", "delay_seconds": 60, "max_attempts": -2}]}),
            400,
            error(1, "retry_rules[0].max_attempts must not be negative"),
        ),
    ];
    for (input, status, want) in cases {
        let (got_status, got) = app.post("/v1/campaign", input.clone()).await;
        assert_eq!((got_status, &got), (status, &want), "{input}");
    }
    let (_, list) = app.get("/v1/campaign").await;
    assert_eq!(list["data"]["totalCount"], 0);
});

backend_test!(list_pages_and_filters_by_name, async {
    let app = TestApp::spawn().await;
    for name in ["Đài A", "dai B", "Other", "Dài C", "x"] {
        app.create_campaign(name).await;
    }
    let (status, body) = app.get("/v1/campaign?page=2&limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(body["r"], 0);
    assert_eq!(body["data"]["totalCount"], 5);
    assert_eq!(body["data"]["totalPages"], 3);
    let names: Vec<&str> =
        body["data"]["rows"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Other", "Dài C"]);

    let (_, body) = app.get("/v1/campaign?name=dai").await;
    assert_eq!(body["data"]["totalCount"], 3);
    let (_, body) = app.get("/v1/campaign?name=%C4%90%C3%A0i").await; // "Đài"
    assert_eq!(body["data"]["totalCount"], 1);
    assert_eq!(body["data"]["rows"][0]["name"], "Đài A");

    let (status, body) = app.get("/v1/campaign?limit=1001").await;
    assert_eq!((status, body), (400, error(1, "limit must be between 1 and 1000")));
    let (status, body) = app.get("/v1/campaign?page=0").await;
    assert_eq!((status, body), (400, error(1, "page must be 1 or more")));
});

backend_test!(list_reads_parameters_from_a_json_body, async {
    let app = TestApp::spawn().await;
    for name in ["a", "b", "c"] {
        app.create_campaign(name).await;
    }
    let (_, body) = app
        .send(Method::GET, "/v1/campaign", Some(&app.tenant.token), Body::Json(json!({"page": "2", "limit": "2"})))
        .await;
    assert_eq!(body["data"]["rows"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"]["rows"][0]["name"], "c");
});

backend_test!(update_changes_only_the_fields_sent, async {
    let app = TestApp::spawn().await;
    let id = app.create_campaign("Before").await;
    let (status, body) = app.put(&format!("/v1/campaign/{id}"), json!({"name": "After", "max_call_retry": "7"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["name"], "After");
    assert_eq!(body["data"]["max_call_retry"], 7);
    assert_eq!(body["data"]["time_between_two_call"], 30);
    let (_, got) = app.get(&format!("/v1/campaign/{id}")).await;
    assert_eq!(got, body);
    let (status, body) = app.put(&format!("/v1/campaign/{id}"), json!({"name": ""})).await;
    assert_eq!((status, body), (400, error(1, "name must not be empty")));
    let (status, body) = app.put("/v1/campaign/CANOPE00", json!({"name": "x"})).await;
    assert_eq!((status, body), (404, error(3, "campaign 'CANOPE00' not found")));
});

backend_test!(delete_removes_the_campaign, async {
    let app = TestApp::spawn().await;
    let id = app.create_campaign("Gone").await;
    let (status, body) = app.delete(&format!("/v1/campaign/{id}")).await;
    assert_eq!((status, body), (200, json!({"r": 0, "msg": "Success"})));
    let (status, body) = app.get(&format!("/v1/campaign/{id}")).await;
    assert_eq!((status, body), (404, error(3, &format!("campaign '{id}' not found"))));
    let (status, body) = app.delete(&format!("/v1/campaign/{id}")).await;
    assert_eq!((status, body), (404, error(3, &format!("campaign '{id}' not found"))));
});

backend_test!(other_accounts_campaigns_do_not_exist, async {
    let app = TestApp::spawn().await;
    let id = app.create_campaign("Mine").await;
    let other = app.new_tenant("B").await;
    let path = format!("/v1/campaign/{id}");
    let not_found = error(3, &format!("campaign '{id}' not found"));
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = app.send_as(&other, method, &path, Body::None).await;
        assert_eq!((status, &body), (404, &not_found));
    }
    let (status, body) = app.send_as(&other, Method::PUT, &path, Body::Json(json!({"name": "stolen"}))).await;
    assert_eq!((status, &body), (404, &not_found));
    let (_, body) = app.send_as(&other, Method::GET, "/v1/campaign", Body::None).await;
    assert_eq!(body["data"]["totalCount"], 0);
    let (_, mine) = app.get(&path).await;
    assert_eq!(mine["data"]["name"], "Mine");
});
