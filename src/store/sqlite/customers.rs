//! Campaign customers: adding (from contacts, files, filters, phones), duplicates,
//! keepduplicate, listing and deleting.

use rusqlite::{Connection, OptionalExtension, Transaction, params_from_iter, types::Value as Sql};

use super::staging::{CHUNK_ROWS, Hidden, Reserved, Staging};
use super::{StoreError, StoreResult, campaigns, contacts, resolve_portal};
use crate::domain::campaign::Campaign;
use crate::domain::customer::{AddOutcome, Customer, CustomerFilter, NewCustomer, Source, name_key};
use crate::domain::ids::CustomerId;
use crate::domain::ids::{IdKind, IdRun};
use crate::domain::now_secs;
use crate::domain::page::{Page, Paged};
use crate::store::plan::{
    DuplicateFinder, KeepChange, KeepPlan, MarkCache, PageMarks, entry_contact, needs_a_phone, phone_key,
    ready_customer, record_filter, worth_a_mark,
};
use crate::store::shared::calling;
use crate::store::{DuplicateGroup, Entries, Feed, KeepOutcome, PhonesOutcome, Target};

/// Entries one step of an add writes at most, when the reader has them ready.
const IMPORT_STEP_ROWS: usize = 4 * CHUNK_ROWS;

/// Customers written by one multi-row INSERT.
const CHUNK: usize = 256;

/// The INSERT of `n` customers: the account, campaign, time and who added them are
/// ?1..?4, then six parameters per customer.
fn insert_sql(n: usize) -> std::sync::Arc<str> {
    super::multi_row_sql(
        "INSERT INTO customers (id, account_id, campaign_id, insert_time, added_by, crm_id, name, name_key, phones, type) \
         VALUES ",
        " ON CONFLICT (account_id, campaign_id, crm_id) DO NOTHING",
        n,
        |i| {
            let p = 5 + i * 6;
            format!("?{},?1,?2,?3,?4,?{},?{},?{},?{},?{}", p, p + 1, p + 2, p + 3, p + 4, p + 5)
        },
    )
}

/// A customer ready to be written.
type Row = crate::store::plan::ReadyCustomer;

/// State of one add, across the transactions it is written in. Each transaction
/// starts with [`Adder::begin`] and ends with [`Adder::end`], which writes what is
/// pending and the id counter back.
struct Adder<'a> {
    conn: &'a Connection,
    account_id: &'a str,
    /// The API key the customers are added with, for their history.
    actor: String,
    campaign_id: String,
    default_portal: String,
    now: i64,
    /// The last customer id given out.
    last_id: i64,
    /// The first customer id of this add (0 until its first step): the campaign's
    /// customers from it on are the add's own, since it holds the campaign's turn.
    start: i64,
    /// The filter being added started on a campaign without customers: no match of
    /// it can be in the campaign (each step's matches are contacts no earlier step had).
    filter_into_empty: bool,
    added: i64,
    pending: Vec<Row>,
    /// Ids for the CRM contacts made for entries without one.
    contact_ids: IdRun,
    /// For a staged add: where its new contacts go until it is published.
    staged: Option<(&'a Staging, Reserved)>,
    /// Contacts of imports in progress, as of this transaction.
    hidden: Hidden,
    /// The phone and word rows of the contacts this step made, written when it ends.
    contact_rows: contacts::PendingRows,
}

/// The campaign's customer of CRM contact `crm_id`, if it has one.
fn customer_of_contact(conn: &Connection, account: &str, campaign: &str, crm_id: &str) -> StoreResult<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM customers WHERE account_id = ?1 AND campaign_id = ?2 AND crm_id = ?3")?
        .query_row((account, campaign, crm_id), |r| r.get(0))
        .optional()?)
}

