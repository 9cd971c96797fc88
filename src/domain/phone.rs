//! Phone numbers as callsheet stores them: E.164 digits without `+` (CONTRACT §6).
//!
//! A number is kept when its length is possible for its country (libphonenumber's
//! "possible number" test); prefixes are deliberately not checked, because call lists
//! mix old and new numbering plans.

use std::collections::HashMap;
use std::sync::LazyLock;

use phonenumber::metadata::DATABASE;

/// A country whose numbering plan applies to numbers written without `+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// ISO 3166 alpha-2, upper case.
    pub code: String,
    country_code: u16,
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
        Ok(Region { country_code: meta.country_code(), code: upper })
    }

    pub fn vietnam() -> Region {
        Region { code: "VN".into(), country_code: vn::COUNTRY_CODE }
    }

    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The region's plan, as libphonenumber parses numbers written in it.
    fn plan(&self) -> &'static Plan {
        plan_of_region(&self.code).expect("a Region is parsed from a region the metadata has")
    }
}

/// The most numbers one contact or customer holds: a person has a few, and every
/// number is one more entry to look up at each add and hand-out.
pub const MAX_PHONES: usize = 100;

/// The numbers found in one cell or field: those kept and those refused, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Phones {
    pub valid: Vec<String>,
    pub invalid: Vec<String>,
    /// Cells, whole as written, that held no possible number: what a row's reason
    /// names (a cell "N/A" is one bad cell, not the numbers "N" and "A").
    pub bad_cells: Vec<String>,
    /// Valid numbers past [`MAX_PHONES`], counted, not kept.
    pub over: usize,
}

impl Phones {
    /// Adds a normalized number unless the list already holds it.
    fn push_valid(&mut self, phone: String) {
        if self.valid.contains(&phone) {
            return;
        }
        if self.valid.len() < MAX_PHONES {
            self.valid.push(phone);
        } else {
            self.over += 1;
        }
    }

    /// Why the numbers cannot be one contact's: more than [`MAX_PHONES`].
    pub fn too_many(&self) -> Option<String> {
        (self.over > 0).then(|| format!("more than {MAX_PHONES} phones ({})", self.valid.len() + self.over))
    }
}

/// Splits a cell as [`numbers_in`] does and normalizes every number in it.
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

/// The numbers written in one cell or field: split on `,` `;` `/` and newlines, and
/// on `:::`, which Google Contacts' export writes between a field's values
/// (`+84 90 123 4567 ::: +84 91 234 5678`). No number holds a colon: no valid
/// number is split.
pub fn numbers_in(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(":::")
        .flat_map(|part| part.split([',', ';', '/', '\n', '\r']))
        .map(str::trim)
        .filter(|part| !part.is_empty())
}

