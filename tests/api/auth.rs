//! Authentication (CONTRACT §2): every way a token can fail answers HTTP 401, r=5,
//! with a message that says which check failed.

use crate::common::{Body, TestApp, error};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use callsheet::domain::{now_secs, token};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};

/// A token with any header and claims, signed with HMAC-SHA256 (or SHA-512) by `secret`.
fn forge(header: Value, claims: Value, secret: &str, sha512: bool) -> String {
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = if sha512 {
        let mut mac = <Hmac<sha2::Sha512> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(input.as_bytes());
        mac.finalize().into_bytes().to_vec()
    } else {
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(input.as_bytes());
        mac.finalize().into_bytes().to_vec()
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn hs256() -> Value {
    json!({"typ": "JWT", "alg": "HS256", "cty": "stringee-api;v=1"})
}

async fn refused(app: &TestApp, token: Option<&str>, reason: &str) {
    let (status, body) = app.send(Method::GET, "/v1/campaign", token, Body::None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body, error(5, &format!("authentication failed: {reason}")));
}

backend_test!(valid_token_in_header_or_query_is_accepted, async {
    let app = TestApp::spawn().await;
    let (status, body) = app.get("/v1/campaign").await;
    assert_eq!(status, 200, "{body}");
    let path = format!("/v1/campaign?access_token={}", app.tenant.token);
    let (status, body) = app.send(Method::GET, &path, None, Body::None).await;
    assert_eq!(status, 200, "{body}");
});

backend_test!(token_without_cty_is_accepted, async {
    let app = TestApp::spawn().await;
    let t = &app.tenant;
    let claims = json!({"jti": "x", "iss": t.key_sid, "exp": now_secs() + 60, "rest_api": true});
    let tok = forge(json!({"typ": "JWT", "alg": "HS256"}), claims, &t.key_secret, false);
    let (status, _) = app.send(Method::GET, "/v1/campaign", Some(&tok), Body::None).await;
    assert_eq!(status, 200);
});

backend_test!(missing_token_is_refused, async {
    let app = TestApp::spawn().await;
    refused(&app, None, "missing token: send it in the X-STRINGEE-AUTH header or the access_token parameter").await;
    refused(&app, Some(""), "missing token: send it in the X-STRINGEE-AUTH header or the access_token parameter").await;
});

backend_test!(malformed_tokens_are_refused, async {
    let app = TestApp::spawn().await;
    refused(&app, Some("not-a-jwt"), "malformed token: expected three dot-separated parts").await;
    refused(&app, Some("a.b.c.d"), "malformed token: expected three dot-separated parts").await;
    refused(&app, Some("%%%.e30.sig"), "malformed token: header is not base64url").await;
    let header = URL_SAFE_NO_PAD.encode(hs256().to_string());
    refused(&app, Some(&format!("{header}.bm90IGpzb24.sig")), "malformed token: payload is not JSON").await;
    refused(&app, Some(&format!("{header}.%%%.sig")), "malformed token: payload is not base64url").await;
    let twice = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","alg":"HS256"}"#);
    refused(&app, Some(&format!("{twice}.e30.sig")), "malformed token: header names a key twice").await;
    let twice = URL_SAFE_NO_PAD.encode(r#"{"exp":1,"exp":2}"#);
    refused(&app, Some(&format!("{header}.{twice}.sig")), "malformed token: payload names a claim twice").await;
    // RFC 7515 §4.1.11: a critical extension callsheet does not know refuses the token.
    let t = &app.tenant;
    let crit = URL_SAFE_NO_PAD.encode(json!({"typ": "JWT", "alg": "HS256", "crit": ["exp"]}).to_string());
    let claims =
        URL_SAFE_NO_PAD.encode(json!({"iss": t.key_sid, "exp": now_secs() + 60, "rest_api": true}).to_string());
    refused(
        &app,
        Some(&format!("{crit}.{claims}.sig")),
        "malformed token: header names critical extensions (crit), which callsheet does not know",
    )
    .await;
});

backend_test!(alg_none_is_refused, async {
    let app = TestApp::spawn().await;
    let t = &app.tenant;
    let header = URL_SAFE_NO_PAD.encode(json!({"typ": "JWT", "alg": "none"}).to_string());
    let claims = json!({"iss": t.key_sid, "exp": now_secs() + 60, "rest_api": true});
    let tok = format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()));
    refused(&app, Some(&tok), "unsupported token algorithm 'none': only HS256 is accepted").await;
});

backend_test!(hs512_is_refused, async {
    let app = TestApp::spawn().await;
    let t = &app.tenant;
    let claims = json!({"iss": t.key_sid, "exp": now_secs() + 60, "rest_api": true});
    let tok = forge(json!({"typ": "JWT", "alg": "HS512"}), claims, &t.key_secret, true);
    refused(&app, Some(&tok), "unsupported token algorithm 'HS512': only HS256 is accepted").await;
});

backend_test!(wrong_secret_is_refused, async {
    let app = TestApp::spawn().await;
    let tok = token::mint(&app.tenant.key_sid, "not-the-secret", now_secs(), 60);
    refused(&app, Some(&tok), "token signature does not match the key's secret").await;
});

backend_test!(expired_token_is_refused_after_the_leeway, async {
    let app = TestApp::spawn().await;
    let t = &app.tenant;
    let now = now_secs();
    // Expired 10 s ago: inside the 30 s leeway.
    let tok = token::mint(&t.key_sid, &t.key_secret, now - 3610, 3600);
    let (status, _) = app.send(Method::GET, "/v1/campaign", Some(&tok), Body::None).await;
    assert_eq!(status, 200);
    let tok = token::mint(&t.key_sid, &t.key_secret, now - 3700, 3600);
    refused(&app, Some(&tok), &format!("token expired at {}", now - 100)).await;
});

backend_test!(a_token_is_refused_before_its_nbf_beyond_the_leeway, async {
    let app = TestApp::spawn().await;
    let t = &app.tenant;
    let now = now_secs();
    let at = |nbf: i64| {
        forge(hs256(), json!({"iss": t.key_sid, "exp": now + 600, "nbf": nbf, "rest_api": true}), &t.key_secret, false)
    };
    // Valid from 10 s from now: inside the 30 s leeway.
    let (status, _) = app.send(Method::GET, "/v1/campaign", Some(&at(now + 10)), Body::None).await;
    assert_eq!(status, 200);
    refused(&app, Some(&at(now + 300)), &format!("token is not valid before {} (its nbf)", now + 300)).await;
});

backend_test!(missing_exp_is_refused, async {
    let app = TestApp::spawn().await;
    let t = &app.tenant;
    let tok = forge(hs256(), json!({"iss": t.key_sid, "rest_api": true}), &t.key_secret, false);
    refused(&app, Some(&tok), "token has no exp claim").await;
});

backend_test!(missing_rest_api_is_refused, async {
    let app = TestApp::spawn().await;
    let t = &app.tenant;
    let exp = now_secs() + 60;
    for claims in [json!({"iss": t.key_sid, "exp": exp}), json!({"iss": t.key_sid, "exp": exp, "rest_api": false})] {
        let tok = forge(hs256(), claims, &t.key_secret, false);
        refused(&app, Some(&tok), "token is not a REST API token: \"rest_api\": true is required").await;
    }
});

backend_test!(unknown_iss_is_refused, async {
    let app = TestApp::spawn().await;
    let sid = "SK000000000000000000000000000000";
    let tok = token::mint(sid, "whatever", now_secs(), 60);
    refused(
        &app,
        Some(&tok),
        &format!("unknown API key '{sid}' (the token's iss): a key works with the database it was created in"),
    )
    .await;
    let tok = forge(hs256(), json!({"exp": now_secs() + 60, "rest_api": true}), "x", false);
    refused(&app, Some(&tok), "token has no iss naming an API key").await;
    // A forged iss of any length is repeated back only in part.
    let long = "X".repeat(100_000);
    let tok = token::mint(&long, "whatever", now_secs(), 60);
    let shown = format!("{}…", "X".repeat(40));
    refused(
        &app,
        Some(&tok),
        &format!("unknown API key '{shown}' (the token's iss): a key works with the database it was created in"),
    )
    .await;
});

backend_test!(revoked_key_is_refused, async {
    let app = TestApp::spawn().await;
    assert!(app.store.revoke_key(callsheet::domain::ids::KeySid::trusted(app.tenant.key_sid.clone())).await.unwrap());
    refused(&app, Some(&app.tenant.token), &format!("API key '{}' is revoked", app.tenant.key_sid)).await;
});

backend_test!(a_key_revoked_while_in_use_stops_working_at_once, async {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        let (status, _) = app.get("/v1/campaign").await;
        assert_eq!(status, 200, "the key is in use, and remembered");
    }
    assert!(app.store.revoke_key(callsheet::domain::ids::KeySid::trusted(app.tenant.key_sid.clone())).await.unwrap());
    // PostgreSQL tells the server at the revoke's commit; its notice takes a moment.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    refused(&app, Some(&app.tenant.token), &format!("API key '{}' is revoked", app.tenant.key_sid)).await;
});

