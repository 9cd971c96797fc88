//! Identical reads asked at the same moment, answered once.
//!
//! A read that many clients ask at once (a campaign's list page, polled by every
//! supervisor's screen) costs the database a statement per request and callsheet a
//! JSON answer per request, all the same. Here the requests that arrive while such a
//! read is running wait for it to end and then share the next one: one read and one
//! answer per turn, whatever the number of requests.
//!
//! A request only ever joins a read that has not started yet, so its answer is read
//! after it arrived: it sees every write that was answered before it was asked, as
//! if it had run alone (no answer is older than its request). A read that fails, or
//! whose request goes away meanwhile, leaves each request that joined it to read
//! alone.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Questions kept while no request asks them, before idle ones are forgotten.
const KEPT: usize = 1024;

/// Reads by question (`K`), sharing their answers (`V`).
pub struct Coalescer<K, V> {
    lanes: Mutex<HashMap<K, Arc<Lane<V>>>>,
}

impl<K, V> Default for Coalescer<K, V> {
    fn default() -> Self {
        Coalescer { lanes: Mutex::new(HashMap::new()) }
    }
}

/// One question's reads: the one running and the one about to.
struct Lane<V> {
    /// Held while the question's read runs: one at a time.
    running: tokio::sync::Mutex<()>,
    /// The read waiting to start, which requests arriving now join.
    next: Mutex<Option<watch::Sender<Option<V>>>>,
}

impl<V> Default for Lane<V> {
    fn default() -> Self {
        Lane { running: tokio::sync::Mutex::new(()), next: Mutex::new(None) }
    }
}

/// The request that leads the next read, until it starts it: dropped before then
/// (its request went away), it closes the read, so that those who joined read alone.
struct Leader<'a, V> {
    lane: &'a Lane<V>,
    started: bool,
}

