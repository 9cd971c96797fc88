//! Accounts (tenants), their portals and API keys.

use serde::Serialize;

use super::phone::Region;

/// A tenant. Everything callsheet stores belongs to exactly one account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    /// Default country for phone numbers written without `+`.
    pub region: String,
    pub created: i64,
}

impl Account {
    /// The account's id, as the store takes it.
    pub fn account_id(&self) -> super::ids::AccountId {
        super::ids::AccountId::trusted(self.id.clone())
    }

    pub fn region(&self) -> Region {
        Region::parse(&self.region).unwrap_or_else(|_| Region::vietnam())
    }
}

/// A CRM space of an account; contacts and filters live in one portal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Portal {
    pub id: String,
    pub name: String,
    #[serde(rename = "default")]
    pub is_default: bool,
    pub created: i64,
}

/// An API key: `sid` is the token's `iss`, `secret` signs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub sid: String,
    pub account_id: String,
    pub secret: String,
    pub revoked: bool,
}

/// An API key as an operator lists it: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyInfo {
    pub sid: String,
    pub account: String,
    pub created: i64,
    /// When it was revoked, if it was.
    pub revoked: Option<i64>,
}

/// Checks an account or portal name: 1 to 200 characters after trimming.
pub fn parse_name(field: &str, name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(format!("{field} is longer than 200 characters"));
    }
    Ok(name.to_string())
}
