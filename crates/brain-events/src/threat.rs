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

impl ThreatSeverity {
    /// Every severity, lowest first.
    pub const ALL: [ThreatSeverity; 4] = [ThreatSeverity::Low, ThreatSeverity::Medium, ThreatSeverity::High, ThreatSeverity::Critical];

    /// The wire and column spelling (`LOW`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            ThreatSeverity::Low => "LOW",
            ThreatSeverity::Medium => "MEDIUM",
            ThreatSeverity::High => "HIGH",
            ThreatSeverity::Critical => "CRITICAL",
        }
    }
}

impl std::fmt::Display for ThreatSeverity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no threat severity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown threat severity {0:?}: use LOW, MEDIUM, HIGH or CRITICAL")]
pub struct UnknownThreatSeverity(pub String);

impl std::str::FromStr for ThreatSeverity {
    type Err = UnknownThreatSeverity;

    /// The exact wire spelling (`HIGH`, not `high`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| UnknownThreatSeverity(s.to_owned()))
    }
}

impl ThreatStatus {
    /// Every status, in the order a threat usually moves through them.
    pub const ALL: [ThreatStatus; 5] =
        [ThreatStatus::Open, ThreatStatus::Investigating, ThreatStatus::Mitigated, ThreatStatus::Ignored, ThreatStatus::Escalated];

    /// The wire and column spelling (`OPEN`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            ThreatStatus::Open => "OPEN",
            ThreatStatus::Investigating => "INVESTIGATING",
            ThreatStatus::Mitigated => "MITIGATED",
            ThreatStatus::Ignored => "IGNORED",
            ThreatStatus::Escalated => "ESCALATED",
        }
    }
}

impl std::fmt::Display for ThreatStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no threat status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown threat status {0:?}: use OPEN, INVESTIGATING, MITIGATED, IGNORED or ESCALATED")]
pub struct UnknownThreatStatus(pub String);

impl std::str::FromStr for ThreatStatus {
    type Err = UnknownThreatStatus;

    /// The exact wire spelling (`OPEN`, not `open`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| UnknownThreatStatus(s.to_owned()))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_and_statuses_spell_as_on_the_wire_and_parse_back() {
        for s in ThreatSeverity::ALL {
            assert_eq!(serde_json::to_value(s).ok(), Some(Value::String(s.to_string())));
            assert_eq!(s.to_string().parse::<ThreatSeverity>(), Ok(s));
        }
        for s in ThreatStatus::ALL {
            assert_eq!(serde_json::to_value(s).ok(), Some(Value::String(s.to_string())));
            assert_eq!(s.to_string().parse::<ThreatStatus>(), Ok(s));
        }
        assert_eq!("open".parse::<ThreatStatus>(), Err(UnknownThreatStatus("open".into())));
        assert!("SEVERE".parse::<ThreatSeverity>().is_err());
    }
}
