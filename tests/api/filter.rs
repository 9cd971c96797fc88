//! Saved filters (CONTRACT §5) and `listfilters` on POST /v1/customcampaign (§4).

use crate::common::{Body, TestApp, error, pairs};
use reqwest::Method;
use serde_json::{Value, json};

async fn seeded() -> TestApp {
    let app = TestApp::spawn().await;
    for (name, phones) in [
        ("Linh", vec!["0901000001"]),
        ("Đài", vec!["0901000002", "0912000002"]),
        ("Chị Soa", vec!["0901000003"]),
        ("No Phone", vec![]),
        ("Other", vec!["0901000005"]),
    ] {
        app.create_contact(json!({"name": name, "phones": phones})).await;
    }
    app
}

async fn customer_names(app: &TestApp, campaign: &str) -> Vec<String> {
    let (_, body) = app.get(&format!("/v1/customcampaign?campaign={campaign}&limit=100")).await;
    body["resFromPccApi"]["data"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

backend_test!(filters_are_saved_listed_read_and_deleted, async {
    let app = seeded().await;
    let (status, body) =
        app.post("/v1/filter", json!({"name": "Hot leads", "query": "name:linh OR name:\"Đài\""})).await;
    assert_eq!(status, 200, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("FT") && id.len() == 10, "{id}");
    assert_eq!(
        body,
        json!({"r": 0, "msg": "Success", "data": {"id": id, "name": "Hot leads",
            "query": "name:linh OR name:\"Đài\"", "portal": app.tenant.portal, "created": body["data"]["created"]}})
    );
    let (_, list) = app.get("/v1/filter").await;
    assert_eq!(list["data"]["totalCount"], 1);
    let (_, one) = app.get(&format!("/v1/filter/{id}")).await;
    assert_eq!(one["data"]["id"], json!(id));
    let (_, contacts) = app.get(&format!("/v1/filter/{id}/contacts")).await;
    let names: Vec<&str> =
        contacts["data"]["rows"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Linh", "Đài"]);
    let (status, body) = app.delete(&format!("/v1/filter/{id}")).await;
    assert_eq!((status, body), (200, json!({"r": 0, "msg": "Success"})));
    let (status, body) = app.get(&format!("/v1/filter/{id}")).await;
    assert_eq!((status, body), (404, error(4, &format!("filter '{id}' not found"))));
});

backend_test!(a_filter_with_an_invalid_query_is_refused, async {
    let app = seeded().await;
    let (status, body) = app.post("/v1/filter", json!({"name": "bad", "query": "name:"})).await;
    assert_eq!((status, body), (400, error(6, "invalid query: expected a value after 'name:' at 5")));
    let (status, body) = app.post("/v1/filter", json!({"name": "x"})).await;
    assert_eq!((status, body), (400, error(2, "missing query")));
    let (status, body) = app.post("/v1/filter", json!({"name": "x", "query": "*:*", "portal": "pt_nope"})).await;
    assert_eq!((status, body), (404, error(4, "portal 'pt_nope' not found")));
    let (_, list) = app.get("/v1/filter").await;
    assert_eq!(list["data"]["totalCount"], 0);
});

backend_test!(listfilters_add_matching_contacts_inside_the_database, async {
    let app = seeded().await;
    let campaign = app.create_campaign("From filters").await;
    let filters = json!([{"id": "FTRLF1YBHO", "query": "name:\"linh\" OR name:\"Đài\" OR name:\"Chị soa\" "}]);
    let form = pairs(&[("type", "2"), ("campaign", &campaign), ("listfilters", &filters.to_string())]);
    let (status, body) =
        app.send(Method::POST, "/v1/customcampaign", Some(&app.tenant.token), Body::Multipart(form)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"r": 0, "msg": "Success", "data": [], "summary": {"matched": 0, "dnc": 0, "total": 3, "added": 3, "skipped": 0,
            "invalid": 0, "repeated": 0, "invalid_rows": [], "dropped_phones": []}})
    );
    assert_eq!(customer_names(&app, &campaign).await, ["Linh", "Đài", "Chị Soa"]);
    let (_, rows) = app.get(&format!("/v1/customcampaign?campaign={campaign}&name=dai")).await;
    let row: &Value = &rows["resFromPccApi"]["data"]["rows"][0];
    assert_eq!(row["phones"], json!(["84901000002", "84912000002"]));
    assert_eq!(row["type"], 2);

    // Again, with everything: those already in are skipped, a phoneless one reported.
    let (status, body) =
        app.post("/v1/customcampaign", json!({"campaign": campaign, "listfilters": [{"query": "*:*"}]})).await;
    assert_eq!(status, 200, "{body}");
    let crm: Vec<Value> = body["data"].as_array().unwrap()[1..].to_vec();
    assert_eq!(body["data"][0], "contactexistis");
    assert_eq!(crm.len(), 3);
    assert_eq!(body["summary"]["added"], 1);
    assert_eq!(body["summary"]["total"], 5);
    assert_eq!(body["summary"]["invalid_rows"][0]["reason"], "no phone");
    assert_eq!(customer_names(&app, &campaign).await, ["Linh", "Đài", "Chị Soa", "Other"]);
});

backend_test!(listfilters_by_saved_id_and_failures, async {
    let app = seeded().await;
    let campaign = app.create_campaign("Saved").await;
    let (_, saved) = app.post("/v1/filter", json!({"name": "Linh", "query": "name:lin*"})).await;
    let id = saved["data"]["id"].as_str().unwrap();
    let (status, body) =
        app.post("/v1/customcampaign", json!({"campaign": campaign, "listfilters": [{"id": id}]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(customer_names(&app, &campaign).await, ["Linh"]);

    let before = customer_names(&app, &campaign).await;
    let cases = [
        (json!([{"id": "FTNOTHERE"}]), 404, error(4, "filter 'FTNOTHERE' not found")),
        (json!([{"query": "name:"}]), 400, error(6, "invalid query: expected a value after 'name:' at 5")),
        (json!([{"query": "*:*", "portal": "pt_nope"}]), 404, error(4, "portal 'pt_nope' not found")),
        (json!([{}]), 400, error(2, "missing listfilters[0].query or id")),
    ];
    for (filters, status, want) in cases {
        let (got_status, got) = app
            .post("/v1/customcampaign", json!({"campaign": campaign, "listcontacts": [{"id": "CTX", "name": "x", "phones": ["0987654321"]}], "listfilters": filters.clone()}))
            .await;
        assert_eq!((got_status, &got), (status, &want), "{filters}");
    }
    // Nothing of a failed request stays, not even its listcontacts.
    assert_eq!(customer_names(&app, &campaign).await, before);
});

backend_test!(another_accounts_filters_do_not_exist, async {
    let app = seeded().await;
    let (_, saved) = app.post("/v1/filter", json!({"name": "Mine", "query": "*:*"})).await;
    let id = saved["data"]["id"].as_str().unwrap().to_string();
    let other = app.new_tenant("B").await;
    for path in [format!("/v1/filter/{id}"), format!("/v1/filter/{id}/contacts")] {
        let (status, body) = app.send_as(&other, Method::GET, &path, Body::None).await;
        assert_eq!((status, body), (404, error(4, &format!("filter '{id}' not found"))));
    }
    let campaign = {
        let (_, c) = app.send_as(&other, Method::POST, "/v1/campaign", Body::Json(json!({"name": "B's"}))).await;
        c["data"]["id"].as_str().unwrap().to_string()
    };
    let (status, _) = app
        .send_as(
            &other,
            Method::POST,
            "/v1/customcampaign",
            Body::Json(json!({"campaign": campaign, "listfilters": [{"id": id}]})),
        )
        .await;
    assert_eq!(status, 404);
    // A query runs over the caller's own contacts only.
    let (_, body) = app
        .send_as(
            &other,
            Method::POST,
            "/v1/customcampaign",
            Body::Json(json!({"campaign": campaign, "listfilters": [{"query": "*:*"}]})),
        )
        .await;
    assert_eq!(body["summary"]["added"], 0);
});

backend_test!(a_contact_two_sources_of_one_request_name_is_a_repeat_not_a_skip, async {
    let app = seeded().await;
    let (_, contacts) = app.get("/v1/contact?limit=10").await;
    let id_of = |name: &str| -> String {
        contacts["data"]["rows"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (linh, dai) = (id_of("Linh"), id_of("Đài"));
    let campaign = app.create_campaign("Two sources").await;
    let (status, body) =
        app.post("/v1/customcampaign", json!({"campaign": campaign, "listfilters": [{"query": "name:linh"}]})).await;
    assert_eq!((status, body["summary"]["added"].clone()), (200, json!(1)), "{body}");

    // Đài is listed, then matched by both filters; Linh was in the campaign before.
    let (status, body) = app
        .post(
            "/v1/customcampaign",
            json!({"campaign": campaign, "listcontacts": [{"id": dai}],
                "listfilters": [{"query": "name:linh OR name:dai"}, {"query": "name:dai OR name:other"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let repeat = |row: i64| json!({"row": row, "id": dai, "reason": "repeats an earlier entry (same id)"});
    assert_eq!(
        body,
        json!({"r": 0, "msg": "Success", "data": ["contactexistis", linh],
            "summary": {"total": 5, "added": 2, "skipped": 1, "invalid": 0, "repeated": 2, "matched": 0, "dnc": 0,
                "invalid_rows": [repeat(0), repeat(1)], "dropped_phones": []}})
    );
    assert_eq!(customer_names(&app, &campaign).await, ["Linh", "Đài", "Other"]);
    let (_, listed) = app.get(&format!("/v1/customcampaign?campaign={campaign}&limit=10")).await;
    assert_eq!(listed["resFromPccApi"]["data"]["totalCount"], "3");

    // A file row naming a contact the request's filter just added repeats it too.
    let other = id_of("Other");
    let fresh = app.create_campaign("Filter then file").await;
    let filters = json!([{"query": "name:other"}]).to_string();
    let csv = format!("id,name,phone\n{other},Other,0901000005\n").into_bytes();
    let fields = [("campaign", fresh.as_str()), ("listfilters", filters.as_str())];
    let (status, body) = crate::common::upload(&app, "/v1/customcampaign", &fields, "leads.csv", csv).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["summary"],
        json!({"total": 2, "added": 1, "skipped": 0, "invalid": 0, "repeated": 1, "matched": 0, "dnc": 0,
            "invalid_rows": [{"row": 2, "id": other, "reason": "repeats an earlier entry (same id)"}],
            "dropped_phones": []})
    );
    assert_eq!(body["data"], json!([]));
});

backend_test!(a_filter_matching_more_than_one_step_adds_each_contact_once, async {
    // 9,000 contacts: more than two of SQLite's 4,096-row steps; three without a
    // phone in the first step, which are passed over wherever they stand.
    let app = TestApp::spawn().await;
    let mut phoneless = Vec::new();
    for i in 0..3 {
        phoneless
            .push(app.create_contact(json!({"name": format!("Lead without {i}"), "phones": []})).await["id"].clone());
    }
    let no_phone = |row: i64| -> Vec<Value> {
        phoneless.iter().map(|id| json!({"row": row, "id": id, "reason": "no phone"})).collect()
    };
    let mut csv = String::from("name,phone\n");
    for i in 0..9_000 {
        csv.push_str(&format!("Lead {i},0902{i:06}\n"));
    }
    let (status, body) = crate::common::upload(&app, "/v1/contact/import", &[], "contacts.csv", csv.into_bytes()).await;
    assert_eq!((status, body["data"]["added"].clone()), (200, json!(9_000)), "{body}");

    // Into an empty campaign: every match is added, in contact order.
    let empty = app.create_campaign("Empty").await;
    let (status, body) =
        app.post("/v1/customcampaign", json!({"campaign": empty, "listfilters": [{"query": "name:lead"}]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["summary"],
        json!({"total": 9_003, "added": 9_000, "skipped": 0, "invalid": 3, "repeated": 0, "matched": 0, "dnc": 0,
            "invalid_rows": no_phone(0), "dropped_phones": []})
    );
    let page = |n: usize| {
        let (app, empty) = (&app, &empty);
        async move {
            let (_, page) = app.get(&format!("/v1/customcampaign?campaign={empty}&page={n}&limit=10")).await;
            page["resFromPccApi"]["data"]["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r["name"].as_str().unwrap().to_string(), r["crm_id"].as_str().unwrap().to_string()))
                .collect::<Vec<_>>()
        }
    };
    let last = page(900).await;
    assert_eq!((last[0].0.as_str(), last[9].0.as_str()), ("Lead 8990", "Lead 8999"));
    let (lead5, lead4500, lead8000) =
        (page(1).await[5].1.clone(), page(451).await[0].1.clone(), page(801).await[0].1.clone());

    // Into a campaign holding some: those are skipped, the one listed first repeats.
    let some = app.create_campaign("Some").await;
    let (_, body) = app
        .post("/v1/customcampaign", json!({"campaign": some, "listcontacts": [{"id": lead5}, {"id": lead8000}]}))
        .await;
    assert_eq!(body["summary"]["added"], 2, "{body}");
    let (status, body) = app
        .post(
            "/v1/customcampaign",
            json!({"campaign": some, "listcontacts": [{"id": lead4500}], "listfilters": [{"query": "name:lead"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!(["contactexistis", lead5, lead8000]));
    // Rows count within their source (the filter is listfilters' row 0), rows without
    // a phone first.
    let invalid_rows: Vec<Value> =
        [no_phone(0), vec![json!({"row": 0, "id": lead4500, "reason": "repeats an earlier entry (same id)"})]].concat();
    assert_eq!(
        body["summary"],
        json!({"total": 9_004, "added": 8_998, "skipped": 2, "invalid": 3, "repeated": 1, "matched": 0, "dnc": 0,
            "invalid_rows": invalid_rows,
            "dropped_phones": []})
    );
    let (_, listed) = app.get(&format!("/v1/customcampaign?campaign={some}&limit=1")).await;
    assert_eq!(listed["resFromPccApi"]["data"]["totalCount"], "9000");
});
