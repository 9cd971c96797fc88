//! The reference "customcampaign" endpoints (CONTRACT §4): every encoding, the exact
//! reference JSON (pinned by snapshots of the bytes on the wire), duplicates,
//! keepduplicate, listing and deleting.

use crate::common::{Body, TestApp, error, pairs};
use reqwest::Method;
use serde_json::{Value, json};

/// The reference document's own listcontacts sample.
/// The exact bytes of an answer, pinned in tests/snapshots/NAME.snap: one file for
/// both backends, which must answer alike.
macro_rules! snapshot {
    ($name:expr, $text:expr) => {
        insta::with_settings!({ prepend_module_to_snapshot => false }, { insta::assert_snapshot!($name, $text) })
    };
}

fn reference_contacts() -> Value {
    json!([
        {"id": "CTKN242H2Y", "name": "Hoang", "phones": ["84346608877", "0654521598"]},
        {"id": "CT3NSRHTXF", "name": "Hai", "phones": ["84877777777"]}
    ])
}

/// Replaces what changes from run to run (campaign ids, clock) for snapshots.
fn redact(text: &str, campaign: &str) -> String {
    let text = text.replace(campaign, "[campaign]");
    replace_numbers_after(&text, "\"insert_time\":", "[time]")
}

/// Replaces the number after each `key` with `with`.
fn replace_numbers_after(text: &str, key: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(key) {
        out.push_str(&rest[..i + key.len()]);
        rest = &rest[i + key.len()..];
        let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        out.push_str(&format!("\"{with}\""));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

async fn add(app: &TestApp, campaign: &str, contacts: Value) -> (u16, Value) {
    app.post("/v1/customcampaign", json!({"campaign": campaign, "listcontacts": contacts})).await
}

async fn list(app: &TestApp, query: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/customcampaign?{query}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn ids(body: &Value) -> Vec<i64> {
    body["resFromPccApi"]["data"]["rows"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

backend_test!(add_with_multipart_json_text_as_the_reference_documents, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    let form = pairs(&[("type", "1"), ("campaign", &campaign), ("listcontacts", &reference_contacts().to_string())]);
    let (status, text) =
        app.send_raw(Method::POST, "/v1/customcampaign", Some(&app.tenant.token), Body::Multipart(form)).await;
    assert_eq!(status, 200, "{text}");
    snapshot!("add_reference_sample", text);

    let (_, text) = app
        .send_raw(
            Method::GET,
            &format!("/v1/customcampaign?campaign={campaign}&page=1&limit=10"),
            Some(&app.tenant.token),
            Body::None,
        )
        .await;
    snapshot!("list_reference_sample", redact(&text, &campaign));
});

backend_test!(adding_again_reports_contactexistis, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    add(&app, &campaign, reference_contacts()).await;
    let more = json!([{"id": "CTGZUZ073Z", "name": "Tai", "phones": ["0392095847"]}, reference_contacts()[1]]);
    let (status, text) = app
        .send_raw(
            Method::POST,
            "/v1/customcampaign",
            Some(&app.tenant.token),
            Body::Json(json!({"campaign": campaign, "listcontacts": more})),
        )
        .await;
    assert_eq!(status, 200);
    snapshot!("add_contactexistis", text);
});

// An entry of only an id (no CRM contact behind it) whose contact the campaign holds
// is skipped as any other, not reported as having no phone; one the campaign does not
// hold is reported; one an earlier entry of the same request added is a repeat.
backend_test!(an_entry_without_phones_whose_contact_is_in_the_campaign_is_skipped, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    let (status, body) =
        add(&app, &campaign, json!([{"id": "CTNOCRM001", "name": "An", "phones": ["0901234567"]}])).await;
    assert_eq!((status, &body["summary"]["added"]), (200, &json!(1)), "{body}");
    let (status, body) = add(
        &app,
        &campaign,
        json!([{"id": "CTNOCRM001"}, {"id": "CTNOCRM002"}, {"id": "CTNOCRM003", "phones": ["0901234568"]}, {"id": "CTNOCRM003"}]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!(["contactexistis", "CTNOCRM001"]), "{body}");
    let summary = &body["summary"];
    assert_eq!(
        (&summary["total"], &summary["added"], &summary["skipped"], &summary["invalid"], &summary["repeated"]),
        (&json!(4), &json!(1), &json!(1), &json!(1), &json!(1)),
        "{body}"
    );
    assert_eq!(
        summary["invalid_rows"],
        json!([
            {"row": 1, "id": "CTNOCRM002", "reason": "no phone"},
            {"row": 3, "id": "CTNOCRM003", "reason": "repeats row 2 (same id)"}
        ]),
        "{body}"
    );
});

// An entry without phones takes them from its CRM contact, which only the store
// knows: a later entry of the same id that gives phones is not its repeat. Without a
// CRM contact the first is "no phone" and the later one is added; with one, the first
// is added (the contact's phones) and the later one repeats it. In a list and in a
// file alike.
backend_test!(an_entry_without_phones_does_not_shadow_a_later_one_of_its_id_with_phones, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Shadow").await;
    let (status, body) = add(&app, &campaign, json!([{"id": "s4"}, {"id": "s4", "phones": ["0946000004"]}])).await;
    assert_eq!(status, 200, "{body}");
    let summary = &body["summary"];
    assert_eq!(
        (&summary["total"], &summary["added"], &summary["invalid"], &summary["repeated"]),
        (&json!(2), &json!(1), &json!(1), &json!(0)),
        "{body}"
    );
    assert_eq!(summary["invalid_rows"], json!([{"row": 0, "id": "s4", "reason": "no phone"}]), "{body}");
    let (_, listed) = app.get(&format!("/v1/customcampaign?campaign={campaign}&phone=0946000004")).await;
    assert_eq!(listed["resFromPccApi"]["data"]["rows"][0]["crm_id"], "s4", "{listed}");
    // A CRM contact with a phone: the entry without phones takes it.
    let contact = app.create_contact(json!({"name": "Có", "phones": ["0946000005"]})).await;
    let id = contact["id"].as_str().unwrap().to_string();
    let (status, body) = add(&app, &campaign, json!([{"id": id}, {"id": id, "phones": ["0946000006"]}])).await;
    assert_eq!(status, 200, "{body}");
    let summary = &body["summary"];
    assert_eq!((&summary["added"], &summary["repeated"]), (&json!(1), &json!(1)), "{body}");
    assert_eq!(summary["invalid_rows"][0]["reason"], "repeats an earlier entry (same id)", "{body}");
    let (_, listed) = app.get(&format!("/v1/customcampaign?campaign={campaign}&phone=0946000005")).await;
    assert_eq!(listed["resFromPccApi"]["data"]["rows"][0]["crm_id"], json!(id), "{listed}");
    // A file: a row with an id and no phone, then the same id with one.
    let file = b"id,name,phone\nKH11,Empty,\nKH11,Later,0947000011\n".to_vec();
    let (status, body) =
        crate::common::upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "leads.csv", file).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["summary"]["added"], &body["summary"]["invalid"]), (&json!(1), &json!(1)), "{body}");
    let (_, listed) = app.get(&format!("/v1/customcampaign?campaign={campaign}&phone=0947000011")).await;
    assert_eq!(listed["resFromPccApi"]["data"]["rows"][0]["name"], "Later", "{listed}");
});

// A field sent both as a value (JSON text) and as bracket fields is refused in either
// order: which one was meant cannot be told.
backend_test!(a_field_sent_as_a_value_and_as_brackets_is_refused_in_either_order, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Both").await;
    let json_text = ("listcontacts", r#"[{"id":"J1","phones":["0951000001"]}]"#);
    let brackets = [("listcontacts[0][id]", "BR1"), ("listcontacts[0][phones][]", "0951000002")];
    let want =
        error(1, "listcontacts arrives both as a value and as bracket fields (listcontacts[…]): send it one way");
    for order in [0, 1] {
        let mut fields = vec![("campaign", campaign.as_str())];
        if order == 0 {
            fields.push(json_text);
            fields.extend(brackets);
        } else {
            fields.extend(brackets);
            fields.push(json_text);
        }
        let (status, body) =
            app.send(Method::POST, "/v1/customcampaign", Some(&app.tenant.token), Body::Form(pairs(&fields))).await;
        assert_eq!((status, body), (400, want.clone()), "order {order}");
    }
    let (_, listed) = app.get(&format!("/v1/customcampaign?campaign={campaign}")).await;
    assert_eq!(listed["resFromPccApi"]["data"]["totalCount"], "0", "nothing was added: {listed}");
});

