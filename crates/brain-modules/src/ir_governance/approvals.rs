//! HITL approvals: issue, consume (single use, atomically), read, list, count, acknowledge.
//!
//! A token is 32 random bytes from the thread-local CSPRNG, written URL-safe base64 without padding (43
//! characters, like Python's `token_urlsafe(32)`). Only its SHA-256 hex is stored.
//!
//! Consume checks, in this order (IR-B10, fixed): unknown token, other tenant, other IR hash, already
//! consumed, expired; each answer writes exactly one event in the same transaction as its state change.
//! Single use is one conditional `UPDATE ... WHERE status = 'pending' AND expires_at >= now`; the losers
//! of a race see the winner's `consumed` and get `already_consumed` (IR-F6). Because consumption is
//! checked before expiry, a consumed approval presented after its expiry stays `consumed` (IR-F5).

use base64::Engine as _;
use brain_events::EventPayload;
use brain_events::ir::{ApprovalInvalidReason, IrApprovalConsumed, IrApprovalCreated, IrApprovalExpired, IrApprovalInvalid};
use eventstream::store::sqlx::{self, Row, any::AnyRow};
use eventstream::store::{StoreError, Tx};
use rand::RngCore;
use serde_json::json;

use super::error::IrGovernanceError;
use super::model::{ApprovalView, ConsumeResult, CreatedApproval, StatusCounts};
use super::service::{IrGovernanceService, instant, iso};
use crate::ir::{sha256_hex, truncate_hash};
use crate::page::Page;
use crate::sql::db;
use crate::web::{Origin, now_ms};

/// The columns [`read_row`] reads, in its order.
macro_rules! columns {
    () => {
        "tenant, approval_id, ir_hash, status, ttl_seconds, created_at, expires_at, consumed_at, created_by, consumed_by, \
         acknowledged_by, acknowledged_at"
    };
}

/// One stored approval.
#[derive(Debug, Clone)]
struct Stored {
    tenant: String,
    approval_id: String,
    ir_hash: String,
    status: String,
    ttl_seconds: i64,
    created_at: i64,
    expires_at: i64,
    consumed_at: Option<i64>,
    created_by: Option<String>,
    consumed_by: Option<String>,
    acknowledged_by: Option<String>,
    acknowledged_at: Option<i64>,
}

fn read_row(r: &AnyRow) -> Result<Stored, StoreError> {
    let e = || db("reading an approval");
    Ok(Stored {
        tenant: r.try_get(0).map_err(e())?,
        approval_id: r.try_get(1).map_err(e())?,
        ir_hash: r.try_get(2).map_err(e())?,
        status: r.try_get(3).map_err(e())?,
        ttl_seconds: r.try_get(4).map_err(e())?,
        created_at: r.try_get(5).map_err(e())?,
        expires_at: r.try_get(6).map_err(e())?,
        consumed_at: r.try_get(7).map_err(e())?,
        created_by: r.try_get(8).map_err(e())?,
        consumed_by: r.try_get(9).map_err(e())?,
        acknowledged_by: r.try_get(10).map_err(e())?,
        acknowledged_at: r.try_get(11).map_err(e())?,
    })
}

impl Stored {
    /// The status as reported: a pending approval past its expiry is `expired` (without a write).
    fn effective_status(&self, now: i64) -> &str {
        if self.status == "pending" && now > self.expires_at { "expired" } else { &self.status }
    }

    fn view(&self, now: i64) -> ApprovalView {
        ApprovalView {
            approval_id: self.approval_id.clone(),
            tenant_id: self.tenant.clone(),
            ir_hash: self.ir_hash.clone(),
            status: self.effective_status(now).to_owned(),
            created_at: iso(self.created_at),
            expires_at: iso(self.expires_at),
            consumed_at: self.consumed_at.map(iso),
            created_by: self.created_by.clone(),
            consumed_by: self.consumed_by.clone(),
            acknowledged_by: self.acknowledged_by.clone(),
            acknowledged_at: self.acknowledged_at.map(iso),
        }
    }
}

/// A consume attempt, checked by the route.
#[derive(Debug, Clone)]
pub(crate) struct ConsumeRequest<'a> {
    pub(crate) ir_hash: &'a str,
    pub(crate) token: &'a str,
    pub(crate) consumed_by: Option<&'a str>,
}

