//! Spreadsheet import (CONTRACT §4, §5, §8): real .xlsx files made with
//! rust_xlsxwriter, CSV variants, hostile and broken files, limits, and the
//! per-row report.

use crate::common::{Body, TestApp, error, pairs, upload};
use callsheet::config::Limits;
use reqwest::Method;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use serde_json::{Value, json};

/// A workbook from rows of cells: strings, numbers (`#123`) and dates (`@2024-01-02`).
fn xlsx(rows: &[&[&str]], constant_memory: bool) -> Vec<u8> {
    let mut wb = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let ws = if constant_memory { wb.add_worksheet_with_constant_memory().unwrap() } else { wb.add_worksheet() };
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            if let Some(n) = cell.strip_prefix('#') {
                ws.write_number(r, c, n.parse::<f64>().unwrap()).unwrap();
            } else if let Some(d) = cell.strip_prefix('@') {
                let dt = ExcelDateTime::parse_from_str(d).unwrap();
                ws.write_datetime_with_format(r, c, &dt, &date).unwrap();
            } else if !cell.is_empty() {
                ws.write_string(r, c, *cell).unwrap();
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

async fn customers(app: &TestApp, campaign: &str) -> Vec<Value> {
    let (_, body) = app.get(&format!("/v1/customcampaign?campaign={campaign}&limit=1000")).await;
    body["resFromPccApi"]["data"]["rows"].as_array().unwrap().clone()
}

fn summary_of(rows: &[Value]) -> Vec<(String, String, Value)> {
    rows.iter()
        .map(|r| {
            (r["crm_id"].as_str().unwrap().to_string(), r["name"].as_str().unwrap().to_string(), r["phones"].clone())
        })
        .collect()
}

backend_test!(xlsx_with_vietnamese_headers_and_numeric_phones, async {
    for constant_memory in [false, true] {
        let app = TestApp::spawn().await;
        let campaign = app.create_campaign("Import").await;
        let file = xlsx(
            &[
                &["Mã", "Họ và tên", "Số điện thoại", "SĐT 2", "Ghi chú"],
                &["CT01", "Nguyễn Văn Đài", "#912345678", "0987654321", "VIP"],
                &["#12345", "Trần Thị B", "#84901234567", "", ""],
                &[],
                &["CT03", "Lê C", "@2024-01-02", "", "date is not a phone"],
                &["CT04", "Phạm D", "abc", "", ""],
            ],
            constant_memory,
        );
        let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "list.xlsx", file).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            json!({"r": 0, "msg": "Success", "data": [], "summary": {"matched": 0, "dnc": 0,
                "total": 4, "added": 2, "skipped": 0, "invalid": 2, "repeated": 0,
                "invalid_rows": [
                    {"row": 5, "id": "CT03", "reason": "no valid phone: 2024-01-02"},
                    {"row": 6, "id": "CT04", "reason": "no valid phone: abc"}],
                "dropped_phones": []}}),
            "constant_memory={constant_memory}"
        );
        let rows = customers(&app, &campaign).await;
        assert_eq!(
            summary_of(&rows),
            [
                ("CT01".into(), "Nguyễn Văn Đài".into(), json!(["84912345678", "84987654321"])),
                ("12345".into(), "Trần Thị B".into(), json!(["84901234567"])),
            ]
        );
        assert_eq!(rows[0]["type"], 3);
    }
});

backend_test!(rows_without_id_become_crm_contacts_with_their_fields, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Import").await;
    let file =
        xlsx(&[&["Full Name", "Mobile", "Email", "City"], &["Linh", "0386142833", "linh@example.com", "Huế"]], false);
    let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "x.xlsx", file).await;
    assert_eq!(status, 200, "{body}");
    let rows = customers(&app, &campaign).await;
    let crm = rows[0]["crm_id"].as_str().unwrap();
    let (_, contact) = app.get(&format!("/v1/contact/{crm}")).await;
    let c = &contact["data"];
    assert_eq!((c["name"].as_str(), c["email"].as_str()), (Some("Linh"), Some("linh@example.com")));
    assert_eq!(c["phones"], json!(["84386142833"]));
    assert_eq!(c["fields"], json!({"City": "Huế"}));
    assert_eq!(c["portal"], json!(app.tenant.portal));
});

backend_test!(repeats_inside_a_file_are_reported_not_doubled, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Import").await;
    let file = xlsx(
        &[
            &["id", "name", "phone"],
            &["A", "one", "0901000001"],
            &["A", "one again", "0901000009"],
            &["", "two", "0901000002"],
            &["", "two again", "+84 901 000 002"],
        ],
        false,
    );
    let (_, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "x.xlsx", file).await;
    assert_eq!(
        body["summary"]["invalid_rows"],
        json!([
            {"row": 3, "id": "A", "reason": "repeats row 2 (same id)"},
            {"row": 5, "id": null, "reason": "repeats row 4 (same phone)"}])
    );
    // Repeats have their own count; `invalid` is for rows wrong in themselves.
    let counts = |b: &Value| {
        (
            b["summary"]["total"].clone(),
            b["summary"]["added"].clone(),
            b["summary"]["invalid"].clone(),
            b["summary"]["repeated"].clone(),
        )
    };
    assert_eq!(counts(&body), (json!(4), json!(2), json!(0), json!(2)), "{body}");
    assert_eq!(customers(&app, &campaign).await.len(), 2);
});

