//! The Charter v1.0 envelope every event travels in.
//!
//! The field set is the original's (`id`, `type`, `source`, `target`, `timestamp`, `payload`, the six
//! correlation ids, `severity`, `meta`) plus `causation_id`. The envelope is a wire contract: renaming a
//! field is a breaking change.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::DecodeError;
use crate::id::{EventId, EventType, Source, TenantId};

/// Maximum length, in characters, of the free-form string fields (`target`, `mission_id`, `task_id`,
/// `correlation_id`, `causation_id`, `actor_id`).
pub const MAX_FIELD_CHARS: usize = 256;

/// How serious an event is. The original documented these four values and never checked them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Normal operation.
    Info,
    /// Something to look at.
    Warning,
    /// A failure.
    Error,
    /// A failure that needs a person now.
    Critical,
}

impl Severity {
    /// The wire spelling (`INFO`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl FromStr for Severity {
    type Err = &'static str;
    /// Case-insensitive; `WARN` is read as `WARNING`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "INFO" => Ok(Severity::Info),
            "WARNING" | "WARN" => Ok(Severity::Warning),
            "ERROR" => Ok(Severity::Error),
            "CRITICAL" => Ok(Severity::Critical),
            _ => Err("must be one of INFO, WARNING, ERROR, CRITICAL"),
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `meta` object: schema version, producer and source module are required; other keys are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The payload's schema version (an integer; the original sometimes wrote the string `"1.0"`, read as 1).
    pub schema_version: u32,
    /// The component that built the event.
    pub producer: String,
    /// The module the event comes from.
    pub source_module: String,
    /// Any other keys, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Meta {
    /// Meta for version 1 of a payload produced by `producer` in `source_module`.
    pub fn new(producer: impl Into<String>, source_module: impl Into<String>) -> Self {
        Self { schema_version: 1, producer: producer.into(), source_module: source_module.into(), extra: Map::new() }
    }

    /// The meta the original gave events that had none: `{schema_version: 1, producer: "legacy",
    /// source_module: "unknown"}`.
    pub fn legacy() -> Self {
        Self::new("legacy", "unknown")
    }
}

/// One event: the Charter v1.0 envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Unique id made by the producer (UUIDv7 for new events). Consumers deduplicate on it.
    pub id: EventId,
    /// The event type; its first segment is the module namespace.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The producing component.
    pub source: Source,
    /// The addressed agent, or `None` for a broadcast.
    pub target: Option<String>,
    /// When the event happened (UTC).
    #[serde(serialize_with = "ser_timestamp")]
    pub timestamp: DateTime<Utc>,
    /// The type-specific payload (a JSON object).
    pub payload: Map<String, Value>,
    /// The mission this event belongs to.
    pub mission_id: Option<String>,
    /// The task this event belongs to.
    pub task_id: Option<String>,
    /// Groups the events of one business flow.
    pub correlation_id: Option<String>,
    /// The id of the event that caused this one.
    pub causation_id: Option<String>,
    /// The tenant the event belongs to.
    pub tenant_id: Option<TenantId>,
    /// The user or agent on whose behalf it happened.
    pub actor_id: Option<String>,
    /// How serious it is.
    pub severity: Option<Severity>,
    /// Schema version, producer, source module and other metadata.
    pub meta: Meta,
}

fn ser_timestamp<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_timestamp(t))
}

/// Drops sub-microsecond precision, which no encoding keeps.
pub fn truncate_to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_micros(t.timestamp_micros()).single().unwrap_or(t)
}