impl<'a> Adder<'a> {
    fn new(
        conn: &'a Connection,
        account_id: &'a str,
        actor: &str,
        campaign_id: String,
        staging: Option<&'a Staging>,
    ) -> StoreResult<Adder<'a>> {
        Ok(Adder {
            conn,
            account_id,
            actor: actor.to_string(),
            campaign_id,
            default_portal: resolve_portal(conn, account_id, None)?,
            now: now_secs(),
            last_id: 0,
            start: 0,
            filter_into_empty: false,
            added: 0,
            pending: Vec::with_capacity(CHUNK),
            contact_ids: IdKind::Contact.run(),
            staged: staging.map(|s| (s, Reserved::default())),
            hidden: Hidden::default(),
            contact_rows: contacts::PendingRows::default(),
        })
    }

    /// Starts a transaction's share of the work: other writers may have drawn ids
    /// and reserved contact blocks since the last one.
    fn begin(&mut self) -> StoreResult<()> {
        self.last_id = self.conn.query_row("SELECT value FROM counters WHERE name = 'customer'", [], |r| r.get(0))?;
        if self.start == 0 {
            self.start = self.last_id + 1;
        }
        if let Some((staging, _)) = &self.staged {
            self.hidden = staging.hidden();
        }
        Ok(())
    }

    /// Ends a transaction's share: what is pending, and the id counter.
    fn end(&mut self, outcome: &mut AddOutcome) -> StoreResult<()> {
        self.flush(outcome)?;
        self.contact_rows.write(self.conn)?;
        self.conn.execute("UPDATE counters SET value = ?1 WHERE name = 'customer'", [self.last_id])?;
        Ok(())
    }

    /// Writes the pending customers with one INSERT; contacts already in the campaign
    /// are passed over by the unique index: skipped when they were there before the
    /// add, repeats when the add put them there. Ids are drawn in row order, so a
    /// skipped row leaves a gap, never a reuse.
    fn flush(&mut self, outcome: &mut AddOutcome) -> StoreResult<()> {
        let n = self.pending.len();
        if n == 0 {
            return Ok(());
        }
        let first_id = self.last_id + 1;
        let mut stmt = self.conn.prepare_cached(&insert_sql(n))?;
        stmt.raw_bind_parameter(1, self.account_id)?;
        stmt.raw_bind_parameter(2, &self.campaign_id)?;
        stmt.raw_bind_parameter(3, self.now)?;
        stmt.raw_bind_parameter(4, self.actor.as_str())?;
        for (i, row) in self.pending.iter().enumerate() {
            let p = 5 + i * 6;
            stmt.raw_bind_parameter(p, first_id + i as i64)?;
            stmt.raw_bind_parameter(p + 1, &row.crm_id)?;
            stmt.raw_bind_parameter(p + 2, &row.name)?;
            stmt.raw_bind_parameter(p + 3, &row.name_key)?;
            stmt.raw_bind_parameter(p + 4, &row.phones)?;
            stmt.raw_bind_parameter(p + 5, row.source as i64)?;
        }
        let written = stmt.raw_execute()?;
        self.added += written as i64;
        self.last_id += n as i64;
        if written < n {
            // The ids that were written tell which rows the index skipped.
            let mut written_ids = std::collections::HashSet::with_capacity(written);
            let mut stmt = self.conn.prepare_cached("SELECT id FROM customers WHERE id BETWEEN ?1 AND ?2")?;
            for id in stmt.query_map((first_id, self.last_id), |r| r.get::<_, i64>(0))? {
                written_ids.insert(id?);
            }
            for (i, row) in self.pending.drain(..).enumerate() {
                if !written_ids.contains(&(first_id + i as i64)) {
                    let id = customer_of_contact(self.conn, self.account_id, &self.campaign_id, &row.crm_id)?
                        .ok_or_else(|| StoreError::broken("a customer the index kept out went missing"))?;
                    outcome.passed_over(row.row, row.crm_id, id >= self.start);
                }
            }
        }
        self.pending.clear();
        Ok(())
    }

    /// Writes one customer at once; false when its contact is already in the campaign.
    fn insert_now(&mut self, row: Row) -> StoreResult<bool> {
        let mut outcome = AddOutcome::default();
        self.flush(&mut outcome)?;
        self.pending.push(row);
        self.flush(&mut outcome)?;
        Ok(outcome.skipped.is_empty() && outcome.repeated == 0)
    }

    /// A new CRM contact in the default portal for an entry that has no id; in a
    /// staged add, at a rowid of the add's reserved block.
    fn new_contact(&mut self, entry: &NewCustomer) -> StoreResult<String> {
        let contact = entry_contact(entry, &self.default_portal, self.now, false);
        let seq = match &mut self.staged {
            Some((staging, reserved)) => {
                Some(reserved.next_seq(staging, self.conn, self.account_id, &self.default_portal)?)
            }
            None => None,
        };
        contacts::insert_pending(
            self.conn,
            self.account_id,
            &contact,
            &mut self.contact_ids,
            seq,
            &mut self.contact_rows,
        )
    }

    /// The default portal's CRM contact that already holds one of `phones` (the
    /// earliest such), leaving out the contacts of imports in progress.
    fn holder(&mut self, phones: &[String]) -> StoreResult<Option<String>> {
        if self.contact_rows.holds_any(phones) {
            self.contact_rows.write(self.conn)?;
        }
        let sql = format!(
            "SELECT c.id FROM contact_phones p JOIN contacts c ON c.rowid = p.contact_rowid \
             WHERE p.account_id = ? AND p.phone IN ({}) AND c.portal_id = ?{} ORDER BY c.rowid LIMIT 1",
            vec!["?"; phones.len()].join(", "),
            self.hidden.leave_out("c.seq")
        );
        let mut args: Vec<Sql> = vec![self.account_id.to_string().into()];
        args.extend(phones.iter().map(|p| Sql::from(p.clone())));
        args.push(self.default_portal.clone().into());
        Ok(self.conn.prepare_cached(&sql)?.query_row(params_from_iter(args.iter()), |r| r.get(0)).optional()?)
    }

    fn add(&mut self, entry: NewCustomer, outcome: &mut AddOutcome) -> StoreResult<()> {
        if let Some(invalid) = needs_a_phone(&entry) {
            outcome.reject(invalid);
            return Ok(());
        }
        // A row without an id goes to the contact that holds one of its phones
        // already, so that the same file uploaded twice adds nothing the second time.
        let crm_id = match &entry.crm_id {
            Some(id) => id.clone(),
            None => match self.holder(&entry.phones)? {
                Some(id) => {
                    outcome.attached += 1;
                    id
                }
                None => self.new_contact(&entry)?,
            },
        };
        // Only an entry that leaves something out needs its CRM contact.
        let contact = match entry.name.is_none() || entry.phones.is_empty() {
            true => {
                self.contact_rows.write(self.conn)?;
                contacts::get(self.conn, self.account_id, &crm_id, &self.hidden)?
            }
            false => None,
        };
        let contact = contact.as_ref().map(|c| (c.name.as_str(), c.phones.as_slice()));
        match ready_customer(entry, crm_id, contact) {
            Ok(ready) => self.pending.push(ready),
            Err(invalid) => {
                // An entry without a phone whose contact the campaign holds is
                // skipped like any other: what it left out is already there.
                self.flush(outcome)?;
                let crm_id = invalid.id.clone().unwrap_or_default();
                match customer_of_contact(self.conn, self.account_id, &self.campaign_id, &crm_id)? {
                    Some(id) => outcome.passed_over(invalid.row, crm_id, id >= self.start),
                    None => outcome.reject(invalid),
                }
            }
        }
        if self.pending.len() == CHUNK {
            self.flush(outcome)?;
        }
        Ok(())
    }

    /// Adds the next contacts of the portal that match `query`, up to `CHUNK_ROWS`
    /// of them past rowid `after`, with one INSERT ... SELECT inside the database:
    /// no contact travels through callsheet. Contacts already in the campaign are
    /// skipped, contacts without a phone reported. Returns the last rowid looked at,
    /// or `None` once no match is left.
    ///
    /// The first step (`after` = `i64::MIN`) evaluates the query once, keeping its
    /// matches' rowids in a temporary table of the connection; each step then reads
    /// its window of them by rowid. Evaluating the query in every step made a word's
    /// list of matches be walked from its start each time: 25 steps over 100,000
    /// matches walked 1.25 million rows where 100,000 do.
    fn add_filter(
        &mut self,
        query: &crate::query::sql::Compiled,
        portal: &str,
        row: i64,
        after: i64,
        outcome: &mut AddOutcome,
    ) -> StoreResult<Option<i64>> {
        self.flush(outcome)?;
        self.contact_rows.write(self.conn)?;
        if after == i64::MIN {
            let matching = format!("{} AND ({})", contacts::scope(Some(query), &self.hidden), query.sql);
            let mut args: Vec<Sql> = vec![self.account_id.to_string().into(), portal.to_string().into()];
            args.extend(contacts::query_params(query));
            self.conn.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS filter_matches (seq INTEGER PRIMARY KEY); \
                 DELETE FROM temp.filter_matches;",
            )?;
            self.conn.execute(
                &format!("INSERT INTO temp.filter_matches (seq) SELECT c.seq FROM contacts c WHERE {matching}"),
                params_from_iter(args.iter()),
            )?;
            self.filter_into_empty = self
                .conn
                .prepare_cached(
                    "SELECT NOT EXISTS (SELECT 1 FROM customers WHERE account_id = ?1 AND campaign_id = ?2)",
                )?
                .query_row((self.account_id, &self.campaign_id), |r| r.get(0))?;
        }
        // The window of this step: the next CHUNK_ROWS matches in rowid order.
        let upto: Option<i64> = self
            .conn
            .prepare_cached("SELECT seq FROM temp.filter_matches WHERE seq > ?1 ORDER BY seq LIMIT 1 OFFSET ?2")?
            .query_row((after, CHUNK_ROWS as i64 - 1), |r| r.get(0))
            .optional()?;
        let last = upto.is_none();
        let upto = upto.unwrap_or(i64::MAX);
        let window = "FROM temp.filter_matches m JOIN contacts c ON c.seq = m.seq WHERE m.seq > ? AND m.seq <= ?";
        let base: Vec<Sql> = vec![after.into(), upto.into()];
        let with_campaign = |mut args: Vec<Sql>| {
            args.push(self.account_id.to_string().into());
            args.push(self.campaign_id.clone().into());
            args
        };
        // Into an empty campaign no match is in it: the lookups are left out (`? IS NULL`
        // keeps the statement's values in place).
        let in_campaign = if self.filter_into_empty {
            "(? IS NULL AND ? IS NULL)"
        } else {
            "EXISTS (SELECT 1 FROM customers x WHERE x.account_id = ? AND x.campaign_id = ? AND x.crm_id = c.id)"
        };
        // The matches with a phone that are not in the campaign, their phones joined in
        // (a match without one has no row to join: it is passed over), in rowid order,
        // which is the phones' key order too: no sort, one lookup of each match's phones.
        let before = self.last_id;
        let mut args: Vec<Sql> = vec![
            before.into(),
            self.account_id.to_string().into(),
            self.campaign_id.clone().into(),
            self.now.into(),
            self.actor.clone().into(),
        ];
        args.extend(with_campaign(base.clone()));
        let added = self.conn.prepare_cached(&format!(
            "INSERT INTO customers (id, account_id, campaign_id, insert_time, added_by, crm_id, name, name_key, phones, type) \
             SELECT ? + row_number() OVER (ORDER BY c.seq), ?, ?, ?, ?, c.id, c.name, callsheet_name_key(c.name), \
                    group_concat(p.phone, ',' ORDER BY p.pos), {} \
             FROM temp.filter_matches m JOIN contacts c ON c.seq = m.seq JOIN contact_phones p ON p.contact_rowid = c.seq \
             WHERE m.seq > ? AND m.seq <= ? AND NOT {in_campaign} GROUP BY c.seq",
            Source::Filter as i64
        ))?
        .execute(params_from_iter(args.iter()))? as i64;
        self.last_id += added;
        self.added += added;
        // The matches of the window it did not add, when there are any: those in the
        // campaign before the add (by id), those an earlier entry of the add put there
        // (marked '='), and those without a phone (marked '!'). Only the customers that
        // were there before this step's insert count.
        let in_window: i64 = if last {
            self.conn
                .prepare_cached("SELECT count(*) FROM temp.filter_matches WHERE seq > ?1")?
                .query_row([after], |r| r.get(0))?
        } else {
            CHUNK_ROWS as i64
        };
        let passed_over = if added < in_window {
            // In the campaign with an id `op` the bound that follows it.
            let present = |op: &str| match self.filter_into_empty {
                true => "(? IS NULL AND ? IS NULL AND ? IS NULL)".to_string(),
                false => format!(
                    "EXISTS (SELECT 1 FROM customers x WHERE x.account_id = ? AND x.campaign_id = ? \
                     AND x.crm_id = c.id AND x.id {op} ?)"
                ),
            };
            let (was_in, was_before) = (present("<="), present("<"));
            let has_phone = "EXISTS (SELECT 1 FROM contact_phones p WHERE p.contact_rowid = c.seq)";
            let mut args = with_campaign(Vec::new());
            args.push(self.start.into());
            args.extend(with_campaign(Vec::new()));
            args.push(before.into());
            args.extend(base);
            args.extend(with_campaign(Vec::new()));
            args.push(before.into());
            let sql = format!(
                "SELECT CASE WHEN {was_before} THEN c.id WHEN {was_in} THEN '=' || c.id ELSE '!' || c.id END \
                 {window} AND ({was_in} OR NOT {has_phone}) ORDER BY c.seq"
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            stmt.query_map(params_from_iter(args.iter()), |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?
        } else {
            Vec::new()
        };
        record_filter(outcome, row, added, passed_over);
        if last {
            self.conn.execute_batch("DELETE FROM temp.filter_matches;")?;
        }
        Ok((!last).then_some(upto))
    }
}

