//! `brain bench --consumers`: consumer throughput with dedup (the inbox rows and the handler's effects in
//! one transaction per chunk, ack after commit) on SQLite and PostgreSQL, and handler-to-ack latency,
//! against baselines measured in the same run on the same database, with no log and no runtime:
//!
//! - **batched** (the fair one, the ratio's denominator): the same rows with the same batching — one
//!   transaction per chunk of `handler_batch` events, a set-based inbox insert into a table with the
//!   inbox's keys and indexes, one multi-row effect insert — at the same concurrency;
//! - **per event**: one transaction per event (what code without batching does), for reference.
//!
//! The runtime's handler is a batch handler (`Handler::handle_batch`): one multi-row effect insert per
//! chunk. The log is the embedded log (its claims and acks are bookkeeping and are not fsynced).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use brain_events::task::TaskCompleted;
use eventstream::{
    BatchContext, BatchError, BatchItem, ConsumerRuntime, Handler, HandlerContext, HandlerError, Subscription, SubscriptionOptions,
};
use eventstream_core::{DelegatingLog, Event, EventLog, GroupName, LogError, Position, TypePattern};
use eventstream_sql::{StateStore, StoreOptions};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::json;

use super::{Output, Section, bench_events, median, ms, per_sec, ratio};
use crate::cli::BenchArgs;

#[derive(Debug, Serialize)]
struct Row {
    store: String,
    events: usize,
    concurrency: usize,
    events_per_sec: f64,
    baseline_events_per_sec: f64,
    per_event_baseline_events_per_sec: f64,
    ratio: f64,
    handler_to_ack_p50_ms: f64,
    handler_to_ack_p99_ms: f64,
    /// Handler-to-ack distribution of the last run: (ms, quantile).
    cdf_ms: Vec<(f64, f64)>,
}

/// Records when each position was acked, around a real log.
#[derive(Debug)]
struct AckTimes {
    inner: Arc<dyn EventLog>,
    acked: Mutex<HashMap<Position, Instant>>,
}

#[async_trait]
impl DelegatingLog for AckTimes {
    fn inner(&self) -> &dyn EventLog {
        &*self.inner
    }
    async fn on_ack(&self, g: &GroupName, p: &[Position]) -> Result<u64, LogError> {
        let n = self.inner.ack(g, p).await?;
        let now = Instant::now();
        if let Ok(mut m) = self.acked.lock() {
            for pos in p {
                m.entry(pos.clone()).or_insert(now);
            }
        }
        Ok(n)
    }
}

/// Events per handler chunk (one transaction), in the runtime and in the batched baseline.
const HANDLER_BATCH: usize = 64;

/// The benchmark's handler: one multi-row effect insert per batch, recording when each event's handling
/// started.
struct BenchHandler {
    started: Arc<Mutex<HashMap<Position, Instant>>>,
}

#[async_trait]
impl Handler for BenchHandler {
    async fn handle(&self, ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        if let Ok(mut m) = self.started.lock() {
            m.entry(ctx.position.clone()).or_insert_with(Instant::now);
        }
        eventstream_sql::baseline::insert_effect(ctx.tx, event).await.map_err(HandlerError::from)
    }

    async fn handle_batch(&self, ctx: &mut BatchContext<'_>, items: &[BatchItem<'_>]) -> Result<(), BatchError> {
        let now = Instant::now();
        if let Ok(mut m) = self.started.lock() {
            for item in items {
                m.entry(item.position.clone()).or_insert(now);
            }
        }
        let events: Vec<&Event> = items.iter().map(|i| i.event).collect();
        eventstream_sql::baseline::insert_effects(ctx.tx, &events).await.map_err(|e| BatchError { index: None, error: e.into() })
    }
}

