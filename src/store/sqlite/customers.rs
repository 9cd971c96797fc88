//! Campaign customers: adding (from contacts, files, filters, phones), duplicates,
//! keepduplicate, listing and deleting.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params_from_iter, types::Value as Sql};
use tokio::sync::mpsc;

use super::{StoreError, StoreResult, campaigns, contacts, resolve_portal};
use crate::domain::campaign::Campaign;
use crate::domain::contact::Contact;
use crate::domain::customer::{AddOutcome, Customer, CustomerFilter, InvalidRow, NewCustomer, Source, name_key};
use crate::domain::now_secs;
use crate::domain::page::{Page, Paged};
use crate::store::{DuplicateGroup, Feed, KeepOutcome, PhonesOutcome, Target};

/// The campaign a request names, created first when the request makes a new one.
fn target_campaign(tx: &Transaction<'_>, account_id: &str, target: Target) -> StoreResult<Campaign> {
    match target {
        Target::New(fields) => campaigns::create(tx, account_id, fields),
        Target::Existing(id) => campaigns::get(tx, account_id, &id)?.ok_or(StoreError::CampaignNotFound(id)),
    }
}

/// Prepared statements and settings of one add transaction.
struct Adder<'a> {
    conn: &'a Connection,
    account_id: &'a str,
    campaign_id: String,
    default_portal: String,
    now: i64,
}

impl Adder<'_> {
    /// Inserts the customer and its phones; `None` when its contact is already in.
    fn insert_customer(&self, crm_id: &str, name: &str, phones: &[String], source: Source) -> StoreResult<Option<i64>> {
        let id: Option<i64> = self
            .conn
            .prepare_cached(
                "INSERT INTO customers (account_id, campaign_id, crm_id, name, name_key, type, insert_time) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (account_id, campaign_id, crm_id) DO NOTHING RETURNING id",
            )?
            .query_row(
                (self.account_id, &self.campaign_id, crm_id, name, name_key(name), source as i64, self.now),
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = id {
            let mut insert = self.conn.prepare_cached(
                "INSERT INTO customer_phones (account_id, campaign_id, customer_id, pos, phone, name) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (pos, phone) in phones.iter().enumerate() {
                insert.execute((self.account_id, &self.campaign_id, id, pos as i64, phone, name))?;
            }
        }
        Ok(id)
    }

    /// A new CRM contact in the default portal for an entry that has no id.
    fn new_contact(&self, entry: &NewCustomer) -> StoreResult<String> {
        let contact = Contact {
            id: String::new(),
            name: entry.name.clone().unwrap_or_default(),
            phones: entry.phones.clone(),
            email: entry.email.clone(),
            fields: entry.fields.clone(),
            portal: self.default_portal.clone(),
            created: self.now,
            updated: self.now,
        };
        contacts::insert(self.conn, self.account_id, &contact)
    }

    fn add(&self, entry: NewCustomer, outcome: &mut AddOutcome) -> StoreResult<()> {
        let (crm_id, mut name, mut phones) = match &entry.crm_id {
            Some(id) => (id.clone(), entry.name.clone(), entry.phones.clone()),
            None if entry.phones.is_empty() => {
                outcome.reject(InvalidRow { row: entry.row, id: None, reason: "no valid phone".into() });
                return Ok(());
            }
            None => (self.new_contact(&entry)?, entry.name.clone(), entry.phones.clone()),
        };
        // Name or phones left out are the CRM contact's, if the account has one.
        if (name.is_none() || phones.is_empty())
            && let Some(contact) = contacts::get(self.conn, self.account_id, &crm_id)?
        {
            name = name.or(Some(contact.name));
            if phones.is_empty() {
                phones = contact.phones;
            }
        }
        if phones.is_empty() {
            let reason = if entry.dropped_phones.is_empty() {
                "no valid phone".to_string()
            } else {
                format!("no valid phone: {}", entry.dropped_phones.join(", "))
            };
            outcome.reject(InvalidRow { row: entry.row, id: Some(crm_id), reason });
            return Ok(());
        }
        match self.insert_customer(&crm_id, name.as_deref().unwrap_or(""), &phones, entry.source)? {
            Some(_) => outcome.added += 1,
            None => outcome.skipped.push(crm_id),
        }
        Ok(())
    }
}

