//! A million-row .xlsx through the real server over HTTP into a campaign, beside
//! its floor measured in the same run: calamine parsing the same file plus a plain
//! insert of the same rows (COPY on PostgreSQL). Also the server's peak RSS.
//!
//! `cargo bench --bench import [-- ROWS]` (default 1,000,000) prints a markdown table;
//! `CALLSHEET_BENCH_IMPORT=ids` or `noids` measures one of its two files alone.
//! The settings are in `support`.

use std::io::Cursor;
use std::time::{Duration, Instant};

use calamine::{Reader, Xlsx};
use support::{Backend, Database, Figure, Row, RowsOf, Server, Target};

mod support;

/// Data rows one file holds at most: past a million (a sheet holds 1,048,576 rows),
/// the rows go in several files of a million, uploaded one after another into the
/// same campaign, as a list that size would be.
const FILE_ROWS: usize = 1_000_000;

/// The files of `rows` rows, each of at most [`FILE_ROWS`].
fn workbooks(rows: usize, with_id: bool) -> Vec<Vec<u8>> {
    (0..rows).step_by(FILE_ROWS).map(|from| workbook(from, (rows - from).min(FILE_ROWS), with_id)).collect()
}

/// A workbook like a CRM export: text ids and names, phones as numeric cells; rows
/// `from` to `from + rows`.
fn workbook(from: usize, rows: usize, with_id: bool) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet_with_low_memory().unwrap();
    let headers: &[&str] = if with_id { &["id", "name", "phone"] } else { &["name", "phone", "email"] };
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (k, i) in (from..from + rows).enumerate() {
        let r = k as u32 + 1;
        let phone = 900_000_000.0 + ((i * 7919) % 99_999_999) as f64;
        if with_id {
            ws.write_string(r, 0, format!("CT{i:08}")).unwrap();
            ws.write_string(r, 1, format!("Khách hàng {i}")).unwrap();
            ws.write_number(r, 2, phone).unwrap();
        } else {
            ws.write_string(r, 0, format!("Khách hàng {i}")).unwrap();
            ws.write_number(r, 1, phone).unwrap();
            ws.write_string(r, 2, format!("k{i}@example.com")).unwrap();
        }
    }
    wb.save_to_buffer().unwrap()
}

/// The floor's first half: calamine reading every cell of the file, as text.
fn calamine_parse(bytes: &[u8]) -> (Duration, Vec<Vec<String>>) {
    let start = Instant::now();
    let mut wb = Xlsx::new(Cursor::new(bytes)).unwrap();
    let sheet = wb.sheet_names()[0].clone();
    let mut reader = wb.worksheet_cells_reader(&sheet).unwrap();
    let mut rows: Vec<Vec<String>> = Vec::new();
    while let Some(cell) = reader.next_cell().unwrap() {
        let (r, _) = cell.get_position();
        if rows.len() <= r as usize {
            rows.resize_with(r as usize + 1, Vec::new);
        }
        let text = match cell.get_value() {
            calamine::DataRef::SharedString(s) => s.to_string(),
            calamine::DataRef::String(s) => s.clone(),
            calamine::DataRef::Float(f) => (*f as i64).to_string(),
            calamine::DataRef::Int(i) => i.to_string(),
            _ => String::new(),
        };
        rows[r as usize].push(text);
    }
    (start.elapsed(), rows)
}

/// What uploads into one campaign did: their summed duration, and the customers
/// they added and the rows they attached to CRM contacts already there (`matched`).
struct Uploaded {
    took: Duration,
    added: u64,
    matched: u64,
}

/// Uploads `files` one after another into `campaign`.
async fn import(server: &Server, campaign: &str, files: &[Vec<u8>]) -> Uploaded {
    let mut done = Uploaded { took: Duration::ZERO, added: 0, matched: 0 };
    for file in files {
        let (t, body) = server.upload(campaign, file.clone(), "list.xlsx").await;
        let count = |key: &str| body["summary"][key].as_u64().unwrap_or_else(|| panic!("the upload answered {body}"));
        done.took += t;
        done.added += count("added");
        done.matched += count("matched");
    }
    done
}

