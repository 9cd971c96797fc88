//! Taking turns at SQLite's one write lock. Every write waits for the writer gate
//! in this process (so nobody fails on a busy database), and a long write (an
//! import, a campaign delete) goes in short transactions that readers cannot see
//! until one short step publishes them; after a crash, what was never published is
//! discarded when the server starts again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::StoreResult;
use crate::domain::now_secs;

/// What a long write has a short transaction do at once: enough rows that commits
/// cost little, few enough that another writer waits a fraction of a second.
pub const CHUNK_ROWS: usize = 4096;
/// Contact rowids one block reserves; an import making more takes another block.
const BLOCK_ROWS: i64 = 1 << 20;

/// What every writer of one store shares.
#[derive(Default)]
pub struct Staging {
    /// One writer at a time in this process, served in the order they came.
    pub writer: Arc<tokio::sync::Mutex<()>>,
    /// The admin commands' turn between this process and others on the same file.
    pub turn: Turn,
    blocks: RwLock<Vec<Block>>,
    campaigns: Mutex<HashMap<(String, String), CampaignTurn>>,
}

/// Whose turn a process takes at a database file, beside SQLite's write lock.
///
/// SQLite's write lock is not fair between processes: a server writing an import
/// step after step takes it again the moment it lets go, and an admin command
/// polling for it (`callsheet key create` during an upload) waited out its whole
/// timeout and failed. So an admin command holds a file lock beside the database
/// (`PATH.turn`) exclusively around each of its write transactions, and a server
/// looks at it before each of its own: finding it held, the server waits until
/// the command is done. A server only looks, a shared lock taken and let go at
/// once, never held while it writes.
#[derive(Default)]
pub struct Turn {
    file: Option<std::fs::File>,
    admin: bool,
}

/// An admin command's turn, held until dropped.
pub struct TurnHeld<'a>(&'a std::fs::File);

impl Drop for TurnHeld<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl Turn {
    /// The turn file beside the database at `resolved` (the path every process
    /// resolves the same way); no turn when it cannot be opened (a read-only
    /// directory): SQLite's own busy wait still applies.
    pub fn beside(resolved: &std::path::Path, admin: bool) -> Turn {
        let mut path = resolved.as_os_str().to_os_string();
        path.push(".turn");
        match std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path) {
            Ok(file) => Turn { file: Some(file), admin },
            Err(e) => {
                tracing::debug!("no turn file {}: {e}", std::path::Path::new(&path).display());
                Turn::default()
            }
        }
    }

    /// Before a write transaction: an admin command takes its turn (held until the
    /// guard drops, after the commit); a server waits out a command's turn.
    pub fn take(&self) -> Option<TurnHeld<'_>> {
        let file = self.file.as_ref()?;
        if self.admin {
            return file.lock().ok().map(|()| TurnHeld(file));
        }
        // A command's write takes a moment; one stopped while it holds the turn (a
        // process suspended) is waited for as long as SQLite waits for a lock, then
        // passed over.
        let waiting = std::time::Instant::now();
        while matches!(file.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock))
            && waiting.elapsed() < super::BUSY_TIMEOUT
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let _ = file.unlock();
        None
    }
}

/// The key of an account's contact-making turn (no campaign id holds a NUL byte).
fn contacts_turn(account_id: &str) -> (String, String) {
    (account_id.to_string(), "\0contacts".to_string())
}

/// The turn of one campaign's adders, alive while some writer holds or awaits it.
type CampaignTurn = Weak<tokio::sync::Mutex<()>>;

/// Contact rowids reserved by one import in progress.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Block {
    pub id: i64,
    pub lo: i64,
    pub hi: i64,
}

/// The contact rowids readers must leave out, as of one moment.
#[derive(Debug, Clone, Default)]
pub struct Hidden(Vec<(i64, i64)>);

impl Hidden {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `AND column NOT BETWEEN lo AND hi` for each reserved range (the bounds are
    /// the store's own integers, never a client's text).
    pub fn leave_out(&self, column: &str) -> String {
        self.0.iter().map(|(lo, hi)| format!(" AND {column} NOT BETWEEN {lo} AND {hi}")).collect()
    }

    pub fn contains(&self, seq: i64) -> bool {
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&seq))
    }
}

impl Staging {
    pub fn with_turn(turn: Turn) -> Staging {
        Staging { turn, ..Default::default() }
    }

