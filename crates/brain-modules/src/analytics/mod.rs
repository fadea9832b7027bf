//! analytics: event rates per type, module and tenant over sliding windows (1 minute, 1 hour, 24 hours),
//! and created/completed/failed counts per module with failure ratios. The original had none; the Sprint 1
//! report named it as a consumer of `*_created`, `*_completed` and `*_failed`.
//!
//! The `analytics` subscriber reads every event (pattern `*`) and counts it, in the inbox transaction,
//! into per-second and per-minute buckets keyed by tenant and type, and into per-module totals. So the
//! cost of recording and of answering is independent of how many events came before, a redelivered event
//! is counted once, and replicas sharing the subscriber's group count each event once between them.
//!
//! Definitions:
//! - an event counts at its envelope `timestamp`, but never later than the time it is counted (a clock
//!   ahead of ours cannot put events into the future); an event older than a window's buckets (a replay
//!   of old history) is left out of that window but counted in the module totals;
//! - the 1-minute window is the last 60 seconds, to the second; the 1-hour and 24-hour windows are the
//!   last 60 and 1440 minutes, the current minute included;
//! - the module is the type's first segment; a type ending in `.created`/`_created`, `.completed`/
//!   `_completed` or `.failed`/`_failed` counts as created, completed or failed;
//! - failure ratio = failed / (completed + failed), `null` while nothing finished;
//! - module totals without a window count since the tables were created; `brain replay --reprocess` of
//!   this subscriber counts the replayed events again (it bypasses the inbox by design).

mod api;
pub(crate) mod handlers;
pub mod model;
mod service;

pub(crate) use api::router;
pub use model::{ModuleStats, ModulesReport, Rate, Rates, Window};
pub use service::AnalyticsService;