/// Counts the campaign's customers from `from` on, which an add has just written
/// or is about to publish (customer_counts: the triggers count what changes later).
/// `as_written`: how many there are when none has changed since it was written, so
/// that all stand in the status and queue state an add writes: one row tells it, and
/// the count needs no pass over them (a tenth of a million-row upload's time).
fn count_added(
    conn: &Connection,
    account_id: &str,
    campaign_id: &str,
    from: i64,
    as_written: Option<i64>,
) -> StoreResult<()> {
    const HEAD: &str = "INSERT INTO customer_counts (account_id, campaign_id, status, due, n) \
                        SELECT account_id, campaign_id, status, due,";
    const ADDED: &str = "FROM customers WHERE account_id = ?1 AND campaign_id = ?2 AND id >= ?3";
    match as_written {
        Some(n) => {
            conn.prepare_cached(&format!("{HEAD} ?4 {ADDED} LIMIT 1"))?.execute((account_id, campaign_id, from, n))
        }
        None => conn.prepare_cached(&format!("{HEAD} count(*) {ADDED} GROUP BY status, due"))?.execute((
            account_id,
            campaign_id,
            from,
        )),
    }?;
    Ok(())
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

/// Adds every entry of the feed, all or nothing, without holding the write lock
/// for long: the entries go in short steps as customers that readers do not see
/// yet (ids from the campaign's `staged_from` on, contacts in reserved blocks), and
/// one last step publishes them. The caller holds the campaign's turn among its
/// adders, so every customer of the campaign past `staged_from` is this add's. On
/// any failure what was written is discarded.
pub fn add(
    staging: &Staging,
    conn: &Connection,
    account_id: &str,
    actor: &str,
    target: Target,
    mut feed: Entries,
) -> StoreResult<(Campaign, AddOutcome)> {
    let campaign = staging.step(conn, |tx| {
        let next_id = "(SELECT value + 1 FROM counters WHERE name = 'customer')";
        let campaign = match target {
            Target::New(fields) => campaigns::create_as(tx, account_id, *fields, true)?,
            Target::Existing(id) => {
                campaigns::get(tx, account_id, &id)?.ok_or_else(|| StoreError::CampaignNotFound(id.into_string()))?
            }
        };
        // A campaign made already past its end is completed too: the step, and with
        // it the campaign, is undone.
        crate::store::plan::open_for_adds(&campaign)?;
        tx.execute(
            &format!("UPDATE campaigns SET staged_from = {next_id} WHERE account_id = ?1 AND id = ?2"),
            (account_id, &campaign.id),
        )?;
        Ok(campaign)
    })?;
    let mut adder = Adder::new(conn, account_id, actor, campaign.id.clone(), Some(staging))?;
    let mut outcome = AddOutcome::default();
    // Held from the first row that may make a CRM contact to the end of the add.
    let mut making_contacts = None;
    let staged = (|| -> StoreResult<()> {
        let mut waiting: Option<Feed> = None;
        loop {
            match waiting.take().or_else(|| feed.blocking_next()) {
                Some(Feed::Rows(mut rows)) => {
                    // Batches already read join this one, up to a step of IMPORT_STEP_ROWS:
                    // fewer, larger commits rewrite the indexes' hot pages fewer times.
                    while rows.len() < IMPORT_STEP_ROWS {
                        match feed.ready() {
                            Some(Feed::Rows(more)) => rows.extend(more),
                            other => {
                                waiting = other;
                                break;
                            }
                        }
                    }
                    if making_contacts.is_none() && rows.iter().any(|e| e.crm_id.is_none()) {
                        making_contacts = Some(staging.lock_contacts_blocking(account_id));
                    }
                    let mut rows = rows.into_iter().peekable();
                    while rows.peek().is_some() {
                        let chunk: Vec<_> = rows.by_ref().take(IMPORT_STEP_ROWS).collect();
                        staging.step(conn, |_| {
                            adder.begin()?;
                            for entry in chunk {
                                adder.add(entry, &mut outcome)?;
                            }
                            adder.end(&mut outcome)
                        })?;
                    }
                }
                Some(Feed::Filter { source, row }) => {
                    // The saved filter and the portal are read here, in the add itself.
                    let (query, portal) = super::resolve_filter(conn, account_id, *source)?;
                    let query = super::compile(account_id, &portal, &query)?;
                    let mut after = i64::MIN;
                    loop {
                        let next = staging.step(conn, |_| {
                            adder.begin()?;
                            let next = adder.add_filter(&query, &portal, row, after, &mut outcome)?;
                            adder.end(&mut outcome)?;
                            Ok(next)
                        })?;
                        match next {
                            Some(upto) => after = upto,
                            None => break,
                        }
                    }
                }
                Some(Feed::Done) => return Ok(()),
                // The producer failed or went away: nothing may stay.
                None => return Err(StoreError::Aborted),
            }
        }
    })();
    let reserved = adder.staged.take().map(|(_, r)| r).unwrap_or_default();
    // Customers whose every phone is on a do-not-call list are added as status 8.
    let staged = staged.and_then(|()| {
        let from = super::customers_from(conn, account_id, &campaign.id)?;
        outcome.dnc = staging.step(conn, |tx| {
            super::db::now(crate::store::shared::dnc::mark_listed(
                &super::db::SqliteDb(tx),
                account_id,
                &campaign.id,
                from,
                adder.last_id,
            ))
        })?;
        Ok(())
    });
    let published = staged.and_then(|()| {
        staging.step(conn, |tx| {
            super::staging::publish_blocks(tx, &reserved)?;
            let from = super::customers_from(tx, account_id, &campaign.id)?;
            // Marking those on a do-not-call list is the only change a staged customer
            // meets before it is published.
            count_added(tx, account_id, &campaign.id, from, (outcome.dnc == 0).then_some(adder.added))?;
            tx.execute(
                "UPDATE campaigns SET staged_from = NULL, hidden = 0, customer_count = customer_count + ?3, \
                 list_version = list_version + 1 WHERE account_id = ?1 AND id = ?2",
                (account_id, &campaign.id, adder.added),
            )?;
            Ok(())
        })
    });
    match published {
        Ok(()) => {
            staging.published(&reserved);
            outcome.added = adder.added;
            Ok((campaign, outcome))
        }
        Err(e) => {
            if let Err(cleanup) = staging.discard(conn, account_id, Some(&campaign.id), &reserved.blocks) {
                tracing::warn!("discarding a failed add: {cleanup}; the next start finishes it");
            }
            Err(e)
        }
    }
}

/// The customer ids of the campaign readers see are below this: from `staged_from`
/// on they are an import's still in progress.
fn visible_below(conn: &Connection, account_id: &str, campaign_id: &str) -> StoreResult<i64> {
    let staged: Option<Option<i64>> = conn
        .prepare_cached("SELECT staged_from FROM campaigns WHERE account_id = ?1 AND id = ?2")?
        .query_row((account_id, campaign_id), |r| r.get(0))
        .optional()?;
    Ok(staged.flatten().unwrap_or(i64::MAX))
}

/// Visits every customer of a campaign in id order as (id, name, phones). The
/// campaign's rows lie mostly together, so this walks the table between the
/// campaign's first and last id rather than looking each row up from an index.
fn scan_campaign(
    conn: &Connection,
    account_id: &str,
    campaign_id: &str,
    mut visit: impl FnMut(i64, &str, &str) -> StoreResult<()>,
) -> StoreResult<()> {
    let below = visible_below(conn, account_id, campaign_id)?;
    let bound = |order: &str| -> StoreResult<Option<i64>> {
        Ok(conn
            .prepare_cached(&format!(
                "SELECT id FROM customers WHERE account_id = ?1 AND campaign_id = ?2 AND id < ?3 \
                 ORDER BY id {order} LIMIT 1"
            ))?
            .query_row((account_id, campaign_id, below), |r| r.get(0))
            .optional()?)
    };
    let (Some(first), Some(last)) = (bound("ASC")?, bound("DESC")?) else {
        return Ok(());
    };
    // The unary + keeps SQLite on the rowid range instead of the campaign index.
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, phones FROM customers \
         WHERE id BETWEEN ?3 AND ?4 AND +account_id = ?1 AND +campaign_id = ?2 ORDER BY id",
    )?;
    let mut rows = stmt.query(rusqlite::params![account_id, campaign_id, first, last])?;
    while let Some(r) = rows.next()? {
        let text = |i| r.get_ref(i).and_then(|v| Ok(v.as_str()?)).map_err(StoreError::from);
        visit(r.get(0)?, text(1)?, text(2)?)?;
    }
    Ok(())
}

