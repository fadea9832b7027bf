//! Connections: the shared [`ConnectionManager`] for non-blocking calls and the pool of dedicated
//! connections for blocking reads, each call bounded and its error mapped to a [`LogError`].

use std::future::Future;
use std::time::Duration;

use eventstream_core::{GroupName, LogError};
use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Cmd, RedisError, Value};

use super::RedisLog;
use crate::error::{ReplyError, TimedOut, is_connection_lost, is_nogroup, map_redis_error, server_codes};

/// What went wrong inside one bounded call, before it becomes a [`LogError`].
pub(super) enum OpError {
    Redis(RedisError),
    Reply(ReplyError),
    TimedOut(Duration),
}

impl From<RedisError> for OpError {
    fn from(e: RedisError) -> Self {
        OpError::Redis(e)
    }
}

impl From<ReplyError> for OpError {
    fn from(e: ReplyError) -> Self {
        OpError::Reply(e)
    }
}

impl RedisLog {
    /// The bound on one non-blocking call, reconnect attempts included.
    pub(super) fn call_bound(&self) -> Duration {
        let c = &self.inner.config;
        let attempts = u32::try_from(c.reconnect_retries).unwrap_or(u32::MAX).saturating_add(1);
        c.connect_timeout.saturating_mul(attempts).saturating_add(c.response_timeout).saturating_add(Duration::from_secs(1))
    }

    /// Runs `f` on the shared connection within [`Self::call_bound`], retrying once on a lost connection
    /// when `idempotent`, and maps the error.
    pub(super) async fn run<T, F, Fut>(
        &self,
        context: &'static str,
        group: Option<&GroupName>,
        idempotent: bool,
        f: F,
    ) -> Result<T, LogError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, OpError>>,
    {
        let bound = self.call_bound();
        let attempt = async {
            match f(self.inner.manager.clone()).await {
                Err(OpError::Redis(e)) if idempotent && is_connection_lost(&e) => f(self.inner.manager.clone()).await,
                other => other,
            }
        };
        match tokio::time::timeout(bound, attempt).await {
            Ok(r) => r.map_err(|e| self.log_error(context, group, e)),
            Err(_) => Err(self.log_error(context, group, OpError::TimedOut(bound))),
        }
    }

    pub(super) fn log_error(&self, context: &'static str, group: Option<&GroupName>, e: OpError) -> LogError {
        match e {
            OpError::Redis(e) => {
                if let Some(g) = group {
                    let missing_key = e.detail().is_some_and(|d| d.contains("requires the key to exist") || d.contains("no such key"));
                    if is_nogroup(&e) || missing_key || server_codes(&e).iter().any(|c| c == "UNBLOCKED") {
                        return LogError::UnknownGroup(g.to_string());
                    }
                }
                map_redis_error(context, e)
            }
            OpError::Reply(e) => e.into(),
            OpError::TimedOut(after) => LogError::unavailable(context, TimedOut { after }),
        }
    }

    /// Runs one blocking command on a dedicated connection whose response timeout exceeds `block`.
    pub(super) async fn run_blocking(
        &self,
        context: &'static str,
        group: Option<&GroupName>,
        block: Duration,
        cmd: &Cmd,
    ) -> Result<Value, LogError> {
        let c = &self.inner.config;
        let response_timeout = block.saturating_add(c.block_margin);
        let bound = response_timeout.saturating_add(c.connect_timeout.saturating_mul(2)).saturating_add(Duration::from_secs(1));
        let attempt = async {
            let (mut conn, reused) = match self.take_blocking() {
                Some(conn) => (conn, true),
                None => (self.open_blocking().await?, false),
            };
            conn.set_response_timeout(response_timeout);
            match cmd.query_async::<Value>(&mut conn).await {
                Ok(v) => {
                    self.return_blocking(conn);
                    Ok(v)
                }
                // A pooled connection may have died while idle (server restart): one fresh try.
                Err(e) if reused && is_connection_lost(&e) => {
                    let mut conn = self.open_blocking().await?;
                    conn.set_response_timeout(response_timeout);
                    let v = cmd.query_async::<Value>(&mut conn).await?;
                    self.return_blocking(conn);
                    Ok(v)
                }
                Err(e) => Err(OpError::Redis(e)),
            }
        };
        match tokio::time::timeout(bound, attempt).await {
            Ok(r) => r.map_err(|e| self.log_error(context, group, e)),
            Err(_) => Err(self.log_error(context, group, OpError::TimedOut(bound))),
        }
    }

    pub(super) fn take_blocking(&self) -> Option<MultiplexedConnection> {
        self.inner.blocking.lock().ok().and_then(|mut idle| idle.pop())
    }

    pub(super) fn return_blocking(&self, conn: MultiplexedConnection) {
        if let Ok(mut idle) = self.inner.blocking.lock()
            && idle.len() < self.inner.config.max_idle_blocking_connections
        {
            idle.push(conn);
        }
    }

    pub(super) async fn open_blocking(&self) -> Result<MultiplexedConnection, OpError> {
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.inner.config.connect_timeout))
            .set_response_timeout(Some(self.inner.config.response_timeout));
        Ok(self.inner.client.get_multiplexed_async_connection_with_config(&cfg).await?)
    }
}
