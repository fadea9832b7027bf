//! The one way an event comes in. `POST /api/events`, `POST /api/cloudevents` and `brain publish` each
//! build an [`Event`] their own way, then pass [`ingest`] before the append, so all three apply the same
//! rules:
//!
//! 1. `meta.redeliver_to` is removed: it is the runtime's mark of a dead-letter retry (only the named
//!    subscriber gets the event), never something a producer may set.
//! 2. Size limits: `meta` up to [`MAX_META_BYTES`] serialised, the payload up to [`MAX_PAYLOAD_BYTES`],
//!    strings inside it up to [`MAX_STRING_CHARS`] characters, nesting up to [`MAX_DEPTH`] levels.
//! 3. The envelope's own field checks (the JSON decoder's: free-form fields up to
//!    [`eventstream_core::MAX_FIELD_CHARS`] characters without control characters, valid tenant and
//!    severity), whatever codec built the event.
//! 4. The trace context, when the producer gives one: `meta.traceparent` a valid W3C `traceparent`,
//!    `meta.tracestate` a valid `tracestate` that comes with it (field `meta.traceparent` /
//!    `meta.tracestate`).
//! 5. Catalog validation in the mode asked for (`strict`, `warn`, `off`).
//!
//! Each failure names the field (a JSON pointer into the payload for payload limits).

use brain_events::{Catalog, ValidationError, ValidationMode, Warning};
use brain_http::ApiError;
use eventstream_core::{DecodeError, Event};
use serde_json::{Map, Value};

/// The largest event payload, serialised (512 KiB).
pub const MAX_PAYLOAD_BYTES: usize = 512 * 1024;
/// The longest string inside a payload, in characters.
pub const MAX_STRING_CHARS: usize = 64 * 1024;
/// The deepest nesting of a payload.
pub const MAX_DEPTH: usize = 32;
/// The largest `meta`, serialised (16 KiB).
pub const MAX_META_BYTES: usize = 16 * 1024;

/// Why an event was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// An envelope field breaks the envelope's rules.
    #[error("{source}")]
    Envelope {
        /// The decoder's verdict, naming the field.
        #[source]
        source: DecodeError,
    },
    /// A size limit is exceeded.
    #[error("{message}")]
    TooLarge {
        /// `meta` or a JSON pointer into the payload.
        field: String,
        /// Which limit.
        message: String,
    },
    /// The payload nests too deeply.
    #[error("nested deeper than {MAX_DEPTH} levels")]
    TooDeep {
        /// A JSON pointer into the payload.
        field: String,
    },
    /// The catalog rejects the event (strict mode).
    #[error("{source}")]
    Invalid {
        /// The catalog's verdict.
        #[source]
        source: ValidationError,
    },
}

