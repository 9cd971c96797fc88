//! Campaign customers: adding (from contacts, files, filters, phones), duplicates,
//! keepduplicate, listing and deleting. Every write locks the campaign's row
//! first: writers of one campaign take turns, writers of different ones do not wait.

use futures_util::TryStreamExt;
use std::collections::{HashMap, HashSet};

use tokio_postgres::GenericClient;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use super::db::PgDb;
use super::{Arg, StoreError, StoreResult, arg, campaigns, contacts, numbered, query_args, refs, resolve_portal};
use crate::domain::campaign::Campaign;
use crate::domain::customer::{AddOutcome, Customer, CustomerFilter, InvalidRow, NewCustomer, Source, name_key};
use crate::domain::ids::{CampaignId, CustomerId};
use crate::domain::now_secs;
use crate::domain::page::{Page, Paged};
use crate::store::plan::{
    DuplicateFinder, KeepChange, KeepPlan, MarkCache, PageMarks, ReadyCustomer, entry_contact, needs_a_phone,
    phone_key, ready_customer, record_filter, worth_a_mark,
};
use crate::store::shared::{calling, dnc};
use crate::store::{DuplicateGroup, Entries, Feed, FilterSource, KeepOutcome, PhonesOutcome, Target};

/// The campaign a request names, locked, or created first when the request makes
/// one; with whether it has no customers yet.
async fn target_campaign(db: &impl GenericClient, account_id: &str, target: Target) -> StoreResult<(Campaign, bool)> {
    let (campaign, empty) = match target {
        Target::New(fields) => (campaigns::create(db, account_id, *fields).await?, true),
        Target::Existing(id) => {
            let count = require_campaign(db, account_id, &id).await?;
            let campaign = campaigns::get(db, account_id, &id, false)
                .await?
                .ok_or_else(|| StoreError::CampaignNotFound(id.to_string()))?;
            (campaign, count == 0)
        }
    };
    // A campaign made already past its end is completed too: the add, and with it
    // the campaign, is undone.
    crate::store::plan::open_for_adds(&campaign)?;
    Ok((campaign, empty))
}

/// Locks the campaign and returns its customer count; r=3 when it is not the account's.
async fn require_campaign(db: &impl GenericClient, account_id: &str, campaign_id: &str) -> StoreResult<i64> {
    campaigns::lock(db, account_id, campaign_id)
        .await?
        .ok_or_else(|| StoreError::CampaignNotFound(campaign_id.to_string()))
}

/// Customers written by one COPY.
const CHUNK: usize = 4096;

/// A customer ready to be written.
struct Row {
    crm_id: String,
    name: String,
    name_key: String,
    phones: String,
    source: Source,
    /// The entry's place in the request.
    row: i64,
    /// The CRM contact was made by this request, so it cannot be in the campaign yet.
    fresh: bool,
}

/// The CRM contact that holds a phone already.
struct Holder {
    seq: i64,
    id: String,
    name: String,
}

/// Rows an add writes before it first refreshes the statistics of what it reads.
const ANALYZE_DURING: i64 = 10_000;

/// State of one add transaction, which holds the campaign's lock: no other writer
/// adds to the campaign meanwhile, so what this one reads stays true until it commits.
struct Adder<'a, C: GenericClient> {
    db: &'a C,
    account_id: &'a str,
    /// The API key the customers are added with, for their history.
    actor: String,
    campaign_id: String,
    default_portal: String,
    now: i64,
    added: i64,
    pending: Vec<Row>,
    /// CRM contacts made for entries that had no id.
    made_contacts: usize,
    /// The contacts this adder wrote, while they are all the campaign holds: a
    /// campaign that started empty needs no lookup to tell a contact already in it.
    seen: Option<HashSet<String>>,
    /// The first customer id this request can draw: the campaign's customers from it
    /// on are the request's own (it holds the campaign's lock).
    start: i64,
    /// Rows this add had written when it last refreshed the tables' statistics.
    analyzed_at: i64,
    /// The COPY the add's customers are streaming into, while one is open.
    copy: Option<CustomerCopy>,
    /// Whether the add holds its account's turn to make CRM contacts.
    making_contacts: bool,
    /// The default portal held no contact when the add took that turn (see `add`).
    portal_was_empty: bool,
}

/// An open COPY into customers. Dropped unfinished (the add failed), it is aborted.
type CustomerCopy = std::pin::Pin<Box<BinaryCopyInWriter>>;

/// Opens an add's COPY into customers. It stays open across batches, so that the
/// database writes one batch's rows while callsheet reads and checks the next: an
/// import of a million rows with ids is one COPY, not 250 statements each waited
/// for. No other statement can run on the connection meanwhile: the adder ends it
/// first ([`Adder::end_copy`]).
async fn open_copy(db: &impl GenericClient) -> StoreResult<CustomerCopy> {
    let sink = db
        .client()
        .copy_in(
            "COPY customers (account_id, campaign_id, insert_time, added_by, crm_id, name, name_key, phones, type) \
             FROM STDIN (FORMAT binary)",
        )
        .await?;
    let types =
        [Type::TEXT, Type::TEXT, Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::INT8];
    Ok(Box::pin(BinaryCopyInWriter::new(sink, &types)))
}

