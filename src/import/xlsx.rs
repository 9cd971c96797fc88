//! .xlsx through calamine's streaming cell reader (never `worksheet_range`, which
//! allocates the sheet's whole bounding box).

use std::io::{Cursor, Read};

use calamine::{DataRef, Reader, Xlsx, XlsxError};

use super::{Cell, ImportError, ImportLimits, SheetRow};

/// Refuses a workbook that unpacks to more than the limit. The sizes its directory
/// declares are checked first; then every part is inflated and counted, because a
/// hostile file can declare small sizes and still expand without bound.
fn check_unpacked_size(bytes: &[u8], limit: u64) -> Result<(), ImportError> {
    let too_large = || {
        ImportError::TooLarge(format!(
            "the workbook unpacks to more than {}, the limit",
            crate::api::input::human_size(limit as usize)
        ))
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| not_a_workbook())?;
    let mut declared: u64 = 0;
    for i in 0..zip.len() {
        let file = zip.by_index(i).map_err(|_| not_a_workbook())?;
        declared = declared.saturating_add(file.size());
    }
    if declared > limit {
        return Err(too_large());
    }
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let file = zip.by_index(i).map_err(|_| not_a_workbook())?;
        let shared_strings = file.name().is_ok_and(|n| n.to_ascii_lowercase().ends_with("sharedstrings.xml"));
        let mut part = file.take(limit - total + 1);
        let mut head = Vec::new();
        let unpack_error = |_| ImportError::File("the .xlsx file is corrupt: a part does not unpack".into());
        if shared_strings {
            (&mut part).take(SST_HEAD).read_to_end(&mut head).map_err(unpack_error)?;
        }
        let n = head.len() as u64 + std::io::copy(&mut part, &mut std::io::sink()).map_err(unpack_error)?;
        total += n;
        if total > limit {
            return Err(too_large());
        }
        if let Some(claimed) = claimed_unique_strings(&head)
            && claimed > u128::from(n / MIN_SHARED_STRING_BYTES + 1)
        {
            return Err(ImportError::File(format!(
                "the .xlsx file is corrupt: its shared-strings table claims {claimed} strings in {n} bytes"
            )));
        }
    }
    Ok(())
}

/// How much of the shared-strings part is searched for its `<sst>` tag.
const SST_HEAD: u64 = 64 * 1024;
/// The shortest string entry a shared-strings table can hold: `<si/>`.
const MIN_SHARED_STRING_BYTES: u64 = 5;

/// The `uniqueCount` the shared-strings table's `<sst>` tag claims, if it has one
/// that is a number. calamine reserves room for that many strings before reading
/// one, so a small file claiming trillions would abort the process: the claim is
/// held against the part's size first.
fn claimed_unique_strings(head: &[u8]) -> Option<u128> {
    let text = String::from_utf8_lossy(head);
    let mut rest = text.as_ref();
    let tag = loop {
        let at = rest.find('<')?;
        rest = &rest[at + 1..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        let name = tag.split(|c: char| c.is_ascii_whitespace() || c == '/').next().unwrap_or("");
        if name.rsplit(':').next() == Some("sst") {
            break tag;
        }
    };
    let at = tag.find("uniqueCount")?;
    let value = tag[at + "uniqueCount".len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let value = &value[1..value[1..].find(quote)? + 1];
    let digits = value.strip_prefix('+').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Too many digits for any count is as much a lie as a large one.
    Some(digits.trim_start_matches('0').parse::<u128>().unwrap_or(u128::MAX))
}

fn not_a_workbook() -> ImportError {
    ImportError::File("the file is not a readable .xlsx workbook".into())
}

fn xlsx_error(e: XlsxError) -> ImportError {
    match e {
        XlsxError::Password => ImportError::File("the workbook is password-protected; remove the password".into()),
        other => ImportError::File(format!("the .xlsx file is corrupt: {other}")),
    }
}

fn convert(value: &DataRef<'_>) -> Cell {
    match value {
        DataRef::Empty => Cell::Empty,
        DataRef::String(s) => Cell::Text(s.trim().to_string()),
        DataRef::SharedString(s) => Cell::Text(s.trim().to_string()),
        DataRef::Int(i) => Cell::Number(i.to_string()),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Cell::Number(format!("{}", *f as i64)),
        DataRef::Float(f) => Cell::Number(f.to_string()),
        DataRef::Bool(b) => Cell::Text(if *b { "TRUE" } else { "FALSE" }.into()),
        DataRef::DateTime(dt) => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            if (h, mi, s) == (0, 0, 0) {
                Cell::Date(format!("{y:04}-{mo:02}-{d:02}"))
            } else {
                Cell::Date(format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"))
            }
        }
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::Date(s.clone()),
        DataRef::Error(e) => Cell::Text(format!("#{e:?}")),
    }
}

/// Streams the first sheet's rows. A panic while reading (calamine's arithmetic on
/// a hostile cell reference, say) is an unreadable file, not a crash; rows already
/// handed on are then written by nobody, since the reading ends in an error.
pub fn read(
    bytes: &[u8],
    limits: &ImportLimits,
    on_size: &mut dyn FnMut(usize),
    on_row: &mut dyn FnMut(SheetRow) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_sheet(bytes, limits, on_size, on_row)))
        .unwrap_or_else(|_| Err(ImportError::File("the .xlsx file is corrupt: it could not be read".into())))
}

fn read_sheet(
    bytes: &[u8],
    limits: &ImportLimits,
    on_size: &mut dyn FnMut(usize),
    on_row: &mut dyn FnMut(SheetRow) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    check_unpacked_size(bytes, limits.max_unpacked_bytes)?;
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(xlsx_error)?;
    let sheet =
        workbook.sheet_names().first().cloned().ok_or_else(|| ImportError::File("the workbook has no sheet".into()))?;
    let mut reader = workbook.worksheet_cells_reader(&sheet).map_err(xlsx_error)?;
    on_size(reader.dimensions().end.0.saturating_sub(reader.dimensions().start.0) as usize + 1);
    let mut current = SheetRow { number: 0, cells: Vec::new() };
    while let Some(cell) = reader.next_cell().map_err(xlsx_error)? {
        let (row, col) = cell.get_position();
        let number = row as i64 + 1;
        if number != current.number {
            if current.number != 0 {
                on_row(std::mem::replace(&mut current, SheetRow { number, cells: Vec::new() }))?;
            }
            current.number = number;
        }
        let value = convert(cell.get_value());
        if value != Cell::Empty {
            current.cells.push((col as usize, value));
        }
    }
    if current.number != 0 {
        on_row(current)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::claimed_unique_strings;

    #[test]
    fn the_shared_strings_claim_is_read_from_the_sst_tag() {
        let claim = |xml: &str| claimed_unique_strings(xml.as_bytes());
        assert_eq!(claim(r#"<?xml version="1.0"?><sst xmlns="x" count="4" uniqueCount="3"><si>"#), Some(3));
        assert_eq!(claim(r#"<x:sst uniqueCount = '12'>"#), Some(12));
        assert_eq!(claim(r#"<sst uniqueCount="+0007">"#), Some(7));
        assert_eq!(claim(r#"<sst uniqueCount="99999999999999999999999999999999999999999999">"#), Some(u128::MAX));
        assert_eq!(claim(r#"<sst count="3"><si>"#), None);
        assert_eq!(claim(r#"<sst uniqueCount="many">"#), None);
        assert_eq!(claim(r#"<sstx uniqueCount="5">"#), None);
        assert_eq!(claim(""), None);
    }
}
