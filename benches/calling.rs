//! Agents working a large campaign through the real server (CONTRACT §9.3–§9.4):
//! 64 concurrent agents each looping receivecustomer then a result, on a campaign of
//! ROWS customers, of a tenth of that, and of ROWS with 90% of it not callable
//! (waiting for a retry, or on a do-not-call list at load); and the campaign's stats.
//! The floor is a bare single-statement claim looping on one connection in the same
//! run: `UPDATE … RETURNING` on SQLite, `FOR UPDATE SKIP LOCKED` on PostgreSQL.
//!
//! `cargo bench --bench calling [-- ROWS]` (default 1,000,000) prints a markdown table.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use callsheet::domain::agent::AgentDraft;
use callsheet::domain::campaign::{CallingFields, CampaignFields};
use callsheet::domain::customer::Source;
use callsheet::domain::ids::{AccountId, AgentId, CampaignId};
use serde_json::{Value, json};
use support::{Backend, Database, Figure, Row, Server, Target};

mod support;

const AGENTS: usize = 64;

fn agents() -> usize {
    std::env::var("CALLSHEET_BENCH_AGENTS").ok().and_then(|a| a.parse().ok()).unwrap_or(AGENTS)
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

/// Customer `i`'s phone in campaign number `list`.
fn phone_of(list: usize, i: usize) -> String {
    format!("849{list}{i:07}")
}

/// A campaign of `rows` customers worked by `agents`, started; its id.
async fn seed(
    store: &callsheet::store::DynStore,
    account: &AccountId,
    list: usize,
    rows: usize,
    agents: &[AgentId],
) -> String {
    let fields = CampaignFields {
        name: Some(format!("List {list}")),
        time_between_two_call: Some(0),
        max_call_retry: Some(3),
        calling: CallingFields::default(),
        ..Default::default()
    };
    let campaign = store.create_campaign(account.clone(), fields).await.unwrap().id;
    let (tx, rx) = callsheet::store::Entries::channel();
    let adding = {
        let (store, account) = (store.clone(), account.clone());
        let target = callsheet::store::Target::Existing(CampaignId::trusted(campaign.clone()));
        tokio::spawn(async move { store.add_customers(account, "bench".into(), target, rx).await })
    };
    support::feed_entries(
        tx,
        rows,
        |i| (Some(format!("CT{list}{i:07}")), format!("Khách {i}"), phone_of(list, i)),
        Source::Contacts,
    )
    .await;
    adding.await.unwrap().unwrap();
    let id = CampaignId::trusted(campaign.clone());
    store.assign(account.clone(), id.clone(), agents.to_vec(), Vec::new()).await.unwrap();
    for action in [callsheet::domain::campaign::Action::Approve, callsheet::domain::campaign::Action::Start] {
        store.campaign_action(account.clone(), id.clone(), action).await.unwrap();
    }
    campaign
}

/// What 64 agents did in `seconds`: cycles a second and the claim latencies. Without
/// `pace` each agent loops as fast as it goes (a closed loop). With it, the agents
/// offer that many cycles a second together: each starts a cycle every
/// `agents / pace` seconds on a fixed timetable, and a claim's latency counts from
/// the moment its timetable gave it, so a server that falls behind pays for the
/// wait as well (no coordinated omission).
async fn cycles(server: &Arc<Server>, campaign: &str, seconds: u64, pace: Option<f64>) -> (f64, Vec<Duration>) {
    let done = Arc::new(AtomicU64::new(0));
    let n = agents();
    let every = pace.map(|rate| Duration::from_secs_f64(n as f64 / rate));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let agents = (0..n).map(|a| {
        let (server, campaign, done) = (server.clone(), campaign.to_string(), done.clone());
        tokio::spawn(async move {
            let mut claims = Vec::new();
            // The agents' timetables are spread evenly over one period.
            let mut due = started + every.map_or(Duration::ZERO, |e| e.mul_f64(a as f64 / n as f64));
            loop {
                match every {
                    Some(_) if due >= deadline => break,
                    Some(_) => tokio::time::sleep_until(due.into()).await,
                    None if Instant::now() >= deadline => break,
                    None => {}
                }
                let (took, handed) = server
                    .post_json(
                        "/v1/customcampaign/receivecustomer",
                        json!({"campaign": campaign, "stringee_user_id": format!("agent{a}")}),
                    )
                    .await;
                // Paced, from its scheduled start; else the request's own time.
                claims.push(if every.is_some() { Instant::now().duration_since(due).max(took) } else { took });
                let data = &handed["data"];
                if data.is_null() {
                    // Everyone callable was worked through: the rate is of the time it took.
                    assert!(handed["reason"].is_string(), "{handed}");
                    break;
                }
                let (_, answer) = server
                    .post_json(
                        &format!("/v1/customcampaign/{}/result", data["id"]),
                        json!({"claim_id": data["claim_id"], "outcome": "success"}),
                    )
                    .await;
                assert_eq!(answer["r"], 0, "{answer}");
                done.fetch_add(1, Ordering::Relaxed);
                due += every.unwrap_or_default();
            }
            claims
        })
    });
    let mut claims = Vec::new();
    for a in futures_util::future::join_all(agents).await {
        claims.extend(a.unwrap());
    }
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    (rate, claims)
}

/// `p50 …, p90 …, max …` of claim latencies.
fn spread(claims: &mut [Duration]) -> String {
    format!(
        "p50 {}, p90 {}, max {}",
        support::ms(percentile(claims, 0.5)),
        support::ms(percentile(claims, 0.9)),
        support::ms(percentile(claims, 1.0))
    )
}

/// The floor: claims of one bare statement each, looping on one connection.
fn bare_claims(db: &Database, account: &str, campaign: &str, n: usize) -> f64 {
    let pick = format!(
        "SELECT id FROM customers WHERE account_id = '{account}' AND campaign_id = '{campaign}' AND due = 1 \
         AND wake_at = 0 ORDER BY id LIMIT 1"
    );
    match db.backend {
        Backend::Sqlite => {
            let conn = rusqlite::Connection::open(db.url().strip_prefix("sqlite://").unwrap()).unwrap();
            conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
            let sql = format!(
                "UPDATE customers SET status = 5, due = 3 WHERE account_id = '{account}' AND id = ({pick}) RETURNING id"
            );
            let mut stmt = conn.prepare(&sql).unwrap();
            let start = Instant::now();
            for _ in 0..n {
                let id: i64 = stmt.query_row([], |r| r.get(0)).unwrap();
                std::hint::black_box(id);
            }
            n as f64 / start.elapsed().as_secs_f64()
        }
        Backend::Postgres => {
            let one = format!(
                "WITH c AS ({pick} FOR UPDATE SKIP LOCKED) UPDATE customers u SET status = 5, due = 3 FROM c \
                 WHERE u.account_id = '{account}' AND u.id = c.id RETURNING u.id;\n"
            );
            let times = support::psql_timed(db.url(), &one.repeat(n));
            assert_eq!(times.len(), n);
            n as f64 / times.iter().sum::<Duration>().as_secs_f64()
        }
    }
}

/// Takes 90% of a campaign out of reach: eight in ten wait for a retry a day away,
/// one in ten is on the account's do-not-call list (as a load would have marked it).
fn block_most(db: &Database, account: &str, campaign: &str) {
    let scope = format!("account_id = '{account}' AND campaign_id = '{campaign}'");
    let later = callsheet::domain::now_secs() + 86_400;
    // CALLSHEET_BENCH_BLOCKED=contiguous keeps the callable tenth in runs of a hundred
    // ids instead of every tenth id: what the spread alone costs.
    let (waiting, listed) = match std::env::var("CALLSHEET_BENCH_BLOCKED").as_deref() {
        Ok("contiguous") => ("(id - 1) % 1000 BETWEEN 100 AND 899", "(id - 1) % 1000 >= 900"),
        _ => ("id % 10 BETWEEN 1 AND 8", "id % 10 = 9"),
    };
    let script = format!(
        "UPDATE customers SET status = 1, number_call_out = 1, due = 0, wake_at = {later} WHERE {scope} AND {waiting};\n\
         UPDATE customers SET status = 8, do_not_call = 1, due = NULL, wake_at = 0 WHERE {scope} AND {listed};\n"
    );
    match db.backend {
        Backend::Sqlite => {
            let conn = rusqlite::Connection::open(db.url().strip_prefix("sqlite://").unwrap()).unwrap();
            conn.busy_timeout(Duration::from_secs(60)).unwrap();
            conn.execute_batch(&format!("BEGIN;\n{script}COMMIT;")).unwrap();
        }
        Backend::Postgres => {
            support::psql(db.url(), &format!("BEGIN;\n{script}COMMIT;\nVACUUM ANALYZE customers;\n"));
        }
    }
}

#[tokio::main]
async fn main() {
    let rows = support::rows(1_000_000).max(10_000);
    let seconds: u64 = std::env::var("CALLSHEET_BENCH_WRK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let db = Database::fresh("calling");
    let backend = db.backend;
    let (store, account, key) = support::account(db.url()).await;
    let a = account.account_id();
    let mut agents = Vec::new();
    for i in 0..AGENTS {
        let draft = AgentDraft {
            name: Some(format!("Agent {i}")),
            stringee_user_id: Some(format!("agent{i}")),
            ..Default::default()
        };
        agents.push(AgentId::trusted(store.create_agent(a.clone(), draft.check().unwrap()).await.unwrap().id));
    }
    let seeding = Instant::now();
    let big = seed(&store, &a, 1, rows, &agents).await;
    let small = seed(&store, &a, 2, rows / 10, &agents).await;
    let blocked = seed(&store, &a, 3, rows, &agents).await;
    let floor_list = seed(&store, &a, 4, rows / 10, &agents).await;
    let warm_list = seed(&store, &a, 5, rows / 10, &agents).await;
    block_most(&db, account.id.as_str(), &blocked);
    eprintln!("seeded {} customers in {:.1} s", 2 * rows + 3 * rows / 10, seeding.elapsed().as_secs_f64());
    drop(store);
    db.settle();

    let floor = bare_claims(&db, account.id.as_str(), &floor_list, 20_000.min(rows / 20));
    let server = Arc::new(Server::start(db.url(), &key, &[]));
    let (warm, _) = cycles(&server, &warm_list, 2, None).await;
    eprintln!("warm-up: {warm:.0} cycles/s");
    let (big_rate, mut big_claims) = cycles(&server, &big, seconds, None).await;
    let (small_rate, _) = cycles(&server, &small, seconds, None).await;
    let (blocked_rate, mut blocked_claims) = cycles(&server, &blocked, seconds, None).await;
    let target = match backend {
        Backend::Sqlite => 2000.0,
        Backend::Postgres => 1000.0,
    };
    let (paced_rate, mut paced_claims) = cycles(&server, &big, seconds, Some(target)).await;
    let bare = match backend {
        Backend::Sqlite => "a bare UPDATE … RETURNING claim looping on one connection",
        Backend::Postgres => "a bare FOR UPDATE SKIP LOCKED claim looping on one connection",
    };
    let mut report = vec![
        Row::new(
            format!(
                "claim + result cycles, {AGENTS} agents on a {rows}-customer campaign ({} claims)",
                big_claims.len()
            ),
            Figure::Rate(big_rate, "cycles"),
            Target::RateAtLeast(target),
        )
        .floor(Figure::Rate(floor, "claims"), bare),
        Row::new(
            format!(
                "p99 claim latency, {AGENTS} agents as fast as they go (a closed loop) on {rows} customers ({})",
                spread(&mut big_claims)
            ),
            Figure::Time(percentile(&mut big_claims, 0.99)),
            Target::Within(Duration::from_millis(20)),
        ),
        Row::new(
            format!(
                "p99 claim latency, {AGENTS} agents offering {target:.0} cycles/s together on {rows} customers, each on \
                 a fixed timetable, counted from its scheduled start ({paced_rate:.0} cycles/s done; {})",
                spread(&mut paced_claims)
            ),
            Figure::Time(percentile(&mut paced_claims, 0.99)),
            Target::Within(Duration::from_millis(20)),
        ),
        Row::new(
            format!("claim + result cycles at {rows} customers, beside the same at {}", rows / 10),
            Figure::Rate(big_rate, "cycles"),
            Target::RatioAtMost(1.3),
        )
        .floor(Figure::Rate(small_rate, "cycles"), format!("the same {AGENTS} agents on {} customers", rows / 10)),
        Row::new(
            format!(
                "claim + result cycles at {rows} customers with 90% not callable (80% waiting for a retry, 10% do not \
                 call); p99 claim {}",
                support::ms(percentile(&mut blocked_claims, 0.99))
            ),
            Figure::Rate(blocked_rate, "cycles"),
            Target::RatioAtMost(1.3),
        )
        .floor(Figure::Rate(big_rate, "cycles"), format!("the same agents on {rows} customers all callable")),
    ];
    // Stats of the big campaign, now partly worked; the floor is GET /healthz.
    let mut stats = Vec::new();
    let mut health = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let body: Value = server
            .client
            .get(server.url(&format!("/v1/campaign/{big}/stats")))
            .header("X-STRINGEE-AUTH", &server.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats.push(start.elapsed());
        assert_eq!(body["r"], 0, "{body}");
        health.push(server.get("/healthz").await.0);
    }
    report.push(
        Row::new(
            format!("GET /v1/campaign/{{id}}/stats on {rows} customers (median of 20)"),
            Figure::Time(support::median(stats)),
            Target::Within(Duration::from_millis(50)),
        )
        .floor(Figure::Time(support::median(health)), "GET /healthz on the same server"),
    );
    support::report(&format!("calling: agents working a campaign ({})", backend.name()), &report);
}
