//! Connections and metrics of the telemetry module.

use std::collections::HashMap;
use std::sync::Mutex;

use brain_events::EventPayload;
use brain_events::telemetry::{RobotMetrics, TelemetryConnectionClosed, TelemetryConnectionEstablished, TelemetryMetricsPublished};
use eventstream::EventStream;
use eventstream::store::StoreError;
use eventstream::store::sqlx::{self, Row};
use eventstream_core::Event;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::sql::db;
use crate::web::{Origin, ms_to_secs, now_ms, now_secs};

/// The live connection of one robot: its id and how to tell it that a newer one replaced it.
struct Live {
    connection_id: String,
    replaced: oneshot::Sender<()>,
}

/// The telemetry service.
pub struct TelemetryService {
    events: EventStream,
    live: Mutex<HashMap<(String, String), Live>>,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for TelemetryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryService").finish_non_exhaustive()
    }
}

impl TelemetryService {
    /// The service over `events`.
    pub fn new(events: EventStream) -> Self {
        Self { events, live: Mutex::new(HashMap::new()), shutdown: CancellationToken::new() }
    }

    /// Cancelled when the server shuts down: open connections close with reason `server_shutdown`.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Open connections of the tenant.
    pub fn active_connections(&self, tenant: &str) -> usize {
        self.live.lock().map(|m| m.keys().filter(|(t, _)| t == tenant).count()).unwrap_or(0)
    }

    /// Registers a new connection (replacing and signalling an older one of the same robot) and writes
    /// its row and `telemetry.connection_established`. Returns the receiver that fires when a newer
    /// connection replaces this one.
    ///
    /// # Errors
    /// The store's error (the connection is then not registered).
    pub(crate) async fn open(&self, origin: &Origin, robot_id: &str, connection_id: &str) -> Result<oneshot::Receiver<()>, StoreError> {
        let now = now_ms();
        let mut tx = self.events.store().begin().await?;
        sqlx::query("INSERT INTO telemetry_connections (connection_id, tenant, robot_id, connected_at) VALUES ($1, $2, $3, $4)")
            .bind(connection_id.to_owned())
            .bind(origin.tenant().to_owned())
            .bind(robot_id.to_owned())
            .bind(now)
            .execute(tx.conn())
            .await
            .map_err(db("recording a telemetry connection"))?;
        let e = TelemetryConnectionEstablished {
            robot_id: robot_id.to_owned(),
            connection_id: connection_id.to_owned(),
            connected_at: ms_to_secs(now),
        };
        self.events.outbox_in_tx(&mut tx, &[origin.stamp(e.to_event())]).await?;
        tx.commit().await?;
        self.events.wake_relay();
        let (tx_replaced, rx_replaced) = oneshot::channel();
        let old = self.live.lock().ok().and_then(|mut m| {
            m.insert(
                (origin.tenant().to_owned(), robot_id.to_owned()),
                Live { connection_id: connection_id.to_owned(), replaced: tx_replaced },
            )
        });
        if let Some(old) = old {
            let _ = old.replaced.send(());
        }
        Ok(rx_replaced)
    }

    /// Records the end of a connection with its real reason and duration, and unregisters it unless a
    /// newer connection of the robot already took its place.
    pub(crate) async fn close(&self, origin: &Origin, robot_id: &str, connection_id: &str, reason: &str, duration_seconds: f64) {
        if let Ok(mut m) = self.live.lock() {
            let key = (origin.tenant().to_owned(), robot_id.to_owned());
            if m.get(&key).is_some_and(|l| l.connection_id == connection_id) {
                m.remove(&key);
            }
        }
        let now = now_ms();
        let event = origin.stamp(
            TelemetryConnectionClosed {
                robot_id: robot_id.to_owned(),
                connection_id: connection_id.to_owned(),
                duration_seconds,
                reason: reason.to_owned(),
                disconnected_at: ms_to_secs(now),
            }
            .to_event(),
        );
        let written = async {
            let mut tx = self.events.store().begin().await?;
            sqlx::query("UPDATE telemetry_connections SET closed_at = $1, reason = $2, duration_seconds = $3 WHERE connection_id = $4")
                .bind(now)
                .bind(reason.to_owned())
                .bind(duration_seconds)
                .bind(connection_id.to_owned())
                .execute(tx.conn())
                .await
                .map_err(db("closing a telemetry connection"))?;
            self.events.outbox_in_tx(&mut tx, std::slice::from_ref(&event)).await?;
            tx.commit().await
        }
        .await;
        match written {
            Ok(()) => self.events.wake_relay(),
            Err(e) => {
                // The close must still be reported: fall back to the never-failing emit path.
                tracing::warn!(error = %eventstream_core::error::Chain(&e), "cannot record a telemetry close; emitting the event alone");
                self.events.emit(event).await;
            }
        }
    }