impl<'a, C: GenericClient + Sync> Adder<'a, C> {
    async fn new(
        db: &'a C,
        account_id: &'a str,
        actor: &str,
        campaign_id: String,
        empty: bool,
    ) -> StoreResult<Adder<'a, C>> {
        Ok(Adder {
            db,
            account_id,
            actor: actor.to_string(),
            campaign_id,
            default_portal: resolve_portal(db, account_id, None).await?,
            now: now_secs(),
            added: 0,
            pending: Vec::new(),
            made_contacts: 0,
            seen: empty.then(HashSet::new),
            analyzed_at: 0,
            copy: None,
            making_contacts: false,
            portal_was_empty: false,
            // Every later nextval is past this, whichever session draws it.
            start: db
                .query_one("SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM customer_ids", &[])
                .await?
                .get(0),
        })
    }

    /// Writes the pending customers into the add's COPY. Contacts already in the
    /// campaign are passed over: skipped when they were there before the request,
    /// repeats when the request added them (or names them twice in the batch). Each
    /// written row draws its id from `customer_ids` as the COPY reads it, so ids
    /// follow the rows' order and are never given twice.
    async fn flush(&mut self, outcome: &mut AddOutcome) -> StoreResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let known: Vec<&str> = rows.iter().filter(|r| !r.fresh).map(|r| r.crm_id.as_str()).collect();
        // Each contact already in the campaign, and whether this request put it there.
        let existing: HashMap<String, bool> = match &self.seen {
            None if !known.is_empty() => {
                self.end_copy().await?;
                self.db
                    .query(
                        "SELECT crm_id, id >= $4 FROM customers WHERE account_id = $1 AND campaign_id = $2 \
                         AND crm_id = ANY($3)",
                        &[&self.account_id, &self.campaign_id, &known, &self.start],
                    )
                    .await?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect()
            }
            _ => HashMap::new(),
        };
        let mut in_batch: HashSet<&str> = HashSet::with_capacity(rows.len());
        let mut written: Vec<usize> = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let crm = row.crm_id.as_str();
            // An entry without a phone is written by none: it only tells whether its
            // contact is there.
            let phoneless = row.phones.is_empty();
            let this_request = match existing.get(crm) {
                Some(ours) => Some(*ours),
                None if self.seen.as_ref().is_some_and(|seen| seen.contains(crm)) => Some(true),
                None if phoneless => in_batch.contains(crm).then_some(true),
                None => (!in_batch.insert(crm)).then_some(true),
            };
            match this_request {
                Some(ours) => outcome.passed_over(row.row, row.crm_id.clone(), ours),
                None if phoneless => {
                    outcome.reject(InvalidRow { row: row.row, id: Some(row.crm_id.clone()), reason: "no phone".into() })
                }
                None => written.push(i),
            }
        }
        if !written.is_empty() {
            if self.copy.is_none() {
                self.copy = Some(open_copy(self.db).await?);
            }
            let copy = self.copy.as_mut().expect("opened above");
            let (account_id, campaign_id, now, actor) =
                (self.account_id, self.campaign_id.as_str(), self.now, self.actor.as_str());
            for &i in &written {
                let r = &rows[i];
                let kind = r.source as i64;
                copy.as_mut()
                    .write(&[
                        &account_id,
                        &campaign_id,
                        &now,
                        &actor,
                        &r.crm_id,
                        &r.name,
                        &r.name_key,
                        &r.phones,
                        &kind,
                    ])
                    .await?;
            }
        }
        self.added += written.len() as i64;
        if let Some(seen) = &mut self.seen {
            seen.extend(written.iter().filter(|&&i| !rows[i].fresh).map(|&i| rows[i].crm_id.clone()));
        }
        Ok(())
    }

    /// Ends the add's COPY, if one is open, before another statement.
    async fn end_copy(&mut self) -> StoreResult<()> {
        if let Some(mut copy) = self.copy.take() {
            copy.as_mut().finish().await?;
        }
        Ok(())
    }

    /// Refreshes the statistics of the tables this add reads as it writes, each time
    /// its own rows have doubled them since (from 10,000 rows on). A large add into
    /// tables the planner last saw empty (a new database's first import) would
    /// otherwise have each batch's lookups planned as whole-table scans, which grow
    /// with every batch: a million-row import without ids took 542 s where it takes
    /// a fraction of that. ANALYZE inside the transaction counts its own new rows.
    /// It keeps its table lock until the add commits, so a table another add (or a
    /// VACUUM) holds is passed over rather than waited for: two large imports at once
    /// never stall each other. A batch that looks nothing up (rows with ids into a
    /// campaign that held none of the add's contacts before it) needs no statistics:
    /// the refresh is left to autovacuum after the commit, and the add saves the
    /// time of reading samples of tables it only appends to.
    async fn keep_statistics(&mut self, looks_up: bool) -> StoreResult<()> {
        let written = self.added + self.made_contacts as i64;
        if looks_up && written >= ANALYZE_DURING.max(2 * self.analyzed_at) {
            self.end_copy().await?;
            self.db.batch_execute("ANALYZE (SKIP_LOCKED) contacts, contact_phones, customers").await?;
            self.analyzed_at = written;
        }
        Ok(())
    }

    /// Takes the account's turn among adds that make CRM contacts for phones no
    /// contact holds, until the add commits: two at once would each make one for the
    /// same phone. Its lookups then see what the add before it made.
    async fn lock_contacts(&mut self) -> StoreResult<()> {
        if !self.making_contacts {
            self.end_copy().await?;
            contacts::take_contacts_turn(self.db, self.account_id).await?;
            self.making_contacts = true;
            self.portal_was_empty = self
                .db
                .query_one(
                    "SELECT NOT EXISTS (SELECT 1 FROM contacts WHERE account_id = $1 AND portal_id = $2)",
                    &[&self.account_id, &self.default_portal],
                )
                .await?
                .get(0);
        }
        Ok(())
    }

    /// The earliest CRM contact of the default portal holding each of `phones`: one
    /// index lookup per phone. Written as `phone = ANY($2)`, PostgreSQL chose a
    /// scan of every phone row with a hashed list (41 ms for 2,000 phones among
    /// 300,000 rows, growing with the table) over 2,000 lookups (18 ms, flat).
    async fn holders(&self, phones: &[&str]) -> StoreResult<HashMap<String, Holder>> {
        if phones.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = self
            .db
            .query(
                "SELECT DISTINCT ON (p.phone) p.phone, c.seq, c.id, c.name FROM unnest($2::text[]) AS q(phone) \
                 JOIN contact_phones p ON p.account_id = $1 AND p.phone = q.phone \
                 JOIN contacts c ON c.account_id = p.account_id AND c.seq = p.contact_rowid \
                 WHERE c.portal_id = $3 ORDER BY p.phone, c.seq",
                &[&self.account_id, &phones, &self.default_portal],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), Holder { seq: r.get(1), id: r.get(2), name: r.get(3) })).collect())
    }

    /// Adds a batch of entries. Entries without an id become CRM contacts of the
    /// default portal first; names or phones left out are the CRM contact's.
    async fn add(&mut self, mut entries: Vec<NewCustomer>, outcome: &mut AddOutcome) -> StoreResult<()> {
        // Rows without an id, name or phone read the CRM first, which ends the COPY;
        // rows with all three into a campaign that started empty read nothing.
        let reads = entries.iter().any(|e| e.crm_id.is_none() || e.name.is_none() || e.phones.is_empty());
        if reads {
            self.end_copy().await?;
        }
        if entries.iter().any(|e| e.crm_id.is_none()) {
            self.lock_contacts().await?;
        }
        // What the batch looks up: the holders of its phones (none into a portal
        // that was empty, below), the CRM contacts of rows with an id but no name or
        // phone, and the customers already there in a campaign that held some.
        let looks_up = self.seen.is_none()
            || entries.iter().any(|e| match &e.crm_id {
                None => !self.portal_was_empty,
                Some(_) => e.name.is_none() || e.phones.is_empty(),
            });
        self.keep_statistics(looks_up).await?;
        // A row without an id goes to the contact that holds one of its phones
        // already, so that the same file uploaded twice adds nothing the second time.
        let phones: Vec<&str> =
            entries.iter().filter(|e| e.crm_id.is_none()).flat_map(|e| e.phones.iter().map(String::as_str)).collect();
        // Into a portal that held no contact when the add took its turn, nobody
        // holds them: the contacts this add made hold only their own rows' phones,
        // and no two rows without an id of one request share a phone (the later is
        // set aside as a repeat before it reaches the store, `Repeats`). Looking a
        // million phones up for nothing took 11 s of a 70 s first upload.
        let holders = if self.portal_was_empty { HashMap::new() } else { self.holders(&phones).await? };
        let mut attached = HashSet::new();
        for (i, entry) in entries.iter_mut().enumerate().filter(|(_, e)| e.crm_id.is_none()) {
            if let Some(h) = entry.phones.iter().filter_map(|p| holders.get(p)).min_by_key(|h| h.seq) {
                entry.crm_id = Some(h.id.clone());
                attached.insert(i);
            }
        }
        outcome.attached += attached.len() as i64;
        let fresh: Vec<_> = entries
            .iter()
            .filter(|e| e.crm_id.is_none() && !e.phones.is_empty())
            .map(|e| entry_contact(e, &self.default_portal, self.now, false))
            .collect();
        self.made_contacts += fresh.len();
        let mut fresh_ids = contacts::insert_many(self.db, self.account_id, &fresh).await?.into_iter();
        let wanted: Vec<&str> = entries
            .iter()
            .filter(|e| e.name.is_none() || e.phones.is_empty())
            .filter_map(|e| e.crm_id.as_deref())
            .collect();
        let known = contacts::by_ids(self.db, self.account_id, &wanted).await?;
        for entry in entries {
            if let Some(invalid) = needs_a_phone(&entry) {
                outcome.reject(invalid);
                continue;
            }
            let fresh = entry.crm_id.is_none();
            let crm_id = match &entry.crm_id {
                Some(id) => id.clone(),
                None => fresh_ids.next().ok_or_else(|| StoreError::broken("a new contact went missing"))?,
            };
            let contact = known.get(&crm_id).map(|(_, c)| (c.name.as_str(), c.phones.as_slice()));
            let source = entry.source;
            let ready = match ready_customer(entry, crm_id, contact) {
                Ok(ready) => ready,
                // Without a phone: skipped if the campaign holds its contact (known
                // once the batch is written), else reported.
                Err(InvalidRow { row, id: Some(crm_id), .. }) if !fresh => ReadyCustomer {
                    crm_id,
                    name: String::new(),
                    name_key: String::new(),
                    phones: String::new(),
                    source,
                    row,
                },
                Err(invalid) => {
                    outcome.reject(invalid);
                    continue;
                }
            };
            self.pending.push(Row {
                crm_id: ready.crm_id,
                name: ready.name,
                name_key: ready.name_key,
                phones: ready.phones,
                source: ready.source,
                row: ready.row,
                fresh,
            });
            if self.pending.len() >= CHUNK {
                self.flush(outcome).await?;
            }
        }
        Ok(())
    }

    /// Adds every contact of the portal that matches `query` with one INSERT ... SELECT
    /// inside the database: no contact travels through callsheet. Contacts already in
    /// the campaign are skipped, contacts without a phone reported.
    async fn add_filter(&mut self, source: FilterSource, row: i64, outcome: &mut AddOutcome) -> StoreResult<()> {
        self.flush(outcome).await?;
        self.end_copy().await?;
        // A campaign that holds no customer yet cannot hold a match: no lookup each.
        let empty = self.seen.is_some() && self.added == 0;
        // The campaign now holds customers this adder did not list.
        self.seen = None;
        // The saved filter and the portal are read here, in the add's own transaction.
        let (query, portal) = super::resolve_filter(self.db, self.account_id, source).await?;
        let query = &super::compile(self.account_id, &portal, &query)?;
        // A contact's phones come from its row; from its phone rows only where the row
        // has none (a contact without phones, or one written by a server of a build
        // before migration 0009 while this one ran).
        // One statement reads the matches once: those already in the campaign (by id)
        // or without a phone come back, marked, in contact order (a leading '!' marks
        // the phoneless); the others are inserted, and their count comes first.
        let sql = format!(
            "WITH m AS MATERIALIZED ( \
               SELECT c.seq, c.id, c.name, c.name_key, {present} AS present, \
                      COALESCE(NULLIF(c.phones, ''), (SELECT string_agg(p.phone, ',' ORDER BY p.pos) \
                        FROM contact_phones p WHERE p.account_id = c.account_id AND p.contact_rowid = c.seq)) AS phones \
               FROM contacts c WHERE c.account_id = ? AND c.portal_id = ? AND ({}) \
             ), added AS ( \
               INSERT INTO customers (id, account_id, campaign_id, insert_time, added_by, crm_id, name, name_key, phones, type) \
               SELECT nextval('customer_ids'), ?, ?, ?::bigint, ?, n.id, n.name, n.name_key, n.phones, {}::bigint \
               FROM (SELECT * FROM m WHERE present IS NULL AND phones IS NOT NULL ORDER BY seq) n \
               RETURNING 1 \
             ) \
             SELECT (SELECT count(*) FROM added), NULL::text \
             UNION ALL \
             SELECT NULL, passed.mark FROM ( \
               SELECT seq, CASE present WHEN 'before' THEN id WHEN 'ours' THEN '=' || id ELSE '!' || id END AS mark \
               FROM m WHERE present IS NOT NULL OR phones IS NULL ORDER BY seq) passed",
            query.sql,
            Source::Filter as i64,
            present = match empty {
                true => "NULL::text",
                false =>
                    "(SELECT CASE WHEN x.id < ? THEN 'before' ELSE 'ours' END FROM customers x \
                          WHERE x.account_id = ? AND x.campaign_id = ? AND x.crm_id = c.id)",
            }
        );
        let mut args: Vec<Arg> = match empty {
            true => Vec::new(),
            false => vec![arg(self.start), arg(self.account_id.to_string()), arg(self.campaign_id.clone())],
        };
        args.extend([arg(self.account_id.to_string()), arg(portal)]);
        args.extend(query_args(query));
        args.extend([
            arg(self.account_id.to_string()),
            arg(self.campaign_id.clone()),
            arg(self.now),
            arg(self.actor.clone()),
        ]);
        // Bounded as a search is, with room for the largest lists.
        let adding = async { Ok(self.db.query(&numbered(&sql), &refs(&args)).await?) };
        let rows = super::bounded(self.db, FILTER_TIMEOUT, "the filter", adding).await?;
        let mut added = 0;
        let mut passed_over = Vec::new();
        for r in rows {
            match (r.get::<_, Option<i64>>(0), r.get::<_, Option<String>>(1)) {
                (Some(n), _) => added = n,
                (None, Some(mark)) => passed_over.push(mark),
                (None, None) => {}
            }
        }
        self.added += added;
        record_filter(outcome, row, added, passed_over);
        Ok(())
    }

    /// Writes what is pending and the campaign's count.
    async fn finish(mut self, outcome: &mut AddOutcome) -> StoreResult<i64> {
        self.flush(outcome).await?;
        self.end_copy().await?;
        bump_count(self.db, self.account_id, &self.campaign_id, self.added).await?;
        Ok(self.added)
    }
}

