//! What both stores do with rows once they have read them: finding the phones held
//! twice in a campaign, planning keepduplicate, and turning import entries into
//! CRM contacts. Keeping it here makes the two backends answer alike.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::{DuplicateGroup, KeepOutcome, StoreError, StoreResult};
use crate::domain::contact::Contact;
use crate::domain::customer::{AddOutcome, CustomerFilter, InvalidRow, NewCustomer};
use crate::domain::ids::CampaignId;
use crate::domain::page::Page;

/// A stored phone as a number (E.164 digits have no leading zero and fit in u64).
pub fn phone_key(phone: &str) -> Option<u64> {
    phone.parse().ok()
}

/// Collects a campaign's customers, visited in id order, and finds the phones two
/// or more of them hold. Phones are kept as numbers and names in one arena; a sort
/// then brings each phone's holders together.
#[derive(Default)]
pub struct DuplicateFinder {
    ids: Vec<i64>,
    names: String,
    name_ends: Vec<usize>,
    pairs: Vec<(u64, u32)>,
}

impl DuplicateFinder {
    pub fn with_capacity(customers: usize) -> DuplicateFinder {
        DuplicateFinder {
            ids: Vec::with_capacity(customers),
            names: String::new(),
            name_ends: Vec::with_capacity(customers),
            pairs: Vec::with_capacity(customers),
        }
    }

    /// One customer, with its phones comma-separated as stored.
    pub fn visit(&mut self, id: i64, name: &str, phones: &str) {
        let row = self.ids.len() as u32;
        self.ids.push(id);
        self.names.push_str(name);
        self.name_ends.push(self.names.len());
        self.pairs.extend(phones.split(',').filter_map(phone_key).map(|key| (key, row)));
    }

    /// Phones held by two or more customers, ascending, each with its customers by id.
    pub fn groups(mut self) -> Vec<DuplicateGroup> {
        // Rows came in id order, so within one phone the sort keeps customers by id.
        self.pairs.sort_unstable();
        let name_of = |row: u32| {
            let row = row as usize;
            let start = if row == 0 { 0 } else { self.name_ends[row - 1] };
            self.names[start..self.name_ends[row]].to_string()
        };
        let mut groups: Vec<DuplicateGroup> = self
            .pairs
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|run| run.len() > 1)
            .map(|run| DuplicateGroup {
                phone: run[0].0.to_string(),
                customers: run.iter().map(|&(_, row)| (self.ids[row as usize], name_of(row))).collect(),
            })
            .collect();
        // Numbers of one length sort as their text does; across lengths they may not.
        groups.sort_by(|a, b| a.phone.cmp(&b.phone));
        groups
    }
}

/// A change keepduplicate makes to one customer that loses a phone.
#[derive(Debug, Clone, PartialEq)]
pub enum KeepChange {
    /// The customer had no other phone: it leaves the campaign.
    Remove(i64),
    /// The customer keeps these phones (comma-separated).
    Rewrite(i64, String),
}

/// keepduplicate over one pass of the campaign: each visited customer either holds
/// a named phone as its keeper, or loses it.
pub struct KeepPlan<'a> {
    keep: &'a [(String, i64)],
    keepers: HashMap<&'a str, i64>,
    held: HashSet<(i64, &'a str)>,
    losers: Vec<(i64, Vec<String>)>,
}

