//! `brain bench --soak N`: memory and CPU of the `brain serve` application under steady load, measured
//! in-process by sampling `/proc/self` (Linux).
//!
//! The application is built exactly as `brain serve` builds it (embedded backend, SQLite state store, every
//! module and system subscriber, the HTTP server on a free loopback port) in a temp data dir. A publisher
//! appends `N` events in batches of [`BATCH`] through the application's own `EventStream`, holding the
//! subscribers' lag under [`MAX_LAG`] (steady state, not a backlog). Every [`SAMPLE_EVERY`] the
//! benchmark records RSS (`VmRSS`), peak RSS (`VmHWM`) and the process's CPU time (`utime + stime`).
//! Publishing stops after [`TIME_LIMIT`] at the latest (the report then says how many were published).
//! Reported: peak and final RSS, the RSS growth over the second half of the run (bytes per 100k events),
//! CPU time per event, and the samples (for the RSS-over-time plot).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use brain_events::EventPayload;
use brain_events::task::{LegacyPriority, TaskCreated};
use eventstream_core::{Event, EventType, Source};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Output, Section};
use crate::cli::LogArgs;

/// Events per `publish_batch` call.
const BATCH: usize = 100;
/// The most events the subscribers may be behind before the publisher waits.
const MAX_LAG: u64 = 20_000;
/// How often a sample is taken.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);
/// The longest the publishing phase runs; a soak that reaches it reports the events it published.
const TIME_LIMIT: Duration = Duration::from_secs(300);

/// One sample of the process.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Sample {
    /// Seconds since the load started.
    pub(super) t_s: f64,
    /// Events published so far.
    pub(super) events: u64,
    /// Resident set size, MB.
    pub(super) rss_mb: f64,
    /// Peak resident set size so far, MB.
    pub(super) hwm_mb: f64,
    /// CPU seconds (user + system) used by the process so far.
    pub(super) cpu_s: f64,
}

