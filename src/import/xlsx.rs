//! .xlsx through calamine's streaming cell reader (never `worksheet_range`, which
//! allocates the sheet's whole bounding box).

use std::io::{Cursor, Read};

use calamine::{DataRef, Reader, Xlsx, XlsxError};

use super::{Cell, FileOptions, HEADER_SEARCH_ROWS, ImportError, ImportLimits, SheetRow, header_columns};

/// Refuses a workbook that unpacks to more than the limit. The sizes its directory
/// declares are checked first; then every part is inflated and counted, because a
/// hostile file can declare small sizes and still expand without bound.
fn check_unpacked_size(bytes: &[u8], limit: u64) -> Result<(), ImportError> {
    let too_large = || {
        ImportError::TooLarge(format!(
            "the workbook unpacks to more than {}, the limit",
            crate::domain::human_size(limit as usize)
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
        let name = file.name().map(|n| n.to_ascii_lowercase()).unwrap_or_default();
        let shared_strings = name.ends_with("sharedstrings.xml");
        // Custom XML parts (a program's own data, which may hold long texts) are
        // never read.
        let xml = (name.ends_with(".xml") || name.ends_with(".rels")) && !name.starts_with("customxml/");
        let mut part = file.take(limit - total + 1);
        let mut claims = ClaimScanner::default();
        let mut strings = StringSizer::default();
        let mut runs = RunSizer::default();
        let mut refs = SharedRefs::default();
        let copied = if shared_strings {
            std::io::copy(&mut part, &mut Both(&mut claims, &mut Both(&mut strings, &mut runs)))
        } else if xml {
            // Wherever the workbook's relationships put its sheets.
            std::io::copy(&mut part, &mut Both(&mut runs, &mut refs))
        } else {
            std::io::copy(&mut part, &mut std::io::sink())
        };
        let n = copied.map_err(|e| match e.get_ref().and_then(|inner| inner.downcast_ref::<Refused>()) {
            Some(Refused(why)) => ImportError::File(why.clone()),
            None => ImportError::File("the .xlsx file is corrupt: a part does not unpack".into()),
        })?;
        total += n;
        if total > limit {
            return Err(too_large());
        }
        if let Some(claimed) = claims.largest
            && claimed > u128::from(n / MIN_SHARED_STRING_BYTES + 1)
        {
            return Err(ImportError::File(format!(
                "the .xlsx file is corrupt: its shared-strings table claims {claimed} strings in {n} bytes"
            )));
        }
        if let Some(bad) = refs.bad {
            return Err(ImportError::File(format!("the .xlsx file is corrupt: {bad}")));
        }
    }
    Ok(())
}

/// The most bytes the text of one shared string (`<si>`, its rich-text runs
/// together) may take: a cell's most characters, each at most ten bytes written as
/// a character reference (`&#1114111;`). calamine keeps every shared string whole,
/// so one of hundreds of megabytes, which no cell can show, would cost its size
/// several times over in memory for nothing.
const MAX_SHARED_STRING_BYTES: u64 = super::MAX_CELL_CHARS as u64 * 10;

/// What reading a workbook's shared-strings table may cost in memory, estimated as
/// [`SHARED_STRING_COST`] a text plus the texts' bytes: calamine holds the whole
/// table from the workbook's opening to the last row. A million rows of three
/// different texts each come to about 200 MB; a table of a million texts of 30,000
/// characters, or of twelve million one-letter texts, packs into a megabyte.
const MAX_SHARED_STRINGS_HELD: u64 = 384 * 1024 * 1024;

/// The memory one shared string takes beside its text: the `String` (24 bytes) and
/// its allocation's own overhead.
const SHARED_STRING_COST: u64 = 56;

/// Measures the character data of each `<si>` element of a shared-strings part
/// (bytes outside tags, counted from one `<si` start tag to the next), keeping the
/// largest, and counts the elements and all their bytes; works across the chunks it
/// is written in.
#[derive(Debug, Default)]
struct StringSizer {
    count: u64,
    total: u64,
    in_tag: bool,
    /// The tag's name as read so far (a few bytes suffice to tell `si`), and
    /// whether it is still being read.
    name: Vec<u8>,
    naming: bool,
    text: u64,
    largest: u64,
}

/// Why a part's checks refused the file: the answer it gets. A check refuses as
/// soon as it knows, so that a part made to cost memory or time stops being read.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// A check's refusal, as the error that stops `std::io::copy`.
fn stop(refused: Option<Refused>) -> std::io::Result<()> {
    refused.map_or(Ok(()), |r| Err(std::io::Error::other(r)))
}

impl StringSizer {
    /// Why the table read so far is refused, if it is.
    fn refused(&self) -> Option<Refused> {
        let held = self.count.saturating_mul(SHARED_STRING_COST).saturating_add(self.total);
        if held > MAX_SHARED_STRINGS_HELD {
            return Some(Refused(format!(
                "the .xlsx file's shared-strings table holds {} texts of {} in all, which would take {} of memory \
                 to read, more than an upload may ({}): split the file",
                self.count,
                crate::domain::human_size(self.total as usize),
                crate::domain::human_size(held as usize),
                crate::domain::human_size(MAX_SHARED_STRINGS_HELD as usize)
            )));
        }
        (self.largest > MAX_SHARED_STRING_BYTES).then(|| {
            Refused(format!(
                "the .xlsx file holds a text of {} bytes or more, longer than a cell holds ({} characters)",
                self.largest,
                super::MAX_CELL_CHARS
            ))
        })
    }

    fn end_name(&mut self) {
        self.naming = false;
        let local = self.name.rsplit(|&b| b == b':').next().unwrap_or(&[]);
        if local == b"si" && self.name.first() != Some(&b'/') {
            self.text = 0;
            self.count += 1;
        }
    }
}

impl std::io::Write for StringSizer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            if !self.in_tag {
                let at = memchr::memchr(b'<', rest).unwrap_or(rest.len());
                self.text += at as u64;
                self.total += at as u64;
                self.largest = self.largest.max(self.text);
                rest = &rest[at..];
                if let Some((_, after)) = rest.split_first() {
                    (self.in_tag, self.naming) = (true, true);
                    self.name.clear();
                    rest = after;
                }
                continue;
            }
            if self.naming {
                let b = rest[0];
                if b.is_ascii_whitespace() || b == b'>' || (b == b'/' && !self.name.is_empty()) {
                    self.end_name();
                } else {
                    if self.name.len() < 16 {
                        self.name.push(b);
                    }
                    rest = &rest[1..];
                }
                continue;
            }
            match memchr::memchr(b'>', rest) {
                Some(at) => {
                    self.in_tag = false;
                    rest = &rest[at + 1..];
                }
                None => break,
            }
        }
        stop(self.refused())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The longest run of text between two tags, and the longest tag (with its
/// attributes), an XML part may hold: the parser keeps one whole in memory. A cell's
/// text is at most a tenth of this; what else a workbook holds (an add-in's
/// settings, a signature's image) stays well under it.
const MAX_RUN_BYTES: u64 = 4 * 1024 * 1024;

/// The longest run of character data (bytes between two tags: a value, or the
/// white space between elements) and the longest tag of an XML part, across the
/// chunks it is written in. calamine's parser keeps each whole in memory, so a part
/// of a few hundred megabytes of spaces between two rows, which packs into a few
/// hundred kilobytes, would cost its size in memory for nothing.
#[derive(Debug, Default)]
struct RunSizer {
    in_tag: bool,
    run: u64,
    text: u64,
    tag: u64,
}

impl RunSizer {
    fn refused(&self) -> Option<Refused> {
        [("text between two tags", self.text), ("tag", self.tag)].into_iter().find(|(_, n)| *n > MAX_RUN_BYTES).map(
            |(what, n)| {
                Refused(format!(
                    "the .xlsx file holds a {what} of {n} bytes or more, longer than any spreadsheet writes ({})",
                    crate::domain::human_size(MAX_RUN_BYTES as usize)
                ))
            },
        )
    }
}

impl std::io::Write for RunSizer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            let stop = if self.in_tag { b'>' } else { b'<' };
            let at = memchr::memchr(stop, rest).unwrap_or(rest.len());
            self.run += at as u64;
            if self.in_tag {
                self.tag = self.tag.max(self.run);
            } else {
                self.text = self.text.max(self.run);
            }
            if at < rest.len() {
                (self.in_tag, self.run) = (!self.in_tag, 0);
                rest = &rest[at + 1..];
            } else {
                rest = &[];
            }
        }
        stop(self.refused())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Finds a sheet's cells of shared strings (`<c t="s">`) whose `<v>` is not an
/// index: calamine reads `-1` or `abc` there as the first shared string, so a
/// corrupt cell would be imported as another cell's text. Works across the chunks
/// the part is written in; a tag is kept whole while it is read (its length is
/// bounded by `RunSizer`'s check), a value up to [`SharedRefs::VALUE`] bytes.
#[derive(Debug, Default)]
struct SharedRefs {
    in_tag: bool,
    /// The quote that opened the tag's current attribute value, if any.
    quote: Option<u8>,
    tag: Vec<u8>,
    /// Whether the current cell is one of shared strings, and its reference.
    shared: bool,
    cell: Vec<u8>,
    /// Inside that cell's `<v>`, and the text read so far (its room kept).
    in_value: bool,
    value: Vec<u8>,
    bad: Option<String>,
}

impl SharedRefs {
    /// Longer than any index a table can hold.
    const VALUE: usize = 24;

    fn tag(&mut self) {
        let tag = std::mem::take(&mut self.tag);
        self.judge(&tag);
        // The buffer is kept, with its room, for the next tag.
        self.tag = tag;
        self.tag.clear();
    }

    fn judge(&mut self, tag: &[u8]) {
        let (closing, body) = match tag.strip_prefix(b"/") {
            Some(rest) => (true, rest),
            None => (false, tag),
        };
        let end = body.iter().position(|b| b.is_ascii_whitespace() || *b == b'/').unwrap_or(body.len());
        let local = body[..end].rsplit(|&b| b == b':').next().unwrap_or_default();
        let empty = body.ends_with(b"/");
        match (local, closing) {
            (b"c", false) => {
                self.in_value = false;
                let attrs = &body[end..];
                self.shared = !empty && attribute(attrs, b"t") == Some(b"s");
                self.cell.clear();
                if self.shared {
                    self.cell.extend_from_slice(attribute(attrs, b"r").unwrap_or_default());
                }
            }
            (b"c", true) => (self.shared, self.in_value) = (false, false),
            (b"v", false) if self.shared && !empty => {
                self.in_value = true;
                self.value.clear();
            }
            (b"v", true) => {
                let value = &self.value;
                if std::mem::take(&mut self.in_value) && self.shared && self.bad.is_none() && !is_index(value) {
                    let shown: String = String::from_utf8_lossy(value).chars().take(20).collect();
                    let cell = String::from_utf8_lossy(&self.cell);
                    self.bad = Some(format!("cell {cell} names shared string '{shown}', which is not an index"));
                }
            }
            _ => {}
        }
    }
}

/// The raw value of the attribute whose local name is `wanted`, in a tag's rest
/// (after its name).
fn attribute<'a>(mut rest: &'a [u8], wanted: &[u8]) -> Option<&'a [u8]> {
    loop {
        rest = rest.trim_ascii_start();
        let eq = rest.iter().position(|&b| b == b'=')?;
        let name = rest[..eq].trim_ascii();
        let after = rest[eq + 1..].trim_ascii_start();
        let (&quote, value) = after.split_first()?;
        let close = value.iter().position(|&b| b == quote)?;
        if name.rsplit(|&b| b == b':').next() == Some(wanted) {
            return Some(&value[..close]);
        }
        rest = &value[close + 1..];
    }
}

