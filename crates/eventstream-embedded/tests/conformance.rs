//! The embedded backend against the `EventLog` conformance suite (one test per clause), plus what only
//! this backend promises: group commit, several processes on one file, the baseline, both durabilities.
//!
//! This is the crate's one integration test binary.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventstream_core::{EventLog, StartFrom, async_trait};
use eventstream_embedded::{Durability, EmbeddedLog, EmbeddedOptions, baseline};
use eventstream_testkit::fixtures::{Must, consumer, group, positions, read_all, sample_index};
use eventstream_testkit::{LogFactory, sample_event, sample_events};

/// Opens each named log in its own subdirectory of a private temp dir.
struct Factory {
    dir: tempfile::TempDir,
    options: EmbeddedOptions,
}

impl Factory {
    fn new() -> Self {
        Self::with(EmbeddedOptions::default())
    }

    fn with(options: EmbeddedOptions) -> Self {
        Self { dir: tempfile::tempdir().must("create a temp dir"), options }
    }
}

#[async_trait]
impl LogFactory for Factory {
    async fn open(&self, name: &str) -> Arc<dyn EventLog> {
        Arc::new(EmbeddedLog::open(self.dir.path().join(name), self.options.clone()).await.must("open the embedded log"))
    }
}

/// Runs one conformance clause on a fresh factory.
async fn run(clause: eventstream_testkit::Clause) {
    clause(&Factory::new()).await;
}

eventstream_testkit::conformance_tests!(run);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_suite_passes_with_normal_durability() {
    let options = EmbeddedOptions { durability: Durability::Normal, ..EmbeddedOptions::default() };
    eventstream_testkit::run_all(&Factory::with(options)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_share_commits() {
    let dir = tempfile::tempdir().must("temp dir");
    let log = EmbeddedLog::open(dir.path(), EmbeddedOptions::default()).await.must("open");
    log.append(&[sample_event(0)]).await.must("warm up");
    let before = log.writer_stats();

    // Another connection holds the write lock, so the writer thread is stuck in its first commit while
    // the 64 appends queue up behind it; once the lock is released, the queued ones share one commit.
    let lock = rusqlite::Connection::open(log.db_path()).must("open a second connection");
    lock.execute_batch("BEGIN IMMEDIATE").must("take the write lock");
    let mut tasks = Vec::new();
    for i in 1..=64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move { log.append(&[sample_event(i)]).await }));
    }
    let queued = before.append_requests + 64;
    let deadline = Instant::now() + Duration::from_secs(5);
    while log.writer_stats().append_requests < queued {
        assert!(Instant::now() < deadline, "the 64 appends were not submitted");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lock.execute_batch("ROLLBACK").must("release the write lock");
    let mut positions_seen = HashSet::new();
    for t in tasks {
        let ps = t.await.must("append task").must("append");
        assert!(positions_seen.insert(ps[0].clone()), "two appends got the same position");
    }
    let after = log.writer_stats();
    assert_eq!(after.appended_events - before.appended_events, 64, "every event is committed");
    let commits = after.append_commits - before.append_commits;
    assert!(commits <= 2, "64 queued appends must share commits (group commit), took {commits} commits");
    assert_eq!(read_all(&log).await.len(), 65, "every event is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_on_one_file_never_deliver_twice_and_wake_each_other() {
    // Two handles have separate writer threads and connections, exactly as two processes would.
    let dir = tempfile::tempdir().must("temp dir");
    let a = EmbeddedLog::open(dir.path(), EmbeddedOptions::default()).await.must("open a");
    let b = EmbeddedLog::open(dir.path(), EmbeddedOptions::default()).await.must("open b");
    let g = group("shared");
    a.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group");
    b.ensure_group(&g, &StartFrom::End).await.must("ensure_group again from b keeps a's position");

    // A consumer blocked on b wakes within the poll interval when a appends.
    let waiter = {
        let (b, g) = (b.clone(), g.clone());
        tokio::spawn(async move { b.read_group(&g, &consumer("b0"), 10, Duration::from_secs(10)).await })
    };
    tokio::task::yield_now().await;
    let first = a.append(&[sample_event(0)]).await.must("append on a");
    let appended = Instant::now();
    let got = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .must("a blocked read_group on another handle wakes")
        .must("task")
        .must("read_group");
    assert!(appended.elapsed() < Duration::from_secs(2));
    assert_eq!(got.iter().map(|d| d.record.position.clone()).collect::<Vec<_>>(), first);
    assert_eq!(b.ack(&g, &first).await.must("ack on b"), 1, "an entry delivered through b is pending for both handles");

    // Both handles append and consume concurrently in one group: nothing lost, nothing delivered twice.
    let total = 1 + 2 * 200;
    let mut tasks = Vec::new();
    for (k, log) in [a.clone(), b.clone()].into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for i in 0..200u64 {
                log.append(&[sample_event(1 + k as u64 * 200 + i)]).await.must("append");
            }
            Vec::new()
        }));
    }
    for (k, log) in [a.clone(), b.clone()].into_iter().enumerate() {
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            let c = consumer(&format!("c{k}"));
            let mut got = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                let batch = log.read_group(&g, &c, 7, Duration::from_millis(200)).await.must("read_group");
                let ps: Vec<_> = batch.iter().map(|d| d.record.position.clone()).collect();
                log.ack(&g, &ps).await.must("ack");
                got.extend(batch.into_iter().filter_map(|d| d.record.event.ok().and_then(|e| sample_index(&e))));
                if log.group_info(&g).await.must("group_info").lag() == 0
                    && log.head().await.must("head").is_some_and(|h| h.as_str() == total.to_string())
                {
                    break;
                }
            }
            got
        }));
    }
    let mut delivered = Vec::new();
    for t in tasks {
        delivered.extend(t.await.must("task"));
    }
    let unique: HashSet<u64> = delivered.iter().copied().collect();
    assert_eq!(unique.len(), delivered.len(), "an entry was delivered twice to one group across handles");
    assert_eq!(unique, (1..total as u64).collect::<HashSet<_>>(), "every entry is delivered once");
    assert_eq!(read_all(&a).await.len(), total, "nothing is lost");
}