/// A workbook of named sheets, each from rows of text cells.
fn workbook(sheets: &[(&str, &[&[&str]])]) -> Vec<u8> {
    let mut wb = Workbook::new();
    for (name, rows) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                if !cell.is_empty() {
                    ws.write_string(r as u32, c as u16, *cell).unwrap();
                }
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

backend_test!(the_header_is_found_below_title_rows_on_the_sheet_that_has_phones, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Import").await;
    let list: &[&[&str]] = &[
        &["Danh sách khách hàng tháng 12"],
        &[],
        &["Xuất ngày 05/12/2026", "", "Trang 1"],
        &["Họ tên", "Số điện thoại", "Tỉnh"],
        &["Nguyễn Văn An", "0901000001", "Huế"],
        &["Trần Thị Bình", "N/A", "Hà Nội"],
        &["Lê Văn Cường", "0901000003; 0901000004", "Đà Nẵng"],
    ];
    let help: &[&[&str]] = &[&["Hướng dẫn"], &["Điền mỗi khách hàng một dòng ở trang Danh sách"]];
    let file = workbook(&[("Hướng dẫn", help), ("Danh sách", list)]);
    let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "x.xlsx", file.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["summary"],
        json!({"total": 3, "added": 2, "skipped": 0, "invalid": 1, "repeated": 0, "matched": 0, "dnc": 0,
            "invalid_rows": [{"row": 6, "id": null, "reason": "no valid phone: N/A"}],
            "dropped_phones": []})
    );
    let rows = customers(&app, &campaign).await;
    assert_eq!(rows[1]["phones"], json!(["84901000003", "84901000004"]));

    // The options choose the sheet (by name, any case, or position) and the header row.
    let fresh = app.create_campaign("Options").await;
    for fields in [vec![("sheet", "danh sách"), ("header_row", "4")], vec![("sheet", "2")]] {
        let campaign = app.create_campaign("Options").await;
        let mut all = vec![("campaign", campaign.as_str())];
        all.extend(fields.iter().copied());
        let (status, body) = upload(&app, "/v1/customcampaign", &all, "x.xlsx", file.clone()).await;
        assert_eq!((status, &body["summary"]["added"]), (200, &json!(2)), "{fields:?}: {body}");
    }
    let refused = [
        (vec![("sheet", "1")], 422, error(8, "no phone column found; the header row has: Hướng dẫn")),
        (
            vec![("sheet", "Trang 3")],
            400,
            error(1, "sheet: the workbook has no sheet 'Trang 3'; its sheets are: Hướng dẫn, Danh sách"),
        ),
        (vec![("sheet", "3")], 400, error(1, "sheet: the workbook has 2 sheets; there is no sheet 3")),
        (vec![("header_row", "0")], 400, error(1, "header_row must be a row number, from 1")),
        (vec![("header_row", "x")], 400, error(1, "header_row must be an integer")),
        (vec![("sheet", "2"), ("header_row", "2")], 400, error(1, "header_row: row 2 of the sheet is empty")),
        (vec![("sheet", "2"), ("header_row", "40")], 400, error(1, "header_row: the sheet has no row 40")),
        (
            vec![("sheet", "2"), ("header_row", "5")],
            422,
            error(8, "no phone column found; the header row has: Nguyễn Văn An, 0901000001, Huế"),
        ),
    ];
    for (fields, status, want) in refused {
        let mut all = vec![("campaign", fresh.as_str())];
        all.extend(fields.iter().copied());
        let (got_status, got) = upload(&app, "/v1/customcampaign", &all, "x.xlsx", file.clone()).await;
        assert_eq!((got_status, &got), (status, &want), "{fields:?}");
    }
    assert!(customers(&app, &fresh).await.is_empty());
    // A .csv has one sheet.
    let csv = "name,phone\nA,0901000001\n".as_bytes().to_vec();
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", &fresh), ("sheet", "2")], "x.csv", csv.clone()).await;
    assert_eq!((status, body), (400, error(1, "sheet: a .csv file has one sheet; '2' names another")));
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", &fresh), ("sheet", "1")], "x.csv", csv).await;
    assert_eq!((status, &body["summary"]["added"]), (200, &json!(1)), "{body}");
});

backend_test!(no_header_in_the_first_ten_rows_is_r8, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Import").await;
    let mut csv = String::from("Báo cáo\n");
    for i in 0..10 {
        csv.push_str(&format!("note {i}\n"));
    }
    csv.push_str("name,phone\nA,0901000001\n");
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "x.csv", csv.clone().into_bytes()).await;
    assert_eq!((status, body), (422, error(8, "no phone column found; the header row has: Báo cáo")));
    // Named, a header further down is read.
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign), ("header_row", "12")], "x.csv", csv.into_bytes())
            .await;
    assert_eq!((status, &body["summary"]["added"]), (200, &json!(1)), "{body}");
});

/// A multipart body by hand: text fields, and parts with a file name.
fn multipart(parts: &[(&str, Option<&str>, &str)]) -> Body {
    let mut body = String::new();
    for (name, filename, value) in parts {
        body.push_str("--XBOUNDARY\r\n");
        match filename {
            Some(f) => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n"
            )),
            None => body.push_str(&format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n")),
        }
        body.push_str(value);
        body.push_str("\r\n");
    }
    body.push_str("--XBOUNDARY--\r\n");
    Body::Raw("multipart/form-data; boundary=XBOUNDARY", body.into_bytes())
}

backend_test!(a_missing_or_misnamed_file_part_is_r2, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Import").await;
    let csv = "name,phone\nA,0901000001\n";
    let text_field = "missing file: 'file' came as a text field; send it as a file upload (curl -F file=@leads.xlsx)";
    let cases = [
        ("/v1/customcampaign", vec![("campaign", None, campaign.as_str()), ("type", None, "3")], "missing file"),
        (
            "/v1/customcampaign",
            vec![("campaign", None, campaign.as_str()), ("upload", Some("x.csv"), csv)],
            "missing file: the upload came as the field 'upload'; send it as 'file'",
        ),
        ("/v1/customcampaign", vec![("campaign", None, campaign.as_str()), ("file", None, csv)], text_field),
        (
            "/v1/customcampaign",
            vec![("campaign", None, campaign.as_str()), ("type", None, "3"), ("listcontacts", None, "[]")],
            "missing file",
        ),
        ("/v1/contact/import", vec![("portal", None, "")], "missing file"),
        ("/v1/contact/import", vec![("file", None, csv)], text_field),
        ("/v1/dnc/import", vec![("reason", None, "x")], "missing file"),
        (
            "/v1/dnc/import",
            vec![("leads", Some("x.csv"), csv)],
            "missing file: the upload came as the field 'leads'; send it as 'file'",
        ),
        // A campaign made with its list: the list is not dropped unseen.
        ("/v1/campaign", vec![("name", None, "With a list"), ("file", None, csv)], text_field),
        (
            "/v1/campaign",
            vec![("name", None, "With a list"), ("upload", Some("x.csv"), csv)],
            "missing file: the upload came as the field 'upload'; send it as 'file'",
        ),
    ];
    for (path, parts, msg) in cases {
        let (status, body) = app.send(Method::POST, path, Some(&app.tenant.token), multipart(&parts)).await;
        assert_eq!((status, &body), (400, &error(2, msg)), "{path} {parts:?}");
    }
    assert!(customers(&app, &campaign).await.is_empty());
    let (_, campaigns) = app.get("/v1/campaign").await;
    assert_eq!(campaigns["data"]["totalCount"], 1, "{campaigns}");
    // An empty `file` text field is no file: the campaign is made without a list.
    let parts = vec![("name", None, "No list"), ("file", None, "")];
    let (status, body) = app.send(Method::POST, "/v1/campaign", Some(&app.tenant.token), multipart(&parts)).await;
    assert_eq!((status, &body["r"]), (200, &json!(0)), "{body}");
    let (_, contacts) = app.get("/v1/contact").await;
    assert_eq!(contacts["data"]["totalCount"], 0);
});

