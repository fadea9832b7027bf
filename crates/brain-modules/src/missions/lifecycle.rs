//! Status changes and attempt outcomes: manual changes ([`MissionService::set_status`]), a worker's
//! success ([`MissionService::complete`]) and failure ([`MissionService::fail`]), and the one place that
//! writes a transition with its events.
//!
//! Event sequences (types, in log order) per mission:
//! - create: `mission.log_appended` ("Mission created"), `mission.created`, `task.created`;
//! - the worker takes it: `task.started`, `mission.log_appended`, `mission.status_changed`
//!   (PENDING -> RUNNING), `mission.started`;
//! - success: `task.completed`, `mission.log_appended`, `mission.status_changed` (-> COMPLETED),
//!   `mission.completed`;
//! - failure with a retry left: `task.failed` (`will_retry` true), `mission.log_appended`,
//!   `mission.status_changed` (RUNNING -> PENDING), `task.retrying`;
//! - failure without: `task.failed` (`will_retry` false), `mission.log_appended`, `mission.status_changed`
//!   (-> FAILED), `mission.failed`;
//! - worker lost (its lease expired, see [`super::queue`]): as a failure, with `error_type` `WorkerLost`
//!   and a `mission.status_changed` whose `reason` starts with `worker lost`;
//! - cancel: `mission.log_appended`, `mission.status_changed` (-> CANCELLED), `mission.cancelled`,
//!   `task.cancelled`;
//! - other manual status changes: `mission.log_appended`, `mission.status_changed`, and the legacy type
//!   of the new status where one exists (`mission.started/completed/failed`).
//!
//! Exactly once: every sequence is written in the transaction of its change, and a worker's outcome is
//! written only while its claim is still the mission's (same `claim_id`), so an attempt whose lease was
//! taken away (re-queued, cancelled, set by hand) records nothing: at most one `task.completed` per
//! mission, however workers die or stall.

use brain_events::EventPayload;
use brain_events::mission::{
    LegacyMissionStatus, MissionCancelled, MissionCompleted, MissionFailed, MissionLogAppended, MissionStarted, MissionStatus,
    MissionStatusChanged,
};
use brain_events::task::{TaskCancelled, TaskCompleted, TaskFailed, TaskRetrying};
use eventstream::store::sqlx::{self, Row};
use eventstream::store::{StoreError, Tx};
use eventstream_core::Event;
use serde_json::{Map, Value, json};

use super::error::MissionError;
use super::model::{LogEntry, Mission};
use super::queue::{Claimed, Lease, QUEUE_SEQ};
use super::service::MissionService;
use crate::sql::{db, next_counter};
use crate::web::{Origin, ms_to_secs, now_ms, now_secs};

/// How a transition changes the row besides the status.
pub(super) struct Change<'a> {
    pub(super) to: MissionStatus,
    pub(super) queued: bool,
    pub(super) queue_seq: i64,
    pub(super) retry_count: u32,
    pub(super) last_error: Option<&'a str>,
    pub(super) result: Option<&'a Value>,
    /// The claim the new state holds (set when a worker takes the mission; cleared otherwise).
    pub(super) lease: Option<&'a Lease>,
    /// Write only if the row still holds this claim (a worker's outcome).
    pub(super) if_claim: Option<&'a str>,
    /// Why the change happened, when nobody asked for it (goes into `mission.status_changed`).
    pub(super) reason: Option<&'a str>,
}

/// A failed attempt, as [`MissionService::fail_in`] records it.
pub(super) struct Failure<'a> {
    pub(super) error_type: &'a str,
    pub(super) error: &'a str,
    pub(super) duration_ms: f64,
    pub(super) reason: Option<&'a str>,
}

