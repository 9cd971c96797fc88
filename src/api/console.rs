//! The supervisor console: one page, embedded in the binary, served at `/`. It signs
//! requests itself (WebCrypto HMAC over the key's secret, which stays in the tab) and
//! speaks only the public API.

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

const PAGE: &str = include_str!("console.html");

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(console))
}

async fn console() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page runs its own script and talks to this origin only.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; \
                 connect-src 'self'; frame-ancestors 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        PAGE,
    )
        .into_response()
}
