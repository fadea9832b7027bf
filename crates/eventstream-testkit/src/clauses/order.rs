//! Clauses 1, 2, 7, 9 and 9b: order, durability, range reads, concurrent and interleaved appends.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use chrono::Utc;
use eventstream_core::{Position, StartFrom};

use crate::LogFactory;
use crate::fixtures::{
    Must, assert_increasing, assert_record_is, assert_records_are, assert_unique, group, long_ago, positions, read_all, sample_event,
    sample_events, sample_index, unique_name, wait_for_clock_after,
};

/// Clause 1: `append` returns one increasing position per event, and a read returns every entry in append
/// order with those positions and the events unchanged.
pub async fn appends_are_read_back_in_order(f: &dyn LogFactory) {
    let log = f.open(&unique_name("order")).await;
    assert_eq!(log.head().await.must("head of a new log"), None, "a new log must be empty");
    assert!(log.read(&StartFrom::Beginning, 10, Duration::ZERO).await.must("read of a new log").is_empty(), "a new log must read empty");

    let events = sample_events(0..6);
    let mut appended: Vec<Position> = Vec::new();
    for batch in [&events[0..3], &events[3..5], &events[5..6]] {
        let ps = log.append(batch).await.must("append");
        assert_eq!(ps.len(), batch.len(), "append must return one position per event");
        appended.extend(ps);
    }
    assert_unique(&appended, "positions returned by append");
    assert_increasing(&appended, "positions returned by append");

    let records = read_all(&*log).await;
    assert_eq!(positions(&records), appended, "read must return every entry, in append order, at the positions append returned");
    assert_records_are(&records, &events, "read from the beginning");
    for w in records.windows(2) {
        assert!(
            w[0].appended_at <= w[1].appended_at,
            "append times must not go backwards in position order: {} at {} then {} at {}",
            w[0].position,
            w[0].appended_at,
            w[1].position,
            w[1].appended_at
        );
    }
    assert_eq!(log.head().await.must("head"), appended.last().cloned(), "head must be the last appended position");

    let rest = log.read(&StartFrom::After(appended[1].clone()), 100, Duration::ZERO).await.must("read after a position");
    assert_eq!(positions(&rest), appended[2..].to_vec(), "read after position 2 must return the entries after it");
    assert_records_are(&rest, &events[2..], "read after a position");
    let two = log.read(&StartFrom::Beginning, 2, Duration::ZERO).await.must("read with max 2");
    assert_eq!(positions(&two), appended[..2].to_vec(), "read must honour max and start with the oldest entries");
}

/// Clause 2: appended events are durable; a log reopened on the same storage sees them and appends after
/// them.
pub async fn appends_survive_reopen(f: &dyn LogFactory) {
    let name = unique_name("durable");
    let events = sample_events(0..4);
    let appended = {
        let log = f.open(&name).await;
        log.append(&events).await.must("append before reopen")
    };
    let log = f.open(&name).await;
    let records = read_all(&*log).await;
    assert_eq!(positions(&records), appended, "a reopened log must see every acknowledged append");
    assert_records_are(&records, &events, "after reopen");
    assert_eq!(log.head().await.must("head after reopen"), appended.last().cloned(), "head after reopen");

    let next = log.append(&[sample_event(4)]).await.must("append after reopen");
    let records = read_all(&*log).await;
    assert_eq!(records.len(), 5, "the append after reopen must be added, not overwrite");
    assert_eq!(records[4].position, next[0], "the append after reopen comes last");
    assert_unique(&positions(&records), "positions after reopen");
    assert_increasing(&positions(&records), "positions after reopen");
}