/// Whether a cell's value is a shared-string index as calamine reads one: digits
/// that fit its integer (past it, calamine reads the first string).
/// (An empty value is no index either, but calamine reads it as no value.)
fn is_index(value: &[u8]) -> bool {
    value.len() <= 20
        && value.iter().all(u8::is_ascii_digit)
        && (value.is_empty() || std::str::from_utf8(value).is_ok_and(|v| v.parse::<usize>().is_ok()))
}

/// What a look at a cell of shared strings in its most common shape found.
enum Quick {
    /// `<c … t="s"/>`, or `<c … t="s"><v>index</v>`, of this many bytes.
    Fine(usize),
    /// The attribute found is not in a cell's tag.
    NotACell,
    /// Another shape, one cut by the chunk's end, or a bad index: for the reader.
    Read,
}

/// `cell` starts at a tag's `<`; `attribute` is where in it `t="s"` was found.
fn quick_cell(cell: &[u8], attribute: usize) -> Quick {
    let (Some(end), _) = tag_end(&cell[1..]) else { return Quick::Read };
    let tag = &cell[1..1 + end];
    let name = &tag[..tag.iter().position(|b| b.is_ascii_whitespace()).unwrap_or(tag.len())];
    if attribute > end || !(name == b"c" || name.ends_with(b":c")) {
        return Quick::NotACell;
    }
    let after = 1 + end + 1;
    if tag.ends_with(b"/") {
        return Quick::Fine(after);
    }
    let Some(value) = cell[after..].strip_prefix(b"<v>") else { return Quick::Read };
    let Some(len) = memchr::memchr(b'<', value) else { return Quick::Read };
    let digits = &value[..len];
    if digits.is_empty() || !is_index(digits) {
        return Quick::Read;
    }
    match value[len..].starts_with(b"</v>") {
        true => Quick::Fine(after + 3 + len + 4),
        false => Quick::Read,
    }
}

