//! The conformance suite for [`EventLog`]: one public async function per clause of the contract documented
//! on the trait, each taking a [`LogFactory`] that opens logs of the backend under test.
//!
//! A backend's `tests/conformance.rs` implements [`LogFactory`] and calls every clause from its own
//! `#[tokio::test]` (use the multi-threaded flavour: several clauses spawn concurrent tasks), so a failure
//! names the clause:
//!
//! ```ignore
//! struct Factory { dir: tempfile::TempDir }
//!
//! #[async_trait]
//! impl LogFactory for Factory {
//!     async fn open(&self, name: &str) -> Arc<dyn EventLog> { /* a log stored under `name` */ }
//! }
//!
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn ack_is_idempotent() {
//!     eventstream_testkit::ack_is_idempotent(&Factory::new()).await;
//! }
//! ```
//!
//! Every clause opens its own log under a unique name, so clauses can run in parallel against one service;
//! a clause that needs a reopen opens the same name twice. Each one asserts behaviour a backend that broke
//! the clause could not fake, and says in its message what the backend got wrong.
//!
//! Tests against external services call [`require_service`] first, tests needing a binary, browser or
//! Python module [`require_tool`] (DESIGN.md §10): under CI ([`running_in_ci`]) a missing one fails, elsewhere
//! it is skipped with a visible banner. [`test_python`] is the interpreter for Python interop tests.
//!
//! # Layout
//! `clauses/` the clause functions by theme, `fixtures.rs` event builders, names and assertions,
//! `service.rs` the CI rule and the reachability check, `tool.rs` tool probes and the interop Python,
//! `nats_cluster.rs` a private three-node (or any size) JetStream cluster for fault tests.

use std::sync::Arc;

use async_trait::async_trait;
use eventstream_core::EventLog;

pub mod clauses;
pub mod fixtures;
pub mod nats_cluster;
mod service;
pub mod sse;
mod tool;

pub use clauses::blocking::{read_blocks_until_append, read_group_blocks_until_append};
pub use clauses::delivery::{ack_is_idempotent, acked_delivery_is_never_redelivered, unacked_delivery_is_redelivered_after_reclaim};
pub use clauses::groups::{
    each_group_gets_every_event_once, ensure_group_is_idempotent_and_start_positions_work, group_resumes_after_reopen, groups_are_isolated,
    lag_counts_unacked, set_group_position_replays, unknown_group_is_an_error,
};
pub use clauses::order::{
    appends_are_read_back_in_order, appends_survive_reopen, concurrent_appends_lose_nothing, interleaved_appends_keep_each_writers_order,
    range_read_by_position_and_time, read_back_is_newest_first,
};
pub use fixtures::{sample_event, sample_events};
pub use service::{require_service, running_in_ci};
pub use tool::{PYTHON_ENV, PYTHON_VENV, ToolProbe, require_tool, test_python};

/// Opens logs of the backend under test.
#[async_trait]
pub trait LogFactory: Send + Sync {
    /// Opens the log called `name`. Opening the same name again on the same factory gives a handle on the
    /// same underlying storage (a reopen: the previous handle may have been dropped first); different names
    /// are isolated logs. Names are 1 to 64 characters of `[a-z0-9-]`.
    ///
    /// The suite cannot test a backend it cannot open, so this panics on failure.
    async fn open(&self, name: &str) -> Arc<dyn EventLog>;
}

/// One contract clause as a value: what [`conformance_tests!`] hands to a backend's runner.
pub type Clause = for<'a> fn(&'a dyn LogFactory) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// Expands to one `#[tokio::test]` per contract clause. `$runner` is an async fn taking a [`Clause`]: it
/// checks that its service is reachable (see [`require_service`]), builds its [`LogFactory`], runs the
/// clause on it and cleans up. The list of clauses lives here once, so every backend runs all of them.
///
/// ```ignore
/// async fn run(clause: eventstream_testkit::Clause) {
///     clause(&Factory::new()).await;
/// }
/// eventstream_testkit::conformance_tests!(run);
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($runner:path) => {
        $crate::conformance_tests!(@clauses $runner;
            appends_are_read_back_in_order,
            appends_survive_reopen,
            each_group_gets_every_event_once,
            groups_are_isolated,
            unacked_delivery_is_redelivered_after_reclaim,
            acked_delivery_is_never_redelivered,
            ack_is_idempotent,
            group_resumes_after_reopen,
            range_read_by_position_and_time,
            read_back_is_newest_first,
            lag_counts_unacked,
            concurrent_appends_lose_nothing,
            interleaved_appends_keep_each_writers_order,
            unknown_group_is_an_error,
            ensure_group_is_idempotent_and_start_positions_work,
            set_group_position_replays,
            read_blocks_until_append,
            read_group_blocks_until_append,
        );
    };
    (@clauses $runner:path; $($clause:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $clause() {
            let clause: $crate::Clause = |f| ::std::boxed::Box::pin($crate::$clause(f));
            $runner(clause).await;
        }
    )*};
}

/// Every clause, in turn: for a quick check of a new backend or a run against a service in one test.
pub async fn run_all(f: &dyn LogFactory) {
    appends_are_read_back_in_order(f).await;
    appends_survive_reopen(f).await;
    each_group_gets_every_event_once(f).await;
    groups_are_isolated(f).await;
    unacked_delivery_is_redelivered_after_reclaim(f).await;
    acked_delivery_is_never_redelivered(f).await;
    ack_is_idempotent(f).await;
    group_resumes_after_reopen(f).await;
    range_read_by_position_and_time(f).await;
    read_back_is_newest_first(f).await;
    lag_counts_unacked(f).await;
    concurrent_appends_lose_nothing(f).await;
    interleaved_appends_keep_each_writers_order(f).await;
    unknown_group_is_an_error(f).await;
    ensure_group_is_idempotent_and_start_positions_work(f).await;
    set_group_position_replays(f).await;
    read_blocks_until_append(f).await;
    read_group_blocks_until_append(f).await;
}
