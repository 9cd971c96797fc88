//! Request input in every encoding a reference client may send (CONTRACT §4):
//! query string, JSON, urlencoded and multipart bodies, PHP-style bracket fields,
//! JSON text inside form fields, and numbers sent as strings.

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use super::AppState;
use super::error::{ApiError, ApiResult};
use crate::config::Limits;
use crate::domain::phone::Region;

/// A file part of a multipart body.
#[derive(Debug)]
pub struct Upload {
    pub field: String,
    pub filename: String,
    pub bytes: Bytes,
}

/// What an object costs against the budget: a map allocates a node of room for
/// eleven entries as soon as it holds one.
const OBJECT_UNITS: usize = 10;
/// What a multipart part costs: its headers are read and kept while it is read.
const PART_UNITS: usize = 8;

/// What reading one request may cost, checked while it is read: memory follows these
/// limits, never the size of a hostile body.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Bytes of a JSON or urlencoded body, and of a multipart body's text fields together.
    pub text_bytes: usize,
    /// Entries of any one list (`listcontacts`, `phones`, ...).
    pub list_entries: usize,
    /// Values one reading may build, in units of about 64 bytes: a string, number or
    /// list entry is one, an object [`OBJECT_UNITS`], a multipart part [`PART_UNITS`].
    pub values: usize,
}

impl Bounds {
    pub fn of(limits: &Limits) -> Bounds {
        Bounds {
            text_bytes: limits.json_bytes.min(limits.upload_bytes),
            list_entries: limits.listcontacts,
            // A listcontacts entry costs about 20 units (an object, its keys, values and
            // phones): room for every entry the limit allows, in any encoding, and for
            // everything else a request holds.
            values: limits.listcontacts.saturating_mul(32).saturating_add(65_536),
        }
    }
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds::of(&Limits::default())
    }
}

/// Everything a request carried, merged: the query string first, then the body.
#[derive(Debug, Default)]
pub struct Input {
    pub map: Map<String, Value>,
    pub uploads: Vec<Upload>,
    pub bounds: Bounds,
}

impl FromRequest<AppState> for Input {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> ApiResult<Input> {
        let bounds = Bounds::of(&state.limits);
        let mut input = Input { bounds, ..Input::default() };
        let mut budget = Budget::new(bounds);
        let mut query = Map::new();
        if let Some(q) = req.uri().query() {
            insert_pairs(&mut query, utf8_pairs(q.as_bytes(), "query parameter"), &mut budget)?;
        }
        let content_type =
            req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if content_type.starts_with("multipart/form-data") {
            // Refused before a byte is read when the client says how large it is.
            if declared.is_some_and(|n| n > state.limits.upload_bytes as u64) {
                return Err(too_large(state.limits.upload_bytes));
            }
            // A request with no body at all (a GET that names the reference's content
            // type on every request, chunked or not) has no fields, whatever its type says.
            if let Some(req) = with_body(req).await? {
                let multipart = Multipart::from_request(req, state)
                    .await
                    .map_err(|e| ApiError::invalid(format!("malformed multipart body: {}", e.body_text())))?;
                let room = declared.map_or(0, |n| n.min(state.limits.upload_bytes as u64) as usize);
                read_multipart(multipart, &mut input, (state.limits.upload_bytes, room), &mut budget).await?;
            }
        } else {
            if declared.is_some_and(|n| n > bounds.text_bytes as u64) {
                return Err(too_large(bounds.text_bytes));
            }
            let bytes = read_body(req.into_body(), bounds.text_bytes, state.limits.upload_bytes).await?;
            // A byte-order mark, as some Windows tools write before JSON, says nothing.
            let json = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
            // A JSON object labelled as a form, as PHP's curl sends a `json_encode`d body
            // by default, is read as the JSON it is (and refused as JSON when it is not):
            // no form field's name begins with `{`.
            let labelled_form = content_type.starts_with("application/x-www-form-urlencoded");
            let json_object = json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
            if labelled_form && !json_object {
                insert_pairs(&mut input.map, utf8_pairs(&bytes, "form field"), &mut budget)?;
            } else if !json.iter().all(u8::is_ascii_whitespace) {
                match parse_json(json, &mut budget, "body")? {
                    Value::Object(body) => input.map.extend(body),
                    _ => return Err(ApiError::invalid("malformed JSON body: expected an object")),
                }
            }
        }
        // Body fields win over query-string fields of the same name.
        query.append(&mut input.map);
        input.map = query;
        normalize_arrays(&mut input.map);
        refuse_nul(&input.map, "")?;
        Ok(input)
    }
}

/// The request, unless its body turns out to hold no byte: its first chunk is read
/// and put back in front of the rest.
async fn with_body(req: Request) -> ApiResult<Option<Request>> {
    use futures_util::StreamExt as _;
    let (parts, body) = req.into_parts();
    let mut chunks = body.into_data_stream();
    let first = loop {
        match chunks.next().await {
            None => return Ok(None),
            Some(Ok(chunk)) if chunk.is_empty() => continue,
            Some(Ok(chunk)) => break chunk,
            Some(Err(e)) => return Err(ApiError::invalid(format!("could not read the request body: {e}"))),
        }
    };
    let body = axum::body::Body::from_stream(futures_util::stream::iter([Ok(first)]).chain(chunks));
    Ok(Some(Request::from_parts(parts, body)))
}

