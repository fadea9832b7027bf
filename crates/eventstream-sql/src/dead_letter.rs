//! Dead letters: events a subscriber could not process, kept with everything needed to inspect, retry
//! or discard them.
//!
//! The original acknowledged permanent failures away with no trace. Here nothing leaves a subscriber
//! without either a `processed_events` row or a dead letter. A subscriber has at most one *open* dead
//! letter per event, that is per (tenant, event id) since ids are unique per tenant only (a partial unique
//! index on `status = 'open'`): a later failure of the same event
//! updates that row (attempts add up, last failure and error are replaced) instead of piling up copies.
//! Once retried or discarded the row stays as history, and a new failure opens a new row.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use eventstream_core::{DecodeError, Event, EventType, GroupName, Position, TenantId};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::error::StoreError;
use crate::row::{RowReader, to_ms};
use crate::store::{StateStore, Tx};

/// Stored errors are cut to this many characters; a dead letter names the failure, it is not a log.
pub const MAX_ERROR_CHARS: usize = 4000;

/// The id of a dead letter (its row id; ids only grow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct DeadLetterId(pub i64);

impl fmt::Display for DeadLetterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for DeadLetterId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(DeadLetterId)
    }
}

/// Why an event was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterKind {
    /// The handler failed transiently on every attempt up to the retry limit.
    TransientExhausted,
    /// The handler failed permanently (bad payload, a panic, a rejected write).
    Permanent,
    /// The log entry is not a decodable event.
    Undecodable,
}

/// The lifecycle of a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterStatus {
    /// Waiting for someone to look at it.
    Open,
    /// Handed back for another attempt.
    Retried,
    /// Dropped on purpose.
    Discarded,
}

macro_rules! wire_enum {
    ($ty:ident, $what:literal, $($variant:ident => $s:literal),+) => {
        impl $ty {
            /// The stored spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $s),+ }
            }
        }

        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($ty::$variant),)+
                    _ => Err(format!(concat!("is not a ", $what, " ({})"), [$($s),+].join(", "))),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(DeadLetterKind, "dead letter kind",
    TransientExhausted => "transient_exhausted", Permanent => "permanent", Undecodable => "undecodable");
wire_enum!(DeadLetterStatus, "dead letter status", Open => "open", Retried => "retried", Discarded => "discarded");

/// A failure to record as a dead letter. Build it with [`NewDeadLetter::for_event`] or
/// [`NewDeadLetter::undecodable`] and adjust fields (e.g. `first_failed_at` from the retry state).
/// A stored [`DeadLetter`] carries one as its `letter` (with the latest failure merged in).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewDeadLetter {
    /// The subscriber whose handler failed.
    pub subscriber: GroupName,
    /// The stream or log the entry was read from.
    pub stream_name: String,
    /// The entry's position in that log (of the latest failed delivery).
    pub stream_message_id: Position,
    /// The envelope id; for an entry that has none, `position:<stream_message_id>`.
    pub event_id: String,
    /// The event type, when the entry decoded.
    pub event_type: Option<EventType>,
    /// The envelope's tenant, when the entry decoded.
    pub tenant_id: Option<TenantId>,
    /// The canonical JSON envelope, or the raw entry as text when it does not decode.
    pub event: String,
    /// What went wrong (cut to [`MAX_ERROR_CHARS`]; in a stored letter, the latest error).
    pub error: String,
    /// Why it is dead-lettered (in a stored letter, the latest failure's kind).
    pub kind: DeadLetterKind,
    /// How many attempts this failure episode made (added to an open row's count; in a stored letter,
    /// the attempts over all failure episodes while open).
    pub attempts: u32,
    /// When the event first failed (kept from the open row when one exists).
    pub first_failed_at: DateTime<Utc>,
    /// When it last failed.
    pub last_failed_at: DateTime<Utc>,
}

impl NewDeadLetter {
    /// A dead letter for a decoded `event` that failed `attempts` times, the last time now.
    pub fn for_event(
        subscriber: &GroupName,
        stream_name: &str,
        position: &Position,
        event: &Event,
        kind: DeadLetterKind,
        error: impl Into<String>,
        attempts: u32,
    ) -> Self {
        Self {
            event_type: Some(event.event_type.clone()),
            tenant_id: event.tenant_id.clone(),
            attempts,
            ..Self::failed_now(subscriber, stream_name, position, event.id.as_str().to_owned(), event.to_json_string(), error.into(), kind)
        }
    }

