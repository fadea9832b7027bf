//! [`NatsLog`]: the [`EventLog`] contract on one JetStream stream plus its pending-ownership table.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use async_nats::header::{NATS_EXPECTED_LAST_SEQUENCE, NATS_MESSAGE_ID};
use async_nats::jetstream::consumer::{self, AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::context::{ConsumerInfoErrorKind, PublishErrorKind};
use async_nats::jetstream::stream::{self, DirectGetErrorKind, StorageType, Stream};
use async_nats::jetstream::{self, Context};
use async_nats::{Client, ConnectOptions, HeaderMap, RequestErrorKind};
use chrono::{DateTime, Utc};
use eventstream_core::{
    Capabilities, ConsumerName, Delivery, Event, EventLog, GroupInfo, GroupName, LogError, Position, Record, StartFrom, async_trait,
};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::NatsConfig;
use crate::error::{bounded, invalid_position, storage, unavailable};
use crate::names::{consumer_name, events_subject, group_of_consumer, pending_all, pending_stream};
use crate::pending::{Holder, Pending, PendingTable, utc_from_nanos};

/// How often `append` retries after another writer appended in between (see [`NatsLog::append`]).
const APPEND_ATTEMPTS: usize = 8;
/// Room left for headers when checking an event against the server's `max_payload`.
const HEADER_ROOM: usize = 512;

/// An event log on NATS JetStream.
///
/// | Operation | JetStream |
/// |---|---|
/// | `append` | one publish per event with `Nats-Msg-Id` = event id and `Nats-Expected-Last-Sequence` chained from the previous event, each ack awaited |
/// | position | the stream sequence, in decimal |
/// | `read`, `read_back`, `head` | direct get (`allow_direct`) by sequence / next-by-subject, stream info; `read` waits on a core subscription to the events subject |
/// | group | a durable pull consumer named after the group (explicit ack, unlimited deliveries, long ack wait) |
/// | `read_group` | `fetch` (no wait), or a one-message pull request that expires after `block` |
/// | pending per consumer, `read_pending`, `reclaim` | the ownership table (`<stream>_pending`, see the `pending` module) |
/// | `ack` | double ack (ack with the server's confirmation) on the delivery's ack subject, then the table entry is purged |
/// | `set_group_position` | the consumer is deleted and recreated with the same name and a new deliver policy |
/// | `health` | a JetStream account-info request (`$JS.API.INFO`) |
///
/// # Batch atomicity
/// JetStream (the 2.9 server this is tested against, and 2.10) has no multi-message transaction. Every
/// event of a batch is published with `Nats-Expected-Last-Sequence` set to the sequence of the event
/// before it, so a batch is stored contiguously or the server rejects the rest of it: when another
/// writer got in first, nothing of the batch was stored and it is retried in full. Appends through one
/// handle are serialised by a lock, so tasks sharing a handle never conflict. What remains: when the
/// connection fails (or another process interleaves) in the middle of a batch, a prefix of it may be
/// stored. Retrying the same events stores the rest and not the prefix again (dedup on `Nats-Msg-Id`
/// within the duplicate window); consumers dedup on event id beyond it.
///
/// # Durability
/// `append` returns after the server acknowledged every event: stored in a file-backed stream (and on a
/// quorum of replicas when `replicas > 1`). The server's own `sync_interval` decides when that file is
/// fsynced.
///
/// # Per-consumer pending
/// JetStream's pending set belongs to the durable as a whole, so the pending entries of each consumer are
/// tracked in the ownership table. Its record timestamps are server time; `reclaim` compares them with
/// the local clock, so clock skew between this process and the server shifts `min_idle`.
pub struct NatsLog {
    config: NatsConfig,
    client: Client,
    js: Context,
    events: Stream,
    subject: String,
    pending: PendingTable,
    replicas: usize,
    /// The stream's last sequence as this handle knows it (`None`: ask the server). Held for a whole append.
    last_seq: Mutex<Option<u64>>,
}

impl fmt::Debug for NatsLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsLog").field("url", &self.config.url).field("stream", &self.config.stream).finish_non_exhaustive()
    }
}

/// Why one attempt at appending a batch stopped.
enum AttemptError {
    /// Another writer appended in between; `stored` events of this attempt were stored first.
    Conflict { stored: usize },
    /// Anything else.
    Failed(LogError),
}

