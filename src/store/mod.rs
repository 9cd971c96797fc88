//! Persistence: the `Store` trait the HTTP layer sees, and one implementation per
//! database. All SQL lives below this module.

pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::account::{Account, ApiKey, Portal};
use crate::domain::campaign::{Campaign, CampaignFields};
use crate::domain::contact::{Contact, ContactDraft};
use crate::domain::page::{Page, Paged};

/// What went wrong in the store. Only `Invalid` and `NotFound` carry text meant for
/// the client; `Internal` is logged and answered with a bare r=10.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The request named something of the account that does not exist (r=4).
    #[error("{0}")]
    NotFound(String),
    /// The request's data breaks a rule the store enforces (r=1).
    #[error("{0}")]
    Invalid(String),
    /// A uniqueness rule was broken (r=7).
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything callsheet persists. Every method but the admin ones is scoped to an
/// account: another account's ids behave exactly as ids that do not exist.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // Accounts and keys (admin CLI and authentication).
    async fn create_account(&self, name: &str, region: &str) -> StoreResult<(Account, Portal)>;
    async fn account(&self, id: &str) -> StoreResult<Option<Account>>;
    async fn create_key(&self, account_id: &str) -> StoreResult<ApiKey>;
    /// Returns false when no key has that sid.
    async fn revoke_key(&self, sid: &str) -> StoreResult<bool>;
    async fn key(&self, sid: &str) -> StoreResult<Option<ApiKey>>;

    // Portals.
    async fn create_portal(&self, account_id: &str, name: &str) -> StoreResult<Portal>;
    async fn portals(&self, account_id: &str) -> StoreResult<Vec<Portal>>;
    /// The named portal, or the account's default one when `id` is `None`.
    async fn portal(&self, account_id: &str, id: Option<&str>) -> StoreResult<Option<Portal>>;

    // Campaigns.
    async fn create_campaign(
        &self,
        account_id: &str,
        fields: CampaignFields,
    ) -> StoreResult<Campaign>;
    async fn campaign(&self, account_id: &str, id: &str) -> StoreResult<Option<Campaign>>;
    async fn campaigns(
        &self,
        account_id: &str,
        name: Option<&str>,
        page: Page,
    ) -> StoreResult<Paged<Campaign>>;
    async fn update_campaign(
        &self,
        account_id: &str,
        id: &str,
        fields: CampaignFields,
    ) -> StoreResult<Option<Campaign>>;
    /// Deletes the campaign and its customers; false when there was none.
    async fn delete_campaign(&self, account_id: &str, id: &str) -> StoreResult<bool>;

    // CRM contacts.
    async fn create_contact(&self, account_id: &str, draft: ContactDraft) -> StoreResult<Contact>;
    async fn contact(&self, account_id: &str, id: &str) -> StoreResult<Option<Contact>>;
    async fn contacts(
        &self,
        account_id: &str,
        portal: &str,
        page: Page,
    ) -> StoreResult<Paged<Contact>>;
    async fn update_contact(
        &self,
        account_id: &str,
        id: &str,
        draft: ContactDraft,
    ) -> StoreResult<Option<Contact>>;
    async fn delete_contact(&self, account_id: &str, id: &str) -> StoreResult<bool>;
}

pub type DynStore = Arc<dyn Store>;

/// Opens the store a database URL names, running its migrations.
pub async fn open(url: &str) -> anyhow::Result<DynStore> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        anyhow::bail!(
            "the PostgreSQL backend is not available in this build yet; use sqlite://PATH"
        );
    }
    let store = sqlite::SqliteStore::open(url).await?;
    Ok(Arc::new(store))
}
