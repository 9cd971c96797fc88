//! CRM contacts and their phones.

use rusqlite::{Connection, OptionalExtension, Row, Transaction};
use serde_json::{Map, Value};

use super::staging::{Hidden, Reserved, Staging};
use super::{StoreResult, insert_with_fresh_id, resolve_portal};
use crate::domain::contact::{Contact, ContactDraft, field_words, field_words_again};
use crate::domain::customer::{name_key, name_word_keys, word_index_version};
use crate::domain::ids::{IdKind, IdSource};
use crate::domain::now_secs;
use crate::domain::page::{Page, Paged};

const COLUMNS: &str = "id, name, email, fields, portal_id, created, updated";

fn row(r: &Row<'_>) -> rusqlite::Result<Contact> {
    let fields: String = r.get(3)?;
    let fields: Map<String, Value> = serde_json::from_str(&fields)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e)))?;
    Ok(Contact {
        id: r.get(0)?,
        name: r.get(1)?,
        phones: Vec::new(),
        email: r.get(2)?,
        fields,
        portal: r.get(4)?,
        created: r.get(5)?,
        updated: r.get(6)?,
    })
}

/// A contact's phones hang off its rowid: new contacts append to that key, where
/// their random text ids would land all over the index.
const ROWID_OF: &str = "(SELECT rowid FROM contacts WHERE account_id = ?1 AND id = ?2)";

fn load_phones(conn: &Connection, account_id: &str, contact: &mut Contact) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT phone FROM contact_phones WHERE contact_rowid = {ROWID_OF} ORDER BY pos"))?;
    contact.phones = stmt.query_map((account_id, &contact.id), |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(())
}

fn save_phones(tx: &Connection, account_id: &str, contact_id: &str, phones: &[String]) -> StoreResult<()> {
    tx.prepare_cached(&format!("DELETE FROM contact_phones WHERE contact_rowid = {ROWID_OF}"))?
        .execute((account_id, contact_id))?;
    insert_phones(tx, account_id, rowid_of(tx, account_id, contact_id)?, phones)
}

/// The name words of the contact at `rowid`, in both forms, into the word index
/// (which holds none of them).
fn save_words(tx: &Connection, portal: &str, rowid: i64, name: &str) -> StoreResult<()> {
    insert_word_rows(tx, &word_rows(portal, name, rowid).collect::<Vec<_>>())
}

/// Takes the name words of the contact at `rowid` out of the word index, as its
/// stored portal and name put them there. Called before either changes, or the
/// contact goes: the index is keyed by word alone. The contact's portal, when it is
/// there.
pub(super) fn forget_words(tx: &Connection, rowid: i64) -> StoreResult<Option<String>> {
    let stored: Option<(String, String)> = tx
        .prepare_cached("SELECT portal_id, name FROM contacts WHERE seq = ?1")?
        .query_row([rowid], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((portal, name)) = stored else {
        return Ok(None);
    };
    let mut delete = tx.prepare_cached("DELETE FROM name_words WHERE key = ?1 AND contact_rowid = ?2 AND pos = ?3")?;
    let (mut expected, mut removed) = (0, 0);
    for (key, pos) in name_word_keys(&portal, &name) {
        expected += 1;
        removed += delete.execute((key, rowid, pos))? as u64;
    }
    crate::store::plan::note_words_missing(expected, removed);
    Ok(Some(portal))
}

/// A word row: (key, contact rowid, position), in its index's order.
type WordRow = (String, i64, i64);

/// A phone row: (phone, contact rowid, position), in its index's order.
type PhoneRow = (String, i64, i64);

/// The word rows of the name of the contact at `rowid` in `portal`.
fn word_rows<'a>(portal: &'a str, name: &'a str, rowid: i64) -> impl Iterator<Item = WordRow> + 'a {
    name_word_keys(portal, name).map(move |(key, pos)| (key, rowid, pos))
}

/// Rows (a word in one form, or a phone) written by one INSERT at most: names and
/// phone lists come from files without a length limit, and a long one goes in
/// several statements rather than past SQLite's limit on bound values.
const ROWS_PER_INSERT: usize = 256;

/// Writes name-word rows, a few hundred to an INSERT.
fn insert_word_rows(conn: &Connection, rows: &[WordRow]) -> StoreResult<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = super::multi_row_sql(
            "INSERT OR IGNORE INTO name_words (key, contact_rowid, pos) VALUES ",
            "",
            chunk.len(),
            |i| {
                let p = 1 + i * 3;
                format!("?{},?{},?{}", p, p + 1, p + 2)
            },
        );
        let mut insert = conn.prepare_cached(&sql)?;
        for (i, (key, rowid, pos)) in chunk.iter().enumerate() {
            let p = 1 + i * 3;
            insert.raw_bind_parameter(p, key)?;
            insert.raw_bind_parameter(p + 1, rowid)?;
            insert.raw_bind_parameter(p + 2, pos)?;
        }
        insert.raw_execute()?;
    }
    Ok(())
}

