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