/// add-by-phones: each phone not in the campaign becomes a customer, drawn from the
/// default portal's CRM contact with that phone or from a new one.
pub fn add_phones(
    tx: &Transaction<'_>,
    account_id: &str,
    campaign_id: &str,
    phones: Vec<String>,
    hidden: &Hidden,
    actor: &str,
) -> StoreResult<PhonesOutcome> {
    let campaign = campaigns::get(tx, account_id, campaign_id)?
        .ok_or_else(|| StoreError::CampaignNotFound(campaign_id.to_string()))?;
    crate::store::plan::open_for_adds(&campaign)?;
    let mut held = std::collections::HashSet::new();
    scan_campaign(tx, account_id, campaign_id, |_, _, phones| {
        held.extend(phones.split(',').filter_map(phone_key));
        Ok(())
    })?;
    let mut adder = Adder::new(tx, account_id, actor, campaign.id, None)?;
    adder.begin()?;
    let first = adder.last_id + 1;
    adder.hidden = hidden.clone();
    let mut outcome = PhonesOutcome::default();
    for phone in phones {
        if phone_key(&phone).is_some_and(|k| held.contains(&k)) {
            outcome.skipped_phones.push(phone);
            continue;
        }
        if adder.contact_rows.holds_any(std::slice::from_ref(&phone)) {
            adder.contact_rows.write(tx)?;
        }
        let existing: Option<(String, String)> = tx
            .prepare_cached(&format!(
                "SELECT c.id, c.name FROM contact_phones p \
                 JOIN contacts c ON c.rowid = p.contact_rowid \
                 WHERE p.account_id = ?1 AND p.phone = ?2 AND c.portal_id = ?3{} ORDER BY c.rowid LIMIT 1",
                hidden.leave_out("c.seq")
            ))?
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
                    name_key: None,
                };
                (adder.new_contact(&entry)?, String::new())
            }
        };
        if adder.insert_now(Row {
            crm_id,
            name_key: name_key(&name),
            name,
            phones: phone.clone(),
            source: Source::Phones,
            row: 0,
        })? {
            outcome.added += 1;
        } else {
            // That contact is already a customer, under another phone.
            outcome.skipped_phones.push(phone);
        }
    }
    adder.end(&mut AddOutcome::default())?;
    bump_count(tx, account_id, campaign_id, adder.added)?;
    // Counted as they are; marking those on a do-not-call list then moves them.
    count_added(tx, account_id, campaign_id, first, None)?;
    outcome.dnc = super::db::now(crate::store::shared::dnc::mark_listed(
        &super::db::SqliteDb(tx),
        account_id,
        campaign_id,
        first,
        adder.last_id,
    ))?;
    Ok(outcome)
}

