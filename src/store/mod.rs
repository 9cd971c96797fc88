//! Persistence: the `Store` trait the HTTP layer sees, and one implementation per
//! database. All SQL lives below this module.

pub mod migrations;
pub mod plan;
pub mod postgres;
pub mod shared;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::calling::hours::Hours;
use crate::calling::model::{CallResult, DncAdded, DncCheck, DncEntry, HistoryRow, Receive, Stats};
use crate::calling::rules::Explanation;
use crate::domain::account::{Account, ApiKey, KeyInfo, Portal};
use crate::domain::agent::{Agent, AgentDraft, Assignment, Group, Membership, Quota};
use crate::domain::campaign::{Action, Campaign, CampaignFields};
use crate::domain::contact::{Contact, ContactDraft};
use crate::domain::customer::{AddOutcome, Customer, CustomerFilter, NewCustomer};
use crate::domain::filter::Filter;
use crate::domain::ids::{
    AccountId, AgentId, CampaignId, ClaimId, ContactId, CustomerId, FilterId, GroupId, JobId, KeySid, PortalId,
};
use crate::domain::job::Job;
use crate::domain::page::{Page, Paged};
use crate::query::Query;

/// What went wrong in the store. Only `Invalid` and `NotFound` carry text meant for
/// the client; `Internal` keeps its cause for the log and is answered with a bare r=10.
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
    /// The database undid the transaction whole, meeting another at the same rows
    /// (the database's error, for the log): it may run again; r=7 when it was not.
    #[error("{0}")]
    Undone(String),
    /// The campaign named is not the account's (r=3).
    #[error("campaign '{0}' not found")]
    CampaignNotFound(String),
    /// A saved filter's query does not parse or compile (r=6).
    #[error("invalid query: {0}")]
    Query(crate::query::QueryError),
    /// The feed of entries ended without `Feed::Done`: its producer failed, so the
    /// transaction was rolled back. The producer's own error is the one to report.
    #[error("the request was abandoned before it completed")]
    Aborted,
    #[error("database error: {0:#}")]
    Internal(#[source] anyhow::Error),
    /// The database's migrations disagree with this build's; the server must not start.
    #[error("{0}")]
    Migration(String),
}

impl StoreError {
    /// An internal failure, its cause kept.
    pub fn internal(cause: impl Into<anyhow::Error>) -> StoreError {
        StoreError::Internal(cause.into())
    }

    /// An internal failure described in words.
    pub fn broken(what: impl std::fmt::Display) -> StoreError {
        StoreError::Internal(anyhow::anyhow!("{what}"))
    }
}

/// Where added customers go: an existing campaign, or one created in the same
/// transaction (POST /v1/campaign with contacts).
#[derive(Debug, Clone)]
pub enum Target {
    Existing(CampaignId),
    New(Box<CampaignFields>),
}

/// The contacts one `listfilters` entry adds: a query as sent, or a saved filter,
/// each over a portal (`None`: the saved filter's, else the account's default).
/// The store resolves portal and saved filter inside the add's own transaction.
#[derive(Debug, Clone)]
pub enum FilterSource {
    Query { query: Query, portal: Option<PortalId> },
    Saved { id: FilterId, portal: Option<PortalId>, region: crate::domain::phone::Region },
}

/// One step of the entries an add or import is fed. Nothing commits unless `Done`
/// arrives, so a producer that fails or panics leaves nothing behind.
#[derive(Debug)]
pub enum Feed {
    Rows(Vec<NewCustomer>),
    /// Every contact a filter matches, added inside the database; `row` is the
    /// filter's place in the request.
    Filter {
        source: Box<FilterSource>,
        row: i64,
    },
    Done,
}

/// The receiving end of an add's entries, read as the store writes them.
#[derive(Debug)]
pub struct Entries(mpsc::Receiver<Feed>);

