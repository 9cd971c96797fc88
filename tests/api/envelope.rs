//! The envelope (CONTRACT §3) for failures outside any handler: unknown routes,
//! wrong methods, unreadable bodies, oversized bodies and panics.

use crate::common::{Body, TestApp, error};
use axum::Router;
use axum::routing::get;
use callsheet::config::Limits;
use reqwest::Method;
use serde_json::json;

backend_test!(unknown_route_is_r4_404, async {
    let app = TestApp::spawn().await;
    let (status, body) = app.get("/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body, error(4, "no such endpoint: GET /v1/nothing-here"));
    let (status, body) = app.send(Method::GET, "/index.php", None, Body::None).await;
    assert_eq!(status, 404);
    assert_eq!(body, error(4, "no such endpoint: GET /index.php"));
    // `/` is the console; another method there is the envelope's.
    let (status, body) = app.send(Method::POST, "/", None, Body::None).await;
    assert_eq!((status, body), (404, error(4, "method POST is not allowed on /")));
});

backend_test!(wrong_method_is_enveloped, async {
    let app = TestApp::spawn().await;
    let (status, body) = app.send(Method::PATCH, "/v1/campaign", Some(&app.tenant.token), Body::None).await;
    assert_eq!(status, 404, "r 4 goes with 404 (CONTRACT §3)");
    assert_eq!(body, error(4, "method PATCH is not allowed on /v1/campaign"));
});

backend_test!(healthz_answers_a_constant_without_a_token, async {
    let app = TestApp::spawn().await;
    let (status, body) = app.send_raw(Method::GET, "/healthz", None, Body::None).await;
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"r":0,"msg":"Success"}"#);
    // It sits behind the same layers as every route.
    let (status, body) = app.send(Method::POST, "/healthz", None, Body::None).await;
    assert_eq!(status, 404);
    assert_eq!(body, error(4, "method POST is not allowed on /healthz"));
});

backend_test!(malformed_json_is_r1, async {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .send(
            Method::POST,
            "/v1/campaign",
            Some(&app.tenant.token),
            Body::Raw("application/json", b"{\"name\": ".to_vec()),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body, error(1, "malformed JSON body: EOF while parsing a value at line 1 column 9"));
    let (status, body) = app
        .send(Method::POST, "/v1/campaign", Some(&app.tenant.token), Body::Raw("application/json", b"[1]".to_vec()))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body, error(1, "malformed JSON body: expected an object"));
    // A byte-order mark before the JSON, as some Windows tools write it, is read past;
    // anywhere else it is malformed.
    let bom = [b"\xEF\xBB\xBF".as_slice(), br#"{"name": "With a BOM"}"#].concat();
    let (status, body) =
        app.send(Method::POST, "/v1/campaign", Some(&app.tenant.token), Body::Raw("application/json", bom)).await;
    assert_eq!((status, &body["data"]["name"]), (200, &json!("With a BOM")), "{body}");
    let twice = [b"\xEF\xBB\xBF\xEF\xBB\xBF".as_slice(), b"{}"].concat();
    let (status, body) =
        app.send(Method::POST, "/v1/campaign", Some(&app.tenant.token), Body::Raw("application/json", twice)).await;
    assert_eq!((status, &body["r"]), (400, &json!(1)), "{body}");
});

backend_test!(oversized_body_is_r9_413_and_writes_nothing, async {
    let limits = Limits { upload_bytes: 1024, ..Limits::default() };
    let app = TestApp::spawn_with(Router::new(), limits).await;
    let big = json!({"name": "x".repeat(4096)});
    let (status, body) = app.post("/v1/campaign", big).await;
    assert_eq!(status, 413);
    assert_eq!(body, error(9, "payload too large: the limit is 1024 bytes"));
    let (_, body) = app.get("/v1/campaign").await;
    assert_eq!(body["data"]["totalCount"], 0);
});

backend_test!(panic_is_r10_500_without_details, async {
    async fn boom() -> &'static str {
        panic!("secret detail")
    }
    let extra = Router::new().route("/v1/boom", get(boom));
    let app = TestApp::spawn_with(extra, Limits::default()).await;
    let (status, body) = app.get("/v1/boom").await;
    assert_eq!(status, 500);
    assert_eq!(body, error(10, "internal error"));
    // The server keeps serving.
    let (status, _) = app.get("/v1/campaign").await;
    assert_eq!(status, 200);
});

// Shutdown is the HTTP server's behaviour, not the store's: one backend is enough.
#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    use callsheet::api::{self, AppState};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let store = callsheet::store::open(&format!("sqlite://{}", dir.path().join("s.db").display())).await.unwrap();
    let state = AppState::new(store, Limits::default());
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_millis(300)).await;
        "finished"
    }
    let app = api::app(state, Router::new().route("/slow", get(slow)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, app, async {
        let _ = stop_rx.await;
    }));
    let request = tokio::spawn(async move { reqwest::get(format!("http://{addr}/slow")).await.unwrap().text().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop_tx.send(()).unwrap();
    assert_eq!(request.await.unwrap().unwrap(), "finished");
    server.await.unwrap().unwrap();
}