/// The campaign's customer count; r=3 when the account has no such campaign.
fn require_campaign(conn: &Connection, account_id: &str, campaign_id: &str) -> StoreResult<i64> {
    campaigns::customer_count(conn, account_id, campaign_id)?
        .ok_or_else(|| StoreError::CampaignNotFound(campaign_id.to_string()))
}

/// Phones held by two or more customers of the campaign, ascending, customers by id.
pub fn duplicates(conn: &Connection, account_id: &str, campaign_id: &str) -> StoreResult<Vec<DuplicateGroup>> {
    let expected = require_campaign(conn, account_id, campaign_id)? as usize;
    let mut finder = DuplicateFinder::with_capacity(expected);
    scan_campaign(conn, account_id, campaign_id, |id, name, phones| {
        finder.visit(id, name, phones);
        Ok(())
    })?;
    Ok(finder.groups())
}

/// keepduplicate: one pass finds every customer holding a named phone; the pairs are
/// checked against it, then the losers' phones are rewritten or the losers removed.
pub fn keep_duplicates(
    tx: &Transaction<'_>,
    account_id: &str,
    actor: &str,
    campaign_id: &str,
    keep: Vec<(String, CustomerId)>,
) -> StoreResult<KeepOutcome> {
    let keep: Vec<(String, i64)> = keep.into_iter().map(|(phone, id)| (phone, id.0)).collect();
    require_campaign(tx, account_id, campaign_id)?;
    let mut plan = KeepPlan::new(&keep);
    let mut before = std::collections::HashMap::new();
    scan_campaign(tx, account_id, campaign_id, |id, _, phones| {
        if plan.visit(id, phones) {
            before.insert(id, phones.to_string());
        }
        Ok(())
    })?;
    let (changes, outcome) = plan.changes(campaign_id)?;
    let db = super::db::SqliteDb(tx);
    let now = now_secs();
    let (removed, rewritten) = super::super::plan::split_changes(&changes, &before);
    let touched: Vec<i64> = removed.iter().copied().chain(rewritten.iter().map(|(id, _, _)| *id)).collect();
    super::db::now(calling::refuse_any_claimed(&db, account_id, &touched, "keepduplicate would change it", now))?;
    super::db::now(calling::record_keep(&db, account_id, campaign_id, &removed, &rewritten, &before, actor, now))?;
    for change in changes {
        match change {
            KeepChange::Remove(id) => tx.prepare_cached("DELETE FROM customers WHERE id = ?1")?.execute([id])?,
            KeepChange::Rewrite(id, phones) => {
                tx.prepare_cached("UPDATE customers SET phones = ?2 WHERE id = ?1")?.execute((id, phones))?
            }
        };
    }
    bump_count(tx, account_id, campaign_id, -outcome.removed_customers)?;
    Ok(outcome)
}

