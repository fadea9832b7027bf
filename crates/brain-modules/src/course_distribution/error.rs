//! The course_distribution module's errors and their HTTP mapping.

use axum::http::StatusCode;
use brain_http::ApiError;
use eventstream::store::StoreError;

use crate::web::store_error;

/// What can go wrong with distributions.
#[derive(Debug, thiserror::Error)]
pub enum DistributionError {
    /// No such distribution in this tenant (404 `distribution_not_found`, naming `field`).
    #[error("distribution not found: {id}")]
    NotFound {
        /// The id or slug asked for.
        id: String,
        /// The field or path parameter it came from.
        field: &'static str,
    },
    /// The slug is used by another distribution of the tenant (409 `slug_taken`, naming `field`).
    #[error("slug `{slug}` is already taken")]
    SlugTaken {
        /// The slug.
        slug: String,
        /// The field it came from.
        field: &'static str,
    },
    /// The version cannot be bumped (422 `invalid_version`, field `version`): a `v` version that is not a
    /// whole number, such as `v1.2`.
    #[error("version `{0}` cannot be bumped: expected `vN` with a whole number N")]
    InvalidVersion(String),
    /// A field derived from the parent is out of bounds (422 `validation_failed`, naming `field`).
    #[error("{message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A stored row could not be read back (a JSON column that is not what this version writes).
    #[error("a stored distribution is unreadable")]
    Corrupt(#[source] serde_json::Error),
    /// The state store failed.
    #[error("state store failure")]
    Store(#[from] StoreError),
}

impl From<DistributionError> for ApiError {
    fn from(e: DistributionError) -> Self {
        match &e {
            DistributionError::NotFound { field, .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "distribution_not_found", e.to_string()).with_field(*field)
            }
            DistributionError::SlugTaken { field, .. } => ApiError::conflict("slug_taken", e.to_string()).with_field(*field),
            DistributionError::InvalidVersion(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_version", e.to_string()).with_field("version")
            }
            DistributionError::Invalid { field, message } => ApiError::invalid(*field, message.clone()),
            DistributionError::Corrupt(c) => ApiError::internal(c),
            DistributionError::Store(s) => store_error(s),
        }
    }
}
