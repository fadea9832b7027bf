//! The ir_governance service: validation and diff audits (pure, from [`crate::ir`], plus their events),
//! the approval store ([`super::approvals`]) and the notifications the tenant WebSockets push.

use brain_events::EventPayload;
use brain_events::ir::{
    HashMismatch as EventMismatch, HighRiskStep, IrDagDiffFailed, IrDagDiffOk, IrValidatedEscalate, IrValidatedPass, IrValidatedReject,
    IrViolation, MismatchDetails,
};
use chrono::{DateTime, TimeZone, Utc};
use eventstream::EventStream;
use eventstream::store::StoreError;
use eventstream_core::Event;
use serde_json::Value;
use tokio::sync::broadcast;

use super::error::IrGovernanceError;
use super::model::{DiffAuditResult, ValidationResult};
use crate::ir::{self, Ir, IrStep, Verdict};
use crate::web::{Origin, now_ms};

/// Notifications buffered per WebSocket before a slow one starts missing some.
const NOTIFY_CAPACITY: usize = 1024;

/// A change of an approval, pushed to the WebSockets of its tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The tenant it belongs to (only its sockets get it).
    pub tenant: String,
    /// The JSON message (`{"type": "approval_created", ...}`).
    pub message: Value,
}

/// The ir_governance service.
#[derive(Debug)]
pub struct IrGovernanceService {
    pub(super) events: EventStream,
    pub(super) notify: broadcast::Sender<Notification>,
}