// A contact holds at most 100 numbers: an entry, a file row or a contact with more
// is refused, whole, on both backends (tens of thousands of numbers in one cell would
// otherwise be one lookup list past what either database binds).
backend_test!(an_entry_of_more_than_a_hundred_phones_is_refused, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    let numbers = |n: usize| (0..n).map(|i| format!("0971{i:06}")).collect::<Vec<_>>();
    let (status, body) = add(
        &app,
        &campaign,
        json!([{"id": "CTMANY0100", "phones": numbers(100)}, {"id": "CTMANY0101", "phones": numbers(40_000)}]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["added"], 1, "{body}");
    assert_eq!(
        body["summary"]["invalid_rows"],
        json!([{"row": 1, "id": "CTMANY0101", "reason": "more than 100 phones (40000)"}]),
        "{body}"
    );
    let cell = numbers(101).join(";");
    let (status, body) = crate::common::upload(
        &app,
        "/v1/customcampaign",
        &[("campaign", &campaign)],
        "many.csv",
        format!("name,phone\nMany,\"{cell}\"\nOne,0909999999\n").into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["added"], 1, "{body}");
    assert_eq!(body["summary"]["invalid_rows"][0]["reason"], "more than 100 phones (101)", "{body}");
    let (status, body) = app.post("/v1/contact", json!({"name": "Many", "phones": numbers(101)})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["msg"], "phones: more than 100 phones (101); a contact holds at most 100", "{body}");
});

backend_test!(add_with_php_brackets_urlencoded_and_multipart, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    let fields = pairs(&[
        ("campaign", &campaign),
        ("type", "1"),
        ("listcontacts[0][id]", "CTKN242H2Y"),
        ("listcontacts[0][name]", "Hoang"),
        ("listcontacts[0][phones][]", "84346608877"),
        ("listcontacts[0][phones][]", "0654521598"),
        ("listcontacts[1][id]", "CT3NSRHTXF"),
        ("listcontacts[1][name]", "Hai"),
        ("listcontacts[1][phones][0]", "84877777777"),
    ]);
    let (status, body) =
        app.send(Method::POST, "/v1/customcampaign", Some(&app.tenant.token), Body::Form(fields.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["added"], 2);
    let rows = list(&app, &format!("campaign={campaign}")).await;
    assert_eq!(rows["resFromPccApi"]["data"]["rows"][0]["phones"], json!(["84346608877", "84654521598"]));

    let other = app.create_campaign("A2").await;
    let mut fields = fields;
    fields[0].1 = other.clone();
    let (status, body) =
        app.send(Method::POST, "/v1/customcampaign", Some(&app.tenant.token), Body::Multipart(fields)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["added"], 2);
});

// `[]` after numbered entries appends after the highest, as PHP reads it: the entries
// are added in that order (customer ids increase with it).
backend_test!(an_append_after_a_numbered_entry_is_added_after_it, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    let fields = pairs(&[
        ("campaign", &campaign),
        ("listcontacts[5][id]", "CTSPARSE05"),
        ("listcontacts[5][phones][]", "0901234505"),
        ("listcontacts[][id]", "CTSPARSE06"),
        ("listcontacts[6][phones][]", "0901234506"),
        ("listcontacts[2][id]", "CTSPARSE02"),
        ("listcontacts[2][phones][]", "0901234502"),
    ]);
    let (status, body) =
        app.send(Method::POST, "/v1/customcampaign", Some(&app.tenant.token), Body::Form(fields)).await;
    assert_eq!((status, body["summary"]["added"].clone()), (200, json!(3)), "{body}");
    let rows = list(&app, &format!("campaign={campaign}")).await;
    let rows = rows["resFromPccApi"]["data"]["rows"].as_array().unwrap().clone();
    let seen: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r["crm_id"].as_str().unwrap().to_string(), r["phones"][0].as_str().unwrap().to_string()))
        .collect();
    let expected = [("CTSPARSE02", "84901234502"), ("CTSPARSE05", "84901234505"), ("CTSPARSE06", "84901234506")];
    assert_eq!(seen, expected.map(|(a, b)| (a.to_string(), b.to_string())));
});

backend_test!(add_with_json_body_and_string_numbers, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    let (status, body) = app
        .post(
            "/v1/customcampaign",
            json!({"campaign": campaign, "type": "1",
                   "listcontacts": [{"id": 12345, "name": "Số", "phones": [84901234567_i64, "912345678"]}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let rows = list(&app, &format!("campaign={campaign}")).await;
    let row = &rows["resFromPccApi"]["data"]["rows"][0];
    assert_eq!(row["crm_id"], "12345");
    assert_eq!(row["phones"], json!(["84901234567", "84912345678"]));
    assert_eq!(row["type"], 1);

    // A whole float is its integer; an integer past i64 keeps its digits.
    let more =
        json!([{"id": 678.0, "phones": ["0912345671"]}, {"id": 18446744073709551615_u64, "phones": ["0912345672"]}]);
    let (status, body) = app.post("/v1/customcampaign", json!({"campaign": campaign, "listcontacts": more})).await;
    assert_eq!((status, body["summary"]["added"].clone()), (200, json!(2)), "{body}");
    let rows = list(&app, &format!("campaign={campaign}")).await;
    let ids: Vec<Value> =
        rows["resFromPccApi"]["data"]["rows"].as_array().unwrap().iter().map(|r| r["crm_id"].clone()).collect();
    assert_eq!(ids, [json!("12345"), json!("678"), json!("18446744073709551615")]);
});

backend_test!(missing_name_and_phones_come_from_the_crm_contact, async {
    let app = TestApp::spawn().await;
    let contact = app.create_contact(json!({"name": "Linh", "phones": ["0386142833"]})).await;
    let crm = contact["id"].as_str().unwrap();
    let campaign = app.create_campaign("A1").await;
    let (status, body) = add(&app, &campaign, json!([{"id": crm}, {"id": "CTNOTINCRM", "name": "x"}])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["added"], 1);
    assert_eq!(body["summary"]["invalid_rows"], json!([{"row": 1, "id": "CTNOTINCRM", "reason": "no phone"}]));
    let rows = list(&app, &format!("campaign={campaign}")).await;
    let row = &rows["resFromPccApi"]["data"]["rows"][0];
    assert_eq!((row["name"].as_str(), row["phones"].clone()), (Some("Linh"), json!(["84386142833"])));
    // An empty name or phone list is a missing one.
    let other = app.create_campaign("A2").await;
    let (status, body) = add(&app, &other, json!([{"id": crm, "name": "", "phones": []}])).await;
    assert_eq!((status, body["summary"]["added"].clone()), (200, json!(1)), "{body}");
    let rows = list(&app, &format!("campaign={other}")).await;
    let row = &rows["resFromPccApi"]["data"]["rows"][0];
    assert_eq!((row["name"].as_str(), row["phones"].clone()), (Some("Linh"), json!(["84386142833"])));
});

backend_test!(entries_without_an_id_are_reported_and_make_no_crm_contact, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    let (status, body) = add(&app, &campaign, json!([{"name": "Walk-in", "phones": ["0901234567"]}])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["added"], 0, "{body}");
    assert_eq!(
        body["summary"]["invalid_rows"],
        json!([{"row": 0, "id": null, "reason": "no id: a listcontacts entry names its CRM contact by id"}])
    );
    let (_, contacts) = app.get("/v1/contact").await;
    assert_eq!(contacts["data"]["totalCount"], 0, "entries never create CRM contacts: {contacts}");
});

backend_test!(bad_rows_are_reported_and_good_ones_added, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    let (status, body) = add(
        &app,
        &campaign,
        json!([
            {"id": "CT1", "name": "ok", "phones": ["0901234567", "abc"]},
            {"id": "CT2", "name": "bad", "phones": ["12", "xyz"]},
            {"id": "CT1", "name": "again", "phones": ["0912345678"]},
            {"name": "new", "phones": ["0987654321"]},
            {"name": "new again", "phones": ["+84 987 654 321"]}
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"r": 0, "msg": "Success", "data": [], "summary": {"matched": 0, "dnc": 0,
            "total": 5, "added": 1, "skipped": 0, "invalid": 3, "repeated": 1,
            "invalid_rows": [
                {"row": 1, "id": "CT2", "reason": "no valid phone: 12, xyz"},
                {"row": 2, "id": "CT1", "reason": "repeats row 0 (same id)"},
                {"row": 3, "id": null, "reason": "no id: a listcontacts entry names its CRM contact by id"},
                {"row": 4, "id": null, "reason": "no id: a listcontacts entry names its CRM contact by id"}],
            "dropped_phones": [{"row": 0, "id": "CT1", "phone": "abc"}]}})
    );
});

backend_test!(malformed_requests_change_nothing, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    let cases = [
        (json!({"listcontacts": []}), 400, error(2, "missing campaign")),
        (
            json!({"campaign": "CANOPE00", "listcontacts": reference_contacts()}),
            404,
            error(3, "campaign 'CANOPE00' not found"),
        ),
        (
            json!({"campaign": campaign, "listcontacts": [{"id": "CT1", "phones": ["0901234567"]}, 5]}),
            400,
            error(1, "listcontacts[1] must be an object"),
        ),
        (
            json!({"campaign": campaign, "listcontacts": "[{\"id\": "}),
            400,
            error(1, "listcontacts is not a valid JSON array"),
        ),
        (json!({"campaign": campaign, "type": "x", "listcontacts": []}), 400, error(1, "type must be an integer")),
        (
            json!({"campaign": campaign, "listcontacts": [{"id": 1e300, "phones": ["0901234567"]}]}),
            400,
            error(1, "listcontacts[0].id must be a string or an integer (send a long number as a string)"),
        ),
        (
            json!({"campaign": campaign, "listcontacts": "notalist"}),
            400,
            error(1, "listcontacts must be a list of objects"),
        ),
        (json!({"campaign": campaign, "listfilters": 5}), 400, error(1, "listfilters must be a list of objects")),
        (
            json!({"campaign": campaign, "listcontacts": [{"id": "CT1", "phones": [{"a": 1}]}]}),
            400,
            error(1, "listcontacts[0].phones[0] must be a string"),
        ),
    ];
    for (input, status, want) in cases {
        let (got_status, got) = app.post("/v1/customcampaign", input.clone()).await;
        assert_eq!((got_status, &got), (status, &want), "{input}");
    }
    let rows = list(&app, &format!("campaign={campaign}")).await;
    assert_eq!(rows["resFromPccApi"]["data"]["totalCount"], "0");
});

