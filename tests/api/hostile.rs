//! Hostile input, as a probing client sends it: every request gets a clear error in
//! the envelope, changes nothing, and costs memory bounded by the limits, never by
//! the body. The memory bound is measured on a real `callsheet serve` process.

use std::io::Write;
use std::time::Instant;

use crate::common::{Backend, Body, TestApp, TestDb, pairs};
use reqwest::Method;
use serde_json::{Value, json};

/// A `callsheet serve` process on its own database, with an account and a token.
struct Server {
    served: crate::common::Served,
    base: String,
    token: String,
    campaign: String,
    _db: TestDb,
}

impl Server {
    async fn start(backend: Backend) -> Server {
        let (db, url) = TestDb::create(backend).await;
        let token = crate::common::cli_tenant(&url, "Hostile");
        let served = crate::common::Served::start(&url, &[], "warn,callsheet=info");
        let base = served.base.clone();
        let mut server = Server { served, base, token, campaign: String::new(), _db: db };
        let (_, body) = server.send("/v1/campaign", "application/json", br#"{"name":"Target"}"#.to_vec()).await;
        server.campaign = body["data"]["id"].as_str().unwrap().to_string();
        server
    }

    /// Peak resident memory of the server so far (VmHWM), in MiB.
    fn peak_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.served.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
    }

    async fn send(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        self.send_body(path, content_type, reqwest::Body::from(body)).await
    }

    async fn send_body(&self, path: &str, content_type: &str, body: reqwest::Body) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .header("X-STRINGEE-AUTH", &self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await;
        match response {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
            }
            // The server may answer and close before the client has sent everything.
            Err(e) => (0, Value::String(e.to_string())),
        }
    }

    async fn customers(&self) -> String {
        let r = reqwest::Client::new()
            .get(format!("{}/v1/customcampaign?campaign={}", self.base, self.campaign))
            .header("X-STRINGEE-AUTH", &self.token)
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        body["resFromPccApi"]["data"]["totalCount"].as_str().unwrap().to_string()
    }
}

const MIB: usize = 1024 * 1024;

/// `listcontacts` of `n` entries `{}`, as one JSON body.
fn tiny_entries(campaign: &str, n: usize) -> Vec<u8> {
    let mut body = format!(r#"{{"campaign":"{campaign}","listcontacts":["#).into_bytes();
    body.reserve(n * 3);
    for i in 0..n {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"{}");
    }
    body.extend_from_slice(b"]}");
    body
}

