//! Clauses 3, 6 and 8: consumer groups, resuming after a reopen, start positions, replay and lag.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use eventstream_core::{ConsumerName, Delivery, Event, EventLog, GroupName, Position, StartFrom};

use crate::LogFactory;
use crate::fixtures::{
    Must, assert_increasing, assert_record_is, assert_unique, assert_unknown_group, consumer, delivered_positions, group, long_ago,
    read_all, sample_event, sample_events, sample_index, unique_name, wait_for_clock_after,
};

/// Reads the group until `read_group` returns nothing.
async fn drain(log: &dyn EventLog, g: &GroupName, c: &ConsumerName, max: usize) -> Vec<Delivery> {
    let mut out = Vec::new();
    loop {
        let batch = log.read_group(g, c, max, Duration::ZERO).await.must("read_group");
        assert!(batch.len() <= max, "read_group returned {} entries for max {max}", batch.len());
        if batch.is_empty() {
            return out;
        }
        out.extend(batch);
        assert!(out.len() <= 100_000, "read_group never stops returning entries");
    }
}

/// Asserts that `ds` are first deliveries (count 1) holding the events appended at their positions.
fn assert_first_deliveries(ds: &[Delivery], appended: &HashMap<Position, Event>, context: &str) {
    for d in ds {
        assert_eq!(d.delivery_count, 1, "{context}: first delivery of {} must have delivery_count 1", d.record.position);
        let want = appended
            .get(&d.record.position)
            .unwrap_or_else(|| panic!("{context}: delivered position {} was never appended", d.record.position));
        assert_record_is(&d.record, want, context);
    }
}

/// Appends `events` and returns their positions with a map from position to event.
async fn append_mapped(log: &dyn EventLog, events: Vec<Event>) -> (Vec<Position>, HashMap<Position, Event>) {
    let ps = log.append(&events).await.must("append");
    assert_eq!(ps.len(), events.len(), "append must return one position per event");
    let map = ps.iter().cloned().zip(events).collect();
    (ps, map)
}

/// Clause 3: within one group each entry goes to exactly one consumer, once; two consumers reading in
/// turn, or racing, together receive every entry with no duplicates.
pub async fn each_group_gets_every_event_once(f: &dyn LogFactory) {
    let log = f.open(&unique_name("group-once")).await;
    let (appended, events) = append_mapped(&*log, sample_events(0..20)).await;
    let all: HashSet<Position> = appended.iter().cloned().collect();

    // Two consumers taking turns.
    let g = group("turns");
    log.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group");
    let (c1, c2) = (consumer("c1"), consumer("c2"));
    let (mut got1, mut got2) = (Vec::new(), Vec::new());
    loop {
        let a = log.read_group(&g, &c1, 3, Duration::ZERO).await.must("read_group c1");
        let b = log.read_group(&g, &c2, 3, Duration::ZERO).await.must("read_group c2");
        assert!(a.len() <= 3 && b.len() <= 3, "read_group must honour max");
        if a.is_empty() && b.is_empty() {
            break;
        }
        got1.extend(a);
        got2.extend(b);
        assert!(got1.len() + got2.len() <= 40, "read_group keeps delivering the same entries");
    }
    assert!(!got1.is_empty() && !got2.is_empty(), "two consumers reading in turn must both get entries");
    assert_first_deliveries(&got1, &events, "consumer c1");
    assert_first_deliveries(&got2, &events, "consumer c2");
    assert_increasing(&delivered_positions(&got1), "one consumer's deliveries");
    assert_increasing(&delivered_positions(&got2), "one consumer's deliveries");
    let mut union = delivered_positions(&got1);
    union.extend(delivered_positions(&got2));
    assert_unique(&union, "entries delivered to one group");
    assert_eq!(union.iter().cloned().collect::<HashSet<_>>(), all, "the consumers of a group together must receive every entry");
    assert!(
        log.read_group(&g, &consumer("c3"), 10, Duration::ZERO).await.must("read_group c3").is_empty(),
        "a third consumer must get nothing once all entries are delivered"
    );
    let info = log.group_info(&g).await.must("group_info");
    assert_eq!((info.pending, info.undelivered), (20, 0), "all 20 entries are delivered and pending");

    // Four consumers racing in another group.
    let race = Arc::new(group("race"));
    log.ensure_group(&race, &StartFrom::Beginning).await.must("ensure_group race");
    let mut tasks = Vec::new();
    for k in 0..4 {
        let (log, race) = (log.clone(), race.clone());
        tasks.push(tokio::spawn(async move { drain(&*log, &race, &consumer(&format!("racer{k}")), 2).await }));
    }
    let mut raced = Vec::new();
    for t in tasks {
        raced.extend(t.await.must("racing consumer"));
    }
    assert_first_deliveries(&raced, &events, "racing consumers");
    let raced = delivered_positions(&raced);
    assert_unique(&raced, "entries delivered to racing consumers of one group");
    assert_eq!(raced.into_iter().collect::<HashSet<_>>(), all, "racing consumers of a group together must receive every entry");
}