/// Adds every number of one cell to `phones`.
pub fn add_cell(phones: &mut Phones, cell: &str, region: &Region) {
    let (mut good, mut bad) = (false, false);
    for part in numbers_in(cell) {
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

/// How a phone given as a parameter may be read: as written in the region (first),
/// and, when it is written as callsheet stores and returns phones (E.164 digits
/// without `+`) but reads otherwise in the region, as that stored form too. A
/// parameter that names a phone callsheet gave out (a duplicate's key, a claim's
/// phone, a do-not-call entry) is matched by either: `16502530000` in a Vietnamese
/// account is the US number it was shown as, not an impossible Vietnamese one.
pub fn readings(raw: &str, region: &Region) -> Vec<String> {
    let mut out: Vec<String> = normalize(raw, region).into_iter().collect();
    let written = raw.trim();
    let stored_form = !written.is_empty() && !written.starts_with('0') && written.bytes().all(|b| b.is_ascii_digit());
    if stored_form
        && !out.iter().any(|p| p == written)
        && normalize_general(&format!("+{written}"), region).as_deref() == Some(written)
    {
        out.push(written.to_string());
    }
    out
}

/// Of a phone's readings (at least one), the one that names what is there: the
/// region's, unless only the stored form is `held` (by a customer, a list).
pub fn held_reading(mut readings: Vec<String>, held: impl Fn(&str) -> bool) -> String {
    let pick = usize::from(readings.len() > 1 && !held(&readings[0]) && held(&readings[1]));
    readings.swap_remove(pick)
}

/// Whether text holds a letter, which no phone holds (CONTRACT §6); the dashes some
/// scripts class as letters (`ー`) are separators.
fn has_letter(raw: &str) -> bool {
    raw.chars().any(|c| c.is_alphabetic() && !is_separator(c))
}

/// The beginning of stored phones that a phone prefix written in the region names
/// (`phone:0904*`): after a plus or one of the region's international dialling
/// prefixes, the digits as written; written with the region's own country code, as
/// written; after the region's national prefix (`0` in Vietnam, `8` in Russia), the
/// country code and the rest; otherwise a national number's beginning (Italy's `06…`
/// keeps its 0; the US's `650…`), after the country code.
/// `None` for one with letters or no digit, which no phone begins with.
pub fn prefix(raw: &str, region: &Region) -> Option<String> {
    if has_letter(raw) {
        return None;
    }
    let digits: String = raw.chars().filter_map(ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    if raw.trim_start().starts_with(is_plus) {
        return Some(digits);
    }
    let plan = region.plan();
    if let Some(rest) = plan.strip_idd(&digits) {
        return (!rest.is_empty()).then(|| rest.to_string());
    }
    if digits.starts_with(&plan.cc_text) {
        return Some(digits);
    }
    // The national prefix as written (`0`, `8`, `06`): the parsing patterns, made for
    // whole numbers, can match nothing or a whole local number in a mere beginning.
    if let Some(rest) = plan.trunk.as_deref().and_then(|t| digits.strip_prefix(t)) {
        return Some(format!("{}{rest}", plan.cc));
    }
    Some(format!("{}{digits}", plan.cc))
}

/// libphonenumber refuses longer input outright.
const MAX_INPUT_CHARS: usize = 250;
/// libphonenumber's bounds on a national significant number.
const MIN_NATIONAL: usize = 2;
const MAX_NATIONAL: usize = 17;

/// The general path: any region, as libphonenumber's `parse` followed by its
/// `isPossibleNumber` reads a number (its PhoneNumberUtil, step by step: the leading
/// plus or the region's international dialling prefix, the country code, the
/// region's own country code written without `+`, the national prefix), on the
/// same metadata. Where CONTRACT §6 differs on purpose it says so: letters and
/// extensions are refused, a numeric cell's zero fraction comes off, tabs and the
/// thin spaces are spaces. The Vietnam fast path must agree with it on every input
/// (see the property tests); tests/api/phones.rs runs both against libphonenumber.
pub fn normalize_general(raw: &str, region: &Region) -> Option<String> {
    let raw = raw.trim();
    if raw.chars().count() > MAX_INPUT_CHARS {
        return None;
    }
    let raw = extract(raw)?;
    // A numeric spreadsheet cell arrives as `84901234567.0`.
    let raw = strip_numeric_fraction(raw);
    let (plus, digits) = clean(raw)?;
    // libphonenumber's viability test: two digits, or three with anything else.
    if digits.len() < 2 || (digits.len() < 3 && (plus || digits.len() != raw.chars().count())) {
        return None;
    }
    let plan = region.plan();
    let (cc, national, carried) = match country_code(plus, &digits, plan)? {
        Some((cc, national)) => (cc, national, true),
        None => (plan.cc, digits, false),
    };
    // The main plan of the country code judges the length; the plan that reads the
    // national number is the region's own when the number carries no country code.
    let main = plan_of_code(cc)?;
    let reader = if carried { main } else { plan };
    if national.len() < MIN_NATIONAL {
        return None;
    }
    let national = match reader.strip_national_prefix(&national) {
        Some(stripped)
            if !matches!(reader.length(&stripped), Length::TooShort | Length::LocalOnly | Length::Invalid) =>
        {
            stripped
        }
        _ => national,
    };
    if national.len() > MAX_NATIONAL {
        return None;
    }
    // isPossibleNumber: the length, judged by the main plan of the country code.
    matches!(main.length(&national), Length::Possible | Length::LocalOnly).then(|| format!("{cc}{national}"))
}

/// The country code and the national number after it, when the number carries one:
/// after a leading plus, after the region's international dialling prefix, or as
/// the region's own code written without `+` (libphonenumber's
/// `maybeExtractCountryCode`). `Some(None)`: none, the number is national; `None`:
/// not a number.
fn country_code(plus: bool, digits: &str, plan: &Plan) -> Option<Option<(u16, String)>> {
    if plus {
        if digits.len() <= MIN_NATIONAL {
            return None;
        }
        if let Some((cc, rest)) = split_country_code(digits) {
            return Some(Some((cc, rest.to_string())));
        }
        // libphonenumber reads the digits after an unknown code once more without
        // the plus (`+00 84 …`), and refuses the number if that finds no code either.
        return from_default_country(digits, plan)?.map(Some);
    }
    from_default_country(digits, plan)
}

/// A number without a plus: the region's international dialling prefix and a
/// country code, or the region's own country code, or neither.
fn from_default_country(digits: &str, plan: &Plan) -> Option<Option<(u16, String)>> {
    if let Some(rest) = plan.strip_idd(digits) {
        if rest.len() <= MIN_NATIONAL {
            return None;
        }
        let (cc, national) = split_country_code(rest)?;
        return Some(Some((cc, national.to_string())));
    }
    if let Some(rest) = digits.strip_prefix(plan.cc_text.as_str()) {
        let potential = plan.strip_national_prefix(rest).unwrap_or_else(|| rest.to_string());
        let better = !plan.general(digits) && plan.general(&potential);
        if better || plan.length(digits) == Length::TooLong {
            return Some(Some((plan.cc, potential)));
        }
    }
    Some(None)
}

/// Splits a leading country calling code (1 to 3 digits) off international digits.
fn split_country_code(digits: &str) -> Option<(u16, &str)> {
    // No country calling code starts with 0.
    if digits.starts_with('0') {
        return None;
    }
    (1..=3.min(digits.len())).find_map(|n| {
        let cc: u16 = digits[..n].parse().ok()?;
        plan_of_code(cc).map(|_| (cc, &digits[n..]))
    })
}

/// What libphonenumber's `testNumberLength` says of a national number's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Length {
    Possible,
    LocalOnly,
    TooShort,
    TooLong,
    Invalid,
}

/// One numbering plan, as libphonenumber's parser reads numbers with it.
struct Plan {
    cc: u16,
    cc_text: String,
    /// The international dialling prefix, anchored at the start.
    idd: Option<regex::Regex>,
    /// The national prefix for parsing, anchored at the start, and what replaces it.
    national_prefix: Option<regex::Regex>,
    transform: Option<String>,
    /// The national prefix as dialled (`0`, `8`, `06`), for prefixes of numbers.
    trunk: Option<String>,
    /// The general national-number pattern, anchored at both ends.
    general: regex::Regex,
    /// Possible lengths (sorted) and local-only lengths of the general description.
    lengths: Vec<u16>,
    local: Vec<u16>,
}

impl Plan {
    fn new(meta: &phonenumber::metadata::Metadata) -> Plan {
        // The metadata's patterns are written over several lines, spaces included,
        // which libphonenumber's build takes out.
        let anchored = |pattern: &str, end: &str| {
            let pattern: String = pattern.chars().filter(|c| !c.is_whitespace()).collect();
            regex::Regex::new(&format!("^(?:{pattern}){end}")).expect("libphonenumber's patterns compile")
        };
        let d = meta.descriptors();
        let types = [
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
        // libphonenumber derives the general lengths as the union over the number
        // types; the metadata this crate ships leaves it empty, so it is made here.
        let mut lengths: Vec<u16> = d.general().possible_length().to_vec();
        let mut local: Vec<u16> = d.general().possible_local_length().to_vec();
        for desc in types.into_iter().flatten() {
            lengths.extend(desc.possible_length());
            local.extend(desc.possible_local_length());
        }
        lengths.sort_unstable();
        lengths.dedup();
        local.sort_unstable();
        local.dedup();
        local.retain(|l| !lengths.contains(l));
        Plan {
            cc: meta.country_code(),
            cc_text: meta.country_code().to_string(),
            idd: meta.international_prefix().map(|p| anchored(p.as_str(), "")),
            national_prefix: meta
                .national_prefix_for_parsing()
                .map(|p| p.as_str().to_string())
                .or_else(|| meta.national_prefix().map(regex::escape))
                .filter(|p| !p.is_empty())
                .map(|p| anchored(&p, "")),
            // Java's `$1` as the regex crate's `${1}`, so a digit after it stays a digit.
            transform: meta
                .national_prefix_transform_rule()
                .filter(|t| !t.is_empty())
                .map(|t| regex::Regex::new(r"\$(\d)").expect("a fixed pattern").replace_all(t, "$${$1}").into_owned()),
            trunk: meta.national_prefix().filter(|t| !t.is_empty()).map(str::to_string),
            general: anchored(d.general().national_number().as_str(), "$"),
            lengths,
            local,
        }
    }

    /// libphonenumber's `testNumberLength` for an unknown type.
    fn length(&self, national: &str) -> Length {
        let len = national.len() as u16;
        let (Some(&min), Some(&max)) = (self.lengths.first(), self.lengths.last()) else {
            return Length::Invalid;
        };
        if self.local.contains(&len) {
            Length::LocalOnly
        } else if len == min {
            Length::Possible
        } else if len < min {
            Length::TooShort
        } else if len > max {
            Length::TooLong
        } else if self.lengths.contains(&len) {
            Length::Possible
        } else {
            Length::Invalid
        }
    }

    /// Whether the digits match the plan's general national-number pattern.
    fn general(&self, national: &str) -> bool {
        self.general.is_match(national)
    }

    /// The digits after the international dialling prefix, unless a 0 follows it
    /// (no country code starts with 0).
    fn strip_idd<'a>(&self, digits: &'a str) -> Option<&'a str> {
        let end = self.idd.as_ref()?.find(digits)?.end();
        let rest = &digits[end..];
        (!rest.starts_with('0')).then_some(rest)
    }

    /// The number without its national prefix (and carrier code), transformed where
    /// the plan says so; `None` when no prefix is there or taking it off would make a
    /// number of the plan's pattern one outside it (libphonenumber's
    /// `maybeStripNationalPrefixAndCarrierCode`).
    fn strip_national_prefix(&self, number: &str) -> Option<String> {
        let pattern = self.national_prefix.as_ref()?;
        let caps = pattern.captures(number)?;
        let whole = caps.get(0).expect("group 0 is the match");
        let viable = self.general(number);
        let last_group = caps.len().checked_sub(1).filter(|&n| n > 0).and_then(|n| caps.get(n));
        let result = match (&self.transform, last_group) {
            (Some(rule), Some(_)) => {
                let mut out = String::new();
                caps.expand(rule, &mut out);
                out.push_str(&number[whole.end()..]);
                out
            }
            _ => number[whole.end()..].to_string(),
        };
        if viable && !self.general(&result) {
            return None;
        }
        Some(result)
    }
}

/// A plan's metadata, its patterns compiled on first use (a few regions are used).
struct LazyPlan {
    meta: &'static phonenumber::metadata::Metadata,
    plan: std::sync::OnceLock<Plan>,
}

impl LazyPlan {
    fn get(&self) -> &Plan {
        self.plan.get_or_init(|| Plan::new(self.meta))
    }
}

/// The plans by region id, and the main plan's id by country code.
struct Plans {
    by_region: HashMap<&'static str, LazyPlan>,
    main_of: HashMap<u16, &'static str>,
}

static PLANS: LazyLock<Plans> = LazyLock::new(|| {
    let mut by_region = HashMap::new();
    let mut main_of = HashMap::new();
    for cc in 1..1000u16 {
        let Some(plans) = DATABASE.by_code(&cc) else { continue };
        let main = plans.iter().find(|m| m.is_main_country_for_code()).or(plans.first()).copied();
        for meta in plans {
            let id: &'static str = meta.id();
            // The non-geographic plans share the id `001`: each is keyed by its code.
            let key: &'static str = if id == "001" { Box::leak(format!("001+{cc}").into_boxed_str()) } else { id };
            by_region.insert(key, LazyPlan { meta, plan: std::sync::OnceLock::new() });
            if main.is_some_and(|m| std::ptr::eq(m, meta)) {
                main_of.insert(cc, key);
            }
        }
    }
    Plans { by_region, main_of }
});

fn plan_of_region(code: &str) -> Option<&'static Plan> {
    PLANS.by_region.get(code).map(LazyPlan::get)
}