fn bump_count(conn: &Connection, account_id: &str, campaign_id: &str, by: i64) -> StoreResult<()> {
    if by != 0 {
        conn.prepare_cached(
            "UPDATE campaigns SET customer_count = customer_count + ?3, list_version = list_version + 1 \
             WHERE account_id = ?1 AND id = ?2",
        )?
        .execute((account_id, campaign_id, by))?;
    }
    Ok(())
}

/// Adds every entry of the feed inside one transaction; commits only on `Feed::Done`.
pub fn add(
    conn: &mut Connection,
    account_id: &str,
    target: Target,
    mut feed: mpsc::Receiver<Feed>,
) -> StoreResult<(Campaign, AddOutcome)> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let campaign = target_campaign(&tx, account_id, target)?;
    let adder = Adder {
        conn: &tx,
        account_id,
        campaign_id: campaign.id.clone(),
        default_portal: resolve_portal(&tx, account_id, None)?,
        now: now_secs(),
    };
    let mut outcome = AddOutcome::default();
    loop {
        match feed.blocking_recv() {
            Some(Feed::Rows(rows)) => {
                for entry in rows {
                    adder.add(entry, &mut outcome)?;
                }
            }
            Some(Feed::Done) => break,
            // The producer failed or went away: roll everything back.
            None => return Err(StoreError::Aborted),
        }
    }
    bump_count(&tx, account_id, &campaign.id, outcome.added)?;
    tx.commit()?;
    Ok((campaign, outcome))
}

/// add-by-phones: each phone not in the campaign becomes a customer, drawn from the
/// default portal's CRM contact with that phone or from a new one.
pub fn add_phones(
    tx: &Transaction<'_>,
    account_id: &str,
    campaign_id: &str,
    phones: Vec<String>,
) -> StoreResult<PhonesOutcome> {
    let campaign = target_campaign(tx, account_id, Target::Existing(campaign_id.to_string()))?;
    let adder = Adder {
        conn: tx,
        account_id,
        campaign_id: campaign.id,
        default_portal: resolve_portal(tx, account_id, None)?,
        now: now_secs(),
    };
    let mut outcome = PhonesOutcome::default();
    for phone in phones {
        let held: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM customer_phones WHERE account_id = ?1 AND campaign_id = ?2 AND phone = ?3)",
            )?
            .query_row((account_id, campaign_id, &phone), |r| r.get(0))?;
        if held {
            outcome.skipped_phones.push(phone);
            continue;
        }
        let existing: Option<(String, String)> = tx
            .prepare_cached(
                "SELECT c.id, c.name FROM contact_phones p JOIN contacts c ON c.account_id = p.account_id AND c.id = p.contact_id \
                 WHERE p.account_id = ?1 AND p.phone = ?2 AND c.portal_id = ?3 ORDER BY c.rowid LIMIT 1",
            )?
            .query_row((account_id, &phone, &adder.default_portal), |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (crm_id, name) = match existing {
            Some(found) => found,
            None => {
                let entry = NewCustomer {
                    row: 0,
                    crm_id: None,
                    name: None,
                    phones: vec![phone.clone()],
                    dropped_phones: Vec::new(),
                    fields: Default::default(),
                    email: String::new(),
                    source: Source::Phones,
                };
                (adder.new_contact(&entry)?, String::new())
            }
        };
        match adder.insert_customer(&crm_id, &name, std::slice::from_ref(&phone), Source::Phones)? {
            Some(_) => outcome.added += 1,
            // That contact is already a customer, under another phone.
            None => outcome.skipped_phones.push(phone),
        }
    }
    bump_count(tx, account_id, campaign_id, outcome.added)?;
    Ok(outcome)
}

fn require_campaign(conn: &Connection, account_id: &str, campaign_id: &str) -> StoreResult<()> {
    match campaigns::get(conn, account_id, campaign_id)? {
        Some(_) => Ok(()),
        None => Err(StoreError::CampaignNotFound(campaign_id.to_string())),
    }
}

