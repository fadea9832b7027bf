//! The [`Catalog`]: every event type of the system with its contract and JSON Schema, looked up by type.
//!
//! The catalog is built once at startup ([`Catalog::new`]) and shared (`Arc<Catalog>`); it is read-only
//! after namespaces are registered. Schemas are derived from the Rust payload types with `schemars`
//! (draft 2020-12, sub-schemas inlined so each schema stands alone), and compiled into validators lazily,
//! once per type, on first use.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::OnceLock;

use eventstream_core::{Event, EventType};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::payload::{Criticality, EventPayload, PayloadError};
use crate::upcast::{UpcastError, Upcaster, builtin_upcasters, run_chain};
use crate::{
    agent, broadcast, course, credits, distribution, dna, ethics, hardware, immune, ir, metrics, mission, policy, supervisor, system, task,
    telemetry, threat,
};

/// The contract of one event type, as listed by the catalog (and served by `/api/catalog`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogEntry {
    /// The wire name.
    pub event_type: EventType,
    /// The owning module.
    pub module: &'static str,
    /// The default envelope `source`.
    pub source: &'static str,
    /// The current schema version.
    pub schema_version: u32,
    /// How much the event matters.
    pub criticality: Criticality,
    /// When the event fires.
    pub description: &'static str,
    /// Known subscribers (besides the audit log and analytics, which read everything).
    pub consumers: &'static [&'static str],
    /// The payload's JSON Schema (draft 2020-12).
    pub schema: Value,
}

impl CatalogEntry {
    /// The type's namespace (first segment).
    pub fn namespace(&self) -> &str {
        self.event_type.namespace()
    }
}

/// A registered type: its entry plus what validation needs.
struct Slot {
    entry: CatalogEntry,
    /// Decodes the payload into the Rust type (the last word on validity).
    check: fn(&Map<String, Value>) -> Result<(), PayloadError>,
    /// An event carrying the type's default payload.
    example: fn() -> Event,
    /// The compiled schema, built on first use.
    validator: OnceLock<Result<jsonschema::Validator, String>>,
}

fn slot<T: EventPayload + Default>() -> Slot {
    Slot {
        entry: CatalogEntry {
            event_type: T::event_type(),
            module: T::MODULE,
            source: T::SOURCE,
            schema_version: T::SCHEMA_VERSION,
            criticality: T::CRITICALITY,
            description: T::DESCRIPTION,
            consumers: T::CONSUMERS,
            schema: schema_of::<T>(),
        },
        check: |p| T::from_payload(p).map(|_| ()),
        example: || T::default().to_event(),
        validator: OnceLock::new(),
    }
}

/// The JSON Schema of `T`: draft 2020-12, sub-schemas inlined, closed string enums written as `enum`.
pub fn schema_of<T: schemars::JsonSchema>() -> Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>();
    let mut value = schema.to_value();
    simplify_enums(&mut value);
    value
}