/// The main plan of a country calling code, as libphonenumber reads its numbers.
fn plan_of_code(cc: u16) -> Option<&'static Plan> {
    PLANS.main_of.get(&cc).and_then(|key| plan_of_region(key))
}

/// The number in `raw` without what comes before its first digit or plus and after
/// its last digit (quotes, a byte-order mark, bidi marks, `:`, `!`: libphonenumber's
/// `extractPossibleNumber`); `None` when `raw` holds a letter anywhere, or a `#`
/// after the number (an extension), which CONTRACT §6 refuses.
fn extract(raw: &str) -> Option<&str> {
    if has_letter(raw) {
        return None;
    }
    let start = raw.find(|c: char| ascii_digit(c).is_some() || is_plus(c))?;
    let end =
        raw.rfind(|c: char| ascii_digit(c).is_some()).map(|i| i + raw[i..].chars().next().map_or(1, char::len_utf8))?;
    if end <= start || raw[end..].contains(['#', '\u{ff03}']) {
        return None;
    }
    Some(&raw[start..end])
}

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

/// The zeros of Unicode's decimal digits (category Nd) in the Basic Multilingual
/// Plane: each script's ten digits follow its zero.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, 0x06f0, 0x07c0, 0x0966, 0x09e6, 0x0a66, 0x0ae6, 0x0b66, 0x0be6, 0x0c66, 0x0ce6, 0x0d66, 0x0de6, 0x0e50,
    0x0ed0, 0x0f20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40, 0x1c50,
    0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
];