    /// A dead letter for a log entry that is not a decodable event; `raw` is the entry as text and
    /// `error` says why it does not decode.
    pub fn undecodable(
        subscriber: &GroupName,
        stream_name: &str,
        position: &Position,
        raw: impl Into<String>,
        error: &DecodeError,
    ) -> Self {
        let event_id = format!("position:{position}");
        Self::failed_now(subscriber, stream_name, position, event_id, raw.into(), error.to_string(), DeadLetterKind::Undecodable)
    }

    /// One attempt that failed now, of an entry with no type or tenant known.
    fn failed_now(
        subscriber: &GroupName,
        stream_name: &str,
        position: &Position,
        event_id: String,
        event: String,
        error: String,
        kind: DeadLetterKind,
    ) -> Self {
        let now = Utc::now();
        Self {
            subscriber: subscriber.clone(),
            stream_name: stream_name.to_owned(),
            stream_message_id: position.clone(),
            event_id,
            event_type: None,
            tenant_id: None,
            event,
            error,
            kind,
            attempts: 1,
            first_failed_at: now,
            last_failed_at: now,
        }
    }
}

/// A stored dead letter: its id and status around the failure it records. In JSON the letter's fields
/// sit beside `id`, `status` and `resolved_at` (flattened).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    /// Its id.
    pub id: DeadLetterId,
    /// The failure: subscriber, entry, event, latest error and kind, attempts over all failure
    /// episodes while open, first and last failure.
    #[serde(flatten)]
    pub letter: NewDeadLetter,
    /// Open, retried or discarded.
    pub status: DeadLetterStatus,
    /// When it was retried or discarded.
    pub resolved_at: Option<DateTime<Utc>>,
}

impl DeadLetter {
    /// The stored event, decoded (to publish it again on retry).
    ///
    /// # Errors
    /// A [`DecodeError`] for an undecodable entry (or a stored envelope this version cannot read).
    pub fn decode_event(&self) -> Result<Event, DecodeError> {
        Event::from_json_slice(self.letter.event.as_bytes())
    }

    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let r = RowReader::new(row, "dead_letters");
        Ok(Self {
            id: DeadLetterId(r.id()),
            letter: NewDeadLetter {
                subscriber: r.parse("subscriber_name")?,
                stream_name: r.text("stream_name")?,
                stream_message_id: r.parse("stream_message_id")?,
                event_id: r.text("event_id")?,
                event_type: r.opt_parse("event_type")?,
                tenant_id: r.opt_parse("tenant_id")?,
                event: r.text("event")?,
                error: r.text("error")?,
                kind: r.parse("error_kind")?,
                attempts: r.count("attempts")?,
                first_failed_at: r.time("first_failed_at")?,
                last_failed_at: r.time("last_failed_at")?,
            },
            status: r.parse("status")?,
            resolved_at: r.opt_time("resolved_at")?,
        })
    }
}

/// Which dead letters [`StateStore::list_dead_letters`] returns: all conditions that are set must hold.
/// Results come in id order (oldest first), at most `limit`, after `after_id` (the last id of the
/// previous page).
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterFilter {
    /// Only this subscriber's.
    pub subscriber: Option<GroupName>,
    /// Only this event type.
    pub event_type: Option<EventType>,
    /// Only this tenant's (the API sets it from the caller's key; only admins leave it empty).
    pub tenant: Option<TenantId>,
    /// Only in this status.
    pub status: Option<DeadLetterStatus>,
    /// At most this many (capped at 1000).
    pub limit: u32,
    /// Only ids greater than this one.
    pub after_id: Option<DeadLetterId>,
}

impl Default for DeadLetterFilter {
    /// No condition, 100 results.
    fn default() -> Self {
        Self { subscriber: None, event_type: None, tenant: None, status: None, limit: 100, after_id: None }
    }
}

