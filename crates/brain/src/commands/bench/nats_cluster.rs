//! `brain bench --nats-cluster`: the NATS backend on a private 3-node JetStream cluster with R3 streams
//! against a private single node with R1 streams, each with its own baseline measured in the same run:
//! the raw `async-nats` JetStream client on a stream of the same replication.
//!
//! Both topologies are `nats-server` processes this benchmark starts on free loopback ports with their
//! storage in a temp dir (the test suite's cluster harness), so the single node and the cluster run on the
//! same machine, binary and disk; they are stopped at the end. Two figures per topology:
//! - publish throughput at each `--publishers`: ours = `append` of one event per call; raw =
//!   `publish().await?.await?` of the same bodies;
//! - end-to-end latency at a paced rate (`--nats-rate`, default 500 ev/s), from the publish call to the
//!   consumer having the event: ours = `append` -> `read_group` -> `ack`; raw = publish -> a durable pull
//!   consumer's message stream -> `ack`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use brain_events::task::TaskCreated;
use eventstream_core::{ConsumerName, Event, EventId, EventLog, GroupName, StartFrom};
use eventstream_nats::{NatsConfig, NatsLog};
use eventstream_testkit::nats_cluster::NatsCluster;
use futures::StreamExt as _;
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::json;

use super::nats::{measure_ours, measure_raw};
use super::{Output, Section, bench_events, median, ms, per_sec, ratio};
use crate::cli::BenchArgs;

/// How long the latency run waits for the last events after the last publish.
const DRAIN: Duration = Duration::from_secs(30);

/// Publish throughput of one topology at one concurrency (medians).
#[derive(Debug, Serialize)]
struct PublishRow {
    topology: &'static str,
    replicas: usize,
    publishers: usize,
    events: usize,
    events_per_sec: f64,
    baseline_events_per_sec: f64,
    ratio: f64,
}

/// End-to-end latency of one topology, ours and raw, in ms.
#[derive(Debug, Serialize)]
struct LatencyRow {
    topology: &'static str,
    replicas: usize,
    rate_per_sec: u64,
    events: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    baseline_p50_ms: f64,
    baseline_p99_ms: f64,
    baseline_max_ms: f64,
}

/// Publish-to-consumer times, recorded by event index.
struct Clock {
    start: Instant,
    sent_ns: Vec<AtomicU64>,
    index: HashMap<EventId, usize>,
    latencies: std::sync::Mutex<Histogram<u64>>,
}

impl Clock {
    fn new(events: &[Event]) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            start: Instant::now(),
            sent_ns: events.iter().map(|_| AtomicU64::new(0)).collect(),
            index: events.iter().enumerate().map(|(i, e)| (e.id.clone(), i)).collect(),
            latencies: std::sync::Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
        }))
    }

    fn sent(&self, i: usize) {
        self.sent_ns[i].store(u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Records the arrival of `event`; true when it is one of ours.
    fn arrived(&self, event: &Event) -> bool {
        let Some(&i) = self.index.get(&event.id) else { return false };
        let now = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let us = now.saturating_sub(self.sent_ns[i].load(Ordering::Relaxed)) / 1_000;
        if let Ok(mut h) = self.latencies.lock() {
            let _ = h.record(us.max(1));
        }
        true
    }

    /// (p50, p99, max) in ms.
    fn summary(&self) -> (f64, f64, f64) {
        let h = self.latencies.lock().map(|h| h.clone()).unwrap_or_else(|p| p.into_inner().clone());
        let q = |x: f64| h.value_at_quantile(x) as f64 / 1000.0;
        (q(0.5), q(0.99), h.max() as f64 / 1000.0)
    }
}

/// Publishes `events` at `rate` per second, each from its own task (so a slow ack does not hold back
/// the pace), noting the send time on `clock`.
async fn paced<F, Fut>(events: &Arc<Vec<Event>>, rate: u64, clock: &Arc<Clock>, publish: F) -> anyhow::Result<()>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..events.len() {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        clock.sent(i);
        set.spawn(publish(i));
    }
    while let Some(r) = set.join_next().await {
        r.context("a publish task panicked")??;
    }
    Ok(())
}