impl MissionService {
    /// Changes a mission's status by request, following the state machine. `RUNNING` takes it out of the
    /// queue (someone else executes it; no lease, so it is never recovered), `PENDING` queues it again.
    /// A worker holding the mission loses its claim: its outcome is then discarded.
    ///
    /// # Errors
    /// [`MissionError::NotFound`], [`MissionError::IllegalTransition`], [`MissionError::Concurrent`],
    /// [`MissionError::Store`].
    pub async fn set_status(&self, origin: &Origin, id: &str, to: MissionStatus) -> Result<Mission, MissionError> {
        let mut tx = self.store.begin().await?;
        let m = self.load(&mut tx, origin.tenant(), id).await?.ok_or_else(|| MissionError::NotFound(id.to_owned()))?;
        if !super::model::transition_allowed(m.status, to) {
            return Err(MissionError::IllegalTransition { id: id.to_owned(), from: m.status, to });
        }
        let queue_seq = if to == MissionStatus::Pending { next_counter(&mut tx, QUEUE_SEQ).await? } else { m.queue_seq };
        let mut out = Vec::new();
        let change = Change {
            to,
            queued: to == MissionStatus::Pending,
            queue_seq,
            retry_count: m.retry_count,
            last_error: m.last_error.as_deref(),
            result: m.result.as_ref(),
            lease: None,
            if_claim: None,
            reason: None,
        };
        let updated = self.transition_in(&mut tx, origin, &m, &change, &mut out).await?;
        if to == MissionStatus::Cancelled {
            out.push(cancelled_event(origin, &updated));
        }
        self.commit(tx, &out).await?;
        if to == MissionStatus::Pending {
            self.wake.notify_waiters();
        }
        Ok(updated)
    }

    /// Records a successful attempt: `COMPLETED` with the executor's result. Returns `false` (and writes
    /// nothing) when the claim is no longer the mission's (its lease expired and it was re-queued, or it
    /// was cancelled or set by hand).
    ///
    /// # Errors
    /// [`MissionError::Store`].
    pub async fn complete(&self, claimed: &Claimed, result: Value, duration_ms: f64) -> Result<bool, MissionError> {
        let m = &claimed.mission;
        let mut tx = self.store.begin().await?;
        let mut out =
            vec![
                claimed.origin.stamp(
                    TaskCompleted { task_id: m.id.clone(), mission_type: m.mission_type.clone(), duration_ms, completed_at: now_secs() }
                        .to_event(),
                ),
            ];
        let change = Change {
            to: MissionStatus::Completed,
            queued: false,
            queue_seq: m.queue_seq,
            retry_count: m.retry_count,
            last_error: m.last_error.as_deref(),
            result: Some(&result),
            lease: None,
            if_claim: Some(&claimed.lease.claim_id),
            reason: None,
        };
        match self.transition_in(&mut tx, &claimed.origin, m, &change, &mut out).await {
            Ok(_) => {}
            Err(MissionError::Concurrent(_)) => return Ok(false),
            Err(e) => return Err(e),
        }
        self.commit(tx, &out).await?;
        Ok(true)
    }

