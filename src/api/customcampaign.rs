//! The reference "customcampaign" endpoints (CONTRACT §4), byte-compatible.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, SerializeStruct, Serializer};
use serde_json::{Value, json};

use super::AppState;
use super::auth::Caller;
use super::background;
use super::download::{self, Format, Value as Cell};
use super::error::{ApiError, ApiResult, customer_page_body, done, json_body, ok};
use super::input::{Fields, Input, PathId, scalar_text};
use crate::domain::customer::{CustomerFilter, NameMatch, parse_status};
use crate::domain::ids::{CampaignId, CustomerId};
use crate::domain::phone::{self, Region};
use crate::store::{DuplicateGroup, Target};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/customcampaign", post(add).get(list).delete(remove_by_body))
        .route("/v1/customcampaign/add-by-phones", post(add_by_phones))
        .route("/v1/customcampaign/export", get(export))
        .route("/v1/customcampaign/duplicate", post(duplicates))
        .route("/v1/customcampaign/keepduplicate", post(keep_duplicates))
        .route("/v1/customcampaign/{id}", delete(remove))
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

/// POST /v1/customcampaign (CONTRACT §4): adds `listcontacts`, `listfilters` and a
/// `file` to a campaign, all or nothing; `data` names the contacts already in it.
async fn add(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let campaign = f.required_id("campaign", CampaignId::parse)?;
    // The source a reference client says the contacts come from; callsheet sets it per row.
    let kind = f.int("type")?;
    if let Some(t) = kind
        && !(1..=4).contains(&t)
    {
        return Err(ApiError::invalid("type must be between 1 and 4"));
    }
    let mut sources = super::sources::read(&input, &caller.account.region(), state.limits.listcontacts)?;
    let listed = f.get("listcontacts").is_some() || f.get("listfilters").is_some();
    if sources.file.is_none() && (kind == Some(3) || !listed) {
        // type 3 says a file comes; a request with nothing else must carry one too.
        if kind == Some(3) || !input.uploads.is_empty() || f.get("file").is_some() {
            input.required_file()?;
        }
        return Err(ApiError::missing("listcontacts, listfilters or file"));
    }
    let progress = background::wanted(&state, f.get("async"), sources.file.as_ref().map_or(0, |b| b.len()))?;
    sources.file_options.progress = progress.clone();
    if progress.is_some() {
        // An unknown or completed campaign is told at once, as is a sheet the
        // file lacks, not by a job that fails.
        let Some(found) = state.store.campaign(caller.account_id(), campaign.clone()).await? else {
            return Err(ApiError::campaign_not_found(&campaign));
        };
        let target = Target::Existing(campaign.clone());
        crate::intake::check_filters(&state.store, &caller.account, &target, &sources.filters).await?;
        crate::store::plan::open_for_adds(&found)?;
        if let Some(file) = &sources.file {
            super::sources::check_sheet(file, &sources.file_options, state.limits.import()).await?;
        }
    }
    let (store, limits, account, actor) =
        (state.store.clone(), state.limits.import(), caller.account.clone(), caller.key_sid.clone());
    let (metrics, target) = (state.metrics.clone(), Target::Existing(campaign.clone()));
    let work = async move {
        let (_, summary) = crate::intake::add(&store, limits, &account, &actor, target, sources).await?;
        metrics.rows_imported(summary.added);
        let data = skipped_marker(&summary.skipped_ids);
        Ok(json!({"r": 0, "msg": "Success", "data": data, "summary": summary}))
    };
    background::answer(&state, &caller, Some(campaign.to_string()), progress, work).await
}

/// The columns of an export: every field of a customer, its numbers in one cell.
/// The customer's own id is `customer_id`, so that the file imports again with
/// `crm_id` as the CRM id.
const EXPORT_COLUMNS: &[&str] = &[
    "customer_id",
    "crm_id",
    "name",
    "phones",
    "status",
    "type",
    "insert_time",
    "callback_time",
    "last_time_make_call",
    "number_call_out",
    "do_not_call",
];

/// Customers read from the store at once while exporting.
const EXPORT_BATCH: i64 = 5000;

/// GET /v1/customcampaign/export?campaign=&format=csv|xlsx&status=: every customer
/// of the campaign (of those statuses), by id, streamed.
async fn export(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let campaign = f.required_id("campaign", CampaignId::parse)?;
    let format = Format::parse(f.string("format")?.as_deref())?;
    let mut statuses = Vec::new();
    for v in f.list("status")?.unwrap_or_default().iter() {
        let text =
            scalar_text(v).ok_or_else(|| ApiError::invalid("status must be a status number or a list of them"))?;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let n = crate::domain::parse_integer::<i64>(part)
                .ok_or_else(|| ApiError::invalid(format!("status '{part}' is not a status number")))?;
            statuses.push(parse_status(n).map_err(ApiError::invalid)?);
        }
    }
    let (store, account) = (state.store.clone(), caller.account_id());
    let after = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let name = campaign.to_string();
    download::file(format, &name, EXPORT_COLUMNS, move || {
        let (store, account, campaign, statuses, after) =
            (store.clone(), account.clone(), campaign.clone(), statuses.clone(), after.clone());
        async move {
            use std::sync::atomic::Ordering::Relaxed;
            let rows = store.export_batch(account, campaign, statuses, after.load(Relaxed), EXPORT_BATCH).await?;
            if let Some(last) = rows.last() {
                after.store(last.id, Relaxed);
            }
            Ok(rows.into_iter().map(export_row).collect())
        }
    })
    .await
}