impl<'a> KeepPlan<'a> {
    pub fn new(keep: &'a [(String, i64)]) -> KeepPlan<'a> {
        KeepPlan {
            keep,
            keepers: keep.iter().map(|(phone, id)| (phone.as_str(), *id)).collect(),
            held: HashSet::new(),
            losers: Vec::new(),
        }
    }

    /// One customer of the campaign, with its phones comma-separated as stored;
    /// true when it loses a phone.
    pub fn visit(&mut self, id: i64, phones: &str) -> bool {
        let mut lost = false;
        for phone in phones.split(',') {
            match self.keepers.get_key_value(phone) {
                Some((&named, &keeper)) if keeper == id => {
                    self.held.insert((id, named));
                }
                Some(_) => lost = true,
                None => {}
            }
        }
        if lost {
            self.losers.push((id, phones.split(',').map(str::to_string).collect()));
        }
        lost
    }

    /// The changes to make, once every pair was checked to name a customer of the
    /// campaign holding that phone; r=1 naming the first pair that does not.
    pub fn changes(self, campaign_id: &str) -> StoreResult<(Vec<KeepChange>, KeepOutcome)> {
        if let Some((phone, id)) = self.keep.iter().find(|(phone, id)| !self.held.contains(&(*id, phone.as_str()))) {
            return Err(StoreError::Invalid(format!(
                "listKeepCustomer: customer {id} does not hold phone {phone} in campaign {campaign_id}"
            )));
        }
        let mut outcome = KeepOutcome::default();
        let mut changes = Vec::with_capacity(self.losers.len());
        for (id, phones) in self.losers {
            let before = phones.len();
            let kept: Vec<String> =
                phones.into_iter().filter(|p| self.keepers.get(p.as_str()).is_none_or(|&k| k == id)).collect();
            outcome.removed_phones += (before - kept.len()) as i64;
            if kept.is_empty() {
                changes.push(KeepChange::Remove(id));
                outcome.removed_customers += 1;
            } else {
                changes.push(KeepChange::Rewrite(id, kept.join(",")));
            }
        }
        Ok((changes, outcome))
    }
}

/// keepduplicate's changes as the history writes them down: the customers that
/// leave, and (customer, phones before, phones kept) for those that lose a phone.
pub fn split_changes(changes: &[KeepChange], before: &HashMap<i64, String>) -> (Vec<i64>, Vec<(i64, String, String)>) {
    let mut removed = Vec::new();
    let mut rewritten = Vec::new();
    for change in changes {
        match change {
            KeepChange::Remove(id) => removed.push(*id),
            KeepChange::Rewrite(id, kept) => {
                rewritten.push((*id, before.get(id).cloned().unwrap_or_default(), kept.clone()))
            }
        }
    }
    (removed, rewritten)
}

/// Customers between two page marks: a deep page starts from the mark before it.
pub const MARK_EVERY: i64 = 1000;
/// Campaigns whose marks are kept at once.
const MARK_CAMPAIGNS: usize = 64;

/// Every [`MARK_EVERY`]th customer id of a campaign, by id, for one `list_version`.
#[derive(Debug, Default)]
pub struct PageMarks {
    version: i64,
    ids: Vec<i64>,
    seen: i64,
}

impl PageMarks {
    pub fn new(version: i64) -> PageMarks {
        PageMarks { version, ..PageMarks::default() }
    }

    /// The campaign's customer ids are fed in order.
    pub fn visit(&mut self, id: i64) {
        self.seen += 1;
        if self.seen % MARK_EVERY == 0 {
            self.ids.push(id);
        }
    }

    /// Where a page at `offset` can start instead: after this id, at this offset.
    pub fn skip_to(&self, offset: i64) -> Option<(i64, i64)> {
        let skip = (offset / MARK_EVERY) as usize;
        let mark = *self.ids.get(skip.checked_sub(1)?)?;
        Some((mark, offset - skip as i64 * MARK_EVERY))
    }
}

/// Page marks by account and campaign (campaign ids are unique only within an
/// account), kept between requests and rebuilt when stale.
#[derive(Debug, Default)]
pub struct MarkCache(Mutex<HashMap<(String, String), Arc<PageMarks>>>);

impl MarkCache {
    /// The campaign's marks, if they were made for this `version` of its list.
    pub fn get(&self, account_id: &str, campaign_id: &str, version: i64) -> Option<Arc<PageMarks>> {
        let cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(&(account_id.to_string(), campaign_id.to_string())).filter(|m| m.version == version).cloned()
    }

