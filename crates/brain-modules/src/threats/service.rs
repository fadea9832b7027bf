//! The threat store: create, list, get, status changes with their events, statistics from the rows.

use brain_events::EventPayload;
use brain_events::threat::{
    ThreatDetected, ThreatEscalated, ThreatInfo, ThreatMitigated, ThreatSeverity, ThreatStatus, ThreatStatusChanged, UnknownThreatSeverity,
    UnknownThreatStatus,
};
use eventstream::EventStream;
use eventstream::store::sqlx::{self, Row, any::AnyRow};
use eventstream::store::{StoreError, Tx};
use eventstream_core::Event;
use serde_json::Value;

use super::error::ThreatError;
use super::model::{Threat, ThreatCreate, ThreatStats};
use crate::page::Page;
use crate::sql::db;
use crate::web::Origin;

const COLUMNS: &str = "id, threat_type, source, severity, status, description, metadata, created_at, last_seen_at";

/// How often a status change re-reads a threat that another request changed first.
const STATUS_ATTEMPTS: usize = 8;

/// The current time in epoch seconds at full precision (two changes are never 0 s apart).
fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}

/// The threats service.
#[derive(Debug)]
pub struct ThreatService {
    events: EventStream,
}

/// A `threats` row that cannot be read back (a hand-edited or foreign row): an error, never a guess.
fn corrupt(column: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { table: "threats", row_id: -1, column, reason: reason.into() }
}

fn from_row(r: &AnyRow) -> Result<Threat, StoreError> {
    let e = || db("reading a threat");
    let severity: String = r.try_get(3).map_err(e())?;
    let status: String = r.try_get(4).map_err(e())?;
    let meta: String = r.try_get(6).map_err(e())?;
    Ok(Threat {
        id: r.try_get(0).map_err(e())?,
        threat_type: r.try_get(1).map_err(e())?,
        source: r.try_get(2).map_err(e())?,
        severity: severity.parse().map_err(|e: UnknownThreatSeverity| corrupt("severity", e.to_string()))?,
        status: status.parse().map_err(|e: UnknownThreatStatus| corrupt("status", e.to_string()))?,
        description: r.try_get(5).map_err(e())?,
        metadata: match serde_json::from_str(&meta) {
            Ok(Value::Object(m)) => m,
            _ => return Err(corrupt("metadata", "is not a JSON object")),
        },
        created_at: r.try_get(7).map_err(e())?,
        last_seen_at: r.try_get(8).map_err(e())?,
    })
}

fn info(t: &Threat) -> ThreatInfo {
    ThreatInfo {
        threat_id: t.id.clone(),
        threat_type: t.threat_type.clone(),
        source: t.source.clone(),
        severity: t.severity,
        description: t.description.clone(),
    }
}

impl ThreatService {
    /// The service over `events`.
    pub fn new(events: EventStream) -> Self {
        Self { events }
    }

    /// Stores an `OPEN` threat (`threat.detected`, `detected_at` = `created_at`).
    ///
    /// # Errors
    /// [`ThreatError::Store`].
    pub async fn create(&self, origin: &Origin, req: ThreatCreate) -> Result<Threat, ThreatError> {
        let at = now();
        let threat = Threat {
            id: uuid::Uuid::new_v4().to_string(),
            threat_type: req.threat_type,
            source: req.source,
            severity: req.severity,
            status: ThreatStatus::Open,
            description: req.description,
            metadata: req.metadata,
            created_at: at,
            last_seen_at: at,
        };
        let mut tx = self.events.store().begin().await?;
        sqlx::query(
            "INSERT INTO threats (tenant, id, threat_type, source, severity, status, description, metadata, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(origin.tenant().to_owned())
        .bind(threat.id.clone())
        .bind(threat.threat_type.clone())
        .bind(threat.source.clone())
        .bind(threat.severity.as_str())
        .bind(threat.status.as_str())
        .bind(threat.description.clone())
        .bind(Value::Object(threat.metadata.clone()).to_string())
        .bind(at)
        .execute(tx.conn())
        .await
        .map_err(db("storing a threat"))?;
        let event =
            ThreatDetected { threat: info(&threat), status: ThreatStatus::Open, metadata: threat.metadata.clone(), detected_at: at };
        self.commit(tx, vec![origin.stamp(event.to_event())]).await?;
        Ok(threat)
    }

    /// The tenant's threats, optionally of one status and/or severity, latest change first.
    ///
    /// # Errors
    /// [`ThreatError::Store`].
    pub(crate) async fn list(
        &self,
        tenant: &str,
        status: Option<ThreatStatus>,
        severity: Option<ThreatSeverity>,
        page: Page,
    ) -> Result<(Vec<Threat>, Option<String>), ThreatError> {
        let mut sql = format!("SELECT {COLUMNS} FROM threats WHERE tenant = $1");
        let mut binds = Vec::new();
        if let Some(s) = status {
            binds.push(s.as_str());
            sql.push_str(&format!(" AND status = ${}", binds.len() + 1));
        }
        if let Some(s) = severity {
            binds.push(s.as_str());
            sql.push_str(&format!(" AND severity = ${}", binds.len() + 1));
        }
        sql.push_str(&format!(" ORDER BY last_seen_at DESC, id LIMIT ${} OFFSET ${}", binds.len() + 2, binds.len() + 3));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.to_owned());
        for b in binds {
            q = q.bind(b);
        }
        let offset = page.after.unwrap_or(0);
        let rows = q.bind(page.fetch()).bind(offset).fetch_all(self.events.store().pool()).await.map_err(db("listing threats"))?;
        let mut threats = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        // The cursor is the number of threats before the next page.
        let next = page.finish(&mut threats, |_| 0).map(|_| (offset + i64::from(page.limit)).to_string());
        Ok((threats, next))
    }

