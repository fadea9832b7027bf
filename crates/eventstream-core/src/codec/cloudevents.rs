//! CloudEvents 1.0: structured JSON, batches, and HTTP binary mode.
//!
//! Mapping of the envelope:
//!
//! | envelope | CloudEvents |
//! |---|---|
//! | `id`, `type`, `timestamp` | `id`, `type`, `time` (RFC 3339 with `Z`) |
//! | `source` | `source` as the URI reference `/brain/<source>` |
//! | `payload` | `data` with `datacontenttype: application/json` |
//! | `tenant_id`, `correlation_id`, `causation_id`, `meta.schema_version` | extensions `tenantid`, `correlationid`, `causationid`, `schemaversion` |
//! | `target`, `mission_id`, `task_id`, `actor_id`, `severity` | extensions `target`, `missionid`, `taskid`, `actorid`, `severity` |
//! | `meta.producer`, `meta.source_module` | extensions `producer`, `sourcemodule` |
//! | `meta.traceparent`, `meta.tracestate` | extensions `traceparent`, `tracestate` (the distributed-tracing extension) |
//! | `meta.cloudevents.subject`, `meta.cloudevents.dataschema` | `subject`, `dataschema` |
//! | `meta.cloudevents.extensions.<name>` | any other extension `<name>` (e.g. `comexampleother`), value as received |
//! | other meta keys | as one JSON object in the extension `brainmeta` |
//!
//! So an event that arrives as a CloudEvent keeps what the envelope has no field for under
//! `meta.cloudevents`, e.g. `{"subject": "order-7", "dataschema": "https://example.com/s.json",
//! "extensions": {"comexampleother": 7}}`, and goes out again with the same attributes. Extension
//! values keep their JSON type in structured mode (string, integer, boolean); binary mode carries strings.
//!
//! **Binary mode** (HTTP binding 3.1.3.2): every `ce-*` header value is percent-decoded on input (as UTF-8)
//! and percent-encoded on output: space, `"`, `%`, control characters and every non-ASCII byte become
//! `%XX` of the UTF-8 encoding, so `Zoë Adler` travels as `ce-actorid: Zo%C3%AB%20Adler`. The data is the
//! body, its type `content-type`.
//!
//! Decoding accepts any CloudEvents 1.0 event: a `source` not under `/brain/` is kept whole, a missing
//! `time` becomes the receive time, missing meta extensions get the defaults of [`crate::Meta::new`]. The
//! envelope's string fields get the envelope's rules (at most [`crate::MAX_FIELD_CHARS`] characters, no
//! control characters), also after percent-decoding.

use std::collections::BTreeMap;

use chrono::Utc;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use serde_json::{Map, Value};

use crate::envelope::{Meta, Severity, format_timestamp, parse_timestamp};
use crate::error::DecodeError;
use crate::id::{EventId, EventType, Source, TenantId};
use crate::trace::{META_TRACEPARENT, META_TRACESTATE};
use crate::{Event, MAX_FIELD_CHARS};

/// `Content-Type` of a structured-mode CloudEvent.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";

/// `Content-Type` of a batch of structured CloudEvents (a JSON array).
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";

/// The key of [`Meta`]'s extra map that holds the CloudEvents attributes the envelope has no field for.
pub const META_KEY: &str = "cloudevents";

const SOURCE_PREFIX: &str = "/brain/";

/// What HTTP binary mode percent-encodes besides non-ASCII bytes (which are always encoded).
const HEADER_ENCODE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%');

/// Context attributes the spec defines (plus the data members), never extensions.
const SPEC_ATTRIBUTES: &[&str] =
    &["specversion", "id", "source", "type", "time", "datacontenttype", "dataschema", "subject", "data", "data_base64"];

/// The extensions the envelope's own fields travel in.
const ENVELOPE_EXTENSIONS: &[&str] = &[
    "tenantid",
    "correlationid",
    "causationid",
    "schemaversion",
    "target",
    "missionid",
    "taskid",
    "actorid",
    "severity",
    "producer",
    "sourcemodule",
    "brainmeta",
    "traceparent",
    "tracestate",
];

/// Whether `name` is a legal extension name (lower-case ASCII letters and digits) that is neither a spec
/// attribute nor one of the envelope's extensions.
fn is_foreign_extension(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && !SPEC_ATTRIBUTES.contains(&name)
        && !ENVELOPE_EXTENSIONS.contains(&name)
}

/// The CloudEvents attributes kept under `meta.cloudevents`, when that key has the documented shape.
#[derive(Default)]
struct Kept {
    subject: Option<String>,
    dataschema: Option<String>,
    extensions: Map<String, Value>,
}

