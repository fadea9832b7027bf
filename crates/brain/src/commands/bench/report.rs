//! `brain bench report bench.json`: turns one `brain bench --all --json` document into
//! `docs/BENCHMARKS.md` (machine, commit, the goals table, every scenario's tables) and SVG plots under
//! `docs/bench/` (throughput against publishers per backend, latency CDFs, RSS over the soak), drawn with
//! `plotters`' SVG backend. With `--readme`, the goals table also replaces the one between the
//! `<!-- bench:goals:begin -->` / `<!-- bench:goals:end -->` markers of the README.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail};
use plotters::prelude::*;
use serde_json::Value;

use super::Section;
use crate::cli::BenchReportArgs;

/// The README markers around the generated goals table.
const BEGIN: &str = "<!-- bench:goals:begin -->";
/// See [`BEGIN`].
const END: &str = "<!-- bench:goals:end -->";

/// Series colours, in order.
const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// One line of a plot.
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
    /// Drawn thin and light (baselines and secondary lines).
    dashed: bool,
}

fn plot_err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("cannot draw the plot: {e}")
}

/// Draws `series` into an SVG file with a log-scale x axis when `log_x`.
fn plot(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    log_x: bool,
    hline: Option<(f64, &str)>,
) -> anyhow::Result<()> {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (xmin, xmax) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let ymax = ys.fold(hline.map_or(0.0, |h| h.0), f64::max);
    if xmin > xmax {
        bail!("no points to plot for {title}");
    }
    let ymax = if ymax <= 0.0 { 1.0 } else { ymax * 1.1 };
    let root = SVGBackend::new(path, (860, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let mut builder = ChartBuilder::on(&root);
    builder.caption(title, ("sans-serif", 22)).margin(16).x_label_area_size(44).y_label_area_size(80);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw().map_err(plot_err)?;
            for (i, s) in series.iter().enumerate() {
                let colour = COLOURS[i % COLOURS.len()];
                // Baselines: a thin, lighter line; ours: a thick one.
                let style = if s.dashed {
                    ShapeStyle { color: colour.mix(0.55), filled: false, stroke_width: 1 }
                } else {
                    ShapeStyle { color: colour.to_rgba(), filled: false, stroke_width: 2 }
                };
                let line = chart.draw_series(LineSeries::new(s.points.clone(), style)).map_err(plot_err)?;
                line.label(s.name.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled()))).map_err(plot_err)?;
            }
            if let Some((y, label)) = hline {
                let style = ShapeStyle { color: BLACK.mix(0.6), filled: false, stroke_width: 1 };
                chart
                    .draw_series(std::iter::once(PathElement::new(vec![(xmin, y), (xmax, y)], style)))
                    .map_err(plot_err)?
                    .label(label.to_owned())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            }
            chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw().map_err(plot_err)?;
        }};
    }
    if log_x {
        let lo = (xmin * 0.8).max(f64::MIN_POSITIVE);
        draw!(builder.build_cartesian_2d((lo..xmax * 1.25).log_scale(), 0f64..ymax).map_err(plot_err)?);
    } else {
        draw!(builder.build_cartesian_2d(xmin..xmax.max(xmin + 1.0), 0f64..ymax).map_err(plot_err)?);
    }
    root.present().map_err(plot_err)?;
    Ok(())
}

fn rows<'a>(doc: &'a Value, scenario: &str, key: &str) -> Vec<&'a Value> {
    doc.pointer(&format!("/scenarios/{scenario}/data/{key}")).and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default()
}

fn f(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn points(v: &Value, key: &str) -> Vec<(f64, f64)> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?))).filter(|(x, _)| *x > 0.0).collect())
        .unwrap_or_default()
}

/// Throughput against publishers: ours and the baseline, per backend.
fn throughput_series(doc: &Value) -> Vec<Series> {
    let mut out = Vec::new();
    let mut add = |name: &str, dashed: bool, pts: Vec<(f64, f64)>| {
        if !pts.is_empty() {
            out.push(Series { name: name.to_owned(), points: pts, dashed });
        }
    };
    let emb = rows(doc, "embedded", "results");
    add("embedded (ours)", false, emb.iter().map(|r| (f(r, "publishers"), f(r, "events_per_sec"))).collect());
    add(
        "embedded baseline: raw SQLite commit per event",
        true,
        emb.iter().map(|r| (f(r, "publishers"), f(r, "baseline_events_per_sec"))).collect(),
    );
    let redis: Vec<&Value> =
        rows(doc, "redis", "throughput").into_iter().filter(|r| r.get("mode").and_then(Value::as_str) == Some("publish")).collect();
    add("redis publish (ours)", false, redis.iter().map(|r| (f(r, "publishers"), f(r, "events_per_sec"))).collect());
    add("redis baseline: raw XADD", true, redis.iter().map(|r| (f(r, "publishers"), f(r, "baseline_events_per_sec"))).collect());
    let nats = rows(doc, "nats", "results");
    add("nats append (ours)", false, nats.iter().map(|r| (f(r, "publishers"), f(r, "events_per_sec"))).collect());
    add("nats baseline: raw async-nats", true, nats.iter().map(|r| (f(r, "publishers"), f(r, "baseline_events_per_sec"))).collect());
    out
}

