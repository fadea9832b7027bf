//! The dashboard's time series: a sampler that records, every few seconds, events/s by module, the lag of
//! every subscriber, open dead letters and the outbox depth, kept in two ring buffers (fine samples for
//! the last hour, one-minute buckets for 24 hours); `GET /api/stats/series?window=15m|1h|24h` answers
//! from them and `GET /api/stats/series/stream` sends each new sample as Server-Sent Events.
//!
//! A sample costs the same however many events were ever processed: the rates are differences of the
//! event index's per-type counters (kept incrementally as events are indexed), the lag comes from the
//! log's consumer groups, the dead letters from a `GROUP BY` over the dead-letter table and the outbox
//! from its own counters. No history is scanned. The series live in this process's memory: they start
//! empty at each start, and with several replicas each one counts the events its own index consumer
//! handled (its share of the group).
//!
//! The numbers span every tenant (like `GET /api/consumers` and the gauges of `GET /api/stats`), so the
//! routes need an admin key.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use brain_http::live::StreamPolicy;
use brain_http::{ApiError, Principal, Query};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::server::AppState;

/// How often the sampler records a sample in production.
pub(crate) const DEFAULT_EVERY: Duration = Duration::from_secs(5);
/// How long fine samples are kept (the 15 min and 1 h windows read them).
const FINE_SPAN: Duration = Duration::from_secs(3600);
/// One coarse bucket (the 24 h window reads them).
const BUCKET_MS: i64 = 60_000;
/// Coarse buckets kept: 24 hours.
const COARSE_KEEP: usize = 24 * 60;

/// One point of every series.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Sample {
    /// When it was taken (the end of the span it covers), Unix milliseconds.
    pub(crate) t: i64,
    /// The seconds it covers.
    pub(crate) span_seconds: f64,
    /// Events/s by module (the event type's namespace, as the analytics module counts them) over the span.
    pub(crate) rates: BTreeMap<String, f64>,
    /// Lag (pending + undelivered) by subscriber; a bucket keeps the largest lag it saw.
    pub(crate) lag: BTreeMap<String, u64>,
    /// Open dead letters (every tenant); `None` when the state store did not answer.
    pub(crate) dead_letters_open: Option<u64>,
    /// Events in the outbox not yet on the log; `None` when the outbox did not answer.
    pub(crate) outbox_depth: Option<u64>,
}

/// What a sample is made of: the values read at one instant.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reading {
    /// Events seen by type since this process started (monotonic counters).
    pub(crate) seen_by_type: BTreeMap<String, u64>,
    /// Lag by subscriber.
    pub(crate) lag: BTreeMap<String, u64>,
    /// Open dead letters.
    pub(crate) dead_letters_open: Option<u64>,
    /// Outbox depth.
    pub(crate) outbox_depth: Option<u64>,
}

/// A coarse bucket being filled.
#[derive(Debug, Clone)]
struct Bucket {
    /// Which minute (Unix ms / [`BUCKET_MS`]).
    minute: i64,
    /// Events by module in the bucket.
    events: BTreeMap<String, f64>,
    span_seconds: f64,
    last: Sample,
    lag: BTreeMap<String, u64>,
    outbox_max: Option<u64>,
}

impl Bucket {
    fn start(sample: &Sample) -> Self {
        let mut b = Bucket {
            minute: sample.t.div_euclid(BUCKET_MS),
            events: BTreeMap::new(),
            span_seconds: 0.0,
            last: sample.clone(),
            lag: BTreeMap::new(),
            outbox_max: None,
        };
        b.add(sample);
        b
    }

    fn add(&mut self, s: &Sample) {
        for (module, rate) in &s.rates {
            *self.events.entry(module.clone()).or_default() += rate * s.span_seconds;
        }
        self.span_seconds += s.span_seconds;
        for (name, lag) in &s.lag {
            let e = self.lag.entry(name.clone()).or_default();
            *e = (*e).max(*lag);
        }
        self.outbox_max = match (self.outbox_max, s.outbox_depth) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.last = s.clone();
    }

    fn finish(self) -> Sample {
        let span = self.span_seconds;
        let rates = self.events.into_iter().map(|(m, n)| (m, if span > 0.0 { n / span } else { 0.0 })).collect();
        Sample {
            t: self.last.t,
            span_seconds: span,
            rates,
            lag: self.lag,
            dead_letters_open: self.last.dead_letters_open,
            outbox_depth: self.outbox_max,
        }
    }
}

