//! The Redis stream entry encoding, compatible with the original Python EventStream.
//!
//! One field per field of the original's `Event` dataclass, in its order (`id`, `type`, `source`,
//! `target`, `payload`, `timestamp`, `mission_id`, `task_id`, `correlation_id`, `tenant_id`, `actor_id`,
//! `severity`, `meta`); strings as they are; `payload` and `meta` as JSON strings. What the original's
//! reader (`Event.from_dict`, used by its `get_event_history` and `EventConsumer`) needs to accept an entry:
//!
//! - **No field it does not know.** `from_dict` calls `Event(**fields)`, which raises `TypeError` on an
//!   unknown key (and the original's consumer then acknowledges the entry away). Envelope fields the
//!   original lacks are written inside `meta` instead: `causation_id` as `meta.causation_id` (see
//!   [`META_FIELDS`]). The key is reserved there: a string under `meta.causation_id` is read back as the
//!   envelope's `causation_id`, not as an extra meta key.
//! - **Every field it requires.** `target` has no default in the dataclass, so a broadcast (`target` =
//!   `None`) is written as the empty string (redis-py cannot send `None`); we read `""` back as `None`.
//!   Other absent optional fields are omitted (the dataclass defaults them to `None`).
//! - **A timestamp `datetime.fromisoformat` parses on Python 3.7+**: RFC 3339 with the offset `+00:00`
//!   and microseconds (`2025-12-29T10:15:30.123456+00:00`); `Z` is read only by Python 3.11+. (JSON and
//!   HTTP keep RFC 3339 with `Z`.)
//!
//! The reader accepts what we wrote before and what the original wrote: `causation_id` as a top-level
//! field too, `Z` and naive ISO timestamps (naive = UTC), epoch-second timestamps, entries without
//! `meta` (legacy meta), `schema_version` as the string `"1.0"`, `None`/`null`/empty strings for absent
//! fields. Unknown extra fields are ignored.

use std::collections::HashMap;

use serde_json::Value;

use crate::envelope::{FieldSource, FieldValue, decode_fields, format_timestamp_offset};
use crate::error::DecodeError;
use crate::{Event, MAX_FIELD_CHARS};

/// The stream key the original used, and our default.
pub const DEFAULT_STREAM: &str = "brain:events:stream";

/// Envelope fields the original's `Event` dataclass does not have: written as keys of `meta`, read from
/// `meta` or from a top-level field.
pub const META_FIELDS: &[&str] = &["causation_id"];

/// Encodes an event as the ordered field list of one `XADD`.
pub fn encode(e: &Event) -> Vec<(&'static str, String)> {
    let mut f: Vec<(&'static str, String)> = Vec::with_capacity(13);
    f.push(("id", e.id.to_string()));
    f.push(("type", e.event_type.to_string()));
    f.push(("source", e.source.to_string()));
    // Required by the original's dataclass: "" stands for a broadcast.
    f.push(("target", e.target.clone().unwrap_or_default()));
    f.push(("payload", Value::Object(e.payload.clone()).to_string()));
    f.push(("timestamp", format_timestamp_offset(&e.timestamp)));
    for (name, v) in [("mission_id", &e.mission_id), ("task_id", &e.task_id), ("correlation_id", &e.correlation_id)] {
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
    f.push(("meta", encode_meta(e)));
    f
}

/// `meta` as JSON, with the envelope fields of [`META_FIELDS`] added.
fn encode_meta(e: &Event) -> String {
    let mut meta = match serde_json::to_value(&e.meta) {
        Ok(Value::Object(m)) => m,
        // Serialising a struct of plain data into a `Value` cannot fail.
        _ => serde_json::Map::new(),
    };
    if let Some(c) = &e.causation_id {
        meta.insert("causation_id".into(), Value::String(c.clone()));
    }
    Value::Object(meta).to_string()
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
    let mut e = decode_fields(&TextFields(fields))?;
    lift_meta_fields(&mut e).map_err(|err| err.with_event_type(e.event_type.clone()))?;
    Ok(e)
}

/// Moves `meta.causation_id` (a string) into the envelope; a top-level `causation_id` (as older entries
/// have it) wins.
fn lift_meta_fields(e: &mut Event) -> Result<(), DecodeError> {
    let c = match e.meta.extra.get("causation_id") {
        Some(Value::String(c)) => c.clone(),
        _ => return Ok(()),
    };
    e.meta.extra.remove("causation_id");
    if c.chars().count() > MAX_FIELD_CHARS {
        return Err(DecodeError::new("meta.causation_id", format!("is longer than {MAX_FIELD_CHARS} characters")));
    }
    if c.chars().any(char::is_control) {
        return Err(DecodeError::new("meta.causation_id", "must not contain control characters"));
    }
    if e.causation_id.is_none() && !c.is_empty() {
        e.causation_id = Some(c);
    }
    Ok(())
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
    use crate::format_timestamp;

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

    fn sample() -> Event {
        let mut e = Event::new(
            "task.created".parse().unwrap_or_else(|e| panic!("{e}")),
            "s".parse().unwrap_or_else(|e| panic!("{e}")),
            serde_json::Map::new(),
        );
        e.timestamp = crate::parse_timestamp("2025-12-29T10:15:30.123456Z").unwrap_or_else(|e| panic!("{e}"));
        e
    }

    #[test]
    fn fields_the_original_lacks_go_into_meta_and_timestamps_carry_an_offset() {
        let mut e = sample();
        e.causation_id = Some("cause-1".into());
        let fields = encode(&e);
        let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["id", "type", "source", "target", "payload", "timestamp", "meta"]);
        let get = |k: &str| fields.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("target"), Some(""), "the dataclass requires target: a broadcast is the empty string");
        assert_eq!(get("timestamp"), Some("2025-12-29T10:15:30.123456+00:00"));
        let meta: serde_json::Value = serde_json::from_str(get("meta").unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(meta["causation_id"], "cause-1");
        let map: HashMap<String, String> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        assert_eq!(decode(&map).ok(), Some(e));
    }

    #[test]
    fn causation_id_is_read_from_the_top_level_or_from_meta() {
        let base = [("id", "e"), ("type", "task.created"), ("source", "s"), ("payload", "{}"), ("timestamp", "2025-01-01T00:00:00Z")];
        let mut old = map(&base);
        old.insert("causation_id".into(), "top".into());
        assert_eq!(decode(&old).ok().and_then(|e| e.causation_id).as_deref(), Some("top"), "entries we wrote before");
        let mut new = map(&base);
        new.insert(
            "meta".into(),
            r#"{"schema_version": 1, "producer": "p", "source_module": "m", "causation_id": "in-meta", "k": 1}"#.into(),
        );
        let e = decode(&new).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.causation_id.as_deref(), Some("in-meta"));
        assert_eq!(e.meta.extra.keys().collect::<Vec<_>>(), ["k"], "the reserved key is not kept as extra meta");
        new.insert("causation_id".into(), "top".into());
        assert_eq!(decode(&new).ok().and_then(|e| e.causation_id).as_deref(), Some("top"), "the top-level field wins");
        new.insert("meta".into(), format!(r#"{{"causation_id": "{}"}}"#, "x".repeat(300)));
        assert_eq!(decode(&new).err().map(|e| e.field).as_deref(), Some("meta.causation_id"));
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
