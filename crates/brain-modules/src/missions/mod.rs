//! missions: one implementation of the original's legacy queue + worker and its newer REST module.
//!
//! It owns the `missions` and `mission_logs` tables. Missions are created through `POST /api/missions`
//! or the legacy `POST /api/missions/enqueue` and queued for the worker pool, which takes them by
//! priority (LOW 10, NORMAL 20, HIGH 30, CRITICAL 40) and FIFO within a priority, runs them through a
//! [`MissionExecutor`], and records success, retry (same id, attempts counted) or final failure. Status
//! changes follow a state machine ([`model::transition_allowed`]); illegal ones are 409.
//!
//! Deliberate departures from the original (original-modules.md §15): ties in the queue are FIFO; a
//! retried mission keeps its id and its attempt count and ends `FAILED` after `max_retries`; the worker
//! records statuses; any-to-any status changes and log appends to unknown missions are refused; a create
//! with an existing id is 409 instead of an overwrite; `task.cancelled` is emitted by the new cancel route.
//! Every `task.*` and `mission.*` event is written in the transaction of the change it reports (see
//! [`lifecycle`] for the sequences).
//!
//! Crash recovery: a worker holds the mission it runs under a lease (owner = the replica's consumer
//! name, `lease_until` renewed while the attempt runs, `[modules] mission_lease_secs`, default 30 s).
//! When `brain serve` dies, its leases expire and every replica (at start and every half lease) queues
//! those missions again, counting the lost attempt toward `max_retries`, with a `mission.status_changed`
//! whose `reason` says the worker was lost. An outcome is recorded only by the holder of the current
//! claim, so a mission completes once even when a stalled worker comes back. On PostgreSQL claims use
//! `FOR UPDATE SKIP LOCKED`, so replicas never take the same mission. Details in [`queue`].

pub(crate) mod api;
mod error;
mod executor;
pub mod lifecycle;
pub mod model;
pub mod queue;
pub(crate) mod rows;
pub mod service;
pub(crate) mod worker;

pub use error::MissionError;
pub use executor::{ExecutionError, MissionExecutor, SimulatedExecutor};
pub use model::{Mission, Priority};
pub use queue::{Claimed, Lease, WORKER_LOST};
pub use service::{DEFAULT_LEASE, MissionService, MissionStats};
pub use worker::WorkerState;
