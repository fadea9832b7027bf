//! Validation of events against the catalog: [`ValidationMode`], [`Catalog::validate`], its errors and
//! warnings.
//!
//! Rules, in order:
//! 1. `Off` checks nothing.
//! 2. A type the catalog does not list is rejected ([`ValidationError::UnknownType`]) unless its namespace
//!    was opened with [`Catalog::register_namespace`]; then it is accepted with a warning and its payload
//!    is not checked (there is no schema).
//! 3. A schema version newer than the catalog's is rejected; an older one is upcast (on a copy) and the
//!    upcast payload is checked, with a warning.
//! 4. The payload is checked against the type's JSON Schema; every violation is reported with its JSON
//!    pointer into the event (`/payload/priority`). A missing required field points at the field itself.
//! 5. The payload must also decode into the Rust type (this catches what JSON Schema cannot say, such as
//!    an integer larger than the field's range).
//!
//! **Unknown extra payload fields are allowed**: producers evolve ahead of consumers, and adding an
//! optional field must not break anyone; consumers ignore what they do not know. Removing or renaming a
//! field is what needs a new schema version.
//!
//! `Warn` runs the same checks but turns every error into a [`Warning`] and accepts the event.

use std::fmt;
use std::str::FromStr;

use eventstream_core::{Event, EventType};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::Catalog;
use crate::upcast::UpcastError;

/// How strictly published events are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationMode {
    /// Reject unknown types (outside open namespaces) and invalid payloads. The default.
    #[default]
    Strict,
    /// Accept everything, reporting what strict mode would reject as warnings.
    Warn,
    /// Check nothing.
    Off,
}

impl ValidationMode {
    /// The configuration spelling (`strict`, `warn`, `off`).
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationMode::Strict => "strict",
            ValidationMode::Warn => "warn",
            ValidationMode::Off => "off",
        }
    }
}

impl fmt::Display for ValidationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a validation mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid validation mode {0:?}: expected strict, warn or off")]
pub struct InvalidValidationMode(pub String);

impl FromStr for ValidationMode {
    type Err = InvalidValidationMode;
    /// Case-insensitive `strict`, `warn` or `off`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "strict" => Ok(ValidationMode::Strict),
            "warn" => Ok(ValidationMode::Warn),
            "off" => Ok(ValidationMode::Off),
            _ => Err(InvalidValidationMode(s.chars().take(80).collect())),
        }
    }
}

/// One payload problem: where (a JSON pointer into the event) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// JSON pointer into the event, e.g. `/payload/priority`.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// Why strict validation rejected an event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    /// The type is not in the catalog and its namespace is not open.
    #[error("unknown event type `{event_type}`: not in the catalog, and namespace `{}` is not registered", event_type.namespace())]
    UnknownType {
        /// The rejected type.
        event_type: EventType,
    },
    /// The schema version is not readable by this build.
    #[error(transparent)]
    Version(#[from] UpcastError),
    /// The payload does not match the type's schema. `pointer` and `message` are those of the first
    /// violation; `violations` has all of them.
    #[error("invalid payload for `{event_type}` at {pointer}: {message}")]
    InvalidPayload {
        /// The event type.
        event_type: EventType,
        /// JSON pointer of the first violation, e.g. `/payload/priority`.
        pointer: String,
        /// The first violation's message.
        message: String,
        /// Every violation found.
        violations: Vec<Violation>,
    },
    /// The type's schema failed to compile (a bug in the catalog; a test compiles every schema).
    #[error("schema of `{event_type}` does not compile: {reason}")]
    SchemaUnavailable {
        /// The event type.
        event_type: EventType,
        /// The compiler's message.
        reason: String,
    },
}

impl ValidationError {
    /// A stable code for APIs: `unknown_event_type`, `unsupported_schema_version`, `invalid_payload`,
    /// `schema_unavailable`.
    pub fn code(&self) -> &'static str {
        match self {
            ValidationError::UnknownType { .. } => "unknown_event_type",
            ValidationError::Version(_) => "unsupported_schema_version",
            ValidationError::InvalidPayload { .. } => "invalid_payload",
            ValidationError::SchemaUnavailable { .. } => "schema_unavailable",
        }
    }

    /// The JSON pointer (into the event) of what is at fault: `/type`, `/meta/schema_version`,
    /// `/payload/...`.
    pub fn pointer(&self) -> String {
        match self {
            ValidationError::UnknownType { .. } => "/type".to_owned(),
            ValidationError::Version(e) => e.pointer(),
            ValidationError::InvalidPayload { pointer, .. } => pointer.clone(),
            ValidationError::SchemaUnavailable { .. } => "/payload".to_owned(),
        }
    }
}

