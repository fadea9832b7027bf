//! Security monitoring's data: the types it watches, and an alert as the route shows it.

use brain_events::EventPayload;
use brain_events::course::CourseWorkflowTransitioned;
use brain_events::immune::ImmuneCriticalEvent;
use brain_events::ir::{IrApprovalInvalid, IrDagDiffFailed};
use brain_events::policy::{PolicyAuditRequired, PolicyCreated, PolicyDeleted, PolicyDenied, PolicyUpdated};
use brain_events::threat::{ThreatDetected, ThreatEscalated, ThreatMitigated, ThreatStatusChanged};
use serde::Serialize;

/// The 13 security-relevant types the `security_monitoring` subscriber reads (chain C of the modules
/// spec): the types of ir_governance, course_factory, policy, threats and immune whose catalog entries
/// name it as a consumer. Only five have rules today; the others are delivered so that new rules need no
/// new subscription.
pub const WATCHED_TYPES: [&str; 13] = [
    IrApprovalInvalid::TYPE,
    IrDagDiffFailed::TYPE,
    CourseWorkflowTransitioned::TYPE,
    PolicyDenied::TYPE,
    PolicyAuditRequired::TYPE,
    PolicyCreated::TYPE,
    PolicyUpdated::TYPE,
    PolicyDeleted::TYPE,
    ThreatDetected::TYPE,
    ThreatStatusChanged::TYPE,
    ThreatEscalated::TYPE,
    ThreatMitigated::TYPE,
    ImmuneCriticalEvent::TYPE,
];

/// A raised alert (`GET /api/security/alerts`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The id of the `system.alert` event that announced it.
    pub id: String,
    /// The rule that fired.
    pub rule: String,
    /// The tenant whose events made it fire.
    pub tenant: String,
    /// The event type counted.
    pub event_type: String,
    /// `INFO`, `WARNING`, `ERROR` or `CRITICAL`.
    pub severity: String,
    /// What happened, for people.
    pub message: String,
    /// Events of the type counted in the sliding window when it fired.
    pub observed: u64,
    /// The rule's threshold then.
    pub threshold: u64,
    /// The rule's window then, in seconds.
    pub window_secs: u64,
    /// The start of the fixed window this alert stands for (RFC 3339); no other alert of the rule and
    /// tenant has the same.
    pub window_start: String,
    /// The event that made it fire (the alert event's `causation_id`).
    pub trigger_event_id: String,
    /// When it was raised (RFC 3339).
    pub raised_at: String,
}

/// A rule as `GET /api/security/rules` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleView {
    /// The rule's name.
    pub rule: &'static str,
    /// The event type it counts.
    pub event_type: &'static str,
    /// Whether it raises alerts.
    pub enabled: bool,
    /// Events within the window that make it fire.
    pub threshold: u32,
    /// The window in seconds.
    pub window_secs: u64,
    /// The severity of its alerts.
    pub severity: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watched_types_are_the_catalogs_security_feed() {
        let catalog = brain_events::Catalog::new();
        let mut watched: Vec<&str> = WATCHED_TYPES.to_vec();
        watched.sort_unstable();
        watched.dedup();
        assert_eq!(watched.len(), 13);
        for t in WATCHED_TYPES {
            let entry = catalog.get(t).unwrap_or_else(|| panic!("{t} is not in the catalog"));
            assert!(entry.consumers.contains(&brain_events::consumers::SECURITY_MONITORING), "{t}");
        }
        for r in super::super::config::Rule::ALL {
            assert!(WATCHED_TYPES.contains(&r.event_type()), "{}", r.name());
        }
    }
}
