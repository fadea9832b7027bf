//! The three encodings of an [`crate::Event`], each with round-trip tests:
//!
//! - JSON (canonical: HTTP, SQL, NATS) lives on [`crate::Event`] itself (`to_json_value`,
//!   `from_json_value`, serde);
//! - [`redis_fields`]: the flat field map of a Redis stream entry, compatible with the original;
//! - [`cloudevents`]: CloudEvents 1.0 structured JSON and HTTP binary mode.

pub mod cloudevents;
pub mod redis_fields;
