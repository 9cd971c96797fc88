//! CRM contacts, their phones and their name words. Contacts are written in
//! batches through UNNEST arrays: one statement per table for a whole batch.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use tokio_postgres::types::{Json, Type};
use tokio_postgres::{GenericClient, Row};

use super::{Arg, StoreError, StoreResult, arg, copy_rows, draw, numbered, query_args, refs, resolve_portal};
use crate::domain::contact::{Contact, ContactDraft, field_words, field_words_again};
use crate::domain::customer::{name_key, name_word_keys, word_index_version};
use crate::domain::ids::{IdKind, IdSource};
use crate::domain::now_secs;
use crate::domain::page::{Page, Paged};
use crate::query::sql::Compiled;
use crate::store::plan::{entry_contact, merge_entry};
use crate::store::{Feed, ImportOutcome};

/// A contact's columns, its phones among them: from its row, or from its phone rows
/// where the row has none (written by a build before migration 0009), in the same
/// statement, so that a contact read while another request changes it is one
/// version of it, name and phones alike.
const COLUMNS: &str = "c.seq, c.id, c.name, c.email, c.fields::text, c.portal_id, c.created, c.updated, \
     COALESCE(NULLIF(c.phones, ''), (SELECT string_agg(p.phone, ',' ORDER BY p.pos) FROM contact_phones p \
       WHERE p.account_id = c.account_id AND p.contact_rowid = c.seq), '')";

/// A contact and its `seq`.
fn row(r: &Row) -> StoreResult<(i64, Contact)> {
    let fields: String = r.get(4);
    let fields: Map<String, Value> = serde_json::from_str(&fields)
        .map_err(|e| StoreError::internal(anyhow::Error::new(e).context("stored fields")))?;
    let contact = Contact {
        id: r.get(1),
        name: r.get(2),
        phones: r.get::<_, &str>(8).split(',').filter(|p| !p.is_empty()).map(str::to_string).collect(),
        email: r.get(3),
        fields,
        portal: r.get(5),
        created: r.get(6),
        updated: r.get(7),
    };
    Ok((r.get(0), contact))
}

/// Takes the account's turn at making contacts until the transaction ends: one
/// import or lead upload that makes contacts at a time, so that each one's lookups
/// (by id, by foreign id, by phone) see what the one before it made.
pub async fn take_contacts_turn(db: &(impl GenericClient + Sync), account_id: &str) -> StoreResult<()> {
    use crate::store::shared::db::Db as _;
    super::db::PgDb(db).lock(&format!("contacts/{account_id}"), true).await
}

/// Contacts with their `seq`, from rows of [`COLUMNS`].
fn contacts_of(rows: &[Row]) -> StoreResult<Vec<(i64, Contact)>> {
    rows.iter().map(row).collect()
}

/// The account's contacts with these ids, by id.
pub async fn by_ids(
    db: &impl GenericClient,
    account_id: &str,
    ids: &[&str],
) -> StoreResult<HashMap<String, (i64, Contact)>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!("SELECT {COLUMNS} FROM contacts c WHERE c.account_id = $1 AND c.id = ANY($2)");
    keyed(db, &sql, &[&account_id, &ids], |c| Some(c.id.clone())).await
}

/// The contacts a statement of [`COLUMNS`] finds, by what `key`
/// names each (those it names nothing left out).
async fn keyed(
    db: &impl GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    key: impl Fn(&Contact) -> Option<String>,
) -> StoreResult<HashMap<String, (i64, Contact)>> {
    let rows = db.query(sql, params).await?;
    Ok(contacts_of(&rows)?.into_iter().filter_map(|(seq, c)| Some((key(&c)?, (seq, c)))).collect())
}

/// The earliest contact of `portal` an import made from a row with each of these
/// foreign ids (its custom field `external_id`), by that id.
async fn by_external_ids(
    db: &impl GenericClient,
    account_id: &str,
    portal: &str,
    ids: &[&str],
) -> StoreResult<HashMap<String, (i64, Contact)>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT DISTINCT ON (c.fields ->> 'external_id') {COLUMNS} FROM contacts c WHERE c.account_id = $1 \
         AND c.portal_id = $2 AND c.fields ->> 'external_id' = ANY($3) \
         AND c.fields ->> 'external_id' IS NOT NULL ORDER BY c.fields ->> 'external_id', c.seq"
    );
    keyed(db, &sql, &[&account_id, &portal, &ids], |c| Some(c.fields.get("external_id")?.as_str()?.to_string())).await
}

