//! The filter language at scale, through the real server over HTTP: adding the
//! contacts a filter matches (100k of 1M) to a campaign, and a name search's first
//! page, beside their floors measured in the same run: a plain insert of the same
//! rows (COPY on PostgreSQL), and the bare index count on SQLite.
//!
//! `cargo bench --bench filter [-- CONTACTS]` (default 1,000,000) prints a markdown table.
//! The settings are in `support`.

use std::time::{Duration, Instant};

use callsheet::domain::customer::Source;
use support::{Backend, Database, Figure, Row, Server, Target, median};

mod support;

/// Contact `i`'s name: one contact in ten is a "Linh", the rest have other names.
fn name_of(i: usize) -> String {
    if i.is_multiple_of(10) { format!("Nguyễn Thị Linh {i}") } else { format!("Trần Văn Khách {i}") }
}

fn phone_of(i: usize) -> String {
    format!("849{:08}", i)
}

#[tokio::main]
async fn main() {
    let n = support::rows(1_000_000).max(1_000);
    let db = Database::fresh("filter");
    let backend = db.backend;
    let (store, account, key) = support::account(db.url()).await;

    let seeding = Instant::now();
    let (tx, rx) = callsheet::store::Entries::channel();
    let importing = {
        let (store, account) = (store.clone(), account.account_id());
        tokio::spawn(async move { store.import_contacts(account, None, rx).await })
    };
    support::feed_entries(tx, n, |i| (None, name_of(i), phone_of(i)), Source::File).await;
    importing.await.unwrap().unwrap();
    let seeded = seeding.elapsed();
    drop(store);
    db.settle();

    let server = Server::start(db.url(), &key, &[]);

    // The floor of adding: a plain insert of the rows it adds (a contact id, the name
    // and the phone) into a bare table of the same database.
    let linhs: Vec<[String; 3]> = (0..n).step_by(10).map(|i| [format!("CT{i:08}"), name_of(i), phone_of(i)]).collect();
    let matched = linhs.len();
    let insert_floor = db.plain_insert("floor_filter", &linhs);
    // The floor of searching: counting the word's contacts from the word index (SQLite's schema).
    let search_floor = (backend == Backend::Sqlite).then(|| {
        db.time_query(
            &format!(
                "SELECT count(*) FROM name_words WHERE key = \
                 (SELECT id || ' 1linh' FROM portals WHERE account_id = '{a}' AND is_default = 1)",
                a = account.id
            ),
            5,
        )
    });

    let campaign = server.create_campaign("From a filter").await;
    let (add_time, added) = server
        .post_json(
            "/v1/customcampaign",
            serde_json::json!({"campaign": campaign, "listfilters": [{"query": "name:linh"}]}),
        )
        .await;
    assert_eq!(added["summary"]["added"], matched, "{added}");

    let mut search = Vec::new();
    for _ in 0..20 {
        search.push(server.get("/v1/contact?query=name:linh&page=1&limit=20").await.0);
    }
    drop(server);

    let add = Row::new(
        format!("add-by-filter `name:linh` ({matched} of {n} contacts) into a campaign"),
        Figure::Time(add_time),
        // Issue 16: a second on both backends (it was 2 s).
        Target::Within(Duration::from_secs(1)),
    )
    .floor(Figure::Time(insert_floor), format!("{} of the same {matched} rows", backend.plain_insert()));
    let mut search = Row::new(
        "search `name:linh`, page 1 of 20 (median of 20)",
        Figure::Time(median(search)),
        Target::Within(Duration::from_millis(50)),
    );
    if let Some(floor) = search_floor {
        search = search.floor(Figure::Time(floor), "bare word-index count");
    }
    support::report(
        &format!(
            "filter: {n} CRM contacts, {matched} named Linh ({}; seeded through the contact import in {:.1} s)",
            backend.name(),
            seeded.as_secs_f64()
        ),
        &[add, search],
    );
}
