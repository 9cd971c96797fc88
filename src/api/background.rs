//! Work that outlives its request: an upload run as a job (docs/API.md "Jobs").
//! The job is recorded before the answer goes out; the work runs on its own task
//! with a heartbeat, and its answer or error is stored when it ends. Its live
//! progress is kept here, in memory, since a SQLite import holds the one writer
//! until it commits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::Response;
use serde_json::{Value, json};

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, Code, ok};
use crate::domain::ids::{IdKind, JobId};
use crate::domain::job::{JOB_HEARTBEAT_SECS, Job};
use crate::domain::now_secs;
use crate::import::Progress;

/// Jobs one server runs at once; past it an upload is refused (r 7) until one ends,
/// since each holds its file in memory and they would take turns at the writer anyway.
pub const MAX_RUNNING_JOBS: usize = 4;

/// The progress of the jobs this server is running.
#[derive(Default)]
pub struct JobBoard {
    live: Mutex<HashMap<String, Arc<Progress>>>,
}

impl JobBoard {
    /// How many jobs run here.
    pub fn running(&self) -> usize {
        self.live.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// Waits until no job runs here, or `limit` has passed; whether none runs.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let until = tokio::time::Instant::now() + limit;
        while self.running() > 0 {
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        true
    }

    /// (rows read, rows estimated) of a job running here.
    pub fn progress(&self, id: &str) -> Option<(i64, i64)> {
        self.live.lock().ok()?.get(id).map(|p| p.get())
    }

    /// Counts job `id` among those running here, unless [`MAX_RUNNING_JOBS`] run
    /// already: whether it was counted. One look and one insert under one lock, so
    /// uploads arriving together cannot all pass the count.
    fn reserve(&self, id: &str, progress: Arc<Progress>) -> bool {
        let Ok(mut live) = self.live.lock() else {
            return false;
        };
        let room = live.len() < MAX_RUNNING_JOBS;
        if room {
            live.insert(id.to_string(), progress);
        }
        room
    }

    fn set(&self, id: &str, progress: Option<Arc<Progress>>) {
        if let Ok(mut live) = self.live.lock() {
            match progress {
                Some(p) => live.insert(id.to_string(), p),
                None => live.remove(id),
            };
        }
    }
}

/// Whether an upload runs as a job: `async` as sent (1/true/yes or 0/false/no),
/// else when the file is at least `--async-upload-bytes` (0: never on its own).
/// A job's progress is watched, so the answer is where the reading reports it.
pub fn wanted(state: &AppState, sent: Option<&Value>, file_bytes: usize) -> ApiResult<Option<Arc<Progress>>> {
    let threshold = state.limits.async_upload_bytes;
    let by_size = threshold > 0 && file_bytes >= threshold;
    let text = match sent {
        None => Some(String::new()),
        Some(v) => super::input::scalar_text(v).or_else(|| v.as_bool().map(|b| b.to_string())),
    };
    let as_job = match text.map(|t| t.trim().to_ascii_lowercase()).as_deref() {
        Some("1" | "true" | "yes") => true,
        Some("0" | "false" | "no") => false,
        Some("") => by_size,
        _ => return Err(ApiError::invalid("async must be 1 or 0")),
    };
    Ok(as_job.then(Default::default))
}

/// The answer to an upload: `work`'s own, awaited, or with `progress` (a job, as
/// [`wanted`] said) the job's id at once while `work` runs in the background.
pub async fn answer(
    state: &AppState,
    caller: &Caller,
    campaign: Option<String>,
    progress: Option<Arc<Progress>>,
    work: impl std::future::Future<Output = ApiResult<Value>> + Send + 'static,
) -> ApiResult<Response> {
    match progress {
        Some(progress) => run(state, caller, campaign, progress, work).await,
        None => Ok(super::error::ok_json(work.await?)),
    }
}

/// Records a job and runs `work` in the background; answers with the job's id at
/// once. `work` yields the answer the request would have given.
async fn run(
    state: &AppState,
    caller: &Caller,
    campaign: Option<String>,
    progress: Arc<Progress>,
    work: impl std::future::Future<Output = ApiResult<Value>> + Send + 'static,
) -> ApiResult<Response> {
    let id = IdKind::Job.generate();
    if !state.jobs.reserve(&id, progress.clone()) {
        return Err(ApiError::new(
            Code::Conflict,
            format!(
                "{MAX_RUNNING_JOBS} imports are already running on this server; send this one when one of them ends"
            ),
        ));
    }
    let now = now_secs();
    let mut job = Job {
        id,
        kind: "import".into(),
        campaign,
        state: "running".into(),
        rows_read: 0,
        rows_estimate: 0,
        created: now,
        finished: None,
        result: None,
        error: None,
        heartbeat: now,
    };
    if let Err(e) = state.store.create_job(caller.account_id(), job.clone()).await {
        state.jobs.set(&job.id, None);
        return Err(e.into());
    }
    let answer = ok(json!({"job": job.id, "state": "running"}));
    let state = state.clone();
    tokio::spawn(async move {
        let id = JobId::trusted(job.id.clone());
        let work = tokio::spawn(work);
        tokio::pin!(work);
        let mut beat = tokio::time::interval(Duration::from_secs(JOB_HEARTBEAT_SECS));
        beat.tick().await;
        let outcome = loop {
            tokio::select! {
                done = &mut work => break done,
                _ = beat.tick() => {
                    let (read, estimate) = progress.get();
                    if let Err(e) = state.store.beat_job(id.clone(), read, estimate).await {
                        tracing::warn!(job = %id, "a job's heartbeat failed: {e:#}");
                    }
                }
            }
        };
        (job.rows_read, job.rows_estimate) = progress.get();
        job.finished = Some(now_secs());
        job.heartbeat = now_secs();
        match outcome {
            Ok(Ok(mut body)) => {
                if let Some(map) = body.as_object_mut() {
                    for key in ["r", "msg", "message"] {
                        map.remove(key);
                    }
                }
                job.state = "done".into();
                job.result = Some(body);
            }
            Ok(Err(e)) => {
                if e.code == Code::Internal {
                    let cause = e.cause.as_ref().map(|c| format!("{c:#}")).unwrap_or_default();
                    tracing::error!(job = %id, error = %cause, "a job failed");
                } else {
                    tracing::info!(job = %id, r = e.code as u8, reason = %e.msg, "a job was refused");
                }
                job.state = "failed".into();
                job.error = Some(json!({"r": e.code as u8, "msg": e.msg}));
            }
            Err(panic) => {
                tracing::error!(job = %id, "a job panicked: {panic}");
                job.state = "failed".into();
                job.error = Some(json!({"r": Code::Internal as u8, "msg": "internal error"}));
            }
        }
        // A busy or briefly unreachable database must not leave the job running for
        // ever: the end is written again, for about a minute.
        for attempt in 0..8u32 {
            match state.store.finish_job(job.clone()).await {
                Ok(()) => break,
                Err(e) if attempt < 7 => {
                    tracing::warn!(job = %id, "a job's end could not be recorded yet: {e:#}");
                    tokio::time::sleep(Duration::from_millis(500 << attempt.min(4))).await;
                }
                Err(e) => tracing::error!(job = %id, "a job's end could not be recorded: {e:#}"),
            }
        }
        state.jobs.set(&id, None);
    });
    Ok(answer)
}
