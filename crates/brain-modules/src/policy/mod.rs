//! policy: rule-based authorisation of agent actions, per tenant (original-modules.md §10).
//!
//! It owns `policy_policies` (each policy with its rules as JSON, its insertion order and a revision) and
//! `policy_tenants` (evaluation counters and the marker that the tenant's default policies
//! `admin_full_access` and `guest_read_only` were seeded, on its first use). Rules are AND-ed conditions
//! (`==`, `!=`, `>`, `<`, `contains`, `matches`, `in` on `agent_id`, `agent_role`, `action`, `resource`,
//! `environment.X`, `params.X`, `agent.X`); the enabled rule of highest priority whose conditions hold
//! decides (ties in policy, then rule order), otherwise the first enabled policy's default effect.
//! `POST /api/policy/evaluate` writes its counters and its events (`policy.evaluated`, then
//! `policy.denied`, `policy.warning_triggered` or `policy.audit_required`) in one transaction and answers a
//! deny with 403 `policy_denied`, whose body also carries the original's detail keys.
//!
//! Departures from the original (its bugs, MOD §15.10, and the decisions of the Modules II spec):
//! - `>`/`<` on a missing field or mismatched types is false, not a 500; `matches` compiles `^(?:p)` with
//!   the `regex` crate (linear-time matching, size limits, so no ReDoS; Rust regex syntax: no
//!   backreferences or lookaround) and an invalid pattern is 422 at create or update.
//! - Ids `policy_<n>` come from a per-tenant counter and are never reused, so a create after a delete can
//!   not overwrite another policy (the original's `count+1` did); a collision would be 409.
//! - `policy.deleted` is written in the delete's transaction (the original emitted it before deleting).
//! - The Foundation safety check (not migrated) is ported as [`engine::safety_violation`]; an allow it
//!   overrides counts once, as a deny (the original counted an allow and a deny), and its
//!   `policy.denied` keeps the rule's `warnings` / `requires_audit` (catalog fix M11). No `ethics.*` events.
//! - With no enabled policy the deny is evaluated and denied events too (D-12: every deny is visible).
//! - `POST /api/policy/test-rule` neither counts nor emits (D-11).
//! - Every route needs a key; `evaluate` and the policy writes need the writer role. `contains` and
//!   `matches` read a non-string field as its JSON text.

mod api;
pub mod engine;
mod error;
pub mod model;
mod service;

pub(crate) use api::router;
pub use error::PolicyError;
pub use model::{EvaluationContext, EvaluationResult, Policy};
pub use service::{DEFAULT_POLICY_IDS, PolicyService, PolicyStats};
