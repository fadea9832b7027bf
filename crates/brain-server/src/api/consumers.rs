//! `GET /api/consumers` and `POST /api/consumers/{name}/replay`.
//!
//! The list joins the log's consumer groups, the subscribers this process runs (patterns, live
//! counters), the subscribers every replica reported to the replica registry (`replicas` per row, and a
//! top-level `replicas` list with each replica's heartbeat) and dead-letter counts. Lag, pending counts and live counters span every tenant, so only
//! admins see them; other keys see names, patterns and their own tenant's dead-letter counts. Replay
//! moves a subscriber for everyone and is admin-only. The replicas (names, heartbeats, per-replica
//! counters) are shown to admins only.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use brain_http::{ApiError, Json, Path, Principal};
use chrono::Utc;
use eventstream_core::{GroupName, StartFrom};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors;
use crate::server::AppState;
use crate::time_arg::{START_GRAMMAR, parse_start};

/// `GET /api/consumers`.
pub(super) async fn list(State(state): State<AppState>, principal: Principal) -> Result<axum::Json<Value>, ApiError> {
    let tenant = principal.scope(None)?;
    let groups = state.log.groups().await.map_err(|e| errors::log(&e))?;
    let counts = state.store.dead_letter_counts(tenant.as_ref()).await.map_err(|e| errors::store(&e))?;
    let mut rows: BTreeMap<String, Value> = BTreeMap::new();
    let admin = principal.is_admin();
    for g in &groups {
        let mut v = json!({"name": g.name, "running_here": false});
        if admin {
            v["lag"] = g.lag().into();
            v["pending"] = g.pending.into();
            v["undelivered"] = g.undelivered.into();
            v["consumers"] = g.consumers.into();
            v["last_delivered"] = json!(g.last_delivered);
        }
        rows.insert(g.name.to_string(), v);
    }
    for c in state.consumers.iter() {
        let v = rows.entry(c.name.to_string()).or_insert_with(|| json!({"name": c.name}));
        v["running_here"] = true.into();
        v["patterns"] = json!(c.patterns);
        if admin {
            v["stats"] = json!(c.stats.snapshot());
        }
    }
    // Every replica's subscribers, from the registry (this replica's own row included).
    let registered = state.store.replicas().await.map_err(|e| errors::store(&e))?;
    let now = Utc::now();
    let alive_within = chrono::Duration::from_std(crate::replicas::ALIVE_WITHIN).unwrap_or(chrono::Duration::MAX);
    let mut replicas = Vec::new();
    // Replica names and heartbeats describe the deployment: admins only, like lag and counters.
    for r in registered.iter().filter(|_| admin) {
        let alive = now.signed_duration_since(r.last_seen) <= alive_within;
        replicas.push(json!({
            "replica": r.replica, "started_at": r.started_at, "last_seen": r.last_seen, "alive": alive,
            "this": r.replica == *state.replica,
        }));
        for sub in r.subscribers.as_array().into_iter().flatten() {
            let Some(name) = sub["name"].as_str() else { continue };
            let v = rows.entry(name.to_owned()).or_insert_with(|| json!({"name": name, "running_here": false}));
            if v.get("patterns").is_none() {
                v["patterns"] = sub["patterns"].clone();
            }
            let entry = json!({"replica": r.replica, "alive": alive, "last_seen": r.last_seen, "stats": sub["stats"]});
            match v.get_mut("replicas").and_then(Value::as_array_mut) {
                Some(list) => list.push(entry),
                None => v["replicas"] = json!([entry]),
            }
        }
    }
    for c in &counts {
        let v = rows.entry(c.subscriber.to_string()).or_insert_with(|| json!({"name": c.subscriber, "running_here": false}));
        v["dead_letters"] = json!({"open": c.open, "retried": c.retried, "discarded": c.discarded});
    }
    for v in rows.values_mut() {
        if v.get("dead_letters").is_none() {
            v["dead_letters"] = json!({"open": 0, "retried": 0, "discarded": 0});
        }
        if v.get("replicas").is_none() {
            v["replicas"] = json!([]);
        }
    }
    Ok(axum::Json(
        json!({"consumers": rows.into_values().collect::<Vec<_>>(), "replica": admin.then_some(&*state.replica), "replicas": replicas}),
    ))
}

/// The body of a replay.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplayRequest {
    /// Where to restart, in the grammar `brain replay --from` shares ([`parse_start`]): `"start"`, `"end"`,
    /// a position (events after it), an RFC 3339 time, a date or an age such as `"15m"` (events appended
    /// at or after it).
    from: Value,
    /// Delete the inbox rows of the range first, so every event is handled again.
    #[serde(default)]
    reprocess: bool,
}

fn parse_from(v: &Value) -> Result<StartFrom, ApiError> {
    let bad =
        |reason: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", format!("`from`: {reason}")).with_field("from");
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        _ => return Err(bad(format!("expected a string: {START_GRAMMAR}"))),
    };
    parse_start(&s, Utc::now()).map_err(bad)
}

/// `POST /api/consumers/{name}/replay` (admin only).
pub(super) async fn replay(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    Json(req): Json<ReplayRequest>,
) -> Result<axum::Json<Value>, ApiError> {
    principal.require_admin()?;
    let name: GroupName = name
        .parse()
        .map_err(|e: eventstream_core::InvalidId| ApiError::new(StatusCode::BAD_REQUEST, "invalid_id", e.to_string()).with_field("name"))?;
    let from = parse_from(&req.from)?;
    let progress = |_: u64, _: u64| {};
    let report = tokio::time::timeout(
        Duration::from_secs(300),
        eventstream::replay::replay(&state.log, &state.store, &name, &from, req.reprocess, &progress),
    )
    .await
    .map_err(|_| ApiError::unavailable("the replay did not finish within 5 minutes; use `brain replay` for large ranges"))?
    .map_err(|e| errors::replay(&e))?;
    Ok(axum::Json(json!({"subscriber": name, "reprocess": req.reprocess, "report": report})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_starts_parse() {
        assert_eq!(parse_from(&json!("start")).ok(), Some(StartFrom::Beginning));
        assert!(matches!(parse_from(&json!("2026-01-01T00:00:00Z")), Ok(StartFrom::Time(_))));
        assert!(matches!(parse_from(&json!(42)), Ok(StartFrom::After(_))));
        assert!(matches!(parse_from(&json!("1700000000000-0")), Ok(StartFrom::After(_))));
        assert!(matches!(parse_from(&json!("15m")), Ok(StartFrom::Time(_))));
        assert!(matches!(parse_from(&json!("2026-01-01")), Ok(StartFrom::Time(_))));
        assert_eq!(parse_from(&json!("end")).ok(), Some(StartFrom::End));
        assert!(parse_from(&json!("a b")).is_err());
        assert!(parse_from(&json!(true)).is_err());
    }
}
