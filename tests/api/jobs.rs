//! Uploads run as jobs, exports, and the rejected rows of a job as a file
//! (docs/API.md "Jobs" and "Export").

use std::time::{Duration, Instant};

use crate::common::{Body, TestApp, error, upload};
use reqwest::Method;
use serde_json::{Value, json};

/// Polls a job until it ends.
async fn finished(app: &TestApp, job: &str) -> Value {
    let start = Instant::now();
    loop {
        let (status, body) = app.get(&format!("/v1/job/{job}")).await;
        assert_eq!(status, 200, "{body}");
        if body["data"]["state"] != "running" {
            return body["data"].clone();
        }
        assert!(start.elapsed() < Duration::from_secs(120), "the job never ended: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn leads(rows: usize) -> Vec<u8> {
    let mut csv = String::from("Họ tên,Số điện thoại,Tỉnh\n");
    for i in 0..rows {
        csv.push_str(&format!("Khách {i},09{i:08},Huế\n"));
    }
    // A repeat and a row with no possible phone, to be reported.
    csv.push_str("Lặp lại,0900000000,Huế\nKhông số,N/A,Huế\n");
    csv.into_bytes()
}

async fn download(app: &TestApp, path: &str) -> (u16, String, Vec<u8>) {
    let resp = app.client.get(app.url(path)).header("X-STRINGEE-AUTH", &app.tenant.token).send().await.unwrap();
    let status = resp.status().as_u16();
    let kind = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, kind, resp.bytes().await.unwrap().to_vec())
}

backend_test!(an_async_upload_answers_a_job_whose_result_is_the_synchronous_answer, async {
    let app = TestApp::spawn().await;
    let (sync_campaign, job_campaign) = (app.create_campaign("Sync").await, app.create_campaign("Job").await);
    let file = leads(3000);
    let (status, sync) =
        upload(&app, "/v1/customcampaign", &[("campaign", &sync_campaign)], "l.csv", file.clone()).await;
    assert_eq!(status, 200, "{sync}");
    let (status, started) =
        upload(&app, "/v1/customcampaign", &[("campaign", &job_campaign), ("async", "1")], "l.csv", file).await;
    assert_eq!(status, 200, "{started}");
    let job = started["data"]["job"].as_str().unwrap().to_string();
    assert!(job.starts_with("JB") && job.len() == 12, "{started}");
    assert_eq!(started, json!({"r": 0, "msg": "Success", "data": {"job": job, "state": "running"}}));
    let done = finished(&app, &job).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(
        (&done["kind"], &done["campaign"], &done["error"]),
        (&json!("import"), &json!(job_campaign), &Value::Null)
    );
    assert_eq!((done["rows_read"].as_i64(), done["rows_estimate"].as_i64()), (Some(3002), Some(3002)), "{done}");
    assert!(done["finished"].as_i64().unwrap() >= done["created"].as_i64().unwrap());
    // The same answer as the request that waited, but that its rows now find the
    // CRM contacts the first upload made.
    let mut want = sync["summary"].clone();
    want["matched"] = json!(3000);
    assert_eq!(done["result"]["summary"], want);
    assert_eq!(done["result"]["data"], sync["data"]);
    assert_eq!(done["result"]["summary"]["repeated"], 1);
    let (_, list) = app.get(&format!("/v1/customcampaign?campaign={job_campaign}&limit=1")).await;
    assert_eq!(list["resFromPccApi"]["data"]["totalCount"], "3000");

    // Its rejected rows, as a file.
    let (status, kind, csv) = download(&app, &format!("/v1/job/{job}/rejected")).await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        "\u{feff}row,id,reason\n3002,,repeats row 2 (same phone)\n3003,,no valid phone: N/A\n"
    );
    let (status, kind, xlsx) = download(&app, &format!("/v1/job/{job}/rejected?format=xlsx")).await;
    assert_eq!((status, kind.as_str()), (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"));
    assert!(xlsx.starts_with(b"PK\x03\x04"));
});

backend_test!(a_failing_job_keeps_its_error_and_writes_nothing, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Job").await;
    let (_, started) = upload(
        &app,
        "/v1/customcampaign",
        &[("campaign", &campaign), ("async", "true")],
        "x.csv",
        "Tên,Email\nA,a@example.com\n".as_bytes().to_vec(),
    )
    .await;
    let done = finished(&app, started["data"]["job"].as_str().unwrap()).await;
    assert_eq!(done["state"], "failed");
    assert_eq!(done["error"], json!({"r": 8, "msg": "no phone column found; the header row has: Tên, Email"}));
    assert_eq!(done["result"], Value::Null);
    // A campaign that is not there is told at once, with no job.
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", "CANOPE"), ("async", "1")], "l.csv", leads(10)).await;
    assert_eq!((status, body), (404, error(3, "campaign 'CANOPE' not found")));
    let (status, body) =
        upload(&app, "/v1/dnc/import", &[("campaign", "CANOPE"), ("async", "1")], "l.csv", leads(10)).await;
    assert_eq!((status, body), (404, error(3, "campaign 'CANOPE' not found")));
    let (status, body) = app.post(&format!("/v1/campaign/{campaign}/complete"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign), ("async", "1")], "l.csv", leads(10)).await;
    assert_eq!(
        (status, body),
        (409, error(7, &format!("campaign {campaign} is completed; it takes no more customers")))
    );
    let (_, contacts) = app.get("/v1/contact").await;
    assert_eq!(contacts["data"]["totalCount"], 0);
});