fn export_row(c: crate::domain::customer::Customer) -> Vec<Cell> {
    vec![
        Cell::Int(c.id),
        Cell::Text(c.crm_id),
        Cell::Text(c.name),
        Cell::Text(c.phones.join(", ")),
        Cell::Int(c.status),
        Cell::Int(c.source),
        Cell::Int(c.insert_time),
        Cell::Int(c.callback_time),
        Cell::Int(c.last_time_make_call),
        Cell::Int(c.number_call_out),
        Cell::Int(c.do_not_call),
    ]
}

/// POST /v1/customcampaign/add-by-phones (CONTRACT §4): each new phone becomes a
/// customer, of the CRM contact that holds it or of a new one.
async fn add_by_phones(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let campaign = match f.id("campaign_id", CampaignId::parse)? {
        Some(c) => c,
        // `campaign` is accepted too: a bad one is named; neither is r=2 for campaign_id.
        None => f.id("campaign", CampaignId::parse)?.ok_or_else(|| ApiError::missing("campaign_id"))?,
    };
    let raw = f.strings("phones")?.filter(|p| !p.is_empty()).ok_or_else(|| ApiError::missing("phones"))?;
    // The limit counts numbers, an entry holding several counting for each.
    let numbers = crate::intake::numbers(&raw).len();
    if numbers > state.limits.listcontacts {
        return Err(ApiError::too_large(format!(
            "phones has {numbers} entries; the limit is {}",
            state.limits.listcontacts
        )));
    }
    let summary = crate::intake::add_phones(&state.store, &caller.account, &caller.key_sid, campaign, &raw).await?;
    state.metrics.rows_imported(summary.added);
    Ok(ok(summary))
}

/// POST /v1/customcampaign/duplicate (CONTRACT §4): phones held by two or more customers.
async fn duplicates(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let campaign = input.fields().required_id("campaign", CampaignId::parse)?;
    let groups = state.store.duplicates(caller.account_id(), campaign).await?;
    // A large campaign's answer runs to megabytes: it is written off the request
    // threads, in the order of the reference's keys, and sent as it is written.
    Ok(download::json(move |out| Ok(serde_json::to_writer(out, &DuplicatesBody(&groups))?)))
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

/// POST /v1/customcampaign/keepduplicate (CONTRACT §4): for each phone, the named
/// customer keeps it and the campaign's other customers lose it; all pairs or none.
async fn keep_duplicates(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let campaign = f.required_id("campaign", CampaignId::parse)?;
    let read = keep_pairs(&f, &caller.account.region(), state.limits.listcontacts)?;
    // A key written as callsheet shows phones that reads otherwise here names the
    // stored phone its customer holds twice: the campaign's duplicates, read once.
    let groups = match read.iter().any(|(readings, _)| readings.len() > 1) {
        true => state.store.duplicates(caller.account_id(), campaign.clone()).await?,
        false => Vec::new(),
    };
    let holds = |phone: &str, id: CustomerId| {
        groups.iter().any(|g| g.phone == phone && g.customers.iter().any(|(c, _)| *c == id.0))
    };
    let mut seen = std::collections::HashSet::new();
    let mut pairs = Vec::with_capacity(read.len());
    for (readings, id) in read {
        let phone = phone::held_reading(readings, |p| holds(p, id));
        // Two keys that name one phone (`6591234567` and `+65 9123 4567`) are one key twice.
        if !seen.insert(phone.clone()) {
            return Err(ApiError::invalid(format!("listKeepCustomer: phone {phone} is named twice")));
        }
        pairs.push((phone, id));
    }
    let outcome = state.store.keep_duplicates(caller.account_id(), caller.key_sid.clone(), campaign, pairs).await?;
    Ok(ok(json!({"removed_phones": outcome.removed_phones, "removed_customers": outcome.removed_customers})))
}

/// `listKeepCustomer` in any of its forms: `{"phone": id, …}`, `[{"phone": id}, …]`,
/// `[{"phone": …, "id": …}, …]`, or any of them as JSON text.
fn keep_pairs(f: &Fields<'_>, region: &Region, limit: usize) -> ApiResult<Vec<(Vec<String>, CustomerId)>> {
    const FIELD: &str = "listKeepCustomer";
    let raw = match f.value(FIELD)? {
        None => return Err(ApiError::missing(FIELD)),
        Some(v) => v.into_owned(),
    };
    let mut raw_pairs: Vec<(String, Value)> = Vec::new();
    match raw {
        Value::Object(map) => raw_pairs.extend(map),
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                let Value::Object(map) = item else {
                    return Err(ApiError::invalid(format!("{FIELD} entries must be objects")));
                };
                match (map.get("phone"), map.get("id")) {
                    (Some(phone), Some(id)) => {
                        let phone = scalar_text(phone)
                            .ok_or_else(|| ApiError::invalid(format!("{FIELD}: phone must be a string")))?;
                        raw_pairs.push((phone, id.clone()));
                    }
                    // `{phone, id}` with one of them left out.
                    (Some(_), None) => return Err(ApiError::missing(&format!("{FIELD}[{i}].id"))),
                    (None, Some(_)) => return Err(ApiError::missing(&format!("{FIELD}[{i}].phone"))),
                    (None, None) => raw_pairs.extend(map),
                }
            }
        }
        _ => return Err(ApiError::invalid(format!("{FIELD} must be an object of phone: customer id"))),
    }
    if raw_pairs.is_empty() {
        return Err(ApiError::missing(FIELD));
    }
    if raw_pairs.len() > limit {
        return Err(ApiError::too_large(format!("{FIELD} has {} entries; the limit is {limit}", raw_pairs.len())));
    }
    let mut pairs: Vec<(Vec<String>, CustomerId)> = Vec::with_capacity(raw_pairs.len());
    let mut seen = std::collections::HashSet::new();
    for (phone_raw, id) in raw_pairs {
        let readings = phone::readings(&phone_raw, region);
        let phone = readings
            .first()
            .cloned()
            .ok_or_else(|| ApiError::invalid(format!("{FIELD}: '{phone_raw}' is not a valid phone number")))?;
        let id = match &id {
            Value::Number(n) => super::input::whole_number(n),
            Value::String(s) => crate::domain::parse_integer(s),
            _ => None,
        }
        .ok_or_else(|| ApiError::invalid(format!("{FIELD}: customer id for {phone_raw} must be an integer")))?;
        if !seen.insert(phone.clone()) {
            return Err(ApiError::invalid(format!("{FIELD}: phone {phone} is named twice")));
        }
        pairs.push((readings, CustomerId(id)));
    }
    Ok(pairs)
}

