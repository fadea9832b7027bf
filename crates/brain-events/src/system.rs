//! `system.*`: platform health, alerts and maintenance windows.
//!
//! The original's core defined the three types (original-core-course-ir.md §1.2) with free-form payloads
//! and no producer; the fields here are the evident ones, most optional, and extra fields are allowed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::consumers::SECURITY_MONITORING;

/// A component's health was checked.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SystemHealth {
    /// The overall status (`ok`, `degraded`, `down`).
    pub status: String,
    /// The component checked (`event_log`, `state_store`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Details per check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Map<String, Value>>,
    /// When it was checked (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<f64>,
}

event_payload!(SystemHealth {
    type: "system.health",
    module: "system",
    source: "brain",
    version: 1,
    criticality: Low,
    consumers: [],
    description: "A component's health was checked.",
});

/// Something in the platform needs attention.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SystemAlert {
    /// What happened.
    pub message: String,
    /// The alert's kind (`outbox_backlog`, `consumer_lag`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_type: Option<String>,
    /// The component concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Map<String, Value>>,
}

event_payload!(SystemAlert {
    type: "system.alert",
    module: "system",
    source: "brain",
    version: 1,
    criticality: High,
    consumers: [SECURITY_MONITORING],
    description: "Something in the platform needs attention.",
});

/// A maintenance window was announced, started or ended.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SystemMaintenance {
    /// `scheduled`, `started` or `completed`.
    pub status: String,
    /// What is being done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The component concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Start of the window (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<f64>,
    /// End of the window (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<f64>,
}

event_payload!(SystemMaintenance {
    type: "system.maintenance",
    module: "system",
    source: "brain",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "A maintenance window was announced, started or ended.",
});