/// Writes a timestamp as RFC 3339 in UTC with a `Z` and microsecond precision.
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Writes a timestamp as RFC 3339 in UTC with the offset `+00:00` and microsecond precision: the form
/// Python's `datetime.fromisoformat` reads on every version since 3.7 (it reads `Z` only since 3.11). The
/// Redis stream encoding uses it, so the original Python readers can parse what we write.
pub(crate) fn format_timestamp_offset(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// Reads a timestamp in any form producers wrote: RFC 3339 with `Z` or an offset, naive ISO 8601 (read as
/// UTC, as the original's `datetime.utcnow().isoformat()` meant), or epoch seconds (integer or fraction).
pub fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Err("must not be empty");
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    // Offsets written without a colon or with a space separator.
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%:z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(Utc.from_utc_datetime(&t));
        }
    }
    if let Ok(secs) = s.parse::<f64>() {
        return epoch_seconds(secs);
    }
    Err("is not an RFC 3339 / ISO 8601 timestamp or epoch seconds")
}

/// Converts epoch seconds (possibly fractional) into a UTC instant.
pub fn epoch_seconds(secs: f64) -> Result<DateTime<Utc>, &'static str> {
    if !secs.is_finite() || !(0.0..=253_402_300_799.0).contains(&secs) {
        return Err("epoch seconds out of range");
    }
    let whole = secs.trunc() as i64;
    let nanos = ((secs - secs.trunc()) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
    Utc.timestamp_opt(whole, nanos).single().ok_or("epoch seconds out of range")
}

impl Event {
    /// A new event of `event_type` from `source` with a fresh UUIDv7 id, the current time and the given
    /// payload. Meta is version 1 with `producer = source` and `source_module` = the type's namespace.
    pub fn new(event_type: EventType, source: Source, payload: Map<String, Value>) -> Self {
        let meta = Meta::new(source.as_str(), event_type.namespace());
        Self {
            id: EventId::new(),
            event_type,
            source,
            target: None,
            // Microsecond precision: what every encoding keeps, so an event equals its own round trip.
            timestamp: truncate_to_micros(Utc::now()),
            payload,
            mission_id: None,
            task_id: None,
            correlation_id: None,
            causation_id: None,
            tenant_id: None,
            actor_id: None,
            severity: None,
            meta,
        }
    }

    /// The canonical JSON object of this event (every field present; absent optionals are `null`).
    pub fn to_json_value(&self) -> Value {
        // Serialising plain data into a `Value` cannot fail; fall back to null defensively.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The canonical JSON text of this event: the same bytes as `to_json_value().to_string()`, written
    /// straight from the struct without building a [`Value`] tree first (half the work on every append).
    pub fn to_json_string(&self) -> String {
        String::from_utf8(self.to_json_vec()).unwrap_or_default()
    }

    /// [`Event::to_json_string`] as bytes.
    pub fn to_json_vec(&self) -> Vec<u8> {
        // A meta whose `extra` repeats a named key would be written twice by the flattened serializer,
        // while the `Value` tree keeps one: take the tree path for that (never produced by this crate).
        let repeats = ["schema_version", "producer", "source_module"].iter().any(|k| self.meta.extra.contains_key(*k));
        if repeats {
            return self.to_json_value().to_string().into_bytes();
        }
        // Serialising plain data into memory cannot fail; fall back to the tree path defensively.
        serde_json::to_vec(self).unwrap_or_else(|_| self.to_json_value().to_string().into_bytes())
    }

    /// Decodes an event from canonical JSON (or anything a producer wrote that is close to it).
    ///
    /// # Errors
    /// A [`DecodeError`] naming the first field that is missing or invalid.
    pub fn from_json_value(v: Value) -> Result<Self, DecodeError> {
        let Value::Object(map) = v else {
            return Err(DecodeError::new("", "an event must be a JSON object"));
        };
        decode_fields(&JsonFields::new(map))
    }

    /// Decodes an event from canonical JSON bytes.
    ///
    /// # Errors
    /// A [`DecodeError`] for malformed JSON or a missing or invalid field.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Self, DecodeError> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| DecodeError::new("", format!("malformed JSON: {e}")))?;
        Self::from_json_value(v)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Event::from_json_value(v).map_err(serde::de::Error::custom)
    }
}

