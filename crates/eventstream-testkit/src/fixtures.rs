//! Fixtures shared by the clauses: event builders, unique names, bounded polling and assertions that
//! explain what a backend got wrong.

use std::collections::HashSet;
use std::fmt::{Debug, Display};
use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, TimeZone, Utc};
use eventstream_core::{
    ConsumerName, Delivery, Event, EventLog, EventType, GroupName, Position, Record, Severity, Source, StartFrom, TenantId,
};
use serde_json::{Map, Value};

/// The event type of every sample event.
pub const SAMPLE_TYPE: &str = "testkit.sample";

/// How long the suite waits for something that must happen "soon" before failing.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Unwraps a result with a message naming the operation, so a failing backend says what failed.
pub trait Must<T> {
    /// The value, or a panic saying `what` failed and why.
    fn must(self, what: &str) -> T;
}

impl<T, E: Display> Must<T> for Result<T, E> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what} failed: {e}"),
        }
    }
}

fn parsed<T: std::str::FromStr<Err = E>, E: Display>(s: &str) -> T {
    s.parse().unwrap_or_else(|e| panic!("fixture value {s:?} is invalid: {e}"))
}

/// Sample event number `i`: type [`SAMPLE_TYPE`], payload `{"i": i, "text": ...}`, a timestamp rounded to
/// microseconds (the canonical JSON precision, so a stored event compares equal to the original) and the
/// optional fields a backend could drop (`tenant_id`, `correlation_id`, `severity`) filled in.
pub fn sample_event(i: u64) -> Event {
    let mut payload = Map::new();
    payload.insert("i".into(), Value::from(i));
    payload.insert("text".into(), Value::from(format!("sample event {i}")));
    let mut e = Event::new(parsed::<EventType, _>(SAMPLE_TYPE), parsed::<Source, _>("testkit"), payload);
    e.timestamp = Utc::now().trunc_subsecs(6);
    e.tenant_id = Some(parsed::<TenantId, _>("acme"));
    e.correlation_id = Some(format!("corr-{i}"));
    e.severity = Some(Severity::Info);
    e
}

/// Sample events numbered `range`.
pub fn sample_events(range: std::ops::Range<u64>) -> Vec<Event> {
    range.map(sample_event).collect()
}

/// The number `i` of a sample event, if it is one.
pub fn sample_index(e: &Event) -> Option<u64> {
    e.payload.get("i").and_then(Value::as_u64)
}

/// A log name no other test uses: `<prefix>-<16 hex digits>` (letters, digits and `-` only, so it is a
/// valid directory, Redis key part and NATS stream name).
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..16])
}

/// A group name.
pub fn group(name: &str) -> GroupName {
    parsed(name)
}

/// A consumer name.
pub fn consumer(name: &str) -> ConsumerName {
    parsed(name)
}

/// Polls `attempt` every 10 ms until it yields a value; panics after `timeout` saying `what` never happened.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = attempt().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (bounded) until the local clock is past `t`, so the next append gets a later append time.
pub async fn wait_for_clock_after(t: DateTime<Utc>) {
    eventually("the clock passes the previous append time", PATIENCE, || async move { (Utc::now() > t).then_some(()) }).await;
}

/// An instant long before any test ran.
pub fn long_ago() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Reads the whole log in order, page by page (each page starts after the last position of the previous
/// one, so paging itself checks that positions are ordered).
pub async fn read_all(log: &dyn EventLog) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    let mut from = StartFrom::Beginning;
    loop {
        let page = log.read(&from, 500, Duration::ZERO).await.must("read (page)");
        let Some(last) = page.last() else { break };
        from = StartFrom::After(last.position.clone());
        out.extend(page);
        assert!(out.len() <= 1_000_000, "read keeps returning entries: paging with After(last position) does not advance");
    }
    out
}

/// The positions of records.
pub fn positions(records: &[Record]) -> Vec<Position> {
    records.iter().map(|r| r.position.clone()).collect()
}

/// The positions of deliveries.
pub fn delivered_positions(deliveries: &[Delivery]) -> Vec<Position> {
    deliveries.iter().map(|d| d.record.position.clone()).collect()
}

/// Asserts that a stored record holds exactly `want`.
#[track_caller]
pub fn assert_record_is(record: &Record, want: &Event, context: &str) {
    match &record.event {
        Ok(got) => assert_eq!(got, want, "{context}: the entry at {} does not hold the appended event", record.position),
        Err(e) => panic!("{context}: the entry at {} cannot be decoded: {e}", record.position),
    }
}

/// Asserts that records hold exactly `want`, in order.
#[track_caller]
pub fn assert_records_are(records: &[Record], want: &[Event], context: &str) {
    assert_eq!(records.len(), want.len(), "{context}: expected {} entries, got positions {:?}", want.len(), positions(records));
    for (r, e) in records.iter().zip(want) {
        assert_record_is(r, e, context);
    }
}

/// Asserts that no position appears twice.
#[track_caller]
pub fn assert_unique(ps: &[Position], context: &str) {
    let mut seen = HashSet::new();
    for p in ps {
        assert!(seen.insert(p), "{context}: position {p} appears twice in {ps:?}");
    }
}

/// A sort key for the position formats the backends use (`42`, `1700000000000-3`, `7:12`), or `None` for a
/// format the suite does not know (then only read order is checked).
pub fn order_key(p: &Position) -> Option<Vec<u64>> {
    p.as_str().split(['-', ':', '_']).map(|s| s.parse::<u64>().ok()).collect()
}

/// Asserts that positions are strictly increasing, where the suite can compare them.
#[track_caller]
pub fn assert_increasing(ps: &[Position], context: &str) {
    for w in ps.windows(2) {
        if let (Some(a), Some(b)) = (order_key(&w[0]), order_key(&w[1])) {
            assert!(a < b, "{context}: positions must be strictly increasing, got {} then {}", w[0], w[1]);
        }
    }
}

/// Asserts `r` is [`eventstream_core::LogError::UnknownGroup`].
#[track_caller]
pub fn assert_unknown_group<T: Debug>(r: Result<T, eventstream_core::LogError>, op: &str) {
    match r {
        Err(eventstream_core::LogError::UnknownGroup(_)) => {}
        other => panic!("{op} on a group that was never created must be LogError::UnknownGroup, got {other:?}"),
    }
}
