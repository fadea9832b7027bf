//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>) as events carry it.
//!
//! An event carries the context of the span that produced it in `meta.traceparent` (and, when the trace has
//! vendor state, `meta.tracestate`), the same strings as the HTTP headers of those names and the CloudEvents
//! distributed-tracing extensions. A consumer that handles the event continues that trace: its span's parent
//! is the producer's span.
//!
//! This module only holds the vocabulary: parsing and printing a `traceparent`, checking a `tracestate`, and
//! reading and writing both in [`Meta`]. Spans are the runtime's business (`eventstream::trace`).

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::envelope::Meta;

/// The key of [`Meta`]'s extra map holding the W3C `traceparent` of the span that produced the event.
pub const META_TRACEPARENT: &str = "traceparent";

/// The key of [`Meta`]'s extra map holding the W3C `tracestate` that goes with [`META_TRACEPARENT`].
pub const META_TRACESTATE: &str = "tracestate";

/// Longest `tracestate` accepted (the specification's 32 members of at most 256 characters, with commas).
pub const MAX_TRACESTATE_CHARS: usize = 8_223;

/// A parsed version-00 `traceparent`: `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`.
///
/// All-zero trace or span ids are invalid, as the specification says; later versions are read by their
/// first four fields, and written as version 00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace id (16 bytes, not all zero).
    pub trace_id: [u8; 16],
    /// The id of the span the event or request comes from (8 bytes, not all zero).
    pub span_id: [u8; 8],
    /// The trace flags; bit 0 is `sampled`.
    pub flags: u8,
}

/// Why a `traceparent` or `tracestate` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct InvalidTraceContext {
    /// `traceparent` or `tracestate`.
    pub field: &'static str,
    /// What is wrong.
    pub reason: &'static str,
}

impl InvalidTraceContext {
    fn parent(reason: &'static str) -> Self {
        Self { field: META_TRACEPARENT, reason }
    }
}

impl TraceParent {
    /// Whether the `sampled` flag is set.
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The trace id as 32 lower-case hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The span id as 16 lower-case hex digits.
    pub fn span_id_hex(&self) -> String {
        hex(&self.span_id)
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex<const N: usize>(s: &str, reason: &'static str) -> Result<[u8; N], InvalidTraceContext> {
    if s.len() != N * 2 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(InvalidTraceContext::parent(reason));
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).map_err(|_| InvalidTraceContext::parent(reason))?;
    }
    Ok(out)
}

impl FromStr for TraceParent {
    type Err = InvalidTraceContext;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let mut parts = s.split('-');
        let (Some(version), Some(trace), Some(span), Some(flags)) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(InvalidTraceContext::parent("must be `00-<32 hex>-<16 hex>-<2 hex>`"));
        };
        let [version] = unhex::<1>(version, "the version must be 2 lower-case hex digits")?;
        if version == 0xff {
            return Err(InvalidTraceContext::parent("version ff is invalid"));
        }
        // Version 00 has exactly four fields; a later version may append more.
        if version == 0 && parts.next().is_some() {
            return Err(InvalidTraceContext::parent("version 00 has exactly four fields"));
        }
        let trace_id = unhex::<16>(trace, "the trace id must be 32 lower-case hex digits")?;
        let span_id = unhex::<8>(span, "the parent id must be 16 lower-case hex digits")?;
        let [flags] = unhex::<1>(flags, "the flags must be 2 lower-case hex digits")?;
        if trace_id == [0; 16] {
            return Err(InvalidTraceContext::parent("the trace id must not be all zeros"));
        }
        if span_id == [0; 8] {
            return Err(InvalidTraceContext::parent("the parent id must not be all zeros"));
        }
        Ok(Self { trace_id, span_id, flags })
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00-{}-{}-{:02x}", hex(&self.trace_id), hex(&self.span_id), self.flags)
    }
}

/// Checks a `tracestate` value: printable ASCII, at most [`MAX_TRACESTATE_CHARS`] characters, every
/// non-empty list member a `key=value` pair.
///
/// # Errors
/// [`InvalidTraceContext`] naming `tracestate`.
pub fn check_tracestate(s: &str) -> Result<(), InvalidTraceContext> {
    let bad = |reason| Err(InvalidTraceContext { field: META_TRACESTATE, reason });
    if s.len() > MAX_TRACESTATE_CHARS {
        return bad("is too long");
    }
    if !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return bad("must be printable ASCII");
    }
    for member in s.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        match member.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => {}
            _ => return bad("every member must be `key=value`"),
        }
    }
    Ok(())
}

