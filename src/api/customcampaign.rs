//! The reference "customcampaign" endpoints (CONTRACT §4), byte-compatible.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::AppState;
use super::auth::Caller;
use super::campaign::page_of;
use super::error::{ApiError, ApiResult, Code, done, ok};
use super::input::{Fields, Input, PathId, scalar_text};
use crate::domain::customer::{
    AddOutcome, CustomerFilter, InvalidRow, MAX_REPORTED_ROWS, NameMatch, NewCustomer, Repeats, Source, parse_status,
};
use crate::domain::phone::{self, Region};
use crate::import::{self, FileReport, ImportError};
use crate::store::{DuplicateGroup, Feed, Target};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, SerializeStruct, Serializer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/customcampaign", post(add).get(list).delete(remove_by_body))
        .route("/v1/customcampaign/add-by-phones", post(add_by_phones))
        .route("/v1/customcampaign/duplicate", post(duplicates))
        .route("/v1/customcampaign/keepduplicate", post(keep_duplicates))
        .route("/v1/customcampaign/{id}", delete(remove))
}

/// The sources of entries a request may carry besides its own fields.
pub struct Sources {
    pub contacts: Vec<NewCustomer>,
    pub invalid: Vec<InvalidRow>,
    /// `listfilters` entries, resolved and compiled before anything is written.
    pub filters: Vec<FilterSpec>,
    /// An uploaded .xlsx or .csv, read while the entries are stored.
    pub file: Option<axum::body::Bytes>,
}

impl Sources {
    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty() && self.invalid.is_empty() && self.filters.is_empty() && self.file.is_none()
    }
}

/// One `listfilters` entry: a query as sent, or the saved filter `id` names.
pub struct FilterSpec {
    pub row: i64,
    pub id: Option<String>,
    pub query: Option<String>,
    pub portal: Option<String>,
}

/// A filter ready for the store: compiled query and portal.
pub type ReadyFilter = (crate::query::sql::Compiled, Option<String>, i64);

/// Resolves saved filters (r=4 when `id` names none) and compiles every query (r=6).
async fn ready_filters(
    state: &AppState,
    account: &crate::domain::account::Account,
    specs: Vec<FilterSpec>,
) -> ApiResult<Vec<ReadyFilter>> {
    let mut ready = Vec::with_capacity(specs.len());
    for spec in specs {
        let (query, portal) = match (spec.query, spec.id) {
            (Some(q), _) => (q, spec.portal),
            (None, Some(id)) => {
                let saved = state
                    .store
                    .filter(&account.id, &id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("filter '{id}' not found")))?;
                (saved.query, spec.portal.or(Some(saved.portal)))
            }
            (None, None) => return Err(ApiError::missing(&format!("listfilters[{}].query or id", spec.row))),
        };
        let portal = super::contact::portal_of(state, &account.id, portal.as_deref()).await?;
        let compiled = super::contact::compile_query(state, &query, account, &portal)?;
        ready.push((compiled, Some(portal), spec.row));
    }
    Ok(ready)
}

