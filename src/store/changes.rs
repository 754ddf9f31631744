//! Has any connection, in this process or another, committed to the database since a given
//! moment? Answered without a query, from SQLite's WAL index.
//!
//! In WAL mode every connection to the file shares the WAL index, the `-shm` file beside the
//! database, whose header (stored twice, 2 × 48 bytes at its start) holds the transaction
//! counter, the last valid frame and their checksums. Every commit rewrites it: this is how
//! SQLite's own readers notice other writers (see "The WAL-Index Format" in SQLite's file
//! format document). Reading those 96 bytes costs a few system calls; a query costs a round
//! trip to sqlx's connection thread. Answers that may only change with a commit (the tokens)
//! are kept for as long as the header reads the same.
//!
//! A header that reads differently without a commit (a checkpoint restarting the log, a
//! write caught half-way) only costs a query; a commit always changes it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The WAL index's header at one moment (both copies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark([u8; 96]);

/// Where to read the database's [`Mark`].
#[derive(Debug, Clone)]
pub struct Changes {
    shm: PathBuf,
}

impl Changes {
    /// For the database file at `db`.
    pub fn of(db: &Path) -> Changes {
        let mut shm = db.as_os_str().to_owned();
        shm.push("-shm");
        Changes { shm: PathBuf::from(shm) }
    }

    /// The header now, or `None` if it cannot be read (no WAL index: nothing may be kept).
    ///
    /// The file is opened each time, by name: a WAL index deleted and made again (when every
    /// connection has closed) is then never mistaken for the old one.
    pub fn mark(&self) -> Option<Mark> {
        let file = File::open(&self.shm).ok()?;
        let mut header = [0u8; 96];
        file.read_exact_at(&mut header, 0).ok()?;
        Some(Mark(header))
    }
}

/// Answers kept while the database is unchanged: cleared by the first [`Memo::get`] or
/// [`Memo::put`] that sees a new [`Mark`].
#[derive(Debug)]
pub struct Memo<K, V> {
    mark: Option<Mark>,
    answers: std::collections::HashMap<K, V>,
}

/// At most this many answers are kept per mark (enough for every token in use).
const MEMO_CAPACITY: usize = 4096;

impl<K: std::hash::Hash + Eq, V: Clone> Memo<K, V> {
    /// An empty memo.
    pub fn new() -> Memo<K, V> {
        Memo { mark: None, answers: std::collections::HashMap::new() }
    }

    /// The answer kept for `key`, if it was put under this same `mark`.
    pub fn get<Q: std::hash::Hash + Eq + ?Sized>(&mut self, mark: Mark, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.renew(mark);
        self.answers.get(key).cloned()
    }

    /// Keeps `value` for `key`, as read after `mark` was taken.
    pub fn put(&mut self, mark: Mark, key: K, value: V) {
        self.renew(mark);
        if self.answers.len() < MEMO_CAPACITY {
            self.answers.insert(key, value);
        }
    }

    fn renew(&mut self, mark: Mark) {
        if self.mark != Some(mark) {
            self.mark = Some(mark);
            self.answers.clear();
        }
    }
}

impl<K: std::hash::Hash + Eq, V: Clone> Default for Memo<K, V> {
    fn default() -> Self {
        Memo::new()
    }
}
