//! HTTP API tests: the real `brain serve` on a free port in a temp dir, talked to with reqwest.
//!
//! `helpers` starts a server with its admin key and makes tenant keys; one module per concern.

mod bad_input;
mod cloudevents_out;
mod events;
mod helpers;
mod ingest;
mod isolation;
mod keys;
mod openapi;
mod pg_order;
mod postgres;
mod sse;