/// A new raw token.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl IrGovernanceService {
    /// Issues an approval of `ir_hash` for `ttl_seconds` (checked by the route) and writes
    /// `ir.approval_created` with it. The raw token is returned here and never stored.
    ///
    /// # Errors
    /// [`IrGovernanceError::Store`].
    pub(crate) async fn create_approval(
        &self,
        origin: &Origin,
        ir_hash: &str,
        ttl_seconds: i64,
        created_by: Option<&str>,
    ) -> Result<CreatedApproval, IrGovernanceError> {
        let token = new_token();
        let approval_id = uuid::Uuid::new_v4().to_string();
        let created_at = now_ms();
        let expires_at = created_at + ttl_seconds * 1000;
        let mut tx = self.events.store().begin().await?;
        sqlx::query(
            "INSERT INTO ir_approvals (tenant, approval_id, ir_hash, token_hash, status, ttl_seconds, created_at, expires_at, \
             created_by, correlation_id) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9)",
        )
        .bind(origin.tenant().to_owned())
        .bind(approval_id.clone())
        .bind(ir_hash.to_owned())
        .bind(sha256_hex(&token))
        .bind(ttl_seconds)
        .bind(created_at)
        .bind(expires_at)
        .bind(created_by.map(str::to_owned))
        .bind(origin.correlation_id.clone())
        .execute(tx.conn())
        .await
        .map_err(db("issuing an approval"))?;
        let event = IrApprovalCreated {
            approval_id: approval_id.clone(),
            tenant_id: origin.tenant().to_owned(),
            ir_hash: ir_hash.to_owned(),
            ttl_seconds: u64::try_from(ttl_seconds).unwrap_or_default(),
            expires_at: iso(expires_at),
            created_by: created_by.map(str::to_owned),
            created_at: iso(created_at),
        };
        self.events.outbox_in_tx(&mut tx, &[origin.stamp(event.to_event())]).await?;
        tx.commit().await?;
        self.events.wake_relay();
        self.push(
            origin.tenant(),
            json!({"type": "approval_created", "approval_id": approval_id, "tenant_id": origin.tenant(),
                   "ir_hash": truncate_hash(ir_hash), "expires_at": iso(expires_at), "created_by": created_by}),
        );
        Ok(CreatedApproval {
            approval_id,
            token,
            expires_at: iso(expires_at),
            tenant_id: origin.tenant().to_owned(),
            ir_hash: truncate_hash(ir_hash),
            message: "Approval created. The token is shown only once: store it securely.".into(),
        })
    }

    /// Presents a token: exactly one of consumed, expired or invalid, with exactly one event.
    ///
    /// # Errors
    /// [`IrGovernanceError::Store`] (nothing is written then).
    pub(crate) async fn consume(&self, origin: &Origin, req: &ConsumeRequest<'_>) -> Result<ConsumeResult, IrGovernanceError> {
        let now = now_ms();
        let caller = origin.tenant().to_owned();
        let mut tx = self.events.store().begin().await?;
        let found = sqlx::query(concat!("SELECT ", columns!(), " FROM ir_approvals WHERE token_hash = $1"))
            .bind(sha256_hex(req.token))
            .fetch_optional(tx.conn())
            .await
            .map_err(db("reading an approval"))?
            .map(|r| read_row(&r))
            .transpose()?;
        let invalid = |reason, approval_id: Option<&str>, tenant: &str| {
            IrApprovalInvalid {
                tenant_id: tenant.to_owned(),
                ir_hash: req.ir_hash.to_owned(),
                reason,
                attempted_by: req.consumed_by.map(str::to_owned),
                attempted_at: iso(now),
                approval_id: approval_id.map(str::to_owned),
            }
            .to_event()
        };
        let refused = |status, message: &str, approval_id: Option<&str>| ConsumeResult {
            success: false,
            status,
            message: message.to_owned(),
            approval_id: approval_id.map(str::to_owned),
        };
        let (event, result, note) = match found {
            None => {
                (invalid(ApprovalInvalidReason::TokenNotFound, None, &caller), refused("invalid", "Invalid approval token", None), None)
            }
            // The other tenant's approval id is not revealed, in the answer or the event.
            Some(row) if row.tenant != caller => {
                (invalid(ApprovalInvalidReason::TenantMismatch, None, &caller), refused("invalid", "Tenant ID mismatch", None), None)
            }
            Some(row) if row.ir_hash != req.ir_hash => (
                invalid(ApprovalInvalidReason::IrHashMismatch, Some(&row.approval_id), &caller),
                refused("invalid", "IR hash mismatch", Some(&row.approval_id)),
                None,
            ),
            Some(row) => self.consume_known(&mut tx, &row, req, now).await?,
        };
        self.events.outbox_in_tx(&mut tx, &[origin.stamp(event)]).await?;
        tx.commit().await?;
        self.events.wake_relay();
        if let Some(message) = note {
            self.push(&caller, message);
        }
        Ok(result)
    }

    /// The last two checks (consumed, then expired) and the conditional update.
    async fn consume_known(
        &self,
        tx: &mut Tx,
        row: &Stored,
        req: &ConsumeRequest<'_>,
        now: i64,
    ) -> Result<(eventstream_core::Event, ConsumeResult, Option<serde_json::Value>), IrGovernanceError> {
        let id = row.approval_id.clone();
        let already = || {
            let e = IrApprovalInvalid {
                tenant_id: row.tenant.clone(),
                ir_hash: req.ir_hash.to_owned(),
                reason: ApprovalInvalidReason::AlreadyConsumed,
                attempted_by: req.consumed_by.map(str::to_owned),
                attempted_at: iso(now),
                approval_id: Some(id.clone()),
            };
            let r = ConsumeResult {
                success: false,
                status: "consumed",
                message: "Approval already consumed (single-use token)".into(),
                approval_id: Some(id.clone()),
            };
            (e.to_event(), r, None)
        };
        if row.status == "consumed" {
            return Ok(already());
        }
        if now <= row.expires_at {
            let updated = sqlx::query(
                "UPDATE ir_approvals SET status = 'consumed', consumed_at = $1, consumed_by = $2 \
                 WHERE tenant = $3 AND approval_id = $4 AND status = 'pending' AND expires_at >= $5",
            )
            .bind(now)
            .bind(req.consumed_by.map(str::to_owned))
            .bind(row.tenant.clone())
            .bind(id.clone())
            .bind(now)
            .execute(tx.conn())
            .await
            .map_err(db("consuming an approval"))?
            .rows_affected();
            if updated == 1 {
                let mut event = IrApprovalConsumed {
                    approval_id: id.clone(),
                    tenant_id: row.tenant.clone(),
                    ir_hash: row.ir_hash.clone(),
                    consumed_by: req.consumed_by.map(str::to_owned),
                    consumed_at: iso(now),
                    time_to_consume_seconds: u64::try_from((now - row.created_at) / 1000).unwrap_or_default(),
                    was_expired: false,
                }
                .to_event();
                event.timestamp = instant(now);
                let note = json!({"type": "approval_consumed", "approval_id": id, "tenant_id": row.tenant,
                                  "consumed_by": req.consumed_by, "consumed_at": iso(now)});
                let r = ConsumeResult {
                    success: true,
                    status: "consumed",
                    message: "Approval consumed successfully".into(),
                    approval_id: Some(id),
                };
                return Ok((event, r, Some(note)));
            }
            // Lost a race: re-read what the winner wrote.
            let status: Option<String> = sqlx::query("SELECT status FROM ir_approvals WHERE tenant = $1 AND approval_id = $2")
                .bind(row.tenant.clone())
                .bind(id.clone())
                .fetch_optional(tx.conn())
                .await
                .and_then(|r| r.map(|r| r.try_get(0)).transpose())
                .map_err(db("reading an approval"))?;
            if status.as_deref() == Some("consumed") {
                return Ok(already());
            }
        }
        sqlx::query("UPDATE ir_approvals SET status = 'expired' WHERE tenant = $1 AND approval_id = $2 AND status = 'pending'")
            .bind(row.tenant.clone())
            .bind(id.clone())
            .execute(tx.conn())
            .await
            .map_err(db("expiring an approval"))?;
        let event = IrApprovalExpired {
            approval_id: id.clone(),
            tenant_id: row.tenant.clone(),
            ir_hash: row.ir_hash.clone(),
            expired_at: iso(row.expires_at),
            created_at: iso(row.created_at),
            ttl_seconds: u64::try_from(row.ttl_seconds).unwrap_or_default(),
            was_consumed: false,
        }
        .to_event();
        let note = json!({"type": "approval_expired", "approval_id": id, "tenant_id": row.tenant, "expired_at": iso(row.expires_at)});
        let r = ConsumeResult {
            success: false,
            status: "expired",
            message: format!("Approval expired at {}", iso(row.expires_at)),
            approval_id: Some(id),
        };
        Ok((event, r, Some(note)))
    }

    async fn row(&self, tenant: &str, approval_id: &str) -> Result<Stored, IrGovernanceError> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM ir_approvals WHERE tenant = $1 AND approval_id = $2"))
            .bind(tenant.to_owned())
            .bind(approval_id.to_owned())
            .fetch_optional(self.events.store().pool())
            .await
            .map_err(db("reading an approval"))?;
        let row = row.ok_or_else(|| IrGovernanceError::ApprovalNotFound(approval_id.to_owned()))?;
        Ok(read_row(&row)?)
    }

    /// One approval of `tenant` (another tenant's id is not found).
    ///
    /// # Errors
    /// [`IrGovernanceError::ApprovalNotFound`], [`IrGovernanceError::Store`].
    pub async fn approval(&self, tenant: &str, approval_id: &str) -> Result<ApprovalView, IrGovernanceError> {
        Ok(self.row(tenant, approval_id).await?.view(now_ms()))
    }

    /// The pending, unexpired approvals of `tenant`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// [`IrGovernanceError::Store`].
    pub(crate) async fn pending(&self, tenant: &str, page: Page) -> Result<(Vec<ApprovalView>, Option<String>), IrGovernanceError> {
        let now = now_ms();
        let offset = page.after.unwrap_or(0);
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM ir_approvals WHERE tenant = $1 AND status = 'pending' AND expires_at >= $2 ORDER BY created_at, approval_id \
             LIMIT $3 OFFSET $4"
        ))
        .bind(tenant.to_owned())
        .bind(now)
        .bind(page.fetch())
        .bind(offset)
        .fetch_all(self.events.store().pool())
        .await
        .map_err(db("listing approvals"))?;
        let mut views = rows.iter().map(|r| Ok(read_row(r)?.view(now))).collect::<Result<Vec<_>, IrGovernanceError>>()?;
        // The cursor is the number of approvals before the next page.
        let next = page.finish(&mut views, |_| 0).map(|_| (offset + i64::from(page.limit)).to_string());
        Ok((views, next))
    }

    /// The approvals of `tenant` by effective status.
    ///
    /// # Errors
    /// [`IrGovernanceError::Store`].
    pub async fn counts(&self, tenant: &str) -> Result<StatusCounts, IrGovernanceError> {
        let rows = sqlx::query(
            "SELECT CASE WHEN status = 'pending' AND expires_at < $1 THEN 'expired' ELSE status END, COUNT(*) \
             FROM ir_approvals WHERE tenant = $2 GROUP BY 1",
        )
        .bind(now_ms())
        .bind(tenant.to_owned())
        .fetch_all(self.events.store().pool())
        .await
        .map_err(db("counting approvals"))?;
        let mut c = StatusCounts::default();
        for r in rows {
            let status: String = r.try_get(0).map_err(db("counting approvals"))?;
            let n: i64 = r.try_get(1).map_err(db("counting approvals"))?;
            let n = u64::try_from(n).unwrap_or_default();
            match status.as_str() {
                "pending" => c.pending += n,
                "consumed" => c.consumed += n,
                "expired" => c.expired += n,
                _ => c.invalid += n,
            }
        }
        Ok(c)
    }

    /// Records who acknowledged an approval, and when (D-2: persisted, no event).
    ///
    /// # Errors
    /// [`IrGovernanceError::ApprovalNotFound`], [`IrGovernanceError::Store`].
    pub async fn acknowledge(&self, tenant: &str, approval_id: &str, by: &str) -> Result<ApprovalView, IrGovernanceError> {
        let n = sqlx::query("UPDATE ir_approvals SET acknowledged_by = $1, acknowledged_at = $2 WHERE tenant = $3 AND approval_id = $4")
            .bind(by.to_owned())
            .bind(now_ms())
            .bind(tenant.to_owned())
            .bind(approval_id.to_owned())
            .execute(self.events.store().pool())
            .await
            .map_err(db("acknowledging an approval"))?
            .rows_affected();
        if n == 0 {
            return Err(IrGovernanceError::ApprovalNotFound(approval_id.to_owned()));
        }
        self.approval(tenant, approval_id).await
    }
}
