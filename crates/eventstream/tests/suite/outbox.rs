//! The emit path: with the log down, `emit` still returns at once and loses nothing.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use eventstream::{ConsumerRuntime, EventStream, HandlerError, PublisherOptions, Subscription, handler_fn};
use eventstream_core::{EventLog, StartFrom, TypePattern};
use futures::FutureExt;

use super::helpers::{
    Faulty, create_effects, effect_counts, embedded, events, eventually, fast_options, group, sqlite_store, write_effect,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_survives_a_log_outage_and_delivers_every_event_once() {
    const N: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let real = embedded(dir.path()).await;
    let faulty = Faulty::wrap(real.clone());
    faulty.down.store(true, Ordering::SeqCst);
    let log: Arc<dyn EventLog> = faulty.clone();
    let store = sqlite_store(dir.path()).await;
    create_effects(&store).await;
    let options = PublisherOptions {
        relay_backoff: eventstream::Backoff { initial: Duration::from_millis(20), max: Duration::from_millis(200) },
        ..PublisherOptions::default()
    };
    let (stream, tasks) = EventStream::start(log.clone(), store.clone(), None, options);

    let batch = events(N, "task.created");
    let start = Instant::now();
    for e in batch.iter().cloned() {
        stream.emit(e).await;
    }
    let elapsed = start.elapsed();
    eprintln!("{N} emit calls with the log down took {elapsed:?}");
    assert!(elapsed < Duration::from_millis(800), "emit must not wait on the log: {elapsed:?}");

    // The outbox holds them durably while the log is down.
    eventually(Duration::from_secs(20), "all events in the outbox", || async { stream.outbox_stats().await.unwrap().0 == N as u64 }).await;
    assert_eq!(real.head().await.unwrap(), None, "nothing reached the log while it was down");

    let handler = handler_fn(|ctx, event| async move { write_effect(ctx.tx, event).await.map_err(HandlerError::transient) }.boxed());
    let name = group("outbox");
    let mut runtime = ConsumerRuntime::new(log.clone(), store.clone(), "r1".parse().unwrap());
    runtime.spawn(
        Subscription::new(name.clone(), vec![TypePattern::all()], handler)
            .with_options(eventstream::SubscriptionOptions { batch_size: 128, ..fast_options() }),
    );

    faulty.down.store(false, Ordering::SeqCst);
    eventually(Duration::from_secs(120), "every emitted event processed", || async { effect_counts(&store).await.1 as usize == N }).await;
    eventually(Duration::from_secs(20), "outbox drained and no lag", || async {
        stream.outbox_stats().await.unwrap().0 == 0 && log.group_info(&name).await.unwrap().lag() == 0
    })
    .await;
    assert_eq!(effect_counts(&store).await, (N as i64, N as i64), "each event arrives once in effect");
    let ids: std::collections::HashSet<_> = batch.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(ids.len(), N);
    runtime.shutdown(Duration::from_secs(5)).await;
    tasks.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_outbox_publishes_only_committed_changes() {
    let dir = tempfile::tempdir().unwrap();
    let log = embedded(dir.path()).await;
    let store = sqlite_store(dir.path()).await;
    let (stream, tasks) = EventStream::start(log.clone(), store.clone(), None, PublisherOptions::default());
    let committed = events(1, "mission.created");
    let rolled_back = events(1, "mission.cancelled");
    let mut tx = store.begin().await.unwrap();
    stream.outbox_in_tx(&mut tx, &committed).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    stream.outbox_in_tx(&mut tx, &rolled_back).await.unwrap();
    tx.rollback().await.unwrap();
    stream.wake_relay();
    eventually(Duration::from_secs(10), "committed event in the log", || async { log.head().await.unwrap().is_some() }).await;
    let all = log.read(&StartFrom::Beginning, 10, Duration::ZERO).await.unwrap();
    let ids: Vec<_> = all.iter().map(|r| r.event.as_ref().unwrap().id.clone()).collect();
    assert_eq!(ids, vec![committed[0].id.clone()]);
    tasks.shutdown(Duration::from_secs(5)).await;
}
