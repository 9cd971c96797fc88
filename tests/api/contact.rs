//! CRM contacts (CONTRACT §5): create (both forms), get, update, delete, list.

use crate::common::{Body, TestApp, error, pairs};
use reqwest::Method;
use serde_json::{Value, json};

backend_test!(create_normalizes_phones_and_returns_the_id_twice, async {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .post(
            "/v1/contact",
            json!({"name": "Hoang", "phones": ["0346608877", "84346608877", "0654521598"],
                   "email": "hoang@example.com", "fields": {"city": "Hà Nội", "age": 30}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_str().unwrap();
    assert!(id.starts_with("CT") && id.len() == 10, "{id}");
    let created = &body["data"]["created"];
    let want = json!({"r": 0, "msg": "Success", "id": id, "data": {
        "id": id, "name": "Hoang", "phones": ["84346608877", "84654521598"],
        "email": "hoang@example.com", "fields": {"city": "Hà Nội", "age": 30},
        "portal": app.tenant.portal, "created": created, "updated": created}});
    assert_eq!(body, want);
    let (status, got) = app.get(&format!("/v1/contact/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got, json!({"r": 0, "msg": "Success", "data": want["data"]}));
});

backend_test!(create_accepts_the_system_field_form, async {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .post(
            "/v1/contact",
            json!({"systemField": [
                {"field_key": "name", "field_value": "Linh"},
                {"field_key": "phone", "field_value": "0901234567"},
                {"field_key": "email", "field_value": "linh@example.com"},
                {"field_key": "company", "field_value": "ACME"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["name"], "Linh");
    assert_eq!(data["phones"], json!(["84901234567"]));
    assert_eq!(data["email"], "linh@example.com");
    assert_eq!(data["fields"], json!({"company": "ACME"}));
});

backend_test!(create_accepts_form_encodings, async {
    let app = TestApp::spawn().await;
    let form =
        pairs(&[("name", "Hai"), ("phones[]", "0877777777"), ("phones[]", "0912345678"), ("fields[city]", "Huế")]);
    let (status, body) = app.send(Method::POST, "/v1/contact", Some(&app.tenant.token), Body::Form(form)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["phones"], json!(["84877777777", "84912345678"]));
    assert_eq!(body["data"]["fields"], json!({"city": "Huế"}));
    let form = pairs(&[("name", "Tai"), ("phones", "[\"0392095847\"]")]);
    let (status, body) = app.send(Method::POST, "/v1/contact", Some(&app.tenant.token), Body::Multipart(form)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["phones"], json!(["84392095847"]));
});

backend_test!(a_number_sent_for_text_is_its_digits_however_written, async {
    let app = TestApp::spawn().await;
    for (written, name) in [("1e3", "1000"), ("-0", "0"), ("1000.0", "1000"), ("3.5", "3.5"), ("42", "42")] {
        let body = format!(r#"{{"name": {written}, "phones": ["0901000123"]}}"#);
        let (status, got) = app
            .send(
                Method::POST,
                "/v1/contact",
                Some(&app.tenant.token),
                Body::Raw("application/json", body.into_bytes()),
            )
            .await;
        assert_eq!((status, &got["data"]["name"]), (200, &json!(name)), "{written}: {got}");
    }
});

backend_test!(create_refuses_bad_input_and_writes_nothing, async {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({}), 400, error(2, "missing name or phones")),
        (
            json!({"phones": ["12ab"]}),
            400,
            error(1, "phones: '12ab' is not a valid phone number, and there is no name"),
        ),
        (json!({"name": "x", "phones": [{"n": 1}]}), 400, error(1, "phones[0] must be a string")),
        (json!({"name": "x", "phones": [null, {"n": 1}]}), 400, error(1, "phones[1] must be a string")),
        (json!({"name": "x", "email": "nope"}), 400, error(1, "email 'nope' is not an email address")),
        (json!({"name": "x", "email": "a@@b.co"}), 400, error(1, "email 'a@@b.co' is not an email address")),
        (
            json!({"name": "x", "email": "mailto:a@b.co"}),
            400,
            error(1, "email 'mailto:a@b.co' is not an email address"),
        ),
        (
            json!({"name": "x", "email": "a@b.co,c@d.co"}),
            400,
            error(1, "email 'a@b.co,c@d.co' is not an email address"),
        ),
        (json!({"name": "x", "fields": "{bad"}), 400, error(1, "fields is not a valid JSON object")),
        (json!({"name": "x", "portal": "pt_nope"}), 404, error(4, "portal 'pt_nope' not found")),
        (json!({"systemField": [{"field_value": "x"}]}), 400, error(2, "missing systemField[0].field_key")),
        (
            json!({"systemField": [{"field_key": "name", "field_value": {"a": 1}}]}),
            400,
            error(1, "systemField[0].field_value must be a string for 'name'"),
        ),
        (
            json!({"systemField": [{"field_key": "name", "field_value": ["x"]},
                                   {"field_key": "phone", "field_value": "0901234567"}]}),
            400,
            error(1, "systemField[0].field_value must be a string for 'name'"),
        ),
        (
            json!({"systemField": [{"field_key": "email", "field_value": [1]}]}),
            400,
            error(1, "systemField[0].field_value must be a string for 'email'"),
        ),
    ];
    for (input, status, want) in cases {
        let (got_status, got) = app.post("/v1/contact", input.clone()).await;
        assert_eq!((got_status, &got), (status, &want), "{input}");
    }
    let (_, list) = app.get("/v1/contact").await;
    assert_eq!(list["data"]["totalCount"], 0);
    // A name and only impossible numbers: made without phones, the numbers reported.
    let (status, body) = app.post("/v1/contact", json!({"name": "x", "phones": ["12ab"]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["data"]["phones"], &body["dropped_phones"]), (&json!([]), &json!(["12ab"])));
    // A null in the list is no phone, as a null field is no field.
    let (status, body) = app.post("/v1/contact", json!({"name": "y", "phones": [null, "0901234567"]})).await;
    assert_eq!((status, &body["data"]["phones"]), (200, &json!(["84901234567"])), "{body}");
});

backend_test!(update_replaces_the_fields_sent, async {
    let app = TestApp::spawn().await;
    let c = app.create_contact(json!({"name": "A", "phones": ["0901234567"], "email": "a@example.com"})).await;
    let id = c["id"].as_str().unwrap();
    let (status, body) = app.put(&format!("/v1/contact/{id}"), json!({"phones": ["0912345678", "0987654321"]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["phones"], json!(["84912345678", "84987654321"]));
    assert_eq!(body["data"]["name"], "A");
    assert_eq!(body["data"]["email"], "a@example.com");
    let (_, got) = app.get(&format!("/v1/contact/{id}")).await;
    assert_eq!(got, body);
    let (status, body) = app.put(&format!("/v1/contact/{id}"), json!({"phones": ["x"]})).await;
    assert_eq!((status, body), (400, error(1, "phones: 'x' is not a valid phone number")));
    // Some good, some impossible: the good ones are kept, the others reported (CONTRACT §6).
    let (status, body) = app.put(&format!("/v1/contact/{id}"), json!({"phones": ["x", "0912345678"]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["data"]["phones"], &body["dropped_phones"]), (&json!(["84912345678"]), &json!(["x"])));
    let (status, body) = app.put("/v1/contact/CTNOPE0000", json!({"name": "x"})).await;
    assert_eq!((status, body), (404, error(4, "contact 'CTNOPE0000' not found")));
});

backend_test!(delete_removes_the_contact, async {
    let app = TestApp::spawn().await;
    let c = app.create_contact(json!({"name": "A"})).await;
    let path = format!("/v1/contact/{}", c["id"].as_str().unwrap());
    let (status, body) = app.delete(&path).await;
    assert_eq!((status, body), (200, json!({"r": 0, "msg": "Success"})));
    let (status, body) = app.get(&path).await;
    assert_eq!((status, body), (404, error(4, &format!("contact '{}' not found", c["id"].as_str().unwrap()))));
});

backend_test!(list_pages_in_creation_order_per_portal, async {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        app.create_contact(json!({"name": format!("c{i}"), "phones": [format!("090123456{i}")]})).await;
    }
    let (_, portal) = app.post("/v1/portal", json!({"name": "Other"})).await;
    let other = portal["data"]["id"].as_str().unwrap();
    app.create_contact(json!({"name": "elsewhere", "portal": other})).await;

    let (status, body) = app.get("/v1/contact?page=2&limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["totalCount"], 5);
    assert_eq!(body["data"]["totalPages"], 3);
    let rows = body["data"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["name"], "c2");
    assert_eq!(rows[0]["phones"], json!(["84901234562"]));
    assert_eq!(rows[1]["name"], "c3");

    let (_, body) = app.get(&format!("/v1/contact?portal={other}")).await;
    assert_eq!(body["data"]["totalCount"], 1);
    assert_eq!(body["data"]["rows"][0]["name"], "elsewhere");
    let (status, body) = app.get("/v1/contact?portal=pt_nope").await;
    assert_eq!((status, body), (404, error(4, "portal 'pt_nope' not found")));
});

backend_test!(other_accounts_contacts_do_not_exist, async {
    let app = TestApp::spawn().await;
    let c = app.create_contact(json!({"name": "Mine"})).await;
    let id = c["id"].as_str().unwrap();
    let other = app.new_tenant("B").await;
    let path = format!("/v1/contact/{id}");
    let not_found = error(4, &format!("contact '{id}' not found"));
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = app.send_as(&other, method, &path, Body::None).await;
        assert_eq!((status, &body), (404, &not_found));
    }
    let (status, body) = app.send_as(&other, Method::PUT, &path, Body::Json(json!({"name": "x"}))).await;
    assert_eq!((status, &body), (404, &not_found));
    // Another account's portal is as unknown as a made-up one.
    let (status, body) = app
        .send_as(&other, Method::POST, "/v1/contact", Body::Json(json!({"name": "x", "portal": app.tenant.portal})))
        .await;
    assert_eq!((status, body), (404, error(4, &format!("portal '{}' not found", app.tenant.portal))));
    let (_, mine) = app.get(&path).await;
    assert_eq!(mine["data"]["name"], "Mine");
});

// Renames of one contact racing each other (and a contact import of it) leave its
// last name, and only that, in the word index: each writer removes the entries of
// the name stored when it takes the contact's row, not of a name it read before.
backend_test!(racing_renames_of_a_contact_leave_only_its_last_name_searchable, async {
    let app = TestApp::spawn().await;
    let c = app.create_contact(json!({"name": "start", "phones": ["0901234567"]})).await;
    let id = c["id"].as_str().unwrap().to_string();
    let renames = (0..8).map(|t| {
        let (app, id) = (&app, id.clone());
        async move {
            for i in 0..10 {
                let (status, body) = app.put(&format!("/v1/contact/{id}"), json!({"name": format!("w{t}r{i}")})).await;
                assert_eq!(status, 200, "{body}");
            }
        }
    });
    futures_util::future::join_all(renames).await;
    let (_, got) = app.get(&format!("/v1/contact/{id}")).await;
    let last = got["data"]["name"].as_str().unwrap().to_string();
    for word in
        std::iter::once("start".to_string()).chain((0..8).flat_map(|t| (0..10).map(move |i| format!("w{t}r{i}"))))
    {
        let (_, found) = app.get(&format!("/v1/contact?query=name:{word}")).await;
        let expected = i64::from(word == last);
        assert_eq!(found["data"]["totalCount"], expected, "name:{word} (the last name is {last}): {found}");
    }
});

// A phone written with its area code in brackets, sent as the one value of `phone`
// or `phones` (in JSON or a form), is a phone, not JSON text gone wrong.
backend_test!(a_phone_in_brackets_is_a_phone_not_broken_json, async {
    let app = TestApp::spawn().await;
    let (status, body) = app.post("/v1/contact", json!({"name": "p", "phone": "[0912] 345 678"})).await;
    assert_eq!((status, &body["data"]["phones"]), (200, &json!(["84912345678"])), "{body}");
    let form = crate::common::pairs(&[("name", "q"), ("phones", "{0912345679}")]);
    let (status, body) =
        app.send(reqwest::Method::POST, "/v1/contact", Some(&app.tenant.token), crate::common::Body::Form(form)).await;
    assert_eq!((status, &body["data"]["phones"]), (200, &json!(["84912345679"])), "{body}");
    // JSON text that is a list stays a list.
    let (status, body) =
        app.post("/v1/contact", json!({"name": "r", "phones": "[\"0912345670\", \"0912345671\"]"})).await;
    assert_eq!((status, &body["data"]["phones"]), (200, &json!(["84912345670", "84912345671"])), "{body}");
});

backend_test!(a_contact_read_while_it_changes_is_one_version_of_it, async {
    // Its name and its phones were read by two statements: a read between a change's
    // commit and the next could pair one version's name with another's phones (a
    // customer added by id copied such a pair for good).
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let phone = |v: u32| format!("0970{v:06}");
    let made = app.create_contact(json!({"name": "v0", "phones": [phone(0)]})).await;
    let id = made["id"].as_str().unwrap().to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (app, id, stop) = (app.clone(), id.clone(), stop.clone());
        tokio::spawn(async move {
            let mut v = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                v += 1;
                let (s, body) =
                    app.put(&format!("/v1/contact/{id}"), json!({"name": format!("v{v}"), "phones": [phone(v)]})).await;
                assert_eq!(s, 200, "{body}");
            }
        })
    };
    let whole = |c: &Value| {
        let v: u32 = c["name"].as_str().unwrap()[1..].parse().unwrap();
        c["phones"] == json!([format!("84970{v:06}")])
    };
    for round in 0..120 {
        let (_, got) = app.get(&format!("/v1/contact/{id}")).await;
        assert!(whole(&got["data"]), "GET: {got}");
        let (_, found) = app.get("/v1/contact?query=name:v*").await;
        assert!(whole(&found["data"]["rows"][0]), "search: {found}");
        let campaign = app.create_campaign(&format!("Round {round}")).await;
        let (s, added) =
            app.post("/v1/customcampaign", json!({"campaign": campaign, "listcontacts": [{"id": id}]})).await;
        assert_eq!(s, 200, "{added}");
        let (_, list) = app.get(&format!("/v1/customcampaign?campaign={campaign}")).await;
        assert!(whole(&list["resFromPccApi"]["data"]["rows"][0]), "added by id: {list}");
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.unwrap();
});
