//! The policy module's errors and their HTTP mapping.

use axum::http::StatusCode;
use brain_http::ApiError;
use eventstream::store::StoreError;

use crate::web::store_error;

/// What can go wrong in the policy store.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// No such policy in this tenant (404 `policy_not_found`).
    #[error("Policy '{0}' not found")]
    NotFound(String),
    /// A policy with this id exists already (409 `policy_exists`; never an overwrite).
    #[error("Policy '{0}' already exists")]
    Exists(String),
    /// Another request changed the policy between read and write (409 `concurrent_update`).
    #[error("Policy '{0}' changed concurrently; retry")]
    Concurrent(String),
    /// A stored policy could not be read back (a bug or a hand-edited row).
    #[error("stored policy `{id}` is unreadable")]
    Corrupt {
        /// The policy.
        id: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// The state store failed.
    #[error("state store failure")]
    Store(#[from] StoreError),
}

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> Self {
        match &e {
            PolicyError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "policy_not_found", e.to_string()).with_field("policy_id"),
            PolicyError::Exists(_) => ApiError::conflict("policy_exists", e.to_string()).with_field("policy_id"),
            PolicyError::Concurrent(_) => ApiError::conflict("concurrent_update", e.to_string()).with_field("policy_id"),
            PolicyError::Corrupt { .. } => ApiError::internal(&e),
            PolicyError::Store(s) => store_error(s),
        }
    }
}
