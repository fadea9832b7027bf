//! The rules of security monitoring and their settings: `[security]` in `brain.toml`.
//!
//! ```toml
//! [security.ir_approval_invalid_burst]   # defaults shown
//! threshold = 5
//! window_secs = 60
//! enabled = true
//!
//! [security.policy_denied_spike]
//! threshold = 20
//! ```
//!
//! | Rule | Type | Default | Alert severity |
//! |---|---|---|---|
//! | `ir_approval_invalid_burst` | `ir.approval_invalid` | 5 in 60 s | ERROR |
//! | `ir_dag_diff_failed` | `ir.dag_diff_failed` | any (1 in 60 s) | CRITICAL |
//! | `policy_denied_spike` | `policy.denied` | 20 in 60 s | WARNING |
//! | `threat_escalated` | `threat.escalated` | any (1 in 60 s) | CRITICAL |
//! | `immune_critical_event` | `immune.critical_event` | any (1 in 60 s) | CRITICAL |
//!
//! A rule fires when `threshold` events of its type for one tenant fall within `window_secs` (a sliding
//! window ending at the event). It raises at most one alert per tenant and fixed window of `window_secs`
//! (windows start at multiples of `window_secs` since the epoch), so a sustained burst gives one alert per
//! window, not one per event.

use std::time::Duration;

use brain_events::EventPayload;
use brain_events::immune::ImmuneCriticalEvent;
use brain_events::ir::{IrApprovalInvalid, IrDagDiffFailed};
use brain_events::policy::PolicyDenied;
use brain_events::threat::ThreatEscalated;
use eventstream_core::Severity;
use serde::Deserialize;

/// A security rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// A burst of `ir.approval_invalid` for one tenant (someone guessing or replaying approval tokens).
    ApprovalInvalidBurst,
    /// Any `ir.dag_diff_failed` (a DAG that does not implement the IR it claims to).
    DagDiffFailed,
    /// A spike of `policy.denied`.
    PolicyDeniedSpike,
    /// Any `threat.escalated`.
    ThreatEscalated,
    /// Any `immune.critical_event`.
    ImmuneCriticalEvent,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 5] =
        [Rule::ApprovalInvalidBurst, Rule::DagDiffFailed, Rule::PolicyDeniedSpike, Rule::ThreatEscalated, Rule::ImmuneCriticalEvent];

    /// The rule's name: its key in `[security]`, the alert's `alert_type`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::ApprovalInvalidBurst => "ir_approval_invalid_burst",
            Rule::DagDiffFailed => "ir_dag_diff_failed",
            Rule::PolicyDeniedSpike => "policy_denied_spike",
            Rule::ThreatEscalated => "threat_escalated",
            Rule::ImmuneCriticalEvent => "immune_critical_event",
        }
    }

    /// The event type the rule counts.
    pub fn event_type(self) -> &'static str {
        match self {
            Rule::ApprovalInvalidBurst => IrApprovalInvalid::TYPE,
            Rule::DagDiffFailed => IrDagDiffFailed::TYPE,
            Rule::PolicyDeniedSpike => PolicyDenied::TYPE,
            Rule::ThreatEscalated => ThreatEscalated::TYPE,
            Rule::ImmuneCriticalEvent => ImmuneCriticalEvent::TYPE,
        }
    }

    /// The envelope severity of the rule's alerts.
    pub fn severity(self) -> Severity {
        match self {
            Rule::ApprovalInvalidBurst => Severity::Error,
            Rule::PolicyDeniedSpike => Severity::Warning,
            Rule::DagDiffFailed | Rule::ThreatEscalated | Rule::ImmuneCriticalEvent => Severity::Critical,
        }
    }

    /// The rule counting events of `event_type`, if any.
    pub fn for_type(event_type: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.event_type() == event_type)
    }

    /// The rule called `name`, if any.
    pub fn named(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// One rule's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleConfig {
    /// Whether the rule raises alerts.
    pub enabled: bool,
    /// Events of one tenant within `window` that make it fire (1 = any event).
    pub threshold: u32,
    /// The sliding window counted, and the length of the fixed windows that get one alert each.
    pub window: Duration,
}

impl RuleConfig {
    const fn new(threshold: u32, window_secs: u64) -> Self {
        Self { enabled: true, threshold, window: Duration::from_secs(window_secs) }
    }

    /// The window in milliseconds (at least 1).
    pub fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX).max(1)
    }
}

/// The settings of every rule. `SecurityConfig::default()` holds the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityConfig {
    /// `ir_approval_invalid_burst` (default 5 in 60 s).
    pub ir_approval_invalid_burst: RuleConfig,
    /// `ir_dag_diff_failed` (default any, one alert per 60 s).
    pub ir_dag_diff_failed: RuleConfig,
    /// `policy_denied_spike` (default 20 in 60 s).
    pub policy_denied_spike: RuleConfig,
    /// `threat_escalated` (default any, one alert per 60 s).
    pub threat_escalated: RuleConfig,
    /// `immune_critical_event` (default any, one alert per 60 s).
    pub immune_critical_event: RuleConfig,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            ir_approval_invalid_burst: RuleConfig::new(5, 60),
            ir_dag_diff_failed: RuleConfig::new(1, 60),
            policy_denied_spike: RuleConfig::new(20, 60),
            threat_escalated: RuleConfig::new(1, 60),
            immune_critical_event: RuleConfig::new(1, 60),
        }
    }
}