backend_test!(a_token_used_before_it_expired_is_refused_once_it_has, async {
    let app = TestApp::spawn().await;
    // Inside the 30 s leeway for one more second.
    let tok = token::mint(&app.tenant.key_sid, &app.tenant.key_secret, now_secs(), -29);
    let (status, body) = app.send(Method::GET, "/v1/campaign", Some(&tok), Body::None).await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body) = app.send(Method::GET, "/v1/campaign", Some(&tok), Body::None).await;
    assert_eq!((status, body["r"].clone()), (401, json!(5)), "{body}");
    assert!(body["msg"].as_str().unwrap().contains("expired"), "{body}");
});

backend_test!(refused_requests_change_nothing, async {
    let app = TestApp::spawn().await;
    let tok = token::mint(&app.tenant.key_sid, "wrong", now_secs(), 60);
    let (status, _) = app.send(Method::POST, "/v1/campaign", Some(&tok), Body::Json(json!({"name": "sneaky"}))).await;
    assert_eq!(status, 401);
    let (_, body) = app.get("/v1/campaign").await;
    assert_eq!(body["data"]["totalCount"], 0);
});

backend_test!(the_account_a_token_signs_in_to_is_shown, async {
    let app = TestApp::spawn().await;
    let (status, body) = app.get("/v1/account").await;
    assert_eq!(status, 200, "{body}");
    let created = body["data"]["created"].as_i64().unwrap();
    assert_eq!(
        body,
        serde_json::json!({"r": 0, "msg": "Success",
            "data": {"id": app.tenant.account, "name": "Tenant A", "region": "VN", "created": created}})
    );
    let (status, body) = app.send(reqwest::Method::GET, "/v1/account", None, crate::common::Body::None).await;
    assert_eq!((status, body["r"].clone()), (401, serde_json::json!(5)));
});

