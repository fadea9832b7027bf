//! The [`KeyCheck`] of open streams (SSE and WebSockets): [`KeyStore::is_live`] behind a cache shared by
//! every stream of a key, so that many streams of one key cost one query per [`TTL`] instead of one each.
//!
//! The cache is short on purpose: revocation happens in the key table (`brain keys revoke`, maybe on
//! another host), so a replica learns of it only by reading the table. A stream re-checks every
//! [`brain_http::live::DEFAULT_RECHECK_EVERY`]; with the TTL, it ends within about two seconds of the
//! revocation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use brain_http::live::{BoxFuture, KeyCheck, StreamLimits, StreamPolicy};
use tokio::time::Instant;

use crate::keys::KeyStore;

/// How long one answer of the key table is reused.
const TTL: Duration = Duration::from_secs(1);
/// Above this many cached keys, stale entries are dropped on the next miss.
const PRUNE_AT: usize = 1024;

/// One key's last answer: when it was read and whether the key was live.
type Slot = Arc<tokio::sync::Mutex<Option<(Instant, bool)>>>;

/// The live-key cache and the limits of every stream.
#[derive(Debug)]
pub(crate) struct LiveKeys {
    keys: KeyStore,
    limits: StreamLimits,
    /// Per key: its slot. The async lock of a slot makes concurrent checks of one key share one query.
    slots: Mutex<HashMap<String, Slot>>,
}

impl LiveKeys {
    /// The cache over `keys`, with the limits every stream gets.
    pub(crate) fn new(keys: KeyStore, limits: StreamLimits) -> Arc<Self> {
        Arc::new(Self { keys, limits, slots: Mutex::default() })
    }

    /// The policy of a stream of `key_id` opened now.
    pub(crate) fn policy(self: &Arc<Self>, key_id: &str) -> StreamPolicy {
        StreamPolicy::new(key_id, self.clone(), self.limits)
    }

    fn slot(&self, key_id: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.len() > PRUNE_AT && !slots.contains_key(key_id) {
            // Keep slots in use (locked) and fresh answers.
            slots.retain(|_, slot| slot.try_lock().map_or(true, |entry| entry.is_some_and(|(at, _)| at.elapsed() < TTL)));
        }
        slots.entry(key_id.to_owned()).or_default().clone()
    }
}

impl KeyCheck for LiveKeys {
    fn is_live<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let slot = self.slot(key_id);
            let mut entry = slot.lock().await;
            if let Some((at, live)) = *entry
                && at.elapsed() < TTL
            {
                return live;
            }
            match self.keys.is_live(key_id).await {
                Ok(live) => {
                    *entry = Some((Instant::now(), live));
                    live
                }
                Err(e) => {
                    // Not cached: the next check asks again.
                    tracing::warn!(key_id, error = %eventstream_core::error::Chain(&e), "cannot re-check the key of an open stream");
                    true
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_http::Role;

    #[tokio::test]
    async fn a_revocation_is_seen_once_the_cached_answer_expires() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = eventstream_sql::StateStore::connect(&eventstream_sql::sqlite_url(&dir.path().join("s.db")))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let keys = KeyStore::open(store).await.unwrap_or_else(|e| panic!("{e}"));
        let tenant = "acme".parse().unwrap_or_else(|e| panic!("{e}"));
        let (info, _) = keys.create(&tenant, Role::Reader).await.unwrap_or_else(|e| panic!("{e}"));
        let limits = StreamLimits { max_lifetime: Duration::from_secs(60), recheck_every: Duration::from_secs(1), max_message_bytes: 1 };
        let live = LiveKeys::new(keys.clone(), limits);
        assert!(live.is_live(&info.id).await);
        assert!(!live.is_live("key_unknown").await);
        assert!(keys.revoke(&info.id).await.unwrap_or_else(|e| panic!("{e}")));
        let cached_until = Instant::now() + TTL;
        // Within the TTL the cached answer may still say live; after it, never.
        while live.is_live(&info.id).await {
            assert!(Instant::now() < cached_until + Duration::from_millis(500), "the revocation is seen after the TTL");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
