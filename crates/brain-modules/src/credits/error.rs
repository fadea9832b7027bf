//! The credits module's errors and their HTTP mapping.

use axum::http::StatusCode;
use brain_http::ApiError;
use eventstream::store::StoreError;

use crate::web::store_error;

/// What can go wrong in the ledger.
#[derive(Debug, thiserror::Error)]
pub enum CreditsError {
    /// The agent has no account in this tenant (404 `account_not_found`).
    #[error("no credit account for agent `{0}`")]
    AccountNotFound(String),
    /// The balance does not cover the amount (409 `insufficient_credits`).
    #[error("agent `{agent_id}` has {balance} credits, {requested} requested")]
    Insufficient {
        /// The agent.
        agent_id: String,
        /// Its balance.
        balance: f64,
        /// The amount asked for.
        requested: f64,
    },
    /// A refund larger than what was consumed and not yet refunded (409 `refund_exceeds_consumed`).
    #[error("agent `{agent_id}` can be refunded at most {refundable} credits, {requested} requested")]
    RefundTooLarge {
        /// The agent.
        agent_id: String,
        /// What can still be refunded.
        refundable: f64,
        /// The amount asked for.
        requested: f64,
    },
    /// The allocation would exceed the largest balance (409 `balance_limit`).
    #[error("the balance of agent `{0}` would exceed the limit")]
    BalanceLimit(String),
    /// The state store failed.
    #[error("state store failure")]
    Store(#[from] StoreError),
}

impl From<CreditsError> for ApiError {
    fn from(e: CreditsError) -> Self {
        match &e {
            CreditsError::AccountNotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "account_not_found", e.to_string()).with_field("agent_id")
            }
            CreditsError::Insufficient { .. } => ApiError::conflict("insufficient_credits", e.to_string()).with_field("amount"),
            CreditsError::RefundTooLarge { .. } => ApiError::conflict("refund_exceeds_consumed", e.to_string()).with_field("amount"),
            CreditsError::BalanceLimit(_) => ApiError::conflict("balance_limit", e.to_string()).with_field("amount"),
            CreditsError::Store(s) => store_error(s),
        }
    }
}
