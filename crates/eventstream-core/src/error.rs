//! The errors of the core vocabulary: decoding envelopes and talking to an event log.

use std::error::Error as StdError;

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
