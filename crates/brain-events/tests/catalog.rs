//! The catalog's integration tests: completeness against the reference, schemas, validation, upcasting,
//! envelope building and the generated `docs/EVENTS.md`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use brain_events::course::CourseGenerationFailed;
use brain_events::hardware::{HardwareCommandSent, MovementCommand};
use brain_events::ir::IrValidatedPass;
use brain_events::mission::{MissionCreated, MissionStatus};
use brain_events::task::{LegacyPriority, TaskCreated, TaskStarted};
use brain_events::{Catalog, EventPayload, PayloadError, ReadError, UpcastError, ValidationError, ValidationMode};
use eventstream_core::{Event, EventType, Meta, Severity};
use serde_json::{Map, Value, json};

/// Every type named in the reference documents (original-core-course-ir.md §1.2 and the per-module
/// "Events emitted" tables; original-modules.md §13 and the per-module tables) plus the new credits
/// ledger types. Written out independently of the crate so a type missing from the catalog fails here.
const REFERENCE_TYPES: &[&str] = &[
    // core enum (52)
    "task.created",
    "task.assigned",
    "task.started",
    "task.completed",
    "task.failed",
    "task.cancelled",
    "task.retrying",
    "mission.created",
    "mission.started",
    "mission.completed",
    "mission.failed",
    "mission.cancelled",
    "agent.online",
    "agent.offline",
    "agent.heartbeat",
    "agent.error",
    "agent.task_request",
    "agent.message",
    "system.health",
    "system.alert",
    "system.maintenance",
    "ethics.review",
    "ethics.violation",
    "ethics.approval",
    "broadcast",
    "course.generation.requested",
    "course.outline.created",
    "course.lesson.generated",
    "course.quiz.created",
    "course.landing_page.created",
    "course.generation.completed",
    "course.generation.failed",
    "course.workflow.transitioned",
    "course.deployed.staging",
    "distribution.created",
    "distribution.updated",
    "distribution.deleted",
    "distribution.published",
    "distribution.unpublished",
    "distribution.viewed",
    "distribution.enrollment_clicked",
    "distribution.micro_niche_created",
    "distribution.version_bumped",
    "ir.approval_created",
    "ir.approval_consumed",
    "ir.approval_expired",
    "ir.approval_invalid",
    "ir.validated_pass",
    "ir.validated_escalate",
    "ir.validated_reject",
    "ir.dag_diff_ok",
    "ir.dag_diff_failed",
    // Sprint 3-5 modules (original-modules.md §13)
    "mission.status_changed",
    "mission.log_appended",
    "supervisor.health_checked",
    "supervisor.status_queried",
    "supervisor.agents_listed",
    "credits.health_checked",
    "hardware.command_sent",
    "hardware.state_queried",
    "hardware.info_queried",
    "metrics.aggregation_started",
    "metrics.aggregation_completed",
    "metrics.aggregation_failed",
    "telemetry.connection_established",
    "telemetry.connection_closed",
    "telemetry.metrics_published",
    "dna.snapshot_created",
    "dna.mutation_applied",
    "dna.karma_updated",
    "policy.evaluated",
    "policy.denied",
    "policy.warning_triggered",
    "policy.audit_required",
    "policy.created",
    "policy.updated",
    "policy.deleted",
    "threat.detected",
    "threat.status_changed",
    "threat.escalated",
    "threat.mitigated",
    "immune.event_published",
    "immune.critical_event",
    // new credits ledger
    "credits.allocated",
    "credits.consumed",
    "credits.refunded",
    "credits.depleted",
];

fn parse_event(v: Value) -> Event {
    Event::from_json_value(v).unwrap_or_else(|e| panic!("{e}"))
}

fn event_of(event_type: &str, payload: Value) -> Event {
    parse_event(json!({
        "id": "e1", "type": event_type, "source": "test", "timestamp": "2025-12-29T10:00:00Z",
        "payload": payload,
    }))
}

fn task_created_payload() -> Value {
    json!({"task_id": "m1", "mission_type": "agent.chat", "priority": "NORMAL"})
}