/// Reads a whole body of at most `limit` bytes; r=9 as soon as it is longer. The
/// rest of a body that is too long, up to `drain` bytes in all, is read and thrown
/// away first, so that a client still sending it hears the answer rather than a
/// closed connection; nothing of it is kept.
async fn read_body(body: axum::body::Body, limit: usize, drain: usize) -> ApiResult<Bytes> {
    use futures_util::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid(format!("could not read the request body: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            let mut seen = bytes.len() + chunk.len();
            drop(bytes);
            while seen <= drain {
                match stream.next().await {
                    Some(Ok(chunk)) => seen += chunk.len(),
                    _ => break,
                }
            }
            return Err(too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(bytes))
}

/// The values one reading may still build, and why it stopped when it ran out.
struct Budget {
    bounds: Bounds,
    values_left: usize,
    /// The top-level field being read, to name it when one of its lists is too long.
    field: String,
    depth: usize,
    exceeded: Option<String>,
    /// Where the next `[]` of each bracket-built object goes (see [`insert_at`]).
    appends: Appends,
}

impl Budget {
    fn new(bounds: Bounds) -> Budget {
        Budget {
            bounds,
            values_left: bounds.values,
            field: String::new(),
            depth: 0,
            exceeded: None,
            appends: Appends::default(),
        }
    }

    /// Takes `n` values; false (with the reason kept) when there are not that many left.
    fn take(&mut self, n: usize) -> bool {
        if self.values_left < n {
            self.exceeded.get_or_insert_with(|| {
                format!("payload too large: the request holds more than {} values, the limit", self.bounds.values)
            });
            return false;
        }
        self.values_left -= n;
        true
    }

    fn check(&self) -> ApiResult<()> {
        match &self.exceeded {
            Some(msg) => Err(ApiError::too_large(msg.clone())),
            None => Ok(()),
        }
    }
}

/// Parses JSON into values within the budget: a list longer than the list limit, or
/// more values than the budget allows, stops the parse at once (r=9); anything else
/// that is not JSON is r=1. `what` names the text in messages ("body", a field).
fn parse_json(bytes: &[u8], budget: &mut Budget, what: &str) -> ApiResult<Value> {
    use serde::de::DeserializeSeed as _;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = BoundedValue(budget).deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    budget.check()?;
    parsed.map_err(|e| match what {
        "body" => ApiError::invalid(format!("malformed JSON body: {e}")),
        field => ApiError::invalid(format!("{field} is not valid JSON: {e}")),
    })
}

/// Builds a `serde_json::Value`, charging each value to the budget as it is read.
struct BoundedValue<'b>(&'b mut Budget);

impl<'de> serde::de::DeserializeSeed<'de> for BoundedValue<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! charged {
    ($budget:expr) => {
        if !$budget.take(1) {
            return Err(serde::de::Error::custom("over the limit"));
        }
    };
}

impl<'de> serde::de::Visitor<'de> for BoundedValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        charged!(self.0);
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        charged!(self.0);
        Ok(Value::from(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        charged!(self.0);
        Ok(Value::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        charged!(self.0);
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        charged!(self.0);
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        charged!(self.0);
        Ok(Value::String(v))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        charged!(self.0);
        Ok(Value::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::de::DeserializeSeed::deserialize(self, d)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        charged!(self.0);
        let budget = self.0;
        let mut items = Vec::new();
        budget.depth += 1;
        loop {
            if items.len() == budget.bounds.list_entries {
                // One more entry would be past the limit: look, without keeping it.
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    let limit = budget.bounds.list_entries;
                    let field = if budget.field.is_empty() { "a list" } else { budget.field.as_str() };
                    budget
                        .exceeded
                        .get_or_insert_with(|| format!("{field} has more than {limit} entries; the limit is {limit}"));
                    return Err(serde::de::Error::custom("over the limit"));
                }
                break;
            }
            match seq.next_element_seed(BoundedValue(budget))? {
                Some(v) => items.push(v),
                None => break,
            }
        }
        budget.depth -= 1;
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if !self.0.take(OBJECT_UNITS) {
            return Err(serde::de::Error::custom("over the limit"));
        }
        let budget = self.0;
        let mut object = Map::new();
        budget.depth += 1;
        while let Some(key) = map.next_key::<String>()? {
            charged!(budget);
            if budget.depth == 1 {
                budget.field.clone_from(&key);
            }
            // A name given twice says two things; which one was meant is not for
            // callsheet to guess (r=1, naming it).
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("field '{key}' is given twice")));
            }
            let value = map.next_value_seed(BoundedValue(budget))?;
            object.insert(key, value);
        }
        budget.depth -= 1;
        Ok(Value::Object(object))
    }
}

/// Refuses text no database can store: PostgreSQL refuses a NUL byte in text and in
/// JSON alike, so both backends refuse it here, naming the field, before any write.
fn refuse_nul(map: &Map<String, Value>, path: &str) -> ApiResult<()> {
    for (key, value) in map {
        let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        if key.contains('\0') {
            return Err(nul_in(&at));
        }
        refuse_nul_value(value, &at)?;
    }
    Ok(())
}

fn refuse_nul_value(value: &Value, at: &str) -> ApiResult<()> {
    match value {
        Value::String(s) if s.contains('\0') => Err(nul_in(at)),
        Value::Object(map) => refuse_nul(map, at),
        Value::Array(items) => {
            items.iter().enumerate().try_for_each(|(i, v)| refuse_nul_value(v, &format!("{at}[{i}]")))
        }
        _ => Ok(()),
    }
}

fn nul_in(field: &str) -> ApiError {
    ApiError::invalid(format!("{field} contains a NUL byte, which cannot be stored"))
}

/// An id from the request path, checked as any other text the request carries.
#[derive(Debug, Clone)]
pub struct PathId(pub String);

impl PathId {
    /// The id as the kind `parse` makes (r=1 with its reason when it is not one).
    pub fn parse<T>(&self, parse: impl FnOnce(&str) -> Result<T, String>) -> ApiResult<T> {
        parse(&self.0).map_err(ApiError::invalid)
    }

