//! Reading what a request asks to add (CONTRACT §4, POST /v1/customcampaign and
//! POST /v1/campaign): `listcontacts`, `listfilters` and `file`, checked whole
//! before anything is written, as the intake takes them.

use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};
use super::input::{Fields, Input};
use crate::domain::customer::{InvalidRow, NewCustomer, Repeats, Source};
use crate::domain::ids::{FilterId, PortalId};
use crate::domain::phone::{self, Region};
use crate::import::FileOptions;
use crate::intake::Sources;
use crate::store::FilterSource;

/// Reads the sources of an add. A malformed entry fails the request; an entry whose
/// every phone is impossible, or that repeats an earlier one, is reported.
pub fn read(input: &Input, region: &Region, max_entries: usize) -> ApiResult<Sources> {
    let f = input.fields();
    let mut sources = Sources::default();
    if let Some(entries) = f.objects("listcontacts")? {
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
                    Some(reason) => {
                        sources.repeated += 1;
                        sources.invalid.push(InvalidRow { row: new.row, id: new.crm_id, reason })
                    }
                    None => sources.contacts.push(new),
                },
                Err(row) => sources.invalid.push(row),
            }
        }
    }
    for (i, entry) in f.objects("listfilters")?.unwrap_or_default().iter().enumerate() {
        let at = format!("{}[{i}]", f.name("listfilters"));
        let map = entry.as_object().ok_or_else(|| ApiError::invalid(format!("{at} must be an object")))?;
        let e = f.nested(map, at.clone());
        let portal = e.id("portal", PortalId::parse)?;
        // A query as sent wins; the id then only names where it came from.
        let source = match (e.query("query", region)?, e.id("id", FilterId::parse)?) {
            (Some(query), _) => FilterSource::Query { query, portal },
            (None, Some(id)) => FilterSource::Saved { id, portal, region: region.clone() },
            (None, None) => return Err(ApiError::missing(&format!("{at}.query or id"))),
        };
        sources.filters.push((i as i64, source));
    }
    sources.file = input.file()?;
    sources.file_options = file_options(&f)?;
    Ok(sources)
}

/// One `listcontacts` entry: `{id, name, phones[]}`.
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
    let crm_id = e.id_text("id")?.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    // An empty name is a missing one: the CRM contact's is taken (CONTRACT §4).
    let name = e.string("name")?.filter(|n| !n.trim().is_empty());
    let cells = e.strings("phones")?.unwrap_or_default();
    let parsed = phone::parse_cells(cells.iter().map(String::as_str), region);
    let row = i as i64;
    // An entry names a CRM contact; entries never make one (CONTRACT §4).
    if crm_id.is_none() {
        let reason = "no id: a listcontacts entry names its CRM contact by id".to_string();
        return Ok(Err(InvalidRow { row, id: None, reason }));
    }
    if let Some(reason) = crm_id.as_deref().and_then(crate::domain::ids::crm_id_problem) {
        return Ok(Err(InvalidRow { row, id: crm_id, reason }));
    }
    if parsed.valid.is_empty() && !parsed.invalid.is_empty() {
        let reason = format!("no valid phone: {}", parsed.bad_cells.join(", "));
        return Ok(Err(InvalidRow { row, id: crm_id, reason }));
    }
    if let Some(reason) = parsed.too_many() {
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

/// The `sheet` and `header_row` options of an upload.
pub fn file_options(f: &Fields<'_>) -> ApiResult<FileOptions> {
    let sheet = match f.get("sheet") {
        None => None,
        Some(v) => Some(
            super::input::scalar_text(v)
                .ok_or_else(|| ApiError::invalid("sheet must be a sheet's name or position"))?,
        ),
    };
    let sheet = sheet.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let header_row = f.int("header_row")?;
    if let Some(h) = header_row
        && h < 1
    {
        return Err(ApiError::invalid("header_row must be a row number, from 1"));
    }
    Ok(FileOptions { sheet, header_row, ..Default::default() })
}

/// Refuses at once (r 1) a `sheet` the uploaded file lacks, before an upload run
/// in the background is accepted: otherwise the job would take it and fail.
pub async fn check_sheet(
    file: &bytes::Bytes,
    options: &FileOptions,
    limits: crate::import::ImportLimits,
) -> ApiResult<()> {
    if options.sheet.is_none() {
        return Ok(());
    }
    let (file, options) = (file.clone(), options.clone());
    let checked = tokio::task::spawn_blocking(move || crate::import::check_sheet(&file, &limits, &options))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("checking the sheet option: {e}")))?;
    match checked {
        Err(crate::import::ImportError::Option(msg)) => Err(ApiError::invalid(msg)),
        _ => Ok(()),
    }
}
