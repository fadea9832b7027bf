//! `telemetry.*`: robot telemetry connections and metric snapshots.
//!
//! Reference: original-modules.md §8. Source `telemetry_service`. The original always reported the close
//! reason `client_disconnect`; producers here report the real reason.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A robot opened a telemetry connection.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TelemetryConnectionEstablished {
    /// The robot.
    pub robot_id: String,
    /// The connection (`ws_<robot_id>_<epoch seconds>`).
    pub connection_id: String,
    /// When (epoch seconds).
    pub connected_at: f64,
}

event_payload!(TelemetryConnectionEstablished {
    type: "telemetry.connection_established",
    module: "telemetry",
    source: "telemetry_service",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "A robot opened a telemetry connection.",
});

/// A robot's telemetry connection closed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TelemetryConnectionClosed {
    /// The robot.
    pub robot_id: String,
    /// The connection.
    pub connection_id: String,
    /// How long it was open, in seconds.
    pub duration_seconds: f64,
    /// Why it closed (`client_disconnect`, `replaced`, `error`, ...).
    pub reason: String,
    /// When (epoch seconds).
    pub disconnected_at: f64,
}

event_payload!(TelemetryConnectionClosed {
    type: "telemetry.connection_closed",
    module: "telemetry",
    source: "telemetry_service",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "A robot's telemetry connection closed.",
});

/// A robot's resource metrics.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct RobotMetrics {
    /// CPU usage, percent.
    pub cpu_usage: f64,
    /// Memory usage, percent.
    pub memory_usage: f64,
    /// Network latency, milliseconds.
    pub network_latency_ms: f64,
    /// Battery charge, percent.
    pub battery_percentage: f64,
}

/// A robot's metrics snapshot was published.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TelemetryMetricsPublished {
    /// The robot.
    pub robot_id: String,
    /// The metrics.
    pub metrics: RobotMetrics,
    /// When (epoch seconds).
    pub published_at: f64,
}

event_payload!(TelemetryMetricsPublished {
    type: "telemetry.metrics_published",
    module: "telemetry",
    source: "telemetry_service",
    version: 1,
    criticality: Low,
    consumers: [],
    description: "A robot's metrics snapshot was published.",
});
