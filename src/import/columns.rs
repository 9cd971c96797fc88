//! Finding columns by header, case- and accent-insensitively, in English and
//! Vietnamese; every other column becomes a custom field.

use serde_json::{Map, Value};

use super::{Cell, ImportError, SheetRow};
use crate::domain::customer::{InvalidRow, NewCustomer, Source};
use crate::domain::phone::{self, Region};
use crate::domain::text::fold;

const ID: &[&str] = &["id", "crmid", "ma", "makh", "makhachhang", "contactid"];
const NAME: &[&str] =
    &["name", "hoten", "hovaten", "ten", "fullname", "tenkhachhang", "khachhang", "customername", "contactname"];
/// Phone headers; a trailing number (phone2, số điện thoại 2) is another phone column.
const PHONE: &[&str] = &[
    "phone",
    "phones",
    "sodienthoai",
    "sdt",
    "dienthoai",
    "mobile",
    "didong",
    "phonenumber",
    "tel",
    "telephone",
    "sodt",
    "sodidong",
    "dienthoaididong",
    "dtdd",
    "sdtkhachhang",
    "sodienthoaikhachhang",
    "mobilephone",
    "mobileno",
    "mobilenumber",
    "cellphone",
    "cell",
    "phoneno",
    "homephone",
    "workphone",
    "businessphone",
    "otherphone",
    "primaryphone",
];
const EMAIL: &[&str] = &["email", "mail"];
/// Parts of a name in columns of their own ("Họ | Tên", "First Name | Last Name"):
/// joined in column order when the file has no full-name column.
const NAME_PART: &[&str] =
    &["ho", "holot", "hodem", "tendem", "firstname", "givenname", "middlename", "lastname", "familyname", "surname"];

/// Blank header cells after a phone column that are taken as more phone columns (a
/// merged "Số điện thoại" header); a wider gap is not a merged header.
const MERGED_PHONE_COLUMNS: usize = 16;

/// What a column holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    Id,
    Name,
    /// A part of the name ([`NAME_PART`]).
    NamePart,
    Phone,
    Email,
    /// A custom field, keyed by the header as written.
    Field(String),
}

/// The header row's columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    pub roles: Vec<(usize, Role)>,
}

/// A header folded to its letters and digits: "Số điện thoại 2" -> "sodienthoai2".
fn key(header: &str) -> String {
    fold(header).chars().filter(|c| c.is_alphanumeric()).collect()
}

fn role_of(header: &str) -> Option<Role> {
    role_of_key(&key(header)).or_else(|| {
        // A note in parentheses after the name: "Số điện thoại (bắt buộc)", "Email (nếu có)".
        let (name, note) = header.trim_end().strip_suffix(')')?.rsplit_once('(')?;
        (!note.contains('(')).then(|| role_of_key(&key(name))).flatten()
    })
}

fn role_of_key(k: &str) -> Option<Role> {
    if ID.contains(&k) {
        return Some(Role::Id);
    }
    if NAME.contains(&k) {
        return Some(Role::Name);
    }
    if NAME_PART.contains(&k) {
        return Some(Role::NamePart);
    }
    if EMAIL.contains(&k) {
        return Some(Role::Email);
    }
    // "phone2", "số điện thoại 2": a short number; "Điện thoại: 028 3822 1234" in a
    // letterhead is not a header.
    let base = k.trim_end_matches(|c: char| c.is_ascii_digit());
    if k.len() - base.len() <= 2 && PHONE.contains(&base) {
        return Some(Role::Phone);
    }
    // Google Contacts' "Phone 1 - Value" (its "Phone 1 - Type" says Mobile or Work).
    let numbered = k.strip_prefix("phone").and_then(|rest| rest.strip_suffix("value"));
    if numbered.is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit())) {
        return Some(Role::Phone);
    }
    None
}

/// Whether a text is a calendar date as spreadsheets export one: `YYYY-MM-DD`, or
/// day, month and year (either way round) joined by `-` or `.` (`12-05-2023`,
/// `12.05.2023`), with a month of 1–12, a day of 1–31 and a year of 1900–2100. (With
/// `/` it splits into numbers too short to be phones.)
fn written_date(text: &str) -> bool {
    let text = text.trim();
    let Some(sep) = text.chars().find(|c| *c == '-' || *c == '.') else { return false };
    let parts: Vec<&str> = text.split(sep).collect();
    let number = |p: &str, len: std::ops::RangeInclusive<usize>| {
        (len.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse::<u32>().ok()).flatten()
    };
    let (year, a, b) = match parts.as_slice() {
        [y, m, d] if sep == '-' && y.len() == 4 => (number(y, 4..=4), number(m, 1..=2), number(d, 1..=2)),
        [a, b, y] => (number(y, 4..=4), number(a, 1..=2), number(b, 1..=2)),
        _ => return false,
    };
    match (year, a, b) {
        (Some(y), Some(a), Some(b)) => {
            (1900..=2100).contains(&y) && (1..=31).contains(&a) && (1..=31).contains(&b) && (a <= 12 || b <= 12)
        }
        _ => false,
    }
}

