//! Phone numbers as callsheet stores them: E.164 digits without `+` (CONTRACT §6).
//!
//! A number is kept when its length is possible for its country (libphonenumber's
//! "possible number" test); prefixes are deliberately not checked, because call lists
//! mix old and new numbering plans.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use phonenumber::metadata::DATABASE;

/// A country whose numbering plan applies to numbers written without `+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// ISO 3166 alpha-2, upper case.
    pub code: String,
    country_code: u16,
    national_prefix: Option<String>,
    /// What numbers dialled abroad from here start with (`00`; `011` from the US):
    /// libphonenumber's international prefix for the region when it is one string
    /// of digits, else its preferred one.
    idd: Option<String>,
}

impl Region {
    /// Parses an ISO 3166 alpha-2 code that libphonenumber knows (`VN`, `us`, ...).
    pub fn parse(code: &str) -> Result<Region, String> {
        let upper = code.trim().to_ascii_uppercase();
        if upper.len() != 2 || !upper.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!("region '{code}' is not an ISO 3166 alpha-2 code"));
        }
        let meta =
            DATABASE.by_id(upper.as_str()).ok_or_else(|| format!("region '{code}' has no telephone numbering plan"))?;
        Ok(Region {
            country_code: meta.country_code(),
            code: upper,
            national_prefix: meta.national_prefix().map(str::to_string),
            idd: [meta.international_prefix().map(|p| p.as_str()), meta.preferred_international_prefix()]
                .into_iter()
                .flatten()
                .find(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_string),
        })
    }

    pub fn vietnam() -> Region {
        Region {
            code: "VN".into(),
            country_code: vn::COUNTRY_CODE,
            national_prefix: Some("0".into()),
            idd: Some("00".into()),
        }
    }

    pub fn country_code(&self) -> u16 {
        self.country_code
    }
}

/// The numbers found in one cell or field: those kept and those refused, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Phones {
    pub valid: Vec<String>,
    pub invalid: Vec<String>,
    /// Cells, whole as written, that held no possible number: what a row's reason
    /// names (a cell "N/A" is one bad cell, not the numbers "N" and "A").
    pub bad_cells: Vec<String>,
}

impl Phones {
    /// Adds a normalized number unless the list already holds it.
    fn push_valid(&mut self, phone: String) {
        if !self.valid.contains(&phone) {
            self.valid.push(phone);
        }
    }
}

/// Splits a cell on `,` `;` `/` and newlines and normalizes every number in it.
pub fn parse_cell(cell: &str, region: &Region) -> Phones {
    let mut phones = Phones::default();
    add_cell(&mut phones, cell, region);
    phones
}

/// Like [`parse_cell`], for several cells that make up one contact's phones.
pub fn parse_cells<'a>(cells: impl IntoIterator<Item = &'a str>, region: &Region) -> Phones {
    let mut phones = Phones::default();
    for cell in cells {
        add_cell(&mut phones, cell, region);
    }
    phones
}

/// Adds every number of one cell to `phones`.
pub fn add_cell(phones: &mut Phones, cell: &str, region: &Region) {
    let (mut good, mut bad) = (false, false);
    for part in cell.split([',', ';', '/', '\n', '\r']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        match normalize(part, region) {
            Some(p) => {
                good = true;
                phones.push_valid(p)
            }
            None => {
                bad = true;
                phones.invalid.push(part.to_string())
            }
        }
    }
    if bad && !good {
        phones.bad_cells.push(cell.trim().to_string());
    }
}

/// Normalizes one number to E.164 digits, or `None` when it is not a possible number.
pub fn normalize(raw: &str, region: &Region) -> Option<String> {
    if region.country_code == vn::COUNTRY_CODE && region.code == "VN" {
        vn::normalize(raw)
    } else {
        normalize_general(raw, region)
    }
}

/// The general path: any region, driven by libphonenumber's metadata. The Vietnam
/// fast path must agree with it on every input (see the property test).
pub fn normalize_general(raw: &str, region: &Region) -> Option<String> {
    let raw = raw.trim();
    // A numeric spreadsheet cell arrives as `84901234567.0`.
    let raw = strip_numeric_fraction(raw);
    let (international, digits) = clean(raw)?;
    if digits.is_empty() || digits.len() > 17 {
        return None;
    }
    if international {
        return international_to_e164(digits);
    }
    // The number as dialled abroad from the region: `00` from Vietnam, `011` from the US.
    if let Some(idd) = &region.idd
        && let Some(rest) = digits.strip_prefix(idd.as_str())
        && let Some(e164) = international_to_e164(rest.to_string())
    {
        return Some(e164);
    }
    national_to_e164(&digits, region)
}