    pub fn put(&self, account_id: &str, campaign_id: &str, marks: PageMarks) -> Arc<PageMarks> {
        let marks = Arc::new(marks);
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MARK_CAMPAIGNS {
            cache.clear();
        }
        cache.insert((account_id.to_string(), campaign_id.to_string()), marks.clone());
        marks
    }
}

/// Rows up to which a list page counts as one of the first: read in one quick step.
const QUICK_ROWS: i64 = 200;

/// The campaign whose whole list (no other filter) `page` is one of the first
/// pages of: the request a list's users make most, which each backend answers in
/// its quickest way.
pub fn first_page_of(filter: &CustomerFilter, page: Page) -> Option<&CampaignId> {
    let unfiltered = filter.status.is_none() && filter.name.is_none() && filter.phone.is_none();
    filter.campaign.as_ref().filter(|_| unfiltered && page.offset() + page.limit <= QUICK_ROWS)
}

/// Whether a page of a whole campaign list is deep enough to start from a mark.
pub fn worth_a_mark(offset: i64, total: i64) -> bool {
    offset >= 2 * MARK_EVERY && offset < total
}

/// The values a campaign's row stores beside its fields: the forms of its name that
/// campaign searches compare with, and its calling settings as JSON.
pub struct SearchNames {
    pub lower: String,
    pub folded: String,
    pub calling: String,
}

impl SearchNames {
    pub fn of(c: &crate::domain::campaign::Campaign) -> SearchNames {
        SearchNames {
            lower: crate::domain::text::lower(&c.name),
            folded: crate::domain::text::fold(&c.name),
            calling: serde_json::to_string(&c.calling).unwrap_or_else(|_| "{}".into()),
        }
    }
}

/// The status a campaign row shows: completed once its `end_time` (epoch ms) has passed.
pub fn shown_status(status: i64, end_time: i64) -> i64 {
    if end_time > 0 && crate::domain::now_ms() >= end_time {
        crate::domain::campaign::status::COMPLETED
    } else {
        status
    }
}

/// r=7 for an add to a completed campaign (CONTRACT §9.1).
pub fn open_for_adds(c: &crate::domain::campaign::Campaign) -> StoreResult<()> {
    if c.status_at(crate::domain::now_ms()) == crate::domain::campaign::status::COMPLETED {
        return Err(StoreError::Conflict(format!("campaign {} is completed; it takes no more customers", c.id)));
    }
    Ok(())
}

/// r=4 unless the account has the callable-hours set a campaign names.
pub fn require_hours(found: bool, id: Option<i64>) -> StoreResult<()> {
    match id {
        Some(id) if !found => Err(StoreError::NotFound(format!("callable-hours set {id} not found"))),
        _ => Ok(()),
    }
}

/// Calling settings read back from a campaign row's JSON; what is missing takes
/// its default.
pub fn calling_of(json: &str) -> crate::domain::campaign::Calling {
    serde_json::from_str(json).unwrap_or_default()
}

/// What adding from a filter did, into `outcome`: `added` customers, and the matches
/// passed over, in contact order, each the id of a contact the campaign held before
/// the request, that id after a '=' for one an earlier entry of the request added, or
/// after a '!' for a contact without a phone, reported as the request's `row`.
pub fn record_filter(outcome: &mut AddOutcome, row: i64, added: i64, passed_over: Vec<String>) {
    outcome.matched += added + passed_over.len() as i64;
    for mark in passed_over {
        if let Some(id) = mark.strip_prefix('!') {
            outcome.reject(InvalidRow { row, id: Some(id.to_string()), reason: "no phone".into() });
        } else if let Some(id) = mark.strip_prefix('=') {
            outcome.passed_over(row, id.to_string(), true);
        } else {
            outcome.passed_over(row, mark, false);
        }
    }
}

/// The query and portal of a saved filter that a request names: r=4 when the
/// account has no such filter, r=6 when its stored query no longer parses. The
/// portal the request names wins over the filter's own.
pub fn saved_query(
    saved: Option<crate::domain::filter::Filter>,
    id: &crate::domain::ids::FilterId,
    portal: Option<crate::domain::ids::PortalId>,
    region: &crate::domain::phone::Region,
) -> StoreResult<(crate::query::Query, Option<crate::domain::ids::PortalId>)> {
    let saved = saved.ok_or_else(|| StoreError::NotFound(format!("filter '{id}' not found")))?;
    let query = crate::query::Query::parse(&saved.query, region).map_err(StoreError::Query)?;
    Ok((query, portal.or(Some(crate::domain::ids::PortalId::trusted(saved.portal)))))
}

/// A customer ready to be written, whatever the backend.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyCustomer {
    pub crm_id: String,
    pub name: String,
    pub name_key: String,
    /// Comma-separated, as stored.
    pub phones: String,
    pub source: crate::domain::customer::Source,
    /// The entry's place in the request, for a report.
    pub row: i64,
}

