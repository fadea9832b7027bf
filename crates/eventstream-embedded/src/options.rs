//! How an embedded log is opened: durability, wake-up polling, lock waits and the stream name.

use std::time::Duration;

/// How hard a commit works to survive a crash. Both settings keep the file consistent; they differ in
/// what the last moments before a power loss can lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `PRAGMA synchronous = FULL`: every commit fsyncs the write-ahead log before `append` returns, so an
    /// acknowledged append survives a process crash, an OS crash and a power loss. The default.
    /// Group commit makes this affordable: concurrent appends share one commit and one fsync.
    #[default]
    Full,
    /// `PRAGMA synchronous = NORMAL`: commits are written to the write-ahead log without an fsync (the
    /// log is fsynced at checkpoints). An acknowledged append survives a crash of the process; on an OS
    /// crash or power loss the last commits may be lost (the file stays consistent).
    Normal,
}

impl Durability {
    /// The `PRAGMA synchronous` value.
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }
}

/// Options of [`crate::EmbeddedLog::open`]. `EmbeddedOptions::default()` is right for most uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedOptions {
    /// What a successful `append` guarantees; [`Durability::Full`] by default.
    pub durability: Durability,
    /// How often a blocked `read`/`read_group` checks whether another process changed the file (10 ms by
    /// default). Appends from this process wake readers at once; appends from another process (`brain
    /// publish` next to `brain serve`) wake them within this interval.
    pub poll_interval: Duration,
    /// How long an operation waits for another process's write lock before failing with
    /// `LogError::Unavailable` (5 s by default).
    pub busy_timeout: Duration,
    /// The most events one group commit writes; more queued appends go into the next commit (10 000 by
    /// default). Bounds the time one commit holds the write lock.
    pub max_batch_events: usize,
    /// The stream name this log reports (`EventLog::stream`, recorded with dedup rows). Defaults to the
    /// name the Redis backend uses, so state stores see one stream whichever backend runs.
    pub stream: String,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Full,
            poll_interval: Duration::from_millis(10),
            busy_timeout: Duration::from_secs(5),
            max_batch_events: 10_000,
            stream: eventstream_core::codec::redis_fields::DEFAULT_STREAM.to_owned(),
        }
    }
}