impl NatsLog {
    /// Connects to `config.url` and opens the log, creating its streams when they do not exist.
    ///
    /// # Errors
    /// [`LogError::Storage`] for an invalid config or a server that refuses the streams,
    /// [`LogError::Unavailable`] when the server cannot be reached within `config.timeout`.
    pub async fn connect(config: NatsConfig) -> Result<Self, LogError> {
        config.validate().map_err(storage("checking the NATS log config"))?;
        let t = config.timeout;
        let client = bounded("connecting to NATS", t, async {
            ConnectOptions::new()
                .connection_timeout(t)
                .request_timeout(Some(t))
                .connect(config.url.as_str())
                .await
                .map_err(unavailable("connecting to NATS"))
        })
        .await?;
        Self::with_client(client, config).await
    }

    /// Opens the log over an existing connection, creating its streams when they do not exist.
    ///
    /// # Errors
    /// As [`NatsLog::connect`].
    pub async fn with_client(client: Client, config: NatsConfig) -> Result<Self, LogError> {
        config.validate().map_err(storage("checking the NATS log config"))?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(config.timeout);
        let subject = events_subject(&config.stream);
        let events_config = stream::Config {
            name: config.stream.clone(),
            subjects: vec![subject.clone()],
            storage: StorageType::File,
            num_replicas: config.replicas,
            duplicate_window: config.duplicate_window,
            allow_direct: true,
            ..Default::default()
        };
        let table_config = stream::Config {
            name: pending_stream(&config.stream),
            subjects: vec![pending_all(&config.stream)],
            storage: StorageType::File,
            num_replicas: config.replicas,
            max_messages_per_subject: 1,
            allow_direct: true,
            ..Default::default()
        };
        let limit = config.timeout * 2;
        let mut events = bounded("opening the event stream", limit, async {
            js.get_or_create_stream(events_config).await.map_err(unavailable("opening the event stream"))
        })
        .await?;
        let table = bounded("opening the pending stream", limit, async {
            js.get_or_create_stream(table_config).await.map_err(unavailable("opening the pending stream"))
        })
        .await?;
        let info = events.info().await.map_err(unavailable("reading the event stream"))?;
        let replicas = info.config.num_replicas;
        let last = info.state.last_sequence;
        let pending = PendingTable::new(js.clone(), table, config.stream.clone(), config.timeout);
        Ok(Self { config, client, js, events, subject, pending, replicas, last_seq: Mutex::new(Some(last)) })
    }

    /// Deletes the log's streams with every event, group and pending record (for tests and tear-down).
    ///
    /// # Errors
    /// [`LogError::Unavailable`] when the server cannot be reached.
    pub async fn destroy(&self) -> Result<(), LogError> {
        for name in [self.config.stream.clone(), pending_stream(&self.config.stream)] {
            self.js.delete_stream(&name).await.map_err(unavailable("deleting a stream"))?;
        }
        Ok(())
    }

    /// A generous bound for a call made of several requests.
    fn call_bound(&self) -> Duration {
        self.config.timeout * 6
    }

    fn position(seq: u64) -> Result<Position, LogError> {
        seq.to_string().parse().map_err(storage("formatting a position"))
    }

    fn parse_position(p: &Position) -> Result<u64, LogError> {
        match p.as_str().parse::<u64>() {
            Ok(0) => Err(invalid_position(p.as_str(), "JetStream sequences start at 1")),
            Ok(n) => Ok(n),
            Err(_) => Err(invalid_position(p.as_str(), "not a JetStream stream sequence")),
        }
    }

    fn record_from(&self, m: &jetstream::message::StreamMessage) -> Result<Record, LogError> {
        Ok(Record {
            position: Self::position(m.sequence)?,
            appended_at: utc_from_nanos(m.time.unix_timestamp_nanos()),
            event: Event::from_json_slice(&m.payload),
        })
    }

    /// `(first, last, messages)` of the event stream.
    async fn state(&self) -> Result<(u64, u64, u64), LogError> {
        let info = self.events.get_info().await.map_err(unavailable("reading the event stream state"))?;
        Ok((info.state.first_sequence, info.state.last_sequence, info.state.messages))
    }

