//! `supervisor.*`: the supervisor's health, status and agent queries.
//!
//! Reference: original-modules.md §4.1. Source `supervisor_service`. The original computed the status
//! counts by calling into the missions module; here they come from the supervisor's projection of
//! `mission.*` events, and the payload is unchanged.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The supervisor's health endpoint was called.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SupervisorHealthChecked {
    /// The status reported (`ok`).
    pub status: String,
    /// When (epoch seconds).
    pub checked_at: f64,
}

event_payload!(SupervisorHealthChecked {
    type: "supervisor.health_checked",
    module: "supervisor",
    source: "supervisor_service",
    version: 1,
    criticality: Low,
    consumers: [],
    description: "The supervisor's health was checked.",
});

/// The supervisor's mission status overview was queried.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SupervisorStatusQueried {
    /// All missions.
    pub total_missions: u64,
    /// Missions running.
    pub running_missions: u64,
    /// Missions pending.
    pub pending_missions: u64,
    /// Missions completed.
    pub completed_missions: u64,
    /// Missions failed.
    pub failed_missions: u64,
    /// Missions cancelled.
    pub cancelled_missions: u64,
    /// Agents known.
    pub agent_count: u32,
    /// When (epoch seconds).
    pub queried_at: f64,
}

event_payload!(SupervisorStatusQueried {
    type: "supervisor.status_queried",
    module: "supervisor",
    source: "supervisor_service",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "The mission status overview was queried.",
});

/// The supervisor's agent list was queried.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SupervisorAgentsListed {
    /// Agents listed.
    pub agent_count: u32,
    /// When (epoch seconds).
    pub queried_at: f64,
}

event_payload!(SupervisorAgentsListed {
    type: "supervisor.agents_listed",
    module: "supervisor",
    source: "supervisor_service",
    version: 1,
    criticality: Low,
    consumers: [],
    description: "The agent list was queried.",
});
