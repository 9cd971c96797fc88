//! Helpers the benchmarks share: timing summaries and JSON calls to the real server.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;

/// The middle sample.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// POSTs JSON with a token and returns the JSON answer.
pub async fn post_json(client: &reqwest::Client, url: &str, token: &str, body: Value) -> Value {
    client.post(url).header("X-STRINGEE-AUTH", token).json(&body).send().await.unwrap().json().await.unwrap()
}

/// Creates a campaign over HTTP and returns its id.
pub async fn create_campaign(client: &reqwest::Client, addr: &str, token: &str, name: &str) -> String {
    let created =
        post_json(client, &format!("http://{addr}/v1/campaign"), token, serde_json::json!({"name": name})).await;
    created["data"]["id"].as_str().unwrap().to_string()
}

/// Sends entries `0..n`, made by `entry`, down a store feed in batches, then `Done`.
pub async fn feed_entries(
    tx: tokio::sync::mpsc::Sender<callsheet::store::Feed>,
    n: usize,
    entry: impl Fn(usize) -> (Option<String>, String, String),
    source: callsheet::domain::customer::Source,
) {
    use callsheet::store::Feed;
    for start in (0..n).step_by(10_000) {
        let batch = (start..(start + 10_000).min(n))
            .map(|i| {
                let (crm_id, name, phone) = entry(i);
                callsheet::domain::customer::NewCustomer {
                    row: i as i64,
                    crm_id,
                    name: Some(name),
                    phones: vec![phone],
                    dropped_phones: Vec::new(),
                    fields: Default::default(),
                    email: String::new(),
                    source,
                    name_key: None,
                }
            })
            .collect();
        tx.send(Feed::Rows(batch)).await.unwrap();
    }
    tx.send(Feed::Done).await.unwrap();
}

/// Serves the app on this process's runtime, on a free loopback port; returns the
/// address, a client and a token for `key`.
pub async fn serve_in_process(
    store: callsheet::store::DynStore,
    key: &callsheet::domain::account::ApiKey,
) -> (std::net::SocketAddr, reqwest::Client, String) {
    use callsheet::api::{self, AppState};
    let state = AppState { store, limits: callsheet::config::Limits::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(api::serve(listener, api::app(state, Default::default()), std::future::pending()));
    let token = callsheet::domain::token::mint(&key.sid, &key.secret, callsheet::domain::now_secs(), 3600);
    (addr, reqwest::Client::new(), token)
}