backend_test!(blank_and_merged_header_cells_are_tolerated, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Import").await;
    let sent = async |name: &'static str, file: Vec<u8>| {
        let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], name, file).await;
        assert_eq!(status, 200, "{body}");
        body
    };
    // The phones of the campaign's `i`th customer, and its CRM contact's custom fields.
    let customer = async |i: usize| {
        let rows = customers(&app, &campaign).await;
        let (_, contact) = app.get(&format!("/v1/contact/{}", rows[i]["crm_id"].as_str().unwrap())).await;
        (rows[i]["phones"].clone(), contact["data"]["fields"].clone())
    };
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "Tên").unwrap();
    ws.merge_range(0, 1, 0, 2, "Điện thoại", &Format::new()).unwrap();
    ws.write_string(0, 3, "Ghi chú").unwrap();
    for (c, v) in ["An", "0901000001", "0901000002", "note", "extra"].iter().enumerate() {
        ws.write_string(1, c as u16, *v).unwrap();
    }
    sent("m.xlsx", wb.save_to_buffer().unwrap()).await;
    assert_eq!(
        customer(0).await,
        (json!(["84901000001", "84901000002"]), json!({"column E": "extra", "Ghi chú": "note"}))
    );
    // A merged phone header over the last columns (formatted, as headers are: its
    // blank cells are written then, and end the header row).
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "Tên").unwrap();
    ws.merge_range(0, 1, 0, 2, "Số điện thoại", &Format::new().set_bold()).unwrap();
    for (c, v) in ["Bình", "0903000051", "0903000052", "stray"].iter().enumerate() {
        ws.write_string(1, c as u16, *v).unwrap();
    }
    sent("m.xlsx", wb.save_to_buffer().unwrap()).await;
    assert_eq!(customer(1).await, (json!(["84903000051", "84903000052"]), json!({"column D": "stray"})));
    // The same in a CSV whose header ends with a blank field; a cell past the header's
    // last field is under no header.
    let csv = "name,phone,\nVân,0903000061,0903000062\nLoan,,0903000063,note\n";
    let body = sent("m.csv", csv.as_bytes().to_vec()).await;
    assert_eq!(body["summary"]["added"], 2, "{body}");
    assert_eq!(customer(2).await.0, json!(["84903000061", "84903000062"]));
    assert_eq!(customer(3).await, (json!(["84903000063"]), json!({"column D": "note"})));
});

backend_test!(csv_with_bom_semicolons_and_tabs, async {
    let app = TestApp::spawn().await;
    for (i, text) in [
        "\u{feff}Họ tên;SĐT\nĐài;0901000001\n",
        "name,phone\n\"Hai, Le\",0901000002\n",
        "name\tphone\nBa\t0901000003\n",
    ]
    .iter()
    .enumerate()
    {
        let campaign = app.create_campaign(&format!("csv {i}")).await;
        let (status, body) =
            upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "x.txt", text.as_bytes().to_vec()).await;
        assert_eq!(status, 200, "{text}: {body}");
        assert_eq!(body["summary"]["added"], 1, "{text}");
    }
    let (_, body) = app.get("/v1/customcampaign?limit=10").await;
    let names: Vec<&str> =
        body["resFromPccApi"]["data"]["rows"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Đài", "Hai, Le", "Ba"]);
});

backend_test!(unreadable_files_get_r8_and_change_nothing, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Import").await;
    let mut xls = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    xls.resize(4096, 0);
    let mut truncated = xlsx(&[&["name", "phone"], &["a", "0901000001"]], false);
    truncated.truncate(truncated.len() / 2);
    let cases: Vec<(&'static str, Vec<u8>, String)> = vec![
        ("empty.xlsx", Vec::new(), "the file is empty".into()),
        ("old.xlsx", xls, "this is an Excel 97-2003 (.xls) file; save it as .xlsx or .csv and upload it again".into()),
        ("corrupt.xlsx", truncated, "the file is not a readable .xlsx workbook".into()),
        (
            "bin.xlsx",
            b"\x00\x01\x02garbage".to_vec(),
            "the file is neither an .xlsx workbook nor a .csv text file".into(),
        ),
        (
            "latin1.csv",
            b"name,phone\nD\xe0i,0901000001\n".to_vec(),
            "the CSV file is not UTF-8 text (line 2); save it as \"CSV UTF-8\" and upload it again".into(),
        ),
        (
            "nophone.csv",
            "Tên,Email\nA,a@example.com\n".as_bytes().to_vec(),
            "no phone column found; the header row has: Tên, Email".into(),
        ),
    ];
    for (name, bytes, msg) in cases {
        let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], name, bytes).await;
        assert_eq!((status, &body), (422, &error(8, &msg)), "{name}");
    }
    assert!(customers(&app, &campaign).await.is_empty());
    let (_, contacts) = app.get("/v1/contact").await;
    assert_eq!(contacts["data"]["totalCount"], 0);
});

backend_test!(zip_bomb_is_refused_by_unpacked_size, async {
    let limits = Limits { unpacked_bytes: 1024 * 1024, ..Limits::default() };
    let app = TestApp::spawn_with(axum::Router::new(), limits).await;
    let campaign = app.create_campaign("Import").await;
    // Kilobytes that unpack to megabytes: inline strings of Excel's longest length.
    let long = "0".repeat(32_000);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet_with_constant_memory().unwrap();
    ws.write_string(0, 0, "phone").unwrap();
    for r in 1..200 {
        ws.write_string(r, 0, &long).unwrap();
    }
    let bomb = wb.save_to_buffer().unwrap();
    assert!(bomb.len() < 512 * 1024, "{}", bomb.len());
    let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "bomb.xlsx", bomb).await;
    assert_eq!((status, body), (413, error(9, "the workbook unpacks to more than 1 MiB, the limit")));
    assert!(customers(&app, &campaign).await.is_empty());
});

backend_test!(over_the_row_limit_nothing_is_written_even_after_batches_went_out, async {
    let limits = Limits { file_rows: 2500, ..Limits::default() };
    let app = TestApp::spawn_with(axum::Router::new(), limits).await;
    let campaign = app.create_campaign("Import").await;
    let mut csv = String::from("name,phone\n");
    for i in 0..3000 {
        csv.push_str(&format!("n{i},0901{i:06}\n"));
    }
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "big.csv", csv.into_bytes()).await;
    assert_eq!(
        (status, body),
        (422, error(8, "the file has more than 2500 rows, the limit; split it and upload the parts"))
    );
    assert!(customers(&app, &campaign).await.is_empty());
    let (_, contacts) = app.get("/v1/contact").await;
    assert_eq!(contacts["data"]["totalCount"], 0);
});

backend_test!(over_the_upload_limit_is_r9, async {
    let limits = Limits { upload_bytes: 64 * 1024, ..Limits::default() };
    let app = TestApp::spawn_with(axum::Router::new(), limits).await;
    let campaign = app.create_campaign("Import").await;
    let big = format!("name,phone\n{}", "x,0901000001\n".repeat(10_000));
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "b.csv", big.into_bytes()).await;
    assert_eq!((status, body), (413, error(9, "payload too large: the limit is 65536 bytes")));
});

backend_test!(a_file_with_an_unknown_campaign_is_r3, async {
    let app = TestApp::spawn().await;
    let file = "name,phone\na,0901000001\n".as_bytes().to_vec();
    let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", "CANOPE00")], "x.csv", file).await;
    assert_eq!((status, body), (404, error(3, "campaign 'CANOPE00' not found")));
    let (_, contacts) = app.get("/v1/contact").await;
    assert_eq!(contacts["data"]["totalCount"], 0);
});

