//! Consumer groups: the durable pull consumers, pulling deliveries, acks, reclaims and group infos.

use std::collections::HashSet;
use std::time::Duration;

use async_nats::RequestErrorKind;
use async_nats::jetstream;
use async_nats::jetstream::consumer::{self, AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use chrono::Utc;
use eventstream_core::{ConsumerName, Delivery, Event, GroupInfo, GroupName, LogError, Position, Record, StartFrom};
use futures::{StreamExt, TryStreamExt};

use super::NatsLog;
use crate::error::unavailable;
use crate::failover::Retry;
use crate::names::{consumer_name, group_of_consumer};
use crate::pending::{Holder, Pending, utc_from_nanos};

/// How many entries of one `ack` call are settled at once.
const ACK_CONCURRENCY: usize = 16;

impl NatsLog {
    pub(super) fn consumer_config(&self, group: &GroupName, deliver_policy: DeliverPolicy) -> pull::Config {
        pull::Config {
            durable_name: Some(consumer_name(group)),
            deliver_policy,
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.config.ack_wait,
            max_deliver: -1,
            max_ack_pending: -1,
            filter_subject: self.subject.clone(),
            ..Default::default()
        }
    }

    pub(super) async fn deliver_policy(&self, start: &StartFrom) -> Result<DeliverPolicy, LogError> {
        Ok(match start {
            StartFrom::Beginning => DeliverPolicy::All,
            StartFrom::End => DeliverPolicy::New,
            other => DeliverPolicy::ByStartSequence { start_sequence: self.start_seq(other).await? },
        })
    }

    /// The group's consumer info, or [`LogError::UnknownGroup`].
    pub(super) async fn consumer_info(&self, group: &GroupName) -> Result<consumer::Info, LogError> {
        match self.events.consumer_info(consumer_name(group)).await {
            Ok(info) => Ok(info),
            Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => Err(LogError::UnknownGroup(group.to_string())),
            Err(e) => Err(LogError::unavailable("reading a consumer group", e)),
        }
    }

    pub(super) async fn group_consumer(&self, group: &GroupName) -> Result<PullConsumer, LogError> {
        let info = self.consumer_info(group).await?;
        let config = self.consumer_config(group, info.config.deliver_policy);
        Ok(PullConsumer::new(config, info, self.js.clone()))
    }

    pub(super) async fn create_group(&self, group: &GroupName, start: &StartFrom) -> Result<(), LogError> {
        let config = self.consumer_config(group, self.deliver_policy(start).await?);
        self.events.create_consumer(config).await.map_err(unavailable("creating a consumer group"))?;
        Ok(())
    }

    /// Messages available now, up to `max`.
    pub(super) async fn fetch_now(consumer: &PullConsumer, max: usize) -> Result<Vec<jetstream::Message>, LogError> {
        let batch = consumer.fetch().max_messages(max).messages().await.map_err(unavailable("fetching from a consumer group"))?;
        batch.map_err(|e| LogError::unavailable("fetching from a consumer group", e)).try_collect().await
    }

    /// Up to `max` messages; when none is available, waits server-side up to `block` for one.
    pub(super) async fn pull(consumer: &PullConsumer, max: usize, block: Duration) -> Result<Vec<jetstream::Message>, LogError> {
        let mut got = Self::fetch_now(consumer, max).await?;
        if !got.is_empty() || block.is_zero() {
            return Ok(got);
        }
        // One message at most: the request stays open on the server until it expires, and whatever it
        // delivers is read here (never left behind on an abandoned inbox).
        let wait = consumer.batch().max_messages(1).expires(block).messages().await.map_err(unavailable("waiting on a consumer group"))?;
        let first: Vec<jetstream::Message> =
            wait.map_err(|e| LogError::unavailable("waiting on a consumer group", e)).try_collect().await?;
        got.extend(first);
        if !got.is_empty() && max > 1 {
            got.extend(Self::fetch_now(consumer, max - 1).await?);
        }
        Ok(got)
    }

    pub(super) async fn group_info_from(&self, group: &GroupName, info: &consumer::Info) -> Result<GroupInfo, LogError> {
        let held = self.pending.list(group).await?;
        let consumers: HashSet<&str> = held.iter().map(|p| p.holder.consumer.as_str()).collect();
        let delivered = info.delivered.stream_sequence;
        Ok(GroupInfo {
            name: group.clone(),
            last_delivered: if delivered > 0 { Some(Self::position(delivered)?) } else { None },
            pending: held.len() as u64,
            undelivered: info.num_pending,
            consumers: consumers.len() as u64,
        })
    }

    /// Deliveries of pending records (their entries read back from the stream); records whose entry is
    /// gone from the stream (retention) are dropped.
    pub(super) async fn deliveries(&self, group: &GroupName, held: Vec<(Pending, u32)>) -> Result<Vec<Delivery>, LogError> {
        let mut out = Vec::with_capacity(held.len());
        let mut first: Option<u64> = None;
        for (p, count) in held {
            match self.at(p.seq).await? {
                Some(record) => out.push(Delivery { record, delivery_count: count }),
                None => {
                    // A direct get may be answered by a replica that is still catching up after a restart:
                    // the record is dropped only when the stream's first sequence is past it (retention).
                    let first = match first {
                        Some(f) => f,
                        None => *first.insert(self.state().await?.0),
                    };
                    if p.seq < first {
                        self.pending.remove(group, p.seq).await?;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Confirms an ack with the server (double ack), retried through a failover. A delivery whose
    /// consumer is gone has nothing to ack; "no responders" while the consumer exists means its leader is
    /// being elected, so the ack is sent again.
    pub(super) async fn ack_delivery(&self, group: &GroupName, reply: &str) -> Result<(), LogError> {
        let mut retry = Retry::new(self.config.failover);
        loop {
            let request = async_nats::Request::new().payload("+ACK".into()).timeout(Some(self.config.timeout));
            let e = match self.client.send_request(reply.to_owned(), request).await {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            if e.kind() == RequestErrorKind::NoResponders && matches!(self.consumer_info(group).await, Err(LogError::UnknownGroup(_))) {
                return Ok(());
            }
            if !retry.again("acknowledging a delivery", &e).await {
                return Err(LogError::unavailable("acknowledging a delivery", e));
            }
        }
    }

    pub(super) async fn read_group_inner(
        &self,
        group: &GroupName,
        consumer: &ConsumerName,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, LogError> {
        let pull_consumer = self.group_consumer(group).await?;
        if max == 0 {
            return Ok(Vec::new());
        }
        let msgs = Self::pull(&pull_consumer, max, block).await?;
        let mut out = Vec::with_capacity(msgs.len());
        let mut holders = Vec::with_capacity(msgs.len());
        for m in msgs {
            let info = m.info().map_err(|e| LogError::storage("reading a delivery's metadata", e))?;
            let count = u32::try_from(info.delivered.max(1)).unwrap_or(u32::MAX);
            let record = Record {
                position: Self::position(info.stream_sequence)?,
                appended_at: utc_from_nanos(info.published.unix_timestamp_nanos()),
                event: Event::from_json_slice(&m.payload),
            };
            let reply = m.reply.as_ref().map(ToString::to_string).unwrap_or_default();
            holders.push((info.stream_sequence, Holder { consumer: consumer.to_string(), count, reply }));
            out.push(Delivery { record, delivery_count: count });
        }
        // If this fails the entries are delivered but not recorded: JetStream redelivers them after
        // `ack_wait` (at least once).
        self.pending.put_many(group, holders).await?;
        Ok(out)
    }

    pub(super) async fn ack_inner(&self, group: &GroupName, positions: &[Position]) -> Result<u64, LogError> {
        self.consumer_info(group).await?;
        let mut seen = HashSet::new();
        let mut seqs = Vec::with_capacity(positions.len());
        for p in positions {
            let seq = Self::parse_position(p)?;
            if seen.insert(seq) {
                seqs.push(seq);
            }
        }
        // Each entry is three requests (read its record, ack, purge); entries are settled concurrently,
        // each in that order, so a batch costs a few round trips instead of three per entry.
        let settled: Vec<u64> = futures::stream::iter(seqs)
            .map(|seq| async move {
                let Some(held) = self.pending.get(group, seq).await? else { return Ok(0) };
                if !held.holder.reply.is_empty() {
                    self.ack_delivery(group, &held.holder.reply).await?;
                }
                self.pending.remove(group, seq).await
            })
            .buffer_unordered(ACK_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(settled.into_iter().sum())
    }

    pub(super) async fn reclaim_inner(
        &self,
        group: &GroupName,
        consumer: &ConsumerName,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<Delivery>, LogError> {
        self.consumer_info(group).await?;
        let now = Utc::now();
        let mut taken = Vec::new();
        for p in self.pending.list(group).await? {
            if taken.len() >= max {
                break;
            }
            let idle = (now - p.delivered_at).to_std().unwrap_or(Duration::ZERO);
            if idle < min_idle {
                continue;
            }
            let holder = Holder { consumer: consumer.to_string(), count: p.holder.count.saturating_add(1), reply: p.holder.reply.clone() };
            if self.pending.replace(group, &p, &holder).await? {
                taken.push((p, holder.count));
            }
        }
        self.deliveries(group, taken).await
    }

    pub(super) async fn groups_inner(&self) -> Result<Vec<GroupInfo>, LogError> {
        let infos: Vec<consumer::Info> =
            self.events.consumers().map_err(|e| LogError::unavailable("listing consumer groups", e)).try_collect().await?;
        let mut out = Vec::new();
        for info in infos {
            if let Some(group) = group_of_consumer(&info.name) {
                out.push(self.group_info_from(&group, &info).await?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}
