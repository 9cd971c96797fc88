//! Adding customers to a campaign, and contacts to the CRM, from what a request
//! carries: `listcontacts` entries, `listfilters` queries, an uploaded file, a list
//! of phones. It hands the store typed entries and turns what the store did into
//! typed summaries for the API to answer with; it knows no HTTP.

use serde::Serialize;

use crate::calling::model::DncAdded;
use crate::domain::account::Account;
use crate::domain::campaign::Campaign;
use crate::domain::customer::{AddOutcome, InvalidRow, MAX_REPORTED_ROWS, NewCustomer, Source};
use crate::domain::ids::{CampaignId, PortalId};
use crate::domain::phone::{self, Region};
use crate::import::{self, FileOptions, FileReport, ImportError, ImportLimits};
use crate::store::{DynStore, EntrySender, Feed, FilterSource, ImportOutcome, StoreError, Target};

/// Everything a request asks to add, read and checked before anything is written.
#[derive(Debug, Default)]
pub struct Sources {
    /// `listcontacts` entries that can be added.
    pub contacts: Vec<NewCustomer>,
    /// `listcontacts` entries that cannot (no valid phone, a repeat), reported.
    pub invalid: Vec<InvalidRow>,
    /// `listfilters` entries, each with its place in the request.
    pub filters: Vec<(i64, FilterSource)>,
    /// An uploaded .xlsx or .csv, read while the entries are stored.
    pub file: Option<bytes::Bytes>,
    /// The upload's `sheet` and `header_row`.
    pub file_options: FileOptions,
    /// How many of `invalid` repeat an earlier entry.
    pub repeated: i64,
}

impl Sources {
    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty() && self.invalid.is_empty() && self.filters.is_empty() && self.file.is_none()
    }
}

/// A phone dropped from an entry that was still added, because it is not a
/// possible number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DroppedPhone {
    pub row: i64,
    pub id: Option<String>,
    pub phone: String,
}

/// What an add did, as `summary` reports it (CONTRACT §4): every key is always there.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AddSummary {
    /// Entries looked at: listcontacts entries, file rows, and the contacts filters matched.
    pub total: i64,
    pub added: i64,
    pub skipped: i64,
    /// Rows not added for a reason of their own (no valid phone, no id), repeats apart.
    pub invalid: i64,
    /// Rows repeating an earlier row of the same request (same id, or same phone).
    pub repeated: i64,
    /// File rows attached to CRM contacts that already existed.
    pub matched: i64,
    /// Customers added with status 8 (do not call).
    pub dnc: i64,
    pub invalid_rows: Vec<InvalidRow>,
    pub dropped_phones: Vec<DroppedPhone>,
    /// CRM ids already in the campaign, in request order: the reference's
    /// `["contactexistis", …]` in `data`.
    #[serde(skip)]
    pub skipped_ids: Vec<String>,
}

/// What a CRM contact import did (`POST /v1/contact/import`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportSummary {
    pub total: i64,
    pub added: i64,
    pub updated: i64,
    pub invalid: i64,
    pub repeated: i64,
    pub invalid_rows: Vec<InvalidRow>,
    pub dropped_phones: Vec<DroppedPhone>,
}

/// Why an add or import failed: the store's reason, or the file's.
#[derive(Debug)]
pub enum IntakeError {
    Store(StoreError),
    File(ImportError),
}

impl From<StoreError> for IntakeError {
    fn from(e: StoreError) -> Self {
        IntakeError::Store(e)
    }
}

