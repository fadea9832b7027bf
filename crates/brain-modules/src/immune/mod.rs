//! immune: the immune system's records of policy violations, error spikes and self-healing actions, per
//! tenant (original-modules.md §12).
//!
//! It owns `immune_events`. `POST /api/immune/event` stores a record with the tenant's next sequential id
//! and writes `immune.event_published`, then `immune.critical_event` for a CRITICAL one, in the same
//! transaction, and answers the id. `GET /api/immune/health` summarises the last 60 minutes: all records
//! (`active_issues`), the CRITICAL ones (`critical_issues`) and the last 10 in insertion order.
//!
//! Departures from the original: records live in the state store (the original kept an in-memory list);
//! times are true epoch instants (the original converted naive UTC as local time, MOD §15.12); ids are
//! sequential per tenant; the request's `created_at` (required by the original and then overwritten) and
//! `id` are optional and ignored. Nothing is triggered automatically: `SELF_HEALING_ACTION` is recorded
//! only. `/health` is tenant data, so it needs a key like every route; a post needs the writer role.

mod api;
mod service;

pub(crate) use api::router;
pub use service::{ImmuneError, ImmuneRecord, ImmuneService, ImmuneSummary};