/// Writes the phones and name words of contacts (by `seq`), replacing any they had
/// unless `fresh`.
async fn save_details(
    db: &impl GenericClient,
    account_id: &str,
    contacts: &[(i64, &Contact)],
    fresh: bool,
) -> StoreResult<()> {
    if contacts.is_empty() {
        return Ok(());
    }
    if !fresh {
        let seqs: Vec<i64> = contacts.iter().map(|(seq, _)| *seq).collect();
        db.execute(
            "DELETE FROM contact_phones WHERE account_id = $1 AND contact_rowid = ANY($2)",
            &[&account_id, &seqs],
        )
        .await?;
    }
    let mut phones: Vec<(i64, i64, &str)> = Vec::new();
    let mut words: Vec<(&str, String, i64, i32)> = Vec::new();
    for (seq, c) in contacts {
        for (pos, phone) in c.phones.iter().enumerate() {
            phones.push((*seq, pos as i64, phone));
        }
        words.extend(name_word_keys(&c.portal, &c.name).map(|(key, pos)| (account_id, key, *seq, pos as i32)));
    }
    // In the index's order: a batch's entries then go into it in one ordered pass
    // rather than each to a leaf page of its own.
    words.sort_unstable();
    copy_rows(
        db,
        "contact_phones (account_id, contact_rowid, pos, phone)",
        &[Type::TEXT, Type::INT8, Type::INT8, Type::TEXT],
        phones.len(),
        |i| {
            let (seq, pos, phone) = &phones[i];
            vec![&account_id, seq, pos, phone]
        },
    )
    .await?;
    copy_words(db, &words).await
}

/// Name-word entries (account, key, contact rowid, position), by COPY.
async fn copy_words(db: &impl GenericClient, words: &[(&str, String, i64, i32)]) -> StoreResult<()> {
    copy_rows(
        db,
        "name_words (account_id, key, contact_rowid, pos)",
        &[Type::TEXT, Type::TEXT, Type::INT8, Type::INT4],
        words.len(),
        |i| {
            let (account, key, seq, pos) = &words[i];
            vec![account, key, seq, pos]
        },
    )
    .await
}

/// A contact's name as the word index holds it: its rowid, portal and name.
type Indexed = (i64, String, String);

