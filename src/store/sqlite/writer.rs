//! One thread writes for the store. Writes that queue while another commits go in
//! together: one `BEGIN IMMEDIATE` transaction, a savepoint each, one commit. A busy
//! server then commits once for many requests and never waits between them for a
//! thread to wake, and each request still commits whole or not at all.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::Pool;
use super::staging::Staging;
use crate::store::{StoreError, StoreResult};

/// The most writes one transaction takes: enough to pay one commit for many, few
/// enough that the first of them is answered soon.
const BATCH: usize = 64;

/// A write the thread runs and answers.
trait Job: Send {
    /// Runs in the batch's transaction; whether it succeeded (its writes stay).
    fn run(&mut self, tx: &Transaction<'_>, staging: &Staging) -> bool;
    /// Answers once the batch is committed, or with why it was not.
    fn finish(self: Box<Self>, committed: Result<(), String>);
}

struct Typed<T, F> {
    work: Option<F>,
    outcome: Option<StoreResult<T>>,
    reply: tokio::sync::oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send,
    F: FnOnce(&Transaction<'_>, &Staging) -> StoreResult<T> + Send,
{
    fn run(&mut self, tx: &Transaction<'_>, staging: &Staging) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| work(tx, staging)))
            .unwrap_or_else(|_| Err(StoreError::internal(anyhow::anyhow!("a store write panicked"))));
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let outcome = match (committed, self.outcome) {
            (_, Some(Err(own))) => Err(own),
            (Ok(()), Some(done)) => done,
            (Err(why), _) => Err(StoreError::internal(anyhow::anyhow!("committing a write: {why}"))),
            (Ok(()), None) => Err(StoreError::internal(anyhow::anyhow!("a store write never ran"))),
        };
        // The requester may have gone; what was written stays written.
        let _ = self.reply.send(outcome);
    }
}

/// The handle requests send their writes through; the thread ends with the last one.
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the thread, which opens its own connection when the first write comes.
    pub fn start(pool: Arc<Pool>, staging: Arc<Staging>) -> Writer {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("callsheet-sqlite-writer".into())
            .spawn(move || serve(&pool, &staging, &queue))
            .expect("the SQLite writer thread starts");
        Writer { jobs }
    }

    /// Runs `f` in a write transaction, answered once it is committed.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, &Staging) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Box<dyn Job> = Box::new(Typed { work: Some(f), outcome: None, reply });
        self.jobs.send(job).map_err(|_| StoreError::internal(anyhow::anyhow!("the SQLite writer has stopped")))?;
        answer.await.map_err(|_| StoreError::internal(anyhow::anyhow!("the SQLite writer dropped a write")))?
    }
}

fn serve(pool: &Pool, staging: &Staging, queue: &mpsc::Receiver<Box<dyn Job>>) {
    let mut conn: Option<Connection> = None;
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        // Bulk writes take their steps between batches, in the order they came.
        let turn = staging.writer.blocking_lock();
        let admin = staging.turn.take();
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = match &mut conn {
            Some(c) => run_batch(c, staging, &mut batch),
            None => match pool.connect() {
                Ok(c) => run_batch(conn.insert(c), staging, &mut batch),
                Err(e) => Err(e.to_string()),
            },
        };
        drop(admin);
        drop(turn);
        if committed.is_err() {
            // A connection that failed a commit is not trusted with the next batch.
            conn = None;
        }
        for job in batch {
            job.finish(committed.clone());
        }
    }
}

/// Runs a batch in one transaction: alone, a job is the transaction; together,
/// each has a savepoint, and a failed one is rolled back to it.
fn run_batch(conn: &mut Connection, staging: &Staging, batch: &mut [Box<dyn Job>]) -> Result<(), String> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| e.to_string())?;
    let mut kept = false;
    if let [job] = batch {
        kept = job.run(&tx, staging);
    } else {
        for job in batch.iter_mut() {
            tx.execute_batch("SAVEPOINT job").map_err(|e| e.to_string())?;
            if job.run(&tx, staging) {
                tx.execute_batch("RELEASE job").map_err(|e| e.to_string())?;
                kept = true;
            } else {
                tx.execute_batch("ROLLBACK TO job; RELEASE job").map_err(|e| e.to_string())?;
            }
        }
    }
    if kept { tx.commit().map_err(|e| e.to_string()) } else { tx.rollback().map_err(|e| e.to_string()) }
}
