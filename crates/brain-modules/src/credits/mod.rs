//! credits: a ledger of credit accounts per agent and tenant (the original was a stub with a health
//! route only; its reports named this ledger as its future).
//!
//! It owns `credit_accounts` (balance, allocated, consumed, refunded, in milli-credits so sums are exact),
//! `credit_ledger` (every change with the balance after it) and `credit_mission_charges` (costs declared
//! by missions). Allocate, consume and refund write the account, the ledger line and the
//! `credits.allocated/consumed/refunded` event in one transaction. A consume is one conditional
//! `UPDATE ... WHERE balance >= amount`, so concurrent consumes can never take the balance below zero:
//! the losers get 409 `insufficient_credits`. A balance that reaches zero, or a mission charge it cannot
//! cover, emits `credits.depleted`.
//!
//! Missions pay through events, not calls: [`handlers::MissionCharges`] records the `credit_cost` of a
//! `mission.created` and consumes it from the mission's agent on `mission.completed`.

mod api;
mod error;
pub(crate) mod handlers;
pub mod model;
mod service;

pub(crate) use api::router;
pub use error::CreditsError;
pub use model::{Account, LedgerEntry};
pub use service::CreditsService;
