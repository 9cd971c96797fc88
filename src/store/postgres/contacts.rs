//! CRM contacts, their phones and their name words. Contacts are written in
//! batches through UNNEST arrays: one statement per table for a whole batch.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use tokio_postgres::types::{Json, Type};
use tokio_postgres::{GenericClient, Row};

use super::{Arg, StoreError, StoreResult, arg, copy_rows, draw, numbered, query_args, refs, resolve_portal};
use crate::domain::contact::{Contact, ContactDraft, field_words};
use crate::domain::customer::{indexed_word, name_key, name_words};
use crate::domain::ids::{IdKind, IdSource};
use crate::domain::now_secs;
use crate::domain::page::{Page, Paged};
use crate::domain::text;
use crate::query::sql::Compiled;
use crate::store::plan::{entry_contact, merge_entry};
use crate::store::{Feed, ImportOutcome};

const COLUMNS: &str = "c.seq, c.id, c.name, c.email, c.fields::text, c.portal_id, c.created, c.updated";

/// A contact and its `seq`, phones still to be loaded.
fn row(r: &Row) -> StoreResult<(i64, Contact)> {
    let fields: String = r.get(4);
    let fields: Map<String, Value> = serde_json::from_str(&fields)
        .map_err(|e| StoreError::internal(anyhow::Error::new(e).context("stored fields")))?;
    let contact = Contact {
        id: r.get(1),
        name: r.get(2),
        phones: Vec::new(),
        email: r.get(3),
        fields,
        portal: r.get(5),
        created: r.get(6),
        updated: r.get(7),
    };
    Ok((r.get(0), contact))
}

/// The phones of contacts by `seq`, in their order.
async fn phones_of(db: &impl GenericClient, account_id: &str, seqs: &[i64]) -> StoreResult<HashMap<i64, Vec<String>>> {
    let mut phones: HashMap<i64, Vec<String>> = HashMap::new();
    if seqs.is_empty() {
        return Ok(phones);
    }
    let rows = db
        .query(
            "SELECT contact_rowid, phone FROM contact_phones WHERE account_id = $1 AND contact_rowid = ANY($2) \
             ORDER BY contact_rowid, pos",
            &[&account_id, &seqs],
        )
        .await?;
    for r in rows {
        phones.entry(r.get(0)).or_default().push(r.get(1));
    }
    Ok(phones)
}

/// Contacts with their phones, from rows of [`COLUMNS`].
async fn with_phones(db: &impl GenericClient, account_id: &str, rows: &[Row]) -> StoreResult<Vec<(i64, Contact)>> {
    let mut found = rows.iter().map(row).collect::<StoreResult<Vec<_>>>()?;
    let seqs: Vec<i64> = found.iter().map(|(seq, _)| *seq).collect();
    let mut phones = phones_of(db, account_id, &seqs).await?;
    for (seq, contact) in &mut found {
        contact.phones = phones.remove(seq).unwrap_or_default();
    }
    Ok(found)
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
    let rows = db
        .query(
            &format!("SELECT {COLUMNS} FROM contacts c WHERE c.account_id = $1 AND c.id = ANY($2)"),
            &[&account_id, &ids],
        )
        .await?;
    Ok(with_phones(db, account_id, &rows).await?.into_iter().map(|(seq, c)| (c.id.clone(), (seq, c))).collect())
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
        db.execute(
            "DELETE FROM contact_words WHERE account_id = $1 AND contact_rowid = ANY($2)",
            &[&account_id, &seqs],
        )
        .await?;
    }
    let mut phones: Vec<(i64, i64, &str)> = Vec::new();
    let mut words: Vec<(&str, i64, i64, i64, String)> = Vec::new();
    for (seq, c) in contacts {
        for (pos, phone) in c.phones.iter().enumerate() {
            phones.push((*seq, pos as i64, phone));
        }
        for (pos, word) in name_words(&c.name).enumerate() {
            let lower = word.to_lowercase();
            let folded = text::fold(&lower);
            words.push((&c.portal, *seq, 0, pos as i64, indexed_word(&lower).to_string()));
            words.push((&c.portal, *seq, 1, pos as i64, indexed_word(&folded).to_string()));
        }
    }
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
    copy_rows(
        db,
        "contact_words (account_id, portal_id, contact_rowid, form, pos, word)",
        &[Type::TEXT, Type::TEXT, Type::INT8, Type::INT8, Type::INT8, Type::TEXT],
        words.len(),
        |i| {
            let (portal, seq, form, pos, word) = &words[i];
            vec![&account_id, portal, seq, form, pos, word]
        },
    )
    .await
}

