//! Operations on dead letters that need the log: retrying one re-delivers it to its subscriber only.
//!
//! A retry appends the stored event again, with the same id and `meta.redeliver_to = <subscriber>`: every
//! other subscriber acks it without processing, and the failed subscriber, which has no inbox row for the
//! event (its failed attempts rolled back), handles it like a new delivery. This works across processes:
//! `brain dlq retry` does not need the server to be the one running it.
//!
//! The letter is marked `retried` only after the log accepted the event: a retry during a log outage
//! fails (the caller is told to retry later) and leaves the letter `open`, never stranded.

use std::sync::Arc;

use eventstream_core::{Event, EventLog, LogError, Position};
use eventstream_sql::{DeadLetter, DeadLetterId, DeadLetterKind, DeadLetterStatus, NewDeadLetter, StateStore, StoreError};

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
/// `retried` only once the event is durable in the log; if the handler fails again a new dead letter is
/// recorded.
///
/// Order of work, and why:
/// 1. The letter must be open and hold a decodable event.
/// 2. The event is appended again (same id, addressed to the subscriber). If the log is down this fails
///    and nothing else has changed: the letter stays `open` and can be retried later.
/// 3. Only then is the letter marked `retried`, with a compare-and-set on `open`. Two concurrent retries
///    of one letter may both append; the subscriber's inbox (keyed on the event id) lets only one copy
///    have an effect, so the event is still handled once.
/// 4. If the redelivered copy failed again *before* step 3 (a fast handler), its failure was merged into
///    this still-open letter and step 3 just closed it. That failure is put back as a new open letter,
///    so it is not hidden under `retried`.
///
/// If the state store fails after the append, the letter stays open although the event was appended: a
/// later retry appends it once more and the inbox drops the second copy.
///
/// # Errors
/// [`DlqError::NotFound`], [`DlqError::NotOpen`], [`DlqError::Undecodable`]; [`DlqError::Log`] when the
/// log refused the append (the letter is unchanged); [`DlqError::Store`].
pub async fn retry_dead_letter(log: &Arc<dyn EventLog>, store: &StateStore, id: DeadLetterId) -> Result<Position, DlqError> {
    let dl = store.get_dead_letter(id).await?.ok_or(DlqError::NotFound(id))?;
    if dl.status != DeadLetterStatus::Open {
        return Err(DlqError::NotOpen { id, status: dl.status });
    }
    let mut event: Event = match dl.decode_event() {
        Ok(e) if dl.letter.kind != DeadLetterKind::Undecodable => e,
        _ => return Err(DlqError::Undecodable(id)),
    };
    event.meta.extra.insert(REDELIVER_TO_META_KEY.into(), dl.letter.subscriber.to_string().into());
    // The redelivery starts with a fresh attempt count. Clearing it before the append is harmless when
    // the append fails: the letter is open and its attempts are kept in the letter itself.
    store.clear_retry_state(&dl.letter.subscriber, &eventstream_sql::EventKey::of(&event)).await?;
    let positions = log.append(std::slice::from_ref(&event)).await?;
    let position = positions
        .into_iter()
        .next()
        .ok_or_else(|| LogError::storage("appending a dead letter's event again", "the log returned no position for the event"))?;
    if let Some(closed) = store.mark_dead_letter_retried(id).await? {
        reopen_merged_failure(store, &dl, &closed).await?;
    }
    // `None`: a concurrent retry (or a discard) resolved the letter first; the copy appended here is a
    // duplicate that the subscriber's inbox drops.
    Ok(position)
}

/// When the letter `closed` (as marked `retried`) has more attempts than `before` (as read before the
/// append), the redelivered event failed again in between and the runtime merged that failure into the
/// open letter. Records that failure as a new open letter.
async fn reopen_merged_failure(store: &StateStore, before: &DeadLetter, closed: &DeadLetter) -> Result<(), DlqError> {
    let (closed, before) = (&closed.letter, &before.letter);
    if closed.attempts <= before.attempts && closed.last_failed_at == before.last_failed_at {
        return Ok(());
    }
    let again = NewDeadLetter {
        attempts: closed.attempts.saturating_sub(before.attempts).max(1),
        first_failed_at: closed.last_failed_at,
        ..closed.clone()
    };
    store.add_dead_letter(&again).await?;
    Ok(())
}