/// The ring buffers (pure: fed readings with their times, so tests drive it without a clock).
#[derive(Debug)]
pub(crate) struct Rings {
    every: Duration,
    fine: VecDeque<Sample>,
    fine_keep: usize,
    coarse: VecDeque<Sample>,
    bucket: Option<Bucket>,
    previous: Option<(i64, BTreeMap<String, u64>)>,
}

/// The windows a client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Window {
    /// The last 15 minutes (fine samples).
    Min15,
    /// The last hour (fine samples).
    Hour1,
    /// The last 24 hours (one-minute buckets, then the fine samples after the last full bucket).
    Hour24,
}

impl Window {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "15m" => Some(Self::Min15),
            "1h" => Some(Self::Hour1),
            "24h" => Some(Self::Hour24),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Min15 => "15m",
            Self::Hour1 => "1h",
            Self::Hour24 => "24h",
        }
    }

    fn millis(self) -> i64 {
        match self {
            Self::Min15 => 15 * 60_000,
            Self::Hour1 => 3_600_000,
            Self::Hour24 => 24 * 3_600_000,
        }
    }
}

/// The namespace of an event type: its first segment.
fn module_of(event_type: &str) -> &str {
    event_type.split('.').next().unwrap_or(event_type)
}

impl Rings {
    /// Empty rings for a sampler that records every `every`.
    pub(crate) fn new(every: Duration) -> Self {
        let every = every.max(Duration::from_millis(50));
        let fine_keep = usize::try_from(FINE_SPAN.as_millis() / every.as_millis()).unwrap_or(usize::MAX).clamp(1, 100_000);
        Rings { every, fine: VecDeque::new(), fine_keep, coarse: VecDeque::new(), bucket: None, previous: None }
    }

    /// Records `reading` taken at `t` (Unix ms); returns the sample it made. The first reading gives
    /// rates of zero (nothing to compare with); a counter that went down (a restart of the index) counts
    /// from zero.
    pub(crate) fn record(&mut self, t: i64, reading: Reading) -> Sample {
        let (span_seconds, rates) = match &self.previous {
            Some((t0, before)) if t > *t0 => {
                let span = (t - t0) as f64 / 1000.0;
                let mut rates: BTreeMap<String, f64> = BTreeMap::new();
                for (ty, n) in &reading.seen_by_type {
                    let was = before.get(ty).copied().unwrap_or(0);
                    let delta = if *n >= was { n - was } else { *n };
                    if delta > 0 {
                        *rates.entry(module_of(ty).to_owned()).or_default() += delta as f64;
                    }
                }
                for v in rates.values_mut() {
                    *v /= span;
                }
                (span, rates)
            }
            _ => (self.every.as_secs_f64(), BTreeMap::new()),
        };
        self.previous = Some((t, reading.seen_by_type));
        let sample = Sample {
            t,
            span_seconds,
            rates,
            lag: reading.lag,
            dead_letters_open: reading.dead_letters_open,
            outbox_depth: reading.outbox_depth,
        };
        self.fine.push_back(sample.clone());
        while self.fine.len() > self.fine_keep {
            self.fine.pop_front();
        }
        let minute = t.div_euclid(BUCKET_MS);
        match self.bucket.as_mut() {
            Some(b) if b.minute == minute => b.add(&sample),
            _ => {
                if let Some(done) = self.bucket.take() {
                    self.coarse.push_back(done.finish());
                    while self.coarse.len() > COARSE_KEEP {
                        self.coarse.pop_front();
                    }
                }
                self.bucket = Some(Bucket::start(&sample));
            }
        }
        sample
    }

    /// The samples of `window` ending at `now` (Unix ms), oldest first, and their resolution in seconds.
    pub(crate) fn window(&self, window: Window, now: i64) -> (Vec<Sample>, f64) {
        let from = now - window.millis();
        match window {
            Window::Min15 | Window::Hour1 => (self.fine.iter().filter(|s| s.t >= from).cloned().collect(), self.every.as_secs_f64()),
            Window::Hour24 => {
                let mut out: Vec<Sample> = self.coarse.iter().filter(|s| s.t >= from).cloned().collect();
                let after = out.last().map_or(i64::MIN, |s| s.t);
                out.extend(self.fine.iter().filter(|s| s.t > after && s.t >= from).cloned());
                (out, (BUCKET_MS / 1000) as f64)
            }
        }
    }
}

