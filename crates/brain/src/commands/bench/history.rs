//! `brain bench --history`: whether what `/metrics`, `/api/stats` and the lag figures read costs the
//! same with a long history as with none. Each read is timed (median of [`READS`] calls) on an empty
//! store and again after [`HISTORY`] events were processed (inbox rows written through the runtime's
//! set-based insert) or appended and left undelivered (embedded lag). The baseline column is the query
//! the metrics ran before (`COUNT(*) ... GROUP BY` over the inbox), timed on the same long history.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use brain_events::task::TaskCompleted;
use eventstream_core::{EventLog, GroupName, Position, StartFrom};
use eventstream_sql::{ProcessedRecord, StateStore};
use serde::Serialize;
use serde_json::json;

use super::{Output, Section, bench_events, median};
use crate::cli::BenchArgs;

/// Calls timed per figure; the median is reported.
const READS: usize = 21;
/// Events of history.
pub(super) const HISTORY: usize = 200_000;

/// One read, empty vs long history.
#[derive(Debug, Serialize)]
struct Row {
    read: &'static str,
    empty_ms: f64,
    history_ms: f64,
    /// history / empty.
    growth: f64,
    /// The former full-scan query on the same long history, when there is one.
    scan_ms: Option<f64>,
}

async fn time_reads<F, Fut, T>(f: F) -> anyhow::Result<f64>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut v = Vec::with_capacity(READS);
    for _ in 0..READS {
        let t0 = Instant::now();
        f().await?;
        v.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median(v))
}

/// Writes `n` inbox rows for one subscriber, 1,000 per transaction.
async fn fill_inbox(store: &StateStore, n: usize) -> anyhow::Result<()> {
    let sub: GroupName = "history".parse()?;
    let mut next = 0usize;
    while next < n {
        let events = bench_events::<TaskCompleted>(1000.min(n - next))?;
        let recs: Vec<ProcessedRecord> = events
            .iter()
            .enumerate()
            .map(|(i, e)| Ok(ProcessedRecord::for_event(&sub, "bench", &Position::try_from((next + i + 1).to_string())?, e)))
            .collect::<anyhow::Result<_>>()?;
        let mut tx = store.begin().await?;
        tx.mark_processed_many(&recs).await?;
        tx.commit().await?;
        next += events.len();
    }
    Ok(())
}

async fn inbox_rows(store: &StateStore, label: &'static str) -> anyhow::Result<Row> {
    let counts = || async { store.processed_counts_by_type().await.context("processed counts") };
    let empty = time_reads(counts).await?;
    fill_inbox(store, HISTORY).await?;
    let history = time_reads(counts).await?;
    let scan =
        time_reads(|| async { eventstream_sql::baseline::processed_counts_by_scan(store).await.context("the former metrics query") })
            .await?;
    Ok(Row { read: label, empty_ms: empty, history_ms: history, growth: history / empty.max(1e-9), scan_ms: Some(scan) })
}

async fn embedded_lag() -> anyhow::Result<Row> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let log: Arc<dyn EventLog> = Arc::new(
        eventstream_embedded::EmbeddedLog::open(
            dir.path().to_path_buf(),
            eventstream_embedded::EmbeddedOptions { durability: eventstream_embedded::Durability::Normal, ..Default::default() },
        )
        .await?,
    );
    let group: GroupName = "history".parse()?;
    log.ensure_group(&group, &StartFrom::Beginning).await?;
    let info = || async { log.groups().await.context("groups") };
    let empty = time_reads(info).await?;
    let mut appended = 0;
    while appended < HISTORY {
        let batch = bench_events::<TaskCompleted>(1000.min(HISTORY - appended))?;
        log.append(&batch).await?;
        appended += batch.len();
    }
    let lag = log.group_info(&group).await?.lag();
    if lag != HISTORY as u64 {
        bail!("the group reports a lag of {lag}, expected {HISTORY}");
    }
    let history = time_reads(info).await?;
    Ok(Row { read: "embedded lag (groups())", empty_ms: empty, history_ms: history, growth: history / empty.max(1e-9), scan_ms: None })
}

/// Runs the history benchmark (SQLite, and PostgreSQL with `--pg-url`).
///
/// # Errors
/// A failed measurement.
pub(super) async fn measure(a: &BenchArgs) -> anyhow::Result<Output> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let sqlite = StateStore::connect(&eventstream_sql::sqlite_url(&dir.path().join("state.db"))).await?;
    let mut rows = vec![inbox_rows(&sqlite, "processed counts, SQLite (/metrics)").await?];
    if let Some(url) = &a.pg_url {
        let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let pg = StateStore::connect_with(url, eventstream_sql::StoreOptions::default().schema(schema.clone()))
            .await
            .with_context(|| format!("cannot connect to {}", crate::backend::redact(url)))?;
        let r = inbox_rows(&pg, "processed counts, PostgreSQL (/metrics)").await;
        let _ = eventstream_sql::baseline::drop_schema(&pg, &schema).await;
        rows.push(r?);
    }
    rows.push(embedded_lag().await?);
    let section = Section {
        caption: format!(
            "cost of metrics and lag reads with no history vs {HISTORY} events of history (median of {READS} reads); \"scan\" = the \
             former GROUP BY over the whole inbox on the same history"
        ),
        header: svec!["read", "empty (ms)", "long history (ms)", "growth", "former scan (ms)"],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.read.to_owned(),
                    format!("{:.3}", r.empty_ms),
                    format!("{:.3}", r.history_ms),
                    format!("{:.2}x", r.growth),
                    r.scan_ms.map_or_else(|| "—".to_owned(), |s| format!("{s:.3}")),
                ]
            })
            .collect(),
    };
    Ok(Output { json: json!({"history_events": HISTORY, "reads": READS, "results": rows}), sections: vec![section] })
}
