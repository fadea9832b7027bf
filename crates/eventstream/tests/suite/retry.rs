//! Retries, dead letters and the dead-letter retry, on SQLite and PostgreSQL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventstream::{ConsumerRuntime, HandlerError, Subscription, SubscriptionOptions, dlq, handler_fn};
use eventstream_core::{ConsumerName, EventLog, TypePattern};
use eventstream_sql::{DeadLetterFilter, DeadLetterKind, DeadLetterStatus, StateStore};
use futures::FutureExt;

use super::helpers::{
    create_effects, drop_schema, effect_counts, embedded, events, eventually, fast_options, group, postgres_store, sqlite_store,
    write_effect,
};

#[derive(Default)]
struct Script {
    calls: Mutex<HashMap<String, u32>>,
    /// Handler calls that returned Ok, in order: (event type, event id). A call inside a batch that was
    /// rolled back (another event of the batch failed) is listed too: side effects outside the transaction
    /// are at-least-once.
    successes: Mutex<Vec<(String, String)>>,
    poison_fixed: AtomicBool,
}

async fn retry_scenario(log: Arc<dyn EventLog>, store: StateStore) {
    create_effects(&store).await;
    let script = Arc::new(Script::default());
    let s = script.clone();
    let handler = handler_fn(move |ctx, event| {
        let s = s.clone();
        async move {
            let n = {
                let mut calls = s.calls.lock().unwrap();
                let n = calls.entry(event.id.to_string()).or_default();
                *n += 1;
                *n
            };
            match event.event_type.as_str() {
                "task.flaky" if n <= 3 => return Err(HandlerError::transient(format!("dependency down (call {n})"))),
                "task.poison" if !s.poison_fixed.load(Ordering::SeqCst) => {
                    return Err(HandlerError::permanent("payload cannot be handled"));
                }
                "task.panics" => panic!("handler bug"),
                _ => {}
            }
            write_effect(ctx.tx, event).await.map_err(HandlerError::transient)?;
            s.successes.lock().unwrap().push((event.event_type.to_string(), event.id.to_string()));
            Ok(())
        }
        .boxed()
    });
    let name = group("retry");
    // One slot only: a retrying event must not hold it.
    let options = SubscriptionOptions {
        concurrency: 1,
        backoff: eventstream::Backoff { initial: Duration::from_millis(60), max: Duration::from_millis(240) },
        ..fast_options()
    };
    let sub = Subscription::new(name.clone(), vec!["task.*".parse::<TypePattern>().unwrap()], handler).with_options(options);
    let mut runtime = ConsumerRuntime::new(log.clone(), store.clone(), "r1".parse::<ConsumerName>().unwrap());
    runtime.spawn(sub);

    let flaky = events(1, "task.flaky");
    let poison = events(1, "task.poison");
    let panics = events(1, "task.panics");
    let normal = events(20, "task.normal");
    log.append(&flaky).await.unwrap();
    log.append(&poison).await.unwrap();
    log.append(&panics).await.unwrap();
    log.append(&normal).await.unwrap();

    eventually(Duration::from_secs(30), "flaky succeeded and all normal events processed", || async {
        let done = script.successes.lock().unwrap();
        let normal: std::collections::HashSet<_> = done.iter().filter(|(t, _)| t == "task.normal").map(|(_, id)| id).collect();
        normal.len() == 20 && done.iter().any(|(t, _)| t == "task.flaky")
    })
    .await;
    let calls = |id: &str| script.calls.lock().unwrap().get(id).copied().unwrap_or(0);
    assert_eq!(calls(flaky[0].id.as_str()), 4, "a handler failing transiently 3 times then succeeding is called 4 times");
    {
        let order = script.successes.lock().unwrap();
        let flaky_at = order.iter().position(|(t, _)| t == "task.flaky").unwrap();
        let normal_before: std::collections::HashSet<_> =
            order[..flaky_at].iter().filter(|(t, _)| t == "task.normal").map(|(_, id)| id).collect();
        let normal_before = normal_before.len();
        assert!(normal_before >= 10, "events behind the retrying one were not held up: {normal_before} of 20 done before it");
    }
    eventually(Duration::from_secs(10), "two dead letters", || async {
        store.list_dead_letters(&DeadLetterFilter { subscriber: Some(name.clone()), ..DeadLetterFilter::default() }).await.unwrap().len()
            == 2
    })
    .await;
    let dead = store.list_dead_letters(&DeadLetterFilter { subscriber: Some(name.clone()), ..DeadLetterFilter::default() }).await.unwrap();
    let poison_dl = dead.iter().find(|d| d.letter.event_id == poison[0].id.as_str()).expect("poison dead-lettered");
    assert_eq!(poison_dl.letter.kind, DeadLetterKind::Permanent);
    assert_eq!(poison_dl.letter.attempts, 1);
    assert!(poison_dl.letter.error.contains("payload cannot be handled"), "{}", poison_dl.letter.error);
    assert_eq!(calls(poison[0].id.as_str()), 1, "a permanent failure is not retried");
    let panic_dl = dead.iter().find(|d| d.letter.event_id == panics[0].id.as_str()).expect("panicking handler dead-lettered");
    assert!(panic_dl.letter.error.contains("handler bug"), "{}", panic_dl.letter.error);

    // Nothing acknowledged away without a trace, nothing left pending.
    eventually(Duration::from_secs(10), "no lag", || async { log.group_info(&name).await.unwrap().lag() == 0 }).await;

    // Fix the handler, retry the dead letter: it is delivered again to this subscriber and succeeds once.
    script.poison_fixed.store(true, Ordering::SeqCst);
    dlq::retry_dead_letter(&log, &store, poison_dl.id).await.unwrap();
    eventually(Duration::from_secs(10), "poison processed after the retry", || async {
        script.successes.lock().unwrap().iter().any(|(t, _)| t == "task.poison")
    })
    .await;
    assert_eq!(calls(poison[0].id.as_str()), 2);
    let dl = store.get_dead_letter(poison_dl.id).await.unwrap().unwrap();
    assert_eq!(dl.status, DeadLetterStatus::Retried);
    assert!(
        matches!(dlq::retry_dead_letter(&log, &store, poison_dl.id).await, Err(dlq::DlqError::NotOpen { .. })),
        "a retried letter cannot be retried twice"
    );
    // Effects: 20 normal + flaky + poison, each exactly once.
    eventually(Duration::from_secs(10), "22 effects", || async { effect_counts(&store).await == (22, 22) }).await;
    runtime.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_retry_permanent_ones_dead_letter_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    retry_scenario(embedded(dir.path()).await, sqlite_store(dir.path()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_retry_permanent_ones_dead_letter_postgres() {
    let Some((store, schema)) = postgres_store().await else { return };
    let dir = tempfile::tempdir().unwrap();
    retry_scenario(embedded(dir.path()).await, store.clone()).await;
    store.close().await;
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_exhausted_into_the_dead_letter_queue() {
    let dir = tempfile::tempdir().unwrap();
    let log = embedded(dir.path()).await;
    let store = sqlite_store(dir.path()).await;
    let calls = Arc::new(Mutex::new(0u32));
    let c = calls.clone();
    let handler = handler_fn(move |_ctx, _event| {
        let c = c.clone();
        async move {
            *c.lock().unwrap() += 1;
            Err(HandlerError::transient("always down"))
        }
        .boxed()
    });
    let name = group("exhaust");
    let sub = Subscription::new(name.clone(), vec![TypePattern::all()], handler)
        .with_options(SubscriptionOptions { max_attempts: 3, ..fast_options() });
    let mut runtime = ConsumerRuntime::new(log.clone(), store.clone(), "r1".parse().unwrap());
    runtime.spawn(sub);
    log.append(&events(1, "task.created")).await.unwrap();
    eventually(Duration::from_secs(10), "dead letter", || async {
        !store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap().is_empty()
    })
    .await;
    let dl = &store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap()[0];
    assert_eq!(dl.letter.kind, DeadLetterKind::TransientExhausted);
    assert_eq!(dl.letter.attempts, 3);
    assert_eq!(*calls.lock().unwrap(), 3);
    eventually(Duration::from_secs(10), "acked", || async { log.group_info(&name).await.unwrap().lag() == 0 }).await;
    runtime.shutdown(Duration::from_secs(5)).await;
}