#[test]
fn catalog_lists_exactly_the_reference_types_each_parsing_as_event_type() {
    let catalog = Catalog::new();
    let listed: Vec<&str> = catalog.entries().map(|e| e.event_type.as_str()).collect();
    let unique: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(unique.len(), listed.len(), "duplicate types in the catalog");
    let reference: BTreeSet<&str> = REFERENCE_TYPES.iter().copied().collect();
    assert_eq!(reference.len(), REFERENCE_TYPES.len(), "duplicate types in the reference list");
    assert_eq!(unique, reference, "catalog and reference differ");
    assert_eq!(catalog.len(), 87);
    for t in &listed {
        assert!(t.parse::<EventType>().is_ok(), "{t} does not parse as an EventType");
    }
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(listed, sorted, "entries are not in type order");
}

#[test]
fn every_entry_is_complete_and_its_example_event_validates_strictly() {
    let catalog = Catalog::new();
    for entry in catalog.entries() {
        let t = entry.event_type.as_str();
        assert!(!entry.description.is_empty() && !entry.module.is_empty() && !entry.source.is_empty(), "{t}");
        assert!(entry.schema_version >= 1, "{t}");
        assert_eq!(entry.schema["type"], "object", "{t}: payload schema is not an object");
        assert!(catalog.is_registered_namespace(entry.namespace()), "{t}");
        let example = catalog.example_event(t).unwrap_or_else(|| panic!("{t}: no example"));
        assert_eq!(example.event_type, entry.event_type);
        assert_eq!(example.source.as_str(), entry.source);
        assert_eq!(example.meta.schema_version, entry.schema_version, "{t}");
        assert_eq!(example.meta.producer, entry.source, "{t}");
        assert_eq!(example.meta.source_module, entry.module, "{t}");
        let warnings = catalog.validate(&example, ValidationMode::Strict).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert!(warnings.iter().all(|w| w.code == "legacy_type"), "{t}: {warnings:?}");
        // Through the canonical JSON codec and back: still valid.
        let reread = parse_event(example.to_json_value());
        assert!(catalog.validate(&reread, ValidationMode::Strict).is_ok(), "{t}");
    }
}

#[test]
fn every_schema_above_version_one_has_a_complete_upcaster_chain() {
    let catalog = Catalog::new();
    for entry in catalog.entries().filter(|e| e.schema_version > 1) {
        for v in 1..entry.schema_version {
            assert!(
                catalog.upcasters().iter().any(|u| u.event_type == entry.event_type.as_str() && u.from_version == v),
                "{}: no upcaster from version {v}",
                entry.event_type
            );
        }
    }
    for u in catalog.upcasters() {
        let entry = catalog.get(u.event_type).unwrap_or_else(|| panic!("upcaster for unknown type {}", u.event_type));
        assert!(u.from_version < entry.schema_version, "{}: upcaster beyond the current version", u.event_type);
    }
}

