//! `metrics.*`: the periodic mission metrics aggregation job.
//!
//! Reference: original-modules.md §7. Source `metrics_service`. The original job read a stream nobody
//! wrote; ours aggregates `mission.*` events and reports the counts.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::consumers::SUPERVISOR;

/// An aggregation run started.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct MetricsAggregationStarted {
    /// The job (`aggregate_mission_metrics`).
    pub job_id: String,
    /// When (epoch seconds).
    pub started_at: f64,
}

event_payload!(MetricsAggregationStarted {
    type: "metrics.aggregation_started",
    module: "metrics",
    source: "metrics_service",
    version: 1,
    criticality: Low,
    consumers: [],
    description: "A metrics aggregation run started.",
});

/// An aggregation run finished.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct MetricsAggregationCompleted {
    /// The job (`aggregate_mission_metrics`).
    pub job_id: String,
    /// How many mission events were counted.
    pub entries_processed: u64,
    /// How long the run took, in milliseconds.
    pub duration_ms: f64,
    /// When (epoch seconds).
    pub completed_at: f64,
    /// The counts by mission status (new; the original only incremented a no-op counter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_counts: Option<BTreeMap<String, u64>>,
}

event_payload!(MetricsAggregationCompleted {
    type: "metrics.aggregation_completed",
    module: "metrics",
    source: "metrics_service",
    version: 1,
    criticality: Low,
    consumers: [SUPERVISOR],
    description: "A metrics aggregation run finished.",
});

/// An aggregation run failed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct MetricsAggregationFailed {
    /// The job (`aggregate_mission_metrics`).
    pub job_id: String,
    /// The error message.
    pub error_message: String,
    /// The error's kind.
    pub error_type: String,
    /// When (epoch seconds).
    pub failed_at: f64,
}

event_payload!(MetricsAggregationFailed {
    type: "metrics.aggregation_failed",
    module: "metrics",
    source: "metrics_service",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "A metrics aggregation run failed.",
});
