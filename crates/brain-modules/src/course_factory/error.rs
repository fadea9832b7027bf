//! The course_factory module's errors and their HTTP answers.
//!
//! Most map to the port's `{code, message, field}` body ([`ApiError`]). The IR verdicts that block a
//! request (`approval_required`, `ir_rejected`) add the original's keys as extra fields (D-6): `error`,
//! `reason`, `ir_hash` and `validation_result`, so a caller can issue an approval for the hash.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use brain_http::ApiError;
use eventstream::store::StoreError;
use serde_json::json;

use super::ir_plan::ValidationResult;
use crate::ir::{CanonicalError, IrFieldError};
use crate::web::store_error;

/// What can go wrong in course_factory.
#[derive(Debug, thiserror::Error)]
pub enum CourseFactoryError {
    /// A `tenant_id` in the body differs from the key's tenant (403 `tenant_mismatch`).
    #[error("`tenant_id` must be the API key's tenant `{0}`")]
    TenantMismatch(String),
    /// No course with this id in the caller's tenant (404 `course_not_found`).
    #[error("Course not found: {0}")]
    CourseNotFound(String),
    /// No transition with this id for the course (404 `transition_not_found`).
    #[error("Transition not found: {0}")]
    TransitionNotFound(String),
    /// The course is not in the state the caller named (409 `state_mismatch`).
    #[error("the course is in state `{actual}`, not `{expected}`")]
    StateMismatch {
        /// The state the caller named.
        expected: &'static str,
        /// The stored state.
        actual: String,
    },
    /// The state machine has no such edge (409 `invalid_transition`).
    #[error("transition `{from}` -> `{to}` is not allowed")]
    InvalidTransition {
        /// From.
        from: &'static str,
        /// To.
        to: &'static str,
    },
    /// The course's generation failed; it has no workflow (409 `course_not_ready`).
    #[error("course `{0}` failed to generate and has no workflow")]
    CourseNotReady(String),
    /// The transition cannot be rolled back (409 `rollback_not_allowed`).
    #[error("transition `{0}` cannot be rolled back (its target is published or archived)")]
    RollbackNotAllowed(String),
    /// The IR escalates and no consumed approval of its hash is available (403 `approval_required`).
    #[error("{reason}")]
    ApprovalRequired {
        /// Why.
        reason: String,
        /// The hash to approve.
        ir_hash: String,
        /// The verdict.
        validation: Box<ValidationResult>,
    },
    /// The approval is not (yet) in course_factory's projection of consumed approvals: it was not
    /// consumed, or the consume event has not arrived yet (409 `approval_not_yet_visible`, retryable).
    #[error("approval `{0}` is not known as consumed (yet); consume it at /api/ir/approvals/consume and retry")]
    ApprovalNotYetVisible(String),
    /// The approval was consumed for another IR (403 `approval_invalid`).
    #[error("approval `{approval_id}` approves another IR (hash {approved}...), not {expected}...")]
    ApprovalMismatch {
        /// The approval.
        approval_id: String,
        /// The first 16 characters of the hash it approved.
        approved: String,
        /// The first 16 characters of the hash needed.
        expected: String,
    },
    /// The approval already gated another transition or generation (409 `approval_already_used`).
    #[error("approval `{0}` was already used")]
    ApprovalAlreadyUsed(String),
    /// The course IR is rejected by the validator (422 `ir_rejected`).
    #[error("the course IR was rejected by the validator")]
    IrRejected {
        /// The verdict.
        validation: Box<ValidationResult>,
    },
    /// A float or control character where canonical JSON refuses them (422).
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// A field breaks the IR model's rules (422 `validation_failed`).
    #[error(transparent)]
    Field(#[from] IrFieldError),
    /// The state store failed.
    #[error("state store failure")]
    Store(#[from] StoreError),
}

impl From<eventstream::store::sqlx::Error> for CourseFactoryError {
    fn from(e: eventstream::store::sqlx::Error) -> Self {
        CourseFactoryError::Store(StoreError::sqlx("course_factory tables", e))
    }
}

impl From<CourseFactoryError> for ApiError {
    fn from(e: CourseFactoryError) -> Self {
        use CourseFactoryError as E;
        let msg = e.to_string();
        match &e {
            E::TenantMismatch(_) => ApiError::new(StatusCode::FORBIDDEN, "tenant_mismatch", msg).with_field("tenant_id"),
            E::CourseNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "course_not_found", msg).with_field("course_id"),
            E::TransitionNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "transition_not_found", msg).with_field("transition_id"),
            E::StateMismatch { .. } => ApiError::conflict("state_mismatch", msg).with_field("from_state"),
            E::InvalidTransition { .. } => ApiError::conflict("invalid_transition", msg).with_field("to_state"),
            E::CourseNotReady(_) => ApiError::conflict("course_not_ready", msg).with_field("course_id"),
            E::RollbackNotAllowed(_) => ApiError::conflict("rollback_not_allowed", msg).with_field("transition_id"),
            E::ApprovalRequired { .. } => ApiError::new(StatusCode::FORBIDDEN, "approval_required", msg).with_field("approval_id"),
            E::ApprovalNotYetVisible(_) => ApiError::conflict("approval_not_yet_visible", msg).with_field("approval_id"),
            E::ApprovalMismatch { .. } => ApiError::new(StatusCode::FORBIDDEN, "approval_invalid", msg).with_field("approval_id"),
            E::ApprovalAlreadyUsed(_) => ApiError::conflict("approval_already_used", msg).with_field("approval_id"),
            E::IrRejected { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "ir_rejected", msg),
            E::Canonical(c) => {
                let code = match c {
                    CanonicalError::Float { .. } => "float_not_allowed",
                    CanonicalError::ControlCharacter { .. } => "control_character",
                    CanonicalError::NotJson { .. } => "invalid_body",
                };
                let err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, msg);
                if c.path().is_empty() { err } else { err.with_field(c.path()) }
            }
            E::Field(f) => ApiError::invalid(f.field.clone(), msg),
            E::Store(s) => store_error(s),
        }
    }
}

/// An error answer of a course_factory route: an [`ApiError`], or a blocking IR verdict with its extra
/// fields.
#[derive(Debug)]
pub(crate) struct Reject(Response);

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        self.0
    }
}

impl From<ApiError> for Reject {
    fn from(e: ApiError) -> Self {
        Reject(e.into_response())
    }
}

impl From<CourseFactoryError> for Reject {
    fn from(e: CourseFactoryError) -> Self {
        let extra = match &e {
            CourseFactoryError::ApprovalRequired { ir_hash, validation, reason } => {
                Some(("IR requires approval", reason.clone(), ir_hash.clone(), validation.clone()))
            }
            CourseFactoryError::IrRejected { validation } => {
                Some(("IR rejected", "the course IR has ERROR violations".to_owned(), validation.ir_hash.clone(), validation.clone()))
            }
            _ => None,
        };
        let api = ApiError::from(e);
        let Some((error, reason, ir_hash, validation)) = extra else { return Reject(api.into_response()) };
        let body = json!({
            "code": api.code,
            "message": api.message,
            "field": api.field,
            "error": error,
            "reason": reason,
            "ir_hash": ir_hash,
            "validation_result": validation,
        });
        Reject((api.status, axum::Json(body)).into_response())
    }
}