/// Rewrites `oneOf: [{type: string, const: A, description}, ...]` (what schemars emits for a documented
/// unit enum) as `{type: string, enum: [A, ...]}`: the same constraint, with a clearer validation message
/// (`"X" is not one of [...]`) and a simpler rendering in the docs.
fn simplify_enums(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let consts: Option<Vec<Value>> = map.get("oneOf").and_then(Value::as_array).and_then(|alts| {
                alts.iter()
                    .map(|a| {
                        let o = a.as_object()?;
                        let only_const = o.keys().all(|k| k == "const" || k == "type" || k == "description");
                        match (only_const, o.get("const")) {
                            (true, Some(c @ Value::String(_))) => Some(c.clone()),
                            _ => None,
                        }
                    })
                    .collect()
            });
            if let Some(consts) = consts {
                map.remove("oneOf");
                map.insert("type".into(), Value::from("string"));
                map.insert("enum".into(), Value::Array(consts));
            }
            for child in map.values_mut() {
                simplify_enums(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(simplify_enums),
        _ => {}
    }
}

macro_rules! slots {
    ($($ty:path),* $(,)?) => {
        vec![$(slot::<$ty>()),*]
    };
}

fn builtin_slots() -> Vec<Slot> {
    slots![
        task::TaskCreated,
        task::TaskAssigned,
        task::TaskStarted,
        task::TaskCompleted,
        task::TaskFailed,
        task::TaskCancelled,
        task::TaskRetrying,
        mission::MissionCreated,
        mission::MissionStarted,
        mission::MissionCompleted,
        mission::MissionFailed,
        mission::MissionCancelled,
        mission::MissionStatusChanged,
        mission::MissionLogAppended,
        agent::AgentOnline,
        agent::AgentOffline,
        agent::AgentHeartbeat,
        agent::AgentError,
        agent::AgentTaskRequest,
        agent::AgentMessage,
        system::SystemHealth,
        system::SystemAlert,
        system::SystemMaintenance,
        ethics::EthicsReview,
        ethics::EthicsViolation,
        ethics::EthicsApproval,
        broadcast::Broadcast,
        course::CourseGenerationRequested,
        course::CourseOutlineCreated,
        course::CourseLessonGenerated,
        course::CourseQuizCreated,
        course::CourseLandingPageCreated,
        course::CourseGenerationCompleted,
        course::CourseGenerationFailed,
        course::CourseWorkflowTransitioned,
        course::CourseDeployedStaging,
        distribution::DistributionCreated,
        distribution::DistributionUpdated,
        distribution::DistributionDeleted,
        distribution::DistributionPublished,
        distribution::DistributionUnpublished,
        distribution::DistributionViewed,
        distribution::DistributionEnrollmentClicked,
        distribution::DistributionMicroNicheCreated,
        distribution::DistributionVersionBumped,
        ir::IrApprovalCreated,
        ir::IrApprovalConsumed,
        ir::IrApprovalExpired,
        ir::IrApprovalInvalid,
        ir::IrValidatedPass,
        ir::IrValidatedEscalate,
        ir::IrValidatedReject,
        ir::IrDagDiffOk,
        ir::IrDagDiffFailed,
        supervisor::SupervisorHealthChecked,
        supervisor::SupervisorStatusQueried,
        supervisor::SupervisorAgentsListed,
        credits::CreditsHealthChecked,
        credits::CreditsAllocated,
        credits::CreditsConsumed,
        credits::CreditsRefunded,
        credits::CreditsDepleted,
        hardware::HardwareCommandSent,
        hardware::HardwareStateQueried,
        hardware::HardwareInfoQueried,
        metrics::MetricsAggregationStarted,
        metrics::MetricsAggregationCompleted,
        metrics::MetricsAggregationFailed,
        telemetry::TelemetryConnectionEstablished,
        telemetry::TelemetryConnectionClosed,
        telemetry::TelemetryMetricsPublished,
        dna::DnaSnapshotCreated,
        dna::DnaMutationApplied,
        dna::DnaKarmaUpdated,
        policy::PolicyEvaluated,
        policy::PolicyDenied,
        policy::PolicyWarningTriggered,
        policy::PolicyAuditRequired,
        policy::PolicyCreated,
        policy::PolicyUpdated,
        policy::PolicyDeleted,
        threat::ThreatDetected,
        threat::ThreatStatusChanged,
        threat::ThreatEscalated,
        threat::ThreatMitigated,
        immune::ImmuneEventPublished,
        immune::ImmuneCriticalEvent,
    ]
}

/// A namespace name that cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid namespace {namespace:?}: must be one segment of a-z, 0-9 and _")]
pub struct InvalidNamespace {
    /// The rejected name (shortened to 80 characters).
    pub namespace: String,
}

/// Why an event could not be read as a typed payload through the catalog.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The event could not be brought to the current schema version.
    #[error(transparent)]
    Upcast(#[from] UpcastError),
    /// The (upcast) payload does not match the type.
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

/// What validation needs for one type.
pub(crate) struct Compiled<'c> {
    pub(crate) entry: &'c CatalogEntry,
    pub(crate) validator: Result<&'c jsonschema::Validator, &'c str>,
    pub(crate) check: fn(&Map<String, Value>) -> Result<(), PayloadError>,
}

/// Every event type of the system. See the [crate docs](crate) for how to use it.
pub struct Catalog {
    /// Sorted by event type.
    slots: Vec<Slot>,
    index: HashMap<String, usize>,
    builtin_namespaces: BTreeSet<String>,
    open_namespaces: BTreeSet<String>,
    upcasters: Vec<Upcaster>,
}

impl Default for Catalog {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog").field("types", &self.slots.len()).field("open_namespaces", &self.open_namespaces).finish_non_exhaustive()
    }
}

