//! Replay: move a subscriber back to a position or time so it runs again over the events after it.
//!
//! Without `reprocess`, the inbox still holds the events the subscriber processed, so they are acked
//! without calling the handler: only events it has not processed (new handler types, rows purged by
//! retention, events it skipped) take effect. With `reprocess` the inbox rows of every event in the range
//! are deleted first, so every event is handled again (a backfill). Handlers must then be written for it.

use std::sync::Arc;
use std::time::Duration;

use eventstream_core::{EventLog, GroupName, LogError, StartFrom};
use eventstream_sql::{EventKey, ForgetScope, StateStore, StoreError};

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The log failed (including an unknown subscriber: [`LogError::UnknownGroup`]).
    #[error(transparent)]
    Log(#[from] LogError),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplayReport {
    /// Events in the replayed range (counted only with `reprocess`).
    pub events_in_range: u64,
    /// Inbox rows removed (only with `reprocess`).
    pub inbox_rows_removed: u64,
}

/// Moves `subscriber` to `from`; with `reprocess`, clears its inbox rows for the range first.
/// `progress(done, total)` is called as the range is scanned.
///
/// # Errors
/// [`ReplayError`]; an unknown subscriber is `ReplayError::Log(LogError::UnknownGroup)`.
pub async fn replay(
    log: &Arc<dyn EventLog>,
    store: &StateStore,
    subscriber: &GroupName,
    from: &StartFrom,
    reprocess: bool,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<ReplayReport, ReplayError> {
    let info = log.group_info(subscriber).await?;
    let mut report = ReplayReport::default();
    if reprocess {
        let total = info.lag(); // a lower bound for the progress bar; grows as we scan
        let mut cursor = from.clone();
        let mut done = 0u64;
        loop {
            let page = log.read(&cursor, 1000, Duration::ZERO).await?;
            let Some(last) = page.last() else { break };
            cursor = StartFrom::After(last.position.clone());
            // Keyed by (tenant, id): another tenant's event with the same id keeps its row.
            let keys: Vec<EventKey> = page.iter().filter_map(|r| r.event.as_ref().ok().map(EventKey::of)).collect();
            report.inbox_rows_removed += store.forget_processed(subscriber, ForgetScope::Events(&keys)).await?;
            done += page.len() as u64;
            progress(done, total.max(done));
        }
        report.events_in_range = done;
    }
    log.set_group_position(subscriber, from).await?;
    Ok(report)
}
