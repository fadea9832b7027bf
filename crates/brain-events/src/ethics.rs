//! `ethics.*`: reviews and verdicts of the ethics and safety layer (the original's Foundation module).
//!
//! The original's core defined the three types (original-core-course-ir.md §1.2) with no producer; the
//! fields follow Foundation's `validate_action({action, params, context})` (original-modules.md §10.2).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::consumers::SECURITY_MONITORING;

/// An action was submitted for ethics review.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct EthicsReview {
    /// The action under review.
    pub action: String,
    /// The agent that wants to act.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The action's parameters and context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
}

event_payload!(EthicsReview {
    type: "ethics.review",
    module: "ethics",
    source: "foundation_service",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "An action was submitted for ethics review.",
});

/// An action was found unethical or unsafe and blocked.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct EthicsViolation {
    /// The blocked action.
    pub action: String,
    /// Why it was blocked.
    pub reason: String,
    /// The agent that wanted to act.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The rule or pattern that matched (`blacklist`, `unsafe_pattern`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

event_payload!(EthicsViolation {
    type: "ethics.violation",
    module: "ethics",
    source: "foundation_service",
    version: 1,
    criticality: Critical,
    consumers: [SECURITY_MONITORING],
    description: "An action was found unethical or unsafe and blocked.",
});

/// An action passed ethics review.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct EthicsApproval {
    /// The approved action.
    pub action: String,
    /// The agent that wants to act.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Who or what approved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
}

event_payload!(EthicsApproval {
    type: "ethics.approval",
    module: "ethics",
    source: "foundation_service",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "An action passed ethics review.",
});