/// The saved filters and portals `listfilters` names, before anything is written:
/// an unknown one is r 4 even where the campaign's state would refuse the add (r 7),
/// as CONTRACT §9 orders the checks (the campaign, then other ids, then state).
pub async fn check_filters(
    store: &DynStore,
    account: &Account,
    target: &Target,
    filters: &[(i64, FilterSource)],
) -> Result<(), IntakeError> {
    if filters.is_empty() {
        return Ok(());
    }
    if let Target::Existing(id) = target
        && store.campaign(account.account_id(), id.clone()).await?.is_none()
    {
        return Err(StoreError::CampaignNotFound(id.to_string()).into());
    }
    for (_, source) in filters {
        let portal = match source {
            FilterSource::Query { portal, .. } => portal.clone(),
            FilterSource::Saved { id, portal, .. } => {
                let saved = store.filter(account.account_id(), id.clone()).await?;
                if saved.is_none() {
                    return Err(StoreError::NotFound(format!("filter '{id}' not found")).into());
                }
                portal.clone()
            }
        };
        if let Some(portal) = portal
            && store.portal(account.account_id(), Some(portal.clone())).await?.is_none()
        {
            return Err(StoreError::NotFound(format!("portal '{portal}' not found")).into());
        }
    }
    Ok(())
}

/// Adds everything `sources` holds to the target campaign, all or nothing.
pub async fn add(
    store: &DynStore,
    limits: ImportLimits,
    account: &Account,
    actor: &str,
    target: Target,
    sources: Sources,
) -> Result<(Campaign, AddSummary), IntakeError> {
    check_filters(store, account, &target, &sources.filters).await?;
    let listed = (sources.contacts.len() + sources.invalid.len()) as i64;
    let mut dropped: Vec<DroppedPhone> = sources
        .contacts
        .iter()
        .flat_map(|c| {
            c.dropped_phones.iter().map(|p| DroppedPhone { row: c.row, id: c.crm_id.clone(), phone: p.clone() })
        })
        .collect();
    let (store, account_id, actor) = (store.clone(), account.account_id(), actor.to_string());
    let repeated_entries = sources.repeated;
    let feed =
        Feeding { rows: sources.contacts, filters: sources.filters, file: sources.file, options: sources.file_options };
    let (file, (campaign, stored)) = feed_store(limits, account.region(), feed, move |entries| async move {
        store.add_customers(account_id, actor, target, entries).await
    })
    .await?;
    let mut outcome = AddOutcome::default();
    let unreported = file.invalid_count - file.invalid.len() as i64;
    for row in sources.invalid.into_iter().chain(file.invalid) {
        outcome.reject(row);
    }
    outcome.invalid += unreported;
    outcome.merge(stored);
    outcome.repeats_among_skipped();
    dropped.extend(file.dropped.into_iter().map(|(row, id, phone)| DroppedPhone { row, id, phone }));
    dropped.truncate(MAX_REPORTED_ROWS);
    let repeated = repeated_entries + file.repeated + outcome.repeated;
    let summary = AddSummary {
        total: listed + outcome.matched + file.rows,
        added: outcome.added,
        skipped: outcome.skipped.len() as i64,
        invalid: outcome.invalid - repeated,
        repeated,
        matched: outcome.attached,
        dnc: outcome.dnc,
        invalid_rows: outcome.invalid_rows,
        dropped_phones: dropped,
        skipped_ids: outcome.skipped,
    };
    Ok((campaign, summary))
}

/// Imports a file's rows as CRM contacts of `portal` (the default one when `None`).
pub async fn import_contacts(
    store: &DynStore,
    limits: ImportLimits,
    account: &Account,
    portal: Option<PortalId>,
    file: bytes::Bytes,
    options: FileOptions,
) -> Result<ImportSummary, IntakeError> {
    let (store, account_id) = (store.clone(), account.account_id());
    let feed = Feeding { rows: Vec::new(), filters: Vec::new(), file: Some(file), options };
    let (report, outcome): (FileReport, ImportOutcome) =
        feed_store(limits, account.region(), feed, move |entries| async move {
            store.import_contacts(account_id, portal, entries).await
        })
        .await?;
    Ok(ImportSummary {
        total: report.rows,
        added: outcome.added,
        updated: outcome.updated,
        invalid: report.invalid_count - report.repeated,
        repeated: report.repeated,
        invalid_rows: report.invalid,
        dropped_phones: report.dropped.into_iter().map(|(row, id, phone)| DroppedPhone { row, id, phone }).collect(),
    })
}