/// International digits as E.164: the country code and a possible national number.
/// A trunk prefix written after the country code (`+84 (0) 90…`) comes off, as
/// libphonenumber takes it off: national numbers of the countries that have one
/// never start with it.
fn international_to_e164(digits: String) -> Option<String> {
    // No country calling code starts with 0.
    if digits.starts_with('0') {
        return None;
    }
    let (cc, national) = split_country_code(&digits)?;
    // Only a trunk 0 (most plans' prefix) is taken off: a number of its country never
    // starts with it. Other prefixes (8 in Belarus) can begin a number, which
    // libphonenumber then tells by its patterns.
    if TRUNK_ZERO.contains(&cc)
        && let Some(rest) = national.strip_prefix('0')
        && is_possible(cc, rest)
    {
        return Some(format!("{cc}{rest}"));
    }
    is_possible(cc, national).then_some(digits)
}

/// The country codes whose main region's trunk prefix is 0.
static TRUNK_ZERO: LazyLock<HashSet<u16>> = LazyLock::new(|| {
    let mut codes = HashSet::new();
    // The main region of a shared code wins; a code with one region has no main.
    let mut mains: Vec<_> = every_plan().collect();
    mains.sort_by_key(|m| m.is_main_country_for_code());
    for meta in mains {
        match meta.national_prefix() == Some("0") {
            true => codes.insert(meta.country_code()),
            false => codes.remove(&meta.country_code()),
        };
    }
    codes
});

/// A numeric spreadsheet cell (`84901234567.0`, `+84901234567.0`) without its zero fraction.
fn strip_numeric_fraction(raw: &str) -> &str {
    let Some((int, frac)) = raw.split_once('.') else {
        return raw;
    };
    let digits = int.strip_prefix('+').unwrap_or(int);
    let numeric = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !frac.is_empty()
        && frac.bytes().all(|b| b == b'0');
    if numeric { int } else { raw }
}

/// A decimal digit of another script (full-width, Arabic-Indic) as ASCII, as
/// libphonenumber reads them.
fn ascii_digit(c: char) -> Option<char> {
    let zero = match c {
        '0'..='9' => return Some(c),
        '\u{ff10}'..='\u{ff19}' => 0xff10,
        '\u{0660}'..='\u{0669}' => 0x0660,
        '\u{06f0}'..='\u{06f9}' => 0x06f0,
        _ => return None,
    };
    char::from_digit(c as u32 - zero, 10)
}

/// Drops separators; refuses letters and other symbols. Returns whether the number
/// was written in international form (`+` or `00`... is left to the country rules).
fn clean(raw: &str) -> Option<(bool, String)> {
    let mut international = false;
    let mut digits = String::with_capacity(raw.len());
    for c in raw.chars() {
        if let Some(d) = ascii_digit(c) {
            digits.push(d);
            continue;
        }
        match c {
            // A plus before the first digit, as in `(+84) 90…`.
            '+' | '\u{ff0b}' if digits.is_empty() && !international => international = true,
            c if is_separator(c) => {}
            _ => return None,
        }
    }
    Some((international, digits))
}

/// Punctuation inside a number, as libphonenumber ignores it: spaces, dots,
/// parentheses and brackets, and the dashes of every script.
fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '.' | '-' | '(' | ')' | '[' | ']' | '\t' | '\u{a0}' | '\u{ad}' | '\u{200b}' | '\u{2060}' | '\u{3000}'
            | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30fc}' | '\u{ff0d}' | '\u{ff08}' | '\u{ff09}' | '\u{ff3b}'
            | '\u{ff3d}' | '\u{ff0e}' | '\u{2000}'..='\u{200a}'
    )
}

/// Splits a leading country calling code (1 to 3 digits) off international digits.
fn split_country_code(digits: &str) -> Option<(u16, &str)> {
    (1..=3.min(digits.len())).find_map(|n| {
        let cc: u16 = digits[..n].parse().ok()?;
        DATABASE.region(&cc).map(|_| (cc, &digits[n..]))
    })
}

