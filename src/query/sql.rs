//! The AST compiled to a SQL WHERE fragment over CRM contacts (alias `c`), with
//! every value bound: the fragment holds `?` placeholders only, never a value.
//! Built-in fields come from a fixed list; any other name is a custom field,
//! reached through a bound JSON path.

use super::{Bound, Field, Node, QueryError, Value};
use crate::domain::customer::{WordForm, word_key, word_key_prefix};
use crate::domain::phone::{self, Region};
use crate::domain::text;

/// The SQL flavour to emit. The two differ only in how custom fields (JSON) are read
/// and compared; everything else is plain SQL both understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    /// Custom fields are a JSONB column; text compares in byte order (`COLLATE "C"`).
    Postgres,
}

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
}

/// A WHERE fragment and its parameters, in placeholder order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Compiled {
    pub sql: String,
    pub params: Vec<Param>,
    /// The fragment must hold a name or phone lookup, whose index finds the few
    /// matching contacts: the store should start from it rather than from the portal.
    pub selective: bool,
    /// For a query that is one name word or prefix: a whole statement counting its
    /// matches from the word index alone.
    pub word_count: Option<Box<Compiled>>,
    /// For the same queries: a statement listing the matches' contact rowids in order
    /// straight from the word index, to which the store adds LIMIT and OFFSET.
    pub word_rows: Option<Box<Compiled>>,
}

/// The head of the statement counting a one-word query's contacts.
const COUNT_WORDS: &str = "SELECT count(DISTINCT contact_rowid) FROM name_words WHERE ";
/// The same head, listing the contacts' rowids instead.
const ROW_WORDS: &str = "SELECT DISTINCT contact_rowid FROM name_words WHERE ";

/// The most words a phrase on `name` may hold: each is one more lookup joined in.
pub const MAX_PHRASE_WORDS: usize = crate::domain::customer::NameMatch::MAX_WORDS;

/// r 6 when `raw`, `what` at `pos`, holds more than [`MAX_PHRASE_WORDS`] words.
fn at_most_words(raw: &str, pos: usize, what: &str) -> Result<(), QueryError> {
    match crate::domain::customer::name_words(raw).nth(MAX_PHRASE_WORDS) {
        Some(_) => Err(QueryError { pos, msg: format!("{what} may hold at most {MAX_PHRASE_WORDS} words") }),
        None => Ok(()),
    }
}

/// Whose contacts a query runs over.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub account_id: &'a str,
    pub portal_id: &'a str,
}

/// Whether every match of `node` comes out of a name or phone index lookup.
fn selective(node: &Node) -> bool {
    match node {
        Node::Term { field: Field::Named(name), value, .. } => {
            !matches!(value, Value::Prefix(p) if p.is_empty())
                && matches!(resolve(name), Target::Builtin(Builtin::Name | Builtin::Phone))
        }
        Node::And(items) => items.iter().any(selective),
        _ => false,
    }
}

/// The fields every contact has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    Id,
    Name,
    Phone,
    Email,
    Created,
    Updated,
}

enum Target {
    Builtin(Builtin),
    Custom(String),
}

fn resolve(name: &str) -> Target {
    match name {
        "id" => Target::Builtin(Builtin::Id),
        "name" => Target::Builtin(Builtin::Name),
        "phone" | "phones" => Target::Builtin(Builtin::Phone),
        "email" => Target::Builtin(Builtin::Email),
        "created" => Target::Builtin(Builtin::Created),
        "updated" => Target::Builtin(Builtin::Updated),
        other => Target::Custom(other.strip_prefix("fields.").unwrap_or(other).to_string()),
    }
}

/// Whether a field is searched by its words (`name`, a custom field), not as one
/// exact value or a number.
pub(super) fn of_words(name: &str) -> bool {
    matches!(resolve(name), Target::Builtin(Builtin::Name) | Target::Custom(_))
}

struct Compiler<'a> {
    dialect: Dialect,
    account_id: &'a str,
    portal_id: &'a str,
    region: &'a Region,
    out: Compiled,
}

/// Compiles `node` for the contacts of one portal; phone terms are read with `region`.
pub fn compile(node: &Node, dialect: Dialect, scope: Scope<'_>, region: &Region) -> Result<Compiled, QueryError> {
    let compiler = |out| Compiler { dialect, account_id: scope.account_id, portal_id: scope.portal_id, region, out };
    let mut c = compiler(Compiled::default());
    c.node(node)?;
    if dialect == Dialect::Postgres {
        c.out.sql = bound_semijoins(&c.out.sql, SEMIJOINS);
    }
    c.out.selective = selective(node);
    if let Node::Term { field: Field::Named(name), value: value @ (Value::Word(_) | Value::Prefix(_)), .. } = node
        && !matches!(value, Value::Prefix(p) if p.is_empty())
        && matches!(resolve(name), Target::Builtin(Builtin::Name))
    {
        let mut count = compiler(Compiled::default());
        count.name(value, true);
        if let Some(rest) = count.out.sql.strip_prefix(COUNT_WORDS) {
            let rows = Compiled {
                sql: format!("{ROW_WORDS}{rest} ORDER BY contact_rowid"),
                params: count.out.params.clone(),
                ..Compiled::default()
            };
            c.out.word_rows = Some(Box::new(rows));
            c.out.word_count = Some(Box::new(count.out));
        }
    }
    Ok(c.out)
}

