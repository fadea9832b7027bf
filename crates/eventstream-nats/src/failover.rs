//! Riding through a leader change or the loss of a server: JetStream answers nothing (a timeout, "no
//! responders", a broken connection) while a stream or consumer elects a new leader, or while the client
//! reconnects to another server of the cluster. Publishes and acks are retried with a growing pause
//! until [`NatsConfig::failover`](crate::NatsConfig::failover) has passed since the first failure; what
//! the server *answered* (a wrong expected sequence, a payload over `max_payload`) is never retried.

use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use tokio::time::Instant;

/// The first pause between two attempts; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);
/// The longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// Whether a failed publish may succeed when sent again (the server did not reject it).
pub(crate) fn publish_retryable(kind: &PublishErrorKind) -> bool {
    matches!(kind, PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe | PublishErrorKind::StreamNotFound | PublishErrorKind::Other)
}

/// The retry budget of one call.
#[derive(Debug)]
pub(crate) struct Retry {
    window: Duration,
    first_failure: Option<Instant>,
    attempts: u32,
}

impl Retry {
    /// A budget of `window` from the first failure.
    pub(crate) fn new(window: Duration) -> Self {
        Self { window, first_failure: None, attempts: 0 }
    }

    /// Records a failure; waits and returns `true` when another attempt fits in the window.
    pub(crate) async fn again(&mut self, what: &str, error: &(dyn std::fmt::Display + Sync)) -> bool {
        let now = Instant::now();
        let first = *self.first_failure.get_or_insert(now);
        if now.duration_since(first) >= self.window {
            return false;
        }
        let pause = FIRST_PAUSE.saturating_mul(1 << self.attempts.min(5)).min(MAX_PAUSE);
        self.attempts += 1;
        tracing::debug!(attempt = self.attempts, %error, "{what} failed; retrying (NATS leader change or reconnect?)");
        tokio::time::sleep(pause).await;
        true
    }

    /// How many times the call was retried.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retries_stop_after_the_window() {
        let mut r = Retry::new(Duration::from_secs(1));
        let mut n = 0;
        while r.again("test", &"boom").await {
            n += 1;
            assert!(n < 100, "the window bounds the retries");
        }
        assert!(n >= 3, "several retries fit in a second: {n}");
        assert_eq!(r.attempts(), n);
        let mut none = Retry::new(Duration::ZERO);
        assert!(!none.again("test", &"boom").await, "a zero window never retries");
    }

    #[test]
    fn only_unanswered_publishes_are_retried() {
        assert!(publish_retryable(&PublishErrorKind::TimedOut));
        assert!(publish_retryable(&PublishErrorKind::StreamNotFound));
        assert!(!publish_retryable(&PublishErrorKind::WrongLastSequence));
        assert!(!publish_retryable(&PublishErrorKind::MaxPayloadExceeded));
    }
}