backend_test!(campaign_create_with_a_file, async {
    let app = TestApp::spawn().await;
    let file = xlsx(&[&["name", "phone"], &["a", "0901000001"], &["b", "0901000002"]], false);
    let (status, body) = upload(&app, "/v1/campaign", &[("name", "From file")], "x.xlsx", file).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["added"], 2);
    let campaign = body["data"]["id"].as_str().unwrap();
    assert_eq!(customers(&app, campaign).await.len(), 2);
    let bad = b"\x00\x01".to_vec();
    let (status, _) = upload(&app, "/v1/campaign", &[("name", "Broken")], "x.xlsx", bad).await;
    assert_eq!(status, 422);
    let (_, campaigns) = app.get("/v1/campaign").await;
    assert_eq!(campaigns["data"]["totalCount"], 1);
});

backend_test!(contact_import_adds_and_updates, async {
    let app = TestApp::spawn().await;
    let existing = app.create_contact(json!({"name": "Old", "phones": ["0901000001"]})).await;
    let id = existing["id"].as_str().unwrap();
    let (_, portal) = app.post("/v1/portal", json!({"name": "Imported"})).await;
    let portal = portal["data"]["id"].as_str().unwrap().to_string();
    let file = xlsx(
        &[
            &["id", "name", "phone", "company"],
            &[id, "Renamed", "0901000009", "ACME"],
            &["EXT-1", "Foreign", "0901000002", ""],
            &["", "New", "0901000003", ""],
            &["", "Bad", "12", ""],
        ],
        false,
    );
    let (status, body) = upload(&app, "/v1/contact/import", &[("portal", &portal)], "c.xlsx", file).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"r": 0, "msg": "Success", "data": {"total": 4, "added": 2, "updated": 1, "invalid": 1, "repeated": 0,
            "invalid_rows": [{"row": 5, "id": null, "reason": "no valid phone: 12"}], "dropped_phones": []}})
    );
    let (_, updated) = app.get(&format!("/v1/contact/{id}")).await;
    assert_eq!(updated["data"]["name"], "Renamed");
    assert_eq!(updated["data"]["phones"], json!(["84901000009"]));
    assert_eq!(updated["data"]["fields"], json!({"company": "ACME"}));
    // Its words follow the new name, in the portal it stays in.
    let home = updated["data"]["portal"].as_str().unwrap().to_string();
    let (_, found) = app.get(&format!("/v1/contact?portal={home}&query=name:renamed")).await;
    assert_eq!(found["data"]["totalCount"], 1, "{found}");
    let (_, gone) = app.get(&format!("/v1/contact?portal={home}&query=name:old")).await;
    assert_eq!(gone["data"]["totalCount"], 0, "{gone}");
    let (_, list) = app.get(&format!("/v1/contact?portal={portal}")).await;
    assert_eq!(list["data"]["totalCount"], 2);
    assert_eq!(list["data"]["rows"][0]["fields"], json!({"external_id": "EXT-1"}));
    let form = Body::Multipart(pairs(&[("portal", &portal)]));
    let (status, body) = app.send(Method::POST, "/v1/contact/import", Some(&app.tenant.token), form).await;
    assert_eq!((status, body), (400, error(2, "missing file")));
});

backend_test!(a_contact_file_imported_again_updates_the_contacts_it_made, async {
    let app = TestApp::spawn().await;
    let (_, portal) = app.post("/v1/portal", json!({"name": "Imported"})).await;
    let portal = portal["data"]["id"].as_str().unwrap().to_string();
    let first = xlsx(&[&["id", "name", "phone"], &["EXT1", "Ext", "0910000003"], &["EXT2", "NoPhone", ""]], false);
    let (status, body) = upload(&app, "/v1/contact/import", &[("portal", &portal)], "c.xlsx", first.clone()).await;
    assert_eq!((status, &body["data"]["added"], &body["data"]["updated"]), (200, &json!(2), &json!(0)), "{body}");
    let (_, before) = app.get(&format!("/v1/contact?portal={portal}")).await;
    // The same file again: each row finds the contact it made, by its external_id.
    let (status, body) = upload(&app, "/v1/contact/import", &[("portal", &portal)], "c.xlsx", first).await;
    assert_eq!((status, &body["data"]["added"], &body["data"]["updated"]), (200, &json!(0), &json!(2)), "{body}");
    // A later file gives the contact without phones its phone.
    let later = xlsx(&[&["id", "name", "phone"], &["EXT2", "Now Reachable", "0910000004"]], false);
    let (status, body) = upload(&app, "/v1/contact/import", &[("portal", &portal)], "c.xlsx", later).await;
    assert_eq!((status, &body["data"]["added"], &body["data"]["updated"]), (200, &json!(0), &json!(1)), "{body}");
    let (_, after) = app.get(&format!("/v1/contact?portal={portal}")).await;
    assert_eq!(after["data"]["totalCount"], 2, "{after}");
    let rows = after["data"]["rows"].as_array().unwrap();
    assert_eq!(rows[0]["id"], before["data"]["rows"][0]["id"]);
    assert_eq!((&rows[0]["name"], &rows[0]["phones"]), (&json!("Ext"), &json!(["84910000003"])));
    assert_eq!((&rows[1]["name"], &rows[1]["phones"]), (&json!("Now Reachable"), &json!(["84910000004"])));
    assert_eq!(rows[1]["fields"], json!({"external_id": "EXT2"}));
    // Only within the portal the contacts are in: another portal makes its own.
    let again = xlsx(&[&["id", "name", "phone"], &["EXT1", "Ext", "0910000003"]], false);
    let (status, body) = upload(&app, "/v1/contact/import", &[], "c.xlsx", again).await;
    assert_eq!((status, &body["data"]["added"]), (200, &json!(1)), "{body}");
});

/// The workbook `bytes` with `edit` applied to the text of its part `name`.
fn with_part_edited(bytes: &[u8], name: &str, edit: impl Fn(&str) -> String) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).unwrap();
        let part_name = part.name().unwrap().to_string();
        let mut text = String::new();
        part.read_to_string(&mut text).unwrap();
        if part_name == name {
            text = edit(&text);
        }
        out.start_file(part_name, zip::write::SimpleFileOptions::default()).unwrap();
        out.write_all(text.as_bytes()).unwrap();
    }
    out.finish().unwrap().into_inner()
}

backend_test!(a_shared_strings_table_that_claims_to_be_huge_is_refused, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Import").await;
    let file = xlsx(&[&["id", "name", "phone"], &["C1", "An", "0901234567"]], false);
    let claim_huge = |xml: &str| {
        let start = xml.find("uniqueCount=\"").unwrap() + "uniqueCount=\"".len();
        let end = start + xml[start..].find('"').unwrap();
        format!("{}999999999999999{}", &xml[..start], &xml[end..])
    };
    // The claim alone; and behind 200 KB of comment holding a modest decoy claim.
    let plain = with_part_edited(&file, "xl/sharedStrings.xml", claim_huge);
    let hidden = with_part_edited(&file, "xl/sharedStrings.xml", |xml| {
        let xml = claim_huge(xml);
        let at = xml.find("<sst").unwrap();
        let decoy = format!("<!-- <sst uniqueCount=\"1\"> {} -->", " ".repeat(200_000));
        format!("{}{decoy}{}", &xml[..at], &xml[at..])
    });
    for hostile in [plain, hidden] {
        let size = {
            use std::io::Read;
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&hostile)).unwrap();
            let mut part = zip.by_name("xl/sharedStrings.xml").unwrap();
            let mut text = Vec::new();
            part.read_to_end(&mut text).unwrap();
            text.len()
        };
        // The claim once made calamine reserve room for it and abort the whole server.
        let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "l.xlsx", hostile).await;
        let msg = format!(
            "the .xlsx file is corrupt: its shared-strings table claims 999999999999999 strings in {size} bytes"
        );
        assert_eq!((status, body), (422, error(8, &msg)));
        assert!(customers(&app, &campaign).await.is_empty());
    }
    // The same file with an honest claim goes in.
    let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "l.xlsx", file).await;
    assert_eq!((status, body["summary"]["added"].clone()), (200, json!(1)), "{body}");
});

