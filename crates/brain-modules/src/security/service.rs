//! The security monitoring service: evaluates the rules on each watched event inside the subscriber's
//! transaction, and lists the alerts.
//!
//! Tables (tenant in every key):
//! - `security_rule_locks (tenant, rule)`: one row per tenant and rule, upserted first in every
//!   evaluation. On PostgreSQL the upsert locks the row until commit, so two replicas evaluating the same
//!   rule for the same tenant take turns and each counts the other's committed observation.
//! - `security_observations (tenant, rule, event_id, at_ms)`: the events counted, unique per event id (a
//!   replay with `--reprocess` counts nothing twice); deleted once older than twice the longest window.
//! - `security_alerts`: the alerts, unique on `(rule, tenant, window_start)`. The alert row and its
//!   `system.alert` outbox row are written in the same transaction and only when the insert took place, so
//!   redeliveries, replays and replicas can never raise a second alert for one rule, tenant and window.

use std::sync::atomic::{AtomicI64, Ordering};

use brain_events::EventPayload;
use brain_events::system::SystemAlert;
use eventstream::EventStream;
use eventstream::store::sqlx::{self, AssertSqlSafe, Row};
use eventstream::store::{StoreError, Tx};
use eventstream_core::{Event, TenantId};
use serde_json::{Map, Value, json};

use super::config::{Rule, SecurityConfig};
use super::model::{Alert, RuleView};
use crate::sql::db;
use crate::web::Origin;

/// The component named in alerts.
const COMPONENT: &str = "security_monitoring";

const ALERT_COLUMNS: &str = "alert_id, rule, tenant, event_type, severity, message, observed, threshold, window_secs, \
     window_start, trigger_event_id, raised_at";

/// Filters of [`SecurityService::alerts`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only this tenant's alerts (`None`: every tenant).
    pub tenant: Option<TenantId>,
    /// Only this rule's.
    pub rule: Option<Rule>,
    /// Only alerts older than this one (the previous page's last id).
    pub before: Option<String>,
}

/// The security monitoring service.
#[derive(Debug)]
pub struct SecurityService {
    events: EventStream,
    config: SecurityConfig,
    /// The minute this process last deleted old observations in.
    last_prune_minute: AtomicI64,
}

impl SecurityService {
    /// The service with the rules of `config`.
    pub fn new(events: EventStream, config: SecurityConfig) -> Self {
        Self { events, config, last_prune_minute: AtomicI64::new(i64::MIN) }
    }

    /// The rules as configured.
    pub fn rules(&self) -> Vec<RuleView> {
        Rule::ALL
            .into_iter()
            .map(|r| {
                let c = self.config.rule(r);
                RuleView {
                    rule: r.name(),
                    event_type: r.event_type(),
                    enabled: c.enabled,
                    threshold: c.threshold,
                    window_secs: c.window.as_secs(),
                    severity: r.severity().as_str(),
                }
            })
            .collect()
    }

    /// Evaluates the rule of `event`'s type in `tx`: records the event, counts the tenant's events of the
    /// type in the sliding window ending at the event's time (never later than `now_ms`), and when the
    /// count reaches the threshold and no alert of the rule, tenant and fixed window exists yet, writes
    /// the alert and its `system.alert` event (to the outbox, `causation_id` = the event's id). Returns the
    /// alert event when one was raised.
    ///
    /// # Errors
    /// The store's error (transient when retrying may help).
    pub(crate) async fn evaluate_in(&self, tx: &mut Tx, event: &Event, now_ms: i64) -> Result<Option<Event>, StoreError> {
        let Some(rule) = Rule::for_type(event.event_type.as_str()) else { return Ok(None) };
        let config = *self.config.rule(rule);
        if !config.enabled {
            return Ok(None);
        }
        let tenant = tenant_of(event);
        let at = event.timestamp.timestamp_millis().min(now_ms);
        self.prune_in(tx, now_ms).await?;
        sqlx::query(
            "INSERT INTO security_rule_locks (tenant, rule, touched_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant, rule) DO UPDATE SET touched_at = excluded.touched_at",
        )
        .bind(tenant.as_str().to_owned())
        .bind(rule.name())
        .bind(now_ms)
        .execute(tx.conn())
        .await
        .map_err(db("locking a security rule"))?;
        let inserted = sqlx::query(
            "INSERT INTO security_observations (tenant, rule, event_id, at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant, rule, event_id) DO NOTHING",
        )
        .bind(tenant.as_str().to_owned())
        .bind(rule.name())
        .bind(event.id.as_str().to_owned())
        .bind(at)
        .execute(tx.conn())
        .await
        .map_err(db("recording a security observation"))?
        .rows_affected();
        if inserted == 0 {
            return Ok(None);
        }
        let window_ms = config.window_ms();
        let row = sqlx::query("SELECT COUNT(*) FROM security_observations WHERE tenant = $1 AND rule = $2 AND at_ms > $3 AND at_ms <= $4")
            .bind(tenant.as_str().to_owned())
            .bind(rule.name())
            .bind(at - window_ms)
            .bind(at)
            .fetch_one(tx.conn())
            .await
            .map_err(db("counting security observations"))?;
        let observed: i64 = row.try_get(0).map_err(db("counting security observations"))?;
        if observed < i64::from(config.threshold) {
            return Ok(None);
        }
        let window_start = at - at.rem_euclid(window_ms);
        let window_secs = config.window.as_secs();
        let message = if config.threshold <= 1 {
            format!("{} for tenant {}", rule.event_type(), tenant.as_str())
        } else {
            format!(
                "{observed} {} events for tenant {} within {window_secs} s (threshold {})",
                rule.event_type(),
                tenant.as_str(),
                config.threshold
            )
        };
        let window_start_text = eventstream_core::format_timestamp(&from_ms(window_start));
        let mut details = Map::new();
        details.insert("rule".into(), json!(rule.name()));
        details.insert("tenant".into(), json!(tenant.as_str()));
        details.insert("event_type".into(), json!(rule.event_type()));
        details.insert("observed".into(), json!(observed));
        details.insert("threshold".into(), json!(config.threshold));
        details.insert("window_secs".into(), json!(window_secs));
        details.insert("window_start".into(), Value::String(window_start_text));
        details.insert("trigger_event_id".into(), json!(event.id.as_str()));
        let payload = SystemAlert {
            message: message.clone(),
            alert_type: Some(rule.name().to_owned()),
            component: Some(COMPONENT.to_owned()),
            details: Some(details),
        };
        let mut alert = Origin::background(tenant.clone(), event.correlation_id.clone()).stamp(payload.to_event());
        alert.causation_id = Some(event.id.as_str().to_owned());
        alert.severity = Some(rule.severity());
        let written = sqlx::query(
            "INSERT INTO security_alerts (alert_id, rule, tenant, window_start, window_secs, event_type, severity, message, \
             observed, threshold, trigger_event_id, raised_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (rule, tenant, window_start) DO NOTHING",
        )
        .bind(alert.id.as_str().to_owned())
        .bind(rule.name())
        .bind(tenant.as_str().to_owned())
        .bind(window_start)
        .bind(i64::try_from(window_secs).unwrap_or(i64::MAX))
        .bind(rule.event_type())
        .bind(rule.severity().as_str())
        .bind(message)
        .bind(observed)
        .bind(i64::from(config.threshold))
        .bind(event.id.as_str().to_owned())
        .bind(now_ms)
        .execute(tx.conn())
        .await
        .map_err(db("recording a security alert"))?
        .rows_affected();
        if written == 0 {
            return Ok(None);
        }
        self.events.outbox_in_tx(tx, std::slice::from_ref(&alert)).await?;
        Ok(Some(alert))
    }

