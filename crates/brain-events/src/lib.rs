//! The BRAiN event catalog: every event type of the system as a Rust payload type, with its contract.
//!
//! - [`EventPayload`]: what each type declares (`TYPE`, `MODULE`, `SOURCE`, `SCHEMA_VERSION`,
//!   `CRITICALITY`, `DESCRIPTION`, `CONSUMERS`) and how it becomes an [`Event`](eventstream_core::Event)
//!   ([`EventPayload::to_event`]) and back ([`EventPayload::from_event`]).
//! - One module per domain with its payload structs: [`task`], [`mission`], [`agent`], [`system`],
//!   [`ethics`], [`broadcast`], [`course`], [`distribution`], [`ir`], [`supervisor`], [`credits`],
//!   [`hardware`], [`metrics`], [`telemetry`], [`dna`], [`policy`], [`threat`], [`immune`].
//! - [`Catalog`]: every type with its JSON Schema, lookup, namespaces, [validation](crate::validate)
//!   ([`Catalog::validate`]), [upcasting](crate::upcast) ([`Catalog::upcast`], [`Catalog::decode`]) and
//!   the generated documentation ([`Catalog::to_markdown`]).
//!
//! Wire names (the type strings) are written only in the `event_payload!` blocks of the domain modules;
//! everything else refers to `T::TYPE`. The macro checks each literal at compile time.
//!
//! ```
//! use brain_events::{Catalog, EventPayload, ValidationMode};
//! use brain_events::hardware::{HardwareCommandSent, MovementCommand};
//!
//! let catalog = Catalog::new();
//! let payload = HardwareCommandSent {
//!     robot_id: "go2-7".into(),
//!     command_type: "movement".into(),
//!     command: MovementCommand { linear_x: 0.5, linear_y: 0.0, angular_z: 0.1 },
//!     sent_at: 1_767_002_400.0,
//! };
//! let event = payload.to_event();
//! assert!(catalog.validate(&event, ValidationMode::Strict).is_ok());
//! let back: HardwareCommandSent = catalog.decode(&event).unwrap();
//! assert_eq!(back, payload);
//! ```

#[macro_use]
mod macros;

mod catalog;
pub mod consumers;
mod envelope_fill;
mod markdown;
mod payload;
pub mod upcast;
pub mod validate;

pub mod agent;
pub mod broadcast;
pub mod course;
pub mod credits;
pub mod distribution;
pub mod dna;
pub mod ethics;
pub mod hardware;
pub mod immune;
pub mod ir;
pub mod metrics;
pub mod mission;
pub mod policy;
pub mod supervisor;
pub mod system;
pub mod task;
pub mod telemetry;
pub mod threat;

pub use catalog::{Catalog, CatalogEntry, InvalidNamespace, ReadError, schema_of};
pub use payload::{Criticality, EventPayload, PayloadError};
pub use upcast::{UpcastError, UpcastFailure, UpcastFn, Upcaster};
pub use validate::{InvalidValidationMode, ValidationError, ValidationMode, Violation, Warning};