backend_test!(contact_and_dnc_imports_run_as_jobs_too, async {
    let app = TestApp::spawn().await;
    let (_, started) = upload(&app, "/v1/contact/import", &[("async", "1")], "c.csv", leads(20)).await;
    let done = finished(&app, started["data"]["job"].as_str().unwrap()).await;
    assert_eq!((&done["state"], &done["campaign"]), (&json!("done"), &Value::Null), "{done}");
    assert_eq!(done["result"]["data"]["added"], 20);
    assert_eq!(done["result"]["data"]["repeated"], 1);
    let (_, started) = upload(&app, "/v1/dnc/import", &[("async", "yes")], "d.csv", leads(5)).await;
    let done = finished(&app, started["data"]["job"].as_str().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["result"]["data"]["added"], 5, "{done}");
});

backend_test!(jobs_are_the_accounts_own_and_async_is_checked, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Job").await;
    let (_, started) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign), ("async", "1")], "l.csv", leads(5)).await;
    let job = started["data"]["job"].as_str().unwrap().to_string();
    finished(&app, &job).await;
    let other = app.new_tenant("Other").await;
    let (status, body) = app.send_as(&other, Method::GET, &format!("/v1/job/{job}"), Body::None).await;
    assert_eq!((status, body), (404, error(4, &format!("job '{job}' not found"))));
    let (status, body) = app.get("/v1/job/JBNOPE000000").await;
    assert_eq!((status, body), (404, error(4, "job 'JBNOPE000000' not found")));
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign), ("async", "maybe")], "l.csv", leads(5)).await;
    assert_eq!((status, body), (400, error(1, "async must be 1 or 0")));
    let (status, body) = app.get(&format!("/v1/job/{job}/rejected?format=pdf")).await;
    assert_eq!((status, body), (400, error(1, "format must be csv or xlsx, not 'pdf'")));
    // async=0 waits, whatever the size.
    let (status, body) =
        upload(&app, "/v1/customcampaign", &[("campaign", &campaign), ("async", "0")], "l.csv", leads(5)).await;
    assert_eq!((status, &body["summary"]["skipped"]), (200, &json!(5)), "{body}");
});

/// A CSV answer's rows, split (the cells hold no commas or quotes here but the phones cell).
fn csv_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    text.strip_prefix('\u{feff}').unwrap().lines().map(str::to_string).collect()
}