/// Where a tag's text (after its `<`) ends, at the first `>` outside quotes; when
/// it does not end there, the quote it leaves open, if any.
fn tag_end(tag: &[u8]) -> (Option<usize>, Option<u8>) {
    let mut quote = None;
    for (i, &b) in tag.iter().enumerate() {
        quote = match quote {
            Some(q) if b == q => None,
            None if b == b'>' => return (Some(i), None),
            None if b == b'"' || b == b'\'' => Some(b),
            same => same,
        };
    }
    (None, quote)
}

/// What a cell of shared strings holds among its attributes.
static SHARED_CELL: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"t=\"s\""));

impl std::io::Write for SharedRefs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() && self.bad.is_none() {
            // Outside a cell of shared strings, nothing matters until the next one:
            // found at memchr's speed, then read from its tag's start. A tag left open
            // at the chunk's end is carried, as the reader below would, since its
            // attribute may come in the next chunk. (A cell whose tag writes the
            // attribute otherwise, `t = 's'`, is not checked: calamine reads it.)
            if !self.in_tag && !self.shared && !self.in_value {
                let Some(at) = SHARED_CELL.find(rest) else {
                    if let Some(start) = memchr::memrchr(b'<', rest)
                        && let (None, quote) = tag_end(&rest[start + 1..])
                    {
                        self.in_tag = true;
                        self.quote = quote;
                        self.tag.extend_from_slice(&rest[start + 1..]);
                    }
                    break;
                };
                match memchr::memrchr(b'<', &rest[..at]) {
                    Some(start) => match quick_cell(&rest[start..], at - start) {
                        Quick::Fine(len) => rest = &rest[start + len..],
                        Quick::NotACell => rest = &rest[at + 1..],
                        // Read by the reader below, which tells what is wrong.
                        Quick::Read => {
                            self.in_tag = true;
                            rest = &rest[start + 1..];
                        }
                    },
                    None => rest = &rest[at + 1..],
                }
                continue;
            }
            if !self.in_tag {
                let at = memchr::memchr(b'<', rest).unwrap_or(rest.len());
                if self.in_value {
                    let room = Self::VALUE.saturating_sub(self.value.len());
                    self.value.extend_from_slice(&rest[..at.min(room)]);
                    if at > room {
                        self.value.push(b'.');
                    }
                }
                self.in_tag = at < rest.len();
                rest = rest.get(at + 1..).unwrap_or_default();
                continue;
            }
            // A tag that ends within this chunk (nearly every one) is judged where it
            // lies, without a copy: a short loop over its bytes, minding quotes.
            if self.tag.is_empty()
                && self.quote.is_none()
                && let (Some(end), _) = tag_end(rest)
            {
                self.in_tag = false;
                self.judge(&rest[..end]);
                rest = &rest[end + 1..];
                continue;
            }
            // A quoted attribute value may hold a '>'.
            let stop = match self.quote {
                Some(q) => memchr::memchr(q, rest),
                None => memchr::memchr3(b'>', b'"', b'\'', rest),
            };
            let Some(at) = stop else {
                self.tag.extend_from_slice(rest);
                break;
            };
            let b = rest[at];
            self.tag.extend_from_slice(&rest[..at]);
            rest = &rest[at + 1..];
            match self.quote {
                Some(_) => self.quote = None,
                None if b == b'>' => {
                    self.in_tag = false;
                    self.tag();
                    continue;
                }
                None => self.quote = Some(b),
            }
            self.tag.push(b);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes to two sinks at once.
struct Both<'a, A, B>(&'a mut A, &'a mut B);

impl<A: std::io::Write, B: std::io::Write> std::io::Write for Both<'_, A, B> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(buf)?;
        self.1.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The shortest string entry a shared-strings table can hold: `<si/>`.
const MIN_SHARED_STRING_BYTES: u64 = 5;

/// The attribute of the shared-strings table's `<sst>` tag that calamine reserves
/// room for before it reads a single string: a small file claiming trillions would
/// abort the process. Rather than find the one tag calamine would read, the scanner
/// takes the largest `uniqueCount = "digits"` anywhere in the part (comments and
/// decoys included), so no arrangement of the file hides a claim from it.
const CLAIM: &[u8] = b"uniqueCount";

/// For each prefix `CLAIM[..=i]`, the length of its longest proper prefix that is
/// also its suffix.
const FALLBACK: [usize; CLAIM.len()] = {
    let mut table = [0; CLAIM.len()];
    let (mut i, mut k) = (1, 0);
    while i < CLAIM.len() {
        while k > 0 && CLAIM[i] != CLAIM[k] {
            k = table[k - 1];
        }
        if CLAIM[i] == CLAIM[k] {
            k += 1;
        }
        table[i] = k;
        i += 1;
    }
    table
};

/// Finds every `uniqueCount = "digits"` (or `'digits'`) in a byte stream and keeps
/// the largest number, saturating; works across the chunks it is written in.
#[derive(Debug, Default)]
struct ClaimScanner {
    /// Bytes of [`CLAIM`] matched so far.
    matched: usize,
    state: ClaimState,
    largest: Option<u128>,
}

#[derive(Debug, Default, Clone, Copy)]
enum ClaimState {
    #[default]
    Name,
    /// The name was found; waiting for `=`.
    Equals,
    /// Waiting for the opening quote.
    Quote,
    /// Inside the value, opened by `quote`.
    Digits { quote: u8, value: u128, digits: bool, plus: bool },
}

impl ClaimScanner {
    fn byte(&mut self, b: u8) {
        match self.state {
            ClaimState::Name => {
                // Knuth-Morris-Pratt: a failed match falls back to the longest prefix
                // of CLAIM that is also a suffix of what was matched.
                while self.matched > 0 && CLAIM[self.matched] != b {
                    self.matched = FALLBACK[self.matched - 1];
                }
                if CLAIM[self.matched] == b {
                    self.matched += 1;
                }
                if self.matched == CLAIM.len() {
                    self.matched = 0;
                    self.state = ClaimState::Equals;
                }
            }
            ClaimState::Equals if b.is_ascii_whitespace() => {}
            ClaimState::Equals if b == b'=' => self.state = ClaimState::Quote,
            ClaimState::Quote if b.is_ascii_whitespace() => {}
            ClaimState::Quote if b == b'"' || b == b'\'' => {
                self.state = ClaimState::Digits { quote: b, value: 0, digits: false, plus: false }
            }
            ClaimState::Digits { quote, value, digits, plus } => match b {
                b'0'..=b'9' => {
                    let value = value.saturating_mul(10).saturating_add(u128::from(b - b'0'));
                    self.state = ClaimState::Digits { quote, value, digits: true, plus };
                }
                b'+' if !digits && !plus => self.state = ClaimState::Digits { quote, value, digits, plus: true },
                _ => {
                    if b == quote && digits {
                        self.largest = self.largest.max(Some(value));
                    }
                    self.state = ClaimState::Name;
                    self.byte(b);
                }
            },
            ClaimState::Equals | ClaimState::Quote => {
                self.state = ClaimState::Name;
                self.byte(b);
            }
        }
    }
}

impl std::io::Write for ClaimScanner {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            // Between claims, only a 'u' can start one: skip to it at memchr's speed.
            if matches!(self.state, ClaimState::Name) && self.matched == 0 {
                match memchr::memchr(CLAIM[0], rest) {
                    Some(at) => rest = &rest[at..],
                    None => break,
                }
            }
            self.byte(rest[0]);
            rest = &rest[1..];
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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
        // A number past Excel's last date (9999-12-31, serial 2,958,465) in a cell
        // formatted as a date shows as `########`: it is no date, but the number (a
        // phone column given a date format).
        DataRef::DateTime(dt) if dt.as_f64() >= 2_958_466.0 => convert(&DataRef::Float(dt.as_f64())),
        DataRef::DateTime(dt) => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            // A time of day alone (a serial under one day) is shown as the time.
            if (0.0..1.0).contains(&dt.as_f64()) && (h, mi, s) != (0, 0, 0) {
                return Cell::Date(format!("{h:02}:{mi:02}:{s:02}"));
            }
            if (h, mi, s) == (0, 0, 0) {
                Cell::Date(format!("{y:04}-{mo:02}-{d:02}"))
            } else {
                Cell::Date(format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"))
            }
        }
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::Date(s.clone()),
        // As the spreadsheet shows it: `#DIV/0!`, `#N/A`.
        DataRef::Error(e) => Cell::Text(e.to_string()),
    }
}

