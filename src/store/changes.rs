//! Has any connection, in this process or another, committed to the database lately?
//! Answered from memory: a background task asks SQLite on a connection of its own.
//!
//! `PRAGMA data_version` gives a number that changes whenever *another* connection has
//! committed to the file since this connection last asked (SQLite's documented way to
//! notice other writers). The watcher's connection never writes, so every commit by any
//! connection of any process (our pool's included) shows there. It asks every
//! [`POLL_EVERY`] and moves the [`Generation`] on when the number changed; this process's
//! own writes of what the memos hold (tokens) move it on at once ([`Changes::bump`]).
//!
//! So an answer kept under a generation is at most one poll (plus the poll's own time) older
//! than the database: a token revoked by another process is refused within
//! [`SEEN_WITHIN`], one revoked by this process at once.
//!
//! Nothing here opens SQLite's files by name. The connection is kept open for the life of
//! the store: SQLite's POSIX locks belong to the process and would be dropped by any close()
//! of the database or its `-shm`/`-wal` files, whoever made it (SQLite's "How To Corrupt An
//! SQLite Database File", §2.2).

use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the watcher asks SQLite whether anything was committed.
pub const POLL_EVERY: Duration = Duration::from_millis(100);

/// The documented bound: a commit by another process is seen within this (a poll, and
/// ample time for the poll itself on a loaded machine).
pub const SEEN_WITHIN: Duration = Duration::from_secs(1);

/// A count of the database changes seen so far; answers are kept per generation.
pub type Generation = u64;

/// Where commits by any connection show.
#[derive(Debug, Clone)]
pub struct Changes {
    generation: Arc<AtomicU64>,
    /// The watcher, stopped when the last clone is dropped.
    _watcher: Arc<Watcher>,
}

/// Aborts the watcher task (and so closes its connection) on drop.
#[derive(Debug)]
struct Watcher(tokio::task::JoinHandle<()>);

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Changes {
    /// Opens the watcher's own connection to the database `options` name and starts it.
    pub async fn watch(options: &SqliteConnectOptions) -> sqlx::Result<Changes> {
        let mut conn = options.clone().create_if_missing(false).connect().await?;
        let first = data_version(&mut conn).await?;
        let generation = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(poll(conn, first, generation.clone()));
        Ok(Changes { generation, _watcher: Arc::new(Watcher(task)) })
    }

    /// The generation now.
    pub fn generation(&self) -> Generation {
        self.generation.load(Ordering::Acquire)
    }

    /// Moves the generation on: this process has just committed a change to what the memos
    /// keep (called after the commit).
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

async fn data_version(conn: &mut SqliteConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("PRAGMA data_version").fetch_one(&mut *conn).await
}

/// Asks for `data_version` every [`POLL_EVERY`] and moves `generation` on when it changed.
/// A failed poll moves it on too: nothing is kept on a guess, so while polls fail, answers
/// live for one poll at most.
async fn poll(mut conn: SqliteConnection, mut last: i64, generation: Arc<AtomicU64>) {
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        match data_version(&mut conn).await {
            Ok(v) => {
                if v != last {
                    last = v;
                    generation.fetch_add(1, Ordering::AcqRel);
                }
                failing = false;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!("cannot ask the database for changes (token answers are kept for one poll at most until it can): {e}");
                }
                failing = true;
                generation.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}

/// Answers kept while the database is unchanged: cleared by the first [`Memo::get`] or
/// [`Memo::put`] of a new [`Generation`].
#[derive(Debug)]
pub struct Memo<K, V> {
    generation: Option<Generation>,
    answers: std::collections::HashMap<K, V>,
}

/// At most this many answers are kept per generation (enough for every token in use).
const MEMO_CAPACITY: usize = 4096;

impl<K: std::hash::Hash + Eq, V: Clone> Memo<K, V> {
    /// An empty memo.
    pub fn new() -> Memo<K, V> {
        Memo { generation: None, answers: std::collections::HashMap::new() }
    }

    /// The answer kept for `key`, if it was put under this same `generation`.
    pub fn get<Q: std::hash::Hash + Eq + ?Sized>(&mut self, generation: Generation, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.renew(generation);
        self.answers.get(key).cloned()
    }

    /// Keeps `value` for `key`, as read after `generation` was taken.
    pub fn put(&mut self, generation: Generation, key: K, value: V) {
        self.renew(generation);
        if self.answers.len() < MEMO_CAPACITY {
            self.answers.insert(key, value);
        }
    }

    fn renew(&mut self, generation: Generation) {
        if self.generation != Some(generation) {
            self.generation = Some(generation);
            self.answers.clear();
        }
    }
}

impl<K: std::hash::Hash + Eq, V: Clone> Default for Memo<K, V> {
    fn default() -> Self {
        Memo::new()
    }
}