    /// The id as a customer's: r=1 when it is not an integer, r=4 when it is one
    /// too large to be any customer's.
    pub fn customer(&self) -> ApiResult<crate::domain::ids::CustomerId> {
        let text = self.0.trim();
        let digits = text.strip_prefix('-').unwrap_or(text);
        match crate::domain::ids::CustomerId::parse(&self.0) {
            Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                Err(ApiError::not_found(format!("customer {text} not found")))
            }
            parsed => parsed.map_err(ApiError::invalid),
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> ApiResult<PathId> {
        let axum::extract::Path(id) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::invalid(format!("the id in the path is not valid: {}", e.body_text())))?;
        if id.contains('\0') {
            return Err(nul_in("the id in the path"));
        }
        Ok(PathId(id))
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::too_large(format!("payload too large: the limit is {}", crate::domain::human_size(limit)))
}

/// Reads every part of a multipart body into `input`: file parts whole (the body
/// limit bounds them), text parts within the text budget, each charged as a value.
/// `sizes`: the upload limit, and the length the request declared (0 when it did
/// not), room enough for any file in it: a file is read into one buffer of that
/// room, not one that doubles as it fills (which held three times a large file at
/// its peak).
async fn read_multipart(
    mut multipart: Multipart,
    input: &mut Input,
    sizes: (usize, usize),
    budget: &mut Budget,
) -> ApiResult<()> {
    let (limit, room) = sizes;
    let read_error = |e: axum::extract::multipart::MultipartError, what: &str| match e.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => too_large(limit),
        // The body's bytes stopped coming (too slowly, or the connection broke): the
        // reason is the innermost error's, as for any other body.
        axum::http::StatusCode::INTERNAL_SERVER_ERROR => {
            let mut inner: &dyn std::error::Error = &e;
            while let Some(source) = inner.source() {
                inner = source;
            }
            ApiError::invalid(format!("could not read the request body: {inner}"))
        }
        _ => ApiError::invalid(format!("malformed multipart {what}: {}", e.body_text())),
    };
    let mut text_left = budget.bounds.text_bytes;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Ok(()),
            Err(e) => return Err(read_error(e, "body")),
        };
        if !budget.take(PART_UNITS) {
            budget.check()?;
        }
        // A name that is not UTF-8 is not lost as a nameless part: the request says it sent one.
        if field.name().is_none() && disposition_param(field.headers(), "name").is_some() {
            return Err(ApiError::invalid("a multipart field's name is not UTF-8 text"));
        }
        let name = field.name().unwrap_or_default().to_string();
        if let Some(filename) = upload_name(&name, field.file_name(), field.content_type(), field.headers()) {
            let mut bytes = Vec::with_capacity(room);
            while let Some(chunk) = field.chunk().await.map_err(|e| read_error(e, &format!("field '{name}'")))? {
                bytes.extend_from_slice(&chunk);
            }
            bytes.shrink_to_fit();
            input.uploads.push(Upload { field: name, filename, bytes: bytes.into() });
            continue;
        }
        let mut text = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| read_error(e, &format!("field '{name}'")))? {
            if chunk.len() > text_left {
                return Err(ApiError::too_large(format!(
                    "payload too large: the text fields of a request may hold {} in all, the limit",
                    crate::domain::human_size(budget.bounds.text_bytes)
                )));
            }
            text_left -= chunk.len();
            text.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(text)
            .map_err(|_| ApiError::invalid(format!("multipart field '{name}' is not UTF-8 text")))?;
        insert_pairs(&mut input.map, [Ok((name.into(), text.into()))], budget)?;
    }
}

/// The file name of a multipart part that is an upload, or `None` for a text field.
/// A part is an upload when it names a file (`filename=`, or only RFC 5987's
/// `filename*=UTF-8''…`), or, the part `file` without one, when its type is a
/// spreadsheet's or binary; but a part other than `file` that says it is JSON or text is a text field
/// whatever its name (a browser's `FormData` sends a JSON `Blob` as `filename=blob`).
fn upload_name(
    field: &str,
    filename: Option<&str>,
    content_type: Option<&str>,
    headers: &axum::http::HeaderMap,
) -> Option<String> {
    let kind = content_type.unwrap_or_default().to_ascii_lowercase();
    let textual = kind.starts_with("application/json") || kind.starts_with("text/plain");
    if field != "file" && textual {
        return None;
    }
    let extended = || {
        let disposition = headers.get(axum::http::header::CONTENT_DISPOSITION)?.to_str().ok()?;
        let value = disposition.split(';').map(str::trim).find_map(|p| p.strip_prefix("filename*="))?;
        let encoded = value.split_once("''").map_or(value, |(_, rest)| rest).trim_matches('"');
        Some(percent_encoding::percent_decode_str(encoded).decode_utf8_lossy().into_owned())
    };
    let file_types = [
        "application/vnd.openxmlformats",
        "application/vnd.ms-excel",
        "text/csv",
        "application/csv",
        "application/octet-stream",
        "application/zip",
    ];
    let binary = field == "file" && file_types.iter().any(|t| kind.starts_with(t));
    // A file name that is not UTF-8 still names a file.
    let raw = || disposition_param(headers, "filename").map(|n| String::from_utf8_lossy(&n).into_owned());
    filename.map(str::to_string).or_else(extended).or_else(raw).or_else(|| binary.then(|| field.to_string()))
}

/// The value of parameter `key` of a part's `Content-Disposition`, as its bytes
/// (quotes taken off), whatever their encoding.
fn disposition_param(headers: &axum::http::HeaderMap, key: &str) -> Option<Vec<u8>> {
    let disposition = headers.get(axum::http::header::CONTENT_DISPOSITION)?.as_bytes();
    disposition.split(|&b| b == b';').skip(1).find_map(|param| {
        let param = param.trim_ascii();
        let (name, value) = param.split_at(param.iter().position(|&b| b == b'=')?);
        name.trim_ascii().eq_ignore_ascii_case(key.as_bytes()).then(|| {
            let value = value[1..].trim_ascii();
            value.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")).unwrap_or(value).to_vec()
        })
    })
}

