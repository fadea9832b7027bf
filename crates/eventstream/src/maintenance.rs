//! The retention task every embedding of the runtime needs: inbox rows (`processed_events`) and retry
//! state older than the dedup retention are deleted, and the stream is trimmed when the log can be
//! trimmed and a limit is set. Runs once at start and then every [`RetentionPolicy::interval`]; each
//! failure is logged with its cause chain and the next round tries again.
//!
//! Several replicas on one state store run each periodic job once per interval between them:
//! [`spawn_every_leased`] runs a job only on the replica holding its [`Lease`].
//!
//! Trimming is backend-specific (only Redis Streams grow without bound here), so it comes in as a
//! [`StreamTrimmer`] built by whoever picked the backend; the task itself knows no backend.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use eventstream_sql::{Lease, StateStore};
use tokio_util::sync::CancellationToken;

/// How long inbox rows are kept and how often the task runs.
#[derive(Debug, Clone)]
pub struct RetentionPolicy {
    /// Inbox and retry-state rows older than this are deleted (default 30 days).
    pub dedup: Duration,
    /// Time between two rounds (default 1 h).
    pub interval: Duration,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self { dedup: Duration::from_secs(30 * 24 * 3600), interval: Duration::from_secs(3600) }
    }
}

/// Trims a stream by the limits it was built with, never removing an entry a consumer still needs.
#[async_trait]
pub trait StreamTrimmer: Send + Sync + std::fmt::Debug {
    /// Trims once; returns a one-line summary of what was removed.
    ///
    /// # Errors
    /// The log is unreachable or refuses; the task logs the error and tries again next round.
    async fn trim(&self) -> Result<String, Box<dyn std::error::Error + Send + Sync>>;
}

/// The lease name of the retention job.
pub const RETENTION_JOB: &str = "eventstream.retention";

/// Starts the retention task; it stops when `stop` is cancelled. With `holder` (this replica's name)
/// the task runs under the [`RETENTION_JOB`] lease, so of several replicas sharing the state store one
/// runs it per interval ([`spawn_every_leased`]); without, it runs at start and every interval here.
pub fn spawn(
    store: StateStore,
    trimmer: Option<Arc<dyn StreamTrimmer>>,
    policy: RetentionPolicy,
    stop: CancellationToken,
    holder: Option<&str>,
) -> tokio::task::JoinHandle<()> {
    let interval = policy.interval;
    let policy = Arc::new(policy);
    let lease = holder.map(|h| job_lease(store.clone(), RETENTION_JOB, h, interval));
    let job = move || {
        let (store, trimmer, policy) = (store.clone(), trimmer.clone(), policy.clone());
        async move { run_once(&store, trimmer.as_deref(), &policy).await }
    };
    match lease {
        // The first round right at start, like the unleased task: it catches up after downtime.
        Some(lease) => tokio::spawn(run_leased(Duration::ZERO, lease, interval, stop, job)),
        None => spawn_now_and_every(interval, stop, job),
    }
}

/// Starts a periodic task: `f` runs after `interval`, then again `interval` after each run ends, until
/// `stop` is cancelled (a run in progress finishes first). `f` logs its own failures; the loop never
/// ends on one. The one timer loop of the runtime's and the modules' background jobs.
pub fn spawn_every<F, Fut>(interval: Duration, stop: CancellationToken, f: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(run_every(interval, interval, stop, f))
}

/// [`spawn_every`] for jobs that must also run at start: `f` runs at once, then again `interval` after
/// each run ends, until `stop` is cancelled. For catch-up work such as recovering what a crashed process
/// left behind, or retention.
pub fn spawn_now_and_every<F, Fut>(interval: Duration, stop: CancellationToken, f: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(run_every(Duration::ZERO, interval, stop, f))
}

/// The loop behind [`spawn_every`] and [`spawn_now_and_every`]: waits `first`, runs `f`, then waits `interval` between
/// runs.
async fn run_every<F, Fut>(first: Duration, interval: Duration, stop: CancellationToken, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut wait = first;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        f().await;
        wait = interval;
    }
}

/// How long a periodic job's lease lasts after each run, in intervals: a dead holder's job moves to
/// another replica after at most this many intervals.
pub const LEASE_INTERVALS: u32 = 3;

/// [`spawn_every`] for a job that must run once per interval across every replica sharing a state store
/// (metrics aggregation, heartbeat checks, retention, audit checkpoints): at each tick this replica
/// takes or renews `lease` and runs `f` only while it holds it; the other replicas' ticks do nothing.
/// When the holder dies, another replica takes over once the lease expired (build the lease with a ttl
/// of [`LEASE_INTERVALS`] intervals, as [`job_lease`] does). On stop the lease is released so another
/// replica takes over at its next tick.
pub fn spawn_every_leased<F, Fut>(lease: Lease, interval: Duration, stop: CancellationToken, f: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(run_leased(interval, lease, interval, stop, f))
}

/// A lease named `job` for `holder` (this replica's consumer name), lasting [`LEASE_INTERVALS`] times
/// `interval` (at least a second) from each renewal.
pub fn job_lease(store: StateStore, job: &str, holder: &str, interval: Duration) -> Lease {
    Lease::new(store, job, holder, (interval * LEASE_INTERVALS).max(Duration::from_secs(1)))
}

