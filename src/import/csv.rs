//! .csv: UTF-8 with or without a byte-order mark, `,` `;` or tab separated.

use super::{Cell, ImportError, SheetRow};

/// The separator the first non-empty lines share (outside quotes): of `,` `;` and
/// tab, the one whose count is the same on the most lines (then the larger count);
/// `,` when none shows. A separator splits every row into as many cells, where text
/// in a cell does not: a `;`-separated file whose addresses hold commas ("Số 1, Lê
/// Lợi, Quận 1") has a `;` count that every line shares and a comma count that varies.
/// Several lines, since a title line ("Report: leads, March") may come before the
/// header; lines end at LF, or at CR in a file that has no LF.
fn separator(text: &str) -> u8 {
    const SEPARATORS: [u8; 3] = [b',', b';', b'\t'];
    let mut counts: Vec<[usize; 3]> = Vec::new();
    for line in lines(text).filter(|l| !l.trim().is_empty()).take(super::HEADER_SEARCH_ROWS + 1) {
        let mut quoted = false;
        let mut line_counts = [0usize; 3];
        for b in line.bytes() {
            if b == b'"' {
                quoted = !quoted;
            } else if !quoted && let Some(i) = SEPARATORS.iter().position(|s| *s == b) {
                line_counts[i] += 1;
            }
        }
        counts.push(line_counts);
    }
    let mut best = (b',', 0usize, 0usize);
    for (i, sep) in SEPARATORS.iter().enumerate() {
        let mut lines_with: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
        for n in counts.iter().map(|c| c[i]).filter(|n| *n > 0) {
            *lines_with.entry(n).or_default() += 1;
        }
        if let Some((count, agree)) = lines_with.into_iter().max_by_key(|(count, agree)| (*agree, *count))
            && (agree, count) > (best.1, best.2)
        {
            best = (*sep, agree, count);
        }
    }
    best.0
}

/// The lines of `text`: ending at LF, or at CR alone in a file with no LF ("CSV
/// (Macintosh)"), as the reader takes its rows.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let end = line_end(text.as_bytes());
    text.split(end as char).map(|l| l.strip_suffix('\r').unwrap_or(l))
}

/// The byte that ends a line: LF, or CR in a file without LF.
fn line_end(bytes: &[u8]) -> u8 {
    if memchr::memchr(b'\n', bytes).is_none() && memchr::memchr(b'\r', bytes).is_some() { b'\r' } else { b'\n' }
}

pub fn read(bytes: &[u8], on_row: &mut dyn FnMut(SheetRow) -> Result<(), ImportError>) -> Result<(), ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let end = line_end(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == end).count() + 1;
        ImportError::File(format!(
            "the CSV file is not UTF-8 text (line {line}); save it as \"CSV UTF-8\" and upload it again"
        ))
    })?;
    let delimiter = separator(text);
    fits_a_sheet(bytes, delimiter)?;
    let mut reader =
        ::csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes());
    let mut record = ::csv::StringRecord::new();
    // Line numbers come from byte offsets: the reader's own count passes over blank lines.
    // A row's number is its line less the line breaks inside quoted cells before it,
    // as a spreadsheet opening the file numbers its rows.
    let (mut counted_to, mut line, mut inside) = (0usize, 1i64, 0i64);
    let mut last_row = None;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => {
                // A quote never closed takes every line after it into one cell: the
                // rows there would vanish without a word.
                return match last_row {
                    Some(number) if unclosed_quote(&text.as_bytes()[counted_to..], delimiter) => {
                        Err(ImportError::File(format!(
                            "the CSV file cannot be read: a quoted cell in row {number} is never closed"
                        )))
                    }
                    _ => Ok(()),
                };
            }
            Ok(true) => {
                let bytes = text.as_bytes();
                let mut start = record.position().map(|p| p.byte() as usize).unwrap_or(counted_to).min(text.len());
                // A record's position is where the reader began, before the blank lines it skipped.
                while start < bytes.len() && matches!(bytes[start], b'\n' | b'\r') {
                    start += 1;
                }
                line += bytes[counted_to.min(start)..start].iter().filter(|&&b| b == end).count() as i64;
                counted_to = start;
                let number = line - inside;
                inside += record.iter().map(|v| v.matches(end as char).count() as i64).sum::<i64>();
                let cells = record
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| !v.trim().is_empty())
                    .map(|(i, v)| (i, Cell::Text(v.trim().to_string())))
                    .collect();
                last_row = Some(number);
                on_row(SheetRow { number, cells, width: record.len() })?;
            }
            Err(e) => return Err(ImportError::File(format!("the CSV file cannot be read: {e}"))),
        }
    }
}

