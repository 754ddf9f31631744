//! Persistence: SQLite through sqlx. All SQL lives in this module.
//!
//! The database is the truth; the in-memory caches (regions, the grant index) are rebuilt
//! from it at start. Grant decisions run inside one `BEGIN IMMEDIATE` transaction, which
//! takes SQLite's write lock up front, so check and insert are atomic across threads and
//! across processes sharing the file.

pub mod demand;
pub mod grants;
pub mod networks;
pub mod outlets;
pub mod regions;
pub mod scoring_runs;
pub mod tokens;

use crate::error::Result;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::path::Path;
use std::time::Duration;

/// A write transaction holding SQLite's write lock.
pub type WriteTx = Transaction<'static, Sqlite>;

/// The database.
#[derive(Debug, Clone)]
pub struct Store {
    /// The connection pool.
    pub pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) and migrates the database file at `path`.
    ///
    /// WAL journal with `synchronous = FULL`: a commit is on disk before it is acknowledged.
    pub async fn open(path: &Path) -> Result<Store> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store { pool })
    }

    /// Begins a write transaction that holds the write lock from its first statement.
    pub async fn begin_write(&self) -> Result<WriteTx> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Now, as RFC 3339 UTC text (the format of every stored timestamp).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
