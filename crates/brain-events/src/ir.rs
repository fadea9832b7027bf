//! `ir.*`: HITL approvals, IR validation verdicts and IR-to-DAG diff audits of ir_governance.
//!
//! Reference: original-core-course-ir.md §2.7. Common envelope: `source = ir_governance`. The original put
//! `tenant_id` (and `request_id` as `correlation_id`) only into `meta` and wrote `schema_version` as
//! `"1.0"` (I10); [`EventPayload::to_event`](crate::EventPayload::to_event) sets the envelope `tenant_id`
//! from the payload, and `correlation_id = request_id` on validation and diff events as a default.
//! ir_governance's routes then stamp the request's tenant and `X-Correlation-ID` over them (decision M2:
//! the HTTP correlation wins, `request_id` stays in the payload); the routes refuse a payload tenant
//! other than the key's, so payload and envelope tenants agree (M3).

use eventstream_core::Event;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::consumers::{COURSE_FACTORY, SECURITY_MONITORING};
use crate::envelope_fill::{set_correlation, set_tenant};

/// A new approval was issued for an IR hash. The raw token is never in the event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct IrApprovalCreated {
    /// The approval id.
    pub approval_id: String,
    /// The tenant.
    pub tenant_id: String,
    /// The IR hash the approval is for.
    pub ir_hash: String,
    /// Its time to live, in seconds.
    pub ttl_seconds: u64,
    /// When it expires (ISO 8601).
    pub expires_at: String,
    /// Who issued it.
    #[serde(default)]
    pub created_by: Option<String>,
    /// When it was issued (ISO 8601).
    pub created_at: String,
}

event_payload!(IrApprovalCreated {
    type: "ir.approval_created",
    module: "ir_governance",
    source: "ir_governance",
    version: 1,
    criticality: High,
    consumers: [],
    envelope: IrApprovalCreated::envelope,
    description: "A single-use approval was issued for an IR hash.",
});

impl IrApprovalCreated {
    fn envelope(&self, event: &mut Event) {
        set_tenant(event, &self.tenant_id);
    }
}

/// An approval was consumed successfully. course_factory's HITL gate learns of consumed approvals
/// through this event (chain B), never by calling ir_governance.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct IrApprovalConsumed {
    /// The approval id.
    pub approval_id: String,
    /// The tenant.
    pub tenant_id: String,
    /// The IR hash.
    pub ir_hash: String,
    /// Who consumed it.
    #[serde(default)]
    pub consumed_by: Option<String>,
    /// When (ISO 8601).
    pub consumed_at: String,
    /// Seconds between issue and use.
    pub time_to_consume_seconds: u64,
    /// Always false (an expired approval cannot be consumed).
    pub was_expired: bool,
}

event_payload!(IrApprovalConsumed {
    type: "ir.approval_consumed",
    module: "ir_governance",
    source: "ir_governance",
    version: 1,
    criticality: High,
    consumers: [COURSE_FACTORY],
    envelope: IrApprovalConsumed::envelope,
    description: "An approval was consumed.",
});

impl IrApprovalConsumed {
    fn envelope(&self, event: &mut Event) {
        set_tenant(event, &self.tenant_id);
    }
}

/// Someone presented an expired approval.
///
/// The original hard-coded `was_consumed: false` even for consumed approvals; producers here report the
/// truth.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct IrApprovalExpired {
    /// The approval id.
    pub approval_id: String,
    /// The tenant.
    pub tenant_id: String,
    /// The IR hash.
    pub ir_hash: String,
    /// When it expired (its `expires_at`, ISO 8601).
    pub expired_at: String,
    /// When it was issued (ISO 8601).
    pub created_at: String,
    /// Its time to live, in seconds.
    pub ttl_seconds: u64,
    /// Whether it had been consumed before it expired.
    pub was_consumed: bool,
}

event_payload!(IrApprovalExpired {
    type: "ir.approval_expired",
    module: "ir_governance",
    source: "ir_governance",
    version: 1,
    criticality: Medium,
    consumers: [],
    envelope: IrApprovalExpired::envelope,
    description: "An expired approval was presented.",
});

impl IrApprovalExpired {
    fn envelope(&self, event: &mut Event) {
        set_tenant(event, &self.tenant_id);
    }
}

/// Why an approval was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalInvalidReason {
    /// No approval has this token.
    #[default]
    TokenNotFound,
    /// The approval belongs to another tenant.
    TenantMismatch,
    /// The approval is for another IR.
    IrHashMismatch,
    /// The single-use approval was used before.
    AlreadyConsumed,
}

/// An approval was refused: unknown token, wrong tenant, wrong IR, or already used.
///
/// The original put the other tenant's `approval_id` into `tenant_mismatch` events, leaking it across
/// tenants; producers here leave `approval_id` null unless the approval belongs to `tenant_id`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct IrApprovalInvalid {
    /// The tenant (the request's for the first three reasons, the approval's for `already_consumed`).
    pub tenant_id: String,
    /// The IR hash presented.
    pub ir_hash: String,
    /// Why it was refused.
    pub reason: ApprovalInvalidReason,
    /// Who presented it.
    #[serde(default)]
    pub attempted_by: Option<String>,
    /// When (ISO 8601).
    pub attempted_at: String,
    /// The approval concerned, when known.
    #[serde(default)]
    pub approval_id: Option<String>,
}

event_payload!(IrApprovalInvalid {
    type: "ir.approval_invalid",
    module: "ir_governance",
    source: "ir_governance",
    version: 1,
    criticality: Critical,
    consumers: [SECURITY_MONITORING],
    envelope: IrApprovalInvalid::envelope,
    description: "An approval was refused (unknown token, wrong tenant or IR, reuse).",
});