    /// The reserved ranges now. A range is listed before anything is written in it
    /// and taken off only after its import was published or discarded.
    pub fn hidden(&self) -> Hidden {
        let blocks = self.blocks.read().unwrap_or_else(|p| p.into_inner());
        Hidden(blocks.iter().map(|b| (b.lo, b.hi)).collect())
    }

    fn list(&self, block: Block) {
        self.blocks.write().unwrap_or_else(|p| p.into_inner()).push(block);
    }

    fn unlist(&self, id: i64) {
        self.blocks.write().unwrap_or_else(|p| p.into_inner()).retain(|b| b.id != id);
    }

    /// The turn named `key`, made when nobody holds or awaits it.
    fn turn(&self, key: (String, String)) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.campaigns.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, l| l.strong_count() > 0);
        match locks.get(&key).and_then(Weak::upgrade) {
            Some(lock) => lock,
            None => {
                let lock = Arc::new(tokio::sync::Mutex::new(()));
                locks.insert(key, Arc::downgrade(&lock));
                lock
            }
        }
    }

    /// Waits for the campaign's turn among writers that add or remove its customers.
    pub async fn lock_campaign(&self, account_id: &str, campaign_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.turn((account_id.to_string(), campaign_id.to_string())).lock_owned().await
    }

    /// Waits for the account's turn among adds that make CRM contacts for phones no
    /// contact holds: two at once would each make one for the same phone. Taken
    /// after the campaign's turn, and never inside a step.
    pub async fn lock_contacts(&self, account_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.turn(contacts_turn(account_id)).lock_owned().await
    }

    /// As `lock_contacts`, from an import's blocking thread, between its steps.
    pub fn lock_contacts_blocking(&self, account_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.turn(contacts_turn(account_id)).blocking_lock_owned()
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction of its own, once it is this
    /// writer's turn; for a long write's steps, on its blocking thread.
    pub fn step<T>(&self, conn: &Connection, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let _turn = self.writer.blocking_lock();
        let _admin = self.turn.take();
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }
}

/// The contact blocks one import reserved, and the next rowid it will use.
#[derive(Debug, Default)]
pub struct Reserved {
    pub blocks: Vec<Block>,
    next: i64,
}

impl Reserved {
    /// The rowid for the next contact this import makes, reserving a block first
    /// when it has none left; inside a step's transaction.
    pub fn next_seq(&mut self, staging: &Staging, tx: &Connection, account_id: &str, portal: &str) -> StoreResult<i64> {
        if self.blocks.last().is_none_or(|b| self.next >= b.hi) {
            let block = reserve(tx, account_id, portal)?;
            staging.list(block);
            self.blocks.push(block);
            self.next = block.lo;
        }
        self.next += 1;
        Ok(self.next - 1)
    }
}

/// Reserves the rowids past every contact's: a placeholder row at the block's top
/// keeps other writers' new contacts above it.
fn reserve(tx: &Connection, account_id: &str, portal: &str) -> StoreResult<Block> {
    let lo: i64 = tx.query_row("SELECT COALESCE(max(seq), 0) + 1 FROM contacts", [], |r| r.get(0))?;
    let hi = lo + BLOCK_ROWS;
    tx.execute(
        "INSERT INTO contacts (seq, account_id, id, portal_id, created, updated) VALUES (?1, ?2, ?3, ?4, 0, 0)",
        (hi, account_id, format!("~staged-{hi}"), portal),
    )?;
    tx.execute(
        "INSERT INTO staged_blocks (account_id, lo, hi, created) VALUES (?1, ?2, ?3, ?4)",
        (account_id, lo, hi, now_secs()),
    )?;
    Ok(Block { id: tx.last_insert_rowid(), lo, hi })
}

/// Makes an import's contacts visible: inside the publishing transaction. The
/// blocks are unlisted by [`Staging::published`] once it has committed.
pub fn publish_blocks(tx: &Connection, reserved: &Reserved) -> StoreResult<()> {
    for block in &reserved.blocks {
        tx.execute("DELETE FROM contacts WHERE seq = ?1", [block.hi])?;
        tx.execute("DELETE FROM staged_blocks WHERE id = ?1", [block.id])?;
    }
    Ok(())
}

impl Staging {
    pub fn published(&self, reserved: &Reserved) {
        for block in &reserved.blocks {
            self.unlist(block.id);
        }
    }