impl Kept {
    /// Reads `meta.cloudevents`; `None` when absent or not of the documented shape (it then travels in
    /// `brainmeta` with the other extra keys, so nothing is lost).
    fn from_meta(meta: &Meta) -> Option<Self> {
        let Value::Object(m) = meta.extra.get(META_KEY)? else { return None };
        let mut kept = Kept::default();
        for (k, v) in m {
            match (k.as_str(), v) {
                ("subject", Value::String(s)) => kept.subject = Some(s.clone()),
                ("dataschema", Value::String(s)) => kept.dataschema = Some(s.clone()),
                ("extensions", Value::Object(x)) => {
                    for (name, value) in x {
                        let scalar = matches!(value, Value::String(_) | Value::Bool(_)) || value.is_i64();
                        if !is_foreign_extension(name) || !scalar {
                            return None;
                        }
                        kept.extensions.insert(name.clone(), value.clone());
                    }
                }
                _ => return None,
            }
        }
        Some(kept)
    }

    fn into_value(self) -> Option<Value> {
        let mut m = Map::new();
        if let Some(s) = self.subject {
            m.insert("subject".into(), s.into());
        }
        if let Some(s) = self.dataschema {
            m.insert("dataschema".into(), s.into());
        }
        if !self.extensions.is_empty() {
            m.insert("extensions".into(), Value::Object(self.extensions));
        }
        (!m.is_empty()).then_some(Value::Object(m))
    }
}

/// Every attribute of `e` except `specversion`, `datacontenttype` and `data`, with its JSON value.
fn attributes(e: &Event) -> Vec<(String, Value)> {
    let mut a: Vec<(String, Value)> = vec![
        ("id".into(), e.id.to_string().into()),
        ("source".into(), format!("{SOURCE_PREFIX}{}", e.source).into()),
        ("type".into(), e.event_type.to_string().into()),
        ("time".into(), format_timestamp(&e.timestamp).into()),
    ];
    let kept = Kept::from_meta(&e.meta);
    if let Some(k) = &kept {
        a.extend(k.subject.clone().map(|s| ("subject".to_owned(), s.into())));
        a.extend(k.dataschema.clone().map(|s| ("dataschema".to_owned(), s.into())));
    }
    a.push(("schemaversion".into(), e.meta.schema_version.into()));
    let opt = [
        ("tenantid", e.tenant_id.as_ref().map(ToString::to_string)),
        ("correlationid", e.correlation_id.clone()),
        ("causationid", e.causation_id.clone()),
        ("target", e.target.clone()),
        ("missionid", e.mission_id.clone()),
        ("taskid", e.task_id.clone()),
        ("actorid", e.actor_id.clone()),
        ("severity", e.severity.map(|s| s.as_str().to_owned())),
        ("producer", Some(e.meta.producer.clone())),
        ("sourcemodule", Some(e.meta.source_module.clone())),
    ];
    a.extend(opt.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), Value::String(v)))));
    let mut extra = e.meta.extra.clone();
    // The trace context travels in the distributed-tracing extension when it is a string (it always is
    // once ingested); anything else stays in `brainmeta` so nothing is lost.
    for key in [META_TRACEPARENT, META_TRACESTATE] {
        if let Some(Value::String(s)) = extra.get(key) {
            a.push((key.to_owned(), Value::String(s.clone())));
            extra.remove(key);
        }
    }
    if let Some(k) = kept {
        extra.remove(META_KEY);
        a.extend(k.extensions);
    }
    if !extra.is_empty() {
        a.push(("brainmeta".into(), Value::Object(extra).to_string().into()));
    }
    a
}

/// Encodes an event as a structured-mode CloudEvent (a JSON object), the body of a response with
/// `Content-Type: application/cloudevents+json` ([`STRUCTURED_CONTENT_TYPE`]).
pub fn to_structured(e: &Event) -> Value {
    let mut m = Map::new();
    m.insert("specversion".into(), "1.0".into());
    m.insert("datacontenttype".into(), "application/json".into());
    for (k, v) in attributes(e) {
        m.insert(k, v);
    }
    m.insert("data".into(), Value::Object(e.payload.clone()));
    Value::Object(m)
}

/// Encodes events as a CloudEvents batch (a JSON array of structured events), the body of a response with
/// `Content-Type: application/cloudevents-batch+json` ([`BATCH_CONTENT_TYPE`]).
pub fn to_batch(events: &[Event]) -> Value {
    Value::Array(events.iter().map(to_structured).collect())
}

/// Percent-encodes a header value as HTTP binary mode requires (the result is printable ASCII).
pub fn percent_encode_header(value: &str) -> String {
    utf8_percent_encode(value, HEADER_ENCODE).to_string()
}