impl Serialize for Catalog {
    /// A catalog serializes as the list of its entries, in type order.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.entries())
    }
}

impl Catalog {
    /// The built-in catalog: every type of every module, no open namespaces.
    pub fn new() -> Self {
        let mut slots = builtin_slots();
        slots.sort_by(|a, b| a.entry.event_type.cmp(&b.entry.event_type));
        let index = slots.iter().enumerate().map(|(i, s)| (s.entry.event_type.as_str().to_owned(), i)).collect();
        let builtin_namespaces = slots.iter().map(|s| s.entry.namespace().to_owned()).collect();
        Self { slots, index, builtin_namespaces, open_namespaces: BTreeSet::new(), upcasters: builtin_upcasters() }
    }

    fn slot(&self, event_type: &str) -> Option<&Slot> {
        self.index.get(event_type).map(|&i| &self.slots[i])
    }

    /// The entry of `event_type`, if it is in the catalog.
    pub fn get(&self, event_type: &str) -> Option<&CatalogEntry> {
        self.slot(event_type).map(|s| &s.entry)
    }

    /// Whether `event_type` is in the catalog.
    pub fn contains(&self, event_type: &str) -> bool {
        self.index.contains_key(event_type)
    }

    /// Every entry, ordered by event type (a stable order).
    pub fn entries(&self) -> impl ExactSizeIterator<Item = &CatalogEntry> + '_ {
        self.slots.iter().map(|s| &s.entry)
    }

    /// The number of types.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the catalog has no types (never true for [`Catalog::new`]).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The module names, sorted.
    pub fn modules(&self) -> BTreeSet<&'static str> {
        self.slots.iter().map(|s| s.entry.module).collect()
    }

    /// The namespaces of the catalog's own types plus the registered ones, sorted.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> + '_ {
        self.builtin_namespaces.union(&self.open_namespaces).map(String::as_str)
    }

    /// Whether `namespace` is known: the namespace of a catalog type, or one opened with
    /// [`register_namespace`](Self::register_namespace).
    pub fn is_registered_namespace(&self, namespace: &str) -> bool {
        self.builtin_namespaces.contains(namespace) || self.open_namespaces.contains(namespace)
    }

    /// Whether `namespace` was opened with [`register_namespace`](Self::register_namespace), so that
    /// types in it that the catalog does not list are accepted.
    pub fn is_open_namespace(&self, namespace: &str) -> bool {
        self.open_namespaces.contains(namespace)
    }

    /// Opens `namespace` for types the catalog does not list (extensions, experiments): strict validation
    /// accepts such types with a warning and without a payload check. Types the catalog lists keep being
    /// checked. Registering twice is harmless.
    ///
    /// # Errors
    /// [`InvalidNamespace`] unless `namespace` is one segment of `[a-z0-9_]`.
    pub fn register_namespace(&mut self, namespace: &str) -> Result<(), InvalidNamespace> {
        let ok = !namespace.is_empty()
            && namespace.len() <= 64
            && namespace.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(InvalidNamespace { namespace: namespace.chars().take(80).collect() });
        }
        self.open_namespaces.insert(namespace.to_owned());
        Ok(())
    }

    /// The upcasters, in registration order.
    pub fn upcasters(&self) -> &[Upcaster] {
        &self.upcasters
    }

    /// An event of `event_type` carrying the payload type's default value, with the catalog's source and
    /// meta: for tests, demos and documentation.
    pub fn example_event(&self, event_type: &str) -> Option<Event> {
        self.slot(event_type).map(|s| (s.example)())
    }

    /// Brings an event's payload to the current schema version of its type, applying the upcasters in
    /// order, and stamps that version into `meta.schema_version`. Events of types the catalog does not
    /// list, and current events, are returned unchanged.
    ///
    /// # Errors
    /// [`UpcastError::NewerVersion`] for a version this build does not know,
    /// [`UpcastError::MissingUpcaster`] for a gap in the chain (e.g. version 0), and
    /// [`UpcastError::Failed`] when an old payload cannot be converted.
    pub fn upcast(&self, mut event: Event) -> Result<Event, UpcastError> {
        let Some(slot) = self.slot(event.event_type.as_str()) else {
            return Ok(event);
        };
        let current = slot.entry.schema_version;
        let found = event.meta.schema_version;
        if found == current {
            return Ok(event);
        }
        let payload = std::mem::take(&mut event.payload);
        event.payload = run_chain(&self.upcasters, &event.event_type, found, current, payload)?;
        event.meta.schema_version = current;
        Ok(event)
    }

    /// Upcasts `event` and decodes its payload as `T`.
    ///
    /// # Errors
    /// [`ReadError::Upcast`] when the event cannot be upcast, [`ReadError::Payload`] when it is of another
    /// type or its payload does not match.
    pub fn decode<T: EventPayload>(&self, event: &Event) -> Result<T, ReadError> {
        if event.event_type.as_str() != T::TYPE {
            return Err(PayloadError::WrongType { expected: T::TYPE, found: event.event_type.clone() }.into());
        }
        if event.meta.schema_version == T::SCHEMA_VERSION {
            return Ok(T::from_event(event)?);
        }
        let current = self.upcast(event.clone())?;
        Ok(T::from_event(&current)?)
    }

    /// What validation needs for `event_type`: its entry, its compiled schema (built on first use) and
    /// its typed decode check.
    pub(crate) fn compiled(&self, event_type: &str) -> Option<Compiled<'_>> {
        let slot = self.slot(event_type)?;
        let validator = slot
            .validator
            .get_or_init(|| jsonschema::validator_for(&slot.entry.schema).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str);
        Some(Compiled { entry: &slot.entry, validator, check: slot.check })
    }

    /// Applies the upcaster chain to a bare payload (used by validation).
    pub(crate) fn upcast_payload(
        &self,
        event_type: &EventType,
        found: u32,
        current: u32,
        payload: Map<String, Value>,
    ) -> Result<Map<String, Value>, UpcastError> {
        run_chain(&self.upcasters, event_type, found, current, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documented_unit_enums_become_plain_enums() {
        let mut v = json!({"properties": {"p": {"description": "d", "oneOf": [
            {"type": "string", "const": "A", "description": "a"}, {"type": "string", "const": "B"}]}}});
        simplify_enums(&mut v);
        assert_eq!(v["properties"]["p"], json!({"description": "d", "type": "string", "enum": ["A", "B"]}));
        let mut mixed = json!({"oneOf": [{"type": "string", "const": "A"}, {"type": "object", "properties": {}}]});
        let before = mixed.clone();
        simplify_enums(&mut mixed);
        assert_eq!(mixed, before, "a oneOf that is not all string constants is kept");
    }

    #[test]
    fn every_builtin_schema_compiles() {
        let catalog = Catalog::new();
        for entry in catalog.entries() {
            let compiled = catalog.compiled(entry.event_type.as_str());
            assert!(compiled.is_some_and(|c| c.validator.is_ok()), "{}", entry.event_type);
        }
    }
}