/// Writes phone rows, a few hundred to an INSERT.
fn insert_phone_rows(conn: &Connection, account_id: &str, rows: &[PhoneRow]) -> StoreResult<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = super::multi_row_sql(
            "INSERT INTO contact_phones (account_id, phone, contact_rowid, pos) VALUES ",
            "",
            chunk.len(),
            |i| {
                let p = 2 + i * 3;
                format!("?1,?{},?{},?{}", p, p + 1, p + 2)
            },
        );
        let mut insert = conn.prepare_cached(&sql)?;
        insert.raw_bind_parameter(1, account_id)?;
        for (i, (phone, rowid, pos)) in chunk.iter().enumerate() {
            let p = 2 + i * 3;
            insert.raw_bind_parameter(p, phone)?;
            insert.raw_bind_parameter(p + 1, rowid)?;
            insert.raw_bind_parameter(p + 2, pos)?;
        }
        insert.raw_execute()?;
    }
    Ok(())
}

/// The phone rows of a contact at `rowid`.
fn phone_rows(phones: &[String], rowid: i64) -> impl Iterator<Item = PhoneRow> + '_ {
    phones.iter().enumerate().map(move |(pos, phone)| (phone.clone(), rowid, pos as i64))
}

fn rowid_of(tx: &Connection, account_id: &str, contact_id: &str) -> StoreResult<i64> {
    Ok(tx.prepare_cached(&format!("SELECT {ROWID_OF}"))?.query_row((account_id, contact_id), |r| r.get(0))?)
}

/// Phones of a contact that has none stored yet.
fn insert_phones(tx: &Connection, account_id: &str, rowid: i64, phones: &[String]) -> StoreResult<()> {
    insert_phone_rows(tx, account_id, &phone_rows(phones, rowid).collect::<Vec<_>>())
}

pub fn create(tx: &Transaction<'_>, account_id: &str, draft: ContactDraft) -> StoreResult<Contact> {
    let portal = resolve_portal(tx, account_id, draft.portal.as_deref())?;
    let mut contact = draft.apply(Contact::blank(String::new(), portal, now_secs()));
    contact.id = insert(tx, account_id, &contact, &mut IdKind::Contact, None)?;
    Ok(contact)
}

/// Inserts a contact (its portal already checked) under a fresh id from `ids`, at
/// rowid `seq` when given (an import's reserved block); returns the id.
pub fn insert(
    conn: &Connection,
    account_id: &str,
    c: &Contact,
    ids: &mut impl IdSource,
    seq: Option<i64>,
) -> StoreResult<String> {
    let (id, rowid) = insert_row(conn, account_id, c, ids, seq)?;
    insert_phones(conn, account_id, rowid, &c.phones)?;
    save_words(conn, &c.portal, rowid, &c.name)?;
    Ok(id)
}