backend_test!(a_shared_string_longer_than_any_cell_is_refused_before_it_is_read, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Import").await;
    let file = xlsx(&[&["id", "name", "phone"], &["C1", "An", "0901234567"]], false);
    // One string no cell uses, longer than a cell can hold (calamine kept it whole,
    // a 600 MB one cost the server gigabytes): in one run, and in many runs of one
    // rich-text string, which calamine joins.
    let long = "a".repeat(400_000);
    let runs = format!("<si>{}</si>", format!("<r><t>{}</t></r>", "b".repeat(4_000)).repeat(100));
    for extra in [format!("<si><t>{long}</t></si>"), runs] {
        let hostile =
            with_part_edited(&file, "xl/sharedStrings.xml", |xml| xml.replace("</sst>", &format!("{extra}</sst>")));
        let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "l.xlsx", hostile).await;
        assert_eq!((status, &body["r"]), (422, &json!(8)), "{body}");
        // Refused as soon as the text is known too long, not once it was all read.
        let n = bytes_in(
            body["msg"].as_str().unwrap(),
            "the .xlsx file holds a text of ",
            " bytes or more, longer than a cell holds (32767 characters)",
        );
        assert!((327_671..400_000).contains(&n), "{n}");
        assert!(customers(&app, &campaign).await.is_empty());
    }
    // A string as long as a cell holds goes in.
    let full = "c".repeat(32_767);
    let fine = with_part_edited(&file, "xl/sharedStrings.xml", |xml| {
        xml.replace("</sst>", &format!("<si><t>{full}</t></si></sst>"))
    });
    let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "l.xlsx", fine).await;
    assert_eq!((status, body["summary"]["added"].clone()), (200, json!(1)), "{body}");
});

// A shared-strings table whose texts, however short, would take more memory than
// an upload may (calamine holds it whole): refused before it is read. Seven million
// empty strings pack into a few kilobytes.
backend_test!(a_shared_strings_table_too_big_to_hold_is_refused_before_it_is_read, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Import").await;
    let file = xlsx(&[&["id", "name", "phone"], &["C1", "An", "0901234567"]], false);
    let many = "<si/>".repeat(7_300_000);
    let hostile =
        with_part_edited(&file, "xl/sharedStrings.xml", |xml| xml.replace("</sst>", &format!("{many}</sst>")));
    let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "l.xlsx", hostile).await;
    assert_eq!((status, &body["r"]), (422, &json!(8)), "{body}");
    let msg = body["msg"].as_str().unwrap();
    // Counted only until the table is known too big: 7.19 million of the 7.3.
    let n = bytes_in(msg, "the .xlsx file's shared-strings table holds ", " texts of");
    assert!((7_190_000..7_300_000).contains(&n), "{msg}");
    assert!(msg.ends_with("of memory to read, more than an upload may (384 MiB): split the file"), "{msg}");
    assert!(customers(&app, &campaign).await.is_empty());
});

backend_test!(a_sheet_of_long_runs_between_its_tags_is_refused_before_it_is_read, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Import").await;
    let file = xlsx(&[&["id", "name", "phone"], &["C1", "An", "0901234567"]], false);
    // 64 MB of spaces between two rows packs into a few tens of kilobytes; calamine's
    // parser held it whole (a 900 MB run took the server to 1.7 GB). A tag of 5 MB of
    // attributes likewise.
    let spaces = " ".repeat(64 << 20);
    let long_attribute = format!("<row x=\"{}\" ", "y".repeat(5 << 20));
    for (hostile, want) in [
        (
            with_part_edited(&file, "xl/worksheets/sheet1.xml", |xml| {
                xml.replacen("<row ", &format!("{spaces}<row "), 1)
            }),
            "the .xlsx file holds a text between two tags of ",
        ),
        (
            with_part_edited(&file, "xl/worksheets/sheet1.xml", |xml| xml.replacen("<row ", &long_attribute, 1)),
            "the .xlsx file holds a tag of ",
        ),
    ] {
        assert!(hostile.len() < 4 << 20, "{}", hostile.len());
        let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "l.xlsx", hostile).await;
        assert_eq!((status, &body["r"]), (422, &json!(8)), "{body}");
        // Refused once past 4 MiB, not once read whole (a 900 MB tag was held whole).
        let n =
            bytes_in(body["msg"].as_str().unwrap(), want, " bytes or more, longer than any spreadsheet writes (4 MiB)");
        assert!((4 << 20) < n && n < 5 << 20, "{n}");
        assert!(customers(&app, &campaign).await.is_empty());
    }
    // A run of 3 MB (longer than a cell holds, not than a part may) is read.
    let fine = with_part_edited(&file, "xl/worksheets/sheet1.xml", |xml| {
        xml.replacen("<row ", &format!("{}<row ", " ".repeat(3 << 20)), 1)
    });
    let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "l.xlsx", fine).await;
    assert_eq!((status, &body["summary"]["added"]), (200, &json!(1)), "{body}");
});

backend_test!(a_name_of_thousands_of_words_is_imported, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Import").await;
    // Each word is two rows of the search index: more than SQLite binds in one statement.
    let name = vec!["an"; 6000].join(" ");
    let csv = format!("name,phone\n{name},0901234567\n");
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "long.csv", csv.into_bytes()).await;
    assert_eq!((status, body["summary"]["added"].clone()), (200, json!(1)), "{body}");
    let (_, found) = app.get("/v1/contact?query=name:an").await;
    assert_eq!(found["data"]["totalCount"], 1, "{found}");
});