/// GET /v1/customcampaign (CONTRACT §4): the reference's list shape, `totalCount` as a string.
async fn list(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let p = f.page()?;
    let status = f.int("status")?.map(parse_status).transpose().map_err(ApiError::invalid)?;
    let mut readings = f.phone("phone", &caller.account.region())?;
    let phone = (!readings.is_empty()).then(|| readings.remove(0));
    // A blank name is no filter; one of no letters or digits matches nobody.
    let name = match f.string("name")? {
        Some(n) if !n.trim().is_empty() => Some(NameMatch::parse(&n).unwrap_or_else(NameMatch::nothing)),
        _ => None,
    };
    if name.as_ref().is_some_and(|n| n.words.len() > NameMatch::MAX_WORDS) {
        return Err(ApiError::invalid(format!("name may hold at most {} words", NameMatch::MAX_WORDS)));
    }
    let mut filter = CustomerFilter { campaign: f.id("campaign", CampaignId::parse)?, name, status, phone };
    // Identical lists asked at once share one read and one answer (see `coalesce`).
    let stored = readings.pop();
    let (store, account) = (&state.store, caller.account_id());
    let key = (account.clone(), filter.clone(), stored.clone(), p);
    let body = state
        .lists
        .read(key, move || async move {
            let mut found = store.customers(account.clone(), filter.clone(), p).await?;
            // A phone written as stored that reads otherwise here: the stored one, when only it is held.
            if found.total == 0
                && let Some(stored) = stored
            {
                filter.phone = Some(stored);
                found = store.customers(account, filter, p).await?;
            }
            Ok::<_, ApiError>(customer_page_body(found.rows, found.total, p.total_pages(found.total)))
        })
        .await?;
    Ok(json_body(body))
}

/// DELETE /v1/customcampaign/{id} (CONTRACT §4).
async fn remove(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    delete_customer(&state, &caller, id.customer()?).await
}

/// DELETE /v1/customcampaign with `{"id": 110}` (CONTRACT §4).
async fn remove_by_body(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let id = input.fields().int("id")?.ok_or_else(|| ApiError::missing("id"))?;
    delete_customer(&state, &caller, CustomerId(id)).await
}

async fn delete_customer(state: &AppState, caller: &Caller, id: CustomerId) -> ApiResult<Response> {
    if state.store.delete_customer(caller.account_id(), caller.key_sid.clone(), id).await? {
        Ok(done())
    } else {
        Err(ApiError::not_found(format!("customer {id} not found")))
    }
}
