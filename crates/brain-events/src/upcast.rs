//! Upcasters: how old payload versions become the current one, applied on read.
//!
//! A payload's schema version is `meta.schema_version`. When a type's schema changes incompatibly, its
//! `SCHEMA_VERSION` goes up by one and an [`Upcaster`] from the previous version is added here. Reading an
//! old event ([`Catalog::upcast`](crate::Catalog::upcast)) applies the chain `v -> v+1 -> ... -> current`
//! and stamps the current version into `meta`, so consumers only ever see current payloads.

use eventstream_core::EventType;
use serde_json::{Map, Value};

use crate::mission::{MissionCreated, upcast_mission_created_v1};
use crate::payload::EventPayload;

/// What an upcaster found wrong with an old payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}` {reason}")]
pub struct UpcastFailure {
    /// The payload field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// The conversion of one upcaster: takes the old payload, returns the next version's.
pub type UpcastFn = fn(Map<String, Value>) -> Result<Map<String, Value>, UpcastFailure>;

/// One step in a type's version chain: payload version `from_version` to `from_version + 1`.
#[derive(Debug, Clone, Copy)]
pub struct Upcaster {
    /// The event type it applies to.
    pub event_type: &'static str,
    /// The version it reads; it writes `from_version + 1`.
    pub from_version: u32,
    /// What changed between the two versions.
    pub description: &'static str,
    /// The conversion.
    pub apply: UpcastFn,
}

/// Why an event could not be brought to the current schema version.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpcastError {
    /// The event was written by a newer producer than this build knows.
    #[error("event `{event_type}` has schema version {found}, newer than the version {current} this build knows")]
    NewerVersion {
        /// The event type.
        event_type: EventType,
        /// The event's version.
        found: u32,
        /// The newest version known.
        current: u32,
    },
    /// No upcaster reads this version (a gap in the chain).
    #[error("no upcaster for `{event_type}` from schema version {from_version}")]
    MissingUpcaster {
        /// The event type.
        event_type: EventType,
        /// The version nobody reads.
        from_version: u32,
    },
    /// The old payload could not be converted.
    #[error("cannot upcast `{event_type}` from schema version {from_version}")]
    Failed {
        /// The event type.
        event_type: EventType,
        /// The version being read.
        from_version: u32,
        /// What was wrong.
        #[source]
        source: UpcastFailure,
    },
}

impl UpcastError {
    /// The JSON pointer (into the event) of what is at fault.
    pub fn pointer(&self) -> String {
        match self {
            UpcastError::Failed { source, .. } => format!("/payload/{}", source.field),
            UpcastError::NewerVersion { .. } | UpcastError::MissingUpcaster { .. } => "/meta/schema_version".to_owned(),
        }
    }
}

/// The upcasters of the built-in catalog.
pub(crate) fn builtin_upcasters() -> Vec<Upcaster> {
    vec![Upcaster {
        event_type: MissionCreated::TYPE,
        from_version: 1,
        description: "legacy queue manager shape: `mission_name` -> `name`, ISO `created_at` -> epoch seconds, \
                      `type` -> `mission_type`; `status` PENDING and `description` \"\" added",
        apply: upcast_mission_created_v1,
    }]
}

/// Applies the upcasters of `event_type` to `payload`, from version `found` to `current`.
pub(crate) fn run_chain(
    upcasters: &[Upcaster],
    event_type: &EventType,
    found: u32,
    current: u32,
    mut payload: Map<String, Value>,
) -> Result<Map<String, Value>, UpcastError> {
    if found > current {
        return Err(UpcastError::NewerVersion { event_type: event_type.clone(), found, current });
    }
    for v in found..current {
        let step = upcasters
            .iter()
            .find(|u| u.event_type == event_type.as_str() && u.from_version == v)
            .ok_or_else(|| UpcastError::MissingUpcaster { event_type: event_type.clone(), from_version: v })?;
        payload =
            (step.apply)(payload).map_err(|source| UpcastError::Failed { event_type: event_type.clone(), from_version: v, source })?;
    }
    Ok(payload)
}