backend_test!(rows_without_ids_go_to_the_contact_that_holds_their_phone, async {
    let app = TestApp::spawn().await;
    let known = app.create_contact(json!({"name": "Known", "phones": ["0901000001"]})).await;
    let known = known["id"].as_str().unwrap().to_string();
    let campaign = app.create_campaign("Twice").await;
    let file = b"name,phone\nKnown again,0901000001\nNew one,0901000002\nOther new,0901000003;0901000004\n".to_vec();
    let (s, first) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "leads.csv", file.clone()).await;
    assert_eq!(s, 200, "{first}");
    let summary = &first["summary"];
    assert_eq!((summary["added"].clone(), summary["matched"].clone()), (json!(3), json!(1)), "{first}");
    let rows = customers(&app, &campaign).await;
    assert_eq!(rows[0]["crm_id"], json!(known), "the row went to the contact with its phone");
    let (_, contacts) = app.get("/v1/contact?limit=100").await;
    assert_eq!(contacts["data"]["totalCount"], 3, "two new CRM contacts: {contacts}");
    // The same file again: every row finds its contact, already in the campaign.
    let (s, second) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "leads.csv", file.clone()).await;
    assert_eq!(s, 200, "{second}");
    let summary = &second["summary"];
    assert_eq!(
        (summary["total"].clone(), summary["added"].clone(), summary["skipped"].clone(), summary["matched"].clone()),
        (json!(3), json!(0), json!(3), json!(3)),
        "{second}"
    );
    assert_eq!(second["data"][0], "contactexistis");
    let (_, contacts) = app.get("/v1/contact?limit=100").await;
    assert_eq!(contacts["data"]["totalCount"], 3, "no CRM contact made twice");
    assert_eq!(customers(&app, &campaign).await.len(), 3);
    // Into another campaign, the same contacts are added, not made again.
    let other = app.create_campaign("Other").await;
    let (_, third) = upload(&app, "/v1/customcampaign", &[("campaign", &other)], "leads.csv", file).await;
    assert_eq!((third["summary"]["added"].clone(), third["summary"]["matched"].clone()), (json!(3), json!(3)));
    let (_, contacts) = app.get("/v1/contact?limit=100").await;
    assert_eq!(contacts["data"]["totalCount"], 3);
});

backend_test!(rows_holding_two_phones_of_one_contact_name_it_once_every_time, async {
    let app = TestApp::spawn().await;
    let shared = app.create_contact(json!({"name": "Shared", "phones": ["0901007000", "0901007001"]})).await;
    let shared = shared["id"].as_str().unwrap().to_string();
    let campaign = app.create_campaign("Twice").await;
    let file = b"name,phone\nR1,0901007000\nR2,0901007001\n".to_vec();
    let repeat = json!([{"row": 3, "id": shared, "reason": "repeats an earlier entry (same id)"}]);
    let (_, first) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "x.csv", file.clone()).await;
    let s = &first["summary"];
    assert_eq!(
        (&first["data"], &s["added"], &s["skipped"], &s["repeated"], &s["invalid"], &s["invalid_rows"]),
        (&json!([]), &json!(1), &json!(0), &json!(1), &json!(0), &repeat),
        "{first}"
    );
    // Again: the contact is there before the request; its first row is skipped, the
    // second repeats it, and its id is listed once.
    let (_, second) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "x.csv", file).await;
    let s = &second["summary"];
    assert_eq!(
        (&second["data"], &s["added"], &s["skipped"], &s["repeated"], &s["invalid"], &s["invalid_rows"]),
        (&json!(["contactexistis", shared]), &json!(0), &json!(1), &json!(1), &json!(0), &repeat),
        "{second}"
    );
    // listcontacts naming a contact already there twice reads the same.
    let (_, listed) = app
        .post(
            "/v1/customcampaign",
            json!({"campaign": campaign, "listcontacts": [{"id": shared, "name": "Shared", "phones": ["0901007000"]}, {"id": shared, "name": "Shared", "phones": ["0901007000"]}]}),
        )
        .await;
    assert_eq!(
        (&listed["data"], &listed["summary"]["skipped"], &listed["summary"]["repeated"]),
        (&json!(["contactexistis", shared]), &json!(1), &json!(1)),
        "{listed}"
    );
});

backend_test!(a_letterhead_or_a_data_row_naming_a_phone_is_not_taken_for_the_header, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Import").await;
    // A letterhead line whose "Điện thoại" is followed by the company's number, then a
    // header the import does not know: refused as before, naming the first row.
    let csv = "Công ty ABC - Điện thoại: 028 3822 1234\nKhách,SĐT KH\nAn,0901000001\n";
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "x.csv", csv.as_bytes().to_vec()).await;
    assert_eq!(
        (status, body),
        (422, error(8, "no phone column found; the header row has: Công ty ABC - Điện thoại: 028 3822 1234"))
    );
    // A lone cell reading "Phone" below the first row is a value, not a header.
    let csv = "Kênh\nPhone\nEmail\n";
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "x.csv", csv.as_bytes().to_vec()).await;
    assert_eq!((status, body), (422, error(8, "no phone column found; the header row has: Kênh")));
    // A lone phone header as the first row is still a header (a do-not-call file, say).
    let csv = "Số điện thoại\n0901000001\n0901000002\n";
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "x.csv", csv.as_bytes().to_vec()).await;
    assert_eq!((status, &body["summary"]["added"]), (200, &json!(2)), "{body}");
});

backend_test!(the_csv_separator_is_told_past_a_title_line, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Import").await;
    let csv = "Báo cáo: khách hàng, tháng 3\nHọ tên;Số điện thoại;Tỉnh\nAn;0901000001;Huế\nBình;0901000002;Đà Nẵng, Việt Nam\n";
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "x.csv", csv.as_bytes().to_vec()).await;
    assert_eq!((status, &body["summary"]["added"]), (200, &json!(2)), "{body}");
    let rows = customers(&app, &campaign).await;
    assert_eq!(summary_of(&rows)[1].1, "Bình");
});

backend_test!(a_large_file_without_ids_uploaded_twice_adds_nothing_the_second_time, async {
    // Past the 10,000 rows from which a PostgreSQL add refreshes its statistics mid-way.
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Twice").await;
    let mut csv = String::from("name,phone\n");
    for i in 0..12_000 {
        csv.push_str(&format!("Lead {i},0903{i:06}\n"));
    }
    let (status, first) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "leads.csv", csv.clone().into_bytes()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!((&first["summary"]["added"], &first["summary"]["matched"]), (&json!(12_000), &json!(0)), "{first}");
    let (status, second) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "leads.csv", csv.into_bytes()).await;
    assert_eq!(status, 200, "{second}");
    let s = &second["summary"];
    assert_eq!(
        (&s["added"], &s["matched"], &s["skipped"], &s["total"]),
        (&json!(0), &json!(12_000), &json!(12_000), &json!(12_000)),
        "{s}"
    );
    let (_, contacts) = app.get("/v1/contact?limit=1").await;
    assert_eq!(contacts["data"]["totalCount"], 12_000, "no CRM contact was made twice");
});

backend_test!(two_large_uploads_without_ids_at_once_both_complete, async {
    // Each past the 10,000 rows from which a PostgreSQL add refreshes its statistics,
    // which it does without waiting for a table the other holds.
    let app = TestApp::spawn().await;
    let (a, b) = (app.create_campaign("A").await, app.create_campaign("B").await);
    let file = |tag: u32| {
        let mut csv = String::from("name,phone\n");
        for i in 0..11_000 {
            csv.push_str(&format!("Lead {tag}-{i},09{tag}{i:07}\n"));
        }
        csv.into_bytes()
    };
    let (fields_a, fields_b) = ([("campaign", a.as_str())], [("campaign", b.as_str())]);
    let (first, second) = tokio::join!(
        upload(&app, "/v1/customcampaign", &fields_a, "a.csv", file(4)),
        upload(&app, "/v1/customcampaign", &fields_b, "b.csv", file(5)),
    );
    for (status, body) in [first, second] {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["summary"]["added"], 11_000, "{body}");
    }
    let (_, contacts) = app.get("/v1/contact?limit=1").await;
    assert_eq!(contacts["data"]["totalCount"], 22_000);
});