/// Phones held by two or more customers of the campaign, ascending, customers by id.
///
/// One ordered pass over the campaign's phone index, which also carries the names,
/// finds the groups without touching the customers table.
pub fn duplicates(conn: &Connection, account_id: &str, campaign_id: &str) -> StoreResult<Vec<DuplicateGroup>> {
    require_campaign(conn, account_id, campaign_id)?;
    let mut groups: Vec<DuplicateGroup> = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT phone, customer_id, name FROM customer_phones WHERE account_id = ?1 AND campaign_id = ?2 \
         ORDER BY phone, customer_id",
    )?;
    let mut rows = stmt.query((account_id, campaign_id))?;
    // The first member of the current phone is kept aside until a second one shows.
    let mut first: Option<(String, i64, String)> = None;
    while let Some(r) = rows.next()? {
        let phone = r.get_ref(0)?.as_str().map_err(|e| StoreError::Internal(e.to_string()))?;
        let id: i64 = r.get(1)?;
        let name = || r.get_ref(2).and_then(|v| Ok(v.as_str()?.to_string()));
        match (&first, groups.last_mut()) {
            (_, Some(g)) if g.phone == phone => g.customers.push((id, name()?)),
            (Some((p, first_id, first_name)), _) if p == phone => {
                groups.push(DuplicateGroup {
                    phone: phone.to_string(),
                    customers: vec![(*first_id, first_name.clone()), (id, name()?)],
                });
            }
            _ => first = Some((phone.to_string(), id, name()?)),
        }
    }
    Ok(groups)
}

/// keepduplicate: set-based, through a temporary table of the pairs.
pub fn keep_duplicates(
    tx: &Transaction<'_>,
    account_id: &str,
    campaign_id: &str,
    keep: Vec<(String, i64)>,
) -> StoreResult<KeepOutcome> {
    require_campaign(tx, account_id, campaign_id)?;
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS keep_pairs (phone TEXT PRIMARY KEY, customer_id INTEGER NOT NULL);
         DELETE FROM temp.keep_pairs;
         CREATE TEMP TABLE IF NOT EXISTS keep_losers (customer_id INTEGER PRIMARY KEY);
         DELETE FROM temp.keep_losers;",
    )?;
    {
        let mut insert = tx.prepare_cached("INSERT INTO temp.keep_pairs (phone, customer_id) VALUES (?1, ?2)")?;
        for (phone, id) in &keep {
            insert.execute((phone, id))?;
        }
    }
    // Every pair must name a customer of this campaign holding that phone.
    let bad: Option<(String, i64)> = tx
        .query_row(
            "SELECT k.phone, k.customer_id FROM temp.keep_pairs k WHERE NOT EXISTS ( \
               SELECT 1 FROM customer_phones p JOIN customers c ON c.id = p.customer_id \
               WHERE p.account_id = ?1 AND p.campaign_id = ?2 AND p.phone = k.phone \
                 AND p.customer_id = k.customer_id AND c.account_id = ?1) \
             ORDER BY k.rowid LIMIT 1",
            (account_id, campaign_id),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((phone, id)) = bad {
        return Err(StoreError::Invalid(format!(
            "listKeepCustomer: customer {id} does not hold phone {phone} in campaign {campaign_id}"
        )));
    }
    tx.execute(
        "INSERT OR IGNORE INTO temp.keep_losers (customer_id) \
         SELECT p.customer_id FROM temp.keep_pairs k \
         JOIN customer_phones p ON p.account_id = ?1 AND p.campaign_id = ?2 AND p.phone = k.phone \
         WHERE p.customer_id <> k.customer_id",
        (account_id, campaign_id),
    )?;
    let removed_phones = tx.execute(
        "DELETE FROM customer_phones WHERE account_id = ?1 AND campaign_id = ?2 \
           AND phone IN (SELECT phone FROM temp.keep_pairs) \
           AND customer_id <> (SELECT k.customer_id FROM temp.keep_pairs k WHERE k.phone = customer_phones.phone)",
        (account_id, campaign_id),
    )? as i64;
    let removed_customers = tx.execute(
        "DELETE FROM customers WHERE id IN (SELECT customer_id FROM temp.keep_losers) \
           AND NOT EXISTS (SELECT 1 FROM customer_phones p WHERE p.customer_id = customers.id)",
        [],
    )? as i64;
    bump_count(tx, account_id, campaign_id, -removed_customers)?;
    tx.execute_batch("DELETE FROM temp.keep_pairs; DELETE FROM temp.keep_losers;")?;
    Ok(KeepOutcome { removed_phones, removed_customers })
}