/// The longest one add-by-filter statement may run.
const FILTER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

async fn bump_count(db: &impl GenericClient, account_id: &str, campaign_id: &str, by: i64) -> StoreResult<()> {
    if by != 0 {
        db.execute(
            "UPDATE campaigns SET customer_count = customer_count + $3, list_version = list_version + 1 \
             WHERE account_id = $1 AND id = $2",
            &[&account_id, &campaign_id, &by],
        )
        .await?;
    }
    Ok(())
}

/// Adds every entry of the feed in the caller's transaction; returns only on
/// `Feed::Done`, with how many CRM contacts were made on the way.
pub async fn add<C: GenericClient + Sync>(
    db: &C,
    account_id: &str,
    actor: &str,
    target: Target,
    mut feed: Entries,
) -> StoreResult<(Campaign, AddOutcome, usize)> {
    let (campaign, empty) = target_campaign(db, account_id, target).await?;
    let from = last_customer(db, account_id, &campaign.id).await? + 1;
    let mut adder = Adder::new(db, account_id, actor, campaign.id.clone(), empty).await?;
    let mut outcome = AddOutcome::default();
    loop {
        match feed.next().await {
            Some(Feed::Rows(rows)) => adder.add(rows, &mut outcome).await?,
            Some(Feed::Filter { source, row }) => adder.add_filter(*source, row, &mut outcome).await?,
            Some(Feed::Done) => break,
            // The producer failed or went away: the caller rolls everything back.
            None => return Err(StoreError::Aborted),
        }
    }
    let made_contacts = adder.made_contacts;
    outcome.added = adder.finish(&mut outcome).await?;
    // Customers whose every phone is on a do-not-call list are added as status 8.
    outcome.dnc = dnc::mark_listed(&PgDb(db), account_id, &campaign.id, from, i64::MAX).await?;
    Ok((campaign, outcome, made_contacts))
}

