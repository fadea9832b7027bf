//! Identifiers as newtypes that cannot hold invalid values.
//!
//! Every identifier is built through `FromStr`/`TryFrom<String>`; once a value exists it is valid, so the
//! rest of the system never re-checks it ("parse, don't validate").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {reason}")]
pub struct InvalidId {
    /// Which kind of identifier was being parsed (`event type`, `tenant id`, ...).
    pub kind: &'static str,
    /// The rejected input, shortened to 80 characters.
    pub value: String,
    /// What rule it breaks.
    pub reason: &'static str,
}

impl InvalidId {
    fn new(kind: &'static str, value: &str, reason: &'static str) -> Self {
        let value = value.chars().take(80).collect();
        Self { kind, value, reason }
    }
}

/// Checks the rules shared by free-form identifiers: not empty, at most `max` characters, no control
/// characters and no surrounding whitespace.
fn check_label(kind: &'static str, s: &str, max: usize) -> Result<(), InvalidId> {
    if s.is_empty() {
        return Err(InvalidId::new(kind, s, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(InvalidId::new(kind, s, "is too long"));
    }
    if s.chars().any(char::is_control) {
        return Err(InvalidId::new(kind, s, "must not contain control characters"));
    }
    if s.trim() != s {
        return Err(InvalidId::new(kind, s, "must not start or end with whitespace"));
    }
    Ok(())
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                let check: fn(&str) -> Result<(), InvalidId> = $check;
                check(s)?;
                Ok(Self(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                let check: fn(&str) -> Result<(), InvalidId> = $check;
                check(&s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// The id of an event. New events get a UUIDv7 (time-ordered); on read any non-empty id of at most
    /// 128 characters is accepted, because the original's modules also made ids such as `evt_dna_<ms>`.
    EventId,
    "event id",
    |s| check_label("event id", s, 128)
);

impl EventId {
    /// A fresh UUIDv7 id.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

string_newtype!(
    /// The tenant an event belongs to: 1 to 100 characters of `[A-Za-z0-9_.:@-]`.
    TenantId,
    "tenant id",
    |s| {
        check_label("tenant id", s, 100)?;
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || "_.:@-".contains(c)) {
            return Err(InvalidId::new("tenant id", s, "may only contain letters, digits and _ . : @ -"));
        }
        Ok(())
    }
);

impl TenantId {
    /// The tenant of events that carry none (the original's modules never set one) and of the first admin
    /// key: `default`.
    pub const DEFAULT: &'static str = "default";

    /// The [`TenantId::DEFAULT`] tenant as a value.
    pub fn default_tenant() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    /// The tenant of an event that may carry none: `tenant`, or the default tenant.
    pub fn or_default(tenant: Option<&TenantId>) -> &str {
        tenant.map_or(Self::DEFAULT, TenantId::as_str)
    }
}

string_newtype!(
    /// The producing component of an event, e.g. `hardware_router` (1 to 200 characters).
    Source,
    "source",
    |s| check_label("source", s, 200)
);

string_newtype!(
    /// The name of a subscriber, which is also its consumer group: 1 to 100 characters of
    /// `[A-Za-z0-9_.-]`.
    GroupName,
    "subscriber name",
    |s| {
        check_label("subscriber name", s, 100)?;
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            return Err(InvalidId::new("subscriber name", s, "may only contain letters, digits and _ . -"));
        }
        Ok(())
    }
);

string_newtype!(
    /// The name of one replica inside a consumer group: 1 to 100 characters of `[A-Za-z0-9_.:-]`.
    ConsumerName,
    "consumer name",
    |s| {
        check_label("consumer name", s, 100)?;
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c)) {
            return Err(InvalidId::new("consumer name", s, "may only contain letters, digits and _ . : -"));
        }
        Ok(())
    }
);

impl ConsumerName {
    /// A fresh unique name, `consumer-<uuid>`, for a replica that has no better one.
    pub fn generate() -> Self {
        Self(format!("consumer-{}", uuid::Uuid::now_v7().simple()))
    }
}

string_newtype!(
    /// A position in an event log. Opaque to everything but the backend that issued it: the embedded log
    /// uses a decimal sequence (`42`), Redis a stream id (`1700000000000-0`), NATS a stream sequence.
    /// 1 to 64 characters of `[0-9A-Za-z:_-]`.
    Position,
    "position",
    |s| {
        check_label("position", s, 64)?;
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || ":_-".contains(c)) {
            return Err(InvalidId::new("position", s, "may only contain letters, digits and : _ -"));
        }
        Ok(())
    }
);

/// The type of an event: `segment(.segment)+` where each segment is `[a-z0-9_]+` and the first segment is
/// the module namespace (`task.created`, `course.generation.completed`). The legacy single-segment type
/// `broadcast` is accepted. At most 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventType(String);

/// The legacy single-segment type of the original's broadcast messages.
pub const LEGACY_BROADCAST: &str = "broadcast";

fn check_event_type(s: &str) -> Result<(), InvalidId> {
    const KIND: &str = "event type";
    if s.is_empty() {
        return Err(InvalidId::new(KIND, s, "must not be empty"));
    }
    if s.len() > 128 {
        return Err(InvalidId::new(KIND, s, "is longer than 128 characters"));
    }
    if s == LEGACY_BROADCAST {
        return Ok(());
    }
    let mut segments = 0;
    for seg in s.split('.') {
        if seg.is_empty() {
            return Err(InvalidId::new(KIND, s, "has an empty segment"));
        }
        if !seg.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(InvalidId::new(KIND, s, "segments may only contain a-z, 0-9 and _"));
        }
        segments += 1;
    }
    if segments < 2 {
        return Err(InvalidId::new(KIND, s, "needs a namespace and a name, like `task.created`"));
    }
    Ok(())
}

