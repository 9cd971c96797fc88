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
    Agent,
    Group,
    Claim,
    Job,
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
            IdKind::Agent => ("AG", 6, UPPER),
            IdKind::Group => ("GR", 6, UPPER),
            IdKind::Claim => ("CL", 10, UPPER),
            IdKind::Job => ("JB", 10, UPPER),
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

    /// Fresh ids of this kind for many rows written at once; see [`IdRun`].
    pub fn run(self) -> IdRun {
        IdRun::new(self)
    }

    /// Whether `s` has this kind's shape (prefix, length and alphabet).
    pub fn matches(self, s: &str) -> bool {
        let (prefix, len, alphabet) = self.shape();
        s.strip_prefix(prefix).is_some_and(|rest| rest.len() == len && rest.bytes().all(|b| alphabet.contains(&b)))
    }
}

/// Longest id a request may name; a longer one is refused rather than looked up.
pub const MAX_ID_CHARS: usize = 256;

/// Why a CRM contact id from a file row or a `listcontacts` entry cannot be kept,
/// if it cannot: past [`MAX_ID_CHARS`] (an id is a key of several indexes, and
/// PostgreSQL refuses an index entry past about 2.7 kB).
pub fn crm_id_problem(id: &str) -> Option<String> {
    (id.chars().count() > MAX_ID_CHARS).then(|| format!("id is longer than {MAX_ID_CHARS} characters"))
}

