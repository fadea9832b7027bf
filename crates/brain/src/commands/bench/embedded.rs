//! `brain bench` (embedded): append throughput and append-to-read latency of the embedded log for several publisher
//! counts, against a baseline measured in the same run: raw SQLite inserts of the same rows into the same
//! kind of store with the same durability, one transaction per event (what code without group commit
//! does). Throughput is measured alone, as the baseline is; latency in a second pass with a reader tailing
//! the log. Results are medians over `--runs`; the ratio is ours / baseline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use brain_events::task::TaskCreated;
use eventstream_core::{Event, EventLog, Position, StartFrom};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::json;

use super::{Output, Section, bench_events, median, ms, per_sec, progress, ratio};
use crate::cli::BenchArgs;
use crate::config::DurabilitySetting;

#[derive(Debug, Serialize)]
struct Row {
    publishers: usize,
    events: usize,
    events_per_sec: f64,
    baseline_events_per_sec: f64,
    ratio: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    /// Append-to-read distribution of the last run: (ms, quantile).
    cdf_ms: Vec<(f64, f64)>,
}

fn durability(d: DurabilitySetting) -> eventstream_embedded::Durability {
    match d {
        DurabilitySetting::Full => eventstream_embedded::Durability::Full,
        DurabilitySetting::Normal => eventstream_embedded::Durability::Normal,
    }
}

/// Appends `events` from `publishers` concurrent tasks, one event per call; returns the elapsed time.
async fn publish_all(log: &Arc<dyn EventLog>, events: Vec<Event>, publishers: usize, origin: Instant) -> anyhow::Result<Duration> {
    let per = events.len().div_ceil(publishers);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for chunk in events.chunks(per).map(<[Event]>::to_vec) {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for mut e in chunk {
                e.payload.insert("sent_us".into(), json!(origin.elapsed().as_micros() as u64));
                let _: Vec<Position> = log.append(std::slice::from_ref(&e)).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("publisher task panicked")??;
    }
    Ok(start.elapsed())
}

async fn open_bench_log(dir: &std::path::Path, d: DurabilitySetting) -> anyhow::Result<Arc<dyn EventLog>> {
    let opts = eventstream_embedded::EmbeddedOptions { durability: durability(d), ..Default::default() };
    Ok(Arc::new(eventstream_embedded::EmbeddedLog::open(dir.to_path_buf(), opts).await.context("open embedded log")?))
}

/// Throughput of our log, measured alone (like the baseline): events/s.
async fn measure_throughput(dir: &std::path::Path, events: Vec<Event>, publishers: usize, d: DurabilitySetting) -> anyhow::Result<f64> {
    let log = open_bench_log(dir, d).await?;
    let n = events.len();
    let elapsed = publish_all(&log, events, publishers, Instant::now()).await?;
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// Append-to-read latency (µs histogram): a reader tails the log while the publishers append; each
/// event carries its send time.
async fn measure_latency(
    dir: &std::path::Path,
    events: Vec<Event>,
    publishers: usize,
    d: DurabilitySetting,
) -> anyhow::Result<Histogram<u64>> {
    let log = open_bench_log(dir, d).await?;
    let n = events.len();
    let origin = Instant::now();
    let reader = {
        let log = log.clone();
        tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut from = StartFrom::Beginning;
            let mut seen = 0usize;
            while seen < n {
                let batch = log.read(&from, 2000, Duration::from_millis(200)).await?;
                let now = origin.elapsed().as_micros() as u64;
                for r in &batch {
                    if let Some(sent) = r.event.as_ref().ok().and_then(|e| e.payload.get("sent_us")).and_then(serde_json::Value::as_u64) {
                        hist.record(now.saturating_sub(sent).max(1))?;
                    }
                }
                seen += batch.len();
                if let Some(last) = batch.last() {
                    from = StartFrom::After(last.position.clone());
                }
            }
            anyhow::Ok(hist)
        })
    };
    publish_all(&log, events, publishers, origin).await?;
    tokio::time::timeout(Duration::from_secs(120), reader).await.context("reader did not see every event")?.context("reader panicked")?
}