/// A decimal digit of any script (full-width, Arabic-Indic, Devanagari, Thai …) as
/// ASCII, as libphonenumber reads them.
fn ascii_digit(c: char) -> Option<char> {
    if c.is_ascii_digit() {
        return Some(c);
    }
    let code = c as u32;
    if code < 0x0660 {
        return None;
    }
    let zero = DIGIT_ZEROS.iter().rev().find(|&&z| z <= code)?;
    (code - zero < 10).then(|| char::from_digit(code - zero, 10)).flatten()
}

fn is_plus(c: char) -> bool {
    matches!(c, '+' | '\u{ff0b}')
}

/// Drops separators; refuses letters and other symbols. Returns whether the number
/// begins with a plus (one or several in a row, as libphonenumber reads them) and
/// its digits.
fn clean(raw: &str) -> Option<(bool, String)> {
    let mut plus = false;
    let mut in_pluses = false;
    let mut digits = String::with_capacity(raw.len());
    for c in raw.chars() {
        if let Some(d) = ascii_digit(c) {
            digits.push(d);
            in_pluses = false;
            continue;
        }
        match c {
            // Pluses before the first digit, in one run, as in `(+84) 90…` or `++84…`.
            c if is_plus(c) && digits.is_empty() && (!plus || in_pluses) => {
                plus = true;
                in_pluses = true;
            }
            c if is_separator(c) => in_pluses = false,
            _ => return None,
        }
    }
    Some((plus, digits))
}

