//! `brain bench --audit`: the verifiable audit log on SQLite, against its goals (issue 13) and, where
//! one applies, a baseline measured in the same run:
//!
//! - hashing CPU per event: canonical JSON + leaf hash + chain hash + tree nodes, vs a raw SHA-256 of
//!   the same bytes (goal <= 5 us);
//! - append-to-checkpoint p99: each event appended in its own transaction (as the subscriber does) with
//!   the checkpointer running, until a signed checkpoint covers it (goal <= 2 s);
//! - `verify --full` over `--audit-rows` rows (default 1M; goal <= 3 s), rows bulk-loaded with a
//!   checkpoint every 1,000 rows as the checkpointer writes them under load;
//! - incremental verify of 10k new rows after that (goal <= 50 ms).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use brain_events::task::TaskCreated;
use eventstream_core::Event;
use eventstream_sql::StateStore;
use eventstream_system::audit::merkle::{Frontier, leaf_hash};
use eventstream_system::audit::{AuditConfig, AuditLog, Checkpoint, append_batch, canonical_bytes};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::{Output, Section, bench_events, median, ms, progress, ratio};
use crate::cli::BenchArgs;

/// Rows appended after the full verify, then verified incrementally.
const INCREMENTAL_ROWS: usize = 10_000;
/// Events of the append-to-checkpoint measurement.
const LATENCY_EVENTS: usize = 3_000;
/// Rows per bulk-load transaction (and per generated chunk).
const LOAD_CHUNK: usize = 1_000;

/// Runs the audit benchmark.
///
/// # Errors
/// The temporary store cannot be created or a measurement fails.
pub(super) async fn measure(a: &BenchArgs) -> anyhow::Result<Output> {
    let base = match &a.dir {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .context("cannot create the benchmark directory")?;

    let (audit_us, json_us, raw_us) = hashing(a.events.max(10_000), a.runs.max(1))?;
    let p99 = append_to_checkpoint(&base.path().join("latency")).await?;
    let (full_s, incr_ms, rows) = verify(&base.path().join("verify"), a.audit_rows).await?;

    let goal = |ok: bool| if ok { "met".to_owned() } else { "MISSED".to_owned() };
    let rows_out = vec![
        vec![
            "audit hashing per event (leaf + chain + tree nodes)".into(),
            format!("{audit_us:.3} us"),
            format!("{raw_us:.3} us"),
            ratio(audit_us / raw_us),
            "<= 5 us".into(),
            goal(audit_us <= 5.0),
        ],
        vec![
            "canonical JSON + audit hashing per event".into(),
            format!("{json_us:.3} us"),
            format!("{raw_us:.3} us"),
            ratio(json_us / raw_us),
            "<= 5 us".into(),
            goal(json_us <= 5.0),
        ],
        vec![
            "append to signed checkpoint, p99".into(),
            format!("{} ms", ms(p99 * 1e3)),
            "-".into(),
            "-".into(),
            "<= 2 s".into(),
            goal(p99 <= 2.0),
        ],
        vec![
            format!("verify --full over {rows} rows"),
            format!("{full_s:.2} s"),
            "-".into(),
            "-".into(),
            "<= 3 s".into(),
            goal(full_s <= 3.0),
        ],
        vec![
            format!("incremental verify of {INCREMENTAL_ROWS} new rows"),
            format!("{} ms", ms(incr_ms)),
            "-".into(),
            "-".into(),
            "<= 50 ms".into(),
            goal(incr_ms <= 50.0),
        ],
    ];
    let doc = json!({
        "hashing_us_per_event": audit_us,
        "json_and_hashing_us_per_event": json_us,
        "baseline_sha256_us_per_event": raw_us,
        "hashing_ratio": audit_us / raw_us,
        "append_to_checkpoint_p99_s": p99,
        "verify_full_rows": rows,
        "verify_full_s": full_s,
        "verify_incremental_rows": INCREMENTAL_ROWS,
        "verify_incremental_ms": incr_ms,
    });
    let caption = "audit log on SQLite (baseline: one SHA-256 of the same canonical bytes, same run)".to_owned();
    let header = svec!["measurement", "audit log", "baseline", "ratio", "goal", ""];
    Ok(Output { json: doc, sections: vec![Section { caption, header, rows: rows_out }] })
}

/// Microseconds per event: audit hashing of pre-serialised bytes, serialisation plus hashing, and the
/// raw SHA-256 baseline; the median of `runs`.
fn hashing(n: usize, runs: usize) -> anyhow::Result<(f64, f64, f64)> {
    let events = bench_events::<TaskCreated>(n)?;
    let bytes: Vec<Vec<u8>> = events.iter().map(canonical_bytes).collect();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    let (mut audit, mut full, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let mut sink = 0u8;
        for b in &bytes {
            sink ^= Sha256::digest(b)[0];
        }
        raw.push(per(t.elapsed()));
        let t = Instant::now();
        sink ^= audit_hash(bytes.iter().map(Vec::as_slice));
        audit.push(per(t.elapsed()));
        let t = Instant::now();
        let mut f = Frontier::new();
        let mut prev = [0u8; 32];
        for e in &events {
            let b = canonical_bytes(e);
            let leaf = leaf_hash(&b);
            prev = Sha256::new().chain_update(prev).chain_update(leaf).finalize().into();
            f.push(leaf);
        }
        sink ^= prev[0] ^ f.root()[0];
        full.push(per(t.elapsed()));
        std::hint::black_box(sink);
    }
    Ok((median(audit), median(full), median(raw)))
}

/// What the audit log computes per appended row: the leaf hash, the chain hash, the tree's new nodes.
fn audit_hash<'a>(rows: impl Iterator<Item = &'a [u8]>) -> u8 {
    let mut f = Frontier::new();
    let mut prev = [0u8; 32];
    for b in rows {
        let leaf = leaf_hash(b);
        prev = Sha256::new().chain_update(prev).chain_update(leaf).finalize().into();
        f.push(leaf);
    }
    prev[0] ^ f.root()[0]
}