/// Inserts `key=value` pairs, reading PHP-style brackets: `a[0][phones][]=x`; each
/// pair is charged for the values its path builds.
/// Whether an object's keys are all numbers: a list's entries by position, not an entry.
fn indexed(m: &Map<String, Value>) -> bool {
    !m.is_empty() && m.keys().all(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
}

/// A phone given as a parameter, as it may be read (`phone::readings`); r 1 when it
/// is no phone either way.
pub fn phone_readings(raw: &str, region: &Region) -> ApiResult<Vec<String>> {
    let readings = crate::domain::phone::readings(raw, region);
    if readings.is_empty() {
        return Err(ApiError::invalid(format!("phone '{raw}' is not a valid phone number")));
    }
    Ok(readings)
}

/// An object keyed by numbers as the list of its values, by index.
fn by_index(m: &Map<String, Value>) -> Vec<Value> {
    let mut entries: Vec<(&str, &Value)> = m.iter().map(|(k, v)| (k.trim_start_matches('0'), v)).collect();
    entries.sort_by(|a, b| (a.0.len(), a.0).cmp(&(b.0.len(), b.0)));
    entries.into_iter().map(|(_, v)| v.clone()).collect()
}

/// The pairs of a urlencoded body or query string, decoded as `form_urlencoded`
/// decodes them (`+` a space, `%XX` a byte, empty pieces skipped), except that a key
/// or value whose bytes are not UTF-8 is refused (r=1, naming the field), as a
/// multipart field's is: read lossily, `%FF` would be stored as U+FFFD.
fn utf8_pairs<'e>(
    encoded: &'e [u8],
    what: &'e str,
) -> impl Iterator<Item = ApiResult<(Cow<'static, str>, Cow<'static, str>)>> + 'e {
    let decode = |raw: &[u8]| {
        let spaced: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
        String::from_utf8(percent_encoding::percent_decode(&spaced).collect()).map_err(|e| e.into_bytes())
    };
    encoded.split(|b| *b == b'&').filter(|pair| !pair.is_empty()).map(move |pair| {
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &pair[..0]),
        };
        match (decode(key), decode(value)) {
            (Ok(key), Ok(value)) => Ok((Cow::Owned(key), Cow::Owned(value))),
            (key, _) => {
                let name = key.unwrap_or_else(|bytes| String::from_utf8_lossy(&bytes).into_owned());
                Err(ApiError::invalid(format!("{what} '{name}' is not UTF-8 text")))
            }
        }
    })
}

/// Inserts the pairs one at a time as they are decoded, each charged to the budget
/// before the next is read: a body of many tiny pairs stops at the budget, never
/// holding more than it allows.
fn insert_pairs<'a>(
    map: &mut Map<String, Value>,
    pairs: impl IntoIterator<Item = ApiResult<(std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>>,
    budget: &mut Budget,
) -> ApiResult<()> {
    for pair in pairs {
        let (key, value) = pair?;
        let path = bracket_path(&key)?;
        let top = std::ptr::from_ref(map) as usize;
        let mut at = Place { top, path: String::new(), appends: &mut budget.appends };
        let created = insert_at(map, &path, Value::String(value.into_owned()), &mut at).map_err(|e| match e {
            Misfit::NoIndex(at) => {
                ApiError::invalid(format!("{}: [] after entry {at} has no index left to append at", path[0]))
            }
            Misfit::ValueAndBrackets => ApiError::invalid(format!(
                "{} arrives both as a value and as bracket fields ({}[…]): send it one way",
                path[0], path[0]
            )),
        })?;
        if !budget.take(path.len() + created * OBJECT_UNITS) {
            budget.check()?;
        }
    }
    Ok(())
}

/// Deepest bracket path read from a form key; a deeper one is refused (r 1).
const MAX_BRACKETS: usize = 16;

/// `a[b][]` -> `["a", "b", ""]`; a key whose brackets do not close is taken whole.
/// A key of more than [`MAX_BRACKETS`] brackets is refused, naming its field: taken
/// whole, it would name no field and its value be lost without a word.
fn bracket_path(key: &str) -> ApiResult<Vec<&str>> {
    let Some(open) = key.find('[') else {
        return Ok(vec![key]);
    };
    if open == 0 {
        return Ok(vec![key]);
    }
    let mut path = vec![&key[..open]];
    let mut rest = &key[open..];
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return Ok(vec![key]);
        };
        if path.len() > MAX_BRACKETS {
            return Err(ApiError::invalid(format!(
                "{}: bracket fields nest at most {MAX_BRACKETS} levels deep",
                path[0]
            )));
        }
        path.push(&inner[..close]);
        rest = &inner[close + 1..];
    }
    if !rest.is_empty() {
        return Ok(vec![key]);
    }
    Ok(path)
}

/// PHP's integer keys: `0`, or digits not led by 0, up to its largest index.
fn php_index(key: &str) -> Option<u64> {
    let canonical = key == "0" || (!key.is_empty() && !key.starts_with('0'));
    key.parse::<u64>().ok().filter(|n| canonical && *n <= i64::MAX as u64)
}

/// The index a `[]` appends at, as PHP reads it: one past the highest integer key
/// (`a[5]=x&a[]=y` puts y at 6, after x), 0 when there is none; past the largest
/// index PHP has, `i64::MAX + 1`, which no append may take.
fn next_index(map: &Map<String, Value>) -> u64 {
    map.keys().filter_map(|k| php_index(k)).max().map_or(0, |n| n + 1)
}

/// Of each bracket-built object, by its place (the top map and the path to it): how
/// many keys it had and the index of its next `[]`, as last written. An object that
/// holds as many keys as then has had nothing else inserted, so the index holds: a
/// request of a million `[]` pays for one scan, not one per pair.
type Appends = std::collections::HashMap<(usize, String), (usize, u64)>;

/// Where [`insert_at`] is: the top map, the path to this object, the appends known.
struct Place<'b> {
    top: usize,
    path: String,
    appends: &'b mut Appends,
}

