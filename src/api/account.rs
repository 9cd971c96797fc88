//! GET /v1/account: the account a token signs in to, so a client can tell whose data
//! it sees and which country its phone numbers default to.

use axum::Router;
use axum::response::Response;
use axum::routing::get;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, ok};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/account", get(show))
}

/// `{"id","name","region","created"}`.
async fn show(caller: Caller) -> ApiResult<Response> {
    Ok(ok(caller.account))
}
