//! The supervisor console in a real headless Chromium, driven over WebDriver
//! (chromedriver) against the real app: sign in, create a campaign, upload the
//! sample file and read its report, resolve duplicates, filter customers, open an
//! explanation, add a do-not-call number, switch the language, sign out.
//! Screenshots of each page go to the folder the test prints.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TestApp, say, skip};
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()))
}

/// Chromium and chromedriver, or why the test cannot run (a failure in CI).
fn browser() -> Option<(PathBuf, PathBuf)> {
    let found = (find_program(&["chromium", "chromium-browser", "google-chrome"]), find_program(&["chromedriver"]));
    match found {
        (Some(chromium), Some(driver)) => Some((chromium, driver)),
        _ => {
            let why = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)";
            skip("console browser test", why);
            None
        }
    }
}

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    /// The browser's own profile directory, which names its processes.
    profile: PathBuf,
}

impl Drop for Driver {
    /// Stops chromedriver and the browser it started (killing chromedriver alone
    /// would leave Chromium's processes behind, passed or failed), and removes the
    /// browser's profile.
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-f", "--"])
            .arg(format!("--user-data-dir={}", self.profile.display()))
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Driver {
    async fn start(chromium: &PathBuf, driver: &PathBuf) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap().keep();
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--lang=vi", format!("--user-data-dir={}", profile.display())]}}}});
        let mut driver = Driver { child, base, session: String::new(), http, profile: profile.clone() };
        let created = driver.call(reqwest::Method::POST, "/session", caps).await;
        driver.session = created["sessionId"].as_str().expect("a WebDriver session").to_string();
        driver
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
        if method != reqwest::Method::GET {
            req = req.json(&body);
        }
        let answer: Value = req.send().await.unwrap().json().await.unwrap();
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        if let Some(error) = value.get("error") {
            panic!("WebDriver {path}: {error} {}", value["message"]);
        }
        if path == "/session" { answer.get("value").cloned().unwrap_or(answer) } else { value }
    }

    fn at(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, &self.at("/url"), json!({"url": url})).await;
    }

    async fn script(&self, script: &str, args: Value) -> Value {
        self.call(reqwest::Method::POST, &self.at("/execute/sync"), json!({"script": script, "args": args})).await
    }

    /// Waits until `css` matches an element whose text satisfies `ok`; its text.
    async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let text = self
                .script("const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", json!([css]))
                .await;
            if let Some(text) = text.as_str()
                && ok(text)
            {
                return text.to_string();
            }
            if started.elapsed() > Duration::from_secs(20) {
                let error = self.script("return document.querySelector('#error').innerText", json!([])).await;
                panic!("{css} never showed what was awaited (last: {text}; error banner: {error})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn element(&self, css: &str) -> String {
        self.wait_text(css, |_| true).await;
        let found = self
            .call(reqwest::Method::POST, &self.at("/element"), json!({"using": "css selector", "value": css}))
            .await;
        found[ELEMENT].as_str().unwrap().to_string()
    }

    async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(reqwest::Method::POST, &self.at(&format!("/element/{id}/click")), json!({})).await;
    }

    async fn type_in(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(reqwest::Method::POST, &self.at(&format!("/element/{id}/clear")), json!({})).await;
        self.call(reqwest::Method::POST, &self.at(&format!("/element/{id}/value")), json!({"text": text})).await;
    }

    /// Sets a select's value as a user's choice would, with its change event.
    async fn choose(&self, css: &str, value: &str) {
        self.element(css).await;
        self.script(
            "const e = document.querySelector(arguments[0]); e.value = arguments[1]; e.dispatchEvent(new Event('change'));",
            json!([css, value]),
        )
        .await;
    }

    async fn screenshot(&self, dir: &std::path::Path, name: &str) {
        use base64::Engine as _;
        let png = self.call(reqwest::Method::GET, &self.at("/screenshot"), Value::Null).await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }
}

