//! Clauses 4 and 5: at-least-once delivery through `reclaim`, and idempotent `ack`.

use std::time::{Duration, Instant};

use eventstream_core::{ConsumerName, Delivery, EventLog, GroupName, StartFrom};

use crate::LogFactory;
use crate::fixtures::{
    Must, PATIENCE, assert_increasing, assert_record_is, consumer, delivered_positions, group, sample_events, unique_name,
};

/// How long an entry must be idle before the suite reclaims it.
const MIN_IDLE: Duration = Duration::from_millis(50);

/// Reclaims (bounded polling, since idleness needs wall time to pass) until `want` entries came back.
async fn reclaim_until(log: &dyn EventLog, g: &GroupName, c: &ConsumerName, want: usize) -> Vec<Delivery> {
    let mut got: Vec<Delivery> = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    loop {
        got.extend(log.reclaim(g, c, MIN_IDLE, 100).await.must("reclaim"));
        assert!(got.len() <= want, "reclaim returned more entries than are pending: {:?}", delivered_positions(&got));
        if got.len() == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "reclaim with min_idle={MIN_IDLE:?} returned {} of {want} idle entries within {PATIENCE:?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    got
}

/// Clause 4: an unacked entry is delivered again by `reclaim` once idle for `min_idle` (not before), to the
/// reclaiming consumer, with a higher delivery count; `read_group` never hands it out again.
pub async fn unacked_delivery_is_redelivered_after_reclaim(f: &dyn LogFactory) {
    let log = f.open(&unique_name("reclaim")).await;
    let events = sample_events(0..3);
    let p = log.append(&events).await.must("append");
    let (g, c1, c2) = (group("g"), consumer("c1"), consumer("c2"));
    log.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group");
    let first = log.read_group(&g, &c1, 10, Duration::ZERO).await.must("read_group");
    assert_eq!(delivered_positions(&first), p, "c1 gets all three");
    assert!(first.iter().all(|d| d.delivery_count == 1), "first deliveries have delivery_count 1");

    let early = log.reclaim(&g, &c2, Duration::from_secs(3600), 10).await.must("reclaim with a large min_idle");
    assert!(early.is_empty(), "reclaim must not take entries idle for less than min_idle, got {:?}", delivered_positions(&early));
    assert!(
        log.read_group(&g, &c2, 10, Duration::ZERO).await.must("read_group c2").is_empty(),
        "read_group must not hand out pending entries again"
    );

    let again = reclaim_until(&*log, &g, &c2, 3).await;
    assert_eq!(delivered_positions(&again), p, "reclaim must redeliver every unacked entry, oldest first");
    assert_increasing(&delivered_positions(&again), "reclaimed positions");
    for (d, e) in again.iter().zip(&events) {
        assert_eq!(d.delivery_count, 2, "the second delivery of {} must have delivery_count 2", d.record.position);
        assert_record_is(&d.record, e, "reclaimed entry");
    }
    let own = log.read_pending(&g, &c2, 10).await.must("read_pending c2");
    assert_eq!(delivered_positions(&own), p, "reclaimed entries are pending for the reclaiming consumer");
    assert!(own.iter().all(|d| d.delivery_count >= 2), "read_pending must not lower delivery counts");
    assert!(
        log.read_pending(&g, &c1, 10).await.must("read_pending c1").is_empty(),
        "reclaimed entries are no longer pending for the old consumer"
    );

    let third = reclaim_until(&*log, &g, &consumer("c3"), 3).await;
    let before: Vec<u32> = own.iter().map(|d| d.delivery_count).collect();
    for (d, prev) in third.iter().zip(before) {
        assert!(d.delivery_count > prev, "each reclaim must increase delivery_count ({} after {prev})", d.delivery_count);
    }
    assert_eq!(log.ack(&g, &p).await.must("ack"), 3, "the reclaimed entries are pending once each");
    assert!(log.reclaim(&g, &c2, Duration::ZERO, 10).await.must("reclaim after ack").is_empty(), "nothing is left to reclaim");
}

/// Clause 4: an acked entry is never delivered to that group again, neither by `reclaim` nor `read_group`
/// nor `read_pending`.
pub async fn acked_delivery_is_never_redelivered(f: &dyn LogFactory) {
    let log = f.open(&unique_name("acked")).await;
    let p = log.append(&sample_events(0..4)).await.must("append");
    let (g, c1, c2, c3) = (group("g"), consumer("c1"), consumer("c2"), consumer("c3"));
    log.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group");
    log.read_group(&g, &c1, 10, Duration::ZERO).await.must("read_group");
    assert_eq!(log.ack(&g, &[p[0].clone(), p[2].clone()]).await.must("ack"), 2, "acking two pending entries returns 2");

    let unacked = reclaim_until(&*log, &g, &c2, 2).await;
    assert_eq!(delivered_positions(&unacked), vec![p[1].clone(), p[3].clone()], "only the unacked entries may be reclaimed");
    assert!(log.read_pending(&g, &c1, 10).await.must("read_pending c1").is_empty(), "c1 holds nothing after the reclaim");
    assert_eq!(log.ack(&g, &delivered_positions(&unacked)).await.must("ack the rest"), 2, "acking the reclaimed entries returns 2");

    assert!(log.reclaim(&g, &c3, Duration::ZERO, 10).await.must("reclaim").is_empty(), "acked entries must never be reclaimed");
    assert!(
        log.read_group(&g, &c3, 10, Duration::ZERO).await.must("read_group").is_empty(),
        "acked entries must never be delivered again by read_group"
    );
    for c in [&c1, &c2, &c3] {
        assert!(
            log.read_pending(&g, c, 10).await.must("read_pending").is_empty(),
            "acked entries must not come back from read_pending of {c}"
        );
    }
    let info = log.group_info(&g).await.must("group_info");
    assert_eq!((info.pending, info.undelivered), (0, 0), "everything is acked");
}

/// Clause 5: acking twice, acking nothing, or acking an entry that was never pending is not an error and
/// changes nothing; `ack` returns how many entries stopped being pending.
pub async fn ack_is_idempotent(f: &dyn LogFactory) {
    let log = f.open(&unique_name("ack")).await;
    let p = log.append(&sample_events(0..3)).await.must("append");
    let (g, c) = (group("g"), consumer("c"));
    log.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group");
    let d = log.read_group(&g, &c, 1, Duration::ZERO).await.must("read_group");
    assert_eq!(delivered_positions(&d), vec![p[0].clone()], "read_group with max 1 delivers the first entry");

    assert_eq!(log.ack(&g, &p[..1]).await.must("first ack"), 1, "the first ack of a pending entry returns 1");
    assert_eq!(log.ack(&g, &p[..1]).await.must("second ack"), 0, "acking the same entry again returns 0");
    assert_eq!(log.ack(&g, &[]).await.must("empty ack"), 0, "acking nothing returns 0");
    assert_eq!(log.ack(&g, &p[2..3]).await.must("ack of an undelivered entry"), 0, "acking an entry that was never delivered returns 0");
    let info = log.group_info(&g).await.must("group_info");
    assert_eq!((info.pending, info.undelivered), (0, 2), "acking an undelivered entry must not change the group");

    let rest = log.read_group(&g, &c, 10, Duration::ZERO).await.must("read_group");
    assert_eq!(delivered_positions(&rest), p[1..].to_vec(), "an entry acked before delivery must still be delivered");
    assert_eq!(
        log.ack(&g, &[p[1].clone(), p[1].clone()]).await.must("ack with a duplicate"),
        1,
        "a position listed twice stops being pending once"
    );
    assert_eq!(log.ack(&g, &p).await.must("ack all"), 1, "only the one entry still pending counts");
    assert_eq!(log.group_info(&g).await.must("group_info").pending, 0, "nothing is pending");
}