backend_test!(a_large_file_with_ids_is_written_whole_in_row_order_or_not_at_all, async {
    // Rows with ids into a campaign that held none stream into one COPY on
    // PostgreSQL across the file's batches (2,000 rows each); a row that must read
    // the CRM (here: no phone of its own) ends that COPY and the next row opens another.
    let csv = |rows: usize| {
        let mut csv = String::from("id,name,phone\n");
        for i in 0..rows {
            let phone = if i % 1000 == 999 { String::new() } else { format!("0904{i:06}") };
            csv.push_str(&format!("LD{i:05},Lead {i},{phone}\n"));
        }
        csv.into_bytes()
    };
    let limits = Limits { file_rows: 5000, ..Limits::default() };
    let app = TestApp::spawn_with(axum::Router::new(), limits).await;
    let campaign = app.create_campaign("Streamed").await;
    // Over the row limit after batches went out: nothing at all is written.
    let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "big.csv", csv(6000)).await;
    assert_eq!(status, 422, "{body}");
    assert!(customers(&app, &campaign).await.is_empty());

    let (status, first) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "l.csv", csv(4500)).await;
    assert_eq!(status, 200, "{first}");
    let s = &first["summary"];
    assert_eq!((&s["total"], &s["added"], &s["invalid"]), (&json!(4500), &json!(4496), &json!(4)), "{s}");
    // Ids follow the rows' order.
    let (_, page) = app.get(&format!("/v1/customcampaign?campaign={campaign}&limit=1000&page=4")).await;
    let rows = page["resFromPccApi"]["data"]["rows"].as_array().unwrap().clone();
    assert_eq!(page["resFromPccApi"]["data"]["totalCount"], "4496");
    let crm: Vec<&str> = rows.iter().map(|r| r["crm_id"].as_str().unwrap()).collect();
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(crm.first(), Some(&"LD03003"), "{crm:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let mut sorted = crm.clone();
    sorted.sort_unstable();
    assert_eq!(crm, sorted);

    // The same file again: every row is already in the campaign.
    let (status, second) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "l.csv", csv(4500)).await;
    assert_eq!(status, 200, "{second}");
    let s = &second["summary"];
    assert_eq!((&s["added"], &s["skipped"], &s["invalid"]), (&json!(0), &json!(4496), &json!(4)), "{s}");
});

/// The number a message holds between its start, `before`, and `after`.
fn bytes_in(msg: &str, before: &str, after: &str) -> u64 {
    let n = msg.strip_prefix(before).and_then(|rest| rest.split_once(after)).map(|(n, _)| n);
    n.and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{msg}"))
}

/// A workbook of named sheets, each rows of text cells; hidden sheets as marked.
fn workbook_of(sheets: &[(&str, bool, &[&[&str]])]) -> Vec<u8> {
    let mut wb = Workbook::new();
    for (name, hidden, rows) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate().filter(|(_, c)| !c.is_empty()) {
                ws.write_string(r as u32, c as u16, *cell).unwrap();
            }
        }
        if *hidden {
            ws.set_hidden(true);
        }
    }
    // Excel shows a visible sheet first: a hidden one cannot be the active one.
    if let Some(first) = sheets.iter().position(|(_, hidden, _)| !hidden) {
        wb.worksheet_from_index(first).unwrap().set_active(true);
    }
    wb.save_to_buffer().unwrap()
}

/// What uploading `file` into a new campaign added: the answer's summary and the
/// customers' (name, phones).
async fn uploaded(app: &TestApp, name: &'static str, file: Vec<u8>) -> (u16, Value, Vec<(String, Value)>) {
    let campaign = app.create_campaign(name).await;
    let (status, body) = upload(app, "/v1/customcampaign", &[("campaign", &campaign)], name, file).await;
    let rows = customers(app, &campaign).await;
    (status, body, rows.iter().map(|r| (r["name"].as_str().unwrap().to_string(), r["phones"].clone())).collect())
}

// Files as supervisors have them: the list after a cover sheet, an empty template or
// a hidden old list; a letterhead above the header (its phone line and contact line
// are not headers); a data row whose type column says "Di động" is no header either.
backend_test!(the_list_is_found_past_covers_templates_hidden_sheets_and_letterheads, async {
    let app = TestApp::spawn().await;
    let list: &[&[&str]] = &[&["Họ tên", "Số điện thoại", "Email"], &["Ngô Thị Lan", "0902000001", "lan@example.com"]];
    let want = vec![("Ngô Thị Lan".to_string(), json!(["84902000001"]))];
    let cover: &[&[&str]] = &[
        &["HƯỚNG DẪN NHẬP DỮ LIỆU"],
        &[],
        &["Cột", "Ý nghĩa"],
        &["Họ tên", "Tên khách hàng"],
        &["Số điện thoại", "Số di động, bắt đầu bằng 0"],
        &["Email", "Không bắt buộc"],
    ];
    let template: &[&[&str]] = &[&["Họ tên", "Số điện thoại", "Email"]];
    let old: &[&[&str]] = &[&["Họ tên", "Số điện thoại"], &["OLD list", "0903000001"]];
    for (name, sheets) in [
        ("cover.xlsx", vec![("Hướng dẫn", false, cover), ("Danh sách", false, list)]),
        ("template.xlsx", vec![("Mẫu", false, template), ("Danh sách", false, list)]),
        ("hidden.xlsx", vec![("Cũ", true, old), ("Danh sách", false, list)]),
    ] {
        let (status, body, added) = uploaded(&app, name, workbook_of(&sheets)).await;
        assert_eq!((status, added), (200, want.clone()), "{name}: {body}");
    }
    let letterhead: &[&[&str]] = &[
        &["CÔNG TY TNHH ABC"],
        &["Địa chỉ", "12 Lê Lợi, Quận 1"],
        &["Điện thoại", "028 3822 1234", "Fax", "028 3822 1235"],
        &["Người liên hệ", "Chị Lan", "Di động", "0901 234 567"],
        &[],
        &["STT", "Họ tên", "Số điện thoại", "Ghi chú"],
        &["1", "Khách A", "0904000001", ""],
    ];
    let (status, body, added) = uploaded(&app, "letterhead.xlsx", workbook_of(&[("Sheet1", false, letterhead)])).await;
    assert_eq!((status, added), (200, vec![("Khách A".to_string(), json!(["84904000001"]))]), "{body}");
    let typed: &[&[&str]] =
        &[&["Họ tên", "Số máy", "Loại"], &["Khách A", "0905000001", "Di động"], &["Khách B", "0905000002", "Cố định"]];
    let (status, body, _) = uploaded(&app, "typed.xlsx", workbook_of(&[("Sheet1", false, typed)])).await;
    assert_eq!((status, body), (422, error(8, "no phone column found; the header row has: Họ tên, Số máy, Loại")),);
});

