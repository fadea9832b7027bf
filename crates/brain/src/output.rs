//! How events are shown: human-readable blocks for people, one JSON envelope per line for scripts.

use std::io::Write;

use eventstream_core::{Record, format_timestamp};
use serde_json::Value;

/// Writes one record. JSON mode prints the canonical envelope (every field, nulls included); an
/// undecodable entry prints `{"position":..,"undecodable":..}` so scripts never silently miss one.
pub(crate) fn print_record(out: &mut impl Write, r: &Record, json: bool) -> std::io::Result<()> {
    match (&r.event, json) {
        (Ok(e), true) => writeln!(out, "{}", e.to_json_value()),
        (Err(err), true) => writeln!(out, "{}", serde_json::json!({"position": r.position.as_str(), "undecodable": err.to_string()})),
        (Ok(e), false) => {
            let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            writeln!(out, "#{}  {}  {}  from {}", r.position, format_timestamp(&e.timestamp), e.event_type, e.source)?;
            writeln!(
                out,
                "    id={}  target={}  tenant={}  severity={}",
                e.id,
                opt(&e.target),
                e.tenant_id.as_ref().map_or_else(|| "-".into(), ToString::to_string),
                e.severity.map_or_else(|| "-".into(), |s| s.to_string()),
            )?;
            writeln!(
                out,
                "    mission={}  task={}  correlation={}  causation={}  actor={}",
                opt(&e.mission_id),
                opt(&e.task_id),
                opt(&e.correlation_id),
                opt(&e.causation_id),
                opt(&e.actor_id)
            )?;
            writeln!(out, "    payload={}", Value::Object(e.payload.clone()))?;
            writeln!(out, "    meta={}", serde_json::to_string(&e.meta).unwrap_or_default())
        }
        (Err(err), false) => writeln!(out, "#{}  (undecodable entry: {err})", r.position),
    }
}
