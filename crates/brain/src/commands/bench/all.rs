//! `brain bench --all`: every scenario in one run, with the machine, the commit and the goals table
//! (each goal: figure, baseline, ratio, goal, met or missed). With `--json` the whole run is one
//! document, which `brain bench report` turns into docs/BENCHMARKS.md and plots. A scenario whose
//! service is unreachable is recorded with its error; the others still run.

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Output, Section, print_report};
use crate::cli::BenchArgs;

/// The default event count of the soak in `--all`.
const DEFAULT_SOAK_EVENTS: usize = 1_000_000;

/// A service URL: the flag, else the test environment variable, else the default local address.
fn url(flag: Option<&String>, env: &str, default: &str) -> String {
    flag.cloned().or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty())).unwrap_or_else(|| default.to_owned())
}

/// The Redis URL `--all` uses.
fn redis_url(a: &BenchArgs) -> String {
    url(a.log.redis_url.as_ref(), "BRAIN_TEST_REDIS_URL", "redis://127.0.0.1:6379")
}

/// The PostgreSQL URL `--all` uses.
fn pg_url(a: &BenchArgs) -> String {
    url(a.pg_url.as_ref(), "BRAIN_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
}

/// The NATS URL of `--nats` and `--all`.
pub(super) fn nats_url(a: &BenchArgs) -> String {
    url(a.log.nats_url.as_ref(), "BRAIN_TEST_NATS_URL", "nats://127.0.0.1:4222")
}

/// The machine: cores, CPU model, memory, kernel.
fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".to_owned(), |(_, m)| m.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gb = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned();
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    json!({"cores": cores, "cpu_model": model, "memory_gb": (mem_gb * 10.0).round() / 10.0, "kernel": kernel})
}

/// The commit measured: `BRAIN_BENCH_COMMIT`, else `git rev-parse --short HEAD`, else "unknown".
fn commit() -> String {
    if let Ok(c) = std::env::var("BRAIN_BENCH_COMMIT")
        && !c.is_empty()
    {
        return c;
    }
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(|| "unknown".to_owned(), |o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

/// One row of the goals table.
#[derive(Debug, Serialize)]
pub(crate) struct Goal {
    /// What is measured.
    pub(crate) what: String,
    /// Our figure, formatted.
    pub(crate) figure: String,
    /// The baseline from the same run, formatted ("—" when the goal is absolute).
    pub(crate) baseline: String,
    /// Figure / baseline, formatted ("—" when there is none).
    pub(crate) ratio: String,
    /// The goal.
    pub(crate) goal: String,
    /// Whether it was met; `None` when not measured.
    pub(crate) met: Option<bool>,
}

fn num(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_f64()
}

fn rows<'a>(v: &'a Value, scenario: &str, key: &str) -> Vec<&'a Value> {
    v.get(scenario)
        .and_then(|s| s.get("data"))
        .and_then(|d| d.get(key))
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn eps(x: f64) -> String {
    let s = format!("{x:.0}");
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out} ev/s")
}

fn missing(what: &str, goal: &str) -> Goal {
    Goal {
        what: what.to_owned(), figure: "not measured".into(), baseline: "—".into(), ratio: "—".into(), goal: goal.to_owned(), met: None
    }
}

