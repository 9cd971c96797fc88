//! CRM contacts: the people a campaign's customers are drawn from.

use serde::Serialize;
use serde_json::{Map, Value};

use super::phone::{self, Region};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub phones: Vec<String>,
    pub email: String,
    pub fields: Map<String, Value>,
    pub portal: String,
    pub created: i64,
    pub updated: i64,
}

/// Contact data as a request gives it, before checking; absent fields are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactFields {
    pub name: Option<String>,
    /// Raw phone cells, each possibly holding several numbers.
    pub phones: Option<Vec<String>>,
    pub email: Option<String>,
    pub fields: Option<Map<String, Value>>,
    pub portal: Option<String>,
}

/// Checked contact data: phones normalized, custom fields of scalar values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactDraft {
    pub name: Option<String>,
    pub phones: Option<Vec<String>>,
    pub email: Option<String>,
    pub fields: Option<Map<String, Value>>,
    pub portal: Option<String>,
    /// Phone numbers that are not possible numbers: dropped, for the answer to
    /// report (CONTRACT §6).
    pub dropped_phones: Vec<String>,
}

impl ContactFields {
    /// Checks every field present; the error names the field and the bad value.
    pub fn check(self, region: &Region) -> Result<ContactDraft, String> {
        let name = match self.name {
            Some(n) if n.chars().count() > 200 => {
                return Err("name is longer than 200 characters".into());
            }
            Some(n) => Some(n.trim().to_string()),
            None => None,
        };
        let mut dropped_phones = Vec::new();
        let phones = match self.phones {
            Some(cells) => {
                let parsed = phone::parse_cells(cells.iter().map(String::as_str), region);
                if let Some(why) = parsed.too_many() {
                    return Err(format!("phones: {why}; a contact holds at most {}", phone::MAX_PHONES));
                }
                dropped_phones = parsed.invalid;
                Some(parsed.valid)
            }
            None => None,
        };
        let email = match self.email {
            Some(e) => Some(parse_email(&e)?),
            None => None,
        };
        let fields = match self.fields {
            Some(f) => Some(check_custom_fields(f)?),
            None => None,
        };
        Ok(ContactDraft { name, phones, email, fields, portal: self.portal, dropped_phones })
    }
}

fn parse_email(email: &str) -> Result<String, String> {
    let email = email.trim();
    if email.is_empty() || looks_like_email(email) {
        Ok(email.to_string())
    } else {
        Err(format!("email '{email}' is not an email address"))
    }
}

/// Whether `email` is an address as people write one: `local@domain`, one `@`, a
/// local part of at most 64 characters without spaces, quotes, brackets, commas,
/// semicolons or colons (so `mailto:a@b.co`, `<a@b.co>` and two addresses in one
/// field are not one), not starting, ending or doubling its dots; a domain of at
/// least two labels of letters, digits and inner hyphens (internationalized names
/// included), the last of two characters or more and not all digits; 254 in all.
pub fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    let local_ok = !local.is_empty()
        && local.chars().count() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:\"@".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.chars().count() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    let top_ok = labels.last().is_some_and(|t| t.chars().count() >= 2 && !t.chars().all(|c| c.is_ascii_digit()));
    email.len() <= 254 && local_ok && labels.len() >= 2 && labels.iter().all(label_ok) && top_ok
}

fn check_custom_fields(fields: Map<String, Value>) -> Result<Map<String, Value>, String> {
    for (key, value) in &fields {
        if key.trim().is_empty() || key.chars().count() > 100 {
            return Err(format!("fields: key '{key}' must be 1 to 100 characters"));
        }
        if value.is_object() || value.is_array() {
            return Err(format!("fields.{key} must be a string, number, boolean or null"));
        }
    }
    Ok(fields)
}

impl ContactDraft {
    /// Applies the draft over an existing contact (or a blank one for a new contact).
    pub fn apply(self, mut c: Contact) -> Contact {
        c.name = self.name.unwrap_or(c.name);
        c.phones = self.phones.unwrap_or(c.phones);
        c.email = self.email.unwrap_or(c.email);
        c.fields = self.fields.unwrap_or(c.fields);
        c.portal = self.portal.unwrap_or(c.portal);
        c
    }
}

