//! What probing as a hostile or careless client found, pinned so it stays fixed:
//! text no database can store, a row of a million columns, migrations edited after
//! release, and a PostgreSQL write whose statistics refresh fails after the commit.

use crate::common::{Body, TestApp, error, pairs};
use reqwest::Method;
use serde_json::json;

const NUL_REFUSED: &str = "contains a NUL byte, which cannot be stored";

backend_test!(text_with_a_nul_byte_is_refused_naming_the_field, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Nul").await;
    let nul = |field: &str| error(1, &format!("{field} {NUL_REFUSED}"));

    // A campaign id in a body, a query string and a path.
    let (status, body) = app.post("/v1/customcampaign", json!({"campaign": "CA\u{0}1", "listcontacts": []})).await;
    assert_eq!((status, body), (400, nul("campaign")));
    let (status, body) = app.get("/v1/customcampaign?campaign=CA%001").await;
    assert_eq!((status, body), (400, nul("campaign")));
    let (status, body) = app.get("/v1/campaign/CA%001").await;
    assert_eq!((status, body), (400, nul("the id in the path")));
    let (status, body) = app.delete("/v1/customcampaign/1%00").await;
    assert_eq!((status, body), (400, nul("the id in the path")));
    // A contact id, a portal, a listcontacts entry's name and a custom field's key.
    let (status, body) = app.get("/v1/contact/CT%00").await;
    assert_eq!((status, body), (400, nul("the id in the path")));
    let (status, body) =
        app.post("/v1/contact", json!({"name": "An", "phones": ["0901234567"], "portal": "pt_\u{0}"})).await;
    assert_eq!((status, body), (400, nul("portal")));
    let (status, body) = app
        .post(
            "/v1/customcampaign",
            json!({"campaign": campaign, "listcontacts": [{"id": "CT1", "name": "An", "phones": ["0901234567"]},
                {"id": "CT2", "name": "B\u{0}nh", "phones": ["0901234568"]}]}),
        )
        .await;
    assert_eq!((status, body), (400, nul("listcontacts[1].name")));
    let (status, body) =
        app.post("/v1/contact", json!({"name": "An", "phones": ["0901234567"], "fields": {"ci\u{0}ty": "Huế"}})).await;
    assert_eq!((status, body), (400, nul("fields.ci\u{0}ty")));
    // The same in the reference's multipart form, with the entries as JSON text.
    let entries = json!([{"id": "CT3", "name": "C\u{0}", "phones": ["0901234569"]}]).to_string();
    let form = pairs(&[("campaign", &campaign), ("listcontacts", &entries)]);
    let (status, body) =
        app.send(Method::POST, "/v1/customcampaign", Some(&app.tenant.token), Body::Multipart(form)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["r"], 1, "{body}");
    // A file with a NUL in a cell past its first 8 KB (where it would pass for a
    // binary file): the whole file is refused.
    let mut csv = b"name,phone\n".to_vec();
    for i in 0..600 {
        csv.extend(format!("An {i},0901{i:06}\n").bytes());
    }
    csv.extend(b"B\x00nh,0901234568\n");
    let (status, body) = app
        .send(
            Method::POST,
            "/v1/customcampaign",
            Some(&app.tenant.token),
            Body::Upload(pairs(&[("campaign", &campaign)]), "leads.csv", csv),
        )
        .await;
    assert_eq!((status, body), (422, error(8, "row 602, column A: the cell holds a NUL byte, which cannot be stored")));
    // Nothing was written by any of them.
    let (_, list) = app.get(&format!("/v1/customcampaign?campaign={campaign}")).await;
    assert_eq!(list["resFromPccApi"]["data"]["totalCount"], "0");
    let (_, contacts) = app.get("/v1/contact").await;
    assert_eq!(contacts["data"]["totalCount"], 0);
});