/// A `kB` field of `/proc/self/status`, in MB.
fn status_mb(status: &str, field: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU seconds (user + system) of this process from `/proc/self/stat` (clock ticks of 1/100 s, the
/// Linux default `CLK_TCK`).
fn cpu_seconds(stat: &str) -> Option<f64> {
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after `) state`.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// One sample now.
pub(super) fn sample(t_s: f64, events: u64) -> anyhow::Result<Sample> {
    let status = std::fs::read_to_string("/proc/self/status").context("cannot read /proc/self/status (Linux only)")?;
    let stat = std::fs::read_to_string("/proc/self/stat").context("cannot read /proc/self/stat")?;
    Ok(Sample {
        t_s,
        events,
        rss_mb: status_mb(&status, "VmRSS:").unwrap_or(0.0),
        hwm_mb: status_mb(&status, "VmHWM:").unwrap_or(0.0),
        cpu_s: cpu_seconds(&stat).unwrap_or(0.0),
    })
}

/// `n` valid `task.created` events (the catalog's payload), so every subscriber handles them normally.
fn soak_events(from: usize, n: usize) -> anyhow::Result<Vec<Event>> {
    let event_type: EventType = TaskCreated::TYPE.parse()?;
    let source: Source = "bench".parse()?;
    (from..from + n)
        .map(|i| {
            let payload = TaskCreated {
                task_id: format!("soak-{i}"),
                mission_type: "agent.chat".into(),
                priority: LegacyPriority::Normal,
                created_by: Some("bench".into()),
            };
            let serde_json::Value::Object(map) = serde_json::to_value(payload)? else { bail!("a payload is not an object") };
            let mut e = Event::new(event_type.clone(), source.clone(), map);
            e.tenant_id = Some("bench".parse()?);
            Ok(e)
        })
        .collect()
}

/// Least-squares slope of `rss_mb` over `events`, in bytes per 100k events.
fn slope_bytes_per_100k(samples: &[Sample]) -> f64 {
    let n = samples.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = samples.iter().map(|s| s.events as f64).sum::<f64>() / n;
    let my = samples.iter().map(|s| s.rss_mb).sum::<f64>() / n;
    let cov: f64 = samples.iter().map(|s| (s.events as f64 - mx) * (s.rss_mb - my)).sum();
    let var: f64 = samples.iter().map(|s| (s.events as f64 - mx).powi(2)).sum();
    if var == 0.0 { 0.0 } else { cov / var * 1024.0 * 1024.0 * 100_000.0 }
}

async fn run_soak(dir: &Path, total: usize) -> anyhow::Result<(Vec<Sample>, f64)> {
    let args = LogArgs {
        config: None,
        data_dir: Some(dir.to_path_buf()),
        backend: Some("embedded".into()),
        redis_url: None,
        nats_url: None,
        nats_replicas: None,
        stream: None,
        database: None,
    };
    let settings = crate::config::Settings::resolve(&args, Some("127.0.0.1"), Some(0))?;
    let backends = crate::backend::open_backends(&settings).await?;
    let app = brain_server::Application::build(settings.server(), backends, Vec::new()).await?;
    let events = app.events().clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stop_rx.await;
    }));
    let start = Instant::now();
    let mut samples = vec![sample(0.0, 0)?];
    let mut next_sample = start + SAMPLE_EVERY;
    let mut published = 0usize;
    while published < total && start.elapsed() < TIME_LIMIT {
        let n = BATCH.min(total - published);
        events.publish_batch(&soak_events(published, n)?).await.context("publish_batch failed")?;
        published += n;
        if published.is_multiple_of(BATCH * 10) {
            loop {
                let lag = events.log().groups().await?.iter().map(eventstream_core::GroupInfo::lag).max().unwrap_or(0);
                if lag <= MAX_LAG {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if Instant::now() >= next_sample {
            samples.push(sample(start.elapsed().as_secs_f64(), published as u64)?);
            next_sample += SAMPLE_EVERY;
        }
    }
    // Let the subscribers finish, then take the last sample.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let lag = events.log().groups().await?.iter().map(eventstream_core::GroupInfo::lag).max().unwrap_or(0);
        if lag == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("the subscribers are still {lag} events behind 300 s after the last publish");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    samples.push(sample(secs, published as u64)?);
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), server).await;
    Ok((samples, published as f64 / secs))
}

/// The soak's figures.
#[derive(Debug, Serialize)]
struct Report {
    events: usize,
    events_per_sec: f64,
    peak_rss_mb: f64,
    final_rss_mb: f64,
    second_half_growth_bytes_per_100k_events: f64,
    cpu_us_per_event: f64,
    samples: Vec<Sample>,
}

/// Runs the soak with `total` events.
///
/// # Errors
/// A non-Linux system, an application that fails to start, or subscribers that do not keep up.
pub(super) async fn measure(total: usize) -> anyhow::Result<Output> {
    if total == 0 {
        bail!("--soak needs at least 1 event");
    }
    let base = sample(0.0, 0)?;
    let dir = tempfile::tempdir().context("temp dir")?;
    let (samples, rate) = run_soak(dir.path(), total).await?;
    let last = samples.last().cloned().unwrap_or(base.clone());
    // The events actually published (fewer than asked when the time limit stopped the soak).
    let published = last.events as usize;
    let half: Vec<Sample> = samples.iter().filter(|s| s.events as f64 >= published as f64 / 2.0).cloned().collect();
    let report = Report {
        events: published,
        events_per_sec: rate,
        peak_rss_mb: last.hwm_mb,
        final_rss_mb: last.rss_mb,
        second_half_growth_bytes_per_100k_events: slope_bytes_per_100k(&half),
        cpu_us_per_event: (last.cpu_s - base.cpu_s) / published.max(1) as f64 * 1e6,
        samples,
    };
    output(json!({"soak": serde_json::to_value(&report)?}))
}

/// The soak's output from its JSON document (`{"soak": {...}}`), also when it was measured in a child
/// process (`brain bench --all` runs the soak in its own process, so the RSS is the soak's alone).
///
/// # Errors
/// A document without the soak's figures.
pub(super) fn output(doc: Value) -> anyhow::Result<Output> {
    let r = doc.get("soak").context("no `soak` object in the soak's output")?;
    let f = |k: &str| r.get(k).and_then(Value::as_f64).with_context(|| format!("the soak's output lacks `{k}`"));
    let published = f("events")?;
    let section = Section {
        caption: format!(
            "soak: the `brain serve` application in-process (embedded log, SQLite state store, every subscriber), {published:.0} events in \
             batches of {BATCH} with lag held under {MAX_LAG}; RSS and CPU from /proc/self"
        ),
        header: svec![
            "events",
            "events/s",
            "peak RSS (MB)",
            "final RSS (MB)",
            "growth, 2nd half (bytes/100k events)",
            "CPU per event (µs)"
        ],
        rows: vec![vec![
            format!("{published:.0}"),
            format!("{:.0}", f("events_per_sec")?),
            format!("{:.1}", f("peak_rss_mb")?),
            format!("{:.1}", f("final_rss_mb")?),
            format!("{:.0}", f("second_half_growth_bytes_per_100k_events")?),
            format!("{:.1}", f("cpu_us_per_event")?),
        ]],
    };
    Ok(Output { json: doc, sections: vec![section] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields_are_read() {
        let status = "Name:\tbrain\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_mb(status, "VmRSS:"), Some(10.0));
        assert_eq!(status_mb(status, "VmHWM:"), Some(20.0));
        let stat = "1234 (brain serve) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0";
        assert_eq!(cpu_seconds(stat), Some(3.0));
    }

    #[test]
    fn growth_is_the_slope_per_100k_events() {
        let s = |events: u64, rss_mb: f64| Sample { t_s: 0.0, events, rss_mb, hwm_mb: rss_mb, cpu_s: 0.0 };
        let flat = [s(0, 30.0), s(100_000, 30.0), s(200_000, 30.0)];
        assert_eq!(slope_bytes_per_100k(&flat), 0.0);
        let growing = [s(0, 30.0), s(100_000, 31.0), s(200_000, 32.0)];
        assert!((slope_bytes_per_100k(&growing) - 1_048_576.0).abs() < 1.0);
    }
}