/// The loop behind [`spawn_every_leased`]: waits `first` (then `interval` after each tick), takes or
/// renews the lease, runs `f` while held; releases the lease on stop.
async fn run_leased<F, Fut>(first: Duration, lease: Lease, interval: Duration, stop: CancellationToken, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut wait = first;
    let mut held = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
        wait = interval;
        match lease.try_acquire().await {
            Ok(true) => {
                if !held {
                    tracing::info!(job = lease.name(), holder = lease.holder(), "this replica now runs the periodic job");
                }
                held = true;
                f().await;
            }
            Ok(false) => held = false,
            Err(e) => {
                held = false;
                tracing::warn!(job = lease.name(), error = %eventstream_core::error::chain(&e), "cannot take the job's lease; skipping this run");
            }
        }
    }
    if held && let Err(e) = lease.release().await {
        tracing::warn!(job = lease.name(), error = %eventstream_core::error::chain(&e), "cannot release the job's lease; it expires on its own");
    }
}

/// One round of retention, errors logged.
pub async fn run_once(store: &StateStore, trimmer: Option<&dyn StreamTrimmer>, policy: &RetentionPolicy) {
    match store.purge_processed_older_than(policy.dedup).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, "inbox retention: deleted old processed_events rows"),
        Err(e) => tracing::warn!(error = %eventstream_core::error::chain(&e), "inbox retention failed"),
    }
    if let Err(e) = store.purge_retry_state_older_than(policy.dedup).await {
        tracing::warn!(error = %eventstream_core::error::chain(&e), "retry-state retention failed");
    }
    if let Some(t) = trimmer {
        match t.trim().await {
            Ok(summary) => tracing::info!(%summary, "stream retention"),
            Err(e) => tracing::warn!(error = %eventstream_core::error::chain(e.as_ref()), "stream retention failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn counting(interval: Duration, stop: CancellationToken) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let task = spawn_every(interval, stop, move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        (runs, task)
    }

    #[tokio::test]
    async fn spawn_every_repeats_until_stopped() {
        let stop = CancellationToken::new();
        let (runs, task) = counting(Duration::from_millis(10), stop.clone());
        eventstream_testkit::fixtures::eventually("three runs", Duration::from_secs(10), || {
            let runs = runs.clone();
            async move { (runs.load(Ordering::SeqCst) >= 3).then_some(()) }
        })
        .await;
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops when cancelled").expect("no panic");
    }

    #[tokio::test]
    async fn spawn_every_waits_one_interval_before_the_first_run() {
        let stop = CancellationToken::new();
        let (runs, task) = counting(Duration::from_secs(3600), stop.clone());
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops while waiting").expect("no panic");
    }

    /// Two replicas (two holders of one job's lease on one store) tick every 20 ms: only the holder runs
    /// the job; when it stops it releases the lease and the other one takes over.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_leased_job_runs_on_one_replica_and_moves_when_it_stops() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::connect(&eventstream_sql::sqlite_url(&dir.path().join("state.db"))).await.expect("store");
        let every = Duration::from_millis(20);
        let replica = |name: &str| {
            let runs = Arc::new(AtomicUsize::new(0));
            let stop = CancellationToken::new();
            let counter = runs.clone();
            let task = spawn_every_leased(job_lease(store.clone(), "job", name, every), every, stop.clone(), move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
            (runs, stop, task)
        };
        let (a_runs, a_stop, a_task) = replica("a");
        let (b_runs, b_stop, b_task) = replica("b");
        eventstream_testkit::fixtures::eventually("ten runs", Duration::from_secs(10), || {
            let total = a_runs.load(Ordering::SeqCst) + b_runs.load(Ordering::SeqCst);
            async move { (total >= 10).then_some(()) }
        })
        .await;
        let (a, b) = (a_runs.load(Ordering::SeqCst), b_runs.load(Ordering::SeqCst));
        assert!(a == 0 || b == 0, "one replica holds the job: a ran {a}, b ran {b}");
        let (holder_stop, holder_task, other_runs, other_stop, other_task) =
            if a > 0 { (a_stop, a_task, b_runs, b_stop, b_task) } else { (b_stop, b_task, a_runs, a_stop, a_task) };
        holder_stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), holder_task).await.expect("stops").expect("no panic");
        eventstream_testkit::fixtures::eventually("the other replica takes over", Duration::from_secs(10), || {
            let runs = other_runs.load(Ordering::SeqCst);
            async move { (runs >= 3).then_some(()) }
        })
        .await;
        other_stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), other_task).await.expect("stops").expect("no panic");
    }

    #[tokio::test]
    async fn spawn_now_and_every_runs_at_once_then_waits() {
        let stop = CancellationToken::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let task = spawn_now_and_every(Duration::from_secs(3600), stop.clone(), move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        eventstream_testkit::fixtures::eventually("the first run", Duration::from_secs(10), || {
            let runs = runs.clone();
            async move { (runs.load(Ordering::SeqCst) >= 1).then_some(()) }
        })
        .await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1, "the second run waits an interval");
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops while waiting").expect("no panic");
    }
}
