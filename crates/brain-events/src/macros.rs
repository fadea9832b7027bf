//! The `event_payload!` macro that implements [`EventPayload`](crate::EventPayload) for a catalog type.
//!
//! It exists so each type states its contract in one compact block and so the wire literals are checked at
//! compile time: an invalid `type` or `source` string does not build.

/// Implements [`EventPayload`](crate::EventPayload) for a payload struct.
///
/// ```ignore
/// event_payload!(ThingHappened {
///     type: "example.thing_happened", module: "example", source: "example_service", version: 1,
///     criticality: High, consumers: [],
///     description: "A thing happened.",
/// });
/// ```
/// Optional keys, in this order before `description`: `severity: Error,` and
/// `envelope: some_fn,` where `some_fn(&Self, &mut Event)` fills envelope fields.
macro_rules! event_payload {
    ($ty:ident {
        type: $wire:literal,
        module: $module:literal,
        source: $source:literal,
        version: $version:literal,
        criticality: $crit:ident,
        consumers: [$($consumer:expr),* $(,)?],
        $(severity: $sev:ident,)?
        $(envelope: $env:path,)?
        description: $desc:literal $(,)?
    }) => {
        impl $crate::payload::EventPayload for $ty {
            const TYPE: &'static str = $wire;
            const MODULE: &'static str = $module;
            const SOURCE: &'static str = $source;
            const SCHEMA_VERSION: u32 = $version;
            const CRITICALITY: $crate::payload::Criticality = $crate::payload::Criticality::$crit;
            const DESCRIPTION: &'static str = $desc;
            const CONSUMERS: &'static [&'static str] = &[$($consumer),*];
            $(const SEVERITY: Option<eventstream_core::Severity> = Some(eventstream_core::Severity::$sev);)?
            $(
                fn fill_envelope(&self, event: &mut eventstream_core::Event) {
                    $env(self, event)
                }
            )?
        }
        const _: () = {
            assert!($crate::payload::is_valid_type_literal($wire), concat!("invalid event type literal: ", $wire));
            assert!($crate::payload::is_valid_source_literal($source), concat!("invalid source literal: ", $source));
            assert!($version >= 1, "schema versions start at 1");
        };
    };
}
