//! Reading the replies of the stream commands from untyped [`redis::Value`]s.
//!
//! Parsed by hand rather than through redis-rs' typed stream replies because those drop what we need:
//! the `lag` of `XINFO GROUPS` may be nil, an `XREADGROUP 0` entry trimmed from the stream comes back
//! with nil fields, and `XAUTOCLAIM` reports deleted ids. Both RESP2 arrays and RESP3 maps are accepted.

use eventstream_core::codec::redis_fields;
use eventstream_core::{DecodeError, Record};
use redis::Value;

use crate::error::ReplyError;
use crate::stream_id::StreamId;

/// One stream entry as Redis returned it.
#[derive(Debug, Clone)]
pub(crate) struct RawEntry {
    pub(crate) id: StreamId,
    /// `None` when the entry is still pending but no longer in the stream (trimmed or deleted).
    pub(crate) fields: Option<Vec<(String, Vec<u8>)>>,
}

impl RawEntry {
    /// Decodes the entry; an undecodable or vanished entry becomes `Err(DecodeError)`, never dropped.
    pub(crate) fn into_record(self) -> Record {
        let event = match self.fields {
            Some(fields) => redis_fields::decode_bytes(fields),
            None => Err(vanished()),
        };
        Record { position: self.id.to_position(), appended_at: self.id.appended_at(), event }
    }
}

/// The decode error of a pending entry whose data is gone from the stream.
pub(crate) fn vanished() -> DecodeError {
    DecodeError::new("", "the entry was deleted from the stream while it was pending (forced trim or XDEL)")
}

pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Okay => Some("OK".to_owned()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Double(d) if d.fract() == 0.0 => Some(*d as i64),
        other => text(other).and_then(|s| s.parse().ok()),
    }
}

fn id_of(v: &Value, command: &'static str) -> Result<StreamId, ReplyError> {
    let s = text(v).ok_or_else(|| ReplyError::new(command, "an entry id is not a string"))?;
    s.parse().map_err(|_| ReplyError::new(command, format!("`{s}` is not a stream id")))
}

/// The items of an array-like value (`Nil` is empty).
fn items(v: Value, command: &'static str) -> Result<Vec<Value>, ReplyError> {
    match v {
        Value::Nil => Ok(Vec::new()),
        Value::Array(a) | Value::Set(a) => Ok(a),
        Value::Map(m) => Ok(m.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        other => Err(ReplyError::new(command, format!("expected an array, got {other:?}"))),
    }
}

/// A flat `[k1, v1, k2, v2, ...]` list or a map, as pairs.
fn pairs(v: Value, command: &'static str) -> Result<Vec<(Value, Value)>, ReplyError> {
    match v {
        Value::Map(m) => Ok(m),
        other => {
            let flat = items(other, command)?;
            if flat.len() % 2 != 0 {
                return Err(ReplyError::new(command, "odd number of items in a key/value list"));
            }
            let mut out = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            Ok(out)
        }
    }
}

fn entry(v: Value, command: &'static str) -> Result<RawEntry, ReplyError> {
    let mut parts = items(v, command)?.into_iter();
    let (Some(id), fields) = (parts.next(), parts.next()) else {
        return Err(ReplyError::new(command, "an entry has no id"));
    };
    let id = id_of(&id, command)?;
    let fields = match fields {
        None | Some(Value::Nil) => None,
        Some(f) => {
            let mut out = Vec::new();
            for (k, v) in pairs(f, command)? {
                let k = text(&k).ok_or_else(|| ReplyError::new(command, "a field name is not a string"))?;
                let v = match v {
                    Value::BulkString(b) => b,
                    other => text(&other).map(String::into_bytes).unwrap_or_default(),
                };
                out.push((k, v));
            }
            Some(out)
        }
    };
    Ok(RawEntry { id, fields })
}

/// The entries of an `XRANGE` / `XREVRANGE` reply.
pub(crate) fn range(v: Value, command: &'static str) -> Result<Vec<RawEntry>, ReplyError> {
    items(v, command)?.into_iter().map(|e| entry(e, command)).collect()
}

/// The entries of an `XREAD` / `XREADGROUP` reply for one stream (nil = nothing arrived).
pub(crate) fn read(v: Value, command: &'static str) -> Result<Vec<RawEntry>, ReplyError> {
    let streams: Vec<(Value, Value)> = match v {
        Value::Nil => return Ok(Vec::new()),
        Value::Map(m) => m,
        other => {
            let mut out = Vec::new();
            for s in items(other, command)? {
                let mut kv = items(s, command)?.into_iter();
                match (kv.next(), kv.next()) {
                    (Some(k), Some(e)) => out.push((k, e)),
                    _ => return Err(ReplyError::new(command, "a stream reply is not [key, entries]")),
                }
            }
            out
        }
    };
    let mut entries = Vec::new();
    for (_, e) in streams {
        entries.extend(range(e, command)?);
    }
    Ok(entries)
}

/// One row of `XINFO GROUPS`.
#[derive(Debug, Clone)]
pub(crate) struct GroupRow {
    pub(crate) name: String,
    pub(crate) consumers: u64,
    pub(crate) pending: u64,
    pub(crate) last_delivered: StreamId,
    /// Entries not yet delivered, when Redis can tell (`nil` after `SETID` to an arbitrary id, deletions...).
    pub(crate) lag: Option<u64>,
}

/// The rows of `XINFO GROUPS`.
pub(crate) fn groups(v: Value) -> Result<Vec<GroupRow>, ReplyError> {
    const CMD: &str = "XINFO GROUPS";
    let mut out = Vec::new();
    for g in items(v, CMD)? {
        let (mut name, mut consumers, mut pending, mut last, mut lag) = (None, 0, 0, StreamId::ZERO, None);
        for (k, v) in pairs(g, CMD)? {
            match text(&k).as_deref() {
                Some("name") => name = text(&v),
                Some("consumers") => consumers = int(&v).and_then(|i| u64::try_from(i).ok()).unwrap_or(0),
                Some("pending") => pending = int(&v).and_then(|i| u64::try_from(i).ok()).unwrap_or(0),
                Some("last-delivered-id") => last = id_of(&v, CMD)?,
                Some("lag") => lag = int(&v).and_then(|i| u64::try_from(i).ok()),
                _ => {}
            }
        }
        let name = name.ok_or_else(|| ReplyError::new(CMD, "a group has no name"))?;
        out.push(GroupRow { name, consumers, pending, last_delivered: last, lag });
    }
    Ok(out)
}

/// The summary form of `XPENDING key group`: how many entries are pending and the highest pending id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingSummary {
    pub(crate) count: u64,
    pub(crate) max: Option<StreamId>,
}