backend_test!(a_row_of_a_million_columns_is_answered_at_once, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Wide").await;
    // One data row 10^6 cells wide (~8 MB): refused for its width, without reading
    // the header once per cell (a .csv file before it is read, at its first cell
    // past the limit).
    let mut csv = b"name,phone\nAn,0901234567".to_vec();
    csv.extend(std::iter::repeat_n(b",x".as_slice(), 1_000_000).flatten());
    csv.push(b'\n');
    let request = app.send(
        Method::POST,
        "/v1/customcampaign",
        Some(&app.tenant.token),
        Body::Upload(pairs(&[("campaign", &campaign)]), "wide.csv", csv),
    );
    // A hang guard, not a speed check: the quadratic reading took minutes.
    let (status, body) = tokio::time::timeout(std::time::Duration::from_secs(120), request)
        .await
        .expect("a wide row must not take minutes");
    assert_eq!(
        (status, body),
        (422, error(8, "row 2 has a cell in column 16385 (XFE), past the 16384 columns a spreadsheet may have"))
    );
    // A wide row within the limit is read, its extra cells kept as custom fields.
    let header: Vec<String> =
        ["name".to_string(), "phone".into()].into_iter().chain((0..16_000).map(|i| format!("f{i}"))).collect();
    let row: Vec<String> =
        ["An".to_string(), "0901234567".into()].into_iter().chain((0..16_000).map(|i| i.to_string())).collect();
    let csv = format!("{}\n{}\n", header.join(","), row.join(",")).into_bytes();
    let (status, body) = app
        .send(
            Method::POST,
            "/v1/customcampaign",
            Some(&app.tenant.token),
            Body::Upload(pairs(&[("campaign", &campaign)]), "wide.csv", csv),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["added"], 1, "{body}");
    let crm_id = {
        let (_, list) = app.get(&format!("/v1/customcampaign?campaign={campaign}")).await;
        list["resFromPccApi"]["data"]["rows"][0]["crm_id"].as_str().unwrap().to_string()
    };
    let (_, contact) = app.get(&format!("/v1/contact/{crm_id}")).await;
    assert_eq!(contact["data"]["fields"]["f15999"], "15999");
    assert_eq!(contact["data"]["fields"].as_object().unwrap().len(), 16_000);
});

/// PostgreSQL refreshes table statistics after a bulk write; that must never hold
/// up or fail an answer for data already committed (a client would retry, and
/// rows without ids would become CRM contacts twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_statistics_refresh_does_not_hold_up_a_committed_import() {
    crate::common::on_backend(crate::common::Backend::Postgres, async {
        let app = TestApp::spawn().await;
        let campaign = app.create_campaign("Stats").await;
        // Another session holds the lock VACUUM needs (inserts do not need it).
        let locker = callsheet::store::postgres::connect(&app.db_url).await.unwrap();
        locker.batch_execute("BEGIN; LOCK TABLE contacts, customers IN SHARE UPDATE EXCLUSIVE MODE").await.unwrap();
        let mut csv = String::from("name,phone\n");
        for i in 0..6000 {
            csv.push_str(&format!("Lead {i},0901{i:06}\n"));
        }
        let request = app.send(
            Method::POST,
            "/v1/customcampaign",
            Some(&app.tenant.token),
            Body::Upload(pairs(&[("campaign", &campaign)]), "leads.csv", csv.into_bytes()),
        );
        let (status, body) = tokio::time::timeout(std::time::Duration::from_secs(60), request)
            .await
            .expect("the answer waited for the statistics refresh");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["summary"]["added"], 6000);
        locker.batch_execute("ROLLBACK").await.unwrap();
        let (_, list) = app.get(&format!("/v1/customcampaign?campaign={campaign}")).await;
        assert_eq!(list["resFromPccApi"]["data"]["totalCount"], "6000");
    })
    .await
}