/// Something validation noticed but did not reject (all of strict mode's rejections, in `Warn` mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// A stable code: a [`ValidationError::code`], or `unregistered_type` (a type of an open namespace
    /// that the catalog does not list), `upcast_applied` (an older schema version, checked after
    /// upcasting), `legacy_type` (the single-segment `broadcast`).
    pub code: &'static str,
    /// JSON pointer into the event.
    pub pointer: String,
    /// What was noticed.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}: {}", self.code, self.pointer, self.message)
    }
}

impl From<&ValidationError> for Warning {
    fn from(e: &ValidationError) -> Self {
        Warning { code: e.code(), pointer: e.pointer(), message: e.to_string() }
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
fn escape_segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

impl Catalog {
    /// Checks `event` against the catalog (see the [module docs](crate::validate) for the rules).
    ///
    /// # Errors
    /// In [`ValidationMode::Strict`] only: the first rule the event breaks, as a [`ValidationError`] that
    /// names the JSON pointer of the fault. `Warn` and `Off` never fail.
    pub fn validate(&self, event: &Event, mode: ValidationMode) -> Result<Vec<Warning>, ValidationError> {
        let mut warnings = Vec::new();
        match mode {
            ValidationMode::Off => Ok(warnings),
            ValidationMode::Strict => self.check(event, &mut warnings).map(|()| warnings),
            ValidationMode::Warn => {
                if let Err(e) = self.check(event, &mut warnings) {
                    warnings.push(Warning::from(&e));
                }
                Ok(warnings)
            }
        }
    }

    fn check(&self, event: &Event, warnings: &mut Vec<Warning>) -> Result<(), ValidationError> {
        let event_type = &event.event_type;
        let Some(compiled) = self.compiled(event_type.as_str()) else {
            if self.is_open_namespace(event_type.namespace()) {
                warnings.push(Warning {
                    code: "unregistered_type",
                    pointer: "/type".to_owned(),
                    message: format!(
                        "`{event_type}` is not in the catalog; accepted because namespace `{}` is registered, payload not checked",
                        event_type.namespace()
                    ),
                });
                return Ok(());
            }
            return Err(ValidationError::UnknownType { event_type: event_type.clone() });
        };
        if event_type.as_str() == eventstream_core::LEGACY_BROADCAST {
            warnings.push(Warning {
                code: "legacy_type",
                pointer: "/type".to_owned(),
                message: "`broadcast` is the original's legacy type; publish a namespaced type instead".to_owned(),
            });
        }

        let current = compiled.entry.schema_version;
        let found = event.meta.schema_version;
        let upcast;
        let payload = if found == current {
            &event.payload
        } else {
            upcast = self.upcast_payload(event_type, found, current, event.payload.clone())?;
            warnings.push(Warning {
                code: "upcast_applied",
                pointer: "/meta/schema_version".to_owned(),
                message: format!("schema version {found} is older than {current}; the payload was checked after upcasting"),
            });
            &upcast
        };

        let validator = compiled
            .validator
            .map_err(|reason| ValidationError::SchemaUnavailable { event_type: event_type.clone(), reason: reason.to_owned() })?;
        let instance = Value::Object(payload.clone());
        let violations: Vec<Violation> = validator
            .iter_errors(&instance)
            .map(|e| {
                let mut pointer = format!("/payload{}", e.instance_path().as_str());
                if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind()
                    && let Some(name) = property.as_str()
                {
                    pointer.push('/');
                    pointer.push_str(&escape_segment(name));
                }
                Violation { pointer, message: e.to_string() }
            })
            .collect();
        if let Some(first) = violations.first() {
            return Err(ValidationError::InvalidPayload {
                event_type: event_type.clone(),
                pointer: first.pointer.clone(),
                message: first.message.clone(),
                violations,
            });
        }
        // The schema and the Rust type agree by construction; this catches the rest (integer ranges).
        (compiled.check)(payload).map_err(|e| {
            let message = match &e {
                crate::PayloadError::Invalid { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            ValidationError::InvalidPayload {
                event_type: event_type.clone(),
                pointer: "/payload".to_owned(),
                message: message.clone(),
                violations: vec![Violation { pointer: "/payload".to_owned(), message }],
            }
        })
    }
}
