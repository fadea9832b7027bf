//! `brain bench`: performance measurements, each against a baseline measured in the same run, reported
//! as ratios (the machines are shared and noisy; absolute numbers alone mean little).
//!
//! - [`embedded`]: append throughput and append-to-read latency of the embedded log vs raw SQLite
//!   insert + commit per event, and batched appends vs one raw connection (the default).
//! - [`consumers`]: the consumer runtime with inbox dedup vs the same rows inserted directly with the
//!   same batching (`--consumers`).
//! - [`audit`]: the verifiable audit log's hashing, checkpoint latency and verify times against their
//!   goals, hashing vs raw SHA-256 (`--audit`).
//! - [`redis`]: `publish` / `publish_batch` vs raw pipelined `XADD` and raw `MULTI`/`EXEC`, and paced
//!   publish-to-handler latency with a real inbox (`--backend redis`).
//! - [`emit`]: the caller's cost of `emit`, call by call, vs a bare channel send (`--emit`).
//! - [`nats`]: `append` vs raw `async-nats` JetStream publish at equal concurrency (`--nats`).
//! - [`nats_cluster`]: the same on a private 3-node cluster (R3) vs a private single node, with
//!   end-to-end latency (`--nats-cluster`).
//! - [`soak`]: RSS and CPU per event of the `brain serve` application under steady load (`--soak N`).
//! - [`history`]: the cost of metrics and lag with an empty and a long history (`--history`).
//! - [`all`]: every scenario in one run with the goals table (`--all`); [`report`] turns that JSON into
//!   `docs/BENCHMARKS.md` with SVG plots (`brain bench report bench.json`).
//!
//! This module holds what they share: the event generator, the median, the progress bar and the report
//! printer (a table on stdout, or one JSON document with `--json`).

/// A `Vec<String>` from string literals (table headers).
macro_rules! svec {
    ($($x:expr),* $(,)?) => { vec![$(String::from($x)),*] };
}

mod all;
mod audit;
mod consumers;
mod embedded;
mod emit;
mod history;
mod nats;
mod nats_cluster;
mod redis;
pub(crate) mod report;
mod soak;

use brain_events::EventPayload;
use comfy_table::Table;
use eventstream_core::{Event, EventType, Source, TenantId};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

use crate::cli::{BenchAction, BenchArgs};

/// What one scenario measured: the JSON document and the tables printed for it.
pub(super) struct Output {
    /// The figures, as printed with `--json` (and kept by `--all`).
    pub(super) json: serde_json::Value,
    /// The tables.
    pub(super) sections: Vec<Section>,
}

/// Runs the benchmark the arguments select.
///
/// # Errors
/// Invalid arguments, an unreachable service or a failed measurement.
pub(crate) async fn run(a: BenchArgs) -> anyhow::Result<()> {
    if let Some(BenchAction::Report(r)) = &a.action {
        return report::run(r);
    }
    if a.all {
        return all::run(&a).await;
    }
    let out = if a.audit {
        audit::measure(&a).await?
    } else if a.consumers {
        consumers::measure(&a).await?
    } else if a.emit {
        emit::measure(&a).await?
    } else if a.nats_cluster {
        nats_cluster::measure(&a).await?
    } else if a.nats {
        nats::measure(&a, &all::nats_url(&a)).await?
    } else if a.history {
        history::measure(&a).await?
    } else if let Some(n) = a.soak {
        soak::measure(n).await?
    } else if let crate::config::LogSettings::Redis { url, .. } = crate::config::Settings::resolve(&a.log, None, None)?.log {
        redis::measure(&a, &url).await?
    } else {
        embedded::measure(&a).await?
    };
    print_report(a.json, &out.json, out.sections)
}

/// Points of a latency CDF from a histogram: (value in ms, quantile), `unit_ms` being the histogram's
/// unit in ms (0.001 for µs).
pub(super) fn cdf(h: &Histogram<u64>, unit_ms: f64) -> Vec<(f64, f64)> {
    let mut qs: Vec<f64> = (1..100).map(|i| f64::from(i) / 100.0).collect();
    qs.extend([0.995, 0.999, 1.0]);
    qs.into_iter().map(|q| (h.value_at_quantile(q) as f64 * unit_ms, q)).collect()
}

/// The median (the upper one for an even count).
pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The one event generator of every benchmark: `n` events of catalog type `P` with a payload of typical
/// size for a task event (`task_id`, a number, a note), tenant `bench`.
pub(super) fn bench_events<P: EventPayload>(n: usize) -> anyhow::Result<Vec<Event>> {
    let event_type: EventType = P::TYPE.parse()?;
    let source: Source = "bench".parse()?;
    let tenant: TenantId = "bench".parse()?;
    Ok((0..n)
        .map(|i| {
            let mut p = Map::new();
            p.insert("task_id".into(), json!(format!("task-{i}")));
            p.insert("priority".into(), json!(20));
            p.insert("duration_ms".into(), json!(i % 1000));
            p.insert("note".into(), json!("benchmark event with a payload of typical size for a task event"));
            let mut e = Event::new(event_type.clone(), source.clone(), p);
            e.tenant_id = Some(tenant.clone());
            e
        })
        .collect())
}

/// A progress bar of `steps` steps on stderr, in the style every benchmark uses.
pub(super) fn progress(steps: u64) -> ProgressBar {
    let bar = ProgressBar::new(steps);
    bar.set_style(ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar
}

/// One printed table of a report: a caption line, the header and the rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Section {
    /// What was measured and against which baseline, printed above the table.
    pub(crate) caption: String,
    /// Column names.
    pub(crate) header: Vec<String>,
    /// Rows, already formatted.
    pub(crate) rows: Vec<Vec<String>>,
}

/// Prints a report: with `--json` the document `json` alone on stdout, otherwise each section as a table.
///
/// # Errors
/// Only when `json` cannot be serialised.
pub(super) fn print_report(as_json: bool, json: &serde_json::Value, sections: Vec<Section>) -> anyhow::Result<()> {
    if as_json {
        println!("{}", serde_json::to_string_pretty(json)?);
        return Ok(());
    }
    for s in sections {
        let mut t = Table::new();
        t.set_header(&s.header);
        for r in s.rows {
            t.add_row(r);
        }
        println!("{}", s.caption);
        println!("{t}");
    }
    Ok(())
}

/// `x` events per second as printed in the tables.
pub(super) fn per_sec(x: f64) -> String {
    format!("{x:.0}")
}

/// A ratio as printed in the tables.
pub(super) fn ratio(x: f64) -> String {
    format!("{x:.2}x")
}

/// Milliseconds as printed in the tables.
pub(super) fn ms(x: f64) -> String {
    format!("{x:.2}")
}