/// Latency CDFs: (ms, quantile) of every scenario that records one.
fn latency_series(doc: &Value) -> Vec<Series> {
    let mut out = Vec::new();
    for r in rows(doc, "embedded", "results") {
        out.push(Series {
            name: format!("embedded append→read, {} publishers", f(r, "publishers")),
            points: points(r, "cdf_ms"),
            dashed: false,
        });
    }
    for r in rows(doc, "redis", "latency") {
        out.push(Series {
            name: format!("redis publish→handler at {}/s", f(r, "rate_per_sec")),
            points: points(r, "cdf_ms"),
            dashed: false,
        });
    }
    for r in rows(doc, "consumers", "results") {
        let store = r.get("store").and_then(Value::as_str).unwrap_or("?");
        out.push(Series { name: format!("consumer handler→ack, {store}"), points: points(r, "cdf_ms"), dashed: false });
    }
    for r in rows(doc, "emit", "results") {
        let load = r.get("load").and_then(Value::as_str).unwrap_or("?");
        out.push(Series { name: format!("emit call, {load}"), points: points(r, "cdf_ms"), dashed: true });
    }
    out.retain(|s| !s.points.is_empty());
    // x = latency, y = quantile.
    out
}

/// RSS over the soak: (events published, MB).
fn rss_series(doc: &Value) -> Vec<Series> {
    let samples = doc.pointer("/scenarios/soak/data/soak/samples").and_then(Value::as_array).cloned().unwrap_or_default();
    let rss: Vec<(f64, f64)> = samples.iter().map(|s| (f(s, "events"), f(s, "rss_mb"))).collect();
    let hwm: Vec<(f64, f64)> = samples.iter().map(|s| (f(s, "events"), f(s, "hwm_mb"))).collect();
    if rss.is_empty() {
        return Vec::new();
    }
    vec![
        Series { name: "RSS (VmRSS)".into(), points: rss, dashed: false },
        Series { name: "peak RSS (VmHWM)".into(), points: hwm, dashed: true },
    ]
}