backend_test!(export_streams_every_customer_and_imports_again, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Export").await;
    let rows = 12_345;
    let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "l.csv", leads(rows)).await;
    assert_eq!(status, 200, "{body}");
    app.post("/v1/customcampaign/add-by-phones", json!({"campaign_id": campaign, "phones": ["0911111111"]})).await;
    let (status, kind, csv) = download(&app, &format!("/v1/customcampaign/export?campaign={campaign}")).await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    let lines = csv_lines(&csv);
    assert_eq!(lines.len(), rows + 2, "a header and every customer");
    assert_eq!(
        lines[0],
        "customer_id,crm_id,name,phones,status,type,insert_time,callback_time,last_time_make_call,number_call_out,do_not_call"
    );
    let (_, first) = app.get(&format!("/v1/customcampaign?campaign={campaign}&limit=1")).await;
    let c = &first["resFromPccApi"]["data"]["rows"][0];
    assert_eq!(
        lines[1],
        format!("{},{},Khách 0,84900000000,0,3,{},0,0,0,0", c["id"], c["crm_id"].as_str().unwrap(), c["insert_time"])
    );
    assert!(lines.last().unwrap().contains(",84911111111,0,4,"), "{}", lines.last().unwrap());
    let ids: Vec<i64> = lines[1..].iter().map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "by id");

    // One status, or several.
    let (_, _, none) = download(&app, &format!("/v1/customcampaign/export?campaign={campaign}&status=2")).await;
    assert_eq!(csv_lines(&none).len(), 1);
    let (_, _, some) = download(&app, &format!("/v1/customcampaign/export?campaign={campaign}&status=0,8")).await;
    assert_eq!(csv_lines(&some).len(), rows + 2);
    let (_, _, some) =
        download(&app, &format!("/v1/customcampaign/export?campaign={campaign}&status[]=4&status[]=0")).await;
    assert_eq!(csv_lines(&some).len(), rows + 2);

    // The .xlsx holds the same rows, and both files import into a new campaign whole.
    let (status, kind, xlsx) =
        download(&app, &format!("/v1/customcampaign/export?campaign={campaign}&format=xlsx")).await;
    assert_eq!((status, kind.as_str()), (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"));
    for (name, bytes) in [("again.csv", csv), ("again.xlsx", xlsx)] {
        let again = app.create_campaign("Again").await;
        let (status, body) = upload(&app, "/v1/customcampaign", &[("campaign", &again)], name, bytes).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (&body["summary"]["added"], &body["summary"]["invalid"]),
            (&json!(rows + 1), &json!(0)),
            "{name}: {body}"
        );
        let (_, contacts) = app.get("/v1/contact?limit=1").await;
        assert_eq!(contacts["data"]["totalCount"], rows + 1, "{name}: the CRM contacts were found by crm_id");
    }
});

backend_test!(an_exported_csv_keeps_formulas_as_text, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Export").await;
    let csv = "id,name,phone\nCT1,=HYPERLINK(\"http://x\"),0901000001\nCT2,@SUM(A1),0901000002\nCT3,Lan,0901000003\n";
    upload(&app, "/v1/customcampaign", &[("campaign", &campaign)], "x.csv", csv.as_bytes().to_vec()).await;
    let (_, _, out) = download(&app, &format!("/v1/customcampaign/export?campaign={campaign}")).await;
    let lines = csv_lines(&out);
    assert!(lines[1].contains(",\"'=HYPERLINK(\"\"http://x\"\")\","), "{}", lines[1]);
    assert!(lines[2].contains(",'@SUM(A1),"), "{}", lines[2]);
    assert!(lines[3].contains(",Lan,"), "{}", lines[3]);
});

backend_test!(export_errors_come_in_the_envelope, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Export").await;
    let cases = [
        ("/v1/customcampaign/export".to_string(), 400, error(2, "missing campaign")),
        ("/v1/customcampaign/export?campaign=CANOPE".to_string(), 404, error(3, "campaign 'CANOPE' not found")),
        (
            format!("/v1/customcampaign/export?campaign={campaign}&format=xls"),
            400,
            error(1, "format must be csv or xlsx, not 'xls'"),
        ),
        (
            format!("/v1/customcampaign/export?campaign={campaign}&status=9"),
            400,
            error(1, "status must be between 0 and 8"),
        ),
        (
            format!("/v1/customcampaign/export?campaign={campaign}&status=x"),
            400,
            error(1, "status 'x' is not a status number"),
        ),
    ];
    for (path, status, want) in cases {
        let (got_status, got) = app.get(&path).await;
        assert_eq!((got_status, &got), (status, &want), "{path}");
    }
    let other = app.new_tenant("Other").await;
    let (status, body) =
        app.send_as(&other, Method::GET, &format!("/v1/customcampaign/export?campaign={campaign}"), Body::None).await;
    assert_eq!((status, body), (404, error(3, &format!("campaign '{campaign}' not found"))));
    // An empty campaign is a header alone.
    let (_, _, csv) = download(&app, &format!("/v1/customcampaign/export?campaign={campaign}")).await;
    assert_eq!(csv_lines(&csv).len(), 1);
});

backend_test!(ended_jobs_older_than_thirty_days_are_removed_when_a_server_starts, async {
    use callsheet::domain::ids::AccountId;
    use callsheet::domain::job::{JOB_KEPT_SECS, Job};
    let app = TestApp::spawn().await;
    let now = callsheet::domain::now_secs();
    let ended = |id: &str, finished: i64| Job {
        id: id.to_string(),
        kind: "import".into(),
        campaign: None,
        state: "done".into(),
        rows_read: 1,
        rows_estimate: 1,
        created: finished - 60,
        finished: Some(finished),
        result: Some(json!({"data": [], "summary": {}})),
        error: None,
        heartbeat: finished,
    };
    let account = AccountId::trusted(app.tenant.account.clone());
    let (old, recent) = ("JBOLD0000001", "JBNEW0000001");
    for job in [ended(old, now - JOB_KEPT_SECS - 60), ended(recent, now - JOB_KEPT_SECS + 3_600)] {
        app.store.create_job(account.clone(), job.clone()).await.unwrap();
        app.store.finish_job(job).await.unwrap();
    }
    // What a server does as it starts.
    app.store.fail_interrupted_jobs().await.unwrap();
    let (status, body) = app.get(&format!("/v1/job/{old}")).await;
    assert_eq!((status, body), (404, error(4, &format!("job '{old}' not found"))));
    let (status, body) = app.get(&format!("/v1/job/{recent}")).await;
    assert_eq!((status, &body["data"]["state"]), (200, &json!("done")), "{body}");
});

