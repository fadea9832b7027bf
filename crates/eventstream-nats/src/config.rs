//! The settings of a NATS log, checked before anything connects.

use std::time::Duration;

/// A [`NatsConfig`] that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid NATS log setting `{field}`: {reason}")]
pub struct ConfigError {
    /// The offending setting.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// How to reach NATS and how the log's JetStream stream is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsConfig {
    /// The server URL(s), e.g. `nats://127.0.0.1:4222` (comma-separated for a cluster).
    pub url: String,
    /// The JetStream stream name: 1 to 64 characters of `[A-Za-z0-9_-]`. Events go to `<stream>.events`.
    pub stream: String,
    /// Replicas of the streams (1 for a single server, 3 or 5 in a cluster).
    pub replicas: usize,
    /// How long the server remembers event ids to drop a retried publish (`Nats-Msg-Id` dedup).
    pub duplicate_window: Duration,
    /// How long the server waits for an ack before it redelivers on its own. Long by default:
    /// redelivery is `reclaim`'s job, and a short ack wait would hand pending entries to `read_group`.
    pub ack_wait: Duration,
    /// The bound on every call that does not block by request: connecting, a request, a publish ack.
    /// When it passes the call fails with `LogError::Unavailable`.
    pub timeout: Duration,
}

impl NatsConfig {
    /// Settings for `stream` on the server at `url`, with defaults: 1 replica, a 2-minute duplicate window,
    /// a 1-day ack wait and a 5-second operation timeout.
    pub fn new(url: impl Into<String>, stream: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            stream: stream.into(),
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
            ack_wait: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(5),
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first invalid setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field, reason| Err(ConfigError { field, reason });
        if self.url.trim().is_empty() {
            return err("url", "must not be empty");
        }
        // The pending stream is named `<stream>_pending`, which must stay within JetStream's limits.
        if self.stream.is_empty() || self.stream.len() > 64 {
            return err("stream", "must be 1 to 64 characters");
        }
        if !self.stream.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return err("stream", "may only contain letters, digits, _ and -");
        }
        if self.replicas == 0 || self.replicas > 5 {
            return err("replicas", "must be 1 to 5");
        }
        if self.duplicate_window.is_zero() {
            return err("duplicate_window", "must be positive");
        }
        if self.ack_wait < Duration::from_secs(1) {
            return err("ack_wait", "must be at least one second");
        }
        if self.timeout.is_zero() {
            return err("timeout", "must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_names_are_rejected() {
        assert_eq!(NatsConfig::new("nats://127.0.0.1:4222", "brain-events").validate(), Ok(()));
        for bad in ["", "a.b", "a b", "a*", &"x".repeat(65)] {
            assert!(NatsConfig::new("nats://h", bad).validate().is_err(), "{bad:?}");
        }
        let mut c = NatsConfig::new("nats://h", "s");
        c.replicas = 0;
        assert_eq!(c.validate().map_err(|e| e.field), Err("replicas"));
    }
}