/// Clause 3: groups are independent: each sees every entry, and acks in one do not touch another. Logs of
/// different names are independent too.
pub async fn groups_are_isolated(f: &dyn LogFactory) {
    let log = f.open(&unique_name("isolated")).await;
    let (appended, events) = append_mapped(&*log, sample_events(0..8)).await;
    let (g1, g2, c) = (group("g1"), group("g2"), consumer("c"));
    log.ensure_group(&g1, &StartFrom::Beginning).await.must("ensure g1");
    log.ensure_group(&g2, &StartFrom::Beginning).await.must("ensure g2");

    let d1 = log.read_group(&g1, &c, 100, Duration::ZERO).await.must("read g1");
    assert_eq!(delivered_positions(&d1), appended, "g1 must get every entry in order");
    assert_eq!(log.ack(&g1, &appended).await.must("ack g1"), 8, "acking 8 pending entries returns 8");
    let i2 = log.group_info(&g2).await.must("group_info g2");
    assert_eq!((i2.pending, i2.undelivered, i2.last_delivered.clone()), (0, 8, None), "reading and acking g1 must not move g2");

    let d2 = log.read_group(&g2, &c, 100, Duration::ZERO).await.must("read g2");
    assert_eq!(delivered_positions(&d2), appended, "g2 must also get every entry, even though g1 acked them");
    assert_first_deliveries(&d2, &events, "g2");
    assert_eq!(log.ack(&g1, &appended).await.must("ack g1 again"), 0, "g1 has nothing pending");
    assert_eq!(log.group_info(&g2).await.must("group_info g2").pending, 8, "acks in g1 must not ack g2's deliveries");
    assert_eq!(log.ack(&g2, &appended[..4]).await.must("ack g2"), 4, "g2 acks its own 4");
    let i1 = log.group_info(&g1).await.must("group_info g1");
    assert_eq!((i1.pending, i1.undelivered), (0, 0), "acks in g2 must not change g1");

    let other = f.open(&unique_name("isolated-other")).await;
    assert_eq!(other.head().await.must("head of the other log"), None, "a log with another name must not see these entries");
    assert_unknown_group(other.read_group(&g1, &c, 10, Duration::ZERO).await, "read_group in another log");
}