/// Reads `listcontacts`, `listfilters` and `file` of POST /v1/customcampaign or
/// POST /v1/campaign, checking everything before anything is written.
pub fn read_sources(input: &Input, region: &Region, max_entries: usize) -> ApiResult<Sources> {
    let f = input.fields();
    if let Some(t) = f.int("type")?
        && !(1..=4).contains(&t)
    {
        return Err(ApiError::invalid("type must be between 1 and 4"));
    }
    let mut sources = Sources { contacts: Vec::new(), invalid: Vec::new(), filters: Vec::new(), file: None };
    if let Some(entries) = f.list("listcontacts")? {
        if entries.len() > max_entries {
            return Err(ApiError::too_large(format!(
                "listcontacts has {} entries; the limit is {max_entries}",
                entries.len()
            )));
        }
        let mut repeats = Repeats::default();
        for (i, entry) in entries.iter().enumerate() {
            match contact_entry(&f, i, entry, region)? {
                Ok(new) => match repeats.check(&new) {
                    Some(reason) => sources.invalid.push(InvalidRow { row: new.row, id: new.crm_id, reason }),
                    None => sources.contacts.push(new),
                },
                Err(row) => sources.invalid.push(row),
            }
        }
    }
    for (i, entry) in f.list("listfilters")?.unwrap_or_default().iter().enumerate() {
        let at = format!("{}[{i}]", f.name("listfilters"));
        let map = entry.as_object().ok_or_else(|| ApiError::invalid(format!("{at} must be an object")))?;
        let e = f.nested(map, at);
        let text = |k: &str| -> ApiResult<Option<String>> {
            Ok(e.string(k)?.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
        };
        sources.filters.push(FilterSpec {
            row: i as i64,
            id: text("id")?,
            query: text("query")?,
            portal: text("portal")?,
        });
    }
    sources.file = file_upload(input)?;
    Ok(sources)
}

/// The `file` part of a multipart body, if any.
pub fn file_upload(input: &Input) -> ApiResult<Option<axum::body::Bytes>> {
    let mut files = input.uploads.iter().filter(|u| u.field == "file");
    let file = files.next().map(|u| u.bytes.clone());
    if files.next().is_some() {
        return Err(ApiError::invalid("send one file per request"));
    }
    Ok(file)
}

/// The envelope error for a file that cannot be imported.
pub fn import_error(e: ImportError) -> ApiError {
    match e {
        ImportError::File(msg) => ApiError::new(Code::File, msg),
        ImportError::TooLarge(msg) => ApiError::too_large(msg),
        ImportError::Stopped => ApiError::internal("an import stopped without its consumer's error"),
    }
}

/// Runs `store_side` on a feed while `rows` and then the uploaded file's entries are
/// fed to it; returns the file's report and what the store made of the entries, or
/// the one error that explains a failure.
pub async fn feed_store<T, F, Fut>(
    state: &AppState,
    region: &Region,
    rows: Vec<NewCustomer>,
    filters: Vec<ReadyFilter>,
    file: Option<axum::body::Bytes>,
    store_side: F,
) -> ApiResult<(FileReport, T)>
where
    F: FnOnce(mpsc::Receiver<Feed>) -> Fut,
    Fut: std::future::Future<Output = crate::store::StoreResult<T>> + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = mpsc::channel(4);
    let storing = tokio::spawn(store_side(rx));
    let fed = feed_sources(state, region, rows, filters, file, tx).await;
    let stored = storing.await.map_err(ApiError::internal)?;
    match (fed, stored) {
        (Ok(report), Ok(stored)) => Ok((report, stored)),
        // The store's own failure (an unknown campaign, say) explains a stopped feed.
        (Err(ImportError::Stopped), Err(e)) | (Ok(_), Err(e)) => Err(e.into()),
        (Err(e), _) => Err(import_error(e)),
    }
}

/// Phones dropped from rows that were still added, as the summary lists them.
pub fn dropped_json(dropped: &[(i64, Option<String>, String)]) -> Vec<Value> {
    dropped.iter().map(|(row, id, phone)| json!({"row": row, "id": id, "phone": phone})).collect()
}

/// Feeds `rows` and then the uploaded file's entries to `feed`, reading the file on
/// a blocking thread; `Feed::Done` goes only after the last row was read whole.
/// On a file error the feed is dropped without `Done`, so the store writes nothing.
async fn feed_sources(
    state: &AppState,
    region: &Region,
    rows: Vec<NewCustomer>,
    filters: Vec<ReadyFilter>,
    file: Option<axum::body::Bytes>,
    feed: mpsc::Sender<Feed>,
) -> Result<FileReport, ImportError> {
    if !rows.is_empty() && feed.send(Feed::Rows(rows)).await.is_err() {
        return Err(ImportError::Stopped);
    }
    for (query, portal, row) in filters {
        if feed.send(Feed::Filter { query, portal, row }).await.is_err() {
            return Err(ImportError::Stopped);
        }
    }
    let report = match file {
        None => FileReport::default(),
        Some(bytes) => {
            let (limits, region, tx) = (state.limits.import(), region.clone(), feed.clone());
            tokio::task::spawn_blocking(move || {
                import::read_entries(&bytes, &limits, &region, Source::File, &mut |batch| {
                    tx.blocking_send(Feed::Rows(batch)).is_ok()
                })
            })
            .await
            .map_err(|_| ImportError::File("the file could not be read".into()))??
        }
    };
    feed.send(Feed::Done).await.map_err(|_| ImportError::Stopped)?;
    Ok(report)
}

