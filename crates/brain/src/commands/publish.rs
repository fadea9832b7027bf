//! `brain publish`: append one event and print its receipt. The event passes the same checks as one
//! published over HTTP ([`brain_server::ingest::ingest`]: size limits, envelope field rules, catalog
//! validation in the `--validation` mode, default the configuration's `[api] validation`).

use anyhow::{Context, anyhow, bail};
use brain_events::{Catalog, ValidationMode};
use eventstream_core::{Event, EventId, EventType, Severity, Source, TenantId};
use serde_json::Value;

use crate::backend::open_log;
use crate::cli::PublishArgs;
use crate::config::Settings;
use brain_server::ingest::{IngestError, ingest};

fn check_label(flag: &str, v: Option<String>) -> anyhow::Result<Option<String>> {
    if let Some(s) = &v
        && (s.is_empty() || s.chars().count() > eventstream_core::MAX_FIELD_CHARS || s.chars().any(char::is_control))
    {
        bail!("{flag}: must be 1 to {} characters without control characters", eventstream_core::MAX_FIELD_CHARS);
    }
    Ok(v)
}

/// Builds the event from the flags, naming the flag that is wrong.
pub(crate) fn build_event(a: &PublishArgs) -> anyhow::Result<Event> {
    let event_type: EventType = a.event_type.parse().map_err(|e| anyhow!("--type: {e}"))?;
    let source: Source = a.source.parse().map_err(|e| anyhow!("--source: {e}"))?;
    let payload = match serde_json::from_str::<Value>(&a.payload) {
        Ok(Value::Object(m)) => m,
        Ok(_) => bail!("--payload: must be a JSON object, like '{{\"key\": 1}}'"),
        Err(e) => bail!("--payload: invalid JSON: {e}"),
    };
    let mut e = Event::new(event_type, source, payload);
    if let Some(id) = &a.id {
        e.id = id.parse::<EventId>().map_err(|err| anyhow!("--id: {err}"))?;
    }
    e.tenant_id = a.tenant.as_deref().map(str::parse::<TenantId>).transpose().map_err(|err| anyhow!("--tenant: {err}"))?;
    e.severity = a.severity.as_deref().map(str::parse::<Severity>).transpose().map_err(|err| anyhow!("--severity: {err}"))?;
    e.target = check_label("--target", a.target.clone())?;
    e.mission_id = check_label("--mission-id", a.mission_id.clone())?;
    e.task_id = check_label("--task-id", a.task_id.clone())?;
    e.correlation_id = check_label("--correlation-id", a.correlation_id.clone())?;
    e.causation_id = check_label("--causation-id", a.causation_id.clone())?;
    e.actor_id = check_label("--actor", a.actor.clone())?;
    e.meta.producer = "brain-cli".into();
    Ok(e)
}

pub(crate) async fn run(a: PublishArgs) -> anyhow::Result<()> {
    let event = build_event(&a)?;
    let settings = Settings::resolve(&a.log, None, None)?;
    let mode = match a.validation.as_deref() {
        None => settings.validation,
        Some(v) => v.parse::<ValidationMode>().map_err(|_| anyhow!("--validation: expected strict, warn or off, got {v:?}"))?,
    };
    let (event, warnings) = ingest(&Catalog::new(), mode, event).map_err(|e| match e {
        IngestError::Envelope { .. } => anyhow!("{e}"),
        IngestError::Invalid { .. } => {
            anyhow!("{}: {e} (validation {}; `--validation warn` or `off` publishes it anyway)", e.field(), mode.as_str())
        }
        IngestError::TooLarge { .. } | IngestError::TooDeep { .. } => anyhow!("--payload: {}: {e}", e.field()),
    })?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let log = open_log(&settings).await?;
    let positions = log.append(std::slice::from_ref(&event)).await.context("publish failed")?;
    let position = positions.first().ok_or_else(|| anyhow!("the log returned no position"))?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"id": event.id.as_str(), "type": event.event_type.as_str(), "position": position.as_str(), "backend": log.backend()})
        );
    } else {
        println!("published {} {} at position {}", event.event_type, event.id, position);
    }
    Ok(())
}