backend_test!(another_accounts_campaign_is_not_found, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    let other = app.new_tenant("B").await;
    let not_found = error(3, &format!("campaign '{campaign}' not found"));
    for (path, body) in [
        ("/v1/customcampaign", json!({"campaign": campaign, "listcontacts": reference_contacts()})),
        ("/v1/customcampaign/add-by-phones", json!({"campaign_id": campaign, "phones": ["0901234567"]})),
        ("/v1/customcampaign/duplicate", json!({"campaign": campaign})),
        ("/v1/customcampaign/keepduplicate", json!({"campaign": campaign, "listKeepCustomer": {"84901234567": 1}})),
    ] {
        let (status, got) = app.send_as(&other, Method::POST, path, Body::Json(body)).await;
        assert_eq!((status, &got), (404, &not_found), "{path}");
    }
    let (status, got) =
        app.send_as(&other, Method::GET, &format!("/v1/customcampaign?campaign={campaign}"), Body::None).await;
    assert_eq!((status, &got), (404, &not_found));
});

backend_test!(add_by_phones_answers_the_documented_shape, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    add(&app, &campaign, reference_contacts()).await;
    let (status, text) = app
        .send_raw(
            Method::POST,
            "/v1/customcampaign/add-by-phones",
            Some(&app.tenant.token),
            Body::Json(json!({"campaign_id": campaign,
                "phones": ["0901234567", "0877777777", "not a phone", "84901234567", "0912345678"]})),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    snapshot!("add_by_phones", text);
    let rows = list(&app, &format!("campaign={campaign}")).await;
    let body = &rows["resFromPccApi"]["data"];
    assert_eq!(body["totalCount"], "4");
    assert_eq!(body["rows"][2]["phones"], json!(["84901234567"]));
    assert_eq!(body["rows"][2]["type"], 4);
    let (status, got) = app.post("/v1/customcampaign/add-by-phones", json!({"campaign_id": campaign})).await;
    assert_eq!((status, got), (400, error(2, "missing phones")));
});

backend_test!(add_by_phones_uses_the_crm_contact_with_that_phone, async {
    let app = TestApp::spawn().await;
    let contact = app.create_contact(json!({"name": "Known", "phones": ["0901234567"]})).await;
    let campaign = app.create_campaign("A1").await;
    let (status, body) =
        app.post("/v1/customcampaign/add-by-phones", json!({"campaign_id": campaign, "phones": ["84901234567"]})).await;
    assert_eq!(status, 200, "{body}");
    let rows = list(&app, &format!("campaign={campaign}")).await;
    let row = &rows["resFromPccApi"]["data"]["rows"][0];
    assert_eq!(row["crm_id"], contact["id"]);
    assert_eq!(row["name"], "Known");
});