/// The sending end, for whatever reads a request's sources.
#[derive(Debug, Clone)]
pub struct EntrySender(mpsc::Sender<Feed>);

impl Entries {
    /// A feed that holds a few batches at once: the reader never runs far ahead of
    /// the writer, so memory stays bounded whatever the file's size.
    pub fn channel() -> (EntrySender, Entries) {
        let (tx, rx) = mpsc::channel(4);
        (EntrySender(tx), Entries(rx))
    }

    /// The next step, waiting on a blocking thread; `None` when the sender went away.
    pub fn blocking_next(&mut self) -> Option<Feed> {
        self.0.blocking_recv()
    }

    /// The next step if one is waiting already; `None` when none is (yet).
    pub fn ready(&mut self) -> Option<Feed> {
        self.0.try_recv().ok()
    }

    /// The next step; `None` when the sender went away.
    pub async fn next(&mut self) -> Option<Feed> {
        self.0.recv().await
    }
}

impl EntrySender {
    /// False when the store has stopped reading (it failed).
    pub async fn send(&self, feed: Feed) -> bool {
        self.0.send(feed).await.is_ok()
    }

    /// As [`EntrySender::send`], from a blocking thread.
    pub fn blocking_send(&self, feed: Feed) -> bool {
        self.0.blocking_send(feed).is_ok()
    }
}

/// What add-by-phones did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhonesOutcome {
    pub added: i64,
    pub skipped_phones: Vec<String>,
    /// Customers added with status 8: the phone is on a do-not-call list.
    pub dnc: i64,
}

/// A phone held by two or more customers of one campaign, with them by id.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateGroup {
    pub phone: String,
    pub customers: Vec<(i64, String)>,
}

/// What a contact import did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ImportOutcome {
    pub added: i64,
    pub updated: i64,
}

/// What keepduplicate removed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KeepOutcome {
    pub removed_phones: i64,
    pub removed_customers: i64,
}

/// Which of a portal's contacts a list shows: all, those a query matches, or those
/// a saved filter matches now.
#[derive(Debug, Clone)]
pub enum ContactSearch {
    Portal(Option<PortalId>),
    Query { portal: Option<PortalId>, query: Query },
    Filter { id: FilterId, region: crate::domain::phone::Region },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The agents and groups a campaign update assigns: each kind given (`Some`)
/// replaces that kind's assignments; a kind left out keeps its own.
#[derive(Debug, Clone, Default)]
pub struct Team {
    pub agents: Option<Vec<AgentId>>,
    pub groups: Option<Vec<GroupId>>,
}

/// Everything callsheet persists. Every method but the admin ones is scoped to an
/// account: another account's ids behave exactly as ids that do not exist. Filter
/// queries arrive parsed; each store compiles them for its own database.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // Accounts and keys (admin CLI and authentication).
    async fn create_account(&self, name: String, region: String) -> StoreResult<(Account, Portal)>;
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;
    async fn create_key(&self, account: AccountId) -> StoreResult<ApiKey>;
    /// Returns false when no key has that sid.
    async fn revoke_key(&self, sid: KeySid) -> StoreResult<bool>;
    async fn key(&self, sid: KeySid) -> StoreResult<Option<ApiKey>>;
    /// A number that differs from every earlier answer once any API key may have
    /// changed since (revoked or deleted, by any process): what a server checks
    /// before it trusts a key it read earlier.
    async fn keys_version(&self) -> StoreResult<u64>;
    /// Every account, oldest first.
    async fn accounts(&self) -> StoreResult<Vec<Account>>;
    /// The keys of an account, or of every account; never their secrets.
    async fn keys(&self, account: Option<AccountId>) -> StoreResult<Vec<KeyInfo>>;
    /// Runs a query: the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// Connections in use and idle, for the metrics.
    fn pool_use(&self) -> PoolUse;