    /// Removes what an import wrote and never published, a chunk per step: its
    /// campaign's staged customers (the campaign itself when the import made it)
    /// and the contacts of its blocks.
    pub fn discard(
        &self,
        conn: &Connection,
        account_id: &str,
        campaign: Option<&str>,
        blocks: &[Block],
    ) -> StoreResult<()> {
        if let Some(campaign) = campaign {
            self.discard_campaign(conn, account_id, campaign)?;
        }
        for block in blocks {
            self.discard_block(conn, *block)?;
        }
        Ok(())
    }

    /// A campaign's staged customers go, then its mark; a hidden campaign goes whole.
    pub fn discard_campaign(&self, conn: &Connection, account_id: &str, campaign: &str) -> StoreResult<()> {
        let state: Option<(Option<i64>, bool)> = conn
            .query_row(
                "SELECT staged_from, hidden FROM campaigns WHERE account_id = ?1 AND id = ?2",
                (account_id, campaign),
                |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)),
            )
            .optional()?;
        let Some((staged_from, hidden)) = state else {
            return Ok(());
        };
        let from = if hidden { i64::MIN } else { staged_from.unwrap_or(i64::MAX) };
        loop {
            let gone = self.step(conn, |tx| {
                Ok(tx.execute(
                    "DELETE FROM customers WHERE rowid IN (SELECT id FROM customers \
                     WHERE account_id = ?1 AND campaign_id = ?2 AND id >= ?3 LIMIT ?4)",
                    (account_id, campaign, from, CHUNK_ROWS as i64),
                )?)
            })?;
            if gone < CHUNK_ROWS {
                break;
            }
        }
        self.step(conn, |tx| {
            if hidden {
                tx.execute("DELETE FROM campaigns WHERE account_id = ?1 AND id = ?2", (account_id, campaign))?;
                tx.execute(
                    "DELETE FROM customer_counts WHERE account_id = ?1 AND campaign_id = ?2",
                    (account_id, campaign),
                )?;
            } else {
                tx.execute(
                    "UPDATE campaigns SET staged_from = NULL WHERE account_id = ?1 AND id = ?2",
                    (account_id, campaign),
                )?;
            }
            Ok(())
        })
    }

    fn discard_block(&self, conn: &Connection, block: Block) -> StoreResult<()> {
        loop {
            // Every rowid in the block is the import's: ranges of them go at once.
            let gone = self.step(conn, |tx| {
                let last: Option<i64> = tx.query_row(
                    "SELECT max(seq) FROM (SELECT seq FROM contacts WHERE seq BETWEEN ?1 AND ?2 \
                         ORDER BY seq LIMIT ?3)",
                    (block.lo, block.hi, (CHUNK_ROWS / 2) as i64),
                    |r| r.get(0),
                )?;
                let Some(last) = last else {
                    return Ok(false);
                };
                tx.execute("DELETE FROM contact_phones WHERE contact_rowid BETWEEN ?1 AND ?2", (block.lo, last))?;
                let seqs: Vec<i64> = tx
                    .prepare_cached("SELECT seq FROM contacts WHERE seq BETWEEN ?1 AND ?2")?
                    .query_map((block.lo, last), |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                for seq in seqs {
                    super::contacts::forget_words(tx, seq)?;
                }
                tx.execute("DELETE FROM contacts WHERE seq BETWEEN ?1 AND ?2", (block.lo, last))?;
                Ok(true)
            })?;
            if !gone {
                break;
            }
        }
        self.step(conn, |tx| Ok(tx.execute("DELETE FROM staged_blocks WHERE id = ?1", [block.id])?))?;
        self.unlist(block.id);
        Ok(())
    }

    /// After a crash: discards every import that was never published and finishes
    /// every campaign delete. Runs before the server serves anyone.
    pub fn recover(&self, conn: &Connection) -> StoreResult<usize> {
        let blocks: Vec<Block> = conn
            .prepare("SELECT id, lo, hi FROM staged_blocks ORDER BY id")?
            .query_map([], |r| Ok(Block { id: r.get(0)?, lo: r.get(1)?, hi: r.get(2)? }))?
            .collect::<Result<_, _>>()?;
        let campaigns: Vec<(String, String)> = conn
            .prepare("SELECT account_id, id FROM campaigns WHERE staged_from IS NOT NULL OR hidden = 1")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for block in &blocks {
            self.list(*block);
        }
        for (account_id, campaign) in &campaigns {
            self.discard_campaign(conn, account_id, campaign)?;
        }
        for block in &blocks {
            self.discard_block(conn, *block)?;
        }
        Ok(blocks.len() + campaigns.len())
    }
}
