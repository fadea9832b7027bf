//! Long-lived connections (SSE streams, WebSockets) and the key that opened them.
//!
//! A key is checked when a request arrives. A stream outlives that check, so the server's key middleware
//! also puts a [`StreamPolicy`] into the request extensions, and every long-lived route holds on to it:
//!
//! - [`StreamPolicy::ended`] resolves when the stream must end: its key was revoked (re-checked every
//!   [`StreamLimits::recheck_every`] through the server's [`KeyCheck`], which reads the shared key table,
//!   so a revocation on any replica or from `brain keys revoke` is seen), or it reached
//!   [`StreamLimits::max_lifetime`]. SSE clients then reconnect with `Last-Event-ID`; WebSocket clients
//!   get a close frame saying why ([`StreamEnd::close_frame`]).
//! - [`StreamPolicy::websocket`] caps WebSocket messages and frames at the server's body limit, as for
//!   HTTP bodies; a larger one is a read error that [`oversize_close`] turns into close code 1009.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::extract::ws::{CloseFrame, WebSocketUpgrade};
use axum::http::request::Parts;
use tokio::time::Instant;

use crate::ApiError;

/// A boxed future, for the object-safe [`KeyCheck`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Tells whether a key is still valid. The server's implementation reads the key table (through a short
/// cache shared by every stream of a key, so that many streams do not multiply the queries).
pub trait KeyCheck: Send + Sync + fmt::Debug {
    /// `false` once key `key_id` is revoked or gone. When the answer cannot be had (the store is down),
    /// `true`: a store outage must not drop every stream, and a key cannot be revoked in a store that is
    /// down; the maximum lifetime still bounds the stream.
    fn is_live<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, bool>;
}

/// The limits of long-lived connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// A stream ends this long after it opened; clients reconnect.
    pub max_lifetime: Duration,
    /// How often an open stream re-checks its key.
    pub recheck_every: Duration,
    /// The largest WebSocket message (and frame) accepted: the server's body limit.
    pub max_message_bytes: usize,
}

/// The default [`StreamLimits::max_lifetime`]: one hour.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(3600);
/// The default [`StreamLimits::recheck_every`]: with the server's one-second key cache, a revoked key's
/// streams end within about two seconds.
pub const DEFAULT_RECHECK_EVERY: Duration = Duration::from_secs(1);

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// Its key was revoked.
    Revoked,
    /// It reached the maximum lifetime; the client reconnects.
    Lifetime,
}

impl StreamEnd {
    /// The wire spelling, for close reasons in events and logs: `key_revoked` or `max_lifetime`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamEnd::Revoked => "key_revoked",
            StreamEnd::Lifetime => "max_lifetime",
        }
    }

    /// The WebSocket close frame: 1008 (policy violation) for a revoked key, 1001 (going away) at the
    /// maximum lifetime, which tells the client to reconnect.
    pub fn close_frame(self) -> CloseFrame {
        match self {
            StreamEnd::Revoked => CloseFrame { code: 1008, reason: "API key revoked".into() },
            StreamEnd::Lifetime => CloseFrame { code: 1001, reason: "maximum connection lifetime reached; reconnect".into() },
        }
    }
}

/// What a long-lived connection of one key must obey. Put into the request extensions by the server's
/// key middleware, next to the [`crate::Principal`]; handlers take it as an extractor.
#[derive(Debug, Clone)]
pub struct StreamPolicy {
    key_id: String,
    check: Option<Arc<dyn KeyCheck>>,
    limits: StreamLimits,
    opened: Instant,
}

impl StreamPolicy {
    /// The policy of a stream of key `key_id`, opened now.
    pub fn new(key_id: impl Into<String>, check: Arc<dyn KeyCheck>, limits: StreamLimits) -> Self {
        Self { key_id: key_id.into(), check: Some(check), limits, opened: Instant::now() }
    }

    /// A policy that never re-checks the key, only the lifetime: for callers without a key table (the
    /// modules' own tests, which authenticate with a test header).
    pub fn unchecked(limits: StreamLimits) -> Self {
        Self { key_id: String::new(), check: None, limits, opened: Instant::now() }
    }

    /// The key's public id (empty for [`StreamPolicy::unchecked`]).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The limits.
    pub fn limits(&self) -> StreamLimits {
        self.limits
    }

