//! ir_governance: IR validation verdicts, single-use HITL approvals and IR-to-DAG diff audits, with
//! their nine `ir.*` events on the EventStream (in the original none was ever published: the router was
//! not mounted, three of its five endpoints answered 500, and the singletons had no stream, I1/IR-F8).
//!
//! The pure parts (model, canonical JSON, hashes, validator, diff audit) are [`crate::ir`], shared with
//! course_factory. This module owns the table `ir_approvals` (tenant-keyed; the token's SHA-256 unique),
//! the routes ([`api`]), the tenant WebSocket ([`ws`]) and the events, each written through the
//! transactional outbox in the transaction of its state change (validations and audits change no state
//! and write their event alone, before answering).
//!
//! Departures from the original, each fixing a reference bug:
//! - tenant from the API key: a `tenant_id` in a body or query that differs is 403
//!   `tenant_mismatch`; so the payload `tenant_id` always equals the envelope's (M3). Another tenant's
//!   approval ids answer 404;
//! - the envelope `correlation_id` is the request's `X-Correlation-ID` (M2, decided): the IR's
//!   `request_id` stays in the payloads;
//! - hashes exclude `request_id`, `created_at`, `risk_tier` and `requires_approval` (IR-F1, I2, I3);
//! - whole-word scope matching, truthy `bulk`/`batch` keys only, `infra.provision`/`infra.scale` tier 2,
//!   `webgenesis.deploy.trigger` tier 1 (IR-F2, I4); unknown actions or providers, an action/provider
//!   mismatch, a blank idempotency key and bad budgets are REJECT violations, so all three verdicts are
//!   reachable (IR-F3, I5); floats and control characters are 422 (`float_not_allowed`,
//!   `control_character`) with the field's path;
//! - `ttl_seconds=0` is 422, not 3600; at most 7 days (IR-F4). `IR_APPROVAL_TTL_SECONDS` is not read:
//!   modules read no environment (the server's configuration does), and the caller passes a TTL;
//! - consume checks run unknown token, tenant, IR hash, **consumed, then expiry** (IR-B10, IR-F5), and
//!   single use is one conditional `UPDATE` (IR-F6); `tenant_mismatch` reveals no approval id;
//!   `ir.approval_expired` reports the true `was_consumed` (always false here: a consumed approval is
//!   `already_consumed` before expiry is looked at);
//! - expiry is evaluated when read (`status`, `pending`, `stats` show a pending approval past its time as
//!   `expired`, without an event) and on consume (stored, with `ir.approval_expired`); there is no
//!   sweeper (D-3 not taken), so `ir.approval_expired` still means "an expired approval was presented";
//! - `stats` and `health` are served (I8), `pending` works on the SQL store, `token_hash` is never
//!   returned, `acknowledge` is persisted (`acknowledged_by/at`, D-2, no event) and 404s unknown ids;
//! - the WebSocket pushes each new, consumed and expired approval to its tenant's sockets (I8);
//! - `POST /api/ir/dag-diff` serves the diff audit (IR-R12); malformed nodes, non-string or duplicate
//!   ids are 422 with the node's path instead of an eventless failure (IR-F7, I9).

mod api;
mod approvals;
mod error;
pub mod model;
mod service;
mod ws;

pub(crate) use api::router;
pub use error::IrGovernanceError;
pub use service::{IrGovernanceService, Notification};