/// Lookups of a contact set (`c.seq IN (SELECT …)`) PostgreSQL may plan as joins.
const SEMIJOINS: usize = 4;

/// Leaves the first `keep` lookups of a contact set as they are and writes each
/// later one as `((c.seq IN (SELECT …)) IS TRUE)`, which means the same (neither
/// side is ever null) but which PostgreSQL does not turn into a join: it reads the
/// set once, hashed, and probes it. Every lookup of an AND becomes a join of its
/// own, and PostgreSQL plans joins by searching their orders: 300 terms ANDed took
/// 89 s to plan, 50 ms written so. The values are all bound parameters, so the
/// statement's parentheses are its own.
fn bound_semijoins(sql: &str, keep: usize) -> String {
    const SET: &str = "c.seq IN (SELECT ";
    let mut out = String::with_capacity(sql.len() + 64);
    let (mut rest, mut seen) = (sql, 0);
    while let Some(at) = rest.find(SET) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        seen += 1;
        // The lookup ends at the parenthesis that closes the one it opens.
        let open = SET.len() - "SELECT ".len() - 1;
        let mut depth = 0usize;
        let mut end = rest.len();
        for (i, b) in rest.bytes().enumerate().skip(open) {
            match b {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        let (lookup, after) = rest.split_at(end);
        if seen > keep {
            out.push_str("((");
            out.push_str(&bound_semijoins(lookup, usize::MAX));
            out.push_str(") IS TRUE)");
        } else {
            out.push_str(lookup);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// A phone prefix as stored phones begin (`phone::prefix`).
fn phone_prefix(p: &str, region: &Region) -> Option<String> {
    phone::prefix(p, region)
}

/// Whether `raw` is one word and nothing else: a prefix must be one, as Lucene
/// matches a prefix against the indexed words as written (`jean-*` begins no word:
/// "Jean-Luc" is indexed as `jean` and `luc`).
fn whole_word(raw: &str) -> bool {
    crate::domain::customer::name_words(raw).next().is_some_and(|w| w.len() == raw.len())
}

/// The text just after `prefix` in byte order, as an exclusive upper bound.
fn after_prefix(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

impl Compiler<'_> {
    fn push(&mut self, sql: &str) {
        self.out.sql.push_str(sql);
    }

    fn text(&mut self, v: impl Into<String>) {
        self.out.params.push(Param::Text(v.into()));
    }

    fn node(&mut self, node: &Node) -> Result<(), QueryError> {
        match node {
            Node::All => self.push("1 = 1"),
            Node::And(items) | Node::Or(items) => {
                let op = if matches!(node, Node::And(_)) { " AND " } else { " OR " };
                self.balanced(items, op)?;
            }
            Node::Not(inner) => {
                self.push("NOT (");
                self.node(inner)?;
                self.push(")");
            }
            Node::Exists { field, pos } => self.exists(field, *pos)?,
            Node::Term { field: Field::Default, value, pos } => {
                self.push("(");
                self.term(Builtin::Name, value, *pos)?;
                self.push(" OR ");
                self.term(Builtin::Phone, value, *pos)?;
                self.push(")");
            }
            Node::Term { field: Field::Named(name), value, pos } => match resolve(name) {
                Target::Builtin(b) => self.term(b, value, *pos)?,
                Target::Custom(key) => self.custom_term(&key, value, *pos)?,
            },
            Node::Range { field: Field::Default, lower, upper, pos } => {
                self.push("(");
                self.range("name", lower, upper, *pos)?;
                self.push(" OR ");
                self.range("phone", lower, upper, *pos)?;
                self.push(")");
            }
            Node::Range { field: Field::Named(name), lower, upper, pos } => self.range(name, lower, upper, *pos)?,
        }
        Ok(())
    }

    /// `items` joined by `op`, parenthesized in halves past a few: SQLite parses a
    /// flat `a OR b OR …` into a tree as deep as its terms are many, and refuses one
    /// deeper than 1,000 (a valid query of a thousand words); halves keep it
    /// logarithmic.
    fn balanced(&mut self, items: &[Node], op: &str) -> Result<(), QueryError> {
        const FLAT: usize = 8;
        self.push("(");
        if items.len() <= FLAT {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    self.push(op);
                }
                self.node(item)?;
            }
        } else {
            let (first, second) = items.split_at(items.len() / 2);
            self.balanced(first, op)?;
            self.push(op);
            self.balanced(second, op)?;
        }
        self.push(")");
        Ok(())
    }

    /// On PostgreSQL, `{alias}account_id = ? AND `: there the word index leads with
    /// the account, as every table does, so that the data can be split by account.
    fn words_account(&mut self, alias: &str) {
        if self.dialect == Dialect::Postgres {
            self.push(&format!("{alias}account_id = ? AND "));
            self.text(self.account_id.to_string());
        }
    }

    /// `{alias}key = ?` for the key of `word` in `form`, or for a prefix, the range
    /// of keys it begins.
    fn word_key(&mut self, alias: &str, form: WordForm, word: &str, prefix: bool) {
        self.words_account(alias);
        let column = format!("{alias}key");
        let key = word_key(self.portal_id, form, word);
        if prefix {
            self.push(&format!("{column} >= ? AND {column} < ?"));
            let end = after_prefix(&key);
            self.text(key);
            self.text(end);
        } else {
            self.push(&format!("{column} = ?"));
            self.text(key);
        }
    }

    /// Contacts with `word` (or a word it begins) in the given form; `count` makes
    /// the statement that counts them instead.
    fn words_in(&mut self, form: WordForm, word: &str, prefix: bool, count: bool) {
        self.push(if count { COUNT_WORDS } else { "c.seq IN (SELECT contact_rowid FROM name_words WHERE " });
        self.word_key("", form, word, prefix);
        if !count {
            self.push(")");
        }
    }

    /// Whole-word name matching: lower-case form for a word with diacritics, folded
    /// form otherwise, word by word in a phrase (`"nguyen văn"` is any Nguyen, Văn
    /// exactly). A phrase's words must stand next to each other, in order. A term
    /// that is several words (`dai.minh`, `an-nhien`) is any of them, as Lucene
    /// reads a term its analyzer splits (the default operator, OR); a prefix of
    /// several words begins no single word.
    fn name(&mut self, value: &Value, count: bool) {
        let (raw, prefix) = match value {
            Value::Word(w) | Value::Phrase(w) => (w.as_str(), false),
            Value::Prefix(p) => (p.as_str(), true),
        };
        let (forms, words): (Vec<WordForm>, Vec<String>) =
            crate::domain::customer::name_words(raw).map(crate::domain::customer::lookup_form).unzip();
        match words.len() {
            0 => self.push("0 = 1"),
            _ if prefix && !whole_word(raw) => self.push("0 = 1"),
            1 => self.words_in(forms[0], &words[0], prefix, count),
            _ if count => {}
            _ if prefix => self.push("0 = 1"),
            _ if matches!(value, Value::Word(_)) => {
                let Ok(()) = self.joined(forms.iter().zip(&words), " OR ", |c, (form, word)| {
                    c.words_in(*form, word, false, false);
                    Ok::<_, std::convert::Infallible>(())
                });
            }
            n => {
                // The words after the first, each at the next position of the same
                // contact: a lookup of the whole entry (key, contact, position).
                self.push("c.seq IN (SELECT w0.contact_rowid FROM name_words w0");
                for i in 1..n {
                    self.push(&format!(
                        " JOIN name_words w{i} ON w{i}.contact_rowid = w0.contact_rowid \
                         AND w{i}.pos = w0.pos + {i} AND "
                    ));
                    self.word_key(&format!("w{i}."), forms[i], &words[i], prefix && i == n - 1);
                }
                self.push(" WHERE ");
                self.word_key("w0.", forms[0], &words[0], false);
                self.push(")");
            }
        }
    }

    /// Phone terms are normalized as stored phones; a prefix keeps its digits, with a
    /// leading 0 read as the account's country code.
    fn phone(&mut self, value: &Value) {
        match value {
            // A phone as written in the region, or as callsheet shows it (`phone::readings`).
            Value::Word(w) | Value::Phrase(w) => match phone::readings(w, self.region).into_iter().next() {
                Some(p) => {
                    self.push("c.seq IN (SELECT contact_rowid FROM contact_phones WHERE account_id = ? AND phone = ?)");
                    self.text(self.account_id.to_string());
                    self.text(p);
                }
                None => self.push("0 = 1"),
            },
            Value::Prefix(p) => {
                let Some(digits) = phone_prefix(p, self.region) else {
                    self.push("0 = 1");
                    return;
                };
                self.push(
                    "c.seq IN (SELECT contact_rowid FROM contact_phones WHERE account_id = ? AND phone >= ? AND phone < ?)",
                );
                self.text(self.account_id.to_string());
                self.text(digits.clone());
                self.text(after_prefix(&digits));
            }
        }
    }

    fn term(&mut self, field: Builtin, value: &Value, pos: usize) -> Result<(), QueryError> {
        // `field:*`: the field has a value (Elasticsearch's reading).
        if matches!(value, Value::Prefix(p) if p.is_empty()) {
            return self.has_value(field);
        }
        match field {
            Builtin::Name => {
                // Each word of a name phrase is one more lookup joined in, and each word
                // of a term that holds several (`w0.w1.w2`, any of them) one more lookup.
                let (Value::Word(raw) | Value::Phrase(raw) | Value::Prefix(raw)) = value;
                let what = if matches!(value, Value::Phrase(_)) { "a phrase" } else { "a term" };
                at_most_words(raw, pos, &format!("{what} on name"))?;
                self.name(value, false)
            }
            Builtin::Phone => self.phone(value),
            Builtin::Id => self.column("c.id", value, false),
            Builtin::Email => self.column("c.email", value, true),
            Builtin::Created | Builtin::Updated => {
                let column = if field == Builtin::Created { "c.created" } else { "c.updated" };
                let n = number(value, pos)?;
                self.push(&format!("{column} = ?"));
                self.out.params.push(Param::Int(n));
            }
        }
        Ok(())
    }

    /// Whether a contact has a value in a built-in field: a name with a word, a phone,
    /// an email; every contact has an id and its dates.
    fn has_value(&mut self, field: Builtin) -> Result<(), QueryError> {
        match field {
            Builtin::Name => self.push(match self.dialect {
                Dialect::Sqlite => "callsheet_name_key(c.name) <> ''",
                Dialect::Postgres => "c.name_key <> ''",
            }),
            Builtin::Email => self.push("c.email <> ''"),
            Builtin::Phone => {
                self.push("c.seq IN (SELECT contact_rowid FROM contact_phones WHERE account_id = ?)");
                self.text(self.account_id.to_string());
            }
            Builtin::Id | Builtin::Created | Builtin::Updated => self.push("1 = 1"),
        }
        Ok(())
    }

    /// A plain column: equality (case-insensitive when asked) or a prefix range.
    fn column(&mut self, column: &str, value: &Value, fold_case: bool) {
        match value {
            Value::Word(w) | Value::Phrase(w) if fold_case => {
                self.push(&format!("{} = ?", self.lowered(column)));
                self.text(w.to_lowercase());
            }
            Value::Word(w) | Value::Phrase(w) => {
                self.push(&format!("{column} = ?"));
                self.text(w.clone());
            }
            Value::Prefix(p) => {
                let column = match (fold_case, self.dialect) {
                    (true, Dialect::Sqlite) => self.lowered(column),
                    (true, Dialect::Postgres) => format!("({} COLLATE \"C\")", self.lowered(column)),
                    (false, _) => column.to_string(),
                };
                let p = if fold_case { p.to_lowercase() } else { p.clone() };
                self.push(&format!("({column} >= ? AND {column} < ?)"));
                self.text(p.clone());
                self.text(after_prefix(&p));
            }
        }
    }

    /// A text column in lower case, every script's letters as Rust lowers them (the
    /// terms are lowered so): SQLite's own `lower()` lowers ASCII letters only, so an
    /// email written `ÀB@EXAMPLE.COM` was found by no spelling; it calls the store's
    /// `callsheet_lower`.
    fn lowered(&self, column: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("callsheet_lower({column})"),
            Dialect::Postgres => format!("lower({column})"),
        }
    }

    /// How the dialect names a custom field: SQLite takes a JSON path, PostgreSQL the key.
    fn json_path(&self, key: &str, pos: usize) -> Result<String, QueryError> {
        if key.is_empty() || key.contains('"') || key.contains('\\') {
            return Err(QueryError { pos, msg: format!("'{key}' cannot name a custom field") });
        }
        Ok(match self.dialect {
            Dialect::Sqlite => format!("$.\"{key}\""),
            Dialect::Postgres => key.to_string(),
        })
    }

    /// A custom field is searched by its words, as `name` is (CONTRACT §7), in the
    /// contact's `field_words` (domain::contact::field_words): ` word ` for a word,
    /// ` word` for a prefix, ` w1 w2 ` for a phrase, found in " lowercase | folded ".
    /// A contact without the field has no words in it: the test is false, never
    /// NULL, so that its negation holds.
    fn custom_term(&mut self, key: &str, value: &Value, pos: usize) -> Result<(), QueryError> {
        let path = self.json_path(key, pos)?;
        let raw = match value {
            Value::Prefix(p) if p.is_empty() => return self.custom_exists(path),
            Value::Word(w) | Value::Phrase(w) | Value::Prefix(w) => w.as_str(),
        };
        // Each word of a term is one more test (a phrase's are one).
        if matches!(value, Value::Word(_)) && !decimal(raw) {
            at_most_words(raw, pos, &format!("a term on {key}"))?;
        }
        // A field holding a JSON number is one value, not words: a number term,
        // quoted or not, compares as a number (`score:5` and `score:"5"` find 5 and
        // 5.0, not 4.5), and nothing else matches it (`score:4*` does not find 4.5).
        // A field holding text is searched by its words. Every word of a number holds
        // a digit, so a term without one can only match text.
        if !raw.bytes().any(|b| b.is_ascii_digit()) {
            self.custom_words(&path, value, raw);
            return Ok(());
        }
        self.push("(");
        self.numeric_case(&path);
        match value {
            Value::Word(w) | Value::Phrase(w) if decimal(w) => self.compare_number(&path, w, "="),
            _ => self.push("FALSE"),
        }
        self.push(" ELSE ");
        self.custom_words(&path, value, raw);
        self.push(" END)");
        Ok(())
    }

    /// `raw`'s words in the custom field at `path`: a phrase's next to each other, in
    /// order; a term's any of them (as on `name`); a prefix's the start of one word.
    fn custom_words(&mut self, path: &str, value: &Value, raw: &str) {
        let diacritics = text::has_diacritics(raw);
        let words: Vec<String> = crate::domain::customer::name_words(raw)
            .map(|w| if diacritics { text::lower(w) } else { text::fold(w) })
            .collect();
        let prefix = matches!(value, Value::Prefix(_));
        match words.len() {
            0 => self.push("0 = 1"),
            _ if prefix && !whole_word(raw) => self.push("0 = 1"),
            1 => self.field_words(path, &format!(" {}{}", words[0], if prefix { "" } else { " " })),
            _ if prefix => self.push("0 = 1"),
            _ if matches!(value, Value::Word(_)) => {
                // Each word on its own, as on `name`: folded unless it has diacritics.
                let Ok(()) = self.joined(crate::domain::customer::name_words(raw), " OR ", |c, word| {
                    let word = if text::has_diacritics(word) { text::lower(word) } else { text::fold(word) };
                    c.field_words(path, &format!(" {word} "));
                    Ok::<_, std::convert::Infallible>(())
                });
            }
            _ => self.field_words(path, &format!(" {} ", words.join(" "))),
        }
    }

    /// Whether the words of the custom field at `path` hold `needle`.
    fn field_words(&mut self, path: &str, needle: &str) {
        let needle = needle.to_string();
        self.push(match self.dialect {
            Dialect::Sqlite => "COALESCE(instr(json_extract(c.field_words, ?), ?) > 0, FALSE)",
            Dialect::Postgres => "COALESCE(strpos(c.field_words -> ?::text ->> 'k', ?) > 0, FALSE)",
        });
        self.text(match self.dialect {
            Dialect::Sqlite => format!("{path}.k"),
            Dialect::Postgres => path.to_string(),
        });
        self.text(needle);
    }

    /// `CASE WHEN` the custom field at `path` holds a JSON number `THEN `.
    fn numeric_case(&mut self, path: &str) {
        self.push(match self.dialect {
            Dialect::Sqlite => "CASE WHEN json_type(c.fields, ?) IN ('integer', 'real') THEN ",
            Dialect::Postgres => "CASE WHEN jsonb_typeof(c.fields -> ?::text) = 'number' THEN ",
        });
        self.text(path.to_string());
    }

    /// The number in the custom field at `path` compared (`op`) with the decimal `v`,
    /// exactly on PostgreSQL (numeric), as SQLite's numbers on SQLite.
    fn compare_number(&mut self, path: &str, v: &str, op: &str) {
        match self.dialect {
            Dialect::Postgres => {
                self.push(&format!("(c.fields ->> ?::text)::numeric {op} ?::text::numeric"));
                self.text(path.to_string());
                self.text(v.to_string());
            }
            Dialect::Sqlite => match v.parse::<i64>() {
                Ok(n) => {
                    self.push(&format!("json_extract(c.fields, ?) {op} ?"));
                    self.text(path.to_string());
                    self.out.params.push(Param::Int(n));
                }
                Err(_) => {
                    self.push(&format!("json_extract(c.fields, ?) {op} CAST(? AS REAL)"));
                    self.text(path.to_string());
                    self.text(v.to_string());
                }
            },
        }
    }

    /// Whether a contact has a word in the custom field.
    fn custom_exists(&mut self, path: String) -> Result<(), QueryError> {
        self.push(match self.dialect {
            Dialect::Sqlite => "json_type(c.field_words, ?) IS NOT NULL",
            Dialect::Postgres => "(c.field_words -> ?::text) IS NOT NULL",
        });
        self.text(path);
        Ok(())
    }

    fn exists(&mut self, field: &str, pos: usize) -> Result<(), QueryError> {
        match resolve(field) {
            Target::Builtin(b) => self.has_value(b),
            Target::Custom(key) => {
                let path = self.json_path(&key, pos)?;
                self.custom_exists(path)
            }
        }
    }

    fn range(&mut self, name: &str, lower: &Bound, upper: &Bound, pos: usize) -> Result<(), QueryError> {
        let target = resolve(name);
        if matches!((lower, upper), (Bound::Open, Bound::Open)) {
            // `[* TO *]`: the field has a value.
            return match target {
                Target::Builtin(b) => self.has_value(b),
                Target::Custom(key) => {
                    let path = self.json_path(&key, pos)?;
                    self.custom_exists(path)
                }
            };
        }
        match target {
            Target::Builtin(Builtin::Created) => self.compare("c.created", lower, upper, |v| epoch(v, name, pos)),
            Target::Builtin(Builtin::Updated) => self.compare("c.updated", lower, upper, |v| epoch(v, name, pos)),
            // Case-insensitively, as every text range: ids are upper case, `id:[ct TO cu]`.
            Target::Builtin(Builtin::Id) => {
                let column =
                    if self.dialect == Dialect::Postgres { "(lower(c.id) COLLATE \"C\")" } else { "lower(c.id)" };
                self.compare(column, lower, upper, |v| Ok(Param::Text(v.to_lowercase())))
            }
            // A contact without an email is outside every range on it.
            Target::Builtin(Builtin::Email) => {
                let column = match self.dialect {
                    Dialect::Postgres => format!("({} COLLATE \"C\")", self.lowered("c.email")),
                    Dialect::Sqlite => self.lowered("c.email"),
                };
                self.push("(c.email <> '' AND ");
                self.compare(&column, lower, upper, |v| Ok(Param::Text(v.to_lowercase())))?;
                self.push(")");
                Ok(())
            }
            // Words in the range: a name's folded words; a phone's digits.
            Target::Builtin(Builtin::Name) => {
                // Within the portal's folded keys, which share a prefix: a bound is
                // that prefix and the folded word.
                let keys = word_key_prefix(self.portal_id, WordForm::Folded);
                self.push("c.seq IN (SELECT contact_rowid FROM name_words WHERE ");
                self.words_account("");
                self.push("key >= ? AND key < ? AND ");
                self.text(keys.clone());
                self.text(after_prefix(&keys));
                self.compare("key", lower, upper, |v| Ok(Param::Text(format!("{keys}{}", text::fold(v)))))?;
                self.push(")");
                Ok(())
            }
            Target::Builtin(Builtin::Phone) => {
                self.push("c.seq IN (SELECT contact_rowid FROM contact_phones WHERE account_id = ? AND ");
                self.text(self.account_id.to_string());
                let column = if self.dialect == Dialect::Postgres { "(phone COLLATE \"C\")" } else { "phone" };
                // A bound is normalized as a stored phone (a whole number), else as a
                // prefix (its digits, a leading 0 read as the country code); a bound
                // that is neither compares as written.
                let region = self.region;
                let bound = |v: &str| phone::readings(v, region).into_iter().next().or_else(|| phone_prefix(v, region));
                self.compare(column, lower, upper, |v| Ok(Param::Text(bound(v).unwrap_or_else(|| v.to_string()))))?;
                self.push(")");
                Ok(())
            }
            Target::Custom(key) => self.custom_range(&key, lower, upper, pos),
        }
    }

    /// `column` within the bounds, each read by `bind`.
    fn compare(
        &mut self,
        column: &str,
        lower: &Bound,
        upper: &Bound,
        bind: impl Fn(&str) -> Result<Param, QueryError>,
    ) -> Result<(), QueryError> {
        self.each_bound(lower, upper, |c, value, op| {
            c.push(&format!("{column} {op} ?"));
            c.out.params.push(bind(value)?);
            Ok(())
        })
    }

    /// The bounds that are set, each written by `emit` with its comparison, joined by
    /// AND in parentheses.
    fn each_bound(
        &mut self,
        lower: &Bound,
        upper: &Bound,
        mut emit: impl FnMut(&mut Self, &str, &str) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        self.joined(bound_ops(lower, upper), " AND ", |c, (value, op)| emit(c, value, op))
    }

    /// `items`, each written by `emit`, joined by `op` in parentheses.
    fn joined<T, E>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        op: &str,
        mut emit: impl FnMut(&mut Self, T) -> Result<(), E>,
    ) -> Result<(), E> {
        self.push("(");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(op);
            }
            emit(self, item)?;
        }
        self.push(")");
        Ok(())
    }

    /// A range over a custom field: a number held as a number compares with number
    /// bounds as numbers; otherwise some word of the field (folded, so case and
    /// accents aside) lies in the range. A contact without the field is outside it.
    fn custom_range(&mut self, key: &str, lower: &Bound, upper: &Bound, pos: usize) -> Result<(), QueryError> {
        let path = self.json_path(key, pos)?;
        let numeric = [lower, upper].iter().all(|b| match b {
            Bound::Open => true,
            Bound::Inclusive(v) | Bound::Exclusive(v) => decimal(v),
        });
        self.push("(");
        if numeric {
            // CASE: a number never also compares as words.
            self.numeric_case(&path);
            self.each_bound(lower, upper, |c, v, op| {
                c.compare_number(&path, v, op);
                Ok(())
            })?;
            self.push(" ELSE ");
        }
        match self.dialect {
            Dialect::Sqlite => {
                self.push("EXISTS (SELECT 1 FROM json_each(c.field_words, ?) WHERE ");
                self.text(format!("{path}.w"));
                self.compare("value", lower, upper, |v| Ok(Param::Text(text::fold(v))))?;
            }
            Dialect::Postgres => {
                self.push(
                    "EXISTS (SELECT 1 FROM jsonb_array_elements_text(c.field_words -> ?::text -> 'w') AS w(v) WHERE ",
                );
                self.text(path);
                self.compare("(w.v COLLATE \"C\")", lower, upper, |v| Ok(Param::Text(text::fold(v))))?;
            }
        }
        self.push(")");
        if numeric {
            self.push(" END");
        }
        self.push(")");
        Ok(())
    }
}