    /// Resolves when the stream must end: the key was found revoked, or the maximum lifetime passed.
    /// Cancel-safe (it only sleeps and reads): select on it next to the stream's work.
    pub async fn ended(&self) -> StreamEnd {
        let deadline = self.opened + self.limits.max_lifetime;
        let Some(check) = &self.check else {
            tokio::time::sleep_until(deadline).await;
            return StreamEnd::Lifetime;
        };
        loop {
            let next = Instant::now() + self.limits.recheck_every;
            if next >= deadline {
                tokio::time::sleep_until(deadline).await;
                return StreamEnd::Lifetime;
            }
            tokio::time::sleep_until(next).await;
            if !check.is_live(&self.key_id).await {
                return StreamEnd::Revoked;
            }
        }
    }

    /// `upgrade` with messages and frames capped at [`StreamLimits::max_message_bytes`].
    pub fn websocket(&self, upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
        let max = self.limits.max_message_bytes;
        upgrade.max_message_size(max).max_frame_size(max)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for StreamPolicy {
    type Rejection = ApiError;

    /// The policy the key middleware stored; a 500 when none did (a route mounted outside the middleware:
    /// a server bug, not something a client can cause).
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<StreamPolicy>().cloned().ok_or_else(|| ApiError::internal(&MissingPolicy))
    }
}

/// A long-lived route was reached without the key middleware's [`StreamPolicy`].
#[derive(Debug, thiserror::Error)]
#[error("no stream policy in the request: the route is not behind the key middleware")]
struct MissingPolicy;

/// The close frame for a WebSocket read error: 1009 (message too big) when the client sent a message or
/// frame over [`StreamLimits::max_message_bytes`], `None` for other errors (the connection is gone).
pub fn oversize_close(err: &axum::Error) -> Option<CloseFrame> {
    use std::error::Error as _;
    use tokio_tungstenite::tungstenite::Error as WsError;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = err.source();
    while let Some(e) = cause {
        if let Some(WsError::Capacity(c)) = e.downcast_ref::<WsError>() {
            return Some(CloseFrame { code: 1009, reason: format!("message too big: {c}").into() });
        }
        cause = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    #[derive(Debug, Default)]
    struct Flag {
        revoked: AtomicBool,
        checks: AtomicUsize,
    }

    impl KeyCheck for Flag {
        fn is_live<'a>(&'a self, _key_id: &'a str) -> BoxFuture<'a, bool> {
            self.checks.fetch_add(1, Ordering::SeqCst);
            let live = !self.revoked.load(Ordering::SeqCst);
            Box::pin(async move { live })
        }
    }

    fn limits(lifetime_ms: u64) -> StreamLimits {
        StreamLimits { max_lifetime: Duration::from_millis(lifetime_ms), recheck_every: Duration::from_millis(20), max_message_bytes: 1024 }
    }

    #[tokio::test]
    async fn a_stream_ends_at_its_lifetime_while_the_key_is_live() {
        let flag = Arc::new(Flag::default());
        let policy = StreamPolicy::new("key_1", flag.clone(), limits(300));
        let started = Instant::now();
        assert_eq!(policy.ended().await, StreamEnd::Lifetime);
        assert!(started.elapsed() >= Duration::from_millis(290), "{:?}", started.elapsed());
        assert!(flag.checks.load(Ordering::SeqCst) >= 2, "the key is checked while the stream is open");
        assert_eq!(StreamPolicy::unchecked(limits(30)).ended().await, StreamEnd::Lifetime);
    }

    #[tokio::test]
    async fn a_revoked_key_ends_the_stream_at_the_next_check() {
        let flag = Arc::new(Flag::default());
        let policy = StreamPolicy::new("key_1", flag.clone(), limits(3_600_000));
        let ended = policy.ended();
        tokio::pin!(ended);
        assert!(tokio::time::timeout(Duration::from_millis(100), &mut ended).await.is_err(), "live key: still open");
        flag.revoked.store(true, Ordering::SeqCst);
        let end = tokio::time::timeout(Duration::from_secs(5), ended).await;
        assert_eq!(end.ok(), Some(StreamEnd::Revoked));
        assert_eq!(StreamEnd::Revoked.close_frame().code, 1008);
    }
}
