//! [`RedisLog`]: the [`EventLog`] contract on one Redis stream.
//!
//! | Contract operation | Redis |
//! |---|---|
//! | `append` | `MULTI`, one `XADD key * ...` per event (fields from [`redis_fields`]), `EXEC` (one event: a plain `XADD`) |
//! | `ensure_group` | `XGROUP CREATE key group <id> MKSTREAM`, `BUSYGROUP` ignored (and nothing else) |
//! | `read_group` | `XREADGROUP GROUP g c COUNT n BLOCK ms STREAMS key >` on a dedicated connection |
//! | `read_pending` | `XREADGROUP ... STREAMS key 0` + `XPENDING` for delivery counts, in one `MULTI` |
//! | `reclaim` | `XAUTOCLAIM` (cursor loop) + `XPENDING id id 1` for delivery counts |
//! | `ack` | `XACK` |
//! | `read` | `XRANGE (id + COUNT n` without waiting; `XREAD COUNT n BLOCK ms` on a dedicated connection |
//! | `read_back`, `head` | `XREVRANGE` |
//! | `groups`, `group_info` | `XINFO GROUPS` + `XPENDING` summary; a nil `lag` is counted by a script |
//! | `set_group_position` | `XGROUP SETID` |
//!
//! A group's start (`ensure_group`, `set_group_position`) is its last-delivered id: `0` for `Beginning`,
//! `$` for `End`, the position for `After`, and `<ms-1>-<2^64-1>` for `Time` (so delivery starts with
//! the first entry appended in or after that millisecond).
//!
//! # Connections
//! Non-blocking commands share one [`ConnectionManager`] (multiplexed, reconnects on its own after a
//! server restart). Blocking reads never run on it: a `BLOCK` would stall every command queued behind it.
//! They take a dedicated connection from a small pool, with a response timeout of `block +
//! block_margin` (redis-rs 1.x defaults to 500 ms, which would cut every long `BLOCK` short). Every call
//! is also bounded as a whole, so an unreachable server gives [`LogError::Unavailable`] quickly instead
//! of a hang. Nothing about a group's place lives in this process: positions and pending lists are on
//! the server, so a reconnected log continues exactly where the group stopped.
//!
//! # Durability
//! `append` returns when Redis has executed the `EXEC`; the events are as durable as the server's
//! persistence setting (`appendonly yes` + `appendfsync always` for no loss on a crash, `everysec` loses
//! at most about a second). A connection lost after `EXEC` was sent but before its answer arrived is
//! reported as `Unavailable` although the batch may be stored; a retry then appends it again with new
//! positions, which consumers absorb by deduplicating on the event id.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use eventstream_core::codec::redis_fields;
use eventstream_core::{
    Capabilities, ConsumerName, Delivery, Event, EventLog, GroupInfo, GroupName, LogError, Position, Record, StartFrom,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{Client, Script, Value};

use crate::config::RedisConfig;
use crate::error::{ConfigError, ReplyError, server_codes};
use crate::reply::{self, GroupRow, RawEntry};
use crate::retention::{Retention, TRIM_SCRIPT, TrimReport, UNDELIVERED_SCRIPT};
use crate::stream_id::{StreamId, exclusive_start};

mod conn;
mod groups;

/// At most this many `XAUTOCLAIM` round trips per `reclaim` call.
const MAX_AUTOCLAIM_ROUNDS: usize = 64;

/// An [`EventLog`] on a Redis stream. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct RedisLog {
    inner: Arc<Inner>,
}

struct Inner {
    config: RedisConfig,
    stream_key: String,
    client: Client,
    manager: ConnectionManager,
    blocking: Mutex<Vec<MultiplexedConnection>>,
    trim_script: Script,
    undelivered_script: Script,
}