/// Dead letters of one subscriber, counted by status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetterCounts {
    /// The subscriber.
    pub subscriber: GroupName,
    /// Open dead letters.
    pub open: u64,
    /// Retried ones.
    pub retried: u64,
    /// Discarded ones.
    pub discarded: u64,
}

const COLUMNS: &str = "id, subscriber_name, stream_name, stream_message_id, event_id, event_type, tenant_id, event, \
                       error, error_kind, attempts, first_failed_at, last_failed_at, status, resolved_at";

pub(crate) async fn add(conn: &mut AnyConnection, dl: &NewDeadLetter) -> Result<DeadLetterId, StoreError> {
    let error: String = dl.error.chars().take(MAX_ERROR_CHARS).collect();
    let row = sqlx::query(
        "INSERT INTO dead_letters \
         (subscriber_name, stream_name, stream_message_id, event_id, event_type, tenant_id, event, error, \
          error_kind, attempts, first_failed_at, last_failed_at, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'open') \
         ON CONFLICT (subscriber_name, COALESCE(tenant_id, ''), event_id) WHERE status = 'open' DO UPDATE SET \
         stream_name = excluded.stream_name, stream_message_id = excluded.stream_message_id, \
         event_type = excluded.event_type, event = excluded.event, \
         error = excluded.error, error_kind = excluded.error_kind, \
         attempts = dead_letters.attempts + excluded.attempts, last_failed_at = excluded.last_failed_at \
         RETURNING id",
    )
    .bind(dl.subscriber.as_str())
    .bind(dl.stream_name.as_str())
    .bind(dl.stream_message_id.as_str())
    .bind(dl.event_id.as_str())
    .bind(dl.event_type.as_ref().map(EventType::as_str))
    .bind(dl.tenant_id.as_ref().map(TenantId::as_str))
    .bind(dl.event.as_str())
    .bind(error)
    .bind(dl.kind.as_str())
    .bind(i64::from(dl.attempts))
    .bind(to_ms(dl.first_failed_at))
    .bind(to_ms(dl.last_failed_at))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| StoreError::sqlx("recording a dead letter", e))?;
    let id = row.try_get::<i64, _>(0).map_err(|e| StoreError::corrupt("dead_letters", -1, "id", e.to_string()))?;
    Ok(DeadLetterId(id))
}

