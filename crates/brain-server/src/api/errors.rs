//! How the errors of the layers below become [`ApiError`]s: the one place that decides a status and a
//! code for a backend failure. Transient failures are 503 `unavailable` (retry later); anything else is
//! a 500 `internal` that is logged once and answered without internals.

use brain_http::ApiError;
use eventstream::PublishError;
use eventstream::dlq::DlqError;
use eventstream::replay::ReplayError;
use eventstream_core::LogError;
use eventstream_sql::StoreError;

use crate::keys::KeyError;

/// A state store failure.
pub(crate) fn store(e: &StoreError) -> ApiError {
    if e.is_transient() { unavailable(e) } else { ApiError::internal(e) }
}

/// An event log failure.
pub(crate) fn log(e: &LogError) -> ApiError {
    match e {
        LogError::UnknownGroup(name) => ApiError::not_found(format!("no subscriber named `{name}`")),
        LogError::InvalidPosition { position, reason } => {
            ApiError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_position", format!("invalid position `{position}`: {reason}"))
        }
        LogError::Encode { .. } => ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "event_not_storable", e.to_string()),
        e if e.is_transient() => unavailable(e),
        e => ApiError::internal(e),
    }
}

/// A key store failure.
pub(crate) fn keys(e: &KeyError) -> ApiError {
    if e.is_transient() { unavailable(e) } else { ApiError::internal(e) }
}

/// A publish failure.
pub(crate) fn publish(e: &PublishError) -> ApiError {
    match e {
        PublishError::Log(l) => log(l),
        PublishError::Store(s) => store(s),
        PublishError::Closed => ApiError::unavailable("the server is shutting down"),
    }
}

/// A replay failure.
pub(crate) fn replay(e: &ReplayError) -> ApiError {
    match e {
        ReplayError::Log(l) => log(l),
        ReplayError::Store(s) => store(s),
    }
}

/// A dead-letter retry failure.
pub(crate) fn dlq(e: &DlqError) -> ApiError {
    match e {
        DlqError::NotFound(id) => ApiError::not_found(format!("dead letter {id} not found")),
        DlqError::NotOpen { .. } => ApiError::conflict("dead_letter_not_open", e.to_string()),
        DlqError::Undecodable(_) => ApiError::conflict("dead_letter_undecodable", e.to_string()),
        DlqError::Log(l) => log(l),
        DlqError::Store(s) => store(s),
    }
}

fn unavailable(e: &dyn std::error::Error) -> ApiError {
    tracing::warn!(error = %eventstream_core::error::Chain(e), "backend unavailable");
    ApiError::unavailable("a backend is unavailable; retry later")
}
