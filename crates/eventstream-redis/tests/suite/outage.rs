//! Outage test: the whole stack (`EventStream::emit` -> local outbox -> relay -> Redis -> consumer
//! runtime -> handler) on a private `redis-server` with persistence. Events are emitted at a steady rate
//! for 20 s; Redis is SIGKILLed 5 s in and restarted on the same port and directory 10 s later. Emitting
//! never stalls, the outbox holds the events while Redis is down, and afterwards every emitted event has
//! exactly one effect, nothing is pending, and the dashboard numbers (outbox depth, lag) are back to zero.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eventstream::{Backoff, ConsumerRuntime, EventStream, PublisherOptions, Subscription};
use eventstream_core::{EventLog, GroupName, TypePattern};
use eventstream_redis::RedisLog;
use eventstream_sql::{StateStore, sqlite_url};
use eventstream_testkit::sample_event;

use super::effects::{RecordEffect, create_effects_table, dead_letter_count, effect_counts, effects};
use super::helpers::poll;
use super::server::{PrivateRedis, fast_options, redis_server_installed};

/// Events emitted per second.
const RATE: u64 = 200;
/// How long events are emitted.
const EMIT_FOR: Duration = Duration::from_secs(20);
/// When Redis is killed, from the first emit.
const OUTAGE_AT: Duration = Duration::from_secs(5);
/// How long Redis stays down.
const OUTAGE_FOR: Duration = Duration::from_secs(10);

/// The largest values the monitor saw, as a dashboard polling every 50 ms would show them.
#[derive(Default)]
struct Peaks {
    outbox_depth: AtomicU64,
    outbox_depth_while_down: AtomicU64,
    lag: AtomicU64,
    lag_samples: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emitted_events_survive_a_redis_outage_with_exactly_one_effect_each() {
    if !redis_server_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut server = PrivateRedis::start_ready(dir.path()).await;
    let log: Arc<dyn EventLog> =
        Arc::new(RedisLog::connect(server.fast_config("outage:")).await.unwrap_or_else(|e| panic!("connect: {e}")));
    let store = StateStore::connect(&sqlite_url(&dir.path().join("state.db"))).await.unwrap_or_else(|e| panic!("state store: {e}"));
    create_effects_table(&store).await;

    // Short retry caps so recovery after the restart takes a second or two, not the 5 s defaults.
    let publisher_options = PublisherOptions {
        relay_backoff: Backoff { initial: Duration::from_millis(50), max: Duration::from_millis(500) },
        relay_poll: Duration::from_millis(200),
        ..PublisherOptions::default()
    };
    let (stream, publisher_tasks) = EventStream::start(log.clone(), store.clone(), None, publisher_options);

    let group: GroupName = "outage-effects".parse().unwrap_or_else(|e| panic!("{e}"));
    let consumer = "outage-replica-1";
    // Acks lost in the outage leave deliveries pending; they are taken back (and found in the inbox)
    // after 2 s idle.
    let backoff = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(1) };
    let options = fast_options(32, backoff, Duration::from_secs(2), Duration::from_millis(500));
    let mut runtime = ConsumerRuntime::new(log.clone(), store.clone(), consumer.parse().unwrap_or_else(|e| panic!("{e}")));
    let sub_stats = runtime.spawn(
        Subscription::new(group.clone(), vec![TypePattern::all()], RecordEffect { consumer: consumer.to_owned(), delay: Duration::ZERO })
            .with_options(options),
    );

