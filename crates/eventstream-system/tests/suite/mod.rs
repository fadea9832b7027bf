//! One module per area; `helpers` opens an isolated store per test.

mod audit_proofs;
mod audit_tamper;
mod helpers;
mod ids_per_tenant;
