//! `policy.*`: policy evaluations and policy administration.
//!
//! Reference: original-modules.md §10.4. Source `policy_engine`. The original's payload builder added keys
//! only when present; optional fields here are omitted when absent. `matched_policy` and `matched_rule`
//! sit at the top level (the code and tests), not inside `result` (the original's EVENTS.md). The
//! timestamp key is `<suffix>_at` for the part of the type after `policy.`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::consumers::SECURITY_MONITORING;

/// A policy rule's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyEffect {
    /// Allowed.
    Allow,
    /// Denied.
    #[default]
    Deny,
    /// Allowed with a warning.
    Warn,
    /// Allowed, must be audited.
    Audit,
}

/// Who wants to do what: the evaluation context.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PolicyContext {
    /// The acting agent.
    pub agent_id: String,
    /// The agent's role (`admin`, `guest`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_role: Option<String>,
    /// The action.
    pub action: String,
    /// The resource acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PolicyResult {
    /// Whether the action may proceed.
    pub allowed: bool,
    /// The effect applied.
    pub effect: PolicyEffect,
    /// Why (`Allowed by rule '...'`, `No matching rules - applied default effect: deny`, ...).
    pub reason: String,
}

/// An action was evaluated against the policies (every evaluation with at least one enabled policy).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PolicyEvaluated {
    /// Who wants to do what.
    #[serde(flatten)]
    pub context: PolicyContext,
    /// The policy of the matching rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// That policy's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// The matching rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// That rule's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    /// The verdict.
    pub result: PolicyResult,
    /// The matching policy id, as the result reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_policy: Option<String>,
    /// The matching rule id, as the result reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_rule: Option<String>,
    /// Warnings of a `warn` rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
    /// Present and true when an `audit` rule matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_audit: Option<bool>,
    /// How long the evaluation took, in milliseconds.
    pub evaluation_time_ms: f64,
    /// When (epoch seconds).
    pub evaluated_at: f64,
}

event_payload!(PolicyEvaluated {
    type: "policy.evaluated",
    module: "policy",
    source: "policy_engine",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "An action was evaluated against the policies.",
});

/// An action was denied (emitted after `policy.evaluated`). When the safety check overrode the allow of a
/// `warn` or `audit` rule, the denied result still carries that rule's `warnings` / `requires_audit`, as
/// the original's payload builder added them whenever the result had them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PolicyDenied {
    /// Who wanted to do what.
    #[serde(flatten)]
    pub context: PolicyContext,
    /// The policy of the matching rule (absent when the default effect applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// That policy's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// The matching rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// That rule's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    /// The verdict.
    pub result: PolicyResult,
    /// The matching policy id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_policy: Option<String>,
    /// The matching rule id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_rule: Option<String>,
    /// Warnings of a `warn` rule whose allow the safety check overrode (omitted otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
    /// Present and true when an `audit` rule's allow was overridden by the safety check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_audit: Option<bool>,
    /// When (epoch seconds).
    pub denied_at: f64,
}

event_payload!(PolicyDenied {
    type: "policy.denied",
    module: "policy",
    source: "policy_engine",
    version: 1,
    criticality: High,
    consumers: [SECURITY_MONITORING],
    description: "An action was denied by policy.",
});

/// A `warn` rule matched (the action is allowed). Carries no `result`, as in the original.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PolicyWarningTriggered {
    /// Who wants to do what.
    #[serde(flatten)]
    pub context: PolicyContext,
    /// The policy of the rule.
    pub policy_id: String,
    /// That policy's name.
    pub policy_name: String,
    /// The rule.
    pub rule_id: String,
    /// That rule's name.
    pub rule_name: String,
    /// The warnings.
    pub warnings: Vec<String>,
    /// When (epoch seconds).
    pub warning_triggered_at: f64,
}

event_payload!(PolicyWarningTriggered {
    type: "policy.warning_triggered",
    module: "policy",
    source: "policy_engine",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "A warning rule matched an allowed action.",
});

/// An `audit` rule matched (the action is allowed, and must be audited).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PolicyAuditRequired {
    /// Who wants to do what.
    #[serde(flatten)]
    pub context: PolicyContext,
    /// The policy of the rule.
    pub policy_id: String,
    /// That policy's name.
    pub policy_name: String,
    /// The rule.
    pub rule_id: String,
    /// That rule's name.
    pub rule_name: String,
    /// The verdict.
    pub result: PolicyResult,
    /// The matching policy id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_policy: Option<String>,
    /// The matching rule id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_rule: Option<String>,
    /// Always true.
    pub requires_audit: bool,
    /// When (epoch seconds).
    pub audit_required_at: f64,
}

event_payload!(PolicyAuditRequired {
    type: "policy.audit_required",
    module: "policy",
    source: "policy_engine",
    version: 1,
    criticality: High,
    consumers: [SECURITY_MONITORING],
    description: "An audit rule matched: the action must be audited.",
});

/// A policy was created.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PolicyCreated {
    /// The policy id.
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// When (epoch seconds).
    pub created_at: f64,
}

event_payload!(PolicyCreated {
    type: "policy.created",
    module: "policy",
    source: "policy_engine",
    version: 1,
    criticality: High,
    consumers: [SECURITY_MONITORING],
    description: "A policy was created.",
});

/// A changed value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Change<T> {
    /// The value before.
    pub old: T,
    /// The value after.
    pub new: T,
}

/// A changed rule list, by size.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct RulesChange {
    /// Rules before.
    pub old_count: u32,
    /// Rules after.
    pub new_count: u32,
}

/// What an update changed, one entry per changed field.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PolicyChanges {
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Change<String>>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Change<String>>,
    /// The rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<RulesChange>,
    /// The default effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_effect: Option<Change<PolicyEffect>>,
    /// Whether it is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<Change<bool>>,
}

/// A policy was updated.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PolicyUpdated {
    /// The policy id.
    pub policy_id: String,
    /// Its name (after the update).
    pub policy_name: String,
    /// What changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<PolicyChanges>,
    /// When (epoch seconds).
    pub updated_at: f64,
}

event_payload!(PolicyUpdated {
    type: "policy.updated",
    module: "policy",
    source: "policy_engine",
    version: 1,
    criticality: High,
    consumers: [SECURITY_MONITORING],
    description: "A policy was updated.",
});

/// A policy was deleted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PolicyDeleted {
    /// The policy id.
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// When (epoch seconds).
    pub deleted_at: f64,
}

event_payload!(PolicyDeleted {
    type: "policy.deleted",
    module: "policy",
    source: "policy_engine",
    version: 1,
    criticality: High,
    consumers: [SECURITY_MONITORING],
    description: "A policy was deleted.",
});
