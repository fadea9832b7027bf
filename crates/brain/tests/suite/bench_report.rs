//! `brain bench report`: a small `--all --json` document becomes docs/BENCHMARKS.md, well-formed SVG plots
//! and the README's goals table. Nothing here is timed: the figures come from the fixture.

use std::path::Path;

use super::support::{brain, ok_stdout, run};

/// Checks that `svg` is one well-formed XML element tree rooted at `<svg>`: every tag closes in order.
fn assert_well_formed_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let body = text.trim_start();
    let body = if body.starts_with("<?xml") { &body[body.find("?>").unwrap() + 2..] } else { body };
    assert!(body.trim_start().starts_with("<svg"), "{} does not start with <svg", path.display());
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    let mut elements = 0;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').map(|e| start + e).unwrap_or_else(|| panic!("unclosed tag in {}", path.display()));
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name.trim()), "mismatched </{name}> in {}", path.display());
        } else {
            elements += 1;
            let name = tag.split(|c: char| c.is_whitespace() || c == '/').next().unwrap().to_owned();
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?} in {}", path.display());
    assert!(elements > 10, "{} has only {elements} elements", path.display());
    assert!(text.contains("<text"), "{} has no labels", path.display());
}

#[test]
fn bench_report_writes_markdown_plots_and_the_readme_table() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench-small.json");
    let readme = dir.path().join("README.md");
    std::fs::write(&readme, "# X\n\n## Performance\n\n<!-- bench:goals:begin -->\nold table\n<!-- bench:goals:end -->\n\nafter\n").unwrap();
    let docs = dir.path().join("docs");
    ok_stdout(brain(dir.path()).args(["bench", "report"]).arg(&fixture).arg("--out").arg(&docs).arg("--readme").arg(&readme));

    let md = std::fs::read_to_string(docs.join("BENCHMARKS.md")).unwrap();
    for want in [
        "# Benchmarks",
        "`abc1234`",
        "2 cores, Test CPU @ 2.0GHz",
        "| Embedded append, 1 publisher, fsync on | 5,000 ev/s | 4,800 ev/s | 1.04x | >= 1.0x raw SQLite insert+commit | met |",
        "| 0.89x | >= 0.95x raw pipelined MULTI/EXEC | **missed** |",
        "| not measured |",
        "![",
        "(bench/throughput.svg)",
        "(bench/latency-cdf.svg)",
        "(bench/rss.svg)",
        "Not measured: cannot reach NATS",
        "embedded log | durability full",
        "| 8 | 30000 |",
    ] {
        assert!(md.contains(want), "BENCHMARKS.md lacks {want:?}:\n{md}");
    }
    for svg in ["throughput.svg", "latency-cdf.svg", "rss.svg"] {
        assert_well_formed_svg(&docs.join("bench").join(svg));
    }
    let throughput = std::fs::read_to_string(docs.join("bench/throughput.svg")).unwrap();
    assert!(throughput.contains("embedded (ours)") && throughput.contains("redis baseline: raw XADD"), "legend missing");

    let readme = std::fs::read_to_string(&readme).unwrap();
    assert!(!readme.contains("old table"), "{readme}");
    assert!(readme.contains("| Embedded append, 1 publisher, fsync on | 5,000 ev/s |"), "{readme}");
    assert!(readme.contains("[docs/BENCHMARKS.md](docs/BENCHMARKS.md)") && readme.ends_with("after\n"), "{readme}");
}

#[test]
fn bench_report_rejects_a_document_that_is_not_a_bench_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.json");
    std::fs::write(&input, r#"{"hello": 1}"#).unwrap();
    let out = run(brain(dir.path()).args(["bench", "report"]).arg(&input).arg("--out").arg(dir.path().join("docs")));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a `brain bench --all --json` document"), "{err}");
    assert!(!dir.path().join("docs/BENCHMARKS.md").exists());
}
