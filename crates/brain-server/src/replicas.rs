//! This replica in the replica registry of the state store: a heartbeat every [`HEARTBEAT`] records the
//! replica's name, start time and subscribers (name, patterns, live counters), so that
//! `GET /api/consumers` on any replica shows the consumers of every replica. The row is removed at
//! shutdown; a replica that died is shown as not alive once its heartbeat is older than [`ALIVE_WITHIN`],
//! and its row is dropped after [`FORGET_AFTER`].

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use eventstream_sql::StateStore;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::server::ConsumerInfo;

/// How often a replica refreshes its row.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(5);
/// A replica whose last heartbeat is more recent than this counts as alive.
pub(crate) const ALIVE_WITHIN: Duration = Duration::from_secs(15);
/// The rows of replicas silent this long are dropped.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// What a replica reports about its subscribers.
pub(crate) fn report(consumers: &[ConsumerInfo]) -> Value {
    Value::Array(consumers.iter().map(|c| json!({"name": c.name, "patterns": c.patterns, "stats": c.stats.snapshot()})).collect())
}

/// Starts the heartbeat (at once, then every [`HEARTBEAT`]); on stop the row is removed.
pub(crate) fn spawn_heartbeat(
    store: StateStore,
    replica: String,
    consumers: Arc<Vec<ConsumerInfo>>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let started = Utc::now();
    tokio::spawn(async move {
        let mut rounds = 0u64;
        loop {
            if let Err(e) = store.replica_heartbeat(&replica, started, &report(&consumers)).await {
                tracing::warn!(error = %eventstream_core::error::Chain(&e), "cannot record this replica's heartbeat");
            }
            if rounds.is_multiple_of(720) {
                let _ = store.replicas_purge_older_than(FORGET_AFTER).await;
            }
            rounds += 1;
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(HEARTBEAT) => {}
            }
        }
        if let Err(e) = store.replica_remove(&replica).await {
            tracing::warn!(error = %eventstream_core::error::Chain(&e), "cannot remove this replica from the registry");
        }
    })
}