/// The campaign's last customer id (0 for none): an add holding the campaign's lock
/// writes only past it.
async fn last_customer(db: &impl GenericClient, account_id: &str, campaign_id: &str) -> StoreResult<i64> {
    Ok(db
        .query_one(
            "SELECT COALESCE(max(id), 0) FROM customers WHERE account_id = $1 AND campaign_id = $2",
            &[&account_id, &campaign_id],
        )
        .await?
        .get(0))
}

/// Visits every customer of a campaign in id order as (id, name, phones), streamed.
async fn scan_campaign(
    db: &impl GenericClient,
    account_id: &str,
    campaign_id: &str,
    mut visit: impl FnMut(i64, &str, &str),
) -> StoreResult<()> {
    // By COPY, which hands over each row as one line of text and costs far less per
    // row than a query's rows. COPY takes no parameters: the ids go in as settings
    // of this transaction.
    db.query_one(
        "SELECT set_config('callsheet.scan_account', $1, true), set_config('callsheet.scan_campaign', $2, true)",
        &[&account_id, &campaign_id],
    )
    .await?;
    let rows = db
        .client()
        .copy_out(
            "COPY (SELECT id, name, phones FROM customers WHERE account_id = current_setting('callsheet.scan_account') \
             AND campaign_id = current_setting('callsheet.scan_campaign') ORDER BY id) TO STDOUT",
        )
        .await?;
    futures_util::pin_mut!(rows);
    // PostgreSQL sends one message a row (its protocol says so).
    while let Some(line) = rows.try_next().await? {
        let (id, name, phones) =
            copy_row(&line).ok_or_else(|| StoreError::broken("a customer row COPY did not parse"))?;
        visit(id, &name, phones);
    }
    Ok(())
}

