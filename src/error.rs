//! The crate's error type. Each variant says which HTTP status it becomes; the mapping
//! itself (and the problem+json body) lives in `http::problem`, the only place that knows HTTP.

use crate::grants::ConflictEntry;
use serde::Serialize;
use std::fmt;

/// One problem in the input: where (an RFC 6901 JSON pointer into the request body, or a
/// `line N` / `feature N` location for files) and what.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InputError {
    /// JSON pointer into the request body, e.g. `/geometry/coordinates/0/0/3`.
    pub pointer: String,
    /// What is wrong there.
    pub detail: String,
}

impl InputError {
    /// An error at `pointer`.
    pub fn at(pointer: impl Into<String>, detail: impl Into<String>) -> InputError {
        InputError { pointer: pointer.into(), detail: detail.into() }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() { write!(f, "{}", self.detail) } else { write!(f, "{}: {}", self.pointer, self.detail) }
    }
}

/// Everything that can go wrong in a request or command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request cannot be read at all (malformed JSON, bad query string).
    #[error("{0}")]
    BadRequest(String),
    /// 422: the request is readable but invalid; every problem is located.
    #[error("invalid input: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<InputError>),
    /// 404: a named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 409: a grant would break exclusivity; every conflicting grant is listed.
    #[error("{detail}")]
    Conflict {
        /// Human summary.
        detail: String,
        /// Every conflicting grant.
        conflicts: Vec<ConflictEntry>,
        /// Overlaps below the sliver tolerance.
        warnings: Vec<ConflictEntry>,
    },
    /// 409: an own outlet would stand outside its partner's grants or inside another
    /// partner's exclusive grant; the grants concerned are listed.
    #[error("{detail}")]
    Placement {
        /// Human summary.
        detail: String,
        /// The other partners' exclusive grants holding the point.
        grants: Vec<crate::outlets::GrantRef>,
    },
    /// 409: the request clashes with stored state (e.g. a duplicate code).
    #[error("{0}")]
    Duplicate(String),
    /// 409: the request needs data the network does not have yet (a demand grid).
    #[error("{0}")]
    NotReady(String),
    /// 500: the database failed; details are logged, not sent.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// 500: migrations failed.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// 500: anything else unexpected; details are logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A single located input error.
    pub fn invalid(pointer: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::Invalid(vec![InputError::at(pointer, detail)])
    }
}

/// Result with the crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