impl StateStore {
    /// Records a dead letter, or, when the subscriber already has an open one for this event, adds the
    /// attempts to it and replaces its last failure, error and kind. Returns the row's id.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn add_dead_letter(&self, dead_letter: &NewDeadLetter) -> Result<DeadLetterId, StoreError> {
        add(&mut *self.acquire().await?, dead_letter).await
    }

    /// Lists dead letters matching `filter`, in id order.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Query`], or [`StoreError::Corrupt`] for an unreadable row.
    pub async fn list_dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM dead_letters WHERE 1 = 1");
        let mut n = 0;
        let mut cond = |column: &str| {
            n += 1;
            sql.push_str(&format!(" AND {column} ${n}"));
        };
        // Only fixed column names and placeholders go into the text; every value is bound below, in the
        // same order.
        if filter.subscriber.is_some() {
            cond("subscriber_name =");
        }
        if filter.event_type.is_some() {
            cond("event_type =");
        }
        if filter.tenant.is_some() {
            cond("tenant_id =");
        }
        if filter.status.is_some() {
            cond("status =");
        }
        if filter.after_id.is_some() {
            cond("id >");
        }
        sql.push_str(&format!(" ORDER BY id LIMIT ${}", n + 1));

        let mut q = sqlx::query(AssertSqlSafe(sql));
        if let Some(s) = &filter.subscriber {
            q = q.bind(s.as_str());
        }
        if let Some(t) = &filter.event_type {
            q = q.bind(t.as_str());
        }
        if let Some(t) = &filter.tenant {
            q = q.bind(t.as_str());
        }
        if let Some(s) = filter.status {
            q = q.bind(s.as_str());
        }
        if let Some(id) = filter.after_id {
            q = q.bind(id.0);
        }
        q = q.bind(i64::from(filter.limit.min(1000)));
        let rows = q.fetch_all(&mut *self.acquire().await?).await.map_err(|e| StoreError::sqlx("listing dead letters", e))?;
        rows.iter().map(DeadLetter::from_row).collect()
    }

    /// One dead letter by id.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Query`], or [`StoreError::Corrupt`] for an unreadable row.
    pub async fn get_dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM dead_letters WHERE id = $1")))
            .bind(id.0)
            .fetch_optional(&mut *self.acquire().await?)
            .await
            .map_err(|e| StoreError::sqlx("reading a dead letter", e))?;
        row.as_ref().map(DeadLetter::from_row).transpose()
    }

    /// Marks an open dead letter as retried and returns it (with [`DeadLetter::decode_event`], the caller
    /// publishes the event again). Returns `None` when the id does not exist or is not open, so two
    /// concurrent retries of one dead letter cannot both succeed.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Query`], or [`StoreError::Corrupt`] for an unreadable row.
    pub async fn mark_dead_letter_retried(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> {
        self.resolve(id, DeadLetterStatus::Retried).await
    }

    /// Marks an open dead letter as discarded and returns it; `None` when the id does not exist or is not
    /// open.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Query`], or [`StoreError::Corrupt`] for an unreadable row.
    pub async fn discard_dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> {
        self.resolve(id, DeadLetterStatus::Discarded).await
    }

    async fn resolve(&self, id: DeadLetterId, status: DeadLetterStatus) -> Result<Option<DeadLetter>, StoreError> {
        let sql = format!("UPDATE dead_letters SET status = $2, resolved_at = $3 WHERE id = $1 AND status = 'open' RETURNING {COLUMNS}");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.0)
            .bind(status.as_str())
            .bind(to_ms(Utc::now()))
            .fetch_optional(&mut *self.acquire().await?)
            .await
            .map_err(|e| StoreError::sqlx("resolving a dead letter", e))?;
        row.as_ref().map(DeadLetter::from_row).transpose()
    }

    /// Dead letters counted by subscriber and status (subscribers in name order); only `tenant`'s when
    /// given.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Query`], or [`StoreError::Corrupt`] for an unreadable row.
    pub async fn dead_letter_counts(&self, tenant: Option<&TenantId>) -> Result<Vec<DeadLetterCounts>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows = match tenant {
            None => {
                sqlx::query(
                    "SELECT subscriber_name, status, COUNT(*) AS n FROM dead_letters \
                     GROUP BY subscriber_name, status ORDER BY subscriber_name",
                )
                .fetch_all(&mut *conn)
                .await
            }
            Some(t) => {
                sqlx::query(
                    "SELECT subscriber_name, status, COUNT(*) AS n FROM dead_letters WHERE tenant_id = $1 \
                     GROUP BY subscriber_name, status ORDER BY subscriber_name",
                )
                .bind(t.as_str())
                .fetch_all(&mut *conn)
                .await
            }
        }
        .map_err(|e| StoreError::sqlx("counting dead letters", e))?;
        let mut out: Vec<DeadLetterCounts> = Vec::new();
        for row in &rows {
            let r = RowReader::new(row, "dead_letters");
            let subscriber: GroupName = r.parse("subscriber_name")?;
            let status: DeadLetterStatus = r.parse("status")?;
            let n = u64::try_from(r.int("n")?).unwrap_or(0);
            // Rows come grouped by subscriber: start a new entry when the name changes.
            if out.last().is_none_or(|last| last.subscriber != subscriber) {
                out.push(DeadLetterCounts { subscriber, open: 0, retried: 0, discarded: 0 });
            }
            if let Some(entry) = out.last_mut() {
                match status {
                    DeadLetterStatus::Open => entry.open += n,
                    DeadLetterStatus::Retried => entry.retried += n,
                    DeadLetterStatus::Discarded => entry.discarded += n,
                }
            }
        }
        Ok(out)
    }
}

impl Tx {
    /// [`StateStore::add_dead_letter`] inside this transaction (e.g. together with clearing the retry
    /// state).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn add_dead_letter(&mut self, dead_letter: &NewDeadLetter) -> Result<DeadLetterId, StoreError> {
        add(self.conn(), dead_letter).await
    }
}