/// Inserts contacts (their portals already checked) under fresh ids, with their
/// phones and words, by COPY; returns the ids in the contacts' order. Ids that
/// are taken already are drawn again before anything is written.
pub async fn insert_many(db: &impl GenericClient, account_id: &str, contacts: &[Contact]) -> StoreResult<Vec<String>> {
    if contacts.is_empty() {
        return Ok(Vec::new());
    }
    let mut drawn: HashSet<String> = HashSet::with_capacity(contacts.len());
    let mut run = IdKind::Contact.run();
    let mut fresh_id = || loop {
        let id = run.next_id();
        if drawn.insert(id.clone()) {
            break id;
        }
    };
    let mut ids: Vec<String> = (0..contacts.len()).map(|_| fresh_id()).collect();
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
    let seqs = draw(db, "pg_get_serial_sequence('contacts', 'seq')", contacts.len()).await?;
    let keys: Vec<String> = contacts.iter().map(|c| name_key(&c.name)).collect();
    let fields: Vec<Json<&Map<String, Value>>> = contacts.iter().map(|c| Json(&c.fields)).collect();
    let words: Vec<Json<Value>> =
        contacts.iter().map(|c| Json(serde_json::from_str(&field_words(&c.fields)).unwrap_or_default())).collect();
    copy_rows(
        db,
        "contacts (account_id, id, seq, portal_id, name, name_key, email, fields, created, updated, field_words)",
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
        ],
        contacts.len(),
        |i| {
            let c = &contacts[i];
            vec![
                &account_id,
                &ids[i],
                &seqs[i],
                &c.portal,
                &c.name,
                &keys[i],
                &c.email,
                &fields[i],
                &c.created,
                &c.updated,
                &words[i],
            ]
        },
    )
    .await?;
    let written: Vec<(i64, &Contact)> = seqs.iter().copied().zip(contacts).collect();
    save_details(db, account_id, &written, true).await?;
    Ok(ids)
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
    let rows = with_phones(db, account_id, &rows).await?.into_iter().map(|(_, c)| c).collect();
    Ok(Paged { rows, total })
}

/// Writes a contact's own columns.
async fn save(db: &impl GenericClient, account_id: &str, c: &Contact) -> StoreResult<()> {
    let fields = Value::Object(c.fields.clone()).to_string();
    db.execute(
        "UPDATE contacts SET portal_id = $3, name = $4, name_key = $5, email = $6, fields = $7::text::jsonb, \
         updated = $8, field_words = $9::text::jsonb WHERE account_id = $1 AND id = $2",
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
    let mut c = draft.apply(current);
    c.updated = now_secs().max(c.created);
    save(db, account_id, &c).await?;
    save_details(db, account_id, &[(seq, &c)], false).await?;
    Ok(Some(c))
}

pub async fn delete(db: &impl GenericClient, account_id: &str, id: &str) -> StoreResult<bool> {
    let Some(found) = db
        .query_opt("DELETE FROM contacts WHERE account_id = $1 AND id = $2 RETURNING seq", &[&account_id, &id])
        .await?
    else {
        return Ok(false);
    };
    let seq: i64 = found.get(0);
    db.execute("DELETE FROM contact_phones WHERE account_id = $1 AND contact_rowid = $2", &[&account_id, &seq]).await?;
    db.execute("DELETE FROM contact_words WHERE account_id = $1 AND contact_rowid = $2", &[&account_id, &seq]).await?;
    Ok(true)
}

/// Imports a feed of entries as contacts of one portal, in the caller's transaction,
/// returning only on `Feed::Done`. An entry whose id is one of the account's
/// contacts updates that contact with the values the row has; any other entry is a
/// new contact, keeping a foreign id as the custom field `external_id`.
pub async fn import(
    db: &impl GenericClient,
    account_id: &str,
    portal: Option<&str>,
    mut feed: crate::store::Entries,
) -> StoreResult<ImportOutcome> {
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
        // The contacts the batch changed, each once, in the order first changed.
        let mut changed: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut fresh: Vec<Contact> = Vec::new();
        for entry in rows {
            match entry.crm_id.as_ref().and_then(|id| existing.get_mut(id)) {
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