/// A field value as a codec found it: a JSON value, or a flat string (Redis stream entries).
pub(crate) enum FieldValue<'a> {
    Json(&'a Value),
    Text(&'a str),
}

/// Where [`decode_fields`] reads the envelope fields from.
pub(crate) trait FieldSource {
    fn get(&self, name: &str) -> Option<FieldValue<'_>>;

    /// Hands over the JSON object stored under `name` (`payload`, `meta`) without copying it, when the
    /// source owns one; [`FieldSource::get`] is used otherwise.
    fn take_object(&self, _name: &str) -> Option<Map<String, Value>> {
        None
    }
}

/// The fields of a decoded JSON object. `payload` and `meta` objects are moved out of the map up front so
/// that decoding hands them over instead of deep-cloning them.
struct JsonFields {
    map: Map<String, Value>,
    payload: std::cell::Cell<Option<Map<String, Value>>>,
    meta: std::cell::Cell<Option<Map<String, Value>>>,
}

impl JsonFields {
    fn new(mut map: Map<String, Value>) -> Self {
        let mut take = |name: &str| match map.get(name) {
            Some(Value::Object(_)) => match map.remove(name) {
                Some(Value::Object(m)) => Some(m),
                _ => None,
            },
            _ => None,
        };
        let payload = take("payload");
        let meta = take("meta");
        Self { map, payload: std::cell::Cell::new(payload), meta: std::cell::Cell::new(meta) }
    }
}

impl FieldSource for JsonFields {
    fn get(&self, name: &str) -> Option<FieldValue<'_>> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(FieldValue::Json(v)),
        }
    }

    fn take_object(&self, name: &str) -> Option<Map<String, Value>> {
        match name {
            "payload" => self.payload.take(),
            "meta" => self.meta.take(),
            _ => None,
        }
    }
}

fn required<'a>(src: &'a dyn FieldSource, name: &'static str) -> Result<FieldValue<'a>, DecodeError> {
    src.get(name).ok_or_else(|| DecodeError::new(name, "is required"))
}

fn as_text<'a>(v: &FieldValue<'a>, name: &'static str) -> Result<&'a str, DecodeError> {
    match v {
        FieldValue::Text(s) => Ok(s),
        FieldValue::Json(Value::String(s)) => Ok(s),
        FieldValue::Json(_) => Err(DecodeError::new(name, "must be a string")),
    }
}

