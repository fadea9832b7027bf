//! Crash test: a subscriber process is SIGKILLed at random points while consuming 20,000 events, 10
//! times, and restarted; afterwards every event's effect exists exactly once and nothing is pending.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use eventstream::{ConsumerRuntime, HandlerError, Subscription, handler_fn};
use eventstream_core::{ConsumerName, GroupName, TypePattern};
use futures::FutureExt;
use rand::Rng;

use super::helpers::{create_effects, effect_counts, embedded, events, eventually, fast_options, sqlite_store, write_effect};

pub const CHILD_ENV: &str = "EVENTSTREAM_TEST_CRASH_CHILD";
const EVENTS: usize = 20_000;
const KILLS: usize = 10;

fn subscriber() -> GroupName {
    "crash_test".parse().unwrap()
}

/// The child: consumes until killed.
pub fn run_child(dir: &Path) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let log = embedded(dir).await;
        let store = sqlite_store(dir).await;
        let consumer: ConsumerName = "replica-1".parse().unwrap();
        let mut runtime = ConsumerRuntime::new(log, store, consumer);
        let handler = handler_fn(|ctx, event| async move { write_effect(ctx.tx, event).await.map_err(HandlerError::transient) }.boxed());
        let sub = Subscription::new(subscriber(), vec![TypePattern::all()], handler)
            .with_options(eventstream::SubscriptionOptions { batch_size: 64, ..fast_options() });
        runtime.spawn(sub);
        std::future::pending::<()>().await;
    });
}

fn spawn_child(dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_subscriber_processes_every_event_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = embedded(dir.path()).await;
    let store = sqlite_store(dir.path()).await;
    create_effects(&store).await;
    for chunk in events(EVENTS, "task.created").chunks(1000) {
        log.append(chunk).await.unwrap();
    }
    let mut rng = rand::rng();
    for round in 0..KILLS {
        // Kill at a random point of the consumption: once the effects pass a random target inside this
        // round's slice of the events, so every kill lands while work is in flight.
        let slice = EVENTS / (KILLS + 1);
        let target = rng.random_range(round * slice + 1..=(round + 1) * slice) as i64;
        let mut child = spawn_child(dir.path());
        let start = std::time::Instant::now();
        loop {
            let (rows, _) = effect_counts(&store).await;
            if rows >= target {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(120), "round {round}: no progress past {rows} effects");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let (rows, _) = effect_counts(&store).await;
        let info = log.group_info(&subscriber()).await.ok();
        eprintln!(
            "round {round}: killed past {target} effects ({rows} after the kill), pending {:?}, lag {:?}",
            info.as_ref().map(|i| i.pending),
            info.map(|i| i.lag())
        );
    }
    // Final run to completion.
    let mut child = spawn_child(dir.path());
    eventually(Duration::from_secs(240), "the final run processed every event", || async {
        effect_counts(&store).await.0 as usize >= EVENTS && log.group_info(&subscriber()).await.is_ok_and(|i| i.lag() == 0)
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let (rows, distinct) = effect_counts(&store).await;
    assert_eq!(distinct as usize, EVENTS, "every event has an effect");
    assert_eq!(rows as usize, EVENTS, "no event has two effects");
    let info = log.group_info(&subscriber()).await.unwrap();
    assert_eq!(info.pending, 0, "nothing pending: {info:?}");
    assert_eq!(info.lag(), 0);
    let dead = store.list_dead_letters(&eventstream_sql::DeadLetterFilter::default()).await.unwrap();
    assert!(dead.is_empty(), "no dead letters: {dead:?}");
}