impl IrApprovalInvalid {
    fn envelope(&self, event: &mut Event) {
        set_tenant(event, &self.tenant_id);
    }
}

/// One finding of the IR validator.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct IrViolation {
    /// The step it concerns, if any.
    #[serde(default)]
    pub step_index: Option<u32>,
    /// A stable code (`UNKNOWN_ACTION`, `NEGATIVE_BUDGET`, ...).
    pub code: String,
    /// A human message.
    pub message: String,
    /// `ERROR` or `WARNING`.
    pub severity: String,
}

/// A step that made the IR need an approval.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct HighRiskStep {
    /// The step's index.
    pub step_index: u32,
    /// Its action (`dns.update_records`, ...).
    pub action: String,
    /// Its provider.
    pub provider: String,
    /// Its risk tier (2 or 3).
    pub risk_tier: u8,
    /// `Risk tier N detected`.
    pub reason: String,
}

macro_rules! validated_payload {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* pub $field:ident: $fty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        pub struct $name {
            /// The tenant.
            pub tenant_id: String,
            /// The IR's request id (the envelope `correlation_id` when no request correlation is stamped).
            pub request_id: String,
            /// The IR hash.
            pub ir_hash: String,
            /// The highest step risk tier (0 to 3).
            pub risk_tier: u8,
            /// Whether an approval is needed (tier 2 or more).
            pub requires_approval: bool,
            /// The validator's findings.
            pub violations: Vec<IrViolation>,
            /// When it was validated (ISO 8601).
            pub validated_at: String,
            /// The number of steps.
            pub step_count: u32,
            $($(#[$fdoc])* pub $field: $fty,)*
        }

        impl $name {
            fn envelope(&self, event: &mut Event) {
                set_tenant(event, &self.tenant_id);
                set_correlation(event, &self.request_id);
            }
        }
    };
}

validated_payload!(
    /// An IR passed validation (every step below tier 2, no errors).
    IrValidatedPass {}
);
event_payload!(IrValidatedPass {
    type: "ir.validated_pass",
    module: "ir_governance",
    source: "ir_governance",
    version: 1,
    criticality: Medium,
    consumers: [],
    envelope: IrValidatedPass::envelope,
    description: "An IR passed validation.",
});

validated_payload!(
    /// An IR needs a human approval (a step of tier 2 or 3, no errors).
    IrValidatedEscalate {
        /// The steps that caused the escalation.
        pub high_risk_steps: Vec<HighRiskStep>,
    }
);
event_payload!(IrValidatedEscalate {
    type: "ir.validated_escalate",
    module: "ir_governance",
    source: "ir_governance",
    version: 1,
    criticality: High,
    consumers: [],
    envelope: IrValidatedEscalate::envelope,
    description: "An IR needs a human approval before it may run.",
});

validated_payload!(
    /// An IR was rejected (at least one error violation).
    IrValidatedReject {}
);
event_payload!(IrValidatedReject {
    type: "ir.validated_reject",
    module: "ir_governance",
    source: "ir_governance",
    version: 1,
    criticality: High,
    consumers: [],
    envelope: IrValidatedReject::envelope,
    description: "An IR was rejected by validation.",
});

/// A step whose DAG hash differs from the IR's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct HashMismatch {
    /// The step id.
    pub step_id: String,
    /// The IR step hash (first 16 hex characters and `...`).
    pub expected_hash: String,
    /// The DAG node hash (first 16 hex characters and `...`).
    pub actual_hash: String,
}

/// What differs between an IR and its DAG.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct MismatchDetails {
    /// IR step ids with no DAG node.
    pub missing_ir_steps: Vec<String>,
    /// DAG node ids with no IR step.
    pub extra_dag_nodes: Vec<String>,
    /// Steps present in both with different hashes.
    pub hash_mismatches: Vec<HashMismatch>,
}

macro_rules! dag_diff_payload {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* pub $field:ident: $fty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        pub struct $name {
            /// The tenant.
            pub tenant_id: String,
            /// The IR's request id (the envelope `correlation_id` when no request correlation is stamped).
            pub request_id: String,
            /// The IR hash.
            pub ir_hash: String,
            /// The DAG hash.
            pub dag_hash: String,
            /// The number of IR steps.
            pub step_count: u32,
            /// The number of DAG nodes.
            pub dag_node_count: u32,
            /// Whether every step hash matched.
            pub all_hashes_match: bool,
            /// When it was audited (ISO 8601).
            pub verified_at: String,
            $($(#[$fdoc])* pub $field: $fty,)*
        }

        impl $name {
            fn envelope(&self, event: &mut Event) {
                set_tenant(event, &self.tenant_id);
                set_correlation(event, &self.request_id);
            }
        }
    };
}

dag_diff_payload!(
    /// A DAG matches the IR it was built from.
    IrDagDiffOk {}
);
event_payload!(IrDagDiffOk {
    type: "ir.dag_diff_ok",
    module: "ir_governance",
    source: "ir_governance",
    version: 1,
    criticality: Medium,
    consumers: [],
    envelope: IrDagDiffOk::envelope,
    description: "A DAG matches the IR it was built from.",
});

dag_diff_payload!(
    /// A DAG does not match its IR: missing steps, extra nodes or changed hashes.
    IrDagDiffFailed {
        /// What differs.
        pub mismatch_details: MismatchDetails,
    }
);
event_payload!(IrDagDiffFailed {
    type: "ir.dag_diff_failed",
    module: "ir_governance",
    source: "ir_governance",
    version: 1,
    criticality: Critical,
    consumers: [SECURITY_MONITORING],
    envelope: IrDagDiffFailed::envelope,
    description: "A DAG does not match the IR it claims to implement.",
});