/// Six customers: a1..a3 share one phone, a4..a6 another; a2 also has its own.
async fn duplicated_campaign(app: &TestApp) -> String {
    let campaign = app.create_campaign("Dup").await;
    let (status, body) = add(
        app,
        &campaign,
        json!([
            {"id": "CT01", "name": "a1", "phones": ["0368646891"]},
            {"id": "CT02", "name": "a2", "phones": ["0368646891", "0911111111"]},
            {"id": "CT03", "name": "a3", "phones": ["84368646891"]},
            {"id": "CT04", "name": "a4", "phones": ["0346608877"]},
            {"id": "CT05", "name": "a5", "phones": ["0346608877"]},
            {"id": "CT06", "name": "a6", "phones": ["0346608877"]},
            {"id": "CT07", "name": "alone", "phones": ["0922222222"]}
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    campaign
}

/// The bytes of a campaign's `/duplicate` answer, checked to be a 200.
async fn duplicate_bytes(app: &TestApp, campaign: &str) -> String {
    let (status, text) = app
        .send_raw(
            Method::POST,
            "/v1/customcampaign/duplicate",
            Some(&app.tenant.token),
            Body::Json(json!({"campaign": campaign})),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    text
}

backend_test!(duplicate_maps_each_shared_phone_to_its_customers, async {
    let app = TestApp::spawn().await;
    let campaign = duplicated_campaign(&app).await;
    let text = duplicate_bytes(&app, &campaign).await;
    snapshot!("duplicate", text);
    let empty = app.create_campaign("Empty").await;
    let (_, body) = app.post("/v1/customcampaign/duplicate", json!({"campaign": empty})).await;
    assert_eq!(body, json!({"r": 0, "msg": "Success", "data": {}}));
});

backend_test!(a_duplicate_answer_larger_than_one_chunk_arrives_whole, async {
    // 3,000 groups of two run to several of the 64 KiB chunks the answer is sent in.
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Many").await;
    let rows: Vec<Value> = (0..6000)
        .map(|i| json!({"id": format!("CT{i:05}"), "name": format!("Khách {i}"), "phones": [format!("0905{:06}", i / 2)]}))
        .collect();
    let (status, body) = add(&app, &campaign, Value::Array(rows)).await;
    assert_eq!(status, 200, "{body}");
    let text = duplicate_bytes(&app, &campaign).await;
    assert!(text.len() > 3 * 64 * 1024, "{} bytes", text.len());
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((&body["r"], &body["msg"]), (&json!(0), &json!("Success")));
    let groups = body["data"].as_object().unwrap();
    assert_eq!(groups.len(), 3000);
    assert_eq!(
        groups["84905001234"],
        json!([
            {"id": 2469, "name": "Khách 2468", "phone_number": "84905001234"},
            {"id": 2470, "name": "Khách 2469", "phone_number": "84905001234"}])
    );
});

backend_test!(duplicate_names_come_back_as_stored_whatever_characters_they_hold, async {
    // PostgreSQL reads the campaign by COPY, whose text escapes backslashes, tabs,
    // line breaks and a few control characters: each must come back as it went in.
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Odd names").await;
    let names = ["tab\there", "back\\slash", "line\nbreak", "cr\rlf", "\u{8}\u{b}\u{c}", "\\N", "\\", "Ngọc\\t"];
    let rows: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| json!({"id": format!("CT{i:02}"), "name": name, "phones": ["0905000001"]}))
        .collect();
    let (status, body) = add(&app, &campaign, Value::Array(rows)).await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&duplicate_bytes(&app, &campaign).await).unwrap();
    let got: Vec<&str> =
        body["data"]["84905000001"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(got, names);
});

backend_test!(keepduplicate_removes_phone_from_other_customers, async {
    let app = TestApp::spawn().await;
    let campaign = duplicated_campaign(&app).await;
    // a1 keeps the first phone: a2 keeps its other phone, a3 has none left and leaves.
    let (status, body) = app
        .post(
            "/v1/customcampaign/keepduplicate",
            json!({"campaign": campaign, "listKeepCustomer": {"84368646891": 1, "0346608877": "5"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"r": 0, "msg": "Success", "data": {"removed_phones": 4, "removed_customers": 3}}));
    let rows = list(&app, &format!("campaign={campaign}")).await;
    assert_eq!(ids(&rows), [1, 2, 5, 7]);
    assert_eq!(rows["resFromPccApi"]["data"]["totalCount"], "4");
    assert_eq!(rows["resFromPccApi"]["data"]["rows"][1]["phones"], json!(["84911111111"]));
    let (_, dup) = app.post("/v1/customcampaign/duplicate", json!({"campaign": campaign})).await;
    assert_eq!(dup["data"], json!({}));
});

backend_test!(keepduplicate_accepts_every_documented_form, async {
    let forms = [
        json!([{"84368646891": 3}]),
        json!([{"phone": "84368646891", "id": 3}]),
        json!("{\"84368646891\": 3}"),
        json!({"84368646891": 3.0}),
    ];
    for form in forms {
        let app = TestApp::spawn().await;
        let campaign = duplicated_campaign(&app).await;
        let (status, body) = app
            .post("/v1/customcampaign/keepduplicate", json!({"campaign": campaign, "listKeepCustomer": form.clone()}))
            .await;
        assert_eq!(status, 200, "{form}: {body}");
        assert_eq!(body["data"], json!({"removed_phones": 2, "removed_customers": 1}), "{form}");
    }
    let app = TestApp::spawn().await;
    let campaign = duplicated_campaign(&app).await;
    let form = pairs(&[("campaign", &campaign), ("listKeepCustomer[84368646891]", "3")]);
    let (status, body) =
        app.send(Method::POST, "/v1/customcampaign/keepduplicate", Some(&app.tenant.token), Body::Form(form)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"removed_phones": 2, "removed_customers": 1}));
});

backend_test!(keepduplicate_with_one_bad_pair_changes_nothing, async {
    let app = TestApp::spawn().await;
    let campaign = duplicated_campaign(&app).await;
    let before = list(&app, &format!("campaign={campaign}")).await;
    let cases = [
        (
            json!({"84368646891": 1, "84346608877": 1}),
            error(1, &format!("listKeepCustomer: customer 1 does not hold phone 84346608877 in campaign {campaign}")),
        ),
        (
            json!({"84368646891": 999}),
            error(1, &format!("listKeepCustomer: customer 999 does not hold phone 84368646891 in campaign {campaign}")),
        ),
        (json!({"abc": 1}), error(1, "listKeepCustomer: 'abc' is not a valid phone number")),
        (json!({"84368646891": "x"}), error(1, "listKeepCustomer: customer id for 84368646891 must be an integer")),
        (
            json!([{"84368646891": 1}, {"0368646891": 2}]),
            error(1, "listKeepCustomer: phone 84368646891 is named twice"),
        ),
        (json!({}), error(2, "missing listKeepCustomer")),
        (json!([{"phone": "84368646891"}]), error(2, "missing listKeepCustomer[0].id")),
        (json!([{"84368646891": 1}, {"id": 2}]), error(2, "missing listKeepCustomer[1].phone")),
    ];
    for (keep, want) in cases {
        let (status, body) = app
            .post("/v1/customcampaign/keepduplicate", json!({"campaign": campaign, "listKeepCustomer": keep.clone()}))
            .await;
        assert_eq!((status, &body), (400, &want), "{keep}");
    }
    assert_eq!(list(&app, &format!("campaign={campaign}")).await, before);
});

backend_test!(keepduplicate_cannot_reach_another_campaign, async {
    let app = TestApp::spawn().await;
    let campaign = duplicated_campaign(&app).await;
    let other = app.create_campaign("Other").await;
    add(&app, &other, json!([{"id": "CT99", "name": "x", "phones": ["0368646891"]}])).await;
    // Customer 8 is in the other campaign: naming it here is a bad pair.
    let (status, body) = app
        .post("/v1/customcampaign/keepduplicate", json!({"campaign": campaign, "listKeepCustomer": {"84368646891": 8}}))
        .await;
    assert_eq!(status, 400, "{body}");
    let rows = list(&app, &format!("campaign={other}")).await;
    assert_eq!(ids(&rows), [8]);
});

backend_test!(list_filters_by_name_accent_smart, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    add(
        &app,
        &campaign,
        json!([
            {"id": "C1", "name": "Đài", "phones": ["0901000001"]},
            {"id": "C2", "name": "Dài", "phones": ["0901000002"]},
            {"id": "C3", "name": "Nguyễn Văn Đài", "phones": ["0901000003"]},
            {"id": "C4", "name": "Chị Soa", "phones": ["0901000004"]}
        ]),
    )
    .await;
    assert_eq!(ids(&list(&app, &format!("campaign={campaign}&name=dai")).await), [1, 2, 3]);
    assert_eq!(ids(&list(&app, &format!("campaign={campaign}&name=DAI")).await), [1, 2, 3]);
    assert_eq!(ids(&list(&app, &format!("campaign={campaign}&name=%C4%90%C3%A0i")).await), [1, 3]); // Đài
    assert_eq!(ids(&list(&app, &format!("campaign={campaign}&name=%C4%91%C3%A0i")).await), [1, 3]); // đài
    assert_eq!(ids(&list(&app, &format!("campaign={campaign}&name=ngu%20da")).await), [3]);
    assert_eq!(ids(&list(&app, &format!("campaign={campaign}&name=soa")).await), [4]);
    assert_eq!(ids(&list(&app, &format!("campaign={campaign}&name=oa")).await), Vec::<i64>::new());
    // A name of no letters or digits matches nobody; a blank one is no filter.
    assert_eq!(ids(&list(&app, &format!("campaign={campaign}&name=%28")).await), Vec::<i64>::new());
    assert_eq!(ids(&list(&app, &format!("campaign={campaign}&name=%20")).await), [1, 2, 3, 4]);
    // Each word is one more condition: 32 at most, as a phrase of the filter language.
    let words = |n: usize| (0..n).map(|_| "soa").collect::<Vec<_>>().join("%20");
    assert_eq!(ids(&list(&app, &format!("campaign={campaign}&name={}", words(32))).await), [4]);
    for name in [words(33), words(600)] {
        let (status, body) = app.get(&format!("/v1/customcampaign?campaign={campaign}&name={name}")).await;
        assert_eq!((status, body), (400, error(1, "name may hold at most 32 words")));
    }
});

backend_test!(list_filters_by_status_and_phone_and_pages, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    let entries: Vec<Value> = (0..25)
        .map(|i| json!({"id": format!("C{i:02}"), "name": format!("n{i}"), "phones": [format!("09010000{i:02}")]}))
        .collect();
    add(&app, &campaign, Value::Array(entries)).await;
    let page = list(&app, &format!("campaign={campaign}&page=3&limit=10")).await;
    assert_eq!(ids(&page), (21..=25).collect::<Vec<_>>());
    assert_eq!(page["resFromPccApi"]["data"]["totalCount"], "25");
    assert_eq!(page["resFromPccApi"]["data"]["totalPages"], 3);
    // The first pages are one statement: past the end, of an empty campaign, of none.
    let past = list(&app, &format!("campaign={campaign}&page=4&limit=10")).await;
    assert_eq!((ids(&past), past["resFromPccApi"]["data"]["totalCount"].clone()), (vec![], json!("25")));
    let first = list(&app, &format!("campaign={campaign}&limit=3")).await;
    assert_eq!(ids(&first), [1, 2, 3]);
    let empty = app.create_campaign("A2").await;
    for page in [1, 2] {
        let none = list(&app, &format!("campaign={empty}&page={page}")).await;
        assert_eq!((ids(&none), none["resFromPccApi"]["data"]["totalCount"].clone()), (vec![], json!("0")));
    }
    let (status, body) = app.get("/v1/customcampaign?campaign=CANOSUCH&page=2").await;
    assert_eq!((status, body), (404, error(3, "campaign 'CANOSUCH' not found")));
    assert_eq!(ids(&list(&app, &format!("campaign={campaign}&phone=0901000007")).await), [8]);
    let s0 = list(&app, &format!("campaign={campaign}&status=0&limit=5")).await;
    assert_eq!(s0["resFromPccApi"]["data"]["totalCount"], "25");
    let s2 = list(&app, &format!("campaign={campaign}&status=2")).await;
    assert_eq!(s2["resFromPccApi"]["data"]["totalCount"], "0");
    assert_eq!(s2["resFromPccApi"]["data"]["totalPages"], 0);
    let (status, body) = app.get(&format!("/v1/customcampaign?campaign={campaign}&status=9")).await;
    assert_eq!((status, body), (400, error(1, "status must be between 0 and 8")));
    let (status, body) = app.get(&format!("/v1/customcampaign?campaign={campaign}&phone=12")).await;
    assert_eq!((status, body), (400, error(1, "phone '12' is not a valid phone number")));
});

