//! `brain bench --emit`: what [`EventStream::emit`] costs its caller, measured call by call, against the
//! floor of the same hand-off: a send of the same event on a bare bounded tokio channel with a task
//! draining it (what `emit` is built on).
//!
//! Two loads, each for `--events` events (at most 10 s at the paced rate): paced at [`PACED_RATE`]
//! events/s (1 ms ticks, the caller's view in a running service), and back to back (a burst). The
//! embedded log (durability full) and a SQLite file state store sit behind the outbox, as in `brain
//! serve`; the measurement also waits until the relay appended every event to the log.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use brain_events::task::TaskCreated;
use eventstream::{EventStream, PublisherOptions};
use eventstream_core::{Event, EventLog};
use eventstream_sql::StateStore;
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::json;

use super::{Output, Section, bench_events, median};
use crate::cli::BenchArgs;

/// Events per second of the paced load.
pub(super) const PACED_RATE: u64 = 10_000;

/// One load's figures, medians over the runs, in µs.
#[derive(Debug, Serialize)]
struct Row {
    load: &'static str,
    events: usize,
    p50_us: f64,
    p99_us: f64,
    p999_us: f64,
    max_us: f64,
    baseline_p50_us: f64,
    baseline_p99_us: f64,
    /// Events per second from the first emit until the relay appended the last one to the log.
    to_log_events_per_sec: f64,
    /// The distribution of the last run: (ms, quantile).
    cdf_ms: Vec<(f64, f64)>,
}

/// Calls `f` for each event, paced at `rate` per second when given, timing each call; returns the
/// histogram (ns).
async fn timed<F, Fut>(events: Vec<Event>, rate: Option<u64>, mut f: F) -> anyhow::Result<Histogram<u64>>
where
    F: FnMut(Event) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let per_tick = rate.map(|r| usize::try_from(r / 1000).unwrap_or(1).max(1));
    let mut it = events.into_iter().peekable();
    while it.peek().is_some() {
        if per_tick.is_some() {
            tick.tick().await;
        }
        for e in it.by_ref().take(per_tick.unwrap_or(usize::MAX)) {
            let t0 = Instant::now();
            f(e).await;
            hist.saturating_record(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX).max(1));
        }
    }
    Ok(hist)
}

/// Ours: `emit` through a fresh EventStream; returns (histogram ns, events/s until all are in the log).
async fn measure_emit(events: Vec<Event>, rate: Option<u64>) -> anyhow::Result<(Histogram<u64>, f64)> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let log: Arc<dyn EventLog> =
        Arc::new(eventstream_embedded::EmbeddedLog::open(dir.path().join("log"), eventstream_embedded::EmbeddedOptions::default()).await?);
    let store = StateStore::connect(&eventstream_sql::sqlite_url(&dir.path().join("state.db"))).await?;
    let (stream, tasks) = EventStream::start(log, store, None, PublisherOptions::default());
    let n = events.len() as u64;
    let start = Instant::now();
    let hist = timed(events, rate, |e| {
        let stream = stream.clone();
        async move { stream.emit(e).await }
    })
    .await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while stream.stats().relayed.load(Ordering::Relaxed) < n {
        if Instant::now() > deadline {
            bail!("the relay appended {} of {n} emitted events within 120 s", stream.stats().relayed.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    tasks.shutdown(Duration::from_secs(5)).await;
    Ok((hist, rate))
}

/// The floor: a send on a bounded tokio channel of the same capacity, drained by a task.
async fn measure_channel(events: Vec<Event>, rate: Option<u64>) -> anyhow::Result<Histogram<u64>> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(PublisherOptions::default().queue_capacity);
    let drain = tokio::spawn(async move {
        let mut buf = Vec::with_capacity(4096);
        while rx.recv_many(&mut buf, 4096).await > 0 {
            buf.clear();
        }
    });
    let hist = timed(events, rate, |e| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(e).await;
        }
    })
    .await?;
    drop(tx);
    drain.await.context("drain task panicked")?;
    Ok(hist)
}

fn us(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Runs the emit benchmark.
///
/// # Errors
/// A failed measurement.
pub(super) async fn measure(a: &BenchArgs) -> anyhow::Result<Output> {
    if a.events == 0 || a.runs == 0 {
        bail!("--events and --runs must be at least 1");
    }
    let mut rows = Vec::new();
    for (load, rate) in [("paced", Some(PACED_RATE)), ("burst", None)] {
        let n = match rate {
            Some(r) => a.events.min(usize::try_from(r * 10).unwrap_or(usize::MAX)),
            None => a.events,
        };
        let (mut p50, mut p99, mut p999, mut max, mut b50, mut b99, mut to_log) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut last_cdf = Vec::new();
        for run in 0..a.runs {
            eprintln!("emit, {load}: run {} of {}", run + 1, a.runs);
            let (h, r) = measure_emit(bench_events::<TaskCreated>(n)?, rate).await?;
            p50.push(us(&h, 0.5));
            p99.push(us(&h, 0.99));
            p999.push(us(&h, 0.999));
            max.push(h.max() as f64 / 1000.0);
            to_log.push(r);
            last_cdf = super::cdf(&h, 0.000_001);
            let b = measure_channel(bench_events::<TaskCreated>(n)?, rate).await?;
            b50.push(us(&b, 0.5));
            b99.push(us(&b, 0.99));
        }
        rows.push(Row {
            load,
            events: n,
            p50_us: median(p50),
            p99_us: median(p99),
            p999_us: median(p999),
            max_us: median(max),
            baseline_p50_us: median(b50),
            baseline_p99_us: median(b99),
            to_log_events_per_sec: median(to_log),
            cdf_ms: last_cdf,
        });
    }
    let section = Section {
        caption: format!(
            "emit caller cost (time inside each `emit().await`), paced at {PACED_RATE}/s and back to back; baseline = a send on a bare \
             bounded tokio channel; median of {} runs",
            a.runs
        ),
        header: svec![
            "load",
            "events",
            "p50 (µs)",
            "p99 (µs)",
            "p99.9 (µs)",
            "max (µs)",
            "channel p50 (µs)",
            "channel p99 (µs)",
            "to log (events/s)"
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.load.to_owned(),
                    r.events.to_string(),
                    format!("{:.2}", r.p50_us),
                    format!("{:.2}", r.p99_us),
                    format!("{:.2}", r.p999_us),
                    format!("{:.1}", r.max_us),
                    format!("{:.2}", r.baseline_p50_us),
                    format!("{:.2}", r.baseline_p99_us),
                    format!("{:.0}", r.to_log_events_per_sec),
                ]
            })
            .collect(),
    };
    Ok(Output { json: json!({"runs": a.runs, "paced_rate": PACED_RATE, "results": rows}), sections: vec![section] })
}