/// The sampler's shared state: the rings and the channel new samples go out on.
#[derive(Debug)]
pub(crate) struct StatsSeries {
    rings: Mutex<Rings>,
    every: Duration,
    live: broadcast::Sender<Arc<Sample>>,
}

impl StatsSeries {
    /// A series sampled every `every`.
    pub(crate) fn new(every: Duration) -> Arc<Self> {
        let (live, _) = broadcast::channel(64);
        Arc::new(StatsSeries { rings: Mutex::new(Rings::new(every)), every, live })
    }

    fn rings(&self) -> std::sync::MutexGuard<'_, Rings> {
        self.rings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a reading taken now and sends the sample to the open streams.
    fn record(&self, reading: Reading) {
        let sample = self.rings().record(chrono::Utc::now().timestamp_millis(), reading);
        // No receiver is fine: nobody watches.
        let _ = self.live.send(Arc::new(sample));
    }

    /// Samples until `stop` is cancelled: one at once, then one every [`StatsSeries::new`]'s interval.
    pub(crate) fn spawn(self: Arc<Self>, state: AppState, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                // A backend that hangs must not stop the series: the reading's parts time out one by one.
                let reading = read(&state, self.every.max(Duration::from_secs(1))).await;
                self.record(reading);
            }
        })
    }
}

/// Reads the current values; a part that fails or takes longer than `limit` is left out (and logged).
async fn read(state: &AppState, limit: Duration) -> Reading {
    let seen_by_type = state.index.seen_by_type();
    let (groups, dead, outbox) = tokio::join!(
        tokio::time::timeout(limit, state.log.groups()),
        tokio::time::timeout(limit, state.store.dead_letter_counts(None)),
        tokio::time::timeout(limit, state.events.outbox_stats()),
    );
    let lag = match groups {
        Ok(Ok(groups)) => groups.iter().map(|g| (g.name.to_string(), g.lag())).collect(),
        Ok(Err(e)) => {
            tracing::debug!(error = %eventstream_core::error::Chain(&e), "stats sampler: cannot read the consumer groups");
            BTreeMap::new()
        }
        Err(_) => BTreeMap::new(),
    };
    let dead_letters_open = match dead {
        Ok(Ok(counts)) => Some(counts.iter().map(|c| c.open).sum()),
        Ok(Err(e)) => {
            tracing::debug!(error = %eventstream_core::error::Chain(&e), "stats sampler: cannot count dead letters");
            None
        }
        Err(_) => None,
    };
    let outbox_depth = match outbox {
        Ok(Ok((depth, _))) => Some(depth),
        Ok(Err(e)) => {
            tracing::debug!(error = %eventstream_core::error::Chain(&e), "stats sampler: cannot read the outbox");
            None
        }
        Err(_) => None,
    };
    Reading { seen_by_type, lag, dead_letters_open, outbox_depth }
}

/// The query of `GET /api/stats/series`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeriesQuery {
    window: Option<String>,
}

fn admin_only(principal: &Principal) -> Result<(), ApiError> {
    if principal.is_admin() { Ok(()) } else { Err(ApiError::forbidden("the time series span every tenant: they need an admin key")) }
}

/// `GET /api/stats/series?window=15m|1h|24h` (default `1h`).
///
/// ```json
/// {"window": "1h", "interval_seconds": 5, "resolution_seconds": 5, "from": 1767225600000, "to": 1767229200000,
///  "samples": [{"t": 1767229195000, "span_seconds": 5.0, "rates": {"task": 0.4},
///               "lag": {"event_index": 0}, "dead_letters_open": 1, "outbox_depth": 0}]}
/// ```
pub(crate) async fn series(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<SeriesQuery>,
) -> Result<Json<Value>, ApiError> {
    admin_only(&principal)?;
    let window = match q.window.as_deref() {
        None => Window::Hour1,
        Some(s) => Window::parse(s).ok_or_else(|| ApiError::invalid_query("window", "`window` must be 15m, 1h or 24h"))?,
    };
    let now = chrono::Utc::now().timestamp_millis();
    let (samples, resolution) = state.series.rings().window(window, now);
    Ok(Json(json!({
        "window": window.as_str(),
        "interval_seconds": state.series.every.as_secs_f64(),
        "resolution_seconds": resolution,
        "from": now - window.millis(),
        "to": now,
        "samples": samples,
    })))
}

