//! metrics: the mission metrics aggregation job (`aggregate_mission_metrics`).
//!
//! Every `metrics_interval` (default 30 s), and on `POST /api/metrics/aggregate`, it reads the mission
//! events appended since its last run from the event log, keeps each mission's last known status in
//! `metrics_mission_status` (its cursor in `metrics_cursor`), and reports `metrics.aggregation_started`,
//! then `metrics.aggregation_completed` with the entries processed, the duration and the counts by status
//! (or `metrics.aggregation_failed` with the error). `GET /api/metrics/results` serves the counts.
//!
//! The original read a Redis stream nobody wrote, with an un-awaited client and a bytes key, so it could
//! only fail (original-modules.md §7, §15.8); this one reads the real log, incrementally, so each run
//! costs only the new entries.

mod api;
mod service;

pub(crate) use api::router;
pub use service::{AggregationResult, JOB_ID, MetricsError, MetricsService};