impl<V> Drop for Leader<'_, V> {
    fn drop(&mut self) {
        if !self.started {
            lock(&self.lane.next).take();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<K: Eq + Hash, V: Clone + Send + Sync> Coalescer<K, V> {
    /// The answer to `key`: from the next read of it, which this request either joins
    /// or starts with `read`.
    pub async fn read<E, F>(&self, key: K, read: impl FnOnce() -> F) -> Result<V, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        let lane = self.lane(key);
        let joined = {
            let mut next = lock(&lane.next);
            match &*next {
                Some(sender) => Some(sender.subscribe()),
                None => {
                    *next = Some(watch::channel(None).0);
                    None
                }
            }
        };
        if let Some(mut answer) = joined {
            let shared = answer.wait_for(Option::is_some).await.ok().and_then(|v| v.clone());
            return match shared {
                Some(v) => Ok(v),
                None => read().await,
            };
        }
        let mut leader = Leader { lane: &lane, started: false };
        let _running = lane.running.lock().await;
        // From here on, requests that arrive join the read after this one.
        let sender = lock(&lane.next).take().expect("only the leader takes its read");
        leader.started = true;
        let answer = read().await;
        if let Ok(v) = &answer {
            sender.send_replace(Some(v.clone()));
        }
        answer
    }

    fn lane(&self, key: K) -> Arc<Lane<V>> {
        let mut lanes = lock(&self.lanes);
        if lanes.len() >= KEPT && !lanes.contains_key(&key) {
            lanes.retain(|_, lane| Arc::strong_count(lane) > 1);
        }
        lanes.entry(key).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn requests_during_a_read_share_the_next() {
        let c: Arc<Coalescer<u8, usize>> = Arc::default();
        let reads = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let slow = |reads: Arc<AtomicUsize>, gate: Arc<tokio::sync::Semaphore>| async move {
            let n = reads.fetch_add(1, Ordering::SeqCst) + 1;
            gate.acquire().await.unwrap().forget();
            Ok::<_, ()>(n)
        };
        let first = tokio::spawn({
            let (c, r, g) = (c.clone(), reads.clone(), gate.clone());
            async move { c.read(1, || slow(r, g)).await }
        });
        while reads.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // Arrived while the first read runs: they wait, then share one read.
        let later: Vec<_> = (0..5)
            .map(|_| {
                let (c, r, g) = (c.clone(), reads.clone(), gate.clone());
                tokio::spawn(async move { c.read(1, || slow(r, g)).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(reads.load(Ordering::SeqCst), 1, "nobody starts a second read while the first runs");
        gate.add_permits(10);
        assert_eq!(first.await.unwrap(), Ok(1));
        for l in later {
            assert_eq!(l.await.unwrap(), Ok(2), "each later request has the read that started after it");
        }
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    type Shared = Arc<Coalescer<u8, usize>>;

    /// A read of `key` on its own task: it waits at `gate` (when given), then answers `answer`.
    fn spawn_read(
        c: &Shared,
        key: u8,
        gate: Option<Arc<tokio::sync::Semaphore>>,
        answer: Result<usize, &'static str>,
    ) -> tokio::task::JoinHandle<Result<usize, &'static str>> {
        let c = c.clone();
        tokio::spawn(async move {
            c.read(key, || async move {
                if let Some(g) = gate {
                    g.acquire().await.unwrap().forget();
                }
                answer
            })
            .await
        })
    }

    /// The task's answer, failing rather than hanging.
    async fn answer_of(task: tokio::task::JoinHandle<Result<usize, &'static str>>) -> Result<usize, &'static str> {
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("a request hung").unwrap()
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    #[tokio::test]
    async fn a_leader_gone_before_its_read_leaves_each_to_read_alone() {
        let c: Shared = Arc::default();
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let first = spawn_read(&c, 1, Some(gate.clone()), Err("broken"));
        settle().await;
        // The next read's leader waits for the first, then goes away.
        let leader = spawn_read(&c, 1, None, Ok(7));
        settle().await;
        let joined = spawn_read(&c, 1, None, Ok(8));
        settle().await;
        leader.abort();
        assert_eq!(answer_of(joined).await, Ok(8), "its leader went away: it read alone");
        gate.add_permits(1);
        assert_eq!(answer_of(first).await, Err("broken"));
        // Nothing is left waiting: the next request leads a read of its own.
        assert_eq!(c.read(1, || async { Ok::<_, &str>(9) }).await, Ok(9));
        // Other questions never share.
        assert_eq!(c.read(2, || async { Ok::<_, &str>(3) }).await, Ok(3));
    }

    #[tokio::test]
    async fn a_failed_read_leaves_those_who_joined_it_to_read_alone() {
        let c: Shared = Arc::default();
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let first = spawn_read(&c, 1, Some(gate.clone()), Ok(1));
        settle().await;
        let failing = spawn_read(&c, 1, None, Err("broken"));
        settle().await;
        let joined: Vec<_> = (0..3).map(|i| spawn_read(&c, 1, None, Ok(10 + i))).collect();
        settle().await;
        gate.add_permits(1);
        assert_eq!(answer_of(first).await, Ok(1));
        assert_eq!(answer_of(failing).await, Err("broken"), "the leader has its own error");
        for (i, j) in joined.into_iter().enumerate() {
            assert_eq!(answer_of(j).await, Ok(10 + i), "a failed read's error is not shared: each read alone");
        }
    }

    #[tokio::test]
    async fn a_leader_gone_during_its_read_leaves_each_to_read_alone() {
        let c: Shared = Arc::default();
        let first_gate = Arc::new(tokio::sync::Semaphore::new(0));
        let never = Arc::new(tokio::sync::Semaphore::new(0));
        let first = spawn_read(&c, 1, Some(first_gate.clone()), Ok(1));
        settle().await;
        // Its joiner arrives before it starts; it starts when the first read ends.
        let leader = spawn_read(&c, 1, Some(never), Ok(7));
        settle().await;
        let joined = spawn_read(&c, 1, None, Ok(8));
        settle().await;
        first_gate.add_permits(1);
        assert_eq!(answer_of(first).await, Ok(1));
        settle().await;
        leader.abort();
        assert_eq!(answer_of(joined).await, Ok(8), "its read went away: it read alone");
        assert_eq!(c.read(1, || async { Ok::<_, &str>(9) }).await, Ok(9));
    }
}