/// `GET /api/stats/series/stream`: every new sample as an SSE message `event: sample`, `data:` the sample
/// as in `GET /api/stats/series`. The stream ends with its key (revocation) or its maximum lifetime,
/// like the event tail; a client that falls behind skips samples (it can reload the window).
pub(crate) async fn stream(
    State(state): State<AppState>,
    principal: Principal,
    policy: StreamPolicy,
) -> Result<impl IntoResponse, ApiError> {
    admin_only(&principal)?;
    let rx = state.series.live.subscribe();
    let samples = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(sample) => {
                    let data = serde_json::to_string(&*sample).unwrap_or_else(|_| "{}".into());
                    let msg = SseEvent::default().event("sample").data(data);
                    return Some((Ok::<_, Infallible>(msg), rx));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let ended = async move {
        let end = policy.ended().await;
        tracing::info!(key_id = policy.key_id(), reason = end.as_str(), "ending a stats stream");
    };
    Ok(Sse::new(samples.take_until(ended)).keep_alive(KeepAlive::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(seen: &[(&str, u64)], lag: u64, dlq: u64) -> Reading {
        Reading {
            seen_by_type: seen.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect(),
            lag: [("event_index".to_owned(), lag)].into(),
            dead_letters_open: Some(dlq),
            outbox_depth: Some(0),
        }
    }

    #[test]
    fn rates_are_differences_of_the_counters_by_module() {
        let mut r = Rings::new(Duration::from_secs(5));
        let first = r.record(0, reading(&[("task.created", 10)], 0, 0));
        assert!(first.rates.is_empty(), "the first reading has nothing to compare with");
        let s = r.record(5_000, reading(&[("task.created", 20), ("task.failed", 5), ("credits.consumed", 1)], 3, 1));
        assert_eq!(s.rates["task"], 3.0, "15 task events in 5 s");
        assert_eq!(s.rates["credits"], 0.2);
        assert_eq!((s.lag["event_index"], s.dead_letters_open), (3, Some(1)));
        // A counter going down (a restart) counts from zero instead of going negative.
        let s = r.record(10_000, reading(&[("task.created", 4)], 0, 0));
        assert_eq!(s.rates["task"], 0.8);
    }

    #[test]
    fn windows_read_fine_samples_and_minute_buckets() {
        let mut r = Rings::new(Duration::from_secs(5));
        // 2 hours of samples, 12 task events per 5 s = 2.4/s; the lag peaks at 9 once.
        let mut n = 0;
        for i in 0..(2 * 720) {
            n += 12;
            let lag = if i == 100 { 9 } else { 1 };
            r.record(i * 5_000, reading(&[("task.created", n)], lag, 2));
        }
        let now = (2 * 720 - 1) * 5_000;
        let (fine, res) = r.window(Window::Min15, now);
        assert_eq!((fine.len(), res), (181, 5.0));
        let (hour, _) = r.window(Window::Hour1, now);
        assert_eq!(hour.len(), 720, "fine samples are kept for one hour");
        let (day, res) = r.window(Window::Hour24, now);
        assert_eq!(res, 60.0);
        let buckets: Vec<&Sample> = day.iter().filter(|s| s.span_seconds >= 55.0).collect();
        assert_eq!(buckets.len(), 119, "one bucket per finished minute");
        assert!(buckets[1..].iter().all(|b| (b.rates["task"] - 2.4).abs() < 1e-9), "{:?}", buckets[1]);
        assert_eq!(day.iter().map(|s| s.lag["event_index"]).max(), Some(9), "a bucket keeps its largest lag");
        assert!(day.windows(2).all(|w| w[0].t < w[1].t), "oldest first, no overlap");
    }

    #[test]
    fn buckets_are_kept_for_24_hours_only() {
        let mut r = Rings::new(Duration::from_secs(60));
        for i in 0..(26 * 60) {
            r.record(i * 60_000, reading(&[], 0, 0));
        }
        assert_eq!(r.coarse.len(), COARSE_KEEP);
        assert_eq!(r.fine.len(), 60);
        let (day, _) = r.window(Window::Hour24, (26 * 60 - 1) * 60_000);
        assert!(day.len() <= COARSE_KEEP + 1, "{}", day.len());
    }

    #[test]
    fn windows_parse() {
        assert_eq!(Window::parse("15m"), Some(Window::Min15));
        assert_eq!(Window::parse("24h").map(Window::as_str), Some("24h"));
        assert_eq!(Window::parse("2h"), None);
    }
}