/// Clause 6: a group's position and pending entries survive closing and reopening the log.
pub async fn group_resumes_after_reopen(f: &dyn LogFactory) {
    let name = unique_name("resume");
    let (g, c1) = (group("resumer"), consumer("c1"));
    let appended = {
        let log = f.open(&name).await;
        let appended = log.append(&sample_events(0..5)).await.must("append");
        log.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group");
        let first = log.read_group(&g, &c1, 2, Duration::ZERO).await.must("read_group before reopen");
        assert_eq!(delivered_positions(&first), appended[..2].to_vec(), "the first read must deliver the first two entries");
        assert_eq!(log.ack(&g, &appended[..1]).await.must("ack"), 1, "ack of a pending entry returns 1");
        appended
    };

    let log = f.open(&name).await;
    // A restarted consumer ensures its group again; that must not reset it.
    log.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group after reopen");
    let info = log.group_info(&g).await.must("group_info after reopen");
    assert_eq!(info.last_delivered.as_ref(), Some(&appended[1]), "the group's position must survive a reopen");
    assert_eq!((info.pending, info.undelivered), (1, 3), "pending and undelivered counts must survive a reopen");
    let pending = log.read_pending(&g, &c1, 10).await.must("read_pending after reopen");
    assert_eq!(delivered_positions(&pending), vec![appended[1].clone()], "the consumer's unacked entry must come back from read_pending");
    assert!(pending[0].delivery_count >= 1, "delivery_count is at least 1");
    assert_eq!(pending[0].record.event.as_ref().ok().and_then(sample_index), Some(1), "the pending entry must hold event 1");
    assert!(
        log.read_pending(&g, &consumer("c2"), 10).await.must("read_pending c2").is_empty(),
        "read_pending returns only the consumer's own entries"
    );
    let rest = log.read_group(&g, &c1, 10, Duration::ZERO).await.must("read_group after reopen");
    assert_eq!(delivered_positions(&rest), appended[2..].to_vec(), "after a reopen the group must continue where it stopped");
}

/// Clause 8: `group_info` reports pending and undelivered counts whose sum is the lag; `groups` agrees.
pub async fn lag_counts_unacked(f: &dyn LogFactory) {
    let log = f.open(&unique_name("lag")).await;
    let p = log.append(&sample_events(0..6)).await.must("append");
    let (g, c) = (group("lagging"), consumer("c"));
    log.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group");
    let info = log.group_info(&g).await.must("group_info");
    assert_eq!(info.name, g, "group_info names the group");
    assert_eq!(
        (info.pending, info.undelivered, info.lag(), info.last_delivered.clone()),
        (0, 6, 6, None),
        "a new group at the beginning lags by every entry"
    );

    log.read_group(&g, &c, 4, Duration::ZERO).await.must("read_group");
    let info = log.group_info(&g).await.must("group_info");
    assert_eq!((info.pending, info.undelivered, info.lag()), (4, 2, 6), "after delivering 4: 4 pending, 2 undelivered");
    assert_eq!(info.last_delivered.as_ref(), Some(&p[3]), "last_delivered is the 4th position");
    assert!(info.consumers >= 1, "a consumer holding pending entries is counted");

    assert_eq!(log.ack(&g, &p[..3]).await.must("ack"), 3, "acking 3 pending entries returns 3");
    let info = log.group_info(&g).await.must("group_info");
    assert_eq!((info.pending, info.undelivered, info.lag()), (1, 2, 3), "after acking 3: 1 pending, 2 undelivered");

    log.append(&sample_events(6..8)).await.must("append more");
    let info = log.group_info(&g).await.must("group_info");
    assert_eq!((info.pending, info.undelivered, info.lag()), (1, 4, 5), "new entries count as undelivered");

    let g_end = group("caught-up");
    log.ensure_group(&g_end, &StartFrom::End).await.must("ensure_group at End");
    assert_eq!(log.group_info(&g_end).await.must("group_info").lag(), 0, "a group created at End has no lag");

    let all = log.groups().await.must("groups");
    let listed = all.iter().find(|i| i.name == g).unwrap_or_else(|| panic!("groups() must list {g}, got {all:?}"));
    assert_eq!(
        (listed.pending, listed.undelivered, listed.last_delivered.clone()),
        (1, 4, Some(p[3].clone())),
        "groups() must agree with group_info"
    );
    assert!(all.iter().any(|i| i.name == g_end), "groups() must list every group");
    assert_eq!(all.len(), 2, "groups() lists exactly the groups of this log");
}

