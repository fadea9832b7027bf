//! Entries nobody can decode (a Python-repr payload, as the original's first publish path produced) reach
//! the consumer runtime as dead letters of the subscribers that want their type, and are skipped by the
//! others; nothing stalls and nothing is dropped silently.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use eventstream::{ConsumerRuntime, Subscription, SubscriptionOptions};
use eventstream_core::{EventLog, TypePattern};
use eventstream_sql::{DeadLetterFilter, DeadLetterKind, StateStore};

use super::effects::{RecordEffect, create_effects_table, effect_counts};
use super::helpers::{Prefix, poll, raw, redis_available, redis_url, xadd_raw};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_entries_are_dead_lettered_by_the_subscribers_of_their_type_only() {
    if !redis_available() {
        return;
    }
    let prefix = Prefix::new("undecodable");
    let config = prefix.config("log");
    let key = config.stream_key();
    let log: Arc<dyn EventLog> = Arc::new(prefix.log("log"));
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::connect(&eventstream_sql::sqlite_url(&dir.path().join("state.db"))).await.unwrap();
    create_effects_table(&store).await;

    let mut con = raw(&redis_url()).await;
    let bad = xadd_raw(
        &mut con,
        &key,
        &[("id", b"py-bad"), ("type", b"task.failed"), ("source", b"x"), ("payload", b"{'a': 1}"), ("timestamp", b"2025-12-29T10:00:00")],
    )
    .await;
    let good = xadd_raw(
        &mut con,
        &key,
        &[
            ("id", b"py-good"),
            ("type", b"task.failed"),
            ("source", b"x"),
            ("payload", b"{\"a\": 1}"),
            ("timestamp", b"2025-12-29T10:00:00"),
        ],
    )
    .await;
    let mission = xadd_raw(
        &mut con,
        &key,
        &[("id", b"py-m"), ("type", b"mission.created"), ("source", b"x"), ("payload", b"{}"), ("timestamp", b"1767002400.5")],
    )
    .await;

    let options = SubscriptionOptions { read_block: Duration::from_millis(200), ..SubscriptionOptions::default() };
    let mut runtime = ConsumerRuntime::new(log.clone(), store.clone(), "r1".parse().unwrap());
    let tasks = "tasks".parse().unwrap();
    let missions = "missions".parse().unwrap();
    let effect = || RecordEffect { consumer: "r1".into(), delay: Duration::ZERO };
    runtime.spawn(Subscription::new(tasks, vec!["task.*".parse::<TypePattern>().unwrap()], effect()).with_options(options.clone()));
    runtime.spawn(Subscription::new(missions, vec!["mission.*".parse::<TypePattern>().unwrap()], effect()).with_options(options));

    poll("both subscribers caught up and two effects", Duration::from_secs(20), || async {
        let tasks = log.group_info(&"tasks".parse().unwrap()).await.map(|g| g.lag());
        let missions = log.group_info(&"missions".parse().unwrap()).await.map(|g| g.lag());
        (matches!((tasks, missions), (Ok(0), Ok(0))) && effect_counts(&store).await.0 == 2).then_some(())
    })
    .await;
    let dead = store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap();
    assert_eq!(dead.len(), 1, "only the subscriber of task.* dead-letters the bad task entry: {dead:?}");
    assert_eq!(dead[0].letter.subscriber.as_str(), "tasks");
    assert_eq!(dead[0].letter.kind, DeadLetterKind::Undecodable);
    assert_eq!(dead[0].letter.stream_message_id.as_str(), bad);
    assert!(dead[0].letter.error.contains("payload"), "{}", dead[0].letter.error);
    // The decodable entries around it were processed, each by the subscriber that wants it.
    let (rows, distinct) = effect_counts(&store).await;
    assert_eq!((rows, distinct), (2, 2), "{good} and {mission} each processed once");
    runtime.shutdown(Duration::from_secs(5)).await;
}