/// Clause 7: range reads from a position (exclusive) and from a time (inclusive, by append time), in
/// order, honouring `max`, without touching any group.
pub async fn range_read_by_position_and_time(f: &dyn LogFactory) {
    let log = f.open(&unique_name("range")).await;
    let g = group("bystander");
    log.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group");

    let first = sample_events(0..3);
    let pa = log.append(&first).await.must("append first batch");
    let a_records = read_all(&*log).await;
    let a_first_at = a_records[0].appended_at;
    let a_last_at = a_records[2].appended_at;
    wait_for_clock_after(a_last_at + ChronoDuration::milliseconds(2)).await;
    let second = sample_events(3..6);
    let pb = log.append(&second).await.must("append second batch");
    let all = read_all(&*log).await;
    assert_eq!(all.len(), 6, "both batches must be read back");
    let b_first_at = all[3].appended_at;
    assert!(
        b_first_at > a_last_at,
        "an append made after the clock passed the first batch's append time ({a_last_at}) must get a later append time, got {b_first_at}"
    );

    let by_time = log.read(&StartFrom::Time(b_first_at), 100, Duration::ZERO).await.must("read from a time");
    assert_eq!(
        positions(&by_time),
        pb,
        "read from the second batch's append time must return exactly the second batch (time is inclusive)"
    );
    assert_records_are(&by_time, &second, "read from a time");
    let from_first = log.read(&StartFrom::Time(a_first_at), 100, Duration::ZERO).await.must("read from the first append time");
    assert_eq!(from_first.len(), 6, "read from the first entry's append time must include it and everything after");
    let from_old = log.read(&StartFrom::Time(long_ago()), 100, Duration::ZERO).await.must("read from long ago");
    assert_eq!(from_old.len(), 6, "read from a time before the log must return everything");
    let future = log.read(&StartFrom::Time(Utc::now() + ChronoDuration::hours(1)), 100, Duration::ZERO).await.must("read from the future");
    assert!(future.is_empty(), "read from a future time must return nothing, got {:?}", positions(&future));

    let after_a = log.read(&StartFrom::After(pa[2].clone()), 100, Duration::ZERO).await.must("read after the first batch");
    assert_eq!(positions(&after_a), pb, "read after the last entry of the first batch must return the second batch");
    let none = log.read(&StartFrom::After(pb[2].clone()), 100, Duration::ZERO).await.must("read after the head");
    assert!(none.is_empty(), "read after the head must return nothing");
    let limited = log.read(&StartFrom::After(pa[0].clone()), 2, Duration::ZERO).await.must("read with max");
    assert_eq!(positions(&limited), pa[1..3].to_vec(), "read after a position must honour max");
    let end = log.read(&StartFrom::End, 100, Duration::ZERO).await.must("read from the end");
    assert!(end.is_empty(), "read from End without waiting must return nothing");

    let info = log.group_info(&g).await.must("group_info");
    assert_eq!((info.pending, info.undelivered), (0, 6), "range reads must not touch groups");
}

/// `read_back` returns entries before a position (exclusive; `None` = the newest), newest first.
pub async fn read_back_is_newest_first(f: &dyn LogFactory) {
    let log = f.open(&unique_name("readback")).await;
    assert!(log.read_back(None, 10).await.must("read_back on an empty log").is_empty(), "read_back on an empty log must be empty");
    let events = sample_events(0..5);
    let p = log.append(&events).await.must("append");
    let newest = log.read_back(None, 3).await.must("read_back newest");
    assert_eq!(
        positions(&newest),
        vec![p[4].clone(), p[3].clone(), p[2].clone()],
        "read_back(None, 3) must return the 3 newest, newest first"
    );
    for (r, i) in newest.iter().zip([4usize, 3, 2]) {
        assert_record_is(r, &events[i], "read_back");
    }
    let older = log.read_back(Some(&p[2]), 10).await.must("read_back before a position");
    assert_eq!(positions(&older), vec![p[1].clone(), p[0].clone()], "read_back before position 3 must return 2 and 1, newest first");
    assert!(log.read_back(Some(&p[0]), 10).await.must("read_back before the first").is_empty(), "nothing is before the first entry");
    let everything = log.read_back(None, 100).await.must("read_back all");
    let mut reversed = p.clone();
    reversed.reverse();
    assert_eq!(positions(&everything), reversed, "read_back(None, 100) must return every entry newest first");
}

