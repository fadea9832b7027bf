//! `threat.*`: detected threats and their status changes.
//!
//! Reference: original-modules.md §11.4. Source `threat_service`. Every payload starts with the threat's
//! identity ([`ThreatInfo`], flattened: `threat_id`, `type`, `source`, `severity`, `description?`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::consumers::SECURITY_MONITORING;

/// How severe a threat is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ThreatSeverity {
    /// Logged.
    #[default]
    Low,
    /// Investigated within 24 hours.
    Medium,
    /// Investigated immediately.
    High,
    /// Immediate response and escalation.
    Critical,
}

/// Where a threat stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ThreatStatus {
    /// Just detected.
    #[default]
    Open,
    /// Being looked at.
    Investigating,
    /// Dealt with.
    Mitigated,
    /// Judged harmless.
    Ignored,
    /// Handed up.
    Escalated,
}

/// The identity of a threat, shared by every `threat.*` payload.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ThreatInfo {
    /// The threat id.
    pub threat_id: String,
    /// The threat's kind (`brute_force`, ...).
    #[serde(rename = "type")]
    pub threat_type: String,
    /// Where it was seen (`api_gateway`, ...).
    pub source: String,
    /// How severe it is (never changes after detection).
    pub severity: ThreatSeverity,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A threat was detected.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ThreatDetected {
    /// The threat.
    #[serde(flatten)]
    pub threat: ThreatInfo,
    /// Its status (`OPEN`).
    pub status: ThreatStatus,
    /// Extra facts (`ip`, ...).
    pub metadata: Map<String, Value>,
    /// When (epoch seconds; the threat's `created_at`).
    pub detected_at: f64,
}

event_payload!(ThreatDetected {
    type: "threat.detected",
    module: "threats",
    source: "threat_service",
    version: 1,
    criticality: Critical,
    consumers: [SECURITY_MONITORING],
    description: "A threat was detected.",
});

/// A threat's status changed (any transition, always emitted first).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ThreatStatusChanged {
    /// The threat.
    #[serde(flatten)]
    pub threat: ThreatInfo,
    /// The status before.
    pub old_status: ThreatStatus,
    /// The status after.
    pub new_status: ThreatStatus,
    /// When (epoch seconds).
    pub changed_at: f64,
}

event_payload!(ThreatStatusChanged {
    type: "threat.status_changed",
    module: "threats",
    source: "threat_service",
    version: 1,
    criticality: High,
    consumers: [SECURITY_MONITORING],
    description: "A threat's status changed.",
});

/// A threat was escalated (after its `threat.status_changed`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ThreatEscalated {
    /// The threat.
    #[serde(flatten)]
    pub threat: ThreatInfo,
    /// The status before.
    pub old_status: ThreatStatus,
    /// When (epoch seconds).
    pub escalated_at: f64,
}

event_payload!(ThreatEscalated {
    type: "threat.escalated",
    module: "threats",
    source: "threat_service",
    version: 1,
    criticality: Critical,
    consumers: [SECURITY_MONITORING],
    description: "A threat was escalated.",
});

/// A threat was mitigated (after its `threat.status_changed`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ThreatMitigated {
    /// The threat.
    #[serde(flatten)]
    pub threat: ThreatInfo,
    /// The status before.
    pub old_status: ThreatStatus,
    /// When (epoch seconds).
    pub mitigated_at: f64,
    /// Seconds from detection to mitigation.
    pub duration_seconds: f64,
}

event_payload!(ThreatMitigated {
    type: "threat.mitigated",
    module: "threats",
    source: "threat_service",
    version: 1,
    criticality: High,
    consumers: [SECURITY_MONITORING],
    description: "A threat was mitigated.",
});