/// A custom field's role, keyed by its header as written (composed, so that a header
/// typed decomposed is the key its composed spelling is); a header that an earlier
/// column's field has already is numbered ("Ghi chú 2"), so that no column's cells
/// overwrite another's.
fn field_role(before: &[(usize, Role)], header: &str) -> Role {
    let header: String = unicode_normalization::UnicodeNormalization::nfc(header).collect();
    let taken = |k: &str| before.iter().any(|(_, r)| matches!(r, Role::Field(f) if f == k));
    if !taken(&header) {
        return Role::Field(header);
    }
    let n = (2..).find(|n| !taken(&format!("{header} {n}"))).unwrap_or(2);
    Role::Field(format!("{header} {n}"))
}

/// The spreadsheet letter of a 0-based column: 0 -> A, 27 -> AB.
pub fn column_letter(mut col: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

impl Columns {
    /// The columns that hold phones.
    pub fn phone_columns(&self) -> Vec<usize> {
        self.roles.iter().filter(|(_, r)| *r == Role::Phone).map(|(c, _)| *c).collect()
    }

    /// Reads the header row. A blank header cell right after a phone column (a merged
    /// "Số điện thoại" header over two columns) is another phone column; other blank
    /// headers name their column by its letter. No phone column: r=8 naming the headers.
    pub fn from_header(row: &SheetRow) -> Result<Columns, ImportError> {
        // Cells arrive by column; sort anyway, and never allocate by the widest
        // column a hostile file may claim.
        let mut cells: Vec<(usize, &str)> = row.cells.iter().map(|(c, cell)| (*c, cell.text().trim())).collect();
        cells.sort_by_key(|(c, _)| *c);
        let mut roles: Vec<(usize, Role)> = Vec::with_capacity(cells.len());
        let mut seen_single: Vec<Role> = Vec::new();
        for (col, header) in cells {
            if header.is_empty() {
                continue;
            }
            // Blank headers between a phone column and this one are more phone columns.
            if let Some(&(prev, Role::Phone)) = roles.last() {
                let blanks = (prev + 1..col).take(MERGED_PHONE_COLUMNS);
                roles.extend(blanks.map(|c| (c, Role::Phone)).collect::<Vec<_>>());
            }
            let role = match role_of(header) {
                // A second id, name or email column is kept as a custom field.
                Some(r) if !matches!(r, Role::Phone | Role::NamePart) && seen_single.contains(&r) => {
                    field_role(&roles, header)
                }
                Some(r) => {
                    seen_single.push(r.clone());
                    r
                }
                None => field_role(&roles, header),
            };
            if roles.last().is_some_and(|(c, _)| *c >= col) {
                continue;
            }
            roles.push((col, role));
        }
        // Name parts make the name where no column holds it whole; "Tên" beside "Họ" is
        // the given name. With a full-name column they are custom fields.
        if roles.iter().any(|(_, r)| *r == Role::NamePart) {
            let given = |header: &str| key(header) == "ten";
            let header_of = |col: usize| {
                row.cells
                    .iter()
                    .find(|(c, _)| *c == col)
                    .map(|(_, cell)| cell.text().trim().to_string())
                    .unwrap_or_default()
            };
            let whole = roles.iter().any(|(c, r)| *r == Role::Name && !given(&header_of(*c)));
            for i in 0..roles.len() {
                let (col, role) = (roles[i].0, roles[i].1.clone());
                match role {
                    Role::Name if !whole => roles[i].1 = Role::NamePart,
                    Role::NamePart if whole => roles[i].1 = field_role(&roles[..i], &header_of(col)),
                    _ => {}
                }
            }
        }
        // A merged phone header over the last columns: its blank cells end the row.
        if let Some(&(last, Role::Phone)) = roles.last() {
            roles.extend((last + 1..row.width).take(MERGED_PHONE_COLUMNS).map(|c| (c, Role::Phone)));
        }
        if !roles.iter().any(|(_, r)| *r == Role::Phone) {
            let mut headers: Vec<(usize, &str)> =
                row.cells.iter().map(|(c, cell)| (*c, cell.text().trim())).filter(|(_, h)| !h.is_empty()).collect();
            headers.sort_by_key(|(c, _)| *c);
            let seen: Vec<&str> = headers.into_iter().map(|(_, h)| h).collect();
            return Err(ImportError::File(format!(
                "no phone column found; the header row has: {}",
                if seen.is_empty() { "no names".to_string() } else { seen.join(", ") }
            )));
        }
        Ok(Columns { roles })
    }

    /// The role of a column: `roles` is in column order, so a row of a million cells
    /// costs a million binary searches, not a million scans of the header.
    fn role(&self, col: usize) -> std::borrow::Cow<'_, Role> {
        match self.roles.binary_search_by_key(&col, |(c, _)| *c) {
            Ok(i) => std::borrow::Cow::Borrowed(&self.roles[i].1),
            Err(_) => std::borrow::Cow::Owned(Role::Field(format!("column {}", column_letter(col)))),
        }
    }

    /// A data row as an entry, or the reason it cannot be one.
    pub fn entry(&self, row: SheetRow, region: &Region, source: Source) -> Result<NewCustomer, InvalidRow> {
        let mut id = None;
        let mut name = None;
        let mut email = String::new();
        let mut fields = Map::new();
        let mut phones = phone::Phones::default();
        for (col, cell) in row.cells {
            if cell.is_empty() {
                continue;
            }
            let is_date = matches!(cell, Cell::Date(_));
            // Cells arrive trimmed from both readers.
            let text = cell.into_text();
            match &*self.role(col) {
                Role::Id => id = Some(text),
                Role::Name => name = Some(text),
                Role::NamePart => match &mut name {
                    Some(so_far) => {
                        so_far.push(' ');
                        so_far.push_str(&text);
                    }
                    None => name = Some(text),
                },
                // A date cell, or a date written out in a text cell (a CSV export's
                // "2023-05-12" or "12.05.2023"), is never a phone, whatever its digits.
                Role::Phone if is_date || written_date(&text) => {
                    phones.invalid.push(text.clone());
                    phones.bad_cells.push(text);
                }
                Role::Phone => phone::add_cell(&mut phones, &text, region),
                Role::Email if crate::domain::contact::looks_like_email(&text) => email = text,
                Role::Email => {
                    fields.insert("email".into(), Value::String(text));
                }
                Role::Field(key) => {
                    fields.insert(key.clone(), Value::String(text));
                }
            }
        }
        if let Some(reason) = id.as_deref().and_then(crate::domain::ids::crm_id_problem) {
            return Err(InvalidRow { row: row.number, id, reason });
        }
        if let Some(reason) = phones.too_many() {
            return Err(InvalidRow { row: row.number, id, reason });
        }
        if phones.valid.is_empty() {
            let reason = if phones.invalid.is_empty() {
                // With an id, the CRM contact's phones may still be used.
                if id.is_some() {
                    return Ok(NewCustomer {
                        row: row.number,
                        crm_id: id,
                        name,
                        phones: Vec::new(),
                        dropped_phones: Vec::new(),
                        fields,
                        email,
                        source,
                        name_key: None,
                    });
                }
                "no phone".to_string()
            } else {
                format!("no valid phone: {}", phones.bad_cells.join(", "))
            };
            return Err(InvalidRow { row: row.number, id, reason });
        }
        Ok(NewCustomer {
            row: row.number,
            crm_id: id,
            name,
            phones: phones.valid,
            dropped_phones: phones.invalid,
            fields,
            email,
            source,
            name_key: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> SheetRow {
        SheetRow {
            number: 1,
            cells: names
                .iter()
                .enumerate()
                .filter(|(_, n)| !n.is_empty())
                .map(|(i, n)| (i, Cell::Text(n.to_string())))
                .collect(),
            width: names.len(),
        }
    }

    #[test]
    fn name_parts_make_the_name_and_a_repeated_header_keeps_both_columns() {
        let cols = Columns::from_header(&header(&["STT", "Họ", "Tên", "Số điện thoại", "Ghi chú", "Ghi chú"])).unwrap();
        assert_eq!(
            cols.roles,
            [
                (0, Role::Field("STT".into())),
                (1, Role::NamePart),
                (2, Role::NamePart),
                (3, Role::Phone),
                (4, Role::Field("Ghi chú".into())),
                (5, Role::Field("Ghi chú 2".into())),
            ]
        );
        let mut row = header(&["1", "Nguyễn Văn", "An", "0912000021", "ghi chú 1", "ghi chú 2"]);
        row.number = 2;
        let entry = cols.entry(row, &Region::parse("VN").unwrap(), Source::File).unwrap();
        assert_eq!(entry.name.as_deref(), Some("Nguyễn Văn An"));
        assert_eq!(entry.fields.get("Ghi chú 2"), Some(&Value::String("ghi chú 2".into())));
        // With a full-name column, the parts are custom fields; "Tên" alone is the name.
        let cols = Columns::from_header(&header(&["Họ tên", "Họ", "Phone"])).unwrap();
        assert_eq!(cols.roles, [(0, Role::Name), (1, Role::Field("Họ".into())), (2, Role::Phone)]);
        let cols = Columns::from_header(&header(&["Tên", "Phone"])).unwrap();
        assert_eq!(cols.roles, [(0, Role::Name), (1, Role::Phone)]);
        // A header typed decomposed is the key its composed spelling is.
        let cols = Columns::from_header(&header(&["Phone", "Ghi chu\u{301}"])).unwrap();
        assert_eq!(cols.roles[1], (1, Role::Field("Ghi chú".into())));
    }

    #[test]
    fn more_phone_headers_and_notes_in_parentheses_are_read() {
        for h in [
            "Số di động",
            "Điện thoại di động",
            "ĐTDĐ",
            "SĐT khách hàng",
            "Mobile Phone",
            "Cell phone",
            "Mobile No",
            "Số điện thoại\n(bắt buộc)",
            "Phone (required)",
            "Business Phone",
            "Home Phone",
            "Phone 1 - Value",
            "Phone 2 - Value",
        ] {
            assert_eq!(role_of(h), Some(Role::Phone), "{h}");
        }
        assert_eq!(role_of("Email (nếu có)"), Some(Role::Email));
        assert_eq!(role_of("Số di động, bắt đầu bằng 0"), None);
        assert_eq!(role_of("Ghi chú (khác)"), None);
        assert_eq!(role_of("Phone 1 - Type"), None);
    }

    #[test]
    fn dates_written_out_are_told_from_phones() {
        for d in ["2023-05-12", "12-05-2023", "12.05.2023", "5-12-2023", "05.31.1999"] {
            assert!(written_date(d), "{d}");
        }
        for p in ["0976.555.406", "028-3822-1234", "0901-234-567", "20230512", "13-13-2023", "12-05-3023", "2023-05"] {
            assert!(!written_date(p), "{p}");
        }
    }

    #[test]
    fn headers_are_found_in_english_and_vietnamese() {
        let cols =
            Columns::from_header(&header(&["Mã", "Họ và tên", "Số điện thoại", "SĐT 2", "E-mail", "Ghi chú"])).unwrap();
        assert_eq!(
            cols.roles,
            [
                (0, Role::Id),
                (1, Role::Name),
                (2, Role::Phone),
                (3, Role::Phone),
                (4, Role::Email),
                (5, Role::Field("Ghi chú".into()))
            ]
        );
        let cols = Columns::from_header(&header(&["CRM_ID", "Full Name", "Mobile", "Phone2", "Di động"])).unwrap();
        assert_eq!(cols.roles.iter().filter(|(_, r)| *r == Role::Phone).count(), 3);
    }

    #[test]
    fn a_blank_header_after_a_phone_column_is_a_phone_column() {
        let cols = Columns::from_header(&header(&["Tên", "Điện thoại", "", "", "Note"])).unwrap();
        assert_eq!(
            cols.roles,
            [(0, Role::Name), (1, Role::Phone), (2, Role::Phone), (3, Role::Phone), (4, Role::Field("Note".into()))]
        );
    }

    #[test]
    fn blank_header_cells_after_a_last_phone_column_are_phone_columns() {
        let cols = Columns::from_header(&header(&["Tên", "Điện thoại", "", ""])).unwrap();
        assert_eq!(cols.roles, [(0, Role::Name), (1, Role::Phone), (2, Role::Phone), (3, Role::Phone)]);
        // Past the header row's last cell, a cell is under no header.
        assert_eq!(*cols.role(4), Role::Field("column E".into()));
        let cols = Columns::from_header(&header(&["Tên", "Điện thoại"])).unwrap();
        assert_eq!(*cols.role(2), Role::Field("column C".into()));
    }

    #[test]
    fn no_phone_column_names_the_headers() {
        let err = Columns::from_header(&header(&["Tên", "Email"])).unwrap_err();
        assert_eq!(err, ImportError::File("no phone column found; the header row has: Tên, Email".into()));
    }

    #[test]
    fn rows_become_entries() {
        let cols = Columns::from_header(&header(&["id", "name", "phone", "phone 2", "city"])).unwrap();
        let row = SheetRow {
            width: 7,
            number: 7,
            cells: vec![
                (0, Cell::Number("12345".into())),
                (1, Cell::Text("Đài".into())),
                (2, Cell::Number("912345678".into())),
                (3, Cell::Date("2024-01-02".into())),
                (4, Cell::Text("Huế".into())),
                (6, Cell::Text("stray".into())),
            ],
        };
        let e = cols.entry(row, &Region::vietnam(), Source::File).unwrap();
        assert_eq!(e.row, 7);
        assert_eq!(e.crm_id.as_deref(), Some("12345"));
        assert_eq!(e.phones, ["84912345678"]);
        assert_eq!(e.dropped_phones, ["2024-01-02"]);
        assert_eq!(e.fields["city"], "Huế");
        assert_eq!(e.fields["column G"], "stray");
    }

    #[test]
    fn letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }
}
