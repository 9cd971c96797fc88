//! CRM contacts, their phones and their name words. Contacts are written in
//! batches through UNNEST arrays: one statement per table for a whole batch.

use std::collections::HashMap;

use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio_postgres::{GenericClient, Row};

use super::{Arg, StoreError, StoreResult, arg, numbered, query_args, refs, resolve_portal};
use crate::domain::contact::{Contact, ContactDraft};
use crate::domain::customer::{name_key, name_words};
use crate::domain::ids::IdKind;
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
    let fields: Map<String, Value> =
        serde_json::from_str(&fields).map_err(|e| StoreError::Internal(format!("stored fields: {e}")))?;
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
    let (mut p_seq, mut p_pos, mut p_phone) = (Vec::new(), Vec::new(), Vec::new());
    let (mut w_portal, mut w_seq, mut w_form, mut w_pos, mut w_word) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (seq, c) in contacts {
        for (pos, phone) in c.phones.iter().enumerate() {
            p_seq.push(*seq);
            p_pos.push(pos as i64);
            p_phone.push(phone.as_str());
        }
        for (pos, word) in name_words(&c.name).enumerate() {
            let lower = word.to_lowercase();
            let folded = text::fold(&lower);
            for (form, word) in [(0_i64, lower), (1, folded)] {
                w_portal.push(c.portal.as_str());
                w_seq.push(*seq);
                w_form.push(form);
                w_pos.push(pos as i64);
                w_word.push(word);
            }
        }
    }
    if !p_seq.is_empty() {
        db.execute(
            "INSERT INTO contact_phones (account_id, contact_rowid, pos, phone) \
             SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[])",
            &[&account_id, &p_seq, &p_pos, &p_phone],
        )
        .await?;
    }
    if !w_seq.is_empty() {
        db.execute(
            "INSERT INTO contact_words (account_id, portal_id, contact_rowid, form, pos, word) \
             SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[])",
            &[&account_id, &w_portal, &w_seq, &w_form, &w_pos, &w_word],
        )
        .await?;
    }
    Ok(())
}

/// A batch of contacts as the arrays one INSERT unnests.
#[derive(Default)]
struct ContactColumns<'a> {
    ids: Vec<String>,
    portals: Vec<&'a str>,
    names: Vec<&'a str>,
    keys: Vec<String>,
    emails: Vec<&'a str>,
    fields: Vec<String>,
    created: Vec<i64>,
    updated: Vec<i64>,
}

/// Inserts contacts (their portals already checked) under fresh ids, with their
/// phones and words; returns the ids in the contacts' order.
pub async fn insert_many(db: &impl GenericClient, account_id: &str, contacts: &[Contact]) -> StoreResult<Vec<String>> {
    let mut ids: Vec<String> = vec![String::new(); contacts.len()];
    let mut seqs: Vec<i64> = vec![0; contacts.len()];
    let mut todo: Vec<usize> = (0..contacts.len()).collect();
    let statement = db
        .prepare(
            "INSERT INTO contacts (account_id, id, portal_id, name, name_key, email, fields, created, updated) \
             SELECT $1, u.id, u.portal, u.name, u.name_key, u.email, u.fields::jsonb, u.created, u.updated \
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[]) \
                  WITH ORDINALITY AS u(id, portal, name, name_key, email, fields, created, updated, ord) \
             ORDER BY u.ord ON CONFLICT DO NOTHING RETURNING id, seq",
        )
        .await?;
    for _ in 0..8 {
        if todo.is_empty() {
            break;
        }
        let mut batch = ContactColumns::default();
        let mut slot: HashMap<String, usize> = HashMap::with_capacity(todo.len());
        for &i in &todo {
            let c = &contacts[i];
            let id = IdKind::Contact.generate();
            slot.insert(id.clone(), i);
            batch.ids.push(id);
            batch.portals.push(&c.portal);
            batch.names.push(&c.name);
            batch.keys.push(name_key(&c.name));
            batch.emails.push(&c.email);
            batch.fields.push(Value::Object(c.fields.clone()).to_string());
            batch.created.push(c.created);
            batch.updated.push(c.updated);
        }
        let b = &batch;
        let rows = db
            .query(
                &statement,
                &[&account_id, &b.ids, &b.portals, &b.names, &b.keys, &b.emails, &b.fields, &b.created, &b.updated],
            )
            .await?;
        for r in rows {
            let id: String = r.get(0);
            if let Some(i) = slot.remove(&id) {
                seqs[i] = r.get(1);
                ids[i] = id;
            }
        }
        // Whatever collided with an existing id is drawn again.
        todo = slot.into_values().collect();
        todo.sort_unstable();
    }
    if !todo.is_empty() {
        return Err(StoreError::Internal("could not draw free contact ids".into()));
    }
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
    let total: i64 = match query.and_then(|q| q.word_count.as_ref()) {
        // A one-word search counts straight from the word index.
        Some(count) => db.query_one(&numbered(&count.sql), &refs(&query_args(count))).await?.get(0),
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
         updated = $8 WHERE account_id = $1 AND id = $2",
        &[&account_id, &c.id, &c.portal, &c.name, &name_key(&c.name), &c.email, &fields, &c.updated],
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
    portal: Option<String>,
    mut feed: mpsc::Receiver<Feed>,
) -> StoreResult<ImportOutcome> {
    let portal = resolve_portal(db, account_id, portal.as_deref()).await?;
    let now = now_secs();
    let mut outcome = ImportOutcome::default();
    loop {
        let rows = match feed.recv().await {
            Some(Feed::Rows(rows)) => rows,
            Some(Feed::Done) => break,
            Some(Feed::Filter { .. }) => return Err(StoreError::Internal("a contact import was fed a filter".into())),
            None => return Err(StoreError::Aborted),
        };
        let ids: Vec<&str> = rows.iter().filter_map(|e| e.crm_id.as_deref()).collect();
        let mut existing = by_ids(db, account_id, &ids).await?;
        let mut changed: Vec<String> = Vec::new();
        let mut fresh: Vec<Contact> = Vec::new();
        for entry in rows {
            match entry.crm_id.as_ref().and_then(|id| existing.get_mut(id)) {
                Some((_, c)) => {
                    merge_entry(c, entry);
                    c.updated = now.max(c.created);
                    if !changed.contains(&c.id) {
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
