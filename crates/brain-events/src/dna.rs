//! `dna.*`: agent DNA snapshots, mutations and KARMA scores.
//!
//! Reference: original-modules.md §9.4. Source `dna_service`. Timestamps are true epoch seconds (the
//! original converted naive UTC as local time, §15.12).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a snapshot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotSource {
    /// Created through the API.
    #[default]
    Manual,
    /// Created by the system.
    System,
    /// Created by a mutation.
    Mutation,
}

/// A new DNA snapshot (a new version) was stored for an agent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DnaSnapshotCreated {
    /// The snapshot id (global counter).
    pub snapshot_id: u64,
    /// The agent.
    pub agent_id: String,
    /// The agent's DNA version.
    pub version: u32,
    /// Where it came from.
    pub source: SnapshotSource,
    /// The agent's previous snapshot (null for the first; always present in the original).
    #[serde(default)]
    pub parent_snapshot_id: Option<u64>,
    /// The number of DNA keys.
    pub dna_size: u32,
    /// The number of traits.
    pub traits_count: u32,
    /// When (epoch seconds).
    pub created_at: f64,
    /// Why it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

event_payload!(DnaSnapshotCreated {
    type: "dna.snapshot_created",
    module: "dna",
    source: "dna_service",
    version: 1,
    criticality: High,
    consumers: [],
    description: "A DNA snapshot was stored for an agent.",
});

/// A mutation produced a new DNA version.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DnaMutationApplied {
    /// The new snapshot id.
    pub snapshot_id: u64,
    /// The agent.
    pub agent_id: String,
    /// The new DNA version.
    pub version: u32,
    /// The snapshot it derives from.
    pub parent_snapshot_id: u64,
    /// The DNA keys the mutation set, in order.
    pub mutation_keys: Vec<String>,
    /// The trait overrides applied (keys replaced, not added).
    pub traits_delta: Map<String, Value>,
    /// When (epoch seconds).
    pub created_at: f64,
    /// Why it was mutated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

event_payload!(DnaMutationApplied {
    type: "dna.mutation_applied",
    module: "dna",
    source: "dna_service",
    version: 1,
    criticality: High,
    consumers: [],
    description: "A mutation produced a new DNA version.",
});

/// An agent's KARMA score was updated on its latest snapshot.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DnaKarmaUpdated {
    /// The snapshot updated in place.
    pub snapshot_id: u64,
    /// The agent.
    pub agent_id: String,
    /// The snapshot's version.
    pub version: u32,
    /// The new score.
    pub karma_score: f64,
    /// When (epoch seconds).
    pub updated_at: f64,
    /// The score before, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_score: Option<f64>,
    /// `karma_score - previous_score`, when there was a previous score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_delta: Option<f64>,
}

event_payload!(DnaKarmaUpdated {
    type: "dna.karma_updated",
    module: "dna",
    source: "dna_service",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "An agent's KARMA score was updated.",
});