    /// Records a failed attempt: counts it, and either queues the mission again (same id, `PENDING`, at the
    /// end of its priority) or, when `retry_count > max_retries`, ends it `FAILED`. Returns `false` when
    /// the claim is no longer the mission's (as [`MissionService::complete`]).
    ///
    /// # Errors
    /// [`MissionError::Store`].
    pub async fn fail(&self, claimed: &Claimed, error_type: &str, error: &str, duration_ms: f64) -> Result<bool, MissionError> {
        let mut tx = self.store.begin().await?;
        let mut out = Vec::new();
        let failure = Failure { error_type, error, duration_ms, reason: None };
        let will_retry = match self.fail_in(&mut tx, claimed, &failure, &mut out).await {
            Ok(w) => w,
            Err(MissionError::Concurrent(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        self.commit(tx, &out).await?;
        if will_retry {
            self.wake.notify_waiters();
        }
        Ok(true)
    }

    /// Writes a failed attempt of `claimed` into `tx` and its events into `out`; returns whether the
    /// mission is queued again.
    ///
    /// # Errors
    /// [`MissionError::Concurrent`] when the claim is no longer the mission's; [`MissionError::Store`].
    pub(super) async fn fail_in(
        &self,
        tx: &mut Tx,
        claimed: &Claimed,
        failure: &Failure<'_>,
        out: &mut Vec<Event>,
    ) -> Result<bool, MissionError> {
        let m = &claimed.mission;
        let retry_count = m.retry_count + 1;
        let will_retry = retry_count <= m.max_retries;
        let now = now_secs();
        out.push(
            claimed.origin.stamp(
                TaskFailed {
                    task_id: m.id.clone(),
                    mission_type: m.mission_type.clone(),
                    error: failure.error.to_owned(),
                    error_type: failure.error_type.to_owned(),
                    retry_count,
                    max_retries: m.max_retries,
                    will_retry,
                    duration_ms: failure.duration_ms,
                    failed_at: now,
                }
                .to_event(),
            ),
        );
        let queue_seq = if will_retry { next_counter(tx, QUEUE_SEQ).await? } else { m.queue_seq };
        let change = Change {
            to: if will_retry { MissionStatus::Pending } else { MissionStatus::Failed },
            queued: will_retry,
            queue_seq,
            retry_count,
            last_error: Some(failure.error),
            result: None,
            lease: None,
            if_claim: Some(&claimed.lease.claim_id),
            reason: failure.reason,
        };
        self.transition_in(tx, &claimed.origin, m, &change, out).await?;
        if will_retry {
            out.push(
                claimed.origin.stamp(
                    TaskRetrying {
                        task_id: m.id.clone(),
                        mission_type: m.mission_type.clone(),
                        retry_count,
                        max_retries: m.max_retries,
                        next_attempt: retry_count + 1,
                        retried_at: now,
                    }
                    .to_event(),
                ),
            );
        }
        Ok(will_retry)
    }

    /// Writes a status change and its events (`mission.log_appended`, `mission.status_changed`, the legacy
    /// type of the new status) into `out`. Optimistic: the row must still have the status and retry count
    /// it was read with (and the claim, when [`Change::if_claim`] names one), or the result is
    /// [`MissionError::Concurrent`].
    pub(super) async fn transition_in(
        &self,
        tx: &mut Tx,
        origin: &Origin,
        m: &Mission,
        change: &Change<'_>,
        out: &mut Vec<Event>,
    ) -> Result<Mission, MissionError> {
        let now = now_ms();
        let result_text = change.result.map(Value::to_string);
        let done = sqlx::query(
            "UPDATE missions SET status = $1, queued = $2, queue_seq = $3, retry_count = $4, last_error = $5, result = $6, \
             updated_at = $7, lease_owner = $8, lease_until = $9, claim_id = $10 \
             WHERE tenant = $11 AND id = $12 AND status = $13 AND retry_count = $14 AND ($15 = '' OR claim_id = $15)",
        )
        .bind(change.to.as_str())
        .bind(i64::from(change.queued))
        .bind(change.queue_seq)
        .bind(i64::from(change.retry_count))
        .bind(change.last_error.map(str::to_owned))
        .bind(result_text)
        .bind(now)
        .bind(change.lease.map(|l| l.owner.clone()))
        .bind(change.lease.map(|l| l.until_ms))
        .bind(change.lease.map(|l| l.claim_id.clone()))
        .bind(origin.tenant().to_owned())
        .bind(m.id.clone())
        .bind(m.status.as_str())
        .bind(i64::from(m.retry_count))
        .bind(change.if_claim.unwrap_or("").to_owned())
        .execute(tx.conn())
        .await
        .map_err(db("updating a mission"))?;
        if done.rows_affected() == 0 {
            return Err(MissionError::Concurrent(m.id.clone()));
        }
        let mut updated = m.clone();
        updated.status = change.to;
        updated.queued = change.queued;
        updated.queue_seq = change.queue_seq;
        updated.retry_count = change.retry_count;
        updated.last_error = change.last_error.map(str::to_owned);
        updated.result = change.result.cloned();
        updated.updated_at = ms_to_secs(now);
        updated.lease_owner = change.lease.map(|l| l.owner.clone());
        updated.lease_until = change.lease.map(|l| ms_to_secs(l.until_ms));

        let mut details = json!({"from": m.status.as_str(), "to": change.to.as_str()});
        if let Some(reason) = change.reason {
            details["reason"] = Value::from(reason);
        }
        self.append_log_in(tx, origin, &m.id, &log_entry("Mission status changed", details), out).await?;
        out.push(
            origin.stamp(
                MissionStatusChanged {
                    mission_id: m.id.clone(),
                    old_status: m.status,
                    new_status: change.to,
                    changed_at: updated.updated_at,
                    reason: change.reason.map(str::to_owned),
                }
                .to_event(),
            ),
        );
        let (old_status, new_status) = (LegacyMissionStatus::from(m.status), LegacyMissionStatus::from(change.to));
        let mission_id = m.id.clone();
        let mission_name = m.name.clone();
        let error_message = if change.to == MissionStatus::Failed { updated.last_error.clone() } else { None };
        let legacy = match change.to {
            MissionStatus::Running => {
                Some(MissionStarted { mission_id, mission_name, old_status, new_status, result: None, error_message: None }.to_event())
            }
            MissionStatus::Completed => Some(
                MissionCompleted { mission_id, mission_name, old_status, new_status, result: updated.result.clone(), error_message: None }
                    .to_event(),
            ),
            MissionStatus::Failed => {
                Some(MissionFailed { mission_id, mission_name, old_status, new_status, result: None, error_message }.to_event())
            }
            MissionStatus::Cancelled => {
                Some(MissionCancelled { mission_id, mission_name, old_status, new_status, result: None, error_message: None }.to_event())
            }
            MissionStatus::Pending => None,
        };
        if let Some(e) = legacy {
            out.push(origin.stamp(e));
        }
        Ok(updated)
    }

    /// Inserts a log line and pushes its `mission.log_appended`.
    pub(super) async fn append_log_in(
        &self,
        tx: &mut Tx,
        origin: &Origin,
        mission_id: &str,
        entry: &LogEntry,
        out: &mut Vec<Event>,
    ) -> Result<(), MissionError> {
        let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM mission_logs WHERE tenant = $1 AND mission_id = $2")
            .bind(origin.tenant().to_owned())
            .bind(mission_id.to_owned())
            .fetch_one(tx.conn())
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db("appending to a mission log"))?;
        let at = entry.timestamp.unwrap_or_else(now_secs);
        sqlx::query(
            "INSERT INTO mission_logs (tenant, mission_id, seq, level, message, data, logged_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(origin.tenant().to_owned())
        .bind(mission_id.to_owned())
        .bind(seq + 1)
        .bind(entry.level.clone())
        .bind(entry.message.clone())
        .bind(Value::Object(entry.data.clone()).to_string())
        .bind(at)
        .execute(tx.conn())
        .await
        .map_err(db("appending to a mission log"))?;
        out.push(
            origin.stamp(
                MissionLogAppended {
                    mission_id: mission_id.to_owned(),
                    log_level: entry.level.clone(),
                    message: entry.message.clone(),
                    appended_at: at,
                }
                .to_event(),
            ),
        );
        Ok(())
    }

    /// Writes `events` into the outbox of `tx`, commits, and wakes the relay.
    pub(super) async fn commit(&self, mut tx: Tx, events: &[Event]) -> Result<(), StoreError> {
        self.events.outbox_in_tx(&mut tx, events).await?;
        tx.commit().await?;
        self.events.wake_relay();
        Ok(())
    }
}

/// An `info` log entry saying `message`, with `details` (an object) as its data.
pub(super) fn log_entry(message: &str, details: Value) -> LogEntry {
    let data = match details {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    LogEntry { timestamp: None, level: "info".into(), message: message.into(), data }
}

fn cancelled_event(origin: &Origin, m: &Mission) -> Event {
    origin.stamp(
        TaskCancelled {
            task_id: m.id.clone(),
            mission_type: Some(m.mission_type.clone()),
            reason: Some("cancelled by request".into()),
            cancelled_at: Some(m.updated_at),
        }
        .to_event(),
    )
}