/// Ours: the runtime consumes `events` from a fresh embedded log; returns (events/s, latency histogram µs).
async fn measure_runtime(store: &StateStore, events: &[Event], concurrency: usize) -> anyhow::Result<(f64, Histogram<u64>)> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let inner: Arc<dyn EventLog> = Arc::new(
        eventstream_embedded::EmbeddedLog::open(dir.path().to_path_buf(), eventstream_embedded::EmbeddedOptions::default()).await?,
    );
    for chunk in events.chunks(1000) {
        inner.append(chunk).await?;
    }
    let log = Arc::new(AckTimes { inner, acked: Mutex::new(HashMap::new()) });
    let started: Arc<Mutex<HashMap<Position, Instant>>> = Arc::new(Mutex::new(HashMap::with_capacity(events.len())));
    let handler = BenchHandler { started: started.clone() };
    let name: GroupName = format!("bench-{}", uuid::Uuid::new_v4().simple()).parse()?;
    let options = SubscriptionOptions { concurrency, batch_size: 256, handler_batch: HANDLER_BATCH, ..SubscriptionOptions::default() };
    let dyn_log: Arc<dyn EventLog> = log.clone();
    let mut runtime = ConsumerRuntime::new(dyn_log, store.clone(), "bench-1".parse()?);
    let start = Instant::now();
    runtime.spawn(Subscription::new(name.clone(), vec![TypePattern::all()], handler).with_options(options));
    let n = events.len();
    loop {
        let acked = log.acked.lock().map(|m| m.len()).unwrap_or(0);
        if acked >= n {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            bail!("the runtime did not finish within 10 minutes ({acked} of {n} acked)");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    runtime.shutdown(Duration::from_secs(10)).await;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let started = started.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let acked = log.acked.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    for (pos, t0) in started.iter() {
        if let Some(t1) = acked.get(pos) {
            hist.record(t1.saturating_duration_since(*t0).as_micros().max(1) as u64)?;
        }
    }
    Ok((n as f64 / secs, hist))
}

/// Batched baseline: the same rows, one transaction per chunk of [`HANDLER_BATCH`] events with set-based
/// statements, done directly with `concurrency` tasks.
async fn measure_batched_baseline(store: &StateStore, events: &[Event], concurrency: usize) -> anyhow::Result<f64> {
    let events = Arc::new(events.to_vec());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let base = uuid::Uuid::new_v4().as_u128() as usize % 1_000_000_000 * 1000;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (store, events, next) = (store.clone(), events.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(HANDLER_BATCH, std::sync::atomic::Ordering::Relaxed);
                let Some(chunk) = events.get(i..(i + HANDLER_BATCH).min(events.len())).filter(|c| !c.is_empty()) else { break };
                eventstream_sql::baseline::insert_chunk_direct(&store, base + i, chunk).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("baseline task panicked")??;
    }
    Ok(events.len() as f64 / start.elapsed().as_secs_f64())
}

/// Per-event baseline: the same two inserts per event in one transaction, done directly with `concurrency` tasks.
async fn measure_baseline(store: &StateStore, events: &[Event], concurrency: usize) -> anyhow::Result<f64> {
    let events = Arc::new(events.to_vec());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (store, events, next) = (store.clone(), events.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(e) = events.get(i) else { break };
                eventstream_sql::baseline::insert_direct(&store, &i.to_string(), e).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("baseline task panicked")??;
    }
    Ok(events.len() as f64 / start.elapsed().as_secs_f64())
}

/// Runs the consumer benchmark on SQLite and, with `--pg-url`, PostgreSQL.
///
/// # Errors
/// Invalid arguments, an unreachable database or a failed measurement.
pub(super) async fn measure(a: &BenchArgs) -> anyhow::Result<Output> {
    if a.events == 0 || a.runs == 0 || a.concurrency == 0 {
        bail!("--events, --runs and --concurrency must be at least 1");
    }
    let mut stores: Vec<(String, StateStore, Option<tempfile::TempDir>)> = Vec::new();
    let dir = tempfile::tempdir().context("temp dir")?;
    let sqlite = StateStore::connect(&eventstream_sql::sqlite_url(&dir.path().join("state.db"))).await?;
    stores.push(("sqlite".into(), sqlite, Some(dir)));
    let mut schema_to_drop = None;
    if let Some(url) = &a.pg_url {
        let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let pg = StateStore::connect_with(url, StoreOptions::default().schema(schema.clone()))
            .await
            .with_context(|| format!("cannot connect to {}", crate::backend::redact(url)))?;
        schema_to_drop = Some((url.clone(), schema));
        stores.push(("postgres".into(), pg, None));
    } else {
        eprintln!("no --pg-url (or BRAIN_BENCH_PG_URL): measuring SQLite only");
    }
    let mut rows = Vec::new();
    for (label, store, _keep) in &stores {
        eventstream_sql::baseline::create_tables(store).await?;
        let (mut ours, mut base, mut naive, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut last_cdf = Vec::new();
        for run in 0..a.runs {
            eprintln!("{label}: run {} of {}", run + 1, a.runs);
            let events = bench_events::<TaskCompleted>(a.events)?;
            let (eps, hist) = measure_runtime(store, &events, a.concurrency).await?;
            ours.push(eps);
            p50.push(hist.value_at_quantile(0.5) as f64 / 1000.0);
            p99.push(hist.value_at_quantile(0.99) as f64 / 1000.0);
            last_cdf = super::cdf(&hist, 0.001);
            base.push(measure_batched_baseline(store, &bench_events::<TaskCompleted>(a.events)?, a.concurrency).await?);
            naive.push(measure_baseline(store, &bench_events::<TaskCompleted>(a.events)?, a.concurrency).await?);
        }
        let (ours, base) = (median(ours), median(base));
        rows.push(Row {
            store: label.clone(),
            events: a.events,
            concurrency: a.concurrency,
            events_per_sec: ours,
            baseline_events_per_sec: base,
            per_event_baseline_events_per_sec: median(naive),
            ratio: ours / base,
            handler_to_ack_p50_ms: median(p50),
            handler_to_ack_p99_ms: median(p99),
            cdf_ms: last_cdf,
        });
    }
    if let Some((url, schema)) = schema_to_drop
        && let Ok(store) = StateStore::connect(&url).await
    {
        let _ = eventstream_sql::baseline::drop_schema(&store, &schema).await;
    }
    let rows_text = rows
        .iter()
        .map(|r| {
            vec![
                r.store.clone(),
                r.events.to_string(),
                r.concurrency.to_string(),
                per_sec(r.events_per_sec),
                per_sec(r.baseline_events_per_sec),
                ratio(r.ratio),
                per_sec(r.per_event_baseline_events_per_sec),
                ms(r.handler_to_ack_p50_ms),
                ms(r.handler_to_ack_p99_ms),
            ]
        })
        .collect();
    let section = Section {
        caption: format!(
            "consumer runtime with dedup (batch handler, chunks of {HANDLER_BATCH}) vs the same rows inserted directly with the same \
             batching, keys and indexes; median of {} runs",
            a.runs
        ),
        header: svec![
            "store",
            "events",
            "concurrency",
            "runtime (events/s)",
            "direct, batched (events/s)",
            "ratio",
            "direct, per event (events/s)",
            "handler→ack p50 (ms)",
            "handler→ack p99 (ms)",
        ],
        rows: rows_text,
    };
    Ok(Output { json: json!({"runs": a.runs, "handler_batch": HANDLER_BATCH, "results": rows}), sections: vec![section] })
}
