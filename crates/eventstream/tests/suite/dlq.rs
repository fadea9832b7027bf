//! Dead letters are never stranded, and they keep the whole error chain: a retry while the log is down
//! leaves the letter open and retryable; a failure of the redelivered copy is never hidden under
//! `retried`; the stored error carries the database's own message.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use eventstream::{ConsumerRuntime, HandlerError, Subscription, dlq, handler_fn};
use eventstream_core::{ConsumerName, EventLog, TypePattern};
use eventstream_sql::{DeadLetter, DeadLetterFilter, DeadLetterKind, DeadLetterStatus, StateStore, StoreError, sqlx};
use futures::FutureExt;

use super::helpers::{
    Faulty, create_effects, drop_schema, effect_counts, embedded, events, eventually, fast_options, group, postgres_store, sqlite_store,
    write_effect,
};

/// The dead letters of `subscriber` for the event `event_id`, oldest first.
async fn letters(store: &StateStore, subscriber: &eventstream_core::GroupName, event_id: &str) -> Vec<DeadLetter> {
    let filter = DeadLetterFilter { subscriber: Some(subscriber.clone()), ..DeadLetterFilter::default() };
    store.list_dead_letters(&filter).await.unwrap().into_iter().filter(|d| d.letter.event_id == event_id).collect()
}

async fn outage_scenario(store: StateStore) {
    let dir = tempfile::tempdir().unwrap();
    let real = embedded(dir.path()).await;
    let faulty = Faulty::wrap(real.clone());
    let log: Arc<dyn EventLog> = faulty.clone();
    create_effects(&store).await;
    let fixed = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU32::new(0));
    let (f, c) = (fixed.clone(), calls.clone());
    let handler = handler_fn(move |ctx, event| {
        let (f, c) = (f.clone(), c.clone());
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            if !f.load(Ordering::SeqCst) {
                return Err(HandlerError::permanent("cannot handle it yet"));
            }
            write_effect(ctx.tx, event).await.map_err(HandlerError::transient)
        }
        .boxed()
    });
    let name = group("dlq_outage");
    let mut runtime = ConsumerRuntime::new(log.clone(), store.clone(), "r1".parse::<ConsumerName>().unwrap());
    runtime.spawn(Subscription::new(name.clone(), vec![TypePattern::all()], handler).with_options(fast_options()));

    let event = events(1, "task.created").remove(0);
    log.append(std::slice::from_ref(&event)).await.unwrap();
    eventually(Duration::from_secs(10), "the event is dead-lettered", || async {
        letters(&store, &name, event.id.as_str()).await.len() == 1
    })
    .await;
    let dl = letters(&store, &name, event.id.as_str()).await.remove(0);
    assert_eq!(dl.status, DeadLetterStatus::Open);
    let head_before = real.head().await.unwrap();
    fixed.store(true, Ordering::SeqCst);

    // The log goes down: each retry fails as "retry later", and the letter stays open.
    faulty.down.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        match dlq::retry_dead_letter(&log, &store, dl.id).await {
            Err(dlq::DlqError::Log(e)) => assert!(e.is_transient(), "an outage is a transient failure: {e}"),
            other => panic!("a retry with the log down must fail with the log's error, got {other:?}"),
        }
        let now = store.get_dead_letter(dl.id).await.unwrap().unwrap();
        assert_eq!(now.status, DeadLetterStatus::Open, "a failed retry must not strand the letter");
        assert_eq!(now.letter.attempts, dl.letter.attempts);
    }
    assert_eq!(real.head().await.unwrap(), head_before, "nothing reached the log while it was down");
    assert_eq!(effect_counts(&store).await, (0, 0));

    // The log is back: the same letter is retried, and the event is handled exactly once.
    faulty.down.store(false, Ordering::SeqCst);
    dlq::retry_dead_letter(&log, &store, dl.id).await.unwrap();
    eventually(Duration::from_secs(10), "the retried event's effect", || async { effect_counts(&store).await == (1, 1) }).await;
    eventually(Duration::from_secs(10), "nothing pending", || async { log.group_info(&name).await.unwrap().lag() == 0 }).await;
    let done = store.get_dead_letter(dl.id).await.unwrap().unwrap();
    assert_eq!(done.status, DeadLetterStatus::Retried);
    assert!(
        matches!(dlq::retry_dead_letter(&log, &store, dl.id).await, Err(dlq::DlqError::NotOpen { .. })),
        "a retried letter cannot be retried twice"
    );
    runtime.shutdown(Duration::from_secs(5)).await;
    assert_eq!(effect_counts(&store).await, (1, 1), "the event arrived exactly once");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one failed delivery, one redelivery after the log recovered");
    assert!(letters(&store, &name, event.id.as_str()).await.iter().all(|d| d.status != DeadLetterStatus::Open));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_retry_while_the_log_is_down_leaves_it_open_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    outage_scenario(sqlite_store(dir.path()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_retry_while_the_log_is_down_leaves_it_open_postgres() {
    let Some((store, schema)) = postgres_store().await else { return };
    outage_scenario(store.clone()).await;
    store.close().await;
    drop_schema(&schema).await;
}

/// The redelivered copy fails again before the retry marks the letter (the append is held until the
/// runtime merged that failure into the still-open letter): the failure stays visible as an open letter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_of_the_redelivered_event_during_the_retry_stays_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    let faulty = Faulty::wrap(embedded(dir.path()).await);
    let log: Arc<dyn EventLog> = faulty.clone();
    let handler = handler_fn(|_ctx, _event| async { Err(HandlerError::permanent("still broken")) }.boxed());
    let name = group("dlq_merge");
    let mut runtime = ConsumerRuntime::new(log.clone(), store.clone(), "r1".parse::<ConsumerName>().unwrap());
    runtime.spawn(Subscription::new(name.clone(), vec![TypePattern::all()], handler).with_options(fast_options()));
    let event = events(1, "task.created").remove(0);
    log.append(std::slice::from_ref(&event)).await.unwrap();
    eventually(Duration::from_secs(10), "dead-lettered", || async { letters(&store, &name, event.id.as_str()).await.len() == 1 }).await;
    let dl = letters(&store, &name, event.id.as_str()).await.remove(0);

    faulty.hold_appends.store(true, Ordering::SeqCst);
    let retry = tokio::spawn({
        let (log, store) = (log.clone(), store.clone());
        async move { dlq::retry_dead_letter(&log, &store, dl.id).await }
    });
    eventually(Duration::from_secs(10), "the redelivered copy failed into the open letter", || async {
        store.get_dead_letter(dl.id).await.unwrap().unwrap().letter.attempts == dl.letter.attempts + 1
    })
    .await;
    faulty.release();
    retry.await.unwrap().unwrap();

    let all = letters(&store, &name, event.id.as_str()).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0].id, dl.id);
    assert_eq!(all[0].status, DeadLetterStatus::Retried);
    assert_eq!(all[1].status, DeadLetterStatus::Open, "the new failure must not be hidden under `retried`");
    assert_eq!(all[1].letter.attempts, 1);
    assert!(all[1].letter.error.contains("still broken"), "{}", all[1].letter.error);
    runtime.shutdown(Duration::from_secs(5)).await;
}