    // Jobs
    async fn create_job(&self, account: AccountId, job: Job) -> StoreResult<()>;
    /// Progress and a heartbeat for a running job.
    async fn beat_job(&self, id: JobId, rows_read: i64, rows_estimate: i64) -> StoreResult<()>;
    /// Ends a running job with its state, answer or error.
    async fn finish_job(&self, job: Job) -> StoreResult<()>;
    /// A job, failed first if its server is gone.
    async fn job(&self, account: AccountId, id: JobId) -> StoreResult<Option<Job>>;
    /// Marks failed the running jobs of servers that are gone: on SQLite, whose one
    /// server is this one, every running job; on PostgreSQL, those without a recent
    /// heartbeat. How many. Jobs that ended more than `JOB_KEPT_SECS` ago go first.
    async fn fail_interrupted_jobs(&self) -> StoreResult<u64>;

    /// A campaign's customers after id `after`, by id, at most `limit`, only those
    /// of `statuses` when it is not empty: an export's next batch.
    async fn export_batch(
        &self,
        account: AccountId,
        campaign: CampaignId,
        statuses: Vec<i64>,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<Customer>>;

    // Portals.
    async fn create_portal(&self, account: AccountId, name: String) -> StoreResult<Portal>;
    async fn portals(&self, account: AccountId) -> StoreResult<Vec<Portal>>;
    /// The named portal, or the account's default one when `id` is `None`.
    async fn portal(&self, account: AccountId, id: Option<PortalId>) -> StoreResult<Option<Portal>>;

    // Campaigns.
    async fn create_campaign(&self, account: AccountId, fields: CampaignFields) -> StoreResult<Campaign>;
    async fn campaign(&self, account: AccountId, id: CampaignId) -> StoreResult<Option<Campaign>>;
    async fn campaigns(&self, account: AccountId, name: Option<String>, page: Page) -> StoreResult<Paged<Campaign>>;
    /// Updates a campaign's fields and, for each of `team`'s kinds given, makes its
    /// assignments of that kind exactly the ones listed, in one transaction. `None`
    /// when there is no such campaign; r=4 naming an agent or group the account does
    /// not have, before anything is written.
    async fn update_campaign(
        &self,
        account: AccountId,
        id: CampaignId,
        fields: CampaignFields,
        team: Team,
    ) -> StoreResult<Option<Campaign>>;
    /// Deletes the campaign and its customers; false when there was none. With an
    /// actor (the API key's sid) each customer's history records the delete, and a
    /// live claim on any of them refuses it (r=7); without one, a campaign just made
    /// is taken back as if it never was.
    async fn delete_campaign(&self, account: AccountId, actor: Option<String>, id: CampaignId) -> StoreResult<bool>;

    // CRM contacts.
    async fn create_contact(&self, account: AccountId, draft: ContactDraft) -> StoreResult<Contact>;
    async fn contact(&self, account: AccountId, id: ContactId) -> StoreResult<Option<Contact>>;
    /// A page of a portal's contacts: r=4 for a portal or filter the account lacks.
    async fn contacts(&self, account: AccountId, search: ContactSearch, page: Page) -> StoreResult<Paged<Contact>>;
    async fn update_contact(
        &self,
        account: AccountId,
        id: ContactId,
        draft: ContactDraft,
    ) -> StoreResult<Option<Contact>>;
    async fn delete_contact(&self, account: AccountId, id: ContactId) -> StoreResult<bool>;
    /// Imports entries as CRM contacts of `portal` (the default one when `None`), all
    /// or nothing: an entry whose id is one of the account's contacts updates it.
    async fn import_contacts(
        &self,
        account: AccountId,
        portal: Option<PortalId>,
        entries: Entries,
    ) -> StoreResult<ImportOutcome>;

    // Saved filters.
    /// Saves a query (already parsed, so known to be valid) over a portal.
    async fn create_filter(
        &self,
        account: AccountId,
        name: String,
        query: Query,
        portal: Option<PortalId>,
    ) -> StoreResult<Filter>;
    async fn filters(&self, account: AccountId, page: Page) -> StoreResult<Paged<Filter>>;
    async fn filter(&self, account: AccountId, id: FilterId) -> StoreResult<Option<Filter>>;
    async fn delete_filter(&self, account: AccountId, id: FilterId) -> StoreResult<bool>;

    // Campaign customers.
    /// Adds every entry the feed brings, all or nothing; entries whose CRM contact
    /// is already in the campaign are skipped, entries left without a phone reported.
    async fn add_customers(
        &self,
        account: AccountId,
        actor: String,
        target: Target,
        entries: Entries,
    ) -> StoreResult<(Campaign, AddOutcome)>;
    /// Each phone not yet held by a customer of the campaign becomes a customer.
    async fn add_phones(
        &self,
        account: AccountId,
        actor: String,
        campaign: CampaignId,
        phones: Vec<String>,
    ) -> StoreResult<PhonesOutcome>;
    async fn duplicates(&self, account: AccountId, campaign: CampaignId) -> StoreResult<Vec<DuplicateGroup>>;
    /// For each (phone, customer) pair the customer keeps the phone and the campaign's
    /// other customers lose it; all pairs or none.
    async fn keep_duplicates(
        &self,
        account: AccountId,
        actor: String,
        campaign: CampaignId,
        keep: Vec<(String, CustomerId)>,
    ) -> StoreResult<KeepOutcome>;
    async fn customers(&self, account: AccountId, filter: CustomerFilter, page: Page) -> StoreResult<Paged<Customer>>;
    /// r=7 while a live claim holds the customer; its history is kept.
    async fn delete_customer(&self, account: AccountId, actor: String, id: CustomerId) -> StoreResult<bool>;

    // Agents, groups and who works which campaign (CONTRACT §9.2).
    /// r=7 when the account has an agent with that `stringee_user_id`.
    async fn create_agent(&self, account: AccountId, draft: AgentDraft) -> StoreResult<Agent>;
    async fn agents(&self, account: AccountId, user: Option<String>, page: Page) -> StoreResult<Paged<Agent>>;
    async fn agent(&self, account: AccountId, id: AgentId) -> StoreResult<Option<Agent>>;
    async fn update_agent(&self, account: AccountId, id: AgentId, draft: AgentDraft) -> StoreResult<Option<Agent>>;
    async fn delete_agent(&self, account: AccountId, id: AgentId) -> StoreResult<bool>;
    async fn create_group(&self, account: AccountId, name: String) -> StoreResult<Group>;
    async fn groups(&self, account: AccountId, page: Page) -> StoreResult<Paged<Group>>;
    async fn group(&self, account: AccountId, id: GroupId) -> StoreResult<Option<Group>>;
    async fn rename_group(&self, account: AccountId, id: GroupId, name: String) -> StoreResult<Option<Group>>;
    async fn delete_group(&self, account: AccountId, id: GroupId) -> StoreResult<bool>;
    async fn add_member(&self, account: AccountId, agent: AgentId, group: GroupId) -> StoreResult<Membership>;
    async fn members(&self, account: AccountId, group: GroupId, page: Page) -> StoreResult<Paged<Membership>>;
    async fn remove_member(&self, account: AccountId, agent: AgentId, group: GroupId) -> StoreResult<()>;
    /// Assigns agents and groups; those assigned already are skipped. The ones made.
    async fn assign(
        &self,
        account: AccountId,
        campaign: CampaignId,
        agents: Vec<AgentId>,
        groups: Vec<GroupId>,
    ) -> StoreResult<Vec<Assignment>>;
    async fn assignments(
        &self,
        account: AccountId,
        campaign: Option<CampaignId>,
        agent: Option<AgentId>,
        page: Page,
    ) -> StoreResult<Paged<Assignment>>;
    async fn unassign(&self, account: AccountId, id: i64) -> StoreResult<bool>;
    async fn set_perform(&self, account: AccountId, campaign: CampaignId, user: String) -> StoreResult<()>;
    async fn remove_perform(&self, account: AccountId, user: String) -> StoreResult<()>;
    async fn set_quota(
        &self,
        account: AccountId,
        campaign: CampaignId,
        agent: AgentId,
        quota: Quota,
    ) -> StoreResult<()>;
    /// The running campaigns the agent works, the one it performs first.
    async fn running_campaigns(
        &self,
        account: AccountId,
        user: String,
        name: Option<String>,
    ) -> StoreResult<Vec<Campaign>>;

    // The calling workflow (CONTRACT §9.1, §9.3–§9.5).
    /// approve, start, pause, complete; r=7 naming the campaign's status.
    async fn campaign_action(&self, account: AccountId, id: CampaignId, action: Action) -> StoreResult<Campaign>;
    async fn campaign_stats(&self, account: AccountId, id: CampaignId) -> StoreResult<Stats>;
    /// The next callable customer for the agent `user`, claimed with a lease.
    async fn receive(
        &self,
        account: AccountId,
        region: String,
        campaign: CampaignId,
        user: String,
    ) -> StoreResult<Receive>;
    /// The answer to send (the first accepted one, for a claim sent again), and
    /// whether this request is the one that was accepted.
    async fn result(&self, account: AccountId, customer: CustomerId, result: CallResult)
    -> StoreResult<(String, bool)>;
    /// The first accepted answer of a claim, for a result sent again that is itself refused.
    async fn replayed_result(
        &self,
        account: AccountId,
        customer: CustomerId,
        claim: ClaimId,
    ) -> StoreResult<Option<String>>;
    async fn release(&self, account: AccountId, customer: CustomerId, claim: ClaimId) -> StoreResult<Customer>;
    async fn stop_customer(&self, account: AccountId, actor: String, customer: CustomerId) -> StoreResult<Customer>;
    async fn resume_customer(&self, account: AccountId, actor: String, customer: CustomerId) -> StoreResult<Customer>;
    async fn explain(
        &self,
        account: AccountId,
        region: String,
        customer: CustomerId,
        user: Option<String>,
    ) -> StoreResult<Explanation>;
    async fn history(&self, account: AccountId, customer: CustomerId) -> StoreResult<Vec<HistoryRow>>;
    /// findcustomermanager: the agent's callbacks, then its live claims; the page of
    /// ten, and how many there are.
    async fn agent_customers(
        &self,
        account: AccountId,
        campaign: CampaignId,
        user: String,
        page: i64,
    ) -> StoreResult<(Vec<Customer>, i64)>;
    /// Ends leases that ran out and wakes customers whose clock rang, everywhere.
    async fn sweep(&self) -> StoreResult<usize>;

    // Do-not-call lists (CONTRACT §10.1).
    async fn add_dnc(
        &self,
        account: AccountId,
        campaign: Option<CampaignId>,
        phones: Vec<String>,
        reason: String,
        expires_at: Option<i64>,
    ) -> StoreResult<DncAdded>;
    async fn dnc(
        &self,
        account: AccountId,
        phone: Option<String>,
        campaign: Option<CampaignId>,
        page: Page,
    ) -> StoreResult<Paged<DncEntry>>;
    async fn delete_dnc(
        &self,
        account: AccountId,
        campaign: Option<CampaignId>,
        phones: Vec<String>,
    ) -> StoreResult<i64>;
    async fn check_dnc(
        &self,
        account: AccountId,
        campaign: Option<CampaignId>,
        phones: Vec<String>,
    ) -> StoreResult<Vec<(String, DncCheck)>>;

    // Callable hours (CONTRACT §10.2).
    async fn create_hours(&self, account: AccountId, draft: HoursDraft) -> StoreResult<Hours>;
    async fn hours_sets(&self, account: AccountId) -> StoreResult<Vec<Hours>>;
    async fn hours(&self, account: AccountId, id: i64) -> StoreResult<Option<Hours>>;
    async fn update_hours(&self, account: AccountId, id: i64, draft: HoursDraft) -> StoreResult<Hours>;
    async fn delete_hours(&self, account: AccountId, id: i64) -> StoreResult<()>;
}

/// A callable-hours set as a request gives it, checked.
#[derive(Debug, Clone)]
pub struct HoursDraft {
    pub name: String,
    pub timezone: String,
    pub windows: Vec<crate::calling::hours::Window>,
    pub holidays: Vec<chrono::NaiveDate>,
}

/// Runs the sweep every second for as long as the store lives: leases that ran out
/// are given back and customers whose clock rang wake, even when no request comes.
pub fn spawn_sweeper(store: &DynStore) {
    let store = Arc::downgrade(store);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let Some(store) = store.upgrade() else {
                return;
            };
            if let Err(e) = store.sweep().await {
                tracing::warn!("the sweep failed: {e:#}");
            }
        }
    });
}

