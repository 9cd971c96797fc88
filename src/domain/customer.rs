//! Campaign customers: the rows of a campaign's call list (CONTRACT §4).

use serde::Serialize;

use super::text;

/// Where a customer came from, the reference's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Contacts = 1,
    Filter = 2,
    File = 3,
    Phones = 4,
}

/// Call statuses 0..=8 as the reference numbers them.
pub const STATUSES: std::ops::RangeInclusive<i64> = 0..=8;

/// Checks a `status` filter value.
pub fn parse_status(status: i64) -> Result<i64, String> {
    if STATUSES.contains(&status) {
        Ok(status)
    } else {
        Err(format!("status must be between {} and {}", STATUSES.start(), STATUSES.end()))
    }
}

/// A customer row exactly as GET /v1/customcampaign returns it. The fields are in
/// the order of their JSON names, so that a list serialized straight from these
/// rows reads as one built through `serde_json::Value` (whose keys are sorted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Customer {
    pub callback_time: i64,
    pub campaign_id: String,
    pub campaignname: String,
    pub crm_id: String,
    pub do_not_call: i64,
    pub id: i64,
    pub insert_time: i64,
    pub last_time_make_call: i64,
    pub name: String,
    pub number_call_out: i64,
    pub phones: Vec<String>,
    pub status: i64,
    pub stringee_user_id_callback: Option<String>,
    #[serde(rename = "type")]
    pub source: i64,
}

/// One entry to add to a campaign, before the store resolves it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCustomer {
    /// Where the entry stood in the request (list index, or spreadsheet row).
    pub row: i64,
    /// The CRM contact; `None` makes a new CRM contact in the default portal.
    pub crm_id: Option<String>,
    /// `None` takes the CRM contact's name.
    pub name: Option<String>,
    /// Normalized phones; empty takes the CRM contact's phones.
    pub phones: Vec<String>,
    /// Phones of the entry that were not possible numbers (reported, not stored).
    pub dropped_phones: Vec<String>,
    /// Custom fields for a new CRM contact.
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub email: String,
    pub source: Source,
    /// `name_key(name)` when the producer worked it out (see [`NewCustomer::prepare`]);
    /// otherwise the store does. File imports leave it to the store, whose thread
    /// waits on the parser anyway, so the two threads stay balanced.
    pub name_key: Option<String>,
}

impl NewCustomer {
    /// Works out what the store would otherwise compute while holding the write lock.
    pub fn prepare(mut self) -> NewCustomer {
        if let Some(name) = &self.name {
            self.name_key = Some(name_key(name));
        }
        self
    }
}

/// An entry that was not added, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvalidRow {
    pub row: i64,
    pub id: Option<String>,
    pub reason: String,
}

/// Rows reported in a summary at most; the counts still cover every row.
pub const MAX_REPORTED_ROWS: usize = 1000;

/// Why an entry whose contact an earlier entry of the request added was not added again.
pub const REPEATS_AN_ENTRY: &str = "repeats an earlier entry (same id)";

/// What adding entries to a campaign did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddOutcome {
    /// Contacts that filters matched (each one added, skipped or reported).
    pub matched: i64,
    pub added: i64,
    /// CRM ids already in the campaign, in request order.
    pub skipped: Vec<String>,
    /// The request row of each of `skipped`.
    pub skipped_rows: Vec<i64>,
    pub invalid: i64,
    /// The first [`MAX_REPORTED_ROWS`] invalid rows.
    pub invalid_rows: Vec<InvalidRow>,
    /// Customers added with status 8: every phone on a do-not-call list.
    pub dnc: i64,
    /// File rows without an id that went to the CRM contact already holding one of
    /// their phones, instead of a new one (CONTRACT §4 `summary.matched`).
    pub attached: i64,
    /// Entries naming a contact an earlier entry of the same request added (through
    /// another source: a filter matching a listed contact, say); each is also in
    /// `invalid` and reported among `invalid_rows`.
    pub repeated: i64,
}

impl AddOutcome {
    pub fn reject(&mut self, row: InvalidRow) {
        self.invalid += 1;
        if self.invalid_rows.len() < MAX_REPORTED_ROWS {
            self.invalid_rows.push(row);
        }
    }

