//! The embedded [`EventLog`](eventstream_core::EventLog) backend: the default, zero-setup event log of
//! BRAiN, stored in SQLite in a data directory (`<dir>/events.db`, WAL mode).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use eventstream_embedded::{EmbeddedLog, EmbeddedOptions};
//! let log = EmbeddedLog::open("./brain-data", EmbeddedOptions::default()).await?;
//! # Ok(()) }
//! ```
//!
//! # Storage
//! One row per event: the position is the decimal `INTEGER PRIMARY KEY` sequence (`"42"`), with the append
//! time (ms), event id, type, tenant and the canonical JSON ([`eventstream_core::Event::to_json_value`]).
//! Groups store their position; pending deliveries store group, position, consumer, delivery time and
//! delivery count. See [`schema`] for the tables.
//!
//! # Durability
//! [`Durability::Full`] (the default) runs `synchronous = FULL`: when `append` returns, the events are
//! fsynced and survive a power loss. [`Durability::Normal`] runs `synchronous = NORMAL`: an acknowledged
//! append survives a crash of the process, but an OS crash or power loss may lose the last commits (the
//! file stays consistent). Deliveries, acks and group changes follow the same setting.
//!
//! # Group commit
//! Every write of a process goes through one writer thread (see `writer.rs`). Appends are queued to it;
//! it takes every append already waiting into one `BEGIN IMMEDIATE` transaction, commits once, and answers
//! each caller with its positions. While one commit (and its fsync) is in flight the queue fills, so 64
//! concurrent publishers pay a handful of fsyncs instead of 64 ([`EmbeddedLog::writer_stats`] counts them;
//! `baseline`, behind the `bench` feature, measures the naive path for comparison). A batch is atomic: a failed commit answers every
//! caller in it with the error and leaves none of their events behind. Reads run on pooled connections on
//! tokio's blocking pool; no SQLite call runs on a runtime worker thread.
//!
//! # Several processes
//! `brain publish` may append to the same directory while `brain serve` consumes it. Writers of different
//! processes are serialised by SQLite's write lock (`BEGIN IMMEDIATE`, waiting up to
//! [`EmbeddedOptions::busy_timeout`]); entries are handed to a group inside such a transaction, so two
//! processes never deliver one entry twice to one group. Blocked `read`/`read_group` calls wake at once on
//! appends of their own process and within [`EmbeddedOptions::poll_interval`] on commits of another
//! (detected with `PRAGMA data_version`, one query per interval however many readers wait).
//!
//! # Layout
//! `options.rs` the options, `schema.rs` the file and tables, `store.rs` the SQL of each operation,
//! `writer.rs` the writer thread and group commit, `log.rs` the trait implementation and waiting,
//! `baseline.rs` the naive path for benchmarks, `error.rs` the errors.

#[cfg(feature = "bench")]
pub mod baseline;
mod checkpoint;
mod error;
mod log;
mod options;
pub mod schema;
mod store;
mod writer;

pub use error::OpenError;
pub use log::EmbeddedLog;
pub use options::{Durability, EmbeddedOptions};
pub use writer::WriterStats;