/// Takes the name-word entries of the contacts at `seqs` out of the index, from the
/// portal and name each has stored now, locking their rows first: a concurrent
/// change of one waits for this transaction, and this one reads the other's name
/// if it committed first. Called before the rows change (the index is keyed by
/// word alone). Rows are locked in rowid order, as every writer of several does.
async fn forget_stored_words(db: &impl GenericClient, account_id: &str, seqs: &[i64]) -> StoreResult<()> {
    if seqs.is_empty() {
        return Ok(());
    }
    let stored: Vec<Indexed> = db
        .query(
            "SELECT seq, portal_id, name FROM contacts WHERE account_id = $1 AND seq = ANY($2) ORDER BY seq FOR UPDATE",
            &[&account_id, &seqs],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    forget_words(db, account_id, &stored).await
}

/// Takes the name-word entries of contacts out of the index, from the portal and
/// name each had when its entries were written.
async fn forget_words(db: &impl GenericClient, account_id: &str, indexed: &[Indexed]) -> StoreResult<()> {
    let (mut keys, mut seqs, mut positions) = (Vec::new(), Vec::new(), Vec::new());
    for (seq, portal, name) in indexed {
        for (key, pos) in name_word_keys(portal, name) {
            keys.push(key);
            seqs.push(*seq);
            positions.push(pos as i32);
        }
    }
    if keys.is_empty() {
        return Ok(());
    }
    let gone = db
        .execute(
            "DELETE FROM name_words w USING unnest($2::text[], $3::int8[], $4::int4[]) AS d(key, seq, pos) \
             WHERE w.account_id = $1 AND w.key = d.key AND w.contact_rowid = d.seq AND w.pos = d.pos",
            &[&account_id, &keys, &seqs, &positions],
        )
        .await?;
    crate::store::plan::note_words_missing(keys.len() as u64, gone);
    Ok(())
}

/// Below this many contacts, ids are looked up before they are written; from it on,
/// they are written first (see `insert_many`).
const WRITE_IDS_FIRST: usize = 256;

/// Inserts contacts (their portals already checked) under fresh ids, with their
/// phones and words, by COPY; returns the ids in the contacts' order.
///
/// Ids are drawn at random from 36^8, so one already taken is rare, but not so rare
/// that it can be ignored (a million drawn into a million has a one-in-three chance
/// of one). A few contacts look their ids up first. A bulk write writes first,
/// under a savepoint, and lets the primary key say whether one was taken: looking
/// a million random ids up before writing them took 10.6 s of a 70 s contact import,
/// for what the key's own insert checks again anyway. Only when the key refuses one
/// does the batch go back, look its ids up and draw the taken ones again.
pub async fn insert_many(db: &impl GenericClient, account_id: &str, contacts: &[Contact]) -> StoreResult<Vec<String>> {
    insert_drawing(db, account_id, contacts, &mut IdKind::Contact.run()).await
}

/// `insert_many` with its ids drawn from `source`.
async fn insert_drawing(
    db: &impl GenericClient,
    account_id: &str,
    contacts: &[Contact],
    source: &mut impl IdSource,
) -> StoreResult<Vec<String>> {
    if contacts.is_empty() {
        return Ok(Vec::new());
    }
    let mut drawn: HashSet<String> = HashSet::with_capacity(contacts.len());
    let mut fresh_id = || loop {
        let id = source.next_id();
        if drawn.insert(id.clone()) {
            break id;
        }
    };
    let mut ids: Vec<String> = (0..contacts.len()).map(|_| fresh_id()).collect();
    let seqs = draw(db, "pg_get_serial_sequence('contacts', 'seq')", contacts.len()).await?;
    let keys: Vec<String> = contacts.iter().map(|c| name_key(&c.name)).collect();
    let fields: Vec<Json<&Map<String, Value>>> = contacts.iter().map(|c| Json(&c.fields)).collect();
    let words: Vec<Json<Value>> =
        contacts.iter().map(|c| Json(serde_json::from_str(&field_words(&c.fields)).unwrap_or_default())).collect();
    let phones: Vec<String> = contacts.iter().map(|c| c.phones.join(",")).collect();
    let rows =
        ContactRows { account_id, contacts, seqs: &seqs, keys: &keys, fields: &fields, words: &words, phones: &phones };
    let mut written = false;
    if contacts.len() >= WRITE_IDS_FIRST {
        db.batch_execute("SAVEPOINT contact_ids").await?;
        match rows.copy(db, &ids).await {
            Ok(()) => {
                db.batch_execute("RELEASE SAVEPOINT contact_ids").await?;
                written = true;
            }
            Err(e) if id_taken(&e) => {
                db.batch_execute("ROLLBACK TO SAVEPOINT contact_ids; RELEASE SAVEPOINT contact_ids").await?;
            }
            Err(e) => return Err(e),
        }
    }
    if !written {
        for attempt in 0.. {
            let taken: HashSet<String> = db
                .query("SELECT id FROM contacts WHERE account_id = $1 AND id = ANY($2)", &[&account_id, &ids])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if taken.is_empty() {
                break;
            }
            if attempt == 8 {
                return Err(StoreError::broken("could not draw free contact ids"));
            }
            for id in ids.iter_mut().filter(|id| taken.contains(id.as_str())) {
                *id = fresh_id();
            }
        }
        rows.copy(db, &ids).await?;
    }
    let written: Vec<(i64, &Contact)> = seqs.iter().copied().zip(contacts).collect();
    save_details(db, account_id, &written, true).await?;
    Ok(ids)
}

/// Whether a write failed only because a contact id was taken already.
fn id_taken(e: &StoreError) -> bool {
    let StoreError::Internal(e) = e else {
        return false;
    };
    e.downcast_ref::<tokio_postgres::Error>().and_then(|e| e.as_db_error()).is_some_and(|d| {
        *d.code() == tokio_postgres::error::SqlState::UNIQUE_VIOLATION && d.constraint() == Some("contacts_pkey")
    })
}

/// The columns of the contacts one `insert_many` writes, all but their ids.
struct ContactRows<'a> {
    account_id: &'a str,
    contacts: &'a [Contact],
    seqs: &'a [i64],
    keys: &'a [String],
    fields: &'a [Json<&'a Map<String, Value>>],
    words: &'a [Json<Value>],
    /// Each contact's phones as its row keeps them (comma-separated).
    phones: &'a [String],
}

