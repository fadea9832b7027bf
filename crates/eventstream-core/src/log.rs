//! The [`EventLog`] trait: the one extension point every backend implements.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Event;
use crate::error::{DecodeError, LogError};
use crate::id::{ConsumerName, GroupName, Position};

/// What a backend can do beyond the contract every backend keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// Events survive a restart of the process and of the backend.
    pub persistent: bool,
    /// Several processes can append and consume on the same log at once.
    pub multi_process: bool,
    /// The log is replicated across machines.
    pub replicated: bool,
    /// `read_group` and `read` wait on the server instead of polling.
    pub native_blocking: bool,
}

/// Where a group starts, or a range read begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFrom {
    /// The oldest retained event.
    Beginning,
    /// Only events appended from now on.
    End,
    /// The first event after this position (exclusive).
    After(Position),
    /// The first event appended at or after this instant.
    Time(DateTime<Utc>),
}

/// One entry read from the log.
#[derive(Debug, Clone)]
pub struct Record {
    /// Its position in the log.
    pub position: Position,
    /// When the log stored it.
    pub appended_at: DateTime<Utc>,
    /// The event, or why the stored entry cannot be decoded (an entry some other producer wrote). A
    /// consumer must dead-letter an undecodable entry, never stall on it or drop it silently.
    pub event: Result<Event, DecodeError>,
}

/// One entry handed to a consumer of a group: a [`Record`] plus how often it has been delivered.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The entry.
    pub record: Record,
    /// How many times this entry has been delivered to the group, this delivery included (at least 1).
    pub delivery_count: u32,
}

/// A consumer group's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupInfo {
    /// The group (= subscriber) name.
    pub name: GroupName,
    /// The last position handed out by `read_group`, if any.
    pub last_delivered: Option<Position>,
    /// Entries delivered but not yet acknowledged.
    pub pending: u64,
    /// Entries after `last_delivered` not yet delivered.
    pub undelivered: u64,
    /// Consumers that hold pending entries or have read recently.
    pub consumers: u64,
}

impl GroupInfo {
    /// Lag: entries the group has not acknowledged (pending + not yet delivered).
    pub fn lag(&self) -> u64 {
        self.pending + self.undelivered
    }
}

/// An append-only log of events with consumer-group delivery.
///
/// # Contract
///
/// Every backend keeps these rules; `eventstream-testkit`'s conformance suite checks one clause per
/// function against the real service.
///
/// 1. **Order.** [`append`](EventLog::append) stores a batch atomically and in order and returns one
///    position per event, strictly increasing in append order. Every reader sees entries in position order.
/// 2. **Durability.** When `append` returns `Ok`, the events are durable to the backend's documented
///    setting; a log reopened on the same storage sees them.
/// 3. **Groups.** A group is created with [`ensure_group`](EventLog::ensure_group) (idempotent: an existing
///    group keeps its position). [`read_group`](EventLog::read_group) hands each entry after the group's
///    position to exactly one consumer of the group, once, and makes it *pending* for that consumer.
///    Different groups are independent: each sees every entry. Reading an unknown group is
///    [`LogError::UnknownGroup`].
/// 4. **At-least-once.** A pending entry stays pending until [`ack`](EventLog::ack)ed. After
///    [`reclaim`](EventLog::reclaim) with `min_idle`, a pending entry that was delivered longer than
///    `min_idle` ago is delivered again (to the reclaiming consumer) with a higher delivery count. An acked
///    entry is never delivered to that group again, except after
///    [`set_group_position`](EventLog::set_group_position) moves the group back.
/// 5. **Idempotent ack.** Acking an entry twice, or one that was never pending, is not an error and
///    changes nothing; `ack` returns how many entries stopped being pending.
/// 6. **Resume.** A group's position and pending entries survive closing and reopening the log: a
///    restarted consumer gets its own pending entries from [`read_pending`](EventLog::read_pending) and
///    then continues where the group stopped.
/// 7. **Range reads.** [`read`](EventLog::read) returns entries from a position (exclusive) or a time
///    (inclusive, by append time) in order, without touching any group; with `block > 0` and nothing to
///    return it waits up to `block` for new entries.
/// 8. **Lag.** [`group_info`](EventLog::group_info) reports pending and undelivered counts; their sum is
///    the number of entries the group has not acknowledged.
/// 9. **Concurrency.** Concurrent appends from many tasks (and processes, where `multi_process`) lose
///    nothing and never interleave inside one batch.
/// 10. **Errors.** A failure to reach the backend is [`LogError::Unavailable`] and leaves no partial
///     batch behind; the same call can be retried.
#[async_trait]
pub trait EventLog: Send + Sync + fmt::Debug {
    /// The backend's name (`embedded`, `redis`, `nats`).
    fn backend(&self) -> &'static str;

