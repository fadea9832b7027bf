//! threats: detected security threats and their status, per tenant (original-modules.md §11).
//!
//! It owns `threats` (one row per threat; times in epoch seconds with fractions). A create stores an
//! `OPEN` threat and writes `threat.detected`; a status change writes `threat.status_changed`, then
//! `threat.escalated` (to `ESCALATED`) or `threat.mitigated` (to `MITIGATED`, with the seconds since
//! detection), in the same transaction as the row.
//!
//! Departures from the original:
//! - The statistics are counted from the rows (`GROUP BY`), not kept in a separate blob updated by
//!   read-modify-write, so they always agree with the list (TH-F1).
//! - A status change of an unknown id, or another tenant's, is 404 (the original answered 500: its
//!   `status` parameter shadowed FastAPI's `status` module, MOD §15.7).
//! - Any transition is allowed, as in the original, but a change to the current status is a no-op that
//!   answers the threat unchanged and emits nothing (D-14). A change is one conditional `UPDATE ... WHERE
//!   status = <the status read>`, so concurrent changes each report their true `old_status`.
//! - Stored in the state store instead of Redis; every route needs a key, writes the writer role.

mod api;
mod error;
pub mod model;
mod service;

pub(crate) use api::router;
pub use error::ThreatError;
pub use model::{Threat, ThreatStats};
pub use service::ThreatService;
