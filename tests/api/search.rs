//! Contact search with the filter language (CONTRACT §7) over HTTP.

use crate::common::{TestApp, error};
use serde_json::{Value, json};

async fn seeded() -> TestApp {
    let app = TestApp::spawn().await;
    for (name, phone, extra) in [
        ("Đài", "0901000001", json!({"email": "dai@example.com", "fields": {"city": "Huế"}})),
        ("Dài", "0901000002", json!({"fields": {"city": "Hà Nội", "score": 7}})),
        ("Nguyễn Văn Đài", "0901000003", json!({})),
        ("Chị Soa", "0912000004", json!({"email": "soa@example.com"})),
        ("Linh", "0343000005", json!({"fields": {"score": 12}})),
    ] {
        let mut body = json!({"name": name, "phones": [phone]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        app.create_contact(body).await;
    }
    app
}

async fn names(app: &TestApp, query: &str) -> Vec<String> {
    let q = form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>();
    let (status, body) = app.get(&format!("/v1/contact?query={q}&limit=100")).await;
    assert_eq!(status, 200, "{query}: {body}");
    let rows = body["data"]["rows"].as_array().unwrap();
    assert_eq!(body["data"]["totalCount"], json!(rows.len()), "{query}");
    rows.iter().map(|r: &Value| r["name"].as_str().unwrap().to_string()).collect()
}

backend_test!(names_match_whole_words_accent_smart, async {
    let app = seeded().await;
    assert_eq!(names(&app, "name:dai").await, ["Đài", "Dài", "Nguyễn Văn Đài"]);
    assert_eq!(names(&app, "name:DAI").await, ["Đài", "Dài", "Nguyễn Văn Đài"]);
    assert_eq!(names(&app, "name:\"Đài\"").await, ["Đài", "Nguyễn Văn Đài"]);
    assert_eq!(names(&app, "name:đài").await, ["Đài", "Nguyễn Văn Đài"]);
    assert_eq!(names(&app, "name:da").await, Vec::<String>::new());
    assert_eq!(names(&app, "name:lin*").await, ["Linh"]);
    assert_eq!(names(&app, "name:\"chị soa\"").await, ["Chị Soa"]);
    assert_eq!(names(&app, "name:\"chi soa\"").await, ["Chị Soa"]);
    assert_eq!(names(&app, "name:\"soa chị\"").await, Vec::<String>::new());
});

// Emails compare in lower case whatever their script (SQLite's own lower() lowers
// ASCII only); a prefix holding punctuation begins no word, as in Lucene.
backend_test!(non_ascii_emails_match_in_any_case_and_a_prefix_is_one_word, async {
    let app = TestApp::spawn().await;
    for (name, email) in [("Jean-Luc Picard", "ÀB@EXAMPLE.COM"), ("O'Neil Murphy", "ýến.trần@vídụ.vn")] {
        app.create_contact(json!({"name": name, "phones": ["0901000009"], "email": email})).await;
    }
    for query in
        ["email:àb@example.com", "email:ÀB@EXAMPLE.COM", "email:\"àb@example.com\"", "email:àb*", "email:[à TO á]"]
    {
        assert_eq!(names(&app, query).await, ["Jean-Luc Picard"], "{query}");
    }
    assert_eq!(names(&app, "email:ÝẾN.TRẦN@VÍDỤ.VN").await, ["O'Neil Murphy"]);
    for query in ["name:jean-*", "name:o'*", "name:jean\\-*"] {
        assert_eq!(names(&app, query).await, Vec::<String>::new(), "{query}");
    }
    assert_eq!(names(&app, "name:jea*").await, ["Jean-Luc Picard"]);
    assert_eq!(names(&app, "name:jean-luc").await, ["Jean-Luc Picard"], "a term of two words is either");
});

// Hundreds of terms ANDed: PostgreSQL took 89 s to plan them as joins (and a search
// gave up at its 30 s bound); they are answered, and rightly.
backend_test!(hundreds_of_terms_anded_are_answered, async {
    let app = seeded().await;
    let query = vec!["name:nguyen AND name:van AND name:dai"; 100].join(" AND ");
    assert_eq!(names(&app, &query).await, ["Nguyễn Văn Đài"]);
    let query = format!("{query} AND -phone:0901000003");
    assert_eq!(names(&app, &query).await, Vec::<String>::new());
});

backend_test!(the_reference_filters_work, async {
    let app = seeded().await;
    assert_eq!(
        names(&app, "name:\"linh\" OR name:\"Đài\" OR name:\"Chị soa\" ").await,
        ["Đài", "Nguyễn Văn Đài", "Chị Soa", "Linh"]
    );
    assert_eq!(names(&app, "created:[1564592400 TO *] ").await.len(), 5);
});

backend_test!(phones_emails_and_custom_fields, async {
    let app = seeded().await;
    assert_eq!(names(&app, "phone:0901000002").await, ["Dài"]);
    assert_eq!(names(&app, "phones:\"+84 901 000 003\"").await, ["Nguyễn Văn Đài"]);
    assert_eq!(names(&app, "phone:090100*").await, ["Đài", "Dài", "Nguyễn Văn Đài"]);
    assert_eq!(names(&app, "phone:84343*").await, ["Linh"]);
    assert_eq!(names(&app, "email:SOA@example.com").await, ["Chị Soa"]);
    assert_eq!(names(&app, "_exists_:email").await, ["Đài", "Chị Soa"]);
    assert_eq!(names(&app, "city:huế").await, ["Đài"]);
    assert_eq!(names(&app, "fields.city:\"Hà Nội\"").await, ["Dài"]);
    assert_eq!(names(&app, "score:>=10").await, ["Linh"]);
    assert_eq!(names(&app, "_exists_:score").await, ["Dài", "Linh"]);
    assert_eq!(names(&app, "nosuchfield:x").await, Vec::<String>::new());
});

// A custom field holding a JSON number compares as a number with a number term or
// bounds, decimals included; one holding text, by its words.
backend_test!(numbers_in_custom_fields_compare_as_numbers, async {
    let app = TestApp::spawn().await;
    for (name, score) in [("s4.5", json!(4.5)), ("s5", json!(5)), ("s10", json!(10)), ("t5", json!("4.5 or 5"))] {
        app.create_contact(json!({"name": name, "phones": [], "fields": {"score": score}})).await;
    }
    let cases: [(&str, &[&str]); 21] = [
        ("score:5", &["s5", "t5"]),
        // Quoted, a number is still one value on a number; on text, words.
        ("score:\"5\"", &["s5", "t5"]),
        ("score:\"4\"", &["t5"]),
        ("score:\"4.5\"", &["s4.5", "t5"]),
        // A number has no words: no prefix, no phrase of words, no term of several.
        ("score:4*", &["t5"]),
        ("score:\"4 5\"", &["t5"]),
        ("score:4-5", &["t5"]),
        ("score:or", &["t5"]),
        // A number written with an exponent is a number too.
        ("score:1e1", &["s10"]),
        ("score:[5E0 TO 1e1]", &["s5", "s10"]),
        ("score:4", &["t5"]),
        // On text, a term of two words is either (Lucene): "5.0" is 5 or 0.
        ("score:5.0", &["s5", "t5"]),
        ("score:10.0", &["s10"]),
        ("score:4.5", &["s4.5", "t5"]),
        ("score:[4.5 TO 10]", &["s4.5", "s5", "s10"]),
        ("score:{4.5 TO 10]", &["s5", "s10"]),
        // Text compares as text: the words "4.5 or 5" hold "or", "5" >= "4.5" and "4" < "5".
        ("score:>=4.5", &["s4.5", "s5", "s10", "t5"]),
        ("score:<5", &["s4.5", "t5"]),
        ("score:[4 TO 10]", &["s4.5", "s5", "s10"]),
        ("score:[0.25 TO 4.75]", &["s4.5", "t5"]),
        ("NOT score:5", &["s4.5", "s10"]),
    ];
    for (query, want) in cases {
        assert_eq!(names(&app, query).await, want, "{query}");
    }
});

backend_test!(operators_combine, async {
    let app = seeded().await;
    assert_eq!(names(&app, "*:*").await.len(), 5);
    assert_eq!(names(&app, "dai AND NOT name:\"Đài\"").await, ["Dài"]);
    assert_eq!(names(&app, "dai -nguyen").await, ["Đài", "Dài"]);
    assert_eq!(names(&app, "linh soa").await, ["Chị Soa", "Linh"]);
    assert_eq!(names(&app, "+dai +van").await, ["Nguyễn Văn Đài"]);
    assert_eq!(names(&app, "(linh OR soa) AND _exists_:email").await, ["Chị Soa"]);
    assert_eq!(names(&app, "0912000004").await, ["Chị Soa"]);
    assert_eq!(names(&app, "created:>9999999999").await, Vec::<String>::new());
});

backend_test!(invalid_queries_are_r6_with_a_position, async {
    let app = seeded().await;
    for (query, msg) in [
        ("name:", "invalid query: expected a value after 'name:' at 5"),
        ("(linh", "invalid query: unclosed '(': expected ')' at 0"),
        ("created:abc", "invalid query: expected a number (epoch seconds), not 'abc' at 0"),
        ("NOT NOT linh", "invalid query: a clause takes one modifier: expected a term, a phrase or '(' after NOT at 4"),
        ("created:[a TO 5]", "invalid query: expected a number (epoch seconds) for 'created', not 'a' at 0"),
    ] {
        let q = form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>();
        let (status, body) = app.get(&format!("/v1/contact?query={q}")).await;
        assert_eq!((status, body), (400, error(6, msg)), "{query}");
    }
    // NUL, escaped where a raw one cannot pass: in an exact value, a bound, a field's
    // name (PostgreSQL refused to compare with it: r 10), and in a saved filter.
    let nul = |at: usize| error(6, &format!("invalid query: a query cannot hold the character U+0000 (NUL) at {at}"));
    for (query, at) in [("email:\\u0000", 6), ("id:CT\\u0000", 5), ("name:[\\u0000 TO b]", 6), ("a\\u0000b:x", 1)] {
        let q = form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>();
        let (status, body) = app.get(&format!("/v1/contact?query={q}")).await;
        assert_eq!((status, body), (400, nul(at)), "{query}");
        let (status, body) = app.post("/v1/filter", json!({"name": "nul", "query": query})).await;
        assert_eq!((status, body), (400, nul(at)), "{query}");
        let campaign = app.create_campaign("nul").await;
        let (status, body) =
            app.post("/v1/customcampaign", json!({"campaign": campaign, "listfilters": [{"query": query}]})).await;
        assert_eq!((status, body["r"].clone()), (400, json!(6)), "{query}: {body}");
    }
});

backend_test!(search_sees_only_the_account, async {
    let app = seeded().await;
    let other = app.new_tenant("B").await;
    let (_, body) = app.send_as(&other, reqwest::Method::GET, "/v1/contact?query=*:*", crate::common::Body::None).await;
    assert_eq!(body["data"]["totalCount"], 0);
});

backend_test!(one_word_counts_are_per_contact_and_per_portal, async {
    let app = seeded().await;
    app.create_contact(json!({"name": "Linh Linh", "phones": ["0901000009"]})).await;
    let (_, portal) = app.post("/v1/portal", json!({"name": "Other"})).await;
    let other = portal["data"]["id"].as_str().unwrap().to_string();
    let moved = app.create_contact(json!({"name": "Linh Moved", "phones": ["0901000010"]})).await;
    app.put(&format!("/v1/contact/{}", moved["id"].as_str().unwrap()), json!({"portal": other})).await;
    assert_eq!(names(&app, "name:linh").await, ["Linh", "Linh Linh"]);
    assert_eq!(names(&app, "name:lin*").await, ["Linh", "Linh Linh"]);
    let (_, body) = app.get(&format!("/v1/contact?portal={other}&query=name:linh")).await;
    assert_eq!(body["data"]["totalCount"], 1);
    assert_eq!(body["data"]["rows"][0]["name"], "Linh Moved");
});

backend_test!(hostile_queries_are_refused_not_crashed_on, async {
    let app = seeded().await;
    let deep = "(".repeat(5000);
    let q = form_urlencoded::byte_serialize(deep.as_bytes()).collect::<String>();
    let (status, body) = app.get(&format!("/v1/contact?query={q}")).await;
    assert_eq!((status, body), (400, error(6, "invalid query: the query nests deeper than 64 levels at 65")));
    // 64 levels are allowed.
    let ok = format!("{}linh{}", "(".repeat(64), ")".repeat(64));
    let q = form_urlencoded::byte_serialize(ok.as_bytes()).collect::<String>();
    let (status, body) = app.get(&format!("/v1/contact?query={q}")).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app.get("/v1/contact?query=*:*").await;
    assert_eq!(status, 200);
});

/// Contacts for the cases of Lucene's reading (CONTRACT §7) that callsheet once read
/// otherwise, one each; the differential test (tests/api/lucene.rs) checks the rest.
async fn lucene_seeded() -> TestApp {
    let app = TestApp::spawn().await;
    for (name, email, fields) in [
        ("Linh", "linh@example.com", json!({"city": "Da Nang", "tier": "gold"})),
        ("Minh", "", json!({"city": "Vinh", "tier": "Silver"})),
        ("Linh Minh", "", json!({})),
        ("Anh Nguyen", "anh@example.com", json!({"tier": "Platinum"})),
        ("Nguyen Van Binh", "binh@example.com", json!({"city": "Hue"})),
    ] {
        app.create_contact(json!({"name": name, "email": email, "fields": fields})).await;
    }
    app
}

backend_test!(queries_read_as_lucene_reads_them, async {
    let app = lucene_seeded().await;
    let all = ["Linh", "Minh", "Linh Minh", "Anh Nguyen", "Nguyen Van Binh"];
    // NOT and ! beside OR or side by side: a prohibited clause, not "everything but".
    assert_eq!(names(&app, "name:linh NOT name:minh").await, ["Linh"]);
    assert_eq!(names(&app, "name:linh OR NOT name:minh").await, ["Linh"]);
    assert_eq!(names(&app, "name:linh OR !name:minh").await, ["Linh"]);
    // A custom field's text matches its words, whole or by prefix.
    assert_eq!(names(&app, "city:nang").await, ["Linh"]);
    assert_eq!(names(&app, "city:nan*").await, ["Linh"]);
    assert_eq!(names(&app, "city:\"da nang\"").await, ["Linh"]);
    // NOT over a custom field keeps the contacts without it.
    assert_eq!(names(&app, "NOT nosuch:x").await, all);
    assert_eq!(names(&app, "NOT city:vinh").await, ["Linh", "Linh Minh", "Anh Nguyen", "Nguyen Van Binh"]);
    // A modifier belongs to its one clause.
    assert_eq!(names(&app, "-name:anh AND name:nguyen").await, ["Nguyen Van Binh"]);
    // field:* is "has a value".
    assert_eq!(names(&app, "name:*").await, all);
    assert_eq!(names(&app, "email:*").await, ["Linh", "Anh Nguyen", "Nguyen Van Binh"]);
    assert_eq!(names(&app, "tier:*").await, ["Linh", "Minh", "Anh Nguyen"]);
    // Ranges over email leave out contacts without one; over custom fields they
    // compare case-insensitively.
    assert_eq!(names(&app, "email:[* TO bz]").await, ["Anh Nguyen", "Nguyen Van Binh"]);
    assert_eq!(names(&app, "tier:[p TO t]").await, ["Minh", "Anh Nguyen"]);
    assert_eq!(names(&app, "name:[l TO m]").await, ["Linh", "Linh Minh"]);
    // So do ranges over ids, which are upper case.
    assert_eq!(names(&app, "id:[ct TO cu]").await, all);
    assert_eq!(names(&app, "id:>=ct").await, all);
    assert_eq!(names(&app, "id:[CT TO CU]").await, all);
    assert_eq!(names(&app, "id:<ct").await, Vec::<String>::new());
});

backend_test!(a_second_modifier_on_one_clause_is_refused, async {
    let app = lucene_seeded().await;
    for (query, at) in [("NOT NOT name:linh", 4), ("- -name:linh", 2), ("name:a OR !NOT name:b", 11)] {
        let q = form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>();
        let (status, body) = app.get(&format!("/v1/contact?query={q}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["r"], 6);
        assert!(body["msg"].as_str().unwrap().ends_with(&format!(" at {at}")), "{query}: {body}");
    }
});

/// `len` letters and digits in no pattern (no compression shortens them), the same
/// for the same `seed`.
fn unpatterned(len: usize, mut seed: u64) -> String {
    (0..len)
        .map(|_| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[(seed >> 33) as usize % 36])
        })
        .collect()
}

backend_test!(names_of_any_length_from_a_file_are_kept_and_searched, async {
    let app = TestApp::spawn().await;
    // A spreadsheet's names run to a cell's 32,767 characters: a word past what a
    // PostgreSQL lexeme holds (2,047 bytes), in letters of two bytes; a name of
    // 5,000 words; one word 300 times (PostgreSQL keeps a word's first 256 places).
    let long = "Đ".repeat(1500);
    // And one that no compression shortens: 4,000 letters and digits in no pattern.
    let random = unpatterned(4000, 7);
    let many: Vec<String> = (0..5_000).map(|i| format!("w{i}")).collect();
    let repeated = vec!["lap"; 300].join(" ");
    let csv = format!(
        "name,phone\n{long} Tail,0901000001\n{},0901000002\n{repeated} end,0901000003\nRandom {random},0901000004\n",
        many.join(" ")
    );
    let campaign = app.create_campaign("Long names").await;
    let (status, body) =
        crate::common::upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "long.csv", csv.into_bytes())
            .await;
    assert_eq!((status, &body["summary"]["added"]), (200, &json!(4)), "{body}");
    assert_eq!(names(&app, &format!("name:{random}")).await.len(), 1);
    assert_eq!(names(&app, &format!("name:\"random {random}\"")).await.len(), 1);
    assert_eq!(names(&app, &format!("name:{}*", &random[..3000])).await.len(), 1);
    // Words are told apart by their first 500 characters only.
    assert_eq!(names(&app, &format!("name:{}", &random[..499])).await.len(), 0);
    assert_eq!(names(&app, &format!("name:{}", &random[..500])).await.len(), 1);
    assert_eq!(names(&app, &format!("name:{}x", &random[..500])).await.len(), 1);
    let long_folded = "d".repeat(1500);
    assert_eq!(names(&app, &format!("name:{long_folded}")).await.len(), 1);
    assert_eq!(names(&app, &format!("name:{}", "đ".repeat(1500))).await.len(), 1);
    assert_eq!(names(&app, &format!("name:\"{long} tail\"")).await.len(), 1);
    assert_eq!(names(&app, "name:dd*").await.len(), 1);
    assert_eq!(names(&app, "name:w0").await.len(), 1);
    assert_eq!(names(&app, "name:\"w0 w1 w2\"").await.len(), 1);
    assert_eq!(names(&app, "name:\"w1 w0\"").await.len(), 0);
    assert_eq!(names(&app, "name:\"w4998 w4999\"").await.len(), 1);
    assert_eq!(names(&app, "name:\"lap lap\"").await.len(), 1);
    assert_eq!(names(&app, "name:end").await.len(), 1);
    assert_eq!(names(&app, "name:\"end lap\"").await.len(), 0);
    assert_eq!(names(&app, "name:[tail TO tail]").await.len(), 1);
    assert_eq!(names(&app, "name:{w0 TO w1]").await.len(), 1);
});

backend_test!(long_values_and_nul_bytes_of_a_spreadsheet_never_fail_the_server, async {
    let app = TestApp::spawn().await;
    let random = unpatterned(4000, 11);
    let campaign = app.create_campaign("Long values").await;
    let reason = "id is longer than 256 characters";
    let upload = |path: &'static str, csv: String| {
        let fields: Vec<(&str, &str)> =
            if path == "/v1/customcampaign" { vec![("campaign", campaign.as_str())] } else { vec![] };
        let app = &app;
        async move { crate::common::upload(app, path, &fields, "long.csv", csv.into_bytes()).await }
    };
    // An id past 256 characters: the row is reported, the others are added.
    let csv = format!("id,name,phone\n{random},A,0901000001\nCRM1,B,0901000002\n");
    let (status, body) = upload("/v1/customcampaign", csv).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["added"], 1, "{body}");
    assert_eq!(body["summary"]["invalid_rows"][0]["reason"], reason, "{body}");
    let (status, body) = upload("/v1/contact/import", format!("id,name,phone\n{random},C,0901000003\n")).await;
    assert_eq!((status, &body["data"]["invalid_rows"][0]["reason"]), (200, &json!(reason)), "{body}");
    let entry = json!([{"id": random, "name": "D", "phones": ["0901000004"]}]);
    let (status, body) = app.post("/v1/customcampaign", json!({"campaign": campaign, "listcontacts": entry})).await;
    assert_eq!((status, &body["summary"]["invalid_rows"][0]["reason"]), (200, &json!(reason)), "{body}");
    // Long emails and custom fields are kept whole.
    let csv = format!("name,phone,email,city\nE,0901000005,{random}@x.vn,{random}\n");
    let (status, body) = upload("/v1/customcampaign", csv).await;
    assert_eq!((status, &body["summary"]["added"]), (200, &json!(1)), "{body}");
    // A workbook writes a NUL as `_x0000_`: the reader's text never carries one
    // into the database.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, v) in ["id", "name", "phone", "city"].iter().enumerate() {
        ws.write_string(0, c as u16, *v).unwrap();
    }
    for (c, v) in ["X\u{0}1", "N\u{0}M", "0901000008", "H\u{0}ue"].iter().enumerate() {
        ws.write_string(1, c as u16, *v).unwrap();
    }
    let xlsx = wb.save_to_buffer().unwrap();
    for path in ["/v1/customcampaign", "/v1/contact/import"] {
        let fields: Vec<(&str, &str)> =
            if path == "/v1/customcampaign" { vec![("campaign", campaign.as_str())] } else { vec![] };
        let (status, body) = crate::common::upload(&app, path, &fields, "nul.xlsx", xlsx.clone()).await;
        assert_eq!((status, &body["r"]), (422, &json!(8)), "{path}: {body}");
        assert_eq!(body["msg"], "row 2, column A: the cell holds a NUL byte, which cannot be stored", "{path}");
    }
    // A NUL byte in a text file's first row is refused naming its cell, as one further
    // down is (a few NULs in UTF-8 text do not make it a binary file).
    for path in ["/v1/customcampaign", "/v1/contact/import"] {
        let (status, body) = upload(path, "name,phone\nF\u{0}G,0901000006\n".to_string()).await;
        assert_eq!((status, &body["r"]), (422, &json!(8)), "{path}: {body}");
        assert_eq!(body["msg"], "row 2, column A: the cell holds a NUL byte, which cannot be stored", "{path}");
    }
});