impl EventType {
    /// The type as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The module namespace: the first segment (`task` for `task.created`).
    pub fn namespace(&self) -> &str {
        self.0.split('.').next().unwrap_or(&self.0)
    }
}

impl FromStr for EventType {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        check_event_type(s)?;
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for EventType {
    type Error = InvalidId;
    fn try_from(s: String) -> Result<Self, InvalidId> {
        check_event_type(&s)?;
        Ok(Self(s))
    }
}

impl From<EventType> for String {
    fn from(v: EventType) -> String {
        v.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A filter on event types: `*` (everything), an exact type (`task.created`) or a prefix glob ending in
/// `.*` (`task.*`, `course.generation.*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TypePattern(String);

impl TypePattern {
    /// The pattern that matches every type.
    pub fn all() -> Self {
        Self("*".into())
    }

    /// Whether `t` matches this pattern.
    pub fn matches(&self, t: &EventType) -> bool {
        let p = self.0.as_str();
        if p == "*" {
            return true;
        }
        match p.strip_suffix(".*") {
            Some(prefix) => {
                t.as_str().len() > prefix.len() && t.as_str().starts_with(prefix) && t.as_str().as_bytes()[prefix.len()] == b'.'
            }
            None => t.as_str() == p,
        }
    }

    /// The prefix this glob matches (`task.` for `task.*`), or `None` for an exact pattern. `*` yields `""`.
    pub fn prefix(&self) -> Option<String> {
        if self.0 == "*" {
            return Some(String::new());
        }
        self.0.strip_suffix(".*").map(|p| format!("{p}."))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TypePattern {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        const KIND: &str = "type pattern";
        if s == "*" {
            return Ok(Self(s.into()));
        }
        match s.strip_suffix(".*") {
            Some(prefix) => {
                if prefix.is_empty()
                    || !prefix
                        .split('.')
                        .all(|seg| !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
                {
                    return Err(InvalidId::new(KIND, s, "the part before `.*` must be type segments of a-z, 0-9 and _"));
                }
                Ok(Self(s.into()))
            }
            None => {
                check_event_type(s).map_err(|e| InvalidId::new(KIND, s, e.reason))?;
                Ok(Self(s.into()))
            }
        }
    }
}

impl TryFrom<String> for TypePattern {
    type Error = InvalidId;
    fn try_from(s: String) -> Result<Self, InvalidId> {
        s.parse()
    }
}

impl From<TypePattern> for String {
    fn from(v: TypePattern) -> String {
        v.0
    }
}

impl fmt::Display for TypePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_accepts_dotted_lowercase_and_legacy_broadcast() {
        for ok in ["task.created", "course.generation.completed", "ir.dag_diff_ok", "broadcast", "a1.b_2"] {
            assert!(ok.parse::<EventType>().is_ok(), "{ok}");
        }
        for bad in ["", "task", "Task.created", "task..created", ".task", "task.", "task.cre ated", "tâsk.x"] {
            assert!(bad.parse::<EventType>().is_err(), "{bad}");
        }
        assert_eq!("course.generation.completed".parse::<EventType>().map(|t| t.namespace().to_owned()), Ok("course".to_owned()));
    }

    #[test]
    fn type_patterns_match_exact_prefix_and_all() {
        let t: EventType = "task.created".parse().unwrap_or_else(|e| panic!("{e}"));
        let m = |p: &str| p.parse::<TypePattern>().unwrap_or_else(|e| panic!("{e}")).matches(&t);
        assert!(m("*"));
        assert!(m("task.*"));
        assert!(m("task.created"));
        assert!(!m("task.failed"));
        assert!(!m("tas.*"));
        assert!(!m("task.created.*"));
        assert!("*.x".parse::<TypePattern>().is_err());
        assert!("task*".parse::<TypePattern>().is_err());
    }

    #[test]
    fn labels_reject_empty_control_and_overlong() {
        assert!("".parse::<EventId>().is_err());
        assert!("a\nb".parse::<EventId>().is_err());
        assert!("x".repeat(129).parse::<EventId>().is_err());
        assert!("evt_dna_1700000000000".parse::<EventId>().is_ok());
        assert!("tenant a".parse::<TenantId>().is_err());
        assert!("acme-1".parse::<TenantId>().is_ok());
        assert_eq!(TenantId::DEFAULT.parse::<TenantId>().ok(), Some(TenantId::default_tenant()), "the default tenant is a valid id");
        assert_eq!(TenantId::or_default(None), "default");
        assert!("1700000000000-0".parse::<Position>().is_ok());
        assert!("a b".parse::<Position>().is_err());
    }
}
