//! The mission worker pool: `n` tasks that take missions from the queue in priority order (FIFO within a
//! priority), run them through the [`MissionExecutor`] while renewing their lease, and record success,
//! retry or final failure; and one recovery task that re-queues the missions of lost workers (expired
//! leases, see [`super::queue`]) at start and every half lease.
//!
//! Fixes the original's worker: a failure keeps the mission id and counts attempts (the original
//! re-enqueued a new mission with `retry_count` 0 and so retried forever); a store error never kills the
//! loop; shutdown lets the attempt in progress finish and record its outcome; a mission whose worker
//! died is run again instead of staying `RUNNING` forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use eventstream::maintenance::spawn_now_and_every;
use futures::FutureExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::executor::{ExecutionError, MissionExecutor};
use super::queue::Claimed;
use super::service::MissionService;

/// Counters of the worker pool, for `GET /api/missions/worker/status`.
#[derive(Debug, Default)]
pub struct WorkerState {
    /// Whether the pool runs.
    pub running: AtomicBool,
    /// Workers started.
    pub workers: AtomicUsize,
    /// Workers executing a mission now.
    pub busy: AtomicUsize,
    /// Attempts finished (success or failure).
    pub attempts: AtomicU64,
    /// Missions recovered from lost workers (expired leases) by this replica.
    pub recovered: AtomicU64,
}

/// Starts `workers` worker tasks; they stop when `shutdown` is cancelled.
pub(crate) fn spawn_pool(
    service: Arc<MissionService>,
    executor: Arc<dyn MissionExecutor>,
    workers: usize,
    poll: Duration,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let state = service.worker_state().clone();
    state.running.store(true, Ordering::SeqCst);
    state.workers.store(workers, Ordering::SeqCst);
    let mut tasks: Vec<JoinHandle<()>> = (0..workers)
        .map(|i| {
            let service = service.clone();
            let executor = executor.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                run_worker(i, &service, executor.as_ref(), poll, &shutdown).await;
                let state = service.worker_state();
                if state.workers.fetch_sub(1, Ordering::SeqCst) == 1 {
                    state.running.store(false, Ordering::SeqCst);
                }
            })
        })
        .collect();
    tasks.push(recover_lost(service, shutdown));
    tasks
}

/// Re-queues the missions of lost workers at start and then every half lease.
fn recover_lost(service: Arc<MissionService>, shutdown: CancellationToken) -> JoinHandle<()> {
    let every = (service.lease_duration() / 2).max(Duration::from_millis(10));
    spawn_now_and_every(every, shutdown, move || {
        let service = service.clone();
        async move {
            match service.requeue_expired().await {
                Ok(n) => {
                    service.worker_state().recovered.fetch_add(n as u64, Ordering::SeqCst);
                }
                Err(e) => tracing::warn!(error = %e, "cannot look for expired mission leases; retrying"),
            }
        }
    })
}

async fn run_worker(index: usize, service: &MissionService, executor: &dyn MissionExecutor, poll: Duration, shutdown: &CancellationToken) {
    let wake = service.queue_signal();
    while !shutdown.is_cancelled() {
        // Registered before looking at the queue, so a mission queued in between still wakes us.
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        match service.claim_next().await {
            Ok(Some(claimed)) => run_one(service, executor, &claimed, shutdown).await,
            Ok(None) => {
                tokio::select! {
                    () = notified => {}
                    () = tokio::time::sleep(poll) => {}
                    () = shutdown.cancelled() => {}
                }
            }
            Err(super::error::MissionError::Concurrent(_)) => {}
            Err(e) => {
                tracing::warn!(worker = index, error = %e, "mission worker cannot read the queue; retrying");
                tokio::select! {
                    () = tokio::time::sleep(poll) => {}
                    () = shutdown.cancelled() => {}
                }
            }
        }
    }
}

async fn run_one(service: &MissionService, executor: &dyn MissionExecutor, claimed: &Claimed, shutdown: &CancellationToken) {
    let state = service.worker_state();
    state.busy.fetch_add(1, Ordering::SeqCst);
    let attempt = claimed.mission.retry_count + 1;
    let started = Instant::now();
    let execution = std::panic::AssertUnwindSafe(executor.execute(&claimed.mission, attempt)).catch_unwind();
    tokio::pin!(execution);
    // Renew the lease while the attempt runs; a lost claim is only logged (the executor is not
    // cancellable), its outcome will be discarded.
    let every = (service.lease_duration() / 3).max(Duration::from_millis(5));
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut held = true;
    let outcome = loop {
        tokio::select! {
            done = &mut execution => break done,
            _ = renew.tick(), if held => match service.renew_lease(claimed).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(mission = %claimed.mission.id, "mission lease lost while the attempt runs; its outcome will be discarded");
                    held = false;
                }
                Err(e) => tracing::warn!(mission = %claimed.mission.id, error = %e, "cannot renew a mission lease; retrying"),
            },
        }
    }
    .unwrap_or_else(|_| Err(ExecutionError::new("Panic", "the executor panicked")));
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    // Recording the outcome must not be lost to a busy store: retry with a bounded backoff, also during
    // shutdown (the attempt has run; its outcome is owed).
    let mut delay = Duration::from_millis(50);
    for _ in 0..20 {
        let recorded = match &outcome {
            Ok(result) => service.complete(claimed, result.clone(), duration_ms).await,
            Err(e) => service.fail(claimed, &e.error_type, &e.message, duration_ms).await,
        };
        match recorded {
            Ok(true) => break,
            Ok(false) => {
                tracing::info!(mission = %claimed.mission.id, "mission changed or its lease was lost while it ran; its outcome is discarded");
                break;
            }
            Err(e) => {
                tracing::warn!(mission = %claimed.mission.id, error = %e, "cannot record a mission outcome; retrying");
                if shutdown.is_cancelled() && delay > Duration::from_secs(1) {
                    break;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
    state.attempts.fetch_add(1, Ordering::SeqCst);
    state.busy.fetch_sub(1, Ordering::SeqCst);
}
