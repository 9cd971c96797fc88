//! Portals (CONTRACT §5).

use crate::common::{TestApp, error};
use reqwest::Method;
use serde_json::json;

backend_test!(account_starts_with_a_default_portal, async {
    let app = TestApp::spawn().await;
    let (status, body) = app.get("/v1/portal").await;
    assert_eq!(status, 200);
    let created = body["data"]["rows"][0]["created"].clone();
    assert_eq!(
        body,
        json!({"r": 0, "msg": "Success", "data": {
            "rows": [{"id": app.tenant.portal, "name": "Default", "default": true, "created": created}],
            "totalCount": 1, "totalPages": 1}})
    );
});

backend_test!(create_portal_returns_its_id, async {
    let app = TestApp::spawn().await;
    let (status, body) = app.post("/v1/portal", json!({"name": "Sales"})).await;
    assert_eq!(status, 200, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("pt_") && id.len() == 19 && id == id.to_lowercase(), "{id}");
    assert_eq!(
        body,
        json!({"r": 0, "msg": "Success", "data": {"id": id, "name": "Sales", "default": false,
            "created": body["data"]["created"]}})
    );
    let (_, list) = app.get("/v1/portal").await;
    assert_eq!(list["data"]["totalCount"], 2);
    assert_eq!(list["data"]["rows"][1]["id"], json!(id));
});

backend_test!(portal_needs_a_name, async {
    let app = TestApp::spawn().await;
    let (status, body) = app.post("/v1/portal", json!({})).await;
    assert_eq!((status, body), (400, error(2, "missing name")));
    let (status, body) = app.post("/v1/portal", json!({"name": {"x": 1}})).await;
    assert_eq!((status, body), (400, error(1, "name must be a string")));
    // A form field sent twice is a list: the message says so.
    let (status, body) = app
        .send(
            reqwest::Method::POST,
            "/v1/portal",
            Some(&app.tenant.token),
            crate::common::Body::Raw("application/x-www-form-urlencoded", b"name=a&name=b".to_vec()),
        )
        .await;
    assert_eq!((status, body), (400, error(1, "name must be one string, not a list (a field sent twice is a list)")));
});

backend_test!(portals_are_per_account, async {
    let app = TestApp::spawn().await;
    app.post("/v1/portal", json!({"name": "Sales"})).await;
    let other = app.new_tenant("B").await;
    let (_, body) = app.send_as(&other, Method::GET, "/v1/portal", crate::common::Body::None).await;
    assert_eq!(body["data"]["totalCount"], 1);
    assert_eq!(body["data"]["rows"][0]["id"], json!(other.portal));
});

backend_test!(portals_page_when_asked_and_refuse_a_bad_page_or_limit, async {
    let app = TestApp::spawn().await;
    for name in ["Sales", "Care"] {
        let (status, _) = app.post("/v1/portal", json!({"name": name})).await;
        assert_eq!(status, 200);
    }
    let (_, all) = app.get("/v1/portal").await;
    assert_eq!((all["data"]["totalCount"].clone(), all["data"]["totalPages"].clone()), (json!(3), json!(1)));
    let (status, body) = app.get("/v1/portal?page=2&limit=2").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["rows"].as_array().unwrap().len(), 1);
    assert_eq!((body["data"]["totalCount"].clone(), body["data"]["totalPages"].clone()), (json!(3), json!(2)));
    for bad in ["limit=0", "limit=1001", "limit=-1", "page=0", "limit=abc"] {
        let (status, body) = app.get(&format!("/v1/portal?{bad}")).await;
        assert_eq!((status, body["r"].clone()), (400, json!(1)), "{bad}: {body}");
    }
});