backend_test!(list_reads_parameters_from_a_json_body_and_spans_campaigns, async {
    let app = TestApp::spawn().await;
    let a = app.create_campaign("A").await;
    let b = app.create_campaign("B").await;
    add(&app, &a, json!([{"id": "C1", "name": "x", "phones": ["0901000001"]}])).await;
    add(&app, &b, json!([{"id": "C1", "name": "x", "phones": ["0901000001"]}])).await;
    let (status, body) = app
        .send(
            Method::GET,
            "/v1/customcampaign",
            Some(&app.tenant.token),
            Body::Json(json!({"campaign": "", "name": "", "status": 0, "page": 1, "limit": 10})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), [1, 2]);
    assert_eq!(body["resFromPccApi"]["data"]["rows"][1]["campaignname"], "B");
    let (_, body) = app
        .send(
            Method::GET,
            "/v1/customcampaign",
            Some(&app.tenant.token),
            Body::Json(json!({"campaign": b, "page": "1", "limit": "10"})),
        )
        .await;
    assert_eq!(ids(&body), [2]);
    let other = app.new_tenant("B").await;
    let (_, body) = app.send_as(&other, Method::GET, "/v1/customcampaign", Body::None).await;
    assert_eq!(body["resFromPccApi"]["data"]["totalCount"], "0");
});

backend_test!(delete_by_path_or_body, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    add(&app, &campaign, reference_contacts()).await;
    let (status, body) = app.delete("/v1/customcampaign/1").await;
    assert_eq!((status, body), (200, json!({"r": 0, "msg": "Success"})));
    let (status, body) =
        app.send(Method::DELETE, "/v1/customcampaign", Some(&app.tenant.token), Body::Json(json!({"id": 2}))).await;
    assert_eq!((status, body), (200, json!({"r": 0, "msg": "Success"})));
    let rows = list(&app, &format!("campaign={campaign}")).await;
    assert_eq!(rows["resFromPccApi"]["data"]["totalCount"], "0");
    let (status, body) = app.delete("/v1/customcampaign/1").await;
    assert_eq!((status, body), (404, error(4, "customer 1 not found")));
    let (status, body) = app.delete("/v1/customcampaign/abc").await;
    assert_eq!((status, body), (400, error(1, "customer id 'abc' must be an integer")));
    // A sign other than `-` is not part of an integer.
    let (status, body) = app.delete("/v1/customcampaign/+3").await;
    assert_eq!((status, body), (400, error(1, "customer id '+3' must be an integer")));
    // An integer too large for any customer names none, on every customer path.
    let (status, body) = app.delete("/v1/customcampaign/99999999999999999999").await;
    assert_eq!((status, body), (404, error(4, "customer 99999999999999999999 not found")));
    let (status, body) = app.get("/v1/customcampaign/-99999999999999999999/explain").await;
    assert_eq!((status, body), (404, error(4, "customer -99999999999999999999 not found")));
    let (status, body) = app.delete("/v1/customcampaign/1e3").await;
    assert_eq!((status, body), (400, error(1, "customer id '1e3' must be an integer")));
    let (status, body) = app.get(&format!("/v1/customcampaign?campaign={campaign}&limit=%2B2")).await;
    assert_eq!((status, body), (400, error(1, "limit must be an integer")));
    // A page too large for an integer is a page past the list, as a JSON number too;
    // a limit too large is out of its range.
    for page in
        [json!(1e30), serde_json::from_str::<Value>("99999999999999999999999").unwrap(), json!("99999999999999999999")]
    {
        let body = json!({"campaign": campaign, "page": page, "limit": 1});
        let (status, body) =
            app.send(Method::GET, "/v1/customcampaign", Some(&app.tenant.token), Body::Json(body)).await;
        assert_eq!((status, body["resFromPccApi"]["data"]["rows"].clone()), (200, json!([])), "{page}: {body}");
    }
    for limit in [json!(1e30), json!(-1e30), json!("99999999999999999999")] {
        let body = json!({"campaign": campaign, "limit": limit});
        let (status, body) =
            app.send(Method::GET, "/v1/customcampaign", Some(&app.tenant.token), Body::Json(body)).await;
        assert_eq!((status, body), (400, error(1, "limit must be between 1 and 1000")), "{limit}");
    }
    let (status, body) = app.get(&format!("/v1/customcampaign?campaign={campaign}&limit=5&limit=7")).await;
    assert_eq!((status, body), (400, error(1, "limit must be one integer, not a list (a field sent twice is a list)")));
    let (status, body) =
        app.send(Method::DELETE, "/v1/customcampaign", Some(&app.tenant.token), Body::Json(json!({}))).await;
    assert_eq!((status, body), (400, error(2, "missing id")));
});

backend_test!(another_accounts_customer_is_not_found, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("A1").await;
    add(&app, &campaign, reference_contacts()).await;
    let other = app.new_tenant("B").await;
    let (status, body) = app.send_as(&other, Method::DELETE, "/v1/customcampaign/1", Body::None).await;
    assert_eq!((status, body), (404, error(4, "customer 1 not found")));
    assert_eq!(list(&app, &format!("campaign={campaign}")).await["resFromPccApi"]["data"]["totalCount"], "2");
});

backend_test!(concurrent_adds_of_one_contact_make_one_customer, async {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let campaign = app.create_campaign("Race").await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (app, campaign) = (app.clone(), campaign.clone());
        tasks.push(tokio::spawn(async move {
            let entries = json!([{"id": "CTSAME", "name": format!("try {i}"), "phones": ["0901234567"]},
                                 {"id": format!("CT{i:04}"), "name": "own", "phones": ["0912345678"]}]);
            add(&app, &campaign, entries).await
        }));
    }
    let mut added = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        added += body["summary"]["added"].as_i64().unwrap();
    }
    assert_eq!(added, 17);
    let rows = list(&app, &format!("campaign={campaign}&limit=100")).await;
    assert_eq!(rows["resFromPccApi"]["data"]["totalCount"], "17");
    let same: Vec<&Value> =
        rows["resFromPccApi"]["data"]["rows"].as_array().unwrap().iter().filter(|r| r["crm_id"] == "CTSAME").collect();
    assert_eq!(same.len(), 1);
});

