//! `mission.*`: mission lifecycle events of the missions module, and of the legacy queue manager.
//!
//! Two producers exist in the reference (original-modules.md §2.3 and §3.4):
//! - the legacy `mission_queue_manager` (mission_system) emitted `mission.created` (schema version 1) and
//!   `mission.started/completed/failed/cancelled` with `{mission_id, mission_name, old_status, new_status,
//!   result, error_message}`;
//! - the newer `missions_service` emits `mission.created` with another shape, `mission.status_changed` and
//!   `mission.log_appended`.
//!
//! `mission.created` is therefore versioned: version 1 is the queue manager's shape, version 2 the
//! missions module's; [`upcast_mission_created_v1`] maps 1 to 2 on read. The four legacy status types keep
//! their own (distinct) names and shape.

use eventstream_core::{Event, parse_timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::consumers::{CREDITS, METRICS, SUPERVISOR};
use crate::envelope_fill::set_mission;
use crate::upcast::UpcastFailure;

/// A mission's status in the missions module (upper case on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum MissionStatus {
    /// Created, not started.
    #[default]
    Pending,
    /// Being executed.
    Running,
    /// Finished successfully.
    Completed,
    /// Finished with an error.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl MissionStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [MissionStatus; 5] =
        [MissionStatus::Pending, MissionStatus::Running, MissionStatus::Completed, MissionStatus::Failed, MissionStatus::Cancelled];

    /// The wire and column spelling (`PENDING`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            MissionStatus::Pending => "PENDING",
            MissionStatus::Running => "RUNNING",
            MissionStatus::Completed => "COMPLETED",
            MissionStatus::Failed => "FAILED",
            MissionStatus::Cancelled => "CANCELLED",
        }
    }

    /// Whether the status is final (no transition leaves it).
    pub const fn is_terminal(self) -> bool {
        matches!(self, MissionStatus::Completed | MissionStatus::Failed | MissionStatus::Cancelled)
    }
}

impl std::fmt::Display for MissionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no mission status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mission status {0:?}: use PENDING, RUNNING, COMPLETED, FAILED or CANCELLED")]
pub struct UnknownMissionStatus(pub String);

impl std::str::FromStr for MissionStatus {
    type Err = UnknownMissionStatus;

    /// Case-insensitive: `running` and `RUNNING` are the same status.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| UnknownMissionStatus(s.to_owned()))
    }
}

impl From<MissionStatus> for LegacyMissionStatus {
    /// The legacy (lower-case) spelling used by `mission.started/completed/failed/cancelled`.
    fn from(s: MissionStatus) -> Self {
        match s {
            MissionStatus::Pending => LegacyMissionStatus::Pending,
            MissionStatus::Running => LegacyMissionStatus::Running,
            MissionStatus::Completed => LegacyMissionStatus::Completed,
            MissionStatus::Failed => LegacyMissionStatus::Failed,
            MissionStatus::Cancelled => LegacyMissionStatus::Cancelled,
        }
    }
}

/// A mission's status in the legacy queue manager (lower case on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LegacyMissionStatus {
    /// Waiting in the queue.
    #[default]
    Pending,
    /// Handed to an agent.
    Assigned,
    /// Being executed.
    Running,
    /// Paused.
    Paused,
    /// Finished successfully.
    Completed,
    /// Finished with an error.
    Failed,
    /// Cancelled.
    Cancelled,
    /// Ran longer than allowed.
    Timeout,
}

/// A mission was created.
///
/// **Schema version 2** (the missions module's shape). Version 1 was the legacy queue manager's
/// `{mission_id, mission_name, priority: int, type, created_at: ISO string, agent_requirements}`;
/// [`Catalog::upcast`](crate::Catalog::upcast) maps it: `mission_name` becomes `name`, the ISO `created_at`
/// becomes epoch seconds, `type` becomes `mission_type`, `priority` and `agent_requirements` are kept,
/// `status` is `PENDING` (the queue manager enqueued new missions as pending) and `description` is `""`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct MissionCreated {
    /// The mission id.
    pub mission_id: String,
    /// The mission name.
    pub name: String,
    /// The description (`""` when none was given).
    #[serde(default)]
    pub description: String,
    /// The initial status (always `PENDING`).
    pub status: MissionStatus,
    /// When it was created (epoch seconds).
    pub created_at: f64,
    /// The legacy queue's mission type (`analysis`, `execution`, ...); only from version 1 producers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mission_type: Option<String>,
    /// The legacy queue's integer priority (1 low .. 9 critical); only from version 1 producers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// The legacy queue's agent requirements; only from version 1 producers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_requirements: Option<Map<String, Value>>,
    /// The agent the mission runs for, whose credits pay for it (new; optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The credits the mission costs, charged to `agent_id`'s account when it completes (new; optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_cost: Option<f64>,
}

event_payload!(MissionCreated {
    type: "mission.created",
    module: "missions",
    source: "missions_service",
    version: 2,
    criticality: High,
    consumers: [SUPERVISOR, METRICS, CREDITS],
    envelope: MissionCreated::envelope,
    description: "A mission was created.",
});

impl MissionCreated {
    fn envelope(&self, event: &mut Event) {
        set_mission(event, &self.mission_id);
    }
}