/// One row of `COPY … TO STDOUT` in text format holding an id, a name and phones.
fn copy_row(line: &[u8]) -> Option<(i64, std::borrow::Cow<'_, str>, &str)> {
    let line = line.strip_suffix(b"\n")?;
    let mut fields = line.splitn(3, |&b| b == b'\t');
    let id = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
    let name = copy_text(fields.next()?)?;
    let phones = std::str::from_utf8(fields.next()?).ok()?;
    // Phones are digits and commas: nothing in them is escaped.
    (!phones.contains('\\')).then_some((id, name, phones))
}

/// A text-format COPY field, its backslash escapes undone.
fn copy_text(field: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    let text = std::str::from_utf8(field).ok()?;
    if !text.contains('\\') {
        return Some(std::borrow::Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            other => other,
        });
    }
    Some(std::borrow::Cow::Owned(out))
}

/// add-by-phones: each phone not in the campaign becomes a customer, drawn from the
/// default portal's CRM contact with that phone or from a new one.
pub async fn add_phones<C: GenericClient + Sync>(
    db: &C,
    actor: &str,
    account_id: &str,
    campaign_id: &str,
    phones: Vec<String>,
) -> StoreResult<PhonesOutcome> {
    let (campaign, empty) = target_campaign(db, account_id, Target::Existing(CampaignId::trusted(campaign_id))).await?;
    let mut held = std::collections::HashSet::new();
    scan_campaign(db, account_id, campaign_id, |_, _, phones| {
        held.extend(phones.split(',').filter_map(phone_key));
    })
    .await?;
    let from = last_customer(db, account_id, &campaign.id).await? + 1;
    let mut adder = Adder::new(db, account_id, actor, campaign.id, empty).await?;
    adder.lock_contacts().await?;
    let mut outcome = PhonesOutcome::default();
    // Contacts this request made customers, so a second phone of one is skipped.
    let mut taken: HashSet<String> = HashSet::new();
    let mut fresh: Vec<String> = Vec::new();
    for phone in phones {
        if phone_key(&phone).is_some_and(|k| held.contains(&k)) {
            outcome.skipped_phones.push(phone);
        } else {
            fresh.push(phone);
        }
    }
    // A few statements a chunk of phones, not a few a phone: the contacts holding
    // them, the contacts to make, those already customers, then the customers.
    for chunk in fresh.chunks(CHUNK) {
        adder.end_copy().await?;
        let phones: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let holders = adder.holders(&phones).await?;
        let made: Vec<crate::domain::contact::Contact> = chunk
            .iter()
            .filter(|p| !holders.contains_key(*p))
            .map(|p| crate::domain::contact::Contact {
                phones: vec![p.clone()],
                ..crate::domain::contact::Contact::blank(String::new(), adder.default_portal.clone(), adder.now)
            })
            .collect();
        let mut made_ids = contacts::insert_many(db, account_id, &made).await?.into_iter();
        let known: Vec<&str> = holders.values().map(|h| h.id.as_str()).collect();
        let customers: HashSet<String> = db
            .query(
                "SELECT crm_id FROM customers WHERE account_id = $1 AND campaign_id = $2 AND crm_id = ANY($3)",
                &[&account_id, &campaign_id, &known],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for phone in chunk {
            let (crm_id, name, fresh) = match holders.get(phone) {
                Some(h) => (h.id.clone(), h.name.clone(), false),
                None => {
                    let id = made_ids.next().ok_or_else(|| StoreError::broken("a new contact went missing"))?;
                    (id, String::new(), true)
                }
            };
            // That contact is already a customer, under another phone.
            if customers.contains(&crm_id) || !taken.insert(crm_id.clone()) {
                outcome.skipped_phones.push(phone.clone());
                continue;
            }
            adder.pending.push(Row {
                crm_id,
                name_key: name_key(&name),
                name,
                phones: phone.clone(),
                source: Source::Phones,
                row: 0,
                fresh,
            });
            outcome.added += 1;
        }
        let mut passed = AddOutcome::default();
        adder.flush(&mut passed).await?;
        if !passed.skipped.is_empty() || passed.repeated > 0 {
            return Err(StoreError::broken("add-by-phones passed over a customer it had checked"));
        }
    }
    adder.finish(&mut AddOutcome::default()).await?;
    outcome.dnc = dnc::mark_listed(&PgDb(db), account_id, campaign_id, from, i64::MAX).await?;
    Ok(outcome)
}

/// Phones held by two or more customers of the campaign, ascending, customers by id.
pub async fn duplicates(
    db: &impl GenericClient,
    account_id: &str,
    campaign_id: &str,
) -> StoreResult<Vec<DuplicateGroup>> {
    let expected: i64 = db
        .query_opt(
            "SELECT customer_count FROM campaigns WHERE account_id = $1 AND id = $2",
            &[&account_id, &campaign_id],
        )
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| StoreError::CampaignNotFound(campaign_id.to_string()))?;
    let mut finder = DuplicateFinder::with_capacity(expected as usize);
    scan_campaign(db, account_id, campaign_id, |id, name, phones| finder.visit(id, name, phones)).await?;
    Ok(finder.groups())
}

