//! The analytics service: counts each event into time buckets inside the subscriber's transaction, and
//! answers the routes by summing the buckets of a window.
//!
//! Tables (tenant first in every key):
//! - `analytics_seconds (tenant, event_type, second, count)`: per-second buckets, kept 2 minutes, for the
//!   1-minute window;
//! - `analytics_minutes (tenant, event_type, minute, count)`: per-minute buckets, kept 25 hours, for the
//!   1-hour and 24-hour windows;
//! - `analytics_modules (tenant, module, events, created, completed, failed)`: totals since the start.
//!
//! Recording an event is three upserts; answering is a sum over at most one window of buckets. Neither
//! depends on how many events came before. Old buckets are deleted at most once a minute per process,
//! in the handler's transaction.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};

use eventstream::EventStream;
use eventstream::store::sqlx::{self, Row};
use eventstream::store::{StoreError, Tx};
use eventstream_core::{Event, TenantId};

use super::model::{ModuleStats, ModulesReport, Outcome, Rates, Window, failure_ratio, module_of, outcome_of, ranked};
use crate::sql::db;
use crate::web::now_ms;

/// Per-second buckets older than this are deleted (seconds).
const KEEP_SECONDS: i64 = 120;
/// Per-minute buckets older than this are deleted (minutes): 24 hours and one spare hour.
const KEEP_MINUTES: i64 = 25 * 60;

const UPSERT_SECOND: &str = "INSERT INTO analytics_seconds (tenant, event_type, second, count) VALUES ($1, $2, $3, 1) \
     ON CONFLICT (tenant, event_type, second) DO UPDATE SET count = analytics_seconds.count + 1";
const UPSERT_MINUTE: &str = "INSERT INTO analytics_minutes (tenant, event_type, minute, count) VALUES ($1, $2, $3, 1) \
     ON CONFLICT (tenant, event_type, minute) DO UPDATE SET count = analytics_minutes.count + 1";
const UPSERT_MODULE: &str = "INSERT INTO analytics_modules (tenant, module, events, created, completed, failed) \
     VALUES ($1, $2, 1, $3, $4, $5) ON CONFLICT (tenant, module) DO UPDATE SET events = analytics_modules.events + 1, \
     created = analytics_modules.created + excluded.created, completed = analytics_modules.completed + excluded.completed, \
     failed = analytics_modules.failed + excluded.failed";

const SUM_SECONDS_ALL: &str = "SELECT tenant, event_type, CAST(SUM(count) AS BIGINT) FROM analytics_seconds \
     WHERE second > $1 GROUP BY tenant, event_type";
const SUM_SECONDS_TENANT: &str = "SELECT tenant, event_type, CAST(SUM(count) AS BIGINT) FROM analytics_seconds \
     WHERE second > $1 AND tenant = $2 GROUP BY tenant, event_type";
const SUM_MINUTES_ALL: &str = "SELECT tenant, event_type, CAST(SUM(count) AS BIGINT) FROM analytics_minutes \
     WHERE minute > $1 GROUP BY tenant, event_type";
const SUM_MINUTES_TENANT: &str = "SELECT tenant, event_type, CAST(SUM(count) AS BIGINT) FROM analytics_minutes \
     WHERE minute > $1 AND tenant = $2 GROUP BY tenant, event_type";
const TOTALS_ALL: &str = "SELECT module, CAST(SUM(events) AS BIGINT), CAST(SUM(created) AS BIGINT), \
     CAST(SUM(completed) AS BIGINT), CAST(SUM(failed) AS BIGINT) FROM analytics_modules GROUP BY module";
const TOTALS_TENANT: &str = "SELECT module, CAST(SUM(events) AS BIGINT), CAST(SUM(created) AS BIGINT), \
     CAST(SUM(completed) AS BIGINT), CAST(SUM(failed) AS BIGINT) FROM analytics_modules WHERE tenant = $1 GROUP BY module";

/// The analytics service.
#[derive(Debug)]
pub struct AnalyticsService {
    events: EventStream,
    /// The minute this process last deleted old buckets in.
    last_prune_minute: AtomicI64,
}

impl AnalyticsService {
    /// The service over the state store of `events`.
    pub fn new(events: EventStream) -> Self {
        Self { events, last_prune_minute: AtomicI64::new(i64::MIN) }
    }

    /// Counts `event` in `tx`: its per-second and per-minute bucket (by the event's time, but never later
    /// than `now_ms`; a bucket already past its window is skipped) and its module's totals. Once a minute
    /// it also deletes buckets no window needs any more.
    ///
    /// # Errors
    /// The store's error (transient when retrying may help).
    pub(crate) async fn record_in(&self, tx: &mut Tx, event: &Event, now_ms: i64) -> Result<(), StoreError> {
        let tenant = TenantId::or_default(event.tenant_id.as_ref()).to_owned();
        let event_type = event.event_type.as_str();
        let at = event.timestamp.timestamp_millis().min(now_ms);
        let (second, now_second) = (at.div_euclid(1000), now_ms.div_euclid(1000));
        let (minute, now_minute) = (at.div_euclid(60_000), now_ms.div_euclid(60_000));
        if second > now_second - KEEP_SECONDS {
            sqlx::query(UPSERT_SECOND)
                .bind(tenant.clone())
                .bind(event_type.to_owned())
                .bind(second)
                .execute(tx.conn())
                .await
                .map_err(db("counting an event per second"))?;
        }
        if minute > now_minute - KEEP_MINUTES {
            sqlx::query(UPSERT_MINUTE)
                .bind(tenant.clone())
                .bind(event_type.to_owned())
                .bind(minute)
                .execute(tx.conn())
                .await
                .map_err(db("counting an event per minute"))?;
        }
        let outcome = outcome_of(event_type);
        let one = |o: Outcome| i64::from(outcome == Some(o));
        sqlx::query(UPSERT_MODULE)
            .bind(tenant)
            .bind(module_of(event_type).to_owned())
            .bind(one(Outcome::Created))
            .bind(one(Outcome::Completed))
            .bind(one(Outcome::Failed))
            .execute(tx.conn())
            .await
            .map_err(db("counting an event per module"))?;
        if self.last_prune_minute.swap(now_minute, Ordering::Relaxed) != now_minute {
            sqlx::query("DELETE FROM analytics_seconds WHERE second <= $1")
                .bind(now_second - KEEP_SECONDS)
                .execute(tx.conn())
                .await
                .map_err(db("deleting old per-second buckets"))?;
            sqlx::query("DELETE FROM analytics_minutes WHERE minute <= $1")
                .bind(now_minute - KEEP_MINUTES)
                .execute(tx.conn())
                .await
                .map_err(db("deleting old per-minute buckets"))?;
        }
        Ok(())
    }