/// The bounds that are set, each with its comparison: `>=`/`>` below, `<=`/`<` above.
fn bound_ops<'a>(lower: &'a Bound, upper: &'a Bound) -> impl Iterator<Item = (&'a String, &'static str)> {
    [(lower, ">=", ">"), (upper, "<=", "<")].into_iter().filter_map(|(bound, inclusive, exclusive)| match bound {
        Bound::Open => None,
        Bound::Inclusive(v) => Some((v, inclusive)),
        Bound::Exclusive(v) => Some((v, exclusive)),
    })
}

/// Whether `v` is a decimal number (`5`, `-4.5`, `0.25`, `1e3`, `2.5E-2`), as a term
/// or range bound compares with a custom field holding a JSON number. An exponent
/// has at most three digits: both databases hold such numbers.
fn decimal(v: &str) -> bool {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (v, exponent) = v.split_once(['e', 'E']).unwrap_or((v, "0"));
    let exponent = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
    let digits = v.strip_prefix('-').unwrap_or(v);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    all_digits(whole) && all_digits(fraction) && all_digits(exponent) && exponent.len() <= 3
}

/// A date bound: epoch seconds.
fn epoch(value: &str, name: &str, pos: usize) -> Result<Param, QueryError> {
    value
        .parse::<i64>()
        .map(Param::Int)
        .map_err(|_| QueryError { pos, msg: format!("expected a number (epoch seconds) for '{name}', not '{value}'") })
}

