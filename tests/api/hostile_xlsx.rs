//! Hostile workbooks: a small valid workbook whose XML parts get odd values (huge
//! numbers, impossible cell references, cut tags) must come back as an import error
//! or as rows, never as a panic out of the reader or an abort. (A panic inside
//! calamine, such as its overflow on a long row number under overflow checks, is
//! caught by the reader and comes back as "it could not be read".) The mutations
//! are seeded, so a failure reproduces; the iteration number names the variant.

use std::io::{Read, Write};

use callsheet::domain::customer::Source;
use callsheet::domain::phone::Region;
use callsheet::import::{ImportError, ImportLimits, read_entries};

/// The parts of a zip archive, by name, as text.
fn parts(bytes: &[u8]) -> Vec<(String, String)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut part = zip.by_index(i).unwrap();
            let name = part.name().unwrap().to_string();
            let mut text = String::new();
            part.read_to_string(&mut text).unwrap();
            (name, text)
        })
        .collect()
}

fn pack(parts: &[(String, String)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in parts {
        out.start_file(name.clone(), zip::write::SimpleFileOptions::default()).unwrap();
        out.write_all(text.as_bytes()).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// Byte ranges of the attribute values and element texts of an XML part.
fn values(xml: &str) -> Vec<(usize, usize)> {
    let b = xml.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let end = match b[i] {
            b'>' => b'<',
            b'"' => b'"',
            _ => {
                i += 1;
                continue;
            }
        };
        let start = i + 1;
        let mut j = start;
        while j < b.len() && b[j] != end {
            j += 1;
        }
        if j > start && j - start < 40 {
            out.push((start, j));
        }
        i = if end == b'<' { j } else { j + 1 };
    }
    out
}

/// xorshift: the same variants on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn mutated_workbooks_are_refused_or_read_never_crash() {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    let ws = wb.add_worksheet();
    for (c, header) in ["id", "name", "phone", "when"].iter().enumerate() {
        ws.write_string(0, c as u16, *header).unwrap();
    }
    for r in 1..6u32 {
        ws.write_string(r, 0, format!("C{r}")).unwrap();
        ws.write_string(r, 1, format!("Tên {r}")).unwrap();
        ws.write_number(r, 2, 901_234_560.0 + r as f64).unwrap();
        let day = rust_xlsxwriter::ExcelDateTime::from_ymd(2024, 1, r as u8).unwrap();
        ws.write_datetime_with_format(r, 3, &day, &date).unwrap();
    }
    let base = parts(&wb.save_to_buffer().unwrap());
    let odd = [
        "4294967295",
        "4294967296",
        "18446744073709551616",
        "999999999999999999999",
        "-1",
        "0",
        "1048577",
        "XFD1048576",
        "A0",
        "ZZZZZZ9",
        "1e308",
        "NaN",
        "",
        "A1:XFD1048576",
    ];
    let limits = ImportLimits { max_rows: 1000, max_unpacked_bytes: 10 << 20 };
    let region = Region::vietnam();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut read, mut refused) = (0, 0);
    for iteration in 0..400 {
        let mut variant = base.clone();
        let k = rng.below(variant.len());
        let mut text = variant[k].1.clone();
        for _ in 0..1 + rng.below(3) {
            let spans = values(&text);
            if spans.is_empty() {
                break;
            }
            let (s, e) = spans[rng.below(spans.len())];
            text = format!("{}{}{}", &text[..s], odd[rng.below(odd.len())], &text[e..]);
        }
        if rng.below(4) == 0 && text.len() > 10 {
            let a = rng.below(text.len());
            let b = (a + rng.below(50)).min(text.len());
            if text.is_char_boundary(a) && text.is_char_boundary(b) {
                text.replace_range(a..b, "");
            }
        }
        variant[k].1 = text;
        let bytes = pack(&variant);
        let outcome = std::panic::catch_unwind(|| {
            read_entries(&bytes, &limits, &Default::default(), &region, Source::File, &mut |_| true)
        });
        match outcome {
            Ok(Ok(_)) => read += 1,
            Ok(Err(ImportError::File(msg) | ImportError::TooLarge(msg))) => {
                assert!(!msg.is_empty(), "variant {iteration}");
                refused += 1;
            }
            Ok(Err(other)) => panic!("variant {iteration} of {}: {other:?}", variant[k].0),
            Err(_) => panic!("variant {iteration} of {} panicked", variant[k].0),
        }
    }
    // Both kinds of outcome were exercised.
    assert!(read > 0 && refused > 0, "read {read}, refused {refused}");
}

/// A cell reference past any column makes calamine panic inside the reader: the
/// server answers r 8 and logs one warning line, not a crash report.
#[tokio::test]
async fn a_reader_panic_on_a_hostile_workbook_is_one_warning_in_the_log() {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "phone").unwrap();
    ws.write_string(1, 0, "0901234567").unwrap();
    let mut sheet = parts(&wb.save_to_buffer().unwrap());
    for (name, text) in &mut sheet {
        if name.starts_with("xl/worksheets/") {
            *text = text.replace("r=\"A2\"", "r=\"ZZZZZZZ2\"");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("h.db").display());
    let client = crate::common::ApiClient::new(&database, "Hostile");
    let mut served = crate::common::Served::start(&database, &[], "info");
    let campaign = client.post(&served, "/v1/campaign", serde_json::json!({"name": "H"})).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let form = reqwest::multipart::Form::new()
        .text("campaign", campaign)
        .part("file", reqwest::multipart::Part::bytes(pack(&sheet)).file_name("h.xlsx"));
    let resp = client
        .http
        .post(served.url("/v1/customcampaign"))
        .header("X-STRINGEE-AUTH", &client.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["r"], 8, "{body}");
    assert!(served.terminate());
    let log = served.log();
    assert!(!log.contains("panicked at"), "{log}");
    assert!(log.contains("the workbook reader failed on a malformed file"), "{log}");
}