/// The phones of an add-by-phones request, read (CONTRACT §4): each is normalized
/// once; impossible ones and repeats are set apart for the answer.
#[derive(Debug, Default, PartialEq)]
pub struct PhoneList {
    pub phones: Vec<String>,
    pub repeated: Vec<String>,
    pub invalid: Vec<String>,
}

pub fn read_phones(raw: &[String], region: &Region) -> PhoneList {
    let mut list = PhoneList::default();
    let mut seen = std::collections::HashSet::new();
    for number in numbers(raw) {
        match phone::normalize(number, region) {
            Some(p) if seen.insert(p.clone()) => list.phones.push(p),
            Some(p) => list.repeated.push(p),
            None => list.invalid.push(number.to_string()),
        }
    }
    list
}

/// The numbers a list of phones holds: each entry split as a cell is (`0901…; 0902…`
/// is two), an entry of no number one invalid entry as written.
pub fn numbers(raw: &[String]) -> Vec<&str> {
    let mut out = Vec::with_capacity(raw.len());
    for cell in raw {
        let before = out.len();
        out.extend(phone::numbers_in(cell));
        if out.len() == before {
            out.push(cell.as_str());
        }
    }
    out
}

/// What add-by-phones answers (the reference's documented shape).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PhonesSummary {
    pub total: i64,
    pub added: i64,
    pub skipped: i64,
    pub skipped_phones: Vec<String>,
    pub invalid: i64,
    pub invalid_phones: Vec<String>,
    pub dnc: i64,
}

/// add-by-phones: each new phone becomes a customer of the campaign.
pub async fn add_phones(
    store: &DynStore,
    account: &Account,
    actor: &str,
    campaign: CampaignId,
    raw: &[String],
) -> Result<PhonesSummary, StoreError> {
    let list = read_phones(raw, &account.region());
    let total = numbers(raw).len() as i64;
    let outcome = store.add_phones(account.account_id(), actor.to_string(), campaign, list.phones).await?;
    let mut skipped = outcome.skipped_phones;
    skipped.extend(list.repeated);
    Ok(PhonesSummary {
        total,
        added: outcome.added,
        skipped: skipped.len() as i64,
        skipped_phones: skipped,
        invalid: list.invalid.len() as i64,
        invalid_phones: list.invalid,
        dnc: outcome.dnc,
    })
}

/// What is fed to the store, in this order: the request's own entries, its filters,
/// then the file's rows as they are read.
struct Feeding {
    rows: Vec<NewCustomer>,
    filters: Vec<(i64, FilterSource)>,
    file: Option<bytes::Bytes>,
    options: FileOptions,
}

/// Runs `store_side` on a feed of entries while they are read; returns the file's
/// report and what the store made of them, or the one error that explains a failure.
async fn feed_store<T, F, Fut>(
    limits: ImportLimits,
    region: Region,
    feeding: Feeding,
    store_side: F,
) -> Result<(FileReport, T), IntakeError>
where
    F: FnOnce(crate::store::Entries) -> Fut,
    Fut: std::future::Future<Output = crate::store::StoreResult<T>> + Send + 'static,
    T: Send + 'static,
{
    let (tx, entries) = crate::store::Entries::channel();
    let storing = tokio::spawn(store_side(entries));
    let fed = feed(limits, region, feeding, tx).await;
    let stored = storing.await.map_err(|e| IntakeError::Store(StoreError::internal(e)))?;
    match (fed, stored) {
        (Ok(report), Ok(stored)) => Ok((report, stored)),
        // The store's own failure (an unknown campaign, say) explains a stopped feed.
        (Err(ImportError::Stopped), Err(e)) | (Ok(_), Err(e)) => Err(IntakeError::Store(e)),
        (Err(e), _) => Err(IntakeError::File(e)),
    }
}

