//! One typed, layered, validated configuration.
//!
//! Layers, later wins: defaults, `brain.toml` (or `--config FILE`), `BRAIN_*` environment variables,
//! command-line flags (clap reads the environment variables into the same fields as the flags). Unknown
//! keys in the file are errors; every value is checked before anything starts.
//!
//! ```toml
//! data_dir = "./brain-data"
//!
//! [server]
//! host = "127.0.0.1"
//! port = 8080
//! stream_max_lifetime_secs = 3600   # SSE streams and WebSockets end after this; clients reconnect
//!                              # (BRAIN_STREAM_MAX_LIFETIME_SECS)
//! allowed_hosts = ["brain.example.com"]   # Host names answered (421 otherwise); default localhost,
//!                              # 127.0.0.1, [::1] and the bind host; "*" any (BRAIN_ALLOWED_HOSTS, comma-separated)
//! header_read_timeout_secs = 10    # a request's headers must arrive within this
//! idle_timeout_secs = 60       # a connection silent this long is closed
//! request_timeout_secs = 30    # non-streaming requests answered within this (503 request_timeout)
//! max_connections = 1024       # open connections at most
//! max_streams_per_key = 8      # open SSE streams per key (429 too_many_streams beyond) ...
//! max_streams = 1000           # ... and in total
//! auth_failures_per_minute = 20    # failed key checks per client address, then 429 too_many_failures
//! tls_cert = "/etc/brain/cert.pem" # HTTPS with this chain and key (BRAIN_TLS_CERT, BRAIN_TLS_KEY)
//! tls_key = "/etc/brain/key.pem"
//!
//! [log]
//! backend = "embedded"          # or "redis" or "nats"
//! durability = "full"           # embedded: "full" (fsync per group commit) or "normal"
//! redis_url = "redis://127.0.0.1:6379"
//! nats_url = "nats://127.0.0.1:4222"      # backend = "nats": JetStream stream BRAIN_EVENTS by default;
//!                              # a cluster: "nats://n1:4222,nats://n2:4222,nats://n3:4222"
//! nats_replicas = 3            # stream (and pending table) replicas: 1 (default) to 5, at most the nodes
//! stream = "brain:events:stream"   # redis / nats only; an error with the embedded backend
//!
//! [database]
//! url = "postgres://user@host/db"   # default: sqlite://<data_dir>/state.db
//!
//! [api]
//! validation = "strict"        # strict | warn | off (BRAIN_VALIDATION)
//!
//! [modules]
//! mission_workers = 4
//! mission_max_retries = 3
//! executor_duration_ms = 50    # the built-in simulating executor
//! executor_failure_rate = 0.0
//! mission_lease_secs = 30      # a dead worker's missions are re-queued this long after its last renewal
//! metrics_interval_secs = 30
//! heartbeat_timeout_secs = 30
//!
//! [security.ir_approval_invalid_burst]   # one table per rule; see brain_modules::security::config
//! threshold = 5                # events of one tenant within the window that raise a system.alert
//! window_secs = 60             # one alert per rule, tenant and window
//! enabled = true
//!
//! [audit]                      # the verifiable audit log
//! key_file = "/etc/brain/audit.key"   # its signing key (BRAIN_AUDIT_KEY_FILE); default <data_dir>/audit.key,
//!                              # created at first start when missing
//! origin = "brain.local/audit" # first line of every checkpoint, and the key's name (BRAIN_AUDIT_ORIGIN)
//! checkpoint_every_events = 1000   # sign after this many appends ...
//! checkpoint_interval_ms = 1000    # ... or this long after an append, whichever comes first
//!
//! [telemetry]                  # span export, off by default (see config/telemetry.rs)
//! otlp_endpoint = "http://127.0.0.1:4318"   # OTLP/HTTP collector (BRAIN_OTLP_ENDPOINT)
//! service_name = "brain"       # (BRAIN_SERVICE_NAME)
//!
//! [retention]
//! dedup_days = 30              # inbox rows kept this long (BRAIN_DEDUP_RETENTION_DAYS)
//! stream_max_len = 1000000     # redis: trim beyond this many entries ...
//! stream_max_age_days = 90     # ... or this age; never an entry a consumer group still needs
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::cli::LogArgs;

