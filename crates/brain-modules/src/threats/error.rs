//! The threats module's errors and their HTTP mapping.

use axum::http::StatusCode;
use brain_http::ApiError;
use eventstream::store::StoreError;

use crate::web::store_error;

/// What can go wrong with threats.
#[derive(Debug, thiserror::Error)]
pub enum ThreatError {
    /// No such threat in this tenant (404 `threat_not_found`, the original's "Threat not found").
    #[error("Threat not found")]
    NotFound(String),
    /// The threat kept changing under concurrent updates (409 `concurrent_update`).
    #[error("threat `{0}` changed concurrently; retry")]
    Concurrent(String),
    /// The state store failed.
    #[error("state store failure")]
    Store(#[from] StoreError),
}

impl From<ThreatError> for ApiError {
    fn from(e: ThreatError) -> Self {
        match &e {
            ThreatError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "threat_not_found", e.to_string()).with_field("threat_id"),
            ThreatError::Concurrent(_) => ApiError::conflict("concurrent_update", e.to_string()).with_field("threat_id"),
            ThreatError::Store(s) => store_error(s),
        }
    }
}