fn opt_text(src: &dyn FieldSource, name: &'static str) -> Result<Option<String>, DecodeError> {
    let Some(v) = src.get(name) else { return Ok(None) };
    let s = match v {
        FieldValue::Json(Value::Number(n)) => n.to_string(),
        other => as_text(&other, name)?.to_owned(),
    };
    if s.chars().count() > MAX_FIELD_CHARS {
        return Err(DecodeError::new(name, format!("is longer than {MAX_FIELD_CHARS} characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(DecodeError::new(name, "must not contain control characters"));
    }
    Ok(Some(s))
}

fn json_object(v: FieldValue<'_>, name: &'static str) -> Result<Map<String, Value>, DecodeError> {
    match v {
        FieldValue::Json(Value::Object(m)) => Ok(m.clone()),
        FieldValue::Json(Value::String(s)) => parse_object(s, name),
        FieldValue::Text(s) => parse_object(s, name),
        FieldValue::Json(_) => Err(DecodeError::new(name, "must be a JSON object")),
    }
}

fn parse_object(s: &str, name: &'static str) -> Result<Map<String, Value>, DecodeError> {
    match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(DecodeError::new(name, "must be a JSON object")),
        Err(e) => Err(DecodeError::new(name, format!("is not valid JSON: {e}"))),
    }
}

fn decode_meta(src: &dyn FieldSource) -> Result<Meta, DecodeError> {
    let mut m = match src.take_object("meta") {
        Some(m) => m,
        None => {
            let Some(v) = src.get("meta") else { return Ok(Meta::legacy()) };
            json_object(v, "meta")?
        }
    };
    let schema_version = match m.remove("schema_version") {
        None | Some(Value::Null) => 1,
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| DecodeError::new("meta.schema_version", "must be a non-negative integer"))?,
        // The original's ir_governance and course_distribution wrote "1.0".
        Some(Value::String(s)) => s
            .split('.')
            .next()
            .and_then(|major| major.trim().parse::<u32>().ok())
            .ok_or_else(|| DecodeError::new("meta.schema_version", "must be an integer"))?,
        Some(_) => return Err(DecodeError::new("meta.schema_version", "must be an integer")),
    };
    let mut text = |key: &'static str, field: &'static str| -> Result<String, DecodeError> {
        match m.remove(key) {
            None | Some(Value::Null) => Ok("unknown".to_owned()),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(DecodeError::new(field, "must be a string")),
        }
    };
    let producer = text("producer", "meta.producer")?;
    let source_module = text("source_module", "meta.source_module")?;
    Ok(Meta { schema_version, producer, source_module, extra: m })
}

fn decode_timestamp(v: FieldValue<'_>) -> Result<DateTime<Utc>, DecodeError> {
    let r = match v {
        FieldValue::Json(Value::Number(n)) => n.as_f64().ok_or("is not a number").and_then(epoch_seconds),
        FieldValue::Json(Value::String(s)) => parse_timestamp(s),
        FieldValue::Text(s) => parse_timestamp(s),
        FieldValue::Json(_) => Err("must be a string or epoch seconds"),
    };
    r.map_err(|reason| DecodeError::new("timestamp", reason))
}

/// Decodes the envelope from any field source. Shared by the JSON and Redis codecs so both apply the same
/// rules and name the same fields in errors.
pub(crate) fn decode_fields(src: &dyn FieldSource) -> Result<Event, DecodeError> {
    // Whatever fails after the type was read, the error carries the type.
    let event_type = src.get("type").and_then(|v| as_text(&v, "type").ok().and_then(|t| t.parse::<EventType>().ok()));
    decode_all(src).map_err(|e| match &event_type {
        Some(t) => e.with_event_type(t.clone()),
        None => e,
    })
}

fn decode_all(src: &dyn FieldSource) -> Result<Event, DecodeError> {
    let parse_id = |name: &'static str| -> Result<String, DecodeError> { Ok(as_text(&required(src, name)?, name)?.to_owned()) };
    let id: EventId = parse_id("id")?.parse().map_err(|e: crate::id::InvalidId| DecodeError::new("id", e.reason))?;
    let event_type: EventType = parse_id("type")?.parse().map_err(|e: crate::id::InvalidId| DecodeError::new("type", e.reason))?;
    let source: Source = parse_id("source")?.parse().map_err(|e: crate::id::InvalidId| DecodeError::new("source", e.reason))?;
    let timestamp = decode_timestamp(required(src, "timestamp")?)?;
    let payload = match src.take_object("payload") {
        Some(m) => m,
        None => json_object(required(src, "payload")?, "payload")?,
    };
    let tenant_id = match opt_text(src, "tenant_id")? {
        None => None,
        Some(t) => Some(t.parse::<TenantId>().map_err(|e| DecodeError::new("tenant_id", e.reason))?),
    };
    let severity = match opt_text(src, "severity")? {
        None => None,
        Some(s) => Some(s.parse::<Severity>().map_err(|reason| DecodeError::new("severity", reason))?),
    };
    Ok(Event {
        id,
        event_type,
        source,
        target: opt_text(src, "target")?,
        timestamp,
        payload,
        mission_id: opt_text(src, "mission_id")?,
        task_id: opt_text(src, "task_id")?,
        correlation_id: opt_text(src, "correlation_id")?,
        causation_id: opt_text(src, "causation_id")?,
        tenant_id,
        actor_id: opt_text(src, "actor_id")?,
        severity,
        meta: decode_meta(src)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_producer_form_are_read() {
        let cases = [
            ("2025-12-29T10:00:00Z", "2025-12-29T10:00:00.000000Z"),
            ("2025-12-29T10:00:00.123456", "2025-12-29T10:00:00.123456Z"),
            ("2025-12-29T10:00:00", "2025-12-29T10:00:00.000000Z"),
            ("2025-12-29T11:00:00+01:00", "2025-12-29T10:00:00.000000Z"),
            ("2025-12-29 10:00:00.5", "2025-12-29T10:00:00.500000Z"),
            ("1767002400", "2025-12-29T10:00:00.000000Z"),
            ("1767002400.25", "2025-12-29T10:00:00.250000Z"),
        ];
        for (input, want) in cases {
            let got = parse_timestamp(input).map(|t| format_timestamp(&t));
            assert_eq!(got.as_deref(), Ok(want), "{input}");
        }
        for bad in ["", "yesterday", "2025-13-01T00:00:00", "NaN", "-5", "1e20"] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_and_invalid_fields_are_named() {
        let base =
            serde_json::json!({"id": "e1", "type": "task.created", "source": "s", "timestamp": "2025-01-01T00:00:00Z", "payload": {}});
        assert!(Event::from_json_value(base.clone()).is_ok());
        for (field, bad) in [
            ("id", Value::Null),
            ("type", "Task".into()),
            ("source", "".into()),
            ("timestamp", "x".into()),
            ("payload", "[1]".into()),
            ("payload", 5.into()),
        ] {
            let mut v = base.clone();
            v[field] = bad;
            let err = Event::from_json_value(v).err().unwrap_or_else(|| panic!("{field} accepted"));
            assert_eq!(err.field, field);
        }
        let mut v = base.clone();
        v["severity"] = "loud".into();
        assert_eq!(Event::from_json_value(v).err().map(|e| e.field), Some("severity".into()));
        let mut v = base;
        v["meta"] = serde_json::json!({"schema_version": "x"});
        assert_eq!(Event::from_json_value(v).err().map(|e| e.field), Some("meta.schema_version".into()));
    }

    #[test]
    fn missing_meta_becomes_legacy_and_string_versions_are_read() {
        let v = serde_json::json!({"id": "e1", "type": "ir.validated_pass", "source": "s", "timestamp": 1.5, "payload": {},
            "meta": {"schema_version": "1.0", "producer": "ir_governance", "source_module": "ir", "k": 1}});
        let e = Event::from_json_value(v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.meta.schema_version, 1);
        assert_eq!(e.meta.extra.get("k"), Some(&Value::from(1)));
        let v = serde_json::json!({"id": "e1", "type": "task.created", "source": "s", "timestamp": "2025-01-01T00:00:00", "payload": {}});
        let e = Event::from_json_value(v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.meta, Meta::legacy());
    }

    #[test]
    fn direct_json_text_is_the_bytes_of_the_value_tree() {
        let v = serde_json::json!({"id": "e1", "type": "task.created", "source": "s", "target": "agent-1",
            "timestamp": "2025-01-01T00:00:00.123456Z", "payload": {"z": 1, "a": {"nested": [1, "x", null]}, "m": "é\"\n"},
            "mission_id": "m1", "task_id": null, "correlation_id": "c", "causation_id": null, "tenant_id": "t1",
            "actor_id": null, "severity": "WARNING",
            "meta": {"schema_version": 3, "producer": "p", "source_module": "task", "zz": true, "aa": {"b": 2}}});
        let e = Event::from_json_value(v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.to_json_string(), e.to_json_value().to_string());
        let plain = Event::new(
            "task.created".parse().unwrap_or_else(|e| panic!("{e:?}")),
            "s".parse().unwrap_or_else(|e| panic!("{e:?}")),
            Map::new(),
        );
        assert_eq!(plain.to_json_string(), plain.to_json_value().to_string());
        // A meta whose extra keys repeat a named key still yields one key, as the tree does.
        let mut odd = plain.clone();
        odd.meta.extra.insert("producer".into(), "other".into());
        assert_eq!(odd.to_json_string(), odd.to_json_value().to_string());
        // Decoding moves payload and meta out without changing them.
        let back = Event::from_json_slice(e.to_json_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, e);
    }
}