/// Clause 3: every group operation on an unknown group is `LogError::UnknownGroup`.
pub async fn unknown_group_is_an_error(f: &dyn LogFactory) {
    let log = f.open(&unique_name("unknown")).await;
    let p = log.append(&[sample_event(0)]).await.must("append");
    let (g, c) = (group("never-created"), consumer("c"));
    assert_unknown_group(log.read_group(&g, &c, 10, Duration::ZERO).await, "read_group");
    assert_unknown_group(log.read_pending(&g, &c, 10).await, "read_pending");
    assert_unknown_group(log.ack(&g, &p).await, "ack");
    assert_unknown_group(log.reclaim(&g, &c, Duration::ZERO, 10).await, "reclaim");
    assert_unknown_group(log.group_info(&g).await, "group_info");
    assert_unknown_group(log.set_group_position(&g, &StartFrom::Beginning).await, "set_group_position");
    assert!(log.groups().await.must("groups").iter().all(|i| i.name != g), "groups() must not list a group that was never created");
    // The failed calls above must not have created it.
    assert_unknown_group(log.group_info(&g).await, "group_info after failed calls");

    log.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group");
    let d = log.read_group(&g, &c, 10, Duration::ZERO).await.must("read_group after ensure_group");
    assert_eq!(delivered_positions(&d), p, "after ensure_group the group works");
}

/// Clause 3: `ensure_group` is idempotent (an existing group keeps its position and pending entries) and
/// each start position (`Beginning`, `End`, `After`, `Time`) starts where it says.
pub async fn ensure_group_is_idempotent_and_start_positions_work(f: &dyn LogFactory) {
    let log = f.open(&unique_name("start")).await;
    let c = consumer("c");
    let on_empty = group("end-of-empty");
    log.ensure_group(&on_empty, &StartFrom::End).await.must("ensure_group End on an empty log");

    let pa = log.append(&sample_events(0..3)).await.must("append first batch");
    let (g_begin, g_end, g_after, g_twice) = (group("begin"), group("end"), group("after"), group("twice"));
    log.ensure_group(&g_begin, &StartFrom::Beginning).await.must("ensure_group Beginning");
    log.ensure_group(&g_end, &StartFrom::End).await.must("ensure_group End");
    log.ensure_group(&g_after, &StartFrom::After(pa[0].clone())).await.must("ensure_group After");
    log.ensure_group(&g_twice, &StartFrom::Beginning).await.must("ensure_group twice (1)");
    log.ensure_group(&g_twice, &StartFrom::End).await.must("ensure_group twice (2)");

    let a_last_at = read_all(&*log).await[2].appended_at;
    wait_for_clock_after(a_last_at + ChronoDuration::milliseconds(2)).await;
    let pb = log.append(&sample_events(3..5)).await.must("append second batch");
    let records = read_all(&*log).await;
    let b_first_at = records[3].appended_at;
    assert!(b_first_at > a_last_at, "an append made after the clock passed {a_last_at} must get a later append time, got {b_first_at}");
    let (g_time, g_old) = (group("time"), group("old-time"));
    log.ensure_group(&g_time, &StartFrom::Time(b_first_at)).await.must("ensure_group Time");
    log.ensure_group(&g_old, &StartFrom::Time(long_ago())).await.must("ensure_group Time long ago");

    let all: Vec<Position> = pa.iter().chain(pb.iter()).cloned().collect();
    let cases: [(&GroupName, Vec<Position>, &str); 7] = [
        (&on_empty, all.clone(), "a group created at End of an empty log gets everything appended later"),
        (&g_begin, all.clone(), "a group at Beginning gets every entry"),
        (&g_end, pb.clone(), "a group at End gets only entries appended after it was created"),
        (&g_after, all[1..].to_vec(), "a group After(p) gets the entries after p"),
        (&g_twice, all.clone(), "a second ensure_group must not move an existing group"),
        (&g_time, pb.clone(), "a group at Time(t) gets the entries appended at or after t"),
        (&g_old, all.clone(), "a group at a time before the log gets every entry"),
    ];
    for (g, want, why) in cases {
        let got = drain(&*log, g, &c, 100).await;
        assert_eq!(delivered_positions(&got), want, "group {g}: {why}");
    }

    // Idempotent on a group that has delivered entries: position and pending entries are kept.
    log.ensure_group(&g_begin, &StartFrom::Beginning).await.must("ensure_group again");
    assert!(
        log.read_group(&g_begin, &c, 100, Duration::ZERO).await.must("read_group").is_empty(),
        "ensure_group on an existing group must not rewind it"
    );
    let info = log.group_info(&g_begin).await.must("group_info");
    assert_eq!(
        (info.pending, info.last_delivered.as_ref()),
        (5, all.last()),
        "ensure_group on an existing group must keep its pending entries and position"
    );
}