/// Ours: `append` -> `read_group` -> `ack` on fresh streams of `replicas` replicas.
async fn latency_ours(url: &str, replicas: usize, events: Arc<Vec<Event>>, rate: u64) -> anyhow::Result<(f64, f64, f64)> {
    let mut config = NatsConfig::new(url, format!("bench_lat_{}", uuid::Uuid::new_v4().simple()));
    config.replicas = replicas;
    let log = Arc::new(NatsLog::connect(config).await.with_context(|| format!("cannot reach NATS at {url}"))?);
    let group: GroupName = "bench_latency".parse()?;
    let consumer: ConsumerName = "bench".parse()?;
    log.ensure_group(&group, &StartFrom::Beginning).await.context("cannot create the consumer group")?;
    let clock = Clock::new(&events)?;
    let n = events.len();
    let reader = {
        let (log, clock) = (log.clone(), clock.clone());
        tokio::spawn(async move {
            let (mut seen, deadline) = (0, Instant::now() + Duration::from_secs_f64(n as f64 / rate as f64) + DRAIN);
            while seen < n && Instant::now() < deadline {
                let batch = log.read_group(&group, &consumer, 100, Duration::from_millis(100)).await.context("read_group failed")?;
                let positions: Vec<_> = batch.iter().map(|d| d.record.position.clone()).collect();
                seen += batch.iter().filter(|d| d.record.event.as_ref().is_ok_and(|e| clock.arrived(e))).count();
                if !positions.is_empty() {
                    log.ack(&group, &positions).await.context("ack failed")?;
                }
            }
            anyhow::Ok(seen)
        })
    };
    let l = log.clone();
    let e = events.clone();
    paced(&events, rate, &clock, move |i| {
        let (log, events) = (l.clone(), e.clone());
        async move {
            log.append(std::slice::from_ref(&events[i])).await.context("append failed")?;
            Ok(())
        }
    })
    .await?;
    let seen = reader.await.context("the reader panicked")??;
    let _ = log.destroy().await;
    if seen < n {
        bail!("ours: only {seen} of {n} events reached the consumer within {DRAIN:?} after the last publish");
    }
    Ok(clock.summary())
}

