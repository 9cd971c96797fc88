//! The commands that talk to a running server over HTTP: `import` (an upload run as
//! a job, with progress) and `export`.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

/// Where to reach the server and how to sign in.
pub struct Server {
    pub url: String,
    pub token: String,
}

impl Server {
    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }

    fn client() -> anyhow::Result<reqwest::Client> {
        Ok(reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).build()?)
    }
}

/// An answer in the envelope: its body when r=0, else the error it names.
async fn envelope(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.with_context(|| format!("the server answered HTTP {status}, not JSON"))?;
    match body["r"].as_i64() {
        Some(0) => Ok(body),
        Some(r) => bail!("the server refused (r={r}): {}", body["msg"].as_str().unwrap_or("")),
        None => bail!("the server answered HTTP {status} without a result code"),
    }
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(style(template));
    bar
}

/// A bar's look; `{rate}` is rows a second, whole and grouped in thousands.
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).with_key(
        "rate",
        |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}/s", indicatif::HumanCount(state.per_sec() as u64));
        },
    )
}

/// Why the server could not be reached, and what to check.
fn unreachable(server: &Server) -> String {
    format!(
        "cannot reach the server at {} (is `callsheet serve` running there? --server or CALLSHEET_SERVER names it)",
        server.url
    )
}

/// Uploads `file` to `campaign` as a job, showing the upload and then the rows read,
/// and returns the import's answer (`{"data", "summary"}`).
pub async fn import(server: &Server, file: &std::path::Path, campaign: &str, quiet: bool) -> anyhow::Result<Value> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "upload".into());
    let total = bytes.len() as u64;
    let sending = if quiet {
        ProgressBar::hidden()
    } else {
        bar(total, "uploading {bar:40} {bytes}/{total_bytes} {bytes_per_sec}")
    };
    let counter = sending.clone();
    let chunks: Vec<bytes::Bytes> =
        bytes::Bytes::from(bytes).chunks(64 * 1024).map(bytes::Bytes::copy_from_slice).collect();
    let stream = futures_util::stream::iter(chunks.into_iter().map(move |chunk| {
        counter.inc(chunk.len() as u64);
        Ok::<_, std::io::Error>(chunk)
    }));
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), total).file_name(name);
    let form =
        reqwest::multipart::Form::new().text("campaign", campaign.to_string()).text("async", "1").part("file", part);
    let client = Server::client()?;
    let response = client
        .post(server.endpoint("/v1/customcampaign"))
        .header("X-STRINGEE-AUTH", &server.token)
        .multipart(form)
        .send()
        .await
        .with_context(|| unreachable(server))?;
    let answer = envelope(response).await?;
    sending.finish_and_clear();
    let job = answer["data"]["job"].as_str().context("the server did not answer with a job")?.to_string();
    // Until the server has an estimate of the rows, a count without a bar.
    const COUNTING: &str = "importing (job {msg}) {human_pos} rows read, {rate}";
    const READING: &str = "importing (job {msg}) {bar:40} {human_pos}/{human_len} rows, {rate}";
    let reading = if quiet { ProgressBar::hidden() } else { bar(0, COUNTING) };
    reading.set_message(job.clone());
    let mut estimated = false;
    // A server restarted while the job runs (a stop finishes its jobs first) is
    // waited for this long before the import is given up on.
    const RECONNECT: Duration = Duration::from_secs(120);
    let mut lost: Option<std::time::Instant> = None;
    loop {
        let sent = client
            .get(server.endpoint(&format!("/v1/job/{job}")))
            .header("X-STRINGEE-AUTH", &server.token)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                let since = *lost.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() >= RECONNECT {
                    reading.abandon();
                    return Err(anyhow::Error::new(e).context(format!(
                        "{}; it was lost for {} s while job {job} ran, which may have finished: GET /v1/job/{job} \
                         tells once the server is back",
                        unreachable(server),
                        RECONNECT.as_secs()
                    )));
                }
                reading.set_message(format!("{job}; the server is unreachable, trying again"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if lost.take().is_some() {
            reading.set_message(job.clone());
        }
        let body = envelope(response).await?;
        let data = &body["data"];
        let (read, estimate) = (data["rows_read"].as_u64().unwrap_or(0), data["rows_estimate"].as_u64().unwrap_or(0));
        if estimate > 0 && !estimated {
            estimated = true;
            reading.set_style(style(READING));
        }
        reading.set_length(estimate.max(read));
        reading.set_position(read);
        match data["state"].as_str() {
            Some("done") => {
                reading.finish_and_clear();
                return Ok(data["result"].clone());
            }
            Some("failed") => {
                reading.abandon();
                bail!(
                    "the import failed (r={}): {}; nothing was imported",
                    data["error"]["r"],
                    data["error"]["msg"].as_str().unwrap_or("")
                );
            }
            _ => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

/// Writes a campaign's export to `out` (stdout when `None`); how many bytes.
pub async fn export(
    server: &Server,
    campaign: &str,
    format: &str,
    status: Option<&str>,
    out: Option<&std::path::Path>,
) -> anyhow::Result<u64> {
    let mut query = vec![("campaign", campaign.to_string()), ("format", format.to_string())];
    if let Some(s) = status {
        query.push(("status", s.to_string()));
    }
    let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
    let mut response = Server::client()?
        .get(server.endpoint(&format!("/v1/customcampaign/export?{query}")))
        .header("X-STRINGEE-AUTH", &server.token)
        .send()
        .await
        .with_context(|| unreachable(server))?;
    let json = response.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if json || !response.status().is_success() {
        envelope(response).await?;
        bail!("the server answered without a file");
    }
    // A file is written beside its name and renamed when whole, so a download cut
    // short never leaves a file that looks complete.
    let partial = out.map(|path| {
        let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".part");
        path.with_file_name(name)
    });
    let mut sink: Box<dyn std::io::Write> = match &partial {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut written = 0u64;
    let copied: anyhow::Result<()> = async {
        while let Some(chunk) = reqwest::Response::chunk(&mut response).await.context("the download was cut short")? {
            sink.write_all(&chunk)?;
            written += chunk.len() as u64;
        }
        sink.flush()?;
        Ok(())
    }
    .await;
    // Standard output read only in part (`| head`): the reader has what it wanted.
    let copied = match copied {
        Err(e) if partial.is_none() && broken_pipe(&e) => Ok(()),
        copied => copied,
    };
    drop(sink);
    if let (Some(partial), Some(path)) = (&partial, out) {
        match &copied {
            Ok(()) => std::fs::rename(partial, path).with_context(|| format!("cannot write {}", path.display()))?,
            Err(_) => {
                let _ = std::fs::remove_file(partial);
            }
        }
    }
    copied?;
    Ok(written)
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// A human summary of an import's answer.
pub fn describe(result: &Value) -> String {
    let s = &result["summary"];
    let mut text = format!(
        "total {}, added {}, skipped {}, repeated {}, invalid {}, matched {}, do-not-call {}",
        s["total"], s["added"], s["skipped"], s["repeated"], s["invalid"], s["matched"], s["dnc"]
    );
    for row in s["invalid_rows"].as_array().into_iter().flatten().take(20) {
        text.push_str(&format!(
            "\n  row {}{}: {}",
            row["row"],
            row["id"].as_str().map(|id| format!(" ({id})")).unwrap_or_default(),
            row["reason"].as_str().unwrap_or("")
        ));
    }
    let more = s["invalid_rows"].as_array().map_or(0, |r| r.len()).saturating_sub(20);
    if more > 0 {
        text.push_str(&format!("\n  … and {more} more rows not added"));
    }
    text
}
