//! The audit log's error.

use eventstream_sql::StoreError;

use super::merkle::ProofError;
use super::note::NoteError;

/// Why an audit operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The state store failed.
    #[error("audit store: {0}")]
    Store(#[from] StoreError),
    /// A key, note or checkpoint is invalid.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// A proof cannot be made or does not verify.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// No audited event has this id (in the tree asked for).
    #[error("no audited event {event_id}{}", tenant.as_ref().map(|t| format!(" of tenant {t}")).unwrap_or_default())]
    UnknownEvent {
        /// The id asked for.
        event_id: String,
        /// The tenant whose tree was asked for.
        tenant: Option<String>,
    },
    /// No signed checkpoint covers what was asked.
    #[error("no signed checkpoint {0}")]
    NoCheckpoint(String),
    /// The event's payload bytes were pruned, so its leaf can no longer be shown.
    #[error("event {event_id} was pruned: its bytes are gone (its leaf hash stays in the tree)")]
    Pruned {
        /// The event.
        event_id: String,
    },
    /// A request argument is out of range.
    #[error("{0}")]
    BadRequest(String),
    /// A stored row is malformed (wrong hash length, bad frontier).
    #[error("corrupt audit row: {0}")]
    Corrupt(String),
    /// The trusted-state file cannot be read or written.
    #[error("verify state file {path}: {source}")]
    StateFile {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl AuditError {
    /// Whether the caller asked for something wrong (an HTTP 4xx), rather than the store failing.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            AuditError::UnknownEvent { .. }
                | AuditError::NoCheckpoint(_)
                | AuditError::Pruned { .. }
                | AuditError::BadRequest(_)
                | AuditError::Proof(_)
        )
    }
}