backend_test!(an_import_in_progress_is_invisible_and_other_writers_go_on, async {
    let app = TestApp::spawn().await;
    let target = app.create_campaign("Big").await;
    let other = app.create_campaign("Small").await;
    let contacts_before = app.get("/v1/contact?limit=1").await.1["data"]["totalCount"].as_i64().unwrap();
    const ROWS: i64 = 40_000;
    let mut csv = String::from("name,phone\n");
    for i in 0..ROWS {
        csv.push_str(&format!("Lead {i},09{i:08}\n"));
    }
    let upload = {
        let (client, url, token) = (app.client.clone(), app.url("/v1/customcampaign"), app.tenant.token.clone());
        let form = reqwest::multipart::Form::new()
            .text("campaign", target.clone())
            .part("file", reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("leads.csv"));
        tokio::spawn(async move { client.post(url).header("X-STRINGEE-AUTH", token).multipart(form).send().await })
    };
    // A writer of the same campaign waits its turn, and succeeds.
    let same = {
        let (client, url, token, target) =
            (app.client.clone(), app.url("/v1/customcampaign"), app.tenant.token.clone(), target.clone());
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let body = json!({"campaign": target, "listcontacts": [{"id": "CT-same", "name": "Same", "phones": ["0933333333"]}]});
            client.post(url).header("X-STRINGEE-AUTH", token).json(&body).send().await
        })
    };
    let (mut small_writes, mut while_unpublished) = (0, 0);
    while !upload.is_finished() {
        // Another campaign's writer and a contact writer are not held up for the import.
        small_writes += 1;
        let entry = json!([{"id": format!("CT-small-{small_writes}"), "name": "Small", "phones": ["0912345678"]}]);
        let (status, body) = app.post("/v1/customcampaign", json!({"campaign": other, "listcontacts": entry})).await;
        assert_eq!((status, body["summary"]["added"].clone()), (200, json!(1)), "{body}");
        let (status, _) = app.post("/v1/contact", json!({"name": "Walk-in", "phones": ["0987654321"]})).await;
        assert_eq!(status, 200);
        // Readers see the import whole or not at all.
        let (_, list) = app.get(&format!("/v1/customcampaign?campaign={target}&limit=5&page=3")).await;
        let data = &list["resFromPccApi"]["data"];
        let count: i64 = data["totalCount"].as_str().unwrap().parse().unwrap();
        let rows = data["rows"].as_array().unwrap().len();
        // The same campaign's one-contact add may land before or after the import.
        let whole = |n: i64| n == 0 || n == 1 || n == ROWS || n == ROWS + 1;
        assert!(whole(count) && rows == if count >= 11 { 5 } else { 0 }, "saw part of an import: {count} {rows}");
        let (_, contacts) = app.get("/v1/contact?limit=1").await;
        // Each round made one contact of its own; listcontacts entries make none.
        let made = contacts["data"]["totalCount"].as_i64().unwrap() - contacts_before - small_writes;
        assert!(made == 0 || made == ROWS, "saw part of an import's contacts: {made}");
        let (_, everything) = app.get("/v1/customcampaign?limit=1").await;
        let all: i64 = everything["resFromPccApi"]["data"]["totalCount"].as_str().unwrap().parse().unwrap();
        assert!(whole(all - small_writes), "saw part of an import in the account's list: {all}");
        if count <= 1 {
            while_unpublished += 1;
        }
    }
    let response = upload.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["summary"]["added"], ROWS);
    assert!(while_unpublished > 0, "no write ran while the import was in progress");
    let (_, list) = app.get(&format!("/v1/customcampaign?campaign={other}")).await;
    assert_eq!(list["resFromPccApi"]["data"]["totalCount"], small_writes.to_string());
    let same = same.await.unwrap().unwrap();
    assert_eq!(same.status(), 200);
    let same: serde_json::Value = same.json().await.unwrap();
    assert_eq!(same["summary"]["added"], 1, "{same}");
    let (_, list) = app.get(&format!("/v1/customcampaign?campaign={target}")).await;
    assert_eq!(list["resFromPccApi"]["data"]["totalCount"], (ROWS + 1).to_string());
});

