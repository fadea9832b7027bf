//! [`EventLog`](eventstream_core::EventLog) on Redis Streams, wire-compatible with the original BRAiN
//! EventStream.
//!
//! - [`RedisLog`]: the backend. Entries are written with the original's field layout
//!   ([`eventstream_core::codec::redis_fields`]) on the original's key `brain:events:stream`, so Python
//!   producers and this crate read each other's entries. Entries nobody can decode come back as
//!   `Err(DecodeError)` records, never dropped.
//! - [`RedisConfig`]: URL, key and group naming, timeouts.
//! - [`Retention`] / [`RedisLog::trim`]: trimming that never removes an entry a consumer group has not
//!   acknowledged (the original's `MAXLEN ~ 10000` silently did), unless forced.
//! - `baseline::RawStream` (feature `bench`): raw pipelined `XADD` of the same entries, the baseline of `brain bench`.
//!
//! # Layout
//! `config.rs` settings, `log.rs` the trait implementation (with `log/conn.rs` connections and
//! the blocking pool, `log/groups.rs` delivery counts and group infos), `reply.rs` parsing
//! of the stream commands' replies, `stream_id.rs` positions and start points, `retention.rs` the trim
//! policy and its scripts, `error.rs` the error mapping, `baseline.rs` the raw client path for benchmarks.
//!
//! Requires Redis 7.0 or newer (`XAUTOCLAIM` with deleted ids, `XINFO GROUPS` lag, `XTRIM MINID`,
//! exclusive `(` ranges).

#[cfg(feature = "bench")]
pub mod baseline;
mod config;
mod error;
mod log;
mod reply;
pub mod retention;
mod stream_id;

pub use config::RedisConfig;
pub use error::{ConfigError, ReplyError, TimedOut};
pub use log::RedisLog;
pub use retention::{Retention, TrimReport};