    /// Per (tenant, type) counts of `window` ending now, for `tenant` or every tenant.
    async fn window_counts(&self, tenant: Option<&TenantId>, window: Window) -> Result<Vec<(String, String, u64)>, StoreError> {
        let now = now_ms();
        let (sql, after) = match (window, tenant.is_some()) {
            (Window::OneMinute, false) => (SUM_SECONDS_ALL, now.div_euclid(1000) - window.seconds()),
            (Window::OneMinute, true) => (SUM_SECONDS_TENANT, now.div_euclid(1000) - window.seconds()),
            (_, false) => (SUM_MINUTES_ALL, now.div_euclid(60_000) - window.seconds() / 60),
            (_, true) => (SUM_MINUTES_TENANT, now.div_euclid(60_000) - window.seconds() / 60),
        };
        let mut q = sqlx::query(sql).bind(after);
        if let Some(t) = tenant {
            q = q.bind(t.as_str().to_owned());
        }
        let rows = q.fetch_all(self.events.store().pool()).await.map_err(db("summing analytics buckets"))?;
        rows.iter()
            .map(|r| {
                let tenant: String = r.try_get(0)?;
                let event_type: String = r.try_get(1)?;
                let n: i64 = r.try_get(2)?;
                Ok((tenant, event_type, u64::try_from(n).unwrap_or(0)))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db("reading analytics buckets"))
    }

    /// The event rates of `window`, by type, module and tenant, for `tenant` (or every tenant).
    ///
    /// # Errors
    /// The store's error.
    pub async fn rates(&self, tenant: Option<&TenantId>, window: Window) -> Result<Rates, StoreError> {
        let counts = self.window_counts(tenant, window).await?;
        let (mut types, mut modules, mut tenants) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        let mut total = 0u64;
        for (t, ty, n) in counts {
            total += n;
            *modules.entry(module_of(&ty).to_owned()).or_insert(0) += n;
            *types.entry(ty).or_insert(0) += n;
            *tenants.entry(t).or_insert(0) += n;
        }
        let secs = window.seconds();
        Ok(Rates {
            window: window.as_str(),
            window_seconds: secs,
            tenant: tenant.map(|t| t.as_str().to_owned()),
            total,
            per_second: total as f64 / secs as f64,
            types: ranked(types, secs),
            modules: ranked(modules, secs),
            tenants: ranked(tenants, secs),
        })
    }

    /// Created/completed/failed counts per module with failure ratios: in `window`, or since the start when
    /// `window` is `None`; for `tenant` (or every tenant).
    ///
    /// # Errors
    /// The store's error.
    pub async fn modules(&self, tenant: Option<&TenantId>, window: Option<Window>) -> Result<ModulesReport, StoreError> {
        // module -> [events, created, completed, failed]
        let mut by_module: BTreeMap<String, [u64; 4]> = BTreeMap::new();
        match window {
            Some(w) => {
                for (_, ty, n) in self.window_counts(tenant, w).await? {
                    let c = by_module.entry(module_of(&ty).to_owned()).or_default();
                    c[0] += n;
                    match outcome_of(&ty) {
                        Some(Outcome::Created) => c[1] += n,
                        Some(Outcome::Completed) => c[2] += n,
                        Some(Outcome::Failed) => c[3] += n,
                        None => {}
                    }
                }
            }
            None => {
                let mut q = sqlx::query(if tenant.is_some() { TOTALS_TENANT } else { TOTALS_ALL });
                if let Some(t) = tenant {
                    q = q.bind(t.as_str().to_owned());
                }
                let rows = q.fetch_all(self.events.store().pool()).await.map_err(db("reading module totals"))?;
                for r in rows {
                    let module: String = r.try_get(0).map_err(db("reading module totals"))?;
                    let mut c = [0u64; 4];
                    for (i, slot) in c.iter_mut().enumerate() {
                        let n: i64 = r.try_get(i + 1).map_err(db("reading module totals"))?;
                        *slot = u64::try_from(n).unwrap_or(0);
                    }
                    by_module.insert(module, c);
                }
            }
        }
        let modules = by_module
            .into_iter()
            .map(|(module, [events, created, completed, failed])| ModuleStats {
                module,
                events,
                created,
                completed,
                failed,
                failure_ratio: failure_ratio(completed, failed),
            })
            .collect();
        Ok(ModulesReport { window: window.map_or("all", Window::as_str), tenant: tenant.map(|t| t.as_str().to_owned()), modules })
    }
}