    /// Wakes the outbox relay after a commit that raised alerts.
    pub(crate) fn wake_relay(&self) {
        self.events.wake_relay();
    }

    /// Deletes observations no window needs any more, at most once a minute per process.
    async fn prune_in(&self, tx: &mut Tx, now_ms: i64) -> Result<(), StoreError> {
        let minute = now_ms.div_euclid(60_000);
        if self.last_prune_minute.swap(minute, Ordering::Relaxed) == minute {
            return Ok(());
        }
        sqlx::query("DELETE FROM security_observations WHERE at_ms < $1")
            .bind(now_ms.saturating_sub(self.config.longest_window_ms().saturating_mul(2)))
            .execute(tx.conn())
            .await
            .map_err(db("deleting old security observations"))?;
        Ok(())
    }

    /// Alerts matching `filter`, newest first, at most `limit`.
    ///
    /// # Errors
    /// The store's error.
    pub async fn alerts(&self, filter: &AlertFilter, limit: u32) -> Result<Vec<Alert>, StoreError> {
        let mut clauses = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        let mut add = |clause: &str, value: String| {
            binds.push(value);
            clauses.push(format!("{clause} ${}", binds.len()));
        };
        if let Some(t) = &filter.tenant {
            add("tenant =", t.as_str().to_owned());
        }
        if let Some(r) = filter.rule {
            add("rule =", r.name().to_owned());
        }
        if let Some(b) = &filter.before {
            add("alert_id <", b.clone());
        }
        let cond = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
        let sql = format!("SELECT {ALERT_COLUMNS} FROM security_alerts{cond} ORDER BY alert_id DESC LIMIT {}", limit.max(1));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(self.events.store().pool()).await.map_err(db("listing security alerts"))?;
        rows.iter().map(alert_of).collect::<Result<_, sqlx::Error>>().map_err(db("reading security alerts"))
    }
}

/// The tenant of an event: the envelope's, else a valid payload `tenant_id` (events written by the Python
/// side carried it only there), else `default`.
fn tenant_of(event: &Event) -> TenantId {
    if let Some(t) = &event.tenant_id {
        return t.clone();
    }
    let from_payload = event.payload.get("tenant_id").and_then(Value::as_str).and_then(|s| s.parse::<TenantId>().ok());
    from_payload.unwrap_or_else(TenantId::default_tenant)
}

fn from_ms(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn alert_of(r: &eventstream::store::sqlx::any::AnyRow) -> Result<Alert, sqlx::Error> {
    let n = |i: usize| -> Result<u64, sqlx::Error> { Ok(u64::try_from(r.try_get::<i64, _>(i)?).unwrap_or(0)) };
    let time = |i: usize| -> Result<String, sqlx::Error> { Ok(eventstream_core::format_timestamp(&from_ms(r.try_get(i)?))) };
    Ok(Alert {
        id: r.try_get(0)?,
        rule: r.try_get(1)?,
        tenant: r.try_get(2)?,
        event_type: r.try_get(3)?,
        severity: r.try_get(4)?,
        message: r.try_get(5)?,
        observed: n(6)?,
        threshold: n(7)?,
        window_secs: n(8)?,
        window_start: time(9)?,
        trigger_event_id: r.try_get(10)?,
        raised_at: time(11)?,
    })
}
