//! The mission worker pool: `n` tasks that take missions from the queue in priority order (FIFO within a
//! priority), run them through the [`MissionExecutor`], and record success, retry or final failure.
//!
//! Fixes the original's worker: a failure keeps the mission id and counts attempts (the original
//! re-enqueued a new mission with `retry_count` 0 and so retried forever); a store error never kills the
//! loop; shutdown lets the attempt in progress finish and record its outcome.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::executor::{ExecutionError, MissionExecutor};
use super::service::{Claimed, MissionService};

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
    (0..workers)
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
        .collect()
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
    let outcome = std::panic::AssertUnwindSafe(executor.execute(&claimed.mission, attempt))
        .catch_unwind()
        .await
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
                tracing::info!(mission = %claimed.mission.id, "mission changed while it ran; its outcome is discarded");
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