/// Punctuation inside a number, as libphonenumber ignores it: spaces, dots,
/// parentheses and brackets, the dashes and slashes of every script, stars; and,
/// beyond it (CONTRACT §6: spaces are ignored), tabs and the typographic spaces.
fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '.' | '-' | '(' | ')' | '[' | ']' | '*' | '\t' | '\u{a0}' | '\u{ad}' | '\u{200b}' | '\u{2060}' | '\u{3000}'
            | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30fc}' | '\u{ff0d}' | '\u{ff0e}' | '\u{ff0f}' | '\u{ff08}'
            | '\u{ff09}' | '\u{ff3b}' | '\u{ff3d}' | '\u{2053}' | '\u{223c}' | '\u{2000}'..='\u{200a}'
    )
}

/// The Vietnam fast path: the general path's answer for the forms lists hold most
/// (`09…`, `84…` of eleven digits and more, `+84…`, `9…`), with the plan's constants
/// inlined, no allocation but the result and no pattern matching; every other form
/// takes the general path.
mod vn {
    pub const COUNTRY_CODE: u16 = 84;
    /// Possible national lengths (a unit test checks them against the metadata, and
    /// that Vietnam's plan has no local-only lengths and no national number starting
    /// with its trunk 0).
    pub const LENGTHS: [u16; 4] = [7, 8, 9, 10];
    /// More digits than the fast path reads.
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