    /// The entry at `seq` or the first one after it.
    async fn next_from(&self, seq: u64) -> Result<Option<jetstream::message::StreamMessage>, LogError> {
        match self.events.direct_get_next_for_subject(self.subject.clone(), Some(seq)).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok(None),
            Err(e) => Err(LogError::unavailable("reading the event stream", e)),
        }
    }

    /// The entry at exactly `seq`.
    async fn at(&self, seq: u64) -> Result<Option<Record>, LogError> {
        match self.events.direct_get(seq).await {
            Ok(m) => Ok(Some(self.record_from(&m)?)),
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok(None),
            Err(e) => Err(LogError::unavailable("reading the event stream", e)),
        }
    }

    /// The first sequence appended at or after `t` (binary search over direct gets; append times grow
    /// with the sequence). Past the head: the sequence the next append will get.
    async fn seq_at_time(&self, t: DateTime<Utc>) -> Result<u64, LogError> {
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
    async fn start_seq(&self, from: &StartFrom) -> Result<u64, LogError> {
        match from {
            StartFrom::Beginning => Ok(1),
            StartFrom::End => Ok(self.state().await?.1 + 1),
            StartFrom::After(p) => Ok(Self::parse_position(p)? + 1),
            StartFrom::Time(t) => self.seq_at_time(*t).await,
        }
    }

    /// Up to `max` entries from `seq` on.
    async fn read_range(&self, mut seq: u64, max: usize) -> Result<Vec<Record>, LogError> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(m) = self.next_from(seq).await? else { break };
            seq = m.sequence + 1;
            out.push(self.record_from(&m)?);
        }
        Ok(out)
    }

    fn consumer_config(&self, group: &GroupName, deliver_policy: DeliverPolicy) -> pull::Config {
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

    async fn deliver_policy(&self, start: &StartFrom) -> Result<DeliverPolicy, LogError> {
        Ok(match start {
            StartFrom::Beginning => DeliverPolicy::All,
            StartFrom::End => DeliverPolicy::New,
            other => DeliverPolicy::ByStartSequence { start_sequence: self.start_seq(other).await? },
        })
    }

    /// The group's consumer info, or [`LogError::UnknownGroup`].
    async fn consumer_info(&self, group: &GroupName) -> Result<consumer::Info, LogError> {
        match self.events.consumer_info(consumer_name(group)).await {
            Ok(info) => Ok(info),
            Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => Err(LogError::UnknownGroup(group.to_string())),
            Err(e) => Err(LogError::unavailable("reading a consumer group", e)),
        }
    }

    async fn group_consumer(&self, group: &GroupName) -> Result<PullConsumer, LogError> {
        let info = self.consumer_info(group).await?;
        let config = self.consumer_config(group, info.config.deliver_policy);
        Ok(PullConsumer::new(config, info, self.js.clone()))
    }

    async fn create_group(&self, group: &GroupName, start: &StartFrom) -> Result<(), LogError> {
        let config = self.consumer_config(group, self.deliver_policy(start).await?);
        self.events.create_consumer(config).await.map_err(unavailable("creating a consumer group"))?;
        Ok(())
    }

    /// Messages available now, up to `max`.
    async fn fetch_now(consumer: &PullConsumer, max: usize) -> Result<Vec<jetstream::Message>, LogError> {
        let batch = consumer.fetch().max_messages(max).messages().await.map_err(unavailable("fetching from a consumer group"))?;
        batch.map_err(|e| LogError::unavailable("fetching from a consumer group", e)).try_collect().await
    }

    /// Up to `max` messages; when none is available, waits server-side up to `block` for one.
    async fn pull(consumer: &PullConsumer, max: usize, block: Duration) -> Result<Vec<jetstream::Message>, LogError> {
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

    async fn group_info_from(&self, group: &GroupName, info: &consumer::Info) -> Result<GroupInfo, LogError> {
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
    async fn deliveries(&self, group: &GroupName, held: Vec<(Pending, u32)>) -> Result<Vec<Delivery>, LogError> {
        let mut out = Vec::with_capacity(held.len());
        for (p, count) in held {
            match self.at(p.seq).await? {
                Some(record) => out.push(Delivery { record, delivery_count: count }),
                None => {
                    self.pending.remove(group, p.seq).await?;
                }
            }
        }
        Ok(out)
    }

    /// Confirms an ack with the server (double ack). A delivery whose consumer is gone has nothing to ack.
    async fn ack_delivery(&self, reply: &str) -> Result<(), LogError> {
        let request = async_nats::Request::new().payload("+ACK".into()).timeout(Some(self.config.timeout));
        match self.client.send_request(reply.to_owned(), request).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == RequestErrorKind::NoResponders => Ok(()),
            Err(e) => Err(LogError::unavailable("acknowledging a delivery", e)),
        }
    }

    /// One attempt at storing `bodies` contiguously after `last`.
    async fn append_attempt(&self, bodies: &[(&str, Vec<u8>)], last: u64) -> Result<(Vec<u64>, u64), AttemptError> {
        let mut expected = last;
        let mut seqs = Vec::with_capacity(bodies.len());
        for (id, body) in bodies {
            let mut headers = HeaderMap::new();
            headers.insert(NATS_MESSAGE_ID, *id);
            headers.insert(NATS_EXPECTED_LAST_SEQUENCE, expected.to_string().as_str());
            let sent = bounded("publishing an event", self.config.timeout, async {
                self.js
                    .publish_with_headers(self.subject.clone(), headers, body.clone().into())
                    .await
                    .map_err(unavailable("publishing an event"))
            })
            .await
            .map_err(AttemptError::Failed)?;
            match sent.await {
                Ok(ack) => {
                    seqs.push(ack.sequence);
                    // A duplicate (a retried event) does not move the stream's last sequence.
                    if !ack.duplicate {
                        expected = ack.sequence;
                    }
                }
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => return Err(AttemptError::Conflict { stored: seqs.len() }),
                Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => {
                    return Err(AttemptError::Failed(LogError::Encode { id: (*id).to_owned(), reason: e.to_string() }));
                }
                Err(e) if e.kind() == PublishErrorKind::StreamNotFound => {
                    return Err(AttemptError::Failed(LogError::storage("publishing an event", e)));
                }
                Err(e) => return Err(AttemptError::Failed(LogError::unavailable("publishing an event", e))),
            }
        }
        Ok((seqs, expected))
    }

    async fn append_inner(&self, events: &[Event]) -> Result<Vec<Position>, LogError> {
        let max_payload = self.client.server_info().max_payload;
        let mut bodies = Vec::with_capacity(events.len());
        for e in events {
            let body =
                serde_json::to_vec(&e.to_json_value()).map_err(|err| LogError::Encode { id: e.id.to_string(), reason: err.to_string() })?;
            if max_payload > 0 && body.len() + HEADER_ROOM > max_payload {
                return Err(LogError::Encode {
                    id: e.id.to_string(),
                    reason: format!("{} bytes exceed the server's max_payload of {max_payload}", body.len()),
                });
            }
            bodies.push((e.id.as_str(), body));
        }
        let mut last = self.last_seq.lock().await;
        for _ in 0..APPEND_ATTEMPTS {
            let known = match *last {
                Some(n) => n,
                None => self.state().await?.1,
            };
            match self.append_attempt(&bodies, known).await {
                Ok((seqs, new_last)) => {
                    *last = Some(new_last);
                    return seqs.into_iter().map(Self::position).collect();
                }
                Err(AttemptError::Conflict { stored }) => {
                    if stored > 0 {
                        tracing::warn!(stream = %self.config.stream, stored, "another writer interleaved a batch; retrying it (stored events are deduplicated)");
                    }
                    *last = None;
                }
                Err(AttemptError::Failed(e)) => {
                    *last = None;
                    return Err(e);
                }
            }
        }
        Err(LogError::unavailable(
            "appending a batch",
            std::io::Error::other(format!("other writers kept appending in between for {APPEND_ATTEMPTS} attempts")),
        ))
    }

    async fn read_group_inner(
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

    async fn ack_inner(&self, group: &GroupName, positions: &[Position]) -> Result<u64, LogError> {
        self.consumer_info(group).await?;
        let mut seen = HashSet::new();
        let mut settled = 0;
        for p in positions {
            let seq = Self::parse_position(p)?;
            if !seen.insert(seq) {
                continue;
            }
            let Some(held) = self.pending.get(group, seq).await? else { continue };
            if !held.holder.reply.is_empty() {
                self.ack_delivery(&held.holder.reply).await?;
            }
            settled += self.pending.remove(group, seq).await?;
        }
        Ok(settled)
    }

    async fn reclaim_inner(
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

    async fn read_inner(&self, from: &StartFrom, max: usize, block: Duration) -> Result<Vec<Record>, LogError> {
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

    async fn read_back_inner(&self, before: Option<&Position>, max: usize) -> Result<Vec<Record>, LogError> {
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

    async fn groups_inner(&self) -> Result<Vec<GroupInfo>, LogError> {
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

#[async_trait]
impl EventLog for NatsLog {
    fn backend(&self) -> &'static str {
        "nats"
    }

    fn stream(&self) -> &str {
        &self.config.stream
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { persistent: true, multi_process: true, replicated: self.replicas > 1, native_blocking: true }
    }

    async fn append(&self, events: &[Event]) -> Result<Vec<Position>, LogError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let limit = self.call_bound() + self.config.timeout * u32::try_from(events.len()).unwrap_or(u32::MAX);
        bounded("appending", limit, self.append_inner(events)).await
    }

    async fn ensure_group(&self, group: &GroupName, start: &StartFrom) -> Result<(), LogError> {
        bounded("ensuring a group", self.call_bound(), async {
            match self.consumer_info(group).await {
                Ok(_) => return Ok(()),
                Err(LogError::UnknownGroup(_)) => {}
                Err(e) => return Err(e),
            }
            match self.create_group(group, start).await {
                Ok(()) => Ok(()),
                // Another process may have created it in between: then it exists and keeps its position.
                Err(e) => match self.consumer_info(group).await {
                    Ok(_) => Ok(()),
                    Err(_) => Err(e),
                },
            }
        })
        .await
    }

    async fn read_group(&self, group: &GroupName, consumer: &ConsumerName, max: usize, block: Duration) -> Result<Vec<Delivery>, LogError> {
        bounded("reading a group", self.call_bound() + block, self.read_group_inner(group, consumer, max, block)).await
    }

    async fn read_pending(&self, group: &GroupName, consumer: &ConsumerName, max: usize) -> Result<Vec<Delivery>, LogError> {
        bounded("reading pending entries", self.call_bound(), async {
            self.consumer_info(group).await?;
            let own: Vec<(Pending, u32)> = self
                .pending
                .list(group)
                .await?
                .into_iter()
                .filter(|p| p.holder.consumer == consumer.as_str())
                .take(max)
                .map(|p| {
                    let count = p.holder.count;
                    (p, count)
                })
                .collect();
            self.deliveries(group, own).await
        })
        .await
    }

    async fn ack(&self, group: &GroupName, positions: &[Position]) -> Result<u64, LogError> {
        bounded("acknowledging", self.call_bound(), self.ack_inner(group, positions)).await
    }

    async fn reclaim(&self, group: &GroupName, consumer: &ConsumerName, min_idle: Duration, max: usize) -> Result<Vec<Delivery>, LogError> {
        bounded("reclaiming", self.call_bound(), self.reclaim_inner(group, consumer, min_idle, max)).await
    }

    async fn read(&self, from: &StartFrom, max: usize, block: Duration) -> Result<Vec<Record>, LogError> {
        bounded("reading", self.call_bound() + block, self.read_inner(from, max, block)).await
    }

    async fn read_back(&self, before: Option<&Position>, max: usize) -> Result<Vec<Record>, LogError> {
        bounded("reading backwards", self.call_bound(), self.read_back_inner(before, max)).await
    }

    async fn head(&self) -> Result<Option<Position>, LogError> {
        bounded("reading the head", self.config.timeout, async {
            let (_, last, messages) = self.state().await?;
            if messages == 0 { Ok(None) } else { Self::position(last).map(Some) }
        })
        .await
    }

    async fn groups(&self) -> Result<Vec<GroupInfo>, LogError> {
        bounded("listing groups", self.call_bound(), self.groups_inner()).await
    }

    async fn group_info(&self, group: &GroupName) -> Result<GroupInfo, LogError> {
        bounded("reading a group", self.call_bound(), async {
            let info = self.consumer_info(group).await?;
            self.group_info_from(group, &info).await
        })
        .await
    }

    async fn set_group_position(&self, group: &GroupName, start: &StartFrom) -> Result<(), LogError> {
        bounded("moving a group", self.call_bound(), async {
            self.consumer_info(group).await?;
            let policy = self.deliver_policy(start).await?;
            self.events.delete_consumer(&consumer_name(group)).await.map_err(unavailable("moving a group (delete)"))?;
            let config = self.consumer_config(group, policy);
            self.events.create_consumer(config).await.map_err(unavailable("moving a group (create)"))?;
            Ok(())
        })
        .await
    }

    async fn health(&self) -> Result<(), LogError> {
        bounded("checking NATS", self.config.timeout, async {
            // The raw account-info request: the typed one in async-nats expects fields older servers lack.
            let reply = self.client.request("$JS.API.INFO", "".into()).await.map_err(unavailable("checking NATS (account info)"))?;
            let info: serde_json::Value = serde_json::from_slice(&reply.payload).map_err(storage("checking NATS (account info)"))?;
            match info.get("error") {
                None => Ok(()),
                Some(e) => Err(LogError::unavailable(
                    "checking NATS (account info)",
                    std::io::Error::other(format!("JetStream answered with an error: {e}")),
                )),
            }
        })
        .await
    }
}
