//! Where a campaign's queue of due customers starts, remembered between hand-outs
//! (PostgreSQL). Every hand-out moves its customer out of the queue index's
//! `due = 1` range; PostgreSQL leaves the old entry there until a vacuum, and while
//! other transactions run it must visit the row to pass it. A scan from the head
//! then walks past every customer handed out lately. A hand-out instead starts at
//! the lowest due id the last one found, and anything that queues a lower id
//! (a result, a release, an expiry, a wake) moves that mark back down.
//!
//! The mark is a hint, never the truth: a scan that starts at it and finds no one
//! scans again from the start. Another server's writes cannot move this server's
//! marks: every write that queues customers bumps the database's `requeues` count
//! after it commits, a hand-out reads that count first, and a mark set when the
//! count stood elsewhere is not used. A mark older than a second is forgotten too.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

tokio::task_local! {
    /// Set when the running write queued customers: the store bumps the database's
    /// `requeues` count once the write has committed.
    pub static REQUEUED: Cell<bool>;
}

/// A campaign's mark: no customer below `id` was due when it was set.
#[derive(Clone, Copy)]
struct Mark {
    id: i64,
    /// Bumped by every move down, so that a scan that began before one cannot raise
    /// the mark past what that move queued.
    generation: u64,
    /// The database's `requeues` count when the scan that set it began.
    requeues: i64,
    set_at: i64,
}

fn marks() -> std::sync::MutexGuard<'static, HashMap<(String, String), Mark>> {
    static MARKS: OnceLock<Mutex<HashMap<(String, String), Mark>>> = OnceLock::new();
    MARKS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner())
}

/// Where a scan of the campaign's queue may start at `now`, the database's
/// `requeues` count read, and the generation to hand back to [`found`].
pub fn start(account: &str, campaign: &str, now: i64, requeues: i64) -> (i64, u64) {
    match marks().get(&(account.to_string(), campaign.to_string())) {
        Some(m) if m.set_at >= now - 1 && m.requeues == requeues => (m.id, m.generation),
        Some(m) => (i64::MIN, m.generation),
        None => (i64::MIN, 0),
    }
}

/// A scan begun at `generation`, with the `requeues` count read, found `id` the
/// lowest due customer.
pub fn found(account: &str, campaign: &str, generation: u64, requeues: i64, id: i64, now: i64) {
    let mut marks = marks();
    if marks.len() >= 4096 {
        marks.retain(|_, m| m.set_at >= now - 1);
    }
    let m = marks.entry((account.to_string(), campaign.to_string())).or_insert(Mark {
        id: i64::MIN,
        generation,
        requeues,
        set_at: now,
    });
    if m.generation == generation {
        *m = Mark { id, generation, requeues, set_at: now };
    }
}

/// Customer `id` of the campaign is due (or, with `None`, some customers are).
pub fn queued(account: &str, campaign: Option<&str>, id: Option<i64>) {
    let _ = REQUEUED.try_with(|r| r.set(true));
    let lower = |m: &mut Mark| {
        m.id = id.map_or(i64::MIN, |id| m.id.min(id));
        m.generation += 1;
    };
    let mut marks = marks();
    match campaign {
        Some(c) => {
            if let Some(m) = marks.get_mut(&(account.to_string(), c.to_string())) {
                lower(m);
            }
        }
        None => marks.iter_mut().filter(|((a, _), _)| a == account).for_each(|(_, m)| lower(m)),
    }
}
