//! `brain bench --backend redis --redis-url URL`: the Redis backend measured against the raw client in
//! the same run, on a stream key of its own that is deleted afterwards (also on error and Ctrl-C).
//!
//! - Throughput of [`EventStream::publish`] for each `--publishers` count (events spread round-robin over
//!   concurrent tasks), and of [`EventStream::publish_batch`] with batches of [`BATCH`]. Baseline: raw
//!   `XADD` of the same entries (same field encoding) with the same client library and the same
//!   concurrency, a batch being one pipeline ([`eventstream_redis::baseline::RawStream`]). The ratio is
//!   ours / baseline; ours pays for `MULTI`/`EXEC` (a batch is atomic) and for parsing the positions.
//! - End-to-end latency: events published at a paced rate (each `publish` call spawned at its send time,
//!   so a slow call does not delay the next), consumed by a [`ConsumerRuntime`] subscriber (handler
//!   concurrency `--concurrency`) whose handler measures the time from the send timestamp in the payload
//!   to its own invocation. The runtime's state store (inbox) is an in-memory SQLite database. Measured
//!   at [`LATENCY_RATES`]: 10,000/s, and a rate the subscriber sustains on a small machine, so the
//!   report shows both the latency under saturation (when the subscriber cannot keep up, the latency
//!   grows with the length of the run; the `handled/s` column then shows the subscriber's throughput)
//!   and the latency of the path itself.
//!
//! Every figure is the median over `--runs`; the entries are deleted after each measurement so every
//! measurement starts on an empty stream.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use eventstream::{
    ConsumerRuntime, EventStream, Handler, HandlerContext, HandlerError, PublisherOptions, Subscription, SubscriptionOptions,
};
use eventstream_core::{Event, EventId, EventLog, GroupName, StartFrom, TypePattern};
use eventstream_redis::baseline::RawStream;
use eventstream_redis::{RedisConfig, RedisLog};
use eventstream_sql::StateStore;
use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use serde::Serialize;
use serde_json::json;

use crate::cli::BenchArgs;

/// Events per `publish_batch` call (and per baseline pipeline).
const BATCH: usize = 100;
/// Events per second in the latency measurements, and the longest each one runs.
const LATENCY_RATES: [(u64, Duration); 2] = [(10_000, Duration::from_secs(10)), (1_000, Duration::from_secs(5))];
/// The first events of a latency measurement (connection set-up, first reads) are not recorded.
const WARMUP: usize = 1_000;
/// The payload field carrying the send time (µs since the measurement's origin).
const SENT_US: &str = "sent_us";

/// One throughput configuration, medians over the runs.
#[derive(Debug, Serialize)]
struct ThroughputRow {
    mode: &'static str,
    baseline: &'static str,
    publishers: usize,
    batch: usize,
    events: usize,
    events_per_sec: f64,
    baseline_events_per_sec: f64,
    ratio: f64,
}

/// The latency measurement, medians over the runs.
#[derive(Debug, Serialize)]
struct LatencyRow {
    rate_per_sec: u64,
    events: usize,
    recorded: u64,
    achieved_rate_per_sec: f64,
    handled_rate_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// The latency distribution of the last run: (ms, quantile).
    cdf_ms: Vec<(f64, f64)>,
}

/// What is measured for one throughput row.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// `publish` / one `XADD` per call, from this many concurrent tasks.
    Single(usize),
    /// `publish_batch` / one pipeline per call, [`BATCH`] events each, one task.
    Batched,
    /// As `Batched`, but the baseline's pipeline is atomic (`MULTI`/`EXEC`), as `publish_batch` is.
    BatchedAtomic,
}

use brain_events::task::TaskCreated;

use super::{Output, Section, bench_events, median, ms, per_sec, progress, ratio};