/// Refuses a file with a row of more cells than a spreadsheet has columns, or a cell
/// longer than a spreadsheet cell, before it is read: the reader holds a row's every
/// cell whole, blank ones too (a line of ten million commas took half a gigabyte, a
/// 95 MB cell 600 MB before its length was judged), so widths and lengths are
/// counted first, at memchr's speed, minding quotes. The row is numbered as `read`
/// numbers it.
fn fits_a_sheet(bytes: &[u8], delimiter: u8) -> Result<(), ImportError> {
    let end = line_end(bytes);
    let (mut cells, mut quoted, mut row, mut from) = (1usize, false, 1i64, 0usize);
    // Where the cell being read starts, and the doubled quotes in it (one character each).
    let (mut cell_start, mut doubled) = (0usize, 0usize);
    // A cell's characters: its bytes that start one, less its quotes.
    let fits = |start: usize, stop: usize, doubled: usize, row: i64, column: usize| {
        let cell = &bytes[start..stop];
        let cell = cell.strip_suffix(b"\r").unwrap_or(cell);
        let quotes = if cell.first() == Some(&b'"') { doubled + 2 } else { doubled };
        let long = cell.len() > super::MAX_CELL_CHARS
            && cell.iter().filter(|&&b| b & 0xC0 != 0x80).count().saturating_sub(quotes) > super::MAX_CELL_CHARS;
        if long { Err(super::cell_too_long(row, column - 1)) } else { Ok(()) }
    };
    while let Some(found) = memchr::memchr3(delimiter, b'"', end, &bytes[from..]) {
        let at = from + found;
        from = at + 1;
        match bytes[at] {
            // A quote opens a quoted cell only at the cell's start; inside one, a
            // doubled quote is a quote, and a single one closes it.
            b'"' if quoted && bytes.get(at + 1) == Some(&b'"') => (from, doubled) = (at + 2, doubled + 1),
            b'"' if quoted => quoted = false,
            b'"' => quoted = at == 0 || matches!(bytes[at - 1], b'\n' | b'\r') || bytes[at - 1] == delimiter,
            _ if quoted => {}
            b => {
                fits(cell_start, at, doubled, row, cells)?;
                (cell_start, doubled) = (at + 1, 0);
                if b == end {
                    (row, cells) = (row + 1, 1);
                    continue;
                }
                cells += 1;
                if cells > super::MAX_COLUMNS {
                    return Err(ImportError::File(format!(
                        "row {row} has a cell in column {cells} ({}), past the {} columns a spreadsheet may have",
                        super::columns::column_letter(cells - 1),
                        super::MAX_COLUMNS
                    )));
                }
            }
        }
    }
    fits(cell_start, bytes.len(), doubled, row, cells)
}