/// One batched configuration, medians over the runs.
#[derive(Debug, Serialize)]
struct BatchRow {
    batch: usize,
    publishers: usize,
    events: usize,
    events_per_sec: f64,
    baseline_events_per_sec: f64,
    ratio: f64,
    events_per_commit: f64,
}

/// Concurrent publishers in the batched measurement: while one batch commits, the next ones are encoded.
const BATCH_PUBLISHERS: usize = 4;

/// Batched appends: `publishers` tasks each appending `batch` events per call; returns (events/s,
/// events per commit).
async fn measure_batched(
    dir: &std::path::Path,
    events: Vec<Event>,
    batch: usize,
    publishers: usize,
    d: DurabilitySetting,
) -> anyhow::Result<(f64, f64)> {
    let opts = eventstream_embedded::EmbeddedOptions { durability: durability(d), ..Default::default() };
    let log = eventstream_embedded::EmbeddedLog::open(dir.to_path_buf(), opts).await.context("open embedded log")?;
    let n = events.len();
    let batches: Vec<Vec<Event>> = events.chunks(batch.max(1)).map(<[Event]>::to_vec).collect();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let batches = Arc::new(batches);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..publishers.max(1) {
        let (log, next, batches) = (log.clone(), next.clone(), batches.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(b) = batches.get(i) else { break };
                log.append(b).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("publisher task panicked")??;
    }
    let secs = start.elapsed().as_secs_f64();
    let stats = log.writer_stats();
    Ok((n as f64 / secs, stats.appended_events as f64 / stats.append_commits.max(1) as f64))
}

/// Runs the embedded-log benchmark.
///
/// # Errors
/// Invalid arguments, an unusable temp dir or a failed measurement.
pub(super) async fn measure(a: &BenchArgs) -> anyhow::Result<Output> {
    if a.events == 0 || a.runs == 0 || a.publishers.is_empty() || a.publishers.contains(&0) {
        bail!("--events, --runs and every --publishers value must be at least 1");
    }
    let d: DurabilitySetting = a.durability.parse()?;
    let base_dir = match &a.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.clone()
        }
        None => std::env::temp_dir(),
    };
    let total = ((a.publishers.len() + a.batch_sizes.len()) * a.runs * 2) as u64;
    let bar = progress(total);
    let mut rows = Vec::new();
    for &p in &a.publishers {
        let (mut ours, mut base, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut last_cdf = Vec::new();
        for run in 0..a.runs {
            bar.set_message(format!("{p} publishers, run {}: ours", run + 1));
            let dir = tempfile::tempdir_in(&base_dir).context("cannot create a temp dir")?;
            ours.push(measure_throughput(dir.path(), bench_events::<TaskCreated>(a.events)?, p, d).await?);
            let dir = tempfile::tempdir_in(&base_dir).context("cannot create a temp dir")?;
            let hist = measure_latency(dir.path(), bench_events::<TaskCreated>(a.events)?, p, d).await?;
            p50.push(hist.value_at_quantile(0.5) as f64 / 1000.0);
            p99.push(hist.value_at_quantile(0.99) as f64 / 1000.0);
            last_cdf = super::cdf(&hist, 0.001);
            bar.inc(1);
            bar.set_message(format!("{p} publishers, run {}: baseline", run + 1));
            let dir = tempfile::tempdir_in(&base_dir).context("cannot create a temp dir")?;
            let events = bench_events::<TaskCreated>(a.events)?;
            let path = dir.path().to_path_buf();
            let opts = eventstream_embedded::EmbeddedOptions { durability: durability(d), ..Default::default() };
            let elapsed = tokio::task::spawn_blocking(move || {
                eventstream_embedded::baseline::append_one_transaction_per_event(&path, &opts, p, &events)
            })
            .await
            .context("baseline panicked")?
            .context("baseline failed")?;
            base.push(a.events as f64 / elapsed.as_secs_f64());
            bar.inc(1);
        }
        let (ours, base) = (median(ours), median(base));
        rows.push(Row {
            publishers: p,
            events: a.events,
            events_per_sec: ours,
            baseline_events_per_sec: base,
            ratio: ours / base,
            latency_p50_ms: median(p50),
            latency_p99_ms: median(p99),
            cdf_ms: last_cdf,
        });
    }
    let mut batch_rows = Vec::new();
    for &b in &a.batch_sizes {
        let (mut ours, mut base, mut per_commit) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..a.runs {
            bar.set_message(format!("batches of {b}, run {}: ours", run + 1));
            let dir = tempfile::tempdir_in(&base_dir).context("cannot create a temp dir")?;
            let (eps, epc) = measure_batched(dir.path(), bench_events::<TaskCreated>(a.events)?, b, BATCH_PUBLISHERS, d).await?;
            ours.push(eps);
            per_commit.push(epc);
            bar.inc(1);
            bar.set_message(format!("batches of {b}, run {}: baseline", run + 1));
            let dir = tempfile::tempdir_in(&base_dir).context("cannot create a temp dir")?;
            let events = bench_events::<TaskCreated>(a.events)?;
            let path = dir.path().to_path_buf();
            let opts = eventstream_embedded::EmbeddedOptions { durability: durability(d), ..Default::default() };
            let elapsed = tokio::task::spawn_blocking(move || {
                eventstream_embedded::baseline::append_batched_one_connection(&path, &opts, b, &events)
            })
            .await
            .context("baseline panicked")?
            .context("baseline failed")?;
            base.push(a.events as f64 / elapsed.as_secs_f64());
            bar.inc(1);
        }
        let (ours, base) = (median(ours), median(base));
        batch_rows.push(BatchRow {
            batch: b,
            publishers: BATCH_PUBLISHERS,
            events: a.events,
            events_per_sec: ours,
            baseline_events_per_sec: base,
            ratio: ours / base,
            events_per_commit: median(per_commit),
        });
    }
    bar.finish_and_clear();
    let batch_section = Section {
        caption: format!(
            "embedded log, batched appends ({BATCH_PUBLISHERS} concurrent publishers), durability {}; baseline = one raw SQLite connection \
             inserting the same rows, one transaction per batch (the ceiling)",
            a.durability
        ),
        header: svec!["batch", "publishers", "events", "ours (events/s)", "baseline (events/s)", "ratio", "events per commit"],
        rows: batch_rows
            .iter()
            .map(|r| {
                vec![
                    r.batch.to_string(),
                    r.publishers.to_string(),
                    r.events.to_string(),
                    per_sec(r.events_per_sec),
                    per_sec(r.baseline_events_per_sec),
                    ratio(r.ratio),
                    format!("{:.0}", r.events_per_commit),
                ]
            })
            .collect(),
    };
    let rows_text = rows
        .iter()
        .map(|r| {
            vec![
                r.publishers.to_string(),
                r.events.to_string(),
                per_sec(r.events_per_sec),
                per_sec(r.baseline_events_per_sec),
                ratio(r.ratio),
                ms(r.latency_p50_ms),
                ms(r.latency_p99_ms),
            ]
        })
        .collect();
    let section = Section {
        caption: format!(
            "embedded log, durability {}, median of {} runs; baseline = raw SQLite insert + commit per event, same durability",
            a.durability, a.runs
        ),
        header: svec!["publishers", "events", "ours (events/s)", "baseline (events/s)", "ratio", "p50 latency (ms)", "p99 latency (ms)"],
        rows: rows_text,
    };
    Ok(Output {
        json: json!({"durability": a.durability, "runs": a.runs, "results": rows, "batched": batch_rows}),
        sections: vec![section, batch_section],
    })
}