pub(crate) fn pending_summary(v: Value) -> Result<PendingSummary, ReplyError> {
    const CMD: &str = "XPENDING";
    let parts = items(v, CMD)?;
    let count = parts.first().and_then(int).and_then(|i| u64::try_from(i).ok()).unwrap_or(0);
    let max = match parts.get(2) {
        None | Some(Value::Nil) => None,
        Some(v) => Some(id_of(v, CMD)?),
    };
    Ok(PendingSummary { count, max })
}

/// The extended form of `XPENDING`: `(id, delivery count)` per entry.
pub(crate) fn pending_counts(v: Value) -> Result<Vec<(StreamId, u32)>, ReplyError> {
    const CMD: &str = "XPENDING";
    let mut out = Vec::new();
    for row in items(v, CMD)? {
        let row = items(row, CMD)?;
        let id = row.first().ok_or_else(|| ReplyError::new(CMD, "a pending row has no id"))?;
        let count = row.get(3).and_then(int).and_then(|i| u32::try_from(i).ok()).unwrap_or(1);
        out.push((id_of(id, CMD)?, count.max(1)));
    }
    Ok(out)
}

/// An `XAUTOCLAIM` reply: the next cursor, the claimed entries, and ids that were pending but are gone
/// from the stream (Redis 7 removes them from the pending list itself).
pub(crate) struct AutoClaim {
    pub(crate) cursor: StreamId,
    pub(crate) claimed: Vec<RawEntry>,
    pub(crate) deleted: Vec<StreamId>,
}

pub(crate) fn autoclaim(v: Value) -> Result<AutoClaim, ReplyError> {
    const CMD: &str = "XAUTOCLAIM";
    let mut parts = items(v, CMD)?.into_iter();
    let cursor = parts.next().ok_or_else(|| ReplyError::new(CMD, "no cursor"))?;
    let cursor = id_of(&cursor, CMD)?;
    let claimed = range(parts.next().unwrap_or(Value::Nil), CMD)?;
    let deleted = items(parts.next().unwrap_or(Value::Nil), CMD)?.iter().map(|v| id_of(v, CMD)).collect::<Result<_, _>>()?;
    Ok(AutoClaim { cursor, claimed, deleted })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn xinfo_groups_with_nil_lag_is_read() {
        let v = Value::Array(vec![Value::Array(vec![
            bulk("name"),
            bulk("g1"),
            bulk("consumers"),
            Value::Int(2),
            bulk("pending"),
            Value::Int(3),
            bulk("last-delivered-id"),
            bulk("5-1"),
            bulk("entries-read"),
            Value::Nil,
            bulk("lag"),
            Value::Nil,
        ])]);
        let rows = groups(v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].name.as_str(), rows[0].consumers, rows[0].pending, rows[0].lag), ("g1", 2, 3, None));
        assert_eq!(rows[0].last_delivered, StreamId { ms: 5, seq: 1 });
    }

    #[test]
    fn pending_entry_without_fields_is_a_decode_error_not_a_drop() {
        let v = Value::Array(vec![Value::Array(vec![bulk("k"), Value::Array(vec![Value::Array(vec![bulk("7-0"), Value::Nil])])])]);
        let entries = read(v, "XREADGROUP").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(entries.len(), 1);
        let rec = entries[0].clone().into_record();
        assert_eq!(rec.position.as_str(), "7-0");
        assert!(rec.event.is_err());
        assert!(read(Value::Nil, "XREAD").map(|e| e.is_empty()).unwrap_or(false));
    }
}