    /// Stores a robot's metrics and publishes `telemetry.metrics_published` in the same transaction.
    ///
    /// # Errors
    /// The store's error.
    pub async fn publish_metrics(&self, origin: &Origin, robot_id: &str, metrics: RobotMetrics) -> Result<f64, StoreError> {
        let now = now_ms();
        let mut tx = self.events.store().begin().await?;
        sqlx::query(
            "INSERT INTO telemetry_metrics (tenant, robot_id, cpu_usage, memory_usage, network_latency_ms, battery_percentage, published_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant, robot_id) DO UPDATE SET cpu_usage = excluded.cpu_usage, \
             memory_usage = excluded.memory_usage, network_latency_ms = excluded.network_latency_ms, \
             battery_percentage = excluded.battery_percentage, published_at = excluded.published_at",
        )
        .bind(origin.tenant().to_owned())
        .bind(robot_id.to_owned())
        .bind(metrics.cpu_usage)
        .bind(metrics.memory_usage)
        .bind(metrics.network_latency_ms)
        .bind(metrics.battery_percentage)
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(db("storing robot metrics"))?;
        let e = TelemetryMetricsPublished { robot_id: robot_id.to_owned(), metrics, published_at: ms_to_secs(now) };
        self.events.outbox_in_tx(&mut tx, &[origin.stamp(e.to_event())]).await?;
        tx.commit().await?;
        self.events.wake_relay();
        Ok(ms_to_secs(now))
    }

    /// A robot's latest metrics, published again as a snapshot (`telemetry.metrics_published`, as the
    /// original's metrics route did); `None` for a robot that never reported.
    ///
    /// # Errors
    /// The store's error.
    pub async fn latest_metrics(&self, origin: &Origin, robot_id: &str) -> Result<Option<RobotMetrics>, StoreError> {
        let row = sqlx::query(
            "SELECT cpu_usage, memory_usage, network_latency_ms, battery_percentage FROM telemetry_metrics WHERE tenant = $1 AND robot_id = $2",
        )
        .bind(origin.tenant().to_owned())
        .bind(robot_id.to_owned())
        .fetch_optional(self.events.store().pool())
        .await
        .map_err(db("reading robot metrics"))?;
        let Some(r) = row else { return Ok(None) };
        let e = || db("reading robot metrics");
        let m = RobotMetrics {
            cpu_usage: r.try_get(0).map_err(e())?,
            memory_usage: r.try_get(1).map_err(e())?,
            network_latency_ms: r.try_get(2).map_err(e())?,
            battery_percentage: r.try_get(3).map_err(e())?,
        };
        let event: Event =
            origin.stamp(TelemetryMetricsPublished { robot_id: robot_id.to_owned(), metrics: m, published_at: now_secs() }.to_event());
        self.events.emit(event).await;
        Ok(Some(m))
    }
}

/// Checks a metrics frame's ranges: percentages 0 to 100, latency 0 to 1e6 ms.
pub(crate) fn check_metrics(m: &RobotMetrics) -> Result<(), String> {
    let pct = [("cpu_usage", m.cpu_usage), ("memory_usage", m.memory_usage), ("battery_percentage", m.battery_percentage)];
    for (field, v) in pct {
        if !v.is_finite() || !(0.0..=100.0).contains(&v) {
            return Err(format!("`{field}` must be between 0 and 100"));
        }
    }
    if !m.network_latency_ms.is_finite() || !(0.0..=1e6).contains(&m.network_latency_ms) {
        return Err("`network_latency_ms` must be between 0 and 1000000".into());
    }
    Ok(())
}
