//! The missions module's data: [`Mission`], its [`Priority`], log entries, the state machine
//! ([`transition_allowed`]) and what the routes accept.

use brain_events::mission::MissionStatus;
use brain_events::task::LegacyPriority;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A mission's priority: the legacy queue's scores. Higher runs first; equal priorities run in the order
/// they were queued (FIFO, unlike the original, whose ties fell to the JSON's lexicographic order).
///
/// Serialised as the integer; read from the integer or the name (`"HIGH"`, case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// 10.
    Low,
    /// 20 (the default).
    #[default]
    Normal,
    /// 30.
    High,
    /// 40.
    Critical,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Priority; 4] = [Priority::Low, Priority::Normal, Priority::High, Priority::Critical];

    /// The score (10, 20, 30, 40).
    pub fn value(self) -> i64 {
        match self {
            Priority::Low => 10,
            Priority::Normal => 20,
            Priority::High => 30,
            Priority::Critical => 40,
        }
    }

    /// The priority with score `v`.
    pub fn from_value(v: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.value() == v)
    }

    /// The name (`LOW`, `NORMAL`, `HIGH`, `CRITICAL`).
    pub fn name(self) -> &'static str {
        match self {
            Priority::Low => "LOW",
            Priority::Normal => "NORMAL",
            Priority::High => "HIGH",
            Priority::Critical => "CRITICAL",
        }
    }

    /// The catalog's spelling in `task.*` payloads.
    pub fn legacy(self) -> LegacyPriority {
        match self {
            Priority::Low => LegacyPriority::Low,
            Priority::Normal => LegacyPriority::Normal,
            Priority::High => LegacyPriority::High,
            Priority::Critical => LegacyPriority::Critical,
        }
    }
}

impl Serialize for Priority {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.value())
    }
}

impl<'de> Deserialize<'de> for Priority {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Name(String),
        }
        let bad = || serde::de::Error::custom("priority must be 10, 20, 30, 40 or LOW, NORMAL, HIGH, CRITICAL");
        match Raw::deserialize(d).map_err(|_| bad())? {
            Raw::Int(v) => Priority::from_value(v).ok_or_else(bad),
            Raw::Name(n) => Priority::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(&n)).ok_or_else(bad),
        }
    }
}

/// The state machine (the original allowed any transition, §15.11):
///
/// | from | to |
/// |---|---|
/// | `PENDING` | `RUNNING` (taken out of the queue), `CANCELLED` |
/// | `RUNNING` | `COMPLETED`, `FAILED`, `CANCELLED`, `PENDING` (queued again) |
/// | `COMPLETED`, `FAILED`, `CANCELLED` | nothing |
///
/// A transition to the same status is not allowed either.
pub fn transition_allowed(from: MissionStatus, to: MissionStatus) -> bool {
    use MissionStatus::{Cancelled, Completed, Failed, Pending, Running};
    matches!(
        (from, to),
        (Pending, Running) | (Pending, Cancelled) | (Running, Completed) | (Running, Failed) | (Running, Cancelled) | (Running, Pending)
    )
}

/// A mission.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mission {
    /// The id (the caller's or a UUIDv7).
    pub id: String,
    /// A name for people (the mission type when created through `/enqueue`).
    pub name: String,
    /// What kind of work it is (`agent.chat`, ...); the executor dispatches on it.
    #[serde(rename = "type")]
    pub mission_type: String,
    /// A description.
    pub description: Option<String>,
    /// The mission's input (the original's `payload` / `data`).
    pub data: Map<String, Value>,
    /// Its priority.
    pub priority: Priority,
    /// Where it is in its lifecycle.
    pub status: MissionStatus,
    /// Failed attempts so far.
    pub retry_count: u32,
    /// Failed attempts after which it ends `FAILED` (`retry_count > max_retries`).
    pub max_retries: u32,
    /// Whether it waits in the queue for the worker pool.
    pub queued: bool,
    /// Who created it (`api` by default).
    pub created_by: String,
    /// The agent whose credits pay for it.
    pub agent_id: Option<String>,
    /// The credits it costs on completion.
    pub credit_cost: Option<f64>,
    /// The last execution error.
    pub last_error: Option<String>,
    /// The executor's result.
    pub result: Option<Value>,
    /// When it was created (epoch seconds).
    pub created_at: f64,
    /// When it last changed (epoch seconds).
    pub updated_at: f64,
    /// The replica (its consumer name) whose worker holds the mission, while one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_owner: Option<String>,
    /// Until when that worker's lease runs (epoch seconds; renewed while the attempt runs). Past it,
    /// any replica re-queues the mission and counts the attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<f64>,
    /// The correlation id of the request that created it (carried into the worker's events).
    #[serde(skip)]
    pub correlation_id: Option<String>,
    /// Its position in the queue (FIFO order within a priority); a retry gets a new one.
    #[serde(skip)]
    pub queue_seq: i64,
}

