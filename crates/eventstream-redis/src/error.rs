//! Errors of this crate and the one place where redis-rs errors become [`LogError`]s.
//!
//! The mapping is by what the caller can do next: anything that says the server cannot be reached or
//! is not ready (I/O, timeouts, `LOADING`, `MASTERDOWN`, `TRYAGAIN`, `BUSY`) is
//! [`LogError::Unavailable`] and worth retrying; `NOGROUP` is [`LogError::UnknownGroup`]; everything
//! else is [`LogError::Storage`].

use std::time::Duration;

use eventstream_core::LogError;
use redis::{ErrorKind, RedisError};

/// A [`crate::RedisConfig`] that cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A setting has an unusable value.
    #[error("invalid redis setting `{setting}`: {reason}")]
    Invalid {
        /// The setting.
        setting: &'static str,
        /// Why it is unusable.
        reason: &'static str,
    },
    /// The URL cannot be parsed.
    #[error("invalid redis url")]
    Url(#[source] RedisError),
}

/// The server answered with a reply this crate does not understand (a protocol or version mismatch).
#[derive(Debug, thiserror::Error)]
#[error("unexpected reply to {command}: {reason}")]
pub struct ReplyError {
    /// The command whose reply was read.
    pub command: &'static str,
    /// What was wrong with it.
    pub reason: String,
}

impl ReplyError {
    pub(crate) fn new(command: &'static str, reason: impl Into<String>) -> Self {
        Self { command, reason: reason.into() }
    }
}

impl From<ReplyError> for LogError {
    fn from(e: ReplyError) -> Self {
        LogError::storage("reading a redis reply", e)
    }
}

/// A call did not finish within its bound (the server stopped answering).
#[derive(Debug, thiserror::Error)]
#[error("no answer from redis within {after:?}")]
pub struct TimedOut {
    /// The bound that passed.
    pub after: Duration,
}

/// Error codes that mean "the server is there but cannot serve right now".
const TRANSIENT_CODES: &[&str] = &["LOADING", "MASTERDOWN", "TRYAGAIN", "BUSY", "CLUSTERDOWN", "READONLY"];

/// The server error codes carried by `e` (one per failed command of a pipeline).
pub(crate) fn server_codes(e: &RedisError) -> Vec<String> {
    let mut codes: Vec<String> =
        e.clone().into_server_errors().map(|errs| errs.iter().map(|(_, s)| s.code().to_owned()).collect()).unwrap_or_default();
    if let Some(c) = e.code() {
        codes.push(c.to_owned());
    }
    codes
}

/// Whether `e` is the server's "no such consumer group" answer.
pub(crate) fn is_nogroup(e: &RedisError) -> bool {
    server_codes(e).iter().any(|c| c == "NOGROUP")
}

/// Whether `e` says the connection is gone (worth one immediate retry on a fresh connection).
pub(crate) fn is_connection_lost(e: &RedisError) -> bool {
    e.is_connection_dropped() || e.is_unrecoverable_error()
}

/// Maps a redis-rs error to a [`LogError`], with `context` saying what was being done.
pub(crate) fn map_redis_error(context: &str, e: RedisError) -> LogError {
    let transient_code = server_codes(&e).iter().any(|c| TRANSIENT_CODES.contains(&c.as_str()));
    let transient = transient_code
        || matches!(e.kind(), ErrorKind::Io | ErrorKind::ClusterConnectionNotFound)
        || e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal();
    if transient { LogError::unavailable(context.to_owned(), e) } else { LogError::storage(context.to_owned(), e) }
}
