//! `brain events`: read history, oldest first, as text, JSON lines or (`--format cloudevents`) one
//! structured CloudEvent per line.

use std::io::Write;
use std::time::Duration;

use anyhow::anyhow;
use chrono::Utc;
use eventstream_core::codec::cloudevents;
use eventstream_core::{Record, StartFrom, TenantId, TypePattern};

use super::parse_pattern;
use crate::backend::open_log;
use crate::cli::EventsArgs;
use crate::config::Settings;
use crate::output::print_record;
use brain_server::time_arg::parse_since;

/// Entries read per round trip.
const PAGE: usize = 500;
/// The largest `--limit`.
const MAX_LIMIT: usize = 100_000;

fn keep(r: &Record, pattern: &TypePattern, tenant: Option<&TenantId>) -> bool {
    match &r.event {
        Ok(e) => pattern.matches(&e.event_type) && tenant.is_none_or(|t| e.tenant_id.as_ref() == Some(t)),
        // Undecodable entries are shown unless a filter asks for something they cannot match.
        Err(_) => pattern.as_str() == "*" && tenant.is_none(),
    }
}

/// How `brain events` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    CloudEvents,
}

fn parse_format(a: &EventsArgs) -> anyhow::Result<Format> {
    match (a.format.as_deref(), a.json) {
        (None, false) | (Some("text"), false) => Ok(Format::Text),
        (None | Some("json"), _) => Ok(Format::Json),
        (Some("cloudevents"), false) => Ok(Format::CloudEvents),
        (Some("text" | "cloudevents"), true) => {
            anyhow::bail!("--json and --format {} contradict each other", a.format.as_deref().unwrap_or(""))
        }
        (Some(other), _) => anyhow::bail!("--format: expected text, json or cloudevents, got {other:?}"),
    }
}

/// Writes one record as a structured CloudEvent line; an undecodable entry has no CloudEvents form and
/// is reported on stderr instead.
fn print_cloudevent(out: &mut impl Write, r: &Record) -> std::io::Result<()> {
    match &r.event {
        Ok(e) => writeln!(out, "{}", cloudevents::to_structured(e)),
        Err(err) => {
            eprintln!("warning: entry at position {} is undecodable, not shown: {err}", r.position);
            Ok(())
        }
    }
}

pub(crate) async fn run(a: EventsArgs) -> anyhow::Result<()> {
    if a.limit == 0 || a.limit > MAX_LIMIT {
        anyhow::bail!("--limit: must be between 1 and {MAX_LIMIT}");
    }
    let format = parse_format(&a)?;
    let pattern = parse_pattern(a.type_pattern.as_deref())?;
    let tenant = a.tenant.as_deref().map(str::parse::<TenantId>).transpose().map_err(|e| anyhow!("--tenant: {e}"))?;
    let since = a.since.as_deref().map(|s| parse_since(s, Utc::now())).transpose().map_err(|e| anyhow!("--since: {e}"))?;
    let settings = Settings::resolve(&a.log, None, None)?;
    let log = open_log(&settings).await?;

    let mut shown: Vec<Record> = Vec::new();
    if let Some(since) = since {
        // Forward from the time.
        let mut from = StartFrom::Time(since);
        while shown.len() < a.limit {
            let page = log.read(&from, PAGE, Duration::ZERO).await?;
            let Some(last) = page.last() else { break };
            from = StartFrom::After(last.position.clone());
            shown.extend(page.into_iter().filter(|r| keep(r, &pattern, tenant.as_ref())).take(a.limit - shown.len()));
        }
    } else {
        // The newest events, read backwards, shown oldest first.
        let mut before = None;
        while shown.len() < a.limit {
            let page = log.read_back(before.as_ref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            before = Some(last.position.clone());
            shown.extend(page.into_iter().filter(|r| keep(r, &pattern, tenant.as_ref())).take(a.limit - shown.len()));
        }
        shown.reverse();
    }
    let mut out = std::io::stdout().lock();
    for r in &shown {
        match format {
            Format::CloudEvents => print_cloudevent(&mut out, r)?,
            _ => print_record(&mut out, r, format == Format::Json)?,
        }
    }
    out.flush()?;
    if shown.is_empty() && format == Format::Text {
        eprintln!("no events match");
    }
    Ok(())
}