/// One `listcontacts` entry: `{id, name, phones[]}`. A malformed entry fails the
/// request; an entry whose every phone is impossible is reported, not added.
fn contact_entry(
    f: &Fields<'_>,
    i: usize,
    entry: &Value,
    region: &Region,
) -> ApiResult<Result<NewCustomer, InvalidRow>> {
    let at = format!("{}[{i}]", f.name("listcontacts"));
    let Some(map) = entry.as_object() else {
        return Err(ApiError::invalid(format!("{at} must be an object")));
    };
    let e = f.nested(map, at);
    let crm_id = e.string("id")?.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let name = e.string("name")?;
    let cells = e.strings("phones")?.unwrap_or_default();
    let parsed = phone::parse_cells(cells.iter().map(String::as_str), region);
    let row = i as i64;
    if parsed.valid.is_empty() && !parsed.invalid.is_empty() {
        let reason = format!("no valid phone: {}", parsed.invalid.join(", "));
        return Ok(Err(InvalidRow { row, id: crm_id, reason }));
    }
    Ok(Ok(NewCustomer {
        row,
        crm_id,
        name,
        phones: parsed.valid,
        dropped_phones: parsed.invalid,
        fields: Map::new(),
        email: String::new(),
        source: Source::Contacts,
        name_key: None,
    }
    .prepare()))
}

/// Adds the entries to the target campaign in one transaction.
pub async fn add_sources(
    state: &AppState,
    account: &crate::domain::account::Account,
    target: Target,
    sources: Sources,
) -> ApiResult<(crate::domain::campaign::Campaign, AddOutcome, Value)> {
    let listed = (sources.contacts.len() + sources.invalid.len()) as i64;
    let mut dropped: Vec<Value> = sources
        .contacts
        .iter()
        .flat_map(|c| c.dropped_phones.iter().map(move |p| json!({"row": c.row, "id": c.crm_id, "phone": p})))
        .collect();
    let filters = ready_filters(state, account, sources.filters).await?;
    let (store, account_id) = (state.store.clone(), account.id.clone());
    let (file, (campaign, stored)) =
        feed_store(state, &account.region(), sources.contacts, filters, sources.file, move |rx| async move {
            store.add_customers(&account_id, target, rx).await
        })
        .await?;
    let mut outcome = AddOutcome::default();
    let unreported = file.invalid_count - file.invalid.len() as i64;
    for row in sources.invalid.into_iter().chain(file.invalid) {
        outcome.reject(row);
    }
    outcome.invalid += unreported;
    outcome.merge(stored);
    let listed = listed + outcome.matched;
    dropped.extend(dropped_json(&file.dropped));
    dropped.truncate(MAX_REPORTED_ROWS);
    let summary = json!({
        "total": listed + file.rows,
        "added": outcome.added,
        "skipped": outcome.skipped.len(),
        "invalid": outcome.invalid,
        "invalid_rows": outcome.invalid_rows,
        "dropped_phones": dropped,
    });
    Ok((campaign, outcome, summary))
}

/// `[]`, or the reference's `["contactexistis", <crm ids>…]`.
fn skipped_marker(skipped: &[String]) -> Value {
    if skipped.is_empty() {
        json!([])
    } else {
        let mut data = vec![json!("contactexistis")];
        data.extend(skipped.iter().map(|id| json!(id)));
        Value::Array(data)
    }
}

