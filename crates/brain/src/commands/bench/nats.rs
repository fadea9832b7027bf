//! `brain bench --nats`: [`NatsLog::append`](eventstream_nats::NatsLog) against the raw `async-nats`
//! JetStream client at equal concurrency, in the same run, on streams of their own that are deleted
//! afterwards. Ours publishes one event per call with the id as `Nats-Msg-Id` and the expected last
//! sequence (so concurrent appends stay contiguous and retries are dropped); the baseline publishes the
//! same canonical JSON bodies with `js.publish(..).await?.await?` (a serial publish per task) on a plain
//! file-storage stream.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use brain_events::task::TaskCreated;
use eventstream_core::{Event, EventLog};
use eventstream_nats::{NatsConfig, NatsLog};
use serde::Serialize;
use serde_json::json;

use super::{Output, Section, bench_events, median, per_sec, ratio};
use crate::cli::BenchArgs;

/// One concurrency, medians over the runs.
#[derive(Debug, Serialize)]
struct Row {
    publishers: usize,
    events: usize,
    events_per_sec: f64,
    baseline_events_per_sec: f64,
    ratio: f64,
    /// The raw publish with the event id as `Nats-Msg-Id`, as ours sends (the server's dedup tracking).
    baseline_with_ids_events_per_sec: f64,
}

/// Runs `f(i)` for every index in `0..n` from `tasks` concurrent tasks; returns events/s.
pub(super) async fn concurrently<F, Fut>(n: usize, tasks: usize, f: F) -> anyhow::Result<f64>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks.max(1) {
        let (f, next) = (f.clone(), next.clone());
        set.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                f(i).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = set.join_next().await {
        r.context("a publisher task panicked")??;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// The raw client on `url` (one server or a comma-separated list of a cluster's servers).
pub(super) async fn raw_connect(url: &str) -> anyhow::Result<async_nats::Client> {
    let servers = url
        .split(',')
        .map(|u| u.trim().parse::<async_nats::ServerAddr>().with_context(|| format!("{u:?} is not a NATS server URL")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    async_nats::connect(servers).await.with_context(|| format!("cannot reach NATS at {url}"))
}

/// Our `append`, one event per call from `publishers` tasks, on fresh streams of `replicas` replicas.
pub(super) async fn measure_ours(url: &str, replicas: usize, events: Arc<Vec<Event>>, publishers: usize) -> anyhow::Result<f64> {
    let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut config = NatsConfig::new(url, name);
    config.replicas = replicas;
    let log = Arc::new(NatsLog::connect(config).await.with_context(|| format!("cannot reach NATS at {url}"))?);
    let n = events.len();
    let l = log.clone();
    let r = concurrently(n, publishers, move |i| {
        let (log, events) = (l.clone(), events.clone());
        async move {
            log.append(std::slice::from_ref(&events[i])).await.context("append failed")?;
            Ok(())
        }
    })
    .await;
    let _ = log.destroy().await;
    r
}

/// The raw `async-nats` publish of the same bodies on a fresh file stream of `replicas` replicas.
pub(super) async fn measure_raw(url: &str, replicas: usize, events: Arc<Vec<Event>>, publishers: usize) -> anyhow::Result<f64> {
    measure_raw_with(url, replicas, events, publishers, false).await
}

/// [`measure_raw`], with each event's id as `Nats-Msg-Id` when `ids` (what the server's dedup costs).
async fn measure_raw_with(url: &str, replicas: usize, events: Arc<Vec<Event>>, publishers: usize, ids: bool) -> anyhow::Result<f64> {
    let client = raw_connect(url).await?;
    let js = async_nats::jetstream::new(client);
    let name = format!("bench_raw_{}", uuid::Uuid::new_v4().simple());
    let subject = format!("{name}.events");
    js.create_stream(async_nats::jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![subject.clone()],
        storage: async_nats::jetstream::stream::StorageType::File,
        num_replicas: replicas,
        ..Default::default()
    })
    .await
    .context("cannot create the raw benchmark stream")?;
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(events.iter().map(Event::to_json_vec).collect());
    let n = bodies.len();
    let j = js.clone();
    let r = concurrently(n, publishers, move |i| {
        let (js, bodies, subject, events) = (j.clone(), bodies.clone(), subject.clone(), events.clone());
        async move {
            // A copy of the body per publish, as ours makes.
            let body = bodies[i].clone().into();
            let ack = if ids {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(async_nats::header::NATS_MESSAGE_ID, events[i].id.as_str());
                js.publish_with_headers(subject, headers, body).await
            } else {
                js.publish(subject, body).await
            };
            ack.context("raw publish failed")?.await.context("raw publish ack failed")?;
            Ok(())
        }
    })
    .await;
    let _ = js.delete_stream(&name).await;
    r
}

/// Runs the NATS benchmark against `url`.
///
/// # Errors
/// Invalid arguments, an unreachable server or a failed measurement.
pub(super) async fn measure(a: &BenchArgs, url: &str) -> anyhow::Result<Output> {
    if a.events == 0 || a.runs == 0 || a.publishers.is_empty() || a.publishers.contains(&0) {
        bail!("--events, --runs and every --publishers value must be at least 1");
    }
    let mut rows = Vec::new();
    for &p in &a.publishers {
        let (mut ours, mut base, mut with_ids) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..a.runs {
            eprintln!("nats, {p} publishers: run {} of {}", run + 1, a.runs);
            with_ids.push(measure_raw_with(url, 1, Arc::new(bench_events::<TaskCreated>(a.events)?), p, true).await?);
            // Alternate which side goes first, so drift on a shared machine does not favour one.
            for ours_first in [run % 2 == 0, run % 2 != 0] {
                let events = Arc::new(bench_events::<TaskCreated>(a.events)?);
                if ours_first {
                    ours.push(measure_ours(url, 1, events, p).await?);
                } else {
                    base.push(measure_raw(url, 1, events, p).await?);
                }
            }
        }
        let (ours, base, with_ids) = (median(ours), median(base), median(with_ids));
        rows.push(Row {
            publishers: p,
            events: a.events,
            events_per_sec: ours,
            baseline_events_per_sec: base,
            ratio: ours / base,
            baseline_with_ids_events_per_sec: with_ids,
        });
    }
    let section = Section {
        caption: format!(
            "nats backend at {url}, median of {} runs; baseline = raw async-nats JetStream publish (publish().await?.await?) of the same \
             bodies at the same concurrency; also the raw publish with the event id as Nats-Msg-Id (as ours sends it), to show \
             what the server's dedup tracking costs",
            a.runs
        ),
        header: svec![
            "publishers",
            "events",
            "ours (events/s)",
            "raw async-nats (events/s)",
            "ratio",
            "raw + Nats-Msg-Id (events/s)",
            "ours / that"
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.publishers.to_string(),
                    r.events.to_string(),
                    per_sec(r.events_per_sec),
                    per_sec(r.baseline_events_per_sec),
                    ratio(r.ratio),
                    per_sec(r.baseline_with_ids_events_per_sec),
                    ratio(r.events_per_sec / r.baseline_with_ids_events_per_sec),
                ]
            })
            .collect(),
    };
    Ok(Output { json: json!({"url": url, "runs": a.runs, "results": rows}), sections: vec![section] })
}
