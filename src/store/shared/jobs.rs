//! Jobs (docs/API.md "Jobs"): made when background work starts, finished with its
//! answer, and failed when the server running them is gone.

use serde_json::Value;

use super::db::{Db, Row};
use crate::domain::job::{JOB_STALE_SECS, Job, interrupted};
use crate::store::StoreResult;

const COLUMNS: &str =
    "id, kind, campaign_id, state, rows_read, rows_estimate, created, finished, result, error, heartbeat";

fn json(text: Option<String>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

fn job_of(r: &Row) -> Job {
    Job {
        id: r.text(0),
        kind: r.text(1),
        campaign: r.opt_text(2),
        state: r.text(3),
        rows_read: r.int(4),
        rows_estimate: r.int(5),
        created: r.int(6),
        finished: r.opt_int(7),
        result: json(r.opt_text(8)),
        error: json(r.opt_text(9)),
        heartbeat: r.int(10),
    }
}

pub async fn create(db: &impl Db, account: &str, job: &Job) -> StoreResult<()> {
    db.exec(
        "INSERT INTO jobs (id, account_id, kind, campaign_id, state, rows_read, rows_estimate, created, heartbeat) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            (&job.id).into(),
            account.into(),
            (&job.kind).into(),
            job.campaign.clone().into(),
            (&job.state).into(),
            job.rows_read.into(),
            job.rows_estimate.into(),
            job.created.into(),
            job.heartbeat.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Progress and a heartbeat for a running job.
pub async fn beat(db: &impl Db, id: &str, rows_read: i64, rows_estimate: i64, now: i64) -> StoreResult<()> {
    db.exec(
        "UPDATE jobs SET rows_read = ?, rows_estimate = ?, heartbeat = ? WHERE id = ? AND state = 'running'",
        &[rows_read.into(), rows_estimate.into(), now.into(), id.into()],
    )
    .await?;
    Ok(())
}

/// Ends a job: `done` with its answer, or `failed` with its error. What the job's own
/// server records wins over a "failed" another server wrote when its heartbeat
/// seemed lost: an import that committed is done, whatever was guessed meanwhile.
pub async fn finish(db: &impl Db, job: &Job) -> StoreResult<()> {
    let text = |v: &Option<Value>| v.as_ref().map(Value::to_string);
    db.exec(
        "UPDATE jobs SET state = ?, rows_read = ?, rows_estimate = ?, finished = ?, result = ?, error = ?, \
         heartbeat = ? WHERE id = ?",
        &[
            (&job.state).into(),
            job.rows_read.into(),
            job.rows_estimate.into(),
            job.finished.into(),
            text(&job.result).into(),
            text(&job.error).into(),
            job.heartbeat.into(),
            (&job.id).into(),
        ],
    )
    .await?;
    Ok(())
}

pub async fn get(db: &impl Db, account: &str, id: &str) -> StoreResult<Option<Job>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE account_id = ? AND id = ?");
    Ok(db.row(&sql, &[account.into(), id.into()]).await?.as_ref().map(job_of))
}

/// Marks failed every running job whose heartbeat is older than `before` (all of
/// them with `i64::MAX`); how many.
pub async fn fail_stale(db: &impl Db, before: i64, now: i64) -> StoreResult<u64> {
    db.exec(
        "UPDATE jobs SET state = 'failed', finished = ?, error = ? WHERE state = 'running' AND heartbeat < ?",
        &[now.into(), interrupted().to_string().into(), before.into()],
    )
    .await
}

/// Removes the jobs that ended before `before`; how many.
pub async fn prune(db: &impl Db, before: i64) -> StoreResult<u64> {
    db.exec("DELETE FROM jobs WHERE state <> 'running' AND finished < ?", &[before.into()]).await
}

/// Whether a job read as running is in fact dead.
pub fn is_stale(job: &Job, now: i64) -> bool {
    job.state == "running" && job.heartbeat < now - JOB_STALE_SECS
}