backend_test!(lists_asked_at_once_never_answer_older_than_the_request, async {
    // Identical lists asked at once share one read: each answer must still hold every
    // add answered before its request was sent, and no other account's list.
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let campaign = app.create_campaign("Polled").await;
    let other = app.new_tenant("Other").await;
    let acked = std::sync::Arc::new(AtomicI64::new(0));
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for reader in 0..16 {
        let (app, campaign, acked, done, other) =
            (app.clone(), campaign.clone(), acked.clone(), done.clone(), other.clone());
        readers.push(tokio::spawn(async move {
            let mut answers = 0;
            while !done.load(Ordering::SeqCst) {
                let before = acked.load(Ordering::SeqCst);
                // The same question from another account: never its answer.
                let query = format!("/v1/customcampaign?campaign={campaign}&page=1&limit=5");
                if reader % 4 == 3 {
                    let (status, body) = app.send_as(&other, Method::GET, &query, Body::None).await;
                    assert_eq!(status, 404, "another account's list: {body}");
                    continue;
                }
                // Half the readers filter by name: a read that counts its matches, longer.
                let query = if reader % 2 == 0 { query } else { format!("{query}&name=polled") };
                let (status, body) = app.get(&query).await;
                assert_eq!(status, 200, "{body}");
                let data = &body["resFromPccApi"]["data"];
                let total: i64 = data["totalCount"].as_str().unwrap().parse().unwrap();
                assert!(total >= before, "an answer older than its request: {total} < {before}");
                assert_eq!(data["rows"].as_array().unwrap().len() as i64, total.min(5), "{body}");
                answers += 1;
            }
            answers
        }));
    }
    for i in 0..40 {
        let entry = json!([{"id": format!("CT{i:03}"), "name": "polled", "phones": [format!("09012{i:05}")]}]);
        let (status, body) = add(&app, &campaign, entry).await;
        assert_eq!(status, 200, "{body}");
        acked.store(i + 1, Ordering::SeqCst);
    }
    done.store(true, Ordering::SeqCst);
    let mut answers = 0;
    for r in readers {
        answers += r.await.unwrap();
    }
    assert!(answers > 0);
    let body = list(&app, &format!("campaign={campaign}&page=1&limit=5")).await;
    assert_eq!(body["resFromPccApi"]["data"]["totalCount"], "40");
});

backend_test!(campaign_create_with_contacts_is_one_transaction, async {
    let app = TestApp::spawn().await;
    let (status, body) =
        app.post("/v1/campaign", json!({"name": "With list", "listcontacts": reference_contacts()})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["added"], 2);
    let campaign = body["data"]["id"].as_str().unwrap();
    assert_eq!(list(&app, &format!("campaign={campaign}")).await["resFromPccApi"]["data"]["totalCount"], "2");
    let (status, body) = app.post("/v1/campaign", json!({"name": "Broken", "listcontacts": [1]})).await;
    assert_eq!((status, body), (400, error(1, "listcontacts[0] must be an object")));
    let (_, campaigns) = app.get("/v1/campaign").await;
    assert_eq!(campaigns["data"]["totalCount"], 1);
});

backend_test!(listcontacts_over_the_limit_is_refused, async {
    let limits = callsheet::config::Limits { listcontacts: 3, ..Default::default() };
    let app = TestApp::spawn_with(axum::Router::new(), limits).await;
    let campaign = app.create_campaign("A1").await;
    let entries: Vec<Value> = (0..4).map(|i| json!({"id": format!("C{i}"), "phones": ["0901234567"]})).collect();
    let (status, body) = add(&app, &campaign, Value::Array(entries)).await;
    assert_eq!((status, body), (413, error(9, "listcontacts has more than 3 entries; the limit is 3")));
    // add-by-phones counts numbers, an entry holding several counting for each.
    let phones = json!({"campaign_id": campaign, "phones": ["0901000001,0901000002;0901000003/0901000004"]});
    let (status, body) = app.post("/v1/customcampaign/add-by-phones", phones).await;
    assert_eq!((status, body), (413, error(9, "phones has 4 entries; the limit is 3")));
    // listKeepCustomer holds at most as many pairs, whatever their form.
    let keep: serde_json::Map<String, Value> = (0..4).map(|i| (format!("090123456{i}"), json!(i + 1))).collect();
    let (status, body) =
        app.post("/v1/customcampaign/keepduplicate", json!({"campaign": campaign, "listKeepCustomer": keep})).await;
    assert_eq!((status, body), (413, error(9, "listKeepCustomer has 4 entries; the limit is 3")));
});

backend_test!(deep_pages_follow_the_id_order_through_changes, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Deep").await;
    let entries = |from: usize, to: usize| {
        Value::Array(
            (from..to)
                .map(|i| json!({"id": format!("C{i:05}"), "name": "n", "phones": [format!("0901{i:06}")]}))
                .collect(),
        )
    };
    add(&app, &campaign, entries(0, 2600)).await;
    let mut expected: Vec<i64> = (1..=2600).collect();
    let check = |expected: Vec<i64>| {
        let (app, campaign) = (&app, campaign.clone());
        async move {
            for page in [1, 100, 101, 102, 129, 130, 131] {
                let got = ids(&list(app, &format!("campaign={campaign}&page={page}&limit=20")).await);
                let from = ((page - 1) * 20).min(expected.len());
                let want = &expected[from..(from + 20).min(expected.len())];
                assert_eq!(got, want, "page {page}");
            }
        }
    };
    check(expected.clone()).await;
    for id in [5, 1500, 2001] {
        app.delete(&format!("/v1/customcampaign/{id}")).await;
        expected.retain(|&x| x != id);
    }
    check(expected.clone()).await;
    add(&app, &campaign, entries(2600, 2700)).await;
    expected.extend(2601..=2700);
    check(expected).await;
});

backend_test!(a_customer_in_two_groups_is_named_in_both, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Two").await;
    add(
        &app,
        &campaign,
        json!([
            {"id": "A", "name": "both", "phones": ["0901000001", "0901000002"]},
            {"id": "B", "name": "b", "phones": ["0901000001"]},
            {"id": "C", "name": "c", "phones": ["0901000002"]}
        ]),
    )
    .await;
    let (_, body) = app.post("/v1/customcampaign/duplicate", json!({"campaign": campaign})).await;
    assert_eq!(
        body["data"],
        json!({
            "84901000001": [{"id": 1, "name": "both", "phone_number": "84901000001"}, {"id": 2, "name": "b", "phone_number": "84901000001"}],
            "84901000002": [{"id": 1, "name": "both", "phone_number": "84901000002"}, {"id": 3, "name": "c", "phone_number": "84901000002"}]
        })
    );
});

backend_test!(customer_ids_are_never_given_twice, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Ids").await;
    add(&app, &campaign, reference_contacts()).await;
    app.delete("/v1/customcampaign/2").await;
    add(&app, &campaign, json!([{"id": "CTNEW", "name": "n", "phones": ["0901234567"]}])).await;
    assert_eq!(ids(&list(&app, &format!("campaign={campaign}")).await), [1, 3]);
});

