//! Authentication as the reference API (CONTRACT §2): a REST token in the
//! X-STRINGEE-AUTH header or the access_token query parameter.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::domain::account::Account;
use crate::domain::ids::{AccountId, KeySid};
use crate::domain::now_secs;
use crate::domain::token::{self, TokenError};

pub const HEADER: &str = "X-STRINGEE-AUTH";

/// The authenticated account behind a request. Every handler that takes it scopes
/// all its reads and writes to this account.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: Account,
    /// The API key the request's token was signed with: the actor its history names.
    pub key_sid: String,
}

impl Caller {
    /// The account every store call of the request is scoped to.
    pub fn account_id(&self) -> AccountId {
        self.account.account_id()
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let raw = token_of(parts).ok_or_else(|| refuse(TokenError::Missing))?;
        let unverified = token::decode(&raw).map_err(refuse)?;
        let unknown = || refuse(TokenError::UnknownKey(unverified.issuer.clone()));
        let sid = KeySid::parse(&unverified.issuer).map_err(|_| unknown())?;
        let key = state.store.key(sid).await?.ok_or_else(unknown)?;
        if key.revoked {
            return Err(refuse(TokenError::RevokedKey(key.sid)));
        }
        unverified.verify(&key.secret, now_secs()).map_err(refuse)?;
        let account = state
            .store
            .account(AccountId::trusted(key.account_id.clone()))
            .await?
            .ok_or_else(|| refuse(TokenError::UnknownKey(key.sid.clone())))?;
        Ok(Caller { account, key_sid: key.sid })
    }
}

fn refuse(e: TokenError) -> ApiError {
    ApiError::auth(format!("authentication failed: {e}"))
}

/// The header wins over the query parameter; an empty value counts as none.
fn token_of(parts: &Parts) -> Option<String> {
    if let Some(value) = parts.headers.get(HEADER) {
        let value = String::from_utf8_lossy(value.as_bytes()).trim().to_string();
        return (!value.is_empty()).then_some(value);
    }
    let query = parts.uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}