    /// An entry whose contact the campaign already holds: skipped when it was there
    /// before the request, a repeat when an earlier entry of the request added it.
    pub fn passed_over(&mut self, row: i64, crm_id: String, this_request: bool) {
        if this_request {
            self.repeated += 1;
            self.reject(InvalidRow { row, id: Some(crm_id), reason: REPEATS_AN_ENTRY.into() });
        } else {
            self.skipped.push(crm_id);
            self.skipped_rows.push(row);
        }
    }

    /// Of the entries skipped because the campaign held their contact before the
    /// request, those naming a contact an earlier skipped entry named (a file's
    /// rows holding two phones of one CRM contact, say) become repeats of it, as
    /// they would be had the request added the contact: each CRM id is skipped once.
    pub fn repeats_among_skipped(&mut self) {
        let first: Vec<bool> = {
            let mut seen = std::collections::HashSet::with_capacity(self.skipped.len());
            self.skipped.iter().map(|id| seen.insert(id.as_str())).collect()
        };
        if first.iter().all(|&f| f) {
            return;
        }
        let (ids, rows) = (std::mem::take(&mut self.skipped), std::mem::take(&mut self.skipped_rows));
        for ((id, row), first) in ids.into_iter().zip(rows).zip(first) {
            self.passed_over(row, id, !first);
        }
        self.invalid_rows.sort_by_key(|r| r.row);
    }

    /// Folds another part's outcome (earlier parts first) into this one.
    pub fn merge(&mut self, other: AddOutcome) {
        self.matched += other.matched;
        self.attached += other.attached;
        self.added += other.added;
        self.dnc += other.dnc;
        self.repeated += other.repeated;
        self.skipped.extend(other.skipped);
        self.skipped_rows.extend(other.skipped_rows);
        // Each list holds the first rows of its own kind, so the first of both in row
        // order are the first of the whole request.
        self.invalid += other.invalid;
        self.invalid_rows.extend(other.invalid_rows);
        self.invalid_rows.sort_by_key(|r| r.row);
        self.invalid_rows.truncate(MAX_REPORTED_ROWS);
    }
}

/// What GET /v1/customcampaign filters on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CustomerFilter {
    pub campaign: Option<super::ids::CampaignId>,
    pub name: Option<NameMatch>,
    pub status: Option<i64>,
    pub phone: Option<String>,
}

/// A name search: each word of the query must start a word of the name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameMatch {
    pub words: Vec<String>,
}

impl NameMatch {
    /// The most words a name search may hold: each is one more condition.
    pub const MAX_WORDS: usize = 32;

    /// A search that no name matches: what a query of no letters or digits (`(`)
    /// asks for. Its one word holds a character no name's word has.
    pub fn nothing() -> NameMatch {
        NameMatch { words: vec!["\u{1}".into()] }
    }

    /// Splits a query into words; `None` when it has none.
    pub fn parse(query: &str) -> Option<NameMatch> {
        let words: Vec<String> = name_words(query).map(text::lower).collect();
        (!words.is_empty()).then_some(NameMatch { words })
    }
}

/// The words of a name: runs of letters and digits (and the marks of letters
/// written decomposed, [`crate::domain::text::words`]).
pub fn name_words(s: &str) -> impl Iterator<Item = &str> {
    crate::domain::text::words(s)
}

/// The searchable form of a name: its lowercase words, then their folded forms.
///
/// A query word without diacritics is a folded word and finds its match among the
/// folded forms ("dai" finds "Đài"); a word with diacritics can only match a
/// lowercase form ("đài" finds "Đài" but not "Dài"). So a word-prefix match against
/// this one string gives the accent-smart rule of CONTRACT §7.
pub fn name_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len() * 2 + 4);
    let mut folded = String::with_capacity(name.len() + 2);
    for word in name_words(name) {
        key.push(' ');
        folded.push(' ');
        let start = key.len();
        key.extend(word.chars().flat_map(char::to_lowercase));
        text::fold_into(&mut folded, word);
        // A word written decomposed is kept composed, as a query's word is.
        if text::has_marks(word) {
            let composed = text::lower(word);
            key.truncate(start);
            key.push_str(&composed);
        }
    }
    key.push_str(&folded);
    key
}