/// The floor of an import against the schema: the rows its `rows` file rows become,
/// written bare into callsheet's own tables in a fresh database. Without ids, a CRM
/// contact with its phone and its name's word entries, and a customer; with ids
/// (SQLite only: PostgreSQL's row is COPY into the customers table), the customer.
fn bare_rows(backend: Backend, rows: usize, with_id: bool) -> Duration {
    let db = Database::fresh("import_bare_floor");
    let runtime = tokio::runtime::Handle::current();
    let (account, portal) = tokio::task::block_in_place(|| {
        runtime.block_on(async {
            let (store, account, _) = support::account(db.url()).await;
            let portal = store.portal(account.account_id(), None).await.unwrap().expect("a default portal").id;
            (account.id, portal)
        })
    });
    let name = |i: usize| format!("Khách hàng {i}");
    let phone = |i: usize| format!("84{}", 900_000_000 + (i * 7919) % 99_999_999);
    let id = |i: usize| format!("CT{i:08}");
    let seq = |i: usize| (i + 1).to_string();
    let key = |i: usize| callsheet::domain::customer::name_key(&name(i));
    let (a, p) = (account.as_str(), portal.as_str());
    let words = |i: usize| -> Vec<(String, String)> {
        let n = name(i);
        callsheet::domain::customer::name_word_keys(p, &n).map(|(k, pos)| (k, pos.to_string())).collect()
    };
    // SQLite's customers, alone with ids, after the contacts without.
    let customers: (&str, RowsOf<'_>) =
        ("customers (account_id, campaign_id, crm_id, name, name_key, phones, type, insert_time)", &|i| {
            vec![vec![a.into(), "CAFLOOR".into(), id(i), name(i), key(i), phone(i), "3".into(), "0".into()]]
        });
    if with_id {
        return db.write_bare(rows, &[customers]);
    }
    match backend {
        Backend::Sqlite => db.write_bare(
            rows,
            &[
                ("contacts (seq, account_id, id, portal_id, name, email, fields, created, updated, field_words)", &|i| {
                    vec![vec![seq(i), a.into(), id(i), p.into(), name(i), format!("k{i}@example.com"), "{}".into(), "0".into(), "0".into(), "{}".into()]]
                }),
                ("contact_phones (account_id, phone, contact_rowid, pos)", &|i| vec![vec![a.into(), phone(i), seq(i), "0".into()]]),
                ("name_words (key, contact_rowid, pos)", &|i| words(i).into_iter().map(|(k, pos)| vec![k, seq(i), pos]).collect()),
                customers,
            ],
        ),
        Backend::Postgres => db.write_bare(
            rows,
            &[
                (
                    "contacts (account_id, id, seq, portal_id, name, name_key, email, fields, created, updated, field_words, phones)",
                    &|i| {
                        vec![vec![a.into(), id(i), seq(i), p.into(), name(i), key(i), format!("k{i}@example.com"), "{}".into(), "0".into(), "0".into(), "{}".into(), phone(i)]]
                    },
                ),
                ("contact_phones (account_id, contact_rowid, pos, phone)", &|i| vec![vec![a.into(), seq(i), "0".into(), phone(i)]]),
                ("name_words (account_id, key, contact_rowid, pos)", &|i| words(i).into_iter().map(|(k, pos)| vec![a.into(), k, seq(i), pos]).collect()),
                ("customers (account_id, campaign_id, insert_time, id, crm_id, name, name_key, phones, type)", &|i| {
                    vec![vec![a.into(), "CAFLOOR".into(), "0".into(), seq(i), id(i), name(i), key(i), phone(i), "3".into()]]
                }),
            ],
        ),
    }
}

#[tokio::main]
async fn main() {
    let rows = support::rows(1_000_000).max(1_000);
    let backend = Backend::from_env();
    let mut report = Vec::new();
    // Sizes past the default limits are let through.
    let limits = callsheet::config::Limits::default();
    let max_rows = rows.max(limits.file_rows).to_string();
    // CALLSHEET_BENCH_IMPORT=ids (or noids) measures one of the two files alone.
    let only = std::env::var("CALLSHEET_BENCH_IMPORT").ok();
    for with_id in [true, false] {
        if only.as_deref().is_some_and(|k| k != if with_id { "ids" } else { "noids" }) {
            continue;
        }
        let files = workbooks(rows, with_id);
        let (mut parse, mut parsed) = (Duration::ZERO, Vec::with_capacity(rows));
        for file in &files {
            let (took, cells) = calamine_parse(file);
            parse += took;
            parsed.extend(cells.into_iter().skip(1).map(|r| <[String; 3]>::try_from(r).expect("three cells a row")));
        }
        let bytes: usize = files.iter().map(Vec::len).sum();
        let insert = Database::fresh("import_floor").plain_insert("floor", &parsed);
        drop(parsed);

        let columns = if with_id { "id, name, phone" } else { "name, phone, email: each row a new CRM contact" };
        let what = match files.len() {
            1 => format!("a {rows}-row .xlsx"),
            n => format!("{rows} rows as {n} .xlsx files of up to {FILE_ROWS}"),
        };
        let label = format!("import of {what} ({:.1} MB; {columns})", bytes as f64 / 1e6);
        let db = Database::fresh(if with_id { "import_with_id" } else { "import_no_id" });
        let (store, _, key) = support::account(db.url()).await;
        drop(store);
        // On PostgreSQL the target compares with COPY of the same rows into callsheet's
        // own customers table, its indexes included, in a database of its own.
        let copy_floor = if backend == Backend::Postgres && with_id {
            let floor = Database::fresh("import_copy_floor");
            let (store, account, _) = support::account(floor.url()).await;
            drop(store);
            let customer = |i: usize| {
                let name = format!("Khách hàng {i}");
                let phone = format!("84{}", 900_000_000 + (i * 7919) % 99_999_999);
                let key = callsheet::domain::customer::name_key(&name);
                let id = (i + 1).to_string();
                vec![
                    account.id.clone(),
                    "CAFLOOR".into(),
                    "0".into(),
                    id,
                    format!("CT{i:08}"),
                    name,
                    key,
                    phone,
                    "3".into(),
                ]
            };
            let target = "customers (account_id, campaign_id, insert_time, id, crm_id, name, name_key, phones, type)";
            Some(floor.copy_into(target, (0..rows).map(customer)))
        } else {
            None
        };
        // Without ids: what the rows cost the schema alone. Each row makes a CRM
        // contact (its row, its phone, its name's word entries) and a customer;
        // written bare into callsheet's own tables, indexes included, in a database
        // of its own. The import's time beyond this is callsheet's own work.
        // With ids on SQLite, the same for its customers alone.
        let bare_floor = (!with_id || backend == Backend::Sqlite).then(|| bare_rows(backend, rows, with_id));
        let largest = files.iter().map(Vec::len).max().unwrap_or(0);
        let max_upload = (2 * largest).max(limits.upload_bytes).to_string();
        // Past a million rows the sheet unpacks past the default 1 GiB; and the upload
        // is waited for, not turned into a job, whatever its size.
        let max_unpacked = (400 * rows.min(FILE_ROWS) as u64).max(limits.unpacked_bytes).to_string();
        let server = Server::start(
            db.url(),
            &key,
            &[
                "--max-file-rows",
                &max_rows,
                "--max-upload-bytes",
                &max_upload,
                "--max-unpacked-bytes",
                &max_unpacked,
                "--async-upload-bytes",
                "0",
            ],
        );
        let campaign = server.create_campaign("Import").await;
        let first = import(&server, &campaign, &files).await;
        assert_eq!(first.added, rows as u64);
        let took = first.took;
        let rss = server.peak_rss_mb();
        // The same file again, into the same campaign: every row's phone now belongs to
        // the contact the first upload made, which the campaign holds (issue 16).
        let again = if with_id { None } else { Some(import(&server, &campaign, &files).await) };
        drop(server);

        // SQLite: 1.5x with ids (issue 4), 2x without (issue 16). PostgreSQL: 3x its
        // floor without ids (issue 16); with ids, the COPY row below.
        let target = match (backend, with_id) {
            (Backend::Sqlite, true) => Target::RatioAtMost(1.5),
            (Backend::Sqlite, false) => Target::RatioAtMost(2.0),
            (Backend::Postgres, false) => Target::RatioAtMost(3.0),
            (Backend::Postgres, true) => Target::None,
        };
        report.push(Row::new(label.clone(), Figure::Time(took), target).floor(
            Figure::Time(parse + insert),
            format!("calamine parse {} + {} {}", support::ms(parse), backend.plain_insert(), support::ms(insert)),
        ));
        if let Some(bare) = bare_floor {
            report.push(
                Row::new(format!("{label}, against its rows written bare"), Figure::Time(took), Target::None).floor(
                    Figure::Time(bare),
                    match with_id {
                        true => {
                            format!("{} of the same customers into callsheet's customers table", backend.plain_insert())
                        }
                        false => format!(
                            "{} of the same contacts, phones, word entries and customers into callsheet's tables",
                            backend.plain_insert()
                        ),
                    },
                ),
            );
        }
        if let Some(copy) = copy_floor {
            report.push(
                Row::new(format!("{label}, against COPY"), Figure::Time(took), Target::RatioAtMost(1.2)).floor(
                    Figure::Time(copy),
                    format!("COPY of the same {rows} rows into the customers table, its indexes included"),
                ),
            );
        }
        report.push(Row::new("server peak RSS, same import", Figure::Megabytes(rss), Target::MegabytesAtMost(500.0)));
        if let Some(again) = again {
            assert_eq!((again.added, again.matched), (0, rows as u64), "the second upload added or created contacts");
            report.push(
                Row::new(
                    format!(
                        "the same {} uploaded again into the same campaign (adds 0; {} rows matched)",
                        if files.len() == 1 { "file" } else { "files" },
                        again.matched
                    ),
                    Figure::Time(again.took),
                    Target::RatioAtMost(1.0),
                )
                .floor(Figure::Time(took), "the first upload of the file".to_string()),
            );
        }
    }
    support::report(&format!("import: {rows} rows of .xlsx through the server ({})", backend.name()), &report);
}