async fn open(dir: &std::path::Path) -> anyhow::Result<AuditLog> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let store =
        StateStore::connect(&eventstream_sql::sqlite_url(&dir.join("state.db"))).await.context("cannot open the benchmark store")?;
    AuditLog::open(store, &AuditConfig::in_data_dir(dir)).await.context("cannot open the audit log")
}

/// Seconds from each event's commit to the first signed checkpoint that covers it: the p99.
async fn append_to_checkpoint(dir: &std::path::Path) -> anyhow::Result<f64> {
    let audit = open(dir).await?;
    let key = audit.verifier();
    let stop = CancellationToken::new();
    let checkpointer = audit.spawn_checkpointer(stop.clone());
    let events = bench_events::<TaskCreated>(LATENCY_EVENTS)?;
    let committed: Arc<std::sync::Mutex<Vec<Instant>>> = Arc::default();
    let done = CancellationToken::new();
    // Polls the latest checkpoint; each newly covered event gets its latency.
    let watcher = {
        let (audit, committed, done) = (audit.clone(), committed.clone(), done.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(LATENCY_EVENTS);
            let mut covered = 0usize;
            while covered < LATENCY_EVENTS {
                if let Ok(Some(note)) = audit.latest_checkpoint(None).await
                    && let Ok(cp) = Checkpoint::open(&note, &key)
                {
                    let now = Instant::now();
                    let times = committed.lock().map(|t| t.clone()).unwrap_or_default();
                    let upto = (cp.size as usize).min(times.len());
                    for t in times.iter().take(upto).skip(covered) {
                        latencies.push(now.duration_since(*t).as_secs_f64());
                    }
                    covered = covered.max(upto);
                }
                if done.is_cancelled() && covered >= LATENCY_EVENTS {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            latencies
        })
    };
    let bar = progress(LATENCY_EVENTS as u64);
    bar.set_message("append to checkpoint");
    for e in &events {
        let mut tx = audit.store().begin().await?;
        audit.append(&mut tx, e).await?;
        tx.commit().await?;
        if let Ok(mut t) = committed.lock() {
            t.push(Instant::now());
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    done.cancel();
    let mut latencies =
        tokio::time::timeout(Duration::from_secs(30), watcher).await.context("no checkpoint covered every event within 30 s")??;
    stop.cancel();
    let _ = checkpointer.await;
    latencies.sort_by(f64::total_cmp);
    Ok(latencies.get(latencies.len() * 99 / 100).copied().unwrap_or(0.0))
}

/// Bulk-loads `rows` rows with a checkpoint every [`LOAD_CHUNK`], times `verify --full`, appends
/// [`INCREMENTAL_ROWS`] more and times the incremental verify. Returns (seconds, milliseconds, rows).
async fn verify(dir: &std::path::Path, rows: usize) -> anyhow::Result<(f64, f64, usize)> {
    let audit = open(dir).await?;
    let bar = progress(rows as u64);
    bar.set_message("loading rows for verify");
    let mut loaded = 0;
    while loaded < rows {
        let n = LOAD_CHUNK.min(rows - loaded);
        load(&audit, n).await?;
        loaded += n;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    let t = Instant::now();
    let full = audit.verify(true).await?;
    let full_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(full.finding.is_none() && full.rows_checked == rows as u64, "the full verify did not pass: {full:?}");
    for _ in 0..INCREMENTAL_ROWS / LOAD_CHUNK {
        load(&audit, LOAD_CHUNK).await?;
    }
    let t = Instant::now();
    let incr = audit.verify(false).await?;
    let incr_ms = t.elapsed().as_secs_f64() * 1e3;
    anyhow::ensure!(
        incr.finding.is_none() && !incr.full && incr.rows_checked == INCREMENTAL_ROWS as u64,
        "the incremental verify did not pass: {incr:?}"
    );
    Ok((full_s, incr_ms, rows))
}

/// Appends `n` fresh events in one transaction, then signs checkpoints.
async fn load(audit: &AuditLog, n: usize) -> anyhow::Result<()> {
    let events: Vec<Event> = bench_events::<TaskCreated>(n)?;
    let mut tx = audit.store().begin().await?;
    append_batch(&mut tx, &events).await?;
    tx.commit().await?;
    audit.checkpoint_now().await?;
    Ok(())
}
