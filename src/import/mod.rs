//! Spreadsheet import: .xlsx and .csv files -> rows -> contact entries.
//!
//! The format is told from the content, never the file name. Rows stream out one
//! at a time: memory does not grow with the row count, beyond the workbook's
//! shared-strings table and the ids and phones kept to spot repeats.

pub mod columns;
mod csv;
mod xlsx;

pub use xlsx::reading as reading_a_workbook;

use crate::domain::customer::{InvalidRow, NewCustomer, Repeats, Source};
use crate::domain::phone::Region;
use columns::Columns;

/// One cell as the import sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    /// A numeric cell, as integer text when it is whole (`912345678`, not `912345678.0`).
    Number(String),
    /// A date or time cell (ISO text); never a phone.
    Date(String),
}

impl Cell {
    pub fn text(&self) -> &str {
        match self {
            Cell::Empty => "",
            Cell::Text(s) | Cell::Number(s) | Cell::Date(s) => s,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.text().trim().is_empty()
    }

    pub fn into_text(self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) | Cell::Number(s) | Cell::Date(s) => s,
        }
    }
}

/// A row of the sheet: its number as the spreadsheet shows it, and its non-empty
/// cells by column (0-based).
#[derive(Debug, Clone, PartialEq)]
pub struct SheetRow {
    pub number: i64,
    pub cells: Vec<(usize, Cell)>,
    /// One past the last column the row holds a cell in, blank cells included (a
    /// CSV record's fields; a sheet row's `<c>` elements, values or not).
    pub width: usize,
}

/// Why a file cannot be imported; nothing is written when there is one.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportError {
    /// Not a readable .xlsx/.csv, no phone column, over the row limit (r=8).
    File(String),
    /// Over the unpacked-size limit (r=9).
    TooLarge(String),
    /// The consumer of the rows went away (the store failed); its error is the one to report.
    Stopped,
    /// A `sheet` or `header_row` the file does not have (r=1, naming the option).
    Option(String),
}

/// How far a read has come, for a job's progress: rows read, and how many the file
/// seems to hold (an .xlsx says; a .csv's lines are counted).
#[derive(Debug, Default)]
pub struct Progress {
    pub rows_read: std::sync::atomic::AtomicI64,
    pub rows_estimate: std::sync::atomic::AtomicI64,
}

impl Progress {
    /// (rows read, rows estimated), the estimate never below what was read.
    pub fn get(&self) -> (i64, i64) {
        use std::sync::atomic::Ordering::Relaxed;
        let read = self.rows_read.load(Relaxed);
        (read, self.rows_estimate.load(Relaxed).max(read))
    }
}

/// Which sheet to read and where its header is: the upload's `sheet` and
/// `header_row` options; and where to report progress.
#[derive(Debug, Clone, Default)]
pub struct FileOptions {
    /// A sheet's name, or its position counting from 1; by default the first sheet
    /// whose first rows hold a phone column's header.
    pub sheet: Option<String>,
    /// The header's row number as the sheet shows it (from 1); by default the first
    /// of the first [`HEADER_SEARCH_ROWS`] non-empty rows that names a phone column.
    pub header_row: Option<i64>,
    /// Where progress goes, when someone watches it.
    pub progress: Option<std::sync::Arc<Progress>>,
    /// Hand on every row, repeats included: a do-not-call import wants every phone of
    /// every row, and its list takes a phone once whatever row it comes from.
    pub all_rows: bool,
}

/// Non-empty rows searched for the header when `header_row` is not given: title
/// rows and notes above the header are common in lead files.
pub const HEADER_SEARCH_ROWS: usize = 10;

/// The header's columns, when a row can be the header: it names a phone column, and unless it is the
/// sheet's first non-empty row (where a lone "phone" header is common), it names at
/// least two columns, so that a title or a data row that happens to hold the word
/// "phone" is not taken for one.
pub fn header_columns(row: &SheetRow, first: bool) -> Option<Columns> {
    if !may_be_header(row, first) {
        return None;
    }
    Columns::from_header(row).ok()
}

/// Whether a row that names a phone column can be the header: it holds no value
/// (a number, a date, or a phone number written out: a letterhead's "Điện thoại |
/// 028 3822 1234", a data row whose "Loại" says "Di động"), and unless it is the
/// first non-empty row, it names at least two columns.
fn may_be_header(row: &SheetRow, first: bool) -> bool {
    !holds_values(row) && (first || named_cells(row) >= 2)
}