backend_test!(a_phrase_of_many_words_is_answered_or_refused_never_run_away, async {
    let app = seeded().await;
    let words = |n: usize| (0..n).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
    app.create_contact(json!({"name": words(40), "phones": ["0901000020"]})).await;
    let started = std::time::Instant::now();
    assert_eq!(names(&app, &format!("name:\"{}\"", words(32))).await.len(), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "a 32-word phrase took {:?}", started.elapsed());
    let q = format!("name:\"{}\"", words(33));
    let q = form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>();
    let (status, body) = app.get(&format!("/v1/contact?query={q}")).await;
    assert_eq!((status, body), (400, error(6, "invalid query: a phrase on name may hold at most 32 words at 0")));
    // A bare phrase searches the name too.
    let q = format!("\"{}\"", words(200));
    let q = form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>();
    let (status, body) = app.get(&format!("/v1/contact?query={q}")).await;
    assert_eq!((status, &body["r"]), (400, &json!(6)), "{body}");
    // A term whose words are joined by punctuation is any of them, one lookup each:
    // the same bound as a phrase, bare, on name, in a saved filter and in listfilters.
    let dotted = |n: usize| (0..n).map(|i| format!("w{i}")).collect::<Vec<_>>().join(".");
    assert_eq!(names(&app, &format!("name:{}", dotted(32))).await.len(), 1);
    for (query, at) in [(dotted(33), 0), (format!("name:{}", dotted(65)), 0), (format!("soa OR {}", dotted(200)), 7)] {
        let q = form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>();
        let want = error(6, &format!("invalid query: a term on name may hold at most 32 words at {at}"));
        let (status, body) = app.get(&format!("/v1/contact?query={q}")).await;
        assert_eq!((status, body), (400, want.clone()), "{query}");
        let (status, body) = app.post("/v1/filter", json!({"name": "Long", "query": query})).await;
        assert_eq!((status, body), (400, want.clone()), "{query}");
        let campaign = app.create_campaign("Long").await;
        let (status, body) =
            app.post("/v1/customcampaign", json!({"campaign": campaign, "listfilters": [{"query": query}]})).await;
        assert_eq!((status, &body["r"]), (400, &json!(6)), "{body}");
    }
});