fn number(value: &Value, pos: usize) -> Result<i64, QueryError> {
    match value {
        Value::Word(w) | Value::Phrase(w) => w
            .trim()
            .parse()
            .map_err(|_| QueryError { pos, msg: format!("expected a number (epoch seconds), not '{w}'") }),
        Value::Prefix(_) => Err(QueryError { pos, msg: "a date field does not take a wildcard".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;
    use proptest::prelude::*;

    const SCOPE: Scope<'static> = Scope { account_id: "ACX", portal_id: "PTX" };

    fn sql(q: &str) -> Compiled {
        compile(&parse(q).unwrap(), Dialect::Sqlite, SCOPE, &Region::vietnam()).unwrap()
    }

    #[test]
    fn terms_choose_the_word_form() {
        let c = sql("name:dai");
        assert!(c.sql.contains("name_words"), "{}", c.sql);
        assert_eq!(c.params, [Param::Text("PTX 1dai".into())]);
        let c = sql("name:Đài");
        assert_eq!(c.params, [Param::Text("PTX 0đài".into())]);
        assert!(c.word_count.is_some());
        assert!(sql("name:\"chị soa\"").word_count.is_none());
        // On PostgreSQL the word index leads with the account.
        let c = compile(&parse("name:dai").unwrap(), Dialect::Postgres, SCOPE, &Region::vietnam()).unwrap();
        assert_eq!(c.params, [Param::Text("ACX".into()), Param::Text("PTX 1dai".into())]);
    }

    #[test]
    fn postgres_plans_a_few_contact_sets_as_joins_and_hashes_the_rest() {
        let sql = "c.seq IN (SELECT a FROM t WHERE (x = ?)) AND (c.seq IN (SELECT b FROM u) OR NOT c.seq IN (SELECT \
                   w0.c FROM w w0 JOIN w w1 ON (w1.c = w0.c))) AND c.name_key <> ''";
        assert_eq!(
            bound_semijoins(sql, 1),
            "c.seq IN (SELECT a FROM t WHERE (x = ?)) AND (((c.seq IN (SELECT b FROM u)) IS TRUE) OR NOT \
             ((c.seq IN (SELECT w0.c FROM w w0 JOIN w w1 ON (w1.c = w0.c))) IS TRUE)) AND c.name_key <> ''"
        );
        assert_eq!(bound_semijoins(sql, 3), sql);
        // Three hundred words ANDed: four joins, the rest hashed, the values unmoved.
        let query = (0..300).map(|i| format!("name:w{i}")).collect::<Vec<_>>().join(" AND ");
        let pg = compile(&parse(&query).unwrap(), Dialect::Postgres, SCOPE, &Region::vietnam()).unwrap();
        assert_eq!(pg.sql.matches(") IS TRUE)").count(), 296, "{}", pg.sql);
        assert_eq!(pg.sql.matches('?').count(), pg.params.len());
        let lite = compile(&parse(&query).unwrap(), Dialect::Sqlite, SCOPE, &Region::vietnam()).unwrap();
        assert!(!lite.sql.contains("IS TRUE"));
    }

    #[test]
    fn selective_queries_are_marked() {
        assert!(sql("name:linh").selective);
        assert!(sql("phone:0901234567 AND city:hue").selective);
        assert!(!sql("linh").selective);
        assert!(!sql("name:linh OR city:hue").selective);
        assert!(!sql("*:*").selective);
    }

    #[test]
    fn postgres_reads_custom_fields_from_jsonb_by_key() {
        let c = compile(&parse("city:Huế").unwrap(), Dialect::Postgres, SCOPE, &Region::vietnam()).unwrap();
        assert_eq!(c.sql, "COALESCE(strpos(c.field_words -> ?::text ->> 'k', ?) > 0, FALSE)");
        assert_eq!(c.params, [Param::Text("city".into()), Param::Text(" huế ".into())]);
        let c = compile(&parse("city:\"Da nan\"").unwrap(), Dialect::Sqlite, SCOPE, &Region::vietnam()).unwrap();
        assert_eq!(c.params, [Param::Text("$.\"city\".k".into()), Param::Text(" da nan ".into())]);
        let c = compile(&parse("city:nan*").unwrap(), Dialect::Sqlite, SCOPE, &Region::vietnam()).unwrap();
        assert_eq!(c.params[1], Param::Text(" nan".into()));
        let c = compile(&parse("age:>30").unwrap(), Dialect::Postgres, SCOPE, &Region::vietnam()).unwrap();
        assert!(c.sql.contains("::numeric > ?::text::numeric"), "{}", c.sql);
        assert_eq!(c.params[2], Param::Text("30".into()));
        // A decimal bound or term compares as a number too (with `age` a JSON number).
        let c = compile(&parse("age:[4.5 TO 10]").unwrap(), Dialect::Sqlite, SCOPE, &Region::vietnam()).unwrap();
        assert!(c.sql.contains("json_extract(c.fields, ?) >= CAST(? AS REAL)"), "{}", c.sql);
        let c = compile(&parse("age:5").unwrap(), Dialect::Postgres, SCOPE, &Region::vietnam()).unwrap();
        assert!(c.sql.starts_with("(CASE WHEN jsonb_typeof"), "{}", c.sql);
        assert!(c.sql.contains("::numeric = ?::text::numeric ELSE COALESCE(strpos"), "{}", c.sql);
        for (v, is) in
            [("5", true), ("-4.5", true), ("0.25", true), ("4.", false), (".5", false), ("1e3", true), ("-", false)]
                .into_iter()
                .chain([("2.5E-2", true), ("1e+999", true), ("1e1000", false), ("1e", false), ("e3", false)])
        {
            assert_eq!(decimal(v), is, "{v}");
        }
    }

    #[test]
    fn phones_are_normalized() {
        let c = sql("phone:0901234567");
        assert_eq!(c.params[1], Param::Text("84901234567".into()));
        let c = sql("phone:0343*");
        assert_eq!(c.params[1], Param::Text("84343".into()));
    }

    #[test]
    fn bad_values_are_refused_with_positions() {
        let e = compile(&parse("x created:abc").unwrap(), Dialect::Sqlite, SCOPE, &Region::vietnam()).unwrap_err();
        assert_eq!(e.to_string(), "expected a number (epoch seconds), not 'abc' at 2");
        let e = compile(&parse("created:[a TO 5]").unwrap(), Dialect::Sqlite, SCOPE, &Region::vietnam()).unwrap_err();
        assert_eq!(e.to_string(), "expected a number (epoch seconds) for 'created', not 'a' at 0");
        assert!(compile(&parse("name:[a TO b]").unwrap(), Dialect::Sqlite, SCOPE, &Region::vietnam()).is_ok());
    }

    /// Literals carry a marker that must never show up in the SQL text.
    fn literal() -> impl Strategy<Value = String> {
        "[a-z0-9]{0,6}".prop_map(|s| format!("zqx{s}"))
    }

    fn field() -> impl Strategy<Value = Field> {
        prop_oneof![
            Just(Field::Default),
            prop::sample::select(vec!["id", "name", "phone", "email", "created", "updated", "city", "fields.zqxkey"])
                .prop_map(|f| Field::Named(f.to_string())),
        ]
    }

    fn tree() -> impl Strategy<Value = Node> {
        let value = prop_oneof![
            literal().prop_map(Value::Word),
            literal().prop_map(|l| Value::Phrase(format!("{l} {l}"))),
            literal().prop_map(Value::Prefix),
            Just(Value::Word("1564592400".into())),
        ];
        let leaf = prop_oneof![
            Just(Node::All),
            (field(), value).prop_map(|(field, value)| Node::Term { field, value, pos: 0 }),
            (prop::sample::select(vec!["created", "email", "zqxcustom"]), literal(), literal()).prop_map(
                |(f, a, b)| {
                    Node::Range {
                        field: Field::Named(f.into()),
                        lower: Bound::Inclusive(a),
                        upper: Bound::Exclusive(b),
                        pos: 0,
                    }
                }
            ),
            prop::sample::select(vec!["email", "phone", "zqxcustom"])
                .prop_map(|f| Node::Exists { field: f.into(), pos: 0 }),
        ];
        leaf.prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..3).prop_map(Node::And),
                prop::collection::vec(inner.clone(), 2..3).prop_map(Node::Or),
                inner.prop_map(|n| Node::Not(Box::new(n))),
            ]
        })
    }

    proptest! {
        #[test]
        fn every_literal_is_bound(node in tree()) {
            for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                if let Ok(c) = compile(&node, dialect, SCOPE, &Region::vietnam()) {
                    prop_assert!(!c.sql.contains("zqx"), "{}", c.sql);
                    prop_assert!(!c.sql.contains("ACX") && !c.sql.contains("PTX"), "{}", c.sql);
                    prop_assert_eq!(c.sql.matches('?').count(), c.params.len(), "{}", c.sql);
                }
            }
        }
    }
}
