//! Group state: delivery counts from `XPENDING`, group rows from `XINFO GROUPS`, [`GroupInfo`]s and the
//! exact undelivered count.

use eventstream_core::{GroupInfo, GroupName, LogError};
use redis::Value;

use super::RedisLog;
use super::conn::OpError;
use crate::reply::{self, GroupRow};
use crate::stream_id::StreamId;

impl RedisLog {
    /// `XPENDING` delivery counts for `ids` (one round trip).
    pub(super) async fn delivery_counts(&self, group: &GroupName, ids: &[StreamId]) -> Result<Vec<u32>, LogError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = redis::pipe();
        let g = self.redis_group_name(group);
        for id in ids {
            p.cmd("XPENDING").arg(self.key()).arg(&g).arg(id.to_string()).arg(id.to_string()).arg(1);
        }
        let rows: Vec<Value> = self
            .run("reading delivery counts", Some(group), true, |mut c| {
                let p = p.clone();
                async move { Ok(p.query_async::<Vec<Value>>(&mut c).await?) }
            })
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for row in rows {
            out.push(reply::pending_counts(row)?.first().map_or(1, |(_, n)| *n));
        }
        Ok(out)
    }

    /// Every group row of the stream (empty when the stream does not exist).
    pub(super) async fn group_rows(&self) -> Result<Vec<GroupRow>, LogError> {
        let key = self.key().to_owned();
        let r = self
            .run("listing consumer groups", None, true, |mut c| {
                let key = key.clone();
                async move {
                    match redis::cmd("XINFO").arg("GROUPS").arg(&key).query_async::<Value>(&mut c).await {
                        Ok(v) => Ok(Some(v)),
                        Err(e) if e.detail().is_some_and(|d| d.contains("no such key")) => Ok(None),
                        Err(e) => Err(OpError::Redis(e)),
                    }
                }
            })
            .await?;
        match r {
            Some(v) => Ok(reply::groups(v)?),
            None => Ok(Vec::new()),
        }
    }

    /// Turns group rows of our prefix into [`GroupInfo`]s, counting `undelivered` exactly.
    pub(super) async fn infos(&self, rows: Vec<GroupRow>) -> Result<Vec<GroupInfo>, LogError> {
        let prefix = self.inner.config.group_prefix.as_str();
        let ours: Vec<(GroupName, GroupRow)> = rows
            .into_iter()
            .filter_map(|row| {
                let name = row.name.strip_prefix(prefix)?.parse::<GroupName>().ok();
                if name.is_none() {
                    tracing::debug!(group = %row.name, "skipping a consumer group whose name is not a subscriber name");
                }
                name.map(|n| (n, row))
            })
            .collect();
        if ours.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = redis::pipe();
        for (_, row) in &ours {
            p.cmd("XPENDING").arg(self.key()).arg(&row.name);
        }
        let summaries: Vec<Value> = self
            .run("reading pending summaries", None, true, |mut c| {
                let p = p.clone();
                async move { Ok(p.query_async::<Vec<Value>>(&mut c).await?) }
            })
            .await?;
        let mut out = Vec::with_capacity(ours.len());
        for ((name, row), summary) in ours.into_iter().zip(summaries) {
            let summary = reply::pending_summary(summary)?;
            let pending_ahead = summary.max.is_some_and(|m| m > row.last_delivered);
            let undelivered = match row.lag {
                Some(lag) if !pending_ahead => lag,
                _ => self.count_undelivered(&name, &row).await?,
            };
            out.push(GroupInfo {
                name,
                last_delivered: (row.last_delivered != StreamId::ZERO).then(|| row.last_delivered.to_position()),
                pending: summary.count.max(row.pending),
                undelivered,
                consumers: row.consumers,
            });
        }
        Ok(out)
    }

    pub(super) async fn count_undelivered(&self, group: &GroupName, row: &GroupRow) -> Result<u64, LogError> {
        let script = &self.inner.undelivered_script;
        let (key, last, name) = (self.key().to_owned(), row.last_delivered.to_string(), row.name.clone());
        let n: i64 = self
            .run("counting undelivered entries", Some(group), true, |mut c| {
                let (key, last, name) = (key.clone(), last.clone(), name.clone());
                async move { Ok(script.key(key).arg(last).arg(name).invoke_async::<i64>(&mut c).await?) }
            })
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
