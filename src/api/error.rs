//! The envelope of CONTRACT §3 and the one error type that produces it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use std::sync::Arc;

use crate::import::ImportError;
use crate::intake::IntakeError;
use crate::store::StoreError;

/// The result codes of CONTRACT §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// r=1, HTTP 400: malformed body, wrong type, bad value.
    Invalid = 1,
    /// r=2, HTTP 400: a required field is missing.
    Missing = 2,
    /// r=3, HTTP 404: no such campaign in the caller's account.
    CampaignNotFound = 3,
    /// r=4, HTTP 404: no such customer, contact, filter, portal or route.
    NotFound = 4,
    /// r=5, HTTP 401: authentication failed.
    Auth = 5,
    /// r=6, HTTP 400: invalid filter query.
    Query = 6,
    /// r=7, HTTP 409: already exists.
    Conflict = 7,
    /// r=8, HTTP 422: unreadable file, no phone column, over the row limit.
    File = 8,
    /// r=9, HTTP 413: payload too large.
    TooLarge = 9,
    /// r=10, HTTP 500: internal error; the detail is only logged.
    Internal = 10,
}

impl Code {
    pub fn status(self) -> StatusCode {
        match self {
            Code::Invalid | Code::Missing | Code::Query => StatusCode::BAD_REQUEST,
            Code::CampaignNotFound | Code::NotFound => StatusCode::NOT_FOUND,
            Code::Auth => StatusCode::UNAUTHORIZED,
            Code::Conflict => StatusCode::CONFLICT,
            Code::File => StatusCode::UNPROCESSABLE_ENTITY,
            Code::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Every failure a handler can answer with. The message is shown to the client;
/// an internal failure's cause never is: it goes to the log, once, when the
/// response is made (inside the request's span: its route and request id).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: Code,
    pub msg: String,
    /// Overrides the code's usual HTTP status.
    pub status: Option<StatusCode>,
    /// What went wrong inside, for the log.
    pub cause: Option<Arc<anyhow::Error>>,
}

impl PartialEq for ApiError {
    fn eq(&self, other: &Self) -> bool {
        (self.code, &self.msg, self.status) == (other.code, &other.msg, other.status)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The most characters of a message an error answer carries.
pub const MESSAGE_CHARS: usize = 1000;

impl ApiError {
    /// An error with its message, cut to [`MESSAGE_CHARS`] characters: a message
    /// that quotes a client's value must not send a 100 kB value back twice.
    pub fn new(code: Code, msg: impl Into<String>) -> ApiError {
        let mut msg = msg.into();
        let kept = crate::domain::text::first_chars(&msg, MESSAGE_CHARS).len();
        if kept < msg.len() {
            msg.truncate(kept);
            msg.push('…');
        }
        ApiError { code, msg, status: None, cause: None }
    }
    pub fn invalid(msg: impl Into<String>) -> ApiError {
        ApiError::new(Code::Invalid, msg)
    }
    pub fn missing(field: &str) -> ApiError {
        ApiError::new(Code::Missing, format!("missing {field}"))
    }
    pub fn campaign_not_found(id: &str) -> ApiError {
        ApiError::new(Code::CampaignNotFound, format!("campaign '{id}' not found"))
    }
    pub fn not_found(msg: impl Into<String>) -> ApiError {
        ApiError::new(Code::NotFound, msg)
    }
    pub fn auth(msg: impl Into<String>) -> ApiError {
        ApiError::new(Code::Auth, msg)
    }
    /// r=6: a filter query that does not parse or compile, with its position.
    pub fn query(e: crate::query::QueryError) -> ApiError {
        ApiError::new(Code::Query, format!("invalid query: {e}"))
    }
    pub fn too_large(msg: impl Into<String>) -> ApiError {
        ApiError::new(Code::TooLarge, msg)
    }
    /// An internal failure: the client sees only r=10; `cause` is logged with the request.
    pub fn internal(cause: impl Into<anyhow::Error>) -> ApiError {
        ApiError { cause: Some(Arc::new(cause.into())), ..ApiError::new(Code::Internal, "internal error") }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::Invalid(m) => ApiError::invalid(m),
            StoreError::Conflict(m) => ApiError::new(Code::Conflict, m),
            StoreError::Undone(_) => ApiError::new(
                Code::Conflict,
                "another request was writing the same rows at once; nothing was written: send it again",
            ),
            StoreError::CampaignNotFound(id) => ApiError::campaign_not_found(&id),
            StoreError::Query(e) => ApiError::query(e),
            StoreError::Aborted => ApiError::internal(anyhow::anyhow!("a feed ended without its producer's error")),
            StoreError::Internal(cause) => ApiError::internal(cause),
            StoreError::Migration(m) => ApiError::internal(anyhow::anyhow!(m)),
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Store(e) => e.into(),
            IntakeError::File(ImportError::File(msg)) => ApiError::new(Code::File, msg),
            IntakeError::File(ImportError::TooLarge(msg)) => ApiError::too_large(msg),
            IntakeError::File(ImportError::Option(msg)) => ApiError::invalid(msg),
            IntakeError::File(ImportError::Stopped) => {
                ApiError::internal(anyhow::anyhow!("an import stopped without its consumer's error"))
            }
        }
    }
}

/// What a failed request answered, kept on the response for the request log.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: Code,
    pub msg: String,
    pub cause: Option<Arc<anyhow::Error>>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or(self.code.status());
        let body = json!({"r": self.code as u8, "msg": self.msg, "message": self.msg});
        let mut response = (status, Json(body)).into_response();
        response.extensions_mut().insert(Failure { code: self.code, msg: self.msg, cause: self.cause });
        response
    }
}

/// `{"r":0,"msg":"Success","data":…}`.
pub fn ok(data: impl serde::Serialize) -> Response {
    Json(json!({"r": 0, "msg": "Success", "data": data})).into_response()
}

/// `{"r":0,"msg":"Success"}` with no data, for deletes.
pub fn done() -> Response {
    Json(json!({"r": 0, "msg": "Success"})).into_response()
}

/// A list page as the management API answers it: `data.rows`, `totalCount`, `totalPages`.
pub fn page<T: serde::Serialize>(rows: Vec<T>, total: i64, page: crate::domain::page::Page) -> Response {
    ok(json!({"rows": rows, "totalCount": total, "totalPages": page.total_pages(total)}))
}

/// One page of a list read whole (short lists: a customer's history, the callable-hours
/// sets, an agent's running campaigns).
pub fn page_of<T: serde::Serialize>(all: Vec<T>, p: crate::domain::page::Page) -> Response {
    let total = all.len() as i64;
    let rows: Vec<T> = all.into_iter().skip(p.offset() as usize).take(p.limit as usize).collect();
    page(rows, total, p)
}

/// Adds top-level keys beside `r`, `msg` and `data` (the reference repeats some ids there).
pub fn ok_with(data: Value, extra: &[(&str, Value)]) -> Response {
    let mut body = json!({"r": 0, "msg": "Success", "data": data});
    for (k, v) in extra {
        body[*k] = v.clone();
    }
    Json(body).into_response()
}

/// The reference's customer list (`GET /v1/customcampaign`, `findcustomermanager`):
/// the rows under `resFromPccApi.data`, `totalCount` as a string.
///
/// Serialized straight from the rows, not through `serde_json::Value`: a list page
/// is the most requested answer. Keys come in sorted order, as everywhere else.
pub fn customer_page(rows: Vec<crate::domain::customer::Customer>, total: i64, total_pages: i64) -> Response {
    json_body(customer_page_body(rows, total, total_pages))
}

/// The JSON text of [`customer_page`], to be sent as it is (by [`json_body`]) once or more.
pub fn customer_page_body(rows: Vec<crate::domain::customer::Customer>, total: i64, total_pages: i64) -> bytes::Bytes {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        message: &'a str,
        msg: &'a str,
        r: u8,
        #[serde(rename = "resFromPccApi")]
        res: Res,
    }
    #[derive(serde::Serialize)]
    struct Res {
        data: Data,
    }
    #[derive(serde::Serialize)]
    struct Data {
        rows: Vec<crate::domain::customer::Customer>,
        #[serde(rename = "totalCount")]
        total_count: String,
        #[serde(rename = "totalPages")]
        total_pages: i64,
    }
    let said = "Call API success";
    let data = Data { rows, total_count: total.to_string(), total_pages };
    let body = Body { message: said, msg: said, r: 0, res: Res { data } };
    serde_json::to_vec(&body).expect("a page serializes").into()
}

/// An answer the store kept as JSON text, sent as it was (a result sent again).
pub fn stored_json(body: String) -> Response {
    json_body(body.into())
}

/// JSON text sent as it is.
pub fn json_body(body: bytes::Bytes) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A whole answer built by the handler (the reference's own shapes).
pub fn ok_json(body: Value) -> Response {
    Json(body).into_response()
}
