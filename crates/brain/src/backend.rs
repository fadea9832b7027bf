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
            prepare_data_dir(&settings.data_dir)?;
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
            let log =
                eventstream_redis::RedisLog::connect(config).await.with_context(|| format!("cannot reach Redis at {}", redact(url)))?;
            Arc::new(log)
        }
        LogSettings::Nats { url, stream, replicas } => {
            let mut config = eventstream_nats::NatsConfig::new(url.clone(), stream.clone());
            config.replicas = *replicas;
            let log = eventstream_nats::NatsLog::connect(config)
                .await
                .with_context(|| format!("cannot reach NATS JetStream at {}", redact(url)))?;
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
        prepare_data_dir(&settings.data_dir)?;
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
    prepare_data_dir(&settings.data_dir)?;
    let url = eventstream_sql::sqlite_url(&settings.data_dir.join("outbox.db"));
    Ok(Some(eventstream_sql::StateStore::connect(&url).await.context("cannot open the local outbox")?))
}

/// Creates the data dir owner-only (0700 on Unix) and tightens one that exists with group or other
/// access: the dir to 0700 and every file in it to 0600, with a warning naming what changed. The files
/// hold every tenant's events, state, key hashes and the audit signing key.
///
/// # Errors
/// The directory cannot be created or its mode cannot be changed.
pub(crate) fn prepare_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).with_context(|| format!("cannot create data dir {}", dir.display()))?;
    #[cfg(unix)]
    tighten(dir).with_context(|| format!("cannot restrict the data dir {} to its owner", dir.display()))?;
    Ok(())
}

/// Sets `dir` to 0700 and its files to 0600 where they allow group or other access.
#[cfg(unix)]
fn tighten(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let open = |mode: u32| mode & 0o077 != 0;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if open(mode) {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        tracing::warn!(dir = %dir.display(), was = format!("{:o}", mode & 0o777), "the data dir allowed group/other access; set to 0700");
    }
    let mut changed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_file() && open(meta.permissions().mode()) {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
            changed.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    if !changed.is_empty() {
        tracing::warn!(dir = %dir.display(), files = %changed.join(", "), "data files allowed group/other access; set to 0600");
    }
    Ok(())
}

/// A URL without its password or secret query parameters, for messages.
pub(crate) fn redact(url: &str) -> String {
    eventstream_core::redact::redact_url(url)
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