/// Upcasts a `mission.created` payload from schema version 1 (legacy queue manager) to version 2.
///
/// Tolerant on purpose: a payload that already has the version 2 field names (the original's missions
/// module sent events without `meta`, which read as version 1) passes through unchanged except for the
/// defaults it lacks.
///
/// # Errors
/// An [`UpcastFailure`] when `created_at` is a string that is not a timestamp, or `mission_name` is not a
/// string.
pub fn upcast_mission_created_v1(mut p: Map<String, Value>) -> Result<Map<String, Value>, UpcastFailure> {
    if let Some(name) = p.remove("mission_name") {
        if !name.is_string() {
            return Err(UpcastFailure { field: "mission_name", reason: "must be a string" });
        }
        p.entry("name").or_insert(name);
    }
    if let Some(Value::String(s)) = p.get("created_at") {
        let t = parse_timestamp(s).map_err(|reason| UpcastFailure { field: "created_at", reason })?;
        let secs = t.timestamp() as f64 + f64::from(t.timestamp_subsec_micros()) / 1e6;
        p.insert("created_at".into(), Value::from(secs));
    }
    if let Some(t) = p.remove("type") {
        p.entry("mission_type").or_insert(t);
    }
    p.entry("status").or_insert_with(|| Value::from("PENDING"));
    p.entry("description").or_insert_with(|| Value::from(""));
    Ok(p)
}

macro_rules! legacy_status_payload {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Producer: the legacy mission queue manager (`update_mission_status`). The newer missions module
        /// reports every transition as `mission.status_changed` instead.
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        pub struct $name {
            /// The mission id.
            pub mission_id: String,
            /// The mission name.
            pub mission_name: String,
            /// The status before the change.
            pub old_status: LegacyMissionStatus,
            /// The status after the change.
            pub new_status: LegacyMissionStatus,
            /// The mission result, when there is one.
            #[serde(default)]
            pub result: Option<Value>,
            /// The error message, when the mission failed.
            #[serde(default)]
            pub error_message: Option<String>,
        }

        impl $name {
            fn envelope(&self, event: &mut Event) {
                set_mission(event, &self.mission_id);
            }
        }
    };
}

legacy_status_payload!(
    /// A legacy-queue mission started running.
    MissionStarted
);
event_payload!(MissionStarted {
    type: "mission.started",
    module: "missions",
    source: "mission_queue_manager",
    version: 1,
    criticality: Medium,
    consumers: [SUPERVISOR, METRICS],
    envelope: MissionStarted::envelope,
    description: "A legacy-queue mission moved to running.",
});

legacy_status_payload!(
    /// A legacy-queue mission completed.
    MissionCompleted
);
event_payload!(MissionCompleted {
    type: "mission.completed",
    module: "missions",
    source: "mission_queue_manager",
    version: 1,
    criticality: High,
    consumers: [SUPERVISOR, METRICS, CREDITS],
    envelope: MissionCompleted::envelope,
    description: "A legacy-queue mission completed.",
});

legacy_status_payload!(
    /// A legacy-queue mission failed.
    MissionFailed
);
event_payload!(MissionFailed {
    type: "mission.failed",
    module: "missions",
    source: "mission_queue_manager",
    version: 1,
    criticality: High,
    consumers: [SUPERVISOR, METRICS],
    envelope: MissionFailed::envelope,
    description: "A legacy-queue mission failed.",
});

legacy_status_payload!(
    /// A legacy-queue mission was cancelled.
    MissionCancelled
);
event_payload!(MissionCancelled {
    type: "mission.cancelled",
    module: "missions",
    source: "mission_queue_manager",
    version: 1,
    criticality: Medium,
    consumers: [SUPERVISOR, METRICS],
    envelope: MissionCancelled::envelope,
    description: "A legacy-queue mission was cancelled.",
});

/// A mission's status changed (any transition is reported, including to the same status).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct MissionStatusChanged {
    /// The mission id.
    pub mission_id: String,
    /// The status before the change.
    pub old_status: MissionStatus,
    /// The status after the change.
    pub new_status: MissionStatus,
    /// When it changed (epoch seconds; the mission's new `updated_at`).
    pub changed_at: f64,
    /// Why, when the change was not asked for (e.g. `worker lost: ...` when an expired lease re-queued it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

event_payload!(MissionStatusChanged {
    type: "mission.status_changed",
    module: "missions",
    source: "missions_service",
    version: 1,
    criticality: High,
    consumers: [SUPERVISOR, METRICS],
    envelope: MissionStatusChanged::envelope,
    description: "A mission's status changed.",
});

impl MissionStatusChanged {
    fn envelope(&self, event: &mut Event) {
        set_mission(event, &self.mission_id);
    }
}

/// A line was appended to a mission's log (including the automatic ones on create and status change).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct MissionLogAppended {
    /// The mission id.
    pub mission_id: String,
    /// The entry's level (`info`, `warning`, ...).
    pub log_level: String,
    /// The entry's message.
    pub message: String,
    /// The entry's timestamp (epoch seconds).
    pub appended_at: f64,
}

event_payload!(MissionLogAppended {
    type: "mission.log_appended",
    module: "missions",
    source: "missions_service",
    version: 1,
    criticality: Medium,
    consumers: [],
    envelope: MissionLogAppended::envelope,
    description: "A line was appended to a mission's log.",
});

impl MissionLogAppended {
    fn envelope(&self, event: &mut Event) {
        set_mission(event, &self.mission_id);
    }
}