/// The characters of a name word its word-index entry keeps. A spreadsheet cell
/// holds a word of up to 32,767 characters, and PostgreSQL refuses a B-tree entry
/// past about 2.7 kB: a longer word is stored and looked up by its first 500
/// characters (2,000 bytes at most), on both backends alike.
pub const INDEXED_WORD_CHARS: usize = 500;

/// `word` as the word index keeps it: its first [`INDEXED_WORD_CHARS`] characters.
pub fn indexed_word(word: &str) -> &str {
    text::first_chars(word, INDEXED_WORD_CHARS)
}

/// The forms a name word is indexed in: lower case, and folded (lower case without
/// diacritics). A query word with diacritics looks up the first, any other the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordForm {
    Lower,
    Folded,
}

/// The key of one word in the word index: the portal, the form, the word (cut as
/// [`indexed_word`] cuts it). One key column holds all three, so a lookup or a
/// prefix or range scan is one B-tree range, and an entry carries nothing else but
/// the contact and the word's position. Portal ids are unique and of one length,
/// and a word holds no space, so keys of one portal and form share a prefix and
/// sort by word in byte order.
pub fn word_key(portal: &str, form: WordForm, word: &str) -> String {
    let mut key = String::with_capacity(portal.len() + 2 + word.len().min(4 * INDEXED_WORD_CHARS));
    word_key_prefix_into(&mut key, portal, form);
    key.push_str(indexed_word(word));
    key
}

/// The prefix every key of `portal` and `form` begins with.
pub fn word_key_prefix(portal: &str, form: WordForm) -> String {
    let mut key = String::with_capacity(portal.len() + 2);
    word_key_prefix_into(&mut key, portal, form);
    key
}

fn word_key_prefix_into(key: &mut String, portal: &str, form: WordForm) {
    key.push_str(portal);
    key.push(' ');
    key.push(match form {
        WordForm::Lower => '0',
        WordForm::Folded => '1',
    });
}

/// What the word index's entries, and every folded form stored beside a text (a
/// name's key, a contact's field words, a campaign's folded name), depend on
/// besides the texts: the key's shape, the folding rules (`fold 4`: the letters of
/// [`text::base_letters`], all of ASCIIFoldingFilter's lower-case Latin ones since 4,
/// Latin letters only, full-width ASCII), what a word is made of (`words 2`: letters
/// and decimal digits, as Lucene's tokenizer reads them, since 2) and the Unicode
/// tables that split, lower-case and fold them (Rust's, unicode-normalization's and
/// unicode-properties'). A store whose index was built under another version is
/// rebuilt from its contacts at start, and its folded forms made again: they would
/// no longer be found from the texts they came from.
pub fn word_index_version() -> String {
    let (a, b, c) = char::UNICODE_VERSION;
    let (d, e, f) = unicode_normalization::UNICODE_VERSION;
    let (g, h, i) = unicode_properties::UNICODE_VERSION;
    format!("keys 2; fold 4; words 2; unicode {a}.{b}.{c}; normalization {d}.{e}.{f}; categories {g}.{h}.{i}")
}

/// The form and the word a query word looks up in the word index: the lower case
/// of a word with diacritics (it matches only that spelling), the folded word
/// otherwise (CONTRACT §7's accent-smart rule). Where the lower case is all ASCII as
/// the index keeps it (cut by [`indexed_word`]), it is its own folded form, and the
/// index keeps that form only.
pub fn lookup_form(word: &str) -> (WordForm, String) {
    let (lower, folded) = (text::lower(word), text::fold(word));
    // `folded != lower` is text::has_diacritics, without folding the word twice.
    if folded != lower && !indexed_word(&lower).is_ascii() {
        (WordForm::Lower, lower)
    } else {
        (WordForm::Folded, folded)
    }
}