/// keepduplicate: one pass finds every customer holding a named phone; the pairs are
/// checked against it, then the losers' phones are rewritten or the losers removed,
/// each kind with one statement.
pub async fn keep_duplicates<C: GenericClient + Sync>(
    db: &C,
    account_id: &str,
    actor: &str,
    campaign_id: &str,
    keep: Vec<(String, CustomerId)>,
) -> StoreResult<KeepOutcome> {
    let keep: Vec<(String, i64)> = keep.into_iter().map(|(phone, id)| (phone, id.0)).collect();
    // The campaign's hand-outs wait meanwhile: both lock customers and phones, and
    // in no order two of them could agree on.
    calling::hold_campaign(&PgDb(db), account_id, campaign_id).await?;
    require_campaign(db, account_id, campaign_id).await?;
    let mut plan = KeepPlan::new(&keep);
    let mut before = std::collections::HashMap::new();
    scan_campaign(db, account_id, campaign_id, |id, _, phones| {
        if plan.visit(id, phones) {
            before.insert(id, phones.to_string());
        }
    })
    .await?;
    let (changes, outcome) = plan.changes(campaign_id)?;
    let (gone, changed) = crate::store::plan::split_changes(&changes, &before);
    let touched: Vec<i64> = gone.iter().copied().chain(changed.iter().map(|(id, _, _)| *id)).collect();
    let shared = PgDb(db);
    let now = now_secs();
    calling::refuse_any_claimed(&shared, account_id, &touched, "keepduplicate would change it", now).await?;
    calling::record_keep(&shared, account_id, campaign_id, &gone, &changed, &before, actor, now).await?;
    let (mut removed, mut rewritten, mut phones) = (Vec::new(), Vec::new(), Vec::new());
    for change in changes {
        match change {
            KeepChange::Remove(id) => removed.push(id),
            KeepChange::Rewrite(id, kept) => {
                rewritten.push(id);
                phones.push(kept);
            }
        }
    }
    if !removed.is_empty() {
        db.execute("DELETE FROM customers WHERE account_id = $1 AND id = ANY($2)", &[&account_id, &removed]).await?;
    }
    if !rewritten.is_empty() {
        db.execute(
            "UPDATE customers c SET phones = u.phones FROM unnest($2::bigint[], $3::text[]) AS u(id, phones) \
             WHERE c.account_id = $1 AND c.id = u.id",
            &[&account_id, &rewritten, &phones],
        )
        .await?;
    }
    bump_count(db, account_id, campaign_id, -outcome.removed_customers).await?;
    Ok(outcome)
}