    /// The name of the stream this log reads and writes (recorded with every dedup row).
    fn stream(&self) -> &str;

    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Appends a batch atomically and in order; returns one position per event.
    ///
    /// # Errors
    /// [`LogError::Unavailable`] when the backend cannot be reached, [`LogError::Encode`] when an event
    /// cannot be stored (too large for the backend).
    async fn append(&self, events: &[Event]) -> Result<Vec<Position>, LogError>;

    /// Appends events in this order without keeping them together: another writer's events may land
    /// between them (and an event retried through a failover may land after the ones sent behind it).
    /// For writers whose events are independent, such as the outbox relay, on a backend where keeping a
    /// batch contiguous costs round trips and conflicts between writers (NATS); the others keep the
    /// default, which is [`EventLog::append`]. Returns one position per event.
    ///
    /// # Errors
    /// As [`EventLog::append`]; on an error some of the events may be stored (a retry stores each once
    /// on backends that deduplicate by id, and consumers deduplicate by id in any case).
    async fn append_interleaved(&self, events: &[Event]) -> Result<Vec<Position>, LogError> {
        self.append(events).await
    }

    /// Creates the group at `start` unless it exists (then nothing changes).
    ///
    /// # Errors
    /// [`LogError::Unavailable`], or [`LogError::InvalidPosition`] for a position this backend cannot use.
    async fn ensure_group(&self, group: &GroupName, start: &StartFrom) -> Result<(), LogError>;

    /// Delivers up to `max` entries the group has not yet delivered to anyone, making them pending for
    /// `consumer`. Waits up to `block` when there is nothing to deliver.
    ///
    /// # Errors
    /// [`LogError::UnknownGroup`], [`LogError::Unavailable`].
    async fn read_group(&self, group: &GroupName, consumer: &ConsumerName, max: usize, block: Duration) -> Result<Vec<Delivery>, LogError>;

    /// Redelivers up to `max` of `consumer`'s own pending entries, oldest first (after a restart).
    ///
    /// # Errors
    /// [`LogError::UnknownGroup`], [`LogError::Unavailable`].
    async fn read_pending(&self, group: &GroupName, consumer: &ConsumerName, max: usize) -> Result<Vec<Delivery>, LogError>;

    /// Acknowledges entries of the group; returns how many stopped being pending.
    ///
    /// # Errors
    /// [`LogError::UnknownGroup`], [`LogError::Unavailable`], [`LogError::InvalidPosition`].
    async fn ack(&self, group: &GroupName, positions: &[Position]) -> Result<u64, LogError>;

    /// Moves up to `max` entries pending longer than `min_idle` (in any consumer) to `consumer` and
    /// delivers them again with their delivery count increased.
    ///
    /// # Errors
    /// [`LogError::UnknownGroup`], [`LogError::Unavailable`].
    async fn reclaim(&self, group: &GroupName, consumer: &ConsumerName, min_idle: Duration, max: usize) -> Result<Vec<Delivery>, LogError>;

    /// Reads up to `max` entries from `from` in order, outside any group. `StartFrom::End` returns only
    /// entries appended during the wait. Waits up to `block` when there is nothing to return.
    ///
    /// # Errors
    /// [`LogError::Unavailable`], [`LogError::InvalidPosition`].
    async fn read(&self, from: &StartFrom, max: usize, block: Duration) -> Result<Vec<Record>, LogError>;

    /// Reads up to `max` entries before `before` (exclusive; `None` = the newest), newest first.
    ///
    /// # Errors
    /// [`LogError::Unavailable`], [`LogError::InvalidPosition`].
    async fn read_back(&self, before: Option<&Position>, max: usize) -> Result<Vec<Record>, LogError>;

    /// The position of the newest entry, or `None` when the log is empty.
    ///
    /// # Errors
    /// [`LogError::Unavailable`].
    async fn head(&self) -> Result<Option<Position>, LogError>;

    /// Every group with its position, pending and undelivered counts.
    ///
    /// # Errors
    /// [`LogError::Unavailable`].
    async fn groups(&self) -> Result<Vec<GroupInfo>, LogError>;

