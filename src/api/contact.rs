//! CRM contacts (CONTRACT §5): create, get, update, delete, list.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, done, ok, ok_with, page};
use super::input::{Fields, Input, PathId, scalar_text};
use crate::domain::contact::ContactFields;
use crate::domain::ids::{ContactId, PortalId};
use crate::store::ContactSearch;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/contact", get(list).post(create))
        .route("/v1/contact/{id}", get(show).put(update).delete(remove))
        .route("/v1/contact/import", axum::routing::post(import))
}

/// Reads a contact in callsheet's form (`name`, `phones`, `email`, `fields`, `portal`)
/// or StringeeX's (`systemField`/`customField`: `[{field_key, field_value}]`).
fn contact_fields(f: &Fields<'_>) -> ApiResult<ContactFields> {
    let mut contact = ContactFields {
        name: f.string("name")?,
        phones: match f.get("phones") {
            Some(_) => f.strings("phones")?,
            None => f.strings("phone")?,
        },
        email: f.string("email")?,
        fields: f.object("fields")?,
        portal: f.id("portal", PortalId::parse)?.map(PortalId::into_string),
    };
    for list in ["systemField", "customField"] {
        let Some(entries) = f.objects(list)? else {
            continue;
        };
        for (i, entry) in entries.iter().enumerate() {
            let at = format!("{}[{i}]", f.name(list));
            let entry = entry.as_object().ok_or_else(|| ApiError::invalid(format!("{at} must be an object")))?;
            let e = f.nested(entry, at.clone());
            let key = e.required_string("field_key")?;
            let value = e.get("field_value").cloned().unwrap_or(Value::Null);
            // A name or email is text (a number is read as its digits), never an
            // object or a list.
            let text = || match &value {
                Value::Null => Ok(String::new()),
                v => scalar_text(v)
                    .ok_or_else(|| ApiError::invalid(format!("{at}.field_value must be a string for '{key}'"))),
            };
            match (list, key.as_str()) {
                ("systemField", "name") => contact.name = Some(text()?),
                ("systemField", "phone" | "phones" | "phone_number") => {
                    let phones = e.strings("field_value")?.unwrap_or_default();
                    contact.phones.get_or_insert_with(Vec::new).extend(phones);
                }
                ("systemField", "email") => contact.email = Some(text()?),
                _ => {
                    contact.fields.get_or_insert_with(Map::new).insert(key, value);
                }
            }
        }
    }
    Ok(contact)
}

/// POST /v1/contact (CONTRACT §5) -> `id` (`CT` + 8) at top level and the contact in `data`.
async fn create(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let fields = contact_fields(&input.fields())?;
    let draft = fields.check(&caller.account.region()).map_err(ApiError::invalid)?;
    if draft.name.as_deref().unwrap_or("").is_empty() && draft.phones.as_deref().unwrap_or(&[]).is_empty() {
        return Err(match draft.dropped_phones.first() {
            Some(bad) => {
                ApiError::invalid(format!("phones: '{bad}' is not a valid phone number, and there is no name"))
            }
            None => ApiError::missing("name or phones"),
        });
    }
    let dropped = draft.dropped_phones.clone();
    let contact = state.store.create_contact(caller.account_id(), draft).await?;
    let id = json!(contact.id);
    Ok(ok_with(json!(contact), &with_dropped(vec![("id", id)], dropped)))
}

/// GET /v1/contact/{id} (CONTRACT §5).
async fn show(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let id = id.parse(ContactId::parse)?;
    let contact = state.store.contact(caller.account_id(), id.clone()).await?;
    contact.map(ok).ok_or_else(|| not_found(&id))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("contact '{id}' not found"))
}

/// PUT /v1/contact/{id} (CONTRACT §5): the fields sent replace the stored ones (`phones` as a whole).
async fn update(State(state): State<AppState>, caller: Caller, id: PathId, input: Input) -> ApiResult<Response> {
    let id = id.parse(ContactId::parse)?;
    let fields = contact_fields(&input.fields())?;
    let draft = fields.check(&caller.account.region()).map_err(ApiError::invalid)?;
    // Replacing every phone with numbers that are all impossible would wipe the
    // contact's phones by a typo: refused; `[]` removes them on purpose.
    if let (Some([]), Some(bad)) = (draft.phones.as_deref(), draft.dropped_phones.first()) {
        return Err(ApiError::invalid(format!("phones: '{bad}' is not a valid phone number")));
    }
    let dropped = draft.dropped_phones.clone();
    let contact = state.store.update_contact(caller.account_id(), id.clone(), draft).await?;
    let contact = contact.ok_or_else(|| not_found(&id))?;
    Ok(ok_with(json!(contact), &with_dropped(Vec::new(), dropped)))
}

/// The answer's extra keys, with `dropped_phones` when numbers were dropped (CONTRACT §6).
fn with_dropped(mut extra: Vec<(&'static str, Value)>, dropped: Vec<String>) -> Vec<(&'static str, Value)> {
    if !dropped.is_empty() {
        extra.push(("dropped_phones", json!(dropped)));
    }
    extra
}

/// DELETE /v1/contact/{id} (CONTRACT §5). Campaign customers drawn from it stay in their campaigns.
async fn remove(State(state): State<AppState>, caller: Caller, id: PathId) -> ApiResult<Response> {
    let id = id.parse(ContactId::parse)?;
    if state.store.delete_contact(caller.account_id(), id.clone()).await? { Ok(done()) } else { Err(not_found(&id)) }
}

/// GET /v1/contact?portal=&query=&page=&limit= (CONTRACT §5, §7): a page of the
/// portal's contacts (the default portal's without `portal`), those the query
/// matches when one is given.
async fn list(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let p = f.page()?;
    let portal = f.id("portal", PortalId::parse)?;
    let search = match f.query("query", &caller.account.region())? {
        Some(query) => ContactSearch::Query { portal, query },
        None => ContactSearch::Portal(portal),
    };
    let found = state.store.contacts(caller.account_id(), search, p).await?;
    Ok(page(found.rows, found.total, p))
}

/// POST /v1/contact/import (CONTRACT §5; multipart `file`, `portal`): every row
/// becomes a CRM contact of the portal, all or nothing; rows that cannot are reported.
async fn import(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let file = input.required_file()?;
    let f = input.fields();
    let portal = f.id("portal", PortalId::parse)?;
    let mut options = super::sources::file_options(&f)?;
    let progress = super::background::wanted(&state, f.get("async"), file.len())?;
    if progress.is_some() {
        super::sources::check_sheet(&file, &options, state.limits.import()).await?;
    }
    options.progress = progress.clone();
    let (store, limits, account, metrics) =
        (state.store.clone(), state.limits.import(), caller.account.clone(), state.metrics.clone());
    let work = async move {
        let summary = crate::intake::import_contacts(&store, limits, &account, portal, file, options).await?;
        metrics.rows_imported(summary.added + summary.updated);
        Ok(json!({"r": 0, "msg": "Success", "data": summary}))
    };
    super::background::answer(&state, &caller, None, progress, work).await
}