backend_test!(a_term_of_several_words_and_a_glued_bang_read_as_lucene_reads_them, async {
    let app = seeded().await;
    // One term its analyzer splits: any of its words (Lucene's default operator, OR).
    for query in ["name:soa.linh", "soa-linh", "name:soa&&linh", "name:soa||linh", "name:soa+linh", "soa\\ linh"] {
        assert_eq!(names(&app, query).await, ["Chị Soa", "Linh"], "{query}");
    }
    assert_eq!(names(&app, "name:\"chị soa\"").await, ["Chị Soa"]);
    assert_eq!(names(&app, "name:chi.soa").await, ["Chị Soa"]);
    assert_eq!(names(&app, "city:ha.hue").await, ["Đài", "Dài"]);
    assert_eq!(names(&app, "city:\"ha noi\"").await, ["Dài"]);
    // As a prefix it begins no single word.
    assert_eq!(names(&app, "name:chi.so*").await, Vec::<String>::new());
    assert_eq!(names(&app, "city:ha.no*").await, Vec::<String>::new());
    // `!` ends a term: `dai!soa` is dai NOT soa, `!dai!soa` neither.
    assert_eq!(names(&app, "dai!soa").await, ["Đài", "Dài", "Nguyễn Văn Đài"]);
    assert_eq!(names(&app, "(linh!dai)").await, ["Linh"]);
    assert_eq!(names(&app, "!dai!soa").await, ["Linh"]);
    assert_eq!(names(&app, "lin*!soa").await, ["Linh"]);
    // Between a range's brackets it is a bound's own character (`!` sorts before letters).
    assert_eq!(names(&app, "name:[a TO d!z]").await, ["Chị Soa"]);
    assert_eq!(names(&app, "name:{a TO linh!}").await.len(), 5);
});