mod listen;
pub(crate) mod telemetry;

/// The default data directory, relative to the working directory.
pub(crate) const DEFAULT_DATA_DIR: &str = "./brain-data";
/// The default listen address.
pub(crate) const DEFAULT_HOST: &str = "127.0.0.1";
/// The default listen port.
pub(crate) const DEFAULT_PORT: u16 = 8080;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    #[serde(default)]
    server: FileServer,
    #[serde(default)]
    log: FileLog,
    #[serde(default)]
    database: FileDatabase,
    #[serde(default)]
    retention: FileRetention,
    #[serde(default)]
    api: FileApi,
    #[serde(default)]
    modules: FileModules,
    #[serde(default)]
    security: brain_modules::security::SecuritySettings,
    #[serde(default)]
    audit: FileAudit,
    #[serde(default)]
    telemetry: telemetry::FileTelemetry,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAudit {
    key_file: Option<PathBuf>,
    origin: Option<String>,
    checkpoint_every_events: Option<u64>,
    checkpoint_interval_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModules {
    mission_workers: Option<usize>,
    mission_max_retries: Option<u32>,
    executor_duration_ms: Option<u64>,
    executor_failure_rate: Option<f64>,
    mission_lease_secs: Option<u64>,
    metrics_interval_secs: Option<u64>,
    heartbeat_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileApi {
    validation: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRetention {
    dedup_days: Option<u64>,
    stream_max_len: Option<u64>,
    stream_max_age_days: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDatabase {
    url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileServer {
    host: Option<String>,
    port: Option<u16>,
    stream_max_lifetime_secs: Option<u64>,
    // Listener keys, resolved by `listen::resolve`.
    allowed_hosts: Option<Vec<String>>,
    header_read_timeout_secs: Option<u64>,
    idle_timeout_secs: Option<u64>,
    request_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    max_streams_per_key: Option<usize>,
    max_streams: Option<usize>,
    auth_failures_per_minute: Option<u32>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLog {
    backend: Option<String>,
    durability: Option<String>,
    redis_url: Option<String>,
    nats_url: Option<String>,
    nats_replicas: Option<usize>,
    stream: Option<String>,
}

/// How durable an embedded append is when it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DurabilitySetting {
    /// fsync on every (group) commit: survives power loss.
    Full,
    /// Survives a process crash; the last commits may be lost on power loss.
    Normal,
}

impl std::str::FromStr for DurabilitySetting {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "full" => Ok(Self::Full),
            "normal" => Ok(Self::Normal),
            other => bail!("invalid durability {other:?}: expected `full` or `normal`"),
        }
    }
}

/// Which event log to open.
#[derive(Debug, Clone)]
pub(crate) enum LogSettings {
    /// SQLite in `<data_dir>/`.
    Embedded {
        /// Fsync policy.
        durability: DurabilitySetting,
    },
    /// Redis Streams.
    Redis {
        /// Server URL.
        url: String,
        /// Stream key.
        stream: String,
    },
    /// NATS JetStream.
    Nats {
        /// Server URL, or a comma-separated list of a cluster's servers.
        url: String,
        /// JetStream stream name.
        stream: String,
        /// Replicas of the stream and its pending table (1 to 5; 3 on a 3-node cluster).
        replicas: usize,
    },
}

/// The validated settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Data directory (embedded log, SQLite state store, keys).
    pub(crate) data_dir: PathBuf,
    /// The event log.
    pub(crate) log: LogSettings,
    /// Listen host.
    pub(crate) host: String,
    /// Listen port.
    pub(crate) port: u16,
    /// State store URL (`sqlite://...` or `postgres://...`).
    pub(crate) database_url: String,
    /// Inbox (`processed_events`) rows older than this are deleted by the retention job.
    pub(crate) dedup_retention: std::time::Duration,
    /// Trimming of the Redis stream: entries beyond this count ...
    pub(crate) stream_max_len: Option<u64>,
    /// ... or older than this are removed, but never one a consumer group still needs.
    pub(crate) stream_max_age: Option<std::time::Duration>,
    /// How API-published payloads are checked against the catalog.
    pub(crate) validation: brain_events::ValidationMode,
    /// The modules' settings (worker pool, metrics interval, heartbeat timeout).
    pub(crate) modules: brain_modules::ModulesConfig,
    /// This replica's consumer name in every group (`BRAIN_CONSUMER_NAME`); a stable name lets a restarted
    /// replica take back its own pending deliveries at once instead of after the idle timeout. Default:
    /// `<host>-<pid>-<random>`.
    pub(crate) consumer_name: Option<eventstream_core::ConsumerName>,
    /// The audit log's key file, origin and checkpoint cadence.
    pub(crate) audit: eventstream_system::audit::AuditConfig,
    /// SSE streams and WebSockets end this long after they opened.
    pub(crate) stream_max_lifetime: std::time::Duration,
    /// Listener limits, timeouts, allowed hosts and TLS (`[server]`).
    pub(crate) http: brain_server::HttpSettings,
    /// Span export (`[telemetry]`, see [`telemetry`]).
    pub(crate) telemetry: telemetry::TelemetrySettings,
}

fn load_file(explicit: Option<&Path>) -> anyhow::Result<FileConfig> {
    let (path, required) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("brain.toml"), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(FileConfig::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read configuration file {}", path.display())),
    };
    toml::from_str(&text).with_context(|| format!("invalid configuration file {}", path.display()))
}

impl Settings {
    /// The server's share of the settings.
    pub(crate) fn server(&self) -> brain_server::ServerSettings {
        brain_server::ServerSettings {
            host: self.host.clone(),
            port: self.port,
            data_dir: self.data_dir.clone(),
            validation: self.validation,
            modules: self.modules.clone(),
            consumer_name: self.consumer_name.clone(),
            retention: eventstream::maintenance::RetentionPolicy { dedup: self.dedup_retention, ..Default::default() },
            audit: Some(self.audit.clone()),
            stream_max_lifetime: self.stream_max_lifetime,
            http: self.http.clone(),
        }
    }

    /// Resolves the layers for a command that uses the log; `host`/`port` come from `serve`'s flags.
    ///
    /// # Errors
    /// An unreadable or invalid file, an unknown backend, a missing Redis URL, an invalid durability.
    pub(crate) fn resolve(args: &LogArgs, host: Option<&str>, port: Option<u16>) -> anyhow::Result<Self> {
        let file = load_file(args.config.as_deref())?;
        let data_dir = args.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        if data_dir.as_os_str().is_empty() {
            bail!("data dir must not be empty");
        }
        let backend = args.backend.clone().or(file.log.backend).unwrap_or_else(|| "embedded".into());
        let stream = args.stream.clone().or(file.log.stream);
        if stream.as_deref() == Some("") {
            bail!("stream name must not be empty");
        }
        let log = match backend.as_str() {
            "embedded" => {
                if let Some(stream) = &stream {
                    bail!(
                        "stream {stream:?} (--stream, BRAIN_STREAM or log.stream) names a Redis or JetStream stream; \
                         the embedded backend keeps one log per data dir: choose it with --data-dir"
                    );
                }
                let durability = file.log.durability.as_deref().unwrap_or("full").parse()?;
                LogSettings::Embedded { durability }
            }
            "redis" => {
                let Some(url) = args.redis_url.clone().or(file.log.redis_url) else {
                    bail!("--backend redis needs --redis-url (or BRAIN_REDIS_URL, or log.redis_url in brain.toml)");
                };
                if !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("unix://")) {
                    bail!("invalid Redis URL {url:?}: expected redis://HOST:PORT");
                }
                let stream = stream.unwrap_or_else(|| eventstream_core::codec::redis_fields::DEFAULT_STREAM.into());
                LogSettings::Redis { url, stream }
            }
            "nats" => {
                let Some(url) = args.nats_url.clone().or(file.log.nats_url) else {
                    bail!("--backend nats needs --nats-url (or BRAIN_NATS_URL, or log.nats_url in brain.toml)");
                };
                check_nats_urls(&url)?;
                let stream = stream.unwrap_or_else(|| "BRAIN_EVENTS".into());
                if !stream.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') || stream.len() > 64 {
                    bail!("invalid JetStream stream name {stream:?}: 1 to 64 characters of A-Z a-z 0-9 _ -");
                }
                let replicas = args.nats_replicas.or(file.log.nats_replicas).unwrap_or(1);
                if !(1..=5).contains(&replicas) {
                    bail!("log.nats_replicas (--nats-replicas, BRAIN_NATS_REPLICAS) must be between 1 and 5, got {replicas}");
                }
                LogSettings::Nats { url, stream, replicas }
            }
            other => bail!("unknown backend {other:?}: expected `embedded`, `redis` or `nats`"),
        };
        let http = listen::resolve(&file.server)?;
        let host = host.map(str::to_owned).or(file.server.host).unwrap_or_else(|| DEFAULT_HOST.into());
        let port = port.or(file.server.port).unwrap_or(DEFAULT_PORT);
        let database_url = match args.database.clone().or(file.database.url) {
            Some(url) => {
                if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    bail!("invalid database URL {url:?}: expected sqlite://PATH or postgres://...");
                }
                url
            }
            None => eventstream_sql::sqlite_url(&data_dir.join("state.db")),
        };
        let days = |d: u64| std::time::Duration::from_secs(d.saturating_mul(86_400));
        let dedup_days = match std::env::var("BRAIN_DEDUP_RETENTION_DAYS") {
            Ok(v) => Some(
                v.parse::<u64>().map_err(|_| anyhow::anyhow!("BRAIN_DEDUP_RETENTION_DAYS: expected a whole number of days, got {v:?}"))?,
            ),
            Err(_) => file.retention.dedup_days,
        };
        let dedup_days = dedup_days.unwrap_or(30);
        if dedup_days == 0 {
            bail!("retention.dedup_days must be at least 1: a shorter inbox lets redelivered events take effect twice");
        }
        if file.retention.stream_max_len == Some(0) {
            bail!("retention.stream_max_len must be at least 1");
        }
        let validation = match std::env::var("BRAIN_VALIDATION").ok().or(file.api.validation) {
            None => brain_events::ValidationMode::default(),
            Some(v) => v.parse().map_err(|_| anyhow::anyhow!("invalid validation mode {v:?}: expected strict, warn or off"))?,
        };
        let mut modules = brain_modules::ModulesConfig::default();
        let m = &file.modules;
        if let Some(n) = m.mission_workers {
            if n == 0 || n > 256 {
                bail!("modules.mission_workers must be between 1 and 256");
            }
            modules.mission_workers = n;
        }
        if let Some(n) = m.mission_max_retries {
            modules.default_max_retries = n;
        }
        if let Some(ms) = m.executor_duration_ms {
            modules.executor_duration = std::time::Duration::from_millis(ms);
        }
        if let Some(r) = m.executor_failure_rate {
            if !(0.0..=1.0).contains(&r) {
                bail!("modules.executor_failure_rate must be between 0 and 1");
            }
            modules.executor_failure_rate = r;
        }
        if let Some(s) = m.mission_lease_secs {
            if s == 0 || s > 86_400 {
                bail!("modules.mission_lease_secs must be between 1 and 86400");
            }
            modules.mission_lease = std::time::Duration::from_secs(s);
        }
        if let Some(s) = m.metrics_interval_secs {
            if s == 0 {
                bail!("modules.metrics_interval_secs must be at least 1");
            }
            modules.metrics_interval = std::time::Duration::from_secs(s);
        }
        if let Some(s) = m.heartbeat_timeout_secs {
            if s == 0 {
                bail!("modules.heartbeat_timeout_secs must be at least 1");
            }
            modules.heartbeat_timeout = std::time::Duration::from_secs(s);
        }
        modules.security = file.security.resolve()?;
        let consumer_name = match std::env::var("BRAIN_CONSUMER_NAME") {
            Ok(v) => Some(v.parse().map_err(|e| anyhow::anyhow!("BRAIN_CONSUMER_NAME: {e}"))?),
            Err(_) => None,
        };
        let audit = resolve_audit(file.audit, &data_dir)?;
        let stream_max_lifetime = resolve_stream_max_lifetime(file.server.stream_max_lifetime_secs)?;
        let telemetry = telemetry::resolve(file.telemetry)?;
        Ok(Self {
            telemetry,
            stream_max_lifetime,
            http,
            audit,
            consumer_name,
            modules,
            validation,
            data_dir,
            log,
            host,
            port,
            database_url,
            dedup_retention: days(dedup_days),
            stream_max_len: file.retention.stream_max_len,
            stream_max_age: file.retention.stream_max_age_days.map(days),
        })
    }
}