/// The word-index entries of a contact's name in `portal`: (key, position), each
/// word in its folded form, and in its lower-case form unless that (as the index
/// keeps it, cut by [`indexed_word`]) is all ASCII.
///
/// A lower-case entry is looked up only by a query word with diacritics
/// ([`crate::domain::text::has_diacritics`]), whose lower case is never all ASCII:
/// a character that lower-cases to ASCII folds to the same (a test checks every
/// character), so such a word would have none. An all-ASCII lower-case entry would
/// never be read; leaving it out spares a bulk load one entry in two for names
/// written without accents. A word whose diacritics come only past the cut looks
/// its folded form up instead ([`lookup_form`]): its cut lower case is that.
pub fn name_word_keys<'a>(portal: &'a str, name: &'a str) -> impl Iterator<Item = (String, i64)> + 'a {
    name_words(name).enumerate().flat_map(move |(pos, word)| {
        let pos = pos as i64;
        let lower = text::lower(word);
        let folded = (word_key(portal, WordForm::Folded, &crate::domain::text::fold(&lower)), pos);
        let lower = (!indexed_word(&lower).is_ascii()).then(|| (word_key(portal, WordForm::Lower, &lower), pos));
        lower.into_iter().chain([folded])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL side matches `' ' || word` as a prefix of a word in the key.
    fn matches(name: &str, query: &str) -> bool {
        let key = name_key(name);
        NameMatch::parse(query).unwrap().words.iter().all(|w| key.contains(&format!(" {w}")))
    }

    #[test]
    fn name_search_is_accent_smart() {
        assert!(matches("Đài", "dai"));
        assert!(matches("Dài", "dai"));
        assert!(matches("Đài", "Đài"));
        assert!(matches("đài", "ĐÀI"));
        assert!(!matches("Dài", "Đài"));
        assert!(matches("Nguyễn Văn Đài", "ng dai"));
        assert!(!matches("Nguyễn Văn Đài", "guyen"));
        assert!(matches("Chị Soa", "chi"));
    }

    #[test]
    fn indexed_words_keep_their_first_characters() {
        assert_eq!(indexed_word("linh"), "linh");
        let long = "đ".repeat(INDEXED_WORD_CHARS + 1);
        assert_eq!(indexed_word(&long).chars().count(), INDEXED_WORD_CHARS);
        assert_eq!(indexed_word(&long[..2 * INDEXED_WORD_CHARS]), &long[..2 * INDEXED_WORD_CHARS]);
    }

    #[test]
    fn word_keys_of_a_portal_and_form_share_a_prefix_and_sort_by_word() {
        let portal = "pt_0123456789abcdef";
        let prefix = word_key_prefix(portal, WordForm::Folded);
        let keys: Vec<String> =
            ["an", "anh", "b", "đài"].iter().map(|w| word_key(portal, WordForm::Folded, w)).collect();
        assert!(keys.iter().all(|k| k.starts_with(&prefix)));
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        // The lower-case form's keys all sort before the folded form's.
        assert!(word_key(portal, WordForm::Lower, "\u{10FFFF}") < word_key(portal, WordForm::Folded, ""));
        let long = "x".repeat(INDEXED_WORD_CHARS + 10);
        assert_eq!(word_key(portal, WordForm::Folded, &long), format!("{prefix}{}", indexed_word(&long)));
        let entries: Vec<(String, i64)> = name_word_keys(portal, "Đài Bắc Linh").collect();
        assert_eq!(
            entries,
            [
                (format!("{portal} 0đài"), 0),
                (format!("{portal} 1dai"), 0),
                (format!("{portal} 0bắc"), 1),
                (format!("{portal} 1bac"), 1),
                (format!("{portal} 1linh"), 2)
            ]
        );
    }

    #[test]
    fn a_long_word_with_diacritics_past_the_cut_is_looked_up_folded() {
        let portal = "pt_0123456789abcdef";
        let long = format!("{}é", "a".repeat(INDEXED_WORD_CHARS));
        let (form, word) = lookup_form(&long);
        assert_eq!(form, WordForm::Folded);
        let keys: Vec<String> = name_word_keys(portal, &long).map(|(k, _)| k).collect();
        assert_eq!(keys, [word_key(portal, form, &word)]);
    }

    proptest::proptest! {
        /// Every word of a name finds the name: its lookup key is one of the name's
        /// entries, whatever its letters, accents or length.
        #[test]
        fn every_word_of_a_name_finds_it(name in "\\PC{0,40}|[a-zA-ZàáạăắđĐêếôộơờưứ ]{0,40}|[aé]{495,505}") {
            let portal = "pt_0123456789abcdef";
            let entries: Vec<(String, i64)> = name_word_keys(portal, &name).collect();
            for (pos, w) in name_words(&name).enumerate() {
                let (form, word) = lookup_form(w);
                let key = word_key(portal, form, &word);
                proptest::prop_assert!(entries.contains(&(key.clone(), pos as i64)), "{w:?} at {pos}: {key:?} not in {entries:?}");
            }
        }
    }

    #[test]
    fn a_word_with_diacritics_never_lower_cases_to_ascii() {
        // Lower case and folding work character by character (str::to_lowercase's
        // one exception, a final sigma, is not ASCII), so checking every character
        // checks every word.
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let lower: String = c.to_lowercase().collect();
            if lower.is_ascii() {
                assert!(!crate::domain::text::has_diacritics(&c.to_string()), "{c:?} ({:X})", c as u32);
            }
        }
    }

    #[test]
    fn an_entry_without_phones_leaves_its_id_to_a_later_one_with_phones() {
        let entry = |row: i64, id: &str, phones: &[&str]| NewCustomer {
            row,
            crm_id: Some(id.to_string()),
            name: None,
            phones: phones.iter().map(|p| p.to_string()).collect(),
            dropped_phones: Vec::new(),
            fields: serde_json::Map::new(),
            email: String::new(),
            source: Source::Contacts,
            name_key: None,
        };
        let mut r = Repeats::default();
        assert_eq!(r.check(&entry(0, "A", &[])), None);
        assert_eq!(r.check(&entry(1, "A", &[])), Some("repeats row 0 (same id)".into()));
        assert_eq!(r.check(&entry(2, "A", &["84901234567"])), None, "the store adds whichever has phones");
        assert_eq!(r.check(&entry(3, "A", &["84901234568"])), Some("repeats row 2 (same id)".into()));
        assert_eq!(r.check(&entry(4, "A", &[])), Some("repeats row 2 (same id)".into()));
        assert_eq!(r.check(&entry(5, "B", &["84901234567"])), None);
        assert_eq!(r.check(&entry(6, "B", &[])), Some("repeats row 5 (same id)".into()));
    }

    #[test]
    fn statuses_are_checked() {
        assert_eq!(parse_status(8), Ok(8));
        assert!(parse_status(9).is_err());
        assert!(parse_status(-1).is_err());
    }
}

/// Finds entries that repeat an earlier one of the same request: the same CRM id,
/// or, for entries without an id, a phone an earlier id-less entry already has.
#[derive(Debug, Default)]
pub struct Repeats {
    // The standard hash: a quick multiplicative one (a file's keys cannot hurt anyone
    // else) put ids of eight characters, such as `ID123456`, into a few buckets, and a
    // million-row file spent two thirds of its import comparing them.
    ids: std::collections::HashMap<String, i64>,
    /// Ids whose entries so far gave no phone: such an entry takes its phones from
    /// the CRM contact, if it has any, which only the store knows; a later entry of
    /// the id that gives phones is not its repeat, and the store adds whichever of
    /// the two has phones (the first when the contact has some).
    phoneless: std::collections::HashMap<String, i64>,
    phones: std::collections::HashMap<String, i64>,
}

impl Repeats {
    /// Room for `n` entries up front, so a large file does not rehash as it grows.
    pub fn with_capacity(n: usize) -> Repeats {
        Repeats {
            ids: std::collections::HashMap::with_capacity(n),
            phoneless: std::collections::HashMap::new(),
            phones: std::collections::HashMap::with_capacity(n.min(1 << 16)),
        }
    }

    /// The reason `entry` is a repeat, naming the row it repeats; `None` records it.
    pub fn check(&mut self, entry: &NewCustomer) -> Option<String> {
        match &entry.crm_id {
            Some(id) => {
                let earlier = match entry.phones.is_empty() {
                    true => self.ids.get(id).or_else(|| self.phoneless.get(id)),
                    false => self.ids.get(id),
                };
                if let Some(first) = earlier {
                    return Some(format!("repeats row {first} (same id)"));
                }
                match entry.phones.is_empty() {
                    true => self.phoneless.insert(id.clone(), entry.row),
                    false => self.ids.insert(id.clone(), entry.row),
                };
            }
            None => {
                if let Some(first) = entry.phones.iter().find_map(|p| self.phones.get(p)) {
                    return Some(format!("repeats row {first} (same phone)"));
                }
                for p in &entry.phones {
                    self.phones.insert(p.clone(), entry.row);
                }
            }
        }
        None
    }
}