const COLUMNS: &str = "c.id, c.campaign_id, k.name, c.crm_id, c.name, c.status, c.type, c.insert_time, \
                       c.callback_time, c.last_time_make_call, c.number_call_out, c.do_not_call, \
                       c.stringee_user_id_callback, c.phones";

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
        let found: Option<(i64, i64, Option<i64>)> = conn
            .prepare_cached(
                "SELECT customer_count, list_version, staged_from FROM campaigns \
                 WHERE account_id = ?1 AND id = ?2 AND hidden = 0",
            )?
            .query_row((account_id, campaign.as_str()), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let (count, version, staged_from) = found.ok_or_else(|| StoreError::CampaignNotFound(campaign.to_string()))?;
        counter = Some((count, version));
        conds.push("c.campaign_id = ?".into());
        args.push(campaign.to_string().into());
        if let Some(from) = staged_from {
            conds.push("c.id < ?".into());
            args.push(from.into());
        }
    } else {
        // Customers of imports in progress, and of campaigns being made or deleted.
        let mut stmt = conn.prepare_cached(
            "SELECT id, CASE WHEN hidden = 1 THEN NULL ELSE staged_from END FROM campaigns \
             WHERE account_id = ?1 AND (hidden = 1 OR staged_from IS NOT NULL)",
        )?;
        let unseen: Vec<(String, Option<i64>)> =
            stmt.query_map([account_id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        for (campaign, from) in unseen {
            conds.push("NOT (c.campaign_id = ? AND c.id >= ?)".into());
            args.push(campaign.into());
            args.push(from.unwrap_or(i64::MIN).into());
        }
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
        conds.push("instr(',' || c.phones || ',', ?) > 0".into());
        args.push(format!(",{phone},").into());
    }
    let filtered = filter.status.is_some() || filter.name.is_some() || filter.phone.is_some();
    let where_sql = conds.join(" AND ");
    let total: i64 = match counter {
        Some((count, _)) if !filtered => count,
        _ if !filtered => conn
            .prepare_cached(
                "SELECT COALESCE(SUM(customer_count), 0) FROM campaigns WHERE account_id = ?1 AND hidden = 0",
            )?
            .query_row([account_id], |r| r.get(0))?,
        _ => conn
            .prepare_cached(&format!("SELECT count(*) FROM customers c WHERE {where_sql}"))?
            .query_row(params_from_iter(args.iter()), |r| r.get(0))?,
    };
    let mut offset = page.offset();
    let mut after = "";
    if let (Some((_, version)), Some(campaign), false) = (counter, &filter.campaign, filtered)
        && worth_a_mark(offset, total)
        && let Some((mark, rest)) = page_marks(conn, account_id, campaign, version, marks)?.skip_to(offset)
    {
        after = " AND c.id > ?";
        args.push(mark.into());
        offset = rest;
    }
    // The page's ids first, from the index alone, then their rows.
    args.push(page.limit.into());
    args.push(offset.into());
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM customers c JOIN campaigns k ON k.account_id = c.account_id AND k.id = c.campaign_id \
         WHERE c.id IN (SELECT c.id FROM customers c WHERE {where_sql}{after} ORDER BY c.id LIMIT ? OFFSET ?) \
         ORDER BY c.id"
    ))?;
    let rows: Vec<Customer> =
        stmt.query_map(params_from_iter(args.iter()), |r| customer_at(r, 0))?.collect::<Result<_, _>>()?;
    Ok(Paged { rows, total })
}