/// POST /v1/customcampaign: add contacts to a campaign.
async fn add(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let campaign = f.required_string("campaign")?;
    let sources = read_sources(&input, &caller.account.region(), state.limits.listcontacts)?;
    if sources.file.is_none() && f.get("listcontacts").is_none() && f.get("listfilters").is_none() {
        return Err(match input.uploads.first() {
            Some(other) => ApiError::new(
                Code::Missing,
                format!("missing file: the upload came as the field '{}'; send it as 'file'", other.field),
            ),
            None => ApiError::missing("listcontacts, listfilters or file"),
        });
    }
    let (_, outcome, summary) = add_sources(&state, &caller.account, Target::Existing(campaign), sources).await?;
    let body = json!({"r": 0, "msg": "Success", "data": skipped_marker(&outcome.skipped), "summary": summary});
    Ok(Json(body).into_response())
}

/// POST /v1/customcampaign/add-by-phones.
async fn add_by_phones(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let campaign = match f.string("campaign_id")?.filter(|s| !s.trim().is_empty()) {
        Some(c) => c.trim().to_string(),
        None => f.required_string("campaign").map_err(|_| ApiError::missing("campaign_id"))?,
    };
    let raw = f.strings("phones")?.filter(|p| !p.is_empty()).ok_or_else(|| ApiError::missing("phones"))?;
    if raw.len() > state.limits.listcontacts {
        return Err(ApiError::too_large(format!(
            "phones has {} entries; the limit is {}",
            raw.len(),
            state.limits.listcontacts
        )));
    }
    let region = caller.account.region();
    let (mut phones, mut invalid, mut repeated) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = std::collections::HashSet::new();
    for cell in &raw {
        match phone::normalize(cell, &region) {
            Some(p) if seen.insert(p.clone()) => phones.push(p),
            Some(p) => repeated.push(p),
            None => invalid.push(cell.clone()),
        }
    }
    let outcome = state.store.add_phones(&caller.account.id, &campaign, phones).await?;
    let mut skipped = outcome.skipped_phones;
    skipped.extend(repeated);
    Ok(ok(json!({
        "total": raw.len(),
        "added": outcome.added,
        "skipped": skipped.len(),
        "skipped_phones": skipped,
        "invalid": invalid.len(),
        "invalid_phones": invalid,
    })))
}

/// POST /v1/customcampaign/duplicate: phones held by two or more customers.
async fn duplicates(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let campaign = input.fields().required_string("campaign")?;
    let groups = state.store.duplicates(&caller.account.id, &campaign).await?;
    // A large campaign's answer runs to megabytes: write it straight to bytes, off
    // the request threads, in the order of the reference's keys.
    let body = tokio::task::spawn_blocking(move || serde_json::to_vec(&DuplicatesBody(&groups)))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `{"data":{phone:[{"id","name","phone_number"}…]…},"msg":"Success","r":0}`.
struct DuplicatesBody<'a>(&'a [DuplicateGroup]);
struct Groups<'a>(&'a [DuplicateGroup]);
struct Members<'a>(&'a DuplicateGroup);

#[derive(serde::Serialize)]
struct Member<'a> {
    id: i64,
    name: &'a str,
    phone_number: &'a str,
}

impl Serialize for DuplicatesBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut body = s.serialize_struct("Body", 3)?;
        body.serialize_field("data", &Groups(self.0))?;
        body.serialize_field("msg", "Success")?;
        body.serialize_field("r", &0)?;
        body.end()
    }
}

impl Serialize for Groups<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for group in self.0 {
            map.serialize_entry(&group.phone, &Members(group))?;
        }
        map.end()
    }
}

impl Serialize for Members<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.customers.len()))?;
        for (id, name) in &self.0.customers {
            seq.serialize_element(&Member { id: *id, name, phone_number: &self.0.phone })?;
        }
        seq.end()
    }
}

/// POST /v1/customcampaign/keepduplicate.
async fn keep_duplicates(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let campaign = f.required_string("campaign")?;
    let pairs = keep_pairs(&f, &caller.account.region())?;
    let outcome = state.store.keep_duplicates(&caller.account.id, &campaign, pairs).await?;
    Ok(ok(json!({"removed_phones": outcome.removed_phones, "removed_customers": outcome.removed_customers})))
}

