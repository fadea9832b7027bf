//! The raw client path, measured by `brain bench --backend redis` next to [`crate::RedisLog`] so results
//! are ratios: the same entries (fields from [`redis_fields::encode`]) written with the same client
//! library (redis-rs, one multiplexed connection, which pipelines concurrent commands on its own), but
//! without what `RedisLog::append` adds: no `MULTI`/`EXEC`, no entry size check, no parsing of the
//! returned ids. One `XADD key * field value ...` per event; a batch is one pipeline (one round trip).

use eventstream_core::codec::redis_fields;
use eventstream_core::{Event, LogError};
use redis::aio::MultiplexedConnection;
use redis::{Client, Pipeline};

use crate::error::map_redis_error;

/// A raw connection to one stream key. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct RawStream {
    con: MultiplexedConnection,
    key: String,
}

impl std::fmt::Debug for RawStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawStream").field("key", &self.key).finish_non_exhaustive()
    }
}

fn add_xadd(p: &mut Pipeline, key: &str, event: &Event) {
    let c = p.cmd("XADD").arg(key).arg("*");
    for (k, v) in redis_fields::encode(event) {
        c.arg(k).arg(v);
    }
}

impl RawStream {
    /// Connects to `url` for the stream `key`.
    ///
    /// # Errors
    /// [`LogError::Unavailable`] or [`LogError::Storage`] when the URL is invalid or the server does
    /// not answer.
    pub async fn connect(url: &str, key: impl Into<String>) -> Result<Self, LogError> {
        let client = Client::open(url).map_err(|e| map_redis_error("opening a raw redis client", e))?;
        let con = client.get_multiplexed_async_connection().await.map_err(|e| map_redis_error("connecting a raw redis client", e))?;
        Ok(Self { con, key: key.into() })
    }

    /// The stream key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// One `XADD` (one round trip).
    ///
    /// # Errors
    /// The server's or the connection's error.
    pub async fn xadd(&self, event: &Event) -> Result<(), LogError> {
        let mut p = redis::pipe();
        add_xadd(&mut p, &self.key, event);
        p.exec_async(&mut self.con.clone()).await.map_err(|e| map_redis_error("raw XADD", e))
    }

    /// One `XADD` per event in one pipeline (one round trip, not atomic).
    ///
    /// # Errors
    /// The server's or the connection's error.
    pub async fn xadd_pipelined(&self, events: &[Event]) -> Result<(), LogError> {
        let mut p = redis::pipe();
        for e in events {
            add_xadd(&mut p, &self.key, e);
        }
        p.exec_async(&mut self.con.clone()).await.map_err(|e| map_redis_error("raw pipelined XADD", e))
    }

    /// One `XADD` per event inside `MULTI`/`EXEC`, in one pipeline (one round trip, atomic): the raw form
    /// of what `RedisLog::append` does for a batch, with the replies (the ids) read back.
    ///
    /// # Errors
    /// The server's or the connection's error.
    pub async fn xadd_atomic(&self, events: &[Event]) -> Result<Vec<redis::Value>, LogError> {
        let mut p = redis::pipe();
        p.atomic();
        for e in events {
            add_xadd(&mut p, &self.key, e);
        }
        p.query_async(&mut self.con.clone()).await.map_err(|e| map_redis_error("raw MULTI/EXEC XADD", e))
    }

    /// Deletes the stream key (with its consumer groups).
    ///
    /// # Errors
    /// The server's or the connection's error.
    pub async fn delete(&self) -> Result<(), LogError> {
        redis::cmd("DEL").arg(&self.key).exec_async(&mut self.con.clone()).await.map_err(|e| map_redis_error("deleting the stream", e))
    }
}
