//! Hearing of API key changes made by any process (CONTRACT §2: a revoked key
//! answers 401): one connection of its own LISTENs on `callsheet_keys`, which a
//! trigger on `api_keys` notifies at every commit that changes a key (migration
//! 0010). Each notification moves a version; while the connection is not listening
//! (before its first LISTEN, or after it broke, until it is back) every answer is
//! a new version, so no remembered key is trusted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio_postgres::AsyncMessage;

/// How long the watcher waits before it connects again after losing its connection.
const RETRY: Duration = Duration::from_secs(1);

pub struct KeyWatch {
    version: AtomicU64,
    listening: AtomicBool,
    started: std::sync::Once,
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
}

impl KeyWatch {
    pub fn new(config: tokio_postgres::Config, tls: tokio_postgres_rustls::MakeRustlsConnect) -> KeyWatch {
        KeyWatch {
            version: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            started: std::sync::Once::new(),
            config,
            tls,
        }
    }

    /// The current version; the first call starts the watcher (servers only ask).
    pub fn version(self: &Arc<Self>) -> u64 {
        self.started.call_once(|| {
            tokio::spawn(watch(Arc::downgrade(self)));
        });
        match self.listening.load(Ordering::Acquire) {
            true => self.version.load(Ordering::Acquire),
            false => self.version.fetch_add(1, Ordering::AcqRel) + 1,
        }
    }

    fn moved(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }
}

/// Listens for as long as the store lives, connecting again whenever it must.
async fn watch(watch: std::sync::Weak<KeyWatch>) {
    loop {
        let Some(w) = watch.upgrade() else { return };
        let (config, tls) = (w.config.clone(), w.tls.clone());
        drop(w);
        match config.connect(tls).await {
            Ok((client, mut connection)) => {
                let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                let listen = client.batch_execute("LISTEN callsheet_keys");
                tokio::pin!(listen);
                let mut listened = false;
                loop {
                    tokio::select! {
                        done = &mut listen, if !listened => {
                            listened = true;
                            if let Err(e) = done {
                                tracing::warn!("cannot listen for API key changes: {e}");
                                break;
                            }
                            let Some(w) = watch.upgrade() else { return };
                            // Keys remembered before now were read unheard: move past them.
                            w.moved();
                            w.listening.store(true, Ordering::Release);
                        }
                        message = messages.next() => match message {
                            Some(Ok(AsyncMessage::Notification(_))) => match watch.upgrade() {
                                Some(w) => w.moved(),
                                None => return,
                            },
                            Some(Ok(_)) => {}
                            Some(Err(e)) => {
                                tracing::warn!("the connection listening for API key changes broke: {e}");
                                break;
                            }
                            None => break,
                        },
                        _ = tokio::time::sleep(RETRY) => if watch.strong_count() == 0 {
                            return;
                        },
                    }
                }
            }
            Err(e) => tracing::warn!("cannot connect to listen for API key changes: {e}"),
        }
        match watch.upgrade() {
            Some(w) => w.listening.store(false, Ordering::Release),
            None => return,
        }
        tokio::time::sleep(RETRY).await;
    }
}
