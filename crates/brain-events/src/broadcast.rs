//! `broadcast`: the legacy single-segment type of the original's `broadcast_message`.
//!
//! Kept so events the original wrote still decode; new code publishes a namespaced type instead.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A message to every agent (`broadcast_message(source, message)`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Broadcast {
    /// The message: any JSON value.
    pub message: Value,
    /// The sender.
    pub from: String,
}

event_payload!(Broadcast {
    type: "broadcast",
    module: "core",
    source: "event_stream",
    version: 1,
    criticality: Low,
    consumers: [],
    description: "Legacy: a message to every agent.",
});