/// Inserts a contact as [`insert`] does, leaving its phone and name-word rows in
/// `pending` to be written with those of the other contacts of the same step.
pub fn insert_pending(
    conn: &Connection,
    account_id: &str,
    c: &Contact,
    ids: &mut impl IdSource,
    seq: Option<i64>,
    pending: &mut PendingRows,
) -> StoreResult<String> {
    let (id, rowid) = insert_row(conn, account_id, c, ids, seq)?;
    pending.push(conn, account_id, rowid, c)?;
    Ok(id)
}

/// The contact's own row; its id and rowid.
fn insert_row(
    conn: &Connection,
    account_id: &str,
    c: &Contact,
    ids: &mut impl IdSource,
    seq: Option<i64>,
) -> StoreResult<(String, i64)> {
    let fields = Value::Object(c.fields.clone()).to_string();
    let words = field_words(&c.fields);
    let id = insert_with_fresh_id(conn, ids, |conn, id| {
        conn.prepare_cached(
            "INSERT INTO contacts (seq, account_id, id, portal_id, name, email, fields, created, updated, field_words) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute((seq, account_id, id, &c.portal, &c.name, &c.email, &fields, c.created, c.updated, &words))
        .map(drop)
    })?;
    Ok((id, conn.last_insert_rowid()))
}

/// The phone and name-word rows of contacts one step of an add makes, written
/// together when the step ends, each table's rows sorted by its index's key: a
/// step's random phones and words then go into their indexes in one ordered pass
/// rather than each landing on an index page of its own (CONTRACT §7's words and
/// the phones are the same rows [`insert`] writes).
#[derive(Default)]
pub struct PendingRows {
    account_id: String,
    phones: Vec<PhoneRow>,
    words: Vec<WordRow>,
    /// The phones waiting, for lookups made before they are written.
    held: std::collections::HashSet<String>,
}

impl PendingRows {
    fn push(&mut self, conn: &Connection, account_id: &str, rowid: i64, c: &Contact) -> StoreResult<()> {
        if self.account_id != account_id {
            self.write(conn)?;
            self.account_id = account_id.to_string();
        }
        self.held.extend(c.phones.iter().cloned());
        self.phones.extend(phone_rows(&c.phones, rowid));
        self.words.extend(word_rows(&c.portal, &c.name, rowid));
        Ok(())
    }

    /// Whether any of `phones` waits to be written.
    pub fn holds_any(&self, phones: &[String]) -> bool {
        !self.held.is_empty() && phones.iter().any(|p| self.held.contains(p))
    }

    /// Writes every row waiting, a few hundred to an INSERT, in index order.
    pub fn write(&mut self, conn: &Connection) -> StoreResult<()> {
        let mut phones = std::mem::take(&mut self.phones);
        phones.sort_unstable();
        insert_phone_rows(conn, &self.account_id, &phones)?;
        self.held.clear();
        let mut words = std::mem::take(&mut self.words);
        words.sort_unstable();
        insert_word_rows(conn, &words)
    }
}

/// The contact with that id, unless it belongs to an import still in progress.
pub fn get(conn: &Connection, account_id: &str, id: &str, hidden: &Hidden) -> StoreResult<Option<Contact>> {
    Ok(get_with_seq(conn, account_id, id, hidden)?.map(|(_, c)| c))
}

/// As [`get`], with the contact's rowid.
pub fn get_with_seq(
    conn: &Connection,
    account_id: &str,
    id: &str,
    hidden: &Hidden,
) -> StoreResult<Option<(i64, Contact)>> {
    let found = conn
        .prepare_cached(&format!("SELECT {COLUMNS}, seq FROM contacts WHERE account_id = ?1 AND id = ?2"))?
        .query_row((account_id, id), |r| Ok((r.get::<_, i64>(7)?, row(r)?)))
        .optional()?;
    let Some((seq, mut contact)) = found.filter(|(seq, _)| !hidden.contains(*seq)) else {
        return Ok(None);
    };
    load_phones(conn, account_id, &mut contact)?;
    Ok(Some((seq, contact)))
}

/// The earliest contact of the portal that an import made from a row with the
/// foreign id `id` (its custom field `external_id`), with its `seq`.
fn by_external_id(
    conn: &Connection,
    account_id: &str,
    portal: &str,
    id: &str,
    hidden: &Hidden,
) -> StoreResult<Option<(i64, Contact)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, seq FROM contacts WHERE account_id = ?1 AND portal_id = ?2 \
         AND json_extract(fields, '$.external_id') = ?3 AND json_extract(fields, '$.external_id') IS NOT NULL \
         ORDER BY seq"
    ))?;
    let mut rows = stmt.query((account_id, portal, id))?;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(7)?;
        if !hidden.contains(seq) {
            let mut contact = row(r)?;
            load_phones(conn, account_id, &mut contact)?;
            return Ok(Some((seq, contact)));
        }
    }
    Ok(None)
}

