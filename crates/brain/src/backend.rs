//! Picks and opens the event log the settings name. The only place that knows every backend.

use std::sync::Arc;

use anyhow::Context;
use eventstream_core::EventLog;

use crate::config::{DurabilitySetting, LogSettings, Settings};

/// Opens the configured event log and checks that it answers.
///
/// # Errors
/// The data directory cannot be created, the store cannot be opened, or the server is unreachable.
pub(crate) async fn open_log(settings: &Settings) -> anyhow::Result<Arc<dyn EventLog>> {
    let log: Arc<dyn EventLog> = match &settings.log {
        LogSettings::Embedded { durability } => {
            std::fs::create_dir_all(&settings.data_dir)
                .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
            let durability = match durability {
                DurabilitySetting::Full => eventstream_embedded::Durability::Full,
                DurabilitySetting::Normal => eventstream_embedded::Durability::Normal,
            };
            let opts = eventstream_embedded::EmbeddedOptions { durability, ..Default::default() };
            let log = eventstream_embedded::EmbeddedLog::open(settings.data_dir.clone(), opts)
                .await
                .with_context(|| format!("cannot open the embedded event log in {}", settings.data_dir.display()))?;
            Arc::new(log)
        }
        LogSettings::Redis { url, stream } => {
            let config = eventstream_redis::RedisConfig::new(url.clone()).with_stream(stream.clone());
            let log = eventstream_redis::RedisLog::connect(config).await.with_context(|| format!("cannot reach Redis at {url}"))?;
            Arc::new(log)
        }
        LogSettings::Nats { url, stream } => {
            let config = eventstream_nats::NatsConfig::new(url.clone(), stream.clone());
            let log = eventstream_nats::NatsLog::connect(config).await.with_context(|| format!("cannot reach NATS JetStream at {url}"))?;
            Arc::new(log)
        }
    };
    log.health().await.with_context(|| format!("the {} event log does not answer", log.backend()))?;
    Ok(log)
}

/// Connects the configured state store (migrations run at connect).
///
/// # Errors
/// The URL is invalid or the database unreachable.
pub(crate) async fn open_store(settings: &Settings) -> anyhow::Result<eventstream_sql::StateStore> {
    if settings.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
    }
    eventstream_sql::StateStore::connect(&settings.database_url)
        .await
        .with_context(|| format!("cannot open the state store {}", redact(&settings.database_url)))
}

/// The local outbox of `emit`: a SQLite file in the data dir, used when the state store is not local.
///
/// # Errors
/// The file cannot be created.
pub(crate) async fn open_local_outbox(
    settings: &Settings,
    store: &eventstream_sql::StateStore,
) -> anyhow::Result<Option<eventstream_sql::StateStore>> {
    if store.kind() == eventstream_sql::StoreKind::Sqlite {
        return Ok(None);
    }
    std::fs::create_dir_all(&settings.data_dir).with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
    let url = eventstream_sql::sqlite_url(&settings.data_dir.join("outbox.db"));
    Ok(Some(eventstream_sql::StateStore::connect(&url).await.context("cannot open the local outbox")?))
}

/// A URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Opens every backend the server runs on: the log, the state store, the local outbox and (Redis with a
/// retention limit) the stream trimmer.
///
/// # Errors
/// As [`open_log`], [`open_store`] and [`open_local_outbox`]; a trimmer that cannot be built.
pub(crate) async fn open_backends(settings: &Settings) -> anyhow::Result<brain_server::Backends> {
    let log = open_log(settings).await?;
    let store = open_store(settings).await?;
    let local_outbox = open_local_outbox(settings, &store).await?;
    let trimmer: Option<Arc<dyn eventstream::maintenance::StreamTrimmer>> = match &settings.log {
        LogSettings::Redis { url, stream } if settings.stream_max_len.is_some() || settings.stream_max_age.is_some() => {
            let log = eventstream_redis::RedisLog::new(eventstream_redis::RedisConfig::new(url.clone()).with_stream(stream.clone()))
                .with_context(|| format!("cannot prepare stream trimming on Redis at {}", redact(url)))?;
            let policy = eventstream_redis::Retention { max_len: settings.stream_max_len, max_age: settings.stream_max_age, force: false };
            Some(Arc::new(RedisTrimmer { log, policy }))
        }
        _ => {
            if settings.stream_max_len.is_some() || settings.stream_max_age.is_some() {
                tracing::warn!(backend = %log.backend(), "[retention] stream_max_len / stream_max_age apply to the redis backend only; ignored");
            }
            None
        }
    };
    // Key lookups get two connections of their own: a saturated main pool must not lock every client out.
    let auth_options = eventstream_sql::StoreOptions::default().max_connections(2).acquire_timeout(std::time::Duration::from_secs(5));
    let auth_store = eventstream_sql::StateStore::connect_with(&settings.database_url, auth_options)
        .await
        .with_context(|| format!("cannot open the key lookup pool on {}", redact(&settings.database_url)))?;
    Ok(brain_server::Backends { log, store, local_outbox, trimmer, auth_store: Some(auth_store) })
}

/// Stream trimming on Redis Streams by [`eventstream_redis::Retention`].
#[derive(Debug)]
struct RedisTrimmer {
    log: eventstream_redis::RedisLog,
    policy: eventstream_redis::Retention,
}

#[async_trait::async_trait]
impl eventstream::maintenance::StreamTrimmer for RedisTrimmer {
    async fn trim(&self) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        Ok(format!("{:?}", self.log.trim(&self.policy).await?))
    }
}
