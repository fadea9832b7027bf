//! [`EventLog`](eventstream_core::EventLog) on NATS JetStream.
//!
//! One log is two JetStream streams:
//!
//! - `<stream>` with the single subject `<stream>.events` holds the events as canonical JSON
//!   ([`Event::to_json_value`](eventstream_core::Event::to_json_value)), each published with
//!   `Nats-Msg-Id` = event id, so a retried append inside the duplicate window is stored once. A position
//!   is the stream sequence in decimal.
//! - `<stream>_pending` with subjects `<stream>.pending.<group>.<seq>` (one message per subject) records
//!   which consumer of a group holds each delivered, unacknowledged entry. JetStream keeps one pending set
//!   per durable consumer and does not know the replicas inside it, while the contract asks for
//!   per-consumer pending entries (`read_pending` after a restart, `reclaim` to another consumer); this
//!   stream is that ownership table, shared by every process and surviving restarts.
//!
//! # Clusters
//! The URL may list several servers (comma-separated); the streams get
//! [`NatsConfig::replicas`] replicas (R3 on a 3-node cluster: every append is acknowledged by a quorum,
//! so losing any one node loses nothing acknowledged). A node loss or a leader change makes JetStream
//! silent for a few seconds; publishes (with the same `Nats-Msg-Id`, so the server stores an event
//! once) and acks are retried for up to [`NatsConfig::failover`] before a call fails with
//! `Unavailable`. Asking for more replicas than the cluster has nodes fails at open with an error naming
//! `nats_replicas`.
//!
//! A group is a durable pull consumer (explicit acks, unlimited deliveries, a long ack wait so the server
//! does not redeliver behind `reclaim`'s back). See [`NatsLog`] for how each operation maps.
//!
//! # Layout
//! `config.rs` the settings, `names.rs` stream, subject and consumer names, `error.rs` mapping client
//! errors to [`LogError`](eventstream_core::LogError), `failover.rs` the bounded retries that ride through
//! a leader change or a lost server, `pending.rs` the ownership table, `log.rs` the
//! [`EventLog`](eventstream_core::EventLog) implementation, with `log/append.rs` (contiguous batches, single and pipelined appends),
//! `log/read.rs` (direct gets, `read`, `read_back`) and `log/groups.rs` (consumers, deliveries, acks).

mod config;
mod error;
mod failover;
mod log;
mod names;
mod pending;

pub use config::{ConfigError, NatsConfig};
pub use log::NatsLog;