backend_test!(a_supervisor_loads_a_file_resolves_duplicates_and_watches_the_campaign, async {
    let Some((chromium, driver)) = browser() else { return };
    let app = TestApp::spawn().await;
    let shots =
        std::env::temp_dir().join(format!("callsheet-console-{:?}", crate::common::current_backend()).to_lowercase());
    std::fs::create_dir_all(&shots).unwrap();
    say(&format!("console screenshots: {}", shots.display()));
    let web = Driver::start(&chromium, &driver).await;

    // Sign in: the page is in Vietnamese until told otherwise.
    web.goto(&app.url("/")).await;
    web.wait_text("#signin-btn", |t| t == "Đăng nhập").await;
    web.screenshot(&shots, "01-signin").await;
    web.type_in("#sid", &app.tenant.key_sid).await;
    web.type_in("#secret", "not the secret").await;
    web.click("#signin-btn").await;
    let refused = web.wait_text("#error", |t| !t.is_empty()).await;
    assert!(refused.starts_with("Đăng nhập thất bại: authentication failed"), "{refused}");
    web.type_in("#secret", &app.tenant.key_secret).await;
    web.click("#signin-btn").await;
    web.wait_text("#campaigns", |t| t.contains("Chưa có gì")).await;
    let stored = web.script("return JSON.stringify(localStorage)", json!([])).await;
    assert!(!stored.as_str().unwrap().contains(&app.tenant.key_secret), "the secret outlives the tab: {stored}");

    // A campaign, with an error shown in words first.
    web.click("#create-campaign").await;
    let missing = web.wait_text("#error", |t| !t.is_empty()).await;
    assert!(missing.starts_with("Thiếu thông tin: missing name"), "{missing}");
    web.type_in("#new-name", "Khuyến mãi Tết").await;
    web.click("#create-campaign").await;
    web.wait_text("#campaign-name", |t| t.starts_with("Khuyến mãi Tết")).await;

    // Upload the sample file and read its report.
    let leads = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/leads.csv");
    let input = web.element("#upload-file").await;
    web.call(reqwest::Method::POST, &web.at(&format!("/element/{input}/value")), json!({"text": leads})).await;
    web.click("#upload-btn").await;
    let counts = web.wait_text("#report-counts", |t| t.contains("13")).await;
    let figures: Vec<&str> = counts.lines().last().unwrap().split_whitespace().collect();
    assert_eq!(figures, ["13", "11", "0", "1", "1", "0", "0"], "{counts}");
    let rows = web.wait_text("#report-rows", |_| true).await;
    assert!(rows.contains("no valid phone: N/A") && rows.contains("repeats row 2 (same id)"), "{rows}");
    web.wait_text("#count-0", |t| t == "11").await;
    web.screenshot(&shots, "02-upload-report").await;

    // Duplicates: three numbers held twice, the first-added kept by default.
    web.click("#tab-duplicates").await;
    let table = web.wait_text("#dup-table", |_| true).await;
    for phone in ["84901234567", "84912345678", "84987654321"] {
        assert!(table.contains(phone), "{table}");
    }
    web.screenshot(&shots, "03-duplicates").await;
    web.click("#apply-keep").await;
    let result = web.wait_text("#keep-result", |t| !t.is_empty()).await;
    assert_eq!(result, "Đã bỏ 3 số khỏi các khách hàng khác, 3 khách hàng rời chiến dịch.");
    web.wait_text("#no-dups", |_| true).await;
    web.wait_text("#count-0", |t| t == "8").await;

    // Customers: a status filter, a name search, and why one is not being called.
    web.click("#tab-customers").await;
    web.wait_text("#page-label", |t| t.ends_with("(8)")).await;
    web.choose("#cust-status", "2").await;
    web.wait_text("#page-label", |t| t.ends_with("(0)")).await;
    web.choose("#cust-status", "0").await;
    web.wait_text("#page-label", |t| t.ends_with("(8)")).await;
    web.type_in("#cust-search", "huong").await;
    web.wait_text("#customers", |t| t.contains("Phạm Thị Thu Hương") && !t.contains("Nguyễn")).await;
    web.click("#customers tr.click").await;
    let verdict = web.wait_text("#explain-verdict", |_| true).await;
    assert_eq!(verdict, "Chưa gọi được: chiến dịch chưa chạy, chưa có điện thoại viên nào được gán");
    web.wait_text("#history", |t| t.contains("added")).await;
    web.screenshot(&shots, "04-customer").await;

    // The lifecycle.
    web.click("#act-approve").await;
    web.wait_text("#campaign-status", |t| t == "Đã duyệt").await;
    web.click("#act-start").await;
    web.wait_text("#campaign-status", |t| t == "Đang chạy").await;

    // A do-not-call number.
    web.click("#nav-dnc").await;
    web.type_in("#dnc-phones", "0901 234 567").await;
    web.type_in("#dnc-reason", "khách yêu cầu").await;
    web.click("#dnc-add").await;
    web.wait_text("#dnc-list", |t| t.contains("84901234567") && t.contains("khách yêu cầu")).await;
    web.type_in("#dnc-check-phone", "0901234567").await;
    web.click("#dnc-check").await;
    web.wait_text("#dnc-check-result", |t| t == "Có trong danh sách không gọi").await;
    // A file of numbers, as a supervisor receives them.
    let file = shots.join("dnc.csv");
    std::fs::write(&file, "Số điện thoại\n0912 000 111\nN/A\n").unwrap();
    let input = web.element("#dnc-file").await;
    web.call(
        reqwest::Method::POST,
        &web.at(&format!("/element/{input}/value")),
        json!({"text": file.to_str().unwrap()}),
    )
    .await;
    web.click("#dnc-import").await;
    web.wait_text("#dnc-import-result", |t| t == "Đã nhập 1 số (1 số không hợp lệ).").await;
    web.wait_text("#dnc-list", |t| t.contains("84912000111")).await;
    web.screenshot(&shots, "05-dnc").await;
    let (_, check) = app.get("/v1/dnc/check?phones=0901234567").await;
    assert_eq!(check["data"]["84901234567"]["dnc"], true);

    // English, then the campaigns again.
    web.choose("#lang", "en").await;
    web.wait_text("#nav-c", |t| t == "Campaigns").await;
    web.click("#nav-c").await;
    web.wait_text("#campaigns", |t| t.contains("Khuyến mãi Tết") && t.contains("Running")).await;
    web.screenshot(&shots, "06-campaigns-en").await;
    web.click("#nav-hours").await;
    web.wait_text("#hours", |t| t.contains("Asia/Ho_Chi_Minh")).await;
    web.type_in("#hours-name", "Shop hours").await;
    web.type_in("#hours-zone", "Mars/Base").await;
    web.click("#hours-add").await;
    let refused = web.wait_text("#error", |t| !t.is_empty()).await;
    assert_eq!(refused, "Invalid input: timezone 'Mars/Base' is not an IANA time zone");
    web.type_in("#hours-zone", "Asia/Bangkok").await;
    web.click("#hours-add").await;
    web.wait_text("#hours", |t| t.contains("Shop hours") && t.contains("Asia/Bangkok")).await;
    web.click("#nav-agents").await;
    web.type_in("#agent-name", "Lan").await;
    web.type_in("#agent-user", "lan").await;
    web.click("#agent-add").await;
    web.wait_text("#agents", |t| t.contains("lan")).await;
    web.click("#agents button").await;
    web.wait_text("#agent-msg", |t| t == "Assigned.").await;

    // A key revoked while signed in: the console signs out and says why.
    app.store.revoke_key(callsheet::domain::ids::KeySid::parse(&app.tenant.key_sid).unwrap()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await; // the server trusts a key it read for a second
    web.click("#nav-c").await;
    let why = web.wait_text("#error", |t| !t.is_empty()).await;
    assert!(why.starts_with("Sign-in failed: authentication failed: ") && why.contains("revoked"), "{why}");
    web.wait_text("#signin-btn", |t| t == "Sign in").await;
    let key = app.new_tenant("Second").await;
    web.type_in("#sid", &key.key_sid).await;
    web.type_in("#secret", &key.key_secret).await;
    web.click("#signin-btn").await;
    web.wait_text("#campaigns", |_| true).await;

    // Signing out forgets the key.
    web.click("#signout").await;
    web.wait_text("#signin-btn", |t| t == "Sign in").await;
    let kept = web.script("return sessionStorage.length", json!([])).await;
    assert_eq!(kept, json!(0));
});

#[tokio::test]
async fn the_console_is_one_small_page_with_no_outside_assets() {
    let app = TestApp::spawn().await;
    let resp = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    assert!(resp.headers()["content-security-policy"].to_str().unwrap().contains("connect-src 'self'"));
    let page = resp.text().await.unwrap();
    assert!(page.len() < 300 * 1024, "the console weighs {} bytes", page.len());
    assert!(!page.contains("http://") && !page.contains("https://"), "the console loads something from elsewhere");
}
