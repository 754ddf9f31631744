//! The crate's error type. Each variant says which HTTP status it becomes; the mapping
//! itself (and the problem+json body) lives in `http::problem`, the only place that knows
//! HTTP. Causes are kept as sources (logged, never sent), not flattened into text.

use crate::domain::access::Denied;
use crate::domain::grants::{SeenConflict, SeenGrantRef};
use crate::input::{InputError, Unreadable};

/// Everything that can go wrong in a request or command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request cannot be read at all (malformed JSON, bad query string).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no token where one is needed, or an unknown or revoked one.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the caller's role or scope does not allow this.
    #[error(transparent)]
    Forbidden(#[from] Denied),
    /// 404: a named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route does not take this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: a grant would break exclusivity; every conflicting grant is listed, as the
    /// caller may see it.
    #[error("{detail}")]
    Conflict {
        /// Human summary.
        detail: String,
        /// Every conflicting grant.
        conflicts: Vec<SeenConflict>,
        /// Overlaps below the sliver tolerance.
        warnings: Vec<SeenConflict>,
    },
    /// 409: an own outlet would stand outside its partner's grants or inside another
    /// partner's exclusive grant; the grants concerned are listed, as the caller may see them.
    #[error("{detail}")]
    Placement {
        /// Human summary.
        detail: String,
        /// The other partners' exclusive grants holding the point.
        grants: Vec<SeenGrantRef>,
    },
    /// 409: the action would break the standard (outlets left outside their partner's
    /// grants, ...); it is taken only with `"force": true`.
    #[error("{detail}")]
    WouldBreak {
        /// Human summary.
        detail: String,
        /// The breaches it would add.
        breaks: Vec<crate::domain::compliance::Breach>,
    },
    /// 409: the request clashes with stored state (a duplicate code, a closed outlet, a
    /// revoked grant).
    #[error("{0}")]
    Duplicate(String),
    /// 409: the request needs data the network does not have yet (a demand grid).
    #[error("{0}")]
    NotReady(String),
    /// 413: the request body is larger than the route takes.
    #[error("{0}")]
    TooLarge(String),
    /// 422: the request is readable but invalid; every problem is located.
    #[error("invalid input: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<InputError>),
    /// 503 with `Retry-After`: the service is busy, or the request ran out of time.
    #[error("{detail}")]
    Busy {
        /// Human summary.
        detail: String,
        /// Seconds to wait before trying again.
        retry_after: u64,
    },
    /// 500: the database failed; details are logged, not sent.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// 500: migrations failed.
    #[error("migration error")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// 500: work moved off the async threads failed (it panicked).
    #[error("a background task failed")]
    Task(#[from] tokio::task::JoinError),
    /// 500: a file of ours could not be read or written.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// 500: data of ours (stored rows, bundled files, an answer being written) could not
    /// be read or written; the cause is kept and logged.
    #[error("{context}")]
    Data {
        /// What was being read or written.
        context: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// 500: anything else unexpected; details are logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::budget::OutOfTime> for Error {
    fn from(_: crate::budget::OutOfTime) -> Error {
        Error::Busy {
            detail: "the request ran out of its time and was stopped; nothing it started was kept (ask for less at once, or try again later)".into(),
            retry_after: 5,
        }
    }
}

impl Error {
    /// A single located input error.
    pub fn invalid(pointer: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::Invalid(vec![InputError::at(pointer, detail)])
    }

    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }

    /// A failure to read or write data of ours, with what was being done.
    pub fn data<E: Into<Box<dyn std::error::Error + Send + Sync>>>(context: impl Into<String>) -> impl FnOnce(E) -> Error {
        let context = context.into();
        move |source| Error::Data { context, source: source.into() }
    }

    /// A serde_json error as an input error: malformed JSON is a 400 naming the line and
    /// column; JSON of the wrong shape a 422 (serde knows no JSON pointer; the message names
    /// the field and the line/column).
    pub fn json(e: &serde_json::Error) -> Error {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => Error::Invalid(vec![InputError::at("", e.to_string())]),
            _ => Error::BadRequest(format!("malformed JSON at line {} column {}: {e}", e.line(), e.column())),
        }
    }

    /// Whether this is the service's fault (logged with its causes) rather than the caller's.
    pub fn is_internal(&self) -> bool {
        matches!(self, Error::Database(_) | Error::Migrate(_) | Error::Task(_) | Error::Io { .. } | Error::Data { .. } | Error::Internal(_))
    }
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

impl From<crate::input::JsonError> for Error {
    fn from(e: crate::input::JsonError) -> Error {
        match e {
            crate::input::JsonError::Malformed(e) => Error::json(&e),
            crate::input::JsonError::Invalid(e) => Error::Invalid(vec![e]),
        }
    }
}

impl From<Unreadable> for Error {
    fn from(e: Unreadable) -> Error {
        Error::BadRequest(e.0)
    }
}

impl From<crate::domain::demand::synthesize::SynthesisError> for Error {
    fn from(e: crate::domain::demand::synthesize::SynthesisError) -> Error {
        Error::Internal(e.to_string())
    }
}

/// Result with the crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