impl ContactRows<'_> {
    /// Writes the contacts' own rows under `ids`, by COPY.
    async fn copy(&self, db: &impl GenericClient, ids: &[String]) -> StoreResult<()> {
        copy_rows(
            db,
            "contacts (account_id, id, seq, portal_id, name, name_key, email, fields, created, updated, field_words, \
             phones)",
            &[
                Type::TEXT,
                Type::TEXT,
                Type::INT8,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::JSONB,
                Type::INT8,
                Type::INT8,
                Type::JSONB,
                Type::TEXT,
            ],
            self.contacts.len(),
            |i| {
                let c = &self.contacts[i];
                vec![
                    &self.account_id,
                    &ids[i],
                    &self.seqs[i],
                    &c.portal,
                    &c.name,
                    &self.keys[i],
                    &c.email,
                    &self.fields[i],
                    &c.created,
                    &c.updated,
                    &self.words[i],
                    &self.phones[i],
                ]
            },
        )
        .await
    }
}

pub async fn create(db: &impl GenericClient, account_id: &str, draft: ContactDraft) -> StoreResult<Contact> {
    let portal = resolve_portal(db, account_id, draft.portal.as_deref()).await?;
    let mut contact = draft.apply(Contact::blank(String::new(), portal, now_secs()));
    contact.id = insert_many(db, account_id, std::slice::from_ref(&contact)).await?.remove(0);
    Ok(contact)
}

/// The contact and its `seq`.
async fn get_with_seq(db: &impl GenericClient, account_id: &str, id: &str) -> StoreResult<Option<(i64, Contact)>> {
    Ok(by_ids(db, account_id, &[id]).await?.remove(id))
}

pub async fn get(db: &impl GenericClient, account_id: &str, id: &str) -> StoreResult<Option<Contact>> {
    Ok(get_with_seq(db, account_id, id).await?.map(|(_, c)| c))
}

/// A portal's contacts in creation order, which is stable across pages; only those
/// matching `query` when one is given.
pub async fn list(
    db: &impl GenericClient,
    account_id: &str,
    portal: &str,
    query: Option<&Compiled>,
    page: Page,
) -> StoreResult<Paged<Contact>> {
    let mut args: Vec<Arg> = vec![arg(account_id.to_string()), arg(portal.to_string())];
    let filter = match query {
        Some(q) => {
            args.extend(query_args(q));
            format!(" AND ({})", q.sql)
        }
        None => String::new(),
    };
    let scope = "c.account_id = ? AND c.portal_id = ?";
    let total: i64 = match query.and_then(|q| q.word_rows.as_ref()) {
        // A one-word search counts straight from the word index, whose order lets
        // PostgreSQL drop repeats without sorting.
        Some(rows) => {
            let sql = format!("SELECT count(*) FROM ({}) AS words", rows.sql);
            db.query_one(&numbered(&sql), &refs(&query_args(rows))).await?.get(0)
        }
        None => db
            .query_one(&numbered(&format!("SELECT count(*) FROM contacts c WHERE {scope}{filter}")), &refs(&args))
            .await?
            .get(0),
    };
    let sql = match query.and_then(|q| q.word_rows.as_ref()) {
        // A one-word search pages through the word index, already in contact order.
        Some(rows) => {
            args = vec![arg(account_id.to_string())];
            args.extend(query_args(rows));
            format!(
                "SELECT {COLUMNS} FROM contacts c WHERE c.account_id = ? AND c.seq IN ({} LIMIT ? OFFSET ?) ORDER BY c.seq",
                rows.sql
            )
        }
        None => format!("SELECT {COLUMNS} FROM contacts c WHERE {scope}{filter} ORDER BY c.seq LIMIT ? OFFSET ?"),
    };
    args.push(arg(page.limit));
    args.push(arg(page.offset()));
    let rows = db.query(&numbered(&sql), &refs(&args)).await?;
    let rows = contacts_of(&rows)?.into_iter().map(|(_, c)| c).collect();
    Ok(Paged { rows, total })
}

