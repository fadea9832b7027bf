//! Operations on dead letters that need the log: retrying one re-delivers it to its subscriber only.
//!
//! A retry appends the stored event again, with the same id and `meta.redeliver_to = <subscriber>`: every
//! other subscriber acks it without processing, and the failed subscriber, which has no inbox row for the
//! event (its failed attempts rolled back), handles it like a new delivery. This works across processes:
//! `brain dlq retry` does not need the server to be the one running it.

use std::sync::Arc;

use eventstream_core::{Event, EventLog, LogError, Position};
use eventstream_sql::{DeadLetterId, DeadLetterKind, DeadLetterStatus, StateStore, StoreError};

use crate::runtime::REDELIVER_TO_META_KEY;

/// Why a dead letter cannot be retried.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    /// No dead letter has this id (or it is not visible to the caller's tenant).
    #[error("dead letter {0} not found")]
    NotFound(DeadLetterId),
    /// It was already retried or discarded.
    #[error("dead letter {id} is {status}, not open")]
    NotOpen {
        /// The dead letter.
        id: DeadLetterId,
        /// Its status.
        status: DeadLetterStatus,
    },
    /// The stored entry was undecodable: there is no event to deliver again.
    #[error("dead letter {0} holds an undecodable entry; it can only be discarded")]
    Undecodable(DeadLetterId),
    /// The log refused the re-append.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Re-delivers dead letter `id` to its subscriber; returns the new position. The dead letter is marked
/// `retried`; if the handler fails again a new dead letter is recorded.
///
/// # Errors
/// [`DlqError`] naming why.
pub async fn retry_dead_letter(log: &Arc<dyn EventLog>, store: &StateStore, id: DeadLetterId) -> Result<Position, DlqError> {
    let dl = store.get_dead_letter(id).await?.ok_or(DlqError::NotFound(id))?;
    if dl.status != DeadLetterStatus::Open {
        return Err(DlqError::NotOpen { id, status: dl.status });
    }
    let mut event: Event = match dl.decode_event() {
        Ok(e) if dl.kind != DeadLetterKind::Undecodable => e,
        _ => return Err(DlqError::Undecodable(id)),
    };
    event.meta.extra.insert(REDELIVER_TO_META_KEY.into(), dl.subscriber.to_string().into());
    // Claim the retry first (one-shot), so two concurrent retries cannot both re-deliver.
    if store.mark_dead_letter_retried(id).await?.is_none() {
        return Err(DlqError::NotOpen { id, status: DeadLetterStatus::Retried });
    }
    store.clear_retry_state(&dl.subscriber, &event.id).await?;
    let positions = log.append(std::slice::from_ref(&event)).await?;
    positions.into_iter().next().ok_or(DlqError::Log(LogError::Closed))
}
