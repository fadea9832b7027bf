//! `brain dlq list|show|retry|discard`.

use anyhow::{anyhow, bail};
use comfy_table::Table;
use eventstream_sql::{DeadLetterFilter, DeadLetterId, DeadLetterStatus};

use crate::backend::{open_log, open_store};
use crate::cli::{DlqArgs, DlqCommand};
use crate::config::Settings;

fn parse_id(s: &str) -> anyhow::Result<DeadLetterId> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(DeadLetterId)
        .ok_or_else(|| anyhow!("invalid dead letter id {s:?}: expected a positive number (see `brain dlq list`)"))
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_owned() } else { format!("{}…", s.chars().take(n).collect::<String>()) }
}

pub(crate) async fn run(a: DlqArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(&a.log, None, None)?;
    let store = open_store(&settings).await?;
    match a.command {
        DlqCommand::List { subscriber, event_type, tenant, status, limit, json } => {
            if !(1..=1000).contains(&limit) {
                bail!("--limit: must be between 1 and 1000");
            }
            let status = match status.as_str() {
                "all" => None,
                s => Some(s.parse::<DeadLetterStatus>().map_err(|e| anyhow!("--status: {s:?} {e} or all"))?),
            };
            let filter = DeadLetterFilter {
                subscriber: subscriber.as_deref().map(str::parse).transpose().map_err(|e| anyhow!("--subscriber: {e}"))?,
                event_type: event_type.as_deref().map(str::parse).transpose().map_err(|e| anyhow!("--type: {e}"))?,
                tenant: tenant.as_deref().map(str::parse).transpose().map_err(|e| anyhow!("--tenant: {e}"))?,
                status,
                limit,
                ..DeadLetterFilter::default()
            };
            let letters = store.list_dead_letters(&filter).await?;
            if json {
                for d in &letters {
                    println!("{}", serde_json::to_string(d)?);
                }
                return Ok(());
            }
            if letters.is_empty() {
                eprintln!("no dead letters match");
                return Ok(());
            }
            let mut t = Table::new();
            t.set_header(["id", "subscriber", "type", "event id", "kind", "attempts", "last failure", "status", "error"]);
            for d in letters {
                t.add_row([
                    d.id.0.to_string(),
                    d.letter.subscriber.to_string(),
                    d.letter.event_type.map_or_else(|| "-".into(), |t| t.to_string()),
                    short(&d.letter.event_id, 38),
                    d.letter.kind.to_string(),
                    d.letter.attempts.to_string(),
                    d.letter.last_failed_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    d.status.to_string(),
                    short(&d.letter.error, 60),
                ]);
            }
            println!("{t}");
        }
        DlqCommand::Show { id, json } => {
            let id = parse_id(&id)?;
            let d = store.get_dead_letter(id).await?.ok_or_else(|| anyhow!("dead letter {} not found", id.0))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
                return Ok(());
            }
            println!("dead letter {}  ({})", d.id.0, d.status);
            println!("  subscriber: {}", d.letter.subscriber);
            println!("  event:      {} {}", d.letter.event_type.as_ref().map_or("-", |t| t.as_str()), d.letter.event_id);
            println!("  position:   {} in {}", d.letter.stream_message_id, d.letter.stream_name);
            println!("  kind:       {}, {} attempt(s)", d.letter.kind, d.letter.attempts);
            println!("  failed:     first {}, last {}", d.letter.first_failed_at.to_rfc3339(), d.letter.last_failed_at.to_rfc3339());
            println!("  error:      {}", d.letter.error);
            let pretty = serde_json::from_str::<serde_json::Value>(&d.letter.event)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or(d.letter.event);
            println!("  envelope:\n{pretty}");
        }
        DlqCommand::Retry { id } => {
            let id = parse_id(&id)?;
            let log = open_log(&settings).await?;
            let position = eventstream::dlq::retry_dead_letter(&log, &store, id).await?;
            println!("dead letter {} re-delivered to its subscriber at position {position}", id.0);
        }
        DlqCommand::Discard { id } => {
            let id = parse_id(&id)?;
            match store.discard_dead_letter(id).await? {
                Some(_) => println!("dead letter {} discarded", id.0),
                None => match store.get_dead_letter(id).await? {
                    Some(d) => bail!("dead letter {} is {}, not open", id.0, d.status),
                    None => bail!("dead letter {} not found", id.0),
                },
            }
        }
    }
    Ok(())
}