/// Writes a contact's own columns.
async fn save(db: &impl GenericClient, account_id: &str, c: &Contact) -> StoreResult<()> {
    let fields = Value::Object(c.fields.clone()).to_string();
    db.execute(
        "UPDATE contacts SET portal_id = $3, name = $4, name_key = $5, email = $6, fields = $7::text::jsonb, \
         updated = $8, field_words = $9::text::jsonb, phones = $10 WHERE account_id = $1 AND id = $2",
        &[
            &account_id,
            &c.id,
            &c.portal,
            &c.name,
            &name_key(&c.name),
            &c.email,
            &fields,
            &c.updated,
            &field_words(&c.fields),
            &c.phones.join(","),
        ],
    )
    .await?;
    Ok(())
}

pub async fn update(
    db: &impl GenericClient,
    account_id: &str,
    id: &str,
    draft: ContactDraft,
) -> StoreResult<Option<Contact>> {
    let Some((seq, current)) = get_with_seq(db, account_id, id).await? else {
        return Ok(None);
    };
    if let Some(p) = draft.portal.as_deref() {
        resolve_portal(db, account_id, Some(p)).await?;
    }
    forget_stored_words(db, account_id, &[seq]).await?;
    let mut c = draft.apply(current);
    c.updated = now_secs().max(c.created);
    save(db, account_id, &c).await?;
    save_details(db, account_id, &[(seq, &c)], false).await?;
    Ok(Some(c))
}

pub async fn delete(db: &impl GenericClient, account_id: &str, id: &str) -> StoreResult<bool> {
    let Some(found) = db
        .query_opt(
            "DELETE FROM contacts WHERE account_id = $1 AND id = $2 RETURNING seq, portal_id, name",
            &[&account_id, &id],
        )
        .await?
    else {
        return Ok(false);
    };
    let seq: i64 = found.get(0);
    db.execute("DELETE FROM contact_phones WHERE account_id = $1 AND contact_rowid = $2", &[&account_id, &seq]).await?;
    forget_words(db, account_id, &[(seq, found.get(1), found.get(2))]).await?;
    Ok(true)
}

/// Imports a feed of entries as contacts of one portal, in the caller's transaction,
/// returning only on `Feed::Done`. An entry whose id is one of the account's
/// contacts updates that contact with the values the row has; any other entry is a
/// new contact, keeping a foreign id as the custom field `external_id`.
pub async fn import(
    db: &(impl GenericClient + Sync),
    account_id: &str,
    portal: Option<&str>,
    mut feed: crate::store::Entries,
) -> StoreResult<ImportOutcome> {
    // Two imports at once each looked for the other's ids before either committed,
    // and both made the contact.
    take_contacts_turn(db, account_id).await?;
    let portal = resolve_portal(db, account_id, portal).await?;
    let now = now_secs();
    let mut outcome = ImportOutcome::default();
    loop {
        let rows = match feed.next().await {
            Some(Feed::Rows(rows)) => rows,
            Some(Feed::Done) => break,
            Some(Feed::Filter { .. }) => return Err(StoreError::broken("a contact import was fed a filter")),
            None => return Err(StoreError::Aborted),
        };
        let ids: Vec<&str> = rows.iter().filter_map(|e| e.crm_id.as_deref()).collect();
        let mut existing = by_ids(db, account_id, &ids).await?;
        // An id that is no contact's may be one an earlier import kept: the contact
        // it made, by that id.
        let foreign: Vec<&str> = ids.iter().copied().filter(|id| !existing.contains_key(*id)).collect();
        let mut kept: HashMap<String, String> = HashMap::new();
        for (external, (seq, c)) in by_external_ids(db, account_id, &portal, &foreign).await? {
            kept.insert(external, c.id.clone());
            existing.entry(c.id.clone()).or_insert((seq, c));
        }
        // The contacts the batch changed, each once, in the order first changed.
        let mut changed: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut fresh: Vec<Contact> = Vec::new();
        for entry in rows {
            let key = entry.crm_id.as_ref().map(|id| kept.get(id).unwrap_or(id).clone());
            match key.and_then(|id| existing.get_mut(&id)) {
                Some((_, c)) => {
                    merge_entry(c, entry);
                    c.updated = now.max(c.created);
                    if seen.insert(c.id.clone()) {
                        changed.push(c.id.clone());
                    }
                    outcome.updated += 1;
                }
                None => {
                    fresh.push(entry_contact(&entry, &portal, now, true));
                    outcome.added += 1;
                }
            }
        }
        let seqs: Vec<i64> = changed.iter().map(|id| existing[id].0).collect();
        forget_stored_words(db, account_id, &seqs).await?;
        let mut details = Vec::with_capacity(changed.len());
        for id in &changed {
            let (seq, c) = &existing[id];
            save(db, account_id, c).await?;
            details.push((*seq, c));
        }
        save_details(db, account_id, &details, false).await?;
        insert_many(db, account_id, &fresh).await?;
    }
    Ok(outcome)
}