/// Runs `f` over `events` dealt round-robin to `tasks` concurrent tasks; returns events per second.
async fn concurrently<F, Fut>(events: Vec<Event>, tasks: usize, f: F) -> anyhow::Result<f64>
where
    F: Fn(Event) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let n = events.len();
    let mut shares: Vec<Vec<Event>> = (0..tasks).map(|_| Vec::with_capacity(n / tasks + 1)).collect();
    for (i, e) in events.into_iter().enumerate() {
        if let Some(share) = shares.get_mut(i % tasks) {
            share.push(e);
        }
    }
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for share in shares {
        let f = f.clone();
        set.spawn(async move {
            for e in share {
                f(e).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = set.join_next().await {
        r.context("a publisher task panicked")??;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Our side of one throughput row: events per second through `EventStream`.
async fn measure_ours(stream: &EventStream, mode: Mode, events: Vec<Event>) -> anyhow::Result<f64> {
    match mode {
        Mode::Single(p) => {
            let stream = stream.clone();
            concurrently(events, p, move |e| {
                let stream = stream.clone();
                async move {
                    stream.publish(e).await.context("publish failed")?;
                    Ok(())
                }
            })
            .await
        }
        Mode::Batched | Mode::BatchedAtomic => {
            let start = Instant::now();
            for chunk in events.chunks(BATCH) {
                stream.publish_batch(chunk).await.context("publish_batch failed")?;
            }
            Ok(events.len() as f64 / start.elapsed().as_secs_f64())
        }
    }
}

/// The baseline side: raw `XADD`s of the same events with the same concurrency.
async fn measure_raw(raw: &RawStream, mode: Mode, events: Vec<Event>) -> anyhow::Result<f64> {
    match mode {
        Mode::Single(p) => {
            let raw = raw.clone();
            concurrently(events, p, move |e| {
                let raw = raw.clone();
                async move {
                    raw.xadd(&e).await.context("raw XADD failed")?;
                    Ok(())
                }
            })
            .await
        }
        Mode::BatchedAtomic => {
            let start = Instant::now();
            for chunk in events.chunks(BATCH) {
                raw.xadd_atomic(chunk).await.context("raw MULTI/EXEC XADD failed")?;
            }
            Ok(events.len() as f64 / start.elapsed().as_secs_f64())
        }
        Mode::Batched => {
            let start = Instant::now();
            for chunk in events.chunks(BATCH) {
                raw.xadd_pipelined(chunk).await.context("raw pipelined XADD failed")?;
            }
            Ok(events.len() as f64 / start.elapsed().as_secs_f64())
        }
    }
}

/// The latency subscriber's handler: records send-to-handler time of every event after the warm-up.
struct LatencyProbe {
    origin: Instant,
    hist: Arc<Mutex<Histogram<u64>>>,
    seen: Arc<AtomicU64>,
}

#[async_trait]
impl Handler for LatencyProbe {
    async fn handle(&self, _ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        let now = u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
        let seq = event.payload.get("seq").and_then(serde_json::Value::as_u64).unwrap_or(0);
        if let Some(sent) = event.payload.get(SENT_US).and_then(serde_json::Value::as_u64)
            && seq >= WARMUP as u64
            && let Ok(mut h) = self.hist.lock()
        {
            h.saturating_record(now.saturating_sub(sent).max(1));
        }
        self.seen.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// One latency measurement on an empty stream at `rate` events per second.
struct LatencyRun {
    /// Events sent per second.
    sent_rate: f64,
    /// Events handled per second, from the first send to the last handler call.
    handled_rate: f64,
    /// Send-to-handler times after the warm-up, in µs.
    hist: Histogram<u64>,
}

async fn measure_latency(
    log: Arc<dyn EventLog>,
    store: StateStore,
    stream: &EventStream,
    events: Vec<Event>,
    rate: u64,
    concurrency: usize,
) -> anyhow::Result<LatencyRun> {
    let n = events.len();
    let origin = Instant::now();
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?));
    let seen = Arc::new(AtomicU64::new(0));
    let group: GroupName = format!("bench-latency-{}", uuid::Uuid::new_v4().simple()).parse()?;
    let consumer = eventstream::default_consumer_name();
    let mut runtime = ConsumerRuntime::new(log.clone(), store, consumer);
    let options = SubscriptionOptions {
        concurrency: concurrency.max(1),
        batch_size: 256,
        start: StartFrom::Beginning,
        read_block: Duration::from_millis(500),
        ..SubscriptionOptions::default()
    };
    let probe = LatencyProbe { origin, hist: hist.clone(), seen: seen.clone() };
    runtime.spawn(Subscription::new(group.clone(), vec![TypePattern::all()], probe).with_options(options));
    // The subscriber's group exists before the first event is sent.
    let ready = Instant::now();
    while log.group_info(&group).await.is_err() {
        if ready.elapsed() > Duration::from_secs(10) {
            bail!("the latency subscriber did not create its consumer group within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Paced sending: every millisecond the events due by then, each publish spawned at its send time.
    let failures = Arc::new(AtomicU64::new(0));
    let mut sends = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let per_tick = usize::try_from(rate / 1000).unwrap_or(1).max(1);
    let start = Instant::now();
    let mut pending = events.into_iter().enumerate();
    let mut sent = 0;
    while sent < n {
        tick.tick().await;
        for (seq, mut e) in pending.by_ref().take(per_tick) {
            e.payload.insert("seq".into(), json!(seq));
            e.payload.insert(SENT_US.into(), json!(u64::try_from(origin.elapsed().as_micros()).unwrap_or(u64::MAX)));
            let (stream, failures) = (stream.clone(), failures.clone());
            sends.spawn(async move {
                if stream.publish(e).await.is_err() {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            });
            sent += 1;
        }
        while sends.try_join_next().is_some() {}
    }
    while sends.join_next().await.is_some() {}
    let sent_rate = n as f64 / start.elapsed().as_secs_f64();
    if failures.load(Ordering::Relaxed) > 0 {
        runtime.shutdown(Duration::from_secs(5)).await;
        bail!("{} publishes failed during the latency measurement", failures.load(Ordering::Relaxed));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.load(Ordering::Relaxed) < n as u64 {
        if Instant::now() > deadline {
            runtime.shutdown(Duration::from_secs(5)).await;
            bail!("the subscriber handled {} of {n} events within 120 s", seen.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let handled_rate = n as f64 / start.elapsed().as_secs_f64();
    runtime.shutdown(Duration::from_secs(5)).await;
    let hist = hist.lock().map_err(|_| anyhow::anyhow!("the latency histogram lock was poisoned"))?.clone();
    Ok(LatencyRun { sent_rate, handled_rate, hist })
}

/// Everything measured, before printing.
struct Report {
    throughput: Vec<ThroughputRow>,
    latency: Vec<LatencyRow>,
    /// Which state store held the latency subscriber's inbox.
    inbox: &'static str,
}

async fn measure_all(a: &BenchArgs, log: &RedisLog, raw: &RawStream, bar: &ProgressBar) -> anyhow::Result<Report> {
    let log_dyn: Arc<dyn EventLog> = Arc::new(log.clone());
    // `publish` needs an EventStream; its outbox (unused here: nothing is emitted) is in memory.
    let outbox = StateStore::connect("sqlite::memory:").await.context("cannot open the in-memory state store")?;
    let (stream, tasks) = EventStream::start(log_dyn.clone(), outbox, None, PublisherOptions::default());
    let mut modes: Vec<Mode> = a.publishers.iter().map(|&p| Mode::Single(p)).collect();
    modes.push(Mode::Batched);
    modes.push(Mode::BatchedAtomic);
    let mut throughput = Vec::new();
    for mode in modes {
        let (mut ours, mut base) = (Vec::new(), Vec::new());
        for run in 0..a.runs {
            let label = match mode {
                Mode::Single(p) => format!("publish, {p} publishers"),
                Mode::Batched => format!("publish_batch of {BATCH}"),
                Mode::BatchedAtomic => format!("publish_batch of {BATCH} vs MULTI/EXEC"),
            };
            // Alternate which side goes first, so drift on a shared machine does not favour one.
            for ours_first in [run % 2 == 0, run % 2 != 0] {
                if ours_first {
                    bar.set_message(format!("{label}, run {}: ours", run + 1));
                    ours.push(measure_ours(&stream, mode, bench_events::<TaskCreated>(a.events)?).await?);
                } else {
                    bar.set_message(format!("{label}, run {}: raw XADD", run + 1));
                    base.push(measure_raw(raw, mode, bench_events::<TaskCreated>(a.events)?).await?);
                }
                raw.delete().await.context("cannot delete the benchmark stream")?;
                bar.inc(1);
            }
        }
        let (publishers, batch) = match mode {
            Mode::Single(p) => (p, 1),
            Mode::Batched | Mode::BatchedAtomic => (1, BATCH),
        };
        let (ours, base) = (median(ours), median(base));
        let (mode, baseline) = match mode {
            Mode::Single(_) => ("publish", "XADD"),
            Mode::Batched => ("publish_batch", "pipelined XADD"),
            Mode::BatchedAtomic => ("publish_batch", "pipelined MULTI/EXEC XADD"),
        };
        throughput.push(ThroughputRow {
            mode,
            baseline,
            publishers,
            batch,
            events: a.events,
            events_per_sec: ours,
            baseline_events_per_sec: base,
            ratio: ours / base,
        });
    }

    // The subscriber's inbox: PostgreSQL with `--pg-url` (a fresh schema, dropped afterwards), otherwise
    // a SQLite file; never an in-memory database with its single connection.
    let inbox_dir = tempfile::tempdir().context("temp dir")?;
    let (inbox, inbox_label, schema) = match &a.pg_url {
        Some(url) => {
            let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
            let store = StateStore::connect_with(url, eventstream_sql::StoreOptions::default().schema(schema.clone()))
                .await
                .with_context(|| format!("cannot connect to {}", crate::backend::redact(url)))?;
            (store, "PostgreSQL", Some((url.clone(), schema)))
        }
        None => {
            let store = StateStore::connect(&eventstream_sql::sqlite_url(&inbox_dir.path().join("inbox.db"))).await?;
            (store, "SQLite file", None)
        }
    };
    let mut latency = Vec::new();
    for (rate, longest) in LATENCY_RATES {
        // `--events`, but at most `longest` at this rate, and at least twice the warm-up.
        let cap = usize::try_from(rate.saturating_mul(longest.as_secs())).unwrap_or(usize::MAX);
        let events = a.events.min(cap).max(2 * WARMUP);
        let (mut sent, mut handled, mut p50, mut p99, mut max, mut recorded) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut last_cdf = Vec::new();
        for run in 0..a.runs {
            bar.set_message(format!("latency at {rate}/s, run {}", run + 1));
            let r =
                measure_latency(log_dyn.clone(), inbox.clone(), &stream, bench_events::<TaskCreated>(events)?, rate, a.concurrency).await?;
            raw.delete().await.context("cannot delete the benchmark stream")?;
            sent.push(r.sent_rate);
            handled.push(r.handled_rate);
            p50.push(r.hist.value_at_quantile(0.5) as f64 / 1000.0);
            p99.push(r.hist.value_at_quantile(0.99) as f64 / 1000.0);
            max.push(r.hist.max() as f64 / 1000.0);
            recorded.push(r.hist.len() as f64);
            last_cdf = super::cdf(&r.hist, 0.001);
            bar.inc(1);
        }
        latency.push(LatencyRow {
            rate_per_sec: rate,
            events,
            recorded: median(recorded) as u64,
            achieved_rate_per_sec: median(sent),
            handled_rate_per_sec: median(handled),
            p50_ms: median(p50),
            p99_ms: median(p99),
            max_ms: median(max),
            cdf_ms: last_cdf,
        });
    }
    tasks.shutdown(Duration::from_secs(2)).await;
    inbox.close().await;
    if let Some((url, schema)) = schema
        && let Ok(store) = StateStore::connect(&url).await
    {
        let _ = eventstream_sql::baseline::drop_schema(&store, &schema).await;
    }
    Ok(Report { throughput, latency, inbox: inbox_label })
}

/// Runs the Redis benchmark against `redis_url`.
///
/// # Errors
/// Invalid arguments, an unreachable server, or a failed measurement. The benchmark's stream is deleted
/// in every case where the server is still reachable.
pub(super) async fn measure(a: &BenchArgs, redis_url: &str) -> anyhow::Result<Output> {
    if a.events == 0 || a.runs == 0 || a.publishers.is_empty() || a.publishers.contains(&0) {
        bail!("--events, --runs and every --publishers value must be at least 1");
    }
    let config = RedisConfig::new(redis_url).with_key_prefix(format!("brain-bench:{}:", EventId::new()));
    let key = config.stream_key();
    let log = RedisLog::connect(config).await.with_context(|| format!("cannot reach Redis at {redis_url}"))?;
    let raw = RawStream::connect(redis_url, key.clone()).await.with_context(|| format!("cannot reach Redis at {redis_url}"))?;

    let steps = (a.runs * ((a.publishers.len() + 2) * 2 + LATENCY_RATES.len())) as u64;
    let bar = progress(steps);
    let result = tokio::select! {
        r = measure_all(a, &log, &raw, &bar) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    bar.finish_and_clear();
    if let Err(e) = raw.delete().await {
        eprintln!("warning: could not delete the benchmark stream {key}: {e}");
    }
    let report = result?;

    let out = json!({
        "backend": "redis",
        "runs": a.runs,
        "baseline": "raw XADD, same fields, same client library (redis-rs multiplexed connection), same concurrency; a batch is one pipeline",
        "throughput": report.throughput,
        "latency": report.latency,
        "latency_inbox": report.inbox,
    });
    let throughput = Section {
        caption: format!(
            "redis backend at {redis_url}, median of {} runs; baseline = raw XADD of the same entries with the same client and concurrency (a batch = one pipeline)",
            a.runs
        ),
        header: svec!["call", "publishers", "batch", "events", "ours (events/s)", "raw", "raw (events/s)", "ratio"],
        rows: report
            .throughput
            .iter()
            .map(|r| {
                vec![
                    r.mode.to_owned(),
                    r.publishers.to_string(),
                    r.batch.to_string(),
                    r.events.to_string(),
                    per_sec(r.events_per_sec),
                    r.baseline.to_owned(),
                    per_sec(r.baseline_events_per_sec),
                    ratio(r.ratio),
                ]
            })
            .collect(),
    };
    let latency = Section {
        caption: format!(
            "end-to-end: publish (paced, MissedTickBehavior::Burst) -> ConsumerRuntime subscriber (concurrency {}, {} inbox) -> handler; first {WARMUP} events not recorded",
            a.concurrency, report.inbox
        ),
        header: svec!["publish -> handler rate (events/s)", "sent/s", "handled/s", "events (recorded)", "p50 (ms)", "p99 (ms)", "max (ms)"],
        rows: report
            .latency
            .iter()
            .map(|l| {
                vec![
                    l.rate_per_sec.to_string(),
                    per_sec(l.achieved_rate_per_sec),
                    per_sec(l.handled_rate_per_sec),
                    format!("{} ({})", l.events, l.recorded),
                    ms(l.p50_ms),
                    ms(l.p99_ms),
                    ms(l.max_ms),
                ]
            })
            .collect(),
    };
    Ok(Output { json: out, sections: vec![throughput, latency] })
}