/// An entry, with its CRM contact id settled (`crm_id`: the entry's own, or the new
/// contact made for it), as the customer to write: a name or phones the entry left
/// out are its CRM contact's (`contact`, when the account has it); an entry left
/// without any phone is reported, not added.
pub fn ready_customer(
    entry: NewCustomer,
    crm_id: String,
    contact: Option<(&str, &[String])>,
) -> Result<ReadyCustomer, InvalidRow> {
    let NewCustomer { mut name, mut phones, name_key: mut key, source, row, .. } = entry;
    if let Some((contact_name, contact_phones)) = contact.filter(|_| name.is_none() || phones.is_empty()) {
        if name.is_none() {
            key = None;
            name = Some(contact_name.to_string());
        }
        if phones.is_empty() {
            phones = contact_phones.to_vec();
        }
    }
    if phones.is_empty() {
        return Err(InvalidRow { row, id: Some(crm_id), reason: "no phone".into() });
    }
    let name = name.unwrap_or_default();
    let name_key = key.unwrap_or_else(|| crate::domain::customer::name_key(&name));
    Ok(ReadyCustomer { crm_id, name, name_key, phones: phones.join(","), source, row })
}

/// An entry with neither an id nor a phone cannot be a customer: reported.
pub fn needs_a_phone(entry: &NewCustomer) -> Option<InvalidRow> {
    (entry.crm_id.is_none() && entry.phones.is_empty()).then(|| InvalidRow {
        row: entry.row,
        id: None,
        reason: "no phone".into(),
    })
}

/// An imported entry laid over the contact it names: the values the row has win.
pub fn merge_entry(contact: &mut Contact, entry: NewCustomer) {
    if let Some(name) = entry.name {
        contact.name = name;
    }
    if !entry.phones.is_empty() {
        contact.phones = entry.phones;
    }
    if !entry.email.is_empty() {
        contact.email = entry.email;
    }
    contact.fields.extend(entry.fields);
}

/// A new CRM contact of `portal` for an entry; a foreign id is kept as the custom
/// field `external_id` when `keep_id` is set.
pub fn entry_contact(entry: &NewCustomer, portal: &str, now: i64, keep_id: bool) -> Contact {
    let mut fields = entry.fields.clone();
    if keep_id && let Some(id) = &entry.crm_id {
        fields.insert("external_id".into(), Value::String(id.clone()));
    }
    Contact {
        id: String::new(),
        name: entry.name.clone().unwrap_or_default(),
        phones: entry.phones.clone(),
        email: entry.email.clone(),
        fields,
        portal: portal.to_string(),
        created: now,
        updated: now,
    }
}

/// Says so in the log when removing a contact's name-word entries found fewer than
/// its stored name gives (`expected`): entries written from a name read differently
/// (a change in Unicode's tables between versions) stay behind, and a one-word
/// count would include them.
pub fn note_words_missing(expected: u64, removed: u64) {
    if removed < expected {
        tracing::warn!(expected, removed, "name-word entries missing when a contact's name changed or it went");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_phones_held_twice() {
        let mut f = DuplicateFinder::default();
        f.visit(1, "An", "84901,84902");
        f.visit(2, "Binh", "84902");
        f.visit(3, "Chi", "84901");
        f.visit(4, "Dung", "84903");
        let groups = f.groups();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].phone, "84901");
        assert_eq!(groups[0].customers, vec![(1, "An".to_string()), (3, "Chi".to_string())]);
        assert_eq!(groups[1].customers, vec![(1, "An".to_string()), (2, "Binh".to_string())]);
    }

    #[test]
    fn keep_plan_rewrites_or_removes_losers() {
        let keep = vec![("84901".to_string(), 1)];
        let mut plan = KeepPlan::new(&keep);
        plan.visit(1, "84901");
        plan.visit(2, "84901,84902");
        plan.visit(3, "84901");
        let (changes, outcome) = plan.changes("CA1").unwrap();
        assert_eq!(changes, vec![KeepChange::Rewrite(2, "84902".into()), KeepChange::Remove(3)]);
        assert_eq!(outcome, KeepOutcome { removed_phones: 2, removed_customers: 1 });
        let keep = vec![("84909".to_string(), 1)];
        let mut plan = KeepPlan::new(&keep);
        plan.visit(1, "84901");
        assert!(matches!(plan.changes("CA1"), Err(StoreError::Invalid(_))));
    }
}