/// Epoch milliseconds as an RFC 3339 UTC instant.
pub(super) fn instant(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Epoch milliseconds as RFC 3339 with `Z` (the payload and response time format, X-3).
pub(super) fn iso(ms: i64) -> String {
    eventstream_core::format_timestamp(&instant(ms))
}

impl IrGovernanceService {
    /// The service over `events`.
    pub fn new(events: EventStream) -> Self {
        let (notify, _) = broadcast::channel(NOTIFY_CAPACITY);
        Self { events, notify }
    }

    /// A receiver of every approval notification (the WebSocket filters by tenant).
    pub fn subscribe(&self) -> broadcast::Receiver<Notification> {
        self.notify.subscribe()
    }

    pub(super) fn push(&self, tenant: &str, message: Value) {
        // No receiver is not an error: nobody is listening.
        let _ = self.notify.send(Notification { tenant: tenant.to_owned(), message });
    }

    /// Writes `events` through the transactional outbox and wakes the relay; the call returns once they
    /// are durable.
    pub(super) async fn write_events(&self, events: &[Event]) -> Result<(), StoreError> {
        let mut tx = self.events.store().begin().await?;
        self.events.outbox_in_tx(&mut tx, events).await?;
        tx.commit().await?;
        self.events.wake_relay();
        Ok(())
    }

    /// Whether the state store answers.
    pub async fn healthy(&self) -> bool {
        self.events.store().ping().await.is_ok()
    }

    /// Validates `ir` (already normalised, of the caller's tenant) and publishes `ir.validated_pass`,
    /// `ir.validated_escalate` or `ir.validated_reject`.
    ///
    /// # Errors
    /// [`IrGovernanceError::Canonical`] for a float or control character in the IR (nothing is
    /// published then); [`IrGovernanceError::Store`].
    pub async fn validate(&self, origin: &Origin, ir: &Ir) -> Result<ValidationResult, IrGovernanceError> {
        let v = ir::validate(ir)?;
        let validated_at = iso(now_ms());
        let violations: Vec<IrViolation> = v
            .violations
            .iter()
            .map(|x| IrViolation {
                step_index: x.step_index,
                code: x.code.to_owned(),
                message: x.message.clone(),
                severity: x.severity.as_str().to_owned(),
            })
            .collect();
        let step_count = u32::try_from(ir.steps.len()).unwrap_or(u32::MAX);
        let (tenant_id, request_id, ir_hash) = (ir.tenant_id.clone(), ir.request_id.clone(), v.ir_hash.clone());
        let (risk_tier, requires_approval, at) = (v.risk_tier, v.requires_approval, validated_at.clone());
        let event = match v.status {
            Verdict::Pass => {
                IrValidatedPass { tenant_id, request_id, ir_hash, risk_tier, requires_approval, violations, validated_at: at, step_count }
                    .to_event()
            }
            Verdict::Reject => {
                IrValidatedReject { tenant_id, request_id, ir_hash, risk_tier, requires_approval, violations, validated_at: at, step_count }
                    .to_event()
            }
            Verdict::Escalate => IrValidatedEscalate {
                tenant_id,
                request_id,
                ir_hash,
                risk_tier,
                requires_approval,
                violations,
                validated_at: at,
                step_count,
                high_risk_steps: high_risk_steps(&ir.steps, &v.steps),
            }
            .to_event(),
        };
        self.write_events(&[origin.stamp(event)]).await?;
        Ok(ValidationResult::new(v, ir, validated_at))
    }

    /// Audits `dag_nodes` (raw JSON) against `ir` and publishes `ir.dag_diff_ok` or `ir.dag_diff_failed`.
    ///
    /// # Errors
    /// [`IrGovernanceError::Dag`] for malformed nodes and duplicate ids, [`IrGovernanceError::Canonical`]
    /// (nothing is published then); [`IrGovernanceError::Store`].
    pub async fn dag_diff(&self, origin: &Origin, ir: &Ir, dag_nodes: &[Value]) -> Result<DiffAuditResult, IrGovernanceError> {
        let nodes = ir::parse_nodes(dag_nodes)?;
        let a = ir::audit(ir, &nodes)?;
        let audited_at = iso(now_ms());
        let step_count = u32::try_from(ir.steps.len()).unwrap_or(u32::MAX);
        let dag_node_count = u32::try_from(nodes.len()).unwrap_or(u32::MAX);
        let event = if a.success {
            IrDagDiffOk {
                tenant_id: ir.tenant_id.clone(),
                request_id: ir.request_id.clone(),
                ir_hash: a.ir_hash.clone(),
                dag_hash: a.dag_hash.clone(),
                step_count,
                dag_node_count,
                all_hashes_match: true,
                verified_at: audited_at.clone(),
            }
            .to_event()
        } else {
            IrDagDiffFailed {
                tenant_id: ir.tenant_id.clone(),
                request_id: ir.request_id.clone(),
                ir_hash: a.ir_hash.clone(),
                dag_hash: a.dag_hash.clone(),
                step_count,
                dag_node_count,
                all_hashes_match: false,
                verified_at: audited_at.clone(),
                mismatch_details: MismatchDetails {
                    missing_ir_steps: a.missing_ir_steps.clone(),
                    extra_dag_nodes: a.extra_dag_nodes.clone(),
                    hash_mismatches: a
                        .hash_mismatches
                        .iter()
                        .map(|m| EventMismatch {
                            step_id: m.step_id.clone(),
                            expected_hash: m.expected_hash.clone(),
                            actual_hash: m.actual_hash.clone(),
                        })
                        .collect(),
                },
            }
            .to_event()
        };
        self.write_events(&[origin.stamp(event)]).await?;
        Ok(DiffAuditResult {
            success: a.success,
            ir_hash: a.ir_hash,
            dag_hash: a.dag_hash,
            missing_ir_steps: a.missing_ir_steps,
            extra_dag_nodes: a.extra_dag_nodes,
            hash_mismatches: a.hash_mismatches,
            tenant_id: ir.tenant_id.clone(),
            request_id: ir.request_id.clone(),
            audited_at,
        })
    }
}

fn high_risk_steps(steps: &[IrStep], risks: &[ir::StepRisk]) -> Vec<HighRiskStep> {
    steps
        .iter()
        .zip(risks)
        .enumerate()
        .filter(|(_, (_, r))| r.requires_approval)
        .map(|(i, (s, r))| HighRiskStep {
            step_index: u32::try_from(i).unwrap_or(u32::MAX),
            action: s.action.clone(),
            provider: s.provider.clone(),
            risk_tier: r.tier,
            reason: format!("Risk tier {} detected", r.tier),
        })
        .collect()
}