/// Builds the name-word index again from the contacts when it was built under
/// another [`word_index_version`] (or never: migration 0011 leaves it empty), in
/// the caller's transaction; the version's row lock makes servers starting at once
/// take turns, and the later ones find it built.
pub async fn rebuild_words_if_stale(db: &impl GenericClient) -> StoreResult<()> {
    let version = word_index_version();
    let built: String =
        db.query_one("SELECT version FROM word_index_version WHERE id = 1 FOR UPDATE", &[]).await?.get(0);
    if built == version {
        return Ok(());
    }
    // A new database has no contacts to read: nothing to build, nothing to say.
    let any: bool = db.query_one("SELECT EXISTS (SELECT 1 FROM contacts)", &[]).await?.get(0);
    if any {
        tracing::info!(from = ?built, to = ?version, "building the name-word index from the contacts");
    }
    db.execute("DELETE FROM name_words", &[]).await?;
    let mut after = i64::MIN;
    loop {
        let batch = db
            .query(
                "SELECT account_id, seq, portal_id, name, name_key, fields::text, field_words::text FROM contacts \
                 WHERE seq > $1 ORDER BY seq LIMIT 10000",
                &[&after],
            )
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.get(1);
        let mut words: Vec<(&str, String, i64, i32)> = Vec::new();
        for r in &batch {
            let (account, seq, portal, name): (&str, i64, &str, &str) = (r.get(0), r.get(1), r.get(2), r.get(3));
            words.extend(name_word_keys(portal, name).map(|(key, pos)| (account, key, seq, pos as i32)));
            // The folded forms stored beside the name and the fields, made again
            // where the current rules fold otherwise (see word_index_version).
            let key = name_key(name);
            if key != r.get::<_, &str>(4) {
                db.execute(
                    "UPDATE contacts SET name_key = $3 WHERE account_id = $1 AND seq = $2",
                    &[&account, &seq, &key],
                )
                .await?;
            }
            if let Some(fw) = field_words_again(r.get(5), r.get(6)) {
                db.execute(
                    "UPDATE contacts SET field_words = $3::text::jsonb WHERE account_id = $1 AND seq = $2",
                    &[&account, &seq, &fw],
                )
                .await?;
            }
        }
        words.sort_unstable();
        copy_words(db, &words).await?;
    }
    refold_customers_and_campaigns(db).await?;
    db.execute("UPDATE word_index_version SET version = $1 WHERE id = 1", &[&version]).await?;
    Ok(())
}

/// Makes again the customers' name keys and the campaigns' folded names that the
/// current rules fold otherwise (see [`word_index_version`]); only the rows that
/// change are written.
async fn refold_customers_and_campaigns(db: &impl GenericClient) -> StoreResult<()> {
    let mut after = (String::new(), i64::MIN);
    loop {
        let batch = db
            .query(
                "SELECT account_id, id, name, name_key FROM customers WHERE (account_id, id) > ($1, $2) \
                 ORDER BY account_id, id LIMIT 10000",
                &[&after.0, &after.1],
            )
            .await?;
        let Some(last) = batch.last() else { break };
        after = (last.get(0), last.get(1));
        for r in &batch {
            let (account, id, name): (&str, i64, &str) = (r.get(0), r.get(1), r.get(2));
            let key = name_key(name);
            if key != r.get::<_, &str>(3) {
                db.execute(
                    "UPDATE customers SET name_key = $3 WHERE account_id = $1 AND id = $2",
                    &[&account, &id, &key],
                )
                .await?;
            }
        }
    }
    for r in db.query("SELECT account_id, id, name, name_folded FROM campaigns", &[]).await? {
        let (account, id, name): (&str, &str, &str) = (r.get(0), r.get(1), r.get(2));
        let folded = crate::domain::text::fold(name);
        if folded != r.get::<_, &str>(3) {
            db.execute(
                "UPDATE campaigns SET name_folded = $3 WHERE account_id = $1 AND id = $2",
                &[&account, &id, &folded],
            )
            .await?;
        }
    }
    Ok(())
}

