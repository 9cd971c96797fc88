//! Authentication as the reference API (CONTRACT §2): a REST token in the
//! X-STRINGEE-AUTH header or the access_token query parameter.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::account::{Account, ApiKey};
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

/// What authentication remembers between requests. API keys with their accounts,
/// as read from the store within the last second and trusted only while the
/// store's keys version (`Store::keys_version`) has not moved since: a key revoked
/// (by the CLI, in another process) stops working at once. And tokens whose signature and
/// claims were checked, with their key and expiry: a client's next request with the
/// same token costs no decoding, signature or database read. Unknown keys and bad
/// tokens are never kept, so forged ones cannot fill it.
#[derive(Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<String, (Instant, u64, ApiKey, Account)>>,
    tokens: Mutex<HashMap<String, (String, i64)>>,
}

/// How long a key read from the store is trusted.
const KEY_FRESH: Duration = Duration::from_secs(1);
/// Keys, and tokens, kept at most; past that each map starts again.
const KEPT: usize = 10_000;

impl KeyCache {
    fn key(&self, sid: &str, version: u64) -> Option<(ApiKey, Account)> {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.get(sid)
            .filter(|(at, read_at, _, _)| *read_at == version && at.elapsed() < KEY_FRESH)
            .map(|(_, _, k, a)| (k.clone(), a.clone()))
    }

    fn put_key(&self, key: ApiKey, account: Account, version: u64) {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= KEPT {
            keys.clear();
        }
        keys.insert(key.sid.clone(), (Instant::now(), version, key, account));
    }

    fn token(&self, raw: &str) -> Option<(String, i64)> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).get(raw).cloned()
    }

    fn put_token(&self, raw: String, sid: String, exp: i64) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if tokens.len() >= KEPT {
            tokens.clear();
        }
        tokens.insert(raw, (sid, exp));
    }
}

/// The key a token names, with its account, from the cache or the store.
async fn key_of(state: &AppState, sid: &str) -> Result<(ApiKey, Account), ApiError> {
    // Read before the key: a change after this read moves the version past it.
    let version = state.store.keys_version().await?;
    if let Some(found) = state.keys.key(sid, version) {
        return Ok(found);
    }
    // A sid is 32 characters: more of a forged iss is not worth repeating back.
    let shown = crate::domain::text::shortened(sid, 40);
    let unknown = || refuse(TokenError::UnknownKey(shown.to_string()));
    let parsed = KeySid::parse(sid).map_err(|_| unknown())?;
    let key = state.store.key(parsed).await?.ok_or_else(unknown)?;
    let account = state
        .store
        .account(AccountId::trusted(key.account_id.clone()))
        .await?
        .ok_or_else(|| refuse(TokenError::UnknownKey(key.sid.clone())))?;
    state.keys.put_key(key.clone(), account.clone(), version);
    Ok((key, account))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let raw = token_of(parts).ok_or_else(|| refuse(TokenError::Missing))?;
        let now = now_secs();
        if let Some((sid, exp)) = state.keys.token(&raw) {
            let (key, account) = key_of(state, &sid).await?;
            if key.revoked {
                return Err(refuse(TokenError::RevokedKey(key.sid)));
            }
            if now > exp.saturating_add(token::LEEWAY_SECS) {
                return Err(refuse(TokenError::Expired(exp)));
            }
            return Ok(Caller { account, key_sid: key.sid });
        }
        let unverified = token::decode(&raw).map_err(refuse)?;
        let (key, account) = key_of(state, &unverified.issuer).await?;
        if key.revoked {
            return Err(refuse(TokenError::RevokedKey(key.sid)));
        }
        let exp = unverified.verify(&key.secret, now).map_err(refuse)?;
        state.keys.put_token(raw.clone(), key.sid.clone(), exp);
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
        if !value.is_empty() {
            return Some(value);
        }
    }
    let query = parts.uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}