/// Raw: `publish().await?.await?` -> a durable pull consumer's message stream -> `ack`, on a fresh file
/// stream of `replicas` replicas.
async fn latency_raw(url: &str, replicas: usize, events: Arc<Vec<Event>>, rate: u64) -> anyhow::Result<(f64, f64, f64)> {
    use async_nats::jetstream::{consumer, stream};
    let client = super::nats::raw_connect(url).await?;
    let js = async_nats::jetstream::new(client);
    let name = format!("bench_raw_lat_{}", uuid::Uuid::new_v4().simple());
    let subject = format!("{name}.events");
    let s = js
        .create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            storage: stream::StorageType::File,
            num_replicas: replicas,
            ..Default::default()
        })
        .await
        .context("cannot create the raw benchmark stream")?;
    let c = s
        .create_consumer(consumer::pull::Config {
            durable_name: Some("bench".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .context("cannot create the raw consumer")?;
    let clock = Clock::new(&events)?;
    let n = events.len();
    let mut messages = c.messages().await.context("cannot start the raw consumer's stream")?;
    let reader = {
        let clock = clock.clone();
        tokio::spawn(async move {
            let (mut seen, deadline) = (0, Instant::now() + Duration::from_secs_f64(n as f64 / rate as f64) + DRAIN);
            while seen < n {
                let left = deadline.saturating_duration_since(Instant::now());
                let Ok(Some(m)) = tokio::time::timeout(left, messages.next()).await else { break };
                let m = m.map_err(|e| anyhow::anyhow!("raw consumer: {e}"))?;
                let event: Event = serde_json::from_slice(&m.payload).context("raw consumer: not an event")?;
                if clock.arrived(&event) {
                    seen += 1;
                }
                m.ack().await.map_err(|e| anyhow::anyhow!("raw ack: {e}"))?;
            }
            anyhow::Ok(seen)
        })
    };
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(events.iter().map(Event::to_json_vec).collect());
    let j = js.clone();
    paced(&events, rate, &clock, move |i| {
        let (js, bodies, subject) = (j.clone(), bodies.clone(), subject.clone());
        async move {
            js.publish(subject, bodies[i].clone().into()).await.context("raw publish failed")?.await.context("raw publish ack failed")?;
            Ok(())
        }
    })
    .await?;
    let seen = reader.await.context("the raw reader panicked")??;
    let _ = js.delete_stream(&name).await;
    if seen < n {
        bail!("raw: only {seen} of {n} events reached the consumer within {DRAIN:?} after the last publish");
    }
    Ok(clock.summary())
}

/// Runs the comparison.
///
/// # Errors
/// Invalid arguments, `nats-server` missing, or a failed measurement.
pub(super) async fn measure(a: &BenchArgs) -> anyhow::Result<Output> {
    if a.events == 0 || a.runs == 0 || a.publishers.is_empty() || a.publishers.contains(&0) || a.nats_rate == 0 {
        bail!("--events, --runs, --nats-rate and every --publishers value must be at least 1");
    }
    let (mut publish, mut latency) = (Vec::new(), Vec::new());
    for (topology, size, replicas) in [("single node", 1, 1), ("3-node cluster", 3, 3)] {
        eprintln!("nats-cluster: starting a private {topology} (nats-server on loopback ports)");
        let Some(servers) = NatsCluster::start(size).await else {
            bail!("nats-server is not installed (apt-get install nats-server); the cluster benchmark starts its own servers");
        };
        let url = servers.url();
        for &p in &a.publishers {
            let (mut ours, mut base) = (Vec::new(), Vec::new());
            for run in 0..a.runs {
                eprintln!("nats-cluster, {topology} R{replicas}, {p} publishers: run {} of {}", run + 1, a.runs);
                for ours_first in [run % 2 == 0, run % 2 != 0] {
                    let events = Arc::new(bench_events::<TaskCreated>(a.events)?);
                    if ours_first {
                        ours.push(measure_ours(&url, replicas, events, p).await?);
                    } else {
                        base.push(measure_raw(&url, replicas, events, p).await?);
                    }
                }
            }
            let (ours, base) = (median(ours), median(base));
            publish.push(PublishRow {
                topology,
                replicas,
                publishers: p,
                events: a.events,
                events_per_sec: ours,
                baseline_events_per_sec: base,
                ratio: ours / base,
            });
        }
        // Latency: at most 10 s of the paced rate, so the run stays short.
        let n = a.events.min(usize::try_from(a.nats_rate.saturating_mul(10)).unwrap_or(usize::MAX));
        eprintln!("nats-cluster, {topology} R{replicas}: end-to-end latency, {n} events at {} ev/s", a.nats_rate);
        let ours = latency_ours(&url, replicas, Arc::new(bench_events::<TaskCreated>(n)?), a.nats_rate).await?;
        let raw = latency_raw(&url, replicas, Arc::new(bench_events::<TaskCreated>(n)?), a.nats_rate).await?;
        latency.push(LatencyRow {
            topology,
            replicas,
            rate_per_sec: a.nats_rate,
            events: n,
            p50_ms: ours.0,
            p99_ms: ours.1,
            max_ms: ours.2,
            baseline_p50_ms: raw.0,
            baseline_p99_ms: raw.1,
            baseline_max_ms: raw.2,
        });
    }
    // The cluster's cost: its throughput over the single node's, ours and raw, at each concurrency.
    let cost: Vec<serde_json::Value> = a
        .publishers
        .iter()
        .filter_map(|&p| {
            let single = publish.iter().find(|r| r.replicas == 1 && r.publishers == p)?;
            let cluster = publish.iter().find(|r| r.replicas == 3 && r.publishers == p)?;
            Some(json!({
                "publishers": p,
                "ours_cluster_over_single": cluster.events_per_sec / single.events_per_sec,
                "raw_cluster_over_single": cluster.baseline_events_per_sec / single.baseline_events_per_sec,
            }))
        })
        .collect();
    let sections = vec![
        Section {
            caption: format!(
                "nats: publish throughput on a private single node (R1) and a 3-node cluster (R3), median of {} runs; baseline = raw \
                 async-nats JetStream publish (publish().await?.await?) of the same bodies at the same concurrency on a stream of the same \
                 replication",
                a.runs
            ),
            header: svec!["topology", "publishers", "events", "ours (events/s)", "raw async-nats (events/s)", "ratio"],
            rows: publish
                .iter()
                .map(|r| {
                    vec![
                        format!("{} R{}", r.topology, r.replicas),
                        r.publishers.to_string(),
                        r.events.to_string(),
                        per_sec(r.events_per_sec),
                        per_sec(r.baseline_events_per_sec),
                        ratio(r.ratio),
                    ]
                })
                .collect(),
        },
        Section {
            caption: "nats: what the cluster costs, throughput of the 3-node R3 cluster over the single node, ours and raw".into(),
            header: svec!["publishers", "ours: cluster / single", "raw: cluster / single"],
            rows: cost
                .iter()
                .map(|c| {
                    vec![
                        c["publishers"].to_string(),
                        ratio(c["ours_cluster_over_single"].as_f64().unwrap_or(0.0)),
                        ratio(c["raw_cluster_over_single"].as_f64().unwrap_or(0.0)),
                    ]
                })
                .collect(),
        },
        Section {
            caption: "nats: end-to-end latency at a paced rate, publish call to the consumer holding the event (ms); ours = append -> \
                      read_group -> ack, raw = publish -> durable pull consumer stream -> ack"
                .into(),
            header: svec!["topology", "rate (ev/s)", "events", "ours p50", "ours p99", "ours max", "raw p50", "raw p99", "raw max"],
            rows: latency
                .iter()
                .map(|r| {
                    vec![
                        format!("{} R{}", r.topology, r.replicas),
                        r.rate_per_sec.to_string(),
                        r.events.to_string(),
                        ms(r.p50_ms),
                        ms(r.p99_ms),
                        ms(r.max_ms),
                        ms(r.baseline_p50_ms),
                        ms(r.baseline_p99_ms),
                        ms(r.baseline_max_ms),
                    ]
                })
                .collect(),
        },
    ];
    Ok(Output { json: json!({"runs": a.runs, "publish": publish, "cluster_cost": cost, "latency": latency}), sections })
}
