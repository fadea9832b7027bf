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
    /// How long a publish (an event, a pending record) or an ack keeps being retried through a leader
    /// change or the loss of the server the client is connected to, before the call fails with
    /// `LogError::Unavailable`. A retried event keeps its `Nats-Msg-Id`, so the server stores it once. A
    /// JetStream stream leader election takes seconds (nats-server elects after 4 to 9 s of silence),
    /// hence the default of 20 s; zero disables the retries.
    pub failover: Duration,
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
            failover: Duration::from_secs(20),
        }
    }

    /// The servers of [`NatsConfig::url`]: one URL, or several separated by commas (the seed list of a
    /// cluster; the client learns the other members from the server and reconnects to any of them).
    ///
    /// # Errors
    /// [`ConfigError`] on `url` when the list is empty or an entry is not a server address.
    pub fn servers(&self) -> Result<Vec<async_nats::ServerAddr>, ConfigError> {
        let mut out = Vec::new();
        for entry in self.url.split(',').map(str::trim) {
            if entry.is_empty() {
                return Err(ConfigError { field: "url", reason: "has an empty entry in its comma-separated list" });
            }
            let addr = entry
                .parse::<async_nats::ServerAddr>()
                .map_err(|_| ConfigError { field: "url", reason: "has an entry that is not a server URL (nats://HOST:PORT)" })?;
            out.push(addr);
        }
        Ok(out)
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
        self.servers()?;
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

    #[test]
    fn a_comma_separated_url_is_a_server_list() {
        let c = NatsConfig::new("nats://127.0.0.1:4222, nats://127.0.0.1:4223,nats://h3:4224", "s");
        assert_eq!(c.validate(), Ok(()));
        let servers = c.servers().unwrap_or_default();
        let ports: Vec<u16> = servers.iter().map(async_nats::ServerAddr::port).collect();
        assert_eq!(ports, vec![4222, 4223, 4224]);
        for bad in ["nats://a:1,,nats://b:2", "nats://a:1,", "nats://a:1,http://[::"] {
            assert_eq!(NatsConfig::new(bad, "s").validate().map_err(|e| e.field), Err("url"), "{bad:?}");
        }
    }
}
