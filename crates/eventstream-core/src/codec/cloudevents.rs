//! CloudEvents 1.0: structured JSON and HTTP binary mode.
//!
//! Mapping of the envelope:
//!
//! | envelope | CloudEvents |
//! |---|---|
//! | `id`, `type`, `timestamp` | `id`, `type`, `time` |
//! | `source` | `source` as the URI reference `/brain/<source>` |
//! | `payload` | `data` with `datacontenttype: application/json` |
//! | `tenant_id`, `correlation_id`, `causation_id`, `meta.schema_version` | extensions `tenantid`, `correlationid`, `causationid`, `schemaversion` |
//! | `target`, `mission_id`, `task_id`, `actor_id`, `severity` | extensions `target`, `missionid`, `taskid`, `actorid`, `severity` |
//! | `meta.producer`, `meta.source_module`, other meta keys | extensions `producer`, `sourcemodule`; extra meta keys as JSON in `brainmeta` |
//!
//! Decoding accepts any CloudEvents 1.0 event: a `source` not under `/brain/` is kept whole, a missing
//! `time` becomes the receive time, missing meta extensions get the defaults of [`crate::Meta::new`].

use chrono::Utc;
use serde_json::{Map, Value};

use crate::Event;
use crate::envelope::{Meta, Severity, format_timestamp, parse_timestamp};
use crate::error::DecodeError;
use crate::id::{EventId, EventType, Source, TenantId};

const SOURCE_PREFIX: &str = "/brain/";

fn string_extensions(e: &Event) -> Vec<(&'static str, String)> {
    let mut x = Vec::new();
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
    for (k, v) in opt {
        if let Some(v) = v {
            x.push((k, v));
        }
    }
    if !e.meta.extra.is_empty() {
        x.push(("brainmeta", Value::Object(e.meta.extra.clone()).to_string()));
    }
    x
}

/// Encodes an event as a structured-mode CloudEvent (a JSON object).
pub fn to_structured(e: &Event) -> Value {
    let mut m = Map::new();
    m.insert("specversion".into(), "1.0".into());
    m.insert("id".into(), e.id.to_string().into());
    m.insert("source".into(), format!("{SOURCE_PREFIX}{}", e.source).into());
    m.insert("type".into(), e.event_type.to_string().into());
    m.insert("time".into(), format_timestamp(&e.timestamp).into());
    m.insert("datacontenttype".into(), "application/json".into());
    m.insert("schemaversion".into(), e.meta.schema_version.into());
    for (k, v) in string_extensions(e) {
        m.insert(k.into(), v.into());
    }
    m.insert("data".into(), Value::Object(e.payload.clone()));
    Value::Object(m)
}

/// Encodes an event for HTTP binary mode: `ce-*` headers (plus `content-type`) and the JSON body.
pub fn to_binary(e: &Event) -> (Vec<(String, String)>, Vec<u8>) {
    let mut h = vec![
        ("ce-specversion".to_owned(), "1.0".to_owned()),
        ("ce-id".to_owned(), e.id.to_string()),
        ("ce-source".to_owned(), format!("{SOURCE_PREFIX}{}", e.source)),
        ("ce-type".to_owned(), e.event_type.to_string()),
        ("ce-time".to_owned(), format_timestamp(&e.timestamp)),
        ("ce-schemaversion".to_owned(), e.meta.schema_version.to_string()),
        ("content-type".to_owned(), "application/json".to_owned()),
    ];
    for (k, v) in string_extensions(e) {
        h.push((format!("ce-{k}"), v));
    }
    let body = Value::Object(e.payload.clone()).to_string().into_bytes();
    (h, body)
}

/// Reads CloudEvent attributes from either mode.
fn from_attributes(get: &dyn Fn(&str) -> Option<String>, data: Map<String, Value>) -> Result<Event, DecodeError> {
    match get("specversion").as_deref() {
        Some("1.0") => {}
        Some(_) => return Err(DecodeError::new("specversion", "only CloudEvents 1.0 is supported")),
        None => return Err(DecodeError::new("specversion", "is required")),
    }
    let req = |k: &'static str| get(k).ok_or_else(|| DecodeError::new(k, "is required"));
    let id: EventId = req("id")?.parse().map_err(|e: crate::id::InvalidId| DecodeError::new("id", e.reason))?;
    let event_type: EventType = req("type")?.parse().map_err(|e: crate::id::InvalidId| DecodeError::new("type", e.reason))?;
    let raw_source = req("source")?;
    let source: Source = raw_source
        .strip_prefix(SOURCE_PREFIX)
        .unwrap_or(&raw_source)
        .parse()
        .map_err(|e: crate::id::InvalidId| DecodeError::new("source", e.reason))?;
    let timestamp = match get("time") {
        Some(t) => parse_timestamp(&t).map_err(|r| DecodeError::new("time", r))?,
        None => Utc::now(),
    };
    let tenant_id = match get("tenantid") {
        Some(t) => Some(t.parse::<TenantId>().map_err(|e| DecodeError::new("tenantid", e.reason))?),
        None => None,
    };
    let severity = match get("severity") {
        Some(s) => Some(s.parse::<Severity>().map_err(|r| DecodeError::new("severity", r))?),
        None => None,
    };
    let schema_version = match get("schemaversion") {
        Some(v) => v.parse::<u32>().map_err(|_| DecodeError::new("schemaversion", "must be a non-negative integer"))?,
        None => 1,
    };
    let extra = match get("brainmeta") {
        Some(s) => match serde_json::from_str(&s) {
            Ok(Value::Object(m)) => m,
            _ => return Err(DecodeError::new("brainmeta", "must be a JSON object")),
        },
        None => Map::new(),
    };
    let meta = Meta {
        schema_version,
        producer: get("producer").unwrap_or_else(|| source.to_string()),
        source_module: get("sourcemodule").unwrap_or_else(|| event_type.namespace().to_owned()),
        extra,
    };
    Ok(Event {
        id,
        event_type,
        source,
        target: get("target"),
        timestamp,
        payload: data,
        mission_id: get("missionid"),
        task_id: get("taskid"),
        correlation_id: get("correlationid"),
        causation_id: get("causationid"),
        tenant_id,
        actor_id: get("actorid"),
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
        && !ct.starts_with("application/json")
        && !ct.ends_with("+json")
    {
        return Err(DecodeError::new("datacontenttype", "must be application/json"));
    }
    let get = |k: &str| -> Option<String> {
        match m.get(k)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    from_attributes(&get, data_object(m.get("data"))?)
}

/// Decodes an HTTP binary-mode CloudEvent from its headers (any case) and body.
///
/// # Errors
/// A [`DecodeError`] naming the missing or invalid header (without the `ce-` prefix) or `data`.
pub fn from_binary<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>, body: &[u8]) -> Result<Event, DecodeError> {
    let mut attrs = std::collections::HashMap::new();
    let mut content_type = None;
    for (k, v) in headers {
        let k = k.to_ascii_lowercase();
        if let Some(name) = k.strip_prefix("ce-") {
            attrs.insert(name.to_owned(), v.to_owned());
        } else if k == "content-type" {
            content_type = Some(v.to_owned());
        }
    }
    if let Some(ct) = &content_type
        && !ct.starts_with("application/json")
        && !ct.ends_with("+json")
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
    let get = |k: &str| attrs.get(k).cloned();
    from_attributes(&get, data)
}