const COLUMNS: &str = "c.id, c.campaign_id, k.name, c.crm_id, c.name, c.status, c.type, c.insert_time, \
                       c.callback_time, c.last_time_make_call, c.number_call_out, c.do_not_call, \
                       c.stringee_user_id_callback, c.phones";

/// A page of customers, by id, from one snapshot (the caller's transaction). The
/// total comes from the campaign's counter when only the campaign is filtered on,
/// and a deep page of such a list starts from a cached mark instead of walking the offset.
pub async fn list(
    db: &impl GenericClient,
    account_id: &str,
    filter: CustomerFilter,
    page: Page,
    marks: &MarkCache,
) -> StoreResult<Paged<Customer>> {
    let mut conds = vec!["c.account_id = ?".to_string()];
    let mut args: Vec<Arg> = vec![arg(account_id.to_string())];
    let mut counter: Option<(i64, i64)> = None;
    if let Some(campaign) = &filter.campaign {
        let found = db
            .query_opt(
                "SELECT customer_count, list_version FROM campaigns WHERE account_id = $1 AND id = $2",
                &[&account_id, &campaign.as_str()],
            )
            .await?;
        counter = Some(
            found.map(|r| (r.get(0), r.get(1))).ok_or_else(|| StoreError::CampaignNotFound(campaign.to_string()))?,
        );
        conds.push("c.campaign_id = ?".into());
        args.push(arg(campaign.to_string()));
    }
    if let Some(status) = filter.status {
        conds.push("c.status = ?".into());
        args.push(arg(status));
    }
    if let Some(name) = &filter.name {
        for word in &name.words {
            conds.push("strpos(c.name_key, ?) > 0".into());
            args.push(arg(format!(" {word}")));
        }
    }
    if let Some(phone) = &filter.phone {
        conds.push("strpos(',' || c.phones || ',', ?) > 0".into());
        args.push(arg(format!(",{phone},")));
    }
    let filtered = filter.status.is_some() || filter.name.is_some() || filter.phone.is_some();
    let where_sql = conds.join(" AND ");
    let total: i64 = match counter {
        Some((count, _)) if !filtered => count,
        _ if !filtered => db
            .query_one(
                "SELECT COALESCE(SUM(customer_count), 0)::bigint FROM campaigns WHERE account_id = $1",
                &[&account_id],
            )
            .await?
            .get(0),
        _ => db
            .query_one(&numbered(&format!("SELECT count(*) FROM customers c WHERE {where_sql}")), &refs(&args))
            .await?
            .get(0),
    };
    let mut offset = page.offset();
    let mut after = "";
    if let (Some((_, version)), Some(campaign), false) = (counter, &filter.campaign, filtered)
        && worth_a_mark(offset, total)
        && let Some((mark, rest)) = page_marks(db, account_id, campaign, version, marks).await?.skip_to(offset)
    {
        after = " AND c.id > ?";
        args.push(arg(mark));
        offset = rest;
    }
    args.push(arg(page.limit));
    args.push(arg(offset));
    let sql = format!(
        "SELECT {COLUMNS} FROM customers c JOIN campaigns k ON k.account_id = c.account_id AND k.id = c.campaign_id \
         WHERE c.account_id = ? AND c.id IN (SELECT c.id FROM customers c WHERE {where_sql}{after} ORDER BY c.id LIMIT ? OFFSET ?) \
         ORDER BY c.id"
    );
    args.insert(0, arg(account_id.to_string()));
    let rows = db.query(&numbered(&sql), &refs(&args)).await?;
    let rows = rows.iter().map(|r| customer_at(r, 0)).collect();
    Ok(Paged { rows, total })
}