/// Whether a row holds a cell no header holds: a number, a date, an email address,
/// or text that is mostly a phone number's digits (seven or more, at least half of
/// what is not space).
fn holds_values(row: &SheetRow) -> bool {
    row.cells.iter().any(|(_, c)| match c {
        Cell::Empty => false,
        Cell::Number(_) | Cell::Date(_) => true,
        Cell::Text(t) => {
            let digits = t.chars().filter(char::is_ascii_digit).count();
            (digits >= 7 && digits * 2 >= t.chars().filter(|c| !c.is_whitespace()).count())
                || crate::domain::contact::looks_like_email(t)
        }
    })
}

/// Cells that hold a letter: what a header's names are made of.
fn named_cells(row: &SheetRow) -> usize {
    row.cells.iter().filter(|(_, c)| matches!(c, Cell::Text(_)) && c.text().chars().any(char::is_alphabetic)).count()
}

/// Limits applied while reading (CONTRACT §8).
#[derive(Debug, Clone, Copy)]
pub struct ImportLimits {
    pub max_rows: usize,
    pub max_unpacked_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Xlsx,
    Csv,
}

/// Tells the format from the first bytes.
fn detect(bytes: &[u8]) -> Result<Format, ImportError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::File("the file is empty".into()));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        // An OpenDocument file names its kind first, uncompressed ("mimetype").
        let head = &bytes[..bytes.len().min(256)];
        if memchr::memmem::find(head, b"application/vnd.oasis.opendocument").is_some() {
            return Err(ImportError::File(
                "this is an OpenDocument spreadsheet (.ods); save it as .xlsx or .csv and upload it again".into(),
            ));
        }
        return Ok(Format::Xlsx);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        // A password-protected .xlsx travels in the same container as an .xls, its
        // workbook in a stream named EncryptedPackage.
        let name: Vec<u8> = "EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes).collect();
        if memchr::memmem::find(bytes, &name).is_some() {
            return Err(ImportError::File(
                "the workbook is password-protected; remove the password (File > Info > Protect Workbook) and \
                 upload it again"
                    .into(),
            ));
        }
        return Err(ImportError::File(
            "this is an Excel 97-2003 (.xls) file; save it as .xlsx or .csv and upload it again".into(),
        ));
    }
    // A web page or an XML file saved with a spreadsheet's name (.xls), as some
    // systems export a table: its "header" would be markup.
    let text_start = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes).trim_ascii_start();
    if text_start.starts_with(b"<") {
        let head = &bytes[..bytes.len().min(4096)];
        let what = if memchr::memmem::find(head, b"urn:schemas-microsoft-com:office:spreadsheet").is_some() {
            "an Excel 2003 XML spreadsheet"
        } else if text_start.starts_with(b"<?xml") {
            "an XML file"
        } else {
            "a web page (HTML)"
        };
        return Err(ImportError::File(format!(
            "this is {what}, not an .xlsx workbook or a .csv text; save it as .xlsx or .csv and upload it again"
        )));
    }
    if utf16(bytes) {
        return Err(ImportError::File(
            "the CSV file is UTF-16 text (Excel's \"Unicode Text\"); save it as \"CSV UTF-8\" and upload it again"
                .into(),
        ));
    }
    if binary(&bytes[..bytes.len().min(8192)]) {
        return Err(ImportError::File("the file is neither an .xlsx workbook nor a .csv text file".into()));
    }
    Ok(Format::Csv)
}

/// Whether the start of a file is not text: NUL bytes in a start that is not UTF-8,
/// or beside other control characters, or in numbers no text holds (padding). A few
/// NULs in UTF-8 text are a text file's stray bytes, which the reading refuses,
/// naming their cell.
fn binary(start: &[u8]) -> bool {
    let nuls = start.iter().filter(|&&b| b == 0).count();
    if nuls == 0 {
        return false;
    }
    let utf8 = match std::str::from_utf8(start) {
        Ok(_) => true,
        // A character cut by the end of the window.
        Err(e) => e.error_len().is_none(),
    };
    let controls = start.iter().any(|&b| b != 0 && b < 0x20 && !b"\t\n\r\x0c".contains(&b));
    !utf8 || controls || nuls > 16
}