/// The customer whose [`COLUMNS`] start at column `at`.
fn customer_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Customer> {
    Ok(Customer {
        id: r.get(at)?,
        campaign_id: r.get(at + 1)?,
        campaignname: r.get(at + 2)?,
        crm_id: r.get(at + 3)?,
        name: r.get(at + 4)?,
        phones: r.get::<_, String>(at + 13)?.split(',').filter(|p| !p.is_empty()).map(str::to_string).collect(),
        status: r.get(at + 5)?,
        source: r.get(at + 6)?,
        insert_time: r.get(at + 7)?,
        callback_time: r.get(at + 8)?,
        last_time_make_call: r.get(at + 9)?,
        number_call_out: r.get(at + 10)?,
        do_not_call: r.get(at + 11)?,
        stringee_user_id_callback: r.get(at + 12)?,
    })
}

/// One of a campaign's first pages, unfiltered, with its total, as [`list`] reads
/// it, in one statement: the campaign's counter and the page come from the one
/// snapshot a statement reads, without a transaction of its own around two. `None`
/// when no row came back (no such campaign, or a page past an empty list): [`list`]
/// says which.
pub fn first_page(
    conn: &Connection,
    account_id: &str,
    campaign: &str,
    page: Page,
) -> StoreResult<Option<Paged<Customer>>> {
    // The campaign is one row: its customers come in the index's order, past those
    // of an add still staged.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT k.customer_count, {COLUMNS} FROM campaigns k LEFT JOIN customers c \
         ON c.account_id = k.account_id AND c.campaign_id = k.id AND c.id < coalesce(k.staged_from, {}) \
         WHERE k.account_id = ?1 AND k.id = ?2 AND k.hidden = 0 ORDER BY c.id LIMIT ?3 OFFSET ?4",
        i64::MAX
    ))?;
    let mut total = None;
    let mut rows = Vec::with_capacity(page.limit as usize);
    let mut found = stmt.query((account_id, campaign, page.limit, page.offset()))?;
    while let Some(r) = found.next()? {
        total = Some(r.get::<_, i64>(0)?);
        if r.get_ref(1)?.data_type() != rusqlite::types::Type::Null {
            rows.push(customer_at(r, 1)?);
        }
    }
    Ok(total.map(|total| Paged { rows, total }))
}

