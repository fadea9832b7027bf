//! dna: agent DNA snapshots with per-agent versions, mutations and KARMA scores.
//!
//! It owns `dna_snapshots` (the original kept them in one process's memory). Snapshot ids come from a
//! global counter, versions count per agent and tenant. A mutation merges keys into the latest DNA and
//! traits (key overrides, as the reference: not arithmetic deltas) into a new version; a KARMA update
//! overwrites the latest snapshot's score in place. Each change and its `dna.*` event commit together.
//! Departures from the original: timestamps are true epoch seconds (§15.12); KARMA updates have a route
//! (the KARMA module's call was never awaited, §15.9) and an unknown agent is 404, not a silent no-op.

mod api;
mod service;

pub(crate) use api::router;
pub use service::{DnaError, DnaService, Snapshot};
