//! Files handed out: a campaign's customers (export) and a job's rejected rows, as
//! .csv or .xlsx, streamed in constant memory whatever their length; and large JSON
//! answers, sent as they are written.

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::error::{ApiError, ApiResult};

/// A value of one cell.
#[derive(Debug, Clone)]
pub enum Value {
    Int(i64),
    Text(String),
}

/// One batch of rows; an empty batch ends the file.
pub type Rows = Vec<Vec<Value>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// `csv` (the default) or `xlsx`.
    pub fn parse(text: Option<&str>) -> ApiResult<Format> {
        match text.map(|t| t.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("csv") => Ok(Format::Csv),
            Some("xlsx") => Ok(Format::Xlsx),
            Some(other) => Err(ApiError::invalid(format!("format must be csv or xlsx, not '{other}'"))),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// Rows a worksheet can hold, its header included; past it a new sheet begins.
const SHEET_ROWS: u32 = 1_048_576;

/// A file of `header` and the rows `next` yields, batch after batch, until it
/// yields an empty one. The first batch is read before the answer starts, so an
/// error in it (an unknown campaign) still answers in the envelope; a later error
/// cuts the download short, and the client sees a truncated body.
pub async fn file<F, Fut>(
    format: Format,
    name: &str,
    header: &'static [&'static str],
    mut next: F,
) -> ApiResult<Response>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ApiResult<Rows>> + Send,
{
    let first = next().await?;
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    match format {
        Format::Csv => {
            tokio::spawn(async move {
                let mut batch = first;
                // A byte-order mark, so that Excel reads the Vietnamese as UTF-8.
                let mut out =
                    csv_rows(b"\xEF\xBB\xBF".to_vec(), &[header.iter().map(|h| Value::Text(h.to_string())).collect()]);
                loop {
                    if batch.is_empty() {
                        let _ = tx.send(Ok(Bytes::from(out))).await;
                        return;
                    }
                    out = csv_rows(out, &batch);
                    if tx.send(Ok(Bytes::from(std::mem::take(&mut out)))).await.is_err() {
                        return;
                    }
                    batch = match next().await {
                        Ok(rows) => rows,
                        Err(e) => {
                            let _ = tx.send(Err(std::io::Error::other(e.msg))).await;
                            return;
                        }
                    };
                }
            });
        }
        Format::Xlsx => {
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                send_chunks(tx, |out| {
                    let path = write_xlsx(header, first, || runtime.block_on(next())).map_err(std::io::Error::other)?;
                    send_file(&path, out)
                })
            });
        }
    }
    let disposition = format!("attachment; filename=\"{name}.{}\"", format.extension());
    Ok((
        [(header::CONTENT_TYPE, format.content_type().to_string()), (header::CONTENT_DISPOSITION, disposition)],
        body_of(rx),
    )
        .into_response())
}

/// A body of the chunks a writer sends, as they come.
fn body_of(rx: mpsc::Receiver<Result<Bytes, std::io::Error>>) -> Body {
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

/// Bytes a streamed answer sends at a time.
const CHUNK: usize = 64 * 1024;

/// A JSON answer that `write` writes on a blocking thread, sent as it is written:
/// a large campaign's duplicates run to tens of megabytes, which then never sit
/// whole in memory, and the first bytes leave while the rest are being written. A
/// client that goes away stops the writing.
pub fn json(write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()> + Send + 'static) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || send_chunks(tx, |out| write(out)));
    ([(header::CONTENT_TYPE, "application/json")], body_of(rx)).into_response()
}

/// Runs `write` on the calling (blocking) thread, sending what it writes to `tx` in
/// chunks; an error it ends with goes last, so the client sees a cut-short body.
fn send_chunks(
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    write: impl FnOnce(&mut ChunkSender) -> std::io::Result<()>,
) {
    let mut out = ChunkSender { tx, buf: Vec::with_capacity(CHUNK) };
    if let Err(e) = write(&mut out).and_then(|()| std::io::Write::flush(&mut out)) {
        let _ = out.tx.blocking_send(Err(e));
    }
}

/// Sends what is written to it in chunks of [`CHUNK`] bytes.
struct ChunkSender {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl std::io::Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| std::io::Error::other("the client went away"))
    }
}

fn csv_rows(out: Vec<u8>, rows: &[Vec<Value>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(out);
    for row in rows {
        let _ = w.write_record(row.iter().map(|v| match v {
            Value::Int(i) => i.to_string(),
            // A spreadsheet runs a cell that starts like a formula: a name such as
            // `=HYPERLINK(…)` is kept as text by a leading apostrophe (OWASP's advice).
            Value::Text(t) if t.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{t}"),
            Value::Text(t) => t.clone(),
        }));
    }
    w.into_inner().unwrap_or_default()
}

/// Writes the workbook sheet after sheet in rust_xlsxwriter's constant-memory mode
/// (each row goes to a temporary file as it is written) and saves it to a file.
fn write_xlsx(
    header: &'static [&'static str],
    first: Rows,
    mut next: impl FnMut() -> ApiResult<Rows>,
) -> Result<std::path::PathBuf, String> {
    use rust_xlsxwriter::Workbook;
    let err = |e: rust_xlsxwriter::XlsxError| e.to_string();
    let mut workbook = Workbook::new();
    let mut sheet_rows = SHEET_ROWS;
    let mut batch = first;
    let mut sheet = None;
    while !batch.is_empty() {
        for row in &batch {
            if sheet_rows == SHEET_ROWS {
                let ws = workbook.add_worksheet_with_constant_memory().map_err(err)?;
                for (c, h) in header.iter().enumerate() {
                    ws.write_string(0, c as u16, *h).map_err(err)?;
                }
                sheet = Some(workbook.worksheets_mut().len() - 1);
                sheet_rows = 1;
            }
            let ws = workbook.worksheet_from_index(sheet.unwrap_or(0)).map_err(err)?;
            for (c, v) in row.iter().enumerate() {
                match v {
                    Value::Int(i) => ws.write_number(sheet_rows, c as u16, *i as f64).map_err(err)?,
                    Value::Text(t) if t.is_empty() => ws,
                    Value::Text(t) => ws.write_string(sheet_rows, c as u16, t).map_err(err)?,
                };
            }
            sheet_rows += 1;
        }
        batch = next().map_err(|e| e.msg)?;
    }
    if sheet.is_none() {
        let ws = workbook.add_worksheet_with_constant_memory().map_err(err)?;
        for (c, h) in header.iter().enumerate() {
            ws.write_string(0, c as u16, *h).map_err(err)?;
        }
    }
    let path = std::env::temp_dir().join(format!("callsheet-download-{:016x}.xlsx", rand::random::<u64>()));
    workbook.save(&path).map_err(err)?;
    Ok(path)
}

/// Sends a saved file in chunks, removing it once open (the open handle keeps it readable).
fn send_file(path: &std::path::Path, out: &mut ChunkSender) -> std::io::Result<()> {
    let file = std::fs::File::open(path);
    let _ = std::fs::remove_file(path);
    std::io::copy(&mut file?, out)?;
    Ok(())
}
