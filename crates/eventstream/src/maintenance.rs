//! The retention task every embedding of the runtime needs: inbox rows (`processed_events`) and retry
//! state older than the dedup retention are deleted, and the stream is trimmed when the log can be
//! trimmed and a limit is set. Runs once at start and then every [`RetentionPolicy::interval`]; each
//! failure is logged with its cause chain and the next round tries again.
//!
//! Trimming is backend-specific (only Redis Streams grow without bound here), so it comes in as a
//! [`StreamTrimmer`] built by whoever picked the backend; the task itself knows no backend.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use eventstream_sql::StateStore;
use tokio_util::sync::CancellationToken;

/// How long inbox rows are kept and how often the task runs.
#[derive(Debug, Clone)]
pub struct RetentionPolicy {
    /// Inbox and retry-state rows older than this are deleted (default 30 days).
    pub dedup: Duration,
    /// Time between two rounds (default 1 h).
    pub interval: Duration,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self { dedup: Duration::from_secs(30 * 24 * 3600), interval: Duration::from_secs(3600) }
    }
}

/// Trims a stream by the limits it was built with, never removing an entry a consumer still needs.
#[async_trait]
pub trait StreamTrimmer: Send + Sync + std::fmt::Debug {
    /// Trims once; returns a one-line summary of what was removed.
    ///
    /// # Errors
    /// The log is unreachable or refuses; the task logs the error and tries again next round.
    async fn trim(&self) -> Result<String, Box<dyn std::error::Error + Send + Sync>>;
}

/// Starts the retention task; it stops when `stop` is cancelled.
pub fn spawn(
    store: StateStore,
    trimmer: Option<Arc<dyn StreamTrimmer>>,
    policy: RetentionPolicy,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(policy.interval);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => return,
            }
            run_once(&store, trimmer.as_deref(), &policy).await;
        }
    })
}

/// One round of retention, errors logged.
pub async fn run_once(store: &StateStore, trimmer: Option<&dyn StreamTrimmer>, policy: &RetentionPolicy) {
    match store.purge_processed_older_than(policy.dedup).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, "inbox retention: deleted old processed_events rows"),
        Err(e) => tracing::warn!(error = %eventstream_core::error::chain(&e), "inbox retention failed"),
    }
    if let Err(e) = store.purge_retry_state_older_than(policy.dedup).await {
        tracing::warn!(error = %eventstream_core::error::chain(&e), "retry-state retention failed");
    }
    if let Some(t) = trimmer {
        match t.trim().await {
            Ok(summary) => tracing::info!(%summary, "stream retention"),
            Err(e) => tracing::warn!(error = %eventstream_core::error::chain(e.as_ref()), "stream retention failed"),
        }
    }
}