backend_test!(add_by_phones_of_thousands_attaches_skips_and_makes_contacts_as_one_by_one, async {
    let app = TestApp::spawn().await;
    let phone = |i: usize| format!("09{:08}", 10_000_000 + i);
    // Contacts holding phones 0..3000 (one holds two phones: 0 and 1), of which
    // phones 0..1000 are already customers of the campaign.
    let mut csv = String::from("name,phone\n");
    csv.push_str(&format!("Both,\"{}, {}\"\n", phone(0), phone(1)));
    for i in 2..3000 {
        csv.push_str(&format!("Known {i},{}\n", phone(i)));
    }
    let (status, body) = crate::common::upload(&app, "/v1/contact/import", &[], "known.csv", csv.into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    let campaign = app.create_campaign("Phones").await;
    let first: Vec<String> = (0..1000).map(phone).collect();
    let (status, body) =
        app.post("/v1/customcampaign/add-by-phones", json!({"campaign_id": campaign, "phones": first})).await;
    assert_eq!(status, 200, "{body}");
    // Phone 1 belongs to the contact phone 0 made a customer: skipped.
    assert_eq!((&body["data"]["added"], &body["data"]["skipped"]), (&json!(999), &json!(1)), "{}", body["data"]);
    // Phones 500..9500: 500 already in the campaign, 2000 attach to their contacts,
    // 6500 make new contacts; in chunks past the 4096 written at once.
    let second: Vec<String> = (500..9500).map(phone).collect();
    let (status, body) =
        app.post("/v1/customcampaign/add-by-phones", json!({"campaign_id": campaign, "phones": second})).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!((&data["total"], &data["added"], &data["skipped"]), (&json!(9000), &json!(8500), &json!(500)), "{data}");
    assert_eq!(data["skipped_phones"][0], "84910000500");
    let (_, found) = app.get(&format!("/v1/customcampaign?campaign={campaign}&phone={}", phone(2500))).await;
    assert_eq!(found["resFromPccApi"]["data"]["rows"][0]["name"], "Known 2500", "{found}");
    let (_, contacts) = app.get("/v1/contact?limit=1").await;
    assert_eq!(contacts["data"]["totalCount"], 2999 + 6500);
    let (_, list) = app.get(&format!("/v1/customcampaign?campaign={campaign}&limit=1")).await;
    assert_eq!(list["resFromPccApi"]["data"]["totalCount"], "9499");
});

backend_test!(adds_at_once_into_several_campaigns_make_one_contact_per_phone, async {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let phone = |i: usize| format!("09{:08}", 20_000_000 + i);
    let mut csv = String::from("name,phone\n");
    for i in 0..5000 {
        csv.push_str(&format!("Lead {i},{}\n", phone(i)));
    }
    let phones: Vec<String> = (5000..5050).map(phone).collect();
    let mut campaigns = Vec::new();
    for i in 0..3 {
        campaigns.push(app.create_campaign(&format!("At once {i}")).await);
    }
    // The same file and the same phones into three campaigns at once.
    let mut tasks = Vec::new();
    for campaign in &campaigns {
        let (app1, campaign1, csv) = (app.clone(), campaign.clone(), csv.clone());
        tasks.push(tokio::spawn(async move {
            let (app, campaign) = (app1, campaign1);
            let fields = [("campaign", campaign.as_str())];
            let (status, body) =
                crate::common::upload(&app, "/v1/customcampaign", &fields, "leads.csv", csv.into_bytes()).await;
            assert_eq!(status, 200, "{body}");
            body["summary"]["matched"].as_i64().unwrap()
        }));
        let (app, campaign, phones) = (app.clone(), campaign.clone(), phones.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"campaign_id": campaign, "phones": phones});
            let (status, body) = app.post("/v1/customcampaign/add-by-phones", body).await;
            assert_eq!((status, &body["data"]["added"]), (200, &json!(50)), "{body}");
            0
        }));
    }
    let mut matched = 0;
    for t in tasks {
        matched += t.await.unwrap();
    }
    // The first upload made the contacts; the other two attached to them.
    assert_eq!(matched, 10_000);
    let (_, contacts) = app.get("/v1/contact?limit=1").await;
    assert_eq!(contacts["data"]["totalCount"], 5050, "one contact per phone");
    for campaign in &campaigns {
        let (_, list) = app.get(&format!("/v1/customcampaign?campaign={campaign}&limit=1")).await;
        assert_eq!(list["resFromPccApi"]["data"]["totalCount"], "5050");
    }
});