/// Why a form pair does not fit the fields before it.
enum Misfit {
    /// A `[]` after an entry numbered past the largest index: that number's key.
    NoIndex(String),
    /// A field sent both as a value (`a=…`, JSON text say) and as bracket fields
    /// (`a[0]=…`): which one was meant cannot be told, and either order must answer
    /// the same.
    ValueAndBrackets,
}

/// Inserts `value` at `path`; returns how many objects it had to create on the way.
fn insert_at(map: &mut Map<String, Value>, path: &[&str], value: Value, at: &mut Place<'_>) -> Result<usize, Misfit> {
    let (first, rest) = match path.split_first() {
        Some(split) => split,
        None => return Ok(0),
    };
    let here = (at.top, std::mem::take(&mut at.path));
    let next = match at.appends.get(&here) {
        Some(&(len, next)) if len == map.len() => next,
        _ => next_index(map),
    };
    // `[]` appends: the next index.
    let (key, next) = if first.is_empty() {
        if next > i64::MAX as u64 {
            return Err(Misfit::NoIndex(i64::MAX.to_string()));
        }
        (next.to_string(), next + 1)
    } else {
        (first.to_string(), php_index(first).map_or(next, |k| next.max(k + 1)))
    };
    if !rest.is_empty() {
        at.path = format!("{}{}:{key}", here.1, key.len());
    }
    let known = map.len() + usize::from(!map.contains_key(&key));
    at.appends.insert(here, (known, next));
    if rest.is_empty() {
        match map.get_mut(&key) {
            Some(Value::Object(_)) => return Err(Misfit::ValueAndBrackets),
            // A plain key sent twice becomes a list of both values.
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let old = existing.take();
                *existing = Value::Array(vec![old, value]);
            }
            None => {
                map.insert(key, value);
            }
        }
        return Ok(0);
    }
    let mut created = 0;
    let slot = map.entry(key).or_insert_with(|| {
        created += 1;
        Value::Object(Map::new())
    });
    if !slot.is_object() {
        return Err(Misfit::ValueAndBrackets);
    }
    match slot {
        Value::Object(inner) => Ok(created + insert_at(inner, rest, value, at)?),
        _ => Ok(created),
    }
}

/// Turns objects built from brackets whose keys are exactly 0..n into arrays.
fn normalize_arrays(map: &mut Map<String, Value>) {
    for value in map.values_mut() {
        normalize_value(value);
    }
}

fn normalize_value(value: &mut Value) {
    match value {
        Value::Object(inner) => {
            normalize_arrays(inner);
            let sequential = !inner.is_empty()
                && (0..inner.len()).all(|i| inner.contains_key(&i.to_string()))
                && inner.keys().all(|k| k == "0" || !k.starts_with('0'));
            if sequential {
                let mut inner = std::mem::take(inner);
                let items = (0..inner.len()).map(|i| inner.remove(&i.to_string()).unwrap_or(Value::Null)).collect();
                *value = Value::Array(items);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_value),
        _ => {}
    }
}

/// Typed, lenient reads of one object's fields; errors name the field by its path.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
    bounds: Bounds,
}