/// A Markdown table.
fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    let esc = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let _ = writeln!(out, "| {} |", header.iter().map(|h| esc(h)).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(out, "|{}|", header.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
    for r in rows {
        let _ = writeln!(out, "| {} |", r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | "));
    }
}

/// The goals table of the document, in Markdown.
fn goals_markdown(doc: &Value) -> String {
    let header: Vec<String> = ["What", "Figure", "Baseline (same run)", "Ratio", "Goal", ""].iter().map(|s| (*s).to_owned()).collect();
    let rows: Vec<Vec<String>> = doc
        .get("goals")
        .and_then(Value::as_array)
        .map(|goals| {
            goals
                .iter()
                .map(|g| {
                    let s = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                    let met = match g.get("met").and_then(Value::as_bool) {
                        Some(true) => "met",
                        Some(false) => "**missed**",
                        None => "not measured",
                    };
                    vec![s("what"), s("figure"), s("baseline"), s("ratio"), s("goal"), met.to_owned()]
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = String::new();
    table(&mut out, &header, &rows);
    out
}

/// The scenarios in the order they are reported, with their headings.
const SCENARIOS: [(&str, &str); 9] = [
    ("embedded", "Embedded log: append throughput, latency and batched appends"),
    ("consumers", "Consumer runtime with inbox dedup"),
    ("redis", "Redis backend"),
    ("emit", "`emit` caller cost"),
    ("nats", "NATS backend"),
    ("nats_cluster", "NATS: a 3-node R3 cluster against a single node"),
    ("audit", "Audit log: hashing, checkpoints, verification"),
    ("history", "Metrics and lag against history"),
    ("soak", "Soak: RSS and CPU of `brain serve`"),
];

/// Writes the Markdown report and the plots; returns the paths written.
///
/// # Errors
/// An unreadable or invalid document, or a file that cannot be written.
pub(crate) fn write(doc: &Value, out: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    if doc.get("scenarios").and_then(Value::as_object).is_none() {
        bail!("not a `brain bench --all --json` document: no `scenarios` object");
    }
    let plots_dir = out.join("bench");
    std::fs::create_dir_all(&plots_dir).with_context(|| format!("cannot create {}", plots_dir.display()))?;
    let mut written = Vec::new();
    let mut plots: Vec<(&str, &str)> = Vec::new();
    let tp = throughput_series(doc);
    if !tp.is_empty() {
        let p = plots_dir.join("throughput.svg");
        plot(&p, "Throughput against concurrent publishers", "publishers (log scale)", "events/s", &tp, true, None)?;
        written.push(p);
        plots.push(("throughput.svg", "Throughput against publishers per backend (thick: ours; thin: the baseline of the same run)"));
    }
    let lat = latency_series(doc);
    if !lat.is_empty() {
        let p = plots_dir.join("latency-cdf.svg");
        plot(&p, "Latency distributions (CDF)", "latency, ms (log scale)", "fraction of events at or below", &lat, true, None)?;
        written.push(p);
        plots.push(("latency-cdf.svg", "Latency CDFs: the fraction of events (y) at or below a latency (x)"));
    }
    let rss = rss_series(doc);
    if !rss.is_empty() {
        let p = plots_dir.join("rss.svg");
        plot(&p, "RSS of the brain serve application during the soak", "events published", "MB", &rss, false, Some((64.0, "goal: 64 MB")))?;
        written.push(p);
        plots.push(("rss.svg", "RSS over the soak, against events published (the line is the 64 MB goal)"));
    }

    let mut md = String::new();
    let s = |p: &str| doc.pointer(p).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).unwrap_or_else(|| "unknown".into());
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Generated by `brain bench --all --json > bench.json` and `brain bench report bench.json`; do not edit by hand.\n\
         Every figure is the median of the runs, and each ratio compares it with a baseline measured in the same run on the same\n\
         machine: the machine is shared and noisy, so read the ratios rather than the absolute numbers.\n"
    );
    let _ = writeln!(md, "- **Commit:** `{}` ({} build)", s("/commit"), s("/build"));
    let _ = writeln!(md, "- **Run:** {} to {}", s("/generated_at"), s("/finished_at"));
    let _ = writeln!(
        md,
        "- **Machine:** {} cores, {}, {} GB memory, Linux {}",
        s("/machine/cores"),
        s("/machine/cpu_model"),
        s("/machine/memory_gb"),
        s("/machine/kernel")
    );
    let _ = writeln!(
        md,
        "- **Settings:** {} events per measurement, {} runs, publishers {}, handler concurrency {}, soak of {} events\n",
        s("/args/events"),
        s("/args/runs"),
        s("/args/publishers"),
        s("/args/concurrency"),
        s("/args/soak")
    );
    let _ = writeln!(md, "## Goals\n");
    md.push_str(&goals_markdown(doc));
    md.push('\n');
    if !plots.is_empty() {
        let _ = writeln!(md, "## Plots\n");
        for (file, caption) in &plots {
            let _ = writeln!(md, "{caption}:\n\n![{caption}](bench/{file})\n");
        }
    }
    for (key, heading) in SCENARIOS {
        let Some(sc) = doc.pointer(&format!("/scenarios/{key}")) else { continue };
        let _ = writeln!(md, "## {heading}\n");
        if let Some(e) = sc.get("error").and_then(Value::as_str) {
            let _ = writeln!(md, "Not measured: {e}\n");
            continue;
        }
        let tables: Vec<Section> = sc
            .get("tables")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .context("a scenario's tables are malformed")?
            .unwrap_or_default();
        for t in tables {
            let _ = writeln!(md, "{}\n", t.caption);
            table(&mut md, &t.header, &t.rows);
            md.push('\n');
        }
    }
    let md_path = out.join("BENCHMARKS.md");
    std::fs::write(&md_path, md).with_context(|| format!("cannot write {}", md_path.display()))?;
    written.insert(0, md_path);
    Ok(written)
}

/// Replaces the goals table between the markers in `readme`.
///
/// # Errors
/// An unreadable file, missing markers, or a failed write.
fn update_readme(doc: &Value, readme: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(readme).with_context(|| format!("cannot read {}", readme.display()))?;
    let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
        bail!("{} has no `{BEGIN}` ... `{END}` markers", readme.display());
    };
    if e < b {
        bail!("{}: `{END}` comes before `{BEGIN}`", readme.display());
    }
    let commit = doc.get("commit").and_then(Value::as_str).unwrap_or("unknown");
    let new = format!(
        "{BEGIN}\n<!-- generated by `brain bench report --readme README.md`; edit docs/BENCHMARKS.md's source run instead -->\n\n{}\nFrom `brain bench --all` at commit `{commit}`; every table, the machine and the plots: [docs/BENCHMARKS.md](docs/BENCHMARKS.md).\n\n",
        goals_markdown(doc)
    );
    let updated = format!("{}{new}{}", &text[..b], &text[e..]);
    std::fs::write(readme, updated).with_context(|| format!("cannot write {}", readme.display()))
}

/// Runs `brain bench report`.
///
/// # Errors
/// As [`write`] and [`update_readme`].
pub(crate) fn run(a: &BenchReportArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.input).with_context(|| format!("cannot read {}", a.input.display()))?;
    let doc: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", a.input.display()))?;
    for p in write(&doc, &a.out)? {
        eprintln!("wrote {}", p.display());
    }
    if let Some(readme) = &a.readme {
        update_readme(&doc, readme)?;
        eprintln!("updated the goals table in {}", readme.display());
    }
    Ok(())
}
