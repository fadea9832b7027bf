//! Clause 7 (waiting) and clause 3 (waiting): `read` and `read_group` with `block > 0` wait for new
//! entries and return soon after one is appended.

use std::time::{Duration, Instant};

use eventstream_core::{Position, StartFrom};

use crate::LogFactory;
use crate::fixtures::{Must, PATIENCE, consumer, delivered_positions, group, positions, sample_event, unique_name};

/// A short block used to check that an empty read really waits.
const SHORT_BLOCK: Duration = Duration::from_millis(300);
/// A block long enough that returning early can only mean the read was woken by the append.
const LONG_BLOCK: Duration = Duration::from_secs(10);
/// How soon after an append a blocked reader must return.
const PROMPT: Duration = Duration::from_secs(3);

#[track_caller]
fn assert_waited(elapsed: Duration, what: &str) {
    assert!(
        elapsed >= SHORT_BLOCK.mul_f32(0.8),
        "{what} with block={SHORT_BLOCK:?} and nothing to return must wait, returned after {elapsed:?}"
    );
    assert!(elapsed < SHORT_BLOCK + PATIENCE, "{what} with block={SHORT_BLOCK:?} must return after about that long, took {elapsed:?}");
}

/// `read` with `block > 0` waits when there is nothing to return and returns promptly after another task
/// appends; from `End` it returns only entries appended during the wait.
pub async fn read_blocks_until_append(f: &dyn LogFactory) {
    let log = f.open(&unique_name("read-block")).await;
    let p0 = log.append(&[sample_event(0)]).await.must("append");

    let t = Instant::now();
    let none = log.read(&StartFrom::After(p0[0].clone()), 10, SHORT_BLOCK).await.must("blocking read with nothing new");
    assert!(none.is_empty(), "nothing was appended, got {:?}", positions(&none));
    assert_waited(t.elapsed(), "read");

    let reader = {
        let (log, from) = (log.clone(), StartFrom::After(p0[0].clone()));
        tokio::spawn(async move { log.read(&from, 10, LONG_BLOCK).await })
    };
    tokio::task::yield_now().await;
    let p1 = log.append(&[sample_event(1)]).await.must("append while a reader waits");
    let appended = Instant::now();
    let got = tokio::time::timeout(PROMPT, reader)
        .await
        .unwrap_or_else(|_| panic!("a blocked read must return within {PROMPT:?} of an append"))
        .must("reader task")
        .must("blocked read");
    assert!(appended.elapsed() < PROMPT, "the blocked read returned too late");
    assert_eq!(positions(&got), p1, "the blocked read returns the appended entry");

    // From End: only what is appended during the wait. Keep appending (bounded) until the reader returns,
    // since the reader decides when its wait starts.
    let mut reader = {
        let log = log.clone();
        tokio::spawn(async move { log.read(&StartFrom::End, 100, LONG_BLOCK).await })
    };
    let mut during: Vec<Position> = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    let got = loop {
        during.extend(log.append(&[sample_event(2 + during.len() as u64)]).await.must("append during a wait from End"));
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(50), &mut reader).await {
            break r.must("reader task").must("blocked read from End");
        }
        assert!(
            Instant::now() < deadline,
            "a read from End with block={LONG_BLOCK:?} did not return within {PATIENCE:?} while entries were appended"
        );
    };
    assert!(!got.is_empty(), "a blocked read from End must return the entries appended during the wait");
    for r in &got {
        assert!(
            during.contains(&r.position),
            "a read from End must return only entries appended during the wait, got {} (older entries: {:?}, {:?})",
            r.position,
            p0,
            p1
        );
    }
}

/// `read_group` with `block > 0` waits when there is nothing to deliver and returns promptly after another
/// task appends.
pub async fn read_group_blocks_until_append(f: &dyn LogFactory) {
    let log = f.open(&unique_name("group-block")).await;
    let (g, c) = (group("waiter"), consumer("c"));
    log.ensure_group(&g, &StartFrom::End).await.must("ensure_group");

    let t = Instant::now();
    let none = log.read_group(&g, &c, 10, SHORT_BLOCK).await.must("blocking read_group with nothing new");
    assert!(none.is_empty(), "nothing was appended, got {:?}", delivered_positions(&none));
    assert_waited(t.elapsed(), "read_group");

    let reader = {
        let (log, g, c) = (log.clone(), g.clone(), c.clone());
        tokio::spawn(async move { log.read_group(&g, &c, 10, LONG_BLOCK).await })
    };
    tokio::task::yield_now().await;
    let p = log.append(&[sample_event(0)]).await.must("append while a consumer waits");
    let appended = Instant::now();
    let got = tokio::time::timeout(PROMPT, reader)
        .await
        .unwrap_or_else(|_| panic!("a blocked read_group must return within {PROMPT:?} of an append"))
        .must("reader task")
        .must("blocked read_group");
    assert!(appended.elapsed() < PROMPT, "the blocked read_group returned too late");
    assert_eq!(delivered_positions(&got), p, "the blocked read_group delivers the appended entry");
    assert_eq!(got[0].delivery_count, 1, "a first delivery has delivery_count 1");
    assert_eq!(log.group_info(&g).await.must("group_info").pending, 1, "the delivered entry is pending");
}