impl Input {
    pub fn fields(&self) -> Fields<'_> {
        Fields { map: &self.map, path: String::new(), bounds: self.bounds }
    }

    /// The `file` part of a multipart body, if any; one at most.
    pub fn file(&self) -> ApiResult<Option<Bytes>> {
        let mut files = self.uploads.iter().filter(|u| u.field == "file");
        let file = files.next().map(|u| u.bytes.clone());
        if files.next().is_some() {
            return Err(ApiError::invalid("send one file per request"));
        }
        Ok(file)
    }

    /// The `file` part, which this request must carry: r 2 naming the field when it
    /// is missing, came under another name, or came as text rather than a file.
    pub fn required_file(&self) -> ApiResult<Bytes> {
        if let Some(file) = self.file()? {
            return Ok(file);
        }
        let msg = if self.fields().get("file").is_some() {
            "missing file: 'file' came as a text field; send it as a file upload (curl -F file=@leads.xlsx)".to_string()
        } else if let Some(other) = self.uploads.first() {
            format!("missing file: the upload came as the field '{}'; send it as 'file'", other.field)
        } else {
            "missing file".to_string()
        };
        Err(ApiError::new(super::error::Code::Missing, msg))
    }
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>, path: impl Into<String>, bounds: Bounds) -> Fields<'a> {
        Fields { map, path: path.into(), bounds }
    }

    /// The fields of an object inside this one, at `path`.
    pub fn nested<'b>(&self, map: &'b Map<String, Value>, path: impl Into<String>) -> Fields<'b> {
        Fields { map, path: path.into(), bounds: self.bounds }
    }

    /// JSON sent as the text of a form field, read within the same bounds as a body;
    /// `None` when the text is not JSON.
    fn json_text(&self, key: &str, text: &str) -> ApiResult<Option<Value>> {
        let mut budget = Budget::new(self.bounds);
        budget.field = self.name(key);
        budget.depth = 1;
        let value = match parse_json(text.as_bytes(), &mut budget, &self.name(key)) {
            Ok(value) => value,
            Err(e) if e.code == super::error::Code::Invalid => return Ok(None),
            Err(e) => return Err(e),
        };
        refuse_nul_value(&value, &self.name(key))?;
        Ok(Some(value))
    }

    /// The field's name as the client sees it, e.g. `listcontacts[2].phones`.
    pub fn name(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_string() } else { format!("{}.{key}", self.path) }
    }

    /// The raw value; `null` counts as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A phone given as a parameter, as it may be read (`phone::readings`); empty when
    /// the field is absent or blank, r 1 naming it when it is no phone either way.
    pub fn phone(&self, key: &str, region: &Region) -> ApiResult<Vec<String>> {
        match self.string(key)?.filter(|p| !p.trim().is_empty()) {
            Some(raw) => phone_readings(&raw, region),
            None => Ok(Vec::new()),
        }
    }

    /// Whether the field was sent as JSON `null` (which `get` reads as absent).
    pub fn sent_null(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(Value::is_null)
    }

    /// The first present of several names for one field.
    pub fn get_any(&self, keys: &[&str]) -> Option<(&'a Value, String)> {
        keys.iter().find_map(|k| self.get(k).map(|v| (v, k.to_string())))
    }

    /// A string; numbers are taken as their text.
    pub fn string(&self, key: &str) -> ApiResult<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            // A form or multipart field sent twice arrives as a list.
            Some(Value::Array(_)) => Err(self.wrong_type(key, "one string, not a list (a field sent twice is a list)")),
            Some(v) => scalar_text(v).map(Some).ok_or_else(|| self.wrong_type(key, "a string")),
        }
    }

    /// An identifier: a string, or a JSON integer taken as its digits; a number with a
    /// fraction or past what JSON numbers hold exactly (2^53) is r 1, as its digits
    /// may be lost already.
    pub fn id_text(&self, key: &str) -> ApiResult<Option<String>> {
        match self.get(key) {
            Some(Value::Number(n)) if n.is_f64() => match whole_number(n) {
                Some(i) => Ok(Some(i.to_string())),
                None => Err(self.wrong_type(key, "a string or an integer (send a long number as a string)")),
            },
            _ => self.string(key),
        }
    }

    /// A non-empty string, or r=2 naming the field.
    pub fn required_string(&self, key: &str) -> ApiResult<String> {
        match self.string(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            _ => Err(ApiError::missing(&self.name(key))),
        }
    }

    /// An integer, sent as a number or as a string of digits; "" counts as absent.
    pub fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => whole_number(n).map(Some).ok_or_else(|| self.wrong_type(key, "an integer")),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => {
                crate::domain::parse_integer(s).map(Some).ok_or_else(|| self.wrong_type(key, "an integer"))
            }
            Some(Value::Array(_)) => {
                Err(self.wrong_type(key, "one integer, not a list (a field sent twice is a list)"))
            }
            Some(_) => Err(self.wrong_type(key, "an integer")),
        }
    }

    /// A list: a JSON array, a JSON array sent as text, bracket fields, or one scalar.
    pub fn list(&self, key: &str) -> ApiResult<Option<Cow<'a, [Value]>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(Cow::Borrowed(items.as_slice()))),
            Some(Value::String(s)) if s.trim_start().starts_with('[') => match self.json_text(key, s)? {
                Some(Value::Array(items)) => Ok(Some(Cow::Owned(items))),
                _ => Err(ApiError::invalid(format!("{} is not a valid JSON array", self.name(key)))),
            },
            // One entry, as a JSON object or its text, is a list of one. An object keyed by
            // numbers is a list whose indexes have gaps or start at 1, as PHP writes an
            // array after `array_filter` or `unset` (`list[1][id]=…`, or `json_encode`'s
            // `{"1":…,"3":…}`): its entries in the order of their indexes.
            Some(Value::String(s)) if s.trim_start().starts_with('{') => match self.json_text(key, s)? {
                Some(Value::Object(m)) => self.entries(key, &m).map(|list| Some(Cow::Owned(list))),
                _ => Err(ApiError::invalid(format!("{} is not a valid JSON array", self.name(key)))),
            },
            Some(Value::Object(m)) => self.entries(key, m).map(|list| Some(Cow::Owned(list))),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(v @ (Value::String(_) | Value::Number(_))) => Ok(Some(Cow::Owned(vec![v.clone()]))),
            Some(_) => Err(self.wrong_type(key, "a list")),
        }
    }

    /// A list of objects (`listcontacts`, `windows`…), read as [`Fields::list`]; one
    /// value that is neither an object nor JSON text is r 1 naming the field, not
    /// its entry 0.
    pub fn objects(&self, key: &str) -> ApiResult<Option<Cow<'a, [Value]>>> {
        let scalar = match self.get(key) {
            Some(Value::String(s)) => !matches!(s.trim_start().bytes().next(), None | Some(b'[' | b'{')),
            Some(Value::Number(_)) => true,
            _ => false,
        };
        if scalar {
            return Err(ApiError::invalid(format!("{} must be a list of objects", self.name(key))));
        }
        self.list(key)
    }

    /// An object where a list is expected: its entries by index when it is keyed by
    /// numbers, else one entry; r 1 when numbered entries and named fields are mixed
    /// (`list[1][id]=A&list[id]=B`), which no reading keeps whole.
    fn entries(&self, key: &str, m: &Map<String, Value>) -> ApiResult<Vec<Value>> {
        if indexed(m) {
            return Ok(by_index(m));
        }
        if m.keys().any(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit())) {
            return Err(ApiError::invalid(format!(
                "{} mixes numbered entries and named fields: send a list, or number every entry",
                self.name(key)
            )));
        }
        Ok(vec![Value::Object(m.clone())])
    }

    /// An object: a JSON object, or one sent as text, or bracket fields.
    pub fn object(&self, key: &str) -> ApiResult<Option<Map<String, Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => match self.json_text(key, s)? {
                Some(Value::Object(m)) => Ok(Some(m)),
                _ => Err(ApiError::invalid(format!("{} is not a valid JSON object", self.name(key)))),
            },
            Some(_) => Err(self.wrong_type(key, "an object")),
        }
    }

    /// Any JSON value, reading JSON sent as text (an object or a list) as such.
    pub fn value(&self, key: &str) -> ApiResult<Option<Cow<'a, Value>>> {
        match self.get(key) {
            Some(Value::String(s)) if matches!(s.trim_start().as_bytes().first(), Some(b'[' | b'{')) => {
                match self.json_text(key, s)? {
                    Some(v) => Ok(Some(Cow::Owned(v))),
                    None => Err(ApiError::invalid(format!("{} is not valid JSON", self.name(key)))),
                }
            }
            Some(v) => Ok(Some(Cow::Borrowed(v))),
            None => Ok(None),
        }
    }

    /// `page` and `limit` (CONTRACT §4): page from 1, limit 1 to 1000, default 10.
    /// A page number too large for an integer is a page past every list: empty.
    pub fn page(&self) -> ApiResult<crate::domain::page::Page> {
        crate::domain::page::Page::parse(self.page_number()?, self.int_or_huge("limit")?).map_err(ApiError::invalid)
    }

    /// `page` alone, a number too large for an integer read as the largest.
    pub fn page_number(&self) -> ApiResult<Option<i64>> {
        self.int_or_huge("page")
    }

    /// An integer, where a whole number too large for one (`99999999999999999999`,
    /// `1e30`, as text or as a JSON number) is the largest (the smallest when
    /// negative), which a page or a limit then judges as any other out of its range.
    pub fn int_or_huge(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.int(key) {
            Err(_) if self.string(key).ok().flatten().is_some_and(|s| huge_whole_number(&s)) => Ok(Some(i64::MAX)),
            Err(_)
                if let Some(Value::Number(n)) = self.get(key)
                    && let Some(f) = n.as_f64().filter(|f| f.is_finite() && f.fract() == 0.0) =>
            {
                Ok(Some(if f < 0.0 { i64::MIN } else { i64::MAX }))
            }
            n => n,
        }
    }

    /// An id of one kind, when the field is present and not blank.
    pub fn id<T>(&self, key: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> ApiResult<Option<T>> {
        match self.string(key)?.filter(|s| !s.trim().is_empty()) {
            Some(text) => parse(&text).map(Some).map_err(|e| ApiError::invalid(format!("{}: {e}", self.name(key)))),
            None => Ok(None),
        }
    }

    /// An id of one kind the request must carry (r=2 naming the field).
    pub fn required_id<T>(&self, key: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> ApiResult<T> {
        self.id(key, parse)?.ok_or_else(|| ApiError::missing(&self.name(key)))
    }

    /// The ids of a list field (`agent[]`, `group[]`, a JSON list, or one id).
    pub fn ids<T>(&self, key: &str, parse: impl Fn(&str) -> Result<T, String>) -> ApiResult<Vec<T>> {
        self.strings(key)?
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.trim().is_empty())
            .map(|(i, s)| parse(s).map_err(|e| ApiError::invalid(format!("{}[{i}]: {e}", self.name(key)))))
            .collect()
    }

    /// A filter query, parsed (r=6 with the position when it does not parse).
    pub fn query(&self, key: &str, region: &Region) -> ApiResult<Option<crate::query::Query>> {
        match self.string(key)?.filter(|q| !q.trim().is_empty()) {
            Some(text) => crate::query::Query::parse(&text, region).map(Some).map_err(ApiError::query),
            None => Ok(None),
        }
    }

    /// A list of strings (numbers taken as their text), e.g. phones. One text that
    /// starts like JSON but is none (`[0912] 345 678`, a phone with its area code in
    /// brackets) is that one string.
    pub fn strings(&self, key: &str) -> ApiResult<Option<Vec<String>>> {
        if let Some(Value::String(s)) = self.get(key)
            && matches!(s.trim_start().bytes().next(), Some(b'[' | b'{'))
            && self.json_text(key, s)?.is_none()
        {
            return Ok(Some(vec![s.clone()]));
        }
        // Named bracket fields (`agent[x]=…`) or a JSON object: no list of strings.
        if let Some(Value::Object(m)) = self.get(key)
            && !m.is_empty()
            && !indexed(m)
        {
            return Err(self.wrong_type(key, "a list of strings, not an object"));
        }
        let Some(items) = self.list(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_null())
            .map(|(i, v)| {
                scalar_text(v).ok_or_else(|| ApiError::invalid(format!("{}[{i}] must be a string", self.name(key))))
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(Some)
    }

    fn wrong_type(&self, key: &str, what: &str) -> ApiError {
        ApiError::invalid(format!("{} must be {what}", self.name(key)))
    }
}

/// A JSON number that is a whole number JSON holds exactly (`21`, `21.0`).
pub fn whole_number(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
}

/// A string or a number as text; other JSON values are not text. A whole number is
/// its digits however it was written (`1e3` is "1000", `-0` is "0").
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(whole_number(n).map_or_else(|| n.to_string(), |i| i.to_string())),
        _ => None,
    }
}

