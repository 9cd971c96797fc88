//! The envelope of CONTRACT §3 and the one error type that produces it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

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
/// internal details never are.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: Code,
    pub msg: String,
    /// Overrides the code's usual HTTP status (405 for a wrong method).
    pub status: Option<StatusCode>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: Code, msg: impl Into<String>) -> ApiError {
        ApiError { code, msg: msg.into(), status: None }
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
    /// An internal failure: `detail` goes to the log, the client sees only r=10.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "internal error");
        ApiError::new(Code::Internal, "internal error")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::Invalid(m) => ApiError::invalid(m),
            StoreError::Conflict(m) => ApiError::new(Code::Conflict, m),
            StoreError::CampaignNotFound(id) => ApiError::campaign_not_found(&id),
            StoreError::Aborted => ApiError::internal("a feed ended without its producer's error"),
            StoreError::Internal(m) | StoreError::Migration(m) => ApiError::internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or(self.code.status());
        let body = json!({"r": self.code as u8, "msg": self.msg, "message": self.msg});
        (status, Json(body)).into_response()
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

/// Adds top-level keys beside `r`, `msg` and `data` (the reference repeats some ids there).
pub fn ok_with(data: Value, extra: &[(&str, Value)]) -> Response {
    let mut body = json!({"r": 0, "msg": "Success", "data": data});
    for (k, v) in extra {
        body[*k] = v.clone();
    }
    Json(body).into_response()
}
