//! Shared test scaffolding: the server URL, unique key prefixes that clean up after themselves, the
//! conformance suite's [`LogFactory`], and raw connections for writing entries the way other producers do.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use eventstream_core::EventLog;
use eventstream_redis::{RedisConfig, RedisLog};
use eventstream_testkit::LogFactory;

/// The Redis the tests run against.
pub(crate) fn redis_url() -> String {
    std::env::var("BRAIN_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Whether the shared Redis is reachable (panics under `CI=true` when it is not; skips loudly otherwise).
pub(crate) fn redis_available() -> bool {
    eventstream_testkit::require_service("redis", &redis_url())
}

/// A key prefix no other test uses; every key under it is deleted when this is dropped.
pub(crate) struct Prefix {
    pub(crate) prefix: String,
    url: String,
}

impl Prefix {
    pub(crate) fn new(what: &str) -> Self {
        Self::on(&redis_url(), what)
    }

    pub(crate) fn on(url: &str, what: &str) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self { prefix: format!("es-test:{what}:{}:", &id[..12]), url: url.to_owned() }
    }

    /// A config for a log under this prefix (plus `sub`, so one test can hold several logs).
    pub(crate) fn config(&self, sub: &str) -> RedisConfig {
        RedisConfig::new(self.url.clone()).with_key_prefix(format!("{}{sub}:", self.prefix))
    }

    pub(crate) fn log(&self, sub: &str) -> RedisLog {
        RedisLog::new(self.config(sub)).unwrap_or_else(|e| panic!("RedisLog::new: {e}"))
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        // Synchronous on purpose: runs on panic too, without needing the test's runtime.
        let Ok(client) = ::redis::Client::open(self.url.as_str()) else { return };
        let Ok(mut con) = client.get_connection_with_timeout(Duration::from_secs(2)) else { return };
        let pattern = format!("{}*", self.prefix);
        let keys: Vec<String> = match ::redis::cmd("KEYS").arg(&pattern).query(&mut con) {
            Ok(k) => k,
            Err(_) => return,
        };
        if !keys.is_empty() {
            let _: Result<i64, _> = ::redis::cmd("DEL").arg(&keys).query(&mut con);
        }
    }
}

/// The conformance suite's factory: a log name becomes part of the key prefix, so the same name reopens
/// the same stream and different names are isolated.
pub(crate) struct Factory {
    prefix: Prefix,
}

impl Factory {
    pub(crate) fn new() -> Self {
        Self { prefix: Prefix::new("conformance") }
    }
}

#[async_trait]
impl LogFactory for Factory {
    async fn open(&self, name: &str) -> Arc<dyn EventLog> {
        Arc::new(self.prefix.log(name))
    }
}

/// A raw async connection, to write and inspect entries without going through `RedisLog`.
pub(crate) async fn raw(url: &str) -> ::redis::aio::MultiplexedConnection {
    let client = ::redis::Client::open(url).unwrap_or_else(|e| panic!("client: {e}"));
    client.get_multiplexed_async_connection().await.unwrap_or_else(|e| panic!("raw connection to {url}: {e}"))
}

/// `XADD key * fields...` with raw bytes; returns the stream id.
pub(crate) async fn xadd_raw(con: &mut ::redis::aio::MultiplexedConnection, key: &str, fields: &[(&str, &[u8])]) -> String {
    let mut cmd = ::redis::cmd("XADD");
    cmd.arg(key).arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(*v);
    }
    cmd.query_async(con).await.unwrap_or_else(|e| panic!("XADD {key}: {e}"))
}

/// Bounded polling: the testkit's helper, under the name these tests use.
pub(crate) use eventstream_testkit::fixtures::eventually as poll;