/// A handler whose SQL fails stores the whole chain in the dead letter: its context, and the database's
/// own message below it.
async fn error_chain_scenario(store: StateStore, database_says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let log = embedded(dir.path()).await;
    let handler = handler_fn(|ctx, event| {
        async move {
            sqlx::query("INSERT INTO no_such_table (event_id) VALUES ($1)")
                .bind(event.id.to_string())
                .execute(ctx.tx.conn())
                .await
                .map_err(|e| StoreError::sqlx("writing the effect", e))?;
            Ok(())
        }
        .boxed()
    });
    let name = group("dlq_chain");
    let mut runtime = ConsumerRuntime::new(log.clone(), store.clone(), "r1".parse::<ConsumerName>().unwrap());
    runtime.spawn(Subscription::new(name.clone(), vec![TypePattern::all()], handler).with_options(fast_options()));
    let event = events(1, "task.created").remove(0);
    log.append(std::slice::from_ref(&event)).await.unwrap();
    eventually(Duration::from_secs(10), "dead-lettered", || async { letters(&store, &name, event.id.as_str()).await.len() == 1 }).await;
    let dl = letters(&store, &name, event.id.as_str()).await.remove(0);
    runtime.shutdown(Duration::from_secs(5)).await;
    assert_eq!(dl.letter.kind, DeadLetterKind::Permanent);
    assert!(dl.letter.error.starts_with("permanent failure: state store query failed while writing the effect: "), "{}", dl.letter.error);
    assert!(dl.letter.error.contains(database_says), "the database's own message is kept: {}", dl.letter.error);
    assert_eq!(dl.letter.error.matches(database_says).count(), 1, "no cause is printed twice: {}", dl.letter.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_error_keeps_the_database_message_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    error_chain_scenario(sqlite_store(dir.path()).await, "no such table: no_such_table").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_error_keeps_the_database_message_postgres() {
    let Some((store, schema)) = postgres_store().await else { return };
    error_chain_scenario(store.clone(), "relation \"no_such_table\" does not exist").await;
    store.close().await;
    drop_schema(&schema).await;
}