impl IngestError {
    /// The field at fault: an envelope field name, `meta`, or a JSON pointer (`/payload/...`).
    pub fn field(&self) -> String {
        match self {
            IngestError::Envelope { source } => source.field.clone(),
            IngestError::TooLarge { field, .. } | IngestError::TooDeep { field } => field.clone(),
            IngestError::Invalid { source } => source.pointer().to_string(),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        use axum::http::StatusCode;
        let field = e.field();
        let (status, code) = match &e {
            IngestError::Envelope { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_event"),
            IngestError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            IngestError::TooDeep { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "payload_too_deep"),
            IngestError::Invalid { source } => (StatusCode::UNPROCESSABLE_ENTITY, source.code()),
        };
        ApiError::new(status, code, e.to_string()).with_field(field)
    }
}

/// Checks `event` and returns it as it will be appended, with the catalog's warnings (`warn` mode, or
/// notes such as an applied upcast).
///
/// # Errors
/// The first rule of the module doc that the event breaks.
pub fn ingest(catalog: &Catalog, mode: ValidationMode, mut event: Event) -> Result<(Event, Vec<Warning>), IngestError> {
    event.meta.extra.remove(eventstream::REDELIVER_TO_META_KEY);
    let meta_bytes = serde_json::to_string(&event.meta).map_or(usize::MAX, |s| s.len());
    if meta_bytes > MAX_META_BYTES {
        return Err(IngestError::TooLarge {
            field: "meta".into(),
            message: format!("meta is {meta_bytes} bytes; at most {MAX_META_BYTES}"),
        });
    }
    check_payload(&event.payload)?;
    eventstream_core::trace::check_meta(&event.meta)
        .map_err(|e| IngestError::Envelope { source: DecodeError::new(format!("meta.{}", e.field), e.reason) })?;
    // The decoder holds the envelope's field rules; a codec that builds the struct directly skips them.
    let event = Event::from_json_value(event.to_json_value()).map_err(|source| IngestError::Envelope { source })?;
    let warnings = catalog.validate(&event, mode).map_err(|source| IngestError::Invalid { source })?;
    Ok((event, warnings))
}

/// Size limits on a payload: total bytes, string lengths, nesting depth.
fn check_payload(payload: &Map<String, Value>) -> Result<(), IngestError> {
    fn walk(v: &Value, path: &mut String, depth: usize) -> Result<(), IngestError> {
        if depth > MAX_DEPTH {
            return Err(IngestError::TooDeep { field: path.clone() });
        }
        let visit = |key: &str, item: &Value, path: &mut String| {
            let len = path.len();
            path.push('/');
            path.push_str(&key.replace('~', "~0").replace('/', "~1"));
            let r = walk(item, path, depth + 1);
            path.truncate(len);
            r
        };
        match v {
            Value::String(s) if s.chars().count() > MAX_STRING_CHARS => Err(IngestError::TooLarge {
                field: path.clone(),
                message: format!("a string is longer than {MAX_STRING_CHARS} characters"),
            }),
            Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| visit(&i.to_string(), item, path)),
            Value::Object(m) => m.iter().try_for_each(|(k, item)| visit(k, item, path)),
            _ => Ok(()),
        }
    }
    let bytes = serde_json::to_string(payload).map_or(usize::MAX, |s| s.len());
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(IngestError::TooLarge {
            field: "/payload".into(),
            message: format!("the payload is {bytes} bytes; at most {MAX_PAYLOAD_BYTES}"),
        });
    }
    let mut path = String::from("/payload");
    for (k, v) in payload {
        let len = path.len();
        path.push('/');
        path.push_str(&k.replace('~', "~0").replace('/', "~1"));
        walk(v, &mut path, 1)?;
        path.truncate(len);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use eventstream_core::{EventType, Source};
    use serde_json::json;

    use super::*;

    fn event(payload: Value) -> Event {
        let Value::Object(p) = payload else { panic!("an object") };
        Event::new("task.created".parse::<EventType>().unwrap(), "s".parse::<Source>().unwrap(), p)
    }

    #[test]
    fn payload_limits_name_the_field() {
        let catalog = Catalog::new();
        let e = ingest(&catalog, ValidationMode::Off, event(json!({"note": "x".repeat(MAX_STRING_CHARS + 1)}))).err();
        assert!(matches!(&e, Some(IngestError::TooLarge { field, .. }) if field == "/payload/note"), "{e:?}");
        let mut deep = Value::Null;
        for _ in 0..40 {
            deep = json!([deep]);
        }
        let e = ingest(&catalog, ValidationMode::Off, event(json!({"d": deep}))).err();
        assert!(matches!(e, Some(IngestError::TooDeep { .. })), "{e:?}");
    }

    #[test]
    fn envelope_fields_meta_size_and_redeliver_to_are_checked_whatever_built_the_event() {
        let catalog = Catalog::new();
        let mut e = event(json!({}));
        e.actor_id = Some("a".repeat(300));
        assert_eq!(ingest(&catalog, ValidationMode::Off, e).err().map(|e| e.field()), Some("actor_id".into()));
        let mut e = event(json!({}));
        e.correlation_id = Some("a\u{7}b".into());
        assert_eq!(ingest(&catalog, ValidationMode::Off, e).err().map(|e| e.field()), Some("correlation_id".into()));
        let mut e = event(json!({}));
        e.meta.extra.insert("big".into(), "x".repeat(MAX_META_BYTES).into());
        assert_eq!(ingest(&catalog, ValidationMode::Off, e).err().map(|e| e.field()), Some("meta".into()));
        let mut e = event(json!({}));
        e.meta.extra.insert(eventstream::REDELIVER_TO_META_KEY.into(), "audit".into());
        let (kept, _) = ingest(&catalog, ValidationMode::Off, e).unwrap();
        assert!(!kept.meta.extra.contains_key(eventstream::REDELIVER_TO_META_KEY));
    }

    #[test]
    fn the_catalog_mode_decides() {
        let catalog = Catalog::new();
        let bad = event(json!({"nothing": 1}));
        assert!(matches!(ingest(&catalog, ValidationMode::Strict, bad.clone()), Err(IngestError::Invalid { .. })));
        let (_, warnings) = ingest(&catalog, ValidationMode::Warn, bad.clone()).unwrap();
        assert!(!warnings.is_empty());
        assert!(ingest(&catalog, ValidationMode::Off, bad).is_ok());
    }
}
