//! Random identifiers in the formats of the reference API (CONTRACT §5).

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const MIXED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The kinds of identifier callsheet hands out, each with its prefix and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Account,
    KeySid,
    KeySecret,
    Campaign,
    Contact,
    Filter,
    Portal,
}

impl IdKind {
    fn shape(self) -> (&'static str, usize, &'static [u8]) {
        match self {
            IdKind::Account => ("AC", 8, UPPER),
            IdKind::KeySid => ("SK", 30, MIXED),
            IdKind::KeySecret => ("", 32, MIXED),
            IdKind::Campaign => ("CA", 6, UPPER),
            IdKind::Contact => ("CT", 8, UPPER),
            IdKind::Filter => ("FT", 8, UPPER),
            IdKind::Portal => ("pt_", 16, LOWER),
        }
    }

    /// A fresh random id of this kind.
    pub fn generate(self) -> String {
        let (prefix, len, alphabet) = self.shape();
        let mut id = String::with_capacity(prefix.len() + len);
        id.push_str(prefix);
        for _ in 0..len {
            id.push(alphabet[rand::random_range(0..alphabet.len())] as char);
        }
        id
    }

    /// Whether `s` has this kind's shape (prefix, length and alphabet).
    pub fn matches(self, s: &str) -> bool {
        let (prefix, len, alphabet) = self.shape();
        s.strip_prefix(prefix).is_some_and(|rest| rest.len() == len && rest.bytes().all(|b| alphabet.contains(&b)))
    }
}

#[cfg(test)]
mod tests {
    use super::IdKind;

    #[test]
    fn generated_ids_have_the_contract_shapes() {
        for (kind, prefix, total) in [
            (IdKind::Account, "AC", 10),
            (IdKind::KeySid, "SK", 32),
            (IdKind::Campaign, "CA", 8),
            (IdKind::Contact, "CT", 10),
            (IdKind::Filter, "FT", 10),
            (IdKind::Portal, "pt_", 19),
        ] {
            let id = kind.generate();
            assert!(id.starts_with(prefix), "{id}");
            assert_eq!(id.len(), total, "{id}");
            assert!(kind.matches(&id), "{id}");
        }
        let portal = IdKind::Portal.generate();
        assert_eq!(portal, portal.to_lowercase());
        let campaign = IdKind::Campaign.generate();
        assert_eq!(campaign, campaign.to_uppercase());
    }

    #[test]
    fn shapes_are_checked() {
        assert!(IdKind::Campaign.matches("CATJVS9M"));
        assert!(!IdKind::Campaign.matches("CATJVS"));
        assert!(!IdKind::Campaign.matches("CAtjvs9m"));
        assert!(!IdKind::Contact.matches("CA12345678"));
        assert!(!IdKind::Portal.matches("pt_ZDM328WWMN3PIZY0"));
    }
}