backend_test!(what_a_third_client_found_reading_the_contract, async {
    let app = TestApp::spawn().await;
    let token = app.tenant.token.clone();

    // A campaign made already past its end takes no customers, and is not made.
    let past = (callsheet::domain::now_secs() - 60) * 1000;
    let (_, before) = app.get("/v1/campaign").await;
    let listed = json!([{"id": "PW", "name": "Past", "phones": ["0922000001"]}]);
    let (status, body) =
        app.post("/v1/campaign", json!({"name": "Past", "end_time": past, "listcontacts": listed})).await;
    assert_eq!((status, body["r"].clone()), (409, json!(7)), "{body}");
    let (_, after) = app.get("/v1/campaign").await;
    assert_eq!(before["data"]["totalCount"], after["data"]["totalCount"]);

    // An empty header counts as none: the query parameter's token is used.
    let path = format!("/v1/campaign?access_token={token}");
    let (status, body) = app.send(Method::GET, &path, Some(""), Body::None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.send(Method::GET, &path, Some("   "), Body::None).await;
    assert_eq!(status, 200, "{body}");

    // No route is named to a caller without a token; with one, an unknown route is r 4.
    let (status, body) = app.send(Method::GET, "/v1/nothing", None, Body::None).await;
    assert_eq!((status, body["r"].clone()), (401, json!(5)), "{body}");
    let (status, body) = app.send(Method::PATCH, "/v1/campaign", None, Body::None).await;
    assert_eq!((status, body["r"].clone()), (401, json!(5)), "{body}");
    let (status, body) = app.send(Method::GET, "/v1/nothing", Some(&token), Body::None).await;
    assert_eq!((status, body["r"].clone()), (404, json!(4)), "{body}");
    let (status, _) = app.send(Method::GET, "/nothing", None, Body::None).await;
    assert_eq!(status, 404);

    // Bytes that are not UTF-8 in a urlencoded body or a query string are refused,
    // naming the field, as in a multipart body.
    let (status, body) = app
        .send(
            Method::POST,
            "/v1/campaign",
            Some(&token),
            Body::Raw("application/x-www-form-urlencoded", b"name=%FF".to_vec()),
        )
        .await;
    assert_eq!((status, body), (400, error(1, "form field 'name' is not UTF-8 text")));
    let (status, body) = app.get("/v1/campaign?name=%C3").await;
    assert_eq!((status, body), (400, error(1, "query parameter 'name' is not UTF-8 text")));

    // A multipart part whose name is not UTF-8 is refused, not passed over as nameless;
    // a file whose name is not UTF-8 is still a file.
    let campaign = app.create_campaign("Bytes").await;
    let part = |disposition: &[u8], content: &[u8]| {
        let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"campaign\"\r\n\r\n".to_vec();
        body.extend_from_slice(campaign.as_bytes());
        body.extend_from_slice(b"\r\n--XyZ\r\nContent-Disposition: form-data; ");
        body.extend_from_slice(disposition);
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        Body::Raw("multipart/form-data; boundary=XyZ", body)
    };
    let csv = b"name,phone\nQuyen,0901234567\n";
    let (status, body) = app
        .send(Method::POST, "/v1/customcampaign", Some(&token), part(b"name=\"file\"; filename=\"l\xffs.csv\"", csv))
        .await;
    assert_eq!((status, body["summary"]["added"].clone()), (200, json!(1)), "{body}");
    let (status, body) = app
        .send(Method::POST, "/v1/customcampaign", Some(&token), part(b"name=\"fi\xffle\"; filename=\"l.csv\"", csv))
        .await;
    assert_eq!((status, body), (400, error(1, "a multipart field's name is not UTF-8 text")));

    // Bracket fields nest at most 16 levels; a deeper one is refused, naming its field,
    // not taken for a field of another name.
    let nested = |levels: usize| {
        let key = format!("listcontacts{}", "[0]".repeat(levels));
        Body::Raw("application/x-www-form-urlencoded", format!("campaign={campaign}&{key}=1").into_bytes())
    };
    let (status, body) = app.send(Method::POST, "/v1/customcampaign", Some(&token), nested(16)).await;
    assert_eq!((status, body), (400, error(1, "listcontacts[0] must be an object")));
    for levels in [17, 100_000] {
        let (status, body) = app.send(Method::POST, "/v1/customcampaign", Some(&token), nested(levels)).await;
        assert_eq!((status, body), (400, error(1, "listcontacts: bracket fields nest at most 16 levels deep")));
    }

    // One listcontacts entry sent as a JSON object's text is a list of one.
    let campaign = app.create_campaign("One").await;
    let entry = r#"{"id":"CT1","name":"Lan","phones":["0901234567"]}"#;
    let form = pairs(&[("campaign", campaign.as_str()), ("listcontacts", entry)]);
    let (status, body) = app.send(Method::POST, "/v1/customcampaign", Some(&token), Body::Form(form)).await;
    assert_eq!((status, body["summary"]["added"].clone()), (200, json!(1)), "{body}");

    // invalid_rows come in row order, whichever step set a row aside.
    let csv = "id,name,phone\nCTNOTINCRM,Nobody,\n,No phone,\n,Bad phone,12\n";
    let upload = Body::Upload(vec![("campaign".into(), campaign.clone())], "rows.csv", csv.as_bytes().to_vec());
    let (status, body) = app.send(Method::POST, "/v1/customcampaign", Some(&token), upload).await;
    assert_eq!(status, 200, "{body}");
    let rows: Vec<i64> =
        body["summary"]["invalid_rows"].as_array().unwrap().iter().map(|r| r["row"].as_i64().unwrap()).collect();
    assert_eq!(rows, vec![2, 3, 4], "{body}");
    assert_eq!(body["summary"]["invalid_rows"][0]["reason"], "no phone", "{body}");

    // Phones written as libphonenumber reads them.
    let phones = json!(["0084901234001", "+84 (0) 901 234 002", "+84901234003.0", "０９０１２３４００４"]);
    let (status, body) =
        app.post("/v1/customcampaign/add-by-phones", json!({"campaign_id": campaign, "phones": phones})).await;
    assert_eq!((status, body["data"]["added"].clone()), (200, json!(4)), "{body}");
    let (_, listed) = app.get(&format!("/v1/customcampaign?campaign={campaign}&limit=100")).await;
    let stored: Vec<String> = listed["resFromPccApi"]["data"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["phones"][0].as_str().unwrap().to_string())
        .collect();
    for n in 1..=4 {
        assert!(stored.contains(&format!("8490123400{n}")), "{n}: {stored:?}");
    }

    // Lucene's boosts change no match; fuzzy terms, slop and '?' are refused.
    for name in ["Lan Anh", "Lan", "Minh"] {
        let (status, body) = app.post("/v1/contact", json!({"name": name, "phones": []})).await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, plain) = app.get("/v1/contact?query=name:lan").await;
    assert_eq!(plain["data"]["totalCount"], 2, "{plain}");
    let (status, boosted) = app.get("/v1/contact?query=name:lan%5E2").await;
    assert_eq!(status, 200, "{boosted}");
    assert_eq!(boosted["data"]["totalCount"], plain["data"]["totalCount"]);
    for q in ["lan~1", "lan%3F", "%22lan%20x%22~2"] {
        let (status, body) = app.get(&format!("/v1/contact?query={q}")).await;
        assert_eq!((status, body["r"].clone()), (400, json!(6)), "{q}: {body}");
    }
});