/// `listKeepCustomer` in any of its forms: `{"phone": id, …}`, `[{"phone": id}, …]`,
/// `[{"phone": …, "id": …}, …]`, or any of them as JSON text.
fn keep_pairs(f: &Fields<'_>, region: &Region) -> ApiResult<Vec<(String, i64)>> {
    const FIELD: &str = "listKeepCustomer";
    let raw = match f.value(FIELD)? {
        None => return Err(ApiError::missing(FIELD)),
        Some(v) => v.into_owned(),
    };
    let mut raw_pairs: Vec<(String, Value)> = Vec::new();
    match raw {
        Value::Object(map) => raw_pairs.extend(map),
        Value::Array(items) => {
            for item in items {
                let Value::Object(map) = item else {
                    return Err(ApiError::invalid(format!("{FIELD} entries must be objects")));
                };
                match (map.get("phone"), map.get("id")) {
                    (Some(phone), Some(id)) => {
                        let phone = scalar_text(phone)
                            .ok_or_else(|| ApiError::invalid(format!("{FIELD}: phone must be a string")))?;
                        raw_pairs.push((phone, id.clone()));
                    }
                    _ => raw_pairs.extend(map),
                }
            }
        }
        _ => return Err(ApiError::invalid(format!("{FIELD} must be an object of phone: customer id"))),
    }
    if raw_pairs.is_empty() {
        return Err(ApiError::missing(FIELD));
    }
    let mut pairs: Vec<(String, i64)> = Vec::with_capacity(raw_pairs.len());
    let mut seen = std::collections::HashSet::new();
    for (phone_raw, id) in raw_pairs {
        let phone = phone::normalize(&phone_raw, region)
            .ok_or_else(|| ApiError::invalid(format!("{FIELD}: '{phone_raw}' is not a valid phone number")))?;
        let id = match &id {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| ApiError::invalid(format!("{FIELD}: customer id for {phone_raw} must be an integer")))?;
        if !seen.insert(phone.clone()) {
            return Err(ApiError::invalid(format!("{FIELD}: phone {phone} is named twice")));
        }
        pairs.push((phone, id));
    }
    Ok(pairs)
}

/// GET /v1/customcampaign: the reference's list shape, `totalCount` as a string.
async fn list(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let p = page_of(&f)?;
    let status = f.int("status")?.map(parse_status).transpose().map_err(ApiError::invalid)?;
    let phone = match f.string("phone")?.filter(|s| !s.trim().is_empty()) {
        Some(raw) => Some(
            phone::normalize(&raw, &caller.account.region())
                .ok_or_else(|| ApiError::invalid(format!("phone '{raw}' is not a valid phone number")))?,
        ),
        None => None,
    };
    let filter = CustomerFilter {
        campaign: f.string("campaign")?.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
        name: f.string("name")?.as_deref().and_then(NameMatch::parse),
        status,
        phone,
    };
    let found = state.store.customers(&caller.account.id, filter, p).await?;
    let body = json!({
        "r": 0,
        "msg": "Call API success",
        "message": "Call API success",
        "resFromPccApi": {"data": {
            "rows": found.rows,
            "totalCount": found.total.to_string(),
            "totalPages": p.total_pages(found.total),
        }},
    });
    Ok(Json(body).into_response())
}

/// DELETE /v1/customcampaign/{id}.
async fn remove(State(state): State<AppState>, caller: Caller, PathId(id): PathId) -> ApiResult<Response> {
    let id: i64 = id.trim().parse().map_err(|_| ApiError::invalid(format!("customer id '{id}' must be an integer")))?;
    delete_customer(&state, &caller, id).await
}

/// DELETE /v1/customcampaign with `{"id": 110}`.
async fn remove_by_body(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let id = input.fields().int("id")?.ok_or_else(|| ApiError::missing("id"))?;
    delete_customer(&state, &caller, id).await
}

async fn delete_customer(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Response> {
    if state.store.delete_customer(&caller.account.id, id).await? {
        Ok(done())
    } else {
        Err(ApiError::not_found(format!("customer {id} not found")))
    }
}
