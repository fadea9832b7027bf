//! Behaviour specific to the NATS backend: producer-side dedup on event id, group names that JetStream
//! would reject as consumer names, and capabilities.

use std::time::Duration;

use eventstream_core::{EventLog, StartFrom};
use eventstream_testkit::fixtures::{Must, consumer, delivered_positions, group, read_all, sample_events, unique_name};

use super::helpers::{nats_available, run_then_clean};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_batch_is_stored_once() {
    if !nats_available() {
        return;
    }
    run_then_clean(|f| async move {
        let log = f.open_nats(&unique_name("dedup")).await;
        let events = sample_events(0..4);
        let first = log.append(&events).await.must("append");
        let again = log.append(&events).await.must("append the same events again");
        assert_eq!(again, first, "a retried batch returns the positions of the stored events");
        let partial_retry = log.append(&sample_events(0..0)).await.must("empty append");
        assert!(partial_retry.is_empty());
        assert_eq!(read_all(&log).await.len(), 4, "the retry stored nothing new");
        let more = log.append(&sample_events(4..6)).await.must("append after a duplicate batch");
        assert_eq!(read_all(&log).await.len(), 6, "appends after a deduplicated batch still work");
        assert_eq!(log.head().await.must("head"), more.last().cloned());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_names_with_dots_and_underscores_are_distinct_groups() {
    if !nats_available() {
        return;
    }
    run_then_clean(|f| async move {
        let log = f.open_nats(&unique_name("names")).await;
        let p = log.append(&sample_events(0..2)).await.must("append");
        let (dotted, underscored) = (group("task.worker"), group("task_worker"));
        log.ensure_group(&dotted, &StartFrom::Beginning).await.must("ensure dotted");
        log.ensure_group(&underscored, &StartFrom::Beginning).await.must("ensure underscored");
        let c = consumer("c:1");
        let d = log.read_group(&dotted, &c, 10, Duration::ZERO).await.must("read dotted");
        assert_eq!(delivered_positions(&d), p);
        assert_eq!(log.group_info(&underscored).await.must("info").undelivered, 2, "the other group is untouched");
        let names: Vec<String> = log.groups().await.must("groups").into_iter().map(|g| g.name.to_string()).collect();
        assert_eq!(names, vec!["task.worker".to_owned(), "task_worker".to_owned()]);
        let caps = log.capabilities();
        assert!(caps.persistent && caps.multi_process && caps.native_blocking && !caps.replicated);
        assert_eq!(log.backend(), "nats");
        log.health().await.must("health");
    })
    .await;
}