/// Digits (after an optional `+`) too many for an integer.
fn huge_whole_number(s: &str) -> bool {
    let digits = s.trim().strip_prefix('+').unwrap_or(s.trim());
    digits.len() > 18 && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(query: &str) -> Value {
        let mut map = Map::new();
        let pairs = form_urlencoded::parse(query.as_bytes()).map(Ok);
        insert_pairs(&mut map, pairs, &mut Budget::new(Bounds::default())).unwrap();
        normalize_arrays(&mut map);
        Value::Object(map)
    }

    #[test]
    fn php_brackets_build_lists_and_objects() {
        let v = parse(
            "campaign=CA1&listcontacts[0][id]=CT1&listcontacts[0][phones][]=0901&listcontacts[0][phones][]=0902\
             &listcontacts[1][id]=CT2",
        );
        assert_eq!(
            v,
            json!({"campaign": "CA1", "listcontacts": [
                {"id": "CT1", "phones": ["0901", "0902"]}, {"id": "CT2"}]})
        );
    }

    #[test]
    fn an_append_after_numbered_entries_goes_after_the_highest_as_php_reads_it() {
        let v = parse("a[5][id]=x&a[][id]=y&a[2][id]=z&a[][id]=w&b[]=1&b[]=2");
        assert_eq!(
            v,
            json!({"a": {"5": {"id": "x"}, "6": {"id": "y"}, "2": {"id": "z"}, "7": {"id": "w"}}, "b": ["1", "2"]})
        );
        let Value::Object(a) = &v["a"] else { panic!("{v}") };
        assert_eq!(by_index(a), vec![json!({"id": "z"}), json!({"id": "x"}), json!({"id": "y"}), json!({"id": "w"})]);
        // Appends keep counting across pairs read in separate calls (multipart parts),
        // after numbers sent in between.
        let mut map = Map::new();
        let mut budget = Budget::new(Bounds::default());
        for part in ["a[]=1&a[10]=2", "a[]=3", "a[4]=4&a[]=5", "a[13][]=6&a[13][]=7"] {
            let pairs = form_urlencoded::parse(part.as_bytes()).map(Ok);
            insert_pairs(&mut map, pairs, &mut budget).unwrap();
        }
        // a[11] holds text: brackets under it are refused, not made an object over it.
        let pairs = form_urlencoded::parse(b"a[11][]=8").map(Ok);
        let refused = insert_pairs(&mut map, pairs, &mut budget).unwrap_err();
        assert_eq!(refused.msg, "a arrives both as a value and as bracket fields (a[…]): send it one way");
        assert_eq!(
            Value::Object(map),
            json!({"a": {"0": "1", "10": "2", "11": "3", "13": {"0": "6", "1": "7"}, "4": "4", "12": "5"}})
        );
        // Keys that are not PHP's integers do not move the next index.
        assert_eq!(parse("c[x]=1&c[05]=2&c[]=3"), json!({"c": {"x": "1", "05": "2", "0": "3"}}));
        let mut map = Map::new();
        let last = format!("d[{}]=1&d[]=2", i64::MAX);
        let pairs = form_urlencoded::parse(last.as_bytes()).map(Ok);
        let refused = insert_pairs(&mut map, pairs, &mut Budget::new(Bounds::default())).unwrap_err();
        assert!(refused.msg.contains("no index left"), "{}", refused.msg);
    }

    #[test]
    fn phone_keyed_objects_stay_objects() {
        let v = parse("listKeepCustomer[84368646891]=17674&listKeepCustomer[84346608877]=17659");
        assert_eq!(v, json!({"listKeepCustomer": {"84368646891": "17674", "84346608877": "17659"}}));
    }

    #[test]
    fn deep_bracket_keys_are_refused_naming_their_field() {
        let refused = |levels: usize| {
            let mut map = Map::new();
            let key = format!("a{}", "[x]".repeat(levels));
            let pairs = [Ok((Cow::Owned(key), Cow::Borrowed("1")))];
            insert_pairs(&mut map, pairs, &mut Budget::new(Bounds::default())).err().map(|e| e.msg)
        };
        assert_eq!(refused(16), None);
        for levels in [17, 100_000] {
            assert_eq!(refused(levels).as_deref(), Some("a: bracket fields nest at most 16 levels deep"));
        }
        // A key whose brackets do not close is a plain name.
        let v = parse("a[x][y=1");
        assert_eq!(v["a[x][y"], "1");
    }

    #[test]
    fn urlencoded_bytes_that_are_not_utf8_are_refused_naming_the_field() {
        let valid: &[u8] = b"name=L%C3%AAn+%E1%BB%8Bp&x=%&y=%4&z&&k=a+b%20c%2";
        let pairs: Vec<_> = utf8_pairs(valid, "form field").collect::<ApiResult<_>>().unwrap();
        // Valid text decodes as form_urlencoded decodes it.
        assert_eq!(pairs, form_urlencoded::parse(valid).collect::<Vec<_>>());
        assert_eq!(pairs.last().unwrap().1, "a b c%2");
        let e = utf8_pairs(b"ok=1&name=%FF", "form field").collect::<ApiResult<Vec<_>>>().unwrap_err();
        assert_eq!(e.msg, "form field 'name' is not UTF-8 text");
        assert!(utf8_pairs(b"%C3=1", "query parameter").any(|p| p.is_err()));
    }

    #[test]
    fn odd_keys_are_taken_whole() {
        assert_eq!(parse("a[b=1&[x]=2&c[d]e=3"), json!({"a[b": "1", "[x]": "2", "c[d]e": "3"}));
    }

    #[test]
    fn lenient_reads() {
        let map = json!({"n": "12", "f": 3.0, "bad": "x", "list": "[1, \"2\"]", "one": "0901"});
        let f = Fields::new(map.as_object().unwrap(), "", Bounds::default());
        assert_eq!(f.int("n").unwrap(), Some(12));
        assert_eq!(f.int("f").unwrap(), Some(3));
        assert_eq!(f.int("bad").unwrap_err().msg, "bad must be an integer");
        assert_eq!(f.strings("list").unwrap().unwrap(), ["1", "2"]);
        assert_eq!(f.strings("one").unwrap().unwrap(), ["0901"]);
        assert_eq!(f.required_string("missing").unwrap_err().msg, "missing missing");
    }

    #[test]
    fn one_entry_is_a_list_of_one_and_an_object_by_position_a_list_by_index() {
        let map = json!({
            "entry": {"id": "CT1", "phones": ["0901"]},
            "text": "{\"id\": \"CT2\"}",
            "by_position": {"10": {"id": "CT10"}, "2": {"id": "CT2"}, "1": {"id": "CT1"}},
            "by_position_text": "{\"3\": {\"id\": \"CT3\"}, \"01\": {\"id\": \"CT1\"}}",
        });
        let f = Fields::new(map.as_object().unwrap(), "", Bounds::default());
        assert_eq!(f.list("entry").unwrap().unwrap().len(), 1);
        assert_eq!(f.list("text").unwrap().unwrap()[0]["id"], "CT2");
        let ids = |key| f.list(key).unwrap().unwrap().iter().map(|e| e["id"].clone()).collect::<Vec<_>>();
        assert_eq!(ids("by_position"), [json!("CT1"), json!("CT2"), json!("CT10")]);
        assert_eq!(ids("by_position_text"), [json!("CT1"), json!("CT3")]);
    }
}