backend_test!(a_field_before_a_group_and_signed_bounds_read_as_lucene_reads_them, async {
    let app = seeded().await;
    app.create_contact(json!({"name": "Owes", "phones": ["0901000030"], "fields": {"balance": -50}})).await;
    app.create_contact(json!({"name": "Owed", "phones": ["0901000031"], "fields": {"balance": 20}})).await;
    assert_eq!(names(&app, "name:(linh OR soa)").await, ["Chị Soa", "Linh"]);
    assert_eq!(names(&app, "name:(dai -\"Đài\")").await, ["Dài"]);
    assert_eq!(names(&app, "name:(linh city:huế)").await, ["Đài", "Linh"]);
    assert_eq!(names(&app, "NOT name:(dai soa linh owes owed)").await, Vec::<String>::new());
    assert_eq!(names(&app, "balance:[-100 TO 0]").await, ["Owes"]);
    assert_eq!(names(&app, "balance:>-100").await, ["Owes", "Owed"]);
    assert_eq!(names(&app, "balance:{* TO -50]").await, ["Owes"]);
    assert_eq!(names(&app, "created:[-1 TO *]").await.len(), 7);
    // A sign apart from its value is still an operator.
    let q = form_urlencoded::byte_serialize("balance:[- 100 TO 0]".as_bytes()).collect::<String>();
    let (status, body) = app.get(&format!("/v1/contact?query={q}")).await;
    assert_eq!((status, &body["r"]), (400, &json!(6)), "{body}");
});