/// Streams the first sheet's rows. A panic while reading (calamine's arithmetic on
/// a hostile cell reference, say) is an unreadable file, not a crash; rows already
/// handed on are then written by nobody, since the reading ends in an error.
pub fn read(
    bytes: &[u8],
    limits: &ImportLimits,
    options: &FileOptions,
    on_size: &mut dyn FnMut(usize),
    on_row: &mut dyn FnMut(SheetRow) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    guarded(|| read_workbook(bytes, limits, options, on_size, on_row))
        .unwrap_or_else(|| Err(ImportError::File("the .xlsx file is corrupt: it could not be read".into())))
}

thread_local! {
    /// Set while this thread runs the workbook reader under `guarded`.
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside the workbook reader, whose panics (on a hostile
/// file) are caught and answered as an unreadable file: the process's panic hook
/// notes them in a line instead of printing a crash.
pub fn reading() -> bool {
    GUARDED.with(std::cell::Cell::get)
}

/// Runs the reader `f`; `None` when it panicked.
fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    let outer = GUARDED.with(|g| g.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok();
    GUARDED.with(|g| g.set(outer));
    result
}

/// The workbook's sheet names, or None when it cannot be opened (within the
/// unpacked-size limit).
pub fn sheet_names(bytes: &[u8], limits: &ImportLimits) -> Option<Vec<String>> {
    guarded(|| {
        check_unpacked_size(bytes, limits.max_unpacked_bytes).ok()?;
        Some(Xlsx::new(Cursor::new(bytes)).ok()?.sheet_names())
    })
    .flatten()
}

fn read_workbook(
    bytes: &[u8],
    limits: &ImportLimits,
    options: &FileOptions,
    on_size: &mut dyn FnMut(usize),
    on_row: &mut dyn FnMut(SheetRow) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    check_unpacked_size(bytes, limits.max_unpacked_bytes)?;
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(xlsx_error)?;
    let names = workbook.sheet_names();
    if names.is_empty() {
        return Err(ImportError::File("the workbook has no sheet".into()));
    }
    let sheet = match options.sheet.as_deref().map(str::trim) {
        Some(wanted) => chosen_sheet(&names, wanted)?,
        None if names.len() == 1 => names[0].clone(),
        None => {
            // An instructions sheet, an empty template or an old list kept hidden
            // before the list is common: the list is the first visible sheet whose
            // first rows name a phone column with a row of data below it; else the
            // first visible one with such a header, the first visible sheet, the first.
            let visible: Vec<String> = workbook
                .sheets_metadata()
                .iter()
                .filter(|s| s.visible == calamine::SheetVisible::Visible)
                .map(|s| s.name.clone())
                .collect();
            let mut headed = None;
            let mut chosen = None;
            for name in &visible {
                match header_of(&mut workbook, name, options.header_row)? {
                    Header::WithData => {
                        chosen = Some(name.clone());
                        break;
                    }
                    Header::Alone => {
                        headed.get_or_insert_with(|| name.clone());
                    }
                    Header::None => {}
                }
            }
            chosen.or(headed).or_else(|| visible.first().cloned()).unwrap_or_else(|| names[0].clone())
        }
    };
    read_sheet(&mut workbook, &sheet, &mut |size| on_size(size), on_row)
}

/// The sheet the `sheet` option names: by name (exactly, else ignoring case), else by
/// position from 1.
pub fn chosen_sheet(names: &[String], wanted: &str) -> Result<String, ImportError> {
    if let Some(name) = names
        .iter()
        .find(|n| n.as_str() == wanted)
        .or_else(|| names.iter().find(|n| n.to_lowercase() == wanted.to_lowercase()))
    {
        return Ok(name.clone());
    }
    match wanted.parse::<usize>() {
        Ok(n) if (1..=names.len()).contains(&n) => Ok(names[n - 1].clone()),
        Ok(n) => Err(ImportError::Option(format!(
            "sheet: the workbook has {} sheet{}; there is no sheet {n}",
            names.len(),
            if names.len() == 1 { "" } else { "s" }
        ))),
        Err(_) => Err(ImportError::Option(format!(
            "sheet: the workbook has no sheet '{wanted}'; its sheets are: {}",
            names.join(", ")
        ))),
    }
}

/// What a sheet's first rows hold.
enum Header {
    None,
    /// A header row with nothing below it: a template, or an instructions table
    /// whose "phone" row describes the column.
    Alone,
    /// A header row, and below it a row with a digit in one of its phone columns.
    WithData,
}

/// Whether `sheet` has a header row (the one `header_row` names, or one of its first
/// [`HEADER_SEARCH_ROWS`] non-empty rows), and data under it: the next non-empty row
/// has a digit in a phone column.
fn header_of(workbook: &mut Xlsx<Cursor<&[u8]>>, sheet: &str, header_row: Option<i64>) -> Result<Header, ImportError> {
    let mut seen = 0usize;
    let mut phones: Option<Vec<usize>> = None;
    let mut data = false;
    let result = read_sheet(workbook, sheet, &mut |_| {}, &mut |row| {
        if row.cells.iter().all(|(_, c)| c.is_empty()) {
            return Ok(());
        }
        if let Some(columns) = &phones {
            data = row
                .cells
                .iter()
                .any(|(c, cell)| columns.contains(c) && cell.text().bytes().any(|b| b.is_ascii_digit()));
            return Err(ImportError::Stopped);
        }
        seen += 1;
        let past = match header_row {
            Some(h) => row.number >= h,
            None => seen >= HEADER_SEARCH_ROWS,
        };
        if header_row.is_none_or(|h| row.number == h)
            && let Some(columns) = header_columns(&row, seen == 1 || header_row.is_some())
        {
            phones = Some(columns.phone_columns());
            return Ok(());
        }
        if past { Err(ImportError::Stopped) } else { Ok(()) }
    });
    match result {
        Ok(()) | Err(ImportError::Stopped) => Ok(match (phones, data) {
            (None, _) => Header::None,
            (Some(_), false) => Header::Alone,
            (Some(_), true) => Header::WithData,
        }),
        Err(e) => Err(e),
    }
}

/// Streams one sheet's rows.
fn read_sheet(
    workbook: &mut Xlsx<Cursor<&[u8]>>,
    sheet: &str,
    on_size: &mut dyn FnMut(usize),
    on_row: &mut dyn FnMut(SheetRow) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let mut reader = workbook.worksheet_cells_reader(sheet).map_err(xlsx_error)?;
    on_size(reader.dimensions().end.0.saturating_sub(reader.dimensions().start.0) as usize + 1);
    let mut current = SheetRow { number: 0, cells: Vec::new(), width: 0 };
    while let Some(cell) = reader.next_cell().map_err(xlsx_error)? {
        let (row, col) = cell.get_position();
        let number = row as i64 + 1;
        if number != current.number {
            if current.number != 0 {
                on_row(std::mem::replace(&mut current, SheetRow { number, cells: Vec::new(), width: 0 }))?;
            }
            current.number = number;
        }
        let value = convert(cell.get_value());
        current.width = current.width.max(col as usize + 1);
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
    use std::io::Write;

    use super::{ClaimScanner, SharedRefs};

    /// A scanner fed `chunks`, one write each.
    fn fed<W: Write + Default>(chunks: &[&str]) -> W {
        let mut scanner = W::default();
        for chunk in chunks {
            scanner.write_all(chunk.as_bytes()).unwrap();
        }
        scanner
    }

    fn shared_refs(chunks: &[&str]) -> Option<String> {
        fed::<SharedRefs>(chunks).bad
    }

    #[test]
    fn a_shared_string_cell_must_name_an_index() {
        let sheet = |cells: &str| format!(r#"<worksheet><sheetData><row r="1">{cells}</row></sheetData></worksheet>"#);
        for fine in [
            r#"<c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>12</v></c>"#,
            r#"<c r="A1"><v>-1</v></c><c r="B1" t="n"><v>abc</v></c><c r="C1" t="str"><f>x</f><v>y</v></c>"#,
            r#"<x:c r="A1" t='s' s="3"><x:v>7</x:v></x:c><c r="B1" t="s"/><c r="C1" t="s"><v></v></c>"#,
        ] {
            assert_eq!(shared_refs(&[&sheet(fine)]), None, "{fine}");
        }
        for (bad, cell, value) in [
            (r#"<c r="A1" t="s"><v>-1</v></c>"#, "A1", "-1"),
            (r#"<c r="B2" t="s"><v>abc</v></c>"#, "B2", "abc"),
            (r#"<c t="s" r="C3"><v>2.0</v></c>"#, "C3", "2.0"),
            (r#"<c r="D4" x=">" t="s"><v> 1</v></c>"#, "D4", " 1"),
            (r#"<c r="E5" t="s"><v>123456789012345678901234567890</v></c>"#, "E5", "12345678901234567890"),
            // Twenty digits past the largest index calamine reads (it would read string 0).
            (r#"<c r="F6" t="s"><v>18446744073709551616</v></c>"#, "F6", "18446744073709551616"),
        ] {
            let want = format!("cell {cell} names shared string '{value}', which is not an index");
            assert_eq!(shared_refs(&[&sheet(bad)]), Some(want.clone()), "{bad}");
            // However the part is cut into chunks.
            let whole = sheet(bad);
            let bytes: Vec<String> = whole.chars().map(String::from).collect();
            let chunks: Vec<&str> = bytes.iter().map(String::as_str).collect();
            assert_eq!(shared_refs(&chunks), Some(want.clone()), "{bad} byte by byte");
            // And cut in two anywhere.
            for cut in (1..whole.len()).filter(|&i| whole.is_char_boundary(i)) {
                assert_eq!(shared_refs(&[&whole[..cut], &whole[cut..]]), Some(want.clone()), "{bad} cut at {cut}");
            }
        }
        let fine = sheet(r#"<c r="A1" t="s"><v>0</v></c><c r="B1"><v>-1</v></c><c r="C1" t="s"><v>3</v></c>"#);
        for cut in 1..fine.len() {
            assert_eq!(shared_refs(&[&fine[..cut], &fine[cut..]]), None, "cut at {cut}");
        }
    }

    #[test]
    fn error_cells_read_as_the_spreadsheet_shows_them() {
        use calamine::{CellErrorType, DataRef};
        for (e, text) in
            [(CellErrorType::Div0, "#DIV/0!"), (CellErrorType::NA, "#N/A"), (CellErrorType::Value, "#VALUE!")]
        {
            assert_eq!(super::convert(&DataRef::Error(e)), super::Cell::Text(text.into()));
        }
    }

    fn largest_claim(chunks: &[&str]) -> Option<u128> {
        fed::<ClaimScanner>(chunks).largest
    }

    #[test]
    fn every_unique_count_claim_in_the_part_is_seen() {
        let claim = |xml: &str| largest_claim(&[xml]);
        assert_eq!(claim(r#"<?xml version="1.0"?><sst xmlns="x" count="4" uniqueCount="3"><si>"#), Some(3));
        assert_eq!(claim(r#"<x:sst uniqueCount = '12'>"#), Some(12));
        assert_eq!(claim(r#"<sst uniqueCount="+0007">"#), Some(7));
        assert_eq!(claim(r#"<sst uniqueCount="99999999999999999999999999999999999999999999">"#), Some(u128::MAX));
        assert_eq!(claim(r#"<sst count="3"><si>"#), None);
        assert_eq!(claim(r#"<sst uniqueCount="many">"#), None);
        // Decoys do not hide the real claim: the largest one counts.
        assert_eq!(claim(r#"<!-- <sst uniqueCount="1"> --><sst uniqueCount="99">"#), Some(99));
        assert_eq!(claim(r#"<sst a="uniqueCount='1'" uniqueCount="99">"#), Some(99));
        assert_eq!(claim(r#"<sst a=">" uniqueCount="99">"#), Some(99));
        assert_eq!(claim(r#"<a:b:sst uniqueCount="1"/><sst uniqueCount="99">"#), Some(99));
        assert_eq!(claim(r#"<sst uniquuniqueCount="42">"#), Some(42));
        assert_eq!(claim(r#"<sst uniqueCouniqueCount="43">"#), Some(43));
        // However far into the part, and across the chunks it arrives in.
        let padding = format!("<!--{}-->", " ".repeat(200_000));
        assert_eq!(largest_claim(&[&padding, r#"<sst uniqueCo"#, r#"unt=""#, r#"9"#, r#"9">"#]), Some(99));
    }
}
