//! The audit subscriber (`audit_log`, patterns `*`): appends each event once, inside the inbox
//! transaction, and the checkpointer that signs every tree that grew, every 1,000 events or 1 s (by
//! default; [`super::AuditConfig`]), whichever comes first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use eventstream::store::Lease;
use eventstream::{Handler, HandlerContext, HandlerError, Subscription, SubscriptionOptions};
use eventstream_core::{Event, GroupName, StartFrom, TypePattern};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::AuditLog;
use super::error::AuditError;
use super::store;

/// The audit subscriber's name (its consumer group).
pub const AUDIT_SUBSCRIBER: &str = "audit_log";

/// The lease name of the audit checkpointer (one replica signs per interval).
pub const AUDIT_CHECKPOINT_JOB: &str = "eventstream.audit_checkpoints";

/// Events after which the checkpointer signs without waiting for the interval (the default of
/// [`super::AuditConfig::checkpoint_every`]).
pub const CHECKPOINT_EVERY: u64 = 1_000;

/// The longest time between an append and its checkpoint (the default of
/// [`super::AuditConfig::checkpoint_interval`]).
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Appends counted since the last checkpoint, and the checkpointer's wake-up.
#[derive(Debug)]
pub(crate) struct Pending {
    appended: AtomicU64,
    every: u64,
    wake: Notify,
}

impl Pending {
    /// Wakes the checkpointer after `every` appends (at least 1).
    pub(crate) fn new(every: u64) -> Self {
        Self { appended: AtomicU64::new(0), every: every.max(1), wake: Notify::new() }
    }

    pub(crate) fn note_append(&self) {
        if self.appended.fetch_add(1, Ordering::Relaxed) + 1 >= self.every {
            self.wake.notify_one();
        }
    }
}

struct AuditHandler {
    pending: Arc<Pending>,
}

#[async_trait::async_trait]
impl Handler for AuditHandler {
    async fn handle(&self, ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        match store::append(ctx.tx, event).await {
            Ok(Some(_)) => {
                self.pending.note_append();
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(AuditError::Store(e)) => Err(e.into()),
            Err(e) => Err(HandlerError::permanent(e)),
        }
    }
}

impl AuditLog {
    /// The audit subscriber: every event, in log order (concurrency 1), from the beginning of the log.
    ///
    /// # Errors
    /// Never in practice (the name is a valid group name).
    pub fn subscription(&self) -> Result<Subscription, eventstream_core::InvalidId> {
        let name: GroupName = AUDIT_SUBSCRIBER.parse()?;
        let options =
            SubscriptionOptions { concurrency: 1, batch_size: 256, start: StartFrom::Beginning, ..SubscriptionOptions::default() };
        Ok(Subscription::new(name, vec![TypePattern::all()], AuditHandler { pending: self.pending.clone() }).with_options(options))
    }

    /// Runs the checkpointer until `stop`: signs every tree that grew, at least every
    /// [`AuditConfig::checkpoint_interval`](super::AuditConfig::checkpoint_interval) and as soon as
    /// [`AuditConfig::checkpoint_every`](super::AuditConfig::checkpoint_every) events were appended. A
    /// last round runs on stop.
    pub fn spawn_checkpointer(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        self.spawn_checkpointer_leased(stop, None)
    }

    /// [`AuditLog::spawn_checkpointer`] for one of several replicas sharing the state store: a round
    /// runs only while this replica holds `lease` (taken or renewed before each round; build it with
    /// [`AUDIT_CHECKPOINT_JOB`] and a ttl of a few intervals), so the replicas sign once per interval
    /// between them. The audit rows themselves come from the audit subscriber on whichever replica
    /// processed the event; the lease holder signs every tree that grew. `None`: every round runs here.
    pub fn spawn_checkpointer_leased(&self, stop: CancellationToken, lease: Option<Lease>) -> tokio::task::JoinHandle<()> {
        let log = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(log.checkpoint_interval.max(Duration::from_millis(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut held = false;
            loop {
                let stopping = tokio::select! {
                    _ = tick.tick() => false,
                    () = log.pending.wake.notified() => false,
                    () = stop.cancelled() => true,
                };
                log.pending.appended.store(0, Ordering::Relaxed);
                let mine = match &lease {
                    None => true,
                    Some(_) if stopping => held,
                    Some(l) => match l.try_acquire().await {
                        Ok(ok) => ok,
                        Err(e) => {
                            tracing::warn!(error = %eventstream_core::error::Chain(&e), "cannot take the audit checkpoint lease");
                            false
                        }
                    },
                };
                held = mine;
                if mine && let Err(e) = log.checkpoint_now().await {
                    tracing::warn!(error = %eventstream_core::error::Chain(&e), "audit checkpoint failed");
                }
                if stopping {
                    if let (Some(l), true) = (&lease, held) {
                        let _ = l.release().await;
                    }
                    return;
                }
            }
        })
    }
}