/// Environment variable that turns [`child_process_publisher`] into a publisher of the given directory.
const CHILD_DIR: &str = "EVENTSTREAM_EMBEDDED_TEST_CHILD_DIR";
const CHILD_EVENTS: u64 = 150;

/// Does nothing in a normal run; spawned by `another_process_appends_while_this_one_consumes` with
/// `CHILD_DIR` set, it appends `CHILD_EVENTS` events to that directory from a separate process.
#[tokio::test]
async fn child_process_publisher() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let base: u64 = std::env::var("EVENTSTREAM_EMBEDDED_TEST_CHILD_BASE").ok().and_then(|b| b.parse().ok()).unwrap_or(0);
    let log = EmbeddedLog::open(PathBuf::from(dir), EmbeddedOptions::default()).await.must("child: open");
    for i in 0..CHILD_EVENTS {
        log.append(&[sample_event(base + i)]).await.must("child: append");
    }
}

fn spawn_child(dir: &Path, base: u64) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().must("current_exe"))
        .args(["child_process_publisher", "--exact", "--test-threads=1", "--quiet"])
        .env(CHILD_DIR, dir)
        .env("EVENTSTREAM_EMBEDDED_TEST_CHILD_BASE", base.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .must("spawn a child publisher")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_process_appends_while_this_one_consumes() {
    let dir = tempfile::tempdir().must("temp dir");
    let log = EmbeddedLog::open(dir.path(), EmbeddedOptions::default()).await.must("open");
    let g = group("serve");
    log.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group");
    let children = [spawn_child(dir.path(), 10_000), spawn_child(dir.path(), 20_000)];
    let mine = log.append(&sample_events(0..50)).await.must("append in this process");
    assert_eq!(mine.len(), 50);

    let want = 50 + 2 * CHILD_EVENTS as usize;
    let mut seen = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < want {
        assert!(Instant::now() < deadline, "only {} of {want} events arrived from the other processes", seen.len());
        let batch = log.read_group(&g, &consumer("serve"), 64, Duration::from_secs(1)).await.must("read_group");
        let ps: Vec<_> = batch.iter().map(|d| d.record.position.clone()).collect();
        log.ack(&g, &ps).await.must("ack");
        for d in batch {
            let i = d
                .record
                .event
                .as_ref()
                .ok()
                .and_then(sample_index)
                .unwrap_or_else(|| panic!("entry {} is not a sample", d.record.position));
            assert!(seen.insert(i), "event {i} delivered twice");
        }
    }
    for mut child in children {
        let status = tokio::task::spawn_blocking(move || child.wait()).await.must("join").must("wait for the child");
        assert!(status.success(), "a child publisher failed: {status}");
    }
    let expected: HashSet<u64> = (0..50).chain(10_000..10_000 + CHILD_EVENTS).chain(20_000..20_000 + CHILD_EVENTS).collect();
    assert_eq!(seen, expected, "every event of every process is delivered once");
    let all = read_all(&log).await;
    assert_eq!(all.len(), want);
    let ps = positions(&all);
    assert!(
        ps.windows(2).all(|w| w[0].as_str().parse::<u64>().ok() < w[1].as_str().parse::<u64>().ok()),
        "positions increase across processes"
    );
}

#[test]
fn baseline_writes_rows_the_log_reads() {
    let dir = tempfile::tempdir().must("temp dir");
    let events = sample_events(0..40);
    let elapsed = baseline::append_one_transaction_per_event(dir.path(), &EmbeddedOptions::default(), 4, &events).must("baseline");
    assert!(elapsed > Duration::ZERO);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().must("runtime");
    rt.block_on(async {
        let log = EmbeddedLog::open(dir.path(), EmbeddedOptions::default()).await.must("open");
        let records = read_all(&log).await;
        assert_eq!(records.len(), 40, "the baseline stores every event in the same schema");
        let got: HashSet<u64> = records.iter().filter_map(|r| r.event.as_ref().ok().and_then(sample_index)).collect();
        assert_eq!(got, (0..40).collect::<HashSet<_>>());
        let next = log.append(&[sample_event(40)]).await.must("append after the baseline");
        assert_eq!(next[0].as_str(), "41", "the log continues the baseline's sequence");
    });
}

#[tokio::test]
async fn foreign_positions_are_rejected() {
    let dir = tempfile::tempdir().must("temp dir");
    let log = EmbeddedLog::open(dir.path(), EmbeddedOptions::default()).await.must("open");
    let redis_style: eventstream_core::Position = "1700000000000-0".parse().must("position");
    let r = log.read(&StartFrom::After(redis_style.clone()), 10, Duration::ZERO).await;
    assert!(matches!(r, Err(eventstream_core::LogError::InvalidPosition { .. })), "got {r:?}");
    let g = group("g");
    log.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group");
    let r = log.ack(&g, &[redis_style]).await;
    assert!(matches!(r, Err(eventstream_core::LogError::InvalidPosition { .. })), "got {r:?}");
    log.health().await.must("health");
}