/// The account-and-portal condition (two placeholders) for contacts `query` narrows.
/// A selective query's own index lookup should drive the search, so the unary `+`
/// keeps SQLite from walking the whole portal's index instead.
/// Contacts of imports still in progress are left out.
pub fn scope(query: Option<&crate::query::sql::Compiled>, hidden: &Hidden) -> String {
    let scope = if query.is_some_and(|q| q.selective) {
        "+c.account_id = ? AND +c.portal_id = ?"
    } else {
        "c.account_id = ? AND c.portal_id = ?"
    };
    format!("{scope}{}", hidden.leave_out("c.seq"))
}

/// The bound values of a compiled query, as SQLite takes them.
pub fn query_params(query: &crate::query::sql::Compiled) -> Vec<rusqlite::types::Value> {
    use crate::query::sql::Param;
    query
        .params
        .iter()
        .map(|p| match p {
            Param::Text(t) => rusqlite::types::Value::Text(t.clone()),
            Param::Int(i) => rusqlite::types::Value::Integer(*i),
        })
        .collect()
}

/// A portal's contacts in creation order, which is stable across pages; only those
/// matching `query` when one is given.
pub fn list(
    conn: &Connection,
    account_id: &str,
    portal: &str,
    query: Option<&crate::query::sql::Compiled>,
    page: Page,
    hidden: &Hidden,
) -> StoreResult<Paged<Contact>> {
    use rusqlite::types::Value as Sql;
    let mut args: Vec<Sql> = vec![account_id.to_string().into(), portal.to_string().into()];
    let scope = scope(query, hidden);
    // The word index's own answers would count an import's contacts in progress.
    let fast = query.filter(|_| hidden.is_empty());
    let filter = match query {
        Some(q) => {
            args.extend(query_params(q));
            format!(" AND ({})", q.sql)
        }
        None => String::new(),
    };
    let total: i64 = match fast.and_then(|q| q.word_count.as_deref()) {
        // A one-word search counts straight from the word index.
        Some(count) => conn
            .prepare_cached(&count.sql)?
            .query_row(rusqlite::params_from_iter(query_params(count).iter()), |r| r.get(0))?,
        None => conn
            .prepare_cached(&format!("SELECT count(*) FROM contacts c WHERE {scope}{filter}"))?
            .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?,
    };
    let mut stmt = match fast.and_then(|q| q.word_rows.as_deref()) {
        // A one-word search pages through the word index, already in contact order.
        Some(rows) => {
            args = query_params(rows);
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM contacts c WHERE c.seq IN ({} LIMIT ? OFFSET ?) ORDER BY c.seq",
                rows.sql
            ))?
        }
        None => conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM contacts c WHERE {scope}{filter} ORDER BY c.seq LIMIT ? OFFSET ?"
        ))?,
    };
    args.push(page.limit.into());
    args.push(page.offset().into());
    let mut rows: Vec<Contact> =
        stmt.query_map(rusqlite::params_from_iter(args.iter()), row)?.collect::<Result<_, _>>()?;
    for contact in &mut rows {
        load_phones(conn, account_id, contact)?;
    }
    Ok(Paged { rows, total })
}

