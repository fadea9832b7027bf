//! The ledger: balance changes with their ledger line and event in one transaction.

use brain_events::EventPayload;
use brain_events::credits::{CreditsAllocated, CreditsConsumed, CreditsDepleted, CreditsHealthChecked, CreditsRefunded};
use eventstream::EventStream;
use eventstream::store::sqlx::{self, Row, any::AnyRow};
use eventstream::store::{StoreError, Tx};
use eventstream_core::Event;

use super::error::CreditsError;
use super::model::{Account, LedgerEntry, MAX_BALANCE_MILLI, Operation, credits};
use crate::page::Page;
use crate::sql::db;
use crate::web::{Origin, ms_to_secs, now_ms, now_secs};

/// The credits service.
#[derive(Debug)]
pub struct CreditsService {
    events: EventStream,
}

/// A balance change to make.
#[derive(Debug, Clone)]
pub(crate) struct Change<'a> {
    pub(crate) agent_id: &'a str,
    pub(crate) op: Operation,
    pub(crate) milli: i64,
    pub(crate) reason: &'a str,
    pub(crate) mission_id: Option<&'a str>,
}

impl CreditsService {
    /// The service over `events`.
    pub fn new(events: EventStream) -> Self {
        Self { events }
    }

    /// Reports a health check (`credits.health_checked`).
    pub async fn health(&self, origin: &Origin) -> f64 {
        let at = now_secs();
        self.events.emit(origin.stamp(CreditsHealthChecked { status: "ok".into(), checked_at: at }.to_event())).await;
        at
    }

    /// Allocates, consumes or refunds, with its ledger line and events, in one transaction.
    ///
    /// # Errors
    /// [`CreditsError::AccountNotFound`] (consume, refund), [`CreditsError::Insufficient`],
    /// [`CreditsError::RefundTooLarge`], [`CreditsError::BalanceLimit`], [`CreditsError::Store`].
    pub(crate) async fn change(&self, origin: &Origin, change: &Change<'_>) -> Result<Account, CreditsError> {
        let mut tx = self.events.store().begin().await?;
        let events = apply_in(&mut tx, origin, change).await?;
        self.events.outbox_in_tx(&mut tx, &events).await?;
        tx.commit().await?;
        self.events.wake_relay();
        self.account(origin.tenant(), change.agent_id).await
    }

    /// An agent's account.
    ///
    /// # Errors
    /// [`CreditsError::AccountNotFound`], [`CreditsError::Store`].
    pub async fn account(&self, tenant: &str, agent_id: &str) -> Result<Account, CreditsError> {
        let row = sqlx::query(
            "SELECT agent_id, balance, allocated, consumed, refunded, updated_at FROM credit_accounts WHERE tenant = $1 AND agent_id = $2",
        )
        .bind(tenant.to_owned())
        .bind(agent_id.to_owned())
        .fetch_optional(self.events.store().pool())
        .await
        .map_err(db("reading an account"))?;
        let row = row.ok_or_else(|| CreditsError::AccountNotFound(agent_id.to_owned()))?;
        Ok(account_from_row(&row)?)
    }

    /// The tenant's accounts.
    ///
    /// # Errors
    /// [`CreditsError::Store`].
    pub(crate) async fn accounts(&self, tenant: &str, page: Page) -> Result<(Vec<Account>, Option<String>), CreditsError> {
        let offset = page.after.unwrap_or(0);
        let rows = sqlx::query(
            "SELECT agent_id, balance, allocated, consumed, refunded, updated_at FROM credit_accounts WHERE tenant = $1 \
             ORDER BY agent_id LIMIT $2 OFFSET $3",
        )
        .bind(tenant.to_owned())
        .bind(page.fetch())
        .bind(offset)
        .fetch_all(self.events.store().pool())
        .await
        .map_err(db("listing accounts"))?;
        let mut accounts = rows.iter().map(account_from_row).collect::<Result<Vec<_>, _>>()?;
        // The cursor is the number of accounts before the next page.
        let next = page.finish(&mut accounts, |_| 0).map(|_| (offset + i64::from(page.limit)).to_string());
        Ok((accounts, next))
    }