// CSV exports: `;` with commas in the addresses, tab with commas in the notes, lines
// ending at CR alone (rows numbered as a spreadsheet shows them), dates written out
// in the phone column, and the headers Google's and Outlook's exports write.
backend_test!(csv_exports_are_read_as_the_spreadsheet_shows_them, async {
    let app = TestApp::spawn().await;
    let semicolon = "\u{feff}Họ tên;SĐT;Địa chỉ\r\nAn;0906000001;Số 1, Lê Lợi, Quận 1, TP.HCM\r\nBình;0906000002;12 Hai Bà Trưng, Q.1\r\n";
    let (status, body, added) = uploaded(&app, "semicolon.csv", semicolon.as_bytes().to_vec()).await;
    assert_eq!((status, added.len()), (200, 2), "{body}");
    let tab = "Họ tên\tSĐT\tGhi chú\nAn\t0907000001\tgọi lại, sau 5h\nBình\t0907000002\tx, y, z\n";
    let (status, body, added) = uploaded(&app, "tab.csv", tab.as_bytes().to_vec()).await;
    assert_eq!((status, added.len()), (200, 2), "{body}");
    let cr = "name,phone\rA,0908000001\r\rabc,x\rB,0908000002\rC,0908000001\r";
    let (status, body, _) = uploaded(&app, "cr.csv", cr.as_bytes().to_vec()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["summary"]["invalid_rows"],
        json!([
            {"row": 4, "id": null, "reason": "no valid phone: x"},
            {"row": 6, "id": null, "reason": "repeats row 2 (same phone)"}
        ]),
        "{body}"
    );
    let dates = "name,phone\nA,2023-05-12\nB,12-05-2023\nC,12.05.2023\nD,0909000001\n";
    let (status, body, added) = uploaded(&app, "dates.csv", dates.as_bytes().to_vec()).await;
    assert_eq!((status, added.len(), &body["summary"]["invalid"]), (200, 1, &json!(3)), "{body}");
    let google = "Name,Given Name,E-mail 1 - Value,Phone 1 - Type,Phone 1 - Value\r\n\
                  Nguyễn Văn An,An,an@gmail.com,Mobile,+84 912 000 001\r\n\
                  Trần Bình,Bình,,Mobile ::: Work,+84 912 000 002 ::: +84 912 000 003\r\n";
    let (status, body, added) = uploaded(&app, "google.csv", google.as_bytes().to_vec()).await;
    assert_eq!(
        (status, added),
        (
            200,
            vec![
                ("Nguyễn Văn An".to_string(), json!(["84912000001"])),
                // Its export joins a field's values with ` ::: `.
                ("Trần Bình".to_string(), json!(["84912000002", "84912000003"]))
            ]
        ),
        "{body}"
    );
    let outlook =
        "\"First Name\",\"Last Name\",\"Business Phone\",\"Mobile Phone\"\r\n\"An\",\"Trần\",\"\",\"0912000011\"\r\n";
    let (status, body, added) = uploaded(&app, "outlook.csv", outlook.as_bytes().to_vec()).await;
    assert_eq!((status, added), (200, vec![("An Trần".to_string(), json!(["84912000011"]))]), "{body}");
    // Name parts in columns of their own, and a header written twice.
    let split = "STT,Họ,Tên,Số điện thoại,Ghi chú,Ghi chú\r\n1,Nguyễn Văn,An,0912000021,ghi chú 1,ghi chú 2\r\n";
    let (status, body, added) = uploaded(&app, "split.csv", split.as_bytes().to_vec()).await;
    assert_eq!((status, added), (200, vec![("Nguyễn Văn An".to_string(), json!(["84912000021"]))]), "{body}");
    let (_, found) = app.get("/v1/contact?query=phone:0912000021").await;
    let fields = &found["data"]["rows"][0]["fields"];
    assert_eq!((&fields["Ghi chú"], &fields["Ghi chú 2"]), (&json!("ghi chú 1"), &json!("ghi chú 2")), "{found}");
});

// A phone column formatted as dates shows its numbers as `########`: past Excel's last
// date (9999-12-31) a cell is no date but its number, and a phone.
backend_test!(numbers_past_the_last_date_in_a_date_formatted_column_are_phones, async {
    let app = TestApp::spawn().await;
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    ws.write_string(0, 0, "Họ tên").unwrap();
    ws.write_string(0, 1, "Số điện thoại").unwrap();
    for (r, (name, phone)) in [("An", 912345678.0), ("Bình", 84912345679.0), ("Chi", 45000.0)].iter().enumerate() {
        ws.write_string(r as u32 + 1, 0, *name).unwrap();
        ws.write_number_with_format(r as u32 + 1, 1, *phone, &date).unwrap();
    }
    let (status, body, added) = uploaded(&app, "datefmt.xlsx", wb.save_to_buffer().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        added,
        vec![("An".to_string(), json!(["84912345678"])), ("Bình".to_string(), json!(["84912345679"]))],
        "{body}"
    );
    assert_eq!(
        body["summary"]["invalid_rows"],
        json!([{"row": 4, "id": null, "reason": "no valid phone: 2023-03-15"}]),
        "a real date stays a date: {body}"
    );
});

// A time of day alone is kept as the time it shows, not as a day of 1899.
backend_test!(a_time_of_day_is_kept_as_the_time, async {
    let app = TestApp::spawn().await;
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let time = Format::new().set_num_format("hh:mm");
    ws.write_string(0, 0, "Phone").unwrap();
    ws.write_string(0, 1, "Gọi lúc").unwrap();
    ws.write_string(1, 0, "0912000031").unwrap();
    ws.write_number_with_format(1, 1, 14.5 / 24.0, &time).unwrap();
    let campaign = app.create_campaign("Times").await;
    let file = wb.save_to_buffer().unwrap();
    let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "times.xlsx", file).await;
    assert_eq!(status, 200, "{body}");
    let rows = customers(&app, &campaign).await;
    let (_, contact) = app.get(&format!("/v1/contact/{}", rows[0]["crm_id"].as_str().unwrap())).await;
    assert_eq!(contact["data"]["fields"]["Gọi lúc"], "14:30:00", "{contact}");
});

backend_test!(the_same_contact_file_imported_at_once_makes_each_contact_once, async {
    // Two imports at once each looked for the other's ids before either had
    // committed, and both made the contact (PostgreSQL every time).
    let app = std::sync::Arc::new(TestApp::spawn().await);
    for round in 0..4 {
        let csv = format!("id,name,phone\nEXT{round},Lan,09770000{round:02}\n");
        let imports: Vec<_> = (0..4)
            .map(|_| {
                let (app, csv) = (app.clone(), csv.clone());
                tokio::spawn(async move { upload(&app, "/v1/contact/import", &[], "c.csv", csv.into_bytes()).await })
            })
            .collect();
        let mut added = 0;
        for import in imports {
            let (status, body) = import.await.unwrap();
            assert_eq!(status, 200, "{body}");
            added += body["data"]["added"].as_i64().unwrap();
        }
        assert_eq!(added, 1, "round {round}");
        let (_, found) = app.get(&format!("/v1/contact?query=phone:09770000{round:02}")).await;
        assert_eq!(found["data"]["totalCount"], 1, "{found}");
    }
});
