//! `brain replay SUBSCRIBER --from START [--reprocess]`: START as [`brain_server::time_arg::parse_start`] reads
//! it, the same grammar as `POST /api/consumers/{name}/replay`.

use anyhow::{Context, anyhow};
use chrono::Utc;
use eventstream_core::{GroupName, LogError, StartFrom};
use indicatif::{ProgressBar, ProgressStyle};

use crate::backend::{open_log, open_store};
use crate::cli::ReplayArgs;
use crate::config::Settings;
use brain_server::time_arg::parse_start;

/// `--from`, in the grammar the HTTP API shares ([`parse_start`]).
fn parse_from(s: &str) -> anyhow::Result<StartFrom> {
    parse_start(s, Utc::now()).map_err(|e| anyhow!("--from: {e}"))
}

pub(crate) async fn run(a: ReplayArgs) -> anyhow::Result<()> {
    let name: GroupName = a.subscriber.parse().map_err(|e| anyhow!("subscriber: {e}"))?;
    let from = parse_from(&a.from)?;
    let settings = Settings::resolve(&a.log, None, None)?;
    let log = open_log(&settings).await?;
    let store = open_store(&settings).await?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} scanning {pos}/{len} events [{bar:30}] {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if !a.reprocess {
        bar.finish_and_clear();
    }
    let progress = {
        let bar = bar.clone();
        move |done: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(done);
        }
    };
    let report = match eventstream::replay::replay(&log, &store, &name, &from, a.reprocess, &progress).await {
        Ok(r) => r,
        Err(eventstream::replay::ReplayError::Log(LogError::UnknownGroup(g))) => {
            return Err(anyhow!("unknown subscriber `{g}` (see `brain consumers`)"));
        }
        Err(e) => return Err(e).context("replay failed"),
    };
    bar.finish_and_clear();
    let info = log.group_info(&name).await?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"subscriber": name.as_str(), "reprocess": a.reprocess, "events_in_range": report.events_in_range, "inbox_rows_removed": report.inbox_rows_removed, "lag": info.lag()})
        );
    } else {
        let what = match &from {
            StartFrom::Beginning => "the start".to_owned(),
            StartFrom::After(p) => format!("after position {p}"),
            StartFrom::Time(t) => t.to_rfc3339(),
            StartFrom::End => "the end".to_owned(),
        };
        println!("replaying {name} from {what}: {} events to deliver again", info.lag());
        if a.reprocess {
            println!(
                "reprocess: removed {} inbox rows for {} events; every event in the range will be handled again",
                report.inbox_rows_removed, report.events_in_range
            );
        } else {
            println!("events {name} already processed are skipped by its inbox; use --reprocess to handle them again");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_accepts_start_positions_and_times() {
        assert_eq!(parse_from("start").ok(), Some(StartFrom::Beginning));
        assert!(matches!(parse_from("42"), Ok(StartFrom::After(_))));
        assert!(matches!(parse_from("1700000000000-0"), Ok(StartFrom::After(_))));
        assert!(matches!(parse_from("2026-01-01"), Ok(StartFrom::Time(_))));
        assert!(matches!(parse_from("2h"), Ok(StartFrom::Time(_))));
        assert_eq!(parse_from("end").ok(), Some(StartFrom::End));
        assert!(parse_from("whenever").is_err());
    }
}
