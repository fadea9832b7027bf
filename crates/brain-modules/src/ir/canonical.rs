//! Canonical JSON and SHA-256 hex: the bytes every IR, step and DAG hash is taken over.
//!
//! The output equals Python's `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
//! byte for byte, for the values the original's `canonical_json` accepted:
//! - object keys sorted by code point (Python sorts `str` by code point, which is the byte order of
//!   UTF-8; it is *not* UTF-16 order, so `"\u{ff61}"` sorts before `"😀"`);
//! - no whitespace; `"` `\` and the allowed control characters `\n` `\r` `\t` escaped, everything else
//!   (non-ASCII, U+007F, U+2028) written raw;
//! - integers in decimal; `true`, `false`, `null`.
//!
//! Rejected, as the original rejected them: any floating-point number (numbers are integers or decimal
//! strings), and any string or key holding a character below U+0020 other than `\n`, `\r`, `\t`. A
//! JSON number that does not fit a 64-bit integer is read as a float by `serde_json`, so it is rejected
//! too (Python would accept a huge integer; the API answers 422 for it instead).

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Why a value has no canonical form. `path` names the offending value (`steps[0].params.price`;
/// empty for the root).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// A floating-point number (or an integer beyond 64 bits).
    #[error("`{path}` is a floating-point number; IR values must be integers or decimal strings")]
    Float {
        /// Where.
        path: String,
    },
    /// A control character other than `\n`, `\r`, `\t` in a string or key.
    #[error("`{path}` contains the control character U+{code:04X}")]
    ControlCharacter {
        /// Where (for a key: the object holding it).
        path: String,
        /// The character.
        code: u32,
    },
    /// The value could not be turned into JSON (a map with non-string keys; not produced by IR types).
    #[error("the value cannot be represented as JSON: {reason}")]
    NotJson {
        /// serde_json's explanation.
        reason: String,
    },
}

impl CanonicalError {
    /// The path of the offending value.
    pub fn path(&self) -> &str {
        match self {
            CanonicalError::Float { path } | CanonicalError::ControlCharacter { path, .. } => path,
            CanonicalError::NotJson { .. } => "",
        }
    }

    /// The same error with `prefix` put before its path (`steps[2]` + `params.x`).
    #[must_use]
    pub fn prefixed(self, prefix: &str) -> Self {
        let join = |p: String| match (prefix.is_empty(), p.is_empty()) {
            (true, _) => p,
            (false, true) => prefix.to_owned(),
            (false, false) if p.starts_with('[') => format!("{prefix}{p}"),
            (false, false) => format!("{prefix}.{p}"),
        };
        match self {
            CanonicalError::Float { path } => CanonicalError::Float { path: join(path) },
            CanonicalError::ControlCharacter { path, code } => CanonicalError::ControlCharacter { path: join(path), code },
            other @ CanonicalError::NotJson { .. } => other,
        }
    }
}

/// One step of the path from the root to a value, kept on the stack while writing.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Root,
    Key(&'a Seg<'a>, &'a str),
    Index(&'a Seg<'a>, usize),
}

impl Seg<'_> {
    fn render(&self) -> String {
        match self {
            Seg::Root => String::new(),
            Seg::Key(parent, key) => {
                let p = parent.render();
                if p.is_empty() { (*key).to_owned() } else { format!("{p}.{key}") }
            }
            Seg::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }
}

/// The canonical JSON text of `value`.
///
/// # Errors
/// [`CanonicalError::Float`] and [`CanonicalError::ControlCharacter`], naming the first offending value
/// in document order.
pub fn canonical_json(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::new();
    write_value(value, Seg::Root, &mut out)?;
    Ok(out)
}

/// The canonical JSON text of any serialisable value (serialised with its serde field names first).
///
/// # Errors
/// As [`canonical_json`], plus [`CanonicalError::NotJson`].
pub fn canonical_json_of<T: Serialize + ?Sized>(value: &T) -> Result<String, CanonicalError> {
    let v = serde_json::to_value(value).map_err(|e| CanonicalError::NotJson { reason: e.to_string() })?;
    canonical_json(&v)
}

/// Lowercase hex SHA-256 of the UTF-8 bytes of `text`.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// `sha256_hex(canonical_json(value))`.
///
/// # Errors
/// As [`canonical_json`].
pub fn canonical_hash(value: &Value) -> Result<String, CanonicalError> {
    canonical_json(value).map(|c| sha256_hex(&c))
}

fn write_value(value: &Value, at: Seg<'_>, out: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                return Err(CanonicalError::Float { path: at.render() });
            }
        }
        Value::String(s) => write_str(s, &at, out)?,
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, Seg::Index(&at, i), out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            // `str` order is byte order of UTF-8, which is code-point order: Python's sort of str keys.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(key, &at, out)?;
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_value(v, Seg::Key(&at, key), out)?;
                }
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_str(s: &str, at: &Seg<'_>, out: &mut String) -> Result<(), CanonicalError> {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => return Err(CanonicalError::ControlCharacter { path: at.render(), code: c as u32 }),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_sort_by_code_point_and_only_five_characters_are_escaped() {
        let v = json!({"b": 1, "a": [true, null, "x\"y\\z\n\r\t"], "\u{ff61}": "é", "😀": "\u{7f}\u{2028}"});
        assert_eq!(
            canonical_json(&v).unwrap(),
            "{\"a\":[true,null,\"x\\\"y\\\\z\\n\\r\\t\"],\"b\":1,\"\u{ff61}\":\"é\",\"😀\":\"\u{7f}\u{2028}\"}"
        );
    }

    #[test]
    fn floats_and_control_characters_are_rejected_with_their_path() {
        let e = canonical_json(&json!({"steps": [{"params": {"price": 1.5}}]})).unwrap_err();
        assert_eq!(e, CanonicalError::Float { path: "steps[0].params.price".into() });
        let e = canonical_json(&json!({"a": ["ok", "bell\u{7}"]})).unwrap_err();
        assert_eq!(e, CanonicalError::ControlCharacter { path: "a[1]".into(), code: 7 });
        let e = canonical_json(&json!({"o": {"k\u{1}": 1}})).unwrap_err();
        assert_eq!(e.path(), "o");
        assert_eq!(e.prefixed("ir").path(), "ir.o");
        assert!(matches!(canonical_json(&json!(1.0)), Err(CanonicalError::Float { .. })));
    }

    #[test]
    fn integers_keep_their_full_range() {
        assert_eq!(canonical_json(&json!([i64::MIN, u64::MAX, 0])).unwrap(), format!("[{},{},0]", i64::MIN, u64::MAX));
        assert_eq!(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