pub type DynStore = Arc<dyn Store>;

/// Database connections in use and idle.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PoolUse {
    pub in_use: usize,
    pub idle: usize,
}

/// A database URL fit for a log line or an error message: the password of its user
/// part and every `password`-like query parameter (`password`, `sslpassword`, ...)
/// become `***`. Anything that cannot be told apart as a URL is hidden whole after
/// its scheme, since it may hold a secret in a form this cannot read.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        // `sqlite:PATH` and the like carry no credentials; anything else is hidden.
        return match url.split_once(':') {
            Some((scheme, rest)) if scheme == "sqlite" && !rest.contains('@') => url.to_string(),
            Some((scheme, _)) => format!("{scheme}:***"),
            None => "***".to_string(),
        };
    };
    let (head, rest) = url.split_at(scheme_end + 3);
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(head);
    // The user part ends at the last '@' before the path.
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    match before_query[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &before_query[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&before_query[at..]);
        }
        None => out.push_str(before_query),
    }
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.to_ascii_lowercase().contains("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

/// Whether `url` names a database callsheet can use (its form, not whether it is
/// there): a one-line reason when it does not.
pub fn check_url(url: &str) -> anyhow::Result<()> {
    if !postgres::is_postgres_url(url) {
        sqlite::path_from_url(url)?;
    }
    Ok(())
}

/// Opens the store a database URL names, running its migrations: for the admin
/// commands, which may run beside a server.
pub async fn open(url: &str) -> anyhow::Result<DynStore> {
    if postgres::is_postgres_url(url) {
        return Ok(Arc::new(postgres::PgStore::open(url).await?));
    }
    let store = sqlite::SqliteStore::open(url).await?;
    Ok(Arc::new(store))
}

/// Opens the store for a server: as [`open`], and on SQLite, which one process
/// serves, it also claims the file and discards what a crash left unpublished.
pub async fn open_serving(url: &str) -> anyhow::Result<DynStore> {
    if postgres::is_postgres_url(url) {
        return Ok(Arc::new(postgres::PgStore::open(url).await?));
    }
    Ok(Arc::new(sqlite::SqliteStore::open_serving(url).await?))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_survive_redaction() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(
            redact_url("postgres://u@h:5432/db?password=secret&sslmode=disable"),
            "postgres://u@h:5432/db?password=***&sslmode=disable"
        );
        assert_eq!(redact_url("postgresql://u:p%40ss@h/db?sslpassword=x"), "postgresql://u:***@h/db?sslpassword=***");
        assert_eq!(redact_url("postgres://u:a@b@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("sqlite://callsheet.db"), "sqlite://callsheet.db");
        assert_eq!(redact_url("sqlite:data/c.db"), "sqlite:data/c.db");
        assert_eq!(redact_url("mysql:u:secret@h"), "mysql:***");
        assert_eq!(redact_url("host=h password=secret"), "***");
    }
}
