//! security monitoring: rules over the security-relevant events that raise one `system.alert` per rule,
//! tenant and window, listed at `GET /api/security/alerts`. The original had none; its Sprint 1 report
//! named it (for `ir.approval_invalid` and `ir.dag_diff_failed`) as a future consumer.
//!
//! The `security_monitoring` subscriber reads the 13 types of [`model::WATCHED_TYPES`]. Five have rules,
//! configured in `[security]` of `brain.toml` ([`config`] lists them with their defaults): a burst of
//! `ir.approval_invalid` for one tenant (5 in 60 s), any `ir.dag_diff_failed`, a spike of `policy.denied`
//! (20 in 60 s), any `threat.escalated`, any `immune.critical_event`.
//!
//! Each firing raises one `system.alert` (`alert_type` = the rule's name, `component` =
//! `security_monitoring`, `details` with the counts and window, envelope tenant = the tenant whose events
//! fired it, `causation_id` = the triggering event, its correlation id carried on). No alert storm: the
//! alert table is unique on (rule, tenant, window start), and the alert row, its outbox event and the
//! inbox row commit in one transaction, so redeliveries, `--reprocess` replays and replicas cannot double
//! it. Events count at their envelope time (never later than the time they are evaluated), so a replay
//! of old events lands in the old windows, whose alerts already exist.

mod api;
pub mod config;
pub(crate) mod handlers;
pub mod model;
mod service;

pub(crate) use api::router;
pub use config::{Rule, RuleConfig, RuleSettings, SecurityConfig, SecurityConfigError, SecuritySettings};
pub use model::{Alert, RuleView, WATCHED_TYPES};
pub use service::{AlertFilter, SecurityService};
