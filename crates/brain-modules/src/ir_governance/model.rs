//! The ir_governance module's request and response shapes (the original's JSON, field for field).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ir::{HashMismatch, Ir, Validation, Verdict, Violation};

/// Default approval time to live, in seconds (the original's 3600).
pub const DEFAULT_TTL_SECONDS: i64 = 3600;

/// The longest approval time to live: 7 days. Longer-lived single-use tokens are standing permissions,
/// not approvals of one request.
pub const MAX_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// The longest `created_by`, `consumed_by` and `acknowledged_by`.
pub const MAX_ACTOR: usize = 200;

/// The longest token accepted at consume (real ones are 43 characters).
pub const MAX_TOKEN: usize = 512;

/// Query of `POST /api/ir/approvals`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApprovalQuery {
    /// Must equal the key's tenant when given.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The IR hash approved (64 lowercase hex characters).
    #[serde(default)]
    pub ir_hash: Option<String>,
    /// 1 to [`MAX_TTL_SECONDS`] (default [`DEFAULT_TTL_SECONDS`]); 0 is refused, not turned into 3600.
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
    /// Who approves.
    #[serde(default)]
    pub created_by: Option<String>,
}

/// Response of `POST /api/ir/approvals` (201): the raw token is in it, and nowhere else, ever.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedApproval {
    /// The new approval.
    pub approval_id: String,
    /// The raw token (43 URL-safe characters, 256 bits): shown once.
    pub token: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
    /// The tenant.
    pub tenant_id: String,
    /// The IR hash, shortened (16 characters and `...`).
    pub ir_hash: String,
    /// A note for the caller.
    pub message: String,
}

/// Body of `POST /api/ir/approvals/consume`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumeBody {
    /// Must equal the key's tenant when given.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The hash of the IR the token is presented for.
    #[serde(default)]
    pub ir_hash: Option<String>,
    /// The raw token.
    #[serde(default)]
    pub token: Option<String>,
}

/// Query of the consume route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumeQuery {
    /// Who consumes.
    #[serde(default)]
    pub consumed_by: Option<String>,
}

/// `ApprovalConsumeResult`: the answer to every consume attempt (200, also when refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumeResult {
    /// Whether the token was consumed now.
    pub success: bool,
    /// `consumed`, `expired` or `invalid`.
    pub status: &'static str,
    /// What happened.
    pub message: String,
    /// The approval, when it belongs to the caller's tenant.
    pub approval_id: Option<String>,
}

/// An approval as the routes show it. The token hash is never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalView {
    /// The approval.
    pub approval_id: String,
    /// The tenant.
    pub tenant_id: String,
    /// The IR hash (full).
    pub ir_hash: String,
    /// `pending`, `consumed` or `expired` (a pending approval past its expiry shows as `expired`).
    pub status: String,
    /// When it was issued.
    pub created_at: String,
    /// When it expires.
    pub expires_at: String,
    /// When it was consumed.
    pub consumed_at: Option<String>,
    /// Who issued it.
    pub created_by: Option<String>,
    /// Who consumed it.
    pub consumed_by: Option<String>,
    /// Who acknowledged it (D-2: persisted).
    pub acknowledged_by: Option<String>,
    /// When.
    pub acknowledged_at: Option<String>,
}

/// Query of `GET /api/ir/approvals/pending`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingQuery {
    /// Must equal the key's tenant when given.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// 1 to 1000 (default 100).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Query of `GET /api/ir/approvals/stats` and of the WebSocket.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantQuery {
    /// Must equal the key's tenant when given.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// Body of `POST /api/ir/approvals/{approval_id}/acknowledge`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeBody {
    /// Who acknowledges.
    #[serde(default)]
    pub acknowledged_by: Option<String>,
}

/// Approval counts by effective status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    /// Pending and not expired.
    pub pending: u64,
    /// Consumed.
    pub consumed: u64,
    /// Expired (stored so, or pending past expiry).
    pub expired: u64,
    /// Never assigned (kept for the original's shape).
    pub invalid: u64,
}

impl StatusCounts {
    /// All approvals.
    pub fn total(&self) -> u64 {
        self.pending + self.consumed + self.expired + self.invalid
    }
}

/// `IRValidationResult` (also course_factory's answer to an IR it validates without events, D-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationResult {
    /// `PASS`, `ESCALATE` or `REJECT`.
    pub status: Verdict,
    /// The findings.
    pub violations: Vec<Violation>,
    /// The highest step tier.
    pub risk_tier: u8,
    /// Whether an approval is needed.
    pub requires_approval: bool,
    /// The IR hash.
    pub ir_hash: String,
    /// The tenant.
    pub tenant_id: String,
    /// The IR's request id.
    pub request_id: String,
    /// When (RFC 3339).
    pub validated_at: String,
}

impl ValidationResult {
    /// The answer for `ir` from the shared validator's `verdict`, validated at `validated_at` (RFC 3339).
    pub fn new(verdict: Validation, ir: &Ir, validated_at: String) -> Self {
        Self {
            status: verdict.status,
            violations: verdict.violations,
            risk_tier: verdict.risk_tier,
            requires_approval: verdict.requires_approval,
            ir_hash: verdict.ir_hash,
            tenant_id: ir.tenant_id.clone(),
            request_id: ir.request_id.clone(),
            validated_at,
        }
    }
}

/// Body of `POST /api/ir/dag-diff`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DagDiffBody {
    /// The IR.
    pub ir: Ir,
    /// The DAG's nodes: objects with string `ir_step_id` and `ir_step_hash` (other keys ignored).
    pub dag_nodes: Vec<Value>,
}

/// `DiffAuditResult`.
#[derive(Debug, Clone, Serialize)]
pub struct DiffAuditResult {
    /// All lists empty.
    pub success: bool,
    /// The IR hash.
    pub ir_hash: String,
    /// The DAG hash.
    pub dag_hash: String,
    /// IR step ids without a node.
    pub missing_ir_steps: Vec<String>,
    /// Node ids without an IR step.
    pub extra_dag_nodes: Vec<String>,
    /// Ids whose hashes differ.
    pub hash_mismatches: Vec<HashMismatch>,
    /// The tenant.
    pub tenant_id: String,
    /// The IR's request id.
    pub request_id: String,
    /// When (RFC 3339).
    pub audited_at: String,
}