    // The dashboard: outbox depth and lag, sampled every 50 ms.
    let peaks = Arc::new(Peaks::default());
    let down = Arc::new(AtomicBool::new(false));
    let monitor = {
        let (stream, log, group, peaks, down) = (stream.clone(), log.clone(), group.clone(), peaks.clone(), down.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tick.tick().await;
                if let Ok((depth, _)) = stream.outbox_stats().await {
                    peaks.outbox_depth.fetch_max(depth, Ordering::Relaxed);
                    if down.load(Ordering::Relaxed) {
                        peaks.outbox_depth_while_down.fetch_max(depth, Ordering::Relaxed);
                    }
                }
                if let Ok(info) = log.group_info(&group).await {
                    peaks.lag.fetch_max(info.lag(), Ordering::Relaxed);
                    peaks.lag_samples.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    // Emit at a steady rate; the outage is scheduled by event number, so it sits in the middle of the run.
    let total = RATE * EMIT_FOR.as_secs();
    let (kill_at, restart_at) = (RATE * OUTAGE_AT.as_secs(), RATE * (OUTAGE_AT + OUTAGE_FOR).as_secs());
    let mut ids = HashSet::new();
    let mut slowest_emit = Duration::ZERO;
    let mut tick = tokio::time::interval(Duration::from_secs(1) / u32::try_from(RATE).unwrap_or(u32::MAX));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    for i in 0..total {
        tick.tick().await;
        if i == kill_at {
            server.kill();
            down.store(true, Ordering::Relaxed);
        }
        if i == restart_at {
            server.restart();
            down.store(false, Ordering::Relaxed);
        }
        let e = sample_event(i);
        ids.insert(e.id.to_string());
        let t = Instant::now();
        stream.emit(e).await;
        slowest_emit = slowest_emit.max(t.elapsed());
    }
    let emitting_took = started.elapsed();
    server.wait_ready().await;

    // Drained: one effect per event, outbox empty, lag zero (nothing pending, nothing undelivered).
    let drained = Instant::now();
    poll("every emitted event has its effect and the outbox and lag are back to zero", Duration::from_secs(30), || {
        let (stream, log, group, store) = (stream.clone(), log.clone(), group.clone(), store.clone());
        async move {
            let (_, distinct) = effect_counts(&store).await;
            let (depth, _) = stream.outbox_stats().await.ok()?;
            let info = log.group_info(&group).await.ok()?;
            (distinct == total && depth == 0 && info.lag() == 0).then_some(())
        }
    })
    .await;
    let drain_took = drained.elapsed();
    monitor.abort();

    let (count, distinct) = effect_counts(&store).await;
    let effect_ids: HashSet<String> = effects(&store).await.into_iter().map(|(id, _, _)| id).collect();
    let info = log.group_info(&group).await.unwrap_or_else(|e| panic!("group_info: {e}"));
    let (depth, oldest) = stream.outbox_stats().await.unwrap_or_else(|e| panic!("outbox_stats: {e}"));
    let publisher = stream.stats();
    let (relay_failures, relayed) = (publisher.relay_failures.load(Ordering::Relaxed), publisher.relayed.load(Ordering::Relaxed));
    let (max_depth, max_depth_down, max_lag) = (
        peaks.outbox_depth.load(Ordering::Relaxed),
        peaks.outbox_depth_while_down.load(Ordering::Relaxed),
        peaks.lag.load(Ordering::Relaxed),
    );
    let s = sub_stats.snapshot();
    println!(
        "outage test: emitted {total} at {RATE}/s in {emitting_took:.1?} (slowest emit {slowest_emit:.1?}), Redis down for {OUTAGE_FOR:?}; \
         drained {drain_took:.1?} after the last emit; max outbox depth {max_depth} ({max_depth_down} while down), max lag {max_lag} \
         ({} samples); relayed {relayed}, relay failures {relay_failures}; subscriber: {} processed, {} duplicates skipped, {} failures",
        peaks.lag_samples.load(Ordering::Relaxed),
        s.processed,
        s.duplicates,
        s.failures,
    );

    assert_eq!((count, distinct), (total, total), "every emitted event has exactly one effect (rows, distinct ids)");
    assert_eq!(effect_ids, ids, "the effects are those of the emitted events");
    assert_eq!((info.pending, info.undelivered), (0, 0), "nothing pending or undelivered: {info:?}");
    assert_eq!((depth, oldest), (0, None), "the outbox is empty");
    assert_eq!(dead_letter_count(&store).await, 0, "nothing was dead-lettered");
    assert!(relay_failures > 0, "the relay saw the outage");
    assert!(max_depth_down >= RATE, "the outbox held the events emitted while Redis was down (max depth while down {max_depth_down})");
    assert!(max_lag > 0, "the lag went up when Redis came back with a backlog");
    assert!(slowest_emit < Duration::from_secs(1), "emit never waits on the network (slowest {slowest_emit:?})");

    runtime.shutdown(Duration::from_secs(5)).await;
    publisher_tasks.shutdown(Duration::from_secs(5)).await;
    drop(server);
}
