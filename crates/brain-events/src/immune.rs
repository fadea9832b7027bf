//! `immune.*`: events recorded by the immune system.
//!
//! Reference: original-modules.md §12.4. Source `immune_service`. `immune.critical_event` follows
//! `immune.event_published` for every CRITICAL record. Timestamps are true epoch seconds (the original
//! converted naive UTC as local time, §15.12).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::consumers::SECURITY_MONITORING;

/// How severe an immune record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ImmuneSeverity {
    /// Informational.
    #[default]
    Info,
    /// Needs attention.
    Warning,
    /// Needs action now.
    Critical,
}

/// What kind of immune record it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImmuneEventType {
    /// A policy was violated.
    #[default]
    PolicyViolation,
    /// Errors spiked.
    ErrorSpike,
    /// A self-healing action was taken (recorded only; nothing is triggered).
    SelfHealingAction,
}

/// An immune record was stored.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ImmuneEventPublished {
    /// The record id (sequential).
    pub event_id: u64,
    /// Its severity.
    pub severity: ImmuneSeverity,
    /// Its kind.
    #[serde(rename = "type")]
    pub event_type: ImmuneEventType,
    /// What happened.
    pub message: String,
    /// The agent concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The module concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Extra facts (omitted when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Map<String, Value>>,
    /// When (epoch seconds).
    pub published_at: f64,
}

event_payload!(ImmuneEventPublished {
    type: "immune.event_published",
    module: "immune",
    source: "immune_service",
    version: 1,
    criticality: High,
    consumers: [],
    description: "An immune record was stored.",
});

/// A CRITICAL immune record was stored (after its `immune.event_published`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ImmuneCriticalEvent {
    /// The record id (sequential).
    pub event_id: u64,
    /// Its severity (`CRITICAL`).
    pub severity: ImmuneSeverity,
    /// Its kind.
    #[serde(rename = "type")]
    pub event_type: ImmuneEventType,
    /// What happened.
    pub message: String,
    /// The agent concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The module concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Extra facts (omitted when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Map<String, Value>>,
    /// When (epoch seconds).
    pub critical_at: f64,
}

event_payload!(ImmuneCriticalEvent {
    type: "immune.critical_event",
    module: "immune",
    source: "immune_service",
    version: 1,
    criticality: Critical,
    consumers: [SECURITY_MONITORING],
    description: "A critical immune record was stored.",
});