/// One line of a mission's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    /// When (epoch seconds; default now).
    #[serde(default)]
    pub timestamp: Option<f64>,
    /// The level (default `info`).
    #[serde(default = "default_level")]
    pub level: String,
    /// The message.
    pub message: String,
    /// Structured details.
    #[serde(default)]
    pub data: Map<String, Value>,
}

fn default_level() -> String {
    "info".to_owned()
}

/// The body of `POST /api/missions/enqueue` (the legacy queue's request).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnqueueRequest {
    /// The mission type (required).
    #[serde(rename = "type")]
    pub mission_type: String,
    /// Its input.
    #[serde(default)]
    pub payload: Map<String, Value>,
    /// Its priority (default NORMAL).
    #[serde(default)]
    pub priority: Priority,
    /// Who asks (default `api`).
    #[serde(default)]
    pub created_by: Option<String>,
    /// Failed attempts tolerated (default from the configuration).
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// The agent whose credits pay for it.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The credits it costs on completion.
    #[serde(default)]
    pub credit_cost: Option<f64>,
}

/// The body of `POST /api/missions` (the newer module's request).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// A caller-chosen id (409 when taken).
    #[serde(default)]
    pub id: Option<String>,
    /// The name (required).
    pub name: String,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
    /// Its input.
    #[serde(default)]
    pub data: Map<String, Value>,
    /// The mission type (default `generic`).
    #[serde(default, rename = "type")]
    pub mission_type: Option<String>,
    /// Its priority (default NORMAL).
    #[serde(default)]
    pub priority: Priority,
    /// Failed attempts tolerated (default from the configuration).
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// The agent whose credits pay for it.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The credits it costs on completion.
    #[serde(default)]
    pub credit_cost: Option<f64>,
    /// Who asks (default `api`).
    #[serde(default)]
    pub created_by: Option<String>,
}

/// What the service needs to create a mission, from either request.
#[derive(Debug, Clone)]
pub struct NewMission {
    /// A caller-chosen id.
    pub id: Option<String>,
    /// The name.
    pub name: String,
    /// The type.
    pub mission_type: String,
    /// The description.
    pub description: Option<String>,
    /// The input.
    pub data: Map<String, Value>,
    /// The priority.
    pub priority: Priority,
    /// Failed attempts tolerated.
    pub max_retries: Option<u32>,
    /// Who asks.
    pub created_by: String,
    /// The paying agent.
    pub agent_id: Option<String>,
    /// The cost.
    pub credit_cost: Option<f64>,
}

/// Filters of `GET /api/missions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this status.
    #[serde(default)]
    pub status: Option<String>,
    /// Only this type.
    #[serde(default, rename = "type")]
    pub mission_type: Option<String>,
    /// Only this priority (score).
    #[serde(default)]
    pub priority: Option<i64>,
    /// At most this many (1 to 1000, default 100).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// The query of `POST /api/missions/{id}/status`.
#[derive(Debug, Clone, Deserialize)]
pub struct StatusQuery {
    /// The new status (the original's query parameter name).
    pub mission_status: String,
}

/// The query of `GET /api/missions/queue`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// Entries to show (1 to 100, default 20).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One entry of the queue preview (the legacy `MissionQueueEntry`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueEntry {
    /// The mission id.
    pub id: String,
    /// The mission type.
    #[serde(rename = "type")]
    pub mission_type: String,
    /// Its status (always `PENDING` while queued).
    pub status: MissionStatus,
    /// Its priority score.
    pub priority: Priority,
    /// The score (the priority as a float, as the legacy queue reported it).
    pub score: f64,
    /// When it was created (epoch seconds).
    pub created_at: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine_has_no_way_out_of_final_states() {
        for from in MissionStatus::ALL {
            for to in MissionStatus::ALL {
                if from.is_terminal() || from == to {
                    assert!(!transition_allowed(from, to), "{from:?} -> {to:?}");
                }
            }
        }
        assert!(transition_allowed(MissionStatus::Pending, MissionStatus::Running));
        assert!(!transition_allowed(MissionStatus::Pending, MissionStatus::Completed));
    }

    #[test]
    fn priorities_read_ints_and_names() {
        let p: Priority = serde_json::from_value(serde_json::json!(30)).unwrap_or_default();
        assert_eq!(p, Priority::High);
        let p: Priority = serde_json::from_value(serde_json::json!("critical")).unwrap_or_default();
        assert_eq!(p, Priority::Critical);
        assert!(serde_json::from_value::<Priority>(serde_json::json!(25)).is_err());
        assert_eq!("running".parse::<MissionStatus>().ok(), Some(MissionStatus::Running));
    }
}
