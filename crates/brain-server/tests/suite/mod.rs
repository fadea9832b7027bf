//! Test modules; `helpers` starts the application in-process.

pub(crate) mod helpers;

mod audit_verify;
mod routes;
