//! Retention without silent loss: `trim` never removes what a group has not acknowledged unless forced.

use std::time::Duration;

use eventstream_core::{ConsumerName, EventLog, GroupName, Position, StartFrom};
use eventstream_redis::{RedisLog, Retention};
use eventstream_testkit::sample_events;

use super::helpers::{Prefix, poll, raw, redis_available, redis_url};

fn group(s: &str) -> GroupName {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn consumer(s: &str) -> ConsumerName {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

async fn remaining(log: &RedisLog) -> Vec<Position> {
    log.read(&StartFrom::Beginning, 1000, Duration::ZERO)
        .await
        .unwrap_or_else(|e| panic!("read: {e}"))
        .into_iter()
        .map(|r| r.position)
        .collect()
}

async fn trim(log: &RedisLog, r: Retention) -> eventstream_redis::TrimReport {
    log.trim(&r).await.unwrap_or_else(|e| panic!("trim: {e}"))
}

#[tokio::test]
async fn appending_never_trims() {
    if !redis_available() {
        return;
    }
    let prefix = Prefix::new("no-maxlen");
    let log = prefix.log("s");
    for chunk in 0..3u64 {
        log.append(&sample_events(chunk * 500..chunk * 500 + 500)).await.unwrap_or_else(|e| panic!("append: {e}"));
    }
    let mut con = raw(&redis_url()).await;
    let len: u64 = ::redis::cmd("XLEN").arg(log.stream()).query_async(&mut con).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(len, 1500, "no MAXLEN on append");
}

#[tokio::test]
async fn trim_never_removes_entries_a_group_has_not_acknowledged() {
    if !redis_available() {
        return;
    }
    let prefix = Prefix::new("retention");
    let log = prefix.log("s");
    let (slow, fast, c) = (group("slow"), group("fast"), consumer("c"));
    log.ensure_group(&slow, &StartFrom::Beginning).await.unwrap_or_else(|e| panic!("{e}"));
    log.ensure_group(&fast, &StartFrom::Beginning).await.unwrap_or_else(|e| panic!("{e}"));
    let p = log.append(&sample_events(0..10)).await.unwrap_or_else(|e| panic!("append: {e}"));

    // Nobody has read anything: nothing may go.
    let r = trim(&log, Retention::max_len(2)).await;
    assert_eq!(r.removed, 0);
    assert!(r.held_back_by.is_some(), "both groups hold the stream: {r:?}");
    assert_eq!(remaining(&log).await, p);

    // fast consumes everything; slow has read 6 and acknowledged 4: p4 and p5 pending, p6.. undelivered.
    let all = log.read_group(&fast, &c, 100, Duration::ZERO).await.unwrap_or_else(|e| panic!("{e}"));
    log.ack(&fast, &all.iter().map(|d| d.record.position.clone()).collect::<Vec<_>>()).await.unwrap_or_else(|e| panic!("{e}"));
    log.read_group(&slow, &c, 6, Duration::ZERO).await.unwrap_or_else(|e| panic!("{e}"));
    log.ack(&slow, &p[..4]).await.unwrap_or_else(|e| panic!("{e}"));
    let r = trim(&log, Retention::max_len(2)).await;
    assert_eq!((r.removed, r.held_back_by.as_deref()), (4, Some("slow")), "only what every group acknowledged goes: {r:?}");
    assert_eq!(remaining(&log).await, p[4..].to_vec());
    assert_eq!(r.kept_from.as_ref(), Some(&p[4]));

    // The pending entries are still there for slow to redeliver.
    let pending = log.read_pending(&slow, &c, 10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pending.iter().map(|d| d.record.position.clone()).collect::<Vec<_>>(), p[4..6].to_vec());
    assert!(pending.iter().all(|d| d.record.event.is_ok()));

    // Acknowledging the pending ones frees them; the undelivered rest still holds.
    log.ack(&slow, &p[4..6]).await.unwrap_or_else(|e| panic!("{e}"));
    let r = trim(&log, Retention::max_len(2)).await;
    assert_eq!((r.removed, r.held_back_by.as_deref()), (2, Some("slow")), "{r:?}");
    assert_eq!(remaining(&log).await, p[6..].to_vec());

    // Once slow is done, the policy applies fully.
    let rest = log.read_group(&slow, &c, 100, Duration::ZERO).await.unwrap_or_else(|e| panic!("{e}"));
    log.ack(&slow, &rest.iter().map(|d| d.record.position.clone()).collect::<Vec<_>>()).await.unwrap_or_else(|e| panic!("{e}"));
    let r = trim(&log, Retention::max_len(2)).await;
    assert_eq!((r.removed, r.held_back_by), (2, None));
    assert_eq!(remaining(&log).await, p[8..].to_vec());
    let info = log.group_info(&slow).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(info.lag(), 0);
}

#[tokio::test]
async fn forced_trim_removes_unconsumed_entries_and_says_so_on_read() {
    if !redis_available() {
        return;
    }
    let prefix = Prefix::new("retention-force");
    let log = prefix.log("s");
    let (g, c) = (group("g"), consumer("c"));
    log.ensure_group(&g, &StartFrom::Beginning).await.unwrap_or_else(|e| panic!("{e}"));
    let p = log.append(&sample_events(0..5)).await.unwrap_or_else(|e| panic!("append: {e}"));
    log.read_group(&g, &c, 3, Duration::ZERO).await.unwrap_or_else(|e| panic!("{e}"));
    let r = trim(&log, Retention { max_len: Some(1), max_age: None, force: true }).await;
    assert_eq!((r.removed, r.held_back_by), (4, None));
    assert_eq!(remaining(&log).await, p[4..].to_vec());
    // The three pending entries are gone from the stream: they come back as decode errors, not silence.
    let pending = log.read_pending(&g, &c, 10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pending.iter().map(|d| d.record.position.clone()).collect::<Vec<_>>(), p[..3].to_vec());
    assert!(pending.iter().all(|d| d.record.event.is_err()), "vanished entries are reported as undecodable");
    let reclaimed = log.reclaim(&g, &consumer("c2"), Duration::ZERO, 10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        reclaimed.iter().map(|d| d.record.position.clone()).collect::<Vec<_>>(),
        p[..3].to_vec(),
        "reclaim reports deleted pending entries"
    );
    assert!(reclaimed.iter().all(|d| d.record.event.is_err()));
}

#[tokio::test]
async fn max_age_trims_by_append_time() {
    if !redis_available() {
        return;
    }
    let prefix = Prefix::new("retention-age");
    let log = prefix.log("s");
    let old = log.append(&sample_events(0..3)).await.unwrap_or_else(|e| panic!("append: {e}"));
    let old_at = log.read(&StartFrom::Beginning, 1, Duration::ZERO).await.unwrap_or_else(|e| panic!("{e}"))[0].appended_at;
    // Wait (bounded) until the server clock is a second past the old entries.
    let con = raw(&redis_url()).await;
    poll("the server clock passes old + 1 s", Duration::from_secs(5), || {
        let mut con = con.clone();
        async move {
            let (secs, micros): (i64, i64) = ::redis::cmd("TIME").query_async(&mut con).await.ok()?;
            (secs * 1000 + micros / 1000 > old_at.timestamp_millis() + 1000).then_some(())
        }
    })
    .await;
    let new = log.append(&sample_events(3..5)).await.unwrap_or_else(|e| panic!("append: {e}"));
    let r = trim(&log, Retention::max_age(Duration::from_millis(600))).await;
    assert_eq!(r.removed, 3, "{r:?}");
    assert_eq!(remaining(&log).await, new);
    assert!(!remaining(&log).await.contains(&old[0]));
    let r = trim(&log, Retention::default()).await;
    assert_eq!((r.removed, r.kept_from), (0, None), "an empty policy removes nothing");
}
