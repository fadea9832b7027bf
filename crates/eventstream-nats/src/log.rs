//! [`NatsLog`]: the [`EventLog`] contract on one JetStream stream plus its pending-ownership table.

use std::fmt;
use std::time::Duration;

use async_nats::jetstream::stream::{self, StorageType, Stream};
use async_nats::jetstream::{self, Context};
use async_nats::{Client, ConnectOptions};
use eventstream_core::{
    Capabilities, ConsumerName, Delivery, Event, EventLog, GroupInfo, GroupName, LogError, Position, Record, StartFrom, async_trait,
};
use tokio::sync::Mutex;

use crate::config::NatsConfig;
use crate::error::{TooFewNodes, bounded, invalid_position, is_too_few_nodes, storage, unavailable};
use crate::names::{consumer_name, events_subject, pending_all, pending_stream};
use crate::pending::{Pending, PendingTable};

mod append;
mod groups;
mod read;

/// An event log on NATS JetStream.
///
/// | Operation | JetStream |
/// |---|---|
/// | `append` of a batch | one publish per event with `Nats-Msg-Id` = event id and `Nats-Expected-Last-Sequence` chained from the previous event, each ack awaited |
/// | `append` of one event | one publish with `Nats-Msg-Id` (no expected sequence: one event is contiguous by itself, so concurrent writers never conflict) |
/// | `append_interleaved` (the outbox relay) | every event published with `Nats-Msg-Id` before the acks are awaited: one round trip per batch, in order, possibly interleaved with other writers |
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
/// writer got in first, nothing of the batch was stored and it is retried in full (so with several busy
/// writers a long batch can take several attempts; writers whose events are independent use
/// `append_interleaved`). Appends through one
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
        f.debug_struct("NatsLog")
            .field("url", &eventstream_core::redact::redact_url(&self.config.url))
            .field("stream", &self.config.stream)
            .finish_non_exhaustive()
    }
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
        let servers = config.servers().map_err(storage("checking the NATS log config"))?;
        let client = bounded("connecting to NATS", t, async {
            ConnectOptions::new()
                .connection_timeout(t)
                .request_timeout(Some(t))
                // Another member of the cluster is tried at once when the current one is lost: the pause
                // grows with the failed attempts to at most a second.
                .reconnect_delay_callback(|attempts| Duration::from_millis(100 * attempts.min(10) as u64))
                .connect(servers)
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
        let open = |what: &'static str, stream_config: stream::Config| {
            let js = js.clone();
            let replicas = config.replicas;
            async move {
                let name = stream_config.name.clone();
                bounded(what, limit, async {
                    js.get_or_create_stream(stream_config).await.map_err(|source| {
                        if is_too_few_nodes(&source) {
                            LogError::storage(what.to_owned(), TooFewNodes { stream: name, replicas, source })
                        } else {
                            LogError::unavailable(what.to_owned(), source)
                        }
                    })
                })
                .await
            }
        };
        let mut events = open("opening the event stream", events_config).await?;
        let table = open("opening the pending stream", table_config).await?;
        let info = events.info().await.map_err(unavailable("reading the event stream"))?;
        let replicas = info.config.num_replicas;
        if replicas != config.replicas {
            tracing::warn!(
                stream = %config.stream,
                existing = replicas,
                configured = config.replicas,
                "the stream exists with another replica count than nats_replicas; it keeps its own (change it with `nats stream edit`)"
            );
        }
        let last = info.state.last_sequence;
        let pending = PendingTable::new(js.clone(), table, config.stream.clone(), config.timeout, config.failover);
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

    async fn append_interleaved(&self, events: &[Event]) -> Result<Vec<Position>, LogError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let limit = self.call_bound() + self.config.timeout * u32::try_from(events.len()).unwrap_or(u32::MAX);
        bounded("appending", limit, self.append_interleaved_inner(events)).await
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