/// Computes the custom-field words of contacts stored before they were kept
/// (migration 5), a thousand at a time; several servers starting at once may each
/// compute some, the same.
pub async fn fill_field_words(db: &impl GenericClient) -> StoreResult<()> {
    loop {
        let pending = db
            .query(
                "SELECT account_id, seq, fields::text FROM contacts WHERE field_words IS NULL ORDER BY seq LIMIT 1000",
                &[],
            )
            .await?;
        for r in &pending {
            let (account, seq, fields): (String, i64, String) = (r.get(0), r.get(1), r.get(2));
            let fields: Map<String, Value> = serde_json::from_str(&fields).unwrap_or_default();
            db.execute(
                "UPDATE contacts SET field_words = $3::text::jsonb WHERE account_id = $1 AND seq = $2",
                &[&account, &seq, &field_words(&fields)],
            )
            .await?;
        }
        if pending.len() < 1000 {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::IdKind;
    use crate::store::Store;

    /// Ids from a list first, then from a run.
    struct Rigged(std::vec::IntoIter<String>, crate::domain::ids::IdRun);

    impl IdSource for Rigged {
        fn kind(&self) -> IdKind {
            IdKind::Contact
        }

        fn next_id(&mut self) -> String {
            self.0.next().unwrap_or_else(|| self.1.next_id())
        }
    }

    fn contacts(n: usize, portal: &str) -> Vec<Contact> {
        (0..n)
            .map(|i| {
                let mut c = Contact::blank(String::new(), portal.to_string(), 1);
                c.name = format!("Khách {i}");
                c.phones = vec![format!("8490{i:07}")];
                c
            })
            .collect()
    }

    /// A bulk write whose drawn ids include one already taken goes back to its
    /// savepoint, draws that one again and writes every contact once, on PostgreSQL
    /// (CALLSHEET_TEST_POSTGRES_URL; said plainly when skipped).
    #[tokio::test]
    async fn a_bulk_write_meeting_a_taken_id_draws_it_again() {
        let Some((admin, schema, url)) = super::super::test_schema().await else {
            return;
        };
        let store = super::super::PgStore::open(&url).await.unwrap();
        let (account, portal) = store.create_account("ids".into(), "VN".into()).await.unwrap();
        let mut conn = super::super::connect(&url).await.unwrap();

        let taken = "CTTAKEN001".to_string();
        let tx = conn.transaction().await.unwrap();
        let mut one = Rigged(vec![taken.clone()].into_iter(), IdKind::Contact.run());
        let first = insert_drawing(&tx, &account.id, &contacts(1, &portal.id), &mut one).await.unwrap();
        assert_eq!(first, vec![taken.clone()]);
        tx.commit().await.unwrap();

        let n = WRITE_IDS_FIRST + 44;
        let tx = conn.transaction().await.unwrap();
        let mut rigged = Rigged(vec![taken.clone()].into_iter(), IdKind::Contact.run());
        let ids = insert_drawing(&tx, &account.id, &contacts(n, &portal.id), &mut rigged).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(ids.len(), n);
        assert!(!ids.contains(&taken), "the taken id was drawn again");
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), n);

        let count = |sql: &'static str| {
            let (conn, account) = (&conn, account.id.clone());
            async move { conn.query_one(sql, &[&account]).await.unwrap().get::<_, i64>(0) }
        };
        assert_eq!(count("SELECT count(*) FROM contacts WHERE account_id = $1").await, n as i64 + 1);
        assert_eq!(count("SELECT count(*) FROM contact_phones WHERE account_id = $1").await, n as i64 + 1);
        assert_eq!(
            count("SELECT count(DISTINCT contact_rowid) FROM name_words WHERE account_id = $1").await,
            n as i64 + 1
        );
        drop(store);
        admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
    }
}
