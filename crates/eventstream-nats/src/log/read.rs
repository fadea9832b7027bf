//! Reading the event stream: positions from messages, direct gets by sequence, time search, `read` and `read_back`.

use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::stream::DirectGetErrorKind;
use chrono::{DateTime, Utc};
use eventstream_core::{Event, LogError, Position, Record, StartFrom};
use futures::StreamExt;
use tokio::time::Instant;

use super::NatsLog;
use crate::error::{bounded, unavailable};
use crate::pending::utc_from_nanos;

impl NatsLog {
    pub(super) fn record_from(&self, m: &jetstream::message::StreamMessage) -> Result<Record, LogError> {
        Ok(Record {
            position: Self::position(m.sequence)?,
            appended_at: utc_from_nanos(m.time.unix_timestamp_nanos()),
            event: Event::from_json_slice(&m.payload),
        })
    }

    /// `(first, last, messages)` of the event stream.
    pub(super) async fn state(&self) -> Result<(u64, u64, u64), LogError> {
        let info = self.events.get_info().await.map_err(unavailable("reading the event stream state"))?;
        Ok((info.state.first_sequence, info.state.last_sequence, info.state.messages))
    }

    /// The entry at `seq` or the first one after it.
    pub(super) async fn next_from(&self, seq: u64) -> Result<Option<jetstream::message::StreamMessage>, LogError> {
        match self.events.direct_get_next_for_subject(self.subject.clone(), Some(seq)).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok(None),
            Err(e) => Err(LogError::unavailable("reading the event stream", e)),
        }
    }

    /// The entry at exactly `seq`.
    pub(super) async fn at(&self, seq: u64) -> Result<Option<Record>, LogError> {
        match self.events.direct_get(seq).await {
            Ok(m) => Ok(Some(self.record_from(&m)?)),
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok(None),
            Err(e) => Err(LogError::unavailable("reading the event stream", e)),
        }
    }

    /// The first sequence appended at or after `t` (binary search over direct gets; append times grow
    /// with the sequence). Past the head: the sequence the next append will get.
    pub(super) async fn seq_at_time(&self, t: DateTime<Utc>) -> Result<u64, LogError> {
        let (first, last, _) = self.state().await?;
        let (mut lo, mut hi) = (first.max(1), last + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.next_from(mid).await? {
                None => hi = mid,
                Some(m) if utc_from_nanos(m.time.unix_timestamp_nanos()) >= t => hi = mid,
                Some(m) => lo = m.sequence + 1,
            }
        }
        Ok(lo)
    }

    /// The first sequence a read or a group starting at `from` gets.
    pub(super) async fn start_seq(&self, from: &StartFrom) -> Result<u64, LogError> {
        match from {
            StartFrom::Beginning => Ok(1),
            StartFrom::End => Ok(self.state().await?.1 + 1),
            StartFrom::After(p) => Ok(Self::parse_position(p)? + 1),
            StartFrom::Time(t) => self.seq_at_time(*t).await,
        }
    }

    /// Up to `max` entries from `seq` on.
    pub(super) async fn read_range(&self, mut seq: u64, max: usize) -> Result<Vec<Record>, LogError> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(m) = self.next_from(seq).await? else { break };
            seq = m.sequence + 1;
            out.push(self.record_from(&m)?);
        }
        Ok(out)
    }

    pub(super) async fn read_inner(&self, from: &StartFrom, max: usize, block: Duration) -> Result<Vec<Record>, LogError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = Instant::now() + block;
        // Subscribe before looking, so an append between the look and the wait still wakes us.
        let mut wake = if block.is_zero() {
            None
        } else {
            let sub = self.client.subscribe(self.subject.clone()).await.map_err(unavailable("subscribing to new events"))?;
            bounded("subscribing to new events", self.config.timeout, async {
                self.client.flush().await.map_err(unavailable("subscribing to new events"))
            })
            .await?;
            Some(sub)
        };
        let start = self.start_seq(from).await?;
        loop {
            let got = self.read_range(start, max).await?;
            let Some(sub) = wake.as_mut() else { return Ok(got) };
            if !got.is_empty() {
                return Ok(got);
            }
            match tokio::time::timeout_at(deadline, sub.next()).await {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return Ok(Vec::new()),
            }
        }
    }

    pub(super) async fn read_back_inner(&self, before: Option<&Position>, max: usize) -> Result<Vec<Record>, LogError> {
        let (first, last, messages) = self.state().await?;
        let mut seq = match before {
            Some(p) => (Self::parse_position(p)? - 1).min(last),
            None => last,
        };
        let mut out = Vec::new();
        if messages == 0 {
            return Ok(out);
        }
        while seq >= first.max(1) && out.len() < max {
            if let Some(r) = self.at(seq).await? {
                out.push(r);
            }
            seq -= 1;
        }
        Ok(out)
    }
}
