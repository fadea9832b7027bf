//! The ir_governance module's errors and their HTTP mapping.

use axum::http::StatusCode;
use brain_http::ApiError;
use eventstream::store::StoreError;

use crate::ir::{CanonicalError, DagError, IrFieldError};
use crate::web::store_error;

/// What can go wrong in ir_governance.
#[derive(Debug, thiserror::Error)]
pub enum IrGovernanceError {
    /// No approval with this id in the caller's tenant (404 `approval_not_found`; other tenants' ids too).
    #[error("Approval not found: {0}")]
    ApprovalNotFound(String),
    /// A `tenant_id` in the body or query differs from the key's tenant (403 `tenant_mismatch`).
    #[error("`{field}` must be the API key's tenant `{tenant}`")]
    TenantMismatch {
        /// The field.
        field: &'static str,
        /// The key's tenant.
        tenant: String,
    },
    /// A field breaks the IR model's rules (422 `validation_failed`).
    #[error(transparent)]
    Field(#[from] IrFieldError),
    /// A float or a control character where canonical JSON refuses them (422 `float_not_allowed` /
    /// `control_character`).
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// Malformed DAG nodes or duplicate step ids (422 `invalid_dag_node` / `duplicate_step_id`).
    #[error(transparent)]
    Dag(DagError),
    /// The state store failed.
    #[error("state store failure")]
    Store(#[from] StoreError),
}

impl From<DagError> for IrGovernanceError {
    fn from(e: DagError) -> Self {
        match e {
            DagError::Canonical(c) => IrGovernanceError::Canonical(c),
            other => IrGovernanceError::Dag(other),
        }
    }
}

/// 422 with `code` on `field`.
fn unprocessable(code: &'static str, field: &str, message: String) -> ApiError {
    let e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
    if field.is_empty() { e } else { e.with_field(field) }
}

impl From<IrGovernanceError> for ApiError {
    fn from(e: IrGovernanceError) -> Self {
        match &e {
            IrGovernanceError::ApprovalNotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "approval_not_found", e.to_string()).with_field("approval_id")
            }
            IrGovernanceError::TenantMismatch { field, .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "tenant_mismatch", e.to_string()).with_field(*field)
            }
            IrGovernanceError::Field(f) => ApiError::invalid(f.field.clone(), e.to_string()),
            IrGovernanceError::Canonical(c) => {
                let code = match c {
                    CanonicalError::Float { .. } => "float_not_allowed",
                    CanonicalError::ControlCharacter { .. } => "control_character",
                    CanonicalError::NotJson { .. } => "invalid_body",
                };
                unprocessable(code, c.path(), e.to_string())
            }
            IrGovernanceError::Dag(d) => {
                let code = match d {
                    DagError::Duplicate { .. } => "duplicate_step_id",
                    _ => "invalid_dag_node",
                };
                unprocessable(code, d.field(), e.to_string())
            }
            IrGovernanceError::Store(s) => store_error(s),
        }
    }
}