backend_test!(a_refusal_before_the_body_is_read_closes_the_connection_and_says_so, async {
    // A 401 is told before a 300 KB body is read: the connection cannot carry another
    // request, and the answer says so, so that a client's pool opens a new one.
    let app = TestApp::spawn().await;
    let big = json!({"campaign": "CA000000", "listcontacts": [{"id": "CT1", "phones": ["0901234567"], "name": "x".repeat(300_000)}]});
    let resp = app.client.post(app.url("/v1/customcampaign")).json(&big).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(resp.headers().get("connection").map(|v| v.to_str().unwrap().to_string()), Some("close".into()));
    // The same client's next request, on a new connection, is answered.
    let (s, _) = app.get("/v1/campaign").await;
    assert_eq!(s, 200);
    // A refusal of a request without a body keeps the connection, and so does one
    // told after the body was read.
    let resp = app.client.get(app.url("/v1/campaign")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers().get("connection").is_none());
    for body in [r#"{"name":"#, r#"{"campaign":"CAZZZZZZ","listcontacts":[]}"#] {
        let resp = app
            .client
            .post(app.url("/v1/customcampaign"))
            .header("X-STRINGEE-AUTH", &app.tenant.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_client_error(), "{body}");
        assert!(resp.headers().get("connection").is_none(), "{body}: {:?}", resp.headers());
    }
});
