//! CRM contacts (CONTRACT §5): create, get, update, delete, list.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::AppState;
use super::auth::Caller;
use super::campaign::page_of;
use super::customcampaign::{dropped_json, feed_store, file_upload};
use super::error::{ApiError, ApiResult, done, ok, ok_with, page};
use super::input::{Fields, Input, PathId, scalar_text};
use crate::domain::contact::ContactFields;

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
        portal: f.string("portal")?.filter(|p| !p.trim().is_empty()),
    };
    for list in ["systemField", "customField"] {
        let Some(entries) = f.list(list)? else {
            continue;
        };
        for (i, entry) in entries.iter().enumerate() {
            let at = format!("{}[{i}]", f.name(list));
            let entry = entry.as_object().ok_or_else(|| ApiError::invalid(format!("{at} must be an object")))?;
            let e = f.nested(entry, at.clone());
            let key = e.required_string("field_key")?;
            let value = e.get("field_value").cloned().unwrap_or(Value::Null);
            let text = || scalar_text(&value).unwrap_or_default();
            match (list, key.as_str()) {
                ("systemField", "name") => contact.name = Some(text()),
                ("systemField", "phone" | "phones" | "phone_number") => {
                    let phones = e.strings("field_value")?.unwrap_or_default();
                    contact.phones.get_or_insert_with(Vec::new).extend(phones);
                }
                ("systemField", "email") => contact.email = Some(text()),
                _ => {
                    contact.fields.get_or_insert_with(Map::new).insert(key, value);
                }
            }
        }
    }
    Ok(contact)
}

/// POST /v1/contact -> `id` (`CT` + 8) at top level and the contact in `data`.
async fn create(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let fields = contact_fields(&input.fields())?;
    let draft = fields.check(&caller.account.region()).map_err(ApiError::invalid)?;
    if draft.name.as_deref().unwrap_or("").is_empty() && draft.phones.as_deref().unwrap_or(&[]).is_empty() {
        return Err(ApiError::missing("name or phones"));
    }
    let contact = state.store.create_contact(&caller.account.id, draft).await?;
    let id = json!(contact.id);
    Ok(ok_with(json!(contact), &[("id", id)]))
}

/// GET /v1/contact/{id}.
async fn show(State(state): State<AppState>, caller: Caller, PathId(id): PathId) -> ApiResult<Response> {
    let contact = state.store.contact(&caller.account.id, &id).await?;
    contact.map(ok).ok_or_else(|| not_found(&id))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("contact '{id}' not found"))
}

/// PUT /v1/contact/{id}: the fields sent replace the stored ones (`phones` as a whole).
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    input: Input,
) -> ApiResult<Response> {
    let fields = contact_fields(&input.fields())?;
    let draft = fields.check(&caller.account.region()).map_err(ApiError::invalid)?;
    let contact = state.store.update_contact(&caller.account.id, &id, draft).await?;
    contact.map(ok).ok_or_else(|| not_found(&id))
}

/// DELETE /v1/contact/{id}. Campaign customers drawn from it stay in their campaigns.
async fn remove(State(state): State<AppState>, caller: Caller, PathId(id): PathId) -> ApiResult<Response> {
    if state.store.delete_contact(&caller.account.id, &id).await? { Ok(done()) } else { Err(not_found(&id)) }
}

/// GET /v1/contact?portal=&page=&limit= -> a page of the portal's contacts.
async fn list(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let f = input.fields();
    let p = page_of(&f)?;
    let portal = f.string("portal")?.filter(|p| !p.trim().is_empty());
    let portal = portal_of(&state, &caller.account.id, portal.as_deref()).await?;
    let query = match f.string("query")?.filter(|q| !q.trim().is_empty()) {
        Some(q) => Some(compile_query(&state, &q, &caller.account, &portal)?),
        None => None,
    };
    let found = state.store.contacts(&caller.account.id, &portal, query, p).await?;
    Ok(page(found.rows, found.total, p))
}

/// POST /v1/contact/import (multipart `file`, `portal`): every row becomes a CRM
/// contact of the portal, in one transaction; rows that cannot are reported.
async fn import(State(state): State<AppState>, caller: Caller, input: Input) -> ApiResult<Response> {
    let file = file_upload(&input)?.ok_or_else(|| ApiError::missing("file"))?;
    let portal = input.fields().string("portal")?.map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
    let (store, account_id) = (state.store.clone(), caller.account.id.clone());
    let (report, outcome) =
        feed_store(&state, &caller.account.region(), Vec::new(), Vec::new(), Some(file), move |rx| async move {
            store.import_contacts(&account_id, portal, rx).await
        })
        .await?;
    Ok(ok(json!({
        "total": report.rows,
        "added": outcome.added,
        "updated": outcome.updated,
        "invalid": report.invalid_count,
        "invalid_rows": report.invalid,
        "dropped_phones": dropped_json(&report.dropped),
    })))
}

/// Parses and compiles a filter query for the account; r=6 with the position on error.
pub fn compile_query(
    state: &AppState,
    query: &str,
    account: &crate::domain::account::Account,
    portal_id: &str,
) -> ApiResult<crate::query::sql::Compiled> {
    let node = crate::query::parse(query).map_err(ApiError::query)?;
    let scope = crate::query::sql::Scope { account_id: &account.id, portal_id };
    crate::query::sql::compile(&node, state.store.dialect(), scope, &account.region()).map_err(ApiError::query)
}

/// The portal a request names, or the account's default one; r=4 when it is not the account's.
pub async fn portal_of(state: &AppState, account_id: &str, portal: Option<&str>) -> ApiResult<String> {
    let found = state.store.portal(account_id, portal).await?;
    found.map(|p| p.id).ok_or_else(|| ApiError::not_found(format!("portal '{}' not found", portal.unwrap_or_default())))
}