/// Clause 4 (exception): `set_group_position` moves a group back (replay) or forward; pending entries stay
/// pending; entries after the new position are delivered again.
pub async fn set_group_position_replays(f: &dyn LogFactory) {
    let log = f.open(&unique_name("replay")).await;
    let p = log.append(&sample_events(0..4)).await.must("append");
    let (g, c) = (group("replayer"), consumer("c"));
    log.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group");
    let first = log.read_group(&g, &c, 10, Duration::ZERO).await.must("read_group");
    assert_eq!(delivered_positions(&first), p, "first pass delivers everything");
    assert_eq!(log.ack(&g, &p).await.must("ack"), 4, "ack all");

    log.set_group_position(&g, &StartFrom::Beginning).await.must("set_group_position Beginning");
    let replay = log.read_group(&g, &c, 10, Duration::ZERO).await.must("read_group after rewind");
    assert_eq!(delivered_positions(&replay), p, "after moving to Beginning every acked entry is delivered again");
    for (d, i) in replay.iter().zip(0u64..) {
        assert_eq!(
            d.record.event.as_ref().ok().and_then(sample_index),
            Some(i),
            "the replayed entry {} holds event {i}",
            d.record.position
        );
    }
    assert_eq!(log.ack(&g, &p).await.must("ack replay"), 4, "replayed entries are pending again");

    log.set_group_position(&g, &StartFrom::After(p[1].clone())).await.must("set_group_position After");
    let tail = log.read_group(&g, &c, 10, Duration::ZERO).await.must("read_group after After");
    assert_eq!(delivered_positions(&tail), p[2..].to_vec(), "after moving to After(p2) entries 3 and 4 are delivered again");
    log.ack(&g, &p).await.must("ack");

    log.set_group_position(&g, &StartFrom::End).await.must("set_group_position End");
    assert!(
        log.read_group(&g, &c, 10, Duration::ZERO).await.must("read_group at End").is_empty(),
        "after moving to End nothing old is delivered"
    );
    let p4 = log.append(&[sample_event(4)]).await.must("append after End");
    let fresh = log.read_group(&g, &c, 10, Duration::ZERO).await.must("read_group new");
    assert_eq!(delivered_positions(&fresh), p4, "after moving to End new entries are delivered");

    // p4 stays pending across a move back; entries after the new position (p3, p4) are delivered again.
    log.set_group_position(&g, &StartFrom::After(p[2].clone())).await.must("set_group_position with a pending entry");
    let pending = log.read_pending(&g, &c, 10).await.must("read_pending");
    assert_eq!(delivered_positions(&pending), p4, "set_group_position must leave pending entries pending");
    let again = log.read_group(&g, &c, 10, Duration::ZERO).await.must("read_group after moving back");
    assert_eq!(delivered_positions(&again), vec![p[3].clone(), p4[0].clone()], "entries after the new position are delivered again");

    let times = read_all(&*log).await;
    log.set_group_position(&g, &StartFrom::Time(times[2].appended_at)).await.must("set_group_position Time");
    let from_time = log.read_group(&g, &c, 10, Duration::ZERO).await.must("read_group after Time");
    let first_at_time = times.iter().position(|r| r.appended_at >= times[2].appended_at).unwrap_or(2);
    let want: Vec<Position> = times[first_at_time..].iter().map(|r| r.position.clone()).collect();
    assert_eq!(delivered_positions(&from_time), want, "after moving to Time(t) the entries appended at or after t are delivered again");
    log.ack(&g, &want).await.must("ack");
    assert_eq!(log.group_info(&g).await.must("group_info").pending, 0, "everything acked");
}
