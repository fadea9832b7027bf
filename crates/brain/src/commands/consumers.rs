//! `brain consumers`: every subscriber (consumer group) with its position, lag, in-flight deliveries and
//! dead letters.

use std::collections::HashMap;

use comfy_table::Table;
use serde::Serialize;

use crate::backend::{open_log, open_store};
use crate::cli::ConsumersArgs;
use crate::config::Settings;

#[derive(Debug, Serialize)]
struct Row {
    name: String,
    group: String,
    position: Option<String>,
    lag: u64,
    in_flight: u64,
    undelivered: u64,
    consumers: u64,
    dead_letters_open: u64,
}

pub(crate) async fn run(a: ConsumersArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(&a.log, None, None)?;
    let log = open_log(&settings).await?;
    let store = open_store(&settings).await?;
    let groups = log.groups().await?;
    let dead: HashMap<String, u64> =
        store.dead_letter_counts(None).await?.into_iter().map(|c| (c.subscriber.to_string(), c.open)).collect();
    let mut rows: Vec<Row> = groups
        .iter()
        .map(|g| Row {
            name: g.name.to_string(),
            group: g.name.to_string(),
            position: g.last_delivered.as_ref().map(ToString::to_string),
            lag: g.lag(),
            in_flight: g.pending,
            undelivered: g.undelivered,
            consumers: g.consumers,
            dead_letters_open: dead.get(g.name.as_str()).copied().unwrap_or(0),
        })
        .collect();
    // Subscribers that only have dead letters left (their group was deleted) still show up.
    for (name, open) in &dead {
        if !rows.iter().any(|r| &r.name == name) {
            rows.push(Row {
                name: name.clone(),
                group: "-".into(),
                position: None,
                lag: 0,
                in_flight: 0,
                undelivered: 0,
                consumers: 0,
                dead_letters_open: *open,
            });
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        eprintln!("no subscribers yet on the {} log", log.backend());
        return Ok(());
    }
    let mut t = Table::new();
    t.set_header(["subscriber", "group", "position", "lag", "in flight", "consumers", "dead letters"]);
    for r in rows {
        t.add_row([
            r.name,
            r.group,
            r.position.unwrap_or_else(|| "-".into()),
            r.lag.to_string(),
            r.in_flight.to_string(),
            r.consumers.to_string(),
            r.dead_letters_open.to_string(),
        ]);
    }
    println!("{t}");
    Ok(())
}
