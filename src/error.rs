//! The crate's error type. Each variant says which HTTP status it becomes; the mapping
//! itself (and the problem+json body) lives in `http::problem`, the only place that knows HTTP.

use crate::domain::grants::ConflictEntry;
use crate::input::InputError;

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
        grants: Vec<crate::domain::grants::GrantRef>,
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

impl From<Vec<InputError>> for Error {
    fn from(errors: Vec<InputError>) -> Error {
        Error::Invalid(errors)
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Error {
        Error::Invalid(vec![e])
    }
}

impl From<crate::input::Unreadable> for Error {
    fn from(e: crate::input::Unreadable) -> Error {
        Error::BadRequest(e.0)
    }
}

impl From<crate::domain::demand::synthesize::SynthesisError> for Error {
    fn from(e: crate::domain::demand::synthesize::SynthesisError) -> Error {
        Error::Internal(e.to_string())
    }
}

impl Error {
    /// A single located input error.
    pub fn invalid(pointer: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::Invalid(vec![InputError::at(pointer, detail)])
    }
}

/// Result with the crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
