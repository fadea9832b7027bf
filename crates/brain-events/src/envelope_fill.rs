//! Small helpers the payload types use to copy ids from the payload into the envelope.
//!
//! The original left the envelope `tenant_id`, `correlation_id`, `mission_id` unset on most module
//! events (they sat only in the payload or in `meta`); we copy them so filters and the audit log work.

use eventstream_core::{Event, TenantId};

/// Sets `event.tenant_id` when `tenant` is a valid tenant id (an invalid one stays in the payload only).
pub(crate) fn set_tenant(event: &mut Event, tenant: &str) {
    if let Ok(t) = tenant.parse::<TenantId>() {
        event.tenant_id = Some(t);
    }
}

/// Sets `event.mission_id` when `id` is not empty.
pub(crate) fn set_mission(event: &mut Event, id: &str) {
    if !id.is_empty() {
        event.mission_id = Some(id.to_owned());
    }
}

/// Sets `event.correlation_id` when `id` is not empty.
pub(crate) fn set_correlation(event: &mut Event, id: &str) {
    if !id.is_empty() {
        event.correlation_id = Some(id.to_owned());
    }
}