/// Whether a file is UTF-16 text: its byte-order mark, or, without one, a NUL in
/// most of every other byte of its start (Latin and Vietnamese text written two
/// bytes a character: `,`, digits and most letters have a zero high byte, `ễ` not)
/// and in none of the others.
fn utf16(bytes: &[u8]) -> bool {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return true;
    }
    let start = &bytes[..bytes.len().min(512) & !1];
    let units = start.len() / 2;
    let zero = |at: usize| start.chunks(2).filter(|p| p[at] == 0).count();
    let (even, odd) = (zero(0), zero(1));
    units >= 4 && ((odd * 10 >= units * 6 && even == 0) || (even * 10 >= units * 6 && odd == 0))
}

/// Checks the `sheet` option against the file before any row is read, so that an
/// upload run in the background can refuse a sheet the file lacks at once. Only
/// that answer is given here: a file that cannot be read is the reading's to report.
pub fn check_sheet(bytes: &[u8], limits: &ImportLimits, options: &FileOptions) -> Result<(), ImportError> {
    let Some(wanted) = options.sheet.as_deref() else {
        return Ok(());
    };
    match detect(bytes) {
        Ok(Format::Csv) if wanted.trim() != "1" => Err(csv_has_one_sheet(wanted)),
        Ok(Format::Xlsx) => match xlsx::sheet_names(bytes, limits) {
            Some(names) if !names.is_empty() => xlsx::chosen_sheet(&names, wanted.trim()).map(drop),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

fn csv_has_one_sheet(wanted: &str) -> ImportError {
    ImportError::Option(format!("sheet: a .csv file has one sheet; '{wanted}' names another"))
}

/// Reads every row of the chosen sheet, in order, calling `on_row` for each (empty
/// rows included; the caller skips them). `on_row` returns false to stop. `on_size`
/// first hears how many rows the file says it has, when it says.
fn read_rows(
    bytes: &[u8],
    limits: &ImportLimits,
    options: &FileOptions,
    on_size: &mut dyn FnMut(usize),
    on_row: &mut dyn FnMut(SheetRow) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    match detect(bytes)? {
        Format::Xlsx => xlsx::read(bytes, limits, options, on_size, on_row),
        Format::Csv => {
            if let Some(sheet) = options.sheet.as_deref()
                && sheet.trim() != "1"
            {
                return Err(csv_has_one_sheet(sheet));
            }
            // Lines less the header: a fair guess of the rows, for progress only.
            on_size(memchr::memchr_iter(b'\n', bytes).count().saturating_sub(1).max(1));
            csv::read(bytes, on_row)
        }
    }
}

/// What reading a file found besides the entries it handed on.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FileReport {
    /// Non-empty data rows.
    pub rows: i64,
    pub invalid: Vec<InvalidRow>,
    pub invalid_count: i64,
    /// Rows repeating an earlier row (same id, or same phone without an id); they
    /// are in `invalid` and `invalid_count` too.
    pub repeated: i64,
    /// Phones dropped from rows that still had a valid one: (row, id, phone).
    pub dropped: Vec<(i64, Option<String>, String)>,
}

impl FileReport {
    fn reject(&mut self, row: InvalidRow) {
        self.invalid_count += 1;
        if self.invalid.len() < crate::domain::customer::MAX_REPORTED_ROWS {
            self.invalid.push(row);
        }
    }
}

/// Columns a sheet may have, as in Excel (A to XFD); a wider row is refused.
pub const MAX_COLUMNS: usize = 16_384;

/// Characters a cell may hold, as in Excel; a longer one is not a lead's data.
pub const MAX_CELL_CHARS: usize = 32_767;

/// A file's row `row` holds a cell (in column `col`, from 0) longer than a
/// spreadsheet cell may be.
fn cell_too_long(row: i64, col: usize) -> ImportError {
    ImportError::File(format!(
        "row {row}, column {}: the cell holds more than {MAX_CELL_CHARS} characters, more than a spreadsheet cell can",
        columns::column_letter(col)
    ))
}

/// Rows handed on at once.
pub const BATCH_ROWS: usize = 2000;

/// Reads a file into contact entries, handing them on in batches. Rows that cannot
/// become an entry (no valid phone, a repeat of an earlier row) are reported.
pub fn read_entries(
    bytes: &[u8],
    limits: &ImportLimits,
    options: &FileOptions,
    region: &Region,
    source: Source,
    send: &mut dyn FnMut(Vec<NewCustomer>) -> bool,
) -> Result<FileReport, ImportError> {
    let mut report = FileReport::default();
    let mut columns: Option<Columns> = None;
    let mut repeats = Repeats::default();
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let size_hint = std::cell::Cell::new(0usize);
    // Rows looked at for the header, and why the first of them was not one.
    let (mut searched, mut not_header) = (0usize, None);
    let progress = options.progress.as_deref();
    let on_size = &mut |rows: usize| {
        size_hint.set(rows.min(limits.max_rows));
        if let Some(p) = progress {
            p.rows_estimate.store(rows.saturating_sub(1) as i64, std::sync::atomic::Ordering::Relaxed);
        }
    };
    read_rows(bytes, limits, options, on_size, &mut |row| {
        if row.cells.iter().all(|(_, c)| c.is_empty()) {
            return Ok(());
        }
        // No database stores a NUL byte in text: the whole file is refused, not the
        // row, since a file holding one is broken, not a lead list with a typo.
        if let Some((col, _)) = row.cells.iter().find(|(_, c)| memchr::memchr(0, c.text().as_bytes()).is_some()) {
            return Err(ImportError::File(format!(
                "row {}, column {}: the cell holds a NUL byte, which cannot be stored",
                row.number,
                columns::column_letter(*col)
            )));
        }
        if let Some((col, _)) =
            row.cells.iter().find(|(_, c)| c.text().len() > MAX_CELL_CHARS && c.text().chars().count() > MAX_CELL_CHARS)
        {
            return Err(cell_too_long(row.number, *col));
        }
        if let Some(&(col, _)) = row.cells.iter().max_by_key(|(c, _)| *c)
            && col >= MAX_COLUMNS
        {
            return Err(ImportError::File(format!(
                "row {} has a cell in column {} ({}), past the {MAX_COLUMNS} columns a spreadsheet may have",
                row.number,
                col + 1,
                columns::column_letter(col)
            )));
        }
        let Some(cols) = &columns else {
            match options.header_row {
                Some(h) if row.number < h => return Ok(()),
                Some(h) if row.number > h => {
                    return Err(ImportError::Option(format!("header_row: row {h} of the sheet is empty")));
                }
                Some(_) => columns = Some(Columns::from_header(&row)?),
                None => match Columns::from_header(&row) {
                    Ok(found) if may_be_header(&row, searched == 0) => columns = Some(found),
                    Ok(_) => {
                        searched += 1;
                        if searched >= HEADER_SEARCH_ROWS {
                            return Err(not_header
                                .clone()
                                .unwrap_or_else(|| ImportError::File("no header row found".into())));
                        }
                        return Ok(());
                    }
                    Err(e) => {
                        searched += 1;
                        let first = not_header.get_or_insert(e);
                        if searched >= HEADER_SEARCH_ROWS {
                            return Err(first.clone());
                        }
                        return Ok(());
                    }
                },
            }
            repeats = Repeats::with_capacity(size_hint.get());
            return Ok(());
        };
        report.rows += 1;
        if let Some(p) = progress {
            p.rows_read.store(report.rows, std::sync::atomic::Ordering::Relaxed);
        }
        if report.rows as usize > limits.max_rows {
            return Err(ImportError::File(format!(
                "the file has more than {} rows, the limit; split it and upload the parts",
                limits.max_rows
            )));
        }
        match cols.entry(row, region, source) {
            Ok(entry) => {
                if !options.all_rows
                    && let Some(reason) = repeats.check(&entry)
                {
                    report.repeated += 1;
                    report.reject(InvalidRow { row: entry.row, id: entry.crm_id, reason });
                    return Ok(());
                }
                for phone in &entry.dropped_phones {
                    if report.dropped.len() < crate::domain::customer::MAX_REPORTED_ROWS {
                        report.dropped.push((entry.row, entry.crm_id.clone(), phone.clone()));
                    }
                }
                batch.push(entry);
                if batch.len() == BATCH_ROWS && !send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS))) {
                    return Err(ImportError::Stopped);
                }
            }
            Err(invalid) => report.reject(invalid),
        }
        Ok(())
    })?;
    if columns.is_none() {
        return Err(match (options.header_row, not_header) {
            (Some(h), _) => ImportError::Option(format!("header_row: the sheet has no row {h}")),
            (None, Some(e)) => e,
            (None, None) => ImportError::File("the file has no header row and no data".into()),
        });
    }
    if !batch.is_empty() && !send(batch) {
        return Err(ImportError::Stopped);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_from_content() {
        assert_eq!(detect(b"PK\x03\x04rest"), Ok(Format::Xlsx));
        let utf16 = |text: &str, bom: &[u8], big: bool| -> Vec<u8> {
            let units = text.encode_utf16().flat_map(|u| if big { u.to_be_bytes() } else { u.to_le_bytes() });
            bom.iter().copied().chain(units).collect()
        };
        for (bom, big) in [(&[0xFF, 0xFE][..], false), (&[0xFE, 0xFF][..], true), (&[][..], false), (&[][..], true)] {
            for text in ["name,phone\nAn,0901234567\n", "Họ tên,Số điện thoại\nNguyễn,0901234617\n"] {
                let err = detect(&utf16(text, bom, big)).unwrap_err();
                assert!(
                    matches!(&err, ImportError::File(m) if m.starts_with("the CSV file is UTF-16 text")),
                    "{err:?}"
                );
            }
        }
        assert_eq!(detect("phone\n0901".as_bytes()), Ok(Format::Csv));
        let refused = |bytes: &[u8]| match detect(bytes) {
            Err(ImportError::File(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(refused(b"<html><body><table><tr><td>phone</td></tr></table></body></html>").contains("web page"));
        assert!(
            refused(b"<?xml version=\"1.0\"?><Workbook xmlns=\"urn:schemas-microsoft-com:office:spreadsheet\">")
                .contains("Excel 2003 XML spreadsheet")
        );
        assert!(
            refused(b"PK\x03\x04\x14\0\0\0\0\0mimetypeapplication/vnd.oasis.opendocument.spreadsheet").contains(".ods")
        );
        let mut encrypted = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0];
        encrypted.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
        assert!(refused(&encrypted).contains("password-protected"));
        assert!(matches!(detect(b""), Err(ImportError::File(m)) if m == "the file is empty"));
        assert!(
            matches!(detect(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0]), Err(ImportError::File(m)) if m.contains(".xls"))
        );
        assert!(matches!(detect(b"\x00\x01binary"), Err(ImportError::File(_))));
        assert!(matches!(detect(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n\x00"), Err(ImportError::File(_))));
        assert!(matches!(detect(&b"name\x00".repeat(17)), Err(ImportError::File(_))));
        // A stray NUL in a text file is the reading's to refuse, naming its cell.
        assert_eq!(detect(b"phone,name\n0901000111,Ti\x00en\n"), Ok(Format::Csv));
    }

    fn row(cells: &[Cell]) -> SheetRow {
        SheetRow { number: 1, cells: cells.iter().cloned().enumerate().collect(), width: cells.len() }
    }

    #[test]
    fn a_row_holding_values_is_no_header() {
        let t = |s: &str| Cell::Text(s.into());
        assert!(header_columns(&row(&[t("STT"), t("Họ tên"), t("Số điện thoại"), t("Ghi chú")]), false).is_some());
        assert!(header_columns(&row(&[t("phone")]), true).is_some());
        // A letterhead's phone line, a contact line, a data row whose type column says "Di động".
        assert!(
            header_columns(&row(&[t("Điện thoại"), t("028 3822 1234"), t("Fax"), t("028 3822 1235")]), false).is_none()
        );
        assert!(
            header_columns(&row(&[t("Người liên hệ"), t("Chị Lan"), t("Di động"), t("0901 234 567")]), true).is_none()
        );
        assert!(header_columns(&row(&[t("Khách A"), Cell::Number("912345678".into()), t("Di động")]), true).is_none());
        assert!(header_columns(&row(&[t("Mobile"), t("+84 90 123 4567"), t("An")]), false).is_none());
        assert!(header_columns(&row(&[t("Trần"), t("Mobile"), t("0912 000 002 ::: 0912 000 003")]), false).is_none());
        assert!(header_columns(&row(&[t("An"), t("an@gmail.com"), t("Mobile")]), false).is_none());
    }
}