    /// One group's state.
    ///
    /// # Errors
    /// [`LogError::UnknownGroup`], [`LogError::Unavailable`].
    async fn group_info(&self, group: &GroupName) -> Result<GroupInfo, LogError>;

    /// Moves the group to `start` (replay). Pending entries stay pending; entries after the new position
    /// are delivered again by `read_group`.
    ///
    /// # Errors
    /// [`LogError::UnknownGroup`], [`LogError::Unavailable`], [`LogError::InvalidPosition`].
    async fn set_group_position(&self, group: &GroupName, start: &StartFrom) -> Result<(), LogError>;

    /// Checks that the backend answers.
    ///
    /// # Errors
    /// [`LogError::Unavailable`] with the reason.
    async fn health(&self) -> Result<(), LogError>;
}

/// A decorator around another log, written as the few calls it changes: implement [`inner`]
/// (the log every call goes to) and override any of the hooks; a blanket impl makes every
/// `DelegatingLog` an [`EventLog`] whose other methods forward to the inner log unchanged.
///
/// [`inner`]: DelegatingLog::inner
#[async_trait]
pub trait DelegatingLog: Send + Sync + fmt::Debug {
    /// The log this one decorates.
    fn inner(&self) -> &dyn EventLog;

    /// [`EventLog::backend`]; the inner log's name unless overridden.
    fn backend_name(&self) -> &'static str {
        self.inner().backend()
    }

    /// [`EventLog::append`]; forwards unless overridden.
    ///
    /// # Errors
    /// As [`EventLog::append`].
    async fn on_append(&self, events: &[Event]) -> Result<Vec<Position>, LogError> {
        self.inner().append(events).await
    }

    /// [`EventLog::ack`]; forwards unless overridden.
    ///
    /// # Errors
    /// As [`EventLog::ack`].
    async fn on_ack(&self, group: &GroupName, positions: &[Position]) -> Result<u64, LogError> {
        self.inner().ack(group, positions).await
    }

    /// [`EventLog::health`]; forwards unless overridden.
    ///
    /// # Errors
    /// As [`EventLog::health`].
    async fn on_health(&self) -> Result<(), LogError> {
        self.inner().health().await
    }
}

#[async_trait]
impl<T: DelegatingLog> EventLog for T {
    fn backend(&self) -> &'static str {
        self.backend_name()
    }
    fn stream(&self) -> &str {
        self.inner().stream()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner().capabilities()
    }
    async fn append(&self, events: &[Event]) -> Result<Vec<Position>, LogError> {
        self.on_append(events).await
    }
    async fn ensure_group(&self, group: &GroupName, start: &StartFrom) -> Result<(), LogError> {
        self.inner().ensure_group(group, start).await
    }
    async fn read_group(&self, group: &GroupName, consumer: &ConsumerName, max: usize, block: Duration) -> Result<Vec<Delivery>, LogError> {
        self.inner().read_group(group, consumer, max, block).await
    }
    async fn read_pending(&self, group: &GroupName, consumer: &ConsumerName, max: usize) -> Result<Vec<Delivery>, LogError> {
        self.inner().read_pending(group, consumer, max).await
    }
    async fn ack(&self, group: &GroupName, positions: &[Position]) -> Result<u64, LogError> {
        self.on_ack(group, positions).await
    }
    async fn reclaim(&self, group: &GroupName, consumer: &ConsumerName, min_idle: Duration, max: usize) -> Result<Vec<Delivery>, LogError> {
        self.inner().reclaim(group, consumer, min_idle, max).await
    }
    async fn read(&self, from: &StartFrom, max: usize, block: Duration) -> Result<Vec<Record>, LogError> {
        self.inner().read(from, max, block).await
    }
    async fn read_back(&self, before: Option<&Position>, max: usize) -> Result<Vec<Record>, LogError> {
        self.inner().read_back(before, max).await
    }
    async fn head(&self) -> Result<Option<Position>, LogError> {
        self.inner().head().await
    }
    async fn groups(&self) -> Result<Vec<GroupInfo>, LogError> {
        self.inner().groups().await
    }
    async fn group_info(&self, group: &GroupName) -> Result<GroupInfo, LogError> {
        self.inner().group_info(group).await
    }
    async fn set_group_position(&self, group: &GroupName, start: &StartFrom) -> Result<(), LogError> {
        self.inner().set_group_position(group, start).await
    }
    async fn health(&self) -> Result<(), LogError> {
        self.on_health().await
    }
}