pub fn update(
    tx: &Transaction<'_>,
    account_id: &str,
    id: &str,
    draft: ContactDraft,
    hidden: &Hidden,
) -> StoreResult<Option<Contact>> {
    let Some(current) = get(tx, account_id, id, hidden)? else {
        return Ok(None);
    };
    if let Some(p) = draft.portal.as_deref() {
        resolve_portal(tx, account_id, Some(p))?;
    }
    let phones_changed = draft.phones.is_some();
    let mut c = draft.apply(current);
    c.updated = now_secs().max(c.created);
    let fields = Value::Object(c.fields.clone()).to_string();
    let rowid = rowid_of(tx, account_id, &c.id)?;
    forget_words(tx, rowid)?;
    tx.execute(
        "UPDATE contacts SET portal_id = ?3, name = ?4, email = ?5, fields = ?6, updated = ?7, field_words = ?8 \
         WHERE account_id = ?1 AND id = ?2",
        (account_id, id, &c.portal, &c.name, &c.email, &fields, c.updated, field_words(&c.fields)),
    )?;
    if phones_changed {
        save_phones(tx, account_id, &c.id, &c.phones)?;
    }
    save_words(tx, &c.portal, rowid, &c.name)?;
    Ok(Some(c))
}

pub fn delete(tx: &Transaction<'_>, account_id: &str, id: &str, hidden: &Hidden) -> StoreResult<bool> {
    let Some((seq, _)) = get_with_seq(tx, account_id, id, hidden)? else {
        return Ok(false);
    };
    tx.execute(&format!("DELETE FROM contact_phones WHERE contact_rowid = {ROWID_OF}"), (account_id, id))?;
    forget_words(tx, seq)?;
    let n = tx.execute("DELETE FROM contacts WHERE account_id = ?1 AND id = ?2", (account_id, id))?;
    Ok(n > 0)
}