impl std::fmt::Debug for RedisLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLog")
            .field("stream", &self.inner.stream_key)
            .field("group_prefix", &self.inner.config.group_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisLog {
    /// A log for `config` that connects lazily: no I/O happens here, the first call connects, and a
    /// server that is down now is simply [`LogError::Unavailable`] until it is back.
    ///
    /// Must be called inside a Tokio runtime (the connection manager spawns its reconnect task).
    ///
    /// # Errors
    /// [`ConfigError`] for an invalid setting or URL, or when called outside a Tokio runtime.
    pub fn new(config: RedisConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ConfigError::Invalid { setting: "runtime", reason: "RedisLog must be created inside a Tokio runtime" });
        }
        let client = Client::open(config.url.as_str()).map_err(ConfigError::Url)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(config.reconnect_retries)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), manager_config).map_err(ConfigError::Url)?;
        let stream_key = config.stream_key();
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                stream_key,
                client,
                manager,
                blocking: Mutex::new(Vec::new()),
                trim_script: Script::new(TRIM_SCRIPT),
                undelivered_script: Script::new(UNDELIVERED_SCRIPT),
            }),
        })
    }

    /// [`RedisLog::new`], then a `PING` so a wrong address is found at startup.
    ///
    /// # Errors
    /// [`LogError::Storage`] for a bad configuration, [`LogError::Unavailable`] when the server does not
    /// answer.
    pub async fn connect(config: RedisConfig) -> Result<Self, LogError> {
        let log = Self::new(config).map_err(|e| LogError::storage("configuring the redis event log", e))?;
        log.health().await?;
        Ok(log)
    }

    /// The configuration this log runs with.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    /// The Redis consumer group name of subscriber `group`: the configured prefix + the name.
    pub fn redis_group_name(&self, group: &GroupName) -> String {
        format!("{}{}", self.inner.config.group_prefix, group)
    }

    /// Applies a retention policy now; see [`crate::retention`] for why this never removes an entry a
    /// group still needs unless `force` is set.
    ///
    /// # Errors
    /// [`LogError::Unavailable`] when the server cannot be reached.
    pub async fn trim(&self, retention: &Retention) -> Result<TrimReport, LogError> {
        let max_len = retention.max_len.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let max_age = retention.max_age.map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let force = if retention.force { "1" } else { "0" };
        let key = self.inner.stream_key.clone();
        let script = &self.inner.trim_script;
        let v: Value = self
            .run("trimming the stream", None, false, |mut c| {
                let key = key.clone();
                async move { Ok(script.key(key).arg(max_len).arg(max_age).arg(force).invoke_async::<Value>(&mut c).await?) }
            })
            .await?;
        let parts = match v {
            Value::Array(a) => a,
            other => return Err(ReplyError::new("trim script", format!("expected an array, got {other:?}")).into()),
        };
        let removed = parts.first().and_then(reply::int).and_then(|i| u64::try_from(i).ok()).unwrap_or(0);
        let kept_from = parts.get(1).and_then(reply::text).filter(|s| !s.is_empty()).and_then(|s| Position::try_from(s).ok());
        let held_back_by = parts.get(2).and_then(reply::text).filter(|s| !s.is_empty());
        if let Some(g) = &held_back_by {
            tracing::info!(stream = %self.inner.stream_key, group = %g, "retention held back by a group that has not consumed older entries");
        }
        Ok(TrimReport { removed, kept_from, held_back_by })
    }

    fn key(&self) -> &str {
        &self.inner.stream_key
    }
}

fn to_deliveries(entries: Vec<RawEntry>, counts: &[u32]) -> Vec<Delivery> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| Delivery { record: e.into_record(), delivery_count: counts.get(i).copied().unwrap_or(1).max(1) })
        .collect()
}

fn block_ms(block: Duration) -> i64 {
    // BLOCK 0 means "forever" to Redis: a positive wait below a millisecond becomes one millisecond.
    // Redis reads the value as a signed 64-bit number.
    i64::try_from(block.as_millis()).unwrap_or(i64::MAX).max(1)
}

