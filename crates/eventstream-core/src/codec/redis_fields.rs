//! The Redis stream entry encoding, compatible with the original Python EventStream.
//!
//! One field per envelope field in the original's order; strings as they are; `payload` and `meta` as JSON
//! strings; `timestamp` as RFC 3339 with `Z`; absent optional fields are omitted (the original's later
//! fix dropped `None` values, which redis-py cannot send).
//!
//! The reader also accepts what the original wrote: naive ISO timestamps, epoch-second timestamps,
//! entries without `meta` (legacy meta), `schema_version` as the string `"1.0"`, and any missing optional
//! field. Unknown extra fields are ignored.

use std::collections::HashMap;

use crate::Event;
use crate::envelope::{FieldSource, FieldValue, decode_fields, format_timestamp};
use crate::error::DecodeError;

/// The stream key the original used, and our default.
pub const DEFAULT_STREAM: &str = "brain:events:stream";

/// Encodes an event as the ordered field list of one `XADD`.
pub fn encode(e: &Event) -> Vec<(&'static str, String)> {
    let mut f: Vec<(&'static str, String)> = Vec::with_capacity(14);
    f.push(("id", e.id.to_string()));
    f.push(("type", e.event_type.to_string()));
    f.push(("source", e.source.to_string()));
    if let Some(t) = &e.target {
        f.push(("target", t.clone()));
    }
    f.push(("payload", serde_json::Value::Object(e.payload.clone()).to_string()));
    f.push(("timestamp", format_timestamp(&e.timestamp)));
    let opt =
        [("mission_id", &e.mission_id), ("task_id", &e.task_id), ("correlation_id", &e.correlation_id), ("causation_id", &e.causation_id)];
    for (name, v) in opt {
        if let Some(v) = v {
            f.push((name, v.clone()));
        }
    }
    if let Some(t) = &e.tenant_id {
        f.push(("tenant_id", t.to_string()));
    }
    if let Some(a) = &e.actor_id {
        f.push(("actor_id", a.clone()));
    }
    if let Some(s) = e.severity {
        f.push(("severity", s.as_str().to_owned()));
    }
    f.push(("meta", serde_json::to_string(&e.meta).unwrap_or_else(|_| "{}".into())));
    f
}

struct TextFields<'a>(&'a HashMap<String, String>);

impl FieldSource for TextFields<'_> {
    fn get(&self, name: &str) -> Option<FieldValue<'_>> {
        match self.0.get(name).map(String::as_str) {
            // redis-py writes Python's `None` as the string "None" when producers stringify values.
            None | Some("None") | Some("null") => None,
            Some(s) if s.is_empty() && name != "payload" => None,
            Some(s) => Some(FieldValue::Text(s)),
        }
    }
}

/// Decodes a stream entry's fields (as UTF-8 strings).
///
/// # Errors
/// A [`DecodeError`] naming the first missing or invalid field.
pub fn decode(fields: &HashMap<String, String>) -> Result<Event, DecodeError> {
    decode_fields(&TextFields(fields))
}

/// Decodes a stream entry whose values are raw bytes, as Redis returns them.
///
/// # Errors
/// A [`DecodeError`] naming a field that is not UTF-8, missing or invalid.
pub fn decode_bytes<K: AsRef<str>, V: AsRef<[u8]>>(fields: impl IntoIterator<Item = (K, V)>) -> Result<Event, DecodeError> {
    let mut map = HashMap::new();
    for (k, v) in fields {
        let k = k.as_ref();
        let v = std::str::from_utf8(v.as_ref()).map_err(|_| DecodeError::new(k.to_owned(), "is not valid UTF-8"))?;
        map.insert(k.to_owned(), v.to_owned());
    }
    decode(&map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn reads_an_entry_the_original_wrote() {
        // As the original's publish_event (HEAD) wrote it: naive timestamp, nulls dropped, JSON strings.
        let f = map(&[
            ("id", "5b1c1f7e-0d4e-4a55-9c55-7c0f0f7f4a11"),
            ("type", "task.created"),
            ("source", "mission_queue_manager"),
            ("payload", r#"{"task_id": "t1", "priority": 20}"#),
            ("timestamp", "2025-12-29T10:15:30.123456"),
            ("mission_id", "m1"),
            ("task_id", "t1"),
            ("meta", r#"{"schema_version": 1, "producer": "event_stream", "source_module": "core"}"#),
        ]);
        let e = decode(&f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.event_type.as_str(), "task.created");
        assert_eq!(e.payload.get("priority"), Some(&serde_json::Value::from(20)));
        assert_eq!(e.mission_id.as_deref(), Some("m1"));
        assert!(e.target.is_none());
        assert_eq!(format_timestamp(&e.timestamp), "2025-12-29T10:15:30.123456Z");
        assert_eq!(e.meta.producer, "event_stream");
    }

    #[test]
    fn reads_entries_without_meta_and_with_epoch_timestamps() {
        let f = map(&[
            ("id", "evt_dna_1767002400000"),
            ("type", "dna.snapshot_created"),
            ("source", "dna_service"),
            ("payload", "{}"),
            ("timestamp", "1767002400.5"),
            ("target", "None"),
        ]);
        let e = decode(&f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.meta.producer, "legacy");
        assert!(e.target.is_none());
        assert_eq!(format_timestamp(&e.timestamp), "2025-12-29T10:00:00.500000Z");
    }

    #[test]
    fn bad_entries_name_the_field() {
        let good = [("id", "e"), ("type", "task.created"), ("source", "s"), ("payload", "{}"), ("timestamp", "2025-01-01T00:00:00")];
        for (field, bad) in [("payload", "{not json"), ("payload", "[]"), ("type", "TASK"), ("timestamp", "soon"), ("meta", "3")] {
            let mut f = map(&good);
            f.insert(field.into(), bad.into());
            assert_eq!(decode(&f).err().map(|e| e.field), Some(field.to_owned()), "{field}={bad}");
        }
        let mut f = map(&good);
        f.remove("id");
        assert_eq!(decode(&f).err().map(|e| e.field), Some("id".to_owned()));
        let raw: Vec<(&str, &[u8])> = vec![("id", b"\xff\xfe")];
        assert_eq!(decode_bytes(raw).err().map(|e| e.field), Some("id".to_owned()));
    }
}