#[test]
fn strict_rejects_unknown_types_unless_their_namespace_is_registered() {
    let mut catalog = Catalog::new();
    let unknown = event_of("robot.jumped", json!({"height": 2}));
    let err = catalog.validate(&unknown, ValidationMode::Strict).err().unwrap_or_else(|| panic!("accepted"));
    assert!(matches!(err, ValidationError::UnknownType { .. }), "{err}");
    assert_eq!(err.code(), "unknown_event_type");
    assert_eq!(err.pointer(), "/type");

    // An unknown type in a built-in namespace is rejected too: built-in namespaces are closed.
    let err = catalog.validate(&event_of("task.exploded", json!({})), ValidationMode::Strict).err();
    assert!(matches!(err, Some(ValidationError::UnknownType { .. })));

    assert!(!catalog.is_registered_namespace("robot"));
    catalog.register_namespace("robot").unwrap_or_else(|e| panic!("{e}"));
    assert!(catalog.is_registered_namespace("robot") && catalog.is_open_namespace("robot"));
    assert!(catalog.namespaces().any(|n| n == "robot"));
    let warnings = catalog.validate(&unknown, ValidationMode::Strict).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].code, "unregistered_type");

    for bad in ["", "Robot", "robot.arm", "ro bot", "robot-arm"] {
        assert!(catalog.register_namespace(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn invalid_payloads_are_rejected_with_the_json_pointer_of_the_field() {
    let catalog = Catalog::new();
    let cases = [
        ("wrong enum value", json!({"task_id": "m1", "mission_type": "x", "priority": "URGENT"}), "/payload/priority"),
        ("missing field", json!({"task_id": "m1", "mission_type": "x"}), "/payload/priority"),
        ("wrong type", json!({"task_id": 7, "mission_type": "x", "priority": "LOW"}), "/payload/task_id"),
    ];
    for (what, payload, pointer) in cases {
        let err = catalog
            .validate(&event_of(TaskCreated::TYPE, payload), ValidationMode::Strict)
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        match &err {
            ValidationError::InvalidPayload { pointer: p, message, violations, .. } => {
                assert_eq!(p, pointer, "{what}: {message}");
                assert!(!message.is_empty());
                assert!(!violations.is_empty());
            }
            other => panic!("{what}: {other}"),
        }
        assert_eq!(err.code(), "invalid_payload");
        assert_eq!(err.pointer(), pointer);
    }

    // Nested fields and all violations at once.
    let payload = json!({"robot_id": "r", "command_type": "movement", "command": {"linear_x": "fast", "linear_y": 0}, "sent_at": "now"});
    let Err(ValidationError::InvalidPayload { violations, .. }) =
        catalog.validate(&event_of(HardwareCommandSent::TYPE, payload), ValidationMode::Strict)
    else {
        panic!("accepted")
    };
    let pointers: BTreeSet<&str> = violations.iter().map(|v| v.pointer.as_str()).collect();
    for p in ["/payload/command/linear_x", "/payload/command/angular_z", "/payload/sent_at"] {
        assert!(pointers.contains(p), "{p} not in {pointers:?}");
    }
}

#[test]
fn payload_must_also_fit_the_rust_type_beyond_what_json_schema_says() {
    let catalog = Catalog::new();
    let payload = json!({"task_id": "m1", "mission_type": "x", "priority": "LOW", "score": 10.0,
        "retry_count": 1_u64 << 40, "started_at": 1.0});
    let err = catalog.validate(&event_of(TaskStarted::TYPE, payload), ValidationMode::Strict).err();
    assert!(matches!(err, Some(ValidationError::InvalidPayload { .. })), "{err:?}");
}

#[test]
fn extra_payload_fields_are_allowed() {
    let catalog = Catalog::new();
    let mut payload = task_created_payload();
    payload["added_by_a_newer_producer"] = json!({"anything": [1, 2]});
    let event = event_of(TaskCreated::TYPE, payload);
    assert_eq!(catalog.validate(&event, ValidationMode::Strict).map(|w| w.len()), Ok(0));
    let decoded: TaskCreated = catalog.decode(&event).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(decoded.priority, LegacyPriority::Normal);
}

#[test]
fn warn_mode_accepts_and_reports_and_off_mode_checks_nothing() {
    let catalog = Catalog::new();
    let bad = event_of(TaskCreated::TYPE, json!({"task_id": "m1"}));
    let warnings = catalog.validate(&bad, ValidationMode::Warn).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].code, "invalid_payload");
    assert!(warnings[0].pointer.starts_with("/payload/"));
    let unknown = event_of("nobody.knows", json!({}));
    assert_eq!(catalog.validate(&unknown, ValidationMode::Warn).map(|w| w[0].code), Ok("unknown_event_type"));
    assert_eq!(catalog.validate(&bad, ValidationMode::Off), Ok(vec![]));
    assert_eq!(catalog.validate(&unknown, ValidationMode::Off), Ok(vec![]));
    assert_eq!(ValidationMode::default(), ValidationMode::Strict);
    assert_eq!("WARN".parse::<ValidationMode>(), Ok(ValidationMode::Warn));
    assert!("lenient".parse::<ValidationMode>().is_err());
}

#[test]
fn to_event_fills_type_source_meta_and_envelope_ids() {
    let payload = TaskCreated { task_id: "m1".into(), mission_type: "agent.chat".into(), priority: LegacyPriority::High, created_by: None };
    let event = payload.to_event();
    assert_eq!(event.event_type.as_str(), TaskCreated::TYPE);
    assert_eq!(event.source.as_str(), TaskCreated::SOURCE);
    assert_eq!(
        event.meta,
        Meta { schema_version: 1, producer: TaskCreated::SOURCE.into(), source_module: "missions".into(), extra: Map::new() }
    );
    assert_eq!(event.task_id.as_deref(), Some("m1"));
    assert_eq!(event.mission_id.as_deref(), Some("m1"));
    assert_eq!(event.payload.get("priority"), Some(&json!("HIGH")));
    assert!(!event.payload.contains_key("created_by"), "absent optionals are omitted");
    assert_eq!(TaskCreated::from_event(&event).ok(), Some(payload));

    let ir = IrValidatedPass { tenant_id: "acme".into(), request_id: "req-1".into(), ..Default::default() }.to_event();
    assert_eq!(ir.tenant_id.as_ref().map(|t| t.as_str()), Some("acme"));
    assert_eq!(ir.correlation_id.as_deref(), Some("req-1"));

    let failed = CourseGenerationFailed::default().to_event();
    assert_eq!(failed.severity, Some(Severity::Error));
}

#[test]
fn from_event_rejects_other_types_and_versions_with_typed_errors() {
    let created = event_of(TaskCreated::TYPE, task_created_payload());
    assert!(matches!(TaskStarted::from_event(&created), Err(PayloadError::WrongType { .. })));
    let bad = event_of(TaskCreated::TYPE, json!({"task_id": "m1"}));
    assert!(matches!(TaskCreated::from_event(&bad), Err(PayloadError::Invalid { .. })));
    // mission.created is at version 2; an event without meta reads as version 1.
    let old = event_of(MissionCreated::TYPE, json!({}));
    assert!(matches!(MissionCreated::from_event(&old), Err(PayloadError::OlderVersion { found: 1, expected: 2, .. })));
    let mut newer = created;
    newer.meta.schema_version = 9;
    assert!(matches!(TaskCreated::from_event(&newer), Err(PayloadError::NewerVersion { .. })));
    let catalog = Catalog::new();
    assert!(matches!(catalog.decode::<TaskCreated>(&newer), Err(ReadError::Upcast(UpcastError::NewerVersion { .. }))));
    let err = catalog.validate(&newer, ValidationMode::Strict).err().unwrap_or_else(|| panic!("accepted"));
    assert_eq!((err.code(), err.pointer().as_str()), ("unsupported_schema_version", "/meta/schema_version"));
}

/// A `mission.created` as the legacy queue manager wrote it (schema version 1).
fn legacy_mission_created() -> Event {
    parse_event(json!({
        "id": "3f1c", "type": MissionCreated::TYPE, "source": "mission_queue_manager", "target": null,
        "timestamp": "2025-12-29T10:00:00.500000", "mission_id": "m-42",
        "payload": {"mission_id": "m-42", "mission_name": "Survey", "priority": 5, "type": "analysis",
                    "created_at": "2025-12-29T10:00:00.500000", "agent_requirements": {"agent_type": "scout"}},
        "meta": {"schema_version": 1, "producer": "mission_queue_manager", "source_module": "missions"}
    }))
}

#[test]
fn legacy_mission_created_is_upcast_to_version_two_on_read() {
    let catalog = Catalog::new();
    let old = legacy_mission_created();
    let event = catalog.upcast(old.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(event.meta.schema_version, 2);
    assert_eq!(event.meta.producer, "mission_queue_manager", "other meta is kept");
    assert_eq!(event.id, old.id);
    let m = MissionCreated::from_event(&event).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.mission_id, "m-42");
    assert_eq!(m.name, "Survey");
    assert_eq!(m.description, "");
    assert_eq!(m.status, MissionStatus::Pending);
    assert_eq!(m.created_at, 1_767_002_400.5);
    assert_eq!(m.mission_type.as_deref(), Some("analysis"));
    assert_eq!(m.priority, Some(5));
    assert_eq!(m.agent_requirements.and_then(|r| r.get("agent_type").cloned()), Some(json!("scout")));

    // decode = upcast + from_event; validation checks the upcast payload and says so.
    assert_eq!(catalog.decode::<MissionCreated>(&old).map(|m| m.name).ok().as_deref(), Some("Survey"));
    let warnings = catalog.validate(&old, ValidationMode::Strict).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(warnings.iter().map(|w| w.code).collect::<Vec<_>>(), ["upcast_applied"]);

    // Current events pass through untouched; so do types without upcasters.
    assert_eq!(catalog.upcast(event.clone()).ok(), Some(event));
    let task = event_of(TaskCreated::TYPE, task_created_payload());
    assert_eq!(catalog.upcast(task.clone()).ok(), Some(task));
}

#[test]
fn a_version_one_payload_that_cannot_be_upcast_names_its_field() {
    let catalog = Catalog::new();
    let mut old = legacy_mission_created();
    old.payload.insert("created_at".into(), json!("last tuesday"));
    let err = catalog.upcast(old.clone()).err().unwrap_or_else(|| panic!("upcast"));
    assert!(matches!(err, UpcastError::Failed { from_version: 1, .. }), "{err}");
    assert_eq!(err.pointer(), "/payload/created_at");
    let err = catalog.validate(&old, ValidationMode::Strict).err().unwrap_or_else(|| panic!("accepted"));
    assert_eq!(err.pointer(), "/payload/created_at");
    let mut zero = legacy_mission_created();
    zero.meta.schema_version = 0;
    assert!(matches!(catalog.upcast(zero), Err(UpcastError::MissingUpcaster { from_version: 0, .. })));
}

#[test]
fn typed_payload_survives_the_json_codec() {
    let catalog = Catalog::new();
    let sent = HardwareCommandSent {
        robot_id: "go2-7".into(),
        command_type: "movement".into(),
        command: MovementCommand { linear_x: 0.5, linear_y: -0.25, angular_z: 1.5 },
        sent_at: 1_767_002_400.25,
    };
    let bytes = serde_json::to_vec(&sent.to_event()).unwrap_or_else(|e| panic!("{e}"));
    let event = Event::from_json_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(catalog.validate(&event, ValidationMode::Strict), Ok(vec![]));
    assert_eq!(catalog.decode::<HardwareCommandSent>(&event).ok(), Some(sent));
}

#[test]
fn catalog_serializes_every_entry_with_its_schema() {
    let catalog = Catalog::new();
    let v = serde_json::to_value(&catalog).unwrap_or_else(|e| panic!("{e}"));
    let list = v.as_array().unwrap_or_else(|| panic!("not a list"));
    assert_eq!(list.len(), catalog.len());
    let first = &list[0];
    for key in ["event_type", "module", "source", "schema_version", "criticality", "description", "consumers", "schema"] {
        assert!(first.get(key).is_some(), "missing {key}");
    }
    let entry = catalog.get(TaskCreated::TYPE).unwrap_or_else(|| panic!("missing"));
    assert_eq!(serde_json::to_value(entry.criticality).ok(), Some(json!("HIGH")));
    assert_eq!(entry.schema["properties"]["priority"]["enum"], json!(["LOW", "NORMAL", "HIGH", "CRITICAL"]));
}

/// Wire names are written once, in the type's `event_payload!` block; everything else uses `T::TYPE`.
#[test]
fn wire_names_are_written_only_in_their_definition() {
    let catalog = Catalog::new();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        sources.push(std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}")));
    }
    for entry in catalog.entries() {
        let literal = format!("\"{}\"", entry.event_type);
        let defining = format!("type: {literal},");
        let all: usize = sources.iter().map(|s| s.matches(&literal).count()).sum();
        let defs: usize = sources.iter().map(|s| s.matches(&defining).count()).sum();
        assert_eq!((all, defs), (1, 1), "{literal} is written outside its definition");
    }
}

#[test]
fn docs_events_md_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/EVENTS.md");
    let want = Catalog::new().to_markdown();
    if std::env::var("BRAIN_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap_or_else(|| panic!("no parent"))).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&path, &want).unwrap_or_else(|e| panic!("{e}"));
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/EVENTS.md is stale (or missing). Regenerate it with `cargo run -p brain -- catalog --markdown > docs/EVENTS.md` \
         or `BRAIN_UPDATE_DOCS=1 cargo test -p brain-events --test catalog docs_events_md_is_up_to_date`."
    );
}

#[test]
fn catalog_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Catalog>();
    let catalog = std::sync::Arc::new(Catalog::new());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let c = std::sync::Arc::clone(&catalog);
            std::thread::spawn(move || c.validate(&event_of(TaskCreated::TYPE, task_created_payload()), ValidationMode::Strict))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().ok(), Some(Ok(vec![])));
    }
}
