//! Persistence: SQLite through sqlx. All SQL lives in this module.
//!
//! The database is the truth; the in-memory caches (regions, the grant index) are rebuilt
//! from it at start. Grant decisions run inside one `BEGIN IMMEDIATE` transaction, which
//! takes SQLite's write lock up front, so check and insert are atomic across threads and
//! across processes sharing the file.

pub mod changes;
pub mod demand;
pub mod grants;
pub mod models;
pub mod networks;
pub mod outlets;
pub mod regions;
pub mod sales;
pub mod scoring_runs;
pub mod tokens;

use crate::domain::access::TokenInfo;
use crate::error::{Error, Result};
use changes::{Changes, Memo};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A write transaction holding SQLite's write lock.
pub type WriteTx = Transaction<'static, Sqlite>;

/// The database.
#[derive(Debug, Clone)]
pub struct Store {
    /// The connection pool.
    pub pool: SqlitePool,
    /// The background checkpoint task, stopped when the last clone of the store is dropped.
    _checkpointer: Arc<Checkpointer>,
    /// Where commits by any connection show.
    changes: Changes,
    /// Token lookups, kept until a commit is seen (every request asks one).
    tokens: Arc<Mutex<TokenMemo>>,
    /// Partner lookups, kept until a commit is seen (every grant check asks one).
    partners: Arc<Mutex<PartnerMemo>>,
}

/// Partners by (network, id), kept while no commit is seen (see [`changes`]).
type PartnerMemo = Memo<(String, i64), Option<crate::domain::network::Partner>>;

/// Token lookups kept while no commit is seen (see [`changes`]).
#[derive(Debug, Default)]
struct TokenMemo {
    /// Whether any token was ever made.
    any_token: Memo<(), bool>,
    /// The active token of each hash asked for.
    by_hash: Memo<String, Option<TokenInfo>>,
}

/// Aborts the background checkpoint task on drop.
#[derive(Debug)]
struct Checkpointer(tokio::task::JoinHandle<()>);

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database file at `path`.
    ///
    /// WAL journal with `synchronous = FULL`: a commit is on disk before it is acknowledged.
    /// Checkpoints run in a background task (see [`checkpoint_in_background`]), not in the
    /// commit that happens to fill the log.
    pub async fn open(path: &Path) -> Result<Store> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .pragma("wal_autocheckpoint", "0")
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let changes = Changes::watch(&options).await?;
        let checkpointer = Arc::new(Checkpointer(tokio::spawn(checkpoint_in_background(pool.clone()))));
        Ok(Store { pool, _checkpointer: checkpointer, changes, tokens: Arc::default(), partners: Arc::default() })
    }

    /// Writes a consistent copy of the database to the new file `to`, while this and other
    /// processes keep reading and writing (`VACUUM INTO`: one read transaction, so the copy
    /// is the database as of one commit).
    ///
    /// SQLite writes the copy to a temporary name beside `to` and does not sync it; once its
    /// connection to that copy is closed (when `VACUUM INTO` returns), the copy is synced
    /// here and linked to `to` (which must not exist, checked by the link itself). This
    /// opens only the copy, never the live database's files.
    pub async fn backup(&self, to: &Path) -> Result<u64> {
        let io = |what: &str, e: std::io::Error| Error::BadRequest(format!("{what} {}: {e}", to.display()));
        if to.exists() {
            return Err(Error::BadRequest(format!("{} exists already; a backup never overwrites a file", to.display())));
        }
        let dir = to.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = to.file_name().ok_or_else(|| Error::BadRequest(format!("{} is not a file name", to.display())))?;
        let mut partial_name = std::ffi::OsString::from(".");
        partial_name.push(name);
        partial_name.push(format!(".partial-{}", std::process::id()));
        let partial = dir.join(partial_name);
        let partial_text = partial.to_str().ok_or_else(|| Error::BadRequest(format!("{} is not UTF-8", partial.display())))?;
        let _ = std::fs::remove_file(&partial);
        let copied = sqlx::query("VACUUM INTO ?").bind(partial_text).execute(&self.pool).await;
        let finish = || -> std::io::Result<u64> {
            let file = std::fs::File::open(&partial)?;
            file.sync_all()?;
            let bytes = file.metadata()?.len();
            std::fs::hard_link(&partial, to)?;
            std::fs::remove_file(&partial)?;
            std::fs::File::open(dir)?.sync_all()?;
            Ok(bytes)
        };
        let done = match copied {
            Ok(_) => finish().map_err(|e| io("writing the backup", e)),
            Err(e) => Err(e.into()),
        };
        if done.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        done
    }

    /// Begins a write transaction that holds the write lock from its first statement.
    pub async fn begin_write(&self) -> Result<WriteTx> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// How often the background task copies committed WAL frames into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Copies the write-ahead log into the database file every [`CHECKPOINT_EVERY`], for as
/// long as the store lives.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses 1,000 log pages, so
/// that one commit also writes and syncs the database file: with whole-city geometries
/// (tens of KB a grant) it happened every few dozen grants and was the p99 of a grant.
/// A `PASSIVE` checkpoint here never blocks writers; they keep appending while it copies,
/// and the log restarts from the beginning once it has been copied completely.
async fn checkpoint_in_background(pool: SqlitePool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::warn!("WAL checkpoint failed: {e}");
        }
    }
}

/// Now, as RFC 3339 UTC text (the format of every stored timestamp).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
