//! The `eventstream-testkit` conformance suite, one test per contract clause, against the shared NATS.

use super::helpers::{nats_available, run_then_clean};

macro_rules! clauses {
    ($($clause:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $clause() {
                if !nats_available() {
                    return;
                }
                run_then_clean(|f| async move { eventstream_testkit::$clause(&*f).await }).await;
            }
        )*
    };
}

clauses!(
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
    unknown_group_is_an_error,
    ensure_group_is_idempotent_and_start_positions_work,
    set_group_position_replays,
    read_blocks_until_append,
    read_group_blocks_until_append,
);
