//! Replay without and with `reprocess`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use eventstream::{ConsumerRuntime, HandlerError, Subscription, handler_fn, replay};
use eventstream_core::{StartFrom, TypePattern};
use futures::FutureExt;

use super::helpers::{create_effects, effect_counts, embedded, events, eventually, fast_options, group, sqlite_store, write_effect};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_skips_processed_events_unless_reprocessing() {
    let dir = tempfile::tempdir().unwrap();
    let log = embedded(dir.path()).await;
    let store = sqlite_store(dir.path()).await;
    create_effects(&store).await;
    let calls = Arc::new(AtomicU64::new(0));
    let c = calls.clone();
    let handler = handler_fn(move |ctx, event| {
        let c = c.clone();
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            write_effect(ctx.tx, event).await.map_err(HandlerError::transient)
        }
        .boxed()
    });
    let name = group("replay");
    let mut runtime = ConsumerRuntime::new(log.clone(), store.clone(), "r1".parse().unwrap());
    let stats = runtime.spawn(Subscription::new(name.clone(), vec![TypePattern::all()], handler).with_options(fast_options()));
    log.append(&events(100, "task.created")).await.unwrap();
    eventually(Duration::from_secs(20), "100 processed", || async {
        effect_counts(&store).await.0 == 100 && log.group_info(&name).await.unwrap().lag() == 0
    })
    .await;

    // Without reprocess: every event is delivered again, the inbox skips them all.
    let report = replay::replay(&log, &store, &name, &StartFrom::Beginning, false, &|_, _| {}).await.unwrap();
    assert_eq!(report.inbox_rows_removed, 0);
    eventually(Duration::from_secs(20), "replayed deliveries acked", || async {
        stats.snapshot().duplicates == 100 && log.group_info(&name).await.unwrap().lag() == 0
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 100, "no handler call for already-processed events");
    assert_eq!(effect_counts(&store).await.0, 100);

    // With reprocess: the inbox rows of the range are removed, so every event is handled again.
    let report = replay::replay(&log, &store, &name, &StartFrom::Beginning, true, &|_, _| {}).await.unwrap();
    assert_eq!(report.events_in_range, 100);
    assert_eq!(report.inbox_rows_removed, 100);
    eventually(Duration::from_secs(20), "reprocessed", || async {
        effect_counts(&store).await.0 == 200 && log.group_info(&name).await.unwrap().lag() == 0
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 200);
    assert_eq!(effect_counts(&store).await.1, 100);
    runtime.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn replaying_an_unknown_subscriber_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = embedded(dir.path()).await;
    let store = sqlite_store(dir.path()).await;
    let err = replay::replay(&log, &store, &"nobody".parse().unwrap(), &StartFrom::Beginning, false, &|_, _| {}).await.unwrap_err();
    assert!(matches!(err, replay::ReplayError::Log(eventstream_core::LogError::UnknownGroup(_))), "{err}");
}
