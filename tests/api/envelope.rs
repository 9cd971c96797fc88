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

// Without a token the routes cannot be mapped: a method a route does not take answers
// as an unknown path does, with no `Allow` listing the ones it takes.
backend_test!(a_refused_request_learns_no_methods_of_the_path, async {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    for (method, path) in [
        (Method::OPTIONS, "/v1/campaign"),
        (Method::PATCH, "/v1/campaign/CAXXXXXX"),
        (Method::GET, "/v1/customcampaign/receivecustomer"),
        (Method::GET, "/v1/nothing-here"),
    ] {
        let answer = client.request(method.clone(), app.url(path)).send().await.unwrap();
        assert_eq!(answer.status(), 401, "{method} {path}");
        assert!(answer.headers().get("allow").is_none(), "{method} {path}: {:?}", answer.headers());
    }
    // With a token, a wrong method still says which the path takes.
    let answer = client
        .request(Method::PATCH, app.url("/v1/campaign"))
        .header("X-STRINGEE-AUTH", &app.tenant.token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    assert!(answer.headers().get("allow").is_some(), "{:?}", answer.headers());
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

/// Sends `raw` on a fresh connection; the answer's status and its body as JSON.
async fn raw_answer(app: &TestApp, raw: &[u8]) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // The server may answer and close before it has read all of a long head.
    let _ = stream.write_all(raw).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("{answer}"));
    let status = head[9..12].parse().unwrap();
    assert!(head.contains("content-type: application/json"), "{head}");
    let length = format!("content-length: {}", body.len());
    assert!(head.contains(&length), "{head}");
    (status, serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}")))
}

// A head the HTTP layer cannot read is refused before any handler, in the envelope,
// naming the limit; the server goes on answering.
backend_test!(a_head_that_cannot_be_read_is_refused_in_the_envelope, async {
    let app = TestApp::spawn().await;
    let long_url = format!("GET /v1/customcampaign?name={} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let many: String = (0..150).map(|i| format!("X-Many-{i}: 1\r\n")).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let big = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(500_000));
    let url_limit = "URL too long: the limit is 65534 bytes; send long lists in the request body";
    let head_limit = "request headers too large: the limit is 100 headers and 400 KiB";
    let unreadable = "malformed HTTP request: the request line or a header cannot be read";
    for (raw, status, r, msg) in [
        (long_url.as_bytes(), 414, 9, url_limit),
        (many.as_bytes(), 431, 9, head_limit),
        (big.as_bytes(), 431, 9, head_limit),
        (&b"GARBAGE\r\n\r\n"[..], 400, 1, unreadable),
        (&b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n"[..], 400, 1, unreadable),
    ] {
        assert_eq!(raw_answer(&app, raw).await, (status, error(r, msg)));
    }
    // hyper's read buffer may take in more than the limit before it looks: a head just
    // past the limit is refused all the same, one just within it is read.
    let head = |pad: usize| {
        let start = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: ";
        format!("{start}{}\r\n\r\n", "b".repeat(pad - start.len() - 4))
    };
    assert_eq!(raw_answer(&app, head(400 * 1024 + 1).as_bytes()).await, (431, error(9, head_limit)));
    assert_eq!(raw_answer(&app, head(440 * 1024).as_bytes()).await, (431, error(9, head_limit)));
    assert_eq!(raw_answer(&app, head(400 * 1024).as_bytes()).await, (200, json!({"r": 0, "msg": "Success"})));
    // Within the limits, a long URL is read.
    let fine = format!("GET /healthz?pad={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "p".repeat(60_000));
    assert_eq!(raw_answer(&app, fine.as_bytes()).await, (200, json!({"r": 0, "msg": "Success"})));
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
