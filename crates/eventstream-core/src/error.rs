//! The errors of the core vocabulary: decoding envelopes and talking to an event log, and the one way
//! the workspace prints an error with its causes ([`chain`], [`root`]).
//!
//! # Convention
//! An error's `Display` says what failed at its own level and leaves the cause out; the cause is its
//! `source()` (thiserror's `#[source]`). Whoever prints an error for people (a log line, a dead letter's
//! `error` column, the CLI's last line) prints [`chain`], never `to_string()` alone, so the root cause (the
//! database's own message, the refused connection) is never lost.

use std::error::Error as StdError;
use std::fmt;

/// An envelope could not be decoded. `field` names the offending field (`""` for the whole input,
/// `meta.schema_version` for nested keys).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", if field.is_empty() { String::new() } else { format!("field `{field}` ") })]
pub struct DecodeError {
    /// The field that is missing or invalid.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
    /// The entry's event type, when it could be read before the failure: a consumer that does not want
    /// that type can skip the entry instead of dead-lettering it.
    pub event_type: Option<crate::EventType>,
}

impl DecodeError {
    /// A decode error for `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into(), event_type: None }
    }

    /// Records the entry's event type.
    #[must_use]
    pub fn with_event_type(mut self, t: crate::EventType) -> Self {
        self.event_type = Some(t);
        self
    }
}

/// A boxed source error from a backend's client library.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An [`crate::EventLog`] operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The backend cannot be reached right now (connection refused, timeout, server restarting).
    /// Retrying later may succeed.
    #[error("event log unavailable: {context}")]
    Unavailable {
        /// What was being done.
        context: String,
        /// The client library's error.
        #[source]
        source: BoxError,
    },
    /// The consumer group does not exist; call `ensure_group` first.
    #[error("unknown consumer group `{0}`")]
    UnknownGroup(String),
    /// A position that this backend never issued or cannot parse.
    #[error("invalid position `{position}`: {reason}")]
    InvalidPosition {
        /// The rejected position.
        position: String,
        /// Why it is rejected.
        reason: String,
    },
    /// An event could not be encoded for this backend.
    #[error("event `{id}` cannot be stored: {reason}")]
    Encode {
        /// The event id.
        id: String,
        /// Why.
        reason: String,
    },
    /// The backend failed in a way retrying will not fix (corrupt file, permission denied, bad config).
    #[error("event log failure: {context}")]
    Storage {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The log was closed.
    #[error("event log is closed")]
    Closed,
}

impl LogError {
    /// Whether retrying the same call later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, LogError::Unavailable { .. } | LogError::Closed)
    }

    /// An [`LogError::Unavailable`] with context.
    pub fn unavailable(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        LogError::Unavailable { context: context.into(), source: source.into() }
    }

    /// A [`LogError::Storage`] with context.
    pub fn storage(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        LogError::Storage { context: context.into(), source: source.into() }
    }
}

/// `err` and every cause below it, outermost first, joined by `": "`: `"top: cause: root"`.
///
/// A cause whose text the level above already ends with is not printed again: some libraries (sqlx,
/// for one) put their source into their own `Display` as well, and the chain must not say it twice.
pub fn chain(err: &dyn StdError) -> String {
    Chain(err).to_string()
}

/// The same as [`chain`], as a `Display` adapter for log fields: `error = %Chain(&e)`.
#[derive(Debug, Clone, Copy)]
pub struct Chain<'a>(pub &'a dyn StdError);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut above = self.0.to_string();
        f.write_str(&above)?;
        let mut cur = self.0.source();
        while let Some(cause) = cur {
            let text = cause.to_string();
            if !text.is_empty() && !above.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            above = text;
            cur = cause.source();
        }
        Ok(())
    }
}

/// The innermost cause of `err` (`err` itself when it has no source): where a library puts the detail
/// a caller parses, e.g. serde's `"field: message"` under axum's rejection.
pub fn root<'a>(err: &'a (dyn StdError + 'static)) -> &'a (dyn StdError + 'static) {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test error: its own message and an optional cause; `repeat` puts the cause into its `Display`
    /// too, as some libraries do.
    #[derive(Debug)]
    struct E {
        msg: &'static str,
        cause: Option<Box<E>>,
        repeat: bool,
    }

    impl fmt::Display for E {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match (&self.cause, self.repeat) {
                (Some(c), true) => write!(f, "{}: {c}", self.msg),
                _ => f.write_str(self.msg),
            }
        }
    }

    impl StdError for E {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.cause.as_deref().map(|c| c as &(dyn StdError + 'static))
        }
    }

    fn e(msg: &'static str, cause: Option<E>, repeat: bool) -> E {
        E { msg, cause: cause.map(Box::new), repeat }
    }

    #[test]
    fn chain_prints_every_cause_outermost_first() {
        let err = e("top", Some(e("cause", Some(e("root", None, false)), false)), false);
        assert_eq!(chain(&err), "top: cause: root");
        assert_eq!(Chain(&err).to_string(), "top: cause: root");
        assert_eq!(root(&err).to_string(), "root");
    }

    #[test]
    fn chain_of_an_error_without_source_is_its_message() {
        let err = e("alone", None, false);
        assert_eq!(chain(&err), "alone");
        assert_eq!(root(&err).to_string(), "alone");
    }

    #[test]
    fn chain_does_not_repeat_a_cause_already_in_the_message() {
        // "query failed" -> sqlx-like "error returned from database: no such table" (repeats its source)
        // -> "no such table".
        let err = e("query failed", Some(e("error returned from database", Some(e("no such table: t", None, false)), true)), false);
        assert_eq!(chain(&err), "query failed: error returned from database: no such table: t");
    }

    #[test]
    fn chain_walks_log_errors() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let err = LogError::unavailable("appending 1 event", io);
        assert_eq!(chain(&err), "event log unavailable: appending 1 event: connection refused");
    }
}