/// Encodes an event for HTTP binary mode: `ce-*` headers with percent-encoded values (printable ASCII, so
/// every one is a valid header value), `content-type: application/json`, and the payload as the JSON body.
pub fn to_binary(e: &Event) -> (Vec<(String, String)>, Vec<u8>) {
    let mut h = vec![("ce-specversion".to_owned(), "1.0".to_owned()), ("content-type".to_owned(), "application/json".to_owned())];
    for (k, v) in attributes(e) {
        let text = match v {
            Value::String(s) => s,
            other => other.to_string(),
        };
        h.push((format!("ce-{k}"), percent_encode_header(&text)));
    }
    let body = Value::Object(e.payload.clone()).to_string().into_bytes();
    (h, body)
}

/// An event's attributes as received: structured mode keeps JSON scalars, binary mode has strings.
type Attrs = BTreeMap<String, Value>;

fn text(attrs: &Attrs, k: &str) -> Option<String> {
    match attrs.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An envelope string field carried in an extension: the envelope's length and control-character rules.
fn label(attrs: &Attrs, k: &'static str) -> Result<Option<String>, DecodeError> {
    let Some(s) = text(attrs, k) else { return Ok(None) };
    if s.chars().count() > MAX_FIELD_CHARS {
        return Err(DecodeError::new(k, format!("is longer than {MAX_FIELD_CHARS} characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(DecodeError::new(k, "must not contain control characters"));
    }
    Ok(Some(s))
}

/// Builds the envelope from the attributes of either mode.
fn from_attributes(attrs: &Attrs, data: Map<String, Value>) -> Result<Event, DecodeError> {
    match text(attrs, "specversion").as_deref() {
        Some("1.0") => {}
        Some(_) => return Err(DecodeError::new("specversion", "only CloudEvents 1.0 is supported")),
        None => return Err(DecodeError::new("specversion", "is required")),
    }
    let req = |k: &'static str| text(attrs, k).ok_or_else(|| DecodeError::new(k, "is required"));
    let id: EventId = req("id")?.parse().map_err(|e: crate::id::InvalidId| DecodeError::new("id", e.reason))?;
    let event_type: EventType = req("type")?.parse().map_err(|e: crate::id::InvalidId| DecodeError::new("type", e.reason))?;
    let raw_source = req("source")?;
    let source: Source = raw_source
        .strip_prefix(SOURCE_PREFIX)
        .unwrap_or(&raw_source)
        .parse()
        .map_err(|e: crate::id::InvalidId| DecodeError::new("source", e.reason))?;
    let timestamp = match text(attrs, "time") {
        Some(t) => parse_timestamp(&t).map_err(|r| DecodeError::new("time", r))?,
        None => Utc::now(),
    };
    let tenant_id = match text(attrs, "tenantid") {
        Some(t) => Some(t.parse::<TenantId>().map_err(|e| DecodeError::new("tenantid", e.reason))?),
        None => None,
    };
    let severity = match text(attrs, "severity") {
        Some(s) => Some(s.parse::<Severity>().map_err(|r| DecodeError::new("severity", r))?),
        None => None,
    };
    let schema_version = match text(attrs, "schemaversion") {
        Some(v) => v.parse::<u32>().map_err(|_| DecodeError::new("schemaversion", "must be a non-negative integer"))?,
        None => 1,
    };
    let mut extra = match text(attrs, "brainmeta") {
        Some(s) => match serde_json::from_str(&s) {
            Ok(Value::Object(m)) => m,
            _ => return Err(DecodeError::new("brainmeta", "must be a JSON object")),
        },
        None => Map::new(),
    };
    let mut kept = Kept { subject: text(attrs, "subject"), dataschema: text(attrs, "dataschema"), ..Kept::default() };
    for (name, value) in attrs {
        if is_foreign_extension(name) {
            kept.extensions.insert(name.clone(), value.clone());
        }
    }
    if let Some(v) = kept.into_value() {
        extra.insert(META_KEY.into(), v);
    }
    for key in [META_TRACEPARENT, META_TRACESTATE] {
        // Checked where events are ingested (`trace::check_meta`), like every meta key.
        if let Some(v) = text(attrs, key) {
            extra.insert(key.into(), Value::String(v));
        }
    }
    let meta = Meta {
        schema_version,
        producer: label(attrs, "producer")?.unwrap_or_else(|| source.to_string()),
        source_module: label(attrs, "sourcemodule")?.unwrap_or_else(|| event_type.namespace().to_owned()),
        extra,
    };
    Ok(Event {
        target: label(attrs, "target")?,
        mission_id: label(attrs, "missionid")?,
        task_id: label(attrs, "taskid")?,
        correlation_id: label(attrs, "correlationid")?,
        causation_id: label(attrs, "causationid")?,
        actor_id: label(attrs, "actorid")?,
        id,
        event_type,
        source,
        timestamp,
        payload: data,
        tenant_id,
        severity,
        meta,
    })
}

fn data_object(v: Option<&Value>) -> Result<Map<String, Value>, DecodeError> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(DecodeError::new("data", "must be a JSON object")),
    }
}

fn is_json_media_type(ct: &str) -> bool {
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// Decodes a structured-mode CloudEvent.
///
/// # Errors
/// A [`DecodeError`] naming the missing or invalid attribute.
pub fn from_structured(v: &Value) -> Result<Event, DecodeError> {
    let Value::Object(m) = v else {
        return Err(DecodeError::new("", "a CloudEvent must be a JSON object"));
    };
    if m.contains_key("data_base64") {
        return Err(DecodeError::new("data_base64", "binary data is not supported; send a JSON object in `data`"));
    }
    if let Some(ct) = m.get("datacontenttype").and_then(Value::as_str)
        && !is_json_media_type(ct)
    {
        return Err(DecodeError::new("datacontenttype", "must be application/json"));
    }
    let mut attrs = Attrs::new();
    for (k, v) in m {
        if k == "data" {
            continue;
        }
        match v {
            // JSON format: null is an absent attribute.
            Value::Null => {}
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                attrs.insert(k.clone(), v.clone());
            }
            Value::Array(_) | Value::Object(_) => {
                return Err(DecodeError::new(k.clone(), "an attribute must be a string, a number or a boolean"));
            }
        }
    }
    from_attributes(&attrs, data_object(m.get("data"))?)
}

/// Decodes an HTTP binary-mode CloudEvent from its headers (names in any case, values percent-encoded as
/// the binding requires; raw values are accepted too) and body.
///
/// # Errors
/// A [`DecodeError`] naming the missing or invalid header (without the `ce-` prefix), a value that is not
/// UTF-8 once percent-decoded, or `data`.
pub fn from_binary<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>, body: &[u8]) -> Result<Event, DecodeError> {
    let mut attrs = Attrs::new();
    let mut content_type = None;
    for (k, v) in headers {
        let k = k.to_ascii_lowercase();
        if let Some(name) = k.strip_prefix("ce-") {
            let decoded =
                percent_decode_str(v).decode_utf8().map_err(|_| DecodeError::new(name.to_owned(), "is not UTF-8 once percent-decoded"))?;
            attrs.insert(name.to_owned(), Value::String(decoded.into_owned()));
        } else if k == "content-type" {
            content_type = Some(v.to_owned());
        }
    }
    if let Some(ct) = &content_type
        && !is_json_media_type(ct)
    {
        return Err(DecodeError::new("content-type", "must be application/json"));
    }
    let data = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(DecodeError::new("data", "must be a JSON object")),
            Err(e) => return Err(DecodeError::new("data", format!("is not valid JSON: {e}"))),
        }
    };
    from_attributes(&attrs, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_percent_encoded_as_the_http_binding_says() {
        assert_eq!(percent_encode_header("Zoë Adler"), "Zo%C3%AB%20Adler");
        assert_eq!(percent_encode_header("say \"100%\"\n"), "say%20%22100%25%22%0A");
        assert_eq!(percent_encode_header("00-4bf9-01/a:b,c;d=e"), "00-4bf9-01/a:b,c;d=e", "printable ASCII stays");
        assert_eq!(percent_encode_header("✓"), "%E2%9C%93");
    }

    #[test]
    fn trace_context_is_the_distributed_tracing_extension_both_ways() {
        let mut e =
            Event::new("task.created".parse().unwrap_or_else(|e| panic!("{e}")), "s".parse().unwrap_or_else(|e| panic!("{e}")), Map::new());
        e.timestamp = crate::truncate_to_micros(e.timestamp);
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        e.meta.extra.insert(META_TRACEPARENT.into(), parent.into());
        e.meta.extra.insert(META_TRACESTATE.into(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".into());
        let structured = to_structured(&e);
        assert_eq!(structured["traceparent"], Value::String(parent.into()));
        assert_eq!(structured["tracestate"], Value::String("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".into()));
        assert!(structured.get("brainmeta").is_none(), "not carried twice: {structured}");
        assert_eq!(from_structured(&structured).ok().as_ref(), Some(&e));
        let (headers, body) = to_binary(&e);
        assert!(headers.iter().any(|(k, v)| k == "ce-traceparent" && v == parent), "{headers:?}");
        let back = from_binary(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), &body);
        assert_eq!(back.ok().as_ref(), Some(&e));
    }
}