backend_test!(a_phrase_is_accent_smart_word_by_word, async {
    let app = seeded().await;
    assert_eq!(names(&app, "name:\"nguyen văn\"").await, ["Nguyễn Văn Đài"]);
    assert_eq!(names(&app, "name:\"nguyễn van\"").await, ["Nguyễn Văn Đài"]);
    assert_eq!(names(&app, "name:\"nguyễn van dai\"").await, ["Nguyễn Văn Đài"]);
    // A word with diacritics still matches only that spelling.
    assert_eq!(names(&app, "name:\"nguyen vận\"").await, Vec::<String>::new());
    assert_eq!(names(&app, "name:\"van dài\"").await, Vec::<String>::new());
});

backend_test!(a_query_of_a_thousand_terms_answers_and_more_are_r6, async {
    let app = seeded().await;
    // 1,024 terms (Lucene's limit on a query's clauses) answer; SQLite refused a flat
    // OR of about a thousand (its expression depth).
    let query = format!("{}linh", "x OR ".repeat(1023));
    assert_eq!(names(&app, &query).await, ["Linh"]);
    let words: Vec<String> = (0..1023).map(|i| format!("w{i}")).collect();
    assert_eq!(names(&app, &format!("name:({} linh)", words.join(" "))).await, ["Linh"]);
    let query = format!("{}name:linh", "name:linh AND ".repeat(60));
    assert_eq!(names(&app, &query).await, ["Linh"]);
    // One more term is refused, at its position, before any statement runs.
    let query = format!("{}linh", "x OR ".repeat(1024));
    let q = form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>();
    let (status, body) = app.get(&format!("/v1/contact?query={q}")).await;
    assert_eq!((status, body), (400, error(6, "invalid query: the query holds more than 1024 terms at 5120")));
});