fn national_to_e164(digits: &str, region: &Region) -> Option<String> {
    let cc = region.country_code;
    let cc_text = cc.to_string();
    // A national prefix (trunk 0 in most plans) comes off first.
    if let Some(p) = region.national_prefix.as_deref()
        && let Some(rest) = digits.strip_prefix(p)
        && is_possible(cc, rest)
    {
        return Some(format!("{cc_text}{rest}"));
    }
    // The country code written without `+`, when the remainder is possible and the
    // whole is not; a national prefix after it comes off too (`840901…`), as
    // libphonenumber takes it off.
    if let Some(rest) = digits.strip_prefix(cc_text.as_str())
        && !is_possible(cc, digits)
    {
        let national = match region.national_prefix.as_deref() {
            Some(p) => rest.strip_prefix(p).filter(|n| is_possible(cc, n)).unwrap_or(rest),
            None => rest,
        };
        if is_possible(cc, national) {
            return Some(format!("{cc_text}{national}"));
        }
    }
    // Otherwise the national number itself, as when a spreadsheet dropped the leading 0.
    is_possible(cc, digits).then(|| format!("{cc_text}{digits}"))
}

/// The Vietnam fast path: the same rules as the general path with the plan's
/// constants inlined, no allocation but the result, and no table lookups.
mod vn {
    pub const COUNTRY_CODE: u16 = 84;
    /// Possible national lengths (a unit test checks them against the metadata).
    pub const LENGTHS: [u16; 4] = [7, 8, 9, 10];
    /// More digits than any E.164 number has.
    const MAX_DIGITS: usize = 17;

    const SHORTEST: usize = LENGTHS[0] as usize;
    const LONGEST: usize = LENGTHS[LENGTHS.len() - 1] as usize;

    /// The lengths are contiguous (a unit test checks), so a range test is exact.
    fn possible(len: usize) -> bool {
        (SHORTEST..=LONGEST).contains(&len)
    }

    fn with_cc(national: &[u8]) -> String {
        let mut out = String::with_capacity(national.len() + 2);
        out.push_str("84");
        // The bytes are ASCII digits.
        out.extend(national.iter().map(|&b| b as char));
        out
    }

    /// International digits: Vietnam's here (its trunk 0 after the country code
    /// taken off), any other country's by the general rules.
    fn abroad(digits: &[u8]) -> Option<String> {
        match digits {
            [b'8', b'4', b'0', rest @ ..] if possible(rest.len()) => Some(with_cc(rest)),
            [b'8', b'4', rest @ ..] => possible(rest.len()).then(|| with_cc(rest)),
            _ => super::international_to_e164(digits.iter().map(|&b| b as char).collect()),
        }
    }

    pub fn normalize(raw: &str) -> Option<String> {
        let raw = super::strip_numeric_fraction(raw.trim());
        let mut buf = [0u8; MAX_DIGITS];
        let mut len = 0;
        let mut international = false;
        for &b in raw.as_bytes() {
            match b {
                b'0'..=b'9' => {
                    if len == MAX_DIGITS {
                        return None;
                    }
                    buf[len] = b;
                    len += 1;
                }
                b'+' if len == 0 && !international => international = true,
                b' ' | b'.' | b'-' | b'(' | b')' | b'[' | b']' | b'\t' => {}
                // Non-ASCII separators (a no-break space) take the general path.
                _ if !b.is_ascii() => return super::normalize_general(raw, &super::Region::vietnam()),
                _ => return None,
            }
        }
        let digits = &buf[..len];
        if digits.is_empty() {
            return None;
        }
        if international {
            return abroad(digits);
        }
        if let [b'0', b'0', rest @ ..] = digits
            && let Some(e164) = abroad(rest)
        {
            return Some(e164);
        }
        if digits[0] == b'0' && possible(len - 1) {
            return Some(with_cc(&digits[1..]));
        }
        if let [b'8', b'4', rest @ ..] = digits
            && !possible(len)
        {
            match rest {
                [b'0', national @ ..] if possible(national.len()) => return Some(with_cc(national)),
                _ if possible(rest.len()) => return Some(with_cc(rest)),
                _ => {}
            }
        }
        possible(len).then(|| with_cc(digits))
    }
}

/// Loads the numbering plans now, so the first request does not pay for it.
pub fn warm_up() {
    LazyLock::force(&POSSIBLE_LENGTHS);
}

