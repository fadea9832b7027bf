//! The clauses of the [`eventstream_core::EventLog`] contract, one public function each, grouped by theme.
//!
//! Every function opens its own log under a unique name, so the functions can run in parallel against one
//! service, and asserts behaviour that a backend missing the clause cannot fake.

pub mod blocking;
pub mod delivery;
pub mod groups;
pub mod order;