impl Contact {
    pub fn blank(id: String, portal: String, now: i64) -> Contact {
        Contact {
            id,
            name: String::new(),
            phones: Vec::new(),
            email: String::new(),
            fields: Map::new(),
            portal,
            created: now,
            updated: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phones_are_normalized_and_deduplicated() {
        let f = ContactFields {
            phones: Some(vec!["0901234567".into(), "84901234567, 0912345678".into()]),
            ..Default::default()
        };
        let d = f.check(&Region::vietnam()).unwrap();
        assert_eq!(d.phones.unwrap(), ["84901234567", "84912345678"]);
    }

    #[test]
    fn bad_values_are_named() {
        let vn = Region::vietnam();
        // Impossible numbers are dropped and reported, not refused (CONTRACT §6).
        let f = ContactFields { phones: Some(vec!["12ab".into(), "0901234567".into()]), ..Default::default() };
        let d = f.check(&vn).unwrap();
        assert_eq!((d.phones.unwrap(), d.dropped_phones), (vec!["84901234567".to_string()], vec!["12ab".to_string()]));
        let f = ContactFields { email: Some("nope".into()), ..Default::default() };
        assert_eq!(f.check(&vn).unwrap_err(), "email 'nope' is not an email address");
        for good in
            ["a@b.co", "first.last+tag@mail.example.vn", "o'neil@ex-ample.com", "lan@trường.vn", "x_y@sub.a1.io"]
        {
            assert!(looks_like_email(good), "{good}");
        }
        for bad in [
            "a@@b.co",
            "a@.co",
            "a@b..co",
            "a@b.c@d.co",
            "<a@b.co>",
            "a@b.co,c@d.co",
            "mailto:a@b.co",
            "a@-b.co",
            "a@b-.co",
            "a@b",
            "@b.co",
            "a b@c.co",
            ".a@b.co",
            "a.@b.co",
            "a..b@c.co",
            "a@b.c",
            "a@1.23",
            "\"a\"@b.co",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
        let mut m = Map::new();
        m.insert("tags".into(), json!(["a"]));
        let f = ContactFields { fields: Some(m), ..Default::default() };
        assert_eq!(f.check(&vn).unwrap_err(), "fields.tags must be a string, number, boolean or null");
    }
}

/// The text of a custom field's value, as its words are read from it: a string as
/// it is, a number or boolean as written, a list's items one after another.
fn field_text(value: &Value, out: &mut String) {
    match value {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            for item in items {
                out.push(' ');
                field_text(item, out);
            }
        }
        other => out.push_str(&other.to_string()),
    }
}

/// What the filter language searches in a contact's custom fields (CONTRACT §7):
/// for each field with at least one word, `k` is " lowercase words | folded words "
/// (a term, prefix or phrase is found as ` word `, ` word` or ` w1 w2 ` in it, and
/// the bar keeps a phrase from running from one form into the other) and `w` the
/// folded words, which ranges compare. As JSON text, stored beside the fields.
pub fn field_words(fields: &Map<String, Value>) -> String {
    let mut out = Map::new();
    let mut text = String::new();
    for (key, value) in fields {
        text.clear();
        field_text(value, &mut text);
        let words: Vec<&str> = super::customer::name_words(&text).collect();
        if words.is_empty() {
            continue;
        }
        let lower: Vec<String> = words.iter().map(|w| super::text::lower(w)).collect();
        let folded: Vec<String> = lower.iter().map(|w| super::text::fold(w)).collect();
        let k = format!(" {} | {} ", lower.join(" "), folded.join(" "));
        out.insert(key.clone(), serde_json::json!({"k": k, "w": folded}));
    }
    Value::Object(out).to_string()
}

/// The field words of a contact's stored `fields` (JSON text) when they differ from
/// the `stored` ones (JSON text, `None` when never computed): what a store writes
/// when its folding rules changed (`customer::word_index_version`).
pub fn field_words_again(fields: &str, stored: Option<&str>) -> Option<String> {
    let fields: Map<String, Value> = serde_json::from_str(fields).unwrap_or_default();
    let words = field_words(&fields);
    let same = stored
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .is_some_and(|old| serde_json::from_str::<Value>(&words).is_ok_and(|new| new == old));
    (!same).then_some(words)
}

#[cfg(test)]
mod field_word_tests {
    use super::*;

    #[test]
    fn custom_fields_keep_their_words_in_both_forms() {
        let fields: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "city": "Đà Nẵng", "tier": 5, "tags": ["VIP", "hồ-sơ"], "empty": "", "none": null, "dash": "--"
        }))
        .unwrap();
        let words: Value = serde_json::from_str(&field_words(&fields)).unwrap();
        assert_eq!(
            words,
            serde_json::json!({
                "city": {"k": " đà nẵng | da nang ", "w": ["da", "nang"]},
                "tier": {"k": " 5 | 5 ", "w": ["5"]},
                "tags": {"k": " vip hồ sơ | vip ho so ", "w": ["vip", "ho", "so"]},
            })
        );
        assert_eq!(field_words(&Map::new()), "{}");
    }
}