    /// One threat.
    ///
    /// # Errors
    /// [`ThreatError::NotFound`] (also for another tenant's id), [`ThreatError::Store`].
    pub async fn get(&self, tenant: &str, id: &str) -> Result<Threat, ThreatError> {
        let mut tx = self.events.store().begin().await?;
        let t = load(&mut tx, tenant, id).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Changes a threat's status: `threat.status_changed`, then `threat.escalated` or `threat.mitigated`.
    /// The current status is a no-op without events. Severity never changes.
    ///
    /// # Errors
    /// [`ThreatError::NotFound`], [`ThreatError::Concurrent`], [`ThreatError::Store`].
    pub async fn set_status(&self, origin: &Origin, id: &str, to: ThreatStatus) -> Result<Threat, ThreatError> {
        for _ in 0..STATUS_ATTEMPTS {
            let mut tx = self.events.store().begin().await?;
            let mut threat = load(&mut tx, origin.tenant(), id).await?;
            let from = threat.status;
            if from == to {
                tx.commit().await?;
                return Ok(threat);
            }
            let at = now();
            let done = sqlx::query("UPDATE threats SET status = $1, last_seen_at = $2 WHERE tenant = $3 AND id = $4 AND status = $5")
                .bind(to.as_str())
                .bind(at)
                .bind(origin.tenant().to_owned())
                .bind(id.to_owned())
                .bind(from.as_str())
                .execute(tx.conn())
                .await
                .map_err(db("changing a threat's status"))?;
            if done.rows_affected() != 1 {
                continue;
            }
            threat.status = to;
            threat.last_seen_at = at;
            let mut events =
                vec![ThreatStatusChanged { threat: info(&threat), old_status: from, new_status: to, changed_at: at }.to_event()];
            match to {
                ThreatStatus::Escalated => {
                    events.push(ThreatEscalated { threat: info(&threat), old_status: from, escalated_at: at }.to_event())
                }
                ThreatStatus::Mitigated => events.push(
                    ThreatMitigated { threat: info(&threat), old_status: from, mitigated_at: at, duration_seconds: at - threat.created_at }
                        .to_event(),
                ),
                _ => {}
            }
            self.commit(tx, events.into_iter().map(|e| origin.stamp(e)).collect()).await?;
            return Ok(threat);
        }
        Err(ThreatError::Concurrent(id.to_owned()))
    }

    /// Counts by severity and status, from the rows (every key present, zeros included).
    ///
    /// # Errors
    /// [`ThreatError::Store`].
    pub async fn stats(&self, tenant: &str) -> Result<ThreatStats, ThreatError> {
        let rows =
            sqlx::query("SELECT severity, status, COUNT(*), MAX(last_seen_at) FROM threats WHERE tenant = $1 GROUP BY severity, status")
                .bind(tenant.to_owned())
                .fetch_all(self.events.store().pool())
                .await
                .map_err(db("counting threats"))?;
        let mut stats = ThreatStats {
            total: 0,
            by_severity: ThreatSeverity::ALL.iter().map(|s| (s.as_str(), 0)).collect(),
            by_status: ThreatStatus::ALL.iter().map(|s| (s.as_str(), 0)).collect(),
            last_updated: 0.0,
        };
        for r in &rows {
            let e = || db("counting threats");
            let severity: String = r.try_get(0).map_err(e())?;
            let status: String = r.try_get(1).map_err(e())?;
            let n: i64 = r.try_get(2).map_err(e())?;
            let last: f64 = r.try_get(3).map_err(e())?;
            let n = u64::try_from(n).unwrap_or(0);
            stats.total += n;
            let severity: ThreatSeverity = severity.parse().map_err(|e: UnknownThreatSeverity| corrupt("severity", e.to_string()))?;
            let status: ThreatStatus = status.parse().map_err(|e: UnknownThreatStatus| corrupt("status", e.to_string()))?;
            *stats.by_severity.entry(severity.as_str()).or_default() += n;
            *stats.by_status.entry(status.as_str()).or_default() += n;
            stats.last_updated = stats.last_updated.max(last);
        }
        Ok(stats)
    }

    async fn commit(&self, mut tx: Tx, events: Vec<Event>) -> Result<(), ThreatError> {
        self.events.outbox_in_tx(&mut tx, &events).await?;
        tx.commit().await?;
        self.events.wake_relay();
        Ok(())
    }
}

async fn load(tx: &mut Tx, tenant: &str, id: &str) -> Result<Threat, ThreatError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM threats WHERE tenant = $1 AND id = $2")))
        .bind(tenant.to_owned())
        .bind(id.to_owned())
        .fetch_optional(tx.conn())
        .await
        .map_err(db("reading a threat"))?
        .ok_or_else(|| ThreatError::NotFound(id.to_owned()))?;
    Ok(from_row(&row)?)
}