backend_test!(adds_whose_clients_hang_up_commit_whole_or_not_at_all, async {
    // Clients that close their connection once their request is sent, some before
    // the server has answered: what each add wrote is there whole or not at all, and
    // the requests after them (more than the pool has connections) each commit whole:
    // a pooled connection given back inside a transaction would fold its writes into
    // the next request's.
    use std::io::Write;
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Hang-ups").await;
    let batch = |k: usize| {
        let rows: Vec<Value> = (0..400)
            .map(|i| json!({"id": format!("CT{k:02}{i:04}"), "name": format!("Hangup{k:02}"), "phones": [format!("09{k:02}{i:06}")]}))
            .collect();
        json!({"campaign": campaign, "listcontacts": rows})
    };
    let addr = app.addr;
    let token = app.tenant.token.clone();
    let bodies: Vec<String> = (0..24).map(|k| batch(k).to_string()).collect();
    tokio::task::spawn_blocking(move || {
        for (k, body) in bodies.iter().enumerate() {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            let head = format!(
                "POST /v1/customcampaign HTTP/1.1\r\nHost: callsheet\r\nX-STRINGEE-AUTH: {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(body.as_bytes()).unwrap();
            // Hang up after a varying moment, some before the server ends the add.
            std::thread::sleep(std::time::Duration::from_micros(250 * k as u64));
            s.shutdown(std::net::Shutdown::Both).ok();
        }
    })
    .await
    .unwrap();
    // More requests than the pool has connections, each whole.
    for k in 24..48 {
        let (status, body) = app.post("/v1/customcampaign", batch(k)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["summary"]["added"], json!(400), "{body}");
    }
    // Each hung-up add is there whole or not at all.
    for k in 0..48 {
        let rows = list(&app, &format!("campaign={campaign}&name=Hangup{k:02}&limit=1")).await;
        let total: i64 = rows["resFromPccApi"]["data"]["totalCount"].as_str().unwrap().parse().unwrap();
        assert!(total == 0 || total == 400, "add {k} left {total} customers");
        if k >= 24 {
            assert_eq!(total, 400, "add {k}");
        }
    }
});

/// A multipart body of the given parts, each `(headers, content)`, with boundary `XyZ`.
fn multipart(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (headers, content) in parts {
        body.extend_from_slice(format!("--XyZ\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--XyZ--\r\n");
    body
}

const MULTIPART: &str = "multipart/form-data; boundary=XyZ";

backend_test!(clients_of_the_reference_in_each_dialect_are_understood, async {
    let app = TestApp::spawn().await;
    let token = app.tenant.token.clone();
    let count = |body: &Value| body["resFromPccApi"]["data"]["totalCount"].clone();

    // PHP arrays with gaps in their indexes, or counting from 1 (after array_filter or
    // unset), as brackets and as json_encode writes them: the entries by index.
    let campaign = app.create_campaign("Sparse").await;
    let fields = pairs(&[
        ("campaign", &campaign),
        ("listcontacts[2][id]", "CTSPARSE02"),
        ("listcontacts[2][phones][1]", "0982000002"),
        ("listcontacts[0][id]", "CTSPARSE00"),
        ("listcontacts[0][phones][]", "0982000000"),
    ]);
    let (s, body) = app.send(Method::POST, "/v1/customcampaign", Some(&token), Body::Form(fields)).await;
    assert_eq!((s, body["summary"]["added"].clone()), (200, json!(2)), "{body}");
    let rows = list(&app, &format!("campaign={campaign}")).await;
    let ids: Vec<_> =
        rows["resFromPccApi"]["data"]["rows"].as_array().unwrap().iter().map(|r| r["crm_id"].clone()).collect();
    assert_eq!(ids, [json!("CTSPARSE00"), json!("CTSPARSE02")], "in the order of their indexes");
    let (s, body) = app
        .post(
            "/v1/customcampaign/add-by-phones",
            json!({"campaign_id": campaign, "phones": {"1": "0982000011", "3": "0982000013"}}),
        )
        .await;
    assert_eq!((s, body["data"]["added"].clone()), (200, json!(2)), "{body}");

    // A JSON body labelled as a form, as PHP's curl sends json_encode's text by
    // default: read as JSON, on GET and on POST.
    let labelled = |body: Value| Body::Raw("application/x-www-form-urlencoded", body.to_string().into_bytes());
    let (s, body) = app
        .send(Method::GET, "/v1/customcampaign", Some(&token), labelled(json!({"campaign": campaign, "limit": 10})))
        .await;
    assert_eq!((s, count(&body)), (200, json!("4")), "{body}");
    let phones = labelled(json!({"campaign": campaign, "phones": ["0982000021"]}));
    let (s, body) = app.send(Method::POST, "/v1/customcampaign/add-by-phones", Some(&token), phones).await;
    assert_eq!((s, body["data"]["added"].clone()), (200, json!(1)), "{body}");

    // The reference's content type on a request without a body.
    let path = format!("/v1/customcampaign?campaign={campaign}");
    let (s, body) = app.send(Method::GET, &path, Some(&token), Body::Raw(MULTIPART, Vec::new())).await;
    assert_eq!((s, count(&body)), (200, json!("5")), "{body}");

    // The same, chunked with no chunk (a stream that turns out empty).
    let raw = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nX-STRINGEE-AUTH: {token}\r\nContent-Type: {MULTIPART}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, raw.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // A trailing slash, as the reference writes its paths.
    let (s, body) = app.get(&format!("/v1/customcampaign/?campaign={campaign}")).await;
    assert_eq!((s, count(&body)), (200, json!("5")), "{body}");
    let first = body["resFromPccApi"]["data"]["rows"][0]["id"].clone();
    let (s, body) =
        app.send(Method::DELETE, "/v1/customcampaign/", Some(&token), Body::Json(json!({"id": first}))).await;
    assert_eq!((s, body["r"].clone()), (200, json!(0)), "{body}");

    // A file part named by RFC 5987's filename* alone, or by its type without a file
    // name; a list sent as a JSON blob (a browser's FormData).
    let csv = b"name,phone\nBlob A,0982000031\n";
    let campaign_field = "Content-Disposition: form-data; name=\"campaign\"";
    for file_headers in [
        "Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''danh%20s%C3%A1ch.csv\r\nContent-Type: text/csv",
        "Content-Disposition: form-data; name=\"file\"\r\nContent-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Content-Disposition: form-data; name=\"file\"\r\nContent-Type: text/csv",
    ] {
        let target = app.create_campaign("Parts").await;
        let body = multipart(&[(campaign_field, target.as_bytes()), (file_headers, csv)]);
        let (s, body) = app.send(Method::POST, "/v1/customcampaign", Some(&token), Body::Raw(MULTIPART, body)).await;
        assert_eq!((s, body["summary"]["added"].clone()), (200, json!(1)), "{file_headers}: {body}");
    }
    let target = app.create_campaign("Blob").await;
    let blob = br#"[{"id":"CTBLOB0001","phones":["0982000041"]}]"#;
    let body = multipart(&[
        (campaign_field, target.as_bytes()),
        (
            "Content-Disposition: form-data; name=\"listcontacts\"; filename=\"blob\"\r\nContent-Type: application/json",
            blob,
        ),
    ]);
    let (s, body) = app.send(Method::POST, "/v1/customcampaign", Some(&token), Body::Raw(MULTIPART, body)).await;
    assert_eq!((s, body["summary"]["added"].clone()), (200, json!(1)), "{body}");

    // The checks' order: an unknown filter or portal (r 4) before a completed
    // campaign's refusal (r 7).
    let (s, _) = app.post(&format!("/v1/campaign/{target}/complete"), json!({})).await;
    assert_eq!(s, 200);
    let (s, body) =
        app.post("/v1/customcampaign", json!({"campaign": target, "listfilters": [{"id": "FTNOPE0000"}]})).await;
    assert_eq!((s, body), (404, error(4, "filter 'FTNOPE0000' not found")));
    let (s, body) = app
        .post(
            "/v1/customcampaign",
            json!({"campaign": target, "listfilters": [{"query": "*:*", "portal": "pt_nope0000000000000"}]}),
        )
        .await;
    assert_eq!((s, body), (404, error(4, "portal 'pt_nope0000000000000' not found")));
    let (s, body) =
        app.post("/v1/customcampaign", json!({"campaign": target, "listfilters": [{"query": "*:*"}]})).await;
    assert_eq!((s, body["r"].clone()), (409, json!(7)), "{body}");
    // What no reading keeps whole is refused, naming it: numbered entries mixed with
    // named fields, broken JSON labelled as a form.
    for (fields, msg) in [(
        vec![("campaign", target.as_str()), ("listcontacts[1][id]", "CTA"), ("listcontacts[id]", "CTB")],
        "listcontacts mixes numbered entries and named fields: send a list, or number every entry",
    )] {
        let (s, body) = app.send(Method::POST, "/v1/customcampaign", Some(&token), Body::Form(pairs(&fields))).await;
        assert_eq!((s, body), (400, error(1, msg)));
    }
    let broken = Body::Raw("application/x-www-form-urlencoded", br#"{"name":"jj","#.to_vec());
    let (s, body) = app.send(Method::POST, "/v1/contact", Some(&token), broken).await;
    assert_eq!((s, body["r"].clone()), (400, json!(1)), "{body}");
    assert!(body["msg"].as_str().unwrap().contains("JSON"), "{body}");
    // A text field with a file's type, other than `file`, is still a text field.
    let body = multipart(&[
        ("Content-Disposition: form-data; name=\"campaign\"\r\nContent-Type: text/csv", target.as_bytes()),
        ("Content-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv", csv),
    ]);
    let (s, body) = app.send(Method::POST, "/v1/customcampaign", Some(&token), Body::Raw(MULTIPART, body)).await;
    assert_eq!((s, body["r"].clone()), (409, json!(7)), "the campaign was read: {body}");

    // The same as a job (`async`): told at once, in the same order.
    let late = json!({"campaign": target, "async": true, "listfilters": [{"id": "FTNOPE0000"}]});
    let (s, body) = app.post("/v1/customcampaign", late).await;
    assert_eq!((s, body), (404, error(4, "filter 'FTNOPE0000' not found")));
});

/// A campaign made of these `listcontacts` entries, its first customer's id, and the
/// campaign's delete, sent meanwhile from another task.
async fn racing_its_delete(
    app: &std::sync::Arc<TestApp>,
    round: u32,
    entries: Value,
) -> (String, i64, tokio::task::JoinHandle<(u16, Value)>) {
    let campaign = app.create_campaign(&format!("Round {round}")).await;
    app.post("/v1/customcampaign", json!({"campaign": campaign, "listcontacts": entries})).await;
    let (_, list) = app.get(&format!("/v1/customcampaign?campaign={campaign}")).await;
    let first = list["resFromPccApi"]["data"]["rows"][0]["id"].as_i64().unwrap();
    let delete = {
        let (app, campaign) = (app.clone(), campaign.clone());
        tokio::spawn(async move { app.delete(&format!("/v1/campaign/{campaign}")).await })
    };
    (campaign, first, delete)
}

backend_test!(a_customer_deleted_as_its_campaign_is_deleted_is_not_found, async {
    // The customer's delete found its campaign gone when it came to lock it, and
    // answered r 3 for a campaign the request never named (PostgreSQL).
    let app = std::sync::Arc::new(TestApp::spawn().await);
    for round in 0..10u32 {
        let entry = json!([{"id": format!("CT{round}"), "name": "Lan", "phones": ["0901234567"]}]);
        let (_, id, whole) = racing_its_delete(&app, round, entry).await;
        let (s, body) = app.delete(&format!("/v1/customcampaign/{id}")).await;
        assert!(s == 200 || (s, body["r"].clone()) == (404, json!(4)), "round {round}: {s} {body}");
        assert_eq!(whole.await.unwrap().0, 200);
    }
});

backend_test!(a_campaign_deleted_during_a_keepduplicate_takes_turns_with_it, async {
    // The delete locked the campaign's row, then its hand-out lock; keepduplicate the
    // other way round: at once, each waited for the other until PostgreSQL broke the
    // deadlock and one answered r 7 after a second.
    let app = std::sync::Arc::new(TestApp::spawn().await);
    for round in 0..10u32 {
        let entries = json!([{"id": format!("A{round}"), "name": "A", "phones": ["0901234567"]},
                             {"id": format!("B{round}"), "name": "B", "phones": ["0901234567"]}]);
        let (campaign, keep, delete) = racing_its_delete(&app, round, entries).await;
        let body = json!({"campaign": campaign, "listKeepCustomer": {"84901234567": keep}});
        let (s, kept) = app.post("/v1/customcampaign/keepduplicate", body).await;
        assert!(s == 200 || (s, kept["r"].clone()) == (404, json!(3)), "round {round}: {s} {kept}");
        let (s, deleted) = delete.await.unwrap();
        assert_eq!(s, 200, "round {round}: {deleted}");
    }
});