/// An id of one kind as it crosses into the store: made by `parse` from a request
/// (any text but a NUL byte, at most [`MAX_ID_CHARS`]: an id naming nothing is the
/// store's "not found", not a malformed request), or by `trusted` from what the
/// store itself handed out. One kind cannot be passed where another is wanted.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// An id sent by a client, trimmed; the error names what it is.
            pub fn parse(text: &str) -> Result<$name, String> {
                let text = text.trim();
                if text.is_empty() {
                    return Err(format!("{} id must not be empty", $what));
                }
                if text.contains('\0') {
                    return Err(format!("{} id contains a NUL byte", $what));
                }
                if text.chars().count() > MAX_ID_CHARS {
                    return Err(format!("{} id is longer than {MAX_ID_CHARS} characters", $what));
                }
                Ok($name(text.to_string()))
            }

            /// An id the store gave out or read back.
            pub fn trusted(id: impl Into<String>) -> $name {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_id!(
    /// A tenant; only authentication makes one, from the key a token names.
    AccountId,
    "account"
);
text_id!(CampaignId, "campaign");
text_id!(
    /// A CRM contact (`CT` + 8 for those callsheet makes; a file may name others).
    ContactId,
    "contact"
);
text_id!(FilterId, "filter");
text_id!(PortalId, "portal");
text_id!(
    /// An API key's public half, the token's `iss`.
    KeySid,
    "key"
);
text_id!(AgentId, "agent");
text_id!(GroupId, "group");
text_id!(
    /// One hand-out of a customer to an agent (`CL` + 10).
    ClaimId,
    "claim"
);

text_id!(
    /// Background work, such as a large upload (`JB` + 10).
    JobId,
    "job"
);

/// A campaign customer: the reference's integer id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct CustomerId(pub i64);

impl CustomerId {
    /// An id sent as text (a path) or a number; the error names what it must be.
    pub fn parse(text: &str) -> Result<CustomerId, String> {
        super::parse_integer(text).map(CustomerId).ok_or_else(|| format!("customer id '{text}' must be an integer"))
    }
}

impl std::fmt::Display for CustomerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where fresh ids come from: one kind's random ids, or a run of them.
pub trait IdSource {
    fn kind(&self) -> IdKind;
    fn next_id(&mut self) -> String;
}

impl IdSource for IdKind {
    fn kind(&self) -> IdKind {
        *self
    }

    fn next_id(&mut self) -> String {
        self.generate()
    }
}

/// Ids for many rows written at once, in blocks: a block's ids share a random
/// head (all but the last [`BLOCK_CHARS`] characters), and their last characters
/// are a keyed permutation of the block's count, drawn afresh for each block. They
/// look random, yet a bulk import's new rows land in one small spot of the id index
/// at a time (46,656 ids of letters and digits), where ids random throughout would
/// each touch a different page of it, and so run out of cache on a million rows.
/// They keep the kind's shape and are unique only by the database's check, as
/// random ids are.
#[derive(Debug, Clone)]
pub struct IdRun {
    kind: IdKind,
    /// How many ids the kind's shape has room for, and one block.
    space: u64,
    block: u64,
    /// The block's head (its first id as a number) and the count within it.
    head: u64,
    count: u64,
    /// The block's permutation's round keys.
    keys: [u32; 4],
}

/// How many of an id's last characters vary within one block of a run.
const BLOCK_CHARS: u32 = 3;

impl IdRun {
    fn new(kind: IdKind) -> IdRun {
        let (_, len, alphabet) = kind.shape();
        let base = alphabet.len() as u64;
        let space = base.checked_pow(len as u32).expect("an id run needs ids that fit 64 bits");
        let block = base.pow(BLOCK_CHARS).min(space);
        assert!(block <= 1 << 16, "a block is permuted within 16 bits");
        let mut run = IdRun { kind, space, block, head: 0, count: 0, keys: [0; 4] };
        run.next_block();
        run
    }

    fn next_block(&mut self) {
        self.head = rand::random_range(0..self.space / self.block) * self.block;
        self.count = 0;
        self.keys = rand::random();
    }

    /// A bijection of 0..2^16 (a four-round Feistel network on two bytes), walked
    /// until it falls inside the block: a bijection of 0..block.
    fn permute(&self, mut x: u64) -> u64 {
        loop {
            let (mut l, mut r) = ((x >> 8) as u32 & 0xFF, x as u32 & 0xFF);
            for k in self.keys {
                let f = (r.wrapping_add(k).wrapping_mul(0x9E37_79B1) >> 24) & 0xFF;
                (l, r) = (r, l ^ f);
            }
            x = u64::from((l << 8) | r);
            if x < self.block {
                return x;
            }
        }
    }
}

impl IdSource for IdRun {
    fn kind(&self) -> IdKind {
        self.kind
    }

    fn next_id(&mut self) -> String {
        if self.count == self.block {
            self.next_block();
        }
        let n = self.head + self.permute(self.count);
        self.count += 1;
        let (prefix, len, alphabet) = self.kind.shape();
        let base = alphabet.len() as u64;
        let mut id = String::with_capacity(prefix.len() + len);
        id.push_str(prefix);
        let mut digits = vec![0u8; len];
        let mut rest = n;
        for d in digits.iter_mut().rev() {
            *d = alphabet[(rest % base) as usize];
            rest /= base;
        }
        id.extend(digits.into_iter().map(char::from));
        id
    }
}

#[cfg(test)]
mod tests {
    use super::{IdKind, IdSource};

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
    fn request_ids_are_parsed_not_trusted() {
        use super::{CampaignId, CustomerId};
        assert_eq!(CampaignId::parse(" CA123456 ").unwrap().as_str(), "CA123456");
        // Any text names a campaign or none: that is the store's to say.
        assert_eq!(CampaignId::parse("nope").unwrap().as_str(), "nope");
        assert_eq!(CampaignId::parse("  ").unwrap_err(), "campaign id must not be empty");
        assert_eq!(CampaignId::parse("CA\0").unwrap_err(), "campaign id contains a NUL byte");
        assert!(CampaignId::parse(&"x".repeat(300)).is_err());
        assert_eq!(CustomerId::parse("17"), Ok(CustomerId(17)));
        assert!(CustomerId::parse("x").is_err());
    }

    #[test]
    fn shapes_are_checked() {
        assert!(IdKind::Campaign.matches("CATJVS9M"));
        assert!(!IdKind::Campaign.matches("CATJVS"));
        assert!(!IdKind::Campaign.matches("CAtjvs9m"));
        assert!(!IdKind::Contact.matches("CA12345678"));
        assert!(!IdKind::Portal.matches("pt_ZDM328WWMN3PIZY0"));
    }

    #[test]
    fn a_run_hands_out_distinct_unordered_ids_of_the_same_shape_in_blocks() {
        let mut run = IdKind::Contact.run();
        // Two blocks and some.
        let ids: Vec<String> = (0..100_000).map(|_| run.next_id()).collect();
        assert!(ids.iter().all(|id| IdKind::Contact.matches(id)), "{ids:?}");
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "a block never repeats an id");
        // Not in order: about half of neighbours go down.
        let down = ids.windows(2).filter(|w| w[0] > w[1]).count();
        assert!((30_000..70_000).contains(&down), "{down} of 100000 go down");
        // A block shares its head: 46,656 ids, then another head.
        let heads: std::collections::HashSet<&str> = ids.iter().map(|id| &id[..7]).collect();
        assert_eq!(heads.len(), 3, "{heads:?}");
        assert!(ids[..46_656].iter().all(|id| id[..7] == ids[0][..7]));
        // Two runs start at unrelated places.
        assert_ne!(IdKind::Contact.run().next_id()[..7], IdKind::Contact.run().next_id()[..7]);
    }
}
