//! The vocabulary of BRAiN EventStream.
//!
//! This crate holds what every other crate agrees on and nothing that runs:
//!
//! - [`Event`]: the Charter v1.0 envelope, with [`Meta`] and [`Severity`];
//! - identifiers as newtypes that cannot hold invalid values ([`EventId`], [`EventType`], [`TenantId`],
//!   [`GroupName`], [`ConsumerName`], [`Position`], [`TypePattern`]);
//! - the codecs ([`codec`]): canonical JSON, the original's Redis stream fields, CloudEvents 1.0;
//! - [`EventLog`]: the backend contract, with its capability flags;
//! - [`trace`]: the W3C trace context an event carries in its meta;
//! - the errors: [`DecodeError`] names the offending field, [`LogError`] says whether retrying helps.
//!
//! # Layout
//! `id.rs` identifiers, `envelope.rs` the envelope and its decoding rules, `codec/` the wire encodings,
//! `log.rs` the trait, `error.rs` the errors.

pub mod codec;
mod envelope;
pub mod error;
pub mod fs;
mod id;
mod log;
pub mod redact;
pub mod trace;

pub use envelope::{Event, MAX_FIELD_CHARS, Meta, Severity, epoch_seconds, format_timestamp, parse_timestamp, truncate_to_micros};
pub use error::{BoxError, DecodeError, LogError};
pub use id::{ConsumerName, EventId, EventType, GroupName, InvalidId, LEGACY_BROADCAST, Position, Source, TenantId, TypePattern};
pub use log::{Capabilities, DelegatingLog, Delivery, EventLog, GroupInfo, Record, StartFrom};

/// Re-exported so backends implement [`EventLog`] with the same macro version.
pub use async_trait::async_trait;