backend_test!(a_sheet_the_file_lacks_is_refused_at_once_not_by_a_job, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Sheets").await;
    let mut wb = rust_xlsxwriter::Workbook::new();
    for name in ["Guide", "Leads"] {
        let ws = wb.add_worksheet();
        ws.set_name(name).unwrap();
        ws.write_string(0, 0, "phone").unwrap();
        ws.write_string(1, 0, "0901234567").unwrap();
    }
    let xlsx = wb.save_to_buffer().unwrap();
    let missing = error(1, "sheet: the workbook has no sheet 'Other'; its sheets are: Guide, Leads");
    let third = error(1, "sheet: the workbook has 2 sheets; there is no sheet 3");
    let csv_sheet = error(1, "sheet: a .csv file has one sheet; '2' names another");
    for path in ["/v1/customcampaign", "/v1/contact/import", "/v1/dnc/import"] {
        let with = |extra: Vec<(&'static str, &'static str)>| {
            let mut fields: Vec<(&str, &str)> =
                if path == "/v1/customcampaign" { vec![("campaign", campaign.as_str())] } else { vec![] };
            fields.extend(extra);
            fields
        };
        for wanted in [None, Some("1")] {
            // The same answer with and without a job.
            let mut fields = with(vec![("sheet", "Other")]);
            if let Some(a) = wanted {
                fields.push(("async", a));
            }
            let (status, body) = upload(&app, path, &fields, "l.xlsx", xlsx.clone()).await;
            assert_eq!((status, &body), (400, &missing), "{path}");
            let mut fields = with(vec![("sheet", "3")]);
            fields.extend(wanted.map(|a| ("async", a)));
            let (status, body) = upload(&app, path, &fields, "l.xlsx", xlsx.clone()).await;
            assert_eq!((status, &body), (400, &third), "{path}");
            let mut fields = with(vec![("sheet", "2")]);
            fields.extend(wanted.map(|a| ("async", a)));
            let (status, body) = upload(&app, path, &fields, "l.csv", leads(3)).await;
            assert_eq!((status, &body), (400, &csv_sheet), "{path}");
        }
        // A sheet the file has runs as a job, and ends done.
        let (status, started) =
            upload(&app, path, &with(vec![("sheet", "leads"), ("async", "1")]), "l.xlsx", xlsx.clone()).await;
        assert_eq!(status, 200, "{started}");
        let done = finished(&app, started["data"]["job"].as_str().unwrap()).await;
        assert_eq!(done["state"], "done", "{done}");
    }
    // Only the jobs wrote: one customer (whose contact is the import's too).
    let (_, list) = app.get(&format!("/v1/customcampaign?campaign={campaign}")).await;
    assert_eq!(list["resFromPccApi"]["data"]["totalCount"], "1", "{list}");
});

// Uploads arriving together cannot all pass the count of running jobs: at most
// MAX_RUNNING_JOBS of them start, the others are r 7.
backend_test!(uploads_arriving_together_start_at_most_four_jobs, async {
    let app = TestApp::spawn().await;
    let campaign = app.create_campaign("Together").await;
    let file = leads(60_000);
    let fields = [("campaign", campaign.as_str()), ("async", "1")];
    let sent = (0..8).map(|_| upload(&app, "/v1/customcampaign", &fields, "l.csv", file.clone()));
    let answers = futures_util::future::join_all(sent).await;
    let mut jobs = Vec::new();
    for (status, body) in &answers {
        match status {
            200 => jobs.push(body["data"]["job"].as_str().unwrap().to_string()),
            _ => assert_eq!(
                (*status, body["msg"].clone()),
                (409, json!("4 imports are already running on this server; send this one when one of them ends")),
                "{body}"
            ),
        }
    }
    assert!((1..=4).contains(&jobs.len()), "{} jobs started: {answers:?}", jobs.len());
    for job in jobs {
        assert_eq!(finished(&app, &job).await["state"], "done");
    }
});
