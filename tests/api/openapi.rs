//! docs/openapi.json, served at GET /openapi.json, is held to the router: every
//! route and method of the code is described, every described one is served, and
//! every field a handler reads is named in it.

use std::collections::BTreeSet;

use crate::common::{Body, TestApp};
use reqwest::Method;
use serde_json::Value;

/// (path, method) of every `.route(...)` in src/api, read from the source.
fn routes_in_code() -> BTreeSet<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for (i, _) in source.match_indices(".route(\"") {
            let rest = &source[i + 8..];
            let route = &rest[..rest.find('"').unwrap()];
            // The methods chained on this route, up to the call's closing parenthesis.
            let mut depth = 1;
            let body: String = rest[route.len() + 1..]
                .chars()
                .take_while(|c| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth > 0
                })
                .collect();
            let mut found = false;
            for method in ["get", "post", "put", "delete"] {
                let called = [format!(" {method}("), format!(".{method}("), format!(":{method}(")];
                if called.iter().any(|c| body.contains(c.as_str())) {
                    routes.insert((route.to_string(), method.to_string()));
                    found = true;
                }
            }
            assert!(found, "no method read for {route} in {}", path.display());
        }
    }
    routes
}

fn described() -> Value {
    serde_json::from_str(include_str!("../../docs/openapi.json")).expect("docs/openapi.json is JSON")
}

#[test]
fn every_route_of_the_code_is_described() {
    let spec = described();
    assert_eq!(spec["openapi"], "3.1.0");
    let code = routes_in_code();
    assert!(code.len() > 60, "the routes were not read: {code:?}");
    let missing: Vec<_> =
        code.iter().filter(|(path, method)| spec["paths"][path.as_str()][method.as_str()].is_null()).collect();
    assert!(missing.is_empty(), "routes missing from docs/openapi.json: {missing:?}");
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in
            item.as_object().unwrap().keys().filter(|k| ["get", "post", "put", "delete", "patch"].contains(&k.as_str()))
        {
            assert!(code.contains(&(path.clone(), method.clone())), "{method} {path} is described but not routed");
        }
    }
}

/// Every name a handler reads with the input helpers (`f.string("name")` and the like).
fn fields_in_code() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
    let readers = [
        "string(",
        "int(",
        "id(",
        "required_id(",
        "list(",
        "strings(",
        "query(",
        "get(",
        "bool(",
        "number(",
        "time(",
        "required_string(",
    ];
    let mut fields = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "input.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for reader in readers {
            for (i, _) in source.match_indices(&format!(".{reader}\"")) {
                let rest = &source[i + reader.len() + 2..];
                let name = &rest[..rest.find('"').unwrap()];
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    fields.insert(name.to_string());
                }
            }
        }
    }
    fields
}

/// Every property and parameter name the description mentions.
fn names_described(value: &Value, names: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                names.extend(props.keys().cloned());
            }
            if let (Some(Value::String(name)), Some(_)) = (map.get("name"), map.get("in")) {
                names.insert(name.clone());
            }
            map.values().for_each(|v| names_described(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| names_described(v, names)),
        _ => {}
    }
}

#[test]
fn every_field_a_handler_reads_is_described() {
    let fields = fields_in_code();
    assert!(fields.len() > 40, "the fields were not read: {fields:?}");
    let mut names = BTreeSet::new();
    names_described(&described(), &mut names);
    let missing: Vec<_> = fields.difference(&names).collect();
    assert!(missing.is_empty(), "fields read by handlers but missing from docs/openapi.json: {missing:?}");
}

/// Every path whose request may ask for a job (`async`) answers with a job started
/// as one of its 200 answers: a client generated from the description must take it.
#[test]
fn every_request_that_may_start_a_job_describes_the_job_started() {
    let spec = described();
    let mut asking = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let request = format!("{}{}", op["requestBody"], op["parameters"]);
            if !request.contains("\"async\"") {
                continue;
            }
            asking.push(format!("{method} {path}"));
            let answers = &op["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"];
            let job =
                answers.as_array().is_some_and(|a| a.iter().any(|s| s["$ref"] == "#/components/schemas/JobStarted"));
            assert!(job, "{method} {path} takes async but its 200 answer is not oneOf [..., JobStarted]");
        }
    }
    assert_eq!(asking, ["post /v1/contact/import", "post /v1/customcampaign", "post /v1/dnc/import"]);
}

backend_test!(the_description_is_served_and_every_described_route_answers, async {
    let app = TestApp::spawn().await;
    let resp = app.client.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let served: Value = resp.json().await.unwrap();
    let spec = described();
    assert_eq!(served, spec);
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "delete" => Method::DELETE,
                _ => continue,
            };
            let concrete = path.replace("{id}", "1");
            let (_, body) = app.send_raw(method.clone(), &concrete, Some(&app.tenant.token), Body::None).await;
            assert!(
                !body.contains("no such endpoint") && !body.contains("is not allowed on"),
                "{method} {path} is described but the server does not route it: {body}"
            );
        }
    }
});