/// Whether a record read from the start of `raw` to its end is left inside a
/// quoted cell: a cell that starts with `"` ends at the next `"` not doubled.
fn unclosed_quote(raw: &[u8], delimiter: u8) -> bool {
    let (mut at_start, mut quoted, mut i) = (true, false, 0);
    while i < raw.len() {
        let b = raw[i];
        if quoted {
            if b == b'"' {
                if raw.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    quoted = false;
                }
            }
        } else if at_start && b == b'"' {
            quoted = true;
            at_start = false;
        } else {
            at_start = b == delimiter || b == b'\n' || b == b'\r';
        }
        i += 1;
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(input: &[u8]) -> Result<Vec<SheetRow>, ImportError> {
        let mut out = Vec::new();
        read(input, &mut |r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn separators_are_detected() {
        assert_eq!(separator("a,b,c"), b',');
        assert_eq!(separator("a;b;c"), b';');
        assert_eq!(separator("a\tb\tc"), b'\t');
        assert_eq!(separator("\"a;b\",c"), b',');
        assert_eq!(separator("single"), b',');
        // The count every line shares wins over one that varies (commas in addresses).
        let text = "Họ tên;SĐT;Địa chỉ\nAn;0901234567;Số 1, Lê Lợi, Quận 1, TP.HCM\nBình;0902;12 Hai Bà Trưng, Q.1\n";
        assert_eq!(separator(text), b';');
        assert_eq!(separator("name\tphone\tnote\nA\t0901\tcall, later, maybe\nB\t0902\tx, y\n"), b'\t');
        assert_eq!(separator("Report: leads, March\nname,phone,note\nA,0901,x; y\nB,0902,z\n"), b',');
        assert_eq!(separator("name;phone\rA;0901\rB;0902, 0903\r"), b';');
    }

    #[test]
    fn rows_of_a_file_whose_lines_end_at_cr_alone_are_numbered_as_a_spreadsheet_shows_them() {
        let r = rows(b"name,phone\rA,0901\r\rabc,x\r\"B\rC\",0902\rD,0903\r").unwrap();
        let numbers: Vec<i64> = r.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [1, 2, 4, 5, 6]);
        let err = rows(b"name,phone\rA,0901\rB\xff,0902\r").unwrap_err();
        assert_eq!(
            err,
            ImportError::File(
                "the CSV file is not UTF-8 text (line 3); save it as \"CSV UTF-8\" and upload it again".into()
            )
        );
    }

    #[test]
    fn bom_and_line_numbers() {
        let r = rows("\u{feff}tên;sđt\nĐài;0901234567\n\nX;1\n".as_bytes()).unwrap();
        assert_eq!(r[0].cells[0].1, Cell::Text("tên".into()));
        assert_eq!(r[1].number, 2);
        assert_eq!(r.last().unwrap().number, 4);
    }

    #[test]
    fn rows_are_numbered_as_a_spreadsheet_shows_them() {
        // Line breaks inside quoted cells do not start rows; blank lines are rows.
        let r = rows(b"name,phone\r\n\"A\r\nB\nC\",0901\r\n\r\nD,0902\r\n\"E\nF\",0903\nG,0904\n").unwrap();
        let numbers: Vec<i64> = r.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [1, 2, 4, 5, 6]);
    }

    #[test]
    fn a_quote_never_closed_is_refused_naming_its_row() {
        let err = rows(b"name,phone\nA,0901\n\"B,0902\nC,0903\n").unwrap_err();
        assert_eq!(
            err,
            ImportError::File("the CSV file cannot be read: a quoted cell in row 3 is never closed".into())
        );
        let err = rows(b"name;phone\nA;\"0901\"\"x\n").unwrap_err();
        assert_eq!(
            err,
            ImportError::File("the CSV file cannot be read: a quoted cell in row 2 is never closed".into())
        );
        // Closed quotes, doubled quotes, and quotes inside a cell that did not start
        // with one are all fine, on the last row too.
        for ok in [
            &b"name,phone\nA,\"0901\""[..],
            b"name,phone\nA \"Bo\" C,0901\n",
            b"name,phone\n\"A \"\"Bo\"\"\",0901",
            b"name,phone\n\"A\"x,0901\n",
            b"name,phone\nA,0901\n\n",
        ] {
            assert!(rows(ok).is_ok(), "{}", String::from_utf8_lossy(ok));
        }
    }

    #[test]
    fn a_row_wider_than_a_sheet_is_refused_before_it_is_read() {
        let wide = |row: &str| format!("name,phone\n\nA,0901\n{row}\n").into_bytes();
        let refused = |row: i64| {
            ImportError::File(format!(
                "row {row} has a cell in column 16385 (XFE), past the 16384 columns a spreadsheet may have"
            ))
        };
        // Blank cells count: each is a column the row has.
        assert_eq!(rows(&wide(&format!("B,0902{}", ",".repeat(16_383)))).unwrap_err(), refused(4));
        assert!(rows(&wide(&format!("B,0902{}", ",".repeat(16_382)))).is_ok());
        // Separators inside a quoted cell (its doubled quotes too) are its text; a
        // quote inside an unquoted cell is a character.
        let quoted = format!("B,\"{}\"\"{}\",0902", ",".repeat(9000), ",".repeat(9000));
        assert!(rows(&wide(&quoted)).is_ok());
        let stray = format!("5\" screen{},0902", ",".repeat(16_383));
        assert_eq!(rows(&wide(&stray)).unwrap_err(), refused(4));
        // Rows that end at carriage returns alone are rows too.
        let mac = format!("name,phone\r{}", "A,0901\r".repeat(10_000)).into_bytes();
        assert!(rows(&mac).is_ok());
        let mac = format!("name,phone\rA,0901\rB,0902{}\r", ",".repeat(16_383)).into_bytes();
        assert_eq!(rows(&mac).unwrap_err(), refused(3));
        // Semicolons, when they separate.
        let semi = format!("name;phone\nB;0902{}", ";".repeat(16_383)).into_bytes();
        assert_eq!(rows(&semi).unwrap_err(), refused(2));
    }

    #[test]
    fn a_cell_longer_than_a_sheet_allows_is_refused_before_it_is_read() {
        let refused = |row: i64, col: &str| {
            ImportError::File(format!(
                "row {row}, column {col}: the cell holds more than 32767 characters, more than a spreadsheet cell can"
            ))
        };
        let max = "ệ".repeat(32_767);
        for ok in [
            format!("name,phone\nA,0901\n{max},0902\n"),
            format!("name,phone\r\nA,0901\r\nB,{}\r\n", "9".repeat(32_767)),
            format!("name,phone\nA,\"{}\"\n", "\"\"".repeat(32_767)),
            format!("name,phone\nA,\"{}\"", "x".repeat(32_767)),
        ] {
            assert!(rows(ok.as_bytes()).is_ok());
        }
        let long = "x".repeat(32_768);
        assert_eq!(rows(format!("name,phone\nA,0901\nB,{long}\n").as_bytes()).unwrap_err(), refused(3, "B"));
        assert_eq!(rows(format!("name,phone\n{long}").as_bytes()).unwrap_err(), refused(2, "A"));
        // Rows are numbered as the reader numbers them: a line break in a quoted cell is the cell's.
        let quoted = format!("name,phone\n\"A\nB\",0901\nC,\"{long}\"\n");
        assert_eq!(rows(quoted.as_bytes()).unwrap_err(), refused(3, "B"));
    }

    #[test]
    fn non_utf8_is_refused_clearly() {
        let err = rows(b"name,phone\nD\xe0i,0901\n").unwrap_err();
        assert_eq!(
            err,
            ImportError::File(
                "the CSV file is not UTF-8 text (line 2); save it as \"CSV UTF-8\" and upload it again".into()
            )
        );
    }
}