#[async_trait]
impl EventLog for RedisLog {
    fn backend(&self) -> &'static str {
        "redis"
    }

    fn stream(&self) -> &str {
        &self.inner.stream_key
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { persistent: true, multi_process: true, replicated: false, native_blocking: true }
    }

    async fn append(&self, events: &[Event]) -> Result<Vec<Position>, LogError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = redis::pipe();
        // One XADD is atomic on its own: MULTI/EXEC only for a batch (two commands and replies fewer).
        if events.len() > 1 {
            p.atomic();
        }
        for e in events {
            let fields = redis_fields::encode(e);
            let size: usize = fields.iter().map(|(k, v)| k.len() + v.len()).sum();
            if size > self.inner.config.max_entry_bytes {
                return Err(LogError::Encode {
                    id: e.id.to_string(),
                    reason: format!(
                        "encoded entry is {size} bytes, more than the configured maximum of {}",
                        self.inner.config.max_entry_bytes
                    ),
                });
            }
            let c = p.cmd("XADD").arg(self.key()).arg("*");
            for (k, v) in fields {
                c.arg(k).arg(v);
            }
        }
        // Not retried here: a lost answer may hide a stored batch; the caller decides (see module docs).
        let ids: Vec<Value> = self
            .run("appending events", None, false, |mut c| {
                // Borrowed, not cloned: a batch's pipeline holds every entry's bytes.
                let p = &p;
                async move { Ok(p.query_async::<Vec<Value>>(&mut c).await?) }
            })
            .await?;
        if ids.len() != events.len() {
            return Err(ReplyError::new("XADD", format!("{} ids for {} events", ids.len(), events.len())).into());
        }
        ids.iter()
            .map(|v| {
                let s = reply::text(v).ok_or_else(|| ReplyError::new("XADD", "an id is not a string"))?;
                let id: StreamId = s.parse().map_err(|_| ReplyError::new("XADD", format!("`{s}` is not a stream id")))?;
                Ok(id.to_position())
            })
            .collect()
    }

    async fn ensure_group(&self, group: &GroupName, start: &StartFrom) -> Result<(), LogError> {
        let id = exclusive_start(start)?;
        let (key, g) = (self.key().to_owned(), self.redis_group_name(group));
        self.run("creating a consumer group", None, true, |mut c| {
            let (key, g, id) = (key.clone(), g.clone(), id.clone());
            async move {
                match redis::cmd("XGROUP").arg("CREATE").arg(&key).arg(&g).arg(&id).arg("MKSTREAM").exec_async(&mut c).await {
                    Err(e) if server_codes(&e).iter().any(|c| c == "BUSYGROUP") => Ok(()),
                    other => Ok(other?),
                }
            }
        })
        .await
    }

    async fn read_group(&self, group: &GroupName, consumer: &ConsumerName, max: usize, block: Duration) -> Result<Vec<Delivery>, LogError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(self.redis_group_name(group)).arg(consumer.as_str()).arg("COUNT").arg(max);
        if !block.is_zero() {
            cmd.arg("BLOCK").arg(block_ms(block));
        }
        cmd.arg("STREAMS").arg(self.key()).arg(">");
        let v = if block.is_zero() {
            self.run("reading for a group", Some(group), false, |mut c| {
                let cmd = cmd.clone();
                async move { Ok(cmd.query_async::<Value>(&mut c).await?) }
            })
            .await?
        } else {
            self.run_blocking("reading for a group", Some(group), block, &cmd).await?
        };
        // Entries read with `>` are new to the group: this is their first delivery.
        Ok(to_deliveries(reply::read(v, "XREADGROUP")?, &[]))
    }

    async fn read_pending(&self, group: &GroupName, consumer: &ConsumerName, max: usize) -> Result<Vec<Delivery>, LogError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let g = self.redis_group_name(group);
        let mut p = redis::pipe();
        p.atomic();
        p.cmd("XREADGROUP").arg("GROUP").arg(&g).arg(consumer.as_str()).arg("COUNT").arg(max).arg("STREAMS").arg(self.key()).arg("0");
        p.cmd("XPENDING").arg(self.key()).arg(&g).arg("-").arg("+").arg(max).arg(consumer.as_str());
        let mut parts: Vec<Value> = self
            .run("reading pending entries", Some(group), true, |mut c| {
                let p = p.clone();
                async move { Ok(p.query_async::<Vec<Value>>(&mut c).await?) }
            })
            .await?;
        let (Some(pending), Some(entries)) = (parts.pop(), parts.pop()) else {
            return Err(ReplyError::new("XREADGROUP", "the transaction returned too few replies").into());
        };
        let entries = reply::read(entries, "XREADGROUP")?;
        let counts: std::collections::HashMap<StreamId, u32> = reply::pending_counts(pending)?.into_iter().collect();
        let counts: Vec<u32> = entries.iter().map(|e| counts.get(&e.id).copied().unwrap_or(1)).collect();
        Ok(to_deliveries(entries, &counts))
    }

    async fn ack(&self, group: &GroupName, positions: &[Position]) -> Result<u64, LogError> {
        if positions.is_empty() {
            return Ok(0);
        }
        let ids = positions.iter().map(|p| StreamId::from_position(p).map(|id| id.to_string())).collect::<Result<Vec<_>, _>>()?;
        let mut cmd = redis::cmd("XACK");
        cmd.arg(self.key()).arg(self.redis_group_name(group)).arg(&ids);
        let n: u64 = self
            .run("acknowledging entries", Some(group), true, |mut c| {
                let cmd = cmd.clone();
                async move { Ok(cmd.query_async::<u64>(&mut c).await?) }
            })
            .await?;
        // XACK on a missing group answers 0 instead of failing: tell the caller the group is unknown.
        if n < positions.len() as u64 {
            let g = self.redis_group_name(group);
            if !self.group_rows().await?.iter().any(|r| r.name == g) {
                return Err(LogError::UnknownGroup(group.to_string()));
            }
        }
        Ok(n)
    }

    async fn reclaim(&self, group: &GroupName, consumer: &ConsumerName, min_idle: Duration, max: usize) -> Result<Vec<Delivery>, LogError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let g = self.redis_group_name(group);
        let idle_ms = i64::try_from(min_idle.as_millis()).unwrap_or(i64::MAX);
        let mut cursor = StreamId::ZERO;
        let mut claimed: Vec<RawEntry> = Vec::new();
        let mut deleted: Vec<StreamId> = Vec::new();
        for _ in 0..MAX_AUTOCLAIM_ROUNDS {
            let want = max.saturating_sub(claimed.len() + deleted.len());
            if want == 0 {
                break;
            }
            let mut cmd = redis::cmd("XAUTOCLAIM");
            cmd.arg(self.key()).arg(&g).arg(consumer.as_str()).arg(idle_ms).arg(cursor.to_string()).arg("COUNT").arg(want);
            let v = self
                .run("reclaiming pending entries", Some(group), false, |mut c| {
                    let cmd = cmd.clone();
                    async move { Ok(cmd.query_async::<Value>(&mut c).await?) }
                })
                .await?;
            let r = reply::autoclaim(v)?;
            claimed.extend(r.claimed);
            deleted.extend(r.deleted);
            cursor = r.cursor;
            if cursor == StreamId::ZERO {
                break;
            }
        }
        if !deleted.is_empty() {
            tracing::warn!(stream = %self.key(), group = %g, count = deleted.len(), "pending entries were deleted from the stream before being processed");
        }
        let ids: Vec<StreamId> = claimed.iter().map(|e| e.id).collect();
        let counts = self.delivery_counts(group, &ids).await?;
        let mut out = to_deliveries(claimed, &counts);
        // Entries that vanished while pending are handed out as undecodable, so the consumer records them
        // (dead letter) instead of losing them without a trace. Redis already dropped them from the PEL.
        out.extend(deleted.into_iter().map(|id| Delivery { record: RawEntry { id, fields: None }.into_record(), delivery_count: 1 }));
        out.sort_by(|a, b| StreamId::from_position(&a.record.position).ok().cmp(&StreamId::from_position(&b.record.position).ok()));
        Ok(out)
    }

    async fn read(&self, from: &StartFrom, max: usize, block: Duration) -> Result<Vec<Record>, LogError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let start = exclusive_start(from)?;
        if block.is_zero() {
            if start == "$" {
                return Ok(Vec::new());
            }
            let mut cmd = redis::cmd("XRANGE");
            cmd.arg(self.key()).arg(format!("({start}")).arg("+").arg("COUNT").arg(max);
            let v = self
                .run("reading a range", None, true, |mut c| {
                    let cmd = cmd.clone();
                    async move { Ok(cmd.query_async::<Value>(&mut c).await?) }
                })
                .await?;
            return Ok(reply::range(v, "XRANGE")?.into_iter().map(RawEntry::into_record).collect());
        }
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT").arg(max).arg("BLOCK").arg(block_ms(block)).arg("STREAMS").arg(self.key()).arg(&start);
        let v = self.run_blocking("reading a range", None, block, &cmd).await?;
        Ok(reply::read(v, "XREAD")?.into_iter().map(RawEntry::into_record).collect())
    }

    async fn read_back(&self, before: Option<&Position>, max: usize) -> Result<Vec<Record>, LogError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let end = match before {
            Some(p) => format!("({}", StreamId::from_position(p)?),
            None => "+".to_owned(),
        };
        let mut cmd = redis::cmd("XREVRANGE");
        cmd.arg(self.key()).arg(end).arg("-").arg("COUNT").arg(max);
        let v = self
            .run("reading backwards", None, true, |mut c| {
                let cmd = cmd.clone();
                async move { Ok(cmd.query_async::<Value>(&mut c).await?) }
            })
            .await?;
        Ok(reply::range(v, "XREVRANGE")?.into_iter().map(RawEntry::into_record).collect())
    }

    async fn head(&self) -> Result<Option<Position>, LogError> {
        let mut cmd = redis::cmd("XREVRANGE");
        cmd.arg(self.key()).arg("+").arg("-").arg("COUNT").arg(1);
        let v = self
            .run("reading the head", None, true, |mut c| {
                let cmd = cmd.clone();
                async move { Ok(cmd.query_async::<Value>(&mut c).await?) }
            })
            .await?;
        Ok(reply::range(v, "XREVRANGE")?.first().map(|e| e.id.to_position()))
    }

    async fn groups(&self) -> Result<Vec<GroupInfo>, LogError> {
        let rows = self.group_rows().await?;
        self.infos(rows).await
    }

    async fn group_info(&self, group: &GroupName) -> Result<GroupInfo, LogError> {
        let g = self.redis_group_name(group);
        let rows: Vec<GroupRow> = self.group_rows().await?.into_iter().filter(|r| r.name == g).collect();
        self.infos(rows).await?.into_iter().next().ok_or_else(|| LogError::UnknownGroup(group.to_string()))
    }

    async fn set_group_position(&self, group: &GroupName, start: &StartFrom) -> Result<(), LogError> {
        let id = exclusive_start(start)?;
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg("SETID").arg(self.key()).arg(self.redis_group_name(group)).arg(&id);
        self.run("moving a consumer group", Some(group), true, |mut c| {
            let cmd = cmd.clone();
            async move { Ok(cmd.exec_async(&mut c).await?) }
        })
        .await
    }

    async fn health(&self) -> Result<(), LogError> {
        self.run("checking redis", None, true, |mut c| async move { Ok(redis::cmd("PING").exec_async(&mut c).await?) }).await
    }
}