/// A body sent in chunks, without a length for the server to refuse it by.
fn chunked(bytes: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = bytes.chunks(MIB).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

fn multipart(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, content) in parts {
        write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").unwrap();
        if let Some(f) = filename {
            write!(body, "; filename=\"{f}\"").unwrap();
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    body
}

async fn hostile_bodies_stay_within_the_memory_bound(backend: Backend) {
    let server = Server::start(backend).await;
    let campaign = server.campaign.clone();
    let at_start = server.peak_mib();
    let mut figures = Vec::new();
    let boundary = "hostileboundary";
    let form = |parts: &[(&str, Option<&str>, &[u8])]| multipart(boundary, parts);
    let multipart_type = format!("multipart/form-data; boundary={boundary}");

    // 99 MiB of 9.4M tiny listcontacts entries, with its length and without.
    let many = tiny_entries(&campaign, 99 * MIB / 3);
    let mut cases: Vec<(&str, &str, reqwest::Body)> = vec![
        ("99 MiB JSON of tiny entries", "application/json", many.clone().into()),
        ("the same, chunked", "application/json", chunked(many)),
    ];
    // 31 MiB (under the JSON limit) of entries: stopped at the list limit.
    cases.push(("31 MiB JSON of tiny entries", "application/json", tiny_entries(&campaign, 31 * MIB / 3).into()));
    // 31 MiB of short lists in an unknown field: stopped by the value budget.
    let mut lists = br#"{"x":["#.to_vec();
    for i in 0..(31 * MIB / 40) {
        lists.extend_from_slice(if i == 0 {
            b"[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]".as_slice()
        } else {
            b",[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]"
        });
    }
    lists.extend_from_slice(b"]}");
    cases.push(("31 MiB of nested lists", "application/json", lists.into()));
    // 96 MiB of zeros in an unknown field.
    let mut zeros = br#"{"campaign":"x","unknown":""#.to_vec();
    zeros.resize(zeros.len() + 96 * MIB, b'0');
    zeros.extend_from_slice(b"\"}");
    cases.push(("96 MiB of zeros in a JSON field", "application/json", chunked(zeros)));
    // Nesting a million levels deep.
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(1_000_000), "]".repeat(1_000_000));
    cases.push(("a million nested lists", "application/json", deep.into_bytes().into()));
    // 31 MiB of PHP brackets, urlencoded.
    let brackets = "listcontacts[][phones][]=1&".repeat(31 * MIB / 28);
    cases.push(("31 MiB of bracket fields", "application/x-www-form-urlencoded", brackets.into_bytes().into()));
    // Multipart: 96 MiB of listcontacts JSON text, and a million tiny text parts.
    let text = tiny_entries(&campaign, 96 * MIB / 3);
    cases.push((
        "96 MiB listcontacts text part",
        &multipart_type,
        form(&[("campaign", None, campaign.as_bytes()), ("listcontacts", None, &text)]).into(),
    ));
    let mut parts = Vec::new();
    for i in 0..1_000_000 {
        write!(parts, "--{boundary}\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\n1\r\n").unwrap();
    }
    write!(parts, "--{boundary}--\r\n").unwrap();
    cases.push(("a million multipart text parts", &multipart_type, parts.into()));
    // Uploads: a 99 MiB CSV whose one cell is most of it, and one over the upload limit.
    let mut csv = b"name,phone\n".to_vec();
    csv.resize(csv.len() + 99 * MIB, b'a');
    csv.extend_from_slice(b",0901234567\n");
    cases.push((
        "a 99 MiB CSV cell",
        &multipart_type,
        // Waited for, so that the answer tells how the file was refused.
        form(&[("campaign", None, campaign.as_bytes()), ("async", None, b"0"), ("file", Some("one.csv"), &csv)]).into(),
    ));
    let mut big = b"name,phone\n".to_vec();
    big.resize(101 * MIB, b'a');
    cases.push((
        "a 101 MiB upload",
        &multipart_type,
        chunked(form(&[("campaign", None, campaign.as_bytes()), ("file", Some("big.csv"), &big)])),
    ));

    for (what, content_type, body) in cases {
        let started = Instant::now();
        let (status, answer) = server.send_body("/v1/customcampaign", content_type, body).await;
        let took = started.elapsed();
        let peak = server.peak_mib();
        figures.push(format!("{what}: {status} r={} in {:.1} s, peak {peak} MiB", answer["r"], took.as_secs_f64()));
        assert!(
            status == 0 || (matches!(status, 400 | 413 | 422) && matches!(answer["r"].as_i64(), Some(1 | 8 | 9))),
            "{what}: {status} {answer}"
        );
        assert!(peak <= 1024, "{what}: the server reached {peak} MiB (started at {at_start} MiB)");
    }
    eprintln!("hostile bodies on {backend:?} (server started at {at_start} MiB):\n  {}", figures.join("\n  "));
    assert_eq!(server.customers().await, "0", "a hostile body wrote something");
}

backend_test!(hostile_bodies_stay_within_the_memory_bound_of_a_server, async {
    hostile_bodies_stay_within_the_memory_bound(crate::common::current_backend()).await
});

/// What the account holds, to check that a refused request changed nothing.
async fn holdings(app: &TestApp) -> Value {
    let count = |body: Value, at: &str| body.pointer(at).cloned().unwrap_or(Value::Null);
    json!({
        "campaigns": count(app.get("/v1/campaign").await.1, "/data/totalCount"),
        "contacts": count(app.get("/v1/contact").await.1, "/data/totalCount"),
        "customers": count(app.get("/v1/customcampaign").await.1, "/resFromPccApi/data/totalCount"),
        "filters": count(app.get("/v1/filter").await.1, "/data/totalCount"),
    })
}

fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    for (name, content) in parts {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

/// A workbook whose sheet XML is `sheet`.
fn workbook(sheet: &str) -> Vec<u8> {
    workbook_with(sheet, &[])
}

/// A workbook whose sheet XML is `sheet`, with more parts.
fn workbook_with(sheet: &str, more: &[(&str, &[u8])]) -> Vec<u8> {
    let mut parts: Vec<(&str, &[u8])> = vec![
        ("[Content_Types].xml", br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#),
        ("_rels/.rels", br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#),
        ("xl/workbook.xml", br#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#),
        ("xl/_rels/workbook.xml.rels", br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
    ];
    parts.extend_from_slice(more);
    zip_of(&parts)
}

backend_test!(hostile_inputs_get_a_clear_error_and_change_nothing, async {
    let limits = callsheet::config::Limits { unpacked_bytes: 8 * 1024 * 1024, ..Default::default() };
    let app = TestApp::spawn_with(axum::Router::new(), limits).await;
    let campaign = app.create_campaign("Target").await;
    app.create_contact(json!({"name": "An", "phones": ["0901234567"]})).await;
    let before = holdings(&app).await;
    let token = app.tenant.token.clone();
    let upload = |name: &'static str, bytes: Vec<u8>| Body::Upload(pairs(&[("campaign", &campaign)]), name, bytes);
    let row = |cells: &str| format!(r#"<row r="1">{cells}</row>"#);
    let sheet = |rows: &str| {
        format!(
            r#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>"#
        )
    };
    let laughs = format!(
        r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">{}]><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>phone &lol9;</t></is></c></row></sheetData></worksheet>"#,
        (1..10)
            .map(|i| format!(
                r#"<!ENTITY lol{i} "{}">"#,
                format!("&lol{};", if i == 1 { String::new() } else { (i - 1).to_string() }).repeat(10)
            ))
            .collect::<String>()
    );
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>phone</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData></worksheet>"#;
    // A name from the shared strings, `index` naming it, and a phone.
    let index_book = |index: &str| {
        workbook_with(
            &sheet(&format!(
                r#"{}<row r="2"><c r="A2" t="s"><v>{index}</v></c><c r="B2" t="inlineStr"><is><t>0901234567</t></is></c></row>"#,
                row(r#"<c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>"#),
            )),
            &[(
                "xl/sharedStrings.xml",
                br#"<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="3" uniqueCount="3"><si><t>name</t></si><si><t>phone</t></si><si><t>Binh</t></si></sst>"#,
            )],
        )
    };
    let deep_query = format!("{}name:a{}", "(".repeat(5000), ")".repeat(5000));
    let cases: Vec<(&str, Method, String, Body, u16, i64)> = vec![
        // Tokens.
        ("a token of 60 KB", Method::GET, "/v1/campaign".into(), Body::None, 401, 5),
        // Broken encodings.
        (
            "invalid UTF-8 in JSON",
            Method::POST,
            "/v1/campaign".into(),
            Body::Raw("application/json", b"{\"name\":\"\xff\xfe\"}".to_vec()),
            400,
            1,
        ),
        (
            "a lone surrogate",
            Method::POST,
            "/v1/campaign".into(),
            Body::Raw("application/json", br#"{"name":"\ud800"}"#.to_vec()),
            400,
            1,
        ),
        (
            "a field given twice",
            Method::POST,
            "/v1/customcampaign".into(),
            Body::Raw(
                "application/json",
                format!(
                    r#"{{"campaign":"CAXXXXXX","campaign":"{campaign}","listcontacts":[{{"id":"c1","phones":["0901234567"]}}]}}"#
                )
                .into_bytes(),
            ),
            400,
            1,
        ),
        (
            "JSON that is not an object",
            Method::POST,
            "/v1/customcampaign".into(),
            Body::Raw("application/json", b"\"campaign\"".to_vec()),
            400,
            1,
        ),
        (
            "trailing garbage",
            Method::POST,
            "/v1/campaign".into(),
            Body::Raw("application/json", br#"{"name":"x"} {"#.to_vec()),
            400,
            1,
        ),
        (
            "a multipart body with no boundary",
            Method::POST,
            "/v1/campaign".into(),
            Body::Raw("multipart/form-data", b"--x\r\n".to_vec()),
            400,
            1,
        ),
        (
            "a multipart body cut short",
            Method::POST,
            "/v1/campaign".into(),
            Body::Raw(
                "multipart/form-data; boundary=x",
                b"--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nabc".to_vec(),
            ),
            400,
            1,
        ),
        (
            "non-UTF-8 multipart text",
            Method::POST,
            "/v1/campaign".into(),
            Body::Raw(
                "multipart/form-data; boundary=x",
                b"--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n\xff\r\n--x--\r\n".to_vec(),
            ),
            400,
            1,
        ),
        // Brackets and nesting.
        (
            "a bracket bomb",
            Method::POST,
            "/v1/customcampaign".into(),
            Body::Raw(
                "application/x-www-form-urlencoded",
                format!("campaign={campaign}&listcontacts{}=1", "[0]".repeat(50_000)).into_bytes(),
            ),
            400,
            1,
        ),
        (
            "listcontacts nested a hundred thousand deep",
            Method::POST,
            "/v1/customcampaign".into(),
            Body::Multipart(pairs(&[
                ("campaign", &campaign),
                ("listcontacts", &format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))),
            ])),
            400,
            1,
        ),
        (
            "deep JSON",
            Method::POST,
            "/v1/campaign".into(),
            Body::Raw(
                "application/json",
                format!("{{\"name\":{}1{}}}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            ),
            400,
            1,
        ),
        (
            "listcontacts entries of the wrong type",
            Method::POST,
            "/v1/customcampaign".into(),
            Body::Json(json!({"campaign": campaign, "listcontacts": [{"id": "CT1", "phones": {"a": 1}}]})),
            400,
            1,
        ),
        (
            "keepduplicate with a customer id out of range",
            Method::POST,
            "/v1/customcampaign/keepduplicate".into(),
            Body::Json(json!({"campaign": campaign, "listKeepCustomer": {"0901234567": "99999999999999999999999"}})),
            400,
            1,
        ),
        (
            "a page past any number",
            Method::GET,
            "/v1/customcampaign?page=99999999999999999999".into(),
            Body::None,
            200,
            0,
        ),
        ("a limit of zero", Method::GET, "/v1/customcampaign?limit=0".into(), Body::None, 400, 1),
        // Queries.
        (
            "a query nested five thousand deep",
            Method::POST,
            "/v1/filter".into(),
            Body::Json(json!({"name": "deep", "query": deep_query})),
            400,
            6,
        ),
        (
            "a query of a hundred thousand characters",
            Method::POST,
            "/v1/filter".into(),
            Body::Json(json!({"name": "long", "query": "name:a OR ".repeat(10_000) + "name:b"})),
            400,
            6,
        ),
        ("an unterminated phrase", Method::GET, "/v1/contact?query=name:%22abc".into(), Body::None, 400, 6),
        (
            "a range with no end",
            Method::POST,
            "/v1/customcampaign".into(),
            Body::Json(json!({"campaign": campaign, "listfilters": [{"query": "created:[1 TO"}]})),
            400,
            6,
        ),
        // Lying and hostile files.
        (
            "an .xlsx that is text",
            Method::POST,
            "/v1/customcampaign".into(),
            upload("leads.xlsx", b"name\nAn\n".to_vec()),
            422,
            8,
        ),
        (
            "a zip that is no workbook",
            Method::POST,
            "/v1/customcampaign".into(),
            upload("leads.xlsx", zip_of(&[("a.txt", b"hello")])),
            422,
            8,
        ),
        (
            "an .xls file",
            Method::POST,
            "/v1/customcampaign".into(),
            upload("leads.xls", [&[0xD0u8, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1][..], &[0; 512]].concat()),
            422,
            8,
        ),
        (
            "a binary file named .csv",
            Method::POST,
            "/v1/customcampaign".into(),
            upload("leads.csv", vec![0, 1, 2, 3, 255, 0, 7]),
            422,
            8,
        ),
        (
            "a CSV that is not UTF-8",
            Method::POST,
            "/v1/customcampaign".into(),
            upload("leads.csv", b"name,phone\nD\xe0i,0901234567\n".to_vec()),
            422,
            8,
        ),
        (
            "a CSV whose quote is never closed",
            Method::POST,
            "/v1/customcampaign".into(),
            upload("leads.csv", b"name,phone\nAn,0901234567\n\"Binh,0901234568\nChi,0901234569\n".to_vec()),
            422,
            8,
        ),
        (
            "a CSV with no phone column",
            Method::POST,
            "/v1/customcampaign".into(),
            upload("leads.csv", b"name,city\nAn,Hue\n".to_vec()),
            422,
            8,
        ),
        (
            "a zip bomb",
            Method::POST,
            "/v1/customcampaign".into(),
            upload("bomb.xlsx", zip_of(&[("xl/worksheets/sheet1.xml", &vec![b' '; 16 * 1024 * 1024])])),
            413,
            9,
        ),
        (
            "a billion laughs",
            Method::POST,
            "/v1/customcampaign".into(),
            upload("laughs.xlsx", workbook(&laughs)),
            422,
            8,
        ),
        ("an external entity", Method::POST, "/v1/customcampaign".into(), upload("xxe.xlsx", workbook(xxe)), 422, 8),
        (
            "a shared-string cell whose index is not a number",
            Method::POST,
            "/v1/customcampaign".into(),
            upload("index.xlsx", index_book("-1")),
            422,
            8,
        ),
        (
            "a cell at column two billion",
            Method::POST,
            "/v1/customcampaign".into(),
            upload(
                "far.xlsx",
                workbook(&sheet(&row(
                    r#"<c r="A1" t="inlineStr"><is><t>phone</t></is></c><c r="CZZZZZ1" t="inlineStr"><is><t>x</t></is></c>"#,
                ))),
            ),
            422,
            8,
        ),
    ];
    for (what, method, path, body, status, r) in cases {
        let sent_token = if what == "a token of 60 KB" { "e".repeat(60 * 1024) } else { token.clone() };
        let (got, answer) = app.send(method, &path, Some(&sent_token), body).await;
        assert_eq!((got, answer["r"].as_i64()), (status, Some(r)), "{what}: {answer}");
        let msg = answer["msg"].as_str().unwrap_or_default();
        assert!(!msg.is_empty() && msg == answer["message"].as_str().unwrap_or_default(), "{what}: {answer}");
        assert_eq!(holdings(&app).await, before, "{what} changed something");
    }
    // The refusal above is the index's: the same workbook naming a true one is read.
    let (status, body) =
        app.send(Method::POST, "/v1/customcampaign", Some(&token), upload("index.xlsx", index_book("2"))).await;
    assert_eq!((status, &body["summary"]["added"]), (200, &json!(1)), "{body}");
    let (_, listed) = app.get(&format!("/v1/customcampaign?campaign={campaign}")).await;
    assert_eq!(listed["resFromPccApi"]["data"]["rows"][0]["name"], "Binh", "{listed}");
    // What a billion laughs would have expanded to is nowhere.
    let (_, contacts) = app.get("/v1/contact?query=name:lollollol").await;
    assert_eq!(contacts["data"]["totalCount"], 0);
});

backend_test!(the_largest_request_the_limits_allow_is_accepted_in_every_encoding, async {
    // The value budget grows with the listcontacts limit: a full list in any encoding fits.
    let limits = callsheet::config::Limits { listcontacts: 5_000, ..Default::default() };
    let app = TestApp::spawn_with(axum::Router::new(), limits).await;
    let entry = |enc: usize, i: usize| {
        json!({"id": format!("CT{enc}{i:07}"), "name": format!("Khách hàng số {i}"),
               "phones": [format!("090{enc}{i:06}"), format!("091{enc}{i:06}")]})
    };
    for enc in 0..3 {
        let campaign = app.create_campaign(&format!("Full {enc}")).await;
        let entries: Vec<Value> = (0..5_000).map(|i| entry(enc, i)).collect();
        let body = match enc {
            0 => Body::Json(json!({"campaign": campaign, "listcontacts": entries})),
            1 => {
                Body::Multipart(pairs(&[("campaign", &campaign), ("listcontacts", &Value::Array(entries).to_string())]))
            }
            _ => {
                let mut form = vec![("campaign".to_string(), campaign.clone())];
                for (i, e) in entries.iter().enumerate() {
                    form.push((format!("listcontacts[{i}][id]"), e["id"].as_str().unwrap().to_string()));
                    form.push((format!("listcontacts[{i}][name]"), e["name"].as_str().unwrap().to_string()));
                    for p in e["phones"].as_array().unwrap() {
                        form.push((format!("listcontacts[{i}][phones][]"), p.as_str().unwrap().to_string()));
                    }
                }
                Body::Form(form)
            }
        };
        let (status, answer) = app.send(Method::POST, "/v1/customcampaign", Some(&app.tenant.token), body).await;
        assert_eq!(status, 200, "encoding {enc}: {answer}");
        assert_eq!(answer["summary"]["added"], 5_000, "encoding {enc}: {answer}");
    }
});