    /// An account's ledger, newest first.
    ///
    /// # Errors
    /// [`CreditsError::AccountNotFound`], [`CreditsError::Store`].
    pub(crate) async fn history(
        &self,
        tenant: &str,
        agent_id: &str,
        page: Page,
    ) -> Result<(Vec<LedgerEntry>, Option<String>), CreditsError> {
        self.account(tenant, agent_id).await?;
        let rows = sqlx::query(
            "SELECT seq, kind, amount, balance_after, reason, mission_id, created_at FROM credit_ledger \
             WHERE tenant = $1 AND agent_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4",
        )
        .bind(tenant.to_owned())
        .bind(agent_id.to_owned())
        .bind(page.after.unwrap_or(i64::MAX))
        .bind(page.fetch())
        .fetch_all(self.events.store().pool())
        .await
        .map_err(db("reading a ledger"))?;
        rows.iter()
            .map(|r| -> Result<LedgerEntry, StoreError> {
                let e = || db("reading a ledger");
                let amount: i64 = r.try_get(2).map_err(e())?;
                let after: i64 = r.try_get(3).map_err(e())?;
                let at: i64 = r.try_get(6).map_err(e())?;
                Ok(LedgerEntry {
                    seq: r.try_get(0).map_err(e())?,
                    kind: r.try_get(1).map_err(e())?,
                    amount: credits(amount),
                    balance_after: credits(after),
                    reason: r.try_get(4).map_err(e())?,
                    mission_id: r.try_get(5).map_err(e())?,
                    created_at: ms_to_secs(at),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(CreditsError::from)
            .map(|mut entries| {
                // Newest first: the next page holds the entries before the last one here.
                let next = page.finish(&mut entries, |e| e.seq);
                (entries, next)
            })
    }
}

fn account_from_row(r: &AnyRow) -> Result<Account, StoreError> {
    let e = || db("reading an account");
    let balance: i64 = r.try_get(1).map_err(e())?;
    let allocated: i64 = r.try_get(2).map_err(e())?;
    let consumed: i64 = r.try_get(3).map_err(e())?;
    let refunded: i64 = r.try_get(4).map_err(e())?;
    let updated: i64 = r.try_get(5).map_err(e())?;
    Ok(Account {
        agent_id: r.try_get(0).map_err(e())?,
        balance: credits(balance),
        allocated: credits(allocated),
        consumed: credits(consumed),
        refunded: credits(refunded),
        updated_at: ms_to_secs(updated),
    })
}

/// Reads the balance and consumed-minus-refunded of an account inside `tx`.
async fn current(tx: &mut Tx, tenant: &str, agent_id: &str) -> Result<Option<(i64, i64)>, StoreError> {
    let row = sqlx::query("SELECT balance, consumed - refunded FROM credit_accounts WHERE tenant = $1 AND agent_id = $2")
        .bind(tenant.to_owned())
        .bind(agent_id.to_owned())
        .fetch_optional(tx.conn())
        .await
        .map_err(db("reading an account"))?;
    row.map(|r| Ok((r.try_get(0).map_err(db("reading an account"))?, r.try_get(1).map_err(db("reading an account"))?))).transpose()
}

/// Applies `change` inside `tx` (the caller's transaction: a request's, or a handler's inbox
/// transaction) and returns the events to write with it. Each operation is one conditional statement,
/// so concurrent changes cannot break the invariants (balance >= 0, refunds <= consumption).
///
/// # Errors
/// As [`CreditsService::change`]; nothing is written then.
pub(crate) async fn apply_in(tx: &mut Tx, origin: &Origin, change: &Change<'_>) -> Result<Vec<Event>, CreditsError> {
    let now = now_ms();
    let tenant = origin.tenant().to_owned();
    let agent = change.agent_id.to_owned();
    let amount = change.milli;
    let after: Option<i64> = match change.op {
        Operation::Allocate => sqlx::query(
            "INSERT INTO credit_accounts (tenant, agent_id, balance, allocated, consumed, refunded, created_at, updated_at) \
             VALUES ($1, $2, $3, $3, 0, 0, $4, $4) \
             ON CONFLICT (tenant, agent_id) DO UPDATE SET balance = credit_accounts.balance + excluded.balance, \
             allocated = credit_accounts.allocated + excluded.allocated, updated_at = excluded.updated_at \
             WHERE credit_accounts.balance <= $5 - excluded.balance \
             RETURNING balance",
        )
        .bind(tenant.clone())
        .bind(agent.clone())
        .bind(amount)
        .bind(now)
        .bind(MAX_BALANCE_MILLI)
        .fetch_optional(tx.conn())
        .await
        .map_err(db("allocating credits"))?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(db("allocating credits"))?,
        Operation::Consume => sqlx::query(
            "UPDATE credit_accounts SET balance = balance - $1, consumed = consumed + $2, updated_at = $3 \
             WHERE tenant = $4 AND agent_id = $5 AND balance >= $6 RETURNING balance",
        )
        .bind(amount)
        .bind(amount)
        .bind(now)
        .bind(tenant.clone())
        .bind(agent.clone())
        .bind(amount)
        .fetch_optional(tx.conn())
        .await
        .map_err(db("consuming credits"))?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(db("consuming credits"))?,
        Operation::Refund => sqlx::query(
            "UPDATE credit_accounts SET balance = balance + $1, refunded = refunded + $2, updated_at = $3 \
             WHERE tenant = $4 AND agent_id = $5 AND consumed - refunded >= $6 AND balance <= $7 RETURNING balance",
        )
        .bind(amount)
        .bind(amount)
        .bind(now)
        .bind(tenant.clone())
        .bind(agent.clone())
        .bind(amount)
        .bind(MAX_BALANCE_MILLI - amount)
        .fetch_optional(tx.conn())
        .await
        .map_err(db("refunding credits"))?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(db("refunding credits"))?,
    };
    let Some(after) = after else {
        let cur = current(tx, &tenant, &agent).await?;
        return Err(match (change.op, cur) {
            (Operation::Allocate, _) => CreditsError::BalanceLimit(agent),
            (_, None) => CreditsError::AccountNotFound(agent),
            (Operation::Consume, Some((balance, _))) => {
                CreditsError::Insufficient { agent_id: agent, balance: credits(balance), requested: credits(amount) }
            }
            (Operation::Refund, Some((balance, refundable))) if refundable >= amount => {
                let _ = balance;
                CreditsError::BalanceLimit(agent)
            }
            (Operation::Refund, Some((_, refundable))) => {
                CreditsError::RefundTooLarge { agent_id: agent, refundable: credits(refundable), requested: credits(amount) }
            }
        });
    };
    let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM credit_ledger WHERE tenant = $1 AND agent_id = $2")
        .bind(tenant.clone())
        .bind(agent.clone())
        .fetch_one(tx.conn())
        .await
        .and_then(|r| r.try_get(0))
        .map_err(db("writing the ledger"))?;
    sqlx::query(
        "INSERT INTO credit_ledger (tenant, agent_id, seq, kind, amount, balance_after, reason, mission_id, correlation_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(tenant)
    .bind(agent.clone())
    .bind(seq + 1)
    .bind(change.op.kind())
    .bind(amount)
    .bind(after)
    .bind(change.reason.to_owned())
    .bind(change.mission_id.map(str::to_owned))
    .bind(origin.correlation_id.clone())
    .bind(now)
    .execute(tx.conn())
    .await
    .map_err(db("writing the ledger"))?;

    let mission_id = change.mission_id.map(str::to_owned);
    let reason = change.reason.to_owned();
    let (amount_c, after_c) = (credits(amount), credits(after));
    let mut events = vec![
        origin.stamp(match change.op {
            Operation::Allocate => CreditsAllocated {
                agent_id: agent.clone(),
                amount: amount_c,
                balance_after: after_c,
                reason,
                mission_id: mission_id.clone(),
            }
            .to_event(),
            Operation::Consume => CreditsConsumed {
                agent_id: agent.clone(),
                amount: amount_c,
                balance_after: after_c,
                reason,
                mission_id: mission_id.clone(),
            }
            .to_event(),
            Operation::Refund => CreditsRefunded {
                agent_id: agent.clone(),
                amount: amount_c,
                balance_after: after_c,
                reason,
                mission_id: mission_id.clone(),
            }
            .to_event(),
        }),
    ];
    if change.op == Operation::Consume && after == 0 {
        events.push(
            origin.stamp(
                CreditsDepleted { agent_id: agent, amount: amount_c, balance_after: 0.0, reason: "balance_exhausted".into(), mission_id }
                    .to_event(),
            ),
        );
    }
    Ok(events)
}