/// Feeds the rows, the filters and then the uploaded file's entries, reading the
/// file on a blocking thread; `Feed::Done` goes only after the last row was read
/// whole. On a file error the feed is dropped without `Done`, so the store writes
/// nothing.
async fn feed(
    limits: ImportLimits,
    region: Region,
    feeding: Feeding,
    tx: EntrySender,
) -> Result<FileReport, ImportError> {
    let Feeding { rows, filters, file, options } = feeding;
    if !rows.is_empty() && !tx.send(Feed::Rows(rows)).await {
        return Err(ImportError::Stopped);
    }
    for (row, source) in filters {
        if !tx.send(Feed::Filter { source: Box::new(source), row }).await {
            return Err(ImportError::Stopped);
        }
    }
    let report = match file {
        None => FileReport::default(),
        Some(bytes) => {
            let sender = tx.clone();
            tokio::task::spawn_blocking(move || {
                import::read_entries(&bytes, &limits, &options, &region, Source::File, &mut |batch| {
                    sender.blocking_send(Feed::Rows(batch))
                })
            })
            .await
            .map_err(|_| ImportError::File("the file could not be read".into()))??
        }
    };
    if !tx.send(Feed::Done).await {
        return Err(ImportError::Stopped);
    }
    Ok(report)
}

/// Adds phones to a do-not-call list (CONTRACT §10.1): each is normalized once; an
/// impossible one is counted in `invalid` and named in `invalid_phones`.
pub async fn add_dnc(
    store: &DynStore,
    account: &Account,
    campaign: Option<CampaignId>,
    raw: &[String],
    reason: String,
    expires_at: Option<i64>,
) -> Result<DncAdded, StoreError> {
    let region = account.region();
    let numbers = numbers(raw);
    let mut phones = Vec::with_capacity(numbers.len());
    let mut invalid = Vec::new();
    for number in &numbers {
        match phone::normalize(number, &region) {
            Some(p) => phones.push(p),
            None => invalid.push(number.to_string()),
        }
    }
    let mut added = store.add_dnc(account.account_id(), campaign, phones, reason, expires_at).await?;
    added.total = numbers.len() as i64;
    added.invalid = invalid.len() as i64;
    added.invalid_phones = invalid;
    Ok(added)
}

/// What a do-not-call import did: the add's counts, plus the rows that held no
/// possible phone.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DncImported {
    #[serde(flatten)]
    pub added: DncAdded,
    pub invalid_rows: Vec<InvalidRow>,
}

/// Imports the phones of a file's phone column(s) into a do-not-call list. Every
/// phone of every row counts in `total`; an impossible phone of a row that has a
/// possible one is in `invalid_phones`; a row with none is in `invalid_rows`.
pub async fn import_dnc(
    store: &DynStore,
    limits: ImportLimits,
    account: &Account,
    campaign: Option<CampaignId>,
    reason: String,
    file: bytes::Bytes,
    options: FileOptions,
) -> Result<DncImported, IntakeError> {
    let region = account.region();
    let options = FileOptions { all_rows: true, ..options };
    let (phones, report) = tokio::task::spawn_blocking(move || {
        let mut phones: Vec<String> = Vec::new();
        let report = import::read_entries(&file, &limits, &options, &region, Source::File, &mut |batch| {
            phones.extend(batch.into_iter().flat_map(|e| e.phones));
            true
        })?;
        Ok::<_, ImportError>((phones, report))
    })
    .await
    .map_err(|_| IntakeError::File(ImportError::File("the file could not be read".into())))?
    .map_err(IntakeError::File)?;
    let listed = phones.len() as i64;
    let mut added = store.add_dnc(account.account_id(), campaign, phones, reason, None).await?;
    let dropped: Vec<String> = report.dropped.into_iter().map(|(_, _, phone)| phone).collect();
    added.total = listed + dropped.len() as i64 + report.invalid_count;
    added.invalid = dropped.len() as i64 + report.invalid_count;
    added.invalid_phones = dropped;
    Ok(DncImported { added, invalid_rows: report.invalid })
}