/// libphonenumber's possible-number test: the national number's length is one that
/// the country's plan allows (local-only lengths included).
pub fn is_possible(country_code: u16, national: &str) -> bool {
    if national.is_empty() || !national.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let len = national.len() as u16;
    POSSIBLE_LENGTHS.get(&country_code).is_some_and(|lengths| lengths.contains(&len))
}

/// Every numbering plan of the metadata, the non-geographic ones included: those of
/// +800, +808, +870, … share the region id `001`, so a walk by region id sees one.
fn every_plan() -> impl Iterator<Item = &'static phonenumber::metadata::Metadata> {
    (1..1000u16).filter_map(|code| DATABASE.by_code(&code)).flatten()
}

/// Possible national lengths per country code. libphonenumber derives the general
/// lengths as the union over number types; the metadata this crate ships leaves that
/// union empty, so it is computed here once.
static POSSIBLE_LENGTHS: LazyLock<HashMap<u16, Vec<u16>>> = LazyLock::new(|| {
    let mut by_code: HashMap<u16, Vec<u16>> = HashMap::new();
    for meta in every_plan() {
        let d = meta.descriptors();
        let types = [
            Some(d.general()),
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.personal_number(),
            d.voip(),
            d.pager(),
            d.uan(),
            d.voicemail(),
        ];
        let lengths = by_code.entry(meta.country_code()).or_default();
        for desc in types.into_iter().flatten() {
            lengths.extend(desc.possible_length());
            lengths.extend(desc.possible_local_length());
        }
        lengths.sort_unstable();
        lengths.dedup();
    }
    by_code
});

#[cfg(test)]
mod tests {
    use super::*;

    fn vn(s: &str) -> Option<String> {
        normalize(s, &Region::vietnam())
    }

    #[test]
    fn vietnamese_forms_become_e164() {
        for form in ["0901234567", "84901234567", "+84 901 234 567", "901234567", "84901234567.0"] {
            assert_eq!(vn(form).as_deref(), Some("84901234567"), "{form}");
        }
    }

    /// Forms libphonenumber reads that a list may hold: the international prefix
    /// `00`, a trunk 0 kept after the country code, a numeric cell with a plus,
    /// full-width digits.
    #[test]
    fn forms_libphonenumber_reads() {
        for form in [
            "0084901234567",
            "0084 90 123 4567",
            "+84 (0) 901 234 567",
            "+840901234567",
            "+84901234567.0",
            "０９０１２３４５６７",
            "＋８４９０１２３４５６７",
        ] {
            assert_eq!(vn(form).as_deref(), Some("84901234567"), "{form}");
            assert_eq!(normalize_general(form, &Region::vietnam()).as_deref(), Some("84901234567"), "{form}");
        }
        let gb = Region::parse("GB").unwrap();
        assert_eq!(normalize("+44 (0)20 7946 0958", &gb).as_deref(), Some("442079460958"));
        assert_eq!(normalize("0044 20 7946 0958", &gb).as_deref(), Some("442079460958"));
        assert_eq!(normalize("020 7946 0958", &gb).as_deref(), Some("442079460958"));
        // No country code starts with 0, whatever follows the 00.
        assert_eq!(vn("0001 650 253 0000"), normalize_general("0001 650 253 0000", &Region::vietnam()));
        assert_ne!(vn("0001 650 253 0000").as_deref(), Some("016502530000"));
        // Belarus's trunk prefix is 8, which also begins its free-phone numbers: kept.
        let by = Region::parse("BY").unwrap();
        assert_eq!(normalize("+375 800 123 4567", &by).as_deref(), Some("3758001234567"));
        // Abroad from the US is 011, not 00.
        let us = Region::parse("US").unwrap();
        assert_eq!(normalize("011 44 20 7946 0958", &us).as_deref(), Some("442079460958"));
        assert_eq!(normalize("+1 650 253 0000", &us).as_deref(), Some("16502530000"));
        // Italy has no trunk prefix: its numbers keep their 0.
        assert_eq!(normalize("+39 06 6982 0000", &us).as_deref(), Some("390669820000"));
    }

