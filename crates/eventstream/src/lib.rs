//! What BRAiN module code depends on: publishing and consuming events with effects that happen exactly
//! once.
//!
//! - [`EventStream`]: the handle modules receive by construction. [`EventStream::publish`] returns once the
//!   event is durable in the log; [`EventStream::emit`] never waits on the network and never fails (local
//!   outbox + relay); [`EventStream::outbox_in_tx`] publishes events if and only if a state-store
//!   transaction commits.
//! - [`ConsumerRuntime`] runs [`Subscription`]s: consumer groups, the inbox (`processed_events`) written in
//!   the handler's transaction, transient retries with backoff that do not hold up other events,
//!   dead letters for permanent failures and exhausted retries, reclaim of a dead replica's deliveries,
//!   graceful shutdown.
//! - [`dlq::retry_dead_letter`] and [`replay::replay`]: the repair tools.
//! - [`maintenance`]: the retention task (inbox purge, stream trimming through a [`maintenance::StreamTrimmer`]).
//!
//! # Layout
//! `publisher.rs` publish/emit/outbox relay, `subscriber.rs` subscription options, `handler.rs` the handler
//! trait and error classification, `runtime.rs` + `runtime/` the consumer runtime (`worker.rs` the read
//! loop, `delivery.rs` handling, retries and dead letters, `acker.rs`, `stats.rs`), `dlq.rs`, `replay.rs`,
//! `backoff.rs`.

mod backoff;
pub mod dlq;
mod handler;
pub mod maintenance;
mod publisher;
pub mod replay;
mod runtime;
mod subscriber;
pub mod trace;

/// The state store (`eventstream-sql`): modules reach their tables, transactions and `sqlx` through
/// this path, so they depend on `eventstream` only.
pub use eventstream_sql as store;

pub use backoff::Backoff;
pub use handler::{BatchContext, BatchError, BatchItem, FnHandler, Handler, HandlerContext, HandlerError, decode_payload, handler_fn};
pub use publisher::{EventStream, PublishError, PublisherOptions, PublisherStats, PublisherTasks, Receipt};
pub use runtime::{ConsumerRuntime, REDELIVER_TO_META_KEY, StatsSnapshot, SubscriberStats, default_consumer_name};
pub use subscriber::{Subscription, SubscriptionOptions};
