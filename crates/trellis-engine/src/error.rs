//! What the engine answers when it says no. The server maps each variant to
//! one HTTP status and problem type; only [`EngineError::Store`] is a fault.

use trellis_core::Issue;
use trellis_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// Fields the user may not write (hidden or read-only for their role), each at its pointer.
    #[error("{} field(s) the user may not write", .0.len())]
    Refused(Vec<Issue>),
    #[error("{0}")]
    NotFound(String),
    /// The record existed and was deleted; it can be restored.
    #[error("{0}")]
    Gone(String),
    /// A public link that expired, was switched off, or lost its maker.
    #[error("{0}")]
    LinkGone(String),
    /// The input does not check: every problem, each with a pointer.
    #[error("{} problem(s) with the submitted data", .0.len())]
    Invalid(Vec<Issue>),
    /// A request parameter (filter, sort, cursor, limit) is not understood.
    #[error("{message}")]
    BadRequest { param: &'static str, message: String },
    /// A list request (filter, sort, cursor, limit) is not understood; a
    /// refused filter points at the part of it that was refused.
    #[error("{0}")]
    Query(trellis_core::query::QueryError),
    /// A unique key is already taken, or the state does not allow this.
    #[error("{message}")]
    /// `zh`: the message in Chinese, when it names what people know (a field's title).
    Conflict { message: String, key: Option<Vec<String>>, zh: Option<String> },
    /// Publishing a form would leave stored records without a value in fields
    /// the new version requires: each such field with how many lack it.
    #[error("{message}")]
    RecordsWouldFail { message: String, zh: String, missing: Vec<crate::forms::MissingField> },
    /// `If-Match` named a revision that is no longer current.
    #[error("the record is at revision {current}, not {expected}")]
    Stale { expected: i64, current: i64 },
    /// A rule failed while evaluating a record: the write is refused.
    #[error("{}", .0.message())]
    Rule(Box<trellis_core::rules::RuleFailure>),
    /// A transition's guard said no, with its message.
    #[error("{0}")]
    Guard(String),
    /// Workflows could not finish what a write set off (a loop, a missing user).
    #[error("{0}")]
    Workflow(String),
    /// A template pack does not check: every problem at its file, line and column.
    #[error("the pack has {} problem(s)", .0.len())]
    Pack(Vec<trellis_core::pack::PackIssue>),
    /// Too many attempts (sign-ins with a wrong password): try again after `retry_after` seconds.
    #[error("{message}")]
    TooMany { message: String, retry_after: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl From<trellis_core::query::QueryError> for EngineError {
    fn from(e: trellis_core::query::QueryError) -> Self {
        EngineError::Query(e)
    }
}
