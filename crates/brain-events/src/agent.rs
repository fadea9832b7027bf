//! `agent.*`: agent presence, errors and direct messages.
//!
//! The original's core defined these six types (original-core-course-ir.md §1.2) and two helpers:
//! `emit_agent_event` (payload `{agent_id, **extra}`, `source = agent_id`) and `send_message` (payload
//! `{message, from, to}`, `target = to`). No module emitted the presence types, so their extra fields are
//! ours and optional; the envelope `source` is the agent's own id in practice (the catalog's `agent` is
//! the default only).

use eventstream_core::Event;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::consumers::SUPERVISOR;

/// An agent came online.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct AgentOnline {
    /// The agent id.
    pub agent_id: String,
    /// The agent's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the agent can do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
    /// When it came online (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_at: Option<f64>,
}

event_payload!(AgentOnline {
    type: "agent.online",
    module: "agents",
    source: "agent",
    version: 1,
    criticality: Medium,
    consumers: [SUPERVISOR],
    description: "An agent came online.",
});

/// An agent went offline.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct AgentOffline {
    /// The agent id.
    pub agent_id: String,
    /// Why it went offline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it went offline (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_at: Option<f64>,
}

event_payload!(AgentOffline {
    type: "agent.offline",
    module: "agents",
    source: "agent",
    version: 1,
    criticality: Medium,
    consumers: [SUPERVISOR],
    description: "An agent went offline.",
});

/// An agent's periodic liveness signal.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct AgentHeartbeat {
    /// The agent id.
    pub agent_id: String,
    /// The agent's own view of its state (`healthy`, `degraded`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The mission it is working on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_mission_id: Option<String>,
    /// Its load between 0 and 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<f64>,
}

event_payload!(AgentHeartbeat {
    type: "agent.heartbeat",
    module: "agents",
    source: "agent",
    version: 1,
    criticality: Low,
    consumers: [SUPERVISOR],
    description: "An agent's periodic liveness signal.",
});

/// An agent reported an error.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct AgentError {
    /// The agent id.
    pub agent_id: String,
    /// What went wrong.
    pub error_message: String,
    /// The error's kind or class name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
}

event_payload!(AgentError {
    type: "agent.error",
    module: "agents",
    source: "agent",
    version: 1,
    criticality: High,
    consumers: [SUPERVISOR],
    description: "An agent reported an error.",
});

/// An agent asks for work.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct AgentTaskRequest {
    /// The agent id.
    pub agent_id: String,
    /// The capabilities the work must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
}

event_payload!(AgentTaskRequest {
    type: "agent.task_request",
    module: "agents",
    source: "agent",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "An agent asks for work.",
});

/// A direct message from one agent to another (`send_message`); the envelope `target` is `to`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct AgentMessage {
    /// The message: any JSON value (the original passed strings and dicts).
    pub message: Value,
    /// The sending agent.
    pub from: String,
    /// The receiving agent.
    pub to: String,
}

event_payload!(AgentMessage {
    type: "agent.message",
    module: "agents",
    source: "agent",
    version: 1,
    criticality: Low,
    consumers: [],
    envelope: AgentMessage::envelope,
    description: "A direct message from one agent to another.",
});

impl AgentMessage {
    fn envelope(&self, event: &mut Event) {
        if !self.to.is_empty() {
            event.target = Some(self.to.clone());
        }
    }
}