backend_test!(names_written_decomposed_are_one_spelling_with_composed_ones, async {
    // "Trần Thị Ánh" as a Mac keyboard or a spreadsheet may send it: each accent a
    // combining mark after its letter (NFD), beside the same name composed (NFC).
    let decomposed = "Tra\u{302}\u{300}n Thi\u{323} A\u{301}nh";
    let app = TestApp::spawn().await;
    app.create_contact(
        json!({"name": decomposed, "phones": ["0915000001"], "fields": {"city": "Ha\u{300} No\u{302}\u{323}i"}}),
    )
    .await;
    app.create_contact(json!({"name": "Trần Văn Ảnh", "phones": ["0915000002"]})).await;
    let both = [decomposed, "Trần Văn Ảnh"];
    assert_eq!(names(&app, "name:tran").await, both);
    assert_eq!(names(&app, "name:TRAN").await, both);
    assert_eq!(names(&app, "name:Trần").await, both);
    assert_eq!(names(&app, "name:Tra\u{302}\u{300}n").await, both);
    assert_eq!(names(&app, "name:anh").await, both);
    assert_eq!(names(&app, "name:Ánh").await, [decomposed]);
    assert_eq!(names(&app, "name:A\u{301}nh").await, [decomposed]);
    assert_eq!(names(&app, "name:Ảnh").await, ["Trần Văn Ảnh"]);
    assert_eq!(names(&app, "name:\"trần thị\"").await, [decomposed]);
    assert_eq!(names(&app, "name:th*").await, [decomposed]);
    assert_eq!(names(&app, "name:[ta TO tz]").await, both);
    assert_eq!(names(&app, "city:noi").await, [decomposed]);
    assert_eq!(names(&app, "city:\"Hà Nội\"").await, [decomposed]);
    assert_eq!(names(&app, "city:nôi").await, Vec::<String>::new());

    // The campaign list's name search reads them alike.
    let campaign = app.create_campaign("Decomposed").await;
    let (_, body) = app
        .post(
            "/v1/customcampaign",
            json!({"campaign": campaign, "listcontacts": [{"id": "X1", "name": decomposed, "phones": ["0915000003"]}, {"id": "X2", "name": "Trần Văn Ảnh", "phones": ["0915000004"]}]}),
        )
        .await;
    assert_eq!(body["summary"]["added"], 2, "{body}");
    for (query, expected) in [
        ("tran", vec![decomposed, "Trần Văn Ảnh"]),
        ("Trần", vec![decomposed, "Trần Văn Ảnh"]),
        ("Tra\u{302}\u{300}n", vec![decomposed, "Trần Văn Ảnh"]),
        ("ánh", vec![decomposed]),
        ("A\u{301}NH", vec![decomposed]),
        ("ảnh", vec!["Trần Văn Ảnh"]),
    ] {
        let q = form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>();
        let (_, body) = app.get(&format!("/v1/customcampaign?campaign={campaign}&name={q}")).await;
        let rows = body["resFromPccApi"]["data"]["rows"].as_array().unwrap();
        let found: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(found, expected, "{query}: {body}");
    }
});

backend_test!(phone_range_bounds_are_normalized_as_phones, async {
    let app = TestApp::spawn().await;
    for (name, phone) in [("A", "0904000001"), ("B", "0906000001"), ("C", "0343000005")] {
        app.create_contact(json!({"name": name, "phones": [phone]})).await;
    }
    assert_eq!(names(&app, "phone:[0904000000 TO 0904000002]").await, ["A"]);
    assert_eq!(names(&app, "phone:[+84904000000 TO +84904000002]").await, ["A"]);
    assert_eq!(names(&app, "phone:[84904000000 TO 84904000002]").await, ["A"]);
    assert_eq!(names(&app, "phone:<0904000002").await, ["A", "C"]);
    assert_eq!(names(&app, "phone:>=0904000002").await, ["B"]);
    assert_eq!(names(&app, "phone:{0904 TO 0905}").await, ["A"]);
    assert_eq!(names(&app, "phone:[0343 TO *]").await, ["A", "B", "C"]);
});