    /// The country code without `+` and a trunk 0 after it; a plus in parentheses;
    /// dashes of other scripts (each as libphonenumber reads it).
    #[test]
    fn more_forms_libphonenumber_reads() {
        for form in
            ["840901234567", "84 090 1234 567", "84-090-1234567", "(+84) 901234567", "(+84)901234567", "0901–234–567"]
        {
            assert_eq!(vn(form).as_deref(), Some("84901234567"), "{form}");
            assert_eq!(normalize_general(form, &Region::vietnam()).as_deref(), Some("84901234567"), "{form}");
        }
        assert_eq!(vn("(+1) 650 253 0000").as_deref(), Some("16502530000"));
        // Non-geographic numbers: international freephone, Inmarsat.
        assert_eq!(vn("+800 1234 5678").as_deref(), Some("80012345678"));
        assert_eq!(vn("+870 773 111 632").as_deref(), Some("870773111632"));
        assert_eq!(vn("+84 +901234567"), None, "one plus");
    }

    #[test]
    fn old_prefixes_are_kept() {
        assert_eq!(vn("0654521598").as_deref(), Some("84654521598"));
    }

    #[test]
    fn separators_are_ignored() {
        assert_eq!(vn("0976.555.406").as_deref(), Some("84976555406"));
        assert_eq!(vn("(024) 3826-1234").as_deref(), Some("842438261234"));
    }

    #[test]
    fn foreign_numbers_in_international_form() {
        assert_eq!(vn("+1 650 253 0000").as_deref(), Some("16502530000"));
    }

    #[test]
    fn impossible_numbers_are_refused() {
        for bad in ["abc", "0901abc567", "12", "+84 1", "090123456789012", ""] {
            assert_eq!(vn(bad), None, "{bad}");
        }
    }

    #[test]
    fn cells_split_and_collapse_repeats() {
        let p = parse_cell("0901234567, 84901234567;0912345678 / xyz\n0987654321", &Region::vietnam());
        assert_eq!(p.valid, ["84901234567", "84912345678", "84987654321"]);
        assert_eq!(p.invalid, ["xyz"]);
    }

    #[test]
    fn regions_are_checked() {
        assert_eq!(Region::parse("vn").unwrap(), Region::vietnam());
        assert_eq!(Region::parse("US").unwrap().country_code(), 1);
        assert!(Region::parse("XX").is_err());
        assert!(Region::parse("VNM").is_err());
    }
}

#[cfg(test)]
mod agreement {
    //! The Vietnam fast path against the general path, on generated inputs.
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn vietnam_lengths_match_the_metadata() {
        assert_eq!(POSSIBLE_LENGTHS[&84], vn::LENGTHS);
        assert!(vn::LENGTHS.windows(2).all(|w| w[1] == w[0] + 1), "not contiguous");
    }

    fn phone_like() -> impl Strategy<Value = String> {
        let prefix = prop::sample::select(vec!["", "0", "84", "+84", "+84 ", "+", "+1", "+44", "00", "840", "8"]);
        let digits = prop::collection::vec(0u8..10, 0..14);
        let seps = prop::collection::vec(prop::sample::select(vec!["", "", "", " ", ".", "-", "(", ")"]), 14);
        let suffix = prop::sample::select(vec!["", "", ".0", ".00", "x", " ", "\u{a0}", "/"]);
        (prefix, digits, seps, suffix).prop_map(|(prefix, digits, seps, suffix)| {
            let mut s = prefix.to_string();
            for (d, sep) in digits.iter().zip(seps.iter().chain(std::iter::repeat(&""))) {
                s.push((b'0' + d) as char);
                s.push_str(sep);
            }
            s.push_str(suffix);
            s
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn fast_path_agrees_with_the_general_path(raw in phone_like()) {
            prop_assert_eq!(vn::normalize(&raw), normalize_general(&raw, &Region::vietnam()), "{:?}", raw);
        }

        #[test]
        fn fast_path_agrees_on_arbitrary_text(raw in "\\PC{0,20}") {
            prop_assert_eq!(vn::normalize(&raw), normalize_general(&raw, &Region::vietnam()), "{:?}", raw);
        }

        #[test]
        fn every_possible_national_number_is_kept(national in "[1-9][0-9]{6,9}") {
            let want = format!("84{national}");
            for form in [format!("0{national}"), format!("+84{national}"), format!("{national}.0")] {
                prop_assert_eq!(vn::normalize(&form), normalize_general(&form, &Region::vietnam()));
                let got = vn::normalize(&form);
                prop_assert_eq!(got.as_deref(), Some(want.as_str()), "{}", form);
            }
        }
    }
}
