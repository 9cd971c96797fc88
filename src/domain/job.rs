//! Background work: an upload run as a job, its progress and its answer.

use serde::Serialize;
use serde_json::Value;

/// A job as GET /v1/job/{id} shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: String,
    /// What the job does: `import` (an upload to a campaign).
    pub kind: String,
    pub campaign: Option<String>,
    /// `running`, `done` or `failed`.
    pub state: String,
    pub rows_read: i64,
    /// How many rows the file holds, as far as can be told before reading it all.
    pub rows_estimate: i64,
    pub created: i64,
    pub finished: Option<i64>,
    /// The answer the request would have given had it waited: `{"data", "summary"}`.
    pub result: Option<Value>,
    /// Why it failed: `{"r", "msg"}`.
    pub error: Option<Value>,
    /// When the server running it last said it was alive.
    #[serde(skip)]
    pub heartbeat: i64,
}

/// Seconds without a heartbeat after which a running job is taken for dead: its
/// server stopped, and since an import commits whole, nothing of it was written.
/// Well above a heartbeat's own wait for a pooled connection (10 s), so a busy
/// database does not pass for a dead server; and should the guess still be wrong,
/// the job's own end overwrites it.
pub const JOB_STALE_SECS: i64 = 30;

/// How long an ended job (its answer, its rejected rows) is kept: 30 days. Older
/// ones are removed when a server starts.
pub const JOB_KEPT_SECS: i64 = 30 * 86_400;

/// Seconds between a running job's heartbeats.
pub const JOB_HEARTBEAT_SECS: u64 = 2;

/// The error of a job cut short by a restart.
pub fn interrupted() -> Value {
    serde_json::json!({"r": 10, "msg": "interrupted by a server restart; nothing was imported"})
}
