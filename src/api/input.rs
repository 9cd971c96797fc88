//! Request input in every encoding a reference client may send (CONTRACT §4):
//! query string, JSON, urlencoded and multipart bodies, PHP-style bracket fields,
//! JSON text inside form fields, and numbers sent as strings.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use super::AppState;
use super::error::{ApiError, ApiResult};

/// A file part of a multipart body.
#[derive(Debug)]
pub struct Upload {
    pub field: String,
    pub filename: String,
    pub bytes: Bytes,
}

/// Everything a request carried, merged: the query string first, then the body.
#[derive(Debug, Default)]
pub struct Input {
    pub map: Map<String, Value>,
    pub uploads: Vec<Upload>,
}

impl FromRequest<AppState> for Input {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> ApiResult<Input> {
        let mut input = Input::default();
        let mut query = Map::new();
        if let Some(q) = req.uri().query() {
            insert_pairs(&mut query, form_urlencoded::parse(q.as_bytes()));
        }
        let content_type =
            req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let multipart = Multipart::from_request(req, state)
                .await
                .map_err(|e| ApiError::invalid(format!("malformed multipart body: {}", e.body_text())))?;
            read_multipart(multipart, &mut input, state.limits.upload_bytes).await?;
        } else {
            let bytes = Bytes::from_request(req, state).await.map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    too_large(state.limits.upload_bytes)
                } else {
                    ApiError::invalid(format!("could not read the request body: {}", e.body_text()))
                }
            })?;
            if content_type.starts_with("application/x-www-form-urlencoded") {
                insert_pairs(&mut input.map, form_urlencoded::parse(&bytes));
            } else if !bytes.iter().all(u8::is_ascii_whitespace) {
                merge_json(&mut input.map, &bytes)?;
            }
        }
        // Body fields win over query-string fields of the same name.
        query.append(&mut input.map);
        input.map = query;
        normalize_arrays(&mut input.map);
        Ok(input)
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::too_large(format!("payload too large: the limit is {}", human_size(limit)))
}

/// `104857600` -> "100 MiB"; sizes that are not whole MiB stay in bytes.
pub fn human_size(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) { format!("{} MiB", bytes / MIB) } else { format!("{bytes} bytes") }
}

fn merge_json(map: &mut Map<String, Value>, bytes: &[u8]) -> ApiResult<()> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(body)) => {
            map.extend(body);
            Ok(())
        }
        Ok(_) => Err(ApiError::invalid("malformed JSON body: expected an object")),
        Err(e) => Err(ApiError::invalid(format!("malformed JSON body: {e}"))),
    }
}

async fn read_multipart(mut multipart: Multipart, input: &mut Input, limit: usize) -> ApiResult<()> {
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Ok(()),
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_large(limit));
            }
            Err(e) => {
                return Err(ApiError::invalid(format!("malformed multipart body: {}", e.body_text())));
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                too_large(limit)
            } else {
                ApiError::invalid(format!("malformed multipart field '{name}': {}", e.body_text()))
            }
        })?;
        match filename {
            Some(filename) => input.uploads.push(Upload { field: name, filename, bytes }),
            None => {
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| ApiError::invalid(format!("multipart field '{name}' is not UTF-8 text")))?;
                insert_pairs(&mut input.map, [(name.into(), text.into())]);
            }
        }
    }
}

/// Inserts `key=value` pairs, reading PHP-style brackets: `a[0][phones][]=x`.
fn insert_pairs<'a>(
    map: &mut Map<String, Value>,
    pairs: impl IntoIterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
) {
    for (key, value) in pairs {
        let path = bracket_path(&key);
        insert_at(map, &path, Value::String(value.into_owned()));
    }
}

/// Deepest bracket path read from a form key; a deeper key is taken whole, as text.
const MAX_BRACKETS: usize = 16;

/// `a[b][]` -> `["a", "b", ""]`; a key whose brackets do not close is taken whole.
fn bracket_path(key: &str) -> Vec<&str> {
    let Some(open) = key.find('[') else {
        return vec![key];
    };
    if open == 0 {
        return vec![key];
    }
    let mut path = vec![&key[..open]];
    let mut rest = &key[open..];
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return vec![key];
        };
        path.push(&inner[..close]);
        rest = &inner[close + 1..];
    }
    if !rest.is_empty() || path.len() > MAX_BRACKETS + 1 {
        return vec![key];
    }
    path
}