/// Clause 9: 32 tasks appending 50 events each in batches of 5 lose nothing; positions are unique and
/// increasing in read order; each batch is contiguous and in order; each task's batches are in order.
pub async fn concurrent_appends_lose_nothing(f: &dyn LogFactory) {
    const TASKS: u64 = 32;
    const BATCHES: u64 = 10;
    const PER_BATCH: u64 = 5;
    let log = f.open(&unique_name("concurrent")).await;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut batches: Vec<(u64, Vec<Position>)> = Vec::new();
            for b in 0..BATCHES {
                let base = (t * BATCHES + b) * PER_BATCH;
                let ps = log.append(&sample_events(base..base + PER_BATCH)).await.must("concurrent append");
                batches.push((base, ps));
            }
            batches
        }));
    }
    let mut per_task = Vec::new();
    for task in tasks {
        per_task.push(task.await.must("appending task"));
    }

    let records = read_all(&*log).await;
    let total = TASKS * BATCHES * PER_BATCH;
    assert_eq!(records.len() as u64, total, "every concurrently appended event must be read back");
    let read_positions = positions(&records);
    assert_unique(&read_positions, "positions after concurrent appends");
    assert_increasing(&read_positions, "positions in read order after concurrent appends");
    let index: HashMap<&Position, usize> = read_positions.iter().enumerate().map(|(i, p)| (p, i)).collect();
    let mut seen = HashSet::new();
    for r in &records {
        let e = r.event.as_ref().unwrap_or_else(|err| panic!("entry {} cannot be decoded: {err}", r.position));
        let i = sample_index(e).unwrap_or_else(|| panic!("entry {} is not a sample event", r.position));
        assert!(seen.insert(i), "event {i} was stored twice");
    }
    for batches in &per_task {
        let mut previous_end: Option<usize> = None;
        for (base, ps) in batches {
            assert_eq!(ps.len() as u64, PER_BATCH, "append must return one position per event");
            let at: Vec<usize> =
                ps.iter().map(|p| *index.get(p).unwrap_or_else(|| panic!("position {p} returned by append is not in the log"))).collect();
            for (k, w) in at.windows(2).enumerate() {
                assert_eq!(
                    w[1],
                    w[0] + 1,
                    "batch starting at event {base} is not contiguous: entry {k} and {} are separated in the log",
                    k + 1
                );
            }
            for (k, &idx) in at.iter().enumerate() {
                let e = records[idx].event.as_ref().ok().and_then(sample_index);
                assert_eq!(e, Some(base + k as u64), "the position append returned for event {} holds another event", base + k as u64);
            }
            if let Some(end) = previous_end {
                assert!(at[0] > end, "a task's later batch (from event {base}) must come after its earlier one");
            }
            previous_end = at.last().copied();
        }
    }
    assert_eq!(log.head().await.must("head"), read_positions.last().cloned(), "head must be the last position read");
}

/// Clause 9b: `append_interleaved` from concurrent writers (alongside single-event appends) stores every
/// event once, returns the position that holds each, and keeps each call's events in call order (they
/// need not be contiguous).
pub async fn interleaved_appends_keep_each_writers_order(f: &dyn LogFactory) {
    const TASKS: u64 = 8;
    const BATCHES: u64 = 6;
    const PER_BATCH: u64 = 10;
    let log = f.open(&unique_name("interleaved")).await;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut calls: Vec<(u64, Vec<Position>)> = Vec::new();
            for b in 0..BATCHES {
                let base = (t * BATCHES + b) * PER_BATCH;
                // Every other writer appends its events one by one, so single appends interleave too.
                let ps = if t % 2 == 0 {
                    log.append_interleaved(&sample_events(base..base + PER_BATCH)).await.must("interleaved append")
                } else {
                    let mut ps = Vec::new();
                    for e in sample_events(base..base + PER_BATCH) {
                        ps.extend(log.append(std::slice::from_ref(&e)).await.must("single append"));
                    }
                    ps
                };
                calls.push((base, ps));
            }
            calls
        }));
    }
    let mut per_task = Vec::new();
    for task in tasks {
        per_task.push(task.await.must("appending task"));
    }
    let records = read_all(&*log).await;
    assert_eq!(records.len() as u64, TASKS * BATCHES * PER_BATCH, "every appended event must be read back once");
    let read_positions = positions(&records);
    assert_unique(&read_positions, "positions after interleaved appends");
    let index: HashMap<&Position, usize> = read_positions.iter().enumerate().map(|(i, p)| (p, i)).collect();
    let mut seen = HashSet::new();
    for r in &records {
        let i = r.event.as_ref().ok().and_then(sample_index).unwrap_or_else(|| panic!("entry {} is not a sample event", r.position));
        assert!(seen.insert(i), "event {i} was stored twice");
    }
    for calls in &per_task {
        let mut previous: Option<usize> = None;
        for (base, ps) in calls {
            assert_eq!(ps.len() as u64, PER_BATCH, "one position per event");
            for (k, p) in ps.iter().enumerate() {
                let at = *index.get(p).unwrap_or_else(|| panic!("position {p} returned for event {} is not in the log", base + k as u64));
                assert_eq!(
                    records[at].event.as_ref().ok().and_then(sample_index),
                    Some(base + k as u64),
                    "the position returned for event {} holds another event",
                    base + k as u64
                );
                assert!(
                    previous.is_none_or(|prev| at > prev),
                    "event {} is stored before an event its writer appended earlier",
                    base + k as u64
                );
                previous = Some(at);
            }
        }
    }
}
