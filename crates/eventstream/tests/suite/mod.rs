//! The integration test modules of `eventstream`.

pub mod crash;
mod dlq;
pub mod helpers;
mod outbox;
mod replay;
mod retry;
mod trace;