const COLUMNS: &str = "c.id, c.campaign_id, k.name, c.crm_id, c.name, c.status, c.type, c.insert_time, \
                       c.callback_time, c.last_time_make_call, c.number_call_out, c.do_not_call, \
                       c.stringee_user_id_callback";

/// Every [`MARK_EVERY`]th customer id of a campaign, by id, for one `list_version`.
#[derive(Debug)]
pub struct PageMarks {
    version: i64,
    ids: Vec<i64>,
}

/// Cached page marks by campaign id.
pub type MarkCache = std::sync::Mutex<HashMap<String, std::sync::Arc<PageMarks>>>;

/// Customers between two marks: a deep page starts from the mark before it.
const MARK_EVERY: i64 = 1000;
/// Campaigns whose marks are kept at once.
const MARK_CAMPAIGNS: usize = 64;

/// A page of customers, by id, from one snapshot of the database. The total comes
/// from the campaign's counter when only the campaign is filtered on, and a deep
/// page of such a list starts from a cached mark instead of walking the offset.
pub fn list(
    conn: &mut Connection,
    account_id: &str,
    filter: CustomerFilter,
    page: Page,
    marks: &MarkCache,
) -> StoreResult<Paged<Customer>> {
    let tx = conn.transaction()?;
    let conn: &Connection = &tx;
    let mut conds = vec!["c.account_id = ?".to_string()];
    let mut args: Vec<Sql> = vec![account_id.to_string().into()];
    let mut counter: Option<(i64, i64)> = None;
    if let Some(campaign) = &filter.campaign {
        let found: Option<(i64, i64)> = conn
            .prepare_cached("SELECT customer_count, list_version FROM campaigns WHERE account_id = ?1 AND id = ?2")?
            .query_row((account_id, campaign), |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        counter = Some(found.ok_or_else(|| StoreError::CampaignNotFound(campaign.clone()))?);
        conds.push("c.campaign_id = ?".into());
        args.push(campaign.clone().into());
    }
    if let Some(status) = filter.status {
        conds.push("c.status = ?".into());
        args.push(status.into());
    }
    if let Some(name) = &filter.name {
        for word in &name.words {
            conds.push("instr(c.name_key, ?) > 0".into());
            args.push(format!(" {word}").into());
        }
    }
    if let Some(phone) = &filter.phone {
        conds.push(
            "EXISTS (SELECT 1 FROM customer_phones p WHERE p.account_id = c.account_id \
             AND p.campaign_id = c.campaign_id AND p.phone = ? AND p.customer_id = c.id)"
                .into(),
        );
        args.push(phone.clone().into());
    }
    let filtered = filter.status.is_some() || filter.name.is_some() || filter.phone.is_some();
    let where_sql = conds.join(" AND ");
    let total: i64 = match counter {
        Some((count, _)) if !filtered => count,
        _ if !filtered => conn
            .prepare_cached("SELECT COALESCE(SUM(customer_count), 0) FROM campaigns WHERE account_id = ?1")?
            .query_row([account_id], |r| r.get(0))?,
        _ => conn
            .prepare_cached(&format!("SELECT count(*) FROM customers c WHERE {where_sql}"))?
            .query_row(params_from_iter(args.iter()), |r| r.get(0))?,
    };
    let mut offset = page.offset();
    let mut after = "";
    if let (Some((_, version)), Some(campaign), false) = (counter, &filter.campaign, filtered)
        && offset >= 2 * MARK_EVERY
        && offset < total
    {
        let marks = page_marks(conn, account_id, campaign, version, marks)?;
        let skip = (offset / MARK_EVERY) as usize;
        if let Some(&mark) = marks.ids.get(skip - 1) {
            after = " AND c.id > ?";
            args.push(mark.into());
            offset -= skip as i64 * MARK_EVERY;
        }
    }
    // The page's ids first, from the index alone, then their rows.
    args.push(page.limit.into());
    args.push(offset.into());
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM customers c JOIN campaigns k ON k.account_id = c.account_id AND k.id = c.campaign_id \
         WHERE c.id IN (SELECT c.id FROM customers c WHERE {where_sql}{after} ORDER BY c.id LIMIT ? OFFSET ?) \
         ORDER BY c.id"
    ))?;
    let mut rows: Vec<Customer> = stmt
        .query_map(params_from_iter(args.iter()), |r| {
            Ok(Customer {
                id: r.get(0)?,
                campaign_id: r.get(1)?,
                campaignname: r.get(2)?,
                crm_id: r.get(3)?,
                name: r.get(4)?,
                phones: Vec::new(),
                status: r.get(5)?,
                source: r.get(6)?,
                insert_time: r.get(7)?,
                callback_time: r.get(8)?,
                last_time_make_call: r.get(9)?,
                number_call_out: r.get(10)?,
                do_not_call: r.get(11)?,
                stringee_user_id_callback: r.get(12)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    load_phones(conn, &mut rows)?;
    Ok(Paged { rows, total })
}

/// The campaign's marks for `version`, from the cache or from one pass over its index.
fn page_marks(
    conn: &Connection,
    account_id: &str,
    campaign_id: &str,
    version: i64,
    cache: &MarkCache,
) -> StoreResult<std::sync::Arc<PageMarks>> {
    let cached = cache.lock().unwrap_or_else(|p| p.into_inner()).get(campaign_id).cloned();
    if let Some(marks) = cached.filter(|m| m.version == version) {
        return Ok(marks);
    }
    let mut stmt =
        conn.prepare_cached("SELECT id FROM customers WHERE account_id = ?1 AND campaign_id = ?2 ORDER BY id")?;
    let mut rows = stmt.query((account_id, campaign_id))?;
    let mut ids = Vec::new();
    let mut n: i64 = 0;
    while let Some(r) = rows.next()? {
        n += 1;
        if n % MARK_EVERY == 0 {
            ids.push(r.get(0)?);
        }
    }
    let marks = std::sync::Arc::new(PageMarks { version, ids });
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= MARK_CAMPAIGNS {
        cache.clear();
    }
    cache.insert(campaign_id.to_string(), marks.clone());
    Ok(marks)
}

fn load_phones(conn: &Connection, rows: &mut [Customer]) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let marks = vec!["?"; rows.len()].join(",");
    let mut stmt = conn.prepare(&format!(
        "SELECT customer_id, phone FROM customer_phones WHERE customer_id IN ({marks}) ORDER BY customer_id, pos"
    ))?;
    let mut phones: HashMap<i64, Vec<String>> = HashMap::new();
    let mut q = stmt.query(params_from_iter(rows.iter().map(|c| c.id)))?;
    while let Some(r) = q.next()? {
        phones.entry(r.get(0)?).or_default().push(r.get(1)?);
    }
    for c in rows.iter_mut() {
        c.phones = phones.remove(&c.id).unwrap_or_default();
    }
    Ok(())
}

pub fn delete(tx: &Transaction<'_>, account_id: &str, id: i64) -> StoreResult<bool> {
    let campaign: Option<String> = tx
        .query_row("SELECT campaign_id FROM customers WHERE id = ?1 AND account_id = ?2", (id, account_id), |r| {
            r.get(0)
        })
        .optional()?;
    let Some(campaign) = campaign else {
        return Ok(false);
    };
    tx.execute("DELETE FROM customer_phones WHERE customer_id = ?1", [id])?;
    tx.execute("DELETE FROM customers WHERE id = ?1", [id])?;
    bump_count(tx, account_id, &campaign, -1)?;
    Ok(true)
}