/// The campaign's marks for `version`, from the cache or from one pass over its index.
fn page_marks(
    conn: &Connection,
    account_id: &str,
    campaign_id: &str,
    version: i64,
    cache: &MarkCache,
) -> StoreResult<std::sync::Arc<PageMarks>> {
    if let Some(marks) = cache.get(account_id, campaign_id, version) {
        return Ok(marks);
    }
    let below = visible_below(conn, account_id, campaign_id)?;
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM customers WHERE account_id = ?1 AND campaign_id = ?2 AND id < ?3 ORDER BY id",
    )?;
    let mut rows = stmt.query((account_id, campaign_id, below))?;
    let mut marks = PageMarks::new(version);
    while let Some(r) = rows.next()? {
        marks.visit(r.get(0)?);
    }
    Ok(cache.put(account_id, campaign_id, marks))
}

pub fn delete(tx: &Transaction<'_>, account_id: &str, actor: &str, id: i64) -> StoreResult<bool> {
    let campaign: Option<String> = tx
        .query_row(
            "SELECT c.campaign_id FROM customers c \
             JOIN campaigns k ON k.account_id = c.account_id AND k.id = c.campaign_id \
             WHERE c.id = ?1 AND c.account_id = ?2 AND k.hidden = 0 AND (k.staged_from IS NULL OR c.id < k.staged_from)",
            (id, account_id),
            |r| r.get(0),
        )
        .optional()?;
    let Some(campaign) = campaign else {
        return Ok(false);
    };
    let db = super::db::SqliteDb(tx);
    let now = now_secs();
    super::db::now(calling::refuse_any_claimed(
        &db,
        account_id,
        &[id],
        "release it or wait for its result first",
        now,
    ))?;
    super::db::now(calling::record_deletes(&db, account_id, &[id], actor, now))?;
    tx.execute("DELETE FROM customers WHERE id = ?1", [id])?;
    bump_count(tx, account_id, &campaign, -1)?;
    Ok(true)
}