/// A trace context: the parent and the vendor state that goes with it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// The `traceparent`.
    pub parent: TraceParent,
    /// The `tracestate`, when the trace has one (never empty).
    pub state: Option<String>,
}

impl TraceContext {
    /// The trace context an event carries: `meta.traceparent` (when present and valid) and
    /// `meta.tracestate`.
    pub fn from_meta(meta: &Meta) -> Option<Self> {
        let parent = meta.extra.get(META_TRACEPARENT)?.as_str()?.parse().ok()?;
        let state = meta.extra.get(META_TRACESTATE).and_then(Value::as_str).filter(|s| !s.is_empty()).map(ToOwned::to_owned);
        Some(Self { parent, state })
    }

    /// Writes this context into `meta`, replacing what was there.
    pub fn write_to(&self, meta: &mut Meta) {
        meta.extra.insert(META_TRACEPARENT.into(), Value::String(self.parent.to_string()));
        match self.state.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => meta.extra.insert(META_TRACESTATE.into(), Value::String(s.to_owned())),
            None => meta.extra.remove(META_TRACESTATE),
        };
    }

    /// Parses the two header values; `None` when `traceparent` is absent or invalid (the specification
    /// then starts a new trace and ignores `tracestate`). An invalid `tracestate` is dropped.
    pub fn from_headers(traceparent: Option<&str>, tracestate: Option<&str>) -> Option<Self> {
        let parent = traceparent?.parse().ok()?;
        let state = tracestate.map(str::trim).filter(|s| !s.is_empty() && check_tracestate(s).is_ok()).map(ToOwned::to_owned);
        Some(Self { parent, state })
    }
}

/// Checks the trace context keys of `meta`, if any: `traceparent` must be a valid string, `tracestate` a
/// valid string that only comes with a `traceparent`.
///
/// # Errors
/// [`InvalidTraceContext`] naming the key.
pub fn check_meta(meta: &Meta) -> Result<(), InvalidTraceContext> {
    let parent = meta.extra.get(META_TRACEPARENT);
    if let Some(p) = parent {
        let Value::String(p) = p else { return Err(InvalidTraceContext::parent("must be a string")) };
        p.parse::<TraceParent>()?;
    }
    if let Some(s) = meta.extra.get(META_TRACESTATE) {
        let Value::String(s) = s else { return Err(InvalidTraceContext { field: META_TRACESTATE, reason: "must be a string" }) };
        if parent.is_none() {
            return Err(InvalidTraceContext { field: META_TRACESTATE, reason: "needs a traceparent" });
        }
        check_tracestate(s)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_specification_example_round_trips() {
        let p: TraceParent = EXAMPLE.parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(p.span_id_hex(), "00f067aa0ba902b7");
        assert!(p.sampled());
        assert_eq!(p.to_string(), EXAMPLE);
    }

    #[test]
    fn invalid_traceparents_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert!(bad.parse::<TraceParent>().is_err(), "{bad:?} was accepted");
        }
        // A later version may carry more fields; its first four are read.
        let later: TraceParent = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(later.to_string(), EXAMPLE);
    }

    #[test]
    fn meta_keys_are_checked_and_read() {
        let mut meta = Meta::new("p", "m");
        assert_eq!(check_meta(&meta), Ok(()));
        assert!(TraceContext::from_meta(&meta).is_none());
        meta.extra.insert(META_TRACESTATE.into(), "a=1".into());
        assert_eq!(check_meta(&meta).map_err(|e| e.field), Err(META_TRACESTATE), "a tracestate needs a traceparent");
        let p: TraceParent = EXAMPLE.parse().unwrap_or_else(|e| panic!("{e}"));
        let tc = TraceContext { parent: p, state: Some("congo=t61rcWkgMzE".to_owned()) };
        tc.write_to(&mut meta);
        assert_eq!(check_meta(&meta), Ok(()));
        assert_eq!(TraceContext::from_meta(&meta), Some(tc));
        assert_eq!(TraceContext::from_headers(Some(EXAMPLE), Some("bad value")), Some(TraceContext { parent: p, state: None }));
        assert_eq!(TraceContext::from_headers(Some("00-zz"), Some("a=1")), None);
        meta.extra.insert(META_TRACEPARENT.into(), "nope".into());
        assert_eq!(check_meta(&meta).map_err(|e| e.field), Err(META_TRACEPARENT));
        assert!(check_tracestate("a=1,b=2").is_ok());
        assert!(check_tracestate("a").is_err());
        assert!(check_tracestate("a=\u{7}").is_err());
    }
}
