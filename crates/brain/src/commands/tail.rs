//! `brain tail`: print events as they arrive.

use std::io::Write;
use std::time::Duration;

use anyhow::anyhow;
use eventstream_core::{Position, StartFrom};

use super::parse_pattern;
use crate::backend::open_log;
use crate::cli::TailArgs;
use crate::config::Settings;
use crate::output::print_record;

/// How long one read waits for new events before asking again.
const WAIT: Duration = Duration::from_secs(1);

pub(crate) async fn run(a: TailArgs) -> anyhow::Result<()> {
    let pattern = parse_pattern(a.type_pattern.as_deref())?;
    let settings = Settings::resolve(&a.log, None, None)?;
    let log = open_log(&settings).await?;
    let mut from = match a.from.as_str() {
        "start" => StartFrom::Beginning,
        "now" => match log.head().await? {
            Some(p) => StartFrom::After(p),
            None => StartFrom::Beginning,
        },
        p => StartFrom::After(p.parse::<Position>().map_err(|e| anyhow!("--from: expected `start`, `now` or a position: {e}"))?),
    };
    let shown_from = match &from {
        StartFrom::After(p) => format!("after position {p}"),
        _ => "the start".to_owned(),
    };
    eprintln!("tailing the {} log from {shown_from} (Ctrl-C to stop)", log.backend());
    let mut printed = 0usize;
    let mut backoff = Duration::from_millis(100);
    loop {
        let batch = tokio::select! {
            r = log.read(&from, 500, WAIT) => r,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let records = match batch {
            Ok(r) => {
                backoff = Duration::from_millis(100);
                r
            }
            Err(e) if e.is_transient() => {
                eprintln!("warning: {e}; retrying in {} ms", backoff.as_millis());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let mut out = std::io::stdout().lock();
        for r in &records {
            let keep = match &r.event {
                Ok(e) => pattern.matches(&e.event_type),
                Err(_) => true,
            };
            if keep {
                print_record(&mut out, r, a.json)?;
                printed += 1;
                if a.count.is_some_and(|c| printed >= c) {
                    out.flush()?;
                    return Ok(());
                }
            }
        }
        out.flush()?;
        if let Some(last) = records.last() {
            from = StartFrom::After(last.position.clone());
        }
    }
}
