//! Configuration of a [`crate::RedisLog`]: where the server is, which key the stream lives under, how
//! consumer groups are named on the server, and the timeouts that keep every call bounded.

use std::time::Duration;

use eventstream_core::codec::redis_fields::DEFAULT_STREAM;

use crate::error::ConfigError;

/// How a [`crate::RedisLog`] reaches Redis and lays out its keys.
///
/// Build it with [`RedisConfig::new`] and the `with_*` methods; every field has a production default.
///
/// # Key and group mapping
/// - The stream key is `key_prefix + stream` (default `brain:events:stream`, the original's key, with an
///   empty prefix). Tests set a unique `key_prefix` so they never share a stream.
/// - A subscriber's consumer group on the server is `group_prefix + subscriber name`. The default prefix
///   is empty, so the group is named exactly as the subscriber. The original named its groups
///   `group_{subscriber}`; set `group_prefix` to `"group_"` to share groups with a running Python
///   `EventConsumer`. `EventLog::groups` lists only groups carrying the prefix (with the prefix
///   removed); retention still respects every group on the stream.
/// - Consumer names are used as given: every replica of a subscriber must pass its own name (the
///   original used the subscriber name for every replica, so replicas collided).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// Redis URL, e.g. `redis://127.0.0.1:6379/0`.
    pub url: String,
    /// The stream name (default `brain:events:stream`).
    pub stream: String,
    /// Prepended to the stream key (default empty).
    pub key_prefix: String,
    /// Prepended to every subscriber name to form the Redis consumer group name (default empty).
    pub group_prefix: String,
    /// Bound on establishing one TCP connection (default 2 s).
    pub connect_timeout: Duration,
    /// Bound on the answer to a non-blocking command (default 5 s; redis-rs 1.x would use 500 ms).
    pub response_timeout: Duration,
    /// Extra time a blocking read (`BLOCK n`) may take beyond `n` before it counts as failed
    /// (default 5 s). Blocking reads run on dedicated connections whose response timeout is
    /// `block + block_margin`.
    pub block_margin: Duration,
    /// How many times the shared connection retries to reconnect before a call fails with
    /// `Unavailable` (default 2; later calls start a new attempt, so the log recovers on its own).
    pub reconnect_retries: usize,
    /// Largest encoded entry accepted by `append` (default 16 MiB); larger events are
    /// `LogError::Encode`.
    pub max_entry_bytes: usize,
    /// Idle dedicated connections kept for blocking reads (default 8); more are opened on demand.
    pub max_idle_blocking_connections: usize,
}

impl RedisConfig {
    /// The defaults for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            stream: DEFAULT_STREAM.to_owned(),
            key_prefix: String::new(),
            group_prefix: String::new(),
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
            block_margin: Duration::from_secs(5),
            reconnect_retries: 2,
            max_entry_bytes: 16 * 1024 * 1024,
            max_idle_blocking_connections: 8,
        }
    }

    /// Uses `stream` as the stream name.
    pub fn with_stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = stream.into();
        self
    }

    /// Prepends `prefix` to the stream key (isolates tests and tenants of one server).
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Prepends `prefix` to every consumer group name (`"group_"` shares groups with the original).
    pub fn with_group_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.group_prefix = prefix.into();
        self
    }

    /// The full Redis key of the stream.
    pub fn stream_key(&self) -> String {
        format!("{}{}", self.key_prefix, self.stream)
    }

    /// Checks the values that cannot work.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.stream.is_empty() {
            return Err(ConfigError::Invalid { setting: "stream", reason: "must not be empty" });
        }
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::Invalid { setting: "connect_timeout", reason: "must be positive" });
        }
        if self.response_timeout.is_zero() {
            return Err(ConfigError::Invalid { setting: "response_timeout", reason: "must be positive" });
        }
        if self.block_margin.is_zero() {
            return Err(ConfigError::Invalid { setting: "block_margin", reason: "must be positive" });
        }
        if self.group_prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError::Invalid { setting: "group_prefix", reason: "must not contain whitespace" });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_use_the_original_stream_key() {
        let c = RedisConfig::new("redis://127.0.0.1/");
        assert_eq!(c.stream_key(), "brain:events:stream");
        assert_eq!(c.with_key_prefix("t1:").stream_key(), "t1:brain:events:stream");
    }

    #[test]
    fn bad_settings_are_named() {
        let c = RedisConfig::new("redis://x/").with_stream("");
        assert!(matches!(c.validate(), Err(ConfigError::Invalid { setting: "stream", .. })));
        let mut c = RedisConfig::new("redis://x/");
        c.response_timeout = Duration::ZERO;
        assert!(matches!(c.validate(), Err(ConfigError::Invalid { setting: "response_timeout", .. })));
    }
}
