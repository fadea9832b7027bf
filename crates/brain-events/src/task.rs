//! `task.*`: the legacy mission worker's lifecycle events (the only events that reached Redis in the
//! original).
//!
//! Producer: the legacy missions runtime and worker (reference: original-modules.md §1.6). In the original
//! `task_id` and `mission_id` are both the mission id, and the helper merged `{task_id}` with the extra
//! fields; [`EventPayload::to_event`](crate::EventPayload::to_event) sets the envelope `task_id` and
//! `mission_id` from `task_id` the same way.

use eventstream_core::Event;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::envelope_fill::set_mission;

/// The legacy queue's priority, sent by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum LegacyPriority {
    /// Score 10.
    Low,
    /// Score 20 (the default).
    #[default]
    Normal,
    /// Score 30.
    High,
    /// Score 40.
    Critical,
}

fn task_envelope(task_id: &str, event: &mut Event) {
    if !task_id.is_empty() {
        event.task_id = Some(task_id.to_owned());
    }
    set_mission(event, task_id);
}

/// A mission was enqueued in the legacy queue.
///
/// The original used the request's `created_by` (default `"api"`) as the envelope `source`; here the
/// source is the runtime and `created_by` travels in the payload. EVENTS.md of the original listed a
/// `created_at` the code never sent; it is not part of the schema (the envelope timestamp carries it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TaskCreated {
    /// The task id (equal to the mission id).
    pub task_id: String,
    /// The mission type, e.g. `agent.chat`.
    pub mission_type: String,
    /// The priority name.
    pub priority: LegacyPriority,
    /// Who enqueued it (the original's envelope `source`; default `api`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

event_payload!(TaskCreated {
    type: "task.created",
    module: "missions",
    source: "mission_control_runtime",
    version: 1,
    criticality: High,
    consumers: [],
    envelope: TaskCreated::envelope,
    description: "A mission was enqueued in the legacy mission queue.",
});

impl TaskCreated {
    fn envelope(&self, event: &mut Event) {
        task_envelope(&self.task_id, event);
    }
}

/// A task was assigned to an agent.
///
/// Defined in the original's `EventType` enum but never emitted (the legacy worker runs missions itself);
/// this schema is the one an assigning scheduler uses.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TaskAssigned {
    /// The task id (equal to the mission id).
    pub task_id: String,
    /// The agent that received the task.
    pub agent_id: String,
    /// The mission type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mission_type: Option<String>,
    /// When it was assigned (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_at: Option<f64>,
}

event_payload!(TaskAssigned {
    type: "task.assigned",
    module: "missions",
    source: "mission_worker",
    version: 1,
    criticality: Medium,
    consumers: [],
    envelope: TaskAssigned::envelope,
    description: "A task was assigned to an agent (never emitted by the original).",
});

impl TaskAssigned {
    fn envelope(&self, event: &mut Event) {
        task_envelope(&self.task_id, event);
    }
}

/// The worker popped a mission and is about to run it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TaskStarted {
    /// The task id (equal to the mission id).
    pub task_id: String,
    /// The mission type.
    pub mission_type: String,
    /// The priority name.
    pub priority: LegacyPriority,
    /// The queue score the mission had (the priority's value).
    pub score: f64,
    /// How often it was retried before.
    pub retry_count: u32,
    /// When execution started (epoch seconds).
    pub started_at: f64,
}

event_payload!(TaskStarted {
    type: "task.started",
    module: "missions",
    source: "mission_worker",
    version: 1,
    criticality: Medium,
    consumers: [],
    envelope: TaskStarted::envelope,
    description: "The mission worker popped a mission and starts running it.",
});

impl TaskStarted {
    fn envelope(&self, event: &mut Event) {
        task_envelope(&self.task_id, event);
    }
}

/// A mission ran to completion.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TaskCompleted {
    /// The task id (equal to the mission id).
    pub task_id: String,
    /// The mission type.
    pub mission_type: String,
    /// How long execution took, in milliseconds.
    pub duration_ms: f64,
    /// When it completed (epoch seconds).
    pub completed_at: f64,
}

event_payload!(TaskCompleted {
    type: "task.completed",
    module: "missions",
    source: "mission_worker",
    version: 1,
    criticality: High,
    consumers: [],
    envelope: TaskCompleted::envelope,
    description: "The mission worker finished a mission successfully.",
});

impl TaskCompleted {
    fn envelope(&self, event: &mut Event) {
        task_envelope(&self.task_id, event);
    }
}

/// A mission's execution raised an error; emitted whether or not it will be retried.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TaskFailed {
    /// The task id (equal to the mission id).
    pub task_id: String,
    /// The mission type.
    pub mission_type: String,
    /// The error message.
    pub error: String,
    /// The error's class name (e.g. `ValueError`).
    pub error_type: String,
    /// The retry count after this failure.
    pub retry_count: u32,
    /// The retry limit.
    pub max_retries: u32,
    /// Whether the mission will be retried.
    pub will_retry: bool,
    /// How long the failed attempt took, in milliseconds.
    pub duration_ms: f64,
    /// When it failed (epoch seconds).
    pub failed_at: f64,
}

event_payload!(TaskFailed {
    type: "task.failed",
    module: "missions",
    source: "mission_worker",
    version: 1,
    criticality: High,
    consumers: [],
    envelope: TaskFailed::envelope,
    description: "A mission's execution failed (with or without a retry to follow).",
});

impl TaskFailed {
    fn envelope(&self, event: &mut Event) {
        task_envelope(&self.task_id, event);
    }
}

/// A task was cancelled.
///
/// Defined in the original's enum but never emitted (no cancel endpoint existed).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TaskCancelled {
    /// The task id (equal to the mission id).
    pub task_id: String,
    /// The mission type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mission_type: Option<String>,
    /// Why it was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was cancelled (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<f64>,
}

event_payload!(TaskCancelled {
    type: "task.cancelled",
    module: "missions",
    source: "mission_worker",
    version: 1,
    criticality: Medium,
    consumers: [],
    envelope: TaskCancelled::envelope,
    description: "A task was cancelled (never emitted by the original).",
});

impl TaskCancelled {
    fn envelope(&self, event: &mut Event) {
        task_envelope(&self.task_id, event);
    }
}

/// A failed mission was re-enqueued for another attempt.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TaskRetrying {
    /// The task id (equal to the mission id).
    pub task_id: String,
    /// The mission type.
    pub mission_type: String,
    /// The retry count after the failure.
    pub retry_count: u32,
    /// The retry limit.
    pub max_retries: u32,
    /// The number of the next attempt (`retry_count + 1`).
    pub next_attempt: u32,
    /// When it was re-enqueued (epoch seconds).
    pub retried_at: f64,
}

event_payload!(TaskRetrying {
    type: "task.retrying",
    module: "missions",
    source: "mission_worker",
    version: 1,
    criticality: Medium,
    consumers: [],
    envelope: TaskRetrying::envelope,
    description: "A failed mission was re-enqueued for another attempt.",
});

impl TaskRetrying {
    fn envelope(&self, event: &mut Event) {
        task_envelope(&self.task_id, event);
    }
}