/// The goals of issue 15 from the scenarios' figures.
pub(crate) fn goals(s: &Value) -> Vec<Goal> {
    let mut out = Vec::new();
    // Embedded, 1 publisher.
    let what = "Embedded append, 1 publisher, fsync on";
    let goal = ">= 1.0x raw SQLite insert+commit";
    out.push(match rows(s, "embedded", "results").into_iter().find(|r| num(r, &["publishers"]) == Some(1.0)) {
        Some(r) => {
            let (f, b) = (num(r, &["events_per_sec"]).unwrap_or(0.0), num(r, &["baseline_events_per_sec"]).unwrap_or(0.0));
            Goal {
                what: what.into(),
                figure: eps(f),
                baseline: eps(b),
                ratio: format!("{:.2}x", f / b),
                goal: goal.into(),
                met: Some(f / b >= 1.0),
            }
        }
        None => missing(what, goal),
    });
    // Embedded batched: the best batch size.
    let what = "Embedded append, batched, fsync on";
    let goal = ">= 200,000 ev/s";
    out.push(
        match rows(s, "embedded", "batched")
            .into_iter()
            .max_by(|a, b| num(a, &["events_per_sec"]).unwrap_or(0.0).total_cmp(&num(b, &["events_per_sec"]).unwrap_or(0.0)))
        {
            Some(r) => {
                let (f, b) = (num(r, &["events_per_sec"]).unwrap_or(0.0), num(r, &["baseline_events_per_sec"]).unwrap_or(0.0));
                let batch = num(r, &["batch"]).unwrap_or(0.0);
                Goal {
                    what: format!("{what} ({batch:.0} per call)"),
                    figure: eps(f),
                    baseline: format!("{} (raw, one connection)", eps(b)),
                    ratio: format!("{:.2}x", f / b),
                    goal: goal.into(),
                    met: Some(f >= 200_000.0),
                }
            }
            None => missing(what, goal),
        },
    );
    // Redis batch vs MULTI/EXEC.
    let what = "Redis `publish_batch` of 100";
    let goal = ">= 0.95x raw pipelined MULTI/EXEC";
    out.push(
        match rows(s, "redis", "throughput")
            .into_iter()
            .find(|r| r.get("baseline").and_then(Value::as_str) == Some("pipelined MULTI/EXEC XADD"))
        {
            Some(r) => {
                let (f, b) = (num(r, &["events_per_sec"]).unwrap_or(0.0), num(r, &["baseline_events_per_sec"]).unwrap_or(0.0));
                Goal {
                    what: what.into(),
                    figure: eps(f),
                    baseline: eps(b),
                    ratio: format!("{:.2}x", f / b),
                    goal: goal.into(),
                    met: Some(f / b >= 0.95),
                }
            }
            None => missing(what, goal),
        },
    );
    // Consumers on PostgreSQL.
    let what = "Consumer with inbox dedup on PostgreSQL";
    let goal = ">= 50,000 ev/s and >= 0.8x the same rows inserted directly, same batching";
    out.push(match rows(s, "consumers", "results").into_iter().find(|r| r.get("store").and_then(Value::as_str) == Some("postgres")) {
        Some(r) => {
            let (f, b) = (num(r, &["events_per_sec"]).unwrap_or(0.0), num(r, &["baseline_events_per_sec"]).unwrap_or(0.0));
            Goal {
                what: what.into(),
                figure: eps(f),
                baseline: eps(b),
                ratio: format!("{:.2}x", f / b),
                goal: goal.into(),
                met: Some(f >= 50_000.0 && f / b >= 0.8),
            }
        }
        None => missing(what, goal),
    });
    // End-to-end latency.
    let what = "Redis publish -> handler at a paced 10,000 ev/s, real inbox";
    let goal = "p99 <= 5 ms";
    out.push(match rows(s, "redis", "latency").into_iter().find(|r| num(r, &["rate_per_sec"]) == Some(10_000.0)) {
        Some(r) => {
            let p99 = num(r, &["p99_ms"]).unwrap_or(f64::MAX);
            let inbox =
                s.get("redis").and_then(|x| x.get("data")).and_then(|d| d.get("latency_inbox")).and_then(Value::as_str).unwrap_or("?");
            Goal {
                what: format!("{what} ({inbox})"),
                figure: format!("p99 {p99:.2} ms (p50 {:.2} ms)", num(r, &["p50_ms"]).unwrap_or(0.0)),
                baseline: "—".into(),
                ratio: "—".into(),
                goal: goal.into(),
                met: Some(p99 <= 5.0),
            }
        }
        None => missing(what, goal),
    });
    // Emit.
    let what = "`emit` caller cost, paced 10,000 ev/s";
    let goal = "p99 <= 5 µs";
    out.push(match rows(s, "emit", "results").into_iter().find(|r| r.get("load").and_then(Value::as_str) == Some("paced")) {
        Some(r) => {
            let (p99, b99) = (num(r, &["p99_us"]).unwrap_or(f64::MAX), num(r, &["baseline_p99_us"]).unwrap_or(0.0));
            Goal {
                what: what.into(),
                figure: format!("p99 {p99:.2} µs"),
                baseline: format!("p99 {b99:.2} µs (bare channel send)"),
                ratio: format!("{:.2}x", p99 / b99.max(1e-9)),
                goal: goal.into(),
                met: Some(p99 <= 5.0),
            }
        }
        None => missing(what, goal),
    });
    // RSS.
    let what = "`brain serve` RSS at steady load";
    let goal = "<= 64 MB after 1M events, no growth over the last half";
    out.push(match s.get("soak").and_then(|x| x.get("data")).and_then(|d| d.get("soak")) {
        Some(r) => {
            let (rss, peak, growth, n) = (
                num(r, &["final_rss_mb"]).unwrap_or(f64::MAX),
                num(r, &["peak_rss_mb"]).unwrap_or(f64::MAX),
                num(r, &["second_half_growth_bytes_per_100k_events"]).unwrap_or(f64::MAX),
                num(r, &["events"]).unwrap_or(0.0),
            );
            // "No growth": less than 1 MB over the whole second half.
            let half_growth_mb = growth * (n / 2.0) / 100_000.0 / 1_048_576.0;
            Goal {
                what: format!("{what} ({n:.0} events)"),
                figure: format!("{rss:.1} MB at the end (peak {peak:.1} MB); 2nd half {half_growth_mb:+.1} MB"),
                baseline: "—".into(),
                ratio: "—".into(),
                goal: goal.into(),
                met: Some(rss <= 64.0 && half_growth_mb < 1.0 && n >= 1_000_000.0),
            }
        }
        None => missing(what, goal),
    });
    // NATS: the worst ratio over the concurrencies.
    let what = "NATS publish vs raw async-nats JetStream, equal concurrency";
    let goal = ">= 0.9x";
    let nats = rows(s, "nats", "results");
    out.push(if nats.is_empty() {
        missing(what, goal)
    } else {
        let worst = nats.iter().min_by(|a, b| num(a, &["ratio"]).unwrap_or(0.0).total_cmp(&num(b, &["ratio"]).unwrap_or(0.0))).copied();
        let r = worst.unwrap_or(nats[0]);
        let (f, b) = (num(r, &["events_per_sec"]).unwrap_or(0.0), num(r, &["baseline_events_per_sec"]).unwrap_or(0.0));
        Goal {
            what: format!("{what} (worst: {:.0} publishers)", num(r, &["publishers"]).unwrap_or(0.0)),
            figure: eps(f),
            baseline: eps(b),
            ratio: format!("{:.2}x", f / b),
            goal: goal.into(),
            met: Some(nats.iter().all(|r| num(r, &["ratio"]).unwrap_or(0.0) >= 0.9)),
        }
    });
    // History.
    let what = "`/metrics`, `/api/stats`, lag: cost vs history";
    let goal = "independent of events ever processed";
    let hist = rows(s, "history", "results");
    out.push(if hist.is_empty() {
        missing(what, goal)
    } else {
        let worst = hist.iter().map(|r| num(r, &["growth"]).unwrap_or(f64::MAX)).fold(0.0, f64::max);
        let scan = hist.iter().filter_map(|r| num(r, &["scan_ms"])).fold(0.0, f64::max);
        let events = s.get("history").and_then(|x| x.get("data")).and_then(|d| num(d, &["history_events"])).unwrap_or(0.0);
        Goal {
            what: format!("{what} (0 vs {events:.0} events)"),
            figure: format!("worst growth {worst:.2}x"),
            baseline: format!("former GROUP BY scan: {scan:.1} ms"),
            ratio: "—".into(),
            goal: goal.into(),
            // Timing noise on a shared machine: within 2x of the empty read counts as flat.
            met: Some(worst <= 2.0),
        }
    });
    out
}

