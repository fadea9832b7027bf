//! The state store of BRAiN EventStream, on SQLite (the default: a file in the data directory) or
//! PostgreSQL, with the same schema and migrations for both.
//!
//! It holds what the consumer runtime and the publisher must not lose:
//!
//! - the **inbox** `processed_events` ([`inbox`]): which events each subscriber has processed, unique by
//!   (tenant, event id) and by stream position, written in the handler's own transaction ([`Tx`]) so the effect and
//!   the record commit together;
//! - **dead letters** ([`dead_letter`]): failed events with their error, kind, attempts and first/last
//!   failure; listed, retried and discarded;
//! - the publisher's **outbox** ([`outbox`]): events waiting for the event log, batch-written or written
//!   inside a module's transaction;
//! - **retry state** ([`retry`]): transient-failure counts that survive restarts;
//! - what replicas share: **leases** ([`lease`]) so a periodic job runs on one replica at a time, and the
//!   **replica registry** ([`replicas`]) of running servers and their subscribers.
//!
//! Everything goes through one [`sqlx::AnyPool`], so module SQL is written once with `$1` placeholders.
//! Timestamps are stored as integer milliseconds since the Unix epoch on both databases. Errors are
//! [`StoreError`], whose [`StoreError::is_transient`] tells retry-worthy failures from the rest.
//!
//! # Layout
//! `store.rs` connecting, migrations and transactions; `inbox.rs`, `dead_letter.rs`, `outbox.rs`,
//! `retry.rs`, `lease.rs`, `replicas.rs` one table each; `row.rs` typed column reading; `error.rs` the
//! error. The DDL is in `migrations/sqlite/` and `migrations/postgres/`, embedded at build time and
//! applied at connect.

#[cfg(feature = "bench")]
pub mod baseline;
mod counts;
pub mod dead_letter;
mod error;
pub mod inbox;
pub mod lease;
pub mod outbox;
pub mod replicas;
pub mod retry;
mod row;
mod store;

pub use counts::TypeCount;
pub use dead_letter::{DeadLetter, DeadLetterCounts, DeadLetterFilter, DeadLetterId, DeadLetterKind, DeadLetterStatus, NewDeadLetter};
pub use error::{StoreError, is_transient_sqlx};
pub use inbox::{DEFAULT_PROCESSED_RETENTION, EventKey, ForgetScope, ProcessedRecord};
pub use lease::{Lease, LeaseHolder};
pub use outbox::{OutboxClaim, OutboxId, OutboxRow, OutboxStats};
pub use replicas::ReplicaRow;
pub use retry::RetryState;
pub use store::{MIGRATIONS_TABLE, MigrationSet, StateStore, StoreKind, StoreOptions, Tx, sqlite_url};

/// Re-exported so handler code runs its SQL with the same sqlx version (`sqlx::query`, `AnyConnection`).
pub use sqlx;