impl SecurityConfig {
    /// The settings of `rule`.
    pub fn rule(&self, rule: Rule) -> &RuleConfig {
        match rule {
            Rule::ApprovalInvalidBurst => &self.ir_approval_invalid_burst,
            Rule::DagDiffFailed => &self.ir_dag_diff_failed,
            Rule::PolicyDeniedSpike => &self.policy_denied_spike,
            Rule::ThreatEscalated => &self.threat_escalated,
            Rule::ImmuneCriticalEvent => &self.immune_critical_event,
        }
    }

    fn rule_mut(&mut self, rule: Rule) -> &mut RuleConfig {
        match rule {
            Rule::ApprovalInvalidBurst => &mut self.ir_approval_invalid_burst,
            Rule::DagDiffFailed => &mut self.ir_dag_diff_failed,
            Rule::PolicyDeniedSpike => &mut self.policy_denied_spike,
            Rule::ThreatEscalated => &mut self.threat_escalated,
            Rule::ImmuneCriticalEvent => &mut self.immune_critical_event,
        }
    }

    /// The longest window of any rule (how long observations are kept).
    pub fn longest_window_ms(&self) -> i64 {
        Rule::ALL.into_iter().map(|r| self.rule(r).window_ms()).max().unwrap_or(1)
    }
}

/// Largest accepted threshold.
const MAX_THRESHOLD: u32 = 1_000_000;
/// Largest accepted window: one day.
const MAX_WINDOW_SECS: u64 = 86_400;

/// `[security]` as written in `brain.toml`: one optional table per rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// `[security.ir_approval_invalid_burst]`.
    pub ir_approval_invalid_burst: Option<RuleSettings>,
    /// `[security.ir_dag_diff_failed]`.
    pub ir_dag_diff_failed: Option<RuleSettings>,
    /// `[security.policy_denied_spike]`.
    pub policy_denied_spike: Option<RuleSettings>,
    /// `[security.threat_escalated]`.
    pub threat_escalated: Option<RuleSettings>,
    /// `[security.immune_critical_event]`.
    pub immune_critical_event: Option<RuleSettings>,
}

/// One rule's table in `brain.toml`; a key left out keeps its default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    /// Whether the rule raises alerts.
    pub enabled: Option<bool>,
    /// Events within the window that make it fire (1 to 1,000,000).
    pub threshold: Option<u32>,
    /// The window in seconds (1 to 86,400).
    pub window_secs: Option<u64>,
}

/// A `[security]` value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("security.{rule}.{key}: {reason}")]
pub struct SecurityConfigError {
    /// The rule's name.
    pub rule: &'static str,
    /// The key (`threshold`, `window_secs`).
    pub key: &'static str,
    /// What is wrong.
    pub reason: &'static str,
}

impl SecuritySettings {
    /// The settings over the defaults, checked.
    ///
    /// # Errors
    /// [`SecurityConfigError`] naming the first key out of range.
    pub fn resolve(&self) -> Result<SecurityConfig, SecurityConfigError> {
        let mut config = SecurityConfig::default();
        for rule in Rule::ALL {
            let given = match rule {
                Rule::ApprovalInvalidBurst => self.ir_approval_invalid_burst,
                Rule::DagDiffFailed => self.ir_dag_diff_failed,
                Rule::PolicyDeniedSpike => self.policy_denied_spike,
                Rule::ThreatEscalated => self.threat_escalated,
                Rule::ImmuneCriticalEvent => self.immune_critical_event,
            };
            let Some(given) = given else { continue };
            let target = config.rule_mut(rule);
            if let Some(e) = given.enabled {
                target.enabled = e;
            }
            if let Some(t) = given.threshold {
                if !(1..=MAX_THRESHOLD).contains(&t) {
                    return Err(SecurityConfigError { rule: rule.name(), key: "threshold", reason: "must be between 1 and 1000000" });
                }
                target.threshold = t;
            }
            if let Some(w) = given.window_secs {
                if !(1..=MAX_WINDOW_SECS).contains(&w) {
                    return Err(SecurityConfigError { rule: rule.name(), key: "window_secs", reason: "must be between 1 and 86400" });
                }
                target.window = Duration::from_secs(w);
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_have_distinct_names_and_types() {
        for r in Rule::ALL {
            assert_eq!(Rule::named(r.name()), Some(r));
            assert_eq!(Rule::for_type(r.event_type()), Some(r));
        }
    }

    #[test]
    fn settings_override_defaults_and_are_checked() {
        let s: SecuritySettings = serde_json::from_value(serde_json::json!({"policy_denied_spike": {"threshold": 3, "window_secs": 10}}))
            .unwrap_or_else(|e| panic!("{e}"));
        let c = s.resolve().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.policy_denied_spike, RuleConfig { enabled: true, threshold: 3, window: Duration::from_secs(10) });
        assert_eq!(c.ir_approval_invalid_burst, SecurityConfig::default().ir_approval_invalid_burst);
        assert_eq!(c.ir_approval_invalid_burst.threshold, 5);
        let bad: SecuritySettings =
            serde_json::from_value(serde_json::json!({"threat_escalated": {"window_secs": 0}})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            bad.resolve().map_err(|e| e.to_string()),
            Err("security.threat_escalated.window_secs: must be between 1 and 86400".into())
        );
        assert!(serde_json::from_value::<SecuritySettings>(serde_json::json!({"nope": {}})).is_err());
        assert!(serde_json::from_value::<SecuritySettings>(serde_json::json!({"threat_escalated": {"treshold": 2}})).is_err());
    }
}