/// The goals as a printed table.
pub(crate) fn goals_section(goals: &[Goal]) -> Section {
    Section {
        caption: "goals (issue 15)".into(),
        header: svec!["what", "figure", "baseline (same run)", "ratio", "goal", ""],
        rows: goals
            .iter()
            .map(|g| {
                let met = match g.met {
                    Some(true) => "met",
                    Some(false) => "missed",
                    None => "not measured",
                };
                vec![g.what.clone(), g.figure.clone(), g.baseline.clone(), g.ratio.clone(), g.goal.clone(), met.to_owned()]
            })
            .collect(),
    }
}

/// Runs one scenario, recording its output or its error.
fn record(doc: &mut serde_json::Map<String, Value>, sections: &mut Vec<Section>, name: &str, r: anyhow::Result<Output>) {
    match r {
        Ok(o) => {
            doc.insert(name.to_owned(), json!({"data": o.json, "tables": o.sections}));
            sections.extend(o.sections);
        }
        Err(e) => {
            eprintln!("{name}: FAILED: {e:#}");
            doc.insert(name.to_owned(), json!({"error": format!("{e:#}")}));
        }
    }
}

/// The soak in a process of its own (`brain bench --soak N --json`), so its RSS is not the memory the
/// earlier scenarios left in this process.
async fn soak_in_child(events: usize) -> anyhow::Result<Output> {
    let exe = std::env::current_exe().context("cannot find this executable to run the soak")?;
    let out = tokio::process::Command::new(exe)
        .args(["bench", "--soak", &events.to_string(), "--json"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .context("cannot start the soak's process")?;
    if !out.status.success() {
        bail!("the soak's process failed ({})", out.status);
    }
    super::soak::output(serde_json::from_slice(&out.stdout).context("the soak's process printed no JSON document")?)
}

/// Runs every scenario.
///
/// # Errors
/// Only when the document cannot be printed; a failed scenario is recorded in it.
pub(super) async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let started = chrono::Utc::now();
    let (redis, pg, nats) = (redis_url(a), pg_url(a), nats_url(a));
    let mut scenarios = serde_json::Map::new();
    let mut sections = Vec::new();
    eprintln!("bench --all: embedded");
    record(&mut scenarios, &mut sections, "embedded", super::embedded::measure(a).await);
    eprintln!("bench --all: consumers (SQLite, PostgreSQL at {})", crate::backend::redact(&pg));
    let mut c = a.clone();
    c.pg_url = Some(pg.clone());
    record(&mut scenarios, &mut sections, "consumers", super::consumers::measure(&c).await);
    eprintln!("bench --all: redis at {}", crate::backend::redact(&redis));
    record(&mut scenarios, &mut sections, "redis", super::redis::measure(&c, &redis).await);
    eprintln!("bench --all: emit");
    record(&mut scenarios, &mut sections, "emit", super::emit::measure(a).await);
    eprintln!("bench --all: nats at {nats}");
    record(&mut scenarios, &mut sections, "nats", super::nats::measure(a, &nats).await);
    eprintln!("bench --all: nats cluster (private nats-server processes)");
    record(&mut scenarios, &mut sections, "nats_cluster", super::nats_cluster::measure(a).await);
    eprintln!("bench --all: audit log ({} rows)", a.audit_rows);
    record(&mut scenarios, &mut sections, "audit", super::audit::measure(a).await);
    eprintln!("bench --all: history");
    record(&mut scenarios, &mut sections, "history", super::history::measure(&c).await);
    let soak = a.soak.unwrap_or(DEFAULT_SOAK_EVENTS);
    eprintln!("bench --all: soak of {soak} events");
    record(&mut scenarios, &mut sections, "soak", soak_in_child(soak).await);
    let scenarios = Value::Object(scenarios);
    let goals = goals(&scenarios);
    let goals_table = goals_section(&goals);
    let doc = json!({
        "generated_at": started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "finished_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "commit": commit(),
        "machine": machine(),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "args": {"events": a.events, "runs": a.runs, "publishers": a.publishers, "concurrency": a.concurrency, "soak": soak},
        "goals": goals,
        "scenarios": scenarios,
    });
    let mut all = vec![goals_table];
    all.extend(sections);
    print_report(a.json, &doc, all)
}