    pub fn normalize(raw: &str) -> Option<String> {
        let general = || super::normalize_general(raw, &super::Region::vietnam());
        let trimmed = raw.trim();
        // Only what the general path's extraction leaves whole: a digit or `+` first,
        // a digit last (a numeric cell's `.0` included), within the input bound.
        let (first, last) = (trimmed.bytes().next(), trimmed.bytes().last());
        if trimmed.len() > super::MAX_INPUT_CHARS
            || !matches!(first, Some(b'0'..=b'9' | b'+'))
            || !matches!(last, Some(b'0'..=b'9'))
        {
            return general();
        }
        let trimmed = super::strip_numeric_fraction(trimmed);
        let mut buf = [0u8; MAX_DIGITS];
        let mut len = 0;
        let mut plus = false;
        let mut punctuated = false;
        for &b in trimmed.as_bytes() {
            match b {
                b'0'..=b'9' if len < MAX_DIGITS => {
                    buf[len] = b;
                    len += 1;
                }
                b'+' if len == 0 && !plus && !punctuated => plus = true,
                b' ' | b'.' | b'-' | b'(' | b')' | b'[' | b']' | b'\t' | b'*' => punctuated = true,
                // Anything else (more digits, other scripts, a second plus, letters):
                // the general path decides.
                _ => return general(),
            }
        }
        let digits = &buf[..len];
        // libphonenumber's viability test: two digits, or three with anything else.
        if len < 2 || (len < 3 && (plus || punctuated)) {
            return None;
        }
        match (plus, digits) {
            // +84 and a national number: Vietnam's trunk 0 cannot begin it.
            (true, [b'8', b'4', first, ..]) if *first != b'0' => possible(len - 2).then(|| with_cc(&digits[2..])),
            // The trunk 0 and a national number (no Vietnamese number starts with 0, so
            // the prefix always comes off when the rest has a possible length).
            (false, [b'0', second, ..]) if *second != b'0' && possible(len - 1) => Some(with_cc(&digits[1..])),
            // 84 and more digits than a national number has: the country code.
            (false, [b'8', b'4', first, ..]) if len > LONGEST && *first != b'0' => {
                possible(len - 2).then(|| with_cc(&digits[2..]))
            }
            // A national number without its 0 (a spreadsheet dropped it).
            (false, [first, ..]) if *first != b'0' && !digits.starts_with(b"84") => {
                possible(len).then(|| with_cc(digits))
            }
            _ => general(),
        }
    }
}