/// Imports a feed of entries as contacts of one portal, all or nothing. An entry
/// whose id is one of the account's contacts updates that contact with the values
/// the row has; any other entry is a new contact, keeping a foreign id as the
/// custom field `external_id`. New contacts are written in short steps into a
/// reserved block that readers leave out; updates wait in a table of this
/// connection's own; one last step applies the updates and publishes the block.
pub fn import(
    staging: &Staging,
    conn: &mut Connection,
    account_id: &str,
    portal: Option<&str>,
    mut feed: crate::store::Entries,
) -> StoreResult<crate::store::ImportOutcome> {
    use crate::store::Feed;
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS staged_changes (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, \
         name TEXT NOT NULL, email TEXT NOT NULL, fields TEXT NOT NULL, phones TEXT NOT NULL, \
         field_words TEXT NOT NULL); \
         DELETE FROM temp.staged_changes;",
    )?;
    let conn: &Connection = conn;
    // One import or upload that makes contacts at a time in the account: two at once
    // each looked for the other's ids before either published, and both made the contact.
    let _making_contacts = staging.lock_contacts_blocking(account_id);
    let portal = resolve_portal(conn, account_id, portal)?;
    let now = now_secs();
    let mut ids = IdKind::Contact.run();
    let mut reserved = Reserved::default();
    let mut outcome = crate::store::ImportOutcome::default();
    let staged = (|| -> StoreResult<()> {
        loop {
            let rows = match feed.blocking_next() {
                Some(Feed::Rows(rows)) => rows,
                Some(Feed::Done) => return Ok(()),
                Some(Feed::Filter { .. }) => {
                    return Err(super::StoreError::broken("a contact import was fed a filter"));
                }
                None => return Err(super::StoreError::Aborted),
            };
            let mut rows = rows.into_iter().peekable();
            while rows.peek().is_some() {
                let chunk: Vec<_> = rows.by_ref().take(super::staging::CHUNK_ROWS).collect();
                staging.step(conn, |tx| {
                    let hidden = staging.hidden();
                    for entry in chunk {
                        // An id that is no contact's may be one an earlier import kept.
                        let existing = match &entry.crm_id {
                            Some(id) => match get_with_seq(tx, account_id, id, &hidden)? {
                                Some(found) => Some(found),
                                None => by_external_id(tx, account_id, &portal, id, &hidden)?,
                            },
                            None => None,
                        };
                        match existing {
                            Some((seq, mut c)) => {
                                crate::store::plan::merge_entry(&mut c, entry);
                                tx.prepare_cached(
                                    "INSERT OR REPLACE INTO temp.staged_changes \
                                     (seq, id, name, email, fields, phones, field_words) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                )?
                                .execute((
                                    seq,
                                    &c.id,
                                    &c.name,
                                    &c.email,
                                    Value::Object(c.fields.clone()).to_string(),
                                    c.phones.join(","),
                                    field_words(&c.fields),
                                ))?;
                                outcome.updated += 1;
                            }
                            None => {
                                let contact = crate::store::plan::entry_contact(&entry, &portal, now, true);
                                let seq = reserved.next_seq(staging, tx, account_id, &portal)?;
                                insert(tx, account_id, &contact, &mut ids, Some(seq))?;
                                outcome.added += 1;
                            }
                        }
                    }
                    Ok(())
                })?;
            }
        }
    })();
    let published = staged.and_then(|()| {
        staging.step(conn, |tx| {
            let mut updates =
                tx.prepare("SELECT seq, id, name, email, fields, phones, field_words FROM temp.staged_changes")?;
            let mut rows = updates.query([])?;
            while let Some(r) = rows.next()? {
                let (seq, id, name): (i64, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
                let portal = forget_words(tx, seq)?;
                let changed = tx
                    .prepare_cached(
                        "UPDATE contacts SET name = ?3, email = ?4, fields = ?5, updated = max(created, ?6), \
                         field_words = ?7 WHERE seq = ?1 AND account_id = ?2",
                    )?
                    .execute((
                        seq,
                        account_id,
                        &name,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        now,
                        r.get::<_, String>(6)?,
                    ))?;
                // A contact deleted since the row was read stays deleted.
                let Some(portal) = portal.filter(|_| changed > 0) else {
                    continue;
                };
                let phones: String = r.get(5)?;
                let phones: Vec<String> = phones.split(',').filter(|p| !p.is_empty()).map(str::to_string).collect();
                save_phones(tx, account_id, &id, &phones)?;
                save_words(tx, &portal, seq, &name)?;
            }
            super::staging::publish_blocks(tx, &reserved)
        })
    });
    conn.execute_batch("DELETE FROM temp.staged_changes")?;
    match published {
        Ok(()) => {
            staging.published(&reserved);
            Ok(outcome)
        }
        Err(e) => {
            if let Err(cleanup) = staging.discard(conn, account_id, None, &reserved.blocks) {
                tracing::warn!("discarding a failed contact import: {cleanup}; the next start finishes it");
            }
            Err(e)
        }
    }
}

/// Builds the name-word index again from the contacts when it was built under
/// another [`word_index_version`] (or never: migration 0011 leaves it empty), in
/// one transaction, before the store is used.
pub fn rebuild_words_if_stale(conn: &mut Connection) -> StoreResult<()> {
    let version = word_index_version();
    let built = |c: &Connection| -> StoreResult<String> {
        Ok(c.query_row("SELECT version FROM word_index_version WHERE id = 1", [], |r| r.get(0))?)
    };
    // Read first without the write lock: every start (a CLI command's too) asks,
    // and the answer is nearly always that the index is current.
    if built(conn)? == version {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let built = built(&tx)?;
    if built == version {
        return Ok(());
    }
    // A new database has no contacts to read: nothing to build, nothing to say.
    let any: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM contacts)", [], |r| r.get(0))?;
    if any {
        tracing::info!(from = ?built, to = ?version, "building the name-word index from the contacts");
    }
    tx.execute("DELETE FROM name_words", [])?;
    let mut after = i64::MIN;
    loop {
        let batch: Vec<(i64, String, String)> = tx
            .prepare_cached("SELECT seq, portal_id, name FROM contacts WHERE seq > ?1 ORDER BY seq LIMIT 4096")?
            .query_map([after], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let Some(&(last, _, _)) = batch.last() else { break };
        after = last;
        let mut rows: Vec<WordRow> =
            batch.iter().flat_map(|(seq, portal, name)| word_rows(portal, name, *seq)).collect();
        rows.sort_unstable();
        insert_word_rows(&tx, &rows)?;
    }
    refold(&tx)?;
    tx.execute("UPDATE word_index_version SET version = ?1 WHERE id = 1", [&version])?;
    tx.commit()?;
    Ok(())
}

/// Makes again every folded form stored beside a text that the current rules fold
/// otherwise: contacts' field words, customers' name keys, campaigns' folded names
/// (see [`word_index_version`]). Only the rows that change are written.
fn refold(tx: &Connection) -> StoreResult<()> {
    let mut after = i64::MIN;
    loop {
        let batch: Vec<(i64, String, Option<String>)> = tx
            .prepare_cached("SELECT seq, fields, field_words FROM contacts WHERE seq > ?1 ORDER BY seq LIMIT 4096")?
            .query_map([after], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let Some(&(last, _, _)) = batch.last() else { break };
        after = last;
        for (seq, fields, stored) in &batch {
            if let Some(words) = field_words_again(fields, stored.as_deref()) {
                tx.prepare_cached("UPDATE contacts SET field_words = ?2 WHERE seq = ?1")?.execute((seq, words))?;
            }
        }
    }
    let mut after = i64::MIN;
    loop {
        let batch: Vec<(i64, String, String)> = tx
            .prepare_cached("SELECT id, name, name_key FROM customers WHERE id > ?1 ORDER BY id LIMIT 4096")?
            .query_map([after], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let Some(&(last, _, _)) = batch.last() else { break };
        after = last;
        for (id, name, stored) in &batch {
            let key = name_key(name);
            if key != *stored {
                tx.prepare_cached("UPDATE customers SET name_key = ?2 WHERE id = ?1")?.execute((id, key))?;
            }
        }
    }
    let campaigns: Vec<(String, String, String, String)> = tx
        .prepare("SELECT account_id, id, name, name_folded FROM campaigns")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    for (account, id, name, stored) in campaigns {
        let folded = crate::domain::text::fold(&name);
        if folded != stored {
            tx.execute(
                "UPDATE campaigns SET name_folded = ?3 WHERE account_id = ?1 AND id = ?2",
                (account, id, folded),
            )?;
        }
    }
    Ok(())
}

/// Computes the custom-field words of contacts stored before they were kept
/// (migration 7), a thousand to a transaction.
pub fn fill_field_words(conn: &mut Connection) -> StoreResult<()> {
    // Read first without the write lock, as `rebuild_words_if_stale` does.
    let none: bool =
        conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM contacts WHERE field_words IS NULL)", [], |r| r.get(0))?;
    if none {
        return Ok(());
    }
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let pending: Vec<(i64, String)> = tx
            .prepare("SELECT seq, fields FROM contacts WHERE field_words IS NULL ORDER BY seq LIMIT 1000")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (seq, fields) in &pending {
            let fields: Map<String, Value> = serde_json::from_str(fields).unwrap_or_default();
            tx.prepare_cached("UPDATE contacts SET field_words = ?2 WHERE seq = ?1")?
                .execute((seq, field_words(&fields)))?;
        }
        tx.commit()?;
        if pending.len() < 1000 {
            return Ok(());
        }
    }
}
