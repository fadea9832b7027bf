//! HTTP API tests where the process boundary is what is tested: the real `brain serve` on a free port in a
//! temp dir (the first-start admin key it prints, replicas sharing PostgreSQL, CLI and HTTP writers at once),
//! talked to with reqwest. Route behaviour is tested in-process in the `brain-server` crate.
//!
//! `helpers` starts a server with its admin key and makes tenant keys with the CLI; one module per concern.

mod helpers;
mod keys;
mod pg_order;
mod postgres;