fn insert_at(map: &mut Map<String, Value>, path: &[&str], value: Value) {
    let (first, rest) = match path.split_first() {
        Some(split) => split,
        None => return,
    };
    // `[]` appends: the next free numeric index.
    let key = if first.is_empty() { map.len().to_string() } else { first.to_string() };
    if rest.is_empty() {
        match map.get_mut(&key) {
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
        return;
    }
    let slot = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(inner) = slot {
        insert_at(inner, rest, value);
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
}

impl Input {
    pub fn fields(&self) -> Fields<'_> {
        Fields { map: &self.map, path: String::new() }
    }
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>, path: impl Into<String>) -> Fields<'a> {
        Fields { map, path: path.into() }
    }

    /// The field's name as the client sees it, e.g. `listcontacts[2].phones`.
    pub fn name(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_string() } else { format!("{}.{key}", self.path) }
    }

    /// The raw value; `null` counts as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// The first present of several names for one field.
    pub fn get_any(&self, keys: &[&str]) -> Option<(&'a Value, String)> {
        keys.iter().find_map(|k| self.get(k).map(|v| (v, k.to_string())))
    }

    /// A string; numbers are taken as their text.
    pub fn string(&self, key: &str) -> ApiResult<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => scalar_text(v).map(Some).ok_or_else(|| self.wrong_type(key, "a string")),
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
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Ok(Some(i)),
                None => n
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| Some(f as i64))
                    .ok_or_else(|| self.wrong_type(key, "an integer")),
            },
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s.trim().parse::<i64>().map(Some).map_err(|_| self.wrong_type(key, "an integer")),
            Some(_) => Err(self.wrong_type(key, "an integer")),
        }
    }

    /// A list: a JSON array, a JSON array sent as text, bracket fields, or one scalar.
    pub fn list(&self, key: &str) -> ApiResult<Option<Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items.clone())),
            Some(Value::String(s)) if s.trim_start().starts_with('[') => match serde_json::from_str(s) {
                Ok(Value::Array(items)) => Ok(Some(items)),
                _ => Err(ApiError::invalid(format!("{} is not a valid JSON array", self.name(key)))),
            },
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(v @ (Value::String(_) | Value::Number(_))) => Ok(Some(vec![v.clone()])),
            Some(_) => Err(self.wrong_type(key, "a list")),
        }
    }

    /// An object: a JSON object, or one sent as text, or bracket fields.
    pub fn object(&self, key: &str) -> ApiResult<Option<Map<String, Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => match serde_json::from_str(s) {
                Ok(Value::Object(m)) => Ok(Some(m)),
                _ => Err(ApiError::invalid(format!("{} is not a valid JSON object", self.name(key)))),
            },
            Some(_) => Err(self.wrong_type(key, "an object")),
        }
    }

    /// A list of strings (numbers taken as their text), e.g. phones.
    pub fn strings(&self, key: &str) -> ApiResult<Option<Vec<String>>> {
        let Some(items) = self.list(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .enumerate()
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

/// A string or a number as text; other JSON values are not text.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(query: &str) -> Value {
        let mut map = Map::new();
        insert_pairs(&mut map, form_urlencoded::parse(query.as_bytes()));
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
    fn phone_keyed_objects_stay_objects() {
        let v = parse("listKeepCustomer[84368646891]=17674&listKeepCustomer[84346608877]=17659");
        assert_eq!(v, json!({"listKeepCustomer": {"84368646891": "17674", "84346608877": "17659"}}));
    }

    #[test]
    fn deep_bracket_keys_are_taken_whole() {
        let deep = format!("a{}", "[x]".repeat(100_000));
        let v = parse(&format!("{deep}=1"));
        assert_eq!(v[&deep], "1");
    }

    #[test]
    fn odd_keys_are_taken_whole() {
        assert_eq!(parse("a[b=1&[x]=2&c[d]e=3"), json!({"a[b": "1", "[x]": "2", "c[d]e": "3"}));
    }

    #[test]
    fn lenient_reads() {
        let map = json!({"n": "12", "f": 3.0, "bad": "x", "list": "[1, \"2\"]", "one": "0901"});
        let f = Fields::new(map.as_object().unwrap(), "");
        assert_eq!(f.int("n").unwrap(), Some(12));
        assert_eq!(f.int("f").unwrap(), Some(3));
        assert_eq!(f.int("bad").unwrap_err().msg, "bad must be an integer");
        assert_eq!(f.strings("list").unwrap().unwrap(), ["1", "2"]);
        assert_eq!(f.strings("one").unwrap().unwrap(), ["0901"]);
        assert_eq!(f.required_string("missing").unwrap_err().msg, "missing missing");
    }
}