/// The customer whose [`COLUMNS`] start at column `at` of `r`.
fn customer_at(r: &tokio_postgres::Row, at: usize) -> Customer {
    Customer {
        id: r.get(at),
        campaign_id: r.get(at + 1),
        campaignname: r.get(at + 2),
        crm_id: r.get(at + 3),
        name: r.get(at + 4),
        phones: r.get::<_, &str>(at + 13).split(',').filter(|p| !p.is_empty()).map(str::to_string).collect(),
        status: r.get(at + 5),
        source: r.get(at + 6),
        insert_time: r.get(at + 7),
        callback_time: r.get(at + 8),
        last_time_make_call: r.get(at + 9),
        number_call_out: r.get(at + 10),
        do_not_call: r.get(at + 11),
        stringee_user_id_callback: r.get(at + 12),
    }
}

/// One of a campaign's first pages, unfiltered, with its total: one statement, which
/// reads the campaign's counter and the page in one snapshot of its own, prepared
/// once per connection. The list's usual request costs one round trip.
pub async fn first_page(
    conn: &deadpool_postgres::Object,
    account_id: &str,
    campaign: &str,
    page: Page,
) -> StoreResult<Paged<Customer>> {
    // Every campaign row joined to its page, so an unknown campaign reads no row and
    // an empty page one row without a customer. LIMIT and OFFSET are written in: a
    // statement whose LIMIT is a parameter is planned again on every run (PostgreSQL
    // cannot price its generic plan), and planning was two fifths of the request.
    let sql = format!(
        "SELECT k.customer_count, {COLUMNS} FROM campaigns k LEFT JOIN LATERAL \
         (SELECT * FROM customers c WHERE c.account_id = k.account_id AND c.campaign_id = k.id \
          ORDER BY c.id LIMIT {} OFFSET {}) c ON true \
         WHERE k.account_id = $1 AND k.id = $2 ORDER BY c.id",
        page.limit,
        page.offset()
    );
    let statement = super::db::prepare_in(&conn.statement_cache, conn, &sql).await?;
    let found = conn.query(&statement, &[&account_id, &campaign]).await?;
    let first = found.first().ok_or_else(|| StoreError::CampaignNotFound(campaign.to_string()))?;
    let total: i64 = first.get(0);
    let rows = found.iter().filter(|r| r.get::<_, Option<i64>>(1).is_some()).map(|r| customer_at(r, 1)).collect();
    Ok(Paged { rows, total })
}

/// The campaign's marks for `version`, from the cache or from one pass over its index.
async fn page_marks(
    db: &impl GenericClient,
    account_id: &str,
    campaign_id: &str,
    version: i64,
    cache: &MarkCache,
) -> StoreResult<std::sync::Arc<PageMarks>> {
    if let Some(marks) = cache.get(account_id, campaign_id, version) {
        return Ok(marks);
    }
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&account_id, &campaign_id];
    let rows =
        db.query_raw("SELECT id FROM customers WHERE account_id = $1 AND campaign_id = $2 ORDER BY id", params).await?;
    futures_util::pin_mut!(rows);
    let mut marks = PageMarks::new(version);
    while let Some(r) = rows.try_next().await? {
        marks.visit(r.get(0));
    }
    Ok(cache.put(account_id, campaign_id, marks))
}

pub async fn delete<C: GenericClient + Sync>(db: &C, account_id: &str, actor: &str, id: i64) -> StoreResult<bool> {
    let Some(found) = db
        .query_opt("SELECT campaign_id FROM customers WHERE account_id = $1 AND id = $2", &[&account_id, &id])
        .await?
    else {
        return Ok(false);
    };
    let campaign: String = found.get(0);
    // The campaign first, as every other writer of its customers does. A campaign
    // deleted meanwhile took the customer with it: the customer is what is not found.
    if campaigns::lock(db, account_id, &campaign).await?.is_none() {
        return Ok(false);
    }
    let (shared, now) = (PgDb(db), now_secs());
    calling::refuse_any_claimed(&shared, account_id, &[id], "release it or wait for its result first", now).await?;
    calling::record_deletes(&shared, account_id, &[id], actor, now).await?;
    let n = db.execute("DELETE FROM customers WHERE account_id = $1 AND id = $2", &[&account_id, &id]).await?;
    if n == 0 {
        return Ok(false);
    }
    bump_count(db, account_id, &campaign, -1).await?;
    Ok(true)
}
