//! The missions module's errors and their HTTP mapping.

use brain_events::mission::MissionStatus;
use brain_http::ApiError;
use eventstream::store::StoreError;

use crate::web::store_error;

/// What can go wrong in the missions service.
#[derive(Debug, thiserror::Error)]
pub enum MissionError {
    /// No mission with this id in the caller's tenant (404 `mission_not_found`).
    #[error("mission `{0}` not found")]
    NotFound(String),
    /// A mission with the caller's chosen id exists (409 `mission_exists`).
    #[error("mission `{0}` already exists")]
    AlreadyExists(String),
    /// The state machine forbids the transition (409 `illegal_transition`).
    #[error("mission `{id}` cannot go from {from} to {to}")]
    IllegalTransition {
        /// The mission.
        id: String,
        /// Its status.
        from: MissionStatus,
        /// The status asked for.
        to: MissionStatus,
    },
    /// Another request changed the mission between read and write (409 `concurrent_update`).
    #[error("mission `{0}` changed concurrently; retry")]
    Concurrent(String),
    /// The mission's log holds [`super::service::MAX_LOG_ENTRIES`] entries already (409 `log_full`).
    #[error("the log of mission `{0}` is full ({max} entries)", max = super::service::MAX_LOG_ENTRIES)]
    LogFull(String),
    /// The state store failed.
    #[error("state store failure")]
    Store(#[from] StoreError),
}

impl From<MissionError> for ApiError {
    fn from(e: MissionError) -> Self {
        match &e {
            MissionError::NotFound(_) => {
                ApiError::new(axum::http::StatusCode::NOT_FOUND, "mission_not_found", e.to_string()).with_field("mission_id")
            }
            MissionError::AlreadyExists(_) => ApiError::conflict("mission_exists", e.to_string()).with_field("id"),
            MissionError::IllegalTransition { .. } => ApiError::conflict("illegal_transition", e.to_string()),
            MissionError::Concurrent(_) => ApiError::conflict("concurrent_update", e.to_string()),
            MissionError::LogFull(_) => ApiError::conflict("log_full", e.to_string()).with_field("message"),
            MissionError::Store(s) => store_error(s),
        }
    }
}
