//! course_factory: online course generation (outline, full lessons, quiz, landing page) with its nine
//! `course.*` events, the course workflow state machine with an approval gate, and the staging deploy.
//!
//! It owns the tables `course_factory_courses` (one row per generated course: request, flags, IR hash,
//! counts, workflow state, deploy status), `course_factory_evidence` (the evidence pack),
//! `course_factory_transitions` (workflow history), `course_factory_approvals` (the projection of
//! consumed ir_governance approvals), `course_factory_approval_uses` (which gate used which approval; its
//! key makes every approval single use) and `course_factory_deploys` (staging deploys and the event that
//! caused each). Content comes from a pluggable [`CourseGenerator`]; the built-in [`TemplateGenerator`] is
//! deterministic (the same request gives the same content; only the ids differ).
//!
//! Talks to other modules only through events ([`handlers`]): it consumes `distribution.created` (deploy to
//! staging, chain A) and `ir.approval_consumed` (the approvals projection, chain B), and never calls
//! ir_governance or course_distribution. IRs are built and validated with the shared [`crate::ir`] library,
//! without `ir.*` events (they belong to ir_governance, D-4).
//!
//! Departures from the original, each fixing a reference bug:
//! - the outline's totals are computed (every generation failed on them, CF-F1, F1); lessons carry their
//!   `module_id` and the landing page a `landing_page_id` and its `sections` (the events crashed on the
//!   missing fields, CF-F2); every generated part is checked against the model's bounds, and a part that
//!   breaks one fails the generation with `course.generation.failed` (severity ERROR, the real course id,
//!   CF-F5) instead of an exception;
//! - every event is built before, and written inside, the one transaction that stores the course, so an
//!   event exists if and only if the course does (CF-F3, X-2); every event carries the key's tenant and
//!   the request's correlation id (F6);
//! - `/generate` validates the course IR (CF-B9) with the shared validator: REJECT is 422 `ir_rejected`;
//!   ESCALATE is 403 `approval_required` with `ir_hash` and `validation_result` (D-6) until an approval of
//!   that hash was consumed at `/api/ir/approvals/consume`; the generation then uses it up (CF-F4). The
//!   hash excludes request id and time (IR-F1), so a retried request matches its approval. The original's
//!   `approval_token` query is replaced by an optional `approval_id` (tokens are consumed at ir_governance);
//! - the staging deploy moved out of `/generate` (whose step 9 ran before the course's distribution could
//!   exist) into the `distribution.created` handler (CF-C1); `deploy_to_staging` without `staging_domain` is
//!   422 (the original deployed to `https://None`); the URL is `https://{staging_domain}/courses/{course_id}`;
//!   a dry run never deploys, and `course.generation.completed` carries `dry_run` (D-10, catalog M6);
//! - the workflow is persisted and emits `course.workflow.transitioned` (never emitted: F4, CF-F6):
//!   `from_state` must be the stored state (409 `state_mismatch`), illegal edges are 409
//!   `invalid_transition`, unknown courses and transitions 404; review -> publish_ready needs `approval_id`
//!   of a consumed approval of the gate IR (one step `course.workflow_transition` on `course:{course_id}`,
//!   params `{to_state}`): missing 403 `approval_required`, not yet projected 409
//!   `approval_not_yet_visible` (D-15), another IR's 403 `approval_invalid`, used before 409
//!   `approval_already_used`. A rollback that re-enters publish_ready takes the same gate (D-7), where the
//!   original always raised;
//! - evidence: the pack (`outline.json`, `quiz.json`, `landing.json`, `lessons/{lesson_id}.md`) is stored
//!   in the state store, not under a relative `storage/` path without tenant separation, so replicas share
//!   it; `evidence_pack_path` is the logical `sql://course_factory_evidence/{course_id}` and
//!   `GET /api/course-factory/courses/{course_id}` lists the files;
//! - the tone `professiona` is spelled `professional`; `tenant_id` in the body is optional and must equal
//!   the key's tenant (403 `tenant_mismatch`, X-1).
//!
//! Not ported (D-5): `/enhance`, `/webgenesis/*` and the monetization router.

mod api;
mod error;
mod generator;
pub(crate) mod handlers;
mod ir_plan;
pub mod model;
mod service;

pub(crate) use api::router;
pub use error::CourseFactoryError;
pub use generator::{BANKING_TEMPLATE, CourseGenerator, GeneratorError, TemplateGenerator, derived_id, template_for};
pub use ir_plan::{ValidationResult, course_ir, gate_ir};
pub use service::{CourseFactoryService, CourseRecord, EvidenceFile, evidence_path, staging_url};