/// Checks a NATS URL: one server or a comma-separated list, each `nats://`, `tls://`, `ws://` or `wss://`.
fn check_nats_urls(url: &str) -> anyhow::Result<()> {
    for entry in url.split(',').map(str::trim) {
        if !(entry.starts_with("nats://") || entry.starts_with("tls://") || entry.starts_with("ws://") || entry.starts_with("wss://")) {
            bail!("invalid NATS URL {entry:?} in {url:?}: expected nats://HOST:PORT, or a comma-separated list of them for a cluster");
        }
    }
    Ok(())
}

/// `BRAIN_STREAM_MAX_LIFETIME_SECS`, else `[server] stream_max_lifetime_secs`, else one hour; 1 s to 1 day.
fn resolve_stream_max_lifetime(file: Option<u64>) -> anyhow::Result<std::time::Duration> {
    let secs = match std::env::var("BRAIN_STREAM_MAX_LIFETIME_SECS") {
        Ok(v) => v
            .parse::<u64>()
            .map_err(|_| anyhow::anyhow!("BRAIN_STREAM_MAX_LIFETIME_SECS: expected a whole number of seconds, got {v:?}"))?,
        Err(_) => match file {
            Some(s) => s,
            None => return Ok(brain_http::live::DEFAULT_MAX_LIFETIME),
        },
    };
    if !(1..=86_400).contains(&secs) {
        bail!("server.stream_max_lifetime_secs (BRAIN_STREAM_MAX_LIFETIME_SECS) must be between 1 and 86400");
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// `[audit]` over its defaults, then `BRAIN_AUDIT_KEY_FILE` and `BRAIN_AUDIT_ORIGIN`, checked.
fn resolve_audit(file: FileAudit, data_dir: &Path) -> anyhow::Result<eventstream_system::audit::AuditConfig> {
    let mut audit = eventstream_system::audit::AuditConfig::in_data_dir(data_dir);
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(path) = env("BRAIN_AUDIT_KEY_FILE").map(PathBuf::from).or(file.key_file) {
        if path.as_os_str().is_empty() || path.is_dir() {
            bail!("audit.key_file (BRAIN_AUDIT_KEY_FILE) must name a file, got {}", path.display());
        }
        audit.key_path = path;
    }
    if let Some(origin) = env("BRAIN_AUDIT_ORIGIN").or(file.origin) {
        if origin.is_empty() || origin.len() > 256 || origin.contains(['+', ' ']) || origin.chars().any(char::is_control) {
            bail!(
                "invalid audit.origin (BRAIN_AUDIT_ORIGIN) {origin:?}: 1 to 256 characters without '+', spaces or control \
                 characters, e.g. example.com/brain/audit"
            );
        }
        audit.origin = origin;
    }
    if let Some(n) = file.checkpoint_every_events {
        if n == 0 || n > 1_000_000 {
            bail!("audit.checkpoint_every_events must be between 1 and 1000000");
        }
        audit.checkpoint_every = n;
    }
    if let Some(ms) = file.checkpoint_interval_ms {
        if !(10..=3_600_000).contains(&ms) {
            bail!("audit.checkpoint_interval_ms must be between 10 and 3600000");
        }
        audit.checkpoint_interval = std::time::Duration::from_millis(ms);
    }
    Ok(audit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit_of(toml_text: &str) -> anyhow::Result<eventstream_system::audit::AuditConfig> {
        let file: FileConfig = toml::from_str(toml_text)?;
        resolve_audit(file.audit, Path::new("/data"))
    }

    #[test]
    fn the_audit_section_is_read_and_checked() {
        if std::env::var_os("BRAIN_AUDIT_KEY_FILE").is_some() || std::env::var_os("BRAIN_AUDIT_ORIGIN").is_some() {
            return; // the environment overrides the file; this test reads the file alone
        }
        let default = audit_of("").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(default.key_path, Path::new("/data/audit.key"));
        assert_eq!(default.origin, eventstream_system::audit::DEFAULT_ORIGIN);
        assert_eq!(default.checkpoint_every, eventstream_system::audit::CHECKPOINT_EVERY);
        let set = audit_of(
            "[audit]\nkey_file = \"/keys/a.key\"\norigin = \"example.com/log\"\ncheckpoint_every_events = 10\ncheckpoint_interval_ms = 250\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.key_path, Path::new("/keys/a.key"));
        assert_eq!(set.origin, "example.com/log");
        assert_eq!((set.checkpoint_every, set.checkpoint_interval), (10, std::time::Duration::from_millis(250)));
        assert_eq!(set.state_path, Path::new("/data/audit-verify.json"), "the trusted state stays in the data dir");
        for (bad, says) in [
            ("[audit]\nkeyfile = \"x\"\n", "unknown field"),
            ("[audit]\norigin = \"a b\"\n", "audit.origin"),
            ("[audit]\norigin = \"\"\n", "audit.origin"),
            ("[audit]\norigin = \"a+b\"\n", "audit.origin"),
            ("[audit]\ncheckpoint_every_events = 0\n", "checkpoint_every_events"),
            ("[audit]\ncheckpoint_interval_ms = 5\n", "checkpoint_interval_ms"),
            ("[audit]\nkey_file = \"\"\n", "key_file"),
        ] {
            let err = audit_of(bad).err().map(|e| format!("{e:#}")).unwrap_or_default();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn nats_urls_may_list_a_cluster() {
        assert!(check_nats_urls("nats://a:4222").is_ok());
        assert!(check_nats_urls("nats://a:4222, nats://b:4222,tls://c:4222").is_ok());
        for bad in ["nats://a:4222,", "nats://a:4222,http://b", "a:4222"] {
            let err = check_nats_urls(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("invalid NATS URL"), "{bad:?}: {err}");
        }
        let file: FileConfig = toml::from_str("[log]\nnats_replicas = 3\n").unwrap_or_default();
        assert_eq!(file.log.nats_replicas, Some(3));
    }

    #[test]
    fn the_stream_max_lifetime_is_read_and_checked() {
        if std::env::var_os("BRAIN_STREAM_MAX_LIFETIME_SECS").is_some() {
            return; // the environment overrides the file; this test reads the file alone
        }
        let of = |text: &str| -> anyhow::Result<std::time::Duration> {
            let file: FileConfig = toml::from_str(text)?;
            resolve_stream_max_lifetime(file.server.stream_max_lifetime_secs)
        };
        assert_eq!(of("").ok(), Some(std::time::Duration::from_secs(3600)));
        assert_eq!(of("[server]\nstream_max_lifetime_secs = 120\n").ok(), Some(std::time::Duration::from_secs(120)));
        for bad in ["[server]\nstream_max_lifetime_secs = 0\n", "[server]\nstream_max_lifetime_secs = 86401\n"] {
            let err = of(bad).err().map(|e| format!("{e:#}")).unwrap_or_default();
            assert!(err.contains("stream_max_lifetime_secs"), "{bad:?}: {err}");
        }
    }
}
