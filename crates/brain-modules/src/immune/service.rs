//! The immune records: store one with its events, summarise the last hour.

use brain_events::EventPayload;
use brain_events::immune::{ImmuneCriticalEvent, ImmuneEventPublished, ImmuneEventType, ImmuneSeverity};
use eventstream::EventStream;
use eventstream::store::StoreError;
use eventstream::store::sqlx::{self, Row, any::AnyRow};
use eventstream_core::format_timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::sql::{db, next_counter};
use crate::web::{Origin, ms_to_secs, now_ms};

/// The summary window (the original's `health_summary(minutes=60)`).
const WINDOW_MS: i64 = 60 * 60 * 1000;
/// Records the summary lists.
const LAST_EVENTS: i64 = 10;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum ImmuneError {
    /// The state store failed.
    #[error("state store failure")]
    Store(#[from] StoreError),
}

/// A record to store.
#[derive(Debug, Clone)]
pub(crate) struct NewRecord {
    pub(crate) agent_id: Option<String>,
    pub(crate) module: Option<String>,
    pub(crate) severity: ImmuneSeverity,
    pub(crate) event_type: ImmuneEventType,
    pub(crate) message: String,
    pub(crate) meta: Map<String, Value>,
}

/// A stored record (the original's `ImmuneEvent` JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImmuneRecord {
    /// Its id (sequential per tenant, from 1).
    pub id: i64,
    /// The agent concerned.
    pub agent_id: Option<String>,
    /// The module concerned.
    pub module: Option<String>,
    /// Its severity.
    pub severity: ImmuneSeverity,
    /// Its kind.
    #[serde(rename = "type")]
    pub event_type: ImmuneEventType,
    /// What happened.
    pub message: String,
    /// Extra facts.
    pub meta: Map<String, Value>,
    /// When it was stored (RFC 3339).
    pub created_at: String,
}

/// `GET /api/immune/health`: the last 60 minutes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImmuneSummary {
    /// Records in the window, every severity.
    pub active_issues: u64,
    /// CRITICAL records in the window.
    pub critical_issues: u64,
    /// The last 10 records of the window, oldest first.
    pub last_events: Vec<ImmuneRecord>,
}

/// The immune service.
#[derive(Debug)]
pub struct ImmuneService {
    events: EventStream,
}

fn wire<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn parse<T: DeserializeOwned + Default>(s: String) -> T {
    serde_json::from_value(Value::String(s)).unwrap_or_default()
}

fn from_row(r: &AnyRow) -> Result<ImmuneRecord, StoreError> {
    let e = || db("reading an immune record");
    let meta: String = r.try_get(6).map_err(e())?;
    let at: i64 = r.try_get(7).map_err(e())?;
    Ok(ImmuneRecord {
        id: r.try_get(0).map_err(e())?,
        agent_id: r.try_get(1).map_err(e())?,
        module: r.try_get(2).map_err(e())?,
        severity: parse(r.try_get(3).map_err(e())?),
        event_type: parse(r.try_get(4).map_err(e())?),
        message: r.try_get(5).map_err(e())?,
        meta: match serde_json::from_str(&meta) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        },
        created_at: chrono::DateTime::from_timestamp_millis(at).map(|t| format_timestamp(&t)).unwrap_or_default(),
    })
}

impl ImmuneService {
    /// The service over `events`.
    pub fn new(events: EventStream) -> Self {
        Self { events }
    }

    /// Stores a record with the tenant's next id and writes `immune.event_published` (then
    /// `immune.critical_event` for a CRITICAL one) in the same transaction; returns the id.
    ///
    /// # Errors
    /// [`ImmuneError::Store`].
    pub(crate) async fn publish(&self, origin: &Origin, r: NewRecord) -> Result<i64, ImmuneError> {
        let mut tx = self.events.store().begin().await?;
        let id = next_counter(&mut tx, &format!("immune_event_id:{}", origin.tenant())).await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO immune_events (tenant, id, agent_id, module, severity, event_type, message, meta, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(origin.tenant().to_owned())
        .bind(id)
        .bind(r.agent_id.clone())
        .bind(r.module.clone())
        .bind(wire(&r.severity))
        .bind(wire(&r.event_type))
        .bind(r.message.clone())
        .bind(Value::Object(r.meta.clone()).to_string())
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(db("storing an immune record"))?;
        let at = ms_to_secs(now);
        let event_id = u64::try_from(id).unwrap_or(0);
        let meta = Some(r.meta.clone()).filter(|m| !m.is_empty());
        let mut events = vec![
            origin.stamp(
                ImmuneEventPublished {
                    event_id,
                    severity: r.severity,
                    event_type: r.event_type,
                    message: r.message.clone(),
                    agent_id: r.agent_id.clone(),
                    module: r.module.clone(),
                    meta: meta.clone(),
                    published_at: at,
                }
                .to_event(),
            ),
        ];
        if r.severity == ImmuneSeverity::Critical {
            events.push(
                origin.stamp(
                    ImmuneCriticalEvent {
                        event_id,
                        severity: r.severity,
                        event_type: r.event_type,
                        message: r.message,
                        agent_id: r.agent_id,
                        module: r.module,
                        meta,
                        critical_at: at,
                    }
                    .to_event(),
                ),
            );
        }
        self.events.outbox_in_tx(&mut tx, &events).await?;
        tx.commit().await?;
        self.events.wake_relay();
        Ok(id)
    }

    /// The last 60 minutes of the tenant's records.
    ///
    /// # Errors
    /// [`ImmuneError::Store`].
    pub async fn summary(&self, tenant: &str) -> Result<ImmuneSummary, ImmuneError> {
        let since = now_ms() - WINDOW_MS;
        let pool = self.events.store().pool();
        let counts = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN severity = 'CRITICAL' THEN 1 ELSE 0 END), 0) FROM immune_events \
             WHERE tenant = $1 AND created_at >= $2",
        )
        .bind(tenant.to_owned())
        .bind(since)
        .fetch_one(pool)
        .await
        .map_err(db("counting immune records"))?;
        let e = || db("counting immune records");
        let active: i64 = counts.try_get(0).map_err(e())?;
        let critical: i64 = counts.try_get(1).map_err(e())?;
        let rows = sqlx::query(
            "SELECT id, agent_id, module, severity, event_type, message, meta, created_at FROM immune_events \
             WHERE tenant = $1 AND created_at >= $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(tenant.to_owned())
        .bind(since)
        .bind(LAST_EVENTS)
        .fetch_all(pool)
        .await
        .map_err(db("reading immune records"))?;
        let mut last = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        last.reverse();
        Ok(ImmuneSummary {
            active_issues: u64::try_from(active).unwrap_or(0),
            critical_issues: u64::try_from(critical).unwrap_or(0),
            last_events: last,
        })
    }
}