/// Loads the numbering plans now, and Vietnam's patterns, so the first request does
/// not pay for them (another region's are compiled the first time it is used).
pub fn warm_up() {
    Region::vietnam().plan();
}

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

    /// What libphonenumber makes of each (region, input); the differential test in
    /// tests/api/phones.rs compares every region on generated numbers.
    #[test]
    fn forms_read_as_libphonenumber_reads_them() {
        for (region, input, want) in [
            // The country code written without `+`, where the whole also has a possible length.
            ("IT", "390212345678", Some("390212345678")),
            ("JP", "81 90 1234 5678", Some("819012345678")),
            ("NU", "6834002", Some("6834002")),
            ("VN", "8490123456", Some("848490123456")),
            // Every international dialling prefix of the region, not only its preferred one.
            ("TH", "001 84 901234567", Some("84901234567")),
            ("SG", "001 84 901234567", Some("84901234567")),
            ("MX", "09 52 55 1234 5678", Some("525512345678")),
            // National prefixes other than 0, after the country code too.
            ("US", "+1 1 650 253 0000", Some("16502530000")),
            ("RU", "+7 8 912 345 67 89", Some("79123456789")),
            ("HU", "+36 06 30 123 4567", Some("36301234567")),
            // Carrier codes and the national prefix's rewrite rules.
            ("AR", "011 15 1234 5678", Some("5491112345678")),
            ("BR", "0 21 11 98765 4321", Some("5511987654321")),
            // The 17-digit bound is the national number's.
            ("US", "011 91 5847542155978", Some("915847542155978")),
            // Too short after the dialling prefix; +7's lengths are Russia's.
            ("VN", "0084 123456", None),
            ("RU", "12345", None),
            // Punctuation libphonenumber ignores; pluses in a row.
            ("VN", "0901*234567", Some("84901234567")),
            ("VN", "0901\u{ff0f}234567", Some("84901234567")),
            ("VN", "++84901234567", Some("84901234567")),
            ("VN", "+ +84901234567", None),
        ] {
            let region = Region::parse(region).unwrap();
            assert_eq!(normalize(input, &region).as_deref(), want, "{} {input:?}", region.code);
        }
    }

    #[test]
    fn prefixes_are_read_in_the_region() {
        for (region, written, want) in [
            ("VN", "0904", Some("84904")),
            ("VN", "8434", Some("8434")),
            ("VN", "00849040000", Some("849040000")),
            ("VN", "\u{ff10}\u{ff19}\u{ff10}\u{ff14}", Some("84904")),
            ("VN", "+1650", Some("1650")),
            ("VN", "0904 abc", None),
            ("IT", "066982", Some("39066982")),
            ("RU", "8912300", Some("7912300")),
            ("US", "65025300", Some("165025300")),
            ("US", "1650", Some("1650")),
            ("US", "011 44 20", Some("4420")),
            ("AR", "5491", Some("5491")),
            ("AR", "011", Some("5411")),
            ("AG", "4601234", Some("14601234")),
        ] {
            let region = Region::parse(region).unwrap();
            assert_eq!(prefix(written, &region).as_deref(), want, "{} {written:?}", region.code);
        }
    }

    /// A numeric cell's fraction with punctuation around it: the fast path hands such
    /// input to the general path, which takes the punctuation off first.
    #[test]
    fn a_numeric_cell_in_punctuation_keeps_its_number() {
        for raw in ["0901234567.0)", "(84901234567.0)", "-84901234567.0", "84901234567.0.", "\"84901234567.0\""] {
            assert_eq!(vn(raw).as_deref(), Some("84901234567"), "{raw:?}");
            assert_eq!(vn(raw), normalize_general(raw, &Region::vietnam()), "{raw:?}");
        }
        let long = format!("0901234567.{}", "0".repeat(240));
        assert_eq!(vn(&long), normalize_general(&long, &Region::vietnam()));
    }

    #[test]
    fn stored_forms_are_a_second_reading() {
        let vn = Region::vietnam();
        assert_eq!(readings("0901234567", &vn), ["84901234567"]);
        assert_eq!(readings("84901234567", &vn), ["84901234567"]);
        // A US number as callsheet shows it: impossible in Vietnam, the stored form.
        assert_eq!(readings("16502530000", &vn), ["16502530000"]);
        // A Singapore number as shown reads as a Vietnamese one too: both.
        assert_eq!(readings("6591234567", &vn), ["846591234567", "6591234567"]);
        assert!(readings("12", &vn).is_empty());
        let de = Region::parse("DE").unwrap();
        assert_eq!(readings("4915123456789", &de), ["494915123456789", "4915123456789"]);
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
        // Google Contacts' export joins a field's values with ` ::: `.
        let p = parse_cell("+84 90 123 4567 ::: +84 91 234 5678:::0987654321", &Region::vietnam());
        assert_eq!(p.valid, ["84901234567", "84912345678", "84987654321"]);
        assert_eq!(numbers_in("a:b ::: c").collect::<Vec<_>>(), ["a:b", "c"]);
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
        let plan = plan_of_code(84).unwrap();
        assert_eq!(plan.lengths, vn::LENGTHS);
        assert!(plan.local.is_empty(), "local-only lengths");
        assert!(std::ptr::eq(plan, Region::vietnam().plan()), "Vietnam is +84's main plan");
        assert!(vn::LENGTHS.windows(2).all(|w| w[1] == w[0] + 1), "not contiguous");
        // The fast path takes the trunk 0 off whenever the rest has a possible length:
        // right only while no national number of the plan starts with 0.
        assert!(!plan.general("0901234567") && !plan.general("0123456"), "{}", plan.general.as_str());
        assert_eq!(plan.national_prefix.as_ref().map(|p| p.as_str()), Some("^(?:0)"));
        assert!(plan.transform.is_none());
        assert_eq!(plan.idd.as_ref().map(|p| p.as_str()), Some("^(?:00)"));
    }

    fn phone_like() -> impl Strategy<Value = String> {
        let prefix = prop::sample::select(vec![
            "", "0", "84", "+84", "+84 ", "+", "+1", "+44", "00", "840", "8", "(", "-", "\"", "(0", "(+84",
        ]);
        let digits = prop::collection::vec(0u8..10, 0..14);
        let seps = prop::collection::vec(prop::sample::select(vec!["", "", "", " ", ".", "-", "(", ")"]), 14);
        let suffix =
            prop::sample::select(vec!["", "", ".0", ".00", "x", " ", "\u{a0}", "/", ".0)", ".", ")", ".0.", "\""]);
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
            let mut forms = vec![format!("0{national}"), format!("+84{national}")];
            // Without its 0 a national number that begins 84 may read as one with the
            // country code (libphonenumber's patterns decide; the differential test
            // in tests/api/phones.rs holds those cases).
            if !national.starts_with("84") {
                forms.push(format!("{national}.0"));
            }
            for form in forms {
                prop_assert_eq!(vn::normalize(&form), normalize_general(&form, &Region::vietnam()));
                let got = vn::normalize(&form);
                prop_assert_eq!(got.as_deref(), Some(want.as_str()), "{}", form);
            }
        }
    }
}
